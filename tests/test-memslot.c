// SPDX-License-Identifier: MIT
/*
 * test-memslot.c - KVM_SET_USER_MEMORY_REGION2 (lib/kvm/memslot.c): every validation row of
 * PROTOCOL.md §6.1 on x86 and arm64 with proof that a rejected request changes nothing;
 * create, delete, move and flags-only with their generation arithmetic; the SMM address
 * space; the swap waiting for notifier invalidations and SRCU readers (explored, and caught
 * when the wait is mutated away); -ENOMEM at every allocation site.
 */
#include "mn-test-host.h"

#include "kvm/kvm-internal.h"

#define ARCH_X86   (1U << MN_VM_X86)
#define ARCH_ARM64 (1U << MN_VM_ARM64)
#define ARCH_BOTH  (ARCH_X86 | ARCH_ARM64)

/*
 * The base layout of most tests (gfns in hex; hvas are never touched unless a test maps
 * them):
 *
 *  gfn   100        110  ...  200        210
 *  slot0 [0000000000)         [1111111111)   slot1 READONLY
 */
#define GPA0   0x100000ULL
#define GPA1   0x200000ULL
#define SIZE01 (16 * PG)
#define HVA0   0x7f0000000000ULL
#define HVA1   0x7f0000100000ULL
#define HVA_X  0x7f0000200000ULL /* for new slots */

static const char *arch_name(enum mn_vm_arch arch)
{
	return arch == MN_VM_X86 ? "x86" : "arm64";
}

/* ---- a world with a VM --------------------------------------------------------------------- */

struct vmw {
	struct world w;
	struct mn_vm *vm;
	struct mn_alloc *alloc;
};

static uint64_t live_objects(struct mn_alloc *a)
{
	struct mn_alloc_stats st;

	mn_alloc_get_stats(a, &st);
	return st.live_objects;
}

static void vmw_init(struct vmw *v, enum mn_vm_arch arch)
{
	struct mn_vm_config cfg = { .arch = arch };

	world_init(&v->w, MN_THP_NEVER);
	v->alloc = mn_sim_get_alloc(v->w.sim);
	assert_int_equal(mn_vm_create(v->w.mm, &cfg, &v->vm), 0);
}

static struct mn_userspace_memory_region2 region(uint32_t slot, uint32_t flags, uint64_t gpa,
						 uint64_t size, uint64_t uaddr)
{
	return (struct mn_userspace_memory_region2){ .slot = slot,
						     .flags = flags,
						     .guest_phys_addr = gpa,
						     .memory_size = size,
						     .userspace_addr = uaddr };
}

static int set_mem(struct mn_vm *vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
		   uint64_t uaddr)
{
	struct mn_userspace_memory_region2 r = region(slot, flags, gpa, size, uaddr);

	return mn_vm_set_user_memory_region2(vm, &r);
}

static void base_layout(struct mn_vm *vm)
{
	assert_int_equal(set_mem(vm, 0, 0, GPA0, SIZE01, HVA0), 0);
	assert_int_equal(set_mem(vm, 1, MN_MEM_READONLY, GPA1, SIZE01, HVA1), 0);
}

static struct kvm_memory_slot *slot_of(struct mn_itree_node *n, size_t off, int idx)
{
	return (struct kvm_memory_slot *)((char *)(n - idx) - off);
}

/*
 * The slot with the smallest id >= *@id in @slots' id map, its id in *@id; or NULL. Every
 * slot in ascending id order: for (id = 0; (slot = slot_from(slots, &id)); id++).
 */
static struct kvm_memory_slot *slot_from(struct kvm_memslots *slots, unsigned int *id)
{
	for (; *id < KVM_MEM_SLOTS_NUM; (*id)++) {
		struct kvm_memory_slot **chunk = slots->id_map[*id >> KVM_ID_CHUNK_SHIFT];

		if (!chunk)
			*id |= KVM_ID_CHUNK - 1;
		else if (chunk[*id & (KVM_ID_CHUNK - 1)])
			return chunk[*id & (KVM_ID_CHUNK - 1)];
	}
	return NULL;
}

/*
 * The sets of an idle VM: per address space both sets hold the same slots (by pointer),
 * each slot linked into every tree of both sets through its own node [node_idx] with the
 * right interval; trees valid; no INVALID slot; generations clean, ≡ as_id (mod nr_as), the
 * active one equal to or nr_as ahead of the inactive one; the page and logging counts right.
 */
static void check_memslots(struct mn_vm *vm)
{
	uint64_t pages = 0;
	unsigned int logging = 0, as;

	for (as = 0; as < vm->nr_as; as++) {
		struct kvm_memslots *act = vm->memslots[as];
		struct kvm_memslots *ina = &vm->__memslots[as][act->node_idx ^ 1];
		struct kvm_memory_slot *slot;
		unsigned int id, nr;
		int j;

		assert_true(act == &vm->__memslots[as][0] || act == &vm->__memslots[as][1]);
		for (j = 0; j < 2; j++) {
			struct kvm_memslots *s = &vm->__memslots[as][j];

			assert_int_equal(s->node_idx, j);
			assert_int_equal(mn_itree_check_invariants(&s->hva_tree), 0);
			assert_int_equal(mn_itree_check_invariants(&s->gfn_tree), 0);
			assert_int_equal(s->hva_tree.count, s->nr_slots);
			assert_int_equal(s->gfn_tree.count, s->nr_slots);
			assert_false(s->generation & KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS);
			assert_int_equal(s->generation % vm->nr_as, as);
		}
		assert_int_equal(act->nr_slots, ina->nr_slots);
		assert_true(act->generation == ina->generation ||
			    act->generation == ina->generation + vm->nr_as);
		nr = 0;
		for (id = 0; (slot = slot_from(act, &id)); id++) {
			nr++;
			assert_ptr_equal(kvm_id_to_memslot(ina, slot->id), slot);
			assert_int_equal(slot->as_id, as);
			assert_int_equal(id, slot->id);
			assert_false(slot->flags & KVM_MEMSLOT_INVALID);
			assert_true(slot->npages > 0);
			for (j = 0; j < 2; j++) {
				assert_int_equal(slot->hva_node[j].start, slot->userspace_addr);
				assert_int_equal(slot->hva_node[j].last,
						 slot->userspace_addr + slot->npages * PG - 1);
				assert_int_equal(slot->gfn_node[j].start, slot->base_gfn);
				assert_int_equal(slot->gfn_node[j].last,
						 slot->base_gfn + slot->npages - 1);
			}
			assert_int_equal(!!slot->dirty_bitmap,
					 !!(slot->flags & MN_MEM_LOG_DIRTY_PAGES));
			logging += !!(slot->flags & MN_MEM_LOG_DIRTY_PAGES);
			pages += slot->npages;
		}
		assert_int_equal(nr, act->nr_slots);
		/* And the inactive set maps no id the active one does not. */
		nr = 0;
		for (id = 0; (slot = slot_from(ina, &id)); id++)
			nr++;
		assert_int_equal(nr, act->nr_slots);
	}
	assert_int_equal(vm->nr_memslot_pages, pages);
	assert_int_equal(vm->nr_memslots_dirty_logging, logging);
}

/*
 * Free the memslots first (what mn_vm_destroy() does last): exactly the slots and their
 * bitmaps go, and both sets are left empty. Then destroy the VM, check and free the world.
 */
static void vmw_fini(struct vmw *v)
{
	uint64_t objs = 0, live;
	unsigned int as;

	check_memslots(v->vm);
	for (as = 0; as < v->vm->nr_as; as++) {
		struct kvm_memslots *act = v->vm->memslots[as];
		struct kvm_memory_slot *slot;
		unsigned int id, c;
		int j;

		for (id = 0; (slot = slot_from(act, &id)); id++)
			objs += 1 + !!slot->dirty_bitmap;
		/* The id chunks of both sets. */
		for (j = 0; j < 2; j++) {
			for (c = 0; c < KVM_ID_CHUNKS; c++)
				objs += !!v->vm->__memslots[as][j].id_map[c];
		}
	}
	live = live_objects(v->alloc);
	kvm_memslots_free(v->vm);
	assert_int_equal(live_objects(v->alloc), live - objs);
	for (as = 0; as < v->vm->nr_as; as++) {
		assert_int_equal(v->vm->__memslots[as][0].nr_slots, 0);
		assert_int_equal(v->vm->__memslots[as][1].gfn_tree.count, 0);
		assert_null(v->vm->__memslots[as][0].id_map[0]);
	}
	mn_vm_destroy(v->vm);
	world_fini(&v->w);
}

/* ---- snapshots: "nothing changed" --------------------------------------------------------- */

struct slot_snap {
	const struct kvm_memory_slot *p;
	unsigned int as_id, id;
	uint64_t base_gfn, npages, uaddr;
	uint32_t flags;
	const void *bitmap;
};

struct snap {
	const struct kvm_memslots *active[KVM_MAX_NR_ADDRESS_SPACES];
	uint64_t gen[KVM_MAX_NR_ADDRESS_SPACES][2];
	uint64_t nr_pages;
	unsigned int nr_logging;
	uint64_t updates;
	uint64_t live;
	unsigned int nr;
	struct slot_snap s[32];
};

static void take_snap(struct mn_vm *vm, struct snap *s)
{
	struct mn_vm_stats st;
	unsigned int as;

	memset(s, 0, sizeof(*s));
	for (as = 0; as < vm->nr_as; as++) {
		struct kvm_memslots *act = vm->memslots[as];
		struct kvm_memory_slot *slot;
		unsigned int id;

		s->active[as] = act;
		s->gen[as][0] = vm->__memslots[as][0].generation;
		s->gen[as][1] = vm->__memslots[as][1].generation;
		for (id = 0; (slot = slot_from(act, &id)); id++) {
			assert_true(s->nr < ARRAY_SIZE(s->s));
			s->s[s->nr++] = (struct slot_snap){ slot,	  slot->as_id,
							    slot->id,	  slot->base_gfn,
							    slot->npages, slot->userspace_addr,
							    slot->flags,  slot->dirty_bitmap };
		}
	}
	s->nr_pages = vm->nr_memslot_pages;
	s->nr_logging = vm->nr_memslots_dirty_logging;
	mn_vm_get_stats(vm, &st);
	s->updates = st.memslot_updates;
	s->live = live_objects(mn_sim_get_alloc(vm->sim));
}

/*
 * @b equals @a, except that address space @as_id swapped @swaps times (a DELETE or MOVE that
 * failed after its INVALID phase: the INVALID copy went out and the old slot came back).
 */
static void assert_unchanged(struct mn_vm *vm, const struct snap *a, const struct snap *b,
			     unsigned int as_id, unsigned int swaps, const char *what)
{
	unsigned int as, i;

	for (as = 0; as < vm->nr_as; as++) {
		int idx = a->active[as]->node_idx;

		if (a->active[as] != b->active[as])
			fail_msg("%s: the active set of address space %u changed", what, as);
		if (as == as_id && swaps) {
			assert_int_equal(b->gen[as][idx], a->gen[as][idx] + swaps * vm->nr_as);
			continue;
		}
		if (memcmp(a->gen[as], b->gen[as], sizeof(a->gen[as])))
			fail_msg("%s: generations of address space %u changed", what, as);
	}
	if (b->updates != a->updates + swaps)
		fail_msg("%s: %llu swaps, expected %u", what,
			 (unsigned long long)(b->updates - a->updates), swaps);
	if (a->nr != b->nr || a->nr_pages != b->nr_pages || a->nr_logging != b->nr_logging)
		fail_msg("%s: slot count or accounting changed", what);
	for (i = 0; i < a->nr; i++)
		if (memcmp(&a->s[i], &b->s[i], sizeof(a->s[i])))
			fail_msg("%s: slot %u changed", what, a->s[i].id);
	if (a->live != b->live)
		fail_msg("%s: %lld objects leaked", what, (long long)(b->live - a->live));
}

/* ---- validation: PROTOCOL.md §6.1 ------------------------------------------------------------ */

enum pre {
	PRE_NONE = 0,
	PRE_ZERO_PAGES, /* white box: nr_memslot_pages claims 0 (a KVM accounting bug) */
	PRE_HUGE_PAGES, /* white box: nr_memslot_pages near U64_MAX */
};

struct row {
	const char *what;
	unsigned int archs;
	enum pre pre;
	struct mn_userspace_memory_region2 r;
	int err;
	unsigned int swaps; /* swaps made although the request failed */
};

#define R(s, f, gpa, size, hva)                                                             \
	{                                                                                   \
		.slot = (s), .flags = (f), .guest_phys_addr = (gpa), .memory_size = (size), \
		.userspace_addr = (hva)                                                     \
	}
#define NEW(gpa, size) R(5, 0, (gpa), (size), HVA_X)

/* Every row of §6.1 the model has, in the table's order; the base layout exists. */
static const struct row rows[] = {
	/* kvm_vm_ioctl_set_memory_region(): (u16)slot >= KVM_USER_MEM_SLOTS */
	{ "x86: slot id 32764 is internal", ARCH_X86, 0, R(32764, 0, 0x300000, PG, HVA_X), -EINVAL,
	  0 },
	{ "slot id 32767 (KVM_MEM_SLOTS_NUM)", ARCH_BOTH, 0, R(32767, 0, 0x300000, PG, HVA_X),
	  -EINVAL, 0 },
	{ "slot id 0xffff of address space 1", ARCH_BOTH, 0, R(0x1ffff, 0, 0x300000, PG, HVA_X),
	  -EINVAL, 0 },
	/* V1 check_memory_region_flags() */
	{ "unknown flag bit 3", ARCH_BOTH, 0, R(5, 1U << 3, 0x300000, PG, HVA_X), -EINVAL, 0 },
	{ "internal KVM_MEMSLOT_INVALID from userspace", ARCH_BOTH, 0,
	  R(5, KVM_MEMSLOT_INVALID, 0x300000, PG, HVA_X), -EINVAL, 0 },
	{ "internal KVM_MEMSLOT_GMEM_ONLY from userspace", ARCH_BOTH, 0,
	  R(5, KVM_MEMSLOT_GMEM_ONLY, 0x300000, PG, HVA_X), -EINVAL, 0 },
	{ "GUEST_MEMFD with fd 0, not open (V16, kvm_gmem_bind())", ARCH_BOTH, 0,
	  R(5, MN_MEM_GUEST_MEMFD, 0x300000, PG, HVA_X), -EBADF, 0 },
	{ "GUEST_MEMFD with LOG_DIRTY_PAGES", ARCH_BOTH, 0,
	  R(5, MN_MEM_GUEST_MEMFD | MN_MEM_LOG_DIRTY_PAGES, 0x300000, PG, HVA_X), -EINVAL, 0 },
	{ "GUEST_MEMFD with READONLY", ARCH_BOTH, 0,
	  R(5, MN_MEM_GUEST_MEMFD | MN_MEM_READONLY, 0x300000, PG, HVA_X), -EINVAL, 0 },
	/* V3 size */
	{ "size not a page multiple", ARCH_BOTH, 0, NEW(0x300000, PG + 1), -EINVAL, 0 },
	{ "size below a page", ARCH_BOTH, 0, NEW(0x300000, 0x800), -EINVAL, 0 },
	/* V4 gpa */
	{ "gpa not page aligned", ARCH_BOTH, 0, NEW(0x300800, PG), -EINVAL, 0 },
	/* V5 uaddr */
	{ "uaddr not page aligned", ARCH_BOTH, 0, R(5, 0, 0x300000, PG, HVA_X + 0x10), -EINVAL, 0 },
	{ "uaddr + size beyond TASK_SIZE", ARCH_BOTH, 0,
	  R(5, 0, 0x300000, 2 * PG, (1ULL << 47) - PG), -EINVAL, 0 },
	{ "uaddr at TASK_SIZE", ARCH_BOTH, 0, R(5, 0, 0x300000, PG, 1ULL << 47), -EINVAL, 0 },
	{ "uaddr in the guard page below 2^47", ARCH_BOTH, 0,
	  R(5, 0, 0x300000, PG, (1ULL << 47) - PG), -EINVAL, 0 },
	{ "uaddr + size wraps", ARCH_BOTH, 0, R(5, 0, 0x300000, 2 * PG, ~0ULL - PG + 1), -EINVAL,
	  0 },
	{ "tagged uaddr (arm64 TBI; x86 non-canonical)", ARCH_BOTH, 0,
	  R(5, 0, 0x300000, PG, (0x5aULL << 56) | HVA_X), -EINVAL, 0 },
	/* V6 is behind V1 until guest_memfd exists */
	{ "GUEST_MEMFD with an unaligned offset",
	  ARCH_BOTH,
	  0,
	  { .slot = 5,
	    .flags = MN_MEM_GUEST_MEMFD,
	    .guest_phys_addr = 0x300000,
	    .memory_size = PG,
	    .userspace_addr = HVA_X,
	    .guest_memfd_offset = 0x10 },
	  -EINVAL,
	  0 },
	/* V7 address space */
	{ "arm64: address space 1", ARCH_ARM64, 0, R(1U << 16, 0, 0x300000, PG, HVA_X), -EINVAL,
	  0 },
	{ "x86: address space 2", ARCH_X86, 0, R(2U << 16, 0, 0x300000, PG, HVA_X), -EINVAL, 0 },
	/* V8 */
	{ "gpa + size wraps", ARCH_BOTH, 0, NEW(~0ULL - PG + 1, 2 * PG), -EINVAL, 0 },
	/* V9 */
	{ "2^31 pages", ARCH_BOTH, 0, R(5, 0, 0, 1ULL << 43, 0x100000000ULL), -EINVAL, 0 },
	/* V11 delete */
	{ "delete a slot that does not exist", ARCH_BOTH, 0, R(5, 0, 0, 0, 0), -EINVAL, 0 },
	{ "x86: delete slot 0 of address space 1 (only AS 0 has one)", ARCH_X86, 0,
	  R(1U << 16, 0, GPA0, 0, HVA0), -EINVAL, 0 },
	{ "delete with the page count underflowing (KVM bug: WARN)", ARCH_BOTH, PRE_ZERO_PAGES,
	  R(0, 0, GPA0, 0, HVA0), -EIO, 0 },
	/* V12 create */
	{ "create making the page count wrap", ARCH_BOTH, PRE_HUGE_PAGES, NEW(0x300000, SIZE01),
	  -EINVAL, 0 },
	/* V13 modify */
	{ "modify with GUEST_MEMFD", ARCH_BOTH, 0, R(0, MN_MEM_GUEST_MEMFD, GPA0, SIZE01, HVA0),
	  -EINVAL, 0 },
	{ "modify changing uaddr", ARCH_BOTH, 0, R(0, 0, GPA0, SIZE01, HVA0 + SIZE01), -EINVAL, 0 },
	{ "modify changing size", ARCH_BOTH, 0, R(0, 0, GPA0, 2 * SIZE01, HVA0), -EINVAL, 0 },
	{ "modify shrinking", ARCH_BOTH, 0, R(0, 0, GPA0, PG, HVA0), -EINVAL, 0 },
	{ "modify turning READONLY on", ARCH_BOTH, 0, R(0, MN_MEM_READONLY, GPA0, SIZE01, HVA0),
	  -EINVAL, 0 },
	{ "modify turning READONLY off", ARCH_BOTH, 0, R(1, 0, GPA1, SIZE01, HVA1), -EINVAL, 0 },
	{ "move and turn READONLY off", ARCH_BOTH, 0, R(1, 0, 0x300000, SIZE01, HVA1), -EINVAL, 0 },
	{ "identical request: no-op", ARCH_BOTH, 0, R(0, 0, GPA0, SIZE01, HVA0), 0, 0 },
	{ "identical READONLY request: no-op", ARCH_BOTH, 0,
	  R(1, MN_MEM_READONLY, GPA1, SIZE01, HVA1), 0, 0 },
	/* V14 overlap */
	{ "create overlapping the tail of slot 0", ARCH_BOTH, 0, NEW(GPA0 + 8 * PG, SIZE01),
	  -EEXIST, 0 },
	{ "create overlapping the head of slot 0", ARCH_BOTH, 0, NEW(GPA0 - 8 * PG, SIZE01),
	  -EEXIST, 0 },
	{ "create inside slot 0", ARCH_BOTH, 0, NEW(GPA0 + 4 * PG, PG), -EEXIST, 0 },
	{ "create covering both slots", ARCH_BOTH, 0, NEW(0, 0x300000), -EEXIST, 0 },
	{ "move slot 0 onto slot 1", ARCH_BOTH, 0, R(0, 0, GPA1 + 8 * PG, SIZE01, HVA0), -EEXIST,
	  0 },
	/* kvm_arch_prepare_memory_region() */
	{ "x86: create ending beyond kvm_mmu_max_gfn()", ARCH_X86, 0,
	  NEW((1ULL << 48) - PG, 2 * PG), -EINVAL, 0 },
	{ "x86: move ending beyond kvm_mmu_max_gfn() (after the INVALID swap)", ARCH_X86, 0,
	  R(0, 0, (1ULL << 48) - 8 * PG, SIZE01, HVA0), -EINVAL, 2 },
	{ "arm64: create ending beyond the IPA space", ARCH_ARM64, 0,
	  NEW((1ULL << 40) - PG, 2 * PG), -EFAULT, 0 },
	{ "arm64: move ending beyond the IPA space (after the INVALID swap)", ARCH_ARM64, 0,
	  R(0, 0, (1ULL << 40) - 8 * PG, SIZE01, HVA0), -EFAULT, 2 },
	/* ... with the dirty bitmap just allocated for it freed again */
	{ "x86: create logging beyond kvm_mmu_max_gfn()", ARCH_X86, 0,
	  R(5, MN_MEM_LOG_DIRTY_PAGES, (1ULL << 48) - PG, 2 * PG, HVA_X), -EINVAL, 0 },
	{ "x86: move starting to log beyond kvm_mmu_max_gfn()", ARCH_X86, 0,
	  R(0, MN_MEM_LOG_DIRTY_PAGES, (1ULL << 48) - 8 * PG, SIZE01, HVA0), -EINVAL, 2 },
	{ "arm64: create logging beyond the IPA space", ARCH_ARM64, 0,
	  R(5, MN_MEM_LOG_DIRTY_PAGES, (1ULL << 40) - PG, 2 * PG, HVA_X), -EFAULT, 0 },
	{ "arm64: move starting to log beyond the IPA space", ARCH_ARM64, 0,
	  R(0, MN_MEM_LOG_DIRTY_PAGES, (1ULL << 40) - 8 * PG, SIZE01, HVA0), -EFAULT, 2 },
};

static void validation_table(enum mn_vm_arch arch)
{
	struct vmw v;
	unsigned int i, n = 0;

	vmw_init(&v, arch);
	base_layout(v.vm);
	check_memslots(v.vm);
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *row = &rows[i];
		uint64_t saved = v.vm->nr_memslot_pages;
		struct snap a, b;
		int r;

		if (!(row->archs & (1U << arch)))
			continue;
		n++;
		if (row->pre == PRE_ZERO_PAGES)
			v.vm->nr_memslot_pages = 0;
		else if (row->pre == PRE_HUGE_PAGES)
			v.vm->nr_memslot_pages = ~0ULL - 3;
		take_snap(v.vm, &a);
		r = mn_vm_set_user_memory_region2(v.vm, &row->r);
		take_snap(v.vm, &b);
		v.vm->nr_memslot_pages = saved;
		if (row->pre == PRE_ZERO_PAGES)
			b.live = a.live; /* the violation report is kept in the trace */
		if (r != row->err)
			fail_msg("%s: %s: returned %d, expected %d", arch_name(arch), row->what, r,
				 row->err);
		assert_unchanged(v.vm, &a, &b, row->r.slot >> 16, row->swaps, row->what);
		if (row->pre == PRE_ZERO_PAGES) {
			assert_int_equal(nr_violations(&v.w, "kvm.nr_memslot_pages_underflow"), 1);
			mn_trace_clear_violations(mn_sim_get_trace(v.w.sim));
		}
		assert_int_equal(nr_violations(&v.w, NULL), 0);
		check_memslots(v.vm);
	}
	print_message("%s: %u rows\n", arch_name(arch), n);
	vmw_fini(&v);
}

static void test_validation_rows_change_nothing_x86(void **state)
{
	(void)state;
	validation_table(MN_VM_X86);
}

static void test_validation_rows_change_nothing_arm64(void **state)
{
	(void)state;
	validation_table(MN_VM_ARM64);
}

/* The last valid value of each limit the table probes is accepted. */
static void test_limits_accept_last_valid_values(void **state)
{
	struct vmw v;

	(void)state;
	vmw_init(&v, MN_VM_X86);
	/* KVM_USER_MEM_SLOTS - 1, in both address spaces */
	assert_int_equal(set_mem(v.vm, 32763, 0, 0x300000, PG, HVA_X), 0);
	assert_int_equal(set_mem(v.vm, (1U << 16) | 32763, 0, 0x300000, PG, HVA_X), 0);
	/* ending at kvm_mmu_max_gfn() of 4-level EPT, and at TASK_SIZE_MAX (2^47 - 4 KiB) */
	assert_int_equal(set_mem(v.vm, 1, 0, (1ULL << 48) - PG, PG, (1ULL << 47) - 2 * PG), 0);
	/* KVM_MEM_MAX_NR_PAGES */
	assert_int_equal(set_mem(v.vm, 2, 0, 1ULL << 40, KVM_MEM_MAX_NR_PAGES * PG, 0x1000000), 0);
	assert_int_equal(v.vm->nr_memslot_pages, 3 + KVM_MEM_MAX_NR_PAGES);
	check_memslots(v.vm);
	vmw_fini(&v);

	vmw_init(&v, MN_VM_ARM64);
	assert_int_equal(set_mem(v.vm, 32766, 0, 0x300000, PG, HVA_X), 0);
	assert_int_equal(set_mem(v.vm, 32764, 0, 0x400000, PG, HVA_X), 0);
	/* ending at the 40-bit IPA size */
	assert_int_equal(set_mem(v.vm, 1, 0, (1ULL << 40) - PG, PG, HVA0), 0);
	check_memslots(v.vm);
	vmw_fini(&v);
}

/* ---- the happy paths ----------------------------------------------------------------------- */

static void test_memslots_init_empty_sets(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct vmw v;
		unsigned int as;

		vmw_init(&v, arch);
		assert_int_equal(v.vm->nr_as, arch == MN_VM_X86 ? 2 : 1);
		for (as = 0; as < v.vm->nr_as; as++) {
			assert_ptr_equal(v.vm->memslots[as], &v.vm->__memslots[as][0]);
			assert_int_equal(v.vm->__memslots[as][0].generation, as);
			assert_int_equal(v.vm->__memslots[as][1].generation, as);
			assert_int_equal(v.vm->__memslots[as][1].node_idx, 1);
			assert_null(kvm_gfn_to_memslot(v.vm->memslots[as], 0));
			assert_null(kvm_id_to_memslot(v.vm->memslots[as], 0));
		}
		check_memslots(v.vm);
		vmw_fini(&v);
	}
}

/* @slot is what the active set of its address space finds by gfn, hva and id. */
static void assert_found(struct mn_vm *vm, const struct kvm_memory_slot *slot)
{
	struct kvm_memslots *act = vm->memslots[slot->as_id];
	mn_hva_t hva = slot->userspace_addr + (slot->npages - 1) * PG;
	struct mn_itree_node *n;

	assert_ptr_equal(kvm_gfn_to_memslot(act, slot->base_gfn), slot);
	assert_ptr_equal(kvm_gfn_to_memslot(act, slot->base_gfn + slot->npages - 1), slot);
	assert_ptr_equal(act->last_used_slot, slot);
	assert_ptr_equal(kvm_id_to_memslot(act, slot->id), slot);
	n = mn_itree_iter_first(&act->hva_tree, hva, hva);
	assert_non_null(n);
	assert_ptr_equal(slot_of_hva_node(n, act->node_idx), slot);
	assert_null(mn_itree_iter_next(n, hva, hva));
	assert_int_equal(gfn_to_hva_memslot(slot, slot->base_gfn + 1), slot->userspace_addr + PG);
}

static void create_delete(enum mn_vm_arch arch)
{
	struct vmw v;
	struct kvm_memory_slot *slot;
	struct kvm_memslots *act;
	uint64_t gen, live, nr_as;
	struct snap a, b;

	vmw_init(&v, arch);
	nr_as = v.vm->nr_as;
	live = live_objects(v.alloc);
	take_snap(v.vm, &a);
	gen = v.vm->memslots[0]->generation;

	/*  gfn   0ff 100        110
	 *  slot0     [0000000000)       <- create: one swap
	 */
	assert_int_equal(set_mem(v.vm, 0, 0, GPA0, SIZE01, HVA0), 0);
	act = v.vm->memslots[0];
	assert_ptr_equal(act, &v.vm->__memslots[0][1]); /* node_idx flipped */
	assert_int_equal(act->generation, gen + nr_as);
	assert_int_equal(v.vm->__memslots[0][0].generation, gen);
	slot = kvm_id_to_memslot(act, 0);
	assert_non_null(slot);
	assert_int_equal(slot->base_gfn, GPA0 / PG);
	assert_int_equal(slot->npages, 16);
	assert_int_equal(slot->userspace_addr, HVA0);
	assert_int_equal(slot->flags, 0);
	assert_null(slot->dirty_bitmap);
	assert_found(v.vm, slot);
	assert_null(kvm_gfn_to_memslot(act, GPA0 / PG - 1));
	assert_null(kvm_gfn_to_memslot(act, GPA0 / PG + 16));
	assert_null(mn_itree_iter_first(&act->hva_tree, HVA0 + SIZE01, HVA0 + SIZE01));
	assert_int_equal(v.vm->nr_memslot_pages, 16);
	take_snap(v.vm, &b);
	assert_int_equal(b.updates, a.updates + 1);
	if (nr_as == 2) /* the other address space did not move */
		assert_memory_equal(a.gen[1], b.gen[1], sizeof(a.gen[1]));
	check_memslots(v.vm);

	/* The same request again is a no-op. */
	assert_int_equal(set_mem(v.vm, 0, 0, GPA0, SIZE01, HVA0), 0);
	take_snap(v.vm, &a);
	assert_unchanged(v.vm, &b, &a, 0, 0, "no-op");

	/*  gfn   0ff 100        110
	 *  slot0     ..........         <- delete: INVALID swap, then install swap
	 */
	assert_int_equal(set_mem(v.vm, 0, 0, GPA0, 0, HVA0), 0);
	assert_ptr_equal(v.vm->memslots[0], act); /* flipped twice */
	assert_int_equal(act->generation, gen + 3 * nr_as);
	assert_int_equal(v.vm->__memslots[0][0].generation, gen + 2 * nr_as);
	assert_null(kvm_gfn_to_memslot(act, GPA0 / PG));
	assert_null(kvm_id_to_memslot(act, 0));
	assert_null(act->last_used_slot);
	assert_null(mn_itree_iter_first(&act->hva_tree, HVA0, HVA0));
	assert_int_equal(v.vm->nr_memslot_pages, 0);
	take_snap(v.vm, &b);
	assert_int_equal(b.updates, a.updates + 2);
	/* All that is left is the id map chunk of ids 0-255 in each set, kept for reuse. */
	assert_int_equal(live_objects(v.alloc), live + 2);
	assert_non_null(v.vm->__memslots[0][0].id_map[0]);
	assert_non_null(v.vm->__memslots[0][1].id_map[0]);
	check_memslots(v.vm);

	/* Deleting it again is an error. */
	assert_int_equal(set_mem(v.vm, 0, 0, GPA0, 0, HVA0), -EINVAL);
	vmw_fini(&v);
}

static void test_create_then_delete_x86(void **state)
{
	(void)state;
	create_delete(MN_VM_X86);
}

static void test_create_then_delete_arm64(void **state)
{
	(void)state;
	create_delete(MN_VM_ARM64);
}

static void test_move_keeps_hva_and_changes_gfns(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct kvm_memory_slot *old, *slot;
		struct vmw v;
		uint64_t gen;

		vmw_init(&v, arch);
		base_layout(v.vm);
		old = kvm_id_to_memslot(v.vm->memslots[0], 0);
		gen = v.vm->memslots[0]->generation;

		/*  gfn   100     108        110        118
		 *  slot0 [0000000000)                          before
		 *  slot0         [0000000000000000000000)      after: may overlap its old range
		 */
		assert_int_equal(set_mem(v.vm, 0, 0, GPA0 + 8 * PG, SIZE01, HVA0), 0);
		assert_int_equal(v.vm->memslots[0]->generation, gen + 2 * v.vm->nr_as);
		slot = kvm_id_to_memslot(v.vm->memslots[0], 0);
		assert_ptr_not_equal(slot, old); /* a new object; the old one is freed */
		assert_int_equal(slot->base_gfn, GPA0 / PG + 8);
		assert_int_equal(slot->userspace_addr, HVA0);
		assert_found(v.vm, slot);
		assert_null(kvm_gfn_to_memslot(v.vm->memslots[0], GPA0 / PG + 7));
		assert_int_equal(gfn_to_hva_memslot(slot, GPA0 / PG + 8), HVA0);
		assert_int_equal(v.vm->nr_memslot_pages, 32);
		check_memslots(v.vm);

		/* Move it below, away from everything. */
		assert_int_equal(set_mem(v.vm, 0, 0, 0, SIZE01, HVA0), 0);
		slot = kvm_id_to_memslot(v.vm->memslots[0], 0);
		assert_found(v.vm, slot);
		assert_null(kvm_gfn_to_memslot(v.vm->memslots[0], GPA0 / PG + 8));
		check_memslots(v.vm);
		vmw_fini(&v);
	}
}

static void test_flags_only_allocates_and_frees_dirty_bitmap(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct kvm_memory_slot *slot;
		uint64_t gen, live;
		const void *bitmap;
		struct vmw v;

		vmw_init(&v, arch);
		base_layout(v.vm);
		live = live_objects(v.alloc);
		gen = v.vm->memslots[0]->generation;

		/* Logging on: one swap, a bitmap of 2 x 16 bits (zeroed). */
		assert_int_equal(set_mem(v.vm, 0, MN_MEM_LOG_DIRTY_PAGES, GPA0, SIZE01, HVA0), 0);
		assert_int_equal(v.vm->memslots[0]->generation, gen + v.vm->nr_as);
		slot = kvm_id_to_memslot(v.vm->memslots[0], 0);
		assert_non_null(slot->dirty_bitmap);
		assert_int_equal(slot->dirty_bitmap[0], 0);
		assert_int_equal(slot->dirty_bitmap[1], 0);
		assert_int_equal(v.vm->nr_memslots_dirty_logging, 1);
		assert_int_equal(live_objects(v.alloc), live + 1);
		bitmap = slot->dirty_bitmap;
		check_memslots(v.vm);

		/* A move while logging keeps the bitmap. */
		assert_int_equal(set_mem(v.vm, 0, MN_MEM_LOG_DIRTY_PAGES, 0, SIZE01, HVA0), 0);
		slot = kvm_id_to_memslot(v.vm->memslots[0], 0);
		assert_ptr_equal(slot->dirty_bitmap, bitmap);
		assert_int_equal(v.vm->nr_memslots_dirty_logging, 1);

		/* Read-only slots log too. */
		assert_int_equal(set_mem(v.vm, 1, MN_MEM_READONLY | MN_MEM_LOG_DIRTY_PAGES, GPA1,
					 SIZE01, HVA1),
				 0);
		assert_int_equal(v.vm->nr_memslots_dirty_logging, 2);
		check_memslots(v.vm);

		/* Logging off: the bitmaps go. */
		assert_int_equal(set_mem(v.vm, 0, 0, 0, SIZE01, HVA0), 0);
		assert_int_equal(set_mem(v.vm, 1, MN_MEM_READONLY, GPA1, SIZE01, HVA1), 0);
		assert_null(kvm_id_to_memslot(v.vm->memslots[0], 0)->dirty_bitmap);
		assert_int_equal(v.vm->nr_memslots_dirty_logging, 0);
		assert_int_equal(live_objects(v.alloc), live);

		/* Created logging, deleted logging. */
		assert_int_equal(
			set_mem(v.vm, 5, MN_MEM_LOG_DIRTY_PAGES, 0x300000, 100 * PG, HVA_X), 0);
		assert_int_equal(v.vm->nr_memslots_dirty_logging, 1);
		check_memslots(v.vm);
		assert_int_equal(set_mem(v.vm, 5, 0, 0x300000, 0, HVA_X), 0);
		assert_int_equal(v.vm->nr_memslots_dirty_logging, 0);
		assert_int_equal(live_objects(v.alloc), live);
		check_memslots(v.vm);
		vmw_fini(&v);
	}
}

/* Where a node sits in its tree: its links, colour and subtree maximum. */
struct node_pos {
	struct mn_itree_node *parent, *left, *right;
	int color;
	uint64_t subtree_last;
};

static struct node_pos node_pos(struct mn_itree_node *n)
{
	return (struct node_pos){ RB_PARENT(n, rb), RB_LEFT(n, rb), RB_RIGHT(n, rb),
				  RB_COLOR(n, rb), n->subtree_last };
}

static void assert_same_pos(struct mn_itree_node *n, const struct node_pos *p)
{
	assert_ptr_equal(RB_PARENT(n, rb), p->parent);
	assert_ptr_equal(RB_LEFT(n, rb), p->left);
	assert_ptr_equal(RB_RIGHT(n, rb), p->right);
	assert_int_equal(RB_COLOR(n, rb), p->color);
	assert_int_equal(n->subtree_last, p->subtree_last);
}

/*
 * kvm_replace_memslot() puts the replacement in the old slot's gfn node when the base gfn
 * stays, as the kernel does (kvm_replace_gfn_node(): rb_replace_node()): after a FLAGS_ONLY
 * change the new slot's gfn node sits exactly where the old slot's was, in both sets, and
 * the id map gives the new slot. The slot watched is the one at the root of the gfn tree,
 * whose removal and reinsertion would have put it at a leaf.
 *
 *  gfn   slot 0 | slot 1 | ... | slot 19        (16 pages each, ascending)
 *  FLAGS_ONLY on the root's slot (logging on), then a MOVE of it above slot 19
 */
static void test_replace_keeps_gfn_node_in_place(void **state)
{
	const unsigned int nr = 20;
	struct kvm_memory_slot *slot;
	struct kvm_memslots *act;
	struct node_pos gfn[2];
	unsigned int i, k;
	struct vmw v;
	int j;

	(void)state;
	vmw_init(&v, MN_VM_X86);
	for (i = 0; i < nr; i++)
		assert_int_equal(set_mem(v.vm, i, 0, GPA0 + i * SIZE01, SIZE01, HVA0 + i * SIZE01),
				 0);
	act = v.vm->memslots[0];
	slot = slot_of(RB_ROOT(&act->gfn_tree.rb), offsetof(struct kvm_memory_slot, gfn_node),
		       act->node_idx);
	k = slot->id;
	for (j = 0; j < 2; j++) {
		assert_ptr_equal(RB_ROOT(&v.vm->__memslots[0][j].gfn_tree.rb), &slot->gfn_node[j]);
		assert_non_null(RB_LEFT(&slot->gfn_node[j], rb));
		assert_non_null(RB_RIGHT(&slot->gfn_node[j], rb));
		gfn[j] = node_pos(&slot->gfn_node[j]);
	}

	/* FLAGS_ONLY: a new slot object, in the old one's place in both sets. */
	assert_int_equal(set_mem(v.vm, k, MN_MEM_LOG_DIRTY_PAGES, GPA0 + k * SIZE01, SIZE01,
				 HVA0 + k * SIZE01),
			 0);
	check_memslots(v.vm);
	slot = kvm_id_to_memslot(v.vm->memslots[0], k);
	assert_non_null(slot->dirty_bitmap);
	for (j = 0; j < 2; j++) {
		assert_ptr_equal(kvm_id_to_memslot(&v.vm->__memslots[0][j], k), slot);
		assert_ptr_equal(RB_ROOT(&v.vm->__memslots[0][j].gfn_tree.rb), &slot->gfn_node[j]);
		assert_same_pos(&slot->gfn_node[j], &gfn[j]);
	}

	/* MOVE: the gfn node is erased and inserted again, so it leaves the root. */
	assert_int_equal(set_mem(v.vm, k, MN_MEM_LOG_DIRTY_PAGES, GPA0 + nr * SIZE01, SIZE01,
				 HVA0 + k * SIZE01),
			 0);
	check_memslots(v.vm);
	slot = kvm_id_to_memslot(v.vm->memslots[0], k);
	assert_int_equal(slot->base_gfn, (GPA0 + nr * SIZE01) / PG);
	for (j = 0; j < 2; j++) {
		assert_ptr_equal(kvm_id_to_memslot(&v.vm->__memslots[0][j], k), slot);
		assert_ptr_not_equal(RB_ROOT(&v.vm->__memslots[0][j].gfn_tree.rb),
				     &slot->gfn_node[j]);
	}
	vmw_fini(&v);
}

/*
 * The id map (the kernel's id_hash): a chunk of ids appears in both sets with the first slot
 * created in it and stays; ids at the chunk edges and the last user id map to their slots;
 * ids past KVM_MEM_SLOTS_NUM map to nothing.
 *
 *  id    0 1 ... 255 | 256 ... 511 | ... | last user id
 *        A           | B                 | C            (A, B, C: slots created)
 */
static void test_id_map_chunks(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		unsigned int last, ids[3], c, i;
		struct vmw v;
		int j;

		vmw_init(&v, arch);
		last = kvm_user_mem_slots(v.vm) - 1;
		ids[0] = KVM_ID_CHUNK - 1;
		ids[1] = KVM_ID_CHUNK;
		ids[2] = last;
		for (j = 0; j < 2; j++) {
			for (c = 0; c < KVM_ID_CHUNKS; c++)
				assert_null(v.vm->__memslots[0][j].id_map[c]);
		}
		for (i = 0; i < 3; i++) {
			assert_int_equal(set_mem(v.vm, ids[i], 0, GPA0 + i * SIZE01, SIZE01,
						 HVA0 + i * SIZE01),
					 0);
			for (j = 0; j < 2; j++) {
				struct kvm_memslots *s = &v.vm->__memslots[0][j];

				assert_non_null(s->id_map[ids[i] >> KVM_ID_CHUNK_SHIFT]);
				assert_int_equal(kvm_id_to_memslot(s, ids[i])->id, ids[i]);
				if (i != 1) /* ids[1] - 1 is ids[0] */
					assert_null(kvm_id_to_memslot(s, ids[i] - 1));
				assert_int_equal(s->nr_slots, i + 1);
			}
		}
		for (j = 0; j < 2; j++) {
			struct kvm_memslots *s = &v.vm->__memslots[0][j];

			assert_null(kvm_id_to_memslot(s, KVM_MEM_SLOTS_NUM));
			assert_null(kvm_id_to_memslot(s, UINT32_MAX));
			for (c = 0, i = 0; c < KVM_ID_CHUNKS; c++)
				i += !!s->id_map[c];
			assert_int_equal(i, 3);
		}
		check_memslots(v.vm);

		/* Deleting the only slot of a chunk keeps the chunk, empty. */
		assert_int_equal(set_mem(v.vm, ids[1], 0, GPA0 + SIZE01, 0, HVA0 + SIZE01), 0);
		for (j = 0; j < 2; j++) {
			struct kvm_memslots *s = &v.vm->__memslots[0][j];

			assert_non_null(s->id_map[1]);
			assert_null(kvm_id_to_memslot(s, ids[1]));
			assert_int_equal(s->nr_slots, 2);
		}
		check_memslots(v.vm);
		vmw_fini(&v);
	}
}

/* x86 SMM: slot ids are as_id << 16 | id, and each address space has its own sets. */
static void test_x86_address_spaces_are_independent(void **state)
{
	struct kvm_memory_slot *s0, *s1;
	struct snap a, b;
	struct vmw v;

	(void)state;
	vmw_init(&v, MN_VM_X86);
	base_layout(v.vm);
	take_snap(v.vm, &a);

	/*  AS 0: slot0 [100, 110)    AS 1: slot0 [100, 110), another hva: no overlap */
	assert_int_equal(set_mem(v.vm, 1U << 16, 0, GPA0, SIZE01, HVA_X), 0);
	take_snap(v.vm, &b);
	assert_ptr_equal(b.active[0], a.active[0]);
	assert_memory_equal(b.gen[0], a.gen[0], sizeof(a.gen[0]));
	assert_ptr_equal(v.vm->memslots[1], &v.vm->__memslots[1][1]);
	assert_int_equal(v.vm->memslots[1]->generation, 1 + 2);
	s0 = kvm_gfn_to_memslot(v.vm->memslots[0], GPA0 / PG);
	s1 = kvm_gfn_to_memslot(v.vm->memslots[1], GPA0 / PG);
	assert_ptr_not_equal(s0, s1);
	assert_int_equal(s0->as_id, 0);
	assert_int_equal(s1->as_id, 1);
	assert_int_equal(s1->id, 0);
	assert_found(v.vm, s1);
	assert_int_equal(v.vm->nr_memslot_pages, 48);
	/* Overlap is per address space. */
	assert_int_equal(set_mem(v.vm, (1U << 16) | 2, 0, GPA0, PG, HVA_X), -EEXIST);
	assert_int_equal(set_mem(v.vm, (1U << 16) | 2, 0, GPA1, PG, HVA_X), 0);
	check_memslots(v.vm);

	/* Deleting in AS 1 swaps AS 1 twice and leaves AS 0 alone. */
	take_snap(v.vm, &a);
	assert_int_equal(set_mem(v.vm, 1U << 16, 0, 0, 0, 0), 0);
	take_snap(v.vm, &b);
	assert_memory_equal(b.gen[0], a.gen[0], sizeof(a.gen[0]));
	assert_int_equal(v.vm->memslots[1]->generation, a.gen[1][a.active[1]->node_idx] + 4);
	assert_int_equal(v.vm->memslots[1]->generation % 2, 1);
	assert_null(kvm_gfn_to_memslot(v.vm->memslots[1], GPA0 / PG));
	assert_ptr_equal(kvm_gfn_to_memslot(v.vm->memslots[0], GPA0 / PG), s0);
	check_memslots(v.vm);
	vmw_fini(&v);
}

/* ---- the secondary MMU: INVALID phase zaps, FLAGS_ONLY does not --------------------------- */

/* Map gfn GPA0/PG of AS 0 to the frame behind HVA0 (as a fault would). */
static void map_gfn(struct vmw *v)
{
	struct mn_frame_ref ref;
	struct mn_pt_walk wk;

	write_word(&v->w, HVA0, 42);
	ref = ref_at(&v->w, HVA0);
	mn_write_lock(v->w.sim, &v->vm->mmu_lock);
	assert_int_equal(kvm_mmu_map(v->vm, 0, GPA0 / PG, ref, MN_PG_LEVEL_4K, MN_PTE_R | MN_PTE_W),
			 0);
	mn_write_unlock(v->w.sim, &v->vm->mmu_lock);
	assert_int_equal(mn_pt_walk(mn_vm_get_pt(v->vm, 0), GPA0 / PG, &wk), 0);
	assert_int_equal(wk.pfn, ref.pfn);
}

static bool gfn_mapped(struct vmw *v, mn_gfn_t gfn)
{
	struct mn_pt_walk wk;

	return mn_pt_walk(mn_vm_get_pt(v->vm, 0), gfn, &wk) == 0;
}

static void test_delete_and_move_zap_flags_only_does_not(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct vmw v;
		mn_hva_t a;

		vmw_init(&v, arch);
		assert_int_equal(mn_mm_mmap(v.w.mm, HVA0, SIZE01, MN_PROT_READ | MN_PROT_WRITE,
					    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL,
					    0, &a),
				 0);
		assert_int_equal(set_mem(v.vm, 0, 0, GPA0, SIZE01, HVA0), 0);
		map_gfn(&v);

		/* FLAGS_ONLY: no INVALID phase, no zap. */
		assert_int_equal(set_mem(v.vm, 0, MN_MEM_LOG_DIRTY_PAGES, GPA0, SIZE01, HVA0), 0);
		assert_true(gfn_mapped(&v, GPA0 / PG));

		/* MOVE zaps the old gfns. */
		assert_int_equal(set_mem(v.vm, 0, 0, GPA1, SIZE01, HVA0), 0);
		assert_false(gfn_mapped(&v, GPA0 / PG));
		assert_int_equal(set_mem(v.vm, 0, 0, GPA0, SIZE01, HVA0), 0);

		/* DELETE zaps. */
		map_gfn(&v);
		assert_int_equal(set_mem(v.vm, 0, 0, GPA0, 0, HVA0), 0);
		assert_false(gfn_mapped(&v, GPA0 / PG));
		check_memslots(v.vm);
		vmw_fini(&v);
	}
}

/* The mutation the tests of the fault path will catch: a delete that does not zap. */
static void test_skipping_flush_shadow_leaves_stale_sptes(void **state)
{
	struct vmw v;
	mn_hva_t a;

	(void)state;
	vmw_init(&v, MN_VM_ARM64);
	assert_int_equal(mn_mm_mmap(v.w.mm, HVA0, SIZE01, MN_PROT_READ | MN_PROT_WRITE,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a),
			 0);
	assert_int_equal(set_mem(v.vm, 0, 0, GPA0, SIZE01, HVA0), 0);
	map_gfn(&v);
	assert_int_equal(mn_sim_skip_step(v.w.sim, "memslot.flush_shadow"), 0);
	assert_int_equal(set_mem(v.vm, 0, 0, GPA0, 0, HVA0), 0);
	mn_sim_clear_mutations(v.w.sim);
	assert_null(kvm_gfn_to_memslot(v.vm->memslots[0], GPA0 / PG));
	assert_true(gfn_mapped(&v, GPA0 / PG)); /* stale: no slot, still mapped */
	check_memslots(v.vm);
	vmw_fini(&v); /* release zaps it */
}

/* Each step a mutation can skip leaves coherent sets behind (only the protocol breaks). */
static void test_skipped_steps_keep_sets_consistent(void **state)
{
	static const char *const steps[] = { "memslot.invalidate_swap", "memslot.flush_shadow",
					     "memslot.wait_invalidations",
					     "memslot.synchronize_srcu" };
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		struct vmw v;

		vmw_init(&v, MN_VM_X86);
		assert_int_equal(mn_sim_skip_step(v.w.sim, steps[i]), 0);
		base_layout(v.vm);
		assert_int_equal(set_mem(v.vm, 0, MN_MEM_LOG_DIRTY_PAGES, GPA0, SIZE01, HVA0), 0);
		check_memslots(v.vm);
		assert_int_equal(set_mem(v.vm, 0, MN_MEM_LOG_DIRTY_PAGES, 0, SIZE01, HVA0), 0);
		check_memslots(v.vm);
		/* a move that fails in prepare rolls back */
		assert_int_equal(set_mem(v.vm, 0, 0, 1ULL << 48, SIZE01, HVA0), -EINVAL);
		check_memslots(v.vm);
		assert_int_equal(set_mem(v.vm, 1, MN_MEM_READONLY, GPA1, 0, HVA1), 0);
		check_memslots(v.vm);
		assert_int_equal(v.vm->nr_memslot_pages, 16);
		mn_sim_clear_mutations(v.w.sim);
		vmw_fini(&v);
	}
}

/* ---- -ENOMEM at every allocation site --------------------------------------------------- */

struct nomem_op {
	const char *what;
	struct mn_userspace_memory_region2 r;
	unsigned int allocs;	/* allocations the request makes */
	unsigned int late_fail; /* the allocation that fails after the INVALID swap, or 0 */
};

static const struct nomem_op nomem_ops[] = {
	/* new slot, dirty bitmap */
	{ "create logging", R(5, MN_MEM_LOG_DIRTY_PAGES, 0x300000, SIZE01, HVA_X), 2, 0 },
	/* INVALID copy */
	{ "delete", R(0, 0, GPA0, 0, HVA0), 1, 0 },
	/* new slot, INVALID copy */
	{ "move", R(0, 0, 0x300000, SIZE01, HVA0), 2, 0 },
	/* new slot, INVALID copy, bitmap: rolled back with a second swap */
	{ "move and start logging", R(0, MN_MEM_LOG_DIRTY_PAGES, 0x300000, SIZE01, HVA0), 3, 3 },
	/* new slot, bitmap */
	{ "start logging", R(0, MN_MEM_LOG_DIRTY_PAGES, GPA0, SIZE01, HVA0), 2, 0 },
	/* new slot only: the bitmap stays with the old slot until commit */
	{ "stop logging", R(2, 0, 0x400000, SIZE01, HVA_X + SIZE01), 1, 0 },
	/* new slot, the id map chunk of each set (ids 256-511: none yet) */
	{ "create in a new id chunk", R(300, 0, 0x300000, SIZE01, HVA_X), 3, 0 },
	/* new slot, id map chunks, dirty bitmap: the chunks go again */
	{ "create logging in a new id chunk",
	  R(300, MN_MEM_LOG_DIRTY_PAGES, 0x300000, SIZE01, HVA_X), 4, 0 },
};

/*
 * For each request, make its 1st, 2nd, ... allocation fail on a fresh VM until the request
 * makes fewer allocations than that: every failure is -ENOMEM with nothing changed or
 * leaked (a MOVE whose bitmap fails has already swapped twice, as in the kernel).
 */
static void enomem_at_each_allocation(enum mn_vm_arch arch)
{
	unsigned int i, nth;

	for (i = 0; i < ARRAY_SIZE(nomem_ops); i++) {
		const struct nomem_op *op = &nomem_ops[i];

		for (nth = 1;; nth++) {
			struct snap a, b;
			struct vmw v;
			int r;

			vmw_init(&v, arch);
			base_layout(v.vm);
			assert_int_equal(set_mem(v.vm, 2, MN_MEM_LOG_DIRTY_PAGES, 0x400000, SIZE01,
						 HVA_X + SIZE01),
					 0);
			take_snap(v.vm, &a);
			mn_alloc_fail_nth(v.alloc, nth);
			r = mn_vm_set_user_memory_region2(v.vm, &op->r);
			if (mn_alloc_fail_pending(v.alloc)) {
				mn_alloc_fail_nth(v.alloc, 0);
				assert_int_equal(r, 0);
				assert_int_equal(nth - 1, op->allocs);
				check_memslots(v.vm);
				vmw_fini(&v);
				break;
			}
			take_snap(v.vm, &b);
			if (r != -ENOMEM)
				fail_msg("%s: allocation %u failed, returned %d", op->what, nth, r);
			assert_unchanged(v.vm, &a, &b, 0, nth == op->late_fail ? 2 : 0, op->what);
			check_memslots(v.vm);
			vmw_fini(&v);
		}
	}
}

static void test_enomem_at_each_allocation_changes_nothing(void **state)
{
	(void)state;
	enomem_at_each_allocation(MN_VM_X86);
	enomem_at_each_allocation(MN_VM_ARM64);
}

/* ---- concurrency: the swap waits for invalidations and SRCU readers ---------------------- */

struct scn {
	struct mn_vm *vm;
	uint64_t saw_updater_waiting; /* over all runs */
};

static int scn_setup_vm(struct mn_sim *sim, struct scn *s)
{
	struct mn_mm_config mc = { .thp = MN_THP_NEVER };
	struct mn_vm_config vc = { .arch = MN_VM_X86 };
	struct mn_mm *mm;
	int ret;

	ret = mn_mm_create(sim, &mc, &mm);
	if (ret)
		return ret;
	return mn_vm_create(mm, &vc, &s->vm);
}

/*
 * A notifier's start..end as the memslot code sees it (kvm_mmu_notifier_invalidate_range_
 * start() / _end(): mn_active_invalidate_count raised under mn_invalidate_lock, then the
 * wake-up when it drops to 0). Between the two the active set must not change: that is the
 * ordering the swap's wait provides.
 */
static void notifier_thread(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;
	struct mn_vm *vm = s->vm;
	struct kvm_memslots *set;
	bool wake;
	int i;

	mn_spin_lock(sim, &vm->mn_invalidate_lock);
	vm->mn_active_invalidate_count++;
	mn_spin_unlock(sim, &vm->mn_invalidate_lock);
	set = vm->memslots[0];
	for (i = 0; i < 3; i++) {
		mn_yield(sim, "test.notifier_work");
		/* S2 marked the inactive set: the updater is inside the swap, waiting. */
		if (vm->__memslots[0][set->node_idx ^ 1].generation &
		    KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS)
			s->saw_updater_waiting++;
	}
	if (vm->memslots[0] != set)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.swap_during_invalidation",
			       "the active memslot set changed between start and end");
	mn_spin_lock(sim, &vm->mn_invalidate_lock);
	wake = !--vm->mn_active_invalidate_count;
	mn_spin_unlock(sim, &vm->mn_invalidate_lock);
	if (wake)
		mn_wake_up(sim, &vm->mn_memslots_update_wait);
}

static void create_thread(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;
	int r = set_mem(s->vm, 0, 0, GPA0, SIZE01, HVA0);

	if (r)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.update_failed", "create returned %d", r);
}

static int wait_setup(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;
	int ret = scn_setup_vm(sim, s);

	if (!ret)
		ret = mn_sim_spawn(sim, "notifier", notifier_thread, s, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "updater", create_thread, s, NULL);
	return ret;
}

static void wait_check(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;

	if (!kvm_gfn_to_memslot(s->vm->memslots[0], GPA0 / PG) || s->vm->mn_active_invalidate_count)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.end_state", "slot missing or count left");
}

static void test_swap_waits_for_notifier_invalidations(void **state)
{
	struct scn s = { 0 };
	const struct mn_scenario sc = {
		.name = "memslot swap vs invalidate start/end",
		.setup = wait_setup,
		.check = wait_check,
		.arg = &s,
	};

	(void)state;
	explore_expect(&sc, 3, 10, NULL, NULL);
	assert_true(s.saw_updater_waiting > 0); /* some schedules made the updater wait */
	explore_expect(&sc, 2, 0, "memslot.wait_invalidations", "test.swap_during_invalidation");
}

/*
 * An SRCU reader (a vCPU fault, a notifier walk) keeps using the set it loaded: nothing in
 * it may change until it leaves, which is what synchronize_srcu() in the swap ensures.
 */
static void reader_thread(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;
	struct kvm_memslots *set;
	struct kvm_memory_slot *slot;
	int idx, i;

	idx = mn_srcu_read_lock(sim, &s->vm->srcu);
	set = kvm_memslots(s->vm, 0);
	slot = kvm_id_to_memslot(set, 0);
	for (i = 0; i < 2; i++)
		mn_yield(sim, "test.reader_work");
	if (kvm_id_to_memslot(set, 0) != slot)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.set_changed_under_srcu",
			       "the memslot set a reader holds changed under it");
	mn_srcu_read_unlock(sim, &s->vm->srcu, idx);
}

static void delete_thread(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;
	int r = set_mem(s->vm, 0, 0, GPA0, 0, HVA0);

	if (r)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.update_failed", "delete returned %d", r);
}

static int srcu_setup(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;
	int ret = scn_setup_vm(sim, s);

	if (!ret)
		ret = set_mem(s->vm, 0, 0, GPA0, SIZE01, HVA0);
	if (!ret)
		ret = mn_sim_spawn(sim, "reader", reader_thread, s, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "deleter", delete_thread, s, NULL);
	return ret;
}

static void srcu_check(struct mn_sim *sim, void *arg)
{
	struct scn *s = arg;

	if (kvm_id_to_memslot(s->vm->memslots[0], 0) || s->vm->nr_memslot_pages)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.end_state", "slot 0 still there");
}

static void test_swap_waits_for_srcu_readers(void **state)
{
	struct scn s = { 0 };
	const struct mn_scenario sc = {
		.name = "memslot delete vs SRCU reader",
		.setup = srcu_setup,
		.check = srcu_check,
		.arg = &s,
	};

	(void)state;
	explore_expect(&sc, 3, 10, NULL, NULL);
	explore_expect(&sc, 2, 0, "memslot.synchronize_srcu", "test.set_changed_under_srcu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memslots_init_empty_sets),
		cmocka_unit_test(test_validation_rows_change_nothing_x86),
		cmocka_unit_test(test_validation_rows_change_nothing_arm64),
		cmocka_unit_test(test_limits_accept_last_valid_values),
		cmocka_unit_test(test_create_then_delete_x86),
		cmocka_unit_test(test_create_then_delete_arm64),
		cmocka_unit_test(test_move_keeps_hva_and_changes_gfns),
		cmocka_unit_test(test_flags_only_allocates_and_frees_dirty_bitmap),
		cmocka_unit_test(test_replace_keeps_gfn_node_in_place),
		cmocka_unit_test(test_id_map_chunks),
		cmocka_unit_test(test_x86_address_spaces_are_independent),
		cmocka_unit_test(test_delete_and_move_zap_flags_only_does_not),
		cmocka_unit_test(test_skipping_flush_shadow_leaves_stale_sptes),
		cmocka_unit_test(test_skipped_steps_keep_sets_consistent),
		cmocka_unit_test(test_enomem_at_each_allocation_changes_nothing),
		cmocka_unit_test(test_swap_waits_for_notifier_invalidations),
		cmocka_unit_test(test_swap_waits_for_srcu_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
