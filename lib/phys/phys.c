// SPDX-License-Identifier: MIT
/*
 * phys.c - simulated physical memory: a lazily grown frame table, folio allocation from
 * per-order free lists and a bump pointer, freeing with fresh generations, and folio split.
 * Models the bookkeeping of mm/page_alloc.c (prep_compound_page, free_pages) and
 * mm/huge_memory.c (__split_folio_to_order), not their algorithms: there is no buddy merging.
 */
#include "phys/phys-internal.h"

#include <inttypes.h>
#include <stdio.h>

/* The directory slot of chunk @ci, or NULL outside the directory. */
static dir_entry_t *dir_slot(const struct mn_phys *p, uint64_t ci)
{
	if (ci < p->dir_base || ci - p->dir_base >= p->dir_cap)
		return NULL;
	return &p->dir[ci - p->dir_base];
}

static struct chunk *dir_chunk(const struct mn_phys *p, uint64_t ci)
{
	dir_entry_t *e = dir_slot(p, ci);

	return e && *e && !dir_is_tag(*e) ? (struct chunk *)*e : NULL;
}

bool phys_resolve(const struct mn_phys *p, mn_pfn_t pfn, struct frame_view *v)
{
	dir_entry_t *slot = dir_slot(p, pfn >> CHUNK_SHIFT);
	struct frame *f;
	dir_entry_t e;

	if (!slot || !(e = *slot))
		return false;
	if (dir_is_tag(e)) {
		v->f = NULL;
		v->head_pfn = dir_tag_head(e) << CHUNK_SHIFT;
		v->head = &dir_chunk(p, dir_tag_head(e))->f[0];
		return true;
	}
	f = &((struct chunk *)e)->f[pfn & (CHUNK_FRAMES - 1)];
	v->f = f;
	if (f->state == MN_FRAME_TAIL) {
		v->head_pfn = pfn - f->head_delta;
		v->head = &dir_chunk(p, v->head_pfn >> CHUNK_SHIFT)
				   ->f[v->head_pfn & (CHUNK_FRAMES - 1)];
	} else {
		v->head_pfn = pfn;
		v->head = f;
	}
	return true;
}

int mn_phys_create(struct mn_alloc *a, struct mn_trace *t, const struct mn_phys_config *cfg,
		   struct mn_phys **out)
{
	struct mn_phys *p;

	if (cfg && cfg->base_pfn >= MN_PHYS_MAX_PFN)
		return -EINVAL;
	p = mn_zalloc(a, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->alloc = a;
	p->trace = t;
	if (cfg) {
		p->base_pfn = cfg->base_pfn;
		p->max_frames = cfg->max_frames;
	}
	p->next_pfn = p->base_pfn;
	/* The directory starts at the base: metadata follows what is used, not the pfn. */
	p->dir_base = p->base_pfn >> CHUNK_SHIFT;
	*out = p;
	return 0;
}

void mn_phys_destroy(struct mn_phys *p)
{
	unsigned int o;
	size_t ci;

	if (!p)
		return;
	for (ci = 0; ci < p->dir_cap; ci++)
		if (p->dir[ci] && !dir_is_tag(p->dir[ci]))
			mn_free(p->alloc, (void *)p->dir[ci]);
	mn_free(p->alloc, p->dir);
	for (o = 0; o <= MN_PHYS_MAX_ORDER; o++) {
		mn_free(p->alloc, p->free[o].v);
		mn_free(p->alloc, p->gap[o].v);
	}
	mn_free(p->alloc, p);
}

static int dir_reserve(struct mn_phys *p, uint64_t last_ci)
{
	size_t cap = p->dir_cap, old = p->dir_cap;

	if (last_ci - p->dir_base < p->dir_cap)
		return 0;
	if (mn_array_grow(p->alloc, (void **)&p->dir, &cap, last_ci - p->dir_base + 1,
			  sizeof(*p->dir)))
		return -ENOMEM;
	memset(p->dir + old, 0, (cap - old) * sizeof(*p->dir));
	p->dir_cap = cap;
	return 0;
}

/*
 * Give chunk @ci its frames. A tagged chunk becomes tails of its folio, an empty one free
 * frames that were never allocated. The caller has reserved the directory.
 */
int phys_materialize(struct mn_phys *p, uint64_t ci)
{
	dir_entry_t *slot = dir_slot(p, ci), e = *slot;
	struct chunk *c;
	unsigned int i;

	if (e && !dir_is_tag(e))
		return 0;
	c = mn_zalloc(p->alloc, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (dir_is_tag(e)) {
		uint64_t delta = (ci - dir_tag_head(e)) << CHUNK_SHIFT;
		uint64_t fill = dir_chunk(p, dir_tag_head(e))->f[0].tail_poison ? MN_PHYS_POISON : 0;

		for (i = 0; i < CHUNK_FRAMES; i++) {
			c->f[i].state = MN_FRAME_TAIL;
			c->f[i].head_delta = (uint32_t)(delta + i);
			c->f[i].data = fill;
		}
	}
	*slot = (dir_entry_t)c;
	p->st.nr_chunks++;
	p->st.metadata_bytes += sizeof(*c);
	return 0;
}

/* Make the frames of materialised chunk @ci in [@pfn, @end) tails of @head_pfn. */
static void set_tails(struct mn_phys *p, uint64_t ci, mn_pfn_t pfn, mn_pfn_t end, mn_pfn_t head_pfn)
{
	struct chunk *c = dir_chunk(p, ci);

	for (; pfn < end; pfn++) {
		struct frame *f = &c->f[pfn & (CHUNK_FRAMES - 1)];

		f->state = MN_FRAME_TAIL;
		f->head_delta = (uint32_t)(pfn - head_pfn);
	}
}

/*
 * Lay out the folio [@head, @head + 2^@order) as a head and tails, leaving the head's
 * folio fields to the caller. The chunk of @head is materialised; chunks wholly made of
 * tails stay tagged unless they already exist.
 */
static void layout_folio(struct mn_phys *p, mn_pfn_t head, unsigned int order)
{
	mn_pfn_t end = head + (1ULL << order);
	uint64_t ci, head_ci = head >> CHUNK_SHIFT;

	dir_chunk(p, head_ci)->f[head & (CHUNK_FRAMES - 1)].state = MN_FRAME_HEAD;
	set_tails(p, head_ci, head + 1, MN_MIN(end, (head_ci + 1) << CHUNK_SHIFT), head);
	for (ci = head_ci + 1; ci < end >> CHUNK_SHIFT; ci++) {
		if (dir_chunk(p, ci))
			set_tails(p, ci, ci << CHUNK_SHIFT, (ci + 1) << CHUNK_SHIFT, head);
		else
			*dir_slot(p, ci) = dir_tag(head_ci);
	}
}

static void for_each_materialized(struct mn_phys *p, mn_pfn_t pfn, mn_pfn_t end,
				  void (*fn)(struct frame *f, uint64_t arg), uint64_t arg)
{
	while (pfn < end) {
		uint64_t ci = pfn >> CHUNK_SHIFT;
		mn_pfn_t stop = MN_MIN(end, (ci + 1) << CHUNK_SHIFT);
		struct chunk *c = dir_chunk(p, ci);

		if (c)
			for (; pfn < stop; pfn++)
				fn(&c->f[pfn & (CHUNK_FRAMES - 1)], arg);
		pfn = stop;
	}
}

static void set_data(struct frame *f, uint64_t val)
{
	f->data = val;
}

/* Orders of the aligned blocks that tile the gap [@pfn, @end), largest first at each step. */
static unsigned int gap_block_order(mn_pfn_t pfn, mn_pfn_t end, unsigned int below)
{
	unsigned int o = below;

	while (o > 0 && (!mn_is_aligned(pfn, 1ULL << o) || pfn + (1ULL << o) > end))
		o--;
	return o;
}

/* Reserve free-list room for the blocks that tile [@pfn, @end), then (when @push) add them. */
static int gap_blocks(struct mn_phys *p, mn_pfn_t pfn, mn_pfn_t end, unsigned int below, bool push)
{
	size_t want[MN_PHYS_MAX_ORDER + 1] = { 0 };
	unsigned int o;

	while (pfn < end) {
		o = gap_block_order(pfn, end, below);
		if (push)
			p->gap[o].v[p->gap[o].n++] = pfn;
		else
			want[o]++;
		pfn += 1ULL << o;
	}
	if (push)
		return 0;
	for (o = 0; o <= MN_PHYS_MAX_ORDER; o++) {
		struct pfn_stack *s = &p->gap[o];

		if (want[o] && mn_array_grow(p->alloc, (void **)&s->v, &s->cap, s->n + want[o],
					     sizeof(*s->v)))
			return -ENOMEM;
	}
	return 0;
}

/* Where a new folio comes from: a freed folio, a gap block, or the bump pointer. */
enum source {
	FROM_FREE,
	FROM_GAP,
	FROM_BUMP,
};

/* Pick the head pfn of a new folio and do every fallible step; nothing visible changes. */
static int reserve_folio(struct mn_phys *p, unsigned int order, mn_pfn_t *head, enum source *src)
{
	struct pfn_stack *s = &p->free[order];
	uint64_t n = 1ULL << order;
	mn_pfn_t pfn;
	int ret;

	if (s->n) {
		*src = FROM_FREE;
		pfn = s->v[s->n - 1];
	} else if (p->gap[order].n) {
		*src = FROM_GAP;
		pfn = p->gap[order].v[p->gap[order].n - 1];
	} else {
		*src = FROM_BUMP;
		pfn = mn_align_up(p->next_pfn, n);
		if (pfn < p->next_pfn || pfn + n > MN_PHYS_MAX_PFN)
			return -ENOMEM;
	}
	ret = dir_reserve(p, (pfn + n - 1) >> CHUNK_SHIFT);
	if (!ret)
		ret = mn_array_grow(p->alloc, (void **)&s->v, &s->cap, s->n + p->live[order] + 1,
				    sizeof(*s->v));
	if (!ret && *src == FROM_BUMP)
		ret = gap_blocks(p, p->next_pfn, pfn, order, false);
	if (!ret)
		ret = phys_materialize(p, pfn >> CHUNK_SHIFT);
	*head = pfn;
	return ret;
}

int mn_phys_alloc(struct mn_phys *p, unsigned int order, enum mn_frame_owner owner,
		  unsigned int flags, struct mn_frame_ref *out)
{
	uint64_t n = 1ULL << (order <= MN_PHYS_MAX_ORDER ? order : 0);
	struct frame *h;
	mn_pfn_t head;
	enum source src;
	int ret;

	if (order > MN_PHYS_MAX_ORDER || owner <= MN_OWNER_NONE || owner >= MN_OWNER_NR ||
	    (flags & ~MN_PHYS_ZERO))
		return -EINVAL;
	if (p->max_frames && p->st.nr_frames + n > p->max_frames)
		return -ENOMEM;
	ret = reserve_folio(p, order, &head, &src);
	if (ret)
		return ret;

	if (src == FROM_BUMP) {
		gap_blocks(p, p->next_pfn, head, order, true);
		p->next_pfn = head + n;
	} else if (src == FROM_GAP) {
		p->gap[order].n--;
	} else {
		p->free[order].n--;
	}
	layout_folio(p, head, order);
	h = &dir_chunk(p, head >> CHUNK_SHIFT)->f[head & (CHUNK_FRAMES - 1)];
	h->gen = ++p->gen;
	h->order = (uint8_t)order;
	h->refcount = 1;
	h->mapcount = 0;
	h->owner = (uint8_t)owner;
	h->flags = MN_FRAME_DIRECT_MAP;
	h->kmap_actor = 0;
	h->alloc_actor = (uint16_t)mn_trace_get_actor(p->trace);
	h->alloc_event = 0;
	if (flags & MN_PHYS_ZERO) {
		for_each_materialized(p, head, head + n, set_data, 0);
		h->tail_poison = false;
	}
	p->live[order]++;
	p->st.nr_frames += n;
	p->st.nr_folios++;
	p->st.nr_allocs++;
	p->st.next_pfn = p->next_pfn;
	if (mn_trace_is_on(p->trace)) {
		const struct mn_kv kv[] = {
			MN_KV_X("pfn", head),
			MN_KV_U("order", order),
			MN_KV_S("owner", mn_phys_owner_name(owner)),
			MN_KV_U("gen", h->gen),
		};

		h->alloc_event = mn_trace_emit(p->trace, "phys.alloc", kv, ARRAY_SIZE(kv));
	}
	out->pfn = head;
	out->gen = h->gen;
	return 0;
}

/* A folio about to be freed that the page allocator must not take back as it is. */
static void report_kernel_mapping_at_free(struct mn_phys *p, const struct frame_view *v,
					  const char *invariant, uint32_t cause_actor,
					  const char *what, const char *why)
{
	const struct frame *h = v->head;
	struct mn_violation r = {
		.kind = MN_VIOL_DIRECT_MAP,
		.invariant = invariant,
		.what = what,
		.pfn = v->head_pfn,
		.ref_gen = h->gen,
		.frame_gen = h->gen,
		.cause_actor = cause_actor,
	};

	snprintf(r.detail, sizeof(r.detail), "%s folio at pfn 0x%" PRIx64 " (order %u) freed %s",
		 mn_phys_owner_name((enum mn_frame_owner)h->owner), v->head_pfn, h->order, why);
	mn_trace_report(p->trace, &r);
}

void phys_free_folio(struct mn_phys *p, struct frame_view *v, const char *what)
{
	struct frame *h = v->head;
	unsigned int order = h->order;
	uint64_t n = 1ULL << order;

	if (h->flags & MN_FRAME_KMAP_TLB)
		report_kernel_mapping_at_free(
			p, v, "frame.kmap_tlb_stale_at_free", h->kmap_actor, what,
			"while a temporary kernel mapping's TLB entry may still translate to it");
	if (!(h->flags & MN_FRAME_DIRECT_MAP))
		report_kernel_mapping_at_free(p, v, "frame.freed_without_direct_map", 0, what,
					      "while absent from the kernel direct map");

	h->state = MN_FRAME_FREE;
	h->gen = ++p->gen;
	h->refcount = 0;
	h->mapcount = 0;
	h->flags = 0;
	h->kmap_actor = 0;
	h->free_actor = (uint16_t)mn_trace_get_actor(p->trace);
	h->free_event = 0;
	for_each_materialized(p, v->head_pfn, v->head_pfn + n, set_data, MN_PHYS_POISON);
	h->tail_poison = true;
	/* Room was reserved when the folio was allocated or split off. */
	p->free[order].v[p->free[order].n++] = v->head_pfn;
	p->live[order]--;
	p->st.nr_frames -= n;
	p->st.nr_folios--;
	p->st.nr_frees++;
	if (mn_trace_is_on(p->trace)) {
		const struct mn_kv kv[] = {
			MN_KV_X("pfn", v->head_pfn),
			MN_KV_U("order", order),
			MN_KV_U("gen", h->gen),
		};

		h->free_event = mn_trace_emit(p->trace, "phys.free", kv, ARRAY_SIZE(kv));
	}
}

int mn_phys_split(struct mn_phys *p, struct mn_frame_ref ref, unsigned int new_order)
{
	struct frame_view v;
	struct frame old, *h;
	struct pfn_stack *s;
	uint64_t ci, pieces, first_ci, end_ci;
	mn_pfn_t pfn, end, piece;
	int ret;

	ret = mn_phys_use(p, ref, MN_USE_WRITE, "phys.split");
	if (ret)
		return ret;
	phys_resolve(p, ref.pfn, &v);
	old = *v.head;
	if (new_order >= old.order)
		return -EINVAL;
	if (old.refcount != 1 || old.mapcount != 0)
		return -EAGAIN;

	pieces = 1ULL << (old.order - new_order);
	end = v.head_pfn + (1ULL << old.order);
	first_ci = v.head_pfn >> CHUNK_SHIFT;
	end_ci = (end - 1) >> CHUNK_SHIFT;
	s = &p->free[new_order];
	if (mn_array_grow(p->alloc, (void **)&s->v, &s->cap, s->n + p->live[new_order] + pieces,
			  sizeof(*s->v)))
		return -ENOMEM;
	/* Every chunk that will hold a piece's head (or, below a chunk, any frame) needs frames. */
	for (ci = first_ci; ci <= end_ci; ci++) {
		if (new_order >= CHUNK_SHIFT &&
		    !mn_is_aligned(ci << CHUNK_SHIFT, 1ULL << new_order))
			continue;
		ret = phys_materialize(p, ci);
		if (ret)
			return ret;
	}

	for (piece = v.head_pfn; piece < end; piece += 1ULL << new_order) {
		layout_folio(p, piece, new_order);
		h = &dir_chunk(p, piece >> CHUNK_SHIFT)->f[piece & (CHUNK_FRAMES - 1)];
		h->gen = old.gen;
		h->order = (uint8_t)new_order;
		h->refcount = 1;
		h->mapcount = 0;
		h->owner = old.owner;
		h->flags = old.flags;
		h->kmap_actor = old.kmap_actor;
		h->alloc_actor = old.alloc_actor;
		h->alloc_event = old.alloc_event;
		h->free_actor = old.free_actor;
		h->free_event = old.free_event;
		h->tail_poison = old.tail_poison;
	}
	p->live[old.order]--;
	p->live[new_order] += pieces;
	p->st.nr_folios += pieces - 1;
	pfn = v.head_pfn;
	mn_trace(p->trace, "phys.split", MN_KV_X("pfn", pfn), MN_KV_U("order", old.order),
		 MN_KV_U("new_order", new_order));
	return 0;
}

int mn_phys_frame_info(const struct mn_phys *p, mn_pfn_t pfn, struct mn_frame_info *out)
{
	struct frame_view v;
	const struct frame *h;

	if (!phys_resolve(p, pfn, &v))
		return -ENOENT;
	h = v.head;
	if (h->state == MN_FRAME_FREE && h->gen == 0)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	if (h->state == MN_FRAME_FREE) {
		/* A freed folio's frames all read as free. */
		out->state = MN_FRAME_FREE;
		out->head = pfn;
	} else {
		out->state = v.head_pfn == pfn ? MN_FRAME_HEAD : MN_FRAME_TAIL;
		out->head = v.head_pfn;
		out->refcount = h->refcount;
		out->mapcount = h->mapcount;
		out->owner = (enum mn_frame_owner)h->owner;
		out->flags = h->flags;
	}
	out->order = h->order;
	out->gen = h->gen;
	out->data = view_data(&v);
	out->alloc_actor = h->alloc_actor;
	out->alloc_event = h->alloc_event;
	out->free_actor = h->free_actor;
	out->free_event = h->free_event;
	return 0;
}

void mn_phys_get_stats(const struct mn_phys *p, struct mn_phys_stats *st)
{
	*st = p->st;
	st->metadata_bytes += p->dir_cap * sizeof(*p->dir);
	st->next_pfn = p->next_pfn;
}

const char *mn_phys_owner_name(enum mn_frame_owner owner)
{
	static const char *const names[MN_OWNER_NR] = {
		[MN_OWNER_NONE] = "none",	[MN_OWNER_ANON] = "anon",
		[MN_OWNER_FILE] = "file",	[MN_OWNER_GMEM] = "guest_memfd",
		[MN_OWNER_PGTABLE] = "pgtable",
	};

	return (unsigned int)owner < MN_OWNER_NR ? names[owner] : "?";
}

/* A free-list or gap entry must name a block no live folio covers. */
static bool block_is_free(const struct mn_phys *p, mn_pfn_t pfn, unsigned int order)
{
	struct frame_view v;
	mn_pfn_t i, n = 1ULL << order;

	for (i = 0; i < n; i += CHUNK_FRAMES) {
		if (phys_resolve(p, pfn + i, &v) && v.head->state != MN_FRAME_FREE)
			return false;
		if (n < CHUNK_FRAMES) /* small blocks: check every frame */
			for (mn_pfn_t j = 1; j < n; j++)
				if (phys_resolve(p, pfn + j, &v) && v.head->state != MN_FRAME_FREE)
					return false;
	}
	return true;
}

int mn_phys_check_invariants(const struct mn_phys *p)
{
	uint64_t heads[MN_PHYS_MAX_ORDER + 1] = { 0 }, frames = 0, folios = 0;
	unsigned int o;
	size_t i, k;

	for (o = 0; o <= MN_PHYS_MAX_ORDER; o++) {
		if (p->free[o].cap < p->free[o].n + p->live[o])
			return -EUCLEAN;
		for (k = 0; k < p->free[o].n; k++)
			if (!block_is_free(p, p->free[o].v[k], o))
				return -EUCLEAN;
		for (k = 0; k < p->gap[o].n; k++)
			if (!block_is_free(p, p->gap[o].v[k], o))
				return -EUCLEAN;
	}
	for (i = 0; i < p->dir_cap; i++) {
		uint64_t ci = p->dir_base + i;
		const struct chunk *c;

		if (!p->dir[i])
			continue;
		if (dir_is_tag(p->dir[i])) {
			/* Tails of a folio larger than a chunk, headed at a chunk start. */
			const struct chunk *hc = dir_chunk(p, dir_tag_head(p->dir[i]));

			if (!hc || dir_tag_head(p->dir[i]) >= ci)
				return -EUCLEAN;
			if (hc->f[0].state == MN_FRAME_HEAD &&
			    ((ci - dir_tag_head(p->dir[i])) << CHUNK_SHIFT) >= 1ULL << hc->f[0].order)
				return -EUCLEAN;
			continue;
		}
		c = (const struct chunk *)p->dir[i];
		for (k = 0; k < CHUNK_FRAMES; k++) {
			const struct frame *f = &c->f[k];
			mn_pfn_t pfn = (ci << CHUNK_SHIFT) + k;
			struct frame_view v;

			if (f->state == MN_FRAME_HEAD) {
				if (f->order > MN_PHYS_MAX_ORDER || f->refcount == 0 ||
				    f->mapcount < 0 || !mn_is_aligned(pfn, 1ULL << f->order))
					return -EUCLEAN;
				heads[f->order]++;
				frames += 1ULL << f->order;
				folios++;
			} else if (f->state == MN_FRAME_TAIL) {
				if (!phys_resolve(p, pfn, &v) || v.head_pfn >= pfn ||
				    (v.head->state == MN_FRAME_HEAD &&
				     pfn - v.head_pfn >= 1ULL << v.head->order))
					return -EUCLEAN;
			}
		}
	}
	for (o = 0; o <= MN_PHYS_MAX_ORDER; o++)
		if (heads[o] != p->live[o])
			return -EUCLEAN;
	if (frames != p->st.nr_frames || folios != p->st.nr_folios)
		return -EUCLEAN;
	return 0;
}
