// SPDX-License-Identifier: MIT
/*
 * mprotect.c - operations that change the protection of present entries, modelled on
 * mm/mprotect.c (mprotect_fixup(), change_protection(), change_pmd_range(),
 * can_change_pte_writable()), the NUMA-hinting scan of kernel/sched/fair.c
 * (task_numa_work() -> change_prot_numa()) and soft-dirty clearing of fs/proc/task_mmu.c
 * (clear_refs_write()).
 */
#include "host/host-internal.h"

enum prot_mode {
	PROT_SET,	/* mprotect: the VMA's new protection */
	PROT_NUMA,	/* NUMA hinting: PROT_NONE entries, protection kept in the VMA */
	PROT_WRPROTECT, /* soft-dirty: clear W */
};

struct prot_arg {
	struct mn_mm *mm;
	struct host_vma *v;
	enum prot_mode mode;
	unsigned int changed;
};

/* can_change_pte_writable(): W without a fault first only where no fault would copy. */
static bool can_change_writable(struct mn_mm *mm, const struct host_vma *v,
				const struct mn_pte *pte)
{
	if (!(v->prot & MN_PROT_WRITE) || is_zero_pfn(mm, pte->pfn))
		return false;
	if (v->flags & MN_VM_SHARED)
		return pte->dirty;
	return anon_exclusive(mm, pte->pfn);
}

/*
 * folio_maybe_mapped_shared() for a private mapping: an anonymous folio fork() shared, or a
 * page-cache page mapped more than once.
 */
static bool maybe_mapped_shared(struct mn_mm *mm, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	if (mn_phys_frame_info(mm->phys, pfn, &fi))
		return true;
	if (fi.owner == MN_OWNER_ANON)
		return !anon_exclusive(mm, pfn);
	return fi.mapcount > 1;
}

static bool change_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct prot_arg *p = arg;
	struct mn_pte old = *pte;

	(void)gfn;
	(void)gen;
	switch (p->mode) {
	case PROT_SET:
		if (pte->kind == MN_PTE_MIGRATION) {
			/* make_readable_migration_entry() when write goes away */
			if (!(p->v->prot & MN_PROT_WRITE))
				pte->perm &= ~MN_PTE_W;
			break;
		}
		if (!p->v->prot) {
			*pte = (struct mn_pte){ .kind = MN_PTE_PROTNONE,
						.level = old.level,
						.pfn = old.pfn,
						.accessed = old.accessed,
						.dirty = old.dirty };
			break;
		}
		pte->kind = MN_PTE_LEAF;
		pte->perm = vma_pte_perm(p->v) & ~MN_PTE_W;
		if (can_change_writable(p->mm, p->v, pte))
			pte->perm |= MN_PTE_W;
		break;
	case PROT_NUMA:
		/* Already hinting, the zero page, or a COW-shared folio: left alone. */
		if (pte->kind != MN_PTE_LEAF || is_zero_pfn(p->mm, pte->pfn))
			return false;
		if (!(p->v->flags & MN_VM_SHARED) && maybe_mapped_shared(p->mm, pte->pfn))
			return false;
		*pte = (struct mn_pte){ .kind = MN_PTE_PROTNONE,
					.level = old.level,
					.pfn = old.pfn,
					.accessed = old.accessed,
					.dirty = old.dirty };
		break;
	case PROT_WRPROTECT:
		if (pte->kind == MN_PTE_PROTNONE)
			return false;
		pte->perm &= ~MN_PTE_W;
		break;
	}
	if (!memcmp(&old, pte, sizeof(old)))
		return false;
	p->changed++;
	return true;
}

struct first_arg {
	bool found;
	mn_gfn_t gfn;
};

static bool find_first(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct first_arg *f = arg;

	(void)pte;
	(void)gen;
	if (!f->found) {
		f->found = true;
		f->gfn = gfn;
	}
	return false;
}

/*
 * change_protection() over [@start, @end) of @v: each P4D-sized (512 GiB) piece that has
 * entries gets one start/end pair, from its first populated PUD to the piece's end, as
 * change_pud_range() sends them since the notifier moved up from change_pmd_range(); pieces
 * without entries get none. The TLB is flushed after the walk, after end.
 */
static unsigned int change_range(struct mn_mm *mm, struct host_vma *v, mn_hva_t start, mn_hva_t end,
				 enum prot_mode mode, enum mn_notify_event ev,
				 const char *const steps[3])
{
	struct prot_arg p = { mm, v, mode, 0 };
	mn_hva_t a, next;
	struct mn_pt_result res;

	for (a = start; a < end; a = next) {
		struct first_arg f = { false, 0 };
		struct mn_notifier_range r;
		mn_hva_t rs;

		next = MN_MIN(end, mn_align_down(a, level_bytes(4)) + level_bytes(4));
		mn_pt_update(mm->pt, pn_range(a, next), find_first, &f, &res);
		if (v->flags & MN_VM_HUGETLB)
			rs = a; /* hugetlb_change_protection(): one pair, populated or not */
		else if (!f.found)
			continue;
		else
			rs = MN_MAX(a, mn_align_down(f.gfn << MN_PAGE_SHIFT,
						     level_bytes(MN_PG_LEVEL_1G)));
		r = notify_range(mm, ev, rs, next, true);
		if (mn_step(mm->sim, steps[0]))
			notify_start(mm, &r);
		mn_spin_lock(mm->sim, &mm->ptl);
		mn_pt_update(mm->pt, pn_range(rs, next), change_entry, &p, &res);
		mn_spin_unlock(mm->sim, &mm->ptl);
		if (mn_step(mm->sim, steps[2]))
			notify_end(mm, &r);
	}
	if (p.changed)
		host_tlb_flush(mm, start, end, steps[1]);
	return p.changed;
}

static const char *const mprotect_steps[3] = { "mprotect.invalidate_start", "mprotect.tlb_flush",
					       "mprotect.invalidate_end" };

int mn_mm_mprotect(struct mn_mm *mm, mn_hva_t start, uint64_t len, unsigned int prot)
{
	struct host_vma *v;
	mn_hva_t end;
	int ret;

	if ((start & ~MN_PAGE_MASK) || (prot & ~7U))
		return -EINVAL;
	if (len > HOST_TASK_SIZE)
		return -ENOMEM;
	if (!len)
		return 0;
	end = start + mn_align_up(len, MN_PAGE_SIZE);
	if (end > HOST_TASK_SIZE)
		return -ENOMEM;
	mn_write_lock(mm->sim, &mm->mmap_lock);
	ret = range_fully_mapped(mm, start, end);
	if (!ret)
		ret = hugetlb_cut(mm, start, end);
	if (!ret)
		ret = split_huge_edges(mm, start, end);
	if (!ret)
		ret = vmas_split_edges(mm, start, end);
	if (ret)
		goto out;
	host_trace(mm, "host.mprotect", start, end);
	for (v = vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end)) {
		v->prot = prot;
		change_range(mm, v, v->start, v->end, PROT_SET, MN_NOTIFY_PROTECTION_VMA,
			     mprotect_steps);
	}
out:
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}

static const char *const numa_steps[3] = { "numa.invalidate_start", "numa.tlb_flush",
					   "numa.invalidate_end" };

int mn_mm_numa_protnone(struct mn_mm *mm, mn_hva_t start, uint64_t len)
{
	struct host_vma *v;
	mn_hva_t end;
	unsigned int n = 0;

	if ((start & ~MN_PAGE_MASK) || len > HOST_TASK_SIZE || start + len > HOST_TASK_SIZE)
		return -EINVAL;
	end = start + mn_align_up(len, MN_PAGE_SIZE);
	mn_read_lock(mm->sim, &mm->mmap_lock);
	host_trace(mm, "host.numa_scan", start, end);
	for (v = vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end)) {
		mn_hva_t s = MN_MAX(start, v->start), e = MN_MIN(end, v->end);

		/* task_numa_work() skips these VMAs. */
		if ((v->flags & MN_VM_HUGETLB) || !v->prot ||
		    (v->file && !(v->prot & MN_PROT_WRITE)))
			continue;
		/* A THP the scan window cuts is split first (change_pmd_range()). */
		if (split_huge_edges(mm, s, e))
			continue;
		/*
		 * change_prot_numa() uses MMU_NOTIFY_PROTECTION_VMA: change_pmd_range() picks
		 * the event without knowing it is a NUMA scan.
		 */
		n += change_range(mm, v, s, e, PROT_NUMA, MN_NOTIFY_PROTECTION_VMA, numa_steps);
	}
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	return (int)MN_MIN(n, (unsigned int)INT32_MAX);
}

int mn_mm_clear_soft_dirty(struct mn_mm *mm)
{
	struct mn_notifier_range r = notify_range(mm, MN_NOTIFY_SOFT_DIRTY, 0, UINT64_MAX, true);
	struct host_vma *v;
	struct mn_pt_result res;
	unsigned int n = 0;

	mn_write_lock(mm->sim, &mm->mmap_lock);
	host_trace(mm, "host.clear_soft_dirty", 0, UINT64_MAX);
	/* One range over the whole address space, then flush_tlb_mm() after end. */
	if (mn_step(mm->sim, "soft_dirty.invalidate_start"))
		notify_start(mm, &r);
	mn_spin_lock(mm->sim, &mm->ptl);
	for (v = vma_first_in(mm, 0, HOST_TASK_SIZE); v; v = vma_next_in(v, 0, HOST_TASK_SIZE)) {
		struct prot_arg p = { mm, v, PROT_WRPROTECT, 0 };

		if (v->flags & MN_VM_HUGETLB)
			continue; /* clear_refs_walk_ops has no hugetlb_entry */
		mn_pt_update(mm->pt, pn_range(v->start, v->end), change_entry, &p, &res);
		n += p.changed;
	}
	mn_spin_unlock(mm->sim, &mm->ptl);
	if (mn_step(mm->sim, "soft_dirty.invalidate_end"))
		notify_end(mm, &r);
	host_tlb_flush(mm, 0, HOST_TASK_SIZE, "soft_dirty.tlb_flush");
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	return (int)MN_MIN(n, (unsigned int)INT32_MAX);
}
