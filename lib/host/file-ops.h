/* SPDX-License-Identifier: MIT */
/*
 * file-ops.h - what a file system built inside lib/ (guest_memfd in lib/kvm) plugs into the
 * host's files: an ops table in the role of file_operations + vm_operations_struct +
 * address_space_operations, and the page-cache helpers it needs (filemap_grab_folio(),
 * truncate_inode_pages_range() behind unmap_mapping_range()). Internal, never installed.
 */
#ifndef MNSIM_HOST_FILE_OPS_H
#define MNSIM_HOST_FILE_OPS_H

#include "mnsim-internal.h"

#include <bsd/sys/tree.h>

#include <mnsim/host.h>
#include <mnsim/phys.h>

/**
 * struct mn_file_ops - the hooks of a file with behaviour of its own.
 * @mmap: mmap(2) of the file (f_op->mmap), called under the mmap lock for writing after
 *        the generic argument checks and before anything changes. @vm_flags has
 *        %MN_VM_SHARED for %MN_MAP_SHARED. 0, or a negative errno (-ENODEV, -EINVAL ...)
 *        that refuses the mapping and is returned by mn_mm_mmap() as is.
 * @fault: a user page fault on a mapping of the file at page index @pgoff
 *         (vm_ops->fault), under the mmap lock for reading. Returns 0 with *@page, a page
 *         of the file's page-cache folio at @pgoff (file_get_folio()) with a reference
 *         taken for the caller, and the folio order in *@order; or %MN_VM_FAULT_SIGBUS /
 *         %MN_VM_FAULT_OOM. The page is mapped at 4 KiB; the host retries the fault when
 *         the folio left the page cache before it could be mapped.
 * @fallocate: fallocate(2) (f_op->fallocate); its result is mn_mm_fallocate()'s.
 * @free_folio: a_ops->free_folio: @head (a folio of order @order) has just left the page
 *              cache (truncation or final teardown), before the cache drops its reference.
 * @release: the last reference is going (f_op->release): called first, before the page
 *           cache is emptied and the file freed.
 * @no_gup_fast: GUP-fast refuses the file's folios (a mapping without the direct map);
 *               slow GUP takes them.
 * @unmovable: mapping_set_unmovable(): mn_mm_migrate() of a page of the file fails with
 *             -EINVAL without unmapping or notifying anything.
 *
 * Every hook is optional. Without @fault the generic page-cache fault allocates and zeroes
 * (the caller sees its folios uptodate); without @fallocate, fallocate(2) fails with
 * -EOPNOTSUPP.
 */
struct mn_file_ops {
	int (*mmap)(struct mn_file *f, unsigned int vm_flags, unsigned int prot);
	unsigned int (*fault)(struct mn_file *f, uint64_t pgoff, bool write,
			      struct mn_frame_ref *page, unsigned int *order);
	int (*fallocate)(struct mn_file *f, int mode, uint64_t offset, uint64_t len);
	void (*free_folio)(struct mn_file *f, struct mn_frame_ref head, unsigned int order);
	void (*release)(struct mn_file *f);
	bool no_gup_fast;
	bool unmovable;
};

/* A page-cache folio of a file. */
struct file_folio {
	RB_ENTRY(file_folio) rb;
	uint64_t index; /* first page offset, aligned to the order */
	unsigned int order;
	bool uptodate;		 /* the data is valid (PG_uptodate): zeroed or written */
	struct mn_frame_ref ref; /* head; the page cache holds one reference */
};

/*
 * file_create_ops() - A file with @ops (a shmem-like file when @ops is NULL), @size bytes,
 * a page cache of order-@order folios owned by @owner (MN_OWNER_FILE, MN_OWNER_GMEM),
 * @priv for the hooks. 0 with one reference (the caller's) in *@out, -EINVAL for a bad
 * size, order or owner, or -ENOMEM. World's thread or a sim thread.
 */
int file_create_ops(struct mn_sim *sim, const char *name, uint64_t size, unsigned int order,
		    const struct mn_file_ops *ops, void *priv, enum mn_frame_owner owner,
		    struct mn_file **out);

/* The @priv given at creation (file->private_data). */
void *file_private(const struct mn_file *f);

/* The ops given at creation (file->f_op), NULL for a plain file. */
const struct mn_file_ops *file_ops(const struct mn_file *f);

/* Bytes (i_size). */
uint64_t file_size(const struct mn_file *f);

/* Take a reference (get_file()); mn_file_put() drops it. */
void file_get(struct mn_file *f);

/*
 * get_file_active(): take a reference unless the last one is already gone (the release
 * hook is running or about to); false then. The file must not have been freed yet.
 */
bool file_get_active(struct mn_file *f);

/* The folio caching page @pgoff, or NULL (filemap_get_folio() without a reference). */
struct file_folio *file_lookup(struct mn_file *f, uint64_t pgoff);

/*
 * file_get_folio() - The folio caching page @pgoff, or with @create a new one
 * (filemap_grab_folio()): order of the file, owner given at creation. A new folio of a
 * file with ops is neither zeroed nor uptodate: the caller fills it (file_folio_zero()).
 * One of a file without ops is zeroed and uptodate. 0 with *@ff (no reference taken for
 * the caller: mn_phys_get() one to keep the page beyond the next yield), -ENOENT absent
 * and !@create, -EINVAL beyond the size, or -ENOMEM. Never yields.
 */
int file_get_folio(struct mn_file *f, uint64_t pgoff, bool create, struct file_folio **ff);

/* Zero the data of @ff and mark it uptodate (folio_zero_range() + folio_mark_uptodate()). */
int file_folio_zero(struct mn_file *f, struct file_folio *ff);

/*
 * file_truncate_range() - Punch pages [@start, @end) out of the file: unmap_mapping_range()
 * then truncate_inode_pages_range(). See file.c for the sequence and the notifications.
 * Files of huge folios lose only the whole folios inside the range (hugetlbfs). The caller
 * holds no mmap lock. Returns 0.
 */
int file_truncate_range(struct mn_file *f, uint64_t start, uint64_t end);

/*
 * file_unmap_range() - unmap_mapping_range() alone: every mapping of pages [@start, @end)
 * in every mm is zapped, private copies too, each VMA inside its own MMU_NOTIFY_CLEAR pair
 * (steps "unmap_mapping.*"); the page cache is left as it is, so a fault may map the pages
 * again at once. The caller holds no mmap lock. Returns 0.
 */
int file_unmap_range(struct mn_file *f, uint64_t start, uint64_t end);

/*
 * Drop a reference from inside a call that may hold locks: a last reference releases the
 * file only at mm_task_work_run(), which every public entry point that can get here runs
 * before it returns (fput()'s task work).
 */
void file_put_deferred(struct mn_mm *mm, struct mn_file *f);
void mm_task_work_run(struct mn_mm *mm);

/* VMAs (in every mm) that map the file now: the length of its i_mmap list. */
unsigned int file_nr_mappings(const struct mn_file *f);

#endif /* MNSIM_HOST_FILE_OPS_H */
