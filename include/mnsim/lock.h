/* SPDX-License-Identifier: MIT */
/*
 * lock.h - sim locks that block sim threads, never the OS thread: mutex, spinlock, rwlock
 * (spinning rwlock_t or sleeping rw_semaphore), SRCU, wait queues and atomic helpers, with
 * owner tracking and lockdep-style checks (kernel/locking/, kernel/rcu/srcutree.c,
 * include/linux/rcuwait.h).
 */
#ifndef MNSIM_LOCK_H
#define MNSIM_LOCK_H

#include <mnsim/sim.h>

/**
 * DOC: lock.h
 *
 * Every lock operation is a yield point that names the lock, so the explorer can
 * interleave other threads right before it and knows which operations commute.
 * A thread that cannot take a lock blocks (it is no longer enabled) and retries when the
 * lock is released; all threads blocked is a deadlock. Misuse is reported, not crashed on:
 * unlocking a lock the thread does not hold ("lock.not_held", the unlock is ignored),
 * taking a mutex or spinlock it already holds ("lock.recursive", the run stops), taking
 * locks in an order that inverts an order seen before in the world ("lock.order_inversion",
 * lockdep's check, by lock name; readers are ordered like writers, as lockdep does for
 * queued rwlocks in process context, and SRCU readers, which never wait, only against
 * synchronize), and blocking on a sleeping primitive while holding a
 * spinning lock ("lock.sleep_in_atomic"). Spinning locks are spinlocks and rwlocks created
 * with %MN_RW_SPIN (KVM's mmu_lock and gpc->lock are rwlock_t); mutexes, %MN_RW_SLEEP
 * rwlocks (rw_semaphore, e.g. guest_memfd's invalidate_lock), SRCU synchronize, wait
 * queues and joins sleep.
 *
 * The rwlock gives writers preference as the kernel's queued rwlock does in process
 * context: once a writer waits, new readers wait behind it, so readers cannot starve it.
 *
 * Lock structures are embedded in the caller's objects and initialised with their
 * mn_*_init() function; names are string literals and double as lockdep class names.
 * The fields are private.
 */

#ifdef __cplusplus
extern "C" {
#endif

/* Private state shared by mutex, spinlock and rwlock. */
struct mn_lock_base {
	const char *name;
	const void *owner; /* exclusive holder: a struct mn_thread, or the world itself */
	uint64_t waiters;	 /* blocked threads, by index */
	int32_t readers;	 /* shared holders (rwlock) */
	uint32_t writers_waiting;
	uint8_t kind;
	bool sleeping;
};

/* A sleeping mutual-exclusion lock (struct mutex). */
struct mn_mutex {
	struct mn_lock_base b;
};

/* A spinning mutual-exclusion lock (spinlock_t); its holder must not sleep. */
struct mn_spinlock {
	struct mn_lock_base b;
};

/* A readers/writer lock, spinning (rwlock_t) or sleeping (rw_semaphore). */
struct mn_rwlock {
	struct mn_lock_base b;
};

/* Sleepable RCU (struct srcu_struct): per-index reader counts. */
struct mn_srcu {
	const char *name;
	uint32_t idx;
	uint32_t readers[2];
	uint64_t waiters;
	bool syncing;
};

/* A wait queue for rcuwait/wait_event-style sleeping until a condition holds. */
struct mn_waitq {
	const char *name;
	uint64_t waiters;
};

/**
 * enum mn_rw_kind - which kernel readers/writer lock an &struct mn_rwlock models.
 * @MN_RW_SPIN: rwlock_t: spinning, holders must not sleep.
 * @MN_RW_SLEEP: rw_semaphore: sleeping.
 */
enum mn_rw_kind {
	MN_RW_SPIN = 0,
	MN_RW_SLEEP,
};

/**
 * mn_mutex_init() - Initialise an unlocked mutex.
 * @m: the mutex.
 * @name: its name and lockdep class (string literal).
 *
 * Context: Any context.
 */
MN_EXPORT void mn_mutex_init(struct mn_mutex *m, const char *name);

/**
 * mn_mutex_lock() - Take @m, blocking while another thread holds it (mutex_lock).
 * @sim: the world.
 * @m: the mutex.
 *
 * Context: Sleeps: reported in atomic context. Recursive locking is reported and stops
 * the run.
 */
MN_EXPORT void mn_mutex_lock(struct mn_sim *sim, struct mn_mutex *m);

/**
 * mn_mutex_trylock() - Take @m if it is free (mutex_trylock).
 * @sim: the world.
 * @m: the mutex.
 *
 * Context: Any sim context.
 * Return: true when taken.
 */
MN_EXPORT bool mn_mutex_trylock(struct mn_sim *sim, struct mn_mutex *m);

/**
 * mn_mutex_unlock() - Release @m (mutex_unlock).
 * @sim: the world.
 * @m: the mutex.
 *
 * Context: Held by the caller; otherwise reported as "lock.not_held" and ignored.
 */
MN_EXPORT void mn_mutex_unlock(struct mn_sim *sim, struct mn_mutex *m);

/**
 * mn_mutex_is_held() - Whether the running thread holds @m (lockdep_assert_held).
 * @sim: the world.
 * @m: the mutex.
 *
 * Context: Any context.
 * Return: true when the caller is the owner.
 */
MN_EXPORT bool mn_mutex_is_held(const struct mn_sim *sim, const struct mn_mutex *m);

/**
 * mn_spin_init() - Initialise an unlocked spinlock.
 * @s: the spinlock.
 * @name: its name and lockdep class (string literal).
 *
 * Context: Any context.
 */
MN_EXPORT void mn_spin_init(struct mn_spinlock *s, const char *name);

/**
 * mn_spin_lock() - Take @s, spinning (blocking) while another thread holds it.
 * @sim: the world.
 * @s: the spinlock.
 *
 * Context: Any sim context. Recursive locking is reported and stops the run.
 */
MN_EXPORT void mn_spin_lock(struct mn_sim *sim, struct mn_spinlock *s);

/**
 * mn_spin_unlock() - Release @s.
 * @sim: the world.
 * @s: the spinlock.
 *
 * Context: Held by the caller; otherwise reported and ignored.
 */
MN_EXPORT void mn_spin_unlock(struct mn_sim *sim, struct mn_spinlock *s);

/**
 * mn_spin_is_held() - Whether the running thread holds @s.
 * @sim: the world.
 * @s: the spinlock.
 *
 * Context: Any context.
 * Return: true when the caller is the owner.
 */
MN_EXPORT bool mn_spin_is_held(const struct mn_sim *sim, const struct mn_spinlock *s);

/**
 * mn_rwlock_init() - Initialise an unlocked readers/writer lock.
 * @rw: the lock.
 * @name: its name and lockdep class (string literal).
 * @kind: spinning rwlock_t or sleeping rw_semaphore.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_rwlock_init(struct mn_rwlock *rw, const char *name, enum mn_rw_kind kind);

/**
 * mn_read_lock() - Take @rw shared; waits while a writer holds it or waits for it.
 * @sim: the world.
 * @rw: the lock.
 *
 * Context: Any sim context; sleeping kinds are reported in atomic context. A reader that
 * takes the lock again while a writer waits deadlocks, as in the kernel.
 */
MN_EXPORT void mn_read_lock(struct mn_sim *sim, struct mn_rwlock *rw);

/**
 * mn_read_trylock() - Take @rw shared if that needs no waiting (down_read_trylock()).
 * @sim: the world.
 * @rw: the lock.
 *
 * Fails while a writer holds the lock or waits for it. Never sleeps.
 *
 * Context: Any sim context.
 * Return: true when the lock was taken.
 */
MN_EXPORT bool mn_read_trylock(struct mn_sim *sim, struct mn_rwlock *rw);

/**
 * mn_read_unlock() - Drop a shared hold of @rw.
 * @sim: the world.
 * @rw: the lock.
 *
 * Context: The caller holds @rw shared; otherwise reported and ignored.
 */
MN_EXPORT void mn_read_unlock(struct mn_sim *sim, struct mn_rwlock *rw);

/**
 * mn_write_lock() - Take @rw exclusively; waits while anyone holds it.
 * @sim: the world.
 * @rw: the lock.
 *
 * Context: Any sim context; sleeping kinds are reported in atomic context. Recursive
 * locking is reported and stops the run.
 */
MN_EXPORT void mn_write_lock(struct mn_sim *sim, struct mn_rwlock *rw);

/**
 * mn_write_unlock() - Release an exclusive hold of @rw.
 * @sim: the world.
 * @rw: the lock.
 *
 * Context: The caller holds @rw exclusively; otherwise reported and ignored.
 */
MN_EXPORT void mn_write_unlock(struct mn_sim *sim, struct mn_rwlock *rw);

/**
 * mn_rwlock_is_held() - Whether the running thread holds @rw.
 * @sim: the world.
 * @rw: the lock.
 * @exclusive: true to ask about an exclusive hold, false for a shared one.
 *
 * Shared holds are tracked per sim thread; outside a run the shared form answers whether
 * anybody holds @rw shared.
 *
 * Context: Any context.
 * Return: true when the caller holds @rw in that mode.
 */
MN_EXPORT bool mn_rwlock_is_held(const struct mn_sim *sim, const struct mn_rwlock *rw,
				 bool exclusive);

/**
 * mn_srcu_init() - Initialise an SRCU domain with no readers.
 * @s: the domain.
 * @name: its name (string literal).
 *
 * Context: Any context.
 */
MN_EXPORT void mn_srcu_init(struct mn_srcu *s, const char *name);

/**
 * mn_srcu_read_lock() - Enter a read-side critical section (srcu_read_lock).
 * @sim: the world.
 * @s: the domain.
 *
 * Context: Any sim context; never blocks; sections nest.
 * Return: the index to pass to mn_srcu_read_unlock().
 */
MN_EXPORT int mn_srcu_read_lock(struct mn_sim *sim, struct mn_srcu *s);

/**
 * mn_srcu_read_unlock() - Leave a read-side critical section.
 * @sim: the world.
 * @s: the domain.
 * @idx: the value mn_srcu_read_lock() returned.
 *
 * Context: The caller is in a section of @s with @idx; otherwise reported and ignored.
 */
MN_EXPORT void mn_srcu_read_unlock(struct mn_sim *sim, struct mn_srcu *s, int idx);

/**
 * mn_synchronize_srcu() - Wait until every reader that entered before this call has left.
 * @sim: the world.
 * @s: the domain.
 *
 * Flips the index and waits for the old index's readers to drain, after first waiting for
 * stragglers of the previous flip, as the classic SRCU algorithm does. Readers that enter
 * after the flip are not waited for.
 *
 * Context: Sleeps. Calling it inside a read section of @s deadlocks (and is reported).
 */
MN_EXPORT void mn_synchronize_srcu(struct mn_sim *sim, struct mn_srcu *s);

/**
 * mn_waitq_init() - Initialise an empty wait queue.
 * @wq: the queue.
 * @name: its name (string literal).
 *
 * Context: Any context.
 */
MN_EXPORT void mn_waitq_init(struct mn_waitq *wq, const char *name);

/**
 * mn_wait_event() - Sleep on @wq until @cond(@arg) is true (wait_event / rcuwait_wait_event).
 * @sim: the world.
 * @wq: the queue.
 * @cond: the condition, evaluated with no yield between the check and going to sleep.
 * @arg: its argument.
 *
 * Context: Sleeps.
 */
MN_EXPORT void mn_wait_event(struct mn_sim *sim, struct mn_waitq *wq, bool (*cond)(void *arg),
			     void *arg);

/**
 * mn_wake_up() - Make every thread sleeping on @wq re-check its condition (wake_up_all).
 * @sim: the world.
 * @wq: the queue.
 *
 * Context: Any sim context.
 */
MN_EXPORT void mn_wake_up(struct mn_sim *sim, struct mn_waitq *wq);

/**
 * mn_atomic_read() - Read a shared word (atomic_long_read / READ_ONCE); a yield point.
 * @sim: the world.
 * @w: the word.
 * @id: the yield point's id (string literal).
 *
 * Context: Any sim context.
 * Return: the value.
 */
MN_EXPORT uint64_t mn_atomic_read(struct mn_sim *sim, const uint64_t *w, const char *id);

/**
 * mn_atomic_set() - Write a shared word (atomic_long_set / WRITE_ONCE); a yield point.
 * @sim: the world.
 * @w: the word.
 * @v: the value.
 * @id: the yield point's id (string literal).
 *
 * Context: Any sim context.
 */
MN_EXPORT void mn_atomic_set(struct mn_sim *sim, uint64_t *w, uint64_t v, const char *id);

/**
 * mn_atomic_add_return() - Add to a shared word in one step; a yield point.
 * @sim: the world.
 * @w: the word.
 * @delta: added modulo 2^64 (pass a negated value to subtract).
 * @id: the yield point's id (string literal).
 *
 * Context: Any sim context.
 * Return: the new value.
 */
MN_EXPORT uint64_t mn_atomic_add_return(struct mn_sim *sim, uint64_t *w, uint64_t delta,
					const char *id);

/**
 * mn_atomic_cmpxchg() - Replace @old by @val in one step if the word holds @old.
 * @sim: the world.
 * @w: the word.
 * @old: the expected value.
 * @val: the replacement.
 * @id: the yield point's id (string literal).
 *
 * Context: Any sim context.
 * Return: the value the word held before (equal to @old on success).
 */
MN_EXPORT uint64_t mn_atomic_cmpxchg(struct mn_sim *sim, uint64_t *w, uint64_t old, uint64_t val,
				     const char *id);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_LOCK_H */
