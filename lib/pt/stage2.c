// SPDX-License-Identifier: MIT
/*
 * stage2.c - the arm64 stage-2 entry format with a 4 KiB granule, modelled on
 * arch/arm64/include/asm/kvm_pgtable.h (KVM_PTE_*, KVM_INVALID_PTE_LOCKED),
 * arch/arm64/kvm/hyp/pgtable.c (stage2_set_prot_attr, kvm_init_valid_leaf_pte,
 * kvm_init_table_pte, kvm_get_vtcr) and the MT_S2_* types of arch/arm64/include/asm/memory.h.
 */
#include "mnsim-internal.h"

#include <mnsim/pte.h>

/*
 * Descriptor bits (kvm_pgtable.h). Bit 1 is the type: at mnsim levels > 1 (arm levels < 3)
 * 1 = table and 0 = block; at mnsim level 1 (arm level 3) 1 = page and 0 is reserved.
 */
#define S2_VALID   MN_BIT(0)	      /* KVM_PTE_VALID */
#define S2_TYPE	   MN_BIT(1)	      /* KVM_PTE_TYPE: _TABLE / _PAGE = 1, _BLOCK = 0 */
#define S2_MEMATTR MN_GENMASK(5, 2)   /* KVM_PTE_LEAF_ATTR_LO_S2_MEMATTR */
#define S2_S2AP_R  MN_BIT(6)	      /* KVM_PTE_LEAF_ATTR_LO_S2_S2AP_R */
#define S2_S2AP_W  MN_BIT(7)	      /* KVM_PTE_LEAF_ATTR_LO_S2_S2AP_W */
#define S2_SH	   MN_GENMASK(9, 8)   /* KVM_PTE_LEAF_ATTR_LO_S2_SH */
#define S2_SH_IS   3U		      /* KVM_PTE_LEAF_ATTR_LO_S2_SH_IS */
#define S2_AF	   MN_BIT(10)	      /* KVM_PTE_LEAF_ATTR_LO_S2_AF */
#define S2_ADDR	   MN_GENMASK(47, 12) /* KVM_PTE_ADDR_MASK, 4 KiB granule */
#define S2_XN	   MN_GENMASK(54, 53) /* KVM_PTE_LEAF_ATTR_HI_S2_XN */
#define S2_XN_XN   2U		      /* KVM_PTE_LEAF_ATTR_HI_S2_XN_XN */
#define S2_SW	   MN_GENMASK(58, 55) /* KVM_PTE_LEAF_ATTR_HI_SW */
#define S2_LOCKED  MN_BIT(10)	      /* KVM_INVALID_PTE_LOCKED */

/* Every bit a leaf KVM makes may have; DBM, Contiguous, PBHA and the rest stay clear. */
#define S2_LEAF_BITS                                                                         \
	(S2_VALID | S2_TYPE | S2_MEMATTR | S2_S2AP_R | S2_S2AP_W | S2_SH | S2_AF | S2_ADDR | \
	 S2_XN | S2_SW)

/* MemAttr[3:0] (memory.h): MT_S2_* without FEAT_S2FWB, MT_S2_FWB_* with it. */
#define MT_S2_NORMAL	       0xfU
#define MT_S2_NORMAL_NC	       0x5U
#define MT_S2_DEVICE_nGnRE     0x1U
#define MT_S2_FWB_NORMAL       0x6U
#define MT_S2_FWB_NORMAL_NC    0x5U
#define MT_S2_FWB_DEVICE_nGnRE 0x1U

#define S2_PFN_BITS 36U /* 48-bit output address, 4 KiB pages */

/* "stage2-32" .. "stage2-48", indexed by ipa_bits - 32. */
static const char *const stage2_names[] = {
	"stage2-32", "stage2-33", "stage2-34", "stage2-35", "stage2-36", "stage2-37",
	"stage2-38", "stage2-39", "stage2-40", "stage2-41", "stage2-42", "stage2-43",
	"stage2-44", "stage2-45", "stage2-46", "stage2-47", "stage2-48",
};

static bool stage2_has_fwb(const struct mn_pt_format *f)
{
	return f->flags & MN_S2_FWB;
}

/* The MemAttr KVM writes for @mt (KVM_S2_MEMATTR()), or -EINVAL for a type it never uses. */
static int memattr_of(const struct mn_pt_format *f, enum mn_memtype mt)
{
	switch (mt) {
	case MN_MT_WB:
		return stage2_has_fwb(f) ? MT_S2_FWB_NORMAL : MT_S2_NORMAL;
	case MN_MT_NORMAL_NC:
		return stage2_has_fwb(f) ? MT_S2_FWB_NORMAL_NC : MT_S2_NORMAL_NC;
	case MN_MT_DEVICE:
		return stage2_has_fwb(f) ? MT_S2_FWB_DEVICE_nGnRE : MT_S2_DEVICE_nGnRE;
	default:
		return -EINVAL;
	}
}

/* The inverse of memattr_of(); false for an encoding KVM never writes in this mode. */
static bool memtype_of(const struct mn_pt_format *f, unsigned int memattr, enum mn_memtype *mt)
{
	enum mn_memtype t;

	for (t = MN_MT_WB; t <= MN_MT_DEVICE; t++) {
		if (memattr_of(f, t) == (int)memattr) {
			*mt = t;
			return true;
		}
	}
	return false;
}

/* 2^(9 * (level - 1)) frames: the alignment a leaf at @level needs. */
static uint64_t level_frames(unsigned int level)
{
	return 1ULL << (MN_LEVEL_BITS * (level - 1));
}

/* The fields only EPT or the host format use, which a stage-2 entry never has. */
static bool foreign_fields_clear(const struct mn_pte *p)
{
	return !p->ipat && !p->dirty && !p->sw && !p->saved_perm && !p->ad_type;
}

/* The leaf-only fields, clear on NONE, LOCKED and TABLE. */
static bool leaf_fields_clear(const struct mn_pte *p)
{
	return !p->perm && p->memtype == MN_MT_WB && !p->accessed && !p->sw_bits;
}

/*
 * stage2_set_prot_attr() + kvm_init_valid_leaf_pte(): MemAttr, S2AP, SH = inner-shareable,
 * AF, XN when execute is not granted, the software bits, the type and the output address.
 */
static int stage2_encode_leaf(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw)
{
	uint64_t pte;
	int memattr;

	if (in->level > f->max_leaf_level)
		return -EINVAL;
	if (in->pfn >> S2_PFN_BITS || in->pfn & (level_frames(in->level) - 1))
		return -EINVAL;
	if (in->perm & ~(MN_PTE_R | MN_PTE_W | MN_PTE_X) || in->sw_bits > 15)
		return -EINVAL;
	memattr = memattr_of(f, in->memtype);
	if (memattr < 0)
		return memattr;
	/* Device and Normal-NC memory are never executable (stage2_set_prot_attr()). */
	if (in->memtype != MN_MT_WB && (in->perm & MN_PTE_X))
		return -EINVAL;

	pte = S2_VALID | MN_FIELD_PREP(S2_ADDR, in->pfn);
	if (in->level == MN_PG_LEVEL_4K)
		pte |= S2_TYPE;
	pte |= MN_FIELD_PREP(S2_MEMATTR, (unsigned int)memattr);
	if (!(in->perm & MN_PTE_X))
		pte |= MN_FIELD_PREP(S2_XN, S2_XN_XN);
	if (in->perm & MN_PTE_R)
		pte |= S2_S2AP_R;
	if (in->perm & MN_PTE_W)
		pte |= S2_S2AP_W;
	pte |= MN_FIELD_PREP(S2_SH, S2_SH_IS);
	if (in->accessed)
		pte |= S2_AF;
	pte |= MN_FIELD_PREP(S2_SW, in->sw_bits);
	*raw = pte;
	return 0;
}

static int stage2_encode(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw)
{
	if (in->level < 1 || in->level > f->top_level || !foreign_fields_clear(in))
		return -EINVAL;

	switch (in->kind) {
	case MN_PTE_NONE:
	case MN_PTE_LOCKED:
		if (in->pfn || !leaf_fields_clear(in))
			return -EINVAL;
		*raw = in->kind == MN_PTE_LOCKED ? S2_LOCKED : 0;
		return 0;
	case MN_PTE_TABLE:
		/* kvm_init_table_pte(): address, type and valid, nothing else. */
		if (in->level == MN_PG_LEVEL_4K || in->pfn >> S2_PFN_BITS || !leaf_fields_clear(in))
			return -EINVAL;
		*raw = MN_FIELD_PREP(S2_ADDR, in->pfn) | S2_TYPE | S2_VALID;
		return 0;
	case MN_PTE_LEAF:
		return stage2_encode_leaf(f, in, raw);
	default:
		return -EINVAL;
	}
}

static int stage2_decode_leaf(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
			      struct mn_pte *p)
{
	/* Type 0 at the page level is reserved; no block above the largest block level. */
	if (level == MN_PG_LEVEL_4K && !(raw & S2_TYPE))
		return -EINVAL;
	if (level > f->max_leaf_level)
		return -EINVAL;
	if (raw & ~S2_LEAF_BITS || MN_FIELD_GET(S2_SH, raw) != S2_SH_IS)
		return -EINVAL;
	/*
	 * XN[54:53] is 0 or 0b10 (bit 54 alone, the old KVM_PTE_LEAF_ATTR_HI_S2_XN) in both
	 * modes. With FEAT_XNX, 0b01 and 0b11 split EL1 from EL0 execute, which only a nested
	 * guest's permissions produce and mn_pte cannot express; without it, bit 53 is RES0.
	 */
	switch (MN_FIELD_GET(S2_XN, raw)) {
	case 0:
		p->perm |= MN_PTE_X;
		break;
	case S2_XN_XN:
		break;
	default:
		return -EINVAL;
	}
	if (!memtype_of(f, (unsigned int)MN_FIELD_GET(S2_MEMATTR, raw), &p->memtype))
		return -EINVAL;
	if (p->memtype != MN_MT_WB && (p->perm & MN_PTE_X))
		return -EINVAL;
	p->kind = MN_PTE_LEAF;
	p->pfn = MN_FIELD_GET(S2_ADDR, raw);
	if (p->pfn & (level_frames(level) - 1))
		return -EINVAL;
	if (raw & S2_S2AP_R)
		p->perm |= MN_PTE_R;
	if (raw & S2_S2AP_W)
		p->perm |= MN_PTE_W;
	p->accessed = raw & S2_AF;
	p->sw_bits = (unsigned int)MN_FIELD_GET(S2_SW, raw);
	return 0;
}

static int stage2_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
			 struct mn_pte *out)
{
	struct mn_pte p = { .level = level };
	int ret;

	if (level < 1 || level > f->top_level)
		return -EINVAL;

	if (!(raw & S2_VALID)) {
		/* Owner annotations (KVM_INVALID_PTE_OWNER_MASK, pKVM) are not modelled. */
		if (raw == S2_LOCKED)
			p.kind = MN_PTE_LOCKED;
		else if (raw != 0)
			return -EINVAL;
	} else if (level > MN_PG_LEVEL_4K && (raw & S2_TYPE)) {
		if (raw & ~(S2_ADDR | S2_TYPE | S2_VALID))
			return -EINVAL;
		p.kind = MN_PTE_TABLE;
		p.pfn = MN_FIELD_GET(S2_ADDR, raw);
	} else {
		ret = stage2_decode_leaf(f, raw, level, &p);
		if (ret)
			return ret;
	}
	*out = p;
	return 0;
}

/*
 * Geometry as kvm_get_vtcr() and kvm_pgtable_stage2_pgd_size() compute it: levels =
 * stage2_pgtable_levels(ipa) = ARM64_HW_PGTABLE_LEVELS(ipa - 4) = (ipa - 8) / 9 (never
 * below 2 for ipa >= 32), and the root resolves what the levels below leave over,
 * concatenating up to 16 tables. Blocks are allowed from arm level 1
 * (KVM_PGTABLE_MIN_BLOCK_LEVEL with 4 KiB pages), i.e. up to mnsim level 3, and
 * kvm_block_mapping_supported() allows them in the root too: a 2-level table holds 2 MiB
 * blocks in its root, a 3-level one 1 GiB blocks, while a 4-level root (arm level 0) holds
 * tables only. Hence max_leaf_level = min(3, levels).
 */
int mn_pt_format_stage2(struct mn_pt_format *f, unsigned int ipa_bits, unsigned int flags)
{
	unsigned int levels;

	if (ipa_bits < 32 || ipa_bits > 48 || flags & ~(MN_S2_FWB | MN_S2_XNX))
		return -EINVAL;

	levels = (ipa_bits - 8) / MN_LEVEL_BITS;
	*f = (struct mn_pt_format){
		.name = stage2_names[ipa_bits - 32],
		.arch = MN_PT_STAGE2,
		.flags = flags,
		.top_level = levels,
		.root_entries = 1U << (ipa_bits - MN_PAGE_SHIFT - MN_LEVEL_BITS * (levels - 1)),
		.max_leaf_level = MN_MIN(MN_PG_LEVEL_1G, levels),
		.pa_bits = 48,
		.ia_bits = ipa_bits,
		.nonpresent = 0,
		.pfn_mask = S2_ADDR,
		.accessed_mask = S2_AF,
		.dirty_mask = 0,
		.write_mask = S2_S2AP_W,
		.encode = stage2_encode,
		.decode = stage2_decode,
	};
	return 0;
}
