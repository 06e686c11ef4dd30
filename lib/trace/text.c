// SPDX-License-Identifier: MIT
/*
 * text.c - the plain-text rendering of single events and violation reports: one line each,
 * fixed columns, no colour. Whole traces, with colour and state, are format.c's.
 */
#include "trace/trace-internal.h"

#include <inttypes.h>
#include <stdarg.h>

/* snprintf into @buf at offset *@pos, counting the full length like snprintf does. */
void trace_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	size_t room = *pos < len ? len - *pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? buf + *pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

/* " key=value", the value printed as its type says. */
void trace_append_kv(char *buf, size_t len, size_t *pos, const struct mn_kv *kv)
{
	switch (kv->type) {
	case MN_KV_HEX:
		trace_append(buf, len, pos, " %s=0x%" PRIx64, kv->key, kv->u);
		break;
	case MN_KV_INT:
		trace_append(buf, len, pos, " %s=%" PRId64, kv->key, kv->i);
		break;
	case MN_KV_STR:
		trace_append(buf, len, pos, " %s=%s", kv->key, kv->s ? kv->s : "(null)");
		break;
	default:
		trace_append(buf, len, pos, " %s=%" PRIu64, kv->key, kv->u);
		break;
	}
}

int mn_trace_format_event(const struct mn_trace *t, const struct mn_event *ev, char *buf,
			  size_t len)
{
	size_t pos = 0;
	uint32_t i;

	if (len)
		buf[0] = '\0';
	/* The step column is padded only when key/values follow it. */
	trace_append(buf, len, &pos,
		     ev->nr_kv ? "%6" PRIu64 "  %-10s  %-28s" : "%6" PRIu64 "  %-10s  %s", ev->id,
		     mn_trace_actor_name(t, ev->actor), ev->step ? ev->step : "?");
	for (i = 0; i < ev->nr_kv; i++)
		trace_append_kv(buf, len, &pos, &ev->kv[i]);
	return (int)MN_MIN(pos, (size_t)INT32_MAX);
}

int mn_trace_print(const struct mn_trace *t, FILE *f)
{
	const struct mn_event *ev;
	char line[512];
	uint64_t id;
	int n = 0;

	for (id = mn_trace_first_id(t); id && id <= t->count; id++) {
		ev = mn_trace_get(t, id);
		if (!ev)
			continue;
		mn_trace_format_event(t, ev, line, sizeof(line));
		if (fprintf(f, "%s\n", line) < 0)
			return -EIO;
		n++;
	}
	return n;
}

void mn_trace_sink_text(void *arg, const struct mn_trace *t, const struct mn_event *ev)
{
	char line[512];

	mn_trace_format_event(t, ev, line, sizeof(line));
	fprintf((FILE *)arg, "%s\n", line);
}

int mn_trace_format_violation(const struct mn_trace *t, const struct mn_violation *v, char *buf,
			      size_t len)
{
	size_t pos = 0;

	if (len)
		buf[0] = '\0';
	trace_append(buf, len, &pos, "%s", v->invariant ? v->invariant : "?");
	if (v->pfn != MN_INVALID_PFN)
		trace_append(buf, len, &pos, " pfn=0x%" PRIx64, v->pfn);
	trace_append(buf, len, &pos, " by %s at #%" PRIu64, mn_trace_actor_name(t, v->actor),
		     v->event);
	if (v->what)
		trace_append(buf, len, &pos, " (%s)", v->what);
	if (v->cause_actor || v->cause_event)
		trace_append(buf, len, &pos, "; caused by %s at #%" PRIu64,
			     mn_trace_actor_name(t, v->cause_actor), v->cause_event);
	if (v->reuse_actor || v->reuse_event)
		trace_append(buf, len, &pos, "; reused by %s at #%" PRIu64,
			     mn_trace_actor_name(t, v->reuse_actor), v->reuse_event);
	if (v->detail[0])
		trace_append(buf, len, &pos, ": %s", v->detail);
	return (int)MN_MIN(pos, (size_t)INT32_MAX);
}
