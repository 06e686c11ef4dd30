/* SPDX-License-Identifier: MIT */
/*
 * gmem.h - guest_memfd: guest memory that KVM owns as a file of its own, modelled on
 * virt/kvm/guest_memfd.c (KVM_CREATE_GUEST_MEMFD and the file's operations).
 */
#ifndef MNSIM_GMEM_H
#define MNSIM_GMEM_H

#include <mnsim/kvm.h>

/**
 * DOC: gmem.h
 *
 * A guest_memfd is a file whose page cache holds guest memory. It is created for one VM
 * (mn_vm_create_guest_memfd() returns a file descriptor in the VMM process, the &struct
 * mn_mm of the VM), bound to memslots created with %MN_MEM_GUEST_MEMFD (the region's
 * @guest_memfd and @guest_memfd_offset), and changed with mn_mm_fallocate(): allocation,
 * or PUNCH_HOLE|KEEP_SIZE, which invalidates the secondary mappings of every bound slot
 * inside a begin/end window before the folios leave the page cache. Closing the last
 * reference (mn_mm_close() and every mapping gone) releases it: the bound slots become
 * unusable and all their mappings are zapped. The file pins its VM.
 *
 * With %MN_GUEST_MEMFD_FLAG_MMAP the VMM may mmap() the file (MAP_SHARED only) and slots
 * bound to it are guest_memfd-only: every guest fault takes its page from the file, never
 * from the slot's userspace_addr, and the mapping level comes from the folio, never from
 * the host page tables (seed 003). Host faults on the mapping succeed only for shared
 * memory (%MN_GUEST_MEMFD_FLAG_INIT_SHARED, or converted in place under
 * %MN_VARIANT_GMEM_INPLACE_CONVERSION) and raise SIGBUS otherwise (seed 002).
 *
 * %MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP (out of tree, seed 004) keeps the file's folios out of
 * the kernel direct map while they are in the page cache: zeroing goes through a
 * temporary mapping whose TLB entries are flushed before the folio leaves the cache.
 *
 * Not modelled: memory failure (error_remove_folio), kvm_gmem_populate(), NUMA policy,
 * write(2), the hugetlb backing; @huge_order stands in for huge folios.
 */

#ifdef __cplusplus
extern "C" {
#endif

/* guest_memfd creation flags (uapi GUEST_MEMFD_FLAG_*) */
#define MN_GUEST_MEMFD_FLAG_MMAP	  (1ULL << 0)
#define MN_GUEST_MEMFD_FLAG_INIT_SHARED	  (1ULL << 1)
#define MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP (1ULL << 2) /* proposed, seed 004 */

/* KVM_EXIT_MEMORY_FAULT flag of a private access (uapi KVM_MEMORY_EXIT_FLAG_PRIVATE) */
#define MN_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)

/**
 * struct mn_create_guest_memfd - arguments of KVM_CREATE_GUEST_MEMFD.
 * @size: bytes, a positive multiple of the page size (and of the folio size).
 * @flags: %MN_GUEST_MEMFD_FLAG_*.
 * @huge_order: a variant, not the kernel's: the order of the file's folios, 0 (upstream)
 *              or 9 (2 MiB folios, as the huge-page guest_memfd series would give).
 */
struct mn_create_guest_memfd {
	uint64_t size;
	uint64_t flags;
	unsigned int huge_order;
};

/**
 * mn_vm_create_guest_memfd() - Create a guest_memfd for @vm (kvm_gmem_create()).
 * @vm: the VM.
 * @args: size and flags.
 *
 * MMAP is always supported; INIT_SHARED only on VM types without private memory
 * (kvm_arch_supports_gmem_init_shared()); NO_DIRECT_MAP only on VM types other than SNP
 * and TDX.
 *
 * Context: The world's thread or a sim thread.
 * Return: the file descriptor (>= 3) in the VMM process, -EINVAL for unsupported flags, a
 * size that is zero or not a multiple of the folio size, or a bad @huge_order, -EMFILE or
 * -ENOMEM.
 */
MN_EXPORT int mn_vm_create_guest_memfd(struct mn_vm *vm, const struct mn_create_guest_memfd *args);

/**
 * mn_gmem_set_memory_attributes() - Convert pages of a guest_memfd in place between shared
 * and private (%MN_VARIANT_GMEM_INPLACE_CONVERSION; the proposed KVM_SET_MEMORY_ATTRIBUTES2
 * on the guest_memfd fd).
 * @mm: the VMM process holding @fd.
 * @fd: the guest_memfd.
 * @attrs: @address is the byte offset in the file, @size its length; @attributes 0
 *         (shared) or %MN_MEMORY_ATTRIBUTE_PRIVATE; @flags 0.
 *
 * Shared to private first tears down the VMM's mappings of the pages (mm notifiers fire)
 * and then fails with -EAGAIN if a page still has references beyond the page cache's (a
 * GUP pin); either way the secondary mappings of the old kind are zapped inside a begin/end
 * window of every bound slot.
 *
 * Context: The world's thread or a sim thread; may sleep.
 * Return: 0, -EBADF (bad fd), -EINVAL (not a guest_memfd, variant off, bad flags,
 * attributes, or range), -EAGAIN (pinned pages), or -ENOMEM.
 */
MN_EXPORT int mn_gmem_set_memory_attributes(struct mn_mm *mm, int fd,
					    const struct mn_memory_attributes *attrs);

#ifdef __cplusplus
}
#endif

#endif /* MNSIM_GMEM_H */
