// SPDX-License-Identifier: MIT
/*
 * sched.c - scheduling policies for mn_sim_run() (first-enabled, replay, seeded random,
 * PCT) and schedule strings: recording the choices of a run, rendering them as
 * "s1:T[xN],...", and parsing them back.
 */
#include "sim/sim-internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- schedule strings ------------------------------------------------------------- */

#define SCHED_PREFIX "s1:"

/* rec holds (thread, count) pairs. */
int sched_record(struct mn_sim *sim, unsigned int thread)
{
	if (sim->rec_n && sim->rec[2 * (sim->rec_n - 1)] == thread &&
	    sim->rec[2 * (sim->rec_n - 1) + 1] < UINT32_MAX) {
		sim->rec[2 * (sim->rec_n - 1) + 1]++;
		return 0;
	}
	if (mn_array_grow(sim->alloc, (void **)&sim->rec, &sim->rec_cap, sim->rec_n + 1,
			  2 * sizeof(*sim->rec)))
		return -ENOMEM;
	sim->rec[2 * sim->rec_n] = thread;
	sim->rec[2 * sim->rec_n + 1] = 1;
	sim->rec_n++;
	return 0;
}

int sched_render(struct mn_sim *sim)
{
	size_t i, len = sizeof(SCHED_PREFIX) + sim->rec_n * 24, pos;
	char *s;

	s = mn_malloc(sim->alloc, len);
	if (!s)
		return -ENOMEM;
	pos = (size_t)snprintf(s, len, SCHED_PREFIX);
	for (i = 0; i < sim->rec_n; i++) {
		uint32_t t = sim->rec[2 * i], n = sim->rec[2 * i + 1];

		if (n == 1)
			pos += (size_t)snprintf(s + pos, len - pos, "%s%u", i ? "," : "", t);
		else
			pos += (size_t)snprintf(s + pos, len - pos, "%s%ux%u", i ? "," : "", t, n);
	}
	sim->schedule = s;
	return 0;
}

static bool parse_uint(const char **p, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

/* Parse @s into malloc'd (thread, count) pairs; -EINVAL when malformed. */
int sched_parse(const char *s, uint32_t **choices, size_t *n)
{
	size_t cap = 0, nr = 0;
	uint32_t *v = NULL;
	const char *p;

	*choices = NULL;
	*n = 0;
	if (!s || strncmp(s, SCHED_PREFIX, strlen(SCHED_PREFIX)))
		return -EINVAL;
	p = s + strlen(SCHED_PREFIX);
	while (*p) {
		uint64_t t, count = 1;

		if (nr && *p++ != ',')
			goto bad;
		if (!parse_uint(&p, MN_SIM_MAX_THREADS - 1, &t))
			goto bad;
		if (*p == 'x') {
			p++;
			if (!parse_uint(&p, UINT32_MAX, &count) || count == 0)
				goto bad;
		}
		if (nr == cap) {
			uint32_t *nv;

			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * 2 * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[2 * nr] = (uint32_t)t;
		v[2 * nr + 1] = (uint32_t)count;
		nr++;
	}
	*choices = v;
	*n = nr;
	return 0;
bad:
	free(v);
	return -EINVAL;
}

/* No preemption: the running thread while it is enabled, else the lowest index. */
int sched_first(const struct mn_sim *sim, uint64_t enabled)
{
	const struct mn_thread *cur = sim->current;

	if (cur && (enabled & thread_bit(cur)))
		return (int)cur->index;
	return __builtin_ctzll(enabled);
}

/* ---- policies --------------------------------------------------------------------- */

struct sched_state {
	enum mn_sched_kind kind;
	uint64_t rng;
	/* replay */
	uint32_t *choices;
	size_t nr_choices;
	size_t cursor;
	uint32_t used; /* of choices[cursor] */
	/* PCT */
	unsigned int depth;
	unsigned int prio[MN_SIM_MAX_THREADS];
	unsigned int *change_at; /* decision counts (1-based), depth - 1 of them */
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int nth_bit(uint64_t m, unsigned int n)
{
	while (n--)
		m &= m - 1;
	return __builtin_ctzll(m);
}

static int pick_first(struct mn_sim *sim, void *state, uint64_t enabled, unsigned int decision,
		      int *err)
{
	(void)state, (void)decision, (void)err;
	return sched_first(sim, enabled);
}

static int pick_replay(struct mn_sim *sim, void *state, uint64_t enabled, unsigned int decision,
		       int *err)
{
	struct sched_state *st = state;
	uint32_t t;

	(void)decision;
	if (st->cursor >= st->nr_choices)
		return sched_first(sim, enabled);
	t = st->choices[2 * st->cursor];
	if (++st->used == st->choices[2 * st->cursor + 1]) {
		st->cursor++;
		st->used = 0;
	}
	if (!(enabled & (1ULL << t))) {
		*err = -EINVAL; /* the schedule does not fit this scenario */
		return -1;
	}
	return (int)t;
}

static int pick_random(struct mn_sim *sim, void *state, uint64_t enabled, unsigned int decision,
		       int *err)
{
	struct sched_state *st = state;

	(void)sim, (void)decision, (void)err;
	return nth_bit(enabled, (unsigned int)(rng_next(&st->rng) %
					       (uint64_t)__builtin_popcountll(enabled)));
}

/*
 * PCT: threads run by priority, highest first; at the i-th of the depth - 1 change points
 * the running thread drops to priority i, below every initial priority.
 */
static int pick_pct(struct mn_sim *sim, void *state, uint64_t enabled, unsigned int decision,
		    int *err)
{
	struct sched_state *st = state;
	unsigned int i, best = 0;
	int pick = -1;

	(void)err;
	for (i = 0; i + 1 < st->depth; i++)
		if (st->change_at[i] == decision + 1 && sim->current)
			st->prio[sim->current->index] = i + 1;
	for (i = 0; i < MN_SIM_MAX_THREADS; i++) {
		if ((enabled & (1ULL << i)) && st->prio[i] > best) {
			best = st->prio[i];
			pick = (int)i;
		}
	}
	return pick;
}

int sched_init(struct mn_sim *sim, const struct mn_sched *sched, struct sched_ops *ops,
	       void **state)
{
	struct sched_state *st;
	unsigned int i, steps;
	int ret;

	switch (sched->kind) {
	case MN_SCHED_FIRST:
	case MN_SCHED_REPLAY:
	case MN_SCHED_RANDOM:
		break;
	case MN_SCHED_PCT:
		if (sched->pct_depth == 0 || sched->pct_depth > 1024)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	st = mn_zalloc(sim->alloc, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->kind = sched->kind;
	st->rng = sched->seed;
	ops->state = st;
	ops->forced = NULL;
	*state = st;
	switch (sched->kind) {
	case MN_SCHED_FIRST:
		ops->pick = pick_first;
		break;
	case MN_SCHED_REPLAY:
		ret = sched_parse(sched->schedule, &st->choices, &st->nr_choices);
		if (ret) {
			mn_free(sim->alloc, st);
			return ret;
		}
		ops->pick = pick_replay;
		break;
	case MN_SCHED_RANDOM:
		ops->pick = pick_random;
		break;
	case MN_SCHED_PCT:
		st->depth = sched->pct_depth;
		steps = sched->pct_steps ? sched->pct_steps : 64;
		/* Initial priorities: a random permutation of depth .. depth + 63. */
		for (i = 0; i < MN_SIM_MAX_THREADS; i++)
			st->prio[i] = st->depth + i;
		for (i = MN_SIM_MAX_THREADS - 1; i > 0; i--) {
			unsigned int j = (unsigned int)(rng_next(&st->rng) % (i + 1)), tmp;

			tmp = st->prio[i];
			st->prio[i] = st->prio[j];
			st->prio[j] = tmp;
		}
		st->change_at = mn_calloc(sim->alloc, st->depth, sizeof(*st->change_at));
		if (!st->change_at) {
			mn_free(sim->alloc, st);
			return -ENOMEM;
		}
		for (i = 0; i + 1 < st->depth; i++)
			st->change_at[i] = 1 + (unsigned int)(rng_next(&st->rng) % steps);
		ops->pick = pick_pct;
		break;
	}
	return 0;
}

/* Whether a replay left choices unused (the string belongs to a longer run). */
bool sched_leftover(const void *state)
{
	const struct sched_state *st = state;

	return st && st->kind == MN_SCHED_REPLAY && st->cursor < st->nr_choices;
}

void sched_fini(struct mn_sim *sim, void *state)
{
	struct sched_state *st = state;

	if (!st)
		return;
	free(st->choices);
	mn_free(sim->alloc, st->change_at);
	mn_free(sim->alloc, st);
}
