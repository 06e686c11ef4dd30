// SPDX-License-Identifier: MIT
/*
 * step.c - named steps and mutations: the registry of step ids a world has passed (kept
 * across resets, in first-passage order), per-run passage counts, and the set of ids a
 * mutation skips.
 */
#include "sim/sim-internal.h"

#include <stdlib.h>

static size_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return (size_t)h;
}

static int rehash(struct mn_sim *sim, size_t size)
{
	size_t *tab = calloc(size, sizeof(*tab)), i;

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < sim->nr_steps; i++) {
		size_t h = hash_str(sim->steps[i].id) & (size - 1);

		while (tab[h])
			h = (h + 1) & (size - 1);
		tab[h] = i + 1;
	}
	free(sim->step_hash);
	sim->step_hash = tab;
	sim->step_hash_size = size;
	return 0;
}

static bool is_skipped(const struct mn_sim *sim, const char *id)
{
	size_t i;

	for (i = 0; i < sim->nr_skip; i++)
		if (!strcmp(sim->skip[i], id))
			return true;
	return false;
}

int step_register(struct mn_sim *sim, const char *id, size_t *idx)
{
	struct step_entry *e;
	size_t h;
	char *copy;

	if (sim->step_hash_size) {
		h = hash_str(id) & (sim->step_hash_size - 1);
		for (; sim->step_hash[h]; h = (h + 1) & (sim->step_hash_size - 1)) {
			e = &sim->steps[sim->step_hash[h] - 1];
			if (e->id == id || !strcmp(e->id, id)) {
				*idx = sim->step_hash[h] - 1;
				return 0;
			}
		}
	}
	if (2 * (sim->nr_steps + 1) > sim->step_hash_size &&
	    rehash(sim, sim->step_hash_size ? 2 * sim->step_hash_size : 64))
		return -ENOMEM;
	if (sim->nr_steps == sim->steps_cap) {
		size_t cap = sim->steps_cap ? 2 * sim->steps_cap : 32;
		struct step_entry *n = realloc(sim->steps, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sim->steps = n;
		sim->steps_cap = cap;
	}
	copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	e = &sim->steps[sim->nr_steps];
	e->id = copy;
	e->count = 0;
	e->skip = is_skipped(sim, id);
	h = hash_str(id) & (sim->step_hash_size - 1);
	while (sim->step_hash[h])
		h = (h + 1) & (sim->step_hash_size - 1);
	sim->step_hash[h] = ++sim->nr_steps;
	*idx = sim->nr_steps - 1;
	return 0;
}

void steps_reset_counts(struct mn_sim *sim)
{
	size_t i;

	for (i = 0; i < sim->nr_steps; i++)
		sim->steps[i].count = 0;
}

void steps_free(struct mn_sim *sim)
{
	size_t i;

	mn_sim_clear_mutations(sim);
	free(sim->skip);
	sim->skip = NULL;
	for (i = 0; i < sim->nr_steps; i++)
		free(sim->steps[i].id);
	free(sim->steps);
	free(sim->step_hash);
	sim->steps = NULL;
	sim->step_hash = NULL;
	sim->nr_steps = sim->steps_cap = sim->step_hash_size = 0;
}

bool __mn_step(struct mn_sim *sim, const char *id)
{
	bool skip;
	size_t i;

	__mn_yield(sim, id, NULL, MN_ACCESS_ANY);
	if (step_register(sim, id, &i)) {
		/* Out of memory for the registry: run the step, unrecorded. */
		return !is_skipped(sim, id);
	}
	sim->steps[i].count++;
	skip = sim->steps[i].skip;
	if (mn_trace_is_on(sim->trace)) {
		const struct mn_kv kv[] = { MN_KV_S("skipped", "yes") };

		mn_trace_emit(sim->trace, id, kv, skip ? 1 : 0);
	}
	return !skip;
}

int mn_sim_skip_step(struct mn_sim *sim, const char *id)
{
	char **n, *copy;
	size_t i;

	if (!id || !*id)
		return -EINVAL;
	if (is_skipped(sim, id))
		return 0;
	n = realloc(sim->skip, (sim->nr_skip + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	sim->skip = n;
	copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	sim->skip[sim->nr_skip++] = copy;
	for (i = 0; i < sim->nr_steps; i++)
		if (!strcmp(sim->steps[i].id, id))
			sim->steps[i].skip = true;
	sim->head.slow = true;
	return 0;
}

void mn_sim_clear_mutations(struct mn_sim *sim)
{
	size_t i;

	for (i = 0; i < sim->nr_skip; i++)
		free(sim->skip[i]);
	sim->nr_skip = 0;
	for (i = 0; i < sim->nr_steps; i++)
		sim->steps[i].skip = false;
	sim->head.slow = sim->running;
}

size_t mn_sim_nr_steps(const struct mn_sim *sim)
{
	return sim->nr_steps;
}

const char *mn_sim_step_id(const struct mn_sim *sim, size_t i)
{
	return i < sim->nr_steps ? sim->steps[i].id : NULL;
}

uint64_t mn_sim_step_count(const struct mn_sim *sim, size_t i)
{
	return i < sim->nr_steps ? sim->steps[i].count : 0;
}
