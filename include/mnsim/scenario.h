/* SPDX-License-Identifier: MIT */
/*
 * scenario.h - scenario scripts (*.mns): a small line-oriented language in which a workshop
 * attendee writes a race (a world, its threads and what each call may return) that compiles
 * into a &struct mn_scenario for the explorer. docs/scenario-language.md is its reference.
 */
#ifndef MNSIM_SCENARIO_H
#define MNSIM_SCENARIO_H

#include <stddef.h>
#include <mnsim/explore.h>
#include <mnsim/kvm.h>

/**
 * DOC: scenario.h
 *
 * A script has header lines (title, seed thread, architecture, variants, VM and THP
 * configuration, checked mode, preemption bound), setup lines that define named objects
 * (mappings, shmem files, guest_memfds, userfault bitmaps, pfn caches, memslots) and may
 * call any operation, then one to four ``thread`` blocks of operations and an optional
 * ``after`` block, and an optional ``expect`` line. Every operation is one call of the
 * public API (mn_vcpu_access(), mn_mm_munmap(), mn_gpc_refresh(), ...), and may say which
 * results it accepts (``-> ok|EFAULT``); a result it does not accept is reported as a
 * violation ``script.unexpected_result``.
 *
 * mn_script_parse() compiles everything once: the scenario's setup builds the world from
 * precompiled steps (no parsing), so an explorer can rebuild it for every schedule. A script
 * holds the state of the run in progress, so one script runs one world at a time.
 *
 * Parse errors never crash: each names the file, line and column and says what was
 * expected. Errors that need the world (an mmap that fails, a gpa outside every memslot)
 * are found by the setup, which reports ``script.setup_failed`` and keeps a "FILE:LINE: ..."
 * message for mn_script_last_error().
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_script;

/**
 * struct mn_script_error - where and why a script was refused.
 * @file: the script's name as given (truncated to fit).
 * @line: 1-based line, or 0 when the file itself could not be read.
 * @col: 1-based byte column, or 0 with @line 0.
 * @msg: what was expected and what was found, without the "file:line:col: " prefix
 *       (e.g. "expected a size (4K, 0x1000, ...) after 'size', got 'foo'").
 */
struct mn_script_error {
	char file[128];
	unsigned int line;
	unsigned int col;
	char msg[256];
};

/**
 * enum mn_script_expect - a script's ``expect`` line.
 * @MN_SCRIPT_EXPECT_NONE: no expect line.
 * @MN_SCRIPT_EXPECT_CLEAN: ``expect clean``: no schedule may fail.
 * @MN_SCRIPT_EXPECT_VIOLATION: ``expect violation ID``: the first failure found is @ID.
 */
enum mn_script_expect {
	MN_SCRIPT_EXPECT_NONE = 0,
	MN_SCRIPT_EXPECT_CLEAN,
	MN_SCRIPT_EXPECT_VIOLATION,
};

/**
 * struct mn_script_info - what a script declares.
 * @title: the ``title`` string, or NULL.
 * @seed: the ``seed`` file name, or NULL.
 * @arch: the architecture (the file's, or the override).
 * @variant: the %MN_VARIANT_* mask (the file's, or the override).
 * @bound: the preemption bound to explore with (``bound``, default 2).
 * @checked: checked mode (``checked``, default on).
 * @expect: the ``expect`` line.
 * @expect_id: for %MN_SCRIPT_EXPECT_VIOLATION, the invariant id, else NULL.
 * @nr_threads: number of ``thread`` blocks.
 */
struct mn_script_info {
	const char *title;
	const char *seed;
	enum mn_vm_arch arch;
	unsigned int variant;
	unsigned int bound;
	bool checked;
	enum mn_script_expect expect;
	const char *expect_id;
	unsigned int nr_threads;
};

/**
 * mn_script_parse() - Compile a script.
 * @name: the name errors and reports use (usually the file's path); NULL for "<string>".
 * @text: the script; need not be NUL-terminated.
 * @len: its length in bytes.
 * @out: receives the script; release it with mn_script_free().
 * @err: receives the first error (may be NULL); zeroed on success.
 *
 * Context: Any context.
 * Return: 0, -EINVAL when the script is malformed (@err says where and why; also for a NULL
 * @out, or a NULL @text with a non-zero @len), -EFBIG beyond 1 MiB, or -ENOMEM.
 */
MN_EXPORT int mn_script_parse(const char *name, const char *text, size_t len,
			      struct mn_script **out, struct mn_script_error *err);

/**
 * mn_script_load() - Read and compile a script file.
 * @path: the file; also the name errors and reports use.
 * @out: receives the script; release it with mn_script_free().
 * @err: receives the first error (may be NULL); for a file that cannot be read, @line is 0
 *       and @msg says why.
 *
 * Context: Any context.
 * Return: 0, the negative errno of opening or reading @path (-EFBIG beyond 1 MiB), or an
 * error of mn_script_parse().
 */
MN_EXPORT int mn_script_load(const char *path, struct mn_script **out, struct mn_script_error *err);

/**
 * mn_script_free() - Release a script.
 * @s: the script, or NULL.
 *
 * Context: Not while a world built by its scenario is still used.
 */
MN_EXPORT void mn_script_free(struct mn_script *s);

/**
 * mn_script_set_arch() - Override the script's architecture (the CLI's --arch).
 * @s: the script.
 * @arch: the architecture.
 *
 * Context: Not while its scenario runs.
 * Return: 0, or -EINVAL for an unknown @arch or one the script's VM type does not exist on
 * (private-memory VM types are x86 only).
 */
MN_EXPORT int mn_script_set_arch(struct mn_script *s, enum mn_vm_arch arch);

/**
 * mn_script_set_variant() - Replace the script's variants (the CLI's --variant).
 * @s: the script.
 * @variant: a mask of %MN_VARIANT_* (0: upstream).
 *
 * Context: Not while its scenario runs.
 * Return: 0, or -EINVAL for unknown bits or for two of the walker variants
 * (rfc-skip-gmem-only, filter-userspace-mappings, gpc-own-seq), which exclude each other.
 */
MN_EXPORT int mn_script_set_variant(struct mn_script *s, unsigned int variant);

/**
 * mn_script_scenario() - The scenario to run or explore.
 * @s: the script.
 *
 * The setup creates the host mm and the VM, runs the setup lines, turns checked mode on if
 * asked and spawns one sim thread per ``thread`` block; the check runs the ``after`` block,
 * mn_check_vm_quiescent() in checked mode, and destroys the caches, the VM and the mm.
 *
 * Context: Any context.
 * Return: the scenario, valid until mn_script_free().
 */
MN_EXPORT const struct mn_scenario *mn_script_scenario(struct mn_script *s);

/**
 * mn_script_info() - What the script declares.
 * @s: the script.
 *
 * Context: Any context.
 * Return: the information, valid until mn_script_free() (the overrides update it).
 */
MN_EXPORT const struct mn_script_info *mn_script_info(const struct mn_script *s);

/**
 * mn_script_last_error() - Why the last setup of the script's scenario failed.
 * @s: the script.
 *
 * Context: Any context.
 * Return: "FILE:LINE: what failed" (e.g. "x.mns:7: mmap m: mn_mm_mmap() returned EINVAL"),
 * or NULL when the last setup succeeded or none ran yet.
 */
MN_EXPORT const char *mn_script_last_error(const struct mn_script *s);

/**
 * mn_variant_parse() - Parse a comma-separated list of variant names.
 * @list: e.g. "rfc-skip-gmem-only" or "gpc-own-seq,userfault-create-only"; "upstream"
 *        stands for no variant.
 * @variant: receives the %MN_VARIANT_* mask.
 *
 * Context: Any context.
 * Return: 0, or -EINVAL for an unknown or empty name (@variant unchanged).
 */
MN_EXPORT int mn_variant_parse(const char *list, unsigned int *variant);

/**
 * mn_variant_name() - The name of one variant bit.
 * @bit: one %MN_VARIANT_* bit, or 0 for "upstream".
 *
 * Context: Any context.
 * Return: the name (static), or NULL for an unknown value or more than one bit.
 */
MN_EXPORT const char *mn_variant_name(unsigned int bit);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_SCENARIO_H */
