/* SPDX-License-Identifier: MIT */
/*
 * host-internal.h - the objects of lib/host (struct mn_mm, VMAs, files) and the helpers its
 * files share: VMA tree, page-cache lookup, notifier calls, the zap/gather/flush sequence.
 */
#ifndef MNSIM_HOST_INTERNAL_H
#define MNSIM_HOST_INTERNAL_H

#include "mnsim-internal.h"

#include <bsd/sys/queue.h>

#include <mnsim/host.h>
#include <mnsim/lock.h>

#include "host/file-ops.h"

#define HOST_DEFAULT_MMAP_BASE 0x7f0000000000ULL
#define HOST_TASK_SIZE	       (1ULL << 47) /* TASK_SIZE_MAX with 4-level paging */
#define HOST_MAX_MIGRATING     8
#define HOST_NR_OPEN	       1024 /* RLIMIT_NOFILE's default soft limit: fds 0 .. 1023 */
#define HOST_FD_FIRST	       3    /* 0, 1 and 2 are the stdio of a real process */

/* A VMA: [start, end) with one protection, one backing. */
struct host_vma {
	struct mn_itree_node node;    /* page numbers [start >> 12, (end >> 12) - 1] */
	struct mn_mm *mm;	      /* vma->vm_mm */
	TAILQ_ENTRY(host_vma) i_mmap; /* on file->i_mmap while @file is set and linked */
	mn_hva_t start;
	mn_hva_t end;
	unsigned int prot;  /* MN_PROT_* */
	unsigned int flags; /* MN_VM_* */
	struct mn_file *file;
	uint64_t pgoff; /* file page index of @start */
	unsigned int huge_order;
};

RB_HEAD(file_cache, file_folio);
TAILQ_HEAD(file_vmas, host_vma);

struct mn_file {
	struct mn_sim *sim;
	struct mn_alloc *alloc;
	char *name;
	uint64_t size;
	unsigned int order;	   /* folio order of the page cache */
	enum mn_frame_owner owner; /* of the page-cache folios */
	unsigned int refs;
	uint64_t nr_pages;
	struct file_cache cache;
	const struct mn_file_ops *ops; /* NULL: a plain shmem / hugetlbfs file */
	void *private;
	/*
	 * address_space->i_mmap and i_mmap_rwsem: every VMA mapping the file, in any mm.
	 * Written (VMAs linked, unlinked, split) under the owning mm's mmap lock and this
	 * lock for writing; truncation walks it holding this lock for reading only.
	 */
	struct file_vmas i_mmap;
	unsigned int nr_mappings;
	struct mn_rwlock i_mmap_rwsem;
	struct mn_file *fput_next; /* on the mm's list of deferred final puts */
};

struct pfn_node;

/* Per-folio counters keyed by (head, generation); pfnset.c. */
RB_HEAD(pfnset, pfn_node);

/* libbsd 0.11.7 leaves __unused undefined (Debian #522773) but RB_GENERATE_STATIC uses it. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif

struct mn_mm {
	struct mn_sim *sim;
	struct mn_alloc *alloc;
	struct mn_phys *phys;
	struct mn_trace *trace;
	struct mn_mm_config cfg;

	struct mn_rwlock mmap_lock;   /* VMAs (write), faults and walks (read) */
	struct mn_spinlock ptl;	      /* the page table */
	struct mn_srcu notifier_srcu; /* notifier callbacks in flight */
	struct mn_spinlock notifier_lock;
	struct mn_waitq migration_wq; /* faults waiting on migration entries */

	struct mn_itree vmas;
	unsigned int nr_vmas;
	struct mn_file **fds; /* the fd table (files_struct); NULL slots are free */
	struct mn_file *fput_pending; /* final puts deferred to the end of the call */
	unsigned int nr_fds;  /* slots allocated */
	struct mn_pt *pt;
	struct mn_tlb *tlb;
	struct mn_notifier *subs; /* newest first */
	bool released;		  /* exit released the subscribers */
	bool exiting;		  /* exit began: no new subscriptions (mm_users is 0) */
	bool exited;
	bool unstable; /* MMF_UNSTABLE: the OOM reaper took memory away */

	struct mn_frame_ref zero_page;
	struct pfnset pins;			/* GUP references not yet put */
	struct pfnset anon_shared;		/* anonymous folios fork() shared (not exclusive) */
	mn_pfn_t migrating[HOST_MAX_MIGRATING]; /* isolated folio heads */
	unsigned int nr_migrating;
	struct mn_mm_stats st;
};

/* ---- helpers ------------------------------------------------------------------------ */

static inline mn_gfn_t hva_pn(mn_hva_t hva)
{
	return hva >> MN_PAGE_SHIFT;
}

static inline struct mn_gfn_range pn_range(mn_hva_t start, mn_hva_t end)
{
	return (struct mn_gfn_range){ hva_pn(start), hva_pn(end) };
}

static inline uint64_t level_bytes(unsigned int level)
{
	return MN_PAGE_SIZE << (MN_LEVEL_BITS * (level - 1));
}

static inline bool vma_is_anon(const struct host_vma *v)
{
	return !v->file;
}

/* mm.c */
struct host_vma *vma_find(struct mn_mm *mm, mn_hva_t addr);
struct host_vma *vma_first_in(struct mn_mm *mm, mn_hva_t start, mn_hva_t end);
struct host_vma *vma_next_in(struct host_vma *v, mn_hva_t start, mn_hva_t end);
int vma_split(struct mn_mm *mm, struct host_vma *v, mn_hva_t at, struct host_vma **hi);
void vma_remove(struct mn_mm *mm, struct host_vma *v);
int vma_insert(struct mn_mm *mm, struct host_vma *v);
void vma_free(struct mn_mm *mm, struct host_vma *v);
struct host_vma *vma_new(struct mn_mm *mm);
unsigned int vma_pte_perm(const struct host_vma *v);
bool vma_thp_allowed(const struct mn_mm *mm, const struct host_vma *v);
int range_fully_mapped(struct mn_mm *mm, mn_hva_t start, mn_hva_t end);
int hugetlb_cut(struct mn_mm *mm, mn_hva_t start, mn_hva_t end);
int vmas_split_edges(struct mn_mm *mm, mn_hva_t start, mn_hva_t end);
void host_trace(struct mn_mm *mm, const char *step, mn_hva_t start, mn_hva_t end);
int host_walk(struct mn_mm *mm, mn_hva_t addr, struct mn_pt_walk *w);

/* file.c */
int file_fault(struct mn_file *f, uint64_t pgoff, struct mn_frame_ref *page, unsigned int *order);
bool file_page_cached(struct mn_file *f, uint64_t pgoff, struct mn_frame_ref page);
void file_replace_folio(struct mn_file *f, struct file_folio *ff, struct mn_frame_ref ref);
void file_link_vma(struct host_vma *v, struct host_vma *after, bool lock);
void file_unlink_vma(struct host_vma *v, bool lock);

/* fd.c */
void fds_close_all(struct mn_mm *mm);
int fds_dup(struct mn_mm *from, struct mn_mm *to);

/* notifier.c */
int notify_start(struct mn_mm *mm, const struct mn_notifier_range *r);
void notify_end(struct mn_mm *mm, const struct mn_notifier_range *r);
int notify_young(struct mn_mm *mm, enum mn_age_mode mode, mn_hva_t start, mn_hva_t end);
void notify_release(struct mn_mm *mm);
struct mn_notifier_range notify_range(struct mn_mm *mm, enum mn_notify_event ev, mn_hva_t start,
				      mn_hva_t end, bool blockable);

/* zap.c: the mmu_gather of one operation */
struct gather {
	struct mn_frame_ref *refs;
	size_t nr, cap;
};

struct host_op {
	const char *start_step;
	const char *clear_step;
	const char *flush_step;
	const char *free_step;
	const char *end_step;
};

void host_tlb_flush(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, const char *step);
void gather_add(struct mn_mm *mm, struct gather *g, struct mn_frame_ref ref);
void gather_free(struct mn_mm *mm, struct gather *g, const char *step);
int split_huge_pmd(struct mn_mm *mm, mn_hva_t addr);
int split_huge_edges(struct mn_mm *mm, mn_hva_t start, mn_hva_t end);
int unmap_notified(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, enum mn_notify_event ev,
		   bool blockable, const struct host_op *op, bool free_tables);
void entry_unmapped(struct mn_mm *mm, const struct mn_pte *pte, uint64_t gen, struct gather *g);
bool is_zero_pfn(const struct mn_mm *mm, mn_pfn_t pfn);

/* fault.c */
struct mn_pte leaf_for_vma(const struct host_vma *v, mn_pfn_t pfn, unsigned int level, bool write);
int install_entry(struct mn_mm *mm, mn_hva_t addr, const struct mn_pte *pte,
		  struct mn_frame_ref ref);
void copy_frames(struct mn_mm *mm, struct mn_frame_ref src, struct mn_frame_ref dst, uint64_t nr,
		 const char *what);

/* pfnset.c */
struct mn_frame_ref folio_of(const struct mn_mm *mm, mn_pfn_t pfn);
void pfnset_add(struct mn_mm *mm, struct pfnset *set, struct mn_frame_ref folio, int64_t delta);
uint64_t pfnset_count(const struct pfnset *set, struct mn_frame_ref folio);
void pfnset_clear(struct mn_mm *mm, struct pfnset *set);
bool anon_exclusive(const struct mn_mm *mm, mn_pfn_t pfn);
void anon_share(struct mn_mm *mm, mn_pfn_t pfn);
void anon_unshare(struct mn_mm *mm, mn_pfn_t pfn);

/* migrate.c */
bool folio_migrating(const struct mn_mm *mm, mn_pfn_t head);

#endif /* MNSIM_HOST_INTERNAL_H */
