// SPDX-License-Identifier: MIT
/*
 * test-phys.c - simulated physical memory: allocation, freeing and reuse, generations,
 * folio heads and tails, lazily materialised huge folios, split bookkeeping, refcount and
 * mapcount rules, direct-map and temporary kernel mapping state checked at free, and the
 * use-after-free oracle (lib/phys).
 */
#include "mn-test.h"

#include <errno.h>
#include <string.h>

struct fixture {
	struct mn_alloc *a;
	struct mn_trace *t;
	struct mn_phys *p;
	uint32_t host, gpc;
};

static int setup_with(void **state, const struct mn_phys_config *cfg)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	/*
	 * The default backend, not CMocka's test_malloc(): objects made in setup live on
	 * through the test, which CMocka's per-test leak check would free under our feet.
	 * teardown() checks instead that destroying them gives every block back.
	 */
	if (mn_alloc_create(NULL, &fx->a) || mn_trace_create(fx->a, MN_TRACE_FULL, 0, &fx->t) ||
	    mn_trace_actor_add(fx->t, "host", &fx->host) ||
	    mn_trace_actor_add(fx->t, "gpc", &fx->gpc) || mn_phys_create(fx->a, fx->t, cfg, &fx->p))
		return -1;
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, &(struct mn_phys_config){ .base_pfn = 0x100 });
}

static int setup_limited(void **state)
{
	return setup_with(state, &(struct mn_phys_config){ .max_frames = 1024 });
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct mn_alloc_stats st;

	mn_phys_destroy(fx->p);
	mn_trace_destroy(fx->t);
	mn_alloc_get_stats(fx->a, &st);
	mn_alloc_destroy(fx->a);
	test_free(fx);
	return st.live_objects == 0 ? 0 : -1;
}

static struct mn_frame_info info(struct fixture *fx, mn_pfn_t pfn)
{
	struct mn_frame_info fi;

	assert_int_equal(mn_phys_frame_info(fx->p, pfn, &fi), 0);
	return fi;
}

static void test_alloc_free_reuse(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r1, r2;
	struct mn_frame_info fi;
	struct mn_phys_stats st;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &r1), 0);
	assert_int_equal(r1.pfn, 0x100); /* the configured base */
	fi = info(fx, r1.pfn);
	assert_int_equal(fi.state, MN_FRAME_HEAD);
	assert_int_equal(fi.refcount, 1);
	assert_int_equal(fi.mapcount, 0);
	assert_int_equal(fi.owner, MN_OWNER_ANON);
	assert_int_equal(fi.flags, MN_FRAME_DIRECT_MAP);
	assert_int_equal(fi.gen, r1.gen);
	assert_true(mn_phys_ref_valid(fx->p, r1));

	assert_int_equal(mn_phys_put(fx->p, r1, "test.put"), 1);
	fi = info(fx, r1.pfn);
	assert_int_equal(fi.state, MN_FRAME_FREE);
	assert_int_equal(fi.refcount, 0);
	assert_true(fi.gen > r1.gen); /* freeing changes the generation */
	assert_false(mn_phys_ref_valid(fx->p, r1));

	/* The most recently freed frame of the order comes back first, with a new generation. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_FILE, 0, &r2), 0);
	assert_int_equal(r2.pfn, r1.pfn);
	assert_true(r2.gen > fi.gen);
	assert_false(mn_phys_ref_valid(fx->p, r1));
	assert_true(mn_phys_ref_valid(fx->p, r2));
	mn_phys_get_stats(fx->p, &st);
	assert_int_equal(st.nr_allocs, 2);
	assert_int_equal(st.nr_frees, 1);
	assert_int_equal(st.nr_folios, 1);
	assert_int_equal(st.nr_frames, 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
}

static void test_generations_are_unique(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r;
	uint64_t last = 0;
	int i;

	for (i = 0; i < 200; i++) {
		assert_int_equal(
			mn_phys_alloc(fx->p, (unsigned int)(i % 2) * 9, MN_OWNER_ANON, 0, &r), 0);
		assert_true(r.gen > last);
		last = info(fx, r.pfn).gen;
		if (i % 3)
			assert_int_equal(mn_phys_put(fx->p, r, "test.put"), 1);
		if (i % 3) {
			assert_true(info(fx, r.pfn).gen > last);
			last = info(fx, r.pfn).gen;
		}
	}
}

static void test_stale_ref_reports_use_after_free(void **state)
{
	struct fixture *fx = *state;
	const struct mn_violation *v;
	struct mn_frame_ref page;
	uint64_t val = 0, free_event;

	mn_trace_set_actor(fx->t, fx->host);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &page), 0);
	assert_int_equal(mn_phys_write(fx->p, page, 0x1234, "guest.write"), 0);
	assert_int_equal(mn_phys_put(fx->p, page, "munmap.free"), 1);
	free_event = info(fx, page.pfn).free_event;
	assert_true(free_event > 0);

	mn_trace_set_actor(fx->t, fx->gpc);
	assert_int_equal(mn_phys_read(fx->p, page, &val, "gpc.read"), -ESTALE);
	assert_int_equal(val, MN_PHYS_POISON); /* a stale reader sees the freed contents */
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	v = mn_trace_violation(fx->t, 0);
	assert_int_equal(v->kind, MN_VIOL_USE_AFTER_FREE);
	assert_string_equal(v->invariant, "frame.use_after_free");
	assert_string_equal(v->what, "gpc.read");
	assert_int_equal(v->pfn, page.pfn);
	assert_int_equal(v->ref_gen, page.gen);
	assert_int_equal(v->actor, fx->gpc);
	assert_int_equal(v->cause_actor, fx->host);
	assert_int_equal(v->cause_event, free_event);
	assert_int_equal(v->reuse_event, 0);
	assert_true(v->event > free_event);
	assert_string_equal(mn_trace_get(fx->t, v->event)->step, "violation");

	/* Every checked operation refuses the stale reference and reports it. */
	assert_int_equal(mn_phys_write(fx->p, page, 1, "w"), -ESTALE);
	assert_int_equal(mn_phys_get(fx->p, page, "g"), -ESTALE);
	assert_int_equal(mn_phys_put(fx->p, page, "p"), -ESTALE);
	assert_int_equal(mn_phys_map(fx->p, page, "m"), -ESTALE);
	assert_int_equal(mn_phys_unmap(fx->p, page, "u"), -ESTALE);
	assert_int_equal(mn_phys_update_flags(fx->p, page, MN_FRAME_DIRTY, 0, "f"), -ESTALE);
	assert_int_equal(mn_phys_use(fx->p, page, MN_USE_MAP, "tlb"), -ESTALE);
	assert_int_equal(mn_phys_split(fx->p, page, 0), -ESTALE);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_USE_AFTER_FREE), 9);
	assert_int_equal(info(fx, page.pfn).state, MN_FRAME_FREE);
}

static void test_stale_ref_after_reuse(void **state)
{
	struct fixture *fx = *state;
	const struct mn_violation *v;
	struct mn_frame_ref old, now;
	uint64_t val;

	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, 0, &old), 0);
	assert_int_equal(mn_phys_put(fx->p, old, "free"), 1);
	mn_trace_set_actor(fx->t, fx->host);
	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_GMEM, MN_PHYS_ZERO, &now), 0);
	assert_int_equal(now.pfn, old.pfn);
	assert_int_equal(mn_phys_write(fx->p, mn_frame_ref_offset(now, 3), 77, "gmem.write"), 0);

	mn_trace_set_actor(fx->t, fx->gpc);
	/* A stale reference to a tail frame sees the new owner's data, and is reported. */
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(old, 3), &val, "gpc.read"),
			 -ESTALE);
	assert_int_equal(val, 77);
	assert_int_equal(mn_phys_write(fx->p, mn_frame_ref_offset(old, 3), 13, "gpc.write"),
			 -ESTALE);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(now, 3), &val, "r"), 0);
	assert_int_equal(val, 77); /* the stale write did not land */
	v = mn_trace_violation(fx->t, 0);
	assert_int_equal(v->pfn, old.pfn + 3);
	assert_int_equal(v->reuse_actor, fx->host);
	assert_int_equal(v->reuse_event, info(fx, now.pfn).alloc_event);
	assert_int_equal(v->frame_gen, now.gen);
	assert_non_null(strstr(v->detail, "guest_memfd"));
}

static void test_fresh_refs_never_report(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r[3];
	uint64_t val;
	unsigned int o;

	for (o = 0; o < 3; o++) {
		assert_int_equal(mn_phys_alloc(fx->p, o * 9, MN_OWNER_ANON, 0, &r[o]), 0);
		assert_int_equal(mn_phys_get(fx->p, r[o], "get"), 0);
		assert_int_equal(mn_phys_map(fx->p, r[o], "map"), 0);
		assert_int_equal(mn_phys_use(fx->p, r[o], MN_USE_DIRECT_MAP, "kmap"), 0);
		assert_int_equal(mn_phys_use(fx->p,
					     mn_frame_ref_offset(r[o], (1ULL << (o * 9)) - 1),
					     MN_USE_READ, "last tail"),
				 0);
		assert_int_equal(mn_phys_write(fx->p, r[o], o + 100, "w"), 0);
		assert_int_equal(mn_phys_read(fx->p, r[o], &val, "r"), 0);
		assert_int_equal(val, o + 100);
		assert_int_equal(mn_phys_update_flags(fx->p, r[o], MN_FRAME_YOUNG, 0, "age"),
				 MN_FRAME_DIRECT_MAP);
		assert_int_equal(mn_phys_unmap(fx->p, r[o], "unmap"), 0);
		assert_int_equal(mn_phys_put(fx->p, r[o], "put"), 0);
	}
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
	for (o = 0; o < 3; o++)
		assert_int_equal(mn_phys_put(fx->p, r[o], "put"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
}

static void test_refcount_and_mapcount_rules(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &r), 0);
	assert_int_equal(mn_phys_unmap(fx->p, r, "unmap"), -EUCLEAN);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_REFCOUNT), 1);
	assert_string_equal(mn_trace_violation(fx->t, 0)->invariant, "frame.mapcount_underflow");
	assert_int_equal(info(fx, r.pfn).mapcount, 0);

	assert_int_equal(mn_phys_get(fx->p, r, "get"), 0);
	assert_int_equal(info(fx, r.pfn).refcount, 2);
	assert_int_equal(mn_phys_map(fx->p, r, "map"), 0);
	assert_int_equal(mn_phys_put(fx->p, r, "put"), 0);
	/* The last reference goes while a mapping is still counted: freed, and reported. */
	assert_int_equal(mn_phys_put(fx->p, r, "put"), 1);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_REFCOUNT), 2);
	assert_string_equal(mn_trace_violation(fx->t, 1)->invariant, "frame.freed_while_mapped");
	assert_int_equal(info(fx, r.pfn).state, MN_FRAME_FREE);
}

static void test_direct_map_state(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_GMEM, 0, &r), 0);
	assert_int_equal(mn_phys_update_flags(fx->p, r, 0, MN_FRAME_DIRECT_MAP, "set_direct_map"),
			 MN_FRAME_DIRECT_MAP);
	assert_int_equal(info(fx, r.pfn).flags, 0);
	assert_int_equal(mn_phys_use(fx->p, r, MN_USE_READ, "guest.read"), 0);
	assert_int_equal(mn_phys_use(fx->p, r, MN_USE_DIRECT_MAP, "clear_page"), -EACCES);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_DIRECT_MAP), 1);
	assert_string_equal(mn_trace_violation(fx->t, 0)->what, "clear_page");
	assert_int_equal(mn_phys_update_flags(fx->p, r, 1U << 7, 0, "bad"), -EINVAL);
	/* Restored before it leaves the page cache, the folio is freed without a report. */
	assert_int_equal(mn_phys_update_flags(fx->p, r, MN_FRAME_DIRECT_MAP, 0, "restore"), 0);
	assert_int_equal(mn_phys_put(fx->p, r, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	/* Freed and reallocated, a folio is back in the direct map. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &r), 0);
	assert_int_equal(mn_phys_use(fx->p, r, MN_USE_DIRECT_MAP, "memset"), 0);
}

/* What guest_memfd without a direct map does to zero a new folio, done right. */
static void test_kmap_temp_flushed_then_freed_is_clean(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r;
	uint64_t val;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_GMEM, 0, &r), 0);
	assert_int_equal(mn_phys_update_flags(fx->p, r, 0, MN_FRAME_DIRECT_MAP, "gmem.no_dmap"),
			 MN_FRAME_DIRECT_MAP);
	assert_int_equal(mn_phys_kmap_temp(fx->p, r, "gmem.zero"), 0);
	assert_int_equal(info(fx, r.pfn).flags, MN_FRAME_KMAP_TLB);
	/* Writing through the temporary mapping is not a direct-map access. */
	assert_int_equal(mn_phys_write(fx->p, r, 0, "gmem.zero"), 0);
	assert_int_equal(mn_phys_read(fx->p, r, &val, "gmem.zero"), 0);
	assert_int_equal(val, 0);
	assert_int_equal(mn_phys_kmap_flush(fx->p, r, "gmem.zero.flush"), 0);
	assert_int_equal(info(fx, r.pfn).flags, 0);
	/* A second flush finds nothing to drop and changes nothing. */
	assert_int_equal(mn_phys_kmap_flush(fx->p, r, "gmem.zero.flush"), 0);
	assert_int_equal(info(fx, r.pfn).flags, 0);
	assert_int_equal(mn_phys_update_flags(fx->p, r, MN_FRAME_DIRECT_MAP, 0, "gmem.free_folio"),
			 0);
	assert_int_equal(mn_phys_put(fx->p, r, "gmem.free"), 1);
	assert_int_equal(info(fx, r.pfn).state, MN_FRAME_FREE);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
}

static void test_kmap_tlb_stale_at_free(void **state)
{
	struct fixture *fx = *state;
	const struct mn_violation *v;
	struct mn_frame_ref f, again;
	struct mn_phys_stats st;
	char pfn_hex[32];

	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_GMEM, 0, &f), 0);
	mn_trace_set_actor(fx->t, fx->host);
	/* Mapped through a tail frame: the TLB state is the whole folio's. */
	assert_int_equal(mn_phys_kmap_temp(fx->p, mn_frame_ref_offset(f, 7), "gmem.zero"), 0);
	assert_int_equal(info(fx, f.pfn + 7).flags, MN_FRAME_DIRECT_MAP | MN_FRAME_KMAP_TLB);
	assert_int_equal(info(fx, f.pfn).flags, MN_FRAME_DIRECT_MAP | MN_FRAME_KMAP_TLB);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);

	mn_trace_set_actor(fx->t, fx->gpc);
	assert_int_equal(mn_phys_put(fx->p, mn_frame_ref_offset(f, 7), "gmem.free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	v = mn_trace_violation(fx->t, 0);
	assert_int_equal(v->kind, MN_VIOL_DIRECT_MAP);
	assert_string_equal(v->invariant, "frame.kmap_tlb_stale_at_free");
	assert_string_equal(v->what, "gmem.free");
	assert_int_equal(v->pfn, f.pfn); /* the folio's head */
	assert_int_equal(v->frame_gen, f.gen);
	assert_int_equal(v->actor, fx->gpc);
	assert_int_equal(v->cause_actor, fx->host);
	snprintf(pfn_hex, sizeof(pfn_hex), "0x%llx", (unsigned long long)f.pfn);
	assert_non_null(strstr(v->detail, pfn_hex));
	assert_non_null(strstr(v->detail, "guest_memfd"));
	/* The free itself went through, and the next owner starts without the stale entry. */
	assert_int_equal(info(fx, f.pfn).state, MN_FRAME_FREE);
	mn_phys_get_stats(fx->p, &st);
	assert_int_equal(st.nr_frees, 1);
	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, 0, &again), 0);
	assert_int_equal(again.pfn, f.pfn);
	assert_int_equal(info(fx, again.pfn).flags, MN_FRAME_DIRECT_MAP);
	assert_int_equal(mn_phys_put(fx->p, again, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	assert_int_equal(mn_phys_check_invariants(fx->p), 0);
}

static void test_freed_without_direct_map(void **state)
{
	struct fixture *fx = *state;
	const struct mn_violation *v;
	struct mn_frame_ref r, again;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_GMEM, 0, &r), 0);
	assert_int_equal(mn_phys_update_flags(fx->p, r, 0, MN_FRAME_DIRECT_MAP, "gmem.no_dmap"),
			 MN_FRAME_DIRECT_MAP);
	assert_int_equal(mn_phys_put(fx->p, r, "gmem.free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	v = mn_trace_violation(fx->t, 0);
	assert_int_equal(v->kind, MN_VIOL_DIRECT_MAP);
	assert_string_equal(v->invariant, "frame.freed_without_direct_map");
	assert_string_equal(v->what, "gmem.free");
	assert_int_equal(v->pfn, r.pfn);
	assert_int_equal(v->frame_gen, r.gen);
	assert_non_null(strstr(v->detail, "guest_memfd"));
	assert_int_equal(info(fx, r.pfn).state, MN_FRAME_FREE);
	/* The allocator hands the frame out again in the direct map. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &again), 0);
	assert_int_equal(again.pfn, r.pfn);
	assert_int_equal(mn_phys_use(fx->p, again, MN_USE_DIRECT_MAP, "memset"), 0);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);

	/* Hidden and left with a stale temporary-mapping entry: both are reported. */
	assert_int_equal(mn_phys_update_flags(fx->p, again, 0, MN_FRAME_DIRECT_MAP, "hide"),
			 MN_FRAME_DIRECT_MAP);
	assert_int_equal(mn_phys_kmap_temp(fx->p, again, "zero"), 0);
	assert_int_equal(mn_phys_put(fx->p, again, "free"), 1);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_DIRECT_MAP), 3);
	assert_string_equal(mn_trace_violation(fx->t, 1)->invariant,
			    "frame.kmap_tlb_stale_at_free");
	assert_string_equal(mn_trace_violation(fx->t, 2)->invariant,
			    "frame.freed_without_direct_map");
}

static void test_kmap_stale_ref_reports_use_after_free(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref old, now;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_GMEM, 0, &old), 0);
	assert_int_equal(mn_phys_put(fx->p, old, "free"), 1);
	assert_int_equal(mn_phys_kmap_temp(fx->p, old, "stale.kmap"), -ESTALE);
	assert_int_equal(mn_phys_kmap_flush(fx->p, old, "stale.flush"), -ESTALE);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_USE_AFTER_FREE), 2);
	assert_string_equal(mn_trace_violation(fx->t, 0)->what, "stale.kmap");
	assert_string_equal(mn_trace_violation(fx->t, 1)->what, "stale.flush");
	assert_int_equal(mn_trace_violation(fx->t, 0)->ref_gen, old.gen);

	/* Through a stale reference, the frame's new owner is left alone. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &now), 0);
	assert_int_equal(now.pfn, old.pfn);
	assert_int_equal(mn_phys_kmap_temp(fx->p, old, "stale.kmap"), -ESTALE);
	assert_int_equal(info(fx, now.pfn).flags, MN_FRAME_DIRECT_MAP);
	assert_int_equal(mn_phys_kmap_temp(fx->p, now, "kmap"), 0);
	assert_int_equal(mn_phys_kmap_flush(fx->p, old, "stale.flush"), -ESTALE);
	assert_int_equal(info(fx, now.pfn).flags, MN_FRAME_DIRECT_MAP | MN_FRAME_KMAP_TLB);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_USE_AFTER_FREE), 4);
	assert_int_equal(mn_trace_count_violations(fx->t, MN_VIOL_DIRECT_MAP), 0);
}

/* Split pieces inherit the folio's flags: each keeps the stale entry until flushed. */
static void test_split_carries_kmap_tlb(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref f, piece;
	const struct mn_violation *v;
	int i;

	/*  pfn   f+0 f+1 f+2 ... f+511
	 *  kmap  *************************   <- one order-9 folio, TLB entry live
	 *  split [0] [1] [2] ...  [511]      <- 512 order-0 pieces, each with the flag
	 */
	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_GMEM, 0, &f), 0);
	mn_trace_set_actor(fx->t, fx->host);
	assert_int_equal(mn_phys_kmap_temp(fx->p, f, "gmem.zero"), 0);
	mn_trace_set_actor(fx->t, fx->gpc);
	assert_int_equal(mn_phys_split(fx->p, f, 0), 0);
	for (i = 0; i < 512; i++)
		assert_int_equal(info(fx, f.pfn + i).flags,
				 MN_FRAME_DIRECT_MAP | MN_FRAME_KMAP_TLB);

	/* Flushing piece 0 clears only piece 0; it is freed cleanly. */
	assert_int_equal(mn_phys_kmap_flush(fx->p, f, "flush"), 0);
	assert_int_equal(info(fx, f.pfn).flags, MN_FRAME_DIRECT_MAP);
	assert_int_equal(info(fx, f.pfn + 1).flags, MN_FRAME_DIRECT_MAP | MN_FRAME_KMAP_TLB);
	assert_int_equal(mn_phys_put(fx->p, f, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);

	/* Piece 1, never flushed, is reported at its own pfn, caused by the original kmap. */
	piece = mn_frame_ref_offset(f, 1);
	assert_int_equal(mn_phys_put(fx->p, piece, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	v = mn_trace_violation(fx->t, 0);
	assert_string_equal(v->invariant, "frame.kmap_tlb_stale_at_free");
	assert_int_equal(v->pfn, f.pfn + 1);
	assert_int_equal(v->cause_actor, fx->host);

	/* The rest, flushed first, go back without a report. */
	for (i = 2; i < 512; i++) {
		piece = mn_frame_ref_offset(f, (uint64_t)i);
		assert_int_equal(mn_phys_kmap_flush(fx->p, piece, "flush"), 0);
		assert_int_equal(mn_phys_put(fx->p, piece, "free"), 1);
	}
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	assert_int_equal(mn_phys_check_invariants(fx->p), 0);
}

/* The flag is an ordinary folio flag too; whoever sets it is the cause of a report. */
static void test_kmap_tlb_through_update_flags(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_FILE, 0, &r), 0);
	mn_trace_set_actor(fx->t, fx->gpc);
	assert_int_equal(mn_phys_update_flags(fx->p, r, MN_FRAME_KMAP_TLB, 0, "set"),
			 MN_FRAME_DIRECT_MAP);
	mn_trace_set_actor(fx->t, fx->host);
	assert_int_equal(mn_phys_put(fx->p, r, "free"), 1);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	assert_string_equal(mn_trace_violation(fx->t, 0)->invariant,
			    "frame.kmap_tlb_stale_at_free");
	assert_int_equal(mn_trace_violation(fx->t, 0)->cause_actor, fx->gpc);
	assert_int_equal(mn_trace_violation(fx->t, 0)->actor, fx->host);
}

static void test_folio_head_and_tails(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref small, mid, huge;
	struct mn_frame_info fi;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &small), 0);
	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, 0, &mid), 0);
	assert_int_equal(mn_phys_alloc(fx->p, 18, MN_OWNER_GMEM, 0, &huge), 0);
	assert_true(mn_is_aligned(mid.pfn, 512));
	assert_true(mn_is_aligned(huge.pfn, 1ULL << 18));
	fi = info(fx, mid.pfn + 511);
	assert_int_equal(fi.state, MN_FRAME_TAIL);
	assert_int_equal(fi.head, mid.pfn);
	assert_int_equal(fi.order, 9);
	assert_int_equal(fi.gen, mid.gen);
	fi = info(fx, huge.pfn + 1);
	assert_int_equal(fi.state, MN_FRAME_TAIL);
	assert_int_equal(fi.head, huge.pfn);
	fi = info(fx, huge.pfn + 200000); /* in a tail chunk that was never materialised */
	assert_int_equal(fi.state, MN_FRAME_TAIL);
	assert_int_equal(fi.head, huge.pfn);
	assert_int_equal(fi.owner, MN_OWNER_GMEM);
	assert_int_equal(fi.order, 18);
	/* One past the folio is not part of it. */
	assert_int_not_equal(mn_phys_frame_info(fx->p, huge.pfn + (1ULL << 18), &fi), 0);
	/* The alignment gaps are reused for smaller folios before the bump pointer moves. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &small), 0);
	assert_true(small.pfn < mid.pfn);
}

static void test_huge_folios_cost_only_their_heads(void **state)
{
	struct fixture *fx = *state;
	struct mn_phys_stats st, st2;
	struct mn_frame_ref r, first;
	uint64_t val;
	int i;

	/* 1 TiB of 1 GiB folios. */
	for (i = 0; i < 1024; i++) {
		assert_int_equal(mn_phys_alloc(fx->p, MN_ORDER_1G, MN_OWNER_ANON, 0, &r), 0);
		if (i == 0)
			first = r;
	}
	mn_phys_get_stats(fx->p, &st);
	print_message("1 TiB in 1 GiB folios: %llu chunks, %llu bytes of metadata\n",
		      (unsigned long long)st.nr_chunks, (unsigned long long)st.metadata_bytes);
	assert_int_equal(st.nr_frames, 1024ULL << 18);
	assert_true(st.nr_chunks <= 1024 + 1);
	assert_true(st.metadata_bytes < 64ULL << 20);
	/* Writing one far tail materialises exactly its chunk; reading does not. */
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(first, 100000), &val, "r"), 0);
	assert_int_equal(val, 0);
	assert_int_equal(mn_phys_write(fx->p, mn_frame_ref_offset(first, 100000), 9, "w"), 0);
	mn_phys_get_stats(fx->p, &st2);
	assert_int_equal(st2.nr_chunks, st.nr_chunks + 1);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(first, 100000), &val, "r"), 0);
	assert_int_equal(val, 9);
	assert_int_equal(info(fx, first.pfn + 100001).head, first.pfn);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
}

static void test_split_bookkeeping(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref f, p3, p4;
	struct mn_phys_stats st;
	struct mn_frame_info fi;
	uint64_t val;
	int i;

	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, MN_PHYS_ZERO, &f), 0);
	assert_int_equal(mn_phys_write(fx->p, mn_frame_ref_offset(f, 3), 33, "w"), 0);
	assert_int_equal(mn_phys_split(fx->p, f, 9), -EINVAL);
	assert_int_equal(mn_phys_get(fx->p, f, "pin"), 0);
	assert_int_equal(mn_phys_split(fx->p, f, 0), -EAGAIN); /* extra pin */
	assert_int_equal(mn_phys_put(fx->p, f, "unpin"), 0);
	assert_int_equal(mn_phys_map(fx->p, f, "map"), 0);
	assert_int_equal(mn_phys_split(fx->p, f, 0), -EAGAIN); /* still mapped */
	assert_int_equal(mn_phys_unmap(fx->p, f, "unmap"), 0);
	assert_int_equal(info(fx, f.pfn + 3).state, MN_FRAME_TAIL);

	assert_int_equal(mn_phys_split(fx->p, f, 0), 0);
	mn_phys_get_stats(fx->p, &st);
	assert_int_equal(st.nr_folios, 512);
	assert_int_equal(st.nr_frames, 512);
	for (i = 0; i < 512; i++) {
		fi = info(fx, f.pfn + i);
		assert_int_equal(fi.state, MN_FRAME_HEAD);
		assert_int_equal(fi.order, 0);
		assert_int_equal(fi.gen, f.gen);
		assert_int_equal(fi.refcount, 1);
	}
	/* References taken before the split stay valid; contents stay put. */
	p3 = mn_frame_ref_offset(f, 3);
	p4 = mn_frame_ref_offset(f, 4);
	assert_true(mn_phys_ref_valid(fx->p, f));
	assert_int_equal(mn_phys_read(fx->p, p3, &val, "r"), 0);
	assert_int_equal(val, 33);
	/* Each piece lives on its own: freeing piece 3 stales only references into it. */
	assert_int_equal(mn_phys_put(fx->p, p3, "free piece"), 1);
	assert_false(mn_phys_ref_valid(fx->p, p3));
	assert_true(mn_phys_ref_valid(fx->p, p4));
	assert_true(mn_phys_ref_valid(fx->p, f));
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
	assert_int_equal(mn_phys_use(fx->p, p3, MN_USE_READ, "stale"), -ESTALE);
	assert_int_equal(mn_trace_nr_violations(fx->t), 1);
	/* The freed piece is reused by the next order-0 allocation. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_FILE, 0, &p3), 0);
	assert_int_equal(p3.pfn, f.pfn + 3);
}

static void test_split_huge_folio(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref g, piece;
	struct mn_phys_stats st;
	struct mn_frame_info fi;
	uint64_t val;

	assert_int_equal(mn_phys_alloc(fx->p, 18, MN_OWNER_GMEM, 0, &g), 0);
	assert_int_equal(mn_phys_write(fx->p, mn_frame_ref_offset(g, 5 * 512 + 7), 57, "w"), 0);
	assert_int_equal(mn_phys_split(fx->p, g, 10), 0);
	mn_phys_get_stats(fx->p, &st);
	assert_int_equal(st.nr_folios, 256);
	/* Piece 2 covers [2048, 3072): its second chunk points at its own head. */
	fi = info(fx, g.pfn + 2048 + 700);
	assert_int_equal(fi.state, MN_FRAME_TAIL);
	assert_int_equal(fi.head, g.pfn + 2048);
	assert_int_equal(fi.order, 10);
	fi = info(fx, g.pfn + 2048);
	assert_int_equal(fi.state, MN_FRAME_HEAD);
	assert_int_equal(fi.owner, MN_OWNER_GMEM);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(g, 5 * 512 + 7), &val, "r"), 0);
	assert_int_equal(val, 57);
	/* Split a piece further, down to base pages. */
	piece = mn_frame_ref_offset(g, 2048);
	assert_int_equal(mn_phys_split(fx->p, piece, 0), 0);
	fi = info(fx, g.pfn + 2048 + 700);
	assert_int_equal(fi.state, MN_FRAME_HEAD);
	assert_int_equal(fi.order, 0);
	assert_int_equal(info(fx, g.pfn + 3072 + 5).head, g.pfn + 3072);
	mn_phys_get_stats(fx->p, &st);
	assert_int_equal(st.nr_folios, 255 + 1024);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
}

static void test_data_poison_and_zero(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r;
	uint64_t val;

	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &r), 0);
	assert_int_equal(mn_phys_write(fx->p, r, 0xabc, "w"), 0);
	assert_int_equal(mn_phys_put(fx->p, r, "free"), 1);
	assert_int_equal(info(fx, r.pfn).data, MN_PHYS_POISON);
	/* Without __GFP_ZERO the next owner sees the old (poisoned) contents. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &r), 0);
	assert_int_equal(mn_phys_read(fx->p, r, &val, "r"), 0);
	assert_int_equal(val, MN_PHYS_POISON);
	assert_int_equal(mn_phys_put(fx->p, r, "free"), 1);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, MN_PHYS_ZERO, &r), 0);
	assert_int_equal(mn_phys_read(fx->p, r, &val, "r"), 0);
	assert_int_equal(val, 0);
}

static void test_max_frames_enomem(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref a, b, c;
	struct mn_phys_stats before, after;

	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, 0, &a), 0);
	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, 0, &b), 0);
	mn_phys_get_stats(fx->p, &before);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &c), -ENOMEM);
	mn_phys_get_stats(fx->p, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(mn_phys_put(fx->p, a, "free"), 1);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &c), 0);
	(void)b;
}

static void test_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref r = { .pfn = 0x999999, .gen = 5 };
	struct mn_frame_info fi;
	struct mn_phys *p2;

	assert_int_equal(mn_phys_alloc(fx->p, 19, MN_OWNER_ANON, 0, &r), -EINVAL);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_NONE, 0, &r), -EINVAL);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_NR, 0, &r), -EINVAL);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0x80, &r), -EINVAL);
	assert_int_equal(mn_phys_create(fx->a, fx->t,
					&(struct mn_phys_config){ .base_pfn = MN_PHYS_MAX_PFN },
					&p2),
			 -EINVAL);
	assert_int_equal(mn_phys_frame_info(fx->p, 0x999999, &fi), -ENOENT);
	/* A reference to a frame that was never handed out is reported, not dereferenced. */
	assert_int_equal(mn_phys_use(fx->p, r, MN_USE_READ, "bogus"), -ESTALE);
	assert_non_null(strstr(mn_trace_violation(fx->t, 0)->detail, "never allocated"));
	assert_string_equal(mn_phys_owner_name(MN_OWNER_PGTABLE), "pgtable");
	assert_string_equal(mn_phys_owner_name((enum mn_frame_owner)42), "?");
}

static void test_high_base_pfn_is_cheap(void **state)
{
	struct mn_phys_config cfg = { .base_pfn = 1ULL << 38 };
	struct mn_phys_stats st;
	struct mn_frame_ref r;
	struct mn_phys *p;
	struct fixture *fx = *state;

	assert_int_equal(mn_phys_create(fx->a, fx->t, &cfg, &p), 0);
	assert_int_equal(mn_phys_alloc(p, 0, MN_OWNER_ANON, 0, &r), 0);
	assert_int_equal(r.pfn, 1ULL << 38);
	assert_int_equal(mn_phys_alloc(p, MN_ORDER_1G, MN_OWNER_ANON, 0, &r), 0);
	mn_phys_get_stats(p, &st);
	/* The table starts at the base: two chunks' worth, not 2^38 frames' directory. */
	assert_true(st.metadata_bytes < (1ULL << 20));
	assert_int_equal(mn_phys_check_invariants(p), 0);
	mn_phys_destroy(p);
}

static void test_freed_huge_folio_is_poisoned_everywhere(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref f, again;
	struct mn_frame_info fi;
	uint64_t val;

	/* Order 11 spans four chunks; three of them are never materialised. */
	assert_int_equal(mn_phys_alloc(fx->p, 11, MN_OWNER_GMEM, MN_PHYS_ZERO, &f), 0);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(f, 600), &val, "r"), 0);
	assert_int_equal(val, 0);
	assert_int_equal(mn_phys_put(fx->p, f, "free"), 1);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(f, 600), &val, "stale"), -ESTALE);
	assert_int_equal(val, MN_PHYS_POISON);
	assert_int_equal(mn_phys_frame_info(fx->p, f.pfn + 600, &fi), 0);
	assert_int_equal(fi.data, MN_PHYS_POISON);
	/* Reused without zeroing, the old contents show, also once a chunk materialises. */
	assert_int_equal(mn_phys_alloc(fx->p, 11, MN_OWNER_GMEM, 0, &again), 0);
	assert_int_equal(again.pfn, f.pfn);
	assert_int_equal(mn_phys_write(fx->p, mn_frame_ref_offset(again, 600), 5, "w"), 0);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(again, 601), &val, "r"), 0);
	assert_int_equal(val, MN_PHYS_POISON);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(again, 1500), &val, "r"), 0);
	assert_int_equal(val, MN_PHYS_POISON);
	assert_int_equal(mn_phys_put(fx->p, again, "free"), 1);
	assert_int_equal(mn_phys_alloc(fx->p, 11, MN_OWNER_GMEM, MN_PHYS_ZERO, &again), 0);
	assert_int_equal(mn_phys_read(fx->p, mn_frame_ref_offset(again, 1500), &val, "r"), 0);
	assert_int_equal(val, 0);
	assert_int_equal(mn_phys_check_invariants(fx->p), 0);
}

static void test_freed_folios_reused_before_gap_blocks(void **state)
{
	struct fixture *fx = *state;
	struct mn_frame_ref page, big, next;

	/*  pfn  0x100 0x101 ..... 0x1ff | 0x200 ... 0x3ff
	 *       page  <- alignment gap -> | order-9 folio
	 */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &page), 0);
	assert_int_equal(page.pfn, 0x100);
	assert_int_equal(mn_phys_put(fx->p, page, "free"), 1);
	assert_int_equal(mn_phys_alloc(fx->p, 9, MN_OWNER_ANON, 0, &big), 0);
	assert_int_equal(big.pfn, 0x200);
	/* The freed page comes back before any never-used gap frame. */
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &next), 0);
	assert_int_equal(next.pfn, 0x100);
	assert_int_equal(mn_phys_alloc(fx->p, 0, MN_OWNER_ANON, 0, &next), 0);
	assert_true(next.pfn > 0x100 && next.pfn < 0x200);
	assert_int_equal(mn_phys_check_invariants(fx->p), 0);
}

/* Random alloc/get/put/split against a model of which references are live. */
static void test_randomized_against_model(void **state)
{
	struct fixture *fx = *state;
	struct held {
		struct mn_frame_ref ref;
		unsigned int order;
		int refs;
		bool live;
	} h[256];
	struct mn_test_rng rng = { mn_test_seed("phys.randomized") };
	int i, n = 0, k, step;

	memset(h, 0, sizeof(h));
	for (step = 0; step < 4000; step++) {
		unsigned int op = (unsigned int)mn_test_below(&rng, 4);

		if ((op == 0 || n == 0) && n < 256) {
			unsigned int order = (unsigned int)mn_test_below(&rng, 3) * 4;

			assert_int_equal(mn_phys_alloc(fx->p, order, MN_OWNER_ANON, 0, &h[n].ref),
					 0);
			h[n].order = order;
			h[n].refs = 1;
			h[n].live = true;
			n++;
			continue;
		}
		k = (int)mn_test_below(&rng, (uint64_t)n);
		if (!h[k].live)
			continue;
		if (op == 1) {
			assert_int_equal(mn_phys_get(fx->p, h[k].ref, "get"), 0);
			h[k].refs++;
		} else if (op == 2) {
			assert_int_equal(mn_phys_put(fx->p, h[k].ref, "put"), --h[k].refs == 0);
			h[k].live = h[k].refs > 0;
		} else if (h[k].order > 0 && h[k].refs == 1 && n < 256) {
			/* Split in two; the second half becomes a new model entry. */
			assert_int_equal(mn_phys_split(fx->p, h[k].ref, h[k].order - 1), 0);
			h[k].order--;
			h[n] = h[k];
			h[n].ref = mn_frame_ref_offset(h[k].ref, 1ULL << h[k].order);
			n++;
		}
		for (i = 0; i < n; i++)
			assert_int_equal(mn_phys_ref_valid(fx->p, h[i].ref), h[i].live);
		if (step % 16 == 0)
			assert_int_equal(mn_phys_check_invariants(fx->p), 0);
		if (n == 256) {
			/* Recycle the model: drop everything still held. */
			for (i = 0; i < n; i++)
				while (h[i].live && h[i].refs--)
					mn_phys_put(fx->p, h[i].ref, "drain");
			n = 0;
		}
	}
	assert_int_equal(mn_phys_check_invariants(fx->p), 0);
	assert_int_equal(mn_trace_nr_violations(fx->t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alloc_free_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generations_are_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_ref_reports_use_after_free, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_ref_after_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_refs_never_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcount_and_mapcount_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_map_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kmap_temp_flushed_then_freed_is_clean, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kmap_tlb_stale_at_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freed_without_direct_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kmap_stale_ref_reports_use_after_free, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_carries_kmap_tlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kmap_tlb_through_update_flags, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_folio_head_and_tails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_folios_cost_only_their_heads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_bookkeeping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_huge_folio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_poison_and_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_frames_enomem, setup_limited, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_high_base_pfn_is_cheap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freed_huge_folio_is_poisoned_everywhere, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_freed_folios_reused_before_gap_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_randomized_against_model, setup, teardown),
	};

	return cmocka_run_group_tests_name("phys", tests, NULL, NULL);
}
