// SPDX-License-Identifier: MIT
/*
 * run.c - a compiled scenario script as a &struct mn_scenario: the setup builds the world
 * (host mm, VM, the setup lines in order) and spawns one sim thread per thread block; every
 * line is one call of the public API, whose result is checked against what the line accepts.
 * The check runs the quiescent oracle and the after block, then tears the world down.
 */
#include "scenario/scenario-internal.h"

#include <stdarg.h>
#include <stdio.h>

/* What one line's call returned. */
struct outcome {
	int ret;      /* 0, -errno, or 1 for a guest exit */
	bool has_val; /* a read: @val is what it read */
	uint64_t val;
	unsigned int exit; /* SCN_EXIT_* of a guest exit */
	int exit_err;
};

bool scn_op_needs_vm(enum scn_op_kind kind)
{
	switch (kind) {
	case SCN_OP_GMEM:
	case SCN_OP_GPC_CREATE:
	case SCN_OP_GUEST:
	case SCN_OP_MEMSLOT:
	case SCN_OP_MEMSLOT_DELETE:
	case SCN_OP_MEMSLOT_MOVE:
	case SCN_OP_MEMSLOT_FLAGS:
	case SCN_OP_ATTRIBUTES:
	case SCN_OP_GPC_ACTIVATE:
	case SCN_OP_GPC_REFRESH:
	case SCN_OP_GPC_READ:
	case SCN_OP_GPC_WRITE:
	case SCN_OP_GPC_DEACTIVATE:
	case SCN_OP_DIRTY_GET:
	case SCN_OP_DIRTY_CLEAR:
	case SCN_OP_SPTE:
		return true;
	default:
		return false;
	}
}

/* ---- the VMM's memslot bookkeeping ------------------------------------------------------- */

static struct scn_slot *slot_find(struct mn_script *s, uint32_t slot)
{
	unsigned int i;

	for (i = 0; i < SCN_MAX_SLOTS; i++)
		if (s->slots[i].used && s->slots[i].r.slot == slot)
			return &s->slots[i];
	return NULL;
}

/* Remember what the VMM passed last for a slot, as a VMM keeps its region structs. */
static void slot_record(struct mn_script *s, const struct mn_userspace_memory_region2 *r)
{
	struct scn_slot *e = slot_find(s, r->slot);
	unsigned int i;

	if (!r->memory_size) {
		if (e)
			e->used = false;
		return;
	}
	for (i = 0; !e && i < SCN_MAX_SLOTS; i++)
		if (!s->slots[i].used)
			e = &s->slots[i];
	if (e) {
		e->used = true;
		e->r = *r;
	}
}

/* The region a delete, move or flags change starts from: the slot as last set. */
static struct mn_userspace_memory_region2 slot_base(struct mn_script *s, uint32_t slot)
{
	struct scn_slot *e = slot_find(s, slot);

	return e ? e->r : (struct mn_userspace_memory_region2){ .slot = slot };
}

static mn_hva_t loc_addr(const struct mn_script *s, const struct scn_loc *l)
{
	return l->obj >= 0 ? s->hva[l->obj] + l->off : l->off;
}

static int fd_of(const struct mn_script *s, int obj)
{
	return obj >= 0 ? s->fd[obj] : -1;
}

/* ---- one line ---------------------------------------------------------------------------- */

static void exec_guest(struct mn_script *s, const struct scn_op *op, struct outcome *o)
{
	struct mn_vcpu *vcpu = mn_vm_get_vcpu(s->vm, op->vcpu);
	struct mn_vcpu_exit exit = { 0 };
	uint64_t val = op->value;

	if (!vcpu) {
		o->ret = -EINVAL;
		return;
	}
	o->ret = mn_vcpu_access(vcpu, op->as_id, op->addr, op->arg, &val, &exit);
	if (o->ret == 1) {
		o->exit_err = exit.error;
		if (exit.reason == MN_EXIT_MMIO)
			o->exit = SCN_EXIT_MMIO;
		else if (exit.flags & MN_MEMORY_EXIT_FLAG_USERFAULT)
			o->exit = SCN_EXIT_USERFAULT;
		else if (exit.error == -EAGAIN)
			o->exit = SCN_EXIT_GAVE_UP;
		else
			o->exit = SCN_EXIT_MEMORY_FAULT;
	} else if (!o->ret && op->arg != MN_PTE_W) {
		o->has_val = true;
		o->val = val;
	}
}

static void exec_memslot(struct mn_script *s, const struct scn_op *op, struct outcome *o)
{
	struct mn_userspace_memory_region2 r;

	switch (op->kind) {
	case SCN_OP_MEMSLOT:
		r = (struct mn_userspace_memory_region2){
			.slot = op->slot,
			.flags = op->flags | (op->obj2 >= 0 ? MN_MEM_GUEST_MEMFD : 0),
			.guest_phys_addr = op->addr,
			.memory_size = op->size,
			.userspace_addr = loc_addr(s, &op->loc),
			.guest_memfd_offset = op->off2,
			.guest_memfd = (uint32_t)fd_of(s, op->obj2),
			.userfault_bitmap = op->bitmap >= 0 ? s->bits[op->bitmap] : NULL,
		};
		break;
	case SCN_OP_MEMSLOT_DELETE:
		r = slot_base(s, op->slot);
		r.memory_size = 0;
		break;
	case SCN_OP_MEMSLOT_MOVE:
		r = slot_base(s, op->slot);
		r.guest_phys_addr = op->addr;
		break;
	default:
		r = slot_base(s, op->slot);
		r.flags = op->flags | (r.flags & MN_MEM_GUEST_MEMFD);
		if (op->bitmap >= 0)
			r.userfault_bitmap = s->bits[op->bitmap];
		break;
	}
	o->ret = mn_vm_set_user_memory_region2(s->vm, &r);
	if (!o->ret)
		slot_record(s, &r);
}

static void exec_gpc(struct mn_script *s, const struct scn_op *op, struct outcome *o)
{
	struct mn_gpc *gpc = s->gpc[op->obj];

	switch (op->kind) {
	case SCN_OP_GPC_ACTIVATE:
		o->ret = op->by_hva ? mn_gpc_activate_hva(gpc, loc_addr(s, &op->loc), op->size)
				    : mn_gpc_activate(gpc, op->addr, op->size);
		break;
	case SCN_OP_GPC_REFRESH:
		o->ret = mn_gpc_refresh(gpc, op->size);
		break;
	case SCN_OP_GPC_READ:
		o->ret = mn_gpc_read(gpc, op->addr, &o->val);
		o->has_val = !o->ret;
		break;
	case SCN_OP_GPC_WRITE:
		o->ret = mn_gpc_write(gpc, op->addr, op->value);
		break;
	default:
		mn_gpc_deactivate(gpc);
		break;
	}
}

/* Definitions: the object's address, descriptor or cache. */
static void exec_define(struct mn_script *s, const struct scn_op *op, struct outcome *o)
{
	struct mn_create_guest_memfd g;
	struct mn_file *f = NULL;
	mn_hva_t a = 0;
	int fd;

	switch (op->kind) {
	case SCN_OP_MMAP:
		if (op->obj2 >= 0) {
			f = mn_mm_fget(s->mm, s->fd[op->obj2]);
			if (!f) {
				o->ret = -EBADF;
				break;
			}
		}
		o->ret = mn_mm_mmap(s->mm, 0, op->size, op->arg, op->flags, f, op->off2, &a);
		mn_file_put(f);
		if (!o->ret)
			s->hva[op->obj] = a;
		break;
	case SCN_OP_FILE:
		o->ret = mn_file_create(s->sim, s->obj[op->obj].name, op->size, op->arg, &f);
		if (o->ret)
			break;
		fd = mn_mm_fd_install(s->mm, f);
		mn_file_put(f);
		if (fd < 0)
			o->ret = fd;
		else
			s->fd[op->obj] = fd;
		break;
	case SCN_OP_GMEM:
		g = (struct mn_create_guest_memfd){ .size = op->size,
						    .flags = op->value,
						    .huge_order = op->arg };
		fd = mn_vm_create_guest_memfd(s->vm, &g);
		if (fd < 0)
			o->ret = fd;
		else
			s->fd[op->obj] = fd;
		break;
	default:
		o->ret = mn_gpc_create(s->vm, &s->gpc[op->obj]);
		break;
	}
}

static void exec_spte(struct mn_script *s, const struct scn_op *op, struct outcome *o)
{
	struct mn_pt *pt = mn_vm_get_pt(s->vm, op->as_id);
	struct mn_pt_walk w;

	if (!pt) {
		o->ret = -EINVAL;
		return;
	}
	o->has_val = true;
	if (!mn_pt_walk(pt, op->addr >> MN_PAGE_SHIFT, &w) && w.leaf.kind == MN_PTE_LEAF &&
	    w.leaf.level >= MN_PG_LEVEL_4K && w.leaf.level <= MN_PG_LEVEL_1G)
		o->val = mn_level_size((enum mn_pg_level)w.leaf.level);
}

static struct outcome exec(struct mn_script *s, const struct scn_op *op)
{
	struct mn_memory_attributes attrs = { op->addr, op->size, op->value, 0 };
	struct outcome o = { 0 };
	mn_hva_t a;
	uint64_t val;
	int r;

	switch (op->kind) {
	case SCN_OP_MMAP:
	case SCN_OP_FILE:
	case SCN_OP_GMEM:
	case SCN_OP_GPC_CREATE:
		exec_define(s, op, &o);
		break;
	case SCN_OP_GUEST:
		exec_guest(s, op, &o);
		break;
	case SCN_OP_HOST:
		val = op->value;
		o.ret = mn_mm_access(s->mm, loc_addr(s, &op->loc), op->arg, &val, NULL);
		o.has_val = !o.ret && op->arg == MN_PTE_R;
		o.val = val;
		break;
	case SCN_OP_MUNMAP:
		o.ret = mn_mm_munmap(s->mm, loc_addr(s, &op->loc), op->size);
		break;
	case SCN_OP_MPROTECT:
		o.ret = mn_mm_mprotect(s->mm, loc_addr(s, &op->loc), op->size, op->arg);
		break;
	case SCN_OP_MADVISE:
		o.ret = mn_mm_madvise(s->mm, loc_addr(s, &op->loc), op->size, (int)op->arg);
		break;
	case SCN_OP_MIGRATE:
		o.ret = mn_mm_migrate(s->mm, loc_addr(s, &op->loc), 0, NULL);
		break;
	case SCN_OP_AGE:
		r = mn_mm_age(s->mm, loc_addr(s, &op->loc), op->size, (enum mn_age_mode)op->arg);
		o.ret = r < 0 ? r : 0;
		break;
	case SCN_OP_REMAP:
		o.ret = mn_mm_mmap(s->mm, loc_addr(s, &op->loc), op->size,
				   MN_PROT_READ | MN_PROT_WRITE,
				   MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a);
		break;
	case SCN_OP_MEMSLOT:
	case SCN_OP_MEMSLOT_DELETE:
	case SCN_OP_MEMSLOT_MOVE:
	case SCN_OP_MEMSLOT_FLAGS:
		exec_memslot(s, op, &o);
		break;
	case SCN_OP_PUNCH:
		o.ret = mn_mm_fallocate(s->mm, fd_of(s, op->obj),
					MN_FALLOC_FL_PUNCH_HOLE | MN_FALLOC_FL_KEEP_SIZE, op->addr,
					op->size);
		break;
	case SCN_OP_ALLOCATE:
		o.ret = mn_mm_fallocate(s->mm, fd_of(s, op->obj), MN_FALLOC_FL_KEEP_SIZE, op->addr,
					op->size);
		break;
	case SCN_OP_CONVERT:
		o.ret = mn_gmem_set_memory_attributes(s->mm, fd_of(s, op->obj), &attrs);
		break;
	case SCN_OP_ATTRIBUTES:
		o.ret = mn_vm_set_memory_attributes(s->vm, &attrs);
		break;
	case SCN_OP_CLOSE:
		o.ret = mn_mm_close(s->mm, fd_of(s, op->obj));
		break;
	case SCN_OP_GPC_ACTIVATE:
	case SCN_OP_GPC_REFRESH:
	case SCN_OP_GPC_READ:
	case SCN_OP_GPC_WRITE:
	case SCN_OP_GPC_DEACTIVATE:
		exec_gpc(s, op, &o);
		break;
	case SCN_OP_DIRTY_GET:
		memset(op->buf, 0, op->nr_words * sizeof(uint64_t));
		o.ret = mn_vm_get_dirty_log(s->vm, op->slot, op->buf);
		o.has_val = !o.ret;
		o.val = op->buf[0];
		break;
	case SCN_OP_DIRTY_CLEAR:
		o.ret = mn_vm_clear_dirty_log(s->vm, op->slot, op->addr, (uint32_t)op->size,
					      op->buf);
		break;
	case SCN_OP_BITMAP_SET:
		s->bits[op->obj][op->addr] = op->value;
		break;
	case SCN_OP_YIELD:
		mn_yield(s->sim, "script.yield");
		break;
	case SCN_OP_SPTE:
		exec_spte(s, op, &o);
		break;
	}
	return o;
}

static bool accepted(const struct scn_expect *x, const struct outcome *o)
{
	unsigned int i;
	int e;

	if (x->any)
		return true;
	if (o->exit)
		return (x->exits & o->exit) ||
		       (o->exit != SCN_EXIT_MMIO && (x->exits & SCN_EXIT_MEMORY_FAULT));
	if (!o->ret) {
		if (x->ok)
			return true;
		for (i = 0; o->has_val && i < x->nr_vals; i++)
			if (x->vals[i] == o->val)
				return true;
		return false;
	}
	e = -o->ret;
	return e > 0 && e < 128 && ((x->errs[e / 64] >> (e % 64)) & 1);
}

static const char *describe(const struct outcome *o, char *buf, size_t len)
{
	if (o->exit == SCN_EXIT_MMIO)
		snprintf(buf, len, "exit mmio");
	else if (o->exit == SCN_EXIT_USERFAULT)
		snprintf(buf, len, "exit userfault");
	else if (o->exit == SCN_EXIT_GAVE_UP)
		snprintf(buf, len, "exit gave-up");
	else if (o->exit)
		snprintf(buf, len, "exit memory-fault (%s)", scn_errno_name(o->exit_err));
	else if (!o->ret && o->has_val)
		snprintf(buf, len, "%#llx", (unsigned long long)o->val);
	else if (!o->ret)
		snprintf(buf, len, "ok");
	else
		snprintf(buf, len, "%s", scn_errno_name(o->ret));
	return buf;
}

enum verdict {
	ACCEPTED = 0,
	STOP,	    /* accepted by stop-on: the thread ends here */
	UNEXPECTED, /* @msg says why */
};

static enum verdict run_op(struct mn_script *s, const struct scn_op *op, struct outcome *out,
			   char *msg, size_t len)
{
	char got[48];

	*out = exec(s, op);
	if (op->has_stop && accepted(&op->stop, out))
		return STOP;
	if (accepted(&op->expect, out))
		return ACCEPTED;
	snprintf(msg, len, "%s:%u: %s returned %s, expected %s", s->name, op->line, op->label,
		 describe(out, got, sizeof(got)), op->want);
	return UNEXPECTED;
}

/* A thread's or the after block's lines; an unexpected result is reported, not fatal. */
static void run_reported(struct mn_script *s, const struct scn_seq *q)
{
	struct outcome o;
	char msg[256];
	unsigned int i;

	for (i = 0; i < q->nr; i++) {
		enum verdict v = run_op(s, &q->ops[i], &o, msg, sizeof(msg));

		if (v == STOP)
			break;
		if (v == UNEXPECTED)
			mn_sim_reportf(s->sim, MN_VIOL_CHECK, "script.unexpected_result", "%s",
				       msg);
	}
}

static void thread_fn(struct mn_sim *sim, void *arg)
{
	struct scn_thread *t = arg;

	(void)sim;
	run_reported(t->s, &t->seq);
}

/* ---- setup and check --------------------------------------------------------------------- */

static void teardown(struct mn_script *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_obj; i++) {
		mn_gpc_destroy(s->gpc[i]);
		s->gpc[i] = NULL;
	}
	mn_vm_destroy(s->vm);
	mn_mm_destroy(s->mm);
	s->vm = NULL;
	s->mm = NULL;
}

static int __attribute__((format(printf, 3, 4)))
setup_fail(struct mn_script *s, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	s->setup_failed = true;
	mn_sim_reportf(s->sim, MN_VIOL_CHECK, "script.setup_failed", "%s", s->last_error);
	teardown(s);
	return ret;
}

static int create_vm(struct mn_script *s)
{
	struct mn_vm_config cfg = s->vm_cfg;
	int r;

	cfg.arch = s->info.arch;
	cfg.variant = s->info.variant;
	r = mn_vm_create(s->mm, &cfg, &s->vm);
	if (r)
		return setup_fail(s, r, "%s:%u: the VM: mn_vm_create() returned %s", s->name,
				  s->vm_line, scn_errno_name(r));
	return 0;
}

int scn_setup(struct mn_sim *sim, void *arg)
{
	struct mn_script *s = arg;
	struct mn_mm_config mc = { .thp = s->thp };
	struct outcome o;
	char msg[256];
	unsigned int i;
	int r;

	s->sim = sim;
	s->mm = NULL;
	s->vm = NULL;
	s->setup_failed = false;
	s->last_error[0] = '\0';
	memset(s->slots, 0, sizeof(s->slots));
	for (i = 0; i < s->nr_obj; i++) {
		s->hva[i] = 0;
		s->fd[i] = -1;
		s->gpc[i] = NULL;
		if (s->obj[i].kind == SCN_BITMAP)
			memcpy(s->bits[i], s->obj[i].init, s->obj[i].size * sizeof(uint64_t));
	}
	r = mn_mm_create(sim, &mc, &s->mm);
	if (r)
		return setup_fail(s, r, "%s: mn_mm_create() returned %s", s->name,
				  scn_errno_name(r));
	for (i = 0; i < s->setup.nr; i++) {
		const struct scn_op *op = &s->setup.ops[i];

		if (op->make_vm && (r = create_vm(s)))
			return r;
		if (run_op(s, op, &o, msg, sizeof(msg)) != ACCEPTED)
			return setup_fail(s, o.ret < 0 ? o.ret : -EIO, "%s", msg);
	}
	if (!s->vm && (r = create_vm(s)))
		return r;
	if (s->info.checked)
		mn_check_enable(s->vm);
	for (i = 0; i < s->info.nr_threads; i++) {
		r = mn_sim_spawn(sim, s->thr[i].name, thread_fn, &s->thr[i], NULL);
		if (r)
			return setup_fail(s, r, "%s:%u: thread %s: mn_sim_spawn() returned %s",
					  s->name, s->thr[i].line, s->thr[i].name,
					  scn_errno_name(r));
	}
	return 0;
}

void scn_check(struct mn_sim *sim, void *arg)
{
	struct mn_script *s = arg;
	unsigned int i;

	if (!s->mm || s->sim != sim)
		return;
	/*
	 * A run cut short by a violation leaves threads in the middle of their calls, holding
	 * sim locks: nothing may run then, and the world's reset or destruction frees it all.
	 */
	for (i = 0; i < mn_sim_nr_threads(sim); i++)
		if (mn_thread_get_state(mn_sim_thread(sim, i)) != MN_THREAD_DONE)
			return;
	if (!mn_sim_failed(sim)) {
		if (s->info.checked)
			mn_check_vm_quiescent(s->vm);
		run_reported(s, &s->after);
	}
	teardown(s);
}
