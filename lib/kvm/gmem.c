// SPDX-License-Identifier: MIT
/*
 * gmem.c - guest_memfd, modelled on virt/kvm/guest_memfd.c: creation and flag validation
 * (kvm_gmem_create(), kvm_gmem_get_supported_flags()), binding memslots (kvm_gmem_bind(),
 * kvm_gmem_unbind()), fallocate (kvm_gmem_allocate(), kvm_gmem_punch_hole()) with the
 * invalidation of every bound slot (kvm_gmem_invalidate_begin/end()), release of the last
 * file reference (kvm_gmem_release()), the fault path's page (kvm_gmem_get_pfn()), host
 * mmap and user faults (kvm_gmem_mmap(), kvm_gmem_fault_user_mapping()), and two proposed
 * extensions: GUEST_MEMFD_FLAG_NO_DIRECT_MAP (seed 004) and in-place shared/private
 * conversion. PROTOCOL.md §1.4, §3.10, §6.2.
 *
 * The named steps, and what a mutation that skips one does:
 *
 * gmem.invalidate.zap        the unmap of a bound slot's range in kvm_gmem_invalidate_begin()
 *                            (the range is still added). Skipped, a punched page stays
 *                            mapped in the secondary MMU after the folio is freed.
 * gmem.invalidate.tlb_flush  the flush after those unmaps, under mmu_lock. Skipped, a vCPU
 *                            TLB keeps translating to the freed folio.
 * gmem.zero.mermap           NO_DIRECT_MAP: zeroing a new folio through a temporary kernel
 *                            mapping. Skipped, it is zeroed through the direct map, from
 *                            which the folio is absent (frame.direct_map_access).
 * gmem.free_folio.kmap_flush NO_DIRECT_MAP: the kernel TLB flush of the temporary mapping
 *                            when the folio leaves the page cache. Skipped, the folio is
 *                            freed with a stale translation (frame.kmap_tlb_stale_at_free).
 * gmem.free_folio.restore_direct_map  NO_DIRECT_MAP: the folio returns to the direct map
 *                            before the allocator gets it. Skipped,
 *                            frame.freed_without_direct_map.
 */
#include "kvm/kvm-internal.h"

#include "host/file-ops.h"

#include <mnsim/gmem.h>

/* Flags the model knows (GUEST_MEMFD_FLAG_*). */
#define GMEM_FLAGS_KNOWN                                                  \
	(MN_GUEST_MEMFD_FLAG_MMAP | MN_GUEST_MEMFD_FLAG_INIT_SHARED | \
	 MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP)

/*
 * The VM's view of one guest_memfd inode (struct gmem_file, formerly struct kvm_gmem): the
 * VM, the bindings (pgoff ranges -> slot, the kernel's xarray) and the inode's flags. The
 * inode's filemap_invalidate_lock lives here too, as there is one file per inode.
 * @private_map: MN_VARIANT_GMEM_INPLACE_CONVERSION only: bit set = the page is private.
 */
struct kvm_gmem {
	struct mn_vm *vm;
	struct mn_file *file;
	uint64_t flags;
	uint64_t npages;
	struct mn_itree bindings;
	struct mn_rwlock invalidate_lock;
	uint64_t *private_map;
	bool released;
};

static const struct mn_file_ops kvm_gmem_fops;
static const struct mn_file_ops kvm_gmem_fops_no_direct_map;

static struct kvm_gmem *file_gmem(const struct mn_file *f)
{
	if (!f || (file_ops(f) != &kvm_gmem_fops && file_ops(f) != &kvm_gmem_fops_no_direct_map))
		return NULL;
	return file_private(f);
}

static struct kvm_memory_slot *slot_of_bind_node(struct mn_itree_node *n)
{
	return container_of(n, struct kvm_memory_slot, gmem.node);
}

static bool gmem_no_direct_map(const struct kvm_gmem *gmem)
{
	return gmem->flags & MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
}

/*
 * kvm_gmem_get_supported_flags(): MMAP always; INIT_SHARED where the VM has no private
 * memory (kvm_arch_supports_gmem_init_shared(): on x86 the default VM type, every arm64
 * VM); NO_DIRECT_MAP (proposed) everywhere but on SNP and TDX, whose private memory the
 * hardware already keeps from the host.
 */
static uint64_t kvm_gmem_get_supported_flags(const struct mn_vm *vm)
{
	uint64_t flags = MN_GUEST_MEMFD_FLAG_MMAP;

	if (!kvm_arch_has_private_mem(vm))
		flags |= MN_GUEST_MEMFD_FLAG_INIT_SHARED;
	if (vm->cfg.type != MN_VM_TYPE_SNP && vm->cfg.type != MN_VM_TYPE_TDX)
		flags |= MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP;
	return flags;
}

/* ---- shared or private ------------------------------------------------------------------ */

/*
 * Is page @index of the file shared with the host? 6.18 has no per-page state in
 * guest_memfd: INIT_SHARED means all of it. The in-place conversion variant keeps a bit
 * per page, initialised from INIT_SHARED.
 */
static bool kvm_gmem_is_shared(const struct kvm_gmem *gmem, uint64_t index)
{
	if (gmem->private_map)
		return !bitmap_test(gmem->private_map, index);
	return gmem->flags & MN_GUEST_MEMFD_FLAG_INIT_SHARED;
}

/* ---- invalidation ------------------------------------------------------------------------- */

/*
 * The attribute filter of a guest_memfd invalidation: a shared-by-default file holds shared
 * memory, any other file private memory (6.18; on the VM types modelled both kinds are
 * zapped alike, as x86 without mirror roots and arm64 do).
 */
static unsigned int kvm_gmem_get_invalidate_filter(const struct kvm_gmem *gmem)
{
	return gmem->flags & MN_GUEST_MEMFD_FLAG_INIT_SHARED ? KVM_FILTER_SHARED
							     : KVM_FILTER_PRIVATE;
}

/*
 * kvm_gmem_invalidate_begin(): for every slot bound inside [start, end) (page offsets): on
 * the first one take mmu_lock and begin the invalidation, then add the slot's part as a
 * gfn range and unmap it; flush once if anything was unmapped. Unlike the mm notifier
 * this neither raises mn_active_invalidate_count nor touches the pfn caches.
 */
static void kvm_gmem_invalidate_begin(struct kvm_gmem *gmem, uint64_t start, uint64_t end,
				      unsigned int filter)
{
	struct mn_vm *vm = gmem->vm;
	struct mn_itree_node *n;
	bool flush = false, found = false;

	if (end <= start)
		return;
	mn_itree_for_each(n, &gmem->bindings, start, end - 1) {
		struct kvm_memory_slot *slot = slot_of_bind_node(n);
		uint64_t pgoff = slot->gmem.pgoff;
		struct kvm_gfn_range range = {
			.slot = slot,
			.start = slot->base_gfn + MN_MAX(pgoff, start) - pgoff,
			.end = slot->base_gfn + MN_MIN(pgoff + slot->npages, end) - pgoff,
			.attr_filter = filter,
			.may_block = true,
		};

		if (!found) {
			found = true;
			mn_write_lock(vm->sim, &vm->mmu_lock);
			kvm_mmu_invalidate_begin(vm);
		}
		flush |= kvm_mmu_unmap_gfn_range(vm, &range, "gmem.invalidate.zap");
	}
	if (flush && mn_step(vm->sim, "gmem.invalidate.tlb_flush"))
		kvm_flush_remote_tlbs(vm);
	if (found)
		mn_write_unlock(vm->sim, &vm->mmu_lock);
	mn_trace(vm->trace, "kvm.gmem_invalidate_begin", MN_KV_X("start", start),
		 MN_KV_X("end", end), MN_KV_U("found", found));
}

/* kvm_gmem_invalidate_end(): end the invalidation if begin found a binding. */
static void kvm_gmem_invalidate_end(struct kvm_gmem *gmem, uint64_t start, uint64_t end)
{
	struct mn_vm *vm = gmem->vm;

	if (end <= start || !mn_itree_iter_first(&gmem->bindings, start, end - 1))
		return;
	mn_write_lock(vm->sim, &vm->mmu_lock);
	kvm_mmu_invalidate_end(vm);
	mn_write_unlock(vm->sim, &vm->mmu_lock);
}

/* ---- folios ----------------------------------------------------------------------------- */

/*
 * Zero a new folio (clear_highpage() per page). A folio outside the direct map is written
 * through a temporary kernel mapping instead (the "mermap" of seed 004), which leaves a
 * TLB entry behind until the folio leaves the page cache.
 */
static int kvm_gmem_clear_folio(struct kvm_gmem *gmem, struct file_folio *ff, bool mermap)
{
	struct mn_phys *phys = gmem->vm->phys;
	uint64_t i;
	int r;

	for (i = 0; i < (1ULL << ff->order); i++) {
		struct mn_frame_ref page = mn_frame_ref_offset(ff->ref, i);

		if (mermap)
			r = mn_phys_kmap_temp(phys, page, "gmem.zero");
		else
			r = mn_phys_use(phys, page, MN_USE_DIRECT_MAP, "gmem.zero");
		if (r == -ESTALE)
			return -EFAULT;
		r = mn_phys_write(phys, page, 0, "gmem.zero");
		if (r && r != -EACCES)
			return r;
	}
	return 0;
}

/*
 * kvm_gmem_get_folio(): find or create the folio caching @index. A new folio of a
 * NO_DIRECT_MAP file leaves the direct map at once (the series' filemap path), before
 * anything can touch it.
 */
static int kvm_gmem_get_folio(struct kvm_gmem *gmem, uint64_t index, struct file_folio **out)
{
	bool created = !file_lookup(gmem->file, index);
	int r = file_get_folio(gmem->file, index, true, out);

	if (r)
		return r;
	if (created && gmem_no_direct_map(gmem))
		mn_phys_update_flags(gmem->vm->phys, (*out)->ref, 0, MN_FRAME_DIRECT_MAP,
				     "gmem.zap_direct_map");
	return 0;
}

/*
 * Whether this lookup will zero through the temporary mapping (the step "gmem.zero.mermap").
 * Decided before the folio is looked up: from the lookup to the end of its use nothing may
 * yield, which stands for the folio lock the kernel holds meanwhile (truncation waits on it).
 */
static bool kvm_gmem_use_mermap(struct kvm_gmem *gmem)
{
	return gmem_no_direct_map(gmem) && mn_step(gmem->vm->sim, "gmem.zero.mermap");
}

/* Zero and mark uptodate a folio that is not yet (the folio lock is held meanwhile). */
static int kvm_gmem_prepare_folio(struct kvm_gmem *gmem, struct file_folio *ff, bool mermap)
{
	int r;

	if (ff->uptodate)
		return 0;
	r = kvm_gmem_clear_folio(gmem, ff, mermap);
	if (r)
		return r;
	ff->uptodate = true;
	return 0;
}

/*
 * a_ops->free_folio (kvm_gmem_free_folio()): the folio left the page cache. A NO_DIRECT_MAP
 * folio has its temporary-mapping TLB entries flushed and goes back into the direct map
 * here, before the last reference can hand it to the allocator.
 */
static void kvm_gmem_free_folio(struct mn_file *f, struct mn_frame_ref head, unsigned int order)
{
	struct kvm_gmem *gmem = file_private(f);
	struct mn_sim *sim = gmem->vm->sim;

	(void)order;
	if (!gmem_no_direct_map(gmem))
		return;
	if (mn_step(sim, "gmem.free_folio.kmap_flush"))
		mn_phys_kmap_flush(gmem->vm->phys, head, "gmem.free_folio");
	if (mn_step(sim, "gmem.free_folio.restore_direct_map"))
		mn_phys_update_flags(gmem->vm->phys, head, MN_FRAME_DIRECT_MAP, 0,
				     "gmem.restore_direct_map");
}

/* ---- the fault path's page ------------------------------------------------------------- */

/*
 * kvm_gmem_get_pfn(): the page of @gfn in @slot's file, with a reference for the caller
 * (dropped once the fault installed it), its folio zeroed and prepared, and the largest
 * order a mapping of it may use (the folio's). Runs under the caller's SRCU and takes only
 * the folio lock (not modelled: the whole lookup is one step here), so it can race a punch
 * hole, whose invalidation the caller's sequence check sees.
 */
int kvm_gmem_get_pfn(struct mn_vm *vm, struct kvm_memory_slot *slot, mn_gfn_t gfn,
		     struct mn_frame_ref *page, unsigned int *max_order)
{
	struct mn_file *file = slot->gmem.file;
	struct mn_itree_node *n;
	struct kvm_gmem *gmem;
	struct file_folio *ff;
	uint64_t index;
	bool mermap;
	int r;

	/* kvm_gmem_get_file(): released, or dying. */
	if (!file || !file_get_active(file))
		return -EFAULT;
	gmem = file_private(file);
	index = gfn - slot->base_gfn + slot->gmem.pgoff;
	/*
	 * The binding must be this slot's (WARN in the kernel otherwise). A late USERFAULT
	 * change moves the binding to the new slot only at its commit; until then the bound
	 * slot is the same one by id.
	 */
	n = mn_itree_iter_first(&gmem->bindings, index, index);
	if (!n || (slot_of_bind_node(n) != slot && (slot_of_bind_node(n)->id != slot->id ||
						     slot_of_bind_node(n)->as_id != slot->as_id))) {
		r = -EIO;
		goto out;
	}
	mermap = kvm_gmem_use_mermap(gmem);
	r = kvm_gmem_get_folio(gmem, index, &ff);
	if (r)
		goto out;
	r = kvm_gmem_prepare_folio(gmem, ff, mermap);
	if (r)
		goto out;
	*page = mn_frame_ref_offset(ff->ref, index - ff->index);
	*max_order = ff->order;
	r = mn_phys_get(vm->phys, *page, "gmem.get_pfn") ? -EFAULT : 0;
	mn_trace(vm->trace, "kvm.gmem_get_pfn", MN_KV_X("gfn", gfn), MN_KV_X("index", index),
		 MN_KV_X("pfn", page->pfn), MN_KV_U("order", ff->order));
out:
	file_put_deferred(vm->mm, file); /* the fault may hold mmu_lock or SRCU */
	return r;
}

/*
 * For the oracle: the folio caching the page of @gfn in @slot's file, without creating
 * one. Returns 0 with the page's frame and the folio's order, or -ENOENT.
 */
int kvm_gmem_peek(const struct kvm_memory_slot *slot, mn_gfn_t gfn, struct mn_frame_ref *page,
		  unsigned int *order)
{
	struct file_folio *ff;
	uint64_t index;

	if (!slot->gmem.file)
		return -ENOENT;
	index = gfn - slot->base_gfn + slot->gmem.pgoff;
	ff = file_lookup(slot->gmem.file, index);
	if (!ff)
		return -ENOENT;
	*page = mn_frame_ref_offset(ff->ref, index - ff->index);
	*order = ff->order;
	return 0;
}

/* ---- host mmap and user faults --------------------------------------------------------- */

/* kvm_gmem_mmap(): only files created with MMAP, only shared mappings. */
static int kvm_gmem_mmap(struct mn_file *f, unsigned int vm_flags, unsigned int prot)
{
	struct kvm_gmem *gmem = file_private(f);

	(void)prot;
	if (!(gmem->flags & MN_GUEST_MEMFD_FLAG_MMAP))
		return -ENODEV;
	if (!(vm_flags & MN_VM_SHARED))
		return -EINVAL;
	return 0;
}

/*
 * kvm_gmem_fault_user_mapping(): a VMM fault on the mapping. Beyond the file or on memory
 * that is not shared: SIGBUS; a large folio cannot be mapped into the host (SIGBUS, WARN
 * in the kernel); a new folio is zeroed (no arch prepare).
 */
static unsigned int kvm_gmem_fault_user_mapping(struct mn_file *f, uint64_t pgoff, bool write,
						 struct mn_frame_ref *page, unsigned int *order)
{
	struct kvm_gmem *gmem = file_private(f);
	struct mn_sim *sim = gmem->vm->sim;
	struct file_folio *ff;
	unsigned int ret = 0;
	bool mermap;
	int r;

	(void)write;
	/*
	 * invalidate_lock shared, as filemap_fault() takes it to add a page: the page's kind
	 * cannot change between the test and the mapping (an in-place conversion to private
	 * holds the lock for writing while it unmaps and flips the page).
	 */
	mn_read_lock(sim, &gmem->invalidate_lock);
	if (pgoff >= gmem->npages || !kvm_gmem_is_shared(gmem, pgoff)) {
		ret = MN_VM_FAULT_SIGBUS;
		goto out;
	}
	mermap = kvm_gmem_use_mermap(gmem);
	r = kvm_gmem_get_folio(gmem, pgoff, &ff);
	if (r)
		ret = r == -ENOMEM ? MN_VM_FAULT_OOM : MN_VM_FAULT_SIGBUS;
	else if (ff->order || kvm_gmem_prepare_folio(gmem, ff, mermap))
		ret = MN_VM_FAULT_SIGBUS;
	else if (mn_phys_get(gmem->vm->phys, ff->ref, "gmem.fault_user"))
		ret = MN_VM_FAULT_SIGBUS;
	if (!ret) {
		*page = ff->ref;
		*order = 0;
	}
out:
	mn_read_unlock(sim, &gmem->invalidate_lock);
	return ret;
}

/* ---- fallocate -------------------------------------------------------------------------- */

/*
 * kvm_gmem_punch_hole(): under invalidate_lock (which keeps the bindings still, but does
 * not hold off guest faults), invalidate the secondary mappings of every bound slot in the
 * range, truncate the page cache (which first unmaps the VMM's mappings of the pages, with
 * mm notifications nested inside this window), then end the invalidation.
 */
static int kvm_gmem_punch_hole(struct kvm_gmem *gmem, uint64_t offset, uint64_t len)
{
	struct mn_sim *sim = gmem->vm->sim;
	uint64_t start = offset >> MN_PAGE_SHIFT;
	uint64_t end = (offset + len) >> MN_PAGE_SHIFT;
	int r;

	mn_write_lock(sim, &gmem->invalidate_lock);
	kvm_gmem_invalidate_begin(gmem, start, end, kvm_gmem_get_invalidate_filter(gmem));
	r = file_truncate_range(gmem->file, start, MN_MIN(end, gmem->npages));
	mn_step(sim, "gmem.invalidate_end");
	kvm_gmem_invalidate_end(gmem, start, end);
	mn_write_unlock(sim, &gmem->invalidate_lock);
	return r;
}

/* kvm_gmem_allocate(): create the folios of the range, not zeroed (not uptodate). */
static int kvm_gmem_allocate(struct kvm_gmem *gmem, uint64_t offset, uint64_t len)
{
	struct mn_sim *sim = gmem->vm->sim;
	uint64_t index, end = (offset + len) >> MN_PAGE_SHIFT;
	struct file_folio *ff;
	int r = 0;

	if (offset + len > gmem->npages << MN_PAGE_SHIFT)
		return -EINVAL;
	mn_read_lock(sim, &gmem->invalidate_lock);
	for (index = offset >> MN_PAGE_SHIFT; index < end && !r;) {
		r = kvm_gmem_get_folio(gmem, index, &ff);
		if (!r)
			index = ff->index + (1ULL << ff->order);
	}
	mn_read_unlock(sim, &gmem->invalidate_lock);
	return r;
}

/* kvm_gmem_fallocate() with vfs_fallocate()'s checks in front. */
static int kvm_gmem_fallocate(struct mn_file *f, int mode, uint64_t offset, uint64_t len)
{
	struct kvm_gmem *gmem = file_private(f);

	/* vfs_fallocate(): loff_t offset < 0 or len <= 0, then the mode, then the size. */
	if (!len || offset > INT64_MAX || len > INT64_MAX)
		return -EINVAL;
	if (mode & ~(MN_FALLOC_FL_KEEP_SIZE | MN_FALLOC_FL_PUNCH_HOLE) ||
	    !(mode & MN_FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (len > INT64_MAX - offset)
		return -EFBIG;
	if ((offset | len) & (MN_PAGE_SIZE - 1))
		return -EINVAL;
	if (mode & MN_FALLOC_FL_PUNCH_HOLE)
		return kvm_gmem_punch_hole(gmem, offset, len);
	return kvm_gmem_allocate(gmem, offset, len);
}

/* ---- release -------------------------------------------------------------------------- */

/*
 * kvm_gmem_release(): the last reference to the file went. With slots_lock (so no memslot
 * deletion runs) and invalidate_lock held, every bound slot loses its file (its faults fail
 * from now on), every mapping of the file's slots is zapped inside a begin/end, and the VM
 * reference the file held goes. The slots stay, unusable.
 */
static void kvm_gmem_release(struct mn_file *f)
{
	struct kvm_gmem *gmem = file_private(f);
	struct mn_vm *vm = gmem->vm;
	struct mn_itree_node *n;

	mn_mutex_lock(vm->sim, &vm->slots_lock);
	mn_write_lock(vm->sim, &gmem->invalidate_lock);
	mn_itree_for_each(n, &gmem->bindings, 0, ~0ULL)
		slot_of_bind_node(n)->gmem.file = NULL;
	kvm_gmem_invalidate_begin(gmem, 0, ~0ULL, kvm_gmem_get_invalidate_filter(gmem));
	kvm_gmem_invalidate_end(gmem, 0, ~0ULL);
	while ((n = mn_itree_first(&gmem->bindings))) {
		mn_itree_remove(&gmem->bindings, n);
		slot_of_bind_node(n)->gmem.bound = false;
	}
	gmem->released = true;
	mn_write_unlock(vm->sim, &gmem->invalidate_lock);
	mn_mutex_unlock(vm->sim, &vm->slots_lock);
	/*
	 * The inode's eviction truncates the page cache after this; here it is done now, while
	 * this state (which a_ops->free_folio reads, as the kernel reads the inode's flags) and
	 * the VM still exist. No mapping is left: each held a file reference.
	 */
	file_truncate_range(f, 0, gmem->npages);
	mn_trace(vm->trace, "kvm.gmem_release");
	mn_free(vm->alloc, gmem->private_map);
	mn_free(vm->alloc, gmem);
	kvm_put_kvm(vm);
}

static const struct mn_file_ops kvm_gmem_fops = {
	.mmap = kvm_gmem_mmap,
	.fault = kvm_gmem_fault_user_mapping,
	.fallocate = kvm_gmem_fallocate,
	.free_folio = kvm_gmem_free_folio,
	.release = kvm_gmem_release,
	.unmovable = true,
};

/* AS_NO_DIRECT_MAP: GUP-fast keeps away from the folios as from secretmem's. */
static const struct mn_file_ops kvm_gmem_fops_no_direct_map = {
	.mmap = kvm_gmem_mmap,
	.fault = kvm_gmem_fault_user_mapping,
	.fallocate = kvm_gmem_fallocate,
	.free_folio = kvm_gmem_free_folio,
	.release = kvm_gmem_release,
	.no_gup_fast = true,
	.unmovable = true,
};

/* ---- create ----------------------------------------------------------------------------- */

int mn_vm_create_guest_memfd(struct mn_vm *vm, const struct mn_create_guest_memfd *args)
{
	uint64_t folio_size;
	struct kvm_gmem *gmem;
	struct mn_file *file;
	int fd, r;

	if (!vm || !args)
		return -EINVAL;
	/* kvm_gmem_create() */
	if (args->flags & ~kvm_gmem_get_supported_flags(vm))
		return -EINVAL;
	/* __kvm_gmem_create(); the huge-folio variant needs whole folios. */
	if (args->huge_order && args->huge_order != MN_ORDER_2M)
		return -EINVAL;
	folio_size = MN_PAGE_SIZE << args->huge_order;
	/*
	 * Not the kernel's upper bound (any positive loff_t): the model's files end at the
	 * VMM's address-space size (file_create_ops()), which no test of the rules needs.
	 */
	if (!args->size || (args->size & (folio_size - 1)) || (args->size >> 62))
		return -EINVAL;

	gmem = mn_zalloc(vm->alloc, sizeof(*gmem));
	if (!gmem)
		return -ENOMEM;
	gmem->vm = vm;
	gmem->flags = args->flags;
	gmem->npages = args->size >> MN_PAGE_SHIFT;
	mn_itree_init(&gmem->bindings);
	mn_rwlock_init(&gmem->invalidate_lock, "mapping.invalidate_lock", MN_RW_SLEEP);
	if (vm->cfg.variant & MN_VARIANT_GMEM_INPLACE_CONVERSION) {
		gmem->private_map = mn_calloc(vm->alloc, bitmap_words(gmem->npages),
					      sizeof(uint64_t));
		if (!gmem->private_map) {
			mn_free(vm->alloc, gmem);
			return -ENOMEM;
		}
		if (!(args->flags & MN_GUEST_MEMFD_FLAG_INIT_SHARED))
			memset(gmem->private_map, 0xff,
			       bitmap_words(gmem->npages) * sizeof(uint64_t));
	}
	r = file_create_ops(vm->sim, "guest_memfd", args->size, args->huge_order,
			    gmem_no_direct_map(gmem) ? &kvm_gmem_fops_no_direct_map
						     : &kvm_gmem_fops,
			    gmem, MN_OWNER_GMEM, &file);
	if (r) {
		mn_free(vm->alloc, gmem->private_map);
		mn_free(vm->alloc, gmem);
		return r;
	}
	gmem->file = file;
	kvm_get_kvm(vm);
	fd = mn_mm_fd_install(vm->mm, file);
	mn_file_put(file); /* the fd's reference is the file's only one */
	if (fd >= 0)
		mn_trace(vm->trace, "kvm.gmem_create", MN_KV_I("fd", fd),
			 MN_KV_X("size", args->size), MN_KV_X("flags", args->flags));
	return fd;
}

/* ---- bind / unbind --------------------------------------------------------------------- */

/*
 * kvm_gmem_bind() (V16, slots_lock held, before the slot is visible): the file must be a
 * guest_memfd of this VM, the slot's range must fit inside it and no other slot may be
 * bound to any of its pages. The slot does not keep a file reference.
 */
int kvm_gmem_bind(struct mn_vm *vm, struct kvm_memory_slot *slot, int fd, uint64_t offset)
{
	struct mn_file *file = mn_mm_fget(vm->mm, fd);
	struct kvm_gmem *gmem;
	uint64_t start;
	int r = -EINVAL;

	if (!file)
		return -EBADF;
	gmem = file_gmem(file);
	if (!gmem || gmem->vm != vm || gmem->released)
		goto out;
	start = offset >> MN_PAGE_SHIFT;
	if (offset + (slot->npages << MN_PAGE_SHIFT) < offset ||
	    start + slot->npages > gmem->npages)
		goto out;
	mn_write_lock(vm->sim, &gmem->invalidate_lock);
	if (mn_itree_iter_first(&gmem->bindings, start, start + slot->npages - 1)) {
		r = -EEXIST; /* newest trees; -EINVAL before (PROTOCOL.md §9) */
	} else {
		slot->gmem.file = file;
		slot->gmem.pgoff = start;
		if (gmem->flags & MN_GUEST_MEMFD_FLAG_MMAP)
			slot->flags |= KVM_MEMSLOT_GMEM_ONLY;
		slot->gmem.node.start = start;
		slot->gmem.node.last = start + slot->npages - 1;
		mn_itree_insert(&gmem->bindings, &slot->gmem.node);
		slot->gmem.bound = true;
		r = 0;
	}
	mn_write_unlock(vm->sim, &gmem->invalidate_lock);
out:
	file_put_deferred(vm->mm, file); /* slots_lock is held */
	return r;
}

/*
 * kvm_gmem_unbind(): from kvm_free_memslot() or a failed create, slots_lock held. A file
 * that is dying (no reference left, release still to run, waiting for slots_lock) is
 * unbound without invalidate_lock: release cannot free the bindings before slots_lock is
 * dropped.
 */
void kvm_gmem_unbind(struct mn_vm *vm, struct kvm_memory_slot *slot)
{
	struct mn_file *file = slot->gmem.file;
	struct kvm_gmem *gmem;

	if (!file || !slot->gmem.bound)
		return;
	gmem = file_private(file);
	if (!file_get_active(file)) {
		mn_itree_remove(&gmem->bindings, &slot->gmem.node);
		slot->gmem.bound = false;
		slot->gmem.file = NULL;
		return;
	}
	mn_write_lock(vm->sim, &gmem->invalidate_lock);
	mn_itree_remove(&gmem->bindings, &slot->gmem.node);
	slot->gmem.bound = false;
	slot->gmem.file = NULL;
	mn_write_unlock(vm->sim, &gmem->invalidate_lock);
	file_put_deferred(vm->mm, file); /* slots_lock is held */
}

/*
 * A late KVM_MEM_USERFAULT change of a bound slot (FLAGS_ONLY, slots_lock held, after the
 * swap and SRCU wait: @old is unreachable): @new takes over @old's binding.
 */
void kvm_gmem_rebind(struct mn_vm *vm, struct kvm_memory_slot *old, struct kvm_memory_slot *new)
{
	struct kvm_gmem *gmem;

	if (!old->gmem.bound)
		return;
	gmem = file_private(old->gmem.file);
	mn_write_lock(vm->sim, &gmem->invalidate_lock);
	mn_itree_remove(&gmem->bindings, &old->gmem.node);
	old->gmem.bound = false;
	new->gmem.node.start = old->gmem.node.start;
	new->gmem.node.last = old->gmem.node.last;
	mn_itree_insert(&gmem->bindings, &new->gmem.node);
	new->gmem.bound = true;
	mn_write_unlock(vm->sim, &gmem->invalidate_lock);
}

/* ---- in-place conversion (variant) ---------------------------------------------------- */

/*
 * The proposed in-place conversion: to private, the VMM's mappings of the pages go first
 * (unmap_mapping_range(), with mm notifications) and a page that is still referenced
 * beyond the page cache (a GUP pin) fails the whole request with -EAGAIN; then, inside one
 * begin/end over the bound slots, the mappings of the old kind are zapped and the pages
 * change kind.
 */
int mn_gmem_set_memory_attributes(struct mn_mm *mm, int fd, const struct mn_memory_attributes *a)
{
	struct mn_file *file = mn_mm_fget(mm, fd);
	struct kvm_gmem *gmem;
	uint64_t start, end, i;
	bool to_private;
	int r = -EINVAL;

	if (!file)
		return -EBADF;
	gmem = file_gmem(file);
	if (!gmem || !gmem->private_map || !a || a->flags ||
	    (a->attributes & ~MN_MEMORY_ATTRIBUTE_PRIVATE) || !a->size ||
	    ((a->address | a->size) & (MN_PAGE_SIZE - 1)) || a->address + a->size < a->address ||
	    (a->address + a->size) >> MN_PAGE_SHIFT > gmem->npages)
		goto out;
	start = a->address >> MN_PAGE_SHIFT;
	end = (a->address + a->size) >> MN_PAGE_SHIFT;
	to_private = a->attributes & MN_MEMORY_ATTRIBUTE_PRIVATE;

	mn_write_lock(gmem->vm->sim, &gmem->invalidate_lock);
	if (to_private) {
		r = file_unmap_range(file, start, end);
		for (i = start; !r && i < end; i++) {
			struct file_folio *ff = file_lookup(file, i);
			struct mn_frame_info fi;

			if (ff && !mn_phys_frame_info(gmem->vm->phys, ff->ref.pfn, &fi) &&
			    (fi.refcount > 1 || fi.mapcount > 0))
				r = -EAGAIN;
		}
		if (r)
			goto unlock;
	}
	kvm_gmem_invalidate_begin(gmem, start, end,
				  to_private ? KVM_FILTER_SHARED : KVM_FILTER_PRIVATE);
	for (i = start; i < end; i++) {
		if (to_private)
			gmem->private_map[i / 64] |= 1ULL << (i % 64);
		else
			gmem->private_map[i / 64] &= ~(1ULL << (i % 64));
	}
	kvm_gmem_invalidate_end(gmem, start, end);
	mn_trace(gmem->vm->trace, "kvm.gmem_convert", MN_KV_X("start", start), MN_KV_X("end", end),
		 MN_KV_U("private", to_private));
	r = 0;
unlock:
	mn_write_unlock(gmem->vm->sim, &gmem->invalidate_lock);
out:
	mn_file_put(file);
	return r;
}
