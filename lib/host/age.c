// SPDX-License-Identifier: MIT
/*
 * age.c - page aging as reclaim and idle tracking drive it: for each mapped entry, the host
 * accessed bit and the subscribers' clear_flush_young / clear_young / test_young
 * (folio_referenced_one() with ptep_clear_flush_young_notify(), mm/page_idle.c, and
 * mmu_notifier_test_young()). No start/end, no sequence change.
 */
#include "host/host-internal.h"

struct age_item {
	mn_hva_t addr;
	unsigned int level;
};

struct age_collect {
	struct mn_mm *mm;
	struct age_item *items;
	size_t nr, cap;
	int err;
};

static bool collect(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct age_collect *c = arg;
	void *arr = c->items;

	(void)gen;
	if (pte->kind != MN_PTE_LEAF || c->err)
		return false;
	if (c->nr == c->cap &&
	    mn_array_grow(c->mm->alloc, &arr, &c->cap, c->nr + 1, sizeof(struct age_item))) {
		c->err = -ENOMEM;
		return false;
	}
	c->items = arr;
	c->items[c->nr++] = (struct age_item){ gfn << MN_PAGE_SHIFT, pte->level };
	return false;
}

struct young_arg {
	bool clear;
	bool young;
};

static bool test_clear_young(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct young_arg *y = arg;

	(void)gfn;
	(void)gen;
	if (pte->kind != MN_PTE_LEAF || !pte->accessed)
		return false;
	y->young = true;
	if (!y->clear)
		return false;
	pte->accessed = false;
	return true;
}

int mn_mm_age(struct mn_mm *mm, mn_hva_t start, uint64_t len, enum mn_age_mode mode)
{
	struct age_collect c = { .mm = mm };
	struct mn_pt_result res;
	mn_hva_t end;
	size_t i;
	int young = 0;

	if ((start & ~MN_PAGE_MASK) || mode > MN_AGE_TEST_YOUNG || len > HOST_TASK_SIZE ||
	    start + len > HOST_TASK_SIZE)
		return -EINVAL;
	end = start + mn_align_up(len, MN_PAGE_SIZE);
	mn_read_lock(mm->sim, &mm->mmap_lock);
	mn_pt_update(mm->pt, pn_range(start, end), collect, &c, &res);
	for (i = 0; i < c.nr; i++) {
		mn_hva_t a = c.items[i].addr, e = a + level_bytes(c.items[i].level);
		struct young_arg y = { .clear = mode != MN_AGE_TEST_YOUNG };
		bool sec;

		/* The rmap walk holds the page-table lock: the callbacks run in atomic context. */
		mn_spin_lock(mm->sim, &mm->ptl);
		mn_pt_update(mm->pt, pn_range(a, a + MN_PAGE_SIZE), test_clear_young, &y, &res);
		/*
		 * x86's ptep_clear_flush_young() does not flush: a stale accessed bit in the
		 * TLB only makes aging less precise.
		 */
		sec = notify_young(mm, mode, a, mode == MN_AGE_TEST_YOUNG ? a + MN_PAGE_SIZE : e);
		mn_spin_unlock(mm->sim, &mm->ptl);
		young += y.young || sec;
	}
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	mn_free(mm->alloc, c.items);
	mn_trace(mm->trace, "host.age", MN_KV_X("start", start), MN_KV_X("end", end),
		 MN_KV_U("mode", mode), MN_KV_U("young", young));
	return c.err ? c.err : young;
}
