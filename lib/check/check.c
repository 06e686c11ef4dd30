// SPDX-License-Identifier: MIT
/*
 * check.c - the protocol oracle (PROTOCOL.md §4 and the O1-O7 checks of §8): every secondary
 * and TLB translation is backed by a live frame, hva-backed entries agree with the host's
 * current mapping (same frame, no wider rights, no larger level), no entry outlives its
 * memslot, guest_memfd-backed entries agree with the file's page cache (same frame, a
 * level no larger than the folio), no leaf spans private and shared gfns or maps a private
 * gfn from anywhere but guest_memfd, no page of a logged slot is writable while its dirty
 * bit is clear (I19), no page a userfault slot must trap is mapped, and the invalidation
 * counters are balanced when the world is quiet.
 */
#include "kvm/kvm-internal.h"

#include <inttypes.h>
#include <stdio.h>

#include <mnsim/check.h>

struct backing_arg {
	struct mn_vm *vm;
	unsigned int as_id;
	int broken;
};

static void report(struct backing_arg *b, const char *id, mn_gfn_t gfn, mn_pfn_t pfn, mn_hva_t hva,
		   const char *what)
{
	mn_sim_reportf(b->vm->sim, MN_VIOL_CHECK, id,
		       "as %u gfn %#" PRIx64 " maps pfn %#" PRIx64 " (hva %#" PRIx64 "), %s",
		       b->as_id, gfn, pfn, hva, what);
	b->broken++;
}

/*
 * I19, dirty-log completeness: a page of a logged slot that a secondary or TLB entry lets
 * the guest write must have its dirty bit set, or the write escapes the log (a harvest
 * took the bit and did not write-protect or flush, or a fault granted W without marking).
 * Exempt: the slot of a dirty-log operation still between taking bits and its flush (the
 * pages it reports are in the log being harvested), and the page of a fault that has
 * granted W and will set the bit next (arm64 user_mem_abort(), x86 fast_page_fault()).
 */
static bool dirty_log_exempt(const struct mn_vm *vm, const struct kvm_memory_slot *slot,
			     mn_gfn_t gfn)
{
	unsigned int i;

	if (vm->dirty_log_unsettled.active && vm->dirty_log_unsettled.as_id == slot->as_id &&
	    vm->dirty_log_unsettled.id == slot->id)
		return true;
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].dirty_pending && vm->vcpus[i].dirty_pending_as == slot->as_id &&
		    vm->vcpus[i].dirty_pending_gfn == gfn)
			return true;
	return false;
}

/*
 * The logging and userfault rules for the gfns [@start, @end) of @slot that an entry maps
 * (@writable: with write permission); @what names the entry ("spte", "tlb of vcpu N").
 */
static void check_slot_pages(struct backing_arg *b, const struct kvm_memory_slot *slot,
			     mn_gfn_t start, mn_gfn_t end, mn_pfn_t pfn, bool writable,
			     const char *what)
{
	struct mn_vm *vm = b->vm;
	char msg[128];
	mn_gfn_t gfn;

	start = MN_MAX(start, slot->base_gfn);
	end = MN_MIN(end, slot->base_gfn + slot->npages);
	if (writable && kvm_slot_dirty_track_enabled(slot) && slot->dirty_bitmap) {
		for (gfn = start; gfn < end; gfn++) {
			if (bitmap_test(slot->dirty_bitmap, gfn - slot->base_gfn) ||
			    dirty_log_exempt(vm, slot, gfn))
				continue;
			snprintf(msg, sizeof(msg),
				 "%s is writable in logging slot %u, but the page's dirty bit is "
				 "clear: a guest write there is never logged",
				 what, slot->id);
			report(b, "kvm.dirty_log_writable", gfn, pfn + (gfn - start),
			       gfn_to_hva_memslot(slot, gfn), msg);
			break;
		}
	}
	if (kvm_is_userfault_memslot(slot) && slot->userfault_armed) {
		for (gfn = start; gfn < end; gfn++) {
			uint64_t rel = gfn - slot->base_gfn;

			if (!bitmap_test(slot->userfault_armed, rel) ||
			    !bitmap_test(slot->userfault_bitmap, rel))
				continue;
			snprintf(msg, sizeof(msg),
				 "%s maps it in userfault slot %u although its userfault bit was "
				 "set when the flag went on and still is",
				 what, slot->id);
			report(b, "kvm.userfault_mapped", gfn, pfn + (gfn - start),
			       gfn_to_hva_memslot(slot, gfn), msg);
			break;
		}
	}
}

/* The slot covering @gfn, looked up without touching the set's last-used cache. */
static struct kvm_memory_slot *lookup(struct kvm_memslots *slots, mn_gfn_t gfn)
{
	struct mn_itree_node *n = mn_itree_iter_first(&slots->gfn_tree, gfn, gfn);

	return n ? slot_of_gfn_node(n, slots->node_idx) : NULL;
}

/*
 * A translation of a page that comes from guest_memfd: the file is still bound, its page
 * cache holds the page at the slot's offset, that is the frame mapped, and one folio
 * covers the whole block (seed 003: the folio, not the host, sets the level).
 */
static void check_gmem_backing(struct backing_arg *b, const struct kvm_memory_slot *slot,
			       mn_gfn_t gfn, unsigned int level, mn_pfn_t pfn, const char *kind)
{
	uint64_t pages = mn_level_pages(level);
	struct mn_frame_ref page;
	unsigned int order;
	char what[160];

	/*
	 * Release in flight: it cleared the file first (kernel order) and zaps under
	 * invalidate_lock before it unbinds; a fault can no longer reach the file.
	 */
	if (!slot->gmem.file && slot->gmem.bound)
		return;
	if (!slot->gmem.file) {
		snprintf(what, sizeof(what),
			 "but slot %u's guest_memfd was released: %s missed its invalidation",
			 slot->id, kind);
		report(b, "kvm.spte_stale_gmem", gfn, pfn, 0, what);
		return;
	}
	/*
	 * A block needs one folio covering it whole: its first page cached, in a folio at
	 * least as large, the block's frames aligned within it (folios are naturally aligned).
	 */
	if (pages > 1 && (kvm_gmem_peek(slot, gfn, &page, &order) || pages > (1ULL << order) ||
			  (page.pfn & (pages - 1)))) {
		snprintf(what, sizeof(what),
			 "%s at level %u, but no guest_memfd folio of that size backs the block",
			 kind, level);
		report(b, "kvm.level_exceeds_gmem_folio", gfn, pfn, 0, what);
		return;
	}
	if (kvm_gmem_peek(slot, gfn, &page, &order)) {
		snprintf(what, sizeof(what),
			 "but the guest_memfd caches no page there (punched): %s missed its "
			 "invalidation",
			 kind);
		report(b, "kvm.spte_stale_gmem", gfn, pfn, 0, what);
		return;
	}
	if (page.pfn != pfn) {
		snprintf(what, sizeof(what),
			 "but the guest_memfd caches pfn %#" PRIx64 " there: %s is stale", page.pfn,
			 kind);
		report(b, "kvm.spte_stale_gmem", gfn, pfn, 0, what);
	}
}

/*
 * A translation (secondary leaf or TLB entry) of [@gfn, @gfn + pages) to @pfn against the
 * host: the host maps the same frame at the slot's hva, with write permission when the
 * translation has it, at a level no smaller than the translation's. Returns the slot, or
 * NULL after a report.
 */
static struct kvm_memory_slot *check_backing(struct backing_arg *b, mn_gfn_t gfn,
					     unsigned int level, mn_pfn_t pfn, unsigned int perm,
					     const char *kind)
{
	struct mn_vm *vm = b->vm;
	struct kvm_memory_slot *slot = lookup(kvm_memslots(vm, b->as_id), gfn);
	uint64_t pages = mn_level_pages(level);
	struct mn_pt_walk hw;
	char what[128];
	mn_hva_t hva;

	if (!slot) {
		snprintf(what, sizeof(what),
			 "but no memslot covers the gfn: %s outlived its slot's zap", kind);
		report(b, "kvm.spte_without_slot", gfn, pfn, 0, what);
		return NULL;
	}
	hva = gfn_to_hva_memslot(slot, gfn);
	if (gfn + pages > slot->base_gfn + slot->npages) {
		snprintf(what, sizeof(what), "but %s of level %u runs past the end of slot %u",
			 kind, level, slot->id);
		report(b, "kvm.level_exceeds_slot", gfn, pfn, hva, what);
		return NULL;
	}
	/* x86 lpage_info's mixed flag: one leaf never spans private and shared gfns. */
	if (pages > 1 && kvm_arch_has_private_mem(vm) &&
	    !kvm_range_has_memory_attributes(vm, gfn, gfn + pages, MN_MEMORY_ATTRIBUTE_PRIVATE,
					     kvm_get_memory_attributes(vm, gfn) &
						     MN_MEMORY_ATTRIBUTE_PRIVATE)) {
		snprintf(what, sizeof(what), "%s of level %u spans private and shared gfns", kind,
			 level);
		report(b, "kvm.level_mixed_attributes", gfn, pfn, hva, what);
	}
	if (kvm_fault_from_gmem(vm, slot, gfn)) {
		check_gmem_backing(b, slot, gfn, level, pfn, kind);
		return slot;
	}
	if (kvm_mem_is_private(vm, gfn)) {
		snprintf(what, sizeof(what),
			 "but the gfn is private and slot %u has no guest_memfd: %s survived a "
			 "conversion",
			 slot->id, kind);
		report(b, "kvm.spte_private_without_gmem", gfn, pfn, hva, what);
		return NULL;
	}
	if (mn_pt_walk(mn_mm_get_pt(vm->mm), hva >> MN_PAGE_SHIFT, &hw)) {
		snprintf(what, sizeof(what),
			 "but the host maps nothing there: %s missed its invalidation", kind);
		report(b, "kvm.spte_stale_host", gfn, pfn, hva, what);
		return NULL;
	}
	if (hw.pfn != pfn) {
		snprintf(what, sizeof(what),
			 "but the host maps pfn %#" PRIx64 " there: %s missed its invalidation",
			 hw.pfn, kind);
		report(b, "kvm.spte_stale_host", gfn, pfn, hva, what);
		return NULL;
	}
	if ((perm & MN_PTE_W) && !(hw.leaf.perm & MN_PTE_W)) {
		snprintf(what, sizeof(what), "%s is writable, but the host entry is read-only",
			 kind);
		report(b, "kvm.spte_writable_host_readonly", gfn, pfn, hva, what);
	}
	if ((perm & MN_PTE_W) && (slot->flags & MN_MEM_READONLY)) {
		snprintf(what, sizeof(what), "%s is writable in read-only slot %u", kind, slot->id);
		report(b, "kvm.spte_writable_readonly_slot", gfn, pfn, hva, what);
	}
	if (level > hw.leaf.level) {
		snprintf(what, sizeof(what), "%s at level %u, larger than the host's level %u",
			 kind, level, hw.leaf.level);
		report(b, "kvm.level_exceeds_host", gfn, pfn, hva, what);
	}
	return slot;
}

/* One secondary leaf against its memslot and the host mapping behind it. */
static bool check_leaf(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct backing_arg *b = arg;
	struct kvm_memory_slot *slot;

	(void)gen;
	if (pte->kind != MN_PTE_LEAF)
		return false;
	slot = check_backing(b, gfn, pte->level, pte->pfn, pte->perm, "the secondary entry");
	if (slot)
		check_slot_pages(b, slot, gfn, gfn + mn_level_pages(pte->level), pte->pfn,
				 pte->perm & MN_PTE_W, "the secondary entry");
	return false;
}

/*
 * The same rules for what the vCPUs' TLBs cache: a flush owed by a harvest or a zap that
 * never came leaves exactly such an entry.
 */
static void check_tlb(struct backing_arg *b, unsigned int vcpu)
{
	struct kvm_memslots *slots = kvm_memslots(b->vm, b->as_id);
	struct mn_tlb *tlb = b->vm->vcpus[vcpu].tlb[b->as_id];
	struct mn_tlb_entry e;
	char what[48];
	unsigned int i;
	int r;

	unsigned int left = mn_tlb_nr_entries(tlb);

	if (!left)
		return;
	snprintf(what, sizeof(what), "the TLB entry of vcpu %u", vcpu);
	for (i = 0; left && (r = mn_tlb_get_entry(tlb, i, &e)) != -ERANGE; i++) {
		mn_gfn_t end;
		struct mn_itree_node *n;

		if (r)
			continue;
		left--;
		/*
		 * Flushed before start() returns and before a harvest returns: at every step a
		 * cached translation agrees with the host as the entry it came from must.
		 */
		if (!check_backing(b, e.gfn, e.level, e.pfn, e.perm, what))
			continue;
		end = e.gfn + mn_level_pages(e.level);
		mn_itree_for_each(n, &slots->gfn_tree, e.gfn, end - 1) {
			const struct kvm_memory_slot *slot = slot_of_gfn_node(n, slots->node_idx);

			if (kvm_slot_dirty_track_enabled(slot) || kvm_is_userfault_memslot(slot))
				check_slot_pages(b, slot, e.gfn, end, e.pfn, e.perm & MN_PTE_W,
						 what);
		}
	}
}

/*
 * A userfault bit the oracle sees clear is no longer watched: the VMM resolved the page,
 * and setting the bit again does not require KVM to unmap it until the flag is toggled.
 */
static void userfault_disarm(struct mn_vm *vm, unsigned int as)
{
	struct kvm_memslots *slots = kvm_memslots(vm, as);
	struct mn_itree_node *n;
	uint64_t i;

	mn_itree_for_each(n, &slots->gfn_tree, 0, MN_INVALID_GFN) {
		struct kvm_memory_slot *slot = slot_of_gfn_node(n, slots->node_idx);

		if (!kvm_is_userfault_memslot(slot) || !slot->userfault_armed)
			continue;
		for (i = 0; i < bitmap_words(slot->npages); i++)
			slot->userfault_armed[i] &= slot->userfault_bitmap[i];
	}
}

/*
 * I3, gpc validity: a valid gfn_to_pfn cache names a live frame, the one the host maps at
 * its uhva now. This holds at every step, not only when the world is quiet: the host
 * changes a mapping only between invalidate_range_start() and its end; start() clears
 * @valid (under the cache's write lock) after raising mn_active_invalidate_count and
 * before the host touches an entry, and no refresh publishes while that count is raised,
 * or when the seq moved after its snapshot. So from the host's change to its end no cache
 * of that hva is valid, and a later refresh takes the new page. Two exceptions are real
 * hazards, not false reports: an HVA cache outside every memslot whose refresh sleeps
 * through a whole start..end (the count is back to 0 and the seq never moved: the B1
 * hazard of PROTOCOL.md §3.8), and a host change without notification. Memslot updates
 * only make a GPA cache fail mn_gpc_check() (generation); its frame stays the host's.
 */
static int check_gpcs(struct mn_vm *vm)
{
	struct mn_pt *host = mn_mm_get_pt(vm->mm);
	struct mn_gpc *gpc;
	struct mn_pt_walk hw;
	int broken = 0;

	for (gpc = vm->gpc_list; gpc; gpc = gpc->next) {
		if (!gpc->valid)
			continue;
		if (!mn_phys_ref_valid(vm->phys, gpc->ref)) {
			mn_phys_use(vm->phys, gpc->ref, MN_USE_MAP, "gpc");
			broken++;
			continue;
		}
		int miss = mn_pt_walk(host, gpc->uhva >> MN_PAGE_SHIFT, &hw);

		if (miss || hw.pfn != gpc->ref.pfn) {
			mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.gpc_stale_host",
				       "a valid gfn_to_pfn cache of hva %#" PRIx64
				       " maps pfn %#" PRIx64
				       ", but the host maps %s there: it missed its invalidation",
				       gpc->uhva, gpc->ref.pfn, miss ? "nothing" : "another frame");
			broken++;
		}
	}
	return broken;
}

int mn_check_vm(struct mn_vm *vm)
{
	struct mn_pt_result res;
	unsigned int as, i;
	int broken = check_gpcs(vm);

	for (as = 0; as < vm->nr_as; as++) {
		struct backing_arg b = { vm, as, 0 };

		userfault_disarm(vm, as);
		broken += mn_pt_check_frames(vm->pt[as], vm->phys, "kvm.spte");
		mn_pt_update(vm->pt[as], (struct mn_gfn_range){ 0, MN_INVALID_GFN }, check_leaf, &b,
			     &res);
		for (i = 0; i < vm->nr_vcpus; i++) {
			broken += mn_tlb_check_frames(vm->vcpus[i].tlb[as], vm->phys, "kvm.tlb");
			check_tlb(&b, i);
		}
		broken += b.broken;
	}
	return broken;
}

int mn_check_vm_quiescent(struct mn_vm *vm)
{
	int broken = mn_check_vm(vm);

	if (vm->mmu_invalidate_in_progress || vm->mn_active_invalidate_count) {
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.not_quiescent",
			       "every thread finished, but mmu_invalidate_in_progress is %lld and "
			       "mn_active_invalidate_count %llu: a start without its end",
			       (long long)vm->mmu_invalidate_in_progress,
			       (unsigned long long)vm->mn_active_invalidate_count);
		broken++;
	}
	return broken;
}

static void step_hook(struct mn_sim *sim, void *arg)
{
	(void)sim;
	mn_check_vm(arg);
}

/* The VM is going (kvm_destroy_vm()): stop checking it. */
void kvm_check_disable(struct mn_vm *vm)
{
	if (mn_sim_get_step_hook_arg(vm->sim) == vm)
		mn_sim_set_step_hook(vm->sim, NULL, NULL);
}

void mn_check_enable(struct mn_vm *vm)
{
	mn_sim_set_step_hook(vm->sim, step_hook, vm);
}
