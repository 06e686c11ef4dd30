// SPDX-License-Identifier: MIT
/*
 * test-tlb-ad.c - the accessed and dirty bits the hardware's walk sets when it fills a
 * vCPU TLB (lib/pt/tlb.c, mn_tlb_access()): EPT with A/D enabled, stage-2 with
 * VTCR_EL2.HA, none on a TLB hit, none for an access-tracked EPT leaf or the host's table,
 * and aging through the notifier seen end to end; and the TLB's index checked against a
 * linear scan of its slots.
 */
#include "mn-test-kvm.h"
#include "kvm/kvm-internal.h"

#include <errno.h>
#include <string.h>

/* ---- one table and one TLB, without a VM ------------------------------------------------ */

struct ptw {
	struct mn_alloc *a;
	struct mn_trace *t;
	struct mn_phys *p;
	struct mn_pt *pt;
	struct mn_pt_format f;
	struct mn_tlb *tlb;
	struct mn_frame_ref page;
};

static void ptw_open(struct ptw *w, enum mn_pt_arch arch)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(mn_alloc_create(NULL, &w->a), 0);
	assert_int_equal(mn_trace_create(w->a, MN_TRACE_OFF, 0, &w->t), 0);
	assert_int_equal(mn_phys_create(w->a, w->t, NULL, &w->p), 0);
	if (arch == MN_PT_EPT)
		assert_int_equal(mn_pt_format_ept(&w->f, 4, 0), 0);
	else if (arch == MN_PT_STAGE2)
		assert_int_equal(mn_pt_format_stage2(&w->f, 40, 0), 0);
	else
		assert_int_equal(mn_pt_format_host(&w->f), 0);
	assert_int_equal(mn_pt_create(w->a, w->p, &w->f, &w->pt), 0);
	assert_int_equal(mn_tlb_create(w->a, 0, &w->tlb), 0);
	assert_int_equal(mn_phys_alloc(w->p, 0, MN_OWNER_ANON, 0, &w->page), 0);
}

static void ptw_close(struct ptw *w)
{
	assert_int_equal(mn_trace_nr_violations(w->t), 0);
	mn_tlb_destroy(w->tlb);
	mn_pt_destroy(w->pt);
	assert_int_equal(mn_phys_put(w->p, w->page, "free"), 1);
	mn_phys_destroy(w->p);
	mn_trace_destroy(w->t);
	mn_alloc_destroy(w->a);
}

/* Map w->page at @gfn, 4 KiB, readable and optionally writable, with the A and D given. */
static void ptw_map(struct ptw *w, mn_gfn_t gfn, bool writable, bool accessed, bool dirty)
{
	struct mn_pte p = {
		.kind = MN_PTE_LEAF,
		.level = 1,
		.pfn = w->page.pfn,
		.perm = MN_PTE_R | (writable ? MN_PTE_W : 0),
		.memtype = MN_MT_WB,
		.accessed = accessed,
		.dirty = dirty,
	};
	struct mn_pt_result res;

	if (w->f.arch == MN_PT_EPT) {
		p.ipat = true;
		p.sw = MN_PTE_SW_HOST_WRITABLE | (writable ? MN_PTE_SW_MMU_WRITABLE : 0);
	} else if (w->f.arch == MN_PT_HOST_X86) {
		p.perm |= MN_PTE_U;
	}
	assert_int_equal(mn_pt_map_frame(w->pt, NULL, gfn, &p, w->page.gen, &res), 0);
}

static struct mn_pte ptw_leaf(struct ptw *w, mn_gfn_t gfn)
{
	struct mn_pt_walk wk;

	assert_int_equal(mn_pt_walk(w->pt, gfn, &wk), 0);
	return wk.leaf;
}

static int ptw_access(struct ptw *w, mn_gfn_t gfn, unsigned int perm)
{
	mn_pfn_t pfn = MN_INVALID_PFN;
	int r = mn_tlb_access(w->tlb, w->pt, w->p, gfn, perm, "guest", &pfn);

	if (!r)
		assert_int_equal(pfn, w->page.pfn);
	return r;
}

static struct mn_tlb_stats ptw_stats(struct ptw *w)
{
	struct mn_tlb_stats st;

	mn_tlb_get_stats(w->tlb, &st);
	return st;
}

/*
 * EPT with A/D on: a read that misses the TLB makes an old leaf young and leaves it clean;
 * a hit after aging (no flush) sets nothing; a flush and the next read make it young again.
 *
 *  gfn    0x40
 *  leaf   R W, A=0 D=0
 *  guest  R (miss) -> A;  age -> A=0;  R (hit) -> A=0;  flush, R (miss) -> A
 */
static void test_ept_read_miss_sets_accessed_hit_sets_nothing(void **state)
{
	struct mn_pt_result res;
	struct ptw w;

	(void)state;
	ptw_open(&w, MN_PT_EPT);
	ptw_map(&w, 0x40, true, false, false);
	assert_int_equal(ptw_access(&w, 0x40, MN_PTE_R), 0);
	assert_true(ptw_leaf(&w, 0x40).accessed);
	assert_false(ptw_leaf(&w, 0x40).dirty);
	assert_int_equal(ptw_stats(&w).misses, 1);

	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x40, 0x41 }, true, &res), 1);
	assert_false(ptw_leaf(&w, 0x40).accessed);
	assert_int_equal(ptw_access(&w, 0x40, MN_PTE_R), 0);
	assert_int_equal(ptw_stats(&w).hits, 1);
	assert_false(ptw_leaf(&w, 0x40).accessed); /* the translation was cached: no walk */

	assert_int_equal(mn_tlb_flush(w.tlb, MN_FLUSH_ALL, (struct mn_gfn_range){ 0, 0 }, 0), 1);
	assert_int_equal(ptw_access(&w, 0x40, MN_PTE_R), 0);
	assert_int_equal(ptw_stats(&w).misses, 2);
	assert_true(ptw_leaf(&w, 0x40).accessed);
	assert_false(ptw_leaf(&w, 0x40).dirty);
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x40, 0x41 }, false, &res), 1);
	ptw_close(&w);
}

/*
 * EPT: a store that misses sets A and D; a store through a translation cached clean (filled
 * by a read) sets D then, once; a store hit through a dirty translation writes nothing.
 */
static void test_ept_write_sets_dirty(void **state)
{
	struct mn_pt_stats before, after;
	struct ptw w;

	(void)state;
	ptw_open(&w, MN_PT_EPT);
	ptw_map(&w, 0x10, true, false, false);
	assert_int_equal(ptw_access(&w, 0x10, MN_PTE_W), 0);
	assert_true(ptw_leaf(&w, 0x10).accessed);
	assert_true(ptw_leaf(&w, 0x10).dirty);

	/* Clean and old again, cached by a read: the store sets D although it hits. */
	ptw_map(&w, 0x20, true, false, false);
	assert_int_equal(ptw_access(&w, 0x20, MN_PTE_R), 0);
	assert_false(ptw_leaf(&w, 0x20).dirty);
	assert_int_equal(ptw_access(&w, 0x20, MN_PTE_W), 0);
	assert_int_equal(ptw_stats(&w).hits, 1);
	assert_true(ptw_leaf(&w, 0x20).dirty);

	/* The translations are dirty now: further stores write no entry. */
	mn_pt_get_stats(w.pt, &before);
	assert_int_equal(ptw_access(&w, 0x20, MN_PTE_W), 0);
	assert_int_equal(ptw_access(&w, 0x10, MN_PTE_W), 0);
	mn_pt_get_stats(w.pt, &after);
	assert_int_equal(after.entries_written, before.entries_written);
	ptw_close(&w);
}

/* A permission fault sets nothing: a store to a read-only old leaf leaves it old and clean. */
static void test_ept_permission_fault_sets_nothing(void **state)
{
	struct ptw w;

	(void)state;
	ptw_open(&w, MN_PT_EPT);
	ptw_map(&w, 0x30, false, false, false);
	assert_int_equal(ptw_access(&w, 0x30, MN_PTE_W), -EACCES);
	assert_false(ptw_leaf(&w, 0x30).accessed);
	assert_int_equal(mn_tlb_nr_entries(w.tlb), 0);
	ptw_close(&w);
}

/*
 * An A/D-disabled EPT leaf aged by access tracking (RWX cleared, R saved): the CPU sets
 * nothing, the access is an EPT violation and the entry stays as it was.
 */
static void test_ept_access_tracked_leaf_faults_unchanged(void **state)
{
	struct mn_pte p = {
		.kind = MN_PTE_LEAF,
		.level = 1,
		.memtype = MN_MT_WB,
		.ipat = true,
		.sw = MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_ACC_TRACK,
		.saved_perm = MN_PTE_R | MN_PTE_X,
		.ad_type = 1,
	};
	struct mn_pt_result res;
	struct mn_pt_walk wk;
	uint64_t raw;
	struct ptw w;

	(void)state;
	ptw_open(&w, MN_PT_EPT);
	p.pfn = w.page.pfn;
	assert_int_equal(mn_pt_map_frame(w.pt, NULL, 0x50, &p, w.page.gen, &res), 0);
	assert_int_equal(mn_pt_walk(w.pt, 0x50, &wk), 0);
	raw = wk.raw[wk.depth - 1];
	assert_int_equal(ptw_access(&w, 0x50, MN_PTE_R), -EACCES);
	assert_int_equal(mn_pt_walk(w.pt, 0x50, &wk), 0);
	assert_int_equal(wk.raw[wk.depth - 1], raw);

	/* An A/D-disabled leaf that is not tracked translates, and is left as it is too. */
	p = (struct mn_pte){ .kind = MN_PTE_LEAF,
			     .level = 1,
			     .pfn = w.page.pfn,
			     .perm = MN_PTE_R | MN_PTE_W,
			     .memtype = MN_MT_WB,
			     .ipat = true,
			     .accessed = true,
			     .dirty = false,
			     .ad_type = 1,
			     .sw = MN_PTE_SW_HOST_WRITABLE | MN_PTE_SW_MMU_WRITABLE };
	assert_int_equal(mn_pt_map_frame(w.pt, NULL, 0x51, &p, w.page.gen, &res), 0);
	assert_int_equal(ptw_access(&w, 0x51, MN_PTE_W), 0);
	assert_false(ptw_leaf(&w, 0x51).dirty);
	ptw_close(&w);
}

/* Stage-2 with VTCR_EL2.HA: the walk sets the access flag; there is no dirty bit. */
static void test_stage2_walk_sets_access_flag(void **state)
{
	struct mn_pt_result res;
	struct ptw w;

	(void)state;
	ptw_open(&w, MN_PT_STAGE2);
	ptw_map(&w, 0x60, true, false, false);
	assert_int_equal(ptw_access(&w, 0x60, MN_PTE_W), 0);
	assert_true(ptw_leaf(&w, 0x60).accessed);
	assert_false(ptw_leaf(&w, 0x60).dirty);
	assert_int_equal(mn_pt_age(w.pt, (struct mn_gfn_range){ 0x60, 0x61 }, true, &res), 1);
	assert_int_equal(ptw_access(&w, 0x60, MN_PTE_R), 0); /* hit */
	assert_false(ptw_leaf(&w, 0x60).accessed);
	mn_tlb_flush(w.tlb, MN_FLUSH_IPA, (struct mn_gfn_range){ 0x60, 0 }, 1);
	assert_int_equal(ptw_access(&w, 0x60, MN_PTE_R), 0);
	assert_true(ptw_leaf(&w, 0x60).accessed);
	ptw_close(&w);
}

/* The host's table: mn_mm_access() marks its own entries, the TLB walk leaves them. */
static void test_host_table_left_to_its_accessor(void **state)
{
	struct ptw w;

	(void)state;
	ptw_open(&w, MN_PT_HOST_X86);
	ptw_map(&w, 0x70, true, false, false);
	assert_int_equal(ptw_access(&w, 0x70, MN_PTE_W), 0);
	assert_false(ptw_leaf(&w, 0x70).accessed);
	assert_false(ptw_leaf(&w, 0x70).dirty);
	ptw_close(&w);
}

/* ---- the index: the same TLB as a linear scan of its slots ------------------------------ */

#define REF_CAP 64

/* The TLB as it behaved with a linear scan: lowest covering slot, lowest free slot, FIFO. */
struct ref_tlb {
	struct mn_tlb_entry e[REF_CAP];
	bool valid[REF_CAP];
	unsigned int cap, n, next;
	struct mn_tlb_stats st;
};

static int ref_lookup(const struct ref_tlb *r, mn_gfn_t gfn)
{
	unsigned int i;

	for (i = 0; i < r->cap; i++)
		if (r->valid[i] && gfn >= r->e[i].gfn &&
		    gfn - r->e[i].gfn < mn_level_pages((enum mn_pg_level)r->e[i].level))
			return (int)i;
	return -1;
}

static void ref_fill(struct ref_tlb *r, const struct mn_pt_walk *wk, mn_gfn_t gfn)
{
	uint64_t pages = mn_level_pages((enum mn_pg_level)wk->leaf.level);
	unsigned int i;

	if (r->n < r->cap) {
		for (i = 0; r->valid[i]; i++)
			;
		r->n++;
	} else {
		i = r->next;
		r->next = (r->next + 1) % r->cap;
		r->st.evicted++;
	}
	r->e[i] = (struct mn_tlb_entry){ gfn & ~(pages - 1), wk->leaf.level, wk->leaf.perm,
					 wk->leaf.pfn };
	r->valid[i] = true;
	r->st.fills++;
}

/* What mn_tlb_access() must answer, with the reference moved along. */
static int ref_access(struct ref_tlb *r, const struct mn_pt *pt, mn_gfn_t gfn, unsigned int perm,
		      mn_pfn_t *pfn)
{
	struct mn_pt_walk wk;
	int i = ref_lookup(r, gfn), ret;

	if (i >= 0 && (r->e[i].perm & perm) != perm) {
		r->valid[i] = false;
		r->n--;
		i = -1;
	}
	if (i >= 0) {
		r->st.hits++;
		*pfn = r->e[i].pfn + (gfn - r->e[i].gfn);
		return 0;
	}
	r->st.misses++;
	ret = mn_pt_walk(pt, gfn, &wk);
	if (ret == -ENOENT || ret == -ERANGE)
		return -EFAULT;
	if (ret)
		return ret;
	if ((wk.leaf.perm & perm) != perm)
		return -EACCES;
	ref_fill(r, &wk, gfn);
	*pfn = wk.pfn;
	return 0;
}

static unsigned int ref_flush(struct ref_tlb *r, enum mn_flush_kind kind, struct mn_gfn_range g)
{
	unsigned int i, dropped = 0;

	if (kind == MN_FLUSH_IPA)
		g.end = g.start + 1;
	for (i = 0; i < r->cap; i++) {
		struct mn_gfn_range er;

		if (!r->valid[i])
			continue;
		er = (struct mn_gfn_range){
			r->e[i].gfn, r->e[i].gfn + mn_level_pages((enum mn_pg_level)r->e[i].level)
		};
		if (kind != MN_FLUSH_ALL && !mn_gfn_range_overlaps(er, g))
			continue;
		r->valid[i] = false;
		r->n--;
		dropped++;
	}
	r->st.dropped += dropped;
	return dropped;
}

static void assert_same_tlb(const struct ref_tlb *r, const struct mn_tlb *tlb)
{
	struct mn_tlb_stats st;
	struct mn_tlb_entry e;
	unsigned int i;

	mn_tlb_get_stats(tlb, &st);
	assert_int_equal(st.hits, r->st.hits);
	assert_int_equal(st.misses, r->st.misses);
	assert_int_equal(st.fills, r->st.fills);
	assert_int_equal(st.evicted, r->st.evicted);
	assert_int_equal(st.dropped, r->st.dropped);
	assert_int_equal(mn_tlb_nr_entries(tlb), r->n);
	for (i = 0; i < r->cap; i++) {
		int ret = mn_tlb_get_entry(tlb, i, &e);

		assert_int_equal(ret, r->valid[i] ? 0 : -ENOENT);
		if (ret)
			continue;
		assert_int_equal(e.gfn, r->e[i].gfn);
		assert_int_equal(e.level, r->e[i].level);
		assert_int_equal(e.perm, r->e[i].perm);
		assert_int_equal(e.pfn, r->e[i].pfn);
	}
	assert_int_equal(mn_tlb_get_entry(tlb, r->cap, &e), -ERANGE);
}

/*
 * Random maps (2 MiB leaves of one folio, 4 KiB leaves of another), zaps whose flush is sometimes
 * left out so that cached translations of both sizes overlap, accesses and flushes of every
 * kind: the indexed TLB gives the answers, slots, order and counters of the linear one.
 *
 *  gfn    0        0x200      0x400      0x600      0x800
 *  table  [ 2M or 4Ks ][ 2M or 4Ks ][ 2M or 4Ks ][ 2M or 4Ks ]   (a 2M and a 4K at one gfn
 *                                                                 map different frames)
 */
static void test_index_matches_linear_scan(void **state)
{
	static const unsigned int caps[] = { 1, 7, 64 };
	struct mn_test_rng rng = { mn_test_seed("tlb index") };
	unsigned int c;

	(void)state;
	for (c = 0; c < ARRAY_SIZE(caps); c++) {
		struct mn_frame_ref big, small;
		struct ref_tlb ref;
		struct ptw w;
		unsigned int step;

		ptw_open(&w, MN_PT_EPT);
		mn_tlb_destroy(w.tlb);
		assert_int_equal(mn_tlb_create(w.a, caps[c], &w.tlb), 0);
		memset(&ref, 0, sizeof(ref));
		ref.cap = caps[c];
		assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &big), 0);
		assert_int_equal(mn_phys_alloc(w.p, 9, MN_OWNER_ANON, 0, &small), 0);
		for (step = 0; step < 20000; step++) {
			unsigned int op = (unsigned int)mn_test_below(&rng, 16);
			mn_gfn_t region = mn_test_below(&rng, 4) * 512, gfn;
			struct mn_pt_result res;
			mn_pfn_t got, want;
			int r;

			if (op == 0) {
				/* Remap the region as one 2 MiB leaf (the old translations may
				 * stay). */
				struct mn_pte p = { .kind = MN_PTE_LEAF,
						    .level = 2,
						    .pfn = big.pfn,
						    .perm = MN_PTE_R | MN_PTE_X,
						    .memtype = MN_MT_WB,
						    .ipat = true,
						    .accessed = true,
						    .sw = MN_PTE_SW_HOST_WRITABLE };

				mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ region, region + 512 },
					  MN_PT_ZAP_FREE_TABLES, &res);
				assert_int_equal(
					mn_pt_map_frame(w.pt, NULL, region, &p, big.gen, &res), 0);
			} else if (op <= 2) {
				/* One 4 KiB leaf (a 2 MiB leaf there is split), read-only or
				 * writable. */
				bool wr = mn_test_below(&rng, 2);
				struct mn_pte p = { .kind = MN_PTE_LEAF,
						    .level = 1,
						    .memtype = MN_MT_WB,
						    .perm = MN_PTE_R | (wr ? MN_PTE_W : 0),
						    .ipat = true,
						    .accessed = mn_test_below(&rng, 2),
						    .sw = MN_PTE_SW_HOST_WRITABLE |
							  (wr ? MN_PTE_SW_MMU_WRITABLE : 0) };

				gfn = region +
				      mn_test_below(&rng, mn_test_below(&rng, 2) ? 32 : 512);
				p.pfn = small.pfn + (gfn & 511);
				mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ gfn, gfn + 1 }, 0,
					  &res);
				assert_int_equal(
					mn_pt_map_frame(w.pt, NULL, gfn, &p, small.gen, &res), 0);
			} else if (op == 3) {
				mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ region, region + 512 },
					  MN_PT_ZAP_FREE_TABLES, &res);
			} else if (op == 4) {
				enum mn_flush_kind kind =
					(enum mn_flush_kind)mn_test_below(&rng, 3);
				struct mn_gfn_range g;

				g.start = mn_test_below(&rng, 2200);
				g.end = g.start + (mn_test_below(&rng, 4)
							   ? mn_test_below(&rng, 40)
							   : mn_test_below(&rng, 3000));
				if (mn_test_below(&rng, 16) == 0)
					g.end = MN_INVALID_GFN;
				assert_int_equal(mn_tlb_flush(w.tlb, kind, g, 1),
						 ref_flush(&ref, kind, g));
			} else {
				unsigned int perm = mn_test_below(&rng, 3) ? MN_PTE_R : MN_PTE_W;

				/* Mostly near the last accesses, sometimes anywhere or beyond. */
				gfn = mn_test_below(&rng, 4) ? region + mn_test_below(&rng, 32)
							     : mn_test_below(&rng, 2100);
				want = got = MN_INVALID_PFN;
				r = ref_access(&ref, w.pt, gfn, perm, &want);
				assert_int_equal(
					mn_tlb_access(w.tlb, w.pt, w.p, gfn, perm, "g", &got), r);
				if (!r)
					assert_int_equal(got, want);
			}
			assert_same_tlb(&ref, w.tlb);
		}
		mn_pt_zap(w.pt, NULL, (struct mn_gfn_range){ 0, 2048 }, MN_PT_ZAP_FREE_TABLES,
			  &(struct mn_pt_result){ 0 });
		assert_int_equal(mn_phys_put(w.p, big, "free"), 1);
		assert_int_equal(mn_phys_put(w.p, small, "free"), 1);
		ptw_close(&w);
	}
}

/* ---- through KVM: aging by the notifier, the guest's accesses -------------------------- */

/*
 * clear_young (idle page tracking) makes KVM's leaf old without a flush; a guest access
 * whose translation is still cached does not make it young, one after a TLB flush does,
 * and test_young then answers 1. arm64 answers the same way (HA).
 *
 *  gpa    0   4K
 *  slot   [ slot 0: 16 KiB at ram )
 *  guest  W       <- fault, then clear_young, read (hit), flush, read (walk)
 */
static void test_guest_access_after_clear_young_and_flush_is_young(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct kworld k;
		mn_hva_t ram;
		uint64_t v = 7;

		kworld_init(&k, arches[i], MN_THP_NEVER);
		ram = map_anon(&k.w, 16 * KiB, MN_PROT_READ | MN_PROT_WRITE);
		set_slot(&k, 0, 0, 16 * KiB, ram, 0);
		assert_int_equal(mn_vcpu_access(k.vcpu, 0, 4 * KiB, MN_PTE_W, &v, NULL), 0);
		assert_int_equal(
			mn_mm_notify_age(k.w.mm, MN_AGE_TEST_YOUNG, ram + 4 * KiB, ram + 8 * KiB),
			1);
		assert_int_equal(
			mn_mm_notify_age(k.w.mm, MN_AGE_CLEAR_YOUNG, ram + 4 * KiB, ram + 8 * KiB),
			1);
		assert_int_equal(
			mn_mm_notify_age(k.w.mm, MN_AGE_TEST_YOUNG, ram + 4 * KiB, ram + 8 * KiB),
			0);
		/* Cached: the guest's read walks nothing, the leaf stays old. */
		assert_int_equal(guest_read(&k, 4 * KiB), 7);
		assert_int_equal(
			mn_mm_notify_age(k.w.mm, MN_AGE_TEST_YOUNG, ram + 4 * KiB, ram + 8 * KiB),
			0);
		kvm_flush_remote_tlbs(k.vm);
		assert_int_equal(guest_read(&k, 4 * KiB), 7);
		assert_int_equal(
			mn_mm_notify_age(k.w.mm, MN_AGE_TEST_YOUNG, ram + 4 * KiB, ram + 8 * KiB),
			1);
		assert_int_equal(vm_stats(&k).faults, 1); /* no fault after the first */
		kworld_fini(&k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ept_read_miss_sets_accessed_hit_sets_nothing),
		cmocka_unit_test(test_ept_write_sets_dirty),
		cmocka_unit_test(test_ept_permission_fault_sets_nothing),
		cmocka_unit_test(test_ept_access_tracked_leaf_faults_unchanged),
		cmocka_unit_test(test_stage2_walk_sets_access_flag),
		cmocka_unit_test(test_host_table_left_to_its_accessor),
		cmocka_unit_test(test_index_matches_linear_scan),
		cmocka_unit_test(test_guest_access_after_clear_young_and_flush_is_young),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
