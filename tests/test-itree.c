// SPDX-License-Identifier: MIT
/*
 * test-itree.c - unit tests for lib/core/itree.c, the interval tree behind the memslot hva
 * tree: deterministic edge cases, a randomized comparison against a brute-force model with
 * mn_itree_check_invariants() after every mutation, and a larger stress run.
 */
#include <errno.h>
#include <string.h>

#include "mn-test.h"
#include "mnsim-internal.h"

/* Nodes in the stress test; MN_TEST_ITREE_STRESS overrides (e.g. smaller under valgrind). */
#define STRESS_NODES_DEFAULT 20000
#define STRESS_CHECK_EVERY   1000

/*
 * A pool of nodes, the subset currently linked into a tree (the brute-force model), and
 * scratch buffers for comparing query results.
 */
struct model {
	struct mn_itree tree;
	struct mn_itree_node *pool;
	struct mn_itree_node **present; /* linked nodes, unordered */
	struct mn_itree_node **spare;	/* unlinked nodes */
	struct mn_itree_node **got;	/* scratch: what the tree returned */
	struct mn_itree_node **want;	/* scratch: what the model expects */
	size_t size, nr_present, nr_spare;
};

static void model_init(struct model *m, size_t size)
{
	memset(m, 0, sizeof(*m));
	mn_itree_init(&m->tree);
	m->size = size;
	m->pool = test_calloc(size, sizeof(*m->pool));
	m->present = test_calloc(size, sizeof(*m->present));
	m->spare = test_calloc(size, sizeof(*m->spare));
	m->got = test_calloc(size, sizeof(*m->got));
	m->want = test_calloc(size, sizeof(*m->want));
	assert_non_null(m->pool);
	assert_non_null(m->present);
	assert_non_null(m->spare);
	assert_non_null(m->got);
	assert_non_null(m->want);
	for (size_t i = 0; i < size; i++)
		m->spare[m->nr_spare++] = &m->pool[i];
}

static void model_destroy(struct model *m)
{
	test_free(m->pool);
	test_free(m->present);
	test_free(m->spare);
	test_free(m->got);
	test_free(m->want);
}

/* The tree's order: (start, last, node address). */
static int node_cmp(const void *pa, const void *pb)
{
	const struct mn_itree_node *a = *(const struct mn_itree_node *const *)pa;
	const struct mn_itree_node *b = *(const struct mn_itree_node *const *)pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	if (a != b)
		return (uintptr_t)a < (uintptr_t)b ? -1 : 1;
	return 0;
}

static void model_insert(struct model *m, struct mn_test_rng *rng, uint64_t start, uint64_t last)
{
	size_t i = mn_test_below(rng, m->nr_spare);
	struct mn_itree_node *node = m->spare[i];

	m->spare[i] = m->spare[--m->nr_spare];
	node->start = start;
	node->last = last;
	assert_int_equal(mn_itree_insert(&m->tree, node), 0);
	m->present[m->nr_present++] = node;
}

static void model_remove_random(struct model *m, struct mn_test_rng *rng)
{
	size_t i = mn_test_below(rng, m->nr_present);
	struct mn_itree_node *node = m->present[i];

	m->present[i] = m->present[--m->nr_present];
	mn_itree_remove(&m->tree, node);
	m->spare[m->nr_spare++] = node;
}

/* Compare the exact sequence mn_itree_for_each() yields with a sorted brute-force scan. */
static void model_assert_query(struct model *m, uint64_t start, uint64_t last)
{
	struct mn_itree_node *node;
	size_t nr_got = 0, nr_want = 0;

	mn_itree_for_each(node, &m->tree, start, last) {
		if (nr_got == m->nr_present)
			fail_msg("query [%#llx, %#llx]: tree yields more than its %zu nodes",
				 (unsigned long long)start, (unsigned long long)last,
				 m->nr_present);
		m->got[nr_got++] = node;
	}

	for (size_t i = 0; i < m->nr_present; i++) {
		node = m->present[i];
		if (node->start <= last && node->last >= start)
			m->want[nr_want++] = node;
	}
	qsort(m->want, nr_want, sizeof(*m->want), node_cmp);

	if (nr_got != nr_want)
		fail_msg("query [%#llx, %#llx]: tree returned %zu nodes, brute force %zu",
			 (unsigned long long)start, (unsigned long long)last, nr_got, nr_want);
	for (size_t i = 0; i < nr_got; i++) {
		if (m->got[i] != m->want[i])
			fail_msg("query [%#llx, %#llx]: result %zu is [%#llx, %#llx], expected "
				 "[%#llx, %#llx]",
				 (unsigned long long)start, (unsigned long long)last, i,
				 (unsigned long long)m->got[i]->start,
				 (unsigned long long)m->got[i]->last,
				 (unsigned long long)m->want[i]->start,
				 (unsigned long long)m->want[i]->last);
	}
}

/* mn_itree_first()/mn_itree_next() must visit exactly the present nodes, sorted. */
static void model_assert_inorder(struct model *m)
{
	struct mn_itree_node *node;
	size_t n = 0;

	memcpy(m->want, m->present, m->nr_present * sizeof(*m->present));
	qsort(m->want, m->nr_present, sizeof(*m->want), node_cmp);
	for (node = mn_itree_first(&m->tree); node; node = mn_itree_next(node)) {
		assert_true(n < m->nr_present);
		assert_ptr_equal(node, m->want[n]);
		n++;
	}
	assert_int_equal(n, m->nr_present);
	assert_int_equal(m->tree.count, m->nr_present);
}

/*
 * Random closed interval, drawn so that overlaps are frequent: mostly short intervals in a
 * small window, a few fixed intervals that recur (so identical intervals pile up), intervals
 * touching 0 and UINT64_MAX, and rare wide ones.
 */
static void random_interval(struct mn_test_rng *rng, uint64_t *start, uint64_t *last)
{
	static const uint64_t fixed[][2] = {
		{ 0, 0 },
		{ 0, 15 },
		{ 512, 575 },
		{ 512, 512 },
		{ UINT64_MAX - 1, UINT64_MAX },
		{ UINT64_MAX, UINT64_MAX },
	};
	uint64_t r = mn_test_below(rng, 32), span, i;

	if (r < 14) { /* short, in a small window */
		*start = mn_test_below(rng, 1024);
		*last = *start + mn_test_below(rng, 64);
	} else if (r < 20) { /* one of a few recurring intervals */
		i = mn_test_below(rng, ARRAY_SIZE(fixed));
		*start = fixed[i][0];
		*last = fixed[i][1];
	} else if (r < 23) { /* starts at 0 */
		*start = 0;
		*last = mn_test_below(rng, 128);
	} else if (r < 26) { /* ends at or near UINT64_MAX */
		*last = UINT64_MAX - mn_test_below(rng, 3);
		*start = *last - mn_test_below(rng, 128);
	} else if (r < 30) { /* single unit */
		*start = *last = mn_test_below(rng, 1100);
	} else if (r < 31) { /* wide, anywhere */
		*start = mn_test_rand(rng);
		span = UINT64_MAX - *start;
		*last = *start + (span ? mn_test_rand(rng) % span : 0);
	} else {
		*start = 0;
		*last = UINT64_MAX;
	}
}

static void random_query(struct mn_test_rng *rng, uint64_t *start, uint64_t *last)
{
	uint64_t r = mn_test_below(rng, 16);

	if (r < 6) { /* stabbing */
		*start = *last = mn_test_below(rng, 1200);
	} else if (r < 11) { /* range in the small window */
		*start = mn_test_below(rng, 1200);
		*last = *start + mn_test_below(rng, 200);
	} else if (r < 12) {
		*start = *last = 0;
	} else if (r < 13) {
		*start = *last = UINT64_MAX;
	} else if (r < 14) {
		*start = UINT64_MAX - mn_test_below(rng, 200);
		*last = UINT64_MAX;
	} else if (r < 15) { /* everything */
		*start = 0;
		*last = UINT64_MAX;
	} else { /* far from everything but the wide intervals */
		*start = (1ULL << 40) + mn_test_below(rng, 1ULL << 40);
		*last = *start + mn_test_below(rng, 1ULL << 20);
	}
}

static void test_empty_tree(void **state)
{
	struct mn_itree tree = MN_ITREE_INITIALIZER;
	struct mn_itree_node *node;

	(void)state;
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_null(mn_itree_first(&tree));
	assert_null(mn_itree_iter_first(&tree, 0, UINT64_MAX));
	assert_null(mn_itree_iter_first(&tree, 0, 0));
	assert_null(mn_itree_iter_first(&tree, UINT64_MAX, UINT64_MAX));
	mn_itree_for_each(node, &tree, 0, UINT64_MAX)
		fail_msg("empty tree yielded a node");

	mn_itree_init(&tree);
	assert_int_equal(tree.count, 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
}

/* Collect a query's results into @out (at most @max) and return how many there were. */
static size_t query(struct mn_itree *tree, uint64_t start, uint64_t last,
		    struct mn_itree_node **out, size_t max)
{
	struct mn_itree_node *node;
	size_t n = 0;

	mn_itree_for_each(node, tree, start, last) {
		assert_true(n < max);
		out[n++] = node;
	}
	return n;
}

#define assert_query(tree, start, last, ...)                                        \
	do {                                                                        \
		struct mn_itree_node *want_[] = { __VA_ARGS__ };                    \
		struct mn_itree_node *got_[16];                                     \
		size_t n_ = query((tree), (start), (last), got_, ARRAY_SIZE(got_)); \
		size_t nw_ = ARRAY_SIZE(want_) - 1; /* drop the NULL terminator */  \
		assert_int_equal(n_, nw_);                                          \
		for (size_t i_ = 0; i_ < nw_; i_++)                                 \
			assert_ptr_equal(got_[i_], want_[i_]);                      \
	} while (0)

static void test_edge_queries(void **state)
{
	struct mn_itree_node a = { .start = 1, .last = 3 };
	struct mn_itree_node b = { .start = 7, .last = 8 };
	struct mn_itree_node c = { .start = 7, .last = 7 };
	struct mn_itree_node d = { .start = 2, .last = 8 };
	struct mn_itree_node e = { .start = 0xd, .last = 0xd };
	struct mn_itree_node all = { .start = 0, .last = UINT64_MAX };
	struct mn_itree_node top = { .start = UINT64_MAX, .last = UINT64_MAX };
	struct mn_itree tree;

	(void)state;
	mn_itree_init(&tree);

	/*  unit 0123456789abcdef
	 *  A     AAA                A = [1, 3]
	 *  D      DDDDDDD           D = [2, 8]
	 *  C           C            C = [7, 7]
	 *  B           BB           B = [7, 8]
	 *  E                 E      E = [0xd, 0xd]
	 *  q1          *            <- stab 7: D, C, B
	 *  q2            ****       <- [9, 0xc]: nothing (between D and E)
	 */
	assert_int_equal(mn_itree_insert(&tree, &a), 0);
	assert_int_equal(mn_itree_insert(&tree, &b), 0);
	assert_int_equal(mn_itree_insert(&tree, &c), 0);
	assert_int_equal(mn_itree_insert(&tree, &d), 0);
	assert_int_equal(mn_itree_insert(&tree, &e), 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);

	assert_query(&tree, 7, 7, &d, &c, &b, NULL);
	assert_query(&tree, 9, 0xc, NULL);
	assert_query(&tree, 3, 3, &a, &d, NULL);
	assert_query(&tree, 4, 6, &d, NULL);
	assert_query(&tree, 8, 0xd, &d, &b, &e, NULL);
	assert_query(&tree, 0, 0, NULL);
	assert_query(&tree, 0xd, 0xd, &e, NULL);
	assert_query(&tree, 0xe, UINT64_MAX, NULL);
	assert_query(&tree, UINT64_MAX, UINT64_MAX, NULL);
	assert_query(&tree, 0, UINT64_MAX, &a, &d, &c, &b, &e, NULL);

	/* One node spanning the whole space overlaps every query and sorts first (start 0). */
	assert_int_equal(mn_itree_insert(&tree, &all), 0);
	assert_int_equal(mn_itree_insert(&tree, &top), 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_int_equal(tree.count, 7);
	assert_query(&tree, 0, 0, &all, NULL);
	assert_query(&tree, 9, 0xc, &all, NULL);
	assert_query(&tree, 7, 7, &all, &d, &c, &b, NULL);
	assert_query(&tree, UINT64_MAX, UINT64_MAX, &all, &top, NULL);
	assert_query(&tree, UINT64_MAX - 1, UINT64_MAX, &all, &top, NULL);
	assert_query(&tree, 0, UINT64_MAX, &all, &a, &d, &c, &b, &e, &top, NULL);

	mn_itree_remove(&tree, &d);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_query(&tree, 4, 6, &all, NULL);
	mn_itree_remove(&tree, &all);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_query(&tree, 4, 6, NULL);
	assert_query(&tree, 7, UINT64_MAX, &c, &b, &e, &top, NULL);
	assert_int_equal(tree.count, 5);
}

static void test_insert_rejects_inverted_interval(void **state)
{
	struct mn_itree_node nodes[8], bad = { .start = 10, .last = 9 };
	struct mn_itree_node huge = { .start = UINT64_MAX, .last = 0 };
	struct mn_itree_node *node;
	struct mn_itree tree;
	size_t i;

	(void)state;
	mn_itree_init(&tree);
	assert_int_equal(mn_itree_insert(&tree, &bad), -EINVAL);
	assert_int_equal(tree.count, 0);
	assert_null(mn_itree_first(&tree));

	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		nodes[i] = (struct mn_itree_node){ .start = 4 * i, .last = 4 * i + 5 };
		assert_int_equal(mn_itree_insert(&tree, &nodes[i]), 0);
	}
	assert_int_equal(mn_itree_insert(&tree, &bad), -EINVAL);
	assert_int_equal(mn_itree_insert(&tree, &huge), -EINVAL);
	assert_int_equal(tree.count, ARRAY_SIZE(nodes));
	assert_int_equal(mn_itree_check_invariants(&tree), 0);

	/* The tree still holds exactly the valid nodes, in order, and no query finds @bad. */
	i = 0;
	for (node = mn_itree_first(&tree); node; node = mn_itree_next(node))
		assert_ptr_equal(node, &nodes[i++]);
	assert_int_equal(i, ARRAY_SIZE(nodes));
	mn_itree_for_each(node, &tree, 0, UINT64_MAX) {
		assert_ptr_not_equal(node, &bad);
		assert_ptr_not_equal(node, &huge);
	}
	assert_int_equal(bad.start, 10);
	assert_int_equal(bad.last, 9);
}

static void test_iteration_order_and_count(void **state)
{
	struct mn_itree_node same[4], a = { .start = 2, .last = 9 }, b = { .start = 5, .last = 5 };
	struct mn_itree_node *node, *prev = NULL;
	struct mn_itree tree;
	size_t n = 0, i;

	(void)state;
	mn_itree_init(&tree);

	/*  unit 0123456789
	 *  A      AAAAAAAA   A = [2, 9]
	 *  S0-3     SS       four identical [4, 5], ordered by address
	 *  B         B       B = [5, 5]
	 *  q         *       <- stab 5: A, S0, S1, S2, S3, B
	 */
	for (i = ARRAY_SIZE(same); i-- > 0;) {
		same[i] = (struct mn_itree_node){ .start = 4, .last = 5 };
		assert_int_equal(mn_itree_insert(&tree, &same[i]), 0);
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
	}
	assert_int_equal(mn_itree_insert(&tree, &b), 0);
	assert_int_equal(mn_itree_insert(&tree, &a), 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_int_equal(tree.count, 6);

	for (node = mn_itree_first(&tree); node; node = mn_itree_next(node)) {
		if (prev)
			assert_true(node_cmp(&prev, &node) < 0);
		prev = node;
		n++;
	}
	assert_int_equal(n, tree.count);
	assert_ptr_equal(mn_itree_first(&tree), &a);
	assert_query(&tree, 5, 5, &a, &same[0], &same[1], &same[2], &same[3], &b, NULL);
	assert_query(&tree, 3, 4, &a, &same[0], &same[1], &same[2], &same[3], NULL);

	/* Removing one twin leaves its identical siblings findable. */
	mn_itree_remove(&tree, &same[1]);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_int_equal(tree.count, 5);
	assert_query(&tree, 4, 4, &a, &same[0], &same[2], &same[3], NULL);
}

/*
 * libbsd augments one node per structural change, which left the maxima of higher nodes
 * stale; the root's subtree_last must track the largest last through every rotation.
 */
static void test_augment_reaches_root(void **state)
{
	struct mn_itree_node nodes[512];
	struct mn_itree tree;
	uint64_t max = 0;
	size_t i;

	(void)state;
	mn_itree_init(&tree);
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		nodes[i].start = i;
		nodes[i].last = i + (i * 7919) % 1000;
		assert_int_equal(mn_itree_insert(&tree, &nodes[i]), 0);
		max = MN_MAX(max, nodes[i].last);
		assert_int_equal(RB_ROOT(&tree.rb)->subtree_last, max);
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
	}
	/* Remove from the front: the maximum moves as its holders leave. */
	for (i = 0; i < ARRAY_SIZE(nodes) - 1; i++) {
		mn_itree_remove(&tree, &nodes[i]);
		max = 0;
		for (size_t j = i + 1; j < ARRAY_SIZE(nodes); j++)
			max = MN_MAX(max, nodes[j].last);
		assert_int_equal(RB_ROOT(&tree.rb)->subtree_last, max);
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
	}
}

static bool is_red(const struct mn_itree_node *node)
{
	return node && RB_COLOR(node, rb) == RB_RED;
}

static void test_check_invariants_detects_corruption(void **state)
{
	struct mn_itree_node nodes[64], *node, *last, *saved_ptr;
	size_t i, nr_red_red = 0, nr_valid = 0;
	struct mn_itree tree;
	uint64_t saved;
	int color;

	(void)state;
	mn_itree_init(&tree);
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		nodes[i].start = (i * 37) % 64;
		nodes[i].last = nodes[i].start + i % 5;
		assert_int_equal(mn_itree_insert(&tree, &nodes[i]), 0);
	}
	assert_int_equal(mn_itree_check_invariants(&tree), 0);

	for (node = mn_itree_first(&tree); node; node = mn_itree_next(node)) {
		/* A subtree maximum too large, then too small. */
		saved = node->subtree_last;
		node->subtree_last = saved + 1;
		assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
		node->subtree_last = saved - 1;
		assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
		node->subtree_last = saved;
		assert_int_equal(mn_itree_check_invariants(&tree), 0);

		/* Any single recolouring breaks the root rule, red-red or the black height. */
		color = RB_COLOR(node, rb);
		RB_COLOR(node, rb) = color == RB_RED ? RB_BLACK : RB_RED;
		assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
		RB_COLOR(node, rb) = color;
		assert_int_equal(mn_itree_check_invariants(&tree), 0);

		/* A colour that is neither red nor black. */
		RB_COLOR(node, rb) = RB_RED + 1;
		assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
		RB_COLOR(node, rb) = color;

		/* An inverted interval, with every subtree_last still right. */
		saved = node->start;
		node->start = node->last + 1;
		assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
		node->start = saved;
		assert_int_equal(mn_itree_check_invariants(&tree), 0);

		/* A parent link pointing elsewhere. */
		saved_ptr = RB_PARENT(node, rb);
		RB_PARENT(node, rb) = saved_ptr ? NULL : node;
		assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
		RB_PARENT(node, rb) = saved_ptr;
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
	}

	/*
	 * The last node in order moved to start 0, its last unchanged: every subtree_last and
	 * colour is still right, so only the order check can object.
	 */
	for (last = mn_itree_first(&tree); mn_itree_next(last);)
		last = mn_itree_next(last);
	saved = last->start;
	last->start = 0;
	assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
	last->start = saved;
	assert_int_equal(mn_itree_check_invariants(&tree), 0);

	/*
	 * Swapping the colour of a node with that of its two (equally coloured) children keeps
	 * every black height. The result is a valid tree unless it puts a red node under a red
	 * one, which only the red-red rule catches; make sure both outcomes are exercised.
	 */
	for (node = mn_itree_first(&tree); node; node = mn_itree_next(node)) {
		struct mn_itree_node *l = RB_LEFT(node, rb), *r = RB_RIGHT(node, rb);
		struct mn_itree_node *parent = RB_PARENT(node, rb);
		bool red_red;

		color = RB_COLOR(node, rb);
		if (!parent || !l || !r || RB_COLOR(l, rb) != RB_COLOR(r, rb) ||
		    RB_COLOR(l, rb) == color)
			continue;
		RB_COLOR(node, rb) = RB_COLOR(l, rb);
		RB_COLOR(l, rb) = RB_COLOR(r, rb) = color;
		if (is_red(node))
			red_red = is_red(parent);
		else
			red_red = is_red(RB_LEFT(l, rb)) || is_red(RB_RIGHT(l, rb)) ||
				  is_red(RB_LEFT(r, rb)) || is_red(RB_RIGHT(r, rb));
		assert_int_equal(mn_itree_check_invariants(&tree), red_red ? -EUCLEAN : 0);
		nr_red_red += red_red;
		nr_valid += !red_red;
		RB_COLOR(l, rb) = RB_COLOR(r, rb) = RB_COLOR(node, rb);
		RB_COLOR(node, rb) = color;
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
	}
	assert_true(nr_red_red > 0);
	assert_true(nr_valid > 0);

	/* A count that disagrees with the nodes. */
	tree.count++;
	assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
	tree.count -= 2;
	assert_int_equal(mn_itree_check_invariants(&tree), -EUCLEAN);
	tree.count++;
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
}

static void test_randomized_against_brute_force(void **state)
{
	struct mn_test_rng rng = { .state = mn_test_seed("test_randomized_against_brute_force") };
	const unsigned int nr_ops = 6000;
	struct model m;
	uint64_t start, last;

	(void)state;
	model_init(&m, 400);

	for (unsigned int op = 0; op < nr_ops; op++) {
		/* Grow, churn, then drain: 70%, 50% and 30% inserts. */
		unsigned int insert_pct = op < nr_ops / 3 ? 70 : op < 2 * nr_ops / 3 ? 50 : 30;
		bool insert =
			m.nr_present == 0 || (m.nr_spare && mn_test_below(&rng, 100) < insert_pct);

		if (insert) {
			random_interval(&rng, &start, &last);
			model_insert(&m, &rng, start, last);
		} else {
			model_remove_random(&m, &rng);
		}
		if (mn_itree_check_invariants(&m.tree))
			fail_msg("invariants broken after op %u (%s)", op,
				 insert ? "insert" : "remove");
		assert_int_equal(m.tree.count, m.nr_present);

		for (int q = 0; q < 2; q++) {
			random_query(&rng, &start, &last);
			model_assert_query(&m, start, last);
		}
		if (op % 256 == 0)
			model_assert_inorder(&m);
	}

	model_assert_inorder(&m);
	while (m.nr_present) {
		model_remove_random(&m, &rng);
		assert_int_equal(mn_itree_check_invariants(&m.tree), 0);
		random_query(&rng, &start, &last);
		model_assert_query(&m, start, last);
	}
	assert_int_equal(m.tree.count, 0);
	assert_null(mn_itree_first(&m.tree));
	model_destroy(&m);
}

/*
 * mn_itree_replace() with the interval of the node it replaces: in place, at the root, at
 * a leaf, by itself; refused with another interval; a remove and an insert when a twin
 * interval would put the replacement out of address order.
 *
 *  unit  0123456789
 *  a     [--]            a, b, c, d: distinct intervals
 *  b       [----]
 *  c         [-]
 *  d            [-]
 *  t0 t1 t2     [-]      t[]: three twins of d, for the address tie-break
 */
static void test_replace(void **state)
{
	struct mn_itree_node n[4], t[3], r, *node;
	struct mn_itree tree;
	size_t i;

	(void)state;
	mn_itree_init(&tree);
	n[0] = (struct mn_itree_node){ .start = 0, .last = 3 };
	n[1] = (struct mn_itree_node){ .start = 2, .last = 7 };
	n[2] = (struct mn_itree_node){ .start = 4, .last = 6 };
	n[3] = (struct mn_itree_node){ .start = 9, .last = 11 };
	for (i = 0; i < ARRAY_SIZE(n); i++)
		assert_int_equal(mn_itree_insert(&tree, &n[i]), 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);

	/* Another interval is refused, and nothing moves. */
	r = (struct mn_itree_node){ .start = 2, .last = 8 };
	assert_int_equal(mn_itree_replace(&tree, &n[1], &r), -EINVAL);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_int_equal(tree.count, 4);
	assert_query(&tree, 2, 2, &n[0], &n[1], NULL);

	/* By itself: nothing to do. */
	assert_int_equal(mn_itree_replace(&tree, &n[2], &n[2]), 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);

	/* Each node in turn, the root included, by a copy of its interval, and back. */
	for (i = 0; i < ARRAY_SIZE(n); i++) {
		bool was_root = RB_ROOT(&tree.rb) == &n[i];

		r = (struct mn_itree_node){ .start = n[i].start, .last = n[i].last };
		memset(&r.rb, 0xa5, sizeof(r.rb)); /* stale links must not matter */
		assert_int_equal(mn_itree_replace(&tree, &n[i], &r), 0);
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
		assert_int_equal(tree.count, 4);
		assert_true(was_root == (RB_ROOT(&tree.rb) == &r));
		if (i == 1)
			assert_query(&tree, 2, 2, &n[0], &r, NULL);
		else if (i == 2)
			assert_query(&tree, 4, 4, &n[1], &r, NULL);
		else
			assert_query(&tree, r.start, r.start, &r, NULL);
		assert_int_equal(mn_itree_replace(&tree, &r, &n[i]), 0);
		assert_int_equal(mn_itree_check_invariants(&tree), 0);
	}

	/*
	 * Twins of n[3]: the tree orders them by address, so replacing the lowest-addressed
	 * twin by the highest-addressed one cannot happen in place.
	 */
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		t[i] = (struct mn_itree_node){ .start = 9, .last = 11 };
		if (i < 2)
			assert_int_equal(mn_itree_insert(&tree, &t[i]), 0);
	}
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	/*
	 * In order: n[3], t[0], t[1] or t[0], t[1], n[3], depending on the stack layout. t[2]
	 * sorts after t[1], so it cannot take the first twin's place.
	 */
	node = (uintptr_t)&n[3] < (uintptr_t)&t[0] ? &n[3] : &t[0];
	assert_int_equal(mn_itree_replace(&tree, node, &t[2]), 0);
	assert_int_equal(mn_itree_check_invariants(&tree), 0);
	assert_int_equal(tree.count, 6);
	if (node == &n[3])
		assert_query(&tree, 10, 10, &t[0], &t[1], &t[2], NULL);
	else
		assert_query(&tree, 10, 10, &t[1], &t[2], &n[3], NULL);
}

/* The node with the largest last in the model, the one whose removal lowers most maxima. */
static size_t model_max_holder(const struct model *m)
{
	size_t i, best = 0;

	for (i = 1; i < m->nr_present; i++)
		if (m->present[i]->last > m->present[best]->last)
			best = i;
	return best;
}

/* Whether another present node has @node's (start, last). */
static bool model_has_twin(const struct model *m, const struct mn_itree_node *node)
{
	for (size_t i = 0; i < m->nr_present; i++)
		if (m->present[i] != node && m->present[i]->start == node->start &&
		    m->present[i]->last == node->last)
			return true;
	return false;
}

/*
 * Interval for the churn test: one of random_interval()'s (overlaps, twins, the extremes)
 * or, half the time, a memslot-shaped one: disjoint runs of 1-4 units in ascending or
 * descending order of @seq, so that inserts keep extending one edge of the tree as a VMM
 * creating slots one after the other does.
 */
static void churn_interval(struct mn_test_rng *rng, unsigned int seq, uint64_t *start,
			   uint64_t *last)
{
	switch (mn_test_below(rng, 4)) {
	case 0:
		*start = 4096 + (uint64_t)seq * 4;
		*last = *start + mn_test_below(rng, 4);
		break;
	case 1:
		*start = (1ULL << 32) - (uint64_t)seq * 4;
		*last = *start + mn_test_below(rng, 4);
		break;
	default:
		random_interval(rng, start, last);
		break;
	}
}

/*
 * Random inserts, removals (of any node or of the one holding the largest last), re-keys
 * (a removal and an insert of the same node with another interval, as kvm_replace_memslot()
 * does with the hva node) and replacements (mn_itree_replace(), in place or, for twins, by
 * remove and insert), with mn_itree_check_invariants() checking every node's subtree_last
 * after every single operation and the queries compared with brute force every few.
 */
static void test_churn_insert_remove_replace(void **state)
{
	struct mn_test_rng rng = { .state = mn_test_seed("test_churn_insert_remove_replace") };
	unsigned int nr_ops = 20000, op, seq = 0;
	unsigned int nr_kind[5] = { 0 }, nr_twin_replace = 0, nr_plain_replace = 0;
	struct mn_itree_node *node, *repl;
	uint64_t start, last;
	struct model m;
	size_t i;

	(void)state;
	model_init(&m, 600);
	for (op = 0; op < nr_ops; op++) {
		/* Waves: grow to the pool's size, shrink to a few nodes, grow again. */
		unsigned int grow = (op / 2500) % 2 == 0 ? 65 : 35;
		unsigned int r = mn_test_below(&rng, 100), kind;

		if (m.nr_present == 0 || (m.nr_spare && r < grow))
			kind = 0;
		else if (r < grow + 10)
			kind = 1;
		else if (r < grow + 20)
			kind = 2;
		else if (r < grow + 30 || !m.nr_spare)
			kind = 3;
		else
			kind = 4;

		switch (kind) {
		case 0: /* insert */
			churn_interval(&rng, seq++, &start, &last);
			model_insert(&m, &rng, start, last);
			break;
		case 1: /* remove the maximum's holder */
			i = model_max_holder(&m);
			node = m.present[i];
			m.present[i] = m.present[--m.nr_present];
			mn_itree_remove(&m.tree, node);
			m.spare[m.nr_spare++] = node;
			break;
		case 2: /* remove any */
			model_remove_random(&m, &rng);
			break;
		case 3: /* re-key: the same node, removed and inserted with another interval */
			i = mn_test_below(&rng, m.nr_present);
			node = m.present[i];
			mn_itree_remove(&m.tree, node);
			churn_interval(&rng, seq++, &node->start, &node->last);
			assert_int_equal(mn_itree_insert(&m.tree, node), 0);
			break;
		default: /* replace by a spare node with the same interval */
			i = mn_test_below(&rng, m.nr_present);
			node = m.present[i];
			repl = m.spare[--m.nr_spare];
			repl->start = node->start;
			repl->last = node->last;
			if (model_has_twin(&m, node))
				nr_twin_replace++;
			else
				nr_plain_replace++;
			assert_int_equal(mn_itree_replace(&m.tree, node, repl), 0);
			m.present[i] = repl;
			m.spare[m.nr_spare++] = node;
			break;
		}
		nr_kind[kind]++;
		if (mn_itree_check_invariants(&m.tree))
			fail_msg("invariants broken after op %u (kind %u)", op, kind);
		assert_int_equal(m.tree.count, m.nr_present);
		if (op % 8 == 0) {
			random_query(&rng, &start, &last);
			model_assert_query(&m, start, last);
			model_assert_query(&m, 4096, 4096 + (uint64_t)seq * 4);
		}
		if (op % 1024 == 0)
			model_assert_inorder(&m);
	}
	for (i = 0; i < ARRAY_SIZE(nr_kind); i++)
		assert_true(nr_kind[i] > 0);
	assert_true(nr_twin_replace > 0);
	assert_true(nr_plain_replace > 0);
	model_assert_inorder(&m);
	model_destroy(&m);
}

static size_t stress_nodes(void)
{
	const char *env = getenv("MN_TEST_ITREE_STRESS");
	unsigned long long n;

	if (!env)
		return STRESS_NODES_DEFAULT;
	n = strtoull(env, NULL, 0);
	return n ? (size_t)n : STRESS_NODES_DEFAULT;
}

static void test_stress_insert_remove(void **state)
{
	struct mn_test_rng rng = { .state = mn_test_seed("test_stress_insert_remove") };
	size_t n = stress_nodes(), i;
	uint64_t start, last;
	struct model m;

	(void)state;
	print_message("test_stress_insert_remove: %zu nodes (set MN_TEST_ITREE_STRESS to change)\n",
		      n);
	model_init(&m, n);

	for (i = 1; i <= n; i++) {
		random_interval(&rng, &start, &last);
		/* Spread most intervals over a wider window so the tree is not all duplicates. */
		if (start < 1024 && last < 1088 && mn_test_below(&rng, 2)) {
			start *= 1000;
			last = start + (last - start) * 1000 + mn_test_below(&rng, 1000);
		}
		model_insert(&m, &rng, start, last);
		if (i % STRESS_CHECK_EVERY == 0)
			assert_int_equal(mn_itree_check_invariants(&m.tree), 0);
	}
	assert_int_equal(mn_itree_check_invariants(&m.tree), 0);
	assert_int_equal(m.tree.count, n);
	model_assert_inorder(&m);
	for (i = 0; i < 64; i++) {
		random_query(&rng, &start, &last);
		model_assert_query(&m, start, last);
	}

	/* Remove a random three quarters, with fresh inserts mixed in. */
	for (i = 1; m.nr_present > n / 4; i++) {
		if (m.nr_spare && mn_test_below(&rng, 8) == 0) {
			random_interval(&rng, &start, &last);
			model_insert(&m, &rng, start, last);
		} else {
			model_remove_random(&m, &rng);
		}
		if (i % STRESS_CHECK_EVERY == 0)
			assert_int_equal(mn_itree_check_invariants(&m.tree), 0);
	}
	assert_int_equal(mn_itree_check_invariants(&m.tree), 0);
	model_assert_inorder(&m);
	for (i = 0; i < 64; i++) {
		random_query(&rng, &start, &last);
		model_assert_query(&m, start, last);
	}

	while (m.nr_present)
		model_remove_random(&m, &rng);
	assert_int_equal(mn_itree_check_invariants(&m.tree), 0);
	assert_int_equal(m.tree.count, 0);
	assert_null(mn_itree_first(&m.tree));
	assert_null(mn_itree_iter_first(&m.tree, 0, UINT64_MAX));
	model_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_tree),
		cmocka_unit_test(test_edge_queries),
		cmocka_unit_test(test_insert_rejects_inverted_interval),
		cmocka_unit_test(test_iteration_order_and_count),
		cmocka_unit_test(test_augment_reaches_root),
		cmocka_unit_test(test_check_invariants_detects_corruption),
		cmocka_unit_test(test_randomized_against_brute_force),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_churn_insert_remove_replace),
		cmocka_unit_test(test_stress_insert_remove),
	};

	return cmocka_run_group_tests_name("itree", tests, NULL, NULL);
}
