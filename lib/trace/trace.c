// SPDX-License-Identifier: MIT
/*
 * trace.c - the event log: ids, ring and full storage, actors, interned strings, the
 * streaming sink and the state provider. Stands in for the kernel's tracepoints
 * (include/trace/events/kvm.h).
 */
#include "trace/trace-internal.h"

int mn_trace_create(struct mn_alloc *a, enum mn_trace_mode mode, size_t capacity,
		    struct mn_trace **out)
{
	struct mn_trace *t;

	if (mode != MN_TRACE_OFF && mode != MN_TRACE_RING && mode != MN_TRACE_FULL)
		return -EINVAL;
	t = mn_zalloc(a, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->alloc = a;
	t->mode = mode;
	t->head.on = mode != MN_TRACE_OFF;
	if (mode == MN_TRACE_RING) {
		t->capacity = capacity ? capacity : TRACE_DEFAULT_RING;
		t->ring = mn_calloc(a, t->capacity, sizeof(*t->ring));
		if (!t->ring) {
			mn_free(a, t);
			return -ENOMEM;
		}
	}
	*out = t;
	return 0;
}

void mn_trace_destroy(struct mn_trace *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nr_chunks; i++)
		mn_free(t->alloc, t->chunks[i]);
	mn_free(t->alloc, t->chunks);
	mn_free(t->alloc, t->ring);
	for (i = 0; i < t->nr_actors; i++)
		mn_free(t->alloc, t->actor_names[i]);
	mn_free(t->alloc, t->actor_names);
	for (i = 0; i < t->nr_interned; i++)
		mn_free(t->alloc, t->interned[i]);
	mn_free(t->alloc, t->interned);
	mn_free(t->alloc, t->viol);
	mn_free(t->alloc, t);
}

enum mn_trace_mode mn_trace_get_mode(const struct mn_trace *t)
{
	return t->mode;
}

/* The slot of event @id in full mode, allocating its chunk on first use; NULL if no memory. */
static struct mn_event *full_slot(struct mn_trace *t, uint64_t id)
{
	size_t c = (id - 1) / TRACE_CHUNK_EVENTS;

	if (c >= t->nr_chunks) {
		size_t cap = t->nr_chunks, old = t->nr_chunks;

		if (mn_array_grow(t->alloc, (void **)&t->chunks, &cap, c + 1, sizeof(*t->chunks)))
			return NULL;
		memset(t->chunks + old, 0, (cap - old) * sizeof(*t->chunks));
		t->nr_chunks = cap;
	}
	if (!t->chunks[c]) {
		t->chunks[c] = mn_calloc(t->alloc, TRACE_CHUNK_EVENTS, sizeof(struct mn_event));
		if (!t->chunks[c])
			return NULL;
	}
	return &t->chunks[c][(id - 1) % TRACE_CHUNK_EVENTS];
}

uint64_t mn_trace_emit(struct mn_trace *t, const char *step, const struct mn_kv *kv, size_t nr_kv)
{
	struct mn_event *ev;
	uint64_t id;

	if (!t->head.on)
		return 0;
	id = ++t->count;
	if (t->mode == MN_TRACE_RING)
		ev = &t->ring[(id - 1) % t->capacity];
	else
		ev = full_slot(t, id);
	if (unlikely(!ev)) {
		t->dropped++;
		return 0;
	}
	ev->id = id;
	ev->actor = t->actor;
	ev->step = step;
	ev->nr_kv = (uint32_t)MN_MIN(nr_kv, (size_t)MN_TRACE_MAX_KV);
	if (ev->nr_kv)
		memcpy(ev->kv, kv, ev->nr_kv * sizeof(*kv));
	ev->state.nr = 0;
	if (t->state_fn && t->mode == MN_TRACE_FULL) {
		t->state_fn(t->state_arg, &ev->state);
		ev->state.nr = MN_MIN(ev->state.nr, (uint32_t)MN_TRACE_MAX_STATE);
	}
	if (t->sink)
		t->sink(t->sink_arg, t, ev);
	return id;
}

uint64_t mn_trace_count(const struct mn_trace *t)
{
	return t->count;
}

uint64_t mn_trace_nr_dropped(const struct mn_trace *t)
{
	return t->dropped;
}

uint64_t mn_trace_first_id(const struct mn_trace *t)
{
	uint64_t id;

	if (t->mode == MN_TRACE_RING) {
		if (!t->count)
			return 0;
		id = t->count > t->capacity ? t->count - t->capacity + 1 : 1;
	} else {
		id = 1;
	}
	/* Skip ids whose event was dropped. */
	for (; id <= t->count; id++)
		if (mn_trace_get(t, id))
			return id;
	return 0;
}

const struct mn_event *mn_trace_get(const struct mn_trace *t, uint64_t id)
{
	const struct mn_event *ev;
	size_t c;

	if (id == 0 || id > t->count)
		return NULL;
	if (t->mode == MN_TRACE_RING) {
		if (t->count - id >= t->capacity)
			return NULL;
		ev = &t->ring[(id - 1) % t->capacity];
	} else if (t->mode == MN_TRACE_FULL) {
		c = (id - 1) / TRACE_CHUNK_EVENTS;
		if (c >= t->nr_chunks || !t->chunks[c])
			return NULL;
		ev = &t->chunks[c][(id - 1) % TRACE_CHUNK_EVENTS];
	} else {
		return NULL;
	}
	/* A slot that held a dropped id still carries an older id (or 0). */
	return ev->id == id ? ev : NULL;
}

void mn_trace_set_sink(struct mn_trace *t, mn_trace_sink_fn fn, void *arg)
{
	t->sink = fn;
	t->sink_arg = arg;
}

void mn_trace_set_state_fn(struct mn_trace *t, mn_trace_state_fn fn, void *arg)
{
	t->state_fn = fn;
	t->state_arg = fn ? arg : NULL;
}

void mn_trace_clear_state_fn(struct mn_trace *t, const void *arg)
{
	if (t->state_fn && t->state_arg == arg)
		mn_trace_set_state_fn(t, NULL, NULL);
}

const char *mn_trace_intern(struct mn_trace *t, const char *s)
{
	char *copy;

	if (mn_array_grow(t->alloc, (void **)&t->interned, &t->interned_cap, t->nr_interned + 1,
			  sizeof(*t->interned)))
		return NULL;
	copy = mn_strdup(t->alloc, s);
	if (!copy)
		return NULL;
	t->interned[t->nr_interned++] = copy;
	return copy;
}

int mn_trace_actor_add(struct mn_trace *t, const char *name, uint32_t *id)
{
	char *copy;

	if (!name || !*name)
		return -EINVAL;
	if (t->nr_actors >= TRACE_MAX_ACTORS)
		return -E2BIG;
	if (mn_array_grow(t->alloc, (void **)&t->actor_names, &t->actors_cap, t->nr_actors + 1,
			  sizeof(*t->actor_names)))
		return -ENOMEM;
	copy = mn_strdup(t->alloc, name);
	if (!copy)
		return -ENOMEM;
	t->actor_names[t->nr_actors++] = copy;
	*id = t->nr_actors;
	return 0;
}

int mn_trace_set_actor(struct mn_trace *t, uint32_t id)
{
	if (id > t->nr_actors)
		return -ENOENT;
	t->actor = id;
	return 0;
}

uint32_t mn_trace_get_actor(const struct mn_trace *t)
{
	return t->actor;
}

const char *mn_trace_actor_name(const struct mn_trace *t, uint32_t id)
{
	if (id == 0)
		return "-";
	if (id > t->nr_actors)
		return "?";
	return t->actor_names[id - 1];
}
