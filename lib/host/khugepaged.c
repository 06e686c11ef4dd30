// SPDX-License-Identifier: MIT
/*
 * khugepaged.c - collapsing the small pages of a 2 MiB block into one THP as MADV_COLLAPSE
 * does, modelled on mm/khugepaged.c (hpage_collapse_scan_pmd(), collapse_huge_page(),
 * hugepage_vma_revalidate(), __collapse_huge_page_isolate(), __collapse_huge_page_copy()).
 */
#include "host/host-internal.h"

#define COLLAPSE_NR (1U << MN_ORDER_2M)

/* What the PTE table of the block holds. */
struct collapse {
	struct mn_mm *mm;
	mn_gfn_t base;
	struct mn_frame_ref page[COLLAPSE_NR]; /* pfn MN_INVALID_PFN where no entry is */
	mn_pfn_t head[COLLAPSE_NR];	       /* folio head; MN_INVALID_PFN: none or zero page */
	unsigned int nr_present;
	int err;
};

/*
 * The VMA MADV_COLLAPSE may collapse [@haddr, @haddr + 2 MiB) in: it covers the block and is
 * private anonymous. Unlike faults, MADV_COLLAPSE ignores the sysfs "enabled" setting (the
 * second test, which vma_thp_allowed() implies), but honours MADV_NOHUGEPAGE. File VMAs,
 * those of files with ops of their own (guest_memfd) included, never qualify: the collapse
 * fails with -EINVAL, the errno madvise_collapse() gives for SCAN_VMA_CHECK (file THPs and
 * collapse_file() are not modelled).
 */
static struct host_vma *collapse_vma(struct mn_mm *mm, mn_hva_t haddr)
{
	struct host_vma *v = vma_find(mm, haddr);

	if (!v || v->start > haddr || v->end < haddr + level_bytes(MN_PG_LEVEL_2M))
		return NULL;
	if (vma_thp_allowed(mm, v) ||
	    (vma_is_anon(v) && !(v->flags & (MN_VM_SHARED | MN_VM_HUGETLB | MN_VM_NOHUGEPAGE))))
		return v;
	return NULL;
}

static bool scan_one(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct collapse *c = arg;
	struct mn_frame_info fi;
	uint64_t i = gfn - c->base;

	if (c->err)
		return false;
	if (pte->level != MN_PG_LEVEL_4K) {
		c->err = -EEXIST; /* SCAN_PMD_MAPPED */
		return false;
	}
	if (pte->kind != MN_PTE_LEAF) {
		c->err = -EAGAIN; /* PROT_NONE or migration entry: try again later */
		return false;
	}
	c->page[i] = (struct mn_frame_ref){ pte->pfn, *gen };
	c->nr_present++;
	if (is_zero_pfn(c->mm, pte->pfn))
		return false; /* reads as zero */
	if (mn_phys_frame_info(c->mm->phys, pte->pfn, &fi) || fi.state == MN_FRAME_FREE ||
	    fi.owner != MN_OWNER_ANON) {
		c->err = -EINVAL;
		return false;
	}
	c->head[i] = fi.head;
	return false;
}

/*
 * hpage_collapse_scan_pmd() and the refcount checks of __collapse_huge_page_isolate(): each
 * folio the block maps must hold no reference but its mappings' (no GUP reference in
 * flight). A PTE-mapped THP inside the block passes, as it does in the kernel, and so do
 * pages fork() shared.
 */
static int collapse_scan(struct collapse *c, mn_hva_t haddr)
{
	struct mn_pt_result res;
	struct mn_frame_info fi;
	unsigned int i, j, n;

	for (i = 0; i < COLLAPSE_NR; i++) {
		c->page[i].pfn = MN_INVALID_PFN;
		c->head[i] = MN_INVALID_PFN;
	}
	c->nr_present = 0;
	c->err = 0;
	mn_pt_update(c->mm->pt, pn_range(haddr, haddr + level_bytes(MN_PG_LEVEL_2M)), scan_one, c,
		     &res);
	if (c->err)
		return c->err;
	if (!c->nr_present)
		return -ENOENT;
	for (i = 0; i < COLLAPSE_NR; i++) {
		if (c->head[i] == MN_INVALID_PFN)
			continue;
		for (j = 0; j < i && c->head[j] != c->head[i]; j++)
			;
		if (j < i)
			continue; /* this folio was checked already */
		for (n = 0, j = i; j < COLLAPSE_NR; j++)
			n += c->head[j] == c->head[i];
		/*
		 * Every reference must be a mapping's (SCAN_PAGE_COUNT, -EAGAIN): a GUP
		 * reference in flight stops the collapse. Pages fork() shared are fine for
		 * MADV_COLLAPSE (max_ptes_shared does not apply): the other mm keeps them.
		 */
		if (!mn_phys_ref_valid(c->mm->phys, c->page[i]) ||
		    mn_phys_frame_info(c->mm->phys, c->head[i], &fi) || fi.mapcount < (int32_t)n ||
		    fi.refcount != (uint32_t)fi.mapcount)
			return -EAGAIN;
	}
	return 0;
}

static bool clear_one(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct collapse *c = arg;

	(void)gfn;
	if (!is_zero_pfn(c->mm, pte->pfn))
		mn_phys_unmap(c->mm->phys, (struct mn_frame_ref){ pte->pfn, *gen },
			      "collapse.unmap");
	*pte = (struct mn_pte){ .kind = MN_PTE_NONE, .level = pte->level };
	return true;
}

/* __collapse_huge_page_copy(): the small pages into the new folio, then they go. */
static void collapse_copy(struct collapse *c, struct mn_frame_ref huge)
{
	struct mn_mm *mm = c->mm;
	unsigned int i;
	uint64_t val;

	for (i = 0; i < COLLAPSE_NR; i++) {
		if (c->head[i] == MN_INVALID_PFN)
			continue; /* none or the zero page: the new folio is zeroed */
		mn_phys_read(mm->phys, c->page[i], &val, "collapse.copy");
		mn_phys_write(mm->phys, mn_frame_ref_offset(huge, i), val, "collapse.copy");
	}
	for (i = 0; i < COLLAPSE_NR; i++)
		if (c->head[i] != MN_INVALID_PFN &&
		    mn_phys_put(mm->phys, c->page[i], "collapse.free") == 1)
			mm->st.frames_freed++;
}

/*
 * collapse_huge_page() of the MADV_COLLAPSE path: the scan and the allocation under the
 * mmap lock for reading, then the collapse under it for writing.
 */
int mn_mm_collapse_thp(struct mn_mm *mm, mn_hva_t addr)
{
	uint64_t size = level_bytes(MN_PG_LEVEL_2M);
	mn_hva_t haddr = mn_align_down(addr, size), hend = haddr + size;
	struct mn_notifier_range r;
	struct mn_pt_result res;
	struct mn_frame_ref huge;
	struct collapse *c;
	struct host_vma *v;
	struct mn_pte pte;
	int ret;

	if (addr >= HOST_TASK_SIZE)
		return -EINVAL;
	c = mn_zalloc(mm->alloc, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mm = mm;
	c->base = hva_pn(haddr);

	mn_read_lock(mm->sim, &mm->mmap_lock);
	ret = collapse_vma(mm, haddr) ? collapse_scan(c, haddr) : -EINVAL;
	if (!ret && mn_phys_alloc(mm->phys, MN_ORDER_2M, MN_OWNER_ANON, MN_PHYS_ZERO, &huge))
		ret = -ENOMEM;
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	if (ret)
		goto out_free;

	mn_write_lock(mm->sim, &mm->mmap_lock);
	/* hugepage_vma_revalidate(): anything may have happened without the lock. */
	v = collapse_vma(mm, haddr);
	ret = v ? collapse_scan(c, haddr) : -EINVAL;
	if (ret)
		goto out_put;
	host_trace(mm, "host.collapse", haddr, hend);
	r = notify_range(mm, MN_NOTIFY_CLEAR, haddr, hend, true);
	if (mn_step(mm->sim, "collapse.invalidate_start"))
		notify_start(mm, &r);
	mn_spin_lock(mm->sim, &mm->ptl);
	/*
	 * GUP-fast needs no lock and may have taken a page while start ran: the checks are
	 * repeated where it cannot run any more (the kernel checks after clearing the PMD).
	 */
	ret = collapse_scan(c, haddr);
	if (!ret) {
		mn_pt_update(mm->pt, pn_range(haddr, hend), clear_one, c, &res);
		/* pmdp_collapse_flush(): the PTE table goes with its entries. */
		mn_pt_zap(mm->pt, NULL, pn_range(haddr, hend), MN_PT_ZAP_FREE_TABLES, &res);
	}
	mn_spin_unlock(mm->sim, &mm->ptl);
	if (!ret)
		host_tlb_flush(mm, haddr, hend, "collapse.tlb_flush");
	if (mn_step(mm->sim, "collapse.invalidate_end"))
		notify_end(mm, &r);
	if (ret)
		goto out_put;

	collapse_copy(c, huge);
	pte = leaf_for_vma(v, huge.pfn, MN_PG_LEVEL_2M, v->prot & MN_PROT_WRITE);
	mn_spin_lock(mm->sim, &mm->ptl);
	ret = install_entry(mm, haddr, &pte, huge); /* the mapping takes the allocation's ref */
	mn_spin_unlock(mm->sim, &mm->ptl);
	if (ret)
		goto out_put;
	mm->st.thp_collapse++;
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	mn_free(mm->alloc, c);
	return 0;

out_put:
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	mn_phys_put(mm->phys, huge, "collapse.abort");
out_free:
	mn_free(mm->alloc, c);
	return ret;
}
