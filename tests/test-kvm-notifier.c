// SPDX-License-Identifier: MIT
/*
 * test-kvm-notifier.c - KVM's side of the mmu_notifier (lib/kvm/mmu_notifier.c, mmu.c) and
 * the protocol oracle (lib/check): the hva walker finds slots in both address spaces and
 * zaps their gfn ranges, the invalidation bookkeeping (seq, in_progress, range, mn_count),
 * aging, release, and the oracle's reports on hand-made broken states. Secondary entries
 * are installed white-box with kvm_mmu_map(), independently of the fault path.
 */
#include "mn-test-host.h"
#include "kvm/kvm-internal.h"

#include <limits.h>

struct kworld {
	struct world w;
	struct mn_vm *vm;
	mn_hva_t ram; /* 4 MiB of guest RAM in the VMM */
};

/*
 *  gpa   0        1M       2M       3M       4M
 *  slot  [ slot 0: gpa 0, 4 MiB, hva ram                 )
 *  (x86) [ slot 1 in address space 1: the same hva range  )
 */
static void kworld_init_cfg(struct kworld *k, const struct mn_vm_config *cfg)
{
	enum mn_vm_arch arch = cfg->arch;
	struct mn_userspace_memory_region2 r = { .slot = 0, .memory_size = 4 * MiB };

	world_init(&k->w, MN_THP_NEVER);
	k->ram = map_anon(&k->w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	assert_int_equal(mn_vm_create(k->w.mm, cfg, &k->vm), 0);
	r.userspace_addr = k->ram;
	assert_int_equal(mn_vm_set_user_memory_region2(k->vm, &r), 0);
	if (arch == MN_VM_X86) {
		r.slot = 1U << 16 | 1;
		assert_int_equal(mn_vm_set_user_memory_region2(k->vm, &r), 0);
	}
	k->w.rec.nr = 0;
}

static void kworld_init(struct kworld *k, enum mn_vm_arch arch)
{
	struct mn_vm_config cfg = { .arch = arch };

	kworld_init_cfg(k, &cfg);
}

static void kworld_fini(struct kworld *k)
{
	assert_int_equal(mn_check_vm_quiescent(k->vm), 0);
	mn_vm_destroy(k->vm);
	world_fini(&k->w);
}

/* Fault the host page at @hva in and map gfn @gfn to it white-box, writable. */
static struct mn_frame_ref map_gfn(struct kworld *k, unsigned int as, mn_gfn_t gfn, mn_hva_t hva)
{
	struct mn_frame_ref ref;

	write_word(&k->w, hva, gfn + 1);
	ref = ref_at(&k->w, hva);
	assert_int_equal(
		kvm_mmu_map(k->vm, as, gfn, ref, MN_PG_LEVEL_4K, MN_PTE_R | MN_PTE_W | MN_PTE_X),
		0);
	return ref;
}

static bool spte_present(struct kworld *k, unsigned int as, mn_gfn_t gfn)
{
	struct mn_pt_walk w;

	return !mn_pt_walk(mn_vm_get_pt(k->vm, as), gfn, &w);
}

static struct mn_vm_invalidate_state inval(struct kworld *k)
{
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(k->vm, &st);
	return st;
}

static void test_munmap_zaps_the_slot_range_in_every_address_space(void **state)
{
	/* x86; arm64 with range TLBIs and FWB (the default); arm64 without either. */
	static const struct mn_vm_config cfgs[] = {
		{ .arch = MN_VM_X86 },
		{ .arch = MN_VM_ARM64 },
		{ .arch = MN_VM_ARM64, .arm64_missing = MN_ARM64_NO_TLBIRANGE },
		{ .arch = MN_VM_ARM64, .arm64_missing = MN_ARM64_NO_S2FWB },
	};
	size_t c;

	(void)state;
	for (c = 0; c < ARRAY_SIZE(cfgs); c++) {
		enum mn_vm_arch arch = cfgs[c].arch;
		/* stage2_unmap_defer_tlb_flush() wants range TLBIs and FWB. */
		bool per_leaf = cfgs[c].arm64_missing & MN_ARM64_MISSING_ALL;
		unsigned int nr_as = arch == MN_VM_X86 ? 2 : 1, as;
		struct mn_pt_stats ps;
		struct mn_vm_stats st;
		struct kworld k;

		kworld_init_cfg(&k, &cfgs[c]);
		/*
		 *  gfn    0 1 2 3
		 *  spte   x x x x        (both address spaces on x86)
		 *  munmap   ***          <- hva of gfns [1, 3)
		 */
		for (as = 0; as < nr_as; as++) {
			unsigned int g;

			for (g = 0; g < 4; g++)
				map_gfn(&k, as, g, k.ram + g * PG);
		}
		assert_int_equal(inval(&k).seq, 0);
		assert_int_equal(mn_check_vm(k.vm), 0);
		assert_int_equal(mn_mm_munmap(k.w.mm, k.ram + PG, 2 * PG), 0);
		for (as = 0; as < nr_as; as++) {
			assert_true(spte_present(&k, as, 0));
			assert_false(spte_present(&k, as, 1));
			assert_false(spte_present(&k, as, 2));
			assert_true(spte_present(&k, as, 3));
		}
		/* One start/end pair that found slots: seq moved once, all balanced. */
		assert_int_equal(inval(&k).seq, 1);
		assert_int_equal(inval(&k).in_progress, 0);
		assert_int_equal(inval(&k).mn_count, 0);
		assert_int_equal(inval(&k).range_start, 1);
		assert_int_equal(inval(&k).range_end, 3);
		mn_vm_get_stats(k.vm, &st);
		assert_int_equal(st.zapped, 2 * nr_as);
		/*
		 * x86 flushes the VM once under mmu_lock. arm64 unmaps with a TLBI per leaf
		 * without range TLBIs, else with one ranged TLBI over the walked range at the
		 * end (stage2_unmap_defer_tlb_flush()).
		 */
		assert_int_equal(st.flush_all, arch == MN_VM_X86 ? 1 : 0);
		mn_pt_get_stats(mn_vm_get_pt(k.vm, 0), &ps);
		if (arch == MN_VM_ARM64) {
			assert_int_equal(ps.flush_ipa, per_leaf ? 2 : 0);
			assert_int_equal(ps.flush_range, per_leaf ? 0 : 1);
			assert_int_equal(st.flush_range, per_leaf ? 2 : 1);
		}
		/* The hole is gone from the host: remap it so the slot is backed again. */
		assert_int_equal(mn_mm_mmap(k.w.mm, k.ram + PG, 2 * PG,
					    MN_PROT_READ | MN_PROT_WRITE,
					    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL,
					    0, &k.ram),
				 0);
		k.ram -= PG;
		kworld_fini(&k);
	}
}

static void test_invalidation_outside_slots_counts_but_does_not_bump(void **state)
{
	struct kworld k;
	mn_hva_t other;

	(void)state;
	kworld_init(&k, MN_VM_X86);
	other = map_anon(&k.w, PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&k.w, other, 1);
	assert_int_equal(mn_mm_munmap(k.w.mm, other, PG), 0);
	/* mn_count went up and down; no slot was found, so no begin, no seq bump. */
	assert_int_equal(inval(&k).seq, 0);
	assert_int_equal(inval(&k).mn_count, 0);
	assert_int_equal(inval(&k).range_start, MN_INVALID_GFN);
	kworld_fini(&k);
}

static void test_aging_reports_secondary_young_without_bookkeeping(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct kworld k;

		kworld_init(&k, arch);
		map_gfn(&k, 0, 5, k.ram + 5 * PG);
		/* The host's own bit is cleared first, so only KVM's answer remains. */
		assert_int_equal(mn_mm_age(k.w.mm, k.ram + 5 * PG, PG, MN_AGE_CLEAR_YOUNG), 1);
		assert_int_equal(mn_mm_age(k.w.mm, k.ram + 5 * PG, PG, MN_AGE_TEST_YOUNG), 0);
		assert_int_equal(mn_mm_age(k.w.mm, k.ram, 4 * MiB, MN_AGE_CLEAR_FLUSH_YOUNG), 0);
		assert_true(spte_present(&k, 0, 5)); /* aging never unmaps */
		assert_int_equal(inval(&k).seq, 0);
		kworld_fini(&k);
	}
}

static void test_exit_releases_and_zaps_everything(void **state)
{
	struct kworld k;

	(void)state;
	kworld_init(&k, MN_VM_X86);
	map_gfn(&k, 0, 7, k.ram + 7 * PG);
	map_gfn(&k, 1, 7, k.ram + 7 * PG);
	mn_mm_exit(k.w.mm);
	assert_false(spte_present(&k, 0, 7));
	assert_false(spte_present(&k, 1, 7));
	assert_int_equal(inval(&k).seq, 0); /* release is no invalidation */
	mn_vm_destroy(k.vm);
	world_fini(&k.w);
}

static void test_oracle_reports_broken_states(void **state)
{
	struct mn_frame_ref other;
	struct kworld k;

	(void)state;
	kworld_init(&k, MN_VM_X86);
	/* gfn 3 mapped to the frame behind hva ram + 4 pages: not what the host maps there. */
	write_word(&k.w, k.ram + 4 * PG, 1);
	other = ref_at(&k.w, k.ram + 4 * PG);
	write_word(&k.w, k.ram + 3 * PG, 1);
	assert_int_equal(kvm_mmu_map(k.vm, 0, 3, other, MN_PG_LEVEL_4K, MN_PTE_R), 0);
	assert_int_equal(mn_check_vm(k.vm), 1);
	assert_int_equal(nr_violations(&k.w, "kvm.spte_stale_host"), 1);
	mn_pt_zap(mn_vm_get_pt(k.vm, 0), NULL, (struct mn_gfn_range){ 3, 4 }, 0,
		  &(struct mn_pt_result){ 0 });

	/* Writable over a read-only host entry. */
	assert_int_equal(mn_mm_mprotect(k.w.mm, k.ram + 3 * PG, PG, MN_PROT_READ), 0);
	assert_int_equal(kvm_mmu_map(k.vm, 0, 3, ref_at(&k.w, k.ram + 3 * PG), MN_PG_LEVEL_4K,
				     MN_PTE_R | MN_PTE_W),
			 0);
	assert_int_equal(mn_check_vm(k.vm), 1);
	assert_int_equal(nr_violations(&k.w, "kvm.spte_writable_host_readonly"), 1);
	mn_pt_zap(mn_vm_get_pt(k.vm, 0), NULL, (struct mn_gfn_range){ 3, 4 }, 0,
		  &(struct mn_pt_result){ 0 });

	/* Beyond every slot. */
	assert_int_equal(kvm_mmu_map(k.vm, 0, 0x100000, other, MN_PG_LEVEL_4K, MN_PTE_R), 0);
	assert_int_equal(mn_check_vm(k.vm), 1);
	assert_int_equal(nr_violations(&k.w, "kvm.spte_without_slot"), 1);
	mn_pt_zap(mn_vm_get_pt(k.vm, 0), NULL, (struct mn_gfn_range){ 0x100000, 0x100001 }, 0,
		  &(struct mn_pt_result){ 0 });

	/* A stale TLB entry: cached, then the frame goes behind KVM's back. */
	{
		struct mn_vcpu_exit exit;
		uint64_t v;

		(void)exit;
		(void)v;
		assert_int_equal(kvm_mmu_map(k.vm, 0, 4, other, MN_PG_LEVEL_4K, MN_PTE_R), 0);
		assert_int_equal(mn_tlb_access(k.vm->vcpus[0].tlb[0], mn_vm_get_pt(k.vm, 0),
					       k.w.phys, 4, MN_PTE_R, "test", &other.pfn),
				 0);
		mn_pt_zap(mn_vm_get_pt(k.vm, 0), NULL, (struct mn_gfn_range){ 4, 5 }, 0,
			  &(struct mn_pt_result){ 0 });
		assert_int_equal(mn_mm_madvise(k.w.mm, k.ram + 4 * PG, PG, MN_MADV_DONTNEED), 0);
		/* Both the freed frame and the disagreement with the host are reported. */
		assert_int_equal(mn_check_vm(k.vm), 2);
		assert_int_equal(nr_violations(&k.w, "frame.use_after_free"), 1);
		assert_int_equal(nr_violations(&k.w, "kvm.spte_stale_host"),
				 2); /* one from the first case */
	}
	assert_int_equal(mn_mm_mprotect(k.w.mm, k.ram + 3 * PG, PG, MN_PROT_READ | MN_PROT_WRITE),
			 0);
	mn_vm_destroy(k.vm);
	world_destroy(&k.w);
}

/*
 * Stage-2 with range TLBIs defers the TLBI of the leaves an unmap clears to one ranged TLBI
 * at the end of the walk (the named step zap.tlbi_range). Skipped, a vCPU keeps the
 * translation of a page the host then frees: the oracle reports the stale TLB entry and
 * the freed frame. Without range TLBIs the step is never passed (a TLBI per leaf), so the
 * same mutation changes nothing; and with the step the munmap leaves nothing behind.
 *
 *  gfn    0 1 2 3
 *  spte   x x x x     (vCPU 0's TLB caches gfn 1 and 2)
 *  munmap   ***       <- hva of gfns [1, 3); the host frees both pages
 */
static void deferred_tlbi(unsigned int missing, bool skip, unsigned int expect_violations)
{
	struct mn_vm_config cfg = { .arch = MN_VM_ARM64, .arm64_missing = missing };
	struct mn_frame_ref ref[4];
	struct mn_vm_stats st;
	struct kworld k;
	uint64_t passed = 0;
	mn_gfn_t g;
	mn_pfn_t pfn;
	size_t i;

	kworld_init_cfg(&k, &cfg);
	if (skip)
		assert_int_equal(mn_sim_skip_step(k.w.sim, "zap.tlbi_range"), 0);
	for (g = 0; g < 4; g++)
		ref[g] = map_gfn(&k, 0, g, k.ram + g * PG);
	for (g = 1; g < 3; g++) {
		assert_int_equal(mn_tlb_access(k.vm->vcpus[0].tlb[0], mn_vm_get_pt(k.vm, 0),
					       k.w.phys, g, MN_PTE_R, "guest.read", &pfn),
				 0);
		assert_int_equal(pfn, ref[g].pfn);
	}
	assert_int_equal(mn_check_vm(k.vm), 0);
	assert_int_equal(mn_mm_munmap(k.w.mm, k.ram + PG, 2 * PG), 0);
	assert_false(spte_present(&k, 0, 1));
	assert_false(spte_present(&k, 0, 2));
	assert_true(spte_present(&k, 0, 3));
	for (i = 0; i < mn_sim_nr_steps(k.w.sim); i++)
		if (!strcmp(mn_sim_step_id(k.w.sim, i), "zap.tlbi_range"))
			passed = mn_sim_step_count(k.w.sim, i);
	/* Passages are recorded once the world runs the slow path, i.e. with a mutation. */
	if (skip)
		assert_int_equal(passed, missing & MN_ARM64_NO_TLBIRANGE ? 0 : 1);
	mn_vm_get_stats(k.vm, &st);
	assert_int_equal(st.zapped, 2);
	/* Two stale translations, each of a freed frame the host no longer maps. */
	assert_int_equal(mn_check_vm(k.vm), expect_violations);
	assert_int_equal(nr_violations(&k.w, "frame.use_after_free"), expect_violations / 2);
	assert_int_equal(nr_violations(&k.w, "kvm.spte_stale_host"), expect_violations / 2);
	assert_int_equal(mn_tlb_nr_entries(k.vm->vcpus[0].tlb[0]), expect_violations ? 2 : 0);
	mn_vm_destroy(k.vm);
	world_destroy(&k.w);
}

static void test_stage2_unmap_defers_its_tlbi_and_the_oracle_sees_it_skipped(void **state)
{
	(void)state;
	deferred_tlbi(0, false, 0);
	deferred_tlbi(MN_ARM64_NO_TLBIRANGE, true, 0); /* per-leaf TLBIs: nothing to skip */
	deferred_tlbi(0, true, 4);
}

static void test_vm_create_rejects_bad_config_and_exited_mm(void **state)
{
	static const struct mn_vm_config bad[] = {
		{ .arch = (enum mn_vm_arch)5 },
		{ .arch = MN_VM_X86, .nr_vcpus = MN_VM_MAX_VCPUS + 1 },
		{ .arch = MN_VM_X86, .ept_levels = 3 },
		{ .arch = MN_VM_ARM64, .ipa_bits = 31 },
		{ .arch = MN_VM_ARM64, .ipa_bits = 49 },
		{ .arch = MN_VM_X86, .variant = 1U << 31 },
	};
	struct mn_vm_config ok = { .arch = MN_VM_ARM64, .nr_vcpus = MN_VM_MAX_VCPUS };
	struct mn_vm *vm;
	struct world w;
	size_t i;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mn_vm_create(w.mm, &bad[i], &vm), -EINVAL);
	assert_int_equal(mn_vm_create(w.mm, &ok, &vm), 0);
	assert_non_null(mn_vm_get_vcpu(vm, MN_VM_MAX_VCPUS - 1));
	assert_null(mn_vm_get_vcpu(vm, MN_VM_MAX_VCPUS));
	assert_null(mn_vm_get_pt(vm, 1)); /* arm64: one address space */
	mn_vm_destroy(vm);
	mn_mm_exit(w.mm);
	assert_int_equal(mn_vm_create(w.mm, NULL, &vm), -ESRCH);
	world_fini(&w);
}

/* ---- explored: two invalidations overlap ------------------------------------------------ */

struct overlap {
	struct kworld k;
	int ret[2];
};

static void munmap_low(struct mn_sim *sim, void *arg)
{
	struct overlap *o = arg;

	(void)sim;
	o->ret[0] = mn_mm_munmap(o->k.w.mm, o->k.ram, 2 * PG);
}

static void dontneed_high(struct mn_sim *sim, void *arg)
{
	struct overlap *o = arg;

	(void)sim;
	o->ret[1] = mn_mm_madvise(o->k.w.mm, o->k.ram + PG, 2 * PG, MN_MADV_DONTNEED);
}

static int overlap_setup(struct mn_sim *sim, void *arg)
{
	struct overlap *o = arg;
	struct mn_userspace_memory_region2 r = { .slot = 0, .memory_size = 4 * PG };
	struct mn_vm_config cfg = { .arch = MN_VM_ARM64 };
	unsigned int g;

	if (world_attach(&o->k.w, sim, MN_THP_NEVER) ||
	    mn_mm_mmap(o->k.w.mm, 0, 4 * PG, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &o->k.ram) ||
	    mn_vm_create(o->k.w.mm, &cfg, &o->k.vm))
		return -ENOMEM;
	r.userspace_addr = o->k.ram;
	if (mn_vm_set_user_memory_region2(o->k.vm, &r))
		return -EINVAL;
	for (g = 0; g < 4; g++) {
		uint64_t v = g;
		struct mn_pt_walk w;

		if (mn_mm_access(o->k.w.mm, o->k.ram + g * PG, MN_PTE_W, &v, NULL))
			return -EFAULT;
		mn_pt_walk(mn_mm_get_pt(o->k.w.mm), (o->k.ram + g * PG) / PG, &w);
		if (kvm_mmu_map(o->k.vm, 0, g, (struct mn_frame_ref){ w.pfn, w.gen },
				MN_PG_LEVEL_4K, MN_PTE_R | MN_PTE_W))
			return -EINVAL;
	}
	mn_check_enable(o->k.vm);
	mn_sim_spawn(sim, "munmap", munmap_low, o, NULL);
	mn_sim_spawn(sim, "madvise", dontneed_high, o, NULL);
	return 0;
}

static void overlap_check(struct mn_sim *sim, void *arg)
{
	struct overlap *o = arg;
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(o->k.vm, &st);
	/* Both pairs found the slot: seq moved twice, whatever the interleaving. */
	if (st.seq != 2 || o->ret[0])
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.seq", "seq %llu, munmap %d",
			       (unsigned long long)st.seq, o->ret[0]);
	mn_check_vm_quiescent(o->k.vm);
	mn_vm_destroy(o->k.vm);
	mn_mm_destroy(o->k.w.mm);
}

static void test_overlapping_invalidations_keep_the_books(void **state)
{
	static struct overlap o;
	struct mn_scenario sc = { "munmap-vs-dontneed (arm64)", overlap_setup, overlap_check, NULL,
				  &o };

	(void)state;
	explore_expect(&sc, 2, 50, NULL, NULL);
	/* Without the zap at start the host unmaps what KVM still maps: the oracle says so. */
	explore_expect(&sc, 2, 0, "invalidate_start.zap", "kvm.spte_stale_host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_munmap_zaps_the_slot_range_in_every_address_space),
		cmocka_unit_test(test_invalidation_outside_slots_counts_but_does_not_bump),
		cmocka_unit_test(test_aging_reports_secondary_young_without_bookkeeping),
		cmocka_unit_test(test_exit_releases_and_zaps_everything),
		cmocka_unit_test(test_oracle_reports_broken_states),
		cmocka_unit_test(test_stage2_unmap_defers_its_tlbi_and_the_oracle_sees_it_skipped),
		cmocka_unit_test(test_vm_create_rejects_bad_config_and_exited_mm),
		cmocka_unit_test(test_overlapping_invalidations_keep_the_books),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
