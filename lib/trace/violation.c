// SPDX-License-Identifier: MIT
/*
 * violation.c - the violation log: what the oracles report instead of the kernel's WARN_ON,
 * KVM_BUG_ON and KASAN splats. Reports are kept, never printed.
 */
#include "trace/trace-internal.h"

void mn_trace_report(struct mn_trace *t, const struct mn_violation *v)
{
	struct mn_violation *slot;
	uint64_t event;

	t->viol_total++;
	event = 0;
	if (mn_trace_is_on(t)) {
		struct mn_kv kv[3];
		size_t n = 0;

		kv[n++] = MN_KV_S("invariant", v->invariant ? v->invariant : "?");
		if (v->pfn != MN_INVALID_PFN)
			kv[n++] = MN_KV_X("pfn", v->pfn);
		if (v->what)
			kv[n++] = MN_KV_S("what", v->what);
		event = mn_trace_emit(t, "violation", kv, n);
	}
	if (t->nr_viol >= MN_TRACE_MAX_VIOLATIONS)
		return;
	if (mn_array_grow(t->alloc, (void **)&t->viol, &t->viol_cap, t->nr_viol + 1,
			  sizeof(*t->viol)))
		return;
	slot = &t->viol[t->nr_viol++];
	*slot = *v;
	slot->detail[sizeof(slot->detail) - 1] = '\0';
	slot->actor = t->actor;
	slot->event = event;
}

size_t mn_trace_nr_violations(const struct mn_trace *t)
{
	return t->nr_viol;
}

uint64_t mn_trace_nr_violations_total(const struct mn_trace *t)
{
	return t->viol_total;
}

const struct mn_violation *mn_trace_violation(const struct mn_trace *t, size_t i)
{
	return i < t->nr_viol ? &t->viol[i] : NULL;
}

size_t mn_trace_count_violations(const struct mn_trace *t, enum mn_violation_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < t->nr_viol; i++)
		n += t->viol[i].kind == kind;
	return n;
}

void mn_trace_clear_violations(struct mn_trace *t)
{
	t->nr_viol = 0;
	t->viol_total = 0;
}
