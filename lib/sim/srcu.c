// SPDX-License-Identifier: MIT
/*
 * srcu.c - sleepable RCU with the classic two-index algorithm (kernel/rcu/srcutree.c's
 * ancestor srcu.c: per-index reader counts, synchronize flips the index and waits for the
 * old one to drain), wait queues (include/linux/wait.h, rcuwait.h), and atomic helpers
 * on shared words.
 */
#include "sim/sim-internal.h"

void mn_srcu_init(struct mn_srcu *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
}

static noinline int srcu_read_lock_full(struct mn_sim *sim, struct mn_srcu *s)
{
	int idx;

	mn_yield_access(sim, "srcu_read_lock", s, MN_ACCESS_READ);
	idx = (int)(s->idx & 1);
	s->readers[idx]++;
	sim_push_held(sim, s, s->name, LOCK_SRCU, HELD_SRCU, false, idx);
	mn_trace(sim->trace, "srcu_read_lock", MN_KV_S("srcu", s->name), MN_KV_I("idx", idx));
	return idx;
}

int mn_srcu_read_lock(struct mn_sim *sim, struct mn_srcu *s)
{
	int idx;

	/*
	 * The fast path of lock.c: outside a run with tracing off only the count moves.
	 * synchronize_srcu() and memslot.c's reader check still see it.
	 */
	if (unlikely(!lock_fast(sim)))
		return srcu_read_lock_full(sim, s);
	idx = (int)(s->idx & 1);
	s->readers[idx]++;
	return idx;
}

static noinline void srcu_read_unlock_full(struct mn_sim *sim, struct mn_srcu *s, int idx)
{
	struct mn_thread *t = in_run(sim) ? sim->current : NULL;
	struct held_lock *h = NULL;
	unsigned int i;

	mn_yield_access(sim, "srcu_read_unlock", s, MN_ACCESS_READ);
	if (t) {
		for (i = t->nr_held; i-- > 0;) {
			if (t->held[i].lock == s && t->held[i].srcu_idx == idx) {
				h = &t->held[i];
				break;
			}
		}
	}
	if ((idx != 0 && idx != 1) || (t && !h) || s->readers[idx & 1] == 0) {
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.not_held",
			       "srcu_read_unlock of %s with index %d outside such a section",
			       s->name, idx);
		return;
	}
	if (h)
		sim_pop_held(t, h);
	if (--s->readers[idx] == 0)
		sim_wake(sim, &s->waiters);
	mn_trace(sim->trace, "srcu_read_unlock", MN_KV_S("srcu", s->name), MN_KV_I("idx", idx));
}

void mn_srcu_read_unlock(struct mn_sim *sim, struct mn_srcu *s, int idx)
{
	/* The fast path, for a well-paired unlock that wakes nobody. */
	if (likely(lock_fast(sim) && (idx == 0 || idx == 1) && s->readers[idx] && !s->waiters))
		s->readers[idx]--;
	else
		srcu_read_unlock_full(sim, s, idx);
}

/* Sleep until no reader holds index @idx. */
static bool wait_drain(struct mn_sim *sim, struct mn_srcu *s, unsigned int idx)
{
	while (s->readers[idx]) {
		sim_block(sim, &s->waiters, "srcu readers of", s->name, s, NULL, NULL);
		if (!in_run(sim))
			return false;
	}
	return true;
}

void mn_synchronize_srcu(struct mn_sim *sim, struct mn_srcu *s)
{
	unsigned int old;

	mn_might_sleep(sim, "synchronize_srcu");
	mn_yield_access(sim, "synchronize_srcu", s, MN_ACCESS_WRITE);
	if (in_run(sim) && sim_find_held(sim->current, s, HELD_SRCU)) {
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.recursive",
			       "%s calls synchronize_srcu(%s) inside its own read-side section",
			       sim->current->name, s->name);
		sim_thread_stuck(sim, "synchronize_srcu inside read section of", s->name);
		return;
	}
	lockdep_acquire(sim, s->name, true);
	/* Grace periods are serialised, as srcu_gp_mutex does. */
	while (s->syncing) {
		sim_block(sim, &s->waiters, "grace period of", s->name, NULL, NULL, NULL);
		if (!in_run(sim))
			return;
	}
	s->syncing = true;
	mn_trace(sim->trace, "synchronize_srcu.start", MN_KV_S("srcu", s->name),
		 MN_KV_U("idx", s->idx & 1));
	/* Stragglers that sampled the index before the previous flip. */
	if (wait_drain(sim, s, (s->idx & 1) ^ 1)) {
		old = s->idx & 1;
		s->idx++;
		wait_drain(sim, s, old);
	}
	s->syncing = false;
	sim_wake(sim, &s->waiters);
	mn_trace(sim->trace, "synchronize_srcu.done", MN_KV_S("srcu", s->name));
}

void mn_waitq_init(struct mn_waitq *wq, const char *name)
{
	wq->name = name;
	wq->waiters = 0;
}

void mn_wait_event(struct mn_sim *sim, struct mn_waitq *wq, bool (*cond)(void *arg), void *arg)
{
	mn_might_sleep(sim, "wait_event");
	/* The condition reads state the queue does not name: dependent with everything. */
	mn_yield_access(sim, "wait_event", NULL, MN_ACCESS_ANY);
	while (!cond(arg)) {
		sim_block(sim, &wq->waiters, "wait queue", wq->name, NULL, NULL, NULL);
		if (!in_run(sim))
			return;
	}
}

void mn_wake_up(struct mn_sim *sim, struct mn_waitq *wq)
{
	mn_yield_access(sim, "wake_up", wq, MN_ACCESS_WRITE);
	sim_wake(sim, &wq->waiters);
}

uint64_t mn_atomic_read(struct mn_sim *sim, const uint64_t *w, const char *id)
{
	uint64_t v;

	mn_yield_access(sim, id, w, MN_ACCESS_READ);
	v = *w;
	mn_trace(sim->trace, id, MN_KV_U("read", v));
	return v;
}

void mn_atomic_set(struct mn_sim *sim, uint64_t *w, uint64_t v, const char *id)
{
	mn_yield_access(sim, id, w, MN_ACCESS_WRITE);
	*w = v;
	mn_trace(sim->trace, id, MN_KV_U("set", v));
}

uint64_t mn_atomic_add_return(struct mn_sim *sim, uint64_t *w, uint64_t delta, const char *id)
{
	uint64_t v;

	mn_yield_access(sim, id, w, MN_ACCESS_WRITE);
	v = *w += delta;
	mn_trace(sim->trace, id, MN_KV_U("now", v));
	return v;
}

uint64_t mn_atomic_cmpxchg(struct mn_sim *sim, uint64_t *w, uint64_t old, uint64_t val,
			   const char *id)
{
	uint64_t prev;

	mn_yield_access(sim, id, w, MN_ACCESS_WRITE);
	prev = *w;
	if (prev == old)
		*w = val;
	mn_trace(sim->trace, id, MN_KV_U("old", prev), MN_KV_U("new", prev == old ? val : prev));
	return prev;
}
