// SPDX-License-Identifier: MIT
/*
 * explore.c - the explorer: re-runs a scenario in one reused world under depth-first
 * search with a preemption bound (Musuvathi and Qadeer, PLDI 2007) and sleep sets
 * (Godefroid, 1996), or under seeded random and PCT schedules; replays failures; and runs
 * single-step mutants of the named steps.
 */
#include "sim/sim-internal.h"

#include <limits.h>
#include <stdlib.h>
#include <time.h>

#define NO_THREAD 0xffU

/* One decision point on the current DFS path. */
struct dfs_frame {
	uint64_t enabled;
	uint64_t done;	      /* choices explored here, the current one included */
	uint64_t sleep;	      /* threads whose next step need not be tried here */
	uint32_t preemptions; /* on the path before this decision */
	uint8_t chosen;
	uint8_t current; /* running thread at the decision, NO_THREAD at the start */
};

struct dfs {
	struct dfs_frame *frames;
	size_t depth;
	size_t cap;
	uint64_t sleep_now; /* the sleep set at the current point of the run */
	unsigned int bound;
	bool sleep_sets;
};

/*
 * Two steps commute when they name different objects, or both only read the same one.
 * A thread's next step is its pending yield point; it cannot change while the thread
 * does not run, so the live value serves for every sleeping thread.
 */
static bool independent(const struct pending *a, const struct pending *b)
{
	if (!a->obj || !b->obj || a->access == MN_ACCESS_ANY || b->access == MN_ACCESS_ANY)
		return false;
	return a->obj != b->obj || (a->access == MN_ACCESS_READ && b->access == MN_ACCESS_READ);
}

/* The threads of @mask whose next step commutes with thread @t's. */
static uint64_t commuting(const struct mn_sim *sim, uint64_t mask, unsigned int t)
{
	uint64_t keep = 0;

	while (mask) {
		unsigned int u = (unsigned int)__builtin_ctzll(mask);

		mask &= mask - 1;
		if (u < sim->nr_threads &&
		    independent(&sim->threads[u]->pending, &sim->threads[t]->pending))
			keep |= 1ULL << u;
	}
	return keep;
}

static bool is_preemption(const struct dfs_frame *f, unsigned int t)
{
	return f->current != NO_THREAD && (f->enabled & (1ULL << f->current)) && t != f->current;
}

static int dfs_push(struct mn_sim *sim, struct dfs *d, uint64_t enabled, int *err)
{
	const struct mn_thread *cur = sim->current;
	struct dfs_frame *f, *p;
	uint64_t allowed;

	if (d->depth == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		struct dfs_frame *n = realloc(d->frames, cap * sizeof(*n));

		if (!n) {
			*err = -ENOMEM;
			return -1;
		}
		d->frames = n;
		d->cap = cap;
	}
	p = d->depth ? &d->frames[d->depth - 1] : NULL; /* after the array may have moved */
	f = &d->frames[d->depth];
	memset(f, 0, sizeof(*f));
	f->enabled = enabled;
	f->current = cur ? (uint8_t)cur->index : NO_THREAD;
	f->sleep = d->sleep_sets ? d->sleep_now & enabled : 0;
	if (p)
		f->preemptions = p->preemptions + is_preemption(p, p->chosen);
	allowed = enabled & ~f->sleep;
	if (f->current != NO_THREAD && (allowed & (1ULL << f->current))) {
		f->chosen = f->current;
	} else {
		if (f->current != NO_THREAD && (enabled & (1ULL << f->current)) &&
		    f->preemptions >= d->bound)
			allowed = 0;
		if (!allowed)
			return -1; /* every way on is asleep or over the bound: prune */
		f->chosen = (uint8_t)__builtin_ctzll(allowed);
	}
	f->done = 1ULL << f->chosen;
	d->depth++;
	return f->chosen;
}

static int pick_dfs(struct mn_sim *sim, void *state, uint64_t enabled, unsigned int decision,
		    int *err)
{
	struct dfs *d = state;
	const struct dfs_frame *f;
	int t;

	if (decision < d->depth) {
		f = &d->frames[decision];
		if (f->enabled != enabled) {
			*err = -EPROTO; /* the scenario does not replay deterministically */
			return -1;
		}
		t = f->chosen;
	} else {
		t = dfs_push(sim, d, enabled, err);
		if (t < 0)
			return t;
		f = &d->frames[decision];
	}
	/*
	 * Godefroid: what slept here, or was tried here before this choice, sleeps on after
	 * it as long as it commutes with the chosen step.
	 */
	if (d->sleep_sets)
		d->sleep_now = commuting(sim, f->sleep | (f->done & ~(1ULL << t)), (unsigned int)t);
	return t;
}

/* A move with a single enabled thread: it wakes the sleepers it does not commute with. */
static bool forced_dfs(struct mn_sim *sim, void *state, unsigned int t)
{
	struct dfs *d = state;

	if (!d->sleep_sets)
		return true;
	if (d->sleep_now & (1ULL << t))
		return false; /* only a sleeping step is left: this run adds nothing new */
	d->sleep_now = commuting(sim, d->sleep_now, t);
	return true;
}

/*
 * Knuth's estimate of the size of a search tree from one path: the product of the
 * branching factors along it (Knuth, "Estimating the efficiency of backtrack programs",
 * 1975). The explorer averages it over the paths it runs; DFS paths are not random, so it
 * gives the order of magnitude a progress line needs, not a count.
 */
static double dfs_estimate(const struct dfs *d)
{
	double est = 1;
	size_t i;

	for (i = 0; i < d->depth && est < 1e18; i++) {
		const struct dfs_frame *f = &d->frames[i];
		uint64_t choices = f->enabled & ~f->sleep;

		if (f->preemptions >= d->bound && f->current != NO_THREAD &&
		    (f->enabled & (1ULL << f->current)))
			choices &= 1ULL << f->current; /* no preemption left: one way on */
		est *= (double)MN_MAX(1, __builtin_popcountll(choices));
	}
	return est;
}

/* Move to the next unexplored path; false when the bounded space is exhausted. */
static bool dfs_backtrack(struct dfs *d)
{
	d->sleep_now = 0;
	while (d->depth) {
		struct dfs_frame *f = &d->frames[d->depth - 1];
		uint64_t cand = f->enabled & ~f->done & ~f->sleep;

		while (cand) {
			unsigned int t = (unsigned int)__builtin_ctzll(cand);

			cand &= cand - 1;
			if (f->preemptions + is_preemption(f, t) <= d->bound) {
				f->chosen = (uint8_t)t;
				f->done |= 1ULL << t;
				return true;
			}
		}
		d->depth--;
	}
	return false;
}

/* ---- a set of terminal state hashes ------------------------------------------------ */

struct hash_set {
	uint64_t *v;
	size_t size;
	size_t n;
	bool has_zero;
};

static int hash_set_add(struct hash_set *s, uint64_t h)
{
	size_t i;

	if (h == 0) {
		s->n += !s->has_zero;
		s->has_zero = true;
		return 0;
	}
	if (2 * (s->n + 1) > s->size) {
		struct hash_set g = { calloc(s->size ? 2 * s->size : 1024, sizeof(uint64_t)),
				      s->size ? 2 * s->size : 1024, 0, s->has_zero };

		if (!g.v)
			return -ENOMEM;
		for (i = 0; i < s->size; i++)
			if (s->v[i])
				hash_set_add(&g, s->v[i]);
		g.n = s->n;
		free(s->v);
		*s = g;
	}
	for (i = (size_t)(h * 0x9e3779b97f4a7c15ULL) & (s->size - 1); s->v[i];
	     i = (i + 1) & (s->size - 1))
		if (s->v[i] == h)
			return 0;
	s->v[i] = h;
	s->n++;
	return 0;
}

/* ---- exploration ------------------------------------------------------------------ */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix_seed(uint64_t seed, uint64_t run)
{
	uint64_t z = seed + (run + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int keep_failure(struct mn_sim *sim, struct mn_explore_result *res)
{
	const struct mn_violation *v = mn_trace_violation(sim->trace, 0);
	struct mn_explore_failure *f, *n;

	n = realloc(res->failures, (res->nr_failures + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	res->failures = n;
	f = &n[res->nr_failures];
	memset(f, 0, sizeof(*f));
	f->schedule = strdup(mn_sim_get_schedule(sim));
	if (!f->schedule)
		return -ENOMEM;
	if (v) {
		f->violation = *v;
	} else {
		/* Counted but not kept (the trace's cap): say so. */
		f->violation.kind = MN_VIOL_CHECK;
		f->violation.invariant = "sim.unrecorded";
		f->violation.pfn = MN_INVALID_PFN;
	}
	f->violation.schedule = f->schedule;
	res->nr_failures++;
	return 0;
}

static int validate(const struct mn_scenario *sc, const struct mn_explore_config *cfg)
{
	if (!sc || !sc->setup || !cfg)
		return -EINVAL;
	switch (cfg->strategy) {
	case MN_EXPLORE_DFS:
		return 0;
	case MN_EXPLORE_PCT:
		if (!cfg->pct_depth)
			return -EINVAL;
		/* fall through */
	case MN_EXPLORE_RANDOM:
		return cfg->max_schedules ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/* Explore in the world @sim (already carrying its mutations). */
static int explore_in(struct mn_sim *sim, const struct mn_scenario *sc,
		      const struct mn_explore_config *cfg, struct mn_explore_result *res)
{
	/*
	 * Sleep sets prune only an unbounded search: under a preemption bound the one
	 * representative they keep may need more preemptions than the bound allows, so outcomes
	 * reachable within the bound would be lost (Coons et al., OOPSLA 2013).
	 */
	struct dfs d = {
		.bound = cfg->preemption_bound,
		.sleep_sets = cfg->sleep_sets && cfg->preemption_bound == UINT_MAX,
	};
	struct sched_ops dfs_ops = { .pick = pick_dfs, .forced = forced_dfs, .state = &d };
	double start = now_seconds(), last_progress = start;
	double interval = cfg->progress_interval > 0 ? cfg->progress_interval : 0.5;
	unsigned int max_failures = cfg->max_failures ? cfg->max_failures : 16;
	struct hash_set states = { 0 };
	double est_sum = 0;
	uint64_t run;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	for (run = 0;; run++) {
		struct mn_sched sched = { .seed = mix_seed(cfg->seed, run) };
		struct mn_run_stats st;
		struct sched_ops ops;
		void *sstate = NULL;
		int r;

		if (run && (ret = mn_sim_reset(sim)))
			break;
		ret = sc->setup(sim, sc->arg);
		if (ret)
			break;
		if (cfg->strategy == MN_EXPLORE_DFS) {
			r = sim_run(sim, &dfs_ops);
			/* A run that ends before the prefix it replays is not the same run. */
			if (r >= 0 && r != MN_RUN_VIOLATION && sim->stats.decisions < d.depth)
				r = -EPROTO;
		} else {
			sched.kind = cfg->strategy == MN_EXPLORE_PCT ? MN_SCHED_PCT : MN_SCHED_RANDOM;
			sched.pct_depth = cfg->pct_depth;
			sched.pct_steps = res->max_depth ? res->max_depth : 0;
			ret = sched_init(sim, &sched, &ops, &sstate);
			if (ret)
				break;
			r = sim_run(sim, &ops);
			sched_fini(sim, sstate);
		}
		if (r < 0) {
			ret = r;
			break;
		}
		if (r == MN_RUN_OK && sc->check) {
			sc->check(sim, sc->arg);
			if (sim_sync_failed(sim)) {
				r = MN_RUN_VIOLATION;
				sim_stamp_violations(sim);
			}
		}
		if (cfg->strategy == MN_EXPLORE_DFS)
			est_sum += dfs_estimate(&d);
		mn_sim_get_run_stats(sim, &st);
		res->max_depth = MN_MAX(res->max_depth, (unsigned int)st.decisions);
		res->max_preemptions = MN_MAX(res->max_preemptions, (unsigned int)st.preemptions);
		if (r == MN_RUN_PRUNED) {
			res->pruned++;
		} else {
			res->schedules++;
			if (r == MN_RUN_OK && sc->state_hash &&
			    (ret = hash_set_add(&states, sc->state_hash(sim, sc->arg))))
				break;
		}
		if (r == MN_RUN_VIOLATION) {
			res->failing_runs++;
			if (!res->nr_failures || (cfg->collect_all && res->nr_failures < max_failures))
				if ((ret = keep_failure(sim, res)))
					break;
			if (!cfg->collect_all)
				break;
		}
		if (cfg->progress && now_seconds() - last_progress >= interval) {
			struct mn_explore_progress p = {
				.schedules = res->schedules,
				.pruned = res->pruned,
				.failures = res->failing_runs,
				.total = cfg->max_schedules,
				.estimated = cfg->strategy == MN_EXPLORE_DFS ?
						     (uint64_t)(est_sum / (double)(run + 1)) :
						     cfg->max_schedules,
			};

			last_progress = now_seconds();
			p.seconds = last_progress - start;
			p.rate = p.seconds > 0 ? (double)res->schedules / p.seconds : 0;
			cfg->progress(cfg->progress_arg, &p);
		}
		if (cfg->strategy == MN_EXPLORE_DFS && !dfs_backtrack(&d)) {
			res->exhausted = true;
			break;
		}
		if (cfg->max_schedules && res->schedules + res->pruned >= cfg->max_schedules)
			break;
		if (cfg->max_seconds > 0 && now_seconds() - start >= cfg->max_seconds)
			break;
	}
	res->distinct_states = states.n;
	res->seconds = now_seconds() - start;
	free(states.v);
	free(d.frames);
	if (ret)
		mn_explore_result_free(res);
	return ret;
}

static int world_for(const struct mn_sim_config *cfg, const char *const *skip, size_t nr_skip,
		     struct mn_sim **out)
{
	struct mn_sim *sim;
	size_t i;
	int ret;

	ret = mn_sim_create(cfg, &sim);
	if (ret)
		return ret;
	for (i = 0; i < nr_skip && !ret; i++)
		ret = mn_sim_skip_step(sim, skip[i]);
	if (ret) {
		mn_sim_destroy(sim);
		return ret;
	}
	*out = sim;
	return 0;
}

int mn_explore(const struct mn_scenario *sc, const struct mn_explore_config *cfg,
	       struct mn_explore_result *res)
{
	struct mn_sim *sim;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = validate(sc, cfg);
	if (!ret)
		ret = world_for(&cfg->sim, cfg->skip_steps, cfg->nr_skip_steps, &sim);
	if (ret)
		return ret;
	ret = explore_in(sim, sc, cfg, res);
	mn_sim_destroy(sim);
	return ret;
}

void mn_explore_result_free(struct mn_explore_result *res)
{
	size_t i;

	for (i = 0; i < res->nr_failures; i++)
		free(res->failures[i].schedule);
	free(res->failures);
	memset(res, 0, sizeof(*res));
}

int mn_explore_replay(const struct mn_scenario *sc, const struct mn_sim_config *cfg,
		      const char *const *skip_steps, size_t nr_skip_steps, const char *schedule,
		      struct mn_sim **out)
{
	struct mn_sim_config c = cfg ? *cfg : (struct mn_sim_config){ 0 };
	struct mn_sched sched = { .kind = MN_SCHED_REPLAY, .schedule = schedule };
	struct mn_sim *sim;
	uint32_t *choices;
	size_t n;
	int ret;

	if (!sc || !sc->setup)
		return -EINVAL;
	ret = sched_parse(schedule, &choices, &n);
	if (ret)
		return ret;
	free(choices);
	c.trace_mode = MN_TRACE_FULL;
	ret = world_for(&c, skip_steps, nr_skip_steps, &sim);
	if (ret)
		return ret;
	ret = sc->setup(sim, sc->arg);
	if (!ret)
		ret = mn_sim_run(sim, &sched);
	if (ret == MN_RUN_OK && sc->check) {
		sc->check(sim, sc->arg);
		if (sim_sync_failed(sim)) {
			ret = MN_RUN_VIOLATION;
			sim_stamp_violations(sim);
		}
	}
	if (ret < 0) {
		mn_sim_destroy(sim);
		return ret;
	}
	*out = sim;
	return ret;
}

void mn_mutants_free(struct mn_mutant *m, size_t nr)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < nr; i++) {
		free(m[i].step);
		free(m[i].schedule);
	}
	free(m);
}

int mn_explore_mutants(const struct mn_scenario *sc, const struct mn_explore_config *cfg,
		       struct mn_mutant **out, size_t *nr)
{
	struct mn_explore_config c;
	struct mn_explore_result res;
	struct mn_mutant *m = NULL;
	struct mn_sim *sim;
	size_t i, n = 0;
	int ret;

	*out = NULL;
	*nr = 0;
	ret = validate(sc, cfg);
	if (!ret)
		ret = world_for(&cfg->sim, NULL, 0, &sim);
	if (ret)
		return ret;
	c = *cfg;
	c.collect_all = false;
	c.skip_steps = NULL;
	c.nr_skip_steps = 0;
	ret = explore_in(sim, sc, &c, &res);
	if (!ret && res.failing_runs)
		ret = -ECANCELED;
	mn_explore_result_free(&res);
	if (!ret) {
		n = mn_sim_nr_steps(sim);
		m = calloc(n ? n : 1, sizeof(*m));
		if (!m)
			ret = -ENOMEM;
	}
	for (i = 0; i < n && !ret; i++) {
		m[i].step = strdup(mn_sim_step_id(sim, i));
		if (!m[i].step) {
			ret = -ENOMEM;
			break;
		}
	}
	for (i = 0; i < n && !ret; i++) {
		mn_sim_clear_mutations(sim);
		ret = mn_sim_skip_step(sim, m[i].step);
		if (!ret)
			ret = mn_sim_reset(sim);
		if (!ret)
			ret = explore_in(sim, sc, &c, &res);
		if (ret)
			break;
		m[i].schedules = res.schedules + res.pruned;
		if (res.nr_failures) {
			m[i].caught = true;
			m[i].invariant = res.failures[0].violation.invariant;
			m[i].schedule = res.failures[0].schedule;
			res.failures[0].schedule = NULL;
		}
		mn_explore_result_free(&res);
	}
	mn_sim_destroy(sim);
	if (ret) {
		mn_mutants_free(m, n);
		return ret;
	}
	*out = m;
	*nr = n;
	return 0;
}
