// SPDX-License-Identifier: MIT
/*
 * sparse.c - the sparse row of issue 9: one 1 TiB memslot with 1 % (and 0.1 %) of its
 * 2 MiB regions populated by a single present 4K leaf each, invalidated whole by one
 * invalidate_range_start()/_end() pair (kvm_mmu_notifier_ops, lib/kvm/mmu_notifier.c).
 * The cost must follow the page-table pages present, not the slot size: each row reports
 * the tables present, ns per table, and two in-run references, a read+clear loop over as
 * many present u64 entries and a walk+clear of a plain C radix tree of the same shape.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define SP_HVA_BASE   0x100000000000ULL /* 16 TiB, as bench/inval.c */
#define SP_SLOT_BYTES (1ULL << 40)	/* 1 TiB */
#define SP_SLOT_PAGES (SP_SLOT_BYTES >> MN_PAGE_SHIFT)
#define SP_REGIONS    (SP_SLOT_BYTES >> 21) /* 2 MiB regions: 524288 */
#define SP_PFN_BASE   0x1000000ULL
#define SP_MAX_REPS   16
#define SP_SEED	      0x737061727365ULL /* "sparse" */

static uint64_t sp_rng(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- the VM side ------------------------------------------------------------------------ */

struct sp_world {
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	struct mn_pt *pt;
	enum mn_vm_arch arch;
	unsigned int levels;
};

static void sp_world_destroy(struct sp_world *w)
{
	if (w->vm)
		mn_vm_destroy(w->vm);
	if (w->mm)
		mn_mm_destroy(w->mm);
	if (w->sim)
		mn_sim_destroy(w->sim);
	memset(w, 0, sizeof(*w));
}

/*
 *  hva  16T [                 slot 0: 1 TiB                  )
 *  gpa  0   [ 2M | 2M | ... 524288 regions, ~1 % hold one 4K leaf )
 */
static int sp_world_create(struct sp_world *w, unsigned int fmt)
{
	/* stage-2: 44 IPA bits hold the 1 TiB slot with room above it. */
	struct mn_vm_config cfg = { .arch = fmt ? MN_VM_ARM64 : MN_VM_X86,
				    .ept_levels = 4,
				    .ipa_bits = fmt ? 44 : 0 };
	struct mn_userspace_memory_region2 r = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = SP_SLOT_BYTES,
		.userspace_addr = SP_HVA_BASE,
	};
	int ret;

	memset(w, 0, sizeof(*w));
	w->arch = cfg.arch;
	ret = mn_sim_create(NULL, &w->sim);
	if (!ret)
		ret = mn_mm_create(w->sim, NULL, &w->mm);
	if (!ret)
		ret = mn_vm_create(w->mm, &cfg, &w->vm);
	if (!ret)
		ret = mn_vm_set_user_memory_region2(w->vm, &r);
	if (ret) {
		fprintf(stderr, "bench sparse: cannot set up the 1 TiB slot (format %u): %s\n", fmt,
			strerror(-ret));
		sp_world_destroy(w);
		return -1;
	}
	w->pt = mn_vm_get_pt(w->vm, 0);
	w->levels = mn_pt_get_format(w->pt)->top_level;
	return 0;
}

/* @n distinct regions drawn with a fixed seed, one random 4K page in each: their gfns. */
static mn_gfn_t *draw_leaves(uint64_t n)
{
	uint8_t *taken = calloc(SP_REGIONS, 1);
	mn_gfn_t *g = calloc(n, sizeof(*g));
	uint64_t rng = SP_SEED ^ n, i = 0;

	if (!taken || !g) {
		free(taken);
		free(g);
		return NULL;
	}
	while (i < n) {
		uint64_t reg = sp_rng(&rng) % SP_REGIONS;

		if (taken[reg])
			continue;
		taken[reg] = 1;
		g[i++] = reg * 512 + sp_rng(&rng) % 512;
	}
	free(taken);
	return g;
}

struct sp_result {
	uint64_t leaves, tables, radix_tables;
	struct mn_bench_stats ev, rc, wc;
	uint64_t remote_flushes, tlbi;
};

static int sp_fail(const char *what, unsigned int fmt, unsigned int permille)
{
	fprintf(stderr, "bench sparse: SANITY CHECK FAILED: %s (format %u, %u.%u %%)\n", what, fmt,
		permille / 10, permille % 10);
	return 1;
}

static int sp_row(struct sp_world *w, unsigned int fmt, unsigned int permille, int reps,
		  struct sp_result *out)
{
	uint64_t n = SP_REGIONS * permille / 1000, i;
	double ev[SP_MAX_REPS], rc[SP_MAX_REPS], wc[SP_MAX_REPS];
	struct mn_bench_radix rx = { 0 };
	uint64_t *flat = NULL, flushes = 0, tlbi = 0;
	volatile uint64_t sink = 0;
	mn_gfn_t *g = draw_leaves(n);
	int r, ret = 2;

	memset(out, 0, sizeof(*out));
	flat = calloc(n, sizeof(*flat));
	if (!g || !flat || mn_bench_radix_init(&rx, w->levels))
		goto out;
	/* rep -1 is the warm-up, checked as the others. */
	for (r = -1; r < reps; r++) {
		struct mn_vm_stats va, vb;
		struct mn_pt_stats pa, pb;
		struct mn_pt_result res;
		uint64_t sum = 0, cnt = 0, left = 0;
		double t0;

		/* A clean table, then the same leaves every repetition. */
		mn_pt_zap(w->pt, NULL, (struct mn_gfn_range){ 0, MN_INVALID_GFN },
			  MN_PT_ZAP_FREE_TABLES, &res);
		for (i = 0; i < n; i++) {
			struct mn_pte l =
				mn_bench_leaf(w->arch, MN_PG_LEVEL_4K, SP_PFN_BASE + g[i]);

			if (mn_pt_map(w->pt, NULL, g[i], &l, &res) ||
			    mn_bench_radix_set(&rx, g[i], 1,
					       (SP_PFN_BASE + g[i]) << MN_PAGE_SHIFT | 0x7)) {
				ret = 2;
				goto out;
			}
			flat[i] = (SP_PFN_BASE + g[i]) << MN_PAGE_SHIFT | 0x7;
		}
		mn_vm_get_stats(w->vm, &va);
		mn_pt_get_stats(w->pt, &pa);
		if (pa.leaves != n) {
			ret = sp_fail("leaves present != leaves populated", fmt, permille);
			goto out;
		}
		t0 = mn_bench_now_ns();
		mn_mm_notify_invalidate(w->mm, MN_NOTIFY_UNMAP, SP_HVA_BASE,
					SP_HVA_BASE + SP_SLOT_BYTES);
		t0 = mn_bench_now_ns() - t0;
		mn_vm_get_stats(w->vm, &vb);
		mn_pt_get_stats(w->pt, &pb);
		left = mn_bench_census(w->pt, 0, SP_SLOT_PAGES).leaves;
		if (pb.leaves || left || vb.zapped - va.zapped != n) {
			ret = sp_fail("a populated leaf survived the event", fmt, permille);
			goto out;
		}
		if (vb.flush_all + vb.flush_range - pb.flush_ipa - pb.flush_range -
			    (va.flush_all + va.flush_range - pa.flush_ipa - pa.flush_range) >
		    1) {
			ret = sp_fail("more than one remote TLB flush for the event", fmt,
				      permille);
			goto out;
		}
		if (r < 0) {
			out->leaves = n;
			out->tables = pa.tables;
			out->radix_tables = rx.tables + 1;
			continue;
		}
		if (pa.tables != out->tables) {
			ret = sp_fail("the table count changed between repetitions", fmt, permille);
			goto out;
		}
		flushes += vb.flush_all + vb.flush_range - pb.flush_ipa - pb.flush_range -
			   (va.flush_all + va.flush_range - pa.flush_ipa - pa.flush_range);
		tlbi += pb.flush_ipa + pb.flush_range - pa.flush_ipa - pa.flush_range;
		ev[r] = t0;
		/* read+clear over as many present entries */
		t0 = mn_bench_now_ns();
		for (i = 0; i < n; i++) {
			uint64_t v = flat[i];

			if (v) {
				sum += v;
				cnt++;
				flat[i] = 0;
			}
		}
		rc[r] = mn_bench_now_ns() - t0;
		if (cnt != n) {
			ret = sp_fail("read+clear cleared another number of entries", fmt,
				      permille);
			goto out;
		}
		/* walk+clear of the radix tree of the same shape, over the whole slot */
		t0 = mn_bench_now_ns();
		cnt = mn_bench_radix_walk_clear(&rx, 0, SP_SLOT_PAGES, &sum);
		wc[r] = mn_bench_now_ns() - t0;
		sink += sum;
		if (cnt != n) {
			ret = sp_fail("walk+clear cleared another number of entries", fmt,
				      permille);
			goto out;
		}
	}
	(void)sink;
	mn_bench_stats_compute(ev, (unsigned int)reps, &out->ev);
	mn_bench_stats_compute(rc, (unsigned int)reps, &out->rc);
	mn_bench_stats_compute(wc, (unsigned int)reps, &out->wc);
	out->remote_flushes = flushes;
	out->tlbi = tlbi;
	ret = 0;
out:
	mn_bench_radix_free(&rx);
	free(flat);
	free(g);
	return ret;
}

static void sp_print(const struct mn_bench_opts *o, const struct sp_world *w, unsigned int permille,
		     int reps, const struct sp_result *s)
{
	static const char *const layouts[] = { "1T-slot-0.1%-of-2M", "1T-slot-1%-of-2M" };
	struct mn_bench_row row;

	if (!o->json) {
		fprintf(o->out,
			"%-12s %4u.%u%% %7" PRIu64 " %7" PRIu64 " %12.0f %12.0f %8.1f "
			"%8.1f %10.0f %6.1f %10.0f %6.2f %8.2f %6.1f\n",
			w->arch == MN_VM_X86 ? "x86-ept" : "arm64-stage2", permille / 10,
			permille % 10, s->leaves, s->tables, s->ev.p50, s->ev.p99,
			s->ev.p50 / (double)s->tables, s->ev.p50 / (double)s->leaves, s->rc.p50,
			s->ev.p50 / s->rc.p50, s->wc.p50, s->ev.p50 / s->wc.p50,
			(double)s->remote_flushes / reps, (double)s->tlbi / reps);
		fflush(o->out);
		return;
	}
	mn_bench_row_init(&row, "sparse-unmap", w->arch == MN_VM_X86 ? "x86-ept" : "arm64-stage2");
	row.levels = w->levels;
	row.slots = 1;
	row.layout = layouts[permille >= 10];
	row.stream = "whole-slot";
	row.range_bytes = SP_SLOT_BYTES;
	row.hit = "present";
	row.density = -1; /* the layout says the share of 2 MiB regions populated */
	row.leaf_level = "4K";
	row.footprint = s->tables * MN_PAGE_SIZE; /* before the event; tables = footprint / 4096 */
	row.events = (uint64_t)reps;
	row.reps = reps;
	row.ns_per_event = s->ev;
	row.ns_per_entry = s->ev.p50 / (double)s->leaves;
	row.entries_per_s = 1e9 / row.ns_per_entry;
	row.ref_name = "walk_clear";
	row.ref_ns = s->wc;
	row.ratio = s->wc.p50 > 0 ? s->ev.p50 / s->wc.p50 : -1;
	row.read_clear_ns = s->rc.p50;
	row.walk_clear_ns = s->wc.p50;
	row.walk_clear_ratio = row.ratio;
	row.entries_zapped = s->leaves * (uint64_t)reps;
	row.flushes_per_event = (double)s->remote_flushes / reps;
	row.tlbi_per_event = (double)s->tlbi / reps;
	mn_bench_print_json(o->out, &row);
	fflush(o->out);
}

int mn_bench_sparse(const struct mn_bench_opts *o)
{
	static const unsigned int permilles[] = { 10, 1 };
	int reps = o->mode == MN_BENCH_QUICK ? 3 : o->mode == MN_BENCH_PR ? 5 : 11;
	unsigned int fmt;

	if (!o->json)
		fprintf(o->out,
			"\nsparse: one 1 TiB slot, one 4K leaf in each populated 2 MiB region, one "
			"invalidation of the whole slot\n%-12s %6s %7s %7s %12s %12s %8s %8s %10s "
			"%6s %10s %6s %8s %6s\n",
			"arch", "pop", "leaves", "tables", "ns/ev", "p99", "ns/tbl", "ns/leaf",
			"read_clear", "ratio", "walk_clear", "ratio", "flush/ev", "tlbi");
	for (fmt = 0; fmt < 2; fmt++) {
		struct sp_result s[2];
		struct sp_world w;
		unsigned int k;
		int ret = 0;

		if (sp_world_create(&w, fmt))
			return 2;
		for (k = 0; k < 2 && !ret; k++) {
			ret = sp_row(&w, fmt, permilles[k], reps, &s[k]);
			if (!ret)
				sp_print(o, &w, permilles[k], reps, &s[k]);
		}
		if (!ret && !o->json)
			fprintf(o->out,
				"%-12s t(1%%)/t(0.1%%) = %.2f against tables %.2f (leaves %.2f); "
				"walk_clear %.2f\n",
				"", s[0].ev.p50 / s[1].ev.p50,
				(double)s[0].tables / (double)s[1].tables,
				(double)s[0].leaves / (double)s[1].leaves,
				s[0].wc.p50 / s[1].wc.p50);
		sp_world_destroy(&w);
		if (ret == 2)
			fprintf(stderr, "bench sparse: cannot populate the slot (format %u)\n",
				fmt);
		if (ret)
			return ret;
	}
	return 0;
}
