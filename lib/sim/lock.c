// SPDX-License-Identifier: MIT
/*
 * lock.c - sim mutexes, spinlocks and readers/writer locks: owner tracking, blocking and
 * retry, writer preference (kernel/locking/qrwlock.c in process context), and the misuse
 * reports of lock.h.
 */
#include "sim/sim-internal.h"

/* Who the caller is, as a lock owner: its sim thread, or the world outside any run. */
static const void *self_tag(const struct mn_sim *sim)
{
	return in_run(sim) ? (const void *)sim->current : (const void *)sim;
}

static void trace_lock(struct mn_sim *sim, const char *op, const char *name)
{
	mn_trace(sim->trace, op, MN_KV_S("lock", name));
}

static void lock_init(struct mn_lock_base *b, const char *name, enum lock_kind kind,
		      bool sleeping)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->kind = (uint8_t)kind;
	b->sleeping = sleeping;
}

static void report_not_held(struct mn_sim *sim, const char *op, const struct mn_lock_base *b)
{
	if (!b->owner && b->readers > 0)
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.not_held", "%s %s %s, held by %d reader(s)",
			       sim_owner_name(sim, self_tag(sim)), op, b->name, b->readers);
	else
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.not_held", "%s %s %s, held by %s",
			       sim_owner_name(sim, self_tag(sim)), op, b->name,
			       sim_owner_name(sim, b->owner));
}

static void report_recursive(struct mn_sim *sim, const char *op, const char *name)
{
	mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.recursive", "%s %s %s, which it already holds",
		       sim_owner_name(sim, self_tag(sim)), op, name);
	sim_thread_stuck(sim, op, name);
}

/*
 * The fast paths. Outside mn_sim_run() no sim thread runs, so a lock operation has no
 * yield point to stop at, no held-lock list or lockdep chain to extend (both belong to
 * sim threads, and sim->current is NULL), and might_sleep() has nobody to check: the
 * full paths do none of that there. With tracing off as well, what is left is the lock
 * word and the misuse reports. So while lock_fast() (outside a run, tracing off), each
 * operation that would neither report nor wake anybody (threads left blocked by an ended
 * run) only changes the lock word, exactly as the full path would; every other case
 * takes the full path. Either way the world ends up in the same state, held-lock lists,
 * lockdep's graph and reader counts included. Inside a run nothing changes.
 */

/* Exclusive acquisition shared by mutex and spinlock: the full path. */
static noinline void excl_lock_full(struct mn_sim *sim, struct mn_lock_base *b, const char *op,
				    const char *what)
{
	const void *self = self_tag(sim);

	if (b->sleeping)
		mn_might_sleep(sim, op);
	mn_yield_access(sim, op, b, MN_ACCESS_WRITE);
	if (b->owner == self) {
		report_recursive(sim, op, b->name);
		return;
	}
	lockdep_acquire(sim, b->name, true);
	while (b->owner) {
		sim_block(sim, &b->waiters, what, b->name, b, b, NULL);
		if (!in_run(sim))
			return; /* reported as a deadlock: nobody can release it */
	}
	b->owner = self;
	sim_push_held(sim, b, b->name, (enum lock_kind)b->kind, HELD_EXCL, !b->sleeping, 0);
	trace_lock(sim, op, b->name);
}

static inline void excl_lock(struct mn_sim *sim, struct mn_lock_base *b, const char *op,
			     const char *what)
{
	if (likely(lock_fast(sim) && !b->owner))
		b->owner = sim; /* self_tag() outside a run */
	else
		excl_lock_full(sim, b, op, what);
}

static noinline void excl_unlock_full(struct mn_sim *sim, struct mn_lock_base *b, const char *op)
{
	struct held_lock *h;

	mn_yield_access(sim, op, b, MN_ACCESS_WRITE);
	if (b->owner != self_tag(sim)) {
		report_not_held(sim, op, b);
		return;
	}
	h = sim_find_held(sim->current, b, HELD_EXCL);
	if (h && in_run(sim))
		sim_pop_held(sim->current, h);
	b->owner = NULL;
	sim_wake(sim, &b->waiters);
	trace_lock(sim, op, b->name);
}

static inline void excl_unlock(struct mn_sim *sim, struct mn_lock_base *b, const char *op)
{
	if (likely(lock_fast(sim) && b->owner == sim && !b->waiters))
		b->owner = NULL;
	else
		excl_unlock_full(sim, b, op);
}

void mn_mutex_init(struct mn_mutex *m, const char *name)
{
	lock_init(&m->b, name, LOCK_MUTEX, true);
}

void mn_mutex_lock(struct mn_sim *sim, struct mn_mutex *m)
{
	excl_lock(sim, &m->b, "mutex_lock", "mutex");
}

bool mn_mutex_trylock(struct mn_sim *sim, struct mn_mutex *m)
{
	mn_yield_access(sim, "mutex_trylock", &m->b, MN_ACCESS_WRITE);
	if (m->b.owner)
		return false;
	m->b.owner = self_tag(sim);
	sim_push_held(sim, &m->b, m->b.name, LOCK_MUTEX, HELD_EXCL, false, 0);
	trace_lock(sim, "mutex_trylock", m->b.name);
	return true;
}

void mn_mutex_unlock(struct mn_sim *sim, struct mn_mutex *m)
{
	excl_unlock(sim, &m->b, "mutex_unlock");
}

bool mn_mutex_is_held(const struct mn_sim *sim, const struct mn_mutex *m)
{
	return m->b.owner == self_tag(sim);
}

void mn_spin_init(struct mn_spinlock *s, const char *name)
{
	lock_init(&s->b, name, LOCK_SPIN, false);
}

void mn_spin_lock(struct mn_sim *sim, struct mn_spinlock *s)
{
	excl_lock(sim, &s->b, "spin_lock", "spinlock");
}

void mn_spin_unlock(struct mn_sim *sim, struct mn_spinlock *s)
{
	excl_unlock(sim, &s->b, "spin_unlock");
}

bool mn_spin_is_held(const struct mn_sim *sim, const struct mn_spinlock *s)
{
	return s->b.owner == self_tag(sim);
}

void mn_rwlock_init(struct mn_rwlock *rw, const char *name, enum mn_rw_kind kind)
{
	lock_init(&rw->b, name, LOCK_RWLOCK, kind == MN_RW_SLEEP);
}

static noinline void read_lock_full(struct mn_sim *sim, struct mn_lock_base *b)
{
	if (b->sleeping)
		mn_might_sleep(sim, "down_read");
	mn_yield_access(sim, "read_lock", b, MN_ACCESS_READ);
	if (b->owner == self_tag(sim)) {
		report_recursive(sim, "read_lock", b->name);
		return;
	}
	if (!b->sleeping && in_run(sim) && sim_find_held(sim->current, b, HELD_SHARED))
		/* Queued rwlock, process context: a writer queued in between deadlocks us. */
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.recursive_read",
			       "%s takes rwlock %s for read again while holding it for read",
			       sim->current->name, b->name);
	/*
	 * Ordered like any acquisition: with queued rwlocks a reader waits behind a waiting
	 * writer, so lockdep treats process-context read_lock() as a non-recursive read
	 * (read_lock_is_recursive() in kernel/locking/lockdep.c).
	 */
	lockdep_acquire(sim, b->name, true);
	/* Writer preference: a waiting writer holds new readers back. */
	while (b->owner || b->writers_waiting) {
		sim_block(sim, &b->waiters, "read lock of", b->name, b, b, NULL);
		if (!in_run(sim))
			return;
	}
	b->readers++;
	sim_push_held(sim, b, b->name, LOCK_RWLOCK, HELD_SHARED, !b->sleeping, 0);
	trace_lock(sim, "read_lock", b->name);
}

void mn_read_lock(struct mn_sim *sim, struct mn_rwlock *rw)
{
	struct mn_lock_base *b = &rw->b;

	if (likely(lock_fast(sim) && !b->owner && !b->writers_waiting))
		b->readers++;
	else
		read_lock_full(sim, b);
}

bool mn_read_trylock(struct mn_sim *sim, struct mn_rwlock *rw)
{
	struct mn_lock_base *b = &rw->b;

	mn_yield_access(sim, "read_trylock", b, MN_ACCESS_READ);
	if (b->owner || b->writers_waiting)
		return false;
	/* A second shared hold of a queued rwlock could deadlock: refuse it. */
	if (!b->sleeping && in_run(sim) && sim_find_held(sim->current, b, HELD_SHARED))
		return false;
	b->readers++;
	sim_push_held(sim, b, b->name, LOCK_RWLOCK, HELD_SHARED, !b->sleeping, 0);
	trace_lock(sim, "read_trylock", b->name);
	return true;
}

static noinline void read_unlock_full(struct mn_sim *sim, struct mn_lock_base *b)
{
	struct held_lock *h;

	mn_yield_access(sim, "read_unlock", b, MN_ACCESS_READ);
	h = sim_find_held(sim->running ? sim->current : NULL, b, HELD_SHARED);
	if ((in_run(sim) && !h) || b->readers <= 0) {
		report_not_held(sim, "read_unlock", b);
		return;
	}
	if (h)
		sim_pop_held(sim->current, h);
	if (--b->readers == 0)
		sim_wake(sim, &b->waiters);
	trace_lock(sim, "read_unlock", b->name);
}

void mn_read_unlock(struct mn_sim *sim, struct mn_rwlock *rw)
{
	struct mn_lock_base *b = &rw->b;

	if (likely(lock_fast(sim) && b->readers > 0 && !b->waiters))
		b->readers--;
	else
		read_unlock_full(sim, b);
}

static noinline void write_lock_full(struct mn_sim *sim, struct mn_lock_base *b)
{
	const void *self = self_tag(sim);

	if (b->sleeping)
		mn_might_sleep(sim, "down_write");
	mn_yield_access(sim, "write_lock", b, MN_ACCESS_WRITE);
	if (b->owner == self || (in_run(sim) && sim_find_held(sim->current, b, HELD_SHARED))) {
		report_recursive(sim, "write_lock", b->name);
		return;
	}
	lockdep_acquire(sim, b->name, true);
	b->writers_waiting++;
	while (b->owner || b->readers) {
		sim_block(sim, &b->waiters, "write lock of", b->name, b, b, NULL);
		if (!in_run(sim)) {
			b->writers_waiting--;
			return;
		}
	}
	b->writers_waiting--;
	b->owner = self;
	sim_push_held(sim, b, b->name, LOCK_RWLOCK, HELD_EXCL, !b->sleeping, 0);
	trace_lock(sim, "write_lock", b->name);
}

void mn_write_lock(struct mn_sim *sim, struct mn_rwlock *rw)
{
	struct mn_lock_base *b = &rw->b;

	/* Writers left waiting by an ended run do not hold the full path back either. */
	if (likely(lock_fast(sim) && !b->owner && !b->readers))
		b->owner = sim;
	else
		write_lock_full(sim, b);
}

void mn_write_unlock(struct mn_sim *sim, struct mn_rwlock *rw)
{
	excl_unlock(sim, &rw->b, "write_unlock");
}

bool mn_rwlock_is_held(const struct mn_sim *sim, const struct mn_rwlock *rw, bool exclusive)
{
	if (exclusive)
		return rw->b.owner == self_tag(sim);
	if (!sim->running || !sim->current)
		return rw->b.readers > 0; /* shared holds are tracked per sim thread only */
	return sim_find_held(sim->current, &rw->b, HELD_SHARED) != NULL;
}
