/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - per-world allocation contexts: a private jemalloc arena when the build has
 * jemalloc, libc with tracking otherwise, or caller-supplied ops; leak accounting and
 * allocation-failure injection in the spirit of the kernel's fail_page_alloc / the radix-tree
 * test harness's allocation counters.
 */
#ifndef MNSIM_ALLOC_H
#define MNSIM_ALLOC_H

#include <mnsim/types.h>

/**
 * DOC: alloc.h
 *
 * Every object of a simulated world is allocated from one &struct mn_alloc, so that a world
 * is torn down wholesale: with jemalloc the context is a private arena (allocations use
 * ``MALLOCX_ARENA | MALLOCX_TCACHE_NONE``) destroyed in one call; without it every block
 * carries a small header on a list that mn_alloc_destroy() walks. Either way nothing a world
 * allocated survives its context, whether or not the world's code freed it.
 *
 * Tests use two more features. Leak accounting: mn_alloc_get_stats() reports live objects
 * and bytes, so a test can assert that an operation which should free what it allocated did.
 * Failure injection: mn_alloc_fail_nth() makes one future allocation return NULL, so a test
 * can walk N = 1, 2, ... through a workload and prove that every allocation site returns
 * -ENOMEM and leaves state unchanged.
 *
 * A context is not thread-safe: a world runs on one OS thread.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_alloc;

/**
 * struct mn_alloc_ops - a caller-supplied allocator (for example CMocka's test_malloc()).
 * @alloc: returns @size bytes aligned for any object type, or NULL.
 * @free: releases a block returned by @alloc.
 * @priv: passed to both callbacks.
 */
struct mn_alloc_ops {
	void *(*alloc)(void *priv, size_t size);
	void (*free)(void *priv, void *ptr);
	void *priv;
};

/**
 * struct mn_alloc_stats - accounting of one context since it was created or reset.
 * @nr_allocs: allocation attempts, including failed and injected ones.
 * @nr_frees: blocks freed one by one with mn_free().
 * @nr_failed: attempts that returned NULL because the backend had no memory.
 * @nr_injected: attempts that returned NULL because of mn_alloc_fail_nth().
 * @live_objects: blocks allocated and not yet freed.
 * @live_bytes: bytes in those blocks (usable size with jemalloc, requested size otherwise).
 * @peak_bytes: the largest @live_bytes seen.
 */
struct mn_alloc_stats {
	uint64_t nr_allocs;
	uint64_t nr_frees;
	uint64_t nr_failed;
	uint64_t nr_injected;
	uint64_t live_objects;
	uint64_t live_bytes;
	uint64_t peak_bytes;
};

/**
 * mn_alloc_backend() - The allocator this build uses by default.
 *
 * Context: Any context.
 * Return: "jemalloc" when the library was built with jemalloc, else "libc".
 */
MN_EXPORT const char *mn_alloc_backend(void);

/**
 * mn_alloc_create() - Create an allocation context.
 * @ops: caller-supplied allocator, or NULL for the build's default backend.
 * @out: receives the new context.
 *
 * Context: Any context.
 * Return: 0, or -ENOMEM when the context or its jemalloc arena cannot be created.
 */
MN_EXPORT int mn_alloc_create(const struct mn_alloc_ops *ops, struct mn_alloc **out);

/**
 * mn_alloc_destroy() - Free every block of @a, then @a itself.
 * @a: the context, or NULL.
 *
 * Context: No block of @a may be used afterwards.
 */
MN_EXPORT void mn_alloc_destroy(struct mn_alloc *a);

/**
 * mn_alloc_reset() - Free every block of @a and zero its statistics, keeping @a usable.
 * @a: the context.
 *
 * Cheaper than destroy + create when a world is rebuilt for every explored schedule.
 * A pending failure injection is cancelled.
 *
 * Context: No block of @a may be used afterwards.
 */
MN_EXPORT void mn_alloc_reset(struct mn_alloc *a);

/**
 * mn_alloc_get_backend() - The backend behind @a.
 * @a: the context.
 *
 * Context: Any context.
 * Return: "jemalloc", "libc" or "custom".
 */
MN_EXPORT const char *mn_alloc_get_backend(const struct mn_alloc *a);

/**
 * mn_alloc_get_stats() - Read the accounting of @a.
 * @a: the context.
 * @st: receives the statistics.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_alloc_get_stats(const struct mn_alloc *a, struct mn_alloc_stats *st);

/**
 * mn_alloc_fail_nth() - Make the @nth allocation attempt from now on fail.
 * @a: the context.
 * @nth: 1 fails the very next attempt; 0 cancels a pending injection.
 *
 * The injection fires once: the attempt returns NULL (counted in @nr_injected) and later
 * attempts succeed again.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_alloc_fail_nth(struct mn_alloc *a, uint64_t nth);

/**
 * mn_alloc_fail_pending() - Whether an injection armed by mn_alloc_fail_nth() has not fired.
 * @a: the context.
 *
 * A test that arms the Nth attempt and finds the injection still pending after its workload
 * knows the workload makes fewer than N attempts.
 *
 * Context: Any context.
 * Return: true while an armed injection waits for its attempt.
 */
MN_EXPORT bool mn_alloc_fail_pending(const struct mn_alloc *a);

/**
 * mn_malloc() - Allocate @size bytes from @a.
 * @a: the context.
 * @size: bytes wanted; 0 is treated as 1.
 *
 * Context: Any context of the thread that owns @a.
 * Return: a block aligned for any object type, or NULL (no memory, or an injected failure).
 */
MN_EXPORT void *mn_malloc(struct mn_alloc *a, size_t size);

/**
 * mn_zalloc() - Allocate @size zeroed bytes from @a.
 * @a: the context.
 * @size: bytes wanted.
 *
 * Context: As mn_malloc().
 * Return: a zeroed block, or NULL.
 */
MN_EXPORT void *mn_zalloc(struct mn_alloc *a, size_t size);

/**
 * mn_calloc() - Allocate a zeroed array of @n elements of @size bytes from @a.
 * @a: the context.
 * @n: number of elements.
 * @size: bytes per element.
 *
 * Context: As mn_malloc().
 * Return: a zeroed block, or NULL (also when @n * @size overflows; that attempt is counted
 * as failed and consumes no injection).
 */
MN_EXPORT void *mn_calloc(struct mn_alloc *a, size_t n, size_t size);

/**
 * mn_realloc() - Resize a block of @a.
 * @a: the context.
 * @ptr: a block of @a, or NULL to allocate.
 * @size: the new size.
 *
 * Context: As mn_malloc().
 * Return: the resized block, or NULL with @ptr left untouched and still owned by the caller.
 */
MN_EXPORT void *mn_realloc(struct mn_alloc *a, void *ptr, size_t size);

/**
 * mn_strdup() - Copy a string into @a.
 * @a: the context.
 * @s: the NUL-terminated string.
 *
 * Context: As mn_malloc().
 * Return: the copy, or NULL.
 */
MN_EXPORT char *mn_strdup(struct mn_alloc *a, const char *s);

/**
 * mn_free() - Return a block to @a.
 * @a: the context that allocated @ptr.
 * @ptr: the block, or NULL.
 *
 * Context: As mn_malloc().
 */
MN_EXPORT void mn_free(struct mn_alloc *a, void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_ALLOC_H */
