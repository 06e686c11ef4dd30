// SPDX-License-Identifier: MIT
/*
 * test-bench-harness.c - the benchmark harness (bench/harness.c): median, p99, min and max
 * of known arrays, the keys of one JSON result row (issue 9's list), and the walk+clear
 * radix reference (bench/common.c) against known leaves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

static void test_stats_of_an_odd_count(void **state)
{
	double v[] = { 5, 1, 4, 2, 3 };
	struct mn_bench_stats s;

	(void)state;
	mn_bench_stats_compute(v, 5, &s);
	assert_int_equal(s.n, 5);
	assert_true(s.min == 1 && s.max == 5);
	assert_true(s.p50 == 3);
	assert_true(s.p99 == 5); /* ceil(4.95) = 5th smallest */
}

static void test_stats_of_an_even_count_take_the_middle_mean(void **state)
{
	double v[] = { 10, 40, 20, 30 };
	struct mn_bench_stats s;

	(void)state;
	mn_bench_stats_compute(v, 4, &s);
	assert_true(s.p50 == 25);
	assert_true(s.min == 10 && s.max == 40 && s.p99 == 40);
}

static void test_p99_is_the_nearest_rank(void **state)
{
	double v[200];
	struct mn_bench_stats s;
	int i;

	(void)state;
	/* 1 .. 200, shuffled by a fixed stride: p99 is the 198th smallest, 198. */
	for (i = 0; i < 200; i++)
		v[i] = (double)((i * 7) % 200 + 1);
	mn_bench_stats_compute(v, 200, &s);
	assert_true(s.p99 == 198);
	assert_true(s.p50 == 100.5);
	assert_true(s.min == 1 && s.max == 200);
}

static void test_stats_of_one_value(void **state)
{
	double v[] = { 7 };
	struct mn_bench_stats s;

	(void)state;
	mn_bench_stats_compute(v, 1, &s);
	assert_true(s.min == 7 && s.p50 == 7 && s.p99 == 7 && s.max == 7);
}

static void test_json_row_has_every_key(void **state)
{
	static const char *const keys[] = {
		"bench", "arch", "levels", "slots", "layout", "stream", "range_bytes", "density",
		"leaf_level", "footprint", "events", "ns_per_event_p50", "ns_per_event_p99",
		"ns_per_entry", "entries_per_s", "reference", "reference_ns", "ratio",
		"entries_zapped", "flushes_per_event", "git_sha", "cpu_model",
		"ns_per_event_min", "ns_per_event_max", "op", "ref_walk_clear_ns",
		"ratio_walk_clear",
	};
	struct mn_bench_row r = {
		.bench = "invalidate", .arch = "x86-ept", .levels = 4, .slots = 10,
		.layout = "2M-slots-2M-gaps", .stream = "random", .range_bytes = 4096,
		.hit = "no-memslot", .density = -1, .leaf_level = "4K", .footprint = 8192,
		.events = 100, .ns_per_entry = -1, .entries_per_s = -1, .ref_name = "itree",
		.ratio = 2.5, .read_clear_ns = -1, .itree_ns = 20, .linear_ns = 30,
		.flushes_per_event = 0, .tlbi_per_event = 0, .reps = 5, .op = "clear_young",
		.walk_clear_ns = -1, .walk_clear_ratio = -1,
	};
	char *buf = NULL, needle[64];
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	r.ns_per_event = (struct mn_bench_stats){ 40, 50, 60, 70, 5 };
	r.ref_ns = (struct mn_bench_stats){ 18, 20, 22, 23, 5 };
	mn_bench_print_json(f, &r);
	fclose(f);
	/* One object on one line. */
	assert_true(len > 2 && buf[0] == '{' && buf[len - 2] == '}' && buf[len - 1] == '\n');
	assert_null(memchr(buf, '\n', len - 1));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(needle, sizeof(needle), "\"%s\":", keys[i]);
		if (!strstr(buf, needle))
			fail_msg("key %s missing from %s", keys[i], buf);
	}
	/* Figures that do not apply are null, not a negative number. */
	assert_non_null(strstr(buf, "\"density\":null"));
	assert_non_null(strstr(buf, "\"ns_per_entry\":null"));
	assert_non_null(strstr(buf, "\"ratio\":2.500"));
	assert_non_null(strstr(buf, "\"op\":\"clear_young\""));
	assert_non_null(strstr(buf, "\"ref_walk_clear_ns\":null"));
	free(buf);
}

/* A row started with mn_bench_row_init() says "does not apply" for every figure. */
static void test_row_init_leaves_every_figure_null(void **state)
{
	static const char *const nulls[] = {
		"density", "ns_per_entry", "entries_per_s", "reference_ns", "ratio",
		"ref_read_clear_ns", "ref_itree_ns", "ref_linear_ns", "ref_walk_clear_ns",
		"ratio_walk_clear", "flushes_per_event", "tlbi_per_event", "ns_per_event_p50",
	};
	struct mn_bench_row r;
	char *buf = NULL, needle[64];
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	mn_bench_row_init(&r, "memslot-move", "arm64-stage2");
	r.ns_per_event = (struct mn_bench_stats){ -1, -1, -1, -1, 0 };
	mn_bench_print_json(f, &r);
	fclose(f);
	assert_non_null(strstr(buf, "\"bench\":\"memslot-move\",\"arch\":\"arm64-stage2\""));
	assert_non_null(strstr(buf, "\"reference\":\"none\""));
	assert_non_null(strstr(buf, "\"op\":null"));
	assert_non_null(strstr(buf, "\"leaf_level\":\"4K\""));
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		snprintf(needle, sizeof(needle), "\"%s\":null", nulls[i]);
		if (!strstr(buf, needle))
			fail_msg("%s is not null in %s", nulls[i], buf);
	}
	free(buf);
}

/* Leaves at three levels; ranges that meet them partly, wholly, or not at all. */
static void test_radix_walk_clear_visits_what_the_range_meets(void **state)
{
	struct mn_bench_radix r;
	uint64_t sum = 0;

	(void)state;
	assert_int_equal(mn_bench_radix_init(&r, 4), 0);
	assert_int_equal(mn_bench_radix_set(&r, 5, 1, 0x5000), 0);	    /* 4K leaf, gfn 5 */
	assert_int_equal(mn_bench_radix_set(&r, 7, 1, 0x7000), 0);	    /* 4K leaf, gfn 7 */
	assert_int_equal(mn_bench_radix_set(&r, 1024, 2, 0x400000), 0); /* 2M: 1024..1535 */
	assert_int_equal(mn_bench_radix_set(&r, 1ULL << 18, 3, 0x40000000), 0); /* 1G */
	/* Three tables for the 4K leaves (levels 3, 2, 1), shared by the 2M leaf's path. */
	assert_int_equal(r.tables, 3);
	/* [6, 7): no leaf there. */
	assert_int_equal(mn_bench_radix_walk_clear(&r, 6, 7, &sum), 0);
	assert_int_equal(sum, 0);
	/* [0, 6) meets gfn 5 only; the value has bit 0 set. */
	assert_int_equal(mn_bench_radix_walk_clear(&r, 0, 6, &sum), 1);
	assert_int_equal(sum, 0x5001);
	/* Cleared: a second walk finds nothing. */
	assert_int_equal(mn_bench_radix_walk_clear(&r, 0, 6, &sum), 0);
	/* One page inside the 2M leaf meets the whole leaf; one inside the 1G leaf too. */
	assert_int_equal(mn_bench_radix_walk_clear(&r, 1500, 1501, &sum), 1);
	assert_int_equal(mn_bench_radix_walk_clear(&r, (1ULL << 18) + 77, (1ULL << 18) + 78, &sum),
			 1);
	/* Everything: only gfn 7 is left. */
	assert_int_equal(mn_bench_radix_walk_clear(&r, 0, 1ULL << 36, &sum), 1);
	assert_int_equal(mn_bench_radix_walk_clear(&r, 0, 1ULL << 36, &sum), 0);
	/* An empty range. */
	assert_int_equal(mn_bench_radix_walk_clear(&r, 9, 9, &sum), 0);
	mn_bench_radix_free(&r);
	assert_null(r.root);
}

/* The census of a range: leaves by level, pages, writable and young ones; a bitmap's weight. */
static void test_census_and_bitmap_weight(void **state)
{
	struct mn_vm_config cfg = { .arch = MN_VM_X86 };
	struct mn_sim *sim = NULL;
	struct mn_mm *mm = NULL;
	struct mn_vm *vm = NULL;
	struct mn_pt_result res;
	struct mn_bench_census c;
	struct mn_pte l;
	struct mn_pt *pt;
	const uint64_t bits[3] = { 0x5, ~0ULL, 1ULL << 63 };

	(void)state;
	assert_int_equal(mn_sim_create(NULL, &sim), 0);
	assert_int_equal(mn_mm_create(sim, NULL, &mm), 0);
	assert_int_equal(mn_vm_create(mm, &cfg, &vm), 0);
	pt = mn_vm_get_pt(vm, 0);
	l = mn_bench_leaf(MN_VM_X86, MN_PG_LEVEL_4K, 0x1000); /* writable, young */
	assert_int_equal(mn_pt_map(pt, NULL, 3, &l, &res), 0);
	l.perm = MN_PTE_R;
	l.sw = 0;
	l.dirty = false;
	l.accessed = false;
	l.pfn = 0x1001;
	assert_int_equal(mn_pt_map(pt, NULL, 4, &l, &res), 0);
	l = mn_bench_leaf(MN_VM_X86, MN_PG_LEVEL_2M, 0x2000);
	assert_int_equal(mn_pt_map(pt, NULL, 512, &l, &res), 0);

	c = mn_bench_census(pt, 0, 1024);
	assert_int_equal(c.leaves, 3);
	assert_int_equal(c.by_level[MN_PG_LEVEL_4K], 2);
	assert_int_equal(c.by_level[MN_PG_LEVEL_2M], 1);
	assert_int_equal(c.pages, 514);
	assert_int_equal(c.writable, 2);
	assert_int_equal(c.young, 2);
	c = mn_bench_census(pt, 4, 5); /* the old read-only page only */
	assert_int_equal(c.leaves, 1);
	assert_int_equal(c.writable + c.young, 0);
	c = mn_bench_census(pt, 5, 512);
	assert_int_equal(c.leaves, 0);

	assert_int_equal(mn_bench_bitmap_weight(bits, 3), 2 + 64 + 1);
	assert_int_equal(mn_bench_bitmap_weight(bits, 0), 0);
	mn_bench_world_free(vm, mm, sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_of_an_odd_count),
		cmocka_unit_test(test_stats_of_an_even_count_take_the_middle_mean),
		cmocka_unit_test(test_p99_is_the_nearest_rank),
		cmocka_unit_test(test_stats_of_one_value),
		cmocka_unit_test(test_json_row_has_every_key),
		cmocka_unit_test(test_radix_walk_clear_visits_what_the_range_meets),
		cmocka_unit_test(test_row_init_leaves_every_figure_null),
		cmocka_unit_test(test_census_and_bitmap_weight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
