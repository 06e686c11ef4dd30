// SPDX-License-Identifier: MIT
/*
 * format.c - the renderings of a recorded trace that the mnsim CLI prints: aligned text
 * (ANSI colours on request), JSON Lines with stable keys, and a Mermaid sequence diagram.
 * docs/trace-format.md describes every column and key; keep the two in step.
 */
#include "trace/trace-internal.h"

#include <inttypes.h>
#include <stdarg.h>

#define TEXT_MAX_STEP_W	 40   /* the event column never pads wider than this */
#define RENDER_MAX_LOCKS 64   /* locks whose holder is followed; more are not */
#define LABEL_LEN	 1024 /* a Mermaid label; longer ones are cut */

#define C_RESET	 "\033[0m"
#define C_VIOL	 "\033[1;31m"
#define C_DETAIL "\033[31m"
#define C_DIM	 "\033[2m"
#define C_SKIP	 "\033[1;33m"
#define C_BOLD	 "\033[1m"

static const char *const actor_colours[] = {
	"\033[32m", "\033[34m", "\033[35m", "\033[36m",
	"\033[92m", "\033[94m", "\033[95m", "\033[96m",
};

static const char *const kind_names[MN_VIOL_NR] = {
	[MN_VIOL_USE_AFTER_FREE] = "use_after_free",
	[MN_VIOL_REFCOUNT] = "refcount",
	[MN_VIOL_DIRECT_MAP] = "direct_map",
	[MN_VIOL_LOCK] = "lock",
	[MN_VIOL_DEADLOCK] = "deadlock",
	[MN_VIOL_CHECK] = "check",
};

int mn_trace_format_parse(const char *name, enum mn_trace_format *out)
{
	static const char *const names[] = {
		[MN_TRACE_FMT_TEXT] = "text",
		[MN_TRACE_FMT_JSONL] = "jsonl",
		[MN_TRACE_FMT_MERMAID] = "mermaid",
	};
	size_t i;

	for (i = 0; name && i < ARRAY_SIZE(names); i++) {
		if (!strcmp(name, names[i])) {
			*out = (enum mn_trace_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- what an event is --------------------------------------------------------------- */

enum lock_op {
	LOCK_NONE = 0,
	LOCK_ACQUIRE,
	LOCK_ACQUIRE_SHARED,
	LOCK_RELEASE,
	LOCK_RELEASE_SHARED,
};

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static const struct mn_kv *kv_find(const struct mn_event *ev, const char *key)
{
	uint32_t i;

	for (i = 0; i < ev->nr_kv; i++)
		if (ev->kv[i].key && !strcmp(ev->kv[i].key, key))
			return &ev->kv[i];
	return NULL;
}

static bool kv_is_str(const struct mn_kv *kv, const char *s)
{
	return kv && kv->type == MN_KV_STR && kv->s && !strcmp(kv->s, s);
}

/* The sim's lock events (lib/sim/lock.c): "<kind>_lock|_trylock|_unlock" with one key "lock". */
static enum lock_op lock_op(const struct mn_event *ev)
{
	bool shared;

	if (!ev->step || ev->nr_kv != 1 || ev->kv[0].type != MN_KV_STR || !ev->kv[0].s ||
	    !ev->kv[0].key || strcmp(ev->kv[0].key, "lock"))
		return LOCK_NONE;
	shared = !strncmp(ev->step, "read_", 5);
	if (has_suffix(ev->step, "_unlock"))
		return shared ? LOCK_RELEASE_SHARED : LOCK_RELEASE;
	if (has_suffix(ev->step, "_lock") || has_suffix(ev->step, "_trylock"))
		return shared ? LOCK_ACQUIRE_SHARED : LOCK_ACQUIRE;
	return LOCK_NONE;
}

/* Left out unless verbose: locks, SRCU, and allocations of page-table pages. */
static bool is_noise(const struct mn_event *ev)
{
	if (lock_op(ev) != LOCK_NONE || kv_find(ev, "srcu"))
		return true;
	return ev->step && !strcmp(ev->step, "phys.alloc") &&
	       kv_is_str(kv_find(ev, "owner"), "pgtable");
}

/* What mn_step() records: the step id alone, or with skipped=yes under a mutation. */
static bool is_named_step(const struct mn_event *ev)
{
	return ev->nr_kv == 0 || (ev->nr_kv == 1 && kv_find(ev, "skipped"));
}

static bool is_violation(const struct mn_event *ev)
{
	return ev->step && !strcmp(ev->step, "violation");
}

static const char *step_name(const struct mn_event *ev)
{
	return ev->step ? ev->step : "?";
}

static const char *kind_name(enum mn_violation_kind kind)
{
	if ((unsigned int)kind < MN_VIOL_NR && kind_names[kind])
		return kind_names[kind];
	return "unknown";
}

static bool state_equal(const struct mn_trace_state *a, const struct mn_trace_state *b)
{
	uint32_t i;

	if (a->nr != b->nr)
		return false;
	for (i = 0; i < a->nr; i++)
		if (a->val[i] != b->val[i] ||
		    strcmp(a->name[i] ? a->name[i] : "", b->name[i] ? b->name[i] : ""))
			return false;
	return true;
}

/* A report whose "violation" event is not in the log (tracing was off, or it fell off). */
static bool violation_orphaned(const struct mn_trace *t, const struct mn_violation *v)
{
	const struct mn_event *ev = v->event ? mn_trace_get(t, v->event) : NULL;

	return !ev || !is_violation(ev);
}

/* ---- render state ------------------------------------------------------------------- */

struct lock_track {
	const char *name;
	bool held; /* exclusively, by @holder */
	uint32_t holder;
	uint32_t readers;
};

struct render {
	const struct mn_trace *t;
	FILE *f;
	const struct mn_trace_render *o;
	struct lock_track locks[RENDER_MAX_LOCKS];
	unsigned int nr_locks;
	struct mn_trace_state shown_state;	     /* of the last event shown with one */
	int written;				     /* events written */
	uint64_t kept;				     /* events in the log */
	uint64_t hidden;			     /* events left out */
	uint64_t seen[(TRACE_MAX_ACTORS + 64) / 64]; /* Mermaid: actors with a lifeline */
	char label[LABEL_LEN];
};

/* The kept event after id *@id (0: the first kept one), or NULL; *@id becomes its id. */
static const struct mn_event *next_kept(const struct mn_trace *t, uint64_t *id)
{
	const struct mn_event *ev;
	uint64_t i;

	for (i = *id ? *id + 1 : mn_trace_first_id(t); i && i <= t->count; i++) {
		ev = mn_trace_get(t, i);
		if (ev) {
			*id = i;
			return ev;
		}
	}
	return NULL;
}

/*
 * Noise is left out unless verbose, except an event that changed the VM's state (the
 * spin_unlock after mn_active_invalidate_count dropped, say): the change is shown on the
 * line of the event that made it, not on a later one of another thread.
 */
static bool shown(const struct render *r, const struct mn_event *ev)
{
	return r->o->verbose || !is_noise(ev) ||
	       (ev->state.nr && !state_equal(&ev->state, &r->shown_state));
}

/*
 * Follow who holds each lock, from the lock events themselves (locks are told apart by
 * name). Returns the lock @ev changed, or NULL when @ev is no lock event.
 */
static const struct lock_track *lock_update(struct render *r, const struct mn_event *ev)
{
	enum lock_op op = lock_op(ev);
	struct lock_track *l = NULL;
	unsigned int i;

	if (op == LOCK_NONE)
		return NULL;
	for (i = 0; i < r->nr_locks && !l; i++)
		if (!strcmp(r->locks[i].name, ev->kv[0].s))
			l = &r->locks[i];
	if (!l) {
		if (r->nr_locks == RENDER_MAX_LOCKS)
			return NULL;
		l = &r->locks[r->nr_locks++];
		*l = (struct lock_track){ .name = ev->kv[0].s };
	}
	switch (op) {
	case LOCK_ACQUIRE:
		l->held = true;
		l->holder = ev->actor;
		break;
	case LOCK_ACQUIRE_SHARED:
		l->readers++;
		break;
	case LOCK_RELEASE:
		l->held = false;
		break;
	default:
		if (l->readers)
			l->readers--;
		break;
	}
	return l;
}

/* Whether @ev's state is shown: it has one and it differs from the last one shown. */
static bool state_changed(struct render *r, const struct mn_event *ev)
{
	bool changed = ev->state.nr && !state_equal(&ev->state, &r->shown_state);

	if (changed)
		r->shown_state = ev->state;
	return changed;
}

/* ---- output ------------------------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3))) out(struct render *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(r->f, fmt, ap);
	va_end(ap);
}

static void colour(struct render *r, const char *code)
{
	if (r->o->colour)
		fputs(code, r->f);
}

/*
 * Who holds the lock after a lock event, into @buf at *@pos: " -> held by X" in text,
 * " (held by X)" in Mermaid labels, where '>' would need escaping.
 */
static void append_lock(const struct render *r, const struct lock_track *l, char *buf, size_t len,
			size_t *pos)
{
	bool text = r->o->format == MN_TRACE_FMT_TEXT;

	trace_append(buf, len, pos, text ? " -> " : " (");
	if (l->held)
		trace_append(buf, len, pos, "held by %s", mn_trace_actor_name(r->t, l->holder));
	else if (l->readers)
		trace_append(buf, len, pos, "held by %" PRIu32 " reader%s", l->readers,
			     l->readers > 1 ? "s" : "");
	else
		trace_append(buf, len, pos, "free");
	trace_append(buf, len, pos, text ? "" : ")");
}

/* "[seq=1 in_progress=0 mn_count=0]", into @buf at *@pos. */
static void append_state(const struct mn_trace_state *st, char *buf, size_t len, size_t *pos)
{
	uint32_t i;

	trace_append(buf, len, pos, "[");
	for (i = 0; i < st->nr; i++)
		trace_append(buf, len, pos, "%s%s=%" PRId64, i ? " " : "",
			     st->name[i] ? st->name[i] : "?", st->val[i]);
	trace_append(buf, len, pos, "]");
}

/* ---- text --------------------------------------------------------------------------- */

static void text_violation(struct render *r, const struct mn_violation *v)
{
	const struct mn_trace *t = r->t;
	bool cause = v->cause_actor || v->cause_event, reuse = v->reuse_actor || v->reuse_event;

	colour(r, C_VIOL);
	out(r, "        !!! VIOLATION %s (%s) by %s at #%" PRIu64,
	    v->invariant ? v->invariant : "?", kind_name(v->kind), mn_trace_actor_name(t, v->actor),
	    v->event);
	if (v->what)
		out(r, " in %s", v->what);
	if (v->pfn != MN_INVALID_PFN)
		out(r, " pfn=0x%" PRIx64, v->pfn);
	colour(r, C_RESET C_DETAIL);
	if (v->detail[0])
		out(r, "\n            %s", v->detail);
	if (cause)
		out(r, "\n            caused by %s at #%" PRIu64,
		    mn_trace_actor_name(t, v->cause_actor), v->cause_event);
	if (reuse)
		out(r, "%sreused by %s at #%" PRIu64, cause ? "; " : "\n            ",
		    mn_trace_actor_name(t, v->reuse_actor), v->reuse_event);
	if (v->schedule)
		out(r, "\n            schedule %s", v->schedule);
	colour(r, C_RESET);
	out(r, "\n");
}

static void text_event(struct render *r, const struct mn_event *ev, int aw, int sw,
		       const struct lock_track *l)
{
	bool viol = is_violation(ev), step = !viol && is_named_step(ev);
	bool show_state = state_changed(r, ev);
	bool more = ev->nr_kv || l || show_state;
	size_t pos = 0;
	uint32_t i;

	if (viol)
		colour(r, C_VIOL);
	out(r, "%6" PRIu64 "  ", ev->id);
	if (!viol && ev->actor)
		colour(r, actor_colours[(ev->actor - 1) % ARRAY_SIZE(actor_colours)]);
	out(r, "%-*s", aw, mn_trace_actor_name(r->t, ev->actor));
	if (!viol && ev->actor)
		colour(r, C_RESET);
	out(r, "  ");
	if (step)
		colour(r, ev->nr_kv ? C_SKIP : C_DIM);
	if (more)
		out(r, "%-*s ", sw, step_name(ev)); /* and each key/value brings a blank */
	else
		out(r, "%s", step_name(ev));
	r->label[0] = '\0';
	for (i = 0; i < ev->nr_kv; i++)
		trace_append_kv(r->label, sizeof(r->label), &pos, &ev->kv[i]);
	if (l)
		append_lock(r, l, r->label, sizeof(r->label), &pos);
	out(r, "%s", r->label);
	if (step)
		colour(r, C_RESET);
	if (show_state) {
		pos = 0;
		append_state(&ev->state, r->label, sizeof(r->label), &pos);
		out(r, ev->nr_kv || l ? "  " : " ");
		if (!viol)
			colour(r, C_BOLD);
		out(r, "%s", r->label);
		if (!viol)
			colour(r, C_RESET);
	}
	if (viol)
		colour(r, C_RESET);
	out(r, "\n");
}

static void render_text(struct render *r)
{
	const struct mn_trace *t = r->t;
	int aw = (int)strlen("actor"), sw = (int)strlen("event");
	const struct mn_event *ev;
	size_t i, orphans = 0;
	uint64_t id;

	for (id = 0; (ev = next_kept(t, &id));) {
		if (!shown(r, ev))
			continue;
		aw = MN_MAX(aw, (int)strlen(mn_trace_actor_name(t, ev->actor)));
		sw = MN_MAX(sw, (int)MN_MIN(strlen(step_name(ev)), (size_t)TEXT_MAX_STEP_W));
	}
	if (r->o->title) {
		colour(r, C_BOLD);
		out(r, "# %s", r->o->title);
		colour(r, C_RESET);
		out(r, "\n");
	}
	out(r, "%6s  %-*s  %-*s  %s\n", "id", aw, "actor", sw, "event", "changes");
	for (id = 0; (ev = next_kept(t, &id));) {
		const struct lock_track *l = lock_update(r, ev);

		r->kept++;
		if (!shown(r, ev)) {
			r->hidden++;
			continue;
		}
		text_event(r, ev, aw, sw, l);
		r->written++;
		for (i = 0; is_violation(ev) && i < t->nr_viol; i++)
			if (t->viol[i].event == ev->id)
				text_violation(r, &t->viol[i]);
	}
	for (i = 0; i < t->nr_viol; i++)
		orphans += violation_orphaned(t, &t->viol[i]);
	if (orphans)
		out(r, "-- violations without a kept event:\n");
	for (i = 0; orphans && i < t->nr_viol; i++)
		if (violation_orphaned(t, &t->viol[i]))
			text_violation(r, &t->viol[i]);
	if (r->hidden)
		out(r,
		    "-- %d of %" PRIu64
		    " events shown (locks, SRCU, page-table allocations left out)",
		    r->written, r->kept);
	else
		out(r, "-- %" PRIu64 " events", r->kept);
	if (t->dropped)
		out(r, ", %" PRIu64 " dropped", t->dropped);
	out(r, "; %" PRIu64 " violation%s\n", t->viol_total, t->viol_total == 1 ? "" : "s");
	if (r->o->replay)
		out(r, "replay: %s\n", r->o->replay);
}

/* ---- JSON Lines --------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at @s, or 0 when there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string, or null for NULL; bytes that are not UTF-8 become U+FFFD. */
static void json_str(struct render *r, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (!s) {
		out(r, "null");
		return;
	}
	fputc('"', r->f);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			out(r, "\\%c", *p);
		} else if (*p == '\n') {
			out(r, "\\n");
		} else if (*p == '\t') {
			out(r, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			out(r, "\\u%04x", *p);
		} else {
			n = utf8_len(p);
			if (n) {
				fwrite(p, 1, n, r->f);
				p += n;
				continue;
			}
			out(r, "\\ufffd");
		}
		p++;
	}
	fputc('"', r->f);
}

/* ",KEY:" */
static void json_key(struct render *r, const char *key)
{
	out(r, ",");
	json_str(r, key);
	out(r, ":");
}

/* ",KEY:NAME,KEY_id:N" for an actor id. */
static void json_actor(struct render *r, const char *key, uint32_t actor)
{
	json_key(r, key);
	json_str(r, mn_trace_actor_name(r->t, actor));
	out(r, ",\"%s_id\":%" PRIu32, key, actor);
}

/* Key/value @i of @ev, its key made unique within the event by a "_2", "_3"... suffix. */
static void json_kv(struct render *r, const struct mn_event *ev, uint32_t i)
{
	const struct mn_kv *kv = &ev->kv[i];
	const char *key = kv->key ? kv->key : "?";
	unsigned int dup = 1;
	uint32_t j;

	for (j = 0; j < i; j++)
		dup += !strcmp(ev->kv[j].key ? ev->kv[j].key : "?", key);
	if (i)
		out(r, ",");
	if (dup > 1) {
		snprintf(r->label, sizeof(r->label), "%s_%u", key, dup);
		key = r->label;
	}
	json_str(r, key);
	out(r, ":");
	switch (kv->type) {
	case MN_KV_HEX:
		out(r, "\"0x%" PRIx64 "\"", kv->u);
		break;
	case MN_KV_INT:
		out(r, "%" PRId64, kv->i);
		break;
	case MN_KV_STR:
		json_str(r, kv->s);
		break;
	default:
		out(r, "%" PRIu64, kv->u);
		break;
	}
}

static void json_event(struct render *r, const struct mn_event *ev, const struct lock_track *l)
{
	uint32_t i;

	out(r, "{\"type\":\"event\",\"id\":%" PRIu64, ev->id);
	json_actor(r, "actor", ev->actor);
	json_key(r, "event");
	json_str(r, step_name(ev));
	out(r, ",\"kv\":{");
	for (i = 0; i < ev->nr_kv; i++)
		json_kv(r, ev, i);
	out(r, "}");
	if (ev->state.nr) {
		out(r, ",\"state\":{");
		for (i = 0; i < ev->state.nr; i++) {
			if (i)
				out(r, ",");
			json_str(r, ev->state.name[i] ? ev->state.name[i] : "?");
			out(r, ":%" PRId64, ev->state.val[i]);
		}
		out(r, "}");
	}
	if (l) {
		out(r, ",\"lock\":{\"holder\":");
		if (l->held)
			json_str(r, mn_trace_actor_name(r->t, l->holder));
		else
			out(r, "null");
		out(r, ",\"readers\":%" PRIu32 "}", l->readers);
	}
	out(r, "}\n");
}

static void json_violation(struct render *r, const struct mn_violation *v)
{
	out(r, "{\"type\":\"violation\"");
	json_key(r, "invariant");
	json_str(r, v->invariant ? v->invariant : "?");
	json_key(r, "kind");
	json_str(r, kind_name(v->kind));
	json_key(r, "what");
	json_str(r, v->what);
	if (v->pfn != MN_INVALID_PFN)
		out(r, ",\"pfn\":\"0x%" PRIx64 "\"", v->pfn);
	else
		out(r, ",\"pfn\":null");
	json_actor(r, "actor", v->actor);
	out(r, ",\"event\":%" PRIu64, v->event);
	json_actor(r, "cause_actor", v->cause_actor);
	out(r, ",\"cause_event\":%" PRIu64, v->cause_event);
	json_actor(r, "reuse_actor", v->reuse_actor);
	out(r, ",\"reuse_event\":%" PRIu64, v->reuse_event);
	out(r, ",\"ref_gen\":%" PRIu64 ",\"frame_gen\":%" PRIu64, v->ref_gen, v->frame_gen);
	json_key(r, "detail");
	json_str(r, v->detail);
	json_key(r, "schedule");
	json_str(r, v->schedule);
	out(r, "}\n");
}

static void render_jsonl(struct render *r)
{
	static const char *const modes[] = { "off", "ring", "full" };
	const struct mn_trace *t = r->t;
	const struct mn_event *ev;
	uint64_t id, first = 0, last = 0;
	uint32_t a;
	size_t i;

	out(r, "{\"type\":\"header\",\"format\":\"mnsim-trace\",\"version\":1");
	json_key(r, "title");
	json_str(r, r->o->title);
	json_key(r, "mode");
	json_str(r, (unsigned int)t->mode < ARRAY_SIZE(modes) ? modes[t->mode] : "?");
	out(r, ",\"actors\":[");
	for (a = 0; a <= t->nr_actors; a++) {
		out(r, "%s{\"id\":%" PRIu32 ",\"name\":", a ? "," : "", a);
		json_str(r, mn_trace_actor_name(t, a));
		out(r, "}");
	}
	out(r, "]}\n");
	for (id = 0; (ev = next_kept(t, &id));) {
		json_event(r, ev, lock_update(r, ev));
		r->written++;
		first = first ? first : id;
		last = id;
		for (i = 0; is_violation(ev) && i < t->nr_viol; i++)
			if (t->viol[i].event == ev->id)
				json_violation(r, &t->viol[i]);
	}
	for (i = 0; i < t->nr_viol; i++)
		if (violation_orphaned(t, &t->viol[i]))
			json_violation(r, &t->viol[i]);
	out(r,
	    "{\"type\":\"summary\",\"events\":%d,\"first_id\":%" PRIu64 ",\"last_id\":%" PRIu64
	    ",\"dropped\":%" PRIu64 ",\"violations\":%zu,\"violations_total\":%" PRIu64,
	    r->written, first, last, t->dropped, t->nr_viol, t->viol_total);
	json_key(r, "replay");
	json_str(r, r->o->replay);
	out(r, "}\n");
}

/* ---- Mermaid ------------------------------------------------------------------------ */

/*
 * Write @s so that Mermaid takes it as label text: ';' ends a statement and '#' starts a
 * comment there, and '<', '>', '&', '"' and '%' could be read as markup, an entity or a
 * comment; all become numeric entity codes, which Mermaid decodes ("#59;" is ';'). Line
 * breaks and other control characters become blanks.
 */
static void mermaid_text(struct render *r, const char *s)
{
	for (; *s; s++) {
		if (strchr(";#<>&\"%", *s))
			out(r, "#%d;", (unsigned char)*s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fputc(' ', r->f);
		else
			fputc(*s, r->f);
	}
}

/*
 * The label of @ev: "id step key=value... [-> lock holder] [[state]]", unescaped (ids go
 * without '#', which would have to be escaped).
 */
static const char *mermaid_label(struct render *r, const struct mn_event *ev,
				 const struct lock_track *l)
{
	size_t pos = 0, len = sizeof(r->label);
	char *buf = r->label;
	uint32_t i;

	trace_append(buf, len, &pos, "%" PRIu64 " %s", ev->id, step_name(ev));
	for (i = 0; i < ev->nr_kv; i++)
		trace_append_kv(buf, len, &pos, &ev->kv[i]);
	if (l)
		append_lock(r, l, buf, len, &pos);
	if (state_changed(r, ev)) {
		trace_append(buf, len, &pos, " ");
		append_state(&ev->state, buf, len, &pos);
	}
	return buf;
}

static void mermaid_violation(struct render *r, const struct mn_violation *v)
{
	size_t pos = 0, len = sizeof(r->label);
	char *buf = r->label;

	trace_append(buf, len, &pos, "VIOLATION %s (%s) by %s at %" PRIu64,
		     v->invariant ? v->invariant : "?", kind_name(v->kind),
		     mn_trace_actor_name(r->t, v->actor), v->event);
	if (v->what)
		trace_append(buf, len, &pos, " in %s", v->what);
	if (v->pfn != MN_INVALID_PFN)
		trace_append(buf, len, &pos, " pfn=0x%" PRIx64, v->pfn);
	if (v->detail[0])
		trace_append(buf, len, &pos, ": %s", v->detail);
	out(r, "    rect rgb(255, 215, 215)\n");
	out(r, "    Note over a%" PRIu32 ": ", v->actor);
	mermaid_text(r, buf);
	out(r, "\n    end\n");
}

static void mark(struct render *r, uint32_t actor)
{
	r->seen[actor / 64] |= 1ULL << (actor % 64);
}

static bool marked(const struct render *r, uint32_t actor)
{
	return r->seen[actor / 64] & (1ULL << (actor % 64));
}

static void render_mermaid(struct render *r)
{
	const struct mn_trace *t = r->t;
	const struct mn_event *ev, *last = NULL;
	uint32_t a, first_a = UINT32_MAX, last_a = 0;
	uint64_t id;
	size_t i;

	/* One lifeline per actor with an event shown or a violation reported. */
	for (id = 0; (ev = next_kept(t, &id));)
		if (shown(r, ev))
			mark(r, ev->actor);
	for (i = 0; i < t->nr_viol; i++)
		mark(r, t->viol[i].actor);
	out(r, "sequenceDiagram\n");
	if (r->o->title) {
		out(r, "    title ");
		mermaid_text(r, r->o->title);
		out(r, "\n");
	}
	for (a = 0; a <= t->nr_actors; a++) {
		if (!marked(r, a))
			continue;
		first_a = MN_MIN(first_a, a);
		last_a = a;
		out(r, "    participant a%" PRIu32 " as ", a);
		mermaid_text(r, a ? mn_trace_actor_name(t, a) : "setup");
		out(r, "\n");
	}
	if (first_a == UINT32_MAX) {
		/* Nothing to show: a diagram needs a participant to be valid. */
		first_a = 0;
		out(r, "    participant a0 as setup\n    Note over a0: no events\n");
	}
	for (id = 0; (ev = next_kept(t, &id));) {
		const struct lock_track *l = lock_update(r, ev);

		if (!shown(r, ev)) {
			r->hidden++;
			if (last && ev->actor == last->actor)
				last = ev;
			continue;
		}
		/* The scheduler switched threads: who handed over to whom, and after what. */
		if (last && ev->actor != last->actor) {
			snprintf(r->label, sizeof(r->label), "switch after %" PRIu64 " %s",
				 last->id, step_name(last));
			out(r, "    a%" PRIu32 "->>a%" PRIu32 ": ", last->actor, ev->actor);
			mermaid_text(r, r->label);
			out(r, "\n");
		}
		last = ev;
		r->written++;
		if (is_violation(ev)) {
			bool reported = false;

			for (i = 0; i < t->nr_viol; i++) {
				if (t->viol[i].event == ev->id) {
					mermaid_violation(r, &t->viol[i]);
					reported = true;
				}
			}
			if (reported)
				continue;
		}
		out(r, "    Note over a%" PRIu32 ": ", ev->actor);
		mermaid_text(r, mermaid_label(r, ev, l));
		out(r, "\n");
	}
	for (i = 0; i < t->nr_viol; i++)
		if (violation_orphaned(t, &t->viol[i]))
			mermaid_violation(r, &t->viol[i]);
	if (r->o->replay) {
		if (first_a == last_a)
			out(r, "    Note over a%" PRIu32 ": replay: ", first_a);
		else
			out(r, "    Note over a%" PRIu32 ",a%" PRIu32 ": replay: ", first_a,
			    last_a);
		mermaid_text(r, r->o->replay);
		out(r, "\n");
	}
}

/* ---- entry point -------------------------------------------------------------------- */

int mn_trace_render(const struct mn_trace *t, FILE *f, const struct mn_trace_render *opts)
{
	static const struct mn_trace_render plain = { .format = MN_TRACE_FMT_TEXT };
	struct render *r;
	int written;

	if (!t || !f)
		return -EINVAL;
	if (!opts)
		opts = &plain;
	if (opts->format != MN_TRACE_FMT_TEXT && opts->format != MN_TRACE_FMT_JSONL &&
	    opts->format != MN_TRACE_FMT_MERMAID)
		return -EINVAL;
	r = mn_zalloc(t->alloc, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->t = t;
	r->f = f;
	r->o = opts;
	if (opts->format == MN_TRACE_FMT_JSONL)
		render_jsonl(r);
	else if (opts->format == MN_TRACE_FMT_MERMAID)
		render_mermaid(r);
	else
		render_text(r);
	written = r->written;
	mn_free(t->alloc, r);
	if (fflush(f) || ferror(f))
		return -EIO;
	return written;
}
