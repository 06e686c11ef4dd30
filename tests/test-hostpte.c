// SPDX-License-Identifier: MIT
/*
 * test-hostpte.c - the host's x86-64 PTE format (lib/pt/host.c): hand-derived raw entries
 * in both directions (PROT_NONE and migration entries included), every -EINVAL rule, seeded
 * round trips, the format description and mn_pte_describe().
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
#define LEAF(...)		    ENTRY(MN_PTE_LEAF, __VA_ARGS__)
#define TABLE(...)		    ENTRY(MN_PTE_TABLE, __VA_ARGS__)
#define PROTNONE(lvl, pfn_, a, d)   ENTRY(MN_PTE_PROTNONE, lvl, pfn_, 0, a, d)
#define MIGRATION(lvl, pfn_, perm_) ENTRY(MN_PTE_MIGRATION, lvl, pfn_, perm_, false, false)

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
	/*
	 * PROT_NONE: P clear, _PAGE_PROTNONE 0x100, A 0x20 and D 0x40 kept, PS 0x80 when huge,
	 * and the 40-bit pfn inverted in 51:12. ~0x1234 = 0xffffffedcb, ~0x200 = 0xfffffffdff,
	 * ~0x40000 = 0xfffffbffff, ~0xffffffffff = 0, ~0 = 0xffffffffff.
	 */
	{ "4K PROT_NONE, A D", PROTNONE(1, 0x1234, true, true), 0x000ffffffedcb160ULL },
	{ "4K PROT_NONE, clean and old", PROTNONE(1, 0x1234, false, false), 0x000ffffffedcb100ULL },
	{ "2M PROT_NONE, A (PS kept)", PROTNONE(2, 0x200, true, false), 0x000fffffffdff1a0ULL },
	{ "1G PROT_NONE", PROTNONE(3, 0x40000, false, false), 0x000fffffbffff180ULL },
	{ "PROT_NONE of the highest frame", PROTNONE(1, 0xffffffffffULL, false, false), 0x100 },
	{ "PROT_NONE of frame 0", PROTNONE(1, 0, false, true), 0x000ffffffffff140ULL },
	/*
	 * Migration: type in 63:59 (SWP_MIGRATION_READ 24 = 0xc000000000000000, _WRITE 26 =
	 * 0xd000000000000000), the low 50 bits of ~pfn in 58:9: ~0x1234 = 0x3ffffffffedcb,
	 * shifted by 9 = 0x07ffffffffdb9600; ~0x200 -> 0x07fffffffffbfe00; ~0xffffffffff =
	 * 0x3ff0000000000 -> 0x07fe000000000000; ~0x40000 -> 0x07fffffff7fffe00; ~0 ->
	 * 0x07fffffffffffe00.
	 */
	{ "4K migration, read", MIGRATION(1, 0x1234, R), 0xc7ffffffffdb9600ULL },
	{ "4K migration, write", MIGRATION(1, 0x1234, R | W), 0xd7ffffffffdb9600ULL },
	{ "2M migration, write", MIGRATION(2, 0x200, R | W), 0xd7fffffffffbfe00ULL },
	{ "1G migration, read", MIGRATION(3, 0x40000, R), 0xc7fffffff7fffe00ULL },
	{ "migration of the highest frame", MIGRATION(1, 0xffffffffffULL, R),
	  0xc7fe000000000000ULL },
	{ "migration of frame 0", MIGRATION(1, 0, R | W), 0xd7fffffffffffe00ULL },
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
	/*
	 * Non-present values mnsim does not model: a soft-dirty swap bit alone, swap low bits,
	 * PROT_NONE with RW and US, swap type 16, NX alone.
	 */
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

static void test_protnone_migration_encode_rejects(void **state)
{
	struct mn_pt_format f = host();
	struct mn_pte p, pn = PROTNONE(2, 0x200, true, true), mig = MIGRATION(2, 0x200, R | W);
	uint64_t raw;

	(void)state;
	assert_int_equal(mn_pte_encode(&f, &pn, &raw), 0);
	assert_int_equal(mn_pte_encode(&f, &mig, &raw), 0);

	/* PROT_NONE grants nothing: any permission is a contradiction. */
	assert_encode_einval(&f, (struct mn_pte)ENTRY(MN_PTE_PROTNONE, 1, 0x10, R, true, true));
	assert_encode_einval(&f, (struct mn_pte)ENTRY(MN_PTE_PROTNONE, 1, 0x10, U, true, true));
	/* Huge ones are aligned like huge leaves; none in a PML4E; 40-bit pfns only. */
	assert_encode_einval(&f, (struct mn_pte)PROTNONE(2, 0x201, true, true));
	assert_encode_einval(&f, (struct mn_pte)PROTNONE(3, 0x40200, false, false));
	assert_encode_einval(&f, (struct mn_pte)PROTNONE(4, 0, false, false));
	assert_encode_einval(&f, (struct mn_pte)PROTNONE(0, 0x10, false, false));
	assert_encode_einval(&f, (struct mn_pte)PROTNONE(1, 1ULL << 40, false, false));
	p = pn, p.sw = MN_PTE_SW_HOST_WRITABLE;
	assert_encode_einval(&f, p);
	p = pn, p.memtype = MN_MT_UC;
	assert_encode_einval(&f, p);

	/* Migration: read or read-write, nothing else (read-exclusive is not modelled). */
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(1, 0x10, 0));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(1, 0x10, W));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(1, 0x10, R | X));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(1, 0x10, R | U));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(1, 0x10, R | W | X | U));
	/* A swap entry has no A or D. */
	assert_encode_einval(&f, (struct mn_pte)ENTRY(MN_PTE_MIGRATION, 1, 0x10, R, true, false));
	assert_encode_einval(&f, (struct mn_pte)ENTRY(MN_PTE_MIGRATION, 1, 0x10, R, false, true));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(2, 0x201, R));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(4, 0, R));
	assert_encode_einval(&f, (struct mn_pte)MIGRATION(1, 1ULL << 40, R));
	p = mig, p.sw_bits = 3;
	assert_encode_einval(&f, p);
}

static void test_protnone_migration_decode_rejects(void **state)
{
	const uint64_t pn4k = 0x000ffffffedcb160ULL, pn2m = 0x000fffffffdff1a0ULL;
	const uint64_t mig4k = 0xc7ffffffffdb9600ULL, mig2m = 0xd7fffffffffbfe00ULL;
	struct mn_pt_format f = host();
	struct mn_pte p;
	unsigned int bit;

	(void)state;
	assert_int_equal(mn_pte_decode(&f, pn4k, 1, &p), 0);
	assert_int_equal(mn_pte_decode(&f, pn2m, 2, &p), 0);
	assert_int_equal(mn_pte_decode(&f, mig4k, 1, &p), 0);
	assert_int_equal(mn_pte_decode(&f, mig2m, 2, &p), 0);

	/* PROT_NONE: no P, RW, US, PWT, PCD, software bits, keys or NX beside it. */
	for (bit = 0; bit <= 4; bit++)
		assert_decode_einval(&f, pn4k | MN_BIT(bit), 1);
	for (bit = 9; bit <= 11; bit++)
		assert_decode_einval(&f, pn4k | MN_BIT(bit), 1);
	for (bit = 52; bit <= 63; bit++)
		assert_decode_einval(&f, pn4k | MN_BIT(bit), 1);
	/* PS exactly when huge (in a 4K PTE bit 7 would be PAT). */
	assert_decode_einval(&f, pn4k | MN_BIT(7), 1);
	assert_decode_einval(&f, pn2m & ~MN_BIT(7), 2);
	/* Misaligned huge PROT_NONE: pfn ~0xfffffffdfe = 0x201. */
	assert_decode_einval(&f, 0x000fffffffdfe1a0ULL, 2);
	/* No PROT_NONE or migration entry in a PML4E. */
	assert_decode_einval(&f, 0x000fffffffdff1a0ULL, 4);
	assert_decode_einval(&f, mig4k, 4);

	/* Swap types other than migration read (24) and write (26). */
	assert_decode_einval(&f, (mig4k & ~MN_GENMASK(63, 59)) | (25ULL << 59), 1);
	assert_decode_einval(&f, 0xcfffffffffdb9600ULL, 1);	  /* read-exclusive, by hand */
	assert_decode_einval(&f, mig4k & ~MN_GENMASK(63, 59), 1); /* swap file 0 */
	assert_decode_einval(&f, (mig4k & ~MN_GENMASK(63, 59)) | (23ULL << 59), 1); /* hwpoison */
	assert_decode_einval(&f, (mig4k & ~MN_GENMASK(63, 59)) | (27ULL << 59), 1); /* device */
	assert_decode_einval(&f, (mig4k & ~MN_GENMASK(63, 59)) | (31ULL << 59), 1); /* marker */
	/* Bits 8:0: P, soft-dirty 1, uffd-wp 2, exclusive 3, A/D (erratum), PS, PROTNONE. */
	for (bit = 0; bit <= 8; bit++)
		assert_decode_einval(&f, mig4k | MN_BIT(bit), 1);
	/* Misaligned huge migration entry, and an offset beyond a 40-bit pfn. */
	assert_decode_einval(&f, mig4k, 2);
	assert_decode_einval(&f, mig4k & ~MN_BIT(58), 1);
}

static void test_protnone_migration_only_on_the_host(void **state)
{
	static const struct mn_pte kinds[] = {
		PROTNONE(1, 0x1234, true, true),
		PROTNONE(2, 0x200, false, false),
		MIGRATION(1, 0x1234, R),
		MIGRATION(2, 0x200, R | W),
	};
	struct mn_pt_format ept, s2;
	size_t i;

	(void)state;
	assert_int_equal(mn_pt_format_ept(&ept, 4, 0), 0);
	assert_int_equal(mn_pt_format_stage2(&s2, 40, 0), 0);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_encode_einval(&ept, kinds[i]);
		assert_encode_einval(&s2, kinds[i]);
	}
}

static void test_protnone_migration_roundtrip(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("hostpte.protnone_migration") };
	struct mn_pt_format f = host();
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		unsigned int level = 1 + (unsigned int)mn_test_below(&rng, 3);
		mn_pfn_t pfn =
			mn_test_rand(&rng) & MN_GENMASK(39, 0) & ~((1ULL << (9 * (level - 1))) - 1);
		struct mn_pte p, back;
		uint64_t raw;

		if (mn_test_below(&rng, 2))
			p = (struct mn_pte)PROTNONE(level, pfn, mn_test_below(&rng, 2),
						    mn_test_below(&rng, 2));
		else
			p = (struct mn_pte)MIGRATION(level, pfn,
						     mn_test_below(&rng, 2) ? R | W : R);
		assert_int_equal(mn_pte_encode(&f, &p, &raw), 0);
		/* Never the empty value, never present to the hardware. */
		assert_true(raw != 0);
		assert_false(raw & 1);
		assert_int_equal(mn_pte_decode(&f, raw, level, &back), 0);
		assert_pte_equal(&back, &p);
	}
}

static struct mn_pte random_valid_pte(struct mn_test_rng *rng)
{
	struct mn_pte p = { .level = 1 + (unsigned int)mn_test_below(rng, 4) };
	unsigned int pick = (unsigned int)mn_test_below(rng, 10);

	if (pick == 0)
		return (struct mn_pte){ .kind = MN_PTE_NONE, .level = p.level };
	if (p.level == 4 || (p.level > 1 && pick <= 3)) {
		p.kind = MN_PTE_TABLE;
		p.pfn = mn_test_rand(rng) & MN_GENMASK(39, 0);
		p.perm = R | (mn_test_below(rng, 2) ? W : 0) | (mn_test_below(rng, 2) ? U : 0);
	} else if (pick >= 8) {
		p.kind = pick == 8 ? MN_PTE_PROTNONE : MN_PTE_MIGRATION;
		p.pfn = mn_test_rand(rng) & MN_GENMASK(39, 0) &
			~((1ULL << (9 * (p.level - 1))) - 1);
		if (p.kind == MN_PTE_MIGRATION) {
			p.perm = mn_test_below(rng, 2) ? R | W : R;
			return p;
		}
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
	int i;

	(void)state;
	for (i = 0; i < 300000; i++) {
		struct mn_pte p = random_valid_pte(&rng);
		unsigned int level = 1 + (unsigned int)mn_test_below(&rng, 4);

		roundtrip_mutated_raw(&f, &p, level, &rng, &decoded, &rejected);
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
	assert_describes(&f, 0x000ffffffedcb160ULL, 1, "protnone 4K pfn=0x1234 A D");
	assert_describes(&f, 0x000fffffffdff180ULL, 2, "protnone 2M pfn=0x200");
	assert_describes(&f, 0xc7ffffffffdb9600ULL, 1, "migration-read 4K pfn=0x1234");
	assert_describes(&f, 0xd7fffffffffbfe00ULL, 2, "migration-write 2M pfn=0x200");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_encodings),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_roundtrip_raw),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_protnone_migration_encode_rejects),
		cmocka_unit_test(test_protnone_migration_decode_rejects),
		cmocka_unit_test(test_protnone_migration_only_on_the_host),
		cmocka_unit_test(test_protnone_migration_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
