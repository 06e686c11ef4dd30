// SPDX-License-Identifier: MIT
/*
 * test-alloc.c - allocation contexts: backends, accounting, wholesale teardown, arena reuse,
 * failure injection, and an injection walk over a small workload that must fail every
 * allocation site with -ENOMEM, change nothing and leak nothing (lib/core/alloc.c).
 */
#include "mn-test.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "mnsim-internal.h"

#if MN_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes the process has allocated from the allocator behind the default backend. */
static uint64_t process_allocated_bytes(void)
{
#if MN_HAVE_JEMALLOC
	uint64_t epoch = 1;
	size_t allocated, sz = sizeof(allocated);

	assert_int_equal(mallctl("epoch", &epoch, &sz, &epoch, sizeof(epoch)), 0);
	sz = sizeof(allocated);
	assert_int_equal(mallctl("stats.allocated", &allocated, &sz, NULL, 0), 0);
	return allocated;
#elif defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

/* Ops that count live blocks, to see exactly what a custom-ops context gives back. */
struct counting {
	long live;
	long total;
};

static void *counting_alloc(void *priv, size_t size)
{
	struct counting *c = priv;

	c->live++;
	c->total++;
	return malloc(size);
}

static void counting_free(void *priv, void *ptr)
{
	struct counting *c = priv;

	c->live--;
	free(ptr);
}

static void test_backend_names(void **state)
{
	struct mn_alloc *a;

	(void)state;
	assert_string_equal(mn_alloc_backend(), MN_HAVE_JEMALLOC ? "jemalloc" : "libc");
	assert_int_equal(mn_alloc_create(NULL, &a), 0);
	assert_string_equal(mn_alloc_get_backend(a), mn_alloc_backend());
	mn_alloc_destroy(a);
	assert_int_equal(mn_alloc_create(&mn_test_cmocka_ops, &a), 0);
	assert_string_equal(mn_alloc_get_backend(a), "custom");
	mn_alloc_destroy(a);
	/* Ops without both callbacks are refused. */
	assert_int_equal(mn_alloc_create(&(struct mn_alloc_ops){ .alloc = counting_alloc }, &a),
			 -EINVAL);
	mn_alloc_destroy(NULL);
}

static void test_accounting(void **state)
{
	struct mn_alloc_stats st;
	struct mn_alloc *a;
	void *p[8];
	int i;

	(void)state;
	assert_int_equal(mn_alloc_create(NULL, &a), 0);
	for (i = 0; i < 8; i++) {
		p[i] = mn_malloc(a, 100 * (i + 1));
		assert_non_null(p[i]);
		memset(p[i], 0x5a, 100 * (i + 1));
	}
	mn_alloc_get_stats(a, &st);
	assert_int_equal(st.nr_allocs, 8);
	assert_int_equal(st.live_objects, 8);
	assert_true(st.live_bytes >= 3600); /* usable sizes may round up */
	assert_int_equal(st.peak_bytes, st.live_bytes);
	for (i = 0; i < 8; i += 2)
		mn_free(a, p[i]);
	mn_alloc_get_stats(a, &st);
	assert_int_equal(st.nr_frees, 4);
	assert_int_equal(st.live_objects, 4);
	assert_true(st.peak_bytes > st.live_bytes);
	for (i = 1; i < 8; i += 2)
		mn_free(a, p[i]);
	mn_free(a, NULL);
	mn_alloc_get_stats(a, &st);
	assert_int_equal(st.live_objects, 0);
	assert_int_equal(st.live_bytes, 0);
	assert_int_equal(st.nr_failed, 0);
	mn_alloc_destroy(a);
}

static void test_zalloc_calloc_realloc(void **state)
{
	struct mn_alloc_stats st;
	struct mn_alloc *a;
	unsigned char *p, *q;
	char *s;
	size_t i;

	(void)state;
	assert_int_equal(mn_alloc_create(&mn_test_cmocka_ops, &a), 0);
	p = mn_zalloc(a, 4096);
	assert_non_null(p);
	for (i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0x3c, 4096);
	q = mn_realloc(a, p, 8192);
	assert_non_null(q);
	for (i = 0; i < 4096; i++)
		assert_int_equal(q[i], 0x3c);
	/* A failed realloc leaves the old block in place and owned by the caller. */
	mn_alloc_fail_nth(a, 1);
	assert_null(mn_realloc(a, q, 1 << 20));
	assert_int_equal(q[100], 0x3c);
	mn_free(a, q);
	/* Overflowing calloc fails without consuming memory or an armed injection. */
	mn_alloc_fail_nth(a, 2);
	assert_null(mn_calloc(a, SIZE_MAX / 2, 4));
	assert_true(mn_alloc_fail_pending(a));
	mn_alloc_fail_nth(a, 0);
	p = mn_calloc(a, 16, 16);
	assert_non_null(p);
	assert_int_equal(p[255], 0);
	mn_free(a, p);
	s = mn_strdup(a, "vcpu0");
	assert_string_equal(s, "vcpu0");
	mn_free(a, s);
	mn_alloc_get_stats(a, &st);
	assert_int_equal(st.live_objects, 0);
	assert_int_equal(st.nr_failed, 1);
	assert_int_equal(st.nr_injected, 1);
	mn_alloc_destroy(a);
}

static void test_fail_nth_fires_once(void **state)
{
	struct mn_alloc_stats st;
	struct mn_alloc *a;
	void *p[5];
	int i;

	(void)state;
	assert_int_equal(mn_alloc_create(NULL, &a), 0);
	mn_alloc_fail_nth(a, 3);
	assert_true(mn_alloc_fail_pending(a));
	for (i = 0; i < 5; i++)
		p[i] = mn_malloc(a, 64);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	assert_null(p[2]);
	assert_non_null(p[3]);
	assert_non_null(p[4]);
	assert_false(mn_alloc_fail_pending(a));
	mn_alloc_get_stats(a, &st);
	assert_int_equal(st.nr_allocs, 5);
	assert_int_equal(st.nr_injected, 1);
	assert_int_equal(st.live_objects, 4);
	/* 0 cancels an armed injection. */
	mn_alloc_fail_nth(a, 1);
	mn_alloc_fail_nth(a, 0);
	p[2] = mn_malloc(a, 64);
	assert_non_null(p[2]);
	for (i = 0; i < 5; i++)
		mn_free(a, p[i]);
	mn_alloc_destroy(a);
}

static void test_destroy_frees_everything_custom(void **state)
{
	struct counting c = { 0, 0 };
	struct mn_alloc_ops ops = { counting_alloc, counting_free, &c };
	struct mn_alloc *a;
	int i;

	(void)state;
	assert_int_equal(mn_alloc_create(&ops, &a), 0);
	for (i = 0; i < 1000; i++)
		assert_non_null(mn_malloc(a, 32 + i));
	assert_int_equal(c.live, 1001); /* the blocks and the context itself */
	mn_alloc_destroy(a);
	assert_int_equal(c.live, 0);
	assert_int_equal(c.total, 1001);
}

static void test_destroy_frees_everything_default(void **state)
{
	const size_t nr = 8192, size = 4096;
	uint64_t before, during, after;
	struct mn_alloc *a;
	size_t i;

	(void)state;
	before = process_allocated_bytes();
	assert_int_equal(mn_alloc_create(NULL, &a), 0);
	for (i = 0; i < nr; i++)
		assert_non_null(mn_malloc(a, size));
	during = process_allocated_bytes();
	mn_alloc_destroy(a); /* nothing freed one by one: teardown takes it all */
	after = process_allocated_bytes();
	print_message("backend %s: %llu -> %llu -> %llu bytes\n", mn_alloc_backend(),
		      (unsigned long long)before, (unsigned long long)during,
		      (unsigned long long)after);
	/* (before is only roughly comparable: teardown also flushes the thread cache.) */
	assert_true(after < during);
	assert_true(during - after >= nr * size);
	assert_true(after < before + nr * size / 16);
}

static void test_reset_keeps_context(void **state)
{
	struct mn_alloc_stats st;
	struct mn_alloc *a;
	int round, i;

	(void)state;
	assert_int_equal(mn_alloc_create(&mn_test_cmocka_ops, &a), 0);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 100; i++)
			assert_non_null(mn_malloc(a, 200));
		mn_alloc_fail_nth(a, 5);
		mn_alloc_reset(a);
		assert_false(mn_alloc_fail_pending(a));
		mn_alloc_get_stats(a, &st);
		assert_int_equal(st.live_objects, 0);
		assert_int_equal(st.nr_allocs, 0);
	}
	mn_alloc_destroy(a);
}

static void test_reset_frees_everything_default(void **state)
{
	const size_t nr = 4096, size = 8192;
	uint64_t during, after;
	struct mn_alloc_stats st;
	struct mn_alloc *a;
	size_t i;

	(void)state;
	assert_int_equal(mn_alloc_create(NULL, &a), 0);
	for (i = 0; i < nr; i++)
		assert_non_null(mn_malloc(a, size));
	during = process_allocated_bytes();
	mn_alloc_reset(a); /* jemalloc: arena.<i>.reset; libc: the block list */
	after = process_allocated_bytes();
	assert_true(after < during);
	assert_true(during - after >= nr * size);
	mn_alloc_get_stats(a, &st);
	assert_int_equal(st.live_objects, 0);
	/* Still usable after the reset. */
	assert_non_null(mn_malloc(a, 64));
	mn_alloc_destroy(a);
}

static void test_many_contexts_reuse_arenas(void **state)
{
	struct mn_alloc *a;
	int i;
#if MN_HAVE_JEMALLOC
	unsigned int before, after;
	size_t sz = sizeof(before);

	assert_int_equal(mallctl("arenas.narenas", &before, &sz, NULL, 0), 0);
#endif
	(void)state;
	/* An explorer builds a world per schedule: contexts must not run out. */
	for (i = 0; i < 5000; i++) {
		assert_int_equal(mn_alloc_create(NULL, &a), 0);
		assert_non_null(mn_malloc(a, 128));
		mn_alloc_destroy(a);
	}
#if MN_HAVE_JEMALLOC
	sz = sizeof(after);
	assert_int_equal(mallctl("arenas.narenas", &after, &sz, NULL, 0), 0);
	assert_true(after <= before + 2);
#endif
}

static void test_array_grow(void **state)
{
	struct mn_alloc *a;
	size_t cap = 0;
	int *arr = NULL;

	(void)state;
	assert_int_equal(mn_alloc_create(&mn_test_cmocka_ops, &a), 0);
	assert_int_equal(mn_array_grow(a, (void **)&arr, &cap, 1, sizeof(*arr)), 0);
	assert_int_equal(cap, 16);
	arr[15] = 7;
	assert_int_equal(mn_array_grow(a, (void **)&arr, &cap, 100, sizeof(*arr)), 0);
	assert_int_equal(cap, 128);
	assert_int_equal(arr[15], 7);
	/* Failure leaves the array and its capacity alone. */
	mn_alloc_fail_nth(a, 1);
	assert_int_equal(mn_array_grow(a, (void **)&arr, &cap, 1000, sizeof(*arr)), -ENOMEM);
	assert_int_equal(cap, 128);
	assert_int_equal(arr[15], 7);
	assert_int_equal(mn_array_grow(a, (void **)&arr, &cap, SIZE_MAX, sizeof(*arr)), -ENOMEM);
	assert_int_equal(cap, 128);
	mn_free(a, arr);
	mn_alloc_destroy(a);
}

/*
 * A small workload over every allocating module: trace, actors, frames, a split. Each step
 * that fails must fail with -ENOMEM and leave what it touched unchanged. Returns 0 when the
 * workload ran to the end.
 */
static int workload(struct mn_alloc *a, uint64_t *dropped)
{
	struct mn_frame_ref refs[12], big;
	struct mn_phys_stats before, after;
	struct mn_frame_info fi;
	struct mn_trace *t = NULL;
	struct mn_phys *p = NULL;
	uint32_t actor;
	int ret, i, n = 0;

	ret = mn_trace_create(a, MN_TRACE_FULL, 0, &t);
	if (ret)
		goto out;
	ret = mn_trace_actor_add(t, "vcpu0", &actor);
	if (ret) {
		assert_string_equal(mn_trace_actor_name(t, 1), "?");
		goto out;
	}
	ret = mn_phys_create(a, t, NULL, &p);
	if (ret)
		goto out;
	for (i = 0; i < 12; i++) {
		mn_phys_get_stats(p, &before);
		ret = mn_phys_alloc(p, (i % 3) * 9, MN_OWNER_ANON, 0, &refs[i]);
		if (ret) {
			mn_phys_get_stats(p, &after);
			assert_int_equal(after.nr_folios, before.nr_folios);
			assert_int_equal(after.nr_frames, before.nr_frames);
			assert_int_equal(after.next_pfn, before.next_pfn);
			goto out;
		}
		n++;
		if (i % 4 == 3)
			assert_int_equal(mn_phys_put(p, refs[i - 2], "workload.put"), 1);
	}
	ret = mn_phys_alloc(p, MN_ORDER_2M, MN_OWNER_GMEM, MN_PHYS_ZERO, &big);
	if (ret)
		goto out;
	ret = mn_phys_split(p, big, 0);
	if (ret) {
		assert_int_equal(mn_phys_frame_info(p, big.pfn + 5, &fi), 0);
		assert_int_equal(fi.state, MN_FRAME_TAIL);
		assert_int_equal(fi.order, MN_ORDER_2M);
		goto out;
	}
	assert_int_equal(mn_phys_frame_info(p, big.pfn + 5, &fi), 0);
	assert_int_equal(fi.state, MN_FRAME_HEAD);
	ret = mn_phys_write(p, mn_frame_ref_offset(big, 7), 42, "workload.write");
	if (ret)
		goto out;
	/* A 1 GiB folio: a far-tail write and a split both materialise chunks. */
	ret = mn_phys_alloc(p, MN_ORDER_1G, MN_OWNER_ANON, 0, &big);
	if (ret)
		goto out;
	ret = mn_phys_write(p, mn_frame_ref_offset(big, 300000 % (1 << 18)), 7, "far.write");
	if (ret) {
		assert_int_equal(mn_phys_frame_info(p, big.pfn + 300000 % (1 << 18), &fi), 0);
		assert_int_not_equal(fi.data, 7);
		goto out;
	}
	/* Into two halves: the second half's head chunk must be materialised. */
	ret = mn_phys_split(p, big, MN_ORDER_1G - 1);
	if (ret) {
		assert_int_equal(mn_phys_frame_info(p, big.pfn + (1 << 17) + 5, &fi), 0);
		assert_int_equal(fi.head, big.pfn);
		assert_int_equal(fi.order, MN_ORDER_1G);
		goto out;
	}
	assert_int_equal(mn_phys_frame_info(p, big.pfn + (1 << 17) + 5, &fi), 0);
	assert_int_equal(fi.head, big.pfn + (1 << 17));
out:
	if (p)
		assert_int_equal(mn_phys_check_invariants(p), 0);
	if (ret)
		assert_int_equal(ret, -ENOMEM);
	*dropped = t ? mn_trace_nr_dropped(t) : 0;
	mn_phys_destroy(p);
	mn_trace_destroy(t);
	return ret;
}

static void test_injection_walk_small_workload(void **state)
{
	struct mn_alloc_stats st;
	struct mn_alloc *a;
	uint64_t nth, dropped;
	int ret, failures = 0, drops = 0;

	(void)state;
	for (nth = 1; nth < 10000; nth++) {
		assert_int_equal(mn_alloc_create(&mn_test_cmocka_ops, &a), 0);
		mn_alloc_fail_nth(a, nth);
		ret = workload(a, &dropped);
		mn_alloc_get_stats(a, &st);
		/* Every object the workload created was destroyed: nothing leaked. */
		assert_int_equal(st.live_objects, 0);
		if (mn_alloc_fail_pending(a)) {
			/* The workload makes fewer than nth attempts: every site was hit. */
			assert_int_equal(ret, 0);
			mn_alloc_destroy(a);
			break;
		}
		/* An injected event-log failure drops the event instead of failing. */
		if (ret == 0)
			assert_int_equal(dropped, 1);
		else
			assert_int_equal(dropped, 0);
		failures += ret == -ENOMEM;
		drops += ret == 0;
		mn_alloc_destroy(a);
	}
	print_message("injection walk: %llu sites, %d returned -ENOMEM, %d dropped an event\n",
		      (unsigned long long)nth - 1, failures, drops);
	assert_true(nth > 10);
	assert_true(failures > 5);
	assert_true(drops > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_accounting),
		cmocka_unit_test(test_zalloc_calloc_realloc),
		cmocka_unit_test(test_fail_nth_fires_once),
		cmocka_unit_test(test_destroy_frees_everything_custom),
		cmocka_unit_test(test_destroy_frees_everything_default),
		cmocka_unit_test(test_reset_keeps_context),
		cmocka_unit_test(test_reset_frees_everything_default),
		cmocka_unit_test(test_many_contexts_reuse_arenas),
		cmocka_unit_test(test_array_grow),
		cmocka_unit_test(test_injection_walk_small_workload),
	};

	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
