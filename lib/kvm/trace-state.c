// SPDX-License-Identifier: MIT
/*
 * trace-state.c - the VM's invalidation state in every event of a full trace: struct kvm's
 * mmu_invalidate_seq, mmu_invalidate_in_progress and mn_active_invalidate_count
 * (include/linux/kvm_host.h), so that a reader sees where the sequence moves and where an
 * invalidation begins and ends. No kernel counterpart: the kernel's tracepoints omit them.
 */
#include "kvm/kvm-internal.h"

/* Reads the fields directly: a provider must not yield or emit (no mn_atomic_read()). */
static void vm_trace_state(void *arg, struct mn_trace_state *st)
{
	const struct mn_vm *vm = arg;

	st->nr = 3;
	st->name[0] = "seq";
	st->val[0] = (int64_t)vm->mmu_invalidate_seq;
	st->name[1] = "in_progress";
	st->val[1] = vm->mmu_invalidate_in_progress;
	st->name[2] = "mn_count";
	st->val[2] = (int64_t)vm->mn_active_invalidate_count;
}

/* At creation: this VM's state goes with the events from now on (the newest VM wins). */
void kvm_trace_state_register(struct mn_vm *vm)
{
	mn_trace_set_state_fn(vm->trace, vm_trace_state, vm);
}

/* At teardown: stop, unless another VM has taken over since. */
void kvm_trace_state_unregister(struct mn_vm *vm)
{
	mn_trace_clear_state_fn(vm->trace, vm);
}
