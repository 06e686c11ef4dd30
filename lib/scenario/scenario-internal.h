/* SPDX-License-Identifier: MIT */
/*
 * scenario-internal.h - a compiled scenario script: its named objects, its lines as
 * precompiled operations (one public API call each, with the results the line accepts) and
 * the state of the run in progress. Shared by lib/scenario/{parse,run,names}.c.
 */
#ifndef MNSIM_SCENARIO_INTERNAL_H
#define MNSIM_SCENARIO_INTERNAL_H

#include "mnsim-internal.h"

#define SCN_MAX_THREADS	     4
#define SCN_MAX_OBJS	     64
#define SCN_MAX_SLOTS	     32		  /* memslots the VMM keeps track of */
#define SCN_MAX_VALS	     8		  /* values one result list accepts */
#define SCN_MAX_BITMAP_WORDS 64		  /* a userfault bitmap covers at most 4096 pages */
#define SCN_MAX_DIRTY_PAGES  (1ULL << 24) /* dirty-log buffers cover at most 64 GiB */
#define SCN_GPC_LEN	     8		  /* default length of a pfn cache, as the stories use */

enum scn_obj_kind {
	SCN_MAP = 0, /* mmap: an address */
	SCN_FILE,    /* a shmem/hugetlbfs file: a descriptor */
	SCN_GMEM,    /* a guest_memfd: a descriptor */
	SCN_BITMAP,  /* a userfault bitmap: words */
	SCN_GPC,     /* a gfn_to_pfn cache */
};

struct scn_obj {
	enum scn_obj_kind kind;
	char *name;
	unsigned int line;
	uint64_t size;	/* SCN_MAP, SCN_FILE, SCN_GMEM: bytes; SCN_BITMAP: words */
	uint64_t *init; /* SCN_BITMAP: the words the file gives */
};

enum scn_op_kind {
	SCN_OP_MMAP = 0,
	SCN_OP_FILE,
	SCN_OP_GMEM,
	SCN_OP_GPC_CREATE,
	SCN_OP_GUEST,
	SCN_OP_HOST,
	SCN_OP_MUNMAP,
	SCN_OP_MPROTECT,
	SCN_OP_MADVISE,
	SCN_OP_MIGRATE,
	SCN_OP_AGE,
	SCN_OP_REMAP,
	SCN_OP_MEMSLOT,
	SCN_OP_MEMSLOT_DELETE,
	SCN_OP_MEMSLOT_MOVE,
	SCN_OP_MEMSLOT_FLAGS,
	SCN_OP_PUNCH,
	SCN_OP_ALLOCATE,
	SCN_OP_CONVERT,
	SCN_OP_ATTRIBUTES,
	SCN_OP_CLOSE,
	SCN_OP_GPC_ACTIVATE,
	SCN_OP_GPC_REFRESH,
	SCN_OP_GPC_READ,
	SCN_OP_GPC_WRITE,
	SCN_OP_GPC_DEACTIVATE,
	SCN_OP_DIRTY_GET,
	SCN_OP_DIRTY_CLEAR,
	SCN_OP_BITMAP_SET,
	SCN_OP_YIELD,
	SCN_OP_SPTE,
};

/* How a guest access exited (bits of &struct scn_expect @exits). */
#define SCN_EXIT_MMIO	      (1U << 0)
#define SCN_EXIT_MEMORY_FAULT (1U << 1) /* any KVM_EXIT_MEMORY_FAULT, the three below too */
#define SCN_EXIT_USERFAULT    (1U << 2)
#define SCN_EXIT_GAVE_UP      (1U << 3)

/* The results a line accepts: without "->", @ok alone. */
struct scn_expect {
	bool any;
	bool ok;
	uint64_t errs[2]; /* bit e: -e, for errno values below 128 */
	unsigned int exits;
	unsigned int nr_vals;
	uint64_t vals[SCN_MAX_VALS];
};

/* NAME+OFF (@obj a mapping) or an absolute address (@obj -1). */
struct scn_loc {
	int obj;
	uint64_t off;
};

struct scn_op {
	enum scn_op_kind kind;
	unsigned int line;
	bool make_vm; /* a setup line: create the VM before it */
	char *label;  /* the line up to "->", for reports */
	char *want;   /* the accepted results, for reports */
	struct scn_expect expect;
	struct scn_expect stop; /* accepted too, and the thread stops */
	bool has_stop;
	int obj;    /* the object the line names or defines, or -1 */
	int obj2;   /* mmap's file OBJ, memslot's gmem OBJ, or -1 */
	int bitmap; /* memslot's bitmap NAME, or -1 */
	struct scn_loc loc;
	uint64_t addr;	    /* gpa, file offset, bitmap word, first page, gpc offset */
	uint64_t size;	    /* bytes; pages for dirty-log clear; gpc length */
	uint64_t value;	    /* data word; gmem creation flags; attributes */
	uint64_t off2;	    /* mmap file offset, memslot gmem offset */
	unsigned int arg;   /* access perm, prot, advice, age mode, folio order */
	unsigned int flags; /* mmap MAP_*, memslot KVM_MEM_* */
	unsigned int vcpu;
	unsigned int as_id;
	uint32_t slot; /* as_id << 16 | id */
	bool by_hva;   /* gpc activate by hva */
	uint64_t *buf; /* dirty-log get/clear bitmap */
	size_t nr_words;
};

struct scn_seq {
	struct scn_op *ops;
	unsigned int nr;
	unsigned int cap;
};

struct scn_thread {
	struct mn_script *s;
	char *name;
	unsigned int line;
	struct scn_seq seq;
};

struct scn_slot {
	bool used;
	struct mn_userspace_memory_region2 r;
};

struct mn_script {
	char *name;
	struct mn_scenario sc;
	struct mn_script_info info;
	char *title;
	char *seed;
	char *expect_id;
	struct mn_vm_config vm_cfg; /* @arch and @variant come from @info */
	enum mn_thp_mode thp;
	unsigned int vm_line; /* the line blamed when the VM cannot be created */

	struct scn_obj obj[SCN_MAX_OBJS];
	unsigned int nr_obj;
	struct scn_seq setup;
	struct scn_thread thr[SCN_MAX_THREADS];
	struct scn_seq after;
	bool has_after;
	uint64_t max_slot_pages;

	/* The run in progress: rebuilt by every setup. */
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	mn_hva_t hva[SCN_MAX_OBJS];
	int fd[SCN_MAX_OBJS];
	struct mn_gpc *gpc[SCN_MAX_OBJS];
	uint64_t *bits[SCN_MAX_OBJS];
	struct scn_slot slots[SCN_MAX_SLOTS];
	bool setup_failed;
	char last_error[384];
};

/* names.c */
int scn_errno_lookup(const char *name);
const char *scn_errno_name(int err);
int scn_variant_lookup(const char *name, unsigned int *bit);
extern const char scn_variant_list[];

/* run.c */
int scn_setup(struct mn_sim *sim, void *arg);
void scn_check(struct mn_sim *sim, void *arg);
bool scn_op_needs_vm(enum scn_op_kind kind);

#endif /* MNSIM_SCENARIO_INTERNAL_H */
