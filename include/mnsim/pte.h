/* SPDX-License-Identifier: MIT */
/*
 * pte.h - page-table entry formats: x86 EPT (arch/x86/kvm/mmu/spte.h, spte.c), arm64
 * stage-2 (arch/arm64/include/asm/kvm_pgtable.h, hyp/pgtable.c) and the host's x86-64 PTE
 * (arch/x86/include/asm/pgtable_types.h), each encoding and decoding a field struct to the
 * architecture's raw 64-bit value, bit for bit.
 */
#ifndef MNSIM_PTE_H
#define MNSIM_PTE_H

#include <mnsim/types.h>

/**
 * DOC: pte.h
 *
 * A &struct mn_pt_format describes one entry format and one table geometry. Levels are
 * numbered the x86 way for every format: level 1 holds 4 KiB leaves, level 2 maps 2 MiB,
 * level 3 maps 1 GiB, and the root is at level @top_level. arm64 stage-2 level L (0..3) is
 * mnsim level 4 - L. A table at level l > 1 holds table entries pointing at level l - 1, or
 * leaves (blocks) when l <= @max_leaf_level.
 *
 * &struct mn_pte is the decoded form: kind, target pfn, permissions, memory type, the
 * accessed/dirty state and KVM's software state. encode() builds the raw value KVM would
 * write; decode() reads one back. Both reject what the architecture or KVM never produces
 * (-EINVAL): a misaligned huge leaf, a leaf at a level that cannot hold one, a pfn wider
 * than the output address, device or Normal-NC memory with execute permission on arm64,
 * EPT write without read (always) or execute-only without %MN_EPT_EXEC_ONLY, and so on.
 *
 * Fields are normalised so that decode(encode(p)) == p: fields a kind does not use are 0
 * (so NONE, FROZEN and LOCKED entries carry only @kind and @level, and @memtype of a table
 * is %MN_MT_WB, the 0 value); a PROTNONE entry carries @pfn, @accessed and @dirty with
 * @perm 0, a MIGRATION entry @pfn and @perm (%MN_PTE_R, or %MN_PTE_R | %MN_PTE_W); EPT
 * tables are RWX with @accessed set exactly when A/D tracking is on (@ad_type 0), as
 * make_nonleaf_spte() builds them; host tables are the kernel's _PAGE_TABLE (R, W, U,
 * accessed, dirty). For EPT, @accessed is raw bit 8: with A/D tracking off it is set exactly
 * when the leaf is not access-tracked. Raw 0 decodes as an EPT non-present entry (what
 * kernels before 6.10 wrote) but encodes as bit 63.
 */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * enum mn_pt_arch - which architecture an entry format belongs to.
 * @MN_PT_HOST_X86: x86-64 4-level PTE of the host's primary MMU.
 * @MN_PT_EPT: Intel EPT as KVM's TDP MMU writes it.
 * @MN_PT_STAGE2: arm64 stage-2 (VMSAv8-64, 4 KiB granule).
 */
enum mn_pt_arch {
	MN_PT_HOST_X86 = 0,
	MN_PT_EPT,
	MN_PT_STAGE2,
};

/**
 * enum mn_pte_kind - what an entry is.
 * @MN_PTE_NONE: not present (the format's non-present value).
 * @MN_PTE_TABLE: points at the next-level table in @pfn.
 * @MN_PTE_LEAF: maps the 2^(9 * (level - 1)) frames starting at @pfn.
 * @MN_PTE_FROZEN: EPT FROZEN_SPTE: being changed by another thread, retry.
 * @MN_PTE_LOCKED: stage-2 invalid entry with the LOCKED bit: break-before-make in flight.
 * @MN_PTE_PROTNONE: host only. A PROT_NONE mapping, left by mprotect(PROT_NONE) or by NUMA
 *	balancing's hinting faults: what x86 pte_modify()/pmd_modify() make of a present leaf
 *	with PAGE_NONE (arch/x86/include/asm/pgtable.h). Not present to the hardware (P clear,
 *	_PAGE_PROTNONE = bit 8 set), so it translates nothing, but it still names the frame
 *	@pfn (stored inverted, flip_protnone_guard()) and keeps @accessed and @dirty; @perm
 *	is 0. Levels 1..3; a huge one keeps PS and must be aligned like a huge leaf.
 * @MN_PTE_MIGRATION: host only. A migration swap entry for the frame @pfn, as
 *	make_readable_migration_entry() (@perm %MN_PTE_R) and make_writable_migration_entry()
 *	(@perm %MN_PTE_R | %MN_PTE_W) of include/linux/swapops.h build it and __swp_entry()
 *	(arch/x86/include/asm/pgtable_64.h) stores it. Not present; levels 1..3 (PMD and PUD
 *	migration entries of THP and HugeTLB), aligned like a leaf of that level.
 *
 * PROTNONE and MIGRATION entries are not the format's non-present value, so the page-table
 * engine keeps them in its present bitmap and counts them as leaves; EPT and stage-2 reject
 * both (-EINVAL).
 */
enum mn_pte_kind {
	MN_PTE_NONE = 0,
	MN_PTE_TABLE,
	MN_PTE_LEAF,
	MN_PTE_FROZEN,
	MN_PTE_LOCKED,
	MN_PTE_PROTNONE,
	MN_PTE_MIGRATION,
};

/* Permissions of a leaf (and, for the host format, of a table: U and W propagate). */
#define MN_PTE_R (1U << 0)
#define MN_PTE_W (1U << 1)
#define MN_PTE_X (1U << 2)
#define MN_PTE_U (1U << 3) /* host only: user-accessible */

/**
 * enum mn_memtype - memory type of a leaf.
 * @MN_MT_WB: write-back (EPT type 6; stage-2 Normal WB: MemAttr 0xf, or 0x6 with FWB).
 * @MN_MT_UC: uncacheable (EPT type 0).
 * @MN_MT_WC: write-combining (EPT type 1).
 * @MN_MT_WT: write-through (EPT type 4).
 * @MN_MT_WP: write-protected (EPT type 5).
 * @MN_MT_NORMAL_NC: stage-2 Normal non-cacheable (MemAttr 0x5).
 * @MN_MT_DEVICE: stage-2 Device-nGnRE (MemAttr 0x1).
 */
enum mn_memtype {
	MN_MT_WB = 0,
	MN_MT_UC,
	MN_MT_WC,
	MN_MT_WT,
	MN_MT_WP,
	MN_MT_NORMAL_NC,
	MN_MT_DEVICE,
};

/* KVM software state of an entry (@sw of struct mn_pte). */
#define MN_PTE_SW_HOST_WRITABLE (1U << 0) /* EPT bit 57 / host n/a: host PTE was writable */
#define MN_PTE_SW_MMU_WRITABLE	(1U << 1) /* EPT bit 58: KVM allows W (fast PF may set it) */
#define MN_PTE_SW_ACC_TRACK	(1U << 2) /* EPT: access-tracked, R/X saved in bits 54/56 */

/**
 * struct mn_pte - a decoded entry.
 * @kind: what the entry is.
 * @level: the level of the table that holds it.
 * @pfn: target frame (next table for %MN_PTE_TABLE, first mapped frame for a leaf, the
 *	 frame a PROTNONE or migration entry stands for).
 * @perm: %MN_PTE_R | %MN_PTE_W | %MN_PTE_X (| %MN_PTE_U for the host format); for a
 *	  migration entry, the access it was migrated with (R, or R | W).
 * @memtype: leaf memory type.
 * @ipat: EPT "ignore PAT" bit.
 * @accessed: accessed bit / access flag.
 * @dirty: dirty bit (EPT and host leaves; stage-2 has none).
 * @sw: %MN_PTE_SW_* flags.
 * @saved_perm: EPT access-tracked entries: the R/X saved in bits 54 and 56.
 * @ad_type: EPT bits 53:52: 0 A/D enabled, 1 A/D disabled, 2 write-protect only.
 * @sw_bits: stage-2 software bits 58:55 (0..15), carried as they are.
 */
struct mn_pte {
	enum mn_pte_kind kind;
	unsigned int level;
	mn_pfn_t pfn;
	unsigned int perm;
	enum mn_memtype memtype;
	bool ipat;
	bool accessed;
	bool dirty;
	unsigned int sw;
	unsigned int saved_perm;
	unsigned int ad_type;
	unsigned int sw_bits;
};

/* Format options. */
#define MN_EPT_EXEC_ONLY (1U << 0) /* the CPU supports execute-only (W or X without R) */
#define MN_S2_FWB	 (1U << 0) /* FEAT_S2FWB: forced write-back MemAttr encoding */
#define MN_S2_XNX	 (1U << 1) /* FEAT_XNX: two-bit XN[54:53] */

/**
 * struct mn_pt_format - an entry format and its table geometry.
 * @name: e.g. "ept4", "ept5", "stage2-40", "host-x86".
 * @arch: the architecture.
 * @flags: the options it was created with.
 * @top_level: level of the root table (the number of levels).
 * @root_entries: entries in the root (512, more when stage-2 concatenates root tables).
 * @max_leaf_level: the largest level that may hold a leaf.
 * @pa_bits: output address bits (52 for EPT and host, 48 for stage-2 with a 4 KiB granule).
 * @ia_bits: input address bits the root covers (EPT 48 or 57, host 48, stage-2 IPA size).
 * @nonpresent: raw value of an empty entry.
 * @pfn_mask: raw bits holding the output address.
 * @accessed_mask: raw accessed bit of a leaf.
 * @dirty_mask: raw dirty bit of a leaf (0 for stage-2).
 * @write_mask: raw hardware write-permission bit of a leaf.
 * @encode: build the raw value of @in (whose @level says where it goes).
 * @decode: decode @raw, read from a table at @level.
 */
struct mn_pt_format {
	const char *name;
	enum mn_pt_arch arch;
	unsigned int flags;
	unsigned int top_level;
	unsigned int root_entries;
	unsigned int max_leaf_level;
	unsigned int pa_bits;
	unsigned int ia_bits;
	uint64_t nonpresent;
	uint64_t pfn_mask;
	uint64_t accessed_mask;
	uint64_t dirty_mask;
	uint64_t write_mask;
	int (*encode)(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw);
	int (*decode)(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
		      struct mn_pte *out);
};

/**
 * mn_pt_format_ept() - Describe KVM's EPT format.
 * @f: receives the description.
 * @levels: 4 or 5.
 * @flags: 0 or %MN_EPT_EXEC_ONLY.
 *
 * Context: Any context.
 * Return: 0, or -EINVAL for other levels or unknown flags.
 */
MN_EXPORT int mn_pt_format_ept(struct mn_pt_format *f, unsigned int levels, unsigned int flags);

/**
 * mn_pt_format_stage2() - Describe KVM's arm64 stage-2 format with a 4 KiB granule.
 * @f: receives the description.
 * @ipa_bits: IPA size, 32 .. 48.
 * @flags: %MN_S2_FWB and/or %MN_S2_XNX.
 *
 * The number of levels and the root concatenation follow KVM: as few levels as a root of
 * up to 16 concatenated tables allows (levels = (ipa_bits - 8) / 9).
 *
 * Context: Any context.
 * Return: 0, or -EINVAL for an IPA size outside 32..48 or unknown flags.
 */
MN_EXPORT int mn_pt_format_stage2(struct mn_pt_format *f, unsigned int ipa_bits,
				  unsigned int flags);

/**
 * mn_pt_format_host() - Describe the host's x86-64 4-level PTE format.
 * @f: receives the description.
 *
 * Context: Any context.
 * Return: 0.
 */
MN_EXPORT int mn_pt_format_host(struct mn_pt_format *f);

/**
 * mn_pte_encode() - Build the raw value of an entry.
 * @f: the format.
 * @in: the decoded entry.
 * @raw: receives the raw value.
 *
 * Context: Any context.
 * Return: 0, or -EINVAL for a combination the format cannot or KVM would not produce.
 */
MN_EXPORT int mn_pte_encode(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw);

/**
 * mn_pte_decode() - Decode a raw entry read from a table at @level.
 * @f: the format.
 * @raw: the raw value.
 * @level: the level of the table it was read from.
 * @out: receives the decoded entry.
 *
 * Context: Any context.
 * Return: 0, or -EINVAL for a value no table of this format holds at @level.
 */
MN_EXPORT int mn_pte_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
			    struct mn_pte *out);

/**
 * mn_pte_describe() - Render a decoded entry's flags the way an engineer reads them.
 * @f: the format.
 * @pte: the decoded entry.
 * @buf: output buffer.
 * @len: its size.
 *
 * For example ``leaf 2M pfn=0x12400 RWX WB ipat A D host-w mmu-w``, ``table pfn=0x1a0``,
 * ``protnone 4K pfn=0x1234 A D`` or ``migration-write 2M pfn=0x200``.
 *
 * Context: Any context.
 * Return: the length snprintf() would have written.
 */
MN_EXPORT int mn_pte_describe(const struct mn_pt_format *f, const struct mn_pte *pte, char *buf,
			      size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_PTE_H */
