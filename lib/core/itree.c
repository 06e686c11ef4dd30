// SPDX-License-Identifier: MIT
/*
 * itree.c - augmented red-black interval tree, modelling the iteration of the kernel's
 * include/linux/interval_tree_generic.h on top of libbsd's <bsd/sys/tree.h>.
 */
#include "mnsim-internal.h"

#include <errno.h>
#include <stdint.h>

/* The tallest red-black tree that 64-bit node counts allow: 2 * log2(2^64). */
#define ITREE_MAX_DEPTH 128

static uint64_t itree_subtree_last(const struct mn_itree_node *node)
{
	const struct mn_itree_node *left = RB_LEFT(node, rb);
	const struct mn_itree_node *right = RB_RIGHT(node, rb);
	uint64_t max = node->last;

	if (left && left->subtree_last > max)
		max = left->subtree_last;
	if (right && right->subtree_last > max)
		max = right->subtree_last;
	return max;
}

/*
 * libbsd calls RB_AUGMENT on a single node per structural change (the new leaf's parent, the
 * rotated pair and one parent above it, the spliced parent on removal), which leaves stale
 * maxima higher up. Recomputing every node on the path to the root keeps each subtree_last
 * exact after every insert and remove, at O(log n) per call.
 */
static void itree_augment(struct mn_itree_node *node)
{
	for (; node; node = RB_PARENT(node, rb))
		node->subtree_last = itree_subtree_last(node);
}

static int itree_cmp(const struct mn_itree_node *a, const struct mn_itree_node *b)
{
	uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return 0;
}

/* Expanded inside RB_GENERATE below, so this definition is the one the tree code uses. */
#undef RB_AUGMENT
#define RB_AUGMENT(x) itree_augment(x)

/* libbsd 0.11.7 leaves __unused undefined (Debian #522773) but RB_GENERATE_STATIC uses it. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif

RB_GENERATE_STATIC(mn_itree_rb, mn_itree_node, rb, itree_cmp)

void mn_itree_init(struct mn_itree *tree)
{
	RB_INIT(&tree->rb);
	tree->count = 0;
}

int mn_itree_insert(struct mn_itree *tree, struct mn_itree_node *node)
{
	if (unlikely(node->last < node->start))
		return -EINVAL;

	node->subtree_last = node->last;
	/* The address tie-break makes every key unique, so RB_INSERT never finds a twin. */
	RB_INSERT(mn_itree_rb, &tree->rb, node);
	tree->count++;
	return 0;
}

void mn_itree_remove(struct mn_itree *tree, struct mn_itree_node *node)
{
	RB_REMOVE(mn_itree_rb, &tree->rb, node);
	tree->count--;
}

/*
 * Leftmost node of the subtree at @node that overlaps [@start, @last], or NULL. The caller
 * guarantees @node->subtree_last >= @start, so some node below ends late enough; the search
 * prefers the left subtree whenever it can still hold an overlap, and gives up as soon as
 * the in-order position passes @last.
 */
static struct mn_itree_node *itree_subtree_search(struct mn_itree_node *node, uint64_t start,
						  uint64_t last)
{
	for (;;) {
		struct mn_itree_node *left = RB_LEFT(node, rb);
		struct mn_itree_node *right;

		if (left && left->subtree_last >= start) {
			node = left;
			continue;
		}
		/* Nothing on the left ends at or after @start: @node comes next in order. */
		if (node->start > last)
			return NULL;
		if (node->last >= start)
			return node;
		right = RB_RIGHT(node, rb);
		if (!right || right->subtree_last < start)
			return NULL;
		node = right;
	}
}

struct mn_itree_node *mn_itree_iter_first(struct mn_itree *tree, uint64_t start, uint64_t last)
{
	struct mn_itree_node *root = RB_ROOT(&tree->rb);

	if (!root || root->subtree_last < start)
		return NULL;
	return itree_subtree_search(root, start, last);
}

struct mn_itree_node *mn_itree_iter_next(struct mn_itree_node *node, uint64_t start, uint64_t last)
{
	/*
	 * Everything left of @node and @node itself has been reported. Look for the answer in
	 * @node's right subtree; failing that, climb to the first ancestor entered from its
	 * left, which is the next node in order, test it, and repeat from there.
	 */
	for (;;) {
		struct mn_itree_node *right = RB_RIGHT(node, rb);
		struct mn_itree_node *child;

		if (right && right->subtree_last >= start)
			return itree_subtree_search(right, start, last);

		do {
			child = node;
			node = RB_PARENT(node, rb);
			if (!node)
				return NULL;
		} while (RB_RIGHT(node, rb) == child);

		if (node->start > last)
			return NULL;
		if (node->last >= start)
			return node;
	}
}

struct mn_itree_node *mn_itree_first(struct mn_itree *tree)
{
	return RB_MIN(mn_itree_rb, &tree->rb);
}

struct mn_itree_node *mn_itree_next(struct mn_itree_node *node)
{
	return RB_NEXT(mn_itree_rb, NULL, node);
}

struct itree_check {
	const struct mn_itree_node *prev; /* in-order predecessor of the node being visited */
	size_t count;			  /* nodes visited so far */
	size_t limit;			  /* stop counting here: a cycle or a wrong count */
};

/*
 * Check the subtree at @node, whose parent must be @parent, in order. Return its black
 * height (NULL leaves count as one black node), or -1 on the first broken rule.
 */
static int itree_check_subtree(struct itree_check *c, const struct mn_itree_node *node,
			       const struct mn_itree_node *parent, unsigned int depth)
{
	const struct mn_itree_node *left, *right;
	int color, lh, rh;

	if (!node)
		return 1;
	if (depth > ITREE_MAX_DEPTH || c->count >= c->limit)
		return -1;
	if (RB_PARENT(node, rb) != parent)
		return -1;

	color = RB_COLOR(node, rb);
	left = RB_LEFT(node, rb);
	right = RB_RIGHT(node, rb);
	if (color != RB_RED && color != RB_BLACK)
		return -1;
	if (color == RB_RED &&
	    ((left && RB_COLOR(left, rb) == RB_RED) || (right && RB_COLOR(right, rb) == RB_RED)))
		return -1;

	lh = itree_check_subtree(c, left, node, depth + 1);
	if (lh < 0)
		return -1;

	if (node->start > node->last)
		return -1;
	if (c->prev && itree_cmp(c->prev, node) >= 0)
		return -1;
	if (node->subtree_last != itree_subtree_last(node))
		return -1;
	c->prev = node;
	c->count++;

	rh = itree_check_subtree(c, right, node, depth + 1);
	if (rh < 0 || rh != lh)
		return -1;
	return lh + (color == RB_BLACK);
}

int mn_itree_check_invariants(const struct mn_itree *tree)
{
	const struct mn_itree_node *root = RB_ROOT(&tree->rb);
	struct itree_check c = { .prev = NULL, .count = 0, .limit = tree->count };

	if (!root)
		return tree->count == 0 ? 0 : -EUCLEAN;
	if (RB_COLOR(root, rb) != RB_BLACK)
		return -EUCLEAN;
	if (itree_check_subtree(&c, root, NULL, 0) < 0 || c.count != tree->count)
		return -EUCLEAN;
	return 0;
}
