// SPDX-License-Identifier: MIT
/*
 * tour.c - a guided tour of what libmnsim has so far, through the public API only:
 * an allocation context, the event log, a memslot-like hva interval tree, and physical
 * frames whose stale use the oracle catches, as in the seed thread where a gfn_to_pfn
 * cache kept a pfn after munmap freed it, and the explorer finding a lost update among
 * interleavings of two sim threads, then the same pfn story on the real primary MMU with
 * mmu_notifier subscribers. Exits 1 if the oracle or the explorer misses its bug.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

struct slot {
	struct mn_itree_node hva_node; /* [userspace_addr, userspace_addr + size - 1] */
	const char *name;
	mn_gfn_t base_gfn;
};

static int fail(const char *what, int err);

#define SLOT(ptr) ((struct slot *)((char *)(ptr)-offsetof(struct slot, hva_node)))

/*
 * 5. The same race as a scenario: two sim threads run the non-atomic increment the way a
 * seq-count update without mmu_lock would, and the explorer enumerates interleavings.
 */
struct counter {
	uint64_t value;
};

static void increment(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;
	uint64_t v = mn_atomic_read(sim, &c->value, "seq.read");

	mn_atomic_set(sim, &c->value, v + 1, "seq.write");
}

static int counter_setup(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;
	int ret;

	c->value = 0;
	ret = mn_sim_spawn(sim, "end0", increment, c, NULL);
	return ret ? ret : mn_sim_spawn(sim, "end1", increment, c, NULL);
}

static void counter_check(struct mn_sim *sim, void *arg)
{
	struct counter *c = arg;

	if (c->value != 2)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "seq.lost_bump", "two bumps left the count at %llu",
			       (unsigned long long)c->value);
}

static int explore_counter(void)
{
	static struct counter c;
	struct mn_scenario sc = { "lost-bump", counter_setup, counter_check, NULL, &c };
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 1 };
	struct mn_explore_result res;
	struct mn_sim *sim;
	int ret;

	ret = mn_explore(&sc, &cfg, &res);
	if (ret)
		return fail("explore", ret);
	printf("\n5. exploring two unlocked bumps of a counter (DFS, at most 1 preemption):\n");
	printf("   %llu schedules, %llu failing; first failure %s, schedule %s\n",
	       (unsigned long long)res.schedules, (unsigned long long)res.failing_runs,
	       res.nr_failures ? res.failures[0].violation.invariant : "none",
	       res.nr_failures ? res.failures[0].schedule : "-");
	if (!res.nr_failures) {
		mn_explore_result_free(&res);
		fprintf(stderr, "mnsim-tour: the explorer missed the lost bump\n");
		return 1;
	}
	ret = mn_explore_replay(&sc, NULL, NULL, 0, res.failures[0].schedule, &sim);
	if (ret < 0) {
		mn_explore_result_free(&res);
		return fail("replay", ret);
	}
	printf("   replayed:\n");
	mn_trace_print(mn_sim_get_trace(sim), stdout);
	mn_sim_destroy(sim);
	mn_explore_result_free(&res);
	return ret == MN_RUN_VIOLATION ? 0 : 1;
}

/*
 * 6. The same story on the real primary MMU: a secondary MMU caches a pfn it got from GUP
 * without keeping the reference (as KVM's page tables do). The careless one forgets it only
 * at invalidate_range_end; the correct one at invalidate_range_start. A guest thread reads
 * through the cache while the VMM unmaps the page; the explorer tries every interleaving.
 */
struct secondary {
	struct mn_notifier n; /* first member: the callbacks cast back */
	struct mn_mm *mm;
	mn_hva_t hva;
	bool careful;
	bool valid;
	struct mn_frame_ref cached;
};

static void forget(struct secondary *s, mn_hva_t start, mn_hva_t end)
{
	if (s->valid && s->hva >= start && s->hva < end)
		s->valid = false;
}

static int sec_start(struct mn_notifier *n, const struct mn_notifier_range *r)
{
	struct secondary *s = (struct secondary *)n;

	if (s->careful)
		forget(s, r->start, r->end);
	return 0;
}

static void sec_end(struct mn_notifier *n, const struct mn_notifier_range *r)
{
	struct secondary *s = (struct secondary *)n;

	forget(s, r->start, r->end);
}

static const struct mn_notifier_ops sec_ops = {
	.invalidate_range_start = sec_start,
	.invalidate_range_end = sec_end,
};

static void guest_reads(struct mn_sim *sim, void *arg)
{
	struct secondary *s = arg;
	struct mn_phys *phys = mn_sim_get_phys(sim);
	uint64_t word;

	mn_yield(sim, "guest.before_read");
	if (s->valid)
		mn_phys_read(phys, s->cached, &word, "secondary.read");
}

static void vmm_unmaps(struct mn_sim *sim, void *arg)
{
	struct secondary *s = arg;

	(void)sim;
	mn_mm_munmap(s->mm, s->hva, 4096);
}

static int host_setup(struct mn_sim *sim, void *arg)
{
	struct secondary *s = arg;
	bool careful = s->careful;
	struct mn_gup_page page;
	uint64_t v = 0x5eed;
	int ret;

	memset(s, 0, sizeof(*s));
	s->careful = careful;
	s->n.ops = &sec_ops;
	ret = mn_mm_create(sim, NULL, &s->mm);
	if (!ret)
		ret = mn_notifier_register(&s->n, s->mm);
	if (!ret)
		ret = mn_mm_mmap(s->mm, 0, 4096, MN_PROT_READ | MN_PROT_WRITE,
				 MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &s->hva);
	if (!ret)
		ret = mn_mm_access(s->mm, s->hva, MN_PTE_W, &v, NULL);
	if (!ret)
		ret = mn_mm_gup(s->mm, s->hva, MN_FOLL_WRITE, &page);
	if (ret)
		return ret;
	/* Cache the pfn and drop the reference, as KVM does once the SPTE is installed. */
	s->cached = page.ref;
	s->valid = true;
	mn_mm_put_page(s->mm, &page);
	ret = mn_sim_spawn(sim, "guest", guest_reads, s, NULL);
	return ret ? ret : mn_sim_spawn(sim, "vmm", vmm_unmaps, s, NULL);
}

static void host_check(struct mn_sim *sim, void *arg)
{
	struct secondary *s = arg;

	(void)sim;
	mn_mm_destroy(s->mm);
}

static int explore_host(bool careful, uint64_t *failing)
{
	struct secondary s = { .careful = careful };
	struct mn_scenario sc = { "secondary-vs-munmap", host_setup, host_check, NULL, &s };
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 2 };
	struct mn_explore_result res;
	int ret = mn_explore(&sc, &cfg, &res);

	if (ret)
		return ret;
	printf("   %-9s secondary MMU: %" PRIu64 " schedules, %" PRIu64 " with a violation%s%s\n",
	       careful ? "a careful" : "a careless", res.schedules, res.failing_runs,
	       res.nr_failures ? ", first: " : "",
	       res.nr_failures ? res.failures[0].violation.invariant : "");
	if (res.nr_failures)
		printf("     replay it with schedule %s\n", res.failures[0].schedule);
	*failing = res.failing_runs;
	mn_explore_result_free(&res);
	return 0;
}

static int explore_secondary(void)
{
	uint64_t careless, careful;
	int ret;

	printf("\n6. a VMM thread munmaps a page a secondary MMU cached (real host MMU, DFS):\n");
	ret = explore_host(false, &careless);
	if (!ret)
		ret = explore_host(true, &careful);
	if (ret)
		return fail("host exploration", ret);
	if (!careless || careful) {
		fprintf(stderr, "mnsim-tour: the explorer misjudged the secondary MMUs\n");
		return 1;
	}
	return 0;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "mnsim-tour: %s: %s\n", what, mn_strerror(err));
	return 2;
}

int main(void)
{
	static struct slot slots[] = {
		{ .name = "ram-low", .base_gfn = 0x0 },
		{ .name = "ram-high", .base_gfn = 0x100000 },
		{ .name = "vga", .base_gfn = 0xa0 },
	};
	const mn_hva_t hva_base[] = { 0x7f0000000000, 0x7f0040000000, 0x7f0100000000 };
	const uint64_t size[] = { 1ULL << 30, 1ULL << 30, 128 << 10 };
	struct mn_frame_ref page, gpc_ref, reused;
	struct mn_itree_node *n;
	struct mn_itree slots_by_hva;
	struct mn_hva_range munmap_range;
	struct mn_phys_stats pst;
	struct mn_trace *trace;
	struct mn_phys *phys;
	struct mn_alloc *a;
	uint32_t host, gpc;
	uint64_t word;
	size_t i;
	int ret;

	printf("mnsim %s: allocator backend %s\n\n", mn_version(), mn_alloc_backend());

	ret = mn_alloc_create(NULL, &a);
	if (ret)
		return fail("allocation context", ret);
	ret = mn_trace_create(a, MN_TRACE_FULL, 0, &trace);
	if (!ret)
		ret = mn_phys_create(a, trace, &(struct mn_phys_config){ .base_pfn = 0x1000 },
				     &phys);
	if (!ret)
		ret = mn_trace_actor_add(trace, "host-mm", &host);
	if (!ret)
		ret = mn_trace_actor_add(trace, "gpc", &gpc);
	if (ret)
		return fail("world setup", ret);

	/* 1. Memslots in an hva interval tree, the way KVM finds slots for a notifier range. */
	mn_itree_init(&slots_by_hva);
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		slots[i].hva_node.start = hva_base[i];
		slots[i].hva_node.last = hva_base[i] + size[i] - 1;
		ret = mn_itree_insert(&slots_by_hva, &slots[i].hva_node);
		if (ret)
			return fail("itree insert", ret);
	}
	munmap_range = (struct mn_hva_range){ 0x7f003ff00000, 0x7f0040200000 };
	printf("1. munmap [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps these memslots:\n",
	       munmap_range.start, munmap_range.end);
	mn_itree_for_each(n, &slots_by_hva, munmap_range.start, munmap_range.end - 1)
		printf("     %-8s hva [0x%" PRIx64 ", 0x%" PRIx64 "] base_gfn 0x%" PRIx64 "\n",
		       SLOT(n)->name, n->start, n->last, SLOT(n)->base_gfn);
	if (mn_itree_check_invariants(&slots_by_hva))
		return fail("itree invariants", -EUCLEAN);

	/* 2. A page of guest memory; a pfn cache looks it up and keeps (pfn, generation). */
	mn_trace_set_actor(trace, host);
	ret = mn_phys_alloc(phys, MN_ORDER_4K, MN_OWNER_ANON, MN_PHYS_ZERO, &page);
	if (!ret)
		ret = mn_phys_write(phys, page, 0x5eed, "guest.write");
	if (ret)
		return fail("page", ret);
	mn_trace_set_actor(trace, gpc);
	gpc_ref = page;
	printf("\n2. gpc caches pfn 0x%" PRIx64 " (generation %" PRIu64 ") without a reference\n",
	       gpc_ref.pfn, gpc_ref.gen);

	/* 3. munmap frees the page, and the allocator hands the frame to someone else. */
	mn_trace_set_actor(trace, host);
	mn_trace(trace, "munmap.invalidate_range_start", MN_KV_X("start", munmap_range.start),
		 MN_KV_X("end", munmap_range.end));
	mn_phys_put(phys, page, "munmap.free");
	ret = mn_phys_alloc(phys, MN_ORDER_4K, MN_OWNER_FILE, 0, &reused);
	if (ret)
		return fail("reuse", ret);
	mn_phys_write(phys, reused, 0xf11e, "file.write");
	printf("3. munmap freed it; pfn 0x%" PRIx64 " is reused as a file page (generation %" PRIu64
	       ")\n",
	       reused.pfn, reused.gen);

	/* 4. Nobody told the gpc (the RFC's bug): it reads through its stale reference. */
	mn_trace_set_actor(trace, gpc);
	ret = mn_phys_read(phys, gpc_ref, &word, "gpc.read");
	printf("4. gpc reads 0x%" PRIx64 " (the guest wrote 0x5eed): %s\n\n", word,
	       mn_errname(ret));

	printf("trace:\n");
	mn_trace_print(trace, stdout);
	printf("\nviolations: %zu\n", mn_trace_nr_violations(trace));
	for (i = 0; i < mn_trace_nr_violations(trace); i++) {
		char line[320];

		mn_trace_format_violation(trace, mn_trace_violation(trace, i), line, sizeof(line));
		printf("  %s\n", line);
	}
	mn_phys_get_stats(phys, &pst);
	printf("\nframes in use %" PRIu64 ", folios allocated %" PRIu64 ", freed %" PRIu64
	       ", metadata %" PRIu64 " bytes\n",
	       pst.nr_frames, pst.nr_allocs, pst.nr_frees, pst.metadata_bytes);

	ret = mn_trace_count_violations(trace, MN_VIOL_USE_AFTER_FREE) == 1 ? 0 : 1;
	mn_phys_destroy(phys);
	mn_trace_destroy(trace);
	mn_alloc_destroy(a);
	if (ret) {
		fprintf(stderr, "mnsim-tour: the oracle missed the use-after-free\n");
		return ret;
	}
	ret = explore_counter();
	return ret ? ret : explore_secondary();
}
