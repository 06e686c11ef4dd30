/* SPDX-License-Identifier: MIT */
/*
 * builtin.h - the built-in scenarios of the KVM layer: small C programs over the public API
 * (a vCPU racing a host operation or a memslot update), each with the named step the
 * protocol needs there, for tests, the explorer and the CLI.
 */
#ifndef MNSIM_BUILTIN_H
#define MNSIM_BUILTIN_H

#include <mnsim/explore.h>
#include <mnsim/kvm.h>

/**
 * DOC: builtin.h
 *
 * mn_builtin_open() gives a &struct mn_builtin whose @sc can be handed to mn_explore(),
 * mn_explore_replay() or mn_explore_mutants(). Each run builds a fresh world: a host mm
 * with guest RAM, a VM of the chosen architecture with one memslot, checked mode on (the
 * oracle of check.h after every step), and the scenario's threads. The final check reports
 * anything the oracle finds at the end, plus the scenario's own expectations.
 *
 * @guard names the step whose removal the scenario exists to catch: exploring it with that
 * step skipped must find a violation (the acceptance tests do exactly this).
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_builtin;

/**
 * struct mn_builtin_info - what a built-in scenario is.
 * @name: e.g. "fault-vs-munmap".
 * @summary: one sentence: the race and what must hold.
 * @guard: the named step the scenario depends on.
 */
struct mn_builtin_info {
	const char *name;
	const char *summary;
	const char *guard;
};

/**
 * mn_builtin_count() - Number of built-in scenarios.
 *
 * Context: Any context.
 * Return: the count.
 */
MN_EXPORT size_t mn_builtin_count(void);

/**
 * mn_builtin_info() - Describe built-in scenario @i.
 * @i: index, below mn_builtin_count().
 *
 * Context: Any context.
 * Return: the description, or NULL for a bad @i.
 */
MN_EXPORT const struct mn_builtin_info *mn_builtin_info(size_t i);

/**
 * mn_builtin_open() - Instantiate a built-in scenario for an architecture.
 * @name: its name.
 * @arch: the VM's architecture.
 * @out: receives it; release with mn_builtin_close().
 *
 * Context: Any context.
 * Return: 0, -ENOENT for an unknown @name, -EINVAL for a bad @arch, or -ENOMEM.
 */
MN_EXPORT int mn_builtin_open(const char *name, enum mn_vm_arch arch, struct mn_builtin **out);

/**
 * mn_builtin_scenario() - The scenario to explore.
 * @b: the instance.
 *
 * Context: Any context.
 * Return: the scenario (valid until mn_builtin_close()).
 */
MN_EXPORT const struct mn_scenario *mn_builtin_scenario(const struct mn_builtin *b);

/**
 * mn_builtin_close() - Release an instance.
 * @b: the instance, or NULL.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_builtin_close(struct mn_builtin *b);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_BUILTIN_H */
