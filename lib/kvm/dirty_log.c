// SPDX-License-Identifier: MIT
/*
 * dirty_log.c - dirty page logging: the slot's bitmap (virt/kvm/kvm_main.c:
 * mark_page_dirty_in_slot()), KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG
 * (kvm_get_dirty_log_protect(), kvm_clear_dirty_log_protect()) and the arch hook that
 * re-protects what they harvest (kvm_arch_mmu_enable_log_dirty_pt_masked(): x86
 * arch/x86/kvm/mmu/mmu.c, arm64 arch/arm64/kvm/mmu.c). PROTOCOL.md §3.12.
 */
#include "kvm/kvm-internal.h"

/*
 * The named steps, and what a mutation that skips one does:
 *
 * dirty_log.protect        KVM_GET_DIRTY_LOG write-protects the pages whose bits it took.
 * clear_dirty_log.protect  KVM_CLEAR_DIRTY_LOG does, for the bits it cleared. Skipped, a
 *                          reported page stays writable: the guest's next write to it is
 *                          never logged (kvm.dirty_log_writable).
 * dirty_log.flush          The flush of the slot's translations after mmu_lock is dropped
 * clear_dirty_log.flush    and before the ioctl returns. Skipped, a vCPU keeps a writable
 *                          TLB entry for a harvested page and writes through it without
 *                          faulting (kvm.dirty_log_writable, then the scenario's own
 *                          check: a write after the harvest that no harvest reports).
 */

/*
 * mark_page_dirty_in_slot(): set @gfn's bit in the first half of the slot's dirty bitmap
 * (set_bit_le(), atomic in the kernel; a single step here). A slot that does not log has no
 * bitmap: nothing to do (no dirty ring is modelled).
 */
void mark_page_dirty_in_slot(struct mn_vm *vm, const struct kvm_memory_slot *slot, mn_gfn_t gfn)
{
	uint64_t rel;

	if (!kvm_slot_dirty_track_enabled(slot) || !slot->dirty_bitmap)
		return;
	rel = gfn - slot->base_gfn;
	slot->dirty_bitmap[rel / 64] |= 1ULL << (rel % 64);
	mn_trace(vm->trace, "kvm.mark_page_dirty", MN_KV_U("id", slot->id), MN_KV_X("gfn", gfn));
}

/*
 * The oracle's window (kvm.dirty_log_writable): while an operation of @slot is between
 * taking bits (or publishing the logging flag) and the flush that settles the protection,
 * writable entries of clean pages are expected: a harvest takes a word's bits a step before
 * it protects their pages, and vCPU TLBs keep writable entries until the flush. A guest
 * write in that window is not lost: the page is in the log being harvested (or logging has
 * not started yet). slots_lock serialises these operations, so at most one window is open;
 * the invariant must hold again once it closes.
 */
void kvm_dirty_log_unsettle(struct mn_vm *vm, const struct kvm_memory_slot *slot)
{
	vm->dirty_log_unsettled.active = true;
	vm->dirty_log_unsettled.as_id = slot->as_id;
	vm->dirty_log_unsettled.id = slot->id;
}

void kvm_dirty_log_settle(struct mn_vm *vm)
{
	vm->dirty_log_unsettled.active = false;
}

/* The lowest and highest set bit of a non-zero word (__ffs(), __fls()). */
static unsigned int word_ffs(uint64_t w)
{
	return (unsigned int)__builtin_ctzll(w);
}

static unsigned int word_fls(uint64_t w)
{
	return 63U - (unsigned int)__builtin_clzll(w);
}

/*
 * kvm_arch_mmu_enable_log_dirty_pt_masked(): re-protect the pages of @mask, bit i standing
 * for the slot's page @offset + i, under mmu_lock(write). Returns whether the caller must
 * flush (it flushes the whole slot whenever a word was non-zero, as the kernel does).
 *
 * x86: with INITIALLY_SET, huge SPTEs were never protected, so the span from the first to
 * the last page of @mask is split to 4K (eager_page_split, on by default) and any huge SPTE
 * still covering its ends is write-protected for good (kvm_mmu_slot_gfn_write_protect() at
 * 2M and up: W and MMU-writable, so that the write faults and maps 4K). Then exactly the
 * 4K leaves of @mask lose W (kvm_mmu_write_protect_pt_masked(), the TDP MMU's
 * clear_dirty_pt_masked() without A/D-based logging: MMU-writable stays).
 *
 * arm64: stage2_wp_range() over the whole span from the first to the last page of @mask,
 * pages in between whose bits are clear included (harmless: they fault once more and are
 * reported dirty), then, with INITIALLY_SET, the span's blocks are split
 * (kvm_mmu_split_huge_pages()).
 */
static void kvm_arch_mmu_enable_log_dirty_pt_masked(struct mn_vm *vm,
						    const struct kvm_memory_slot *slot,
						    uint64_t offset, uint64_t mask)
{
	mn_gfn_t base = slot->base_gfn + offset;
	struct mn_gfn_range span = { base + word_ffs(mask), base + word_fls(mask) + 1 };
	unsigned int as = slot->as_id, i;

	if (vm->cfg.arch == MN_VM_ARM64) {
		kvm_mmu_write_protect(vm, as, span, MN_PG_LEVEL_4K, vm->fmt.max_leaf_level, false);
		if (kvm_dirty_log_manual_protect_and_init_set(vm))
			kvm_mmu_split_huge_pages(vm, as, span);
		return;
	}
	if (kvm_dirty_log_manual_protect_and_init_set(vm)) {
		kvm_mmu_split_huge_pages(vm, as, span);
		kvm_mmu_write_protect(vm, as, (struct mn_gfn_range){ span.start, span.start + 1 },
				      MN_PG_LEVEL_2M, vm->fmt.max_leaf_level, true);
		kvm_mmu_write_protect(vm, as, (struct mn_gfn_range){ span.end - 1, span.end },
				      MN_PG_LEVEL_2M, vm->fmt.max_leaf_level, true);
	}
	/*
	 * clear_dirty_pt_masked() walks the 4K leaves from the first set bit on and protects
	 * those whose bit is set: here one walk per run of consecutive set bits.
	 */
	for (i = 0; i < 64 && mask >> i;) {
		uint64_t rest = mask >> i;
		unsigned int s = i + word_ffs(rest), n;

		rest = ~(mask >> s);
		n = rest ? word_ffs(rest) : 64 - s;
		kvm_mmu_write_protect(vm, as, (struct mn_gfn_range){ base + s, base + s + n },
				      MN_PG_LEVEL_4K, MN_PG_LEVEL_4K, false);
		i = s + n;
	}
}

/* The slot a dirty-log ioctl names, under slots_lock: -EINVAL for a bad id, else 0. */
static int dirty_log_slot(struct mn_vm *vm, uint32_t slot, struct kvm_memory_slot **out)
{
	unsigned int as_id = slot >> 16, id = (uint16_t)slot;

	if (as_id >= vm->nr_as || id >= kvm_user_mem_slots(vm))
		return -EINVAL;
	*out = kvm_id_to_memslot(kvm_memslots(vm, as_id), id);
	return 0;
}

/* kvm_flush_remote_tlbs_memslot() */
static void kvm_flush_remote_tlbs_memslot(struct mn_vm *vm, const struct kvm_memory_slot *slot)
{
	kvm_flush_remote_tlbs_range(vm, slot->as_id, slot->base_gfn, slot->base_gfn + slot->npages);
}

/*
 * kvm_get_dirty_log_protect(), under slots_lock (kvm_vm_ioctl_get_dirty_log()). The
 * ring-only check (-ENXIO) has nothing to test: no dirty ring is modelled.
 */
static int kvm_get_dirty_log_protect(struct mn_vm *vm, uint32_t slot_id, uint64_t *out)
{
	struct kvm_memory_slot *slot;
	struct mn_sim *sim = vm->sim;
	uint64_t *bitmap, *buffer, n, i;
	bool flush = false;
	int r;

	r = dirty_log_slot(vm, slot_id, &slot);
	if (r)
		return r;
	if (!slot || !slot->dirty_bitmap)
		return -ENOENT;
	bitmap = slot->dirty_bitmap;
	n = bitmap_words(slot->npages);
	/* kvm_arch_sync_dirty_log(): x86 drains PML buffers; no PML here. */
	if (vm->cfg.dirty_log_manual) {
		/* Manual protect: report what is set, protect nothing (CLEAR_DIRTY_LOG does). */
		buffer = bitmap;
	} else {
		buffer = bitmap + n; /* kvm_second_dirty_bitmap() */
		memset(buffer, 0, n * sizeof(*buffer));
		mn_write_lock(sim, &vm->mmu_lock); /* KVM_MMU_LOCK() */
		for (i = 0; i < n; i++) {
			uint64_t mask;

			if (!bitmap[i])
				continue;
			flush = true;
			mask = bitmap[i]; /* xchg(&bitmap[i], 0) */
			bitmap[i] = 0;
			buffer[i] = mask;
			kvm_dirty_log_unsettle(vm, slot);
			if (mn_step(sim, "dirty_log.protect"))
				kvm_arch_mmu_enable_log_dirty_pt_masked(vm, slot, i * 64, mask);
		}
		mn_write_unlock(sim, &vm->mmu_lock);
	}
	mn_trace(vm->trace, "kvm.get_dirty_log", MN_KV_U("id", slot->id), MN_KV_U("flush", flush));
	/*
	 * Before the copy to userspace: once the VMM has the log, a guest write to a page it
	 * reports must fault (and set the bit again), so no vCPU may keep a writable
	 * translation of it.
	 */
	if (flush && mn_step(sim, "dirty_log.flush"))
		kvm_flush_remote_tlbs_memslot(vm, slot);
	kvm_dirty_log_settle(vm);
	if (!out)
		return -EFAULT; /* copy_to_user() failed, after the harvest */
	memcpy(out, buffer, n * sizeof(*out));
	return 0;
}

int mn_vm_get_dirty_log(struct mn_vm *vm, uint32_t slot, uint64_t *bitmap)
{
	int r;

	mn_mutex_lock(vm->sim, &vm->slots_lock);
	r = kvm_get_dirty_log_protect(vm, slot, bitmap);
	mn_mutex_unlock(vm->sim, &vm->slots_lock);
	return r;
}

/*
 * kvm_clear_dirty_log_protect(), under slots_lock (kvm_vm_ioctl_clear_dirty_log()), in the
 * kernel's check order (PROTOCOL.md §6.4). The kernel does not insist on manual protect.
 */
static int kvm_clear_dirty_log_protect(struct mn_vm *vm, uint32_t slot_id, uint64_t first_page,
				       uint32_t num_pages, const uint64_t *in)
{
	struct kvm_memory_slot *slot;
	struct mn_sim *sim = vm->sim;
	uint64_t *bitmap, *buffer, n, i, w, offset;
	bool flush = false;
	int r;

	r = dirty_log_slot(vm, slot_id, &slot);
	if (r)
		return r;
	if (first_page & 63)
		return -EINVAL;
	if (!slot || !slot->dirty_bitmap)
		return -ENOENT;
	bitmap = slot->dirty_bitmap;
	if (first_page > slot->npages || num_pages > slot->npages - first_page ||
	    (num_pages < slot->npages - first_page && (num_pages & 63)))
		return -EINVAL;
	n = bitmap_words(num_pages);
	buffer = bitmap + bitmap_words(slot->npages);
	if (!in)
		return -EFAULT; /* copy_from_user() */
	memcpy(buffer, in, n * sizeof(*buffer));

	mn_write_lock(sim, &vm->mmu_lock); /* KVM_MMU_LOCK() */
	for (w = 0, i = first_page / 64, offset = first_page; w < n; w++, i++, offset += 64) {
		uint64_t mask = buffer[w];

		if (!mask)
			continue;
		/* atomic_long_fetch_andnot(): only the bits that really were set count. */
		mask &= bitmap[i];
		bitmap[i] &= ~mask;
		if (!mask)
			continue;
		flush = true;
		kvm_dirty_log_unsettle(vm, slot);
		if (mn_step(sim, "clear_dirty_log.protect"))
			kvm_arch_mmu_enable_log_dirty_pt_masked(vm, slot, offset, mask);
	}
	mn_write_unlock(sim, &vm->mmu_lock);
	mn_trace(vm->trace, "kvm.clear_dirty_log", MN_KV_U("id", slot->id),
		 MN_KV_X("first", first_page), MN_KV_U("pages", num_pages),
		 MN_KV_U("flush", flush));
	if (flush && mn_step(sim, "clear_dirty_log.flush"))
		kvm_flush_remote_tlbs_memslot(vm, slot);
	kvm_dirty_log_settle(vm);
	return 0;
}

int mn_vm_clear_dirty_log(struct mn_vm *vm, uint32_t slot, uint64_t first_page, uint32_t num_pages,
			  const uint64_t *bitmap)
{
	int r;

	mn_mutex_lock(vm->sim, &vm->slots_lock);
	r = kvm_clear_dirty_log_protect(vm, slot, first_page, num_pages, bitmap);
	mn_mutex_unlock(vm->sim, &vm->slots_lock);
	return r;
}
