// SPDX-License-Identifier: MIT
/*
 * test-trace-format.c - the renderings of a recorded trace (lib/trace/format.c): aligned
 * text with the state column shown on change, JSON Lines with the keys docs/trace-format.md
 * documents, a Mermaid sequence diagram with escaped labels; on a made-up trace and on the
 * replay of a real failing schedule. Run with --emit-jsonl it prints the JSON Lines of
 * those traces instead, for tests/check-jsonl.py (the "trace-jsonl" test).
 */
#include "mn-test.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

/* ---- a minimal JSON syntax checker (RFC 8259 values, no semantic checks) ------------ */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	int i;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL; /* includes the terminating NUL */
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			for (i = 1; i <= 4; i++)
				if (!isxdigit((unsigned char)p[i]))
					return NULL;
			p += 4;
		} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
			return NULL;
		}
	}
	return p + 1;
}

static const char *json_number(const char *p)
{
	const char *start;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		start = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == start)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		start = p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == start)
			return NULL;
	}
	return p;
}

static const char *json_members(const char *p, char close, int depth)
{
	p = json_ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_members(p + 1, '}', depth);
	case '[':
		return json_members(p + 1, ']', depth);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		return json_number(p);
	}
}

/* One whole line is exactly one JSON object. */
static bool json_line_ok(const char *line)
{
	const char *end;

	if (*json_ws(line) != '{')
		return false;
	end = json_value(line, 0);
	return end && !*json_ws(end);
}

static void test_json_checker_itself(void **state)
{
	(void)state;
	assert_true(json_line_ok("{\"a\":[1,-2.5e3,\"x\\u00e9\\n\",true,null,{}]}"));
	assert_false(json_line_ok("{\"a\":1,}"));
	assert_false(json_line_ok("{\"a\":01}"));
	assert_false(json_line_ok("{\"a\":\"tab\there\"}"));
	assert_false(json_line_ok("{\"a\":\"\\x\"}"));
	assert_false(json_line_ok("{\"a\":1} x"));
	assert_false(json_line_ok("[1]"));
}

/* ---- helpers ------------------------------------------------------------------------ */

struct output {
	char *all; /* the whole output */
	char *buf; /* the same, cut into @lines */
	size_t len;
	char **lines;
	size_t nr;
};

/* Render @t with @opts into @o, split into lines; returns what mn_trace_render() did. */
static int render(const struct mn_trace *t, const struct mn_trace_render *opts, struct output *o)
{
	FILE *f;
	char *p, *nl;
	int ret;

	memset(o, 0, sizeof(*o));
	f = open_memstream(&o->buf, &o->len);
	assert_non_null(f);
	ret = mn_trace_render(t, f, opts);
	assert_int_equal(fclose(f), 0);
	o->all = strdup(o->buf);
	assert_non_null(o->all);
	for (p = o->buf; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends with a newline */
		*nl = '\0';
		o->lines = realloc(o->lines, (o->nr + 1) * sizeof(*o->lines));
		assert_non_null(o->lines);
		o->lines[o->nr++] = p;
	}
	return ret;
}

static void output_free(struct output *o)
{
	free(o->lines);
	free(o->buf);
	free(o->all);
}

/* The line whose event column holds @step (text format), or NULL. */
static const char *text_line(const struct output *o, const char *step)
{
	size_t i, n = strlen(step);
	const char *p;

	for (i = 0; i < o->nr; i++) {
		p = strstr(o->lines[i], step);
		if (p && p > o->lines[i] && p[-1] == ' ' && (p[n] == ' ' || !p[n]))
			return o->lines[i];
	}
	return NULL;
}

#define assert_prefix(s, prefix) assert_int_equal(strncmp((s), (prefix), strlen(prefix)), 0)

static size_t count_lines_with(const struct output *o, const char *s)
{
	size_t i, n = 0;

	for (i = 0; i < o->nr; i++)
		n += strstr(o->lines[i], s) != NULL;
	return n;
}

/* ---- a made-up trace ---------------------------------------------------------------- */

struct fake_vm {
	int64_t seq, in_progress, mn_count;
	uint32_t nr; /* values to give; more than MN_TRACE_MAX_STATE is clamped */
};

static void fake_state(void *arg, struct mn_trace_state *st)
{
	const struct fake_vm *vm = arg;

	st->nr = vm->nr;
	st->name[0] = "seq";
	st->val[0] = vm->seq;
	st->name[1] = "in_progress";
	st->val[1] = vm->in_progress;
	st->name[2] = "mn_count";
	st->val[2] = vm->mn_count;
}

static const char weird[] = "a;b#c\"d<e>&f%g\nh\\i";

/*
 *  id  actor          event                                 state (seq/in_progress/mn_count)
 *   1  -              kvm.create_vm                          0/0/0
 *   2  -              phys.alloc owner=pgtable   (noise)
 *   3  vcpu0          fault.seq_snapshot         (named step)
 *   4  vcpu0          kvm.fault_seq
 *   5  vcpu0          spin_lock mmu_lock         (noise)
 *   6  munmap-thread  mmu_notifier.invalidate_range_start
 *   7  munmap-thread  srcu_read_lock             (noise)    0/0/1   <- changes while hidden
 *   8  munmap-thread  kvm.invalidate_begin                  0/1/1
 *   9  munmap-thread  kvm.invalidate_end                    1/0/1
 *  10  munmap-thread  phys.free
 *  11  vcpu0          fault.retry_check skipped=yes
 *  12  vcpu0          odd (escaping, bad UTF-8, a repeated key)
 *  13  vcpu0          violation                  (frame.use_after_free)
 *  14  vcpu0          spin_unlock mmu_lock       (noise)
 */
static struct mn_trace *make_trace(struct mn_alloc *a, struct fake_vm *vm, uint32_t *vcpu,
				   uint32_t *mm)
{
	struct mn_violation v = {
		.kind = MN_VIOL_USE_AFTER_FREE,
		.invariant = "frame.use_after_free",
		.what = "gpc.read",
		.pfn = 0x42,
		.ref_gen = 3,
		.frame_gen = 4,
	};
	struct mn_trace *t;

	assert_int_equal(mn_trace_create(a, MN_TRACE_FULL, 0, &t), 0);
	assert_int_equal(mn_trace_actor_add(t, "vcpu0", vcpu), 0);
	assert_int_equal(mn_trace_actor_add(t, "munmap-thread", mm), 0);
	*vm = (struct fake_vm){ .nr = 3 };
	mn_trace_set_state_fn(t, fake_state, vm);
	mn_trace(t, "kvm.create_vm", MN_KV_S("arch", "x86"), MN_KV_U("vcpus", 1));
	mn_trace(t, "phys.alloc", MN_KV_X("pfn", 0x10), MN_KV_S("owner", "pgtable"));
	mn_trace_set_actor(t, *vcpu);
	mn_trace_emit(t, "fault.seq_snapshot", NULL, 0);
	mn_trace(t, "kvm.fault_seq", MN_KV_X("gfn", 0x1), MN_KV_U("seq", 0));
	mn_trace(t, "spin_lock", MN_KV_S("lock", "mmu_lock"));
	mn_trace_set_actor(t, *mm);
	mn_trace(t, "mmu_notifier.invalidate_range_start", MN_KV_X("start", 0x7f0000001000),
		 MN_KV_X("end", 0x7f0000002000));
	vm->mn_count = 1;
	mn_trace(t, "srcu_read_lock", MN_KV_S("srcu", "kvm->srcu"), MN_KV_I("idx", 0));
	vm->in_progress = 1;
	mn_trace(t, "kvm.invalidate_begin", MN_KV_U("in_progress", 1));
	vm->seq = 1;
	vm->in_progress = 0;
	mn_trace(t, "kvm.invalidate_end", MN_KV_U("seq", 1), MN_KV_I("in_progress", 0));
	mn_trace(t, "phys.free", MN_KV_X("pfn", 0x42), MN_KV_U("gen", 4));
	mn_trace_set_actor(t, *vcpu);
	mn_trace(t, "fault.retry_check", MN_KV_S("skipped", "yes"));
	mn_trace(t, "odd", MN_KV_S("s", weird), MN_KV_S("bad", "x\xffy"), MN_KV_I("k", -14),
		 MN_KV_U("k", 2));
	v.cause_actor = *mm;
	v.cause_event = 10;
	snprintf(v.detail, sizeof(v.detail), "read through a stale map; freed at #10");
	v.schedule = "s1:0x2,1";
	mn_trace_report(t, &v);
	mn_trace(t, "spin_unlock", MN_KV_S("lock", "mmu_lock"));
	assert_int_equal(mn_trace_count(t), 14);
	return t;
}

struct fixture {
	struct mn_alloc *a;
	struct mn_trace *t;
	struct fake_vm vm;
	uint32_t vcpu, mm;
};

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	if (mn_alloc_create(&mn_test_cmocka_ops, &fx->a))
		return -1;
	*state = fx;
	return 0;
}

static int setup_trace(void **state)
{
	struct fixture *fx;

	if (setup(state))
		return -1;
	fx = *state;
	fx->t = make_trace(fx->a, &fx->vm, &fx->vcpu, &fx->mm);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct mn_alloc_stats st;

	mn_trace_destroy(fx->t);
	mn_alloc_get_stats(fx->a, &st);
	mn_alloc_destroy(fx->a);
	test_free(fx);
	/* Rendering frees what it allocates. */
	return st.live_objects == 0 ? 0 : -1;
}

/* ---- API ---------------------------------------------------------------------------- */

static void test_format_parse(void **state)
{
	enum mn_trace_format f = MN_TRACE_FMT_TEXT;

	(void)state;
	assert_int_equal(mn_trace_format_parse("jsonl", &f), 0);
	assert_int_equal(f, MN_TRACE_FMT_JSONL);
	assert_int_equal(mn_trace_format_parse("mermaid", &f), 0);
	assert_int_equal(f, MN_TRACE_FMT_MERMAID);
	assert_int_equal(mn_trace_format_parse("text", &f), 0);
	assert_int_equal(f, MN_TRACE_FMT_TEXT);
	assert_int_equal(mn_trace_format_parse("json", &f), -EINVAL);
	assert_int_equal(mn_trace_format_parse("", &f), -EINVAL);
	assert_int_equal(mn_trace_format_parse(NULL, &f), -EINVAL);
	assert_int_equal(f, MN_TRACE_FMT_TEXT); /* unchanged on error */
}

static void test_render_errors(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace_render bad = { .format = (enum mn_trace_format)9 };
	struct mn_trace_render jsonl = { .format = MN_TRACE_FMT_JSONL };
	FILE *full;

	assert_int_equal(mn_trace_render(NULL, stdout, NULL), -EINVAL);
	assert_int_equal(mn_trace_render(fx->t, NULL, NULL), -EINVAL);
	assert_int_equal(mn_trace_render(fx->t, stdout, &bad), -EINVAL);
	/* Out of memory for the renderer's state. */
	mn_alloc_fail_nth(fx->a, 1);
	assert_int_equal(mn_trace_render(fx->t, stdout, &jsonl), -ENOMEM);
	/* A stream that cannot be written. */
	full = fopen("/dev/full", "w");
	if (!full) {
		print_message("no /dev/full: write errors not tested\n");
		return;
	}
	assert_int_equal(mn_trace_render(fx->t, full, &jsonl), -EIO);
	fclose(full);
}

static void test_state_provider(void **state)
{
	struct fixture *fx = *state;
	struct fake_vm vm = { .seq = 7, .in_progress = -1, .mn_count = 2, .nr = 3 }, other = vm;
	const struct mn_event *ev;
	struct mn_trace *ring;

	/* The made-up trace recorded a snapshot per event, taken when it was recorded. */
	ev = mn_trace_get(fx->t, 7);
	assert_int_equal(ev->state.nr, 3);
	assert_string_equal(ev->state.name[2], "mn_count");
	assert_int_equal(ev->state.val[2], 1);
	assert_int_equal(ev->state.val[1], 0);
	assert_int_equal(mn_trace_get(fx->t, 8)->state.val[1], 1);

	/* Only the provider registered with @arg is removed by clear. */
	mn_trace_set_state_fn(fx->t, fake_state, &vm);
	mn_trace_clear_state_fn(fx->t, &other);
	ev = mn_trace_get(fx->t, mn_trace_emit(fx->t, "a", NULL, 0));
	assert_int_equal(ev->state.nr, 3);
	assert_int_equal(ev->state.val[0], 7);
	assert_int_equal(ev->state.val[1], -1); /* signed: a mutant can go below zero */
	mn_trace_clear_state_fn(fx->t, &vm);
	ev = mn_trace_get(fx->t, mn_trace_emit(fx->t, "b", NULL, 0));
	assert_int_equal(ev->state.nr, 0);

	/* A provider claiming too many values is clamped. */
	vm.nr = 99;
	mn_trace_set_state_fn(fx->t, fake_state, &vm);
	ev = mn_trace_get(fx->t, mn_trace_emit(fx->t, "c", NULL, 0));
	assert_int_equal(ev->state.nr, MN_TRACE_MAX_STATE);

	/* Ring mode (benchmarks) never calls it. */
	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_RING, 4, &ring), 0);
	mn_trace_set_state_fn(ring, fake_state, &vm);
	ev = mn_trace_get(ring, mn_trace_emit(ring, "d", NULL, 0));
	assert_int_equal(ev->state.nr, 0);
	mn_trace_destroy(ring);
}

/* ---- text --------------------------------------------------------------------------- */

/* The id of an event line ("%6u  ..."), or 0 for any other line. */
static unsigned long line_id(const char *line)
{
	size_t i;

	if (strlen(line) < 8 || line[6] != ' ' || line[7] != ' ' ||
	    !isdigit((unsigned char)line[5]))
		return 0;
	for (i = 0; i < 6 && line[i] == ' '; i++)
		;
	return strtoul(line + i, NULL, 10);
}

/* Every event line has its fields at the header's columns. */
static size_t check_columns(const struct output *o)
{
	const char *hdr = NULL, *line;
	size_t i, a, e, c, n = 0;

	for (i = 0; i < o->nr && !hdr; i++)
		if (!strncmp(o->lines[i], "    id  actor", 13))
			hdr = o->lines[i];
	assert_non_null(hdr);
	a = (size_t)(strstr(hdr, "actor") - hdr);
	e = (size_t)(strstr(hdr, "event") - hdr);
	c = (size_t)(strstr(hdr, "changes") - hdr);
	assert_int_equal(a, 8);
	for (i = 0; i < o->nr; i++) {
		line = o->lines[i];
		if (!line_id(line))
			continue;
		n++;
		/* actor at its column, event at its column, both after two blanks */
		assert_true(line[a] != ' ' && line[a - 1] == ' ');
		assert_true(line[e] != ' ' && line[e - 1] == ' ' && line[e - 2] == ' ');
		/* key/values or state start at the changes column when the line has any */
		if (strlen(line) > c) {
			assert_true(line[c] != ' ');
			assert_true(line[c - 1] == ' ' && line[c - 2] == ' ');
		}
	}
	return n;
}

static void test_text_columns_and_state(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace_render o = { .format = MN_TRACE_FMT_TEXT,
				     .replay = "mnsim replay x.mns s1:0x2,1" };
	struct output out;
	const char *l;
	size_t i;

	assert_int_equal(render(fx->t, &o, &out), 11);
	assert_int_equal(check_columns(&out), 11);
	/* Noise left out: the page-table allocation, the lock events. */
	assert_null(text_line(&out, "spin_lock"));
	assert_null(strstr(out.all, "owner=pgtable"));
	/*
	 * The state column: on the first event, then only where it changed since the last
	 * one shown. A noise event that changed it is shown, with the change on its own line
	 * (mn_count moved before the SRCU event 7).
	 */
	assert_non_null(strstr(text_line(&out, "srcu_read_lock"), "mn_count=1]"));
	assert_int_equal(count_lines_with(&out, "[seq="), 4);
	assert_non_null(
		strstr(text_line(&out, "kvm.create_vm"), "[seq=0 in_progress=0 mn_count=0]"));
	assert_non_null(strstr(text_line(&out, "kvm.invalidate_begin"),
			       "[seq=0 in_progress=1 mn_count=1]"));
	assert_non_null(
		strstr(text_line(&out, "kvm.invalidate_end"), "[seq=1 in_progress=0 mn_count=1]"));
	assert_null(strstr(text_line(&out, "phys.free"), "[seq="));
	assert_null(strstr(text_line(&out, "kvm.fault_seq"), "[seq="));
	/* The violation line, then its detail. */
	for (i = 0; i < out.nr && !strstr(out.lines[i], "  violation  "); i++)
		;
	assert_true(i + 3 < out.nr);
	assert_int_equal(line_id(out.lines[i]), 13);
	assert_non_null(strstr(out.lines[i + 1],
			       "!!! VIOLATION frame.use_after_free (use_after_free) "
			       "by vcpu0 at #13 in gpc.read pfn=0x42"));
	assert_non_null(strstr(out.lines[i + 2], "read through a stale map; freed at #10"));
	assert_non_null(strstr(out.lines[i + 3], "caused by munmap-thread at #10"));
	/* No colour unless asked, and the replay line last. */
	assert_null(strchr(out.all, '\033'));
	assert_string_equal(out.lines[out.nr - 1], "replay: mnsim replay x.mns s1:0x2,1");
	assert_non_null(strstr(out.lines[out.nr - 2], "11 of 14 events shown"));
	l = text_line(&out, "fault.seq_snapshot");
	assert_non_null(l);
	assert_int_equal(l[strlen(l) - 1], 't'); /* no padding after a bare step */
	output_free(&out);
}

static void test_text_verbose_shows_locks(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace_render o = { .format = MN_TRACE_FMT_TEXT, .verbose = true };
	struct output out;

	assert_int_equal(render(fx->t, &o, &out), 14);
	assert_int_equal(check_columns(&out), 14);
	assert_non_null(strstr(text_line(&out, "spin_lock"), "lock=mmu_lock -> held by vcpu0"));
	assert_non_null(strstr(text_line(&out, "spin_unlock"), "lock=mmu_lock -> free"));
	/* Now the change shows where it happened, and not again on the next event. */
	assert_non_null(
		strstr(text_line(&out, "srcu_read_lock"), "[seq=0 in_progress=0 mn_count=1]"));
	assert_non_null(strstr(text_line(&out, "kvm.invalidate_begin"),
			       "[seq=0 in_progress=1 mn_count=1]"));
	assert_int_equal(count_lines_with(&out, "[seq="), 4);
	assert_non_null(strstr(out.lines[out.nr - 1], "-- 14 events; 1 violation"));
	output_free(&out);
}

static void test_text_colour(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace_render o = { .format = MN_TRACE_FMT_TEXT, .colour = true, .title = "T" };
	struct output out;
	const char *l;

	render(fx->t, &o, &out);
	/* Violations red, each actor its own colour, named steps dim, skipped steps yellow. */
	assert_non_null(strstr(out.all, "\033[1;31m    13  vcpu0"));
	assert_non_null(strstr(out.all, "\033[1;31m        !!! VIOLATION"));
	l = text_line(&out, "kvm.fault_seq");
	assert_non_null(l);
	assert_non_null(strstr(out.all, "\033[32mvcpu0"));
	assert_non_null(strstr(out.all, "\033[34mmunmap-thread"));
	assert_non_null(strstr(out.all, "\033[2mfault.seq_snapshot"));
	assert_non_null(strstr(out.all, "\033[1;33mfault.retry_check"));
	/* The world's actor is not coloured. */
	assert_non_null(strstr(out.all, "     1  -      "));
	assert_non_null(strstr(out.lines[0], "# T"));
	output_free(&out);
}

/* ---- JSON Lines --------------------------------------------------------------------- */

static void test_jsonl(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace_render o = { .format = MN_TRACE_FMT_JSONL, .title = weird };
	struct output out;
	size_t i;

	/* JSON Lines has every event, verbose or not. */
	assert_int_equal(render(fx->t, &o, &out), 14);
	assert_int_equal(out.nr, 1 + 14 + 1 + 1);
	for (i = 0; i < out.nr; i++) {
		if (!json_line_ok(out.lines[i]))
			fail_msg("line %zu is no JSON object: %s", i + 1, out.lines[i]);
	}
	assert_prefix(out.lines[0],
		      "{\"type\":\"header\",\"format\":\"mnsim-trace\",\"version\":1,");
	assert_non_null(strstr(out.lines[0], "\"title\":\"a;b#c\\\"d<e>&f%g\\nh\\\\i\""));
	assert_non_null(strstr(
		out.lines[0], "\"actors\":[{\"id\":0,\"name\":\"-\"},{\"id\":1,\"name\":\"vcpu0\"},"
			      "{\"id\":2,\"name\":\"munmap-thread\"}]"));
	/* An event: the documented keys; hex as strings, decimal as numbers. */
	assert_string_equal(out.lines[4],
			    "{\"type\":\"event\",\"id\":4,\"actor\":\"vcpu0\",\"actor_id\":1,"
			    "\"event\":\"kvm.fault_seq\",\"kv\":{\"gfn\":\"0x1\",\"seq\":0},"
			    "\"state\":{\"seq\":0,\"in_progress\":0,\"mn_count\":0}}");
	assert_non_null(strstr(out.lines[5], "\"lock\":{\"holder\":\"vcpu0\",\"readers\":0}"));
	assert_non_null(strstr(out.lines[15], "\"lock\":{\"holder\":null,\"readers\":0}"));
	/* Escaping, U+FFFD for a byte that is not UTF-8, a repeated key renamed. */
	assert_non_null(strstr(out.lines[12], "\"s\":\"a;b#c\\\"d<e>&f%g\\nh\\\\i\""));
	assert_non_null(strstr(out.lines[12], "\"bad\":\"x\\ufffdy\""));
	assert_non_null(strstr(out.lines[12], "\"k\":-14,\"k_2\":2"));
	/* The violation right after its event. */
	assert_non_null(strstr(out.lines[13], "\"event\":\"violation\""));
	assert_prefix(out.lines[14],
		      "{\"type\":\"violation\",\"invariant\":\"frame.use_after_free\","
		      "\"kind\":\"use_after_free\",\"what\":\"gpc.read\",\"pfn\":\"0x42\","
		      "\"actor\":\"vcpu0\",\"actor_id\":1,\"event\":13,"
		      "\"cause_actor\":\"munmap-thread\",\"cause_actor_id\":2,"
		      "\"cause_event\":10,\"reuse_actor\":\"-\",\"reuse_actor_id\":0,"
		      "\"reuse_event\":0,\"ref_gen\":3,\"frame_gen\":4,"
		      "\"detail\":\"read through a stale map; freed at #10\",");
	assert_non_null(strstr(out.lines[14], "\"schedule\":\"s1:0x2,1\"}"));
	assert_string_equal(
		out.lines[out.nr - 1],
		"{\"type\":\"summary\",\"events\":14,\"first_id\":1,\"last_id\":14,"
		"\"dropped\":0,\"violations\":1,\"violations_total\":1,\"replay\":null}");
	output_free(&out);
}

/* ---- Mermaid ------------------------------------------------------------------------ */

/* Label text after the statement's first ':' takes no ';', no raw '#', no quote or markup. */
static void check_mermaid_labels(const struct output *o)
{
	const char *p;
	size_t i;

	for (i = 0; i < o->nr; i++) {
		p = strchr(o->lines[i], ':');
		if (!strncmp(o->lines[i], "    title ", 10))
			p = o->lines[i] + 9;
		if (!strncmp(o->lines[i], "    participant ", 16))
			p = strstr(o->lines[i], " as ") + 3;
		if (!p)
			continue;
		for (p++; *p; p++) {
			if (strchr(";\"<>&%", *p) || (unsigned char)*p < 0x20)
				fail_msg("line %zu: unescaped '%c': %s", i + 1, *p, o->lines[i]);
			if (*p != '#')
				continue;
			/* an entity code: '#', digits, ';' */
			if (!isdigit((unsigned char)p[1]))
				fail_msg("line %zu: bare '#': %s", i + 1, o->lines[i]);
			for (p++; isdigit((unsigned char)*p); p++)
				;
			if (*p != ';')
				fail_msg("line %zu: unterminated entity: %s", i + 1, o->lines[i]);
		}
	}
}

static size_t count_prefix(const struct output *o, const char *prefix)
{
	size_t i, n = 0;

	for (i = 0; i < o->nr; i++)
		n += !strncmp(o->lines[i], prefix, strlen(prefix));
	return n;
}

static void test_mermaid(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace_render o = { .format = MN_TRACE_FMT_MERMAID,
				     .title = weird,
				     .replay = "mnsim replay \"x;y.mns\" s1:0x2,1" };
	struct output out;
	size_t i;

	assert_int_equal(render(fx->t, &o, &out), 11);
	assert_string_equal(out.lines[0], "sequenceDiagram");
	assert_string_equal(out.lines[1], "    title a#59;b#35;c#34;d#60;e#62;#38;f#37;g h\\i");
	/* One participant per actor that appears. */
	assert_int_equal(count_prefix(&out, "    participant "), 3);
	assert_string_equal(out.lines[2], "    participant a0 as setup");
	assert_string_equal(out.lines[3], "    participant a1 as vcpu0");
	assert_string_equal(out.lines[4], "    participant a2 as munmap-thread");
	check_mermaid_labels(&out);
	/* Notes on their lifelines; the thread switches as arrows with where they happened. */
	assert_int_equal(count_lines_with(&out,
					  "    Note over a0: 1 kvm.create_vm arch=x86 vcpus=1 "
					  "[seq=0 in_progress=0 mn_count=0]"),
			 1);
	assert_int_equal(count_lines_with(&out, "    a0->>a1: switch after 2 phys.alloc"), 1);
	assert_int_equal(count_lines_with(&out, "    a1->>a2: switch after 5 spin_lock"), 1);
	assert_int_equal(count_lines_with(&out, "    a2->>a1: switch after 10 phys.free"), 1);
	assert_int_equal(count_lines_with(&out, "->>"), 3);
	assert_int_equal(count_lines_with(&out, "Note over a1: 12 odd s=a#59;b#35;c#34;d"), 1);
	/* Shown only because it changed the VM's state. */
	assert_int_equal(count_lines_with(&out, "Note over a2: 7 srcu_read_lock"), 1);
	/* The violation highlighted, in place of its event's note. */
	for (i = 0; i < out.nr && !strstr(out.lines[i], "VIOLATION"); i++)
		;
	assert_true(i > 0 && i + 1 < out.nr);
	assert_string_equal(out.lines[i - 1], "    rect rgb(255, 215, 215)");
	assert_string_equal(out.lines[i], "    Note over a1: VIOLATION frame.use_after_free "
					  "(use_after_free) by vcpu0 at 13 in gpc.read pfn=0x42: "
					  "read through a stale map#59; freed at #35;10");
	assert_string_equal(out.lines[i + 1], "    end");
	assert_null(strstr(out.all, "Note over a1: 13 violation"));
	assert_string_equal(
		out.lines[out.nr - 1],
		"    Note over a0,a2: replay: mnsim replay #34;x#59;y.mns#34; s1:0x2,1");
	output_free(&out);

	/* Verbose: the lock events too, with their holder. */
	o.verbose = true;
	o.replay = NULL;
	assert_int_equal(render(fx->t, &o, &out), 14);
	check_mermaid_labels(&out);
	assert_int_equal(
		count_lines_with(&out, "Note over a1: 5 spin_lock lock=mmu_lock (held by vcpu0)"),
		1);
	assert_int_equal(count_lines_with(&out, "a1->>a2: switch after 5 spin_lock"), 1);
	assert_int_equal(
		count_lines_with(&out, "Note over a1: 14 spin_unlock lock=mmu_lock (free)"), 1);
	assert_null(strstr(out.all, "replay"));
	output_free(&out);
}

/* Reports whose event is not in the log: tracing off, or only one actor's events kept. */
static void test_violations_without_events(void **state)
{
	struct fixture *fx = *state;
	struct mn_violation v = { .kind = MN_VIOL_CHECK,
				  .invariant = "x.y",
				  .pfn = MN_INVALID_PFN };
	struct mn_trace_render o = { .format = MN_TRACE_FMT_TEXT };
	struct output out;
	struct mn_trace *t;
	uint32_t only;
	size_t i;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_OFF, 0, &t), 0);
	assert_int_equal(mn_trace_actor_add(t, "only", &only), 0);
	mn_trace_set_actor(t, only);
	snprintf(v.detail, sizeof(v.detail), "lost");
	mn_trace_report(t, &v);

	assert_int_equal(render(t, &o, &out), 0);
	assert_non_null(strstr(out.all, "-- violations without a kept event:\n"
					"        !!! VIOLATION x.y (check) by only at #0\n"
					"            lost\n"));
	output_free(&out);

	o.format = MN_TRACE_FMT_JSONL;
	assert_int_equal(render(t, &o, &out), 0);
	assert_int_equal(out.nr, 3);
	for (i = 0; i < out.nr; i++)
		assert_true(json_line_ok(out.lines[i]));
	assert_non_null(strstr(out.lines[1],
			       "\"invariant\":\"x.y\",\"kind\":\"check\",\"what\":null,"
			       "\"pfn\":null,\"actor\":\"only\",\"actor_id\":1,\"event\":0"));
	assert_non_null(strstr(out.lines[2], "\"events\":0,\"first_id\":0,\"last_id\":0"));
	output_free(&out);

	/* Only the actor that appears gets a lifeline. */
	o.format = MN_TRACE_FMT_MERMAID;
	assert_int_equal(render(t, &o, &out), 0);
	assert_int_equal(count_prefix(&out, "    participant "), 1);
	assert_string_equal(out.lines[1], "    participant a1 as only");
	assert_non_null(strstr(out.all, "Note over a1: VIOLATION x.y (check) by only at 0: lost"));
	output_free(&out);
	mn_trace_destroy(t);

	/* An empty trace is still a valid diagram. */
	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_FULL, 0, &t), 0);
	assert_int_equal(render(t, &o, &out), 0);
	assert_string_equal(out.lines[1], "    participant a0 as setup");
	output_free(&out);
	mn_trace_destroy(t);
}

/* ---- a real replay ------------------------------------------------------------------ */

/* fault-vs-munmap on x86 without its guard: the first failing schedule, replayed. */
static struct mn_sim *replay_failure(struct mn_builtin **b)
{
	struct mn_explore_config cfg = { .strategy = MN_EXPLORE_DFS, .preemption_bound = 2 };
	struct mn_explore_result res;
	const char *guard;
	struct mn_sim *sim;

	assert_int_equal(mn_builtin_open("fault-vs-munmap", MN_VM_X86, b), 0);
	guard = mn_builtin_info(0)->guard;
	assert_string_equal(mn_builtin_info(0)->name, "fault-vs-munmap");
	cfg.skip_steps = &guard;
	cfg.nr_skip_steps = 1;
	assert_int_equal(mn_explore(mn_builtin_scenario(*b), &cfg, &res), 0);
	assert_true(res.nr_failures > 0);
	assert_int_equal(mn_explore_replay(mn_builtin_scenario(*b), NULL, &guard, 1,
					   res.failures[0].schedule, &sim),
			 MN_RUN_VIOLATION);
	mn_explore_result_free(&res);
	return sim;
}

/* The "[...]" state of a text line, or NULL. */
static const char *state_of(const char *line)
{
	return strstr(line, "[seq=");
}

static void test_replay_all_formats(void **state)
{
	struct mn_trace_render o = { .title = "fault-vs-munmap",
				     .replay = "mnsim replay fvm.mns s1" };
	const char *prev = NULL, *l;
	struct mn_builtin *b;
	struct output out;
	struct mn_trace *t;
	struct mn_sim *sim;
	size_t i, events = 0, states = 0, rising = 0;

	(void)state;
	sim = replay_failure(&b);
	t = mn_sim_get_trace(sim);

	/* Text: aligned; the state shown only where it changed, and it does change. */
	o.format = MN_TRACE_FMT_TEXT;
	assert_true(render(t, &o, &out) > 10);
	events = check_columns(&out);
	for (i = 0; i < out.nr; i++) {
		l = state_of(out.lines[i]);
		if (!l)
			continue;
		states++;
		if (prev) {
			size_t n = strcspn(l, "]");

			assert_false(strlen(prev) >= n && !strncmp(prev, l, n) && prev[n] == ']');
		}
		rising += !!strstr(l, "in_progress=1");
		prev = l;
	}
	assert_true(states >= 3 && states < events);
	assert_true(rising >= 1);
	assert_non_null(state_of(text_line(&out, "kvm.create_vm")));
	assert_non_null(strstr(text_line(&out, "kvm.invalidate_begin"), "in_progress=1"));
	assert_non_null(strstr(out.all, "!!! VIOLATION "));
	assert_string_equal(out.lines[out.nr - 1], "replay: mnsim replay fvm.mns s1");
	output_free(&out);

	/* JSON Lines: every event, each line an object, the state on each after VM creation. */
	o.format = MN_TRACE_FMT_JSONL;
	assert_int_equal(render(t, &o, &out), (int)mn_trace_count(t));
	assert_int_equal(out.nr, 2 + mn_trace_count(t) + mn_trace_nr_violations(t));
	for (i = 0; i < out.nr; i++)
		if (!json_line_ok(out.lines[i]))
			fail_msg("line %zu is no JSON object: %s", i + 1, out.lines[i]);
	assert_int_equal(count_lines_with(&out, "{\"type\":\"violation\""),
			 mn_trace_nr_violations(t));
	assert_true(count_lines_with(&out, "\"state\":{\"seq\":") > mn_trace_count(t) / 2);
	output_free(&out);

	/* Mermaid: setup, vcpu0 and vmm; the switches both ways; the violation. */
	o.format = MN_TRACE_FMT_MERMAID;
	assert_true(render(t, &o, &out) > 10);
	assert_string_equal(out.lines[0], "sequenceDiagram");
	assert_int_equal(count_prefix(&out, "    participant "), 3);
	assert_int_equal(count_lines_with(&out, "    participant a0 as setup"), 1);
	assert_int_equal(count_lines_with(&out, "    participant a1 as vcpu0"), 1);
	assert_int_equal(count_lines_with(&out, "    participant a2 as vmm"), 1);
	assert_true(count_lines_with(&out, "    a1->>a2: switch after ") >= 1);
	assert_true(count_lines_with(&out, "    a2->>a1: switch after ") >= 1);
	assert_true(count_lines_with(&out, ": VIOLATION ") >= 1);
	check_mermaid_labels(&out);
	output_free(&out);

	mn_sim_destroy(sim);
	mn_builtin_close(b);
}

/* --emit-jsonl: the JSON Lines of the made-up trace and of the replay, for check-jsonl.py. */
static int emit_jsonl(void)
{
	struct mn_trace_render o = { .format = MN_TRACE_FMT_JSONL,
				     .title = weird,
				     .replay = "mnsim replay x.mns s1" };
	struct fake_vm vm;
	struct mn_builtin *b;
	struct mn_alloc *a;
	struct mn_trace *t;
	struct mn_sim *sim;
	uint32_t vcpu, mm;
	int ret = 0;

	if (mn_alloc_create(NULL, &a))
		return 1;
	t = make_trace(a, &vm, &vcpu, &mm);
	ret |= mn_trace_render(t, stdout, &o) < 0;
	mn_trace_destroy(t);
	mn_alloc_destroy(a);
	sim = replay_failure(&b);
	o.title = "fault-vs-munmap";
	ret |= mn_trace_render(mn_sim_get_trace(sim), stdout, &o) < 0;
	mn_sim_destroy(sim);
	mn_builtin_close(b);
	return ret;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_checker_itself),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test_setup_teardown(test_render_errors, setup_trace, teardown),
		cmocka_unit_test_setup_teardown(test_state_provider, setup_trace, teardown),
		cmocka_unit_test_setup_teardown(test_text_columns_and_state, setup_trace, teardown),
		cmocka_unit_test_setup_teardown(test_text_verbose_shows_locks, setup_trace,
						teardown),
		cmocka_unit_test_setup_teardown(test_text_colour, setup_trace, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl, setup_trace, teardown),
		cmocka_unit_test_setup_teardown(test_mermaid, setup_trace, teardown),
		cmocka_unit_test_setup_teardown(test_violations_without_events, setup, teardown),
		cmocka_unit_test(test_replay_all_formats),
	};

	if (argc > 1 && !strcmp(argv[1], "--emit-jsonl"))
		return emit_jsonl();
	return cmocka_run_group_tests_name("trace-format", tests, NULL, NULL);
}
