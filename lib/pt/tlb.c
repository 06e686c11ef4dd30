// SPDX-License-Identifier: MIT
/*
 * tlb.c - the per-vCPU TLB model: translations cached by walks, served to later accesses
 * until a flush drops them (whole VM, by range, or by address with a level hint, as
 * kvm_flush_remote_tlbs*() and arm64's TLBI VMALLS12E1IS / RIPAS2E1IS / IPAS2E1IS do).
 * Each cached translation remembers the frame generation it was filled with, so using it
 * after the frame was freed is caught by the frame oracle.
 */
#include "mnsim-internal.h"

#include <mnsim/pt.h>

#define TLB_DEFAULT_CAPACITY 256U

struct tlb_entry {
	mn_gfn_t gfn; /* first gfn the translation covers */
	unsigned int level;
	unsigned int perm;
	struct mn_frame_ref ref; /* the first frame, with its generation at fill time */
	bool valid;
};

struct mn_tlb {
	struct mn_alloc *alloc;
	struct tlb_entry *e;
	unsigned int cap;
	unsigned int n;
	unsigned int next; /* FIFO replacement cursor */
	struct mn_tlb_stats st;
};

static uint64_t span(unsigned int level)
{
	return 1ULL << (MN_LEVEL_BITS * (level - 1));
}

int mn_tlb_create(struct mn_alloc *a, unsigned int capacity, struct mn_tlb **out)
{
	struct mn_tlb *tlb = mn_zalloc(a, sizeof(*tlb));

	if (!tlb)
		return -ENOMEM;
	tlb->alloc = a;
	tlb->cap = capacity ? capacity : TLB_DEFAULT_CAPACITY;
	tlb->e = mn_calloc(a, tlb->cap, sizeof(*tlb->e));
	if (!tlb->e) {
		mn_free(a, tlb);
		return -ENOMEM;
	}
	*out = tlb;
	return 0;
}

void mn_tlb_destroy(struct mn_tlb *tlb)
{
	if (!tlb)
		return;
	mn_free(tlb->alloc, tlb->e);
	mn_free(tlb->alloc, tlb);
}

static struct tlb_entry *lookup(struct mn_tlb *tlb, mn_gfn_t gfn)
{
	unsigned int i;

	for (i = 0; i < tlb->cap; i++) {
		struct tlb_entry *e = &tlb->e[i];

		if (e->valid && gfn >= e->gfn && gfn - e->gfn < span(e->level))
			return e;
	}
	return NULL;
}

/* Cache a translation: in a free slot if there is one, else in place of the oldest fill. */
static struct tlb_entry *fill(struct mn_tlb *tlb, mn_gfn_t gfn, unsigned int level,
			      unsigned int perm, struct mn_frame_ref ref)
{
	struct tlb_entry *e = NULL;
	unsigned int i;

	if (tlb->n < tlb->cap) {
		for (i = 0; i < tlb->cap && !e; i++)
			if (!tlb->e[i].valid)
				e = &tlb->e[i];
		tlb->n++;
	} else {
		e = &tlb->e[tlb->next];
		tlb->next = (tlb->next + 1) % tlb->cap;
		tlb->st.evicted++;
	}
	*e = (struct tlb_entry){ mn_align_down(gfn, span(level)), level, perm, ref, true };
	tlb->st.fills++;
	return e;
}

int mn_tlb_access(struct mn_tlb *tlb, const struct mn_pt *pt, struct mn_phys *phys, mn_gfn_t gfn,
		  unsigned int perm, const char *what, mn_pfn_t *pfn)
{
	enum mn_use_kind kind = perm & MN_PTE_W ? MN_USE_WRITE : MN_USE_READ;
	struct tlb_entry *e = lookup(tlb, gfn);
	struct mn_frame_info fi;
	struct mn_frame_ref ref;
	struct mn_pt_walk w;
	int ret;

	if (e && (e->perm & perm) != perm) {
		/* A permission fault drops the translation: the retry walks the table again. */
		e->valid = false;
		tlb->n--;
		e = NULL;
	}
	if (e) {
		tlb->st.hits++;
	} else {
		unsigned int level;

		tlb->st.misses++;
		ret = mn_pt_walk(pt, gfn, &w);
		if (ret == -ENOENT || ret == -ERANGE)
			return -EFAULT;
		if (ret)
			return ret;
		if ((w.leaf.perm & perm) != perm)
			return -EACCES; /* a permission fault: nothing is cached */
		/*
		 * The walk reads the frame as it is now; a freed one is caught below. A block is
		 * cached whole only when one folio backs it, so that one generation stands for
		 * all of it; otherwise the 4 KiB translation is cached (splintered).
		 */
		level = w.leaf.level;
		ref.pfn = w.leaf.pfn;
		if (w.gen) {
			/* Mapped with its folio's generation: that generation stands for the whole
			 * block, and a leaf that outlived its frame is caught even after reuse. */
			ref.gen = w.gen;
		} else {
			if (level > 1 &&
			    (mn_phys_frame_info(phys, w.leaf.pfn, &fi) || fi.head != w.leaf.pfn ||
			     fi.order < MN_LEVEL_BITS * (level - 1))) {
				level = 1;
				ref.pfn = w.pfn;
			}
			ref.gen = mn_phys_frame_info(phys, ref.pfn, &fi) ? 0 : fi.gen;
		}
		e = fill(tlb, gfn, level, w.leaf.perm, ref);
	}
	ref = mn_frame_ref_offset(e->ref, gfn - e->gfn);
	*pfn = ref.pfn;
	return mn_phys_use(phys, ref, kind, what);
}

unsigned int mn_tlb_flush(struct mn_tlb *tlb, enum mn_flush_kind kind, struct mn_gfn_range range,
			  unsigned int level)
{
	unsigned int i, left, dropped = 0;

	switch (kind) {
	case MN_FLUSH_ALL:
		tlb->st.flush_all++;
		break;
	case MN_FLUSH_RANGE:
		tlb->st.flush_range++;
		break;
	default:
		tlb->st.flush_ipa++;
		range.end = range.start + 1;
		break;
	}
	(void)level; /* the hint narrows the hardware's search, never what is invalidated */
	/* Stop once every valid entry was seen: an empty TLB costs nothing to flush. */
	for (i = 0, left = tlb->n; left && i < tlb->cap; i++) {
		struct tlb_entry *e = &tlb->e[i];
		struct mn_gfn_range er;

		if (!e->valid)
			continue;
		left--;
		er = (struct mn_gfn_range){ e->gfn, e->gfn + span(e->level) };
		if (kind != MN_FLUSH_ALL && !mn_gfn_range_overlaps(er, range))
			continue;
		e->valid = false;
		tlb->n--;
		dropped++;
	}
	tlb->st.dropped += dropped;
	return dropped;
}

void mn_tlb_get_stats(const struct mn_tlb *tlb, struct mn_tlb_stats *st)
{
	*st = tlb->st;
}

int mn_tlb_get_entry(const struct mn_tlb *tlb, unsigned int i, struct mn_tlb_entry *e)
{
	const struct tlb_entry *t;

	if (i >= tlb->cap)
		return -ERANGE;
	t = &tlb->e[i];
	if (!t->valid)
		return -ENOENT;
	*e = (struct mn_tlb_entry){ t->gfn, t->level, t->perm, t->ref.pfn };
	return 0;
}

unsigned int mn_tlb_nr_entries(const struct mn_tlb *tlb)
{
	return tlb->n;
}

int mn_tlb_check_frames(const struct mn_tlb *tlb, struct mn_phys *phys, const char *what)
{
	unsigned int i, left = tlb->n;
	int n = 0;

	/* Stop once every valid entry was seen: most TLBs hold a few entries at most. */
	for (i = 0; left && i < tlb->cap; i++) {
		const struct tlb_entry *e = &tlb->e[i];

		if (!e->valid)
			continue;
		left--;
		if (!e->ref.gen || mn_phys_ref_valid(phys, e->ref))
			continue;
		mn_phys_use(phys, e->ref, MN_USE_MAP, what); /* reports who freed it */
		n++;
	}
	return n;
}
