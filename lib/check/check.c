// SPDX-License-Identifier: MIT
/*
 * check.c - the protocol oracle (PROTOCOL.md §4 and the O1-O5 checks of §8): every secondary
 * and TLB translation is backed by a live frame, hva-backed entries agree with the host's
 * current mapping (same frame, no wider rights, no larger level), no entry outlives its
 * memslot, and the invalidation counters are balanced when the world is quiet.
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

/* One secondary leaf against its memslot and the host mapping behind it. */
static bool check_leaf(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct backing_arg *b = arg;
	struct mn_vm *vm = b->vm;
	struct kvm_memory_slot *slot;
	struct mn_pt_walk hw;
	char what[96];
	mn_hva_t hva;

	(void)gen;
	if (pte->kind != MN_PTE_LEAF)
		return false;
	slot = kvm_gfn_to_memslot(kvm_memslots(vm, b->as_id), gfn);
	if (!slot) {
		report(b, "kvm.spte_without_slot", gfn, pte->pfn, 0,
		       "but no memslot covers the gfn: the slot's zap never ran");
		return false;
	}
	hva = gfn_to_hva_memslot(slot, gfn);
	if (mn_pt_walk(mn_mm_get_pt(vm->mm), hva >> MN_PAGE_SHIFT, &hw)) {
		report(b, "kvm.spte_stale_host", gfn, pte->pfn, hva,
		       "but the host maps nothing there: its invalidation was missed");
		return false;
	}
	if (hw.pfn != pte->pfn) {
		snprintf(what, sizeof(what),
			 "but the host maps pfn %#" PRIx64 " there: its invalidation was missed",
			 hw.pfn);
		report(b, "kvm.spte_stale_host", gfn, pte->pfn, hva, what);
		return false;
	}
	if ((pte->perm & MN_PTE_W) && !(hw.leaf.perm & MN_PTE_W))
		report(b, "kvm.spte_writable_host_readonly", gfn, pte->pfn, hva,
		       "writable, but the host entry is read-only");
	if (pte->level > hw.leaf.level) {
		snprintf(what, sizeof(what), "at level %u, larger than the host's level %u",
			 pte->level, hw.leaf.level);
		report(b, "kvm.level_exceeds_host", gfn, pte->pfn, hva, what);
	}
	return false;
}

int mn_check_vm(struct mn_vm *vm)
{
	struct mn_pt_result res;
	unsigned int as, i;
	int broken = 0;

	for (as = 0; as < vm->nr_as; as++) {
		struct backing_arg b = { vm, as, 0 };

		broken += mn_pt_check_frames(vm->pt[as], vm->phys, "kvm.spte");
		mn_pt_update(vm->pt[as], (struct mn_gfn_range){ 0, MN_INVALID_GFN }, check_leaf, &b,
			     &res);
		broken += b.broken;
		for (i = 0; i < vm->nr_vcpus; i++)
			broken += mn_tlb_check_frames(vm->vcpus[i].tlb[as], vm->phys, "kvm.tlb");
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

void mn_check_enable(struct mn_vm *vm)
{
	mn_sim_set_step_hook(vm->sim, step_hook, vm);
}
