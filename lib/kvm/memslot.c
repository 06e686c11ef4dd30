// SPDX-License-Identifier: MIT
/*
 * memslot.c - memslot sets and KVM_SET_USER_MEMORY_REGION2, modelled on virt/kvm/kvm_main.c
 * (kvm_vm_ioctl_set_memory_region(), kvm_set_memory_region(), kvm_set_memslot(),
 * kvm_swap_active_memslots(), kvm_replace_memslot()) and include/linux/kvm_host.h
 * (search_memslots(), id_to_memslot()). PROTOCOL.md §3.9 numbers the steps (V1-V17, M1-M6,
 * S1-S8) that the comments below refer to.
 */
#include "kvm/kvm-internal.h"

#include "host/file-ops.h"

/*
 * The VMM's TASK_SIZE_MAX, the limit access_ok() checks userspace_addr against: x86-64 with
 * 4-level paging stops one guard page below 2^47 (the host model is that process, for arm64
 * VMs too; a real arm64 host would allow up to 2^48).
 */
#define KVM_USER_TASK_SIZE ((1ULL << 47) - MN_PAGE_SIZE)

/* enum kvm_mr_change */
enum kvm_mr_change {
	KVM_MR_CREATE,
	KVM_MR_DELETE,
	KVM_MR_MOVE,
	KVM_MR_FLAGS_ONLY,
};

static const char *const change_name[] = {
	[KVM_MR_CREATE] = "create",
	[KVM_MR_DELETE] = "delete",
	[KVM_MR_MOVE] = "move",
	[KVM_MR_FLAGS_ONLY] = "flags_only",
};

/* KVM_USER_MEM_SLOTS: x86 reserves KVM_X86_INTERNAL_MEM_SLOTS at the top for itself. */
unsigned int kvm_user_mem_slots(const struct mn_vm *vm)
{
	if (vm->cfg.arch == MN_VM_X86)
		return KVM_MEM_SLOTS_NUM - KVM_X86_INTERNAL_MEM_SLOTS;
	return KVM_MEM_SLOTS_NUM;
}

/* ---- the sets --------------------------------------------------------------------------- */

/*
 * The memslot part of kvm_create_vm(): two empty sets per address space, set 0 active.
 * Address space i starts at generation i, so that every later generation (always advanced
 * by nr_as) stays unique across address spaces.
 */
void kvm_memslots_init(struct mn_vm *vm)
{
	unsigned int as;
	int j;

	for (as = 0; as < vm->nr_as; as++) {
		for (j = 0; j < 2; j++) {
			struct kvm_memslots *slots = &vm->__memslots[as][j];

			slots->last_used_slot = NULL;
			mn_itree_init(&slots->hva_tree);
			mn_itree_init(&slots->gfn_tree);
			memset(slots->id_map, 0, sizeof(slots->id_map));
			slots->nr_slots = 0;
			slots->node_idx = j;
			slots->generation = as;
		}
		vm->memslots[as] = &vm->__memslots[as][0];
	}
}

/* kvm_destroy_dirty_bitmap() */
static void kvm_destroy_dirty_bitmap(struct mn_vm *vm, struct kvm_memory_slot *slot)
{
	mn_free(vm->alloc, slot->dirty_bitmap);
	slot->dirty_bitmap = NULL;
}

/* Free the slots kvm_retire_memslot() kept, with the bitmaps they own. */
static void kvm_free_retired_memslots(struct mn_vm *vm)
{
	while (vm->retired_slots) {
		struct kvm_memory_slot *slot = vm->retired_slots;

		vm->retired_slots = slot->retired_next;
		if (slot->retired_owns_bitmap)
			kvm_destroy_dirty_bitmap(vm, slot);
		mn_free(vm->alloc, slot);
	}
}

/*
 * Free @slot, with its dirty bitmap when it owns it (@own_bitmap), now that no SRCU reader
 * can hold it. The kernel counts on the synchronize_srcu() of the swap that unpublished it.
 * When a mutation skipped that wait ("memslot.synchronize_srcu"), a vCPU fault may still be
 * using the slot (and marking its bitmap): freeing it would make the simulator itself touch
 * freed memory instead of showing the protocol's failure, so from then on a slot retired
 * while any kvm->srcu reader is inside is kept, unreachable, until a retirement finds no
 * reader or the VM is destroyed.
 */
static void kvm_retire_memslot(struct mn_vm *vm, struct kvm_memory_slot *slot, bool own_bitmap)
{
	bool readers = vm->srcu.readers[0] || vm->srcu.readers[1];

	if (!vm->memslots_unsynced || !readers) {
		if (own_bitmap)
			kvm_destroy_dirty_bitmap(vm, slot);
		mn_free(vm->alloc, slot);
		if (!readers)
			kvm_free_retired_memslots(vm);
		return;
	}
	slot->retired_owns_bitmap = own_bitmap;
	slot->retired_next = vm->retired_slots;
	vm->retired_slots = slot;
}

/*
 * kvm_free_memslot(): the slot and what only it owns. It does not unlink the slot from any
 * set: the guest_memfd binding goes (kvm_gmem_unbind()); no arch metadata yet; the
 * userfault bitmap is the VMM's. The oracle's snapshot of it goes with the slot.
 */
static void kvm_free_memslot(struct mn_vm *vm, struct kvm_memory_slot *slot)
{
	kvm_gmem_unbind(vm, slot);
	mn_free(vm->alloc, slot->userfault_armed);
	slot->userfault_armed = NULL;
	kvm_retire_memslot(vm, slot, true);
}

/*
 * kvm_free_memslots() for both sets of every address space. Both sets hold the same slot
 * objects when no update is running, so only the set with node_idx 1 is walked (by id), as
 * the kernel does; then the id chunks of both sets go and the sets end empty.
 */
void kvm_memslots_free(struct mn_vm *vm)
{
	unsigned int as, c, i;
	int j;

	for (as = 0; as < vm->nr_as; as++) {
		struct kvm_memslots *slots = &vm->__memslots[as][1];
		unsigned int left = slots->nr_slots;

		for (c = 0; left && c < KVM_ID_CHUNKS; c++) {
			struct kvm_memory_slot **chunk = slots->id_map[c];

			for (i = 0; chunk && left && i < KVM_ID_CHUNK; i++) {
				if (chunk[i]) {
					kvm_free_memslot(vm, chunk[i]);
					left--;
				}
			}
		}
		for (j = 0; j < 2; j++) {
			slots = &vm->__memslots[as][j];
			slots->last_used_slot = NULL;
			mn_itree_init(&slots->hva_tree);
			mn_itree_init(&slots->gfn_tree);
			for (c = 0; c < KVM_ID_CHUNKS; c++)
				mn_free(vm->alloc, slots->id_map[c]);
			memset(slots->id_map, 0, sizeof(slots->id_map));
			slots->nr_slots = 0;
		}
	}
	kvm_free_retired_memslots(vm);
}

/* try_get_memslot() */
static bool slot_has_gfn(const struct kvm_memory_slot *slot, mn_gfn_t gfn)
{
	return slot && gfn >= slot->base_gfn && gfn - slot->base_gfn < slot->npages;
}

/*
 * ____gfn_to_memslot(slots, gfn, false): the set's last_used_slot if it holds @gfn, else
 * search_memslots() in the gfn tree, remembering the hit. INVALID slots are returned like
 * any other; the callers check the flag.
 */
struct kvm_memory_slot *kvm_gfn_to_memslot(struct kvm_memslots *slots, mn_gfn_t gfn)
{
	struct kvm_memory_slot *slot = slots->last_used_slot;
	struct mn_itree_node *n;

	if (slot_has_gfn(slot, gfn))
		return slot;
	n = mn_itree_iter_first(&slots->gfn_tree, gfn, gfn);
	if (!n)
		return NULL;
	slot = slot_of_gfn_node(n, slots->node_idx);
	slots->last_used_slot = slot;
	return slot;
}

/* id_to_memslot(): the slot with @id in @slots, or NULL. */
struct kvm_memory_slot *kvm_id_to_memslot(struct kvm_memslots *slots, unsigned int id)
{
	struct kvm_memory_slot **chunk;

	if (id >= KVM_MEM_SLOTS_NUM)
		return NULL;
	chunk = slots->id_map[id >> KVM_ID_CHUNK_SHIFT];
	return chunk ? chunk[id & (KVM_ID_CHUNK - 1)] : NULL;
}

/* The id map entry of @id in @slots, whose chunk exists (kvm_id_map_prepare()). */
static struct kvm_memory_slot **kvm_id_map_entry(struct kvm_memslots *slots, unsigned int id)
{
	return &slots->id_map[id >> KVM_ID_CHUNK_SHIFT][id & (KVM_ID_CHUNK - 1)];
}

/*
 * Not the kernel's (its hash_add() cannot fail): make sure both sets of @as_id have the
 * chunk that holds @id, before anything changes. Return: 0 or -ENOMEM.
 */
static int kvm_id_map_prepare(struct mn_vm *vm, unsigned int as_id, unsigned int id)
{
	unsigned int c = id >> KVM_ID_CHUNK_SHIFT;
	int j;

	for (j = 0; j < 2; j++) {
		struct kvm_memslots *slots = &vm->__memslots[as_id][j];

		if (!slots->id_map[c])
			slots->id_map[c] =
				mn_calloc(vm->alloc, KVM_ID_CHUNK, sizeof(*slots->id_map[c]));
		if (!slots->id_map[c])
			return -ENOMEM;
	}
	return 0;
}

/*
 * After a create that failed: free the chunk of @id in each set of @as_id if no slot uses
 * it, so that a rejected request leaves no memory behind.
 */
static void kvm_id_map_trim(struct mn_vm *vm, unsigned int as_id, unsigned int id)
{
	unsigned int c = id >> KVM_ID_CHUNK_SHIFT, i;
	int j;

	for (j = 0; j < 2; j++) {
		struct kvm_memslots *slots = &vm->__memslots[as_id][j];
		struct kvm_memory_slot **chunk = slots->id_map[c];

		for (i = 0; chunk && i < KVM_ID_CHUNK; i++) {
			if (chunk[i])
				break;
		}
		if (chunk && i == KVM_ID_CHUNK) {
			mn_free(vm->alloc, chunk);
			slots->id_map[c] = NULL;
		}
	}
}

/* kvm_get_inactive_memslots() */
static struct kvm_memslots *kvm_get_inactive_memslots(struct mn_vm *vm, unsigned int as_id)
{
	return &vm->__memslots[as_id][vm->memslots[as_id]->node_idx ^ 1];
}

/* kvm_memslots_get_as_id(): the address space of two slots, one of which may be NULL. */
static unsigned int kvm_memslots_get_as_id(struct mn_vm *vm, const struct kvm_memory_slot *a,
					   const struct kvm_memory_slot *b)
{
	if (a && b && a->as_id != b->as_id)
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.memslot_as_mismatch",
			       "replacing a slot of address space %u by one of %u", a->as_id,
			       b->as_id);
	return a ? a->as_id : b->as_id;
}

/*
 * kvm_insert_gfn_node(): base gfns are unique in a set (the kernel BUG()s on a duplicate;
 * here it is reported and the node is left out).
 */
static void kvm_insert_gfn_node(struct mn_vm *vm, struct kvm_memslots *slots,
				struct kvm_memory_slot *slot)
{
	struct mn_itree_node *node = &slot->gfn_node[slots->node_idx];
	struct mn_itree_node *n;

	mn_itree_for_each(n, &slots->gfn_tree, slot->base_gfn, slot->base_gfn) {
		if (n->start == slot->base_gfn) {
			mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.memslot_duplicate_gfn",
				       "two memslots at base gfn %#llx in one set",
				       (unsigned long long)slot->base_gfn);
			return;
		}
	}
	node->start = slot->base_gfn;
	node->last = slot->base_gfn + slot->npages - 1;
	mn_itree_insert(&slots->gfn_tree, node);
}

/*
 * Put @new in @old's node in @tree when the interval is the same (rb_replace_node(): O(1),
 * no rebalance), else unlink @old and link @new.
 */
static void kvm_replace_node(struct mn_itree *tree, struct mn_itree_node *old,
			     struct mn_itree_node *new)
{
	if (mn_itree_replace(tree, old, new)) {
		mn_itree_remove(tree, old);
		mn_itree_insert(tree, new);
	}
}

/*
 * kvm_replace_memslot(): replace @old by @new in the inactive set of their address space;
 * a NULL @old adds @new, a NULL @new removes @old. Only the nodes [node_idx] of that set are
 * touched, so the active set, which may hold the same slots, is undisturbed. As in the
 * kernel, the id map entry changes in O(1) (hash_del() + hash_add()), the hva node is
 * always removed and inserted again (interval_tree_remove() and _insert()), and the gfn
 * node takes @old's place when the base gfn stays (kvm_replace_gfn_node():
 * rb_replace_node()), else is erased and inserted. @old and @new share their id.
 */
static void kvm_replace_memslot(struct mn_vm *vm, struct kvm_memory_slot *old,
				struct kvm_memory_slot *new)
{
	unsigned int as_id = kvm_memslots_get_as_id(vm, old, new);
	struct kvm_memslots *slots = kvm_get_inactive_memslots(vm, as_id);
	int idx = slots->node_idx;

	*kvm_id_map_entry(slots, old ? old->id : new->id) = new;
	if (!old)
		slots->nr_slots++;
	else if (!new)
		slots->nr_slots--;

	if (old) {
		mn_itree_remove(&slots->hva_tree, &old->hva_node[idx]);
		if (slots->last_used_slot == old)
			slots->last_used_slot = new;
		if (!new) {
			mn_itree_remove(&slots->gfn_tree, &old->gfn_node[idx]);
			return;
		}
	}
	new->hva_node[idx].start = new->userspace_addr;
	new->hva_node[idx].last = new->userspace_addr + (new->npages << MN_PAGE_SHIFT) - 1;
	mn_itree_insert(&slots->hva_tree, &new->hva_node[idx]);
	if (old && old->base_gfn == new->base_gfn && old->npages == new->npages) {
		new->gfn_node[idx].start = new->base_gfn;
		new->gfn_node[idx].last = new->base_gfn + new->npages - 1;
		kvm_replace_node(&slots->gfn_tree, &old->gfn_node[idx], &new->gfn_node[idx]);
	} else {
		if (old)
			mn_itree_remove(&slots->gfn_tree, &old->gfn_node[idx]);
		kvm_insert_gfn_node(vm, slots, new);
	}
}

/* ---- the swap --------------------------------------------------------------------------- */

static bool no_active_invalidations(void *arg)
{
	const struct mn_vm *vm = arg;

	return !vm->mn_active_invalidate_count;
}

/*
 * kvm_swap_active_memslots(): publish the inactive set of @as_id (S1-S8). Entered with
 * slots_arch_lock held; returns with it released.
 */
static void kvm_swap_active_memslots(struct mn_vm *vm, unsigned int as_id)
{
	struct kvm_memslots *slots = kvm_get_inactive_memslots(vm, as_id);
	uint64_t gen = vm->memslots[as_id]->generation;
	struct mn_sim *sim = vm->sim;

	/* S1-S2: readers must never cache a generation while the sets are in flux. */
	if (gen & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "kvm.memslot_generation_in_progress",
			       "active memslot generation %#llx has the update bit",
			       (unsigned long long)gen);
	slots->generation = gen | KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS;

	/*
	 * S3-S5: never publish between a notifier's invalidate_range_start() and its _end(),
	 * which must see the same set. The kernel sleeps on an rcuwait after dropping
	 * mn_invalidate_lock; mn_wait_event() checks the count again with no yield before it
	 * sleeps, so a wake-up in between is not lost. The notifier's end wakes the queue
	 * when the count drops to 0 (kvm_mmu_notifier_invalidate_range_end()).
	 */
	mn_spin_lock(sim, &vm->mn_invalidate_lock);
	if (mn_step(sim, "memslot.wait_invalidations")) {
		while (vm->mn_active_invalidate_count) {
			mn_spin_unlock(sim, &vm->mn_invalidate_lock);
			mn_wait_event(sim, &vm->mn_memslots_update_wait, no_active_invalidations,
				      vm);
			mn_spin_lock(sim, &vm->mn_invalidate_lock);
			/* Outside a run nobody can end it: mn_wait_event() reported a deadlock. */
			if (!mn_sim_current(sim))
				break;
		}
	}
	vm->memslots[as_id] = slots; /* rcu_assign_pointer() */
	mn_spin_unlock(sim, &vm->mn_invalidate_lock);

	/* S6: released before synchronize_srcu(): SRCU readers may take slots_arch_lock. */
	mn_mutex_unlock(sim, &vm->slots_arch_lock);

	/* S7: after this no reader (vCPU fault, notifier walk) still uses the old set. */
	if (mn_step(sim, "memslot.synchronize_srcu"))
		mn_synchronize_srcu(sim, &vm->srcu);
	else
		vm->memslots_unsynced = true; /* the mutation: see kvm_retire_memslot() */

	/* S8 */
	gen = (slots->generation & ~KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS) + vm->nr_as;
	/*
	 * kvm_arch_memslots_updated() would run here: x86 zaps MMIO SPTEs when the MMIO
	 * generation wraps and kicks the vCPUs. Neither is modelled, so there is no call.
	 */
	slots->generation = gen;
	vm->st.memslot_updates++;
	mn_trace(vm->trace, "kvm.memslots_swap", MN_KV_U("as", as_id),
		 MN_KV_U("node_idx", slots->node_idx), MN_KV_U("gen", gen));
}

/*
 * kvm_activate_memslot(): publish the inactive set, in which the caller has installed @new,
 * then bring the set that was active up to date (replace @old by @new in it) once SRCU says
 * nobody reads it any more. @id names the swap for the explorer.
 */
static void kvm_activate_memslot(struct mn_vm *vm, struct kvm_memory_slot *old,
				 struct kvm_memory_slot *new, const char *id)
{
	unsigned int as_id = kvm_memslots_get_as_id(vm, old, new);

	mn_yield(vm->sim, id);
	kvm_swap_active_memslots(vm, as_id);
	kvm_replace_memslot(vm, old, new);
}

/* kvm_copy_memslot(): the data fields, not the tree nodes. */
static void kvm_copy_memslot(struct kvm_memory_slot *dest, const struct kvm_memory_slot *src)
{
	dest->base_gfn = src->base_gfn;
	dest->npages = src->npages;
	dest->dirty_bitmap = src->dirty_bitmap;
	dest->userspace_addr = src->userspace_addr;
	dest->userfault_bitmap = src->userfault_bitmap;
	dest->userfault_armed = src->userfault_armed; /* shared, owned by @src */
	dest->flags = src->flags;
	dest->id = src->id;
	dest->as_id = src->as_id;
	/* The binding stays @src's; the copy only reads through it. */
	dest->gmem.file = src->gmem.file;
	dest->gmem.pgoff = src->gmem.pgoff;
}

/*
 * kvm_invalidate_memslot() (M2a-f): publish an INVALID copy of @old, so that faults retry
 * instead of mapping it, then zap every secondary mapping of @old. The inactive set keeps
 * @old for a rollback. Entered and left with slots_arch_lock held (the swap drops it).
 *
 * The step "memslot.invalidate_swap" is the swap. A mutation that skips it deletes or moves
 * the slot without the INVALID phase: the active set keeps @old, still mappable by faults,
 * until the install swap. Returns false in that case (@invalid is then unused).
 */
static bool kvm_invalidate_memslot(struct mn_vm *vm, struct kvm_memory_slot *old,
				   struct kvm_memory_slot *invalid)
{
	struct mn_sim *sim = vm->sim;
	bool published = mn_step(sim, "memslot.invalidate_swap");

	if (published) {
		kvm_copy_memslot(invalid, old);
		invalid->flags |= KVM_MEMSLOT_INVALID;
		kvm_replace_memslot(vm, old, invalid);
		kvm_swap_active_memslots(vm, old->as_id);
	} else {
		mn_mutex_unlock(sim, &vm->slots_arch_lock);
	}

	/*
	 * M2d: no new mapping of the slot can appear from here on (faults see INVALID and
	 * retry; faults that resolved @old before the swap have finished, SRCU).
	 */
	if (mn_step(sim, "memslot.flush_shadow"))
		kvm_arch_flush_shadow_memslot(vm, old);
	/* M2e: kvm_arch_guest_memory_reclaimed() only flushes caches for SEV: nothing here. */

	/*
	 * M2f: re-take slots_arch_lock. The kernel then copies invalid->arch back into @old,
	 * since arch data may have changed through the active copy; slots have no arch data
	 * yet.
	 */
	mn_mutex_lock(sim, &vm->slots_arch_lock);
	return published;
}

/* ---- prepare and commit ------------------------------------------------------------------ */

/* kvm_alloc_dirty_bitmap(): two bitmaps of npages bits, the second a scratch buffer. */
static int kvm_alloc_dirty_bitmap(struct mn_vm *vm, struct kvm_memory_slot *slot)
{
	size_t bytes = ((slot->npages + 63) / 64) * sizeof(uint64_t);

	slot->dirty_bitmap = mn_zalloc(vm->alloc, 2 * bytes);
	return slot->dirty_bitmap ? 0 : -ENOMEM;
}

/*
 * kvm_mmu_max_gfn(): the smaller of what the TDP table can map and the host's physical
 * address width (shadow_phys_bits, at most 52): a 5-level EPT does not lift it past 2^52.
 */
static mn_gfn_t kvm_mmu_max_gfn(const struct mn_vm *vm)
{
	return (1ULL << (MN_MIN(vm->fmt.ia_bits, 52U) - MN_PAGE_SHIFT)) - 1;
}

/*
 * kvm_arch_prepare_memory_region().
 * x86 (arch/x86/kvm/x86.c): a created or moved slot must end at or below kvm_mmu_max_gfn()
 * (-EINVAL); the kernel derives it from the host MAXPHYADDR, here from the EPT input
 * size. The rmap / lpage_info metadata it then allocates is not modelled.
 * arm64 (arch/arm64/kvm/mmu.c): a created, moved or re-flagged slot must end within the IPA
 * space (-EFAULT), and a guest_memfd slot must be guest_memfd-only (its file created with
 * MMAP): arm64 has no private memory, so every fault of such a slot is served from the
 * file (-EINVAL otherwise). The VMA walk that follows (MTE with VM_SHARED, VM_PFNMAP with dirty
 * logging: -EINVAL) has nothing to find, the host model having neither.
 */
static int kvm_arch_prepare_memory_region(struct mn_vm *vm, const struct kvm_memory_slot *old,
					  struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	(void)old;
	if (vm->cfg.arch == MN_VM_X86) {
		if (change == KVM_MR_CREATE || change == KVM_MR_MOVE) {
			if (new->base_gfn + new->npages - 1 > kvm_mmu_max_gfn(vm))
				return -EINVAL;
		}
		return 0;
	}
	if (change != KVM_MR_CREATE && change != KVM_MR_MOVE && change != KVM_MR_FLAGS_ONLY)
		return 0;
	if (new->base_gfn + new->npages > (1ULL << (vm->cfg.ipa_bits - MN_PAGE_SHIFT)))
		return -EFAULT;
	if (kvm_slot_has_gmem(new) && !kvm_memslot_is_gmem_only(new))
		return -EINVAL;
	return 0;
}

/*
 * kvm_prepare_memory_region() (M3): the dirty bitmap of @new (dropped without logging,
 * inherited when @old logs too, else allocated, with every page's bit set under
 * KVM_DIRTY_LOG_INITIALLY_SET; no dirty ring is modelled, so the VM always uses bitmaps),
 * then the arch check.
 */
static int kvm_prepare_memory_region(struct mn_vm *vm, const struct kvm_memory_slot *old,
				     struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	int r;

	if (change != KVM_MR_DELETE) {
		if (!(new->flags &MN_MEM_LOG_DIRTY_PAGES)) {
			new->dirty_bitmap = NULL;
		} else if (old && old->dirty_bitmap) {
			new->dirty_bitmap = old->dirty_bitmap;
		} else {
			r = kvm_alloc_dirty_bitmap(vm, new);
			if (r)
				return r;
			if (kvm_dirty_log_manual_protect_and_init_set(vm)) {
				uint64_t i;

				for (i = 0; i < new->npages; i++)
					new->dirty_bitmap[i / 64] |= 1ULL << (i % 64);
			}
		}
	}
	r = kvm_arch_prepare_memory_region(vm, old, new, change);
	if (r && new &&new->dirty_bitmap && (!old || !old->dirty_bitmap))
		kvm_destroy_dirty_bitmap(vm, new);
	return r;
}

/*
 * x86 kvm_mmu_slot_apply_flags() (PROTOCOL.md §3.12.3), for the flags the model has:
 * - KVM Userfault series (v3): a FLAGS_ONLY that clears USERFAULT recovers huge pages, as
 *   userfault slots are mapped with 4K pages; here only when the slot does not log (the
 *   series then hit a WARN in the recovery for a logged slot).
 * - Only FLAGS_ONLY changes of a writable slot that toggle logging have work to do: CREATE
 *   has no SPTEs yet, and MOVE and DELETE zapped the old ones.
 * - Logging off: kvm_mmu_recover_huge_pages() (see mmu.c).
 * - Logging on, unless manual protect with INITIALLY_SET (every page counts as dirty, so
 *   nothing needs protecting): eager split of the slot's huge SPTEs to 4K
 *   (kvm_mmu_slot_try_split_huge_pages(), mmu_lock(read)), then write-protect every leaf
 *   (kvm_mmu_slot_remove_write_access() down to 4K, mmu_lock(read) for the TDP MMU: W
 *   cleared, MMU-writable kept), then, unconditionally and with mmu_lock dropped,
 *   kvm_flush_remote_tlbs_memslot(). The flush may trail mmu_lock because slots_lock
 *   serialises every dirty-log user and it precedes the ioctl's return. No PML: the
 *   D-bit clearing variant is not modelled.
 */
static void kvm_mmu_slot_apply_flags(struct mn_vm *vm, const struct kvm_memory_slot *old,
				     const struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	uint32_t old_flags = old ? old->flags : 0;
	uint32_t new_flags = new ? new->flags : 0;
	struct mn_sim *sim = vm->sim;
	struct mn_gfn_range r;
	bool flush;

	if (change == KVM_MR_FLAGS_ONLY && (old_flags & MN_MEM_USERFAULT) &&
	    !(new_flags & (MN_MEM_USERFAULT | MN_MEM_LOG_DIRTY_PAGES)))
		kvm_mmu_recover_huge_pages(vm, new);
	if (change != KVM_MR_FLAGS_ONLY || (new_flags & MN_MEM_READONLY))
		return;
	if (!((old_flags ^ new_flags) & MN_MEM_LOG_DIRTY_PAGES))
		return;
	if (!(new_flags & MN_MEM_LOG_DIRTY_PAGES)) {
		if (!(new_flags & MN_MEM_USERFAULT))
			kvm_mmu_recover_huge_pages(vm, new);
		return;
	}
	if (kvm_dirty_log_manual_protect_and_init_set(vm))
		return;
	r = (struct mn_gfn_range){ new->base_gfn, new->base_gfn + new->npages };
	mn_read_lock(sim, &vm->mmu_lock);
	kvm_mmu_split_huge_pages(vm, new->as_id, r);
	mn_read_unlock(sim, &vm->mmu_lock);
	if (mn_step(sim, "dirty_log.enable_protect")) {
		mn_read_lock(sim, &vm->mmu_lock);
		flush = kvm_mmu_write_protect(vm, new->as_id, r, MN_PG_LEVEL_4K,
					      vm->fmt.max_leaf_level, false);
		mn_read_unlock(sim, &vm->mmu_lock);
		mn_trace(vm->trace, "kvm.dirty_log_enable", MN_KV_U("id", new->id),
			 MN_KV_U("flush", flush));
	}
	if (mn_step(sim, "dirty_log.enable_flush"))
		kvm_flush_remote_tlbs_range(vm, new->as_id, r.start, r.end);
}

/*
 * arm64 kvm_arch_commit_memory_region(): only a change that toggles logging matters (the
 * KVM Userfault series made the function say so, as FLAGS_ONLY may now change USERFAULT
 * alone). Logging on, unless manual protect with INITIALLY_SET: kvm_mmu_wp_memory_region()
 * write-protects the slot's IPA range under mmu_lock(write) (stage2_wp_range(): blocks stay
 * blocks, without S2AP_W) and flushes the slot's translations after dropping it; eager
 * splitting (kvm_mmu_split_memory_region()) is off by default (a 0 split chunk size) and
 * not modelled. Logging off frees the split cache: nothing here; arm64 does not recover
 * block mappings, later faults build them.
 */
static void kvm_arm64_commit_memory_region(struct mn_vm *vm, const struct kvm_memory_slot *old,
					   const struct kvm_memory_slot *new,
					   enum kvm_mr_change change)
{
	uint32_t old_flags = old ? old->flags : 0;
	uint32_t new_flags = new ? new->flags : 0;
	struct mn_sim *sim = vm->sim;
	struct mn_gfn_range r;

	if (!((old_flags ^ new_flags) & MN_MEM_LOG_DIRTY_PAGES))
		return;
	if (!(new_flags & MN_MEM_LOG_DIRTY_PAGES) || change == KVM_MR_DELETE)
		return;
	if (kvm_dirty_log_manual_protect_and_init_set(vm))
		return;
	r = (struct mn_gfn_range){ new->base_gfn, new->base_gfn + new->npages };
	if (mn_step(sim, "dirty_log.enable_protect")) {
		mn_write_lock(sim, &vm->mmu_lock);
		kvm_mmu_write_protect(vm, new->as_id, r, MN_PG_LEVEL_4K, vm->fmt.max_leaf_level,
				      false);
		mn_write_unlock(sim, &vm->mmu_lock);
		mn_trace(vm->trace, "kvm.dirty_log_enable", MN_KV_U("id", new->id));
	}
	if (mn_step(sim, "dirty_log.enable_flush"))
		kvm_flush_remote_tlbs_range(vm, new->as_id, r.start, r.end);
}

/* kvm_arch_commit_memory_region() */
static void kvm_arch_commit_memory_region(struct mn_vm *vm, const struct kvm_memory_slot *old,
					  const struct kvm_memory_slot *new,
					  enum kvm_mr_change change)
{
	if (vm->cfg.arch == MN_VM_X86)
		kvm_mmu_slot_apply_flags(vm, old, new, change);
	else
		kvm_arm64_commit_memory_region(vm, old, new, change);
}

/*
 * Not the kernel's: the oracle's record of what KVM_MEM_USERFAULT promises from now on,
 * i.e. that no page whose bit was set when the flag went on is mapped while its bit stays
 * set (the series documents that bits set later have no effect on pages already mapped
 * until the flag is toggled again). A FLAGS_ONLY that keeps the flag keeps the record; a
 * slot that gains the flag (created with it, moved, or toggled on after the zap) gets a
 * fresh copy of the VMM's bitmap. Without memory for it the oracle just does not watch.
 */
static void kvm_userfault_arm(struct mn_vm *vm, struct kvm_memory_slot *old,
			      struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	uint64_t words;

	if (!kvm_is_userfault_memslot(new))
		return;
	if (change == KVM_MR_FLAGS_ONLY && kvm_is_userfault_memslot(old)) {
		old->userfault_armed = NULL; /* @new shares it since V15: now it owns it */
		return;
	}
	words = bitmap_words(new->npages);
	new->userfault_armed = mn_calloc(vm->alloc, words, sizeof(uint64_t));
	if (new->userfault_armed)
		memcpy(new->userfault_armed, new->userfault_bitmap, words * sizeof(uint64_t));
}

/* kvm_commit_memory_region() (M6): accounting, the arch commit, then free what is detached. */
static void kvm_commit_memory_region(struct mn_vm *vm, struct kvm_memory_slot *old,
				     struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	uint32_t old_flags = old ? old->flags : 0;
	uint32_t new_flags = new ? new->flags : 0;

	if (change == KVM_MR_DELETE)
		vm->nr_memslot_pages -= old->npages;
	else if (change == KVM_MR_CREATE)
		vm->nr_memslot_pages += new->npages;
	if ((old_flags ^ new_flags) & MN_MEM_LOG_DIRTY_PAGES) {
		if (new_flags & MN_MEM_LOG_DIRTY_PAGES)
			vm->nr_memslots_dirty_logging++;
		else
			vm->nr_memslots_dirty_logging--;
	}

	kvm_arch_commit_memory_region(vm, old, new, change);
	/* Logging turned on is now protected and flushed (kvm_set_memslot() unsettled it). */
	kvm_dirty_log_settle(vm);

	switch (change) {
	case KVM_MR_CREATE:
		kvm_userfault_arm(vm, NULL, new, change);
		break;
	case KVM_MR_DELETE:
		kvm_free_memslot(vm, old);
		break;
	case KVM_MR_MOVE:
	case KVM_MR_FLAGS_ONLY:
		/*
		 * KVM Userfault series: turning USERFAULT on must take every mapping of the slot
		 * away, or a marked page stays accessible: common code does it, through
		 * kvm_arch_userfault_enabled(), whose default is kvm_arch_flush_shadow_memslot()
		 * (v2 called that directly). Turning it off is the arch's business (above).
		 */
		if (!(old_flags & MN_MEM_USERFAULT) && (new_flags & MN_MEM_USERFAULT) &&
		    mn_step(vm->sim, "userfault.zap"))
			kvm_arch_flush_shadow_memslot(vm, old);
		kvm_userfault_arm(vm, old, new, change);
		mn_free(vm->alloc, old->userfault_armed);
		old->userfault_armed = NULL;
		kvm_gmem_rebind(vm, old, new);
		/* @new inherited the bitmap unless logging went off; arch data is inherited. */
		kvm_retire_memslot(vm, old, old->dirty_bitmap && !new->dirty_bitmap);
		break;
	}
}

/* ---- kvm_set_memslot --------------------------------------------------------------------- */

/*
 * kvm_set_memslot() (M1-M5, then M6): apply a validated @change. slots_lock is held; @new
 * (NULL for DELETE) is filled in and belongs to the caller until this returns 0. On error
 * the sets hold what they held before, but a DELETE or MOVE that failed in prepare has
 * swapped twice (INVALID, then back) and zapped the slot, as in the kernel.
 */
static int kvm_set_memslot(struct mn_vm *vm, struct kvm_memory_slot *old,
			   struct kvm_memory_slot *new, enum kvm_mr_change change)
{
	struct kvm_memory_slot *invalid_slot = NULL;
	struct kvm_memory_slot *active_old = old; /* the slot the active set holds for the id */
	struct mn_sim *sim = vm->sim;
	int r;

	/* M1: held from before the set is copied until the pointer is swapped. */
	mn_mutex_lock(sim, &vm->slots_arch_lock);

	/* M2 */
	if (change == KVM_MR_DELETE || change == KVM_MR_MOVE) {
		invalid_slot = mn_zalloc(vm->alloc, sizeof(*invalid_slot));
		if (!invalid_slot) {
			mn_mutex_unlock(sim, &vm->slots_arch_lock);
			return -ENOMEM;
		}
		if (kvm_invalidate_memslot(vm, old, invalid_slot)) {
			active_old = invalid_slot;
		} else {
			mn_free(vm->alloc, invalid_slot);
			invalid_slot = NULL;
		}
	}

	/* M3-M4: on failure put @old back (the inactive set still holds it). */
	r = kvm_prepare_memory_region(vm, old, new, change);
	if (r) {
		if (invalid_slot) {
			kvm_activate_memslot(vm, invalid_slot, old, "memslot.rollback_swap");
			kvm_retire_memslot(vm, invalid_slot, false);
		} else {
			mn_mutex_unlock(sim, &vm->slots_arch_lock);
		}
		return r;
	}

	/*
	 * M5: kvm_create_memslot(), kvm_delete_memslot(), kvm_move_memslot() and
	 * kvm_update_flags_memslot(): install in the inactive set, swap, propagate to the set
	 * that was active. FLAGS_ONLY has no INVALID phase and no zap: existing mappings stay.
	 */
	switch (change) {
	case KVM_MR_CREATE:
		kvm_replace_memslot(vm, NULL, new);
		kvm_activate_memslot(vm, NULL, new, "memslot.install_swap");
		break;
	case KVM_MR_DELETE:
		kvm_replace_memslot(vm, old, NULL);
		kvm_activate_memslot(vm, active_old, NULL, "memslot.install_swap");
		break;
	case KVM_MR_MOVE:
		kvm_replace_memslot(vm, old, new);
		kvm_activate_memslot(vm, active_old, new, "memslot.install_swap");
		break;
	case KVM_MR_FLAGS_ONLY:
		/*
		 * Turning logging on publishes a logging slot whose pages are still writable
		 * and clean until the commit protects and flushes them: the oracle waits.
		 */
		if (new->flags & ~old->flags & MN_MEM_LOG_DIRTY_PAGES)
			kvm_dirty_log_unsettle(vm, new);
		kvm_replace_memslot(vm, old, new);
		kvm_activate_memslot(vm, old, new, "memslot.install_swap");
		break;
	}
	if (invalid_slot)
		kvm_retire_memslot(vm, invalid_slot, false);
	mn_trace(vm->trace, "kvm.memslot_set", MN_KV_S("change", change_name[change]),
		 MN_KV_U("as", (new ? new : old)->as_id), MN_KV_U("id", (new ? new : old)->id),
		 MN_KV_X("gfn", (new ? new : old)->base_gfn),
		 MN_KV_U("npages", (new ? new : old)->npages));

	/* M6 */
	kvm_commit_memory_region(vm, old, new, change);
	return 0;
}

/* ---- validation ---------------------------------------------------------------------------- */

/*
 * check_memory_region_flags() (V1). KVM_MEM_GUEST_MEMFD is valid on every VM
 * (CONFIG_KVM_GUEST_MEMFD, 6.18; kvm_arch_has_private_mem() before). Read-only memory is
 * not offered to VMs with protected state (SNP, TDX: kvm_arch_has_readonly_mem()).
 * KVM_MEM_USERFAULT (KVM Userfault series) is valid wherever kvm_has_userfault(), i.e. on
 * x86 and arm64; the series combines it with every other flag (guest_memfd included).
 */
static int check_memory_region_flags(const struct mn_vm *vm,
				     const struct mn_userspace_memory_region2 *mem)
{
	uint32_t valid_flags = MN_MEM_LOG_DIRTY_PAGES | MN_MEM_USERFAULT | MN_MEM_GUEST_MEMFD;

	/* Dirty logging of private memory is not supported. */
	if (mem->flags & MN_MEM_GUEST_MEMFD)
		valid_flags &= ~MN_MEM_LOG_DIRTY_PAGES;
	/* guest_memfd slots cannot be read-only (writes to those are emulated MMIO). */
	if (!(mem->flags & MN_MEM_GUEST_MEMFD) && kvm_arch_has_readonly_mem(vm))
		valid_flags |= MN_MEM_READONLY;
	return mem->flags & ~valid_flags ? -EINVAL : 0;
}

/*
 * untagged_addr(): arm64 (TBI) ignores the top byte of user pointers, so a tagged
 * userspace_addr differs from its untagged form and is rejected; x86 without LAM (not
 * modelled) leaves addresses alone.
 */
static uint64_t untagged_addr(const struct mn_vm *vm, uint64_t addr)
{
	if (vm->cfg.arch == MN_VM_ARM64)
		return (uint64_t)((int64_t)(addr << 8) >> 8);
	return addr;
}

/* access_ok(): [addr, addr + size) lies below the VMM's TASK_SIZE_MAX. */
static bool access_ok(uint64_t addr, uint64_t size)
{
	return size <= KVM_USER_TASK_SIZE && addr <= KVM_USER_TASK_SIZE - size;
}

/* kvm_check_memslot_overlap(): another slot of the set meets [start, end). */
static bool kvm_check_memslot_overlap(struct kvm_memslots *slots, unsigned int id, mn_gfn_t start,
				      mn_gfn_t end)
{
	struct mn_itree_node *n;

	mn_itree_for_each(n, &slots->gfn_tree, start, end - 1) {
		if (slot_of_gfn_node(n, slots->node_idx)->id != id)
			return true;
	}
	return false;
}

/*
 * kvm_set_memory_region() (V1-V17). Every check comes before the first change, in the
 * kernel's order, so a rejected request changes nothing.
 */
static int __kvm_set_memory_region(struct mn_vm *vm, const struct mn_userspace_memory_region2 *mem)
{
	struct kvm_memory_slot *old, *new;
	struct kvm_memslots *slots;
	enum kvm_mr_change change;
	unsigned int as_id, id;
	uint32_t old_user_flags;
	uint64_t npages;
	mn_gfn_t base_gfn;
	int r;

	/* V1 */
	r = check_memory_region_flags(vm, mem);
	if (r)
		return r;

	/* V2 */
	as_id = mem->slot >> 16;
	id = (uint16_t)mem->slot;

	/* V3: the size must fit unsigned long, which it always does on 64-bit. */
	if (mem->memory_size & (MN_PAGE_SIZE - 1))
		return -EINVAL;
	/* V4 */
	if (mem->guest_phys_addr & (MN_PAGE_SIZE - 1))
		return -EINVAL;
	/* V5: guest_memfd slots too. */
	if ((mem->userspace_addr & (MN_PAGE_SIZE - 1)) ||
	    mem->userspace_addr != untagged_addr(vm, mem->userspace_addr) ||
	    !access_ok(mem->userspace_addr, mem->memory_size))
		return -EINVAL;
	/* V6 */
	if ((mem->flags & MN_MEM_GUEST_MEMFD) &&
	    ((mem->guest_memfd_offset & (MN_PAGE_SIZE - 1)) ||
	     mem->guest_memfd_offset + mem->memory_size < mem->guest_memfd_offset))
		return -EINVAL;
	/* V7 */
	if (as_id >= vm->nr_as || id >= KVM_MEM_SLOTS_NUM)
		return -EINVAL;
	/* V8 */
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	/* V9: dirty bitmaps are indexed by an unsigned int (internal slots are exempt). */
	if (id < kvm_user_mem_slots(vm) &&
	    (mem->memory_size >> MN_PAGE_SHIFT) > KVM_MEM_MAX_NR_PAGES)
		return -EINVAL;
	/*
	 * KVM Userfault series: the bitmap must be an untagged user pointer that access_ok()
	 * accepts for (npages / BITS_PER_LONG, rounded up) longs. A bad pointer that passes
	 * (NULL does) only fails at fault time, KVM_RUN returning a bare -EFAULT. Here the
	 * bitmap is the VMM's C pointer, which the model cannot fail to read: NULL is refused
	 * up front instead (a deliberate difference).
	 */
	if ((mem->flags & MN_MEM_USERFAULT) && !mem->userfault_bitmap)
		return -EINVAL;

	/* V10 */
	slots = kvm_memslots(vm, as_id);
	old = kvm_id_to_memslot(slots, id);
	/* The flags userspace gave (internal ones such as KVM_MEMSLOT_GMEM_ONLY aside). */
	old_user_flags = old ? old->flags & ~(KVM_MEMSLOT_INVALID | KVM_MEMSLOT_GMEM_ONLY) : 0;

	/* V11: DELETE */
	if (!mem->memory_size) {
		if (!old || !old->npages)
			return -EINVAL;
		if (vm->nr_memslot_pages < old->npages) {
			mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.nr_memslot_pages_underflow",
				       "deleting slot %u of %llu pages with %llu pages accounted",
				       id, (unsigned long long)old->npages,
				       (unsigned long long)vm->nr_memslot_pages);
			return -EIO;
		}
		return kvm_set_memslot(vm, old, NULL, KVM_MR_DELETE);
	}

	base_gfn = mem->guest_phys_addr >> MN_PAGE_SHIFT;
	npages = mem->memory_size >> MN_PAGE_SHIFT;

	if (!old || !old->npages) {
		/* V12: CREATE; the total page count must not wrap. */
		change = KVM_MR_CREATE;
		if (vm->nr_memslot_pages + npages < vm->nr_memslot_pages)
			return -EINVAL;
	} else {
		/*
		 * V13: modify. guest_memfd slots are immutable, only deletable, except that the
		 * KVM Userfault series lets KVM_MEM_USERFAULT be set or cleared late on them
		 * ("Allow late setting of KVM_MEM_USERFAULT on guest_memfd memslot").
		 */
		if ((mem->flags & MN_MEM_GUEST_MEMFD) &&
		    (base_gfn != old->base_gfn ||
		     ((mem->flags ^ old_user_flags) & ~MN_MEM_USERFAULT)))
			return -EINVAL;
		if (mem->userspace_addr != old->userspace_addr || npages != old->npages ||
		    ((mem->flags ^ old->flags) & MN_MEM_READONLY))
			return -EINVAL;
		/* The Dec-2025 fix: nor can the flag be dropped from a guest_memfd slot. */
		if ((mem->flags ^ old->flags) & MN_MEM_GUEST_MEMFD)
			return -EINVAL;
		/*
		 * The create-only variant (Sean Christopherson's alternative on the list): a
		 * live slot may lose USERFAULT but not gain it, so no zap is ever needed.
		 */
		if ((vm->cfg.variant & MN_VARIANT_USERFAULT_CREATE_ONLY) &&
		    (mem->flags & ~old->flags & MN_MEM_USERFAULT))
			return -EINVAL;
		if (base_gfn != old->base_gfn)
			change = KVM_MR_MOVE;
		else if (mem->flags != old_user_flags)
			change = KVM_MR_FLAGS_ONLY;
		else
			return 0; /* nothing to change: no swap, same generation */
	}

	/* V14 */
	if ((change == KVM_MR_CREATE || change == KVM_MR_MOVE) &&
	    kvm_check_memslot_overlap(slots, id, base_gfn, base_gfn + npages))
		return -EEXIST;

	/* V15 */
	new = mn_zalloc(vm->alloc, sizeof(*new));
	if (!new)
		return -ENOMEM;
	if (change == KVM_MR_CREATE) {
		r = kvm_id_map_prepare(vm, as_id, id);
		if (r) {
			kvm_id_map_trim(vm, as_id, id);
			mn_free(vm->alloc, new);
			return r;
		}
	}
	new->as_id = as_id;
	new->id = id;
	new->base_gfn = base_gfn;
	new->npages = npages;
	new->flags = mem->flags;
	new->userspace_addr = mem->userspace_addr;
	/*
	 * V16: bound before the slot is visible. A late USERFAULT change keeps the binding,
	 * which moves to @new at the commit (kvm_gmem_rebind()).
	 */
	if (change == KVM_MR_FLAGS_ONLY && (mem->flags & MN_MEM_GUEST_MEMFD)) {
		new->gmem.file = old->gmem.file;
		new->gmem.pgoff = old->gmem.pgoff;
		new->flags |= old->flags & KVM_MEMSLOT_GMEM_ONLY;
	} else if (mem->flags & MN_MEM_GUEST_MEMFD) {
		r = kvm_gmem_bind(vm, new, (int)mem->guest_memfd, mem->guest_memfd_offset);
		if (r) {
			if (change == KVM_MR_CREATE)
				kvm_id_map_trim(vm, as_id, id);
			mn_free(vm->alloc, new);
			return r;
		}
	}
	if (mem->flags & MN_MEM_USERFAULT)
		new->userfault_bitmap = mem->userfault_bitmap;
	/* The oracle keeps watching a slot that keeps the flag (see kvm_userfault_arm()). */
	if (change == KVM_MR_FLAGS_ONLY && (mem->flags & old->flags & MN_MEM_USERFAULT))
		new->userfault_armed = old->userfault_armed;

	/* V17 */
	r = kvm_set_memslot(vm, old, new, change);
	if (r) {
		kvm_gmem_unbind(vm, new);
		mn_free(vm->alloc, new);
		if (change == KVM_MR_CREATE)
			kvm_id_map_trim(vm, as_id, id);
	}
	return r;
}

/*
 * kvm_vm_ioctl_set_memory_region(): reject internal slot ids, then run the whole update
 * under slots_lock. Requests are always KVM_SET_USER_MEMORY_REGION2: the v1 ioctl's own
 * flag check (KVM_SET_USER_MEMORY_REGION_V1_FLAGS, in kvm_vm_ioctl()) is not modelled.
 */
int kvm_set_memory_region(struct mn_vm *vm, const struct mn_userspace_memory_region2 *mem)
{
	int r;

	if ((uint16_t)mem->slot >= kvm_user_mem_slots(vm))
		return -EINVAL;
	mn_mutex_lock(vm->sim, &vm->slots_lock);
	r = __kvm_set_memory_region(vm, mem);
	mn_mutex_unlock(vm->sim, &vm->slots_lock);
	/* Back to userspace: a guest_memfd whose last reference the update dropped goes. */
	mm_task_work_run(vm->mm);
	return r;
}

int mn_vm_set_user_memory_region2(struct mn_vm *vm, const struct mn_userspace_memory_region2 *r)
{
	return kvm_set_memory_region(vm, r);
}
