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
#define TLB_NONE	     (-1)

/*
 * The entries live in a slot array whose order is observable (mn_tlb_get_entry()): a fill
 * takes the lowest free slot while there is one, and the FIFO cursor's slot once the TLB is
 * full. A lookup returns the lowest-numbered valid slot covering the gfn, as a scan of the
 * array in slot order would. An index finds them without that scan: a chained hash keyed by
 * (level, first gfn) over the slots, a bitmap of the free slots, and a count of valid
 * entries per level, so that a lookup probes only the sizes cached.
 */
struct tlb_entry {
	mn_gfn_t gfn; /* first gfn the translation covers */
	unsigned int level;
	unsigned int perm;
	struct mn_frame_ref ref; /* the first frame, with its generation at fill time */
	bool valid;
	bool dirty; /* a store needs no D update: D was set, or the walker keeps no D */
	int hnext;  /* next slot in the same hash chain, or TLB_NONE */
};

struct mn_tlb {
	struct mn_alloc *alloc;
	struct tlb_entry *e;
	unsigned int cap;
	unsigned int n;
	unsigned int next; /* FIFO replacement cursor */
	struct mn_tlb_stats st;
	int *bucket; /* hash chain heads, 1 << hbits of them */
	unsigned int hbits;
	uint64_t *free;				/* bit i set: slot i caches nothing */
	unsigned int words;			/* of @free */
	unsigned int nr_level[MN_PG_LEVEL_NUM]; /* valid entries of each size */
};

static uint64_t span(unsigned int level)
{
	return 1ULL << (MN_LEVEL_BITS * (level - 1));
}

static unsigned int hash(const struct mn_tlb *tlb, mn_gfn_t gfn, unsigned int level)
{
	uint64_t key = (gfn >> (MN_LEVEL_BITS * (level - 1))) << 3 | level;

	return (unsigned int)((key * 0x9e3779b97f4a7c15ULL) >> (64 - tlb->hbits));
}

int mn_tlb_create(struct mn_alloc *a, unsigned int capacity, struct mn_tlb **out)
{
	struct mn_tlb *tlb = mn_zalloc(a, sizeof(*tlb));
	unsigned int i;

	if (!tlb)
		return -ENOMEM;
	tlb->alloc = a;
	tlb->cap = capacity ? capacity : TLB_DEFAULT_CAPACITY;
	tlb->hbits = 1;
	while ((1U << tlb->hbits) < 2 * tlb->cap && tlb->hbits < 30)
		tlb->hbits++;
	tlb->words = (tlb->cap + 63) / 64;
	tlb->e = mn_calloc(a, tlb->cap, sizeof(*tlb->e));
	tlb->bucket = mn_calloc(a, 1U << tlb->hbits, sizeof(*tlb->bucket));
	tlb->free = mn_calloc(a, tlb->words, sizeof(*tlb->free));
	if (!tlb->e || !tlb->bucket || !tlb->free) {
		mn_free(a, tlb->free);
		mn_free(a, tlb->bucket);
		mn_free(a, tlb->e);
		mn_free(a, tlb);
		return -ENOMEM;
	}
	for (i = 0; i < (1U << tlb->hbits); i++)
		tlb->bucket[i] = TLB_NONE;
	for (i = 0; i < tlb->cap; i++)
		tlb->free[i / 64] |= 1ULL << (i % 64);
	*out = tlb;
	return 0;
}

void mn_tlb_destroy(struct mn_tlb *tlb)
{
	if (!tlb)
		return;
	mn_free(tlb->alloc, tlb->free);
	mn_free(tlb->alloc, tlb->bucket);
	mn_free(tlb->alloc, tlb->e);
	mn_free(tlb->alloc, tlb);
}

/* The lowest valid slot whose translation covers @gfn, or NULL. */
static struct tlb_entry *lookup(struct mn_tlb *tlb, mn_gfn_t gfn)
{
	struct tlb_entry *best = NULL;
	unsigned int level;

	for (level = MN_PG_LEVEL_4K; level < MN_PG_LEVEL_NUM; level++) {
		mn_gfn_t first = mn_align_down(gfn, span(level));
		int i;

		if (!tlb->nr_level[level])
			continue;
		for (i = tlb->bucket[hash(tlb, first, level)]; i != TLB_NONE; i = tlb->e[i].hnext) {
			struct tlb_entry *e = &tlb->e[i];

			if (e->gfn == first && e->level == level && (!best || e < best))
				best = e;
		}
	}
	return best;
}

/* Drop the translation in @e: out of its chain, its slot free again. */
static void drop(struct mn_tlb *tlb, struct tlb_entry *e)
{
	int idx = (int)(e - tlb->e);
	int *link = &tlb->bucket[hash(tlb, e->gfn, e->level)];

	while (*link != idx)
		link = &tlb->e[*link].hnext;
	*link = e->hnext;
	e->valid = false;
	tlb->free[idx / 64] |= 1ULL << (idx % 64);
	tlb->nr_level[e->level]--;
	tlb->n--;
}

/* The lowest free slot (there is one: fewer than @cap entries are valid). */
static unsigned int lowest_free(const struct mn_tlb *tlb)
{
	unsigned int w;

	for (w = 0; !tlb->free[w]; w++)
		;
	return w * 64 + (unsigned int)__builtin_ctzll(tlb->free[w]);
}

/* Cache a translation: in a free slot if there is one, else in place of the oldest fill. */
static struct tlb_entry *fill(struct mn_tlb *tlb, mn_gfn_t gfn, unsigned int level,
			      unsigned int perm, struct mn_frame_ref ref)
{
	struct tlb_entry *e;
	unsigned int idx, h;

	if (tlb->n < tlb->cap) {
		idx = lowest_free(tlb);
	} else {
		idx = tlb->next;
		tlb->next = (tlb->next + 1) % tlb->cap;
		tlb->st.evicted++;
		drop(tlb, &tlb->e[idx]);
	}
	e = &tlb->e[idx];
	*e = (struct tlb_entry){
		mn_align_down(gfn, span(level)), level, perm, ref, true, true, TLB_NONE
	};
	h = hash(tlb, e->gfn, level);
	e->hnext = tlb->bucket[h];
	tlb->bucket[h] = (int)idx;
	tlb->free[idx / 64] &= ~(1ULL << (idx % 64));
	tlb->nr_level[level]++;
	tlb->n++;
	tlb->st.fills++;
	return e;
}

/* The next valid slot at or after @i, or @cap. */
static unsigned int next_valid(const struct mn_tlb *tlb, unsigned int i)
{
	while (i < tlb->cap) {
		uint64_t used = ~tlb->free[i / 64] >> (i % 64);

		if (used) {
			i += (unsigned int)__builtin_ctzll(used);
			return i < tlb->cap ? i : tlb->cap;
		}
		i = (i / 64 + 1) * 64;
	}
	return tlb->cap;
}

/* What the hardware's walk writes into the leaf it used. */
struct hw_ad {
	bool write; /* the access is a store: set D too */
	bool has_d; /* the format has a dirty bit the walker manages */
};

static bool hw_ad_set(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	const struct hw_ad *ad = arg;
	bool set_d = ad->write && ad->has_d && (pte->perm & MN_PTE_W);

	(void)gfn;
	(void)gen;
	if (pte->kind != MN_PTE_LEAF || (pte->accessed && (!set_d || pte->dirty)))
		return false;
	pte->accessed = true;
	if (set_d)
		pte->dirty = true;
	return true;
}

/*
 * Whether the walker of @pt's format sets accessed/dirty bits in the entries it uses, for a
 * leaf @leaf:
 *
 * - x86 EPT: KVM enables A/D in the EPTP whenever the CPU has them (enable_ept_ad_bits;
 *   construct_eptp()), and then builds its SPTEs with an A/D type other than "disabled"
 *   (kvm_ad_enabled, spte_ad_enabled()). The CPU then sets A in every EPT entry the walk
 *   uses and, for a store, D in the leaf. The non-leaf entries already carry A from
 *   make_nonleaf_spte() and aging never clears it, so only the leaf can change. An
 *   A/D-disabled leaf (@ad_type 1) gets nothing: KVM ages it by access tracking
 *   (mark_spte_for_access_track() clears RWX), so its next use is an EPT violation that
 *   fast_page_fault() answers with restore_acc_track_spte().
 * - arm64 stage-2: kvm_get_vtcr() sets VTCR_EL2.HA (with CONFIG_ARM64_HW_AFDBM, the default,
 *   and not on CPUs with the Ampere AC03_CPU_38 erratum), so a CPU with FEAT_HAFDBS sets
 *   the access flag of the leaf as it walks. Without the feature the walk would take an
 *   access-flag fault, handle_access_fault() -> kvm_pgtable_stage2_mkyoung(), which ends
 *   in the same entry. KVM leaves VTCR_EL2.HD clear: stage-2 has no hardware dirty state.
 * - The host's x86-64 table: its accessor, mn_mm_access(), marks A/D itself after the
 *   access, so nothing is done here.
 */
static bool hw_sets_ad(const struct mn_pt_format *f, const struct mn_pte *leaf)
{
	switch (f->arch) {
	case MN_PT_EPT:
		return leaf->ad_type != 1; /* SPTE_TDP_AD_DISABLED */
	case MN_PT_STAGE2:
		return true;
	default:
		return false;
	}
}

/*
 * The walk's atomic A/D update of the leaf that translated @gfn (a locked read-modify-write
 * by the page walker in the same step as the access, so no yield point). A store sets D
 * (EPT) even when A was already set.
 */
static void hw_update_ad(struct mn_pt *pt, mn_gfn_t gfn, bool write)
{
	const struct mn_pt_format *f = mn_pt_get_format(pt);
	struct hw_ad ad = { write, f->arch == MN_PT_EPT };
	struct mn_pt_result res;

	mn_pt_update(pt, (struct mn_gfn_range){ gfn, gfn + 1 }, hw_ad_set, &ad, &res);
}

int mn_tlb_access(struct mn_tlb *tlb, struct mn_pt *pt, struct mn_phys *phys, mn_gfn_t gfn,
		  unsigned int perm, const char *what, mn_pfn_t *pfn)
{
	enum mn_use_kind kind = perm & MN_PTE_W ? MN_USE_WRITE : MN_USE_READ;
	const struct mn_pt_format *f = mn_pt_get_format(pt);
	struct tlb_entry *e = lookup(tlb, gfn);
	struct mn_frame_info fi;
	struct mn_frame_ref ref;
	struct mn_pt_walk w;
	int ret;

	if (e && (e->perm & perm) != perm) {
		/* A permission fault drops the translation: the retry walks the table again. */
		drop(tlb, e);
		e = NULL;
	}
	if (e) {
		tlb->st.hits++;
		if ((perm & MN_PTE_W) && !e->dirty) {
			/*
			 * A store through a translation cached clean: the CPU sets D in the
			 * leaf in memory (Intel SDM, EPT A/D flags), then in the entry.
			 */
			hw_update_ad(pt, gfn, true);
			e->dirty = true;
		}
	} else {
		bool dirty = true;
		unsigned int level;

		tlb->st.misses++;
		ret = mn_pt_walk(pt, gfn, &w);
		if (ret == -ENOENT || ret == -ERANGE)
			return -EFAULT;
		if (ret)
			return ret;
		if ((w.leaf.perm & perm) != perm)
			return -EACCES; /* a permission fault: nothing is cached */
		/* The walk's A/D update, before the translation is cached (hw_sets_ad()). */
		if (hw_sets_ad(f, &w.leaf)) {
			bool has_d = f->arch == MN_PT_EPT, store = perm & MN_PTE_W;

			if (!w.leaf.accessed || (store && has_d && !w.leaf.dirty))
				hw_update_ad(pt, gfn, store);
			dirty = !has_d || store || w.leaf.dirty;
		}
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
		e->dirty = dirty;
	}
	ref = mn_frame_ref_offset(e->ref, gfn - e->gfn);
	*pfn = ref.pfn;
	return mn_phys_use(phys, ref, kind, what);
}

/* Translations of size @level that [@r.start, @r.end) overlaps, @r not empty. */
static uint64_t keys_in(struct mn_gfn_range r, unsigned int level)
{
	unsigned int sh = MN_LEVEL_BITS * (level - 1);

	return ((r.end - 1) >> sh) - (r.start >> sh) + 1;
}

/* Drop the entries overlapping the non-empty @r by looking each possible one up. */
static unsigned int flush_probe(struct mn_tlb *tlb, struct mn_gfn_range r)
{
	unsigned int level, dropped = 0;

	for (level = MN_PG_LEVEL_4K; level < MN_PG_LEVEL_NUM; level++) {
		mn_gfn_t first = mn_align_down(r.start, span(level));
		uint64_t k, keys = tlb->nr_level[level] ? keys_in(r, level) : 0;

		for (k = 0; k < keys; k++, first += span(level)) {
			int i = tlb->bucket[hash(tlb, first, level)];

			while (i != TLB_NONE) {
				struct tlb_entry *e = &tlb->e[i];

				i = e->hnext;
				if (e->gfn == first && e->level == level) {
					drop(tlb, e);
					dropped++;
				}
			}
		}
	}
	return dropped;
}

unsigned int mn_tlb_flush(struct mn_tlb *tlb, enum mn_flush_kind kind, struct mn_gfn_range range,
			  unsigned int level)
{
	unsigned int i, l, dropped = 0;

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
	if (kind != MN_FLUSH_ALL && mn_gfn_range_empty(range))
		return 0;
	/*
	 * A narrow range probes the index once per size cached and per translation of that
	 * size it could hold; a wide one (or the whole VM) goes over the valid slots. Either
	 * way exactly the entries overlapping the range go.
	 */
	if (kind != MN_FLUSH_ALL) {
		uint64_t probes = 0;

		for (l = MN_PG_LEVEL_4K; l < MN_PG_LEVEL_NUM && probes <= tlb->n; l++) {
			uint64_t keys = tlb->nr_level[l] ? keys_in(range, l) : 0;

			probes = keys > tlb->n - probes ? (uint64_t)tlb->n + 1 : probes + keys;
		}
		if (probes <= tlb->n) {
			dropped = flush_probe(tlb, range);
			tlb->st.dropped += dropped;
			return dropped;
		}
	}
	for (i = next_valid(tlb, 0); i < tlb->cap; i = next_valid(tlb, i + 1)) {
		struct tlb_entry *e = &tlb->e[i];
		struct mn_gfn_range er = { e->gfn, e->gfn + span(e->level) };

		if (kind != MN_FLUSH_ALL && !mn_gfn_range_overlaps(er, range))
			continue;
		drop(tlb, e);
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
	unsigned int i;
	int n = 0;

	for (i = next_valid(tlb, 0); i < tlb->cap; i = next_valid(tlb, i + 1)) {
		const struct tlb_entry *e = &tlb->e[i];

		if (!e->ref.gen || mn_phys_ref_valid(phys, e->ref))
			continue;
		mn_phys_use(phys, e->ref, MN_USE_MAP, what); /* reports who freed it */
		n++;
	}
	return n;
}
