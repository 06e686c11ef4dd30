// SPDX-License-Identifier: MIT
/*
 * selftests.c - scenarios shaped like two KVM selftests, printed in their own units
 * (seconds with nanosecond digits) so that they can be read beside the kernel's output:
 * tools/testing/selftests/kvm/memslot_perf_test.c (slot setup, map, unmap, unmap chunked,
 * move active/inactive area, RW) and dirty_log_perf_test.c (populate, enable logging,
 * dirty / get / clear per iteration, disable). The guest is mn_vcpu_access() from this
 * thread, so guest and host phases alternate instead of running on two CPUs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define ST_HVA_BASE 0x100000000000ULL
#define MEM_GPA	    0x10000000ULL /* memslot_perf_test's MEM_GPA */
#define MAP_PAGES   8192ULL	  /* MEM_TEST_MAP_SIZE: 32 MiB */
#define UNMAP_PAGES 32768ULL	  /* MEM_TEST_UNMAP_SIZE: 128 MiB */
#define CHUNK_PAGES 512ULL	  /* MEM_TEST_UNMAP_CHUNK_PAGES: 2 MiB */
#define MEM_PAGES   131072ULL	  /* MEM_TEST_SIZE: 512 MiB */
#define MOVE_PAGES  50ULL	  /* MEM_TEST_MOVE_SIZE_PAGES */
#define DL_PAGES    16384ULL	  /* dirty_log_perf_test-like: 64 MiB */
#define DL_ITERS    2		  /* TEST_HOST_LOOP_N */

struct mp {
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	struct mn_vcpu *vcpu;
	unsigned int nslots;
	uint64_t npages, per_slot;
};

static void mp_free(struct mp *d)
{
	if (d->vm)
		mn_vm_destroy(d->vm);
	if (d->mm)
		mn_mm_destroy(d->mm);
	if (d->sim)
		mn_sim_destroy(d->sim);
	memset(d, 0, sizeof(*d));
}

static void print_s(FILE *f, double ns)
{
	uint64_t t = (uint64_t)ns;

	fprintf(f, "%" PRIu64 ".%.9" PRIu64 "s", t / UINT64_C(1000000000),
		t % UINT64_C(1000000000));
}

static int st_fail(const char *test, unsigned int slots, const char *what)
{
	fprintf(stderr, "bench selftests: SANITY CHECK FAILED: %s, %u slots: %s\n", test, slots,
		what);
	return 1;
}

/*
 *  gpa  MEM_GPA [ slot 0 | slot 1 | ... | slot N-1 + remainder ) [ move destination ]
 *  hva  16T     (the same offsets: one anonymous mapping under all slots)
 * As prepare_vm(): @nslots slots share @npages, the last one takes the remainder; the time
 * to create them is the "slot setup" time.
 */
static int mp_prepare(struct mp *d, unsigned int nslots, uint64_t npages, double *setup_ns)
{
	struct mn_vm_config cfg = { .arch = MN_VM_X86, .ept_levels = 4 };
	uint64_t gpa = MEM_GPA;
	mn_hva_t hva;
	unsigned int s;
	double t0;

	memset(d, 0, sizeof(*d));
	d->nslots = nslots;
	d->npages = npages;
	d->per_slot = npages / nslots;
	if (!d->per_slot)
		return -E2BIG;
	if (mn_sim_create(NULL, &d->sim) || mn_mm_create(d->sim, NULL, &d->mm) ||
	    mn_vm_create(d->mm, &cfg, &d->vm) ||
	    mn_mm_mmap(d->mm, ST_HVA_BASE, npages << MN_PAGE_SHIFT, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &hva))
		goto err;
	d->vcpu = mn_vm_get_vcpu(d->vm, 0);
	t0 = mn_bench_now_ns();
	for (s = 0; s < nslots; s++) {
		uint64_t n = d->per_slot + (s == nslots - 1 ? npages % nslots : 0);
		struct mn_userspace_memory_region2 r = {
			.slot = s,
			.guest_phys_addr = gpa,
			.memory_size = n << MN_PAGE_SHIFT,
			.userspace_addr = ST_HVA_BASE + (gpa - MEM_GPA),
		};

		if (mn_vm_set_user_memory_region2(d->vm, &r))
			goto err;
		gpa += n << MN_PAGE_SHIFT;
	}
	*setup_ns = mn_bench_now_ns() - t0;
	return 0;
err:
	mp_free(d);
	return -ENOMEM;
}

/* The guest writes one word in each page of [@first, @first + @n). Return: 0 or -1. */
static int guest_write(struct mp *d, uint64_t first, uint64_t n)
{
	uint64_t p;

	for (p = first; p < first + n; p++) {
		uint64_t val = 0x1122334455667788ULL;
		struct mn_vcpu_exit ex;

		if (mn_vcpu_access(d->vcpu, 0, MEM_GPA + (p << MN_PAGE_SHIFT), MN_PTE_W, &val, &ex))
			return -1;
	}
	return 0;
}

static int guest_read(struct mp *d, uint64_t first, uint64_t n)
{
	uint64_t p;

	for (p = first; p < first + n; p++) {
		uint64_t val;
		struct mn_vcpu_exit ex;

		if (mn_vcpu_access(d->vcpu, 0, MEM_GPA + (p << MN_PAGE_SHIFT), MN_PTE_R, &val, &ex))
			return -1;
	}
	return 0;
}

/*
 * test_memslot_do_unmap(): MADV_DONTNEED over pages [@first, @first + @n), one call per
 * slot piece (the test's areas are not contiguous in its hva space), at most @chunk pages
 * per call. Return: 0 or -1.
 */
static int host_unmap(struct mp *d, uint64_t first, uint64_t n, uint64_t chunk)
{
	uint64_t p = first;

	while (p < first + n) {
		uint64_t slot = p / d->per_slot, slot_end, len;

		if (slot >= d->nslots)
			slot = d->nslots - 1;
		slot_end = slot == d->nslots - 1 ? d->npages : (slot + 1) * d->per_slot;
		len = slot_end - p;
		if (len > first + n - p)
			len = first + n - p;
		if (len > chunk)
			len = chunk;
		if (mn_mm_madvise(d->mm, ST_HVA_BASE + (p << MN_PAGE_SHIFT), len << MN_PAGE_SHIFT,
				  MN_MADV_DONTNEED))
			return -1;
		p += len;
	}
	return 0;
}

static uint64_t leaves(struct mp *d)
{
	return mn_bench_census(mn_vm_get_pt(d->vm, 0), 0, MN_INVALID_GFN).leaves;
}

static int move_last(struct mp *d, uint64_t gpa)
{
	uint64_t first = (uint64_t)(d->nslots - 1) * d->per_slot;
	struct mn_userspace_memory_region2 r = {
		.slot = d->nslots - 1,
		.guest_phys_addr = gpa,
		.memory_size = (d->npages - first) << MN_PAGE_SHIFT,
		.userspace_addr = ST_HVA_BASE + (first << MN_PAGE_SHIFT),
	};

	return mn_vm_set_user_memory_region2(d->vm, &r);
}

enum mp_test { MP_MAP, MP_UNMAP, MP_UNMAP_CHUNKED, MP_MOVE_ACTIVE, MP_MOVE_INACTIVE, MP_RW, MP_NR };

static const char *const mp_names[MP_NR] = {
	"map", "unmap", "unmap chunked", "move active area", "move inactive area", "RW"
};
static const char *const mp_json[MP_NR] = {
	"memslot_perf-map",	    "memslot_perf-unmap",	  "memslot_perf-unmap-chunked",
	"memslot_perf-move-active", "memslot_perf-move-inactive", "memslot_perf-RW"
};

/* One loop iteration of @t (the host's loop function and what the guest does meanwhile). */
static int mp_iteration(struct mp *d, enum mp_test t, uint64_t move_first)
{
	uint64_t half = d->npages / 2, src;
	struct mn_vm_stats a, b;

	switch (t) {
	case MP_MAP:
		/* guest maps one half while the host unmaps the other, then the reverse */
		if (guest_write(d, 0, half) || host_unmap(d, half, half, UINT64_MAX) ||
		    guest_write(d, half, half) || host_unmap(d, 0, half, UINT64_MAX))
			return -1;
		return 0;
	case MP_UNMAP:
	case MP_UNMAP_CHUNKED: {
		uint64_t chunk = t == MP_UNMAP ? UINT64_MAX : CHUNK_PAGES;

		/* the guest touches one page per sync; the host unmaps a half */
		if (guest_write(d, 0, 1) || host_unmap(d, 0, half, chunk) ||
		    guest_write(d, half, 1) || host_unmap(d, half, half, chunk))
			return -1;
		return 0;
	}
	case MP_MOVE_ACTIVE:
	case MP_MOVE_INACTIVE:
		src = MEM_GPA + ((uint64_t)(d->nslots - 1) * d->per_slot << MN_PAGE_SHIFT);
		mn_vm_get_stats(d->vm, &a);
		if (move_last(d, MEM_GPA + (d->npages << MN_PAGE_SHIFT)) || move_last(d, src))
			return -1;
		mn_vm_get_stats(d->vm, &b);
		if (b.memslot_updates - a.memslot_updates != 4)
			return -1;
		(void)move_first;
		return 0;
	case MP_RW:
		if (guest_write(d, 0, d->npages) || guest_read(d, 0, d->npages))
			return -1;
		return 0;
	default:
		return -1;
	}
}

static uint64_t mp_pages(enum mp_test t)
{
	return t == MP_MAP ? MAP_PAGES : t <= MP_UNMAP_CHUNKED ? UNMAP_PAGES : MEM_PAGES;
}

static void mp_json_row(const struct mn_bench_opts *o, enum mp_test t, unsigned int slots,
			uint64_t iters, double per_iter, double setup)
{
	struct mn_bench_row row;

	mn_bench_row_init(&row, mp_json[t], "x86-ept");
	row.levels = 4;
	row.slots = slots;
	row.layout = "memslot_perf_test";
	row.range_bytes = mp_pages(t) << MN_PAGE_SHIFT;
	row.events = iters;
	row.reps = 1;
	row.ns_per_event = (struct mn_bench_stats){ per_iter, per_iter, per_iter, per_iter, 1 };
	/* No in-run reference: the kernel's own figure is the one to put beside it. */
	row.ref_name = "slot_setup";
	row.ref_ns = (struct mn_bench_stats){ setup, setup, setup, setup, 1 };
	mn_bench_print_json(o->out, &row);
}

/* Run @t with @slots slots for about @budget_ns (at least 2 iterations). */
static int mp_run(const struct mn_bench_opts *o, enum mp_test t, unsigned int slots,
		  double budget_ns)
{
	uint64_t iters = 0, move_first = 0;
	double setup, t0, total;
	struct mp d;
	int ret = mp_prepare(&d, slots, mp_pages(t), &setup);

	if (ret == -E2BIG || ((t == MP_MOVE_ACTIVE) && !ret &&
			      d.npages - (uint64_t)(slots - 1) * d.per_slot < MOVE_PAGES / 2)) {
		if (!o->json)
			fprintf(o->out,
				"memslot_perf_test-like: %s %u slots: memslot count too "
				"high for this test\n",
				mp_names[t], slots);
		mp_free(&d);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "bench selftests: cannot set up %u slots\n", slots);
		return 2;
	}
	if (t == MP_MOVE_ACTIVE || t == MP_MOVE_INACTIVE) {
		/* the guest's area: half in the moved slot (active) or just below it */
		uint64_t src = (uint64_t)(slots - 1) * d.per_slot;

		move_first = src - (t == MP_MOVE_ACTIVE ? MOVE_PAGES / 2 : MOVE_PAGES);
		if (guest_write(&d, move_first, MOVE_PAGES)) {
			ret = st_fail(mp_names[t], slots, "the guest cannot write its area");
			goto out;
		}
	}
	t0 = mn_bench_now_ns();
	do {
		if (mp_iteration(&d, t, move_first)) {
			ret = st_fail(mp_names[t], slots, "an iteration failed");
			goto out;
		}
		iters++;
		total = mn_bench_now_ns() - t0;
	} while (iters < 2 || total < budget_ns);
	/* What the loop leaves: the last half mapped (map), nothing (unmap), the slot back. */
	{
		uint64_t want = t == MP_MAP		? d.npages - d.npages / 2
				: t <= MP_UNMAP_CHUNKED ? 0
				: t == MP_RW		? d.npages
							: leaves(&d);
		uint64_t have = leaves(&d);

		if (have != want) {
			ret = st_fail(mp_names[t], slots, "pages mapped at the end != expected");
			goto out;
		}
		if ((t == MP_MOVE_ACTIVE || t == MP_MOVE_INACTIVE) &&
		    guest_write(&d, move_first, MOVE_PAGES)) {
			ret = st_fail(mp_names[t], slots, "the moved slot is not back");
			goto out;
		}
	}
	if (o->json) {
		mp_json_row(o, t, slots, iters, total / iters, setup);
	} else {
		fprintf(o->out, "memslot_perf_test-like: %s %u slots: ", mp_names[t], slots);
		print_s(o->out, total);
		fprintf(o->out, " (");
		print_s(o->out, total / iters);
		fprintf(o->out, " per iteration, %" PRIu64 " iterations; slot setup ", iters);
		print_s(o->out, setup);
		fprintf(o->out, ")\n");
	}
	ret = 0;
out:
	mp_free(&d);
	return ret;
}

/* ---- dirty_log_perf_test ------------------------------------------------------------------ */

static int set_log(struct mp *d, bool on)
{
	struct mn_userspace_memory_region2 r = {
		.slot = 1,
		.flags = on ? MN_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = MEM_GPA,
		.memory_size = d->npages << MN_PAGE_SHIFT,
		.userspace_addr = ST_HVA_BASE,
	};

	return mn_vm_set_user_memory_region2(d->vm, &r);
}

/* @manual: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 with INITIALLY_SET (the test's default) */
static int dirty_log_test(const struct mn_bench_opts *o, enum mn_vm_arch arch, bool manual)
{
	struct mn_vm_config cfg = { .arch = arch,
				    .ept_levels = 4,
				    .dirty_log_manual = manual ? MN_DIRTY_LOG_MANUAL_PROTECT |
									 MN_DIRTY_LOG_INITIALLY_SET
							       : 0 };
	const char *an = arch == MN_VM_X86 ? "x86-ept" : "arm64-stage2";
	uint64_t words = DL_PAGES / 64, *bitmap = calloc(words, sizeof(uint64_t));
	double t0, ph[3], get_total = 0, clear_total = 0, dirty[DL_ITERS], get[DL_ITERS],
			  clr[DL_ITERS];
	struct mn_sim *sim = NULL;
	struct mn_mm *mm = NULL;
	struct mn_vm *vm = NULL;
	struct mp d;
	mn_hva_t hva;
	int i, ret = 2;

	memset(&d, 0, sizeof(d));
	if (!bitmap || mn_sim_create(NULL, &sim) || mn_mm_create(sim, NULL, &mm) ||
	    mn_vm_create(mm, &cfg, &vm) ||
	    mn_mm_mmap(mm, ST_HVA_BASE, DL_PAGES << MN_PAGE_SHIFT, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &hva)) {
		fprintf(stderr, "bench selftests: cannot set up dirty_log_perf_test\n");
		goto out;
	}
	d.sim = sim;
	d.mm = mm;
	d.vm = vm;
	d.vcpu = mn_vm_get_vcpu(vm, 0);
	d.nslots = 1;
	d.npages = d.per_slot = DL_PAGES;
	ret = 1;
	if (set_log(&d, false)) {
		ret = st_fail("dirty_log", 1, "cannot create the slot");
		goto out;
	}
	t0 = mn_bench_now_ns();
	if (guest_write(&d, 0, DL_PAGES)) {
		ret = st_fail("dirty_log", 1, "populate failed");
		goto out;
	}
	ph[0] = mn_bench_now_ns() - t0;
	t0 = mn_bench_now_ns();
	if (set_log(&d, true)) {
		ret = st_fail("dirty_log", 1, "cannot enable dirty logging");
		goto out;
	}
	ph[1] = mn_bench_now_ns() - t0;
	for (i = 0; i < DL_ITERS; i++) {
		t0 = mn_bench_now_ns();
		if (guest_write(&d, 0, DL_PAGES)) {
			ret = st_fail("dirty_log", 1, "dirtying failed");
			goto out;
		}
		dirty[i] = mn_bench_now_ns() - t0;
		memset(bitmap, 0, words * sizeof(*bitmap));
		t0 = mn_bench_now_ns();
		if (mn_vm_get_dirty_log(vm, 1, bitmap)) {
			ret = st_fail("dirty_log", 1, "get dirty log failed");
			goto out;
		}
		get[i] = mn_bench_now_ns() - t0;
		get_total += get[i];
		if (mn_bench_bitmap_weight(bitmap, words) != DL_PAGES) {
			ret = st_fail("dirty_log", 1, "pages harvested != pages dirtied");
			goto out;
		}
		clr[i] = 0;
		if (manual) {
			t0 = mn_bench_now_ns();
			if (mn_vm_clear_dirty_log(vm, 1, 0, (uint32_t)DL_PAGES, bitmap)) {
				ret = st_fail("dirty_log", 1, "clear dirty log failed");
				goto out;
			}
			clr[i] = mn_bench_now_ns() - t0;
			clear_total += clr[i];
		}
		/* Nothing dirtied since: the next harvest is empty, and the pages protected. */
		memset(bitmap, 0, words * sizeof(*bitmap));
		if (mn_vm_get_dirty_log(vm, 1, bitmap) || mn_bench_bitmap_weight(bitmap, words)) {
			ret = st_fail("dirty_log", 1, "a harvest reported pages no one dirtied");
			goto out;
		}
	}
	t0 = mn_bench_now_ns();
	if (set_log(&d, false)) {
		ret = st_fail("dirty_log", 1, "cannot disable dirty logging");
		goto out;
	}
	ph[2] = mn_bench_now_ns() - t0;
	if (o->json) {
		static const char *const names[2][4] = {
			{ "dirty_log_perf-populate", "dirty_log_perf-dirty", "dirty_log_perf-get",
			  "dirty_log_perf-clear" },
			{ "dirty_log_perf-populate", "dirty_log_perf-dirty",
			  "dirty_log_perf-get-noprotect", "-" },
		};
		double v[4] = { ph[0], dirty[0], get_total / DL_ITERS, clear_total / DL_ITERS };
		int k;

		for (k = 0; k < (manual ? 4 : 3); k++) {
			struct mn_bench_row row;

			if (!manual && k < 2)
				continue; /* the populate and dirty rows come from the manual run */
			mn_bench_row_init(&row, names[!manual][k], an);
			row.levels = 4;
			row.slots = 1;
			row.layout = "dirty_log_perf_test";
			row.stream = manual ? "manual-protect" : "get-protects";
			row.range_bytes = DL_PAGES << MN_PAGE_SHIFT;
			row.hit = "-";
			row.density = 100;
			row.leaf_level = "4K";
			row.events = k < 2 ? 1 : DL_ITERS;
			row.reps = 1;
			row.ns_per_event = (struct mn_bench_stats){ v[k], v[k], v[k], v[k], 1 };
			row.ns_per_entry = v[k] / (double)DL_PAGES;
			row.entries_per_s = 1e9 / row.ns_per_entry;
			mn_bench_print_json(o->out, &row);
		}
	} else {
		FILE *f = o->out;

		fprintf(f, "dirty_log_perf_test-like (%s, 64 MiB, 1 vCPU, %s):\n", an,
			manual ? "MANUAL_PROTECT|INITIALLY_SET" : "-g");
		fprintf(f, "Populate memory time: ");
		print_s(f, ph[0]);
		fprintf(f, "\nEnabling dirty logging time: ");
		print_s(f, ph[1]);
		fprintf(f, "\n");
		for (i = 0; i < DL_ITERS; i++) {
			fprintf(f, "Iteration %d dirty memory time: ", i + 1);
			print_s(f, dirty[i]);
			fprintf(f, "\nIteration %d get dirty log time: ", i + 1);
			print_s(f, get[i]);
			fprintf(f, "\n");
			if (manual) {
				fprintf(f, "Iteration %d clear dirty log time: ", i + 1);
				print_s(f, clr[i]);
				fprintf(f, "\n");
			}
		}
		fprintf(f, "Disabling dirty logging time: ");
		print_s(f, ph[2]);
		fprintf(f, "\nGet dirty log over %d iterations took ", DL_ITERS);
		print_s(f, get_total);
		fprintf(f, ". (Avg ");
		print_s(f, get_total / DL_ITERS);
		fprintf(f, "/iteration)\n");
		if (manual) {
			fprintf(f, "Clear dirty log over %d iterations took ", DL_ITERS);
			print_s(f, clear_total);
			fprintf(f, ". (Avg ");
			print_s(f, clear_total / DL_ITERS);
			fprintf(f, "/iteration)\n");
		}
	}
	fflush(o->out);
	ret = 0;
out:
	if (d.vm || vm)
		mn_vm_destroy(vm);
	if (mm)
		mn_mm_destroy(mm);
	if (sim)
		mn_sim_destroy(sim);
	free(bitmap);
	return ret;
}

int mn_bench_selftests(const struct mn_bench_opts *o)
{
	static const unsigned int slots[] = { 1, 509, 32764 };
	bool full = o->mode == MN_BENCH_FULL;
	double budget = full ? 1e9 : 1e8;
	unsigned int t, s;
	int ret;

	if (o->mode == MN_BENCH_QUICK)
		return 0;
	if (!o->json)
		fprintf(o->out, "\nkernel-selftest-shaped scenarios (seconds, as the tests print "
				"them)\n");
	for (t = 0; t < MP_NR; t++) {
		/* RW touches 512 MiB twice per iteration: only in --full. */
		if (t == MP_RW && !full)
			continue;
		for (s = 0; s < 3; s++) {
			ret = mp_run(o, (enum mp_test)t, slots[s], budget);
			if (ret)
				return ret;
		}
	}
	ret = dirty_log_test(o, MN_VM_X86, true);
	if (!ret)
		ret = dirty_log_test(o, MN_VM_X86, false);
	if (!ret)
		ret = dirty_log_test(o, MN_VM_ARM64, true);
	return ret;
}
