// SPDX-License-Identifier: MIT
/*
 * ops.c - the benchmark's operations other than unmap, each next to an in-run reference:
 *
 *  - dirty-log: the write-protect harvest, mn_vm_get_dirty_log() on a logged slot whose
 *    pages the guest has all written (so all are dirty and writable); per entry, against
 *    the read+clear loop over as many u64 entries.
 *  - memslot-create/-delete/-move: mn_vm_set_user_memory_region2() with 10, 509 and 32764
 *    slots in the VM; per operation, against a bare interval-tree insert+remove on a tree
 *    of the same node count.
 *  - explore: complete schedules per second of the explorer (DFS at the script's bound) on
 *    scenarios/000-gpc-vs-munmap.mns under filter-userspace-mappings and on
 *    scenarios/fault-vs-munmap.mns (the script of the built-in fault-vs-munmap), checked
 *    (the file's default) against the same text with "checked off"; and the built-in
 *    fault-vs-munmap itself, which is always checked, against the unchecked script.
 *
 * Aging (clear_young, test_young) is in ops-notify.c, through mn_mm_notify_age().
 *
 * Public API only, as bench/inval.c. Every row has sanity checks that fail the run (1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define HVA_BASE    0x100000000000ULL
#define SLOT_BYTES  (2ULL << 20)
#define SLOT_STRIDE (4ULL << 20)
#define MAX_REPS    32
#define LOG_SLOT    0U

#ifndef MN_BENCH_SCENARIO_DIR
#define MN_BENCH_SCENARIO_DIR "scenarios"
#endif

static int ofail(const char *op, const char *arch, unsigned int n, const char *what)
{
	fprintf(stderr, "bench %s: SANITY CHECK FAILED: %s (%s, %u)\n", op, arch, what, n);
	return 1;
}

static const char *arch_name(enum mn_vm_arch a)
{
	return a == MN_VM_X86 ? "x86-ept" : "arm64-stage2";
}

static void row_init(struct mn_bench_row *row, const char *bench, enum mn_vm_arch arch,
		     unsigned int levels, unsigned int slots, const char *stream, int reps)
{
	mn_bench_row_init(row, bench, arch_name(arch));
	row->levels = levels;
	row->slots = slots;
	row->stream = stream;
	row->reps = reps;
}

/* The table of these rows: what is counted differs per operation, so it says so. */
static void ops_header(FILE *f)
{
	fprintf(f, "\n%-15s %-12s %5s %-10s %7s %10s %10s %8s %-14s %8s %6s\n", "op", "arch",
		"slots", "mode", "n/op", "ns/op", "p99", "ns/ent", "reference", "ref ns", "ratio");
}

static void ops_row(const struct mn_bench_opts *o, const struct mn_bench_row *r, uint64_t per_op)
{
	if (o->json) {
		mn_bench_print_json(o->out, r);
	} else {
		fprintf(o->out, "%-15s %-12s %5u %-10s %7llu %10.1f %10.1f", r->bench, r->arch,
			r->slots, r->stream, (unsigned long long)per_op, r->ns_per_event.p50,
			r->ns_per_event.p99);
		if (r->ns_per_entry < 0)
			fprintf(o->out, " %8s", "-");
		else
			fprintf(o->out, " %8.3f", r->ns_per_entry);
		fprintf(o->out, " %-14s %8.1f %6.2f\n", r->ref_name, r->ref_ns.p50, r->ratio);
	}
	fflush(o->out);
}

/* ---- dirty-log: the write-protect harvest ------------------------------------------------ */

static int bench_dirty_log(const struct mn_bench_opts *o, enum mn_vm_arch arch, uint64_t pages,
			   int reps)
{
	struct mn_vm_config cfg = { .arch = arch, .ept_levels = 4 };
	uint64_t words = (pages + 63) / 64, p, *bitmap = NULL, *shadow = NULL;
	struct mn_sim *sim = NULL;
	struct mn_mm *mm = NULL;
	struct mn_vm *vm = NULL;
	struct mn_vcpu *vcpu;
	double ev[MAX_REPS], rc[MAX_REPS];
	struct mn_bench_row row;
	const char *an = arch_name(arch);
	volatile uint64_t sink = 0;
	mn_hva_t hva;
	int r, ret = 2;

	bitmap = calloc(words, sizeof(*bitmap));
	shadow = calloc(pages, sizeof(*shadow));
	if (!bitmap || !shadow || mn_sim_create(NULL, &sim) || mn_mm_create(sim, NULL, &mm) ||
	    mn_vm_create(mm, &cfg, &vm) ||
	    mn_mm_mmap(mm, HVA_BASE, pages << MN_PAGE_SHIFT, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &hva)) {
		fprintf(stderr, "bench dirty-log: cannot set up the world (%s)\n", an);
		goto out;
	}
	{
		struct mn_userspace_memory_region2 reg = {
			.slot = LOG_SLOT,
			.flags = MN_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = 0,
			.memory_size = pages << MN_PAGE_SHIFT,
			.userspace_addr = HVA_BASE,
		};

		if (mn_vm_set_user_memory_region2(vm, &reg)) {
			fprintf(stderr, "bench dirty-log: cannot create the logged slot\n");
			goto out;
		}
	}
	vcpu = mn_vm_get_vcpu(vm, 0);
	ret = 1;
	/* rep -1 is the warm-up: the first writes fault the host pages in too. */
	for (r = -1; r < reps; r++) {
		struct mn_bench_census w;
		double t0;

		for (p = 0; p < pages; p++) {
			uint64_t val = p + 1;
			struct mn_vcpu_exit ex;

			if (mn_vcpu_access(vcpu, 0, p << MN_PAGE_SHIFT, MN_PTE_W, &val, &ex)) {
				ret = ofail("dirty-log", an, (unsigned int)pages,
					    "a guest write exited");
				goto out;
			}
		}
		w = mn_bench_census(mn_vm_get_pt(vm, 0), 0, pages);
		if (w.leaves != pages || w.writable != pages) {
			ret = ofail("dirty-log", an, (unsigned int)pages,
				    "not every page mapped writable after the guest's writes");
			goto out;
		}
		memset(bitmap, 0, words * sizeof(*bitmap));
		t0 = mn_bench_now_ns();
		if (mn_vm_get_dirty_log(vm, LOG_SLOT, bitmap)) {
			ret = ofail("dirty-log", an, (unsigned int)pages, "get_dirty_log failed");
			goto out;
		}
		t0 = mn_bench_now_ns() - t0;
		if (mn_bench_bitmap_weight(bitmap, words) != pages) {
			ret = ofail("dirty-log", an, (unsigned int)pages,
				    "the harvest did not report exactly the written pages");
			goto out;
		}
		w = mn_bench_census(mn_vm_get_pt(vm, 0), 0, pages);
		if (w.leaves != pages || w.writable) {
			ret = ofail("dirty-log", an, (unsigned int)pages,
				    "writable leaves left after the harvest");
			goto out;
		}
		if (mn_vm_get_dirty_log(vm, LOG_SLOT, bitmap) ||
		    mn_bench_bitmap_weight(bitmap, words)) {
			ret = ofail("dirty-log", an, (unsigned int)pages,
				    "a second harvest reported pages no one wrote");
			goto out;
		}
		/* The reference: read and clear as many present u64 entries. */
		for (p = 0; p < pages; p++)
			shadow[p] = (p << MN_PAGE_SHIFT) | 0x7;
		{
			uint64_t sum = 0, cnt = 0;
			double t1 = mn_bench_now_ns();

			for (p = 0; p < pages; p++) {
				uint64_t v = shadow[p];

				if (v) {
					sum += v;
					cnt++;
					shadow[p] = 0;
				}
			}
			t1 = mn_bench_now_ns() - t1;
			sink += sum;
			if (cnt != pages) {
				ret = ofail("dirty-log", an, (unsigned int)pages,
					    "the roofline cleared another number of entries");
				goto out;
			}
			if (r >= 0) {
				ev[r] = t0;
				rc[r] = t1;
			}
		}
	}
	(void)sink;
	row_init(&row, "dirty-log", arch, mn_pt_get_format(mn_vm_get_pt(vm, 0))->top_level, 1,
		 "all-dirty", reps);
	row.range_bytes = pages << MN_PAGE_SHIFT;
	row.hit = "present";
	row.density = 100;
	row.events = (uint64_t)reps;
	mn_bench_stats_compute(ev, (unsigned int)reps, &row.ns_per_event);
	mn_bench_stats_compute(rc, (unsigned int)reps, &row.ref_ns);
	row.ns_per_entry = row.ns_per_event.p50 / (double)pages;
	row.entries_per_s = 1e9 / row.ns_per_entry;
	row.ref_name = "read_clear";
	row.read_clear_ns = row.ref_ns.p50;
	row.ratio = row.ref_ns.p50 > 0 ? row.ns_per_event.p50 / row.ref_ns.p50 : -1;
	row.entries_zapped = pages * (uint64_t)reps; /* entries write-protected */
	ops_row(o, &row, pages);
	ret = 0;
out:
	mn_bench_world_free(vm, mm, sim);
	free(bitmap);
	free(shadow);
	return ret;
}

/* ---- memslot create / delete / move ------------------------------------------------------- */

static int region(struct mn_vm *vm, unsigned int id, uint64_t gpa, uint64_t size)
{
	struct mn_userspace_memory_region2 reg = {
		.slot = id,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = HVA_BASE + (uint64_t)id * SLOT_STRIDE,
	};

	return mn_vm_set_user_memory_region2(vm, &reg);
}

/* Where a guest read of @gpa ends: MMIO (no memslot) or a memory fault (a slot, no host). */
static enum mn_exit_reason probe(struct mn_vm *vm, uint64_t gpa)
{
	struct mn_vcpu_exit ex = { .reason = MN_EXIT_NONE };
	uint64_t val;

	if (mn_vcpu_access(mn_vm_get_vcpu(vm, 0), 0, gpa, MN_PTE_R, &val, &ex) != 1)
		return MN_EXIT_NONE;
	return ex.reason;
}

enum { OP_CREATE, OP_DELETE, OP_MOVE, NR_OPS };

static int bench_memslot(const struct mn_bench_opts *o, enum mn_vm_arch arch, unsigned int slots,
			 unsigned int iters, int reps)
{
	static const char *const names[NR_OPS] = { "memslot-create", "memslot-delete",
						   "memslot-move" };
	struct mn_vm_config cfg = { .arch = arch, .ept_levels = 4 };
	unsigned int base = slots - 1, id = slots - 1, i;
	uint64_t gpa_a = (uint64_t)id * SLOT_BYTES, gpa_b = (uint64_t)(slots + 16) * SLOT_BYTES;
	struct mn_itree_node *nodes = NULL, extra;
	struct mn_itree tree;
	struct mn_sim *sim = NULL;
	struct mn_mm *mm = NULL;
	struct mn_vm *vm = NULL;
	const char *an = arch_name(arch);
	struct mn_vm_stats s0, s1;
	double(*t)[MAX_REPS] = NULL, itr[MAX_REPS];
	uint64_t nops[NR_OPS] = { 0 };
	int r, k, ret = 2;

	t = calloc(NR_OPS, sizeof(*t));
	nodes = calloc(slots, sizeof(*nodes));
	if (!t || !nodes || mn_sim_create(NULL, &sim) || mn_mm_create(sim, NULL, &mm) ||
	    mn_vm_create(mm, &cfg, &vm))
		goto setup_err;
	mn_itree_init(&tree);
	for (i = 0; i < base; i++) {
		nodes[i].start = HVA_BASE + (uint64_t)i * SLOT_STRIDE;
		nodes[i].last = nodes[i].start + SLOT_BYTES - 1;
		if (region(vm, i, (uint64_t)i * SLOT_BYTES, SLOT_BYTES) ||
		    mn_itree_insert(&tree, &nodes[i]))
			goto setup_err;
	}
	ret = 1;
	/* With one slot there is no base slot: gpa 0 is the operated slot's, still absent. */
	if (probe(vm, gpa_a) != MN_EXIT_MMIO || (base && probe(vm, 0) != MN_EXIT_MEMORY_FAULT)) {
		ret = ofail("memslot", an, slots, "the base slots are not where they should be");
		goto out;
	}
	for (r = -1; r < reps; r++) {
		double acc[NR_OPS] = { 0 }, t0, ti;

		mn_vm_get_stats(vm, &s0);
		for (i = 0; i < iters; i++) {
			int e;

			t0 = mn_bench_now_ns();
			e = region(vm, id, gpa_a, SLOT_BYTES);
			acc[OP_CREATE] += mn_bench_now_ns() - t0;
			if (e) {
				ret = ofail("memslot", an, slots, "create failed");
				goto out;
			}
			if (i == 0 && probe(vm, gpa_a) != MN_EXIT_MEMORY_FAULT) {
				ret = ofail("memslot", an, slots, "no slot after create");
				goto out;
			}
			t0 = mn_bench_now_ns();
			e = region(vm, id, gpa_b, SLOT_BYTES);
			acc[OP_MOVE] += mn_bench_now_ns() - t0;
			if (e) {
				ret = ofail("memslot", an, slots, "move failed");
				goto out;
			}
			if (i == 0 && (probe(vm, gpa_a) != MN_EXIT_MMIO ||
				       probe(vm, gpa_b) != MN_EXIT_MEMORY_FAULT)) {
				ret = ofail("memslot", an, slots, "the slot did not move");
				goto out;
			}
			t0 = mn_bench_now_ns();
			e = region(vm, id, gpa_a, SLOT_BYTES);
			acc[OP_MOVE] += mn_bench_now_ns() - t0;
			if (e) {
				ret = ofail("memslot", an, slots, "move back failed");
				goto out;
			}
			t0 = mn_bench_now_ns();
			e = region(vm, id, gpa_a, 0);
			acc[OP_DELETE] += mn_bench_now_ns() - t0;
			if (e) {
				ret = ofail("memslot", an, slots, "delete failed");
				goto out;
			}
			if (i == 0 && (probe(vm, gpa_a) != MN_EXIT_MMIO ||
				       probe(vm, gpa_b) != MN_EXIT_MMIO)) {
				ret = ofail("memslot", an, slots, "a slot left after delete");
				goto out;
			}
		}
		mn_vm_get_stats(vm, &s1);
		/* create: one swap; delete and move: INVALID first, then the final set. */
		if (s1.memslot_updates - s0.memslot_updates != (uint64_t)iters * 7) {
			ret = ofail("memslot", an, slots,
				    "memslot swaps != 1 per create + 2 per "
				    "delete or move");
			goto out;
		}
		/* The reference: one insert + remove on a tree of the same node count. */
		extra.start = HVA_BASE + (uint64_t)id * SLOT_STRIDE;
		extra.last = extra.start + SLOT_BYTES - 1;
		ti = mn_bench_now_ns();
		for (i = 0; i < iters; i++) {
			if (mn_itree_insert(&tree, &extra)) {
				ret = 2;
				goto out;
			}
			mn_itree_remove(&tree, &extra);
		}
		ti = mn_bench_now_ns() - ti;
		if (r < 0)
			continue;
		t[OP_CREATE][r] = acc[OP_CREATE] / iters;
		t[OP_DELETE][r] = acc[OP_DELETE] / iters;
		t[OP_MOVE][r] = acc[OP_MOVE] / (2.0 * iters);
		itr[r] = ti / iters;
		nops[OP_CREATE] += iters;
		nops[OP_DELETE] += iters;
		nops[OP_MOVE] += 2ULL * iters;
	}
	/* Back to the start: the base slots only, the tree as it was. */
	if (probe(vm, gpa_a) != MN_EXIT_MMIO || probe(vm, gpa_b) != MN_EXIT_MMIO ||
	    (base && probe(vm, (uint64_t)(base - 1) * SLOT_BYTES) != MN_EXIT_MEMORY_FAULT) ||
	    region(vm, id, gpa_a, SLOT_BYTES) || region(vm, id, gpa_a, 0) ||
	    mn_itree_check_invariants(&tree)) {
		ret = ofail("memslot", an, slots, "the memslots are not back to the start");
		goto out;
	}
	{
		struct mn_bench_stats ref;

		mn_bench_stats_compute(itr, (unsigned int)reps, &ref);
		for (k = 0; k < NR_OPS; k++) {
			struct mn_bench_row row;

			row_init(&row, names[k], arch,
				 mn_pt_get_format(mn_vm_get_pt(vm, 0))->top_level, slots, "-",
				 reps);
			row.layout = "2M-slots-2M-gaps";
			row.range_bytes = SLOT_BYTES;
			row.events = nops[k];
			mn_bench_stats_compute(t[k], (unsigned int)reps, &row.ns_per_event);
			row.ref_name = "itree_ins+rm";
			row.ref_ns = ref;
			row.itree_ns = ref.p50;
			row.ratio = ref.p50 > 0 ? row.ns_per_event.p50 / ref.p50 : -1;
			ops_row(o, &row, 1);
		}
	}
	ret = 0;
	goto out;
setup_err:
	fprintf(stderr, "bench memslot: cannot set up %u slots (%s)\n", slots, an);
	ret = 2;
out:
	mn_bench_world_free(vm, mm, sim);
	free(nodes);
	free(t);
	return ret;
}

/* ---- explorer throughput ------------------------------------------------------------------ */

/* The file's text with "checked off" (or as it is, @checked) after its title line. */
static char *load_text(const char *path, bool checked, size_t *len)
{
	static const char off[] = "checked off\n";
	FILE *f = fopen(path, "r");
	char *buf, *out, *nl;
	long n;
	size_t at;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NULL;
	}
	buf = calloc((size_t)n + 1, 1);
	out = calloc((size_t)n + sizeof(off) + 1, 1);
	if (!buf || !out || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		free(out);
		return NULL;
	}
	fclose(f);
	nl = strstr(buf, "\ntitle ");
	if (checked || !nl || !(nl = strchr(nl + 1, '\n'))) {
		memcpy(out, buf, (size_t)n);
		*len = (size_t)n;
		free(buf);
		return checked ? out : (free(out), NULL);
	}
	at = (size_t)(nl - buf) + 1;
	memcpy(out, buf, at);
	memcpy(out + at, off, sizeof(off) - 1);
	memcpy(out + at + sizeof(off) - 1, buf + at, (size_t)n - at);
	*len = (size_t)n + sizeof(off) - 1;
	free(buf);
	return out;
}

struct xfig {
	struct mn_bench_stats ns; /* per schedule, over explorations */
	uint64_t schedules;	  /* per exploration */
	unsigned int runs;
};

/* Explore @sc exhaustively again and again for about @budget_ns; every run must be clean. */
static int time_explore(const struct mn_scenario *sc, unsigned int bound, double budget_ns,
			unsigned int min_runs, struct xfig *x, const char **why)
{
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS,
					 .preemption_bound = bound,
					 .seed = 1 };
	double v[MAX_REPS], start = mn_bench_now_ns();
	unsigned int n = 0;

	memset(x, 0, sizeof(*x));
	do {
		struct mn_explore_result res;
		double t0 = mn_bench_now_ns();
		int e = mn_explore(sc, &cfg, &res);

		t0 = mn_bench_now_ns() - t0;
		if (e) {
			*why = "the exploration failed";
			return 2;
		}
		if (!res.exhausted || res.failing_runs || !res.schedules ||
		    (n && res.schedules != x->schedules)) {
			*why = !res.exhausted	  ? "not exhausted"
			       : res.failing_runs ? "a schedule failed"
						  : "the schedule count changed between runs";
			mn_explore_result_free(&res);
			return 1;
		}
		x->schedules = res.schedules;
		mn_explore_result_free(&res);
		v[n++] = t0 / (double)x->schedules;
	} while (n < MAX_REPS && (n < min_runs || mn_bench_now_ns() - start < budget_ns));
	x->runs = n;
	mn_bench_stats_compute(v, n, &x->ns);
	return 0;
}

static void explore_row(const struct mn_bench_opts *o, const char *name, const char *mode,
			const struct xfig *x, const struct xfig *ref)
{
	struct mn_bench_row row;

	row_init(&row, name, MN_VM_X86, 0, 1, mode, (int)x->runs);
	row.layout = "dfs";
	row.events = x->schedules * x->runs;
	row.ns_per_event = x->ns;
	row.entries_per_s = 1e9 / x->ns.p50; /* schedules per second */
	row.ref_name = "unchecked";
	row.ref_ns = ref->ns;
	row.ratio = ref->ns.p50 > 0 ? x->ns.p50 / ref->ns.p50 : -1;
	ops_row(o, &row, x->schedules);
	if (!o->json)
		fprintf(o->out, "%-15s %.0f schedules/s\n", "", 1e9 / x->ns.p50);
}

static int bench_explore_script(const struct mn_bench_opts *o, const char *file,
				const char *variant, const char *name, double budget_ns,
				struct xfig *unchecked_out)
{
	char path[1024];
	struct mn_script *sc[2] = { NULL, NULL };
	struct xfig x[2];
	const char *why = "";
	unsigned int v = 0;
	int k, ret = 2;

	snprintf(path, sizeof(path), "%s/%s", MN_BENCH_SCENARIO_DIR, file);
	for (k = 0; k < 2; k++) {
		struct mn_script_error err;
		size_t len;
		char *text = load_text(path, k == 1, &len);

		if (!text) {
			fprintf(stderr, "bench explore: cannot read %s: explorer rows skipped\n",
				path);
			ret = -1;
			goto out;
		}
		if (mn_script_parse(file, text, len, &sc[k], &err) ||
		    (variant &&
		     (mn_variant_parse(variant, &v) || mn_script_set_variant(sc[k], v)))) {
			fprintf(stderr, "bench explore: %s:%u:%u: %s\n", file, err.line, err.col,
				err.msg);
			free(text);
			goto out;
		}
		free(text);
		if (mn_script_info(sc[k])->checked != (k == 1)) {
			ret = ofail("explore", name, k, "checked mode is not what the text says");
			goto out;
		}
	}
	for (k = 0; k < 2; k++) {
		ret = time_explore(mn_script_scenario(sc[k]), mn_script_info(sc[k])->bound,
				   budget_ns, o->mode == MN_BENCH_QUICK ? 1 : 3, &x[k], &why);
		if (ret) {
			fprintf(stderr, "bench explore: SANITY CHECK FAILED: %s (%s, %s)\n", why,
				name, k ? "checked" : "unchecked");
			goto out;
		}
	}
	if (x[0].schedules != x[1].schedules) {
		ret = ofail("explore", name, 0, "checked and unchecked explored other schedules");
		goto out;
	}
	explore_row(o, name, "unchecked", &x[0], &x[0]);
	explore_row(o, name, "checked", &x[1], &x[0]);
	if (unchecked_out)
		*unchecked_out = x[0];
	ret = 0;
out:
	mn_script_free(sc[0]);
	mn_script_free(sc[1]);
	return ret;
}

static int bench_explore_all(const struct mn_bench_opts *o)
{
	double budget = o->mode == MN_BENCH_QUICK ? 0 : o->mode == MN_BENCH_PR ? 1e9 : 3e9;
	struct xfig script, builtin;
	struct mn_builtin *b = NULL;
	const char *why = "";
	int ret;

	ret = bench_explore_script(o, "000-gpc-vs-munmap.mns", "filter-userspace-mappings",
				   "explore-000", budget, NULL);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (o->mode == MN_BENCH_QUICK)
		return 0;
	ret = bench_explore_script(o, "fault-vs-munmap.mns", NULL, "explore-fvm", budget, &script);
	if (ret)
		return ret < 0 ? 0 : ret;
	/* The built-in is always checked; its reference is the unchecked script of the race. */
	if (mn_builtin_open("fault-vs-munmap", MN_VM_X86, &b)) {
		fprintf(stderr, "bench explore: no built-in fault-vs-munmap\n");
		return 2;
	}
	ret = time_explore(mn_builtin_scenario(b), 2, budget, 3, &builtin, &why);
	mn_builtin_close(b);
	if (ret) {
		fprintf(stderr,
			"bench explore: SANITY CHECK FAILED: %s (built-in fault-vs-munmap)\n", why);
		return ret;
	}
	explore_row(o, "explore-builtin", "checked", &builtin, &script);
	return 0;
}

/* ---- the list ------------------------------------------------------------------------------ */

int mn_bench_ops(const struct mn_bench_opts *o)
{
	static const unsigned int pr_slots[] = { 10, 509, 32764 };
	static const unsigned int all_slots[] = { 1, 10, 100, 509, 8192, 32764 };
	bool quick = o->mode == MN_BENCH_QUICK;
	const unsigned int *slots = o->mode == MN_BENCH_FULL ? all_slots : pr_slots;
	unsigned int nslots = o->mode == MN_BENCH_FULL ? 6 : 3;
	int reps = quick ? 5 : o->mode == MN_BENCH_PR ? 11 : 31;
	unsigned int a, i;
	int ret;

	if (!o->json)
		ops_header(o->out);
	for (a = 0; a < 2; a++) {
		enum mn_vm_arch arch = a ? MN_VM_ARM64 : MN_VM_X86;

		ret = bench_dirty_log(o, arch, quick ? 2048 : 8192, reps);
		if (ret)
			return ret;
	}
	/* The quick subset: x86 at 32764 slots; then only story 000's explorer pair. */
	for (a = 0; a < (quick ? 1U : 2U); a++) {
		for (i = quick ? nslots - 1 : 0; i < nslots; i++) {
			ret = bench_memslot(o, a ? MN_VM_ARM64 : MN_VM_X86, slots[i],
					    quick ? 32 : 64, reps);
			if (ret)
				return ret;
		}
	}
	return bench_explore_all(o);
}
