// SPDX-License-Identifier: MIT
/*
 * test-host-migrate.c - folios moved and reshaped behind migration entries (lib/host/migrate.c,
 * lib/host/khugepaged.c): migration of small, THP and shmem folios, the -EAGAIN back-out on a
 * GUP reference, device migration's event, THP split of the PMD and of the folio, collapse,
 * and a fault racing a migration under the explorer.
 */
#include "mn-test-host.h"

#include <limits.h>

/* ---- migration ------------------------------------------------------------------------------- */

static void test_migrate_4k_moves_data_and_frees_old_frame_after_start(void **state)
{
	struct mn_frame_ref old;
	struct mn_pt_walk wk;
	struct world w;
	mn_pfn_t pfn = 0;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_mem(&w, 4 * PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a + PG, 0x1234);
	old = ref_at(&w, a + PG);
	rec_watch(&w.rec, old);
	/*
	 *  page     0 1 2 3
	 *  mapped     x
	 *  migrate    *      <- one CLEAR pair over [1, 2)
	 */
	assert_int_equal(mn_mm_migrate(w.mm, a + PG, 0, &pfn), 0);
	assert_int_not_equal(pfn, old.pfn);
	wk = leaf_at(&w, a + PG);
	assert_int_equal(wk.pfn, pfn);
	assert_int_equal(wk.leaf.level, MN_PG_LEVEL_4K);
	assert_true(wk.leaf.perm & MN_PTE_W); /* it was a writable entry */
	assert_true(wk.leaf.dirty);
	assert_false(mn_phys_ref_valid(w.phys, old));
	assert_int_equal(info(&w, pfn).mapcount, 1);
	assert_int_equal(info(&w, pfn).refcount, 1);
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, a + PG, a + 2 * PG);
	assert_true(w.rec.ev[0].live); /* the old frame outlived the start callback */
	assert_int_equal(read_word(&w, a + PG), 0x1234);
	assert_int_equal(stats(&w).migrations, 1);
	assert_int_equal(stats(&w).frames_freed, 1);

	/* Nothing there, or the zero page: -EFAULT; unknown flags: -EINVAL. */
	assert_int_equal(mn_mm_migrate(w.mm, a, 0, NULL), -EFAULT);
	assert_int_equal(read_word(&w, a + 2 * PG), 0);
	assert_int_equal(mn_mm_migrate(w.mm, a + 2 * PG, 0, NULL), -EFAULT);
	assert_int_equal(mn_mm_migrate(w.mm, a - PG, 0, NULL), -EFAULT);
	assert_int_equal(mn_mm_migrate(w.mm, a + PG, 0x80, NULL), -EINVAL);
	assert_int_equal(w.rec.nr, 2);
	world_fini(&w);
}

static void test_migrate_with_gup_reference_backs_out_with_eagain(void **state)
{
	struct mn_gup_page page;
	struct mn_frame_ref old;
	struct mn_pt_walk wk;
	struct world w;
	mn_pfn_t pfn = 0;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_mem(&w, PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a, 77);
	old = ref_at(&w, a);
	assert_int_equal(mn_mm_gup(w.mm, a, MN_FOLL_WRITE, &page), 0);
	assert_int_equal(mn_mm_migrate(w.mm, a, 0, &pfn), -EAGAIN);
	/* Unmapped inside its pair, then pointed back at the same folio. */
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, a, a + PG);
	wk = leaf_at(&w, a);
	assert_int_equal(wk.pfn, old.pfn);
	assert_int_equal(wk.gen, old.gen);
	assert_true(wk.leaf.perm & MN_PTE_W);
	assert_int_equal(info(&w, old.pfn).mapcount, 1);
	assert_int_equal(info(&w, old.pfn).refcount, 2); /* the mapping and GUP */
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(stats(&w).migrations, 0);
	assert_int_equal(read_word(&w, a), 77);

	/* Once GUP lets go, the migration goes through. */
	assert_int_equal(mn_mm_put_page(w.mm, &page), 0);
	assert_int_equal(mn_mm_migrate(w.mm, a, 0, &pfn), 0);
	assert_int_not_equal(pfn, old.pfn);
	assert_int_equal(read_word(&w, a), 77);
	world_fini(&w);
}

static void test_migrate_device_sends_migrate_event_with_owner(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_mem(&w, PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a, 5);
	assert_int_equal(mn_mm_migrate(w.mm, a, MN_MIGRATE_DEVICE, NULL), 0);
	assert_one_pair(&w.rec, MN_NOTIFY_MIGRATE, a, a + PG);
	assert_ptr_equal(w.rec.ev[0].owner, w.mm);
	assert_ptr_equal(w.rec.ev[1].owner, w.mm);
	assert_int_equal(read_word(&w, a), 5);
	world_fini(&w);
}

static void test_migrate_thp_keeps_pmd_mapping(void **state)
{
	struct mn_frame_ref old;
	struct mn_pt_walk wk;
	struct world w;
	mn_pfn_t pfn = 0;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a + 5 * PG, 55);
	write_word(&w, a + 511 * PG, 511);
	old = ref_at(&w, a);
	assert_int_equal(info(&w, old.pfn).order, MN_ORDER_2M);
	assert_int_equal(mn_mm_migrate(w.mm, a + 5 * PG, 0, &pfn), 0);
	wk = leaf_at(&w, a);
	assert_int_equal(wk.leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(pfn, wk.leaf.pfn + 5);
	assert_int_equal(info(&w, wk.leaf.pfn).order, MN_ORDER_2M);
	assert_false(mn_phys_ref_valid(w.phys, old));
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, a, a + 2 * MiB);
	assert_int_equal(read_word(&w, a + 5 * PG), 55);
	assert_int_equal(read_word(&w, a + 511 * PG), 511);
	world_fini(&w);
}

/* A THP mapped by 512 PTEs moves whole, still PTE-mapped; a HugeTLB page moves too. */
static void test_migrate_pte_mapped_thp_and_hugetlb(void **state)
{
	struct mn_frame_ref old;
	struct world w;
	mn_pfn_t pfn = 0;
	mn_hva_t a, h;
	unsigned int i;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a + 17 * PG, 17);
	old = ref_at(&w, a);
	assert_int_equal(mn_mm_split_thp(w.mm, a, false), 0);
	w.rec.nr = 0;
	assert_int_equal(mn_mm_migrate(w.mm, a + 17 * PG, 0, &pfn), 0);
	/* One pair for the VMA, over the folio's whole span (try_to_migrate_one()). */
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, a, a + 2 * MiB);
	assert_false(mn_phys_ref_valid(w.phys, old));
	assert_int_equal(info(&w, pfn).order, MN_ORDER_2M);
	assert_int_equal(info(&w, pfn).mapcount, 512);
	for (i = 0; i < 512; i++) {
		struct mn_pt_walk wk = leaf_at(&w, a + i * PG);

		assert_int_equal(wk.leaf.level, MN_PG_LEVEL_4K);
		assert_int_equal(wk.pfn, pfn - 17 + i);
	}
	assert_int_equal(read_word(&w, a + 17 * PG), 17);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);

	assert_int_equal(mn_mm_mmap(w.mm, 0, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_HUGETLB, NULL, 0,
				    &h),
			 0);
	write_word(&w, h + 3 * PG, 3);
	old = ref_at(&w, h);
	w.rec.nr = 0;
	assert_int_equal(mn_mm_migrate(w.mm, h + 3 * PG, 0, &pfn), 0);
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, h, h + 2 * MiB);
	assert_int_equal(leaf_at(&w, h).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(leaf_at(&w, h).leaf.pfn, pfn - 3);
	assert_false(mn_phys_ref_valid(w.phys, old));
	assert_int_equal(read_word(&w, h + 3 * PG), 3);
	world_fini(&w);
}

static void test_migrate_shmem_page_moves_page_cache(void **state)
{
	struct mn_frame_ref old;
	struct world w;
	mn_pfn_t pfn = 0;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_mem(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_SHARED);
	write_word(&w, a + PG, 9);
	old = ref_at(&w, a + PG);
	assert_int_equal(info(&w, old.pfn).owner, MN_OWNER_FILE);
	assert_int_equal(info(&w, old.pfn).refcount, 2); /* the mapping and the cache */
	assert_int_equal(mn_mm_migrate(w.mm, a + PG, 0, &pfn), 0);
	assert_false(mn_phys_ref_valid(w.phys, old));
	assert_int_equal(info(&w, pfn).owner, MN_OWNER_FILE);
	assert_int_equal(info(&w, pfn).refcount, 2);
	/* The invariant check finds the new folio in the page cache. */
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(read_word(&w, a + PG), 9);
	/* After unmapping, the cache still holds it. */
	assert_int_equal(mn_mm_munmap(w.mm, a, 2 * PG), 0);
	world_fini(&w);
}

static void test_migrate_refuses_folio_mapped_by_another_mm(void **state)
{
	struct mn_mm *child;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_mem(&w, PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a, 3);
	assert_int_equal(mn_mm_fork(w.mm, &child), 0);
	w.rec.nr = 0;
	assert_int_equal(mn_mm_migrate(w.mm, a, 0, NULL), -EBUSY);
	assert_int_equal(w.rec.nr, 0); /* nothing was touched */
	mn_mm_destroy(child);
	world_fini(&w);
}

/* ---- THP split ------------------------------------------------------------------------------- */

static void test_split_thp_pmd_keeps_one_folio(void **state)
{
	struct mn_frame_ref huge;
	struct world w;
	mn_hva_t a;
	unsigned int i;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a, 1);
	huge = ref_at(&w, a);
	assert_int_equal(mn_mm_split_thp(w.mm, a + 7 * PG, false), 0);
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, a, a + 2 * MiB);
	for (i = 0; i < 512; i++) {
		struct mn_pt_walk wk = leaf_at(&w, a + i * PG);

		assert_int_equal(wk.leaf.level, MN_PG_LEVEL_4K);
		assert_int_equal(wk.pfn, huge.pfn + i);
	}
	assert_int_equal(info(&w, huge.pfn).order, MN_ORDER_2M);
	assert_int_equal(info(&w, huge.pfn).mapcount, 512);
	assert_int_equal(info(&w, huge.pfn).refcount, 512);
	assert_int_equal(stats(&w).thp_split, 1);
	/* Already PTE-mapped: nothing to do. */
	assert_int_equal(mn_mm_split_thp(w.mm, a, false), 0);
	assert_int_equal(w.rec.nr, 2);
	/* Not a THP: -EINVAL. */
	assert_int_equal(mn_mm_split_thp(w.mm, a + 2 * MiB, false), -EINVAL);
	world_fini(&w);
}

static void test_split_thp_folio_gives_512_small_folios(void **state)
{
	struct mn_frame_ref huge;
	struct world w;
	mn_hva_t a;
	unsigned int i;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	for (i = 0; i < 512; i++)
		write_word(&w, a + i * PG, 1000 + i);
	huge = ref_at(&w, a);
	rec_watch(&w.rec, huge);
	/*
	 *  block   [a, a + 2M): one PMD
	 *  pair 1  split_huge_pmd(): 512 PTEs of the THP
	 *  pair 2  unmap_folio(): 512 migration entries, split, remap
	 */
	assert_int_equal(mn_mm_split_thp(w.mm, a + 300 * PG, true), 0);
	assert_int_equal(w.rec.nr, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(w.rec.ev[i].event, MN_NOTIFY_CLEAR);
		assert_int_equal(w.rec.ev[i].start, a);
		assert_int_equal(w.rec.ev[i].end, a + 2 * MiB);
		assert_true(w.rec.ev[i].live);
	}
	for (i = 0; i < 512; i++) {
		struct mn_pt_walk wk = leaf_at(&w, a + i * PG);
		struct mn_frame_info fi = info(&w, wk.pfn);

		assert_int_equal(wk.leaf.level, MN_PG_LEVEL_4K);
		assert_int_equal(wk.pfn, huge.pfn + i);
		assert_int_equal(wk.gen, huge.gen); /* pieces keep the generation */
		assert_int_equal(fi.order, 0);
		assert_int_equal(fi.head, wk.pfn);
		assert_int_equal(fi.mapcount, 1);
		assert_int_equal(fi.refcount, 1);
		assert_int_equal(read_word(&w, a + i * PG), 1000 + i);
	}
	assert_int_equal(mn_mm_split_thp(w.mm, a, true), -EINVAL); /* no THP any more */
	world_fini(&w);
}

static void test_split_thp_folio_with_gup_reference_is_eagain(void **state)
{
	struct mn_gup_page page;
	struct mn_frame_ref huge;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a + 3 * PG, 3);
	huge = ref_at(&w, a);
	assert_int_equal(mn_mm_gup(w.mm, a + 3 * PG, 0, &page), 0);
	assert_int_equal(mn_mm_split_thp(w.mm, a, true), -EAGAIN);
	/* The PMD split stays; the folio is whole and mapped again. */
	assert_int_equal(leaf_at(&w, a + 3 * PG).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(info(&w, huge.pfn).order, MN_ORDER_2M);
	assert_int_equal(info(&w, huge.pfn).mapcount, 512);
	assert_int_equal(info(&w, huge.pfn).refcount, 513);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(mn_mm_put_page(w.mm, &page), 0);
	assert_int_equal(read_word(&w, a + 3 * PG), 3);
	world_fini(&w);
}

/* ---- collapse -------------------------------------------------------------------------------- */

static void test_collapse_copies_512_pages_into_one_thp(void **state)
{
	struct mn_frame_ref old[512];
	struct mn_pt_walk wk;
	struct world w;
	mn_hva_t a;
	unsigned int i;

	(void)state;
	world_init(&w, MN_THP_MADVISE); /* no hint: faults map 4 KiB pages */
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	assert_int_equal(a % (2 * MiB), 0);
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), -ENOENT);
	for (i = 0; i < 512; i++) {
		write_word(&w, a + i * PG, 0xc0de0000 + i);
		old[i] = ref_at(&w, a + i * PG);
	}
	assert_int_equal(leaf_at(&w, a).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(mn_mm_collapse_thp(w.mm, a + 100 * PG), 0);
	assert_one_pair(&w.rec, MN_NOTIFY_CLEAR, a, a + 2 * MiB);
	wk = leaf_at(&w, a);
	assert_int_equal(wk.leaf.level, MN_PG_LEVEL_2M);
	assert_true(wk.leaf.perm & MN_PTE_W);
	assert_int_equal(info(&w, wk.leaf.pfn).order, MN_ORDER_2M);
	for (i = 0; i < 512; i++) {
		assert_false(mn_phys_ref_valid(w.phys, old[i]));
		assert_int_equal(read_word(&w, a + i * PG), 0xc0de0000 + i);
	}
	assert_int_equal(stats(&w).frames_freed, 512);
	assert_int_equal(stats(&w).thp_collapse, 1);
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), -EEXIST);
	assert_int_equal(w.rec.nr, 2);
	world_fini(&w);
}

static void test_collapse_reads_holes_and_zero_page_as_zero(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_MADVISE);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a + 10 * PG, 10);
	assert_int_equal(read_word(&w, a + 11 * PG), 0); /* the zero page */
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), 0);
	assert_int_equal(leaf_at(&w, a).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(read_word(&w, a + 10 * PG), 10);
	assert_int_equal(read_word(&w, a + 11 * PG), 0);
	assert_int_equal(read_word(&w, a + 12 * PG), 0);
	world_fini(&w);
}

static void test_collapse_with_gup_reference_is_ebusy_and_changes_nothing(void **state)
{
	struct mn_frame_ref old[512];
	struct mn_gup_page page;
	struct world w;
	mn_hva_t a;
	unsigned int i;

	(void)state;
	world_init(&w, MN_THP_MADVISE);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	for (i = 0; i < 512; i++) {
		write_word(&w, a + i * PG, i);
		old[i] = ref_at(&w, a + i * PG);
	}
	assert_int_equal(mn_mm_gup(w.mm, a + 200 * PG, 0, &page), 0);
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), -EAGAIN);
	assert_int_equal(w.rec.nr, 0);
	for (i = 0; i < 512; i++) {
		struct mn_pt_walk wk = leaf_at(&w, a + i * PG);

		assert_int_equal(wk.leaf.level, MN_PG_LEVEL_4K);
		assert_int_equal(wk.pfn, old[i].pfn);
		assert_int_equal(wk.gen, old[i].gen);
	}
	assert_int_equal(stats(&w).thp_collapse, 0);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(mn_mm_put_page(w.mm, &page), 0);
	/* A NOHUGEPAGE VMA may not be collapsed; a shared one neither. */
	assert_int_equal(mn_mm_madvise(w.mm, a, 2 * MiB, MN_MADV_NOHUGEPAGE), 0);
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), -EINVAL);
	assert_int_equal(mn_mm_collapse_thp(w.mm, map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE,
							  MN_MAP_SHARED)),
			 -EINVAL);
	world_fini(&w);
}

static void test_split_then_collapse_round_trip(void **state)
{
	struct mn_frame_ref huge;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_mem(&w, 2 * MiB, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE);
	write_word(&w, a + 9 * PG, 99);
	huge = ref_at(&w, a);
	assert_int_equal(mn_mm_split_thp(w.mm, a, false), 0);
	/* A PTE-mapped THP wholly inside the block collapses too (one folio, 512 maps). */
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), 0);
	assert_false(mn_phys_ref_valid(w.phys, huge));
	assert_int_equal(leaf_at(&w, a).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(read_word(&w, a + 9 * PG), 99);
	world_fini(&w);
}

/* ---- a fault racing a migration, explored ---------------------------------------------------- */

/*
 * The VMM writes a word while the page is migrated. Under every schedule the write lands in
 * the folio that ends up mapped: through the old translation before the flush (and then
 * copied), or after a fault that waited for the migration entry to go.
 *
 *  page     0
 *  mapped   x = 1
 *  migrate  *      thread "migrate"
 *  write    2      thread "vmm"
 */
struct race {
	struct mn_mm *mm;
	mn_hva_t a;
	int migrate_ret, write_ret;
};

static void migrate_thread(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;

	(void)sim;
	r->migrate_ret = mn_mm_migrate(r->mm, r->a, 0, NULL);
}

static void vmm_thread(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	uint64_t v = 2;

	(void)sim;
	r->write_ret = mn_mm_access(r->mm, r->a, MN_PTE_W, &v, NULL);
}

static int race_setup(struct mn_sim *sim, void *arg)
{
	struct mn_mm_config mc = { .thp = MN_THP_NEVER };
	struct race *r = arg;
	uint64_t v = 1;
	int ret;

	ret = mn_mm_create(sim, &mc, &r->mm);
	if (!ret)
		ret = mn_mm_mmap(r->mm, 0, PG, MN_PROT_READ | MN_PROT_WRITE,
				 MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &r->a);
	if (!ret)
		ret = mn_mm_access(r->mm, r->a, MN_PTE_W, &v, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "migrate", migrate_thread, r, NULL);
	if (!ret)
		ret = mn_sim_spawn(sim, "vmm", vmm_thread, r, NULL);
	return ret;
}

static void race_check(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	uint64_t v = 0;
	int ret;

	if (r->migrate_ret || r->write_ret)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.results", "migrate %d write %d",
			       r->migrate_ret, r->write_ret);
	ret = mn_mm_access(r->mm, r->a, MN_PTE_R, &v, NULL);
	if (ret || v != 2)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.lost_write", "read %d: %llu, not 2", ret,
			       (unsigned long long)v);
	if (mn_mm_check_invariants(r->mm))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.host", "host invariants broken");
	mn_mm_destroy(r->mm);
}

static void test_write_racing_migration_is_never_lost(void **state)
{
	static struct race r;
	struct mn_scenario sc = { "write-vs-migrate", race_setup, race_check, NULL, &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	/* Small enough to explore every schedule (about 550), without a bound. */
	explore_expect(&sc, UINT_MAX, 100, NULL, NULL);
}

/* A mutation the explorer must catch: the host TLB is not flushed before the copy. */
static void test_skipping_migrate_tlb_flush_is_caught(void **state)
{
	static struct race r;
	struct mn_scenario sc = { "write-vs-migrate", race_setup, race_check, NULL, &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	explore_expect(&sc, 3, 0, "migrate.tlb_flush", "frame.use_after_free");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_4k_moves_data_and_frees_old_frame_after_start),
		cmocka_unit_test(test_migrate_with_gup_reference_backs_out_with_eagain),
		cmocka_unit_test(test_migrate_device_sends_migrate_event_with_owner),
		cmocka_unit_test(test_migrate_thp_keeps_pmd_mapping),
		cmocka_unit_test(test_migrate_pte_mapped_thp_and_hugetlb),
		cmocka_unit_test(test_migrate_shmem_page_moves_page_cache),
		cmocka_unit_test(test_migrate_refuses_folio_mapped_by_another_mm),
		cmocka_unit_test(test_split_thp_pmd_keeps_one_folio),
		cmocka_unit_test(test_split_thp_folio_gives_512_small_folios),
		cmocka_unit_test(test_split_thp_folio_with_gup_reference_is_eagain),
		cmocka_unit_test(test_collapse_copies_512_pages_into_one_thp),
		cmocka_unit_test(test_collapse_reads_holes_and_zero_page_as_zero),
		cmocka_unit_test(test_collapse_with_gup_reference_is_ebusy_and_changes_nothing),
		cmocka_unit_test(test_split_then_collapse_round_trip),
		cmocka_unit_test(test_write_racing_migration_is_never_lost),
		cmocka_unit_test(test_skipping_migrate_tlb_flush_is_caught),
	};

	return cmocka_run_group_tests_name("host-migrate", tests, NULL, NULL);
}
