// SPDX-License-Identifier: MIT
/*
 * inval.c - the hot invalidation loop: invalidate_range_start() and _end() of a VM's
 * mmu_notifier subscription (kvm_mmu_notifier_ops, lib/kvm/mmu_notifier.c), sent as the
 * host's mmu_notifier_invalidate_range_start/end() send them (mn_mm_notify_invalidate()),
 * and the aging callbacks clear_young / test_young (mn_mm_notify_age()), over a matrix of
 * table formats, memslot counts and layouts, hva streams, range sizes, hit types,
 * densities and leaf levels. Each row is timed next to references measured in the same
 * run on the same events: a read+clear loop over the same entries laid out as 512-entry
 * tables (the zap roofline), a walk+clear of a plain radix tree holding the same leaves, a
 * bare interval-tree query on the same slot set, and a linear memslot scan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define HVA_BASE      0x100000000000ULL /* 16 TiB: where the VMM maps guest RAM */
#define PFN_BASE      0x1000000ULL	/* frames the leaves point at (never used) */
#define MAX_SLOTS     32764U		/* KVM_USER_MEM_SLOTS on x86 */
#define STRIDE_PIECES 521ULL		/* the strided stream's step, in ranges (prime) */
#define BATCH_ENTRIES 8192ULL		/* leaves one batch covers, at least */

enum fmt { F_EPT4, F_EPT5, F_S2, NR_FMT };
/*
 * L_2M: 2 MiB slots with 2 MiB hva gaps (contiguous in gpa); L_1G: 1 GiB slots with
 * 1 GiB hva gaps, for whole-slot ranges of 1 GiB and 1 GiB leaves.
 */
enum layout { L_2M, L_1G };
enum stream { SEQUENTIAL, RANDOM, STRIDED };
enum hit { NO_MEMSLOT, PRESENT, EMPTY };
enum range { R_4K, R_2M, R_1G, R_SLOT };
enum op { OP_UNMAP, OP_CLEAR_YOUNG, OP_TEST_YOUNG };

static const char *const fmt_names[NR_FMT] = { "x86-ept", "x86-ept5", "arm64-stage2" };
static const char *const layout_names[] = { "2M-slots-2M-gaps", "1G-slots-1G-gaps" };
static const char *const stream_names[] = { "sequential", "random", "strided" };
static const char *const hit_names[] = { "no-memslot", "present", "empty" };
static const char *const op_names[] = { "unmap", "clear_young", "test_young" };
static const char *const level_names[] = { "", "4K", "2M", "1G" };

struct row_cfg {
	enum fmt fmt;
	unsigned int slots;
	enum layout layout;
	enum stream stream;
	enum range range;
	enum hit hit;
	int density;		 /* 50 or 100 for PRESENT; 0 for EMPTY; -1 for NO_MEMSLOT */
	unsigned int leaf_level; /* MN_PG_LEVEL_4K, _2M or _1G */
	enum op op;
};

struct ev {
	mn_hva_t start, end;
	mn_gfn_t gstart, gend;
	uint64_t sh_first, sh_len; /* the event's block of the roofline's entries */
	uint64_t owned;		   /* leaves this event populated (not an earlier one) */
};

struct slot_node {
	struct mn_itree_node node;
	unsigned int id;
};

struct flat_slot {
	mn_hva_t start, last;
};

/* One VM with its slots, its notifier subscription and the references' slot sets. */
struct world {
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	struct mn_pt *pt; /* address space 0, where every slot lives */
	enum mn_vm_arch arch;
	enum layout layout;
	unsigned int levels;
	unsigned int slots;
	uint64_t slot_bytes, slot_pages, stride;
	struct mn_itree tree;
	struct slot_node *nodes;
	struct flat_slot *flat;
	uint64_t rng;
	uint64_t cursor;
	volatile uint64_t sink;
};

/* What one batch needs beside its events: the roofline's entries, the radix, a leaf set. */
struct batch_mem {
	uint64_t *shadow;
	uint64_t shadow_cap;
	uint64_t *seen; /* open addressing: leaf index + 1, 0 = empty */
	uint64_t seen_cap, seen_alloc;
	struct mn_bench_radix rx;
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t range_bytes(const struct world *w, enum range r)
{
	static const uint64_t b[] = { 4096ULL, 2ULL << 20, 1ULL << 30 };

	return r == R_SLOT ? w->slot_bytes : b[r];
}

static int fail(const char *what, const struct row_cfg *c)
{
	static const char *const rn[] = { "4K", "2M", "1G", "slot" };

	fprintf(stderr,
		"bench invalidate: SANITY CHECK FAILED: %s (%s, %s, %u slots, %s, %s, range %s, "
		"%s, density %d, leaf %s)\n",
		what, op_names[c->op], fmt_names[c->fmt], c->slots, layout_names[c->layout],
		stream_names[c->stream], rn[c->range], hit_names[c->hit], c->density,
		level_names[c->leaf_level]);
	return 1;
}

/* ---- the world ------------------------------------------------------------------------ */

static void world_destroy(struct world *w)
{
	mn_bench_world_free(w->vm, w->mm, w->sim);
	free(w->nodes);
	free(w->flat);
	memset(w, 0, sizeof(*w));
}

/*
 *  hva   HVA_BASE   +S         +2S        +3S
 *        [ slot 0  )  gap      [ slot 1  )  gap ...      (S: 2 MiB or 1 GiB)
 *  gpa   0          S          (contiguous: slot i at i * S)
 *
 * stage-2 gets 40 IPA bits for 2 MiB slots and 48 for 1 GiB slots (32764 GiB of gpa).
 */
static int world_create(struct world *w, enum fmt fmt, unsigned int slots, enum layout lay)
{
	struct mn_vm_config cfg = {
		.arch = fmt == F_S2 ? MN_VM_ARM64 : MN_VM_X86,
		.ept_levels = fmt == F_EPT5 ? 5 : 4,
		.ipa_bits = fmt == F_S2 ? (lay == L_1G ? 48 : 40) : 0,
	};
	unsigned int i;
	int ret;

	memset(w, 0, sizeof(*w));
	w->arch = cfg.arch;
	w->layout = lay;
	w->slots = slots;
	w->slot_bytes = lay == L_1G ? 1ULL << 30 : 2ULL << 20;
	w->slot_pages = w->slot_bytes >> MN_PAGE_SHIFT;
	w->stride = 2 * w->slot_bytes;
	w->rng = 0x6d6e73696dULL ^ ((uint64_t)fmt << 32) ^ ((uint64_t)lay << 40) ^ slots;
	ret = mn_sim_create(NULL, &w->sim); /* trace off, no oracle */
	if (!ret)
		ret = mn_mm_create(w->sim, NULL, &w->mm);
	if (!ret)
		ret = mn_vm_create(w->mm, &cfg, &w->vm);
	if (ret)
		goto err;
	w->pt = mn_vm_get_pt(w->vm, 0);
	w->levels = mn_pt_get_format(w->pt)->top_level;
	for (i = 0; i < slots; i++) {
		struct mn_userspace_memory_region2 r = {
			.slot = i,
			.guest_phys_addr = (uint64_t)i * w->slot_bytes,
			.memory_size = w->slot_bytes,
			.userspace_addr = HVA_BASE + (uint64_t)i * w->stride,
		};

		ret = mn_vm_set_user_memory_region2(w->vm, &r);
		if (ret)
			goto err;
	}
	/* The references: the same slots in a bare interval tree and in a flat array. */
	w->nodes = calloc(slots, sizeof(*w->nodes));
	w->flat = calloc(slots, sizeof(*w->flat));
	if (!w->nodes || !w->flat) {
		ret = -ENOMEM;
		goto err;
	}
	mn_itree_init(&w->tree);
	for (i = 0; i < slots; i++) {
		mn_hva_t start = HVA_BASE + (uint64_t)i * w->stride;

		w->nodes[i].id = i;
		w->nodes[i].node.start = start;
		w->nodes[i].node.last = start + w->slot_bytes - 1;
		w->flat[i] = (struct flat_slot){ start, start + w->slot_bytes - 1 };
		ret = mn_itree_insert(&w->tree, &w->nodes[i].node);
		if (ret)
			goto err;
	}
	return 0;
err:
	fprintf(stderr, "bench invalidate: cannot set up %u slots (%s, %s): %s\n", slots,
		fmt_names[fmt], layout_names[lay], strerror(-ret));
	world_destroy(w);
	return -1;
}

/* ---- events and population -------------------------------------------------------------- */

static uint64_t pick(struct world *w, enum stream s, uint64_t total, uint64_t step)
{
	switch (s) {
	case RANDOM:
		return rng_next(&w->rng) % total;
	case STRIDED:
		return (w->cursor++ * STRIDE_PIECES * step) % total;
	default:
		return (w->cursor++ * step) % total;
	}
}

/*
 * Ranges no larger than a slot: piece k of the slot area (slot k / per_slot, offset
 * k % per_slot), sequential, uniform or every STRIDE_PIECES-th; no-memslot events are the
 * same offsets moved into the gap after the slot. A 1 GiB range over 2 MiB slots starts
 * at a slot and covers 256 slots and their gaps (fewer at the end of the slot set).
 */
static void gen_events(struct world *w, const struct row_cfg *c, struct ev *ev, unsigned int n)
{
	uint64_t rb = range_bytes(w, c->range);
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (rb <= w->slot_bytes) {
			uint64_t per_slot = w->slot_bytes / rb;
			uint64_t k = pick(w, c->stream, (uint64_t)w->slots * per_slot, 1);
			uint64_t slot = k / per_slot, off = (k % per_slot) * rb;

			ev[i].start = HVA_BASE + slot * w->stride + off +
				      (c->hit == NO_MEMSLOT ? w->slot_bytes : 0);
			ev[i].end = ev[i].start + rb;
			ev[i].gstart = slot * w->slot_pages + (off >> MN_PAGE_SHIFT);
			ev[i].gend = ev[i].gstart + (rb >> MN_PAGE_SHIFT);
		} else {
			uint64_t span = rb / w->stride;
			uint64_t starts = w->slots > span ? w->slots - span + 1 : 1;
			uint64_t st = pick(w, c->stream, starts, span);
			uint64_t last = st + span < w->slots ? st + span : w->slots;

			ev[i].start = HVA_BASE + st * w->stride;
			ev[i].end = ev[i].start + rb;
			ev[i].gstart = st * w->slot_pages;
			ev[i].gend = last * w->slot_pages;
		}
	}
}

/* Insert leaf index @k into the batch's set. Return: true when it was not there. */
static bool seen_add(struct batch_mem *m, uint64_t k)
{
	uint64_t mask = m->seen_cap - 1, h = (k * 0x9e3779b97f4a7c15ULL) >> 20;

	for (;; h++) {
		uint64_t *e = &m->seen[h & mask];

		if (*e == k + 1)
			return false;
		if (!*e) {
			*e = k + 1;
			return true;
		}
	}
}

static struct mn_pte row_leaf(const struct world *w, const struct row_cfg *c, mn_gfn_t g)
{
	struct mn_pte l = mn_bench_leaf(w->arch, c->leaf_level, PFN_BASE + g);

	/* test_young asks page after page until one is young: old leaves make it ask all. */
	if (c->op == OP_TEST_YOUNG)
		l.accessed = false;
	return l;
}

/*
 * Lay out the roofline's blocks (one u64 per leaf the event's range meets), then map
 * @c->density percent of the leaves (each drawn at random) straight into the VM's own
 * table, in the roofline's block of the first event that meets them and in the radix.
 * Return: the leaves present afterwards, or -1.
 */
static int64_t populate(struct world *w, const struct row_cfg *c, struct ev *ev, unsigned int n,
			struct batch_mem *m)
{
	uint64_t lp = mn_level_pages(c->leaf_level), total = 0, cap;
	struct mn_pt_stats st;
	unsigned int i;

	for (i = 0; i < n; i++) {
		ev[i].sh_first = total;
		ev[i].sh_len = (ev[i].gend - 1) / lp - ev[i].gstart / lp + 1;
		ev[i].owned = 0;
		total += ev[i].sh_len;
	}
	if (total > m->shadow_cap) {
		free(m->shadow);
		m->shadow = malloc(total * sizeof(*m->shadow));
		m->shadow_cap = m->shadow ? total : 0;
		if (!m->shadow)
			return -1;
	}
	memset(m->shadow, 0, total * sizeof(*m->shadow));
	for (cap = 64; cap < 2 * total; cap <<= 1)
		;
	if (cap > m->seen_alloc) {
		free(m->seen);
		m->seen = malloc(cap * sizeof(*m->seen));
		m->seen_alloc = m->seen ? cap : 0;
		if (!m->seen)
			return -1;
	}
	m->seen_cap = cap; /* only what this batch needs is cleared and probed */
	memset(m->seen, 0, cap * sizeof(*m->seen));
	for (i = 0; i < n && c->hit == PRESENT; i++) {
		mn_gfn_t g;

		for (g = mn_align_down(ev[i].gstart, lp); g < ev[i].gend; g += lp) {
			struct mn_pte l = row_leaf(w, c, g);
			struct mn_pt_result res;
			uint64_t v = (PFN_BASE + g) << MN_PAGE_SHIFT | 0x7;

			if (!seen_add(m, g / lp))
				continue; /* an earlier event of the batch owns it */
			if (c->density < 100 && rng_next(&w->rng) % 100 >= (uint64_t)c->density)
				continue;
			if (mn_pt_map(w->pt, NULL, g, &l, &res) ||
			    mn_bench_radix_set(&m->rx, g, c->leaf_level, v))
				return -1;
			m->shadow[ev[i].sh_first + g / lp - ev[i].gstart / lp] = v;
			ev[i].owned++;
		}
	}
	mn_pt_get_stats(w->pt, &st);
	return (int64_t)st.leaves;
}

/* ---- the timed loops ---------------------------------------------------------------------- */

struct counters {
	uint64_t zapped, remote_flushes, tlbi, seq;
	int64_t in_progress;
	uint64_t mn_count;
};

static struct counters counters(const struct world *w)
{
	struct mn_vm_invalidate_state is;
	struct mn_vm_stats vs;
	struct mn_pt_stats ps;

	mn_vm_get_stats(w->vm, &vs);
	mn_pt_get_stats(w->pt, &ps);
	mn_vm_get_invalidate_state(w->vm, &is);
	/* The VM counts the walker's own flushes (stage-2 BBM) among its ranged flushes. */
	return (struct counters){
		.zapped = vs.zapped,
		.remote_flushes = vs.flush_all + vs.flush_range - ps.flush_ipa - ps.flush_range,
		.tlbi = ps.flush_ipa + ps.flush_range,
		.seq = is.seq,
		.in_progress = is.in_progress,
		.mn_count = is.mn_count,
	};
}

/*
 * One event as the host sends it: an invalidation (mmu_notifier_invalidate_range_start()
 * and _end(): the notifier SRCU, the subscriber list, the VM's handlers) or an aging call
 * (mmu_notifier_clear_young(), or test_young() page after page), without the host's
 * page-table work around it. Return: what the aging call answered, or 0.
 */
static int one_event(struct world *w, enum op op, const struct ev *e)
{
	switch (op) {
	case OP_CLEAR_YOUNG:
		return mn_mm_notify_age(w->mm, MN_AGE_CLEAR_YOUNG, e->start, e->end);
	case OP_TEST_YOUNG:
		return mn_mm_notify_age(w->mm, MN_AGE_TEST_YOUNG, e->start, e->end);
	default:
		return mn_mm_notify_invalidate(w->mm, MN_NOTIFY_UNMAP, e->start, e->end);
	}
}

static double time_events(struct world *w, enum op op, const struct ev *ev, unsigned int n)
{
	double t0 = mn_bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		one_event(w, op, &ev[i]);
	return (mn_bench_now_ns() - t0) / n;
}

/* The roofline: read every entry of the events' blocks and clear the present ones. */
static double time_read_clear(struct world *w, struct batch_mem *m, const struct ev *ev,
			      unsigned int n, uint64_t *cleared)
{
	uint64_t sum = 0, cnt = 0;
	double t0 = mn_bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t *e = m->shadow + ev[i].sh_first, j;

		for (j = 0; j < ev[i].sh_len; j++) {
			uint64_t v = e[j];

			if (v) {
				sum += v;
				cnt++;
				e[j] = 0;
			}
		}
	}
	t0 = (mn_bench_now_ns() - t0) / n;
	w->sink += sum;
	*cleared = cnt;
	return t0;
}

/* The radix model of a range zap: walk the tables the range meets, clear the leaves. */
static double time_walk_clear(struct world *w, struct batch_mem *m, const struct ev *ev,
			      unsigned int n, uint64_t *cleared)
{
	uint64_t sum = 0, cnt = 0;
	double t0 = mn_bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		cnt += mn_bench_radix_walk_clear(&m->rx, ev[i].gstart, ev[i].gend, &sum);
	t0 = (mn_bench_now_ns() - t0) / n;
	w->sink += sum;
	*cleared = cnt;
	return t0;
}

static double time_itree(struct world *w, const struct ev *ev, unsigned int n)
{
	double t0 = mn_bench_now_ns();
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct mn_itree_node *node;

		mn_itree_for_each(node, &w->tree, ev[i].start, ev[i].end - 1)
			sum += ((const struct slot_node *)node)->id + 1;
	}
	t0 = (mn_bench_now_ns() - t0) / n;
	w->sink += sum;
	return t0;
}

static double time_linear(struct world *w, const struct ev *ev, unsigned int n)
{
	double t0 = mn_bench_now_ns();
	uint64_t sum = 0;
	unsigned int i, s;

	for (i = 0; i < n; i++)
		for (s = 0; s < w->slots; s++)
			if (w->flat[s].start <= ev[i].end - 1 && w->flat[s].last >= ev[i].start)
				sum += s + 1;
	t0 = (mn_bench_now_ns() - t0) / n;
	w->sink += sum;
	return t0;
}

/* ---- one row ---------------------------------------------------------------------------- */

#define MAX_REPS 32

struct rep_data {
	double ev[MAX_REPS], rc[MAX_REPS], wc[MAX_REPS], it[MAX_REPS], lin[MAX_REPS];
};

static uint64_t footprint(struct world *w)
{
	uint64_t bytes = 0;
	unsigned int as;

	for (as = 0; as < 2; as++) {
		struct mn_pt *pt = mn_vm_get_pt(w->vm, as);
		struct mn_pt_stats st;

		if (!pt)
			continue;
		mn_pt_get_stats(pt, &st);
		bytes += st.tables * MN_PAGE_SIZE;
	}
	return bytes;
}

/*
 * Populate, then run a batch of events through the VM and check what they did. Unmap:
 * every populated leaf zapped, none left, the sequence bumped once per event that met a
 * memslot. Aging: every leaf still there, none young after clear_young, the answers what
 * the leaves say (checked event by event in the warm-up), no sequence change. Both: the
 * bookkeeping balanced, at most one remote flush per event (@per_event: event by event,
 * untimed). *@work receives the entries the events handled.
 */
static int batch(struct world *w, const struct row_cfg *c, struct ev *ev, unsigned int n,
		 struct batch_mem *m, bool per_event, double *ns, uint64_t *work, uint64_t *remote,
		 uint64_t *tlbi)
{
	struct counters a, b;
	struct mn_pt_result res;
	int64_t present;
	unsigned int i;

	gen_events(w, c, ev, n);
	present = populate(w, c, ev, n, m);
	if (present < 0)
		return fail("populating the secondary table failed", c);
	if (c->hit == PRESENT && present == 0 && c->density == 100)
		return fail("nothing populated in a hit range", c);
	a = counters(w);
	if (per_event) {
		for (i = 0; i < n; i++) {
			struct counters x = counters(w), y;
			int ans = one_event(w, c->op, &ev[i]);

			y = counters(w);
			if (y.remote_flushes - x.remote_flushes > 1)
				return fail("more than one remote TLB flush for one event", c);
			if (c->op == OP_CLEAR_YOUNG && ans != (ev[i].owned > 0))
				return fail("clear_young's answer is not what the leaves say", c);
			if (c->op == OP_TEST_YOUNG && ans != 0)
				return fail("test_young answered young over old leaves", c);
		}
		*ns = 0;
	} else {
		*ns = time_events(w, c->op, ev, n);
	}
	b = counters(w);
	if (b.in_progress || b.mn_count)
		return fail("invalidation bookkeeping not balanced", c);
	if (b.remote_flushes - a.remote_flushes > n)
		return fail("more remote TLB flushes than events", c);
	*remote = b.remote_flushes - a.remote_flushes;
	*tlbi = b.tlbi - a.tlbi;
	if (c->op == OP_UNMAP) {
		struct mn_pt_stats st;

		if (b.zapped - a.zapped != (uint64_t)present)
			return fail("entries zapped != entries populated", c);
		mn_pt_get_stats(w->pt, &st);
		if (st.leaves)
			return fail("leaves left after the invalidations", c);
		if (b.seq - a.seq != (c->hit == NO_MEMSLOT ? 0 : n))
			return fail("mmu_invalidate_seq did not move once per event that met a "
				    "slot",
				    c);
		*work = b.zapped - a.zapped;
		return 0;
	}
	{
		struct mn_bench_census t =
			mn_bench_census(w->pt, 0, (uint64_t)w->slots * w->slot_pages);

		if (b.zapped != a.zapped || b.seq != a.seq)
			return fail("aging zapped or invalidated", c);
		if (t.leaves != (uint64_t)present)
			return fail("aging changed the leaves present", c);
		if (c->op == OP_CLEAR_YOUNG && t.young)
			return fail("young leaves left after clear_young", c);
		if (c->op == OP_TEST_YOUNG && t.young)
			return fail("test_young made a leaf young", c);
	}
	*work = (uint64_t)present;
	/* Untimed: empty the table for the next batch (the aged leaves are still there). */
	mn_pt_zap(w->pt, NULL, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, 0, &res);
	return 0;
}

/* Leaves one event meets; the batch covers about BATCH_ENTRIES of them. */
static uint64_t leaves_per_event(const struct world *w, const struct row_cfg *c)
{
	uint64_t pages = range_bytes(w, c->range) >> MN_PAGE_SHIFT;
	uint64_t lp = mn_level_pages(c->leaf_level);

	if (range_bytes(w, c->range) > w->slot_bytes) /* half of it is gaps */
		pages = (pages / 2 < w->slots * w->slot_pages) ? pages / 2
							       : w->slots * w->slot_pages;
	return pages > lp ? pages / lp : 1;
}

static int run_row(struct world *w, const struct row_cfg *c, int reps, struct batch_mem *mp,
		   struct mn_bench_row *row)
{
	/* test_young asks page by page: its batch covers BATCH_ENTRIES pages. */
	uint64_t epe = c->op == OP_TEST_YOUNG ? range_bytes(w, c->range) >> MN_PAGE_SHIFT
					      : leaves_per_event(w, c);
	unsigned int n = c->hit == NO_MEMSLOT	? 1024
			 : epe >= BATCH_ENTRIES ? 1
						: (unsigned int)(BATCH_ENTRIES / epe);
	uint64_t work_all = 0, remote_all = 0, tlbi_all = 0, work, remote, tlbi;
	struct mn_bench_stats st_ev, st_rc, st_wc, st_it, st_lin;
	struct batch_mem m = *mp; /* the buffers of earlier rows, and a new radix */
	struct mn_pt_result res;
	struct rep_data *d;
	struct ev *ev;
	double ns;
	int r, ret = 1;

	n = n > 1024 ? 1024 : n;
	ev = calloc(n, sizeof(*ev));
	d = calloc(1, sizeof(*d));
	if (!ev || !d || mn_bench_radix_init(&m.rx, w->levels)) {
		ret = 2;
		goto out;
	}
	/* A clean table: leaves of another level must not be in the way. */
	mn_pt_zap(w->pt, NULL, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, MN_PT_ZAP_FREE_TABLES,
		  &res);
	w->cursor = 0;

	/*
	 * Warm-up, checked event by event. The radix keeps its tables from batch to batch,
	 * as the VM's table does (walk+clear and the zap clear leaves only).
	 */
	if (batch(w, c, ev, n, &m, true, &ns, &work, &remote, &tlbi))
		goto out;
	mn_bench_radix_walk_clear(&m.rx, 0, UINT64_MAX >> 12, &work);
	for (r = 0; r < reps; r++) {
		uint64_t cleared;

		if (batch(w, c, ev, n, &m, false, &d->ev[r], &work, &remote, &tlbi))
			goto out;
		work_all += work;
		remote_all += remote;
		tlbi_all += tlbi;
		/* The references, on the same events, right after. */
		d->rc[r] = time_read_clear(w, &m, ev, n, &cleared);
		if (cleared != work) {
			fail("the roofline cleared another number of entries than the VM handled",
			     c);
			goto out;
		}
		d->wc[r] = time_walk_clear(w, &m, ev, n, &cleared);
		if (cleared != work) {
			fail("walk+clear cleared another number of entries than the VM handled", c);
			goto out;
		}
		d->it[r] = time_itree(w, ev, n);
		/* The linear scan is slow by design: time it on the first events only. */
		d->lin[r] = time_linear(w, ev, n < 64 ? n : 64);
	}
	mn_bench_stats_compute(d->ev, (unsigned int)reps, &st_ev);
	mn_bench_stats_compute(d->rc, (unsigned int)reps, &st_rc);
	mn_bench_stats_compute(d->wc, (unsigned int)reps, &st_wc);
	mn_bench_stats_compute(d->it, (unsigned int)reps, &st_it);
	mn_bench_stats_compute(d->lin, (unsigned int)reps, &st_lin);

	memset(row, 0, sizeof(*row));
	row->bench = "invalidate";
	row->op = op_names[c->op];
	row->arch = fmt_names[c->fmt];
	row->levels = w->levels;
	row->slots = w->slots;
	row->layout = layout_names[w->layout];
	row->stream = stream_names[c->stream];
	row->range_bytes = range_bytes(w, c->range);
	row->hit = hit_names[c->hit];
	row->density = c->density;
	row->leaf_level = level_names[c->leaf_level];
	row->footprint = footprint(w);
	row->events = (uint64_t)n * (uint64_t)reps;
	row->reps = reps;
	row->ns_per_event = st_ev;
	row->entries_zapped = work_all;
	if (work_all) {
		double per_event = (double)work_all / (double)row->events;

		row->ns_per_entry = st_ev.p50 / per_event;
		row->entries_per_s = 1e9 / row->ns_per_entry;
	} else {
		row->ns_per_entry = -1;
		row->entries_per_s = -1;
	}
	row->read_clear_ns = c->hit == NO_MEMSLOT ? -1 : st_rc.p50;
	row->walk_clear_ns = c->hit == NO_MEMSLOT ? -1 : st_wc.p50;
	row->walk_clear_ratio = row->walk_clear_ns > 0 ? st_ev.p50 / row->walk_clear_ns : -1;
	row->itree_ns = st_it.p50;
	row->linear_ns = st_lin.p50;
	/*
	 * Present leaves: the zap roofline. Nothing present: the radix walk (what an empty
	 * table costs to look at). No memslot: the tree query.
	 */
	if (c->hit == PRESENT) {
		row->ref_name = "read_clear";
		row->ref_ns = st_rc;
	} else if (c->hit == EMPTY) {
		row->ref_name = "walk_clear";
		row->ref_ns = st_wc;
	} else {
		row->ref_name = "itree";
		row->ref_ns = st_it;
	}
	row->ratio = row->ref_ns.p50 > 0 ? st_ev.p50 / row->ref_ns.p50 : -1;
	row->flushes_per_event = (double)remote_all / (double)row->events;
	row->tlbi_per_event = (double)tlbi_all / (double)row->events;
	ret = 0;
out:
	mn_bench_radix_free(&m.rx);
	*mp = m;
	free(ev);
	free(d);
	return ret;
}

/* ---- the matrix --------------------------------------------------------------------------- */

/* The values of one mode; a row is run when its combination is valid for its layout. */
struct matrix {
	const enum fmt *fmts;
	unsigned int nfmts;
	const unsigned int *slots;
	unsigned int nslots;
	unsigned int layouts; /* 1: L_2M only, 2: both */
	const enum stream *streams;
	unsigned int nstreams;
	const enum range *ranges;
	unsigned int nranges;
	const enum hit *hits;
	unsigned int nhits;
	const int *dens;
	unsigned int ndens;
	const enum op *ops;
	unsigned int nops;
	int reps;
};

#define N(a) (unsigned int)(sizeof(a) / sizeof((a)[0]))

/*
 * Layout 2 MiB: ranges 4 KiB, 2 MiB (inside a slot) and 1 GiB (across 256 slots), leaves
 * 4K and 2M; no-memslot only for ranges that fit a gap. Layout 1 GiB: the whole slot with
 * any leaf, and 4 KiB / 2 MiB ranges inside a 1G leaf. Without present leaves, the leaf
 * level means nothing: those rows are run once, as 4K.
 */
static bool row_valid(enum layout lay, enum range r, enum hit h, unsigned int lf)
{
	if (h != PRESENT && lf != MN_PG_LEVEL_4K)
		return false;
	if (lay == L_2M)
		return r != R_SLOT && lf != MN_PG_LEVEL_1G && !(h == NO_MEMSLOT && r == R_1G);
	if (r == R_SLOT)
		return true;
	return (r == R_4K || r == R_2M) && h == PRESENT && lf == MN_PG_LEVEL_1G;
}

/*
 * Whether the matrix runs @c on @w: the combinations that mean something (row_valid()),
 * and the mode's subset.
 */
static bool row_wanted(const struct mn_bench_opts *o, const struct world *w,
		       const struct row_cfg *c)
{
	if (!row_valid(c->layout, c->range, c->hit, c->leaf_level))
		return false;
	/*
	 * Aging is run where it finds something or nothing at all: not on empty tables, and
	 * not on the strided stream. test_young asks page by page, as page_idle and
	 * khugepaged do, so it is run on ranges of at most 2 MiB.
	 */
	if (c->op != OP_UNMAP && (c->hit == EMPTY || c->stream == STRIDED))
		return false;
	if (c->op == OP_TEST_YOUNG && range_bytes(w, c->range) > (2ULL << 20))
		return false;
	/* PR mode's 1 GiB slots: the dense 1 GiB zap of the target only. */
	if (o->mode == MN_BENCH_PR && c->layout == L_1G &&
	    (c->op != OP_UNMAP || c->hit != PRESENT || c->density != 100 ||
	     c->leaf_level != MN_PG_LEVEL_4K || c->stream != SEQUENTIAL))
		return false;
	/* The quick subset: 100 % dense 4K leaves, and the misses. */
	if (o->mode == MN_BENCH_QUICK &&
	    (c->leaf_level != MN_PG_LEVEL_4K || (c->hit == PRESENT && c->density != 100)))
		return false;
	return true;
}

/* The dimensions of one world's rows, in the order they are printed (the last varies first). */
enum { D_OP, D_HIT, D_LEAF, D_RANGE, D_DENS, D_STREAM, NR_DIMS };

static unsigned int dim_size(const struct matrix *mx, const unsigned int *i, int d)
{
	switch (d) {
	case D_OP:
		return mx->nops;
	case D_HIT:
		return mx->nhits;
	case D_LEAF:
		return MN_PG_LEVEL_1G; /* 4K, 2M, 1G */
	case D_RANGE:
		return mx->nranges;
	case D_DENS:
		return mx->hits[i[D_HIT]] == PRESENT ? mx->ndens : 1;
	default:
		return mx->nstreams;
	}
}

/* Step the mixed-radix index @i to the next combination. Return: false after the last. */
static bool next_index(const struct matrix *mx, unsigned int *i)
{
	int d;

	for (d = NR_DIMS - 1; d >= 0; d--) {
		if (++i[d] < dim_size(mx, i, d))
			return true;
		i[d] = 0;
	}
	return false;
}

static struct row_cfg row_at(const struct matrix *mx, enum fmt fmt, unsigned int slots,
			     enum layout lay, const unsigned int *i)
{
	enum hit h = mx->hits[i[D_HIT]];

	return (struct row_cfg){
		.fmt = fmt,
		.slots = slots,
		.layout = lay,
		.stream = mx->streams[i[D_STREAM]],
		.range = mx->ranges[i[D_RANGE]],
		.hit = h,
		.density = h == PRESENT ? mx->dens[i[D_DENS]]
			   : h == EMPTY ? 0
					: -1,
		.leaf_level = MN_PG_LEVEL_4K + i[D_LEAF],
		.op = mx->ops[i[D_OP]],
	};
}

static int run_world(const struct mn_bench_opts *o, const struct matrix *mx, enum fmt fmt,
		     unsigned int slots, enum layout lay)
{
	unsigned int i[NR_DIMS] = { 0 };
	struct batch_mem m = { 0 };
	struct world w;
	int ret = 0;

	if (world_create(&w, fmt, slots, lay))
		return 2;
	do {
		struct row_cfg c = row_at(mx, fmt, slots, lay, i);
		struct mn_bench_row row;

		if (!row_wanted(o, &w, &c))
			continue;
		ret = run_row(&w, &c, mx->reps, &m, &row);
		if (ret)
			break;
		if (o->json)
			mn_bench_print_json(o->out, &row);
		else
			mn_bench_print_table_row(o->out, &row);
		fflush(o->out);
	} while (next_index(mx, i));
	free(m.shadow);
	free(m.seen);
	world_destroy(&w);
	return ret;
}

int mn_bench_invalidate(const struct mn_bench_opts *o)
{
	static const enum fmt pr_fmts[] = { F_EPT4, F_S2 };
	static const enum fmt all_fmts[] = { F_EPT4, F_EPT5, F_S2 };
	static const unsigned int quick_slots[] = { 10, MAX_SLOTS };
	static const unsigned int pr_slots[] = { 10, 509, MAX_SLOTS };
	static const unsigned int all_slots[] = { 1, 10, 100, 509, 8192, MAX_SLOTS };
	static const enum stream pr_streams[] = { SEQUENTIAL, RANDOM };
	static const enum stream all_streams[] = { SEQUENTIAL, RANDOM, STRIDED };
	static const enum range quick_ranges[] = { R_4K, R_2M };
	static const enum range pr_ranges[] = { R_4K, R_2M, R_1G, R_SLOT };
	static const enum hit pr_hits[] = { NO_MEMSLOT, PRESENT };
	static const enum hit all_hits[] = { NO_MEMSLOT, PRESENT, EMPTY };
	static const int quick_dens[] = { 100 };
	static const int pr_dens[] = { 50, 100 };
	static const enum op quick_ops[] = { OP_UNMAP };
	static const enum op pr_ops[] = { OP_UNMAP, OP_CLEAR_YOUNG };
	static const enum op all_ops[] = { OP_UNMAP, OP_CLEAR_YOUNG, OP_TEST_YOUNG };
	/* clang-format off */
	static const struct matrix quick = {
		.fmts = pr_fmts, .nfmts = N(pr_fmts),
		.slots = quick_slots, .nslots = N(quick_slots),
		.layouts = 1,
		.streams = pr_streams, .nstreams = N(pr_streams),
		.ranges = quick_ranges, .nranges = N(quick_ranges),
		.hits = pr_hits, .nhits = N(pr_hits),
		.dens = quick_dens, .ndens = N(quick_dens),
		.ops = quick_ops, .nops = N(quick_ops),
		.reps = 5,
	};
	static const struct matrix pr = {
		.fmts = pr_fmts, .nfmts = N(pr_fmts),
		.slots = pr_slots, .nslots = N(pr_slots),
		.layouts = 2,
		.streams = pr_streams, .nstreams = N(pr_streams),
		.ranges = pr_ranges, .nranges = N(pr_ranges),
		.hits = pr_hits, .nhits = N(pr_hits),
		.dens = pr_dens, .ndens = N(pr_dens),
		.ops = pr_ops, .nops = N(pr_ops),
		.reps = 11,
	};
	static const struct matrix full = {
		.fmts = all_fmts, .nfmts = N(all_fmts),
		.slots = all_slots, .nslots = N(all_slots),
		.layouts = 2,
		.streams = all_streams, .nstreams = N(all_streams),
		.ranges = pr_ranges, .nranges = N(pr_ranges),
		.hits = all_hits, .nhits = N(all_hits),
		.dens = pr_dens, .ndens = N(pr_dens),
		.ops = all_ops, .nops = N(all_ops),
		.reps = 5,
	};
	/* clang-format on */
	const struct matrix *mx = o->mode == MN_BENCH_QUICK ? &quick
				  : o->mode == MN_BENCH_PR  ? &pr
							    : &full;
	unsigned int fi, si, lay;
	int ret = 0;

	if (!o->json)
		mn_bench_print_table_header(o->out);
	for (fi = 0; fi < mx->nfmts && !ret; fi++)
		for (si = 0; si < mx->nslots && !ret; si++)
			for (lay = 0; lay < mx->layouts && !ret; lay++) {
				/* PR mode: the 1 GiB slots once per format. */
				if (o->mode == MN_BENCH_PR && lay == L_1G && mx->slots[si] != 10)
					continue;
				ret = run_world(o, mx, mx->fmts[fi], mx->slots[si], lay);
			}
	return ret;
}

/* ---- front ends ------------------------------------------------------------------------- */

int mn_bench_parse_args(const char *prog, int argc, char **argv, struct mn_bench_opts *o)
{
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			o->mode = MN_BENCH_QUICK;
		} else if (!strcmp(a, "--full")) {
			o->mode = MN_BENCH_FULL;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--cpu") || !strncmp(a, "--cpu=", 6)) {
			const char *v = a[5] == '=' ? a + 6 : i + 1 < argc ? argv[++i] : NULL;
			char *end;
			long cpu = v ? strtol(v, &end, 10) : -1;

			if (!v || !*v || *end || cpu < 0 || cpu >= 1024) {
				fprintf(stderr, "%s: --cpu needs a CPU number\n", prog);
				return -EINVAL;
			}
			o->cpu = (int)cpu;
		} else {
			fprintf(stderr,
				"%s: unknown argument '%s' (usage: %s [--quick|--full] "
				"[--json] [--cpu N])\n",
				prog, a, prog);
			return -EINVAL;
		}
	}
	return 0;
}

int mn_bench_run(const struct mn_bench_opts *o)
{
	static const char *const modes[] = { "quick", "pr", "full" };
	double t0 = mn_bench_now_ns();
	int ret;

	if (o->cpu >= 0) {
		ret = mn_bench_pin_cpu(o->cpu);
		if (ret) {
			fprintf(stderr, "bench: cannot pin to CPU %d: %s\n", o->cpu,
				strerror(-ret));
			return 2;
		}
	}
	if (!o->json)
		fprintf(o->out,
			"mnsim bench (%s): %s, %u CPUs%s, git %s, allocator %s\n"
			"ns/ev: median ns per invalidate_range_start+end pair; ratio: ns/ev over "
			"the "
			"reference's ns per event, same events, same run\n",
			modes[o->mode], mn_bench_cpu_model(), mn_bench_nr_cpus(),
			o->cpu >= 0 ? " (pinned)" : "", mn_bench_git_sha(), mn_alloc_backend());
	ret = mn_bench_invalidate(o);
	if (!ret)
		ret = mn_bench_ops(o);
	if (!ret)
		ret = mn_bench_ops_notify(o);
	if (!ret)
		ret = mn_bench_sparse(o);
	if (!ret)
		ret = mn_bench_selftests(o);
	if (!ret)
		ret = mn_bench_selftests_more(o);
	if (!o->json)
		fprintf(o->out, "%s after %.1f s\n", ret ? "FAILED" : "done",
			(mn_bench_now_ns() - t0) / 1e9);
	return ret;
}
