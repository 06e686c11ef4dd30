/* SPDX-License-Identifier: MIT */
/*
 * check.h - the protocol oracle: invariants of the KVM MMU-notifier protocol over a VM and
 * its host mm (PROTOCOL.md §4, §8 O1-O5 and O7), evaluated on demand or after every step.
 */
#ifndef MNSIM_CHECK_H
#define MNSIM_CHECK_H

#include <mnsim/kvm.h>

/**
 * DOC: check.h
 *
 * Each broken invariant is reported as a violation of the world with a stable id and a
 * sentence that explains the rule:
 *
 * - ``frame.use_after_free`` (through the frame oracle): a secondary entry or a vCPU TLB
 *   entry still maps a frame that was freed (kvm.spte, kvm.tlb use sites).
 * - ``kvm.spte_stale_host``: for an hva-backed slot, a secondary entry maps another frame
 *   than the host's current mapping of the same address, or the host maps nothing there.
 * - ``kvm.spte_writable_host_readonly``: a writable secondary entry over a read-only host
 *   entry.
 * - ``kvm.level_exceeds_host``: a secondary entry larger than the host mapping behind it.
 * - ``kvm.spte_without_slot``: a secondary entry for a gfn no memslot covers (a deleted or
 *   moved slot whose zap did not run).
 * - ``kvm.not_quiescent``: mmu_invalidate_in_progress or mn_active_invalidate_count not zero
 *   when every thread has finished.
 * - ``kvm.dirty_log_writable`` (PROTOCOL.md §4 I19): in a slot that logs dirty pages, a
 *   writable secondary entry or vCPU TLB entry for a page whose dirty bit is clear: the
 *   guest can write the page without the write being logged, so a harvest that reported
 *   it clean (or took its bit) misses the write. Not checked for a slot whose dirty-log
 *   ioctl, or the memslot update that turns its logging on, is between taking bits (or
 *   publishing the flag) and its flush, nor for the page of a fault that has granted
 *   write access and has yet to set the bit (arm64 and x86 fast_page_fault() set it after
 *   the entry).
 * - ``kvm.userfault_mapped``: in a slot with KVM_MEM_USERFAULT, a secondary entry or vCPU
 *   TLB entry for a page whose userfault bit is set now and was already set when the flag
 *   was turned on (the series lets bits set later leave existing mappings alone until the
 *   flag is toggled again; a bit the oracle has seen clear is no longer watched).
 */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * mn_check_vm() - Evaluate the invariants of @vm now.
 * @vm: the VM.
 *
 * Context: The world's thread, or a sim thread between steps. Never yields. O(entries).
 * Return: the number of broken invariants found (each reported).
 */
MN_EXPORT int mn_check_vm(struct mn_vm *vm);

/**
 * mn_check_vm_quiescent() - mn_check_vm() plus the counters that must be zero when no
 * operation is in flight.
 * @vm: the VM.
 *
 * Context: As mn_check_vm(); meant for a scenario's final check.
 * Return: the number of broken invariants found.
 */
MN_EXPORT int mn_check_vm_quiescent(struct mn_vm *vm);

/**
 * mn_check_enable() - Checked mode: evaluate mn_check_vm(@vm) after every step of the
 * current run (installed as the world's step hook; mn_sim_reset() removes it).
 * @vm: the VM.
 *
 * Context: Not from a sim thread (a scenario's setup).
 */
MN_EXPORT void mn_check_enable(struct mn_vm *vm);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_CHECK_H */
