// SPDX-License-Identifier: MIT
/*
 * pfnset.c - per-folio counters of an mm, keyed by (head pfn, generation) so that a freed
 * and reused frame never inherits them: the GUP references handed out and not yet put (for
 * the refcount invariant), and the anonymous folios fork() shared, which are not
 * exclusive to one mm (the kernel's PageAnonExclusive cleared, kept per folio here).
 */
#include "host/host-internal.h"

struct pfn_node {
	RB_ENTRY(pfn_node) rb;
	struct mn_frame_ref folio;
	uint64_t count;
};

static int node_cmp(const struct pfn_node *a, const struct pfn_node *b)
{
	return a->folio.pfn < b->folio.pfn ? -1 : a->folio.pfn > b->folio.pfn;
}

RB_GENERATE_STATIC(pfnset, pfn_node, rb, node_cmp)

/* The folio @pfn is part of, as (head, generation); pfn MN_INVALID_PFN when it is free. */
struct mn_frame_ref folio_of(const struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	if (mn_phys_frame_info(mm->phys, pfn, &fi) || fi.state == MN_FRAME_FREE)
		return (struct mn_frame_ref){ MN_INVALID_PFN, 0 };
	return (struct mn_frame_ref){ fi.head, fi.gen };
}

void pfnset_add(struct mn_mm *mm, struct pfnset *set, struct mn_frame_ref folio, int64_t delta)
{
	struct pfn_node key = { .folio = folio }, *p = RB_FIND(pfnset, set, &key);

	if (p && p->folio.gen != folio.gen) {
		/* A stale entry of a freed folio whose frame was reused: forget it. */
		RB_REMOVE(pfnset, set, p);
		mn_free(mm->alloc, p);
		p = NULL;
	}
	if (!p) {
		if (delta <= 0)
			return;
		p = mn_zalloc(mm->alloc, sizeof(*p));
		if (!p)
			return; /* bookkeeping only */
		p->folio = folio;
		RB_INSERT(pfnset, set, p);
	}
	p->count = delta < 0 && (uint64_t)-delta > p->count ? 0 : p->count + (uint64_t)delta;
	if (!p->count) {
		RB_REMOVE(pfnset, set, p);
		mn_free(mm->alloc, p);
	}
}

uint64_t pfnset_count(const struct pfnset *set, struct mn_frame_ref folio)
{
	struct pfn_node key = { .folio = folio }, *p;

	p = RB_FIND(pfnset, (struct pfnset *)set, &key);
	return p && p->folio.gen == folio.gen ? p->count : 0;
}

void pfnset_clear(struct mn_mm *mm, struct pfnset *set)
{
	struct pfn_node *p, *n;

	RB_FOREACH_SAFE(p, pfnset, set, n) {
		RB_REMOVE(pfnset, set, p);
		mn_free(mm->alloc, p);
	}
}

/* An anonymous page this mm may write without copying (PageAnonExclusive). */
bool anon_exclusive(const struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	if (is_zero_pfn(mm, pfn) || mn_phys_frame_info(mm->phys, pfn, &fi) ||
	    fi.owner != MN_OWNER_ANON || fi.state == MN_FRAME_FREE)
		return false;
	return !pfnset_count(&mm->anon_shared, (struct mn_frame_ref){ fi.head, fi.gen });
}

/* fork() shared the anonymous folio behind @pfn: no longer exclusive to either mm. */
void anon_share(struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_ref f = folio_of(mm, pfn);
	struct mn_frame_info fi;

	if (f.pfn == MN_INVALID_PFN || mn_phys_frame_info(mm->phys, f.pfn, &fi) ||
	    fi.owner != MN_OWNER_ANON || pfnset_count(&mm->anon_shared, f))
		return;
	pfnset_add(mm, &mm->anon_shared, f, 1);
}

/* The last sharer reuses it (wp_can_reuse_anon_folio()): exclusive again. */
void anon_unshare(struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_ref f = folio_of(mm, pfn);

	if (f.pfn != MN_INVALID_PFN)
		pfnset_add(mm, &mm->anon_shared, f, -1);
}
