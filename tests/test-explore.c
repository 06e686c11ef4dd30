// SPDX-License-Identifier: MIT
/*
 * test-explore.c - the explorer on classic concurrency programs: the lost update found by
 * bounded DFS and by PCT, schedule counts with and without sleep sets against the
 * multinomial formula, replay of failures, budgets, progress, distinct terminal states,
 * nondeterministic scenarios, and single-step mutants (lib/sim/explore.c).
 */
#include "mn-test.h"
#include "mn-test-counter.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static void test_lost_update_found_by_dfs_bound_1(void **state)
{
	struct counter c = { .threads = 2 };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 1 };
	struct mn_explore_result res;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.failing_runs, 1);
	assert_int_equal(res.nr_failures, 1);
	assert_string_equal(res.failures[0].violation.invariant, "counter.lost_update");
	assert_string_equal(res.failures[0].violation.detail, "counter is 1, not 2");
	assert_string_equal(res.failures[0].violation.schedule, res.failures[0].schedule);
	/* The first failing schedule in DFS order: inc0 reads, inc1 preempts and finishes. */
	assert_string_equal(res.failures[0].schedule, "s1:0,1x2");
	assert_true(res.max_preemptions <= 1);
	mn_explore_result_free(&res);

	/* Without a bound, DFS sees all C(4,2) = 6 interleavings; 4 lose the update. */
	cfg.preemption_bound = UINT_MAX;
	cfg.collect_all = true;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.exhausted);
	assert_int_equal(res.schedules, 6);
	assert_int_equal(res.failing_runs, 4);
	assert_int_equal(res.nr_failures, 4);
	assert_int_equal(res.distinct_states, 1); /* only OK runs are hashed: value 2 */
	mn_explore_result_free(&res);

	/* With no preemption at all, the bug hides. */
	cfg.preemption_bound = 0;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.exhausted);
	assert_int_equal(res.failing_runs, 0);
	assert_int_equal(res.schedules, 2);
	mn_explore_result_free(&res);
}

static void test_lost_update_found_by_pct(void **state)
{
	struct counter c = { .threads = 2 };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_PCT,
		.pct_depth = 2,
		.max_schedules = 100,
		.seed = 1,
	};
	struct mn_explore_result res;

	(void)state;
	/*
	 * PCT finds a depth-d bug with probability >= 1 / (n k^(d-1)) per run: here n = 2
	 * threads and k <= 4 decisions, so >= 1/8, and 100 runs miss with probability
	 * below (7/8)^100 < 2e-6. The seeds are fixed, so the outcome is too.
	 */
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.nr_failures, 1);
	print_message("PCT found the lost update after %llu runs\n",
		      (unsigned long long)res.schedules);
	assert_true(res.schedules <= 100);
	assert_string_equal(res.failures[0].violation.invariant, "counter.lost_update");
	mn_explore_result_free(&res);

	/* Random search with the same budget also finds it, and is deterministic. */
	cfg.strategy = MN_EXPLORE_RANDOM;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.nr_failures, 1);
	{
		struct mn_explore_result again;
		assert_int_equal(mn_explore(&sc, &cfg, &again), 0);
		assert_int_equal(again.schedules, res.schedules);
		assert_string_equal(again.failures[0].schedule, res.failures[0].schedule);
		mn_explore_result_free(&again);
	}
	mn_explore_result_free(&res);
}

static void test_mutex_counter_never_fails(void **state)
{
	struct counter c = { .threads = 3, .locked = true };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.sleep_sets = false,
	};
	struct mn_explore_result res;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.exhausted);
	assert_int_equal(res.failing_runs, 0);
	assert_int_equal(res.distinct_states, 1);
	print_message("mutex counter, 3 threads: %llu schedules, depth %u\n",
		      (unsigned long long)res.schedules, res.max_depth);
	assert_true(res.schedules > 100);
	mn_explore_result_free(&res);
}

static void test_replay_reproduces_violation_and_trace(void **state)
{
	struct counter c = { .threads = 2 };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 2 };
	struct mn_explore_result res;
	struct mn_sim *a, *b;
	char la[256], lb[256];
	uint64_t i, n;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.nr_failures, 1);
	assert_int_equal(mn_explore_replay(&sc, NULL, NULL, 0, res.failures[0].schedule, &a),
			 MN_RUN_VIOLATION);
	assert_int_equal(mn_explore_replay(&sc, NULL, NULL, 0, res.failures[0].schedule, &b),
			 MN_RUN_VIOLATION);
	assert_string_equal(mn_sim_get_schedule(a), res.failures[0].schedule);
	assert_string_equal(mn_trace_violation(mn_sim_get_trace(a), 0)->invariant,
			    res.failures[0].violation.invariant);
	n = mn_trace_count(mn_sim_get_trace(a));
	assert_int_equal(n, mn_trace_count(mn_sim_get_trace(b)));
	assert_true(n >= 5);
	for (i = 1; i <= n; i++) {
		mn_trace_format_event(mn_sim_get_trace(a), mn_trace_get(mn_sim_get_trace(a), i), la,
				      sizeof(la));
		mn_trace_format_event(mn_sim_get_trace(b), mn_trace_get(mn_sim_get_trace(b), i), lb,
				      sizeof(lb));
		assert_string_equal(la, lb);
	}
	/* Both increments read 0: the trace shows the lost update. */
	assert_non_null(strstr(la, "violation"));
	mn_sim_destroy(a);
	mn_sim_destroy(b);
	assert_int_equal(mn_explore_replay(&sc, NULL, NULL, 0, "garbage", &a), -EINVAL);
	mn_explore_result_free(&res);
}

/* ---- independent threads: schedule counts ------------------------------------------ */

struct indep {
	unsigned int threads;
	unsigned int steps;
	uint64_t words[8];
};

static void touch_own_word(struct mn_sim *sim, void *arg)
{
	struct indep *in = arg;
	uint64_t *w = &in->words[mn_thread_get_index(mn_sim_current(sim))];
	unsigned int i;

	for (i = 0; i < in->steps; i++)
		mn_atomic_add_return(sim, w, 1, "own.add");
}

static int indep_setup(struct mn_sim *sim, void *arg)
{
	struct indep *in = arg;
	char name[16];
	unsigned int i;

	memset(in->words, 0, sizeof(in->words));
	for (i = 0; i < in->threads; i++) {
		snprintf(name, sizeof(name), "w%u", i);
		assert_int_equal(mn_sim_spawn(sim, name, touch_own_word, in, NULL), 0);
	}
	return 0;
}

static uint64_t factorial(unsigned int n)
{
	return n <= 1 ? 1 : n * factorial(n - 1);
}

static void test_independent_threads_schedule_counts(void **state)
{
	static const unsigned int shapes[][2] = { { 2, 1 }, { 2, 2 }, { 3, 1 }, { 3, 2 }, { 2, 4 } };
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = UINT_MAX };
	struct mn_explore_result res;
	struct indep in;
	struct mn_scenario sc = { .name = "independent", .setup = indep_setup, .arg = &in };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		uint64_t expect;

		in.threads = shapes[i][0];
		in.steps = shapes[i][1];
		/* N threads of k steps interleave in (N k)! / (k!)^N ways. */
		expect = factorial(in.threads * in.steps);
		for (unsigned int t = 0; t < in.threads; t++)
			expect /= factorial(in.steps);
		cfg.sleep_sets = false;
		assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
		assert_true(res.exhausted);
		assert_int_equal(res.schedules, expect);
		assert_int_equal(res.failing_runs, 0);
		mn_explore_result_free(&res);

		/* With sleep sets one representative is enough: the steps all commute. */
		cfg.sleep_sets = true;
		assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
		assert_true(res.exhausted);
		assert_int_equal(res.schedules, 1);
		print_message("%u threads x %u steps: %llu schedules, 1 with sleep sets "
			      "(%llu pruned runs)\n",
			      in.threads, in.steps, (unsigned long long)expect,
			      (unsigned long long)res.pruned);
		mn_explore_result_free(&res);
	}
}

static void test_sleep_sets_keep_every_outcome(void **state)
{
	struct counter c = { .threads = 3 };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.collect_all = true,
		.max_failures = 1000,
	};
	struct mn_explore_result full, slept;
	uint64_t outcomes_full = 0, outcomes_slept = 0;
	size_t i;

	(void)state;
	/* Pruning must not lose a distinct final value: count failures by counter value. */
	assert_int_equal(mn_explore(&sc, &cfg, &full), 0);
	cfg.sleep_sets = true;
	assert_int_equal(mn_explore(&sc, &cfg, &slept), 0);
	for (i = 0; i < full.nr_failures; i++)
		outcomes_full |= 1ULL << (full.failures[i].violation.detail[11] - '0');
	for (i = 0; i < slept.nr_failures; i++)
		outcomes_slept |= 1ULL << (slept.failures[i].violation.detail[11] - '0');
	assert_int_equal(outcomes_full, outcomes_slept);
	assert_int_equal(outcomes_full, (1ULL << 1) | (1ULL << 2));
	assert_true(slept.schedules < full.schedules);
	assert_true(slept.failing_runs > 0);
	print_message("3-thread lost update: %llu schedules, %llu with sleep sets\n",
		      (unsigned long long)full.schedules, (unsigned long long)slept.schedules);
	mn_explore_result_free(&full);
	mn_explore_result_free(&slept);
}

/* ---- budgets, progress, errors ----------------------------------------------------- */

struct progress_log {
	int calls;
	uint64_t last;
	uint64_t estimated;
};

static void on_progress(void *arg, const struct mn_explore_progress *p)
{
	struct progress_log *pl = arg;

	pl->estimated = p->estimated;
	assert_true(p->schedules >= pl->last);
	assert_true(p->seconds >= 0);
	pl->last = p->schedules;
	pl->calls++;
}

static void test_budget_and_progress(void **state)
{
	struct counter c = { .threads = 3, .locked = true };
	struct mn_scenario sc = counter_scenario(&c);
	struct progress_log pl = { 0 };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.max_schedules = 25,
		.progress = on_progress,
		.progress_arg = &pl,
		.progress_interval = 1e-9,
	};
	struct mn_explore_result res;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.schedules + res.pruned, 25);
	assert_false(res.exhausted);
	assert_int_equal(pl.calls, 25);
	assert_int_equal(pl.last, res.schedules);
	mn_explore_result_free(&res);

	/* Unbudgeted DFS: the estimate ends within an order of magnitude of the truth. */
	cfg.max_schedules = 0;
	pl = (struct progress_log){ 0 };
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.exhausted);
	print_message("DFS estimate %llu for %llu schedules\n", (unsigned long long)pl.estimated,
		      (unsigned long long)res.schedules);
	assert_true(pl.estimated * 10 >= res.schedules && pl.estimated <= res.schedules * 10);
	mn_explore_result_free(&res);

	cfg.max_schedules = 0;
	cfg.max_seconds = 0.05;
	cfg.progress = NULL;
	c.threads = 4;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_true(res.seconds < 1.0);
	assert_false(res.exhausted);
	mn_explore_result_free(&res);
}

static int failing_setup(struct mn_sim *sim, void *arg)
{
	(void)sim, (void)arg;
	return -ENOSPC;
}

static struct indep one_step = { .threads = 0, .steps = 1 };

static int nondeterministic_setup(struct mn_sim *sim, void *arg)
{
	unsigned int *runs = arg;
	unsigned int i, n = 2 + (*runs)++ % 2;
	char name[16];

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		assert_int_equal(mn_sim_spawn(sim, name, touch_own_word, &one_step, NULL), 0);
	}
	return 0;
}

static void test_bad_configurations(void **state)
{
	struct counter c = { .threads = 2 };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_RANDOM };
	struct mn_explore_result res;
	unsigned int runs = 0;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), -EINVAL); /* random needs a budget */
	cfg.strategy = MN_EXPLORE_PCT;
	cfg.max_schedules = 10;
	assert_int_equal(mn_explore(&sc, &cfg, &res), -EINVAL); /* depth 0 */
	cfg.strategy = (enum mn_explore_strategy)7;
	assert_int_equal(mn_explore(&sc, &cfg, &res), -EINVAL);
	assert_int_equal(mn_explore(NULL, &cfg, &res), -EINVAL);
	cfg.strategy = MN_EXPLORE_DFS;
	sc.setup = failing_setup;
	assert_int_equal(mn_explore(&sc, &cfg, &res), -ENOSPC);
	assert_int_equal(res.schedules, 0);
	/* A scenario whose runs differ from one another cannot be explored by re-execution. */
	sc.setup = nondeterministic_setup;
	sc.check = NULL;
	sc.state_hash = NULL;
	sc.arg = &runs;
	cfg.preemption_bound = UINT_MAX;
	assert_int_equal(mn_explore(&sc, &cfg, &res), -EPROTO);
}

/* ---- mutants ------------------------------------------------------------------------ */

static void test_mutants_of_the_counter(void **state)
{
	struct counter c = { .threads = 2, .named_steps = true };
	struct mn_scenario sc = counter_scenario(&c);
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 2 };
	struct mn_mutant *m;
	size_t n, i;
	bool seen_lock = false, seen_unlock = false, seen_stats = false;

	(void)state;
	assert_int_equal(mn_explore_mutants(&sc, &cfg, &m, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		print_message("mutant %-16s %s%s%s\n", m[i].step, m[i].caught ? "caught by " : "",
			      m[i].caught ? m[i].invariant : "survived",
			      m[i].caught ? "" : " (no effect)");
		if (!strcmp(m[i].step, "counter.lock")) {
			/* Unlocking a mutex never taken is itself a violation. */
			seen_lock = true;
			assert_true(m[i].caught);
			assert_non_null(m[i].schedule);
		} else if (!strcmp(m[i].step, "counter.unlock")) {
			seen_unlock = true;
			assert_true(m[i].caught);
			assert_string_equal(m[i].invariant, "sim.deadlock");
		} else if (!strcmp(m[i].step, "counter.stats")) {
			seen_stats = true;
			assert_false(m[i].caught);
			assert_null(m[i].schedule);
			assert_true(m[i].schedules > 1);
		}
	}
	assert_true(seen_lock && seen_unlock && seen_stats);
	mn_mutants_free(m, n);

	/* The lock mutant replays: its schedule reproduces a violation with the mutation. */
	{
		static const char *const skip[] = { "counter.lock" };
		struct mn_explore_config one = cfg;
		struct mn_explore_result res;

		one.skip_steps = skip;
		one.nr_skip_steps = 1;
		assert_int_equal(mn_explore(&sc, &one, &res), 0);
		assert_true(res.failing_runs > 0);
		mn_explore_result_free(&res);
	}

	/* A scenario that already fails has no meaningful mutants. */
	c.named_steps = false;
	assert_int_equal(mn_explore_mutants(&sc, &cfg, &m, &n), -ECANCELED);
	assert_null(m);
	assert_int_equal(n, 0);
}

/* ---- regressions found in review ------------------------------------------------------- */

static uint64_t bx, by, br, seen_r;

static void set_x_read_y(struct mn_sim *sim, void *arg)
{
	(void)arg;
	mn_atomic_set(sim, &bx, 1, "t0.set_x");
	br = mn_atomic_read(sim, &by, "t0.read_y");
}

static void set_y_twice(struct mn_sim *sim, void *arg)
{
	(void)arg;
	mn_atomic_set(sim, &by, 1, "t1.y1");
	mn_atomic_set(sim, &by, 2, "t1.y2");
}

static int bound_setup(struct mn_sim *sim, void *arg)
{
	(void)arg;
	bx = by = br = 0;
	assert_int_equal(mn_sim_spawn(sim, "t0", set_x_read_y, NULL, NULL), 0);
	return mn_sim_spawn(sim, "t1", set_y_twice, NULL, NULL);
}

static uint64_t bound_hash(struct mn_sim *sim, void *arg)
{
	(void)sim, (void)arg;
	seen_r |= 1ULL << br;
	return br + 1;
}

static void test_bounded_search_keeps_outcomes_with_sleep_sets_asked(void **state)
{
	struct mn_scenario sc = { .name = "bound", .setup = bound_setup, .state_hash = bound_hash };
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 1 };
	struct mn_explore_result res;
	int sleep;

	(void)state;
	/* r = 1 needs t1 to preempt between its two writes: one preemption. */
	for (sleep = 0; sleep < 2; sleep++) {
		seen_r = 0;
		cfg.sleep_sets = sleep;
		assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
		assert_int_equal(seen_r, 0x7);
		assert_int_equal(res.distinct_states, 3);
		mn_explore_result_free(&res);
	}
}

static void report_in_t0(struct mn_sim *sim, void *arg)
{
	(void)arg;
	mn_yield(sim, "r.a");
	if (mn_thread_get_index(mn_sim_current(sim)) == 0)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.flag", "thread 0 reports");
	mn_atomic_add_return(sim, &((uint64_t *)arg)[mn_thread_get_index(mn_sim_current(sim))], 1,
			     "own");
}

static uint64_t two_words[2];

static int report_setup(struct mn_sim *sim, void *arg)
{
	(void)arg;
	assert_int_equal(mn_sim_spawn(sim, "a", report_in_t0, two_words, NULL), 0);
	return mn_sim_spawn(sim, "b", report_in_t0, two_words, NULL);
}

static void test_keep_going_pruned_runs_are_not_failures(void **state)
{
	struct mn_scenario sc = { .name = "kg", .setup = report_setup };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.sleep_sets = true,
		.collect_all = true,
		.sim = { .keep_going = true },
	};
	struct mn_explore_result res;

	(void)state;
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.failing_runs, res.schedules); /* every complete run reports */
	assert_true(res.pruned > 0);
	assert_int_equal(res.nr_failures, res.schedules);
	mn_explore_result_free(&res);
}

static uint64_t spin_flag;

static void spinner(struct mn_sim *sim, void *arg)
{
	(void)arg;
	while (!mn_atomic_read(sim, &spin_flag, "spin.read"))
		;
}

static void setter(struct mn_sim *sim, void *arg)
{
	(void)arg;
	mn_atomic_set(sim, &spin_flag, 1, "spin.set");
}

static int spin_setup(struct mn_sim *sim, void *arg)
{
	(void)arg;
	spin_flag = 0;
	assert_int_equal(mn_sim_spawn(sim, "spinner", spinner, NULL, NULL), 0);
	return mn_sim_spawn(sim, "setter", setter, NULL, NULL);
}

static void test_spin_wait_ends_as_livelock(void **state)
{
	struct mn_scenario sc = { .name = "spin", .setup = spin_setup };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = 2,
		.sim = { .max_yields = 1000 },
	};
	struct mn_explore_result res;

	(void)state;
	/* The non-preemptive first schedule spins forever: the yield budget ends it. */
	assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
	assert_int_equal(res.nr_failures, 1);
	assert_string_equal(res.failures[0].violation.invariant, "sim.livelock");
	mn_explore_result_free(&res);
}

static unsigned int length_runs;

static void varying(struct mn_sim *sim, void *arg)
{
	unsigned int i, n = *(unsigned int *)arg;

	for (i = 0; i < n; i++)
		mn_atomic_read(sim, &spin_flag, "vary");
}

static int varying_setup(struct mn_sim *sim, void *arg)
{
	static unsigned int steps[2];

	(void)arg;
	steps[0] = length_runs++ % 2 ? 1 : 3;
	steps[1] = 2;
	assert_int_equal(mn_sim_spawn(sim, "v0", varying, &steps[0], NULL), 0);
	return mn_sim_spawn(sim, "v1", varying, &steps[1], NULL);
}

static void test_runs_of_varying_length_are_nondeterminism(void **state)
{
	struct mn_scenario sc = { .name = "vary", .setup = varying_setup };
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = UINT_MAX };
	struct mn_explore_result res;

	(void)state;
	length_runs = 0;
	assert_int_equal(mn_explore(&sc, &cfg, &res), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_update_found_by_dfs_bound_1),
		cmocka_unit_test(test_lost_update_found_by_pct),
		cmocka_unit_test(test_mutex_counter_never_fails),
		cmocka_unit_test(test_replay_reproduces_violation_and_trace),
		cmocka_unit_test(test_independent_threads_schedule_counts),
		cmocka_unit_test(test_sleep_sets_keep_every_outcome),
		cmocka_unit_test(test_budget_and_progress),
		cmocka_unit_test(test_bad_configurations),
		cmocka_unit_test(test_mutants_of_the_counter),
		cmocka_unit_test(test_bounded_search_keeps_outcomes_with_sleep_sets_asked),
		cmocka_unit_test(test_keep_going_pruned_runs_are_not_failures),
		cmocka_unit_test(test_spin_wait_ends_as_livelock),
		cmocka_unit_test(test_runs_of_varying_length_are_nondeterminism),
	};

	return cmocka_run_group_tests_name("explore", tests, NULL, NULL);
}
