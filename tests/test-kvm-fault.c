// SPDX-License-Identifier: MIT
/*
 * test-kvm-fault.c - guest accesses and the vCPU fault paths (lib/kvm/fault.c): the x86 TDP
 * and arm64 stage-2 faults map the page the host maps, at the level the slot and the host
 * allow, exit to the VMM for MMIO, read-only slots and failed GUPs, and stay correct against
 * a concurrent munmap under every schedule the explorer tries, while mutations of the
 * protocol's steps are caught.
 */
#include "mn-test-kvm.h"


static int guest_write(struct kworld *k, mn_gpa_t gpa, uint64_t val, struct mn_vcpu_exit *e)
{
	return mn_vcpu_access(k->vcpu, 0, gpa, MN_PTE_W, &val, e);
}

/* The secondary leaf for @gpa, which must be present. */
static struct mn_pt_walk spte_at(struct kworld *k, unsigned int as, mn_gpa_t gpa)
{
	struct mn_pt_walk w;

	assert_int_equal(mn_pt_walk(mn_vm_get_pt(k->vm, as), gpa / PG, &w), 0);
	return w;
}

/* The leaf for @gpa maps the frame the host maps at @hva, at @level. */
static void assert_maps_host(struct kworld *k, mn_gpa_t gpa, mn_hva_t hva, unsigned int level)
{
	struct mn_pt_walk g = spte_at(k, 0, gpa), h = leaf_at(&k->w, hva);

	assert_int_equal(g.pfn, h.pfn);
	assert_int_equal(g.leaf.level, level);
	assert_true(h.leaf.level >= level);
}

/* ---- single-threaded behaviour -------------------------------------------------------- */

static void test_access_rejects_bad_arguments(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		uint64_t v = 0;
		mn_gpa_t top = arches[i] == MN_VM_X86 ? 1ULL << 48 : 1ULL << 40;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		assert_int_equal(mn_vcpu_access(NULL, 0, 0, MN_PTE_R, &v, NULL), -EINVAL);
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, 0, 0, &v, NULL), -EINVAL);
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, 0, MN_PTE_R | MN_PTE_W, &v, NULL),
				 -EINVAL);
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, 0, MN_PTE_U, &v, NULL), -EINVAL);
		/* x86 has the SMM address space 1; arm64 only 0. */
		assert_int_equal(mn_vcpu_access(k.vcpu, arches[i] == MN_VM_X86 ? 2 : 1, 0, MN_PTE_R,
						&v, NULL),
				 -EINVAL);
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, top, MN_PTE_R, &v, NULL), -EINVAL);
		assert_int_equal(vm_stats(&k).faults, 0);
		kworld_fini(&k);
	}
}

static void test_first_access_maps_the_page_the_host_maps(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		unsigned int rwx = MN_PTE_R | MN_PTE_W | (arches[i] == MN_VM_X86 ? MN_PTE_X : 0);
		struct kworld k;
		mn_hva_t ram;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		/*
		 *  gpa   0   4K  8K  12K
		 *  slot  [ slot 0: 16 KiB at ram )
		 *  guest     W                   <- the first touch of the page, host included
		 */
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		assert_int_equal(guest_write(&k, 4 * KiB, 0x1234, NULL), 0);
		assert_maps_host(&k, 4 * KiB, ram + 4 * KiB, MN_PG_LEVEL_4K);
		/* x86 maps RWX; arm64 grants X only to an instruction fetch. */
		assert_int_equal(spte_at(&k, 0, 4 * KiB).leaf.perm, rwx);
		assert_int_equal(read_word(&k.w, ram + 4 * KiB), 0x1234);
		write_word(&k.w, ram + 4 * KiB, 0x5678);
		assert_int_equal(guest_read(&k, 4 * KiB), 0x5678);
		/* One fault; the read hit the TLB. */
		assert_int_equal(vm_stats(&k).faults, 1);
		assert_int_equal(vm_stats(&k).fault_retries, 0);
		/* Neighbours were not touched. */
		assert_false(spte_present(&k, 0));
		assert_false(spte_present(&k, 8 * KiB));
		kworld_fini(&k);
	}
}

static void test_read_maps_zero_page_and_write_retries_after_cow(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_pfn_t zero;
		mn_hva_t ram;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		/* A read maps the host's zero page, read-only: GUP could not get it writable. */
		assert_int_equal(guest_read(&k, 0), 0);
		zero = leaf_at(&k.w, ram).pfn;
		assert_int_equal(spte_at(&k, 0, 0).pfn, zero);
		assert_false(spte_at(&k, 0, 0).leaf.perm & MN_PTE_W);
		/*
		 * The write faults on permission; its GUP breaks copy-on-write, whose notified
		 * replacement zaps the leaf and bumps the sequence, so the fault that caused it
		 * retries once and maps the new page on the next attempt.
		 */
		assert_int_equal(guest_write(&k, 0, 77, NULL), 0);
		assert_int_not_equal(leaf_at(&k.w, ram).pfn, zero);
		assert_maps_host(&k, 0, ram, MN_PG_LEVEL_4K);
		assert_true(spte_at(&k, 0, 0).leaf.perm & MN_PTE_W);
		assert_int_equal(read_word(&k.w, ram), 77);
		assert_int_equal(vm_stats(&k).faults, 3);
		assert_int_equal(vm_stats(&k).fault_retries, 1);
		kworld_fini(&k);
	}
}

static void test_gpa_without_slot_is_mmio_exit(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vcpu_exit e = { 0 };
		struct kworld k;
		mn_hva_t ram;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		assert_int_equal(guest_write(&k, 16 * KiB + 8, 1, &e), 1);
		assert_int_equal(e.reason, MN_EXIT_MMIO);
		assert_int_equal(e.gpa, 16 * KiB + 8);
		assert_false(spte_present(&k, 16 * KiB));
		/* A deleted slot is no slot. */
		assert_int_equal(guest_write(&k, 0, 1, NULL), 0);
		set_slot(&k, 0, 0, 0, ram, 0);
		assert_false(spte_present(&k, 0));
		e = (struct mn_vcpu_exit){ 0 };
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, 0, MN_PTE_R, NULL, &e), 1);
		assert_int_equal(e.reason, MN_EXIT_MMIO);
		kworld_fini(&k);
	}
}

static void test_thp_slot_maps_2m_unless_misaligned(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		mn_hva_t a, b, c;
		struct kworld k;

		kworld_init(&k, arches[i], MN_THP_ALWAYS);
		/*
		 *  gpa   0       2M      4M ... 8M      10M ... 16M     18M
		 *  slot  [ 0: a, aligned )    [ 1: b + 4K )     [ 2: c, no THP )
		 *  host  THP     THP          THP at b          4K pages
		 */
		a = map_anon(&k.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
		b = map_anon(&k.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
		c = map_anon(&k.w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE);
		assert_int_equal(mn_mm_madvise(k.w.mm, c, 2 * MiB, MN_MADV_NOHUGEPAGE), 0);
		set_slot(&k, 0, 0, 4 * MiB, a, 0);
		set_slot(&k, 1, 8 * MiB, 2 * MiB, b + 4 * KiB, 0);
		set_slot(&k, 2, 16 * MiB, 2 * MiB, c, 0);

		assert_int_equal(guest_write(&k, 2 * MiB + 12 * KiB, 1, NULL), 0);
		assert_maps_host(&k, 2 * MiB + 12 * KiB, a + 2 * MiB + 12 * KiB, MN_PG_LEVEL_2M);
		assert_int_equal(leaf_at(&k.w, a + 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
		/* The whole block is mapped: its neighbour reads what the host holds. */
		write_word(&k.w, a + 2 * MiB + 8 * KiB, 9);
		assert_int_equal(guest_read(&k, 2 * MiB + 8 * KiB), 9);
		assert_int_equal(vm_stats(&k).faults, 1);

		/* gfn and hva disagree by 4K: a page, although the host maps a THP. */
		assert_int_equal(guest_write(&k, 8 * MiB, 2, NULL), 0);
		assert_int_equal(leaf_at(&k.w, b + 4 * KiB).leaf.level, MN_PG_LEVEL_2M);
		assert_maps_host(&k, 8 * MiB, b + 4 * KiB, MN_PG_LEVEL_4K);

		/* Aligned, but the host maps pages. */
		assert_int_equal(guest_write(&k, 16 * MiB, 3, NULL), 0);
		assert_maps_host(&k, 16 * MiB, c, MN_PG_LEVEL_4K);
		kworld_fini(&k);
	}
}

static void test_hugetlb_1g_maps_1g_when_aligned(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_hva_t h;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		assert_int_equal(mn_mm_mmap(k.w.mm, 0, GiB, MN_PROT_READ | MN_PROT_WRITE,
					    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_HUGETLB |
						    MN_MAP_HUGE_1GB,
					    NULL, 0, &h),
				 0);
		/*
		 *  Three slots alias the same 1G HugeTLB page:
		 *  slot 0  gpa 1G        hva h        aligned to 1G       -> 1G leaf
		 *  slot 1  gpa 8G + 2M   hva h        aligned to 2M only  -> 2M leaf
		 *  slot 2  gpa 16G + 4K  hva h + 4M   aligned to 4K only  -> 4K leaf
		 */
		set_slot(&k, 0, GiB, GiB, h, 0);
		set_slot(&k, 1, 8 * GiB + 2 * MiB, 512 * MiB, h, 0);
		set_slot(&k, 2, 16 * GiB + 4 * KiB, 2 * MiB, h + 4 * MiB, 0);
		assert_int_equal(guest_write(&k, GiB + 12 * KiB, 5, NULL), 0);
		assert_int_equal(leaf_at(&k.w, h).leaf.level, MN_PG_LEVEL_1G);
		assert_maps_host(&k, GiB + 12 * KiB, h + 12 * KiB, MN_PG_LEVEL_1G);
		assert_int_equal(guest_read(&k, 8 * GiB + 2 * MiB + 12 * KiB), 5);
		assert_maps_host(&k, 8 * GiB + 2 * MiB, h, MN_PG_LEVEL_2M);
		assert_int_equal(guest_read(&k, 16 * GiB + 4 * KiB), 0);
		assert_maps_host(&k, 16 * GiB + 4 * KiB, h + 4 * MiB, MN_PG_LEVEL_4K);
		kworld_fini(&k);
	}
}

static void test_write_to_readonly_slot_exits_as_mmio(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vcpu_exit e = { 0 };
		struct kworld k;
		mn_hva_t ram;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		write_word(&k.w, ram, 5);
		set_slot(&k, 0, 0, 16 * KiB, ram, MN_MEM_READONLY);
		/* Reads are served from the page, mapped without W although the host has it. */
		assert_int_equal(guest_read(&k, 0), 5);
		assert_maps_host(&k, 0, ram, MN_PG_LEVEL_4K);
		assert_false(spte_at(&k, 0, 0).leaf.perm & MN_PTE_W);
		assert_true(leaf_at(&k.w, ram).leaf.perm & MN_PTE_W);
		/* A write is the VMM's to emulate (KVM_MEM_READONLY: KVM_EXIT_MMIO). */
		assert_int_equal(guest_write(&k, 8, 6, &e), 1);
		assert_int_equal(e.reason, MN_EXIT_MMIO);
		assert_int_equal(e.gpa, 8);
		assert_int_equal(read_word(&k.w, ram), 5);
		kworld_fini(&k);
	}
}

static void test_write_to_host_readonly_page_is_memory_fault(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vcpu_exit e = { 0 };
		struct kworld k;
		mn_hva_t ram;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		write_word(&k.w, ram, 9);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		assert_int_equal(mn_mm_mprotect(k.w.mm, ram, 4 * KiB, MN_PROT_READ), 0);
		assert_int_equal(guest_read(&k, 0), 9);
		assert_false(spte_at(&k, 0, 0).leaf.perm & MN_PTE_W);
		/* GUP with FOLL_WRITE fails: KVM_RUN returns -EFAULT, KVM_EXIT_MEMORY_FAULT. */
		assert_int_equal(guest_write(&k, 0, 10, &e), 1);
		assert_int_equal(e.reason, MN_EXIT_MEMORY_FAULT);
		assert_int_equal(e.error, -EFAULT);
		assert_int_equal(read_word(&k.w, ram), 9);
		/* Outside any VMA: the same exit. */
		assert_int_equal(mn_mm_munmap(k.w.mm, ram + 4 * KiB, 4 * KiB), 0);
		e = (struct mn_vcpu_exit){ 0 };
		assert_int_equal(guest_write(&k, 4 * KiB, 1, &e), 1);
		assert_int_equal(e.reason, MN_EXIT_MEMORY_FAULT);
		assert_int_equal(e.error, -EFAULT);
		kworld_fini(&k);
	}
}

static void test_exec_fault_grants_execute_on_arm64_only_then(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_pfn_t pfn;
		mn_hva_t ram;
		uint64_t v = 0;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		assert_int_equal(guest_write(&k, 0, 0x90, NULL), 0);
		pfn = spte_at(&k, 0, 0).pfn;
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, 0, MN_PTE_X, &v, NULL), 0);
		assert_int_equal(v, 0x90);
		assert_int_equal(spte_at(&k, 0, 0).pfn, pfn);
		assert_true(spte_at(&k, 0, 0).leaf.perm & MN_PTE_X);
		/* x86 had X from the start; arm64 took a permission fault for it. */
		assert_int_equal(vm_stats(&k).faults, arches[i] == MN_VM_X86 ? 1 : 2);
		kworld_fini(&k);
	}
}

static void test_smm_address_space_has_its_own_table(void **state)
{
	struct kworld k;
	mn_hva_t ram;
	uint64_t v = 3;

	(void)state;
	kworld_init(&k, MN_VM_X86, MN_THP_NEVER);
	ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 1U << 16 | 0, 0, 16 * KiB, ram, 0);
	/* Address space 0 has no slot: MMIO; address space 1 maps. */
	assert_int_equal(mn_vcpu_access(k.vcpu, 0, 0, MN_PTE_W, &v, NULL), 1);
	assert_int_equal(mn_vcpu_access(k.vcpu, 1, 0, MN_PTE_W, &v, NULL), 0);
	assert_int_equal(spte_at(&k, 1, 0).pfn, leaf_at(&k.w, ram).pfn);
	assert_false(spte_present(&k, 0));
	assert_int_equal(read_word(&k.w, ram), 3);
	kworld_fini(&k);
}

static void test_munmap_zaps_and_the_next_access_maps_the_new_page(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_pfn_t old;
		mn_hva_t ram, a;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		assert_int_equal(guest_write(&k, 4 * KiB, 1, NULL), 0);
		old = spte_at(&k, 0, 4 * KiB).pfn;
		assert_int_equal(mn_mm_munmap(k.w.mm, ram + 4 * KiB, 4 * KiB), 0);
		assert_false(spte_present(&k, 4 * KiB));
		assert_int_equal(
			mn_mm_mmap(k.w.mm, ram + 4 * KiB, 4 * KiB, MN_PROT_READ | MN_PROT_WRITE,
				   MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a),
			0);
		assert_int_equal(guest_write(&k, 4 * KiB, 2, NULL), 0);
		assert_int_not_equal(spte_at(&k, 0, 4 * KiB).pfn, old);
		assert_maps_host(&k, 4 * KiB, ram + 4 * KiB, MN_PG_LEVEL_4K);
		assert_int_equal(read_word(&k.w, ram + 4 * KiB), 2);
		kworld_fini(&k);
	}
}

/* ---- fault vs munmap, under every schedule -------------------------------------------- */

/*
 *  gpa    0    4K   8K   12K
 *  slot   [ slot 0: 16 KiB at ram )
 *  vcpu        W                  <- guest write to gpa 4K (its first touch in the VM)
 *  vmm         *                  <- munmap(ram + 4K, 4K), then mmap it again MAP_FIXED
 *
 * The VMM re-maps the hole so that the slot stays backed: at the end the guest and the VMM
 * must see the same word there, whichever page that is. The host page exists before the
 * race (the VMM wrote it), so the vCPU's GUP races the munmap through the lockless walk.
 */
struct race {
	struct world w;
	struct mn_vm *vm;
	enum mn_vm_arch arch;
	bool cold;    /* the host page does not exist yet: GUP faults it in */
	bool checked; /* mn_check_vm() after every step */
	char name[48];
	mn_hva_t ram;
	int vcpu_ret;
	struct mn_vcpu_exit exit;
	int unmap_ret, map_ret;
};

static void race_vcpu(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	uint64_t v = 0x2222;

	(void)sim;
	r->vcpu_ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, 4 * KiB, MN_PTE_W, &v, &r->exit);
}

static void race_vmm(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	mn_hva_t a;

	(void)sim;
	r->unmap_ret = mn_mm_munmap(r->w.mm, r->ram + 4 * KiB, 4 * KiB);
	r->map_ret = mn_mm_mmap(r->w.mm, r->ram + 4 * KiB, 4 * KiB, MN_PROT_READ | MN_PROT_WRITE,
				MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a);
}

static int race_setup(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	struct mn_vm_config cfg = { .arch = r->arch };
	struct mn_userspace_memory_region2 slot = { .slot = 0, .memory_size = 16 * KiB };
	uint64_t v = 0x1111;
	int ret;

	ret = race_world_attach(&r->w, sim, MN_THP_NEVER, &cfg, 16 * KiB, &r->vm, &r->ram);
	if (!ret && !r->cold)
		ret = mn_mm_access(r->w.mm, r->ram + 4 * KiB, MN_PTE_W, &v, NULL);
	slot.userspace_addr = r->ram;
	if (!ret)
		ret = mn_vm_set_user_memory_region2(r->vm, &slot);
	if (!ret && r->checked)
		mn_check_enable(r->vm);
	if (!ret)
		ret = mn_sim_spawn(sim, "vcpu", race_vcpu, r, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "vmm", race_vmm, r, NULL);
	r->vcpu_ret = -1;
	return ret;
}

static void race_check(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	uint64_t gv = 0, hv = 1;
	int ret;

	/* No leaf and no TLB entry outlived its frame; the counters are balanced. */
	ret = mn_pt_check_frames(mn_vm_get_pt(r->vm, 0), r->w.phys, "vm.leaf");
	ret += mn_check_vm_quiescent(r->vm);
	if (ret) {
		/*
		 * The frame oracle reports straight to the trace, which the explorer only
		 * notices at yield points: fail the run explicitly (the oracle's report stays
		 * the first violation).
		 */
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.oracle", "%d broken invariants", ret);
		goto out;
	}
	/* The access completed, or exited: GUP found the hole, or the vCPU gave up retrying. */
	if (r->vcpu_ret != 0 && !(r->vcpu_ret == 1 && r->exit.reason == MN_EXIT_MEMORY_FAULT &&
				  (r->exit.error == -EFAULT || r->exit.error == -EAGAIN)))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.vcpu_result", "access %d exit %u/%d",
			       r->vcpu_ret, r->exit.reason, r->exit.error);
	if (r->unmap_ret || r->map_ret)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.vmm_result", "munmap %d mmap %d",
			       r->unmap_ret, r->map_ret);
	/* Quiet now: the guest must get through, and see what the VMM sees. */
	ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, 4 * KiB, MN_PTE_R, &gv, NULL);
	if (ret)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.no_progress",
			       "a guest read with nothing in its way returned %d", ret);
	else if (mn_mm_access(r->w.mm, r->ram + 4 * KiB, MN_PTE_R, &hv, NULL) || gv != hv)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.views_differ",
			       "the guest reads %#llx, the VMM %#llx", (unsigned long long)gv,
			       (unsigned long long)hv);
out:
	mn_vm_destroy(r->vm);
	mn_mm_destroy(r->w.mm);
}

static struct mn_scenario race_scenario(struct race *r, enum mn_vm_arch arch, bool cold,
					bool checked)
{
	memset(r, 0, sizeof(*r));
	r->arch = arch;
	r->cold = cold;
	r->checked = checked;
	snprintf(r->name, sizeof(r->name), "%s-fault-vs-munmap%s%s",
		 arch == MN_VM_X86 ? "x86" : "arm64", cold ? "-cold" : "",
		 checked ? "-checked" : "");
	return (struct mn_scenario){ r->name, race_setup, race_check, NULL, r };
}

static void test_fault_vs_munmap_under_every_schedule(void **state)
{
	unsigned int i, v;

	(void)state;
	for (i = 0; i < 2; i++) {
		for (v = 0; v < 4; v++) {
			static struct race r;
			struct mn_scenario sc = race_scenario(&r, arches[i], v & 1, v & 2);

			explore_expect(&sc, 2, 100, NULL, NULL);
		}
	}
}

/*
 * Skipping the retry check lets a fault whose GUP raced the munmap install the old page:
 * the explorer finds a schedule, and replaying it reproduces the same use-after-free.
 */
static void test_skipping_retry_check_is_caught_and_replays(void **state)
{
	const char *skip[] = { "fault.retry_check" };
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		static struct race r;
		struct mn_scenario sc = race_scenario(&r, arches[i], false, false);
		struct mn_explore_config cfg = {
			.strategy = MN_EXPLORE_DFS,
			.preemption_bound = 2,
			.max_schedules = 50000,
			.skip_steps = skip,
			.nr_skip_steps = 1,
		};
		struct mn_explore_result res;
		const struct mn_violation *v;
		struct mn_sim *sim;
		struct mn_trace *t;

		assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
		assert_true(res.failing_runs > 0);
		assert_string_equal(res.failures[0].violation.invariant,
				    "kvm.install_during_invalidation");
		print_message("%s without fault.retry_check: %llu schedules, %llu failing; "
			      "first %s (schedule %s)\n",
			      sc.name, (unsigned long long)res.schedules,
			      (unsigned long long)res.failing_runs,
			      res.failures[0].violation.invariant, res.failures[0].schedule);
		assert_int_equal(
			mn_explore_replay(&sc, NULL, skip, 1, res.failures[0].schedule, &sim),
			MN_RUN_VIOLATION);
		t = mn_sim_get_trace(sim);
		assert_true(mn_trace_nr_violations(t) >= 1);
		v = mn_trace_violation(t, 0);
		assert_string_equal(v->invariant, "kvm.install_during_invalidation");
		assert_int_equal(v->kind, res.failures[0].violation.kind);
		mn_sim_destroy(sim);
		/* The same schedule is harmless with the check in place. */
		assert_int_equal(
			mn_explore_replay(&sc, NULL, NULL, 0, res.failures[0].schedule, &sim),
			MN_RUN_OK);
		mn_sim_destroy(sim);
		mn_explore_result_free(&res);
	}
}

/*
 * Mutations of the protocol's steps and the invariant that catches each (NULL: it survives
 * this scenario, for the reason given).
 */
static const struct {
	const char *step;
	const char *x86;
	const char *arm64;
} mutants[] = {
	/* The snapshot taken after GUP misses an munmap that ran during GUP. */
	{ "fault.seq_snapshot", "frame.use_after_free", "frame.use_after_free" },
	/* Check and install no longer exclude invalidate_range_start. */
	{ "fault.mmu_lock", "kvm.install_during_invalidation", "kvm.install_during_invalidation" },
	/* A whole munmap between snapshot and check leaves no trace without the bump. */
	{ "invalidate_end.seq_bump", "frame.use_after_free", "frame.use_after_free" },
	/* The leaf outlives the page. */
	{ "invalidate_start.zap", "frame.use_after_free", "frame.use_after_free" },
	/*
	 * x86 zaps and owes a flush that never comes: the TLB keeps the page. arm64 breaks
	 * before make, flushing each leaf as it zaps: there is nothing left to flush.
	 */
	{ "invalidate_start.tlb_flush", "frame.use_after_free", NULL },
	/* Nothing is installed: the quiet re-read at the end cannot get through. */
	{ "fault.install", "test.no_progress", "test.no_progress" },
	/* Lockless prechecks only spare mmu_lock (x86; arm64 has none: not passed). */
	{ "fault.precheck", NULL, NULL },
	{ "fault.precheck_after_gup", NULL, NULL },
};

static void test_mutations_of_fault_and_notifier_steps_are_caught(void **state)
{
	unsigned int i, m;

	(void)state;
	for (m = 0; m < sizeof(mutants) / sizeof(mutants[0]); m++) {
		for (i = 0; i < 2; i++) {
			const char *caught =
				arches[i] == MN_VM_X86 ? mutants[m].x86 : mutants[m].arm64;
			const char *skips[1] = { mutants[m].step };
			struct mn_explore_config cfg = {
				.strategy = MN_EXPLORE_DFS,
				.preemption_bound = 2,
				.max_schedules = 50000,
				.skip_steps = skips,
				.nr_skip_steps = 1,
			};
			static struct race r;
			struct mn_scenario sc = race_scenario(&r, arches[i], false, false);
			struct mn_explore_result res;

			assert_int_equal(mn_explore(&sc, &cfg, &res), 0);
			print_message("%s without %s: %llu schedules, %llu failing%s%s (%.2fs)\n",
				      sc.name, mutants[m].step, (unsigned long long)res.schedules,
				      (unsigned long long)res.failing_runs,
				      res.nr_failures ? ", first " : "",
				      res.nr_failures ? res.failures[0].violation.invariant : "",
				      res.seconds);
			if (caught) {
				assert_true(res.failing_runs > 0);
				assert_string_equal(res.failures[0].violation.invariant, caught);
			} else {
				assert_int_equal(res.failing_runs, 0);
				assert_true(res.exhausted);
			}
			mn_explore_result_free(&res);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_rejects_bad_arguments),
		cmocka_unit_test(test_first_access_maps_the_page_the_host_maps),
		cmocka_unit_test(test_read_maps_zero_page_and_write_retries_after_cow),
		cmocka_unit_test(test_gpa_without_slot_is_mmio_exit),
		cmocka_unit_test(test_thp_slot_maps_2m_unless_misaligned),
		cmocka_unit_test(test_hugetlb_1g_maps_1g_when_aligned),
		cmocka_unit_test(test_write_to_readonly_slot_exits_as_mmio),
		cmocka_unit_test(test_write_to_host_readonly_page_is_memory_fault),
		cmocka_unit_test(test_exec_fault_grants_execute_on_arm64_only_then),
		cmocka_unit_test(test_smm_address_space_has_its_own_table),
		cmocka_unit_test(test_munmap_zaps_and_the_next_access_maps_the_new_page),
		cmocka_unit_test(test_fault_vs_munmap_under_every_schedule),
		cmocka_unit_test(test_skipping_retry_check_is_caught_and_replays),
		cmocka_unit_test(test_mutations_of_fault_and_notifier_steps_are_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
