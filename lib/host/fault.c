// SPDX-License-Identifier: MIT
/*
 * fault.c - host page faults, modelled on mm/memory.c (handle_mm_fault(),
 * do_anonymous_page(), do_read_fault(), do_cow_fault(), do_shared_fault(), do_wp_page(),
 * wp_page_copy(), do_numa_page()), mm/huge_memory.c (do_huge_pmd_anonymous_page(),
 * do_huge_pmd_wp_page()) and mm/hugetlb.c (hugetlb_fault(), hugetlb_wp()), and the VMM's
 * own accesses through the host TLB.
 */
#include "host/host-internal.h"

/* What a new entry of @v mapping @pfn at @level looks like (mk_pte() + maybe_mkwrite()). */
struct mn_pte leaf_for_vma(const struct host_vma *v, mn_pfn_t pfn, unsigned int level, bool write)
{
	struct mn_pte p = { .kind = MN_PTE_LEAF, .level = level, .pfn = pfn, .accessed = true };

	p.perm = vma_pte_perm(v) & ~MN_PTE_W;
	/* Shared mappings are writable from the start (no write-notify modelled). */
	if ((v->prot & MN_PROT_WRITE) && (write || (v->flags & MN_VM_SHARED)))
		p.perm |= MN_PTE_W;
	p.dirty = write;
	return p;
}

/* Install @pte (a leaf) at @addr for the folio @ref points into; ptl held, slot empty. */
int install_entry(struct mn_mm *mm, mn_hva_t addr, const struct mn_pte *pte,
		  struct mn_frame_ref ref)
{
	struct mn_pt_result res;
	int ret;

	ret = mn_pt_map_frame(mm->pt, NULL, hva_pn(mn_align_down(addr, level_bytes(pte->level))),
			      pte, ref.gen, &res);
	if (ret)
		return ret;
	if (!is_zero_pfn(mm, pte->pfn))
		mn_phys_map(mm->phys, ref, "host.map");
	return 0;
}

/* Two decoded entries are the same entry (pte_same() on the raw value). */
static bool pte_same(const struct mn_pte *a, uint64_t agen, const struct mn_pte *b, uint64_t bgen)
{
	return a->kind == b->kind && a->pfn == b->pfn && a->perm == b->perm &&
	       a->level == b->level && a->accessed == b->accessed && a->dirty == b->dirty &&
	       agen == bgen;
}

struct set_arg {
	const struct mn_pt_walk *seen; /* replace only this exact entry */
	struct mn_pte pte;
	uint64_t gen;
	bool young_only; /* OR A (and D) into whatever entry maps @seen's pfn */
	bool write;
	bool done;
};

static bool set_one(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct set_arg *s = arg;

	(void)gfn;
	if (s->young_only) {
		/* The hardware sets A, and D only through a writable translation, atomically. */
		if (pte->kind != MN_PTE_LEAF || pte->pfn != s->seen->leaf.pfn ||
		    *gen != s->seen->gen)
			return false;
		if (pte->accessed && (!s->write || pte->dirty || !(pte->perm & MN_PTE_W)))
			return false;
		pte->accessed = true;
		pte->dirty |= s->write && (pte->perm & MN_PTE_W);
		s->done = true;
		return true;
	}
	if (!pte_same(pte, *gen, &s->seen->leaf, s->seen->gen))
		return false;
	*pte = s->pte;
	if (s->gen)
		*gen = s->gen;
	s->done = true;
	return true;
}

/*
 * Rewrite the entry covering @addr with @pte if it still is exactly what the fault saw
 * (pte_same() under the page-table lock); false when it changed meanwhile.
 */
static bool replace_entry(struct mn_mm *mm, mn_hva_t addr, const struct mn_pt_walk *seen,
			  const struct mn_pte *pte, uint64_t gen)
{
	struct set_arg s = { .seen = seen, .pte = *pte, .gen = gen };
	struct mn_pt_result res;

	return !mn_pt_update(mm->pt, pn_range(addr, addr + MN_PAGE_SIZE), set_one, &s, &res) &&
	       s.done;
}

/* Whether the entry at @addr is still the one @seen found (pte_same()). */
static bool entry_same(struct mn_mm *mm, mn_hva_t addr, const struct mn_pt_walk *seen)
{
	struct mn_pt_walk w;

	if (host_walk(mm, addr, &w))
		return seen->leaf.kind == MN_PTE_NONE; /* still empty (a THP install may still
							  find a table there and fail) */
	return pte_same(&w.leaf, w.gen, &seen->leaf, seen->gen);
}

/* Copy the data words of @nr frames from @src to @dst (copy_user_highpage()). */
void copy_frames(struct mn_mm *mm, struct mn_frame_ref src, struct mn_frame_ref dst, uint64_t nr,
		 const char *what)
{
	uint64_t i, val;

	for (i = 0; i < nr; i++) {
		mn_phys_read(mm->phys, mn_frame_ref_offset(src, i), &val, what);
		mn_phys_write(mm->phys, mn_frame_ref_offset(dst, i), val, what);
	}
}

/* ---- not present ------------------------------------------------------------------------ */

/*
 * Map a newly allocated folio, or with @f the page-cache page of @f at @pgoff, at @addr
 * unless someone beat us to it, or truncation took the page out of the cache since the
 * fault found it (the kernel's fault holds the folio lock, which truncation waits for,
 * and checks folio->mapping).
 */
static unsigned int map_page(struct mn_mm *mm, mn_hva_t addr, const struct mn_pt_walk *seen,
			     const struct mn_pte *pte, struct mn_frame_ref ref, struct mn_file *f,
			     uint64_t pgoff)
{
	unsigned int ret = 0;

	mn_spin_lock(mm->sim, &mm->ptl);
	if ((f && !file_page_cached(f, pgoff, ref)) || !entry_same(mm, addr, seen) ||
	    install_entry(mm, addr, pte, ref)) {
		/* Lost the race (the entry is no longer none): release ours, fault again. */
		if (!is_zero_pfn(mm, pte->pfn))
			mn_phys_put(mm->phys, ref, "host.fault_race");
		ret = MN_VM_FAULT_RETRY;
	}
	mn_spin_unlock(mm->sim, &mm->ptl);
	return ret;
}

static unsigned int map_new(struct mn_mm *mm, mn_hva_t addr, const struct mn_pt_walk *seen,
			    const struct mn_pte *pte, struct mn_frame_ref ref)
{
	return map_page(mm, addr, seen, pte, ref, NULL, 0);
}

static unsigned int do_anonymous_page(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
				      const struct mn_pt_walk *seen, bool write)
{
	struct mn_frame_ref ref;
	struct mn_pte pte;

	if (!write && mm->zero_page.pfn != MN_INVALID_PFN) {
		/* Reads of untouched memory map the shared zero page read-only. */
		pte = leaf_for_vma(v, mm->zero_page.pfn, MN_PG_LEVEL_4K, false);
		pte.perm &= ~MN_PTE_W;
		return map_new(mm, addr, seen, &pte, mm->zero_page);
	}
	if (mn_phys_alloc(mm->phys, 0, MN_OWNER_ANON, MN_PHYS_ZERO, &ref))
		return MN_VM_FAULT_OOM;
	mn_yield(mm->sim, "fault.alloc");
	pte = leaf_for_vma(v, ref.pfn, MN_PG_LEVEL_4K, write);
	return map_new(mm, addr, seen, &pte, ref);
}

/* do_huge_pmd_anonymous_page(); false to fall back to a 4 KiB page. */
static bool do_huge_pmd_anonymous_page(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
				       const struct mn_pt_walk *seen, unsigned int *ret)
{
	mn_hva_t haddr = mn_align_down(addr, level_bytes(MN_PG_LEVEL_2M));
	struct mn_frame_ref ref;
	struct mn_pte pte;

	if (haddr < v->start || haddr + level_bytes(MN_PG_LEVEL_2M) > v->end)
		return false;
	if (seen->depth >= 4) /* a PTE table is already there (pmd_none() is false) */
		return false;
	if (mn_phys_alloc(mm->phys, MN_ORDER_2M, MN_OWNER_ANON, MN_PHYS_ZERO, &ref))
		return false;
	mn_yield(mm->sim, "fault.alloc");
	/* No huge zero page modelled: the THP is mapped writable and dirty at once. */
	pte = leaf_for_vma(v, ref.pfn, MN_PG_LEVEL_2M, v->prot & MN_PROT_WRITE);
	*ret = map_new(mm, haddr, seen, &pte, ref);
	return true;
}

static unsigned int do_file_fault(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
				  const struct mn_pt_walk *seen, bool write)
{
	uint64_t pgoff = v->pgoff + ((addr - v->start) >> MN_PAGE_SHIFT);
	struct mn_file *f = v->file;
	struct mn_frame_ref page, ref;
	unsigned int order, vf;
	struct mn_pte pte;
	int err;

	if (f->ops && f->ops->fault) {
		/* __do_fault() -> vma->vm_ops->fault(): the file answers in VM_FAULT_* terms. */
		vf = f->ops->fault(f, pgoff, write, &page, &order);
		if (vf)
			return vf;
	} else {
		err = file_fault(f, pgoff, &page, &order);
		if (err)
			return err == -ENOMEM ? MN_VM_FAULT_OOM : MN_VM_FAULT_SIGBUS;
	}
	if (write && !(v->flags & MN_VM_SHARED)) {
		/* do_cow_fault(): a private copy of the page-cache page. */
		if (mn_phys_alloc(mm->phys, 0, MN_OWNER_ANON, 0, &ref)) {
			mn_phys_put(mm->phys, page, "host.cow");
			return MN_VM_FAULT_OOM;
		}
		copy_frames(mm, page, ref, 1, "host.copy");
		mn_phys_put(mm->phys, page, "host.cow");
		mm->st.cow++;
		mn_yield(mm->sim, "fault.alloc");
		pte = leaf_for_vma(v, ref.pfn, MN_PG_LEVEL_4K, true);
		return map_new(mm, addr, seen, &pte, ref);
	}
	/* Always a PTE: no file folio is mapped by a PMD here (do_set_pmd() not modelled). */
	pte = leaf_for_vma(v, page.pfn, MN_PG_LEVEL_4K, write);
	if (!(v->flags & MN_VM_SHARED))
		pte.perm &= ~MN_PTE_W;
	return map_page(mm, addr, seen, &pte, page, f, pgoff);
}

/* ---- present ------------------------------------------------------------------------------ */

/*
 * wp_page_copy(): replace the entry at @addr (level @level) by a private copy, inside an
 * MMU_NOTIFY_CLEAR pair; the old folio's reference goes after end, as the kernel puts it.
 */
static unsigned int wp_page_copy(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
				 const struct mn_pt_walk *seen)
{
	unsigned int level = seen->leaf.level;
	uint64_t size = level_bytes(level);
	mn_hva_t haddr = mn_align_down(addr, size);
	struct mn_frame_ref old = { seen->leaf.pfn, seen->gen }, ref;
	struct mn_notifier_range r;
	struct gather g = { 0 };
	struct mn_pte pte;
	unsigned int ret = 0;

	bool zero = is_zero_pfn(mm, old.pfn);

	/* do_wp_page() holds the old folio while it copies and waits for the notifiers. */
	if (!zero && mn_phys_get(mm->phys, old, "host.cow"))
		return MN_VM_FAULT_RETRY;
	if (mn_phys_alloc(mm->phys, level == 1 ? 0 : (level - 1) * MN_LEVEL_BITS, MN_OWNER_ANON,
			  zero ? MN_PHYS_ZERO : 0, &ref)) {
		if (!zero)
			mn_phys_put(mm->phys, old, "host.cow");
		return MN_VM_FAULT_OOM;
	}
	if (!zero)
		copy_frames(mm, old, ref, size >> MN_PAGE_SHIFT, "host.copy");
	mn_yield(mm->sim, "fault.alloc");
	r = notify_range(mm, MN_NOTIFY_CLEAR, haddr, haddr + size, true);
	if (mn_step(mm->sim, "cow.invalidate_start"))
		notify_start(mm, &r);
	mn_spin_lock(mm->sim, &mm->ptl);
	pte = leaf_for_vma(v, ref.pfn, level, true);
	if (replace_entry(mm, haddr, seen, &pte, ref.gen)) {
		mn_phys_map(mm->phys, ref, "host.cow");
		entry_unmapped(mm, &seen->leaf, seen->gen, &g);
		mm->st.cow++;
	} else {
		mn_phys_put(mm->phys, ref, "host.cow_race");
		ret = MN_VM_FAULT_RETRY;
	}
	mn_spin_unlock(mm->sim, &mm->ptl);
	/* ptep_clear_flush() */
	host_tlb_flush(mm, haddr, haddr + size, "cow.tlb_flush");
	if (mn_step(mm->sim, "cow.invalidate_end"))
		notify_end(mm, &r);
	gather_free(mm, &g, NULL);
	if (!zero)
		mn_phys_put(mm->phys, old, "host.cow");
	return ret;
}

/* Make the entry at @addr writable (and dirty) in place: reuse, or a shared mapping. */
static unsigned int wp_reuse(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
			     const struct mn_pt_walk *seen)
{
	struct mn_pte pte = seen->leaf;
	unsigned int ret = 0;

	pte.perm |= MN_PTE_W & vma_pte_perm(v);
	pte.dirty = pte.accessed = true;
	mn_spin_lock(mm->sim, &mm->ptl);
	if (!replace_entry(mm, mn_align_down(addr, level_bytes(pte.level)), seen, &pte, 0))
		ret = MN_VM_FAULT_RETRY;
	mn_spin_unlock(mm->sim, &mm->ptl);
	return ret;
}

/*
 * wp_can_reuse_anon_folio(): a small anonymous folio fork() shared is reused when nobody
 * else holds it any more (the other mm copied or unmapped it; no GUP reference in flight).
 */
static bool can_reuse_shared_anon(struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	return !is_zero_pfn(mm, pfn) && !mn_phys_frame_info(mm->phys, pfn, &fi) &&
	       fi.owner == MN_OWNER_ANON && fi.order == 0 && fi.refcount == 1;
}

/* do_wp_page() and its huge forms: a write to a present entry without W. */
static unsigned int do_wp_page(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
			       const struct mn_pt_walk *seen)
{
	if (v->flags & MN_VM_SHARED)
		return wp_reuse(mm, v, addr, seen); /* wp_page_shared() */
	if (anon_exclusive(mm, seen->leaf.pfn))
		return wp_reuse(mm, v, addr, seen); /* wp_page_reuse() */
	if (can_reuse_shared_anon(mm, seen->leaf.pfn)) {
		anon_unshare(mm, seen->leaf.pfn);
		return wp_reuse(mm, v, addr, seen);
	}
	if (seen->leaf.level == MN_PG_LEVEL_2M && !(v->flags & MN_VM_HUGETLB)) {
		/* do_huge_pmd_wp_page(): a shared THP is split, then the PTE is copied. */
		int err = split_huge_pmd(mm, addr);

		return err == -ENOMEM ? MN_VM_FAULT_OOM : MN_VM_FAULT_RETRY;
	}
	return wp_page_copy(mm, v, addr, seen);
}

/* do_numa_page(): a NUMA-hinting entry gets its VMA's protection back (no notifier). */
static unsigned int do_numa_page(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
				 const struct mn_pt_walk *seen)
{
	struct mn_pte pte = leaf_for_vma(v, seen->leaf.pfn, seen->leaf.level, false);
	unsigned int ret = 0;

	pte.dirty = seen->leaf.dirty;
	if (!(v->flags & MN_VM_SHARED) &&
	    !((v->prot & MN_PROT_WRITE) && pte.dirty && anon_exclusive(mm, pte.pfn)))
		pte.perm &= ~MN_PTE_W;
	mn_spin_lock(mm->sim, &mm->ptl);
	if (!replace_entry(mm, mn_align_down(addr, level_bytes(pte.level)), seen, &pte, 0))
		ret = MN_VM_FAULT_RETRY;
	mn_spin_unlock(mm->sim, &mm->ptl);
	return ret;
}

struct migration_wait {
	struct mn_mm *mm;
	mn_hva_t addr;
};

static bool migration_done(void *arg)
{
	struct migration_wait *mw = arg;
	struct mn_pt_walk w;

	return host_walk(mw->mm, mw->addr, &w) || w.leaf.kind != MN_PTE_MIGRATION;
}

/* Accessed (and dirty) bits, as the hardware or a spurious fault sets them. */
static void mark_young(struct mn_mm *mm, mn_hva_t addr, const struct mn_pt_walk *seen, bool write)
{
	struct set_arg s = { .seen = seen, .young_only = true, .write = write };
	struct mn_pt_result res;

	if (seen->leaf.accessed && (!write || seen->leaf.dirty))
		return;
	mn_spin_lock(mm->sim, &mm->ptl);
	mn_pt_update(mm->pt, pn_range(addr, addr + MN_PAGE_SIZE), set_one, &s, &res);
	mn_spin_unlock(mm->sim, &mm->ptl);
}

/* ---- HugeTLB ------------------------------------------------------------------------------ */

static unsigned int hugetlb_fault(struct mn_mm *mm, struct host_vma *v, mn_hva_t addr,
				  const struct mn_pt_walk *seen, bool present, bool write)
{
	unsigned int level = mn_order_to_level(v->huge_order);
	mn_hva_t haddr = mn_align_down(addr, level_bytes(level));
	uint64_t pgoff = v->pgoff + ((haddr - v->start) >> MN_PAGE_SHIFT);
	struct mn_frame_ref ref, page = { MN_INVALID_PFN, 0 };
	struct mn_pte pte;
	unsigned int order;
	int err;

	if (present) {
		if (write && !(seen->leaf.perm & MN_PTE_W))
			return do_wp_page(mm, v, addr, seen); /* hugetlb_wp() */
		mark_young(mm, addr, seen, write);
		return 0;
	}
	if (v->file) {
		err = file_fault(v->file, pgoff, &page, &order);
		if (err)
			return err == -ENOMEM ? MN_VM_FAULT_OOM : MN_VM_FAULT_SIGBUS;
		if (write && !(v->flags & MN_VM_SHARED)) {
			if (mn_phys_alloc(mm->phys, v->huge_order, MN_OWNER_ANON, 0, &ref)) {
				mn_phys_put(mm->phys, page, "host.cow");
				return MN_VM_FAULT_OOM;
			}
			copy_frames(mm, page, ref, 1ULL << v->huge_order, "host.copy");
			mn_phys_put(mm->phys, page, "host.cow");
			mm->st.cow++;
		} else {
			ref = page;
		}
	} else if (mn_phys_alloc(mm->phys, v->huge_order, MN_OWNER_ANON, MN_PHYS_ZERO, &ref)) {
		return MN_VM_FAULT_OOM;
	}
	mn_yield(mm->sim, "fault.alloc");
	pte = leaf_for_vma(v, ref.pfn, level, write);
	if (v->file && !(v->flags & MN_VM_SHARED) && ref.pfn == page.pfn)
		pte.perm &= ~MN_PTE_W;
	/* The page-cache page itself must still be cached (hugetlb_no_page()'s folio lock). */
	return map_page(mm, haddr, seen, &pte, ref, ref.pfn == page.pfn ? v->file : NULL, pgoff);
}

/* ---- the fault ------------------------------------------------------------------------------ */

unsigned int mn_mm_handle_fault(struct mn_mm *mm, mn_hva_t addr, unsigned int flags)
{
	bool write = flags & MN_FAULT_FLAG_WRITE, exec = flags & MN_FAULT_FLAG_EXEC;
	struct host_vma *v = vma_find(mm, addr);
	struct mn_pt_walk w;
	bool present;
	unsigned int ret;

	mm->st.faults++;
	if (!v || (write && !(v->prot & MN_PROT_WRITE)) || (exec && !(v->prot & MN_PROT_EXEC)) ||
	    !v->prot)
		return MN_VM_FAULT_SIGSEGV; /* bad_area_access_error() */
	mn_trace(mm->trace, "host.fault", MN_KV_X("addr", addr), MN_KV_U("write", write));
	present = !host_walk(mm, addr, &w);
	if (present && w.leaf.kind == MN_PTE_MIGRATION) {
		struct migration_wait mw = { mm, addr };

		mn_wait_event(mm->sim, &mm->migration_wq, migration_done, &mw);
		return MN_VM_FAULT_RETRY;
	}
	if (v->flags & MN_VM_HUGETLB)
		return hugetlb_fault(mm, v, addr, &w, present, write);
	if (present && w.leaf.kind == MN_PTE_PROTNONE)
		return do_numa_page(mm, v, addr, &w);
	if (present) {
		if (write && !(w.leaf.perm & MN_PTE_W))
			return do_wp_page(mm, v, addr, &w);
		mark_young(mm, addr, &w, write); /* spurious: someone else mapped it */
		return 0;
	}
	if (mm->unstable)
		return MN_VM_FAULT_SIGBUS; /* check_stable_address_space() */
	if (vma_thp_allowed(mm, v) && do_huge_pmd_anonymous_page(mm, v, addr, &w, &ret))
		return ret;
	if (!v->file)
		return do_anonymous_page(mm, v, addr, &w, write);
	return do_file_fault(mm, v, addr, &w, write);
}

/* ---- the VMM's own accesses --------------------------------------------------------------- */

#define ACCESS_MAX_RETRIES 16

int mn_mm_access(struct mn_mm *mm, mn_hva_t addr, unsigned int perm, uint64_t *val,
		 unsigned int *vm_fault)
{
	unsigned int fault, flags, tries;
	struct mn_frame_info fi;
	struct mn_pt_walk w;
	mn_pfn_t pfn;
	int r;

	if (perm != MN_PTE_R && perm != MN_PTE_W && perm != MN_PTE_X)
		return -EINVAL;
	flags = (perm == MN_PTE_W ? MN_FAULT_FLAG_WRITE : 0) |
		(perm == MN_PTE_X ? MN_FAULT_FLAG_EXEC : 0);
	for (tries = 0; tries < ACCESS_MAX_RETRIES; tries++) {
		mn_yield_access(mm->sim, "host.access", mm->pt, MN_ACCESS_READ);
		r = mn_tlb_access(mm->tlb, mm->pt, mm->phys, hva_pn(addr), perm, "host.access",
				  &pfn);
		if (r == -ESTALE)
			return r;
		if (r == 0) {
			struct mn_frame_ref ref = { pfn, 0 };
			int ret = 0;

			/*
			 * The load or store happens with the translation, in the same step (no
			 * yield in between), as the hardware does it; A/D are set after.
			 */
			if (!mn_phys_frame_info(mm->phys, pfn, &fi))
				ref.gen = fi.gen;
			if (val && perm == MN_PTE_W)
				ret = mn_phys_write(mm->phys, ref, *val, "host.write");
			else if (val)
				ret = mn_phys_read(mm->phys, ref, val, "host.read");
			if (!host_walk(mm, addr, &w) && w.leaf.kind == MN_PTE_LEAF && w.pfn == pfn)
				mark_young(mm, addr, &w, perm == MN_PTE_W);
			return ret;
		}
		if (r == -EAGAIN)
			continue;
		mn_read_lock(mm->sim, &mm->mmap_lock);
		fault = mn_mm_handle_fault(mm, addr, flags);
		mn_read_unlock(mm->sim, &mm->mmap_lock);
		if (fault & MN_VM_FAULT_ERROR) {
			if (vm_fault)
				*vm_fault = fault;
			return fault & MN_VM_FAULT_OOM ? -ENOMEM : -EFAULT;
		}
	}
	if (vm_fault)
		*vm_fault = MN_VM_FAULT_RETRY;
	return -EFAULT;
}
