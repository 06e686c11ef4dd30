// SPDX-License-Identifier: MIT
/*
 * test-sim.c - worlds and sim threads: lifecycle and reset, first segments, yields and
 * steps inside and outside a run, schedule strings (record, render, parse, replay), the
 * random and PCT schedulers, joins, threads spawned mid-run, and oracle reports stopping a
 * run (lib/sim/sim.c, sched.c, step.c).
 */
#include "mn-test.h"

#include <errno.h>
#include <string.h>

static struct mn_sim *new_world(enum mn_trace_mode mode)
{
	struct mn_sim_config cfg = { .trace_mode = mode };
	struct mn_sim *sim;

	assert_int_equal(mn_sim_create(&cfg, &sim), 0);
	return sim;
}

/* A thread that logs its index at each of @steps yield points. */
struct logger {
	char log[256];
	size_t len;
	int steps;
};

static void log_steps(struct mn_sim *sim, void *arg)
{
	struct logger *lg = arg;
	struct mn_thread *self = mn_sim_current(sim);
	int i;

	for (i = 0; i < lg->steps; i++) {
		mn_yield(sim, "log.step");
		lg->log[lg->len++] = (char)('0' + mn_thread_get_index(self));
	}
}

static void test_world_lifecycle(void **state)
{
	struct mn_sim *a, *b;
	struct mn_thread *t;
	struct logger lg = { .steps = 2 };

	(void)state;
	a = new_world(MN_TRACE_OFF);
	b = new_world(MN_TRACE_FULL);
	/* Worlds are independent: each has its own objects. */
	assert_ptr_not_equal(mn_sim_get_trace(a), mn_sim_get_trace(b));
	assert_ptr_not_equal(mn_sim_get_phys(a), mn_sim_get_phys(b));
	assert_int_equal(mn_sim_spawn(b, "t0", log_steps, &lg, &t), 0);
	assert_int_equal(mn_thread_get_state(t), MN_THREAD_NEW);
	assert_string_equal(mn_thread_get_name(t), "t0");
	assert_int_equal(mn_sim_nr_threads(b), 1);
	assert_int_equal(mn_sim_nr_threads(a), 0);
	assert_null(mn_sim_current(b));
	assert_int_equal(mn_sim_run(b, NULL), MN_RUN_OK);
	assert_int_equal(mn_thread_get_state(t), MN_THREAD_DONE);
	assert_int_equal(lg.len, 2);
	/* A world runs once per reset. */
	assert_int_equal(mn_sim_run(b, NULL), -EBUSY);
	assert_int_equal(mn_sim_reset(b), 0);
	assert_int_equal(mn_sim_nr_threads(b), 0);
	assert_int_equal(mn_trace_count(mn_sim_get_trace(b)), 0);
	assert_int_equal(mn_sim_run(b, NULL), MN_RUN_OK);
	mn_sim_destroy(a);
	mn_sim_destroy(b);
	mn_sim_destroy(NULL);
}

static void nop(struct mn_sim *sim, void *arg)
{
	(void)sim, (void)arg;
}

static void test_spawn_limits_and_arguments(void **state)
{
	struct mn_sim *sim = new_world(MN_TRACE_OFF);
	struct mn_sim_config bad = { .trace_mode = (enum mn_trace_mode)9 };
	struct mn_sim *s2;
	char name[16];
	int i;

	(void)state;
	assert_int_equal(mn_sim_spawn(sim, "", nop, NULL, NULL), -EINVAL);
	assert_int_equal(mn_sim_spawn(sim, "x", NULL, NULL, NULL), -EINVAL);
	for (i = 0; i < MN_SIM_MAX_THREADS; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(mn_sim_spawn(sim, name, nop, NULL, NULL), 0);
	}
	assert_int_equal(mn_sim_spawn(sim, "one-too-many", nop, NULL, NULL), -EAGAIN);
	assert_int_equal(mn_sim_nr_threads(sim), MN_SIM_MAX_THREADS);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
	assert_int_equal(mn_sim_create(&bad, &s2), -EINVAL);
	bad.trace_mode = MN_TRACE_OFF;
	bad.stack_size = 100;
	assert_int_equal(mn_sim_create(&bad, &s2), -EINVAL);
	bad.stack_size = SIZE_MAX - 10; /* would wrap when rounded to pages */
	assert_int_equal(mn_sim_create(&bad, &s2), -EINVAL);
	mn_sim_destroy(sim);
}

/* Before the first decision, each thread runs up to its first yield, in spawn order. */
static void first_segment(struct mn_sim *sim, void *arg)
{
	struct logger *lg = arg;

	lg->log[lg->len++] = (char)('a' + mn_thread_get_index(mn_sim_current(sim)));
	mn_yield(sim, "first");
	lg->log[lg->len++] = (char)('A' + mn_thread_get_index(mn_sim_current(sim)));
}

static void test_first_segments_run_in_spawn_order(void **state)
{
	struct mn_sim *sim = new_world(MN_TRACE_OFF);
	struct mn_sched replay = { .kind = MN_SCHED_REPLAY, .schedule = "s1:2,1" };
	struct logger lg = { 0 };

	(void)state;
	assert_int_equal(mn_sim_spawn(sim, "a", first_segment, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "b", first_segment, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "c", first_segment, &lg, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &replay), MN_RUN_OK);
	lg.log[lg.len] = '\0';
	/* Three first segments, then c, b by choice, then a by default. */
	assert_string_equal(lg.log, "abcCBA");
	assert_string_equal(mn_sim_get_schedule(sim), "s1:2,1");
	mn_sim_destroy(sim);
}

static void test_yield_and_step_outside_a_run(void **state)
{
	struct mn_sim *sim = new_world(MN_TRACE_FULL);
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		mn_yield(sim, "outside");
	assert_true(mn_step(sim, "outside.step"));
	/* Outside a run nothing is recorded: the fast path does not even register steps. */
	assert_int_equal(mn_sim_nr_steps(sim), 0);
	assert_int_equal(mn_trace_count(mn_sim_get_trace(sim)), 0);
	/* A mutation takes effect outside a run too. */
	assert_int_equal(mn_sim_skip_step(sim, "outside.step"), 0);
	assert_false(mn_step(sim, "outside.step"));
	assert_true(mn_step(sim, "other.step"));
	assert_int_equal(mn_sim_nr_steps(sim), 2);
	assert_string_equal(mn_sim_step_id(sim, 0), "outside.step");
	assert_int_equal(mn_sim_skip_step(sim, ""), -EINVAL);
	mn_sim_clear_mutations(sim);
	assert_true(mn_step(sim, "outside.step"));
	mn_sim_destroy(sim);
}

/* ---- schedule strings ------------------------------------------------------------- */

static void test_schedule_strings_roundtrip(void **state)
{
	struct mn_sim *sim;
	struct logger lg = { .steps = 3 };
	struct mn_sched s = { .kind = MN_SCHED_REPLAY, .schedule = "s1:1x2,0,1" };
	char first[256];

	(void)state;
	sim = new_world(MN_TRACE_OFF);
	assert_int_equal(mn_sim_spawn(sim, "t0", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "t1", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &s), MN_RUN_OK);
	lg.log[lg.len] = '\0';
	/* Decisions pick 1,1,0,1; then t1 is done and t0's last two steps are forced. */
	assert_string_equal(lg.log, "110100");
	strcpy(first, mn_sim_get_schedule(sim));
	assert_string_equal(first, "s1:1x2,0,1");
	mn_sim_destroy(sim);

	/* Choices the run never reached mean the string belongs to another scenario. */
	sim = new_world(MN_TRACE_OFF);
	lg.len = 0;
	s.schedule = "s1:1x2,0,1,0x2";
	assert_int_equal(mn_sim_spawn(sim, "t0", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "t1", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &s), -EINVAL);
	mn_sim_destroy(sim);

	/* A schedule that names a thread which is not enabled there is refused. */
	sim = new_world(MN_TRACE_OFF);
	lg.len = 0;
	s.schedule = "s1:5";
	assert_int_equal(mn_sim_spawn(sim, "t0", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "t1", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &s), -EINVAL);
	mn_sim_destroy(sim);
}

static void test_malformed_schedules_are_refused(void **state)
{
	static const char *const bad[] = {
		NULL, "", "0,1", "s2:0", "s1:a", "s1:0,", "s1:,0", "s1:0x0", "s1:0x", "s1:64",
		"s1:1 ,0", "s1:0x99999999999", "s1:-1",
	};
	struct mn_sched s = { .kind = MN_SCHED_REPLAY };
	struct mn_sim *sim;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sim = new_world(MN_TRACE_OFF);
		s.schedule = bad[i];
		assert_int_equal(mn_sim_run(sim, &s), -EINVAL);
		mn_sim_destroy(sim);
	}
	sim = new_world(MN_TRACE_OFF);
	assert_int_equal(mn_sim_run(sim, &(struct mn_sched){ .kind = (enum mn_sched_kind)42 }),
			 -EINVAL);
	mn_sim_destroy(sim);
	sim = new_world(MN_TRACE_OFF);
	assert_int_equal(mn_sim_run(sim, &(struct mn_sched){ .kind = MN_SCHED_PCT }), -EINVAL);
	mn_sim_destroy(sim);
}

static void run_logged(uint64_t seed, enum mn_sched_kind kind, char *out, char *sched)
{
	struct mn_sim *sim = new_world(MN_TRACE_OFF);
	struct logger lg = { .steps = 8 };
	struct mn_sched s = { .kind = kind, .seed = seed, .pct_depth = 3, .pct_steps = 24 };

	assert_int_equal(mn_sim_spawn(sim, "t0", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "t1", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "t2", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &s), MN_RUN_OK);
	memcpy(out, lg.log, lg.len);
	out[lg.len] = '\0';
	strcpy(sched, mn_sim_get_schedule(sim));
	mn_sim_destroy(sim);
}

static void test_seeded_schedulers_are_deterministic_and_replay(void **state)
{
	char a[64], b[64], c[64], sa[256], sb[256], sc[256];
	enum mn_sched_kind kinds[] = { MN_SCHED_RANDOM, MN_SCHED_PCT };
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		run_logged(7, kinds[k], a, sa);
		run_logged(7, kinds[k], b, sb);
		assert_string_equal(a, b);
		assert_string_equal(sa, sb);
		run_logged(8, kinds[k], c, sc);
		assert_string_not_equal(a, c); /* checked for these seeds; a different interleaving */
		assert_int_equal(strlen(a), 24);
	}
	/* The recorded string replays the same interleaving. */
	{
		struct mn_sim *sim = new_world(MN_TRACE_OFF);
		struct logger lg = { .steps = 8 };
		struct mn_sched s = { .kind = MN_SCHED_REPLAY, .schedule = sa };

		assert_int_equal(mn_sim_spawn(sim, "t0", log_steps, &lg, NULL), 0);
		assert_int_equal(mn_sim_spawn(sim, "t1", log_steps, &lg, NULL), 0);
		assert_int_equal(mn_sim_spawn(sim, "t2", log_steps, &lg, NULL), 0);
		assert_int_equal(mn_sim_run(sim, &s), MN_RUN_OK);
		lg.log[lg.len] = '\0';
		assert_string_equal(lg.log, a);
		assert_string_equal(mn_sim_get_schedule(sim), sa);
		mn_sim_destroy(sim);
	}
}

static void test_run_stats(void **state)
{
	struct mn_sim *sim = new_world(MN_TRACE_OFF);
	struct mn_sched s = { .kind = MN_SCHED_REPLAY, .schedule = "s1:0,1,0" };
	struct logger lg = { .steps = 2 };
	struct mn_run_stats st;

	(void)state;
	assert_int_equal(mn_sim_spawn(sim, "t0", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "t1", log_steps, &lg, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &s), MN_RUN_OK);
	mn_sim_get_run_stats(sim, &st);
	assert_int_equal(st.yields, 4);
	assert_int_equal(st.decisions, 3); /* the last step is forced */
	/* 0 -> 1 (preempts t0), 1 -> 0 (preempts t1), 0 finishes -> 1 (free). */
	assert_int_equal(st.preemptions, 2);
	assert_int_equal(st.switches, 4);
	mn_sim_destroy(sim);
}

/* ---- named steps ------------------------------------------------------------------ */

static void stepper(struct mn_sim *sim, void *arg)
{
	uint64_t *x = arg;

	if (mn_step(sim, "stepper.add_one"))
		*x += 1;
	if (mn_step(sim, "stepper.add_ten"))
		*x += 10;
	if (mn_step(sim, "stepper.add_one"))
		*x += 1;
}

static void test_skipped_step_is_observable(void **state)
{
	struct mn_sim *sim = new_world(MN_TRACE_FULL);
	uint64_t x = 0;
	size_t i;

	(void)state;
	assert_int_equal(mn_sim_spawn(sim, "s", stepper, &x, NULL), 0);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
	assert_int_equal(x, 12);
	assert_int_equal(mn_sim_nr_steps(sim), 2);
	assert_string_equal(mn_sim_step_id(sim, 0), "stepper.add_one");
	assert_string_equal(mn_sim_step_id(sim, 1), "stepper.add_ten");
	assert_int_equal(mn_sim_step_count(sim, 0), 2);
	assert_int_equal(mn_sim_step_count(sim, 1), 1);
	assert_null(mn_sim_step_id(sim, 2));

	/* The mutation survives the reset and skips both passages of the step. */
	assert_int_equal(mn_sim_skip_step(sim, "stepper.add_one"), 0);
	assert_int_equal(mn_sim_reset(sim), 0);
	x = 0;
	assert_int_equal(mn_sim_spawn(sim, "s", stepper, &x, NULL), 0);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
	assert_int_equal(x, 10);
	assert_int_equal(mn_sim_step_count(sim, 0), 2);
	/* The trace shows the skipped passages. */
	for (i = 1; i <= mn_trace_count(mn_sim_get_trace(sim)); i++) {
		const struct mn_event *ev = mn_trace_get(mn_sim_get_trace(sim), i);

		if (!strcmp(ev->step, "stepper.add_one")) {
			assert_int_equal(ev->nr_kv, 1);
			assert_string_equal(ev->kv[0].s, "yes");
		}
	}
	mn_sim_destroy(sim);
}

/* ---- joins, spawning inside a run, oracle reports ------------------------------- */

struct family {
	struct mn_thread *child;
	uint64_t child_done;
	uint64_t seen;
};

static void child(struct mn_sim *sim, void *arg)
{
	struct family *f = arg;

	mn_yield(sim, "child.work");
	mn_yield(sim, "child.more");
	f->child_done = 1;
}

static void parent(struct mn_sim *sim, void *arg)
{
	struct family *f = arg;

	mn_yield(sim, "parent.start");
	assert_int_equal(mn_sim_spawn(sim, "child", child, f, &f->child), 0);
	assert_int_equal(mn_thread_get_state(f->child), MN_THREAD_RUNNABLE);
	assert_int_equal(mn_thread_join(sim, f->child), 0);
	f->seen = f->child_done;
	assert_int_equal(mn_thread_join(sim, mn_sim_current(sim)), -EDEADLK);
}

static void test_spawn_inside_run_and_join(void **state)
{
	struct mn_sched s = { .kind = MN_SCHED_RANDOM };
	struct family f;
	struct mn_sim *sim;
	uint64_t seed;

	(void)state;
	for (seed = 0; seed < 20; seed++) {
		memset(&f, 0, sizeof(f));
		sim = new_world(MN_TRACE_OFF);
		s.seed = seed;
		assert_int_equal(mn_sim_spawn(sim, "parent", parent, &f, NULL), 0);
		assert_int_equal(mn_sim_run(sim, &s), MN_RUN_OK);
		assert_int_equal(f.seen, 1); /* the join waited for the child in every schedule */
		assert_int_equal(mn_sim_nr_threads(sim), 2);
		mn_sim_destroy(sim);
	}
}

struct uaf {
	struct mn_frame_ref page;
	int reads;
};

static void freer(struct mn_sim *sim, void *arg)
{
	struct uaf *u = arg;

	mn_yield(sim, "freer.free");
	mn_phys_put(mn_sim_get_phys(sim), u->page, "munmap");
	mn_yield(sim, "freer.done");
}

static void stale_reader(struct mn_sim *sim, void *arg)
{
	struct uaf *u = arg;
	uint64_t v;
	int i;

	for (i = 0; i < 3; i++) {
		mn_yield(sim, "reader.read");
		mn_phys_read(mn_sim_get_phys(sim), u->page, &v, "gpc.read");
		u->reads++;
	}
}

static void test_oracle_report_stops_the_run(void **state)
{
	struct mn_sched s = { .kind = MN_SCHED_REPLAY, .schedule = "s1:0,1" };
	const struct mn_violation *v;
	struct mn_sim *sim = new_world(MN_TRACE_FULL);
	struct uaf u = { 0 };

	(void)state;
	assert_int_equal(mn_phys_alloc(mn_sim_get_phys(sim), 0, MN_OWNER_ANON, 0, &u.page), 0);
	assert_int_equal(mn_sim_spawn(sim, "freer", freer, &u, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "gpc", stale_reader, &u, NULL), 0);
	/* freer frees, then the reader reads the freed page once; the run stops there. */
	assert_int_equal(mn_sim_run(sim, &s), MN_RUN_VIOLATION);
	assert_int_equal(u.reads, 1);
	assert_true(mn_sim_failed(sim));
	v = mn_trace_violation(mn_sim_get_trace(sim), 0);
	assert_string_equal(v->invariant, "frame.use_after_free");
	assert_string_equal(mn_trace_actor_name(mn_sim_get_trace(sim), v->actor), "gpc");
	assert_string_equal(mn_trace_actor_name(mn_sim_get_trace(sim), v->cause_actor), "freer");
	assert_non_null(v->schedule);
	assert_string_equal(v->schedule, mn_sim_get_schedule(sim));
	mn_sim_destroy(sim);
}

static void test_keep_going_runs_to_the_end(void **state)
{
	struct mn_sim_config cfg = { .trace_mode = MN_TRACE_OFF, .keep_going = true };
	struct mn_sched s = { .kind = MN_SCHED_REPLAY, .schedule = "s1:0,1" };
	struct mn_sim *sim;
	struct uaf u = { 0 };

	(void)state;
	assert_int_equal(mn_sim_create(&cfg, &sim), 0);
	assert_int_equal(mn_phys_alloc(mn_sim_get_phys(sim), 0, MN_OWNER_ANON, 0, &u.page), 0);
	assert_int_equal(mn_sim_spawn(sim, "freer", freer, &u, NULL), 0);
	assert_int_equal(mn_sim_spawn(sim, "gpc", stale_reader, &u, NULL), 0);
	assert_int_equal(mn_sim_run(sim, &s), MN_RUN_VIOLATION);
	assert_int_equal(u.reads, 3);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 3);
	mn_sim_destroy(sim);
}

static void test_thread_data_and_held_count(void **state)
{
	struct mn_sim *sim = new_world(MN_TRACE_OFF);
	struct mn_thread *t;
	int token;

	(void)state;
	assert_int_equal(mn_sim_spawn(sim, "t", nop, NULL, &t), 0);
	/* Outside a run nobody would ever run it: joining cannot wait. */
	assert_int_equal(mn_thread_join(sim, t), -EDEADLK);
	assert_null(mn_thread_get_data(t));
	mn_thread_set_data(t, &token);
	assert_ptr_equal(mn_thread_get_data(t), &token);
	assert_int_equal(mn_thread_nr_held(t), 0);
	assert_int_equal(mn_thread_get_index(t), 0);
	assert_ptr_equal(mn_sim_thread(sim, 0), t);
	assert_null(mn_sim_thread(sim, 1));
	mn_sim_destroy(sim);
}

/* Checked mode: the step hook runs at every yield point of every thread, per run. */
struct hook_count {
	unsigned int calls;
	uint64_t value;
};

static void hook(struct mn_sim *sim, void *arg)
{
	struct hook_count *h = arg;

	h->calls++;
	if (h->value > 2)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.too_big", "value %llu",
			       (unsigned long long)h->value);
}

static void bump_thrice(struct mn_sim *sim, void *arg)
{
	struct hook_count *h = arg;
	int i;

	for (i = 0; i < 3; i++) {
		h->value++;
		mn_yield(sim, "bump");
	}
}

static void test_step_hook_checks_every_step(void **state)
{
	struct hook_count h = { 0 };
	struct mn_sim *sim = new_world(MN_TRACE_OFF);

	(void)state;
	mn_sim_set_step_hook(sim, hook, &h);
	assert_int_equal(mn_sim_spawn(sim, "t", bump_thrice, &h, NULL), 0);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(h.calls, 3); /* the third yield saw value 3 and stopped the run */
	/* A reset removes the hook: the next run is unchecked. */
	assert_int_equal(mn_sim_reset(sim), 0);
	h = (struct hook_count){ 0 };
	assert_int_equal(mn_sim_spawn(sim, "t", bump_thrice, &h, NULL), 0);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_OK);
	assert_int_equal(h.calls, 0);
	mn_sim_destroy(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_world_lifecycle),
		cmocka_unit_test(test_spawn_limits_and_arguments),
		cmocka_unit_test(test_first_segments_run_in_spawn_order),
		cmocka_unit_test(test_yield_and_step_outside_a_run),
		cmocka_unit_test(test_schedule_strings_roundtrip),
		cmocka_unit_test(test_malformed_schedules_are_refused),
		cmocka_unit_test(test_seeded_schedulers_are_deterministic_and_replay),
		cmocka_unit_test(test_run_stats),
		cmocka_unit_test(test_skipped_step_is_observable),
		cmocka_unit_test(test_spawn_inside_run_and_join),
		cmocka_unit_test(test_oracle_report_stops_the_run),
		cmocka_unit_test(test_keep_going_runs_to_the_end),
		cmocka_unit_test(test_thread_data_and_held_count),
		cmocka_unit_test(test_step_hook_checks_every_step),
	};

	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
