// SPDX-License-Identifier: MIT
/*
 * madvise.c - madvise(2) as mm/madvise.c handles the advice mnsim models: MADV_DONTNEED
 * (zap_page_range_single() with MMU_NOTIFY_CLEAR under the mmap read lock), the THP hints,
 * and MADV_COLLAPSE.
 */
#include "host/host-internal.h"

static const struct host_op dontneed_op = {
	.start_step = "madvise.invalidate_start",
	.clear_step = "madvise.clear_ptes",
	.flush_step = "madvise.tlb_flush",
	.free_step = "madvise.free_pages",
	.end_step = "madvise.invalidate_end",
};

static int dontneed(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct host_vma *v;
	int ret = 0;

	mn_read_lock(mm->sim, &mm->mmap_lock);
	for (v = vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end))
		if (v->flags & MN_VM_LOCKED)
			ret = -EINVAL; /* madvise_dontneed_free_valid_vma() */
	for (v = ret ? NULL : vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end)) {
		mn_hva_t s = MN_MAX(start, v->start), e = MN_MIN(end, v->end);

		if (v->flags & MN_VM_HUGETLB) {
			/* Whole HugeTLB pages only: the end is rounded down. */
			e = mn_align_down(e, MN_PAGE_SIZE << v->huge_order);
			if (!mn_is_aligned(s, MN_PAGE_SIZE << v->huge_order)) {
				ret = -EINVAL;
				break;
			}
			if (s >= e)
				continue;
		} else {
			/* A THP the range cuts is split inside the zap (zap_pmd_range()). */
			ret = split_huge_edges(mm, s, e);
			if (ret)
				break;
		}
		host_trace(mm, "host.madvise_dontneed", s, e);
		unmap_notified(mm, s, e, MN_NOTIFY_CLEAR, true, &dontneed_op, false);
	}
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}

static int set_thp_hint(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, int advice)
{
	struct host_vma *v;
	int ret;

	mn_write_lock(mm->sim, &mm->mmap_lock);
	/* madvise_update_vma() splits the VMAs: never through a HugeTLB page or a THP. */
	ret = hugetlb_cut(mm, start, end);
	if (!ret)
		ret = split_huge_edges(mm, start, end);
	if (!ret)
		ret = vmas_split_edges(mm, start, end);
	for (v = ret ? NULL : vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end)) {
		if (advice == MN_MADV_HUGEPAGE) {
			v->flags = (v->flags | MN_VM_HUGEPAGE) & ~MN_VM_NOHUGEPAGE;
		} else {
			v->flags = (v->flags | MN_VM_NOHUGEPAGE) & ~MN_VM_HUGEPAGE;
		}
	}
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}

static int collapse(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	mn_hva_t pmd = level_bytes(MN_PG_LEVEL_2M), a;
	int ret = 0, r;

	/* madvise_collapse(): every whole 2 MiB block of the range. */
	for (a = mn_align_up(start, pmd); a + pmd <= end; a += pmd) {
		r = mn_mm_collapse_thp(mm, a);
		if (r && r != -EEXIST && r != -ENOENT)
			ret = r;
	}
	return ret;
}

int mn_mm_madvise(struct mn_mm *mm, mn_hva_t start, uint64_t len, int advice)
{
	mn_hva_t end;
	int ret, hole;

	if ((start & ~MN_PAGE_MASK) || len > UINT64_MAX - MN_PAGE_SIZE)
		return -EINVAL;
	if (advice != MN_MADV_DONTNEED && advice != MN_MADV_HUGEPAGE &&
	    advice != MN_MADV_NOHUGEPAGE && advice != MN_MADV_COLLAPSE)
		return -EINVAL;
	end = start + mn_align_up(len, MN_PAGE_SIZE);
	if (end < start)
		return -EINVAL; /* wraps */
	if (start == end)
		return 0;
	if (end > HOST_TASK_SIZE)
		end = HOST_TASK_SIZE > start ? HOST_TASK_SIZE : start; /* no VMA there: -ENOMEM */
	if (start == end)
		return -ENOMEM;
	mn_read_lock(mm->sim, &mm->mmap_lock);
	hole = range_fully_mapped(mm, start, end);
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	switch (advice) {
	case MN_MADV_DONTNEED:
		ret = dontneed(mm, start, end);
		break;
	case MN_MADV_COLLAPSE:
		ret = collapse(mm, start, end);
		break;
	default:
		ret = set_thp_hint(mm, start, end, advice);
		break;
	}
	/* The mapped parts are advised; a hole still makes the call fail with -ENOMEM. */
	return ret ? ret : hole;
}
