// SPDX-License-Identifier: MIT
/*
 * file.c - a shared file as the host sees it: a page cache of folios keyed by page offset
 * (mm/filemap.c, mm/shmem.c, and hugetlbfs for files of huge folios). The cache holds one
 * reference on each folio; faults take their own.
 */
#include "host/host-internal.h"

#include <stdlib.h>

static int folio_cmp(const struct file_folio *a, const struct file_folio *b)
{
	return a->index < b->index ? -1 : a->index > b->index;
}

RB_GENERATE_STATIC(file_cache, file_folio, rb, folio_cmp)

int mn_file_create(struct mn_sim *sim, const char *name, uint64_t size, unsigned int huge_order,
		   struct mn_file **out)
{
	struct mn_alloc *a = mn_sim_get_alloc(sim);
	struct mn_file *f;
	size_t n = strlen(name ? name : "file") + 1;

	if ((huge_order && huge_order != MN_ORDER_2M && huge_order != MN_ORDER_1G) || !size ||
	    !mn_is_aligned(size, MN_PAGE_SIZE << huge_order) || size > HOST_TASK_SIZE)
		return -EINVAL;
	f = mn_zalloc(a, sizeof(*f) + n);
	if (!f)
		return -ENOMEM;
	f->sim = sim;
	f->alloc = a;
	f->name = (char *)(f + 1);
	memcpy(f->name, name ? name : "file", n);
	f->size = size;
	f->order = huge_order;
	f->refs = 1;
	RB_INIT(&f->cache);
	*out = f;
	return 0;
}

void file_get(struct mn_file *f)
{
	f->refs++;
}

/* Truncate the whole page cache (truncate_inode_pages_final()): the cache's references go. */
static void file_truncate(struct mn_file *f)
{
	struct mn_phys *phys = mn_sim_get_phys(f->sim);
	struct file_folio *ff, *n;

	RB_FOREACH_SAFE(ff, file_cache, &f->cache, n) {
		RB_REMOVE(file_cache, &f->cache, ff);
		mn_phys_put(phys, ff->ref, "file.truncate");
		mn_free(f->alloc, ff);
	}
	f->nr_pages = 0;
}

void mn_file_put(struct mn_file *f)
{
	if (!f || --f->refs)
		return;
	file_truncate(f);
	mn_free(f->alloc, f);
}

uint64_t mn_file_nr_pages(const struct mn_file *f)
{
	return f->nr_pages;
}

struct file_folio *file_lookup(struct mn_file *f, uint64_t pgoff)
{
	struct file_folio key = { .index = mn_align_down(pgoff, 1ULL << f->order) };

	return RB_FIND(file_cache, &f->cache, &key);
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

	if (pgoff >= f->size >> MN_PAGE_SHIFT)
		return -EFAULT; /* beyond EOF: SIGBUS */
	ff = file_lookup(f, pgoff);
	if (!ff) {
		ff = mn_zalloc(f->alloc, sizeof(*ff));
		if (!ff)
			return -ENOMEM;
		ret = mn_phys_alloc(phys, f->order, MN_OWNER_FILE, MN_PHYS_ZERO, &ff->ref);
		if (ret) {
			mn_free(f->alloc, ff);
			return ret;
		}
		ff->index = mn_align_down(pgoff, 1ULL << f->order);
		ff->order = f->order;
		RB_INSERT(file_cache, &f->cache, ff);
		f->nr_pages += 1ULL << f->order;
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
