// SPDX-License-Identifier: MIT
/*
 * mm.c - the host address space: creation, VMAs in the interval tree (find, split, insert,
 * remove), get_unmapped_area() and mmap()/munmap(), modelled on mm/mmap.c and mm/vma.c.
 */
#include "host/host-internal.h"

#include <stdlib.h>

/* ---- creation ----------------------------------------------------------------------- */

int mn_mm_create(struct mn_sim *sim, const struct mn_mm_config *cfg, struct mn_mm **out)
{
	struct mn_mm_config c = cfg ? *cfg : (struct mn_mm_config){ .thp = MN_THP_MADVISE };
	struct mn_alloc *a = mn_sim_get_alloc(sim);
	struct mn_pt_format fmt;
	struct mn_mm *mm;
	int ret;

	if (c.thp > MN_THP_ALWAYS || (c.mmap_base && (c.mmap_base & ~MN_PAGE_MASK)) ||
	    c.mmap_base > HOST_TASK_SIZE)
		return -EINVAL;
	if (!c.mmap_base)
		c.mmap_base = HOST_DEFAULT_MMAP_BASE;
	if (!c.tlb_capacity)
		c.tlb_capacity = 64;
	mm = mn_zalloc(a, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	mm->sim = sim;
	mm->alloc = a;
	mm->phys = mn_sim_get_phys(sim);
	mm->trace = mn_sim_get_trace(sim);
	mm->cfg = c;
	mn_rwlock_init(&mm->mmap_lock, "mmap_lock", MN_RW_SLEEP);
	mn_spin_init(&mm->ptl, "page_table_lock");
	mn_srcu_init(&mm->notifier_srcu, "mmu_notifier_srcu");
	mn_spin_init(&mm->notifier_lock, "mmu_notifier_lock");
	mn_waitq_init(&mm->migration_wq, "migration_entry_wait");
	mn_itree_init(&mm->vmas);
	RB_INIT(&mm->pins);
	RB_INIT(&mm->anon_shared);
	mn_pt_format_host(&fmt);
	ret = mn_pt_create(a, mm->phys, &fmt, &mm->pt);
	if (ret)
		goto err;
	ret = mn_tlb_create(a, c.tlb_capacity, &mm->tlb);
	if (ret)
		goto err;
	mm->zero_page.pfn = MN_INVALID_PFN;
	if (!c.no_zero_page) {
		ret = mn_phys_alloc(mm->phys, 0, MN_OWNER_ANON, MN_PHYS_ZERO, &mm->zero_page);
		if (ret)
			goto err;
	}
	*out = mm;
	return 0;
err:
	mn_tlb_destroy(mm->tlb);
	mn_pt_destroy(mm->pt);
	mn_free(a, mm);
	return ret;
}

static bool teardown_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct mn_mm *mm = arg;

	(void)gfn;
	if (pte->kind != MN_PTE_MIGRATION && !is_zero_pfn(mm, pte->pfn)) {
		struct mn_frame_ref ref = { pte->pfn, *gen };

		mn_phys_unmap(mm->phys, ref, "host.destroy");
		mn_phys_put(mm->phys, ref, "host.destroy");
	}
	*pte = (struct mn_pte){ .kind = MN_PTE_NONE, .level = pte->level };
	return true;
}

void mn_mm_destroy(struct mn_mm *mm)
{
	struct mn_pt_result res;
	struct mn_itree_node *node;

	if (!mm)
		return;
	/* The descriptors go first: a file's release may still look at the mm. */
	fds_close_all(mm);
	mn_pt_update(mm->pt, pn_range(0, HOST_TASK_SIZE), teardown_entry, mm, &res);
	while ((node = mn_itree_first(&mm->vmas))) {
		struct host_vma *v = container_of(node, struct host_vma, node);

		vma_free(mm, v);
	}
	mm_task_work_run(mm);
	pfnset_clear(mm, &mm->pins);
	pfnset_clear(mm, &mm->anon_shared);
	if (mm->zero_page.pfn != MN_INVALID_PFN)
		mn_phys_put(mm->phys, mm->zero_page, "host.zero_page");
	mn_tlb_destroy(mm->tlb);
	mn_pt_destroy(mm->pt);
	mn_free(mm->alloc, mm);
}

struct mn_sim *mn_mm_get_sim(const struct mn_mm *mm)
{
	return mm->sim;
}

struct mn_pt *mn_mm_get_pt(struct mn_mm *mm)
{
	return mm->pt;
}

void mn_mm_get_stats(const struct mn_mm *mm, struct mn_mm_stats *st)
{
	*st = mm->st;
	st->vmas = mm->nr_vmas;
}

unsigned int mn_mm_nr_vmas(const struct mn_mm *mm)
{
	return mm->nr_vmas;
}

bool is_zero_pfn(const struct mn_mm *mm, mn_pfn_t pfn)
{
	return mm->zero_page.pfn != MN_INVALID_PFN && pfn == mm->zero_page.pfn;
}

void host_trace(struct mn_mm *mm, const char *step, mn_hva_t start, mn_hva_t end)
{
	mn_trace(mm->trace, step, MN_KV_X("start", start), MN_KV_X("end", end));
}

/*
 * The host entry covering @addr, of any kind (leaf, PROT_NONE, migration), as the kernel's
 * software walkers see it: 0 with the entry in @w, or -ENOENT when the slot is empty.
 */
int host_walk(struct mn_mm *mm, mn_hva_t addr, struct mn_pt_walk *w)
{
	int r = mn_pt_walk(mm->pt, hva_pn(addr), w);

	return r == 0 || (r == -ENOENT && w->leaf.kind != MN_PTE_NONE) ? 0 : -ENOENT;
}

/* ---- VMAs ------------------------------------------------------------------------------ */

static void vma_set_node(struct host_vma *v)
{
	v->node.start = hva_pn(v->start);
	v->node.last = hva_pn(v->end) - 1;
}

struct host_vma *vma_new(struct mn_mm *mm)
{
	return mn_zalloc(mm->alloc, sizeof(struct host_vma));
}

/* vma_link(): into the mm's tree, then onto its file's i_mmap list (the caller's reference). */
int vma_insert(struct mn_mm *mm, struct host_vma *v)
{
	int ret;

	v->mm = mm;
	vma_set_node(v);
	ret = mn_itree_insert(&mm->vmas, &v->node);
	if (ret)
		return ret;
	mm->nr_vmas++;
	if (v->file)
		file_link_vma(v, NULL, true);
	return 0;
}

static void vma_unlink(struct mn_mm *mm, struct host_vma *v, bool lock)
{
	mn_itree_remove(&mm->vmas, &v->node);
	mm->nr_vmas--;
	if (v->file)
		file_unlink_vma(v, lock);
	file_put_deferred(mm, v->file);
	mn_free(mm->alloc, v);
}

/* Unlink and free @v, dropping its file reference (remove_vma() after unlink_file_vma()). */
void vma_remove(struct mn_mm *mm, struct host_vma *v)
{
	vma_unlink(mm, v, true);
}

/* The same at mn_mm_destroy(), outside a run: no lock is taken (none may be free then). */
void vma_free(struct mn_mm *mm, struct host_vma *v)
{
	vma_unlink(mm, v, false);
}

struct host_vma *vma_find(struct mn_mm *mm, mn_hva_t addr)
{
	struct mn_itree_node *n = mn_itree_iter_first(&mm->vmas, hva_pn(addr), hva_pn(addr));

	return n ? container_of(n, struct host_vma, node) : NULL;
}

/* VMAs overlapping [@start, @end), in address order (they never overlap each other). */
struct host_vma *vma_first_in(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct mn_itree_node *n;

	if (start >= end)
		return NULL;
	n = mn_itree_iter_first(&mm->vmas, hva_pn(start), hva_pn(end - 1));
	return n ? container_of(n, struct host_vma, node) : NULL;
}

struct host_vma *vma_next_in(struct host_vma *v, mn_hva_t start, mn_hva_t end)
{
	struct mn_itree_node *n = mn_itree_iter_next(&v->node, hva_pn(start), hva_pn(end - 1));

	return n ? container_of(n, struct host_vma, node) : NULL;
}

/*
 * Split @v at @at into [start, at) (kept in @v) and [at, end) (a new VMA, *@hi), as
 * __split_vma() does. The caller has split any huge mapping across @at already.
 */
int vma_split(struct mn_mm *mm, struct host_vma *v, mn_hva_t at, struct host_vma **hi)
{
	struct host_vma *n = vma_new(mm);

	if (!n)
		return -ENOMEM;
	/* vma_prepare(): the file's VMAs change under i_mmap_rwsem held for writing. */
	if (v->file)
		mn_write_lock(mm->sim, &v->file->i_mmap_rwsem);
	*n = *v;
	n->start = at;
	n->pgoff = v->pgoff + ((at - v->start) >> MN_PAGE_SHIFT);
	mn_itree_remove(&mm->vmas, &v->node);
	v->end = at;
	vma_set_node(v);
	mn_itree_insert(&mm->vmas, &v->node);
	vma_set_node(n);
	mn_itree_insert(&mm->vmas, &n->node);
	mm->nr_vmas++;
	if (n->file) {
		file_get(n->file);
		file_link_vma(n, v, false);
		mn_write_unlock(mm->sim, &v->file->i_mmap_rwsem);
	}
	if (hi)
		*hi = n;
	return 0;
}

/* Split the VMAs straddling @start and @end so that [start, end) is made of whole VMAs. */
int vmas_split_edges(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct host_vma *v = vma_find(mm, start);
	int ret;

	if (v && v->start < start) {
		ret = vma_split(mm, v, start, NULL);
		if (ret)
			return ret;
	}
	v = end ? vma_find(mm, end - 1) : NULL;
	if (v && v->end > end)
		return vma_split(mm, v, end, NULL);
	return 0;
}

/* -EINVAL when [@start, @end) would cut a HugeTLB page (hugetlb_vm_op_split()). */
int hugetlb_cut(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct host_vma *v;

	for (v = vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end)) {
		uint64_t hs = MN_PAGE_SIZE << v->huge_order;

		if ((v->start < start && !mn_is_aligned(start, hs)) ||
		    (v->end > end && !mn_is_aligned(end, hs)))
			return -EINVAL;
	}
	return 0;
}

/* 0 when VMAs cover [@start, @end) without a hole, else -ENOMEM (the syscalls' answer). */
int range_fully_mapped(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct host_vma *v;
	mn_hva_t at = start;

	for (v = vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end)) {
		if (v->start > at)
			return -ENOMEM;
		at = v->end;
	}
	return at >= end ? 0 : -ENOMEM;
}

/* The permissions a present entry of @v may have at most (x86: any access implies read). */
unsigned int vma_pte_perm(const struct host_vma *v)
{
	unsigned int perm = 0;

	if (v->prot)
		perm |= MN_PTE_R | MN_PTE_U;
	if (v->prot & MN_PROT_WRITE)
		perm |= MN_PTE_W;
	if (v->prot & MN_PROT_EXEC)
		perm |= MN_PTE_X;
	return perm;
}

/* Whether faults in @v may allocate a THP (thp_vma_allowable_order() for anonymous VMAs). */
bool vma_thp_allowed(const struct mn_mm *mm, const struct host_vma *v)
{
	if (v->file || (v->flags & (MN_VM_SHARED | MN_VM_HUGETLB | MN_VM_NOHUGEPAGE)))
		return false;
	return mm->cfg.thp == MN_THP_ALWAYS ||
	       (mm->cfg.thp == MN_THP_MADVISE && (v->flags & MN_VM_HUGEPAGE));
}

void mn_mm_mmap_read_lock(struct mn_mm *mm)
{
	mn_read_lock(mm->sim, &mm->mmap_lock);
}

void mn_mm_mmap_read_unlock(struct mn_mm *mm)
{
	mn_read_unlock(mm->sim, &mm->mmap_lock);
}

int mn_mm_find_vma(struct mn_mm *mm, mn_hva_t addr, struct mn_vma_info *out)
{
	struct host_vma *v = vma_find(mm, addr);

	if (!v)
		return -ENOENT;
	*out = (struct mn_vma_info){ .start = v->start,
				     .end = v->end,
				     .prot = v->prot,
				     .flags = v->flags,
				     .file = v->file,
				     .pgoff = v->pgoff,
				     .huge_order = v->huge_order };
	return 0;
}

/* ---- mmap ----------------------------------------------------------------------------- */

#define MMAP_MIN_ADDR 0x10000ULL /* vm.mmap_min_addr */

/* Top-down search of the highest gap below the mmap base (vm_unmapped_area()). */
static int get_unmapped_area(struct mn_mm *mm, mn_hva_t hint, uint64_t len, uint64_t align,
			     mn_hva_t *out)
{
	mn_hva_t base = mm->cfg.mmap_base, prev = MMAP_MIN_ADDR, best = 0;
	struct mn_itree_node *n;
	bool found = false;

	if (hint && mn_is_aligned(hint, align) && hint >= MMAP_MIN_ADDR &&
	    hint <= HOST_TASK_SIZE - len && !vma_first_in(mm, hint, hint + len)) {
		*out = hint;
		return 0;
	}
	for (n = mn_itree_first(&mm->vmas);; n = mn_itree_next(n)) {
		mn_hva_t gs = prev, ge = n ? container_of(n, struct host_vma, node)->start : base;

		ge = MN_MIN(ge, base);
		if (ge > gs && ge - gs >= len) {
			mn_hva_t cand = mn_align_down(ge - len, align);

			if (cand >= gs && (!found || cand > best)) {
				best = cand;
				found = true;
			}
		}
		if (!n)
			break;
		prev = MN_MAX(prev, container_of(n, struct host_vma, node)->end);
	}
	if (!found)
		return -ENOMEM;
	*out = best;
	return 0;
}

static const struct host_op munmap_op = {
	.start_step = "munmap.invalidate_start",
	.clear_step = "munmap.clear_ptes",
	.flush_step = "munmap.tlb_flush",
	.free_step = "munmap.free_pages",
	.end_step = "munmap.invalidate_end",
};

/* do_vmi_munmap() with the mmap lock held for writing. */
static int do_munmap(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct host_vma *v, *next;
	int ret;

	v = vma_first_in(mm, start, end);
	if (!v)
		return 0;
	ret = hugetlb_cut(mm, start, end);
	if (ret)
		return ret;
	ret = split_huge_edges(mm, start, end);
	if (ret)
		return ret;
	ret = vmas_split_edges(mm, start, end);
	if (ret)
		return ret;
	host_trace(mm, "host.munmap", start, end);
	ret = unmap_notified(mm, start, end, MN_NOTIFY_UNMAP, true, &munmap_op, true);
	for (v = vma_first_in(mm, start, end); v; v = next) {
		next = vma_next_in(v, start, end);
		vma_remove(mm, v);
	}
	return ret;
}

int mn_mm_munmap(struct mn_mm *mm, mn_hva_t start, uint64_t len)
{
	mn_hva_t end;
	int ret;

	if ((start & ~MN_PAGE_MASK) || !len || len > HOST_TASK_SIZE)
		return -EINVAL;
	end = start + mn_align_up(len, MN_PAGE_SIZE);
	if (end > HOST_TASK_SIZE || end < start)
		return -EINVAL;
	mn_write_lock(mm->sim, &mm->mmap_lock);
	ret = do_munmap(mm, start, end);
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	mm_task_work_run(mm);
	return ret;
}

static unsigned int map_huge_order(unsigned int flags)
{
	switch (flags & (0x3fU << 26)) {
	case 0:
	case MN_MAP_HUGE_2MB:
		return MN_ORDER_2M;
	case MN_MAP_HUGE_1GB:
		return MN_ORDER_1G;
	default:
		return 0;
	}
}

/*
 * mm_populate(): fault every page in, as MAP_POPULATE and MAP_LOCKED do; private writable
 * mappings are written to break copy-on-write up front (populate_vma_page_range()).
 */
static void populate(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, bool write)
{
	mn_hva_t a;

	mn_read_lock(mm->sim, &mm->mmap_lock);
	for (a = start; a < end; a += MN_PAGE_SIZE) {
		struct mn_pt_walk w;
		int r = mn_pt_walk(mm->pt, hva_pn(a), &w);

		if (!r && (!write || (w.leaf.perm & MN_PTE_W))) {
			a = mn_align_down(a, level_bytes(w.leaf.level)) +
			    level_bytes(w.leaf.level) - MN_PAGE_SIZE;
			continue;
		}
		if (mn_mm_handle_fault(mm, a, write ? MN_FAULT_FLAG_WRITE : 0) & MN_VM_FAULT_ERROR)
			break;
	}
	mn_read_unlock(mm->sim, &mm->mmap_lock);
}

int mn_mm_mmap(struct mn_mm *mm, mn_hva_t addr, uint64_t len, unsigned int prot, unsigned int flags,
	       struct mn_file *file, uint64_t offset, mn_hva_t *out)
{
	unsigned int type = flags & (MN_MAP_SHARED | MN_MAP_PRIVATE), huge_order = 0;
	bool anon = flags & MN_MAP_ANONYMOUS;
	struct mn_file *shmem = NULL;
	struct host_vma *v;
	uint64_t psize = MN_PAGE_SIZE, align = MN_PAGE_SIZE;
	mn_hva_t start;
	int ret;

	if (!len || (type != MN_MAP_SHARED && type != MN_MAP_PRIVATE) || (prot & ~7U) ||
	    (offset & ~MN_PAGE_MASK))
		return -EINVAL;
	if (!anon && !file)
		return -EBADF;
	if (anon)
		file = NULL;
	if (file && file->order && !file->ops) {
		huge_order = file->order; /* a hugetlbfs file */
	} else if (flags & MN_MAP_HUGETLB) {
		if (!anon)
			return -EINVAL;
		huge_order = map_huge_order(flags);
		if (!huge_order)
			return -EINVAL;
	}
	if (huge_order) {
		psize = align = MN_PAGE_SIZE << huge_order;
		if (!mn_is_aligned(offset, psize))
			return -EINVAL;
	} else if (anon && type == MN_MAP_PRIVATE && mm->cfg.thp != MN_THP_NEVER &&
		   mn_is_aligned(len, MN_PAGE_SIZE << MN_ORDER_2M)) {
		align = MN_PAGE_SIZE << MN_ORDER_2M; /* thp_get_unmapped_area() */
	}
	if (len > HOST_TASK_SIZE)
		return -ENOMEM;
	len = mn_align_up(len, psize);
	if (flags & MN_MAP_FIXED) {
		if (!mn_is_aligned(addr, psize))
			return -EINVAL;
		if (addr > HOST_TASK_SIZE - len)
			return -ENOMEM;
		if (addr < MMAP_MIN_ADDR)
			return -EPERM; /* cap_mmap_addr() */
	}
	v = vma_new(mm);
	if (!v)
		return -ENOMEM;
	if (anon && type == MN_MAP_SHARED) {
		/* shmem_zero_setup(): a shared anonymous mapping is an unlinked shmem file. */
		ret = mn_file_create(mm->sim, "shmem", len, huge_order, &shmem);
		if (ret) {
			mn_free(mm->alloc, v);
			return ret;
		}
	}

	mn_write_lock(mm->sim, &mm->mmap_lock);
	/*
	 * call_mmap(): the file may refuse, before anything has changed (the kernel unmaps
	 * the old VMAs of a fixed range first but puts them back when the hook fails).
	 */
	ret = 0;
	if (file && file->ops && file->ops->mmap)
		ret = file->ops->mmap(file, type == MN_MAP_SHARED ? MN_VM_SHARED : 0, prot);
	if (!ret && (flags & MN_MAP_FIXED)) {
		start = addr;
		ret = do_munmap(mm, start, start + len);
	} else if (!ret) {
		ret = get_unmapped_area(mm, mn_align_down(addr, MN_PAGE_SIZE), len, align, &start);
	}
	if (ret) {
		mn_write_unlock(mm->sim, &mm->mmap_lock);
		mm_task_work_run(mm);
		mn_file_put(shmem);
		mn_free(mm->alloc, v);
		return ret;
	}
	v->start = start;
	v->end = start + len;
	v->prot = prot;
	v->huge_order = huge_order;
	v->flags = (type == MN_MAP_SHARED ? MN_VM_SHARED : 0) | (anon ? MN_VM_ANON : 0) |
		   (huge_order ? MN_VM_HUGETLB : 0) | (flags & MN_MAP_LOCKED ? MN_VM_LOCKED : 0);
	if (shmem) {
		v->file = shmem; /* the VMA takes the creation reference */
	} else if (file) {
		file_get(file);
		v->file = file;
		v->pgoff = offset >> MN_PAGE_SHIFT;
	}
	vma_insert(mm, v);
	host_trace(mm, "host.mmap", v->start, v->end);
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	mm_task_work_run(mm); /* a MAP_FIXED replacement may have dropped a file */
	if (flags & (MN_MAP_POPULATE | MN_MAP_LOCKED))
		populate(mm, start, start + len, (prot & MN_PROT_WRITE) && type == MN_MAP_PRIVATE);
	*out = start;
	return 0;
}
