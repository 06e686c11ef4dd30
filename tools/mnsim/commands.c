// SPDX-License-Identifier: MIT
/*
 * commands.c - mnsim run, explore, replay and mutants: a scenario file through the explorer,
 * with the trace of the run that matters rendered in the chosen format.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct mn_script *cli_load(const struct cli *c, const char *path)
{
	struct mn_script_error err;
	struct mn_script *s;
	int r;

	memset(&err, 0, sizeof(err));
	r = mn_script_load(path, &s, &err);
	if (r) {
		if (err.line)
			fprintf(stderr, "%s:%u:%u: %s\n", err.file[0] ? err.file : path, err.line,
				err.col, err.msg);
		else
			fprintf(stderr, "%s: %s: %s\n", c->prog, path,
				err.msg[0] ? err.msg : strerror(-r));
		return NULL;
	}
	if ((c->have_arch && mn_script_set_arch(s, c->arch)) ||
	    (c->have_variant && mn_script_set_variant(s, c->variant))) {
		fprintf(stderr, "%s: %s: the scenario does not allow that --arch/--variant\n",
			c->prog, path);
		mn_script_free(s);
		return NULL;
	}
	return s;
}

/* Quote @s for a shell if it needs it (paths with blanks; schedules never do). */
static void shell_word(char *buf, size_t len, const char *s)
{
	if (strpbrk(s, " \t'\"$\\"))
		snprintf(buf, len, "'%s'", s);
	else
		snprintf(buf, len, "%s", s);
}

void cli_replay_line(const struct cli *c, const char *path, const char *schedule, char *buf,
		     size_t len)
{
	char p[512], v[512] = "";
	unsigned int bit;
	size_t i;

	shell_word(p, sizeof(p), path);
	if (c->have_variant) {
		size_t n = 0;

		n += (size_t)snprintf(v, sizeof(v), " --variant ");
		if (!c->variant)
			snprintf(v + n, sizeof(v) - n, "upstream");
		for (bit = 1; bit && c->variant; bit <<= 1) {
			if (!(c->variant & bit) || n >= sizeof(v))
				continue;
			n += (size_t)snprintf(v + n, sizeof(v) - n, "%s%s",
					      v[n - 1] == ' ' ? "" : ",", mn_variant_name(bit));
		}
	}
	for (i = 0; i < c->nr_mutate; i++) {
		size_t n = strlen(v);

		snprintf(v + n, sizeof(v) - n, " --mutate %s", c->mutate[i]);
	}
	snprintf(buf, len, "%s replay %s %s%s%s%s", c->prog, p, schedule, v,
		 c->have_arch ? (c->arch == MN_VM_X86 ? " --arch x86" : " --arch arm64") : "",
		 c->have_trace ? (c->trace_format == MN_TRACE_FMT_JSONL	  ? " --trace jsonl"
				  : c->trace_format == MN_TRACE_FMT_MERMAID ? " --trace mermaid"
									    : "")
			       : "");
}

static int render(const struct cli *c, struct mn_sim *sim, const struct mn_script *s,
		  const char *replay)
{
	const struct mn_script_info *info = mn_script_info(s);
	struct mn_trace_render opts = {
		.format = c->trace_format,
		.colour = c->colour,
		.verbose = c->verbose,
		.title = info->title,
		.replay = replay,
	};

	return mn_trace_render(mn_sim_get_trace(sim), c->out, &opts);
}

int cli_show_run(const struct cli *c, struct mn_script *s, const char *path,
		 const char *schedule)
{
	struct mn_sim *sim = NULL;
	char replay[1024];
	int r, nr;

	r = mn_explore_replay(mn_script_scenario(s), NULL, c->mutate, c->nr_mutate, schedule,
			      &sim);
	if (r < 0) {
		if (mn_script_last_error(s))
			fprintf(stderr, "%s\n", mn_script_last_error(s));
		else
			fprintf(stderr,
				"%s: %s: cannot replay '%s': %s (a schedule is 's1:' and a comma "
				"list of T or TxN: thread T, in spawn order, chosen at N decision "
				"points in a row; it must name a thread that can run there)\n",
				c->prog, path, schedule, strerror(-r));
		return r;
	}
	nr = (int)mn_trace_nr_violations(mn_sim_get_trace(sim));
	cli_replay_line(c, path, mn_sim_get_schedule(sim), replay, sizeof(replay));
	if (render(c, sim, s, nr ? replay : NULL) < 0)
		nr = -EIO;
	mn_sim_destroy(sim);
	return nr;
}

/*
 * The verdict of a script's expect line against what was found. A --variant override
 * asks another question than the file's: its expect line is not checked then.
 */
static int verdict(const struct cli *c, const struct mn_script_info *info, bool found,
		   const char *first)
{
	if (c->have_variant) {
		if (info->expect != MN_SCRIPT_EXPECT_NONE && !c->quiet)
			fprintf(stderr, "(the file's expect line is not checked: --variant given)\n");
		return found ? EXIT_VIOLATION : EXIT_CLEAN;
	}
	if (info->expect == MN_SCRIPT_EXPECT_VIOLATION && !found) {
		if (!c->quiet)
			fprintf(stderr, "expectation failed: expected violation %s, found none\n",
				info->expect_id);
		return EXIT_VIOLATION;
	}
	if (info->expect == MN_SCRIPT_EXPECT_VIOLATION && strcmp(first, info->expect_id)) {
		if (!c->quiet)
			fprintf(stderr,
				"expectation failed: expected violation %s, the first was %s\n",
				info->expect_id, first);
		return EXIT_VIOLATION;
	}
	if (info->expect == MN_SCRIPT_EXPECT_CLEAN && found && !c->quiet)
		fprintf(stderr, "expectation failed: expected clean, found %s\n", first);
	return found ? EXIT_VIOLATION : EXIT_CLEAN;
}

/* ---- run ---------------------------------------------------------------------------- */

int cmd_run(struct cli *c, int argc, char **argv)
{
	const struct mn_scenario *sc;
	struct mn_script *s;
	struct mn_sim *sim = NULL;
	struct mn_sim_config cfg = { .trace_mode = MN_TRACE_FULL, .keep_going = false };
	struct mn_sched sched = { .kind = c->have_seed ? MN_SCHED_RANDOM : MN_SCHED_FIRST,
				  .seed = c->seed };
	char replay[1024];
	int r, nr;

	if (argc != 1)
		return cli_usage_error(c, "run needs one scenario file");
	s = cli_load(c, argv[0]);
	if (!s)
		return EXIT_USAGE;
	sc = mn_script_scenario(s);
	r = mn_sim_create(&cfg, &sim);
	for (size_t i = 0; !r && i < c->nr_mutate; i++)
		r = mn_sim_skip_step(sim, c->mutate[i]);
	if (!r)
		r = sc->setup(sim, sc->arg);
	if (r) {
		fprintf(stderr, "%s\n", mn_script_last_error(s) ? mn_script_last_error(s)
							      : strerror(-r));
		mn_sim_destroy(sim);
		mn_script_free(s);
		return EXIT_USAGE;
	}
	r = mn_sim_run(sim, &sched);
	sc->check(sim, sc->arg);
	nr = (int)mn_trace_nr_violations(mn_sim_get_trace(sim));
	cli_replay_line(c, argv[0], mn_sim_get_schedule(sim), replay, sizeof(replay));
	render(c, sim, s, replay);
	if (!c->quiet)
		fprintf(stderr, "schedule %s: %s\n", mn_sim_get_schedule(sim),
			nr ? mn_trace_violation(mn_sim_get_trace(sim), 0)->invariant : "clean");
	r = nr ? EXIT_VIOLATION : EXIT_CLEAN;
	mn_sim_destroy(sim);
	mn_script_free(s);
	return r;
}

/* ---- explore ------------------------------------------------------------------------- */

/*
 * DFS by iterative bounding: bound 0, 1, ... up to cfg->preemption_bound, stopping at the
 * first bound with a failing schedule. So a violation is reported with the fewest
 * preemptions that show it (the minimal interleaving), and a clean verdict is the
 * exhaustive exploration at the full bound. Other strategies run once.
 */
int cli_explore(const struct mn_scenario *sc, const struct mn_explore_config *cfg,
		struct mn_explore_result *res)
{
	struct mn_explore_config c = *cfg;
	unsigned int b;
	int r;

	if (cfg->strategy != MN_EXPLORE_DFS)
		return mn_explore(sc, cfg, res);
	for (b = 0;; b++) {
		c.preemption_bound = b;
		r = mn_explore(sc, &c, res);
		if (r || res->nr_failures || b >= cfg->preemption_bound)
			return r;
		mn_explore_result_free(res);
	}
}

/* A progress line on a terminal, redrawn in place; nothing when stderr is not a terminal. */
static void progress(void *arg, const struct mn_explore_progress *p)
{
	(void)arg;
	fprintf(stderr, "\r  %" PRIu64 " schedules, %" PRIu64 " failing, %.0f/s, %.1f s ",
		p->schedules, p->failures, p->rate, p->seconds);
}

int cmd_explore(struct cli *c, int argc, char **argv)
{
	const struct mn_script_info *info;
	struct mn_explore_config cfg;
	struct mn_explore_result res;
	bool tty = isatty(STDERR_FILENO) && !c->quiet;
	struct mn_script *s;
	const char *first = NULL;
	int r;

	if (argc != 1)
		return cli_usage_error(c, "explore needs one scenario file");
	s = cli_load(c, argv[0]);
	if (!s)
		return EXIT_USAGE;
	info = mn_script_info(s);
	memset(&cfg, 0, sizeof(cfg));
	cfg.strategy = c->strategy;
	cfg.preemption_bound = c->have_bound ? c->bound : info->bound;
	cfg.seed = c->have_seed ? c->seed : 1;
	cfg.pct_depth = 3;
	cfg.max_schedules = c->budget ? c->budget : (c->strategy == MN_EXPLORE_DFS ? 0 : 10000);
	cfg.max_seconds = c->seconds;
	cfg.progress = tty ? progress : NULL;
	cfg.skip_steps = c->mutate;
	cfg.nr_skip_steps = c->nr_mutate;
	cfg.progress_interval = 0.2;
	r = cli_explore(mn_script_scenario(s), &cfg, &res);
	if (tty)
		fputs("\r\033[K", stderr);
	if (r) {
		fprintf(stderr, "%s\n", mn_script_last_error(s) ? mn_script_last_error(s)
							      : strerror(-r));
		mn_script_free(s);
		return EXIT_USAGE;
	}
	if (res.nr_failures)
		first = res.failures[0].violation.invariant;
	if (!c->quiet) {
		char how[32];

		if (c->strategy == MN_EXPLORE_DFS)
			snprintf(how, sizeof(how), "dfs bound %u", cfg.preemption_bound);
		else
			snprintf(how, sizeof(how), "%s",
				 c->strategy == MN_EXPLORE_PCT ? "pct" : "random");
		fprintf(stderr, "%s: %s, %s: %" PRIu64 " schedule%s%s in %.2f s, %s%s%s\n",
			argv[0], info->title ? info->title : "scenario", how, res.schedules,
			res.schedules == 1 ? "" : "s",
			res.exhausted ? " (exhaustive)"
			: first	      ? ""
				      : " (stopped by the budget: not exhaustive)",
			res.seconds, first ? "violation " : "clean", first ? first : "",
			first && c->strategy == MN_EXPLORE_DFS ? " (fewest preemptions)" : "");
	}
	if (first) {
		if (!c->quiet)
			fprintf(stderr, "%s\n", res.failures[0].violation.detail);
		if (cli_show_run(c, s, argv[0], res.failures[0].schedule) < 0)
			r = -EIO;
	}
	r = r ? EXIT_USAGE : verdict(c, info, first != NULL, first);
	mn_explore_result_free(&res);
	mn_script_free(s);
	return r;
}

/* ---- replay ------------------------------------------------------------------------- */

int cmd_replay(struct cli *c, int argc, char **argv)
{
	struct mn_script *s;
	int nr;

	if (argc != 2)
		return cli_usage_error(c, "replay needs a scenario file and a schedule");
	s = cli_load(c, argv[0]);
	if (!s)
		return EXIT_USAGE;
	nr = cli_show_run(c, s, argv[0], argv[1]);
	mn_script_free(s);
	if (nr < 0)
		return EXIT_USAGE;
	return nr ? EXIT_VIOLATION : EXIT_CLEAN;
}

/* ---- mutants ------------------------------------------------------------------------ */

int cmd_mutants(struct cli *c, int argc, char **argv)
{
	const struct mn_script_info *info;
	struct mn_explore_config cfg;
	struct mn_mutant *m = NULL;
	struct mn_script *s;
	size_t nr = 0, i, caught = 0;
	int r;

	if (argc != 1)
		return cli_usage_error(c, "mutants needs one scenario file");
	s = cli_load(c, argv[0]);
	if (!s)
		return EXIT_USAGE;
	info = mn_script_info(s);
	memset(&cfg, 0, sizeof(cfg));
	cfg.strategy = MN_EXPLORE_DFS;
	cfg.preemption_bound = c->have_bound ? c->bound : info->bound;
	cfg.max_schedules = c->budget;
	r = mn_explore_mutants(mn_script_scenario(s), &cfg, &m, &nr);
	if (r == -ECANCELED) {
		fprintf(stderr, "%s: %s: the scenario already fails unmutated: mutants need a "
				"clean scenario (try another --variant)\n",
			c->prog, argv[0]);
		mn_script_free(s);
		return EXIT_VIOLATION;
	}
	if (r) {
		if (mn_script_last_error(s))
			fprintf(stderr, "%s\n", mn_script_last_error(s));
		else
			fprintf(stderr, "%s: %s: %s\n", c->prog, argv[0], strerror(-r));
		mn_script_free(s);
		return EXIT_USAGE;
	}
	fprintf(c->out, "%-40s %-9s %10s  %-36s %s\n", "step skipped", "verdict", "schedules",
		"first violation", "failing schedule");
	for (i = 0; i < nr; i++) {
		caught += m[i].caught;
		fprintf(c->out, "%-40s %-9s %10" PRIu64 "  %-36s %s\n", m[i].step,
			m[i].caught ? "caught" : "survived", m[i].schedules,
			m[i].caught ? m[i].invariant : "-", m[i].caught ? m[i].schedule : "-");
	}
	if (!c->quiet)
		fprintf(stderr, "%zu of %zu mutants caught at bound %u; a survivor is a missing "
				"check or an equivalent mutant; see a caught one with: %s replay "
				"FILE SCHEDULE --mutate STEP\n",
			caught, nr, cfg.preemption_bound, c->prog);
	mn_mutants_free(m, nr);
	mn_script_free(s);
	return EXIT_CLEAN;
}
