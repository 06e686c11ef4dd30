/* SPDX-License-Identifier: MIT */
/*
 * itree.h - augmented red-black interval tree, the structure behind the kernel's
 * include/linux/interval_tree.h (used by KVM for the memslot hva tree).
 */
#ifndef MNSIM_ITREE_H
#define MNSIM_ITREE_H

#include <bsd/sys/tree.h>
#include <mnsim/types.h>

/**
 * DOC: itree.h
 *
 * An interval tree stores closed intervals ``[start, last]`` of 64-bit units in a red-black
 * tree ordered by (start, last, node address), each node augmented with the largest ``last``
 * of its subtree so that a stabbing or overlap query skips every subtree that ends before
 * the query begins. It is libbsd's ``<bsd/sys/tree.h>`` with an augmentation callback that
 * recomputes one node from its children; insert and remove propagate a changed maximum
 * upward themselves and stop where it stops changing, as the kernel's augmented rbtree does,
 * so every update is O(log n).
 *
 * Nodes are embedded in the caller's objects (memslots, pfn caches, guest_memfd bindings)
 * and found again with container_of(). The tree never allocates. Iteration follows the
 * kernel's interval_tree_iter_first() / interval_tree_iter_next(): overlapping nodes come back
 * in ascending (start, last) order.
 *
 * The public API takes the inclusive ``last`` because that is what the tree stores; callers
 * holding a half-open ``[start, end)`` pass ``end - 1``.
 */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct mn_itree_node - one interval, embedded in the caller's object.
 * @rb: red-black linkage (private).
 * @start: first unit of the interval.
 * @last: last unit of the interval, inclusive (>= @start).
 * @subtree_last: largest @last in the subtree rooted here (private, kept by the tree).
 */
struct mn_itree_node {
	RB_ENTRY(mn_itree_node) rb;
	uint64_t start;
	uint64_t last;
	uint64_t subtree_last;
};

RB_HEAD(mn_itree_rb, mn_itree_node);

/**
 * struct mn_itree - the root of an interval tree.
 * @rb: red-black root (private).
 * @count: number of nodes in the tree.
 */
struct mn_itree {
	struct mn_itree_rb rb;
	size_t count;
};

#define MN_ITREE_INITIALIZER                           \
	{                                              \
		.rb = RB_INITIALIZER(NULL), .count = 0 \
	}

/**
 * mn_itree_init() - Make @tree empty.
 * @tree: the tree to initialise.
 *
 * Context: Any context. Nodes still linked into @tree are forgotten, not touched.
 */
MN_EXPORT void mn_itree_init(struct mn_itree *tree);

/**
 * mn_itree_insert() - Link @node, covering [@node->start, @node->last], into @tree.
 * @tree: the tree.
 * @node: an unlinked node whose @start and @last the caller has set.
 *
 * Identical intervals may be inserted any number of times; ties are broken by node address.
 * Models interval_tree_insert().
 *
 * Context: Caller serialises all access to @tree. O(log n).
 * Return: 0, or -EINVAL when @node->last < @node->start (nothing is linked).
 */
MN_EXPORT int mn_itree_insert(struct mn_itree *tree, struct mn_itree_node *node);

/**
 * mn_itree_remove() - Unlink @node from @tree.
 * @tree: the tree that holds @node.
 * @node: a node previously inserted into @tree and not removed since.
 *
 * Models interval_tree_remove().
 *
 * Context: Caller serialises all access to @tree. O(log n).
 */
MN_EXPORT void mn_itree_remove(struct mn_itree *tree, struct mn_itree_node *node);

/**
 * mn_itree_replace() - Put @repl in @old's place in @tree.
 * @tree: the tree that holds @old.
 * @old: a node linked into @tree; unlinked on success.
 * @repl: an unlinked node with the same @start and @last as @old.
 *
 * Models rb_replace_node(): @repl takes over @old's position without a rebalance. When a
 * neighbour of @old holds the same interval and @repl's address would not sort where @old
 * was, @old is removed and @repl inserted instead. Replacing a node by itself does nothing.
 *
 * Context: Caller serialises all access to @tree. O(1) plus finding @old's neighbours in
 * order (O(log n) at worst).
 * Return: 0, or -EINVAL when @repl's interval differs from @old's (nothing changes).
 */
MN_EXPORT int mn_itree_replace(struct mn_itree *tree, struct mn_itree_node *old,
			       struct mn_itree_node *repl);

/**
 * mn_itree_iter_first() - First node overlapping [@start, @last].
 * @tree: the tree to search.
 * @start: first unit of the query.
 * @last: last unit of the query, inclusive.
 *
 * Models interval_tree_iter_first().
 *
 * Context: Caller serialises against writers of @tree. O(log n).
 * Return: the overlapping node with the smallest (start, last, address), or NULL.
 */
MN_EXPORT struct mn_itree_node *mn_itree_iter_first(struct mn_itree *tree, uint64_t start,
						    uint64_t last);

/**
 * mn_itree_iter_next() - Next node after @node that overlaps [@start, @last].
 * @node: a node returned by mn_itree_iter_first() or mn_itree_iter_next() for the same query.
 * @start: first unit of the query.
 * @last: last unit of the query, inclusive.
 *
 * Models interval_tree_iter_next().
 *
 * Context: Caller serialises against writers of the tree. O(log n) amortised per result.
 * Return: the next overlapping node in (start, last, address) order, or NULL.
 */
MN_EXPORT struct mn_itree_node *mn_itree_iter_next(struct mn_itree_node *node, uint64_t start,
						   uint64_t last);

/**
 * mn_itree_first() - The node with the smallest (start, last, address).
 * @tree: the tree.
 *
 * Context: Caller serialises against writers of @tree.
 * Return: the first node in order, or NULL when @tree is empty.
 */
MN_EXPORT struct mn_itree_node *mn_itree_first(struct mn_itree *tree);

/**
 * mn_itree_next() - In-order successor of @node.
 * @node: a node linked into a tree.
 *
 * Context: Caller serialises against writers of the tree.
 * Return: the next node in (start, last, address) order, or NULL after the last.
 */
MN_EXPORT struct mn_itree_node *mn_itree_next(struct mn_itree_node *node);

/**
 * mn_itree_check_invariants() - Verify the tree's structure.
 * @tree: the tree to check.
 *
 * Checks parent links, the red-black colouring rules (red nodes have black children, equal
 * black height on every path), the in-order key order, every node's @start <= @last, every
 * @subtree_last and the node count. Tests call it after each mutation.
 *
 * Context: Caller serialises against writers of @tree. O(n).
 * Return: 0 when consistent, -EUCLEAN on the first broken rule.
 */
MN_EXPORT int mn_itree_check_invariants(const struct mn_itree *tree);

/*
 * Iterate @node over every interval of @tree that overlaps [@start, @last]. The body must not
 * remove @node.
 */
#define mn_itree_for_each(node, tree, start, last)                          \
	for ((node) = mn_itree_iter_first((tree), (start), (last)); (node); \
	     (node) = mn_itree_iter_next((node), (start), (last)))

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_ITREE_H */
