/* SPDX-License-Identifier: MIT */
/*
 * host.h - the host's primary MMU: the VMM's address space (mm/mmap.c, mm/vma.c), its page
 * table in the x86-64 format, faults (mm/memory.c, mm/huge_memory.c, mm/hugetlb.c), GUP
 * (mm/gup.c) and the operations that send mmu_notifier invalidations.
 */
#ifndef MNSIM_HOST_H
#define MNSIM_HOST_H

#include <mnsim/notifier.h>
#include <mnsim/phys.h>
#include <mnsim/pt.h>
#include <mnsim/sim.h>
#include <mnsim/types.h>

/**
 * DOC: host.h
 *
 * A &struct mn_mm is the address space of the VMM process: VMAs in an interval tree, a host
 * page table (&struct mn_pt in the host x86-64 format, so it dumps bit-exactly), the mmap
 * lock (a sleeping rwlock), the page-table lock (one spinlock per mm, the kernel's
 * mm->page_table_lock without split locks), a host TLB, and mmu_notifier subscriptions.
 * Frames come from the world's physical memory and are counted like struct page: every
 * present host entry holds one mapcount and one reference on its folio, the page cache one
 * reference per folio, and GUP one reference per page it returns.
 *
 * Operations are ordinary functions written in the kernel's step order, with a yield point
 * at every lock operation and a named step (``munmap.invalidate_start``,
 * ``munmap.tlb_flush`` ...) at every step the protocol depends on, so the explorer can
 * interleave them with KVM and mutations can skip them. Each notifying operation follows
 * the sequence start -> change host entries -> flush the host TLB -> free frames -> end:
 * frames are freed after start returned and before end is called, as the kernel may do when
 * its mmu_gather batch fills.
 *
 * The mm also holds the process's file descriptor table: mn_mm_fd_install() gives a file
 * a descriptor (the lowest free one from 3, as 0 to 2 are a real process's stdio) that
 * holds a reference of its own, fork() copies the table, and mn_mm_destroy() closes every
 * descriptor before it tears anything else down.
 *
 * Errors follow the system calls: -EINVAL for bad arguments, -ENOMEM for ranges that are
 * not mapped (mprotect, madvise) or no room, -EFAULT from GUP outside a VMA or without
 * permission, -EBADF for a descriptor that is not open. A failed call changes nothing.
 */

#ifdef __cplusplus
extern "C" {
#endif

struct mn_mm;
struct mn_file;

/* Protection (PROT_*) */
#define MN_PROT_NONE  0x0U
#define MN_PROT_READ  0x1U
#define MN_PROT_WRITE 0x2U
#define MN_PROT_EXEC  0x4U

/* mmap flags (MAP_*, the uapi values) */
#define MN_MAP_SHARED	 0x01U
#define MN_MAP_PRIVATE	 0x02U
#define MN_MAP_FIXED	 0x10U
#define MN_MAP_ANONYMOUS 0x20U
#define MN_MAP_LOCKED	 0x2000U
#define MN_MAP_POPULATE	 0x8000U
#define MN_MAP_HUGETLB	 0x40000U
#define MN_MAP_HUGE_2MB	 (21U << 26)
#define MN_MAP_HUGE_1GB	 (30U << 26)

/* madvise advice (MADV_*, the uapi values) */
#define MN_MADV_DONTNEED   4
#define MN_MADV_HUGEPAGE   14
#define MN_MADV_NOHUGEPAGE 15
#define MN_MADV_COLLAPSE   25

/* fallocate(2) modes (FALLOC_FL_*, the uapi values) */
#define MN_FALLOC_FL_KEEP_SIZE	0x01
#define MN_FALLOC_FL_PUNCH_HOLE 0x02

/* VMA flags reported by mn_mm_find_vma() (a subset of VM_*) */
#define MN_VM_SHARED	 (1U << 0)
#define MN_VM_ANON	 (1U << 1) /* anonymous memory (private, or shmem when shared) */
#define MN_VM_HUGETLB	 (1U << 2)
#define MN_VM_LOCKED	 (1U << 3)
#define MN_VM_HUGEPAGE	 (1U << 4) /* MADV_HUGEPAGE */
#define MN_VM_NOHUGEPAGE (1U << 5) /* MADV_NOHUGEPAGE */

/**
 * enum mn_thp_mode - /sys/kernel/mm/transparent_hugepage/enabled.
 * @MN_THP_NEVER: no THP.
 * @MN_THP_MADVISE: THP in %MN_VM_HUGEPAGE VMAs only (the common distribution default).
 * @MN_THP_ALWAYS: THP in every eligible anonymous VMA without %MN_VM_NOHUGEPAGE.
 */
enum mn_thp_mode {
	MN_THP_NEVER = 0,
	MN_THP_MADVISE,
	MN_THP_ALWAYS,
};

/**
 * struct mn_mm_config - parameters of an address space.
 * @thp: THP policy.
 * @no_zero_page: read faults on anonymous memory allocate instead of mapping the zero page
 *                (mm_forbids_zeropage()).
 * @mmap_base: top of the area mmap() allocates from, downwards; 0 picks 0x7f0000000000.
 * @tlb_capacity: host TLB entries; 0 picks 64.
 */
struct mn_mm_config {
	enum mn_thp_mode thp;
	bool no_zero_page;
	mn_hva_t mmap_base;
	unsigned int tlb_capacity;
};

/**
 * struct mn_vma_info - a snapshot of one VMA.
 * @start: first address.
 * @end: one past the last.
 * @prot: %MN_PROT_*.
 * @flags: %MN_VM_*.
 * @file: the backing file, or NULL for private anonymous memory.
 * @pgoff: page offset in @file of @start.
 * @huge_order: HugeTLB folio order (9 or 18), 0 otherwise.
 */
struct mn_vma_info {
	mn_hva_t start;
	mn_hva_t end;
	unsigned int prot;
	unsigned int flags;
	struct mn_file *file;
	uint64_t pgoff;
	unsigned int huge_order;
};

/**
 * struct mn_mm_stats - what an mm did.
 * @vmas: VMAs now.
 * @faults: page faults handled.
 * @cow: copy-on-write copies.
 * @gup_fast: pages GUP returned from the lockless walk.
 * @gup_slow: pages GUP returned from the slow path.
 * @invalidations: invalidate_range_start calls made (pairs sent).
 * @tlb_flushes: host TLB flushes.
 * @frames_freed: folios freed by the mm's operations.
 * @migrations: folios migrated.
 * @thp_split: huge mappings split.
 * @thp_collapse: huge mappings created by collapse.
 */
struct mn_mm_stats {
	uint64_t vmas;
	uint64_t faults;
	uint64_t cow;
	uint64_t gup_fast;
	uint64_t gup_slow;
	uint64_t invalidations;
	uint64_t tlb_flushes;
	uint64_t frames_freed;
	uint64_t migrations;
	uint64_t thp_split;
	uint64_t thp_collapse;
};

/**
 * mn_mm_create() - Create an empty address space in @sim.
 * @sim: the world; the mm allocates from its arena and takes frames from its memory.
 * @cfg: parameters, or NULL for defaults.
 * @out: receives the mm.
 *
 * Context: The world's thread, outside a run.
 * Return: 0, -EINVAL for bad parameters, or -ENOMEM.
 */
MN_EXPORT int mn_mm_create(struct mn_sim *sim, const struct mn_mm_config *cfg, struct mn_mm **out);

/**
 * mn_mm_destroy() - Free an mm without notifying anyone (see mn_mm_exit() for the exit
 * path that does).
 * @mm: the mm, or NULL.
 *
 * Every file descriptor is closed first, while the rest of the mm is still whole (a file's
 * release may look at it); then mapped frames and the VMAs' file references are released.
 * Subscribers are forgotten.
 *
 * Context: The world's thread, outside a run.
 */
MN_EXPORT void mn_mm_destroy(struct mn_mm *mm);

/**
 * mn_mm_get_sim() - The world of an mm.
 * @mm: the mm.
 *
 * Context: Any context.
 * Return: the world.
 */
MN_EXPORT struct mn_sim *mn_mm_get_sim(const struct mn_mm *mm);

/**
 * mn_mm_get_pt() - The host page table (hva >> 12 indexes it).
 * @mm: the mm.
 *
 * Context: Any context.
 * Return: the table.
 */
MN_EXPORT struct mn_pt *mn_mm_get_pt(struct mn_mm *mm);

/**
 * mn_mm_get_stats() - Counters of an mm.
 * @mm: the mm.
 * @st: receives them.
 *
 * Context: Any context.
 */
MN_EXPORT void mn_mm_get_stats(const struct mn_mm *mm, struct mn_mm_stats *st);

/**
 * mn_file_create() - Create a shared file: a page cache of folios keyed by page offset
 * (a tmpfs/shmem file, or a hugetlbfs file with @huge_order).
 * @sim: the world.
 * @name: for traces; copied.
 * @size: bytes, a multiple of the folio size.
 * @huge_order: 0, or 9 / 18 for a hugetlbfs file.
 * @out: receives the file with one reference, the caller's.
 *
 * Context: The world's thread.
 * Return: 0, -EINVAL for a bad size or order, or -ENOMEM.
 */
MN_EXPORT int mn_file_create(struct mn_sim *sim, const char *name, uint64_t size,
			     unsigned int huge_order, struct mn_file **out);

/**
 * mn_file_put() - Drop a reference; the last one truncates the page cache and frees it.
 * @f: the file, or NULL.
 *
 * Each mapping and each descriptor holds its own reference, so a mapped file stays until
 * it is unmapped. For a file with a release hook (guest_memfd), the hook runs first, then
 * each folio leaves the page cache (free_folio hook, then the cache's reference), then the
 * file is freed (__fput()).
 *
 * Context: The world's thread or a sim thread.
 */
MN_EXPORT void mn_file_put(struct mn_file *f);

/**
 * mn_file_nr_pages() - Frames in the page cache of @f.
 * @f: the file.
 *
 * Context: Any context.
 * Return: the count.
 */
MN_EXPORT uint64_t mn_file_nr_pages(const struct mn_file *f);

/**
 * mn_mm_fd_install() - Give @f a file descriptor in the process of @mm
 * (get_unused_fd_flags() + fd_install()).
 * @mm: the mm (the process).
 * @f: the file; the descriptor takes a new reference, the caller keeps its own.
 *
 * Context: The world's thread or a sim thread. Never yields.
 * Return: the lowest free descriptor, 3 or above (>= 0); -EINVAL for a NULL @f; -EMFILE
 * when descriptors 3 to 1023 are all open (RLIMIT_NOFILE's default of 1024, 0 to 2
 * counting as open); -ENOMEM.
 */
MN_EXPORT int mn_mm_fd_install(struct mn_mm *mm, struct mn_file *f);

/**
 * mn_mm_fget() - The file open at descriptor @fd (fget()).
 * @mm: the mm (the process).
 * @fd: the descriptor.
 *
 * Context: The world's thread or a sim thread. Never yields.
 * Return: the file with a new reference for the caller (drop it with mn_file_put()), or
 * NULL when @fd is not open.
 */
MN_EXPORT struct mn_file *mn_mm_fget(struct mn_mm *mm, int fd);

/**
 * mn_mm_close() - Close descriptor @fd (close(2)): its reference on the file goes.
 * @mm: the mm (the process).
 * @fd: the descriptor.
 *
 * Mappings of the file hold references of their own and keep working.
 *
 * Context: The world's thread or a sim thread. May yield when the last reference goes.
 * Return: 0, or -EBADF when @fd is not open.
 */
MN_EXPORT int mn_mm_close(struct mn_mm *mm, int fd);

/**
 * mn_mm_fallocate() - fallocate(2) on descriptor @fd (vfs_fallocate()).
 * @mm: the mm (the process).
 * @fd: the descriptor.
 * @mode: %MN_FALLOC_FL_KEEP_SIZE, or %MN_FALLOC_FL_PUNCH_HOLE | %MN_FALLOC_FL_KEEP_SIZE.
 * @offset: bytes.
 * @len: bytes.
 *
 * A file with a fallocate hook of its own (guest_memfd) gets the call as it is and checks
 * it itself; a file with other hooks but none for fallocate refuses it (-EOPNOTSUPP).
 * A plain shmem or hugetlbfs file follows shmem_fallocate(), simplified: @offset and @len
 * must be multiples of the file's folio size (the kernel rounds partial pages), and
 * allocation never extends the file. Allocation populates zeroed folios. Punching a hole
 * (clamped to the file's size) first zaps every mapping of those pages in every mm, one
 * %MN_NOTIFY_CLEAR start/end pair per VMA over the part it maps (private copies
 * included), then takes the folios out of the page cache; a GUP reference keeps a frame
 * alive until it is put. The next fault allocates a new, zeroed folio.
 *
 * Context: A sim thread or the world's thread, holding no mmap lock. May sleep.
 * Return: 0; -EBADF (@fd not open); -EINVAL (@len 0, @offset or @len negative as a loff_t,
 * not folio aligned, or allocation beyond the size); -EOPNOTSUPP (another @mode); -EFBIG
 * (@offset + @len beyond a loff_t); -ENOMEM; or the file's own answer.
 */
MN_EXPORT int mn_mm_fallocate(struct mn_mm *mm, int fd, int mode, uint64_t offset, uint64_t len);

/**
 * mn_mm_mmap() - Map memory (mmap(2), do_mmap()).
 * @mm: the mm.
 * @addr: the address for %MN_MAP_FIXED, else a hint (0 for none).
 * @len: bytes; rounded up to the page (or HugeTLB page) size.
 * @prot: %MN_PROT_*.
 * @flags: %MN_MAP_SHARED or %MN_MAP_PRIVATE, plus %MN_MAP_ANONYMOUS, %MN_MAP_FIXED,
 *         %MN_MAP_HUGETLB with %MN_MAP_HUGE_2MB or %MN_MAP_HUGE_1GB, %MN_MAP_LOCKED,
 *         %MN_MAP_POPULATE.
 * @file: the file for a file mapping (ignored with %MN_MAP_ANONYMOUS).
 * @offset: byte offset in @file, page aligned.
 * @out: receives the mapped address.
 *
 * A shared anonymous mapping is backed by a new shmem file of its own. %MN_MAP_FIXED
 * replaces what was mapped there (munmap() first, with its notifications). Without it the
 * highest free gap below the mmap base that fits is used, aligned to the huge page size for
 * HugeTLB and for anonymous mappings of at least 2 MiB (thp_get_unmapped_area()).
 * A file with an mmap hook of its own (guest_memfd) is asked after the checks above,
 * under the mmap lock, before anything changes; its pages are mapped at 4 KiB.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for writing.
 * Return: 0, -EINVAL (length 0, unaligned offset or fixed address, bad flags or prot),
 * -EBADF (no file for a file mapping), -EPERM (a fixed address below vm.mmap_min_addr,
 * 64 KiB), -ENOMEM (no room, or beyond the address space), or the error of the file's
 * mmap hook.
 */
MN_EXPORT int mn_mm_mmap(struct mn_mm *mm, mn_hva_t addr, uint64_t len, unsigned int prot,
			 unsigned int flags, struct mn_file *file, uint64_t offset, mn_hva_t *out);

/**
 * mn_mm_munmap() - Unmap a range (munmap(2), do_vmi_munmap()).
 * @mm: the mm.
 * @start: page aligned.
 * @len: bytes; rounded up.
 *
 * Splits VMAs (and THP mappings, each split notified on its own) at the edges, then sends
 * one %MN_NOTIFY_UNMAP start over the range, clears the entries, flushes, frees what only
 * the mappings held, frees empty page tables and sends end. A range with no VMA sends
 * nothing.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for writing.
 * Return: 0, or -EINVAL (unaligned, length 0, beyond the address space, or cutting a HugeTLB
 * page).
 */
MN_EXPORT int mn_mm_munmap(struct mn_mm *mm, mn_hva_t start, uint64_t len);

/**
 * mn_mm_mprotect() - Change protection (mprotect(2), change_protection()).
 * @mm: the mm.
 * @start: page aligned.
 * @len: bytes; rounded up.
 * @prot: %MN_PROT_*.
 *
 * Each VMA with entries gets one %MN_NOTIFY_PROTECTION_VMA start/end pair per 512 GiB,
 * from its first populated PUD, as change_pud_range() sends them; a VMA without entries
 * gets none.
 * %MN_PROT_NONE turns entries into PROT_NONE entries. Write permission is granted to an
 * entry only where no fault is needed first (an exclusive anonymous page, a dirty shared
 * page), as can_change_pte_writable() decides.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for writing.
 * Return: 0, -EINVAL (unaligned, bad @prot, or cutting a HugeTLB page), or -ENOMEM (part
 * of the range not mapped, or beyond the address space; nothing changes, where the kernel
 * would have changed the VMAs before the hole).
 */
MN_EXPORT int mn_mm_mprotect(struct mn_mm *mm, mn_hva_t start, uint64_t len, unsigned int prot);

/**
 * mn_mm_madvise() - Advise (madvise(2)).
 * @mm: the mm.
 * @start: page aligned.
 * @len: bytes; rounded up.
 * @advice: %MN_MADV_DONTNEED (zap with %MN_NOTIFY_CLEAR, under the mmap read lock),
 *          %MN_MADV_HUGEPAGE, %MN_MADV_NOHUGEPAGE (VMA flags), %MN_MADV_COLLAPSE
 *          (synchronous THP collapse, mn_mm_collapse_thp() on each 2 MiB block).
 *
 * Context: A sim thread or the world's thread.
 * Return: 0, -EINVAL (unaligned, unknown advice, DONTNEED on a locked VMA, COLLAPSE where
 * THP is not possible), -ENOMEM (part of the range is not mapped; the mapped parts are
 * still advised, as the kernel does), or -EAGAIN from a collapse.
 */
MN_EXPORT int mn_mm_madvise(struct mn_mm *mm, mn_hva_t start, uint64_t len, int advice);

/**
 * mn_mm_mmap_read_lock() - Take the mmap lock for reading (mmap_read_lock()), as KVM's arm64
 * fault path does around its VMA lookup.
 * @mm: the mm.
 *
 * Context: A sim thread or the world's thread. May sleep.
 */
MN_EXPORT void mn_mm_mmap_read_lock(struct mn_mm *mm);

/**
 * mn_mm_mmap_read_unlock() - Drop the mmap lock taken for reading.
 * @mm: the mm.
 *
 * Context: The caller holds the lock for reading.
 */
MN_EXPORT void mn_mm_mmap_read_unlock(struct mn_mm *mm);

/**
 * mn_mm_find_vma() - The VMA containing @addr.
 * @mm: the mm.
 * @addr: the address.
 * @out: receives a snapshot.
 *
 * Context: Any context (no locking: for tests and dumps).
 * Return: 0, or -ENOENT.
 */
MN_EXPORT int mn_mm_find_vma(struct mn_mm *mm, mn_hva_t addr, struct mn_vma_info *out);

/**
 * mn_mm_nr_vmas() - Number of VMAs.
 * @mm: the mm.
 *
 * Context: Any context.
 * Return: the count.
 */
MN_EXPORT unsigned int mn_mm_nr_vmas(const struct mn_mm *mm);

/* vm_fault_t bits returned by mn_mm_handle_fault() */
#define MN_VM_FAULT_OOM	    (1U << 0)
#define MN_VM_FAULT_SIGBUS  (1U << 1)
#define MN_VM_FAULT_SIGSEGV (1U << 2)
#define MN_VM_FAULT_RETRY   (1U << 3) /* waited (migration entry); fault again */
#define MN_VM_FAULT_ERROR   (MN_VM_FAULT_OOM | MN_VM_FAULT_SIGBUS | MN_VM_FAULT_SIGSEGV)

/* mn_mm_handle_fault() flags (FAULT_FLAG_*) */
#define MN_FAULT_FLAG_WRITE  (1U << 0)
#define MN_FAULT_FLAG_EXEC   (1U << 1) /* instruction fetch */
#define MN_FAULT_FLAG_REMOTE (1U << 2) /* on behalf of GUP */

/**
 * mn_mm_handle_fault() - Resolve a fault at @addr (handle_mm_fault()).
 * @mm: the mm.
 * @addr: the faulting address.
 * @flags: %MN_FAULT_FLAG_*.
 *
 * Allocates and maps on first touch (the zero page for reads of anonymous memory, a THP or a
 * HugeTLB page where the VMA calls for one), breaks copy-on-write (a notified replacement
 * of the old entry, %MN_NOTIFY_CLEAR), makes a read-only entry writable where the VMA
 * allows, restores a NUMA-hinting entry, and waits for a migration in flight. Checks the VMA
 * first: no VMA or no permission is %MN_VM_FAULT_SIGSEGV; beyond the end of a file is
 * %MN_VM_FAULT_SIGBUS.
 *
 * Context: A sim thread or the world's thread; the caller holds the mmap lock for reading.
 * Return: 0 when the entry now allows the access, else %MN_VM_FAULT_* bits.
 */
MN_EXPORT unsigned int mn_mm_handle_fault(struct mn_mm *mm, mn_hva_t addr, unsigned int flags);

/**
 * mn_mm_access() - A user access by the VMM: host TLB, table walk, fault, retry.
 * @mm: the mm.
 * @addr: the address.
 * @perm: %MN_PTE_R, %MN_PTE_W or %MN_PTE_X.
 * @val: for writes the data word to store; for reads receives it (may be NULL).
 * @vm_fault: receives the fault bits of a failed access (may be NULL).
 *
 * Sets the accessed (and, for writes, dirty) bit of the entry as the hardware does. Every
 * use of the frame goes through the frame oracle: a stale host TLB entry is a
 * use-after-free.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for reading to fault.
 * Return: 0, -EFAULT (SIGSEGV or SIGBUS; see @vm_fault), -ENOMEM, or -ESTALE after a
 * use-after-free report.
 */
MN_EXPORT int mn_mm_access(struct mn_mm *mm, mn_hva_t addr, unsigned int perm, uint64_t *val,
			   unsigned int *vm_fault);

/* GUP flags (FOLL_*) */
#define MN_FOLL_WRITE (1U << 0) /* the caller will write: break COW, require write access */

/**
 * struct mn_gup_page - a page returned by GUP.
 * @ref: the page and its folio's generation; the caller holds one reference on the folio
 *       and must release it with mn_mm_put_page().
 * @writable: the host entry was writable when the page was taken.
 * @level: the level of the host entry that mapped it.
 */
struct mn_gup_page {
	struct mn_frame_ref ref;
	bool writable;
	unsigned int level;
};

/**
 * mn_mm_gup_fast() - The lockless GUP walk (get_user_page_fast_only()).
 * @mm: the mm.
 * @addr: the address.
 * @gup_flags: %MN_FOLL_*.
 * @out: receives the page.
 *
 * Succeeds only where a present, accessible entry already maps a normal page (not the zero
 * page, not PROT_NONE, writable for %MN_FOLL_WRITE, not a page of a file that forbids the
 * lockless walk, such as guest_memfd); never faults and never sleeps.
 *
 * Context: Any context of the world.
 * Return: 0, or -EFAULT when the slow path is needed.
 */
MN_EXPORT int mn_mm_gup_fast(struct mn_mm *mm, mn_hva_t addr, unsigned int gup_flags,
			     struct mn_gup_page *out);

/**
 * mn_mm_gup() - Get a user page, faulting it in (get_user_pages_unlocked() for one page).
 * @mm: the mm.
 * @addr: the address.
 * @gup_flags: %MN_FOLL_*.
 * @out: receives the page.
 *
 * Tries the lockless walk first, then takes the mmap lock for reading and alternates
 * follow_page and handle_mm_fault until the entry allows the access.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EFAULT (no VMA, no permission, SIGBUS, or an mm the OOM reaper took), or
 * -ENOMEM.
 */
MN_EXPORT int mn_mm_gup(struct mn_mm *mm, mn_hva_t addr, unsigned int gup_flags,
			struct mn_gup_page *out);

/**
 * mn_mm_put_page() - Release a page GUP returned (put_page()).
 * @mm: the mm.
 * @page: the page.
 *
 * Context: Any context of the world.
 * Return: as mn_phys_put().
 */
MN_EXPORT int mn_mm_put_page(struct mn_mm *mm, const struct mn_gup_page *page);

/**
 * mn_mm_host_mapping_level() - The level of the host entry mapping @addr, read without
 * locks (host_pfn_mapping_level(), what KVM caps its mapping level with).
 * @mm: the mm.
 * @addr: the address.
 *
 * Context: Any context of the world.
 * Return: %MN_PG_LEVEL_1G, %MN_PG_LEVEL_2M or %MN_PG_LEVEL_4K (also when nothing is
 * mapped, as the kernel answers).
 */
MN_EXPORT int mn_mm_host_mapping_level(struct mn_mm *mm, mn_hva_t addr);

/* mn_mm_migrate() flags */
#define MN_MIGRATE_DEVICE (1U << 0) /* migrate_vma(): event MIGRATE with the mm as owner */

/**
 * mn_mm_migrate() - Migrate the folio mapped at @addr to a new folio (migrate_pages()
 * through try_to_migrate() and remove_migration_ptes()).
 * @mm: the mm.
 * @addr: an address the folio is mapped at.
 * @flags: 0 or %MN_MIGRATE_DEVICE.
 * @new_pfn: receives the pfn now mapped at @addr (may be NULL).
 *
 * The mappings of the folio in @mm are replaced by migration entries, inside one
 * %MN_NOTIFY_CLEAR start/end pair per VMA over the part of the folio it maps (as
 * try_to_migrate_one() sends them); the data is copied, the entries are pointed at the new
 * folio and the old one is freed. A PROT_NONE (NUMA-hinting) entry migrates like a present
 * one. Faults on a migration entry wait for it to finish.
 * Like the kernel, gives up with -EAGAIN when the folio holds references nobody accounts
 * for (a GUP reference in flight), restoring the old mappings.
 *
 * Context: A sim thread or the world's thread. May sleep.
 * Return: 0, -EINVAL (unknown @flags, or a page of an unmovable file such as guest_memfd:
 * nothing is unmapped or notified), -EFAULT (nothing mapped at @addr, or the zero
 * page), -EBUSY (already being migrated, or mapped by another mm), -EAGAIN (extra
 * references), or -ENOMEM.
 */
MN_EXPORT int mn_mm_migrate(struct mn_mm *mm, mn_hva_t addr, unsigned int flags, mn_pfn_t *new_pfn);

/**
 * mn_mm_numa_protnone() - NUMA balancing scan: turn the entries of a range into
 * NUMA-hinting PROT_NONE entries (change_prot_numa(), %MN_NOTIFY_PROTECTION_VMA).
 * @mm: the mm.
 * @start: page aligned.
 * @len: bytes.
 *
 * HugeTLB VMAs, inaccessible VMAs and read-only file VMAs are skipped, as task_numa_work()
 * skips them. The next access faults and restores the entry (do_numa_page()).
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for reading.
 * Return: the number of entries changed (>= 0), or -EINVAL.
 */
MN_EXPORT int mn_mm_numa_protnone(struct mn_mm *mm, mn_hva_t start, uint64_t len);

/**
 * mn_mm_split_thp() - Split the THP mapped at @addr.
 * @mm: the mm.
 * @addr: an address in the THP.
 * @split_folio: false: split only the PMD mapping into 512 PTEs (__split_huge_pmd());
 *               true: also split the folio into 512 order-0 folios (split_huge_page(),
 *               which unmaps it to migration entries first).
 *
 * Each changes the mapping inside a %MN_NOTIFY_CLEAR start/end pair over the 2 MiB block.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for reading.
 * Return: 0, -EINVAL (not a THP: nothing huge there, or HugeTLB), -EAGAIN (the folio has
 * extra references, for @split_folio), or -ENOMEM.
 */
MN_EXPORT int mn_mm_split_thp(struct mn_mm *mm, mn_hva_t addr, bool split_folio);

/**
 * mn_mm_collapse_thp() - Collapse the 2 MiB block at @addr into one THP (khugepaged's
 * collapse_huge_page(), MADV_COLLAPSE).
 * @mm: the mm.
 * @addr: an address in the block.
 *
 * Allocates the huge folio, sends %MN_NOTIFY_CLEAR start, clears the table's PMD entry and
 * flushes, sends end, copies the small pages (empty ones read as zero) and frees them, then
 * installs the huge entry.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for writing.
 * Return: 0, -EINVAL (the block is not inside one private anonymous VMA that allows THP;
 * file VMAs, guest_memfd's included, never qualify),
 * -EEXIST (already huge), -ENOENT (nothing mapped), -EAGAIN (a page holds a reference
 * besides its mappings, such as GUP's, or a PROT_NONE or migration entry is there),
 * or -ENOMEM.
 */
MN_EXPORT int mn_mm_collapse_thp(struct mn_mm *mm, mn_hva_t addr);

/**
 * mn_mm_clear_soft_dirty() - Write-protect every entry for soft-dirty tracking
 * (clear_refs with "4", %MN_NOTIFY_SOFT_DIRTY over the whole address space).
 * @mm: the mm.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for writing.
 * Return: the number of entries write-protected (>= 0).
 */
MN_EXPORT int mn_mm_clear_soft_dirty(struct mn_mm *mm);

/**
 * mn_mm_fork() - Duplicate @mm as fork() does (dup_mmap(), copy_page_range()).
 * @mm: the parent.
 * @out: receives the child.
 *
 * Private mappings become copy-on-write in both: each private VMA is
 * write-protected in the parent inside a %MN_NOTIFY_PROTECTION_PAGE start/end pair, and the
 * child maps the same folios. Shared mappings are not copied (the child faults them).
 * The child gets the same file descriptors, each with a reference of its own (dup_fd()).
 * Subscriptions are not inherited.
 *
 * Context: A sim thread or the world's thread; takes the parent's mmap lock for writing.
 * Return: 0, -ENOMEM, or -EAGAIN while a migration of one of its folios is in flight (the
 * migration entries of two mms are not modelled).
 */
MN_EXPORT int mn_mm_fork(struct mn_mm *mm, struct mn_mm **out);

/* mn_mm_age() modes */
enum mn_age_mode {
	MN_AGE_CLEAR_FLUSH_YOUNG = 0, /* folio_referenced(): clear (x86: no flush), ask notifiers */
	MN_AGE_CLEAR_YOUNG,	      /* idle tracking: clear without flush */
	MN_AGE_TEST_YOUNG,	      /* test only */
};

/**
 * mn_mm_age() - Page aging over a range: for each mapped entry, test (and clear) the host
 * accessed bit and ask every subscriber (clear_flush_young, clear_young or test_young),
 * with no start/end and no sequence change.
 * @mm: the mm.
 * @start: page aligned.
 * @len: bytes.
 * @mode: which callbacks.
 *
 * Context: A sim thread or the world's thread; takes the mmap lock for reading.
 * Return: the number of entries found young by the host or any subscriber (>= 0), or
 * -EINVAL.
 */
MN_EXPORT int mn_mm_age(struct mn_mm *mm, mn_hva_t start, uint64_t len, enum mn_age_mode mode);

/**
 * mn_mm_exit() - Process exit (exit_mmap()): release every subscriber, then unmap
 * everything (the unmap's start/end reach nobody, as the subscribers are gone).
 * @mm: the mm; it stays allocated, empty, until mn_mm_destroy(). File descriptors stay
 *      open until then too (exit_files() is left to mn_mm_destroy()).
 *
 * Context: A sim thread or the world's thread.
 */
MN_EXPORT void mn_mm_exit(struct mn_mm *mm);

/**
 * mn_mm_oom_reap() - The OOM reaper (__oom_reap_task_mm()): unmap private memory with
 * non-blockable %MN_NOTIFY_CLEAR ranges, one per VMA, from the top of the address space down.
 * @mm: the mm.
 *
 * The mm becomes unstable first (MMF_UNSTABLE): later faults that would map memory get
 * %MN_VM_FAULT_SIGBUS, so GUP fails with -EFAULT. A VMA whose start fails (a subscriber
 * answered -EAGAIN) is skipped and left mapped; every subscriber then still gets its end,
 * as the kernel backs a failed start out.
 *
 * Context: A sim thread or the world's thread; only tries the mmap lock.
 * Return: 0 when everything reapable was reaped, -EAGAIN when the lock was busy or some VMA
 * was skipped (the kernel retries later).
 */
MN_EXPORT int mn_mm_oom_reap(struct mn_mm *mm);

/**
 * mn_mm_notify_age() - Send only the aging callbacks over [@start, @end) to every subscriber
 * of @mm, without the host's page-table work (mmu_notifier_clear_flush_young(),
 * mmu_notifier_clear_young() or mmu_notifier_test_young() alone): for benchmarks of the
 * subscribers' aging paths and for tests of subscribers. No start/end, no sequence change.
 * @mm: the mm.
 * @mode: %MN_AGE_CLEAR_FLUSH_YOUNG or %MN_AGE_CLEAR_YOUNG (one call per subscriber over the
 *        range), or %MN_AGE_TEST_YOUNG (test_young() takes one address: each page of the
 *        range in turn, stopping at the first young answer).
 * @start: the first byte, page aligned.
 * @end: the end, page aligned, above @start.
 *
 * Context: A sim thread or the world's thread; takes no mm lock (the caller stands for a
 * host path that holds what it needs).
 * Return: what the subscribers answered OR-ed, as the kernel's mmu_notifier_clear_young()
 * does: 1 when one found a young entry, 0 when none did; or -EINVAL for a bad range or mode.
 */
MN_EXPORT int mn_mm_notify_age(struct mn_mm *mm, enum mn_age_mode mode, mn_hva_t start,
			       mn_hva_t end);

/**
 * mn_mm_notify_invalidate() - Send one invalidate_range_start()/_end() pair over
 * [@start, @end) to every subscriber of @mm, without changing the host's page tables
 * (mmu_notifier_invalidate_range_start()/_end() alone): for benchmarks of the subscribers'
 * invalidation paths and for tests of subscribers. Blockable; a failing start is backed
 * out as the host does it.
 * @mm: the mm.
 * @event: the %MN_NOTIFY_* event the subscribers are told.
 * @start: the first byte, page aligned.
 * @end: the end, page aligned, above @start.
 *
 * Context: A sim thread or the world's thread; takes no mm lock (the caller stands for a
 * host path that holds what it needs).
 * Return: 0, what a subscriber's start answered, or -EINVAL for a bad range or event.
 */
MN_EXPORT int mn_mm_notify_invalidate(struct mn_mm *mm, enum mn_notify_event event,
				      mn_hva_t start, mn_hva_t end);

/**
 * mn_mm_check_invariants() - Checked mode for the host itself.
 * @mm: the mm.
 *
 * Every entry lies inside a VMA and maps a live folio with the generation it was mapped
 * with; each folio's mapcount and refcount agree with the entries, the page cache and the
 * references GUP handed out and not yet put; entries are no larger than their folio and
 * their VMA allows. Each broken rule is reported as a violation ("host.*").
 *
 * Context: The world's thread, or a sim thread at a quiescent point. O(entries).
 * Return: the number of broken rules (0 when consistent).
 */
MN_EXPORT int mn_mm_check_invariants(struct mn_mm *mm);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_HOST_H */
