// SPDX-License-Identifier: MIT
/*
 * fd.c - the VMM process's file descriptor table, kept in its mm (fs/file.c: fd_install(),
 * get_unused_fd_flags(), fget(), close_fd(), dup_fd() at fork and close_files() at the end),
 * and fallocate(2) through it (fs/open.c vfs_fallocate(), mm/shmem.c shmem_fallocate()).
 * Nothing here yields, so no lock models files->file_lock; dropping a reference may.
 */
#include "host/host-internal.h"

#include <limits.h>

/* alloc_fd() from 3: the lowest free slot, growing the table up to the limit. */
int mn_mm_fd_install(struct mn_mm *mm, struct mn_file *f)
{
	unsigned int fd, n;
	void *arr;
	size_t cap;

	if (!f)
		return -EINVAL;
	for (fd = HOST_FD_FIRST; fd < mm->nr_fds && mm->fds[fd]; fd++)
		;
	if (fd >= HOST_NR_OPEN)
		return -EMFILE;
	if (fd >= mm->nr_fds) {
		/* expand_files(): at least double, never beyond the limit. */
		n = MN_MIN(HOST_NR_OPEN, MN_MAX(2 * mm->nr_fds, 16U));
		arr = mm->fds;
		cap = mm->nr_fds;
		if (mn_array_grow(mm->alloc, &arr, &cap, n, sizeof(*mm->fds)))
			return -ENOMEM;
		cap = MN_MIN(cap, (size_t)HOST_NR_OPEN);
		memset((struct mn_file **)arr + mm->nr_fds, 0,
		       (cap - mm->nr_fds) * sizeof(*mm->fds));
		mm->fds = arr;
		mm->nr_fds = (unsigned int)cap;
	}
	file_get(f);
	mm->fds[fd] = f;
	return (int)fd;
}

static struct mn_file *fd_lookup(struct mn_mm *mm, int fd)
{
	if (fd < 0 || (unsigned int)fd >= mm->nr_fds)
		return NULL;
	return mm->fds[fd];
}

struct mn_file *mn_mm_fget(struct mn_mm *mm, int fd)
{
	struct mn_file *f = fd_lookup(mm, fd);

	if (f)
		file_get(f);
	return f;
}

int mn_mm_close(struct mn_mm *mm, int fd)
{
	struct mn_file *f = fd_lookup(mm, fd);

	if (!f)
		return -EBADF;
	/* The slot is free before the reference goes: release may yield. */
	mm->fds[fd] = NULL;
	mn_file_put(f);
	return 0;
}

/* close_files(): every descriptor, lowest first; then the table. */
void fds_close_all(struct mn_mm *mm)
{
	unsigned int fd;

	for (fd = 0; fd < mm->nr_fds; fd++) {
		struct mn_file *f = mm->fds[fd];

		mm->fds[fd] = NULL;
		mn_file_put(f);
	}
	mn_free(mm->alloc, mm->fds);
	mm->fds = NULL;
	mm->nr_fds = 0;
}

/* dup_fd(): the child gets the same descriptors, each with a reference of its own. */
int fds_dup(struct mn_mm *from, struct mn_mm *to)
{
	unsigned int fd;

	if (!from->nr_fds)
		return 0;
	to->fds = mn_zalloc(to->alloc, from->nr_fds * sizeof(*to->fds));
	if (!to->fds)
		return -ENOMEM;
	to->nr_fds = from->nr_fds;
	for (fd = 0; fd < from->nr_fds; fd++) {
		to->fds[fd] = from->fds[fd];
		if (to->fds[fd])
			file_get(to->fds[fd]);
	}
	return 0;
}

/*
 * shmem_fallocate() (hugetlbfs_fallocate() for huge folios), simplified: whole folios only,
 * and allocation never extends the file.
 */
static int plain_fallocate(struct mn_file *f, int mode, uint64_t offset, uint64_t len)
{
	uint64_t fsize = MN_PAGE_SIZE << f->order, end, pg;
	struct file_folio *ff;
	int ret;

	/* vfs_fallocate(): offset < 0 or len <= 0 as a loff_t. */
	if (!len || offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* Allocation that extends the file (mode 0) is not modelled: -EOPNOTSUPP too. */
	if (mode != MN_FALLOC_FL_KEEP_SIZE &&
	    mode != (MN_FALLOC_FL_PUNCH_HOLE | MN_FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	/* vfs_fallocate(): offset + len wraps a loff_t (s_maxbytes is LLONG_MAX for shmem). */
	if (len > (uint64_t)INT64_MAX - offset)
		return -EFBIG;
	end = offset + len;
	if (!mn_is_aligned(offset, fsize) || !mn_is_aligned(len, fsize))
		return -EINVAL;
	if (mode & MN_FALLOC_FL_PUNCH_HOLE) {
		/* Clamped to the size, as truncate_pagecache_range() past EOF finds nothing. */
		end = MN_MIN(end, f->size);
		if (offset >= end)
			return 0;
		return file_truncate_range(f, offset >> MN_PAGE_SHIFT, end >> MN_PAGE_SHIFT);
	}
	if (end > f->size)
		return -EINVAL; /* KEEP_SIZE past EOF would allocate beyond i_size: not modelled */
	for (pg = offset >> MN_PAGE_SHIFT; pg < end >> MN_PAGE_SHIFT; pg += 1ULL << f->order) {
		ret = file_get_folio(f, pg, true, &ff);
		if (!ret && !ff->uptodate)
			ret = file_folio_zero(f, ff);
		if (ret)
			return ret; /* what was allocated stays (shmem would undo it) */
	}
	return 0;
}

int mn_mm_fallocate(struct mn_mm *mm, int fd, int mode, uint64_t offset, uint64_t len)
{
	struct mn_file *f = mn_mm_fget(mm, fd);
	int ret;

	if (!f)
		return -EBADF;
	if (f->ops)
		ret = f->ops->fallocate ? f->ops->fallocate(f, mode, offset, len) : -EOPNOTSUPP;
	else
		ret = plain_fallocate(f, mode, offset, len);
	mn_file_put(f);
	return ret;
}
