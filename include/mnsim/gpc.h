/* SPDX-License-Identifier: MIT */
/*
 * gpc.h - the gfn_to_pfn cache: a cached translation of one guest page (by gpa) or one VMM
 * page (by hva) to its host frame, kept coherent by the mmu_notifier, modelled on
 * virt/kvm/pfncache.c and the kvm_gpc_*() API of include/linux/kvm_host.h.
 */
#ifndef MNSIM_GPC_H
#define MNSIM_GPC_H

#include <mnsim/kvm.h>

/**
 * DOC: gpc.h
 *
 * A &struct mn_gpc stands for a kernel-side mapping of one page that KVM itself reads and
 * writes (Xen shared_info, kvmclock, ...). It does not pin the page: a refresh takes the page
 * with GUP, publishes (valid, pfn, generation) under its rwlock and drops the page
 * reference. Coherence rests on two rules (PROTOCOL.md §3.8): invalidate_range_start()
 * clears @valid under the cache's write lock before the host can free the page, and every
 * consumer tests mn_gpc_check() under the cache's read lock and uses the frame only while it
 * holds that lock. A refresh that raced with an invalidation (a notifier in flight, or a
 * changed mmu_invalidate_seq) throws its page away and tries again.
 *
 * The consumer pattern is: mn_gpc_read_lock(); while (!mn_gpc_check()) { unlock;
 * mn_gpc_refresh(); lock; } use; unlock. mn_gpc_read() and mn_gpc_write() do exactly that
 * and touch the frame through the frame oracle with the (pfn, generation) recorded at
 * refresh, so a cache that outlived its frame is a use-after-free report.
 *
 * Locks, outer to inner: refresh_lock (mutex) -> the VM's gpc_lock (spinlock, the list of
 * active caches) -> gpc->lock (spinning rwlock). The notifier takes gpc_lock -> gpc->lock
 * and never holds mmu_lock while doing so.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_gpc;

/**
 * mn_gpc_create() - Create an inactive cache of @vm (kvm_gpc_init()).
 * @vm: the VM.
 * @out: receives the cache.
 *
 * Context: Any thread of the world.
 * Return: 0, or -ENOMEM.
 */
MN_EXPORT int mn_gpc_create(struct mn_vm *vm, struct mn_gpc **out);

/**
 * mn_gpc_destroy() - Deactivate the cache and free it.
 * @gpc: the cache, or NULL.
 *
 * Context: A sim thread or the world's thread. May sleep (takes refresh_lock).
 */
MN_EXPORT void mn_gpc_destroy(struct mn_gpc *gpc);

/**
 * mn_gpc_activate() - Make the cache track the guest page at @gpa and map it
 * (kvm_gpc_activate()).
 * @gpc: the cache.
 * @gpa: the guest physical address; the cache covers [@gpa, @gpa + @len).
 * @len: bytes; must not cross a page boundary.
 *
 * Puts the cache on the VM's list before it becomes active, so no published mapping is
 * ever invisible to the notifier, then refreshes it against address space 0.
 *
 * Context: A sim thread or the world's thread; takes kvm->srcu, as a vCPU holds it. May
 * sleep.
 * Return: 0, -EINVAL (%MN_INVALID_GPA, or the range crosses a page), -EFAULT (no memslot
 * backs @gpa, or GUP failed), -EAGAIN (as mn_gpc_refresh()), or -EIO (an inactive cache
 * found valid: a KVM bug).
 */
MN_EXPORT int mn_gpc_activate(struct mn_gpc *gpc, mn_gpa_t gpa, unsigned long len);

/**
 * mn_gpc_activate_hva() - Make the cache track the VMM page at @uhva
 * (kvm_gpc_activate_hva()).
 * @gpc: the cache.
 * @uhva: the host virtual address; need not lie in any memslot.
 * @len: bytes; must not cross a page boundary.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EINVAL (the range crosses a page or leaves the user address space), -EFAULT
 * (GUP failed), -EAGAIN (as mn_gpc_refresh()), or -EIO (an inactive cache found valid).
 */
MN_EXPORT int mn_gpc_activate_hva(struct mn_gpc *gpc, mn_hva_t uhva, unsigned long len);

/**
 * mn_gpc_refresh() - Re-establish the mapping of an active cache (kvm_gpc_refresh()).
 * @gpc: the cache.
 * @len: bytes from the cache's start that the caller will access.
 *
 * Serialised by refresh_lock. A GPA cache looks its slot up again when the memslot
 * generation moved; the page is taken again with GUP when the cache is not valid or its
 * hva changed, retrying while an invalidation is in flight or completed meanwhile.
 *
 * Context: A sim thread or the world's thread, not holding the cache's lock; a GPA cache's
 * caller holds kvm->srcu. May sleep.
 * The kernel retries for as long as invalidations keep racing with it; the sim gives up
 * after 64 rounds with -EAGAIN, so that a schedule which never resumes the invalidating
 * thread still ends.
 *
 * Return: 0, -EINVAL (inactive or never activated, or @len crosses the page), -EFAULT
 * (no memslot backs the gpa, or GUP failed; the cache is left invalid), or -EAGAIN (gave
 * up retrying; the cache is left invalid).
 */
MN_EXPORT int mn_gpc_refresh(struct mn_gpc *gpc, unsigned long len);

/**
 * mn_gpc_check() - Whether the cache may be used for @len bytes now (kvm_gpc_check()).
 * @gpc: the cache.
 * @len: bytes from the cache's start.
 *
 * Context: The caller holds the cache's read lock (mn_gpc_read_lock()); a GPA cache's
 * caller also holds kvm->srcu.
 * Return: true when the cache is active, valid, of the current memslot generation (GPA
 * caches) and @len fits in its page.
 */
MN_EXPORT bool mn_gpc_check(struct mn_gpc *gpc, unsigned long len);

/**
 * mn_gpc_read_lock() - Take the cache's lock for reading (read_lock_irqsave(&gpc->lock)).
 * @gpc: the cache.
 *
 * Context: A sim thread or the world's thread. Spins; the holder must not sleep.
 */
MN_EXPORT void mn_gpc_read_lock(struct mn_gpc *gpc);

/**
 * mn_gpc_read_unlock() - Drop the cache's read lock.
 * @gpc: the cache.
 *
 * Context: The caller holds the read lock.
 */
MN_EXPORT void mn_gpc_read_unlock(struct mn_gpc *gpc);

/**
 * mn_gpc_deactivate() - Stop tracking: invalidate, then leave the VM's list
 * (kvm_gpc_deactivate(), the reverse order of activation).
 * @gpc: the cache.
 *
 * Context: A sim thread or the world's thread. May sleep.
 */
MN_EXPORT void mn_gpc_deactivate(struct mn_gpc *gpc);

/**
 * mn_gpc_read() - Read the cached page's data word as a KVM consumer does.
 * @gpc: the cache.
 * @offset: byte offset from the cache's start of a 64-bit access; [@offset, @offset + 8)
 *          must lie in the cache's page. The sim's frames hold one data word each, so every
 *          offset reads that word.
 * @val: receives it.
 *
 * Read-locks the cache, refreshes it for as long as mn_gpc_check() fails, and reads the
 * frame through the frame oracle with the (pfn, generation) recorded by the refresh. GPA
 * caches are used under kvm->srcu, taken here as the vCPU would hold it.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, an error of mn_gpc_refresh(), or -ESTALE after a use-after-free report.
 */
MN_EXPORT int mn_gpc_read(struct mn_gpc *gpc, unsigned long offset, uint64_t *val);

/**
 * mn_gpc_write() - Write the cached page's data word as a KVM consumer does.
 * @gpc: the cache.
 * @offset: as for mn_gpc_read().
 * @val: the word.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, an error of mn_gpc_refresh(), -ESTALE after a use-after-free report, or
 * -ENOMEM from the frame table.
 */
MN_EXPORT int mn_gpc_write(struct mn_gpc *gpc, unsigned long offset, uint64_t val);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_GPC_H */
