// SPDX-License-Identifier: MIT
/*
 * test-ept.c - unit tests for lib/pt/ept.c, KVM's EPT SPTE format: hand-derived golden
 * encodings in both directions, one case per rejection rule, seeded round-trip properties over
 * fields and raw values, the geometry of "ept4"/"ept5", and mn_pte_describe() output.
 */
#include "mn-test.h"
#include "mn-test-pte.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <mnsim/pte.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n)	      (1ULL << (n))
#define GENMASK(h, l) ((~0ULL >> (63 - (h))) & (~0ULL << (l)))

#define RWX (MN_PTE_R | MN_PTE_W | MN_PTE_X)
#define HW  MN_PTE_SW_HOST_WRITABLE
#define MW  MN_PTE_SW_MMU_WRITABLE
#define AT  MN_PTE_SW_ACC_TRACK

#define NONPRESENT BIT(63)

static struct mn_pt_format fmt(unsigned int levels, unsigned int flags)
{
	struct mn_pt_format f;

	assert_int_equal(mn_pt_format_ept(&f, levels, flags), 0);
	return f;
}

/*
 * Golden encodings, derived by hand from the layout: RWX 2:0, memtype 5:3 (UC 0, WC 1, WT 4,
 * WP 5, WB 6), IPAT 6, page size 7, A 8, D 9, MMU-present 11, pfn 51:12, A/D type 53:52,
 * saved R 54 / X 56, host-writable 57, MMU-writable 58, suppress-#VE 63.
 */
struct golden {
	const char *what;
	unsigned int levels, flags;
	struct mn_pte pte;
	uint64_t raw;
};

/* One case per entry reads better than clang-format's one field per line. */
/* clang-format off */
static const struct golden goldens[] = {
	{ "4K RWX WB+IPAT A D host-w mmu-w", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x12345, .perm = RWX, .memtype = MN_MT_WB,
	    .ipat = true, .accessed = true, .dirty = true, .sw = HW | MW },
	  0x8600000012345b77ULL },
	{ "2M read-only, host-w, write-protected for shadow paging", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 2, .pfn = 0x200, .perm = MN_PTE_R,
	    .memtype = MN_MT_WB, .ipat = true, .accessed = true, .sw = HW },
	  0x82000000002009f1ULL },
	{ "1G R-X, dirty-log write-protected (mmu-w, no W)", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 3, .pfn = 0x40000, .perm = MN_PTE_R | MN_PTE_X,
	    .memtype = MN_MT_WB, .accessed = true, .dirty = true, .sw = HW | MW },
	  0x8600000040000bb5ULL },
	{ "2M RW- (NX huge page) A D", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 2, .pfn = 0x12400, .perm = MN_PTE_R | MN_PTE_W,
	    .memtype = MN_MT_WB, .ipat = true, .accessed = true, .dirty = true, .sw = HW | MW },
	  0x8600000012400bf3ULL },
	{ "4K execute-only (EXEC_ONLY)", 4, MN_EPT_EXEC_ONLY,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x1000, .perm = MN_PTE_X,
	    .memtype = MN_MT_WB, .ipat = true, .accessed = true },
	  0x8000000001000974ULL },
	{ "4K access-tracked, saved R+X, D, host-w mmu-w", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0xabcde, .memtype = MN_MT_WB, .ipat = true,
	    .dirty = true, .sw = HW | MW | AT, .saved_perm = MN_PTE_R | MN_PTE_X, .ad_type = 1 },
	  0x87500000abcdea70ULL },
	{ "4K access-tracked, saved R", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x5, .memtype = MN_MT_WB, .ipat = true,
	    .sw = AT, .saved_perm = MN_PTE_R, .ad_type = 1 },
	  0x8050000000005870ULL },
	{ "4K access-tracked, saved X (EXEC_ONLY)", 5, MN_EPT_EXEC_ONLY,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x10, .memtype = MN_MT_WB, .ipat = true,
	    .sw = AT, .saved_perm = MN_PTE_X, .ad_type = 1 },
	  0x8110000000010870ULL },
	{ "4K R UC", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x100, .perm = MN_PTE_R,
	    .memtype = MN_MT_UC, .accessed = true },
	  0x8000000000100901ULL },
	{ "4K R WC", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x100, .perm = MN_PTE_R,
	    .memtype = MN_MT_WC, .accessed = true },
	  0x8000000000100909ULL },
	{ "4K R WT", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x100, .perm = MN_PTE_R,
	    .memtype = MN_MT_WT, .accessed = true },
	  0x8000000000100921ULL },
	{ "4K R WP", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x100, .perm = MN_PTE_R,
	    .memtype = MN_MT_WP, .accessed = true },
	  0x8000000000100929ULL },
	{ "4K R WB", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x100, .perm = MN_PTE_R,
	    .memtype = MN_MT_WB, .accessed = true },
	  0x8000000000100931ULL },
	{ "4K R UC+IPAT (CR0.CD era)", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x100, .perm = MN_PTE_R,
	    .memtype = MN_MT_UC, .ipat = true, .accessed = true },
	  0x8000000000100941ULL },
	{ "4K R UC, highest pfn, not accessed", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0xffffffffffULL, .perm = MN_PTE_R,
	    .memtype = MN_MT_UC },
	  0x800ffffffffff801ULL },
	{ "4K RW A/D type 1 (disabled), accessed", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 1, .pfn = 0x777, .perm = MN_PTE_R | MN_PTE_W,
	    .memtype = MN_MT_WB, .ipat = true, .accessed = true, .dirty = true, .sw = HW | MW,
	    .ad_type = 1 },
	  0x8610000000777b73ULL },
	{ "2M RWX A/D type 2 (write-protect only)", 4, 0,
	  { .kind = MN_PTE_LEAF, .level = 2, .pfn = 0x400, .perm = RWX, .memtype = MN_MT_WB,
	    .ipat = true, .accessed = true, .sw = HW | MW, .ad_type = 2 },
	  0x86200000004009f7ULL },
	{ "table at level 2", 4, 0,
	  { .kind = MN_PTE_TABLE, .level = 2, .pfn = 0x1a0, .perm = RWX, .accessed = true },
	  0x80000000001a0907ULL },
	{ "table at level 3", 4, 0,
	  { .kind = MN_PTE_TABLE, .level = 3, .pfn = 0x1a1, .perm = RWX, .accessed = true },
	  0x80000000001a1907ULL },
	{ "table at level 4, highest pfn", 4, MN_EPT_EXEC_ONLY,
	  { .kind = MN_PTE_TABLE, .level = 4, .pfn = 0xffffffffffULL, .perm = RWX,
	    .accessed = true },
	  0x800ffffffffff907ULL },
	{ "table at level 5, A/D disabled", 5, 0,
	  { .kind = MN_PTE_TABLE, .level = 5, .pfn = 0x2, .perm = RWX, .ad_type = 1 },
	  0x8010000000002807ULL },
	{ "not present (SHADOW_NONPRESENT_VALUE)", 4, 0, { .kind = MN_PTE_NONE, .level = 1 },
	  0x8000000000000000ULL },
	{ "not present at the root", 5, 0, { .kind = MN_PTE_NONE, .level = 5 },
	  0x8000000000000000ULL },
	{ "FROZEN_SPTE", 4, 0, { .kind = MN_PTE_FROZEN, .level = 2 }, 0x80000000000005a0ULL },
};
/* clang-format on */

static void test_golden_encodings(void **state)
{
	(void)state;
	assert_true(ARRAY_SIZE(goldens) >= 20);

	for (size_t i = 0; i < ARRAY_SIZE(goldens); i++) {
		const struct golden *g = &goldens[i];
		struct mn_pt_format f = fmt(g->levels, g->flags);
		struct mn_pte got;
		uint64_t raw = 0;

		if (mn_pte_encode(&f, &g->pte, &raw) || raw != g->raw ||
		    mn_pte_decode(&f, g->raw, g->pte.level, &got))
			print_message("golden %zu (%s): got %#" PRIx64 "\n", i, g->what, raw);
		assert_int_equal(mn_pte_encode(&f, &g->pte, &raw), 0);
		assert_int_equal(raw, g->raw);
		assert_int_equal(mn_pte_decode(&f, g->raw, g->pte.level, &got), 0);
		assert_pte_equal(&got, &g->pte);
	}
}

/* Before 6.10 the not-present value was 0; it decodes as NONE and re-encodes canonically. */
static void test_decode_zero_is_legacy_nonpresent(void **state)
{
	struct mn_pt_format f = fmt(4, 0);
	struct mn_pte p;
	uint64_t raw;

	(void)state;
	for (unsigned int level = 1; level <= 4; level++) {
		assert_int_equal(mn_pte_decode(&f, 0, level, &p), 0);
		assert_int_equal(p.kind, MN_PTE_NONE);
		assert_int_equal(p.level, level);
		assert_int_equal(mn_pte_encode(&f, &p, &raw), 0);
		assert_int_equal(raw, NONPRESENT);
	}
}

struct bad_fields {
	const char *what;
	unsigned int levels, flags;
	struct mn_pte pte;
};

#define LEAF MN_PTE_LEAF
#define TBL  MN_PTE_TABLE

/* One case per entry reads better than clang-format's one field per line. */
/* clang-format off */
static const struct bad_fields bad_fields[] = {
	{ "leaf at level 4", 4, 0, { .kind = LEAF, .level = 4, .perm = MN_PTE_R, .accessed = 1 } },
	{ "leaf at level 5", 5, 0, { .kind = LEAF, .level = 5, .perm = MN_PTE_R, .accessed = 1 } },
	{ "leaf at level 0", 4, 0,
	  { .kind = LEAF, .level = 0, .pfn = 0x100, .perm = MN_PTE_R, .accessed = 1 } },
	{ "2M leaf, pfn not 2M-aligned", 4, 0,
	  { .kind = LEAF, .level = 2, .pfn = 0x201, .perm = MN_PTE_R, .accessed = 1 } },
	{ "1G leaf, pfn only 2M-aligned", 4, 0,
	  { .kind = LEAF, .level = 3, .pfn = 0x200, .perm = MN_PTE_R, .accessed = 1 } },
	{ "leaf pfn beyond 40 bits", 4, 0,
	  { .kind = LEAF, .level = 1, .pfn = BIT(40), .perm = MN_PTE_R, .accessed = 1 } },
	{ "table pfn beyond 40 bits", 4, 0,
	  { .kind = TBL, .level = 2, .pfn = BIT(40), .perm = RWX, .accessed = 1 } },
	{ "W without R", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_W, .accessed = 1, .sw = HW | MW } },
	{ "W without R, even with EXEC_ONLY", 4, MN_EPT_EXEC_ONLY,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_W, .accessed = 1, .sw = HW | MW } },
	{ "WX without R (the MMIO misconfig value)", 4, MN_EPT_EXEC_ONLY,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_W | MN_PTE_X, .accessed = 1,
	    .sw = HW | MW } },
	{ "X without R, no EXEC_ONLY", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_X, .accessed = 1 } },
	{ "no permission and not access-tracked", 4, MN_EPT_EXEC_ONLY,
	  { .kind = LEAF, .level = 1, .accessed = 1 } },
	{ "MMU-writable without host-writable", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .accessed = 1, .sw = MW } },
	{ "hardware W without MMU-writable", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R | MN_PTE_W, .accessed = 1, .sw = HW } },
	{ "D without host-writable", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .accessed = 1, .dirty = 1 } },
	{ "A/D type 3", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .accessed = 1, .ad_type = 3 } },
	{ "memtype Normal-NC", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .memtype = MN_MT_NORMAL_NC } },
	{ "memtype Device", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .memtype = MN_MT_DEVICE } },
	{ "memtype out of range", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .memtype = (enum mn_memtype)42 } },
	{ "U on a leaf", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R | MN_PTE_U, .accessed = 1 } },
	{ "U on a table", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX | MN_PTE_U, .accessed = 1 } },
	{ "table not RWX", 4, 0, { .kind = TBL, .level = 2, .perm = MN_PTE_R, .accessed = 1 } },
	{ "table without A, A/D enabled", 4, 0, { .kind = TBL, .level = 2, .perm = RWX } },
	{ "table with A, A/D disabled", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX, .accessed = 1, .ad_type = 1 } },
	{ "table with A/D type 2", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX, .accessed = 1, .ad_type = 2 } },
	{ "table dirty", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX, .accessed = 1, .dirty = 1 } },
	{ "table with a memtype", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX, .accessed = 1, .memtype = MN_MT_WT } },
	{ "table with IPAT", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX, .accessed = 1, .ipat = 1 } },
	{ "table host-writable", 4, 0,
	  { .kind = TBL, .level = 2, .perm = RWX, .accessed = 1, .sw = HW } },
	{ "table at level 1", 4, 0, { .kind = TBL, .level = 1, .perm = RWX, .accessed = 1 } },
	{ "table above the root", 4, 0,
	  { .kind = TBL, .level = 5, .perm = RWX, .accessed = 1 } },
	{ "access-tracked with A/D enabled", 4, 0,
	  { .kind = LEAF, .level = 1, .sw = AT, .saved_perm = MN_PTE_R } },
	{ "access-tracked with A/D write-protect only", 4, 0,
	  { .kind = LEAF, .level = 1, .sw = AT, .saved_perm = MN_PTE_R, .ad_type = 2 } },
	{ "access-tracked with RWX left", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .sw = AT, .saved_perm = MN_PTE_R,
	    .ad_type = 1 } },
	{ "access-tracked but accessed", 4, 0,
	  { .kind = LEAF, .level = 1, .accessed = 1, .sw = AT, .saved_perm = MN_PTE_R,
	    .ad_type = 1 } },
	{ "access-tracked with nothing saved", 4, 0,
	  { .kind = LEAF, .level = 1, .sw = AT, .ad_type = 1 } },
	{ "access-tracked saving W", 4, 0,
	  { .kind = LEAF, .level = 1, .sw = AT | HW | MW, .saved_perm = MN_PTE_R | MN_PTE_W,
	    .ad_type = 1 } },
	{ "access-tracked saving X only, no EXEC_ONLY", 4, 0,
	  { .kind = LEAF, .level = 1, .sw = AT, .saved_perm = MN_PTE_X, .ad_type = 1 } },
	{ "saved R/X without access tracking", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .accessed = 1,
	    .saved_perm = MN_PTE_R } },
	{ "A/D disabled, neither accessed nor access-tracked", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .ad_type = 1 } },
	{ "unknown software flag", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .accessed = 1, .sw = 1U << 3 } },
	{ "stage-2 software bits", 4, 0,
	  { .kind = LEAF, .level = 1, .perm = MN_PTE_R, .accessed = 1, .sw_bits = 1 } },
	{ "NONE with a pfn", 4, 0, { .kind = MN_PTE_NONE, .level = 1, .pfn = 1 } },
	{ "NONE accessed", 4, 0, { .kind = MN_PTE_NONE, .level = 1, .accessed = 1 } },
	{ "FROZEN with a permission", 4, 0,
	  { .kind = MN_PTE_FROZEN, .level = 1, .perm = MN_PTE_R } },
	{ "NONE at level 0", 4, 0, { .kind = MN_PTE_NONE, .level = 0 } },
	{ "NONE above the root", 5, 0, { .kind = MN_PTE_NONE, .level = 6 } },
	{ "stage-2 LOCKED kind", 4, 0, { .kind = MN_PTE_LOCKED, .level = 1 } },
	{ "unknown kind", 4, 0, { .kind = (enum mn_pte_kind)42, .level = 1 } },
};
/* clang-format on */

static void test_encode_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_fields); i++) {
		const struct bad_fields *b = &bad_fields[i];
		struct mn_pt_format f = fmt(b->levels, b->flags);
		uint64_t raw = 0x1234;
		int ret = mn_pte_encode(&f, &b->pte, &raw);

		if (ret != -EINVAL)
			print_message("encode accepted %zu: %s\n", i, b->what);
		assert_int_equal(ret, -EINVAL);
		assert_int_equal(raw, 0x1234);
	}
}

struct bad_raw {
	const char *what;
	unsigned int levels, flags, level;
	uint64_t raw;
};

/* One case per entry reads better than clang-format's one field per line. */
/* clang-format off */
static const struct bad_raw bad_raws[] = {
	{ "page-size bit at level 4", 4, 0, 4, 0x80000000000009b7ULL },
	{ "page-size bit at level 5", 5, 0, 5, 0x80000000000009b7ULL },
	{ "page-size bit at level 1", 4, 0, 1, 0x80000000001009b1ULL },
	{ "hardware-present, not MMU-present", 4, 0, 1, 0x0000000000100107ULL },
	{ "MMIO SPTE (WX, gen 5, gfn 0x12345)", 4, 0, 1, 0x000000001234502eULL },
	{ "MMIO SPTE with bit 63", 4, 0, 1, 0x800000001234502eULL },
	{ "not-present value with RWX", 4, 0, 1, 0x8000000000000001ULL },
	{ "FROZEN_SPTE with an extra bit", 4, 0, 2, 0x80000000000005a1ULL },
	{ "present without suppress-#VE (pre-6.10)", 4, 0, 1, 0x0000000000100931ULL },
	{ "present table without suppress-#VE", 4, 0, 2, 0x00000000001a0907ULL },
	{ "reserved memtype 2", 4, 0, 1, 0x8000000000100911ULL },
	{ "reserved memtype 3", 4, 0, 1, 0x8000000000100919ULL },
	{ "reserved memtype 7", 4, 0, 1, 0x8000000000100939ULL },
	{ "bit 10 (MBEC user-execute)", 4, 0, 1, 0x8000000000100d31ULL },
	{ "bit 55 (a saved W)", 4, 0, 1, 0x8080000000100931ULL },
	{ "bit 60", 4, 0, 1, 0x9000000000100931ULL },
	{ "A/D type 3", 4, 0, 1, 0x8030000000100931ULL },
	{ "table with memtype bits", 4, 0, 2, 0x80000000001a0937ULL },
	{ "table with IPAT", 4, 0, 2, 0x80000000001a0947ULL },
	{ "table with D", 4, 0, 2, 0x80000000001a0b07ULL },
	{ "table host-writable", 4, 0, 2, 0x82000000001a0907ULL },
	{ "table R-X", 4, 0, 3, 0x80000000001a0905ULL },
	{ "table with A/D type 2", 4, 0, 2, 0x80200000001a0907ULL },
	{ "table, A/D enabled, no A", 4, 0, 2, 0x80000000001a0807ULL },
	{ "table, A/D disabled, with A", 4, 0, 2, 0x80100000001a0907ULL },
	{ "access-tracked with A", 4, 0, 1, 0x8050000000005970ULL },
	{ "access-tracked with nothing saved", 4, 0, 1, 0x8010000000005870ULL },
	{ "access-tracked saving X only, no EXEC_ONLY", 4, 0, 1, 0x8110000000010870ULL },
	{ "saved R on a non-tracked SPTE", 4, 0, 1, 0x8040000000100931ULL },
	{ "A/D enabled, RWX 0", 4, 0, 1, 0x8000000000100930ULL },
	{ "A/D disabled, not tracked, no A", 4, 0, 1, 0x8010000000100831ULL },
	{ "write-only", 4, MN_EPT_EXEC_ONLY, 1, 0x8600000000100932ULL },
	{ "WX without R", 4, MN_EPT_EXEC_ONLY, 1, 0x8600000000100936ULL },
	{ "X-only without EXEC_ONLY", 4, 0, 1, 0x8000000000100934ULL },
	{ "W without MMU-writable", 4, 0, 1, 0x8200000000100933ULL },
	{ "MMU-writable without host-writable", 4, 0, 1, 0x8400000000100931ULL },
	{ "D without host-writable", 4, 0, 1, 0x8000000000100b31ULL },
	{ "2M leaf at pfn 0x201", 4, 0, 2, 0x80000000002019b1ULL },
	{ "1G leaf at pfn 0x200", 4, 0, 3, 0x80000000002009b1ULL },
	{ "level 0", 4, 0, 0, 0x8000000000000000ULL },
	{ "level 5 of a 4-level format", 4, 0, 5, 0x8000000000000000ULL },
	{ "level 6 of a 5-level format", 5, 0, 6, 0x80000000001a0907ULL },
};
/* clang-format on */

static void test_decode_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_raws); i++) {
		const struct bad_raw *b = &bad_raws[i];
		struct mn_pt_format f = fmt(b->levels, b->flags);
		struct mn_pte out = { .kind = MN_PTE_LOCKED, .level = 77 };
		int ret = mn_pte_decode(&f, b->raw, b->level, &out);

		if (ret != -EINVAL)
			print_message("decode accepted %zu: %s\n", i, b->what);
		assert_int_equal(ret, -EINVAL);
		assert_int_equal(out.kind, MN_PTE_LOCKED);
		assert_int_equal(out.level, 77);
	}
}

/*
 * Random valid field structs: every kind, level, A/D type, memtype and the software-bit
 * lattice (host-writable >= MMU-writable >= W), access-tracked leaves only with A/D disabled.
 */
static const unsigned int leaf_perms[] = {
	MN_PTE_R, MN_PTE_R | MN_PTE_W, MN_PTE_R | MN_PTE_X, RWX, MN_PTE_X /* EXEC_ONLY */
};
static const enum mn_memtype ept_memtypes[] = { MN_MT_WB, MN_MT_UC, MN_MT_WC, MN_MT_WT, MN_MT_WP };

static void random_format(struct mn_test_rng *rng, struct mn_pt_format *f)
{
	unsigned int flags = mn_test_below(rng, 2) ? MN_EPT_EXEC_ONLY : 0;

	assert_int_equal(mn_pt_format_ept(f, 4 + (unsigned int)mn_test_below(rng, 2), flags), 0);
}

static void random_pte(struct mn_test_rng *rng, const struct mn_pt_format *f, struct mn_pte *p)
{
	uint64_t pfn = mn_test_rand(rng) & (BIT(40) - 1);
	unsigned int nperm;

	memset(p, 0, sizeof(*p));
	switch (mn_test_below(rng, 8)) {
	case 0:
		p->kind = MN_PTE_NONE;
		p->level = 1 + (unsigned int)mn_test_below(rng, f->top_level);
		return;
	case 1:
		p->kind = MN_PTE_FROZEN;
		p->level = 1 + (unsigned int)mn_test_below(rng, f->top_level);
		return;
	case 2:
	case 3:
		p->kind = MN_PTE_TABLE;
		p->level = 2 + (unsigned int)mn_test_below(rng, f->top_level - 1);
		p->pfn = pfn;
		p->perm = RWX;
		p->ad_type = (unsigned int)mn_test_below(rng, 2);
		p->accessed = p->ad_type == 0;
		return;
	default:
		break;
	}

	p->kind = MN_PTE_LEAF;
	p->level = 1 + (unsigned int)mn_test_below(rng, 3);
	p->pfn = pfn & ~(mn_level_pages((enum mn_pg_level)p->level) - 1);
	p->memtype = ept_memtypes[mn_test_below(rng, ARRAY_SIZE(ept_memtypes))];
	p->ipat = mn_test_below(rng, 2);
	p->ad_type = (unsigned int)mn_test_below(rng, 3);
	if (mn_test_below(rng, 2))
		p->sw |= HW;
	if ((p->sw & HW) && mn_test_below(rng, 2))
		p->sw |= MW;
	nperm = f->flags & MN_EPT_EXEC_ONLY ? ARRAY_SIZE(leaf_perms) : ARRAY_SIZE(leaf_perms) - 1;
	p->perm = leaf_perms[mn_test_below(rng, nperm)];
	if (!(p->sw & MW))
		p->perm &= ~MN_PTE_W;
	p->dirty = (p->sw & HW) && mn_test_below(rng, 2);
	if (p->ad_type == 1 && mn_test_below(rng, 2)) {
		p->sw |= AT;
		p->saved_perm = p->perm & ~MN_PTE_W;
		p->perm = 0;
	} else {
		p->accessed = p->ad_type == 1 || mn_test_below(rng, 2);
	}
}

#define ROUNDTRIP_STRUCTS 50000
#define ROUNDTRIP_RAWS	  200000

static void test_roundtrip_fields(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("ept.roundtrip") };
	unsigned int kinds[MN_PTE_LOCKED + 1] = { 0 };

	(void)state;
	for (unsigned int i = 0; i < ROUNDTRIP_STRUCTS; i++) {
		struct mn_pt_format f;
		struct mn_pte p, q;
		uint64_t raw, again;

		random_format(&rng, &f);
		random_pte(&rng, &f, &p);
		if (mn_pte_encode(&f, &p, &raw)) {
			print_message("iteration %u: kind %d level %u pfn %#" PRIx64
				      " perm %u sw %u ad %u refused\n",
				      i, p.kind, p.level, p.pfn, p.perm, p.sw, p.ad_type);
			fail();
		}
		assert_int_equal(mn_pte_decode(&f, raw, p.level, &q), 0);
		assert_pte_equal(&q, &p);
		assert_int_equal(mn_pte_encode(&f, &q, &again), 0);
		assert_int_equal(again, raw);
		kinds[p.kind]++;
	}
	for (unsigned int k = MN_PTE_NONE; k <= MN_PTE_FROZEN; k++)
		assert_true(kinds[k] > 0);
}

/* Bits KVM may set in some EPT SPTE: 9:0, 11, 51:12, 54:52, 58:56, 63. */
#define ANY_SPTE_BITS 0x877ffffffffffbffULL

static uint64_t random_raw(struct mn_test_rng *rng)
{
	struct mn_pt_format f;
	struct mn_pte p;
	uint64_t raw;

	switch (mn_test_below(rng, 4)) {
	case 0:
		return mn_test_rand(rng);
	case 1:
		/* Plausible: MMU-present and suppress-#VE, small pfn, the other bits random. */
		raw = mn_test_rand(rng) & ANY_SPTE_BITS & ~GENMASK(51, 20);
		return raw | BIT(11) | BIT(63);
	default:
		/* A valid SPTE with one or two bits flipped. */
		random_format(rng, &f);
		random_pte(rng, &f, &p);
		assert_int_equal(mn_pte_encode(&f, &p, &raw), 0);
		raw ^= BIT(mn_test_below(rng, 64));
		if (mn_test_below(rng, 2))
			raw ^= BIT(mn_test_below(rng, 64));
		return raw;
	}
}

static void test_roundtrip_raw(void **state)
{
	struct mn_test_rng rng = { mn_test_seed("ept.roundtrip") ^ 0x726177ULL };
	unsigned int accepted = 0, rejected = 0;

	(void)state;
	for (unsigned int i = 0; i < ROUNDTRIP_RAWS; i++) {
		struct mn_pt_format f;
		unsigned int level;
		struct mn_pte p;
		uint64_t raw = random_raw(&rng), again;

		random_format(&rng, &f);
		level = 1 + (unsigned int)mn_test_below(&rng, f.top_level);
		if (mn_pte_decode(&f, raw, level, &p)) {
			rejected++;
			continue;
		}
		accepted++;
		assert_int_equal(p.level, level);
		if (mn_pte_encode(&f, &p, &again)) {
			print_message("raw %#" PRIx64 " at level %u decodes but does not encode\n",
				      raw, level);
			fail();
		}
		/* 0 is the pre-6.10 not-present value; encode() writes the canonical one. */
		assert_int_equal(again, raw ? raw : NONPRESENT);
	}
	print_message("ept.roundtrip: %u raw values decoded, %u rejected\n", accepted, rejected);
	assert_true(accepted > ROUNDTRIP_RAWS / 20);
	assert_true(rejected > ROUNDTRIP_RAWS / 20);
}

static void check_geometry(const struct mn_pt_format *f, const char *name, unsigned int levels,
			   unsigned int flags)
{
	struct mn_pte none = { .kind = MN_PTE_NONE, .level = 1 };
	uint64_t raw;

	assert_string_equal(f->name, name);
	assert_int_equal(f->arch, MN_PT_EPT);
	assert_int_equal(f->flags, flags);
	assert_int_equal(f->top_level, levels);
	assert_int_equal(f->root_entries, 512);
	assert_int_equal(f->max_leaf_level, 3);
	assert_int_equal(f->pa_bits, 52);
	assert_int_equal(f->ia_bits, levels == 4 ? 48 : 57);
	assert_int_equal(f->nonpresent, NONPRESENT);
	assert_int_equal(f->pfn_mask, 0x000ffffffffff000ULL);
	assert_int_equal(f->accessed_mask, BIT(8));
	assert_int_equal(f->dirty_mask, BIT(9));
	assert_int_equal(f->write_mask, BIT(1));
	assert_non_null(f->encode);
	assert_non_null(f->decode);
	assert_int_equal(mn_pte_encode(f, &none, &raw), 0);
	assert_int_equal(raw, f->nonpresent);
}

static void test_format_geometry(void **state)
{
	struct mn_pt_format f, g;

	(void)state;
	assert_int_equal(mn_pt_format_ept(&f, 4, 0), 0);
	check_geometry(&f, "ept4", 4, 0);
	assert_int_equal(mn_pt_format_ept(&f, 5, 0), 0);
	check_geometry(&f, "ept5", 5, 0);
	assert_int_equal(mn_pt_format_ept(&f, 4, MN_EPT_EXEC_ONLY), 0);
	check_geometry(&f, "ept4", 4, MN_EPT_EXEC_ONLY);
	assert_int_equal(mn_pt_format_ept(&f, 5, MN_EPT_EXEC_ONLY), 0);
	check_geometry(&f, "ept5", 5, MN_EPT_EXEC_ONLY);

	/* Refusals leave the description untouched. */
	memset(&f, 0xa5, sizeof(f));
	memcpy(&g, &f, sizeof(f));
	assert_int_equal(mn_pt_format_ept(&f, 3, 0), -EINVAL);
	assert_int_equal(mn_pt_format_ept(&f, 6, 0), -EINVAL);
	assert_int_equal(mn_pt_format_ept(&f, 0, 0), -EINVAL);
	assert_int_equal(mn_pt_format_ept(&f, 4, 1U << 1), -EINVAL);
	assert_int_equal(mn_pt_format_ept(&f, 5, MN_EPT_EXEC_ONLY | (1U << 31)), -EINVAL);
	assert_int_equal(mn_pt_format_ept(&f, 4, ~0U), -EINVAL);
	assert_memory_equal(&f, &g, sizeof(f));
}

static void test_describe(void **state)
{
	const struct mn_pt_format fmts[2] = { fmt(4, 0), fmt(5, 0) };

	(void)state;
	assert_describes(&fmts[0], 0x8600000012400bf3ULL, 2,
			 "leaf 2M pfn=0x12400 RW- WB ipat A D host-w mmu-w");
	assert_describes(&fmts[0], 0x8600000012345b77ULL, 1,
			 "leaf 4K pfn=0x12345 RWX WB ipat A D host-w mmu-w");
	assert_describes(&fmts[0], 0x87500000abcdea70ULL, 1,
			 "leaf 4K pfn=0xabcde --- WB ipat D host-w mmu-w acc-track saved=R-X");
	assert_describes(&fmts[0], 0x8000000000100901ULL, 1, "leaf 4K pfn=0x100 R-- UC A");
	assert_describes(&fmts[0], 0x80000000001a0907ULL, 2, "table pfn=0x1a0");
	assert_describes(&fmts[1], 0x8000000000000000ULL, 5, "none");
	assert_describes(&fmts[0], 0x80000000000005a0ULL, 3, "frozen");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_encodings),
		cmocka_unit_test(test_decode_zero_is_legacy_nonpresent),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_roundtrip_raw),
		cmocka_unit_test(test_format_geometry),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests_name("ept", tests, NULL, NULL);
}
