// SPDX-License-Identifier: MIT
/*
 * host.c - the host's x86-64 4-level PTE format, modelled on
 * arch/x86/include/asm/pgtable_types.h (_PAGE_BIT_*, _PAGE_TABLE, PTE_PFN_MASK) as the
 * primary MMU writes it for a user process such as the VMM, plus two non-present kinds the
 * mm leaves behind: PROT_NONE entries (pgtable.h, pgtable-invert.h) and migration entries
 * (pgtable_64.h __swp_entry(), include/linux/swapops.h).
 */
#include "mnsim-internal.h"

#include <mnsim/pte.h>

#define X86_P	 MN_BIT(0)	    /* _PAGE_PRESENT */
#define X86_RW	 MN_BIT(1)	    /* _PAGE_RW */
#define X86_US	 MN_BIT(2)	    /* _PAGE_USER */
#define X86_PWT	 MN_BIT(3)	    /* _PAGE_PWT */
#define X86_PCD	 MN_BIT(4)	    /* _PAGE_PCD */
#define X86_A	 MN_BIT(5)	    /* _PAGE_ACCESSED */
#define X86_D	 MN_BIT(6)	    /* _PAGE_DIRTY */
#define X86_PS	 MN_BIT(7)	    /* _PAGE_PSE; _PAGE_PAT in a 4 KiB PTE */
#define X86_G	 MN_BIT(8)	    /* _PAGE_GLOBAL */
#define X86_ADDR MN_GENMASK(51, 12) /* PTE_PFN_MASK with 52 physical address bits */
#define X86_NX	 MN_BIT(63)	    /* _PAGE_NX */

/* With P clear, bit 8 is _PAGE_PROTNONE (the kernel defines it as _PAGE_GLOBAL). */
#define X86_PROTNONE X86_G

/*
 * x86-64 swap entries (pgtable_64.h): SWP_TYPE_BITS = 5 type bits at the top, and the offset
 * stored inverted right above _PAGE_PROTNONE (SWP_OFFSET_FIRST_BIT = 9), 50 bits wide.
 * __swp_entry(type, offset) = (~offset << 14 >> 5) | (type << 59): the same as placing the
 * low 50 bits of ~offset in 58:9 and type in 63:59. Bits 8:0 hold nothing mnsim models:
 * P and PROTNONE are clear by definition, soft-dirty (1), uffd-wp (2) and anon-exclusive (3)
 * are not modelled, and A/D (5, 6), which an erratum lets some CPUs set on non-present
 * entries, are never set here. So a migration entry has bits 8:0 clear.
 */
#define X86_SWP_TYPE   MN_GENMASK(63, 59)
#define X86_SWP_OFFSET MN_GENMASK(58, 9)
#define X86_SWP_LOW    MN_GENMASK(8, 0)

/*
 * Migration swap types of a 6.6-era kernel built with CONFIG_DEVICE_PRIVATE,
 * CONFIG_MIGRATION and CONFIG_MEMORY_FAILURE (include/linux/swap.h): MAX_SWAPFILES =
 * 32 - 4 device - 3 migration - 1 hwpoison - 1 pte marker = 23, SWP_HWPOISON = 23 and the
 * migration types follow. SWP_MIGRATION_READ_EXCLUSIVE (25), which remembers
 * PG_anon_exclusive for an anonymous page, is not modelled and is rejected.
 */
#define SWP_MIGRATION_READ	     24U
#define SWP_MIGRATION_READ_EXCLUSIVE 25U
#define SWP_MIGRATION_WRITE	     26U

/*
 * The bits mnsim models. The rest are rejected on decode: the software bits 9-11 and 57-58
 * (special, soft-dirty, uffd-wp, devmap, saved-dirty) and protection keys 59-62 carry
 * state mnsim has no field for.
 */
#define X86_KNOWN                                                                                  \
	(X86_P | X86_RW | X86_US | X86_PWT | X86_PCD | X86_A | X86_D | X86_PS | X86_G | X86_ADDR | \
	 X86_NX)

#define X86_PFN_BITS 40U /* 52-bit physical addresses */
#define X86_PFN_MAX  MN_GENMASK(X86_PFN_BITS - 1, 0)

/* Bits a PROT_NONE entry may have besides the (inverted) address. */
#define X86_PROTNONE_KNOWN (X86_PROTNONE | X86_A | X86_D | X86_PS | X86_ADDR)

static uint64_t level_frames(unsigned int level)
{
	return 1ULL << (MN_LEVEL_BITS * (level - 1));
}

/* The fields of the other formats, never set on a host entry. */
static bool foreign_fields_clear(const struct mn_pte *p)
{
	return p->memtype == MN_MT_WB && !p->ipat && !p->sw && !p->saved_perm && !p->ad_type &&
	       !p->sw_bits;
}

/*
 * A present entry: P always (so R is mandatory), RW for W, US for U, A and D as given, the
 * pfn, and for a leaf NX without X and PS above level 1. The kernel's tables are
 * _PAGE_TABLE = P|RW|US|A|D (0x67, D included although hardware ignores it in a non-leaf
 * entry) and _KERNPG_TABLE = P|RW|A|D; a table never has NX, so its perm has no X.
 */
static int host_encode_present(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw)
{
	bool leaf = in->kind == MN_PTE_LEAF;
	unsigned int allowed = MN_PTE_R | MN_PTE_W | MN_PTE_U | (leaf ? MN_PTE_X : 0);
	uint64_t pte;

	if (!(in->perm & MN_PTE_R) || in->perm & ~allowed || in->pfn >> X86_PFN_BITS)
		return -EINVAL;
	if (leaf && (in->level > f->max_leaf_level || in->pfn & (level_frames(in->level) - 1)))
		return -EINVAL;
	if (!leaf && in->level == MN_PG_LEVEL_4K)
		return -EINVAL;

	pte = X86_P | MN_FIELD_PREP(X86_ADDR, in->pfn);
	if (in->perm & MN_PTE_W)
		pte |= X86_RW;
	if (in->perm & MN_PTE_U)
		pte |= X86_US;
	if (in->accessed)
		pte |= X86_A;
	if (in->dirty)
		pte |= X86_D;
	if (leaf && in->level > MN_PG_LEVEL_4K)
		pte |= X86_PS;
	if (leaf && !(in->perm & MN_PTE_X))
		pte |= X86_NX;
	*raw = pte;
	return 0;
}

/*
 * PROT_NONE, as pte_modify(pte, PAGE_NONE) leaves a present leaf: _PAGE_CHG_MASK keeps the
 * address, A and D (and PS in pmd_modify()'s _HPAGE_CHG_MASK); PAGE_NONE contributes
 * _PAGE_PROTNONE and nothing of P, RW, US or NX. The entry is no longer present and not 0,
 * so flip_protnone_guard() inverts the address field (L1TF: a speculative walk of it then
 * points at memory that does not exist); pte_pfn() inverts it back with protnone_mask().
 * Not modelled: a CPU with user shadow stacks, where pte_modify() would move D of a
 * read-only entry to the SavedDirty software bit.
 */
static int host_encode_protnone(const struct mn_pt_format *f, const struct mn_pte *in,
				uint64_t *raw)
{
	uint64_t pte = X86_PROTNONE | MN_FIELD_PREP(X86_ADDR, ~in->pfn);

	if (in->perm || in->level > f->max_leaf_level || in->pfn > X86_PFN_MAX ||
	    in->pfn & (level_frames(in->level) - 1))
		return -EINVAL;
	if (in->accessed)
		pte |= X86_A;
	if (in->dirty)
		pte |= X86_D;
	if (in->level > MN_PG_LEVEL_4K)
		pte |= X86_PS;
	*raw = pte;
	return 0;
}

/*
 * A migration entry: make_readable_migration_entry() or make_writable_migration_entry() of
 * the frame, stored by swp_entry_to_pte() at level 1 and its PMD/PUD forms at 2 and 3.
 * Never PS, even when huge: x86 pmd_present() counts PS as present.
 */
static int host_encode_migration(const struct mn_pt_format *f, const struct mn_pte *in,
				 uint64_t *raw)
{
	unsigned int type;

	if (in->perm == MN_PTE_R)
		type = SWP_MIGRATION_READ;
	else if (in->perm == (MN_PTE_R | MN_PTE_W))
		type = SWP_MIGRATION_WRITE;
	else
		return -EINVAL;
	if (in->accessed || in->dirty || in->level > f->max_leaf_level || in->pfn > X86_PFN_MAX ||
	    in->pfn & (level_frames(in->level) - 1))
		return -EINVAL;
	*raw = MN_FIELD_PREP(X86_SWP_OFFSET, ~in->pfn) | MN_FIELD_PREP(X86_SWP_TYPE, type);
	return 0;
}

static int host_encode(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw)
{
	if (in->level < 1 || in->level > f->top_level || !foreign_fields_clear(in))
		return -EINVAL;

	switch (in->kind) {
	case MN_PTE_NONE:
		if (in->pfn || in->perm || in->accessed || in->dirty)
			return -EINVAL;
		*raw = 0;
		return 0;
	case MN_PTE_TABLE:
	case MN_PTE_LEAF:
		return host_encode_present(f, in, raw);
	case MN_PTE_PROTNONE:
		return host_encode_protnone(f, in, raw);
	case MN_PTE_MIGRATION:
		return host_encode_migration(f, in, raw);
	default:
		return -EINVAL;
	}
}

/* P clear, not 0: pte_protnone() when bit 8 is set, else a swap entry. */
static int host_decode_nonpresent(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
				  struct mn_pte *out)
{
	struct mn_pte p = { .level = level };
	uint64_t type;

	if (level > f->max_leaf_level)
		return -EINVAL;
	if (raw & X86_PROTNONE) {
		/* PS marks a huge entry (and is PAT in a 4 KiB PTE, which mnsim never sets). */
		if (raw & ~X86_PROTNONE_KNOWN || !(raw & X86_PS) != (level == MN_PG_LEVEL_4K))
			return -EINVAL;
		p.kind = MN_PTE_PROTNONE;
		p.pfn = ~MN_FIELD_GET(X86_ADDR, raw) & X86_PFN_MAX; /* pte_pfn() */
		p.accessed = raw & X86_A;
		p.dirty = raw & X86_D;
	} else {
		/* __swp_type() and __swp_offset(); other swap types are not modelled. */
		type = MN_FIELD_GET(X86_SWP_TYPE, raw);
		if (raw & X86_SWP_LOW)
			return -EINVAL;
		if (type == SWP_MIGRATION_READ)
			p.perm = MN_PTE_R;
		else if (type == SWP_MIGRATION_WRITE)
			p.perm = MN_PTE_R | MN_PTE_W;
		else /* swap, device, hwpoison, marker, read-exclusive migration */
			return -EINVAL;
		p.kind = MN_PTE_MIGRATION;
		p.pfn = MN_FIELD_GET(X86_SWP_OFFSET, ~raw);
		if (p.pfn > X86_PFN_MAX) /* an offset no frame of a 52-bit address space has */
			return -EINVAL;
	}
	if (p.pfn & (level_frames(level) - 1))
		return -EINVAL;
	*out = p;
	return 0;
}

static int host_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
		       struct mn_pte *out)
{
	struct mn_pte p = { .level = level, .perm = MN_PTE_R };

	if (level < 1 || level > f->top_level)
		return -EINVAL;
	if (raw == 0) {
		*out = (struct mn_pte){ .kind = MN_PTE_NONE, .level = level };
		return 0;
	}
	if (!(raw & X86_P))
		return host_decode_nonpresent(f, raw, level, out);
	/*
	 * Not modelled: global user mappings, cache types other than WB (PWT/PCD, PAT), the
	 * software bits.
	 */
	if (raw & ~X86_KNOWN || raw & (X86_G | X86_PWT | X86_PCD))
		return -EINVAL;
	/* PS is reserved in a PML4E, and is the PAT bit in a 4 KiB PTE. */
	if ((raw & X86_PS) && (level == 4 || level == MN_PG_LEVEL_4K))
		return -EINVAL;

	p.kind = level == MN_PG_LEVEL_4K || (raw & X86_PS) ? MN_PTE_LEAF : MN_PTE_TABLE;
	p.pfn = MN_FIELD_GET(X86_ADDR, raw);
	if (p.kind == MN_PTE_LEAF) {
		/* Bit 12 of a huge leaf is its PAT bit: alignment rejects it too. */
		if (p.pfn & (level_frames(level) - 1))
			return -EINVAL;
		if (!(raw & X86_NX))
			p.perm |= MN_PTE_X;
	} else if (raw & X86_NX) {
		return -EINVAL;
	}
	if (raw & X86_RW)
		p.perm |= MN_PTE_W;
	if (raw & X86_US)
		p.perm |= MN_PTE_U;
	p.accessed = raw & X86_A;
	p.dirty = raw & X86_D;
	*out = p;
	return 0;
}

int mn_pt_format_host(struct mn_pt_format *f)
{
	*f = (struct mn_pt_format){
		.name = "host-x86",
		.arch = MN_PT_HOST_X86,
		.flags = 0,
		.top_level = 4,
		.root_entries = 512,
		.max_leaf_level = MN_PG_LEVEL_1G,
		.pa_bits = 52,
		.ia_bits = 48,
		.nonpresent = 0,
		.pfn_mask = X86_ADDR,
		.accessed_mask = X86_A,
		.dirty_mask = X86_D,
		.write_mask = X86_RW,
		.encode = host_encode,
		.decode = host_decode,
	};
	return 0;
}
