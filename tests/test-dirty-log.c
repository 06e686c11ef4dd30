// SPDX-License-Identifier: MIT
/*
 * test-dirty-log.c - dirty page logging (lib/kvm/dirty_log.c, memslot.c's commit, the fault
 * paths): turning logging on splits (x86) and write-protects a live slot; faults mark
 * exactly the pages they make writable; x86 fast_page_fault() restores W without GUP or a
 * sequence snapshot; KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG report, re-protect and flush
 * before returning, with every errno of PROTOCOL.md §6.4; turning logging off; and a
 * harvest racing guest writes under every schedule at preemption bound 2, with the
 * mutations of the protocol's steps caught by the oracle (kvm.dirty_log_writable).
 */
#include "mn-test-kvm.h"

#include "kvm/builtin-internal.h"

/* Guest RAM of @size at gpa 0 in slot 0, every page touched by the VMM. */
static void ram_slot(struct kworld *k, uint64_t size, uint32_t flags)
{
	uint64_t off;

	k->ram = map_anon(&k->w, size, MN_PROT_READ | MN_PROT_WRITE);
	for (off = 0; off < size; off += PG)
		write_word(&k->w, k->ram + off, off);
	set_slot(k, 0, 0, size, k->ram, flags);
}

static void guest_write(struct kworld *k, mn_gpa_t gpa, uint64_t val)
{
	assert_int_equal(mn_vcpu_access(k->vcpu, 0, gpa, MN_PTE_W, &val, NULL), 0);
}

static struct mn_pt_walk spte_at(struct kworld *k, mn_gpa_t gpa)
{
	struct mn_pt_walk w;

	assert_int_equal(mn_pt_walk(mn_vm_get_pt(k->vm, 0), gpa / PG, &w), 0);
	return w;
}

static bool spte_writable(struct kworld *k, mn_gpa_t gpa)
{
	return spte_at(k, gpa).leaf.perm & MN_PTE_W;
}

/* Whether vCPU 0's TLB caches a writable translation of @gpa. */
static bool tlb_writable(struct kworld *k, mn_gpa_t gpa)
{
	struct mn_tlb *tlb = k->vm->vcpus[0].tlb[0];
	struct mn_tlb_entry e;
	mn_gfn_t gfn = gpa / PG;
	unsigned int i;
	int r;

	for (i = 0; (r = mn_tlb_get_entry(tlb, i, &e)) != -ERANGE; i++)
		if (!r && gfn >= e.gfn && gfn - e.gfn < mn_level_pages(e.level) &&
		    (e.perm & MN_PTE_W))
			return true;
	return false;
}

static uint64_t __get_log(struct kworld *k, uint32_t slot, int line)
{
	uint64_t map[64] = { 0 }; /* slots of up to 4096 pages */
	int r = mn_vm_get_dirty_log(k->vm, slot, map);

	if (r)
		fail_msg("line %d: KVM_GET_DIRTY_LOG returned %d", line, r);
	return map[0];
}

/* The first word of the slot's dirty log (KVM_GET_DIRTY_LOG must succeed). */
#define get_log(k, slot) __get_log((k), (slot), __LINE__)

static uint64_t gups(struct kworld *k)
{
	struct mn_mm_stats st = stats(&k->w);

	return st.gup_fast + st.gup_slow;
}

/* ---- turning logging on ------------------------------------------------------------------ */

static void test_enable_logging_splits_and_write_protects(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_gpa_t g;

		kworld_init(&k, arches[i], MN_THP_ALWAYS);
		/*
		 *  gpa   0        2M        4M
		 *  slot  [ slot 0: THP RAM   )
		 *  guest  w        w  w          <- 2M leaves, writable, in the TLB
		 *  then  LOG_DIRTY_PAGES turned on (FLAGS_ONLY)
		 */
		ram_slot(&k, 4 * MiB, 0);
		guest_write(&k, 4 * KiB, 1);
		guest_write(&k, 2 * MiB + 12 * KiB, 2);
		guest_write(&k, 3 * MiB, 3);
		assert_int_equal(spte_at(&k, 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
		assert_true(tlb_writable(&k, 2 * MiB + 12 * KiB));
		set_slot(&k, 0, 0, 4 * MiB, k.ram, MN_MEM_LOG_DIRTY_PAGES);
		/* Nothing is dirty yet, and nothing is writable any more, TLBs included. */
		for (g = 0; g < 4 * MiB; g += 4 * KiB) {
			struct mn_pt_walk w = spte_at(&k, g);

			assert_false(w.leaf.perm & MN_PTE_W);
			assert_false(tlb_writable(&k, g));
			/* x86 split eagerly and kept MMU-writable for fast_page_fault(); arm64
			 * write-protected its blocks as they are. */
			if (arches[i] == MN_VM_X86) {
				assert_int_equal(w.leaf.level, MN_PG_LEVEL_4K);
				assert_true(w.leaf.sw & MN_PTE_SW_MMU_WRITABLE);
			} else {
				assert_int_equal(w.leaf.level, MN_PG_LEVEL_2M);
			}
		}
		assert_int_equal(get_log(&k, 0), 0);
		assert_int_equal(k.vm->nr_memslots_dirty_logging, 1);
		/*
		 * The next write faults, maps a page and logs it. arm64 breaks the read-only
		 * block and links an empty table in its place (stage2_map_walk_leaf()): the
		 * block's other pages fault back lazily, so its neighbour is unmapped.
		 */
		guest_write(&k, 2 * MiB + 12 * KiB, 4);
		assert_int_equal(spte_at(&k, 2 * MiB + 12 * KiB).leaf.level, MN_PG_LEVEL_4K);
		assert_true(spte_writable(&k, 2 * MiB + 12 * KiB));
		if (arches[i] == MN_VM_X86) {
			assert_false(spte_writable(&k, 2 * MiB + 16 * KiB));
		} else {
			struct mn_pt_walk w;

			assert_int_not_equal(
				mn_pt_walk(mn_vm_get_pt(k.vm, 0), (2 * MiB + 16 * KiB) / PG, &w),
				0);
			assert_false(tlb_writable(&k, 2 * MiB + 16 * KiB));
		}
		assert_int_equal(guest_read(&k, 2 * MiB + 12 * KiB), 4);
		assert_int_equal(read_word(&k.w, k.ram + 2 * MiB + 12 * KiB), 4);
		kworld_fini(&k);
	}
}

/* Each step of turning logging on, skipped, leaves a writable clean page behind. */
static void test_enable_logging_mutants_are_caught(void **state)
{
	static const char *const steps[] = { "dirty_log.enable_protect", "dirty_log.enable_flush" };
	unsigned int i, m;

	(void)state;
	for (m = 0; m < 2; m++) {
		for (i = 0; i < 2; i++) {
			struct kworld k;

			kworld_init(&k, arches[i], MN_THP_NEVER);
			ram_slot(&k, 16 * PG, 0);
			guest_write(&k, 2 * PG, 1);
			assert_int_equal(mn_sim_skip_step(k.w.sim, steps[m]), 0);
			set_slot(&k, 0, 0, 16 * PG, k.ram, MN_MEM_LOG_DIRTY_PAGES);
			mn_sim_clear_mutations(k.w.sim);
			assert_true(mn_check_vm(k.vm) > 0);
			assert_true(nr_violations(&k.w, "kvm.dirty_log_writable") > 0);
			/* The write goes through unlogged. */
			guest_write(&k, 2 * PG, 2);
			assert_int_equal(get_log(&k, 0), 0);
			kworld_destroy(&k);
		}
	}
}

/* ---- faults in a logged slot -------------------------------------------------------------- */

static void test_guest_write_marks_exactly_its_page(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		uint64_t log;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
		/*
		 *  page  0 1 2 3 4 5 6 7
		 *  guest           w   r
		 */
		guest_write(&k, 5 * PG + 8, 0x55);
		assert_int_equal(guest_read(&k, 7 * PG), 7 * PG);
		assert_true(spte_writable(&k, 5 * PG));
		assert_int_equal(spte_at(&k, 5 * PG).leaf.level, MN_PG_LEVEL_4K);
		log = get_log(&k, 0);
		if (arches[i] == MN_VM_X86) {
			/* x86 maps a read writable when GUP allows it, and logs it for that. */
			assert_int_equal(log, 1ULL << 5 | 1ULL << 7);
		} else {
			/* arm64 maps a read of a logged slot read-only: not dirty. */
			assert_int_equal(log, 1ULL << 5);
			assert_false(spte_writable(&k, 7 * PG));
		}
		/* Harvested: clear, and the pages are write-protected. */
		assert_false(spte_writable(&k, 5 * PG));
		assert_int_equal(get_log(&k, 0), 0);
		assert_int_equal(vm_stats(&k).fault_retries, 0);
		kworld_fini(&k);
	}
}

static void test_write_after_harvest_refaults_in_place(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vm_invalidate_state a, b;
		struct mn_pt_walk before, after;
		uint64_t faults, g;
		struct kworld k;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
		guest_write(&k, 3 * PG, 1);
		assert_int_equal(get_log(&k, 0), 1ULL << 3);
		before = spte_at(&k, 3 * PG);
		assert_false(before.leaf.perm & MN_PTE_W);
		mn_vm_get_invalidate_state(k.vm, &a);
		g = gups(&k);
		faults = vm_stats(&k).faults;

		guest_write(&k, 3 * PG, 2);
		after = spte_at(&k, 3 * PG);
		mn_vm_get_invalidate_state(k.vm, &b);
		/* The same leaf, writable again in place; one fault, no retry, no invalidation. */
		assert_true(after.leaf.perm & MN_PTE_W);
		assert_int_equal(after.pfn, before.pfn);
		assert_int_equal(after.leaf.level, MN_PG_LEVEL_4K);
		assert_int_equal(vm_stats(&k).faults, faults + 1);
		assert_int_equal(vm_stats(&k).fault_retries, 0);
		assert_int_equal(a.seq, b.seq);
		if (arches[i] == MN_VM_X86) {
			/* fast_page_fault(): no GUP at all. */
			assert_int_equal(gups(&k), g);
		} else {
			/* arm64 takes the whole user_mem_abort() path and relaxes the leaf. */
			assert_true(gups(&k) > g);
		}
		assert_int_equal(get_log(&k, 0), 1ULL << 3);
		assert_int_equal(read_word(&k.w, k.ram + 3 * PG), 2);
		kworld_fini(&k);
	}
}

/* fast_page_fault() cannot restore W on an SPTE KVM write-protected for good. */
static void test_x86_fast_page_fault_needs_mmu_writable(void **state)
{
	struct kworld k;
	uint64_t g;

	(void)state;
	kworld_init(&k, MN_VM_X86, MN_THP_NEVER);
	ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
	guest_write(&k, 3 * PG, 1);
	assert_int_equal(get_log(&k, 0), 1ULL << 3);
	/* As kvm_mmu_slot_gfn_write_protect() would: W and MMU-writable gone. */
	kvm_mmu_write_protect(k.vm, 0, (struct mn_gfn_range){ 3, 4 }, MN_PG_LEVEL_4K,
			      MN_PG_LEVEL_4K, true);
	assert_false(spte_at(&k, 3 * PG).leaf.sw & MN_PTE_SW_MMU_WRITABLE);
	g = gups(&k);
	guest_write(&k, 3 * PG, 2);
	/* The slow path: GUP, a fresh snapshot, the leaf rebuilt writable and logged. */
	assert_true(gups(&k) > g);
	assert_true(spte_writable(&k, 3 * PG));
	assert_true(spte_at(&k, 3 * PG).leaf.sw & MN_PTE_SW_MMU_WRITABLE);
	assert_int_equal(get_log(&k, 0), 1ULL << 3);
	kworld_fini(&k);
}

/* ---- KVM_GET_DIRTY_LOG ----------------------------------------------------------------------- */

static void test_get_dirty_log_protects_and_flushes_before_returning(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		uint64_t flushes;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
		guest_write(&k, 1 * PG, 1);
		guest_write(&k, 2 * PG, 2);
		assert_true(tlb_writable(&k, 1 * PG));
		assert_true(tlb_writable(&k, 2 * PG));
		flushes = vm_stats(&k).flush_range;
		assert_int_equal(get_log(&k, 0), 1ULL << 1 | 1ULL << 2);
		/* Write-protected and flushed: the next write must fault. */
		assert_false(spte_writable(&k, 1 * PG));
		assert_false(spte_writable(&k, 2 * PG));
		assert_false(tlb_writable(&k, 1 * PG));
		assert_false(tlb_writable(&k, 2 * PG));
		assert_true(vm_stats(&k).flush_range > flushes);
		/* Nothing dirty: nothing protected, nothing flushed. */
		flushes = vm_stats(&k).flush_range;
		assert_int_equal(get_log(&k, 0), 0);
		assert_int_equal(vm_stats(&k).flush_range, flushes);
		/* Only what was written since. */
		guest_write(&k, 2 * PG, 3);
		assert_true(spte_writable(&k, 2 * PG));
		assert_false(spte_writable(&k, 1 * PG));
		assert_int_equal(get_log(&k, 0), 1ULL << 2);
		kworld_fini(&k);
	}
}

/*
 * A harvest of whole and ragged words: x86 protects each run of set bits of a word with
 * one walk (clear_dirty_pt_masked() over the word), arm64 the span of each word; either
 * way exactly the written pages are reported, and none stays writable.
 *
 *  page   0 ... 4 5 6 ... 63 | 64 65 66 67 ... 127 | 128 ... 190 191
 *  guest  w ... w . w ... w  | .  .  .  w  ... w   | w   ... w   w
 */
static void test_get_dirty_log_of_full_and_ragged_words(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		uint64_t map[3] = { 0 }, want[3] = { 0 };
		struct kworld k;
		unsigned int p;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram_slot(&k, 192 * PG, MN_MEM_LOG_DIRTY_PAGES);
		for (p = 0; p < 192; p++) {
			if (p == 5 || (p >= 64 && p < 67))
				continue;
			guest_write(&k, p * PG, p + 1);
			want[p / 64] |= 1ULL << (p % 64);
		}
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_memory_equal(map, want, sizeof(map));
		for (p = 0; p < 192; p++) {
			if (want[p / 64] >> (p % 64) & 1) {
				assert_false(spte_writable(&k, p * PG));
				assert_false(tlb_writable(&k, p * PG));
			}
		}
		memset(map, 0, sizeof(map));
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[0] | map[1] | map[2], 0);
		/* A write after the harvest faults, is logged and maps writable again. */
		guest_write(&k, 63 * PG, 1);
		guest_write(&k, 191 * PG, 1);
		assert_true(spte_writable(&k, 63 * PG));
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[0], 1ULL << 63);
		assert_int_equal(map[1], 0);
		assert_int_equal(map[2], 1ULL << 63);
		kworld_fini(&k);
	}
}

/*
 * The guard of dirty-log-harvest-vs-guest-write, single-threaded: without the flush a
 * writable TLB entry survives the harvest (the oracle's kvm.dirty_log_writable) and the
 * next write goes through it unlogged; without the protection the SPTE itself stays
 * writable.
 */
static void test_get_dirty_log_mutants_lose_writes(void **state)
{
	static const char *const steps[] = { "dirty_log.flush", "dirty_log.protect" };
	unsigned int i, m;

	(void)state;
	for (m = 0; m < 2; m++) {
		for (i = 0; i < 2; i++) {
			struct kworld k;

			kworld_init(&k, arches[i], MN_THP_NEVER);
			ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
			guest_write(&k, 1 * PG, 1);
			assert_int_equal(mn_sim_skip_step(k.w.sim, steps[m]), 0);
			assert_int_equal(get_log(&k, 0), 1ULL << 1);
			mn_sim_clear_mutations(k.w.sim);
			/* Not flushed: the TLB entry; not protected: the SPTE itself. */
			assert_int_equal(tlb_writable(&k, 1 * PG), m == 0);
			assert_int_equal(spte_writable(&k, 1 * PG), m == 1);
			assert_true(mn_check_vm(k.vm) > 0);
			assert_true(nr_violations(&k.w, "kvm.dirty_log_writable") > 0);
			guest_write(&k, 1 * PG, 2);
			assert_int_equal(get_log(&k, 0), 0); /* the second write is lost */
			kworld_destroy(&k);
		}
	}
}

/* The same two steps of KVM_CLEAR_DIRTY_LOG. */
static void test_clear_dirty_log_mutants_lose_writes(void **state)
{
	static const char *const steps[] = { "clear_dirty_log.flush", "clear_dirty_log.protect" };
	unsigned int i, m;

	(void)state;
	for (m = 0; m < 2; m++) {
		for (i = 0; i < 2; i++) {
			struct mn_vm_config cfg = { .arch = arches[i],
						    .dirty_log_manual =
							    MN_DIRTY_LOG_MANUAL_PROTECT };
			uint64_t clear = 1ULL << 1;
			struct kworld k;

			kworld_init_cfg(&k, &cfg, MN_THP_NEVER);
			ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
			guest_write(&k, 1 * PG, 1);
			assert_int_equal(mn_sim_skip_step(k.w.sim, steps[m]), 0);
			assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 0, 16, &clear), 0);
			mn_sim_clear_mutations(k.w.sim);
			assert_int_equal(tlb_writable(&k, 1 * PG), m == 0);
			assert_int_equal(spte_writable(&k, 1 * PG), m == 1);
			assert_true(mn_check_vm(k.vm) > 0);
			assert_true(nr_violations(&k.w, "kvm.dirty_log_writable") > 0);
			guest_write(&k, 1 * PG, 2);
			assert_int_equal(get_log(&k, 0), 0);
			kworld_destroy(&k);
		}
	}
}

/* The faults' marks, skipped, leave a writable clean page (x86 slow path and fast path). */
static void test_fault_mark_mutants_are_caught(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
		assert_int_equal(mn_sim_skip_step(k.w.sim, "fault.mark_dirty"), 0);
		guest_write(&k, 1 * PG, 1);
		mn_sim_clear_mutations(k.w.sim);
		assert_true(mn_check_vm(k.vm) > 0);
		assert_int_equal(get_log(&k, 0), 0);
		kworld_destroy(&k);
	}
	{
		struct kworld k;

		kworld_init(&k, MN_VM_X86, MN_THP_NEVER);
		ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
		guest_write(&k, 1 * PG, 1);
		assert_int_equal(get_log(&k, 0), 1ULL << 1);
		assert_int_equal(mn_sim_skip_step(k.w.sim, "fast_pf.mark_dirty"), 0);
		guest_write(&k, 1 * PG, 2);
		mn_sim_clear_mutations(k.w.sim);
		assert_true(mn_check_vm(k.vm) > 0);
		assert_true(nr_violations(&k.w, "kvm.dirty_log_writable") > 0);
		assert_int_equal(get_log(&k, 0), 0);
		kworld_destroy(&k);
	}
}

/* ---- KVM_CLEAR_DIRTY_LOG with manual protect ----------------------------------------------- */

static void test_clear_dirty_log_with_manual_protect(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vm_config cfg = { .arch = arches[i],
					    .dirty_log_manual = MN_DIRTY_LOG_MANUAL_PROTECT };
		uint64_t map[2] = { 0 }, clear[2] = { 0 };
		struct kworld k;

		kworld_init_cfg(&k, &cfg, MN_THP_NEVER);
		/*
		 *  page  0 1 2 3 4 ... 70 ... 127
		 *  slot  [ 128 pages, logging       )
		 *  guest   w w w        w
		 */
		ram_slot(&k, 128 * PG, MN_MEM_LOG_DIRTY_PAGES);
		guest_write(&k, 1 * PG, 1);
		guest_write(&k, 2 * PG, 2);
		guest_write(&k, 3 * PG, 3);
		guest_write(&k, 70 * PG, 70);
		/* GET only copies: nothing cleared, nothing protected. */
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[0], 0xeULL);
		assert_int_equal(map[1], 1ULL << 6);
		assert_true(spte_writable(&k, 1 * PG));
		assert_true(tlb_writable(&k, 1 * PG));
		memset(map, 0, sizeof(map));
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[0], 0xeULL);

		/* Clear pages 1 and 3, and 4, which is not dirty: fetch-and-not ignores it. */
		clear[0] = 1ULL << 1 | 1ULL << 3 | 1ULL << 4;
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 0, 128, clear), 0);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[0], 1ULL << 2);
		assert_int_equal(map[1], 1ULL << 6);
		assert_false(spte_writable(&k, 1 * PG));
		assert_false(spte_writable(&k, 3 * PG));
		assert_false(tlb_writable(&k, 1 * PG));
		assert_false(tlb_writable(&k, 3 * PG));
		assert_false(spte_present(&k, 4 * PG));
		assert_true(spte_writable(&k, 70 * PG));
		/*
		 * x86 protects exactly the cleared pages; arm64 the span from the first to the
		 * last of them, so page 2 (still dirty) lost W too and will fault once more.
		 */
		assert_int_equal(spte_writable(&k, 2 * PG), arches[i] == MN_VM_X86);
		/* The second word, by itself (first_page 64, to the slot's end). */
		clear[0] = 1ULL << 6;
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 64, 64, clear), 0);
		assert_false(spte_writable(&k, 70 * PG));
		/* A write re-dirties a cleared page. */
		guest_write(&k, 1 * PG, 4);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[0], 1ULL << 1 | 1ULL << 2);
		assert_int_equal(map[1], 0);
		kworld_fini(&k);
	}
}

static void test_initially_set_protects_nothing_until_cleared(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct mn_vm_config cfg = { .arch = arches[i],
					    .dirty_log_manual = MN_DIRTY_LOG_MANUAL_PROTECT |
								MN_DIRTY_LOG_INITIALLY_SET };
		uint64_t map[16], clear = 1ULL << 3;
		struct kworld k;
		unsigned int w;
		mn_gpa_t g;

		kworld_init_cfg(&k, &cfg, MN_THP_ALWAYS);
		ram_slot(&k, 4 * MiB, 0);
		guest_write(&k, 2 * MiB + 12 * KiB, 1);
		assert_int_equal(spte_at(&k, 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
		set_slot(&k, 0, 0, 4 * MiB, k.ram, MN_MEM_LOG_DIRTY_PAGES);
		/* Every page counts as dirty: the huge leaf stays, writable. */
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		for (w = 0; w < 16; w++)
			assert_int_equal(map[w], ~0ULL);
		assert_int_equal(spte_at(&k, 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
		assert_true(spte_writable(&k, 2 * MiB));
		/*
		 * Clear page 515 (2M + 12K): the block is split; x86 protects that page only,
		 * arm64 write-protects the block before splitting it.
		 */
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 512, 64, &clear), 0);
		for (g = 2 * MiB; g < 4 * MiB; g += 4 * KiB) {
			struct mn_pt_walk wk = spte_at(&k, g);

			assert_int_equal(wk.leaf.level, MN_PG_LEVEL_4K);
			if (g == 2 * MiB + 12 * KiB || arches[i] == MN_VM_ARM64)
				assert_false(wk.leaf.perm & MN_PTE_W);
			else
				assert_true(wk.leaf.perm & MN_PTE_W);
		}
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[8], ~(1ULL << 3));
		guest_write(&k, 2 * MiB + 12 * KiB, 2);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, map), 0);
		assert_int_equal(map[8], ~0ULL);
		kworld_fini(&k);
	}
}

/* ---- errors (PROTOCOL.md §6.4) -------------------------------------------------------------- */

static void test_dirty_log_errno_rows(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		uint32_t internal = arches[i] == MN_VM_X86 ? 32764 : 32767;
		uint32_t bad_as = arches[i] == MN_VM_X86 ? 2U << 16 : 1U << 16;
		uint64_t map[2] = { 0 }, ones[2] = { ~0ULL, ~0ULL };
		struct kworld k;
		mn_hva_t h;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		/*
		 *  slot 0  128 pages, logging      slot 1  100 pages, logging (gpa 1M)
		 *  slot 2  16 pages, not logging (gpa 2M)
		 */
		ram_slot(&k, 128 * PG, MN_MEM_LOG_DIRTY_PAGES);
		h = map_anon(&k.w, 100 * PG, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 1, MiB, 100 * PG, h, MN_MEM_LOG_DIRTY_PAGES);
		h = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 2, 2 * MiB, 16 * PG, h, 0);

		/* GET */
		assert_int_equal(mn_vm_get_dirty_log(k.vm, bad_as, map), -EINVAL);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, internal, map), -EINVAL);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 9, map), -ENOENT);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 2, map), -ENOENT);
		/* copy_to_user() fails after the harvest: the bits are gone, the page protected. */
		guest_write(&k, 5 * PG, 1);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, NULL), -EFAULT);
		assert_false(spte_writable(&k, 5 * PG));
		assert_int_equal(get_log(&k, 0), 0);

		/* CLEAR: the slot id, then first_page's alignment, then the slot itself. */
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, bad_as, 0, 64, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, internal, 0, 64, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 9, 1, 64, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 32, 64, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 9, 0, 64, ones), -ENOENT);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 2, 0, 16, ones), -ENOENT);
		/* The range: beyond the slot, or not whole words short of its end. */
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 192, 0, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 64, 128, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 0, 65, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 0, 32, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 1, 0, 99, ones), -EINVAL);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 0, 64, NULL), -EFAULT);
		/* Accepted: to the end, a short tail, nothing, and nothing at the very end. */
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 64, 64, ones), 0);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 1, 64, 36, ones), 0);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 1, 0, 100, ones), 0);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 0, 0, ones), 0);
		assert_int_equal(mn_vm_clear_dirty_log(k.vm, 0, 128, 0, ones), 0);
		kworld_fini(&k);
	}
}

static void test_vm_config_rows(void **state)
{
	static const struct {
		unsigned int manual, variant;
		int ret;
	} rows[] = {
		{ 0, 0, 0 },
		{ MN_DIRTY_LOG_MANUAL_PROTECT, 0, 0 },
		{ MN_DIRTY_LOG_MANUAL_PROTECT | MN_DIRTY_LOG_INITIALLY_SET, 0, 0 },
		/* INITIALLY_SET only with MANUAL_PROTECT_ENABLE */
		{ MN_DIRTY_LOG_INITIALLY_SET, 0, -EINVAL },
		{ 1U << 2, 0, -EINVAL },
		{ 0, MN_VARIANT_USERFAULT_CREATE_ONLY, 0 },
		{ 0, 1U << 6, -EINVAL },
		{ 0, MN_VARIANT_RFC_SKIP_GMEM_ONLY | MN_VARIANT_GPC_OWN_SEQ, -EINVAL },
	};
	unsigned int i, r;

	(void)state;
	for (i = 0; i < 2; i++) {
		for (r = 0; r < ARRAY_SIZE(rows); r++) {
			struct mn_vm_config cfg = { .arch = arches[i],
						    .dirty_log_manual = rows[r].manual,
						    .variant = rows[r].variant };
			struct world w;
			struct mn_vm *vm = NULL;

			world_init(&w, MN_THP_NEVER);
			assert_int_equal(mn_vm_create(w.mm, &cfg, &vm), rows[r].ret);
			mn_vm_destroy(vm);
			world_fini(&w);
		}
	}
	/* The host's missing arm64 features: known bits, on arm64 only. */
	for (r = 0; r < 4; r++) {
		static const unsigned int missing[] = { MN_ARM64_NO_TLBIRANGE, MN_ARM64_NO_S2FWB,
							MN_ARM64_MISSING_ALL, 1U << 2 };

		for (i = 0; i < 2; i++) {
			struct mn_vm_config cfg = { .arch = arches[i], .arm64_missing = missing[r] };
			int want = arches[i] == MN_VM_ARM64 && r < 3 ? 0 : -EINVAL;
			struct world w;
			struct mn_vm *vm = NULL;

			world_init(&w, MN_THP_NEVER);
			assert_int_equal(mn_vm_create(w.mm, &cfg, &vm), want);
			if (!want)
				/* KVM_PGTABLE_S2_NOFWB exactly when the host lacks FWB. */
				assert_int_equal(mn_pt_get_format(mn_vm_get_pt(vm, 0))->flags & MN_S2_FWB,
						 missing[r] & MN_ARM64_NO_S2FWB ? 0 : MN_S2_FWB);
			mn_vm_destroy(vm);
			world_fini(&w);
		}
	}
}

/* ---- turning logging off ----------------------------------------------------------------- */

static void test_disable_logging(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;

		kworld_init(&k, arches[i], MN_THP_ALWAYS);
		ram_slot(&k, 4 * MiB, 0);
		guest_write(&k, 2 * MiB + 12 * KiB, 1);
		set_slot(&k, 0, 0, 4 * MiB, k.ram, MN_MEM_LOG_DIRTY_PAGES);
		guest_write(&k, 2 * MiB + 12 * KiB, 2);
		assert_int_equal(spte_at(&k, 2 * MiB + 12 * KiB).leaf.level, MN_PG_LEVEL_4K);
		set_slot(&k, 0, 0, 4 * MiB, k.ram, 0);
		assert_int_equal(mn_vm_get_dirty_log(k.vm, 0, NULL), -ENOENT);
		assert_int_equal(k.vm->nr_memslots_dirty_logging, 0);
		if (arches[i] == MN_VM_X86) {
			/* Recovered: the 4K leaves of the block are gone, the next write maps 2M.
			 */
			assert_false(spte_present(&k, 2 * MiB + 12 * KiB));
			assert_false(spte_present(&k, 2 * MiB + 16 * KiB));
			guest_write(&k, 2 * MiB + 16 * KiB, 3);
			assert_int_equal(spte_at(&k, 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
			assert_true(spte_writable(&k, 2 * MiB));
		} else {
			/* arm64 leaves the mappings alone; they keep working. */
			assert_int_equal(spte_at(&k, 2 * MiB + 12 * KiB).leaf.level,
					 MN_PG_LEVEL_4K);
			guest_write(&k, 2 * MiB + 16 * KiB, 3);
		}
		assert_int_equal(guest_read(&k, 2 * MiB + 12 * KiB), 2);
		assert_int_equal(read_word(&k.w, k.ram + 2 * MiB + 16 * KiB), 3);
		kworld_fini(&k);
	}
	{
		/* x86: a write-protected SPTE left by logging is fixed by fast_page_fault(). */
		struct kworld k;
		uint64_t g;

		kworld_init(&k, MN_VM_X86, MN_THP_NEVER);
		ram_slot(&k, 16 * PG, MN_MEM_LOG_DIRTY_PAGES);
		guest_write(&k, 1 * PG, 1);
		assert_int_equal(get_log(&k, 0), 1ULL << 1);
		set_slot(&k, 0, 0, 16 * PG, k.ram, 0);
		assert_false(spte_writable(&k, 1 * PG));
		g = gups(&k);
		guest_write(&k, 1 * PG, 2);
		assert_true(spte_writable(&k, 1 * PG));
		assert_int_equal(gups(&k), g);
		kworld_fini(&k);
	}
}

/* ---- harvest vs guest write, under every schedule ------------------------------------------ */

static void explore_dirty(enum mn_vm_arch arch, const char *skip, const char *caught)
{
	explore_builtin("dirty-log-harvest-vs-guest-write", arch, skip, caught);
}

static void test_harvest_vs_guest_write_under_every_schedule(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		explore_dirty(arches[i], NULL, NULL);
		/* The guard: without the flush before returning, a write escapes the log. */
		explore_dirty(arches[i], "dirty_log.flush", "kvm.dirty_log_writable");
	}
}

/* Mutations of the scenario's steps and the invariant that catches each first. */
static const struct {
	const char *step;
	const char *x86;
	const char *arm64;
} mutants[] = {
	{ "dirty_log.protect", "kvm.dirty_log_writable", "kvm.dirty_log_writable" },
	{ "fault.mark_dirty", "kvm.dirty_log_writable", "kvm.dirty_log_writable" },
	/* x86 only: arm64 has no fast path (never passed, nothing to catch). */
	{ "fast_pf.mark_dirty", "kvm.dirty_log_writable", NULL },
	/* The slow path does the same job: an equivalent mutant. */
	{ "fast_pf.set_writable", NULL, NULL },
};

static void test_harvest_mutants_are_caught(void **state)
{
	unsigned int i, m;

	(void)state;
	for (m = 0; m < ARRAY_SIZE(mutants); m++)
		for (i = 0; i < 2; i++)
			explore_dirty(arches[i], mutants[m].step,
				      arches[i] == MN_VM_X86 ? mutants[m].x86 : mutants[m].arm64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enable_logging_splits_and_write_protects),
		cmocka_unit_test(test_enable_logging_mutants_are_caught),
		cmocka_unit_test(test_guest_write_marks_exactly_its_page),
		cmocka_unit_test(test_write_after_harvest_refaults_in_place),
		cmocka_unit_test(test_x86_fast_page_fault_needs_mmu_writable),
		cmocka_unit_test(test_get_dirty_log_protects_and_flushes_before_returning),
		cmocka_unit_test(test_get_dirty_log_of_full_and_ragged_words),
		cmocka_unit_test(test_get_dirty_log_mutants_lose_writes),
		cmocka_unit_test(test_clear_dirty_log_mutants_lose_writes),
		cmocka_unit_test(test_fault_mark_mutants_are_caught),
		cmocka_unit_test(test_clear_dirty_log_with_manual_protect),
		cmocka_unit_test(test_initially_set_protects_nothing_until_cleared),
		cmocka_unit_test(test_dirty_log_errno_rows),
		cmocka_unit_test(test_vm_config_rows),
		cmocka_unit_test(test_disable_logging),
		cmocka_unit_test(test_harvest_vs_guest_write_under_every_schedule),
		cmocka_unit_test(test_harvest_mutants_are_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
