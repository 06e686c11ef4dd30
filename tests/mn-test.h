/* SPDX-License-Identifier: MIT */
/*
 * mn-test.h - shared helpers for the CMocka unit tests: the CMocka includes in the order it
 * needs, a seeded random generator whose seed is printed and overridable (MN_TEST_SEED), and
 * an allocator context routed to CMocka's leak-checking test_malloc()/test_free().
 */
#ifndef MN_TEST_H
#define MN_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <mnsim.h>

/* splitmix64: small, fast, and good enough to drive randomized tests. */
struct mn_test_rng {
	uint64_t state;
};

static inline uint64_t mn_test_rand(struct mn_test_rng *rng)
{
	uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0 (modulo bias is irrelevant for tests). */
static inline uint64_t mn_test_below(struct mn_test_rng *rng, uint64_t bound)
{
	return mn_test_rand(rng) % bound;
}

/*
 * The seed for this run: MN_TEST_SEED when set, else a fixed default so that CI is
 * reproducible. Printed first, so a failing run names the seed that replays it.
 */
static inline uint64_t mn_test_seed(const char *test)
{
	const char *env = getenv("MN_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x6d6e73696dULL;

	print_message("%s: random seed %llu (set MN_TEST_SEED to override)\n", test,
		      (unsigned long long)seed);
	return seed;
}

static inline void *mn_test_cmocka_alloc(void *priv, size_t size)
{
	(void)priv;
	return test_malloc(size);
}

static inline void mn_test_cmocka_free(void *priv, void *ptr)
{
	(void)priv;
	test_free(ptr);
}

/* Allocator ops that make CMocka report any block the library leaks. */
static const struct mn_alloc_ops mn_test_cmocka_ops = {
	.alloc = mn_test_cmocka_alloc,
	.free = mn_test_cmocka_free,
	.priv = NULL,
};

#endif /* MN_TEST_H */
