// SPDX-License-Identifier: MIT
/*
 * fault.c - one guest access and the vCPU fault paths behind its misses: the x86 TDP MMU fault
 * (arch/x86/kvm/mmu/mmu.c: kvm_tdp_page_fault(), kvm_mmu_faultin_pfn(), is_page_fault_stale(),
 * kvm_mmu_hugepage_adjust(); tdp_mmu.c: kvm_tdp_mmu_map()) and the arm64 stage-2 abort
 * (arch/arm64/kvm/mmu.c: kvm_handle_guest_abort(), user_mem_abort()), both taking their page
 * from hva_to_pfn() (virt/kvm/kvm_main.c). PROTOCOL.md §3.6, §3.7.
 */
#include "kvm/kvm-internal.h"

#include "host/file-ops.h"

/*
 * The named steps of a fault, and what a mutation that skips one does:
 *
 * fault.seq_snapshot        mmu_invalidate_seq is read before the page lookup (x86: first
 *                           thing in kvm_mmu_faultin_pfn(); arm64: still under the mmap
 *                           lock). Skipped, the snapshot is taken late, right after GUP: an
 *                           invalidation that starts and ends while GUP runs leaves no trace
 *                           in it, and the fault installs a page the host has already
 *                           unmapped (PROTOCOL.md §4 I2; on arm64 a later form of B10). The
 *                           frame is freed when the fault drops its GUP reference.
 * fault.invalid_slot_check  x86: a slot being deleted or moved (KVM_MEMSLOT_INVALID) sends
 *                           the guest back to fault again.
 * fault.precheck            x86: mmu_invalidate_retry_gfn_unsafe() before the page lookup,
 * fault.precheck_after_gup  and again after it. Both only spare mmu_lock (B12); skipping
 *                           them is an equivalent mutant.
 * fault.mmu_lock            mmu_lock (x86: read, arm64: read) around the staleness check and
 *                           the install. Skipped, an invalidation can start and finish
 *                           between the check and the install.
 * fault.retry_check         is_page_fault_stale() (x86, by gfn range) or
 *                           mmu_invalidate_retry() (arm64, any invalidation) under mmu_lock.
 *                           Skipped, a fault whose GUP raced an munmap installs the old page:
 *                           the munmap's zap had nothing to remove yet, and the frame goes
 *                           when the fault drops its reference, so the next access through
 *                           the entry reports frame.use_after_free.
 * fault.install             the leaf itself. Skipped, nothing is installed and the guest
 *                           faults until it gives up: only liveness suffers.
 * fault.userfault_check     KVM_MEM_USERFAULT (kvm_do_userfault(), KVM Userfault series
 *                           v3): in a slot with the flag, a gfn whose bit is set in the
 *                           VMM's bitmap exits to the VMM (-EFAULT, MEMORY_FAULT with
 *                           KVM_MEMORY_EXIT_FLAG_USERFAULT) instead of being mapped. Where
 *                           the series puts it: after the sequence snapshot and, on x86,
 *                           after the INVALID-slot check and the lockless precheck, first
 *                           thing in __kvm_mmu_faultin_pfn(); on arm64 right after the
 *                           mmap lock is dropped; both before GUP. Skipped, the gfn is
 *                           mapped: kvm.userfault_mapped.
 * fault.mark_dirty          mark_page_dirty_in_slot() for a fault that grants write access
 *                           in a logged slot: x86 before the SPTE is installed (make_spte(),
 *                           under mmu_lock), arm64 after mmu_lock is dropped. Skipped, the
 *                           page is writable and clean: kvm.dirty_log_writable.
 * fast_pf.set_writable      x86 fast_page_fault(): a write to a present SPTE that lost W to
 * fast_pf.mark_dirty        dirty logging but kept MMU-writable gets W back in place with
 *                           a compare-and-exchange, no GUP, no sequence snapshot (the pfn
 *                           does not change), then the page is marked dirty. Skipping the
 *                           first sends every such write down the slow path (equivalent);
 *                           skipping the second is caught by kvm.dirty_log_writable.
 *
 * Dirty logging and userfault slots map 4 KiB pages only (x86 kvm_mmu_hugepage_adjust(),
 * arm64 force_pte); arm64 maps a non-write fault of a logged slot read-only, so that the
 * first write takes a permission fault, which relaxes the leaf to writable in place
 * (kvm_pgtable_stage2_relax_perms()) and marks the page dirty. x86 marks a page dirty
 * whenever a fault installs a writable SPTE in a logged slot, reads included (they map
 * writable when GUP allows it).
 *
 * Not modelled: access-tracked SPTEs in fast_page_fault() (A/D bits are on), PML, the dirty
 * ring, private memory and guest_memfd, the NX huge page mitigation, TDP root invalidation
 * (B9), MMIO SPTE caching, HWPOISON and async page faults.
 */

/* Guest accesses a vCPU makes before it gives up on one access (see mn_vcpu_access()). */
#define VCPU_ACCESS_MAX_TRIES 64

/* What one fault ended with (the kernel's RET_PF_*, plus an exit to the VMM). */
enum pf_ret {
	RET_PF_FIXED = 0, /* a leaf was installed: access again */
	RET_PF_SPURIOUS,  /* another vCPU had installed it already: access again */
	RET_PF_RETRY,	  /* back to the guest, which faults again */
	RET_PF_EXIT,	  /* to the VMM, with the exit filled in */
	RET_PF_INVALID,	  /* fast_page_fault(): not handled, take the slow path */
};

/* struct kvm_page_fault: what one fault knows. */
struct kvm_page_fault {
	struct mn_vm *vm;
	struct mn_vcpu *vcpu;
	unsigned int as_id;
	mn_gpa_t addr;
	mn_gfn_t gfn;
	bool write;
	bool exec;
	bool present; /* a permission fault on a present leaf (PFERR_PRESENT, ESR perm fault) */
	struct kvm_memory_slot *slot;
	mn_hva_t hva;
	uint64_t mmu_seq;
	struct mn_gup_page page;
	bool have_page;
	bool gmem_page;	 /* @page came from kvm_gmem_get_pfn(), not GUP */
	bool is_private; /* the guest accessed the gfn as private memory */
	unsigned int max_order; /* guest_memfd: the folio's order */
	bool map_writable;
	unsigned int goal_level;
	struct mn_vcpu_exit *exit;
};

static enum pf_ret fault_exit(struct kvm_page_fault *f, enum mn_exit_reason reason, int error)
{
	f->exit->reason = reason;
	f->exit->gpa = f->addr;
	f->exit->error = error;
	/* kvm_prepare_memory_fault_exit() */
	f->exit->flags = reason == MN_EXIT_MEMORY_FAULT && f->is_private
				 ? MN_MEMORY_EXIT_FLAG_PRIVATE
				 : 0;
	mn_trace(f->vm->trace, "kvm.fault_exit", MN_KV_X("gpa", f->addr),
		 MN_KV_S("reason", reason == MN_EXIT_MMIO ? "mmio" : "memory_fault"),
		 MN_KV_I("error", error));
	return RET_PF_EXIT;
}

/* ---- the page: hva_to_pfn() and kvm_release_faultin_page() ----------------------------- */

/*
 * hva_to_pfn() for one page. When the page is wanted writable (a write fault, or a read
 * fault of a slot that is not read-only, which KVM maps writable when it can), the lockless
 * walk is tried for a writable page first (hva_to_pfn_fast()); a read-only grab never comes
 * from the lockless walk alone, as it could race a copy-on-write break. Then the slow path
 * with the fault's own flags, after which a read fault tries the lockless walk once more for
 * a writable page (hva_to_pfn_slow()). @writable says whether the page was obtained for
 * writing, which is what lets the fault map it writable.
 *
 * Every GUP error becomes -EFAULT, as KVM turns them into KVM_PFN_ERR_FAULT (no signals,
 * HWPOISON or VM_PFNMAP here).
 */
static int hva_to_pfn(struct mn_mm *mm, mn_hva_t hva, bool write, bool want_writable,
		      struct mn_gup_page *page, bool *writable)
{
	struct mn_gup_page wpage;

	if ((write || want_writable) && !mn_mm_gup_fast(mm, hva, MN_FOLL_WRITE, page)) {
		*writable = true;
		return 0;
	}
	if (mn_mm_gup(mm, hva, write ? MN_FOLL_WRITE : 0, page))
		return -EFAULT;
	*writable = write;
	if (!write && want_writable && !mn_mm_gup_fast(mm, hva, MN_FOLL_WRITE, &wpage)) {
		mn_mm_put_page(mm, page);
		*page = wpage;
		*writable = true;
	}
	return 0;
}

/* __kvm_faultin_pfn(): the page behind @hva, writable only if the slot allows it. */
static int kvm_faultin_pfn(struct kvm_page_fault *f, mn_hva_t hva)
{
	bool ro = f->slot->flags & MN_MEM_READONLY;
	int r;

	r = hva_to_pfn(f->vm->mm, hva, f->write, !ro, &f->page, &f->map_writable);
	if (r)
		return r;
	f->have_page = true;
	mn_trace(f->vm->trace, "kvm.faultin_pfn", MN_KV_X("gfn", f->gfn),
		 MN_KV_X("pfn", f->page.ref.pfn), MN_KV_U("writable", f->map_writable));
	return 0;
}

/*
 * kvm_release_faultin_page(): drop the GUP reference. Secondary leaves hold none, so from
 * here on only the notifier protocol keeps the frame's leaf honest. (Marking the folio
 * dirty and accessed is not modelled.)
 */
static void kvm_release_faultin_page(struct kvm_page_fault *f)
{
	if (!f->have_page)
		return;
	if (f->gmem_page)
		mn_phys_put(f->vm->phys, f->page.ref, "kvm.release_gmem_page");
	else
		mn_mm_put_page(f->vm->mm, &f->page);
	f->have_page = false;
}

/*
 * kvm_mmu_faultin_pfn_gmem() / the page half of arm64 gmem_abort(): the page comes from
 * the slot's guest_memfd with a reference (kvm_gmem_get_pfn()), writable unless the slot is
 * read-only (it never is: guest_memfd slots cannot be), never from the VMM's mapping.
 * A slot without guest_memfd, or a file that is gone, is a memory-fault exit.
 */
static int kvm_faultin_pfn_gmem(struct kvm_page_fault *f)
{
	int r;

	if (!kvm_slot_has_gmem(f->slot))
		return -EFAULT;
	r = kvm_gmem_get_pfn(f->vm, f->slot, f->gfn, &f->page.ref, &f->max_order);
	if (r)
		return r;
	f->have_page = true;
	f->gmem_page = true;
	f->map_writable = !(f->slot->flags & MN_MEM_READONLY);
	mn_trace(f->vm->trace, "kvm.faultin_pfn", MN_KV_X("gfn", f->gfn),
		 MN_KV_X("pfn", f->page.ref.pfn), MN_KV_U("writable", f->map_writable),
		 MN_KV_S("from", "guest_memfd"));
	return 0;
}

/*
 * The largest level at which a guest_memfd page may be mapped: the folio decides, never
 * the host page tables (seed 003: for guest_memfd KVM is the primary MMU). A block needs
 * the gfn and the file index to agree within it, so that one folio backs it whole.
 * MN_VARIANT_GMEM_HOST_LEVEL is the wrong idea of the thread: the host mapping of the hva.
 */
static unsigned int kvm_gmem_max_level(struct kvm_page_fault *f)
{
	uint64_t index = f->gfn - f->slot->base_gfn + f->slot->gmem.pgoff;
	unsigned int level;

	if (kvm_variant(f->vm, MN_VARIANT_GMEM_HOST_LEVEL))
		return (unsigned int)mn_mm_host_mapping_level(f->vm->mm, f->hva);
	for (level = MN_PG_LEVEL_1G; level > MN_PG_LEVEL_4K; level--)
		if (mn_level_pages(level) <= (1ULL << f->max_order) &&
		    !((f->gfn ^ index) & (mn_level_pages(level) - 1)))
			break;
	return level;
}

/* ---- shared pieces ----------------------------------------------------------------------- */

/*
 * mmu_invalidate_retry_gfn_unsafe(): the lockless form of mmu_invalidate_retry_gfn(). Its
 * reads are racy; a wrong answer costs a retry or a trip through mmu_lock, never
 * correctness. An invalidation that has not added its range yet (start still INVALID)
 * matches no gfn, as in the kernel.
 */
static bool mmu_invalidate_retry_gfn_unsafe(const struct mn_vm *vm, uint64_t mmu_seq, mn_gfn_t gfn)
{
	if (vm->mmu_invalidate_in_progress && gfn >= vm->mmu_invalidate_range_start &&
	    gfn < vm->mmu_invalidate_range_end)
		return true;
	return vm->mmu_invalidate_seq != mmu_seq;
}

/* The snapshot of mmu_invalidate_seq (followed by smp_rmb() in the kernel). */
static void snapshot_seq(struct kvm_page_fault *f)
{
	f->mmu_seq = f->vm->mmu_invalidate_seq;
	mn_trace(f->vm->trace, "kvm.fault_seq", MN_KV_X("gfn", f->gfn), MN_KV_U("seq", f->mmu_seq));
}

/*
 * Install the leaf (x86 tdp_mmu_map_handle_target_level(), arm64 kvm_pgtable_stage2_map()).
 * Both install next to concurrent faults under mmu_lock(read) with compare-and-exchange:
 * finding another vCPU's leaf there is a spurious fault, and a frozen or locked entry makes
 * the guest fault again.
 */
static enum pf_ret map_leaf(struct kvm_page_fault *f, unsigned int perm)
{
	struct mn_vm *vm = f->vm;
	int r;

	if (!mn_step(vm->sim, "fault.install"))
		return RET_PF_FIXED; /* the mutation: nothing installed */
	/*
	 * The oracle at the install itself (I2, not a step, so no mutation skips it): with
	 * mmu_lock held, nothing may be installed for a gfn inside an invalidation in progress
	 * or after the snapshot went stale. The retry check guarantees it; a fault that lost
	 * its check (or took its snapshot too late to see the invalidation) breaks it here.
	 */
	if (f->slot &&
	    (vm->mmu_invalidate_seq != f->mmu_seq ||
	     (vm->mmu_invalidate_in_progress &&
	      (vm->cfg.arch == MN_VM_ARM64 || (f->gfn >= vm->mmu_invalidate_range_start &&
					       f->gfn < vm->mmu_invalidate_range_end)))))
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.install_during_invalidation",
			       "gfn %#llx installed while an invalidation covers it or after its "
			       "sequence snapshot %llu went stale (now %llu, in progress %lld)",
			       (unsigned long long)f->gfn, (unsigned long long)f->mmu_seq,
			       (unsigned long long)vm->mmu_invalidate_seq,
			       (long long)vm->mmu_invalidate_in_progress);
	r = kvm_mmu_map(vm, f->as_id, f->gfn, f->page.ref, f->goal_level, perm);
	mn_trace(vm->trace, "kvm.fault_map", MN_KV_X("gfn", f->gfn),
		 MN_KV_X("pfn", f->page.ref.pfn), MN_KV_U("level", f->goal_level),
		 MN_KV_X("perm", perm), MN_KV_I("ret", r));
	switch (r) {
	case 0:
		return RET_PF_FIXED;
	case -EEXIST:
		return RET_PF_SPURIOUS;
	case -EAGAIN:
		return RET_PF_RETRY;
	default:
		return fault_exit(f, MN_EXIT_MEMORY_FAULT, r); /* -ENOMEM: KVM_RUN fails */
	}
}

/*
 * kvm_do_userfault() (KVM Userfault series): in a slot with KVM_MEM_USERFAULT, read the
 * gfn's bit from the VMM's bitmap (__get_user() of its word; it cannot fault here, the
 * bitmap being a pointer the VMM handed over); set, the fault exits with -EFAULT and
 * KVM_MEMORY_EXIT_FLAG_USERFAULT (kvm_prepare_memory_fault_exit(): the page's gpa).
 */
static bool kvm_do_userfault(struct kvm_page_fault *f)
{
	struct kvm_memory_slot *slot = f->slot;

	if (!kvm_is_userfault_memslot(slot) || !mn_step(f->vm->sim, "fault.userfault_check"))
		return false;
	if (!bitmap_test(slot->userfault_bitmap, f->gfn - slot->base_gfn))
		return false;
	fault_exit(f, MN_EXIT_MEMORY_FAULT, -EFAULT);
	f->exit->gpa = f->gfn << MN_PAGE_SHIFT;
	f->exit->flags = MN_MEMORY_EXIT_FLAG_USERFAULT;
	mn_trace(f->vm->trace, "kvm.userfault_exit", MN_KV_X("gfn", f->gfn));
	return true;
}

/*
 * The oracle's view of a fault that has made the leaf writable and marks the page dirty
 * afterwards: from dirty_pending_begin() to dirty_pending_end() the page may be writable
 * and clean (the mark is coming).
 */
static void dirty_pending_begin(struct kvm_page_fault *f)
{
	f->vcpu->dirty_pending = true;
	f->vcpu->dirty_pending_as = f->as_id;
	f->vcpu->dirty_pending_gfn = f->gfn;
}

static void dirty_pending_end(struct kvm_page_fault *f, const char *step)
{
	if (mn_step(f->vm->sim, step))
		mark_page_dirty_in_slot(f->vm, f->slot, f->gfn);
	f->vcpu->dirty_pending = false;
}

/* ---- x86: kvm_tdp_page_fault() ---------------------------------------------------------- */

/* What a fast_page_fault() walk saw, for the compare-and-exchange. */
struct fast_pf_arg {
	struct mn_pte seen;
	bool done;
};

static bool fast_pf_fix_spte(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct fast_pf_arg *a = arg;

	(void)gfn;
	(void)gen;
	/* The compare of the cmpxchg: it fails when the SPTE changed since the walk. */
	if (pte->kind != a->seen.kind || pte->level != a->seen.level || pte->pfn != a->seen.pfn ||
	    pte->perm != a->seen.perm || pte->sw != a->seen.sw ||
	    pte->accessed != a->seen.accessed || pte->dirty != a->seen.dirty ||
	    pte->memtype != a->seen.memtype)
		return false;
	pte->perm |= MN_PTE_W;
	a->done = true;
	return true;
}

/*
 * fast_page_fault(): only for a write that faulted on a present SPTE (page_fault_can_be_fast()
 * with A/D bits on). A lockless walk (RCU, no mmu_lock) reads the leaf; a leaf that already
 * allows the access is a spurious fault; a 4K leaf (or a huge one outside a logged slot)
 * that is MMU-writable gets W back with a compare-and-exchange (fast_pf_fix_direct_spte()),
 * up to 4 tries, and the page is marked dirty after the exchange. No GUP, no sequence
 * snapshot: the pfn does not change, and an invalidation that zapped the SPTE meanwhile
 * makes the exchange fail. RET_PF_INVALID sends the fault down the slow path.
 */
static enum pf_ret fast_page_fault(struct kvm_page_fault *f)
{
	struct mn_vm *vm = f->vm;
	struct mn_pt *pt = vm->pt[f->as_id];
	unsigned int retry;

	for (retry = 0; retry < 4; retry++) {
		struct fast_pf_arg a = { .done = false };
		struct mn_pt_result res;
		struct mn_pt_walk w;
		mn_gfn_t base;

		if (mn_pt_walk(pt, f->gfn, &w))
			return RET_PF_INVALID; /* not present, frozen: the slow path decides */
		if (w.leaf.perm & MN_PTE_W)
			return RET_PF_SPURIOUS;
		if (!(w.leaf.sw & MN_PTE_SW_MMU_WRITABLE))
			return RET_PF_INVALID;
		/* A huge SPTE of a logged slot is write-protected again only at 4K: no. */
		if (w.leaf.level > MN_PG_LEVEL_4K && kvm_slot_dirty_track_enabled(f->slot))
			return RET_PF_INVALID;
		if (!mn_step(vm->sim, "fast_pf.set_writable"))
			return RET_PF_INVALID;
		a.seen = w.leaf;
		base = mn_align_down(f->gfn, mn_level_pages(w.leaf.level));
		if (mn_pt_update(pt, (struct mn_gfn_range){ base, base + 1 }, fast_pf_fix_spte, &a,
				 &res) ||
		    !a.done)
			continue;
		mn_trace(vm->trace, "kvm.fast_pf_fixed", MN_KV_X("gfn", f->gfn),
			 MN_KV_X("pfn", w.pfn));
		if (kvm_slot_dirty_track_enabled(f->slot)) {
			dirty_pending_begin(f);
			dirty_pending_end(f, "fast_pf.mark_dirty");
		}
		return RET_PF_FIXED;
	}
	return RET_PF_INVALID;
}

/*
 * kvm_mmu_hugepage_adjust(): the largest level lpage_info allows for the gfn
 * (kvm_mmu_max_mapping_level()), capped by the level the host maps the hva at
 * (host_pfn_mapping_level(), a lockless walk of the VMM's page table that is only
 * meaningful under mmu_lock once the fault is known not to be stale).
 */
static void kvm_mmu_hugepage_adjust(struct kvm_page_fault *f)
{
	struct mn_vm *vm = f->vm;
	unsigned int level;

	f->goal_level = MN_PG_LEVEL_4K;
	/* Dirty logging tracks 4K pages; so does userfault (KVM Userfault series). */
	if (kvm_slot_dirty_track_enabled(f->slot) || kvm_is_userfault_memslot(f->slot))
		return;
	for (level = vm->fmt.max_leaf_level; level > MN_PG_LEVEL_4K; level--)
		if (kvm_mmu_slot_allows_level(f->vm, f->slot, f->gfn, level))
			break;
	if (level == MN_PG_LEVEL_4K)
		return;
	if (f->gmem_page)
		f->goal_level = MN_MIN(level, kvm_gmem_max_level(f));
	else
		f->goal_level =
			MN_MIN(level, (unsigned int)mn_mm_host_mapping_level(vm->mm, f->hva));
}

/*
 * kvm_tdp_mmu_map(): the access bits make_spte() computes for a TDP fault: readable and
 * executable always (ACC_ALL), writable whenever the page was obtained writable and the
 * slot allows it, whatever the access was; kvm_mmu_map() adds the host- and MMU-writable
 * software bits and the dirty bit. make_spte() marks the page dirty in a logged slot when
 * the SPTE is writable, before the SPTE is installed, all under mmu_lock.
 */
static enum pf_ret kvm_tdp_mmu_map(struct kvm_page_fault *f)
{
	unsigned int perm = MN_PTE_R | MN_PTE_X;

	if (f->map_writable)
		perm |= MN_PTE_W;
	if ((perm & MN_PTE_W) && kvm_slot_dirty_track_enabled(f->slot) &&
	    mn_step(f->vm->sim, "fault.mark_dirty"))
		mark_page_dirty_in_slot(f->vm, f->slot, f->gfn);
	return map_leaf(f, perm);
}

/* is_page_fault_stale() for the TDP MMU without obsolete roots: the exact check. */
static bool is_page_fault_stale(struct kvm_page_fault *f)
{
	return f->slot && mmu_invalidate_retry_gfn(f->vm, f->mmu_seq, f->gfn);
}

/*
 * kvm_tdp_page_fault() -> kvm_tdp_mmu_page_fault(), with kvm_mmu_faultin_pfn() inline:
 * snapshot, slot checks, lockless precheck, page lookup, precheck again; then under
 * mmu_lock(read) the exact check, the level and the install. The page is released before
 * mmu_lock is dropped (kvm_mmu_finish_page_fault(), as the kernel does since 6.13); the
 * order does not matter for safety, since a host unmap of the page must first get through
 * invalidate_range_start, which the check or the zap sees.
 */
static enum pf_ret kvm_tdp_page_fault(struct kvm_page_fault *f)
{
	struct mn_vm *vm = f->vm;
	struct mn_sim *sim = vm->sim;
	enum pf_ret ret;
	bool snap, locked;

	if (f->present && f->write) {
		ret = fast_page_fault(f);
		if (ret != RET_PF_INVALID)
			return ret;
	}
	mn_might_sleep(sim, "mmu_topup_memory_caches");

	/* kvm_mmu_faultin_pfn() */
	snap = mn_step(sim, "fault.seq_snapshot");
	if (snap)
		snapshot_seq(f);
	/*
	 * The access's kind must match the gfn's attributes (checked before the slot, so a
	 * private access to a gfn without a slot exits too): a conversion since the access
	 * sends the VMM a memory-fault exit.
	 */
	if (f->is_private != kvm_mem_is_private(vm, f->gfn))
		return fault_exit(f, MN_EXIT_MEMORY_FAULT, -EFAULT);
	/* kvm_handle_noslot_fault(): emulated MMIO (no MMIO SPTE is cached). */
	if (!f->slot)
		return fault_exit(f, MN_EXIT_MMIO, 0);
	if (mn_step(sim, "fault.invalid_slot_check") && (f->slot->flags & KVM_MEMSLOT_INVALID))
		return RET_PF_RETRY;
	/* Without a snapshot (the mutation) there is nothing to compare against yet. */
	if (snap && mn_step(sim, "fault.precheck") &&
	    mmu_invalidate_retry_gfn_unsafe(vm, f->mmu_seq, f->gfn))
		return RET_PF_RETRY;
	/* __kvm_mmu_faultin_pfn() starts with the userfault check. */
	if (kvm_do_userfault(f))
		return RET_PF_EXIT;
	/* fault_from_gmem(): private, or a guest_memfd-only slot. */
	if (f->is_private || kvm_memslot_is_gmem_only(f->slot)) {
		int r = kvm_faultin_pfn_gmem(f);

		if (r)
			return fault_exit(f, MN_EXIT_MEMORY_FAULT, r);
		goto faulted_in;
	}
	/*
	 * A write to a read-only slot gets no page (KVM_PFN_ERR_RO_FAULT) and is emulated; the
	 * emulator's write to read-only memory is an MMIO exit (uAPI: KVM_MEM_READONLY).
	 */
	if (f->write && (f->slot->flags & MN_MEM_READONLY))
		return fault_exit(f, MN_EXIT_MMIO, 0);
	if (kvm_faultin_pfn(f, f->hva))
		return fault_exit(f, MN_EXIT_MEMORY_FAULT, -EFAULT); /* kvm_handle_error_pfn() */
faulted_in:
	if (!snap) {
		mn_yield(sim, "fault.seq_snapshot_late");
		snapshot_seq(f);
	}
	if (mn_step(sim, "fault.precheck_after_gup") &&
	    mmu_invalidate_retry_gfn_unsafe(vm, f->mmu_seq, f->gfn)) {
		kvm_release_faultin_page(f);
		return RET_PF_RETRY;
	}

	/* kvm_tdp_mmu_page_fault() */
	ret = RET_PF_RETRY;
	locked = mn_step(sim, "fault.mmu_lock");
	if (locked)
		mn_read_lock(sim, &vm->mmu_lock);
	if (mn_step(sim, "fault.retry_check") && is_page_fault_stale(f))
		goto out_unlock;
	kvm_mmu_hugepage_adjust(f);
	ret = kvm_tdp_mmu_map(f);
out_unlock:
	kvm_release_faultin_page(f);
	if (locked)
		mn_read_unlock(sim, &vm->mmu_lock);
	return ret;
}

/* ---- arm64: kvm_handle_guest_abort() ---------------------------------------------------- */

/*
 * arm64: a permission fault whose leaf already maps the page at the fault's level gets its
 * rights widened in place (kvm_pgtable_stage2_relax_perms()); the guest retries either way.
 */
static enum pf_ret relax_perms(struct kvm_page_fault *f, unsigned int perm)
{
	enum pf_ret ret;

	ret = kvm_mmu_relax_perms(f->vm, f->as_id, f->gfn, f->page.ref.pfn, f->goal_level, perm)
		      ? RET_PF_RETRY
		      : RET_PF_FIXED;
	mn_trace(f->vm->trace, "kvm.fault_relax", MN_KV_X("gfn", f->gfn), MN_KV_X("perm", perm),
		 MN_KV_I("ret", ret));
	return ret;
}

/*
 * transparent_hugepage_adjust(): a fault that would map a page is promoted to a 2M block
 * when the slot allows one there and the host maps the hva with a PMD
 * (get_user_mapping_size(), valid only under mmu_lock after the retry check).
 */
static unsigned int transparent_hugepage_adjust(struct kvm_page_fault *f)
{
	struct mn_vm *vm = f->vm;

	if (vm->fmt.max_leaf_level < MN_PG_LEVEL_2M ||
	    !kvm_mmu_slot_allows_level(f->vm, f->slot, f->gfn, MN_PG_LEVEL_2M))
		return MN_PG_LEVEL_4K;
	if (mn_mm_host_mapping_level(vm->mm, f->hva) < MN_PG_LEVEL_2M)
		return MN_PG_LEVEL_4K;
	return MN_PG_LEVEL_2M;
}

/*
 * user_mem_abort(): under the mmap lock, the VMA gives the mapping size (the HugeTLB page
 * size, else a page; PFNMAP is not modelled), downgraded PUD -> PMD -> page while the slot
 * cannot take a block there; the sequence is read before the mmap lock is dropped (the B10
 * fix). GUP runs for the block's first page, as the kernel aligns the IPA first. Under
 * mmu_lock(read) the non-range mmu_invalidate_retry(): any invalidation in flight retries
 * (-EAGAIN, which the kernel turns into a successful return to the guest). The page is
 * released before mmu_lock is dropped.
 */
static enum pf_ret user_mem_abort(struct kvm_page_fault *f)
{
	struct mn_vm *vm = f->vm;
	struct mn_sim *sim = vm->sim;
	bool logging = kvm_slot_dirty_track_enabled(f->slot);
	unsigned int level = MN_PG_LEVEL_4K, perm;
	struct mn_vma_info vma;
	bool snap, locked, writable, force_pte;
	struct mn_pt_walk w;
	enum pf_ret ret;
	mn_gfn_t gfn;

	mn_might_sleep(sim, "kvm_mmu_topup_memory_cache");
	mn_mm_mmap_read_lock(vm->mm);
	if (mn_mm_find_vma(vm->mm, f->hva, &vma)) {
		mn_mm_mmap_read_unlock(vm->mm);
		return fault_exit(f, MN_EXIT_MEMORY_FAULT, -EFAULT);
	}
	/* Dirty logging, and userfault (KVM Userfault series), map pages only. */
	force_pte = logging || kvm_is_userfault_memslot(f->slot);
	if ((vma.flags & MN_VM_HUGETLB) && !force_pte)
		level = MN_MIN(mn_order_to_level(vma.huge_order), vm->fmt.max_leaf_level);
	while (level > MN_PG_LEVEL_4K && !kvm_mmu_slot_allows_level(f->vm, f->slot, f->gfn, level))
		level--;
	f->goal_level = level;
	gfn = mn_align_down(f->gfn, mn_level_pages(level));
	snap = mn_step(sim, "fault.seq_snapshot");
	if (snap)
		snapshot_seq(f);
	mn_mm_mmap_read_unlock(vm->mm);

	if (kvm_do_userfault(f))
		return RET_PF_EXIT;
	if (kvm_faultin_pfn(f, gfn_to_hva_memslot(f->slot, gfn)))
		return fault_exit(f, MN_EXIT_MEMORY_FAULT, -EFAULT);
	if (!snap) {
		mn_yield(sim, "fault.seq_snapshot_late");
		snapshot_seq(f);
	}
	/* Only a write fault maps a page of a logged slot writable: the first write faults. */
	writable = f->map_writable && (f->write || !logging);

	ret = RET_PF_RETRY;
	locked = mn_step(sim, "fault.mmu_lock"); /* kvm_fault_lock() */
	if (locked)
		mn_read_lock(sim, &vm->mmu_lock);
	if (mn_step(sim, "fault.retry_check") && mmu_invalidate_retry(vm, f->mmu_seq))
		goto out_unlock;
	if (f->goal_level == MN_PG_LEVEL_4K && !force_pte)
		f->goal_level = transparent_hugepage_adjust(f);
	/* X only for an instruction fetch (no FEAT_DIC modelled); no device memory. */
	perm = MN_PTE_R | (writable ? MN_PTE_W : 0) | (f->exec ? MN_PTE_X : 0);
	if (writable && logging)
		dirty_pending_begin(f);
	/*
	 * A permission fault whose mapping size is the faulting leaf's own relaxes that leaf
	 * (kvm_pgtable_stage2_relax_perms()); anything else maps (kvm_pgtable_stage2_map()).
	 */
	if (f->present && !mn_pt_walk(vm->pt[f->as_id], f->gfn, &w) &&
	    w.leaf.level == f->goal_level &&
	    w.leaf.pfn == mn_align_down(f->page.ref.pfn, mn_level_pages(f->goal_level))) {
		ret = relax_perms(f, perm);
	} else {
		ret = map_leaf(f, perm);
	}
out_unlock:
	kvm_release_faultin_page(f);
	if (locked)
		mn_read_unlock(sim, &vm->mmu_lock);
	/* Marked only once the fault succeeded, after mmu_lock is dropped. */
	if (f->vcpu->dirty_pending) {
		if (ret == RET_PF_FIXED)
			dirty_pending_end(f, "fault.mark_dirty");
		f->vcpu->dirty_pending = false;
	}
	return ret;
}

/*
 * gmem_abort(): a fault on a guest_memfd slot (arm64 has no private memory: every fault
 * of such a slot takes its page from the file). Sequence first, then the page, then under
 * mmu_lock(read) the non-range retry check and the install at the level the folio allows
 * (the kernel maps PAGE_SIZE only until guest_memfd has huge folios, which is what order-0
 * folios give here). No VMA, no logging (guest_memfd slots cannot log).
 */
static enum pf_ret gmem_abort(struct kvm_page_fault *f)
{
	struct mn_vm *vm = f->vm;
	struct mn_sim *sim = vm->sim;
	unsigned int perm, level;
	bool snap, locked;
	enum pf_ret ret;
	int r;

	mn_might_sleep(sim, "kvm_mmu_topup_memory_cache");
	snap = mn_step(sim, "fault.seq_snapshot");
	if (snap)
		snapshot_seq(f);
	if (kvm_do_userfault(f))
		return RET_PF_EXIT;
	r = kvm_faultin_pfn_gmem(f);
	if (r)
		return fault_exit(f, MN_EXIT_MEMORY_FAULT, r);
	if (!snap) {
		mn_yield(sim, "fault.seq_snapshot_late");
		snapshot_seq(f);
	}

	ret = RET_PF_RETRY;
	locked = mn_step(sim, "fault.mmu_lock");
	if (locked)
		mn_read_lock(sim, &vm->mmu_lock);
	if (mn_step(sim, "fault.retry_check") && mmu_invalidate_retry(vm, f->mmu_seq))
		goto out_unlock;
	f->goal_level = MN_PG_LEVEL_4K;
	if (!kvm_is_userfault_memslot(f->slot)) {
		for (level = MN_MIN(kvm_gmem_max_level(f), vm->fmt.max_leaf_level);
		     level > MN_PG_LEVEL_4K; level--)
			if (kvm_mmu_slot_allows_level(f->vm, f->slot, f->gfn, level))
				break;
		f->goal_level = level;
	}
	perm = MN_PTE_R | (f->map_writable ? MN_PTE_W : 0) | (f->exec ? MN_PTE_X : 0);
	if (f->present && !f->write && f->exec) {
		ret = relax_perms(f, perm);
	} else {
		ret = map_leaf(f, perm);
	}
out_unlock:
	kvm_release_faultin_page(f);
	if (locked)
		mn_read_unlock(sim, &vm->mmu_lock);
	return ret;
}

/*
 * kvm_handle_guest_abort(): no usable hva (no slot, or a slot being deleted or moved, for
 * which the hva lookup fails), or a write to a read-only slot, is emulated MMIO
 * (io_mem_abort()); an instruction fetch there would be a prefetch abort injected into the
 * guest, which is not modelled and exits the same way.
 */
static enum pf_ret kvm_handle_guest_abort(struct kvm_page_fault *f)
{
	if (!f->slot || (f->slot->flags & KVM_MEMSLOT_INVALID) ||
	    (f->write && (f->slot->flags & MN_MEM_READONLY)))
		return fault_exit(f, MN_EXIT_MMIO, 0);
	if (kvm_slot_has_gmem(f->slot))
		return gmem_abort(f);
	return user_mem_abort(f);
}

/* ---- the access ---------------------------------------------------------------------------- */

/*
 * One fault. The vCPU holds kvm->srcu for the whole of KVM_RUN; here, for the fault, which
 * is where it matters: the slot is looked up in the active set before the sequence is read,
 * and a memslot update's synchronize_srcu() waits for the fault to finish with it.
 */
static enum pf_ret kvm_vcpu_fault(struct mn_vcpu *vcpu, unsigned int as_id, mn_gpa_t gpa,
				  unsigned int perm, bool present, struct mn_vcpu_exit *exit)
{
	struct mn_vm *vm = vcpu->vm;
	struct kvm_page_fault f = {
		.vm = vm,
		.vcpu = vcpu,
		.as_id = as_id,
		.addr = gpa,
		.gfn = gpa >> MN_PAGE_SHIFT,
		.write = perm == MN_PTE_W,
		.exec = perm == MN_PTE_X,
		.present = present,
		.exit = exit,
		/*
		 * SW_PROTECTED (and, as modelled, SNP/TDX) VMs: the access is private when the
		 * gfn's attributes say so when the vCPU faults (the synthetic
		 * PFERR_PRIVATE_ACCESS); the fault path checks it again later.
		 */
		.is_private = kvm_mem_is_private(vm, gpa >> MN_PAGE_SHIFT),
	};
	enum pf_ret ret;
	int idx;

	vm->st.faults++;
	vcpu->faults++;
	idx = mn_srcu_read_lock(vm->sim, &vm->srcu);
	f.slot = kvm_gfn_to_memslot(kvm_memslots(vm, as_id), f.gfn);
	if (f.slot)
		f.hva = gfn_to_hva_memslot(f.slot, f.gfn);
	mn_trace(vm->trace, "kvm.fault", MN_KV_U("vcpu", vcpu->id), MN_KV_X("gpa", gpa),
		 MN_KV_X("perm", perm), MN_KV_X("hva", f.hva));
	if (vm->cfg.arch == MN_VM_X86)
		ret = kvm_tdp_page_fault(&f);
	else
		ret = kvm_handle_guest_abort(&f);
	mn_srcu_read_unlock(vm->sim, &vm->srcu, idx);
	return ret;
}

/* The load or store, in the step of the translation that allowed it. */
static int guest_load_store(struct mn_vm *vm, mn_pfn_t pfn, unsigned int perm, uint64_t *val)
{
	struct mn_frame_ref ref = { pfn, 0 };
	struct mn_frame_info fi;

	if (!val)
		return 0;
	if (!mn_phys_frame_info(vm->phys, pfn, &fi))
		ref.gen = fi.gen;
	if (perm == MN_PTE_W)
		return mn_phys_write(vm->phys, ref, *val, "vcpu.write");
	return mn_phys_read(vm->phys, ref, val, "vcpu.read");
}

/*
 * The guest's view: the access goes through the vCPU's TLB and the table; a miss (EPT
 * violation, stage-2 translation or permission fault) enters the fault path, and whatever
 * the fault did the guest simply tries again, as it re-executes the instruction. A frozen or
 * locked entry makes the hardware walk again. After VCPU_ACCESS_MAX_TRIES attempts the
 * access gives up with a MEMORY_FAULT exit carrying -EAGAIN: a real vCPU would keep
 * faulting until the invalidation in its way ends, which a schedule that never runs the
 * invalidating thread again cannot show, so the simulation reports it instead of spinning.
 */
static int vcpu_access(struct mn_vcpu *vcpu, unsigned int as_id, mn_gpa_t gpa, unsigned int perm,
		       uint64_t *val, struct mn_vcpu_exit *out)
{
	struct mn_vcpu_exit exit = { MN_EXIT_NONE, gpa, 0, 0 };
	unsigned int tries;
	struct mn_vm *vm;
	mn_gfn_t gfn;
	mn_pfn_t pfn;
	int r;

	if (!vcpu || (perm != MN_PTE_R && perm != MN_PTE_W && perm != MN_PTE_X))
		return -EINVAL;
	vm = vcpu->vm;
	if (as_id >= vm->nr_as || (gpa >> vm->fmt.ia_bits))
		return -EINVAL;
	gfn = gpa >> MN_PAGE_SHIFT;
	for (tries = 0; tries < VCPU_ACCESS_MAX_TRIES; tries++) {
		mn_yield_access(vm->sim, "vcpu.access", vm->pt[as_id], MN_ACCESS_READ);
		r = mn_tlb_access(vcpu->tlb[as_id], vm->pt[as_id], vm->phys, gfn, perm,
				  "vcpu.access", &pfn);
		if (!r)
			return guest_load_store(vm, pfn, perm, val);
		if (r == -EAGAIN)
			continue;
		if (r != -EFAULT && r != -EACCES)
			return r; /* -ESTALE: the oracle reported a use-after-free */
		switch (kvm_vcpu_fault(vcpu, as_id, gpa, perm, r == -EACCES, &exit)) {
		case RET_PF_EXIT:
			if (out)
				*out = exit;
			return 1;
		case RET_PF_RETRY:
			vm->st.fault_retries++;
			break;
		default:
			break;
		}
	}
	exit = (struct mn_vcpu_exit){ MN_EXIT_MEMORY_FAULT, gpa, -EAGAIN, 0 };
	mn_trace(vm->trace, "kvm.access_gave_up", MN_KV_X("gpa", gpa), MN_KV_U("tries", tries));
	if (out)
		*out = exit;
	return 1;
}

/* KVM_RUN returns to userspace: a guest_memfd whose last reference a fault dropped goes. */
int mn_vcpu_access(struct mn_vcpu *vcpu, unsigned int as_id, mn_gpa_t gpa, unsigned int perm,
		   uint64_t *val, struct mn_vcpu_exit *out)
{
	int r = vcpu_access(vcpu, as_id, gpa, perm, val, out);

	if (vcpu)
		mm_task_work_run(vcpu->vm->mm);
	return r;
}
