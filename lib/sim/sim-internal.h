/* SPDX-License-Identifier: MIT */
/*
 * sim-internal.h - the layout of worlds and sim threads, and the scheduler interface that
 * sim.c, sched.c, lock.c, srcu.c, lockdep.c and explore.c share.
 */
#ifndef MN_SIM_INTERNAL_H
#define MN_SIM_INTERNAL_H

#include "mnsim-internal.h"
#include "sim/coro.h"

#ifndef noinline
#define noinline __attribute__((__noinline__))
#endif

#define SIM_DEFAULT_STACK (256U << 10)
#define SIM_MAX_STACK	  (64U << 20)
#define SIM_DEFAULT_MAX_YIELDS 1000000ULL
#define SIM_MAX_HELD	  48 /* the kernel's MAX_LOCK_DEPTH */
#define LOCKDEP_MAX_CLASS 128

enum lock_kind {
	LOCK_MUTEX = 1,
	LOCK_SPIN,
	LOCK_RWLOCK,
	LOCK_SRCU,
};

enum held_mode {
	HELD_EXCL = 1,
	HELD_SHARED,
	HELD_SRCU, /* an SRCU read-side section (recursive read) */
};

struct held_lock {
	const void *lock;
	const char *name;
	uint8_t kind;
	uint8_t mode;
	bool spinning;
	int srcu_idx;
};

/* The step a thread performs when next scheduled, for the independence relation. */
struct pending {
	const void *obj;
	enum mn_access access;
	const char *id;
};

struct mn_thread {
	struct coro co;
	struct mn_sim *sim;
	unsigned int index;
	uint32_t actor;
	enum mn_thread_state state;
	char *name;
	mn_thread_fn fn;
	void *arg;
	void *data;
	struct pending pending;
	bool starting;		   /* running its first segment */
	struct mn_thread *starter; /* who started it: a thread, or NULL for the run */

	/* What a blocked thread waits for, for deadlock reports. */
	const char *wait_what;
	const char *wait_name;
	const void *wait_obj; /* the lock or SRCU domain, to name who holds it */
	const struct mn_lock_base *wait_lock;
	const struct mn_thread *wait_thread;

	struct held_lock held[SIM_MAX_HELD];
	unsigned int nr_held;
	uint64_t joiners;
	unsigned int non_block; /* depth of mn_non_block_start() sections */
	const char *non_block_what;
};

/*
 * A scheduling policy. pick() chooses among @enabled (two or more threads) at decision
 * point number @decision; it returns a thread index, or -1 to stop the run (the run is
 * then pruned, or with *err set, failed with that error). The running thread's and every
 * other thread's next step are in their struct mn_thread's @pending.
 */
struct sched_ops {
	int (*pick)(struct mn_sim *sim, void *state, uint64_t enabled, unsigned int decision,
		    int *err);
	/* Optional: told of every move with one enabled thread; false prunes the run. */
	bool (*forced)(struct mn_sim *sim, void *state, unsigned int thread);
	void *state;
};

struct step_entry {
	char *id;
	uint64_t count; /* passages in the current run */
	bool skip;
};

struct lockdep;

struct mn_sim {
	struct mn_sim_head head; /* first: the inline yield fast paths read it */
	struct mn_sim_config cfg;
	struct mn_alloc *alloc;
	struct mn_trace *trace;
	struct mn_phys *phys;

	struct coro main; /* the OS thread while mn_sim_run() runs */
	struct mn_thread *threads[MN_SIM_MAX_THREADS];
	unsigned int nr_threads;
	struct coro stacks[MN_SIM_MAX_THREADS]; /* kept across resets */
	struct mn_thread *current;

	bool running;
	/*
	 * Lock operations must take their full path: inside mn_sim_run(), or with tracing on
	 * (fixed when the trace is created). See the fast paths in lock.c.
	 */
	bool lock_full;
	bool ran;
	void (*step_hook)(struct mn_sim *sim, void *arg); /* checked mode, per run */
	void *step_hook_arg;
	bool in_hook;
	bool stop; /* end the run at the next scheduling point, keep_going or not */
	bool failed;
	bool pruned;
	int run_error;
	uint64_t viol_seen;

	const struct sched_ops *sched;
	/* Choices at decision points, run-length encoded (thread index, count). */
	uint32_t *rec;
	size_t rec_n;
	size_t rec_cap;
	char *schedule;
	struct mn_run_stats stats;

	/* Named steps and mutations: libc memory, kept across resets. */
	struct step_entry *steps;
	size_t nr_steps;
	size_t steps_cap;
	size_t *step_hash; /* open addressing: index + 1, 0 empty */
	size_t step_hash_size;
	char **skip;
	size_t nr_skip;

	struct lockdep *lockdep;
};

/* sim.c */
void sim_block(struct mn_sim *sim, uint64_t *waiters, const char *what, const char *name,
	       const void *obj, const struct mn_lock_base *lock, const struct mn_thread *thread);
void sim_wake_waiters(struct mn_sim *sim, uint64_t *waiters);
const char *sim_owner_name(const struct mn_sim *sim, const void *owner);
void sim_thread_stuck(struct mn_sim *sim, const char *what, const char *name);
int sim_run(struct mn_sim *sim, const struct sched_ops *ops);
void sim_stamp_violations(struct mn_sim *sim);
bool sim_sync_failed(struct mn_sim *sim);
bool sim_holds_spinning(const struct mn_thread *t);
void sim_push_held(struct mn_sim *sim, const void *lock, const char *name, enum lock_kind kind,
		   enum held_mode mode, bool spinning, int srcu_idx);
struct held_lock *sim_find_held(struct mn_thread *t, const void *lock, enum held_mode mode);
void sim_pop_held(struct mn_thread *t, struct held_lock *h);

/* Whether a sim thread is running (inside mn_sim_run(), past the scheduler's own code). */
static inline bool in_run(const struct mn_sim *sim)
{
	return sim->running && sim->current;
}

static inline uint64_t thread_bit(const struct mn_thread *t)
{
	return 1ULL << t->index;
}

/* Whether lock operations may take their fast path (lock.c): !lock_full. */
static inline bool lock_fast(const struct mn_sim *sim)
{
	return !sim->lock_full;
}

/* Make every thread blocked on @waiters runnable again; nothing to do when none waits. */
static inline void sim_wake(struct mn_sim *sim, uint64_t *waiters)
{
	if (*waiters)
		sim_wake_waiters(sim, waiters);
}

/* sched.c */
int sched_init(struct mn_sim *sim, const struct mn_sched *sched, struct sched_ops *ops,
	       void **state);
void sched_fini(struct mn_sim *sim, void *state);
bool sched_leftover(const void *state);
int sched_record(struct mn_sim *sim, unsigned int thread);
int sched_render(struct mn_sim *sim);
int sched_parse(const char *s, uint32_t **choices, size_t *n);
int sched_first(const struct mn_sim *sim, uint64_t enabled);

/* lockdep.c */
int lockdep_create(struct mn_sim *sim);
void lockdep_acquire(struct mn_sim *sim, const char *name, bool blocking);

/* step.c */
int step_register(struct mn_sim *sim, const char *id, size_t *idx);
void steps_reset_counts(struct mn_sim *sim);
void steps_free(struct mn_sim *sim);

#endif /* MN_SIM_INTERNAL_H */
