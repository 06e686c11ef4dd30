// SPDX-License-Identifier: MIT
/*
 * builtin.c - the built-in scenarios of the KVM layer and the world every run of them gets:
 * a host mm with guest RAM, a VM of the chosen architecture with slot 0 over it, checked
 * mode (lib/check after every step), then the scenario's threads; at the end the oracle
 * again, with the counters that must be back at zero, and the scenario's own expectations.
 */
#include "kvm/builtin-internal.h"

#include <stdlib.h>

#define PG MN_PAGE_SIZE

static const struct builtin_def *const builtins[] = {
	&builtin_fault_vs_munmap,    &builtin_fault_vs_mprotect, &builtin_delete_vs_fault,
	&builtin_aging_vs_fault,     &builtin_delete_vs_munmap,	 &builtin_dirty_log_vs_write,
	&builtin_userfault_vs_fault,
};

struct mn_builtin {
	struct mn_scenario sc;
	struct builtin_run run;
};

struct mn_userspace_memory_region2 builtin_slot0(const struct builtin_run *r)
{
	return (struct mn_userspace_memory_region2){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = BUILTIN_RAM_PAGES * PG,
		.userspace_addr = r->ram,
	};
}

static int run_setup(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	struct mn_vm_config cfg = { .arch = r->arch };
	struct mn_userspace_memory_region2 slot;
	unsigned int i;
	int ret;

	memset(r->ret, 0, sizeof(r->ret));
	memset(r->val, 0, sizeof(r->val));
	memset(r->exit, 0, sizeof(r->exit));
	if (r->def->state_size)
		memset(r->priv, 0, r->def->state_size);
	r->sim = sim;
	ret = mn_mm_create(sim, NULL, &r->mm);
	if (!ret)
		ret = mn_mm_mmap(r->mm, 0, BUILTIN_RAM_PAGES * PG, MN_PROT_READ | MN_PROT_WRITE,
				 MN_MAP_PRIVATE | MN_MAP_ANONYMOUS, NULL, 0, &r->ram);
	for (i = 0; i < 4 && !ret; i++) {
		uint64_t v = 0x100 + i;

		ret = mn_mm_access(r->mm, r->ram + i * PG, MN_PTE_W, &v, NULL);
	}
	if (!ret)
		ret = mn_vm_create(r->mm, &cfg, &r->vm);
	slot = builtin_slot0(r);
	if (!ret)
		ret = mn_vm_set_user_memory_region2(r->vm, &slot);
	if (ret)
		return ret;
	mn_check_enable(r->vm);
	return r->def->setup(r);
}

static void run_check(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;

	(void)sim;
	mn_check_vm_quiescent(r->vm);
	r->def->check(r);
	mn_vm_destroy(r->vm);
	mn_mm_destroy(r->mm);
	r->vm = NULL;
	r->mm = NULL;
}

size_t mn_builtin_count(void)
{
	return ARRAY_SIZE(builtins);
}

const struct mn_builtin_info *mn_builtin_info(size_t i)
{
	return i < ARRAY_SIZE(builtins) ? &builtins[i]->info : NULL;
}

int mn_builtin_open(const char *name, enum mn_vm_arch arch, struct mn_builtin **out)
{
	const struct builtin_def *def = NULL;
	struct mn_builtin *b;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtins) && name; i++)
		if (!strcmp(builtins[i]->info.name, name))
			def = builtins[i];
	if (!def)
		return -ENOENT;
	if (arch != MN_VM_X86 && arch != MN_VM_ARM64)
		return -EINVAL;
	/* Outside any world: libc memory, like the explorer's own state. */
	b = calloc(1, sizeof(*b) + def->state_size);
	if (!b)
		return -ENOMEM;
	b->run.arch = arch;
	b->run.def = def;
	b->run.priv = b + 1;
	b->sc = (struct mn_scenario){
		.name = def->info.name, .setup = run_setup, .check = run_check, .arg = &b->run
	};
	*out = b;
	return 0;
}

const struct mn_scenario *mn_builtin_scenario(const struct mn_builtin *b)
{
	return &b->sc;
}

void mn_builtin_close(struct mn_builtin *b)
{
	free(b);
}

/* ---- helpers for scenarios ------------------------------------------------------------- */

static void expect(struct builtin_run *r, bool ok, const char *id, const char *what)
{
	if (!ok)
		mn_sim_reportf(r->sim, MN_VIOL_CHECK, id, "%s: %s", r->def->info.name, what);
}

/* A guest access by vCPU 0 as thread @t: 0 done, 1 exited, recorded in ret/exit/val. */
static void guest_access(struct builtin_run *r, unsigned int t, mn_gpa_t gpa, unsigned int perm)
{
	r->val[t] = r->val[t] ? r->val[t] : 0xa0 + t;
	r->ret[t] = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, gpa, perm, &r->val[t], &r->exit[t]);
}

/*
 * Thread @t's access completed, exited for @reason, or gave up retrying while another
 * thread's operation was in flight (MEMORY_FAULT with -EAGAIN).
 */
static bool guest_done_or_exited(const struct builtin_run *r, unsigned int t,
				 enum mn_exit_reason reason)
{
	return r->ret[t] == 0 ||
	       (r->ret[t] == 1 &&
		(r->exit[t].reason == reason ||
		 (r->exit[t].reason == MN_EXIT_MEMORY_FAULT && r->exit[t].error == -EAGAIN)));
}

/* After the race, the guest can still use @gpa: its access completes (no exit). */
static void expect_usable(struct builtin_run *r, mn_gpa_t gpa)
{
	struct mn_vcpu_exit exit = { 0 };
	uint64_t v = 0;
	int ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, gpa, MN_PTE_R, &v, &exit);

	expect(r, ret == 0, "builtin.guest_stuck", "the guest cannot read the page afterwards");
}

/* ---- fault vs munmap ------------------------------------------------------------------ */

/*
 *  page   0 1 2 3
 *  vcpu     w          write gpa 1
 *  vmm      **         munmap hva of page 1, then MAP_FIXED a fresh page there
 */
static void fvm_vcpu(struct mn_sim *sim, void *arg)
{
	(void)sim;
	guest_access(arg, 0, 1 * PG, MN_PTE_W);
}

static void fvm_vmm(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	mn_hva_t a;

	(void)sim;
	r->ret[1] = mn_mm_munmap(r->mm, r->ram + PG, PG);
	if (!r->ret[1])
		r->ret[1] =
			mn_mm_mmap(r->mm, r->ram + PG, PG, MN_PROT_READ | MN_PROT_WRITE,
				   MN_MAP_PRIVATE | MN_MAP_ANONYMOUS | MN_MAP_FIXED, NULL, 0, &a);
}

static int fvm_setup(struct builtin_run *r)
{
	int ret = mn_sim_spawn(r->sim, "vcpu0", fvm_vcpu, r, NULL);

	return ret ? ret : mn_sim_spawn(r->sim, "vmm", fvm_vmm, r, NULL);
}

static void fvm_check(struct builtin_run *r)
{
	uint64_t v = 0;

	expect(r, !r->ret[1], "builtin.vmm_failed", "munmap or mmap failed");
	/* The write landed, or hit the hole (-EFAULT), or gave up while an invalidation ran. */
	expect(r, r->ret[0] == 0 || (r->ret[0] == 1 && r->exit[0].reason == MN_EXIT_MEMORY_FAULT),
	       "builtin.guest_access", "the guest write neither completed nor exited cleanly");
	expect_usable(r, PG);
	/* The VMM's fresh page holds zero, or the guest's write if it came after the remap. */
	mn_mm_access(r->mm, r->ram + PG, MN_PTE_R, &v, NULL);
	expect(r, v == 0 || v == r->val[0], "builtin.old_page_visible",
	       "the VMM's fresh page shows the unmapped page's contents");
}

const struct builtin_def builtin_fault_vs_munmap = {
	.info = { "fault-vs-munmap",
		  "a vCPU writes a page while the VMM unmaps it and maps a fresh one: no "
		  "secondary entry may keep the freed frame",
		  "fault.retry_check" },
	.setup = fvm_setup,
	.check = fvm_check,
};

/* ---- fault vs mprotect ---------------------------------------------------------------- */

/*
 *  page   0 1 2 3
 *  vcpu       w        write gpa 2
 *  vmm        *        mprotect(PROT_READ) of page 2, then back to read-write
 */
static void fvp_vcpu(struct mn_sim *sim, void *arg)
{
	(void)sim;
	guest_access(arg, 0, 2 * PG, MN_PTE_W);
}

static void fvp_vmm(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;

	r->ret[1] = mn_mm_mprotect(r->mm, r->ram + 2 * PG, PG, MN_PROT_READ);
	/* While read-only the oracle checks no writable entry survives; then restore. */
	mn_yield(sim, "vmm.read_only");
	if (!r->ret[1])
		r->ret[1] =
			mn_mm_mprotect(r->mm, r->ram + 2 * PG, PG, MN_PROT_READ | MN_PROT_WRITE);
}

static int fvp_setup(struct builtin_run *r)
{
	int ret = mn_sim_spawn(r->sim, "vcpu0", fvp_vcpu, r, NULL);

	return ret ? ret : mn_sim_spawn(r->sim, "vmm", fvp_vmm, r, NULL);
}

static void fvp_check(struct builtin_run *r)
{
	expect(r, !r->ret[1], "builtin.vmm_failed", "mprotect failed");
	expect(r, r->ret[0] == 0 || (r->ret[0] == 1 && r->exit[0].reason == MN_EXIT_MEMORY_FAULT),
	       "builtin.guest_access", "the guest write neither completed nor exited cleanly");
	expect_usable(r, 2 * PG);
}

const struct builtin_def builtin_fault_vs_mprotect = {
	.info = { "fault-vs-mprotect",
		  "a vCPU writes a page while the VMM makes it read-only: no writable secondary "
		  "entry over a read-only host entry",
		  "invalidate_end.seq_bump" },
	.setup = fvp_setup,
	.check = fvp_check,
};

/* ---- delete memslot vs fault --------------------------------------------------------------- */

/*
 *  gpa    0 1 2 3 ... 15
 *  slot0  [            )   deleted by the VMM
 *  vcpu         r          read gpa 3
 */
static void dvf_vcpu(struct mn_sim *sim, void *arg)
{
	(void)sim;
	guest_access(arg, 0, 3 * PG, MN_PTE_R);
}

static void dvf_vmm(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	struct mn_userspace_memory_region2 del = builtin_slot0(r);

	(void)sim;
	del.memory_size = 0;
	r->ret[1] = mn_vm_set_user_memory_region2(r->vm, &del);
}

static int dvf_setup(struct builtin_run *r)
{
	int ret = mn_sim_spawn(r->sim, "vcpu0", dvf_vcpu, r, NULL);

	return ret ? ret : mn_sim_spawn(r->sim, "vmm", dvf_vmm, r, NULL);
}

static void dvf_check(struct builtin_run *r)
{
	struct mn_vcpu_exit exit = { 0 };
	uint64_t v;

	expect(r, !r->ret[1], "builtin.vmm_failed", "the memslot delete failed");
	/*
	 * Before the delete the read completes; after it the gpa is MMIO; in between (x86: the
	 * slot is INVALID) the fault retries, and may give up if the delete never resumes.
	 */
	expect(r, guest_done_or_exited(r, 0, MN_EXIT_MMIO), "builtin.guest_access",
	       "the guest read neither completed nor exited to MMIO");
	expect(r,
	       mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, 3 * PG, MN_PTE_R, &v, &exit) == 1 &&
		       exit.reason == MN_EXIT_MMIO,
	       "builtin.slot_still_mapped", "the deleted slot's gpa is still accessible");
}

const struct builtin_def builtin_delete_vs_fault = {
	.info = { "delete-memslot-vs-fault",
		  "a vCPU reads guest memory while the VMM deletes its memslot: no secondary "
		  "entry may outlive the slot",
		  "memslot.flush_shadow" },
	.setup = dvf_setup,
	.check = dvf_check,
};

/* ---- aging vs fault --------------------------------------------------------------------- */

/*
 *  page   0 1 2 3
 *  vcpu   w            write gpa 0
 *  vmm    ********     clear_flush_young over guest RAM (reclaim's aging)
 */
static void avf_vcpu(struct mn_sim *sim, void *arg)
{
	(void)sim;
	guest_access(arg, 0, 0, MN_PTE_W);
}

static void avf_vmm(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;

	(void)sim;
	r->ret[1] = mn_mm_age(r->mm, r->ram, BUILTIN_RAM_PAGES * PG, MN_AGE_CLEAR_FLUSH_YOUNG);
}

static int avf_setup(struct builtin_run *r)
{
	int ret = mn_sim_spawn(r->sim, "vcpu0", avf_vcpu, r, NULL);

	return ret ? ret : mn_sim_spawn(r->sim, "vmm", avf_vmm, r, NULL);
}

static void avf_check(struct builtin_run *r)
{
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(r->vm, &st);
	expect(r, r->ret[1] >= 0, "builtin.vmm_failed", "aging failed");
	expect(r, r->ret[0] == 0, "builtin.guest_access", "the guest write did not complete");
	/* Aging is not an invalidation: the sequence never moves for it. */
	expect(r, st.seq == 0, "builtin.aging_bumped_seq", "aging moved mmu_invalidate_seq");
	expect_usable(r, 0);
}

const struct builtin_def builtin_aging_vs_fault = {
	.info = { "aging-vs-fault",
		  "a vCPU writes guest memory while reclaim ages it: aging never unmaps, never "
		  "moves the sequence and never disturbs a fault",
		  NULL },
	.setup = avf_setup,
	.check = avf_check,
};

/* ---- delete memslot vs munmap ---------------------------------------------------------- */

/*
 *  page   0 1 2 3 ... 15
 *  slot0  [            )   deleted by one VMM thread
 *  munmap   *              another VMM thread unmaps page 1 (start ... end)
 *
 * The swap of the active memslot set must not fall between a start and its end: the end
 * would find no slot, and mmu_invalidate_in_progress would never come back to zero (B2).
 */
static void dvm_delete(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	struct mn_userspace_memory_region2 del = builtin_slot0(r);

	(void)sim;
	del.memory_size = 0;
	r->ret[0] = mn_vm_set_user_memory_region2(r->vm, &del);
}

static void dvm_munmap(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;

	(void)sim;
	r->ret[1] = mn_mm_munmap(r->mm, r->ram + PG, PG);
}

static int dvm_setup(struct builtin_run *r)
{
	int ret = mn_sim_spawn(r->sim, "vmm-memslot", dvm_delete, r, NULL);

	return ret ? ret : mn_sim_spawn(r->sim, "vmm-munmap", dvm_munmap, r, NULL);
}

static void dvm_check(struct builtin_run *r)
{
	expect(r, !r->ret[0] && !r->ret[1], "builtin.vmm_failed", "the delete or munmap failed");
}

const struct builtin_def builtin_delete_vs_munmap = {
	.info = { "delete-memslot-vs-munmap",
		  "the VMM deletes a memslot while another thread unmaps memory in it: the swap "
		  "waits for the invalidation, whose end still finds the slot",
		  "memslot.wait_invalidations" },
	.setup = dvm_setup,
	.check = dvm_check,
};
