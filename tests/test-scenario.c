// SPDX-License-Identifier: MIT
/*
 * test-scenario.c - the scenario language (lib/scenario, docs/scenario-language.md): every
 * file of scenarios/ parses and keeps its expect line under the explorer on both
 * architectures; the files that mirror a built-in scenario explore exactly the same
 * schedules as the built-in and catch its guard's mutant with the same invariant; every
 * operation maps to its API call; every class of error names its line and column; and no
 * prefix or corruption of a scenario file crashes the parser or the run.
 */
#include "mn-test.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef MN_SCENARIO_DIR
#error "tests/meson.build defines MN_SCENARIO_DIR"
#endif

#define MAX_FILES 64

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const arch_names[] = { "x86", "arm64" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scenario files, sorted; free with free_files(). */
static size_t list_files(char **names)
{
	DIR *d = opendir(MN_SCENARIO_DIR);
	struct dirent *e;
	size_t n = 0, len;

	assert_non_null(d);
	while ((e = readdir(d))) {
		len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".mns"))
			continue;
		assert_true(n < MAX_FILES);
		names[n] = malloc(sizeof(MN_SCENARIO_DIR) + len + 1);
		assert_non_null(names[n]);
		sprintf(names[n], "%s/%s", MN_SCENARIO_DIR, e->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	return n;
}

static void free_files(char **names, size_t n)
{
	while (n)
		free(names[--n]);
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static const char *base(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static struct mn_script *load_ok(const char *path)
{
	struct mn_script_error err;
	struct mn_script *s = NULL;
	int r = mn_script_load(path, &s, &err);

	if (r)
		fail_msg("%s:%u:%u: %s (%d)", err.file, err.line, err.col, err.msg, r);
	return s;
}

static struct mn_script *parse_ok(const char *text)
{
	struct mn_script_error err;
	struct mn_script *s = NULL;
	int r = mn_script_parse("t.mns", text, strlen(text), &s, &err);

	if (r)
		fail_msg("t.mns:%u:%u: %s (%d)", err.line, err.col, err.msg, r);
	return s;
}

/* DFS at @bound; the result is the caller's to free. */
static void explore(struct mn_script *s, unsigned int bound, const char *skip,
		    struct mn_explore_result *res)
{
	const char *skips[1] = { skip };
	struct mn_explore_config cfg = {
		.strategy = MN_EXPLORE_DFS,
		.preemption_bound = bound,
		.skip_steps = skips,
		.nr_skip_steps = skip ? 1 : 0,
	};
	int r = mn_explore(mn_script_scenario(s), &cfg, res);

	if (r)
		fail_msg("explore: %d (%s)", r,
			 mn_script_last_error(s) ? mn_script_last_error(s) : "no setup error");
}

/* ---- the files ---------------------------------------------------------------------------- */

static void test_every_file_parses(void **state)
{
	char *files[MAX_FILES];
	size_t n, i;

	(void)state;
	n = list_files(files);
	/* The seed stories (10) and one file per built-in scenario (6, plus 001's). */
	assert_true(n >= 16);
	for (i = 0; i < n; i++) {
		struct mn_script *s = load_ok(files[i]);
		const struct mn_script_info *info = mn_script_info(s);

		assert_non_null(info->title);
		assert_true(info->nr_threads >= 1 && info->nr_threads <= 4);
		assert_true(info->bound >= 1);
		assert_true(info->checked);
		/* Every workshop file states its verdict. */
		assert_int_not_equal(info->expect, MN_SCRIPT_EXPECT_NONE);
		assert_true((info->expect == MN_SCRIPT_EXPECT_VIOLATION) ==
			    (info->expect_id != NULL));
		/* The seed stories name their seed thread. */
		if (base(files[i])[0] == '0')
			assert_non_null(info->seed);
		assert_string_equal(mn_script_scenario(s)->name, files[i]);
		assert_null(mn_script_last_error(s));
		mn_script_free(s);
	}
	free_files(files, n);
}

/*
 * Every file keeps its expect line, explored by DFS at its own bound on both architectures:
 * clean means no failing schedule and the bounded space exhausted; violation ID means the
 * first failure found is ID.
 */
static void test_every_file_keeps_its_expect_line(void **state)
{
	char *files[MAX_FILES];
	size_t n, i;
	int arch;

	(void)state;
	n = list_files(files);
	for (i = 0; i < n; i++) {
		for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
			struct mn_script *s = load_ok(files[i]);
			const struct mn_script_info *info = mn_script_info(s);
			struct mn_explore_result res;
			double t0 = now();

			assert_int_equal(mn_script_set_arch(s, (enum mn_vm_arch)arch), 0);
			explore(s, info->bound, NULL, &res);
			print_message("%-38s %-5s bound %u: %6llu schedules in %5.2f s, %s%s\n",
				      base(files[i]), arch_names[arch], info->bound,
				      (unsigned long long)res.schedules, now() - t0,
				      res.nr_failures ? "first " : "clean",
				      res.nr_failures ? res.failures[0].violation.invariant : "");
			if (info->expect == MN_SCRIPT_EXPECT_CLEAN) {
				if (res.nr_failures)
					fail_msg("%s: %s (schedule %s)", base(files[i]),
						 res.failures[0].violation.detail,
						 res.failures[0].schedule);
				assert_true(res.exhausted);
				assert_true(res.schedules >= 1);
			} else {
				assert_true(res.failing_runs > 0);
				assert_string_equal(res.failures[0].violation.invariant,
						    info->expect_id);
			}
			mn_explore_result_free(&res);
			mn_script_free(s);
		}
	}
	free_files(files, n);
}

/* The files that mirror a built-in scenario of builtin.h. */
static const struct {
	const char *file;
	const char *builtin;
} mirrors[] = {
	{ "fault-vs-munmap.mns", "fault-vs-munmap" },
	{ "fault-vs-mprotect.mns", "fault-vs-mprotect" },
	{ "delete-memslot-vs-fault.mns", "delete-memslot-vs-fault" },
	{ "aging-vs-fault.mns", "aging-vs-fault" },
	{ "delete-memslot-vs-munmap.mns", "delete-memslot-vs-munmap" },
	{ "dirty-log-harvest-vs-guest-write.mns", "dirty-log-harvest-vs-guest-write" },
	{ "001-userfault-toggle-vs-fault.mns", "userfault-toggle-vs-fault" },
};

/*
 * A file that mirrors a built-in runs the same world and the same calls: the same number of
 * schedules at bound 2, and with the built-in's guard step skipped the same first failing
 * schedule with the same invariant.
 */
static void test_files_mirror_the_builtins(void **state)
{
	size_t i, j;
	int arch;

	(void)state;
	assert_int_equal(ARRAY_SIZE(mirrors), mn_builtin_count());
	for (i = 0; i < ARRAY_SIZE(mirrors); i++) {
		const struct mn_builtin_info *info = NULL;
		char path[512];

		for (j = 0; j < mn_builtin_count(); j++)
			if (!strcmp(mn_builtin_info(j)->name, mirrors[i].builtin))
				info = mn_builtin_info(j);
		assert_non_null(info);
		snprintf(path, sizeof(path), "%s/%s", MN_SCENARIO_DIR, mirrors[i].file);
		for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
			struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS,
							 .preemption_bound = 2 };
			struct mn_explore_result rb, rs;
			struct mn_script *s = load_ok(path);
			struct mn_builtin *b;

			assert_int_equal(mn_script_set_arch(s, (enum mn_vm_arch)arch), 0);
			assert_int_equal(mn_builtin_open(info->name, (enum mn_vm_arch)arch, &b), 0);
			assert_int_equal(mn_explore(mn_builtin_scenario(b), &cfg, &rb), 0);
			explore(s, 2, NULL, &rs);
			print_message("%-38s %-5s: %6llu schedules, built-in %llu\n",
				      mirrors[i].file, arch_names[arch],
				      (unsigned long long)rs.schedules,
				      (unsigned long long)rb.schedules);
			assert_int_equal(rs.failing_runs, 0);
			assert_int_equal(rb.failing_runs, 0);
			assert_int_equal(rs.schedules, rb.schedules);
			mn_explore_result_free(&rb);
			mn_explore_result_free(&rs);
			if (info->guard) {
				cfg.skip_steps = &info->guard;
				cfg.nr_skip_steps = 1;
				assert_int_equal(mn_explore(mn_builtin_scenario(b), &cfg, &rb), 0);
				explore(s, 2, info->guard, &rs);
				assert_true(rs.failing_runs > 0 && rb.failing_runs > 0);
				print_message("  without %s: %s, schedule %s\n", info->guard,
					      rs.failures[0].violation.invariant,
					      rs.failures[0].schedule);
				assert_string_equal(rs.failures[0].violation.invariant,
						    rb.failures[0].violation.invariant);
				assert_string_equal(rs.failures[0].schedule,
						    rb.failures[0].schedule);
				mn_explore_result_free(&rb);
				mn_explore_result_free(&rs);
			}
			mn_builtin_close(b);
			mn_script_free(s);
		}
	}
}

/*
 * 000-gpc-vs-munmap.mns says that --variant upstream, filter-userspace-mappings and
 * gpc-own-seq each make it clean: checked on x86 at bound 1 (bound 2 takes about 9000
 * schedules each; the stories test covers it there), and the RFC fails at bound 1 too.
 */
static void test_000_variants_as_the_file_says(void **state)
{
	static const char *const fixes[] = { "upstream", "filter-userspace-mappings",
					     "gpc-own-seq" };
	struct mn_explore_result res;
	struct mn_script *s;
	unsigned int v;
	size_t i;

	(void)state;
	s = load_ok(MN_SCENARIO_DIR "/000-gpc-vs-munmap.mns");
	assert_int_equal(mn_script_info(s)->variant, MN_VARIANT_RFC_SKIP_GMEM_ONLY);
	explore(s, 1, NULL, &res);
	assert_true(res.failing_runs > 0);
	assert_string_equal(res.failures[0].violation.invariant, "frame.use_after_free");
	mn_explore_result_free(&res);
	for (i = 0; i < ARRAY_SIZE(fixes); i++) {
		assert_int_equal(mn_variant_parse(fixes[i], &v), 0);
		assert_int_equal(mn_script_set_variant(s, v), 0);
		assert_int_equal(mn_script_info(s)->variant, v);
		explore(s, 1, NULL, &res);
		print_message(
			"000-gpc-vs-munmap --variant %s, bound 1: %llu schedules, %llu failing\n",
			fixes[i], (unsigned long long)res.schedules,
			(unsigned long long)res.failing_runs);
		assert_int_equal(res.failing_runs, 0);
		assert_true(res.exhausted);
		mn_explore_result_free(&res);
	}
	mn_script_free(s);
}

/*
 * 003-gmem-host-level.mns: the mutant's 2 MiB leaf is first caught by the frame oracle
 * when it is installed over frames that are not the file's; the level oracle reports
 * kvm.level_exceeds_gmem_folio in the same run, right after.
 */
static void test_003_host_level_reports_the_level(void **state)
{
	struct mn_sim_config cfg = { .keep_going = true };
	struct mn_script *s;
	struct mn_sim *sim;
	struct mn_trace *t;
	bool level = false;
	size_t i;

	(void)state;
	s = load_ok(MN_SCENARIO_DIR "/003-gmem-host-level.mns");
	assert_int_equal(mn_explore_replay(mn_script_scenario(s), &cfg, NULL, 0, "s1:", &sim),
			 MN_RUN_VIOLATION);
	t = mn_sim_get_trace(sim);
	assert_string_equal(mn_trace_violation(t, 0)->invariant, "frame.use_after_free");
	for (i = 0; i < mn_trace_nr_violations(t); i++)
		level |= !strcmp(mn_trace_violation(t, i)->invariant,
				 "kvm.level_exceeds_gmem_folio");
	assert_true(level);
	mn_sim_destroy(sim);
	/* Upstream takes the level from the folio: clean. */
	assert_int_equal(mn_script_set_variant(s, 0), 0);
	assert_int_equal(mn_explore_replay(mn_script_scenario(s), &cfg, NULL, 0, "s1:", &sim),
			 MN_RUN_OK);
	mn_sim_destroy(sim);
	mn_script_free(s);
}

/* ---- operations ---------------------------------------------------------------------------- */

/* Every operation once, each with what its API call returns here. */
static const char smoke[] = "vm vcpus 2\n"
			    "thp madvise\n"
			    "file shm size 16K\n"
			    "gmem gm size 16K flags mmap,init-shared\n"
			    "mmap ram 64K rw\n"
			    "mmap sh 16K rw shared\n"
			    "mmap fm 16K rw file shm\n"
			    "mmap gmap 16K rw file gm\n"
			    "mmap pop 16K r populate\n"
			    "bitmap uf 0\n"
			    "gpc c1\n"
			    "gpc c2\n"
			    "memslot 0 gpa 0 size 64K hva ram\n"
			    "memslot 1 gpa 0x100000 size 16K hva gmap gmem gm offset 0\n"
			    "thread t\n"
			    "  host write ram 0x42\n"
			    "  host read ram -> 0x42\n"
			    "  guest read 0 -> 0x42\n"
			    "  guest vcpu 1 write 0x1000 7\n"
			    "  host read ram+4K -> 7\n"
			    "  guest exec 0x1000 -> any\n"
			    "  guest read 0x200000 -> exit mmio\n"
			    "  spte 0 -> 4K\n"
			    "  spte 0x5000 -> 0\n"
			    "  guest write 0x100000 9\n"
			    "  host read gmap -> 9\n"
			    "  host write fm 3\n"
			    "  host read fm -> 3\n"
			    "  host read pop -> 0\n"
			    "  gpc c1 activate gpa 0\n"
			    "  gpc c1 read -> 0x42\n"
			    "  gpc c1 write 0 0x43\n"
			    "  host read ram -> 0x43\n"
			    "  gpc c1 refresh\n"
			    "  gpc c1 deactivate\n"
			    "  gpc c1 read -> EINVAL\n"
			    "  gpc c2 activate hva sh len 8\n"
			    "  gpc c2 read 8 -> 0\n"
			    "  munmap ram+60K 4K\n"
			    "  guest read 0xf000 -> exit memory-fault\n"
			    "  remap ram+60K 4K\n"
			    "  guest read 0xf000 -> 0\n"
			    "  mprotect ram+8K 4K r\n"
			    "  guest write 0x2000 1 -> exit memory-fault\n"
			    "  mprotect ram+8K 4K rw\n"
			    "  madvise ram 64K hugepage\n"
			    "  madvise ram+4K 4K dontneed\n"
			    "  host read ram+4K -> 0\n"
			    "  migrate ram\n"
			    "  age ram 64K test\n"
			    "  age ram 64K clear\n"
			    "  memslot move 1 gpa 0x200000 -> EINVAL\n"
			    "  memslot 2 gpa 0x300000 size 16K hva sh\n"
			    "  guest write 0x300000 6\n"
			    "  memslot move 2 gpa 0x400000 as 0\n"
			    "  guest read 0x400000 -> 6\n"
			    "  guest read 0x300000 -> exit mmio\n"
			    "  memslot flags 0 log-dirty\n"
			    "  guest write 0x3000 5\n"
			    "  dirty-log get 0 -> 0x8\n"
			    "  dirty-log clear 0 0 16 -> ok|EINVAL\n"
			    "  memslot flags 0 userfault bitmap uf\n"
			    "  bitmap-set uf 0 1\n"
			    "  guest read 0 -> exit userfault\n"
			    "  memslot flags 0 none\n"
			    "  memslot delete 1\n"
			    "  punch shm 0 4K\n"
			    "  allocate shm 0 4K\n"
			    "  host read fm -> 0\n"
			    "  allocate gm 0 4K\n"
			    "  punch gm 0 4K\n"
			    "  convert gm 0 4K private -> EINVAL\n"
			    "  attributes 0 4K shared\n"
			    "  attributes 0 4K private -> EINVAL\n"
			    "  close shm\n"
			    "  close shm -> EBADF\n"
			    "  yield\n"
			    "  memslot delete 0\n"
			    "  munmap 0x1001 4K -> EINVAL\n"
			    "expect clean\n";

static void test_every_operation_calls_its_api(void **state)
{
	struct mn_sim_config cfg = { .keep_going = true };
	struct mn_script *s;
	struct mn_sim *sim;
	struct mn_trace *t;
	size_t i;
	int arch, r;

	(void)state;
	s = parse_ok(smoke);
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		assert_int_equal(mn_script_set_arch(s, (enum mn_vm_arch)arch), 0);
		r = mn_explore_replay(mn_script_scenario(s), &cfg, NULL, 0, "s1:", &sim);
		t = mn_sim_get_trace(sim);
		for (i = 0; i < mn_trace_nr_violations(t); i++)
			print_message("%s: %s: %s\n", arch_names[arch],
				      mn_trace_violation(t, i)->invariant,
				      mn_trace_violation(t, i)->detail);
		assert_int_equal(r, MN_RUN_OK);
		assert_int_equal(mn_trace_nr_violations(t), 0);
		mn_sim_destroy(sim);
	}
	mn_script_free(s);
}

/* A result the line does not accept is a violation naming file, line, call and results. */
static void test_unexpected_results_are_reported(void **state)
{
	static const char text[] = "mmap m 16K rw\n"
				   "thread t\n"
				   "  munmap m+1 4K\n"
				   "  host write m 7\n"
				   "  host read m -> 8|EFAULT\n"
				   "  guest read 0x1000 -> ok\n"
				   "  munmap m 4K -> EINVAL stop-on ok\n"
				   "  host read m -> 1\n"
				   "expect clean\n";
	struct mn_sim_config cfg = { .keep_going = true };
	struct mn_explore_result res;
	struct mn_script *s = parse_ok(text);
	struct mn_sim *sim;
	struct mn_trace *t;

	(void)state;
	assert_int_equal(mn_explore_replay(mn_script_scenario(s), &cfg, NULL, 0, "s1:", &sim),
			 MN_RUN_VIOLATION);
	t = mn_sim_get_trace(sim);
	/* The thread went on after each, and stop-on ended it before the last line. */
	assert_int_equal(mn_trace_nr_violations(t), 3);
	assert_string_equal(mn_trace_violation(t, 0)->invariant, "script.unexpected_result");
	assert_int_equal(mn_trace_violation(t, 0)->kind, MN_VIOL_CHECK);
	assert_string_equal(mn_trace_violation(t, 0)->detail,
			    "t.mns:3: munmap m+1 4K returned EINVAL, expected ok");
	assert_string_equal(mn_trace_violation(t, 1)->detail,
			    "t.mns:5: host read m returned 0x7, expected 8|EFAULT");
	assert_string_equal(mn_trace_violation(t, 2)->detail,
			    "t.mns:6: guest read 0x1000 returned exit mmio, expected ok");
	mn_sim_destroy(sim);
	/* The explorer stops at the first. */
	explore(s, 2, NULL, &res);
	assert_true(res.failing_runs > 0);
	assert_string_equal(res.failures[0].violation.detail,
			    "t.mns:3: munmap m+1 4K returned EINVAL, expected ok");
	mn_explore_result_free(&res);
	mn_script_free(s);
}

/* stop-on accepts the result and ends the thread; "any" accepts everything. */
static void test_stop_on_and_any(void **state)
{
	static const char text[] = "mmap m 16K rw\n"
				   "thread t\n"
				   "  munmap m+1 4K -> ok stop-on EINVAL\n"
				   "  munmap m+1 4K -> ok\n"
				   "thread u\n"
				   "  munmap 0x1001 4K -> any\n"
				   "  guest read 0x9000 -> any\n"
				   "after\n"
				   "  host read m -> 0\n"
				   "  munmap m+1 4K -> EINVAL stop-on EINVAL\n"
				   "  host read m -> 99\n"
				   "expect clean\n";
	struct mn_explore_result res;
	struct mn_script *s = parse_ok(text);

	(void)state;
	explore(s, 2, NULL, &res);
	assert_int_equal(res.failing_runs, 0);
	assert_true(res.exhausted);
	mn_explore_result_free(&res);
	mn_script_free(s);
}

/* The setup's failures: a negative errno from the scenario, and the line that failed. */
static void test_setup_failures_name_the_line(void **state)
{
	static const struct {
		const char *text;
		int ret;
		const char *msg;
	} cases[] = {
		{ "mmap m 16K rw\nmmap bad 0 rw\nthread t\n  yield\n", -EINVAL,
		  "t.mns:2: mmap bad 0 rw returned EINVAL, expected ok" },
		{ "title \"x\"\narch arm64\nvm ipa-bits 20\nthread t\n  yield\n", -EINVAL,
		  "t.mns:3: the VM: mn_vm_create() returned EINVAL" },
		{ "guest read 0x1000\nthread t\n  yield\n", -EIO,
		  "t.mns:1: guest read 0x1000 returned exit mmio, expected ok" },
		{ "mmap m 16K rw\nhost read m -> EFAULT\nthread t\n  yield\n", -EIO,
		  "t.mns:2: host read m returned 0, expected EFAULT" },
		{ "gmem g size 4K flags init-shared\nmmap m 4K rw file g\nthread t\n  yield\n",
		  -ENODEV, "t.mns:2: mmap m 4K rw file g returned ENODEV, expected ok" },
	};
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 2 };
	struct mn_explore_result res;
	struct mn_script *s;
	struct mn_sim *sim;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		s = parse_ok(cases[i].text);
		assert_null(mn_script_last_error(s));
		assert_int_equal(mn_explore(mn_script_scenario(s), &cfg, &res), cases[i].ret);
		assert_non_null(mn_script_last_error(s));
		assert_string_equal(mn_script_last_error(s), cases[i].msg);
		/* The setup reported it in the world too, and left nothing behind. */
		assert_int_equal(mn_sim_create(NULL, &sim), 0);
		assert_int_equal(mn_script_scenario(s)->setup(sim, mn_script_scenario(s)->arg),
				 cases[i].ret);
		assert_int_equal(mn_trace_nr_violations(mn_sim_get_trace(sim)), 1);
		assert_string_equal(mn_trace_violation(mn_sim_get_trace(sim), 0)->invariant,
				    "script.setup_failed");
		assert_string_equal(mn_trace_violation(mn_sim_get_trace(sim), 0)->detail,
				    cases[i].msg);
		mn_sim_destroy(sim);
		mn_script_free(s);
	}
	/* A setup that succeeds forgets the last error. */
	s = parse_ok("mmap m 16K rw\nhost read m -> EFAULT\nthread t\n  yield\n");
	assert_int_equal(mn_explore(mn_script_scenario(s), &cfg, &res), -EIO);
	assert_non_null(mn_script_last_error(s));
	mn_script_free(s);
	s = parse_ok("mmap m 16K rw\nhost read m -> any\nthread t\n  yield\n");
	assert_int_equal(mn_explore(mn_script_scenario(s), &cfg, &res), 0);
	assert_null(mn_script_last_error(s));
	mn_explore_result_free(&res);
	mn_script_free(s);
}

/*
 * A run cut short by a violation leaves threads in their calls; calling the check anyway
 * (as a CLI printing the run does) must neither crash nor touch them.
 */
static void test_check_after_a_cut_run(void **state)
{
	static const char text[] = "mmap m 16K rw\n"
				   "memslot 0 gpa 0 size 16K hva m\n"
				   "thread a\n"
				   "  munmap m 4K -> EINVAL\n"
				   "  guest write 0 1\n"
				   "thread b\n"
				   "  munmap m 16K\n"
				   "expect clean\n";
	struct mn_script *s = parse_ok(text);
	const struct mn_scenario *sc = mn_script_scenario(s);
	struct mn_sim *sim;

	(void)state;
	assert_int_equal(mn_sim_create(NULL, &sim), 0);
	assert_int_equal(sc->setup(sim, sc->arg), 0);
	assert_int_equal(mn_sim_run(sim, NULL), MN_RUN_VIOLATION);
	sc->check(sim, sc->arg);
	assert_string_equal(mn_trace_violation(mn_sim_get_trace(sim), 0)->invariant,
			    "script.unexpected_result");
	mn_sim_destroy(sim);
	mn_script_free(s);
}

/* ---- names, info, overrides ---------------------------------------------------------------- */

static void test_variant_names(void **state)
{
	unsigned int v, bit;

	(void)state;
	assert_string_equal(mn_variant_name(0), "upstream");
	for (bit = 1; bit & MN_VARIANT_ALL; bit <<= 1) {
		assert_non_null(mn_variant_name(bit));
		assert_int_equal(mn_variant_parse(mn_variant_name(bit), &v), 0);
		assert_int_equal(v, bit);
	}
	assert_null(mn_variant_name(bit));
	assert_null(mn_variant_name(MN_VARIANT_GPC_OWN_SEQ | MN_VARIANT_GMEM_HOST_LEVEL));
	assert_string_equal(mn_variant_name(MN_VARIANT_RFC_SKIP_GMEM_ONLY), "rfc-skip-gmem-only");
	assert_string_equal(mn_variant_name(MN_VARIANT_GMEM_INPLACE_CONVERSION),
			    "gmem-inplace-conversion");
	assert_int_equal(mn_variant_parse("upstream", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mn_variant_parse("gpc-own-seq,userfault-create-only", &v), 0);
	assert_int_equal(v, MN_VARIANT_GPC_OWN_SEQ | MN_VARIANT_USERFAULT_CREATE_ONLY);
	v = 77;
	assert_int_equal(mn_variant_parse("gpc-own-seq,nope", &v), -EINVAL);
	assert_int_equal(mn_variant_parse("", &v), -EINVAL);
	assert_int_equal(mn_variant_parse("gpc-own-seq,", &v), -EINVAL);
	assert_int_equal(mn_variant_parse(",gpc-own-seq", &v), -EINVAL);
	assert_int_equal(v, 77);
}

static void test_info_and_overrides(void **state)
{
	static const char text[] = "# a comment line\n"
				   "title \"a \\\"quoted\\\" title\"   # and a comment\n"
				   "seed 000_f2bef73383c6b3ec.txt\n"
				   "arch arm64\n"
				   "variant userfault-create-only,gpc-own-seq\n"
				   "checked off\n"
				   "bound 3\n"
				   "\n"
				   "thread one\n"
				   "  yield\n"
				   "thread two\n"
				   "  yield\n"
				   "expect violation frame.use_after_free\n";
	const struct mn_script_info *info;
	struct mn_script *s = parse_ok(text);

	(void)state;
	info = mn_script_info(s);
	assert_string_equal(info->title, "a \"quoted\" title");
	assert_string_equal(info->seed, "000_f2bef73383c6b3ec.txt");
	assert_int_equal(info->arch, MN_VM_ARM64);
	assert_int_equal(info->variant, MN_VARIANT_USERFAULT_CREATE_ONLY | MN_VARIANT_GPC_OWN_SEQ);
	assert_false(info->checked);
	assert_int_equal(info->bound, 3);
	assert_int_equal(info->nr_threads, 2);
	assert_int_equal(info->expect, MN_SCRIPT_EXPECT_VIOLATION);
	assert_string_equal(info->expect_id, "frame.use_after_free");
	/* Overrides. */
	assert_int_equal(mn_script_set_arch(s, MN_VM_X86), 0);
	assert_int_equal(info->arch, MN_VM_X86);
	assert_int_equal(mn_script_set_arch(s, (enum mn_vm_arch)5), -EINVAL);
	assert_int_equal(mn_script_set_variant(s, 0), 0);
	assert_int_equal(info->variant, 0);
	assert_int_equal(mn_script_set_variant(s, MN_VARIANT_ALL + 1), -EINVAL);
	assert_int_equal(mn_script_set_variant(s, MN_VARIANT_GPC_OWN_SEQ |
							  MN_VARIANT_FILTER_USERSPACE_MAPPINGS),
			 -EINVAL);
	assert_int_equal(info->variant, 0);
	mn_script_free(s);

	/* Defaults; a private-memory VM type exists on x86 only. */
	s = parse_ok("vm type sw-protected vcpus 2\nthread t\n  yield\n");
	info = mn_script_info(s);
	assert_null(info->title);
	assert_null(info->seed);
	assert_int_equal(info->arch, MN_VM_X86);
	assert_int_equal(info->variant, 0);
	assert_true(info->checked);
	assert_int_equal(info->bound, 2);
	assert_int_equal(info->expect, MN_SCRIPT_EXPECT_NONE);
	assert_null(info->expect_id);
	assert_int_equal(mn_script_set_arch(s, MN_VM_ARM64), -EINVAL);
	assert_int_equal(info->arch, MN_VM_X86);
	mn_script_free(s);
	mn_script_free(NULL);
}

/* ---- errors -------------------------------------------------------------------------------- */

#define T "thread t\n  yield\n"

static const struct {
	const char *text;
	unsigned int line, col;
	const char *msg;
} errors[] = {
	/* numbers and words */
	{ "gmem gm size foo\n" T, 1, 14,
	  "expected a size (4K, 0x1000, ...) after 'size', got 'foo'" },
	{ "mmap m 99999999999999999999 rw\n" T, 1, 8,
	  "number '99999999999999999999' after 'm' does not fit in 64 bits" },
	{ "mmap m 0x rw\n" T, 1, 8, "expected a size (4K, 0x1000, ...) after 'm', got '0x'" },
	{ "mmap m 4k rw\n" T, 1, 8, "expected a size (4K, 0x1000, ...) after 'm', got '4k'" },
	{ "mmap m 4K rwz\n" T, 1, 11,
	  "expected one of 'none', 'r', 'rw', 'rx', or 'rwx' after '4K', got 'rwz'" },
	{ "arch riscv\n" T, 1, 6, "expected 'x86' or 'arm64' after 'arch', got 'riscv'" },
	{ "mmap Big 4K rw\n" T, 1, 6,
	  "expected a name ([a-z][a-z0-9_-]*) after 'mmap', got 'Big'" },
	{ "title untitled\n" T, 1, 7,
	  "expected a string in double quotes after 'title', got 'untitled'" },
	{ "title \"open\n" T, 1, 7, "unterminated string: expected a closing '\"'" },
	{ "mmap m 4K\x01 rw\n" T, 1, 10, "unexpected control character 0x01" },
	{ "mmap m 4K rw\0\n" T, 1, 13, "unexpected control character 0x00" },
	{ "\"str\" x\n" T, 1, 1, "expected a keyword at the start of the line, got \"str\"" },
	/* unknown names */
	{ "frobnicate 1\n" T, 1, 1,
	  "expected a header, a definition, 'thread', 'after', 'expect' or an operation (guest, "
	  "host, munmap, memslot, gpc, ...), got 'frobnicate'" },
	{ "variant upstream,bogus\n" T, 1, 18,
	  "unknown variant 'bogus' (expected upstream, userfault-create-only, rfc-skip-gmem-only, "
	  "filter-userspace-mappings, gpc-own-seq, gmem-inplace-conversion, mutant-gmem-host-level)" },
	{ "variant rfc-skip-gmem-only,gpc-own-seq\n" T, 1, 28,
	  "variant 'gpc-own-seq': rfc-skip-gmem-only, filter-userspace-mappings and gpc-own-seq "
	  "exclude each other" },
	{ "thread t\n  munmap 0 4K -> EWHAT\n", 2, 18,
	  "unknown errno name 'EWHAT' (expected one of EFAULT, EINVAL, EAGAIN, EEXIST, EBADF, "
	  "ENOMEM, EBUSY, ENODEV, ...)" },
	{ "gmem g size 4K flags mmap,shared\n" T, 1, 27,
	  "unknown guest_memfd flag 'shared' (expected mmap, init-shared, no-direct-map)" },
	{ "gmem g size 4K flags mmap,,init-shared\n" T, 1, 27,
	  "expected a guest_memfd flag (mmap, init-shared, no-direct-map) after ','" },
	{ "mmap m 4K rw\nmemslot 0 gpa 0 size 4K hva m flags log-dirty,bogus\n" T, 2, 47,
	  "unknown memslot flag 'bogus' (expected log-dirty, readonly, userfault, or none)" },
	{ T "expect maybe\n", 3, 8, "expected 'clean' or 'violation' after 'expect', got 'maybe'" },
	{ T "expect violation Frame\n", 3, 18,
	  "expected an invariant id (e.g. frame.use_after_free) after 'violation', got 'Frame'" },
	/* definitions and uses */
	{ "mmap m 4K rw\nmmap m 4K rw\n" T, 2, 6, "'m' is already defined at line 1" },
	{ "gpc c\nbitmap c 0\n" T, 2, 8, "'c' is already defined at line 1" },
	{ "munmap m 4K\nmmap m 4K rw\n" T, 1, 8,
	  "'m' is not defined (define it before this line)" },
	{ "thread t\n  gpc c read\n", 2, 7, "'c' is not defined (define it before this line)" },
	{ "gmem g size 4K\nmunmap g 4K\n" T, 2, 8,
	  "'g' is a guest_memfd (gmem), expected a mapping (mmap)" },
	{ "mmap m 4K rw\npunch m 0 4K\n" T, 2, 7,
	  "'m' is a mapping (mmap), expected a file or guest_memfd name" },
	{ "mmap m 4K rw\nthread t\n  host read m+zz\n", 3, 15,
	  "expected an offset (a number) after '+', got 'zz'" },
	{ "thread t\n  remap 0x1000\n", 2, 15,
	  "expected a size (remap of an address needs one) after '0x1000', got end of line" },
	{ "bitmap b 0 0\nthread t\n  bitmap-set b 2 1\n", 3, 16,
	  "bitmap 'b' has 2 words, got word 2" },
	{ "vm vcpus 2\nthread t\n  guest vcpu 2 read 0\n", 3, 14,
	  "vcpu 2 does not exist: the VM has 2 (see 'vm vcpus N')" },
	{ "mmap m 4K rw\nmemslot 0 size 4K hva m\n" T, 2, 24,
	  "memslot: missing 'gpa GPA' (a memslot needs gpa, size and hva)" },
	{ "mmap m 4K rw\nmemslot 0 gpa 0 size 4K hva m offset 4K\n" T, 2, 31,
	  "'offset' needs 'gmem OBJ'" },
	{ "mmap m 4K rw offset 4K\n" T, 1, 14, "'offset' needs 'file OBJ'" },
	{ "mmap m 4K rw anon shared\n" T, 1, 19,
	  "'shared' given twice on this line (anon, shared and file are one choice)" },
	{ "vm vcpus 9\n" T, 1, 10, "'vcpus' takes at most 8, got 9" },
	{ "vm\n" T, 1, 3,
	  "expected 'type', 'vcpus', 'ept-levels', 'ipa-bits' or 'dirty-log' after 'vm', got end "
	  "of line" },
	{ "bound 5000\n" T, 1, 7, "'bound' takes at most 1000, got 5000" },
	/* results */
	{ "mmap m 4K rw\nthread t\n  munmap m 4K -> 5\n", 3, 18,
	  "a value result needs a read (guest read, guest exec, host read, gpc read, dirty-log "
	  "get, spte)" },
	{ "mmap m 4K rw\nthread t\n  munmap m 4K -> exit mmio\n", 3, 18,
	  "'exit' results are for guest accesses only" },
	{ "thread t\n  guest read 0 -> exit door\n", 2, 24,
	  "expected one of 'mmio', 'memory-fault', 'userfault', or 'gave-up' after 'exit', got "
	  "'door'" },
	{ "thread t\n  munmap 0 4K -> ok EINVAL\n", 2, 21,
	  "expected '|', 'stop-on' or the end of the line after 'ok', got 'EINVAL'" },
	{ "thread t\n  munmap 0 4K ->\n", 2, 17,
	  "expected a result (ok, any, an errno name such as EFAULT) after '->', got end of line" },
	{ "thread t\n  munmap 0 4K -> ok|\n", 2, 21,
	  "expected a result (ok, any, an errno name such as EFAULT) after '|', got end of line" },
	{ "mmap m 4K rw\nthread t\n  munmap m 4K extra\n", 3, 15,
	  "expected '->', 'stop-on' or the end of the line, got 'extra'" },
	{ "mmap m 4K rw\nmunmap m 4K stop-on EINVAL\n" T, 2, 13,
	  "'stop-on' ends a thread: it is for thread and after lines only" },
	/* structure */
	{ "thread a\nthread b\nthread c\nthread d\nthread e\n", 5, 1,
	  "too many threads (at most 4)" },
	{ "thread t\nthread t\n", 2, 8, "thread 't' is already defined at line 1" },
	{ "mmap m 4K rw\narch x86\n" T, 2, 1,
	  "'arch' is a header line: it must come before every other line" },
	{ "arch x86\narch arm64\n" T, 2, 1, "'arch' given twice (first at line 1)" },
	{ "mmap m 4K rw\n", 2, 1,
	  "expected at least one 'thread' block before the end of the file" },
	{ "", 1, 1, "expected at least one 'thread' block before the end of the file" },
	{ T "mmap m 4K rw\n", 3, 1,
	  "'mmap' defines an object: definitions come before the first 'thread'" },
	{ T "expect clean\nthread u\n", 4, 1,
	  "nothing may follow the 'expect' line, got 'thread'" },
	{ "after\n" T, 1, 1, "'after' must follow the thread blocks" },
	{ T "after\nafter\n", 4, 1, "'after' given twice" },
	{ T "after\nthread u\n", 4, 1, "'thread' after the 'after' block: threads come first" },
	{ "thread t\n  yield now\n", 2, 9,
	  "expected '->', 'stop-on' or the end of the line, got 'now'" },
	{ "thread t extra\n", 1, 10, "expected the end of the line, got 'extra'" },
};

static void test_errors_name_line_and_column(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(errors); i++) {
		struct mn_script_error err;
		struct mn_script *s = NULL;
		size_t len = strlen(errors[i].text);
		int r;

		/* The NUL case: its text goes on after the NUL byte. */
		if (strstr(errors[i].msg, "0x00"))
			len = sizeof("mmap m 4K rw\0\n" T) - 1;
		r = mn_script_parse("t.mns", errors[i].text, len, &s, &err);
		if (r != -EINVAL || err.line != errors[i].line || err.col != errors[i].col ||
		    strcmp(err.msg, errors[i].msg))
			fail_msg("case %zu: got %d %u:%u: %s\nwant %u:%u: %s", i, r, err.line,
				 err.col, err.msg, errors[i].line, errors[i].col, errors[i].msg);
		assert_null(s);
		assert_string_equal(err.file, "t.mns");
	}
}

static void test_load_errors(void **state)
{
	struct mn_script_error err;
	struct mn_script *s = NULL;

	(void)state;
	assert_int_equal(mn_script_load(MN_SCENARIO_DIR "/no-such-file.mns", &s, &err), -ENOENT);
	assert_null(s);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	assert_string_equal(err.file, MN_SCENARIO_DIR "/no-such-file.mns");
	/* A directory cannot be read; a file above 1 MiB is refused. */
	assert_true(mn_script_load(MN_SCENARIO_DIR, &s, &err) < 0);
	assert_int_equal(err.line, 0);
	assert_true(err.msg[0] != '\0');
	{
		char path[] = "/tmp/mnsim-scenario-XXXXXX";
		int fd = mkstemp(path);
		FILE *f;
		size_t i;

		assert_true(fd >= 0);
		f = fdopen(fd, "w");
		assert_non_null(f);
		for (i = 0; i < (1U << 20) / 16 + 1; i++)
			fputs("# padding......\n", f);
		fclose(f);
		assert_int_equal(mn_script_load(path, &s, &err), -EFBIG);
		assert_string_equal(err.msg, "larger than 1048576 bytes");
		unlink(path);
	}
	assert_int_equal(mn_script_parse(NULL, "thread t\n  yield", 16, &s, &err), 0);
	assert_string_equal(mn_script_scenario(s)->name, "<string>");
	mn_script_free(s);
	assert_int_equal(mn_script_parse("x", NULL, 5, &s, &err), -EINVAL);
}

/* ---- robustness ---------------------------------------------------------------------------- */

static void assert_parse_result(const char *what, size_t at, int r,
				const struct mn_script_error *err)
{
	if (r == -EINVAL && err->line >= 1 && err->col >= 1 && err->msg[0])
		return;
	if (!r)
		return;
	fail_msg("%s at %zu: %d %u:%u: '%s'", what, at, r, err->line, err->col, err->msg);
}

/* Every prefix of every file: parsed, or refused with a line, a column and a message. */
static void test_every_prefix_parses_or_is_refused(void **state)
{
	char *files[MAX_FILES];
	size_t n, i, len, k, refused = 0;

	(void)state;
	n = list_files(files);
	for (i = 0; i < n; i++) {
		char *text = read_text(files[i], &len);

		for (k = 0; k <= len; k++) {
			struct mn_script_error err;
			struct mn_script *s = NULL;
			/* A heap copy of exactly k bytes, so that ASan sees any over-read. */
			char *pre = malloc(k ? k : 1);
			int r;

			assert_non_null(pre);
			memcpy(pre, text, k);
			r = mn_script_parse(files[i], pre, k, &s, &err);
			assert_parse_result(base(files[i]), k, r, &err);
			refused += r != 0;
			if (k == len)
				assert_int_equal(r, 0);
			mn_script_free(s);
			free(pre);
		}
		free(text);
	}
	print_message("%zu prefixes refused\n", refused);
	assert_true(refused > 0);
	free_files(files, n);
}

/*
 * Random corruptions of every file (1-3 bytes each, a fixed seed): parsed or refused; a
 * corrupted file that still parses is run once under the first schedule, which must end
 * (cleanly, with a violation, or with a setup error) without crashing.
 */
static void test_corrupted_files_never_crash(void **state)
{
	static const char interesting[] = "\0\n #\"|-> ,+x09KMGaz_.E";
	struct mn_test_rng rng = { mn_test_seed(__func__) };
	char *files[MAX_FILES];
	size_t n, i, len, k, parsed = 0, refused = 0, ran = 0;

	(void)state;
	n = list_files(files);
	for (i = 0; i < n; i++) {
		char *text = read_text(files[i], &len);

		for (k = 0; k < 150; k++) {
			struct mn_script_error err;
			struct mn_script *s = NULL;
			char *bad = malloc(len);
			unsigned int flips = 1 + (unsigned int)mn_test_below(&rng, 3), f;
			int r;

			assert_non_null(bad);
			memcpy(bad, text, len);
			for (f = 0; f < flips; f++) {
				size_t at = (size_t)mn_test_below(&rng, len);

				if (mn_test_below(&rng, 2))
					bad[at] = interesting[mn_test_below(
						&rng, sizeof(interesting) - 1)];
				else
					bad[at] = (char)mn_test_below(&rng, 256);
			}
			r = mn_script_parse("bad.mns", bad, len, &s, &err);
			assert_parse_result(base(files[i]), k, r, &err);
			if (r) {
				refused++;
			} else {
				const struct mn_scenario *sc = mn_script_scenario(s);
				struct mn_sim_config cfg = { .max_yields = 200000 };
				struct mn_sim *sim;

				parsed++;
				assert_int_equal(mn_sim_create(&cfg, &sim), 0);
				if (!sc->setup(sim, sc->arg)) {
					r = mn_sim_run(sim, NULL);
					assert_true(r == MN_RUN_OK || r == MN_RUN_VIOLATION);
					sc->check(sim, sc->arg);
					ran++;
				} else {
					assert_non_null(mn_script_last_error(s));
				}
				mn_sim_destroy(sim);
				mn_script_free(s);
			}
			free(bad);
		}
		free(text);
	}
	print_message("corruptions: %zu refused, %zu parsed (%zu ran)\n", refused, parsed, ran);
	assert_true(refused > 0 && parsed > 0);
	free_files(files, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_variant_names),
		cmocka_unit_test(test_info_and_overrides),
		cmocka_unit_test(test_errors_name_line_and_column),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_every_file_parses),
		cmocka_unit_test(test_every_operation_calls_its_api),
		cmocka_unit_test(test_unexpected_results_are_reported),
		cmocka_unit_test(test_stop_on_and_any),
		cmocka_unit_test(test_setup_failures_name_the_line),
		cmocka_unit_test(test_check_after_a_cut_run),
		cmocka_unit_test(test_every_prefix_parses_or_is_refused),
		cmocka_unit_test(test_corrupted_files_never_crash),
		cmocka_unit_test(test_every_file_keeps_its_expect_line),
		cmocka_unit_test(test_files_mirror_the_builtins),
		cmocka_unit_test(test_000_variants_as_the_file_says),
		cmocka_unit_test(test_003_host_level_reports_the_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
