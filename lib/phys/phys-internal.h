/* SPDX-License-Identifier: MIT */
/*
 * phys-internal.h - the frame table shared by phys.c (allocation, freeing, splitting) and
 * oracle.c (every checked use of a frame reference).
 */
#ifndef MN_PHYS_INTERNAL_H
#define MN_PHYS_INTERNAL_H

#include "mnsim-internal.h"

#define CHUNK_SHIFT  9U
#define CHUNK_FRAMES (1U << CHUNK_SHIFT)

/*
 * One frame: struct page's role. Folio-wide state (gen, refcount, mapcount, owner, flags,
 * order, alloc/free history) is meaningful in the head only; a tail records how far its
 * head is. The data word is per frame.
 */
struct frame {
	uint64_t gen;
	uint64_t data;
	uint64_t alloc_event;
	uint64_t free_event;
	uint32_t refcount;
	int32_t mapcount;
	uint32_t head_delta; /* tails: pfn - head pfn */
	uint16_t alloc_actor;
	uint16_t free_actor;
	uint16_t kmap_actor; /* heads: who set MN_FRAME_KMAP_TLB last (fills padding) */
	uint8_t state;	     /* enum mn_frame_state */
	uint8_t order;
	uint8_t owner;
	uint8_t flags;
	bool tail_poison; /* heads: tails never materialised hold the poison word, not 0 */
};

/* The frame table's cost per frame: the kmap cause actor must not grow it. */
_Static_assert(sizeof(struct frame) <= 56, "struct frame grew");

struct chunk {
	struct frame f[CHUNK_FRAMES];
};

/*
 * Directory entry of a chunk (512 frames, pfn >> CHUNK_SHIFT): 0 when nothing in it was
 * ever handed out; a struct chunk pointer when materialised; or (head chunk << 1) | 1 for
 * a chunk made only of tails of a folio larger than a chunk, not materialised.
 */
typedef uintptr_t dir_entry_t;

static inline bool dir_is_tag(dir_entry_t e)
{
	return e & 1;
}

static inline dir_entry_t dir_tag(uint64_t head_chunk)
{
	return (dir_entry_t)(head_chunk << 1) | 1;
}

static inline uint64_t dir_tag_head(dir_entry_t e)
{
	return e >> 1;
}

struct pfn_stack {
	mn_pfn_t *v;
	size_t n;
	size_t cap;
};

struct mn_phys {
	struct mn_alloc *alloc;
	struct mn_trace *trace;
	dir_entry_t *dir; /* chunk ci at dir[ci - dir_base] */
	size_t dir_cap;
	uint64_t dir_base;
	mn_pfn_t base_pfn;
	mn_pfn_t next_pfn; /* bump pointer: nothing at or above was ever handed out */
	uint64_t max_frames;
	uint64_t gen; /* last generation stamped */
	/*
	 * Freed folios by order, reused most recently freed first. Invariant:
	 * free[o].cap >= free[o].n + live[o], so that freeing never allocates.
	 */
	struct pfn_stack free[MN_PHYS_MAX_ORDER + 1];
	/* Never-used blocks left behind when the bump pointer aligns up; used after free[]. */
	struct pfn_stack gap[MN_PHYS_MAX_ORDER + 1];
	uint64_t live[MN_PHYS_MAX_ORDER + 1];
	struct mn_phys_stats st;
};

/* A frame resolved to its folio head. @f is NULL inside a non-materialised tail chunk. */
struct frame_view {
	struct frame *f;
	struct frame *head;
	mn_pfn_t head_pfn;
};

bool phys_resolve(const struct mn_phys *p, mn_pfn_t pfn, struct frame_view *v);

/* The data word frame @v holds, materialised or not. */
static inline uint64_t view_data(const struct frame_view *v)
{
	if (v->f)
		return v->f->data;
	return v->head->tail_poison ? MN_PHYS_POISON : 0;
}

static inline bool view_live(const struct frame_view *v, uint64_t gen)
{
	return v->head->state == MN_FRAME_HEAD && v->head->gen == gen;
}

int phys_materialize(struct mn_phys *p, uint64_t ci);
void phys_free_folio(struct mn_phys *p, struct frame_view *v, const char *what);

#endif /* MN_PHYS_INTERNAL_H */
