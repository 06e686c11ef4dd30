/* SPDX-License-Identifier: MIT */
/*
 * bench-util.h - what every benchmark needs: a monotonic clock in nanoseconds and the
 * median of a set of repetitions.
 */
#ifndef MN_BENCH_UTIL_H
#define MN_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n values (sorted in place); the mean of the middle two when @n is even. */
static inline double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* MN_BENCH_UTIL_H */
