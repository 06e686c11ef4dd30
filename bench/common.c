// SPDX-License-Identifier: MIT
/*
 * common.c - small pieces the benchmark files share: the leaf a KVM fault would install,
 * a leaf counter for mn_pt_update(), and the teardown of a benchmark world.
 */
#include "bench.h"

#include <mnsim.h>

struct mn_pte mn_bench_leaf(enum mn_vm_arch arch, unsigned int level, mn_pfn_t pfn)
{
	struct mn_pte l = {
		.kind = MN_PTE_LEAF,
		.level = level,
		.pfn = pfn,
		.perm = MN_PTE_R | MN_PTE_W | MN_PTE_X,
		.memtype = MN_MT_WB,
		.accessed = true,
	};

	/* What make_spte() gives a writable TDP leaf: ignore PAT, dirty, both writable bits. */
	if (arch == MN_VM_X86) {
		l.ipat = true;
		l.dirty = true;
		l.sw = MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_MMU_WRITABLE;
	}
	return l;
}

bool mn_bench_count_leaf(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	(void)gfn;
	(void)gen;
	if (pte->kind == MN_PTE_LEAF)
		(*(uint64_t *)arg)++;
	return false;
}

void mn_bench_world_free(struct mn_vm *vm, struct mn_mm *mm, struct mn_sim *sim)
{
	if (vm)
		mn_vm_destroy(vm);
	if (mm)
		mn_mm_destroy(mm);
	if (sim)
		mn_sim_destroy(sim);
}
