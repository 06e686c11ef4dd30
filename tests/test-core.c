// SPDX-License-Identifier: MIT
/*
 * test-core.c - address helpers, half-open ranges, page levels, bit fields and error names
 * (include/mnsim/types.h, lib/core/bits.h).
 */
#include "mn-test.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "mnsim-config.h"
#include "core/bits.h"

static void test_level_geometry(void **state)
{
	(void)state;
	assert_int_equal(mn_level_shift(MN_PG_LEVEL_4K), 12);
	assert_int_equal(mn_level_shift(MN_PG_LEVEL_2M), 21);
	assert_int_equal(mn_level_shift(MN_PG_LEVEL_1G), 30);
	assert_int_equal(mn_level_shift(MN_PG_LEVEL_512G), 39);
	assert_int_equal(mn_level_pages(MN_PG_LEVEL_2M), 512);
	assert_int_equal(mn_level_pages(MN_PG_LEVEL_1G), 512 * 512);
	assert_int_equal(mn_level_size(MN_PG_LEVEL_1G), 1ULL << 30);
	assert_int_equal(mn_level_order(MN_PG_LEVEL_2M), MN_ORDER_2M);
	assert_int_equal(mn_order_to_level(MN_ORDER_4K), MN_PG_LEVEL_4K);
	assert_int_equal(mn_order_to_level(MN_ORDER_2M), MN_PG_LEVEL_2M);
	assert_int_equal(mn_order_to_level(MN_ORDER_1G), MN_PG_LEVEL_1G);
	/* Orders that no mapping level matches. */
	assert_int_equal(mn_order_to_level(4), MN_PG_LEVEL_NONE);
	assert_int_equal(mn_order_to_level(45), MN_PG_LEVEL_NONE);
}

static void test_address_conversions(void **state)
{
	(void)state;
	assert_int_equal(mn_gpa_to_gfn(0x12345678), 0x12345);
	assert_int_equal(mn_gfn_to_gpa(0x12345), 0x12345000);
	/*  gfn  0x200..0x3ff is one 2M block; 0x3ff rounds down to 0x200 */
	assert_int_equal(mn_gfn_round_for_level(0x3ff, MN_PG_LEVEL_2M), 0x200);
	assert_int_equal(mn_gfn_round_for_level(0x3ff, MN_PG_LEVEL_4K), 0x3ff);
	assert_int_equal(mn_gfn_round_for_level(0x7ffff, MN_PG_LEVEL_1G), 0x40000);
	assert_true(mn_is_aligned(0x200000, MN_PAGE_SIZE));
	assert_false(mn_is_aligned(0x200800, MN_PAGE_SIZE));
	assert_int_equal(mn_align_up(0x1001, 0x1000), 0x2000);
	assert_int_equal(mn_align_up(0x1000, 0x1000), 0x1000);
	assert_int_equal(mn_align_down(0x1fff, 0x1000), 0x1000);
	/* Wraps instead of overflowing into undefined behaviour. */
	assert_int_equal(mn_align_up(UINT64_MAX - 5, 0x1000), 0);
}

static void test_range_helpers(void **state)
{
	/*  hva   0123456789
	 *  a     [###)         [2, 5)
	 *  b        [#####)    [4, 9)
	 *  c           [)      [7, 7) empty
	 */
	struct mn_hva_range a = { 2, 5 }, b = { 4, 9 }, c = { 7, 7 }, i;

	(void)state;
	assert_int_equal(mn_hva_range_len(a), 3);
	assert_int_equal(mn_hva_range_len(c), 0);
	assert_true(mn_hva_range_empty(c));
	assert_false(mn_hva_range_empty(a));
	assert_true(mn_hva_range_contains(a, 2));
	assert_false(mn_hva_range_contains(a, 5)); /* end is exclusive */
	assert_true(mn_hva_range_overlaps(a, b));
	assert_false(mn_hva_range_overlaps(b, c)); /* empty ranges overlap nothing */
	assert_false(mn_hva_range_overlaps((struct mn_hva_range){ 0, 2 }, a)); /* touching */
	i = mn_hva_range_intersect(a, b);
	assert_int_equal(i.start, 4);
	assert_int_equal(i.end, 5);
	i = mn_hva_range_intersect(a, (struct mn_hva_range){ 6, 8 });
	assert_true(mn_hva_range_empty(i));
	assert_true(mn_hva_range_covers(b, (struct mn_hva_range){ 5, 9 }));
	assert_false(mn_hva_range_covers(b, a));
	assert_true(mn_hva_range_covers(a, c)); /* empty is covered by anything */
	/* An inverted range is empty, not huge. */
	assert_int_equal(mn_gfn_range_len((struct mn_gfn_range){ 9, 3 }), 0);
}

static void test_gpa_range_to_gfns(void **state)
{
	struct mn_gfn_range g;

	(void)state;
	g = mn_gpa_range_to_gfns((struct mn_gpa_range){ 0x1800, 0x3001 });
	assert_int_equal(g.start, 1);
	assert_int_equal(g.end, 4);
	g = mn_gpa_range_to_gfns((struct mn_gpa_range){ 0x2000, 0x3000 });
	assert_int_equal(g.start, 2);
	assert_int_equal(g.end, 3);
	g = mn_gpa_range_to_gfns((struct mn_gpa_range){ 0x2000, 0x2000 });
	assert_true(mn_gfn_range_empty(g));
}

static void test_bit_fields(void **state)
{
	(void)state;
	assert_int_equal(MN_BIT(63), 0x8000000000000000ULL);
	assert_int_equal(MN_GENMASK(51, 12), 0x000ffffffffff000ULL);
	assert_int_equal(MN_GENMASK(63, 0), ~0ULL);
	assert_int_equal(MN_GENMASK(5, 3), 0x38);
	assert_int_equal(MN_FIELD_GET(MN_GENMASK(5, 3), 0x30), 6);
	assert_int_equal(MN_FIELD_PREP(MN_GENMASK(5, 3), 6), 0x30);
	/* Values wider than the field are cut, not spilled into neighbours. */
	assert_int_equal(MN_FIELD_PREP(MN_GENMASK(5, 3), 0xff), 0x38);
}

static void test_error_names(void **state)
{
	(void)state;
	assert_string_equal(mn_errname(-EEXIST), "EEXIST");
	assert_string_equal(mn_errname(EFAULT), "EFAULT");
	assert_string_equal(mn_errname(0), "0");
	assert_string_equal(mn_errname(INT_MIN), "E?");
	assert_string_equal(mn_errname(-100000), "E?");
	assert_string_equal(mn_strerror(-ENOMEM), strerror(ENOMEM));
	assert_string_equal(mn_strerror(0), "Success");
	assert_string_equal(mn_strerror(INT_MIN), "Unknown error");
	assert_string_equal(mn_version(), MN_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_geometry), cmocka_unit_test(test_address_conversions),
		cmocka_unit_test(test_range_helpers),  cmocka_unit_test(test_gpa_range_to_gfns),
		cmocka_unit_test(test_bit_fields),     cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
