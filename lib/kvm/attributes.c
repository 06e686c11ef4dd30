// SPDX-License-Identifier: MIT
/*
 * attributes.c - per-gfn memory attributes and KVM_SET_MEMORY_ATTRIBUTES, modelled on
 * virt/kvm/kvm_main.c (kvm_vm_ioctl_set_mem_attributes(), kvm_vm_set_mem_attributes(),
 * kvm_handle_gfn_range(), kvm_pre_set_memory_attributes(), kvm_range_has_memory_attributes())
 * and arch/x86/kvm/mmu/mmu.c (kvm_arch_pre/post_set_memory_attributes()). PROTOCOL.md §3.11.
 */
#include "kvm/kvm-internal.h"

/*
 * The named steps of a change, and what a mutation that skips one does:
 *
 * set_attributes.zap    the unmap of each memslot's part of the range in the pre step.
 *                       Skipped, mappings of the old kind survive the conversion (a shared
 *                       page stays mapped at a gfn that is now private).
 * set_attributes.flush  the remote TLB flush the pre step owes after its zaps, still under
 *                       mmu_lock. Skipped, vCPU TLBs keep translations the zap removed.
 * set_attributes.store  the store of the new attributes. Skipped, the invalidation runs and
 *                       ends but the attributes stay as they were.
 *
 * Yield points where the kernel may sleep: "set_attributes.reserve" (xa_reserve() with
 * GFP_KERNEL_ACCOUNT and the cond_resched() of its loop), slots_lock, mmu_lock, and the
 * yields of a blocking zap ("zap.yield"). The invalidation itself uses the notifier's steps
 * (invalidate_start.begin, invalidate_end.seq_bump, invalidate_end.in_progress_dec).
 *
 * Storage: the kernel keeps one xarray entry per gfn, so converting 1 GiB touches 2^18
 * entries. Here the gfns with non-zero attributes are disjoint half-open ranges in a
 * red-black tree keyed by start, with neighbours of equal attributes merged: a lookup, a
 * uniformity check and a change cost O(log n) whatever the range's size. A change needs at
 * most two new nodes (the tail of a range it splits and the range it stores); they are
 * reserved before the pre step, as the kernel reserves its entries, so the store cannot
 * fail. The kernel stores gfn by gfn, each store visible at once to RCU readers; here the
 * whole range is stored in one step (no reader sees half of it; faults in the range retry
 * anyway while the invalidation is in progress).
 */

/* libbsd 0.11.7 leaves __unused undefined (Debian #522773) but RB_GENERATE_STATIC uses it. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif

/* x86 KVM_MAX_HUGEPAGE_LEVEL: the largest level lpage_info tracks. */
#define ATTR_MAX_HUGEPAGE_LEVEL MN_PG_LEVEL_1G

/* gfns [start, end) all have @attrs (never 0: gfns without attributes have no node). */
struct kvm_mem_attr_range {
	RB_ENTRY(kvm_mem_attr_range) rb;
	mn_gfn_t start;
	mn_gfn_t end;
	uint64_t attrs;
};

/* Ranges are disjoint, so the start alone orders them (and their ends the same way). */
static int attr_cmp(const struct kvm_mem_attr_range *a, const struct kvm_mem_attr_range *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE_STATIC(kvm_mem_attr_tree, kvm_mem_attr_range, rb, attr_cmp)

/* kvm_supported_mem_attributes(): PRIVATE for VMs with private memory, else nothing. */
static uint64_t kvm_supported_mem_attributes(const struct mn_vm *vm)
{
	return kvm_arch_has_private_mem(vm) ? MN_MEMORY_ATTRIBUTE_PRIVATE : 0;
}

/* The first range that ends after @gfn: the one holding @gfn, or the next one. */
static struct kvm_mem_attr_range *attr_first(const struct mn_vm *vm, mn_gfn_t gfn)
{
	struct kvm_mem_attr_range *n = RB_ROOT(&vm->mem_attr_array), *best = NULL;

	while (n) {
		if (n->end > gfn) {
			best = n;
			n = RB_LEFT(n, rb);
		} else {
			n = RB_RIGHT(n, rb);
		}
	}
	return best;
}

static struct kvm_mem_attr_range *attr_next(struct kvm_mem_attr_range *n)
{
	return kvm_mem_attr_tree_RB_NEXT(n);
}

uint64_t kvm_get_memory_attributes(const struct mn_vm *vm, mn_gfn_t gfn)
{
	struct kvm_mem_attr_range *n = attr_first(vm, gfn);

	return n && n->start <= gfn ? n->attrs : 0;
}

/* kvm_mem_is_private() */
bool kvm_mem_is_private(const struct mn_vm *vm, mn_gfn_t gfn)
{
	return kvm_arch_has_private_mem(vm) &&
	       (kvm_get_memory_attributes(vm, gfn) & MN_MEMORY_ATTRIBUTE_PRIVATE);
}

/*
 * kvm_range_has_memory_attributes(): every gfn of [@start, @end) has exactly @attrs under
 * @mask. The mask is first narrowed to what the VM supports, and asking for a bit outside
 * it is answered "no", since no gfn can have it. The gaps between ranges have attributes 0.
 */
bool kvm_range_has_memory_attributes(const struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end,
				     uint64_t mask, uint64_t attrs)
{
	struct kvm_mem_attr_range *n;
	mn_gfn_t cursor = start;

	mask &= kvm_supported_mem_attributes(vm);
	if (attrs & ~mask)
		return false;
	if (!mask)
		return true;
	for (n = attr_first(vm, start); n && n->start < end; n = attr_next(n)) {
		if (n->start > cursor && attrs)
			return false; /* a gap of attributes 0 */
		if ((n->attrs & mask) != attrs)
			return false;
		cursor = n->end;
	}
	return cursor >= end || !attrs;
}

/* ---- the store ----------------------------------------------------------------------------- */

/*
 * New nodes a store of @attrs over [@start, @end) may need: the tail of a range of other
 * attributes that covers more than the whole of it on both sides, and the stored range.
 */
static unsigned int attr_nodes_needed(const struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end,
				      uint64_t attrs)
{
	struct kvm_mem_attr_range *n = attr_first(vm, start);
	unsigned int need = attrs != 0;

	if (n && n->start < start && n->end > end && n->attrs != attrs)
		need++;
	return need;
}

/* xa_reserve(): top the VM's spare nodes up to @need before anything changes. */
static int kvm_attributes_reserve(struct mn_vm *vm, unsigned int need)
{
	while (vm->nr_mem_attr_spare < need) {
		struct kvm_mem_attr_range *n = mn_zalloc(vm->alloc, sizeof(*n));

		if (!n)
			return -ENOMEM;
		vm->mem_attr_spare[vm->nr_mem_attr_spare++] = n;
	}
	return 0;
}

static struct kvm_mem_attr_range *attr_take(struct mn_vm *vm)
{
	/* Reserved by kvm_attributes_reserve(): the store step never allocates. */
	return vm->mem_attr_spare[--vm->nr_mem_attr_spare];
}

static void attr_put(struct mn_vm *vm, struct kvm_mem_attr_range *n)
{
	if (vm->nr_mem_attr_spare < ARRAY_SIZE(vm->mem_attr_spare))
		vm->mem_attr_spare[vm->nr_mem_attr_spare++] = n;
	else
		mn_free(vm->alloc, n);
}

/*
 * The xa_store() loop: [@start, @end) gets @attrs. Ranges of other attributes are trimmed,
 * split or dropped where they overlap it; ranges of the same attributes that overlap or
 * touch it are absorbed into the stored range.
 */
static void attr_store(struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end, uint64_t attrs)
{
	struct kvm_mem_attr_tree *t = &vm->mem_attr_array;
	struct kvm_mem_attr_range *n, *next, *tail;
	mn_gfn_t new_start = start, new_end = end;

	/* From the range that ends at or after @start (a left neighbour may merge). */
	for (n = attr_first(vm, start ? start - 1 : 0); n && n->start <= end; n = next) {
		next = attr_next(n);
		if (n->attrs == attrs) {
			new_start = MN_MIN(new_start, n->start);
			new_end = MN_MAX(new_end, n->end);
			RB_REMOVE(kvm_mem_attr_tree, t, n);
			attr_put(vm, n);
		} else if (n->end == start || n->start == end) {
			continue; /* touches it, other attributes: stays */
		} else if (n->start < start && n->end > end) {
			tail = attr_take(vm);
			*tail = (struct kvm_mem_attr_range){ .start = end,
							     .end = n->end,
							     .attrs = n->attrs };
			n->end = start;
			RB_INSERT(kvm_mem_attr_tree, t, tail);
			break; /* it covered the whole range: nothing else overlaps */
		} else if (n->start < start) {
			n->end = start;
		} else if (n->end > end) {
			/* The key moves, but stays between the same neighbours. */
			n->start = end;
		} else {
			RB_REMOVE(kvm_mem_attr_tree, t, n);
			attr_put(vm, n);
		}
	}
	if (attrs) {
		n = attr_take(vm);
		*n = (struct kvm_mem_attr_range){ .start = new_start,
						  .end = new_end,
						  .attrs = attrs };
		RB_INSERT(kvm_mem_attr_tree, t, n);
	}
}

/*
 * For tests (STYLE.md R12): the ranges are non-empty, carry attributes, are sorted and
 * disjoint, and neighbours with equal attributes are merged. Returns the number of ranges,
 * or -EINVAL for a broken store.
 */
int kvm_attributes_check(const struct mn_vm *vm)
{
	struct kvm_mem_attr_range *n, *prev = NULL;
	int nr = 0;

	for (n = attr_first(vm, 0); n; prev = n, n = attr_next(n), nr++) {
		if (n->start >= n->end || !n->attrs)
			return -EINVAL;
		if (prev &&
		    (prev->end > n->start || (prev->end == n->start && prev->attrs == n->attrs)))
			return -EINVAL;
	}
	return nr;
}

void kvm_attributes_init(struct mn_vm *vm)
{
	RB_INIT(&vm->mem_attr_array);
	vm->nr_mem_attr_spare = 0;
}

void kvm_attributes_free(struct mn_vm *vm)
{
	struct kvm_mem_attr_range *n, *next;

	RB_FOREACH_SAFE(n, kvm_mem_attr_tree, &vm->mem_attr_array, next) {
		RB_REMOVE(kvm_mem_attr_tree, &vm->mem_attr_array, n);
		mn_free(vm->alloc, n);
	}
	while (vm->nr_mem_attr_spare)
		mn_free(vm->alloc, vm->mem_attr_spare[--vm->nr_mem_attr_spare]);
}

/* ---- the gfn walker ---------------------------------------------------------------------- */

typedef bool (*attr_handler_t)(struct mn_vm *vm, struct kvm_gfn_range *range, uint64_t attrs);

/* The kernel's struct kvm_mmu_notifier_range as kvm_handle_gfn_range() uses it. */
struct kvm_gfn_walk {
	mn_gfn_t start;
	mn_gfn_t end;
	uint64_t attrs; /* arg.attributes */
	attr_handler_t handler;
	void (*on_lock)(struct mn_vm *vm);
	bool flush_on_ret;
	bool may_block;
};

/*
 * kvm_handle_gfn_range(): for every address space, every slot of the active set that meets
 * [start, end), clamped to the slot; on the first such slot take mmu_lock for writing and
 * run on_lock once; then the handler per slot; flush before dropping mmu_lock when asked
 * and a handler asked for it. The kernel reads the sets under slots_lock, which its caller
 * holds (no SRCU): no memslot update can run, so the slots cannot change under the walk
 * even while a blocking zap drops mmu_lock. Returns whether any slot was found.
 */
static bool kvm_handle_gfn_range(struct mn_vm *vm, const struct kvm_gfn_walk *w)
{
	bool found = false, flush = false;
	unsigned int as;

	for (as = 0; as < vm->nr_as; as++) {
		struct kvm_memslots *slots = kvm_memslots(vm, as);
		struct mn_itree_node *node;

		mn_itree_for_each(node, &slots->gfn_tree, w->start, w->end - 1) {
			struct kvm_memory_slot *slot = slot_of_gfn_node(node, slots->node_idx);
			struct kvm_gfn_range range = {
				.slot = slot,
				.start = MN_MAX(w->start, slot->base_gfn),
				.end = MN_MIN(w->end, slot->base_gfn + slot->npages),
				.may_block = w->may_block,
			};

			if (range.start >= range.end)
				continue;
			if (!found) {
				found = true;
				mn_write_lock(vm->sim, &vm->mmu_lock);
				w->on_lock(vm);
			}
			if (w->handler)
				flush |= w->handler(vm, &range, w->attrs);
		}
	}
	if (w->flush_on_ret && flush && mn_step(vm->sim, "set_attributes.flush"))
		kvm_flush_remote_tlbs(vm);
	if (found)
		mn_write_unlock(vm->sim, &vm->mmu_lock);
	return found;
}

/*
 * kvm_arch_pre_set_memory_attributes() (x86; only VMs with private memory get here):
 *
 * 1. Each huge-page level's block at the head and at the tail of the slot's range, if it
 *    reaches outside the range, lies wholly inside the slot and its attributes are still
 *    uniform (no KVM_LPAGE_MIXED_FLAG), joins the invalidation range: a fault on one of its
 *    gfns whose attributes do not change would otherwise map a huge page across the pages
 *    that do (the fix for the attributes vs. hugepage race). Only the range itself is
 *    zapped, which takes any huge leaf overlapping it whole.
 * 2. The filter names the old kind of mapping: KVM_FILTER_SHARED when converting to
 *    private, KVM_FILTER_PRIVATE when converting to shared.
 * 3. kvm_unmap_gfn_range(). The TDP MMU turns the filter into root types
 *    (kvm_gfn_range_filter_to_root_types()), and without mirror roots - every VM here,
 *    TDX included (see enum mn_vm_type) - that is the direct roots whatever the filter:
 *    mappings of both kinds are zapped (mmu.c's kvm_unmap_gfn_range()).
 */
static bool kvm_arch_pre_set_memory_attributes(struct mn_vm *vm, struct kvm_gfn_range *range,
					       uint64_t attrs)
{
	const struct kvm_memory_slot *slot = range->slot;
	mn_gfn_t slot_end = slot->base_gfn + slot->npages;
	unsigned int level;

	for (level = MN_PG_LEVEL_2M; level <= ATTR_MAX_HUGEPAGE_LEVEL; level++) {
		uint64_t pages = mn_level_pages(level);
		mn_gfn_t head = mn_gfn_round_for_level(range->start, level);
		mn_gfn_t tail = mn_gfn_round_for_level(range->end - 1, level);

		if ((head != range->start || head + pages > range->end) && head >= slot->base_gfn &&
		    head + pages <= slot_end &&
		    kvm_range_has_memory_attributes(vm, head, head + pages, ~0ULL,
						    kvm_get_memory_attributes(vm, head)))
			kvm_mmu_invalidate_range_add(vm, head, head + pages);
		if (tail == head)
			continue;
		if (tail + pages > range->end && tail + pages <= slot_end &&
		    kvm_range_has_memory_attributes(vm, tail, tail + pages, ~0ULL,
						    kvm_get_memory_attributes(vm, tail)))
			kvm_mmu_invalidate_range_add(vm, tail, tail + pages);
	}
	range->attr_filter =
		attrs & MN_MEMORY_ATTRIBUTE_PRIVATE ? KVM_FILTER_SHARED : KVM_FILTER_PRIVATE;
	mn_trace(vm->trace, "kvm.set_attributes_zap", MN_KV_U("as", slot->as_id),
		 MN_KV_X("start", range->start), MN_KV_X("end", range->end),
		 MN_KV_X("filter", range->attr_filter));
	if (!mn_step(vm->sim, "set_attributes.zap"))
		return false;
	return kvm_unmap_gfn_range(vm, range);
}

/*
 * kvm_pre_set_memory_attributes(): the slot's part of the range always joins the
 * invalidation, whether or not anything is zapped, so that begin is never without a range.
 */
static bool kvm_pre_set_memory_attributes(struct mn_vm *vm, struct kvm_gfn_range *range,
					  uint64_t attrs)
{
	kvm_mmu_invalidate_range_add(vm, range->start, range->end);
	return kvm_arch_pre_set_memory_attributes(vm, range, attrs);
}

/* ---- KVM_SET_MEMORY_ATTRIBUTES ------------------------------------------------------------ */

/*
 * kvm_vm_set_mem_attributes() under slots_lock. The post step's handler,
 * kvm_arch_post_set_memory_attributes(), only recomputes the cached mixed flags of the
 * huge-page blocks the range touches; this model computes them on demand
 * (kvm_mmu_slot_allows_level()), so the post walk runs only its on_lock,
 * kvm_mmu_invalidate_end().
 */
static int kvm_vm_set_mem_attributes(struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end, uint64_t attrs)
{
	const struct kvm_gfn_walk pre = {
		.start = start,
		.end = end,
		.attrs = attrs,
		.handler = kvm_pre_set_memory_attributes,
		.on_lock = kvm_mmu_invalidate_begin,
		.flush_on_ret = true,
		.may_block = true,
	};
	const struct kvm_gfn_walk post = {
		.start = start,
		.end = end,
		.attrs = attrs,
		.on_lock = kvm_mmu_invalidate_end,
		.may_block = true,
	};
	bool found;
	int r = 0;

	mn_mutex_lock(vm->sim, &vm->slots_lock);
	/* Already so everywhere: nothing to invalidate. */
	if (kvm_range_has_memory_attributes(vm, start, end, ~0ULL, attrs)) {
		mn_trace(vm->trace, "kvm.set_attributes", MN_KV_X("start", start),
			 MN_KV_X("end", end), MN_KV_X("attributes", attrs),
			 MN_KV_S("phase", "noop"));
		goto out_unlock;
	}
	mn_might_sleep(vm->sim, "xa_reserve");
	r = kvm_attributes_reserve(vm, attr_nodes_needed(vm, start, end, attrs));
	mn_yield(vm->sim, "set_attributes.reserve");
	if (r)
		goto out_unlock;
	mn_trace(vm->trace, "kvm.set_attributes", MN_KV_X("start", start), MN_KV_X("end", end),
		 MN_KV_X("attributes", attrs), MN_KV_S("phase", "pre"));

	found = kvm_handle_gfn_range(vm, &pre);
	if (mn_step(vm->sim, "set_attributes.store"))
		attr_store(vm, start, end, attrs);
	kvm_handle_gfn_range(vm, &post);
	mn_trace(vm->trace, "kvm.set_attributes", MN_KV_X("start", start), MN_KV_X("end", end),
		 MN_KV_X("attributes", attrs),
		 MN_KV_S("phase", found ? "stored" : "stored_no_slot"),
		 MN_KV_U("seq", vm->mmu_invalidate_seq));
out_unlock:
	mn_mutex_unlock(vm->sim, &vm->slots_lock);
	return r;
}

/* kvm_vm_ioctl_set_mem_attributes(): the checks, in the kernel's order. */
int mn_vm_set_memory_attributes(struct mn_vm *vm, const struct mn_memory_attributes *attrs)
{
	if (attrs->flags)
		return -EINVAL;
	if (attrs->attributes & ~kvm_supported_mem_attributes(vm))
		return -EINVAL;
	if (!attrs->size || attrs->address + attrs->size < attrs->address)
		return -EINVAL;
	if (!mn_is_aligned(attrs->address, MN_PAGE_SIZE) ||
	    !mn_is_aligned(attrs->size, MN_PAGE_SIZE))
		return -EINVAL;
	return kvm_vm_set_mem_attributes(vm, attrs->address >> MN_PAGE_SHIFT,
					 (attrs->address + attrs->size) >> MN_PAGE_SHIFT,
					 attrs->attributes);
}

uint64_t mn_vm_get_memory_attributes(struct mn_vm *vm, mn_gfn_t gfn)
{
	return kvm_get_memory_attributes(vm, gfn);
}
