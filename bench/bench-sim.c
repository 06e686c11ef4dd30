// SPDX-License-Identifier: MIT
/*
 * bench-sim.c - what the simulator's moving parts cost: a context switch between two sim
 * threads against glibc's swapcontext() timed in the same run, a yield point outside any run
 * against an empty loop, and the explorer's complete schedules per second on the lost update
 * and on a mutex-protected counter (lib/sim/coro.c, sim.c, sched.c, explore.c).
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include <mnsim.h>

#include "bench-util.h"
#include "../tests/mn-test-counter.h"

#include "sim/coro.h" /* white-box: the bare switch under the scheduler */

#define NR_REPS		7
#define PINGPONG_YIELDS 100000UL    /* yields per sim thread and repetition */
#define SWAP_ROUNDS	200000UL    /* swapcontext() round trips per repetition */
#define LOOP_CALLS	100000000UL /* mn_yield() calls per repetition */
#define EXPLORE_NS	1e9	    /* each explorer figure runs for about a second */
#define CORO_STACK	(64U << 10)

#define barrier() __asm__ __volatile__("" ::: "memory")

/* ---- (a) sim threads ping-ponging at yield points --------------------------------- */

static void pingpong(struct mn_sim *sim, void *arg)
{
	unsigned long i, n = *(const unsigned long *)arg;

	for (i = 0; i < n; i++)
		mn_yield(sim, "pingpong");
}

/* "s1:0,1,0,1,...": every decision switches to the other thread. */
static char *alternating_schedule(unsigned long decisions)
{
	char *s = malloc(4 + 2 * decisions), *p;
	unsigned long i;

	if (!s)
		return NULL;
	p = s + sprintf(s, "s1:");
	for (i = 0; i < decisions; i++) {
		*p++ = i % 2 ? '1' : '0';
		*p++ = ',';
	}
	p[decisions ? -1 : 0] = '\0';
	return s;
}

struct switch_figure {
	double ns_per_switch;
	double ns_per_decision;
	double switches_per_decision;
	uint64_t switches;
};

/* One timed run of two ping-pong threads under @sched; the run itself is all that is timed. */
static int time_pingpong(struct mn_sim *sim, const struct mn_sched *sched, double *ns,
			 struct mn_run_stats *st)
{
	unsigned long n = PINGPONG_YIELDS;
	double t0;
	int ret;

	if (mn_sim_reset(sim) || mn_sim_spawn(sim, "ping", pingpong, &n, NULL) ||
	    mn_sim_spawn(sim, "pong", pingpong, &n, NULL))
		return -1;
	t0 = now_ns();
	ret = mn_sim_run(sim, sched);
	*ns = now_ns() - t0;
	mn_sim_get_run_stats(sim, st);
	if (ret != MN_RUN_OK) {
		fprintf(stderr, "bench-sim: ping-pong run returned %d\n", ret);
		return -1;
	}
	return 0;
}

static int bench_switch(struct mn_sim *sim, const struct mn_sched *sched, struct switch_figure *fig)
{
	double per_switch[NR_REPS], per_decision[NR_REPS], ns;
	struct mn_run_stats st = { 0 };

	if (time_pingpong(sim, sched, &ns, &st)) /* warm-up: maps the two stacks */
		return -1;
	for (int r = 0; r < NR_REPS; r++) {
		if (time_pingpong(sim, sched, &ns, &st))
			return -1;
		if (!st.switches || !st.decisions)
			return -1;
		per_switch[r] = ns / (double)st.switches;
		per_decision[r] = ns / (double)st.decisions;
	}
	fig->ns_per_switch = median(per_switch, NR_REPS);
	fig->ns_per_decision = median(per_decision, NR_REPS);
	fig->switches_per_decision = (double)st.switches / (double)st.decisions;
	fig->switches = st.switches;
	return 0;
}

/* ---- (b) the reference: glibc swapcontext() between two ucontexts ----------------- */

static ucontext_t uc_main, uc_co;

static void uc_entry(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

static double bench_swapcontext(void)
{
	double ns[NR_REPS];
	void *stack = malloc(CORO_STACK);
	unsigned long i;

	if (!stack || getcontext(&uc_co)) {
		free(stack);
		return -1;
	}
	uc_co.uc_stack.ss_sp = stack;
	uc_co.uc_stack.ss_size = CORO_STACK;
	uc_co.uc_link = NULL;
	makecontext(&uc_co, uc_entry, 0);
	swapcontext(&uc_main, &uc_co); /* warm-up */
	for (int r = 0; r < NR_REPS; r++) {
		double t0 = now_ns();

		for (i = 0; i < SWAP_ROUNDS; i++)
			swapcontext(&uc_main, &uc_co);
		ns[r] = (now_ns() - t0) / (2.0 * SWAP_ROUNDS); /* there and back */
	}
	/* The coroutine is parked inside swapcontext() for good; its stack is not reused. */
	free(stack);
	return median(ns, NR_REPS);
}

/* ---- (b') the bare coroutine switch under the scheduler: sigsetjmp/siglongjmp ---- */

static struct coro co_main, co_peer;

static void coro_peer_entry(void *arg)
{
	(void)arg;
	for (;;)
		coro_switch(&co_peer, &co_main, false);
}

static double bench_coro(void)
{
	double ns[NR_REPS];
	unsigned long i;

	if (coro_stack_alloc(&co_peer, CORO_STACK) || coro_start(&co_peer, coro_peer_entry, NULL))
		return -1;
	coro_switch(&co_main, &co_peer, false); /* warm-up */
	for (int r = 0; r < NR_REPS; r++) {
		double t0 = now_ns();

		for (i = 0; i < SWAP_ROUNDS; i++)
			coro_switch(&co_main, &co_peer, false);
		ns[r] = (now_ns() - t0) / (2.0 * SWAP_ROUNDS); /* there and back */
	}
	coro_stack_free(&co_peer);
	return median(ns, NR_REPS);
}

/* ---- (c) yield points outside a run: one load and one branch ---------------------- */

struct loop_figure {
	double empty_ns, yield_ns, step_ns;
};

static void bench_outside(struct mn_sim *sim, struct loop_figure *fig)
{
	double empty[NR_REPS], yield[NR_REPS], step[NR_REPS], t0;
	volatile unsigned long sink;
	unsigned long i, taken;

	for (int r = 0; r < NR_REPS; r++) {
		t0 = now_ns();
		for (i = 0; i < LOOP_CALLS; i++)
			barrier();
		empty[r] = (now_ns() - t0) / LOOP_CALLS;

		t0 = now_ns();
		for (i = 0; i < LOOP_CALLS; i++) {
			mn_yield(sim, "x");
			barrier(); /* reloads the world's flag every time, as real code does */
		}
		yield[r] = (now_ns() - t0) / LOOP_CALLS;

		taken = 0;
		t0 = now_ns();
		for (i = 0; i < LOOP_CALLS; i++) {
			taken += mn_step(sim, "x");
			barrier();
		}
		step[r] = (now_ns() - t0) / LOOP_CALLS;
		sink = taken;
		(void)sink;
	}
	fig->empty_ns = median(empty, NR_REPS);
	fig->yield_ns = median(yield, NR_REPS);
	fig->step_ns = median(step, NR_REPS);
}

/* ---- (d) explorer throughput ------------------------------------------------------ */

struct explore_figure {
	uint64_t explorations, schedules, failing;
	uint64_t schedules_per_exploration;
	double seconds;
};

/* Explore the whole unbounded DFS space again and again for about a second. */
static int bench_explore(struct counter *c, struct explore_figure *fig)
{
	struct mn_scenario sc = { "counter", counter_setup, counter_check, NULL, c };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = UINT_MAX,
		.collect_all = true, /* go on past the lost update: the space, not the bug */
	};
	struct mn_explore_result res;
	double t0 = now_ns(), t;

	memset(fig, 0, sizeof(*fig));
	do {
		if (mn_explore(&sc, &cfg, &res) || !res.exhausted) {
			fprintf(stderr, "bench-sim: exploration of %u threads failed\n",
				c->threads);
			return -1;
		}
		if (fig->explorations && res.schedules != fig->schedules_per_exploration) {
			fprintf(stderr, "bench-sim: explorations disagree\n");
			mn_explore_result_free(&res);
			return -1;
		}
		fig->schedules_per_exploration = res.schedules;
		fig->schedules += res.schedules;
		fig->failing += res.failing_runs;
		fig->explorations++;
		mn_explore_result_free(&res);
		t = now_ns();
	} while (t - t0 < EXPLORE_NS);
	fig->seconds = (t - t0) / 1e9;
	return 0;
}

static void print_explore(const char *name, const struct counter *c,
			  const struct explore_figure *fig)
{
	double rate = (double)fig->schedules / fig->seconds;
	double us = fig->seconds * 1e6 / (double)fig->explorations;

	printf("explore %s: %u threads, DFS unbounded: %.0f schedules/s (%llu schedules per "
	       "exploration, %.1f us per exploration with its world, %llu explorations in %.2f s, "
	       "%llu failing runs)\n",
	       name, c->threads, rate, (unsigned long long)fig->schedules_per_exploration, us,
	       (unsigned long long)fig->explorations, fig->seconds,
	       (unsigned long long)fig->failing);
	printf("{\"bench\":\"explore_%s\",\"threads\":%u,\"strategy\":\"dfs\",\"preemption_bound\":"
	       "null,\"schedules_per_exploration\":%llu,\"explorations\":%llu,\"schedules\":%llu,"
	       "\"failing_runs\":%llu,\"seconds\":%.3f,\"us_per_exploration\":%.2f,"
	       "\"schedules_per_s\":%.0f,\"backend\":\"%s\"}\n",
	       name, c->threads, (unsigned long long)fig->schedules_per_exploration,
	       (unsigned long long)fig->explorations, (unsigned long long)fig->schedules,
	       (unsigned long long)fig->failing, fig->seconds, us, rate, mn_alloc_backend());
}

int main(void)
{
	struct counter racy = { .threads = 2, .locked = false };
	struct counter locked = { .threads = 3, .locked = true };
	struct switch_figure replay, random;
	struct explore_figure racy_fig, locked_fig;
	struct mn_sched sched_random = { .kind = MN_SCHED_RANDOM, .seed = 0x6d6e73696dULL };
	struct mn_sched sched_replay = { .kind = MN_SCHED_REPLAY };
	struct loop_figure loop;
	struct mn_sim *sim;
	double swap_ns, coro_ns;
	char *alt;
	int ret = 1;

	if (mn_sim_create(NULL, &sim)) {
		fprintf(stderr, "bench-sim: cannot create a world\n");
		return 1;
	}
	alt = alternating_schedule(2 * PINGPONG_YIELDS - 1); /* the last step is forced */
	if (!alt)
		goto out;
	sched_replay.schedule = alt;

	/* (a) and (b): sim thread switches against swapcontext(), in the same run. */
	if (bench_switch(sim, &sched_replay, &replay) || bench_switch(sim, &sched_random, &random))
		goto out;
	swap_ns = bench_swapcontext();
	if (swap_ns <= 0)
		goto out;
	printf("sim_switch: 2 threads x %lu yields, alternating replay: %.1f ns/switch "
	       "(decision, switch, schedule recorded and rendered); swapcontext %.1f ns/switch; "
	       "%.2fx (median of %d)\n",
	       PINGPONG_YIELDS, replay.ns_per_switch, swap_ns, replay.ns_per_switch / swap_ns,
	       NR_REPS);
	printf("{\"bench\":\"sim_switch\",\"sched\":\"replay_alternate\",\"yields_per_thread\":%lu,"
	       "\"switches\":%llu,\"reps\":%d,\"ns_per_switch_p50\":%.2f,"
	       "\"swapcontext_ns_per_switch_p50\":%.2f,\"ratio_vs_swapcontext\":%.3f,"
	       "\"backend\":\"%s\"}\n",
	       PINGPONG_YIELDS, (unsigned long long)replay.switches, NR_REPS, replay.ns_per_switch,
	       swap_ns, replay.ns_per_switch / swap_ns, mn_alloc_backend());
	printf("sim_switch: 2 threads x %lu yields, random: %.1f ns/switch, %.1f ns/decision "
	       "(%.2f switches per decision), %.2fx swapcontext (median of %d)\n",
	       PINGPONG_YIELDS, random.ns_per_switch, random.ns_per_decision,
	       random.switches_per_decision, random.ns_per_switch / swap_ns, NR_REPS);
	printf("{\"bench\":\"sim_switch\",\"sched\":\"random\",\"yields_per_thread\":%lu,"
	       "\"switches\":%llu,\"reps\":%d,\"ns_per_switch_p50\":%.2f,"
	       "\"ns_per_decision_p50\":%.2f,\"switches_per_decision\":%.3f,"
	       "\"swapcontext_ns_per_switch_p50\":%.2f,\"ratio_vs_swapcontext\":%.3f,"
	       "\"backend\":\"%s\"}\n",
	       PINGPONG_YIELDS, (unsigned long long)random.switches, NR_REPS, random.ns_per_switch,
	       random.ns_per_decision, random.switches_per_decision, swap_ns,
	       random.ns_per_switch / swap_ns, mn_alloc_backend());
	coro_ns = bench_coro();
	if (coro_ns <= 0)
		goto out;
	printf("coro_switch: %lu round trips: %.1f ns/switch, %.2fx swapcontext (median of %d)\n",
	       SWAP_ROUNDS, coro_ns, coro_ns / swap_ns, NR_REPS);
	printf("{\"bench\":\"coro_switch\",\"round_trips\":%lu,\"reps\":%d,"
	       "\"ns_per_switch_p50\":%.2f,\"ratio_vs_swapcontext\":%.3f}\n",
	       SWAP_ROUNDS, NR_REPS, coro_ns, coro_ns / swap_ns);
	printf("swapcontext: %lu round trips: %.1f ns/switch (median of %d)\n", SWAP_ROUNDS,
	       swap_ns, NR_REPS);
	printf("{\"bench\":\"swapcontext\",\"round_trips\":%lu,\"reps\":%d,"
	       "\"ns_per_switch_p50\":%.2f}\n",
	       SWAP_ROUNDS, NR_REPS, swap_ns);
	fflush(stdout);

	/* (c): the fast path every yield point takes outside a run. */
	if (mn_sim_reset(sim))
		goto out;
	bench_outside(sim, &loop);
	printf("yield_outside_run: %lu calls: mn_yield %.3f ns/call, mn_step %.3f ns/call, "
	       "empty loop %.3f ns/iteration; +%.3f / +%.3f ns (median of %d)\n",
	       LOOP_CALLS, loop.yield_ns, loop.step_ns, loop.empty_ns,
	       loop.yield_ns - loop.empty_ns, loop.step_ns - loop.empty_ns, NR_REPS);
	printf("{\"bench\":\"yield_outside_run\",\"calls\":%lu,\"reps\":%d,"
	       "\"yield_ns_per_call_p50\":%.4f,\"step_ns_per_call_p50\":%.4f,"
	       "\"empty_ns_per_iteration_p50\":%.4f,\"yield_overhead_ns\":%.4f,"
	       "\"step_overhead_ns\":%.4f}\n",
	       LOOP_CALLS, NR_REPS, loop.yield_ns, loop.step_ns, loop.empty_ns,
	       loop.yield_ns - loop.empty_ns, loop.step_ns - loop.empty_ns);
	fflush(stdout);

	/* (d): complete schedules per second, world setup and teardown included. */
	if (bench_explore(&racy, &racy_fig) || bench_explore(&locked, &locked_fig))
		goto out;
	if (!racy_fig.failing || locked_fig.failing) {
		fprintf(stderr, "bench-sim: the racy counter must fail and the locked one not\n");
		goto out;
	}
	print_explore("lost_update", &racy, &racy_fig);
	print_explore("mutex_counter", &locked, &locked_fig);
	ret = 0;
out:
	free(alt);
	mn_sim_destroy(sim);
	return ret;
}
