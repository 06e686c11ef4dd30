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

struct mn_pt {
	struct mn_pt_format fmt;
	struct mn_alloc *alloc;
	struct mn_phys *phys;
	struct pt_table *root;
	struct mn_pt_stats st;
};

static uint64_t span(unsigned int level)
{
	return 1ULL << (MN_LEVEL_BITS * (level - 1));
}

/* Gfns the whole table covers. */
static uint64_t ia_limit(const struct mn_pt *pt)
{
	return 1ULL << (pt->fmt.ia_bits - MN_PAGE_SHIFT);
}

static unsigned int index_of(const struct pt_table *t, mn_gfn_t gfn)
{
	return (unsigned int)((gfn / span(t->level)) & (t->nr - 1));
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

static void table_free_all(struct mn_pt *pt, struct pt_table *t)
{
	unsigned int i;

	if (t->child)
		for (i = 0; i < t->nr; i++)
			if (t->child[i])
				table_free_all(pt, t->child[i]);
	table_free(pt, t);
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

int mn_pt_map_frame(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
		    const struct mn_pte *leaf, uint64_t gen, struct mn_pt_result *res)
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
			struct pt_table *c = table_alloc(pt, t->level - 1, ENTRIES);

			if (!c)
				return -ENOMEM;
			if (table_entry(pt, t->level, c, &craw)) {
				table_free(pt, c);
				return -EINVAL;
			}
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
		ret = split_leaf(pt, ctx, t, i, mn_align_down(gfn, span(t->level)), res);
		if (ret)
			return ret;
		t = t->child[i];
	}
	i = index_of(t, gfn);
	if (t->child && t->child[i])
		return -EEXIST;
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

/* ---- zap --------------------------------------------------------------------------- */

struct zap_state {
	const struct mn_pt_ctx *ctx;
	unsigned int flags;
	struct mn_pt_result *res;
	unsigned int since_yield;
	mn_gfn_t resume; /* where to restart after a yield */
};

/*
 * The hot loop: a 4 KiB leaf table zapped without per-leaf flushes or yields, a bitmap word
 * at a time, with the bookkeeping done once per table.
 *
 * The raw accessed/dirty masks are exact for every kind a leaf table holds, so no entry
 * needs decoding: a host PROTNONE entry keeps its A and D where a leaf has them, and a
 * migration entry has bits 8:0 clear (its offset starts at bit 9). The flush range also
 * covers PROTNONE and migration entries, which need none: a harmless over-approximation.
 */
static void zap_leaf_table(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base, unsigned int first,
			   unsigned int last, struct zap_state *zs)
{
	const uint64_t np = pt->fmt.nonpresent, am = pt->fmt.accessed_mask, dm = pt->fmt.dirty_mask;
	uint64_t young = 0, dirty = 0, n = 0;
	unsigned int w, lo = UINT32_MAX, hi = 0;

	for (w = first / 64; w <= last / 64; w++) {
		uint64_t bits = t->map[w];

		if (w == first / 64)
			bits &= ~0ULL << (first % 64);
		if (w == last / 64 && last % 64 != 63)
			bits &= (1ULL << (last % 64 + 1)) - 1;
		if (!bits)
			continue;
		t->map[w] &= ~bits;
		lo = MN_MIN(lo, w * 64 + (unsigned int)__builtin_ctzll(bits));
		hi = w * 64 + 63 - (unsigned int)__builtin_clzll(bits);
		n += (uint64_t)__builtin_popcountll(bits);
		while (bits) {
			unsigned int i = w * 64 + (unsigned int)__builtin_ctzll(bits);
			uint64_t e = t->e[i];

			bits &= bits - 1;
			young += (e & am) != 0;
			dirty += (e & dm) != 0;
			t->e[i] = np;
		}
	}
	if (!n)
		return;
	t->present -= (unsigned int)n;
	pt->st.entries_written += n;
	pt->st.leaves -= n;
	zs->res->visited += n;
	zs->res->written += n;
	zs->res->zapped += n;
	zs->res->young += young;
	zs->res->dirty += dirty;
	note_flush(zs->res, base + lo, base + hi + 1);
}

/* Zap the part of @range in table @t (whose entry 0 maps @base); true to yield and restart. */
static bool zap_table(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base, struct mn_gfn_range r,
		      struct zap_state *zs)
{
	uint64_t sp = span(t->level);
	unsigned int first, last;
	int i;

	first = r.start > base ? (unsigned int)((r.start - base) / sp) : 0;
	last = (unsigned int)MN_MIN((r.end - 1 - base) / sp, (uint64_t)t->nr - 1);
	if (t->level == 1 && !(zs->ctx && zs->ctx->can_yield) &&
	    !(pt->fmt.arch == MN_PT_STAGE2 && zs->ctx && zs->ctx->flush)) {
		zap_leaf_table(pt, t, base, first, last, zs);
		return false;
	}
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
				/* Walk caches may hold the table: flush before its frame goes. */
				if (pt->fmt.arch == MN_PT_STAGE2 && zs->ctx && zs->ctx->flush)
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
		if (pt->fmt.arch == MN_PT_STAGE2 && zs->ctx && zs->ctx->flush) {
			/* stage2_unmap_walker: clear, then TLBI by IPA for each leaf. */
			ctx_flush(pt, zs->ctx, MN_FLUSH_IPA, (struct mn_gfn_range){ gfn, gfn + sp },
				  t->level, zs->res);
		} else {
			note_flush(zs->res, gfn, gfn + sp);
		}
		if (zs->ctx && zs->ctx->can_yield && ++zs->since_yield >= MN_PT_YIELD_ENTRIES &&
		    gfn + sp < r.end) {
			zs->resume = gfn + sp;
			return true;
		}
	}
	return false;
}

int mn_pt_zap(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct mn_gfn_range range,
	      unsigned int flags, struct mn_pt_result *res)
{
	struct zap_state zs = { .ctx = ctx, .flags = flags, .res = res };

	memset(res, 0, sizeof(*res));
	range.end = MN_MIN(range.end, ia_limit(pt));
	while (range.start < range.end && zap_table(pt, pt->root, 0, range, &zs)) {
		struct mn_sim *sim = ctx->sim;

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

/* Call @fn for every present non-table entry of @t's subtree overlapping @r, in gfn order. */
static int visit_leaves(struct mn_pt *pt, struct pt_table *t, mn_gfn_t base, struct mn_gfn_range r,
			leaf_fn fn, void *arg, struct mn_pt_result *res)
{
	uint64_t sp = span(t->level);
	unsigned int first, last;
	int i, ret;

	first = r.start > base ? (unsigned int)((r.start - base) / sp) : 0;
	last = (unsigned int)MN_MIN((r.end - 1 - base) / sp, (uint64_t)t->nr - 1);
	for (i = next_present(t, first, last); i >= 0;
	     i = next_present(t, (unsigned int)i + 1, last)) {
		mn_gfn_t gfn = base + (uint64_t)i * sp;

		res->visited++;
		if (t->child && t->child[i])
			ret = visit_leaves(pt, t->child[i], gfn, r, fn, arg, res);
		else
			ret = fn(pt, t, (unsigned int)i, gfn, arg, res);
		if (ret)
			return ret;
	}
	return 0;
}

/* Clamp @range to the input address size and walk it; 0 when nothing is left. */
static int visit_range(struct mn_pt *pt, struct mn_gfn_range range, leaf_fn fn, void *arg,
		       struct mn_pt_result *res)
{
	memset(res, 0, sizeof(*res));
	range.end = MN_MIN(range.end, ia_limit(pt));
	if (range.start >= range.end)
		return 0;
	return visit_leaves(pt, pt->root, 0, range, fn, arg, res);
}

static int age_leaf(struct mn_pt *pt, struct pt_table *t, unsigned int i, mn_gfn_t gfn, void *arg,
		    struct mn_pt_result *res)
{
	bool clear = *(bool *)arg;
	struct mn_pte p;
	uint64_t raw;

	(void)gfn;
	if (pt->fmt.decode(&pt->fmt, t->e[i], t->level, &p) || p.kind != MN_PTE_LEAF || !p.accessed)
		return 0;
	res->young++;
	if (!clear)
		return 0;
	if (pt->fmt.arch == MN_PT_EPT && p.ad_type == 1) {
		/* A/D disabled: mark_spte_for_access_track() saves R/X and clears RWX. */
		p.saved_perm = p.perm & (MN_PTE_R | MN_PTE_X);
		p.perm = 0;
		p.sw |= MN_PTE_SW_ACC_TRACK;
	}
	p.accessed = false;
	if (!encode(pt, &p, &raw))
		set_entry(pt, t, i, raw, res);
	return 0;
}

int mn_pt_age(struct mn_pt *pt, struct mn_gfn_range range, bool clear, struct mn_pt_result *res)
{
	visit_range(pt, range, age_leaf, &clear, res);
	return (int)MN_MIN(res->young, (uint64_t)INT32_MAX);
}

static int wrprot_leaf(struct mn_pt *pt, struct pt_table *t, unsigned int i, mn_gfn_t gfn,
		       void *arg, struct mn_pt_result *res)
{
	unsigned int mode = *(unsigned int *)arg;
	bool was_w, mmu_w;
	struct mn_pte p;
	uint64_t raw;

	if (pt->fmt.decode(&pt->fmt, t->e[i], t->level, &p) || p.kind != MN_PTE_LEAF)
		return 0;
	was_w = p.perm & MN_PTE_W;
	mmu_w = (mode & MN_PT_WRPROT_MMU) && (p.sw & MN_PTE_SW_MMU_WRITABLE);
	if (!was_w && !mmu_w)
		return 0;
	p.perm &= ~MN_PTE_W;
	if (mode & MN_PT_WRPROT_MMU)
		p.sw &= ~MN_PTE_SW_MMU_WRITABLE;
	if (encode(pt, &p, &raw))
		return 0;
	set_entry(pt, t, i, raw, res);
	if (was_w) {
		res->dirty++;
		note_flush(res, gfn, gfn + span(t->level));
	}
	return 0;
}

int mn_pt_wrprot(struct mn_pt *pt, struct mn_gfn_range range, unsigned int mode,
		 struct mn_pt_result *res)
{
	visit_range(pt, range, wrprot_leaf, &mode, res);
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

	return visit_range(pt, range, update_leaf, &us, res);
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
