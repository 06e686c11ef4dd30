// SPDX-License-Identifier: MIT
/*
 * test-gpc.c - the gfn_to_pfn cache (lib/kvm/pfncache.c): API errors (PROTOCOL.md §6.5),
 * the consumer pattern reading and writing the guest page, invalidation by the notifier
 * for GPA caches, HVA caches and caches outside every memslot, re-translation after a
 * memslot update, and the refresh racing a munmap under the explorer, with the oracle's
 * gpc check (lib/check) catching the mutations.
 */
#include "mn-test-host.h"
#include "kvm/kvm-internal.h"

#define RW (MN_PROT_READ | MN_PROT_WRITE)

struct gworld {
	struct world w;
	struct mn_vm *vm;
	struct mn_gpc *gpc;
	mn_hva_t ram; /* 4 pages of guest RAM: slot 0 of address space 0 at gpa 0 */
};

static int set_slot0(struct mn_vm *vm, mn_hva_t hva, uint64_t size)
{
	struct mn_userspace_memory_region2 r = { .slot = 0,
						 .memory_size = size,
						 .userspace_addr = hva };

	return mn_vm_set_user_memory_region2(vm, &r);
}

/*
 *  gpa   0   1   2   3   (pages)
 *  slot  [ slot 0: hva ram )
 */
static void gworld_init(struct gworld *g)
{
	world_init(&g->w, MN_THP_NEVER);
	g->ram = map_anon(&g->w, 4 * PG, RW);
	assert_int_equal(mn_vm_create(g->w.mm, NULL, &g->vm), 0);
	assert_int_equal(set_slot0(g->vm, g->ram, 4 * PG), 0);
	assert_int_equal(mn_gpc_create(g->vm, &g->gpc), 0);
}

static void gworld_fini(struct gworld *g)
{
	assert_int_equal(mn_check_vm_quiescent(g->vm), 0);
	mn_gpc_destroy(g->gpc);
	mn_vm_destroy(g->vm);
	world_fini(&g->w);
}

static bool gpc_check(struct mn_gpc *gpc, unsigned long len)
{
	bool ok;

	mn_gpc_read_lock(gpc);
	ok = mn_gpc_check(gpc, len);
	mn_gpc_read_unlock(gpc);
	return ok;
}

static uint64_t seq(struct gworld *g)
{
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(g->vm, &st);
	return st.seq;
}

static void test_gpc_api_rejects_bad_arguments(void **state)
{
	struct gworld g;
	uint64_t v;

	(void)state;
	gworld_init(&g);
	/* Never activated: neither a gpa nor an hva. */
	assert_int_equal(mn_gpc_refresh(g.gpc, 8), -EINVAL);
	assert_false(gpc_check(g.gpc, 8));
	assert_int_equal(mn_gpc_activate(g.gpc, MN_INVALID_GPA, 8), -EINVAL);
	assert_int_equal(mn_gpc_activate(g.gpc, PG - 8, 16), -EINVAL); /* crosses a page */
	assert_int_equal(mn_gpc_activate_hva(g.gpc, g.ram + PG - 4, 8), -EINVAL);
	assert_int_equal(mn_gpc_activate_hva(g.gpc, 1ULL << 47, 8), -EINVAL); /* !access_ok */
	assert_null(g.vm->gpc_list); /* length errors come before the list */
	/* No memslot at 1 GiB: active, on the list, not valid. */
	assert_int_equal(mn_gpc_activate(g.gpc, 1 * GiB, 8), -EFAULT);
	assert_ptr_equal(g.vm->gpc_list, g.gpc);
	assert_false(gpc_check(g.gpc, 8));
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), -EFAULT);
	assert_int_equal(mn_gpc_refresh(g.gpc, PG + 1), -EINVAL);
	/* An hva nothing maps: GUP fails. */
	assert_int_equal(mn_gpc_activate_hva(g.gpc, 1ULL << 40, 8), -EFAULT);
	mn_gpc_deactivate(g.gpc);
	assert_null(g.vm->gpc_list);
	assert_int_equal(mn_gpc_refresh(g.gpc, 8), -EINVAL); /* inactive */
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), -EINVAL);
	mn_gpc_deactivate(g.gpc); /* twice is fine */
	gworld_fini(&g);
}

/*
 * The validation rows of PROTOCOL.md §6.5, one call each on a fresh world: the errno, and
 * that a rejected activation leaves the cache off the list or invalid.
 */
enum gpc_call { ACT_GPA, ACT_HVA, REFRESH, READ };

static void test_gpc_errno_table(void **state)
{
	static const struct {
		const char *row;
		enum gpc_call call;
		uint64_t addr; /* gpa, or an offset into RAM for ACT_HVA (~0: far away) */
		unsigned long len;
		bool activate_first, mark_valid;
		int ret;
		bool listed; /* on the VM's list afterwards */
	} rows[] = {
		{ "activate INVALID_GPA", ACT_GPA, MN_INVALID_GPA, 8, false, false, -EINVAL, false },
		{ "gpa: offset + len > PAGE_SIZE", ACT_GPA, PG - 4, 8, false, false, -EINVAL, false },
		{ "hva: offset + len > PAGE_SIZE", ACT_HVA, PG - 4, 8, false, false, -EINVAL, false },
		{ "hva: !access_ok", ACT_HVA, ~0ULL, 8, false, false, -EINVAL, false },
		{ "gfn in no memslot", ACT_GPA, 1 * GiB, 8, false, false, -EFAULT, true },
		{ "GUP fails (nothing mapped)", ACT_HVA, 1ULL << 40, 8, false, false, -EFAULT, true },
		{ "valid while inactive (KVM_BUG)", ACT_GPA, 0, 8, false, true, -EIO, false },
		{ "refresh of an inactive cache", REFRESH, 0, 8, false, false, -EINVAL, false },
		{ "refresh: len crosses the page", REFRESH, 0, PG + 1, true, false, -EINVAL, true },
		{ "read through an inactive cache", READ, 0, 8, false, false, -EINVAL, false },
		{ "gpa: fine", ACT_GPA, 2 * PG + 8, 8, false, false, 0, true },
		{ "hva: fine", ACT_HVA, PG + 8, 8, false, false, 0, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct gworld g;
		uint64_t v;
		int r = 0;

		gworld_init(&g);
		write_word(&g.w, g.ram + PG, 1);
		write_word(&g.w, g.ram + 2 * PG, 2);
		if (rows[i].activate_first)
			assert_int_equal(mn_gpc_activate(g.gpc, 0, 8), 0);
		if (rows[i].mark_valid)
			g.gpc->valid = true; /* white-box: the state the KVM_BUG_ON guards */
		switch (rows[i].call) {
		case ACT_GPA:
			r = mn_gpc_activate(g.gpc, rows[i].addr, rows[i].len);
			break;
		case ACT_HVA:
			r = mn_gpc_activate_hva(g.gpc,
						rows[i].addr == ~0ULL	     ? 1ULL << 47
						: rows[i].addr >= 1ULL << 40 ? rows[i].addr
									     : g.ram + rows[i].addr,
						rows[i].len);
			break;
		case REFRESH:
			r = mn_gpc_refresh(g.gpc, rows[i].len);
			break;
		case READ:
			r = mn_gpc_read(g.gpc, 0, &v);
			break;
		}
		if (r != rows[i].ret || (g.vm->gpc_list == g.gpc) != rows[i].listed)
			print_message("row '%s': %d, listed %d\n", rows[i].row, r,
				      g.vm->gpc_list == g.gpc);
		assert_int_equal(r, rows[i].ret);
		assert_int_equal(g.vm->gpc_list == g.gpc, rows[i].listed);
		/* A rejected call leaves no valid mapping behind (a valid one stays valid). */
		if (r && !rows[i].mark_valid)
			assert_int_equal(gpc_check(g.gpc, 8), rows[i].activate_first);
		if (rows[i].mark_valid) {
			/* KVM_BUG_ON(): reported, and the cache stays off. */
			assert_int_equal(nr_violations(&g.w, "kvm.gpc_valid_inactive"), 1);
			mn_trace_clear_violations(mn_sim_get_trace(g.w.sim));
			g.gpc->valid = false;
		}
		gworld_fini(&g);
	}
}

static void test_gpc_reads_and_writes_the_guest_page(void **state)
{
	struct gworld g;
	uint64_t v = 0;

	(void)state;
	gworld_init(&g);
	write_word(&g.w, g.ram + 2 * PG, 0x1234);
	assert_int_equal(mn_gpc_activate(g.gpc, 2 * PG + 16, 8), 0);
	assert_true(gpc_check(g.gpc, 8));
	assert_false(gpc_check(g.gpc, PG)); /* 16 + 4096 crosses the page */
	assert_int_equal(g.gpc->ref.pfn, ref_at(&g.w, g.ram + 2 * PG).pfn);
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), 0);
	assert_int_equal(v, 0x1234);
	assert_int_equal(mn_gpc_write(g.gpc, 8, 0x5678), 0);
	assert_int_equal(read_word(&g.w, g.ram + 2 * PG), 0x5678);
	/* Not pinned: the mapping is the page's only reference holder besides GUP's, gone. */
	assert_int_equal(info(&g.w, g.gpc->ref.pfn).refcount, 1);
	assert_int_equal(mn_check_vm(g.vm), 0);
	gworld_fini(&g);
}

static void test_gpc_munmap_invalidates_and_read_refreshes(void **state)
{
	struct mn_frame_ref old;
	struct gworld g;
	mn_hva_t a;
	uint64_t v = 1;

	(void)state;
	gworld_init(&g);
	write_word(&g.w, g.ram + PG, 0xaaa1);
	assert_int_equal(mn_gpc_activate(g.gpc, PG, 8), 0);
	old = g.gpc->ref;
	/*
	 *  gpa    0 1 2 3
	 *  gpc      ^
	 *  munmap   *        <- then MAP_FIXED a fresh page there
	 */
	assert_int_equal(mn_mm_munmap(g.w.mm, g.ram + PG, PG), 0);
	assert_false(g.gpc->valid);
	assert_true(g.gpc->active);
	assert_false(mn_phys_ref_valid(g.w.phys, old)); /* freed: only the notifier saved us */
	assert_int_equal(mn_check_vm(g.vm), 0);
	assert_int_equal(mn_mm_mmap(g.w.mm, g.ram + PG, PG, RW,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a),
			 0);
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), 0);
	assert_int_equal(v, 0); /* the new, zeroed page */
	assert_true(g.gpc->valid);
	assert_int_equal(g.gpc->ref.pfn, ref_at(&g.w, g.ram + PG).pfn);
	assert_int_equal(mn_check_vm(g.vm), 0);
	gworld_fini(&g);
}

static void test_gpc_hva_cache_outside_slots_is_invalidated(void **state)
{
	struct gworld g;
	mn_hva_t other;
	uint64_t v = 0;

	(void)state;
	gworld_init(&g);
	other = map_anon(&g.w, PG, RW);
	write_word(&g.w, other, 0x77);
	assert_int_equal(mn_gpc_activate_hva(g.gpc, other + 24, 8), 0);
	assert_int_equal(g.gpc->gpa, MN_INVALID_GPA);
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), 0);
	assert_int_equal(v, 0x77);
	/* No memslot is hit: seq stays, but mn_count went up and the cache was dropped. */
	assert_int_equal(mn_mm_madvise(g.w.mm, other, PG, MN_MADV_DONTNEED), 0);
	assert_int_equal(seq(&g), 0);
	assert_false(g.gpc->valid);
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mn_check_vm(g.vm), 0);
	gworld_fini(&g);
}

static void test_gpc_memslot_update_forces_retranslation(void **state)
{
	struct gworld g;
	mn_hva_t ram2;
	uint64_t v = 0, gen;

	(void)state;
	gworld_init(&g);
	ram2 = map_anon(&g.w, 4 * PG, RW);
	write_word(&g.w, g.ram + 3 * PG, 0x1111);
	write_word(&g.w, ram2 + 3 * PG, 0x2222);
	assert_int_equal(mn_gpc_activate(g.gpc, 3 * PG, 8), 0);
	gen = g.gpc->generation;
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), 0);
	assert_int_equal(v, 0x1111);
	/*
	 *  gpa   0 1 2 3
	 *  slot  [ ram  )   -> deleted, then [ ram2 ) at the same gpa
	 */
	assert_int_equal(set_slot0(g.vm, g.ram, 0), 0);
	assert_int_equal(set_slot0(g.vm, ram2, 4 * PG), 0);
	assert_true(g.gpc->valid);	   /* the host page is still there ... */
	assert_false(gpc_check(g.gpc, 8)); /* ... but the generation moved */
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), 0);
	assert_int_equal(v, 0x2222);
	assert_true(g.gpc->generation != gen);
	assert_int_equal(g.gpc->uhva, ram2 + 3 * PG);
	/* Deleted slot: the refresh fails with -EFAULT and leaves the cache invalid. */
	assert_int_equal(set_slot0(g.vm, ram2, 0), 0);
	assert_int_equal(mn_gpc_read(g.gpc, 0, &v), -EFAULT);
	assert_false(g.gpc->valid);
	assert_int_equal(set_slot0(g.vm, g.ram, 4 * PG), 0);
	gworld_fini(&g);
}

static void test_gpc_oracle_reports_a_stale_cache(void **state)
{
	struct gworld g;

	(void)state;
	gworld_init(&g);
	write_word(&g.w, g.ram, 1);
	assert_int_equal(mn_gpc_activate(g.gpc, 0, 8), 0);
	/* The notifier's invalidation missed: the host remaps, the cache still says valid. */
	g.vm->gpc_list = NULL;
	assert_int_equal(mn_mm_madvise(g.w.mm, g.ram, PG, MN_MADV_DONTNEED), 0);
	g.vm->gpc_list = g.gpc;
	assert_int_equal(mn_check_vm(g.vm), 1);
	assert_int_equal(nr_violations(&g.w, "frame.use_after_free"), 1);
	write_word(&g.w, g.ram, 2);
	write_word(&g.w, g.ram + PG, 3);
	g.gpc->ref = ref_at(&g.w, g.ram + PG); /* live, but not the frame behind its uhva */
	assert_int_equal(mn_check_vm(g.vm), 1);
	assert_int_equal(nr_violations(&g.w, "kvm.gpc_stale_host"), 1);
	/* A VM destroyed with the cache still active. */
	mn_vm_destroy(g.vm);
	assert_int_equal(nr_violations(&g.w, "kvm.gpc_left_active"), 1);
	world_destroy(&g.w);
}

/* ---- explored: a vCPU's gpc read against the VMM replacing the page ---------------------- */

struct race {
	struct gworld g;
	uint64_t val;
	int ret[2];
};

static void vcpu_read(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;

	(void)sim;
	r->ret[0] = mn_gpc_read(r->g.gpc, 0, &r->val);
}

static void vmm_replace(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	mn_hva_t a;

	(void)sim;
	r->ret[1] = mn_mm_munmap(r->g.w.mm, r->g.ram, PG);
	if (!r->ret[1])
		r->ret[1] =
			mn_mm_mmap(r->g.w.mm, r->g.ram, PG, RW,
				   MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a);
}

/*
 *  gpa   0 1 2 3
 *  slot  [ ram  )
 *  gpc   ^          invalid at the start: the read refreshes it
 *  vmm   *          munmap + MAP_FIXED remap of page 0
 */
static int race_setup(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	struct gworld *g = &r->g;
	uint64_t v = 0x1111;

	memset(r, 0, sizeof(*r));
	if (world_attach(&g->w, sim, MN_THP_NEVER) ||
	    mn_mm_mmap(g->w.mm, 0, 4 * PG, RW, MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0,
		       &g->ram) ||
	    mn_vm_create(g->w.mm, NULL, &g->vm) || set_slot0(g->vm, g->ram, 4 * PG) ||
	    mn_mm_access(g->w.mm, g->ram, MN_PTE_W, &v, NULL) || mn_gpc_create(g->vm, &g->gpc) ||
	    mn_gpc_activate(g->gpc, 0, 8))
		return -ENOMEM;
	/*
	 * Invalid, as an earlier invalidation leaves it (white-box: the mutations under test
	 * may skip that invalidation), so that the vCPU's read must refresh it.
	 */
	g->gpc->valid = false;
	mn_check_enable(g->vm);
	mn_sim_spawn(sim, "vcpu", vcpu_read, r, NULL);
	mn_sim_spawn(sim, "vmm", vmm_replace, r, NULL);
	return 0;
}

static void race_check(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;

	/*
	 * Before the munmap the old page's word, after the remap the new page's zero; a GUP
	 * that falls into the hole between the two fails the refresh with -EFAULT, and a refresh
	 * the schedule keeps from seeing the munmap's end gives up with -EAGAIN.
	 */
	if ((r->ret[0] && r->ret[0] != -EFAULT && r->ret[0] != -EAGAIN) || r->ret[1] ||
	    (r->val != 0x1111 && r->val != 0))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.gpc_read",
			       "read %d (%#llx), munmap/mmap %d", r->ret[0],
			       (unsigned long long)r->val, r->ret[1]);
	mn_check_vm_quiescent(r->g.vm);
	mn_gpc_destroy(r->g.gpc);
	mn_vm_destroy(r->g.vm);
	mn_mm_destroy(r->g.w.mm);
}

static void test_gpc_refresh_races_invalidate(void **state)
{
	static struct race r;
	struct mn_scenario sc = { "gpc-read-vs-munmap (x86)", race_setup, race_check, NULL, &r };

	(void)state;
	explore_expect(&sc, 2, 50, NULL, NULL);
	/* Publishing without the retry test: the page GUP took before the munmap. */
	explore_expect(&sc, 2, 0, "gpc_refresh.retry_check", "kvm.gpc_stale_host");
	/* No invalidation at start: the cache keeps the page the munmap frees. */
	explore_expect(&sc, 2, 0, "invalidate_start.gpc_invalidate", "kvm.gpc_stale_host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpc_api_rejects_bad_arguments),
		cmocka_unit_test(test_gpc_errno_table),
		cmocka_unit_test(test_gpc_reads_and_writes_the_guest_page),
		cmocka_unit_test(test_gpc_munmap_invalidates_and_read_refreshes),
		cmocka_unit_test(test_gpc_hva_cache_outside_slots_is_invalidated),
		cmocka_unit_test(test_gpc_memslot_update_forces_retranslation),
		cmocka_unit_test(test_gpc_oracle_reports_a_stale_cache),
		cmocka_unit_test(test_gpc_refresh_races_invalidate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
