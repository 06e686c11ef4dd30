/* SPDX-License-Identifier: MIT */
/*
 * coro.h - stackful coroutines for sim threads: stacks from mmap with a guard page,
 * first entry through makecontext/swapcontext, every later switch through
 * sigsetjmp/siglongjmp without saving the signal mask (the scheme of QEMU's
 * util/coroutine-ucontext.c), annotated for ASan and registered with valgrind.
 */
#ifndef MN_SIM_CORO_H
#define MN_SIM_CORO_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

struct coro {
	sigjmp_buf env;
	void *stack;	   /* lowest usable address, NULL for the OS thread's own stack */
	size_t stack_size; /* usable bytes above the guard page */
	void *map;	   /* the mmap'd region, guard page included */
	size_t map_size;
	void (*entry)(void *arg);
	void *arg;
	struct coro *switched_from; /* who switched to us last (for ASan's stack bookkeeping) */
	void *fake_stack;	    /* ASan fake-stack handle saved while switched out */
	unsigned int vg_id;	    /* valgrind stack id */
};

/* Map a stack of @size usable bytes (rounded up to pages) below a guard page. */
int coro_stack_alloc(struct coro *co, size_t size);
void coro_stack_free(struct coro *co);

/* Prepare @co (whose stack is allocated) to run @entry(@arg) on its first switch-in. */
int coro_start(struct coro *co, void (*entry)(void *arg), void *arg);

/*
 * Save the running context in @from and resume @to. Returns when someone switches back
 * to @from. With @from_exits, @from is never resumed (a finished coroutine).
 */
void coro_switch(struct coro *from, struct coro *to, bool from_exits);

#endif /* MN_SIM_CORO_H */
