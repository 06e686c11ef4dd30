// SPDX-License-Identifier: MIT
/*
 * bench-pt.c - the engine's distance from the roofline: a dense 4 KiB zap of 1 GiB of
 * EPT and stage-2 mappings (entries zapped per second) next to a plain loop that reads and
 * clears the same number of u64 entries laid out as the same 512-entry tables, measured in
 * the same run (lib/pt/pt.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mnsim.h>

#include "bench-util.h"

#define NR_REPS 7
#define PAGES	(1UL << 18) /* 1 GiB of 4 KiB pages */

/* The roofline: read every entry of 512 tables of 512 entries and clear the present ones. */
static double bench_loop(uint64_t nonpresent, uint64_t *checksum)
{
	uint64_t *e = malloc(PAGES * sizeof(*e)), sum = 0;
	double ns[NR_REPS];
	unsigned long i;

	if (!e)
		return -1;
	for (int r = 0; r < NR_REPS; r++) {
		for (i = 0; i < PAGES; i++)
			e[i] = (0x100000ULL + i) << 12 | 0x907;
		double t0 = now_ns();

		for (i = 0; i < PAGES; i++) {
			uint64_t v = e[i];

			if (v != nonpresent) {
				sum += v;
				e[i] = nonpresent;
			}
		}
		ns[r] = now_ns() - t0;
	}
	*checksum = sum;
	free(e);
	return median(ns, NR_REPS);
}

static double bench_zap(const struct mn_pt_format *f, uint64_t *zapped)
{
	struct mn_alloc *a;
	struct mn_trace *t;
	struct mn_phys *p;
	struct mn_pt *pt;
	struct mn_pt_result res;
	double ns[NR_REPS];
	unsigned long i;

	if (mn_alloc_create(NULL, &a) || mn_trace_create(a, MN_TRACE_OFF, 0, &t) ||
	    mn_phys_create(a, t, NULL, &p) || mn_pt_create(a, p, f, &pt))
		return -1;
	for (int r = 0; r < NR_REPS; r++) {
		for (i = 0; i < PAGES; i++) {
			struct mn_pte l = {
				.kind = MN_PTE_LEAF,
				.level = 1,
				.pfn = 0x100000 + i,
				.perm = MN_PTE_R | MN_PTE_W | MN_PTE_X,
				.memtype = MN_MT_WB,
				.accessed = true,
			};

			if (f->arch == MN_PT_EPT) {
				l.ipat = true;
				l.sw = MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_MMU_WRITABLE;
			}
			if (mn_pt_map(pt, NULL, 0x40000 + i, &l, &res))
				return -1;
		}
		double t0 = now_ns();

		mn_pt_zap(pt, NULL, (struct mn_gfn_range){ 0x40000, 0x40000 + PAGES }, 0, &res);
		ns[r] = now_ns() - t0;
		if (res.zapped != PAGES)
			return -1;
		*zapped = res.zapped;
	}
	mn_pt_destroy(pt);
	mn_phys_destroy(p);
	mn_trace_destroy(t);
	mn_alloc_destroy(a);
	return median(ns, NR_REPS);
}

int main(void)
{
	struct mn_pt_format fmts[2];
	uint64_t sum = 0, zapped = 0;
	int k;

	if (mn_pt_format_ept(&fmts[0], 4, 0) || mn_pt_format_stage2(&fmts[1], 40, 0))
		return 1;
	for (k = 0; k < 2; k++) {
		double loop = bench_loop(fmts[k].nonpresent, &sum);
		double zap = bench_zap(&fmts[k], &zapped);
		double loop_eps = PAGES / loop * 1e9, zap_eps = zapped / zap * 1e9;

		if (loop <= 0 || zap <= 0) {
			fprintf(stderr, "bench-pt: setup failed\n");
			return 1;
		}
		printf("zap_dense_4k_1g %s: %.1f M entries/s; read+clear loop %.1f M entries/s; "
		       "%.2fx of the roofline (median of %d, checksum %llx)\n",
		       fmts[k].name, zap_eps / 1e6, loop_eps / 1e6, zap_eps / loop_eps, NR_REPS,
		       (unsigned long long)(sum & 0xffff));
		printf("{\"bench\":\"zap_dense_4k_1g\",\"format\":\"%s\",\"entries\":%lu,"
		       "\"ns_per_entry_p50\":%.3f,\"entries_per_s\":%.0f,"
		       "\"roofline_entries_per_s\":%.0f,\"ratio_to_roofline\":%.3f,\"backend\":\"%s\"}\n",
		       fmts[k].name, PAGES, zap / PAGES, zap_eps, loop_eps, zap_eps / loop_eps,
		       mn_alloc_backend());
	}
	return 0;
}
