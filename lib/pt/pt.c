// SPDX-License-Identifier: MIT
/*
 * pt.c - the radix page-table engine: tables are frames holding raw entries of one format;
 * map with table allocation and huge-leaf split, zap with yield/restart and table freeing,
 * age, write-protect, a generic per-entry update, split and collapse. Models the walks of
 * arch/x86/kvm/mmu/tdp_mmu.c (tdp_mmu_zap_leafs, wrprot_gfn_range, age_gfn_range, split/recover
 * huge pages) and arch/arm64/kvm/hyp/pgtable.c (stage2 map/unmap/wrprotect/mkold,
 * break-before-make).
 */
#include "mnsim-internal.h"

#include <inttypes.h>
#include <stdio.h>

#include <mnsim/pt.h>

#define ENTRIES 512U

struct pt_table {
	struct mn_frame_ref frame;
	unsigned int level;
	unsigned int nr;      /* entries: 512, or more for a concatenated stage-2 root */
	unsigned int present; /* entries that are not the format's non-present value */
	uint64_t *e;
	struct pt_table **child; /* the table an entry points at, NULL otherwise */
	uint64_t *gen;		 /* leaves: generation of the mapped folio, 0 if not known */
	uint64_t *map;		 /* present bitmap, nr bits */
};

/*
 * A one-entry cache for the leaf-table loops of aging and write-protection: what decoding an
 * entry, changing it and encoding it again give, keyed by the raw bits outside the output
 * address. The leaves of one table mostly differ only in their address, and neither
 * operation reads or changes it, so one decode and one encode stand for a whole run of
 * leaves; the result is exactly the entry-by-entry one, since for an entry the engine wrote
 * (aligned, inside the output address size) decode and encode never depend on the address.
 * Each &struct mn_pt keeps the memo of its last 4 KiB leaf-table walk, as the memo depends on
 * nothing the tables hold: a dirty-log harvest walks the same kind of leaves word after word.
 */
struct mn_pt;

typedef unsigned int (*memo_calc_fn)(const struct mn_pt *pt, uint64_t raw, unsigned int level,
				     const void *arg, uint64_t *out);

struct raw_memo {
	memo_calc_fn calc; /* the operation, NULL when the memo is empty */
	unsigned int argv; /* and its argument (aging's clear, write-protection's mode) */
	uint64_t key;	   /* the entry's raw bits outside pfn_mask */
	uint64_t out;	   /* the new entry's raw bits outside pfn_mask */
	unsigned int how;  /* what the operation did: MEMO_* */
};

struct mn_pt {
	struct mn_pt_format fmt;
	struct mn_alloc *alloc;
	struct mn_phys *phys;
	struct pt_table *root;
	struct mn_pt_stats st;
	struct raw_memo memo; /* of the last 4 KiB leaf-table walk of aging or write-protection */
};

static unsigned int span_shift(unsigned int level)
{
	return MN_LEVEL_BITS * (level - 1);
}

static uint64_t span(unsigned int level)
{
	return 1ULL << span_shift(level);
}

/* Gfns the whole table covers. */
static uint64_t ia_limit(const struct mn_pt *pt)
{
	return 1ULL << (pt->fmt.ia_bits - MN_PAGE_SHIFT);
}

static unsigned int index_of(const struct pt_table *t, mn_gfn_t gfn)
{
	return (unsigned int)((gfn >> span_shift(t->level)) & (t->nr - 1));
}

/* ---- tables ------------------------------------------------------------------------ */

static struct pt_table *table_alloc(struct mn_pt *pt, unsigned int level, unsigned int nr)
{
	size_t words = (nr + 63) / 64;
	bool leaves = level <= pt->fmt.max_leaf_level;
	struct pt_table *t;
	unsigned int i, order = 0;

	while ((ENTRIES << order) < nr)
		order++;
	t = mn_zalloc(pt->alloc, sizeof(*t) + nr * sizeof(uint64_t) +
					 (level > 1 ? nr * sizeof(struct pt_table *) : 0) +
					 (leaves ? nr * sizeof(uint64_t) : 0) +
					 words * sizeof(uint64_t));
	if (!t)
		return NULL;
	if (mn_phys_alloc(pt->phys, order, MN_OWNER_PGTABLE, MN_PHYS_ZERO, &t->frame)) {
		mn_free(pt->alloc, t);
		return NULL;
	}
	t->level = level;
	t->nr = nr;
	t->e = (uint64_t *)(t + 1);
	t->child = level > 1 ? (struct pt_table **)(t->e + nr) : NULL;
	t->gen = leaves ? (uint64_t *)(t->child ? (void *)(t->child + nr) : (void *)(t->e + nr))
			: NULL;
	t->map = t->gen ? t->gen + nr : (uint64_t *)(t->child + nr);
	for (i = 0; i < nr; i++)
		t->e[i] = pt->fmt.nonpresent;
	pt->st.tables_allocated++;
	pt->st.tables++;
	return t;
}

static void table_free(struct mn_pt *pt, struct pt_table *t)
{
	mn_phys_put(pt->phys, t->frame, "pt.free_table");
	mn_free(pt->alloc, t);
	pt->st.tables_freed++;
	pt->st.tables--;
}

/* Free @t and every table below it; returns how many tables that was. */
static unsigned int table_free_all(struct mn_pt *pt, struct pt_table *t)
{
	unsigned int i, n = 1;

	if (t->child)
		for (i = 0; i < t->nr; i++)
			if (t->child[i])
				n += table_free_all(pt, t->child[i]);
	table_free(pt, t);
	return n;
}

/* The present entries of @t and the tables below it that are not tables themselves. */
static uint64_t subtree_leaves(const struct pt_table *t)
{
	uint64_t n = t->present;
	unsigned int i;

	if (t->child)
		for (i = 0; i < t->nr; i++)
			if (t->child[i])
				n += subtree_leaves(t->child[i]) - 1;
	return n;
}

/*
 * Not the format's empty value. That includes the host's PROTNONE and migration entries,
 * which the hardware ignores but the engine keeps, counts and walks like leaves.
 */
static bool is_present(const struct mn_pt *pt, uint64_t raw)
{
	return raw != pt->fmt.nonpresent;
}

/* A host PROTNONE or migration entry: no translation, but software reads it. */
static bool is_soft_entry(enum mn_pte_kind kind)
{
	return kind == MN_PTE_PROTNONE || kind == MN_PTE_MIGRATION;
}

static void set_entry(struct mn_pt *pt, struct pt_table *t, unsigned int i, uint64_t raw,
		      struct mn_pt_result *res)
{
	bool was = is_present(pt, t->e[i]), now = is_present(pt, raw);

	t->e[i] = raw;
	if (was != now) {
		t->map[i / 64] ^= 1ULL << (i % 64);
		t->present += now ? 1 : -1;
	}
	pt->st.entries_written++;
	res->written++;
}

static void note_flush(struct mn_pt_result *res, mn_gfn_t start, mn_gfn_t end)
{
	if (!res->flush_needed) {
		res->flush_range.start = start;
		res->flush_range.end = end;
		res->flush_needed = true;
		return;
	}
	res->flush_range.start = MN_MIN(res->flush_range.start, start);
	res->flush_range.end = MN_MAX(res->flush_range.end, end);
}

/* Present-map word @w of @t, keeping only the bits of entries [@first, @last]. */
static inline uint64_t map_word_in(const struct pt_table *t, unsigned int w, unsigned int first,
				   unsigned int last)
{
	uint64_t bits = t->map[w];

	if (w == first / 64)
		bits &= ~0ULL << (first % 64);
	if (w == last / 64 && last % 64 != 63)
		bits &= (1ULL << (last % 64 + 1)) - 1;
	return bits;
}

/* Next present entry at or after @i and at most @last, or -1. */
static int next_present(const struct pt_table *t, unsigned int i, unsigned int last)
{
	while (i <= last) {
		uint64_t w = t->map[i / 64] >> (i % 64);

		if (w)
			return i + (unsigned int)__builtin_ctzll(w) <= last
				       ? (int)(i + (unsigned int)__builtin_ctzll(w))
				       : -1;
		i = (i / 64 + 1) * 64;
	}
	return -1;
}

static int encode(const struct mn_pt *pt, const struct mn_pte *p, uint64_t *raw)
{
	return pt->fmt.encode(&pt->fmt, p, raw);
}

static int table_entry(const struct mn_pt *pt, unsigned int level, const struct pt_table *child,
		       uint64_t *raw)
{
	struct mn_pte p = { .kind = MN_PTE_TABLE, .level = level, .pfn = child->frame.pfn };

	if (pt->fmt.arch == MN_PT_HOST_X86) {
		/* The host's _PAGE_TABLE: present, writable, user, accessed and dirty. */
		p.perm = MN_PTE_R | MN_PTE_W | MN_PTE_U;
		p.accessed = p.dirty = true;
	} else if (pt->fmt.arch == MN_PT_EPT) {
		/* make_nonleaf_spte(): RWX, and A while A/D tracking is on. */
		p.perm = MN_PTE_R | MN_PTE_W | MN_PTE_X;
		p.accessed = true;
	}
	return encode(pt, &p, raw);
}

/* ---- creation ---------------------------------------------------------------------- */

int mn_pt_create(struct mn_alloc *a, struct mn_phys *phys, const struct mn_pt_format *fmt,
		 struct mn_pt **out)
{
	struct mn_pt *pt;

	if (!fmt || !fmt->encode || !fmt->decode || !fmt->top_level ||
	    fmt->top_level > MN_PG_LEVEL_NUM || !fmt->root_entries ||
	    (fmt->root_entries & (fmt->root_entries - 1)))
		return -EINVAL;
	pt = mn_zalloc(a, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->fmt = *fmt;
	pt->alloc = a;
	pt->phys = phys;
	pt->root = table_alloc(pt, fmt->top_level, fmt->root_entries);
	if (!pt->root) {
		mn_free(a, pt);
		return -ENOMEM;
	}
	*out = pt;
	return 0;
}

void mn_pt_destroy(struct mn_pt *pt)
{
	if (!pt)
		return;
	table_free_all(pt, pt->root);
	mn_free(pt->alloc, pt);
}

const struct mn_pt_format *mn_pt_get_format(const struct mn_pt *pt)
{
	return &pt->fmt;
}

void mn_pt_get_stats(const struct mn_pt *pt, struct mn_pt_stats *st)
{
	*st = pt->st;
}

/* ---- walk -------------------------------------------------------------------------- */

int mn_pt_walk(const struct mn_pt *pt, mn_gfn_t gfn, struct mn_pt_walk *w)
{
	const struct pt_table *t = pt->root;
	struct mn_pte p;

	memset(w, 0, sizeof(*w));
	if (gfn >= ia_limit(pt))
		return -ERANGE;
	for (;;) {
		unsigned int i = index_of(t, gfn);
		uint64_t raw = t->e[i];

		w->raw[w->depth] = raw;
		w->index[w->depth] = i;
		w->table[w->depth] = t->frame.pfn;
		w->depth++;
		if (t->child && t->child[i]) {
			t = t->child[i];
			continue;
		}
		if (!is_present(pt, raw))
			return -ENOENT;
		if (pt->fmt.decode(&pt->fmt, raw, t->level, &p))
			return -EAGAIN; /* never written by the engine: treat as unusable */
		if (p.kind == MN_PTE_FROZEN || p.kind == MN_PTE_LOCKED)
			return -EAGAIN;
		if (p.kind != MN_PTE_LEAF && !is_soft_entry(p.kind))
			return -ENOENT;
		w->leaf = p;
		w->pfn = p.pfn + (gfn & (span(t->level) - 1));
		w->gen = t->gen ? t->gen[i] : 0;
		/* The hardware faults on PROTNONE and migration entries; software sees them. */
		return p.kind == MN_PTE_LEAF ? 0 : -ENOENT;
	}
}

int mn_pt_dump_walk(const struct mn_pt *pt, mn_gfn_t gfn, FILE *f)
{
	struct mn_pt_walk w;
	unsigned int d, level = pt->fmt.top_level;
	char desc[160];
	int ret = mn_pt_walk(pt, gfn, &w);

	fprintf(f, "walk %s gfn 0x%" PRIx64 ":\n", pt->fmt.name, gfn);
	for (d = 0; d < w.depth; d++, level--) {
		struct mn_pte p;

		if (!is_present(pt, w.raw[d]))
			snprintf(desc, sizeof(desc), "none");
		else if (pt->fmt.decode(&pt->fmt, w.raw[d], level, &p))
			snprintf(desc, sizeof(desc), "(undecodable)");
		else
			mn_pte_describe(&pt->fmt, &p, desc, sizeof(desc));
		fprintf(f, "  L%u idx %-4u raw 0x%016" PRIx64 "  %s\n", level, w.index[d], w.raw[d],
			desc);
	}
	if (!ret)
		fprintf(f, "  -> pfn 0x%" PRIx64 "\n", w.pfn);
	else
		fprintf(f, "  -> %s\n", mn_errname(ret));
	return ret;
}

/* ---- split / break-before-make ------------------------------------------------------ */

static void ctx_flush(struct mn_pt *pt, const struct mn_pt_ctx *ctx, enum mn_flush_kind kind,
		      struct mn_gfn_range r, unsigned int level, struct mn_pt_result *res)
{
	ctx->flush(ctx->flush_arg, kind, r, level);
	res->flushes++;
	if (kind == MN_FLUSH_IPA)
		pt->st.flush_ipa++;
	else
		pt->st.flush_range++;
}

/*
 * Replace entry @i of @t (covering @gfn at @t's level) by @raw. On stage-2 a valid entry is
 * first invalidated with the LOCKED marker and flushed, as stage2_try_break_pte() does: by
 * address for a leaf, over the whole span for a table (whose child pointer the caller has
 * already dropped). x86 replaces in place; the caller knows whether translations changed.
 * Without a flush callback the invalidation is left to the caller through @res.
 */
static void replace_entry(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct pt_table *t,
			  unsigned int i, mn_gfn_t gfn, uint64_t raw, bool was_table,
			  struct mn_pt_result *res)
{
	struct mn_gfn_range r = { gfn, gfn + span(t->level) };
	struct mn_trace *tr = ctx && ctx->sim ? mn_sim_get_trace(ctx->sim) : NULL;
	struct mn_pte locked = { .kind = MN_PTE_LOCKED, .level = t->level };
	uint64_t lraw;

	if (pt->fmt.arch != MN_PT_STAGE2 || !is_present(pt, t->e[i]) ||
	    encode(pt, &locked, &lraw)) {
		set_entry(pt, t, i, raw, res);
		return;
	}
	set_entry(pt, t, i, lraw, res);
	if (tr)
		mn_trace(tr, "pt.bbm.invalidate", MN_KV_X("gfn", gfn), MN_KV_U("level", t->level));
	if (ctx && ctx->flush) {
		ctx_flush(pt, ctx, was_table ? MN_FLUSH_RANGE : MN_FLUSH_IPA, r, t->level, res);
		if (tr)
			mn_trace(tr, "pt.bbm.tlbi", MN_KV_X("gfn", gfn),
				 MN_KV_U("level", t->level));
	} else {
		note_flush(res, r.start, r.end); /* nobody to flush now: the caller must */
	}
	set_entry(pt, t, i, raw, res);
	if (tr)
		mn_trace(tr, "pt.bbm.install", MN_KV_X("gfn", gfn), MN_KV_X("raw", raw));
}

/*
 * Split the huge entry @i of @t into a new table of 512 next-level entries of the same kind
 * covering the same frames: a leaf into leaves, and, as __split_huge_pmd_locked() does, a
 * PROTNONE or migration entry into PROTNONE or migration entries.
 */
static int split_leaf(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct pt_table *t,
		      unsigned int i, mn_gfn_t gfn, struct mn_pt_result *res)
{
	struct pt_table *c;
	struct mn_pte p;
	uint64_t raw;
	unsigned int k;

	if (pt->fmt.decode(&pt->fmt, t->e[i], t->level, &p) ||
	    (p.kind != MN_PTE_LEAF && !is_soft_entry(p.kind)))
		return -EAGAIN;
	c = table_alloc(pt, t->level - 1, ENTRIES);
	if (!c)
		return -ENOMEM;
	res->tables_allocated++;
	p.level = t->level - 1;
	for (k = 0; k < ENTRIES; k++) {
		struct mn_pte s = p;

		s.pfn = p.pfn + k * span(c->level);
		if (encode(pt, &s, &raw)) {
			table_free(pt, c);
			return -EINVAL;
		}
		set_entry(pt, c, k, raw, res);
		c->gen[k] = t->gen[i]; /* the same folio, split or not */
	}
	if (table_entry(pt, t->level, c, &raw)) {
		table_free(pt, c);
		return -EINVAL;
	}
	pt->st.leaves += ENTRIES - 1;
	replace_entry(pt, ctx, t, i, gfn, raw, false, res);
	t->child[i] = c;
	return 0;
}

/* ---- map ----------------------------------------------------------------------------- */

int mn_pt_map(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
	      const struct mn_pte *leaf, struct mn_pt_result *res)
{
	return mn_pt_map_frame(pt, ctx, gfn, leaf, 0, res);
}

/*
 * Replace the table linked at entry @i of @t (covering @gfn) by the huge leaf @raw, as a
 * fault that may map a block there does: arm64 stage2_map_walk_table_pre() ->
 * stage2_map_walker_try_leaf(), x86 kvm_tdp_mmu_map() reaching the goal level ->
 * tdp_mmu_map_handle_target_level(). The child is unlinked first, so that a walker during
 * the break finds the LOCKED marker rather than the old table. Stage-2 then breaks the
 * table entry with one invalidation over its whole span (stage2_try_break_pte():
 * kvm_tlb_flush_vmid_range(), or the whole VMID without range TLBIs, the callback's
 * choice) and makes the block; x86 swaps the entry in place and flushes the span
 * afterwards (kvm_flush_remote_tlbs_gfn() for a non-leaf old SPTE). Only then is the
 * unlinked subtree dropped, leaves and table pages (free_unlinked_table(); x86
 * handle_removed_pt(), which frees through call_rcu()), so that no vCPU can still reach a
 * freed table page. Without a flush callback the subtree goes at once and the flush is
 * left to the caller through @res.
 */
static void replace_table(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct pt_table *t,
			  unsigned int i, mn_gfn_t gfn, uint64_t raw, uint64_t gen,
			  struct mn_pt_result *res)
{
	struct mn_gfn_range r = { gfn, gfn + span(t->level) };
	struct mn_trace *tr = ctx && ctx->sim ? mn_sim_get_trace(ctx->sim) : NULL;
	struct pt_table *c = t->child[i];
	uint64_t dropped = subtree_leaves(c);
	unsigned int freed;

	t->child[i] = NULL;
	replace_entry(pt, ctx, t, i, gfn, raw, true, res);
	t->gen[i] = gen;
	if (pt->fmt.arch != MN_PT_STAGE2) {
		if (ctx && ctx->flush)
			ctx_flush(pt, ctx, MN_FLUSH_RANGE, r, t->level, res);
		else
			note_flush(res, r.start, r.end);
	}
	freed = table_free_all(pt, c);
	res->tables_freed += freed;
	res->zapped += dropped;
	pt->st.leaves = pt->st.leaves - dropped + 1;
	if (tr)
		mn_trace(tr, "pt.free_unlinked", MN_KV_X("gfn", gfn), MN_KV_U("level", t->level),
			 MN_KV_U("leaves", dropped), MN_KV_U("tables", freed));
}

/*
 * A new empty table for the entries below a level-@level entry, and the raw entry that
 * links it. Return: 0, -ENOMEM, or -EINVAL when the format cannot encode the link.
 */
static int table_new(struct mn_pt *pt, unsigned int level, struct pt_table **out, uint64_t *raw)
{
	struct pt_table *c = table_alloc(pt, level - 1, ENTRIES);

	if (!c)
		return -ENOMEM;
	if (table_entry(pt, level, c, raw)) {
		table_free(pt, c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

/*
 * arm64 stage2_map_walk_leaf() when a block covers a smaller mapping: the block entry @i of
 * @t is broken (invalidate, TLBI by IPA with the block's level) and made into a link to a
 * new, empty table; the rest of the block faults back lazily. The block's translation is
 * gone, so it counts as zapped.
 */
static int block_to_table(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct pt_table *t,
			  unsigned int i, mn_gfn_t gfn, struct mn_pt_result *res)
{
	struct pt_table *c;
	uint64_t craw;
	int ret = table_new(pt, t->level, &c, &craw);

	if (ret)
		return ret;
	res->tables_allocated++;
	replace_entry(pt, ctx, t, i, gfn, craw, false, res);
	t->child[i] = c;
	if (pt->fmt.arch != MN_PT_STAGE2)
		note_flush(res, gfn, gfn + span(t->level));
	res->zapped++;
	pt->st.leaves--;
	return 0;
}

static int map_frame(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
		     const struct mn_pte *leaf, uint64_t gen, unsigned int flags,
		     struct mn_pt_result *res)
{
	struct pt_table *t = pt->root;
	struct mn_pte old;
	uint64_t raw, craw;
	unsigned int i;
	int ret;

	memset(res, 0, sizeof(*res));
	if (leaf->kind != MN_PTE_LEAF || leaf->level < 1 || leaf->level > pt->fmt.max_leaf_level ||
	    !mn_is_aligned(gfn, span(leaf->level)))
		return -EINVAL;
	if (gfn >= ia_limit(pt) || span(leaf->level) > ia_limit(pt) - gfn)
		return -ERANGE;
	ret = encode(pt, leaf, &raw);
	if (ret)
		return ret;
	while (t->level > leaf->level) {
		i = index_of(t, gfn);
		if (t->child[i]) {
			t = t->child[i];
			continue;
		}
		if (!is_present(pt, t->e[i])) {
			struct pt_table *c;

			ret = table_new(pt, t->level, &c, &craw);
			if (ret)
				return ret;
			res->tables_allocated++;
			set_entry(pt, t, i, craw, res);
			t->child[i] = c;
			t = c;
			continue;
		}
		/*
		 * A huge leaf covers the target: split it (arm64: break-before-make). A huge
		 * PROTNONE or migration entry is the host mm's to resolve first: refuse.
		 */
		if (!pt->fmt.decode(&pt->fmt, t->e[i], t->level, &old) && is_soft_entry(old.kind))
			return -EEXIST;
		if (flags & MN_PT_MAP_BLOCK)
			ret = block_to_table(pt, ctx, t, i, mn_align_down(gfn, span(t->level)),
					     res);
		else
			ret = split_leaf(pt, ctx, t, i, mn_align_down(gfn, span(t->level)), res);
		if (ret)
			return ret;
		t = t->child[i];
	}
	i = index_of(t, gfn);
	if (t->child && t->child[i]) {
		if (!(flags & MN_PT_MAP_TABLE))
			return -EEXIST;
		replace_table(pt, ctx, t, i, gfn, raw, gen, res);
		return 0;
	}
	if (is_present(pt, t->e[i])) {
		if (pt->fmt.decode(&pt->fmt, t->e[i], t->level, &old))
			return -EAGAIN;
		if (is_soft_entry(old.kind))
			return -EEXIST;
		if (old.kind != MN_PTE_LEAF)
			return -EAGAIN;
		if (old.pfn != leaf->pfn)
			return -EEXIST;
		t->gen[i] = gen;
		if (raw == t->e[i])
			return 0;
		if (pt->fmt.arch == MN_PT_STAGE2) {
			/* stage2_map_walker_try_leaf(): valid to valid goes through BBM. */
			replace_entry(pt, ctx, t, i, gfn, raw, false, res);
			return 0;
		}
		if ((old.perm & ~leaf->perm) || old.memtype != leaf->memtype)
			note_flush(res, gfn, gfn + span(t->level)); /* rights reduced */
		set_entry(pt, t, i, raw, res);
		return 0;
	}
	set_entry(pt, t, i, raw, res);
	t->gen[i] = gen;
	pt->st.leaves++;
	return 0;
}

int mn_pt_map_frame(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
		    const struct mn_pte *leaf, uint64_t gen, struct mn_pt_result *res)
{
	return map_frame(pt, ctx, gfn, leaf, gen, 0, res);
}

int mn_pt_map_replace(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
		      const struct mn_pte *leaf, uint64_t gen, unsigned int flags,
		      struct mn_pt_result *res)
{
	if (flags & ~(MN_PT_MAP_TABLE | MN_PT_MAP_BLOCK))
		return -EINVAL;
	return map_frame(pt, ctx, gfn, leaf, gen, flags, res);
}

/* ---- zap --------------------------------------------------------------------------- */

/*
 * @can_yield: the context allows yielding (a blockable range).
 * @leaf_tlbi: stage-2 break-before-make with a TLBI by IPA after each leaf (no deferral).
 * @table_tlbi: stage-2 with a flush callback: a table is invalidated before it is freed.
 * @since_yield: leaves zapped since the walk last yielded (or started).
 */
struct zap_state {
	const struct mn_pt_ctx *ctx;
	unsigned int flags;
	struct mn_pt_result *res;
	bool can_yield;
	bool leaf_tlbi;
	bool table_tlbi;
	unsigned int since_yield;
	mn_gfn_t resume; /* where to restart after a yield */
};

/* @bits with only its lowest @n set bits kept (@n below its weight). */
static uint64_t lowest_bits(uint64_t bits, unsigned int n)
{
	uint64_t rest = bits;

	while (n--)
		rest &= rest - 1;
	return bits & ~rest;
}

/*
 * The hot loop: the present entries [@first, @last] of the 4 KiB leaf table @t zapped without
 * per-leaf flushes, a bitmap word at a time, with the bookkeeping done once per table. At
 * most @budget entries are zapped, the lowest first (a yielding walk stops where its yield
 * budget runs out, as the entry-by-entry walk would); returns how many, and in *@lasti the
 * index of the last one.
 *
 * The raw accessed/dirty masks are exact for every kind a leaf table holds, so no entry
 * needs decoding: a host PROTNONE entry keeps its A and D where a leaf has them, and a
 * migration entry has bits 8:0 clear (its offset starts at bit 9). The flush range also
 * covers PROTNONE and migration entries, which need none: a harmless over-approximation.
 */
static unsigned int zap_leaf_table(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base,
				   unsigned int first, unsigned int last, unsigned int budget,
				   struct zap_state *zs, unsigned int *lasti)
{
	const uint64_t np = pt->fmt.nonpresent, am = pt->fmt.accessed_mask, dm = pt->fmt.dirty_mask;
	/* Each mask is one bit (dirty: none on stage-2): count it by shifting, without a branch. */
	const unsigned int as = am ? (unsigned int)__builtin_ctzll(am) : 0;
	const unsigned int ds = dm ? (unsigned int)__builtin_ctzll(dm) : 0;
	const uint64_t a1 = am ? 1 : 0, d1 = dm ? 1 : 0;
	uint64_t young = 0, dirty = 0;
	unsigned int w, n = 0, lo = UINT32_MAX, hi = 0;

	for (w = first / 64; w <= last / 64 && n < budget; w++) {
		uint64_t bits = map_word_in(t, w, first, last), *e = t->e + w * 64;
		unsigned int cnt;

		if (!bits)
			continue;
		cnt = (unsigned int)__builtin_popcountll(bits);
		if (cnt > budget - n) {
			bits = lowest_bits(bits, budget - n);
			cnt = budget - n;
		}
		t->map[w] &= ~bits;
		lo = MN_MIN(lo, w * 64 + (unsigned int)__builtin_ctzll(bits));
		hi = w * 64 + 63 - (unsigned int)__builtin_clzll(bits);
		n += cnt;
		if (bits == ~0ULL) {
			/* A full word: a straight loop the compiler can vectorise. */
			unsigned int k;

			for (k = 0; k < 64; k++) {
				young += (e[k] >> as) & a1;
				dirty += (e[k] >> ds) & d1;
				e[k] = np;
			}
			continue;
		}
		while (bits) {
			unsigned int k = (unsigned int)__builtin_ctzll(bits);

			bits &= bits - 1;
			young += (e[k] >> as) & a1;
			dirty += (e[k] >> ds) & d1;
			e[k] = np;
		}
	}
	if (!n)
		return 0;
	t->present -= n;
	pt->st.entries_written += n;
	pt->st.leaves -= n;
	zs->res->visited += n;
	zs->res->written += n;
	zs->res->zapped += n;
	zs->res->young += young;
	zs->res->dirty += dirty;
	note_flush(zs->res, base + lo, base + hi + 1);
	*lasti = hi;
	return n;
}

/*
 * A leaf table through the hot loop, yield budget included. tdp_mmu_zap_leafs() may yield
 * before any entry it visits (tdp_mmu_iter_cond_resched(), when need_resched() or mmu_lock
 * contention says so); the model makes that choice deterministic: a yielding walk yields
 * after every %MN_PT_YIELD_ENTRIES leaves it zapped, as long as the range goes on. Returns
 * true to yield and restart at @zs->resume.
 */
static bool zap_leaf_table_budget(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base,
				  struct mn_gfn_range r, unsigned int first, unsigned int last,
				  struct zap_state *zs)
{
	unsigned int budget = UINT32_MAX, n, lasti = 0;

	if (zs->can_yield)
		budget = zs->since_yield < MN_PT_YIELD_ENTRIES
				 ? MN_PT_YIELD_ENTRIES - zs->since_yield
				 : 1;
	n = zap_leaf_table(pt, t, base, first, last, budget, zs, &lasti);
	if (!zs->can_yield)
		return false;
	zs->since_yield += n;
	if (n < budget || base + lasti + 1 >= r.end)
		return false;
	zs->resume = base + lasti + 1;
	return true;
}

/* Zap the part of @range in table @t (whose entry 0 maps @base); true to yield and restart. */
static bool zap_table(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base, struct mn_gfn_range r,
		      struct zap_state *zs)
{
	unsigned int sh = span_shift(t->level), first, last;
	uint64_t sp = 1ULL << sh;
	int i;

	first = r.start > base ? (unsigned int)((r.start - base) >> sh) : 0;
	last = (unsigned int)MN_MIN((r.end - 1 - base) >> sh, (uint64_t)t->nr - 1);
	if (t->level == 1 && !zs->leaf_tlbi)
		return zap_leaf_table_budget(pt, t, base, r, first, last, zs);
	for (i = next_present(t, first, last); i >= 0;
	     i = next_present(t, (unsigned int)i + 1, last)) {
		mn_gfn_t gfn = base + (uint64_t)i * sp;
		struct pt_table *c = t->child ? t->child[i] : NULL;
		bool restart = false;

		zs->res->visited++;
		if (c) {
			restart = zap_table(pt, c, gfn, r, zs);
			if ((zs->flags & MN_PT_ZAP_FREE_TABLES) && !c->present) {
				set_entry(pt, t, (unsigned int)i, pt->fmt.nonpresent, zs->res);
				t->child[i] = NULL;
				/*
				 * Walk caches may hold the table: stage2_unmap_put_pte()
				 * invalidates a table entry's whole span at once, deferral or not,
				 * before the table is freed.
				 */
				if (zs->table_tlbi)
					ctx_flush(pt, zs->ctx, MN_FLUSH_RANGE,
						  (struct mn_gfn_range){ gfn, gfn + sp }, t->level,
						  zs->res);
				else
					note_flush(zs->res, gfn, gfn + sp);
				table_free(pt, c);
				zs->res->tables_freed++;
			}
			if (restart)
				return true;
			continue;
		}
		if (t->e[i] & pt->fmt.accessed_mask)
			zs->res->young++;
		if (t->e[i] & pt->fmt.dirty_mask)
			zs->res->dirty++;
		set_entry(pt, t, (unsigned int)i, pt->fmt.nonpresent, zs->res);
		zs->res->zapped++;
		pt->st.leaves--;
		if (zs->leaf_tlbi) {
			/* stage2_unmap_put_pte() without deferral: clear, then TLBI by IPA. */
			ctx_flush(pt, zs->ctx, MN_FLUSH_IPA, (struct mn_gfn_range){ gfn, gfn + sp },
				  t->level, zs->res);
		} else {
			note_flush(zs->res, gfn, gfn + sp);
		}
		if (zs->can_yield && ++zs->since_yield >= MN_PT_YIELD_ENTRIES && gfn + sp < r.end) {
			zs->resume = gfn + sp;
			return true;
		}
	}
	return false;
}

/*
 * The end of kvm_pgtable_stage2_unmap() when stage2_unmap_defer_tlb_flush() holds (the
 * system has range TLBIs and the table FWB): the leaves of @r were cleared without a TLBI
 * each, so one ranged invalidation over the whole range the walk covered
 * (kvm_tlb_flush_vmid_range()) settles them all, present or not. It comes before the walk
 * yields and before the zap returns, so no frame the leaves mapped can be freed while a
 * vCPU's TLB still holds it. The named step ``zap.tlbi_range`` guards it.
 */
static void zap_deferred_tlbi(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct mn_gfn_range r,
			      struct mn_pt_result *res)
{
	if (!ctx->sim || mn_step(ctx->sim, "zap.tlbi_range"))
		ctx_flush(pt, ctx, MN_FLUSH_RANGE, r, 0, res);
	res->flush_needed = false; /* issued, or skipped by a mutation: nothing owed either way */
}

int mn_pt_zap(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct mn_gfn_range range,
	      unsigned int flags, struct mn_pt_result *res)
{
	bool s2 = pt->fmt.arch == MN_PT_STAGE2 && ctx && ctx->flush;
	/* stage2_unmap_defer_tlb_flush(): system_supports_tlb_range() && stage2_has_fwb() */
	bool defer = s2 && (flags & MN_PT_ZAP_TLBI_RANGE) && (pt->fmt.flags & MN_S2_FWB);
	struct zap_state zs = {
		.ctx = ctx,
		.flags = flags,
		.res = res,
		.can_yield = ctx && ctx->can_yield,
		.leaf_tlbi = s2 && !defer,
		.table_tlbi = s2,
	};

	memset(res, 0, sizeof(*res));
	range.end = MN_MIN(range.end, ia_limit(pt));
	while (range.start < range.end) {
		bool yield = zap_table(pt, pt->root, 0, range, &zs);
		struct mn_sim *sim = ctx ? ctx->sim : NULL;

		if (defer) {
			struct mn_gfn_range walked = { range.start, yield ? zs.resume : range.end };

			zap_deferred_tlbi(pt, ctx, walked, res);
		}
		if (!yield)
			break;
		/* tdp_mmu_iter_cond_resched(): flush what is pending, then yield. */
		if (res->flush_needed && ctx->flush &&
		    (!sim || mn_step(sim, "zap.flush_before_yield"))) {
			ctx_flush(pt, ctx, MN_FLUSH_RANGE, res->flush_range, 0, res);
			res->flush_needed = false;
		}
		if (ctx->resched)
			ctx->resched(ctx->resched_arg);
		else if (sim)
			mn_yield(sim, "zap.yield");
		zs.since_yield = 0;
		range.start = zs.resume;
	}
	return 0;
}

/* ---- leaf visitors: age, write-protect and update -------------------------------------- */

/* Called for entry @i of @t (covering @gfn); a negative errno stops the walk. */
typedef int (*leaf_fn)(struct mn_pt *pt, struct pt_table *t, unsigned int i, mn_gfn_t gfn,
		       void *arg, struct mn_pt_result *res);

/* Called for the present entries [@first, @last] of a 4 KiB leaf table @t at once. */
typedef void (*leaf_table_fn)(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base,
			      unsigned int first, unsigned int last, void *arg,
			      struct mn_pt_result *res);

/*
 * What a walk does: @leaf for each present non-table entry, in gfn order; or, when set,
 * @table for the part of a 4 KiB leaf table in the range at once (it must do what @leaf would
 * do entry by entry, @visited included).
 */
struct visitor {
	leaf_fn leaf;
	leaf_table_fn table;
	void *arg;
};

/* Visit every present non-table entry of @t's subtree overlapping @r, in gfn order. */
static int visit_leaves(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base, struct mn_gfn_range r,
			const struct visitor *v, struct mn_pt_result *res)
{
	unsigned int sh = span_shift(t->level), first, last;
	uint64_t sp = 1ULL << sh;
	int i, ret;

	first = r.start > base ? (unsigned int)((r.start - base) >> sh) : 0;
	last = (unsigned int)MN_MIN((r.end - 1 - base) >> sh, (uint64_t)t->nr - 1);
	/* One entry (a walk to a single gfn, as test_young makes): straight down. */
	while (first == last) {
		mn_gfn_t gfn = base + ((uint64_t)first << sh);

		if (!(t->map[first / 64] >> (first % 64) & 1))
			return 0;
		res->visited++;
		if (!t->child || !t->child[first])
			return v->leaf(pt, t, first, gfn, v->arg, res);
		t = t->child[first];
		base = gfn;
		sh = span_shift(t->level);
		sp = 1ULL << sh;
		first = r.start > base ? (unsigned int)((r.start - base) >> sh) : 0;
		last = (unsigned int)MN_MIN((r.end - 1 - base) >> sh, (uint64_t)t->nr - 1);
	}
	if (t->level == 1 && v->table) {
		v->table(pt, t, base, first, last, v->arg, res);
		return 0;
	}
	for (i = next_present(t, first, last); i >= 0;
	     i = next_present(t, (unsigned int)i + 1, last)) {
		mn_gfn_t gfn = base + (uint64_t)i * sp;

		res->visited++;
		if (t->child && t->child[i])
			ret = visit_leaves(pt, t->child[i], gfn, r, v, res);
		else
			ret = v->leaf(pt, t, (unsigned int)i, gfn, v->arg, res);
		if (ret)
			return ret;
	}
	return 0;
}

/* Clamp @range to the input address size and walk it; 0 when nothing is left. */
static int visit_range(struct mn_pt *pt, struct mn_gfn_range range, const struct visitor *v,
		       struct mn_pt_result *res)
{
	memset(res, 0, sizeof(*res));
	range.end = MN_MIN(range.end, ia_limit(pt));
	if (range.start >= range.end)
		return 0;
	return visit_leaves(pt, pt->root, 0, range, v, res);
}

#define MEMO_COUNT (1U << 0) /* counted: young (aging), was writable (write-protect) */
#define MEMO_WRITE (1U << 1) /* rewritten as @out | the entry's address */

/* The memo for entry @e (@pm: the format's pfn_mask): a hit, or computed with @m's calc. */
static inline void memo_get(const struct mn_pt *pt, struct raw_memo *m, uint64_t e, uint64_t pm,
			    unsigned int level, const void *arg)
{
	if (__builtin_expect(m->key != (e & ~pm), 0)) {
		uint64_t out = e;

		m->how = m->calc(pt, e, level, arg, &out);
		m->key = e & ~pm;
		m->out = out & ~pm;
	}
}

/* A memo for @calc with @argv: @m itself when it holds one, else @m emptied for it. */
static void memo_start(struct raw_memo *m, memo_calc_fn calc, unsigned int argv, uint64_t pm)
{
	if (m->calc == calc && m->argv == argv)
		return;
	/* A key no entry has: its bits under pfn_mask are set. */
	*m = (struct raw_memo){ .calc = calc, .argv = argv, .key = pm };
}

/* Apply the change to entry @k of @t, one entry alone. */
static unsigned int memo_apply(struct mn_pt *pt, struct pt_table *t, unsigned int k,
			       memo_calc_fn calc, const void *arg, struct mn_pt_result *res)
{
	const uint64_t pm = pt->fmt.pfn_mask, e = t->e[k];
	struct raw_memo m = { .calc = NULL };

	memo_start(&m, calc, 0, pm);
	memo_get(pt, &m, e, pm, t->level, arg);
	if (m.how & MEMO_WRITE) {
		t->e[k] = m.out | (e & pm); /* present stays present */
		pt->st.entries_written++;
		res->written++;
	}
	return m.how;
}

/* What memo_leaf_table() did. */
struct memo_walk {
	uint64_t visited;
	uint64_t counted; /* entries whose change has MEMO_COUNT */
	uint64_t written;
	unsigned int lo, hi; /* the lowest and highest counted index */
};

/*
 * Apply a change through the memo to the present entries [@first, @last] of the 4 KiB leaf
 * table @t, leaving alone without a look the entries that have none of the raw bits @need
 * (the caller knows the change leaves them as they are in every format). A full bitmap word
 * whose 64 entries all share the memo's key, the common case, is done in one straight
 * loop. The counts are kept locally and returned in @mw; the table's totals are updated.
 */
static void memo_leaf_table(struct mn_pt *pt, struct pt_table *t, unsigned int first,
			    unsigned int last, uint64_t need, memo_calc_fn calc, const void *arg,
			    unsigned int argv, struct memo_walk *mw)
{
	const uint64_t pm = pt->fmt.pfn_mask;
	struct raw_memo m = pt->memo;
	uint64_t *e = t->e;
	unsigned int w;

	memo_start(&m, calc, argv, pm);

	*mw = (struct memo_walk){ .lo = UINT32_MAX };
	for (w = first / 64; w <= last / 64; w++) {
		uint64_t bits = map_word_in(t, w, first, last), *we = e + w * 64;

		if (!bits)
			continue;
		if (bits == ~0ULL) {
			uint64_t diff = 0;
			unsigned int k;

			mw->visited += 64;
			memo_get(pt, &m, we[0], pm, 1, arg);
			for (k = 0; k < 64; k++)
				diff |= (we[k] & ~pm) ^ m.key;
			if (!diff) {
				if (m.how & MEMO_WRITE) {
					for (k = 0; k < 64; k++)
						we[k] = m.out | (we[k] & pm);
					mw->written += 64;
				}
				if (m.how & MEMO_COUNT) {
					mw->counted += 64;
					mw->lo = MN_MIN(mw->lo, w * 64);
					mw->hi = w * 64 + 63;
				}
				continue;
			}
		} else {
			mw->visited += (uint64_t)__builtin_popcountll(bits);
		}
		while (bits) {
			unsigned int k = (unsigned int)__builtin_ctzll(bits);
			uint64_t v = we[k];

			bits &= bits - 1;
			if (!(v & need))
				continue;
			memo_get(pt, &m, v, pm, 1, arg);
			if (m.how & MEMO_WRITE) {
				we[k] = m.out | (v & pm);
				mw->written++;
			}
			if (m.how & MEMO_COUNT) {
				mw->counted++;
				mw->lo = MN_MIN(mw->lo, w * 64 + k);
				mw->hi = w * 64 + k;
			}
		}
	}
	pt->st.entries_written += mw->written;
	pt->memo = m;
}

/* age_gfn_range() / stage2_age_walker() on one decoded entry: young, and the mkold'ed entry. */
static unsigned int age_calc(const struct mn_pt *pt, uint64_t raw, unsigned int level,
			     const void *arg, uint64_t *out)
{
	bool clear = *(const bool *)arg;
	struct mn_pte p;

	if (pt->fmt.decode(&pt->fmt, raw, level, &p) || p.kind != MN_PTE_LEAF || !p.accessed)
		return 0;
	if (!clear)
		return MEMO_COUNT;
	if (pt->fmt.arch == MN_PT_EPT && p.ad_type == 1) {
		/* A/D disabled: mark_spte_for_access_track() saves R/X and clears RWX. */
		p.saved_perm = p.perm & (MN_PTE_R | MN_PTE_X);
		p.perm = 0;
		p.sw |= MN_PTE_SW_ACC_TRACK;
	}
	p.accessed = false;
	return encode(pt, &p, out) ? MEMO_COUNT : MEMO_COUNT | MEMO_WRITE;
}

static int age_leaf(struct mn_pt *pt, struct pt_table *t, unsigned int i, mn_gfn_t gfn, void *arg,
		    struct mn_pt_result *res)
{
	(void)gfn;
	if (memo_apply(pt, t, i, age_calc, arg, res) & MEMO_COUNT)
		res->young++;
	return 0;
}

/*
 * Aging of a 4 KiB leaf table. A leaf whose raw accessed bit is clear is old whatever its
 * format (the bit is the decoded @accessed of every format), so it is passed over.
 */
static void age_leaf_table(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base, unsigned int first,
			   unsigned int last, void *arg, struct mn_pt_result *res)
{
	struct memo_walk mw;

	(void)base;
	memo_leaf_table(pt, t, first, last, pt->fmt.accessed_mask, age_calc, arg, *(bool *)arg,
			&mw);
	res->visited += mw.visited;
	res->written += mw.written;
	res->young += mw.counted;
}

int mn_pt_age(struct mn_pt *pt, struct mn_gfn_range range, bool clear, struct mn_pt_result *res)
{
	const struct visitor v = { age_leaf, age_leaf_table, &clear };

	visit_range(pt, range, &v, res);
	return (int)MN_MIN(res->young, (uint64_t)INT32_MAX);
}

/*
 * wrprot_gfn_range() / clear_dirty_pt_masked() / stage2_wp_range() on one decoded entry:
 * whether it was writable, and the entry without W (and, for %MN_PT_WRPROT_MMU, without
 * MMU-writable).
 */
static unsigned int wrprot_calc(const struct mn_pt *pt, uint64_t raw, unsigned int level,
				const void *arg, uint64_t *out)
{
	unsigned int mode = *(const unsigned int *)arg;
	bool was_w, mmu_w;
	struct mn_pte p;

	if (pt->fmt.decode(&pt->fmt, raw, level, &p) || p.kind != MN_PTE_LEAF ||
	    ((mode & MN_PT_WRPROT_4K) && level != MN_PG_LEVEL_4K))
		return 0;
	was_w = p.perm & MN_PTE_W;
	mmu_w = (mode & MN_PT_WRPROT_MMU) && (p.sw & MN_PTE_SW_MMU_WRITABLE);
	if (!was_w && !mmu_w)
		return 0;
	p.perm &= ~MN_PTE_W;
	if (mode & MN_PT_WRPROT_MMU)
		p.sw &= ~MN_PTE_SW_MMU_WRITABLE;
	if (encode(pt, &p, out))
		return 0;
	return MEMO_WRITE | (was_w ? MEMO_COUNT : 0);
}

static int wrprot_leaf(struct mn_pt *pt, struct pt_table *t, unsigned int i, mn_gfn_t gfn,
		       void *arg, struct mn_pt_result *res)
{
	if (memo_apply(pt, t, i, wrprot_calc, arg, res) & MEMO_COUNT) {
		res->dirty++;
		note_flush(res, gfn, gfn + span(t->level));
	}
	return 0;
}

/*
 * Write-protection of a 4 KiB leaf table. In the dirty-log mode a leaf whose raw W bit is
 * clear is left alone whatever its format (the bit is the decoded W of every format), so
 * it is passed over.
 */
static void wrprot_leaf_table(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base,
			      unsigned int first, unsigned int last, void *arg,
			      struct mn_pt_result *res)
{
	uint64_t need = *(unsigned int *)arg & MN_PT_WRPROT_MMU ? ~0ULL : pt->fmt.write_mask;
	struct memo_walk mw;

	memo_leaf_table(pt, t, first, last, need, wrprot_calc, arg, *(unsigned int *)arg, &mw);
	res->visited += mw.visited;
	res->written += mw.written;
	if (!mw.counted)
		return;
	res->dirty += mw.counted;
	note_flush(res, base + mw.lo, base + mw.hi + 1);
}

int mn_pt_wrprot(struct mn_pt *pt, struct mn_gfn_range range, unsigned int mode,
		 struct mn_pt_result *res)
{
	const struct visitor v = { wrprot_leaf, wrprot_leaf_table, &mode };

	visit_range(pt, range, &v, res);
	return (int)MN_MIN(res->written, (uint64_t)INT32_MAX);
}

struct update_state {
	mn_pt_update_fn fn;
	void *arg;
};

/*
 * Whether replacing the hardware leaf @old by @new removes or narrows a translation a TLB
 * may hold: it goes away (cleared, PROTNONE, migration), points elsewhere, loses a
 * permission or changes memory type. Gaining permissions or A/D needs no flush, as a
 * spurious fault refills the TLB.
 */
static bool update_reduces(const struct mn_pte *old, const struct mn_pte *new)
{
	return new->kind != MN_PTE_LEAF || new->pfn != old->pfn || (old->perm & ~new->perm) ||
	       new->memtype != old->memtype;
}

static int update_leaf(struct mn_pt *pt, struct pt_table *t, unsigned int i, mn_gfn_t gfn,
		       void *arg, struct mn_pt_result *res)
{
	const struct update_state *us = arg;
	struct mn_pte old, p;
	uint64_t raw, gen;

	if (pt->fmt.decode(&pt->fmt, t->e[i], t->level, &old) ||
	    (old.kind != MN_PTE_LEAF && !is_soft_entry(old.kind)))
		return 0; /* FROZEN or LOCKED: another thread's change in flight */
	if (old.kind == MN_PTE_LEAF) {
		res->young += old.accessed;
		res->dirty += old.dirty;
	}
	p = old;
	gen = t->gen[i];
	if (!us->fn(us->arg, gfn, &p, &gen))
		return 0;
	switch (p.kind) {
	case MN_PTE_NONE:
		raw = pt->fmt.nonpresent;
		break;
	case MN_PTE_LEAF:
	case MN_PTE_PROTNONE:
	case MN_PTE_MIGRATION:
		if (p.level != t->level || encode(pt, &p, &raw))
			return -EINVAL;
		/* Stage-2 changes of address or type between valid leaves need BBM. */
		if (pt->fmt.arch == MN_PT_STAGE2 && old.kind == MN_PTE_LEAF &&
		    p.kind == MN_PTE_LEAF && (p.pfn != old.pfn || p.memtype != old.memtype))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	t->gen[i] = gen;
	if (raw == t->e[i])
		return 0;
	if (old.kind == MN_PTE_LEAF && update_reduces(&old, &p))
		note_flush(res, gfn, gfn + span(t->level));
	set_entry(pt, t, i, raw, res);
	if (p.kind == MN_PTE_NONE) {
		res->zapped++;
		pt->st.leaves--;
	}
	return 0;
}

int mn_pt_update(struct mn_pt *pt, struct mn_gfn_range range, mn_pt_update_fn fn, void *arg,
		 struct mn_pt_result *res)
{
	struct update_state us = { fn, arg };
	const struct visitor v = { update_leaf, NULL, &us };

	return visit_range(pt, range, &v, res);
}

/* ---- split and collapse -------------------------------------------------------------- */

/* The table at @level whose entry covers @gfn, walking only through tables; or NULL. */
static struct pt_table *table_at(struct mn_pt *pt, mn_gfn_t gfn, unsigned int level)
{
	struct pt_table *t = pt->root;

	while (t && t->level > level) {
		unsigned int i = index_of(t, gfn);

		t = t->child ? t->child[i] : NULL;
	}
	return t && t->level == level ? t : NULL;
}

/* The table at @level and the index of the entry covering @gfn, for split and collapse. */
static int slot_at(struct mn_pt *pt, mn_gfn_t gfn, unsigned int level, struct pt_table **t,
		   unsigned int *i)
{
	if (level < 2 || level > pt->fmt.max_leaf_level)
		return -EINVAL;
	if (gfn >= ia_limit(pt))
		return -ENOENT;
	*t = table_at(pt, gfn, level);
	if (!*t)
		return -ENOENT;
	*i = index_of(*t, gfn);
	return 0;
}

int mn_pt_split(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn, unsigned int level,
		struct mn_pt_result *res)
{
	struct pt_table *t;
	unsigned int i;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = slot_at(pt, gfn, level, &t, &i);
	if (ret)
		return ret;
	if (t->child[i] || !is_present(pt, t->e[i]))
		return -ENOENT;
	return split_leaf(pt, ctx, t, i, mn_align_down(gfn, span(level)), res);
}

static bool same_attrs(const struct mn_pte *a, const struct mn_pte *b)
{
	return a->perm == b->perm && a->memtype == b->memtype && a->ipat == b->ipat &&
	       a->sw == b->sw && a->ad_type == b->ad_type && a->sw_bits == b->sw_bits &&
	       a->saved_perm == b->saved_perm;
}

int mn_pt_collapse(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn, unsigned int level,
		   struct mn_pt_result *res)
{
	struct pt_table *t, *c;
	struct mn_pte first, p;
	mn_gfn_t base;
	unsigned int i, k;
	uint64_t raw, gen;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = slot_at(pt, gfn, level, &t, &i);
	if (ret)
		return ret;
	c = t->child[i];
	if (!c)
		return -ENOENT;
	if (c->present != c->nr)
		return -EBUSY;
	gen = c->gen[0];
	for (k = 0; k < c->nr; k++) {
		if (c->child && c->child[k])
			return -EBUSY;
		if (c->gen[k] != c->gen[0])
			gen = 0; /* several folios: no one generation stands for the block */
		if (pt->fmt.decode(&pt->fmt, c->e[k], c->level, &p) || p.kind != MN_PTE_LEAF)
			return -EBUSY;
		if (k == 0) {
			first = p;
			if (!mn_is_aligned(p.pfn, span(level)))
				return -EBUSY;
		} else if (p.pfn != first.pfn + k * span(c->level) || !same_attrs(&p, &first)) {
			return -EBUSY;
		}
		first.accessed |= p.accessed;
		first.dirty |= p.dirty;
	}
	first.level = level;
	if (encode(pt, &first, &raw))
		return -EBUSY;
	base = mn_align_down(gfn, span(level));
	t->child[i] = NULL; /* walkers during the break see LOCKED, not the old table */
	replace_entry(pt, ctx, t, i, base, raw, true, res);
	t->gen[i] = gen;
	table_free(pt, c);
	res->tables_freed++;
	pt->st.leaves -= ENTRIES - 1;
	/* The small translations may still be cached; stage-2 flushed them in BBM. */
	if (pt->fmt.arch != MN_PT_STAGE2 || !ctx || !ctx->flush)
		note_flush(res, base, base + span(level));
	return 0;
}

static unsigned int check_table(const struct mn_pt *pt, const struct pt_table *t, mn_gfn_t base,
				struct mn_phys *phys, const char *what)
{
	unsigned int n = 0;
	int i;

	for (i = next_present(t, 0, t->nr - 1); i >= 0;
	     i = next_present(t, (unsigned int)i + 1, t->nr - 1)) {
		mn_gfn_t gfn = base + (uint64_t)i * span(t->level);
		struct mn_frame_ref ref;
		struct mn_pte p;

		if (t->child && t->child[i]) {
			n += check_table(pt, t->child[i], gfn, phys, what);
			continue;
		}
		/* A PROTNONE entry still maps its frame; migration holds its own reference. */
		if (!t->gen || !t->gen[i] || pt->fmt.decode(&pt->fmt, t->e[i], t->level, &p) ||
		    (p.kind != MN_PTE_LEAF && p.kind != MN_PTE_PROTNONE))
			continue;
		ref = (struct mn_frame_ref){ p.pfn, t->gen[i] };
		if (!mn_phys_ref_valid(phys, ref)) {
			mn_phys_use(phys, ref, MN_USE_MAP, what); /* reports the use-after-free */
			n++;
		}
	}
	return n;
}

int mn_pt_check_frames(const struct mn_pt *pt, struct mn_phys *phys, const char *what)
{
	return (int)check_table(pt, pt->root, 0, phys, what);
}
