// SPDX-License-Identifier: MIT
/*
 * sim.c - the world and its sim threads: creation and reset, the run loop, yield points,
 * blocking and waking, held-lock bookkeeping, deadlock detection and violation reports.
 * The scheduler part of the kernel (kernel/sched/core.c: schedule(), try_to_wake_up())
 * reduced to what a deterministic single-CPU replay needs.
 */
#include "sim/sim-internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int world_objects_create(struct mn_sim *sim)
{
	int ret;

	ret = mn_trace_create(sim->alloc, sim->cfg.trace_mode, sim->cfg.trace_capacity,
			      &sim->trace);
	if (!ret)
		ret = mn_phys_create(sim->alloc, sim->trace, &sim->cfg.phys, &sim->phys);
	if (!ret)
		ret = lockdep_create(sim);
	if (!ret)
		sim->lock_full = sim->running || mn_trace_is_on(sim->trace);
	return ret;
}

int mn_sim_create(const struct mn_sim_config *cfg, struct mn_sim **out)
{
	struct mn_sim *sim;
	int ret;

	if (cfg && (cfg->trace_mode > MN_TRACE_FULL ||
		    (cfg->stack_size && (cfg->stack_size < (16U << 10) ||
					 cfg->stack_size > SIM_MAX_STACK))))
		return -EINVAL;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	if (cfg)
		sim->cfg = *cfg;
	if (!sim->cfg.stack_size)
		sim->cfg.stack_size = SIM_DEFAULT_STACK;
	if (!sim->cfg.max_yields)
		sim->cfg.max_yields = SIM_DEFAULT_MAX_YIELDS;
	ret = mn_alloc_create(sim->cfg.alloc_ops, &sim->alloc);
	if (ret) {
		free(sim);
		return ret;
	}
	sim->cfg.alloc_ops = NULL; /* not kept: the caller's ops may not outlive create */
	ret = world_objects_create(sim);
	if (ret) {
		mn_alloc_destroy(sim->alloc);
		free(sim);
		return ret;
	}
	*out = sim;
	return 0;
}

void mn_sim_destroy(struct mn_sim *sim)
{
	unsigned int i;

	if (!sim)
		return;
	for (i = 0; i < MN_SIM_MAX_THREADS; i++)
		coro_stack_free(&sim->stacks[i]);
	steps_free(sim);
	mn_alloc_destroy(sim->alloc);
	free(sim);
}

int mn_sim_reset(struct mn_sim *sim)
{
	if (sim->running)
		return -EBUSY;
	mn_alloc_reset(sim->alloc);
	sim->trace = NULL;
	sim->phys = NULL;
	sim->lockdep = NULL;
	memset(sim->threads, 0, sizeof(sim->threads));
	sim->nr_threads = 0;
	sim->current = NULL;
	sim->running = sim->ran = false;
	sim->failed = sim->pruned = sim->stop = false;
	sim->step_hook = NULL;
	sim->step_hook_arg = NULL;
	sim->run_error = 0;
	sim->viol_seen = 0;
	sim->sched = NULL;
	sim->rec = NULL;
	sim->rec_n = sim->rec_cap = 0;
	sim->schedule = NULL;
	memset(&sim->stats, 0, sizeof(sim->stats));
	steps_reset_counts(sim);
	sim->head.slow = sim->nr_skip > 0;
	return world_objects_create(sim);
}

struct mn_alloc *mn_sim_get_alloc(struct mn_sim *sim)
{
	return sim->alloc;
}

struct mn_trace *mn_sim_get_trace(struct mn_sim *sim)
{
	return sim->trace;
}

struct mn_phys *mn_sim_get_phys(struct mn_sim *sim)
{
	return sim->phys;
}

struct mn_thread *mn_sim_current(const struct mn_sim *sim)
{
	return sim->running ? sim->current : NULL;
}

unsigned int mn_sim_nr_threads(const struct mn_sim *sim)
{
	return sim->nr_threads;
}

struct mn_thread *mn_sim_thread(const struct mn_sim *sim, unsigned int i)
{
	return i < sim->nr_threads ? sim->threads[i] : NULL;
}

const char *mn_thread_get_name(const struct mn_thread *t)
{
	return t->name;
}

unsigned int mn_thread_get_index(const struct mn_thread *t)
{
	return t->index;
}

enum mn_thread_state mn_thread_get_state(const struct mn_thread *t)
{
	return t->state;
}

void *mn_thread_get_data(const struct mn_thread *t)
{
	return t->data;
}

void mn_thread_set_data(struct mn_thread *t, void *data)
{
	t->data = data;
}

unsigned int mn_thread_nr_held(const struct mn_thread *t)
{
	return t->nr_held;
}

bool mn_sim_failed(const struct mn_sim *sim)
{
	/* Checkers such as the frame oracle report straight to the trace. */
	return sim->failed || mn_trace_nr_violations_total(sim->trace) != sim->viol_seen;
}

/* Fold reports made straight to the trace (outside yield points) into the run's result. */
bool sim_sync_failed(struct mn_sim *sim)
{
	uint64_t total = mn_trace_nr_violations_total(sim->trace);

	if (total != sim->viol_seen) {
		sim->viol_seen = total;
		sim->failed = true;
	}
	return sim->failed;
}

const char *mn_sim_get_schedule(const struct mn_sim *sim)
{
	return sim->schedule ? sim->schedule : "s1:";
}

void mn_sim_get_run_stats(const struct mn_sim *sim, struct mn_run_stats *st)
{
	*st = sim->stats;
}

/* ---- reports ---------------------------------------------------------------------- */

void mn_sim_report(struct mn_sim *sim, const struct mn_violation *v)
{
	mn_trace_report(sim->trace, v);
	sim->failed = true;
}

void mn_sim_reportf(struct mn_sim *sim, enum mn_violation_kind kind, const char *invariant,
		    const char *fmt, ...)
{
	struct mn_violation v = {
		.kind = kind,
		.invariant = invariant,
		.pfn = MN_INVALID_PFN,
	};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v.detail, sizeof(v.detail), fmt, ap);
	va_end(ap);
	mn_sim_report(sim, &v);
}

/* ---- threads ---------------------------------------------------------------------- */

static void schedule_next(struct mn_sim *sim, struct mn_thread *from, bool from_exits);

/* @t reached its first yield point (or its end): hand back to whoever started it. */
static void end_first_segment(struct mn_sim *sim, struct mn_thread *t, bool exits)
{
	struct mn_thread *starter = t->starter;

	t->starting = false;
	t->starter = NULL;
	sim->current = starter;
	mn_trace_set_actor(sim->trace, starter ? starter->actor : 0);
	coro_switch(&t->co, starter ? &starter->co : &sim->main, exits);
}

static void thread_main(void *arg)
{
	struct mn_thread *t = arg;
	struct mn_sim *sim = t->sim;

	t->fn(sim, t->arg);
	t->state = MN_THREAD_DONE;
	t->pending = (struct pending){ NULL, MN_ACCESS_ANY, NULL };
	sim_wake(sim, &t->joiners);
	if (t->starting)
		end_first_segment(sim, t, true); /* finished before its first yield */
	else
		schedule_next(sim, t, true);
	abort(); /* a finished thread is never resumed */
}

/* Run @t from its entry to its first yield point (or its end), then come back. */
static int thread_start(struct mn_sim *sim, struct mn_thread *t, struct mn_thread *starter)
{
	struct coro *stack = &sim->stacks[t->index];
	int ret;

	if (!stack->map) {
		ret = coro_stack_alloc(stack, sim->cfg.stack_size);
		if (ret)
			return ret;
	}
	t->co.map = stack->map;
	t->co.map_size = stack->map_size;
	t->co.stack = stack->stack;
	t->co.stack_size = stack->stack_size;
	ret = coro_start(&t->co, thread_main, t);
	if (ret)
		return ret;
	t->state = MN_THREAD_RUNNABLE;
	t->starting = true;
	t->starter = starter;
	sim->current = t;
	mn_trace_set_actor(sim->trace, t->actor);
	coro_switch(starter ? &starter->co : &sim->main, &t->co, false);
	return 0;
}

int mn_sim_spawn(struct mn_sim *sim, const char *name, mn_thread_fn fn, void *arg,
		 struct mn_thread **out)
{
	struct mn_thread *t;
	int ret;

	if (!name || !*name || !fn)
		return -EINVAL;
	if (sim->nr_threads >= MN_SIM_MAX_THREADS)
		return -EAGAIN;
	t = mn_zalloc(sim->alloc, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->name = mn_strdup(sim->alloc, name);
	if (!t->name) {
		mn_free(sim->alloc, t);
		return -ENOMEM;
	}
	ret = mn_trace_actor_add(sim->trace, name, &t->actor);
	if (ret) {
		mn_free(sim->alloc, t->name);
		mn_free(sim->alloc, t);
		return ret;
	}
	t->sim = sim;
	t->index = sim->nr_threads;
	t->fn = fn;
	t->arg = arg;
	t->state = MN_THREAD_NEW;
	sim->threads[sim->nr_threads++] = t;
	if (out)
		*out = t;
	if (in_run(sim)) {
		/* Spawned by a running thread: its first segment runs now, then the spawner
		 * goes on. */
		struct mn_thread *self = sim->current;

		ret = thread_start(sim, t, self);
		sim->current = self;
		mn_trace_set_actor(sim->trace, self->actor);
		if (ret) {
			sim->threads[--sim->nr_threads] = NULL;
			return ret;
		}
	}
	return 0;
}

/* ---- the scheduler loop ----------------------------------------------------------- */

const char *sim_owner_name(const struct mn_sim *sim, const void *owner)
{
	if (!owner)
		return "nobody";
	if (owner == (const void *)sim)
		return "(outside any thread)";
	return ((const struct mn_thread *)owner)->name;
}

static uint64_t enabled_mask(const struct mn_sim *sim)
{
	uint64_t m = 0;
	unsigned int i;

	for (i = 0; i < sim->nr_threads; i++)
		if (sim->threads[i]->state == MN_THREAD_RUNNABLE)
			m |= 1ULL << i;
	return m;
}

/* Append " held by A, B" naming the threads that hold @obj (shared holds, SRCU sections). */
static int holders(const struct mn_sim *sim, const void *obj, char *buf, size_t len)
{
	size_t pos = 0;
	unsigned int i, k;
	int n;

	for (i = 0; i < sim->nr_threads && pos < len; i++) {
		const struct mn_thread *h = sim->threads[i];

		for (k = 0; k < h->nr_held; k++)
			if (h->held[k].lock == obj)
				break;
		if (k == h->nr_held)
			continue;
		n = snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : " held by ", h->name);
		pos += n > 0 ? (size_t)n : 0;
	}
	return (int)MN_MIN(pos, len);
}

static void report_deadlock(struct mn_sim *sim)
{
	struct mn_violation v = {
		.kind = MN_VIOL_DEADLOCK,
		.invariant = "sim.deadlock",
		.pfn = MN_INVALID_PFN,
	};
	size_t pos = 0, len = sizeof(v.detail);
	unsigned int i;

	for (i = 0; i < sim->nr_threads && pos < len; i++) {
		const struct mn_thread *t = sim->threads[i];
		const struct mn_lock_base *l = t->wait_lock;
		int n;

		if (t->state != MN_THREAD_BLOCKED)
			continue;
		n = snprintf(v.detail + pos, len - pos, "%s%s waits for %s %s", pos ? "; " : "",
			     t->name, t->wait_what ? t->wait_what : "?",
			     t->wait_name ? t->wait_name : "?");
		pos += n > 0 ? (size_t)n : 0;
		if (pos >= len)
			break;
		if (l && l->owner)
			n = snprintf(v.detail + pos, len - pos, " held by %s",
				     sim_owner_name(sim, l->owner));
		else if (t->wait_obj)
			n = holders(sim, t->wait_obj, v.detail + pos, len - pos);
		else if (t->wait_thread)
			n = snprintf(v.detail + pos, len - pos, " (%s)",
				     t->wait_thread->state == MN_THREAD_BLOCKED ? "blocked" :
										   "running");
		else
			n = 0;
		pos += n > 0 ? (size_t)n : 0;
	}
	mn_sim_report(sim, &v);
}

/* Decide who runs next and switch to it; @from is the running thread (NULL for main). */
static void schedule_next(struct mn_sim *sim, struct mn_thread *from, bool from_exits)
{
	struct coro *from_co = from ? &from->co : &sim->main;
	struct mn_thread *next = NULL;
	uint64_t enabled;
	int pick, err = 0;

	if ((sim->failed && !sim->cfg.keep_going) || sim->stop)
		goto end;
	enabled = enabled_mask(sim);
	if (!enabled) {
		unsigned int i;

		for (i = 0; i < sim->nr_threads; i++)
			if (sim->threads[i]->state != MN_THREAD_DONE)
				break;
		if (i < sim->nr_threads)
			report_deadlock(sim);
		goto end;
	}
	if (enabled & (enabled - 1)) {
		pick = sim->sched->pick(sim, sim->sched->state, enabled,
					(unsigned int)sim->stats.decisions, &err);
		if (pick < 0 || !(enabled & (1ULL << pick))) {
			if (err)
				sim->run_error = err;
			else if (pick >= 0)
				sim->run_error = -EINVAL;
			else
				sim->pruned = true;
			goto end;
		}
		if (sched_record(sim, (unsigned int)pick)) {
			sim->run_error = -ENOMEM;
			goto end;
		}
		sim->stats.decisions++;
		if (from && from->state == MN_THREAD_RUNNABLE && (unsigned int)pick != from->index)
			sim->stats.preemptions++;
		next = sim->threads[pick];
	} else {
		next = sim->threads[__builtin_ctzll(enabled)];
		if (sim->sched->forced && !sim->sched->forced(sim, sim->sched->state, next->index)) {
			sim->pruned = true;
			goto end;
		}
	}
	if (next == from)
		return;
	sim->stats.switches++;
	sim->current = next;
	mn_trace_set_actor(sim->trace, next->actor);
	coro_switch(from_co, &next->co, from_exits);
	return;
end:
	sim->running = false;
	sim->current = NULL;
	mn_trace_set_actor(sim->trace, 0);
	if (from)
		coro_switch(from_co, &sim->main, true);
}

/*
 * The running thread can never make progress (it deadlocked on itself): park it for good
 * and let the others run, or end the run after the violation that brought us here.
 */
void sim_thread_stuck(struct mn_sim *sim, const char *what, const char *name)
{
	struct mn_thread *self = sim->current;

	if (!sim->running || !self)
		return; /* outside a run the caller simply returns */
	self->state = MN_THREAD_BLOCKED;
	self->wait_what = what;
	self->wait_name = name;
	schedule_next(sim, self, true);
	abort(); /* never resumed */
}

void __mn_yield(struct mn_sim *sim, const char *id, const void *obj, enum mn_access access)
{
	struct mn_thread *t = sim->current;
	uint64_t total;

	if (!sim->running || !t)
		return;
	if (unlikely(++sim->stats.yields > sim->cfg.max_yields)) {
		/* A spin-wait that the schedule never lets finish: end the run. */
		mn_sim_reportf(sim, MN_VIOL_DEADLOCK, "sim.livelock",
			       "%s still running after %llu yield points (at %s)", t->name,
			       (unsigned long long)sim->cfg.max_yields, id);
		sim->stop = true;
	}
	if (sim->step_hook && !sim->in_hook) {
		/* Checked mode: the invariants after every step, before anyone else moves. */
		sim->in_hook = true;
		sim->step_hook(sim, sim->step_hook_arg);
		sim->in_hook = false;
	}
	t->pending = (struct pending){ obj, access, id };
	if (t->starting) {
		end_first_segment(sim, t, false);
		return;
	}
	total = mn_trace_nr_violations_total(sim->trace);
	if (total != sim->viol_seen) {
		/* A checker reported straight to the trace (the frame oracle does). */
		sim->viol_seen = total;
		sim->failed = true;
	}
	schedule_next(sim, t, false);
}

/* ---- blocking --------------------------------------------------------------------- */

void sim_block(struct mn_sim *sim, uint64_t *waiters, const char *what, const char *name,
	       const void *obj, const struct mn_lock_base *lock, const struct mn_thread *thread)
{
	struct mn_thread *t = sim->current;

	if (!sim->running || !t) {
		/* Nobody else can ever release it: the caller would wait forever. */
		mn_sim_reportf(sim, MN_VIOL_DEADLOCK, "sim.deadlock",
			       "blocking on %s %s outside a sim run", what, name);
		return;
	}
	t->state = MN_THREAD_BLOCKED;
	t->wait_what = what;
	t->wait_name = name;
	t->wait_obj = obj;
	t->wait_lock = lock;
	t->wait_thread = thread;
	*waiters |= thread_bit(t);
	schedule_next(sim, t, false);
	t->wait_what = t->wait_name = NULL;
	t->wait_obj = NULL;
	t->wait_lock = NULL;
	t->wait_thread = NULL;
}

void sim_wake_waiters(struct mn_sim *sim, uint64_t *waiters)
{
	uint64_t m = *waiters;

	*waiters = 0;
	while (m) {
		unsigned int i = (unsigned int)__builtin_ctzll(m);

		m &= m - 1;
		if (i < sim->nr_threads && sim->threads[i]->state == MN_THREAD_BLOCKED)
			sim->threads[i]->state = MN_THREAD_RUNNABLE;
	}
}

int mn_thread_join(struct mn_sim *sim, struct mn_thread *t)
{
	struct mn_thread *self = sim->current;

	if (t == self)
		return -EDEADLK;
	if (!sim->running && t->state != MN_THREAD_DONE)
		return -EDEADLK; /* nobody would ever run @t */
	mn_might_sleep(sim, "join");
	mn_yield_access(sim, "thread.join", t, MN_ACCESS_READ);
	while (t->state != MN_THREAD_DONE) {
		sim_block(sim, &t->joiners, "join of", t->name, NULL, NULL, t);
		if (!sim->running)
			break;
	}
	return 0;
}

/* ---- held locks ------------------------------------------------------------------- */

bool sim_holds_spinning(const struct mn_thread *t)
{
	unsigned int i;

	for (i = 0; i < t->nr_held; i++)
		if (t->held[i].spinning)
			return true;
	return false;
}

void sim_push_held(struct mn_sim *sim, const void *lock, const char *name, enum lock_kind kind,
		   enum held_mode mode, bool spinning, int srcu_idx)
{
	struct mn_thread *t = sim->current;

	if (!t)
		return;
	if (t->nr_held == SIM_MAX_HELD) {
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.depth",
			       "%s holds more than %d locks taking %s", t->name, SIM_MAX_HELD, name);
		return;
	}
	t->held[t->nr_held++] = (struct held_lock){ lock, name, (uint8_t)kind, (uint8_t)mode,
						    spinning, srcu_idx };
}

struct held_lock *sim_find_held(struct mn_thread *t, const void *lock, enum held_mode mode)
{
	unsigned int i;

	if (!t)
		return NULL;
	/* Innermost first, so nested SRCU sections pair up with their own unlock. */
	for (i = t->nr_held; i-- > 0;)
		if (t->held[i].lock == lock && (!mode || t->held[i].mode == mode))
			return &t->held[i];
	return NULL;
}

void sim_pop_held(struct mn_thread *t, struct held_lock *h)
{
	unsigned int i = (unsigned int)(h - t->held);

	memmove(&t->held[i], &t->held[i + 1], (t->nr_held - i - 1) * sizeof(*h));
	t->nr_held--;
}

void *mn_sim_get_step_hook_arg(const struct mn_sim *sim)
{
	return sim->step_hook ? sim->step_hook_arg : NULL;
}

void mn_sim_set_step_hook(struct mn_sim *sim, void (*fn)(struct mn_sim *sim, void *arg),
			  void *arg)
{
	sim->step_hook = fn;
	sim->step_hook_arg = arg;
}

void mn_might_sleep(struct mn_sim *sim, const char *what)
{
	struct mn_thread *t = sim->current;
	unsigned int i;

	if (!t || !sim->running)
		return;
	if (t->non_block) {
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.sleep_in_non_block",
			       "%s may sleep in %s inside a section that must not block (%s)",
			       t->name, what, t->non_block_what);
		return;
	}
	if (!sim_holds_spinning(t))
		return;
	for (i = t->nr_held; i-- > 0;)
		if (t->held[i].spinning)
			break;
	mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.sleep_in_atomic",
		       "%s may sleep in %s while holding spinning lock %s", t->name, what,
		       t->held[i].name);
}

/*
 * The kernel's non_block_start()/non_block_end(): a section that is not atomic but must
 * not sleep, which ___might_sleep() checks through current->non_block_count. mmu_notifier
 * brackets each non-blockable invalidate_range_start() call with it.
 */
void mn_non_block_start(struct mn_sim *sim, const char *what)
{
	struct mn_thread *t = sim->current;

	if (!t || !sim->running)
		return;
	if (!t->non_block++)
		t->non_block_what = what;
}

void mn_non_block_end(struct mn_sim *sim)
{
	struct mn_thread *t = sim->current;

	if (!t || !sim->running)
		return;
	if (!t->non_block) {
		mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.non_block_unbalanced",
			       "%s ended a non-blocking section it never started", t->name);
		return;
	}
	if (!--t->non_block)
		t->non_block_what = NULL;
}

/* ---- runs ------------------------------------------------------------------------- */

/* Give every violation of this run the schedule string that produced it. */
void sim_stamp_violations(struct mn_sim *sim)
{
	const char *s = mn_trace_intern(sim->trace, mn_sim_get_schedule(sim));
	size_t i, n = mn_trace_nr_violations(sim->trace);

	for (i = 0; i < n; i++) {
		struct mn_violation *v = (struct mn_violation *)mn_trace_violation(sim->trace, i);

		if (!v->schedule)
			v->schedule = s;
	}
}

int sim_run(struct mn_sim *sim, const struct sched_ops *ops)
{
	unsigned int i;
	int ret = 0;

	if (sim->ran || sim->running)
		return -EBUSY;
	sim->ran = true;
	sim->running = true;
	sim->lock_full = true;
	sim->head.slow = true;
	sim->sched = ops;
	sim->viol_seen = mn_trace_nr_violations_total(sim->trace);
	sim->failed = sim->viol_seen > 0;

	/* Every thread runs its first segment, in spawn order. */
	for (i = 0; i < sim->nr_threads && !ret; i++)
		if (sim->threads[i]->state == MN_THREAD_NEW)
			ret = thread_start(sim, sim->threads[i], NULL);
	sim->current = NULL;
	if (!ret && mn_trace_nr_violations_total(sim->trace) != sim->viol_seen)
		sim->failed = true;
	if (!ret)
		schedule_next(sim, NULL, false); /* returns when the run is over */

	sim->running = false;
	sim->lock_full = mn_trace_is_on(sim->trace);
	sim->current = NULL;
	sim->head.slow = sim->nr_skip > 0;
	mn_trace_set_actor(sim->trace, 0);
	if (mn_trace_nr_violations_total(sim->trace) != sim->viol_seen)
		sim->failed = true;
	if (sched_render(sim) && !ret)
		ret = -ENOMEM;
	sim_stamp_violations(sim);
	if (ret)
		return ret;
	if (sim->run_error)
		return sim->run_error;
	/* A pruned run adds nothing new, even if it saw a violation on the way. */
	if (sim->pruned)
		return MN_RUN_PRUNED;
	return sim->failed ? MN_RUN_VIOLATION : MN_RUN_OK;
}

int mn_sim_run(struct mn_sim *sim, const struct mn_sched *sched)
{
	struct mn_sched first = { .kind = MN_SCHED_FIRST };
	struct sched_ops ops;
	void *state = NULL;
	int ret;

	if (sim->ran || sim->running)
		return -EBUSY;
	ret = sched_init(sim, sched ? sched : &first, &ops, &state);
	if (ret)
		return ret;
	ret = sim_run(sim, &ops);
	if (ret == MN_RUN_OK && sched_leftover(state))
		ret = -EINVAL; /* the scenario ended before the schedule did */
	sched_fini(sim, state);
	return ret;
}
