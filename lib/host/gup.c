// SPDX-License-Identifier: MIT
/*
 * gup.c - get_user_pages as KVM uses it (mm/gup.c: the lockless gup_fast walk, the slow
 * path alternating follow_page_pte() and handle_mm_fault() under the mmap lock), put_page,
 * and the lockless host mapping-level peek of arch/x86/kvm/mmu/mmu.c
 * (host_pfn_mapping_level()).
 */
#include "host/host-internal.h"

struct host_pin {
	RB_ENTRY(host_pin) rb;
	mn_pfn_t head;
	uint64_t count;
};

static int pin_cmp(const struct host_pin *a, const struct host_pin *b)
{
	return a->head < b->head ? -1 : a->head > b->head;
}

RB_GENERATE_STATIC(host_pins, host_pin, rb, pin_cmp)

void pins_destroy(struct mn_mm *mm)
{
	struct host_pin *p, *n;

	RB_FOREACH_SAFE(p, host_pins, &mm->pins, n) {
		RB_REMOVE(host_pins, &mm->pins, p);
		mn_free(mm->alloc, p);
	}
}

static mn_pfn_t folio_head(struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	return mn_phys_frame_info(mm->phys, pfn, &fi) ? pfn : fi.head;
}

/* GUP references handed out and not yet put, per folio (for mn_mm_check_invariants()). */
void pin_add(struct mn_mm *mm, mn_pfn_t head, int64_t delta)
{
	struct host_pin key = { .head = head }, *p = RB_FIND(host_pins, &mm->pins, &key);

	if (!p) {
		if (delta <= 0)
			return;
		p = mn_zalloc(mm->alloc, sizeof(*p));
		if (!p)
			return; /* bookkeeping only: the invariant check then overcounts */
		p->head = head;
		RB_INSERT(host_pins, &mm->pins, p);
	}
	p->count += (uint64_t)delta;
	if (!p->count) {
		RB_REMOVE(host_pins, &mm->pins, p);
		mn_free(mm->alloc, p);
	}
}

uint64_t pin_count(const struct mn_mm *mm, mn_pfn_t head)
{
	struct host_pin key = { .head = head }, *p;

	p = RB_FIND(host_pins, (struct host_pins *)&mm->pins, &key);
	return p ? p->count : 0;
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
	ref = (struct mn_frame_ref){ w.pfn, w.gen };
	if (is_zero_pfn(mm, w.pfn))
		ref.gen = mm->zero_page.gen;
	if (mn_phys_get(mm->phys, ref, fast ? "gup_fast" : "gup"))
		return -EFAULT;
	pin_add(mm, folio_head(mm, ref.pfn), 1);
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
	mn_pfn_t head = folio_head(mm, page->ref.pfn);
	int ret = mn_phys_put(mm->phys, page->ref, "put_page");

	if (ret >= 0)
		pin_add(mm, head, -1);
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
