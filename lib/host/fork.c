// SPDX-License-Identifier: MIT
/*
 * fork.c - fork()'s copy of the address space (kernel/fork.c dup_mmap(), mm/memory.c
 * copy_page_range() / copy_present_pte(), mm/huge_memory.c copy_huge_pmd(), mm/hugetlb.c
 * copy_hugetlb_page_range()): private mappings become copy-on-write in parent and child,
 * write-protected in the parent inside an MMU_NOTIFY_PROTECTION_PAGE pair.
 */
#include "host/host-internal.h"

struct copy_arg {
	struct mn_mm *parent;
	struct mn_mm *child;
	int err;
};

static bool copy_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct copy_arg *c = arg;
	struct mn_pte child = *pte;
	struct mn_frame_ref ref = { pte->pfn, *gen };
	struct mn_pt_result res;
	bool changed = false;

	if (c->err)
		return false;
	if (pte->kind == MN_PTE_MIGRATION) {
		/*
		 * The kernel copies the migration entry and the migration's rmap walk finds
		 * both mms; mnsim's migration walks one mm, so fork refuses to race it.
		 */
		c->err = -EAGAIN;
		return false;
	}
	if (pte->kind == MN_PTE_LEAF && (pte->perm & MN_PTE_W)) {
		pte->perm &= ~MN_PTE_W; /* ptep_set_wrprotect() in the parent */
		changed = true;
	}
	child.perm &= ~MN_PTE_W;
	child.accessed = false; /* pte_mkold() */
	if (is_zero_pfn(c->parent, pte->pfn))
		ref = c->child->zero_page.pfn != MN_INVALID_PFN ? c->child->zero_page : ref;
	child.pfn = ref.pfn;
	c->err = mn_pt_map_frame(c->child->pt, NULL, gfn, &child, ref.gen, &res);
	if (!c->err && !is_zero_pfn(c->child, child.pfn)) {
		mn_phys_map(c->parent->phys, ref, "host.fork");
		mn_phys_get(c->parent->phys, ref, "host.fork");
		/* folio_try_dup_anon_rmap(): no longer exclusive to either. */
		anon_share(c->parent, ref.pfn);
		anon_share(c->child, ref.pfn);
	}
	return changed;
}

int mn_mm_fork(struct mn_mm *mm, struct mn_mm **out)
{
	struct mn_mm *child;
	struct host_vma *v;
	int ret;

	ret = mn_mm_create(mm->sim, &mm->cfg, &child);
	if (ret)
		return ret;
	/* copy_files() before copy_mm(), as copy_process() does. */
	ret = fds_dup(mm, child);
	if (ret) {
		mn_mm_destroy(child);
		return ret;
	}
	mn_write_lock(mm->sim, &mm->mmap_lock);
	host_trace(mm, "host.fork", 0, HOST_TASK_SIZE);
	for (v = vma_first_in(mm, 0, HOST_TASK_SIZE); v; v = vma_next_in(v, 0, HOST_TASK_SIZE)) {
		struct host_vma *n = vma_new(child);
		struct copy_arg c = { mm, child, 0 };
		struct mn_notifier_range r;
		struct mn_pt_result res;

		if (!n) {
			ret = -ENOMEM;
			break;
		}
		*n = *v;
		memset(&n->node, 0, sizeof(n->node));
		if (n->file)
			file_get(n->file);
		vma_insert(child, n); /* links it onto the file's i_mmap list */
		/* Shared mappings are not copied: the child faults them (vma_needs_copy()). */
		if (v->flags & MN_VM_SHARED)
			continue;
		/* copy_hugetlb_page_range() sends CLEAR where copy_page_range() PROTECTION_PAGE. */
		r = notify_range(
			mm, v->flags & MN_VM_HUGETLB ? MN_NOTIFY_CLEAR : MN_NOTIFY_PROTECTION_PAGE,
			v->start, v->end, true);
		if (mn_step(mm->sim, "fork.invalidate_start"))
			notify_start(mm, &r);
		mn_spin_lock(mm->sim, &mm->ptl);
		mn_pt_update(mm->pt, pn_range(v->start, v->end), copy_entry, &c, &res);
		mn_spin_unlock(mm->sim, &mm->ptl);
		if (mn_step(mm->sim, "fork.invalidate_end"))
			notify_end(mm, &r);
		if (c.err) {
			ret = c.err;
			break;
		}
	}
	/* dup_mmap() ends with flush_tlb_mm(oldmm). */
	host_tlb_flush(mm, 0, HOST_TASK_SIZE, "fork.tlb_flush");
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	if (ret) {
		mn_mm_destroy(child);
		return ret;
	}
	*out = child;
	return 0;
}
