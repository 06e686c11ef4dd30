/* SPDX-License-Identifier: MIT */
/*
 * mn-test-host.h - what the host tests share: a recording mmu_notifier subscriber (which
 * callbacks ran, on which range and event, whether watched frames were still live and how
 * many host entries the range still had), and a world with one mm and that subscriber.
 */
#ifndef MN_TEST_HOST_H
#define MN_TEST_HOST_H

#include "mn-test.h"

#include <errno.h>
#include <string.h>

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define PG  4096ULL

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- a recording subscriber ------------------------------------------------------------ */

struct rec_event {
	char kind; /* 's' start, 'e' end, 'y' young, 'r' release */
	mn_hva_t start, end;
	enum mn_notify_event event;
	const void *owner;
	bool blockable;
	unsigned int live;   /* watched frames still live when the callback ran */
	unsigned int mapped; /* host entries present in [start, end) when it ran */
};

struct recorder {
	struct mn_notifier n;
	struct mn_mm *mm;
	struct rec_event ev[64];
	unsigned int nr;
	struct mn_frame_ref watch[8];
	unsigned int nr_watch;
	int start_ret;	  /* what invalidate_range_start answers */
	bool sleep_start; /* takes a mutex in start (sleeps) */
	struct mn_mutex m;
	int young;	 /* what the aging callbacks answer */
	bool use_at_end; /* a buggy subscriber: reads watch[0] at end */
};

static inline unsigned int live_frames(struct recorder *r)
{
	struct mn_phys *phys = mn_sim_get_phys(mn_mm_get_sim(r->mm));
	unsigned int i, n = 0;

	for (i = 0; i < r->nr_watch; i++)
		n += mn_phys_ref_valid(phys, r->watch[i]);
	return n;
}

static inline unsigned int mapped_in(struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	unsigned int n = 0;
	mn_hva_t a;

	end = end > (1ULL << 47) ? (1ULL << 47) : end;
	if (end - start > 64 * MiB)
		return 0; /* whole-space ranges: not counted */
	for (a = start; a < end; a += PG) {
		struct mn_pt_walk w;

		if (!mn_pt_walk(mn_mm_get_pt(mm), a / PG, &w) || w.leaf.kind != MN_PTE_NONE)
			n++;
	}
	return n;
}

static inline struct rec_event *rec_add(struct recorder *r, char kind, mn_hva_t start, mn_hva_t end)
{
	struct rec_event *e = &r->ev[r->nr < 64 ? r->nr : 63];

	if (r->nr < 64)
		r->nr++;
	*e = (struct rec_event){ .kind = kind, .start = start, .end = end };
	e->live = live_frames(r);
	e->mapped = mapped_in(r->mm, start, end);
	return e;
}

static inline int rec_start(struct mn_notifier *n, const struct mn_notifier_range *range)
{
	struct recorder *r = container_of(n, struct recorder, n);
	struct rec_event *e = rec_add(r, 's', range->start, range->end);
	struct mn_sim *sim = mn_mm_get_sim(r->mm);

	e->event = range->event;
	e->owner = range->owner;
	e->blockable = range->flags & MN_NOTIFIER_RANGE_BLOCKABLE;
	if (r->sleep_start) {
		mn_mutex_lock(sim, &r->m);
		mn_mutex_unlock(sim, &r->m);
	}
	return e->blockable ? 0 : r->start_ret;
}

static inline void rec_end(struct mn_notifier *n, const struct mn_notifier_range *range)
{
	struct recorder *r = container_of(n, struct recorder, n);
	struct rec_event *e = rec_add(r, 'e', range->start, range->end);

	e->event = range->event;
	e->owner = range->owner;
	e->blockable = range->flags & MN_NOTIFIER_RANGE_BLOCKABLE;
	if (r->use_at_end && r->nr_watch) {
		uint64_t val;

		mn_phys_read(mn_sim_get_phys(mn_mm_get_sim(r->mm)), r->watch[0], &val,
			     "buggy_subscriber.read");
	}
}

static inline int rec_young(struct mn_notifier *n, struct mn_mm *mm, mn_hva_t start, mn_hva_t end)
{
	struct recorder *r = container_of(n, struct recorder, n);

	(void)mm;
	rec_add(r, 'y', start, end);
	return r->young;
}

static inline int rec_test_young(struct mn_notifier *n, struct mn_mm *mm, mn_hva_t addr)
{
	return rec_young(n, mm, addr, addr + 1);
}

static inline void rec_release(struct mn_notifier *n, struct mn_mm *mm)
{
	struct recorder *r = container_of(n, struct recorder, n);

	(void)mm;
	rec_add(r, 'r', 0, 0);
}

static const struct mn_notifier_ops rec_ops = {
	.release = rec_release,
	.clear_flush_young = rec_young,
	.clear_young = rec_young,
	.test_young = rec_test_young,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
};

static inline void rec_init(struct recorder *r, struct mn_mm *mm)
{
	memset(r, 0, sizeof(*r));
	r->n.ops = &rec_ops;
	r->mm = mm;
	mn_mutex_init(&r->m, "subscriber_mutex");
	assert_int_equal(mn_notifier_register(&r->n, mm), 0);
}

static inline unsigned int rec_count(const struct recorder *r, char kind)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->nr; i++)
		n += r->ev[i].kind == kind;
	return n;
}

/* ---- worlds ------------------------------------------------------------------------------ */

struct world {
	struct mn_sim *sim;
	struct mn_phys *phys;
	struct mn_mm *mm;
	struct recorder rec;
};

static inline void world_init(struct world *w, enum mn_thp_mode thp)
{
	struct mn_sim_config sc = { .trace_mode = MN_TRACE_OFF, .keep_going = true };
	struct mn_mm_config mc = { .thp = thp };

	memset(w, 0, sizeof(*w));
	assert_int_equal(mn_sim_create(&sc, &w->sim), 0);
	w->phys = mn_sim_get_phys(w->sim);
	assert_int_equal(mn_mm_create(w->sim, &mc, &w->mm), 0);
	rec_init(&w->rec, w->mm);
}

/* Free the world without checking it (after a test that broke it on purpose). */
static inline void world_destroy(struct world *w)
{
	mn_mm_destroy(w->mm);
	mn_sim_destroy(w->sim);
}

/* Inside a scenario's setup: an mm in @sim with the recorder subscribed. */
static inline int world_attach(struct world *w, struct mn_sim *sim, enum mn_thp_mode thp)
{
	struct mn_mm_config mc = { .thp = thp };
	int ret;

	memset(w, 0, sizeof(*w));
	w->sim = sim;
	w->phys = mn_sim_get_phys(sim);
	ret = mn_mm_create(sim, &mc, &w->mm);
	if (ret)
		return ret;
	w->rec.n.ops = &rec_ops;
	w->rec.mm = w->mm;
	mn_mutex_init(&w->rec.m, "subscriber_mutex");
	return mn_notifier_register(&w->rec.n, w->mm);
}

/*
 * Inside a race's setup: world_attach(), a VM of @cfg in the new mm, and @bytes of
 * anonymous read/write memory for its RAM at *@ram. Return: 0 or the first error.
 */
static inline int race_world_attach(struct world *w, struct mn_sim *sim, enum mn_thp_mode thp,
				    const struct mn_vm_config *cfg, uint64_t bytes,
				    struct mn_vm **vm, mn_hva_t *ram)
{
	int ret = world_attach(w, sim, thp);

	if (!ret)
		ret = mn_vm_create(w->mm, cfg, vm);
	if (!ret)
		ret = mn_mm_mmap(w->mm, 0, bytes, MN_PROT_READ | MN_PROT_WRITE,
				 MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, ram);
	return ret;
}

/* Check the host, the frames and the violation log, then free the world. */
static inline void world_fini(struct world *w)
{
	assert_int_equal(mn_mm_check_invariants(w->mm), 0);
	assert_int_equal(mn_phys_check_invariants(w->phys), 0);
	assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(w->sim)), 0);
	world_destroy(w);
}

static inline size_t nr_violations(struct world *w, const char *id)
{
	struct mn_trace *t = mn_sim_get_trace(w->sim);
	size_t i, n = 0;

	for (i = 0; i < mn_trace_nr_violations(t); i++)
		if (!id || !strcmp(mn_trace_violation(t, i)->invariant, id))
			n++;
	return n;
}

/* Anonymous memory (@flags: %MN_MAP_PRIVATE or %MN_MAP_SHARED, plus others). */
static inline mn_hva_t map_mem(struct world *w, uint64_t len, unsigned int prot, unsigned int flags)
{
	mn_hva_t a;

	assert_int_equal(mn_mm_mmap(w->mm, 0, len, prot, flags | MN_MAP_ANONYMOUS, NULL, 0, &a), 0);
	return a;
}

static inline mn_hva_t map_anon(struct world *w, uint64_t len, unsigned int prot)
{
	return map_mem(w, len, prot, MN_MAP_PRIVATE);
}

static inline void write_word(struct world *w, mn_hva_t a, uint64_t val)
{
	assert_int_equal(mn_mm_access(w->mm, a, MN_PTE_W, &val, NULL), 0);
}

static inline uint64_t read_word(struct world *w, mn_hva_t a)
{
	uint64_t val = 0;

	assert_int_equal(mn_mm_access(w->mm, a, MN_PTE_R, &val, NULL), 0);
	return val;
}

static inline struct mn_pt_walk walk(struct world *w, mn_hva_t a)
{
	struct mn_pt_walk wk;

	mn_pt_walk(mn_mm_get_pt(w->mm), a / PG, &wk);
	return wk;
}

/* The entry at @a, which must be a present leaf. */
static inline struct mn_pt_walk leaf_at(struct world *w, mn_hva_t a)
{
	struct mn_pt_walk wk;

	assert_int_equal(mn_pt_walk(mn_mm_get_pt(w->mm), a / PG, &wk), 0);
	return wk;
}

static inline struct mn_frame_ref ref_at(struct world *w, mn_hva_t a)
{
	struct mn_pt_walk wk = leaf_at(w, a);

	return (struct mn_frame_ref){ wk.pfn, wk.gen };
}

static inline struct mn_mm_stats stats(struct world *w)
{
	struct mn_mm_stats st;

	mn_mm_get_stats(w->mm, &st);
	return st;
}

/* Watch exactly one frame: its liveness is recorded at every callback. */
static inline void rec_watch(struct recorder *r, struct mn_frame_ref ref)
{
	r->watch[0] = ref;
	r->nr_watch = 1;
}

/* Exactly one start/end pair of @event over [@start, @end) was recorded. */
static inline void assert_one_pair(const struct recorder *r, enum mn_notify_event event,
				   mn_hva_t start, mn_hva_t end)
{
	unsigned int i;

	assert_int_equal(r->nr, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(r->ev[i].kind, i ? 'e' : 's');
		assert_int_equal(r->ev[i].event, event);
		assert_int_equal(r->ev[i].start, start);
		assert_int_equal(r->ev[i].end, end);
	}
}

static inline struct mn_frame_info info(struct world *w, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	assert_int_equal(mn_phys_frame_info(w->phys, pfn, &fi), 0);
	return fi;
}

/*
 * Explore @sc by DFS with at most @bound preemptions. Without @skip the scenario must pass
 * under every schedule, exhaustively (and be worth exploring: @min_schedules at least). With
 * @skip that step is skipped in every run (a mutation), and the explorer must catch it with
 * @caught as the first violation's invariant.
 */
static inline void explore_expect(const struct mn_scenario *sc, unsigned int bound,
				  uint64_t min_schedules, const char *skip, const char *caught)
{
	const char *skips[1] = { skip };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = bound,
		.max_schedules = 50000,
		.skip_steps = skips,
		.nr_skip_steps = skip ? 1 : 0,
	};
	struct mn_explore_result res;

	assert_int_equal(mn_explore(sc, &cfg, &res), 0);
	print_message("%s%s%s: %llu schedules, %llu failing\n", sc->name, skip ? " without " : "",
		      skip ? skip : "", (unsigned long long)res.schedules,
		      (unsigned long long)res.failing_runs);
	if (res.nr_failures)
		print_message("  first: %s: %s (schedule %s)\n",
			      res.failures[0].violation.invariant, res.failures[0].violation.detail,
			      res.failures[0].schedule);
	if (!skip) {
		assert_int_equal(res.failing_runs, 0);
		assert_true(res.exhausted);
		assert_true(res.schedules >= min_schedules);
	} else {
		assert_true(res.failing_runs > 0);
		assert_string_equal(res.failures[0].violation.invariant, caught);
	}
	mn_explore_result_free(&res);
}

/*
 * Explore the built-in scenario @name (builtin.h) on @arch at preemption bound 2,
 * exhaustively. Without @skip: no failing schedule. With @skip (a mutation): caught, the
 * first violation being @caught; or, when @caught is NULL, the mutant survives every
 * schedule (equivalent there).
 */
static inline void explore_builtin(const char *name, enum mn_vm_arch arch, const char *skip,
				   const char *caught)
{
	const char *skips[1] = { skip };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = 2,
		.skip_steps = skips,
		.nr_skip_steps = skip ? 1 : 0,
	};
	struct mn_explore_result res;
	struct mn_builtin *b;

	assert_int_equal(mn_builtin_open(name, arch, &b), 0);
	assert_int_equal(mn_explore(mn_builtin_scenario(b), &cfg, &res), 0);
	print_message("%-5s %s%s%s: %llu schedules, %llu failing%s%s\n",
		      arch == MN_VM_X86 ? "x86" : "arm64", name, skip ? " without " : "",
		      skip ? skip : "", (unsigned long long)res.schedules,
		      (unsigned long long)res.failing_runs, res.nr_failures ? ", first " : "",
		      res.nr_failures ? res.failures[0].violation.invariant : "");
	if (caught) {
		assert_true(res.failing_runs > 0);
		assert_string_equal(res.failures[0].violation.invariant, caught);
	} else {
		if (res.nr_failures)
			print_message("  %s (schedule %s)\n", res.failures[0].violation.detail,
				      res.failures[0].schedule);
		assert_int_equal(res.failing_runs, 0);
		assert_true(res.exhausted);
		assert_true(res.schedules > 1);
	}
	mn_explore_result_free(&res);
	mn_builtin_close(b);
}

#endif /* MN_TEST_HOST_H */
