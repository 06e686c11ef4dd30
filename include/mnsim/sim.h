/* SPDX-License-Identifier: MIT */
/*
 * sim.h - the deterministic world: sim threads (coroutines that switch only at yield
 * points), named steps, mutations, schedulers and the run loop. Plays the role of the
 * kernel's scheduler for the protocol code, which is written straight-line like the kernel
 * function it models.
 */
#ifndef MNSIM_SIM_H
#define MNSIM_SIM_H

#include <mnsim/alloc.h>
#include <mnsim/phys.h>
#include <mnsim/trace.h>
#include <mnsim/types.h>

/**
 * DOC: sim.h
 *
 * A &struct mn_sim is one world: it owns an allocation context, a trace, a physical memory,
 * its sim threads and everything they create. There is no global state, so any number of
 * worlds live in one process, and mn_sim_reset() returns a world to empty cheaply so that
 * an explorer can rebuild it for every schedule.
 *
 * Sim threads are coroutines. mn_sim_run() runs them on the calling OS thread, switching
 * only at yield points: mn_yield(), mn_step(), and every sim lock and atomic operation.
 * A run is therefore a pure function of the scenario and the sequence of choices made at
 * yield points, which is recorded as a schedule string and can be replayed exactly.
 *
 * Decision points: when a thread reaches a yield point, the scheduler picks which enabled
 * (runnable, not blocked) thread performs the next step. Choosing another thread while the
 * current one is still enabled is a preemption. Before the first decision, every thread
 * runs from its entry to its first yield point in spawn order (a thread spawned during
 * another's first segment runs its own at once): code before the first yield point must
 * touch only the thread's own data.
 *
 * Steps: a thread's step runs from one yield point to the next. Everything it does to
 * shared state must be described by the object and access named at the yield point that
 * starts it (mn_yield_access(); lock and atomic operations name their lock or word), or
 * the yield point must name no object (mn_yield(), mn_step()), which makes the step
 * dependent on every other. The explorer's sleep sets rely on this.
 *
 * Schedule strings: ``s1:`` followed by comma-separated choices ``T`` or ``TxN`` (thread
 * index in spawn order, chosen at N consecutive decision points), e.g. ``s1:0x3,1,0x2``.
 * Decision points where only one thread is enabled are not recorded. When a replayed
 * string runs out, the run continues without preemption (the current thread if enabled,
 * else the lowest-numbered enabled thread).
 *
 * Outside mn_sim_run() (code called straight from a test), yield points cost one branch and
 * mn_step() returns true unless a mutation skips the step.
 *
 * Named steps: mn_step() is a yield point with a stable id (a string literal such as
 * ``invalidate_end.seq_bump``) that returns whether the step should run. The ids a run
 * passes are recorded; a mutation given to mn_sim_skip_step() makes mn_step() return false
 * for that id, so the guarded code is skipped: ``if (mn_step(sim, "x.y")) do_y();``.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_sim;
struct mn_thread;

/* Sim threads per world; a decision's set of threads fits a 64-bit mask. */
#define MN_SIM_MAX_THREADS 64

/**
 * struct mn_sim_config - parameters of a world.
 * @alloc_ops: allocator for world objects, or NULL for the build's default backend.
 * @trace_mode: what the world's trace keeps.
 * @trace_capacity: ring size for %MN_TRACE_RING.
 * @phys: parameters of the world's physical memory.
 * @stack_size: bytes of stack per sim thread, 16 KiB .. 64 MiB; 0 picks 256 KiB.
 * @keep_going: continue a run after a violation instead of stopping at the next yield.
 * @max_yields: yield points one run may pass before it is ended as a "sim.livelock"
 *              violation (a spin-wait the schedule never lets finish); 0 picks 1,000,000.
 */
struct mn_sim_config {
	const struct mn_alloc_ops *alloc_ops;
	enum mn_trace_mode trace_mode;
	size_t trace_capacity;
	struct mn_phys_config phys;
	size_t stack_size;
	bool keep_going;
	uint64_t max_yields;
};

/**
 * enum mn_thread_state - the life of a sim thread.
 * @MN_THREAD_NEW: spawned, not yet started.
 * @MN_THREAD_RUNNABLE: can perform its next step.
 * @MN_THREAD_BLOCKED: waiting on a lock, a wait queue, SRCU or a join.
 * @MN_THREAD_DONE: returned from its entry function.
 */
enum mn_thread_state {
	MN_THREAD_NEW = 0,
	MN_THREAD_RUNNABLE,
	MN_THREAD_BLOCKED,
	MN_THREAD_DONE,
};

/**
 * enum mn_access - what the step after a yield point does to the object it names, for the
 * explorer's independence relation (sleep sets).
 * @MN_ACCESS_ANY: unknown; dependent with every other step.
 * @MN_ACCESS_READ: reads the object; independent of other reads of it.
 * @MN_ACCESS_WRITE: writes the object.
 */
enum mn_access {
	MN_ACCESS_ANY = 0,
	MN_ACCESS_READ,
	MN_ACCESS_WRITE,
};

/**
 * typedef mn_thread_fn - the entry function of a sim thread.
 * @sim: the world.
 * @arg: the argument given to mn_sim_spawn().
 */
typedef void (*mn_thread_fn)(struct mn_sim *sim, void *arg);

/**
 * enum mn_sched_kind - how mn_sim_run() chooses at decision points.
 * @MN_SCHED_FIRST: no preemption: the current thread while enabled, else the lowest index.
 * @MN_SCHED_REPLAY: follow @schedule, then as %MN_SCHED_FIRST.
 * @MN_SCHED_RANDOM: uniformly among enabled threads, from @seed.
 * @MN_SCHED_PCT: probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010) with
 *                @pct_depth priority change points over an estimated @pct_steps decisions.
 */
enum mn_sched_kind {
	MN_SCHED_FIRST = 0,
	MN_SCHED_REPLAY,
	MN_SCHED_RANDOM,
	MN_SCHED_PCT,
};

/**
 * struct mn_sched - a scheduler for one run.
 * @kind: the policy.
 * @schedule: for %MN_SCHED_REPLAY, the schedule string.
 * @seed: for %MN_SCHED_RANDOM and %MN_SCHED_PCT.
 * @pct_depth: for %MN_SCHED_PCT, the bug depth d (>= 1).
 * @pct_steps: for %MN_SCHED_PCT, the expected number of decisions k (0 picks 64).
 */
struct mn_sched {
	enum mn_sched_kind kind;
	const char *schedule;
	uint64_t seed;
	unsigned int pct_depth;
	unsigned int pct_steps;
};

/**
 * enum mn_run_result - how a run ended.
 * @MN_RUN_OK: every thread finished and no violation was reported.
 * @MN_RUN_VIOLATION: a violation was reported (a deadlock is one).
 * @MN_RUN_PRUNED: the explorer stopped the run early (its sleep set blocked it).
 */
enum mn_run_result {
	MN_RUN_OK = 0,
	MN_RUN_VIOLATION = 1,
	MN_RUN_PRUNED = 2,
};

/**
 * struct mn_run_stats - what one run did.
 * @decisions: decision points (yield points with two or more enabled threads).
 * @yields: yield points reached by any thread.
 * @switches: context switches between threads.
 * @preemptions: decisions that switched away from a still-enabled thread.
 */
struct mn_run_stats {
	uint64_t decisions;
	uint64_t yields;
	uint64_t switches;
	uint64_t preemptions;
};

/* The first member of struct mn_sim, public only so that the yield fast paths inline. */
struct mn_sim_head {
	bool slow; /* inside mn_sim_run(), or a mutation is set */
};

/**
 * mn_sim_create() - Create an empty world.
 * @cfg: parameters, or NULL for defaults (trace off, libc or jemalloc per the build).
 * @out: receives the world.
 *
 * Context: Any context.
 * Return: 0, -EINVAL for bad parameters, or -ENOMEM.
 */
MN_EXPORT int mn_sim_create(const struct mn_sim_config *cfg, struct mn_sim **out);

/**
 * mn_sim_destroy() - Free a world and everything in it.
 * @sim: the world, or NULL.
 *
 * Context: Not from a sim thread.
 */
MN_EXPORT void mn_sim_destroy(struct mn_sim *sim);

/**
 * mn_sim_reset() - Return a world to empty: threads, locks, trace, frames and every object
 * allocated from the world's context are dropped; the configuration, thread stacks, the
 * step registry and the mutation set are kept.
 * @sim: the world.
 *
 * Context: Not from a sim thread.
 * Return: 0, -EBUSY from inside a run, or -ENOMEM when the fresh trace or physical memory
 * cannot be created (the world is then unusable except for mn_sim_destroy() or another
 * reset).
 */
MN_EXPORT int mn_sim_reset(struct mn_sim *sim);

/**
 * mn_sim_get_alloc() - The world's allocation context.
 * @sim: the world.
 *
 * Context: Any context.
 * Return: the context; objects allocated from it die with the world or its next reset.
 */
MN_EXPORT struct mn_alloc *mn_sim_get_alloc(struct mn_sim *sim);

/**
 * mn_sim_get_trace() - The world's trace (events, actors, violations).
 * @sim: the world.
 *
 * Context: Any context.
 * Return: the trace.
 */
MN_EXPORT struct mn_trace *mn_sim_get_trace(struct mn_sim *sim);

/**
 * mn_sim_get_phys() - The world's physical memory.
 * @sim: the world.
 *
 * Context: Any context.
 * Return: the physical memory.
 */
MN_EXPORT struct mn_phys *mn_sim_get_phys(struct mn_sim *sim);

/**
 * mn_sim_spawn() - Create a sim thread that will run @fn(@sim, @arg).
 * @sim: the world.
 * @name: the thread's name (an actor in the trace); copied.
 * @fn: the entry function.
 * @arg: its argument.
 * @out: receives the thread, or NULL.
 *
 * Threads spawned before mn_sim_run() start in spawn order at the beginning of the run;
 * a thread spawned by a running thread becomes runnable at once.
 *
 * Context: The world's OS thread, inside or outside a sim thread.
 * Return: 0, -EINVAL for an empty name, -EAGAIN past %MN_SIM_MAX_THREADS, or -ENOMEM.
 */
MN_EXPORT int mn_sim_spawn(struct mn_sim *sim, const char *name, mn_thread_fn fn, void *arg,
			   struct mn_thread **out);

/**
 * mn_sim_run() - Run every sim thread to its end under a scheduler.
 * @sim: the world.
 * @sched: the scheduler, or NULL for %MN_SCHED_FIRST.
 *
 * Ends when all threads are done, when a violation was reported (unless @keep_going), or
 * when every remaining thread is blocked, which is reported as a "sim.deadlock" violation
 * naming each blocked thread, what it waits for and who holds it. The schedule actually
 * followed is available from mn_sim_get_schedule() afterwards.
 *
 * Context: Not from a sim thread. A world runs at most once between resets.
 * Return: an &enum mn_run_result, -EINVAL for a bad @sched (unknown kind, PCT depth 0,
 * a malformed schedule string, one naming a thread that is not enabled where it is
 * consumed (the run stops there), or one with choices left over by a run that ended
 * without a violation), or -EBUSY when the world already ran since its reset.
 */
MN_EXPORT int mn_sim_run(struct mn_sim *sim, const struct mn_sched *sched);

/**
 * mn_sim_get_schedule() - The schedule string of the last run.
 * @sim: the world.
 *
 * Context: Valid until the next reset.
 * Return: the string (``s1:`` alone when the run made no decision).
 */
MN_EXPORT const char *mn_sim_get_schedule(const struct mn_sim *sim);

/**
 * mn_sim_get_run_stats() - Counters of the last run.
 * @sim: the world.
 * @st: receives the counters.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_sim_get_run_stats(const struct mn_sim *sim, struct mn_run_stats *st);

/**
 * mn_sim_report() - Report a broken invariant found by a checker.
 * @sim: the world.
 * @v: the report (copied); actor and event are filled in.
 *
 * The run stops at the next yield point unless the world was configured to keep going.
 *
 * Context: Any context of the world.
 */
MN_EXPORT void mn_sim_report(struct mn_sim *sim, const struct mn_violation *v);

/**
 * mn_sim_reportf() - Report a violation of @invariant with a printf-style explanation.
 * @sim: the world.
 * @kind: the family.
 * @invariant: stable id, e.g. "lock.order_inversion" (string literal).
 * @fmt: format of the explanation.
 *
 * Context: Any context of the world.
 */
MN_EXPORT void mn_sim_reportf(struct mn_sim *sim, enum mn_violation_kind kind,
			      const char *invariant, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * mn_sim_failed() - Whether the current run has reported a violation.
 * @sim: the world.
 *
 * Context: Any context.
 * Return: true once a violation was reported since the last reset.
 */
MN_EXPORT bool mn_sim_failed(const struct mn_sim *sim);

/**
 * mn_sim_current() - The running sim thread.
 * @sim: the world.
 *
 * Context: Any context.
 * Return: the thread, or NULL outside mn_sim_run() (the world's OS thread itself).
 */
MN_EXPORT struct mn_thread *mn_sim_current(const struct mn_sim *sim);

/**
 * mn_sim_nr_threads() - Number of threads spawned since the last reset.
 * @sim: the world.
 *
 * Context: Any context.
 * Return: the count.
 */
MN_EXPORT unsigned int mn_sim_nr_threads(const struct mn_sim *sim);

/**
 * mn_sim_thread() - Thread number @i in spawn order.
 * @sim: the world.
 * @i: index, 0 for the first thread spawned.
 *
 * Context: Any context.
 * Return: the thread, or NULL when @i is out of range.
 */
MN_EXPORT struct mn_thread *mn_sim_thread(const struct mn_sim *sim, unsigned int i);

/**
 * mn_thread_join() - Wait until @t has finished.
 * @sim: the world.
 * @t: a thread of @sim other than the caller.
 *
 * Context: A sim thread; may block.
 * Return: 0, or -EDEADLK when @t is the caller, or when called outside a run while @t has
 * not finished (nothing would ever run it).
 */
MN_EXPORT int mn_thread_join(struct mn_sim *sim, struct mn_thread *t);

/**
 * mn_thread_get_name() - The name a thread was spawned with.
 * @t: the thread.
 *
 * Context: Any context.
 * Return: the name.
 */
MN_EXPORT const char *mn_thread_get_name(const struct mn_thread *t);

/**
 * mn_thread_get_index() - A thread's index in spawn order.
 * @t: the thread.
 *
 * Context: Any context.
 * Return: the index, as used in schedule strings.
 */
MN_EXPORT unsigned int mn_thread_get_index(const struct mn_thread *t);

/**
 * mn_thread_get_state() - Where a thread is in its life.
 * @t: the thread.
 *
 * Context: Any context.
 * Return: the state.
 */
MN_EXPORT enum mn_thread_state mn_thread_get_state(const struct mn_thread *t);

/**
 * mn_thread_get_data() - The per-thread pointer checkers use.
 * @t: the thread.
 *
 * Context: Any context.
 * Return: the pointer set last, NULL initially.
 */
MN_EXPORT void *mn_thread_get_data(const struct mn_thread *t);

/**
 * mn_thread_set_data() - Attach a per-thread pointer for checkers.
 * @t: the thread.
 * @data: the pointer.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_thread_set_data(struct mn_thread *t, void *data);

/**
 * mn_thread_nr_held() - Number of sim locks @t holds.
 * @t: the thread.
 *
 * Context: Any context.
 * Return: the count (an SRCU read-side section counts as one).
 */
MN_EXPORT unsigned int mn_thread_nr_held(const struct mn_thread *t);

/**
 * __mn_yield() - The slow path of mn_yield() and of every lock and atomic operation.
 * @sim: the world.
 * @id: the yield point's id (string literal).
 * @obj: the object the next step touches, or NULL for unknown.
 * @access: how it touches it.
 *
 * Context: Any context of the world.
 */
MN_EXPORT void __mn_yield(struct mn_sim *sim, const char *id, const void *obj,
			  enum mn_access access);

/**
 * __mn_step() - The slow path of mn_step().
 * @sim: the world.
 * @id: the step id (string literal).
 *
 * Context: Any context of the world.
 * Return: false when a mutation skips @id, else true.
 */
MN_EXPORT bool __mn_step(struct mn_sim *sim, const char *id);

/*
 * mn_yield() - a yield point: the scheduler may run another thread here.
 * mn_yield_access() - a yield point whose next step touches @obj as @access.
 * mn_step() - a named step: a yield point that returns false when a mutation skips it.
 */
static inline void mn_yield(struct mn_sim *sim, const char *id)
{
	if (__builtin_expect(((const struct mn_sim_head *)(const void *)sim)->slow, 0))
		__mn_yield(sim, id, NULL, MN_ACCESS_ANY);
}

static inline void mn_yield_access(struct mn_sim *sim, const char *id, const void *obj,
				   enum mn_access access)
{
	if (__builtin_expect(((const struct mn_sim_head *)(const void *)sim)->slow, 0))
		__mn_yield(sim, id, obj, access);
}

static inline bool mn_step(struct mn_sim *sim, const char *id)
{
	if (__builtin_expect(((const struct mn_sim_head *)(const void *)sim)->slow, 0))
		return __mn_step(sim, id);
	return true;
}

/**
 * mn_sim_skip_step() - Add a mutation: mn_step(@id) returns false from now on.
 * @sim: the world.
 * @id: the step id; copied.
 *
 * Context: Not from a sim thread. Kept across mn_sim_reset().
 * Return: 0, -EINVAL for an empty id, or -ENOMEM.
 */
MN_EXPORT int mn_sim_skip_step(struct mn_sim *sim, const char *id);

/**
 * mn_sim_clear_mutations() - Remove every mutation.
 * @sim: the world.
 *
 * Context: Not from a sim thread.
 */
MN_EXPORT void mn_sim_clear_mutations(struct mn_sim *sim);

/**
 * mn_sim_nr_steps() - Number of distinct step ids passed since the world was created.
 * @sim: the world.
 *
 * Context: Any context.
 * Return: the count; the registry survives resets, so it accumulates over explored runs.
 */
MN_EXPORT size_t mn_sim_nr_steps(const struct mn_sim *sim);

/**
 * mn_sim_step_id() - The @i-th step id in order of first passage.
 * @sim: the world.
 * @i: index.
 *
 * Context: Any context.
 * Return: the id, or NULL when @i is out of range.
 */
MN_EXPORT const char *mn_sim_step_id(const struct mn_sim *sim, size_t i);

/**
 * mn_sim_step_count() - How many times the current run passed step @i.
 * @sim: the world.
 * @i: index as for mn_sim_step_id().
 *
 * Context: Any context.
 * Return: the count since the last reset (skipped passages included).
 */
MN_EXPORT uint64_t mn_sim_step_count(const struct mn_sim *sim, size_t i);

/**
 * mn_might_sleep() - Declare that the caller may sleep here (the kernel's might_sleep()).
 * @sim: the world.
 * @what: what sleeps, for the report (string literal).
 *
 * Reports "lock.sleep_in_atomic" when the running thread holds a spinning lock.
 *
 * Context: Any context of the world.
 */
MN_EXPORT void mn_might_sleep(struct mn_sim *sim, const char *what);

/**
 * mn_sim_set_step_hook() - Run @fn at every yield point of every sim thread (checked mode:
 * lib/check evaluates the protocol's invariants there, so lib/sim never includes it).
 * @sim: the world.
 * @fn: the hook, or NULL to remove it; it must not yield (its own locks are not taken).
 * @arg: passed to @fn.
 *
 * The hook is removed by mn_sim_reset(), so a scenario's setup installs it for its run.
 *
 * Context: Not from a sim thread, except to remove the hook (@fn NULL).
 */
MN_EXPORT void mn_sim_set_step_hook(struct mn_sim *sim, void (*fn)(struct mn_sim *sim, void *arg),
				    void *arg);

/**
 * mn_sim_get_step_hook_arg() - The argument of the step hook in place.
 * @sim: the world.
 *
 * Context: Any context of the world.
 * Return: the @arg given to mn_sim_set_step_hook(), or NULL without a hook.
 */
MN_EXPORT void *mn_sim_get_step_hook_arg(const struct mn_sim *sim);

/**
 * mn_non_block_start() - Enter a section that must not sleep although it is not atomic
 * (the kernel's non_block_start(), used around non-blockable mmu_notifier callbacks).
 * @sim: the world.
 * @what: what the section is, for reports (string literal).
 *
 * Inside it, mn_might_sleep() and every sleeping lock operation report
 * "lock.sleep_in_non_block". Sections nest. Outside mn_sim_run() this does nothing.
 *
 * Context: A sim thread.
 */
MN_EXPORT void mn_non_block_start(struct mn_sim *sim, const char *what);

/**
 * mn_non_block_end() - Leave the section mn_non_block_start() entered.
 * @sim: the world.
 *
 * Reports "lock.non_block_unbalanced" when no section is open.
 *
 * Context: A sim thread.
 */
MN_EXPORT void mn_non_block_end(struct mn_sim *sim);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_SIM_H */
