/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the mnsim command's files share: the global options, exit codes, and the
 * helpers that load scripts and print traces.
 */
#ifndef MNSIM_CLI_H
#define MNSIM_CLI_H

#include <mnsim.h>

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (mnsim(1)). */
#define EXIT_CLEAN     0
#define EXIT_VIOLATION 1
#define EXIT_USAGE     2

/* The options every command takes, parsed before and after the command name. */
struct cli {
	const char *prog;
	bool have_arch;
	enum mn_vm_arch arch;
	bool have_variant;
	unsigned int variant;
	enum mn_trace_format trace_format;
	bool have_trace;
	const char *output; /* --output FILE, or NULL for stdout */
	FILE *out;
	bool quiet;
	bool colour;  /* stdout is a terminal and --output is not given */
	bool verbose; /* --verbose: every event in traces */
	/* command options */
	bool have_bound;
	unsigned int bound;
	enum mn_explore_strategy strategy;
	uint64_t budget;
	double seconds;
	bool have_seed;
	uint64_t seed;
	bool quick;
	bool full; /* bench --full */
	bool json; /* bench --json */
	int cpu;   /* bench --cpu N; -1: not pinned */
	const char *mutate[8]; /* --mutate STEP: named steps to skip (mutations) */
	size_t nr_mutate;
};

/* Print "mnsim: ..." to stderr and return EXIT_USAGE. */
int cli_usage_error(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Load @path, apply --arch/--variant, or print the error and return NULL. */
struct mn_script *cli_load(const struct cli *c, const char *path);

/*
 * Replay @schedule of @s with full tracing, render the trace to c->out in the chosen
 * format, followed by the replay command line; return the number of violations, or a
 * negative errno.
 */
int cli_show_run(const struct cli *c, struct mn_script *s, const char *path,
		 const char *schedule);

/* The command line that replays @schedule of @path with the current global options. */
void cli_replay_line(const struct cli *c, const char *path, const char *schedule, char *buf,
		     size_t len);

/* Explore; DFS by iterative bounding, so the first failure has the fewest preemptions. */
int cli_explore(const struct mn_scenario *sc, const struct mn_explore_config *cfg,
		struct mn_explore_result *res);

int cmd_run(struct cli *c, int argc, char **argv);
int cmd_explore(struct cli *c, int argc, char **argv);
int cmd_replay(struct cli *c, int argc, char **argv);
int cmd_mutants(struct cli *c, int argc, char **argv);
int cmd_list(struct cli *c, int argc, char **argv);
int cmd_demo(struct cli *c, int argc, char **argv);
int cmd_bench(struct cli *c, int argc, char **argv);

#endif /* MNSIM_CLI_H */
