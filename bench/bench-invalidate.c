// SPDX-License-Identifier: MIT
/*
 * bench-invalidate.c - the invalidation benchmark as a program of its own, for
 * `meson test --benchmark`: the same code as `mnsim bench` (bench/inval.c). Exits 1 only
 * when a sanity check fails, never because of a time.
 */
#include <stdio.h>

#include "bench.h"

int main(int argc, char **argv)
{
	struct mn_bench_opts o = { .mode = MN_BENCH_PR, .cpu = -1, .out = stdout };

	if (mn_bench_parse_args("bench-invalidate", argc - 1, argv + 1, &o))
		return 2;
	return mn_bench_run(&o);
}
