/* SPDX-License-Identifier: MIT */
/*
 * explore.h - running a scenario under many schedules: exhaustive depth-first search with a
 * preemption bound and sleep sets, seeded random search, PCT, replay of a failing schedule,
 * and mutation analysis over the named steps a scenario passes.
 */
#ifndef MNSIM_EXPLORE_H
#define MNSIM_EXPLORE_H

#include <mnsim/sim.h>

/**
 * DOC: explore.h
 *
 * A scenario is a setup function that builds a world's objects and spawns its threads,
 * plus an optional final check that runs after every thread finished and reports what it
 * finds with mn_sim_report(). The explorer re-runs the scenario from scratch for each
 * schedule in one reused world (mn_sim_reset() between runs), so runs are independent.
 *
 * Strategies: %MN_EXPLORE_DFS enumerates schedules depth-first by re-execution, allowing at
 * most @preemption_bound preemptions per schedule, and with @sleep_sets skips schedules
 * that only reorder independent steps (steps whose yield points name different objects, or
 * only read the same one; see mn_yield_access()). Sleep sets apply to unbounded searches
 * only (@preemption_bound UINT_MAX): under a bound the representative they keep may need
 * more preemptions than allowed, so they are ignored there. %MN_EXPLORE_RANDOM and %MN_EXPLORE_PCT run
 * @max_schedules runs of mn_sim_run() with seeds derived from @seed.
 *
 * Every failing run is described by its first violation and its schedule string;
 * mn_explore_replay() runs that schedule again with full tracing and returns the world for
 * inspection, bit-for-bit the same run.
 */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct mn_scenario - what to explore.
 * @name: shown in progress and reports.
 * @setup: builds the world's state and spawns its threads; returns 0 or a negative errno
 *         (which aborts the exploration).
 * @check: optional; runs after all threads finished without a violation.
 * @state_hash: optional; a hash of the terminal state of runs that end without a
 *              violation, to count distinct outcomes.
 * @arg: passed to the three callbacks.
 */
struct mn_scenario {
	const char *name;
	int (*setup)(struct mn_sim *sim, void *arg);
	void (*check)(struct mn_sim *sim, void *arg);
	uint64_t (*state_hash)(struct mn_sim *sim, void *arg);
	void *arg;
};

/**
 * enum mn_explore_strategy - how schedules are chosen.
 * @MN_EXPLORE_DFS: exhaustive depth-first search (bounded by preemptions).
 * @MN_EXPLORE_RANDOM: independent random schedules.
 * @MN_EXPLORE_PCT: probabilistic concurrency testing with depth @pct_depth.
 */
enum mn_explore_strategy {
	MN_EXPLORE_DFS = 0,
	MN_EXPLORE_RANDOM,
	MN_EXPLORE_PCT,
};

/**
 * struct mn_explore_progress - what a progress callback is told.
 * @schedules: complete runs so far.
 * @pruned: runs cut short by sleep sets.
 * @failures: runs that reported a violation.
 * @total: runs the budget allows, or 0 when unknown.
 * @estimated: complete runs the exploration will probably make: the budget for RANDOM and
 *             PCT; for DFS, Knuth's path-product estimate of the schedule tree averaged
 *             over the runs so far (an order of magnitude, capped near 1e18).
 * @seconds: time spent.
 * @rate: complete runs per second.
 */
struct mn_explore_progress {
	uint64_t schedules;
	uint64_t pruned;
	uint64_t failures;
	uint64_t total;
	uint64_t estimated;
	double seconds;
	double rate;
};

/**
 * struct mn_explore_config - how to explore.
 * @strategy: the strategy.
 * @preemption_bound: DFS: most preemptions per schedule (UINT_MAX for none).
 * @sleep_sets: DFS: prune reorderings of independent steps.
 * @seed: RANDOM and PCT: the first seed.
 * @pct_depth: PCT: the bug depth d (>= 1).
 * @max_schedules: stop after this many runs (0: no limit; RANDOM and PCT need one).
 * @max_seconds: stop after this much time (0: no limit).
 * @collect_all: keep exploring after a failure and collect up to @max_failures of them.
 * @max_failures: failures kept when @collect_all (0 picks 16).
 * @skip_steps: ids of steps to skip (a mutation) in every run.
 * @nr_skip_steps: number of ids in @skip_steps.
 * @sim: the world configuration (its trace mode is usually %MN_TRACE_OFF).
 * @progress: optional callback, called about every @progress_interval seconds.
 * @progress_arg: its argument.
 * @progress_interval: seconds between calls (0 picks 0.5).
 */
struct mn_explore_config {
	enum mn_explore_strategy strategy;
	unsigned int preemption_bound;
	bool sleep_sets;
	uint64_t seed;
	unsigned int pct_depth;
	uint64_t max_schedules;
	double max_seconds;
	bool collect_all;
	unsigned int max_failures;
	const char *const *skip_steps;
	size_t nr_skip_steps;
	struct mn_sim_config sim;
	void (*progress)(void *arg, const struct mn_explore_progress *p);
	void *progress_arg;
	double progress_interval;
};

/**
 * struct mn_explore_failure - one failing run.
 * @schedule: its schedule string.
 * @violation: its first violation (its @schedule field points at @schedule).
 */
struct mn_explore_failure {
	char *schedule;
	struct mn_violation violation;
};

/**
 * struct mn_explore_result - what an exploration found.
 * @schedules: complete runs (every thread finished or a violation ended the run).
 * @pruned: runs cut short by sleep sets.
 * @failing_runs: runs that reported a violation.
 * @distinct_states: distinct terminal state hashes (0 without @state_hash).
 * @max_depth: most decision points in one run.
 * @max_preemptions: most preemptions in one run.
 * @seconds: wall time.
 * @exhausted: DFS only: the bounded schedule space was explored completely.
 * @failures: the failures kept (the first one always, all with @collect_all).
 * @nr_failures: entries in @failures.
 */
struct mn_explore_result {
	uint64_t schedules;
	uint64_t pruned;
	uint64_t failing_runs;
	uint64_t distinct_states;
	unsigned int max_depth;
	unsigned int max_preemptions;
	double seconds;
	bool exhausted;
	struct mn_explore_failure *failures;
	size_t nr_failures;
};

/**
 * mn_explore() - Explore @sc under @cfg.
 * @sc: the scenario.
 * @cfg: the configuration.
 * @res: receives the result; release it with mn_explore_result_free().
 *
 * Context: Not from a sim thread.
 * Return: 0 when the exploration ran (whether or not it found failures), -EINVAL for a
 * bad configuration (no setup, an unknown strategy, PCT depth 0, RANDOM or PCT without
 * @max_schedules), -EPROTO when the scenario does not replay deterministically (a run
 * differs from the prefix it re-executes), the scenario setup's error, or -ENOMEM. @res is
 * zeroed on error.
 */
MN_EXPORT int mn_explore(const struct mn_scenario *sc, const struct mn_explore_config *cfg,
			 struct mn_explore_result *res);

/**
 * mn_explore_result_free() - Release what a result holds.
 * @res: the result, zeroed afterwards.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_explore_result_free(struct mn_explore_result *res);

/**
 * mn_explore_replay() - Run @sc once under @schedule, with full tracing.
 * @sc: the scenario.
 * @cfg: world configuration (its trace mode is overridden to %MN_TRACE_FULL), or NULL.
 * @skip_steps: mutations to apply, as in &struct mn_explore_config.
 * @nr_skip_steps: their number.
 * @schedule: a schedule string, e.g. from a failure.
 * @out: receives the world after the run; the caller destroys it.
 *
 * Context: Not from a sim thread.
 * Return: the &enum mn_run_result of the run, or a negative errno (bad schedule string,
 * setup error, -ENOMEM; no world is returned then).
 */
MN_EXPORT int mn_explore_replay(const struct mn_scenario *sc, const struct mn_sim_config *cfg,
				const char *const *skip_steps, size_t nr_skip_steps,
				const char *schedule, struct mn_sim **out);

/**
 * struct mn_mutant - the fate of one single-step mutant.
 * @step: the skipped step id.
 * @caught: an exploration of the mutant reported a violation.
 * @invariant: the invariant of the first violation when caught, else NULL.
 * @schedule: the failing schedule when caught, else NULL.
 * @schedules: runs the mutant's exploration made.
 */
struct mn_mutant {
	char *step;
	bool caught;
	const char *invariant;
	char *schedule;
	uint64_t schedules;
};

/**
 * mn_explore_mutants() - Explore every single-step mutant of @sc.
 * @sc: the scenario.
 * @cfg: the exploration to run per mutant (@skip_steps and @collect_all are ignored).
 * @out: receives an array of results, one per step the unmutated scenario passed, in order
 *       of first passage; release it with mn_mutants_free().
 * @nr: receives the array's length.
 *
 * First explores the unmutated scenario, which must not fail; then, for each step id it
 * passed, explores the scenario with that step skipped and records whether a violation
 * was found. A mutant that survives is a missing check or an equivalent mutant.
 *
 * Context: Not from a sim thread.
 * Return: 0, -ECANCELED when the unmutated scenario already fails, or an error of
 * mn_explore().
 */
MN_EXPORT int mn_explore_mutants(const struct mn_scenario *sc, const struct mn_explore_config *cfg,
				 struct mn_mutant **out, size_t *nr);

/**
 * mn_mutants_free() - Release the array mn_explore_mutants() returned.
 * @m: the array, or NULL.
 * @nr: its length.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_mutants_free(struct mn_mutant *m, size_t nr);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_EXPLORE_H */
