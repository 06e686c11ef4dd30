// SPDX-License-Identifier: MIT
/*
 * vm.c - VM creation and teardown (virt/kvm/kvm_main.c: kvm_create_vm(), kvm_destroy_vm()),
 * the mmu_notifier subscription, and remote TLB flushes (kvm_flush_remote_tlbs*()).
 */
#include "kvm/kvm-internal.h"

static int vm_format(const struct mn_vm_config *c, struct mn_pt_format *fmt)
{
	if (c->arch == MN_VM_X86)
		return mn_pt_format_ept(fmt, c->ept_levels, 0);
	/* kvm_init_stage2_mmu(): KVM_PGTABLE_S2_NOFWB unless the CPUs have ARM64_HAS_STAGE2_FWB. */
	return mn_pt_format_stage2(fmt, c->ipa_bits,
				   c->arm64_missing & MN_ARM64_NO_S2FWB ? 0 : MN_S2_FWB);
}

static void vm_free(struct mn_vm *vm)
{
	unsigned int i, as;

	for (i = 0; i < vm->nr_vcpus; i++)
		for (as = 0; as < vm->nr_as; as++)
			mn_tlb_destroy(vm->vcpus[i].tlb[as]);
	for (as = 0; as < vm->nr_as; as++)
		mn_pt_destroy(vm->pt[as]);
	kvm_memslots_free(vm);
	kvm_attributes_free(vm);
	mn_free(vm->alloc, vm);
}

int mn_vm_create(struct mn_mm *mm, const struct mn_vm_config *cfg, struct mn_vm **out)
{
	struct mn_vm_config c = cfg ? *cfg : (struct mn_vm_config){ .arch = MN_VM_X86 };
	struct mn_sim *sim = mn_mm_get_sim(mm);
	struct mn_vm *vm;
	unsigned int i, as;
	int ret;

	if (!c.nr_vcpus)
		c.nr_vcpus = 1;
	if (!c.ept_levels)
		c.ept_levels = 4;
	if (!c.ipa_bits)
		c.ipa_bits = 40;
	if ((c.arch != MN_VM_X86 && c.arch != MN_VM_ARM64) || c.nr_vcpus > MN_VM_MAX_VCPUS ||
	    (c.variant & ~MN_VARIANT_ALL))
		return -EINVAL;
	/* The three walker variants exclude each other. */
	i = c.variant & (MN_VARIANT_RFC_SKIP_GMEM_ONLY | MN_VARIANT_FILTER_USERSPACE_MAPPINGS |
			 MN_VARIANT_GPC_OWN_SEQ);
	if (i & (i - 1))
		return -EINVAL;
	/* The host's arm64 features: known bits, and only on arm64. */
	if ((c.arm64_missing & ~MN_ARM64_MISSING_ALL) || (c.arm64_missing && c.arch != MN_VM_ARM64))
		return -EINVAL;
	/* kvm_is_vm_type_supported(): private-memory types exist on x86 only. */
	if (c.type > MN_VM_TYPE_TDX || (c.type != MN_VM_TYPE_DEFAULT && c.arch != MN_VM_X86))
		return -EINVAL;
	/*
	 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (kvm_vm_ioctl_enable_cap_generic()): only the known
	 * options, and INITIALLY_SET only together with MANUAL_PROTECT_ENABLE.
	 */
	if ((c.dirty_log_manual & ~(MN_DIRTY_LOG_MANUAL_PROTECT | MN_DIRTY_LOG_INITIALLY_SET)) ||
	    ((c.dirty_log_manual & MN_DIRTY_LOG_INITIALLY_SET) &&
	     !(c.dirty_log_manual & MN_DIRTY_LOG_MANUAL_PROTECT)))
		return -EINVAL;
	vm = mn_zalloc(mn_sim_get_alloc(sim), sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->sim = sim;
	vm->alloc = mn_sim_get_alloc(sim);
	vm->phys = mn_sim_get_phys(sim);
	vm->trace = mn_sim_get_trace(sim);
	vm->mm = mm;
	vm->cfg = c;
	vm->users_count = 1;
	/* kvm_arch_nr_memslot_as_ids(): no SMM address space for VMs with private memory. */
	vm->nr_as = c.arch == MN_VM_X86 && c.type == MN_VM_TYPE_DEFAULT ? 2 : 1;
	vm->nr_vcpus = c.nr_vcpus;
	ret = vm_format(&c, &vm->fmt);
	if (ret) {
		mn_free(vm->alloc, vm);
		return ret;
	}
	/* The rwlock mmu_lock of x86 and arm64 (KVM_HAVE_MMU_RWLOCK): a spinning rwlock_t. */
	mn_rwlock_init(&vm->mmu_lock, "mmu_lock", MN_RW_SPIN);
	mn_mutex_init(&vm->slots_lock, "slots_lock");
	mn_mutex_init(&vm->slots_arch_lock, "slots_arch_lock");
	mn_spin_init(&vm->mn_invalidate_lock, "mn_invalidate_lock");
	mn_srcu_init(&vm->srcu, "kvm->srcu");
	mn_waitq_init(&vm->mn_memslots_update_wait, "mn_memslots_update_rcuwait");
	mn_spin_init(&vm->gpc_lock, "gpc_lock");
	vm->gpc_list = NULL;
	vm->mmu_invalidate_range_start = MN_INVALID_GFN;
	vm->mmu_invalidate_range_end = MN_INVALID_GFN;
	kvm_memslots_init(vm);
	kvm_attributes_init(vm);
	for (as = 0; as < vm->nr_as && !ret; as++)
		ret = mn_pt_create(vm->alloc, vm->phys, &vm->fmt, &vm->pt[as]);
	for (i = 0; i < vm->nr_vcpus && !ret; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		for (as = 0; as < vm->nr_as && !ret; as++)
			ret = mn_tlb_create(vm->alloc, 0, &vm->vcpus[i].tlb[as]);
	}
	if (!ret) {
		vm->mmu_notifier.ops = &kvm_mmu_notifier_ops;
		ret = mn_notifier_register(&vm->mmu_notifier, mm);
	}
	if (ret) {
		vm_free(vm);
		return ret;
	}
	kvm_trace_state_register(vm);
	mn_trace(vm->trace, "kvm.create_vm", MN_KV_S("arch", c.arch == MN_VM_X86 ? "x86" : "arm64"),
		 MN_KV_U("vcpus", c.nr_vcpus));
	*out = vm;
	return 0;
}

/* kvm_destroy_vm(): the last reference went. */
static void kvm_destroy_vm(struct mn_vm *vm)
{
	struct mn_gpc *gpc;

	/* Owners deactivate their caches first; one left would outlive its VM (§3.15 step 6). */
	for (gpc = vm->gpc_list; gpc; gpc = gpc->next)
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.gpc_left_active",
			       "VM destroyed with an active gfn_to_pfn cache (uhva %#llx)",
			       (unsigned long long)gpc->uhva);
	vm->dead = true;
	kvm_check_disable(vm);
	/* Release zaps everything and waits for callbacks in flight. */
	mn_notifier_unregister(&vm->mmu_notifier, vm->mm);
	/*
	 * Unregistering between a start and its end leaves mn_count raised: forced to 0. An
	 * in-progress invalidation without that excuse is a KVM bug (kvm_destroy_vm()).
	 */
	if (vm->mn_active_invalidate_count)
		vm->mn_active_invalidate_count = 0;
	else if (vm->mmu_invalidate_in_progress)
		mn_sim_reportf(vm->sim, MN_VIOL_CHECK, "kvm.destroy_in_progress",
			       "VM destroyed with mmu_invalidate_in_progress %lld",
			       (long long)vm->mmu_invalidate_in_progress);
	kvm_trace_state_unregister(vm);
	vm_free(vm);
}

void kvm_get_kvm(struct mn_vm *vm)
{
	vm->users_count++;
}

void kvm_put_kvm(struct mn_vm *vm)
{
	if (!--vm->users_count)
		kvm_destroy_vm(vm);
}

/*
 * The VMM closes its VM fd: the VM goes when the last guest_memfd pinning it is released
 * too (those hold their own reference, so a live file keeps its slots and mappings).
 */
void mn_vm_destroy(struct mn_vm *vm)
{
	if (vm)
		kvm_put_kvm(vm);
}

void mn_vm_get_invalidate_state(const struct mn_vm *vm, struct mn_vm_invalidate_state *st)
{
	st->seq = vm->mmu_invalidate_seq;
	st->in_progress = vm->mmu_invalidate_in_progress;
	st->range_start = vm->mmu_invalidate_range_start;
	st->range_end = vm->mmu_invalidate_range_end;
	st->mn_count = vm->mn_active_invalidate_count;
}

void mn_vm_get_stats(const struct mn_vm *vm, struct mn_vm_stats *st)
{
	*st = vm->st;
}

struct mn_pt *mn_vm_get_pt(struct mn_vm *vm, unsigned int as_id)
{
	return as_id < vm->nr_as ? vm->pt[as_id] : NULL;
}

struct mn_vcpu *mn_vm_get_vcpu(struct mn_vm *vm, unsigned int i)
{
	return i < vm->nr_vcpus ? &vm->vcpus[i] : NULL;
}

/*
 * kvm_flush_remote_tlbs(): every vCPU drops every translation of the VM before this returns
 * (KVM_REQ_TLB_FLUSH with KVM_REQUEST_WAIT), modelled as a synchronous flush of each TLB.
 */
void kvm_flush_remote_tlbs(struct mn_vm *vm)
{
	unsigned int i, as;

	for (i = 0; i < vm->nr_vcpus; i++)
		for (as = 0; as < vm->nr_as; as++)
			mn_tlb_flush(vm->vcpus[i].tlb[as], MN_FLUSH_ALL,
				     (struct mn_gfn_range){ 0, 0 }, 0);
	vm->st.flush_all++;
	mn_trace(vm->trace, "kvm.flush_remote_tlbs");
}

/* kvm_flush_remote_tlbs_range(): the translations of [@start, @end) in @as_id. */
void kvm_flush_remote_tlbs_range(struct mn_vm *vm, unsigned int as_id, mn_gfn_t start, mn_gfn_t end)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		mn_tlb_flush(vm->vcpus[i].tlb[as_id], MN_FLUSH_RANGE,
			     (struct mn_gfn_range){ start, end }, 0);
	vm->st.flush_range++;
	mn_trace(vm->trace, "kvm.flush_remote_tlbs_range", MN_KV_X("start", start),
		 MN_KV_X("end", end));
}
