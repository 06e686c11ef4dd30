/* SPDX-License-Identifier: MIT */
/*
 * notifier.h - mmu_notifier subscriptions of a host mm: how a secondary MMU such as KVM
 * hears about every change to the primary MMU's page tables (include/linux/mmu_notifier.h,
 * mm/mmu_notifier.c).
 */
#ifndef MNSIM_NOTIFIER_H
#define MNSIM_NOTIFIER_H

#include <mnsim/types.h>

/**
 * DOC: notifier.h
 *
 * A subscriber embeds a &struct mn_notifier, points @ops at its callbacks and registers it
 * with mn_notifier_register(); the callbacks then run in the sim thread of every host
 * operation that changes the mm's page tables, as the kernel's run in the task doing the
 * munmap, mprotect or migration. The contract is the kernel's (PROTOCOL.md §1.1): when
 * invalidate_range_start() returns, the host may clear its entries, flush its TLB and free
 * the frames, possibly before invalidate_range_end() is called, so a secondary MMU must have
 * dropped every translation of the range by then. Start and end come in pairs; several pairs
 * may be in flight at once on overlapping ranges.
 *
 * Subscribers are kept newest first (hlist_add_head_rcu()) and walked under the mm's
 * notifier SRCU, so mn_notifier_unregister() waits for callbacks in flight. A callback of a
 * range without %MN_NOTIFIER_RANGE_BLOCKABLE runs inside a non-blocking section
 * (mn_non_block_start()): sleeping there is reported as "lock.sleep_in_non_block", and a
 * subscriber that cannot proceed without sleeping must return -EAGAIN from
 * invalidate_range_start(); the host then backs out (the subscribers that already started
 * get their end) and the operation fails or is retried, as the OOM reaper does.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_mm;
struct mn_notifier;

/**
 * enum mn_notify_event - why a range is invalidated (enum mmu_notifier_event, same order).
 * @MN_NOTIFY_UNMAP: the range is unmapped (munmap, mremap, process exit).
 * @MN_NOTIFY_CLEAR: entries are cleared (MADV_DONTNEED, page replaced by copy-on-write,
 *                   migration through rmap, THP split and collapse).
 * @MN_NOTIFY_PROTECTION_VMA: the protection of a range changes (mprotect, NUMA hinting).
 * @MN_NOTIFY_PROTECTION_PAGE: the protection of pages changes (fork's write-protection).
 * @MN_NOTIFY_SOFT_DIRTY: soft-dirty tracking write-protects (clear_refs).
 * @MN_NOTIFY_RELEASE: interval notifiers: the mm is going away.
 * @MN_NOTIFY_MIGRATE: device migration through migrate_vma (@owner may skip it).
 * @MN_NOTIFY_EXCLUSIVE: device-exclusive entries.
 *
 * KVM ignores the event: every start is an unmap to it.
 */
enum mn_notify_event {
	MN_NOTIFY_UNMAP = 0,
	MN_NOTIFY_CLEAR,
	MN_NOTIFY_PROTECTION_VMA,
	MN_NOTIFY_PROTECTION_PAGE,
	MN_NOTIFY_SOFT_DIRTY,
	MN_NOTIFY_RELEASE,
	MN_NOTIFY_MIGRATE,
	MN_NOTIFY_EXCLUSIVE,
	MN_NOTIFY_NR,
};

/* struct mn_notifier_range flags */
#define MN_NOTIFIER_RANGE_BLOCKABLE (1U << 0) /* the callbacks may sleep */

/**
 * struct mn_notifier_range - the range of one invalidation (struct mmu_notifier_range).
 * @mm: the mm whose entries change.
 * @start: first address.
 * @end: one past the last address.
 * @flags: %MN_NOTIFIER_RANGE_BLOCKABLE or 0.
 * @event: why.
 * @owner: for %MN_NOTIFY_MIGRATE, the device that started it (or NULL).
 */
struct mn_notifier_range {
	struct mn_mm *mm;
	mn_hva_t start;
	mn_hva_t end;
	unsigned int flags;
	enum mn_notify_event event;
	const void *owner;
};

/**
 * struct mn_notifier_ops - the callbacks of a subscriber (struct mmu_notifier_ops); any may
 * be NULL.
 * @release: the mm is exiting (exit_mmap()) or @sub is being unregistered: drop every
 *           secondary mapping now. Called at most once.
 * @clear_flush_young: test and clear the accessed state of [@start, @end); the primary
 *                     will flush its own TLB. Returns non-zero when something was young.
 * @clear_young: the same without the flush expectation.
 * @test_young: whether @addr is young, without clearing.
 * @invalidate_range_start: the translations of @r must be gone when this returns 0. May
 *                          fail only with -EAGAIN, and only for a non-blockable range.
 * @invalidate_range_end: the primary has finished changing @r.
 */
struct mn_notifier_ops {
	void (*release)(struct mn_notifier *sub, struct mn_mm *mm);
	int (*clear_flush_young)(struct mn_notifier *sub, struct mn_mm *mm, mn_hva_t start,
				 mn_hva_t end);
	int (*clear_young)(struct mn_notifier *sub, struct mn_mm *mm, mn_hva_t start, mn_hva_t end);
	int (*test_young)(struct mn_notifier *sub, struct mn_mm *mm, mn_hva_t addr);
	int (*invalidate_range_start)(struct mn_notifier *sub, const struct mn_notifier_range *r);
	void (*invalidate_range_end)(struct mn_notifier *sub, const struct mn_notifier_range *r);
};

/**
 * struct mn_notifier - a subscription, embedded in the subscriber (struct mmu_notifier).
 * @ops: the callbacks; set before registering.
 * @mm: the mm it is registered with (set by mn_notifier_register()).
 * @next: private: the next (older) subscriber.
 * @registered: private: linked into @mm's list.
 */
struct mn_notifier {
	const struct mn_notifier_ops *ops;
	struct mn_mm *mm;
	struct mn_notifier *next;
	bool registered;
};

/**
 * mn_notifier_register() - Subscribe @sub to @mm (mmu_notifier_register()).
 * @sub: the subscription, with @ops set.
 * @mm: the mm.
 *
 * Takes the mmap lock for writing, as the kernel does, so registration is ordered against
 * every operation in flight: one that started before gets no callbacks, one after gets all.
 *
 * Context: A sim thread, or the world's thread outside a run. May sleep.
 * Return: 0, -EINVAL when @sub has no ops, -EBUSY when it is already registered, or -ESRCH
 * when @mm has exited.
 */
MN_EXPORT int mn_notifier_register(struct mn_notifier *sub, struct mn_mm *mm);

/**
 * mn_notifier_unregister() - End a subscription (mmu_notifier_unregister()).
 * @sub: the subscription.
 * @mm: the mm it was registered with.
 *
 * Calls @sub's release unless the mm's exit already did, unlinks it, and waits (SRCU) until
 * no callback of @sub is running anywhere.
 *
 * Context: A sim thread, or the world's thread outside a run. May sleep.
 * Return: 0, or -ENOENT when @sub is not registered with @mm.
 */
MN_EXPORT int mn_notifier_unregister(struct mn_notifier *sub, struct mn_mm *mm);

/**
 * mn_notify_event_name() - Name of an event, as the kernel spells it.
 * @event: the event.
 *
 * Context: Any context.
 * Return: "MMU_NOTIFY_UNMAP", ..., or "?".
 */
MN_EXPORT const char *mn_notify_event_name(enum mn_notify_event event);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_NOTIFIER_H */
