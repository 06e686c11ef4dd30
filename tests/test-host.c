// SPDX-License-Identifier: MIT
/*
 * test-host.c - the host primary MMU (lib/host): mmap and VMAs, faults (zero page, COW,
 * THP, HugeTLB, PROT_NONE, NUMA hinting), GUP, and every operation that notifies, seen
 * through a recording mmu_notifier subscriber; the notifier contract under the explorer.
 */
#include "mn-test-host.h"

#include <limits.h>

/* ---- mmap and VMAs ------------------------------------------------------------------------ */

static void test_mmap_rejects_bad_arguments(void **state)
{
	struct world w;
	mn_hva_t a = 0;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	assert_int_equal(mn_mm_mmap(w.mm, 0, 0, MN_PROT_READ, MN_MAP_PRIVATE | MN_MAP_ANONYMOUS,
				    NULL, 0, &a),
			 -EINVAL);
	assert_int_equal(mn_mm_mmap(w.mm, 0, PG, MN_PROT_READ, MN_MAP_ANONYMOUS, NULL, 0, &a),
			 -EINVAL);
	assert_int_equal(mn_mm_mmap(w.mm, 0, PG, MN_PROT_READ,
				    MN_MAP_SHARED | MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &a),
			 -EINVAL);
	assert_int_equal(mn_mm_mmap(w.mm, 0, PG, 8, MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &a),
			 -EINVAL);
	assert_int_equal(mn_mm_mmap(w.mm, 0, PG, MN_PROT_READ, MN_MAP_PRIVATE, NULL, 0, &a),
			 -EBADF);
	assert_int_equal(mn_mm_mmap(w.mm, 0x10001000, PG, MN_PROT_READ,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a),
			 0);
	assert_int_equal(mn_mm_mmap(w.mm, 0x10000800, PG, MN_PROT_READ,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a),
			 -EINVAL);
	assert_int_equal(mn_mm_mmap(w.mm, 1ULL << 47, PG, MN_PROT_READ,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a),
			 -ENOMEM);
	/* HugeTLB: a fixed address must be aligned to the huge page. */
	assert_int_equal(
		mn_mm_mmap(w.mm, 0x40001000, 2 * MiB, MN_PROT_READ,
			   MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_HUGETLB | MN_MAP_FIXED, NULL,
			   0, &a),
		-EINVAL);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 1); /* only the good one */
	assert_int_equal(w.rec.nr, 0);
	assert_int_equal(mn_mm_munmap(w.mm, 0x1001, PG), -EINVAL);
	assert_int_equal(mn_mm_munmap(w.mm, 0x10000000, 0), -EINVAL);
	world_fini(&w);
}

static void test_mmap_places_top_down_and_aligns_thp(void **state)
{
	struct world w;
	struct mn_vma_info vi;
	mn_hva_t a, b, c;

	(void)state;
	world_init(&w, MN_THP_MADVISE);
	a = map_anon(&w, 3 * PG, MN_PROT_READ);
	b = map_anon(&w, PG, MN_PROT_READ);
	c = map_anon(&w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	/*
	 *   addr   ... c (4 MiB, 2 MiB aligned) ... b a | mmap base 0x7f0000000000
	 */
	assert_int_equal(a + 3 * PG, 0x7f0000000000ULL);
	assert_int_equal(b + PG, a);
	assert_true(c + 4 * MiB <= b);
	assert_int_equal(c % (2 * MiB), 0);
	assert_int_equal(mn_mm_find_vma(w.mm, a + PG, &vi), 0);
	assert_int_equal(vi.start, a);
	assert_int_equal(vi.end, a + 3 * PG);
	assert_int_equal(mn_mm_find_vma(w.mm, a - 1 - 100 * PG, &vi), -ENOENT);
	world_fini(&w);
}

/* ---- faults ------------------------------------------------------------------------------- */

static void test_read_maps_zero_page_and_write_copies(void **state)
{
	struct mn_frame_ref zero, page;
	struct mn_pt_walk wk;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	assert_int_equal(read_word(&w, a), 0);
	wk = walk(&w, a);
	zero = ref_at(&w, a);
	assert_false(wk.leaf.perm & MN_PTE_W); /* the zero page is mapped read-only */
	assert_int_equal(info(&w, zero.pfn).mapcount, 0);
	/* The write breaks COW on the zero page: a CLEAR pair over the one page. */
	write_word(&w, a, 42);
	page = ref_at(&w, a);
	assert_int_not_equal(page.pfn, zero.pfn);
	assert_true(walk(&w, a).leaf.perm & MN_PTE_W);
	assert_true(walk(&w, a).leaf.dirty);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].kind, 's');
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_CLEAR);
	assert_int_equal(w.rec.ev[0].start, a);
	assert_int_equal(w.rec.ev[0].end, a + PG);
	assert_int_equal(w.rec.ev[1].kind, 'e');
	assert_int_equal(read_word(&w, a), 42);
	assert_int_equal(info(&w, page.pfn).mapcount, 1);
	assert_int_equal(info(&w, page.pfn).refcount, 1);
	world_fini(&w);
}

static void test_fault_outside_vma_or_without_permission_is_sigsegv(void **state)
{
	struct world w;
	unsigned int f = 0;
	uint64_t v = 1;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, PG, MN_PROT_READ);
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_W, &v, &f), -EFAULT);
	assert_int_equal(f, MN_VM_FAULT_SIGSEGV);
	assert_int_equal(mn_mm_access(w.mm, a + PG, MN_PTE_R, &v, &f), -EFAULT);
	assert_int_equal(f, MN_VM_FAULT_SIGSEGV);
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_X, &v, &f), -EFAULT);
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_R, &v, &f), 0);
	assert_int_equal(mn_mm_access(w.mm, a, 7, &v, &f), -EINVAL);
	world_fini(&w);
}

static void test_private_file_mapping_copies_on_write(void **state)
{
	struct mn_file *f;
	struct world w;
	mn_hva_t shared, priv;
	struct mn_frame_ref cache;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	assert_int_equal(mn_file_create(w.sim, "data", 4 * PG, 0, &f), 0);
	assert_int_equal(mn_mm_mmap(w.mm, 0, 4 * PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_SHARED, f,
				    0, &shared),
			 0);
	assert_int_equal(mn_mm_mmap(w.mm, 0, 4 * PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_PRIVATE,
				    f, 0, &priv),
			 0);
	mn_file_put(f); /* the mappings keep it */
	write_word(&w, shared + PG, 7);
	assert_int_equal(mn_file_nr_pages(f), 1);
	cache = ref_at(&w, shared + PG);
	/* The private mapping reads the page cache, read-only. */
	assert_int_equal(read_word(&w, priv + PG), 7);
	assert_int_equal(ref_at(&w, priv + PG).pfn, cache.pfn);
	assert_false(walk(&w, priv + PG).leaf.perm & MN_PTE_W);
	assert_int_equal(info(&w, cache.pfn).mapcount, 2);
	assert_int_equal(info(&w, cache.pfn).refcount, 3); /* two mappings + the cache */
	/* Writing it copies: the file does not change. */
	write_word(&w, priv + PG, 8);
	assert_int_not_equal(ref_at(&w, priv + PG).pfn, cache.pfn);
	assert_int_equal(read_word(&w, shared + PG), 7);
	assert_int_equal(info(&w, cache.pfn).mapcount, 1);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	/* Beyond the end of the file: SIGBUS. */
	{
		mn_hva_t big;
		unsigned int vf = 0;
		uint64_t v;

		assert_int_equal(mn_file_create(w.sim, "small", PG, 0, &f), 0);
		assert_int_equal(
			mn_mm_mmap(w.mm, 0, 2 * PG, MN_PROT_READ, MN_MAP_SHARED, f, 0, &big), 0);
		mn_file_put(f);
		assert_int_equal(mn_mm_access(w.mm, big + PG, MN_PTE_R, &v, &vf), -EFAULT);
		assert_int_equal(vf, MN_VM_FAULT_SIGBUS);
	}
	world_fini(&w);
}

static void test_thp_fault_maps_2m_and_reports_level(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_anon(&w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a + 5 * PG, 1);
	assert_int_equal(walk(&w, a).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(info(&w, ref_at(&w, a).pfn).order, 9);
	assert_int_equal(mn_mm_host_mapping_level(w.mm, a + 5 * PG), MN_PG_LEVEL_2M);
	assert_int_equal(mn_mm_host_mapping_level(w.mm, a + 2 * MiB), MN_PG_LEVEL_4K);
	/* Without the hint in madvise mode: 4 KiB pages. */
	world_fini(&w);
	world_init(&w, MN_THP_MADVISE);
	a = map_anon(&w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	assert_int_equal(walk(&w, a).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(mn_mm_madvise(w.mm, a + 2 * MiB, 2 * MiB, MN_MADV_HUGEPAGE), 0);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 2);
	write_word(&w, a + 2 * MiB, 1);
	assert_int_equal(walk(&w, a + 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
	world_fini(&w);
}

static void test_hugetlb_2m_and_1g(void **state)
{
	struct world w;
	mn_hva_t a, g;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	assert_int_equal(mn_mm_mmap(w.mm, 0, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_HUGETLB, NULL, 0,
				    &a),
			 0);
	assert_int_equal(a % (2 * MiB), 0);
	write_word(&w, a + 3 * MiB, 5);
	assert_int_equal(walk(&w, a + 2 * MiB).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(mn_mm_host_mapping_level(w.mm, a + 3 * MiB), MN_PG_LEVEL_2M);
	/* A HugeTLB page is never cut. */
	assert_int_equal(mn_mm_munmap(w.mm, a + 2 * MiB + PG, PG), -EINVAL);
	assert_int_equal(mn_mm_mprotect(w.mm, a, PG, MN_PROT_READ), -EINVAL);
	assert_int_equal(mn_mm_split_thp(w.mm, a + 2 * MiB, false), -EINVAL);
	assert_int_equal(w.rec.nr, 0);
	assert_int_equal(mn_mm_munmap(w.mm, a + 2 * MiB, 2 * MiB), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].start, a + 2 * MiB);
	assert_int_equal(w.rec.ev[0].end, a + 4 * MiB);
	assert_int_equal(w.rec.ev[0].mapped, 512); /* still mapped when start ran */
	assert_int_equal(w.rec.ev[1].mapped, 0);

	assert_int_equal(
		mn_mm_mmap(w.mm, 0, GiB, MN_PROT_READ | MN_PROT_WRITE,
			   MN_MAP_SHARED | MN_MAP_ANONYMOUS | MN_MAP_HUGETLB | MN_MAP_HUGE_1GB,
			   NULL, 0, &g),
		0);
	assert_int_equal(g % GiB, 0);
	write_word(&w, g + 12345 * PG, 9);
	assert_int_equal(walk(&w, g).leaf.level, MN_PG_LEVEL_1G);
	assert_int_equal(read_word(&w, g + 12345 * PG), 9);
	assert_int_equal(mn_mm_host_mapping_level(w.mm, g), MN_PG_LEVEL_1G);
	world_fini(&w);
}

/* ---- munmap -------------------------------------------------------------------------------- */

static void test_munmap_frees_frames_with_one_notified_pair(void **state)
{
	struct world w;
	struct mn_mm_stats st;
	mn_hva_t a;
	unsigned int i;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	/*
	 *  page  0 1 2 3
	 *  vma   AAAAAAA
	 *  touch x x x x
	 *  unmap ******* <- munmap [0, 4)
	 */
	a = map_anon(&w, 4 * PG, MN_PROT_READ | MN_PROT_WRITE);
	for (i = 0; i < 4; i++) {
		write_word(&w, a + i * PG, i);
		w.rec.watch[w.rec.nr_watch++] = ref_at(&w, a + i * PG);
	}
	assert_int_equal(w.rec.nr, 0); /* first-touch faults notify nobody */
	assert_int_equal(mn_mm_munmap(w.mm, a, 4 * PG), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].kind, 's');
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_UNMAP);
	assert_true(w.rec.ev[0].blockable);
	assert_int_equal(w.rec.ev[0].start, a);
	assert_int_equal(w.rec.ev[0].end, a + 4 * PG);
	assert_int_equal(w.rec.ev[0].live, 4);
	assert_int_equal(w.rec.ev[0].mapped, 4);
	assert_int_equal(w.rec.ev[1].kind, 'e');
	assert_int_equal(w.rec.ev[1].live, 0); /* freed before end */
	assert_int_equal(w.rec.ev[1].mapped, 0);
	for (i = 0; i < 4; i++)
		assert_false(mn_phys_ref_valid(w.phys, w.rec.watch[i]));
	mn_mm_get_stats(w.mm, &st);
	assert_int_equal(st.frames_freed, 4);
	assert_int_equal(st.vmas, 0);
	/* Nothing mapped there any more: a second munmap sends nothing. */
	assert_int_equal(mn_mm_munmap(w.mm, a, 4 * PG), 0);
	assert_int_equal(w.rec.nr, 2);
	world_fini(&w);
}

static void test_partial_munmap_splits_vma_and_thp(void **state)
{
	struct world w;
	struct mn_vma_info vi;
	struct mn_frame_ref thp;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	/*
	 *  2M block  [0                 2M)[2M            4M)
	 *  vma       AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
	 *  thp       TTTTTTTTTTTTTTTTTTTTTT (one PMD entry)
	 *  unmap              ****            <- munmap [1M, 1M + 8K)
	 */
	a = map_anon(&w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a + MiB, 11);
	write_word(&w, a + MiB + 2 * PG, 12);
	thp = ref_at(&w, a);
	assert_int_equal(walk(&w, a).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(mn_mm_munmap(w.mm, a + MiB, 2 * PG), 0);
	/* The THP split first (its own CLEAR pair over 2 MiB), then the UNMAP pair. */
	assert_int_equal(w.rec.nr, 4);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_CLEAR);
	assert_int_equal(w.rec.ev[0].start, a);
	assert_int_equal(w.rec.ev[0].end, a + 2 * MiB);
	assert_int_equal(w.rec.ev[2].event, MN_NOTIFY_UNMAP);
	assert_int_equal(w.rec.ev[2].start, a + MiB);
	assert_int_equal(w.rec.ev[2].end, a + MiB + 2 * PG);
	assert_int_equal(w.rec.ev[2].mapped, 2);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 2);
	assert_int_equal(mn_mm_find_vma(w.mm, a, &vi), 0);
	assert_int_equal(vi.end, a + MiB);
	assert_int_equal(mn_mm_find_vma(w.mm, a + MiB + 2 * PG, &vi), 0);
	assert_int_equal(vi.start, a + MiB + 2 * PG);
	assert_int_equal(vi.end, a + 4 * MiB);
	/* The folio stays (other pages still map it), now mapped by 510 PTEs. */
	assert_int_equal(walk(&w, a).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(info(&w, thp.pfn).mapcount, 510);
	assert_int_equal(read_word(&w, a + MiB + 2 * PG), 12);
	assert_int_equal(mn_mm_access(w.mm, a + MiB, MN_PTE_R, NULL, NULL), -EFAULT);
	world_fini(&w);
}

static void test_mmap_fixed_replaces_with_notification(void **state)
{
	struct world w;
	mn_hva_t a, b;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 3);
	assert_int_equal(mn_mm_mmap(w.mm, a, PG, MN_PROT_READ,
				    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &b),
			 0);
	assert_int_equal(b, a);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_UNMAP);
	assert_int_equal(read_word(&w, a), 0); /* fresh memory */
	assert_int_equal(mn_mm_nr_vmas(w.mm), 2);
	world_fini(&w);
}

/* ---- mprotect, GUP ------------------------------------------------------------------------- */

static void test_mprotect_read_only_makes_gup_write_fail(void **state)
{
	struct mn_gup_page p;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	assert_int_equal(mn_mm_gup(w.mm, a, MN_FOLL_WRITE, &p), 0);
	assert_true(p.writable);
	assert_int_equal(p.level, MN_PG_LEVEL_4K);
	assert_int_equal(info(&w, p.ref.pfn).refcount, 2); /* mapping + GUP */
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(mn_mm_put_page(w.mm, &p), 0);
	/* Fast path now hits. */
	assert_int_equal(mn_mm_gup_fast(w.mm, a, MN_FOLL_WRITE, &p), 0);
	assert_int_equal(mn_mm_put_page(w.mm, &p), 0);

	assert_int_equal(mn_mm_mprotect(w.mm, a, 2 * PG, MN_PROT_READ), 0);
	/* One PROTECTION_VMA pair from the first populated page to the end of the range. */
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_PROTECTION_VMA);
	assert_int_equal(w.rec.ev[0].start, a);
	assert_int_equal(w.rec.ev[0].end, a + 2 * PG);
	assert_false(walk(&w, a).leaf.perm & MN_PTE_W);
	assert_int_equal(mn_mm_gup_fast(w.mm, a, MN_FOLL_WRITE, &p), -EFAULT);
	assert_int_equal(mn_mm_gup(w.mm, a, MN_FOLL_WRITE, &p), -EFAULT);
	assert_int_equal(mn_mm_gup(w.mm, a, 0, &p), 0);
	assert_false(p.writable);
	assert_int_equal(mn_mm_put_page(w.mm, &p), 0);
	assert_int_equal(mn_mm_gup(w.mm, a + 10 * PG, 0, &p), -EFAULT);

	/* Back to writable: the exclusive dirty page gets W without a fault. */
	assert_int_equal(mn_mm_mprotect(w.mm, a, PG, MN_PROT_READ | MN_PROT_WRITE), 0);
	assert_true(walk(&w, a).leaf.perm & MN_PTE_W);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 2);
	/* A hole: -ENOMEM and nothing changes. */
	assert_int_equal(mn_mm_mprotect(w.mm, a, 4 * PG, MN_PROT_NONE), -ENOMEM);
	assert_true(walk(&w, a).leaf.perm & MN_PTE_W);
	/* An empty range notifies nobody. */
	w.rec.nr = 0;
	assert_int_equal(mn_mm_mprotect(w.mm, a + PG, PG, MN_PROT_READ | MN_PROT_WRITE), 0);
	assert_int_equal(w.rec.nr, 0);
	world_fini(&w);
}

static void test_prot_none_and_numa_hinting(void **state)
{
	struct world w;
	unsigned int f = 0;
	uint64_t v;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	write_word(&w, a + PG, 2);
	assert_int_equal(mn_mm_mprotect(w.mm, a, PG, MN_PROT_NONE), 0);
	assert_int_equal(walk(&w, a).leaf.kind, MN_PTE_PROTNONE);
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_R, &v, &f), -EFAULT);
	assert_int_equal(f, MN_VM_FAULT_SIGSEGV);
	assert_int_equal(mn_mm_host_mapping_level(w.mm, a), MN_PG_LEVEL_4K);

	/* NUMA hinting: PROT_NONE entries in an accessible VMA; the access restores them. */
	w.rec.nr = 0;
	assert_int_equal(mn_mm_numa_protnone(w.mm, a, 2 * PG), 1);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_PROTECTION_VMA);
	assert_int_equal(walk(&w, a + PG).leaf.kind, MN_PTE_PROTNONE);
	assert_int_equal(read_word(&w, a + PG), 2);
	assert_int_equal(walk(&w, a + PG).leaf.kind, MN_PTE_LEAF);
	assert_int_equal(w.rec.nr, 2); /* restoring is an upgrade: no notifier */
	write_word(&w, a + PG, 3);

	/* NUMA balancing migrates hinted pages: a PROT_NONE entry migrates like a present one. */
	{
		mn_pfn_t old = ref_at(&w, a + PG).pfn, now = 0;

		assert_int_equal(mn_mm_numa_protnone(w.mm, a + PG, PG), 1);
		assert_int_equal(mn_mm_migrate(w.mm, a + PG, 0, &now), 0);
		assert_int_not_equal(now, old);
		assert_int_equal(read_word(&w, a + PG), 3);
		assert_int_equal(ref_at(&w, a + PG).pfn, now);
	}
	world_fini(&w);
}

/* ---- madvise ----------------------------------------------------------------------------- */

static void test_madvise_dontneed_clears_and_refaults_zeroed(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 4 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a + PG, 5);
	w.rec.watch[w.rec.nr_watch++] = ref_at(&w, a + PG);
	assert_int_equal(mn_mm_madvise(w.mm, a, 4 * PG, MN_MADV_DONTNEED), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_CLEAR);
	assert_int_equal(w.rec.ev[0].live, 1);
	assert_int_equal(w.rec.ev[1].live, 0);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 1);
	assert_int_equal(read_word(&w, a + PG), 0);
	assert_int_equal(mn_mm_madvise(w.mm, a, 8 * PG, MN_MADV_DONTNEED), -ENOMEM);
	assert_int_equal(mn_mm_madvise(w.mm, a, PG, 99), -EINVAL);
	world_fini(&w);
}

/* ---- aging, fork, soft-dirty ---------------------------------------------------------------- */

static void test_aging_reports_and_clears_young_without_start_end(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 4 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	write_word(&w, a + 2 * PG, 1);
	assert_true(walk(&w, a).leaf.accessed);
	/* Test only: young stays. */
	assert_int_equal(mn_mm_age(w.mm, a, 4 * PG, MN_AGE_TEST_YOUNG), 2);
	assert_true(walk(&w, a).leaf.accessed);
	assert_int_equal(rec_count(&w.rec, 'y'), 2);
	/* Clear: the host bits go, the subscriber is asked per entry, no start/end. */
	assert_int_equal(mn_mm_age(w.mm, a, 4 * PG, MN_AGE_CLEAR_FLUSH_YOUNG), 2);
	assert_false(walk(&w, a).leaf.accessed);
	assert_int_equal(rec_count(&w.rec, 'y'), 4);
	assert_int_equal(mn_mm_age(w.mm, a, 4 * PG, MN_AGE_CLEAR_YOUNG), 0);
	/* The secondary MMU's answer counts even when the host entry is old. */
	w.rec.young = 1;
	assert_int_equal(mn_mm_age(w.mm, a, 4 * PG, MN_AGE_CLEAR_YOUNG), 2);
	assert_int_equal(rec_count(&w.rec, 's') + rec_count(&w.rec, 'e'), 0);
	assert_int_equal(mn_mm_age(w.mm, a + 1, PG, MN_AGE_CLEAR_YOUNG), -EINVAL);
	world_fini(&w);
}

/* The secondary leaf of @gfn in @vm (kind %MN_PTE_NONE when absent). */
static struct mn_pte vm_leaf(struct mn_vm *vm, mn_gfn_t gfn)
{
	struct mn_pt_walk wk;

	memset(&wk, 0, sizeof(wk));
	mn_pt_walk(mn_vm_get_pt(vm, 0), gfn, &wk);
	return wk.leaf;
}

static void test_notify_age_reaches_vm_aging_without_host_work(void **state)
{
	unsigned int arch;

	(void)state;
	for (arch = 0; arch < 2; arch++) {
		struct mn_vm_config cfg = { .arch = arch ? MN_VM_ARM64 : MN_VM_X86 };
		struct mn_userspace_memory_region2 reg = { .memory_size = 8 * PG };
		struct mn_vm_invalidate_state before, after;
		struct mn_vcpu *vcpu;
		struct mn_vm *vm;
		struct world w;
		mn_hva_t a;
		uint64_t g;

		/*  gfn  01234567
		 *  slot SSSSSSSS   <- hva a .. a + 8 pages
		 *  read ***        <- gfns 0-2 young in the VM, 3-7 not mapped yet
		 */
		world_init(&w, MN_THP_NEVER);
		a = map_anon(&w, 8 * PG, MN_PROT_READ | MN_PROT_WRITE);
		assert_int_equal(mn_vm_create(w.mm, &cfg, &vm), 0);
		reg.userspace_addr = a;
		assert_int_equal(mn_vm_set_user_memory_region2(vm, &reg), 0);
		vcpu = mn_vm_get_vcpu(vm, 0);
		for (g = 0; g < 3; g++)
			assert_int_equal(mn_vcpu_access(vcpu, 0, g * PG, MN_PTE_R, NULL, NULL), 0);
		for (g = 0; g < 3; g++)
			assert_true(vm_leaf(vm, g).accessed);
		mn_vm_get_invalidate_state(vm, &before);
		w.rec.nr = 0;
		/* test_young: one page at a time, the VM answers for the first young one. */
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_TEST_YOUNG, a, a + 8 * PG), 1);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_TEST_YOUNG, a + 3 * PG, a + 8 * PG),
				 0);
		assert_true(vm_leaf(vm, 0).accessed);
		/* clear_young: the VM's young leaves become old and stay mapped. */
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, a, a + 8 * PG), 1);
		for (g = 0; g < 3; g++) {
			assert_int_equal(vm_leaf(vm, g).kind, MN_PTE_LEAF);
			assert_false(vm_leaf(vm, g).accessed);
		}
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_TEST_YOUNG, a, a + 8 * PG), 0);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, a, a + 8 * PG), 0);
		/*
		 * A new young leaf (the vCPU's TLB still holds gfns 0-2, so touching them again
		 * would set no bit): clear_flush_young answers for it and clears it.
		 */
		assert_int_equal(mn_vcpu_access(vcpu, 0, 3 * PG, MN_PTE_R, NULL, NULL), 0);
		assert_true(vm_leaf(vm, 3).accessed);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_TEST_YOUNG, a, a + 8 * PG), 1);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_FLUSH_YOUNG, a, a + 8 * PG), 1);
		assert_false(vm_leaf(vm, 3).accessed);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_FLUSH_YOUNG, a, a + 8 * PG), 0);
		/* Every subscriber is asked (the recorder answers 0 here), and it is OR-ed in. */
		assert_true(rec_count(&w.rec, 'y') >= 4);
		w.rec.young = 1;
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, a, a + 8 * PG), 1);
		w.rec.young = 0;
		/* Aging alone: no start/end, no sequence bump, the host's own bits untouched. */
		assert_int_equal(rec_count(&w.rec, 's') + rec_count(&w.rec, 'e'), 0);
		mn_vm_get_invalidate_state(vm, &after);
		assert_int_equal(after.seq, before.seq);
		assert_true(walk(&w, a).leaf.accessed);
		/* Bad ranges and modes. */
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, a + 1, a + PG), -EINVAL);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, a, a + PG + 1), -EINVAL);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, a, a), -EINVAL);
		assert_int_equal(mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, 0, 1ULL << 60), -EINVAL);
		assert_int_equal(mn_mm_notify_age(w.mm, (enum mn_age_mode)3, a, a + PG), -EINVAL);
		mn_vm_destroy(vm);
		world_fini(&w);
	}
}

static void test_fork_write_protects_and_cow_notifies(void **state)
{
	struct mn_frame_ref before;
	struct mn_mm *child;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 77);
	before = ref_at(&w, a);
	assert_int_equal(mn_mm_fork(w.mm, &child), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_PROTECTION_PAGE);
	assert_false(walk(&w, a).leaf.perm & MN_PTE_W);
	assert_int_equal(info(&w, before.pfn).mapcount, 2);
	/* The parent writes: COW replaces its entry inside a CLEAR pair. */
	write_word(&w, a, 78);
	assert_int_equal(w.rec.nr, 4);
	assert_int_equal(w.rec.ev[2].event, MN_NOTIFY_CLEAR);
	assert_int_equal(w.rec.ev[2].start, a);
	assert_int_not_equal(ref_at(&w, a).pfn, before.pfn);
	assert_int_equal(info(&w, before.pfn).mapcount, 1);
	/* The child still sees the old data, and can now reuse the page without copying. */
	{
		uint64_t v = 0;

		assert_int_equal(mn_mm_access(child, a, MN_PTE_R, &v, NULL), 0);
		assert_int_equal(v, 77);
		v = 79;
		assert_int_equal(mn_mm_access(child, a, MN_PTE_W, &v, NULL), 0);
		assert_int_equal(ref_at(&(struct world){ .mm = child }, a).pfn, before.pfn);
	}
	assert_int_equal(mn_mm_check_invariants(child), 0);
	mn_mm_exit(child);
	mn_mm_destroy(child);
	assert_int_equal(read_word(&w, a), 78);
	world_fini(&w);
}

static void test_clear_soft_dirty_write_protects_everything(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	write_word(&w, a + PG, 1);
	assert_int_equal(mn_mm_clear_soft_dirty(w.mm), 2);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_SOFT_DIRTY);
	assert_int_equal(w.rec.ev[0].start, 0);
	assert_int_equal(w.rec.ev[0].end, UINT64_MAX);
	assert_false(walk(&w, a).leaf.perm & MN_PTE_W);
	/* The next write reuses the exclusive page in place: no copy, no notifier. */
	write_word(&w, a, 2);
	assert_true(walk(&w, a).leaf.perm & MN_PTE_W);
	assert_int_equal(w.rec.nr, 2);
	world_fini(&w);
}

/* ---- subscriptions ------------------------------------------------------------------------ */

static void test_register_unregister_release_and_exit(void **state)
{
	struct recorder second;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	rec_init(&second, w.mm);
	assert_int_equal(mn_notifier_register(&second.n, w.mm), -EBUSY);
	a = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	assert_int_equal(mn_mm_munmap(w.mm, a, PG), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(second.nr, 2);
	/* Unregister releases the subscriber; it hears nothing after. */
	assert_int_equal(mn_notifier_unregister(&second.n, w.mm), 0);
	assert_int_equal(second.nr, 3);
	assert_int_equal(second.ev[2].kind, 'r');
	assert_int_equal(mn_notifier_unregister(&second.n, w.mm), -ENOENT);
	a = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	/* Exit: release first, then the unmap reaches nobody. */
	mn_mm_exit(w.mm);
	assert_int_equal(w.rec.nr, 3);
	assert_int_equal(w.rec.ev[2].kind, 'r');
	assert_int_equal(second.nr, 3);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 0);
	/* Unregistering after exit is fine and releases nothing twice. */
	assert_int_equal(mn_notifier_unregister(&w.rec.n, w.mm), 0);
	assert_int_equal(w.rec.nr, 3);
	assert_int_equal(mn_notifier_register(&second.n, w.mm), -ESRCH);
	world_fini(&w);
}

static void test_oom_reaper_skips_vma_when_start_refuses(void **state)
{
	struct world w;
	unsigned int f = 0;
	mn_hva_t a, b;
	uint64_t v;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	b = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	write_word(&w, b, 1);
	w.rec.start_ret = -EAGAIN;
	assert_int_equal(mn_mm_oom_reap(w.mm), -EAGAIN);
	/* One non-blockable CLEAR try per VMA, from the top down; each backed out with end. */
	assert_int_equal(rec_count(&w.rec, 's'), 2);
	assert_int_equal(rec_count(&w.rec, 'e'), 2);
	assert_false(w.rec.ev[0].blockable);
	assert_int_equal(w.rec.ev[0].event, MN_NOTIFY_CLEAR);
	assert_int_equal(w.rec.ev[0].start, a); /* a is above b: reaped first */
	assert_int_equal(w.rec.ev[2].start, b);
	assert_int_equal(walk(&w, a).leaf.kind, MN_PTE_LEAF);
	assert_int_equal(nr_violations(&w, NULL), 0);
	w.rec.start_ret = 0;
	assert_int_equal(mn_mm_oom_reap(w.mm), 0);
	assert_int_equal(rec_count(&w.rec, 'e'), 4);
	assert_int_equal(walk(&w, a).leaf.kind, MN_PTE_NONE);
	/* The mm is unstable now: nothing is faulted back in. */
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_R, &v, &f), -EFAULT);
	assert_int_equal(f, MN_VM_FAULT_SIGBUS);
	world_fini(&w);
}

/*
 * A failed start is backed out as mn_hlist_invalidate_range_start() does: the other
 * subscribers still start, then every subscriber gets end, the failed one included.
 */
static void test_failed_start_backs_out_every_subscriber(void **state)
{
	struct recorder newer;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	rec_init(&newer, w.mm); /* newest first: it starts before w.rec */
	a = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	newer.start_ret = -EAGAIN; /* the first one called fails ... */
	assert_int_equal(mn_mm_oom_reap(w.mm), -EAGAIN);
	/* ... the older one is still started, and both are ended. */
	assert_int_equal(newer.nr, 2);
	assert_int_equal(newer.ev[0].kind, 's');
	assert_int_equal(newer.ev[1].kind, 'e');
	assert_int_equal(w.rec.nr, 2);
	assert_int_equal(w.rec.ev[0].kind, 's');
	assert_int_equal(w.rec.ev[1].kind, 'e');
	assert_int_equal(walk(&w, a).leaf.kind, MN_PTE_LEAF);
	assert_int_equal(mn_notifier_unregister(&newer.n, w.mm), 0);
	world_fini(&w);
}

/* ---- every operation on every kind of mapping ------------------------------------------ */

enum map_kind { K_4K, K_THP, K_HUGETLB, K_HUGETLB_SHARED, K_SHMEM, K_NR };

static const char *const kind_names[K_NR] = { "4K anon", "THP anon", "HugeTLB private",
					      "HugeTLB shared", "shmem" };

static bool kind_shared(enum map_kind k)
{
	return k == K_HUGETLB_SHARED || k == K_SHMEM;
}

static bool kind_hugetlb(enum map_kind k)
{
	return k == K_HUGETLB || k == K_HUGETLB_SHARED;
}

/* Two 2 MiB blocks, written at the start of each (the second one page in). */
static mn_hva_t map_kind(struct world *w, enum map_kind k)
{
	unsigned int flags = kind_shared(k) ? MN_MAP_SHARED : MN_MAP_PRIVATE;
	mn_hva_t a;

	world_init(w, k == K_THP ? MN_THP_ALWAYS : MN_THP_NEVER);
	flags |= MN_MAP_ANONYMOUS | (kind_hugetlb(k) ? MN_MAP_HUGETLB : 0);
	assert_int_equal(
		mn_mm_mmap(w->mm, 0, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE, flags, NULL, 0, &a), 0);
	write_word(w, a, 0x1111);
	write_word(w, a + 2 * MiB + PG, 0x2222);
	assert_int_equal(walk(w, a).leaf.level, k == K_4K || k == K_SHMEM ? 1 : 2);
	w->rec.nr = 0;
	return a;
}

static unsigned int pairs(const struct recorder *r, enum mn_notify_event ev)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->nr; i++)
		n += r->ev[i].kind == 's' && r->ev[i].event == ev;
	assert_int_equal(rec_count(r, 's'), rec_count(r, 'e'));
	return n;
}

static void test_every_operation_on_every_mapping_kind(void **state)
{
	struct mn_mm *child;
	struct world w;
	enum map_kind k;
	mn_hva_t a;
	mn_pfn_t pfn;
	uint64_t v;
	unsigned int f;

	(void)state;
	for (k = 0; k < K_NR; k++) {
		print_message("%s\n", kind_names[k]);

		/* MADV_DONTNEED: private memory comes back zeroed, shared from its file. */
		a = map_kind(&w, k);
		assert_int_equal(mn_mm_madvise(w.mm, a, 4 * MiB, MN_MADV_DONTNEED), 0);
		assert_true(pairs(&w.rec, MN_NOTIFY_CLEAR) >= 1);
		assert_int_equal(walk(&w, a).leaf.kind, MN_PTE_NONE);
		assert_int_equal(read_word(&w, a), kind_shared(k) ? 0x1111 : 0);
		world_fini(&w);

		/* mprotect read-only, then back: data stays, writes fault as they should. */
		a = map_kind(&w, k);
		assert_int_equal(mn_mm_mprotect(w.mm, a, 4 * MiB, MN_PROT_READ), 0);
		assert_true(pairs(&w.rec, MN_NOTIFY_PROTECTION_VMA) >= 1);
		f = 0;
		v = 1;
		assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_W, &v, &f), -EFAULT);
		assert_int_equal(f, MN_VM_FAULT_SIGSEGV);
		assert_int_equal(mn_mm_mprotect(w.mm, a, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE), 0);
		write_word(&w, a + 2 * MiB + PG, 0x3333);
		assert_int_equal(read_word(&w, a), 0x1111);
		world_fini(&w);

		/*
		 * Soft-dirty: write-protected (HugeTLB is not: clear_refs has no hugetlb walk),
		 * and the next write reuses the page in place.
		 */
		a = map_kind(&w, k);
		pfn = ref_at(&w, a).pfn;
		assert_int_equal(mn_mm_clear_soft_dirty(w.mm), kind_hugetlb(k) ? 0 : 2);
		assert_int_equal(pairs(&w.rec, MN_NOTIFY_SOFT_DIRTY), 1);
		assert_int_equal(!!(walk(&w, a).leaf.perm & MN_PTE_W), kind_hugetlb(k));
		write_word(&w, a, 0x4444);
		assert_int_equal(ref_at(&w, a).pfn, pfn);
		assert_int_equal(rec_count(&w.rec, 's'), 1);
		world_fini(&w);

		/* fork, then the parent writes: private copies, shared does not. */
		a = map_kind(&w, k);
		pfn = ref_at(&w, a).pfn;
		assert_int_equal(mn_mm_fork(w.mm, &child), 0);
		/* copy_hugetlb_page_range() sends CLEAR, copy_page_range() PROTECTION_PAGE. */
		assert_int_equal(
			pairs(&w.rec, k == K_HUGETLB ? MN_NOTIFY_CLEAR : MN_NOTIFY_PROTECTION_PAGE),
			kind_shared(k) ? 0 : 1);
		write_word(&w, a, 0x5555);
		assert_true((ref_at(&w, a).pfn == pfn) == kind_shared(k));
		v = 0;
		assert_int_equal(mn_mm_access(child, a, MN_PTE_R, &v, NULL), 0);
		assert_int_equal(v, kind_shared(k) ? 0x5555 : 0x1111);
		assert_int_equal(mn_mm_check_invariants(child), 0);
		mn_mm_exit(child);
		mn_mm_destroy(child);
		world_fini(&w);

		/* NUMA hinting: everything but HugeTLB; the next access restores the entry. */
		a = map_kind(&w, k);
		assert_int_equal(mn_mm_numa_protnone(w.mm, a, 4 * MiB), kind_hugetlb(k) ? 0 : 2);
		assert_int_equal(walk(&w, a).leaf.kind,
				 kind_hugetlb(k) ? MN_PTE_LEAF : MN_PTE_PROTNONE);
		assert_int_equal(read_word(&w, a + 2 * MiB + PG), 0x2222);
		assert_int_equal(walk(&w, a + 2 * MiB + PG).leaf.kind, MN_PTE_LEAF);
		world_fini(&w);

		/* Aging: one question per mapped entry, sized like the entry. */
		a = map_kind(&w, k);
		assert_int_equal(mn_mm_age(w.mm, a, 4 * MiB, MN_AGE_CLEAR_FLUSH_YOUNG), 2);
		assert_int_equal(rec_count(&w.rec, 'y'), 2);
		assert_int_equal(w.rec.ev[0].end - w.rec.ev[0].start,
				 k == K_4K || k == K_SHMEM ? PG : 2 * MiB);
		assert_int_equal(rec_count(&w.rec, 's'), 0);
		world_fini(&w);

		/* munmap: one UNMAP pair; every frame goes (the shmem file goes with it). */
		a = map_kind(&w, k);
		w.rec.watch[w.rec.nr_watch++] = ref_at(&w, a);
		assert_int_equal(mn_mm_munmap(w.mm, a, 4 * MiB), 0);
		assert_int_equal(pairs(&w.rec, MN_NOTIFY_UNMAP), 1);
		assert_int_equal(w.rec.ev[0].live, 1);
		assert_int_equal(live_frames(&w.rec), 0);
		world_fini(&w);
	}
}

/* ---- checked mode ------------------------------------------------------------------------- */

static void test_check_invariants_catches_broken_accounting(void **state)
{
	struct mn_frame_ref r;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 1);
	write_word(&w, a + PG, 2);
	r = ref_at(&w, a);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);

	/* A reference nobody accounts for (a leaked get_page()). */
	assert_int_equal(mn_phys_get(w.phys, r, "test.leak"), 0);
	assert_int_equal(mn_mm_check_invariants(w.mm), 1);
	assert_int_equal(nr_violations(&w, "host.refcount"), 1);
	assert_int_equal(mn_phys_put(w.phys, r, "test.leak"), 0);

	/* A mapping the rmap forgot. */
	assert_int_equal(mn_phys_unmap(w.phys, r, "test.unmap"), 0);
	assert_int_equal(mn_mm_check_invariants(w.mm), 1);
	assert_int_equal(nr_violations(&w, "host.mapcount"), 1);
	assert_int_equal(mn_phys_map(w.phys, r, "test.unmap"), 0);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);

	/* A frame freed under its mapping: phys reports the free, the check the entry. */
	r = ref_at(&w, a + PG);
	assert_int_equal(mn_phys_put(w.phys, r, "test.free"), 1);
	assert_int_equal(nr_violations(&w, "frame.freed_while_mapped"), 1);
	assert_int_equal(mn_mm_check_invariants(w.mm), 1);
	assert_int_equal(nr_violations(&w, "frame.use_after_free"), 1);
	world_destroy(&w); /* without the (now failing) final checks */
}

/* ---- in sim threads ---------------------------------------------------------------------- */

struct thread_op {
	struct world *w;
	mn_hva_t a;
	int ret;
};

static void oom_reaper_thread(struct mn_sim *sim, void *arg)
{
	struct thread_op *op = arg;

	(void)sim;
	op->ret = mn_mm_oom_reap(op->w->mm);
}

static void test_sleeping_in_non_blockable_start_is_reported(void **state)
{
	struct thread_op op;
	struct world w;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	op = (struct thread_op){ .w = &w };
	op.a = map_anon(&w, PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, op.a, 1);
	w.rec.sleep_start = true;
	assert_int_equal(mn_sim_spawn(w.sim, "oom_reaper", oom_reaper_thread, &op, NULL), 0);
	assert_int_equal(mn_sim_run(w.sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(nr_violations(&w, "lock.sleep_in_non_block"), 1);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	world_destroy(&w);
}

static void munmap_thread(struct mn_sim *sim, void *arg)
{
	struct thread_op *op = arg;

	(void)sim;
	op->ret = mn_mm_munmap(op->w->mm, op->a, 2 * PG);
}

static void test_subscriber_using_frame_after_start_is_use_after_free(void **state)
{
	struct thread_op op;
	struct world w;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	op = (struct thread_op){ .w = &w };
	op.a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, op.a, 1);
	/* A buggy secondary MMU keeps using the frame until end: the host freed it before. */
	w.rec.watch[w.rec.nr_watch++] = ref_at(&w, op.a);
	w.rec.use_at_end = true;
	assert_int_equal(mn_sim_spawn(w.sim, "munmap", munmap_thread, &op, NULL), 0);
	assert_int_equal(mn_sim_run(w.sim, NULL), MN_RUN_VIOLATION);
	assert_int_equal(op.ret, 0);
	assert_int_equal(nr_violations(&w, "frame.use_after_free"), 1);
	assert_string_equal(mn_trace_violation(mn_sim_get_trace(w.sim), 0)->what,
			    "buggy_subscriber.read");
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	world_destroy(&w);
	/* Skipping the free step (a mutation) leaves the frame alive: no report. */
	world_init(&w, MN_THP_NEVER);
	op = (struct thread_op){ .w = &w };
	op.a = map_anon(&w, 2 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, op.a, 1);
	w.rec.watch[w.rec.nr_watch++] = ref_at(&w, op.a);
	w.rec.use_at_end = true;
	assert_int_equal(mn_sim_skip_step(w.sim, "munmap.free_pages"), 0);
	assert_int_equal(mn_sim_spawn(w.sim, "munmap", munmap_thread, &op, NULL), 0);
	assert_int_equal(mn_sim_run(w.sim, NULL), MN_RUN_OK);
	assert_int_equal(nr_violations(&w, NULL), 0);
	world_destroy(&w); /* the mutation leaked the frame: not a clean world */
}

/*
 * Explored: a munmap and a madvise(DONTNEED) of overlapping ranges, and a VMM thread
 * writing into the range. Under every schedule the subscriber sees start/end pairs that
 * match, each start while the range's frames are still live and mapped, and the host ends
 * consistent.
 *
 *  page    0 1 2 3
 *  vma     AAAAAAA
 *  munmap  ***           [0, 2)
 *  dontneed  *****       [1, 4)
 *  write     x           page 1
 *
 * munmap holds the mmap lock for writing, so nothing refaults inside its pair; madvise
 * and the fault both hold it for reading, so a refault inside the CLEAR pair is legal.
 */
struct race {
	struct world w;
	struct thread_op unmap, dontneed, writer;
	uint64_t runs;
};

static void dontneed_thread(struct mn_sim *sim, void *arg)
{
	struct thread_op *op = arg;

	(void)sim;
	op->ret = mn_mm_madvise(op->w->mm, op->a, 3 * PG, MN_MADV_DONTNEED);
}

static void writer_thread(struct mn_sim *sim, void *arg)
{
	struct thread_op *op = arg;
	uint64_t v = 99;

	(void)sim;
	op->ret = mn_mm_access(op->w->mm, op->a, MN_PTE_W, &v, NULL);
}

static int race_setup(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	mn_hva_t a;
	unsigned int i;

	r->runs++;
	if (world_attach(&r->w, sim, MN_THP_NEVER))
		return -ENOMEM;
	if (mn_mm_mmap(r->w.mm, 0, 4 * PG, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &a))
		return -ENOMEM;
	for (i = 0; i < 4; i++) {
		uint64_t v = i + 1;
		struct mn_pt_walk wk;

		if (mn_mm_access(r->w.mm, a + i * PG, MN_PTE_W, &v, NULL))
			return -EFAULT;
		mn_pt_walk(mn_mm_get_pt(r->w.mm), (a + i * PG) / PG, &wk);
		r->w.rec.watch[r->w.rec.nr_watch++] = (struct mn_frame_ref){ wk.pfn, wk.gen };
	}
	r->unmap = (struct thread_op){ .w = &r->w, .a = a };
	r->dontneed = (struct thread_op){ .w = &r->w, .a = a + PG };
	r->writer = (struct thread_op){ .w = &r->w, .a = a + PG };
	mn_sim_spawn(sim, "munmap", munmap_thread, &r->unmap, NULL);
	mn_sim_spawn(sim, "madvise", dontneed_thread, &r->dontneed, NULL);
	mn_sim_spawn(sim, "vmm", writer_thread, &r->writer, NULL);
	return 0;
}

static void race_check(struct mn_sim *sim, void *arg)
{
	struct race *r = arg;
	unsigned int i, starts = 0, ends = 0;

	for (i = 0; i < r->w.rec.nr; i++) {
		const struct rec_event *e = &r->w.rec.ev[i];

		if (e->kind == 's') {
			starts++;
			/* The contract: start runs while page 0 is still mapped. */
			if (e->event == MN_NOTIFY_UNMAP && !e->mapped)
				mn_sim_reportf(sim, MN_VIOL_CHECK, "test.start_after_clear",
					       "UNMAP start saw nothing mapped");
		} else if (e->kind == 'e') {
			ends++;
			if (ends > starts || (e->event == MN_NOTIFY_UNMAP && e->mapped))
				mn_sim_reportf(sim, MN_VIOL_CHECK, "test.end_order",
					       "end #%u with %u pages still mapped", ends,
					       e->mapped);
		}
	}
	if (starts != 2 || ends != 2)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.pairs", "%u starts, %u ends", starts,
			       ends);
	if (r->unmap.ret || (r->dontneed.ret && r->dontneed.ret != -ENOMEM) ||
	    (r->writer.ret && r->writer.ret != -EFAULT))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.results", "munmap %d madvise %d write %d",
			       r->unmap.ret, r->dontneed.ret, r->writer.ret);
	if (mn_mm_check_invariants(r->w.mm))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.host", "host invariants broken");
	mn_mm_destroy(r->w.mm);
}

static void test_notifier_order_under_every_schedule(void **state)
{
	static struct race r;
	struct mn_scenario sc = { "munmap-vs-dontneed-vs-write", race_setup, race_check, NULL, &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	explore_expect(&sc, 2, 100, NULL, NULL);
}

/* A mutation the explorer must catch: skip the host TLB flush before the frames go. */
static void test_skipping_host_tlb_flush_is_caught(void **state)
{
	static struct race r;
	struct mn_scenario sc = { "munmap-vs-dontneed-vs-write", race_setup, race_check, NULL, &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	explore_expect(&sc, 2, 0, "munmap.tlb_flush", "frame.use_after_free");
}

/* ---- races the review found (each failed before its fix) ------------------------------- */

struct duel {
	struct world w;
	mn_hva_t a;
	int ret[2];
};

static void duel_check(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;

	if (mn_mm_check_invariants(d->w.mm))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.host", "host invariants broken");
	mn_mm_destroy(d->w.mm);
}

static void mprotect_ro_thread(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;

	(void)sim;
	d->ret[0] = mn_mm_mprotect(d->w.mm, d->a, PG, MN_PROT_READ);
}

static void write_thread(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;
	uint64_t v = 99;

	(void)sim;
	d->ret[1] = mn_mm_access(d->w.mm, d->a, MN_PTE_W, &v, NULL);
}

/*
 * The VMM's write sets the dirty bit after the mprotect(PROT_READ) that raced it: setting
 * A/D must never write back the old entry, with W, over the read-only one.
 */
static int mprotect_write_setup(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;
	uint64_t v = 1;

	if (world_attach(&d->w, sim, MN_THP_NEVER) ||
	    mn_mm_mmap(d->w.mm, 0, PG, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &d->a) ||
	    mn_mm_access(d->w.mm, d->a, MN_PTE_W, &v, NULL))
		return -ENOMEM;
	/* Old and clean again, so that the write has A and D to set. */
	mn_mm_age(d->w.mm, d->a, PG, MN_AGE_CLEAR_YOUNG);
	mn_mm_clear_soft_dirty(d->w.mm);
	mn_mm_mprotect(d->w.mm, d->a, PG, MN_PROT_READ | MN_PROT_WRITE);
	mn_sim_spawn(sim, "mprotect", mprotect_ro_thread, d, NULL);
	mn_sim_spawn(sim, "vmm", write_thread, d, NULL);
	return 0;
}

static void test_setting_dirty_never_restores_write_permission(void **state)
{
	static struct duel d;
	struct mn_scenario sc = { "mprotect-vs-write", mprotect_write_setup, duel_check, NULL, &d };

	(void)state;
	explore_expect(&sc, 2, 10, NULL, NULL);
}

static void dontneed_page1_thread(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;

	(void)sim;
	d->ret[0] = mn_mm_madvise(d->w.mm, d->a + PG, PG, MN_MADV_DONTNEED);
}

static void dontneed_page3_thread(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;

	(void)sim;
	d->ret[1] = mn_mm_madvise(d->w.mm, d->a + 3 * PG, PG, MN_MADV_DONTNEED);
}

/*
 *  page      0 1 2 3 ...                      (one 2 MiB block, THP allowed)
 *  dontneed    *          <- [1, 2), racing a THP fault at page 0
 *  write     x
 *
 * A THP installed after the edges were split must be split again at zap time, not zapped
 * whole: the write at page 0, outside the range, survives.
 */
static int dontneed_thp_fault_setup(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;

	if (world_attach(&d->w, sim, MN_THP_ALWAYS) ||
	    mn_mm_mmap(d->w.mm, 0, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &d->a))
		return -ENOMEM;
	mn_sim_spawn(sim, "madvise", dontneed_page1_thread, d, NULL);
	mn_sim_spawn(sim, "vmm", write_thread, d, NULL);
	return 0;
}

static void dontneed_thp_fault_check(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;
	uint64_t v = 0;

	mn_mm_access(d->w.mm, d->a, MN_PTE_R, &v, NULL);
	if (d->ret[0] || d->ret[1] || v != 99)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.lost_write",
			       "madvise %d, write %d, page 0 reads %llu", d->ret[0], d->ret[1],
			       (unsigned long long)v);
	duel_check(sim, arg);
}

static void test_dontneed_racing_thp_fault_keeps_writes_outside(void **state)
{
	static struct duel d;
	struct mn_scenario sc = { "dontneed-vs-thp-fault", dontneed_thp_fault_setup,
				  dontneed_thp_fault_check, NULL, &d };

	(void)state;
	explore_expect(&sc, 2, 10, NULL, NULL);
}

/* Two MADV_DONTNEEDs cutting one THP: whoever splits second finds it split, not an error. */
static int two_dontneeds_setup(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;
	uint64_t v = 1;

	if (world_attach(&d->w, sim, MN_THP_ALWAYS) ||
	    mn_mm_mmap(d->w.mm, 0, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &d->a) ||
	    mn_mm_access(d->w.mm, d->a, MN_PTE_W, &v, NULL))
		return -ENOMEM;
	mn_sim_spawn(sim, "madvise1", dontneed_page1_thread, d, NULL);
	mn_sim_spawn(sim, "madvise3", dontneed_page3_thread, d, NULL);
	return 0;
}

static void two_dontneeds_check(struct mn_sim *sim, void *arg)
{
	struct duel *d = arg;

	if (d->ret[0] || d->ret[1])
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.madvise", "madvise %d and %d", d->ret[0],
			       d->ret[1]);
	duel_check(sim, arg);
}

static void test_two_dontneeds_on_one_thp_both_succeed(void **state)
{
	static struct duel d;
	struct mn_scenario sc = { "dontneed-vs-dontneed", two_dontneeds_setup, two_dontneeds_check,
				  NULL, &d };

	(void)state;
	explore_expect(&sc, 2, 10, NULL, NULL);
}

/* MADV_NOHUGEPAGE over half a THP splits the THP with the VMA. */
static void test_thp_hint_over_half_a_thp_splits_it(void **state)
{
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_ALWAYS);
	a = map_anon(&w, 4 * MiB, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 5);
	assert_int_equal(walk(&w, a).leaf.level, MN_PG_LEVEL_2M);
	assert_int_equal(mn_mm_madvise(w.mm, a + MiB, MiB, MN_MADV_NOHUGEPAGE), 0);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 3);
	assert_int_equal(walk(&w, a).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(pairs(&w.rec, MN_NOTIFY_CLEAR), 1);
	assert_int_equal(read_word(&w, a), 5);
	/* HugeTLB pages are never cut. */
	{
		mn_hva_t h;

		assert_int_equal(mn_mm_mmap(w.mm, 0, 2 * MiB, MN_PROT_READ,
					    MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_HUGETLB,
					    NULL, 0, &h),
				 0);
		assert_int_equal(mn_mm_madvise(w.mm, h, PG, MN_MADV_NOHUGEPAGE), -EINVAL);
	}
	world_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmap_rejects_bad_arguments),
		cmocka_unit_test(test_mmap_places_top_down_and_aligns_thp),
		cmocka_unit_test(test_read_maps_zero_page_and_write_copies),
		cmocka_unit_test(test_fault_outside_vma_or_without_permission_is_sigsegv),
		cmocka_unit_test(test_private_file_mapping_copies_on_write),
		cmocka_unit_test(test_thp_fault_maps_2m_and_reports_level),
		cmocka_unit_test(test_hugetlb_2m_and_1g),
		cmocka_unit_test(test_munmap_frees_frames_with_one_notified_pair),
		cmocka_unit_test(test_partial_munmap_splits_vma_and_thp),
		cmocka_unit_test(test_mmap_fixed_replaces_with_notification),
		cmocka_unit_test(test_mprotect_read_only_makes_gup_write_fail),
		cmocka_unit_test(test_prot_none_and_numa_hinting),
		cmocka_unit_test(test_madvise_dontneed_clears_and_refaults_zeroed),
		cmocka_unit_test(test_aging_reports_and_clears_young_without_start_end),
		cmocka_unit_test(test_notify_age_reaches_vm_aging_without_host_work),
		cmocka_unit_test(test_fork_write_protects_and_cow_notifies),
		cmocka_unit_test(test_clear_soft_dirty_write_protects_everything),
		cmocka_unit_test(test_every_operation_on_every_mapping_kind),
		cmocka_unit_test(test_check_invariants_catches_broken_accounting),
		cmocka_unit_test(test_register_unregister_release_and_exit),
		cmocka_unit_test(test_oom_reaper_skips_vma_when_start_refuses),
		cmocka_unit_test(test_failed_start_backs_out_every_subscriber),
		cmocka_unit_test(test_sleeping_in_non_blockable_start_is_reported),
		cmocka_unit_test(test_subscriber_using_frame_after_start_is_use_after_free),
		cmocka_unit_test(test_notifier_order_under_every_schedule),
		cmocka_unit_test(test_skipping_host_tlb_flush_is_caught),
		cmocka_unit_test(test_setting_dirty_never_restores_write_permission),
		cmocka_unit_test(test_dontneed_racing_thp_fault_keeps_writes_outside),
		cmocka_unit_test(test_two_dontneeds_on_one_thp_both_succeed),
		cmocka_unit_test(test_thp_hint_over_half_a_thp_splits_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
