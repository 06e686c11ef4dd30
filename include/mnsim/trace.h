/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the per-world record of what happened: an append-only event log (actor, named
 * step, key/values), the actor table, and the violation log every oracle reports into.
 * Plays the part the kernel's tracepoints and WARN/KVM_BUG reports play for a real VM.
 */
#ifndef MNSIM_TRACE_H
#define MNSIM_TRACE_H

#include <stdio.h>
#include <mnsim/alloc.h>
#include <mnsim/types.h>

/**
 * DOC: trace.h
 *
 * Events: each call to mn_trace_emit() appends one event with a fresh id (1, 2, ...), the
 * current actor (set by whoever switches between actors), a step name (a stable id such as
 * ``invalidate_end.seq_bump``; a string literal) and up to %MN_TRACE_MAX_KV key/values. In
 * %MN_TRACE_FULL mode every event is kept; in %MN_TRACE_RING mode the newest @capacity
 * events are kept, for benchmarks; in %MN_TRACE_OFF mode nothing is kept and emitting costs
 * one branch (use the mn_trace() macro so that the key/values are not even built). A sink
 * set with mn_trace_set_sink() sees each event as it is recorded, for streaming output.
 *
 * Violations: an oracle that finds a broken invariant fills a &struct mn_violation and hands
 * it to mn_trace_report(). Reports are collected whatever the mode, never printed by the
 * library, and read back with mn_trace_nr_violations() / mn_trace_violation(). The event ids
 * in a report point into the event log when tracing was on, and are 0 when it was off.
 *
 * Strings passed as step names, keys, actor-independent string values and violation texts
 * must outlive the trace: string literals, or copies made with mn_trace_intern().
 *
 * State: a provider set with mn_trace_set_state_fn() adds a small snapshot (up to
 * %MN_TRACE_MAX_STATE named values) to each event recorded in %MN_TRACE_FULL mode; the KVM
 * layer uses it for the VM's invalidation state.
 *
 * Renderings: mn_trace_render() writes a recorded trace as aligned text, as JSON Lines with
 * stable keys, or as a Mermaid sequence diagram; docs/trace-format.md describes all three.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_trace;

/**
 * enum mn_trace_mode - how much of the event log a trace keeps.
 * @MN_TRACE_OFF: nothing; mn_trace_emit() returns 0.
 * @MN_TRACE_RING: the newest @capacity events.
 * @MN_TRACE_FULL: every event.
 */
enum mn_trace_mode {
	MN_TRACE_OFF = 0,
	MN_TRACE_RING,
	MN_TRACE_FULL,
};

/**
 * enum mn_kv_type - how a key/value prints.
 * @MN_KV_DEC: unsigned decimal (counters, sequence numbers).
 * @MN_KV_HEX: unsigned hexadecimal with 0x (addresses, frame numbers, raw entries).
 * @MN_KV_INT: signed decimal (return codes).
 * @MN_KV_STR: a string with the lifetime rules of this header.
 */
enum mn_kv_type {
	MN_KV_DEC = 0,
	MN_KV_HEX,
	MN_KV_INT,
	MN_KV_STR,
};

/**
 * struct mn_kv - one key/value of an event.
 * @key: the key, a string literal.
 * @type: how @u, @i or @s is printed.
 * @u: value for %MN_KV_DEC and %MN_KV_HEX.
 * @i: value for %MN_KV_INT.
 * @s: value for %MN_KV_STR.
 */
struct mn_kv {
	const char *key;
	enum mn_kv_type type;
	union {
		uint64_t u;
		int64_t i;
		const char *s;
	};
};

#define MN_KV_U(k, v) ((struct mn_kv){ .key = (k), .type = MN_KV_DEC, .u = (uint64_t)(v) })
#define MN_KV_X(k, v) ((struct mn_kv){ .key = (k), .type = MN_KV_HEX, .u = (uint64_t)(v) })
#define MN_KV_I(k, v) ((struct mn_kv){ .key = (k), .type = MN_KV_INT, .i = (int64_t)(v) })
#define MN_KV_S(k, v) ((struct mn_kv){ .key = (k), .type = MN_KV_STR, .s = (v) })

#define MN_TRACE_MAX_KV 8

#define MN_TRACE_MAX_STATE 4

/**
 * struct mn_trace_state - a snapshot of the state a trace follows, taken at each event.
 * @nr: number of valid entries (0: no snapshot).
 * @name: the values' names, string literals such as "seq".
 * @val: the values.
 *
 * The KVM layer gives the invalidation state of the VM created last: ``seq``
 * (mmu_invalidate_seq), ``in_progress`` (mmu_invalidate_in_progress) and ``mn_count``
 * (mn_active_invalidate_count).
 */
struct mn_trace_state {
	uint32_t nr;
	const char *name[MN_TRACE_MAX_STATE];
	int64_t val[MN_TRACE_MAX_STATE];
};

/**
 * struct mn_event - one recorded event.
 * @id: position in the log, starting at 1.
 * @actor: actor id at the time of the event (0 is the unnamed "-" actor).
 * @nr_kv: number of valid entries in @kv.
 * @step: the step name.
 * @kv: key/values in the order given.
 * @state: the state provider's snapshot (%MN_TRACE_FULL mode only; else @state.nr is 0).
 */
struct mn_event {
	uint64_t id;
	uint32_t actor;
	uint32_t nr_kv;
	const char *step;
	struct mn_kv kv[MN_TRACE_MAX_KV];
	struct mn_trace_state state;
};

/**
 * typedef mn_trace_sink_fn - receives each event as it is recorded.
 * @arg: the argument given to mn_trace_set_sink().
 * @t: the trace.
 * @ev: the event; valid only during the call.
 */
typedef void (*mn_trace_sink_fn)(void *arg, const struct mn_trace *t, const struct mn_event *ev);

/**
 * mn_trace_create() - Create a trace.
 * @a: allocation context for the log, actor names and violations.
 * @mode: what to keep.
 * @capacity: events kept in %MN_TRACE_RING mode (ignored otherwise; 0 picks 4096).
 * @out: receives the trace.
 *
 * Context: Any context.
 * Return: 0, -EINVAL for an unknown @mode, or -ENOMEM.
 */
MN_EXPORT int mn_trace_create(struct mn_alloc *a, enum mn_trace_mode mode, size_t capacity,
			      struct mn_trace **out);

/**
 * mn_trace_destroy() - Free a trace and everything it recorded.
 * @t: the trace, or NULL.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_trace_destroy(struct mn_trace *t);

/**
 * mn_trace_get_mode() - The mode @t was created with.
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the mode.
 */
MN_EXPORT enum mn_trace_mode mn_trace_get_mode(const struct mn_trace *t);

/*
 * The first member of every struct mn_trace, public only so that mn_trace_is_on() inlines
 * to one load and one branch. Not part of the API otherwise.
 */
struct mn_trace_head {
	bool on;
};

/* Whether mn_trace_emit() records anything: false in MN_TRACE_OFF mode. */
static inline bool mn_trace_is_on(const struct mn_trace *t)
{
	return ((const struct mn_trace_head *)(const void *)t)->on;
}

/**
 * mn_trace_emit() - Append an event.
 * @t: the trace.
 * @step: step name (string literal or interned).
 * @kv: key/values; only the first %MN_TRACE_MAX_KV are kept.
 * @nr_kv: number of entries in @kv.
 *
 * Context: The thread that owns @t.
 * Return: the new event's id, or 0 when tracing is off or the event could not be stored
 * (counted by mn_trace_nr_dropped()).
 */
MN_EXPORT uint64_t mn_trace_emit(struct mn_trace *t, const char *step, const struct mn_kv *kv,
				 size_t nr_kv);

/*
 * mn_trace(t, step, kv...) - emit an event with key/values built only when tracing is on.
 * Example: mn_trace(t, "fault.seq_snapshot", MN_KV_X("gfn", gfn), MN_KV_U("seq", seq));
 */
#define mn_trace(t, step, ...)                                                                     \
	do {                                                                                       \
		if (mn_trace_is_on(t)) {                                                           \
			const struct mn_kv __mn_kv[] = { __VA_ARGS__ };                            \
			mn_trace_emit((t), (step), __mn_kv, sizeof(__mn_kv) / sizeof(__mn_kv[0])); \
		}                                                                                  \
	} while (0)

/**
 * mn_trace_count() - Number of events emitted so far (the id of the newest one).
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the count; events may have been dropped from a ring since.
 */
MN_EXPORT uint64_t mn_trace_count(const struct mn_trace *t);

/**
 * mn_trace_nr_dropped() - Events that could not be stored (no memory in %MN_TRACE_FULL mode).
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the number of dropped events; they still consumed an id.
 */
MN_EXPORT uint64_t mn_trace_nr_dropped(const struct mn_trace *t);

/**
 * mn_trace_get() - Look an event up by id.
 * @t: the trace.
 * @id: the event id.
 *
 * Context: The pointer stays valid until the next emit (ring mode) or destroy (full mode).
 * Return: the event, or NULL when @id was never emitted, was dropped, or fell off the ring.
 */
MN_EXPORT const struct mn_event *mn_trace_get(const struct mn_trace *t, uint64_t id);

/**
 * mn_trace_first_id() - Id of the oldest event still kept.
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the id, or 0 when no event is kept.
 */
MN_EXPORT uint64_t mn_trace_first_id(const struct mn_trace *t);

/**
 * mn_trace_set_sink() - Stream every recorded event to @fn.
 * @t: the trace.
 * @fn: the sink, or NULL to stop streaming.
 * @arg: passed to @fn.
 *
 * Context: The thread that owns @t.
 */
MN_EXPORT void mn_trace_set_sink(struct mn_trace *t, mn_trace_sink_fn fn, void *arg);

/**
 * typedef mn_trace_state_fn - fills a snapshot of the state a trace follows.
 * @arg: the argument given to mn_trace_set_state_fn().
 * @st: the snapshot to fill; @st->nr is 0 on entry. It must not emit, yield or report.
 */
typedef void (*mn_trace_state_fn)(void *arg, struct mn_trace_state *st);

/**
 * mn_trace_set_state_fn() - Attach a snapshot of some state to every event from now on.
 * @t: the trace.
 * @fn: the provider, or NULL for none.
 * @arg: passed to @fn; also what mn_trace_clear_state_fn() compares.
 *
 * The provider is called for each event recorded in %MN_TRACE_FULL mode, and its snapshot
 * is stored in &struct mn_event.state. There is one provider per trace: setting one
 * replaces the previous (the KVM layer registers each VM it creates, so with several VMs
 * the one created last wins).
 *
 * Context: The thread that owns @t.
 */
MN_EXPORT void mn_trace_set_state_fn(struct mn_trace *t, mn_trace_state_fn fn, void *arg);

/**
 * mn_trace_clear_state_fn() - Remove the state provider if it is still the one for @arg.
 * @t: the trace.
 * @arg: the argument the provider was set with.
 *
 * Context: The thread that owns @t.
 */
MN_EXPORT void mn_trace_clear_state_fn(struct mn_trace *t, const void *arg);

/**
 * mn_trace_intern() - Copy @s into storage that lives as long as @t.
 * @t: the trace.
 * @s: the string.
 *
 * Context: The thread that owns @t.
 * Return: the copy, or NULL when out of memory.
 */
MN_EXPORT const char *mn_trace_intern(struct mn_trace *t, const char *s);

/**
 * mn_trace_actor_add() - Register an actor name (a vCPU, an mm operation, ...).
 * @t: the trace.
 * @name: the name; copied.
 * @id: receives the actor id (1, 2, ...).
 *
 * Context: The thread that owns @t.
 * Return: 0, -EINVAL for an empty name, -E2BIG past 65535 actors, or -ENOMEM.
 */
MN_EXPORT int mn_trace_actor_add(struct mn_trace *t, const char *name, uint32_t *id);

/**
 * mn_trace_set_actor() - Make @id the actor of the events and reports that follow.
 * @t: the trace.
 * @id: a registered actor id, or 0 for none.
 *
 * Context: The thread that owns @t.
 * Return: 0, or -ENOENT when @id is not registered (the current actor is unchanged).
 */
MN_EXPORT int mn_trace_set_actor(struct mn_trace *t, uint32_t id);

/**
 * mn_trace_get_actor() - The current actor id.
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the id set last, 0 initially.
 */
MN_EXPORT uint32_t mn_trace_get_actor(const struct mn_trace *t);

/**
 * mn_trace_actor_name() - The name of actor @id.
 * @t: the trace.
 * @id: an actor id.
 *
 * Context: Any context.
 * Return: the name, "-" for 0, "?" for an unknown id.
 */
MN_EXPORT const char *mn_trace_actor_name(const struct mn_trace *t, uint32_t id);

/**
 * mn_trace_format_event() - Render one event as a text line without a newline.
 * @t: the trace (for actor names).
 * @ev: the event.
 * @buf: output buffer.
 * @len: size of @buf.
 *
 * Columns: id, actor, step, then key=value pairs, for example
 * ``    12  vcpu0       fault.seq_snapshot          gfn=0x1000 seq=3``.
 *
 * Context: Any context.
 * Return: the length of the full line as snprintf() counts it; the output is truncated
 * (and always NUL-terminated when @len > 0) if that is >= @len.
 */
MN_EXPORT int mn_trace_format_event(const struct mn_trace *t, const struct mn_event *ev, char *buf,
				    size_t len);

/**
 * mn_trace_print() - Write every kept event to @f, one line each.
 * @t: the trace.
 * @f: the stream.
 *
 * Context: Any context.
 * Return: number of events written, or -EIO when writing failed.
 */
MN_EXPORT int mn_trace_print(const struct mn_trace *t, FILE *f);

/**
 * mn_trace_sink_text() - A sink that writes each event to the FILE * given as @arg.
 * @arg: a FILE *.
 * @t: the trace.
 * @ev: the event.
 *
 * Context: Called by the trace.
 */
MN_EXPORT void mn_trace_sink_text(void *arg, const struct mn_trace *t, const struct mn_event *ev);

/**
 * enum mn_violation_kind - families of broken invariants.
 * @MN_VIOL_USE_AFTER_FREE: a frame was used through a reference taken before it was freed.
 * @MN_VIOL_REFCOUNT: a frame's refcount or mapcount went wrong (underflow, freed while mapped).
 * @MN_VIOL_DIRECT_MAP: a kernel mapping of a frame was misused: touched through the direct
 *                      map while absent, freed while absent from it, or freed with a stale
 *                      temporary-mapping TLB entry.
 * @MN_VIOL_LOCK: a lock was misused: unlocked while not held, taken recursively, taken in
 *                an order that inverts an earlier one, or slept on in atomic context.
 * @MN_VIOL_DEADLOCK: every remaining sim thread is blocked.
 * @MN_VIOL_CHECK: a scenario's or a protocol checker's own invariant failed.
 * @MN_VIOL_NR: number of kinds.
 */
enum mn_violation_kind {
	MN_VIOL_USE_AFTER_FREE = 1,
	MN_VIOL_REFCOUNT,
	MN_VIOL_DIRECT_MAP,
	MN_VIOL_LOCK,
	MN_VIOL_DEADLOCK,
	MN_VIOL_CHECK,
	MN_VIOL_NR,
};

/**
 * struct mn_violation - one report of a broken invariant.
 * @kind: the family.
 * @invariant: stable id of the invariant, for example "frame.use_after_free".
 * @what: the use site that tripped the check, as the caller named it.
 * @pfn: the frame involved, or %MN_INVALID_PFN.
 * @ref_gen: generation recorded in the stale reference (use-after-free).
 * @frame_gen: generation of the frame when the violation happened.
 * @actor: who broke the invariant.
 * @event: when: id of the "violation" event in the log (0 when tracing was off).
 * @cause_actor: who made the use invalid, e.g. who freed the frame.
 * @cause_event: when that happened.
 * @reuse_actor: who allocated the frame again since, if anyone.
 * @reuse_event: when that happened (0 when the frame was not reused).
 * @schedule: the schedule string of the run that found it (set when a sim run ends; NULL
 *            outside sim runs).
 * @detail: a one-line human explanation.
 */
struct mn_violation {
	enum mn_violation_kind kind;
	const char *invariant;
	const char *what;
	mn_pfn_t pfn;
	uint64_t ref_gen;
	uint64_t frame_gen;
	uint32_t actor;
	uint64_t event;
	uint32_t cause_actor;
	uint64_t cause_event;
	uint32_t reuse_actor;
	uint64_t reuse_event;
	const char *schedule;
	char detail[256];
};

/**
 * mn_trace_report() - Record a violation.
 * @t: the trace.
 * @v: the report; copied. @v->actor and @v->event are filled in by the trace.
 *
 * Also emits a "violation" event when tracing is on. Past %MN_TRACE_MAX_VIOLATIONS reports
 * only the count grows (mn_trace_nr_violations_total()).
 *
 * Context: The thread that owns @t.
 */
MN_EXPORT void mn_trace_report(struct mn_trace *t, const struct mn_violation *v);

#define MN_TRACE_MAX_VIOLATIONS 4096

/**
 * mn_trace_nr_violations() - Number of violation reports kept.
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the number of reports readable with mn_trace_violation().
 */
MN_EXPORT size_t mn_trace_nr_violations(const struct mn_trace *t);

/**
 * mn_trace_nr_violations_total() - Number of violations reported, kept or not.
 * @t: the trace.
 *
 * Context: Any context.
 * Return: the count, including reports beyond %MN_TRACE_MAX_VIOLATIONS or lost to memory.
 */
MN_EXPORT uint64_t mn_trace_nr_violations_total(const struct mn_trace *t);

/**
 * mn_trace_violation() - Read report @i.
 * @t: the trace.
 * @i: index, 0 for the first report.
 *
 * Context: Valid until mn_trace_clear_violations() or destroy.
 * Return: the report, or NULL when @i is out of range.
 */
MN_EXPORT const struct mn_violation *mn_trace_violation(const struct mn_trace *t, size_t i);

/**
 * mn_trace_count_violations() - Number of kept reports of one kind.
 * @t: the trace.
 * @kind: the family to count.
 *
 * Context: Any context.
 * Return: the count.
 */
MN_EXPORT size_t mn_trace_count_violations(const struct mn_trace *t, enum mn_violation_kind kind);

/**
 * mn_trace_clear_violations() - Forget every report.
 * @t: the trace.
 *
 * Context: The thread that owns @t.
 */
MN_EXPORT void mn_trace_clear_violations(struct mn_trace *t);

/**
 * mn_trace_format_violation() - Render a report as one text line without a newline.
 * @t: the trace (for actor names).
 * @v: the report.
 * @buf: output buffer.
 * @len: size of @buf.
 *
 * Context: Any context.
 * Return: as mn_trace_format_event().
 */
MN_EXPORT int mn_trace_format_violation(const struct mn_trace *t, const struct mn_violation *v,
					char *buf, size_t len);

/**
 * enum mn_trace_format - the renderings of mn_trace_render().
 * @MN_TRACE_FMT_TEXT: one aligned line per event, violations with their detail.
 * @MN_TRACE_FMT_JSONL: one JSON object per line: a header, the events, the violations and
 *                      a summary, with the keys documented in docs/trace-format.md.
 * @MN_TRACE_FMT_MERMAID: a Mermaid ``sequenceDiagram``, one lifeline per actor.
 */
enum mn_trace_format {
	MN_TRACE_FMT_TEXT = 0,
	MN_TRACE_FMT_JSONL,
	MN_TRACE_FMT_MERMAID,
};

/**
 * struct mn_trace_render - how mn_trace_render() writes a trace.
 * @format: the rendering.
 * @colour: text only: ANSI colours (violations red, one colour per actor, named steps dim).
 * @verbose: text and Mermaid: every event; when false, lock and SRCU events and
 *           page-table allocations are left out (JSON Lines always has every event).
 * @title: a title for the rendering, or NULL.
 * @replay: the command line that replays the run, printed last, or NULL.
 */
struct mn_trace_render {
	enum mn_trace_format format;
	bool colour;
	bool verbose;
	const char *title;
	const char *replay;
};

/**
 * mn_trace_format_parse() - Look a rendering up by name.
 * @name: "text", "jsonl" or "mermaid".
 * @out: receives the format.
 *
 * Context: Any context.
 * Return: 0, or -EINVAL for an unknown name (@out is unchanged).
 */
MN_EXPORT int mn_trace_format_parse(const char *name, enum mn_trace_format *out);

/**
 * mn_trace_render() - Write the kept events and the violation reports of @t to @f.
 * @t: the trace.
 * @f: the stream.
 * @opts: the rendering, or NULL for plain text.
 *
 * Each violation follows the event that reported it; reports with no kept event come after
 * the last event. docs/trace-format.md describes the three formats.
 *
 * Context: Any context; @t must not change meanwhile.
 * Return: the number of events written, -EINVAL for a NULL @t or @f or an unknown format,
 * -ENOMEM, or -EIO when writing failed.
 */
MN_EXPORT int mn_trace_render(const struct mn_trace *t, FILE *f,
			      const struct mn_trace_render *opts);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_TRACE_H */
