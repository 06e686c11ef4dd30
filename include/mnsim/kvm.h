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

/**
 * struct mn_vm_config - parameters of a VM.
 * @arch: the architecture.
 * @nr_vcpus: vCPUs, 1 .. %MN_VM_MAX_VCPUS (0 picks 1).
 * @ept_levels: x86: 4 or 5 (0 picks 4).
 * @ipa_bits: arm64: IPA size, 32 .. 48 (0 picks 40).
 * @variant: protocol variant (0: upstream; the variants arrive with the guest_memfd issue).
 */
struct mn_vm_config {
	enum mn_vm_arch arch;
	unsigned int nr_vcpus;
	unsigned int ept_levels;
	unsigned int ipa_bits;
	unsigned int variant;
};

/* Memslot flags (KVM_MEM_*, uapi values) */
#define MN_MEM_LOG_DIRTY_PAGES (1U << 0)
#define MN_MEM_READONLY	       (1U << 1)
#define MN_MEM_GUEST_MEMFD     (1U << 2)

/**
 * struct mn_userspace_memory_region2 - KVM_SET_USER_MEMORY_REGION2's argument.
 * @slot: address space id << 16 | slot id.
 * @flags: %MN_MEM_*.
 * @guest_phys_addr: first gpa.
 * @memory_size: bytes; 0 deletes the slot.
 * @userspace_addr: hva of the first byte in the VMM.
 * @guest_memfd_offset: with %MN_MEM_GUEST_MEMFD, the offset in the guest_memfd file.
 * @guest_memfd: with %MN_MEM_GUEST_MEMFD, the file (not modelled yet: must be 0).
 */
struct mn_userspace_memory_region2 {
	uint32_t slot;
	uint32_t flags;
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t guest_memfd_offset;
	uint32_t guest_memfd;
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
 * mn_vm_destroy() - Tear the VM down (kvm_destroy_vm()): unregister from the mm (release
 * zaps everything), then free memslots and page tables.
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
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EINVAL (PROTOCOL.md §6.1), -EEXIST (overlapping slot), -EFAULT (arm64: beyond
 * the IPA size), -EIO (accounting underflow), or -ENOMEM.
 */
MN_EXPORT int mn_vm_set_user_memory_region2(struct mn_vm *vm,
					    const struct mn_userspace_memory_region2 *r);

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
 *                        had, -EAGAIN when the access gave up retrying): KVM_RUN returns it.
 */
enum mn_exit_reason {
	MN_EXIT_NONE = 0,
	MN_EXIT_MMIO,
	MN_EXIT_MEMORY_FAULT,
};

/**
 * struct mn_vcpu_exit - what the VMM sees when an access exits.
 * @reason: why.
 * @gpa: the faulting address.
 * @error: for %MN_EXIT_MEMORY_FAULT, the negative errno.
 */
struct mn_vcpu_exit {
	enum mn_exit_reason reason;
	mn_gpa_t gpa;
	int error;
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

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_KVM_H */
