// SPDX-License-Identifier: MIT
/*
 * gup.c - get_user_pages as KVM uses it (mm/gup.c: the lockless gup_fast walk, the slow
 * path alternating follow_page_pte() and handle_mm_fault() under the mmap lock), put_page,
 * and the lockless host mapping-level peek of arch/x86/kvm/mmu/mmu.c
 * (host_pfn_mapping_level()).
 */
#include "host/host-internal.h"

/*
 * gup_fast_folio_allowed(): the lockless walk cannot tell whether a file folio may be
 * pinned, so it refuses those of a file that forbids it (no direct map, like secretmem or
 * guest_memfd); the slow path, which has the VMA, takes them. Private copies are anonymous.
 */
static bool fast_allowed(struct mn_mm *mm, mn_hva_t addr, mn_pfn_t pfn)
{
	struct host_vma *v = vma_find(mm, addr);
	struct mn_frame_info fi;

	if (!v || !v->file || !v->file->ops || !v->file->ops->no_gup_fast)
		return true;
	return !mn_phys_frame_info(mm->phys, pfn, &fi) && fi.owner == MN_OWNER_ANON;
}

/* follow_page_pte(): take the page if the entry already allows the access. */
static int follow_page(struct mn_mm *mm, mn_hva_t addr, unsigned int gup_flags, bool fast,
		       struct mn_gup_page *out)
{
	struct mn_pt_walk w;
	struct mn_frame_ref ref;

	if (mn_pt_walk(mm->pt, hva_pn(addr), &w))
		return -EFAULT; /* none, PROT_NONE, migration: fault first */
	if ((gup_flags & MN_FOLL_WRITE) && !(w.leaf.perm & MN_PTE_W))
		return -EFAULT;
	if (fast && is_zero_pfn(mm, w.pfn))
		return -EFAULT; /* gup_fast refuses special entries */
	if (fast && !fast_allowed(mm, addr, w.pfn))
		return -EFAULT;
	ref = (struct mn_frame_ref){ w.pfn, w.gen };
	if (is_zero_pfn(mm, w.pfn))
		ref.gen = mm->zero_page.gen;
	if (mn_phys_get(mm->phys, ref, fast ? "gup_fast" : "gup"))
		return -EFAULT;
	pfnset_add(mm, &mm->pins, folio_of(mm, ref.pfn), 1);
	out->ref = ref;
	out->writable = w.leaf.perm & MN_PTE_W;
	out->level = w.leaf.level;
	return 0;
}

int mn_mm_gup_fast(struct mn_mm *mm, mn_hva_t addr, unsigned int gup_flags, struct mn_gup_page *out)
{
	int ret;

	if (gup_flags & ~MN_FOLL_WRITE)
		return -EINVAL;
	/* Interrupts off: nothing runs between the read of the entry and the grab. */
	mn_yield_access(mm->sim, "gup_fast", mm->pt, MN_ACCESS_READ);
	ret = follow_page(mm, addr, gup_flags, true, out);
	if (!ret)
		mm->st.gup_fast++;
	return ret;
}

#define GUP_MAX_RETRIES 16

int mn_mm_gup(struct mn_mm *mm, mn_hva_t addr, unsigned int gup_flags, struct mn_gup_page *out)
{
	unsigned int fault, tries;
	struct host_vma *v;
	int ret;

	if (gup_flags & ~MN_FOLL_WRITE)
		return -EINVAL;
	if (!mn_mm_gup_fast(mm, addr, gup_flags, out))
		return 0;
	mn_read_lock(mm->sim, &mm->mmap_lock);
	for (tries = 0;; tries++) {
		v = vma_find(mm, addr);
		/* check_vma_flags() */
		if (!v || !v->prot || ((gup_flags & MN_FOLL_WRITE) && !(v->prot & MN_PROT_WRITE))) {
			ret = -EFAULT;
			break;
		}
		mn_yield_access(mm->sim, "gup.follow_page", mm->pt, MN_ACCESS_READ);
		ret = follow_page(mm, addr, gup_flags, false, out);
		if (!ret) {
			mm->st.gup_slow++;
			break;
		}
		if (tries == GUP_MAX_RETRIES) {
			ret = -EFAULT;
			break;
		}
		fault = mn_mm_handle_fault(
			mm, addr,
			MN_FAULT_FLAG_REMOTE |
				(gup_flags & MN_FOLL_WRITE ? MN_FAULT_FLAG_WRITE : 0));
		if (fault & MN_VM_FAULT_ERROR) {
			ret = fault & MN_VM_FAULT_OOM ? -ENOMEM : -EFAULT; /* vm_fault_to_errno() */
			break;
		}
	}
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}

int mn_mm_put_page(struct mn_mm *mm, const struct mn_gup_page *page)
{
	struct mn_frame_ref folio = folio_of(mm, page->ref.pfn);
	int ret = mn_phys_put(mm->phys, page->ref, "put_page");

	if (ret >= 0)
		pfnset_add(mm, &mm->pins, folio, -1);
	if (ret == 1)
		mm->st.frames_freed++;
	return ret;
}

int mn_mm_host_mapping_level(struct mn_mm *mm, mn_hva_t addr)
{
	struct mn_pt_walk w;

	int r;

	/*
	 * READ_ONCE of each level: a leaf above the PTE level is a huge mapping; a PROT_NONE
	 * one counts (pmd_present() is true for it), nothing or a migration entry is 4K.
	 */
	mn_yield_access(mm->sim, "host_pfn_mapping_level", mm->pt, MN_ACCESS_READ);
	r = mn_pt_walk(mm->pt, hva_pn(addr), &w);
	if (r && !(r == -ENOENT && w.leaf.kind == MN_PTE_PROTNONE))
		return MN_PG_LEVEL_4K;
	return (int)w.leaf.level;
}
