// SPDX-License-Identifier: MIT
/*
 * test-lock.c - sim locks driven through whole worlds (lib/sim/lock.c, srcu.c, lockdep.c):
 * mutual exclusion and rwlock writer preference over every schedule, the AB-BA deadlock and
 * lockdep's inversion report, misuse reports, SRCU grace periods, wait queues, atomics, and
 * the same locks used from the test's own context outside any run.
 */
#include "mn-test.h"
#include "mn-test-counter.h"

#include <limits.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------- */

static struct mn_sim *new_world_traced(bool keep_going, enum mn_trace_mode mode)
{
	struct mn_sim_config cfg = {
		.alloc_ops = &mn_test_cmocka_ops,
		.trace_mode = mode,
		.keep_going = keep_going,
	};
	struct mn_sim *sim;

	assert_int_equal(mn_sim_create(&cfg, &sim), 0);
	return sim;
}

static struct mn_sim *new_world(bool keep_going)
{
	return new_world_traced(keep_going, MN_TRACE_FULL);
}

/*
 * Outside a run, lock operations take lib/sim's fast paths when tracing is off and the
 * full paths when it is on: the tests of that context run in both modes.
 */
static const enum mn_trace_mode outside_modes[] = { MN_TRACE_FULL, MN_TRACE_OFF };

static struct mn_thread *spawn(struct mn_sim *sim, const char *name, mn_thread_fn fn, void *arg)
{
	struct mn_thread *t;

	assert_int_equal(mn_sim_spawn(sim, name, fn, arg, &t), 0);
	return t;
}

/* Reports of @invariant in the world's trace; *@first receives the first one. */
static size_t nr_reports(struct mn_sim *sim, const char *invariant,
			 const struct mn_violation **first)
{
	struct mn_trace *t = mn_sim_get_trace(sim);
	size_t i, n = 0;

	if (first)
		*first = NULL;
	for (i = 0; i < mn_trace_nr_violations(t); i++) {
		const struct mn_violation *v = mn_trace_violation(t, i);

		if (strcmp(v->invariant, invariant))
			continue;
		if (!n && first)
			*first = v;
		n++;
	}
	return n;
}

/* Print every report of @sim, so that a failing assertion comes with its explanation. */
static void dump_reports(struct mn_sim *sim)
{
	struct mn_trace *t = mn_sim_get_trace(sim);
	char buf[512];
	size_t i;

	for (i = 0; i < mn_trace_nr_violations(t); i++) {
		mn_trace_format_violation(t, mn_trace_violation(t, i), buf, sizeof(buf));
		print_message("  report: %s\n", buf);
	}
}

static void assert_detail_has(const struct mn_violation *v, const char *needle)
{
	assert_non_null(v);
	if (!needle)
		fail();
	if (!strstr(v->detail, needle))
		fail_msg("detail \"%s\" lacks \"%s\"", v->detail, needle);
}

static void explore_dfs(const struct mn_scenario *sc, unsigned int bound, bool sleep_sets,
			struct mn_explore_result *res)
{
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = bound,
		.sleep_sets = sleep_sets,
		.sim = { .alloc_ops = &mn_test_cmocka_ops },
	};

	assert_int_equal(mn_explore(sc, &cfg, res), 0);
}

/* The bounded space was covered completely and no schedule reported anything. */
static void assert_every_schedule_passes(const struct mn_explore_result *res)
{
	if (res->nr_failures)
		print_message("%s: %s\n  under %s\n", res->failures[0].violation.invariant,
			      res->failures[0].violation.detail, res->failures[0].schedule);
	assert_int_equal(res->failing_runs, 0);
	assert_true(res->exhausted);
	assert_true(res->schedules > 1);
}

static bool flag_is_set(void *arg)
{
	return *(const bool *)arg;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void test_mutex_counter_never_loses_an_update(void **state)
{
	struct counter c = { .locked = true };
	struct mn_scenario sc = { "mutex_counter", counter_setup, counter_check, NULL, &c };
	struct mn_explore_result res;

	(void)state;
	for (c.threads = 2; c.threads <= 3; c.threads++) {
		explore_dfs(&sc, UINT_MAX, false, &res);
		assert_every_schedule_passes(&res);
		/* Threads really were interleaved inside the lock protocol. */
		assert_true(res.max_preemptions >= 1);
		print_message("mutex counter, %u threads: %llu schedules, up to %u preemptions\n",
			      c.threads, (unsigned long long)res.schedules, res.max_preemptions);
		mn_explore_result_free(&res);
	}
}

static void test_unlocked_counter_loses_an_update(void **state)
{
	struct counter c = { .threads = 2, .locked = false };
	struct mn_scenario sc = { "racy_counter", counter_setup, counter_check, NULL, &c };
	struct mn_explore_result res;
	struct mn_sim *sim;

	(void)state;
	explore_dfs(&sc, 1, false, &res);
	assert_true(res.failing_runs > 0);
	assert_int_equal(res.nr_failures, 1);
	assert_string_equal(res.failures[0].violation.invariant, "counter.lost_update");
	assert_int_equal(res.failures[0].violation.kind, MN_VIOL_CHECK);
	/* The failing schedule, replayed, ends with one increment lost. */
	assert_int_equal(mn_explore_replay(&sc, NULL, NULL, 0, res.failures[0].schedule, &sim),
			 MN_RUN_VIOLATION);
	assert_int_equal(c.value, 1);
	mn_sim_destroy(sim);
	mn_explore_result_free(&res);
}

/* ---- AB-BA: the classic deadlock, and lockdep seeing it coming ---------------------- */

struct abba {
	struct mn_mutex a, b;
};

static void lock_ab(struct mn_sim *sim, void *arg)
{
	struct abba *x = arg;

	mn_mutex_lock(sim, &x->a);
	mn_yield(sim, "abba.between");
	mn_mutex_lock(sim, &x->b);
	mn_mutex_unlock(sim, &x->b);
	mn_mutex_unlock(sim, &x->a);
}

static void lock_ba(struct mn_sim *sim, void *arg)
{
	struct abba *x = arg;

	mn_mutex_lock(sim, &x->b);
	mn_yield(sim, "abba.between");
	mn_mutex_lock(sim, &x->a);
	mn_mutex_unlock(sim, &x->a);
	mn_mutex_unlock(sim, &x->b);
}

static int abba_setup(struct mn_sim *sim, void *arg)
{
	struct abba *x = arg;
	int ret;

	mn_mutex_init(&x->a, "A");
	mn_mutex_init(&x->b, "B");
	ret = mn_sim_spawn(sim, "t0", lock_ab, x, NULL);
	return ret ? ret : mn_sim_spawn(sim, "t1", lock_ba, x, NULL);
}

/* Every event of @sim's trace rendered as text, one line after another. */
static char *trace_text(struct mn_sim *sim)
{
	struct mn_trace *t = mn_sim_get_trace(sim);
	size_t len = 0, cap = 4096;
	char *out = malloc(cap), line[512];
	uint64_t id;

	assert_non_null(out);
	out[0] = '\0';
	for (id = mn_trace_first_id(t); id && id <= mn_trace_count(t); id++) {
		const struct mn_event *ev = mn_trace_get(t, id);
		size_t n;

		assert_non_null(ev);
		n = (size_t)mn_trace_format_event(t, ev, line, sizeof(line));
		assert_true(n < sizeof(line));
		while (len + n + 2 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		memcpy(out + len, line, n);
		len += n;
		out[len++] = '\n';
		out[len] = '\0';
	}
	return out;
}

static void test_abba_deadlock_found_and_inversion_reported(void **state)
{
	struct abba x;
	struct mn_scenario sc = { .name = "abba", .setup = abba_setup, .arg = &x };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.collect_all = true,
		.max_failures = 64,
		/* Go on after lockdep's report so that a deadlock, if any, is reached too. */
		.sim = { .alloc_ops = &mn_test_cmocka_ops, .keep_going = true },
	};
	struct mn_sim_config replay_cfg = { .alloc_ops = &mn_test_cmocka_ops, .keep_going = true };
	unsigned int nr_deadlocks = 0, nr_clean = 0;
	const struct mn_violation *v, *inv;
	struct mn_explore_result res;
	char *deadlock = NULL, *text1, *text2;
	struct mn_sim *sim, *sim2;
	struct mn_trace *t;
	size_t i;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.exhausted);
	/* Lockdep sees A -> B and B -> A in every schedule, deadlocked or not. */
	assert_int_equal(res.failing_runs, res.schedules);
	assert_true(res.failing_runs <= 64);
	assert_int_equal(res.nr_failures, res.failing_runs);
	for (i = 0; i < res.nr_failures; i++) {
		const struct mn_explore_failure *f = &res.failures[i];

		/* The first report of each run: lockdep fires before the threads block. */
		assert_string_equal(f->violation.invariant, "lock.order_inversion");
		assert_int_equal(mn_explore_replay(&sc, &replay_cfg, NULL, 0, f->schedule, &sim),
				 MN_RUN_VIOLATION);
		assert_int_equal(nr_reports(sim, "lock.order_inversion", &inv), 1);
		assert_detail_has(inv, "while holding");
		assert_int_equal(inv->kind, MN_VIOL_LOCK);
		if (nr_reports(sim, "sim.deadlock", &v)) {
			/* t0 holds A and waits for B; t1 holds B and waits for A. */
			assert_int_equal(v->kind, MN_VIOL_DEADLOCK);
			assert_detail_has(v, "t0 waits for mutex B held by t1");
			assert_detail_has(v, "t1 waits for mutex A held by t0");
			assert_string_equal(v->schedule, f->schedule);
			/* The run ends with the deadlock: it is the last report. */
			t = mn_sim_get_trace(sim);
			assert_ptr_equal(v, mn_trace_violation(t, mn_trace_nr_violations(t) - 1));
			if (!deadlock)
				deadlock = strdup(f->schedule);
			nr_deadlocks++;
		} else {
			/* No deadlock: both threads ran to the end, lockdep still spoke. */
			assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)),
					 MN_THREAD_DONE);
			assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 1)),
					 MN_THREAD_DONE);
			nr_clean++;
		}
		mn_sim_destroy(sim);
	}
	assert_true(nr_deadlocks > 0);
	assert_true(nr_clean > 0);
	assert_non_null(deadlock);

	/* Two replays of the deadlock are the same run, event for event. */
	assert_int_equal(mn_explore_replay(&sc, &replay_cfg, NULL, 0, deadlock, &sim),
			 MN_RUN_VIOLATION);
	assert_int_equal(mn_explore_replay(&sc, &replay_cfg, NULL, 0, deadlock, &sim2),
			 MN_RUN_VIOLATION);
	assert_string_equal(mn_sim_get_schedule(sim), deadlock);
	assert_string_equal(mn_sim_get_schedule(sim2), deadlock);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), 1);
	assert_int_equal(nr_reports(sim2, "sim.deadlock", &inv), 1);
	assert_string_equal(v->detail, inv->detail);
	assert_true(mn_trace_count(mn_sim_get_trace(sim)) > 0);
	text1 = trace_text(sim);
	text2 = trace_text(sim2);
	assert_string_equal(text1, text2);
	free(text1);
	free(text2);
	mn_sim_destroy(sim);
	mn_sim_destroy(sim2);
	free(deadlock);
	mn_explore_result_free(&res);

	/* Without keep_going, the very first schedule (no preemption) is already caught. */
	cfg.collect_all = false;
	cfg.sim.keep_going = false;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.schedules, 1);
	assert_int_equal(res.failing_runs, 1);
	assert_string_equal(res.failures[0].violation.invariant, "lock.order_inversion");
	assert_int_equal(res.max_preemptions, 0);
	mn_explore_result_free(&res);
}

/* ---- misuse: recursion, unlock of a lock not held, sleeping in atomic context ------- */

struct twice {
	struct mn_mutex m;
	struct mn_spinlock s;
	bool spin;
	bool returned; /* the second lock call came back */
};

static void lock_twice(struct mn_sim *sim, void *arg)
{
	struct twice *w = arg;

	if (w->spin) {
		mn_spin_lock(sim, &w->s);
		mn_spin_lock(sim, &w->s);
	} else {
		mn_mutex_lock(sim, &w->m);
		mn_mutex_lock(sim, &w->m);
	}
	w->returned = true;
}

static void test_recursive_lock_is_reported(void **state)
{
	static const char *const expect[] = { "t0 mutex_lock M, which it already holds",
					      "t0 spin_lock S, which it already holds" };
	const struct mn_violation *v;
	struct twice w;
	struct mn_sim *sim;
	int spin;

	(void)state;
	for (spin = 0; spin <= 1; spin++) {
		w = (struct twice){ .spin = spin };
		mn_mutex_init(&w.m, "M");
		mn_spin_init(&w.s, "S");
		sim = new_world(false);
		spawn(sim, "t0", lock_twice, &w);
		assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
		assert_int_equal(nr_reports(sim, "lock.recursive", &v), 1);
		assert_int_equal(v->kind, MN_VIOL_LOCK);
		assert_detail_has(v, expect[spin]);
		/* The thread is parked for good: the second lock never returns. */
		assert_false(w.returned);
		assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_BLOCKED);
		assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
		mn_sim_destroy(sim);
	}
}

struct not_held {
	struct mn_mutex m, idle;
	struct mn_rwlock rw;
	struct mn_waitq wq;
	bool owner_locked, bad_unlock_done;
	bool still_held, still_read_held, trylock_got;
};

/* Takes M and RW, lets the other thread try to unlock them, then checks it still holds them. */
static void owner_body(struct mn_sim *sim, void *arg)
{
	struct not_held *n = arg;

	mn_mutex_lock(sim, &n->m);
	mn_read_lock(sim, &n->rw);
	n->owner_locked = true;
	mn_wake_up(sim, &n->wq);
	mn_wait_event(sim, &n->wq, flag_is_set, &n->bad_unlock_done);
	n->still_held = mn_mutex_is_held(sim, &n->m);
	n->still_read_held = mn_rwlock_is_held(sim, &n->rw, false);
	mn_read_unlock(sim, &n->rw);
	mn_mutex_unlock(sim, &n->m);
}

static void intruder_body(struct mn_sim *sim, void *arg)
{
	struct not_held *n = arg;

	mn_wait_event(sim, &n->wq, flag_is_set, &n->owner_locked);
	mn_mutex_unlock(sim, &n->m);	/* owned by the other thread */
	mn_mutex_unlock(sim, &n->idle); /* owned by nobody */
	mn_read_unlock(sim, &n->rw);	/* read-held by the other thread only */
	mn_write_unlock(sim, &n->rw);	/* not write-held by anyone */
	n->trylock_got = mn_mutex_trylock(sim, &n->m);
	n->bad_unlock_done = true;
	mn_wake_up(sim, &n->wq);
}

static void test_unlock_of_unheld_lock_is_reported_and_ignored(void **state)
{
	const struct mn_violation *v;
	struct not_held n = { 0 };
	struct mn_trace *t;
	struct mn_sim *sim;

	(void)state;
	mn_mutex_init(&n.m, "M");
	mn_mutex_init(&n.idle, "IDLE");
	mn_rwlock_init(&n.rw, "RW", MN_RW_SLEEP);
	mn_waitq_init(&n.wq, "wq");
	sim = new_world(true);
	spawn(sim, "owner", owner_body, &n);
	spawn(sim, "intruder", intruder_body, &n);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	t = mn_sim_get_trace(sim);
	if (mn_trace_nr_violations(t) != 4)
		dump_reports(sim);
	assert_int_equal(nr_reports(sim, "lock.not_held", NULL), 4);
	assert_int_equal(mn_trace_nr_violations(t), 4);
	v = mn_trace_violation(t, 0);
	assert_int_equal(v->kind, MN_VIOL_LOCK);
	assert_detail_has(v, "intruder mutex_unlock M, held by owner");
	assert_detail_has(mn_trace_violation(t, 1), "intruder mutex_unlock IDLE, held by nobody");
	assert_detail_has(mn_trace_violation(t, 2), "intruder read_unlock RW");
	assert_detail_has(mn_trace_violation(t, 3), "intruder write_unlock RW");
	/* The bad unlocks were ignored: the owner still held both, so trylock failed ... */
	assert_true(n.still_held);
	assert_true(n.still_read_held);
	assert_false(n.trylock_got);
	/* ... and its own unlocks went through without a report. */
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_DONE);
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 1)), MN_THREAD_DONE);
	assert_int_equal(mn_thread_nr_held(mn_sim_thread(sim, 0)), 0);
	assert_true(mn_mutex_trylock(sim, &n.m));
	mn_mutex_unlock(sim, &n.m);
	mn_write_lock(sim, &n.rw);
	mn_write_unlock(sim, &n.rw);
	assert_int_equal(mn_trace_nr_violations(t), 4);
	mn_sim_destroy(sim);
}

struct rw_misuse {
	struct mn_rwlock rw;
	struct mn_spinlock s;
};

static void rw_misuse_body(struct mn_sim *sim, void *arg)
{
	struct rw_misuse *r = arg;

	mn_read_unlock(sim, &r->rw); /* 1: never taken */
	mn_spin_unlock(sim, &r->s);  /* 2: never taken */
	mn_read_lock(sim, &r->rw);
	mn_write_unlock(sim, &r->rw); /* 3: held shared, not exclusively */
	mn_read_unlock(sim, &r->rw);
	mn_write_lock(sim, &r->rw);
	mn_read_unlock(sim, &r->rw); /* 4: held exclusively, not shared */
	mn_write_unlock(sim, &r->rw);
}

static void test_unlock_of_unheld_rwlock_and_spinlock_is_reported(void **state)
{
	struct rw_misuse r;
	struct mn_trace *t;
	struct mn_sim *sim;

	(void)state;
	mn_rwlock_init(&r.rw, "RW", MN_RW_SPIN);
	mn_spin_init(&r.s, "S");
	sim = new_world(true);
	spawn(sim, "t0", rw_misuse_body, &r);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	t = mn_sim_get_trace(sim);
	if (mn_trace_nr_violations(t) != 4)
		dump_reports(sim);
	assert_int_equal(nr_reports(sim, "lock.not_held", NULL), 4);
	assert_int_equal(mn_trace_nr_violations(t), 4);
	assert_detail_has(mn_trace_violation(t, 0), "read_unlock RW");
	assert_detail_has(mn_trace_violation(t, 1), "spin_unlock S");
	assert_detail_has(mn_trace_violation(t, 2), "write_unlock RW");
	assert_detail_has(mn_trace_violation(t, 3), "read_unlock RW");
	/* Every good unlock went through: the lock is free again. */
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_DONE);
	assert_int_equal(mn_thread_nr_held(mn_sim_thread(sim, 0)), 0);
	mn_write_lock(sim, &r.rw);
	mn_write_unlock(sim, &r.rw);
	assert_int_equal(mn_trace_nr_violations(t), 4);
	mn_sim_destroy(sim);
}

/* What a thread holds while it calls something that may sleep. */
enum holder {
	HOLD_NOTHING,
	HOLD_SPIN,
	HOLD_MUTEX,
	HOLD_RW_SPIN_READ,
	HOLD_RW_SPIN_WRITE,
	HOLD_RW_SLEEP_READ,
	HOLD_RW_SLEEP_WRITE,
};

enum sleeper {
	CALL_MUTEX_LOCK,
	CALL_MIGHT_SLEEP,
	CALL_SYNCHRONIZE_SRCU,
	CALL_WAIT_EVENT,
	CALL_DOWN_READ,
	CALL_SPIN_LOCK, /* does not sleep */
	CALL_TRYLOCK,	/* does not sleep */
};

struct atomic_case {
	enum holder hold;
	enum sleeper call;
	const char *report; /* substring of the expected report, NULL for none */
};

struct atomic_world {
	const struct atomic_case *c;
	struct mn_spinlock spin, spin2;
	struct mn_mutex mutex, mutex2;
	struct mn_rwlock rw_spin, rw_sleep, rw_sleep2;
	struct mn_srcu srcu;
	struct mn_waitq wq;
	bool yes;
};

static void atomic_body(struct mn_sim *sim, void *arg)
{
	struct atomic_world *a = arg;

	switch (a->c->hold) {
	case HOLD_NOTHING:
		mn_yield(sim, "hold.nothing");
		break;
	case HOLD_SPIN:
		mn_spin_lock(sim, &a->spin);
		break;
	case HOLD_MUTEX:
		mn_mutex_lock(sim, &a->mutex);
		break;
	case HOLD_RW_SPIN_READ:
		mn_read_lock(sim, &a->rw_spin);
		break;
	case HOLD_RW_SPIN_WRITE:
		mn_write_lock(sim, &a->rw_spin);
		break;
	case HOLD_RW_SLEEP_READ:
		mn_read_lock(sim, &a->rw_sleep);
		break;
	case HOLD_RW_SLEEP_WRITE:
		mn_write_lock(sim, &a->rw_sleep);
		break;
	}
	switch (a->c->call) {
	case CALL_MUTEX_LOCK:
		mn_mutex_lock(sim, &a->mutex2);
		mn_mutex_unlock(sim, &a->mutex2);
		break;
	case CALL_MIGHT_SLEEP:
		mn_might_sleep(sim, "copy_from_user");
		break;
	case CALL_SYNCHRONIZE_SRCU:
		mn_synchronize_srcu(sim, &a->srcu);
		break;
	case CALL_WAIT_EVENT:
		mn_wait_event(sim, &a->wq, flag_is_set, &a->yes);
		break;
	case CALL_DOWN_READ:
		mn_read_lock(sim, &a->rw_sleep2);
		mn_read_unlock(sim, &a->rw_sleep2);
		break;
	case CALL_SPIN_LOCK:
		mn_spin_lock(sim, &a->spin2);
		mn_spin_unlock(sim, &a->spin2);
		break;
	case CALL_TRYLOCK:
		if (mn_mutex_trylock(sim, &a->mutex2))
			mn_mutex_unlock(sim, &a->mutex2);
		break;
	}
	switch (a->c->hold) {
	case HOLD_NOTHING:
		break;
	case HOLD_SPIN:
		mn_spin_unlock(sim, &a->spin);
		break;
	case HOLD_MUTEX:
		mn_mutex_unlock(sim, &a->mutex);
		break;
	case HOLD_RW_SPIN_READ:
		mn_read_unlock(sim, &a->rw_spin);
		break;
	case HOLD_RW_SPIN_WRITE:
		mn_write_unlock(sim, &a->rw_spin);
		break;
	case HOLD_RW_SLEEP_READ:
		mn_read_unlock(sim, &a->rw_sleep);
		break;
	case HOLD_RW_SLEEP_WRITE:
		mn_write_unlock(sim, &a->rw_sleep);
		break;
	}
	/* Everything is released: sleeping is fine again. */
	mn_might_sleep(sim, "after_unlock");
}

static void test_sleep_in_atomic_context_is_reported(void **state)
{
	static const struct atomic_case cases[] = {
		{ HOLD_SPIN, CALL_MUTEX_LOCK,
		  "t0 may sleep in mutex_lock while holding spinning lock S" },
		{ HOLD_SPIN, CALL_MIGHT_SLEEP,
		  "t0 may sleep in copy_from_user while holding spinning lock S" },
		{ HOLD_SPIN, CALL_SYNCHRONIZE_SRCU,
		  "synchronize_srcu while holding spinning lock S" },
		{ HOLD_SPIN, CALL_WAIT_EVENT, "wait_event while holding spinning lock S" },
		{ HOLD_SPIN, CALL_DOWN_READ, "down_read while holding spinning lock S" },
		{ HOLD_RW_SPIN_READ, CALL_SYNCHRONIZE_SRCU,
		  "synchronize_srcu while holding spinning lock RWS" },
		{ HOLD_RW_SPIN_WRITE, CALL_SYNCHRONIZE_SRCU,
		  "synchronize_srcu while holding spinning lock RWS" },
		{ HOLD_RW_SPIN_WRITE, CALL_MUTEX_LOCK,
		  "mutex_lock while holding spinning lock RWS" },
		/* Sleeping locks and non-sleeping calls: nothing to report. */
		{ HOLD_RW_SLEEP_READ, CALL_SYNCHRONIZE_SRCU, NULL },
		{ HOLD_RW_SLEEP_WRITE, CALL_SYNCHRONIZE_SRCU, NULL },
		{ HOLD_RW_SLEEP_READ, CALL_MUTEX_LOCK, NULL },
		{ HOLD_MUTEX, CALL_SYNCHRONIZE_SRCU, NULL },
		{ HOLD_MUTEX, CALL_MIGHT_SLEEP, NULL },
		{ HOLD_NOTHING, CALL_MIGHT_SLEEP, NULL },
		{ HOLD_SPIN, CALL_SPIN_LOCK, NULL },
		{ HOLD_SPIN, CALL_TRYLOCK, NULL },
		{ HOLD_RW_SPIN_READ, CALL_SPIN_LOCK, NULL },
	};
	struct atomic_world a;
	const struct mn_violation *v;
	struct mn_sim *sim;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.c = &cases[i];
		a.yes = true;
		mn_spin_init(&a.spin, "S");
		mn_spin_init(&a.spin2, "S2");
		mn_mutex_init(&a.mutex, "M");
		mn_mutex_init(&a.mutex2, "M2");
		mn_rwlock_init(&a.rw_spin, "RWS", MN_RW_SPIN);
		mn_rwlock_init(&a.rw_sleep, "RWSEM", MN_RW_SLEEP);
		mn_rwlock_init(&a.rw_sleep2, "RWSEM2", MN_RW_SLEEP);
		mn_srcu_init(&a.srcu, "SRCU");
		mn_waitq_init(&a.wq, "wq");
		sim = new_world(true);
		spawn(sim, "t0", atomic_body, &a);
		print_message("case %zu: hold %d, call %d\n", i, cases[i].hold, cases[i].call);
		if (cases[i].report) {
			assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
			assert_int_equal(nr_reports(sim, "lock.sleep_in_atomic", &v), 1);
			assert_int_equal(v->kind, MN_VIOL_LOCK);
			assert_detail_has(v, cases[i].report);
		} else {
			int ret = mn_sim_run(sim, NULL);

			if (ret != MN_RUN_OK)
				dump_reports(sim);
			assert_int_equal(ret, MN_RUN_OK);
		}
		/* Reported, not stopped: the thread went on and released everything. */
		assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)),
				 cases[i].report ? 1 : 0);
		assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_DONE);
		assert_int_equal(mn_thread_nr_held(mn_sim_thread(sim, 0)), 0);
		mn_sim_destroy(sim);
	}
}

/* ---- non-blocking sections (non_block_start/end) ------------------------------------ */

struct non_block_world {
	struct mn_mutex m;
	bool sleep_inside;
	bool unbalanced;
};

static void non_block_body(struct mn_sim *sim, void *arg)
{
	struct non_block_world *w = arg;

	if (w->unbalanced) {
		mn_non_block_end(sim);
		return;
	}
	mn_non_block_start(sim, "mmu_notifier start (non-blockable)");
	mn_non_block_start(sim, "nested");
	mn_non_block_end(sim);
	/* Still inside the outer section: a mutex may sleep. */
	if (w->sleep_inside) {
		mn_mutex_lock(sim, &w->m);
		mn_mutex_unlock(sim, &w->m);
	}
	mn_non_block_end(sim);
	/* Outside again: sleeping is fine. */
	mn_mutex_lock(sim, &w->m);
	mn_might_sleep(sim, "after");
	mn_mutex_unlock(sim, &w->m);
}

static void test_sleep_in_non_block_section_is_reported(void **state)
{
	const struct mn_violation *v;
	struct non_block_world w;
	struct mn_sim *sim;
	int pass;

	(void)state;
	for (pass = 0; pass < 3; pass++) {
		memset(&w, 0, sizeof(w));
		mn_mutex_init(&w.m, "M");
		w.sleep_inside = pass == 1;
		w.unbalanced = pass == 2;
		sim = new_world(true);
		spawn(sim, "t0", non_block_body, &w);
		if (pass == 0) {
			assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
		} else if (pass == 1) {
			assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
			assert_int_equal(nr_reports(sim, "lock.sleep_in_non_block", &v), 1);
			assert_int_equal(v->kind, MN_VIOL_LOCK);
			assert_detail_has(v, "t0 may sleep in mutex_lock inside a section that "
					     "must not block (mmu_notifier start (non-blockable))");
		} else {
			assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
			assert_int_equal(nr_reports(sim, "lock.non_block_unbalanced", &v), 1);
		}
		assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), pass ? 1 : 0);
		mn_sim_destroy(sim);
	}
	/* Outside a run the calls are no-ops. */
	sim = new_world(true);
	mn_non_block_start(sim, "x");
	mn_might_sleep(sim, "y");
	mn_non_block_end(sim);
	mn_non_block_end(sim);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 0);
	mn_sim_destroy(sim);
}

/* ---- rwlock: shared readers, exclusive writers, writer preference ------------------- */

struct rw_excl {
	struct mn_rwlock rw;
	enum mn_rw_kind kind;
	unsigned int nr_readers, nr_writers;
	uint64_t value;
	int readers_in, writers_in;
	bool two_readers;	       /* this run saw two readers inside at once */
	unsigned int runs_two_readers; /* across the exploration */
};

static void rw_reader(struct mn_sim *sim, void *arg)
{
	struct rw_excl *x = arg;

	mn_read_lock(sim, &x->rw);
	if (x->writers_in)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "rwlock.exclusion",
			       "a reader got in beside %d writer(s)", x->writers_in);
	if (++x->readers_in > 1)
		x->two_readers = true;
	mn_yield(sim, "reader.inside");
	x->readers_in--;
	mn_read_unlock(sim, &x->rw);
}

static void rw_writer(struct mn_sim *sim, void *arg)
{
	struct rw_excl *x = arg;
	uint64_t v;

	mn_write_lock(sim, &x->rw);
	if (x->writers_in || x->readers_in)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "rwlock.exclusion",
			       "a writer got in beside %d writer(s) and %d reader(s)",
			       x->writers_in, x->readers_in);
	x->writers_in++;
	v = mn_atomic_read(sim, &x->value, "rw.value.read");
	mn_atomic_set(sim, &x->value, v + 1, "rw.value.write");
	x->writers_in--;
	mn_write_unlock(sim, &x->rw);
}

static int rw_excl_setup(struct mn_sim *sim, void *arg)
{
	static const char *const rnames[] = { "reader0", "reader1", "reader2" };
	static const char *const wnames[] = { "writer0", "writer1", "writer2" };
	struct rw_excl *x = arg;
	unsigned int i;
	int ret = 0;

	mn_rwlock_init(&x->rw, "RW", x->kind);
	x->value = 0;
	x->readers_in = x->writers_in = 0;
	x->two_readers = false;
	for (i = 0; i < x->nr_writers && !ret; i++)
		ret = mn_sim_spawn(sim, wnames[i], rw_writer, x, NULL);
	for (i = 0; i < x->nr_readers && !ret; i++)
		ret = mn_sim_spawn(sim, rnames[i], rw_reader, x, NULL);
	return ret;
}

static void rw_excl_check(struct mn_sim *sim, void *arg)
{
	struct rw_excl *x = arg;

	x->runs_two_readers += x->two_readers;
	if (x->value != x->nr_writers)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "rwlock.lost_update",
			       "value is %llu after %u writers", (unsigned long long)x->value,
			       x->nr_writers);
}

static void test_rwlock_readers_share_the_lock(void **state)
{
	struct rw_excl x = { .nr_readers = 2 };
	struct mn_scenario sc = { "rw_readers", rw_excl_setup, rw_excl_check, NULL, &x };
	struct mn_explore_result res;
	int kind;

	(void)state;
	for (kind = MN_RW_SPIN; kind <= MN_RW_SLEEP; kind++) {
		for (x.nr_writers = 0; x.nr_writers <= 1; x.nr_writers++) {
			x.kind = (enum mn_rw_kind)kind;
			x.runs_two_readers = 0;
			explore_dfs(&sc, UINT_MAX, false, &res);
			assert_every_schedule_passes(&res);
			/* Some schedule had both readers inside at the same time. */
			assert_true(x.runs_two_readers > 0);
			mn_explore_result_free(&res);
		}
	}
}

static void test_rwlock_writer_excludes_readers_and_writers(void **state)
{
	struct rw_excl x = { .nr_readers = 1, .nr_writers = 2 };
	struct mn_scenario sc = { "rw_writers", rw_excl_setup, rw_excl_check, NULL, &x };
	struct mn_explore_result res;
	int kind;

	(void)state;
	for (kind = MN_RW_SPIN; kind <= MN_RW_SLEEP; kind++) {
		x.kind = (enum mn_rw_kind)kind;
		explore_dfs(&sc, UINT_MAX, false, &res);
		assert_every_schedule_passes(&res);
		assert_true(res.max_preemptions >= 2);
		mn_explore_result_free(&res);
	}
}

#define STARVE_ITERS 3
/*
 * Unbounded, the space is about 10 million schedules (two minutes); three preemptions
 * cover 15 thousand in a fraction of a second.
 */
#define STARVE_BOUND 3

struct rw_starve {
	struct mn_rwlock rw;
	enum mn_rw_kind kind;
	struct mn_thread *writer;
	bool writer_waited;	  /* a reader saw the writer blocked in write_lock */
	bool writer_had;	  /* the writer got the lock */
	unsigned int runs_waited; /* across the exploration */
};

/* Called from a reader: the writer's only blocking call is write_lock. */
static void observe_writer(struct rw_starve *s)
{
	if (mn_thread_get_state(s->writer) == MN_THREAD_BLOCKED)
		s->writer_waited = true;
}

static void starve_reader(struct mn_sim *sim, void *arg)
{
	struct rw_starve *s = arg;
	int i;

	for (i = 0; i < STARVE_ITERS; i++) {
		mn_read_lock(sim, &s->rw);
		/*
		 * No yield since the acquisition: the writer's state now is its state when
		 * this reader got in.
		 */
		observe_writer(s);
		if (s->writer_waited && !s->writer_had)
			mn_sim_reportf(sim, MN_VIOL_CHECK, "rwlock.writer_starved",
				       "%s took RW for reading after the writer started waiting",
				       mn_thread_get_name(mn_sim_current(sim)));
		mn_yield(sim, "reader.inside");
		observe_writer(s);
		mn_read_unlock(sim, &s->rw);
		observe_writer(s);
	}
}

static void starve_writer(struct mn_sim *sim, void *arg)
{
	struct rw_starve *s = arg;

	mn_write_lock(sim, &s->rw);
	s->writer_had = true;
	mn_yield(sim, "writer.inside");
	mn_write_unlock(sim, &s->rw);
}

static int starve_setup(struct mn_sim *sim, void *arg)
{
	struct rw_starve *s = arg;
	int ret;

	mn_rwlock_init(&s->rw, "RW", s->kind);
	s->writer_waited = s->writer_had = false;
	ret = mn_sim_spawn(sim, "reader0", starve_reader, s, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "reader1", starve_reader, s, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "writer", starve_writer, s, &s->writer);
	return ret;
}

static void starve_check(struct mn_sim *sim, void *arg)
{
	struct rw_starve *s = arg;

	s->runs_waited += s->writer_waited;
	if (!s->writer_had)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "rwlock.writer_starved",
			       "the writer never got RW");
}

static void test_rwlock_writer_is_not_starved(void **state)
{
	struct rw_starve s = { 0 };
	struct mn_scenario sc = { "rw_starve", starve_setup, starve_check, NULL, &s };
	struct mn_explore_result res;
	int kind;

	(void)state;
	for (kind = MN_RW_SPIN; kind <= MN_RW_SLEEP; kind++) {
		s.kind = (enum mn_rw_kind)kind;
		s.runs_waited = 0;
		explore_dfs(&sc, STARVE_BOUND, false, &res);
		assert_every_schedule_passes(&res);
		/* The interesting case happened: the writer waited while readers held RW. */
		assert_true(s.runs_waited > 0);
		print_message("rw starvation, kind %d: %llu schedules, writer waited in %u\n", kind,
			      (unsigned long long)res.schedules, s.runs_waited);
		mn_explore_result_free(&res);
	}
}

/* down_read_trylock(): succeeds while only readers hold it, fails behind a writer. */
struct rw_try {
	struct mn_rwlock rw;
	bool got[3];
};

static void try_body(struct mn_sim *sim, void *arg)
{
	struct rw_try *t = arg;

	t->got[0] = mn_read_trylock(sim, &t->rw);
	mn_yield(sim, "try.between");
	if (t->got[0])
		mn_read_unlock(sim, &t->rw);
}

static void try_writer(struct mn_sim *sim, void *arg)
{
	struct rw_try *t = arg;

	mn_write_lock(sim, &t->rw);
	t->got[1] = mn_read_trylock(sim, &t->rw); /* held for write: fails */
	mn_write_unlock(sim, &t->rw);
	t->got[2] = mn_read_trylock(sim, &t->rw);
	if (t->got[2])
		mn_read_unlock(sim, &t->rw);
}

static void test_rwlock_read_trylock(void **state)
{
	struct rw_try t;
	struct mn_sim *sim;
	int kind;

	(void)state;
	for (kind = MN_RW_SPIN; kind <= MN_RW_SLEEP; kind++) {
		memset(&t, 0, sizeof(t));
		mn_rwlock_init(&t.rw, "RW", (enum mn_rw_kind)kind);
		sim = new_world(false);
		spawn(sim, "reader", try_body, &t);
		spawn(sim, "writer", try_writer, &t);
		assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
		assert_true(t.got[0]);
		assert_false(t.got[1]);
		assert_true(t.got[2]);
		assert_int_equal(mn_thread_nr_held(mn_sim_thread(sim, 0)), 0);
		mn_sim_destroy(sim);
	}
	/* Outside a run: the world itself is the owner. */
	sim = new_world(false);
	mn_rwlock_init(&t.rw, "RW", MN_RW_SLEEP);
	assert_true(mn_read_trylock(sim, &t.rw));
	assert_true(mn_read_trylock(sim, &t.rw));
	mn_read_unlock(sim, &t.rw);
	mn_read_unlock(sim, &t.rw);
	mn_write_lock(sim, &t.rw);
	assert_false(mn_read_trylock(sim, &t.rw));
	mn_write_unlock(sim, &t.rw);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 0);
	mn_sim_destroy(sim);
}

struct rw_retake {
	struct mn_rwlock rw;
};

static void retake_reader(struct mn_sim *sim, void *arg)
{
	struct rw_retake *r = arg;

	mn_read_lock(sim, &r->rw);
	mn_yield(sim, "reader.between");
	mn_read_lock(sim, &r->rw); /* blocks behind a waiting writer */
	mn_read_unlock(sim, &r->rw);
	mn_read_unlock(sim, &r->rw);
}

static void retake_writer(struct mn_sim *sim, void *arg)
{
	struct rw_retake *r = arg;

	mn_write_lock(sim, &r->rw);
	mn_write_unlock(sim, &r->rw);
}

static int retake_setup(struct mn_sim *sim, void *arg)
{
	struct rw_retake *r = arg;
	int ret;

	mn_rwlock_init(&r->rw, "RW", MN_RW_SPIN);
	ret = mn_sim_spawn(sim, "reader", retake_reader, r, NULL);
	return ret ? ret : mn_sim_spawn(sim, "writer", retake_writer, r, NULL);
}

/* Writer preference has the kernel's price: a recursive reader deadlocks behind a writer. */
static void test_rwlock_recursive_read_behind_waiting_writer_deadlocks(void **state)
{
	struct rw_retake r;
	struct mn_scenario sc = { .name = "rw_retake", .setup = retake_setup, .arg = &r };
	struct mn_explore_result res;
	const struct mn_violation *v;

	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.collect_all = true,
		.max_failures = 1000,
		.sim = { .alloc_ops = &mn_test_cmocka_ops, .keep_going = true },
	};
	size_t i, deadlocks = 0;

	(void)state;
	/* lockdep flags the recursive read in every schedule, before anything deadlocks. */
	explore_dfs(&sc, UINT_MAX, false, &res);
	assert_true(res.failing_runs > 0);
	assert_int_equal(res.failing_runs, res.schedules);
	assert_string_equal(res.failures[0].violation.invariant, "lock.recursive_read");
	mn_explore_result_free(&res);
	/* Going on past the report, the schedules with the writer queued in between deadlock. */
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	for (i = 0; i < res.nr_failures; i++) {
		struct mn_sim *sim;
		size_t k;

		assert_true(mn_explore_replay(&sc, &cfg.sim, NULL, 0, res.failures[i].schedule,
					      &sim) >= 0);
		for (k = 0; k < mn_trace_nr_violations(mn_sim_get_trace(sim)); k++) {
			v = mn_trace_violation(mn_sim_get_trace(sim), k);
			if (strcmp(v->invariant, "sim.deadlock"))
				continue;
			deadlocks++;
			assert_detail_has(v, "reader waits for read lock of RW held by reader");
			assert_detail_has(v, "writer waits for write lock of RW held by reader");
		}
		mn_sim_destroy(sim);
	}
	assert_true(deadlocks > 0);
	mn_explore_result_free(&res);
}

/*
 * S -> RW(read) in one thread and RW(read) -> S in another deadlock through a waiting
 * writer, because readers queue behind it (qrwlock in process context). The kernel's lockdep
 * therefore orders process-context read_lock() like any acquisition (read_lock_is_recursive()
 * is true only in interrupt context) and flags the inversion in every schedule.
 */
struct rw_order {
	struct mn_rwlock rw;
	struct mn_spinlock s;
};

static void spin_then_read(struct mn_sim *sim, void *arg)
{
	struct rw_order *o = arg;

	mn_spin_lock(sim, &o->s);
	mn_read_lock(sim, &o->rw);
	mn_read_unlock(sim, &o->rw);
	mn_spin_unlock(sim, &o->s);
}

static void read_then_spin(struct mn_sim *sim, void *arg)
{
	struct rw_order *o = arg;

	mn_read_lock(sim, &o->rw);
	mn_yield(sim, "reader.between");
	mn_spin_lock(sim, &o->s);
	mn_spin_unlock(sim, &o->s);
	mn_read_unlock(sim, &o->rw);
}

static void order_writer(struct mn_sim *sim, void *arg)
{
	struct rw_order *o = arg;

	mn_write_lock(sim, &o->rw);
	mn_write_unlock(sim, &o->rw);
}

static int rw_order_setup(struct mn_sim *sim, void *arg)
{
	struct rw_order *o = arg;
	int ret;

	mn_rwlock_init(&o->rw, "RW", MN_RW_SPIN);
	mn_spin_init(&o->s, "S");
	ret = mn_sim_spawn(sim, "spin_then_read", spin_then_read, o, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "read_then_spin", read_then_spin, o, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "writer", order_writer, o, NULL);
	return ret;
}

static void test_rwlock_spin_read_inversion_is_reported(void **state)
{
	struct rw_order o;
	struct mn_scenario sc = { .name = "rw_order", .setup = rw_order_setup, .arg = &o };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.collect_all = true,
		.max_failures = 4096,
		.sim = { .alloc_ops = &mn_test_cmocka_ops, .keep_going = true },
	};
	struct mn_sim_config replay_cfg = { .alloc_ops = &mn_test_cmocka_ops, .keep_going = true };
	bool deadlocked = false, all_inversions = true;
	uint64_t schedules, reported;
	struct mn_explore_result res;
	char detail[256] = "";
	struct mn_sim *sim;
	size_t i;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.exhausted);
	assert_true(res.failing_runs <= 4096);
	for (i = 0; i < res.nr_failures; i++) {
		const struct mn_violation *v;

		all_inversions &=
			!strcmp(res.failures[i].violation.invariant, "lock.order_inversion");
		if (deadlocked || mn_explore_replay(&sc, &replay_cfg, NULL, 0,
						    res.failures[i].schedule, &sim) < 0)
			continue;
		if (nr_reports(sim, "sim.deadlock", &v)) {
			memcpy(detail, v->detail, sizeof(detail));
			deadlocked = true;
		}
		mn_sim_destroy(sim);
	}
	schedules = res.schedules;
	reported = res.failing_runs;
	mn_explore_result_free(&res);

	/* The deadlock is real: the sim itself reaches it through the waiting writer. */
	assert_true(deadlocked);
	assert_non_null(strstr(detail, "spin_then_read waits for read lock of RW"));
	assert_non_null(
		strstr(detail, "read_then_spin waits for spinlock S held by spin_then_read"));
	assert_non_null(strstr(detail, "writer waits for write lock of RW"));
	/*
	 * So lockdep must flag S -> RW(read) against RW(read) -> S in every schedule, as it
	 * does for AB-BA, not only in the few that happen to deadlock.
	 */
	print_message("rw order: %llu schedules, %llu with a report\n",
		      (unsigned long long)schedules, (unsigned long long)reported);
	assert_int_equal(reported, schedules);
	assert_true(all_inversions);
}

/* ---- SRCU ------------------------------------------------------------------------- */

/*
 * reader1 enters before synchronize_srcu() starts; reader2 enters while it runs. If
 * reader2 got the new index it waits, inside its section, for synchronize to return: a
 * grace period that waited for it would deadlock.
 */
struct srcu_gp {
	struct mn_srcu srcu;
	struct mn_waitq wq;
	int idx1;
	bool r1_in, r1_out, sync_done;
	bool r2_old, r2_new, r2_in, r2_out, overlap;
	unsigned int runs_new, runs_old, runs_overlap; /* across the exploration */
};

static void gp_reader1(struct mn_sim *sim, void *arg)
{
	struct srcu_gp *g = arg;
	int idx;

	idx = mn_srcu_read_lock(sim, &g->srcu);
	g->idx1 = idx;
	g->r1_in = true;
	mn_wake_up(sim, &g->wq);
	mn_yield(sim, "reader1.inside");
	mn_srcu_read_unlock(sim, &g->srcu, idx);
	g->r1_out = true;
}

static void gp_syncer(struct mn_sim *sim, void *arg)
{
	struct srcu_gp *g = arg;

	mn_wait_event(sim, &g->wq, flag_is_set, &g->r1_in);
	mn_synchronize_srcu(sim, &g->srcu);
	if (!g->r1_out)
		mn_sim_reportf(
			sim, MN_VIOL_CHECK, "srcu.grace_period",
			"synchronize_srcu returned while reader1 (entered before it) was inside");
	if (g->r2_old && !g->r2_out)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "srcu.grace_period",
			       "synchronize_srcu returned while reader2 (old index) was inside");
	g->overlap = g->r2_new && g->r2_in;
	g->sync_done = true;
	mn_wake_up(sim, &g->wq);
}

static void gp_reader2(struct mn_sim *sim, void *arg)
{
	struct srcu_gp *g = arg;
	int idx;

	mn_wait_event(sim, &g->wq, flag_is_set, &g->r1_in);
	idx = mn_srcu_read_lock(sim, &g->srcu);
	g->r2_in = true;
	if (idx == g->idx1) {
		g->r2_old = true; /* entered before the flip: synchronize must wait for it */
	} else {
		g->r2_new = true;
		mn_wait_event(sim, &g->wq, flag_is_set, &g->sync_done);
	}
	mn_srcu_read_unlock(sim, &g->srcu, idx);
	g->r2_in = false;
	g->r2_out = true;
}

static int gp_setup(struct mn_sim *sim, void *arg)
{
	struct srcu_gp *g = arg;
	int ret;

	mn_srcu_init(&g->srcu, "SRCU");
	mn_waitq_init(&g->wq, "wq");
	g->idx1 = -1;
	g->r1_in = g->r1_out = g->sync_done = false;
	g->r2_old = g->r2_new = g->r2_in = g->r2_out = g->overlap = false;
	ret = mn_sim_spawn(sim, "reader1", gp_reader1, g, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "syncer", gp_syncer, g, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "reader2", gp_reader2, g, NULL);
	return ret;
}

static void gp_check(struct mn_sim *sim, void *arg)
{
	struct srcu_gp *g = arg;

	(void)sim;
	g->runs_new += g->r2_new;
	g->runs_old += g->r2_old;
	g->runs_overlap += g->overlap;
}

static void test_srcu_synchronize_waits_for_old_readers_only(void **state)
{
	struct srcu_gp g = { 0 };
	struct mn_scenario sc = { "srcu_gp", gp_setup, gp_check, NULL, &g };
	struct mn_explore_result res;

	(void)state;
	explore_dfs(&sc, UINT_MAX, false, &res);
	assert_every_schedule_passes(&res);
	/* Both kinds of reader2 happened, and synchronize returned under a new reader. */
	assert_true(g.runs_old > 0);
	assert_true(g.runs_new > 0);
	assert_true(g.runs_overlap > 0);
	assert_int_equal(g.runs_new + g.runs_old, res.schedules);
	print_message("srcu: %llu schedules, reader2 old in %u, new in %u\n",
		      (unsigned long long)res.schedules, g.runs_old, g.runs_new);
	mn_explore_result_free(&res);
}

struct srcu_nest {
	struct mn_srcu srcu;
	struct mn_waitq wq;
	bool in, out;
	unsigned int held_inner, held_outer;
	bool split;		 /* the two sections got different indices */
	unsigned int runs_split; /* across the exploration */
};

static void nest_reader(struct mn_sim *sim, void *arg)
{
	struct srcu_nest *n = arg;
	struct mn_thread *self;
	int outer, inner;

	outer = mn_srcu_read_lock(sim, &n->srcu);
	self = mn_sim_current(sim);
	n->in = true;
	mn_wake_up(sim, &n->wq);
	inner = mn_srcu_read_lock(sim, &n->srcu);
	n->split = inner != outer;
	n->held_inner = mn_thread_nr_held(self);
	mn_yield(sim, "reader.nested");
	mn_srcu_read_unlock(sim, &n->srcu, inner);
	n->held_outer = mn_thread_nr_held(self);
	mn_yield(sim, "reader.outer");
	mn_srcu_read_unlock(sim, &n->srcu, outer);
	n->out = true;
}

static void nest_syncer(struct mn_sim *sim, void *arg)
{
	struct srcu_nest *n = arg;

	mn_wait_event(sim, &n->wq, flag_is_set, &n->in);
	mn_synchronize_srcu(sim, &n->srcu);
	if (!n->out)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "srcu.grace_period",
			       "synchronize_srcu returned inside the reader's outer section");
}

static int nest_setup(struct mn_sim *sim, void *arg)
{
	struct srcu_nest *n = arg;
	int ret;

	mn_srcu_init(&n->srcu, "SRCU");
	mn_waitq_init(&n->wq, "wq");
	n->in = n->out = n->split = false;
	n->held_inner = n->held_outer = 0;
	ret = mn_sim_spawn(sim, "reader", nest_reader, n, NULL);
	return ret ? ret : mn_sim_spawn(sim, "syncer", nest_syncer, n, NULL);
}

static void nest_check(struct mn_sim *sim, void *arg)
{
	struct srcu_nest *n = arg;

	n->runs_split += n->split;
	if (n->held_inner != 2 || n->held_outer != 1)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "srcu.nesting",
			       "reader held %u sections nested, %u after the inner unlock",
			       n->held_inner, n->held_outer);
	if (mn_thread_nr_held(mn_sim_thread(sim, 0)) != 0)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "srcu.nesting", "reader ended inside a section");
}

static void test_srcu_nested_read_sections(void **state)
{
	struct srcu_nest n = { 0 };
	struct mn_scenario sc = { "srcu_nest", nest_setup, nest_check, NULL, &n };
	struct mn_explore_result res;

	(void)state;
	explore_dfs(&sc, UINT_MAX, false, &res);
	assert_every_schedule_passes(&res);
	/* Some schedule flipped the index between the outer and the inner read_lock. */
	assert_true(n.runs_split > 0);
	mn_explore_result_free(&res);
}

struct srcu_bad {
	struct mn_srcu srcu;
	struct mn_waitq wq;
	bool unlocked, synced;
};

static void bad_idx_reader(struct mn_sim *sim, void *arg)
{
	struct srcu_bad *b = arg;
	int idx;

	idx = mn_srcu_read_lock(sim, &b->srcu);
	mn_srcu_read_unlock(sim, &b->srcu, idx ^ 1); /* the other index */
	mn_srcu_read_unlock(sim, &b->srcu, 7);	     /* no index at all */
	mn_srcu_read_unlock(sim, &b->srcu, idx);
	b->unlocked = true;
	mn_wake_up(sim, &b->wq);
}

static void bad_idx_syncer(struct mn_sim *sim, void *arg)
{
	struct srcu_bad *b = arg;

	mn_wait_event(sim, &b->wq, flag_is_set, &b->unlocked);
	mn_synchronize_srcu(sim, &b->srcu);
	b->synced = true;
}

static void test_srcu_unlock_with_wrong_index_is_reported(void **state)
{
	struct srcu_bad b = { 0 };
	struct mn_trace *t;
	struct mn_sim *sim;

	(void)state;
	mn_srcu_init(&b.srcu, "SRCU");
	mn_waitq_init(&b.wq, "wq");
	sim = new_world(true);
	spawn(sim, "reader", bad_idx_reader, &b);
	spawn(sim, "syncer", bad_idx_syncer, &b);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	t = mn_sim_get_trace(sim);
	if (mn_trace_nr_violations(t) != 2)
		dump_reports(sim);
	assert_int_equal(nr_reports(sim, "lock.not_held", NULL), 2);
	assert_int_equal(mn_trace_nr_violations(t), 2);
	assert_int_equal(mn_trace_violation(t, 0)->kind, MN_VIOL_LOCK);
	assert_detail_has(mn_trace_violation(t, 0), "srcu_read_unlock of SRCU with index 1");
	assert_detail_has(mn_trace_violation(t, 1), "srcu_read_unlock of SRCU with index 7");
	/* The bad unlocks were ignored and the good one counted: the grace period ended. */
	assert_true(b.synced);
	assert_int_equal(mn_thread_nr_held(mn_sim_thread(sim, 0)), 0);
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 1)), MN_THREAD_DONE);
	mn_sim_destroy(sim);
}

struct srcu_self {
	struct mn_srcu srcu;
	bool returned;
};

static void self_sync_body(struct mn_sim *sim, void *arg)
{
	struct srcu_self *s = arg;
	int idx;

	idx = mn_srcu_read_lock(sim, &s->srcu);
	mn_synchronize_srcu(sim, &s->srcu);
	s->returned = true;
	mn_srcu_read_unlock(sim, &s->srcu, idx);
}

static void test_synchronize_srcu_inside_own_section_is_recursive(void **state)
{
	struct srcu_self s = { 0 };
	const struct mn_violation *v;
	struct mn_sim *sim;

	(void)state;
	mn_srcu_init(&s.srcu, "SRCU");
	sim = new_world(false);
	spawn(sim, "t0", self_sync_body, &s);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "lock.recursive", &v), 1);
	assert_int_equal(v->kind, MN_VIOL_LOCK);
	assert_detail_has(v, "t0 calls synchronize_srcu(SRCU) inside its own read-side section");
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
	assert_false(s.returned);
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_BLOCKED);
	mn_sim_destroy(sim);
}

/* ---- wait queues ------------------------------------------------------------------ */

struct wq_sc {
	struct mn_waitq wq;
	bool flag;
	uint64_t word;
	bool atomic_waker;
	unsigned int nr_waiters, done;
};

static bool word_is_set(void *arg)
{
	return *(const uint64_t *)arg != 0;
}

static void wq_waiter(struct mn_sim *sim, void *arg)
{
	struct wq_sc *w = arg;

	if (w->atomic_waker)
		mn_wait_event(sim, &w->wq, word_is_set, &w->word);
	else
		mn_wait_event(sim, &w->wq, flag_is_set, &w->flag);
	w->done++;
}

static void wq_waker(struct mn_sim *sim, void *arg)
{
	struct wq_sc *w = arg;

	if (w->atomic_waker) {
		mn_atomic_set(sim, &w->word, 1, "wq.word");
	} else {
		mn_yield(sim, "waker.start");
		w->flag = true;
	}
	mn_wake_up(sim, &w->wq);
}

static int wq_setup(struct mn_sim *sim, void *arg)
{
	static const char *const names[] = { "waiter0", "waiter1" };
	struct wq_sc *w = arg;
	unsigned int i;
	int ret = 0;

	mn_waitq_init(&w->wq, "wq");
	w->flag = false;
	w->word = 0;
	w->done = 0;
	for (i = 0; i < w->nr_waiters && !ret; i++)
		ret = mn_sim_spawn(sim, names[i], wq_waiter, w, NULL);
	return ret ? ret : mn_sim_spawn(sim, "waker", wq_waker, w, NULL);
}

static void wq_check(struct mn_sim *sim, void *arg)
{
	struct wq_sc *w = arg;

	if (w->done != w->nr_waiters)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "waitq.lost_wakeup", "%u of %u waiters finished",
			       w->done, w->nr_waiters);
}

static void test_wait_event_never_loses_a_wakeup(void **state)
{
	struct wq_sc w = { 0 };
	struct mn_scenario sc = { "waitq", wq_setup, wq_check, NULL, &w };
	struct mn_explore_result res;
	int atomic;

	(void)state;
	for (atomic = 0; atomic <= 1; atomic++) {
		for (w.nr_waiters = 1; w.nr_waiters <= 2; w.nr_waiters++) {
			w.atomic_waker = atomic;
			explore_dfs(&sc, UINT_MAX, false, &res);
			assert_every_schedule_passes(&res);
			mn_explore_result_free(&res);
		}
	}
}

static void lonely_waiter(struct mn_sim *sim, void *arg)
{
	mn_wait_event(sim, arg, never, NULL);
}

static void test_wait_without_waker_deadlocks(void **state)
{
	const struct mn_violation *v;
	struct mn_waitq wq;
	struct mn_sim *sim;

	(void)state;
	mn_waitq_init(&wq, "wq");
	sim = new_world(false);
	spawn(sim, "t0", lonely_waiter, &wq);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), 1);
	assert_int_equal(v->kind, MN_VIOL_DEADLOCK);
	assert_detail_has(v, "t0 waits for wait queue wq");
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_BLOCKED);
	mn_sim_destroy(sim);
}

/* ---- atomics ---------------------------------------------------------------------- */

struct atomic_log {
	uint64_t r[12];
};

/* The same sequence from a sim thread and from the test's own context. */
static void atomic_sequence(struct mn_sim *sim, struct atomic_log *log)
{
	uint64_t w = 5;

	log->r[0] = mn_atomic_add_return(sim, &w, 3, "a.add");		   /* 8 */
	log->r[1] = mn_atomic_add_return(sim, &w, (uint64_t)-8, "a.sub");  /* 0 */
	log->r[2] = mn_atomic_add_return(sim, &w, (uint64_t)-1, "a.wrap"); /* ~0 */
	log->r[3] = mn_atomic_add_return(sim, &w, 2, "a.wrap_back");	   /* 1 */
	log->r[4] = mn_atomic_cmpxchg(sim, &w, 1, 7, "a.cas_hit");	   /* 1 */
	log->r[5] = mn_atomic_read(sim, &w, "a.read");			   /* 7 */
	log->r[6] = mn_atomic_cmpxchg(sim, &w, 6, 9, "a.cas_miss");	   /* 7 */
	log->r[7] = mn_atomic_read(sim, &w, "a.read");			   /* 7 */
	mn_atomic_set(sim, &w, UINT64_MAX, "a.set");
	log->r[8] = mn_atomic_cmpxchg(sim, &w, UINT64_MAX, 0, "a.cas_max"); /* ~0 */
	log->r[9] = mn_atomic_read(sim, &w, "a.read");			    /* 0 */
	log->r[10] = mn_atomic_add_return(sim, &w, 0, "a.add0");	    /* 0 */
	log->r[11] = w;
}

static void atomic_thread(struct mn_sim *sim, void *arg)
{
	atomic_sequence(sim, arg);
}

static void test_atomic_add_return_and_cmpxchg_semantics(void **state)
{
	static const uint64_t expect[12] = { 8, 0, UINT64_MAX, 1, 1, 7, 7, 7, UINT64_MAX, 0, 0, 0 };
	struct atomic_log outside, inside;
	struct mn_sim *sim;
	int i;

	(void)state;
	sim = new_world(false);
	atomic_sequence(sim, &outside);
	spawn(sim, "t0", atomic_thread, &inside);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
	for (i = 0; i < 12; i++) {
		assert_int_equal(outside.r[i], expect[i]);
		assert_int_equal(inside.r[i], expect[i]);
	}
	mn_sim_destroy(sim);
}

#define ADD_THREADS    3
#define ADD_PER_THREAD 2

struct adders {
	uint64_t word;
	uint64_t got[ADD_THREADS * ADD_PER_THREAD];
	unsigned int nr_got;
	unsigned int threads;
	bool cas; /* increment with a read + cmpxchg retry loop instead */
};

static void adder_body(struct mn_sim *sim, void *arg)
{
	struct adders *a = arg;
	uint64_t old;
	int i;

	for (i = 0; i < ADD_PER_THREAD; i++) {
		if (a->cas) {
			do {
				old = mn_atomic_read(sim, &a->word, "adder.read");
			} while (mn_atomic_cmpxchg(sim, &a->word, old, old + 1, "adder.cas") !=
				 old);
			a->got[a->nr_got++] = old + 1;
		} else {
			a->got[a->nr_got++] = mn_atomic_add_return(sim, &a->word, 1, "adder.add");
		}
	}
}

static int adders_setup(struct mn_sim *sim, void *arg)
{
	static const char *const names[] = { "add0", "add1", "add2" };
	struct adders *a = arg;
	unsigned int i;
	int ret = 0;

	a->word = 0;
	a->nr_got = 0;
	for (i = 0; i < a->threads && !ret; i++)
		ret = mn_sim_spawn(sim, names[i], adder_body, a, NULL);
	return ret;
}

static void adders_check(struct mn_sim *sim, void *arg)
{
	struct adders *a = arg;
	unsigned int n = a->threads * ADD_PER_THREAD, i;
	uint64_t seen = 0;

	/* Each increment returned its own new value: a permutation of 1..n. */
	for (i = 0; i < a->nr_got; i++)
		if (a->got[i] >= 1 && a->got[i] <= n)
			seen |= 1ULL << a->got[i];
	if (a->word != n || a->nr_got != n || seen != ((1ULL << (n + 1)) - 2))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "atomic.lost_update",
			       "word is %llu after %u increments", (unsigned long long)a->word, n);
}

static void test_concurrent_add_return_never_loses_an_update(void **state)
{
	struct adders a = { .threads = ADD_THREADS };
	struct mn_scenario sc = { "adders", adders_setup, adders_check, NULL, &a };
	struct mn_explore_result res;

	(void)state;
	explore_dfs(&sc, UINT_MAX, false, &res);
	assert_every_schedule_passes(&res);
	/* 6 steps, 2 per thread: 6! / (2! 2! 2!) interleavings. */
	assert_int_equal(res.schedules, 90);
	mn_explore_result_free(&res);

	a.cas = true;
	a.threads = 2;
	explore_dfs(&sc, UINT_MAX, false, &res);
	assert_every_schedule_passes(&res);
	mn_explore_result_free(&res);
}

/* ---- locks outside any run (the test's own context) ------------------------------- */

static void locks_outside_a_run_uncontended(enum mn_trace_mode mode)
{
	struct mn_spinlock s;
	struct mn_rwlock rw;
	struct mn_mutex m;
	struct mn_srcu srcu;
	struct mn_waitq wq;
	struct mn_sim *sim;
	bool yes = true;
	uint64_t events;
	int idx;

	sim = new_world_traced(false, mode);
	mn_mutex_init(&m, "M");
	mn_spin_init(&s, "S");
	mn_rwlock_init(&rw, "RW", MN_RW_SLEEP);
	mn_srcu_init(&srcu, "SRCU");
	mn_waitq_init(&wq, "wq");

	assert_false(mn_mutex_is_held(sim, &m));
	mn_mutex_lock(sim, &m);
	assert_true(mn_mutex_is_held(sim, &m));
	assert_false(mn_mutex_trylock(sim, &m));
	mn_mutex_unlock(sim, &m);
	assert_false(mn_mutex_is_held(sim, &m));
	assert_true(mn_mutex_trylock(sim, &m));
	mn_mutex_unlock(sim, &m);

	/* Traced, every operation is an event, as inside a run; untraced, none is. */
	events = mn_trace_count(mn_sim_get_trace(sim));
	mn_spin_lock(sim, &s);
	assert_true(mn_spin_is_held(sim, &s));
	mn_might_sleep(sim, "outside"); /* no thread: nothing to check */
	mn_spin_unlock(sim, &s);
	assert_false(mn_spin_is_held(sim, &s));
	assert_int_equal(mn_trace_count(mn_sim_get_trace(sim)) - events,
			 mode == MN_TRACE_OFF ? 0 : 2);

	mn_read_lock(sim, &rw);
	mn_read_lock(sim, &rw);
	assert_true(mn_rwlock_is_held(sim, &rw, false)); /* outside a run: anybody's share */
	assert_false(mn_rwlock_is_held(sim, &rw, true));
	mn_read_unlock(sim, &rw);
	assert_true(mn_rwlock_is_held(sim, &rw, false));
	mn_read_unlock(sim, &rw);
	assert_false(mn_rwlock_is_held(sim, &rw, false));
	mn_write_lock(sim, &rw);
	assert_true(mn_rwlock_is_held(sim, &rw, true));
	mn_write_unlock(sim, &rw);
	assert_false(mn_rwlock_is_held(sim, &rw, true));

	idx = mn_srcu_read_lock(sim, &srcu);
	assert_int_equal(srcu.readers[idx], 1); /* counted: synchronize_srcu() reads it */
	mn_srcu_read_unlock(sim, &srcu, idx);
	assert_int_equal(srcu.readers[idx], 0);
	mn_synchronize_srcu(sim, &srcu);
	mn_synchronize_srcu(sim, &srcu);
	idx = mn_srcu_read_lock(sim, &srcu);
	mn_srcu_read_unlock(sim, &srcu, idx);

	mn_wait_event(sim, &wq, flag_is_set, &yes);
	mn_wake_up(sim, &wq);

	if (mn_trace_nr_violations(mn_sim_get_trace(sim)))
		dump_reports(sim);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 0);
	assert_false(mn_sim_failed(sim));
	mn_sim_destroy(sim);
}

static void test_locks_outside_a_run_uncontended(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(outside_modes) / sizeof(outside_modes[0]); i++)
		locks_outside_a_run_uncontended(outside_modes[i]);
}

struct leaver {
	struct mn_mutex m;
	struct mn_spinlock s;
};

/* Returns with both locks held: nobody will ever release them. */
static void leave_locked(struct mn_sim *sim, void *arg)
{
	struct leaver *l = arg;

	mn_mutex_lock(sim, &l->m);
	mn_spin_lock(sim, &l->s);
}

static void lock_m(struct mn_sim *sim, void *arg)
{
	struct leaver *l = arg;

	mn_mutex_lock(sim, &l->m);
	mn_mutex_unlock(sim, &l->m);
}

static void locks_outside_a_run_contended(enum mn_trace_mode mode)
{
	const struct mn_violation *v;
	struct mn_srcu srcu;
	struct mn_rwlock rw;
	struct mn_waitq wq;
	struct leaver l;
	struct mn_sim *sim;
	size_t n = 0;
	int idx;

	mn_mutex_init(&l.m, "M");
	mn_spin_init(&l.s, "S");
	sim = new_world_traced(false, mode);
	spawn(sim, "t0", leave_locked, &l);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);

	/* Owned by a finished thread: waiting would hang, so it is reported instead. */
	mn_mutex_lock(sim, &l.m);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), ++n);
	assert_int_equal(v->kind, MN_VIOL_DEADLOCK);
	assert_detail_has(v, "blocking on mutex M outside a sim run");
	assert_false(mn_mutex_is_held(sim, &l.m));
	assert_false(mn_mutex_trylock(sim, &l.m));
	mn_spin_lock(sim, &l.s);
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), ++n);
	assert_false(mn_spin_is_held(sim, &l.s));

	/* A writer behind our own read hold, then the lock still works afterwards. */
	mn_rwlock_init(&rw, "RW", MN_RW_SPIN);
	mn_read_lock(sim, &rw);
	mn_write_lock(sim, &rw);
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), ++n);
	assert_false(mn_rwlock_is_held(sim, &rw, true));
	mn_read_lock(sim, &rw); /* no writer is left waiting to hold this reader back */
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), n);
	mn_read_unlock(sim, &rw);
	mn_read_unlock(sim, &rw);
	mn_write_lock(sim, &rw);
	assert_true(mn_rwlock_is_held(sim, &rw, true));
	mn_read_lock(sim, &rw); /* read inside our own write hold: recursion, not a wait */
	assert_int_equal(nr_reports(sim, "lock.recursive", &v), 1);
	assert_detail_has(v, "(outside any thread) read_lock RW, which it already holds");
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), n);
	mn_write_unlock(sim, &rw);

	/* A grace period inside our own read section, then a clean one. */
	mn_srcu_init(&srcu, "SRCU");
	idx = mn_srcu_read_lock(sim, &srcu);
	mn_synchronize_srcu(sim, &srcu);
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), ++n);
	mn_srcu_read_unlock(sim, &srcu, idx);
	mn_synchronize_srcu(sim, &srcu);
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), n);

	mn_waitq_init(&wq, "wq");
	mn_wait_event(sim, &wq, never, NULL);
	assert_int_equal(nr_reports(sim, "sim.deadlock", NULL), ++n);

	/* Nothing else was reported along the way. */
	if (mn_trace_nr_violations(mn_sim_get_trace(sim)) != n + 1)
		dump_reports(sim);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), n + 1);
	mn_sim_destroy(sim);

	/* The other way round: the test's context holds M, a sim thread wants it. */
	mn_mutex_init(&l.m, "M");
	sim = new_world_traced(false, mode);
	mn_mutex_lock(sim, &l.m);
	spawn(sim, "t0", lock_m, &l);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), 1);
	assert_detail_has(v, "t0 waits for mutex M held by (outside any thread)");
	mn_mutex_unlock(sim, &l.m);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
	mn_sim_destroy(sim);
}

static void test_locks_outside_a_run_contended_report_deadlock(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(outside_modes) / sizeof(outside_modes[0]); i++)
		locks_outside_a_run_contended(outside_modes[i]);
}

/* ---- the fast paths outside a run (tracing off) leave what runs need --------------- */

struct fast {
	struct mn_mutex a, b;
	struct mn_spinlock s;
	struct mn_rwlock rw;
	struct mn_srcu srcu;
	int idx;
	unsigned int held;	      /* t0's held-lock count with A, B and rw (shared) held */
	bool a_held, b_held, rw_held; /* what t0's lockdep_assert_held()-style checks said */
};

static void fast_sync(struct mn_sim *sim, void *arg)
{
	struct fast *f = arg;

	mn_synchronize_srcu(sim, &f->srcu);
}

static void lock_s_once(struct mn_sim *sim, void *arg)
{
	struct mn_spinlock *s = arg;

	mn_spin_lock(sim, s);
	mn_spin_unlock(sim, s);
}

static void fast_lock_rw(struct mn_sim *sim, void *arg)
{
	struct fast *f = arg;

	mn_write_lock(sim, &f->rw);
	mn_write_unlock(sim, &f->rw);
}

/*
 * A section entered outside any run counts as a reader: a grace period inside the next
 * run waits for it, and the world's unlock afterwards wakes the waiter. So does the
 * world's release of a lock a thread was left blocked on.
 */
static void test_fast_path_state_is_seen_by_runs(void **state)
{
	const struct mn_violation *v;
	struct mn_thread *t;
	struct mn_sim *sim;
	struct fast f;

	(void)state;
	sim = new_world_traced(false, MN_TRACE_OFF);
	mn_srcu_init(&f.srcu, "SRCU");
	f.idx = mn_srcu_read_lock(sim, &f.srcu);
	t = spawn(sim, "t0", fast_sync, &f);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), 1);
	assert_detail_has(v, "t0 waits for srcu readers of SRCU");
	assert_int_equal(mn_thread_get_state(t), MN_THREAD_BLOCKED);
	mn_srcu_read_unlock(sim, &f.srcu, f.idx);
	assert_int_equal(f.srcu.readers[0] + f.srcu.readers[1], 0);
	assert_int_equal(mn_thread_get_state(t), MN_THREAD_RUNNABLE); /* woken */
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
	mn_sim_destroy(sim);

	/* The same with an rwlock the world holds shared while a writer waits. */
	sim = new_world_traced(false, MN_TRACE_OFF);
	mn_rwlock_init(&f.rw, "RW", MN_RW_SLEEP);
	mn_read_lock(sim, &f.rw);
	t = spawn(sim, "t0", fast_lock_rw, &f);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), 1);
	assert_detail_has(v, "t0 waits for write lock of RW");
	mn_read_unlock(sim, &f.rw);
	assert_false(mn_rwlock_is_held(sim, &f.rw, false));
	assert_int_equal(mn_thread_get_state(t), MN_THREAD_RUNNABLE);
	mn_sim_destroy(sim);

	/* And with a spinlock: the world's unlock wakes the thread left spinning on it. */
	sim = new_world_traced(false, MN_TRACE_OFF);
	mn_spin_init(&f.s, "S");
	mn_spin_lock(sim, &f.s);
	t = spawn(sim, "t0", lock_s_once, &f.s);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "sim.deadlock", &v), 1);
	assert_detail_has(v, "t0 waits for spinlock S held by (outside any thread)");
	mn_spin_unlock(sim, &f.s);
	assert_false(mn_spin_is_held(sim, &f.s));
	assert_int_equal(mn_thread_get_state(t), MN_THREAD_RUNNABLE);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
	mn_sim_destroy(sim);
}

static void fast_unlock_inside(struct mn_sim *sim, void *arg)
{
	struct fast *f = arg;

	mn_spin_unlock(sim, &f->s);		    /* the world's lock, not t0's */
	mn_srcu_read_unlock(sim, &f->srcu, f->idx); /* the world's section, not t0's */
}

/* A hold taken outside a run belongs to the world: a thread cannot release it. */
static void test_fast_path_hold_is_not_a_threads(void **state)
{
	const struct mn_violation *v;
	struct mn_sim *sim;
	struct fast f;

	(void)state;
	sim = new_world_traced(true, MN_TRACE_OFF);
	mn_spin_init(&f.s, "S");
	mn_srcu_init(&f.srcu, "SRCU");
	mn_spin_lock(sim, &f.s);
	f.idx = mn_srcu_read_lock(sim, &f.srcu);
	spawn(sim, "t0", fast_unlock_inside, &f);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_reports(sim, "lock.not_held", &v), 2);
	assert_detail_has(v, "t0 spin_unlock S, held by (outside any thread)");
	/* Both unlocks were ignored: the world still holds both, and can release them. */
	assert_true(mn_spin_is_held(sim, &f.s));
	assert_int_equal(f.srcu.readers[f.idx], 1);
	mn_spin_unlock(sim, &f.s);
	mn_srcu_read_unlock(sim, &f.srcu, f.idx);
	assert_false(mn_spin_is_held(sim, &f.s));
	assert_int_equal(f.srcu.readers[f.idx], 0);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 2);
	mn_sim_destroy(sim);
}

static void fast_ab(struct mn_sim *sim, void *arg)
{
	struct fast *f = arg;

	mn_mutex_lock(sim, &f->a);
	mn_mutex_lock(sim, &f->b);
	mn_read_lock(sim, &f->rw);
	f->held = mn_thread_nr_held(mn_sim_current(sim));
	f->a_held = mn_mutex_is_held(sim, &f->a);
	f->b_held = mn_mutex_is_held(sim, &f->b);
	f->rw_held = mn_rwlock_is_held(sim, &f->rw, false);
	mn_read_unlock(sim, &f->rw);
	mn_mutex_unlock(sim, &f->b);
	mn_mutex_unlock(sim, &f->a);
}

static void fast_ba(struct mn_sim *sim, void *arg)
{
	struct fast *f = arg;

	mn_mutex_lock(sim, &f->b);
	mn_mutex_lock(sim, &f->a);
	mn_mutex_unlock(sim, &f->a);
	mn_mutex_unlock(sim, &f->b);
}

/*
 * With tracing off, the world's own B-then-A outside the run neither feeds lockdep nor
 * confuses it (it never did: lockdep orders sim threads' locks), while inside the run
 * held locks are tracked and A-B then B-A is reported, as with tracing on.
 */
static void test_fast_path_keeps_lockdep_and_held_locks_in_runs(void **state)
{
	const struct mn_violation *v;
	struct mn_sim *sim;
	struct fast f;

	(void)state;
	sim = new_world_traced(true, MN_TRACE_OFF);
	mn_mutex_init(&f.a, "A");
	mn_mutex_init(&f.b, "B");
	mn_rwlock_init(&f.rw, "RW", MN_RW_SPIN);
	mn_mutex_lock(sim, &f.b);
	mn_mutex_lock(sim, &f.a);
	assert_true(mn_mutex_is_held(sim, &f.a));
	mn_mutex_unlock(sim, &f.a);
	mn_mutex_unlock(sim, &f.b);
	f.held = 0;
	f.a_held = f.b_held = f.rw_held = false;
	spawn(sim, "t0", fast_ab, &f);
	spawn(sim, "t1", fast_ba, &f);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(f.held, 3);
	assert_true(f.a_held && f.b_held && f.rw_held);
	assert_int_equal(nr_reports(sim, "lock.order_inversion", &v), 1);
	assert_detail_has(v, "t1 takes A while holding B");
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
	/* After the run the world's fast paths work again, and report nothing. */
	mn_mutex_lock(sim, &f.b);
	mn_mutex_lock(sim, &f.a);
	mn_mutex_unlock(sim, &f.a);
	mn_mutex_unlock(sim, &f.b);
	assert_false(mn_mutex_is_held(sim, &f.a) || mn_mutex_is_held(sim, &f.b));
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
	mn_sim_destroy(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutex_counter_never_loses_an_update),
		cmocka_unit_test(test_unlocked_counter_loses_an_update),
		cmocka_unit_test(test_abba_deadlock_found_and_inversion_reported),
		cmocka_unit_test(test_recursive_lock_is_reported),
		cmocka_unit_test(test_unlock_of_unheld_lock_is_reported_and_ignored),
		cmocka_unit_test(test_unlock_of_unheld_rwlock_and_spinlock_is_reported),
		cmocka_unit_test(test_sleep_in_atomic_context_is_reported),
		cmocka_unit_test(test_sleep_in_non_block_section_is_reported),
		cmocka_unit_test(test_rwlock_readers_share_the_lock),
		cmocka_unit_test(test_rwlock_writer_excludes_readers_and_writers),
		cmocka_unit_test(test_rwlock_writer_is_not_starved),
		cmocka_unit_test(test_rwlock_read_trylock),
		cmocka_unit_test(test_rwlock_recursive_read_behind_waiting_writer_deadlocks),
		cmocka_unit_test(test_rwlock_spin_read_inversion_is_reported),
		cmocka_unit_test(test_srcu_synchronize_waits_for_old_readers_only),
		cmocka_unit_test(test_srcu_nested_read_sections),
		cmocka_unit_test(test_srcu_unlock_with_wrong_index_is_reported),
		cmocka_unit_test(test_synchronize_srcu_inside_own_section_is_recursive),
		cmocka_unit_test(test_wait_event_never_loses_a_wakeup),
		cmocka_unit_test(test_wait_without_waker_deadlocks),
		cmocka_unit_test(test_atomic_add_return_and_cmpxchg_semantics),
		cmocka_unit_test(test_concurrent_add_return_never_loses_an_update),
		cmocka_unit_test(test_locks_outside_a_run_uncontended),
		cmocka_unit_test(test_locks_outside_a_run_contended_report_deadlock),
		cmocka_unit_test(test_fast_path_state_is_seen_by_runs),
		cmocka_unit_test(test_fast_path_hold_is_not_a_threads),
		cmocka_unit_test(test_fast_path_keeps_lockdep_and_held_locks_in_runs),
	};

	return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
