// SPDX-License-Identifier: MIT
/*
 * builtin-dirty.c - built-in scenarios for dirty logging and KVM_MEM_USERFAULT: a guest
 * write racing a KVM_GET_DIRTY_LOG harvest (kvm_get_dirty_log_protect()), and a guest
 * access racing the memslot update that turns USERFAULT on (kvm_commit_memory_region() of
 * the KVM Userfault series). The world is builtin.c's (slot 0 over 16 pages of guest RAM,
 * pages 0-3 touched by the VMM, checked mode).
 */
#include "kvm/builtin-internal.h"

#define PG MN_PAGE_SIZE

static void expect(struct builtin_run *r, bool ok, const char *id, const char *what)
{
	if (!ok)
		mn_sim_reportf(r->sim, MN_VIOL_CHECK, id, "%s: %s", r->def->info.name, what);
}

static int spawn_two(struct builtin_run *r, mn_thread_fn vcpu, mn_thread_fn vmm)
{
	int ret = mn_sim_spawn(r->sim, "vcpu0", vcpu, r, NULL);

	return ret ? ret : mn_sim_spawn(r->sim, "vmm", vmm, r, NULL);
}

/* ---- dirty-log harvest vs guest write --------------------------------------------------- */

/*
 *  page    0 1 2 3 ... 15
 *  slot0   [ logging     )   LOG_DIRTY_PAGES turned on in setup (nothing mapped yet)
 *  vcpu      w w             two writes to gpa 1
 *  vmm     ****************  KVM_GET_DIRTY_LOG of slot 0
 *
 * The log is complete if every write is reported by some harvest, and a write that began
 * after the VMM's harvest returned by a later one: the final harvest in the check. The
 * first write faults and maps the page writable (x86: marked under mmu_lock; arm64: marked
 * after it); a harvest write-protects it and flushes before returning, so the second write
 * faults again (x86 fast_page_fault(), arm64 a permission fault) and marks it again.
 */
#define DLW_PAGE   1
#define DLW_WRITES 2

struct dlw_state {
	uint64_t harvest;	/* the VMM's KVM_GET_DIRTY_LOG (16 pages: one word) */
	bool harvested;		/* it has returned */
	bool after[DLW_WRITES]; /* write i began after that */
	int wret[DLW_WRITES];
	struct mn_vcpu_exit wexit[DLW_WRITES];
};

static void dlw_vcpu(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	struct dlw_state *s = r->priv;
	unsigned int i;

	(void)sim;
	for (i = 0; i < DLW_WRITES; i++) {
		uint64_t v = 0xd0 + i;

		s->after[i] = s->harvested;
		s->wret[i] = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, DLW_PAGE * PG, MN_PTE_W,
					    &v, &s->wexit[i]);
	}
}

static void dlw_vmm(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	struct dlw_state *s = r->priv;

	(void)sim;
	r->ret[1] = mn_vm_get_dirty_log(r->vm, 0, &s->harvest);
	s->harvested = true;
}

static int dlw_setup(struct builtin_run *r)
{
	struct mn_userspace_memory_region2 slot = builtin_slot0(r);
	int ret;

	slot.flags = MN_MEM_LOG_DIRTY_PAGES;
	ret = mn_vm_set_user_memory_region2(r->vm, &slot);
	return ret ? ret : spawn_two(r, dlw_vcpu, dlw_vmm);
}

static void dlw_check(struct builtin_run *r)
{
	struct dlw_state *s = r->priv;
	uint64_t final = 0, bit = 1ULL << DLW_PAGE;
	bool wrote = false, wrote_after = false;
	unsigned int i;

	expect(r, !r->ret[1], "builtin.vmm_failed", "KVM_GET_DIRTY_LOG failed");
	for (i = 0; i < DLW_WRITES; i++) {
		/* A logged page of the VMM's own RAM: nothing in the way of the write. */
		expect(r, s->wret[i] == 0, "builtin.guest_access",
		       "a guest write did not complete");
		wrote |= !s->wret[i];
		wrote_after |= !s->wret[i] && s->after[i];
	}
	expect(r, !mn_vm_get_dirty_log(r->vm, 0, &final), "builtin.vmm_failed",
	       "the final KVM_GET_DIRTY_LOG failed");
	expect(r, !wrote_after || (final & bit), "builtin.dirty_write_lost",
	       "a guest write that began after the harvest returned is missing from the next "
	       "harvest");
	expect(r, !wrote || ((s->harvest | final) & bit), "builtin.dirty_write_unreported",
	       "a guest write is in no harvest");
	expect(r, !((s->harvest | final) & ~bit), "builtin.dirty_spurious",
	       "a page nobody wrote is reported dirty");
}

const struct builtin_def builtin_dirty_log_vs_write = {
	.info = { "dirty-log-harvest-vs-guest-write",
		  "a vCPU writes a logged page twice while the VMM harvests the dirty log: every "
		  "write lands in some harvest, and one after a harvest in a later one",
		  "dirty_log.flush" },
	.state_size = sizeof(struct dlw_state),
	.setup = dlw_setup,
	.check = dlw_check,
};

/* ---- KVM_MEM_USERFAULT toggle vs fault -------------------------------------------------- */

/*
 *  page    0 1 2 3 ... 15
 *  slot0   [ USERFAULT   )   turned on by the VMM, bits 2 and 3 set just before
 *  setup       r             gpa 2 read (mapped, in the vCPU's TLB)
 *  vcpu          r r         read gpa 3 (not mapped yet), then gpa 2
 *
 * Once the update has returned, no access to pages 2 or 3 may complete: it must exit with
 * KVM_MEMORY_EXIT_FLAG_USERFAULT. Page 2 was mapped before: only the zap of the commit takes
 * it away. A fault on page 3 that looked the slot up before the swap may still map it; the
 * swap's synchronize_srcu() waits for that fault, and the zap removes what it mapped.
 */
#define UFV_MAPPED 2
#define UFV_FRESH  3

struct ufv_state {
	uint64_t bitmap; /* the VMM's userfault bitmap (16 pages: one word) */
	bool toggled;	 /* the update has returned */
	bool after[2];	 /* access i began after that */
	int aret[2];
	struct mn_vcpu_exit aexit[2];
};

static bool userfault_exit(int ret, const struct mn_vcpu_exit *e, mn_gpa_t gpa)
{
	return ret == 1 && e->reason == MN_EXIT_MEMORY_FAULT && e->error == -EFAULT &&
	       e->flags == MN_MEMORY_EXIT_FLAG_USERFAULT && e->gpa == gpa;
}

static void ufv_vcpu(struct mn_sim *sim, void *arg)
{
	static const unsigned int pages[2] = { UFV_FRESH, UFV_MAPPED };
	struct builtin_run *r = arg;
	struct ufv_state *s = r->priv;
	unsigned int i;

	(void)sim;
	for (i = 0; i < 2; i++) {
		uint64_t v = 0;

		s->after[i] = s->toggled;
		s->aret[i] = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, pages[i] * PG, MN_PTE_R,
					    &v, &s->aexit[i]);
	}
}

static void ufv_vmm(struct mn_sim *sim, void *arg)
{
	struct builtin_run *r = arg;
	struct ufv_state *s = r->priv;
	struct mn_userspace_memory_region2 slot = builtin_slot0(r);

	(void)sim;
	s->bitmap |= 1ULL << UFV_MAPPED | 1ULL << UFV_FRESH;
	slot.flags = MN_MEM_USERFAULT;
	slot.userfault_bitmap = &s->bitmap;
	r->ret[1] = mn_vm_set_user_memory_region2(r->vm, &slot);
	s->toggled = true;
}

static int ufv_setup(struct builtin_run *r)
{
	struct mn_vcpu_exit exit = { 0 };
	uint64_t v = 0;

	/*
	 * Map page 2 before the race. Its result is not checked: a mutant of the fault path
	 * that cannot map it leaves a scenario that is still worth running.
	 */
	mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, UFV_MAPPED * PG, MN_PTE_R, &v, &exit);
	return spawn_two(r, ufv_vcpu, ufv_vmm);
}

static void ufv_check(struct builtin_run *r)
{
	static const unsigned int pages[2] = { UFV_FRESH, UFV_MAPPED };
	struct ufv_state *s = r->priv;
	struct mn_vcpu_exit exit;
	unsigned int i;
	uint64_t v;
	int ret;

	expect(r, !r->ret[1], "builtin.vmm_failed", "turning USERFAULT on failed");
	for (i = 0; i < 2; i++) {
		bool trapped = userfault_exit(s->aret[i], &s->aexit[i], pages[i] * PG);

		expect(r, !s->after[i] || trapped, "builtin.userfault_missed",
		       "an access that began after USERFAULT was on did not exit");
		expect(r, s->aret[i] == 0 || trapped, "builtin.guest_access",
		       "an access neither completed nor exited for userfault");
	}
	/* Quiet now: both marked pages trap, an unmarked one is still usable. */
	for (i = 0; i < 2; i++) {
		exit = (struct mn_vcpu_exit){ 0 };
		ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, pages[i] * PG, MN_PTE_R, &v,
				     &exit);
		expect(r, userfault_exit(ret, &exit, pages[i] * PG), "builtin.userfault_missed",
		       "a marked page is accessible after the update returned");
	}
	exit = (struct mn_vcpu_exit){ 0 };
	ret = mn_vcpu_access(mn_vm_get_vcpu(r->vm, 0), 0, 1 * PG, MN_PTE_R, &v, &exit);
	expect(r, ret == 0, "builtin.guest_stuck", "an unmarked page cannot be read");
}

const struct builtin_def builtin_userfault_vs_fault = {
	.info = { "userfault-toggle-vs-fault",
		  "a vCPU reads two pages while the VMM marks them in the userfault bitmap and "
		  "turns KVM_MEM_USERFAULT on: once that returns, no access to them completes",
		  "userfault.zap" },
	.state_size = sizeof(struct ufv_state),
	.setup = ufv_setup,
	.check = ufv_check,
};
