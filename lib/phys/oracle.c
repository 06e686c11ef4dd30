// SPDX-License-Identifier: MIT
/*
 * oracle.c - every checked use of a frame reference: the use-after-free oracle (what KASAN
 * and page_ref debugging catch in a kernel), refcount and mapcount updates (get_page,
 * put_page, rmap add/remove), flag updates and the data words.
 */
#include "phys/phys-internal.h"

#include <inttypes.h>
#include <stdio.h>

static const char *const use_names[] = {
	[MN_USE_READ] = "read",
	[MN_USE_WRITE] = "write",
	[MN_USE_MAP] = "map",
	[MN_USE_DIRECT_MAP] = "direct-map access",
};

static void report_uaf(struct mn_phys *p, struct mn_frame_ref ref, enum mn_use_kind kind,
		       const char *what, const struct frame_view *v, bool resolved)
{
	struct mn_violation r = {
		.kind = MN_VIOL_USE_AFTER_FREE,
		.invariant = "frame.use_after_free",
		.what = what,
		.pfn = ref.pfn,
		.ref_gen = ref.gen,
	};
	const struct frame *h = resolved ? v->head : NULL;
	const char *use = (unsigned int)kind < ARRAY_SIZE(use_names) ? use_names[kind] : "use";

	if (!h || (h->state == MN_FRAME_FREE && h->gen == 0)) {
		snprintf(r.detail, sizeof(r.detail), "%s of a frame that was never allocated", use);
	} else {
		r.frame_gen = h->gen;
		r.cause_actor = h->free_actor;
		r.cause_event = h->free_event;
		if (h->state == MN_FRAME_FREE) {
			snprintf(r.detail, sizeof(r.detail),
				 "%s through a reference of gen %" PRIu64 "; the folio was freed",
				 use, ref.gen);
		} else {
			r.reuse_actor = h->alloc_actor;
			r.reuse_event = h->alloc_event;
			snprintf(r.detail, sizeof(r.detail),
				 "%s through a reference of gen %" PRIu64
				 "; the folio was freed and is now %s order %u gen %" PRIu64,
				 use, ref.gen, mn_phys_owner_name((enum mn_frame_owner)h->owner),
				 h->order, h->gen);
		}
	}
	mn_trace_report(p->trace, &r);
}

/* Resolve @ref; on a stale reference report it and return -ESTALE. */
static int check(struct mn_phys *p, struct mn_frame_ref ref, enum mn_use_kind kind,
		 const char *what, struct frame_view *v)
{
	bool resolved = phys_resolve(p, ref.pfn, v);

	if (likely(resolved && view_live(v, ref.gen)))
		return 0;
	report_uaf(p, ref, kind, what, v, resolved);
	return -ESTALE;
}

static void report_refcount(struct mn_phys *p, struct mn_frame_ref ref, const char *invariant,
			    const char *what, const char *detail)
{
	struct mn_violation r = {
		.kind = MN_VIOL_REFCOUNT,
		.invariant = invariant,
		.what = what,
		.pfn = ref.pfn,
		.ref_gen = ref.gen,
		.frame_gen = ref.gen,
	};

	snprintf(r.detail, sizeof(r.detail), "%s", detail);
	mn_trace_report(p->trace, &r);
}

bool mn_phys_ref_valid(const struct mn_phys *p, struct mn_frame_ref ref)
{
	struct frame_view v;

	return phys_resolve(p, ref.pfn, &v) && view_live(&v, ref.gen);
}

int mn_phys_use(struct mn_phys *p, struct mn_frame_ref ref, enum mn_use_kind kind, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, kind, what, &v);

	if (ret)
		return ret;
	if (kind == MN_USE_DIRECT_MAP && !(v.head->flags & MN_FRAME_DIRECT_MAP)) {
		struct mn_violation r = {
			.kind = MN_VIOL_DIRECT_MAP,
			.invariant = "frame.direct_map_access",
			.what = what,
			.pfn = ref.pfn,
			.ref_gen = ref.gen,
			.frame_gen = ref.gen,
		};

		snprintf(r.detail, sizeof(r.detail), "%s folio is not in the direct map",
			 mn_phys_owner_name((enum mn_frame_owner)v.head->owner));
		mn_trace_report(p->trace, &r);
		return -EACCES;
	}
	return 0;
}

int mn_phys_get(struct mn_phys *p, struct mn_frame_ref ref, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_MAP, what, &v);

	if (ret)
		return ret;
	v.head->refcount++;
	return 0;
}

int mn_phys_put(struct mn_phys *p, struct mn_frame_ref ref, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_WRITE, what, &v);

	if (ret)
		return ret;
	if (--v.head->refcount)
		return 0;
	if (v.head->mapcount)
		report_refcount(p, ref, "frame.freed_while_mapped", what,
				"last reference dropped while the folio is still mapped");
	phys_free_folio(p, &v, what);
	return 1;
}

int mn_phys_map(struct mn_phys *p, struct mn_frame_ref ref, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_MAP, what, &v);

	if (ret)
		return ret;
	v.head->mapcount++;
	return 0;
}

int mn_phys_unmap(struct mn_phys *p, struct mn_frame_ref ref, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_MAP, what, &v);

	if (ret)
		return ret;
	if (v.head->mapcount <= 0) {
		report_refcount(p, ref, "frame.mapcount_underflow", what,
				"unmap of a folio that has no mapping");
		return -EUCLEAN;
	}
	v.head->mapcount--;
	return 0;
}

int mn_phys_update_flags(struct mn_phys *p, struct mn_frame_ref ref, unsigned int set,
			 unsigned int clear, const char *what)
{
	struct frame_view v;
	unsigned int old;
	int ret;

	if ((set | clear) & ~MN_FRAME_FLAGS_ALL)
		return -EINVAL;
	ret = check(p, ref, MN_USE_WRITE, what, &v);
	if (ret)
		return ret;
	old = v.head->flags;
	v.head->flags = (uint8_t)((old | set) & ~clear);
	if (set & ~clear & MN_FRAME_KMAP_TLB)
		v.head->kmap_actor = (uint16_t)mn_trace_get_actor(p->trace);
	return (int)old;
}

int mn_phys_kmap_temp(struct mn_phys *p, struct mn_frame_ref ref, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_MAP, what, &v);

	if (ret)
		return ret;
	/* The entry is live from the fill on; tearing the mapping down does not drop it. */
	v.head->flags |= MN_FRAME_KMAP_TLB;
	v.head->kmap_actor = (uint16_t)mn_trace_get_actor(p->trace);
	mn_trace(p->trace, "phys.kmap_temp", MN_KV_X("pfn", ref.pfn), MN_KV_S("what", what));
	return 0;
}

int mn_phys_kmap_flush(struct mn_phys *p, struct mn_frame_ref ref, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_MAP, what, &v);

	if (ret)
		return ret;
	v.head->flags &= (uint8_t)~MN_FRAME_KMAP_TLB;
	v.head->kmap_actor = 0;
	mn_trace(p->trace, "phys.kmap_flush", MN_KV_X("pfn", ref.pfn), MN_KV_S("what", what));
	return 0;
}

int mn_phys_read(struct mn_phys *p, struct mn_frame_ref ref, uint64_t *val, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_READ, what, &v);

	/* A stale reader still sees whatever the frame holds now. */
	if (ret && !phys_resolve(p, ref.pfn, &v)) {
		*val = 0;
		return ret;
	}
	*val = view_data(&v);
	return ret;
}

int mn_phys_write(struct mn_phys *p, struct mn_frame_ref ref, uint64_t val, const char *what)
{
	struct frame_view v;
	int ret = check(p, ref, MN_USE_WRITE, what, &v);

	if (ret)
		return ret;
	if (!v.f) {
		ret = phys_materialize(p, ref.pfn >> CHUNK_SHIFT);
		if (ret)
			return ret;
		phys_resolve(p, ref.pfn, &v);
	}
	v.f->data = val;
	return 0;
}
