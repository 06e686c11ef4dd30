// SPDX-License-Identifier: MIT
/*
 * test-attributes.c - KVM_SET_MEMORY_ATTRIBUTES (lib/kvm/attributes.c): the kernel's errors
 * with nothing changed, the no-op, the invalidation a conversion runs over the memslots it
 * meets (exactly the range zapped, the sequence bumped once, head and tail huge-page blocks
 * added), the range store (merging, splitting, 1 GiB at the cost of one node), the rule
 * that a huge mapping needs uniform attributes, and a fault racing two conversions under
 * every schedule of the explorer.
 */
#include "mn-test-host.h"
#include "kvm/kvm-internal.h"

#include <mnsim/check.h>

#define PRIV MN_MEMORY_ATTRIBUTE_PRIVATE

struct kworld {
	struct world w;
	struct mn_vm *vm;
	struct mn_vcpu *vcpu;
};

static void kworld_init_type(struct kworld *k, enum mn_vm_arch arch, enum mn_vm_type type,
			     enum mn_thp_mode thp)
{
	struct mn_vm_config cfg = { .arch = arch, .type = type };

	world_init(&k->w, thp);
	assert_int_equal(mn_vm_create(k->w.mm, &cfg, &k->vm), 0);
	k->vcpu = mn_vm_get_vcpu(k->vm, 0);
}

/* An x86 VM with private memory (KVM_X86_SW_PROTECTED_VM). */
static void kworld_init(struct kworld *k, enum mn_thp_mode thp)
{
	kworld_init_type(k, MN_VM_X86, MN_VM_TYPE_SW_PROTECTED, thp);
}

static void kworld_fini(struct kworld *k)
{
	assert_true(kvm_attributes_check(k->vm) >= 0);
	assert_int_equal(mn_check_vm_quiescent(k->vm), 0);
	mn_vm_destroy(k->vm);
	world_fini(&k->w);
}

static void set_slot(struct kworld *k, uint32_t slot, mn_gpa_t gpa, uint64_t size, mn_hva_t hva)
{
	struct mn_userspace_memory_region2 r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	assert_int_equal(mn_vm_set_user_memory_region2(k->vm, &r), 0);
}

/* KVM_SET_MEMORY_ATTRIBUTES on the gfns [@start, @end). */
static int set_attrs(struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end, uint64_t attrs)
{
	struct mn_memory_attributes a = {
		.address = start * PG,
		.size = (end - start) * PG,
		.attributes = attrs,
	};

	return mn_vm_set_memory_attributes(vm, &a);
}

static struct mn_vm_invalidate_state inval(struct mn_vm *vm)
{
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(vm, &st);
	return st;
}

static bool spte_present(struct kworld *k, mn_gfn_t gfn)
{
	struct mn_pt_walk w;

	return !mn_pt_walk(mn_vm_get_pt(k->vm, 0), gfn, &w);
}

static struct mn_pt_walk spte_at(struct kworld *k, mn_gfn_t gfn)
{
	struct mn_pt_walk w;

	assert_int_equal(mn_pt_walk(mn_vm_get_pt(k->vm, 0), gfn, &w), 0);
	return w;
}

static int guest_write(struct kworld *k, mn_gfn_t gfn, uint64_t val)
{
	return mn_vcpu_access(k->vcpu, 0, gfn * PG, MN_PTE_W, &val, NULL);
}

static void assert_attrs(struct mn_vm *vm, mn_gfn_t start, mn_gfn_t end, uint64_t attrs)
{
	mn_gfn_t g;

	for (g = start; g < end; g++)
		assert_int_equal(mn_vm_get_memory_attributes(vm, g), attrs);
}

/* ---- validation ---------------------------------------------------------------------------- */

/* Where the errno test looks for a change: its probes' attributes and the bookkeeping. */
static const mn_gfn_t probes[] = { 0, 15, 16, 20, 23, 24, 31, 32, 40, 47, 48 };

struct snapshot {
	uint64_t attrs[sizeof(probes) / sizeof(probes[0])];
	int ranges;
	struct mn_vm_invalidate_state st;
};

static struct snapshot snap(struct mn_vm *vm)
{
	struct snapshot s;
	unsigned int i;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		s.attrs[i] = mn_vm_get_memory_attributes(vm, probes[i]);
	s.ranges = kvm_attributes_check(vm);
	s.st = inval(vm);
	return s;
}

static void assert_same(const struct snapshot *a, const struct snapshot *b)
{
	unsigned int i;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		assert_int_equal(a->attrs[i], b->attrs[i]);
	assert_int_equal(a->ranges, b->ranges);
	assert_int_equal(a->st.seq, b->st.seq);
	assert_int_equal(a->st.in_progress, b->st.in_progress);
	assert_int_equal(a->st.range_start, b->st.range_start);
	assert_int_equal(a->st.range_end, b->st.range_end);
	assert_int_equal(a->st.mn_count, b->st.mn_count);
}

static void test_bad_requests_fail_in_kernel_order_and_change_nothing(void **state)
{
	static const struct {
		const char *what;
		uint64_t address, size, attributes, flags;
		uint64_t fail_nth; /* make this allocation of the call fail (0: none) */
		int ret;
	} rows[] = {
		{ "flags", 0, PG, PRIV, 1, 0, -EINVAL },
		/* The checks come before the reservation: no allocation is even tried. */
		{ "flags, with memory short", 40 * PG, 8 * PG, PRIV, 1, 1, -EINVAL },
		{ "everything wrong at once", 0x800, 0, 1, 1ULL << 63, 0, -EINVAL },
		{ "attribute bit 0 (no RWX attributes)", 0, PG, 1, 0, 0, -EINVAL },
		{ "unknown attribute next to PRIVATE", 0, PG, PRIV | 1ULL << 63, 0, 0, -EINVAL },
		{ "size 0", 0, 0, PRIV, 0, 0, -EINVAL },
		{ "address + size wraps", ~0ULL - 4 * PG + 1, 8 * PG, PRIV, 0, 0, -EINVAL },
		{ "address + size is exactly 2^64", ~0ULL - PG + 1, PG, PRIV, 0, 0, -EINVAL },
		{ "unaligned address", 0x800, PG, PRIV, 0, 0, -EINVAL },
		{ "unaligned size", 0, PG + 8, PRIV, 0, 0, -EINVAL },
		{ "no memory for a new range", 40 * PG, 8 * PG, PRIV, 0, 1, -ENOMEM },
		{ "no memory to split a range", 20 * PG, 4 * PG, 0, 0, 1, -ENOMEM },
		/* So does the no-op: nothing to reserve, and it succeeds. */
		{ "already private, with memory short", 16 * PG, 16 * PG, PRIV, 0, 1, 0 },
	};
	struct mn_alloc *a;
	struct kworld k;
	unsigned int i;
	mn_hva_t ram;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	a = mn_sim_get_alloc(k.w.sim);
	/*
	 *  gfn   0       16      32      48
	 *  slot  [ slot 0: 64 pages                  )
	 *  attr          PPPPPPPP                     <- a change the rows must not undo
	 */
	ram = map_anon(&k.w, 64 * PG, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, 64 * PG, ram);
	assert_int_equal(set_attrs(k.vm, 16, 32, PRIV), 0);
	assert_int_equal(inval(k.vm).seq, 1);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct mn_memory_attributes req = { rows[i].address, rows[i].size,
						    rows[i].attributes, rows[i].flags };
		struct snapshot before = snap(k.vm), after;

		print_message("%s\n", rows[i].what);
		if (rows[i].fail_nth)
			mn_alloc_fail_nth(a, rows[i].fail_nth);
		assert_int_equal(mn_vm_set_memory_attributes(k.vm, &req), rows[i].ret);
		/* An injected failure fired inside the call exactly when it failed for it. */
		if (rows[i].fail_nth) {
			assert_int_equal(mn_alloc_fail_pending(a), rows[i].ret != -ENOMEM);
			mn_alloc_fail_nth(a, 0);
		}
		after = snap(k.vm);
		assert_same(&before, &after);
	}
	/* The VM is fine: the split that had no memory works now. */
	assert_int_equal(set_attrs(k.vm, 20, 24, 0), 0);
	assert_attrs(k.vm, 16, 20, PRIV);
	assert_attrs(k.vm, 20, 24, 0);
	assert_attrs(k.vm, 24, 32, PRIV);
	assert_int_equal(kvm_attributes_check(k.vm), 2);
	assert_int_equal(inval(k.vm).seq, 2);
	kworld_fini(&k);
}

static void test_vm_without_private_memory_accepts_only_shared(void **state)
{
	static const enum mn_vm_arch arches[] = { MN_VM_X86, MN_VM_ARM64 };
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_hva_t ram;

		kworld_init_type(&k, arches[i], MN_VM_TYPE_DEFAULT, MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * PG, ram);
		assert_int_equal(guest_write(&k, 3, 1), 0);
		/* PRIVATE is not among kvm_supported_mem_attributes(). */
		assert_int_equal(set_attrs(k.vm, 0, 16, PRIV), -EINVAL);
		/* Attributes 0 are what every page has: accepted, and nothing happens. */
		assert_int_equal(set_attrs(k.vm, 0, 16, 0), 0);
		assert_int_equal(inval(k.vm).seq, 0);
		assert_true(spte_present(&k, 3));
		assert_int_equal(mn_vm_get_memory_attributes(k.vm, 3), 0);
		assert_false(kvm_mem_is_private(k.vm, 3));
		assert_int_equal(kvm_attributes_check(k.vm), 0);
		kworld_fini(&k);
	}
}

static void test_private_vm_types_need_x86(void **state)
{
	static const enum mn_vm_type types[] = { MN_VM_TYPE_SW_PROTECTED, MN_VM_TYPE_SNP,
						 MN_VM_TYPE_TDX };
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct mn_vm_config arm = { .arch = MN_VM_ARM64, .type = types[i] };
		struct mn_vm *vm = NULL;
		struct kworld k;

		world_init(&k.w, MN_THP_NEVER);
		assert_int_equal(mn_vm_create(k.w.mm, &arm, &vm), -EINVAL);
		assert_null(vm);
		world_fini(&k.w);
		/* On x86 the type has private memory: PRIVATE is accepted and stored. */
		kworld_init_type(&k, MN_VM_X86, types[i], MN_THP_NEVER);
		assert_int_equal(set_attrs(k.vm, 5, 6, PRIV), 0);
		assert_true(kvm_mem_is_private(k.vm, 5));
		assert_false(kvm_mem_is_private(k.vm, 6));
		kworld_fini(&k);
	}
}

/* ---- the invalidation -------------------------------------------------------------------- */

static void test_unchanged_attributes_are_a_noop(void **state)
{
	struct mn_vm_stats st0, st1;
	struct kworld k;
	mn_hva_t ram;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	ram = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, 16 * PG, ram);
	assert_int_equal(guest_write(&k, 8, 1), 0);
	assert_int_equal(guest_write(&k, 9, 1), 0);
	/* Shared already: no invalidation, the mapping stays. */
	assert_int_equal(set_attrs(k.vm, 0, 16, 0), 0);
	assert_int_equal(inval(k.vm).seq, 0);
	assert_int_equal(inval(k.vm).range_start, MN_INVALID_GFN);
	assert_true(spte_present(&k, 9));
	/*
	 *  gfn   0   4   8   12  16
	 *  attr  PPPPPPPP            <- once: seq 1
	 *          PP                <- a part of it again: nothing
	 */
	assert_int_equal(set_attrs(k.vm, 0, 8, PRIV), 0);
	assert_int_equal(inval(k.vm).seq, 1);
	mn_vm_get_stats(k.vm, &st0);
	assert_int_equal(set_attrs(k.vm, 0, 8, PRIV), 0);
	assert_int_equal(set_attrs(k.vm, 2, 4, PRIV), 0);
	assert_int_equal(set_attrs(k.vm, 8, 16, 0), 0);
	mn_vm_get_stats(k.vm, &st1);
	assert_int_equal(inval(k.vm).seq, 1);
	assert_int_equal(st1.flush_all, st0.flush_all);
	assert_true(spte_present(&k, 8));
	assert_true(spte_present(&k, 9));
	/* One page more than is private is a change: that page is zapped, its neighbour not. */
	assert_int_equal(set_attrs(k.vm, 0, 9, PRIV), 0);
	assert_int_equal(inval(k.vm).seq, 2);
	assert_int_equal(inval(k.vm).range_start, 0);
	assert_int_equal(inval(k.vm).range_end, 9);
	assert_false(spte_present(&k, 8));
	assert_true(spte_present(&k, 9));
	kworld_fini(&k);
}

static void test_conversion_to_private_zaps_exactly_the_range(void **state)
{
	struct mn_vm_stats st0, st1;
	struct mn_pt_walk before[16];
	struct mn_vm_invalidate_state st;
	struct kworld k;
	mn_hva_t ram;
	mn_gfn_t g;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	/*
	 *  gfn   0   4   8   12  16
	 *  slot  [ slot 0: 16 pages )
	 *  spte  mmmmmmmmmmmmmmmm     <- every page faulted in
	 *  attr      PPPP             <- convert [4, 8) to private
	 */
	ram = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, 16 * PG, ram);
	for (g = 0; g < 16; g++) {
		assert_int_equal(guest_write(&k, g, g), 0);
		before[g] = spte_at(&k, g);
	}
	mn_vm_get_stats(k.vm, &st0);
	assert_int_equal(set_attrs(k.vm, 4, 8, PRIV), 0);
	mn_vm_get_stats(k.vm, &st1);
	for (g = 0; g < 16; g++) {
		if (g >= 4 && g < 8) {
			assert_false(spte_present(&k, g));
			continue;
		}
		assert_int_equal(spte_at(&k, g).pfn, before[g].pfn);
	}
	st = inval(k.vm);
	assert_int_equal(st.seq, 1);
	assert_int_equal(st.in_progress, 0);
	/* The slot is smaller than a 2M block: no head or tail block joins the range. */
	assert_int_equal(st.range_start, 4);
	assert_int_equal(st.range_end, 8);
	assert_int_equal(st.mn_count, 0);
	/* Four leaves zapped, one remote flush under mmu_lock. */
	assert_int_equal(st1.zapped - st0.zapped, 4);
	assert_int_equal(st1.flush_all - st0.flush_all, 1);
	assert_attrs(k.vm, 0, 4, 0);
	assert_attrs(k.vm, 4, 8, PRIV);
	assert_attrs(k.vm, 8, 16, 0);
	assert_true(kvm_mem_is_private(k.vm, 4));
	assert_false(kvm_mem_is_private(k.vm, 8));
	kworld_fini(&k);
}

static void test_conversion_to_shared_zaps_both_kinds(void **state)
{
	struct mn_vm_invalidate_state st;
	struct kworld k;
	mn_hva_t ram;
	mn_gfn_t g;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	/*
	 *  gfn   0   4   8   12  16
	 *  attr      PPPP             <- private first
	 *  spte  mmmm    mmmmmmmm     <- the shared pages mapped
	 *  attr  ----------------     <- all of it to shared
	 *
	 * The filter is KVM_FILTER_PRIVATE, but without mirror roots the TDP MMU zaps the
	 * direct roots whatever the filter: the shared mappings in the range go as well.
	 */
	ram = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, 16 * PG, ram);
	assert_int_equal(set_attrs(k.vm, 4, 8, PRIV), 0);
	for (g = 0; g < 16; g++)
		if (g < 4 || g >= 8)
			assert_int_equal(guest_write(&k, g, g), 0);
	assert_int_equal(set_attrs(k.vm, 0, 16, 0), 0);
	for (g = 0; g < 16; g++)
		assert_false(spte_present(&k, g));
	st = inval(k.vm);
	assert_int_equal(st.seq, 2);
	assert_int_equal(st.in_progress, 0);
	assert_int_equal(st.range_start, 0);
	assert_int_equal(st.range_end, 16);
	assert_attrs(k.vm, 0, 16, 0);
	assert_int_equal(kvm_attributes_check(k.vm), 0);
	/* Shared again: the guest maps the host's page. */
	assert_int_equal(guest_write(&k, 5, 55), 0);
	assert_int_equal(spte_at(&k, 5).pfn, leaf_at(&k.w, ram + 5 * PG).pfn);
	assert_int_equal(read_word(&k.w, ram + 5 * PG), 55);
	kworld_fini(&k);
}

static void test_conversion_without_slot_stores_without_invalidating(void **state)
{
	struct mn_vm_invalidate_state st;
	struct kworld k;
	mn_hva_t ram;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	/*
	 *  gfn   0 .. 16      1000 .. 1010
	 *  slot  [ slot 0 )
	 *  attr               PPPPPPPPPP   <- no slot there
	 */
	ram = map_anon(&k.w, 16 * PG, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, 16 * PG, ram);
	assert_int_equal(guest_write(&k, 2, 1), 0);
	assert_int_equal(set_attrs(k.vm, 1000, 1010, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.seq, 0);
	assert_int_equal(st.in_progress, 0);
	assert_int_equal(st.range_start, MN_INVALID_GFN);
	assert_attrs(k.vm, 1000, 1010, PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 999), 0);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 1010), 0);
	assert_true(spte_present(&k, 2));
	/* Back to shared: the same, without a slot. */
	assert_int_equal(set_attrs(k.vm, 1000, 1010, 0), 0);
	assert_int_equal(inval(k.vm).seq, 0);
	assert_attrs(k.vm, 1000, 1010, 0);
	/* A range that meets the slot invalidates once, whatever lies outside it. */
	assert_int_equal(set_attrs(k.vm, 8, 5000, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.seq, 1);
	assert_int_equal(st.range_start, 8);
	assert_int_equal(st.range_end, 16);
	assert_attrs(k.vm, 4990, 5000, PRIV);
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	kworld_fini(&k);
}

static void test_head_and_tail_blocks_join_the_invalidation(void **state)
{
	struct mn_vm_invalidate_state st;
	struct kworld k;
	mn_hva_t a, b;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	/*
	 *  gfn   0x000    0x200    0x400        0x800   0x900
	 *  slot  [ slot 0: 4 MiB          )     [ 1 )    <- slot 1: 1 MiB, no whole 2M block
	 *  2M    [ block A )[ block B )
	 */
	a = map_anon(&k.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	b = map_anon(&k.w, 1 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, 4 * MiB, a);
	set_slot(&k, 1, 8 * MiB, 1 * MiB, b);

	/* One page inside uniform block B: all of B joins (the 1G block is not in the slot). */
	assert_int_equal(set_attrs(k.vm, 0x205, 0x206, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.range_start, 0x200);
	assert_int_equal(st.range_end, 0x400);
	/* B is mixed now: it already forbids a huge page, so only the page joins. */
	assert_int_equal(set_attrs(k.vm, 0x206, 0x207, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.range_start, 0x206);
	assert_int_equal(st.range_end, 0x207);
	/* A whole aligned block is no head or tail: just the range. */
	assert_int_equal(set_attrs(k.vm, 0x200, 0x400, 0), 0);
	st = inval(k.vm);
	assert_int_equal(st.range_start, 0x200);
	assert_int_equal(st.range_end, 0x400);
	/* Across the A/B boundary: A as the head, B (uniform again) as the tail. */
	assert_int_equal(set_attrs(k.vm, 0x1ff, 0x201, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.range_start, 0);
	assert_int_equal(st.range_end, 0x400);
	/* A block that is not wholly inside its slot never joins. */
	assert_int_equal(set_attrs(k.vm, 0x810, 0x811, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.range_start, 0x810);
	assert_int_equal(st.range_end, 0x811);
	assert_int_equal(st.seq, 5);
	kworld_fini(&k);
}

static void test_huge_mapping_needs_uniform_attributes(void **state)
{
	struct kworld k;
	mn_hva_t a;

	(void)state;
	kworld_init(&k, MN_THP_ALWAYS);
	/*
	 *  gfn   0x000        0x200        0x400
	 *  slot  [ slot 0: 4 MiB, THP-backed   )
	 *  2M    [ block 0    )[ block 1       )
	 *  attr                  P               <- gfn 0x280: block 1 becomes mixed
	 *  guest                W   W            <- 0x210 before, 0x300 after
	 */
	a = map_anon(&k.w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	assert_true(mn_is_aligned(a, 2 * MiB));
	set_slot(&k, 0, 0, 4 * MiB, a);
	assert_int_equal(guest_write(&k, 0x210, 1), 0);
	assert_int_equal(leaf_at(&k.w, a + 0x210 * PG).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(spte_at(&k, 0x210).leaf.level, MN_PG_LEVEL_2M);
	assert_true(kvm_mmu_slot_allows_level(k.vm, kvm_gfn_to_memslot(kvm_memslots(k.vm, 0), 0),
					      0x300, MN_PG_LEVEL_2M));

	/* The zap of one page takes the 2M leaf over it whole. */
	assert_int_equal(set_attrs(k.vm, 0x280, 0x281, PRIV), 0);
	assert_false(spte_present(&k, 0x210));
	assert_false(spte_present(&k, 0x300));
	assert_false(kvm_mmu_slot_allows_level(k.vm, kvm_gfn_to_memslot(kvm_memslots(k.vm, 0), 0),
					       0x300, MN_PG_LEVEL_2M));
	/* A shared gfn of the mixed block maps 4K, although the host still maps a THP. */
	assert_int_equal(guest_write(&k, 0x300, 2), 0);
	assert_int_equal(leaf_at(&k.w, a + 0x300 * PG).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(spte_at(&k, 0x300).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(spte_at(&k, 0x300).pfn, leaf_at(&k.w, a + 0x300 * PG).pfn);
	/* The uniform neighbour block still maps 2M. */
	assert_int_equal(guest_write(&k, 0x10, 3), 0);
	assert_int_equal(spte_at(&k, 0x10).leaf.level, MN_PG_LEVEL_2M);
	/* Uniform again (all private would do as well): the rule allows 2M there again. */
	assert_int_equal(set_attrs(k.vm, 0x280, 0x281, 0), 0);
	assert_true(kvm_mmu_slot_allows_level(k.vm, kvm_gfn_to_memslot(kvm_memslots(k.vm, 0), 0),
					      0x300, MN_PG_LEVEL_2M));
	assert_int_equal(set_attrs(k.vm, 0x200, 0x400, PRIV), 0);
	assert_true(kvm_mmu_slot_allows_level(k.vm, kvm_gfn_to_memslot(kvm_memslots(k.vm, 0), 0),
					      0x300, MN_PG_LEVEL_2M));
	kworld_fini(&k);
}

/* ---- the store ----------------------------------------------------------------------------- */

static void test_store_merges_and_splits_ranges(void **state)
{
	struct kworld k;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	/*
	 *  gfn   0 1 2 3 4 5 6 7 8
	 *        P P P P P P P P -     <- [0, 8) private: one range
	 *        P P - - P P P P -     <- [2, 4) shared: split in two
	 *        P P P P P P P P -     <- [2, 4) private: merged back into one
	 */
	assert_int_equal(set_attrs(k.vm, 0, 8, PRIV), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	assert_int_equal(set_attrs(k.vm, 2, 4, 0), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 2);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 1), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 2), 0);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 3), 0);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 4), PRIV);
	assert_true(kvm_range_has_memory_attributes(k.vm, 2, 4, ~0ULL, 0));
	assert_false(kvm_range_has_memory_attributes(k.vm, 1, 4, ~0ULL, 0));
	assert_false(kvm_range_has_memory_attributes(k.vm, 0, 8, ~0ULL, PRIV));
	assert_int_equal(set_attrs(k.vm, 2, 4, PRIV), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	assert_true(kvm_range_has_memory_attributes(k.vm, 0, 8, ~0ULL, PRIV));
	assert_false(kvm_range_has_memory_attributes(k.vm, 0, 9, ~0ULL, PRIV));
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 7), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 8), 0);
	/* Neighbours that only touch merge too; a shared hole in between splits. */
	assert_int_equal(set_attrs(k.vm, 8, 12, PRIV), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	assert_int_equal(set_attrs(k.vm, 20, 24, PRIV), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 2);
	assert_int_equal(set_attrs(k.vm, 12, 20, PRIV), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	assert_attrs(k.vm, 0, 24, PRIV);
	/* Shared over the edges of the range trims both ends. */
	assert_int_equal(set_attrs(k.vm, 0, 1, 0), 0);
	assert_int_equal(set_attrs(k.vm, 23, 30, 0), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 0), 0);
	assert_attrs(k.vm, 1, 23, PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 23), 0);
	/* All of it shared again: no range is left. */
	assert_int_equal(set_attrs(k.vm, 0, 100, 0), 0);
	assert_int_equal(kvm_attributes_check(k.vm), 0);
	kworld_fini(&k);
}

/* Maximal runs of private gfns in @ref. */
static int runs(const uint8_t *ref, unsigned int n)
{
	unsigned int i;
	int nr = 0;

	for (i = 0; i < n; i++)
		nr += ref[i] && (!i || !ref[i - 1]);
	return nr;
}

static void test_store_matches_a_per_gfn_model(void **state)
{
	enum { N = 256 };
	struct mn_test_rng rng = { mn_test_seed(__func__) };
	uint8_t ref[N] = { 0 };
	struct kworld k;
	unsigned int op;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	for (op = 0; op < 2000; op++) {
		mn_gfn_t start = mn_test_below(&rng, N);
		mn_gfn_t end = start + 1 + mn_test_below(&rng, 48);
		uint64_t attrs = mn_test_below(&rng, 2) ? PRIV : 0;
		mn_gfn_t g, s, e;

		end = end > N ? N : end;
		assert_int_equal(set_attrs(k.vm, start, end, attrs), 0);
		for (g = start; g < end; g++)
			ref[g] = attrs != 0;
		assert_int_equal(kvm_attributes_check(k.vm), runs(ref, N));
		for (g = 0; g < N; g++)
			assert_int_equal(mn_vm_get_memory_attributes(k.vm, g), ref[g] ? PRIV : 0);
		/* A random query against the model. */
		s = mn_test_below(&rng, N);
		e = s + 1 + mn_test_below(&rng, N - s);
		for (attrs = 0; attrs <= PRIV; attrs += PRIV) {
			bool all = true;

			for (g = s; g < e; g++)
				all &= ref[g] == (attrs != 0);
			assert_int_equal(kvm_range_has_memory_attributes(k.vm, s, e, ~0ULL, attrs),
					 all);
		}
	}
	/* No slot anywhere: never an invalidation. */
	assert_int_equal(inval(k.vm).seq, 0);
	kworld_fini(&k);
}

static void test_1g_conversion_is_one_range(void **state)
{
	const mn_gfn_t g1 = GiB / PG; /* 2^18 gfns */
	struct mn_vm_invalidate_state st;
	struct kworld k;
	mn_hva_t ram;

	(void)state;
	kworld_init(&k, MN_THP_NEVER);
	/*
	 *  gpa   0              1G                 1T           2T
	 *  slot  [ slot 0: 1G  )
	 *  attr  PPPPPPPPPPPPPPP                   PPPPPPPPPPPPP  <- no slot: no invalidation
	 */
	ram = map_anon(&k.w, GiB, MN_PROT_READ | MN_PROT_WRITE);
	set_slot(&k, 0, 0, GiB, ram);
	assert_int_equal(guest_write(&k, g1 - 1, 1), 0);
	assert_int_equal(set_attrs(k.vm, 0, g1, PRIV), 0);
	st = inval(k.vm);
	assert_int_equal(st.seq, 1);
	assert_int_equal(st.in_progress, 0);
	assert_int_equal(st.range_start, 0);
	assert_int_equal(st.range_end, g1);
	assert_false(spte_present(&k, g1 - 1));
	assert_int_equal(kvm_attributes_check(k.vm), 1);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 0), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, g1 - 1), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, g1), 0);
	assert_true(kvm_range_has_memory_attributes(k.vm, 0, g1, ~0ULL, PRIV));
	/* A terabyte outside every slot, then shared inside the gigabyte: a split. */
	assert_int_equal(set_attrs(k.vm, 1ULL << 28, 2ULL << 28, PRIV), 0);
	assert_int_equal(inval(k.vm).seq, 1);
	assert_int_equal(set_attrs(k.vm, 1, g1 - 1, 0), 0);
	assert_int_equal(inval(k.vm).seq, 2);
	assert_int_equal(kvm_attributes_check(k.vm), 3);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 0), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 1), 0);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, g1 - 2), 0);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, g1 - 1), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, (2ULL << 28) - 1), PRIV);
	assert_int_equal(mn_vm_get_memory_attributes(k.vm, 2ULL << 28), 0);
	kworld_fini(&k);
}

/* ---- a fault racing two conversions, under every schedule ---------------------------------- */

/*
 *  gfn   0   1   2   3
 *  slot  [ slot 0: 4 pages at ram )
 *  vcpu      R                     <- guest read of gfn 1 (its first touch in the VM)
 *  vmm       P, then -             <- gfn 1 to private, then back to shared
 *
 * Whatever the interleaving, a fault that snapshotted the sequence before a conversion's
 * invalidation, or checks while one is in progress over gfn 1, must retry; at the end the
 * guest reads the host's page, the only leaf gfn 1 may have maps the host's page, and each
 * conversion bumped the sequence once.
 */
struct conv_race {
	struct world w;
	struct mn_vm *vm;
	mn_hva_t ram;
	int vcpu_ret;
	uint64_t val;
	struct mn_vcpu_exit exit;
	int conv_ret[2];
	uint64_t runs, runs_with_retry; /* across the exploration */
};

static void conv_race_vcpu(struct mn_sim *sim, void *arg)
{
	struct conv_race *r = arg;

	(void)sim;
	r->vcpu_ret =
		mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, 1 * PG, MN_PTE_R, &r->val, &r->exit);
}

static void conv_race_vmm(struct mn_sim *sim, void *arg)
{
	struct conv_race *r = arg;

	(void)sim;
	r->conv_ret[0] = set_attrs(r->vm, 1, 2, PRIV);
	r->conv_ret[1] = set_attrs(r->vm, 1, 2, 0);
}

static int conv_race_setup(struct mn_sim *sim, void *arg)
{
	struct conv_race *r = arg;
	struct mn_vm_config cfg = { .arch = MN_VM_X86, .type = MN_VM_TYPE_SW_PROTECTED };
	struct mn_userspace_memory_region2 slot = { .slot = 0, .memory_size = 4 * PG };
	uint64_t v = 0x1111;
	int ret;

	ret = race_world_attach(&r->w, sim, MN_THP_NEVER, &cfg, 4 * PG, &r->vm, &r->ram);
	if (!ret)
		ret = mn_mm_access(r->w.mm, r->ram + PG, MN_PTE_W, &v, NULL);
	slot.userspace_addr = r->ram;
	if (!ret)
		ret = mn_vm_set_user_memory_region2(r->vm, &slot);
	if (!ret)
		mn_check_enable(r->vm);
	if (!ret)
		ret = mn_sim_spawn(sim, "vcpu", conv_race_vcpu, r, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "vmm", conv_race_vmm, r, NULL);
	r->vcpu_ret = -1;
	r->val = 0;
	r->conv_ret[0] = r->conv_ret[1] = -1;
	return ret;
}

static void conv_race_check(struct mn_sim *sim, void *arg)
{
	struct conv_race *r = arg;
	struct mn_vm_invalidate_state st;
	struct mn_pt_walk g, h;
	struct mn_vm_stats vs;
	uint64_t gv = 0;
	int ret;

	ret = mn_pt_check_frames(mn_vm_get_pt(r->vm, 0), r->w.phys, "vm.leaf");
	ret += mn_check_vm_quiescent(r->vm);
	if (ret) {
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.oracle", "%d broken invariants", ret);
		goto out;
	}
	r->runs++;
	mn_vm_get_stats(r->vm, &vs);
	r->runs_with_retry += vs.fault_retries > 0;
	if (r->conv_ret[0] || r->conv_ret[1])
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.conversion", "conversions returned %d, %d",
			       r->conv_ret[0], r->conv_ret[1]);
	/*
	 * The read completed with the host's word, or exited: a private access to a gfn
	 * without guest_memfd (-EFAULT), or the vCPU gave up retrying (-EAGAIN).
	 */
	if (!(r->vcpu_ret == 0 && r->val == 0x1111) &&
	    !(r->vcpu_ret == 1 && r->exit.reason == MN_EXIT_MEMORY_FAULT &&
	      (r->exit.error == -EFAULT || r->exit.error == -EAGAIN)))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.vcpu_result",
			       "access %d read %#llx exit %u/%d", r->vcpu_ret,
			       (unsigned long long)r->val, r->exit.reason, r->exit.error);
	mn_vm_get_invalidate_state(r->vm, &st);
	if (st.seq != 2 || st.in_progress || mn_vm_get_memory_attributes(r->vm, 1))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.books",
			       "seq %llu in_progress %lld attributes %#llx after two conversions",
			       (unsigned long long)st.seq, (long long)st.in_progress,
			       (unsigned long long)mn_vm_get_memory_attributes(r->vm, 1));
	/* Whatever gfn 1 maps now is the host's page of it. */
	if (mn_pt_walk(mn_mm_get_pt(r->w.mm), (r->ram + PG) / PG, &h)) {
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.host", "the host page went away");
		goto out;
	}
	if (!mn_pt_walk(mn_vm_get_pt(r->vm, 0), 1, &g) &&
	    (g.pfn != h.pfn || g.leaf.level != MN_PG_LEVEL_4K))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.wrong_page",
			       "gfn 1 maps pfn %#llx at level %u, the host's page is %#llx",
			       (unsigned long long)g.pfn, g.leaf.level, (unsigned long long)h.pfn);
	/* Quiet now and shared: the guest gets through and reads the host's word. */
	ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, 1 * PG, MN_PTE_R, &gv, NULL);
	if (ret || gv != 0x1111)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.no_progress",
			       "a quiet guest read returned %d, read %#llx", ret,
			       (unsigned long long)gv);
out:
	mn_vm_destroy(r->vm);
	mn_mm_destroy(r->w.mm);
}

static void test_fault_racing_conversions_retries_under_every_schedule(void **state)
{
	static struct conv_race r;
	struct mn_scenario sc = { "x86-fault-vs-private-and-back-checked", conv_race_setup,
				  conv_race_check, NULL, &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	explore_expect(&sc, 2, 100, NULL, NULL);
	print_message("%llu of %llu runs had the fault retry\n",
		      (unsigned long long)r.runs_with_retry, (unsigned long long)r.runs);
	/* The window was hit: some schedule made the fault retry. */
	assert_true(r.runs_with_retry > 0);
	assert_true(r.runs_with_retry < r.runs);
}

/*
 * Mutations of the conversion's steps (and of the fault's check), and the invariant that
 * catches each in this race. kvm.spte_private_without_gmem is lib/check's: a shared page
 * still mapped, or cached in a vCPU TLB, at a gfn that is private in a slot without
 * guest_memfd.
 */
static const struct {
	const char *step;
	const char *caught;
} conv_mutants[] = {
	/* The old shared mapping survives the conversion to private. */
	{ "set_attributes.zap", "kvm.spte_private_without_gmem" },
	/* The zap is not flushed: the vCPU's TLB keeps the shared page. */
	{ "set_attributes.flush", "kvm.spte_private_without_gmem" },
	/* Nothing is stored: the conversion back is a no-op and bumps nothing. */
	{ "set_attributes.store", "test.books" },
	/* The range is added to an invalidation that never began. */
	{ "invalidate_start.begin", "kvm.range_add_outside_begin" },
	/* The sequence never moves: a fault that snapshotted before would not retry. */
	{ "invalidate_end.seq_bump", "test.books" },
	{ "invalidate_end.in_progress_dec", "kvm.not_quiescent" },
	/* A fault whose snapshot a conversion made stale installs anyway. */
	{ "fault.retry_check", "kvm.install_during_invalidation" },
};

static void test_mutations_of_the_conversion_are_caught(void **state)
{
	unsigned int m;

	(void)state;
	for (m = 0; m < sizeof(conv_mutants) / sizeof(conv_mutants[0]); m++) {
		static struct conv_race r;
		struct mn_scenario sc = { "x86-fault-vs-private-and-back-checked", conv_race_setup,
					  conv_race_check, NULL, &r };

		memset(&r, 0, sizeof(r));
		explore_expect(&sc, 2, 0, conv_mutants[m].step, conv_mutants[m].caught);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_requests_fail_in_kernel_order_and_change_nothing),
		cmocka_unit_test(test_vm_without_private_memory_accepts_only_shared),
		cmocka_unit_test(test_private_vm_types_need_x86),
		cmocka_unit_test(test_unchanged_attributes_are_a_noop),
		cmocka_unit_test(test_conversion_to_private_zaps_exactly_the_range),
		cmocka_unit_test(test_conversion_to_shared_zaps_both_kinds),
		cmocka_unit_test(test_conversion_without_slot_stores_without_invalidating),
		cmocka_unit_test(test_head_and_tail_blocks_join_the_invalidation),
		cmocka_unit_test(test_huge_mapping_needs_uniform_attributes),
		cmocka_unit_test(test_store_merges_and_splits_ranges),
		cmocka_unit_test(test_store_matches_a_per_gfn_model),
		cmocka_unit_test(test_1g_conversion_is_one_range),
		cmocka_unit_test(test_fault_racing_conversions_retries_under_every_schedule),
		cmocka_unit_test(test_mutations_of_the_conversion_are_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
