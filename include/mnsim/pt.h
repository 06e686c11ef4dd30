/* SPDX-License-Identifier: MIT */
/*
 * pt.h - one radix page-table engine over any entry format of pte.h (the operations of
 * arch/x86/kvm/mmu/tdp_mmu.c and arch/arm64/kvm/hyp/pgtable.c: map, zap, age,
 * write-protect, split, collapse) and the per-vCPU TLB model.
 */
#ifndef MNSIM_PT_H
#define MNSIM_PT_H

#include <stdio.h>
#include <mnsim/phys.h>
#include <mnsim/pte.h>
#include <mnsim/sim.h>
#include <mnsim/types.h>

/**
 * DOC: pt.h
 *
 * A &struct mn_pt is a real page table: every table is a frame of the world's physical
 * memory (owner %MN_OWNER_PGTABLE) holding raw entries of its format, so a dump reads like
 * the hardware's. Leaves hold no reference on the frames they map, as in KVM: whether a
 * mapping outlives its frame is exactly what the frame oracle checks.
 *
 * Operations return what they did in a &struct mn_pt_result (entries changed, tables
 * allocated and freed, accessed and dirty bits seen, the gfn range whose translations must
 * be flushed) and never flush by themselves: the caller flushes, as KVM's callers of
 * kvm_tdp_mmu_unmap_gfn_range() do. The exceptions are the architecture's own ordering
 * rules, which go through the callback in &struct mn_pt_ctx: arm64 break-before-make
 * (invalidate, TLBI by IPA, then install, as stage2_try_break_pte() does) and the flush a
 * yielding x86 zap owes before it yields (tdp_mmu_iter_cond_resched()).
 *
 * The host format's PROTNONE and migration entries (see &enum mn_pte_kind) are not the
 * empty value, so the engine keeps them like leaves: they are counted in @leaves of
 * &struct mn_pt_stats, zapped, split and visited by mn_pt_update(), and mn_pt_walk()
 * reports them, although to the hardware (mn_tlb_access()) they are a fault.
 *
 * Long zaps yield at ``zap.yield`` after every %MN_PT_YIELD_ENTRIES leaves they zap when
 * the context allows it, flushing first when a flush is pending (the named step
 * ``zap.flush_before_yield``), and restart their walk from the root afterwards. Without a
 * flush callback, stage-2 break-before-make degrades to invalidate-then-install with the
 * TLBI left to the caller through @flush_needed (for tests of the engine alone).
 *
 * A stage-2 zap with a flush callback invalidates each leaf it clears by address, unless
 * the system has range TLBIs and the table FWB (%MN_PT_ZAP_TLBI_RANGE and %MN_S2_FWB): then
 * the leaves are cleared without a TLBI each and one ranged TLBI covers the walked range at
 * the named step ``zap.tlbi_range``, at the end and before every yield, as
 * kvm_pgtable_stage2_unmap() does. A table is invalidated over its span before it is freed
 * either way.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_pt;
struct mn_tlb;

#define MN_PT_YIELD_ENTRIES 512

/**
 * enum mn_flush_kind - the TLB invalidations mnsim models.
 * @MN_FLUSH_ALL: every translation of the VM (kvm_flush_remote_tlbs, TLBI VMALLS12E1IS).
 * @MN_FLUSH_RANGE: a gfn range (kvm_flush_remote_tlbs_range, TLBI RIPAS2E1IS).
 * @MN_FLUSH_IPA: one translation by address with a level hint (TLBI IPAS2E1IS).
 */
enum mn_flush_kind {
	MN_FLUSH_ALL = 0,
	MN_FLUSH_RANGE,
	MN_FLUSH_IPA,
};

/**
 * struct mn_pt_ctx - how an operation may interact with the rest of the world.
 * @sim: world for yield points and named steps, or NULL.
 * @can_yield: the operation may yield (a blockable notifier range; never under a spinlock).
 * @flush: performs a TLB invalidation now (break-before-make, flush before yield), or NULL.
 * @flush_arg: passed to @flush.
 * @resched: yields the way the caller's lock allows, or NULL for a plain yield point
 *           ``zap.yield``: KVM passes cond_resched_rwlock_write(), which drops mmu_lock
 *           around the yield so that faults and other invalidations can run in the gap.
 * @resched_arg: passed to @resched.
 */
struct mn_pt_ctx {
	struct mn_sim *sim;
	bool can_yield;
	void (*flush)(void *arg, enum mn_flush_kind kind, struct mn_gfn_range range,
		      unsigned int level);
	void *flush_arg;
	void (*resched)(void *arg);
	void *resched_arg;
};

/**
 * struct mn_pt_result - what an operation did.
 * @visited: present entries examined (the cost of a walk over a range).
 * @written: entries written.
 * @zapped: leaves made non-present.
 * @tables_allocated: table frames allocated.
 * @tables_freed: table frames freed.
 * @young: leaves seen with the accessed bit (aging; also counted by zap).
 * @dirty: leaves seen dirty (zap) or writable (write-protect of dirty-logged leaves).
 * @flushes: invalidations performed through the context's callback.
 * @flush_needed: translations changed that the caller must still flush.
 * @flush_range: the gfns those translations cover (meaningful with @flush_needed).
 */
struct mn_pt_result {
	uint64_t visited;
	uint64_t written;
	uint64_t zapped;
	uint64_t tables_allocated;
	uint64_t tables_freed;
	uint64_t young;
	uint64_t dirty;
	uint64_t flushes;
	bool flush_needed;
	struct mn_gfn_range flush_range;
};

/**
 * struct mn_pt_stats - running totals of a page table.
 * @entries_written: entries written by any operation.
 * @tables_allocated: table frames allocated.
 * @tables_freed: table frames freed.
 * @tables: table frames in use now.
 * @leaves: present leaves now (host PROTNONE and migration entries included).
 * @flush_ipa: by-address invalidations issued through a context's callback.
 * @flush_range: ranged invalidations issued through a context's callback.
 */
struct mn_pt_stats {
	uint64_t entries_written;
	uint64_t tables_allocated;
	uint64_t tables_freed;
	uint64_t tables;
	uint64_t leaves;
	uint64_t flush_ipa;
	uint64_t flush_range;
};

/* mn_pt_zap() flags */
#define MN_PT_ZAP_FREE_TABLES (1U << 0) /* also free tables the zap leaves empty */
/*
 * The system has range TLBIs (arm64 FEAT_TLBIRANGE). On a stage-2 table with FWB
 * (%MN_S2_FWB) and a flush callback, the zap then defers the TLBI of its leaves to one
 * ranged TLBI at the end of the walk and before each yield (stage2_unmap_defer_tlb_flush());
 * ignored otherwise.
 */
#define MN_PT_ZAP_TLBI_RANGE (1U << 1)

/* mn_pt_wrprot() modes */
#define MN_PT_WRPROT_DIRTY_LOG (0U)	 /* clear W only; x86 keeps MMU-writable for fast PF */
#define MN_PT_WRPROT_MMU       (1U << 0) /* x86: clear W and MMU-writable (shadow paging) */
#define MN_PT_WRPROT_4K	       (1U << 1) /* only 4 KiB leaves (clear_dirty_pt_masked()) */

/**
 * struct mn_pt_walk - the result of a translation.
 * @depth: levels visited, root first.
 * @raw: the raw entry read at each visited level.
 * @index: its index in its table.
 * @table: the pfn of the table it was read from.
 * @leaf: the decoded leaf, or the PROTNONE or migration entry the walk ended at (kind
 *	  %MN_PTE_NONE, all 0, when it found neither).
 * @pfn: the 4 KiB frame the walked gfn maps to (or, for a PROTNONE or migration entry,
 *	 would map to).
 * @gen: the generation the entry's folio had when it was mapped (mn_pt_map_frame()), or 0.
 */
struct mn_pt_walk {
	unsigned int depth;
	uint64_t raw[MN_PG_LEVEL_NUM + 1];
	unsigned int index[MN_PG_LEVEL_NUM + 1];
	mn_pfn_t table[MN_PG_LEVEL_NUM + 1];
	struct mn_pte leaf;
	mn_pfn_t pfn;
	uint64_t gen;
};

/**
 * mn_pt_create() - Create an empty page table (only its root).
 * @a: allocation context for the table bookkeeping.
 * @phys: physical memory the table frames come from.
 * @fmt: the format; copied.
 * @out: receives the table.
 *
 * Context: The world's thread.
 * Return: 0, -EINVAL for a format without callbacks, or -ENOMEM (memory or frames).
 */
MN_EXPORT int mn_pt_create(struct mn_alloc *a, struct mn_phys *phys, const struct mn_pt_format *fmt,
			   struct mn_pt **out);

/**
 * mn_pt_destroy() - Free every table, root included (the frames are put).
 * @pt: the table, or NULL.
 *
 * Context: The world's thread.
 */
MN_EXPORT void mn_pt_destroy(struct mn_pt *pt);

/**
 * mn_pt_get_format() - The format of a table.
 * @pt: the table.
 *
 * Context: Any context.
 * Return: the format.
 */
MN_EXPORT const struct mn_pt_format *mn_pt_get_format(const struct mn_pt *pt);

/**
 * mn_pt_get_stats() - Running totals of a table.
 * @pt: the table.
 * @st: receives them.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_pt_get_stats(const struct mn_pt *pt, struct mn_pt_stats *st);

/**
 * mn_pt_walk() - Translate @gfn (a hardware walk, without side effects).
 * @pt: the table.
 * @gfn: the input frame number.
 * @w: receives the path and, on success, the leaf.
 *
 * A host PROTNONE or migration entry translates nothing, so the walk fails there with
 * -ENOENT as at an empty entry, but still fills @w->leaf, @w->pfn and @w->gen for software
 * walkers (GUP's follow_page(), the fault handler): @w->leaf.kind tells the two apart, and
 * is %MN_PTE_NONE after a plain empty entry.
 *
 * Context: Any context.
 * Return: 0 when a leaf maps @gfn, -ENOENT when the walk ends at a non-present entry
 * (PROTNONE and migration entries included), -EAGAIN at a frozen or locked entry, -ERANGE
 * when @gfn is beyond the input address size.
 */
MN_EXPORT int mn_pt_walk(const struct mn_pt *pt, mn_gfn_t gfn, struct mn_pt_walk *w);

/**
 * mn_pt_map() - Install a leaf (KVM's map at the target level) without a frame generation.
 * @pt: the table.
 * @ctx: context (break-before-make flushes), or NULL.
 * @gfn: first gfn of the leaf, aligned to @leaf->level.
 * @leaf: the leaf to install (@kind %MN_PTE_LEAF; @level and @pfn set).
 * @res: receives what was done.
 *
 * Allocates missing tables, and splits a huge leaf that covers @gfn at a higher level
 * (arm64: break-before-make). A present leaf at the target with the same pfn is updated:
 * x86 in place (the caller flushes if rights were reduced), stage-2 through
 * break-before-make. A split done on the way stays even when the target then refuses.
 *
 * Context: The caller holds whatever lock protects @pt.
 * Return: 0, -EINVAL for a misaligned or unencodable leaf (or a @kind other than
 * %MN_PTE_LEAF), -ERANGE beyond the input address size, -EEXIST when the target holds a
 * different frame, a table (zap first), or a PROTNONE or migration entry (at the target or
 * as a huge entry above it: resolve it with mn_pt_update() first), -EAGAIN at a frozen or
 * locked entry, or -ENOMEM (tables already allocated on the way stay, empty and valid).
 */
MN_EXPORT int mn_pt_map(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
			const struct mn_pte *leaf, struct mn_pt_result *res);

/**
 * mn_pt_map_frame() - mn_pt_map() for a leaf whose frame generation is known.
 * @pt: the table.
 * @ctx: context, as for mn_pt_map().
 * @gfn: first gfn of the leaf.
 * @leaf: the leaf to install.
 * @gen: the generation of the folio @leaf->pfn is in (from its &struct mn_frame_ref).
 * @res: receives what was done.
 *
 * The table remembers @gen beside the entry (the hardware entry has no room for it), so
 * that mn_pt_check_frames() and TLB fills can tell a leaf that outlived its frame, even
 * once the frame is reused. Splits keep it; a collapse over several folios forgets it.
 *
 * Context: As mn_pt_map().
 * Return: As mn_pt_map().
 */
MN_EXPORT int mn_pt_map_frame(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
			      const struct mn_pte *leaf, uint64_t gen, struct mn_pt_result *res);

/* mn_pt_map_replace() flags */
#define MN_PT_MAP_TABLE (1U << 0) /* a table at the leaf's level is replaced by the leaf */
#define MN_PT_MAP_BLOCK (1U << 1) /* a huge leaf above it becomes an empty table, not split */

/**
 * mn_pt_map_replace() - mn_pt_map_frame() that may replace what is in the leaf's way, as
 * a KVM fault's map walk does.
 * @pt: the table.
 * @ctx: context: its flush callback performs the invalidations below.
 * @gfn: first gfn of the leaf.
 * @leaf: the leaf to install.
 * @gen: the generation of the folio @leaf->pfn is in.
 * @flags: 0 (mn_pt_map_frame()), or %MN_PT_MAP_TABLE and/or %MN_PT_MAP_BLOCK.
 * @res: receives what was done; @zapped counts the leaves the replaced entries held and
 *       @tables_freed the table pages freed.
 *
 * %MN_PT_MAP_TABLE: a table at the target level (smaller mappings, or none left) is
 * replaced by @leaf, as arm64 stage2_map_walk_table_pre() and x86
 * tdp_mmu_map_handle_target_level() do: stage-2 breaks the table entry with one
 * invalidation over the table's span and makes the leaf; x86 writes the leaf in place and
 * then flushes that span through @ctx. Only after the invalidation are the old table's
 * leaves dropped and its table pages freed. Without a flush callback they are freed at
 * once and @res leaves the flush to the caller.
 *
 * %MN_PT_MAP_BLOCK: a huge leaf above the target level is broken (stage-2: invalidate,
 * TLBI by address) and replaced by a link to an empty table, as arm64
 * stage2_map_walk_leaf() does, instead of being split into a full table of smaller leaves
 * (which is what x86 tdp_mmu_split_huge_page() does on a fault); the rest of the old block
 * faults back lazily. It counts in @zapped.
 *
 * Context: As mn_pt_map().
 * Return: As mn_pt_map(), except that with %MN_PT_MAP_TABLE a table at the target is
 * replaced instead of refused; -EINVAL for an unknown flag.
 */
MN_EXPORT int mn_pt_map_replace(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
				const struct mn_pte *leaf, uint64_t gen, unsigned int flags,
				struct mn_pt_result *res);

/**
 * mn_pt_check_frames() - The oracle over a whole table: report every present leaf whose
 * frame was freed (or freed and reused) since it was mapped.
 * @pt: the table.
 * @phys: the physical memory the frames belong to.
 * @what: the use site named in the reports (e.g. "ept.leaf").
 *
 * Only leaves mapped with mn_pt_map_frame() can be checked. Host PROTNONE entries are
 * checked too (they still map their frame, only without access); migration entries are
 * not (the migration code holds its own reference). Each stale entry is reported as
 * %MN_VIOL_USE_AFTER_FREE through the frame oracle, with who freed and who reused it.
 *
 * Context: The world's thread. O(present entries).
 * Return: the number of stale entries found.
 */
MN_EXPORT int mn_pt_check_frames(const struct mn_pt *pt, struct mn_phys *phys, const char *what);

/**
 * mn_pt_zap() - Make every leaf overlapping @range non-present (tdp_mmu_zap_leafs).
 * @pt: the table.
 * @ctx: context (yielding, flush before yield), or NULL.
 * @range: the gfns; a huge leaf that overlaps it partly is zapped whole.
 * @flags: 0, or %MN_PT_ZAP_FREE_TABLES and/or %MN_PT_ZAP_TLBI_RANGE.
 * @res: receives what was done.
 *
 * Skips absent subtrees: the cost follows the present entries, not the range size. Host
 * PROTNONE and migration entries are cleared too (and counted in @res->zapped; a PROTNONE
 * entry's A and D in @res->young and @res->dirty); the flush range may cover them although
 * they need no flush.
 *
 * Context: The caller holds whatever lock protects @pt; may yield when @ctx allows.
 * Return: 0.
 */
MN_EXPORT int mn_pt_zap(struct mn_pt *pt, const struct mn_pt_ctx *ctx, struct mn_gfn_range range,
			unsigned int flags, struct mn_pt_result *res);

/**
 * mn_pt_age() - Test, and optionally clear, the accessed state of leaves in @range.
 * @pt: the table.
 * @range: the gfns.
 * @clear: clear what was found (age_gfn) or only test (test_age_gfn).
 * @res: receives the young count; no flush is needed for aging, as in KVM.
 *
 * Context: The caller holds whatever lock protects @pt.
 * Return: the number of young leaves found (>= 0).
 */
MN_EXPORT int mn_pt_age(struct mn_pt *pt, struct mn_gfn_range range, bool clear,
			struct mn_pt_result *res);

/**
 * mn_pt_wrprot() - Write-protect the leaves in @range.
 * @pt: the table.
 * @range: the gfns.
 * @mode: %MN_PT_WRPROT_DIRTY_LOG or %MN_PT_WRPROT_MMU, optionally with %MN_PT_WRPROT_4K
 *        (huge leaves are then left as they are).
 * @res: receives what was done; writable leaves that lost W need a flush.
 *
 * Context: The caller holds whatever lock protects @pt.
 * Return: the number of leaves changed (>= 0).
 */
MN_EXPORT int mn_pt_wrprot(struct mn_pt *pt, struct mn_gfn_range range, unsigned int mode,
			   struct mn_pt_result *res);

/**
 * typedef mn_pt_update_fn - Decide the replacement of one entry for mn_pt_update().
 * @arg: the argument given to mn_pt_update().
 * @gfn: first gfn the entry covers (aligned to its level).
 * @pte: in: the decoded entry (%MN_PTE_LEAF, %MN_PTE_PROTNONE or %MN_PTE_MIGRATION, @level
 *       set); out: its replacement (same level; kind %MN_PTE_NONE clears it, whatever the
 *       other fields say).
 * @gen: in: the generation recorded beside the entry; out: the one to record.
 *
 * Runs with the caller's lock held, between two entries of the walk: it must not call back
 * into the engine on the same table.
 *
 * Return: true to write the replacement, false to leave the entry as it is.
 */
typedef bool (*mn_pt_update_fn)(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen);

/**
 * mn_pt_update() - Rewrite, one by one, the entries overlapping @range that a callback
 * chooses (the host mm's zap with rmap, mprotect, NUMA PROT_NONE, migration entries).
 * @pt: the table.
 * @range: the gfns; a huge entry that overlaps it partly is visited whole (split it first
 *         for partial treatment).
 * @fn: decides each entry's replacement.
 * @arg: passed to @fn.
 * @res: receives what was done.
 *
 * Visits in ascending gfn order every entry that is neither a table, nor empty, nor
 * frozen or locked: leaves, and the host's PROTNONE and migration entries. When @fn
 * returns true the replacement is encoded and written in place and the generation stored;
 * the kind may change between %MN_PTE_NONE, %MN_PTE_LEAF, %MN_PTE_PROTNONE and
 * %MN_PTE_MIGRATION, and so may the pfn, but not the level. A replacement equal to the
 * entry is not written (only its generation is stored).
 *
 * In @res: @visited counts the present entries examined, table entries on the way
 * included, as for every walk; @written the entries rewritten; @zapped those cleared (each
 * also leaves the @leaves total); @young and @dirty the hardware leaves visited with A or
 * D set. @flush_needed and @flush_range cover every hardware leaf whose translation was
 * removed or narrowed: cleared, turned into a PROTNONE or migration entry, pointed at
 * another frame, deprived of a permission or given another memory type. Gaining
 * permissions or A/D needs no flush.
 *
 * It never yields, never breaks before make and never frees tables: free the tables it
 * leaves empty with mn_pt_zap() and %MN_PT_ZAP_FREE_TABLES.
 *
 * Context: The caller holds whatever lock protects @pt.
 * Return: 0, or -EINVAL when a replacement cannot be encoded (or has another level or a
 * kind other than the four above, or, on stage-2, changes the frame or memory type of a
 * valid leaf, which needs break-before-make: use mn_pt_map()). The walk stops there and
 * that entry stays as it was; the entries before it stay updated, and @res says so.
 */
MN_EXPORT int mn_pt_update(struct mn_pt *pt, struct mn_gfn_range range, mn_pt_update_fn fn,
			   void *arg, struct mn_pt_result *res);

/**
 * mn_pt_split() - Split the huge leaf at @level covering @gfn into a table of next-level
 * leaves with the same translations (tdp_mmu_split_huge_pages_root, stage-2 split).
 * @pt: the table.
 * @ctx: context (break-before-make), or NULL.
 * @gfn: a gfn the leaf covers.
 * @level: the leaf's level (2 or 3).
 * @res: receives what was done (x86: no flush needed; arm64: flushed by BBM).
 *
 * A huge host PROTNONE or migration entry splits the same way into 512 entries of its kind
 * (as __split_huge_pmd() does), each keeping the generation.
 *
 * Context: The caller holds whatever lock protects @pt.
 * Return: 0, -ENOENT when no leaf at @level covers @gfn, -EINVAL for a bad level, or
 * -ENOMEM.
 */
MN_EXPORT int mn_pt_split(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
			  unsigned int level, struct mn_pt_result *res);

/**
 * mn_pt_collapse() - Replace the table at @level covering @gfn by one huge leaf, when it
 * holds a full, contiguous, naturally aligned run of leaves with equal attributes
 * (huge-page recovery).
 * @pt: the table.
 * @ctx: context (break-before-make), or NULL.
 * @gfn: a gfn the table covers.
 * @level: the level of the huge leaf to create (2 or 3).
 * @res: receives what was done; the caller flushes the old small translations.
 *
 * Context: The caller holds whatever lock protects @pt.
 * Return: 0, -ENOENT when no table is there, -EBUSY when its contents cannot collapse,
 * -EINVAL for a bad level.
 */
MN_EXPORT int mn_pt_collapse(struct mn_pt *pt, const struct mn_pt_ctx *ctx, mn_gfn_t gfn,
			     unsigned int level, struct mn_pt_result *res);

/**
 * mn_pt_dump_walk() - Print the walk of @gfn, one line per level.
 * @pt: the table.
 * @gfn: the gfn.
 * @f: the stream.
 *
 * For example ``L4 idx 0   raw 0x800000000012a907  table pfn=0x12a``.
 *
 * Context: Any context.
 * Return: the walk's result as mn_pt_walk() returns it.
 */
MN_EXPORT int mn_pt_dump_walk(const struct mn_pt *pt, mn_gfn_t gfn, FILE *f);

/**
 * struct mn_tlb_stats - what a TLB saw.
 * @hits: lookups served from the TLB.
 * @misses: lookups that walked the table.
 * @fills: translations cached.
 * @flush_all: whole-VM flushes.
 * @flush_range: ranged flushes.
 * @flush_ipa: by-address flushes.
 * @dropped: entries removed by flushes.
 * @evicted: entries replaced because the TLB was full.
 */
struct mn_tlb_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t fills;
	uint64_t flush_all;
	uint64_t flush_range;
	uint64_t flush_ipa;
	uint64_t dropped;
	uint64_t evicted;
};

/**
 * mn_tlb_create() - Create an empty TLB of a vCPU.
 * @a: allocation context.
 * @capacity: entries kept (oldest replaced first); 0 picks 256.
 * @out: receives the TLB.
 *
 * Context: Any context.
 * Return: 0 or -ENOMEM.
 */
MN_EXPORT int mn_tlb_create(struct mn_alloc *a, unsigned int capacity, struct mn_tlb **out);

/**
 * mn_tlb_destroy() - Free a TLB.
 * @tlb: the TLB, or NULL.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_tlb_destroy(struct mn_tlb *tlb);

/**
 * mn_tlb_access() - A guest access to @gfn through @tlb and, on a miss, a walk of @pt.
 * @tlb: the vCPU's TLB.
 * @pt: the table the hardware walks on a miss.
 * @phys: physical memory, for the frame oracle.
 * @gfn: the accessed gfn.
 * @perm: %MN_PTE_R, %MN_PTE_W or %MN_PTE_X.
 * @what: the use site for oracle reports.
 * @pfn: receives the 4 KiB frame accessed.
 *
 * A hit whose cached frame was freed since it was cached is a use-after-free (the TLB
 * kept a translation nobody flushed) and is reported by the oracle. A hit without @perm
 * drops the translation and walks again, as a fault does. A block is cached whole when one
 * folio backs it, else per 4 KiB page.
 *
 * The walk that fills the TLB sets the leaf's accessed bit, and on a store its dirty bit,
 * where the hardware KVM configures does: EPT leaves with A/D enabled (@ad_type other than
 * 1) get A and D, stage-2 leaves the access flag (VTCR_EL2.HA, FEAT_HAFDBS). A store
 * through a translation cached clean updates the leaf to set D, and A with it (the CPU
 * uses the entry again). Any other hit sets nothing, so a leaf aged without a flush stays
 * old while its translation stays cached and only read. The host's table gets
 * nothing here (mn_mm_access() marks its own entries). The update is part of the access,
 * with no yield point of its own.
 *
 * Context: The world's thread.
 * Return: 0, -EFAULT when no present leaf maps @gfn (an EPT violation / stage-2 fault),
 * -EACCES when the translation lacks @perm, -EAGAIN at a frozen or locked entry, or
 * -ESTALE after a use-after-free report.
 */
MN_EXPORT int mn_tlb_access(struct mn_tlb *tlb, struct mn_pt *pt, struct mn_phys *phys,
			    mn_gfn_t gfn, unsigned int perm, const char *what, mn_pfn_t *pfn);

/**
 * mn_tlb_flush() - Drop cached translations.
 * @tlb: the TLB.
 * @kind: everything, a range, or one address.
 * @range: the gfns for %MN_FLUSH_RANGE; for %MN_FLUSH_IPA @range.start is the address.
 * @level: %MN_FLUSH_IPA: the level hint (0 for none); entries of other sizes covering the
 *         address are dropped as well, as TLBI IPAS2E1IS requires.
 *
 * Context: Any context.
 * Return: the number of entries dropped.
 */
MN_EXPORT unsigned int mn_tlb_flush(struct mn_tlb *tlb, enum mn_flush_kind kind,
				    struct mn_gfn_range range, unsigned int level);

/**
 * mn_tlb_check_frames() - The oracle over a TLB: report every cached translation whose
 * frame was freed (or freed and reused) since it was cached, used or not.
 * @tlb: the TLB.
 * @phys: the physical memory the frames belong to.
 * @what: the use site named in the reports (e.g. "vcpu0.tlb").
 *
 * A translation left in a TLB after its frame was freed is the missing flush the protocol
 * forbids, even before the guest uses it again.
 *
 * Context: The world's thread. O(capacity).
 * Return: the number of stale translations found.
 */
MN_EXPORT int mn_tlb_check_frames(const struct mn_tlb *tlb, struct mn_phys *phys, const char *what);

/**
 * mn_tlb_get_stats() - What a TLB saw.
 * @tlb: the TLB.
 * @st: receives the counters.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_tlb_get_stats(const struct mn_tlb *tlb, struct mn_tlb_stats *st);

/**
 * struct mn_tlb_entry - one cached translation, as mn_tlb_get_entry() reads it.
 * @gfn: the first gfn it covers.
 * @level: its size (%MN_PG_LEVEL_4K, 2M or 1G).
 * @perm: the permissions cached with it.
 * @pfn: the first frame it maps.
 */
struct mn_tlb_entry {
	mn_gfn_t gfn;
	unsigned int level;
	unsigned int perm;
	mn_pfn_t pfn;
};

/**
 * mn_tlb_get_entry() - Read slot @i of a TLB, without side effects (for oracles and
 * dumps: iterate @i from 0 until -ERANGE).
 * @tlb: the TLB.
 * @i: the slot, below the capacity.
 * @e: receives the translation.
 *
 * Context: Any context.
 * Return: 0, -ENOENT when slot @i caches nothing, or -ERANGE when @i is beyond the
 * capacity.
 */
MN_EXPORT int mn_tlb_get_entry(const struct mn_tlb *tlb, unsigned int i, struct mn_tlb_entry *e);

/**
 * mn_tlb_nr_entries() - Translations cached now.
 * @tlb: the TLB.
 *
 * Context: Any context.
 * Return: the count.
 */
MN_EXPORT unsigned int mn_tlb_nr_entries(const struct mn_tlb *tlb);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_PT_H */
