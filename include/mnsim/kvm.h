/* SPDX-License-Identifier: MIT */
/*
 * kvm.h - the VM: memslots, the mmu_notifier handlers, the secondary MMU (x86 TDP/EPT or
 * arm64 stage-2) and vCPU faults, modelled on virt/kvm/kvm_main.c and
 * arch/{x86,arm64}/kvm/mmu.
 */
#ifndef MNSIM_KVM_H
#define MNSIM_KVM_H

#include <mnsim/host.h>
#include <mnsim/pt.h>
#include <mnsim/sim.h>
#include <mnsim/types.h>

/**
 * DOC: kvm.h
 *
 * A &struct mn_vm is a VM of one host mm: it subscribes to the mm's mmu_notifier at
 * creation, keeps two memslot sets per address space (x86: 2 address spaces for SMM,
 * arm64: 1) with hva and gfn interval trees, and one secondary page table per address space
 * in the architecture's bit-exact format. Its state variables are the kernel's:
 * mmu_invalidate_seq, mmu_invalidate_in_progress, the invalidation range,
 * mn_active_invalidate_count and the memslot generations; its locks are sim locks with the
 * kernel's names (mmu_lock, slots_lock, slots_arch_lock, mn_invalidate_lock, srcu).
 *
 * Every path is written in the kernel's step order with named steps (PROTOCOL.md §3), so
 * the explorer can interleave a vCPU fault with a host munmap and a mutation can skip the
 * seq bump at invalidate_range_end or the retry check of a fault.
 *
 * Dirty logging (%MN_MEM_LOG_DIRTY_PAGES, PROTOCOL.md §3.12): turning it on for a live slot
 * write-protects the slot (x86 after splitting huge SPTEs to 4 KiB) and flushes; faults in
 * a logged slot map 4 KiB pages and set the page's bit in the slot's dirty bitmap whenever
 * they grant write access; mn_vm_get_dirty_log() and mn_vm_clear_dirty_log() harvest the
 * bitmap, write-protect what they report and flush every vCPU's TLB before they return, so
 * that the next guest write to a harvested page faults and is logged again.
 *
 * KVM_MEM_USERFAULT (%MN_MEM_USERFAULT, the "KVM Userfault" series, not mainline): a fault
 * on a gfn whose bit is set in the VMM's userfault bitmap exits to the VMM instead of
 * mapping the page; turning the flag on for a live slot zaps the slot's mappings.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_vm;
struct mn_vcpu;

#define MN_VM_MAX_VCPUS 8

/**
 * enum mn_vm_arch - the secondary MMU of a VM.
 * @MN_VM_X86: x86 with the TDP MMU on EPT (4 or 5 levels), two address spaces (SMM).
 * @MN_VM_ARM64: arm64 with stage-2 tables (4 KiB granule), one address space.
 */
enum mn_vm_arch {
	MN_VM_X86 = 0,
	MN_VM_ARM64,
};

/* Protocol variants (bits of &struct mn_vm_config @variant; 0 is upstream). */
/* KVM_MEM_USERFAULT may be set only when a slot is created: a FLAGS_ONLY or MOVE that
 * turns it on fails with -EINVAL (clearing it stays allowed), as proposed on the list. */
#define MN_VARIANT_USERFAULT_CREATE_ONLY (1U << 0)
/*
 * The hva walker and guest_memfd-only slots (seed 000, PROTOCOL.md §10). At most one of
 * these three may be set; none is upstream (the walker treats gmem-only slots like any
 * other).
 * RFC_SKIP_GMEM_ONLY: the RFC, the walker skips gmem-only slots entirely: no begin/end, no
 *   sequence bump (the gfn_to_pfn cache bug).
 * FILTER_USERSPACE_MAPPINGS: the fix, hva ranges carry KVM_FILTER_USERSPACE_MAPPINGS and
 *   the unmap of a gmem-only slot is skipped, bookkeeping and sequence bump kept.
 * GPC_OWN_SEQ: the RFC's skip made safe by a sequence of the pfn caches' own, bumped by
 *   every invalidation that meets an active cache's hva, memslot or not.
 */
#define MN_VARIANT_RFC_SKIP_GMEM_ONLY	     (1U << 1)
#define MN_VARIANT_FILTER_USERSPACE_MAPPINGS (1U << 2)
#define MN_VARIANT_GPC_OWN_SEQ		     (1U << 3)
/*
 * guest_memfd in-place conversion (the Ackerley Tng / Fuad Tabba series, not mainline):
 * shared/private state tracked per page inside guest_memfd, changed on the file; a page
 * becomes private only after its userspace mappings are torn down and no extra reference
 * remains (-EAGAIN otherwise).
 */
#define MN_VARIANT_GMEM_INPLACE_CONVERSION (1U << 4)
/*
 * "Take the host level for guest_memfd" (seed 003's wrong idea): the secondary mapping
 * level of a guest_memfd fault is capped by the host mapping of the slot's hva instead of
 * coming from the folio order. A mutation for tests and workshops, never correct.
 */
#define MN_VARIANT_GMEM_HOST_LEVEL (1U << 5)
#define MN_VARIANT_ALL		   ((1U << 6) - 1)

/**
 * enum mn_vm_type - the VM type of KVM_CREATE_VM (x86 KVM_X86_*_VM; arm64 has only the
 * default one here).
 * @MN_VM_TYPE_DEFAULT: no private memory (KVM_X86_DEFAULT_VM, any arm64 VM).
 * @MN_VM_TYPE_SW_PROTECTED: private memory without hardware protection
 *                           (KVM_X86_SW_PROTECTED_VM): memory attributes, private faults
 *                           from guest_memfd.
 * @MN_VM_TYPE_SNP: SEV-SNP: private memory, protected state, no read-only memory.
 * @MN_VM_TYPE_TDX: TDX: likewise. SNP and TDX are modelled for their validation rules (no
 *                  INIT_SHARED, no NO_DIRECT_MAP, no read-only slots); their faults behave
 *                  as on SW_PROTECTED (no RMP, no mirror root).
 */
enum mn_vm_type {
	MN_VM_TYPE_DEFAULT = 0,
	MN_VM_TYPE_SW_PROTECTED,
	MN_VM_TYPE_SNP,
	MN_VM_TYPE_TDX,
};

/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 options (&struct mn_vm_config @dirty_log_manual) */
#define MN_DIRTY_LOG_MANUAL_PROTECT (1U << 0) /* KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE */
#define MN_DIRTY_LOG_INITIALLY_SET  (1U << 1) /* KVM_DIRTY_LOG_INITIALLY_SET */

/*
 * arm64 CPU features a VM's host lacks (&struct mn_vm_config @arm64_missing; 0 is a host with
 * all of them).
 */
#define MN_ARM64_NO_TLBIRANGE (1U << 0) /* no FEAT_TLBIRANGE: no TLBI by range (before v8.4) */
#define MN_ARM64_NO_S2FWB     (1U << 1) /* no FEAT_S2FWB: stage-2 MemAttr without forced WB */
#define MN_ARM64_MISSING_ALL  (MN_ARM64_NO_TLBIRANGE | MN_ARM64_NO_S2FWB)

/**
 * struct mn_vm_config - parameters of a VM.
 * @arch: the architecture.
 * @nr_vcpus: vCPUs, 1 .. %MN_VM_MAX_VCPUS (0 picks 1).
 * @ept_levels: x86: 4 or 5 (0 picks 4).
 * @ipa_bits: arm64: IPA size, 32 .. 48 (0 picks 40).
 * @variant: protocol variants, a mask of %MN_VARIANT_* (0: upstream).
 * @type: the VM type; anything but %MN_VM_TYPE_DEFAULT needs x86.
 * @dirty_log_manual: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 as enabled before any memslot: 0
 *                    (off), %MN_DIRTY_LOG_MANUAL_PROTECT, or that with
 *                    %MN_DIRTY_LOG_INITIALLY_SET. With it, mn_vm_get_dirty_log() only copies
 *                    the bitmap and mn_vm_clear_dirty_log() re-protects; with
 *                    INITIALLY_SET a slot starts logging with every bit set and nothing
 *                    write-protected.
 * @arm64_missing: arm64: the CPU features the host lacks, a mask of %MN_ARM64_NO_*. 0 models
 *                 an Armv8.4-or-later server core (Neoverse V1, N2, V2 and their kin), which
 *                 has FEAT_TLBIRANGE as it has FEAT_S2FWB, which the stage-2 tables of every
 *                 VM already assume: stage-2 unmaps then clear their leaves without a TLBI
 *                 each and send one ranged TLBI at the end (stage2_unmap_defer_tlb_flush()).
 *                 With %MN_ARM64_NO_TLBIRANGE every leaf is invalidated by address, and a
 *                 ranged invalidation becomes a whole-VMID one (kvm_tlb_flush_vmid_range()).
 *                 With %MN_ARM64_NO_S2FWB the stage-2 tables use the MemAttr encoding of
 *                 hosts without FWB (KVM_PGTABLE_S2_NOFWB), and unmaps invalidate leaf by
 *                 leaf even with range TLBIs (stage2_unmap_defer_tlb_flush() wants both).
 *                 Unknown bits, or any bit on x86, are -EINVAL.
 */
struct mn_vm_config {
	enum mn_vm_arch arch;
	unsigned int nr_vcpus;
	unsigned int ept_levels;
	unsigned int ipa_bits;
	unsigned int variant;
	unsigned int dirty_log_manual;
	enum mn_vm_type type;
	unsigned int arm64_missing;
};

/* Memslot flags (KVM_MEM_*, uapi values) */
#define MN_MEM_LOG_DIRTY_PAGES (1U << 0)
#define MN_MEM_READONLY	       (1U << 1)
#define MN_MEM_GUEST_MEMFD     (1U << 2)
#define MN_MEM_USERFAULT       (1U << 3) /* KVM_MEM_USERFAULT (KVM Userfault series, v3) */

/**
 * struct mn_userspace_memory_region2 - KVM_SET_USER_MEMORY_REGION2's argument.
 * @slot: address space id << 16 | slot id.
 * @flags: %MN_MEM_*.
 * @guest_phys_addr: first gpa.
 * @memory_size: bytes; 0 deletes the slot.
 * @userspace_addr: hva of the first byte in the VMM.
 * @guest_memfd_offset: with %MN_MEM_GUEST_MEMFD, the offset in the guest_memfd file.
 * @guest_memfd: with %MN_MEM_GUEST_MEMFD, the file (not modelled yet: must be 0).
 * @userfault_bitmap: with %MN_MEM_USERFAULT, the VMM's bitmap: bit i (bit i % 64 of word
 *                    i / 64) stands for the slot's page i, and a set bit makes guest
 *                    faults on that page exit (%MN_MEMORY_EXIT_FLAG_USERFAULT). Owned by the
 *                    caller, read at every such fault, and it must outlive the slot or the
 *                    flag; the VMM may change it at any time. Ignored without the flag.
 */
struct mn_userspace_memory_region2 {
	uint32_t slot;
	uint32_t flags;
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t guest_memfd_offset;
	uint32_t guest_memfd;
	uint64_t *userfault_bitmap;
};

/**
 * struct mn_vm_invalidate_state - the invalidation bookkeeping of a VM, as it is now.
 * @seq: mmu_invalidate_seq.
 * @in_progress: mmu_invalidate_in_progress.
 * @range_start: mmu_invalidate_range_start (%MN_INVALID_GFN when none).
 * @range_end: mmu_invalidate_range_end.
 * @mn_count: mn_active_invalidate_count.
 */
struct mn_vm_invalidate_state {
	uint64_t seq;
	int64_t in_progress;
	mn_gfn_t range_start;
	mn_gfn_t range_end;
	uint64_t mn_count;
};

/**
 * struct mn_vm_stats - what a VM did.
 * @faults: guest faults handled.
 * @fault_retries: faults that returned to the guest to fault again (RET_PF_RETRY / -EAGAIN).
 * @flush_all: remote TLB flushes of the whole VM.
 * @flush_range: ranged remote TLB flushes.
 * @zapped: secondary leaves zapped.
 * @memslot_updates: memslot swaps.
 */
struct mn_vm_stats {
	uint64_t faults;
	uint64_t fault_retries;
	uint64_t flush_all;
	uint64_t flush_range;
	uint64_t zapped;
	uint64_t memslot_updates;
};

/**
 * mn_vm_create() - Create a VM of @mm and subscribe it to @mm's notifier.
 * @mm: the host mm of the VMM.
 * @cfg: parameters, or NULL for an x86 VM with one vCPU.
 * @out: receives the VM.
 *
 * Context: The world's thread outside a run, or a sim thread (takes the mmap lock).
 * Return: 0, -EINVAL for bad parameters, -ESRCH when @mm has exited, or -ENOMEM.
 */
MN_EXPORT int mn_vm_create(struct mn_mm *mm, const struct mn_vm_config *cfg, struct mn_vm **out);

/**
 * mn_vm_destroy() - Drop the VMM's reference (close the VM fd). When no guest_memfd pins
 * the VM any more, tear it down (kvm_destroy_vm()): unregister from the mm (release zaps
 * everything), then free memslots and page tables. A guest_memfd still open keeps the VM
 * until mn_mm_close() of its last fd (or the mm's destruction) releases it.
 * @vm: the VM, or NULL.
 *
 * Context: The world's thread, or a sim thread. May sleep.
 */
MN_EXPORT void mn_vm_destroy(struct mn_vm *vm);

/**
 * mn_vm_set_user_memory_region2() - KVM_SET_USER_MEMORY_REGION2: create, delete, move a
 * memslot or change its flags, with the kernel's validation order and errors.
 * @vm: the VM.
 * @r: the request.
 *
 * Takes slots_lock for the whole operation. A delete or move first publishes an INVALID copy
 * of the slot and zaps it; every swap of the active set waits for notifier invalidations
 * in flight and for SRCU readers. A failed call leaves the memslots as they were; only a
 * move that fails after its INVALID phase (arch prepare, or no memory for a dirty bitmap)
 * has, as in the kernel, already zapped the slot and moved the generation by two swaps.
 *
 * Turning %MN_MEM_LOG_DIRTY_PAGES on for a live slot write-protects it before this
 * returns (x86: huge SPTEs split to 4 KiB first; nothing with
 * %MN_DIRTY_LOG_INITIALLY_SET); turning it off lets x86 rebuild huge mappings. Turning
 * %MN_MEM_USERFAULT on for a live slot zaps the slot's mappings before this returns.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EINVAL (PROTOCOL.md §6.1; also %MN_MEM_USERFAULT without a bitmap, or turned
 * on by a modification under %MN_VARIANT_USERFAULT_CREATE_ONLY), -EEXIST (overlapping
 * slot), -EFAULT (arm64: beyond the IPA size), -EIO (accounting underflow), or -ENOMEM.
 */
MN_EXPORT int mn_vm_set_user_memory_region2(struct mn_vm *vm,
					    const struct mn_userspace_memory_region2 *r);

/**
 * mn_vm_get_dirty_log() - KVM_GET_DIRTY_LOG (kvm_get_dirty_log_protect()): the dirty
 * bitmap of a logged slot.
 * @vm: the VM.
 * @slot: address space id << 16 | slot id.
 * @bitmap: receives one bit per page of the slot (bit i % 64 of word i / 64 for page i),
 *          in (npages + 63) / 64 words; NULL stands for a buffer copy_to_user() cannot
 *          write.
 *
 * Takes slots_lock. Without manual protect, each non-zero word is exchanged with zero
 * under mmu_lock and exactly the pages it reports are write-protected (arm64: every page
 * from the word's first to its last reported one); then, with mmu_lock dropped, every
 * vCPU's translations of the slot are flushed before this returns, so that a later guest
 * write to a reported page faults and is logged again. With %MN_DIRTY_LOG_MANUAL_PROTECT
 * the bitmap is only copied: mn_vm_clear_dirty_log() re-protects.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EINVAL for a bad address space or slot id, -ENOENT when the slot does not
 * exist or does not log, or -EFAULT for a NULL @bitmap (as in the kernel, the log was
 * harvested and protected all the same: those bits are lost).
 */
MN_EXPORT int mn_vm_get_dirty_log(struct mn_vm *vm, uint32_t slot, uint64_t *bitmap);

/**
 * mn_vm_clear_dirty_log() - KVM_CLEAR_DIRTY_LOG (kvm_clear_dirty_log_protect()): clear
 * and re-protect dirty pages of a logged slot, for manual-protect users.
 * @vm: the VM.
 * @slot: address space id << 16 | slot id.
 * @first_page: the slot page the first bit of @bitmap stands for; a multiple of 64.
 * @num_pages: pages covered; a multiple of 64 unless the range reaches the slot's end.
 * @bitmap: the pages to clear, bit i % 64 of word i / 64 for page @first_page + i; NULL
 *          stands for a buffer copy_from_user() cannot read.
 *
 * Takes slots_lock. Under mmu_lock each word clears the bits it names that were set
 * (fetch-and-not) and write-protects only those pages (arm64: the span from the first to
 * the last of them, splitting blocks with %MN_DIRTY_LOG_INITIALLY_SET; x86 splits huge
 * SPTEs in the span first with INITIALLY_SET); then, with mmu_lock dropped, the slot's
 * translations are flushed before this returns.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EINVAL for a bad address space or slot id, a @first_page not a multiple of
 * 64, or a range beyond the slot (PROTOCOL.md §6.4), -ENOENT when the slot does not exist
 * or does not log, or -EFAULT for a NULL @bitmap (nothing changed).
 */
MN_EXPORT int mn_vm_clear_dirty_log(struct mn_vm *vm, uint32_t slot, uint64_t first_page,
				    uint32_t num_pages, const uint64_t *bitmap);

/**
 * mn_vm_get_invalidate_state() - Snapshot the invalidation bookkeeping.
 * @vm: the VM.
 * @st: receives it.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_vm_get_invalidate_state(const struct mn_vm *vm,
					  struct mn_vm_invalidate_state *st);

/**
 * mn_vm_get_stats() - Counters of a VM.
 * @vm: the VM.
 * @st: receives them.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_vm_get_stats(const struct mn_vm *vm, struct mn_vm_stats *st);

/**
 * mn_vm_get_pt() - The secondary page table of an address space.
 * @vm: the VM.
 * @as_id: 0, or 1 for x86 SMM.
 *
 * Context: Any context.
 * Return: the table, or NULL for a bad @as_id.
 */
MN_EXPORT struct mn_pt *mn_vm_get_pt(struct mn_vm *vm, unsigned int as_id);

/**
 * mn_vm_get_vcpu() - A vCPU of the VM.
 * @vm: the VM.
 * @i: its index.
 *
 * Context: Any context.
 * Return: the vCPU, or NULL.
 */
MN_EXPORT struct mn_vcpu *mn_vm_get_vcpu(struct mn_vm *vm, unsigned int i);

/**
 * enum mn_exit_reason - why a guest access returned to the VMM.
 * @MN_EXIT_NONE: it completed.
 * @MN_EXIT_MMIO: no memslot backs the gpa, or the guest wrote to a read-only slot
 *                (KVM_EXIT_MMIO); emulation is the VMM's.
 * @MN_EXIT_MEMORY_FAULT: the fault failed with @error (-EFAULT when the host page cannot be
 *                        had or the gfn is marked in the userfault bitmap, -EAGAIN when
 *                        the access gave up retrying): KVM_RUN returns it.
 */
enum mn_exit_reason {
	MN_EXIT_NONE = 0,
	MN_EXIT_MMIO,
	MN_EXIT_MEMORY_FAULT,
};

/* KVM_EXIT_MEMORY_FAULT flags (kvm_run.memory_fault.flags, uapi values) */
#define MN_MEMORY_EXIT_FLAG_USERFAULT (1ULL << 4) /* KVM_MEMORY_EXIT_FLAG_USERFAULT */

/**
 * struct mn_vcpu_exit - what the VMM sees when an access exits.
 * @reason: why.
 * @gpa: the faulting address (for a userfault exit, the page's first byte, as
 *       kvm_prepare_memory_fault_exit() reports it).
 * @error: for %MN_EXIT_MEMORY_FAULT, the negative errno.
 * @flags: for %MN_EXIT_MEMORY_FAULT, %MN_MEMORY_EXIT_FLAG_USERFAULT when the page's bit is
 *         set in the slot's userfault bitmap; else 0.
 */
struct mn_vcpu_exit {
	enum mn_exit_reason reason;
	mn_gpa_t gpa;
	int error;
	uint64_t flags;
};

/**
 * mn_vcpu_access() - One guest access: vCPU TLB, table walk, and on a miss the fault path
 * (x86 kvm_tdp_page_fault(), arm64 user_mem_abort()), retrying as the guest would.
 * @vcpu: the vCPU.
 * @as_id: the address space (0, or 1 for x86 SMM).
 * @gpa: the address.
 * @perm: %MN_PTE_R, %MN_PTE_W or %MN_PTE_X.
 * @val: for writes the data word to store; for reads receives it (may be NULL).
 * @exit: receives the exit when the access did not complete (may be NULL).
 *
 * Every use of the frame goes through the oracle: a translation that outlived its frame is
 * a use-after-free report.
 *
 * Context: A sim thread (the vCPU's) or the world's thread. May sleep.
 * A real vCPU keeps faulting while an invalidation is in flight; this one gives up after 64
 * tries and exits with %MN_EXIT_MEMORY_FAULT and -EAGAIN, so that a schedule which never
 * resumes the invalidating thread still ends.
 *
 * Return: 0 when the access completed, 1 when it exited to the VMM (see @exit), -EINVAL for
 * bad arguments, or -ESTALE after a use-after-free report.
 */
MN_EXPORT int mn_vcpu_access(struct mn_vcpu *vcpu, unsigned int as_id, mn_gpa_t gpa,
			     unsigned int perm, uint64_t *val, struct mn_vcpu_exit *exit);

/* ---- memory attributes (KVM_SET_MEMORY_ATTRIBUTES, PROTOCOL.md §3.11, §6.3) --------------- */

/*
 * Per-gfn attributes of a VM, kept whether or not a memslot covers the gfn. Only PRIVATE
 * exists, and only VMs with private memory (any type but %MN_VM_TYPE_DEFAULT) accept it. A
 * change zaps the secondary mappings of the range in every memslot it meets between an
 * invalidation begin and end, so that faults racing it retry; afterwards a huge mapping is
 * allowed only over a block whose pages all have the same attributes.
 */

#define MN_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3) /* KVM_MEMORY_ATTRIBUTE_PRIVATE */

/**
 * struct mn_memory_attributes - KVM_SET_MEMORY_ATTRIBUTES' argument (struct
 * kvm_memory_attributes).
 * @address: first gpa of the range; page aligned.
 * @size: bytes; page aligned, not 0, and @address + @size must not wrap.
 * @attributes: what every page of the range gets: 0 (shared) or
 *              %MN_MEMORY_ATTRIBUTE_PRIVATE.
 * @flags: must be 0.
 */
struct mn_memory_attributes {
	uint64_t address;
	uint64_t size;
	uint64_t attributes;
	uint64_t flags;
};

/**
 * mn_vm_set_memory_attributes() - KVM_SET_MEMORY_ATTRIBUTES (kvm_vm_ioctl_set_mem_attributes()
 * and kvm_vm_set_mem_attributes()): give every page of a gpa range the same attributes.
 * @vm: the VM.
 * @attrs: the request.
 *
 * The checks run in the kernel's order and a rejected call changes nothing. Under
 * slots_lock: a range that already has exactly @attrs->attributes everywhere returns at once
 * (no invalidation, sequence untouched); otherwise the storage is reserved, then for every
 * memslot of every address space the range meets, under mmu_lock, an invalidation begins,
 * the slot's part of the range is added to it (x86: with the huge-page blocks at its head
 * and tail whose attributes are still uniform) and its mappings are zapped and flushed; then
 * the attributes are stored for the whole range, slot or no slot, and the invalidation ends
 * (sequence bumped once). A range that meets no memslot only stores.
 *
 * A VM without private memory accepts only attributes 0, which its pages all have already:
 * as in the generic kernel code, such a call succeeds and does nothing (x86 reports
 * KVM_CAP_MEMORY_ATTRIBUTES as 0 there).
 *
 * Context: A sim thread or the world's thread. May sleep (slots_lock, then mmu_lock).
 * Return: 0, -EINVAL for flags, attributes the VM does not support, an empty or wrapping
 * range, or an unaligned address or size (PROTOCOL.md §6.3), or -ENOMEM when the storage
 * cannot be reserved.
 */
MN_EXPORT int mn_vm_set_memory_attributes(struct mn_vm *vm,
					  const struct mn_memory_attributes *attrs);

/**
 * mn_vm_get_memory_attributes() - The attributes of one gfn (kvm_get_memory_attributes()).
 * @vm: the VM.
 * @gfn: the gfn; it need not be in a memslot.
 *
 * Context: Any context. A change in progress is seen either before or after its store.
 * Return: the gfn's attributes: 0 (shared) or %MN_MEMORY_ATTRIBUTE_PRIVATE.
 */
MN_EXPORT uint64_t mn_vm_get_memory_attributes(struct mn_vm *vm, mn_gfn_t gfn);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_KVM_H */
