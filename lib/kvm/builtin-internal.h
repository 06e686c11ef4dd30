/* SPDX-License-Identifier: MIT */
/*
 * builtin-internal.h - how a built-in scenario is written: a definition (name, guard step,
 * setup and check hooks) over a common run state that lib/kvm/builtin.c builds for every run
 * (host mm with guest RAM, a VM with one memslot, checked mode).
 */
#ifndef MNSIM_BUILTIN_INTERNAL_H
#define MNSIM_BUILTIN_INTERNAL_H

#include "kvm/kvm-internal.h"

#include <mnsim/builtin.h>
#include <mnsim/check.h>

#define BUILTIN_RAM_PAGES 16 /* guest RAM: slot 0, gpa 0, 16 pages, pages 0-3 touched */
#define BUILTIN_THREADS	  4

struct builtin_def;

/* One run's state; @priv points at the scenario's own @state_size bytes (zeroed). */
struct builtin_run {
	enum mn_vm_arch arch;
	const struct builtin_def *def;
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	mn_hva_t ram;
	int ret[BUILTIN_THREADS];
	uint64_t val[BUILTIN_THREADS];
	struct mn_vcpu_exit exit[BUILTIN_THREADS];
	void *priv;
};

struct builtin_def {
	struct mn_builtin_info info;
	size_t state_size;
	int (*setup)(struct builtin_run *r);  /* spawn the threads (the world is built) */
	void (*check)(struct builtin_run *r); /* the scenario's expectations, reported */
};

/* The memslot region of the common world (slot 0 over all of guest RAM). */
struct mn_userspace_memory_region2 builtin_slot0(const struct builtin_run *r);

extern const struct builtin_def builtin_fault_vs_munmap;
extern const struct builtin_def builtin_fault_vs_mprotect;
extern const struct builtin_def builtin_delete_vs_fault;
extern const struct builtin_def builtin_aging_vs_fault;
extern const struct builtin_def builtin_delete_vs_munmap;
extern const struct builtin_def builtin_dirty_log_vs_write; /* builtin-dirty.c */
extern const struct builtin_def builtin_userfault_vs_fault; /* builtin-dirty.c */

#endif /* MNSIM_BUILTIN_INTERNAL_H */
