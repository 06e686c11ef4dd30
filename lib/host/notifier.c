// SPDX-License-Identifier: MIT
/*
 * notifier.c - mmu_notifier subscriptions and the calls into them, modelled on
 * mm/mmu_notifier.c: registration under the mmap lock, newest subscriber first, callbacks
 * under SRCU, non-blockable ranges inside non_block_start()/non_block_end(), back-out of a
 * failed start, and release at exit.
 */
#include "host/host-internal.h"

static const char *const event_names[MN_NOTIFY_NR] = {
	[MN_NOTIFY_UNMAP] = "MMU_NOTIFY_UNMAP",
	[MN_NOTIFY_CLEAR] = "MMU_NOTIFY_CLEAR",
	[MN_NOTIFY_PROTECTION_VMA] = "MMU_NOTIFY_PROTECTION_VMA",
	[MN_NOTIFY_PROTECTION_PAGE] = "MMU_NOTIFY_PROTECTION_PAGE",
	[MN_NOTIFY_SOFT_DIRTY] = "MMU_NOTIFY_SOFT_DIRTY",
	[MN_NOTIFY_RELEASE] = "MMU_NOTIFY_RELEASE",
	[MN_NOTIFY_MIGRATE] = "MMU_NOTIFY_MIGRATE",
	[MN_NOTIFY_EXCLUSIVE] = "MMU_NOTIFY_EXCLUSIVE",
};

const char *mn_notify_event_name(enum mn_notify_event event)
{
	return (unsigned int)event < MN_NOTIFY_NR ? event_names[event] : "?";
}

int mn_notifier_register(struct mn_notifier *sub, struct mn_mm *mm)
{
	int ret = 0;

	if (!sub || !sub->ops)
		return -EINVAL;
	if (sub->registered)
		return -EBUSY;
	mn_write_lock(mm->sim, &mm->mmap_lock);
	if (mm->exiting) {
		ret = -ESRCH;
		goto out;
	}
	mn_spin_lock(mm->sim, &mm->notifier_lock);
	sub->mm = mm;
	sub->next = mm->subs;
	mm->subs = sub;
	sub->registered = true;
	mn_spin_unlock(mm->sim, &mm->notifier_lock);
	mn_trace(mm->trace, "mmu_notifier.register");
out:
	mn_write_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}

/* Unlink @sub, leaving its @next intact for walkers still inside SRCU (hlist_del_rcu). */
static void unlink_sub(struct mn_mm *mm, struct mn_notifier *sub)
{
	struct mn_notifier **pp;

	for (pp = &mm->subs; *pp; pp = &(*pp)->next) {
		if (*pp == sub) {
			*pp = sub->next;
			break;
		}
	}
	sub->registered = false;
}

int mn_notifier_unregister(struct mn_notifier *sub, struct mn_mm *mm)
{
	if (!sub || sub->mm != mm)
		return -ENOENT;
	if (sub->registered) {
		/* Not released by exit yet: release now, so the subscriber drops everything. */
		int idx = mn_srcu_read_lock(mm->sim, &mm->notifier_srcu);

		if (sub->ops->release)
			sub->ops->release(sub, mm);
		mn_srcu_read_unlock(mm->sim, &mm->notifier_srcu, idx);
		mn_spin_lock(mm->sim, &mm->notifier_lock);
		unlink_sub(mm, sub);
		mn_spin_unlock(mm->sim, &mm->notifier_lock);
	}
	mn_synchronize_srcu(mm->sim, &mm->notifier_srcu);
	sub->mm = NULL;
	mn_trace(mm->trace, "mmu_notifier.unregister");
	return 0;
}

struct mn_notifier_range notify_range(struct mn_mm *mm, enum mn_notify_event ev, mn_hva_t start,
				      mn_hva_t end, bool blockable)
{
	return (struct mn_notifier_range){ .mm = mm,
					   .start = start,
					   .end = end,
					   .flags = blockable ? MN_NOTIFIER_RANGE_BLOCKABLE : 0,
					   .event = ev };
}

static void trace_range(struct mn_mm *mm, const char *step, const struct mn_notifier_range *r)
{
	mn_trace(mm->trace, step, MN_KV_X("start", r->start), MN_KV_X("end", r->end),
		 MN_KV_S("event", mn_notify_event_name(r->event)),
		 MN_KV_U("blockable", r->flags & MN_NOTIFIER_RANGE_BLOCKABLE));
}

static int call_start(struct mn_mm *mm, struct mn_notifier *sub, const struct mn_notifier_range *r)
{
	bool blockable = r->flags & MN_NOTIFIER_RANGE_BLOCKABLE;
	int ret;

	if (!blockable)
		mn_non_block_start(mm->sim, "non-blockable invalidate_range_start");
	ret = sub->ops->invalidate_range_start(sub, r);
	if (!blockable)
		mn_non_block_end(mm->sim);
	if (ret && (blockable || ret != -EAGAIN))
		mn_sim_reportf(
			mm->sim, MN_VIOL_CHECK, "notifier.start_failed",
			"invalidate_range_start [%#llx, %#llx) failed with %s on a %s range: "
			"only a non-blockable start may fail, and only with -EAGAIN",
			(unsigned long long)r->start, (unsigned long long)r->end, mn_errname(ret),
			blockable ? "blockable" : "non-blockable");
	return ret;
}

static void call_end(struct mn_mm *mm, struct mn_notifier *sub, const struct mn_notifier_range *r)
{
	bool blockable = r->flags & MN_NOTIFIER_RANGE_BLOCKABLE;

	if (!sub->ops->invalidate_range_end)
		return;
	if (!blockable)
		mn_non_block_start(mm->sim, "non-blockable invalidate_range_end");
	sub->ops->invalidate_range_end(sub, r);
	if (!blockable)
		mn_non_block_end(mm->sim);
}

/*
 * mmu_notifier_invalidate_range_start(): every subscriber's start, newest first. When one
 * fails (only a non-blockable range may), the others still start, and then every
 * subscriber gets its end, the failed one included, as mn_hlist_invalidate_range_start()
 * backs out; the caller sees the error.
 */
int notify_start(struct mn_mm *mm, const struct mn_notifier_range *r)
{
	struct mn_notifier *sub;
	int idx, ret = 0, err;

	mm->st.invalidations++;
	trace_range(mm, "mmu_notifier.invalidate_range_start", r);
	idx = mn_srcu_read_lock(mm->sim, &mm->notifier_srcu);
	for (sub = mm->subs; sub; sub = sub->next) {
		if (!sub->ops->invalidate_range_start)
			continue;
		err = call_start(mm, sub, r);
		if (err)
			ret = err;
	}
	if (ret) {
		for (sub = mm->subs; sub; sub = sub->next)
			call_end(mm, sub, r);
		trace_range(mm, "mmu_notifier.invalidate_range_start_failed", r);
	}
	mn_srcu_read_unlock(mm->sim, &mm->notifier_srcu, idx);
	return ret;
}

void notify_end(struct mn_mm *mm, const struct mn_notifier_range *r)
{
	struct mn_notifier *sub;
	int idx;

	trace_range(mm, "mmu_notifier.invalidate_range_end", r);
	idx = mn_srcu_read_lock(mm->sim, &mm->notifier_srcu);
	for (sub = mm->subs; sub; sub = sub->next)
		call_end(mm, sub, r);
	mn_srcu_read_unlock(mm->sim, &mm->notifier_srcu, idx);
}

/* __mmu_notifier_clear_flush_young() and friends: the OR of every subscriber's answer. */
int notify_young(struct mn_mm *mm, enum mn_age_mode mode, mn_hva_t start, mn_hva_t end)
{
	struct mn_notifier *sub;
	int idx, young = 0;

	idx = mn_srcu_read_lock(mm->sim, &mm->notifier_srcu);
	for (sub = mm->subs; sub; sub = sub->next) {
		const struct mn_notifier_ops *o = sub->ops;

		if (mode == MN_AGE_CLEAR_FLUSH_YOUNG && o->clear_flush_young)
			young |= o->clear_flush_young(sub, mm, start, end) != 0;
		else if (mode == MN_AGE_CLEAR_YOUNG && o->clear_young)
			young |= o->clear_young(sub, mm, start, end) != 0;
		else if (mode == MN_AGE_TEST_YOUNG && o->test_young &&
			 o->test_young(sub, mm, start))
			young = 1;
		if (young && mode == MN_AGE_TEST_YOUNG)
			break; /* __mmu_notifier_test_young() stops at the first young answer */
	}
	mn_srcu_read_unlock(mm->sim, &mm->notifier_srcu, idx);
	return young;
}

/*
 * __mmu_notifier_release(): every subscriber's release under SRCU, then all are unlinked
 * and a grace period passes, so no callback runs after exit_mmap() goes on.
 */
void notify_release(struct mn_mm *mm)
{
	struct mn_notifier *sub;
	int idx;

	mn_trace(mm->trace, "mmu_notifier.release");
	idx = mn_srcu_read_lock(mm->sim, &mm->notifier_srcu);
	for (sub = mm->subs; sub; sub = sub->next)
		if (sub->ops->release)
			sub->ops->release(sub, mm);
	mn_srcu_read_unlock(mm->sim, &mm->notifier_srcu, idx);
	mn_spin_lock(mm->sim, &mm->notifier_lock);
	while (mm->subs)
		unlink_sub(mm, mm->subs);
	mm->released = true;
	mn_spin_unlock(mm->sim, &mm->notifier_lock);
	mn_synchronize_srcu(mm->sim, &mm->notifier_srcu);
}

int mn_mm_notify_invalidate(struct mn_mm *mm, enum mn_notify_event event, mn_hva_t start,
			    mn_hva_t end)
{
	struct mn_notifier_range r;
	int ret;

	if ((start | end) & ~MN_PAGE_MASK || end <= start || end > HOST_TASK_SIZE ||
	    (unsigned int)event > MN_NOTIFY_EXCLUSIVE)
		return -EINVAL;
	r = notify_range(mm, event, start, end, true);
	ret = notify_start(mm, &r);
	if (!ret) /* a failed start was backed out with its ends already */
		notify_end(mm, &r);
	return ret;
}

int mn_mm_notify_age(struct mn_mm *mm, enum mn_age_mode mode, mn_hva_t start, mn_hva_t end)
{
	mn_hva_t addr;

	if ((start | end) & ~MN_PAGE_MASK || end <= start || end > HOST_TASK_SIZE ||
	    (unsigned int)mode > MN_AGE_TEST_YOUNG)
		return -EINVAL;
	if (mode != MN_AGE_TEST_YOUNG)
		return notify_young(mm, mode, start, end);
	/* mmu_notifier_test_young() asks about one address: each page in turn, until young. */
	for (addr = start; addr < end; addr += MN_PAGE_SIZE)
		if (notify_young(mm, mode, addr, addr + MN_PAGE_SIZE))
			return 1;
	return 0;
}
