/* SPDX-License-Identifier: MIT */
/*
 * kvm-internal.h - the objects of lib/kvm (struct mn_vm, memslot sets and slots, vCPUs) and
 * the functions its files share, named after the kernel functions they model
 * (include/linux/kvm_host.h, virt/kvm/kvm_mm.h).
 */
#ifndef MNSIM_KVM_INTERNAL_H
#define MNSIM_KVM_INTERNAL_H

#include "mnsim-internal.h"

#include <mnsim/gpc.h>
#include <mnsim/kvm.h>
#include <mnsim/lock.h>

/* Sizes and internal flags (PROTOCOL.md §1.3, §6.6). */
#define KVM_MEM_SLOTS_NUM		   32767U /* SHRT_MAX */
#define KVM_X86_INTERNAL_MEM_SLOTS	   3U
#define KVM_MEM_MAX_NR_PAGES		   ((1ULL << 31) - 1)
#define KVM_MEMSLOT_INVALID		   (1U << 16)
#define KVM_MEMSLOT_GMEM_ONLY		   (1U << 17)
#define KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS (1ULL << 63)
#define KVM_MAX_NR_ADDRESS_SPACES	   2U

/*
 * A memslot. Shared by both sets of its address space while idle, so it embeds one node of
 * each tree per set, indexed by the owning set's node_idx (struct kvm_memory_slot).
 */
struct kvm_memory_slot {
	struct mn_itree_node hva_node[2]; /* [uaddr, uaddr + npages * PAGE - 1] */
	struct mn_itree_node gfn_node[2]; /* [base_gfn, base_gfn + npages - 1] */
	mn_gfn_t base_gfn;
	uint64_t npages;
	uint64_t *dirty_bitmap; /* 2 x npages bits (second half: scratch), or NULL */
	mn_hva_t userspace_addr;
	uint64_t *userfault_bitmap; /* KVM_MEM_USERFAULT: the VMM's bitmap (not owned) */
	/*
	 * Not the kernel's: for the oracle (lib/check), the userfault bits that were set when
	 * the flag was turned on, i.e. the pages KVM promised to keep unmapped (owned; NULL
	 * without the flag, or when there was no memory for it).
	 */
	uint64_t *userfault_armed;
	/*
	 * Not the kernel's: a slot retired after a swap whose synchronize_srcu() a mutation
	 * skipped waits here, unreachable, until the VM dies (kvm_retire_memslot()).
	 */
	struct kvm_memory_slot *retired_next;
	bool retired_owns_bitmap;
	/*
	 * guest_memfd (slot->gmem): the file (no reference held; NULL once the file is
	 * released), the page offset the slot starts at, and the slot's node in the file's
	 * bindings (@bound: linked; copies such as the INVALID slot are not).
	 */
	struct {
		struct mn_file *file;
		uint64_t pgoff;
		struct mn_itree_node node;
		bool bound;
	} gmem;
	uint32_t flags;
	uint16_t id;
	uint16_t as_id;
};

/*
 * The id map of a set: ids in chunks of KVM_ID_CHUNK slot pointers, each chunk allocated when
 * the first id in it is created (see kvm_id_to_memslot()).
 */
#define KVM_ID_CHUNK_SHIFT 8U
#define KVM_ID_CHUNK	   (1U << KVM_ID_CHUNK_SHIFT)
#define KVM_ID_CHUNKS	   ((KVM_MEM_SLOTS_NUM + KVM_ID_CHUNK - 1) >> KVM_ID_CHUNK_SHIFT)

/*
 * One memslot set of an address space (struct kvm_memslots). The kernel's id_hash, whose
 * add and delete are O(1), is @id_map: a slot's entry is set, replaced or cleared in O(1).
 */
struct kvm_memslots {
	uint64_t generation;
	struct kvm_memory_slot *last_used_slot;
	struct mn_itree hva_tree;
	struct mn_itree gfn_tree;
	struct kvm_memory_slot **id_map[KVM_ID_CHUNKS];
	unsigned int nr_slots; /* slots in @id_map */
	int node_idx;
};

struct mn_vcpu {
	struct mn_vm *vm;
	unsigned int id;
	struct mn_tlb *tlb[KVM_MAX_NR_ADDRESS_SPACES];
	uint64_t faults;
	/*
	 * For the oracle: a fault of this vCPU has made the leaf of (dirty_pending_as,
	 * dirty_pending_gfn) writable in a logged slot and has still to set its dirty bit
	 * (arm64 user_mem_abort() and x86 fast_page_fault() mark after the entry).
	 */
	bool dirty_pending;
	unsigned int dirty_pending_as;
	mn_gfn_t dirty_pending_gfn;
};

/* KVM_HVA_ERR_BAD: the hva of a cache that has none (never activated, or no memslot). */
#define KVM_HVA_ERR_BAD (~(mn_hva_t)0)

/*
 * A gfn_to_pfn cache (struct gfn_to_pfn_cache). @ref stands for pfn + khva: the frame and
 * the generation it had when the refresh took it, which every use hands to the oracle.
 * @prev/@next: the VM's gpc_list, under gpc_lock.
 */
struct mn_gpc {
	struct mn_vm *vm;
	struct mn_gpc *prev, *next;
	struct mn_rwlock lock;
	struct mn_mutex refresh_lock;
	mn_gpa_t gpa; /* %MN_INVALID_GPA for an HVA cache */
	mn_hva_t uhva;
	struct mn_frame_ref ref; /* pfn %MN_INVALID_PFN: KVM_PFN_ERR_FAULT */
	uint64_t generation;
	struct kvm_memory_slot *memslot;
	/*
	 * MN_VARIANT_GPC_OWN_SEQ only: the cache's own invalidation sequence, bumped under the
	 * write lock by every invalidate_range_end() that meets @uhva, valid or not.
	 */
	uint64_t invalidate_seq;
	bool active;
	bool valid;
};

struct mn_vm {
	struct mn_sim *sim;
	struct mn_alloc *alloc;
	struct mn_phys *phys;
	struct mn_trace *trace;
	struct mn_mm *mm;
	struct mn_notifier mmu_notifier;
	struct mn_vm_config cfg;
	unsigned int nr_as;

	/* Memslots: two sets per address space; memslots[as] names the active one. */
	struct kvm_memslots __memslots[KVM_MAX_NR_ADDRESS_SPACES][2];
	struct kvm_memslots *memslots[KVM_MAX_NR_ADDRESS_SPACES];
	uint64_t nr_memslot_pages;
	unsigned int nr_memslots_dirty_logging;
	bool memslots_unsynced;		       /* a mutation skipped a swap's SRCU wait */
	struct kvm_memory_slot *retired_slots; /* kept because of it (kvm_retire_memslot()) */

	/* Locks (PROTOCOL.md §2). */
	struct mn_rwlock mmu_lock;
	struct mn_mutex slots_lock;
	struct mn_mutex slots_arch_lock;
	struct mn_spinlock mn_invalidate_lock;
	struct mn_srcu srcu;
	struct mn_waitq mn_memslots_update_wait; /* mn_memslots_update_rcuwait */
	struct mn_spinlock gpc_lock;		 /* protects gpc_list */
	struct mn_gpc *gpc_list;		 /* active gfn_to_pfn caches */

	/* Invalidation state. */
	uint64_t mmu_invalidate_seq;
	int64_t mmu_invalidate_in_progress;
	mn_gfn_t mmu_invalidate_range_start;
	mn_gfn_t mmu_invalidate_range_end;
	uint64_t mn_active_invalidate_count;

	/* Secondary MMU: one table per address space. */
	struct mn_pt_format fmt;
	struct mn_pt *pt[KVM_MAX_NR_ADDRESS_SPACES];
	struct mn_vcpu vcpus[MN_VM_MAX_VCPUS];
	unsigned int nr_vcpus;
	unsigned int users_count; /* the creator's reference and one per guest_memfd */
	bool dead;		  /* mn_vm_destroy() began */

	/*
	 * For the oracle: a dirty-log operation of the slot (as_id, id) is between changing
	 * bits or flags and the flush that settles the protection (slots_lock held):
	 * KVM_GET/CLEAR_DIRTY_LOG from taking the first bits to their flush, or turning
	 * logging on from publishing the flag to the flush of the commit.
	 */
	struct {
		bool active;
		uint16_t as_id;
		uint16_t id;
	} dirty_log_unsettled;

	/* Memory attributes (attributes.c) */
	/*
	 * mem_attr_array: the gfns with non-zero attributes, as disjoint half-open ranges
	 * sorted by start, adjacent ranges with equal attributes merged (the kernel's xarray
	 * of gfn -> attributes). Written under slots_lock, read locklessly (RCU in the kernel).
	 * mem_attr_spare: nodes reserved before a change, so that its store cannot fail.
	 */
	RB_HEAD(kvm_mem_attr_tree, kvm_mem_attr_range) mem_attr_array;
	struct kvm_mem_attr_range *mem_attr_spare[2];
	unsigned int nr_mem_attr_spare;

	struct mn_vm_stats st;
};

/* kvm_arch_has_private_mem() */
static inline bool kvm_arch_has_private_mem(const struct mn_vm *vm)
{
	return vm->cfg.type != MN_VM_TYPE_DEFAULT;
}

/* kvm_arch_has_readonly_mem(): not for VMs with protected state (SNP, TDX). */
static inline bool kvm_arch_has_readonly_mem(const struct mn_vm *vm)
{
	return vm->cfg.type != MN_VM_TYPE_SNP && vm->cfg.type != MN_VM_TYPE_TDX;
}

static inline bool kvm_variant(const struct mn_vm *vm, unsigned int v)
{
	return vm->cfg.variant & v;
}

/* ---- memslot.c ------------------------------------------------------------------------- */

/* The active set of @as_id (the caller holds srcu, or slots_lock). */
static inline struct kvm_memslots *kvm_memslots(struct mn_vm *vm, unsigned int as_id)
{
	return vm->memslots[as_id];
}

static inline struct kvm_memory_slot *slot_of_hva_node(struct mn_itree_node *n, int idx)
{
	return (struct kvm_memory_slot *)((char *)(n - idx) -
					  offsetof(struct kvm_memory_slot, hva_node));
}

static inline struct kvm_memory_slot *slot_of_gfn_node(struct mn_itree_node *n, int idx)
{
	return (struct kvm_memory_slot *)((char *)(n - idx) -
					  offsetof(struct kvm_memory_slot, gfn_node));
}

static inline mn_hva_t gfn_to_hva_memslot(const struct kvm_memory_slot *slot, mn_gfn_t gfn)
{
	return slot->userspace_addr + ((gfn - slot->base_gfn) << MN_PAGE_SHIFT);
}

void kvm_memslots_init(struct mn_vm *vm);
void kvm_memslots_free(struct mn_vm *vm);
struct kvm_memory_slot *kvm_gfn_to_memslot(struct kvm_memslots *slots, mn_gfn_t gfn);
struct kvm_memory_slot *kvm_id_to_memslot(struct kvm_memslots *slots, unsigned int id);
int kvm_set_memory_region(struct mn_vm *vm, const struct mn_userspace_memory_region2 *r);
unsigned int kvm_user_mem_slots(const struct mn_vm *vm);

/* kvm_slot_dirty_track_enabled() (no dirty ring modelled: the flag alone) */
static inline bool kvm_slot_dirty_track_enabled(const struct kvm_memory_slot *slot)
{
	return slot && (slot->flags & MN_MEM_LOG_DIRTY_PAGES);
}

/* kvm_is_userfault_memslot() */
static inline bool kvm_is_userfault_memslot(const struct kvm_memory_slot *slot)
{
	return slot && (slot->flags & MN_MEM_USERFAULT);
}

/* kvm_slot_has_gmem() */
static inline bool kvm_slot_has_gmem(const struct kvm_memory_slot *slot)
{
	return slot && (slot->flags & MN_MEM_GUEST_MEMFD);
}

/* kvm_memslot_is_gmem_only(): bound to a guest_memfd created with MMAP. */
static inline bool kvm_memslot_is_gmem_only(const struct kvm_memory_slot *slot)
{
	return slot && (slot->flags & KVM_MEMSLOT_GMEM_ONLY);
}

/* kvm_dirty_log_manual_protect_and_init_set() */
static inline bool kvm_dirty_log_manual_protect_and_init_set(const struct mn_vm *vm)
{
	return vm->cfg.dirty_log_manual & MN_DIRTY_LOG_INITIALLY_SET;
}

/* Words of a per-page bitmap of @npages bits (kvm_dirty_bitmap_bytes() / 8). */
static inline uint64_t bitmap_words(uint64_t npages)
{
	return (npages + 63) / 64;
}

static inline bool bitmap_test(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

/* ---- dirty_log.c ------------------------------------------------------------------------ */

void mark_page_dirty_in_slot(struct mn_vm *vm, const struct kvm_memory_slot *slot, mn_gfn_t gfn);
void kvm_dirty_log_unsettle(struct mn_vm *vm, const struct kvm_memory_slot *slot);
void kvm_dirty_log_settle(struct mn_vm *vm);

/* ---- vm.c ------------------------------------------------------------------------------ */

void kvm_get_kvm(struct mn_vm *vm);
void kvm_put_kvm(struct mn_vm *vm);

/* ---- trace-state.c: the VM's invalidation state in full traces ------------------------- */

void kvm_trace_state_register(struct mn_vm *vm);
void kvm_trace_state_unregister(struct mn_vm *vm);

void kvm_flush_remote_tlbs(struct mn_vm *vm);
void kvm_flush_remote_tlbs_range(struct mn_vm *vm, unsigned int as_id, mn_gfn_t start,
				 mn_gfn_t end);

/* ---- mmu.c: the architecture's secondary MMU ------------------------------------------- */

/*
 * struct kvm_gfn_range: one slot's part of an hva range, handed to the per-slot handlers.
 * @attr_filter: KVM_FILTER_SHARED / PRIVATE (bit 0 / bit 1).
 */
struct kvm_gfn_range {
	struct kvm_memory_slot *slot;
	mn_gfn_t start;
	mn_gfn_t end;
	unsigned int attr_filter;
	bool may_block;
};

#define KVM_FILTER_SHARED  (1U << 0)
#define KVM_FILTER_PRIVATE (1U << 1)
/* The seed-000 fix: an hva (userspace mapping) event; gmem-only slots keep their mappings. */
#define KVM_FILTER_USERSPACE_MAPPINGS (1U << 2)

bool kvm_unmap_gfn_range(struct mn_vm *vm, const struct kvm_gfn_range *range);
bool kvm_age_gfn(struct mn_vm *vm, const struct kvm_gfn_range *range);
bool kvm_test_age_gfn(struct mn_vm *vm, const struct kvm_gfn_range *range);
void kvm_arch_flush_shadow_memslot(struct mn_vm *vm, struct kvm_memory_slot *slot);
void kvm_arch_flush_shadow_all(struct mn_vm *vm);
int kvm_mmu_map(struct mn_vm *vm, unsigned int as_id, mn_gfn_t gfn, struct mn_frame_ref ref,
		unsigned int level, unsigned int perm);
int kvm_mmu_relax_perms(struct mn_vm *vm, unsigned int as_id, mn_gfn_t gfn, mn_pfn_t pfn,
			unsigned int level, unsigned int perm);
bool kvm_mmu_write_protect(struct mn_vm *vm, unsigned int as_id, struct mn_gfn_range r,
			   unsigned int min_level, unsigned int max_level, bool mmu_writable);
void kvm_mmu_split_huge_pages(struct mn_vm *vm, unsigned int as_id, struct mn_gfn_range r);
void kvm_mmu_recover_huge_pages(struct mn_vm *vm, const struct kvm_memory_slot *slot);
bool kvm_mmu_slot_allows_level(const struct mn_vm *vm, const struct kvm_memory_slot *slot,
			       mn_gfn_t gfn, unsigned int level);

/* ---- attributes.c ---------------------------------------------------------------------- */

/*
 * Memory attributes (virt/kvm/kvm_main.c, CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES). Readers
 * need no lock: the store of a change happens in one step.
 */
uint64_t kvm_get_memory_attributes(const struct mn_vm *vm, mn_gfn_t gfn);
bool kvm_mem_is_private(const struct mn_vm *vm, mn_gfn_t gfn);
bool kvm_range_has_memory_attributes(const struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end,
				     uint64_t mask, uint64_t attrs);
void kvm_attributes_init(struct mn_vm *vm);
void kvm_attributes_free(struct mn_vm *vm);
int kvm_attributes_check(const struct mn_vm *vm);

/* ---- lib/check/check.c ---------------------------------------------------------------- */

void kvm_check_disable(struct mn_vm *vm);

/* ---- gmem.c ------------------------------------------------------------------------------ */

int kvm_gmem_bind(struct mn_vm *vm, struct kvm_memory_slot *slot, int fd, uint64_t offset);
void kvm_gmem_unbind(struct mn_vm *vm, struct kvm_memory_slot *slot);
void kvm_gmem_rebind(struct mn_vm *vm, struct kvm_memory_slot *old, struct kvm_memory_slot *new);
int kvm_gmem_get_pfn(struct mn_vm *vm, struct kvm_memory_slot *slot, mn_gfn_t gfn,
		     struct mn_frame_ref *page, unsigned int *max_order);
int kvm_gmem_peek(const struct kvm_memory_slot *slot, mn_gfn_t gfn, struct mn_frame_ref *page,
		  unsigned int *order);

/*
 * fault_from_gmem(): a fault on @gfn takes its page from guest_memfd when the gfn is
 * private or the slot is guest_memfd-only; otherwise from the slot's userspace_addr.
 */
static inline bool kvm_fault_from_gmem(const struct mn_vm *vm, const struct kvm_memory_slot *slot,
				       mn_gfn_t gfn)
{
	return kvm_memslot_is_gmem_only(slot) || (kvm_slot_has_gmem(slot) && kvm_mem_is_private(vm, gfn));
}

/* ---- pfncache.c ------------------------------------------------------------------------- */

void gfn_to_pfn_cache_invalidate_start(struct mn_vm *vm, mn_hva_t start, mn_hva_t end);
void gfn_to_pfn_cache_invalidate_end(struct mn_vm *vm, mn_hva_t start, mn_hva_t end);

/* ---- mmu_notifier.c -------------------------------------------------------------------- */

extern const struct mn_notifier_ops kvm_mmu_notifier_ops;
void kvm_mmu_invalidate_range_add(struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end);
bool mmu_invalidate_retry_gfn(const struct mn_vm *vm, uint64_t mmu_seq, mn_gfn_t gfn);
bool mmu_invalidate_retry(const struct mn_vm *vm, uint64_t mmu_seq);
void kvm_mmu_invalidate_begin(struct mn_vm *vm);
bool kvm_mmu_unmap_gfn_range(struct mn_vm *vm, const struct kvm_gfn_range *range,
			     const char *zap_step);
void kvm_mmu_invalidate_end(struct mn_vm *vm);

#endif /* MNSIM_KVM_INTERNAL_H */
