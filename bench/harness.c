// SPDX-License-Identifier: MIT
/*
 * harness.c - clock, statistics, pinning, the machine's description and the two output
 * forms of a benchmark row (bench/harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-version.h"

double mn_bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void mn_bench_stats_compute(double *v, unsigned int n, struct mn_bench_stats *s)
{
	unsigned int rank;

	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->p50 = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	/* Nearest rank: the smallest value with at least 99 % of the values at or below it. */
	rank = (unsigned int)ceil(0.99 * n);
	s->p99 = v[(rank ? rank : 1) - 1];
}

int mn_bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

const char *mn_bench_cpu_model(void)
{
	static char model[128];
	char line[256];
	FILE *f;

	if (model[0])
		return model;
	strcpy(model, "unknown");
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return model;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !p)
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		p[strcspn(p, "\n")] = '\0';
		snprintf(model, sizeof(model), "%s", p);
		break;
	}
	fclose(f);
	return model;
}

unsigned int mn_bench_nr_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

const char *mn_bench_git_sha(void)
{
	return MN_BENCH_GIT_SHA[0] ? MN_BENCH_GIT_SHA : "unknown";
}

void mn_bench_row_init(struct mn_bench_row *r, const char *bench, const char *arch)
{
	memset(r, 0, sizeof(*r));
	r->bench = bench;
	r->arch = arch;
	r->layout = "-";
	r->stream = "-";
	r->hit = "-";
	r->density = -1;
	r->leaf_level = "4K";
	r->ns_per_entry = -1;
	r->entries_per_s = -1;
	r->ref_name = "none";
	r->ref_ns = (struct mn_bench_stats){ -1, -1, -1, -1, 0 };
	r->ratio = -1;
	r->itree_ns = -1;
	r->linear_ns = -1;
	r->read_clear_ns = -1;
	r->walk_clear_ns = -1;
	r->walk_clear_ratio = -1;
	r->flushes_per_event = -1;
	r->tlbi_per_event = -1;
}

/* A JSON string without escapes: every string of a row is one of ours. */
static void json_num(FILE *f, const char *key, double v, int prec)
{
	fprintf(f, ",\"%s\":", key);
	if (v < 0 || isnan(v))
		fputs("null", f);
	else
		fprintf(f, "%.*f", prec, v);
}

void mn_bench_print_json(FILE *f, const struct mn_bench_row *r)
{
	fprintf(f,
		"{\"bench\":\"%s\",\"arch\":\"%s\",\"levels\":%u,\"slots\":%u,"
		"\"layout\":\"%s\",\"stream\":\"%s\",\"range_bytes\":%llu,\"hit\":\"%s\"",
		r->bench, r->arch, r->levels, r->slots, r->layout, r->stream,
		(unsigned long long)r->range_bytes, r->hit);
	if (r->op)
		fprintf(f, ",\"op\":\"%s\"", r->op);
	else
		fputs(",\"op\":null", f);
	if (r->density < 0)
		fputs(",\"density\":null", f);
	else
		fprintf(f, ",\"density\":%d", r->density);
	fprintf(f, ",\"leaf_level\":\"%s\",\"footprint\":%llu,\"events\":%llu,\"reps\":%d",
		r->leaf_level, (unsigned long long)r->footprint, (unsigned long long)r->events,
		r->reps);
	json_num(f, "ns_per_event_min", r->ns_per_event.min, 2);
	json_num(f, "ns_per_event_p50", r->ns_per_event.p50, 2);
	json_num(f, "ns_per_event_p99", r->ns_per_event.p99, 2);
	json_num(f, "ns_per_event_max", r->ns_per_event.max, 2);
	json_num(f, "ns_per_entry", r->ns_per_entry, 3);
	json_num(f, "entries_per_s", r->entries_per_s, 0);
	fprintf(f, ",\"reference\":\"%s\"", r->ref_name);
	json_num(f, "reference_ns", r->ref_ns.p50, 2);
	json_num(f, "ratio", r->ratio, 3);
	json_num(f, "ref_read_clear_ns", r->read_clear_ns, 2);
	json_num(f, "ref_itree_ns", r->itree_ns, 2);
	json_num(f, "ref_linear_ns", r->linear_ns, 2);
	json_num(f, "ref_walk_clear_ns", r->walk_clear_ns, 2);
	json_num(f, "ratio_walk_clear", r->walk_clear_ratio, 3);
	fprintf(f, ",\"entries_zapped\":%llu", (unsigned long long)r->entries_zapped);
	json_num(f, "flushes_per_event", r->flushes_per_event, 3);
	json_num(f, "tlbi_per_event", r->tlbi_per_event, 3);
	fprintf(f, ",\"git_sha\":\"%s\",\"cpu_model\":\"%s\"}\n", mn_bench_git_sha(),
		mn_bench_cpu_model());
}

void mn_bench_print_table_header(FILE *f)
{
	fprintf(f,
		"%-11s %-12s %5s %4s %-10s %5s %-10s %4s %3s %9s %9s %8s %7s %-10s %9s %6s "
		"%6s %7s %6s\n",
		"op", "arch", "slots", "slot", "stream", "range", "hit", "dens", "lf", "ns/ev",
		"p99", "ns/ent", "Ment/s", "reference", "ref ns", "ratio", "wc-rat", "flush/ev",
		"tlbi");
}

static void cell(FILE *f, int width, double v, int prec)
{
	if (v < 0 || isnan(v))
		fprintf(f, " %*s", width, "-");
	else
		fprintf(f, " %*.*f", width, prec, v);
}

static void size_str(char *buf, size_t len, uint64_t bytes)
{
	if (bytes >= (1ULL << 30) && !(bytes & ((1ULL << 30) - 1)))
		snprintf(buf, len, "%lluG", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1ULL << 20))
		snprintf(buf, len, "%lluM", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)(bytes >> 10));
}

void mn_bench_print_table_row(FILE *f, const struct mn_bench_row *r)
{
	char range[24], dens[16], slot[8];

	size_str(range, sizeof(range), r->range_bytes);
	/* The layout's slot size: "2M-slots-..." prints as 2M. */
	snprintf(slot, sizeof(slot), "%.*s", (int)strcspn(r->layout, "-"), r->layout);
	if (r->density < 0)
		strcpy(dens, "-");
	else
		snprintf(dens, sizeof(dens), "%d%%", r->density);
	fprintf(f, "%-11s %-12s %5u %4s %-10s %5s %-10s %4s %3s", r->op ? r->op : r->bench, r->arch,
		r->slots, slot, r->stream, range, r->hit, dens, r->leaf_level);
	cell(f, 9, r->ns_per_event.p50, 1);
	cell(f, 9, r->ns_per_event.p99, 1);
	cell(f, 8, r->ns_per_entry, 2);
	cell(f, 7, r->entries_per_s / 1e6, 1);
	fprintf(f, " %-10s", r->ref_name);
	cell(f, 9, r->ref_ns.p50, 1);
	cell(f, 6, r->ratio, 2);
	cell(f, 6, r->walk_clear_ratio, 2);
	cell(f, 7, r->flushes_per_event, 2);
	cell(f, 6, r->tlbi_per_event, 1);
	fputc('\n', f);
}
