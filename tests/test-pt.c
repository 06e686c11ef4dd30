// SPDX-License-Identifier: MIT
/*
 * test-pt.c - the radix engine over every format: a randomized differential test against a
 * flat model of leaves (map, zap, age, write-protect, split, collapse), sparse zaps that
 * cost what is present, break-before-make in the trace, yields inside long zaps, the TLB
 * model with the frame oracle, and the host's PROTNONE and migration entries driven
 * through mn_pt_update() (lib/pt/pt.c, tlb.c).
 */
#include "mn-test.h"

#include <errno.h>
#include <string.h>

/* ---- fixtures ------------------------------------------------------------------------ */

enum fmt_id {
	FMT_EPT4,
	FMT_EPT5,
	FMT_S2_40,
	FMT_S2_48,
	FMT_HOST,
	FMT_NR,
};

static void make_format(enum fmt_id id, struct mn_pt_format *f)
{
	switch (id) {
	case FMT_EPT4:
		assert_int_equal(mn_pt_format_ept(f, 4, 0), 0);
		break;
	case FMT_EPT5:
		assert_int_equal(mn_pt_format_ept(f, 5, 0), 0);
		break;
	case FMT_S2_40:
		assert_int_equal(mn_pt_format_stage2(f, 40, 0), 0);
		break;
	case FMT_S2_48:
		assert_int_equal(mn_pt_format_stage2(f, 48, MN_S2_FWB), 0);
		break;
	default:
		assert_int_equal(mn_pt_format_host(f), 0);
		break;
	}
}

struct world {
	struct mn_alloc *a;
	struct mn_trace *t;
	struct mn_phys *p;
	struct mn_pt *pt;
	struct mn_pt_format f;
};

static void world_open(struct world *w, enum fmt_id id)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(mn_alloc_create(NULL, &w->a), 0);
	assert_int_equal(mn_trace_create(w->a, MN_TRACE_OFF, 0, &w->t), 0);
	assert_int_equal(mn_phys_create(w->a, w->t, NULL, &w->p), 0);
	make_format(id, &w->f);
	assert_int_equal(mn_pt_create(w->a, w->p, &w->f, &w->pt), 0);
}

static void world_close(struct world *w)
{
	struct mn_phys_stats st;

	mn_pt_destroy(w->pt);
	/* Every table frame went back. */
	mn_phys_get_stats(w->p, &st);
	assert_int_equal(st.nr_frames, 0);
	mn_phys_destroy(w->p);
	mn_trace_destroy(w->t);
	mn_alloc_destroy(w->a);
}

/* A leaf the format accepts, with permissions @perm (always readable). */
static struct mn_pte leaf(const struct mn_pt_format *f, unsigned int level, mn_pfn_t pfn,
			  unsigned int perm, bool accessed)
{
	struct mn_pte p = {
		.kind = MN_PTE_LEAF,
		.level = level,
		.pfn = pfn,
		.perm = perm | MN_PTE_R,
		.memtype = MN_MT_WB,
		.accessed = accessed,
	};

	if (f->arch == MN_PT_EPT) {
		p.ipat = true;
		p.sw = MN_PTE_SW_HOST_WRITABLE | (perm & MN_PTE_W ? MN_PTE_SW_MMU_WRITABLE : 0);
	}
	return p;
}

/* ---- the model --------------------------------------------------------------------------- */

#define MAX_LEAVES 8192

struct mleaf {
	mn_gfn_t gfn;
	unsigned int level;
	mn_pfn_t pfn;
	unsigned int perm;
	bool accessed;
	bool used;
	bool mmu_w; /* EPT: MMU-writable, kept by dirty-log write-protection */
};

struct model {
	struct mleaf l[MAX_LEAVES];
	unsigned int n;
};

static uint64_t span(unsigned int level)
{
	return 1ULL << (9 * (level - 1));
}

static struct mleaf *m_covering(struct model *m, mn_gfn_t gfn)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (m->l[i].used && gfn >= m->l[i].gfn && gfn - m->l[i].gfn < span(m->l[i].level))
			return &m->l[i];
	return NULL;
}

static struct mleaf *m_add(struct model *m, mn_gfn_t gfn, unsigned int level, mn_pfn_t pfn,
			   unsigned int perm, bool accessed)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (!m->l[i].used)
			break;
	if (i == m->n) {
		assert_true(m->n < MAX_LEAVES);
		m->n++;
	}
	m->l[i] = (struct mleaf){ gfn, level, pfn, perm, accessed, true, perm & MN_PTE_W };
	return &m->l[i];
}

static unsigned int m_count(const struct model *m)
{
	unsigned int i, n = 0;

	for (i = 0; i < m->n; i++)
		n += m->l[i].used;
	return n;
}

/* Leaves of level below @level inside the @level block at @gfn. */
static unsigned int m_below(const struct model *m, mn_gfn_t gfn, unsigned int level,
			    unsigned int *min_level)
{
	unsigned int i, n = 0;

	*min_level = 99;
	for (i = 0; i < m->n; i++) {
		const struct mleaf *x = &m->l[i];

		if (x->used && x->level < level && x->gfn >= gfn && x->gfn < gfn + span(level)) {
			n++;
			*min_level = x->level < *min_level ? x->level : *min_level;
		}
	}
	return n;
}

static void m_split(struct model *m, struct mleaf *x)
{
	struct mleaf old = *x;
	unsigned int k;

	x->used = false;
	for (k = 0; k < 512; k++)
		m_add(m, old.gfn + k * span(old.level - 1), old.level - 1,
		      old.pfn + k * span(old.level - 1), old.perm, old.accessed)
			->mmu_w = old.mmu_w;
}

static void verify(struct world *w, struct model *m, struct mn_test_rng *rng, mn_gfn_t window)
{
	struct mn_pt_stats st;
	struct mn_pt_walk wk;
	unsigned int i, k;

	for (i = 0; i < m->n; i++) {
		const struct mleaf *x = &m->l[i];
		mn_gfn_t probe[2] = { x->gfn, x->gfn + span(x->level) - 1 };

		if (!x->used)
			continue;
		for (k = 0; k < 2; k++) {
			assert_int_equal(mn_pt_walk(w->pt, probe[k], &wk), 0);
			assert_int_equal(wk.leaf.level, x->level);
			assert_int_equal(wk.pfn, x->pfn + (probe[k] - x->gfn));
			assert_int_equal(wk.leaf.perm, x->perm);
			assert_int_equal(wk.leaf.accessed, x->accessed);
		}
	}
	for (k = 0; k < 32; k++) {
		mn_gfn_t g = mn_test_below(rng, window);
		const struct mleaf *x = m_covering(m, g);
		int ret = mn_pt_walk(w->pt, g, &wk);

		if (x) {
			assert_int_equal(ret, 0);
			assert_int_equal(wk.pfn, x->pfn + (g - x->gfn));
		} else {
			assert_int_equal(ret, -ENOENT);
		}
	}
	mn_pt_get_stats(w->pt, &st);
	assert_int_equal(st.leaves, m_count(m));
	assert_int_equal(mn_phys_check_invariants(w->p), 0);
}

static unsigned int random_perm(struct mn_test_rng *rng)
{
	static const unsigned int perms[] = { MN_PTE_R, MN_PTE_R | MN_PTE_W, MN_PTE_R | MN_PTE_X,
					      MN_PTE_R | MN_PTE_W | MN_PTE_X };

	return perms[mn_test_below(rng, 4)];
}

static void do_map(struct world *w, struct model *m, mn_gfn_t gfn, unsigned int level, mn_pfn_t pfn,
		   unsigned int perm, bool accessed)
{
	struct mn_pte p = leaf(&w->f, level, pfn, perm, accessed);
	struct mn_pt_result res;
	struct mleaf *x;
	unsigned int below, minl;
	int want = 0, ret;

	/* Expected outcome, from the model: a table in the way refuses without changes. */
	below = m_below(m, gfn, level, &minl);
	if (!below) {
		/* A huge leaf above the target is split first, whatever happens next. */
		while ((x = m_covering(m, gfn)) && x->level > level)
			m_split(m, x);
		x = m_covering(m, gfn);
		if (x && x->pfn != pfn)
			want = -EEXIST;
	} else {
		want = -EEXIST;
	}
	ret = mn_pt_map(w->pt, NULL, gfn, &p, &res);
	assert_int_equal(ret, want);
	if (ret)
		return;
	x = m_covering(m, gfn);
	if (!x)
		x = m_add(m, gfn, level, pfn, p.perm, accessed);
	x->perm = p.perm;
	x->accessed = accessed;
	x->mmu_w = p.perm & MN_PTE_W;
}

static void differential(enum fmt_id id, uint64_t seed, unsigned int steps)
{
	struct mn_test_rng rng = { seed };
	struct model *m = test_calloc(1, sizeof(*m));
	const mn_gfn_t window = 4 * span(3); /* 4 GiB: room for every leaf size */
	struct mn_pt_result res;
	struct world w;
	unsigned int s;

	world_open(&w, id);
	for (s = 0; s < steps; s++) {
		if (m_count(m) > 3000) {
			/* Keep the model small: start over with an empty window. */
			assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0, window },
						   MN_PT_ZAP_FREE_TABLES, &res),
					 0);
			assert_int_equal(res.zapped, m_count(m));
			m->n = 0;
		}
		unsigned int op = (unsigned int)mn_test_below(&rng, 10);
		unsigned int level = 1 + (unsigned int)mn_test_below(&rng, w.f.max_leaf_level);
		mn_gfn_t gfn = mn_align_down(mn_test_below(&rng, window), span(level));
		mn_pfn_t pfn = mn_align_down(mn_test_below(&rng, 1ULL << 30), span(level));
		struct mn_gfn_range r;

		/* Prefer small leaves: large ones swallow the window. */
		if (level == 3 && mn_test_below(&rng, 4))
			level = 1;
		gfn = mn_align_down(gfn, span(level));
		pfn = mn_align_down(pfn, span(level));
		r.start = mn_test_below(&rng, window);
		r.end = r.start + 1 + mn_test_below(&rng, mn_test_below(&rng, 4) ? 4096 : window);
		switch (op) {
		case 0:
		case 1:
		case 2:
			do_map(&w, m, gfn, level, pfn, random_perm(&rng), mn_test_below(&rng, 2));
			break;
		case 3: {
			/* Populate a whole 2M block with contiguous 4K leaves (collapsible). */
			mn_gfn_t b = mn_align_down(gfn, span(2));
			mn_pfn_t bp = mn_align_down(pfn, span(2));
			unsigned int k, perm = random_perm(&rng);

			for (k = 0; k < 512; k++)
				do_map(&w, m, b + k, 1, bp + k, perm, true);
			break;
		}
		case 4: {
			unsigned int i, n = 0;

			assert_int_equal(mn_pt_zap(w.pt, NULL, r, MN_PT_ZAP_FREE_TABLES, &res), 0);
			for (i = 0; i < m->n; i++) {
				struct mleaf *x = &m->l[i];

				if (x->used && x->gfn < r.end &&
				    x->gfn + span(x->level) > r.start) {
					x->used = false;
					n++;
				}
			}
			assert_int_equal(res.zapped, n);
			assert_int_equal(res.flush_needed, n > 0);
			if (n)
				assert_true(res.flush_range.start < res.flush_range.end);
			break;
		}
		case 5: {
			bool clear = mn_test_below(&rng, 2);
			unsigned int i, n = 0;

			for (i = 0; i < m->n; i++) {
				struct mleaf *x = &m->l[i];

				if (x->used && x->accessed && x->gfn < r.end &&
				    x->gfn + span(x->level) > r.start) {
					n++;
					if (clear)
						x->accessed = false;
				}
			}
			assert_int_equal(mn_pt_age(w.pt, r, clear, &res), n);
			break;
		}
		case 6: {
			unsigned int i, n = 0;

			for (i = 0; i < m->n; i++) {
				struct mleaf *x = &m->l[i];

				if (x->used && (x->perm & MN_PTE_W) && x->gfn < r.end &&
				    x->gfn + span(x->level) > r.start) {
					n++;
					x->perm &= ~MN_PTE_W;
				}
			}
			assert_int_equal(mn_pt_wrprot(w.pt, r, MN_PT_WRPROT_DIRTY_LOG, &res), n);
			assert_int_equal(res.flush_needed, n > 0);
			break;
		}
		case 7: {
			struct mleaf *x = m_covering(m, gfn);
			unsigned int lv =
				2 + (unsigned int)mn_test_below(&rng, w.f.max_leaf_level - 1);
			int want = x && x->level == lv ? 0 : -ENOENT;

			assert_int_equal(mn_pt_split(w.pt, NULL, gfn, lv, &res), want);
			if (!want)
				m_split(m, x);
			break;
		}
		default: {
			unsigned int lv =
				2 + (unsigned int)mn_test_below(&rng, w.f.max_leaf_level - 1);
			mn_gfn_t b = mn_align_down(gfn, span(lv));
			unsigned int below, minl, i, k;
			struct mleaf *first = NULL;
			bool ok = true, acc = false;
			int want;

			below = m_below(m, b, lv, &minl);
			if (!below) {
				want = -ENOENT;
			} else if (below != 512 || minl != lv - 1) {
				want = -EBUSY;
			} else {
				for (k = 0; k < 512 && ok; k++) {
					struct mleaf *x = m_covering(m, b + k * span(lv - 1));

					if (!first)
						first = x;
					ok = x->pfn == first->pfn + k * span(lv - 1) &&
					     x->perm == first->perm &&
					     mn_is_aligned(first->pfn, span(lv)) &&
					     (w.f.arch != MN_PT_EPT || x->mmu_w == first->mmu_w);
					acc |= x->accessed;
				}
				want = ok ? 0 : -EBUSY;
			}
			assert_int_equal(mn_pt_collapse(w.pt, NULL, b, lv, &res), want);
			if (!want) {
				mn_pfn_t p0 = first->pfn;
				unsigned int perm = first->perm;
				bool mmu_w = first->mmu_w;

				for (i = 0; i < m->n; i++)
					if (m->l[i].used && m->l[i].level == lv - 1 &&
					    m->l[i].gfn >= b && m->l[i].gfn < b + span(lv))
						m->l[i].used = false;
				m_add(m, b, lv, p0, perm, acc)->mmu_w = mmu_w;
				assert_true(res.flush_needed);
			}
			break;
		}
		}
		if (s % 8 == 0 || s + 1 == steps)
			verify(&w, m, &rng, window);
	}
	world_close(&w);
	test_free(m);
}

static void test_differential_all_formats(void **state)
{
	uint64_t seed = mn_test_seed("pt.differential");
	enum fmt_id id;

	(void)state;
	for (id = 0; id < FMT_NR; id++)
		differential(id, seed + id, 1500);
}

/* ---- sparse zaps ------------------------------------------------------------------------ */

static void test_sparse_zap_costs_what_is_present(void **state)
{
	struct mn_pt_result res;
	struct mn_pt_stats st;
	struct world w;
	unsigned int k;

	(void)state;
	world_open(&w, FMT_S2_48);
	/*  1 TiB of IPA space, 64 scattered 2M regions holding one 4K page each.
	 *  gfn  |.......x..........x......  ...  .....x....|
	 */
	for (k = 0; k < 64; k++) {
		struct mn_pte p = leaf(&w.f, 1, 0x1000 + k, MN_PTE_W, false);

		assert_int_equal(mn_pt_map(w.pt, NULL, k * 4099 * span(2), &p, &res), 0);
	}
	mn_pt_get_stats(w.pt, &st);
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0, 1ULL << 28 },
				   MN_PT_ZAP_FREE_TABLES, &res),
			 0);
	assert_int_equal(res.zapped, 64);
	/* Visited entries follow what was present, not the 2^28 gfns of the range. */
	assert_true(res.visited <= st.tables + st.leaves);
	assert_true(res.visited >= 64);
	assert_int_equal(res.tables_freed, st.tables - 1); /* all but the root */
	mn_pt_get_stats(w.pt, &st);
	assert_int_equal(st.tables, 1);
	assert_int_equal(st.leaves, 0);
	world_close(&w);
}

/* ---- break-before-make and yields ------------------------------------------------------ */

struct flush_log {
	struct mn_pt *pt;
	int calls[3];
	int locked_seen;
	struct mn_tlb *tlb;
};

static void record_flush(void *arg, enum mn_flush_kind kind, struct mn_gfn_range r,
			 unsigned int level)
{
	struct flush_log *fl = arg;
	struct mn_pt_walk wk;

	fl->calls[kind]++;
	if (kind == MN_FLUSH_IPA && mn_pt_walk(fl->pt, r.start, &wk) == -EAGAIN)
		fl->locked_seen++;
	if (fl->tlb)
		mn_tlb_flush(fl->tlb, kind, r, level);
}

static void test_stage2_break_before_make_in_trace(void **state)
{
	struct mn_sim_config cfg = { .trace_mode = MN_TRACE_FULL };
	struct mn_pt_format f;
	struct mn_pt_result res;
	struct flush_log fl = { 0 };
	struct mn_pt_ctx ctx = { .flush = record_flush, .flush_arg = &fl };
	struct mn_sim *sim;
	struct mn_trace *t;
	struct mn_pt *pt;
	struct mn_pte p;
	uint64_t i, inval = 0, tlbi = 0, install = 0;

	(void)state;
	assert_int_equal(mn_sim_create(&cfg, &sim), 0);
	t = mn_sim_get_trace(sim);
	ctx.sim = sim;
	assert_int_equal(mn_pt_format_stage2(&f, 40, 0), 0);
	assert_int_equal(mn_pt_create(mn_sim_get_alloc(sim), mn_sim_get_phys(sim), &f, &pt), 0);
	fl.pt = pt;
	p = leaf(&f, 2, 0x40000, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(pt, &ctx, 0x200, &p, &res), 0);
	assert_int_equal(fl.calls[MN_FLUSH_IPA], 0); /* invalid -> valid needs no break */
	/* A 4K mapping lands inside the 2M block: the block is broken into a table first. */
	p = leaf(&f, 1, 0x40003, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(pt, &ctx, 0x203, &p, &res), 0);
	assert_int_equal(fl.calls[MN_FLUSH_IPA], 1);
	assert_int_equal(fl.locked_seen, 1); /* the flush ran while the entry was LOCKED */
	assert_int_equal(res.flushes, 1);
	for (i = 1; i <= mn_trace_count(t); i++) {
		const char *step = mn_trace_get(t, i)->step;

		if (!strcmp(step, "pt.bbm.invalidate"))
			inval = i;
		else if (!strcmp(step, "pt.bbm.tlbi"))
			tlbi = i;
		else if (!strcmp(step, "pt.bbm.install"))
			install = i;
	}
	assert_true(inval && tlbi && install);
	assert_true(inval < tlbi && tlbi < install);
	mn_pt_destroy(pt);
	mn_sim_destroy(sim);
}

struct zapper {
	struct mn_pt *pt;
	struct flush_log *fl;
	struct mn_pt_result res;
};

static void zap_thread(struct mn_sim *sim, void *arg)
{
	struct zapper *z = arg;
	struct mn_pt_ctx ctx = {
		.sim = sim, .can_yield = true, .flush = record_flush, .flush_arg = z->fl
	};

	mn_yield(sim, "zapper.start");
	mn_pt_zap(z->pt, &ctx, (struct mn_gfn_range){ 0, 4 * span(2) }, 0, &z->res);
}

static void run_yielding_zap(bool skip_flush, int *range_flushes, uint64_t *yields)
{
	struct mn_sim_config cfg = { .trace_mode = MN_TRACE_OFF };
	struct flush_log fl = { 0 };
	struct mn_pt_result res;
	struct zapper z = { .fl = &fl };
	struct mn_pt_format f;
	struct mn_sim *sim;
	size_t i;
	unsigned int k;

	assert_int_equal(mn_sim_create(&cfg, &sim), 0);
	if (skip_flush)
		assert_int_equal(mn_sim_skip_step(sim, "zap.flush_before_yield"), 0);
	assert_int_equal(mn_pt_format_ept(&f, 4, 0), 0);
	assert_int_equal(mn_pt_create(mn_sim_get_alloc(sim), mn_sim_get_phys(sim), &f, &z.pt), 0);
	fl.pt = z.pt;
	for (k = 0; k < 4 * 512; k++) {
		struct mn_pte p = leaf(&f, 1, 0x100000 + k, 0, false);

		assert_int_equal(mn_pt_map(z.pt, NULL, k, &p, &res), 0);
	}
	assert_int_equal(mn_sim_spawn(sim, "zapper", zap_thread, &z, NULL), 0);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
	assert_int_equal(z.res.zapped, 4 * 512);
	*range_flushes = fl.calls[MN_FLUSH_RANGE];
	*yields = 0;
	for (i = 0; i < mn_sim_nr_steps(sim); i++)
		if (!strcmp(mn_sim_step_id(sim, i), "zap.flush_before_yield"))
			*yields = mn_sim_step_count(sim, i);
	mn_pt_destroy(z.pt);
	mn_sim_destroy(sim);
}

static void test_long_zap_flushes_before_each_yield(void **state)
{
	uint64_t yields;
	int flushes;

	(void)state;
	run_yielding_zap(false, &flushes, &yields);
	/* 2048 leaves, a yield point every 512: three yields, each after a flush. */
	assert_int_equal(yields, 3);
	assert_int_equal(flushes, 3);
	/* The mutant that skips the flush yields with translations still cached. */
	run_yielding_zap(true, &flushes, &yields);
	assert_int_equal(yields, 3);
	assert_int_equal(flushes, 0);
}

/* ---- yield budget, deferred stage-2 TLBI ------------------------------------------------ */

struct yield_log {
	struct mn_pt *pt;
	unsigned int yields;
	uint64_t leaves_at[8]; /* leaves still present at each yield */
	unsigned int ranges;
	struct mn_gfn_range range[8]; /* the ranged flushes, in order */
	int ipa;
	struct mn_tlb *tlb;
};

static void log_resched(void *arg)
{
	struct yield_log *yl = arg;
	struct mn_pt_stats st;

	mn_pt_get_stats(yl->pt, &st);
	assert_true(yl->yields < 8);
	yl->leaves_at[yl->yields++] = st.leaves;
}

static void log_flush(void *arg, enum mn_flush_kind kind, struct mn_gfn_range r, unsigned int level)
{
	struct yield_log *yl = arg;

	if (kind == MN_FLUSH_IPA)
		yl->ipa++;
	if (kind == MN_FLUSH_RANGE) {
		assert_true(yl->ranges < 8);
		yl->range[yl->ranges++] = r;
	}
	if (yl->tlb)
		mn_tlb_flush(yl->tlb, kind, r, level);
}

/* Map @n 4K leaves at the start of each of the leaf tables [@first_table, @last_table]. */
static unsigned int map_table_heads(struct world *w, unsigned int first_table,
				    unsigned int last_table, unsigned int n)
{
	struct mn_pt_result res;
	unsigned int t, k, mapped = 0;

	for (t = first_table; t <= last_table; t++)
		for (k = 0; k < n; k++) {
			mn_gfn_t gfn = t * 512ULL + k;
			struct mn_pte p = leaf(&w->f, 1, 0x100000 + gfn, MN_PTE_W, true);

			assert_int_equal(mn_pt_map(w->pt, NULL, gfn, &p, &res), 0);
			mapped++;
		}
	return mapped;
}

/*
 * A blockable zap goes through whole leaf tables at once but yields exactly where the
 * entry-by-entry walk would: after every 512th leaf it zapped, counted across tables, as
 * long as the range goes on past that leaf (tdp_mmu_iter_cond_resched() stands for
 * need_resched(), made deterministic).
 *
 *  table     0          1          2          3
 *  leaves    300        300        300        300     <- zap [0, 4 tables)
 *  yields            ^ after 512      ^ after 1024
 */
static void test_blockable_zap_yields_after_every_512_leaves(void **state)
{
	struct mn_pt_result res;
	struct yield_log yl = { 0 };
	struct mn_pt_ctx ctx = { .can_yield = true,
				 .flush = log_flush,
				 .flush_arg = &yl,
				 .resched = log_resched,
				 .resched_arg = &yl };
	struct world w;

	(void)state;
	world_open(&w, FMT_EPT4);
	yl.pt = w.pt;
	assert_int_equal(map_table_heads(&w, 0, 3, 300), 1200);
	assert_int_equal(mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0, 4 * 512 }, 0, &res), 0);
	assert_int_equal(res.zapped, 1200);
	assert_int_equal(yl.yields, 2);
	assert_int_equal(yl.leaves_at[0], 1200 - 512);
	assert_int_equal(yl.leaves_at[1], 1200 - 1024);
	/* x86 flushes what it zapped before each yield, and owes the rest to its caller. */
	assert_int_equal(yl.ranges, 2);
	assert_int_equal(yl.range[0].start, 0);
	assert_int_equal(yl.range[0].end, 512 + 212);
	assert_true(res.flush_needed);
	assert_int_equal(res.flush_range.start, 3 * 512 + 124);
	assert_int_equal(res.flush_range.end, 3 * 512 + 300);

	/* The 512th leaf is the last gfn of the range: nothing left to yield for. */
	memset(&yl, 0, sizeof(yl));
	yl.pt = w.pt;
	assert_int_equal(map_table_heads(&w, 0, 0, 512), 512);
	assert_int_equal(mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0, 512 }, 0, &res), 0);
	assert_int_equal(res.zapped, 512);
	assert_int_equal(yl.yields, 0);

	/* The range goes on past it, even with nothing mapped there: the walk yields once. */
	assert_int_equal(map_table_heads(&w, 0, 0, 512), 512);
	assert_int_equal(mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0, 1024 }, 0, &res), 0);
	assert_int_equal(res.zapped, 512);
	assert_int_equal(yl.yields, 1);
	assert_int_equal(yl.leaves_at[0], 0);

	/* Not blockable: one pass, no yield. */
	ctx.can_yield = false;
	assert_int_equal(map_table_heads(&w, 0, 3, 300), 1200);
	assert_int_equal(mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0, 4 * 512 }, 0, &res), 0);
	assert_int_equal(res.zapped, 1200);
	assert_int_equal(yl.yields, 1);
	world_close(&w);
}

/*
 * stage2_unmap_defer_tlb_flush(): with range TLBIs (MN_PT_ZAP_TLBI_RANGE) and FWB the
 * leaves go without a TLBI each and one ranged TLBI covers each stretch the walk covered
 * between yields; without either, a TLBI by IPA per leaf. The vCPU's TLB ends empty
 * either way.
 */
static void s2_deferral(enum fmt_id id, unsigned int flags, bool can_yield, int expect_ipa,
			unsigned int expect_ranges)
{
	struct mn_pt_result res;
	struct yield_log yl = { 0 };
	struct mn_pt_ctx ctx = { .can_yield = can_yield,
				 .flush = log_flush,
				 .flush_arg = &yl,
				 .resched = log_resched,
				 .resched_arg = &yl };
	struct mn_frame_ref frame[2];
	struct world w;
	mn_pfn_t pfn;
	unsigned int i;

	world_open(&w, id);
	yl.pt = w.pt;
	assert_int_equal(mn_tlb_create(w.a, 0, &yl.tlb), 0);
	assert_int_equal(map_table_heads(&w, 1, 3, 400), 1200);
	/* Two of them map real frames, which a vCPU caches. */
	for (i = 0; i < 2; i++) {
		mn_gfn_t gfn = i ? 3 * 512 + 399 : 512;
		struct mn_pte p;

		assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &frame[i]), 0);
		p = leaf(&w.f, 1, frame[i].pfn, MN_PTE_W, true);
		assert_int_equal(
			mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ gfn, gfn + 1 }, 0, &res), 0);
		assert_int_equal(mn_pt_map(w.pt, NULL, gfn, &p, &res), 0);
		assert_int_equal(mn_tlb_access(yl.tlb, w.pt, w.p, gfn, MN_PTE_R, "r", &pfn), 0);
	}
	assert_int_equal(mn_tlb_nr_entries(yl.tlb), 2);
	assert_int_equal(mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 100, 5 * 512 }, flags, &res),
			 0);
	assert_int_equal(res.zapped, 1200);
	assert_int_equal(yl.ipa, expect_ipa);
	assert_int_equal(yl.ranges, expect_ranges);
	assert_false(res.flush_needed);
	assert_int_equal(mn_tlb_nr_entries(yl.tlb), 0);
	/* The ranged TLBIs tile the zapped range, in order. */
	for (i = 0; i < yl.ranges; i++) {
		assert_int_equal(yl.range[i].start, i ? yl.range[i - 1].end : 100);
		assert_true(yl.range[i].start < yl.range[i].end);
	}
	if (yl.ranges)
		assert_int_equal(yl.range[yl.ranges - 1].end, 5 * 512);
	assert_int_equal(yl.yields, can_yield ? 2 : 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(mn_phys_put(w.p, frame[i], "free"), 1);
	mn_tlb_destroy(yl.tlb);
	world_close(&w);
}

static void test_stage2_unmap_defers_leaf_tlbis_with_range_tlbi_and_fwb(void **state)
{
	(void)state;
	s2_deferral(FMT_S2_48, MN_PT_ZAP_TLBI_RANGE, false, 0, 1);
	s2_deferral(FMT_S2_48, MN_PT_ZAP_TLBI_RANGE, true, 0, 3);
	s2_deferral(FMT_S2_48, 0, false, 1200, 0);		      /* no range TLBIs */
	s2_deferral(FMT_S2_40, MN_PT_ZAP_TLBI_RANGE, false, 1200, 0); /* no FWB */
	s2_deferral(FMT_S2_40, MN_PT_ZAP_TLBI_RANGE, true, 1200, 0);
}

/*
 * Aging and write-protection go through whole leaf tables with one decode per kind of leaf.
 * A word of 64 alike leaves, then a word where every fourth leaf differs: read-only, old,
 * A/D-disabled (aging access-tracks it) or another memory type. The result must be what
 * decoding every entry says.
 */
static void test_age_and_wrprot_of_mixed_leaf_words(void **state)
{
	struct mn_pt_result res;
	struct world w;
	unsigned int k, young = 0, writable = 0;

	(void)state;
	world_open(&w, FMT_EPT4);
	for (k = 0; k < 128; k++) {
		struct mn_pte p = leaf(&w.f, 1, 0x2000 + k, MN_PTE_W | MN_PTE_X, true);

		if (k >= 64 && k % 4 == 1)
			p = leaf(&w.f, 1, 0x2000 + k, MN_PTE_X, true);
		if (k >= 64 && k % 4 == 2)
			p.accessed = false;
		if (k >= 64 && k % 4 == 3) {
			p.ad_type = 1;
			if (k % 8 == 7)
				p.memtype = MN_MT_UC;
		}
		young += p.accessed;
		writable += !!(p.perm & MN_PTE_W);
		assert_int_equal(mn_pt_map(w.pt, NULL, 0x400 + k, &p, &res), 0);
	}
	/* A writable 2M leaf next to them. */
	{
		struct mn_pte h = leaf(&w.f, 2, 0x40000, MN_PTE_W, true);

		assert_int_equal(mn_pt_map(w.pt, NULL, 0x600, &h, &res), 0);
	}
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x400, 0x480 }, false, &res),
			 young);
	assert_int_equal(res.written, 0);
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x400, 0x480 }, true, &res), young);
	assert_int_equal(res.written, young);
	assert_int_equal(res.visited, 128 + 3); /* and the table entries on the way */
	for (k = 0; k < 128; k++) {
		struct mn_pt_walk wk;
		int ret = mn_pt_walk(w.pt, 0x400 + k, &wk);

		assert_int_equal(ret, 0);
		assert_false(wk.leaf.accessed);
		assert_int_equal(wk.pfn, 0x2000 + k);
		if (wk.leaf.ad_type == 1) {
			/* mark_spte_for_access_track(): RWX saved and cleared, W gone with it. */
			assert_int_equal(wk.leaf.perm, 0);
			assert_int_equal(wk.leaf.saved_perm, MN_PTE_R | MN_PTE_X);
			assert_true(wk.leaf.sw & MN_PTE_SW_ACC_TRACK);
			writable--;
		}
	}
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x400, 0x480 }, true, &res), 0);
	assert_int_equal(res.written, 0);

	/* 4K only: the 2M leaf keeps W. */
	assert_int_equal(mn_pt_wrprot(w.pt, (struct mn_gfn_range){ 0x400, 0x800 },
				      MN_PT_WRPROT_DIRTY_LOG | MN_PT_WRPROT_4K, &res),
			 writable);
	assert_int_equal(res.dirty, writable);
	assert_true(res.flush_needed);
	assert_int_equal(res.flush_range.start, 0x400);
	assert_int_equal(res.flush_range.end, 0x400 + 127);
	for (k = 0; k < 128; k++) {
		struct mn_pt_walk wk;

		assert_int_equal(mn_pt_walk(w.pt, 0x400 + k, &wk), 0);
		assert_false(wk.leaf.perm & MN_PTE_W);
		/* Dirty logging keeps MMU-writable for the fast page fault. */
		if (k < 64)
			assert_true(wk.leaf.sw & MN_PTE_SW_MMU_WRITABLE);
	}
	{
		struct mn_pt_walk wk;

		assert_int_equal(mn_pt_walk(w.pt, 0x600, &wk), 0);
		assert_true(wk.leaf.perm & MN_PTE_W);
	}
	/* Every level: now the 2M leaf; then MMU mode takes MMU-writable from the 4K ones. */
	assert_int_equal(mn_pt_wrprot(w.pt, (struct mn_gfn_range){ 0x400, 0x800 },
				      MN_PT_WRPROT_DIRTY_LOG, &res),
			 1);
	k = (unsigned int)mn_pt_wrprot(w.pt, (struct mn_gfn_range){ 0x400, 0x480 },
				       MN_PT_WRPROT_MMU, &res);
	assert_int_equal(k, res.written);
	/* All but the 16 read-only ones: access tracking kept MMU-writable. */
	assert_int_equal(k, 128 - 16);
	assert_int_equal(res.dirty, 0); /* none was writable: nothing to flush */
	assert_false(res.flush_needed);
	for (k = 0; k < 128; k++) {
		struct mn_pt_walk wk;

		assert_int_equal(mn_pt_walk(w.pt, 0x400 + k, &wk), 0);
		assert_false(wk.leaf.sw & MN_PTE_SW_MMU_WRITABLE);
	}
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0, 0x1000 },
				   MN_PT_ZAP_FREE_TABLES, &res),
			 0);
	world_close(&w);
}

/* ---- the TLB and the oracle ------------------------------------------------------------ */

static void stale_tlb(bool flush, enum fmt_id id)
{
	struct mn_pt_result res;
	struct mn_frame_ref page;
	struct mn_tlb_stats ts;
	struct mn_tlb *tlb;
	struct world w;
	struct mn_pte p;
	mn_pfn_t pfn;

	world_open(&w, id);
	assert_int_equal(mn_tlb_create(w.a, 0, &tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &page), 0);
	p = leaf(&w.f, 1, page.pfn, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x77, &p, &res), 0);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x77, MN_PTE_W, "guest.write", &pfn), 0);
	assert_int_equal(pfn, page.pfn);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x77, MN_PTE_R, "guest.read", &pfn), 0);
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0x77, 0x78 }, 0, &res), 0);
	assert_true(res.flush_needed);
	if (flush)
		assert_int_equal(mn_tlb_flush(tlb, MN_FLUSH_RANGE, res.flush_range, 0), 1);
	assert_int_equal(mn_phys_put(w.p, page, "munmap"), 1);
	if (flush) {
		assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x77, MN_PTE_R, "guest.read", &pfn),
				 -EFAULT);
		assert_int_equal(mn_trace_nr_violations(w.t), 0);
	} else {
		assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x77, MN_PTE_R, "guest.read", &pfn),
				 -ESTALE);
		assert_int_equal(mn_trace_count_violations(w.t, MN_VIOL_USE_AFTER_FREE), 1);
		assert_string_equal(mn_trace_violation(w.t, 0)->what, "guest.read");
	}
	mn_tlb_get_stats(tlb, &ts);
	assert_int_equal(ts.fills, 1);
	assert_int_equal(ts.hits, flush ? 1 : 2);
	assert_int_equal(ts.flush_range, flush ? 1 : 0);
	mn_tlb_destroy(tlb);
	world_close(&w);
}

static void test_stale_tlb_after_zap_without_flush(void **state)
{
	enum fmt_id id;

	(void)state;
	for (id = 0; id < FMT_NR; id++) {
		stale_tlb(false, id);
		stale_tlb(true, id);
	}
}

static void test_tlb_flush_kinds_and_permissions(void **state)
{
	struct mn_pt_result res;
	struct mn_frame_ref big;
	struct mn_tlb_stats ts;
	struct mn_tlb *tlb;
	struct world w;
	struct mn_pte p;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_EPT4);
	assert_int_equal(mn_tlb_create(w.a, 4, &tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &big), 0);
	p = leaf(&w.f, 2, big.pfn, 0, true); /* read-only 2M */
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x400, &p, &res), 0);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x401, MN_PTE_W, "w", &pfn), -EACCES);
	assert_int_equal(mn_tlb_nr_entries(tlb), 0); /* a permission fault caches nothing */
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x5ff, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(pfn, big.pfn + 0x1ff);
	assert_int_equal(mn_tlb_nr_entries(tlb), 1);
	/* One 2M entry serves the whole block; TLBI by IPA anywhere inside drops it. */
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x400, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_flush(tlb, MN_FLUSH_IPA, (struct mn_gfn_range){ 0x432, 0 }, 1), 1);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x400, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_flush(tlb, MN_FLUSH_RANGE, (struct mn_gfn_range){ 0, 0x400 }, 0),
			 0);
	assert_int_equal(mn_tlb_flush(tlb, MN_FLUSH_ALL, (struct mn_gfn_range){ 0, 0 }, 0), 1);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x9999, MN_PTE_R, "r", &pfn), -EFAULT);
	mn_tlb_get_stats(tlb, &ts);
	assert_int_equal(ts.flush_ipa, 1);
	assert_int_equal(ts.flush_range, 1);
	assert_int_equal(ts.flush_all, 1);
	assert_int_equal(ts.dropped, 2);
	assert_int_equal(ts.hits, 1);
	mn_tlb_destroy(tlb);
	assert_int_equal(mn_phys_put(w.p, big, "free"), 1);
	world_close(&w);
}

/* A cached translation whose frame goes without a flush is reported, used or not. */
static void test_tlb_check_frames_finds_unflushed_translations(void **state)
{
	struct mn_pt_result res;
	struct mn_frame_ref f;
	struct mn_tlb *tlb;
	struct world w;
	struct mn_pte p;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_EPT4);
	assert_int_equal(mn_tlb_create(w.a, 4, &tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &f), 0);
	p = leaf(&w.f, 1, f.pfn, 0, true);
	assert_int_equal(mn_pt_map_frame(w.pt, NULL, 0x10, &p, f.gen, &res), 0);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x10, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_check_frames(tlb, w.p, "tlb"), 0);
	/* Zapped and freed, but never flushed. */
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0x10, 0x11 }, 0, &res), 0);
	assert_int_equal(mn_phys_put(w.p, f, "free"), 1);
	assert_int_equal(mn_tlb_check_frames(tlb, w.p, "tlb"), 1);
	assert_int_equal(mn_trace_count_violations(w.t, MN_VIOL_USE_AFTER_FREE), 1);
	/* Flushed: nothing left to report. */
	mn_tlb_flush(tlb, MN_FLUSH_ALL, (struct mn_gfn_range){ 0, 0 }, 0);
	assert_int_equal(mn_tlb_check_frames(tlb, w.p, "tlb"), 0);
	mn_tlb_destroy(tlb);
	mn_trace_clear_violations(w.t);
	world_close(&w);
}

/* ---- the rest of the API ---------------------------------------------------------------- */

static void test_map_arguments_and_dump(void **state)
{
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;
	struct mn_pte p;
	char buf[4096];
	FILE *mem;

	(void)state;
	world_open(&w, FMT_EPT4);
	p = leaf(&w.f, 2, 0x200, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x201, &p, &res), -EINVAL); /* misaligned gfn */
	p.level = 4;
	assert_int_equal(mn_pt_map(w.pt, NULL, 0, &p, &res), -EINVAL); /* no 512G leaves */
	p.level = 1;
	assert_int_equal(mn_pt_map(w.pt, NULL, 1ULL << 36, &p, &res), -ERANGE);
	assert_int_equal(mn_pt_walk(w.pt, 1ULL << 36, &wk), -ERANGE);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x10, &p, &res), 0);
	assert_int_equal(res.tables_allocated, 3);
	p.pfn = 0x201;
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x10, &p, &res), -EEXIST); /* another frame */
	/* Same frame: rights reduced in place, the caller must flush. */
	p = leaf(&w.f, 1, 0x200, 0, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x10, &p, &res), 0);
	assert_true(res.flush_needed);
	p = leaf(&w.f, 2, 0x400, 0, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0, &p, &res), -EEXIST); /* a table is there */
	/* Dirty logging clears W and keeps MMU-writable; shadow-paging protection drops it. */
	p = leaf(&w.f, 1, 0x300, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x11, &p, &res), 0);
	assert_int_equal(mn_pt_wrprot(w.pt, (struct mn_gfn_range){ 0x11, 0x12 },
				      MN_PT_WRPROT_DIRTY_LOG, &res),
			 1);
	assert_true(res.flush_needed);
	assert_int_equal(mn_pt_walk(w.pt, 0x11, &wk), 0);
	assert_int_equal(wk.leaf.perm, MN_PTE_R);
	assert_true(wk.leaf.sw & MN_PTE_SW_MMU_WRITABLE);
	assert_int_equal(
		mn_pt_wrprot(w.pt, (struct mn_gfn_range){ 0x11, 0x12 }, MN_PT_WRPROT_MMU, &res), 1);
	assert_false(res.flush_needed); /* W was already clear: nothing cached can write */
	assert_int_equal(mn_pt_walk(w.pt, 0x11, &wk), 0);
	assert_false(wk.leaf.sw & MN_PTE_SW_MMU_WRITABLE);
	mem = fmemopen(buf, sizeof(buf), "w");
	assert_int_equal(mn_pt_dump_walk(w.pt, 0x10, mem), 0);
	fclose(mem);
	assert_non_null(strstr(buf, "walk ept4 gfn 0x10:"));
	assert_non_null(strstr(buf, "  L4 idx 0"));
	assert_non_null(strstr(buf, "leaf 4K pfn=0x200"));
	assert_non_null(strstr(buf, "-> pfn 0x200"));
	world_close(&w);
}

/* ---- regressions found in review ------------------------------------------------------- */

static void test_age_clears_accessed_with_write_protect_only_ad(void **state)
{
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;
	struct mn_pte p;

	(void)state;
	world_open(&w, FMT_EPT4);
	p = leaf(&w.f, 1, 0x123, 0, true);
	p.ad_type = 2; /* A/D enabled for accesses, not for writes (nested EPT with PML) */
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x10, &p, &res), 0);
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x10, 0x11 }, true, &res), 1);
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x10, 0x11 }, true, &res), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), 0);
	assert_false(wk.leaf.accessed);
	assert_false(wk.leaf.sw & MN_PTE_SW_ACC_TRACK);
	world_close(&w);
}

static void test_collapse_keeps_access_tracked_permissions_apart(void **state)
{
	struct mn_pt_result res;
	struct world w;
	unsigned int k;

	(void)state;
	world_open(&w, FMT_EPT4);
	for (k = 0; k < 512; k++) {
		struct mn_pte p = leaf(&w.f, 1, 0x200 + k, k ? 0 : MN_PTE_X, true);

		p.ad_type = 1; /* A/D disabled: aging access-tracks */
		assert_int_equal(mn_pt_map(w.pt, NULL, 0x200 + k, &p, &res), 0);
	}
	assert_int_equal(mn_pt_collapse(w.pt, NULL, 0x200, 2, &res), -EBUSY);
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x200, 0x400 }, true, &res), 512);
	/* All RWX bits are 0 now; only the saved R/X differ, and they must still count. */
	assert_int_equal(mn_pt_collapse(w.pt, NULL, 0x200, 2, &res), -EBUSY);
	world_close(&w);
}

static void test_stage2_collapse_flushes_the_table_span(void **state)
{
	struct flush_log fl = { 0 };
	struct mn_pt_ctx ctx = { .flush = record_flush, .flush_arg = &fl };
	struct mn_pt_result res;
	struct mn_frame_ref big;
	struct mn_tlb *tlb;
	struct world w;
	unsigned int k;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_S2_40);
	fl.pt = w.pt;
	assert_int_equal(mn_tlb_create(w.a, 1024, &tlb), 0);
	fl.tlb = tlb;
	assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &big), 0);
	for (k = 0; k < 512; k++) {
		struct mn_pte p = leaf(&w.f, 1, big.pfn + k, MN_PTE_W, true);

		assert_int_equal(mn_pt_map(w.pt, &ctx, 0x200 + k, &p, &res), 0);
		assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x200 + k, MN_PTE_R, "r", &pfn), 0);
	}
	assert_int_equal(mn_tlb_nr_entries(tlb), 512);
	assert_int_equal(mn_pt_collapse(w.pt, &ctx, 0x234, 2, &res), 0);
	/* The table entry was broken with a flush of its whole span, seen LOCKED meanwhile. */
	assert_int_equal(fl.calls[MN_FLUSH_RANGE], 1);
	assert_int_equal(mn_tlb_nr_entries(tlb), 0);
	assert_false(res.flush_needed);
	assert_int_equal(mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0x200, 0x400 }, 0, &res), 0);
	assert_int_equal(mn_phys_put(w.p, big, "free"), 1);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x205, MN_PTE_R, "r", &pfn), -EFAULT);
	assert_int_equal(mn_trace_nr_violations(w.t), 0);
	mn_tlb_destroy(tlb);
	world_close(&w);
}

/* A flush seen by the replacing map: what it covered, and how many tables were live. */
struct replace_log {
	struct mn_pt *pt;
	struct mn_tlb *tlb;
	int calls[3];
	struct mn_gfn_range last;
	unsigned int last_level;
	uint64_t tables_at_flush;
};

static void replace_flush(void *arg, enum mn_flush_kind kind, struct mn_gfn_range r,
			  unsigned int level)
{
	struct replace_log *rl = arg;
	struct mn_pt_stats st;

	mn_pt_get_stats(rl->pt, &st);
	rl->calls[kind]++;
	rl->last = r;
	rl->last_level = level;
	rl->tables_at_flush = st.tables;
	mn_tlb_flush(rl->tlb, kind, r, level);
}

/* Empty [0, 0x400), free the 2M folio @big (its last reference), check, and close. */
static void replace_world_close(struct world *w, struct replace_log *rl, struct mn_frame_ref big)
{
	struct mn_pt_result res;

	assert_int_equal(mn_pt_zap(w->pt, NULL, (struct mn_gfn_range){ 0, 0x400 },
				   MN_PT_ZAP_FREE_TABLES, &res),
			 0);
	assert_int_equal(mn_phys_put(w->p, big, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(w->t), 0);
	mn_tlb_destroy(rl->tlb);
	world_close(w);
}

/*
 * mn_pt_map_replace(MN_PT_MAP_TABLE): a 2M leaf over a table of three 4K leaves (and over
 * an empty table), on EPT and stage-2. The span is invalidated once, while the old table
 * still exists (freed only afterwards), the cached 4K translations go, the old leaves count
 * as zapped, and plain mn_pt_map_frame() still refuses.
 *
 *  gfn   0x200                          0x400
 *  4K    [a][b][c]            <- mapped, cached in the TLB
 *  2M    [............ one leaf ........)  <- mn_pt_map_replace()
 */
static void test_map_replace_turns_a_table_into_a_huge_leaf(void **state)
{
	static const enum fmt_id ids[] = { FMT_EPT4, FMT_S2_40 };
	unsigned int i, k;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct replace_log rl = { 0 };
		struct mn_pt_ctx ctx = { .flush = replace_flush, .flush_arg = &rl };
		struct mn_pt_stats before, after;
		struct mn_pt_result res;
		struct mn_frame_ref big;
		struct mn_pt_walk wk;
		struct mn_pte p;
		struct world w;
		mn_pfn_t pfn;

		world_open(&w, ids[i]);
		rl.pt = w.pt;
		assert_int_equal(mn_tlb_create(w.a, 64, &rl.tlb), 0);
		assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &big), 0);
		for (k = 0; k < 3; k++) {
			p = leaf(&w.f, 1, big.pfn + k, MN_PTE_W, true);
			assert_int_equal(mn_pt_map_frame(w.pt, &ctx, 0x200 + k, &p, big.gen, &res),
					 0);
			assert_int_equal(
				mn_tlb_access(rl.tlb, w.pt, w.p, 0x200 + k, MN_PTE_R, "r", &pfn),
				0);
		}
		assert_int_equal(mn_tlb_nr_entries(rl.tlb), 3);
		p = leaf(&w.f, 2, big.pfn, MN_PTE_W, true);
		assert_int_equal(mn_pt_map_frame(w.pt, &ctx, 0x200, &p, big.gen, &res), -EEXIST);
		assert_int_equal(mn_pt_map_replace(w.pt, &ctx, 0x200, &p, big.gen, 4, &res),
				 -EINVAL);
		mn_pt_get_stats(w.pt, &before);
		memset(rl.calls, 0, sizeof(rl.calls));
		assert_int_equal(
			mn_pt_map_replace(w.pt, &ctx, 0x200, &p, big.gen, MN_PT_MAP_TABLE, &res),
			0);
		mn_pt_get_stats(w.pt, &after);
		/* One invalidation of the whole span, with the old table still allocated. */
		assert_int_equal(rl.calls[MN_FLUSH_RANGE], 1);
		assert_int_equal(rl.calls[MN_FLUSH_IPA] + rl.calls[MN_FLUSH_ALL], 0);
		assert_int_equal(rl.last.start, 0x200);
		assert_int_equal(rl.last.end, 0x400);
		assert_int_equal(rl.tables_at_flush, before.tables);
		assert_int_equal(after.tables, before.tables - 1);
		assert_int_equal(after.tables_freed, before.tables_freed + 1);
		assert_int_equal(after.leaves, before.leaves - 3 + 1);
		assert_int_equal(res.zapped, 3);
		assert_int_equal(res.tables_freed, 1);
		assert_int_equal(res.flushes, 1);
		assert_false(res.flush_needed);
		assert_int_equal(mn_tlb_nr_entries(rl.tlb), 0);
		assert_int_equal(mn_pt_walk(w.pt, 0x2ff, &wk), 0);
		assert_int_equal(wk.leaf.level, 2);
		assert_int_equal(wk.pfn, big.pfn + 0xff);
		assert_int_equal(mn_pt_check_frames(w.pt, w.p, "leaf"), 0);

		/* An empty table left by a zap is replaced the same way, nothing zapped. */
		assert_int_equal(
			mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0x200, 0x400 }, 0, &res), 0);
		p = leaf(&w.f, 1, big.pfn, MN_PTE_W, true);
		assert_int_equal(mn_pt_map_frame(w.pt, &ctx, 0x200, &p, big.gen, &res), 0);
		assert_int_equal(
			mn_pt_zap(w.pt, &ctx, (struct mn_gfn_range){ 0x200, 0x201 }, 0, &res), 0);
		mn_pt_get_stats(w.pt, &before);
		p = leaf(&w.f, 2, big.pfn, 0, true);
		assert_int_equal(
			mn_pt_map_replace(w.pt, &ctx, 0x200, &p, big.gen, MN_PT_MAP_TABLE, &res),
			0);
		mn_pt_get_stats(w.pt, &after);
		assert_int_equal(res.zapped, 0);
		assert_int_equal(after.tables, before.tables - 1);
		assert_int_equal(after.leaves, before.leaves + 1);

		/* Without a flush callback the caller is told to flush, and the table goes. */
		assert_int_equal(
			mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0x200, 0x400 }, 0, &res), 0);
		p = leaf(&w.f, 1, big.pfn + 7, 0, true);
		assert_int_equal(mn_pt_map_frame(w.pt, NULL, 0x207, &p, big.gen, &res), 0);
		p = leaf(&w.f, 2, big.pfn, 0, true);
		assert_int_equal(
			mn_pt_map_replace(w.pt, NULL, 0x200, &p, big.gen, MN_PT_MAP_TABLE, &res),
			0);
		assert_true(res.flush_needed);
		assert_int_equal(res.flush_range.start, 0x200);
		assert_int_equal(res.flush_range.end, 0x400);
		assert_int_equal(res.zapped, 1);
		assert_int_equal(res.tables_freed, 1);

		replace_world_close(&w, &rl, big);
	}
}

/*
 * mn_pt_map_replace(MN_PT_MAP_BLOCK): a 4K leaf under a 2M block on stage-2 breaks the
 * block with a TLBI by address at its level and links an empty table (arm64
 * stage2_map_walk_leaf()), where plain mapping splits it into 512 leaves.
 */
static void test_map_replace_block_links_an_empty_table(void **state)
{
	struct replace_log rl = { 0 };
	struct mn_pt_ctx ctx = { .flush = replace_flush, .flush_arg = &rl };
	struct mn_pt_stats st;
	struct mn_pt_result res;
	struct mn_frame_ref big;
	struct mn_pt_walk wk;
	struct mn_pte p;
	struct world w;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_S2_40);
	rl.pt = w.pt;
	assert_int_equal(mn_tlb_create(w.a, 64, &rl.tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &big), 0);
	p = leaf(&w.f, 2, big.pfn, 0, true);
	assert_int_equal(mn_pt_map_frame(w.pt, &ctx, 0x200, &p, big.gen, &res), 0);
	assert_int_equal(mn_tlb_access(rl.tlb, w.pt, w.p, 0x210, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_nr_entries(rl.tlb), 1);
	p = leaf(&w.f, 1, big.pfn + 5, MN_PTE_W, true);
	assert_int_equal(mn_pt_map_replace(w.pt, &ctx, 0x205, &p, big.gen, MN_PT_MAP_BLOCK, &res),
			 0);
	assert_int_equal(rl.calls[MN_FLUSH_IPA], 1);
	assert_int_equal(rl.last.start, 0x200);
	assert_int_equal(rl.last_level, 2);
	assert_int_equal(rl.calls[MN_FLUSH_RANGE] + rl.calls[MN_FLUSH_ALL], 0);
	assert_int_equal(mn_tlb_nr_entries(rl.tlb), 0);
	assert_int_equal(res.zapped, 1);
	assert_int_equal(res.tables_allocated, 1);
	mn_pt_get_stats(w.pt, &st);
	assert_int_equal(st.leaves, 1);
	assert_int_equal(mn_pt_walk(w.pt, 0x205, &wk), 0);
	assert_int_equal(wk.leaf.level, 1);
	assert_true(wk.leaf.perm & MN_PTE_W);
	assert_int_not_equal(mn_pt_walk(w.pt, 0x204, &wk), 0);
	assert_int_not_equal(mn_pt_walk(w.pt, 0x206, &wk), 0);

	replace_world_close(&w, &rl, big);
}

static void test_stage2_attribute_change_breaks_before_making(void **state)
{
	struct flush_log fl = { 0 };
	struct mn_pt_ctx ctx = { .flush = record_flush, .flush_arg = &fl };
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;
	struct mn_pte p;

	(void)state;
	world_open(&w, FMT_S2_40);
	fl.pt = w.pt;
	p = leaf(&w.f, 1, 0x99, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, &ctx, 0x5, &p, &res), 0);
	p.memtype = MN_MT_DEVICE;
	p.perm = MN_PTE_R;
	assert_int_equal(mn_pt_map(w.pt, &ctx, 0x5, &p, &res), 0);
	assert_int_equal(fl.calls[MN_FLUSH_IPA], 1);
	assert_int_equal(fl.locked_seen, 1);
	assert_int_equal(mn_pt_walk(w.pt, 0x5, &wk), 0);
	assert_int_equal(wk.leaf.memtype, MN_MT_DEVICE);
	/* Writing the same entry again changes nothing and flushes nothing. */
	assert_int_equal(mn_pt_map(w.pt, &ctx, 0x5, &p, &res), 0);
	assert_int_equal(res.written, 0);
	assert_int_equal(fl.calls[MN_FLUSH_IPA], 1);
	world_close(&w);
}

static void test_tlb_capacity_permission_upgrade_and_split_folios(void **state)
{
	struct mn_frame_ref all[1024], *pages;
	struct mn_pt_result res;
	struct mn_tlb_stats ts;
	struct mn_tlb *tlb;
	struct world w;
	struct mn_pte p;
	unsigned int k;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_EPT4);
	assert_int_equal(mn_tlb_create(w.a, 4, &tlb), 0);
	/* A 2M leaf over 512 separate order-0 folios, made by collapsing 4K leaves. */
	for (k = 0; k < 1024; k++)
		assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &all[k]), 0);
	for (k = 0; !mn_is_aligned(all[k].pfn, 512); k++)
		;
	pages = &all[k];
	assert_true(k + 512 <= 1024);
	assert_int_equal(pages[511].pfn, pages[0].pfn + 511);
	for (k = 0; k < 512; k++) {
		p = leaf(&w.f, 1, pages[k].pfn, 0, true);
		assert_int_equal(mn_pt_map(w.pt, NULL, 0x200 + k, &p, &res), 0);
	}
	assert_int_equal(mn_pt_collapse(w.pt, NULL, 0x200, 2, &res), 0);
	/* Each 4K page is cached on its own: no false use-after-free across folios. */
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x200, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x205, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(pfn, pages[5].pfn);
	assert_int_equal(mn_trace_nr_violations(w.t), 0);
	/* Permission upgrade in place: the read-only entry is dropped on the write fault. */
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x205, MN_PTE_W, "w", &pfn), -EACCES);
	p = leaf(&w.f, 2, pages[0].pfn, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x200, &p, &res), 0);
	assert_false(res.flush_needed);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x205, MN_PTE_W, "w", &pfn), 0);
	/* Capacity: free slots are filled first; a full TLB evicts its oldest entry. */
	for (k = 0; k < 6; k++)
		assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x210 + k, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_nr_entries(tlb), 4);
	assert_int_equal(mn_tlb_flush(tlb, MN_FLUSH_IPA, (struct mn_gfn_range){ 0x215, 0 }, 1), 1);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x220, MN_PTE_R, "r", &pfn), 0);
	assert_int_equal(mn_tlb_nr_entries(tlb), 4);
	mn_tlb_get_stats(tlb, &ts);
	assert_true(ts.evicted >= 4);
	mn_tlb_destroy(tlb);
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0x200, 0x400 }, 0, &res), 0);
	for (k = 0; k < 1024; k++)
		assert_int_equal(mn_phys_put(w.p, all[k], "free"), 1);
	world_close(&w);
}

static void test_leaves_remember_their_frame_generation(void **state)
{
	struct mn_frame_ref page, reused, big;
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct mn_tlb *tlb;
	struct world w;
	struct mn_pte p;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_EPT4);
	assert_int_equal(mn_tlb_create(w.a, 0, &tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &page), 0);
	p = leaf(&w.f, 1, page.pfn, MN_PTE_W, true);
	assert_int_equal(mn_pt_map_frame(w.pt, NULL, 0x30, &p, page.gen, &res), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x30, &wk), 0);
	assert_int_equal(wk.gen, page.gen);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "ept.leaf"), 0);

	/* The frame goes back and is reused, but nobody zapped the leaf (the RFC's bug). */
	assert_int_equal(mn_phys_put(w.p, page, "munmap"), 1);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_FILE, 0, &reused), 0);
	assert_int_equal(reused.pfn, page.pfn);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "ept.leaf"), 1);
	assert_string_equal(mn_trace_violation(w.t, 0)->what, "ept.leaf");
	assert_int_equal(mn_trace_violation(w.t, 0)->frame_gen, reused.gen); /* reused since */
	/* A guest access through the stale leaf is caught at TLB fill, reuse or not. */
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x30, MN_PTE_R, "guest.read", &pfn),
			 -ESTALE);
	assert_int_equal(mn_trace_count_violations(w.t, MN_VIOL_USE_AFTER_FREE), 2);
	/* Zapped, the leaf is gone and so is the report. */
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0x30, 0x31 }, 0, &res), 0);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "ept.leaf"), 0);

	/* A huge leaf's generation follows its split pieces. */
	assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &big), 0);
	p = leaf(&w.f, 2, big.pfn, MN_PTE_W, true);
	assert_int_equal(mn_pt_map_frame(w.pt, NULL, 0x200, &p, big.gen, &res), 0);
	assert_int_equal(mn_pt_split(w.pt, NULL, 0x200, 2, &res), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x3ff, &wk), 0);
	assert_int_equal(wk.gen, big.gen);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "ept.leaf"), 0);
	assert_int_equal(mn_phys_put(w.p, big, "free"), 1);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "ept.leaf"), 512);
	/* Leaves mapped without a generation are not checked. */
	p = leaf(&w.f, 1, reused.pfn, 0, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x40, &p, &res), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x40, &wk), 0);
	assert_int_equal(wk.gen, 0);
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0, 0x1000 }, 0, &res), 0);
	assert_int_equal(mn_phys_put(w.p, reused, "free"), 1);
	mn_tlb_destroy(tlb);
	world_close(&w);
}

/* ---- host PROTNONE and migration entries, mn_pt_update() ------------------------------- */

/* What change_entry() turns each visited entry into, and what it saw. */
struct change {
	enum mn_pte_kind to; /* the replacement kind; MN_PTE_NONE clears */
	unsigned int perm;   /* MN_PTE_LEAF: the new permissions */
	mn_pfn_t pfn;	     /* a new frame for the first entry, or 0 to keep it */
	uint64_t gen;	     /* a new generation, or 0 to keep it */
	unsigned int bad_at; /* the call (from 1) that returns a leaf without R, or 0 */
	bool keep;	     /* only look: return false */
	unsigned int calls;
	mn_gfn_t gfn[8];
	struct mn_pte seen[8];
};

static bool change_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct change *c = arg;

	if (c->calls < 8) {
		c->gfn[c->calls] = gfn;
		c->seen[c->calls] = *pte;
	}
	if (++c->calls == c->bad_at) {
		pte->kind = MN_PTE_LEAF;
		pte->perm = MN_PTE_W; /* write without read: no x86 entry says that */
		return true;
	}
	if (c->keep)
		return false;
	pte->kind = c->to;
	switch (c->to) {
	case MN_PTE_PROTNONE: /* pte_modify(PAGE_NONE): A and D stay */
		pte->perm = 0;
		break;
	case MN_PTE_MIGRATION: /* try_to_migrate_one(): writable or not, A/D go to the folio */
		pte->perm = pte->perm & MN_PTE_W ? MN_PTE_R | MN_PTE_W : MN_PTE_R;
		pte->accessed = pte->dirty = false;
		break;
	case MN_PTE_LEAF:
		pte->perm = c->perm;
		break;
	default:
		break;
	}
	if (c->pfn && c->calls == 1)
		pte->pfn = c->pfn;
	if (c->gen)
		*gen = c->gen;
	return true;
}

static int update(struct world *w, struct mn_gfn_range r, struct change *c,
		  struct mn_pt_result *res)
{
	c->calls = 0;
	return mn_pt_update(w->pt, r, change_entry, c, res);
}

static void map_host(struct world *w, mn_gfn_t gfn, unsigned int level, mn_pfn_t pfn,
		     unsigned int perm, bool accessed, bool dirty, uint64_t gen)
{
	struct mn_pte p = leaf(&w->f, level, pfn, perm, accessed);
	struct mn_pt_result res;

	p.dirty = dirty;
	assert_int_equal(mn_pt_map_frame(w->pt, NULL, gfn, &p, gen, &res), 0);
}

static uint64_t nr_leaves(struct world *w)
{
	struct mn_pt_stats st;

	mn_pt_get_stats(w->pt, &st);
	return st.leaves;
}

static void test_walk_reports_protnone_and_migration_entries(void **state)
{
	struct change to_pn = { .to = MN_PTE_PROTNONE }, to_mig = { .to = MN_PTE_MIGRATION };
	struct mn_pt_result res;
	struct mn_pt_stats st;
	struct mn_pt_walk wk;
	struct mn_tlb *tlb;
	struct world w;
	struct mn_pte p;
	char buf[4096];
	mn_pfn_t pfn;
	FILE *mem;

	(void)state;
	world_open(&w, FMT_HOST);
	assert_int_equal(mn_tlb_create(w.a, 0, &tlb), 0);
	/*  gfn   0x10   0x200 ........ 0x3ff
	 *  host  PN     MIGRATION (2M, writable)
	 */
	map_host(&w, 0x10, 1, 0x1234, MN_PTE_W, true, true, 7);
	map_host(&w, 0x200, 2, 0x400, MN_PTE_W, true, false, 9);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x10, 0x11 }, &to_pn, &res), 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x200, 0x400 }, &to_mig, &res), 0);

	/* Not a translation, but the walk hands the entry to software walkers. */
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_PROTNONE);
	assert_int_equal(wk.leaf.level, 1);
	assert_int_equal(wk.leaf.pfn, 0x1234);
	assert_int_equal(wk.leaf.perm, 0);
	assert_true(wk.leaf.accessed && wk.leaf.dirty);
	assert_int_equal(wk.pfn, 0x1234);
	assert_int_equal(wk.gen, 7);
	assert_int_equal(mn_pt_walk(w.pt, 0x205, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_MIGRATION);
	assert_int_equal(wk.leaf.level, 2);
	assert_int_equal(wk.leaf.perm, MN_PTE_R | MN_PTE_W);
	assert_int_equal(wk.leaf.pfn, 0x400);
	assert_int_equal(wk.pfn, 0x405);
	assert_int_equal(wk.gen, 9);
	/* A plain hole says so. */
	assert_int_equal(mn_pt_walk(w.pt, 0x11, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_NONE);
	/* Both count as leaves; to the hardware both are a fault. */
	assert_int_equal(nr_leaves(&w), 2);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x10, MN_PTE_R, "r", &pfn), -EFAULT);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x205, MN_PTE_R, "r", &pfn), -EFAULT);
	assert_int_equal(mn_tlb_nr_entries(tlb), 0);

	/* Mapping over them is refused, the huge one not split on the way. */
	mn_pt_get_stats(w.pt, &st);
	p = leaf(&w.f, 1, 0x1234, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x10, &p, &res), -EEXIST);
	p = leaf(&w.f, 1, 0x403, MN_PTE_W, true);
	assert_int_equal(mn_pt_map(w.pt, NULL, 0x203, &p, &res), -EEXIST);
	assert_int_equal(res.tables_allocated, 0);
	assert_int_equal(nr_leaves(&w), 2);
	assert_int_equal(mn_pt_get_format(w.pt)->arch, MN_PT_HOST_X86);

	mem = fmemopen(buf, sizeof(buf), "w");
	assert_int_equal(mn_pt_dump_walk(w.pt, 0x10, mem), -ENOENT);
	fclose(mem);
	assert_non_null(strstr(buf, "protnone 4K pfn=0x1234 A D"));
	mn_tlb_destroy(tlb);
	world_close(&w);
}

static void test_update_clears_and_counts(void **state)
{
	struct change clear = { .to = MN_PTE_NONE };
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;

	(void)state;
	world_open(&w, FMT_HOST);
	/*  gfn   0x10 0x11 0x12 0x13
	 *        A D  A    .    -
	 */
	map_host(&w, 0x10, 1, 0x100, MN_PTE_W, true, true, 0);
	map_host(&w, 0x11, 1, 0x101, 0, true, false, 0);
	map_host(&w, 0x13, 1, 0x103, 0, false, false, 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x10, 0x14 }, &clear, &res), 0);
	assert_int_equal(clear.calls, 3);
	assert_int_equal(clear.gfn[0], 0x10);
	assert_int_equal(clear.gfn[1], 0x11);
	assert_int_equal(clear.gfn[2], 0x13);
	assert_int_equal(clear.seen[2].kind, MN_PTE_LEAF);
	assert_int_equal(clear.seen[2].pfn, 0x103);
	/* Three leaves, plus the PML4E, PUD and PMD entries on the way. */
	assert_int_equal(res.visited, 3 + 3);
	assert_int_equal(res.written, 3);
	assert_int_equal(res.zapped, 3);
	assert_int_equal(res.young, 2);
	assert_int_equal(res.dirty, 1);
	assert_true(res.flush_needed);
	assert_int_equal(res.flush_range.start, 0x10);
	assert_int_equal(res.flush_range.end, 0x14);
	assert_int_equal(nr_leaves(&w), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_NONE);
	/* The tables stay for mn_pt_zap() to free. */
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0, 0x1000 }, &clear, &res), 0);
	assert_int_equal(clear.calls, 0);
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0, 0x1000 },
				   MN_PT_ZAP_FREE_TABLES, &res),
			 0);
	assert_int_equal(res.tables_freed, 3);
	world_close(&w);
}

static void test_update_flushes_only_when_a_translation_shrinks(void **state)
{
	struct change to_pn = { .to = MN_PTE_PROTNONE };
	struct change to_rw = { .to = MN_PTE_LEAF, .perm = MN_PTE_R | MN_PTE_W };
	struct change to_r = { .to = MN_PTE_LEAF, .perm = MN_PTE_R };
	struct change to_rwx = { .to = MN_PTE_LEAF, .perm = MN_PTE_R | MN_PTE_W | MN_PTE_X };
	const struct mn_gfn_range r = { 0x10, 0x11 };
	struct mn_pt_result res;
	struct mn_frame_ref page;
	struct mn_pt_walk wk;
	struct mn_tlb *tlb;
	struct world w;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_HOST);
	assert_int_equal(mn_tlb_create(w.a, 0, &tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &page), 0);
	map_host(&w, 0x10, 1, page.pfn, MN_PTE_W, true, true, page.gen);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x10, MN_PTE_W, "w", &pfn), 0);

	/* mprotect(PROT_NONE): the translation goes, so the TLB must be flushed. */
	assert_int_equal(update(&w, r, &to_pn, &res), 0);
	assert_int_equal(res.written, 1);
	assert_int_equal(res.zapped, 0);
	assert_int_equal(res.young, 1);
	assert_int_equal(res.dirty, 1);
	assert_true(res.flush_needed);
	assert_int_equal(res.flush_range.start, 0x10);
	assert_int_equal(res.flush_range.end, 0x11);
	assert_int_equal(nr_leaves(&w), 1);
	assert_int_equal(mn_tlb_flush(tlb, MN_FLUSH_RANGE, res.flush_range, 0), 1);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x10, MN_PTE_R, "r", &pfn), -EFAULT);

	/* Back to read-write (the NUMA hinting fault): nothing cached can be wrong. */
	assert_int_equal(update(&w, r, &to_rw, &res), 0);
	assert_int_equal(res.written, 1);
	assert_int_equal(res.young, 0); /* PROTNONE is not a hardware leaf */
	assert_false(res.flush_needed);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), 0);
	assert_int_equal(wk.leaf.perm, MN_PTE_R | MN_PTE_W);
	assert_true(wk.leaf.accessed && wk.leaf.dirty); /* kept through PROT_NONE */

	/* Losing W needs a flush; gaining X does not; an identical write is not made. */
	assert_int_equal(update(&w, r, &to_r, &res), 0);
	assert_true(res.flush_needed);
	assert_int_equal(update(&w, r, &to_rwx, &res), 0);
	assert_int_equal(res.written, 1);
	assert_false(res.flush_needed);
	assert_int_equal(update(&w, r, &to_rwx, &res), 0);
	assert_int_equal(to_rwx.calls, 1);
	assert_int_equal(res.written, 0);
	assert_false(res.flush_needed);
	assert_int_equal(mn_pt_zap(w.pt, NULL, r, 0, &res), 0);
	assert_int_equal(mn_phys_put(w.p, page, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(w.t), 0);
	mn_tlb_destroy(tlb);
	world_close(&w);
}

static void test_update_migrates_to_a_new_frame(void **state)
{
	struct change to_mig = { .to = MN_PTE_MIGRATION };
	struct change to_new = { .to = MN_PTE_LEAF, .perm = MN_PTE_R | MN_PTE_W };
	const struct mn_gfn_range r = { 0x20, 0x21 };
	struct mn_frame_ref src, dst;
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct mn_tlb *tlb;
	struct world w;
	mn_pfn_t pfn;

	(void)state;
	world_open(&w, FMT_HOST);
	assert_int_equal(mn_tlb_create(w.a, 0, &tlb), 0);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &src), 0);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &dst), 0);
	map_host(&w, 0x20, 1, src.pfn, MN_PTE_W, true, true, src.gen);

	/* try_to_migrate(): the leaf becomes a writable migration entry, flushed. */
	assert_int_equal(update(&w, r, &to_mig, &res), 0);
	assert_true(res.flush_needed);
	assert_int_equal(res.dirty, 1);
	assert_int_equal(mn_pt_walk(w.pt, 0x20, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_MIGRATION);
	assert_int_equal(wk.leaf.perm, MN_PTE_R | MN_PTE_W);
	assert_int_equal(wk.leaf.pfn, src.pfn);
	assert_int_equal(wk.gen, src.gen);
	/* The old frame goes; the migration entry holds no mapping the oracle checks. */
	assert_int_equal(mn_phys_put(w.p, src, "migrate.free_src"), 1);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "host.pte"), 0);

	/* remove_migration_ptes(): a leaf of the new frame and its generation. */
	to_new.pfn = dst.pfn;
	to_new.gen = dst.gen;
	assert_int_equal(update(&w, r, &to_new, &res), 0);
	assert_false(res.flush_needed); /* the old entry translated nothing */
	assert_int_equal(res.written, 1);
	assert_int_equal(mn_pt_walk(w.pt, 0x20, &wk), 0);
	assert_int_equal(wk.pfn, dst.pfn);
	assert_int_equal(wk.gen, dst.gen);
	assert_int_equal(mn_tlb_access(tlb, w.pt, w.p, 0x20, MN_PTE_W, "w", &pfn), 0);
	assert_int_equal(pfn, dst.pfn);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "host.pte"), 0);
	assert_int_equal(mn_trace_nr_violations(w.t), 0);
	assert_int_equal(nr_leaves(&w), 1);

	/* A leaf pointed at another frame directly must be flushed. */
	to_new.pfn = src.pfn;
	to_new.gen = 0;
	assert_int_equal(update(&w, r, &to_new, &res), 0);
	assert_true(res.flush_needed);
	assert_int_equal(mn_pt_zap(w.pt, NULL, r, 0, &res), 0);
	assert_int_equal(mn_phys_put(w.p, dst, "free"), 1);
	mn_tlb_destroy(tlb);
	world_close(&w);
}

static void test_update_visits_a_partly_covered_huge_entry_whole(void **state)
{
	struct change look = { .keep = true }, clear = { .to = MN_PTE_NONE };
	const struct mn_gfn_range r = { 0x3ff, 0x401 };
	struct mn_pt_result res;
	struct world w;

	(void)state;
	world_open(&w, FMT_HOST);
	/*  gfn    0x200 ... 0x3ff 0x400
	 *  host   2M leaf ......  4K
	 *  range              ********  <- [0x3ff, 0x401)
	 */
	map_host(&w, 0x200, 2, 0x600, 0, true, false, 0);
	map_host(&w, 0x400, 1, 0x9, 0, false, false, 0);
	assert_int_equal(update(&w, r, &look, &res), 0);
	assert_int_equal(look.calls, 2);
	assert_int_equal(look.gfn[0], 0x200);
	assert_int_equal(look.seen[0].level, 2);
	assert_int_equal(look.seen[0].pfn, 0x600);
	assert_int_equal(look.gfn[1], 0x400);
	assert_int_equal(look.seen[1].level, 1);
	assert_int_equal(res.written, 0);
	assert_int_equal(res.young, 1);
	assert_false(res.flush_needed);
	assert_int_equal(update(&w, r, &clear, &res), 0);
	assert_int_equal(res.zapped, 2);
	assert_int_equal(res.flush_range.start, 0x200);
	assert_int_equal(res.flush_range.end, 0x401);
	assert_int_equal(nr_leaves(&w), 0);
	world_close(&w);
}

static bool change_level(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	(void)arg, (void)gfn, (void)gen;
	pte->level = 2;
	return true;
}

static bool make_table(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	(void)arg, (void)gfn, (void)gen;
	pte->kind = MN_PTE_TABLE;
	return true;
}

static void test_update_stops_at_an_unencodable_replacement(void **state)
{
	struct change bad = { .to = MN_PTE_PROTNONE, .gen = 5, .bad_at = 2 };
	struct change to_pn = { .to = MN_PTE_PROTNONE };
	struct change move = { .to = MN_PTE_LEAF, .perm = MN_PTE_R, .pfn = 0x77 };
	const struct mn_gfn_range r = { 0x10, 0x13 };
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;
	mn_gfn_t g;

	(void)state;
	world_open(&w, FMT_HOST);
	for (g = 0x10; g < 0x13; g++)
		map_host(&w, g, 1, 0x100 + g, MN_PTE_W, false, false, 1);
	/* The second replacement is a leaf without R: the walk stops there. */
	assert_int_equal(update(&w, r, &bad, &res), -EINVAL);
	assert_int_equal(bad.calls, 2);
	assert_int_equal(res.written, 1);
	assert_true(res.flush_needed);
	assert_int_equal(res.flush_range.end, 0x11);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_PROTNONE);
	assert_int_equal(wk.gen, 5);
	assert_int_equal(mn_pt_walk(w.pt, 0x11, &wk), 0); /* untouched, generation too */
	assert_int_equal(wk.leaf.perm, MN_PTE_R | MN_PTE_W);
	assert_int_equal(wk.gen, 1);
	assert_int_equal(mn_pt_walk(w.pt, 0x12, &wk), 0);
	assert_int_equal(wk.gen, 1);
	/* Another level, or a kind that is not a leaf's, is refused the same way. */
	assert_int_equal(mn_pt_update(w.pt, r, change_level, NULL, &res), -EINVAL);
	assert_int_equal(res.written, 0);
	assert_int_equal(mn_pt_update(w.pt, r, make_table, NULL, &res), -EINVAL);
	assert_int_equal(res.written, 0);
	assert_int_equal(nr_leaves(&w), 3);
	world_close(&w);

	/* EPT has no PROTNONE entries. */
	world_open(&w, FMT_EPT4);
	map_host(&w, 0x10, 1, 0x110, MN_PTE_W, true, false, 0);
	assert_int_equal(update(&w, r, &to_pn, &res), -EINVAL);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), 0);
	world_close(&w);

	/* Stage-2 moves a valid leaf only through break-before-make (mn_pt_map()). */
	world_open(&w, FMT_S2_40);
	map_host(&w, 0x10, 1, 0x110, MN_PTE_W, true, false, 0);
	assert_int_equal(update(&w, r, &move, &res), -EINVAL);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), 0);
	assert_int_equal(wk.pfn, 0x110);
	move.pfn = 0; /* dropping W in place is fine */
	assert_int_equal(update(&w, r, &move, &res), 0);
	assert_true(res.flush_needed);
	assert_int_equal(mn_pt_walk(w.pt, 0x10, &wk), 0);
	assert_int_equal(wk.leaf.perm, MN_PTE_R);
	world_close(&w);
}

static void test_update_range_beyond_the_input_address_size(void **state)
{
	struct change look = { .keep = true };
	const mn_gfn_t limit = 1ULL << (48 - 12);
	struct mn_pt_result res;
	struct world w;

	(void)state;
	world_open(&w, FMT_HOST);
	map_host(&w, limit - 1, 1, 0x5, 0, false, false, 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ limit, 2 * limit }, &look, &res), 0);
	assert_int_equal(look.calls, 0);
	assert_int_equal(res.visited, 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x10, 0x10 }, &look, &res), 0);
	assert_int_equal(look.calls, 0);
	/* A range running past the end is clamped to it. */
	assert_int_equal(update(&w, (struct mn_gfn_range){ limit - 1, UINT64_MAX }, &look, &res),
			 0);
	assert_int_equal(look.calls, 1);
	assert_int_equal(look.gfn[0], limit - 1);
	world_close(&w);
}

static void test_split_keeps_protnone_and_migration_kinds(void **state)
{
	struct change to_pn = { .to = MN_PTE_PROTNONE }, to_mig = { .to = MN_PTE_MIGRATION };
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;

	(void)state;
	world_open(&w, FMT_HOST);
	/*  gfn    0x200 ... 0x3ff   0x400 ... 0x5ff
	 *  host   2M PROTNONE       2M migration (read)
	 */
	map_host(&w, 0x200, 2, 0x800, MN_PTE_W, true, true, 3);
	map_host(&w, 0x400, 2, 0xa00, 0, false, false, 4);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x200, 0x400 }, &to_pn, &res), 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x400, 0x600 }, &to_mig, &res), 0);

	assert_int_equal(mn_pt_split(w.pt, NULL, 0x2ff, 2, &res), 0);
	assert_int_equal(res.tables_allocated, 1);
	assert_false(res.flush_needed); /* nothing was translated */
	assert_int_equal(nr_leaves(&w), 512 + 1);
	assert_int_equal(mn_pt_walk(w.pt, 0x3ff, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_PROTNONE);
	assert_int_equal(wk.leaf.level, 1);
	assert_int_equal(wk.leaf.pfn, 0x9ff);
	assert_true(wk.leaf.accessed && wk.leaf.dirty);
	assert_int_equal(wk.gen, 3);

	assert_int_equal(mn_pt_split(w.pt, NULL, 0x400, 2, &res), 0);
	assert_int_equal(nr_leaves(&w), 1024);
	assert_int_equal(mn_pt_walk(w.pt, 0x401, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_MIGRATION);
	assert_int_equal(wk.leaf.level, 1);
	assert_int_equal(wk.leaf.perm, MN_PTE_R);
	assert_int_equal(wk.leaf.pfn, 0xa01);
	assert_int_equal(wk.gen, 4);
	/* The small pieces cannot collapse: they are no leaves. */
	assert_int_equal(mn_pt_collapse(w.pt, NULL, 0x200, 2, &res), -EBUSY);
	world_close(&w);
}

static void zap_soft_entries(bool hot)
{
	struct change to_pn = { .to = MN_PTE_PROTNONE }, to_mig = { .to = MN_PTE_MIGRATION };
	const struct mn_pt_ctx slow = { .can_yield = true };
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	struct world w;

	world_open(&w, FMT_HOST);
	/*  gfn   0x10        0x11             0x12
	 *        PROTNONE A D  migration (write)  leaf A
	 */
	map_host(&w, 0x10, 1, 0x100, MN_PTE_W, true, true, 0);
	map_host(&w, 0x11, 1, 0x101, MN_PTE_W, true, true, 0);
	map_host(&w, 0x12, 1, 0x102, 0, true, false, 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x10, 0x11 }, &to_pn, &res), 0);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x11, 0x12 }, &to_mig, &res), 0);
	assert_int_equal(mn_pt_zap(w.pt, hot ? NULL : &slow, (struct mn_gfn_range){ 0, 0x200 },
				   MN_PT_ZAP_FREE_TABLES, &res),
			 0);
	assert_int_equal(res.zapped, 3);
	assert_int_equal(res.young, 2); /* the PROTNONE entry's A and the leaf's */
	assert_int_equal(res.dirty, 1); /* the PROTNONE entry's D; migration has none */
	assert_int_equal(res.tables_freed, 3);
	assert_int_equal(nr_leaves(&w), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x11, &wk), -ENOENT);
	assert_int_equal(wk.leaf.kind, MN_PTE_NONE);
	world_close(&w);
}

static void test_zap_clears_protnone_and_migration_entries(void **state)
{
	(void)state;
	zap_soft_entries(true);
	zap_soft_entries(false);
}

static void test_check_frames_sees_a_freed_frame_behind_protnone(void **state)
{
	struct change to_pn = { .to = MN_PTE_PROTNONE };
	struct mn_frame_ref page;
	struct mn_pt_result res;
	struct world w;

	(void)state;
	world_open(&w, FMT_HOST);
	assert_int_equal(mn_phys_alloc(w.p, 0, MN_OWNER_ANON, 0, &page), 0);
	map_host(&w, 0x30, 1, page.pfn, MN_PTE_W, true, false, page.gen);
	assert_int_equal(update(&w, (struct mn_gfn_range){ 0x30, 0x31 }, &to_pn, &res), 0);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "host.pte"), 0);
	/* Freed while a PROT_NONE entry still names it: mprotect back would map freed memory. */
	assert_int_equal(mn_phys_put(w.p, page, "munmap"), 1);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "host.pte"), 1);
	assert_int_equal(mn_trace_count_violations(w.t, MN_VIOL_USE_AFTER_FREE), 1);
	assert_string_equal(mn_trace_violation(w.t, 0)->what, "host.pte");
	assert_int_equal(mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0x30, 0x31 }, 0, &res), 0);
	assert_int_equal(res.zapped, 1);
	assert_int_equal(mn_pt_check_frames(w.pt, w.p, "host.pte"), 0);
	world_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential_all_formats),
		cmocka_unit_test(test_sparse_zap_costs_what_is_present),
		cmocka_unit_test(test_stage2_break_before_make_in_trace),
		cmocka_unit_test(test_long_zap_flushes_before_each_yield),
		cmocka_unit_test(test_blockable_zap_yields_after_every_512_leaves),
		cmocka_unit_test(test_stage2_unmap_defers_leaf_tlbis_with_range_tlbi_and_fwb),
		cmocka_unit_test(test_age_and_wrprot_of_mixed_leaf_words),
		cmocka_unit_test(test_stale_tlb_after_zap_without_flush),
		cmocka_unit_test(test_tlb_flush_kinds_and_permissions),
		cmocka_unit_test(test_tlb_check_frames_finds_unflushed_translations),
		cmocka_unit_test(test_map_arguments_and_dump),
		cmocka_unit_test(test_age_clears_accessed_with_write_protect_only_ad),
		cmocka_unit_test(test_collapse_keeps_access_tracked_permissions_apart),
		cmocka_unit_test(test_stage2_collapse_flushes_the_table_span),
		cmocka_unit_test(test_stage2_attribute_change_breaks_before_making),
		cmocka_unit_test(test_map_replace_turns_a_table_into_a_huge_leaf),
		cmocka_unit_test(test_map_replace_block_links_an_empty_table),
		cmocka_unit_test(test_tlb_capacity_permission_upgrade_and_split_folios),
		cmocka_unit_test(test_leaves_remember_their_frame_generation),
		cmocka_unit_test(test_walk_reports_protnone_and_migration_entries),
		cmocka_unit_test(test_update_clears_and_counts),
		cmocka_unit_test(test_update_flushes_only_when_a_translation_shrinks),
		cmocka_unit_test(test_update_migrates_to_a_new_frame),
		cmocka_unit_test(test_update_visits_a_partly_covered_huge_entry_whole),
		cmocka_unit_test(test_update_stops_at_an_unencodable_replacement),
		cmocka_unit_test(test_update_range_beyond_the_input_address_size),
		cmocka_unit_test(test_split_keeps_protnone_and_migration_kinds),
		cmocka_unit_test(test_zap_clears_protnone_and_migration_entries),
		cmocka_unit_test(test_check_frames_sees_a_freed_frame_behind_protnone),
	};

	return cmocka_run_group_tests_name("pt", tests, NULL, NULL);
}
