// SPDX-License-Identifier: MIT
/*
 * inval.c - the hot invalidation loop: invalidate_range_start() and _end() of a VM's
 * mmu_notifier subscription (kvm_mmu_notifier_ops, lib/kvm/mmu_notifier.c), called as the
 * host's mmu_notifier_invalidate_range_start/end() call them, over a matrix of memslot
 * counts, hva streams, range sizes, hit types, densities, leaf levels and table formats.
 * Each row is timed next to three references measured in the same run on the same events:
 * a read+clear loop over the same present u64 entries laid out as 512-entry tables (the
 * zap roofline), a bare interval-tree query on the same slot set, and a linear memslot scan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <mnsim.h>

#include "bench.h"
#include "harness.h"

#define SLOT_BYTES  (2ULL << 20)		/* every memslot: 2 MiB of guest RAM ... */
#define SLOT_STRIDE (4ULL << 20)		/* ... 4 MiB apart in the VMM: 2 MiB gaps */
#define SLOT_PAGES  (SLOT_BYTES >> MN_PAGE_SHIFT)
#define HVA_BASE    0x100000000000ULL		/* 16 TiB: where the VMM maps guest RAM */
#define PFN_BASE    0x1000000ULL		/* frames the leaves point at (never used) */
#define LAYOUT	    "2M-slots-2M-gaps"
#define MAX_SLOTS   32764U			/* KVM_USER_MEM_SLOTS on x86 */

enum stream { SEQUENTIAL, RANDOM };
enum hit { NO_MEMSLOT, PRESENT };

struct row_cfg {
	unsigned int fmt; /* 0: EPT 4-level, 1: stage-2 4K granule */
	unsigned int slots;
	enum stream stream;
	uint64_t range_bytes;
	enum hit hit;
	int density;		/* 50 or 100 */
	unsigned int leaf_level; /* MN_PG_LEVEL_4K or MN_PG_LEVEL_2M */
};

struct ev {
	mn_hva_t start, end;
	mn_gfn_t gstart, gend;
};

struct slot_node {
	struct mn_itree_node node;
	unsigned int id;
};

struct flat_slot {
	mn_hva_t start, last;
};

/* One VM with its slots, its notifier subscription and the references' data. */
struct world {
	struct mn_sim *sim;
	struct mn_mm *mm;
	struct mn_vm *vm;
	struct mn_pt *pt;	 /* address space 0, where every slot lives */
	enum mn_vm_arch arch;
	unsigned int levels;
	unsigned int slots;
	struct mn_itree tree;
	struct slot_node *nodes;
	struct flat_slot *flat;
	uint64_t *shadow; /* the roofline's tables: one u64 per leaf, 512 per table */
	uint64_t rng;
	uint64_t cursor;
	volatile uint64_t sink;
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int fail(const char *what, const struct row_cfg *c)
{
	fprintf(stderr,
		"bench invalidate: SANITY CHECK FAILED: %s (format %u, %u slots, %s, range %llu, "
		"%s, density %d, leaf level %u)\n",
		what, c->fmt, c->slots, c->stream == RANDOM ? "random" : "sequential",
		(unsigned long long)c->range_bytes, c->hit == PRESENT ? "present" : "no-memslot",
		c->density, c->leaf_level);
	return 1;
}

/* ---- the world ------------------------------------------------------------------------ */


static void world_destroy(struct world *w)
{
	if (w->vm)
		mn_vm_destroy(w->vm);
	if (w->mm)
		mn_mm_destroy(w->mm);
	if (w->sim)
		mn_sim_destroy(w->sim);
	free(w->nodes);
	free(w->flat);
	free(w->shadow);
	memset(w, 0, sizeof(*w));
}

/*
 *  hva   HVA_BASE   +2M        +4M        +6M
 *        [ slot 0  )  gap      [ slot 1  )  gap ...
 *  gpa   0          2M         (contiguous: slot i at i * 2 MiB)
 */
static int world_create(struct world *w, unsigned int fmt, unsigned int slots)
{
	struct mn_vm_config cfg = { .arch = fmt ? MN_VM_ARM64 : MN_VM_X86, .ept_levels = 4 };
	unsigned int i;
	int ret;

	memset(w, 0, sizeof(*w));
	w->arch = cfg.arch;
	w->slots = slots;
	w->rng = 0x6d6e73696dULL ^ ((uint64_t)fmt << 32) ^ slots;
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
			.guest_phys_addr = (uint64_t)i * SLOT_BYTES,
			.memory_size = SLOT_BYTES,
			.userspace_addr = HVA_BASE + (uint64_t)i * SLOT_STRIDE,
		};

		ret = mn_vm_set_user_memory_region2(w->vm, &r);
		if (ret)
			goto err;
	}
	/* The references: the same slots in a bare interval tree and in a flat array. */
	w->nodes = calloc(slots, sizeof(*w->nodes));
	w->flat = calloc(slots, sizeof(*w->flat));
	w->shadow = calloc((size_t)slots * SLOT_PAGES, sizeof(*w->shadow));
	if (!w->nodes || !w->flat || !w->shadow) {
		ret = -ENOMEM;
		goto err;
	}
	mn_itree_init(&w->tree);
	for (i = 0; i < slots; i++) {
		mn_hva_t start = HVA_BASE + (uint64_t)i * SLOT_STRIDE;

		w->nodes[i].id = i;
		w->nodes[i].node.start = start;
		w->nodes[i].node.last = start + SLOT_BYTES - 1;
		w->flat[i] = (struct flat_slot){ start, start + SLOT_BYTES - 1 };
		ret = mn_itree_insert(&w->tree, &w->nodes[i].node);
		if (ret)
			goto err;
	}
	return 0;
err:
	fprintf(stderr, "bench invalidate: cannot set up %u slots: %s\n", slots, strerror(-ret));
	world_destroy(w);
	return -1;
}

/* ---- events and population -------------------------------------------------------------- */

static void gen_events(struct world *w, const struct row_cfg *c, struct ev *ev, unsigned int n)
{
	uint64_t per_slot = SLOT_BYTES / c->range_bytes;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t slot, off;

		if (c->stream == SEQUENTIAL) {
			uint64_t k = w->cursor++;

			slot = (k / per_slot) % w->slots;
			off = (k % per_slot) * c->range_bytes;
		} else {
			slot = rng_next(&w->rng) % w->slots;
			off = (rng_next(&w->rng) % per_slot) * c->range_bytes;
		}
		ev[i].start = HVA_BASE + slot * SLOT_STRIDE + off +
			      (c->hit == NO_MEMSLOT ? SLOT_BYTES : 0);
		ev[i].end = ev[i].start + c->range_bytes;
		ev[i].gstart = slot * SLOT_PAGES + (off >> MN_PAGE_SHIFT);
		ev[i].gend = ev[i].gstart + (c->range_bytes >> MN_PAGE_SHIFT);
	}
}


/*
 * Map the leaves the events' ranges cover, @c->density percent of them (each leaf drawn
 * at random), straight into the VM's own table, and mirror them in the roofline's array.
 * Return: the leaves present afterwards, or -1.
 */
static int64_t populate(struct world *w, const struct row_cfg *c, const struct ev *ev,
			unsigned int n)
{
	uint64_t lp = mn_level_pages(c->leaf_level);
	struct mn_pt_stats st;
	unsigned int i;

	for (i = 0; i < n && c->hit == PRESENT; i++) {
		mn_gfn_t g;

		for (g = mn_align_down(ev[i].gstart, lp); g < ev[i].gend; g += lp) {
			struct mn_pte l = mn_bench_leaf(w->arch, c->leaf_level, PFN_BASE + g);
			struct mn_pt_result res;

			if (c->density < 100 && rng_next(&w->rng) % 100 >= (uint64_t)c->density)
				continue;
			if (mn_pt_map(w->pt, NULL, g, &l, &res))
				return -1;
			w->shadow[g / lp] = (PFN_BASE + g) << MN_PAGE_SHIFT | 0x7;
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
 * One invalidation as the host sends it (mmu_notifier_invalidate_range_start()/_end():
 * the notifier SRCU, the subscriber list, the VM's handlers), without the host page-table
 * work around it.
 */
static void one_event(struct world *w, const struct ev *e)
{
	mn_mm_notify_invalidate(w->mm, MN_NOTIFY_UNMAP, e->start, e->end);
}

static double time_events(struct world *w, const struct ev *ev, unsigned int n)
{
	double t0 = mn_bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		one_event(w, &ev[i]);
	return (mn_bench_now_ns() - t0) / n;
}

/* The roofline: read every entry of the events' ranges and clear the present ones. */
static double time_read_clear(struct world *w, const struct row_cfg *c, const struct ev *ev,
			      unsigned int n, uint64_t *cleared)
{
	uint64_t lp = mn_level_pages(c->leaf_level), sum = 0, cnt = 0;
	uint64_t *e = w->shadow;
	double t0 = mn_bench_now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t first = ev[i].gstart / lp, last = (ev[i].gend - 1) / lp, j;

		for (j = first; j <= last; j++) {
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
	double ev[MAX_REPS], rc[MAX_REPS], it[MAX_REPS], lin[MAX_REPS];
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
 * Populate, then run a batch of events through the VM and check what they did: every
 * populated leaf zapped, none left, the bookkeeping balanced, the sequence bumped once per
 * event that met a memslot, at most one remote flush per event (@per_event: checked event
 * by event, untimed).
 */
static int batch(struct world *w, const struct row_cfg *c, struct ev *ev, unsigned int n,
		 bool per_event, double *ns, uint64_t *zapped, uint64_t *remote, uint64_t *tlbi)
{
	struct counters a, b;
	int64_t present;
	unsigned int i;

	gen_events(w, c, ev, n);
	present = populate(w, c, ev, n);
	if (present < 0)
		return fail("populating the secondary table failed", c);
	if (c->hit == PRESENT && present == 0 && c->density == 100)
		return fail("nothing populated in a hit range", c);
	a = counters(w);
	if (per_event) {
		for (i = 0; i < n; i++) {
			struct counters x = counters(w), y;

			one_event(w, &ev[i]);
			y = counters(w);
			if (y.remote_flushes - x.remote_flushes > 1)
				return fail("more than one remote TLB flush for one event", c);
		}
		*ns = 0;
	} else {
		*ns = time_events(w, ev, n);
	}
	b = counters(w);
	if (b.zapped - a.zapped != (uint64_t)present)
		return fail("entries zapped != entries populated", c);
	{
		struct mn_pt_stats st;

		mn_pt_get_stats(w->pt, &st);
		if (st.leaves)
			return fail("leaves left after the invalidations", c);
	}
	if (b.in_progress || b.mn_count)
		return fail("invalidation bookkeeping not balanced", c);
	if (b.seq - a.seq != (c->hit == PRESENT ? n : 0))
		return fail("mmu_invalidate_seq did not move once per event that met a slot", c);
	if (b.remote_flushes - a.remote_flushes > n)
		return fail("more remote TLB flushes than events", c);
	*zapped = b.zapped - a.zapped;
	*remote = b.remote_flushes - a.remote_flushes;
	*tlbi = b.tlbi - a.tlbi;
	return 0;
}

static int run_row(struct world *w, const struct row_cfg *c, int reps, struct mn_bench_row *row)
{
	uint64_t epe = c->hit == PRESENT ? (c->range_bytes >> MN_PAGE_SHIFT) /
						   (c->leaf_level == MN_PG_LEVEL_2M ? SLOT_PAGES : 1)
					 : 0;
	unsigned int n;
	uint64_t zapped_all = 0, remote_all = 0, tlbi_all = 0, zapped, remote, tlbi;
	struct mn_bench_stats st_ev, st_rc, st_it, st_lin;
	struct mn_pt_result res;
	struct rep_data *d;
	struct ev *ev;
	double ns;
	int r, ret = 1;

	if (epe == 0)
		epe = 1; /* a 4 KiB range in a 2 MiB leaf still hits one leaf */
	n = c->hit == PRESENT ? (unsigned int)(8192 / epe) : 1024;
	n = n < 16 ? 16 : n > 1024 ? 1024 : n;
	ev = calloc(n, sizeof(*ev));
	d = calloc(1, sizeof(*d));
	if (!ev || !d) {
		free(ev);
		free(d);
		return 2;
	}
	/* A clean table: leaves of another level must not be in the way. */
	mn_pt_zap(w->pt, NULL, (struct mn_gfn_range){ 0, MN_INVALID_GFN }, MN_PT_ZAP_FREE_TABLES,
		  &res);
	memset(w->shadow, 0, (size_t)w->slots * SLOT_PAGES * sizeof(*w->shadow));
	w->cursor = 0;

	/* Warm-up, checked event by event. */
	if (batch(w, c, ev, n, true, &ns, &zapped, &remote, &tlbi))
		goto out;
	memset(w->shadow, 0, (size_t)w->slots * SLOT_PAGES * sizeof(*w->shadow));
	for (r = 0; r < reps; r++) {
		uint64_t cleared;

		if (batch(w, c, ev, n, false, &d->ev[r], &zapped, &remote, &tlbi))
			goto out;
		zapped_all += zapped;
		remote_all += remote;
		tlbi_all += tlbi;
		/* The references, on the same events, right after. */
		d->rc[r] = time_read_clear(w, c, ev, n, &cleared);
		if (c->hit == PRESENT && cleared != zapped) {
			fail("the roofline cleared another number of entries than the zap", c);
			goto out;
		}
		d->it[r] = time_itree(w, ev, n);
		d->lin[r] = time_linear(w, ev, n);
	}
	mn_bench_stats_compute(d->ev, (unsigned int)reps, &st_ev);
	mn_bench_stats_compute(d->rc, (unsigned int)reps, &st_rc);
	mn_bench_stats_compute(d->it, (unsigned int)reps, &st_it);
	mn_bench_stats_compute(d->lin, (unsigned int)reps, &st_lin);

	memset(row, 0, sizeof(*row));
	row->bench = "invalidate";
	row->arch = w->arch == MN_VM_X86 ? "x86-ept" : "arm64-stage2";
	row->levels = w->levels;
	row->slots = w->slots;
	row->layout = LAYOUT;
	row->stream = c->stream == RANDOM ? "random" : "sequential";
	row->range_bytes = c->range_bytes;
	row->hit = c->hit == PRESENT ? "present" : "no-memslot";
	row->density = c->hit == PRESENT ? c->density : -1;
	row->leaf_level = c->leaf_level == MN_PG_LEVEL_2M ? "2M" : "4K";
	row->footprint = footprint(w);
	row->events = (uint64_t)n * (uint64_t)reps;
	row->reps = reps;
	row->ns_per_event = st_ev;
	row->entries_zapped = zapped_all;
	if (zapped_all) {
		double per_event = (double)zapped_all / (double)row->events;

		row->ns_per_entry = st_ev.p50 / per_event;
		row->entries_per_s = 1e9 / row->ns_per_entry;
	} else {
		row->ns_per_entry = -1;
		row->entries_per_s = -1;
	}
	row->read_clear_ns = c->hit == PRESENT ? st_rc.p50 : -1;
	row->itree_ns = st_it.p50;
	row->linear_ns = st_lin.p50;
	if (c->hit == PRESENT) {
		row->ref_name = "read_clear";
		row->ref_ns = st_rc;
	} else {
		row->ref_name = "itree";
		row->ref_ns = st_it;
	}
	row->ratio = row->ref_ns.p50 > 0 ? st_ev.p50 / row->ref_ns.p50 : -1;
	row->flushes_per_event = (double)remote_all / (double)row->events;
	row->tlbi_per_event = (double)tlbi_all / (double)row->events;
	ret = 0;
out:
	free(ev);
	free(d);
	return ret;
}

/* ---- the matrix --------------------------------------------------------------------------- */

int mn_bench_invalidate(const struct mn_bench_opts *o)
{
	static const unsigned int pr_slots[] = { 10, 509, MAX_SLOTS };
	static const unsigned int quick_slots[] = { 10, MAX_SLOTS };
	const unsigned int *slots = o->mode == MN_BENCH_QUICK ? quick_slots : pr_slots;
	unsigned int nr_slots = o->mode == MN_BENCH_QUICK ? 2 : 3;
	int reps = o->mode == MN_BENCH_QUICK ? 5 : o->mode == MN_BENCH_PR ? 11 : 31;
	unsigned int fmt, si;
	int ret = 0;

	if (!o->json)
		mn_bench_print_table_header(o->out);
	for (fmt = 0; fmt < 2 && !ret; fmt++) {
		for (si = 0; si < nr_slots && !ret; si++) {
			struct world w;
			unsigned int s, rb, h, dn, lf;

			if (world_create(&w, fmt, slots[si]))
				return 2;
			for (h = 0; h < 2 && !ret; h++)
			for (lf = 0; lf < (h ? 2U : 1U) && !ret; lf++)
			for (rb = 0; rb < 2 && !ret; rb++)
			for (dn = 0; dn < (h ? 2U : 1U) && !ret; dn++)
			for (s = 0; s < 2 && !ret; s++) {
				struct row_cfg c = {
					.fmt = fmt,
					.slots = slots[si],
					.stream = s ? RANDOM : SEQUENTIAL,
					.range_bytes = rb ? SLOT_BYTES : MN_PAGE_SIZE,
					.hit = h ? PRESENT : NO_MEMSLOT,
					.density = dn ? 50 : 100,
					.leaf_level = lf ? MN_PG_LEVEL_2M : MN_PG_LEVEL_4K,
				};
				struct mn_bench_row row;

				/* The quick subset: 100 % dense 4K leaves, and the misses. */
				if (o->mode == MN_BENCH_QUICK && (dn || lf))
					continue;
				ret = run_row(&w, &c, reps, &row);
				if (ret)
					break;
				if (o->json)
					mn_bench_print_json(o->out, &row);
				else
					mn_bench_print_table_row(o->out, &row);
				fflush(o->out);
			}
			world_destroy(&w);
		}
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
			fprintf(stderr, "%s: unknown argument '%s' (usage: %s [--quick|--full] "
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
			fprintf(stderr, "bench: cannot pin to CPU %d: %s\n", o->cpu, strerror(-ret));
			return 2;
		}
	}
	if (!o->json)
		fprintf(o->out,
			"mnsim bench (%s): %s, %u CPUs%s, git %s, allocator %s\n"
			"ns/ev: median ns per invalidate_range_start+end pair; ratio: ns/ev over the "
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
	if (!o->json)
		fprintf(o->out, "%s after %.1f s\n", ret ? "FAILED" : "done",
			(mn_bench_now_ns() - t0) / 1e9);
	return ret;
}
