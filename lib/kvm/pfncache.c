// SPDX-License-Identifier: MIT
/*
 * pfncache.c - the gfn_to_pfn cache, modelled on virt/kvm/pfncache.c: activation and
 * deactivation (kvm_gpc_activate*(), kvm_gpc_deactivate()), the refresh with its retry
 * against invalidations (__kvm_gpc_refresh(), hva_to_pfn_retry()), the check consumers
 * make under the read lock (kvm_gpc_check()), and the invalidation the notifier runs at
 * start (gfn_to_pfn_cache_invalidate_start()). PROTOCOL.md §1.5, §3.2 step 2, §3.8, §6.5.
 */
#include "kvm/kvm-internal.h"

/* TASK_SIZE_MAX with 4-level paging: the end of the VMM's address space (access_ok()). */
#define GPC_TASK_SIZE (1ULL << 47)

/*
 * Not the kernel's: hva_to_pfn_retry() retries for as long as invalidations keep coming
 * (cond_resched() lets them finish). A schedule that never runs the invalidating thread
 * again would spin forever here, so the sim gives up after this many rounds with -EAGAIN,
 * as mn_vcpu_access() does for faults.
 */
#define GPC_MAX_RETRIES 64

static const struct mn_frame_ref no_frame = { .pfn = MN_INVALID_PFN, .gen = 0 };

static bool is_error_hva(mn_hva_t hva)
{
	return hva == KVM_HVA_ERR_BAD;
}

/* kvm_gpc_is_valid_len(): the access [addr, addr + len) stays in one page. */
static bool gpc_is_valid_len(uint64_t addr, unsigned long len)
{
	return (addr & ~MN_PAGE_MASK) + len <= MN_PAGE_SIZE;
}

/* ---- the notifier side ------------------------------------------------------------------ */

static bool gpc_hit(const struct mn_gpc *gpc, mn_hva_t start, mn_hva_t end)
{
	return gpc->valid && gpc->ref.pfn != MN_INVALID_PFN && gpc->uhva >= start &&
	       gpc->uhva < end;
}

/*
 * gfn_to_pfn_cache_invalidate_start(): every cache whose uhva lies in [start, end) loses
 * @valid under its write lock before the host changes the mapping. The read-lock test
 * keeps caches that are not hit cheap; the write lock then re-tests, since the cache may
 * have changed between the two. Nothing is unmapped here.
 */
void gfn_to_pfn_cache_invalidate_start(struct mn_vm *vm, mn_hva_t start, mn_hva_t end)
{
	struct mn_gpc *gpc;

	mn_spin_lock(vm->sim, &vm->gpc_lock);
	for (gpc = vm->gpc_list; gpc; gpc = gpc->next) {
		mn_read_lock(vm->sim, &gpc->lock);
		if (!gpc_hit(gpc, start, end)) {
			mn_read_unlock(vm->sim, &gpc->lock);
			continue;
		}
		mn_read_unlock(vm->sim, &gpc->lock);
		mn_write_lock(vm->sim, &gpc->lock);
		if (gpc_hit(gpc, start, end)) {
			gpc->valid = false;
			mn_trace(vm->trace, "kvm.gpc_invalidate", MN_KV_X("uhva", gpc->uhva),
				 MN_KV_X("pfn", gpc->ref.pfn));
		}
		mn_write_unlock(vm->sim, &gpc->lock);
	}
	mn_spin_unlock(vm->sim, &vm->gpc_lock);
}

/*
 * MN_VARIANT_GPC_OWN_SEQ, at invalidate_range_end(): every active cache whose uhva lies in
 * [start, end), valid or not, has its own sequence bumped under its write lock, whether or
 * not a memslot matched. At the end, like mmu_invalidate_seq, not at the start: a refresh
 * whose snapshot falls between the two still sees the change (mn_active_invalidate_count
 * covers only an invalidation still in flight when the refresh checks).
 */
void gfn_to_pfn_cache_invalidate_end(struct mn_vm *vm, mn_hva_t start, mn_hva_t end)
{
	struct mn_gpc *gpc;

	mn_spin_lock(vm->sim, &vm->gpc_lock);
	for (gpc = vm->gpc_list; gpc; gpc = gpc->next) {
		mn_write_lock(vm->sim, &gpc->lock);
		if (gpc->active && !is_error_hva(gpc->uhva) && gpc->uhva >= start &&
		    gpc->uhva < end)
			gpc->invalidate_seq++;
		mn_write_unlock(vm->sim, &gpc->lock);
	}
	mn_spin_unlock(vm->sim, &vm->gpc_lock);
}

/*
 * mmu_notifier_retry_cache(): a page taken after snapshotting @mmu_seq may be stale if an
 * invalidation is in flight (mn_active_invalidate_count, raised before the caches were
 * invalidated and whether or not a memslot was hit) or one completed meanwhile (the seq).
 * Read without mmu_lock, as the kernel does.
 */
static bool mmu_notifier_retry_cache(const struct mn_gpc *gpc, uint64_t mmu_seq, uint64_t own_seq)
{
	const struct mn_vm *vm = gpc->vm;

	if (vm->mn_active_invalidate_count)
		return true;
	if (kvm_variant(vm, MN_VARIANT_GPC_OWN_SEQ) && gpc->invalidate_seq != own_seq)
		return true;
	return vm->mmu_invalidate_seq != mmu_seq;
}

/* ---- refresh ---------------------------------------------------------------------------- */

/*
 * hva_to_pfn_retry(): with gpc->lock held for writing on entry and on return. Takes the
 * page at gpc->uhva with GUP while the lock is dropped, and publishes it only if no
 * invalidation could have run since the seq snapshot; otherwise throws it away and starts
 * over. The page reference is dropped once published: the notifier, not a pin, keeps the
 * cache coherent.
 */
static int hva_to_pfn_retry(struct mn_gpc *gpc)
{
	struct mn_vm *vm = gpc->vm;
	struct mn_sim *sim = vm->sim;
	struct mn_gup_page page;
	unsigned int rounds = 0;
	bool have_page = false;
	uint64_t mmu_seq, own_seq;
	int ret;

	gpc->valid = false;
	do {
		mn_step(sim, "gpc_refresh.seq_snapshot");
		mmu_seq = vm->mmu_invalidate_seq;
		own_seq = gpc->invalidate_seq;
		mn_write_unlock(sim, &gpc->lock);

		/* The previous round's page raced with an invalidation: release it. */
		if (have_page) {
			mn_mm_put_page(vm->mm, &page);
			have_page = false;
			mn_yield(sim, "gpc_refresh.resched");
			if (++rounds == GPC_MAX_RETRIES) {
				mn_write_lock(sim, &gpc->lock);
				return -EAGAIN;
			}
		}

		/* hva_to_pfn(): may fault the page in and sleep. The cache maps writable. */
		mn_yield(sim, "gpc_refresh.gup");
		ret = mn_mm_gup(vm->mm, gpc->uhva & MN_PAGE_MASK, MN_FOLL_WRITE, &page);
		if (ret) {
			mn_write_lock(sim, &gpc->lock);
			return -EFAULT;
		}
		have_page = true;
		mn_trace(vm->trace, "kvm.gpc_gup", MN_KV_X("uhva", gpc->uhva),
			 MN_KV_X("pfn", page.ref.pfn));
		/* gpc_map(): kmap/memremap of the new pfn; the sim keeps only the reference. */
		mn_yield(sim, "gpc_refresh.map");

		mn_write_lock(sim, &gpc->lock);
		/* refresh_lock serialises refreshes; nobody else can have made it valid. */
		if (gpc->valid)
			mn_sim_reportf(sim, MN_VIOL_CHECK, "kvm.gpc_refresh_not_serialised",
				       "a gfn_to_pfn cache became valid while its refresh had the "
				       "lock dropped");
	} while (mn_step(sim, "gpc_refresh.retry_check") &&
		 mmu_notifier_retry_cache(gpc, mmu_seq, own_seq));

	gpc->valid = true;
	gpc->ref = page.ref;
	mn_trace(vm->trace, "kvm.gpc_refresh", MN_KV_X("uhva", gpc->uhva),
		 MN_KV_X("pfn", page.ref.pfn));
	/* Not pinned: the reference GUP took goes now (kvm_release_page_clean()). */
	mn_mm_put_page(vm->mm, &page);
	return 0;
}

/*
 * __kvm_gpc_refresh(): refresh_lock held. Exactly one of @gpa and @uhva names the cache's
 * target. A GPA cache translates through the active memslots of address space 0 again
 * when the gpa or the generation changed; the page is taken again when the cache is not
 * valid or its page changed, else the mapping stays and only the offset moves.
 */
static int __gpc_refresh(struct mn_gpc *gpc, mn_gpa_t gpa, mn_hva_t uhva)
{
	struct mn_vm *vm = gpc->vm;
	unsigned long page_offset;
	mn_hva_t old_uhva;
	int ret = 0;

	if ((gpa != MN_INVALID_GPA) == !is_error_hva(uhva))
		return -EINVAL; /* WARN_ON_ONCE in the kernel: a caller bug */

	mn_write_lock(vm->sim, &gpc->lock);
	if (!gpc->active) {
		ret = -EINVAL;
		goto out_unlock;
	}
	old_uhva = gpc->uhva & MN_PAGE_MASK;

	if (gpa == MN_INVALID_GPA) {
		page_offset = uhva & ~MN_PAGE_MASK;
		gpc->gpa = MN_INVALID_GPA;
		gpc->memslot = NULL;
		gpc->uhva = uhva & MN_PAGE_MASK;
	} else {
		struct kvm_memslots *slots = kvm_memslots(vm, 0);

		page_offset = gpa & ~MN_PAGE_MASK;
		if (gpc->gpa != gpa || gpc->generation != slots->generation ||
		    is_error_hva(gpc->uhva)) {
			mn_gfn_t gfn = gpa >> MN_PAGE_SHIFT;
			struct kvm_memory_slot *slot = kvm_gfn_to_memslot(slots, gfn);

			gpc->gpa = gpa;
			gpc->generation = slots->generation;
			gpc->memslot = slot;
			/* __gfn_to_hva_many(): no slot, or a slot being deleted or moved. */
			if (!slot || (slot->flags & KVM_MEMSLOT_INVALID)) {
				gpc->uhva = KVM_HVA_ERR_BAD;
				ret = -EFAULT;
				goto out;
			}
			gpc->uhva = gfn_to_hva_memslot(slot, gfn);
		} else {
			gpc->uhva &= MN_PAGE_MASK;
		}
	}
	gpc->uhva += page_offset;

	if (!gpc->valid || old_uhva != (gpc->uhva & MN_PAGE_MASK))
		ret = hva_to_pfn_retry(gpc);
out:
	if (ret) {
		gpc->valid = false;
		gpc->ref = no_frame;
	}
out_unlock:
	mn_write_unlock(vm->sim, &gpc->lock);
	/* The old kernel mapping would be unmapped here when the pfn changed: nothing to do. */
	return ret;
}

/* ---- the API ------------------------------------------------------------------------------ */

int mn_gpc_create(struct mn_vm *vm, struct mn_gpc **out)
{
	struct mn_gpc *gpc = mn_zalloc(vm->alloc, sizeof(*gpc));

	if (!gpc)
		return -ENOMEM;
	gpc->vm = vm;
	mn_rwlock_init(&gpc->lock, "gpc->lock", MN_RW_SPIN);
	mn_mutex_init(&gpc->refresh_lock, "gpc->refresh_lock");
	gpc->gpa = MN_INVALID_GPA;
	gpc->uhva = KVM_HVA_ERR_BAD;
	gpc->ref = no_frame;
	*out = gpc;
	return 0;
}

void mn_gpc_destroy(struct mn_gpc *gpc)
{
	if (!gpc)
		return;
	mn_gpc_deactivate(gpc);
	mn_free(gpc->vm->alloc, gpc);
}

/*
 * __kvm_gpc_activate(): on the VM's list first, then active, so a refresh can never
 * publish a mapping the notifier does not walk.
 */
static int gpc_activate(struct mn_gpc *gpc, mn_gpa_t gpa, mn_hva_t uhva)
{
	struct mn_vm *vm = gpc->vm;
	int ret = 0;

	mn_mutex_lock(vm->sim, &gpc->refresh_lock);
	if (!gpc->active) {
		if (gpc->valid) {
			mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.gpc_valid_inactive",
				       "an inactive gfn_to_pfn cache is valid (KVM_BUG_ON)");
			ret = -EIO;
			goto out;
		}
		mn_spin_lock(vm->sim, &vm->gpc_lock);
		gpc->prev = NULL;
		gpc->next = vm->gpc_list;
		if (vm->gpc_list)
			vm->gpc_list->prev = gpc;
		vm->gpc_list = gpc;
		mn_spin_unlock(vm->sim, &vm->gpc_lock);

		mn_write_lock(vm->sim, &gpc->lock);
		gpc->active = true;
		mn_write_unlock(vm->sim, &gpc->lock);
	}
	ret = __gpc_refresh(gpc, gpa, uhva);
out:
	mn_mutex_unlock(vm->sim, &gpc->refresh_lock);
	return ret;
}

int mn_gpc_activate(struct mn_gpc *gpc, mn_gpa_t gpa, unsigned long len)
{
	struct mn_vm *vm = gpc->vm;
	int idx, ret;

	if (gpa == MN_INVALID_GPA || !gpc_is_valid_len(gpa, len))
		return -EINVAL;
	idx = mn_srcu_read_lock(vm->sim, &vm->srcu);
	ret = gpc_activate(gpc, gpa, KVM_HVA_ERR_BAD);
	mn_srcu_read_unlock(vm->sim, &vm->srcu, idx);
	return ret;
}

int mn_gpc_activate_hva(struct mn_gpc *gpc, mn_hva_t uhva, unsigned long len)
{
	/* access_ok() */
	if (uhva >= GPC_TASK_SIZE || len > GPC_TASK_SIZE - uhva || !gpc_is_valid_len(uhva, len))
		return -EINVAL;
	return gpc_activate(gpc, MN_INVALID_GPA, uhva);
}

/* kvm_gpc_refresh() */
int mn_gpc_refresh(struct mn_gpc *gpc, unsigned long len)
{
	struct mn_vm *vm = gpc->vm;
	mn_hva_t uhva;
	int ret;

	mn_mutex_lock(vm->sim, &gpc->refresh_lock);
	if (!gpc_is_valid_len(gpc->gpa != MN_INVALID_GPA ? gpc->gpa : gpc->uhva, len)) {
		ret = -EINVAL;
	} else {
		/* An HVA cache keeps its uhva; a GPA cache translates its gpa again. */
		uhva = gpc->gpa == MN_INVALID_GPA ? gpc->uhva : KVM_HVA_ERR_BAD;
		ret = __gpc_refresh(gpc, gpc->gpa, uhva);
	}
	mn_mutex_unlock(vm->sim, &gpc->refresh_lock);
	return ret;
}

/* kvm_gpc_check() */
bool mn_gpc_check(struct mn_gpc *gpc, unsigned long len)
{
	struct mn_vm *vm = gpc->vm;

	if (!mn_rwlock_is_held(vm->sim, &gpc->lock, false))
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.gpc_check_unlocked",
			       "mn_gpc_check() called without the cache's read lock");
	if (!gpc->active)
		return false;
	/* A memslot update since the refresh: the gpa may translate elsewhere now. */
	if (gpc->gpa != MN_INVALID_GPA && gpc->generation != kvm_memslots(vm, 0)->generation)
		return false;
	if (is_error_hva(gpc->uhva))
		return false;
	if (!gpc_is_valid_len(gpc->uhva, len))
		return false;
	return gpc->valid;
}

void mn_gpc_read_lock(struct mn_gpc *gpc)
{
	mn_read_lock(gpc->vm->sim, &gpc->lock);
}

void mn_gpc_read_unlock(struct mn_gpc *gpc)
{
	mn_read_unlock(gpc->vm->sim, &gpc->lock);
}

/* kvm_gpc_deactivate(): inactive and invalid first, off the list second. */
void mn_gpc_deactivate(struct mn_gpc *gpc)
{
	struct mn_vm *vm = gpc->vm;

	mn_mutex_lock(vm->sim, &gpc->refresh_lock);
	if (gpc->active) {
		mn_write_lock(vm->sim, &gpc->lock);
		gpc->active = false;
		gpc->valid = false;
		gpc->ref = no_frame;
		mn_write_unlock(vm->sim, &gpc->lock);

		mn_spin_lock(vm->sim, &vm->gpc_lock);
		if (gpc->prev)
			gpc->prev->next = gpc->next;
		else
			vm->gpc_list = gpc->next;
		if (gpc->next)
			gpc->next->prev = gpc->prev;
		gpc->prev = gpc->next = NULL;
		mn_spin_unlock(vm->sim, &vm->gpc_lock);
	}
	mn_mutex_unlock(vm->sim, &gpc->refresh_lock);
}

/*
 * The consumer pattern of PROTOCOL.md §3.8 (e.g. kvm_xen_shared_info_init(),
 * kvm_setup_guest_pvclock()): check under the read lock, refresh with it dropped, and use
 * the frame only while the read lock keeps the invalidation out.
 */
static int gpc_access(struct mn_gpc *gpc, unsigned long offset, uint64_t *val, bool write)
{
	struct mn_vm *vm = gpc->vm;
	unsigned long len = offset + sizeof(uint64_t);
	bool gpa_cache = gpc->gpa != MN_INVALID_GPA;
	int idx = 0, ret = 0;

	if (len < offset)
		return -EINVAL;
	if (gpa_cache)
		idx = mn_srcu_read_lock(vm->sim, &vm->srcu);
	mn_gpc_read_lock(gpc);
	while (!mn_gpc_check(gpc, len)) {
		mn_gpc_read_unlock(gpc);
		ret = mn_gpc_refresh(gpc, len);
		if (ret)
			goto out_srcu;
		mn_gpc_read_lock(gpc);
	}
	if (write) {
		ret = mn_phys_write(vm->phys, gpc->ref, *val, "gpc.write");
		/* kvm_gpc_mark_dirty_in_slot(): a write through a GPA cache is logged. */
		if (!ret && gpa_cache && gpc->memslot)
			mark_page_dirty_in_slot(vm, gpc->memslot, gpc->gpa >> MN_PAGE_SHIFT);
	} else
		ret = mn_phys_read(vm->phys, gpc->ref, val, "gpc.read");
	mn_gpc_read_unlock(gpc);
out_srcu:
	if (gpa_cache)
		mn_srcu_read_unlock(vm->sim, &vm->srcu, idx);
	return ret;
}

int mn_gpc_read(struct mn_gpc *gpc, unsigned long offset, uint64_t *val)
{
	return gpc_access(gpc, offset, val, false);
}

int mn_gpc_write(struct mn_gpc *gpc, unsigned long offset, uint64_t val)
{
	return gpc_access(gpc, offset, &val, true);
}
