/* SPDX-License-Identifier: MIT */
/*
 * harness.h - the benchmark harness of bench/ and `mnsim bench`: a monotonic clock,
 * statistics over repetitions (min, median, p99, max), CPU pinning, the machine's
 * description, and the result row printed as a table line or as one JSON object.
 */
#ifndef MN_BENCH_HARNESS_H
#define MN_BENCH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Statistics of one figure over its repetitions. */
struct mn_bench_stats {
	double min;
	double p50; /* the median; the mean of the middle two for an even count */
	double p99; /* nearest rank: the ceil(0.99 n)-th smallest */
	double max;
	unsigned int n;
};

/* Nanoseconds of CLOCK_MONOTONIC. */
double mn_bench_now_ns(void);

/* Sort @v (@n values, n >= 1) in place and fill @s. */
void mn_bench_stats_compute(double *v, unsigned int n, struct mn_bench_stats *s);

/* Pin the calling thread to CPU @cpu (sched_setaffinity). Return: 0 or -errno. */
int mn_bench_pin_cpu(int cpu);

/* "model name" of /proc/cpuinfo (or "unknown"), and the online CPU count. */
const char *mn_bench_cpu_model(void);
unsigned int mn_bench_nr_cpus(void);

/* The git commit the benchmark was built from (configure time), or "unknown". */
const char *mn_bench_git_sha(void);

/*
 * One result row. Strings are static; a figure that does not apply is negative (printed
 * as null in JSON and "-" in the table).
 */
struct mn_bench_row {
	const char *bench; /* "invalidate", or the operation of bench/ops*.c */
	const char *op;	   /* "unmap", "clear_young", "test_young"; NULL: the bench's own */
	const char *arch;  /* "x86-ept" or "arm64-stage2" */
	unsigned int levels;
	unsigned int slots;
	const char *layout; /* slot size and gap */
	const char *stream; /* "sequential" or "random" */
	uint64_t range_bytes;
	const char *hit;	/* "no-memslot" or "present" */
	int density;		/* percent of leaves present in a hit range; -1 for no-memslot */
	const char *leaf_level; /* "4K" or "2M" */
	uint64_t footprint;	/* bytes of secondary page-table frames at the end of the row */
	uint64_t events;	/* timed events (all repetitions) */
	struct mn_bench_stats ns_per_event;
	double ns_per_entry;  /* p50 ns per event / entries per event; < 0 without entries */
	double entries_per_s; /* entries zapped per second at p50; < 0 without entries */
	const char *ref_name; /* the in-run reference the ratio is taken to */
	struct mn_bench_stats ref_ns; /* per event */
	double ratio;		      /* ns_per_event p50 / ref_ns p50 */
	double itree_ns;	      /* the other references, p50 ns per event */
	double linear_ns;
	double read_clear_ns;
	double walk_clear_ns;	  /* the radix walk+clear over the same ranges; < 0 if not run */
	double walk_clear_ratio;  /* ns_per_event p50 / walk_clear_ns */
	uint64_t entries_zapped;  /* all repetitions */
	double flushes_per_event; /* remote TLB flushes of the VM (kvm_flush_remote_tlbs*) */
	double tlbi_per_event;	  /* flushes the page-table walker issued itself (BBM) */
	int reps;
};

/*
 * Start a row of @bench on @arch: every figure "does not apply" (negative, printed as null),
 * the reference "none", the strings "-" and the leaf level "4K"; the caller fills in what
 * its row has.
 */
void mn_bench_row_init(struct mn_bench_row *r, const char *bench, const char *arch);

/* One JSON object on one line, with every key of the row and the machine's. */
void mn_bench_print_json(FILE *f, const struct mn_bench_row *r);

/* The human table: a header, then one line per row. */
void mn_bench_print_table_header(FILE *f);
void mn_bench_print_table_row(FILE *f, const struct mn_bench_row *r);

#endif /* MN_BENCH_HARNESS_H */
