/* SPDX-License-Identifier: MIT */
/*
 * mn-test-kvm.h - a host world with one VM, for the KVM tests: creation and teardown (with
 * the quiescence check), memslots, guest reads, the secondary table and the VM's counters.
 */
#ifndef MN_TEST_KVM_H
#define MN_TEST_KVM_H

#include "mn-test-host.h"

#include <mnsim/check.h>

static const enum mn_vm_arch arches[] = { MN_VM_X86, MN_VM_ARM64 };

struct kworld {
	struct world w;
	struct mn_vm *vm;
	struct mn_vcpu *vcpu;
	enum mn_vm_arch arch;
	mn_hva_t ram;
	uint64_t size;
	uint64_t uf[64]; /* a VMM userfault bitmap (up to 4096 pages), for tests that need one */
};

static inline void kworld_init_cfg(struct kworld *k, const struct mn_vm_config *cfg,
				   enum mn_thp_mode thp)
{
	memset(k, 0, sizeof(*k));
	world_init(&k->w, thp);
	k->arch = cfg->arch;
	assert_int_equal(mn_vm_create(k->w.mm, cfg, &k->vm), 0);
	k->vcpu = mn_vm_get_vcpu(k->vm, 0);
}

static inline void kworld_init(struct kworld *k, enum mn_vm_arch arch, enum mn_thp_mode thp)
{
	struct mn_vm_config cfg = { .arch = arch };

	kworld_init_cfg(k, &cfg, thp);
}

/* Check the VM is quiet and the world clean, then free both. */
static inline void kworld_fini(struct kworld *k)
{
	assert_int_equal(mn_check_vm_quiescent(k->vm), 0);
	mn_vm_destroy(k->vm);
	world_fini(&k->w);
}

/* After a test that broke the protocol on purpose: no checks. */
static inline void kworld_destroy(struct kworld *k)
{
	mn_vm_destroy(k->vm);
	world_destroy(&k->w);
}

static inline int __set_slot(struct kworld *k, uint32_t slot, mn_gpa_t gpa, uint64_t size,
			     mn_hva_t hva, uint32_t flags)
{
	struct mn_userspace_memory_region2 r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	return mn_vm_set_user_memory_region2(k->vm, &r);
}

static inline void set_slot(struct kworld *k, uint32_t slot, mn_gpa_t gpa, uint64_t size,
			    mn_hva_t hva, uint32_t flags)
{
	assert_int_equal(__set_slot(k, slot, gpa, size, hva, flags), 0);
}

/* A guest read of vCPU 0 in address space 0 that must complete. */
static inline uint64_t guest_read(struct kworld *k, mn_gpa_t gpa)
{
	uint64_t val = ~0ULL;

	assert_int_equal(mn_vcpu_access(k->vcpu, 0, gpa, MN_PTE_R, &val, NULL), 0);
	return val;
}

static inline bool spte_present(struct kworld *k, mn_gpa_t gpa)
{
	struct mn_pt_walk w;

	return !mn_pt_walk(mn_vm_get_pt(k->vm, 0), gpa / PG, &w);
}

static inline struct mn_vm_stats vm_stats(struct kworld *k)
{
	struct mn_vm_stats st;

	mn_vm_get_stats(k->vm, &st);
	return st;
}

#endif /* MN_TEST_KVM_H */
