// SPDX-License-Identifier: MIT
/*
 * test-kvm-coalesce.c - a fault at a huge level replaces the table it finds there
 * (lib/kvm/mmu.c kvm_mmu_map(), modelled on arm64 stage2_map_walk_table_pre() and x86
 * tdp_mmu_map_handle_target_level()): the small leaves and their cached translations go,
 * the table page is freed, the oracle stays quiet, on a single thread, after dirty logging
 * is turned off, and against a concurrent MADV_DONTNEED under every schedule.
 */
#include "mn-test-kvm.h"

#include "kvm/kvm-internal.h"

#define BLOCK (2 * MiB)

/* The secondary leaf for @gpa, which must be present. */
static struct mn_pt_walk spte_at(struct kworld *k, mn_gpa_t gpa)
{
	struct mn_pt_walk w;

	assert_int_equal(mn_pt_walk(mn_vm_get_pt(k->vm, 0), gpa / PG, &w), 0);
	return w;
}

static struct mn_pt_stats pt_stats(struct kworld *k)
{
	struct mn_pt_stats st;

	mn_pt_get_stats(mn_vm_get_pt(k->vm, 0), &st);
	return st;
}

/* Whether vCPU @v's TLB caches a translation of @gpa at @level. */
static bool tlb_caches(struct mn_vm *vm, unsigned int v, mn_gpa_t gpa, unsigned int level)
{
	struct mn_tlb *tlb = vm->vcpus[v].tlb[0];
	struct mn_tlb_entry e;
	mn_gfn_t gfn = gpa / PG;
	unsigned int i;
	int r;

	for (i = 0; (r = mn_tlb_get_entry(tlb, i, &e)) != -ERANGE; i++)
		if (!r && e.level == level && gfn >= e.gfn && gfn - e.gfn < mn_level_pages(level))
			return true;
	return false;
}

/* A 4 KiB leaf for @gpa, installed white-box, mapping the page the host maps at @hva. */
static void map_4k(struct kworld *k, mn_gpa_t gpa, mn_hva_t hva)
{
	assert_int_equal(kvm_mmu_map(k->vm, 0, gpa / PG, ref_at(&k->w, hva), MN_PG_LEVEL_4K,
				     MN_PTE_R | MN_PTE_W),
			 0);
}

/*
 * A fault that may map 2 MiB where a table of 4 KiB leaves sits replaces the table.
 *
 *  gpa   0          2M                               4M
 *  slot  [ slot 0: THP RAM, host maps 2M blocks          )
 *  4K               a b c        <- leaves, a and c cached by the vCPU
 *  fault                    x    <- read of 2M + 256 pages: one 2M leaf over all of it
 */
static void test_huge_fault_replaces_a_table_of_small_leaves(void **state)
{
	unsigned int i, k;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_pt_stats before, after;
		struct mn_vm_stats vb, va;
		struct kworld kw;
		mn_hva_t ram;

		kworld_init(&kw, arches[i], MN_THP_ALWAYS);
		ram = map_anon(&kw.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
		write_word(&kw.w, ram + BLOCK + 256 * PG, 7);
		write_word(&kw.w, ram + BLOCK + PG, 5);
		assert_int_equal(leaf_at(&kw.w, ram + BLOCK).leaf.level, MN_PG_LEVEL_2M);
		set_slot(&kw, 0, 0, 4 * MiB, ram, 0);
		for (k = 0; k < 3; k++)
			map_4k(&kw, BLOCK + k * PG, ram + BLOCK + k * PG);
		assert_int_equal(guest_read(&kw, BLOCK + PG), 5);
		assert_int_equal(guest_read(&kw, BLOCK + 2 * PG), 0);
		assert_true(tlb_caches(kw.vm, 0, BLOCK + PG, MN_PG_LEVEL_4K));
		assert_true(tlb_caches(kw.vm, 0, BLOCK + 2 * PG, MN_PG_LEVEL_4K));
		before = pt_stats(&kw);
		vb = vm_stats(&kw);

		assert_int_equal(guest_read(&kw, BLOCK + 256 * PG), 7);

		after = pt_stats(&kw);
		va = vm_stats(&kw);
		assert_int_equal(va.faults, vb.faults + 1);
		/* One 2M leaf maps what the host maps; the old leaves went, with their table. */
		assert_int_equal(spte_at(&kw, BLOCK + PG).leaf.level, MN_PG_LEVEL_2M);
		assert_int_equal(spte_at(&kw, BLOCK + PG).pfn,
				 leaf_at(&kw.w, ram + BLOCK + PG).pfn);
		assert_int_equal(after.leaves, before.leaves - 3 + 1);
		assert_int_equal(after.tables, before.tables - 1);
		assert_int_equal(after.tables_freed, before.tables_freed + 1);
		assert_int_equal(va.zapped, vb.zapped + 3);
		/* The cached 4K translations were invalidated, by one ranged flush. */
		assert_false(tlb_caches(kw.vm, 0, BLOCK + PG, MN_PG_LEVEL_4K));
		assert_false(tlb_caches(kw.vm, 0, BLOCK + 2 * PG, MN_PG_LEVEL_4K));
		assert_int_equal(va.flush_range + va.flush_all, vb.flush_range + vb.flush_all + 1);
		assert_int_equal(mn_check_vm(kw.vm), 0);
		assert_int_equal(mn_pt_check_frames(mn_vm_get_pt(kw.vm, 0), kw.w.phys, "spte"), 0);
		/* The guest reads through the block what the VMM reads. */
		write_word(&kw.w, ram + BLOCK + 2 * PG, 9);
		assert_int_equal(guest_read(&kw, BLOCK + 2 * PG), 9);
		kworld_fini(&kw);
	}
}

/*
 * An empty table, left by an invalidation that zapped the leaves (zaps of the MMU
 * notifier keep tables), is replaced as well: nothing zapped, the table freed.
 *
 *  gpa   2M                     4M
 *  4K    a                      <- mapped, then MADV_DONTNEED'd by the VMM
 *  host  [ THP, faulted back on the next VMM write ]
 *  fault     x                  <- 2M leaf
 */
static void test_huge_fault_replaces_an_empty_table(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_pt_stats before, after;
		struct mn_vm_stats vb, va;
		struct kworld kw;
		mn_hva_t ram;

		kworld_init(&kw, arches[i], MN_THP_ALWAYS);
		ram = map_anon(&kw.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
		write_word(&kw.w, ram + BLOCK, 1);
		set_slot(&kw, 0, 0, 4 * MiB, ram, 0);
		map_4k(&kw, BLOCK, ram + BLOCK);
		assert_int_equal(mn_mm_madvise(kw.w.mm, ram + BLOCK, BLOCK, MN_MADV_DONTNEED), 0);
		assert_false(spte_present(&kw, BLOCK));
		write_word(&kw.w, ram + BLOCK + 8 * PG, 3);
		assert_int_equal(leaf_at(&kw.w, ram + BLOCK).leaf.level, MN_PG_LEVEL_2M);
		before = pt_stats(&kw);
		vb = vm_stats(&kw);

		assert_int_equal(guest_read(&kw, BLOCK + 8 * PG), 3);

		after = pt_stats(&kw);
		va = vm_stats(&kw);
		assert_int_equal(spte_at(&kw, BLOCK).leaf.level, MN_PG_LEVEL_2M);
		assert_int_equal(after.tables, before.tables - 1);
		assert_int_equal(after.leaves, before.leaves + 1);
		assert_int_equal(va.zapped, vb.zapped);
		assert_int_equal(mn_check_vm(kw.vm), 0);
		kworld_fini(&kw);
	}
}

/*
 * kvm_page_table_test's KVM_ADJUST_MAPPINGS in small: logging maps 4K pages, and once it
 * is off a read of a page left unmapped maps its block at 2 MiB again: x86 because
 * kvm_mmu_recover_huge_pages() zapped the small leaves, arm64 because the fault replaces
 * the table (which, on arm64, the write fault had linked in place of the write-protected
 * block). The old 4K translations are gone from the TLB either way.
 *
 *  gpa   2M                                    4M
 *  on    [ 2M block, write-protected by logging ]
 *  write w                                       <- 4K, writable, dirty
 *  read                     r                    <- 4K, read-only (arm64), writable (x86)
 *  off   LOG_DIRTY_PAGES cleared
 *  read      x                                   <- 2M leaf
 */
static void test_blocks_come_back_after_dirty_logging(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld kw;
		uint64_t v = 4;
		mn_hva_t ram;

		kworld_init(&kw, arches[i], MN_THP_ALWAYS);
		ram = map_anon(&kw.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
		write_word(&kw.w, ram + BLOCK + 8 * PG, 8);
		write_word(&kw.w, ram + BLOCK + 256 * PG, 6);
		set_slot(&kw, 0, 0, 4 * MiB, ram, 0);
		assert_int_equal(guest_read(&kw, BLOCK), 0);
		assert_int_equal(spte_at(&kw, BLOCK).leaf.level, MN_PG_LEVEL_2M);
		set_slot(&kw, 0, 0, 4 * MiB, ram, MN_MEM_LOG_DIRTY_PAGES);
		assert_int_equal(mn_vcpu_access(kw.vcpu, 0, BLOCK, MN_PTE_W, &v, NULL), 0);
		assert_int_equal(guest_read(&kw, BLOCK + 256 * PG), 6);
		assert_int_equal(spte_at(&kw, BLOCK).leaf.level, MN_PG_LEVEL_4K);
		assert_int_equal(spte_at(&kw, BLOCK + 256 * PG).leaf.level, MN_PG_LEVEL_4K);
		assert_true(tlb_caches(kw.vm, 0, BLOCK, MN_PG_LEVEL_4K));
		if (arches[i] == MN_VM_ARM64)
			assert_false(spte_present(&kw, BLOCK + 8 * PG));

		set_slot(&kw, 0, 0, 4 * MiB, ram, 0);
		assert_int_equal(guest_read(&kw, BLOCK + 8 * PG), 8);

		assert_int_equal(spte_at(&kw, BLOCK).leaf.level, MN_PG_LEVEL_2M);
		assert_int_equal(spte_at(&kw, BLOCK + 256 * PG).leaf.level, MN_PG_LEVEL_2M);
		assert_false(tlb_caches(kw.vm, 0, BLOCK, MN_PG_LEVEL_4K));
		assert_false(tlb_caches(kw.vm, 0, BLOCK + 256 * PG, MN_PG_LEVEL_4K));
		assert_int_equal(guest_read(&kw, BLOCK), 4);
		assert_int_equal(pt_stats(&kw).leaves, 1);
		assert_int_equal(mn_check_vm(kw.vm), 0);
		kworld_fini(&kw);
	}
}

/* ---- under every schedule ------------------------------------------------------------------ */

/*
 * vCPU 0 faults a 2M block over a table of 4K leaves (one of which vCPU 1 has cached)
 * while the VMM drops a page of the block with MADV_DONTNEED, which splits the host's
 * THP. In checked mode, after every step: no secondary or TLB entry outlives its frame,
 * none is larger or more permissive than the host's mapping; at the end both vCPUs and
 * the VMM read the same words.
 *
 *  gpa   2M                                   4M
 *  4K    a b c                  <- leaves; vCPU 1 caches b
 *  vcpu0                x       <- read, 2M fault over the table
 *  vmm       [d]                <- MADV_DONTNEED of one page
 */
struct race {
	struct world w;
	struct mn_vm *vm;
	enum mn_vm_arch arch;
	char name[48];
	mn_hva_t ram;
	int vcpu_ret;
	struct mn_vcpu_exit exit;
	int madv_ret;
	uint64_t seen;
};

static void race_vcpu(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;

	(void)sim;
	r->vcpu_ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, BLOCK + 256 * PG, MN_PTE_R,
				     &r->seen, &r->exit);
}

static void race_vmm(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;

	(void)sim;
	r->madv_ret = mn_mm_madvise(r->w.mm, r->ram + BLOCK + 3 * PG, PG, MN_MADV_DONTNEED);
}

static int race_setup(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	struct mn_vm_config cfg = { .arch = r->arch, .nr_vcpus = 2 };
	struct mn_userspace_memory_region2 slot = { .slot = 0, .memory_size = 4 * MiB };
	unsigned int k;
	uint64_t v;
	int ret;

	ret = race_world_attach(&r->w, sim, MN_THP_ALWAYS, &cfg, 4 * MiB, &r->vm, &r->ram);
	for (k = 0; !ret && k < 4; k++) {
		v = 0x100 + k;
		ret = mn_mm_access(r->w.mm, r->ram + BLOCK + k * PG, MN_PTE_W, &v, NULL);
	}
	slot.userspace_addr = r->ram;
	if (!ret)
		ret = mn_vm_set_user_memory_region2(r->vm, &slot);
	for (k = 0; !ret && k < 3; k++) {
		struct mn_pt_walk w;

		ret = mn_pt_walk(mn_mm_get_pt(r->w.mm), (r->ram + BLOCK + k * PG) / PG, &w);
		if (!ret)
			ret = kvm_mmu_map(r->vm, 0, BLOCK / PG + k,
					  (struct mn_frame_ref){ w.pfn, w.gen }, MN_PG_LEVEL_4K,
					  MN_PTE_R | MN_PTE_W);
	}
	if (!ret)
		ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 1), 0, BLOCK + PG, MN_PTE_R, &v, NULL);
	if (!ret)
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
	unsigned int v, k;
	int ret;

	ret = mn_pt_check_frames(mn_vm_get_pt(r->vm, 0), r->w.phys, "vm.leaf");
	ret += mn_check_vm_quiescent(r->vm);
	if (ret) {
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.oracle", "%d broken invariants", ret);
		goto out;
	}
	/*
	 * The access completed, or the vCPU gave up retrying while the schedule kept the
	 * VMM's invalidation in progress (-EAGAIN, see mn_vcpu_access()).
	 */
	if ((r->vcpu_ret && !(r->vcpu_ret == 1 && r->exit.reason == MN_EXIT_MEMORY_FAULT &&
			      r->exit.error == -EAGAIN)) ||
	    r->madv_ret)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.result", "access %d exit %u/%d madvise %d",
			       r->vcpu_ret, r->exit.reason, r->exit.error, r->madv_ret);
	/* Quiet now: each vCPU reads what the VMM reads, the dropped page included. */
	for (v = 0; v < 2; v++) {
		for (k = 0; k < 5; k++) {
			uint64_t gv = 1, hv = 2;

			if (mn_vcpu_access(mn_vm_get_vcpu(r->vm, v), 0, BLOCK + k * PG, MN_PTE_R,
					   &gv, NULL) ||
			    mn_mm_access(r->w.mm, r->ram + BLOCK + k * PG, MN_PTE_R, &hv, NULL) ||
			    gv != hv)
				mn_sim_reportf(sim, MN_VIOL_CHECK, "test.views_differ",
					       "vcpu %u page %u: guest %#llx, VMM %#llx", v, k,
					       (unsigned long long)gv, (unsigned long long)hv);
		}
	}
out:
	mn_vm_destroy(r->vm);
	mn_mm_destroy(r->w.mm);
}

static void test_huge_fault_over_a_table_vs_dontneed_under_every_schedule(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		static struct race r;
		struct mn_scenario sc;

		memset(&r, 0, sizeof(r));
		r.arch = arches[i];
		snprintf(r.name, sizeof(r.name), "%s-huge-fault-over-table-vs-dontneed",
			 arches[i] == MN_VM_X86 ? "x86" : "arm64");
		sc = (struct mn_scenario){ r.name, race_setup, race_check, NULL, &r };
		explore_expect(&sc, 2, 20, NULL, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_fault_replaces_a_table_of_small_leaves),
		cmocka_unit_test(test_huge_fault_replaces_an_empty_table),
		cmocka_unit_test(test_blocks_come_back_after_dirty_logging),
		cmocka_unit_test(test_huge_fault_over_a_table_vs_dontneed_under_every_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
