// SPDX-License-Identifier: MIT
/*
 * main.c - the mnsim command: option parsing and dispatch to the subcommands (mnsim(1)).
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MN_VERSION
#define MN_VERSION "0.1.0"
#endif

static const char usage_text[] =
	"usage: mnsim [options] COMMAND [args]\n"
	"\n"
	"Commands:\n"
	"  run FILE              run one schedule (threads in order, or --seed N: a random one)\n"
	"  explore FILE          explore the interleavings (--bound N, --strategy dfs|pct|random,\n"
	"                        --budget N or --time S); print the first violation's trace\n"
	"  replay FILE SCHEDULE  run the schedule an exploration printed, with its trace\n"
	"  mutants FILE          skip each named step in turn: caught or survived\n"
	"  list                  built-in scenarios and protocol variants\n"
	"  demo                  story 000 under the RFC and under the fix, side by side\n"
	"  bench                 the invalidation benchmark with in-run references (--quick,\n"
	"                        --full, --json: one JSON object per row, --cpu N: pin)\n"
	"\n"
	"Options:\n"
	"  --variant LIST        protocol variants, comma separated (upstream: none)\n"
	"  --arch x86|arm64      the VM's architecture\n"
	"  --trace text|jsonl|mermaid\n"
	"                        how traces are printed (default text)\n"
	"  --output FILE         write to FILE instead of standard output\n"
	"  --verbose             every event in traces (locks, SRCU, allocations)\n"
	"  --mutate STEP         run, explore or replay with the named step skipped (a\n"
	"                        mutation of the modelled kernel code; up to 8)\n"
	"  --quiet, -q           no progress, no summaries: only traces and errors\n"
	"  --help, -h            this text\n"
	"  --version, -V         the version\n"
	"\n"
	"Exit status: 0 clean, 1 a violation was found or an expectation failed,\n"
	"2 usage or input error.\n";

int cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s --help')\n", c->prog);
	return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

/* Options that take a value: the value, from "--opt=value" or the next argument. */
static const char *opt_value(int argc, char **argv, int *i, const char *arg, size_t n)
{
	if (arg[n] == '=')
		return arg + n + 1;
	if (arg[n] || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool opt_is(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

/* Parse every option wherever it is; leave the positional arguments in @pos. */
static int parse_args(struct cli *c, int argc, char **argv, char **pos, int *nr_pos)
{
	int i;

	*nr_pos = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		uint64_t u;

		if (a[0] != '-' || !a[1]) {
			pos[(*nr_pos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			exit(EXIT_CLEAN);
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("mnsim %s\n", MN_VERSION);
			exit(EXIT_CLEAN);
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			c->quiet = true;
		} else if (!strcmp(a, "--verbose")) {
			c->verbose = true;
		} else if (!strcmp(a, "--quick")) {
			c->quick = true;
		} else if (!strcmp(a, "--full")) {
			c->full = true;
		} else if (!strcmp(a, "--json")) {
			c->json = true;
		} else if (opt_is(a, "--cpu")) {
			v = opt_value(argc, argv, &i, a, strlen("--cpu"));
			if (parse_u64(v, &u) || u >= 1024)
				return cli_usage_error(c, "--cpu needs a CPU number");
			c->cpu = (int)u;
		} else if (opt_is(a, "--variant")) {
			v = opt_value(argc, argv, &i, a, strlen("--variant"));
			if (!v || mn_variant_parse(v, &c->variant))
				return cli_usage_error(c, "--variant needs a comma list of: upstream, "
							  "rfc-skip-gmem-only, "
							  "filter-userspace-mappings, gpc-own-seq, "
							  "userfault-create-only, "
							  "gmem-inplace-conversion, mutant-gmem-host-level");
			c->have_variant = true;
		} else if (opt_is(a, "--arch")) {
			v = opt_value(argc, argv, &i, a, strlen("--arch"));
			if (v && !strcmp(v, "x86"))
				c->arch = MN_VM_X86;
			else if (v && !strcmp(v, "arm64"))
				c->arch = MN_VM_ARM64;
			else
				return cli_usage_error(c, "--arch needs x86 or arm64");
			c->have_arch = true;
		} else if (opt_is(a, "--trace")) {
			v = opt_value(argc, argv, &i, a, strlen("--trace"));
			if (!v || mn_trace_format_parse(v, &c->trace_format))
				return cli_usage_error(c, "--trace needs text, jsonl or mermaid");
			c->have_trace = true;
		} else if (opt_is(a, "--output")) {
			v = opt_value(argc, argv, &i, a, strlen("--output"));
			if (!v || !*v)
				return cli_usage_error(c, "--output needs a file name");
			c->output = v;
		} else if (opt_is(a, "--mutate")) {
			v = opt_value(argc, argv, &i, a, strlen("--mutate"));
			if (!v || !*v || c->nr_mutate == 8)
				return cli_usage_error(c, "--mutate needs a step name (at most 8)");
			c->mutate[c->nr_mutate++] = v;
		} else if (opt_is(a, "--bound")) {
			v = opt_value(argc, argv, &i, a, strlen("--bound"));
			if (parse_u64(v, &u) || u > 64)
				return cli_usage_error(c, "--bound needs a number from 0 to 64");
			c->bound = (unsigned int)u;
			c->have_bound = true;
		} else if (opt_is(a, "--strategy")) {
			v = opt_value(argc, argv, &i, a, strlen("--strategy"));
			if (v && !strcmp(v, "dfs"))
				c->strategy = MN_EXPLORE_DFS;
			else if (v && !strcmp(v, "pct"))
				c->strategy = MN_EXPLORE_PCT;
			else if (v && !strcmp(v, "random"))
				c->strategy = MN_EXPLORE_RANDOM;
			else
				return cli_usage_error(c, "--strategy needs dfs, pct or random");
		} else if (opt_is(a, "--budget")) {
			v = opt_value(argc, argv, &i, a, strlen("--budget"));
			if (parse_u64(v, &c->budget) || !c->budget)
				return cli_usage_error(c, "--budget needs a positive number of "
							  "schedules");
		} else if (opt_is(a, "--time")) {
			char *end;

			v = opt_value(argc, argv, &i, a, strlen("--time"));
			c->seconds = v ? strtod(v, &end) : 0;
			if (!v || *end || !(c->seconds > 0))
				return cli_usage_error(c, "--time needs a positive number of seconds");
		} else if (opt_is(a, "--seed")) {
			v = opt_value(argc, argv, &i, a, strlen("--seed"));
			if (parse_u64(v, &c->seed))
				return cli_usage_error(c, "--seed needs a number");
			c->have_seed = true;
		} else {
			return cli_usage_error(c, "unknown option '%s'", a);
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
} commands[] = {
	{ "run", cmd_run },	{ "explore", cmd_explore }, { "replay", cmd_replay },
	{ "mutants", cmd_mutants }, { "list", cmd_list },	    { "demo", cmd_demo },
	{ "bench", cmd_bench },
};

int main(int argc, char **argv)
{
	struct cli c = { .prog = "mnsim", .bound = 2, .strategy = MN_EXPLORE_DFS, .cpu = -1 };
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	int nr_pos, r;
	size_t i;

	if (!pos)
		return EXIT_USAGE;
	r = parse_args(&c, argc, argv, pos, &nr_pos);
	if (r)
		goto out;
	if (!nr_pos) {
		fputs(usage_text, stderr);
		r = EXIT_USAGE;
		goto out;
	}
	c.out = stdout;
	if (c.output) {
		c.out = fopen(c.output, "w");
		if (!c.out) {
			r = cli_usage_error(&c, "cannot write '%s': %s", c.output, strerror(errno));
			goto out;
		}
	}
	c.colour = !c.output && isatty(STDOUT_FILENO) && c.trace_format == MN_TRACE_FMT_TEXT;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(pos[0], commands[i].name))
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		r = cli_usage_error(&c, "unknown command '%s'", pos[0]);
	else
		r = commands[i].fn(&c, nr_pos - 1, pos + 1);
	if (c.out && c.out != stdout && fclose(c.out) && r == EXIT_CLEAN)
		r = cli_usage_error(&c, "writing '%s' failed", c.output);
out:
	free(pos);
	return r;
}
