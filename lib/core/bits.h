/* SPDX-License-Identifier: MIT */
/*
 * bits.h - bit and field helpers in the shape of the kernel's include/linux/bits.h and
 * bitfield.h (BIT_ULL, GENMASK_ULL, FIELD_GET/FIELD_PREP), for the entry formats in lib/pt.
 */
#ifndef MN_CORE_BITS_H
#define MN_CORE_BITS_H

#include <stdint.h>

#define MN_BIT(n) (1ULL << (n))

/* Bits @l..@h inclusive, @h >= @l, both below 64. */
#define MN_GENMASK(h, l) ((~0ULL >> (63 - (h))) & (~0ULL << (l)))

/* Shift of the lowest set bit of a non-zero constant mask. */
#define MN_MASK_SHIFT(mask) ((unsigned int)__builtin_ctzll(mask))

/* Extract the field @mask from @reg, right-aligned. */
#define MN_FIELD_GET(mask, reg) (((uint64_t)(reg) & (mask)) >> MN_MASK_SHIFT(mask))

/* Place @val into the field @mask; bits of @val that do not fit are dropped. */
#define MN_FIELD_PREP(mask, val) (((uint64_t)(val) << MN_MASK_SHIFT(mask)) & (mask))

#endif /* MN_CORE_BITS_H */
