// SPDX-License-Identifier: MIT
/*
 * test-gmem.c - guest_memfd (lib/kvm/gmem.c): the errno tables of creation, binding and
 * fallocate (PROTOCOL.md §6.2), guest faults from the file, punch hole and release with
 * their invalidations, the VM pinned by its files, host mmap and user faults (seed 002),
 * the mapping level that follows the folio and not the host (seed 003, with the
 * host-level mutant caught), NO_DIRECT_MAP (seed 004, with both mutants caught), and the
 * in-place conversion variant.
 */
#include "mn-test-host.h"
#include "kvm/kvm-internal.h"

#define RW	   (MN_PROT_READ | MN_PROT_WRITE)
#define G_MMAP	   MN_GUEST_MEMFD_FLAG_MMAP
#define G_SHARED   MN_GUEST_MEMFD_FLAG_INIT_SHARED
#define G_NODIRECT MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP
#define PUNCH	   (MN_FALLOC_FL_PUNCH_HOLE | MN_FALLOC_FL_KEEP_SIZE)

struct gw {
	struct world w;
	struct mn_vm *vm;
	int fd;
	mn_hva_t anon; /* 4 MiB of anonymous memory, 2 MiB aligned */
};

static void gw_init(struct gw *g, enum mn_vm_arch arch, enum mn_vm_type type, unsigned int variant,
		    enum mn_thp_mode thp)
{
	struct mn_vm_config cfg = { .arch = arch, .type = type, .variant = variant };

	world_init(&g->w, thp);
	g->anon = map_anon(&g->w, 4 * MiB, RW);
	assert_int_equal(mn_vm_create(g->w.mm, &cfg, &g->vm), 0);
	g->fd = -1;
}

static void gw_fini(struct gw *g)
{
	assert_int_equal(mn_check_vm_quiescent(g->vm), 0);
	mn_vm_destroy(g->vm);
	world_fini(&g->w);
}

static int gmem(struct gw *g, uint64_t size, uint64_t flags, unsigned int order)
{
	struct mn_create_guest_memfd a = { .size = size, .flags = flags, .huge_order = order };

	return mn_vm_create_guest_memfd(g->vm, &a);
}

static int bind(struct gw *g, uint32_t slot, mn_gpa_t gpa, uint64_t size, mn_hva_t hva, int fd,
		uint64_t offset)
{
	struct mn_userspace_memory_region2 r = {
		.slot = slot,
		.flags = MN_MEM_GUEST_MEMFD,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
		.guest_memfd = (uint32_t)fd,
		.guest_memfd_offset = offset,
	};

	return mn_vm_set_user_memory_region2(g->vm, &r);
}

static int guest(struct gw *g, mn_gpa_t gpa, unsigned int perm, uint64_t *val,
		 struct mn_vcpu_exit *exit)
{
	return mn_vcpu_access(mn_vm_get_vcpu(g->vm, 0), 0, gpa, perm, val, exit);
}

static struct mn_pt_walk sleaf(struct gw *g, mn_gpa_t gpa)
{
	struct mn_pt_walk w;

	memset(&w, 0, sizeof(w));
	if (mn_pt_walk(mn_vm_get_pt(g->vm, 0), gpa / PG, &w))
		w.leaf.kind = MN_PTE_NONE;
	return w;
}

static uint64_t seq(struct gw *g)
{
	struct mn_vm_invalidate_state st;

	mn_vm_get_invalidate_state(g->vm, &st);
	return st.seq;
}

static uint64_t cached_pages(struct gw *g, int fd)
{
	struct mn_file *f = mn_mm_fget(g->w.mm, fd);
	uint64_t n;

	assert_non_null(f);
	n = mn_file_nr_pages(f);
	mn_file_put(f);
	return n;
}

static mn_hva_t map_fd(struct gw *g, int fd, uint64_t len, uint64_t offset, unsigned int flags,
		       int *ret)
{
	struct mn_file *f = mn_mm_fget(g->w.mm, fd);
	mn_hva_t a = 0;

	*ret = mn_mm_mmap(g->w.mm, 0, len, RW, flags, f, offset, &a);
	mn_file_put(f);
	return a;
}

/* ---- creation --------------------------------------------------------------------------- */

static void test_gmem_create_errno_table(void **state)
{
	static const struct {
		enum mn_vm_arch arch;
		enum mn_vm_type type;
		uint64_t size, flags;
		unsigned int order;
		int ret; /* 0: a file descriptor */
	} rows[] = {
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, PG, 0, 0, 0 },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, PG, G_MMAP | G_SHARED | G_NODIRECT, 0, 0 },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, PG, 1ULL << 3, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, 0, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, PG + 1, 0, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, 2 * MiB + PG, 0, 9, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, 2 * MiB, 0, 9, 0 },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, 2 * MiB, 0, 3, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_DEFAULT, 1ULL << 63, 0, 0, -EINVAL },
		/* Private memory: no shared-by-default files (seed 002). */
		{ MN_VM_X86, MN_VM_TYPE_SW_PROTECTED, PG, G_MMAP, 0, 0 },
		{ MN_VM_X86, MN_VM_TYPE_SW_PROTECTED, PG, G_SHARED, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_SW_PROTECTED, PG, G_NODIRECT, 0, 0 },
		/* SNP and TDX: neither INIT_SHARED nor NO_DIRECT_MAP (seed 004). */
		{ MN_VM_X86, MN_VM_TYPE_SNP, PG, G_MMAP, 0, 0 },
		{ MN_VM_X86, MN_VM_TYPE_SNP, PG, G_SHARED, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_SNP, PG, G_NODIRECT, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_TDX, PG, G_NODIRECT, 0, -EINVAL },
		{ MN_VM_X86, MN_VM_TYPE_TDX, PG, G_SHARED, 0, -EINVAL },
		{ MN_VM_ARM64, MN_VM_TYPE_DEFAULT, PG, G_MMAP | G_SHARED | G_NODIRECT, 0, 0 },
		{ MN_VM_ARM64, MN_VM_TYPE_DEFAULT, PG, 1ULL << 40, 0, -EINVAL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		struct gw g;
		int fd;

		gw_init(&g, rows[i].arch, rows[i].type, 0, MN_THP_NEVER);
		fd = gmem(&g, rows[i].size, rows[i].flags, rows[i].order);
		if (rows[i].ret) {
			assert_int_equal(fd, rows[i].ret);
			/* Nothing was installed: the next file gets the first descriptor. */
			assert_int_equal(gmem(&g, PG, 0, 0), 3);
		} else {
			assert_int_equal(fd, 3);
		}
		gw_fini(&g);
	}
}

/* ---- binding ---------------------------------------------------------------------------- */

static void test_gmem_bind_errno_table(void **state)
{
	struct mn_userspace_memory_region2 r;
	struct mn_file *plain;
	struct gw g, other;
	int fd, pfd, ofd;

	(void)state;
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	fd = gmem(&g, 16 * PG, 0, 0);
	assert_int_equal(fd, 3);
	assert_int_equal(mn_file_create(g.w.sim, "shm", 16 * PG, 0, &plain), 0);
	pfd = mn_mm_fd_install(g.w.mm, plain);
	mn_file_put(plain);
	/* A guest_memfd of another VM in the same process. */
	{
		struct mn_vm_config cfg = { 0 };
		struct mn_create_guest_memfd a = { .size = 16 * PG };

		other = g;
		assert_int_equal(mn_vm_create(g.w.mm, &cfg, &other.vm), 0);
		ofd = mn_vm_create_guest_memfd(other.vm, &a);
		assert_true(ofd > pfd);
	}
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, 99, 0), -EBADF);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, pfd, 0), -EINVAL);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, ofd, 0), -EINVAL);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, fd, 100), -EINVAL); /* V6 */
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, fd, 13 * PG), -EINVAL);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, fd, ~0ULL & ~(PG - 1)), -EINVAL);
	r = (struct mn_userspace_memory_region2){ .slot = 0,
						  .flags = MN_MEM_GUEST_MEMFD |
							   MN_MEM_LOG_DIRTY_PAGES,
						  .memory_size = 4 * PG,
						  .userspace_addr = g.anon,
						  .guest_memfd = (uint32_t)fd };
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), -EINVAL);
	r.flags = MN_MEM_GUEST_MEMFD | MN_MEM_READONLY;
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), -EINVAL);
	/* Nothing bound so far: the file's whole range is free. */
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, fd, 0), 0);
	/* Overlapping file pages through another gpa: -EEXIST (newest trees). */
	assert_int_equal(bind(&g, 1, 64 * PG, 4 * PG, g.anon, fd, 2 * PG), -EEXIST);
	assert_int_equal(bind(&g, 1, 64 * PG, 4 * PG, g.anon, fd, 4 * PG), 0);
	/*
	 * guest_memfd slots are immutable: no move, no dropping the flag; only USERFAULT may
	 * change late (KVM Userfault series), and back.
	 */
	assert_int_equal(bind(&g, 0, 8 * PG, 4 * PG, g.anon, fd, 0), -EINVAL);
	r.flags = 0;
	r.guest_memfd = 0;
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), -EINVAL);
	r.flags = MN_MEM_GUEST_MEMFD | MN_MEM_USERFAULT;
	r.guest_memfd = (uint32_t)fd;
	r.userfault_bitmap = &r.memory_size;
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), 0);
	r.flags = MN_MEM_GUEST_MEMFD;
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), 0);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, fd, 0), 0); /* unchanged: no-op */
	/* Deleting unbinds: the file pages can be bound again. */
	assert_int_equal(mn_vm_set_user_memory_region2(
				 g.vm, &(struct mn_userspace_memory_region2){ .slot = 0 }),
			 0);
	assert_int_equal(bind(&g, 2, 128 * PG, 4 * PG, g.anon, fd, 0), 0);
	mn_vm_destroy(other.vm);
	gw_fini(&g);
}

static void test_gmem_readonly_slots_refused_on_protected_vms(void **state)
{
	struct mn_userspace_memory_region2 r;
	struct gw g;

	(void)state;
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_SNP, 0, MN_THP_NEVER);
	r = (struct mn_userspace_memory_region2){ .slot = 0,
						  .flags = MN_MEM_READONLY,
						  .memory_size = 4 * PG,
						  .userspace_addr = g.anon };
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), -EINVAL);
	r.flags = 0;
	assert_int_equal(mn_vm_set_user_memory_region2(g.vm, &r), 0);
	gw_fini(&g);
}

/* ---- guest faults, punch hole, release --------------------------------------------------- */

static void test_gmem_guest_fault_takes_the_file_page(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct gw g;
		uint64_t v = 0x77;
		mn_hva_t gmap;
		int r;

		gw_init(&g, arch, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
		g.fd = gmem(&g, 16 * PG, G_MMAP | G_SHARED, 0);
		/* userspace_addr is anonymous memory: the fault must not look at it. */
		write_word(&g.w, g.anon + PG, 0x1111);
		assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, g.fd, 0), 0);
		assert_int_equal(guest(&g, PG, MN_PTE_W, &v, NULL), 0);
		assert_int_equal(sleaf(&g, PG).leaf.kind, MN_PTE_LEAF);
		assert_int_equal(info(&g.w, sleaf(&g, PG).pfn).owner, MN_OWNER_GMEM);
		assert_int_equal(read_word(&g.w, g.anon + PG), 0x1111);
		assert_int_equal(cached_pages(&g, g.fd), 1);
		/* The VMM's mapping of the file sees the guest's write. */
		gmap = map_fd(&g, g.fd, 16 * PG, 0, MN_MAP_SHARED, &r);
		assert_int_equal(r, 0);
		assert_int_equal(read_word(&g.w, gmap + PG), 0x77);
		assert_int_equal(mn_check_vm(g.vm), 0);
		gw_fini(&g);
	}
}

/*
 * Punch a hole under a mapped page. The slot's userspace_addr is anonymous memory, so only
 * guest_memfd's own invalidation covers the slot (a userspace_addr mapping the file would
 * have the truncation's mm notification zap it again). With @skip, that zap is skipped and
 * the oracle must see the leaf outlive its page.
 */
static void punch_hole_run(enum mn_vm_arch arch, const char *skip)
{
	struct gw g;
	struct mn_frame_ref old;
	uint64_t v = 0x55, s0;
	mn_hva_t gmap;
	int r;

	gw_init(&g, arch, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	if (skip)
		assert_int_equal(mn_sim_skip_step(g.w.sim, skip), 0);
	g.fd = gmem(&g, 16 * PG, G_MMAP | G_SHARED, 0);
	gmap = map_fd(&g, g.fd, 16 * PG, 0, MN_MAP_SHARED, &r);
	assert_int_equal(r, 0);
	assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, g.fd, 0), 0);
	assert_int_equal(guest(&g, 2 * PG, MN_PTE_W, &v, NULL), 0);
	assert_int_equal(guest(&g, 3 * PG, MN_PTE_W, &v, NULL), 0);
	old = (struct mn_frame_ref){ sleaf(&g, 2 * PG).pfn, sleaf(&g, 2 * PG).gen };
	assert_int_equal(read_word(&g.w, gmap + 2 * PG), 0x55);
	s0 = seq(&g);
	g.w.rec.nr = 0;
	assert_int_equal(mn_mm_fallocate(g.w.mm, g.fd, PUNCH, 2 * PG, PG), 0);
	assert_false(mn_phys_ref_valid(g.w.phys, old));
	if (skip) {
		/* The leaf outlived its folio: the oracle says so. */
		assert_int_equal(sleaf(&g, 2 * PG).leaf.kind, MN_PTE_LEAF);
		assert_true(mn_check_vm(g.vm) > 0);
		mn_vm_destroy(g.vm);
		world_destroy(&g.w);
		return;
	}
	/* Zapped in the secondary MMU, the host mapping unmapped (one CLEAR pair). */
	assert_int_equal(sleaf(&g, 2 * PG).leaf.kind, MN_PTE_NONE);
	assert_int_equal(sleaf(&g, 3 * PG).leaf.kind, MN_PTE_LEAF);
	assert_int_equal(walk(&g.w, gmap + 2 * PG).leaf.kind, MN_PTE_NONE);
	assert_int_equal(rec_count(&g.w.rec, 's'), 1);
	/* Only guest_memfd's own end: the hva of the file mapping is in no slot. */
	assert_int_equal(seq(&g), s0 + 1);
	assert_int_equal(cached_pages(&g, g.fd), 1);
	/* A new, zeroed page on the next access. */
	v = 1;
	assert_int_equal(guest(&g, 2 * PG, MN_PTE_R, &v, NULL), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mn_check_vm(g.vm), 0);
	gw_fini(&g);
}

static void test_gmem_punch_hole_invalidates_before_free(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		punch_hole_run(arch, NULL);
		punch_hole_run(arch, "gmem.invalidate.zap");
	}
}

static void test_gmem_punch_hole_under_the_file_mapping_zaps_twice(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		struct gw g;
		uint64_t v = 0x55, s0;
		mn_hva_t gmap;
		int r;

		gw_init(&g, arch, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
		g.fd = gmem(&g, 16 * PG, G_MMAP | G_SHARED, 0);
		gmap = map_fd(&g, g.fd, 16 * PG, 0, MN_MAP_SHARED, &r);
		assert_int_equal(r, 0);
		assert_int_equal(bind(&g, 0, 0, 16 * PG, gmap, g.fd, 0), 0);
		assert_int_equal(guest(&g, 2 * PG, MN_PTE_W, &v, NULL), 0);
		s0 = seq(&g);
		assert_int_equal(mn_mm_fallocate(g.w.mm, g.fd, PUNCH, 2 * PG, PG), 0);
		assert_int_equal(sleaf(&g, 2 * PG).leaf.kind, MN_PTE_NONE);
		/* guest_memfd's own end and the nested hva walker's (PROTOCOL.md §3.10.4). */
		assert_int_equal(seq(&g), s0 + 2);
		assert_int_equal(mn_check_vm(g.vm), 0);
		gw_fini(&g);
	}
}

static void test_gmem_fallocate_errno_table(void **state)
{
	static const struct {
		int mode;
		uint64_t offset, len;
		int ret;
	} rows[] = {
		{ MN_FALLOC_FL_KEEP_SIZE, 0, 0, -EINVAL },
		{ 0, 0, PG, -EOPNOTSUPP },
		{ MN_FALLOC_FL_PUNCH_HOLE, 0, PG, -EOPNOTSUPP },
		{ PUNCH | 0x10, 0, PG, -EOPNOTSUPP },
		{ MN_FALLOC_FL_KEEP_SIZE, 100, PG, -EINVAL },
		{ PUNCH, 0, 100, -EINVAL },
		{ MN_FALLOC_FL_KEEP_SIZE, 8 * PG, 16 * PG, -EINVAL },
		{ MN_FALLOC_FL_KEEP_SIZE, INT64_MAX & ~(PG - 1), 2 * PG, -EFBIG },
		{ MN_FALLOC_FL_KEEP_SIZE, 1ULL << 63, PG, -EINVAL },  /* offset < 0 */
		{ MN_FALLOC_FL_KEEP_SIZE, 0, 1ULL << 63, -EINVAL },   /* len < 0 */
		{ 0x10, 1ULL << 63, PG, -EINVAL },		      /* before the mode */
		{ MN_FALLOC_FL_KEEP_SIZE, 2 * PG, 4 * PG, 0 },
		{ PUNCH, 3 * PG, 64 * PG, 0 }, /* beyond the end: nothing there */
	};
	struct gw g;
	size_t i;

	(void)state;
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	g.fd = gmem(&g, 16 * PG, 0, 0);
	assert_int_equal(mn_mm_fallocate(g.w.mm, 42, MN_FALLOC_FL_KEEP_SIZE, 0, PG), -EBADF);
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		uint64_t before = cached_pages(&g, g.fd);

		assert_int_equal(mn_mm_fallocate(g.w.mm, g.fd, rows[i].mode, rows[i].offset,
						 rows[i].len),
				 rows[i].ret);
		if (rows[i].ret)
			assert_int_equal(cached_pages(&g, g.fd), before);
	}
	/* Allocated 2..5, punched 3..: pages 2 is left. */
	assert_int_equal(cached_pages(&g, g.fd), 1);
	gw_fini(&g);
}

static void test_gmem_release_zaps_and_pins_the_vm(void **state)
{
	struct mn_phys_stats before, after;
	struct mn_vcpu_exit exit;
	struct gw g;
	uint64_t v = 9, s0;

	(void)state;
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	g.fd = gmem(&g, 16 * PG, G_MMAP, 0); /* guest_memfd-only: every fault uses the file */
	assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, g.fd, 0), 0);
	assert_int_equal(guest(&g, 0, MN_PTE_W, &v, NULL), 0);
	assert_int_equal(info(&g.w, sleaf(&g, 0).pfn).owner, MN_OWNER_GMEM);
	s0 = seq(&g);
	/* The last reference: release nulls the binding and zaps inside a begin/end. */
	assert_int_equal(mn_mm_close(g.w.mm, g.fd), 0);
	assert_int_equal(mn_mm_close(g.w.mm, g.fd), -EBADF);
	assert_int_equal(seq(&g), s0 + 1);
	assert_int_equal(sleaf(&g, 0).leaf.kind, MN_PTE_NONE);
	/* The slot stays, unusable: faults fail with -EFAULT. */
	assert_int_equal(guest(&g, 0, MN_PTE_R, &v, &exit), 1);
	assert_int_equal(exit.reason, MN_EXIT_MEMORY_FAULT);
	assert_int_equal(exit.error, -EFAULT);
	assert_int_equal(mn_check_vm(g.vm), 0);
	/* Deleting it later finds no file. */
	assert_int_equal(mn_vm_set_user_memory_region2(
				 g.vm, &(struct mn_userspace_memory_region2){ .slot = 0 }),
			 0);

	/* A file still open keeps its VM alive after the VMM drops the VM. */
	g.fd = gmem(&g, 16 * PG, G_MMAP, 0);
	assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, g.fd, 0), 0);
	assert_int_equal(guest(&g, 0, MN_PTE_W, &v, NULL), 0);
	mn_vm_destroy(g.vm);
	mn_phys_get_stats(g.w.phys, &before);
	assert_int_equal(mn_mm_close(g.w.mm, g.fd), 0);
	mn_phys_get_stats(g.w.phys, &after);
	/* Closing freed the guest page and the VM's page tables. */
	assert_true(after.nr_folios + 2 <= before.nr_folios);
	world_fini(&g.w);
}

/* ---- seed 002: host faults on the mapping -------------------------------------------------- */

static void test_gmem_host_faults_need_shared_memory(void **state)
{
	struct gw g;
	mn_hva_t a;
	uint64_t v = 0;
	int r, fd_private, fd_nommap;

	(void)state;
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	g.fd = gmem(&g, 4 * PG, G_MMAP | G_SHARED, 0);
	fd_private = gmem(&g, 4 * PG, G_MMAP, 0);
	fd_nommap = gmem(&g, 4 * PG, G_SHARED, 0);
	/* mmap: the flag is needed, and only shared mappings. */
	map_fd(&g, fd_nommap, 4 * PG, 0, MN_MAP_SHARED, &r);
	assert_int_equal(r, -ENODEV);
	map_fd(&g, g.fd, 4 * PG, 0, MN_MAP_PRIVATE, &r);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(mn_mm_nr_vmas(g.w.mm), 1); /* only the anonymous memory */
	/* Shared by default: the VMM reads and writes. */
	a = map_fd(&g, g.fd, 8 * PG, 0, MN_MAP_SHARED, &r);
	assert_int_equal(r, 0);
	write_word(&g.w, a, 5);
	assert_int_equal(read_word(&g.w, a), 5);
	/* Beyond the file: SIGBUS. */
	assert_int_equal(mn_mm_handle_fault(g.w.mm, a + 4 * PG, 0), MN_VM_FAULT_SIGBUS);
	/* Private (no INIT_SHARED): every host fault is SIGBUS... */
	a = map_fd(&g, fd_private, 4 * PG, 0, MN_MAP_SHARED, &r);
	assert_int_equal(r, 0);
	assert_int_equal(mn_mm_handle_fault(g.w.mm, a, 0), MN_VM_FAULT_SIGBUS);
	assert_int_equal(mn_mm_access(g.w.mm, a, MN_PTE_R, &v, NULL), -EFAULT);
	/* ...while the guest, for which KVM is the primary MMU, faults it in. */
	assert_int_equal(bind(&g, 0, 0, 4 * PG, a, fd_private, 0), 0);
	assert_int_equal(guest(&g, 0, MN_PTE_W, &v, NULL), 0);
	assert_int_equal(mn_mm_handle_fault(g.w.mm, a, 0), MN_VM_FAULT_SIGBUS);
	gw_fini(&g);
}

static void test_gmem_inplace_conversion(void **state)
{
	struct mn_memory_attributes to_private = { 0, PG, MN_MEMORY_ATTRIBUTE_PRIVATE, 0 };
	struct mn_memory_attributes to_shared = { 0, PG, 0, 0 };
	struct mn_gup_page pin;
	struct gw g;
	mn_hva_t a;
	uint64_t v = 3;
	int r, fd;

	(void)state;
	/* Off upstream. */
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	fd = gmem(&g, 4 * PG, G_MMAP | G_SHARED, 0);
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, fd, &to_private), -EINVAL);
	gw_fini(&g);

	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, MN_VARIANT_GMEM_INPLACE_CONVERSION,
		MN_THP_NEVER);
	fd = gmem(&g, 4 * PG, G_MMAP, 0);
	a = map_fd(&g, fd, 4 * PG, 0, MN_MAP_SHARED, &r);
	assert_int_equal(r, 0);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, a, fd, 0), 0);
	/* Bad requests. */
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, 77, &to_shared), -EBADF);
	to_shared.flags = 1;
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, fd, &to_shared), -EINVAL);
	to_shared.flags = 0;
	to_shared.size = 8 * PG;
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, fd, &to_shared), -EINVAL);
	to_shared.size = PG;
	/* Private at creation: SIGBUS until converted to shared. */
	assert_int_equal(mn_mm_handle_fault(g.w.mm, a, 0), MN_VM_FAULT_SIGBUS);
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, fd, &to_shared), 0);
	write_word(&g.w, a, 0x42);
	assert_int_equal(guest(&g, 0, MN_PTE_R, &v, NULL), 0);
	assert_int_equal(v, 0x42);
	/* A pinned page cannot become private: -EAGAIN, the mappings torn down anyway. */
	assert_int_equal(mn_mm_gup(g.w.mm, a, 0, &pin), 0);
	g.w.rec.nr = 0;
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, fd, &to_private), -EAGAIN);
	assert_int_equal(rec_count(&g.w.rec, 's'), 1);
	assert_int_equal(walk(&g.w, a).leaf.kind, MN_PTE_NONE);
	assert_int_equal(read_word(&g.w, a), 0x42); /* still shared */
	assert_int_equal(mn_mm_put_page(g.w.mm, &pin), 0);
	/* Unpinned: private, the guest mapping zapped, the host faults SIGBUS again. */
	assert_int_equal(mn_gmem_set_memory_attributes(g.w.mm, fd, &to_private), 0);
	assert_int_equal(sleaf(&g, 0).leaf.kind, MN_PTE_NONE);
	assert_int_equal(mn_mm_handle_fault(g.w.mm, a, 0), MN_VM_FAULT_SIGBUS);
	assert_int_equal(guest(&g, 0, MN_PTE_R, &v, NULL), 0);
	assert_int_equal(v, 0x42); /* conversion keeps the contents here (no content modes) */
	gw_fini(&g);
}

/* ---- seed 003: the level comes from the folio --------------------------------------------- */

/*
 * gfn 0..511 of a 2 MiB slot. @order: the file's folio order. @host_huge: userspace_addr is
 * a populated THP (the host maps 2 MiB there), else the host maps 4 KiB pages.
 */
static unsigned int gmem_level(enum mn_vm_arch arch, unsigned int variant, unsigned int order,
			       bool host_huge, bool *oracle_ok, size_t *level_reports)
{
	struct gw g;
	uint64_t v = 1;
	unsigned int level;
	int r;

	gw_init(&g, arch, MN_VM_TYPE_DEFAULT, variant, host_huge ? MN_THP_ALWAYS : MN_THP_NEVER);
	g.fd = gmem(&g, 2 * MiB, G_MMAP | G_SHARED, order);
	write_word(&g.w, g.anon + 5 * PG, 1);
	assert_int_equal(mn_mm_host_mapping_level(g.w.mm, g.anon + 5 * PG),
			 host_huge ? MN_PG_LEVEL_2M : MN_PG_LEVEL_4K);
	assert_int_equal(bind(&g, 0, 0, 2 * MiB, g.anon, g.fd, 0), 0);
	r = guest(&g, 5 * PG, MN_PTE_W, &v, NULL);
	/* The mutant's 2 MiB leaf over free frames: the access itself may trip the oracle. */
	assert_true(r == 0 || (variant && r == -ESTALE));
	level = sleaf(&g, 5 * PG).leaf.level;
	*oracle_ok = mn_check_vm(g.vm) == 0;
	*level_reports = nr_violations(&g.w, "kvm.level_exceeds_gmem_folio");
	mn_vm_destroy(g.vm);
	world_destroy(&g.w);
	return level;
}

static void test_gmem_level_follows_the_folio(void **state)
{
	enum mn_vm_arch arch;
	size_t reports;
	bool ok;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		/* A 2 MiB folio behind 4 KiB host pages: a 2 MiB secondary leaf. */
		assert_int_equal(gmem_level(arch, 0, 9, false, &ok, &reports), MN_PG_LEVEL_2M);
		assert_true(ok);
		/* 4 KiB folios behind a 2 MiB host THP: 4 KiB leaves. */
		assert_int_equal(gmem_level(arch, 0, 0, true, &ok, &reports), MN_PG_LEVEL_4K);
		assert_true(ok);
		/* The mutant takes the host's level: too small in the first case... */
		assert_int_equal(gmem_level(arch, MN_VARIANT_GMEM_HOST_LEVEL, 9, false, &ok,
					    &reports),
				 MN_PG_LEVEL_4K);
		/* ...and a 2 MiB leaf over 4 KiB folios in the second: the oracle catches it. */
		assert_int_equal(gmem_level(arch, MN_VARIANT_GMEM_HOST_LEVEL, 0, true, &ok,
					    &reports),
				 MN_PG_LEVEL_2M);
		assert_false(ok);
		assert_true(reports > 0);
	}
}

/* ---- seed 004: NO_DIRECT_MAP ------------------------------------------------------------ */

/* Fault one page of a NO_DIRECT_MAP file in, punch it, with mutation @skip (or none). */
static void no_direct_map_run(enum mn_vm_arch arch, const char *skip, const char *expect)
{
	struct mn_frame_info fi;
	struct mn_pt_walk w;
	struct gw g;
	uint64_t v = 0;

	gw_init(&g, arch, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	if (skip)
		assert_int_equal(mn_sim_skip_step(g.w.sim, skip), 0);
	g.fd = gmem(&g, 4 * PG, G_MMAP | G_SHARED | G_NODIRECT, 0);
	assert_int_equal(bind(&g, 0, 0, 4 * PG, g.anon, g.fd, 0), 0);
	assert_int_equal(guest(&g, PG, MN_PTE_R, &v, NULL), 0);
	assert_int_equal(v, 0); /* zeroed */
	w = sleaf(&g, PG);
	fi = info(&g.w, w.pfn);
	assert_int_equal(fi.owner, MN_OWNER_GMEM);
	assert_false(fi.flags & MN_FRAME_DIRECT_MAP);
	assert_int_equal(mn_mm_fallocate(g.w.mm, g.fd, PUNCH, 0, 4 * PG), 0);
	assert_false(mn_phys_ref_valid(g.w.phys, (struct mn_frame_ref){ w.pfn, w.gen }));
	if (!expect) {
		assert_true(fi.flags & MN_FRAME_KMAP_TLB); /* the zeroing's mapping, then */
		gw_fini(&g);
		return;
	}
	assert_true(nr_violations(&g.w, expect) > 0);
	mn_vm_destroy(g.vm);
	world_destroy(&g.w);
}

static void test_gmem_no_direct_map(void **state)
{
	enum mn_vm_arch arch;

	(void)state;
	for (arch = MN_VM_X86; arch <= MN_VM_ARM64; arch++) {
		no_direct_map_run(arch, NULL, NULL);
		no_direct_map_run(arch, "gmem.free_folio.kmap_flush", "frame.kmap_tlb_stale_at_free");
		no_direct_map_run(arch, "gmem.zero.mermap", "frame.direct_map_access");
		no_direct_map_run(arch, "gmem.free_folio.restore_direct_map",
				  "frame.freed_without_direct_map");
	}
}

static void test_gmem_no_direct_map_refuses_gup_fast(void **state)
{
	struct mn_gup_page p;
	struct gw g;
	mn_hva_t a;
	int r;

	(void)state;
	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	g.fd = gmem(&g, 4 * PG, G_MMAP | G_SHARED | G_NODIRECT, 0);
	a = map_fd(&g, g.fd, 4 * PG, 0, MN_MAP_SHARED, &r);
	assert_int_equal(r, 0);
	write_word(&g.w, a, 1);
	assert_int_not_equal(mn_mm_gup_fast(g.w.mm, a, 0, &p), 0);
	assert_int_equal(mn_mm_gup(g.w.mm, a, 0, &p), 0);
	assert_int_equal(mn_mm_put_page(g.w.mm, &p), 0);
	/* guest_memfd folios never migrate. */
	assert_int_equal(mn_mm_migrate(g.w.mm, a, 0, NULL), -EINVAL);
	gw_fini(&g);
}

/* arm64 has no private memory: a guest_memfd slot must be guest_memfd-only. */
static void test_gmem_arm64_needs_gmem_only_slots(void **state)
{
	struct gw g;
	int fd;

	(void)state;
	gw_init(&g, MN_VM_ARM64, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	fd = gmem(&g, 16 * PG, G_SHARED, 0);
	assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, fd, 0), -EINVAL);
	/* Rejected after the bind: the binding was undone, the pages can be bound again. */
	assert_int_equal(mn_mm_close(g.w.mm, fd), 0);
	fd = gmem(&g, 16 * PG, G_MMAP, 0);
	assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, fd, 0), 0);
	gw_fini(&g);

	gw_init(&g, MN_VM_X86, MN_VM_TYPE_DEFAULT, 0, MN_THP_NEVER);
	fd = gmem(&g, 16 * PG, G_SHARED, 0);
	assert_int_equal(bind(&g, 0, 0, 16 * PG, g.anon, fd, 0), 0);
	gw_fini(&g);
}

/*
 * The VMM closes the last descriptor of a guest_memfd while another thread creates,
 * deletes or re-flags a slot bound to it, or a vCPU faults from it. The final put runs as
 * task work on the way back to userspace, never under slots_lock: explored clean (no lock
 * report, no stale mapping) at bound 2.
 */
struct close_race {
	struct world w;
	struct mn_vm *vm;
	int fd, op;
	int ret[2];
	uint64_t val;
};

static void cr_update(struct mn_sim *sim, void *arg)
{
	struct close_race *c = arg;
	struct mn_userspace_memory_region2 r = {
		.slot = 0,
		.flags = MN_MEM_GUEST_MEMFD,
		.memory_size = 4 * PG,
		.userspace_addr = 0x100000,
		.guest_memfd = (uint32_t)c->fd,
	};

	(void)sim;
	if (c->op == 0)
		c->ret[0] = mn_vm_set_user_memory_region2(c->vm, &r);
	else if (c->op == 1)
		c->ret[0] = mn_vm_set_user_memory_region2(
			c->vm, &(struct mn_userspace_memory_region2){ .slot = 0 });
	else
		c->ret[0] = mn_vcpu_access(mn_vm_get_vcpu(c->vm, 0), 0, PG, MN_PTE_R, &c->val,
					   NULL);
}

static void cr_close(struct mn_sim *sim, void *arg)
{
	struct close_race *c = arg;

	(void)sim;
	c->ret[1] = mn_mm_close(c->w.mm, c->fd);
}

static int cr_setup(struct mn_sim *sim, void *arg)
{
	struct close_race *c = arg;
	struct mn_create_guest_memfd a = { .size = 4 * PG, .flags = G_MMAP | G_SHARED };
	struct mn_userspace_memory_region2 r = {
		.slot = 0,
		.flags = MN_MEM_GUEST_MEMFD,
		.memory_size = 4 * PG,
		.userspace_addr = 0x100000,
	};
	int op = c->op;

	memset(c, 0, sizeof(*c));
	c->op = op;
	c->w.sim = sim;
	c->w.phys = mn_sim_get_phys(sim);
	if (mn_mm_create(sim, &(struct mn_mm_config){ .thp = MN_THP_NEVER }, &c->w.mm) ||
	    mn_vm_create(c->w.mm, NULL, &c->vm))
		return -ENOMEM;
	c->fd = mn_vm_create_guest_memfd(c->vm, &a);
	r.guest_memfd = (uint32_t)c->fd;
	if (c->fd < 0 || (c->op && mn_vm_set_user_memory_region2(c->vm, &r)))
		return -EIO;
	mn_check_enable(c->vm);
	mn_sim_spawn(sim, "kvm", cr_update, c, NULL);
	mn_sim_spawn(sim, "vmm", cr_close, c, NULL);
	return 0;
}

static void cr_check(struct mn_sim *sim, void *arg)
{
	struct close_race *c = arg;

	/*
	 * Create: done, or the fd was already gone. Delete: always fine. Fault: the zeroed
	 * page, or a memory-fault exit once the file is released.
	 */
	if (c->ret[1] ||
	    (c->ret[0] && !(c->op == 0 && c->ret[0] == -EBADF) && !(c->op == 2 && c->ret[0] == 1)) ||
	    (c->op == 2 && c->ret[0] == 0 && c->val))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.close_race", "op %d: %d, close %d",
			       c->op, c->ret[0], c->ret[1]);
	mn_check_vm_quiescent(c->vm);
	mn_vm_destroy(c->vm);
	mn_mm_destroy(c->w.mm);
}

static void test_gmem_close_racing_slot_updates(void **state)
{
	static struct close_race c;
	static const char *const names[] = { "close vs create", "close vs delete",
					      "close vs fault" };
	struct mn_scenario sc = { NULL, cr_setup, cr_check, NULL, &c };

	(void)state;
	for (c.op = 0; c.op < 3; c.op++) {
		sc.name = names[c.op];
		explore_expect(&sc, 2, 2, NULL, NULL);
	}
}

/*
 * In-place conversion to private racing a VMM fault on the page: whatever the order, a
 * page that ends private is not mapped in the VMM (the fault takes invalidate_lock shared,
 * the conversion holds it for writing from the unmap to the flip).
 */
struct conv_race {
	struct world w;
	struct mn_vm *vm;
	int fd;
	mn_hva_t a;
	uint64_t val;
	int ret[2];
};

static void conv_host(struct mn_sim *sim, void *arg)
{
	struct conv_race *c = arg;

	(void)sim;
	c->ret[0] = mn_mm_access(c->w.mm, c->a, MN_PTE_R, &c->val, NULL);
}

static void conv_kvm(struct mn_sim *sim, void *arg)
{
	struct conv_race *c = arg;
	struct mn_memory_attributes p = { 0, PG, MN_MEMORY_ATTRIBUTE_PRIVATE, 0 };

	(void)sim;
	c->ret[1] = mn_gmem_set_memory_attributes(c->w.mm, c->fd, &p);
}

static int conv_setup(struct mn_sim *sim, void *arg)
{
	struct conv_race *c = arg;
	struct mn_vm_config cfg = { .variant = MN_VARIANT_GMEM_INPLACE_CONVERSION };
	struct mn_create_guest_memfd g = { .size = 4 * PG, .flags = G_MMAP | G_SHARED };
	struct mn_file *f;

	memset(c, 0, sizeof(*c));
	c->w.sim = sim;
	c->w.phys = mn_sim_get_phys(sim);
	if (mn_mm_create(sim, &(struct mn_mm_config){ .thp = MN_THP_NEVER }, &c->w.mm) ||
	    mn_vm_create(c->w.mm, &cfg, &c->vm))
		return -ENOMEM;
	c->fd = mn_vm_create_guest_memfd(c->vm, &g);
	f = mn_mm_fget(c->w.mm, c->fd);
	if (!f || mn_mm_mmap(c->w.mm, 0, 4 * PG, RW, MN_MAP_SHARED, f, 0, &c->a)) {
		mn_file_put(f);
		return -EIO;
	}
	mn_file_put(f);
	mn_check_enable(c->vm);
	mn_sim_spawn(sim, "vmm", conv_host, c, NULL);
	mn_sim_spawn(sim, "kvm", conv_kvm, c, NULL);
	return 0;
}

static void conv_check(struct mn_sim *sim, void *arg)
{
	struct conv_race *c = arg;
	struct mn_pt_walk w;
	bool mapped = !mn_pt_walk(mn_mm_get_pt(c->w.mm), c->a / PG, &w);

	/*
	 * Converted: the VMM's read came first or failed, and nothing maps the page. Or
	 * -EAGAIN: the fault held its page reference when the conversion counted them; the
	 * page stays shared (and may be mapped).
	 */
	if ((c->ret[1] && c->ret[1] != -EAGAIN) || (c->ret[0] && c->ret[0] != -EFAULT) ||
	    (!c->ret[0] && c->val) || (!c->ret[1] && mapped))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.private_page_host_mapped",
			       "host read %d, conversion %d, host mapping %s", c->ret[0],
			       c->ret[1], mapped ? "present" : "absent");
	mn_check_vm_quiescent(c->vm);
	mn_vm_destroy(c->vm);
	mn_mm_destroy(c->w.mm);
}

static void test_gmem_inplace_conversion_races_host_fault(void **state)
{
	static struct conv_race c;
	struct mn_scenario sc = { "convert to private vs host fault", conv_setup, conv_check,
				  NULL, &c };

	(void)state;
	explore_expect(&sc, 2, 10, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gmem_create_errno_table),
		cmocka_unit_test(test_gmem_bind_errno_table),
		cmocka_unit_test(test_gmem_readonly_slots_refused_on_protected_vms),
		cmocka_unit_test(test_gmem_guest_fault_takes_the_file_page),
		cmocka_unit_test(test_gmem_punch_hole_invalidates_before_free),
		cmocka_unit_test(test_gmem_punch_hole_under_the_file_mapping_zaps_twice),
		cmocka_unit_test(test_gmem_arm64_needs_gmem_only_slots),
		cmocka_unit_test(test_gmem_close_racing_slot_updates),
		cmocka_unit_test(test_gmem_fallocate_errno_table),
		cmocka_unit_test(test_gmem_release_zaps_and_pins_the_vm),
		cmocka_unit_test(test_gmem_host_faults_need_shared_memory),
		cmocka_unit_test(test_gmem_inplace_conversion),
		cmocka_unit_test(test_gmem_inplace_conversion_races_host_fault),
		cmocka_unit_test(test_gmem_level_follows_the_folio),
		cmocka_unit_test(test_gmem_no_direct_map),
		cmocka_unit_test(test_gmem_no_direct_map_refuses_gup_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
