// SPDX-License-Identifier: MIT
/*
 * test-lock.c - sim locks driven through whole worlds (lib/sim/lock.c, srcu.c, lockdep.c):
 * mutual exclusion and rwlock writer preference over every schedule, the AB-BA deadlock and
 * lockdep's inversion report, misuse reports, SRCU grace periods, wait queues, atomics, and
 * the same locks used from the test's own context outside any run.
 */
#include "mn-test.h"

#include <limits.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------- */

static struct mn_sim *new_world(bool keep_going)
{
	struct mn_sim_config cfg = {
		.alloc_ops = &mn_test_cmocka_ops,
		.trace_mode = MN_TRACE_FULL,
		.keep_going = keep_going,
	};
	struct mn_sim *sim;

	assert_int_equal(mn_sim_create(&cfg, &sim), 0);
	return sim;
}

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
	if (!strstr(v->detail, needle))
		print_message("detail \"%s\" lacks \"%s\"\n", v->detail, needle);
	assert_non_null(strstr(v->detail, needle));
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

/* ---- the counter: read-modify-write, with or without a mutex ------------------------ */

struct counter {
	struct mn_mutex lock;
	uint64_t value;
	unsigned int threads;
	bool locked;
};

static void counter_inc(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;
	uint64_t v;

	if (c->locked)
		mn_mutex_lock(sim, &c->lock);
	v = mn_atomic_read(sim, &c->value, "counter.read");
	mn_atomic_set(sim, &c->value, v + 1, "counter.write");
	if (c->locked)
		mn_mutex_unlock(sim, &c->lock);
}

static int counter_setup(struct mn_sim *sim, void *arg)
{
	static const char *const names[] = { "inc0", "inc1", "inc2" };
	struct counter *c = arg;
	unsigned int i;
	int ret;

	c->value = 0;
	mn_mutex_init(&c->lock, "counter_lock");
	for (i = 0; i < c->threads; i++) {
		ret = mn_sim_spawn(sim, names[i], counter_inc, c, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

static void counter_check(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;

	if (c->value != c->threads)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "counter.lost_update",
			       "counter is %llu after %u increments",
			       (unsigned long long)c->value, c->threads);
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
		assert_true(res.max_preemptions >= 2);
		print_message("mutex counter, %u threads: %llu schedules\n", c.threads,
			      (unsigned long long)res.schedules);
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
			assert_ptr_equal(v, mn_trace_violation(mn_sim_get_trace(sim),
							       mn_trace_nr_violations(
								       mn_sim_get_trace(sim)) - 1));
			if (!deadlock)
				deadlock = strdup(f->schedule);
			nr_deadlocks++;
		} else {
			/* No deadlock: both threads ran to the end, lockdep still spoke. */
			assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_DONE);
			assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 1)), MN_THREAD_DONE);
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
	struct mn_waitq wq;
	bool owner_locked, bad_unlock_done;
	bool still_held, trylock_got;
};

/* Takes M, lets the other thread try to unlock it, then checks it still holds M. */
static void owner_body(struct mn_sim *sim, void *arg)
{
	struct not_held *n = arg;

	mn_mutex_lock(sim, &n->m);
	n->owner_locked = true;
	mn_wake_up(sim, &n->wq);
	mn_wait_event(sim, &n->wq, flag_is_set, &n->bad_unlock_done);
	n->still_held = mn_mutex_is_held(sim, &n->m);
	mn_mutex_unlock(sim, &n->m);
}

static void intruder_body(struct mn_sim *sim, void *arg)
{
	struct not_held *n = arg;

	mn_wait_event(sim, &n->wq, flag_is_set, &n->owner_locked);
	mn_mutex_unlock(sim, &n->m);	/* owned by the other thread */
	mn_mutex_unlock(sim, &n->idle); /* owned by nobody */
	n->trylock_got = mn_mutex_trylock(sim, &n->m);
	n->bad_unlock_done = true;
	mn_wake_up(sim, &n->wq);
}

static void test_unlock_of_unheld_mutex_is_reported_and_ignored(void **state)
{
	const struct mn_violation *v;
	struct not_held n = { 0 };
	struct mn_trace *t;
	struct mn_sim *sim;

	(void)state;
	mn_mutex_init(&n.m, "M");
	mn_mutex_init(&n.idle, "IDLE");
	mn_waitq_init(&n.wq, "wq");
	sim = new_world(true);
	spawn(sim, "owner", owner_body, &n);
	spawn(sim, "intruder", intruder_body, &n);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	t = mn_sim_get_trace(sim);
	assert_int_equal(nr_reports(sim, "lock.not_held", NULL), 2);
	assert_int_equal(mn_trace_nr_violations(t), 2);
	v = mn_trace_violation(t, 0);
	assert_int_equal(v->kind, MN_VIOL_LOCK);
	assert_detail_has(v, "intruder mutex_unlock M, held by owner");
	assert_detail_has(mn_trace_violation(t, 1), "intruder mutex_unlock IDLE, held by nobody");
	/* The bad unlock was ignored: the owner still owned M, so trylock failed. */
	assert_true(n.still_held);
	assert_false(n.trylock_got);
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_DONE);
	assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 1)), MN_THREAD_DONE);
	/* The owner's own unlock freed it. */
	assert_true(mn_mutex_trylock(sim, &n.m));
	mn_mutex_unlock(sim, &n.m);
	assert_int_equal(mn_trace_nr_violations(t), 2);
	mn_sim_destroy(sim);
}

struct rw_misuse {
	struct mn_rwlock rw;
	struct mn_spinlock s;
};

static void rw_misuse_body(struct mn_sim *sim, void *arg)
{
	struct rw_misuse *r = arg;

	mn_read_unlock(sim, &r->rw);  /* 1: never taken */
	mn_spin_unlock(sim, &r->s);   /* 2: never taken */
	mn_read_lock(sim, &r->rw);
	mn_write_unlock(sim, &r->rw); /* 3: held shared, not exclusively */
	mn_read_unlock(sim, &r->rw);
	mn_write_lock(sim, &r->rw);
	mn_read_unlock(sim, &r->rw);  /* 4: held exclusively, not shared */
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
		{ HOLD_SPIN, CALL_MUTEX_LOCK, "t0 may sleep in mutex_lock while holding spinning lock S" },
		{ HOLD_SPIN, CALL_MIGHT_SLEEP, "t0 may sleep in copy_from_user while holding spinning lock S" },
		{ HOLD_SPIN, CALL_SYNCHRONIZE_SRCU, "synchronize_srcu while holding spinning lock S" },
		{ HOLD_SPIN, CALL_WAIT_EVENT, "wait_event while holding spinning lock S" },
		{ HOLD_SPIN, CALL_DOWN_READ, "down_read while holding spinning lock S" },
		{ HOLD_RW_SPIN_READ, CALL_SYNCHRONIZE_SRCU, "synchronize_srcu while holding spinning lock RWS" },
		{ HOLD_RW_SPIN_WRITE, CALL_SYNCHRONIZE_SRCU, "synchronize_srcu while holding spinning lock RWS" },
		{ HOLD_RW_SPIN_WRITE, CALL_MUTEX_LOCK, "mutex_lock while holding spinning lock RWS" },
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
		assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), cases[i].report ? 1 : 0);
		assert_int_equal(mn_thread_get_state(mn_sim_thread(sim, 0)), MN_THREAD_DONE);
		assert_int_equal(mn_thread_nr_held(mn_sim_thread(sim, 0)), 0);
		mn_sim_destroy(sim);
	}
}

/* ---- rwlock: shared readers, exclusive writers, writer preference ------------------- */

struct rw_excl {
	struct mn_rwlock rw;
	enum mn_rw_kind kind;
	unsigned int nr_readers, nr_writers;
	uint64_t value;
	int readers_in, writers_in;
	bool two_readers;	    /* this run saw two readers inside at once */
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
			       "a writer got in beside %d writer(s) and %d reader(s)", x->writers_in,
			       x->readers_in);
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

struct rw_starve {
	struct mn_rwlock rw;
	enum mn_rw_kind kind;
	struct mn_thread *writer;
	bool writer_waited; /* a reader saw the writer blocked in write_lock */
	bool writer_had;    /* the writer got the lock */
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
		explore_dfs(&sc, 2, false, &res);
		assert_every_schedule_passes(&res);
		/* The interesting case happened: the writer waited while readers held RW. */
		assert_true(s.runs_waited > 0);
		print_message("rw starvation, kind %d: %llu schedules, writer waited in %u\n", kind,
			      (unsigned long long)res.schedules, s.runs_waited);
		mn_explore_result_free(&res);
	}
}
