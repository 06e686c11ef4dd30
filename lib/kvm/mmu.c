// SPDX-License-Identifier: MIT
/*
 * mmu.c - the secondary MMU behind the arch-neutral hooks: kvm_unmap_gfn_range(),
 * kvm_age_gfn(), kvm_test_age_gfn(), kvm_arch_flush_shadow_memslot() and _all(), and the
 * leaf a fault installs. x86 is the TDP MMU on EPT (arch/x86/kvm/mmu/tdp_mmu.c: zap in write
 * mode, the caller flushes); arm64 is stage-2 (arch/arm64/kvm/mmu.c, hyp/pgtable.c: every
 * leaf broken before made with a TLBI by IPA, or, on a host with range TLBIs, one ranged
 * TLBI at the end of each unmap walk; either way the walker leaves nothing to flush).
 */
#include "kvm/kvm-internal.h"

struct flush_arg {
	struct mn_vm *vm;
	unsigned int as_id;
};

/* system_supports_tlb_range() on an arm64 host. */
static bool tlbi_range(const struct mn_vm *vm)
{
	return vm->cfg.arch == MN_VM_ARM64 && !(vm->cfg.arm64_missing & MN_ARM64_NO_TLBIRANGE);
}

/*
 * The page-table engine's flushes (stage-2 BBM and deferred unmap TLBIs, x86 flush before
 * yield), sent to vCPUs. On arm64 a ranged one is kvm_tlb_flush_vmid_range(), which falls
 * back to invalidating the whole VMID (__kvm_tlb_flush_vmid) without range TLBIs.
 */
static void pt_flush(void *arg, enum mn_flush_kind kind, struct mn_gfn_range r, unsigned int level)
{
	struct flush_arg *f = arg;
	unsigned int i;

	if (kind == MN_FLUSH_RANGE && f->vm->cfg.arch == MN_VM_ARM64 &&
	    (f->vm->cfg.arm64_missing & MN_ARM64_NO_TLBIRANGE))
		kind = MN_FLUSH_ALL;
	if (kind == MN_FLUSH_ALL) {
		kvm_flush_remote_tlbs(f->vm);
		return;
	}
	for (i = 0; i < f->vm->nr_vcpus; i++)
		mn_tlb_flush(f->vm->vcpus[i].tlb[f->as_id], kind, r, level);
	f->vm->st.flush_range++;
}

/*
 * cond_resched_rwlock_write() inside a yielding zap (tdp_mmu_iter_cond_resched(), arm64
 * stage2_apply_range_resched()): mmu_lock is dropped around the yield, so vCPU faults and
 * other invalidations run in the gap; the walk restarts from the root afterwards.
 */
static void resched_mmu_lock(void *arg)
{
	struct flush_arg *f = arg;

	mn_write_unlock(f->vm->sim, &f->vm->mmu_lock);
	mn_yield(f->vm->sim, "zap.yield");
	mn_write_lock(f->vm->sim, &f->vm->mmu_lock);
}

static struct mn_pt_ctx pt_ctx(struct mn_vm *vm, struct flush_arg *f, unsigned int as_id,
			       bool may_block)
{
	*f = (struct flush_arg){ vm, as_id };
	/*
	 * need_resched() or a contended mmu_lock is what makes tdp_mmu_iter_cond_resched() and
	 * stage2_apply_range_resched() yield (and flush first). Outside a sim run no other
	 * thread can want the CPU or the lock, so the walk never yields there, as an
	 * uncontended kernel walk does not; inside a run every yield point is offered to the
	 * scheduler.
	 */
	return (struct mn_pt_ctx){ .sim = vm->sim,
				   .can_yield = may_block && mn_sim_current(vm->sim),
				   .flush = pt_flush,
				   .flush_arg = f,
				   /* every may_block zap runs under mmu_lock held for write */
				   .resched = may_block ? resched_mmu_lock : NULL,
				   .resched_arg = f };
}

/*
 * The engine's zap flags for an unmap of @vm: the deferred stage-2 TLBI of
 * kvm_pgtable_stage2_unmap() when the host has range TLBIs (the engine also wants FWB).
 */
static unsigned int zap_flags(const struct mn_vm *vm)
{
	return tlbi_range(vm) ? MN_PT_ZAP_TLBI_RANGE : 0;
}

/*
 * kvm_unmap_gfn_range() under mmu_lock(W): x86 tdp_mmu_zap_leafs() returns whether a flush
 * is owed (the walker flushes before yielding); arm64 kvm_pgtable_stage2_unmap() invalidates
 * what it cleared itself (leaf by leaf, or with one ranged TLBI when
 * stage2_unmap_defer_tlb_flush() holds) and returns false. The attribute filter selects root
 * types only where private memory has mirror roots (TDX's S-EPT,
 * kvm_gfn_range_filter_to_root_types()); no VM modelled has them, so shared and private
 * mappings in the range are zapped alike.
 */
bool kvm_unmap_gfn_range(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	unsigned int as = range->slot->as_id;
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as, range->may_block);

	mn_pt_zap(vm->pt[as], &ctx, (struct mn_gfn_range){ range->start, range->end },
		  zap_flags(vm), &res);
	vm->st.zapped += res.zapped;
	if (vm->cfg.arch == MN_VM_ARM64)
		return false;
	return res.flush_needed;
}

/* kvm_age_gfn() / kvm_test_age_gfn(): the accessed bits; no flush (aging tolerates it). */
static bool age(struct mn_vm *vm, const struct kvm_gfn_range *range, bool clear)
{
	struct mn_pt_result res;

	return mn_pt_age(vm->pt[range->slot->as_id],
			 (struct mn_gfn_range){ range->start, range->end }, clear, &res) > 0;
}

bool kvm_age_gfn(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	return age(vm, range, true);
}

bool kvm_test_age_gfn(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	return age(vm, range, false);
}

/* Zap @r of @as_id in write mode and flush it (x86), or let BBM flush it (arm64). */
static void zap_flush(struct mn_vm *vm, unsigned int as, struct mn_gfn_range r, bool all)
{
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as, false);

	mn_pt_zap(vm->pt[as], &ctx, r, MN_PT_ZAP_FREE_TABLES | zap_flags(vm), &res);
	vm->st.zapped += res.zapped;
	if (vm->cfg.arch == MN_VM_ARM64 || !res.flush_needed)
		return;
	if (all)
		kvm_flush_remote_tlbs(vm);
	else
		kvm_flush_remote_tlbs_range(vm, as, res.flush_range.start, res.flush_range.end);
}

/*
 * kvm_arch_flush_shadow_memslot(): x86 with KVM_X86_QUIRK_SLOT_ZAP_ALL (the default) runs
 * kvm_mmu_zap_all_fast(), which invalidates every root of both address spaces; modelled as
 * zapping both tables whole with a full flush (the end state; the root switch and the
 * obsolete-root requests are not modelled). arm64 unmaps the slot's IPA range.
 */
void kvm_arch_flush_shadow_memslot(struct mn_vm *vm, struct kvm_memory_slot *slot)
{
	unsigned int as;

	mn_write_lock(vm->sim, &vm->mmu_lock);
	if (vm->cfg.arch == MN_VM_X86)
		for (as = 0; as < vm->nr_as; as++)
			zap_flush(vm, as, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, true);
	else
		zap_flush(vm, slot->as_id,
			  (struct mn_gfn_range){ slot->base_gfn, slot->base_gfn + slot->npages },
			  false);
	mn_write_unlock(vm->sim, &vm->mmu_lock);
}

/* kvm_arch_flush_shadow_all() (release, teardown): every address space, everything. */
void kvm_arch_flush_shadow_all(struct mn_vm *vm)
{
	unsigned int as;

	mn_write_lock(vm->sim, &vm->mmu_lock);
	for (as = 0; as < vm->nr_as; as++)
		zap_flush(vm, as, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, true);
	mn_write_unlock(vm->sim, &vm->mmu_lock);
}

/*
 * The leaf a fault installs (make_spte() / stage2 prot): x86 EPT write-back with IPAT,
 * accessed, dirty when writable, host- and MMU-writable bits; arm64 normal write-back memory
 * with the access flag.
 *
 * @level is the fault's goal level, which the fault path has already checked the slot, the
 * host mapping and (arm64) force_pte allow, so the kernel never goes below it here. A
 * table at that level (smaller mappings, or one an earlier zap left empty) is replaced by
 * the huge leaf: arm64 kvm_pgtable_stage2_map() -> stage2_map_walk_table_pre() breaks the
 * table entry with one TLB invalidation over its span, makes the block and frees the
 * unlinked table (free_unlinked_table()); x86 kvm_tdp_mmu_map() stops at the goal level
 * whatever is there, tdp_mmu_map_handle_target_level() swaps the non-leaf SPTE for the huge
 * one (handle_removed_pt() zaps the child's SPTEs, the page goes through call_rcu()) and,
 * the old SPTE having been a present non-leaf, kvm_flush_remote_tlbs_gfn() over the huge
 * page. The engine does both through the flush context before it frees the old tables.
 * The x86 NX-huge-page workaround, which would step down past a child table marked
 * nx_huge_page_disallowed (disallowed_hugepage_adjust()), is not modelled.
 *
 * A huge leaf above the goal level is split by x86 (kvm_tdp_mmu_map() ->
 * tdp_mmu_split_huge_page(): a full child table with the same translations), while arm64
 * stage2_map_walk_leaf() breaks the block (TLBI by IPA) and links an empty table in its
 * place, the rest of the block faulting back lazily.
 */
int kvm_mmu_map(struct mn_vm *vm, unsigned int as_id, mn_gfn_t gfn, struct mn_frame_ref ref,
		unsigned int level, unsigned int perm)
{
	uint64_t pages = mn_level_pages(level);
	struct mn_pte leaf = { .kind = MN_PTE_LEAF,
			       .level = level,
			       .pfn = mn_align_down(ref.pfn, pages),
			       .perm = perm,
			       .memtype = MN_MT_WB,
			       .accessed = true };
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as_id, false);
	unsigned int map_flags = MN_PT_MAP_TABLE;
	int ret;

	if (vm->cfg.arch == MN_VM_ARM64)
		map_flags |= MN_PT_MAP_BLOCK;
	if (vm->cfg.arch == MN_VM_X86) {
		leaf.ipat = true;
		leaf.dirty = perm & MN_PTE_W;
		if (perm & MN_PTE_W)
			leaf.sw = MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_MMU_WRITABLE;
	}
	ret = mn_pt_map_replace(vm->pt[as_id], &ctx, mn_align_down(gfn, pages), &leaf, ref.gen,
				map_flags, &res);
	vm->st.zapped += res.zapped;
	if (!ret && res.flush_needed && vm->cfg.arch == MN_VM_X86)
		kvm_flush_remote_tlbs_range(vm, as_id, res.flush_range.start, res.flush_range.end);
	return ret;
}

/* ---- dirty logging and huge pages ------------------------------------------------------- */

/*
 * Whether the @level block around @gfn may be mapped by one leaf of @slot: it lies inside
 * the slot, and the slot's gfns and hvas are equally aligned at that size. x86 keeps this as
 * the lpage_info disallow counters that kvm_alloc_memslot_metadata() sets for a misaligned
 * head, tail or slot; arm64 asks fault_supports_stage2_huge_mapping().
 *
 * On a VM with private memory, x86 also refuses a block whose gfns do not all have the same
 * memory attributes (KVM_LPAGE_MIXED_FLAG, set by hugepage_has_attrs() in
 * kvm_arch_post_set_memory_attributes() and kvm_mmu_init_memslot_memory_attributes()). The
 * kernel caches that per block; here it is computed from the attribute ranges on demand.
 * Faults read the flag under mmu_lock after their retry check and the post step rewrites it
 * under mmu_lock(write), so both agree outside a change. Within one, between its store and
 * its post step, a block that turns mixed lies in the change's invalidation range (its
 * gfns, or its head or tail block added by kvm_arch_pre_set_memory_attributes()), so faults
 * there retry either way; only a block that turns uniform may be mapped huge a little
 * earlier than the kernel's stale flag would allow, with attributes already stored.
 */
bool kvm_mmu_slot_allows_level(const struct mn_vm *vm, const struct kvm_memory_slot *slot,
			       mn_gfn_t gfn, unsigned int level)
{
	uint64_t pages = mn_level_pages(level);
	mn_gfn_t base = mn_align_down(gfn, pages);

	if ((slot->base_gfn ^ (slot->userspace_addr >> MN_PAGE_SHIFT)) & (pages - 1))
		return false;
	if (base < slot->base_gfn || base + pages > slot->base_gfn + slot->npages)
		return false;
	if (pages == 1 || !kvm_arch_has_private_mem(vm))
		return true;
	return kvm_range_has_memory_attributes(vm, base, base + pages, ~0ULL,
					       kvm_get_memory_attributes(vm, base));
}

struct relax_arg {
	mn_pfn_t pfn;
	unsigned int level;
	unsigned int perm;
	bool done;
};

static bool relax_leaf(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct relax_arg *a = arg;

	(void)gfn;
	(void)gen;
	if (pte->kind != MN_PTE_LEAF || pte->level != a->level || pte->pfn != a->pfn)
		return false;
	a->done = true;
	if ((pte->perm | a->perm) == pte->perm)
		return false; /* another vCPU relaxed it already */
	pte->perm |= a->perm;
	return true;
}

/*
 * kvm_pgtable_stage2_relax_perms(): a permission fault whose mapping size is the faulting
 * leaf's own adds @perm to that leaf in place (gaining rights needs no break-before-make
 * and no flush). The leaf must still map @pfn at @level; otherwise -EAGAIN, and the guest
 * faults again (the kernel's walker returns -EAGAIN for a leaf that changed under it).
 */
int kvm_mmu_relax_perms(struct mn_vm *vm, unsigned int as_id, mn_gfn_t gfn, mn_pfn_t pfn,
			unsigned int level, unsigned int perm)
{
	uint64_t pages = mn_level_pages(level);
	struct relax_arg a = { mn_align_down(pfn, pages), level, perm, false };
	mn_gfn_t base = mn_align_down(gfn, pages);
	struct mn_pt_result res;

	if (mn_pt_update(vm->pt[as_id], (struct mn_gfn_range){ base, base + 1 }, relax_leaf, &a,
			 &res))
		return -EAGAIN;
	return a.done ? 0 : -EAGAIN;
}

struct wrprot_arg {
	unsigned int min_level;
	unsigned int max_level;
	bool mmu_writable;
};

static bool wrprot_leaf(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	const struct wrprot_arg *a = arg;

	(void)gfn;
	(void)gen;
	if (pte->kind != MN_PTE_LEAF || pte->level < a->min_level || pte->level > a->max_level)
		return false;
	if (!(pte->perm & MN_PTE_W) && !(a->mmu_writable && (pte->sw & MN_PTE_SW_MMU_WRITABLE)))
		return false;
	pte->perm &= ~MN_PTE_W;
	if (a->mmu_writable)
		pte->sw &= ~MN_PTE_SW_MMU_WRITABLE;
	return true;
}

/*
 * Write-protect the leaves of @r whose level lies in [@min_level, @max_level]: x86
 * wrprot_gfn_range() / clear_dirty_pt_masked() clear only W, keeping MMU-writable so that
 * fast_page_fault() can restore it (PROTOCOL.md §3.13.6), while
 * kvm_mmu_slot_gfn_write_protect() (@mmu_writable) clears both; arm64 stage2_wp_range()
 * clears S2AP_W. The caller holds mmu_lock and flushes: returns whether it must.
 *
 * Every level, or 4 KiB leaves alone (the TDP MMU's clear_dirty_pt_masked() skips huge
 * SPTEs), is the engine's own write-protect walk; other level bounds are rare and go
 * through a per-entry update.
 */
bool kvm_mmu_write_protect(struct mn_vm *vm, unsigned int as_id, struct mn_gfn_range r,
			   unsigned int min_level, unsigned int max_level, bool mmu_writable)
{
	struct wrprot_arg a = { min_level, max_level, mmu_writable };
	unsigned int mode = mmu_writable ? MN_PT_WRPROT_MMU : MN_PT_WRPROT_DIRTY_LOG;
	struct mn_pt_result res;

	if (min_level == MN_PG_LEVEL_4K && max_level == MN_PG_LEVEL_4K)
		mn_pt_wrprot(vm->pt[as_id], r, mode | MN_PT_WRPROT_4K, &res);
	else if (min_level == MN_PG_LEVEL_4K && max_level >= vm->fmt.max_leaf_level)
		mn_pt_wrprot(vm->pt[as_id], r, mode, &res);
	else
		mn_pt_update(vm->pt[as_id], r, wrprot_leaf, &a, &res);
	return res.flush_needed;
}

#define SPLIT_BATCH 32

struct huge_arg {
	mn_gfn_t gfn[SPLIT_BATCH];
	unsigned int level[SPLIT_BATCH];
	unsigned int n;
};

static bool find_huge(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct huge_arg *h = arg;

	(void)gen;
	if (pte->kind == MN_PTE_LEAF && pte->level > MN_PG_LEVEL_4K && h->n < SPLIT_BATCH) {
		h->gfn[h->n] = gfn;
		h->level[h->n++] = pte->level;
	}
	return false;
}

/*
 * Eager page splitting down to 4 KiB over @r (x86 kvm_mmu_slot_try_split_huge_pages() /
 * kvm_mmu_try_split_huge_pages() with a 4K target, arm64 kvm_mmu_split_huge_pages()): every
 * huge leaf meeting @r becomes a table of leaves with the same translations, level by level
 * (x86 without a flush, arm64 through break-before-make). The caller holds mmu_lock (x86:
 * read, as the TDP MMU splits with atomic updates; arm64: write). A split that fails for
 * want of memory leaves the rest huge, as the kernel's try-split does; faults split them.
 */
void kvm_mmu_split_huge_pages(struct mn_vm *vm, unsigned int as_id, struct mn_gfn_range r)
{
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as_id, false);
	unsigned int i;

	for (;;) {
		struct huge_arg h = { .n = 0 };

		mn_pt_update(vm->pt[as_id], r, find_huge, &h, &res);
		if (!h.n)
			return;
		for (i = 0; i < h.n; i++)
			if (mn_pt_split(vm->pt[as_id], &ctx, h.gfn[i], h.level[i], &res))
				return;
	}
}

/*
 * x86 kvm_mmu_recover_huge_pages() once dirty logging (or userfault) is off: every 2 MiB
 * block of the slot that may be mapped huge (slot alignment, and the host maps it with a
 * PMD: kvm_mmu_max_mapping_level()) but is mapped by smaller leaves is zapped, and the next
 * fault maps it huge again. This is the older zap_collapsible_spte_range() way: recent
 * kernels install the huge SPTE in place; either way the small translations are flushed
 * before mmu_lock is dropped. The kernel runs it under mmu_lock(read) with atomic zaps;
 * here under mmu_lock(write) (zaps of the engine are not atomic). 1 GiB blocks are left
 * alone.
 */
void kvm_mmu_recover_huge_pages(struct mn_vm *vm, const struct kvm_memory_slot *slot)
{
	const uint64_t pages = mn_level_pages(MN_PG_LEVEL_2M);
	mn_gfn_t end = slot->base_gfn + slot->npages, base;
	unsigned int as = slot->as_id;
	struct mn_gfn_range flush = { MN_INVALID_GFN, 0 };
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as, false);

	if (vm->fmt.max_leaf_level < MN_PG_LEVEL_2M)
		return;
	mn_write_lock(vm->sim, &vm->mmu_lock);
	for (base = mn_align_up(slot->base_gfn, pages); base + pages <= end; base += pages) {
		struct mn_pt_walk w;

		if (!kvm_mmu_slot_allows_level(vm, slot, base, MN_PG_LEVEL_2M) ||
		    mn_mm_host_mapping_level(vm->mm, gfn_to_hva_memslot(slot, base)) <
			    MN_PG_LEVEL_2M)
			continue;
		if (!mn_pt_walk(vm->pt[as], base, &w) && w.leaf.level >= MN_PG_LEVEL_2M)
			continue;
		/* The 4K table goes too, as zapping the non-leaf SPTE frees it. */
		mn_pt_zap(vm->pt[as], &ctx, (struct mn_gfn_range){ base, base + pages },
			  MN_PT_ZAP_FREE_TABLES, &res);
		vm->st.zapped += res.zapped;
		if (res.flush_needed) {
			flush.start = MN_MIN(flush.start, res.flush_range.start);
			flush.end = MN_MAX(flush.end, res.flush_range.end);
		}
	}
	if (flush.start < flush.end)
		kvm_flush_remote_tlbs_range(vm, as, flush.start, flush.end);
	mn_write_unlock(vm->sim, &vm->mmu_lock);
}
