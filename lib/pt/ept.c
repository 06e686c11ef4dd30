// SPDX-License-Identifier: MIT
/*
 * ept.c - x86 EPT SPTEs as KVM's TDP MMU writes them, modelled on arch/x86/kvm/mmu/spte.h and
 * spte.c (make_spte, make_nonleaf_spte, mark_spte_for_access_track, kvm_mmu_set_ept_masks) and
 * on the memory types of arch/x86/kvm/vmx/vmx.c (vmx_get_mt_mask). Layout as of ~6.13..6.17.
 */
#include "mnsim-internal.h"

#include <mnsim/pte.h>

/*
 * Raw bits. Hardware: RWX 2:0, memory type 5:3 and IPAT 6 (leaves only), page size 7, A 8,
 * D 9, physical address 51:12, suppress-#VE 63. KVM software bits in ignored positions:
 * SPTE_MMU_PRESENT_MASK 11, the A/D type SPTE_TDP_AD_MASK 53:52, the access-track saved R/X
 * at SHADOW_ACC_TRACK_SAVED_BITS_SHIFT 54 (R 54, X 56), EPT_SPTE_HOST_WRITABLE 57 and
 * EPT_SPTE_MMU_WRITABLE 58.
 */
#define EPT_R		  MN_BIT(0)
#define EPT_W		  MN_BIT(1)
#define EPT_X		  MN_BIT(2)
#define EPT_RWX		  MN_GENMASK(2, 0)
#define EPT_MT		  MN_GENMASK(5, 3)
#define EPT_IPAT	  MN_BIT(6)
#define EPT_PAGE_SIZE	  MN_BIT(7)
#define EPT_ACCESSED	  MN_BIT(8)
#define EPT_DIRTY	  MN_BIT(9)
#define EPT_MMU_PRESENT	  MN_BIT(11)
#define EPT_PFN		  MN_GENMASK(51, 12)
#define EPT_AD_TYPE	  MN_GENMASK(53, 52)
#define EPT_SAVED_R	  MN_BIT(54)
#define EPT_SAVED_X	  MN_BIT(56)
#define EPT_HOST_WRITABLE MN_BIT(57)
#define EPT_MMU_WRITABLE  MN_BIT(58)
#define EPT_SUPPRESS_VE	  MN_BIT(63)

/* SPTE_TDP_AD_{ENABLED,DISABLED,WRPROT_ONLY}, the values of bits 53:52. */
#define EPT_AD_ENABLED	   0U
#define EPT_AD_DISABLED	   1U
#define EPT_AD_WRPROT_ONLY 2U

/*
 * SHADOW_NONPRESENT_VALUE (64-bit kernels, >= 6.10): bit 63 alone, so that with EPT-violation
 * #VE enabled a not-present entry still exits to KVM. FROZEN_SPTE is that value | 0x5a0: no RWX,
 * no MMU-present bit, no pfn.
 */
#define EPT_NONPRESENT EPT_SUPPRESS_VE
#define EPT_FROZEN     (EPT_NONPRESENT | 0x5a0ULL)

#define EPT_PA_BITS	   52U
#define EPT_MAX_LEAF_LEVEL 3U /* 1 GiB */
#define EPT_PFN_LIMIT	   (1ULL << (EPT_PA_BITS - MN_PAGE_SHIFT))

/*
 * Every bit KVM may set in a leaf and in a table entry. Anything else (bit 10, the MBEC
 * user-execute bit; bit 55, which would be a saved W; bits 62:59) is never written by KVM in a
 * shadow-present SPTE.
 */
#define EPT_LEAF_BITS                                                                              \
	(EPT_RWX | EPT_MT | EPT_IPAT | EPT_PAGE_SIZE | EPT_ACCESSED | EPT_DIRTY |                  \
	 EPT_MMU_PRESENT | EPT_PFN | EPT_AD_TYPE | EPT_SAVED_R | EPT_SAVED_X | EPT_HOST_WRITABLE | \
	 EPT_MMU_WRITABLE | EPT_SUPPRESS_VE)
#define EPT_TABLE_BITS \
	(EPT_RWX | EPT_ACCESSED | EPT_MMU_PRESENT | EPT_PFN | EPT_AD_TYPE | EPT_SUPPRESS_VE)

#define PTE_RWX	   (MN_PTE_R | MN_PTE_W | MN_PTE_X)
#define PTE_SW_ALL (MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_MMU_WRITABLE | MN_PTE_SW_ACC_TRACK)

/*
 * EPT memory type field (the IA32_PAT/MTRR encoding) of each memtype; Normal-NC and Device
 * are stage-2 memory types and lie past the end of the table.
 */
static const unsigned int ept_mt_of[] = {
	[MN_MT_WB] = 6, [MN_MT_UC] = 0, [MN_MT_WC] = 1, [MN_MT_WT] = 4, [MN_MT_WP] = 5,
};

/* And back; 2, 3 and 7 are reserved (EPT misconfiguration). */
static const int memtype_of_ept_mt[8] = {
	MN_MT_UC, MN_MT_WC, -1, -1, MN_MT_WT, MN_MT_WP, MN_MT_WB, -1,
};

static uint64_t perm_to_rwx(unsigned int perm)
{
	return (perm & MN_PTE_R ? EPT_R : 0) | (perm & MN_PTE_W ? EPT_W : 0) |
	       (perm & MN_PTE_X ? EPT_X : 0);
}

static unsigned int rwx_to_perm(uint64_t rwx)
{
	return (rwx & EPT_R ? MN_PTE_R : 0) | (rwx & EPT_W ? MN_PTE_W : 0) |
	       (rwx & EPT_X ? MN_PTE_X : 0);
}

/*
 * The R/W/X combinations a present EPT leaf may hold (SDM "EPT Misconfigurations"): write
 * without read is always a misconfiguration (110b is exactly KVM's MMIO value,
 * VMX_EPT_MISCONFIG_WX_VALUE), execute-only only when the CPU supports it. KVM also never
 * writes RWX = 0 outside access tracking: make_spte() WARNs when pte_access and
 * shadow_present_mask leave nothing set.
 */
static bool perm_valid(const struct mn_pt_format *f, unsigned int perm)
{
	if (!(perm & PTE_RWX) || (perm & ~PTE_RWX))
		return false;
	if (perm & MN_PTE_R)
		return true;
	return perm == MN_PTE_X && (f->flags & MN_EPT_EXEC_ONLY);
}

static bool level_valid(const struct mn_pt_format *f, unsigned int level)
{
	return level >= MN_PG_LEVEL_4K && level <= f->top_level;
}

/* NONE and FROZEN carry nothing but their kind and level. */
static bool only_kind_and_level(const struct mn_pte *p)
{
	return !p->pfn && !p->perm && p->memtype == MN_MT_WB && !p->ipat && !p->accessed &&
	       !p->dirty && !p->sw && !p->saved_perm && !p->ad_type && !p->sw_bits;
}

/*
 * A table entry as make_nonleaf_spte() builds it: MMU-present, shadow_present_mask (bit 63,
 * plus R without execute-only), W, shadow_user_mask (R) and shadow_x_mask (X), i.e. always RWX
 * whatever the execute-only setting; then either SPTE_TDP_AD_DISABLED or shadow_accessed_mask.
 * So a table is accessed exactly when A/D are enabled: KVM never clears A on a table entry
 * (aging only touches leaves), never sets D, never uses SPTE_TDP_AD_WRPROT_ONLY (that comes from
 * make_spte()'s kvm_mmu_page_ad_need_write_protect()), and has no memory type or software bits.
 * The decoded form says the same: perm RWX, accessed == (ad_type == 0), everything else 0.
 */
static int table_check(const struct mn_pt_format *f, const struct mn_pte *p)
{
	if (p->level < MN_PG_LEVEL_2M || p->level > f->top_level)
		return -EINVAL;
	if (p->pfn >= EPT_PFN_LIMIT || p->perm != PTE_RWX)
		return -EINVAL;
	if (p->ad_type != EPT_AD_ENABLED && p->ad_type != EPT_AD_DISABLED)
		return -EINVAL;
	if (p->accessed != (p->ad_type == EPT_AD_ENABLED))
		return -EINVAL;
	if (p->memtype != MN_MT_WB || p->ipat || p->dirty || p->sw || p->saved_perm || p->sw_bits)
		return -EINVAL;
	return 0;
}

/*
 * A leaf as make_spte() builds it and as aging, dirty logging and write-protection leave it.
 *
 * - Writable lattice (check_spte_writable_invariants(), PROTOCOL I11): MMU-writable implies
 *   host-writable, hardware W implies MMU-writable. D also implies host-writable: make_spte()
 *   sets shadow_dirty_mask only together with W, the CPU sets D only through W, and
 *   host-writable never changes on a present SPTE.
 * - Access tracking (mark_spte_for_access_track()) exists only for A/D-disabled SPTEs
 *   (ad_type 1; A/D-enabled ones just lose A). It moves R and X to bits 54/56 and clears RWX
 *   and A, leaving W clear and MMU-writable as it was. The saved R/X must themselves be a
 *   valid permission; bits 54/56 are zero in every other SPTE (KVM WARNs otherwise).
 * - Since ~6.13 make_spte() sets A (and D with W) for A/D-disabled SPTEs too (bits 8/9 are
 *   ignored by the CPU then and serve as software bits), and fast_page_fault() sets A when it
 *   restores an access-tracked SPTE. So an A/D-disabled leaf is accessed exactly when it is not
 *   access-tracked. For ad_type 0 and 2 A and D are free: aging clears A, dirty logging
 *   clears D (ad_type 0) or W (ad_type 2).
 * - Memory type: vmx_get_mt_mask() returns UC for host MMIO, WB|IPAT without non-coherent
 *   DMA, and WB otherwise; kernels that still honoured guest MTRRs (before ~6.11) could
 *   return any MTRR type with or without IPAT, so every EPT type with either IPAT value is
 *   accepted.
 */
static int leaf_check(const struct mn_pt_format *f, const struct mn_pte *p)
{
	bool host_w = p->sw & MN_PTE_SW_HOST_WRITABLE;
	bool mmu_w = p->sw & MN_PTE_SW_MMU_WRITABLE;

	if (p->level < MN_PG_LEVEL_4K || p->level > f->max_leaf_level)
		return -EINVAL;
	if (p->pfn >= EPT_PFN_LIMIT ||
	    !mn_is_aligned(p->pfn, mn_level_pages((enum mn_pg_level)p->level)))
		return -EINVAL;
	if ((unsigned int)p->memtype >= ARRAY_SIZE(ept_mt_of))
		return -EINVAL;
	if (p->ad_type > EPT_AD_WRPROT_ONLY || (p->sw & ~PTE_SW_ALL) || p->sw_bits)
		return -EINVAL;
	if ((mmu_w && !host_w) || ((p->perm & MN_PTE_W) && !mmu_w) || (p->dirty && !host_w))
		return -EINVAL;

	if (p->sw & MN_PTE_SW_ACC_TRACK) {
		if (p->ad_type != EPT_AD_DISABLED || p->perm || p->accessed)
			return -EINVAL;
		if (!perm_valid(f, p->saved_perm) || (p->saved_perm & MN_PTE_W))
			return -EINVAL;
		return 0;
	}
	if (p->saved_perm || !perm_valid(f, p->perm))
		return -EINVAL;
	if (p->ad_type == EPT_AD_DISABLED && !p->accessed)
		return -EINVAL;
	return 0;
}

static uint64_t table_build(const struct mn_pte *p)
{
	uint64_t spte = EPT_MMU_PRESENT | EPT_SUPPRESS_VE | EPT_RWX;

	spte |= MN_FIELD_PREP(EPT_PFN, p->pfn);
	spte |= MN_FIELD_PREP(EPT_AD_TYPE, p->ad_type);
	if (p->accessed)
		spte |= EPT_ACCESSED;
	return spte;
}

/*
 * make_spte() order: MMU-present | A/D type | shadow_present_mask (suppress-#VE, R unless
 * execute-only) | A | X | R | page size above 4K | memtype | host-writable | pfn |
 * W + MMU-writable + D, then mark_spte_for_access_track() for a prefetch.
 */
static uint64_t leaf_build(const struct mn_pte *p)
{
	uint64_t spte = EPT_MMU_PRESENT | EPT_SUPPRESS_VE;

	spte |= MN_FIELD_PREP(EPT_AD_TYPE, p->ad_type);
	spte |= perm_to_rwx(p->perm);
	if (p->sw & MN_PTE_SW_ACC_TRACK)
		spte |= (p->saved_perm & MN_PTE_R ? EPT_SAVED_R : 0) |
			(p->saved_perm & MN_PTE_X ? EPT_SAVED_X : 0);
	/*
	 * PT_PAGE_SIZE_MASK only on 2M/1G leaves: make_spte() sets it for level > PG_LEVEL_4K
	 * and make_small_spte() clears it when splitting down to 4K.
	 */
	if (p->level > MN_PG_LEVEL_4K)
		spte |= EPT_PAGE_SIZE;
	spte |= MN_FIELD_PREP(EPT_MT, ept_mt_of[p->memtype]);
	if (p->ipat)
		spte |= EPT_IPAT;
	if (p->accessed)
		spte |= EPT_ACCESSED;
	if (p->dirty)
		spte |= EPT_DIRTY;
	if (p->sw & MN_PTE_SW_HOST_WRITABLE)
		spte |= EPT_HOST_WRITABLE;
	if (p->sw & MN_PTE_SW_MMU_WRITABLE)
		spte |= EPT_MMU_WRITABLE;
	spte |= MN_FIELD_PREP(EPT_PFN, p->pfn);
	return spte;
}

static int ept_encode(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw)
{
	int ret;

	if (!level_valid(f, in->level))
		return -EINVAL;

	switch (in->kind) {
	case MN_PTE_NONE:
		if (!only_kind_and_level(in))
			return -EINVAL;
		*raw = EPT_NONPRESENT;
		return 0;
	case MN_PTE_FROZEN:
		if (!only_kind_and_level(in))
			return -EINVAL;
		*raw = EPT_FROZEN;
		return 0;
	case MN_PTE_TABLE:
		ret = table_check(f, in);
		if (ret)
			return ret;
		*raw = table_build(in);
		return 0;
	case MN_PTE_LEAF:
		ret = leaf_check(f, in);
		if (ret)
			return ret;
		*raw = leaf_build(in);
		return 0;
	default:
		/* MN_PTE_LOCKED is stage-2's break-before-make marker; EPT has FROZEN instead. */
		return -EINVAL;
	}
}

static int table_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
			struct mn_pte *out)
{
	struct mn_pte p = {
		.kind = MN_PTE_TABLE,
		.level = level,
		.pfn = MN_FIELD_GET(EPT_PFN, raw),
		.perm = rwx_to_perm(raw & EPT_RWX),
		.accessed = raw & EPT_ACCESSED,
		.ad_type = (unsigned int)MN_FIELD_GET(EPT_AD_TYPE, raw),
	};
	int ret;

	if (raw & ~EPT_TABLE_BITS)
		return -EINVAL;
	ret = table_check(f, &p);
	if (ret)
		return ret;
	*out = p;
	return 0;
}

static int leaf_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
		       struct mn_pte *out)
{
	int memtype = memtype_of_ept_mt[MN_FIELD_GET(EPT_MT, raw)];
	struct mn_pte p = {
		.kind = MN_PTE_LEAF,
		.level = level,
		.pfn = MN_FIELD_GET(EPT_PFN, raw),
		.perm = rwx_to_perm(raw & EPT_RWX),
		.ipat = raw & EPT_IPAT,
		.accessed = raw & EPT_ACCESSED,
		.dirty = raw & EPT_DIRTY,
		.ad_type = (unsigned int)MN_FIELD_GET(EPT_AD_TYPE, raw),
	};
	int ret;

	if ((raw & ~EPT_LEAF_BITS) || memtype < 0)
		return -EINVAL;
	/* Level 1 is always a leaf, and KVM never sets the page-size bit there. */
	if (!!(raw & EPT_PAGE_SIZE) != (level > MN_PG_LEVEL_4K))
		return -EINVAL;
	p.memtype = (enum mn_memtype)memtype;
	if (raw & EPT_HOST_WRITABLE)
		p.sw |= MN_PTE_SW_HOST_WRITABLE;
	if (raw & EPT_MMU_WRITABLE)
		p.sw |= MN_PTE_SW_MMU_WRITABLE;
	/* is_access_track_spte(): A/D disabled and no RWX. */
	if (p.ad_type == EPT_AD_DISABLED && !(raw & EPT_RWX))
		p.sw |= MN_PTE_SW_ACC_TRACK;
	p.saved_perm = (raw & EPT_SAVED_R ? MN_PTE_R : 0) | (raw & EPT_SAVED_X ? MN_PTE_X : 0);

	ret = leaf_check(f, &p);
	if (ret)
		return ret;
	*out = p;
	return 0;
}

/*
 * Not MMU-present (bit 11 clear, is_shadow_present_pte()): SHADOW_NONPRESENT_VALUE, FROZEN_SPTE,
 * or 0, the not-present value of kernels before 6.10 (and of 32-bit hosts), accepted as an
 * alias of SHADOW_NONPRESENT_VALUE; encode() always writes the canonical value, so 0 is the one
 * raw value that does not survive decode + encode. Anything else is an MMIO SPTE (bits 2:0 =
 * 110b plus a generation and gfn, see make_mmio_spte()) or garbage; pte.h has no kind for MMIO
 * SPTEs, so both are -EINVAL.
 *
 * MMU-present: shadow_present_mask always holds VMX_EPT_SUPPRESS_VE_BIT since 6.10
 * (kvm_mmu_set_ept_masks()), and make_spte() and make_nonleaf_spte() both OR it in, so a present
 * SPTE without bit 63 is -EINVAL. Above level 1 the page-size bit tells a leaf from a table
 * (is_last_spte()); a leaf above the 1 GiB level is -EINVAL.
 */
static int ept_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
		      struct mn_pte *out)
{
	if (!level_valid(f, level))
		return -EINVAL;

	if (!(raw & EPT_MMU_PRESENT)) {
		struct mn_pte p = { .level = level };

		if (raw == EPT_NONPRESENT || raw == 0)
			p.kind = MN_PTE_NONE;
		else if (raw == EPT_FROZEN)
			p.kind = MN_PTE_FROZEN;
		else
			return -EINVAL;
		*out = p;
		return 0;
	}
	if (!(raw & EPT_SUPPRESS_VE))
		return -EINVAL;
	if (level > MN_PG_LEVEL_4K && !(raw & EPT_PAGE_SIZE))
		return table_decode(f, raw, level, out);
	return leaf_decode(f, raw, level, out);
}

int mn_pt_format_ept(struct mn_pt_format *f, unsigned int levels, unsigned int flags)
{
	if ((levels != 4 && levels != 5) || (flags & ~MN_EPT_EXEC_ONLY))
		return -EINVAL;

	*f = (struct mn_pt_format){
		.name = levels == 4 ? "ept4" : "ept5",
		.arch = MN_PT_EPT,
		.flags = flags,
		.top_level = levels,
		.root_entries = 1U << MN_LEVEL_BITS,
		.max_leaf_level = EPT_MAX_LEAF_LEVEL,
		.pa_bits = EPT_PA_BITS,
		.ia_bits = MN_PAGE_SHIFT + levels * MN_LEVEL_BITS,
		.nonpresent = EPT_NONPRESENT,
		.pfn_mask = EPT_PFN,
		.accessed_mask = EPT_ACCESSED,
		.dirty_mask = EPT_DIRTY,
		.write_mask = EPT_W,
		.encode = ept_encode,
		.decode = ept_decode,
	};
	return 0;
}
