// SPDX-License-Identifier: MIT
/*
 * test-builtin.c - the acceptance of the KVM layer's built-in scenarios (lib/kvm/builtin.c):
 * each explored exhaustively at preemption bound 2 on x86 and arm64 with no violation; each
 * with its guard step skipped caught, and the failing schedule replaying to the same
 * violation; and the single-step mutants of fault-vs-munmap, each caught or known to be
 * equivalent (docs/mutants.md says why).
 */
#include "mn-test.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static const char *const arch_names[] = { "x86", "arm64" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_registry(void **state)
{
	struct mn_builtin *b;
	size_t i;

	(void)state;
	assert_true(mn_builtin_count() >= 4);
	for (i = 0; i < mn_builtin_count(); i++) {
		const struct mn_builtin_info *info = mn_builtin_info(i);

		assert_non_null(info->name);
		assert_non_null(info->summary);
		assert_int_equal(mn_builtin_open(info->name, MN_VM_ARM64, &b), 0);
		assert_string_equal(mn_builtin_scenario(b)->name, info->name);
		mn_builtin_close(b);
	}
	assert_null(mn_builtin_info(mn_builtin_count()));
	assert_int_equal(mn_builtin_open("no-such-scenario", MN_VM_X86, &b), -ENOENT);
	assert_int_equal(mn_builtin_open("fault-vs-munmap", (enum mn_vm_arch)7, &b), -EINVAL);
}

/* Every scenario, both architectures: clean at bound 2; its guard's mutant caught. */
static void test_every_scenario_clean_and_its_guard_caught(void **state)
{
	size_t i;
	int arch;

	(void)state;
	for (i = 0; i < mn_builtin_count(); i++) {
		const struct mn_builtin_info *info = mn_builtin_info(i);

		for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
			struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS,
							 .preemption_bound = 2 };
			struct mn_explore_result res;
			struct mn_builtin *b;
			struct mn_sim *sim;
			double t0 = now();
			int r;

			assert_int_equal(mn_builtin_open(info->name, (enum mn_vm_arch)arch, &b), 0);
			assert_int_equal(mn_explore(mn_builtin_scenario(b), &cfg, &res), 0);
			print_message(
				"%-24s %-5s bound 2: %6llu schedules in %.2f s, %llu failing\n",
				info->name, arch_names[arch], (unsigned long long)res.schedules,
				now() - t0, (unsigned long long)res.failing_runs);
			if (res.nr_failures)
				print_message(
					"  %s: %s (%s)\n", res.failures[0].violation.invariant,
					res.failures[0].violation.detail, res.failures[0].schedule);
			assert_int_equal(res.failing_runs, 0);
			assert_true(res.exhausted);
			assert_true(res.schedules > 1);
			mn_explore_result_free(&res);

			if (!info->guard) {
				mn_builtin_close(b);
				continue;
			}
			cfg.skip_steps = &info->guard;
			cfg.nr_skip_steps = 1;
			assert_int_equal(mn_explore(mn_builtin_scenario(b), &cfg, &res), 0);
			assert_true(res.failing_runs > 0);
			print_message("  without %s: caught by %s, schedule %s\n", info->guard,
				      res.failures[0].violation.invariant,
				      res.failures[0].schedule);
			/* The schedule replays to the same violation. */
			r = mn_explore_replay(mn_builtin_scenario(b), NULL, &info->guard, 1,
					      res.failures[0].schedule, &sim);
			assert_int_equal(r, MN_RUN_VIOLATION);
			assert_true(mn_trace_nr_violations(mn_sim_get_trace(sim)) > 0);
			assert_string_equal(mn_trace_violation(mn_sim_get_trace(sim), 0)->invariant,
					    res.failures[0].violation.invariant);
			mn_sim_destroy(sim);
			mn_explore_result_free(&res);
			mn_builtin_close(b);
		}
	}
}

/*
 * The single-step mutants of fault-vs-munmap: every step it passes is either caught by the
 * explorer or on the list of equivalent mutants below (the reasons are in docs/mutants.md).
 */
static const char *const equivalent[] = {
	/* Only spare contention on mmu_lock: the check under the lock decides. */
	"fault.precheck",
	"fault.precheck_after_gup",
	/* The slot never goes INVALID here (no memslot update in this scenario). */
	"fault.invalid_slot_check",
	/* Skipping the free leaks the frame: nothing can be used after a free that never was. */
	"munmap.free_pages",
};

static bool is_equivalent(const char *step)
{
	size_t i;

	for (i = 0; i < sizeof(equivalent) / sizeof(equivalent[0]); i++)
		if (!strcmp(equivalent[i], step))
			return true;
	return false;
}

static void test_fault_vs_munmap_mutants(void **state)
{
	int arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS,
						 .preemption_bound = 2 };
		struct mn_mutant *m;
		struct mn_builtin *b;
		size_t nr, i, caught = 0;

		assert_int_equal(mn_builtin_open("fault-vs-munmap", (enum mn_vm_arch)arch, &b), 0);
		assert_int_equal(mn_explore_mutants(mn_builtin_scenario(b), &cfg, &m, &nr), 0);
		print_message("fault-vs-munmap (%s): %zu mutants\n", arch_names[arch], nr);
		for (i = 0; i < nr; i++) {
			print_message("  %-34s %s %s\n", m[i].step,
				      m[i].caught ? "caught" : "survived",
				      m[i].caught ? m[i].invariant : "");
			caught += m[i].caught;
			if (!m[i].caught && !is_equivalent(m[i].step))
				fail_msg("mutant %s survived and is not known to be equivalent",
					 m[i].step);
		}
		assert_true(caught >= 5);
		mn_mutants_free(m, nr);
		mn_builtin_close(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_every_scenario_clean_and_its_guard_caught),
		cmocka_unit_test(test_fault_vs_munmap_mutants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
