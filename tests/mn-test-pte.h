/* SPDX-License-Identifier: MIT */
/*
 * mn-test-pte.h - assertions shared by the entry-format tests (test-ept.c, test-stage2.c,
 * test-hostpte.c): field-by-field equality of decoded entries, and rejections that must
 * leave their output untouched.
 */
#ifndef MN_TEST_PTE_H
#define MN_TEST_PTE_H

#include <errno.h>
#include <string.h>

#include "mn-test.h"

static inline void assert_pte_equal(const struct mn_pte *a, const struct mn_pte *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->level, b->level);
	assert_int_equal(a->pfn, b->pfn);
	assert_int_equal(a->perm, b->perm);
	assert_int_equal(a->memtype, b->memtype);
	assert_int_equal(a->ipat, b->ipat);
	assert_int_equal(a->accessed, b->accessed);
	assert_int_equal(a->dirty, b->dirty);
	assert_int_equal(a->sw, b->sw);
	assert_int_equal(a->saved_perm, b->saved_perm);
	assert_int_equal(a->ad_type, b->ad_type);
	assert_int_equal(a->sw_bits, b->sw_bits);
}

static inline void assert_encode_einval(const struct mn_pt_format *f, struct mn_pte p)
{
	uint64_t raw = 0x1234;

	assert_int_equal(mn_pte_encode(f, &p, &raw), -EINVAL);
	assert_int_equal(raw, 0x1234);
}

static inline void assert_decode_einval(const struct mn_pt_format *f, uint64_t raw,
					unsigned int level)
{
	struct mn_pte p = { .kind = MN_PTE_FROZEN, .pfn = 77 };

	assert_int_equal(mn_pte_decode(f, raw, level, &p), -EINVAL);
	assert_int_equal(p.kind, MN_PTE_FROZEN);
	assert_int_equal(p.pfn, 77);
}

/* @raw, read at @level, decodes and renders as @want (and the length is exact). */
static inline void assert_describes(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
				    const char *want)
{
	struct mn_pte p;
	char buf[160];

	assert_int_equal(mn_pte_decode(f, raw, level, &p), 0);
	assert_int_equal(mn_pte_describe(f, &p, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

/*
 * One round of the raw round-trip fuzz: encode @p, then either replace the raw value by a
 * random one or flip up to two bits of it (keeping @p's level half the time, else @level).
 * Whatever decodes must encode back to the very same raw value. Counts into @decoded or
 * @rejected.
 */
static inline void roundtrip_mutated_raw(const struct mn_pt_format *f, const struct mn_pte *p,
					 unsigned int level, struct mn_test_rng *rng,
					 unsigned long *decoded, unsigned long *rejected)
{
	struct mn_pte back;
	uint64_t raw, again;
	int flips;

	assert_int_equal(mn_pte_encode(f, p, &raw), 0);
	if (mn_test_below(rng, 8) == 0) {
		raw = mn_test_rand(rng);
	} else {
		for (flips = (int)mn_test_below(rng, 3); flips > 0; flips--)
			raw ^= 1ULL << mn_test_below(rng, 64);
		if (mn_test_below(rng, 2))
			level = p->level;
	}
	if (mn_pte_decode(f, raw, level, &back)) {
		(*rejected)++;
		return;
	}
	(*decoded)++;
	assert_int_equal(back.level, level);
	assert_int_equal(mn_pte_encode(f, &back, &again), 0);
	assert_int_equal(again, raw);
}

#endif /* MN_TEST_PTE_H */
