// SPDX-License-Identifier: MIT
/*
 * test-trace.c - the event log (ids, ring and full modes, sinks, text rendering), actors,
 * interned strings and the violation log (lib/trace).
 */
#include "mn-test.h"

#include <errno.h>
#include <string.h>

struct fixture {
	struct mn_alloc *a;
};

static int setup(void **state)
{
	struct fixture *fx = test_malloc(sizeof(*fx));

	if (mn_alloc_create(&mn_test_cmocka_ops, &fx->a))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct mn_alloc_stats st;

	mn_alloc_get_stats(fx->a, &st);
	mn_alloc_destroy(fx->a);
	test_free(fx);
	/* Every trace the test made was destroyed, and destroying frees all it holds. */
	return st.live_objects == 0 ? 0 : -1;
}

static void test_off_mode_records_nothing(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace *t;
	int calls = 0;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_OFF, 0, &t), 0);
	assert_false(mn_trace_is_on(t));
	assert_int_equal(mn_trace_emit(t, "x", NULL, 0), 0);
	/* The macro does not even evaluate its key/values when off. */
	mn_trace(t, "y", MN_KV_U("calls", ++calls));
	assert_int_equal(calls, 0);
	assert_int_equal(mn_trace_count(t), 0);
	assert_int_equal(mn_trace_first_id(t), 0);
	assert_null(mn_trace_get(t, 1));
	assert_int_equal(mn_trace_print(t, stdout), 0);
	mn_trace_destroy(t);
	assert_int_equal(mn_trace_create(fx->a, (enum mn_trace_mode)7, 0, &t), -EINVAL);
}

static void test_full_mode_keeps_everything(void **state)
{
	struct fixture *fx = *state;
	const struct mn_event *ev;
	struct mn_trace *t;
	uint64_t i;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_FULL, 0, &t), 0);
	assert_true(mn_trace_is_on(t));
	for (i = 1; i <= 5000; i++) {
		const struct mn_kv kv[] = { MN_KV_U("i", i) };

		assert_int_equal(mn_trace_emit(t, "step", kv, 1), i);
	}
	assert_int_equal(mn_trace_count(t), 5000);
	assert_int_equal(mn_trace_first_id(t), 1);
	ev = mn_trace_get(t, 1);
	assert_non_null(ev);
	assert_int_equal(ev->kv[0].u, 1);
	ev = mn_trace_get(t, 4321);
	assert_non_null(ev);
	assert_int_equal(ev->id, 4321);
	assert_int_equal(ev->kv[0].u, 4321);
	assert_string_equal(ev->step, "step");
	assert_null(mn_trace_get(t, 5001));
	assert_null(mn_trace_get(t, 0));
	mn_trace_destroy(t);
}

static void test_ring_mode_keeps_newest(void **state)
{
	struct fixture *fx = *state;
	const struct mn_event *ev;
	struct mn_trace *t;
	uint64_t i;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_RING, 8, &t), 0);
	for (i = 1; i <= 20; i++)
		mn_trace(t, "tick", MN_KV_U("i", i));
	assert_int_equal(mn_trace_count(t), 20);
	assert_int_equal(mn_trace_first_id(t), 13);
	assert_null(mn_trace_get(t, 12));
	for (i = 13; i <= 20; i++) {
		ev = mn_trace_get(t, i);
		assert_non_null(ev);
		assert_int_equal(ev->kv[0].u, i);
	}
	assert_int_equal(mn_trace_get_mode(t), MN_TRACE_RING);
	mn_trace_destroy(t);
}

static void test_full_mode_drops_on_enomem(void **state)
{
	struct fixture *fx = *state;
	struct mn_trace *t;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_FULL, 0, &t), 0);
	/* The first event needs the chunk table and a chunk: fail the table. */
	mn_alloc_fail_nth(fx->a, 1);
	assert_int_equal(mn_trace_emit(t, "lost", NULL, 0), 0);
	assert_int_equal(mn_trace_nr_dropped(t), 1);
	assert_int_equal(mn_trace_count(t), 1); /* the id is consumed */
	assert_int_equal(mn_trace_emit(t, "kept", NULL, 0), 2);
	assert_null(mn_trace_get(t, 1));
	assert_string_equal(mn_trace_get(t, 2)->step, "kept");
	assert_int_equal(mn_trace_first_id(t), 2);
	mn_trace_destroy(t);
}

static void test_actors(void **state)
{
	struct fixture *fx = *state;
	uint32_t v0, mm;
	struct mn_trace *t;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_FULL, 0, &t), 0);
	assert_int_equal(mn_trace_actor_add(t, "vcpu0", &v0), 0);
	assert_int_equal(mn_trace_actor_add(t, "munmap", &mm), 0);
	assert_int_equal(v0, 1);
	assert_int_equal(mm, 2);
	assert_int_equal(mn_trace_actor_add(t, "", &mm), -EINVAL);
	assert_string_equal(mn_trace_actor_name(t, 0), "-");
	assert_string_equal(mn_trace_actor_name(t, v0), "vcpu0");
	assert_string_equal(mn_trace_actor_name(t, 9), "?");
	assert_int_equal(mn_trace_set_actor(t, 3), -ENOENT);
	assert_int_equal(mn_trace_get_actor(t), 0);
	assert_int_equal(mn_trace_set_actor(t, v0), 0);
	mn_trace(t, "fault.seq_snapshot", MN_KV_X("gfn", 0x1000));
	assert_int_equal(mn_trace_set_actor(t, mm), 0);
	mn_trace(t, "invalidate_start", MN_KV_X("start", 0x7f0000000000));
	assert_int_equal(mn_trace_get(t, 1)->actor, v0);
	assert_int_equal(mn_trace_get(t, 2)->actor, mm);
	mn_trace_destroy(t);
}

static void test_text_format(void **state)
{
	struct fixture *fx = *state;
	const char *word;
	struct mn_trace *t;
	char line[256], tiny[64];
	uint32_t v0;
	int len;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_FULL, 0, &t), 0);
	assert_int_equal(mn_trace_actor_add(t, "vcpu0", &v0), 0);
	mn_trace_set_actor(t, v0);
	word = mn_trace_intern(t, "dynamic");
	assert_non_null(word);
	mn_trace(t, "fault.seq_snapshot", MN_KV_X("gfn", 0x1000), MN_KV_U("seq", 3),
		 MN_KV_I("ret", -14), MN_KV_S("kind", word));
	len = mn_trace_format_event(t, mn_trace_get(t, 1), line, sizeof(line));
	assert_string_equal(line,
			    "     1  vcpu0       fault.seq_snapshot           gfn=0x1000 seq=3 "
			    "ret=-14 kind=dynamic");
	assert_int_equal(len, (int)strlen(line));
	/* Truncation is NUL-terminated and reports the full length. */
	assert_int_equal(mn_trace_format_event(t, mn_trace_get(t, 1), tiny, 16), len);
	assert_int_equal(strlen(tiny), 15);
	/* No key/values: no trailing blanks, and the length is exact even when it just fits. */
	mn_trace_set_actor(t, 0);
	mn_trace_emit(t, "tlb.flush", NULL, 0);
	mn_trace_format_event(t, mn_trace_get(t, 2), line, sizeof(line));
	assert_string_equal(line, "     2  -           tlb.flush");
	assert_int_equal(mn_trace_format_event(t, mn_trace_get(t, 2), tiny, strlen(line) + 1),
			 (int)strlen(line));
	/* Blanks inside a string value are kept as they are. */
	mn_trace(t, "name", MN_KV_S("name", "a b "));
	mn_trace_format_event(t, mn_trace_get(t, 3), line, sizeof(line));
	assert_non_null(strstr(line, "name=a b "));
	assert_int_equal(line[strlen(line) - 1], ' ');
	mn_trace_destroy(t);
}

struct sink_log {
	int calls;
	uint64_t last_id;
	char last[128];
};

static void collect(void *arg, const struct mn_trace *t, const struct mn_event *ev)
{
	struct sink_log *log = arg;

	log->calls++;
	log->last_id = ev->id;
	mn_trace_format_event(t, ev, log->last, sizeof(log->last));
}

static void test_sink_streams_events(void **state)
{
	struct fixture *fx = *state;
	struct sink_log log = { 0 };
	struct mn_trace *t;
	char buf[1024];
	FILE *mem;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_RING, 2, &t), 0);
	mn_trace_set_sink(t, collect, &log);
	mn_trace(t, "a", MN_KV_U("n", 1));
	mn_trace(t, "b", MN_KV_U("n", 2));
	mn_trace(t, "c", MN_KV_U("n", 3));
	assert_int_equal(log.calls, 3);
	assert_int_equal(log.last_id, 3);
	assert_non_null(strstr(log.last, "c"));
	mn_trace_set_sink(t, NULL, NULL);
	mn_trace(t, "d", MN_KV_U("n", 4));
	assert_int_equal(log.calls, 3);

	/* The text sink and print write the same lines; print writes only kept events. */
	mem = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(mem);
	assert_int_equal(mn_trace_print(t, mem), 2);
	mn_trace_set_sink(t, mn_trace_sink_text, mem);
	mn_trace(t, "e", MN_KV_U("n", 5));
	fclose(mem);
	assert_non_null(strstr(buf, "     3  -           c                            n=3\n"));
	assert_non_null(strstr(buf, "     5  -           e                            n=5\n"));
	assert_null(strstr(buf, "n=2"));
	mn_trace_destroy(t);
}

static void test_violation_log(void **state)
{
	struct fixture *fx = *state;
	const struct mn_violation *v;
	struct mn_violation r = { 0 };
	struct mn_trace *t;
	char line[256];
	uint32_t gpc;
	int i;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_FULL, 0, &t), 0);
	assert_int_equal(mn_trace_actor_add(t, "gpc", &gpc), 0);
	mn_trace_emit(t, "before", NULL, 0);
	mn_trace_set_actor(t, gpc);
	r.kind = MN_VIOL_USE_AFTER_FREE;
	r.invariant = "frame.use_after_free";
	r.what = "gpc.read";
	r.pfn = 0x42;
	r.cause_actor = 0;
	r.cause_event = 1;
	snprintf(r.detail, sizeof(r.detail), "freed");
	mn_trace_report(t, &r);
	assert_int_equal(mn_trace_nr_violations(t), 1);
	v = mn_trace_violation(t, 0);
	assert_non_null(v);
	assert_int_equal(v->actor, gpc);
	assert_int_equal(v->event, 2); /* the "violation" event the report emitted */
	assert_string_equal(mn_trace_get(t, 2)->step, "violation");
	assert_int_equal(v->pfn, 0x42);
	assert_null(mn_trace_violation(t, 1));
	mn_trace_format_violation(t, v, line, sizeof(line));
	assert_string_equal(line, "frame.use_after_free pfn=0x42 by gpc at #2 (gpc.read); "
				  "caused by - at #1: freed");
	assert_int_equal(mn_trace_count_violations(t, MN_VIOL_USE_AFTER_FREE), 1);
	assert_int_equal(mn_trace_count_violations(t, MN_VIOL_REFCOUNT), 0);

	/* Past the cap only the total grows. */
	for (i = 0; i < MN_TRACE_MAX_VIOLATIONS + 10; i++)
		mn_trace_report(t, &r);
	assert_int_equal(mn_trace_nr_violations(t), MN_TRACE_MAX_VIOLATIONS);
	assert_int_equal(mn_trace_nr_violations_total(t), MN_TRACE_MAX_VIOLATIONS + 11);
	mn_trace_clear_violations(t);
	assert_int_equal(mn_trace_nr_violations(t), 0);
	assert_int_equal(mn_trace_nr_violations_total(t), 0);
	mn_trace_destroy(t);
}

static void test_violations_kept_when_off(void **state)
{
	struct fixture *fx = *state;
	struct mn_violation r = { .kind = MN_VIOL_REFCOUNT, .invariant = "x", .pfn = 1 };
	struct mn_trace *t;

	assert_int_equal(mn_trace_create(fx->a, MN_TRACE_OFF, 0, &t), 0);
	mn_trace_report(t, &r);
	assert_int_equal(mn_trace_nr_violations(t), 1);
	assert_int_equal(mn_trace_violation(t, 0)->event, 0);
	assert_int_equal(mn_trace_count(t), 0);
	mn_trace_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_off_mode_records_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_mode_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_mode_keeps_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_mode_drops_on_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_streams_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_violation_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_violations_kept_when_off, setup, teardown),
	};

	return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
