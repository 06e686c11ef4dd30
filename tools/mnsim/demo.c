// SPDX-License-Identifier: MIT
/*
 * demo.c - mnsim demo: the README's main job. Story 000 (seeds/000: a gfn_to_pfn cache on a
 * guest_memfd-only slot racing a munmap of the slot's userspace_addr) explored under the RFC
 * that skips such slots in the hva walker and under each fix, side by side, then the
 * minimal counterexample of the RFC as a trace.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#ifndef MN_SCENARIO_DIR
#define MN_SCENARIO_DIR "scenarios"
#endif

#define DEMO_FILE "000-gpc-vs-munmap.mns"

static const char *const demo_variants[] = {
	"rfc-skip-gmem-only",
	"upstream",
	"filter-userspace-mappings",
	"gpc-own-seq",
};

int cmd_demo(struct cli *c, int argc, char **argv)
{
	const char *dir = getenv("MNSIM_SCENARIO_DIR");
	char path[1024], *schedule = NULL;
	size_t i;
	int r = EXIT_CLEAN;

	(void)argv;
	if (argc)
		return cli_usage_error(c, "demo takes no arguments");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : MN_SCENARIO_DIR, DEMO_FILE);
	fprintf(c->out,
		"Story 000 (seeds/000_f2bef73383c6b3ec.txt): a gfn_to_pfn cache refreshes on a\n"
		"guest_memfd-only memslot while the VMM unmaps the slot's userspace_addr.\n\n"
		"%-28s %-8s %10s %9s  %s\n",
		"variant", "arch", "schedules", "seconds", "verdict");
	for (i = 0; i < sizeof(demo_variants) / sizeof(demo_variants[0]); i++) {
		enum mn_vm_arch arch;

		for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
			struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS };
			struct mn_explore_result res;
			struct mn_script *s;
			unsigned int v;

			c->have_arch = true;
			c->arch = arch;
			c->have_variant = true;
			mn_variant_parse(demo_variants[i], &v);
			c->variant = v;
			s = cli_load(c, path);
			if (!s) {
				free(schedule);
				return EXIT_USAGE;
			}
			cfg.preemption_bound = mn_script_info(s)->bound;
			if (cli_explore(mn_script_scenario(s), &cfg, &res)) {
				mn_script_free(s);
				free(schedule);
				return EXIT_USAGE;
			}
			fprintf(c->out, "%-28s %-8s %10" PRIu64 " %9.2f  %s\n", demo_variants[i],
				arch == MN_VM_X86 ? "x86" : "arm64", res.schedules, res.seconds,
				res.nr_failures ? res.failures[0].violation.invariant
						: "clean (exhaustive)");
			/* Only the RFC may fail: anything else is a regression. */
			if (res.nr_failures && i)
				r = EXIT_VIOLATION;
			if (!res.nr_failures && !i)
				r = EXIT_VIOLATION;
			if (res.nr_failures && !schedule && arch == MN_VM_X86)
				schedule = strdup(res.failures[0].schedule);
			mn_explore_result_free(&res);
			mn_script_free(s);
		}
	}
	if (schedule) {
		struct mn_script *s;

		c->arch = MN_VM_X86;
		mn_variant_parse(demo_variants[0], &c->variant);
		s = cli_load(c, path);
		fprintf(c->out,
			"\nThe RFC's minimal counterexample (x86): the refresher is preempted once,\n"
			"after it took the page; the whole munmap runs and, the walker skipping the\n"
			"slot, never bumps mmu_invalidate_seq; the refresher publishes the page it\n"
			"holds and drops the reference that kept it alive:\n\n");
		if (!s || cli_show_run(c, s, path, schedule) < 0)
			r = EXIT_USAGE;
		mn_script_free(s);
		free(schedule);
	}
	return r;
}
