// SPDX-License-Identifier: MIT
/*
 * coro.c - coroutine stacks and context switches for sim threads (see coro.h). glibc's
 * swapcontext() makes a sigprocmask system call on every switch; sigsetjmp(env, 0) and
 * siglongjmp() do not, so swapcontext() runs once per coroutine start and never again.
 */
#include "mnsim-internal.h"
#include "sim/coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MN_ASAN 1
#endif
#endif

#ifdef MN_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#if MN_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

static void asan_start_switch(struct coro *from, struct coro *to, bool from_exits)
{
#ifdef MN_ASAN
	__sanitizer_start_switch_fiber(from_exits ? NULL : &from->fake_stack, to->stack,
				       to->stack_size);
#else
	(void)from, (void)to, (void)from_exits;
#endif
}

/* Called on @self right after it was switched to. */
static void asan_finish_switch(struct coro *self)
{
#ifdef MN_ASAN
	const void *bottom;
	size_t size;
	struct coro *prev = self->switched_from;

	__sanitizer_finish_switch_fiber(self->fake_stack, &bottom, &size);
	/* The OS thread's own stack: learn its bounds the first time we leave it. */
	if (prev && !prev->map) {
		prev->stack = (void *)bottom;
		prev->stack_size = size;
	}
#else
	(void)self;
#endif
}

int coro_stack_alloc(struct coro *co, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *map;

	size = mn_align_up(size, page);
	map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	/* Stacks grow down: an overflow runs into the guard page at the bottom. */
	if (mprotect(map, page, PROT_NONE)) {
		munmap(map, size + page);
		return -ENOMEM;
	}
	co->map = map;
	co->map_size = size + page;
	co->stack = (char *)map + page;
	co->stack_size = size;
#if MN_HAVE_VALGRIND_H
	co->vg_id = VALGRIND_STACK_REGISTER(co->stack, (char *)co->stack + size);
#endif
	return 0;
}

void coro_stack_free(struct coro *co)
{
	if (!co->map)
		return;
#if MN_HAVE_VALGRIND_H
	VALGRIND_STACK_DEREGISTER(co->vg_id);
#endif
	munmap(co->map, co->map_size);
	co->map = NULL;
	co->stack = NULL;
}

struct start_info {
	struct coro *co;
	sigjmp_buf *back;
};

/* makecontext() passes int arguments only: the pointer travels in two halves. */
static void trampoline(unsigned int hi, unsigned int lo)
{
	struct start_info *si = (struct start_info *)(((uintptr_t)hi << 32) | lo);
	struct coro *co = si->co;

	asan_finish_switch(co);
	if (!sigsetjmp(co->env, 0)) {
		/* Parked: go back to coro_start(); the first coro_switch() lands below. */
		asan_start_switch(co, co->switched_from, false);
		siglongjmp(*si->back, 1);
	}
	asan_finish_switch(co);
	co->entry(co->arg);
	/* Entries end by switching away for good (coro_switch(.., .., true)). */
	abort();
}

int coro_start(struct coro *co, void (*entry)(void *arg), void *arg)
{
	struct coro self = { 0 };
	struct start_info si;
	ucontext_t uc, old;
	sigjmp_buf back;
	uintptr_t p;

	if (getcontext(&uc))
		return -errno;
	co->entry = entry;
	co->arg = arg;
	co->fake_stack = NULL;
	uc.uc_stack.ss_sp = co->stack;
	uc.uc_stack.ss_size = co->stack_size;
	uc.uc_link = NULL;
	si.co = co;
	si.back = &back;
	p = (uintptr_t)&si;
	makecontext(&uc, (void (*)(void))trampoline, 2, (unsigned int)(p >> 32),
		    (unsigned int)(p & 0xffffffffU));
	/* A stand-in for whoever runs this, only so ASan can switch back to this stack. */
	co->switched_from = &self;
	if (!sigsetjmp(back, 0)) {
		asan_start_switch(&self, co, false);
		if (swapcontext(&old, &uc))
			return -errno;
	}
	self.switched_from = co;
	asan_finish_switch(&self);
	co->switched_from = NULL;
	return 0;
}

void coro_switch(struct coro *from, struct coro *to, bool from_exits)
{
	to->switched_from = from;
	if (!sigsetjmp(from->env, 0)) {
		asan_start_switch(from, to, from_exits);
		siglongjmp(to->env, 1);
	}
	asan_finish_switch(from);
}
