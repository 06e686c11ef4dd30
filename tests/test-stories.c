// SPDX-License-Identifier: MIT
/*
 * test-stories.c - the guest_memfd seed stories under the explorer (../shared/seeds/):
 *
 * 000: a pfn cache on a guest_memfd-only slot refreshing while the VMM unmaps the slot's
 *      userspace_addr (an anonymous mapping): under the RFC that skips gmem-only slots in
 *      the hva walker, nothing bumps mmu_invalidate_seq, and the cache keeps a freed page;
 *      upstream, the USERSPACE_MAPPINGS filter fix and a pfn-cache-own sequence are clean,
 *      and under the filter fix the slot's secondary mapping survives the munmap. Second
 *      interleaving: a punch hole of a file page that the slot's hva maps but the slot is
 *      not bound to. Third: an HVA cache outside every memslot (the reply's argument for a
 *      sequence of the cache's own), which only gpc-own-seq closes.
 * 001: KVM_MEM_USERFAULT toggled on a guest_memfd-only slot racing a fault.
 *
 * Each story runs on x86 and arm64.
 */
#include "mn-test-host.h"
#include "kvm/kvm-internal.h"

#include <stdio.h>

#define RW (MN_PROT_READ | MN_PROT_WRITE)

enum story_kind {
	STORY_MUNMAP,	   /* 000: munmap of the gmem-only slot's anonymous userspace_addr */
	STORY_PUNCH,	   /* 000: punch hole of a mapped, unbound page of the file */
	STORY_HVA_OUTSIDE, /* 000 (reply): an HVA cache outside every memslot */
	STORY_USERFAULT,   /* 001 on guest_memfd */
	STORY_PUNCH_FAULT, /* a guest fault of a page racing its punch hole */
};

struct story {
	enum story_kind kind;
	enum mn_vm_arch arch;
	unsigned int variant;
	bool checked;
	/* per run */
	struct world w;
	struct mn_vm *vm;
	struct mn_gpc *gpc;
	mn_hva_t uaddr;
	int fd;
	uint64_t val;
	uint64_t bitmap[1];
	struct mn_vcpu_exit exit;
	int ret[2];
};

static const char *const kind_name[] = { "gpc-vs-munmap", "gpc-vs-punch-hole",
					 "hva-gpc-outside-slots", "userfault-toggle-vs-fault",
					 "gmem-fault-vs-punch-hole" };

static const char *variant_name(unsigned int v)
{
	switch (v) {
	case MN_VARIANT_RFC_SKIP_GMEM_ONLY:
		return "rfc-skip-gmem-only";
	case MN_VARIANT_FILTER_USERSPACE_MAPPINGS:
		return "filter-userspace-mappings";
	case MN_VARIANT_GPC_OWN_SEQ:
		return "gpc-own-seq";
	default:
		return "upstream";
	}
}

static void gpc_thread(struct mn_sim *sim, void *arg)
{
	struct story *s = arg;

	(void)sim;
	if (s->kind == STORY_HVA_OUTSIDE)
		s->ret[0] = mn_gpc_activate_hva(s->gpc, s->uaddr, 8);
	else
		s->ret[0] = mn_gpc_activate(s->gpc, 0, 8);
	if (!s->ret[0] || s->ret[0] == -EFAULT)
		s->ret[0] = mn_gpc_read(s->gpc, 0, &s->val);
}

static void vmm_thread(struct mn_sim *sim, void *arg)
{
	struct story *s = arg;

	(void)sim;
	if (s->kind == STORY_PUNCH || s->kind == STORY_PUNCH_FAULT)
		s->ret[1] = mn_mm_fallocate(s->w.mm, s->fd,
					    MN_FALLOC_FL_PUNCH_HOLE | MN_FALLOC_FL_KEEP_SIZE, PG,
					    PG);
	else
		s->ret[1] = mn_mm_munmap(s->w.mm, s->uaddr, 4 * PG);
}

static void vcpu_thread(struct mn_sim *sim, void *arg)
{
	struct story *s = arg;

	(void)sim;
	s->ret[0] = mn_vcpu_access(mn_vm_get_vcpu(s->vm, 0), 0,
				   s->kind == STORY_PUNCH_FAULT ? PG : 0, MN_PTE_R, &s->val,
				   &s->exit);
	/* Whatever the fault mapped, the guest reads through it again after the punch. */
	if (s->kind == STORY_PUNCH_FAULT && !s->ret[0])
		s->ret[0] = mn_vcpu_access(mn_vm_get_vcpu(s->vm, 0), 0, PG, MN_PTE_R, &s->val,
					   &s->exit);
}

static void toggle_thread(struct mn_sim *sim, void *arg)
{
	struct story *s = arg;
	struct mn_userspace_memory_region2 r = {
		.slot = 0,
		.flags = MN_MEM_GUEST_MEMFD | MN_MEM_USERFAULT,
		.memory_size = 4 * PG,
		.userspace_addr = s->uaddr,
		.guest_memfd = (uint32_t)s->fd,
		.userfault_bitmap = s->bitmap,
	};

	(void)sim;
	/* The one change a guest_memfd slot allows: USERFAULT set late. */
	s->bitmap[0] = 1;
	s->ret[1] = mn_vm_set_user_memory_region2(s->vm, &r);
}

static int story_setup(struct mn_sim *sim, void *arg)
{
	struct story *s = arg;
	struct mn_vm_config cfg = { .arch = s->arch, .variant = s->variant };
	struct mn_create_guest_memfd g = {
		.size = 4 * PG,
		.flags = MN_GUEST_MEMFD_FLAG_MMAP | MN_GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	struct mn_userspace_memory_region2 r = {
		.slot = 0,
		.flags = MN_MEM_GUEST_MEMFD,
		.memory_size = 4 * PG,
	};
	struct mn_file *f;
	uint64_t v = 0x1111;
	int ret;

	memset(&s->w, 0, sizeof(*s) - offsetof(struct story, w));
	/* No recorder subscribed: KVM is the mm's only subscriber, as in a VMM. */
	s->w.sim = sim;
	s->w.phys = mn_sim_get_phys(sim);
	ret = mn_mm_create(sim, &(struct mn_mm_config){ .thp = MN_THP_NEVER }, &s->w.mm);
	if (!ret)
		ret = mn_vm_create(s->w.mm, &cfg, &s->vm);
	if (ret)
		return ret;
	s->fd = mn_vm_create_guest_memfd(s->vm, &g);
	if (s->fd < 0)
		return s->fd;
	if (s->kind == STORY_PUNCH_FAULT) {
		mn_hva_t fmap;

		/*
		 * The VMM fills file page 1 through a mapping of the file that is no slot's
		 * userspace_addr (that one is anonymous), so that only guest_memfd's own
		 * invalidation covers the slot: were userspace_addr the file's mapping, the
		 * truncation's mm notification would zap the slot again and hide a missing one.
		 */
		f = mn_mm_fget(s->w.mm, s->fd);
		ret = mn_mm_mmap(s->w.mm, 0, 4 * PG, RW, MN_MAP_SHARED, f, 0, &fmap);
		mn_file_put(f);
		if (!ret)
			ret = mn_mm_access(s->w.mm, fmap + PG, MN_PTE_W, &v, NULL);
		if (!ret)
			ret = mn_mm_mmap(s->w.mm, 0, 4 * PG, RW, MN_MAP_PRIVATE | MN_MAP_ANONYMOUS,
					 NULL, 0, &s->uaddr);
	} else if (s->kind == STORY_PUNCH) {
		/* The slot is bound at file page 0 but its hva maps file page 1. */
		f = mn_mm_fget(s->w.mm, s->fd);
		ret = mn_mm_mmap(s->w.mm, 0, PG, RW, MN_MAP_SHARED, f, PG, &s->uaddr);
		mn_file_put(f);
		r.memory_size = PG;
	} else {
		ret = mn_mm_mmap(s->w.mm, 0, 4 * PG, RW, MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL,
				 0, &s->uaddr);
	}
	if (!ret)
		ret = mn_mm_access(s->w.mm, s->uaddr, MN_PTE_W, &v, NULL);
	r.userspace_addr = s->uaddr;
	r.guest_memfd = (uint32_t)s->fd;
	/* The HVA cache's page is in no memslot: the slot sits at another hva. */
	if (!ret && s->kind != STORY_HVA_OUTSIDE)
		ret = mn_vm_set_user_memory_region2(s->vm, &r);
	if (ret)
		return ret;
	if (s->kind == STORY_USERFAULT || s->kind == STORY_PUNCH_FAULT) {
		if (s->checked)
			mn_check_enable(s->vm);
		mn_sim_spawn(sim, "vcpu", vcpu_thread, s, NULL);
		mn_sim_spawn(sim, "vmm", s->kind == STORY_USERFAULT ? toggle_thread : vmm_thread,
			     s, NULL);
		return 0;
	}
	/* The guest has touched gfn 0: the slot has a secondary mapping from guest_memfd. */
	if (s->kind != STORY_HVA_OUTSIDE &&
	    mn_vcpu_access(mn_vm_get_vcpu(s->vm, 0), 0, 0, MN_PTE_W, &v, NULL))
		return -EIO;
	ret = mn_gpc_create(s->vm, &s->gpc);
	if (ret)
		return ret;
	if (s->checked)
		mn_check_enable(s->vm);
	mn_sim_spawn(sim, "gpc", gpc_thread, s, NULL);
	mn_sim_spawn(sim, "vmm", vmm_thread, s, NULL);
	return 0;
}

static void story_check(struct mn_sim *sim, void *arg)
{
	struct story *s = arg;
	struct mn_pt_walk w;
	bool mapped;

	if (s->ret[1])
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.vmm", "the VMM's operation failed: %d",
			       s->ret[1]);
	if (s->kind == STORY_PUNCH_FAULT) {
		/*
		 * The old page or, after the punch, a new zeroed one; or the guest gave up
		 * faulting while the schedule kept the punch's invalidation from ending.
		 */
		if ((s->ret[0] && !(s->ret[0] == 1 && s->exit.error == -EAGAIN)) ||
		    (s->val != 0x1111 && s->val != 0))
			mn_sim_reportf(sim, MN_VIOL_CHECK, "test.vcpu", "access %d (%#llx)",
				       s->ret[0], (unsigned long long)s->val);
	} else if (s->kind == STORY_USERFAULT) {
		/* Mapped before the toggle (the zap took it), or the userfault exit. */
		if (s->ret[0] < 0 ||
		    (s->ret[0] == 1 && !(s->exit.flags & MN_MEMORY_EXIT_FLAG_USERFAULT) &&
		     s->exit.reason != MN_EXIT_MMIO && s->exit.error != -EAGAIN))
			mn_sim_reportf(sim, MN_VIOL_CHECK, "test.vcpu", "access %d, exit %d/%d",
				       s->ret[0], s->exit.reason, s->exit.error);
	} else {
		/* The page before the VMM acted, zero after it, or the hole (-EFAULT). */
		if ((s->ret[0] && s->ret[0] != -EFAULT && s->ret[0] != -EAGAIN) ||
		    (!s->ret[0] && s->val != 0x1111 && s->val != 0))
			mn_sim_reportf(sim, MN_VIOL_CHECK, "test.gpc_read", "read %d (%#llx)",
				       s->ret[0], (unsigned long long)s->val);
	}
	if (s->kind == STORY_MUNMAP) {
		/*
		 * The RFC's goal, kept by the filter fix: the gmem-only slot's mapping does not
		 * depend on the userspace mapping, so the munmap leaves it. Upstream zaps it.
		 */
		mapped = !mn_pt_walk(mn_vm_get_pt(s->vm, 0), 0, &w) && w.leaf.kind == MN_PTE_LEAF;
		if (mapped != (s->variant != 0))
			mn_sim_reportf(sim, MN_VIOL_CHECK, "test.gmem_only_mapping",
				       "gfn 0 is %smapped after the munmap under %s",
				       mapped ? "" : "not ", variant_name(s->variant));
	}
	if (s->checked)
		mn_check_vm_quiescent(s->vm);
	mn_gpc_destroy(s->gpc);
	mn_vm_destroy(s->vm);
	mn_mm_destroy(s->w.mm);
}

static struct story story;

static struct mn_scenario story_scenario(enum story_kind kind, enum mn_vm_arch arch,
					 unsigned int variant, bool checked)
{
	static char name[96];

	story.kind = kind;
	story.arch = arch;
	story.variant = variant;
	story.checked = checked;
	snprintf(name, sizeof(name), "%s %s (%s%s)", kind_name[kind], variant_name(variant),
		 arch == MN_VM_X86 ? "x86" : "arm64", checked ? ", checked" : "");
	return (struct mn_scenario){ name, story_setup, story_check, NULL, &story };
}

/* Explore exhaustively at @bound and return the number of failing runs. */
static uint64_t explore_story(const struct mn_scenario *sc, unsigned int bound,
			      const char *expect_first, bool print_trace)
{
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = bound,
		.max_schedules = 200000,
	};
	struct mn_explore_result res;
	uint64_t failing;

	assert_int_equal(mn_explore(sc, &cfg, &res), 0);
	if (res.nr_failures)
		print_message("  %s\n", res.failures[0].violation.detail);
	print_message("%s, bound %u: %llu schedules, %llu failing%s%s\n", sc->name, bound,
		      (unsigned long long)res.schedules, (unsigned long long)res.failing_runs,
		      res.nr_failures ? ", first " : "",
		      res.nr_failures ? res.failures[0].violation.invariant : "");
	failing = res.failing_runs;
	if (expect_first) {
		assert_true(failing > 0);
		assert_string_equal(res.failures[0].violation.invariant, expect_first);
		if (print_trace) {
			struct mn_sim *sim;

			print_message("  schedule %s:\n", res.failures[0].schedule);
			assert_true(mn_explore_replay(sc, NULL, NULL, 0, res.failures[0].schedule,
						      &sim) >= 0);
			assert_true(mn_trace_nr_violations(mn_sim_get_trace(sim)) > 0);
			assert_string_equal(mn_trace_violation(mn_sim_get_trace(sim), 0)->invariant,
					    expect_first);
			if (getenv("MN_STORY_TRACE"))
				mn_trace_print(mn_sim_get_trace(sim), stdout);
			mn_sim_destroy(sim);
		}
	} else {
		assert_int_equal(failing, 0);
		assert_true(res.exhausted);
	}
	mn_explore_result_free(&res);
	return failing;
}

/* One exploration of a story: its variant, its bound, and what it must find. */
struct story_row {
	enum story_kind kind;
	unsigned int variant;
	bool checked;
	unsigned int bound;
	const char *expect; /* the first violation, or NULL: clean, exhaustively */
	bool print_trace;   /* print the counterexample (MN_STORY_TRACE=1 for the events) */
};

/*
 * 000, munmap: the RFC's minimal interleaving needs one preemption (the refresher is
 * preempted after GUP; the whole munmap runs; the refresher publishes the page it holds
 * and drops the reference that kept it alive), and the read uses the freed frame; checked
 * mode finds the same (the read follows the publish in the same step). Upstream, the fix
 * and the cache's own sequence are clean, exhaustively at bound 2.
 */
static const struct story_row story_000_munmap[] = {
	{ STORY_MUNMAP, MN_VARIANT_RFC_SKIP_GMEM_ONLY, false, 1, "frame.use_after_free", true },
	{ STORY_MUNMAP, MN_VARIANT_RFC_SKIP_GMEM_ONLY, true, 1, "frame.use_after_free", false },
	{ STORY_MUNMAP, 0, true, 2, NULL, false },
	{ STORY_MUNMAP, MN_VARIANT_FILTER_USERSPACE_MAPPINGS, true, 2, NULL, false },
	{ STORY_MUNMAP, MN_VARIANT_GPC_OWN_SEQ, true, 2, NULL, false },
};

/* 000, the second interleaving: a punch hole of a mapped page the slot is not bound to. */
static const struct story_row story_000_punch[] = {
	{ STORY_PUNCH, MN_VARIANT_RFC_SKIP_GMEM_ONLY, false, 1, "frame.use_after_free", true },
	{ STORY_PUNCH, 0, true, 2, NULL, false },
	{ STORY_PUNCH, MN_VARIANT_FILTER_USERSPACE_MAPPINGS, true, 2, NULL, false },
	{ STORY_PUNCH, MN_VARIANT_GPC_OWN_SEQ, true, 2, NULL, false },
};

/*
 * A cache outside every memslot: no walker ever bumps mmu_invalidate_seq for it, so a
 * refresh that sleeps through a whole start..end publishes the page it took, upstream and
 * under the filter fix alike. Only a sequence of the cache's own closes it.
 */
static const struct story_row story_000_hva_outside[] = {
	{ STORY_HVA_OUTSIDE, 0, false, 1, "frame.use_after_free", false },
	{ STORY_HVA_OUTSIDE, MN_VARIANT_FILTER_USERSPACE_MAPPINGS, false, 1,
	  "frame.use_after_free", false },
	{ STORY_HVA_OUTSIDE, MN_VARIANT_GPC_OWN_SEQ, true, 2, NULL, false },
};

static void run_rows(enum mn_vm_arch arch, const struct story_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct mn_scenario sc =
			story_scenario(rows[i].kind, arch, rows[i].variant, rows[i].checked);

		explore_story(&sc, rows[i].bound, rows[i].expect, rows[i].print_trace);
	}
}

/* With the step @skip (a mutation), the explorer must catch @caught first at bound 2. */
static void explore_mutant(const struct mn_scenario *sc, const char *skip, const char *caught)
{
	const char *skips[] = { skip };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = 2,
		.skip_steps = skips,
		.nr_skip_steps = 1,
	};
	struct mn_explore_result res;

	assert_int_equal(mn_explore(sc, &cfg, &res), 0);
	print_message("%s without %s: %llu schedules, %llu failing, first %s\n", sc->name, skip,
		      (unsigned long long)res.schedules, (unsigned long long)res.failing_runs,
		      res.nr_failures ? res.failures[0].violation.invariant : "-");
	assert_true(res.failing_runs > 0);
	assert_string_equal(res.failures[0].violation.invariant, caught);
	mn_explore_result_free(&res);
}

/*
 * 001 on guest_memfd: USERFAULT set late on a guest_memfd-only slot racing a fault of gfn
 * 0, whose bit is set: mapped before the change and zapped by it, or a userfault exit.
 * Without the mandatory zap, kvm.userfault_mapped.
 */
static void story_001(enum mn_vm_arch arch)
{
	struct mn_scenario sc = story_scenario(STORY_USERFAULT, arch, 0, true);

	explore_story(&sc, 2, NULL, false);
	explore_mutant(&sc, "userfault.zap", "kvm.userfault_mapped");
}

/*
 * guest_memfd's own invalidation: a guest fault of file page 1 racing its punch hole. Clean
 * exhaustively; without the zap the old page stays mapped; without the fault's retry check
 * a page taken before the punch is installed after the zap.
 */
static void story_punch_fault(enum mn_vm_arch arch)
{
	struct mn_scenario sc = story_scenario(STORY_PUNCH_FAULT, arch, 0, true);

	explore_story(&sc, 2, NULL, false);
	explore_mutant(&sc, "gmem.invalidate.zap", "frame.use_after_free");
	explore_mutant(&sc, "fault.retry_check", "kvm.install_during_invalidation");
	explore_mutant(&sc, "invalidate_end.seq_bump", "frame.use_after_free");
}

static void story_all(enum mn_vm_arch arch)
{
	run_rows(arch, story_000_munmap, ARRAY_SIZE(story_000_munmap));
	run_rows(arch, story_000_punch, ARRAY_SIZE(story_000_punch));
	run_rows(arch, story_000_hva_outside, ARRAY_SIZE(story_000_hva_outside));
	story_001(arch);
	story_punch_fault(arch);
}

static void test_stories_x86(void **state)
{
	(void)state;
	story_all(MN_VM_X86);
}

static void test_stories_arm64(void **state)
{
	(void)state;
	story_all(MN_VM_ARM64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stories_x86),
		cmocka_unit_test(test_stories_arm64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
