/* SPDX-License-Identifier: MIT */
/*
 * trace-internal.h - the layout of struct mn_trace, shared by the files of lib/trace.
 */
#ifndef MN_TRACE_INTERNAL_H
#define MN_TRACE_INTERNAL_H

#include "mnsim-internal.h"

/* Full-mode storage grows by chunks so that event pointers stay valid until destroy. */
#define TRACE_CHUNK_EVENTS 1024U
#define TRACE_DEFAULT_RING 4096U
#define TRACE_MAX_ACTORS   65535U

struct mn_trace {
	struct mn_trace_head head; /* first: mn_trace_is_on() reads it */
	enum mn_trace_mode mode;
	struct mn_alloc *alloc;

	uint64_t count;	  /* ids handed out; the newest event's id */
	uint64_t dropped; /* ids whose event could not be stored */

	struct mn_event *ring; /* MN_TRACE_RING: capacity slots, id i at (i - 1) % capacity */
	size_t capacity;

	struct mn_event **chunks; /* MN_TRACE_FULL: id i at chunk (i - 1) / CHUNK, zeroed */
	size_t nr_chunks;	  /* slots in @chunks, filled or NULL */

	mn_trace_sink_fn sink;
	void *sink_arg;

	mn_trace_state_fn state_fn; /* called for each event in MN_TRACE_FULL mode */
	void *state_arg;

	uint32_t actor;
	uint32_t nr_actors;
	size_t actors_cap;
	char **actor_names; /* actor id i is actor_names[i - 1] */

	char **interned;
	size_t nr_interned;
	size_t interned_cap;

	struct mn_violation *viol;
	size_t nr_viol;
	size_t viol_cap;
	uint64_t viol_total;
};

/* text.c: snprintf at *@pos of @buf, advancing *@pos by the full length (may pass @len). */
void trace_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void trace_append_kv(char *buf, size_t len, size_t *pos, const struct mn_kv *kv);

#endif /* MN_TRACE_INTERNAL_H */
