// SPDX-License-Identifier: MIT
/*
 * mmu_notifier.c - KVM's mmu_notifier handlers (virt/kvm/kvm_main.c): the hva walker
 * kvm_handle_hva_range(), invalidate_range_start/end with the invalidation bookkeeping
 * (kvm_mmu_invalidate_begin/range_add/end), the aging callbacks, release, and the retry
 * checks faults use (mmu_invalidate_retry*()). PROTOCOL.md §3.1-§3.5.
 */
#include "kvm/kvm-internal.h"

typedef bool (*gfn_handler_t)(struct mn_vm *vm, const struct kvm_gfn_range *range);
typedef void (*on_lock_fn_t)(struct mn_vm *vm);

struct kvm_mmu_notifier_range {
	mn_hva_t start;
	mn_hva_t end;
	gfn_handler_t handler;
	on_lock_fn_t on_lock;
	bool flush_on_ret;
	bool may_block;
	bool lockless;
	const char *flush_step; /* the named step of the flush while mmu_lock is held */
};

struct kvm_mn_ret {
	bool ret;
	bool found_memslot;
};

static struct mn_vm *to_vm(struct mn_notifier *sub)
{
	return container_of(sub, struct mn_vm, mmu_notifier);
}

/*
 * hva events never concern private memory (it has no userspace mapping); the fix of seed
 * 000 also tags them as userspace-mapping events.
 */
static unsigned int hva_attr_filter(const struct mn_vm *vm)
{
	if (kvm_variant(vm, MN_VARIANT_FILTER_USERSPACE_MAPPINGS))
		return KVM_FILTER_SHARED | KVM_FILTER_USERSPACE_MAPPINGS;
	return KVM_FILTER_SHARED;
}

/* The gfns of @slot whose pages meet [r->start, r->end). */
static struct kvm_gfn_range hva_to_gfn_range(const struct mn_vm *vm, struct kvm_memory_slot *slot,
					     const struct kvm_mmu_notifier_range *r)
{
	mn_hva_t uaddr = slot->userspace_addr;
	mn_hva_t hs = MN_MAX(r->start, uaddr);
	mn_hva_t he = MN_MIN(r->end, uaddr + (slot->npages << MN_PAGE_SHIFT));

	return (struct kvm_gfn_range){
		.slot = slot,
		.start = slot->base_gfn + ((hs - uaddr) >> MN_PAGE_SHIFT),
		.end = slot->base_gfn + ((he + MN_PAGE_SIZE - 1 - uaddr) >> MN_PAGE_SHIFT),
		.attr_filter = hva_attr_filter(vm),
		.may_block = r->may_block,
	};
}

/*
 * kvm_handle_hva_range(): under SRCU, for each address space and each slot of its active
 * set whose hva range meets [start, end): on the first such slot take mmu_lock (unless
 * lockless) and run on_lock once, then the handler per slot; flush while still holding
 * mmu_lock when asked and a handler asked for it.
 */
static struct kvm_mn_ret kvm_handle_hva_range(struct mn_vm *vm,
					      const struct kvm_mmu_notifier_range *r)
{
	struct kvm_mn_ret out = { false, false };
	unsigned int as;
	int idx;

	if (r->end <= r->start)
		return out;
	idx = mn_srcu_read_lock(vm->sim, &vm->srcu);
	for (as = 0; as < vm->nr_as; as++) {
		struct kvm_memslots *slots = kvm_memslots(vm, as);
		struct mn_itree_node *n;

		mn_itree_for_each(n, &slots->hva_tree, r->start, r->end - 1) {
			struct kvm_memory_slot *slot = slot_of_hva_node(n, slots->node_idx);
			struct kvm_gfn_range range;

			/*
			 * The RFC of seed 000 (and the pfn-cache-sequence variant built on it):
			 * a guest_memfd-only slot is none of the mm's business, so the walker
			 * passes it by: no begin, no end, no sequence bump.
			 */
			if (kvm_memslot_is_gmem_only(slot) &&
			    kvm_variant(vm, MN_VARIANT_RFC_SKIP_GMEM_ONLY | MN_VARIANT_GPC_OWN_SEQ)) {
				mn_trace(vm->trace, "kvm.hva_walk_skip", MN_KV_U("as", as),
					 MN_KV_U("slot", slot->id), MN_KV_S("why", "gmem-only"));
				continue;
			}
			range = hva_to_gfn_range(vm, slot, r);
			if (!out.found_memslot) {
				out.found_memslot = true;
				if (!r->lockless) {
					mn_write_lock(vm->sim, &vm->mmu_lock);
					if (r->on_lock)
						r->on_lock(vm);
				}
				if (!r->handler)
					goto unlock;
			}
			out.ret |= r->handler(vm, &range);
		}
	}
unlock:
	if (r->flush_on_ret && out.ret && (!r->flush_step || mn_step(vm->sim, r->flush_step)))
		kvm_flush_remote_tlbs(vm);
	if (out.found_memslot && !r->lockless)
		mn_write_unlock(vm->sim, &vm->mmu_lock);
	mn_srcu_read_unlock(vm->sim, &vm->srcu, idx);
	return out;
}

/* ---- invalidation bookkeeping ----------------------------------------------------------- */

void kvm_mmu_invalidate_begin(struct mn_vm *vm)
{
	if (!mn_step(vm->sim, "invalidate_start.begin"))
		return;
	vm->mmu_invalidate_in_progress++;
	if (vm->mmu_invalidate_in_progress == 1) {
		vm->mmu_invalidate_range_start = MN_INVALID_GFN;
		vm->mmu_invalidate_range_end = MN_INVALID_GFN;
	}
	mn_trace(vm->trace, "kvm.invalidate_begin",
		 MN_KV_I("in_progress", vm->mmu_invalidate_in_progress));
}

void kvm_mmu_invalidate_range_add(struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end)
{
	if (!vm->mmu_invalidate_in_progress)
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.range_add_outside_begin",
			       "invalidation range [%#llx, %#llx) added with in_progress 0",
			       (unsigned long long)start, (unsigned long long)end);
	if (vm->mmu_invalidate_range_start == MN_INVALID_GFN) {
		vm->mmu_invalidate_range_start = start;
		vm->mmu_invalidate_range_end = end;
	} else {
		/* The union: never shrinks until in_progress is back to 0. */
		vm->mmu_invalidate_range_start = MN_MIN(vm->mmu_invalidate_range_start, start);
		vm->mmu_invalidate_range_end = MN_MAX(vm->mmu_invalidate_range_end, end);
	}
}

void kvm_mmu_invalidate_end(struct mn_vm *vm)
{
	/* seq first, then in_progress: a reader sees the old in_progress or the new seq. */
	if (mn_step(vm->sim, "invalidate_end.seq_bump"))
		vm->mmu_invalidate_seq++;
	if (!mn_step(vm->sim, "invalidate_end.in_progress_dec"))
		return;
	vm->mmu_invalidate_in_progress--;
	if (vm->mmu_invalidate_in_progress < 0)
		mn_sim_reportf(
			vm->sim, MN_VIOL_CHECK, "kvm.in_progress_negative",
			"mmu_invalidate_in_progress went negative (%lld): an end without its "
			"begin",
			(long long)vm->mmu_invalidate_in_progress);
	if (vm->mmu_invalidate_range_start == MN_INVALID_GFN)
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.end_without_range",
			       "an invalidation ended without any range added (a begin without "
			       "range_add is a KVM bug)");
	mn_trace(vm->trace, "kvm.invalidate_end", MN_KV_U("seq", vm->mmu_invalidate_seq),
		 MN_KV_I("in_progress", vm->mmu_invalidate_in_progress));
}

/* Under mmu_lock: is a fault that snapshotted @mmu_seq for @gfn stale? (range version) */
bool mmu_invalidate_retry_gfn(const struct mn_vm *vm, uint64_t mmu_seq, mn_gfn_t gfn)
{
	if (vm->mmu_invalidate_in_progress) {
		if (vm->mmu_invalidate_range_start == MN_INVALID_GFN) {
			/* WARN_ON_ONCE in the kernel: begin without range_add. */
			mn_sim_reportf(
				vm->sim, MN_VIOL_CHECK, "kvm.retry_without_range",
				"a fault found an invalidation in progress with no range added");
			return true;
		}
		if (gfn >= vm->mmu_invalidate_range_start && gfn < vm->mmu_invalidate_range_end)
			return true;
	}
	return vm->mmu_invalidate_seq != mmu_seq;
}

/* Under mmu_lock: the non-range check arm64 uses (any invalidation in flight retries). */
bool mmu_invalidate_retry(const struct mn_vm *vm, uint64_t mmu_seq)
{
	if (vm->mmu_invalidate_in_progress)
		return true;
	return vm->mmu_invalidate_seq != mmu_seq;
}

/* ---- the callbacks ------------------------------------------------------------------------ */

/*
 * kvm_mmu_unmap_gfn_range(): record the range, then unmap it (the step @zap_step guards
 * the unmap). Under the seed-000 fix a userspace-mapping event leaves a guest_memfd-only
 * slot mapped: its pages never came from that mapping. The range is still added, so begin
 * and end run and the sequence moves, which the pfn caches rely on.
 */
bool kvm_mmu_unmap_gfn_range(struct mn_vm *vm, const struct kvm_gfn_range *range,
			     const char *zap_step)
{
	kvm_mmu_invalidate_range_add(vm, range->start, range->end);
	if ((range->attr_filter & KVM_FILTER_USERSPACE_MAPPINGS) &&
	    kvm_memslot_is_gmem_only(range->slot))
		return false;
	if (!mn_step(vm->sim, zap_step))
		return false;
	return kvm_unmap_gfn_range(vm, range);
}

static bool kvm_mmu_unmap_hva_range(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	return kvm_mmu_unmap_gfn_range(vm, range, "invalidate_start.zap");
}

static int kvm_mmu_notifier_invalidate_range_start(struct mn_notifier *sub,
						   const struct mn_notifier_range *r)
{
	struct mn_vm *vm = to_vm(sub);
	const struct kvm_mmu_notifier_range hva_range = {
		.start = r->start,
		.end = r->end,
		.handler = kvm_mmu_unmap_hva_range,
		.on_lock = kvm_mmu_invalidate_begin,
		.flush_on_ret = true,
		.may_block = r->flags & MN_NOTIFIER_RANGE_BLOCKABLE,
		.flush_step = "invalidate_start.tlb_flush",
	};

	/* Counted before anything else: memslot swaps wait for it to drop to 0. */
	mn_spin_lock(vm->sim, &vm->mn_invalidate_lock);
	if (mn_step(vm->sim, "invalidate_start.mn_count"))
		vm->mn_active_invalidate_count++;
	mn_spin_unlock(vm->sim, &vm->mn_invalidate_lock);
	/*
	 * gfn_to_pfn caches are invalidated here, after mn_count went up and before mmu_lock:
	 * a refresh that took its page before this point sees mn_count raised and retries.
	 * Not the kernel's: a VM without active caches skips the call, and with it the step
	 * and gpc_lock, so scenarios without caches keep their schedules and mutants. That
	 * unlocked peek is safe: a cache put on the list after it cannot publish while
	 * mn_count, raised above, is.
	 */
	if (vm->gpc_list && mn_step(vm->sim, "invalidate_start.gpc_invalidate"))
		gfn_to_pfn_cache_invalidate_start(vm, r->start, r->end);
	kvm_handle_hva_range(vm, &hva_range);
	return 0;
}

static void kvm_mmu_notifier_invalidate_range_end(struct mn_notifier *sub,
						  const struct mn_notifier_range *r)
{
	struct mn_vm *vm = to_vm(sub);
	const struct kvm_mmu_notifier_range hva_range = {
		.start = r->start,
		.end = r->end,
		.on_lock = kvm_mmu_invalidate_end,
	};
	bool wake;

	kvm_handle_hva_range(vm, &hva_range);
	/* The seed-000 reply: the pfn caches' own sequence, memslot or not. */
	if (kvm_variant(vm, MN_VARIANT_GPC_OWN_SEQ) && vm->gpc_list &&
	    mn_step(vm->sim, "invalidate_end.gpc_seq_bump"))
		gfn_to_pfn_cache_invalidate_end(vm, r->start, r->end);
	mn_spin_lock(vm->sim, &vm->mn_invalidate_lock);
	if (!vm->mn_active_invalidate_count) {
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.mn_count_underflow",
			       "invalidate_range_end with mn_active_invalidate_count already 0");
		wake = false;
	} else {
		wake = !--vm->mn_active_invalidate_count;
	}
	mn_spin_unlock(vm->sim, &vm->mn_invalidate_lock);
	/* The memslot updater may be waiting for the count to drop to zero. */
	if (wake)
		mn_wake_up(vm->sim, &vm->mn_memslots_update_wait);
}

/* Aging: x86 ages locklessly and elides the flush; arm64 takes mmu_lock and flushes. */
static int age_hva_range(struct mn_vm *vm, mn_hva_t start, mn_hva_t end, gfn_handler_t handler,
			 bool flush)
{
	const struct kvm_mmu_notifier_range hva_range = {
		.start = start,
		.end = end,
		.handler = handler,
		.flush_on_ret = flush,
		.lockless = vm->cfg.arch == MN_VM_X86,
	};

	return kvm_handle_hva_range(vm, &hva_range).ret;
}

static int kvm_mmu_notifier_clear_flush_young(struct mn_notifier *sub, struct mn_mm *mm,
					      mn_hva_t start, mn_hva_t end)
{
	struct mn_vm *vm = to_vm(sub);

	(void)mm;
	return age_hva_range(vm, start, end, kvm_age_gfn, vm->cfg.arch != MN_VM_X86);
}

static int kvm_mmu_notifier_clear_young(struct mn_notifier *sub, struct mn_mm *mm, mn_hva_t start,
					mn_hva_t end)
{
	(void)mm;
	return age_hva_range(to_vm(sub), start, end, kvm_age_gfn, false);
}

static int kvm_mmu_notifier_test_young(struct mn_notifier *sub, struct mn_mm *mm, mn_hva_t addr)
{
	(void)mm;
	return age_hva_range(to_vm(sub), addr, addr + 1, kvm_test_age_gfn, false);
}

static void kvm_mmu_notifier_release(struct mn_notifier *sub, struct mn_mm *mm)
{
	struct mn_vm *vm = to_vm(sub);
	int idx;

	(void)mm;
	idx = mn_srcu_read_lock(vm->sim, &vm->srcu);
	kvm_arch_flush_shadow_all(vm);
	mn_srcu_read_unlock(vm->sim, &vm->srcu, idx);
}

const struct mn_notifier_ops kvm_mmu_notifier_ops = {
	.release = kvm_mmu_notifier_release,
	.clear_flush_young = kvm_mmu_notifier_clear_flush_young,
	.clear_young = kvm_mmu_notifier_clear_young,
	.test_young = kvm_mmu_notifier_test_young,
	.invalidate_range_start = kvm_mmu_notifier_invalidate_range_start,
	.invalidate_range_end = kvm_mmu_notifier_invalidate_range_end,
};
