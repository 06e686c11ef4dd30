// SPDX-License-Identifier: MIT
/*
 * zap.c - clearing host entries inside a notified range: the mmu_gather batch of
 * mm/mmu_gather.c (rmap removed at clear time, frames put only after the TLB flush),
 * zap_pte_range() / unmap_vmas() of mm/memory.c, __split_huge_pmd() of mm/huge_memory.c,
 * and the two teardown paths that use them: exit_mmap() and the OOM reaper.
 */
#include "host/host-internal.h"

void host_tlb_flush(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, const char *step)
{
	if (step && !mn_step(mm->sim, step))
		return;
	mn_tlb_flush(mm->tlb, MN_FLUSH_RANGE, pn_range(start, end), 0);
	mm->st.tlb_flushes++;
	host_trace(mm, "host.tlb_flush", start, end);
}

/* tlb_flush_mmu_free(): drop the references the cleared entries held. */
void gather_free(struct mn_mm *mm, struct gather *g, const char *step)
{
	size_t i;

	if (step && !mn_step(mm->sim, step))
		goto out;
	for (i = 0; i < g->nr; i++)
		if (mn_phys_put(mm->phys, g->refs[i], "host.free") == 1)
			mm->st.frames_freed++;
out:
	mn_free(mm->alloc, g->refs);
	g->refs = NULL;
	g->nr = g->cap = 0;
}

void gather_add(struct mn_mm *mm, struct gather *g, struct mn_frame_ref ref)
{
	void *arr = g->refs;

	if (g->nr == g->cap && mn_array_grow(mm->alloc, &arr, &g->cap, g->nr + 1, sizeof(ref))) {
		/*
		 * No room to batch (tlb_next_batch() failed): flush everything now, then free,
		 * as tlb_flush_mmu() does when the batch is full.
		 */
		mn_tlb_flush(mm->tlb, MN_FLUSH_ALL, (struct mn_gfn_range){ 0, 0 }, 0);
		mm->st.tlb_flushes++;
		gather_free(mm, g, NULL);
		if (mn_phys_put(mm->phys, ref, "host.free") == 1)
			mm->st.frames_freed++;
		return;
	}
	g->refs = arr;
	g->refs[g->nr++] = ref;
}

/* An entry mapping @pte->pfn went away: rmap now, the reference after the flush. */
void entry_unmapped(struct mn_mm *mm, const struct mn_pte *pte, uint64_t gen, struct gather *g)
{
	struct mn_frame_ref ref = { pte->pfn, gen };

	if (pte->kind == MN_PTE_MIGRATION || is_zero_pfn(mm, pte->pfn))
		return; /* the migration holds its own reference; the zero page none */
	if (pte->dirty)
		mn_phys_update_flags(mm->phys, ref, MN_FRAME_DIRTY, 0, "host.unmap");
	mn_phys_unmap(mm->phys, ref, "host.unmap");
	if (g)
		gather_add(mm, g, ref);
	else
		mn_phys_put(mm->phys, ref, "host.unmap");
}

struct zap_arg {
	struct mn_mm *mm;
	struct gather *g;
	struct mn_gfn_range range;
};

static bool zap_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct zap_arg *z = arg;

	/* Only entries wholly inside: the notifier range covers nothing more. */
	if (gfn < z->range.start || gfn + (level_bytes(pte->level) >> MN_PAGE_SHIFT) > z->range.end)
		return false;
	entry_unmapped(z->mm, pte, *gen, z->g);
	*pte = (struct mn_pte){ .kind = MN_PTE_NONE, .level = pte->level };
	return true;
}

/* zap_pte_range() over [@start, @end) of one VMA; huge entries there lie wholly inside. */
static void zap_range(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, struct gather *g)
{
	struct zap_arg z = { mm, g, pn_range(start, end) };
	struct mn_pt_result res;

	mn_pt_update(mm->pt, z.range, zap_entry, &z, &res);
}

static unsigned int entry_level(struct mn_mm *mm, mn_hva_t addr, struct mn_pt_walk *w);

/* An edge of [@start, @end) that cuts a THP mapping (not HugeTLB), or 0. */
static mn_hva_t huge_straddler(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	mn_hva_t edges[2] = { start, end };
	struct mn_pt_walk w;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct host_vma *v = vma_find(mm, edges[i]);

		if (!mn_is_aligned(edges[i], level_bytes(MN_PG_LEVEL_2M)) && v &&
		    !(v->flags & MN_VM_HUGETLB) && entry_level(mm, edges[i], &w) == MN_PG_LEVEL_2M)
			return edges[i];
	}
	return 0;
}

/*
 * The sequence every unmapping operation follows: start -> clear -> flush -> free -> end
 * (unmap_vmas() with tlb_finish_mmu() brought forward, as a full batch does).
 */
int unmap_notified(struct mn_mm *mm, mn_hva_t start, mn_hva_t end, enum mn_notify_event ev,
		   bool blockable, const struct host_op *op, bool free_tables)
{
	struct mn_notifier_range r = notify_range(mm, ev, start, end, blockable);
	struct gather g = { 0 };
	struct host_vma *v;
	struct mn_pt_result res;
	unsigned int tries;
	bool clear;
	int ret;

	if (mn_step(mm->sim, op->start_step)) {
		ret = notify_start(mm, &r);
		if (ret)
			return ret;
	}
	clear = mn_step(mm->sim, op->clear_step);
	for (tries = 0;; tries++) {
		mn_hva_t cut;

		mn_spin_lock(mm->sim, &mm->ptl);
		/*
		 * zap_pmd_range(): a THP that a fault installed since the caller split the
		 * edges is split now (with its own notified pair), never zapped whole.
		 */
		cut = clear && tries < 4 ? huge_straddler(mm, start, end) : 0;
		if (!cut)
			break;
		mn_spin_unlock(mm->sim, &mm->ptl);
		split_huge_pmd(mm, cut);
	}
	if (clear)
		for (v = vma_first_in(mm, start, end); v; v = vma_next_in(v, start, end))
			zap_range(mm, MN_MAX(start, v->start), MN_MIN(end, v->end), &g);
	mn_spin_unlock(mm->sim, &mm->ptl);
	host_tlb_flush(mm, start, end, op->flush_step);
	gather_free(mm, &g, op->free_step);
	if (free_tables && clear) {
		/* free_pgtables(): tables left empty go (after a real clear, they all are). */
		mn_spin_lock(mm->sim, &mm->ptl);
		mn_pt_zap(mm->pt, NULL, pn_range(start, end), MN_PT_ZAP_FREE_TABLES, &res);
		mn_spin_unlock(mm->sim, &mm->ptl);
	}
	if (mn_step(mm->sim, op->end_step))
		notify_end(mm, &r);
	return 0;
}

/* ---- THP PMD split --------------------------------------------------------------------- */

/* The level of the entry (leaf, PROT_NONE or migration) covering @addr, or 0. */
static unsigned int entry_level(struct mn_mm *mm, mn_hva_t addr, struct mn_pt_walk *w)
{
	return host_walk(mm, addr, w) ? 0 : w->leaf.level;
}

struct split_arg {
	struct mn_mm *mm;
	unsigned int nr;
};

/* After the split each small entry holds its own mapcount and reference. */
static bool count_small(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct split_arg *s = arg;
	struct mn_frame_ref ref = { pte->pfn, *gen };

	(void)gfn;
	if (pte->kind == MN_PTE_MIGRATION || s->nr++ == 0)
		return false; /* the first inherits the PMD's counts */
	mn_phys_map(s->mm->phys, ref, "host.split_pmd");
	mn_phys_get(s->mm->phys, ref, "host.split_pmd");
	return false;
}

/*
 * __split_huge_pmd(): a THP mapped by one PMD entry becomes 512 PTEs mapping the same
 * frames, inside its own MMU_NOTIFY_CLEAR pair over the 2 MiB block. HugeTLB is never split.
 */
int split_huge_pmd(struct mn_mm *mm, mn_hva_t addr)
{
	mn_hva_t haddr = mn_align_down(addr, level_bytes(MN_PG_LEVEL_2M));
	struct host_vma *v = vma_find(mm, addr);
	struct mn_notifier_range r;
	struct split_arg s = { mm, 0 };
	struct mn_pt_result res;
	struct mn_pt_walk w;
	int ret;

	if (!v || (v->flags & MN_VM_HUGETLB) || entry_level(mm, addr, &w) != MN_PG_LEVEL_2M)
		return -EINVAL;
	r = notify_range(mm, MN_NOTIFY_CLEAR, haddr, haddr + level_bytes(MN_PG_LEVEL_2M), true);
	if (mn_step(mm->sim, "split_pmd.invalidate_start"))
		notify_start(mm, &r);
	mn_spin_lock(mm->sim, &mm->ptl);
	/* Re-checked under the lock: someone may have split or zapped it meanwhile. */
	ret = entry_level(mm, addr, &w) == MN_PG_LEVEL_2M
		      ? mn_pt_split(mm->pt, NULL, hva_pn(haddr), MN_PG_LEVEL_2M, &res)
		      : -ENOENT;
	if (!ret)
		mn_pt_update(mm->pt, pn_range(haddr, haddr + level_bytes(MN_PG_LEVEL_2M)),
			     count_small, &s, &res);
	mn_spin_unlock(mm->sim, &mm->ptl);
	/* pmdp_invalidate() flushed the huge translation. */
	host_tlb_flush(mm, haddr, haddr + level_bytes(MN_PG_LEVEL_2M), "split_pmd.tlb_flush");
	if (mn_step(mm->sim, "split_pmd.invalidate_end"))
		notify_end(mm, &r);
	if (!ret)
		mm->st.thp_split++;
	return ret == -ENOENT ? 0 : ret;
}

/* Split the THP mappings that [@start, @end) cuts (vma_adjust_trans_huge()). */
int split_huge_edges(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	unsigned int tries;
	mn_hva_t cut;
	int ret;

	/* A THP fault may refill an edge between tries (under the read lock): bounded. */
	for (tries = 0; tries < 4 && (cut = huge_straddler(mm, start, end)); tries++) {
		ret = split_huge_pmd(mm, cut);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- exit and the OOM reaper ----------------------------------------------------------- */

static const struct host_op exit_op = {
	.start_step = "exit.invalidate_start",
	.clear_step = "exit.clear_ptes",
	.flush_step = "exit.tlb_flush",
	.free_step = "exit.free_pages",
	.end_step = "exit.invalidate_end",
};

void mn_mm_exit(struct mn_mm *mm)
{
	struct mn_itree_node *n;

	if (mm->exiting)
		return;
	mm->exiting = true;
	/* exit_mmap(): release first; the unmap's start/end then reach nobody. */
	notify_release(mm);
	mn_write_lock(mm->sim, &mm->mmap_lock);
	mm->exited = true;
	unmap_notified(mm, 0, HOST_TASK_SIZE, MN_NOTIFY_UNMAP, true, &exit_op, true);
	while ((n = mn_itree_first(&mm->vmas)))
		vma_remove(mm, container_of(n, struct host_vma, node));
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	mm_task_work_run(mm);
	host_trace(mm, "host.exit", 0, HOST_TASK_SIZE);
}

static const struct host_op oom_op = {
	.start_step = "oom_reap.invalidate_start",
	.clear_step = "oom_reap.clear_ptes",
	.flush_step = "oom_reap.tlb_flush",
	.free_step = "oom_reap.free_pages",
	.end_step = "oom_reap.invalidate_end",
};

int mn_mm_oom_reap(struct mn_mm *mm)
{
	struct host_vma **vmas, *v;
	unsigned int n = 0, i;
	int ret = 0;

	if (!mn_read_trylock(mm->sim, &mm->mmap_lock))
		return -EAGAIN;
	vmas = mn_malloc(mm->alloc, (mm->nr_vmas + 1) * sizeof(*vmas));
	if (!vmas) {
		mn_read_unlock(mm->sim, &mm->mmap_lock);
		return -EAGAIN; /* the kernel's reaper retries later too */
	}
	/* Faults and GUP from now on get SIGBUS: the contents are gone (MMF_UNSTABLE). */
	mm->unstable = true;
	host_trace(mm, "host.oom_reap", 0, HOST_TASK_SIZE);
	for (v = vma_first_in(mm, 0, HOST_TASK_SIZE); v; v = vma_next_in(v, 0, HOST_TASK_SIZE))
		vmas[n++] = v;
	/* From the top of the address space down, away from the exiting task. */
	for (i = n; i-- > 0;) {
		v = vmas[i];
		/* Only private memory can be reaped safely (__oom_reap_task_mm()). */
		if (v->flags & (MN_VM_HUGETLB | MN_VM_SHARED))
			continue;
		if (unmap_notified(mm, v->start, v->end, MN_NOTIFY_CLEAR, false, &oom_op, false))
			ret = -EAGAIN; /* a subscriber could not proceed: leave the VMA */
	}
	mn_free(mm->alloc, vmas);
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}
