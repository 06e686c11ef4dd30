// SPDX-License-Identifier: MIT
/*
 * ops-notify.c - the benchmark's notifier rows other than unmap, each next to an in-run
 * reference, through the public API only (as bench/ops.c):
 *
 *  - age-clear / age-test / age-clear-flush: mn_mm_notify_age() over 2 MiB of present,
 *    young 4 KiB leaves (clear_young, test_young, clear_flush_young alone, no host
 *    page-table work); per entry, against read+clear over as many u64 entries.
 *  - gpc-inval-N: one invalidate_range_start/end pair (mn_mm_notify_invalidate()) over
 *    1 MiB with N = 0, 1, 16 active gfn_to_pfn caches (half of them inside the range);
 *    per event, against the same event with no cache.
 *  - gmem-punch-4K / -2M: mn_mm_fallocate(PUNCH_HOLE|KEEP_SIZE) on a guest_memfd bound to
 *    a guest_memfd-only 2 MiB slot whose pages the guest has all faulted in; per event,
 *    against read+clear over as many entries as the hole has pages.
 *  - convert: mn_vm_set_memory_attributes() shared->private and private->shared over 2 MiB
 *    of present leaves of a SW_PROTECTED VM (shared pages from anonymous memory, private
 *    ones from a guest_memfd); per conversion, against read+clear over 512 entries.
 *
 * Sanity checks fail the run (1), never timing: aged leaves are old (a sample walked) and
 * stay mapped, test_young answers 0 then 1 after re-marking; caches in the range are
 * invalid and those outside valid; a punched range has no leaf and the file lost exactly
 * its pages; a conversion zaps the range and bumps mmu_invalidate_seq by exactly 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define NHVA_BASE  0x100000000000ULL
#define NSLOT	   (2ULL << 20)
#define NPAGES	   (NSLOT >> MN_PAGE_SHIFT)
#define NMAX_REPS  32
#define REF_PASSES 8192ULL /* entries of one read+clear timing, at least */

static int nfail(const char *op, const char *arch, unsigned int n, const char *what)
{
	fprintf(stderr, "bench %s: SANITY CHECK FAILED: %s (%s, %u)\n", op, arch, what, n);
	return 1;
}

static const char *narch_name(enum mn_vm_arch a)
{
	return a == MN_VM_X86 ? "x86-ept" : "arm64-stage2";
}

/* The row of one figure, with its reference; printed as bench/ops.c prints its rows. */
static void nrow_print(const struct mn_bench_opts *o, const char *bench, enum mn_vm_arch arch,
		       const char *mode, uint64_t per_op, double *ev, double *ref, int reps,
		       uint64_t events, const char *ref_name)
{
	struct mn_bench_row r;

	mn_bench_row_init(&r, bench, narch_name(arch));
	r.levels = arch == MN_VM_X86 ? 4 : 3;
	r.slots = 1;
	r.layout = "2M-slot";
	r.stream = mode;
	r.range_bytes = per_op << MN_PAGE_SHIFT;
	r.hit = "present";
	r.density = 100;
	r.leaf_level = "4K";
	r.events = events;
	r.reps = reps;
	mn_bench_stats_compute(ev, (unsigned int)reps, &r.ns_per_event);
	mn_bench_stats_compute(ref, (unsigned int)reps, &r.ref_ns);
	r.ns_per_entry = per_op ? r.ns_per_event.p50 / (double)per_op : -1;
	r.entries_per_s = r.ns_per_entry > 0 ? 1e9 / r.ns_per_entry : -1;
	r.ref_name = ref_name;
	r.ratio = r.ref_ns.p50 > 0 ? r.ns_per_event.p50 / r.ref_ns.p50 : -1;
	r.read_clear_ns = strcmp(ref_name, "read_clear") ? -1 : r.ref_ns.p50;
	if (o->json) {
		mn_bench_print_json(o->out, &r);
	} else {
		fprintf(o->out, "%-15s %-12s %5u %-10s %7llu %10.1f %10.1f", r.bench, r.arch,
			r.slots, r.stream, (unsigned long long)per_op, r.ns_per_event.p50,
			r.ns_per_event.p99);
		if (r.ns_per_entry < 0)
			fprintf(o->out, " %8s", "-");
		else
			fprintf(o->out, " %8.3f", r.ns_per_entry);
		fprintf(o->out, " %-14s %8.1f %6.2f\n", r.ref_name, r.ref_ns.p50, r.ratio);
	}
	fflush(o->out);
}

/*
 * The roofline: read and clear present u64 entries, @n per event, timed over at least
 * REF_PASSES entries so that the clock's own cost vanishes; ns per @n entries.
 */
static double read_clear_ns(uint64_t n, bool *ok)
{
	uint64_t passes = (REF_PASSES + n - 1) / n, total = passes * n, i, sum = 0, cnt = 0;
	uint64_t *shadow = calloc(total, sizeof(*shadow));
	static volatile uint64_t sink;
	double t;

	if (!shadow) {
		*ok = false;
		return 0;
	}
	for (i = 0; i < total; i++)
		shadow[i] = (i << MN_PAGE_SHIFT) | 0x7;
	t = mn_bench_now_ns();
	for (i = 0; i < total; i++) {
		uint64_t v = shadow[i];

		if (v) {
			sum += v;
			cnt++;
			shadow[i] = 0;
		}
	}
	t = mn_bench_now_ns() - t;
	sink += sum;
	*ok = cnt == total;
	free(shadow);
	return t / (double)passes;
}

/* A world: sim, mm (no THP, so every leaf is 4 KiB), VM, and anonymous memory at the base. */
struct nworld {
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	struct mn_vcpu *vcpu;
};

static int nworld_init(struct nworld *w, enum mn_vm_arch arch, enum mn_vm_type type)
{
	struct mn_vm_config cfg = { .arch = arch, .ept_levels = 4, .type = type };
	struct mn_mm_config mc = { .thp = MN_THP_NEVER };
	mn_hva_t hva;

	memset(w, 0, sizeof(*w));
	if (mn_sim_create(NULL, &w->sim) || mn_mm_create(w->sim, &mc, &w->mm) ||
	    mn_vm_create(w->mm, &cfg, &w->vm) ||
	    mn_mm_mmap(w->mm, NHVA_BASE, NSLOT, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &hva))
		return -1;
	w->vcpu = mn_vm_get_vcpu(w->vm, 0);
	return 0;
}

static void nworld_fini(struct nworld *w)
{
	mn_bench_world_free(w->vm, w->mm, w->sim);
}

static int plain_slot(struct nworld *w, uint32_t flags, int fd)
{
	struct mn_userspace_memory_region2 reg = {
		.slot = 0,
		.flags = flags,
		.memory_size = NSLOT,
		.userspace_addr = NHVA_BASE,
		.guest_memfd = fd < 0 ? 0 : (uint32_t)fd,
	};

	return mn_vm_set_user_memory_region2(w->vm, &reg);
}

/* Guest reads of every page of the slot; false when one exited. */
static bool touch_all(struct nworld *w)
{
	uint64_t p, val;

	for (p = 0; p < NPAGES; p++) {
		struct mn_vcpu_exit ex;

		if (mn_vcpu_access(w->vcpu, 0, p << MN_PAGE_SHIFT, MN_PTE_R, &val, &ex))
			return false;
	}
	return true;
}

/* The leaves of [@start, @end) in the VM's table. */
static struct mn_bench_census leaves_in(struct nworld *w, mn_gfn_t start, mn_gfn_t end)
{
	return mn_bench_census(mn_vm_get_pt(w->vm, 0), start, end);
}

/*
 * The leaves made young again the way the guest does it: a read of every page. The slot's
 * 512 pages are twice what the vCPU's TLB holds (256 entries, FIFO), so after any earlier
 * pass every access misses, and the walk sets the accessed bit (mn_tlb_access()).
 */
static bool remark_young(struct nworld *w)
{
	return touch_all(w) && leaves_in(w, 0, NPAGES).young == NPAGES;
}

/* A sample of leaves (every 37th, and the last): all present and old. */
static bool sample_old(struct nworld *w)
{
	mn_gfn_t g;

	for (g = 0; g <= NPAGES; g += 37) {
		struct mn_pt_walk wk;
		mn_gfn_t gfn = g < NPAGES ? g : NPAGES - 1;

		if (mn_pt_walk(mn_vm_get_pt(w->vm, 0), gfn, &wk) || wk.leaf.kind != MN_PTE_LEAF ||
		    wk.leaf.accessed)
			return false;
	}
	return true;
}

static uint64_t inval_seq(struct nworld *w)
{
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(w->vm, &st);
	return st.seq;
}

/* ---- aging: clear_young, test_young, clear_flush_young ------------------------------------ */

enum { AGE_CLEAR, AGE_TEST, AGE_CLEAR_FLUSH, NR_AGE };

static int bench_age(const struct mn_bench_opts *o, enum mn_vm_arch arch, int reps)
{
	static const char *const names[NR_AGE] = { "age-clear", "age-test", "age-clear-flush" };
	const char *an = narch_name(arch);
	double t[NR_AGE][NMAX_REPS], rc[NMAX_REPS];
	mn_hva_t end = NHVA_BASE + NSLOT;
	struct nworld w;
	uint64_t s0;
	int r, k, ret = 2;

	if (nworld_init(&w, arch, MN_VM_TYPE_DEFAULT) || plain_slot(&w, 0, -1)) {
		fprintf(stderr, "bench age: cannot set up the world (%s)\n", an);
		goto out;
	}
	ret = 1;
	if (!touch_all(&w) || leaves_in(&w, 0, NPAGES).leaves != NPAGES) {
		ret = nfail("age", an, NPAGES, "the guest's reads did not map every page");
		goto out;
	}
	s0 = inval_seq(&w);
	for (r = -1; r < reps; r++) {
		bool ok = true;
		double t0, ref;
		int y;

		/* clear_young over young leaves: answers 1, leaves old and still mapped. */
		if (!remark_young(&w)) {
			ret = nfail("age", an, NPAGES, "cannot mark every leaf young");
			goto out;
		}
		t0 = mn_bench_now_ns();
		y = mn_mm_notify_age(w.mm, MN_AGE_CLEAR_YOUNG, NHVA_BASE, end);
		t0 = mn_bench_now_ns() - t0;
		if (y != 1 || !sample_old(&w) || leaves_in(&w, 0, NPAGES).young) {
			ret = nfail("age-clear", an, NPAGES, "young leaves left after clear_young");
			goto out;
		}
		if (r >= 0)
			t[AGE_CLEAR][r] = t0;
		/* test_young over old leaves: every page asked, answers 0. */
		t0 = mn_bench_now_ns();
		y = mn_mm_notify_age(w.mm, MN_AGE_TEST_YOUNG, NHVA_BASE, end);
		t0 = mn_bench_now_ns() - t0;
		if (y != 0) {
			ret = nfail("age-test", an, NPAGES,
				    "test_young answered young after clearing");
			goto out;
		}
		if (r >= 0)
			t[AGE_TEST][r] = t0;
		if (!remark_young(&w) ||
		    mn_mm_notify_age(w.mm, MN_AGE_TEST_YOUNG, NHVA_BASE, end) != 1 ||
		    leaves_in(&w, 0, NPAGES).young != NPAGES) {
			ret = nfail("age-test", an, NPAGES,
				    "test_young did not answer 1 after re-marking (or cleared)");
			goto out;
		}
		/* clear_flush_young (young from the re-marking above). */
		t0 = mn_bench_now_ns();
		y = mn_mm_notify_age(w.mm, MN_AGE_CLEAR_FLUSH_YOUNG, NHVA_BASE, end);
		t0 = mn_bench_now_ns() - t0;
		if (y != 1 || !sample_old(&w) || leaves_in(&w, 0, NPAGES).young) {
			ret = nfail("age-clear-flush", an, NPAGES,
				    "young leaves left after clear_flush_young");
			goto out;
		}
		if (r >= 0)
			t[AGE_CLEAR_FLUSH][r] = t0;
		ref = read_clear_ns(NPAGES, &ok);
		if (!ok) {
			ret = nfail("age", an, NPAGES, "the roofline cleared another number");
			goto out;
		}
		if (r >= 0)
			rc[r] = ref;
	}
	if (inval_seq(&w) != s0 || leaves_in(&w, 0, NPAGES).leaves != NPAGES) {
		ret = nfail("age", an, NPAGES, "aging invalidated or unmapped something");
		goto out;
	}
	for (k = 0; k < NR_AGE; k++)
		nrow_print(o, names[k], arch, k == AGE_TEST ? "all-old" : "all-young", NPAGES, t[k],
			   rc, reps, (uint64_t)reps, "read_clear");
	ret = 0;
out:
	nworld_fini(&w);
	return ret;
}

/* ---- gpc invalidate: 0, 1 and 16 active caches ------------------------------------------- */

#define GPC_MAX	   16
#define GPC_EVENTS 32
#define GPC_RANGE  (1ULL << 20) /* [base, base + 1 MiB): gfns 0 .. 255 */

/* Cache i: inside the range for even i (gfn 16 * i / 2), outside for odd i (gfn 256 + ...). */
static mn_gpa_t gpc_gpa(unsigned int i)
{
	return (i & 1 ? 256ULL + 16 * (i / 2) : 16ULL * (i / 2)) << MN_PAGE_SHIFT;
}

static bool gpc_valid(struct mn_gpc *g)
{
	bool v;

	mn_gpc_read_lock(g);
	v = mn_gpc_check(g, 8);
	mn_gpc_read_unlock(g);
	return v;
}

static int bench_gpc(const struct mn_bench_opts *o, enum mn_vm_arch arch, int reps)
{
	static const unsigned int counts[] = { 0, 1, 16 };
	static const char *const names[] = { "gpc-inval-0", "gpc-inval-1", "gpc-inval-16" };
	const char *an = narch_name(arch);
	struct mn_gpc *gpc[GPC_MAX] = { NULL };
	double t[3][NMAX_REPS];
	struct nworld w;
	unsigned int c, i, n = 0;
	int r, e, ret = 2;

	if (nworld_init(&w, arch, MN_VM_TYPE_DEFAULT) || plain_slot(&w, 0, -1)) {
		fprintf(stderr, "bench gpc: cannot set up the world (%s)\n", an);
		goto out;
	}
	for (c = 0; c < 3; c++) {
		/* Grow to counts[c] active caches. */
		for (; n < counts[c]; n++)
			if (mn_gpc_create(w.vm, &gpc[n]) ||
			    mn_gpc_activate(gpc[n], gpc_gpa(n), 8)) {
				fprintf(stderr, "bench gpc: cannot activate cache %u (%s)\n", n,
					an);
				ret = 2;
				goto out;
			}
		ret = 1;
		for (r = -1; r < reps; r++) {
			double acc = 0;

			for (e = 0; e < GPC_EVENTS; e++) {
				double t0;
				uint64_t val;

				for (i = 0; i < n; i++)
					if (!gpc_valid(gpc[i]) && mn_gpc_read(gpc[i], 0, &val)) {
						ret = nfail(names[c], an, n,
							    "a cache cannot refresh");
						goto out;
					}
				t0 = mn_bench_now_ns();
				if (mn_mm_notify_invalidate(w.mm, MN_NOTIFY_CLEAR, NHVA_BASE,
							    NHVA_BASE + GPC_RANGE)) {
					ret = nfail(names[c], an, n, "the event failed");
					goto out;
				}
				acc += mn_bench_now_ns() - t0;
				for (i = 0; i < n; i++)
					if (gpc_valid(gpc[i]) != (bool)(i & 1)) {
						ret = nfail(names[c], an, n,
							    i & 1 ? "a cache outside the range "
								    "was invalidated"
								  : "a cache in the range stayed "
								    "valid");
						goto out;
					}
			}
			if (r >= 0)
				t[c][r] = acc / GPC_EVENTS;
		}
	}
	for (c = 0; c < 3; c++)
		nrow_print(o, names[c], arch, "1M-range", 0, t[c], t[0], reps,
			   (uint64_t)reps * GPC_EVENTS, "0-caches");
	ret = 0;
out:
	for (i = 0; i < n; i++)
		mn_gpc_destroy(gpc[i]);
	nworld_fini(&w);
	return ret;
}

/* ---- guest_memfd punch hole ---------------------------------------------------------------- */

#define PUNCH_4K_PER_REP 16

static uint64_t file_pages(struct nworld *w, int fd)
{
	struct mn_file *f = mn_mm_fget(w->mm, fd);
	uint64_t n;

	if (!f)
		return UINT64_MAX;
	n = mn_file_nr_pages(f);
	mn_file_put(f);
	return n;
}

static int bench_gmem_punch(const struct mn_bench_opts *o, enum mn_vm_arch arch, int reps)
{
	const int punch = MN_FALLOC_FL_PUNCH_HOLE | MN_FALLOC_FL_KEEP_SIZE;
	struct mn_create_guest_memfd ga = {
		.size = NSLOT,
		.flags = MN_GUEST_MEMFD_FLAG_MMAP | MN_GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	const char *an = narch_name(arch);
	double t4[NMAX_REPS], t2[NMAX_REPS], r4[NMAX_REPS], r2[NMAX_REPS];
	struct nworld w;
	int r, k, fd, ret = 2;

	if (nworld_init(&w, arch, MN_VM_TYPE_DEFAULT) ||
	    (fd = mn_vm_create_guest_memfd(w.vm, &ga)) < 0 ||
	    plain_slot(&w, MN_MEM_GUEST_MEMFD, fd)) {
		fprintf(stderr, "bench gmem-punch: cannot set up the world (%s)\n", an);
		goto out;
	}
	ret = 1;
	for (r = -1; r < reps; r++) {
		double acc = 0, t0;
		bool ok = true;

		/* The whole file allocated, every page faulted in by the guest. */
		if (mn_mm_fallocate(w.mm, fd, MN_FALLOC_FL_KEEP_SIZE, 0, NSLOT) || !touch_all(&w) ||
		    file_pages(&w, fd) != NPAGES || leaves_in(&w, 0, NPAGES).leaves != NPAGES) {
			ret = nfail("gmem-punch", an, NPAGES,
				    "cannot populate the file and the slot");
			goto out;
		}
		/* 4 KiB holes at pages 0, 32, 64, ...: one leaf each. */
		for (k = 0; k < PUNCH_4K_PER_REP; k++) {
			uint64_t pg = (uint64_t)k * 32, before = file_pages(&w, fd);

			t0 = mn_bench_now_ns();
			if (mn_mm_fallocate(w.mm, fd, punch, pg << MN_PAGE_SHIFT, MN_PAGE_SIZE)) {
				ret = nfail("gmem-punch-4K", an, 1, "the punch failed");
				goto out;
			}
			acc += mn_bench_now_ns() - t0;
			if (leaves_in(&w, pg, pg + 1).leaves || file_pages(&w, fd) != before - 1) {
				ret = nfail("gmem-punch-4K", an, 1,
					    "a leaf left or the file lost another page count");
				goto out;
			}
		}
		/* Then the whole 2 MiB: the pages left. */
		t0 = mn_bench_now_ns();
		if (mn_mm_fallocate(w.mm, fd, punch, 0, NSLOT)) {
			ret = nfail("gmem-punch-2M", an, NPAGES, "the punch failed");
			goto out;
		}
		t0 = mn_bench_now_ns() - t0;
		if (leaves_in(&w, 0, NPAGES).leaves || file_pages(&w, fd) != 0) {
			ret = nfail("gmem-punch-2M", an, NPAGES,
				    "a leaf left or the file kept pages");
			goto out;
		}
		if (r < 0)
			continue;
		t4[r] = acc / PUNCH_4K_PER_REP;
		t2[r] = t0;
		r4[r] = read_clear_ns(1, &ok);
		r2[r] = read_clear_ns(NPAGES - PUNCH_4K_PER_REP, &ok);
		if (!ok) {
			ret = nfail("gmem-punch", an, NPAGES,
				    "the roofline cleared another number");
			goto out;
		}
	}
	nrow_print(o, "gmem-punch-4K", arch, "present", 1, t4, r4, reps,
		   (uint64_t)reps * PUNCH_4K_PER_REP, "read_clear");
	nrow_print(o, "gmem-punch-2M", arch, "present", NPAGES - PUNCH_4K_PER_REP, t2, r2, reps,
		   (uint64_t)reps, "read_clear");
	ret = 0;
out:
	nworld_fini(&w);
	return ret;
}

/* ---- shared <-> private conversion ---------------------------------------------------------- */

static int convert(struct nworld *w, uint64_t attributes)
{
	struct mn_memory_attributes a = { .address = 0, .size = NSLOT, .attributes = attributes };

	return mn_vm_set_memory_attributes(w->vm, &a);
}

static int bench_convert(const struct mn_bench_opts *o, int reps)
{
	struct mn_create_guest_memfd ga = { .size = NSLOT };
	const char *an = narch_name(MN_VM_X86);
	double t[NMAX_REPS], rc[NMAX_REPS];
	struct nworld w;
	int r, k, fd, ret = 2;

	/* Shared pages from the anonymous memory at the base, private ones from the file. */
	if (nworld_init(&w, MN_VM_X86, MN_VM_TYPE_SW_PROTECTED) ||
	    (fd = mn_vm_create_guest_memfd(w.vm, &ga)) < 0 ||
	    plain_slot(&w, MN_MEM_GUEST_MEMFD, fd) ||
	    mn_mm_fallocate(w.mm, fd, MN_FALLOC_FL_KEEP_SIZE, 0, NSLOT)) {
		fprintf(stderr, "bench convert: cannot set up the world (%s)\n", an);
		goto out;
	}
	ret = 1;
	for (r = -1; r < reps; r++) {
		double acc = 0;
		bool ok = true;

		/* shared -> private, then private -> shared, each over 512 present leaves. */
		for (k = 0; k < 2; k++) {
			uint64_t s0;
			double t0;

			if (!touch_all(&w) || leaves_in(&w, 0, NPAGES).leaves != NPAGES) {
				ret = nfail("convert", an, NPAGES,
					    "the guest could not map the range");
				goto out;
			}
			s0 = inval_seq(&w);
			t0 = mn_bench_now_ns();
			if (convert(&w, k ? 0 : MN_MEMORY_ATTRIBUTE_PRIVATE)) {
				ret = nfail("convert", an, NPAGES, "the conversion failed");
				goto out;
			}
			acc += mn_bench_now_ns() - t0;
			if (leaves_in(&w, 0, NPAGES).leaves || inval_seq(&w) != s0 + 1 ||
			    mn_vm_get_memory_attributes(w.vm, NPAGES - 1) !=
				    (k ? 0 : MN_MEMORY_ATTRIBUTE_PRIVATE)) {
				ret = nfail(
					"convert", an, NPAGES,
					"leaves left, seq not bumped once, or attributes wrong");
				goto out;
			}
		}
		if (r < 0)
			continue;
		t[r] = acc / 2;
		rc[r] = read_clear_ns(NPAGES, &ok);
		if (!ok) {
			ret = nfail("convert", an, NPAGES, "the roofline cleared another number");
			goto out;
		}
	}
	nrow_print(o, "convert", MN_VM_X86, "sw-protect", NPAGES, t, rc, reps, (uint64_t)reps * 2,
		   "read_clear");
	ret = 0;
out:
	nworld_fini(&w);
	return ret;
}

/* ---- the list ------------------------------------------------------------------------------ */

int mn_bench_ops_notify(const struct mn_bench_opts *o)
{
	int reps = o->mode == MN_BENCH_QUICK ? 5 : o->mode == MN_BENCH_PR ? 11 : 31;
	unsigned int a;
	int ret;

	for (a = 0; a < 2; a++) {
		enum mn_vm_arch arch = a ? MN_VM_ARM64 : MN_VM_X86;

		ret = bench_age(o, arch, reps);
		if (!ret)
			ret = bench_gpc(o, arch, reps);
		if (!ret)
			ret = bench_gmem_punch(o, arch, reps);
		if (ret)
			return ret;
	}
	return bench_convert(o, reps);
}
