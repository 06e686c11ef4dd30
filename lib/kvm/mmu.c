// SPDX-License-Identifier: MIT
/*
 * mmu.c - the secondary MMU behind the arch-neutral hooks: kvm_unmap_gfn_range(),
 * kvm_age_gfn(), kvm_test_age_gfn(), kvm_arch_flush_shadow_memslot() and _all(), and the
 * leaf a fault installs. x86 is the TDP MMU on EPT (arch/x86/kvm/mmu/tdp_mmu.c: zap in write
 * mode, the caller flushes); arm64 is stage-2 (arch/arm64/kvm/mmu.c, hyp/pgtable.c: every
 * leaf broken before made with a TLBI by IPA, so the walker leaves nothing to flush).
 */
#include "kvm/kvm-internal.h"

struct flush_arg {
	struct mn_vm *vm;
	unsigned int as_id;
};

/* The page-table engine's flushes (stage-2 BBM, x86 flush before yield), sent to vCPUs. */
static void pt_flush(void *arg, enum mn_flush_kind kind, struct mn_gfn_range r, unsigned int level)
{
	struct flush_arg *f = arg;
	unsigned int i;

	if (kind == MN_FLUSH_ALL) {
		kvm_flush_remote_tlbs(f->vm);
		return;
	}
	for (i = 0; i < f->vm->nr_vcpus; i++)
		mn_tlb_flush(f->vm->vcpus[i].tlb[f->as_id], kind, r, level);
	f->vm->st.flush_range++;
}

static struct mn_pt_ctx pt_ctx(struct mn_vm *vm, struct flush_arg *f, unsigned int as_id,
			       bool may_block)
{
	*f = (struct flush_arg){ vm, as_id };
	return (struct mn_pt_ctx){
		.sim = vm->sim, .can_yield = may_block, .flush = pt_flush, .flush_arg = f
	};
}

/*
 * kvm_unmap_gfn_range() under mmu_lock(W): x86 tdp_mmu_zap_leafs() returns whether a flush
 * is owed (the walker flushes before yielding); arm64 kvm_pgtable_stage2_unmap() flushes
 * each leaf itself and returns false.
 */
bool kvm_unmap_gfn_range(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	unsigned int as = range->slot->as_id;
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as, range->may_block);

	if (!(range->attr_filter & KVM_FILTER_SHARED))
		return false; /* no private memory modelled yet */
	mn_pt_zap(vm->pt[as], &ctx, (struct mn_gfn_range){ range->start, range->end }, 0, &res);
	vm->st.zapped += res.zapped;
	if (vm->cfg.arch == MN_VM_ARM64)
		return false;
	return res.flush_needed;
}

/* kvm_age_gfn() / kvm_test_age_gfn(): the accessed bits; no flush (aging tolerates it). */
static bool age(struct mn_vm *vm, const struct kvm_gfn_range *range, bool clear)
{
	struct mn_pt_result res;

	return mn_pt_age(vm->pt[range->slot->as_id],
			 (struct mn_gfn_range){ range->start, range->end }, clear, &res) > 0;
}

bool kvm_age_gfn(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	return age(vm, range, true);
}

bool kvm_test_age_gfn(struct mn_vm *vm, const struct kvm_gfn_range *range)
{
	return age(vm, range, false);
}

/* Zap @r of @as_id in write mode and flush it (x86), or let BBM flush it (arm64). */
static void zap_flush(struct mn_vm *vm, unsigned int as, struct mn_gfn_range r, bool all)
{
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as, false);

	mn_pt_zap(vm->pt[as], &ctx, r, MN_PT_ZAP_FREE_TABLES, &res);
	vm->st.zapped += res.zapped;
	if (vm->cfg.arch == MN_VM_ARM64 || !res.flush_needed)
		return;
	if (all)
		kvm_flush_remote_tlbs(vm);
	else
		kvm_flush_remote_tlbs_range(vm, as, res.flush_range.start, res.flush_range.end);
}

/*
 * kvm_arch_flush_shadow_memslot(): x86 with KVM_X86_QUIRK_SLOT_ZAP_ALL (the default) zaps
 * everything (kvm_mmu_zap_all_fast(): all roots invalidated; modelled as zapping the whole
 * table with a full flush, the same end state); arm64 unmaps the slot's IPA range.
 */
void kvm_arch_flush_shadow_memslot(struct mn_vm *vm, struct kvm_memory_slot *slot)
{
	mn_write_lock(vm->sim, &vm->mmu_lock);
	if (vm->cfg.arch == MN_VM_X86)
		zap_flush(vm, slot->as_id, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, true);
	else
		zap_flush(vm, slot->as_id,
			  (struct mn_gfn_range){ slot->base_gfn, slot->base_gfn + slot->npages },
			  false);
	mn_write_unlock(vm->sim, &vm->mmu_lock);
}

/* kvm_arch_flush_shadow_all() (release, teardown): every address space, everything. */
void kvm_arch_flush_shadow_all(struct mn_vm *vm)
{
	unsigned int as;

	mn_write_lock(vm->sim, &vm->mmu_lock);
	for (as = 0; as < vm->nr_as; as++)
		zap_flush(vm, as, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, true);
	mn_write_unlock(vm->sim, &vm->mmu_lock);
}

/*
 * The leaf a fault installs (make_spte() / stage2 prot): x86 EPT write-back with IPAT,
 * accessed, dirty when writable, host- and MMU-writable bits; arm64 normal write-back memory
 * with the access flag. A table already at the target level (smaller mappings present)
 * makes the fault fall back to the next smaller level.
 */
int kvm_mmu_map(struct mn_vm *vm, unsigned int as_id, mn_gfn_t gfn, struct mn_frame_ref ref,
		unsigned int level, unsigned int perm)
{
	struct mn_pte leaf = {
		.kind = MN_PTE_LEAF, .perm = perm, .memtype = MN_MT_WB, .accessed = true
	};
	struct mn_pt_result res;
	struct flush_arg f;
	struct mn_pt_ctx ctx = pt_ctx(vm, &f, as_id, false);
	int ret = -EEXIST;

	if (vm->cfg.arch == MN_VM_X86) {
		leaf.ipat = true;
		leaf.dirty = perm & MN_PTE_W;
		if (perm & MN_PTE_W)
			leaf.sw = MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_MMU_WRITABLE;
	}
	for (; level >= MN_PG_LEVEL_4K; level--) {
		uint64_t pages = 1ULL << (MN_LEVEL_BITS * (level - 1));
		mn_gfn_t base = mn_align_down(gfn, pages);

		leaf.level = level;
		leaf.pfn = mn_align_down(ref.pfn, pages);
		ret = mn_pt_map_frame(vm->pt[as_id], &ctx, base, &leaf, ref.gen, &res);
		if (ret != -EEXIST || level == MN_PG_LEVEL_4K)
			break;
	}
	if (!ret && res.flush_needed && vm->cfg.arch == MN_VM_X86)
		kvm_flush_remote_tlbs_range(vm, as_id, res.flush_range.start, res.flush_range.end);
	return ret;
}
