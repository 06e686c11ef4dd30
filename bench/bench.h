/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the benchmarks `mnsim bench` and `meson test --benchmark` share (libmnbench):
 * the invalidation matrix through the VM's mmu_notifier callbacks, with its in-run
 * references, and the option parsing both front ends use.
 */
#ifndef MN_BENCH_BENCH_H
#define MN_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * @MN_BENCH_QUICK: a subset of the PR matrix (<= 10 s in a release build).
 * @MN_BENCH_PR: the starred values of issue 9 (the default).
 * @MN_BENCH_FULL: the PR matrix with more repetitions (the cross product is not built yet).
 */
enum mn_bench_mode {
	MN_BENCH_QUICK = 0,
	MN_BENCH_PR,
	MN_BENCH_FULL,
};

struct mn_bench_opts {
	enum mn_bench_mode mode;
	bool json; /* one JSON object per row instead of the table */
	int cpu;   /* pin to this CPU first; -1: no pinning */
	FILE *out; /* rows go here; progress and errors to stderr */
};

/*
 * Run the invalidation benchmark. Return: 0, 1 when a sanity check failed (entries zapped
 * differ from entries populated, more than one remote TLB flush for one event, the
 * bookkeeping not balanced), or 2 when the world could not be set up.
 */
int mn_bench_invalidate(const struct mn_bench_opts *o);

/*
 * Run the other operations (bench/ops.c): the dirty-log harvest, memslot create/delete/move
 * and the explorer's throughput, checked against unchecked. Return: as above.
 */
int mn_bench_ops(const struct mn_bench_opts *o);

/*
 * Run the notifier rows (bench/ops-notify.c): aging through mn_mm_notify_age(), the gpc
 * invalidation with 0, 1 and 16 caches, guest_memfd punch hole and shared/private
 * conversion, each against its in-run reference. Return: as above.
 */
int mn_bench_ops_notify(const struct mn_bench_opts *o);

/*
 * The sparse 1 TiB slot (bench/sparse.c): one invalidation of the whole slot with 1 % and
 * 0.1 % of its 2 MiB regions holding one 4K leaf, against read+clear and a radix walk+clear.
 * Return: as above.
 */
int mn_bench_sparse(const struct mn_bench_opts *o);

/*
 * memslot_perf_test- and dirty_log_perf_test-shaped scenarios (bench/selftests.c), printed
 * in those tests' units. Return: as above.
 */
int mn_bench_selftests(const struct mn_bench_opts *o);

/*
 * access_tracking_perf_test- and kvm_page_table_test-shaped scenarios
 * (bench/selftests-more.c): idle marking through page_idle's clear_young walks, and
 * mappings created, split by dirty logging and rebuilt, with 4 KiB and THP backing, printed
 * in those tests' line formats. Return: as above.
 */
int mn_bench_selftests_more(const struct mn_bench_opts *o);

/*
 * Parse "[--quick|--full] [--json] [--cpu N]" from @argv[0 .. @argc) into @o (whose
 * defaults the caller set). Return: 0, or -EINVAL after printing the problem to stderr.
 */
/* ---- common.c ---- */
#include <mnsim.h>

/* The leaf a writable KVM fault installs (x86: ipat, dirty, host/MMU-writable). */
struct mn_pte mn_bench_leaf(enum mn_vm_arch arch, unsigned int level, mn_pfn_t pfn);
/* The leaves of a gfn range, as the page-table API reads them. */
struct mn_bench_census {
	uint64_t leaves;		    /* all levels */
	uint64_t by_level[MN_PG_LEVEL_NUM]; /* per level */
	uint64_t pages;			    /* 4 KiB pages the leaves cover */
	uint64_t writable;		    /* leaves */
	uint64_t young;			    /* leaves */
};

/* Count the leaves of [@start, @end) of @pt. */
struct mn_bench_census mn_bench_census(struct mn_pt *pt, mn_gfn_t start, mn_gfn_t end);
/* Set bits in @words u64s of @b. */
uint64_t mn_bench_bitmap_weight(const uint64_t *b, uint64_t words);
/* Destroy what a row built (each may be NULL). */
void mn_bench_world_free(struct mn_vm *vm, struct mn_mm *mm, struct mn_sim *sim);

/*
 * The walk+clear reference: a plain C radix tree of 512-entry levels (9 gfn bits per
 * level, the shape of EPT and of stage-2 with a 4 KiB granule), leaves at any level. The
 * top level holds up to MN_BENCH_RADIX_ROOT entries (stage-2 concatenates up to 16 tables
 * there). A leaf value has bit 0 set; a table pointer has it clear.
 */
#define MN_BENCH_RADIX_ROOT 8192
struct mn_bench_radix {
	uint64_t *root;	  /* MN_BENCH_RADIX_ROOT entries */
	unsigned int top; /* the level of the root: 4 for EPT 4-level */
	uint64_t tables;  /* 512-entry tables below the root */
};

/* An empty tree with @top levels. Return: 0 or -ENOMEM. */
int mn_bench_radix_init(struct mn_bench_radix *r, unsigned int top);
/* Set the leaf of @gfn at level @leaf_level (1: 4K) to @val (bit 0 set). Return: 0 or -ENOMEM. */
int mn_bench_radix_set(struct mn_bench_radix *r, uint64_t gfn, unsigned int leaf_level,
		       uint64_t val);
/*
 * Visit the present entries of [@start, @end), clear the leaves (tables stay, as the zap
 * leaves them) and add their values to *@sum. Return: the leaves cleared.
 */
uint64_t mn_bench_radix_walk_clear(struct mn_bench_radix *r, uint64_t start, uint64_t end,
				   uint64_t *sum);
void mn_bench_radix_free(struct mn_bench_radix *r);

int mn_bench_parse_args(const char *prog, int argc, char **argv, struct mn_bench_opts *o);

/* Pin (if asked), print the machine's description (table mode) and run; as above. */
int mn_bench_run(const struct mn_bench_opts *o);

#endif /* MN_BENCH_BENCH_H */
