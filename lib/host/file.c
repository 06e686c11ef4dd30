// SPDX-License-Identifier: MIT
/*
 * file.c - a shared file as the host sees it: a page cache of folios keyed by page offset
 * (mm/filemap.c, mm/shmem.c, and hugetlbfs for files of huge folios), the list of VMAs
 * mapping it (address_space->i_mmap), truncation of a range (mm/truncate.c
 * truncate_inode_pages_range() behind mm/memory.c unmap_mapping_range()), and the hooks of
 * files with ops of their own (guest_memfd). The cache holds one reference on each folio;
 * faults take their own.
 */
#include "host/host-internal.h"

#include <stdlib.h>

static int folio_cmp(const struct file_folio *a, const struct file_folio *b)
{
	return a->index < b->index ? -1 : a->index > b->index;
}

RB_GENERATE_STATIC(file_cache, file_folio, rb, folio_cmp)

int file_create_ops(struct mn_sim *sim, const char *name, uint64_t size, unsigned int order,
		    const struct mn_file_ops *ops, void *priv, enum mn_frame_owner owner,
		    struct mn_file **out)
{
	struct mn_alloc *a = mn_sim_get_alloc(sim);
	struct mn_file *f;
	size_t n = strlen(name ? name : "file") + 1;

	if ((order && order != MN_ORDER_2M && order != MN_ORDER_1G) || !size ||
	    !mn_is_aligned(size, MN_PAGE_SIZE << order) || size > HOST_TASK_SIZE ||
	    (owner != MN_OWNER_FILE && owner != MN_OWNER_GMEM))
		return -EINVAL;
	f = mn_zalloc(a, sizeof(*f) + n);
	if (!f)
		return -ENOMEM;
	f->sim = sim;
	f->alloc = a;
	f->name = (char *)(f + 1);
	memcpy(f->name, name ? name : "file", n);
	f->size = size;
	f->order = order;
	f->owner = owner;
	f->ops = ops;
	f->private = priv;
	f->refs = 1;
	RB_INIT(&f->cache);
	TAILQ_INIT(&f->i_mmap);
	mn_rwlock_init(&f->i_mmap_rwsem, "i_mmap_rwsem", MN_RW_SLEEP);
	*out = f;
	return 0;
}

int mn_file_create(struct mn_sim *sim, const char *name, uint64_t size, unsigned int huge_order,
		   struct mn_file **out)
{
	return file_create_ops(sim, name, size, huge_order, NULL, NULL, MN_OWNER_FILE, out);
}

void *file_private(const struct mn_file *f)
{
	return f->private;
}

const struct mn_file_ops *file_ops(const struct mn_file *f)
{
	return f->ops;
}

uint64_t file_size(const struct mn_file *f)
{
	return f->size;
}

void file_get(struct mn_file *f)
{
	f->refs++;
}

bool file_get_active(struct mn_file *f)
{
	if (!f->refs)
		return false;
	f->refs++;
	return true;
}

uint64_t mn_file_nr_pages(const struct mn_file *f)
{
	return f->nr_pages;
}

unsigned int file_nr_mappings(const struct mn_file *f)
{
	return f->nr_mappings;
}

/* ---- the page cache ---------------------------------------------------------------------- */

struct file_folio *file_lookup(struct mn_file *f, uint64_t pgoff)
{
	struct file_folio key = { .index = mn_align_down(pgoff, 1ULL << f->order) };

	return RB_FIND(file_cache, &f->cache, &key);
}

/* Whether @page is a page of the folio the cache holds for @pgoff (folio->mapping check). */
bool file_page_cached(struct mn_file *f, uint64_t pgoff, struct mn_frame_ref page)
{
	struct file_folio *ff = file_lookup(f, pgoff);

	return ff && ff->ref.gen == page.gen && page.pfn >= ff->ref.pfn &&
	       page.pfn - ff->ref.pfn < (1ULL << ff->order);
}

int file_get_folio(struct mn_file *f, uint64_t pgoff, bool create, struct file_folio **out)
{
	struct mn_phys *phys = mn_sim_get_phys(f->sim);
	struct file_folio *ff;
	int ret;

	if (pgoff >= f->size >> MN_PAGE_SHIFT)
		return -EINVAL;
	ff = file_lookup(f, pgoff);
	if (!ff && !create)
		return -ENOENT;
	if (!ff) {
		/* __filemap_get_folio(FGP_CREAT); shmem zeroes at allocation (__GFP_ZERO). */
		ff = mn_zalloc(f->alloc, sizeof(*ff));
		if (!ff)
			return -ENOMEM;
		ret = mn_phys_alloc(phys, f->order, f->owner, f->ops ? 0 : MN_PHYS_ZERO, &ff->ref);
		if (ret) {
			mn_free(f->alloc, ff);
			return ret;
		}
		ff->index = mn_align_down(pgoff, 1ULL << f->order);
		ff->order = f->order;
		ff->uptodate = !f->ops;
		RB_INSERT(file_cache, &f->cache, ff);
		f->nr_pages += 1ULL << f->order;
	}
	*out = ff;
	return 0;
}

int file_folio_zero(struct mn_file *f, struct file_folio *ff)
{
	struct mn_phys *phys = mn_sim_get_phys(f->sim);
	uint64_t i;
	int ret;

	for (i = 0; i < (1ULL << ff->order); i++) {
		ret = mn_phys_write(phys, mn_frame_ref_offset(ff->ref, i), 0, "file.zero");
		if (ret)
			return ret;
	}
	ff->uptodate = true;
	return 0;
}

/*
 * The page at @pgoff with a reference for the caller, allocating and zeroing the folio on
 * first use (filemap_fault() / shmem_get_folio() / hugetlb_no_page()).
 */
int file_fault(struct mn_file *f, uint64_t pgoff, struct mn_frame_ref *page, unsigned int *order)
{
	struct mn_phys *phys = mn_sim_get_phys(f->sim);
	struct file_folio *ff;
	int ret;

	ret = file_get_folio(f, pgoff, true, &ff);
	if (ret)
		return ret == -EINVAL ? -EFAULT : ret; /* beyond EOF: SIGBUS */
	if (!ff->uptodate) {
		ret = file_folio_zero(f, ff);
		if (ret)
			return ret;
	}
	*page = mn_frame_ref_offset(ff->ref, pgoff - ff->index);
	*order = ff->order;
	return mn_phys_get(phys, *page, "file.fault");
}

/* Migration moved the folio: the cache now holds @ref (its reference moves with it). */
void file_replace_folio(struct mn_file *f, struct file_folio *ff, struct mn_frame_ref ref)
{
	(void)f;
	ff->ref = ref;
}

/*
 * delete_from_page_cache() of a folio already taken out of the tree: a_ops->free_folio,
 * then the cache's reference (the frame stays while GUP or a mapping still holds one).
 */
static void folio_evict(struct mn_file *f, struct file_folio *ff)
{
	if (f->ops && f->ops->free_folio)
		f->ops->free_folio(f, ff->ref, ff->order);
	mn_phys_put(mn_sim_get_phys(f->sim), ff->ref, "file.truncate");
	mn_free(f->alloc, ff);
}

/* ---- i_mmap ------------------------------------------------------------------------------ */

/* vma_link_file() / __split_vma()'s vma_complete(): @v maps its file from now on. */
void file_link_vma(struct host_vma *v, struct host_vma *after, bool lock)
{
	struct mn_file *f = v->file;

	if (lock)
		mn_write_lock(f->sim, &f->i_mmap_rwsem);
	if (after)
		TAILQ_INSERT_AFTER(&f->i_mmap, after, v, i_mmap);
	else
		TAILQ_INSERT_TAIL(&f->i_mmap, v, i_mmap);
	f->nr_mappings++;
	if (lock)
		mn_write_unlock(f->sim, &f->i_mmap_rwsem);
}

/* unlink_file_vma(): @v no longer maps its file (the caller then drops its reference). */
void file_unlink_vma(struct host_vma *v, bool lock)
{
	struct mn_file *f = v->file;

	if (lock)
		mn_write_lock(f->sim, &f->i_mmap_rwsem);
	TAILQ_REMOVE(&f->i_mmap, v, i_mmap);
	f->nr_mappings--;
	if (lock)
		mn_write_unlock(f->sim, &f->i_mmap_rwsem);
}

/* ---- truncation -------------------------------------------------------------------------- */

static const struct host_op truncate_op = {
	.start_step = "truncate.start",
	.clear_step = "truncate.clear",
	.flush_step = "truncate.tlb_flush",
	.free_step = "truncate.free",
	.end_step = "truncate.end",
};

/* unmap_mapping_range() on its own (file_unmap_range()). */
static const struct host_op unmap_mapping_op = {
	.start_step = "unmap_mapping.start",
	.clear_step = "unmap_mapping.clear",
	.flush_step = "unmap_mapping.tlb_flush",
	.free_step = "unmap_mapping.free",
	.end_step = "unmap_mapping.end",
};

/* The second unmap of one folio a fault mapped again meanwhile (unmap_mapping_folio()). */
static const struct host_op unmap_folio_op = {
	.start_step = "truncate_folio.start",
	.clear_step = "truncate_folio.clear",
	.flush_step = "truncate_folio.tlb_flush",
	.free_step = "truncate_folio.free",
	.end_step = "truncate_folio.end",
};

/* The part of @v mapping file pages [@start, @end), as addresses; false when none. */
static bool vma_file_range(const struct host_vma *v, uint64_t start, uint64_t end, mn_hva_t *s,
			   mn_hva_t *e)
{
	uint64_t first = v->pgoff, last = v->pgoff + ((v->end - v->start) >> MN_PAGE_SHIFT);

	start = MN_MAX(start, first);
	end = MN_MIN(end, last);
	if (start >= end)
		return false;
	*s = v->start + ((start - first) << MN_PAGE_SHIFT);
	*e = v->start + ((end - first) << MN_PAGE_SHIFT);
	return true;
}

/*
 * unmap_mapping_range_tree(): every VMA mapping pages [@start, @end) is zapped there
 * (zap_page_range_single(), with its own MMU_NOTIFY_CLEAR pair over the part it maps), the
 * private copies of a private mapping too (even_cows, as truncation asks). The VMA's mm
 * lock is not taken: i_mmap_rwsem, held for reading, keeps the VMA where it is.
 */
static void unmap_mapping_range(struct mn_file *f, uint64_t start, uint64_t end,
				const struct host_op *op)
{
	struct host_vma *v;
	mn_hva_t s, e;

	TAILQ_FOREACH(v, &f->i_mmap, i_mmap) {
		if (!vma_file_range(v, start, end, &s, &e))
			continue;
		host_trace(v->mm, "host.truncate", s, e);
		unmap_notified(v->mm, s, e, MN_NOTIFY_CLEAR, true, op, false);
	}
}

int file_unmap_range(struct mn_file *f, uint64_t start, uint64_t end)
{
	end = MN_MIN(end, f->size >> MN_PAGE_SHIFT);
	if (start >= end)
		return 0;
	mn_read_lock(f->sim, &f->i_mmap_rwsem);
	unmap_mapping_range(f, start, end, &unmap_mapping_op);
	mn_read_unlock(f->sim, &f->i_mmap_rwsem);
	return 0;
}

struct mapped_arg {
	struct mn_frame_ref head;
	unsigned int order;
	bool found;
};

static bool entry_maps_folio(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct mapped_arg *m = arg;

	(void)gfn;
	if (pte->kind != MN_PTE_NONE && *gen == m->head.gen && pte->pfn >= m->head.pfn &&
	    pte->pfn - m->head.pfn < (1ULL << m->order))
		m->found = true;
	return false;
}

/*
 * truncate_cleanup_folio() -> unmap_mapping_folio(): a VMA where some entry (present,
 * PROT_NONE, or a migration entry that would bring it back) still names @ff, a folio just
 * taken out of the cache, is zapped again over the folio; private copies are left alone.
 */
static void unmap_mapping_folio(struct mn_file *f, const struct file_folio *ff)
{
	uint64_t end = ff->index + (1ULL << ff->order);
	struct mn_pt_result res;
	struct host_vma *v;
	mn_hva_t s, e;

	TAILQ_FOREACH(v, &f->i_mmap, i_mmap) {
		struct mapped_arg m = { ff->ref, ff->order, false };

		if (!vma_file_range(v, ff->index, end, &s, &e))
			continue;
		mn_pt_update(v->mm->pt, pn_range(s, e), entry_maps_folio, &m, &res);
		if (!m.found)
			continue;
		host_trace(v->mm, "host.truncate_folio", s, e);
		unmap_notified(v->mm, s, e, MN_NOTIFY_CLEAR, true, &unmap_folio_op, false);
	}
}

/*
 * truncate_pagecache_range(): unmap_mapping_range() over the range, then
 * truncate_inode_pages_range(). The kernel locks each folio, which a fault holds until it
 * mapped it; here a fault maps a page-cache page only if the cache still holds it (checked
 * under the page-table lock), and each folio leaves the cache in one step with the walk for
 * mappings made since the first unmap, which are unmapped again (unmap_mapping_folio()).
 * A folio ahead of the cursor that a fault added meanwhile is truncated too; one behind it
 * stays (shmem's wait for a hole being punched, shmem_falloc, is not modelled).
 */
int file_truncate_range(struct mn_file *f, uint64_t start, uint64_t end)
{
	uint64_t nr = 1ULL << f->order;
	struct file_folio key, *ff;
	uint64_t idx;

	end = MN_MIN(end, f->size >> MN_PAGE_SHIFT);
	/* hugetlbfs_punch_hole(): only the huge pages wholly inside the hole. */
	start = mn_align_up(start, nr);
	end = mn_align_down(end, nr);
	if (start >= end)
		return 0;
	mn_trace(mn_sim_get_trace(f->sim), "file.truncate", MN_KV_X("start", start),
		 MN_KV_X("end", end));
	mn_read_lock(f->sim, &f->i_mmap_rwsem);
	unmap_mapping_range(f, start, end, &truncate_op);
	for (idx = start; idx < end;) {
		key.index = idx;
		ff = RB_NFIND(file_cache, &f->cache, &key);
		if (!ff || ff->index >= end)
			break;
		idx = ff->index + (1ULL << ff->order);
		RB_REMOVE(file_cache, &f->cache, ff);
		f->nr_pages -= 1ULL << ff->order;
		unmap_mapping_folio(f, ff);
		folio_evict(f, ff);
	}
	mn_read_unlock(f->sim, &f->i_mmap_rwsem);
	return 0;
}

/* truncate_inode_pages_final(): nothing maps the file any more. */
static void file_truncate_final(struct mn_file *f)
{
	struct file_folio *ff;

	while ((ff = RB_MIN(file_cache, &f->cache))) {
		RB_REMOVE(file_cache, &f->cache, ff);
		f->nr_pages -= 1ULL << ff->order;
		folio_evict(f, ff);
	}
}

/* __fput(): release first, then the page cache, then the file. */
static void __fput(struct mn_file *f)
{
	if (f->ops && f->ops->release)
		f->ops->release(f);
	file_truncate_final(f);
	mn_free(f->alloc, f);
}

void mn_file_put(struct mn_file *f)
{
	if (!f || --f->refs)
		return;
	__fput(f);
}

/*
 * fput() from inside a system call: the last reference queues __fput() as task work, run
 * when the call returns to userspace (mm_task_work_run()), with none of the call's locks
 * held. So a munmap that drops a file's last reference, or KVM dropping the reference it
 * took on a guest_memfd while another thread closed the fd, never runs the file's release
 * under mmap_lock or slots_lock.
 */
void file_put_deferred(struct mn_mm *mm, struct mn_file *f)
{
	if (!f || --f->refs)
		return;
	f->fput_next = mm->fput_pending;
	mm->fput_pending = f;
}

/* task_work_run() on the way back to userspace: the deferred final puts, oldest first. */
void mm_task_work_run(struct mn_mm *mm)
{
	while (mm->fput_pending) {
		struct mn_file *f = mm->fput_pending, **pp = &mm->fput_pending;

		while (f->fput_next) {
			pp = &f->fput_next;
			f = f->fput_next;
		}
		*pp = NULL;
		__fput(f);
	}
}
