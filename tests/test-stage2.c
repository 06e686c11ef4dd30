// SPDX-License-Identifier: MIT
/*
 * test-stage2.c - the arm64 stage-2 entry format (lib/pt/stage2.c): hand-derived raw
 * descriptors in both directions, every -EINVAL rule, seeded round trips, the geometry
 * KVM picks for each IPA size (kvm_get_vtcr) and mn_pte_describe().
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

static struct mn_pt_format s2(unsigned int ipa_bits, unsigned int flags)
{
	struct mn_pt_format f;

	assert_int_equal(mn_pt_format_stage2(&f, ipa_bits, flags), 0);
	return f;
}

/* One hand-derived encoding: the fields, the format they are in, the raw value. */
struct golden {
	const char *what;
	unsigned int ipa_bits;
	unsigned int flags;
	struct mn_pte pte;
	uint64_t raw;
};

#define LEAF(lvl, pfn_, perm_, mt, af, sw_)                                          \
	{                                                                            \
		.kind = MN_PTE_LEAF, .level = (lvl), .pfn = (pfn_), .perm = (perm_), \
		.memtype = (mt), .accessed = (af), .sw_bits = (sw_)                  \
	}

#define TABLE(lvl, pfn_)                                            \
	{                                                           \
		.kind = MN_PTE_TABLE, .level = (lvl), .pfn = (pfn_) \
	}
#define OTHER(k, lvl)                       \
	{                                   \
		.kind = (k), .level = (lvl) \
	}

/*
 * Low bits of a leaf: valid 0x1, page type 0x2, MemAttr << 2 (WB 0xf -> 0x3c, FWB WB 0x6
 * -> 0x18, NC 0x5 -> 0x14, device 0x1 -> 0x4), S2AP R 0x40, W 0x80, SH=IS 0x300, AF 0x400.
 * High bits: XN = bit 54 (0x0040...), SW[58:55] = sw_bits << 55.
 */
static const struct golden goldens[] = {
	{ "4K page RW WB, no exec", 40, 0, LEAF(1, 0x12345, R | W, MN_MT_WB, true, 0),
	  0x00400000123457ffULL },
	{ "4K page RWX WB", 40, 0, LEAF(1, 0x12345, R | W | X, MN_MT_WB, true, 0),
	  0x00000000123457ffULL },
	{ "4K page RW WB with FWB (MemAttr 0x6)", 40, MN_S2_FWB,
	  LEAF(1, 0x12345, R | W, MN_MT_WB, true, 0), 0x00400000123457dbULL },
	{ "4K page R, AF clear (aged)", 40, 0, LEAF(1, 0x1, R, MN_MT_WB, false, 0),
	  0x004000000000137fULL },
	{ "2M block RWX WB", 40, 0, LEAF(2, 0x200, R | W | X, MN_MT_WB, true, 0),
	  0x00000000002007fdULL },
	{ "1G block R normal-NC", 40, 0, LEAF(3, 0x40000, R, MN_MT_NORMAL_NC, true, 0),
	  0x0040000040000755ULL },
	{ "1G block RWX FWB, AF clear", 39, MN_S2_FWB,
	  LEAF(3, 0x80000, R | W | X, MN_MT_WB, false, 0), 0x00000000800003d9ULL },
	{ "4K device RW", 40, 0, LEAF(1, 0x9000, R | W, MN_MT_DEVICE, true, 0),
	  0x00400000090007c7ULL },
	{ "4K device RW with FWB (same MemAttr 0x1)", 40, MN_S2_FWB,
	  LEAF(1, 0x9000, R | W, MN_MT_DEVICE, true, 0), 0x00400000090007c7ULL },
	{ "4K normal-NC R with FWB (same MemAttr 0x5)", 40, MN_S2_FWB,
	  LEAF(1, 0x9000, R, MN_MT_NORMAL_NC, true, 0), 0x0040000009000757ULL },
	{ "4K page RW, all SW bits", 40, 0, LEAF(1, 0x12345, R | W, MN_MT_WB, true, 0xf),
	  0x07c00000123457ffULL },
	{ "4K page RWX, SW0|SW2", 40, 0, LEAF(1, 0x12345, R | W | X, MN_MT_WB, true, 0x5),
	  0x02800000123457ffULL },
	{ "XNX: no exec is XN=0b10, i.e. bit 54 as before", 40, MN_S2_XNX,
	  LEAF(1, 0x12345, R | W, MN_MT_WB, true, 0), 0x00400000123457ffULL },
	{ "XNX: exec is XN=0b00", 40, MN_S2_XNX, LEAF(1, 0x12345, R | W | X, MN_MT_WB, true, 0),
	  0x00000000123457ffULL },
	{ "XNX+FWB 2M block R", 44, MN_S2_XNX | MN_S2_FWB, LEAF(2, 0x400, R, MN_MT_WB, true, 0),
	  0x0040000000400759ULL },
	{ "W without R (S2AP=0b10)", 40, 0, LEAF(1, 0x2, W, MN_MT_WB, true, 0),
	  0x00400000000027bfULL },
	{ "no permission at all (S2AP=0b00, XN)", 40, 0, LEAF(1, 0x0, 0, MN_MT_WB, true, 0),
	  0x004000000000073fULL },
	{ "2M block in the root of a 2-level table", 32, 0,
	  LEAF(2, 0x400, R | W, MN_MT_WB, true, 0), 0x00400000004007fdULL },
	{ "highest 4K frame of a 48-bit PA", 48, 0,
	  LEAF(1, 0xfffffffffULL, R | W | X, MN_MT_WB, true, 0), 0x0000fffffffff7ffULL },
	{ "table at level 2", 40, 0, TABLE(2, 0x1a0), 0x00000000001a0003ULL },
	{ "table at level 4 (a 4-level root)", 48, 0, TABLE(4, 0xfffffffffULL),
	  0x0000fffffffff003ULL },
	{ "table with FWB and XNX: no attributes", 44, MN_S2_FWB | MN_S2_XNX, TABLE(3, 0x4321),
	  0x0000000004321003ULL },
	{ "LOCKED: KVM_INVALID_PTE_LOCKED", 40, 0, OTHER(MN_PTE_LOCKED, 1), 0x400 },
	{ "LOCKED at a table level", 48, 0, OTHER(MN_PTE_LOCKED, 4), 0x400 },
	{ "none", 40, 0, OTHER(MN_PTE_NONE, 3), 0 },
};

static void test_golden_encodings(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct mn_pt_format f = s2(g->ipa_bits, g->flags);
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

/* Encoding @p in @f fails with -EINVAL and leaves the output alone. */

static void test_encode_rejects(void **state)
{
	struct mn_pt_format f = s2(40, 0), fwb = s2(40, MN_S2_FWB), f48 = s2(48, 0);
	struct mn_pt_format f32 = s2(32, 0);
	struct mn_pte ok = LEAF(1, 0x12345, R | W, MN_MT_WB, true, 0), p;
	enum mn_memtype mt;
	uint64_t raw;

	(void)state;
	assert_int_equal(mn_pte_encode(&f, &ok, &raw), 0);

	/* Device and Normal-NC memory are never executable (stage2_set_prot_attr). */
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 0x9000, R | W | X, MN_MT_DEVICE, true, 0));
	assert_encode_einval(&fwb, (struct mn_pte)LEAF(1, 0x9000, R | X, MN_MT_DEVICE, true, 0));
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 0x9000, R | X, MN_MT_NORMAL_NC, true, 0));
	/* Memory types stage 2 has no encoding for in KVM. */
	for (mt = MN_MT_UC; mt <= MN_MT_WP; mt++) {
		p = ok;
		p.memtype = mt;
		assert_encode_einval(&f, p);
		assert_encode_einval(&fwb, p);
	}
	/* Misaligned blocks. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(2, 0x201, R, MN_MT_WB, true, 0));
	assert_encode_einval(&f, (struct mn_pte)LEAF(3, 0x40200, R, MN_MT_WB, true, 0));
	/* No block at arm level 0 (mnsim 4), nor above a 2-level table's root. */
	assert_encode_einval(&f48, (struct mn_pte)LEAF(4, 0, R, MN_MT_WB, true, 0));
	assert_encode_einval(&f32, (struct mn_pte)LEAF(3, 0, R, MN_MT_WB, true, 0));
	/* Levels outside the table. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(0, 0, R, MN_MT_WB, true, 0));
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_TABLE, .level = 4, .pfn = 1 });
	/* Output address beyond 48 bits. */
	assert_encode_einval(&f, (struct mn_pte)LEAF(1, 1ULL << 36, R, MN_MT_WB, true, 0));
	assert_encode_einval(
		&f, (struct mn_pte){ .kind = MN_PTE_TABLE, .level = 2, .pfn = 1ULL << 36 });
	/* No dirty bit, no U, no KVM x86 software state, SW is 4 bits. */
	p = ok, p.dirty = true;
	assert_encode_einval(&f, p);
	p = ok, p.perm |= MN_PTE_U;
	assert_encode_einval(&f, p);
	p = ok, p.sw = MN_PTE_SW_HOST_WRITABLE;
	assert_encode_einval(&f, p);
	p = ok, p.sw = MN_PTE_SW_MMU_WRITABLE;
	assert_encode_einval(&f, p);
	p = ok, p.sw = MN_PTE_SW_ACC_TRACK;
	assert_encode_einval(&f, p);
	p = ok, p.sw_bits = 16;
	assert_encode_einval(&f, p);
	p = ok, p.ipat = true;
	assert_encode_einval(&f, p);
	p = ok, p.saved_perm = R;
	assert_encode_einval(&f, p);
	p = ok, p.ad_type = 1;
	assert_encode_einval(&f, p);
	/* A table at the page level does not exist: bits 1:0 = 0b11 there is a page. */
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_TABLE, .level = 1, .pfn = 1 });
	/* Tables, LOCKED and NONE carry no leaf attributes. */
	assert_encode_einval(
		&f, (struct mn_pte){ .kind = MN_PTE_TABLE, .level = 2, .pfn = 1, .perm = R });
	assert_encode_einval(
		&f,
		(struct mn_pte){ .kind = MN_PTE_TABLE, .level = 2, .pfn = 1, .accessed = true });
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_LOCKED, .level = 1, .pfn = 1 });
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_NONE, .level = 1, .sw_bits = 1 });
	assert_encode_einval(
		&f, (struct mn_pte){ .kind = MN_PTE_NONE, .level = 1, .memtype = MN_MT_DEVICE });
	/* FROZEN is EPT's. */
	assert_encode_einval(&f, (struct mn_pte){ .kind = MN_PTE_FROZEN, .level = 1 });
}

static void test_decode_rejects(void **state)
{
	struct mn_pt_format f = s2(40, 0), fwb = s2(40, MN_S2_FWB), xnx = s2(40, MN_S2_XNX);
	struct mn_pt_format f48 = s2(48, 0), f32 = s2(32, 0);
	const uint64_t page = 0x00400000123457ffULL; /* RW WB page, pfn 0x12345 */
	struct mn_pte p;
	unsigned int bit;

	(void)state;
	assert_int_equal(mn_pte_decode(&f, page, 1, &p), 0);

	/* Device memory with XN clear (executable). */
	assert_decode_einval(&f, 0x00000000090007c7ULL, 1);
	/* Normal-NC with XN clear. */
	assert_decode_einval(&f, 0x0000000009000757ULL, 1);
	/* Misaligned block output addresses (2M at pfn 0x201, 1G at pfn 0x40200). */
	assert_decode_einval(&f, 0x00000000002017fdULL, 2);
	assert_decode_einval(&f, 0x00000000402007fdULL, 3);
	/* A block at arm level 0, and at mnsim level 3 of a 2-level table. */
	assert_decode_einval(&f48, 0x00000000000007fdULL, 4);
	assert_decode_einval(&f32, 0x00000000000007fdULL, 3);
	/* Block type (bit 1 clear) at the page level is reserved. */
	assert_decode_einval(&f, page & ~2ULL, 1);
	/* A table descriptor read at the page level is a page with MemAttr 0 and SH 0. */
	assert_decode_einval(&f, 0x00000000001a0003ULL, 1);
	/* Tables carry nothing but the address. */
	assert_decode_einval(&f, 0x00000000001a0403ULL, 2);
	assert_decode_einval(&f, 0x00400000001a0003ULL, 2);
	/* MemAttr KVM never writes in this mode: FWB WB without FWB, 0xf with FWB, 0x0. */
	assert_decode_einval(&f, 0x00400000123457dbULL, 1);
	assert_decode_einval(&fwb, page, 1);
	assert_decode_einval(&f, page & ~0x3cULL, 1);
	/* SH other than inner-shareable. */
	assert_decode_einval(&f, page & ~0x100ULL, 1);
	assert_decode_einval(&f, page & ~0x300ULL, 1);
	/* XN[0] (bit 53): RES0 without XNX, split EL1/EL0 exec (PXN/UXN) with it. */
	assert_decode_einval(&f, page | MN_BIT(53), 1);
	assert_decode_einval(&xnx, page | MN_BIT(53), 1);
	assert_decode_einval(&xnx, (page & ~MN_BIT(54)) | MN_BIT(53), 1);
	/* Output address bits 51:48, nT, DBM, Contiguous, bit 50, PBHA, bit 63. */
	for (bit = 48; bit <= 52; bit++)
		assert_decode_einval(&f, page | MN_BIT(bit), 1);
	assert_decode_einval(&f, page | MN_BIT(11), 1);
	for (bit = 59; bit <= 63; bit++)
		assert_decode_einval(&f, page | MN_BIT(bit), 1);
	/* Invalid descriptors other than 0 and LOCKED: owner annotations in bits 9:2. */
	assert_decode_einval(&f, 0x4, 1);
	assert_decode_einval(&f, 0x3fc, 2);
	assert_decode_einval(&f, 0x404, 1);
	assert_decode_einval(&f, page & ~1ULL, 1);
	/* Levels outside the table. */
	assert_decode_einval(&f, 0, 0);
	assert_decode_einval(&f, 0, 4);
	assert_decode_einval(&f32, 0x00000000001a0003ULL, 3);
}

/* A random entry KVM could write at a random level of @f. */
static struct mn_pte random_valid_pte(struct mn_test_rng *rng, const struct mn_pt_format *f)
{
	static const enum mn_memtype types[] = { MN_MT_WB, MN_MT_NORMAL_NC, MN_MT_DEVICE };
	struct mn_pte p = { .level = 1 + (unsigned int)mn_test_below(rng, f->top_level) };
	unsigned int pick = (unsigned int)mn_test_below(rng, 8);
	unsigned int align_bits = MN_LEVEL_BITS * (p.level - 1);

	if (pick == 0) {
		p.kind = MN_PTE_NONE;
	} else if (pick == 1) {
		p.kind = MN_PTE_LOCKED;
	} else if (pick <= 3 && p.level > 1) {
		p.kind = MN_PTE_TABLE;
		p.pfn = mn_test_rand(rng) & MN_GENMASK(35, 0);
	} else {
		if (p.level > f->max_leaf_level)
			p.level = f->max_leaf_level;
		align_bits = MN_LEVEL_BITS * (p.level - 1);
		p.kind = MN_PTE_LEAF;
		p.pfn = mn_test_rand(rng) & MN_GENMASK(35, 0) & ~((1ULL << align_bits) - 1);
		p.memtype = types[mn_test_below(rng, 3)];
		p.perm = (unsigned int)mn_test_below(rng, 8);
		if (p.memtype != MN_MT_WB)
			p.perm &= ~MN_PTE_X;
		p.accessed = mn_test_below(rng, 2);
		p.sw_bits = (unsigned int)mn_test_below(rng, 16);
	}
	return p;
}

static struct mn_pt_format random_format(struct mn_test_rng *rng)
{
	return s2(32 + (unsigned int)mn_test_below(rng, 17), (unsigned int)mn_test_below(rng, 4));
}

static void test_roundtrip_fields(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("stage2.roundtrip") };
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		struct mn_pt_format f = random_format(&rng);
		struct mn_pte p = random_valid_pte(&rng, &f), back;
		uint64_t raw;

		assert_int_equal(mn_pte_encode(&f, &p, &raw), 0);
		assert_int_equal(mn_pte_decode(&f, raw, p.level, &back), 0);
		assert_pte_equal(&back, &p);
	}
}

/*
 * Random raw values: pure noise rarely decodes, so most are a valid entry with a few bits
 * flipped. Whatever decodes must encode back to the very same raw value.
 */
static void test_roundtrip_raw(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("stage2.roundtrip_raw") };
	unsigned long decoded = 0, rejected = 0;
	int i;

	(void)state;
	for (i = 0; i < 300000; i++) {
		struct mn_pt_format f = random_format(&rng);
		struct mn_pte p = random_valid_pte(&rng, &f);
		unsigned int level = 1 + (unsigned int)mn_test_below(&rng, f.top_level);

		roundtrip_mutated_raw(&f, &p, level, &rng, &decoded, &rejected);
	}
	print_message("stage2.roundtrip_raw: %lu decoded, %lu rejected\n", decoded, rejected);
	assert_true(decoded > 10000);
	assert_true(rejected > 10000);
}

struct geometry {
	unsigned int ipa_bits;
	unsigned int levels;
	unsigned int root_entries;
	unsigned int max_leaf_level;
};

static void test_geometry(void **state)
{
	/* levels = (ipa - 8) / 9; root = 2^(ipa - 12 - 9 * (levels - 1)), at most 16 pages. */
	static const struct geometry geo[] = {
		{ 32, 2, 2048, 2 }, { 36, 3, 64, 3 },	{ 39, 3, 512, 3 }, { 40, 3, 1024, 3 },
		{ 42, 3, 4096, 3 }, { 43, 3, 8192, 3 }, { 44, 4, 32, 3 },  { 48, 4, 512, 3 },
		{ 34, 2, 8192, 2 }, { 35, 3, 32, 3 },
	};
	struct mn_pt_format f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(geo) / sizeof(geo[0]); i++) {
		char name[16];

		f = s2(geo[i].ipa_bits, MN_S2_FWB);
		snprintf(name, sizeof(name), "stage2-%u", geo[i].ipa_bits);
		assert_string_equal(f.name, name);
		assert_int_equal(f.arch, MN_PT_STAGE2);
		assert_int_equal(f.flags, MN_S2_FWB);
		assert_int_equal(f.top_level, geo[i].levels);
		assert_int_equal(f.root_entries, geo[i].root_entries);
		assert_int_equal(f.max_leaf_level, geo[i].max_leaf_level);
		assert_int_equal(f.ia_bits, geo[i].ipa_bits);
		assert_int_equal(f.pa_bits, 48);
		assert_int_equal(f.nonpresent, 0);
		assert_int_equal(f.pfn_mask, 0x0000fffffffff000ULL);
		assert_int_equal(f.accessed_mask, MN_BIT(10));
		assert_int_equal(f.dirty_mask, 0);
		assert_int_equal(f.write_mask, MN_BIT(7));
		/* The root resolves exactly the IPA bits the lower levels leave over. */
		assert_int_equal((uint64_t)f.root_entries << (12 + 9 * (f.top_level - 1)),
				 1ULL << geo[i].ipa_bits);
		assert_true(f.root_entries <= 16 * 512);
	}
	f = s2(40, MN_S2_FWB | MN_S2_XNX);
	assert_int_equal(f.flags, MN_S2_FWB | MN_S2_XNX);
}

static void test_geometry_rejects(void **state)
{
	struct mn_pt_format f = { .name = "untouched" };

	(void)state;
	assert_int_equal(mn_pt_format_stage2(&f, 31, 0), -EINVAL);
	assert_int_equal(mn_pt_format_stage2(&f, 49, 0), -EINVAL);
	assert_int_equal(mn_pt_format_stage2(&f, 0, 0), -EINVAL);
	assert_int_equal(mn_pt_format_stage2(&f, 52, 0), -EINVAL);
	assert_int_equal(mn_pt_format_stage2(&f, 40, 1U << 2), -EINVAL);
	assert_int_equal(mn_pt_format_stage2(&f, 40, ~0U), -EINVAL);
	assert_string_equal(f.name, "untouched");
}

static void test_describe(void **state)
{
	struct mn_pt_format f = s2(40, 0);

	(void)state;
	assert_describes(&f, 0x07c00000123457ffULL, 1, "leaf 4K pfn=0x12345 RW- WB A sw=15");
	assert_describes(&f, 0x0040000040000355ULL, 3, "leaf 1G pfn=0x40000 R-- NC");
	assert_describes(&f, 0x00000000001a0003ULL, 2, "table pfn=0x1a0");
	assert_describes(&f, 0x400, 2, "locked (break-before-make)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_encodings), cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_rejects),	 cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_roundtrip_raw),	 cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_geometry_rejects), cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
