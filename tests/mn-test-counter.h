/* SPDX-License-Identifier: MIT */
/*
 * mn-test-counter.h - the classic lost-update scenario shared by tests and benchmarks:
 * increments of one shared counter as a read and a write, optionally under a mutex, and
 * optionally with the lock, unlock and a no-op bookkeeping step as named steps (mutants).
 */
#ifndef MN_TEST_COUNTER_H
#define MN_TEST_COUNTER_H

#include <mnsim.h>

struct counter {
	uint64_t value;
	struct mn_mutex lock;
	bool locked;
	bool named_steps;
	unsigned int threads;
};

static inline void counter_inc(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;
	uint64_t v;

	if (c->named_steps) {
		if (mn_step(sim, "counter.lock"))
			mn_mutex_lock(sim, &c->lock);
	} else if (c->locked) {
		mn_mutex_lock(sim, &c->lock);
	}
	v = mn_atomic_read(sim, &c->value, "counter.read");
	mn_atomic_set(sim, &c->value, v + 1, "counter.write");
	if (c->named_steps) {
		if (mn_step(sim, "counter.unlock"))
			mn_mutex_unlock(sim, &c->lock);
		/* A step with no effect on the outcome: its mutant must survive. */
		if (mn_step(sim, "counter.stats"))
			(void)0;
	} else if (c->locked) {
		mn_mutex_unlock(sim, &c->lock);
	}
}

static inline int counter_setup(struct mn_sim *sim, void *arg)
{
	static const char *const names[] = { "inc0", "inc1", "inc2", "inc3" };
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

static inline void counter_check(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;

	if (c->value != c->threads)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "counter.lost_update", "counter is %llu, not %u",
			       (unsigned long long)c->value, c->threads);
}

static inline uint64_t counter_hash(struct mn_sim *sim, void *arg)
{
	(void)sim;
	return ((struct counter *)arg)->value;
}

static inline struct mn_scenario counter_scenario(struct counter *c)
{
	struct mn_scenario sc = {
		.name = "counter",
		.setup = counter_setup,
		.check = counter_check,
		.state_hash = counter_hash,
		.arg = c,
	};

	return sc;
}

#endif /* MN_TEST_COUNTER_H */
