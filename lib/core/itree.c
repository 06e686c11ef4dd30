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
 * What libbsd's RB_AUGMENT does here: recompute @node from its two children, nothing more.
 * This is the "compute" half of the kernel's RB_DECLARE_CALLBACKS_MAX() (the rotate
 * callback: the node that takes a subtree's place inherits its maximum, the one that moves
 * down is recomputed). In <bsd/sys/tree.h> (0.11.7) the callback runs:
 * - in RB_ROTATE_LEFT/RIGHT on the node that moves down (after its new child is linked),
 *   on the node that moves up (after the old one is linked under it) and on that node's
 *   new parent. A rotation keeps the set of nodes under the top position, so on a tree
 *   whose maxima are all right before the rotation, these three recomputations leave
 *   them all right (the third changes nothing);
 * - in RB_INSERT on the new leaf's parent only, which is why mn_itree_insert() does not
 *   use RB_INSERT but links the leaf itself (see there);
 * - in RB_REMOVE of a node with two children, on the successor's old parent, on the
 *   removed node's parent, and then, in a loop of its own, on every node from the
 *   successor's old parent (or the successor, when that was the removed node's child) up
 *   to the root: all right again before the rebalancing rotations;
 * - in RB_REMOVE of a node with at most one child, on the parent of the spliced node only,
 *   which is why mn_itree_remove() propagates the loss itself first.
 * Each call is O(1), so an insert or a remove costs O(log n), as in the kernel.
 */
static void itree_augment(struct mn_itree_node *node)
{
	node->subtree_last = itree_subtree_last(node);
}

/*
 * The kernel's RB_DECLARE_CALLBACKS_MAX() propagate callback: recompute from @node upward
 * and stop at the first node whose maximum does not change, as none above it can change
 * either.
 */
static void itree_propagate(struct mn_itree_node *node)
{
	for (; node; node = RB_PARENT(node, rb)) {
		uint64_t max = itree_subtree_last(node);

		if (max == node->subtree_last)
			break;
		node->subtree_last = max;
	}
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

/*
 * interval_tree_insert() (INTERVAL_TREE_DEFINE()): one descent that raises the maximum of
 * every node passed, as the new interval will sit below each of them, then link the leaf
 * (rb_link_node()) and rebalance (rb_insert_augmented(): libbsd's RB_INSERT_COLOR, whose
 * rotations keep the maxima right, see itree_augment()). The descent orders by (start,
 * last, address) where the kernel goes right on equal starts, so that the in-order
 * sequence, and with it iteration, stays a total order.
 */
int mn_itree_insert(struct mn_itree *tree, struct mn_itree_node *node)
{
	struct mn_itree_node **link = &RB_ROOT(&tree->rb);
	struct mn_itree_node *parent = NULL;

	if (unlikely(node->last < node->start))
		return -EINVAL;

	while (*link) {
		parent = *link;
		if (parent->subtree_last < node->last)
			parent->subtree_last = node->last;
		/* The address tie-break makes every key unique: never equal to a linked node. */
		if (itree_cmp(node, parent) < 0)
			link = &RB_LEFT(parent, rb);
		else
			link = &RB_RIGHT(parent, rb);
	}
	node->subtree_last = node->last;
	RB_SET(node, parent, rb);
	*link = node;
	mn_itree_rb_RB_INSERT_COLOR(&tree->rb, node);
	tree->count++;
	return 0;
}

/*
 * interval_tree_remove(), i.e. rb_erase_augmented(): the kernel propagates the loss of
 * @node upward from the point where the tree changed, stopping early, before it
 * rebalances. libbsd's RB_REMOVE does that itself (to the root) when @node has two
 * children; with at most one child it only recomputes @node's parent, so the loss is
 * propagated here first: from then on @node's position stands for its child's subtree
 * alone (or for nothing), which is exactly what that position holds after the splice.
 */
void mn_itree_remove(struct mn_itree *tree, struct mn_itree_node *node)
{
	struct mn_itree_node *left = RB_LEFT(node, rb), *right = RB_RIGHT(node, rb);

	if (!left || !right) {
		struct mn_itree_node *child = left ? left : right;

		/* 0 is the neutral maximum: every node's last is >= 0. */
		node->subtree_last = child ? child->subtree_last : 0;
		itree_propagate(RB_PARENT(node, rb));
	}
	RB_REMOVE(mn_itree_rb, &tree->rb, node);
	tree->count--;
}

/*
 * rb_replace_node(), which KVM's kvm_replace_gfn_node() uses when a slot's replacement keeps
 * its base gfn: @repl takes over @old's links, colour and maximum (the interval being the
 * same, no maximum changes). Only the address tie-break can object, when a neighbour in
 * order has the same interval and @repl's address does not sort between the neighbours;
 * that case, which the kernel's trees never meet, is a remove and an insert.
 */
int mn_itree_replace(struct mn_itree *tree, struct mn_itree_node *old, struct mn_itree_node *repl)
{
	struct mn_itree_node *prev, *next, *parent;

	if (unlikely(repl->start != old->start || repl->last != old->last))
		return -EINVAL;
	if (repl == old)
		return 0;

	prev = RB_PREV(mn_itree_rb, &tree->rb, old);
	next = RB_NEXT(mn_itree_rb, &tree->rb, old);
	if ((prev && itree_cmp(prev, repl) >= 0) || (next && itree_cmp(repl, next) >= 0)) {
		mn_itree_remove(tree, old);
		return mn_itree_insert(tree, repl);
	}

	repl->rb = old->rb;
	repl->subtree_last = old->subtree_last;
	parent = RB_PARENT(old, rb);
	if (!parent)
		RB_ROOT(&tree->rb) = repl;
	else if (RB_LEFT(parent, rb) == old)
		RB_LEFT(parent, rb) = repl;
	else
		RB_RIGHT(parent, rb) = repl;
	if (RB_LEFT(repl, rb))
		RB_PARENT(RB_LEFT(repl, rb), rb) = repl;
	if (RB_RIGHT(repl, rb))
		RB_PARENT(RB_RIGHT(repl, rb), rb) = repl;
	return 0;
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
