// SPDX-License-Identifier: MIT
/*
 * test-hostpte.c - the host's x86-64 PTE format (lib/pt/host.c): hand-derived raw entries
 * in both directions, every -EINVAL rule, seeded round trips, the format description and
 * mn_pte_describe().
 */
#include "mn-test.h"
#include "mn-test-pte.h"

#include <mnsim/pte.h>

#include <errno.h>
#include <string.h>

#include "core/bits.h"

#define R MN_PTE_R
#define W MN_PTE_W
#define X MN_PTE_X
#define U MN_PTE_U

static struct mn_pt_format host(void)
{
	struct mn_pt_format f;

	assert_int_equal(mn_pt_format_host(&f), 0);
	return f;
}

struct golden {
	const char *what;
	struct mn_pte pte;
	uint64_t raw;
};

#define ENTRY(k, lvl, pfn_, perm_, a, d)                                                      \
	{                                                                                     \
		.kind = (k), .level = (lvl), .pfn = (pfn_), .perm = (perm_), .accessed = (a), \
		.dirty = (d)                                                                  \
	}
#define LEAF(...)  ENTRY(MN_PTE_LEAF, __VA_ARGS__)
#define TABLE(...) ENTRY(MN_PTE_TABLE, __VA_ARGS__)

/* P 0x1, RW 0x2, US 0x4, A 0x20, D 0x40, PS 0x80, NX bit 63, pfn in 51:12. */
static const struct golden goldens[] = {
	{ "4K user RWX, A D", LEAF(1, 0x12345, R | W | X | U, true, true), 0x0000000012345067ULL },
	{ "4K user read-only no-exec", LEAF(1, 0x12345, R | U, true, false),
	  0x8000000012345025ULL },
	{ "4K supervisor R, not accessed", LEAF(1, 0x12345, R, false, false),
	  0x8000000012345001ULL },
	{ "2M user RWX, A D (PS)", LEAF(2, 0x200, R | W | X | U, true, true),
	  0x00000000002000e7ULL },
	{ "1G user RW no-exec, A", LEAF(3, 0x40000, R | W | U, true, false),
	  0x80000000400000a7ULL },
	{ "2M user R no-exec, not accessed", LEAF(2, 0x3fe00, R | U, false, false),
	  0x800000003fe00085ULL },
	{ "4K dirty but write-protected", LEAF(1, 0x77, R | U, true, true), 0x8000000000077065ULL },
	{ "4K supervisor RWX, no A/D", LEAF(1, 0x1, R | W | X, false, false),
	  0x0000000000001003ULL },
	{ "highest frame of a 52-bit PA", LEAF(1, 0xffffffffffULL, R | W | X | U, true, true),
	  0x000ffffffffff067ULL },
	{ "_PAGE_TABLE at level 2", TABLE(2, 0x1a0, R | W | U, true, true), 0x00000000001a0067ULL },
	{ "_KERNPG_TABLE at level 3", TABLE(3, 0x5678, R | W, true, true), 0x0000000005678063ULL },
	{ "table at level 4, A only", TABLE(4, 0x1234, R | W | U, true, false),
	  0x0000000001234027ULL },
	{ "read-only table, not accessed", TABLE(3, 0x9, R, false, false), 0x0000000000009001ULL },
	{ "none", { .kind = MN_PTE_NONE, .level = 4 }, 0 },
	{ "none at level 1", { .kind = MN_PTE_NONE, .level = 1 }, 0 },
};

static void test_golden_encodings(void **state)
{
	struct mn_pt_format f = host();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct mn_pte back;
		uint64_t raw = 0xdeadbeef;
		int enc, dec;

		enc = mn_pte_encode(&f, &g->pte, &raw);
		memset(&back, 0x5a, sizeof(back));
		dec = mn_pte_decode(&f, g->raw, g->pte.level, &back);
		if (enc || raw != g->raw || dec)
			print_error("golden %zu (%s): encode %d raw %#llx, decode %d\n", i, g->what,
				    enc, (unsigned long long)raw, dec);
		assert_int_equal(enc, 0);
		assert_int_equal(raw, g->raw);
		assert_int_equal(dec, 0);
		assert_pte_equal(&back, &g->pte);
	}
}

static void test_encode_rejects(void **state)
{
	struct mn_pt_format f = host();
	struct mn_pte ok = LEAF(1, 0x12345, R | W | U, true, true), p;
	enum mn_memtype mt;
	uint64_t raw;

	(void)state;
	assert_int_equal(mn_pte_encode(&f, &ok, &raw), 0);

	/* A present entry is readable: no leaf or table without R. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 1, W | U, true, true));
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 1, X, true, false));
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 1, 0, false, false));
	assert_encode_einval(&f, (struct mn_pte)TABLE(2, 1, W | U, true, true));
	/* Tables have no execute control here (mm never sets NX on them). */
	assert_encode_einval(&f, (struct mn_pte)TABLE(2, 1, R | W | X | U, true, true));
	/* WB only. */
	for (mt = MN_MT_UC; mt <= MN_MT_DEVICE; mt++) {
		p = ok, p.memtype = mt;
		assert_encode_einval(&f, p);
	}
	/* No leaf in a PML4E, no table at the PTE level, levels 1..4 only. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(4, 0, R | W | U, true, true));
	assert_encode_einval(&f, (struct mn_pte)TABLE(1, 0x10, R | W | U, true, true));
	assert_encode_einval(&f, (struct mn_pte)LEAF(0, 0x10, R, true, true));
	assert_encode_einval(&f, (struct mn_pte)TABLE(5, 0x10, R, true, true));
	/* Misaligned huge leaves. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(2, 0x201, R | W | U, true, true));
	assert_encode_einval(&f, (struct mn_pte)LEAF(3, 0x40200, R | W | U, true, true));
	/* pfn wider than 52-bit physical addresses. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 1ULL << 40, R, true, true));
	assert_encode_einval(&f, (struct mn_pte)TABLE(2, 1ULL << 40, R, true, true));
	/* Nothing of EPT's or stage-2's. */
	p = ok, p.sw = MN_PTE_SW_HOST_WRITABLE;
	assert_encode_einval(&f, p);
	p = ok, p.sw = MN_PTE_SW_MMU_WRITABLE;
	assert_encode_einval(&f, p);
	p = ok, p.sw = MN_PTE_SW_ACC_TRACK;
	assert_encode_einval(&f, p);
	p = ok, p.sw_bits = 1;
	assert_encode_einval(&f, p);
	p = ok, p.ipat = true;
	assert_encode_einval(&f, p);
	p = ok, p.saved_perm = R;
	assert_encode_einval(&f, p);
	p = ok, p.ad_type = 2;
	assert_encode_einval(&f, p);
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_LOCKED, .level = 1 });
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_FROZEN, .level = 1 });
	/* NONE carries nothing. */
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_NONE, .level = 1, .pfn = 1 });
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_NONE, .level = 1, .perm = R });
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_NONE, .level = 1, .dirty = true });
}

static void test_decode_rejects(void **state)
{
	struct mn_pt_format f = host();
	struct mn_pte p;
	unsigned int bit;

	(void)state;
	assert_int_equal(mn_pte_decode(&f, 0x0000000012345067ULL, 1, &p), 0);

	/* PS in a PML4E is reserved; in a 4K PTE bit 7 is PAT, which mm never sets here. */
	assert_decode_einval(&f, 0x00000000002000e7ULL, 4);
	assert_decode_einval(&f, 0x00000000123450e7ULL, 1);
	/* Misaligned huge leaves; bit 12 of a huge leaf is its PAT bit. */
	assert_decode_einval(&f, 0x00000000002010e7ULL, 2);
	assert_decode_einval(&f, 0x00000000402000e7ULL, 3);
	/* Global, PWT, PCD. */
	assert_decode_einval(&f, 0x0000000012345167ULL, 1);
	assert_decode_einval(&f, 0x000000001234506fULL, 1);
	assert_decode_einval(&f, 0x0000000012345077ULL, 1);
	assert_decode_einval(&f, 0x00000000001a0077ULL, 2);
	/* Software bits 9-11 and 52-58, protection keys 59-62. */
	for (bit = 9; bit <= 11; bit++)
		assert_decode_einval(&f, 0x0000000012345067ULL | MN_BIT(bit), 1);
	for (bit = 52; bit <= 62; bit++)
		assert_decode_einval(&f, 0x0000000012345067ULL | MN_BIT(bit), 1);
	/* Non-present values other than 0: swap/migration entries, PROT_NONE, NX alone. */
	assert_decode_einval(&f, 0x2, 1);
	assert_decode_einval(&f, 0x0000000012345066ULL, 1);
	assert_decode_einval(&f, 0x0000000012345166ULL, 1);
	assert_decode_einval(&f, 0x8000000000000000ULL, 3);
	/* NX on a table. */
	assert_decode_einval(&f, 0x80000000001a0067ULL, 2);
	/* Levels outside the table. */
	assert_decode_einval(&f, 0, 0);
	assert_decode_einval(&f, 0x00000000001a0067ULL, 5);
}

static struct mn_pte random_valid_pte(struct mn_test_rng *rng)
{
	struct mn_pte p = { .level = 1 + (unsigned int)mn_test_below(rng, 4) };
	unsigned int pick = (unsigned int)mn_test_below(rng, 8);

	if (pick == 0)
		return (struct mn_pte){ .kind = MN_PTE_NONE, .level = p.level };
	if (p.level == 4 || (p.level > 1 && pick <= 3)) {
		p.kind = MN_PTE_TABLE;
		p.pfn = mn_test_rand(rng) & MN_GENMASK(39, 0);
		p.perm = R | (mn_test_below(rng, 2) ? W : 0) | (mn_test_below(rng, 2) ? U : 0);
	} else {
		p.kind = MN_PTE_LEAF;
		p.pfn = mn_test_rand(rng) & MN_GENMASK(39, 0) &
			~((1ULL << (9 * (p.level - 1))) - 1);
		p.perm = R | ((unsigned int)mn_test_below(rng, 16) & (W | X | U));
	}
	p.accessed = mn_test_below(rng, 2);
	p.dirty = mn_test_below(rng, 2);
	return p;
}

static void test_roundtrip_fields(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("hostpte.roundtrip") };
	struct mn_pt_format f = host();
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		struct mn_pte p = random_valid_pte(&rng), back;
		uint64_t raw;

		assert_int_equal(mn_pte_encode(&f, &p, &raw), 0);
		assert_int_equal(mn_pte_decode(&f, raw, p.level, &back), 0);
		assert_pte_equal(&back, &p);
	}
}

static void test_roundtrip_raw(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("hostpte.roundtrip_raw") };
	struct mn_pt_format f = host();
	unsigned long decoded = 0, rejected = 0;
	int i, flips;

	(void)state;
	for (i = 0; i < 300000; i++) {
		struct mn_pte p = random_valid_pte(&rng), back;
		unsigned int level = 1 + (unsigned int)mn_test_below(&rng, 4);
		uint64_t raw, again;

		assert_int_equal(mn_pte_encode(&f, &p, &raw), 0);
		if (mn_test_below(&rng, 8) == 0) {
			raw = mn_test_rand(&rng);
		} else {
			for (flips = (int)mn_test_below(&rng, 3); flips > 0; flips--)
				raw ^= MN_BIT(mn_test_below(&rng, 64));
			if (mn_test_below(&rng, 2))
				level = p.level;
		}
		if (mn_pte_decode(&f, raw, level, &back)) {
			rejected++;
			continue;
		}
		decoded++;
		assert_int_equal(back.level, level);
		assert_int_equal(mn_pte_encode(&f, &back, &again), 0);
		assert_int_equal(again, raw);
	}
	print_message("hostpte.roundtrip_raw: %lu decoded, %lu rejected\n", decoded, rejected);
	assert_true(decoded > 10000);
	assert_true(rejected > 10000);
}

static void test_format(void **state)
{
	struct mn_pt_format f = host();

	(void)state;
	assert_string_equal(f.name, "host-x86");
	assert_int_equal(f.arch, MN_PT_HOST_X86);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.top_level, 4);
	assert_int_equal(f.root_entries, 512);
	assert_int_equal(f.max_leaf_level, 3);
	assert_int_equal(f.pa_bits, 52);
	assert_int_equal(f.ia_bits, 48);
	assert_int_equal(f.nonpresent, 0);
	assert_int_equal(f.pfn_mask, 0x000ffffffffff000ULL);
	assert_int_equal(f.accessed_mask, 0x20);
	assert_int_equal(f.dirty_mask, 0x40);
	assert_int_equal(f.write_mask, 0x2);
}

static void test_describe(void **state)
{
	struct mn_pt_format f = host();

	(void)state;
	assert_describes(&f, 0x00000000002000e7ULL, 2, "leaf 2M pfn=0x200 RWXU WB A D");
	assert_describes(&f, 0x8000000012345025ULL, 1, "leaf 4K pfn=0x12345 R--U WB A");
	assert_describes(&f, 0x00000000001a0067ULL, 2, "table pfn=0x1a0");
	assert_describes(&f, 0, 4, "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_encodings), cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_rejects),	 cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_roundtrip_raw),	 cmocka_unit_test(test_format),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
