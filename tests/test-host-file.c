// SPDX-License-Identifier: MIT
/*
 * test-host-file.c - the host's files (lib/host/file.c, fd.c): the descriptor table,
 * fallocate on plain files, punching a hole seen through the notifier in two mms, the
 * i_mmap list, and the hooks of files with ops of their own (guest_memfd's, faked here
 * through the internal header), with one race under the explorer.
 */
#include "mn-test-host.h"

#include "host/file-ops.h"
#include "host/host-internal.h" /* struct mn_file, to break its list on purpose */

#define KEEP  MN_FALLOC_FL_KEEP_SIZE
#define PUNCH (MN_FALLOC_FL_PUNCH_HOLE | MN_FALLOC_FL_KEEP_SIZE)

static struct mn_file *new_file(struct world *w, uint64_t size, unsigned int order)
{
	struct mn_file *f;

	assert_int_equal(mn_file_create(w->sim, "data", size, order, &f), 0);
	return f;
}

static mn_hva_t map_file(struct world *w, struct mn_file *f, uint64_t len, unsigned int flags)
{
	mn_hva_t a;

	assert_int_equal(mn_mm_mmap(w->mm, 0, len, MN_PROT_READ | MN_PROT_WRITE, flags, f, 0, &a),
			 0);
	return a;
}

/* Record @i of @r is start (even @i) or end of a blockable CLEAR over [@start, @end). */
static void assert_clear(const struct recorder *r, unsigned int i, mn_hva_t start, mn_hva_t end)
{
	assert_true(i < r->nr);
	assert_int_equal(r->ev[i].kind, i % 2 ? 'e' : 's');
	assert_int_equal(r->ev[i].event, MN_NOTIFY_CLEAR);
	assert_true(r->ev[i].blockable);
	assert_int_equal(r->ev[i].start, start);
	assert_int_equal(r->ev[i].end, end);
}

/* ---- the descriptor table ------------------------------------------------------------- */

static void test_fd_install_takes_lowest_free_from_three(void **state)
{
	struct mn_file *f, *g;
	struct world w;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 4 * PG, 0);
	assert_int_equal(mn_mm_fd_install(w.mm, NULL), -EINVAL);
	assert_int_equal(mn_mm_fd_install(w.mm, f), 3);
	assert_int_equal(mn_mm_fd_install(w.mm, f), 4);
	assert_int_equal(mn_mm_fd_install(w.mm, f), 5);
	/* fd 4 freed: the next install reuses it, not 6. */
	assert_int_equal(mn_mm_close(w.mm, 4), 0);
	assert_null(mn_mm_fget(w.mm, 4));
	assert_int_equal(mn_mm_close(w.mm, 4), -EBADF);
	assert_int_equal(mn_mm_fd_install(w.mm, f), 4);
	assert_int_equal(mn_mm_fd_install(w.mm, f), 6);
	/* stdio and junk are not ours. */
	assert_int_equal(mn_mm_close(w.mm, -1), -EBADF);
	assert_int_equal(mn_mm_close(w.mm, 0), -EBADF);
	assert_int_equal(mn_mm_close(w.mm, 2), -EBADF);
	assert_int_equal(mn_mm_close(w.mm, 1000), -EBADF);
	assert_null(mn_mm_fget(w.mm, 1));
	assert_null(mn_mm_fget(w.mm, 7));
	assert_null(mn_mm_fget(w.mm, -5));
	/* fget: the same file, with a reference the caller drops. */
	g = mn_mm_fget(w.mm, 5);
	assert_ptr_equal(g, f);
	mn_file_put(g);
	assert_int_equal(mn_mm_fallocate(w.mm, 9, KEEP, 0, PG), -EBADF);
	mn_file_put(f); /* the descriptors keep it; mn_mm_destroy() closes them */
	assert_int_equal(mn_mm_fallocate(w.mm, 3, KEEP, 0, PG), 0);
	assert_int_equal(mn_file_nr_pages(f), 1);
	world_fini(&w);
}

static void test_fd_table_ends_at_1024(void **state)
{
	struct mn_file *f;
	struct world w;
	int fd, last = -1;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, PG, 0);
	for (fd = 3; fd < 1024; fd++) {
		last = mn_mm_fd_install(w.mm, f);
		assert_int_equal(last, fd);
	}
	assert_int_equal(last, 1023);
	assert_int_equal(mn_mm_fd_install(w.mm, f), -EMFILE);
	assert_int_equal(mn_mm_close(w.mm, 500), 0);
	assert_int_equal(mn_mm_fd_install(w.mm, f), 500);
	assert_int_equal(mn_mm_fd_install(w.mm, f), -EMFILE);
	assert_int_equal(mn_mm_close(w.mm, 1024), -EBADF);
	mn_file_put(f);
	world_fini(&w);
}

/* close(2) of a mapped file's last descriptor: the mapping keeps the file and works. */
static void test_closing_fd_of_mapped_file_keeps_mapping(void **state)
{
	struct mn_mm *child;
	struct mn_frame_ref page;
	struct mn_file *f;
	struct world w;
	mn_hva_t a;
	int fd;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 2 * PG, 0);
	fd = mn_mm_fd_install(w.mm, f);
	assert_int_equal(fd, 3);
	mn_file_put(f); /* the descriptor's reference is the only one */
	f = mn_mm_fget(w.mm, fd);
	a = map_file(&w, f, 2 * PG, MN_MAP_SHARED);
	mn_file_put(f);
	assert_int_equal(mn_mm_close(w.mm, fd), 0);
	write_word(&w, a + PG, 5);
	assert_int_equal(read_word(&w, a + PG), 5);
	assert_int_equal(mn_file_nr_pages(f), 1);
	page = ref_at(&w, a + PG);
	assert_int_equal(info(&w, page.pfn).refcount, 2); /* the mapping and the cache */

	/* fork() copies the table: the child's descriptor outlives the parent's. */
	fd = mn_mm_fd_install(w.mm, f);
	assert_int_equal(fd, 3);
	assert_int_equal(mn_mm_fork(w.mm, &child), 0);
	assert_int_equal(mn_mm_close(w.mm, fd), 0);
	assert_int_equal(mn_mm_munmap(w.mm, a, 2 * PG), 0);
	assert_true(mn_phys_ref_valid(w.phys, page)); /* the child's mapping and fd */
	assert_int_equal(mn_mm_fallocate(child, fd, PUNCH, 0, 2 * PG), 0);
	assert_false(mn_phys_ref_valid(w.phys, page));
	assert_int_equal(mn_mm_check_invariants(child), 0);
	mn_mm_destroy(child); /* closes fd 3, unmaps: the file goes */
	world_fini(&w);
}

/* ---- fallocate on plain files ------------------------------------------------------------ */

static void test_fallocate_errors_of_plain_files(void **state)
{
	struct mn_file *f, *h;
	struct world w;
	int fd, hfd;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 4 * PG, 0);
	h = new_file(&w, 4 * MiB, MN_ORDER_2M);
	fd = mn_mm_fd_install(w.mm, f);
	hfd = mn_mm_fd_install(w.mm, h);
	mn_file_put(f);
	mn_file_put(h);

	assert_int_equal(mn_mm_fallocate(w.mm, 42, KEEP, 0, PG), -EBADF);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 0, 0), -EINVAL);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, 0, 0, PG), -EOPNOTSUPP);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, MN_FALLOC_FL_PUNCH_HOLE, 0, PG), -EOPNOTSUPP);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP | 0x10, 0, PG), -EOPNOTSUPP);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, -1, 0, PG), -EOPNOTSUPP);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 100, PG), -EINVAL);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, PUNCH, 0, PG + 1), -EINVAL);
	/* Negative as a loff_t, then a sum that wraps one. */
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 1ULL << 63, PG), -EINVAL);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 0, 1ULL << 63), -EINVAL);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, (1ULL << 63) - PG, 2 * PG), -EFBIG);
	/* KEEP_SIZE allocation never extends the file here. */
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 2 * PG, 3 * PG), -EINVAL);
	/* HugeTLB: whole huge pages. */
	assert_int_equal(mn_mm_fallocate(w.mm, hfd, KEEP, PG, 2 * MiB), -EINVAL);
	assert_int_equal(mn_mm_fallocate(w.mm, hfd, PUNCH, 0, MiB), -EINVAL);
	assert_int_equal(mn_file_nr_pages(f), 0);
	assert_int_equal(mn_file_nr_pages(h), 0);

	/* What works: allocation populates, a hole past the end is nothing, a hole empties. */
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, PG, 2 * PG), 0);
	assert_int_equal(mn_file_nr_pages(f), 2);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, PUNCH, 4 * PG, 8 * PG), 0);
	assert_int_equal(mn_file_nr_pages(f), 2);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, PUNCH, 2 * PG, 100 * PG), 0);
	assert_int_equal(mn_file_nr_pages(f), 1);
	assert_int_equal(mn_mm_fallocate(w.mm, hfd, KEEP, 2 * MiB, 2 * MiB), 0);
	assert_int_equal(mn_file_nr_pages(h), 512);
	assert_int_equal(mn_mm_fallocate(w.mm, hfd, PUNCH, 0, 4 * MiB), 0);
	assert_int_equal(mn_file_nr_pages(h), 0);
	assert_int_equal(w.rec.nr, 0); /* nothing was mapped anywhere */
	world_fini(&w);
}

/* Allocated pages read zero through a mapping, with no fault allocating anything. */
static void test_fallocate_populates_zeroed_folios(void **state)
{
	struct mn_frame_ref page;
	struct mn_file *f;
	struct world w;
	mn_hva_t a;
	int fd;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 2 * PG, 0);
	fd = mn_mm_fd_install(w.mm, f);
	a = map_file(&w, f, 2 * PG, MN_MAP_SHARED);
	mn_file_put(f);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 0, 2 * PG), 0);
	assert_int_equal(mn_file_nr_pages(f), 2);
	assert_int_equal(read_word(&w, a + PG), 0);
	assert_int_equal(mn_file_nr_pages(f), 2);
	page = ref_at(&w, a + PG);
	assert_int_equal(info(&w, page.pfn).owner, MN_OWNER_FILE);
	world_fini(&w);
}

/* ---- punching a hole ---------------------------------------------------------------------- */

/*
 *  file page   0 1 2 3
 *  A (shared)  a b c d      parent and child (fork keeps the VMA, the child faults c)
 *  B (private) . b C .      b read through the cache, C a private copy (written)
 *  hole          ***        [1, 3): page 1 is pinned by GUP
 *
 * Each mm gets one CLEAR pair per VMA over exactly the part of the hole the VMA maps; the
 * private copy goes too (truncation zaps even COWs); afterwards every page of the hole
 * reads zero from a new folio, and the pinned frame lives until its reference is put.
 */
static void test_punch_hole_zaps_every_mapping_in_every_mm(void **state)
{
	struct mn_frame_ref old1, old2, cow;
	struct mn_gup_page pin;
	struct recorder crec;
	struct mn_mm *child;
	struct mn_file *f;
	struct world w;
	mn_hva_t a, b;
	unsigned int i;
	int fd;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 4 * PG, 0);
	fd = mn_mm_fd_install(w.mm, f);
	a = map_file(&w, f, 4 * PG, MN_MAP_SHARED);
	b = map_file(&w, f, 4 * PG, MN_MAP_PRIVATE);
	mn_file_put(f);
	for (i = 0; i < 4; i++)
		write_word(&w, a + i * PG, 10 + i);
	assert_int_equal(read_word(&w, b + PG), 11);
	write_word(&w, b + 2 * PG, 99);
	old1 = ref_at(&w, a + PG);
	old2 = ref_at(&w, a + 2 * PG);
	cow = ref_at(&w, b + 2 * PG);
	assert_int_equal(info(&w, cow.pfn).owner, MN_OWNER_ANON);
	assert_int_equal(mn_mm_gup(w.mm, a + PG, MN_FOLL_WRITE, &pin), 0);
	assert_int_equal(pin.ref.pfn, old1.pfn);
	assert_int_equal(mn_mm_fork(w.mm, &child), 0);
	rec_init(&crec, child);
	assert_int_equal(mn_mm_access(child, a + 2 * PG, MN_PTE_R, NULL, NULL), 0);
	assert_int_equal(file_nr_mappings(f), 4);
	assert_int_equal(mn_file_nr_pages(f), 4);
	w.rec.nr = 0;
	crec.nr = 0;

	assert_int_equal(mn_mm_fallocate(w.mm, fd, PUNCH, PG, 2 * PG), 0);

	/*
	 * Parent and child alike, one pair per VMA, in i_mmap list order: the parent's in
	 * the order it mapped them (A, B), the child's in the order fork copied them, by
	 * address (B below A).
	 */
	assert_int_equal(w.rec.nr, 4);
	assert_int_equal(crec.nr, 4);
	for (i = 0; i < 4; i++) {
		assert_clear(&w.rec, i, (i < 2 ? a : b) + PG, (i < 2 ? a : b) + 3 * PG);
		assert_clear(&crec, i, (i < 2 ? b : a) + PG, (i < 2 ? b : a) + 3 * PG);
	}
	/* Start saw the pages mapped, end saw none left. */
	assert_int_equal(w.rec.ev[0].mapped, 2);
	assert_int_equal(w.rec.ev[2].mapped, 2);
	assert_int_equal(crec.ev[0].mapped, 2); /* B: fork copied b and C */
	assert_int_equal(crec.ev[2].mapped, 1); /* A: the child faulted c only */
	for (i = 1; i < 4; i += 2) {
		assert_int_equal(w.rec.ev[i].mapped, 0);
		assert_int_equal(crec.ev[i].mapped, 0);
	}
	assert_int_equal(mn_file_nr_pages(f), 2);
	assert_false(mn_phys_ref_valid(w.phys, old2));
	assert_false(mn_phys_ref_valid(w.phys, cow));
	/* The pinned frame: out of the cache and unmapped, alive for the pin alone. */
	assert_true(mn_phys_ref_valid(w.phys, old1));
	assert_int_equal(info(&w, old1.pfn).refcount, 1);
	assert_int_equal(info(&w, old1.pfn).mapcount, 0);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(mn_mm_check_invariants(child), 0);
	assert_int_equal(mn_mm_put_page(w.mm, &pin), 1);
	assert_false(mn_phys_ref_valid(w.phys, old1));

	/* The hole reads zero, from new folios; the rest kept its data. */
	assert_int_equal(read_word(&w, a + PG), 0);
	assert_int_equal(read_word(&w, a + 2 * PG), 0);
	assert_int_equal(read_word(&w, b + 2 * PG), 0);
	assert_true(ref_at(&w, a + PG).pfn != old1.pfn || ref_at(&w, a + PG).gen != old1.gen);
	assert_int_equal(ref_at(&w, b + 2 * PG).pfn, ref_at(&w, a + 2 * PG).pfn);
	assert_int_equal(read_word(&w, a), 10);
	assert_int_equal(read_word(&w, a + 3 * PG), 13);
	assert_int_equal(mn_file_nr_pages(f), 4);
	assert_int_equal(mn_mm_access(child, a + PG, MN_PTE_R, NULL, NULL), 0);
	assert_int_equal(mn_mm_check_invariants(child), 0);
	mn_mm_destroy(child);
	assert_int_equal(file_nr_mappings(f), 2);
	world_fini(&w);
}

/* HugeTLB: a hole that cuts a huge page leaves it; the whole ones go. */
static void test_punch_hole_in_hugetlb_file_takes_whole_pages(void **state)
{
	struct mn_file *f;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 4 * MiB, MN_ORDER_2M);
	a = map_file(&w, f, 4 * MiB, MN_MAP_SHARED);
	write_word(&w, a, 1);
	write_word(&w, a + 2 * MiB, 2);
	w.rec.nr = 0;
	/* Pages [256, 1024): only the second huge page is wholly inside. */
	assert_int_equal(file_truncate_range(f, 256, 1024), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_clear(&w.rec, 0, a + 2 * MiB, a + 4 * MiB);
	assert_int_equal(mn_file_nr_pages(f), 512);
	assert_int_equal(read_word(&w, a), 1);
	assert_int_equal(read_word(&w, a + 2 * MiB), 0);
	mn_file_put(f);
	world_fini(&w);
}

/* ---- the i_mmap list ---------------------------------------------------------------------- */

/*
 *  page   0 1 2 3 4 5 6 7
 *  vma    AAAAAAAAAAAAAAA     one shared mapping of an 8-page file
 *  mprot      ***             -> A B A'  (three VMAs, each on the list)
 *  munmap       *             -> A B' . A'
 *  fork                       -> the child's three as well
 */
static void test_i_mmap_list_follows_splits_fork_exit_destroy(void **state)
{
	struct recorder crec;
	struct mn_mm *child;
	struct mn_file *f;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 8 * PG, 0);
	a = map_file(&w, f, 8 * PG, MN_MAP_SHARED);
	assert_int_equal(file_nr_mappings(f), 1);
	assert_int_equal(mn_mm_mprotect(w.mm, a + 2 * PG, 3 * PG, MN_PROT_READ), 0);
	assert_int_equal(file_nr_mappings(f), 3);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(mn_mm_munmap(w.mm, a + 4 * PG, PG), 0);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 3);
	assert_int_equal(file_nr_mappings(f), 3);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	assert_int_equal(mn_mm_fork(w.mm, &child), 0);
	rec_init(&crec, child);
	assert_int_equal(file_nr_mappings(f), 6);
	assert_int_equal(mn_mm_check_invariants(child), 0);

	/* Truncating all of it reaches each piece in each mm, never the hole at page 4. */
	w.rec.nr = 0;
	assert_int_equal(file_truncate_range(f, 0, 8), 0);
	assert_int_equal(w.rec.nr, 6);
	assert_int_equal(crec.nr, 6);
	assert_clear(&w.rec, 0, a, a + 2 * PG);
	assert_clear(&w.rec, 2, a + 2 * PG, a + 4 * PG);
	assert_clear(&w.rec, 4, a + 5 * PG, a + 8 * PG);
	assert_clear(&crec, 5, a + 5 * PG, a + 8 * PG);

	mn_mm_exit(child);
	assert_int_equal(file_nr_mappings(f), 3);
	mn_mm_destroy(child);
	assert_int_equal(file_nr_mappings(f), 3);
	assert_int_equal(mn_mm_munmap(w.mm, a, 8 * PG), 0);
	assert_int_equal(file_nr_mappings(f), 0);
	a = map_file(&w, f, 8 * PG, MN_MAP_PRIVATE);
	assert_int_equal(file_nr_mappings(f), 1);
	mn_file_put(f);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	world_fini(&w); /* destroy unlinks and frees the file with the last VMA */
}

/* The checker sees a broken list and a mapping of a page the cache no longer has. */
static void test_check_catches_stale_file_entry_and_broken_list(void **state)
{
	struct mn_file *f;
	struct world w;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_file(&w, 2 * PG, 0);
	a = map_file(&w, f, 2 * PG, MN_MAP_SHARED);
	write_word(&w, a, 1);
	assert_int_equal(mn_mm_check_invariants(w.mm), 0);
	/* A truncation that forgets to unmap (a mutation of its clear step). */
	assert_int_equal(mn_sim_skip_step(w.sim, "truncate.clear"), 0);
	assert_int_equal(mn_sim_skip_step(w.sim, "truncate_folio.clear"), 0);
	assert_int_equal(file_truncate_range(f, 0, 2), 0);
	assert_int_equal(mn_mm_check_invariants(w.mm), 1);
	assert_int_equal(nr_violations(&w, "host.file_entry_stale"), 1);
	/* A list that lost its VMA. */
	f->nr_mappings++;
	assert_int_equal(mn_mm_check_invariants(w.mm), 2);
	assert_int_equal(nr_violations(&w, "host.i_mmap"), 1);
	f->nr_mappings--;
	mn_file_put(f);
	world_destroy(&w);
}

/* ---- files with ops ------------------------------------------------------------------------ */

struct fake {
	struct mn_sim *sim;
	int mmap_ret;
	unsigned int fault_ret;
	int falloc_ret;
	unsigned int last_vm_flags;
	unsigned int nr_mmap, nr_fault, nr_release;
	char log[32]; /* 'f' free_folio, 'r' release, in order */
	unsigned int nr_log;
	struct mn_frame_ref freed[8];
	unsigned int nr_freed;
	uint64_t pages_at_release;
};

static struct fake *fake_of(struct mn_file *f)
{
	return file_private(f);
}

static int fake_mmap(struct mn_file *f, unsigned int vm_flags, unsigned int prot)
{
	struct fake *k = fake_of(f);

	(void)prot;
	k->nr_mmap++;
	k->last_vm_flags = vm_flags;
	return k->mmap_ret;
}

/* kvm_gmem_fault_user_mapping() in miniature: the cache's folio, zeroed when new. */
static unsigned int fake_fault(struct mn_file *f, uint64_t pgoff, bool write,
			       struct mn_frame_ref *page, unsigned int *order)
{
	struct fake *k = fake_of(f);
	struct file_folio *ff;

	(void)write;
	k->nr_fault++;
	if (k->fault_ret)
		return k->fault_ret;
	if (file_get_folio(f, pgoff, true, &ff))
		return MN_VM_FAULT_SIGBUS;
	if (!ff->uptodate && file_folio_zero(f, ff))
		return MN_VM_FAULT_SIGBUS;
	*page = mn_frame_ref_offset(ff->ref, pgoff - ff->index);
	*order = ff->order;
	return mn_phys_get(mn_sim_get_phys(k->sim), *page, "fake.fault") ? MN_VM_FAULT_SIGBUS : 0;
}

static int fake_fallocate(struct mn_file *f, int mode, uint64_t offset, uint64_t len)
{
	struct fake *k = fake_of(f);

	if (k->falloc_ret)
		return k->falloc_ret;
	if (mode == PUNCH)
		return file_truncate_range(f, offset / PG, (offset + len) / PG);
	return -EOPNOTSUPP;
}

static void fake_free_folio(struct mn_file *f, struct mn_frame_ref head, unsigned int order)
{
	struct fake *k = fake_of(f);

	(void)order;
	if (k->nr_log < sizeof(k->log))
		k->log[k->nr_log++] = 'f';
	if (k->nr_freed < 8)
		k->freed[k->nr_freed++] = head;
}

static void fake_release(struct mn_file *f)
{
	struct fake *k = fake_of(f);

	k->nr_release++;
	k->pages_at_release = mn_file_nr_pages(f);
	if (k->nr_log < sizeof(k->log))
		k->log[k->nr_log++] = 'r';
}

static const struct mn_file_ops fake_ops = {
	.mmap = fake_mmap,
	.fault = fake_fault,
	.fallocate = fake_fallocate,
	.free_folio = fake_free_folio,
	.release = fake_release,
};

static const struct mn_file_ops fake_ops_no_gup_fast = {
	.fault = fake_fault,
	.no_gup_fast = true,
};

static const struct mn_file_ops fake_ops_unmovable = {
	.fault = fake_fault,
	.unmovable = true,
};

static struct mn_file *new_fake(struct world *w, const struct mn_file_ops *ops, struct fake *k,
				uint64_t size)
{
	struct mn_file *f;

	memset(k, 0, sizeof(*k));
	k->sim = w->sim;
	assert_int_equal(file_create_ops(w->sim, "fake", size, 0, ops, k, MN_OWNER_GMEM, &f), 0);
	assert_ptr_equal(file_ops(f), ops);
	assert_int_equal(file_size(f), size);
	return f;
}

/* The mmap hook refuses: nothing changes, not even a MAP_FIXED range's old mapping. */
static void test_ops_mmap_refusal_changes_nothing(void **state)
{
	struct mn_file *f;
	struct fake k;
	struct world w;
	mn_hva_t a, out = 0;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_fake(&w, &fake_ops, &k, 4 * PG);
	a = map_anon(&w, 4 * PG, MN_PROT_READ | MN_PROT_WRITE);
	write_word(&w, a, 3);
	w.rec.nr = 0;
	k.mmap_ret = -ENODEV;
	assert_int_equal(mn_mm_mmap(w.mm, 0, 4 * PG, MN_PROT_READ, MN_MAP_SHARED, f, 0, &out),
			 -ENODEV);
	k.mmap_ret = -EINVAL;
	assert_int_equal(mn_mm_mmap(w.mm, a, 4 * PG, MN_PROT_READ, MN_MAP_PRIVATE | MN_MAP_FIXED, f,
				    0, &out),
			 -EINVAL);
	assert_int_equal(k.nr_mmap, 2);
	assert_int_equal(k.last_vm_flags & MN_VM_SHARED, 0);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 1);
	assert_int_equal(file_nr_mappings(f), 0);
	assert_int_equal(w.rec.nr, 0);
	assert_int_equal(out, 0);
	assert_int_equal(read_word(&w, a), 3);
	/* Generic checks come first: the hook is not asked about a bad call. */
	assert_int_equal(mn_mm_mmap(w.mm, 0, 0, MN_PROT_READ, MN_MAP_SHARED, f, 0, &out), -EINVAL);
	assert_int_equal(k.nr_mmap, 2);
	/* Accepted, shared: the hook sees VM_SHARED and the VMA is on the file's list. */
	k.mmap_ret = 0;
	assert_int_equal(mn_mm_mmap(w.mm, 0, 4 * PG, MN_PROT_READ, MN_MAP_SHARED, f, 0, &out), 0);
	assert_int_equal(k.last_vm_flags, MN_VM_SHARED);
	assert_int_equal(file_nr_mappings(f), 1);
	assert_int_equal(mn_mm_nr_vmas(w.mm), 2);
	mn_file_put(f);
	assert_int_equal(k.nr_release, 0); /* the mapping holds it */
	assert_int_equal(mn_mm_munmap(w.mm, out, 4 * PG), 0);
	assert_int_equal(k.nr_release, 1);
	world_fini(&w);
}

/* The fault hook's answer is the fault's; its page is mapped at 4 KiB. */
static void test_ops_fault_hook_answers_the_fault(void **state)
{
	struct mn_file *f;
	struct fake k;
	struct world w;
	unsigned int vf = 0;
	uint64_t v = 1;
	mn_hva_t a;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_fake(&w, &fake_ops, &k, 4 * PG);
	a = map_file(&w, f, 4 * PG, MN_MAP_SHARED);
	mn_file_put(f);
	k.fault_ret = MN_VM_FAULT_SIGBUS;
	mn_mm_mmap_read_lock(w.mm);
	assert_int_equal(mn_mm_handle_fault(w.mm, a, MN_FAULT_FLAG_WRITE), MN_VM_FAULT_SIGBUS);
	mn_mm_mmap_read_unlock(w.mm);
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_W, &v, &vf), -EFAULT);
	assert_int_equal(vf, MN_VM_FAULT_SIGBUS);
	k.fault_ret = MN_VM_FAULT_OOM;
	assert_int_equal(mn_mm_access(w.mm, a, MN_PTE_R, &v, &vf), -ENOMEM);
	assert_int_equal(vf, MN_VM_FAULT_OOM);
	assert_int_equal(k.nr_fault, 3);
	assert_int_equal(mn_file_nr_pages(f), 0);
	assert_int_equal(walk(&w, a).leaf.kind, MN_PTE_NONE);
	/* Now it serves the page: zeroed, owned as the file said, a 4 KiB entry. */
	k.fault_ret = 0;
	assert_int_equal(read_word(&w, a + PG), 0);
	write_word(&w, a + PG, 8);
	assert_int_equal(read_word(&w, a + PG), 8);
	assert_int_equal(walk(&w, a + PG).leaf.level, MN_PG_LEVEL_4K);
	assert_int_equal(info(&w, ref_at(&w, a + PG).pfn).owner, MN_OWNER_GMEM);
	assert_int_equal(mn_file_nr_pages(f), 1);
	/* Collapse leaves file VMAs alone (SCAN_VMA_CHECK). */
	assert_int_equal(mn_mm_collapse_thp(w.mm, a), -EINVAL);
	world_fini(&w);
}

/* free_folio once per folio, on truncation and on the final put; release once, first. */
static void test_ops_free_folio_and_release_order(void **state)
{
	struct mn_frame_ref p[4];
	struct mn_file *f;
	struct fake k;
	struct world w;
	unsigned int i;
	mn_hva_t a;
	int fd;

	(void)state;
	world_init(&w, MN_THP_NEVER);
	f = new_fake(&w, &fake_ops, &k, 4 * PG);
	fd = mn_mm_fd_install(w.mm, f);
	mn_file_put(f);
	f = mn_mm_fget(w.mm, fd);
	a = map_file(&w, f, 4 * PG, MN_MAP_SHARED);
	mn_file_put(f);
	for (i = 0; i < 4; i++) {
		write_word(&w, a + i * PG, i + 1);
		p[i] = ref_at(&w, a + i * PG);
	}
	/* The hook's fallocate is the call's answer, whatever the mode. */
	k.falloc_ret = -ENOSPC;
	assert_int_equal(mn_mm_fallocate(w.mm, fd, 0x40, 1, 0), -ENOSPC);
	k.falloc_ret = 0;
	w.rec.nr = 0;
	assert_int_equal(mn_mm_fallocate(w.mm, fd, PUNCH, PG, 2 * PG), 0);
	assert_int_equal(w.rec.nr, 2);
	assert_clear(&w.rec, 0, a + PG, a + 3 * PG);
	assert_int_equal(k.nr_freed, 2);
	assert_int_equal(k.freed[0].pfn, p[1].pfn);
	assert_int_equal(k.freed[1].pfn, p[2].pfn);
	assert_false(mn_phys_ref_valid(w.phys, p[1]));
	assert_string_equal(k.log, "ff");
	/* munmap and close: the last reference; release before the last two free_folios. */
	assert_int_equal(mn_mm_munmap(w.mm, a, 4 * PG), 0);
	assert_int_equal(k.nr_release, 0);
	assert_true(mn_phys_ref_valid(w.phys, p[0]));
	assert_int_equal(mn_mm_close(w.mm, fd), 0);
	assert_int_equal(k.nr_release, 1);
	assert_int_equal(k.pages_at_release, 2);
	assert_string_equal(k.log, "ffrff");
	assert_int_equal(k.nr_freed, 4);
	assert_int_equal(k.freed[2].pfn, p[0].pfn);
	assert_int_equal(k.freed[3].pfn, p[3].pfn);
	assert_false(mn_phys_ref_valid(w.phys, p[0]));
	assert_false(mn_phys_ref_valid(w.phys, p[3]));
	/* A file with hooks but no fallocate hook refuses fallocate. */
	f = new_fake(&w, &fake_ops_unmovable, &k, PG);
	fd = mn_mm_fd_install(w.mm, f);
	mn_file_put(f);
	assert_int_equal(mn_mm_fallocate(w.mm, fd, KEEP, 0, PG), -EOPNOTSUPP);
	world_fini(&w);
}

/* no_gup_fast: the lockless walk refuses the page, the slow path takes it. */
static void test_ops_no_gup_fast_falls_back_to_slow_gup(void **state)
{
	const struct mn_file_ops *ops[2] = { &fake_ops, &fake_ops_no_gup_fast };
	struct mn_gup_page pg;
	struct mn_file *f;
	struct fake k;
	struct world w;
	unsigned int i;
	mn_hva_t a;

	(void)state;
	for (i = 0; i < 2; i++) {
		world_init(&w, MN_THP_NEVER);
		f = new_fake(&w, ops[i], &k, PG);
		a = map_file(&w, f, PG, MN_MAP_SHARED);
		mn_file_put(f);
		write_word(&w, a, 4);
		assert_int_equal(mn_mm_gup_fast(w.mm, a, 0, &pg), i ? -EFAULT : 0);
		if (!i)
			assert_int_equal(mn_mm_put_page(w.mm, &pg), 0);
		assert_int_equal(mn_mm_gup(w.mm, a, MN_FOLL_WRITE, &pg), 0);
		assert_int_equal(pg.ref.pfn, ref_at(&w, a).pfn);
		assert_int_equal(stats(&w).gup_slow, i);
		assert_int_equal(stats(&w).gup_fast, i ? 0 : 2);
		assert_int_equal(mn_mm_check_invariants(w.mm), 0);
		assert_int_equal(mn_mm_put_page(w.mm, &pg), 0);
		world_fini(&w);
	}
}

/* unmovable: migration refuses before touching anything; a movable file's page moves. */
static void test_ops_unmovable_refuses_migration(void **state)
{
	const struct mn_file_ops *ops[2] = { &fake_ops_unmovable, &fake_ops_no_gup_fast };
	struct mn_frame_ref before;
	struct mn_file *f;
	struct fake k;
	struct world w;
	mn_pfn_t moved = MN_INVALID_PFN;
	unsigned int i;
	mn_hva_t a;

	(void)state;
	for (i = 0; i < 2; i++) {
		world_init(&w, MN_THP_NEVER);
		f = new_fake(&w, ops[i], &k, PG);
		a = map_file(&w, f, PG, MN_MAP_SHARED);
		mn_file_put(f);
		write_word(&w, a, 6);
		before = ref_at(&w, a);
		w.rec.nr = 0;
		assert_int_equal(mn_mm_migrate(w.mm, a, 0, &moved), i ? 0 : -EINVAL);
		if (!i) {
			assert_int_equal(w.rec.nr, 0);
			assert_int_equal(ref_at(&w, a).pfn, before.pfn);
			assert_int_equal(stats(&w).migrations, 0);
		} else {
			assert_int_equal(w.rec.nr, 2); /* one CLEAR pair */
			assert_int_not_equal(moved, before.pfn);
			assert_int_equal(ref_at(&w, a).pfn, moved);
			assert_int_equal(info(&w, moved).owner, MN_OWNER_GMEM);
		}
		assert_int_equal(read_word(&w, a), 6);
		world_fini(&w);
	}
}

/* ---- a race under the explorer --------------------------------------------------------------- */

/*
 * A hole punched in page 0 of a shared file mapping while the VMM writes to it:
 *
 *  page   0 1
 *  vma    AAA       MAP_SHARED, page 0 written (7) before the run
 *  punch  *         fallocate(PUNCH_HOLE) [0, 1)
 *  write  x         99
 *
 * The fault may find the old folio in the cache after the first unmap and map it before the
 * folio leaves the cache: the folio's second unmap must catch it. Under every schedule the
 * host ends consistent (no entry of a page the cache dropped) and the page reads 99 (the
 * write came after the hole) or 0 (it came before and was punched).
 */
struct punch_race {
	struct world w;
	mn_hva_t a;
	int fd;
	int punch_ret, write_ret;
};

static void punch_thread(struct mn_sim *sim, void *arg)
{
	struct punch_race *r = arg;

	(void)sim;
	r->punch_ret = mn_mm_fallocate(r->w.mm, r->fd, PUNCH, 0, PG);
}

static void vmm_write_thread(struct mn_sim *sim, void *arg)
{
	struct punch_race *r = arg;
	uint64_t v = 99;

	(void)sim;
	r->write_ret = mn_mm_access(r->w.mm, r->a, MN_PTE_W, &v, NULL);
}

static int punch_race_setup(struct mn_sim *sim, void *arg)
{
	struct punch_race *r = arg;
	struct mn_file *f;
	uint64_t v = 7;

	if (world_attach(&r->w, sim, MN_THP_NEVER) || mn_file_create(sim, "shm", 2 * PG, 0, &f))
		return -ENOMEM;
	r->fd = mn_mm_fd_install(r->w.mm, f);
	if (r->fd < 0 ||
	    mn_mm_mmap(r->w.mm, 0, 2 * PG, MN_PROT_READ | MN_PROT_WRITE, MN_MAP_SHARED, f, 0,
		       &r->a) ||
	    mn_mm_access(r->w.mm, r->a, MN_PTE_W, &v, NULL)) {
		mn_file_put(f);
		return -ENOMEM;
	}
	mn_file_put(f);
	mn_sim_spawn(sim, "punch", punch_thread, r, NULL);
	mn_sim_spawn(sim, "vmm", vmm_write_thread, r, NULL);
	return 0;
}

static void punch_race_check(struct mn_sim *sim, void *arg)
{
	struct punch_race *r = arg;
	unsigned int i, starts = 0, ends = 0;
	uint64_t v = 1;

	for (i = 0; i < r->w.rec.nr; i++) {
		starts += r->w.rec.ev[i].kind == 's';
		ends += r->w.rec.ev[i].kind == 'e';
	}
	if (mn_mm_check_invariants(r->w.mm))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.host", "host invariants broken");
	if (mn_mm_access(r->w.mm, r->a, MN_PTE_R, &v, NULL) || (v != 99 && v != 0))
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.data", "page 0 reads %llu",
			       (unsigned long long)v);
	if (r->punch_ret || r->write_ret || !starts || starts != ends)
		mn_sim_reportf(sim, MN_VIOL_CHECK, "test.results",
			       "punch %d, write %d, %u starts, %u ends", r->punch_ret, r->write_ret,
			       starts, ends);
	mn_mm_destroy(r->w.mm);
}

static void test_punch_hole_racing_fault_is_clean(void **state)
{
	static struct punch_race r;
	struct mn_scenario sc = { "punch-hole-vs-fault", punch_race_setup, punch_race_check, NULL,
				  &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	explore_expect(&sc, 2, 10, NULL, NULL);
}

/* Without the folio's second unmap, the schedule where the fault slips in is caught. */
static void test_punch_hole_without_second_unmap_is_caught(void **state)
{
	static struct punch_race r;
	struct mn_scenario sc = { "punch-hole-vs-fault", punch_race_setup, punch_race_check, NULL,
				  &r };

	(void)state;
	memset(&r, 0, sizeof(r));
	explore_expect(&sc, 2, 0, "truncate_folio.clear", "host.file_entry_stale");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_install_takes_lowest_free_from_three),
		cmocka_unit_test(test_fd_table_ends_at_1024),
		cmocka_unit_test(test_closing_fd_of_mapped_file_keeps_mapping),
		cmocka_unit_test(test_fallocate_errors_of_plain_files),
		cmocka_unit_test(test_fallocate_populates_zeroed_folios),
		cmocka_unit_test(test_punch_hole_zaps_every_mapping_in_every_mm),
		cmocka_unit_test(test_punch_hole_in_hugetlb_file_takes_whole_pages),
		cmocka_unit_test(test_i_mmap_list_follows_splits_fork_exit_destroy),
		cmocka_unit_test(test_check_catches_stale_file_entry_and_broken_list),
		cmocka_unit_test(test_ops_mmap_refusal_changes_nothing),
		cmocka_unit_test(test_ops_fault_hook_answers_the_fault),
		cmocka_unit_test(test_ops_free_folio_and_release_order),
		cmocka_unit_test(test_ops_no_gup_fast_falls_back_to_slow_gup),
		cmocka_unit_test(test_ops_unmovable_refuses_migration),
		cmocka_unit_test(test_punch_hole_racing_fault_is_clean),
		cmocka_unit_test(test_punch_hole_without_second_unmap_is_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
