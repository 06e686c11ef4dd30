// SPDX-License-Identifier: MIT
/*
 * test-userfault.c - KVM_MEM_USERFAULT (the KVM Userfault series, lib/kvm/memslot.c and the
 * fault paths): the flag's validation; a fault on a page marked in the VMM's bitmap exits
 * with KVM_MEMORY_EXIT_FLAG_USERFAULT before any GUP, at the point each architecture checks
 * it; turning the flag on for a live slot zaps it (common code), turning it off lets x86
 * rebuild huge mappings; the create-only variant; and a vCPU racing the toggle under every
 * schedule at preemption bound 2, with the zap mutated away caught by the oracle
 * (kvm.userfault_mapped).
 */
#include "mn-test-kvm.h"

#include "kvm/builtin-internal.h"

/* Slot 0 over the RAM, with @flags and, with USERFAULT, the world's bitmap. */
static int __set_ram(struct kworld *k, mn_gpa_t gpa, uint32_t flags)
{
	struct mn_userspace_memory_region2 r = {
		.slot = 0,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = k->size,
		.userspace_addr = k->ram,
		.userfault_bitmap = (flags & MN_MEM_USERFAULT) ? k->uf : NULL,
	};

	return mn_vm_set_user_memory_region2(k->vm, &r);
}

static void set_ram(struct kworld *k, uint32_t flags)
{
	assert_int_equal(__set_ram(k, 0, flags), 0);
}

/* Guest RAM of @size at gpa 0 in slot 0, every page touched by the VMM. */
static void ram_slot(struct kworld *k, uint64_t size, uint32_t flags)
{
	uint64_t off;

	k->size = size;
	k->ram = map_anon(&k->w, size, MN_PROT_READ | MN_PROT_WRITE);
	for (off = 0; off < size; off += PG)
		write_word(&k->w, k->ram + off, off);
	set_ram(k, flags);
}

static void mark(struct kworld *k, uint64_t page)
{
	k->uf[page / 64] |= 1ULL << (page % 64);
}

static void unmark(struct kworld *k, uint64_t page)
{
	k->uf[page / 64] &= ~(1ULL << (page % 64));
}

static int access(struct kworld *k, mn_gpa_t gpa, unsigned int perm, struct mn_vcpu_exit *e)
{
	uint64_t v = 0x77;

	*e = (struct mn_vcpu_exit){ 0 };
	return mn_vcpu_access(k->vcpu, 0, gpa, perm, &v, e);
}

/* The access to @gpa exits for userfault, reporting @gpa's page. */
static void assert_userfault(struct kworld *k, mn_gpa_t gpa, unsigned int perm)
{
	struct mn_vcpu_exit e;

	assert_int_equal(access(k, gpa, perm, &e), 1);
	assert_int_equal(e.reason, MN_EXIT_MEMORY_FAULT);
	assert_int_equal(e.error, -EFAULT);
	assert_int_equal(e.flags, MN_MEMORY_EXIT_FLAG_USERFAULT);
	assert_int_equal(e.gpa, gpa & ~(PG - 1));
}

static void assert_completes(struct kworld *k, mn_gpa_t gpa, unsigned int perm)
{
	struct mn_vcpu_exit e;

	assert_int_equal(access(k, gpa, perm, &e), 0);
}

static unsigned int spte_level(struct kworld *k, mn_gpa_t gpa)
{
	struct mn_pt_walk w;

	assert_int_equal(mn_pt_walk(mn_vm_get_pt(k->vm, 0), gpa / PG, &w), 0);
	return w.leaf.level;
}

static uint64_t gups(struct kworld *k)
{
	struct mn_mm_stats st = stats(&k->w);

	return st.gup_fast + st.gup_slow;
}

static const struct kvm_memory_slot *slot0(struct kworld *k)
{
	return kvm_id_to_memslot(k->vm->memslots[0], 0);
}

/* ---- validation ------------------------------------------------------------------------- */

static void test_userfault_validation_rows(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_userspace_memory_region2 r;
		uint64_t other[1] = { 0 };
		struct mn_vm_stats st;
		struct kworld k;
		uint64_t gen;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		k.size = 16 * PG;
		k.ram = map_anon(&k.w, k.size, MN_PROT_READ | MN_PROT_WRITE);
		r = (struct mn_userspace_memory_region2){ .slot = 0,
							  .flags = MN_MEM_USERFAULT,
							  .memory_size = k.size,
							  .userspace_addr = k.ram };
		/* The flag needs a bitmap (the series would take NULL and fail at fault time). */
		assert_int_equal(mn_vm_set_user_memory_region2(k.vm, &r), -EINVAL);
		assert_null(slot0(&k));
		/*
		 * Unknown flags. The series allows USERFAULT with guest_memfd: the flags pass,
		 * and binding fails on fd 0, which is not open (test-stories has the pair).
		 */
		assert_int_equal(__set_ram(&k, 0, 1U << 4), -EINVAL);
		assert_int_equal(__set_ram(&k, 0, MN_MEM_USERFAULT | MN_MEM_GUEST_MEMFD), -EBADF);
		assert_null(slot0(&k));
		/* With every other flag. */
		assert_int_equal(__set_ram(&k, 0, MN_MEM_USERFAULT | MN_MEM_READONLY), 0);
		assert_int_equal(__set_ram(&k, 0, MN_MEM_USERFAULT | MN_MEM_READONLY), 0);
		r.flags = 0;
		r.memory_size = 0;
		assert_int_equal(mn_vm_set_user_memory_region2(k.vm, &r), 0);
		assert_int_equal(__set_ram(&k, 0, MN_MEM_USERFAULT | MN_MEM_LOG_DIRTY_PAGES), 0);
		assert_ptr_equal(slot0(&k)->userfault_bitmap, k.uf);
		assert_non_null(slot0(&k)->dirty_bitmap);
		/* Only the flags decide a change: a new bitmap with the same flags is a no-op. */
		mn_vm_get_stats(k.vm, &st);
		gen = k.vm->memslots[0]->generation;
		r = (struct mn_userspace_memory_region2){
			.slot = 0,
			.flags = MN_MEM_USERFAULT | MN_MEM_LOG_DIRTY_PAGES,
			.memory_size = k.size,
			.userspace_addr = k.ram,
			.userfault_bitmap = other,
		};
		assert_int_equal(mn_vm_set_user_memory_region2(k.vm, &r), 0);
		assert_ptr_equal(slot0(&k)->userfault_bitmap, k.uf);
		assert_int_equal(k.vm->memslots[0]->generation, gen);
		/* Turning the flag on without a bitmap changes nothing. */
		set_ram(&k, 0);
		assert_null(slot0(&k)->userfault_bitmap);
		gen = k.vm->memslots[0]->generation;
		r.flags = MN_MEM_USERFAULT;
		r.userfault_bitmap = NULL;
		assert_int_equal(mn_vm_set_user_memory_region2(k.vm, &r), -EINVAL);
		assert_int_equal(slot0(&k)->flags, 0);
		assert_int_equal(k.vm->memslots[0]->generation, gen);
		kworld_fini(&k);
	}
}

/* ---- faults --------------------------------------------------------------------------------- */

static void test_marked_page_exits_before_gup(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		uint64_t g;

		kworld_init(&k, arches[i], MN_THP_ALWAYS);
		/*
		 *  page  0 1 2 ... 513 ...
		 *  slot  [ 4 MiB of THP RAM, USERFAULT        )
		 *  uf      x        x
		 */
		mark(&k, 1);
		mark(&k, 513);
		ram_slot(&k, 4 * MiB, MN_MEM_USERFAULT);
		g = gups(&k);
		assert_userfault(&k, 1 * PG + 8, MN_PTE_R);
		assert_userfault(&k, 1 * PG + 8, MN_PTE_W);
		assert_userfault(&k, 513 * PG, MN_PTE_X);
		assert_false(spte_present(&k, 1 * PG));
		assert_int_equal(gups(&k), g);
		/* Unmarked pages map, 4K only although the host maps a THP. */
		assert_completes(&k, 0, MN_PTE_W);
		assert_int_equal(spte_level(&k, 0), MN_PG_LEVEL_4K);
		assert_completes(&k, 514 * PG, MN_PTE_R);
		assert_int_equal(spte_level(&k, 514 * PG), MN_PG_LEVEL_4K);
		/* The VMM resolves page 1 and clears its bit: the guest gets through. */
		unmark(&k, 1);
		assert_completes(&k, 1 * PG + 8, MN_PTE_W);
		assert_int_equal(read_word(&k.w, k.ram + PG + 8), 0x77);
		kworld_fini(&k);
	}
}

/*
 * Where the check sits: x86 at the start of __kvm_mmu_faultin_pfn(), before the read-only
 * slot's write is turned into emulation; arm64 in user_mem_abort(), after
 * kvm_handle_guest_abort() has sent a write to a read-only slot to MMIO emulation.
 */
static void test_readonly_slot_checks_in_each_arch_order(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vcpu_exit e;
		struct kworld k;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		mark(&k, 2);
		ram_slot(&k, 16 * PG, MN_MEM_USERFAULT | MN_MEM_READONLY);
		if (arches[i] == MN_VM_X86) {
			assert_userfault(&k, 2 * PG, MN_PTE_W);
		} else {
			assert_int_equal(access(&k, 2 * PG, MN_PTE_W, &e), 1);
			assert_int_equal(e.reason, MN_EXIT_MMIO);
		}
		assert_userfault(&k, 2 * PG, MN_PTE_R);
		assert_int_equal(access(&k, 3 * PG, MN_PTE_W, &e), 1);
		assert_int_equal(e.reason, MN_EXIT_MMIO);
		assert_int_equal(e.flags, 0);
		assert_completes(&k, 3 * PG, MN_PTE_R);
		kworld_fini(&k);
	}
}

/* ---- turning the flag on and off -------------------------------------------------------- */

static unsigned int tlb_entries(struct kworld *k)
{
	return mn_tlb_nr_entries(k->vm->vcpus[0].tlb[0]);
}

static void test_turning_userfault_on_zaps_the_slot(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_hva_t h;
		mn_gpa_t g;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		/*
		 *  gpa    0 1 2 3 ...            1M
		 *  slot0  [ 16 pages       )     [ slot 1 )
		 *  guest  w w w w                w
		 *  then   page 1 marked, USERFAULT turned on for slot 0
		 */
		ram_slot(&k, 16 * PG, 0);
		h = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
		assert_int_equal(
			mn_vm_set_user_memory_region2(
				k.vm, &(struct mn_userspace_memory_region2){ .slot = 1,
									     .guest_phys_addr = MiB,
									     .memory_size = 16 * PG,
									     .userspace_addr = h }),
			0);
		for (g = 0; g < 4 * PG; g += PG)
			assert_completes(&k, g, MN_PTE_W);
		assert_completes(&k, MiB, MN_PTE_W);
		assert_int_equal(tlb_entries(&k), 5);
		mark(&k, 1);
		set_ram(&k, MN_MEM_USERFAULT);
		/* The slot's mappings and their TLB entries are gone. */
		for (g = 0; g < 4 * PG; g += PG)
			assert_false(spte_present(&k, g));
		/* x86 zaps everything (KVM_X86_QUIRK_SLOT_ZAP_ALL); arm64 the slot's range. */
		assert_int_equal(spte_present(&k, MiB), arches[i] == MN_VM_ARM64);
		assert_int_equal(tlb_entries(&k), arches[i] == MN_VM_ARM64 ? 1 : 0);
		assert_userfault(&k, 1 * PG, MN_PTE_R);
		assert_completes(&k, 2 * PG, MN_PTE_R);
		assert_int_equal(read_word(&k.w, k.ram + 2 * PG), 0x77);

		/* A bit set while the flag is on leaves a mapped page alone (the series' API). */
		mark(&k, 2);
		assert_completes(&k, 2 * PG, MN_PTE_W);
		assert_int_equal(mn_check_vm(k.vm), 0);
		/* ... until the flag is toggled off and on again. */
		set_ram(&k, 0);
		set_ram(&k, MN_MEM_USERFAULT);
		assert_false(spte_present(&k, 2 * PG));
		assert_userfault(&k, 2 * PG, MN_PTE_R);
		kworld_fini(&k);
	}
}

static void test_userfault_mutants_leave_marked_pages_mapped(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;

		/* The zap of the toggle, skipped: the mapped page stays accessible. */
		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram_slot(&k, 16 * PG, 0);
		assert_completes(&k, 1 * PG, MN_PTE_W);
		mark(&k, 1);
		assert_int_equal(mn_sim_skip_step(k.w.sim, "userfault.zap"), 0);
		set_ram(&k, MN_MEM_USERFAULT);
		mn_sim_clear_mutations(k.w.sim);
		assert_true(spte_present(&k, 1 * PG));
		assert_completes(&k, 1 * PG, MN_PTE_R);
		assert_true(mn_check_vm(k.vm) > 0);
		assert_true(nr_violations(&k.w, "kvm.userfault_mapped") > 0);
		kworld_destroy(&k);

		/* The fault's check, skipped: a marked page is mapped. */
		kworld_init(&k, arches[i], MN_THP_NEVER);
		mark(&k, 1);
		ram_slot(&k, 16 * PG, MN_MEM_USERFAULT);
		assert_int_equal(mn_sim_skip_step(k.w.sim, "fault.userfault_check"), 0);
		assert_completes(&k, 1 * PG, MN_PTE_R);
		mn_sim_clear_mutations(k.w.sim);
		assert_true(mn_check_vm(k.vm) > 0);
		assert_true(nr_violations(&k.w, "kvm.userfault_mapped") > 0);
		kworld_destroy(&k);
	}
}

static void test_turning_userfault_off(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;

		kworld_init(&k, arches[i], MN_THP_ALWAYS);
		ram_slot(&k, 4 * MiB, MN_MEM_USERFAULT);
		assert_completes(&k, 2 * MiB + 12 * KiB, MN_PTE_W);
		assert_int_equal(spte_level(&k, 2 * MiB + 12 * KiB), MN_PG_LEVEL_4K);
		set_ram(&k, 0);
		if (arches[i] == MN_VM_X86) {
			/* kvm_mmu_recover_huge_pages(): the block is rebuilt huge on demand. */
			assert_false(spte_present(&k, 2 * MiB + 12 * KiB));
			assert_completes(&k, 2 * MiB + 16 * KiB, MN_PTE_W);
			assert_int_equal(spte_level(&k, 2 * MiB), MN_PG_LEVEL_2M);
		} else {
			/* arm64 (since v2 of the series) leaves its mappings alone. */
			assert_int_equal(spte_level(&k, 2 * MiB + 12 * KiB), MN_PG_LEVEL_4K);
		}
		assert_int_equal(read_word(&k.w, k.ram + 2 * MiB + 12 * KiB), 0x77);
		kworld_fini(&k);
	}
	{
		/* x86, still logging: no recovery (logged slots are mapped 4K anyway). */
		struct kworld k;

		kworld_init(&k, MN_VM_X86, MN_THP_ALWAYS);
		ram_slot(&k, 4 * MiB, MN_MEM_USERFAULT | MN_MEM_LOG_DIRTY_PAGES);
		assert_completes(&k, 2 * MiB + 12 * KiB, MN_PTE_W);
		set_ram(&k, MN_MEM_LOG_DIRTY_PAGES);
		assert_int_equal(spte_level(&k, 2 * MiB + 12 * KiB), MN_PG_LEVEL_4K);
		kworld_fini(&k);
	}
}

static void test_create_only_variant(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vm_config cfg = { .arch = arches[i],
					    .variant = MN_VARIANT_USERFAULT_CREATE_ONLY };
		struct kworld k;

		kworld_init_cfg(&k, &cfg, MN_THP_NEVER);
		ram_slot(&k, 16 * PG, 0);
		assert_completes(&k, 1 * PG, MN_PTE_W);
		mark(&k, 1);
		/* Neither a FLAGS_ONLY nor a MOVE may turn it on: nothing changes, no zap. */
		assert_int_equal(__set_ram(&k, 0, MN_MEM_USERFAULT), -EINVAL);
		assert_int_equal(__set_ram(&k, MiB, MN_MEM_USERFAULT), -EINVAL);
		assert_int_equal(slot0(&k)->flags, 0);
		assert_true(spte_present(&k, 1 * PG));
		assert_completes(&k, 1 * PG, MN_PTE_R);
		/* At creation it may. */
		assert_int_equal(
			mn_vm_set_user_memory_region2(k.vm,
						      &(struct mn_userspace_memory_region2){
							      .slot = 0, .userspace_addr = k.ram }),
			0);
		set_ram(&k, MN_MEM_USERFAULT);
		assert_userfault(&k, 1 * PG, MN_PTE_R);
		/* Clearing it is allowed, setting it again is not. */
		set_ram(&k, 0);
		assert_completes(&k, 1 * PG, MN_PTE_R);
		assert_int_equal(__set_ram(&k, 0, MN_MEM_USERFAULT), -EINVAL);
		kworld_fini(&k);
	}
}

/* ---- toggle vs fault, under every schedule --------------------------------------------------- */

static void explore_userfault(enum mn_vm_arch arch, const char *skip, const char *caught)
{
	explore_builtin("userfault-toggle-vs-fault", arch, skip, caught);
}

static void test_toggle_vs_fault_under_every_schedule(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		explore_userfault(arches[i], NULL, NULL);
		/* The guard: the page mapped before the toggle stays mapped. */
		explore_userfault(arches[i], "userfault.zap", "kvm.userfault_mapped");
	}
}

/* Mutations of the scenario's steps and the invariant that catches each first. */
static const struct {
	const char *step;
	const char *caught;
} mutants[] = {
	/*
	 * A fault after the toggle maps the marked page: the first schedule has the vCPU done
	 * before the toggle, so the check's own access after it is the first to notice.
	 */
	{ "fault.userfault_check", "builtin.userfault_missed" },
	/*
	 * A fault that looked the slot up before the swap (no USERFAULT) is not waited for:
	 * it installs page 3 after the zap.
	 */
	{ "memslot.synchronize_srcu", "kvm.userfault_mapped" },
};

static void test_toggle_mutants_are_caught(void **state)
{
	unsigned int i, m;

	(void)state;
	for (m = 0; m < ARRAY_SIZE(mutants); m++)
		for (i = 0; i < 2; i++)
			explore_userfault(arches[i], mutants[m].step, mutants[m].caught);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_userfault_validation_rows),
		cmocka_unit_test(test_marked_page_exits_before_gup),
		cmocka_unit_test(test_readonly_slot_checks_in_each_arch_order),
		cmocka_unit_test(test_turning_userfault_on_zaps_the_slot),
		cmocka_unit_test(test_userfault_mutants_leave_marked_pages_mapped),
		cmocka_unit_test(test_turning_userfault_off),
		cmocka_unit_test(test_create_only_variant),
		cmocka_unit_test(test_toggle_vs_fault_under_every_schedule),
		cmocka_unit_test(test_toggle_mutants_are_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
