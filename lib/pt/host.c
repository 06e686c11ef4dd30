// SPDX-License-Identifier: MIT
/*
 * host.c - the host's x86-64 4-level PTE format, modelled on
 * arch/x86/include/asm/pgtable_types.h (_PAGE_BIT_*, _PAGE_TABLE, PTE_PFN_MASK) as the
 * primary MMU writes it for a user process such as the VMM.
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

/*
 * The bits mnsim models. The rest are rejected on decode: the software bits 9-11 and 57-58
 * (special, soft-dirty, uffd-wp, devmap, saved-dirty) and protection keys 59-62 carry
 * state mnsim has no field for.
 */
#define X86_KNOWN                                                                                  \
	(X86_P | X86_RW | X86_US | X86_PWT | X86_PCD | X86_A | X86_D | X86_PS | X86_G | X86_ADDR | \
	 X86_NX)

#define X86_PFN_BITS 40U /* 52-bit physical addresses */

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
	default:
		return -EINVAL;
	}
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
	/*
	 * Not modelled: non-present entries other than 0 (swap, migration, PROT_NONE), global
	 * user mappings, cache types other than WB (PWT/PCD, PAT), the software bits.
	 */
	if (!(raw & X86_P) || raw & ~X86_KNOWN || raw & (X86_G | X86_PWT | X86_PCD))
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
