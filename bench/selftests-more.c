// SPDX-License-Identifier: MIT
/*
 * selftests-more.c - two more scenarios shaped like KVM selftests, printed in their own line
 * formats so that they can be read beside the kernel's output:
 * tools/testing/selftests/kvm/access_tracking_perf_test.c (populate, write and read, mark
 * idle through page_idle, write and read idle memory) and kvm_page_table_test.c (create
 * mappings, update them under dirty logging, adjust them after logging stops, with 4 KiB
 * and THP backing). As in bench/selftests.c the guest is mn_vcpu_access() from this thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define SM_HVA_BASE   0x200000000000ULL /* 2 MiB aligned, so THP can back the whole slot */
#define SM_SLOT	      1			/* TEST_MEM_SLOT_INDEX, memstress's slot too */
#define LPAGE_PAGES   512ULL		/* 2 MiB of 4 KiB pages */
#define X86_PA_BITS   46		/* "PA-bits:ANY": a common Intel server MAXPHYADDR */
#define ARM64_PA_BITS 40		/* mnsim's default IPA size */

struct sm {
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	struct mn_vcpu *vcpu;
	enum mn_vm_arch arch;
	uint64_t npages; /* 4 KiB pages of the slot */
	mn_gpa_t gpa;
	unsigned int pa_bits;
};

static const char *arch_name(enum mn_vm_arch a)
{
	return a == MN_VM_X86 ? "x86-ept" : "arm64-stage2";
}

static void sm_free(struct sm *w)
{
	mn_bench_world_free(w->vm, w->mm, w->sim);
	memset(w, 0, sizeof(*w));
}

static void print_s(FILE *f, double ns)
{
	uint64_t t = (uint64_t)ns;

	fprintf(f, "%" PRIu64 ".%.9" PRIu64 "s", t / UINT64_C(1000000000),
		t % UINT64_C(1000000000));
}

static int sm_fail(const char *test, const struct sm *w, const char *what)
{
	fprintf(stderr, "bench selftests: SANITY CHECK FAILED: %s, %s: %s\n", test,
		arch_name(w->arch), what);
	return 1;
}

/*
 *  gpa  [ ... (1 << pa_bits) - @npages pages, aligned down to 2 MiB: slot 1 ) top
 *  hva  SM_HVA_BASE (one private anonymous mapping under the whole slot)
 * As vm_userspace_mem_region_add() with VM_MEM_SRC_ANONYMOUS (MADV_NOHUGEPAGE) or
 * VM_MEM_SRC_ANONYMOUS_THP (MADV_HUGEPAGE) on a host whose THP setting is "madvise", the
 * slot placed at the top of guest physical memory as both tests place theirs.
 * Return: 0, or -ENOMEM when the world cannot be built.
 */
static int sm_create(struct sm *w, enum mn_vm_arch arch, uint64_t npages, bool thp)
{
	struct mn_vm_config cfg = { .arch = arch, .ept_levels = 4, .ipa_bits = ARM64_PA_BITS };
	struct mn_mm_config mcfg = { .thp = MN_THP_MADVISE };
	struct mn_userspace_memory_region2 r;
	mn_hva_t hva;

	memset(w, 0, sizeof(*w));
	w->arch = arch;
	w->npages = npages;
	w->pa_bits = arch == MN_VM_X86 ? X86_PA_BITS : ARM64_PA_BITS;
	/* (max_gfn - guest_num_pages) * page size, aligned down to the backing's size */
	w->gpa = (((1ULL << (w->pa_bits - MN_PAGE_SHIFT)) - 1 - npages) << MN_PAGE_SHIFT) &
		 ~((LPAGE_PAGES << MN_PAGE_SHIFT) - 1);
	r = (struct mn_userspace_memory_region2){
		.slot = SM_SLOT,
		.guest_phys_addr = w->gpa,
		.memory_size = npages << MN_PAGE_SHIFT,
		.userspace_addr = SM_HVA_BASE,
	};
	if (mn_sim_create(NULL, &w->sim) || mn_mm_create(w->sim, &mcfg, &w->mm) ||
	    mn_vm_create(w->mm, &cfg, &w->vm) ||
	    mn_mm_mmap(w->mm, SM_HVA_BASE, npages << MN_PAGE_SHIFT, MN_PROT_READ | MN_PROT_WRITE,
		       MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &hva) ||
	    mn_mm_madvise(w->mm, SM_HVA_BASE, npages << MN_PAGE_SHIFT,
			  thp ? MN_MADV_HUGEPAGE : MN_MADV_NOHUGEPAGE) ||
	    mn_vm_set_user_memory_region2(w->vm, &r)) {
		sm_free(w);
		return -ENOMEM;
	}
	w->vcpu = mn_vm_get_vcpu(w->vm, 0);
	return 0;
}

/*
 * The guest touches the first word of @n pages, @stride pages apart, from slot page @first.
 * Return: 0 when every access completed, -1 at the first that exited.
 */
static int guest_touch(struct sm *w, uint64_t first, uint64_t n, uint64_t stride, bool write)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		uint64_t val = 0x0123456789abcdefULL;
		struct mn_vcpu_exit ex;
		mn_gpa_t gpa = w->gpa + ((first + i * stride) << MN_PAGE_SHIFT);

		if (mn_vcpu_access(w->vcpu, 0, gpa, write ? MN_PTE_W : MN_PTE_R, &val, &ex))
			return -1;
	}
	return 0;
}

static struct mn_bench_census slot_census(struct sm *w)
{
	return mn_bench_census(mn_vm_get_pt(w->vm, 0), w->gpa >> MN_PAGE_SHIFT,
			       (w->gpa >> MN_PAGE_SHIFT) + w->npages);
}

static struct mn_bench_census host_census(struct sm *w)
{
	return mn_bench_census(mn_mm_get_pt(w->mm), SM_HVA_BASE >> MN_PAGE_SHIFT,
			       (SM_HVA_BASE >> MN_PAGE_SHIFT) + w->npages);
}

static void json_row(const struct mn_bench_opts *o, const char *bench, const struct sm *w,
		     const char *layout, const char *leaf_level, uint64_t pages, double ns)
{
	struct mn_bench_row row;

	memset(&row, 0, sizeof(row));
	row.bench = bench;
	row.arch = arch_name(w->arch);
	row.levels = 4;
	row.slots = 1;
	row.layout = layout;
	row.stream = "sequential";
	row.range_bytes = w->npages << MN_PAGE_SHIFT;
	row.hit = "present";
	row.density = 100;
	row.leaf_level = leaf_level;
	row.events = 1;
	row.reps = 1;
	row.ns_per_event = (struct mn_bench_stats){ ns, ns, ns, ns, 1 };
	row.ns_per_entry = pages ? ns / (double)pages : -1;
	row.entries_per_s = pages ? 1e9 / row.ns_per_entry : -1;
	/* No in-run reference: the kernel's own figure is the one to put beside it. */
	row.ref_name = "none";
	row.ref_ns = (struct mn_bench_stats){ -1, -1, -1, -1, 0 };
	row.ratio = -1;
	row.read_clear_ns = -1;
	row.itree_ns = -1;
	row.linear_ns = -1;
	row.walk_clear_ns = -1;
	row.walk_clear_ratio = -1;
	row.flushes_per_event = -1;
	row.tlbi_per_event = -1;
	mn_bench_print_json(o->out, &row);
}

/* ---- access_tracking_perf_test ------------------------------------------------------------ */

/* What one pass of pageidle_mark_vcpu_memory_idle() found. */
struct idle_pass {
	uint64_t young;	     /* pages an rmap walk found referenced */
	uint64_t still_idle; /* pages still idle from the previous pass */
	uint64_t no_pfn;     /* pages with no present host entry (pagemap) */
};

/*
 * pageidle_mark_vcpu_memory_idle(): for each page, the pagemap lookup, then a read of the
 * page_idle bitmap and, unless the page is still idle, a write of its bit. In the kernel,
 * page_idle_bitmap_read() runs page_idle_clear_pte_refs() on a folio already marked idle
 * (a referenced one loses the mark), and page_idle_bitmap_write() runs it before setting
 * the mark; page_idle_clear_pte_refs_one() clears the young bit of each host entry mapping
 * the folio with ptep_clear_young_notify(), which sends mmu_notifier_clear_young() over
 * that entry. mn_mm_age() with %MN_AGE_CLEAR_YOUNG over the page is that walk: the host's
 * accessed bit, then clear_young to every subscriber, here KVM's kvm_mmu_notifier_clear_young()
 * (kvm_age_gfn() without a flush). @idle holds the folios' PG_idle, one per 4 KiB page.
 * Return: 0, or -1 when the host refused the walk.
 */
static int mark_idle(struct sm *w, uint8_t *idle, struct idle_pass *p)
{
	struct mn_pt *hpt = mn_mm_get_pt(w->mm);
	uint64_t page;

	memset(p, 0, sizeof(*p));
	for (page = 0; page < w->npages; page++) {
		mn_hva_t hva = SM_HVA_BASE + (page << MN_PAGE_SHIFT);
		struct mn_pt_walk wk;
		bool young = false;
		int y;

		if (mn_pt_walk(hpt, hva >> MN_PAGE_SHIFT, &wk) || wk.leaf.kind != MN_PTE_LEAF) {
			p->no_pfn++;
			continue;
		}
		if (idle[page]) {
			y = mn_mm_age(w->mm, hva, MN_PAGE_SIZE, MN_AGE_CLEAR_YOUNG);
			if (y < 0)
				return -1;
			if (!y) {
				p->still_idle++;
				continue;
			}
			idle[page] = 0;
			young = true;
		}
		y = mn_mm_age(w->mm, hva, MN_PAGE_SIZE, MN_AGE_CLEAR_YOUNG);
		if (y < 0)
			return -1;
		p->young += young || y > 0;
		idle[page] = 1;
	}
	return 0;
}

enum at_phase {
	AT_POPULATE,
	AT_WRITE,
	AT_READ,
	AT_IDLE1,
	AT_WRITE_IDLE,
	AT_IDLE2,
	AT_READ_IDLE,
	AT_NR
};

static const char *const at_desc[AT_NR] = {
	"Populating memory",
	"Writing to populated memory",
	"Reading from populated memory",
	"Mark memory idle (page_idle)",
	"Writing to idle memory",
	"Mark memory idle (page_idle)",
	"Reading from idle memory",
};

static const char *const at_json[AT_NR] = {
	"access_tracking_perf-populate",       "access_tracking_perf-write-populated",
	"access_tracking_perf-read-populated", "access_tracking_perf-mark-idle-1",
	"access_tracking_perf-write-idle",     "access_tracking_perf-mark-idle-2",
	"access_tracking_perf-read-idle",
};

/* After marking: every page still mapped on both sides, no accessed bit left on either. */
static const char *check_idle(struct sm *w)
{
	struct mn_bench_census s = slot_census(w), h = host_census(w);

	if (s.pages != w->npages || h.pages != w->npages)
		return "idle marking unmapped pages";
	if (s.young)
		return "secondary leaves still young after clear_young";
	if (h.young)
		return "host entries still young after idle marking";
	return NULL;
}

static int access_tracking_test(const struct mn_bench_opts *o, enum mn_vm_arch arch,
				uint64_t npages)
{
	static const char *const test = "access_tracking";
	uint8_t *idle = calloc(npages, 1);
	struct idle_pass pass[2];
	double t[AT_NR], t0;
	const char *bad;
	struct sm w;
	int k, ret;

	if (!idle || sm_create(&w, arch, npages, false)) {
		fprintf(stderr, "bench selftests: cannot set up access_tracking_perf_test\n");
		free(idle);
		return 2;
	}
	ret = 1;
	for (k = 0; k < AT_NR; k++) {
		bool write = k == AT_POPULATE || k == AT_WRITE || k == AT_WRITE_IDLE;

		t0 = mn_bench_now_ns();
		if (k == AT_IDLE1 || k == AT_IDLE2) {
			struct idle_pass *p = &pass[k == AT_IDLE2];

			if (mark_idle(&w, idle, p)) {
				ret = sm_fail(test, &w, "the host refused an aging walk");
				goto out;
			}
			t[k] = mn_bench_now_ns() - t0;
			/* The test's asserts: < 1 % without a pfn, < 10 % still idle. */
			if (p->no_pfn >= npages / 100) {
				ret = sm_fail(test, &w, "pages without a pfn");
				goto out;
			}
			if (p->still_idle >= npages / 10) {
				ret = sm_fail(test, &w, "too many pages still idle");
				goto out;
			}
			/* The first pass follows accesses that all went through KVM's faults. */
			if (k == AT_IDLE1 && p->young != npages) {
				ret = sm_fail(test, &w, "a populated page was not found young");
				goto out;
			}
			bad = check_idle(&w);
			if (bad) {
				ret = sm_fail(test, &w, bad);
				goto out;
			}
			continue;
		}
		if (guest_touch(&w, 0, npages, 1, write)) {
			ret = sm_fail(test, &w, "a guest access exited");
			goto out;
		}
		t[k] = mn_bench_now_ns() - t0;
		/*
		 * The walks of the pass set the accessed bits (mn_tlb_access()): a sequential
		 * pass over far more pages than the vCPU's TLB holds (256 entries, FIFO) walks
		 * for every one of them, so every leaf is young again.
		 */
		{
			struct mn_bench_census s = slot_census(&w);

			/* Every page mapped at 4 KiB (MADV_NOHUGEPAGE), and young again. */
			if (s.pages != npages || s.by_level[MN_PG_LEVEL_4K] != npages) {
				ret = sm_fail(test, &w,
					      "a page is not mapped at 4 KiB after a pass");
				goto out;
			}
			if (s.young != npages) {
				ret = sm_fail(test, &w, "a page is not young after a guest pass");
				goto out;
			}
			if (write && s.writable != npages) {
				ret = sm_fail(test, &w, "a written page is not writable");
				goto out;
			}
		}
	}
	if (o->json) {
		for (k = 0; k < AT_NR; k++)
			json_row(o, at_json[k], &w, "anonymous/page_idle", "4K", npages, t[k]);
	} else {
		FILE *f = o->out;

		fprintf(f,
			"access_tracking_perf_test-like (%s, %" PRIu64 " MiB, 1 vCPU, "
			"anonymous, page_idle):\n",
			arch_name(arch), npages >> 8);
		for (k = 0; k < AT_NR; k++) {
			fprintf(f, "%-30s: ", at_desc[k]);
			print_s(f, t[k]);
			fprintf(f, "\n");
			if (k == AT_IDLE1 || k == AT_IDLE2) {
				const struct idle_pass *p = &pass[k == AT_IDLE2];

				fprintf(f,
					"  (%" PRIu64 " of %" PRIu64 " pages found young, %" PRIu64
					" still idle, %" PRIu64 " without a pfn)\n",
					p->young, npages, p->still_idle, p->no_pfn);
			}
		}
	}
	fflush(o->out);
	ret = 0;
out:
	sm_free(&w);
	free(idle);
	return ret;
}

/* ---- kvm_page_table_test ------------------------------------------------------------------ */

enum pt_stage { PT_CREATE, PT_UPDATE, PT_ADJUST, PT_NR };

static const char *const pt_names[PT_NR] = { "KVM_CREATE_MAPPINGS", "KVM_UPDATE_MAPPINGS",
					     "KVM_ADJUST_MAPPINGS" };
static const char *const pt_json[PT_NR] = { "kvm_page_table-create", "kvm_page_table-update",
					    "kvm_page_table-adjust" };

static int set_log(struct sm *w, bool on)
{
	struct mn_userspace_memory_region2 r = {
		.slot = SM_SLOT,
		.flags = on ? MN_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = w->gpa,
		.memory_size = w->npages << MN_PAGE_SHIFT,
		.userspace_addr = SM_HVA_BASE,
	};

	return mn_vm_set_user_memory_region2(w->vm, &r);
}

/*
 * guest_code() of one stage, vCPU 0 (an even id: it writes where the test lets it choose).
 * Return: 0, or -1 when an access exited.
 */
static int pt_guest(struct sm *w, enum pt_stage s, bool thp)
{
	uint64_t lsz = thp ? LPAGE_PAGES : 1, nl = w->npages / lsz, i;

	switch (s) {
	case PT_CREATE:
		/* the first word of each backing page */
		return guest_touch(w, 0, nl, lsz, true);
	case PT_UPDATE:
		if (!thp)
			return guest_touch(w, 0, w->npages, 1, true);
		/* the first page of each large page written, then its second half read */
		for (i = 0; i < nl; i++)
			if (guest_touch(w, i * lsz, 1, 1, true) ||
			    guest_touch(w, i * lsz + lsz / 2, lsz / 2, 1, false))
				return -1;
		return 0;
	case PT_ADJUST:
		return guest_touch(w, 0, w->npages, 1, false);
	default:
		return -1;
	}
}

/*
 * The state each stage must leave, as the kernel leaves it. Return: NULL, or what is wrong.
 *  - create: every page mapped, at the backing's size (x86 and arm64 both map THP-backed
 *    memory with 2 MiB leaves).
 *  - logging on (before the update stage): nothing writable; x86 splits huge leaves
 *    eagerly (kvm_mmu_slot_apply_flags() with eager_page_split), arm64 write-protects
 *    blocks whole (kvm_mmu_wp_memory_region(), no eager split by default).
 *  - update: 4 KiB leaves only (a logged slot maps nothing larger); every written page
 *    writable: every page (anonymous) or the first of each large page (THP).
 *  - adjust (logging off, every page read): every page mapped, at the backing's size again
 *    (x86 recovers or zaps the split leaves, arm64 faults a block over each table).
 */
static const char *pt_check(struct sm *w, int when, bool thp)
{
	struct mn_bench_census c = slot_census(w);
	uint64_t nl = thp ? w->npages / LPAGE_PAGES : w->npages;
	unsigned int big = thp ? MN_PG_LEVEL_2M : MN_PG_LEVEL_4K;

	switch (when) {
	case PT_CREATE:
	case PT_ADJUST:
		if (c.pages != w->npages)
			return "not every page is mapped";
		if (c.by_level[big] != nl)
			return "a page is not mapped at the backing's size";
		return NULL;
	case -1: /* logging just enabled */
		if (c.writable)
			return "a leaf is writable after enabling dirty logging";
		if (w->arch == MN_VM_X86 && (c.by_level[MN_PG_LEVEL_2M] || c.by_level[MN_PG_LEVEL_1G]))
			return "a huge leaf survived enabling dirty logging (x86 eager split)";
		if (c.pages != w->npages)
			return "enabling dirty logging unmapped pages";
		return NULL;
	case PT_UPDATE:
		if (c.by_level[MN_PG_LEVEL_2M] || c.by_level[MN_PG_LEVEL_1G])
			return "a huge leaf in a logged slot";
		if (c.writable != nl)
			return "written pages != writable leaves";
		return NULL;
	default:
		return "bad stage";
	}
}

/* The failure line, then what the secondary table holds, for whoever has to look into it. */
static int pt_fail(struct sm *w, const char *stage, const char *what)
{
	struct mn_bench_census c = slot_census(w), h = host_census(w);

	fprintf(stderr, "bench selftests: SANITY CHECK FAILED: kvm_page_table, %s, %s: %s\n",
		arch_name(w->arch), stage, what);
	fprintf(stderr,
		"  slot of %" PRIu64 " pages: %" PRIu64 " mapped, leaves 4K %" PRIu64 " 2M %" PRIu64
		" 1G %" PRIu64 ", %" PRIu64 " writable; host: %" PRIu64 " mapped, 4K %" PRIu64
		" 2M %" PRIu64 "\n",
		w->npages, c.pages, c.by_level[MN_PG_LEVEL_4K], c.by_level[MN_PG_LEVEL_2M],
		c.by_level[MN_PG_LEVEL_1G], c.writable, h.pages, h.by_level[MN_PG_LEVEL_4K],
		h.by_level[MN_PG_LEVEL_2M]);
	return 1;
}

static int page_table_test(const struct mn_bench_opts *o, enum mn_vm_arch arch, uint64_t npages,
			   bool thp)
{
	static const char *const test = "kvm_page_table";
	const char *src = thp ? "anonymous_thp" : "anonymous", *bad;
	uint64_t gran = thp ? LPAGE_PAGES << MN_PAGE_SHIFT : MN_PAGE_SIZE;
	double t[PT_NR], t0;
	struct sm w;
	int s, ret;

	if (sm_create(&w, arch, npages, thp)) {
		fprintf(stderr, "bench selftests: cannot set up kvm_page_table_test\n");
		return 2;
	}
	if (!o->json) {
		FILE *f = o->out;

		fprintf(f, "kvm_page_table_test-like (%s, 1 vCPU):\n", arch_name(arch));
		if (arch == MN_VM_X86)
			fprintf(f, "Testing guest mode: PA-bits:ANY, VA-bits:48,  4K pages\n");
		else
			fprintf(f, "Testing guest mode: PA-bits:%u,  VA-bits:48,  4K pages\n",
				w.pa_bits);
		fprintf(f, "Testing memory backing src type: %s\n", src);
		fprintf(f, "Testing memory backing src granularity: 0x%" PRIx64 "\n", gran);
		fprintf(f, "Testing memory size(aligned): 0x%" PRIx64 "\n",
			npages << MN_PAGE_SHIFT);
		fprintf(f, "Guest physical test memory offset: 0x%" PRIx64 "\n", w.gpa);
		fprintf(f, "Host  virtual  test memory offset: 0x%" PRIx64 "\n",
			(uint64_t)SM_HVA_BASE);
		fprintf(f, "Number of testing vCPUs: 1\n");
		/* KVM_BEFORE_MAPPINGS: the vCPU runs and syncs without touching the slot. */
		fprintf(f, "Started all vCPUs successfully\n");
	}
	ret = 1;
	for (s = 0; s < PT_NR; s++) {
		/* Flag changes happen before the clock starts, as in run_test(). */
		if (s == PT_UPDATE || s == PT_ADJUST) {
			if (set_log(&w, s == PT_UPDATE)) {
				ret = sm_fail(test, &w, "cannot change KVM_MEM_LOG_DIRTY_PAGES");
				goto out;
			}
			bad = s == PT_UPDATE ? pt_check(&w, -1, thp) : NULL;
			if (bad) {
				ret = pt_fail(&w, "KVM_MEM_LOG_DIRTY_PAGES on", bad);
				goto out;
			}
		}
		t0 = mn_bench_now_ns();
		if (pt_guest(&w, (enum pt_stage)s, thp)) {
			ret = sm_fail(test, &w, "a guest access exited");
			goto out;
		}
		t[s] = mn_bench_now_ns() - t0;
		bad = pt_check(&w, s, thp);
		if (bad) {
			ret = pt_fail(&w, pt_names[s], bad);
			goto out;
		}
		if (o->json) {
			json_row(o, pt_json[s], &w, src, thp ? "2M" : "4K", npages, t[s]);
		} else {
			fprintf(o->out, "%s: total execution time: ", pt_names[s]);
			print_s(o->out, t[s]);
			fprintf(o->out, "\n\n");
		}
	}
	fflush(o->out);
	ret = 0;
out:
	sm_free(&w);
	return ret;
}

int mn_bench_selftests_more(const struct mn_bench_opts *o)
{
	bool full = o->mode == MN_BENCH_FULL;
	/* The tests' default is 1 GiB (per vCPU for access tracking); PR runs less. */
	uint64_t at_pages = full ? 262144 : 65536, pt_pages = full ? 262144 : 131072;
	int ret, a, thp;

	if (o->mode == MN_BENCH_QUICK)
		return 0;
	ret = access_tracking_test(o, MN_VM_X86, at_pages);
	for (a = 0; !ret && a < 2; a++)
		for (thp = 0; !ret && thp < 2; thp++)
			ret = page_table_test(o, a ? MN_VM_ARM64 : MN_VM_X86, pt_pages, thp);
	return ret;
}
