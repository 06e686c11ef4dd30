/* SPDX-License-Identifier: MIT */
/*
 * mnsim-internal.h - declarations shared inside lib/ and with white-box tests, never
 * installed (the role virt/kvm/kvm_mm.h plays for virt/kvm).
 */
#ifndef MNSIM_INTERNAL_H
#define MNSIM_INTERNAL_H

#include "mnsim-config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mnsim.h>

#include "core/bits.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define MN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MN_MAX(a, b) ((a) > (b) ? (a) : (b))

/**
 * mn_array_grow() - Make the array *@arr of @elem-byte items hold at least @need items.
 * @a: the allocation context of the array.
 * @arr: the array (NULL when empty); replaced when it moves.
 * @cap: its capacity in items; updated.
 * @need: the capacity wanted.
 * @elem: bytes per item.
 *
 * Grows geometrically (at least doubling, at least 16 items). New items are not zeroed.
 *
 * Context: As mn_malloc().
 * Return: 0, or -ENOMEM with *@arr and *@cap unchanged.
 */
int mn_array_grow(struct mn_alloc *a, void **arr, size_t *cap, size_t need, size_t elem);

#endif /* MNSIM_INTERNAL_H */
