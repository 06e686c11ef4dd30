/* SPDX-License-Identifier: MIT */
/*
 * types.h - address types, half-open ranges, page-size levels and error conventions.
 *
 * Mirrors the kernel's gfn_t/gpa_t/hva_t/kvm_pfn_t (include/linux/kvm_types.h) and the
 * x86 PG_LEVEL_* numbering (arch/x86/include/asm/pgtable_types.h).
 */
#ifndef MNSIM_TYPES_H
#define MNSIM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * DOC: types.h
 *
 * Addresses are plain 64-bit integers with one typedef per address space, named as KVM names
 * them: a guest frame number (gfn), a guest physical address (gpa), a host virtual address
 * (hva) and a host page frame number (pfn). Every public range is half-open, ``[start, end)``;
 * only the interval tree stores an inclusive ``last``, and its field names say so.
 *
 * Error convention: every fallible function returns 0 (or a non-negative count) on success
 * and a negative errno on failure, picking the errno the kernel returns for the same check.
 * A failed call leaves every object unchanged. mn_strerror() turns such a value into text.
 */

#ifdef __cplusplus
extern "C" {
#endif

#define MN_EXPORT __attribute__((visibility("default")))

typedef uint64_t mn_gfn_t; /* guest frame number */
typedef uint64_t mn_gpa_t; /* guest physical address */
typedef uint64_t mn_hva_t; /* host (VMM) virtual address */
typedef uint64_t mn_pfn_t; /* host page frame number */

#define MN_PAGE_SHIFT 12
#define MN_PAGE_SIZE  (1ULL << MN_PAGE_SHIFT)
#define MN_PAGE_MASK  (~(MN_PAGE_SIZE - 1))

/* Each radix level resolves 9 bits on every format mnsim models. */
#define MN_LEVEL_BITS 9

#define MN_INVALID_GPA (~(mn_gpa_t)0)
#define MN_INVALID_GFN (~(mn_gfn_t)0)
#define MN_INVALID_PFN (~(mn_pfn_t)0)

/**
 * enum mn_pg_level - mapping size, numbered like the kernel's x86 PG_LEVEL_*.
 * @MN_PG_LEVEL_NONE: no mapping.
 * @MN_PG_LEVEL_4K: 4 KiB page (folio order 0).
 * @MN_PG_LEVEL_2M: 2 MiB block (folio order 9).
 * @MN_PG_LEVEL_1G: 1 GiB block (folio order 18).
 * @MN_PG_LEVEL_512G: 512 GiB, a table level only (never a leaf).
 * @MN_PG_LEVEL_NUM: one past the largest level.
 */
enum mn_pg_level {
	MN_PG_LEVEL_NONE = 0,
	MN_PG_LEVEL_4K = 1,
	MN_PG_LEVEL_2M = 2,
	MN_PG_LEVEL_1G = 3,
	MN_PG_LEVEL_512G = 4,
	MN_PG_LEVEL_NUM,
};

/* Folio orders that mnsim allocates: base page, 2 MiB and 1 GiB. */
#define MN_ORDER_4K 0U
#define MN_ORDER_2M 9U
#define MN_ORDER_1G 18U

/*
 * Level geometry. @level must be MN_PG_LEVEL_4K .. MN_PG_LEVEL_512G: callers validate levels
 * that come from input before using these.
 */

/* Log2 of the number of 4 KiB pages a mapping at @level covers (0, 9, 18, 27). */
static inline unsigned int mn_level_order(enum mn_pg_level level)
{
	return (unsigned int)(level - MN_PG_LEVEL_4K) * MN_LEVEL_BITS;
}

/* Log2 of the bytes a mapping at @level covers (12, 21, 30, 39). */
static inline unsigned int mn_level_shift(enum mn_pg_level level)
{
	return MN_PAGE_SHIFT + mn_level_order(level);
}

/* Number of 4 KiB pages a mapping at @level covers. */
static inline uint64_t mn_level_pages(enum mn_pg_level level)
{
	return 1ULL << mn_level_order(level);
}

/* Bytes a mapping at @level covers. */
static inline uint64_t mn_level_size(enum mn_pg_level level)
{
	return 1ULL << mn_level_shift(level);
}

/* The level whose mapping size equals a folio of @order, or MN_PG_LEVEL_NONE. */
static inline enum mn_pg_level mn_order_to_level(unsigned int order)
{
	if (order % MN_LEVEL_BITS || order / MN_LEVEL_BITS >= MN_PG_LEVEL_NUM - 1)
		return MN_PG_LEVEL_NONE;
	return (enum mn_pg_level)(MN_PG_LEVEL_4K + order / MN_LEVEL_BITS);
}

static inline mn_gfn_t mn_gpa_to_gfn(mn_gpa_t gpa)
{
	return gpa >> MN_PAGE_SHIFT;
}

static inline mn_gpa_t mn_gfn_to_gpa(mn_gfn_t gfn)
{
	return gfn << MN_PAGE_SHIFT;
}

/* First gfn of the @level-sized block that contains @gfn (the kernel's gfn_round_for_level). */
static inline mn_gfn_t mn_gfn_round_for_level(mn_gfn_t gfn, enum mn_pg_level level)
{
	return gfn & ~(mn_level_pages(level) - 1);
}

static inline bool mn_is_aligned(uint64_t x, uint64_t size)
{
	return (x & (size - 1)) == 0;
}

static inline uint64_t mn_align_down(uint64_t x, uint64_t size)
{
	return x & ~(size - 1);
}

/* Rounds @x up to a multiple of the power of two @size; wraps to 0 past UINT64_MAX. */
static inline uint64_t mn_align_up(uint64_t x, uint64_t size)
{
	return (x + size - 1) & ~(size - 1);
}

/*
 * Half-open ranges, one struct per address space so the compiler keeps them apart in
 * prototypes. The helpers are generated once for all of them.
 */
#define MN_DEFINE_RANGE(name, type)                                                              \
	struct mn_##name##_range {                                                               \
		type start; /* first address in the range */                                     \
		type end;   /* one past the last address (exclusive) */                          \
	};                                                                                       \
	/* Number of units in @r, 0 for an empty or inverted range. */                           \
	static inline uint64_t mn_##name##_range_len(struct mn_##name##_range r)                 \
	{                                                                                        \
		return r.end > r.start ? r.end - r.start : 0;                                    \
	}                                                                                        \
	static inline bool mn_##name##_range_empty(struct mn_##name##_range r)                   \
	{                                                                                        \
		return r.end <= r.start;                                                         \
	}                                                                                        \
	static inline bool mn_##name##_range_contains(struct mn_##name##_range r, type x)        \
	{                                                                                        \
		return x >= r.start && x < r.end;                                                \
	}                                                                                        \
	/* True when @a and @b share at least one unit; empty ranges overlap nothing. */         \
	static inline bool mn_##name##_range_overlaps(struct mn_##name##_range a,                \
						      struct mn_##name##_range b)                \
	{                                                                                        \
		return a.start < b.end && b.start < a.end && a.start < a.end && b.start < b.end; \
	}                                                                                        \
	/* True when every unit of @inner lies in @outer (an empty @inner is covered). */        \
	static inline bool mn_##name##_range_covers(struct mn_##name##_range outer,              \
						    struct mn_##name##_range inner)              \
	{                                                                                        \
		return inner.end <= inner.start ||                                               \
		       (inner.start >= outer.start && inner.end <= outer.end);                   \
	}                                                                                        \
	/* The common part of @a and @b; empty (start == end) when they do not overlap. */       \
	static inline struct mn_##name##_range mn_##name##_range_intersect(                      \
		struct mn_##name##_range a, struct mn_##name##_range b)                          \
	{                                                                                        \
		struct mn_##name##_range r = {                                                   \
			.start = a.start > b.start ? a.start : b.start,                          \
			.end = a.end < b.end ? a.end : b.end,                                    \
		};                                                                               \
		if (r.end < r.start)                                                             \
			r.end = r.start;                                                         \
		return r;                                                                        \
	}

MN_DEFINE_RANGE(gfn, mn_gfn_t)
MN_DEFINE_RANGE(gpa, mn_gpa_t)
MN_DEFINE_RANGE(hva, mn_hva_t)
MN_DEFINE_RANGE(pfn, mn_pfn_t)

/* The gfns touched by a byte range, rounded outwards to whole pages. */
static inline struct mn_gfn_range mn_gpa_range_to_gfns(struct mn_gpa_range r)
{
	struct mn_gfn_range g = { .start = r.start >> MN_PAGE_SHIFT };

	g.end = r.end > r.start ? ((r.end - 1) >> MN_PAGE_SHIFT) + 1 : g.start;
	return g;
}

/**
 * mn_strerror() - Describe a value returned by an mnsim function.
 * @err: 0, a negative errno, or a positive errno.
 *
 * Context: Any context; the returned string is static.
 * Return: "Success" for 0, the errno's description (for example "File exists" for -EEXIST),
 * or "Unknown error" when the value is no errno.
 */
MN_EXPORT const char *mn_strerror(int err);

/**
 * mn_errname() - The symbolic name of a value returned by an mnsim function.
 * @err: 0, a negative errno, or a positive errno.
 *
 * Context: Any context; the returned string is static.
 * Return: "0" for 0, the errno's name (for example "EEXIST" for -EEXIST), or "E?" when the
 * value is no errno.
 */
MN_EXPORT const char *mn_errname(int err);

/**
 * mn_version() - The library version.
 *
 * Context: Any context.
 * Return: the version string, for example "0.1.0".
 */
MN_EXPORT const char *mn_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_TYPES_H */
