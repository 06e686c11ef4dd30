// SPDX-License-Identifier: MIT
/*
 * alloc.c - per-world allocation contexts. The only file that knows jemalloc (STYLE.md R13):
 * a private arena per context, destroyed wholesale; otherwise libc or caller ops with a
 * header per block so that teardown can free what the world left behind.
 */
#include "mnsim-internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bsd/sys/queue.h>

#if MN_HAVE_JEMALLOC
#define JEMALLOC_NO_DEMANGLE
#include <jemalloc/jemalloc.h>
#endif

enum backend {
	BACKEND_JEMALLOC,
	BACKEND_LIBC,
	BACKEND_CUSTOM,
};

#define HDR_MAGIC 0x6d6e616c6c6f6321ULL /* "mnalloc!" */

/* Prepended to every block of the libc and custom backends; keeps 16-byte alignment. */
struct alloc_hdr {
	LIST_ENTRY(alloc_hdr) link;
	size_t size;
	uint64_t magic;
};

_Static_assert(sizeof(struct alloc_hdr) % 16 == 0, "alloc_hdr breaks malloc alignment");

struct mn_alloc {
	enum backend backend;
	struct mn_alloc_ops ops;
	LIST_HEAD(, alloc_hdr) blocks;
	unsigned int arena;
	int mallocx_flags;
	uint64_t fail_countdown;
	struct mn_alloc_stats st;
};

static void *libc_alloc(void *priv, size_t size)
{
	(void)priv;
	return malloc(size);
}

static void libc_free(void *priv, void *ptr)
{
	(void)priv;
	free(ptr);
}

static const struct mn_alloc_ops libc_ops = {
	.alloc = libc_alloc,
	.free = libc_free,
};

const char *mn_alloc_backend(void)
{
	return MN_HAVE_JEMALLOC ? "jemalloc" : "libc";
}

#if MN_HAVE_JEMALLOC
static int arena_ctl(unsigned int arena, const char *verb)
{
	char name[64];

	snprintf(name, sizeof(name), "arena.%u.%s", arena, verb);
	return je_mallctl(name, NULL, NULL, NULL, 0);
}

static int jemalloc_setup(struct mn_alloc *a)
{
	unsigned int ind;
	size_t sz = sizeof(ind);

	if (je_mallctl("arenas.create", &ind, &sz, NULL, 0))
		return -ENOMEM;
	a->arena = ind;
	a->mallocx_flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	return 0;
}

/* Discard every block of the arena; the arena itself stays when @keep. */
static void jemalloc_release(struct mn_alloc *a, bool keep)
{
	/* Blocks never pass through the thread cache (TCACHE_NONE); flush anyway, as required. */
	je_mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	arena_ctl(a->arena, keep ? "reset" : "destroy");
}
#endif

int mn_alloc_create(const struct mn_alloc_ops *ops, struct mn_alloc **out)
{
	const struct mn_alloc_ops *base = ops ? ops : &libc_ops;
	struct mn_alloc *a;

	if (ops && (!ops->alloc || !ops->free))
		return -EINVAL;
	a = base->alloc(base->priv, sizeof(*a));
	if (!a)
		return -ENOMEM;
	memset(a, 0, sizeof(*a));
	a->ops = *base;
	LIST_INIT(&a->blocks);
	a->backend = ops ? BACKEND_CUSTOM : BACKEND_LIBC;
#if MN_HAVE_JEMALLOC
	if (!ops) {
		if (jemalloc_setup(a)) {
			base->free(base->priv, a);
			return -ENOMEM;
		}
		a->backend = BACKEND_JEMALLOC;
	}
#endif
	*out = a;
	return 0;
}

/* Free every block of the header-tracked backends. */
static void release_blocks(struct mn_alloc *a)
{
	struct alloc_hdr *h;

	while ((h = LIST_FIRST(&a->blocks)) != NULL) {
		LIST_REMOVE(h, link);
		h->magic = 0;
		a->ops.free(a->ops.priv, h);
	}
}

void mn_alloc_reset(struct mn_alloc *a)
{
#if MN_HAVE_JEMALLOC
	if (a->backend == BACKEND_JEMALLOC)
		jemalloc_release(a, true);
#endif
	release_blocks(a);
	memset(&a->st, 0, sizeof(a->st));
	a->fail_countdown = 0;
}

void mn_alloc_destroy(struct mn_alloc *a)
{
	struct mn_alloc_ops ops;

	if (!a)
		return;
#if MN_HAVE_JEMALLOC
	if (a->backend == BACKEND_JEMALLOC)
		jemalloc_release(a, false);
#endif
	release_blocks(a);
	ops = a->ops;
	ops.free(ops.priv, a);
}

const char *mn_alloc_get_backend(const struct mn_alloc *a)
{
	switch (a->backend) {
	case BACKEND_JEMALLOC:
		return "jemalloc";
	case BACKEND_LIBC:
		return "libc";
	default:
		return "custom";
	}
}

void mn_alloc_get_stats(const struct mn_alloc *a, struct mn_alloc_stats *st)
{
	*st = a->st;
}

void mn_alloc_fail_nth(struct mn_alloc *a, uint64_t nth)
{
	a->fail_countdown = nth;
}

bool mn_alloc_fail_pending(const struct mn_alloc *a)
{
	return a->fail_countdown != 0;
}

/* Counts one attempt; true when the armed injection fires on it. */
static bool attempt_fails(struct mn_alloc *a)
{
	a->st.nr_allocs++;
	if (likely(!a->fail_countdown) || --a->fail_countdown)
		return false;
	a->st.nr_injected++;
	return true;
}

static void account_alloc(struct mn_alloc *a, size_t bytes)
{
	a->st.live_objects++;
	a->st.live_bytes += bytes;
	if (a->st.live_bytes > a->st.peak_bytes)
		a->st.peak_bytes = a->st.live_bytes;
}

static void account_free(struct mn_alloc *a, size_t bytes)
{
	assert(a->st.live_objects > 0 && a->st.live_bytes >= bytes);
	a->st.live_objects--;
	a->st.live_bytes -= bytes;
}

static struct alloc_hdr *hdr_of(void *ptr)
{
	struct alloc_hdr *h = (struct alloc_hdr *)ptr - 1;

	assert(h->magic == HDR_MAGIC); /* not a block of a tracked context, or freed twice */
	return h;
}

/* Backend allocation without accounting; returns the usable size through @bytes. */
static void *raw_alloc(struct mn_alloc *a, size_t size, size_t *bytes)
{
	struct alloc_hdr *h;

	if (size == 0)
		size = 1;
#if MN_HAVE_JEMALLOC
	if (a->backend == BACKEND_JEMALLOC) {
		void *p = je_mallocx(size, a->mallocx_flags);

		if (p)
			*bytes = je_sallocx(p, a->mallocx_flags);
		return p;
	}
#endif
	if (size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = a->ops.alloc(a->ops.priv, sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	h->magic = HDR_MAGIC;
	LIST_INSERT_HEAD(&a->blocks, h, link);
	*bytes = size;
	return h + 1;
}

static size_t raw_free(struct mn_alloc *a, void *ptr)
{
	struct alloc_hdr *h;
	size_t bytes;

#if MN_HAVE_JEMALLOC
	if (a->backend == BACKEND_JEMALLOC) {
		bytes = je_sallocx(ptr, a->mallocx_flags);
		je_dallocx(ptr, a->mallocx_flags);
		return bytes;
	}
#endif
	h = hdr_of(ptr);
	bytes = h->size;
	LIST_REMOVE(h, link);
	h->magic = 0;
	a->ops.free(a->ops.priv, h);
	return bytes;
}

void *mn_malloc(struct mn_alloc *a, size_t size)
{
	size_t bytes = 0;
	void *p;

	if (unlikely(attempt_fails(a)))
		return NULL;
	p = raw_alloc(a, size, &bytes);
	if (unlikely(!p)) {
		a->st.nr_failed++;
		return NULL;
	}
	account_alloc(a, bytes);
	return p;
}

void *mn_zalloc(struct mn_alloc *a, size_t size)
{
	void *p = mn_malloc(a, size);

	if (p)
		memset(p, 0, size);
	return p;
}

void *mn_calloc(struct mn_alloc *a, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		a->st.nr_allocs++;
		a->st.nr_failed++;
		return NULL;
	}
	return mn_zalloc(a, total);
}

void *mn_realloc(struct mn_alloc *a, void *ptr, size_t size)
{
	size_t old_bytes, bytes = 0;
	void *p;

	if (!ptr)
		return mn_malloc(a, size);
	if (unlikely(attempt_fails(a)))
		return NULL;
	if (size == 0)
		size = 1;
#if MN_HAVE_JEMALLOC
	if (a->backend == BACKEND_JEMALLOC) {
		old_bytes = je_sallocx(ptr, a->mallocx_flags);
		p = je_rallocx(ptr, size, a->mallocx_flags);
		if (!p) {
			a->st.nr_failed++;
			return NULL;
		}
		account_free(a, old_bytes);
		account_alloc(a, je_sallocx(p, a->mallocx_flags));
		return p;
	}
#endif
	old_bytes = hdr_of(ptr)->size;
	p = raw_alloc(a, size, &bytes);
	if (!p) {
		a->st.nr_failed++;
		return NULL;
	}
	memcpy(p, ptr, MN_MIN(old_bytes, size));
	raw_free(a, ptr);
	account_free(a, old_bytes);
	account_alloc(a, bytes);
	return p;
}

char *mn_strdup(struct mn_alloc *a, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = mn_malloc(a, len);

	if (p)
		memcpy(p, s, len);
	return p;
}

void mn_free(struct mn_alloc *a, void *ptr)
{
	if (!ptr)
		return;
	account_free(a, raw_free(a, ptr));
	a->st.nr_frees++;
}

int mn_array_grow(struct mn_alloc *a, void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	size_t bytes;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (__builtin_mul_overflow(ncap, elem, &bytes))
		return -ENOMEM;
	p = mn_realloc(a, *arr, bytes);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
