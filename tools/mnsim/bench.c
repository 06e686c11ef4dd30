// SPDX-License-Identifier: MIT
/*
 * bench.c - mnsim bench: the invalidation benchmark with its in-run references
 * (bench/inval.c, the code `meson test --benchmark` runs), as a table or as JSON lines.
 */
#include "cli.h"

#ifdef MN_HAVE_BENCH
#include "bench.h"

int cmd_bench(struct cli *c, int argc, char **argv)
{
	struct mn_bench_opts o = {
		.mode = c->quick ? MN_BENCH_QUICK : c->full ? MN_BENCH_FULL : MN_BENCH_PR,
		.json = c->json,
		.cpu = c->cpu,
		.out = c->out,
	};
	int ret;

	(void)argv;
	if (argc)
		return cli_usage_error(c, "bench takes no arguments, only --quick, --full, --json "
					  "and --cpu N");
	if (c->quick && c->full)
		return cli_usage_error(c, "--quick and --full exclude each other");
	ret = mn_bench_run(&o);
	/* 1: a sanity check failed (a wrong result, not a slow one); 2: no world. */
	return ret == 0 ? EXIT_CLEAN : ret == 1 ? EXIT_VIOLATION : EXIT_USAGE;
}
#else
int cmd_bench(struct cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_usage_error(c, "this mnsim was built with -Dbench=false");
}
#endif
