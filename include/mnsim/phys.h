/* SPDX-License-Identifier: MIT */
/*
 * phys.h - simulated physical memory: frames and folios with struct page's refcount,
 * mapcount and flags (include/linux/mm_types.h, mm/page_alloc.c, mm/huge_memory.c), and the
 * use-after-free oracle that every holder of a pfn goes through.
 */
#ifndef MNSIM_PHYS_H
#define MNSIM_PHYS_H

#include <mnsim/alloc.h>
#include <mnsim/trace.h>
#include <mnsim/types.h>

/**
 * DOC: phys.h
 *
 * A &struct mn_phys hands out folios: naturally aligned runs of 2^order frames (order 0,
 * 9 and 18 are the base page, 2 MiB and 1 GiB; any order up to %MN_PHYS_MAX_ORDER works).
 * The first frame is the head and carries the folio's state: refcount, mapcount, owner,
 * the young/dirty flags and direct-map presence, as struct folio does; the others are tails.
 * Pfns are handed out upwards from the configured base, and the frame table is indexed from
 * there, so its size follows the memory in use, not the magnitude of the pfns.
 * Each frame also holds one 64-bit data word standing for its contents, so that a test can
 * see a stale mapping read old data. The frame table grows lazily in 2 MiB chunks, and the
 * tail chunks of folios larger than a chunk are only materialised when touched, so a world
 * can back terabytes of guest memory with huge folios at the cost of their head chunks.
 *
 * Generations: every allocation and every free of a folio stamps it with a fresh number
 * from a per-phys counter. Whoever obtains a pfn keeps a &struct mn_frame_ref, the pair
 * (pfn, generation). Every later use goes through mn_phys_use() or an operation that checks
 * like it; if the folio was freed (or freed and reused) since the reference was taken, the
 * use is reported to the trace as %MN_VIOL_USE_AFTER_FREE with who used it, who freed it and
 * who reused it, and the operation returns -ESTALE instead of touching the frame. Splitting
 * a folio keeps the generation, so references into it stay valid.
 *
 * The refcount drops to zero only through mn_phys_put(), which frees the folio. Secondary
 * page tables (as in KVM) keep a &struct mn_frame_ref without a reference: that is what the
 * oracle exists to check.
 *
 * Kernel mappings: a folio starts in the kernel direct map (%MN_FRAME_DIRECT_MAP); an owner
 * that hides it from the kernel, as guest_memfd without a direct map does, clears the flag
 * and must set it again before the folio is freed. To touch such a folio the kernel maps it
 * at a temporary address (mn_phys_kmap_temp()). The TLB entry of that mapping outlives the
 * unmap (%MN_FRAME_KMAP_TLB) until a kernel TLB flush of the range (mn_phys_kmap_flush()).
 * Freeing a folio that is still hidden or still reachable through such a stale entry is
 * reported as %MN_VIOL_DIRECT_MAP: the next owner of the frame could be read through it.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_phys;

#define MN_PHYS_MAX_ORDER 18U
/* Frame numbers are below 2^40 (a 52-bit physical address space). */
#define MN_PHYS_MAX_PFN (1ULL << 40)

/**
 * enum mn_frame_owner - who allocated a folio.
 * @MN_OWNER_NONE: nobody (free frames).
 * @MN_OWNER_ANON: anonymous memory of a host mm.
 * @MN_OWNER_FILE: a page-cache folio of a host file.
 * @MN_OWNER_GMEM: a guest_memfd page-cache folio.
 * @MN_OWNER_PGTABLE: a page-table page (host or secondary).
 * @MN_OWNER_NR: number of owners.
 */
enum mn_frame_owner {
	MN_OWNER_NONE = 0,
	MN_OWNER_ANON,
	MN_OWNER_FILE,
	MN_OWNER_GMEM,
	MN_OWNER_PGTABLE,
	MN_OWNER_NR,
};

/**
 * enum mn_frame_state - what a frame is.
 * @MN_FRAME_FREE: not part of an allocated folio (never allocated, or freed).
 * @MN_FRAME_HEAD: first frame of an allocated folio.
 * @MN_FRAME_TAIL: another frame of an allocated folio.
 */
enum mn_frame_state {
	MN_FRAME_FREE = 0,
	MN_FRAME_HEAD,
	MN_FRAME_TAIL,
};

/*
 * Folio flags, set and cleared with mn_phys_update_flags(). %MN_FRAME_KMAP_TLB is normally
 * set by mn_phys_kmap_temp() and cleared by mn_phys_kmap_flush().
 */
#define MN_FRAME_YOUNG	    (1U << 0) /* referenced since last aged (PG_referenced/young) */
#define MN_FRAME_DIRTY	    (1U << 1) /* contents modified (PG_dirty) */
#define MN_FRAME_DIRECT_MAP (1U << 2) /* present in the kernel direct map */
#define MN_FRAME_KMAP_TLB   (1U << 3) /* a temporary kernel mapping's TLB entry may still hit */
#define MN_FRAME_FLAGS_ALL \
	(MN_FRAME_YOUNG | MN_FRAME_DIRTY | MN_FRAME_DIRECT_MAP | MN_FRAME_KMAP_TLB)

/* Allocation flags for mn_phys_alloc(). */
#define MN_PHYS_ZERO (1U << 0) /* zero the data words (__GFP_ZERO) */

/* Data word a frame holds after it is freed (the kernel's PAGE_POISON pattern, 0xaa). */
#define MN_PHYS_POISON 0xaaaaaaaaaaaaaaaaULL

/**
 * struct mn_frame_ref - a pfn together with the generation it had when it was obtained.
 * @pfn: the frame (any frame of a folio).
 * @gen: the folio's generation at that time.
 */
struct mn_frame_ref {
	mn_pfn_t pfn;
	uint64_t gen;
};

/* The reference to frame @idx of the folio that @ref points into (same generation). */
static inline struct mn_frame_ref mn_frame_ref_offset(struct mn_frame_ref ref, uint64_t idx)
{
	struct mn_frame_ref r = { .pfn = ref.pfn + idx, .gen = ref.gen };

	return r;
}

/**
 * enum mn_use_kind - how a frame is used, for mn_phys_use() and reports.
 * @MN_USE_READ: its contents are read.
 * @MN_USE_WRITE: its contents are written.
 * @MN_USE_MAP: a mapping to it is installed (page table, pfn cache, TLB fill).
 * @MN_USE_DIRECT_MAP: the kernel touches it through the direct map; also requires
 *                     %MN_FRAME_DIRECT_MAP.
 */
enum mn_use_kind {
	MN_USE_READ = 0,
	MN_USE_WRITE,
	MN_USE_MAP,
	MN_USE_DIRECT_MAP,
};

/**
 * struct mn_phys_config - parameters of a physical memory.
 * @max_frames: frames that may be allocated at once; 0 means no limit below
 *              %MN_PHYS_MAX_PFN.
 * @base_pfn: first pfn handed out (0 keeps pfn 0 usable; kernels usually reserve low memory).
 */
struct mn_phys_config {
	uint64_t max_frames;
	mn_pfn_t base_pfn;
};

/**
 * struct mn_frame_info - a snapshot of one frame, for tests and dumps.
 * @state: what the frame is.
 * @head: head pfn of its folio (the frame itself when free or a head).
 * @order: folio order (meaningful for heads and tails).
 * @gen: folio generation (for free frames: the generation of the last free, 0 if never).
 * @refcount: folio refcount (0 when free).
 * @mapcount: folio mapcount.
 * @owner: folio owner.
 * @flags: folio flags (%MN_FRAME_YOUNG, ...).
 * @data: this frame's data word.
 * @alloc_actor: who allocated the folio last.
 * @alloc_event: when (0 when tracing was off).
 * @free_actor: who freed the folio last.
 * @free_event: when (0 when never freed or tracing was off).
 */
struct mn_frame_info {
	enum mn_frame_state state;
	mn_pfn_t head;
	unsigned int order;
	uint64_t gen;
	uint32_t refcount;
	int32_t mapcount;
	enum mn_frame_owner owner;
	unsigned int flags;
	uint64_t data;
	uint32_t alloc_actor;
	uint64_t alloc_event;
	uint32_t free_actor;
	uint64_t free_event;
};

/**
 * struct mn_phys_stats - totals of a physical memory.
 * @nr_frames: frames in allocated folios.
 * @nr_folios: allocated folios.
 * @nr_allocs: successful folio allocations so far.
 * @nr_frees: folios freed so far.
 * @nr_chunks: 512-frame chunks of metadata materialised.
 * @metadata_bytes: memory the frame table uses.
 * @next_pfn: first pfn never handed out.
 */
struct mn_phys_stats {
	uint64_t nr_frames;
	uint64_t nr_folios;
	uint64_t nr_allocs;
	uint64_t nr_frees;
	uint64_t nr_chunks;
	uint64_t metadata_bytes;
	mn_pfn_t next_pfn;
};

/**
 * mn_phys_create() - Create an empty physical memory.
 * @a: allocation context for the frame table.
 * @t: trace for events, actors and violation reports.
 * @cfg: parameters, or NULL for defaults (no limit, base pfn 0).
 * @out: receives the new physical memory.
 *
 * Context: Any context.
 * Return: 0, -EINVAL when @cfg->base_pfn is not below %MN_PHYS_MAX_PFN, or -ENOMEM.
 */
MN_EXPORT int mn_phys_create(struct mn_alloc *a, struct mn_trace *t,
			     const struct mn_phys_config *cfg, struct mn_phys **out);

/**
 * mn_phys_destroy() - Free the frame table.
 * @p: the physical memory, or NULL.
 *
 * Context: Any context. Folios still allocated are simply forgotten.
 */
MN_EXPORT void mn_phys_destroy(struct mn_phys *p);

/**
 * mn_phys_alloc() - Allocate a folio of 2^@order frames (alloc_pages / folio_alloc).
 * @p: the physical memory.
 * @order: 0 .. %MN_PHYS_MAX_ORDER.
 * @owner: who owns it (not %MN_OWNER_NONE).
 * @flags: 0 or %MN_PHYS_ZERO.
 * @out: receives a reference to the head frame.
 *
 * The folio starts with refcount 1, mapcount 0, flags %MN_FRAME_DIRECT_MAP and, without
 * %MN_PHYS_ZERO, whatever data its frames held before (the poison pattern after a free).
 * Freed folios of the same order are reused first, most recently freed first.
 *
 * Context: The thread that owns @p.
 * Return: 0, -EINVAL for a bad @order, @owner or @flags, or -ENOMEM when @max_frames or the
 * pfn space would be exceeded or metadata cannot be allocated (nothing changes then).
 */
MN_EXPORT int mn_phys_alloc(struct mn_phys *p, unsigned int order, enum mn_frame_owner owner,
			    unsigned int flags, struct mn_frame_ref *out);

/**
 * mn_phys_use() - The oracle: check that @ref still names the folio it was taken from.
 * @p: the physical memory.
 * @ref: the reference being used.
 * @kind: how it is used.
 * @what: the use site, e.g. "gpc.read" (string literal); appears in the report.
 *
 * On a stale reference (the folio was freed, or freed and reallocated, since @ref was
 * taken), reports %MN_VIOL_USE_AFTER_FREE. For %MN_USE_DIRECT_MAP on a live folio without
 * %MN_FRAME_DIRECT_MAP, reports %MN_VIOL_DIRECT_MAP. The frame itself is not changed.
 *
 * Context: The thread that owns @p.
 * Return: 0 when the use is legal, -ESTALE after a use-after-free report, -EACCES after a
 * direct-map report.
 */
MN_EXPORT int mn_phys_use(struct mn_phys *p, struct mn_frame_ref ref, enum mn_use_kind kind,
			  const char *what);

/**
 * mn_phys_get() - Take a reference on the folio (get_page / folio_get).
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @what: the use site for reports.
 *
 * Context: The thread that owns @p.
 * Return: 0, or -ESTALE (use-after-free reported, nothing taken).
 */
MN_EXPORT int mn_phys_get(struct mn_phys *p, struct mn_frame_ref ref, const char *what);

/**
 * mn_phys_put() - Drop a reference; the last one frees the folio (put_page / folio_put).
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @what: the use site for reports.
 *
 * Freeing gives the folio a new generation, poisons its data words and clears its flags.
 * Some folios are freed anyway but reported first, each with the folio's head pfn:
 * one whose mapcount is not zero as %MN_VIOL_REFCOUNT ("frame.freed_while_mapped"); one
 * with %MN_FRAME_KMAP_TLB as %MN_VIOL_DIRECT_MAP ("frame.kmap_tlb_stale_at_free", caused by
 * whoever mapped it last with mn_phys_kmap_temp()); one without %MN_FRAME_DIRECT_MAP as
 * %MN_VIOL_DIRECT_MAP ("frame.freed_without_direct_map").
 *
 * Context: The thread that owns @p.
 * Return: 1 when this put freed the folio, 0 when references remain, or -ESTALE
 * (use-after-free reported, nothing dropped).
 */
MN_EXPORT int mn_phys_put(struct mn_phys *p, struct mn_frame_ref ref, const char *what);

/**
 * mn_phys_map() - Count one more mapping of the folio (folio_add_*_rmap).
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @what: the use site for reports.
 *
 * Context: The thread that owns @p.
 * Return: 0, or -ESTALE (use-after-free reported).
 */
MN_EXPORT int mn_phys_map(struct mn_phys *p, struct mn_frame_ref ref, const char *what);

/**
 * mn_phys_unmap() - Count one mapping fewer (folio_remove_rmap_*).
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @what: the use site for reports.
 *
 * Context: The thread that owns @p.
 * Return: 0, -ESTALE (use-after-free reported), or -EUCLEAN when the mapcount is already 0
 * (reported as %MN_VIOL_REFCOUNT, nothing changes).
 */
MN_EXPORT int mn_phys_unmap(struct mn_phys *p, struct mn_frame_ref ref, const char *what);

/**
 * mn_phys_update_flags() - Set and clear folio flags.
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @set: flags to set.
 * @clear: flags to clear (applied after @set).
 * @what: the use site for reports.
 *
 * Context: The thread that owns @p.
 * Return: the flags before the update (>= 0), -EINVAL for unknown flags, or -ESTALE.
 */
MN_EXPORT int mn_phys_update_flags(struct mn_phys *p, struct mn_frame_ref ref, unsigned int set,
				   unsigned int clear, const char *what);

/**
 * mn_phys_kmap_temp() - Map the folio at a temporary kernel address (the "mermap").
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @what: the use site for reports.
 *
 * Models a kmap_local-style mapping on a private slot, which works whether or not the folio
 * is in the direct map. The caller then accesses the frames with mn_phys_read() and
 * mn_phys_write(); that is not a direct-map use. The mapping's TLB entry may translate to
 * the folio from now on, also after the caller drops the mapping, so this sets
 * %MN_FRAME_KMAP_TLB until mn_phys_kmap_flush().
 *
 * Context: The thread that owns @p.
 * Return: 0, or -ESTALE (use-after-free reported, nothing changes).
 */
MN_EXPORT int mn_phys_kmap_temp(struct mn_phys *p, struct mn_frame_ref ref, const char *what);

/**
 * mn_phys_kmap_flush() - Flush the temporary mapping's TLB entry (flush_tlb_kernel_range).
 * @p: the physical memory.
 * @ref: a reference into the folio that was mapped.
 * @what: the use site for reports.
 *
 * Clears %MN_FRAME_KMAP_TLB; flushing a folio without it is harmless.
 *
 * Context: The thread that owns @p.
 * Return: 0, or -ESTALE (use-after-free reported, nothing changes).
 */
MN_EXPORT int mn_phys_kmap_flush(struct mn_phys *p, struct mn_frame_ref ref, const char *what);

/**
 * mn_phys_read() - Read the data word of the frame @ref names.
 * @p: the physical memory.
 * @ref: the frame.
 * @val: receives the word, even when the reference is stale (what a buggy reader would see).
 * @what: the use site for reports.
 *
 * Context: The thread that owns @p.
 * Return: 0, or -ESTALE (use-after-free reported; @val holds the frame's current word).
 */
MN_EXPORT int mn_phys_read(struct mn_phys *p, struct mn_frame_ref ref, uint64_t *val,
			   const char *what);

/**
 * mn_phys_write() - Write the data word of the frame @ref names.
 * @p: the physical memory.
 * @ref: the frame.
 * @val: the word.
 * @what: the use site for reports.
 *
 * Context: The thread that owns @p.
 * Return: 0, -ESTALE (use-after-free reported, nothing written), or -ENOMEM when the tail
 * chunk holding the frame cannot be materialised.
 */
MN_EXPORT int mn_phys_write(struct mn_phys *p, struct mn_frame_ref ref, uint64_t val,
			    const char *what);

/**
 * mn_phys_split() - Split a folio into folios of @new_order (split_folio_to_order).
 * @p: the physical memory.
 * @ref: a reference into the folio.
 * @new_order: the order of the pieces, below the folio's order.
 *
 * Like the kernel, refuses a folio with extra pins: the caller must hold the only reference
 * and the folio must be unmapped. Each piece keeps the folio's generation, owner, flags and
 * data and starts with refcount 1 (owned by the caller) and mapcount 0.
 *
 * Context: The thread that owns @p.
 * Return: 0, -EINVAL when @new_order is not below the folio's order, -EAGAIN when the folio
 * has other references or mappings, -ESTALE (use-after-free reported), or -ENOMEM when
 * metadata for the pieces cannot be allocated (no folio changes then; only the metadata
 * statistics may show chunks materialised on the way).
 */
MN_EXPORT int mn_phys_split(struct mn_phys *p, struct mn_frame_ref ref, unsigned int new_order);

/**
 * mn_phys_ref_valid() - Whether @ref still names a live folio, without reporting.
 * @p: the physical memory.
 * @ref: the reference.
 *
 * Context: Any context.
 * Return: true when the folio @ref points into is allocated with @ref's generation.
 */
MN_EXPORT bool mn_phys_ref_valid(const struct mn_phys *p, struct mn_frame_ref ref);

/**
 * mn_phys_check_invariants() - Verify the frame table's bookkeeping.
 * @p: the physical memory.
 *
 * Checks that freeing can never need memory (free-list room for every live folio), that no
 * free-list or gap block overlaps a live folio, that every head is aligned and referenced,
 * that tails point at a head that covers them, and that the per-order folio counts and the
 * totals of mn_phys_get_stats() match the table. Tests call it after mutations.
 *
 * Context: Any context. O(materialised frames).
 * Return: 0 when consistent, -EUCLEAN on the first broken rule.
 */
MN_EXPORT int mn_phys_check_invariants(const struct mn_phys *p);

/**
 * mn_phys_frame_info() - Snapshot frame @pfn.
 * @p: the physical memory.
 * @pfn: the frame.
 * @out: receives the snapshot.
 *
 * Context: Any context.
 * Return: 0, or -ENOENT when @pfn was never part of an allocated folio.
 */
MN_EXPORT int mn_phys_frame_info(const struct mn_phys *p, mn_pfn_t pfn, struct mn_frame_info *out);

/**
 * mn_phys_get_stats() - Totals of @p.
 * @p: the physical memory.
 * @st: receives the totals.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_phys_get_stats(const struct mn_phys *p, struct mn_phys_stats *st);

/**
 * mn_phys_owner_name() - Name of an owner kind.
 * @owner: the kind.
 *
 * Context: Any context.
 * Return: "anon", "file", "guest_memfd", "pgtable", "none", or "?".
 */
MN_EXPORT const char *mn_phys_owner_name(enum mn_frame_owner owner);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_PHYS_H */
