// SPDX-License-Identifier: MIT
/*
 * lockdep.c - lock-order checking in the spirit of kernel/locking/lockdep.c: every time a
 * thread blocks for lock B while holding lock A, the edge A -> B joins a per-world graph of
 * lock classes (lock names); taking B while holding A when B already reaches A is an
 * inversion, a deadlock waiting for the right schedule, reported even when this run did not
 * deadlock.
 */
#include "sim/sim-internal.h"

#define WORDS (LOCKDEP_MAX_CLASS / 64)

struct lockdep {
	const char *names[LOCKDEP_MAX_CLASS];
	unsigned int nr;
	uint64_t edge[LOCKDEP_MAX_CLASS][WORDS];
	uint64_t reported[LOCKDEP_MAX_CLASS][WORDS];
};

int lockdep_create(struct mn_sim *sim)
{
	sim->lockdep = mn_zalloc(sim->alloc, sizeof(*sim->lockdep));
	return sim->lockdep ? 0 : -ENOMEM;
}

/* The class of @name, registered on first sight; -1 once the table is full. */
static int class_of(struct lockdep *ld, const char *name)
{
	unsigned int i;

	for (i = 0; i < ld->nr; i++)
		if (ld->names[i] == name || !strcmp(ld->names[i], name))
			return (int)i;
	if (ld->nr == LOCKDEP_MAX_CLASS)
		return -1;
	ld->names[ld->nr] = name;
	return (int)ld->nr++;
}

static bool test_bit(const uint64_t *m, unsigned int i)
{
	return m[i / 64] & (1ULL << (i % 64));
}

static void set_bit(uint64_t *m, unsigned int i)
{
	m[i / 64] |= 1ULL << (i % 64);
}

/* Whether @to is reachable from @from over recorded edges. */
static bool reaches(const struct lockdep *ld, unsigned int from, unsigned int to)
{
	uint64_t seen[WORDS] = { 0 }, frontier[WORDS] = { 0 };
	unsigned int i, w;
	bool grew = true;

	set_bit(frontier, from);
	set_bit(seen, from);
	while (grew) {
		uint64_t next[WORDS] = { 0 };

		grew = false;
		for (i = 0; i < ld->nr; i++)
			if (test_bit(frontier, i))
				for (w = 0; w < WORDS; w++)
					next[w] |= ld->edge[i][w];
		for (w = 0; w < WORDS; w++) {
			next[w] &= ~seen[w];
			seen[w] |= next[w];
			frontier[w] = next[w];
			grew |= next[w] != 0;
		}
		if (test_bit(seen, to))
			return true;
	}
	return false;
}

void lockdep_acquire(struct mn_sim *sim, const char *name, bool blocking)
{
	struct lockdep *ld = sim->lockdep;
	struct mn_thread *t = sim->current;
	unsigned int i;
	int cls, held;

	if (!t || !ld || !blocking)
		return;
	cls = class_of(ld, name);
	if (cls < 0)
		return;
	for (i = 0; i < t->nr_held; i++) {
		held = class_of(ld, t->held[i].name);
		if (held < 0 || held == cls || test_bit(ld->edge[held], (unsigned int)cls))
			continue;
		if (reaches(ld, (unsigned int)cls, (unsigned int)held) &&
		    !test_bit(ld->reported[held], (unsigned int)cls)) {
			set_bit(ld->reported[held], (unsigned int)cls);
			mn_sim_reportf(sim, MN_VIOL_LOCK, "lock.order_inversion",
				       "%s takes %s while holding %s, but %s was taken before %s "
				       "earlier in this world",
				       t->name, name, t->held[i].name, name, t->held[i].name);
		}
		set_bit(ld->edge[held], (unsigned int)cls);
	}
}
