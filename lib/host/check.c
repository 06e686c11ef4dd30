// SPDX-License-Identifier: MIT
/*
 * check.c - checked mode for the host itself: every entry inside a VMA, within the VMA's
 * rights and the folio's size, on a live folio; a file page still in its page cache;
 * mapcount and refcount agreeing with the entries, the page cache, GUP references and
 * isolations (the kernel's rmap and refcount rules that mm/debug_vm_pgtable.c and page_ref
 * tracepoints police); every file VMA on its file's i_mmap list.
 */
#include "host/host-internal.h"

#include <stdlib.h>

struct folio_use {
	mn_pfn_t head;
	uint64_t maps;
	bool cached; /* in the page cache of a file this mm maps */
};

struct check_arg {
	struct mn_mm *mm;
	struct folio_use *uses;
	size_t nr, cap;
	int broken;
	bool oom;
};

static int use_cmp(const void *a, const void *b)
{
	const struct folio_use *x = a, *y = b;

	return x->head < y->head ? -1 : x->head > y->head;
}

static void broken(struct check_arg *c, const char *id, mn_hva_t addr, const char *what)
{
	mn_sim_reportf(c->mm->sim, MN_VIOL_CHECK, id, "host entry at %#llx: %s",
		       (unsigned long long)addr, what);
	c->broken++;
}

static bool check_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct check_arg *c = arg;
	struct mn_mm *mm = c->mm;
	mn_hva_t addr = gfn << MN_PAGE_SHIFT, end = addr + level_bytes(pte->level);
	struct host_vma *v = vma_find(mm, addr);
	struct mn_frame_ref ref = { pte->pfn, *gen };
	struct mn_frame_info fi;
	struct file_folio *ff;
	void *arr = c->uses;

	if (!v || end > v->end) {
		broken(c, "host.entry_outside_vma", addr, "no VMA covers it");
		return false;
	}
	if (pte->kind == MN_PTE_LEAF && (pte->perm & ~vma_pte_perm(v)))
		broken(c, "host.perm_exceeds_vma", addr, "it allows more than its VMA");
	if (v->flags & MN_VM_HUGETLB
		    ? pte->level != mn_order_to_level(v->huge_order)
		    : pte->level > MN_PG_LEVEL_2M || (pte->level == MN_PG_LEVEL_2M && v->file))
		broken(c, "host.level_vma", addr, "its size is not one its VMA allows");
	if (pte->kind == MN_PTE_MIGRATION || is_zero_pfn(mm, pte->pfn))
		return false;
	if (!mn_phys_ref_valid(mm->phys, ref)) {
		mn_phys_use(mm->phys, ref, MN_USE_MAP, "host.pte"); /* reports who freed it */
		c->broken++;
		return false;
	}
	mn_phys_frame_info(mm->phys, pte->pfn, &fi);
	if (fi.order < (pte->level - 1) * MN_LEVEL_BITS)
		broken(c, "host.level_exceeds_folio", addr, "it is larger than its folio");
	if (c->nr == c->cap &&
	    mn_array_grow(mm->alloc, &arr, &c->cap, c->nr + 1, sizeof(struct folio_use))) {
		c->oom = true;
		return false;
	}
	c->uses = arr;
	ff = fi.owner != MN_OWNER_ANON && v->file
		     ? file_lookup(v->file, v->pgoff + ((addr - v->start) >> MN_PAGE_SHIFT))
		     : NULL;
	c->uses[c->nr++] = (struct folio_use){
		.head = fi.head,
		.maps = 1,
		.cached = ff && ff->ref.pfn == fi.head && ff->ref.gen == ref.gen,
	};
	/* Truncation unmaps before a folio leaves the cache; no fault maps it after. */
	if (fi.owner != MN_OWNER_ANON && v->file && !c->uses[c->nr - 1].cached)
		broken(c, "host.file_entry_stale", addr,
		       "it maps a file folio the page cache no longer holds there");
	return false;
}

/* Each file VMA of @mm is on its file's i_mmap list once, and the list's @mm VMAs are. */
static int check_i_mmap(struct mn_mm *mm)
{
	struct host_vma *v, *x;
	int broken = 0;

	for (v = vma_first_in(mm, 0, HOST_TASK_SIZE); v; v = vma_next_in(v, 0, HOST_TASK_SIZE)) {
		unsigned int seen = 0, len = 0;

		if (!v->file)
			continue;
		TAILQ_FOREACH(x, &v->file->i_mmap, i_mmap) {
			len++;
			seen += x == v;
			if (x != v && x->mm == mm && vma_find(mm, x->start) != x)
				seen = 2; /* a VMA of this mm the tree no longer has */
		}
		if (v->mm != mm || seen != 1 || len != v->file->nr_mappings) {
			mn_sim_reportf(mm->sim, MN_VIOL_CHECK, "host.i_mmap",
				       "VMA [%#llx, %#llx) of file %s: i_mmap list broken",
				       (unsigned long long)v->start, (unsigned long long)v->end,
				       v->file->name);
			broken++;
		}
	}
	return broken;
}

int mn_mm_check_invariants(struct mn_mm *mm)
{
	struct check_arg c = { .mm = mm };
	struct mn_pt_result res;
	size_t i, j;

	mn_pt_update(mm->pt, pn_range(0, HOST_TASK_SIZE), check_entry, &c, &res);
	if (c.nr)
		qsort(c.uses, c.nr, sizeof(*c.uses), use_cmp);
	for (i = 0; i < c.nr; i = j) {
		struct folio_use u = c.uses[i];
		struct mn_frame_info fi;
		uint64_t want;

		for (j = i + 1; j < c.nr && c.uses[j].head == u.head; j++) {
			u.maps++;
			u.cached |= c.uses[j].cached;
		}
		mn_phys_frame_info(mm->phys, u.head, &fi);
		want = u.maps + pfnset_count(&mm->pins, folio_of(mm, u.head)) + u.cached +
		       folio_migrating(mm, u.head);
		if ((uint64_t)fi.mapcount < u.maps) {
			mn_sim_reportf(
				mm->sim, MN_VIOL_REFCOUNT, "host.mapcount",
				"folio %#llx is mapped by %llu entries but its mapcount is %d",
				(unsigned long long)u.head, (unsigned long long)u.maps,
				fi.mapcount);
			c.broken++;
		} else if ((uint64_t)fi.mapcount == u.maps && fi.refcount != want) {
			/* Mapped by this mm only: every reference is accounted for. */
			mn_sim_reportf(
				mm->sim, MN_VIOL_REFCOUNT, "host.refcount",
				"folio %#llx has refcount %u, expected %llu (%llu mappings, "
				"%llu GUP references, page cache %d, isolated %d)",
				(unsigned long long)u.head, fi.refcount, (unsigned long long)want,
				(unsigned long long)u.maps,
				(unsigned long long)pfnset_count(&mm->pins, folio_of(mm, u.head)),
				u.cached, folio_migrating(mm, u.head));
			c.broken++;
		}
	}
	mn_free(mm->alloc, c.uses);
	return c.broken + check_i_mmap(mm);
}
