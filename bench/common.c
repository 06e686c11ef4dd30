// SPDX-License-Identifier: MIT
/*
 * common.c - small pieces the benchmark files share: the leaf a KVM fault would install,
 * a census of the leaves of a range, a bitmap's weight, the teardown of a benchmark world,
 * and the walk+clear radix reference.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static bool census_leaf(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct mn_bench_census *c = arg;

	(void)gfn;
	(void)gen;
	if (pte->kind != MN_PTE_LEAF || pte->level >= MN_PG_LEVEL_NUM)
		return false;
	c->leaves++;
	c->by_level[pte->level]++;
	c->pages += mn_level_pages(pte->level);
	c->writable += !!(pte->perm & MN_PTE_W);
	c->young += pte->accessed;
	return false;
}

struct mn_bench_census mn_bench_census(struct mn_pt *pt, mn_gfn_t start, mn_gfn_t end)
{
	struct mn_bench_census c;
	struct mn_pt_result res;

	memset(&c, 0, sizeof(c));
	mn_pt_update(pt, (struct mn_gfn_range){ start, end }, census_leaf, &c, &res);
	return c;
}

uint64_t mn_bench_bitmap_weight(const uint64_t *b, uint64_t words)
{
	uint64_t i, n = 0;

	for (i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(b[i]);
	return n;
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

/* ---- the walk+clear radix reference ----------------------------------------------------- */

int mn_bench_radix_init(struct mn_bench_radix *r, unsigned int top)
{
	r->root = calloc(MN_BENCH_RADIX_ROOT, sizeof(*r->root));
	r->top = top;
	r->tables = 0;
	return r->root ? 0 : -ENOMEM;
}

static unsigned int radix_index(uint64_t gfn, unsigned int lvl, unsigned int top)
{
	uint64_t i = gfn >> (9 * (lvl - 1));

	return (unsigned int)(lvl == top ? i % MN_BENCH_RADIX_ROOT : i & 511);
}

int mn_bench_radix_set(struct mn_bench_radix *r, uint64_t gfn, unsigned int leaf_level,
		       uint64_t val)
{
	uint64_t *e = r->root;
	unsigned int lvl;

	for (lvl = r->top; lvl > leaf_level; lvl--) {
		uint64_t *slot = &e[radix_index(gfn, lvl, r->top)];

		if (!*slot) {
			uint64_t *c = calloc(512, sizeof(*c));

			if (!c)
				return -ENOMEM;
			r->tables++;
			*slot = (uint64_t)(uintptr_t)c;
		}
		e = (uint64_t *)(uintptr_t)*slot;
	}
	e[radix_index(gfn, lvl, r->top)] = val | 1;
	return 0;
}

static uint64_t radix_walk(uint64_t *e, unsigned int lvl, unsigned int nent, uint64_t base,
			   uint64_t start, uint64_t end, uint64_t *sum)
{
	uint64_t span = 1ULL << (9 * (lvl - 1)), cnt = 0;
	uint64_t first = start > base ? (start - base) / span : 0;
	uint64_t last = (end - 1 - base) / span;
	uint64_t i;

	if (last > nent - 1)
		last = nent - 1;
	for (i = first; i <= last; i++) {
		uint64_t v = e[i];

		if (!v)
			continue;
		if (v & 1) {
			*sum += v;
			e[i] = 0;
			cnt++;
		} else {
			cnt += radix_walk((uint64_t *)(uintptr_t)v, lvl - 1, 512, base + i * span,
					  start, end, sum);
		}
	}
	return cnt;
}

uint64_t mn_bench_radix_walk_clear(struct mn_bench_radix *r, uint64_t start, uint64_t end,
				   uint64_t *sum)
{
	return start < end ? radix_walk(r->root, r->top, MN_BENCH_RADIX_ROOT, 0, start, end, sum)
			   : 0;
}

static void radix_free(uint64_t *e, unsigned int lvl, unsigned int nent)
{
	unsigned int i;

	for (i = 0; lvl > 1 && i < nent; i++)
		if (e[i] && !(e[i] & 1))
			radix_free((uint64_t *)(uintptr_t)e[i], lvl - 1, 512);
	free(e);
}

void mn_bench_radix_free(struct mn_bench_radix *r)
{
	if (r->root)
		radix_free(r->root, r->top, MN_BENCH_RADIX_ROOT);
	r->root = NULL;
}
