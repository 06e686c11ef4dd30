// SPDX-License-Identifier: MIT
/*
 * bench-itree.c - memslot lookups by hva through the interval tree, the walk KVM's MMU-notifier
 * handlers do over kvm->memslots hva_tree, against a linear scan of the same slots timed in
 * the same run as the reference.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mnsim.h>

#include "bench-util.h"

#define SLOT_BASE   0x7f0000000000ULL /* where a VMM's guest RAM mappings might start */
#define SLOT_STRIDE (4ULL << 20)      /* slots start 4 MiB apart ... */
#define SLOT_MAX    (2ULL << 20)      /* ... and span at most 2 MiB, so gaps remain */

#define NR_QUERIES    4096
#define NR_REPS	      7
#define REP_TARGET_NS 20000000.0 /* each timed repetition lasts about 20 ms */

struct slot {
	struct mn_itree_node hva_node;
	uint64_t id;
};

/* What the linear scan walks: the same intervals, packed in an array like kvm->memslots[]. */
struct flat_slot {
	uint64_t start, last, id;
};

struct query {
	uint64_t start, last;
};

struct result {
	uint64_t hits, sum;
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct result tree_query(struct mn_itree *tree, const struct query *q)
{
	struct result r = { 0, 0 };
	struct mn_itree_node *node;

	mn_itree_for_each(node, tree, q->start, q->last) {
		const struct slot *s =
			(const struct slot *)((char *)node - offsetof(struct slot, hva_node));

		r.hits++;
		r.sum += s->id;
	}
	return r;
}

static struct result linear_query(const struct flat_slot *flat, size_t n, const struct query *q)
{
	struct result r = { 0, 0 };

	for (size_t i = 0; i < n; i++) {
		if (flat[i].start <= q->last && flat[i].last >= q->start) {
			r.hits++;
			r.sum += flat[i].id;
		}
	}
	return r;
}

/*
 * Queries over the slots' hva span plus a margin: half are stabbing lookups (hva_to_memslot
 * on a fault), the rest are invalidation ranges of up to 64 KiB or, rarely, up to 64 MiB
 * (a large munmap). Some hit a slot, some fall into the gaps or outside every slot.
 */
static void make_queries(struct query *q, size_t nr, size_t nr_slots, uint64_t *rng)
{
	uint64_t lo = SLOT_BASE - SLOT_STRIDE, span = (nr_slots + 2) * SLOT_STRIDE;

	for (size_t i = 0; i < nr; i++) {
		uint64_t kind = rng_next(rng) % 16, len;

		q[i].start = (lo + rng_next(rng) % span) & MN_PAGE_MASK;
		if (kind < 8)
			len = 1;
		else if (kind < 15)
			len = (1 + rng_next(rng) % 16) * MN_PAGE_SIZE;
		else
			len = (1 + rng_next(rng) % 16384) * MN_PAGE_SIZE;
		q[i].last = q[i].start + len - 1;
	}
}

struct bench_ctx {
	struct mn_itree tree;
	struct slot *slots;
	struct flat_slot *flat;
	struct query *queries;
	size_t nr_slots;
	volatile uint64_t sink;
};

static double run_tree(struct bench_ctx *c, unsigned int passes)
{
	uint64_t sum = 0;
	double t0 = now_ns();

	for (unsigned int p = 0; p < passes; p++) {
		for (size_t i = 0; i < NR_QUERIES; i++) {
			struct result r = tree_query(&c->tree, &c->queries[i]);

			sum += r.hits ^ r.sum;
		}
	}
	c->sink += sum;
	return (now_ns() - t0) / ((double)passes * NR_QUERIES);
}

static double run_linear(struct bench_ctx *c, unsigned int passes)
{
	uint64_t sum = 0;
	double t0 = now_ns();

	for (unsigned int p = 0; p < passes; p++) {
		for (size_t i = 0; i < NR_QUERIES; i++) {
			struct result r = linear_query(c->flat, c->nr_slots, &c->queries[i]);

			sum += r.hits ^ r.sum;
		}
	}
	c->sink += sum;
	return (now_ns() - t0) / ((double)passes * NR_QUERIES);
}

/* Passes per repetition so that one repetition lasts about REP_TARGET_NS. */
static unsigned int calibrate(double ns_per_query)
{
	double passes = REP_TARGET_NS / (ns_per_query * NR_QUERIES);

	return passes < 1.0 ? 1 : passes > 100000.0 ? 100000 : (unsigned int)passes;
}

static int bench_one(size_t nr_slots, uint64_t seed)
{
	struct bench_ctx c = { .nr_slots = nr_slots };
	double tree_ns[NR_REPS], lin_ns[NR_REPS], tree_p50, lin_p50;
	uint64_t rng = seed, total_hits = 0;
	unsigned int tree_passes, lin_passes;
	int ret = 1;

	mn_itree_init(&c.tree);
	c.slots = calloc(nr_slots, sizeof(*c.slots));
	c.flat = calloc(nr_slots, sizeof(*c.flat));
	c.queries = calloc(NR_QUERIES, sizeof(*c.queries));
	if (!c.slots || !c.flat || !c.queries) {
		fprintf(stderr, "bench-itree: out of memory\n");
		goto out;
	}

	for (size_t i = 0; i < nr_slots; i++) {
		uint64_t start = SLOT_BASE + i * SLOT_STRIDE;
		uint64_t size = (1 + rng_next(&rng) % (SLOT_MAX / MN_PAGE_SIZE)) * MN_PAGE_SIZE;
		struct slot *s = &c.slots[i];

		s->id = i;
		s->hva_node.start = start;
		s->hva_node.last = start + size - 1;
		c.flat[i] = (struct flat_slot){ start, start + size - 1, i };
		if (mn_itree_insert(&c.tree, &s->hva_node)) {
			fprintf(stderr, "bench-itree: insert of slot %zu failed\n", i);
			goto out;
		}
	}
	if (mn_itree_check_invariants(&c.tree) || c.tree.count != nr_slots) {
		fprintf(stderr, "bench-itree: tree of %zu slots is inconsistent\n", nr_slots);
		goto out;
	}
	make_queries(c.queries, NR_QUERIES, nr_slots, &rng);

	/* Untimed: both methods must agree on every query. */
	for (size_t i = 0; i < NR_QUERIES; i++) {
		struct result t = tree_query(&c.tree, &c.queries[i]);
		struct result l = linear_query(c.flat, nr_slots, &c.queries[i]);

		if (t.hits != l.hits || t.sum != l.sum) {
			fprintf(stderr,
				"bench-itree: %zu slots, query [%#llx, %#llx]: tree %llu hits, "
				"linear %llu\n",
				nr_slots, (unsigned long long)c.queries[i].start,
				(unsigned long long)c.queries[i].last, (unsigned long long)t.hits,
				(unsigned long long)l.hits);
			goto out;
		}
		total_hits += t.hits;
	}

	/* One warm-up pass each, which also sizes the timed repetitions. */
	tree_passes = calibrate(run_tree(&c, 1));
	lin_passes = calibrate(run_linear(&c, 1));
	for (int r = 0; r < NR_REPS; r++) {
		tree_ns[r] = run_tree(&c, tree_passes);
		lin_ns[r] = run_linear(&c, lin_passes);
	}
	tree_p50 = median(tree_ns, NR_REPS);
	lin_p50 = median(lin_ns, NR_REPS);

	printf("itree_query: %5zu slots, %d queries (%.2f hits/query): tree %.1f ns/query, "
	       "linear scan %.1f ns/query, %.1fx (median of %d)\n",
	       nr_slots, NR_QUERIES, (double)total_hits / NR_QUERIES, tree_p50, lin_p50,
	       lin_p50 / tree_p50, NR_REPS);
	printf("{\"bench\":\"itree_query\",\"slots\":%zu,\"queries\":%d,\"reps\":%d,"
	       "\"hits_per_query\":%.3f,\"ns_per_query_p50\":%.2f,\"linear_ns_per_query_p50\":%.2f,"
	       "\"speedup_vs_linear\":%.2f,\"backend\":\"%s\"}\n",
	       nr_slots, NR_QUERIES, NR_REPS, (double)total_hits / NR_QUERIES, tree_p50, lin_p50,
	       lin_p50 / tree_p50, mn_alloc_backend());
	fflush(stdout);
	ret = 0;
out:
	free(c.slots);
	free(c.flat);
	free(c.queries);
	return ret;
}

int main(void)
{
	/* 10: a small VM; 509: KVM's old per-address-space limit; 32764: today's maximum. */
	static const size_t nr_slots[] = { 10, 509, 32764 };

	for (size_t i = 0; i < sizeof(nr_slots) / sizeof(nr_slots[0]); i++) {
		if (bench_one(nr_slots[i], 0x6d6e73696dULL + i))
			return 1;
	}
	return 0;
}
