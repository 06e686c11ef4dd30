// SPDX-License-Identifier: MIT
/*
 * migrate.c - moving and splitting a folio through migration entries: migrate_pages() of one
 * folio (mm/migrate.c: migrate_folio_unmap(), move_to_new_folio(), folio_migrate_mapping(),
 * remove_migration_ptes(); mm/rmap.c: try_to_migrate_one()) and split_huge_page()
 * (mm/huge_memory.c: unmap_folio(), __split_huge_page(), remap_page()).
 */
#include "host/host-internal.h"

/* One mapping of the isolated folio found by the rmap walk: an entry of @level at @addr. */
struct mig_entry {
	mn_hva_t addr;
	unsigned int level;
};

/* A folio isolated for migration or splitting, and what the rmap walk found of it. */
struct mig {
	struct mn_mm *mm;
	struct mn_frame_ref old; /* the head, with the generation its entries record */
	unsigned int order;
	enum mn_frame_owner owner;
	struct mig_entry *ents;
	size_t nr_ents, cap;
};

static bool in_folio(const struct mig *m, mn_pfn_t pfn)
{
	return pfn >= m->old.pfn && pfn - m->old.pfn < (1ULL << m->order);
}

static void put_counted(struct mn_mm *mm, struct mn_frame_ref ref, const char *what)
{
	if (mn_phys_put(mm->phys, ref, what) == 1)
		mm->st.frames_freed++;
}

/* ---- isolation ------------------------------------------------------------------------- */

bool folio_migrating(const struct mn_mm *mm, mn_pfn_t head)
{
	unsigned int i;

	for (i = 0; i < mm->nr_migrating; i++)
		if (mm->migrating[i] == head)
			return true;
	return false;
}

/*
 * folio_isolate_lru() for the folio mapped by the entry @w found: it is marked as migrating
 * in @mm and the migration takes its own reference, which keeps it alive while its mappings
 * are replaced by migration entries.
 */
static int folio_isolate(struct mn_mm *mm, struct mig *m, const struct mn_pt_walk *w)
{
	struct mn_frame_info fi;

	if (mn_phys_frame_info(mm->phys, w->pfn, &fi) || fi.state == MN_FRAME_FREE)
		return -EFAULT;
	*m = (struct mig){
		.mm = mm, .old = { fi.head, w->gen }, .order = fi.order, .owner = fi.owner
	};
	if (folio_migrating(mm, fi.head) || mm->nr_migrating == HOST_MAX_MIGRATING)
		return -EBUSY;
	if (mn_phys_get(mm->phys, m->old, "migrate.isolate"))
		return -EFAULT;
	mm->migrating[mm->nr_migrating++] = fi.head;
	return 0;
}

/* The folio is no longer isolated; the caller drops the isolation reference. */
static void folio_unisolate(struct mig *m)
{
	struct mn_mm *mm = m->mm;
	unsigned int i;

	for (i = 0; i < mm->nr_migrating; i++) {
		if (mm->migrating[i] == m->old.pfn) {
			mm->migrating[i] = mm->migrating[--mm->nr_migrating];
			break;
		}
	}
	mn_free(mm->alloc, m->ents);
	m->ents = NULL;
	m->nr_ents = m->cap = 0;
}

/* folio_putback_lru() of a folio whose mappings were never touched. */
static void folio_putback(struct mig *m)
{
	folio_unisolate(m);
	put_counted(m->mm, m->old, "migrate.putback");
}

/* ---- rmap ------------------------------------------------------------------------------ */

struct rmap_arg {
	struct mig *m;
	int err;
};

static bool rmap_one(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct rmap_arg *r = arg;
	struct mig *m = r->m;
	void *arr = m->ents;

	(void)gen;
	if ((pte->kind != MN_PTE_LEAF && pte->kind != MN_PTE_PROTNONE) || !in_folio(m, pte->pfn))
		return false;
	if (m->nr_ents == m->cap &&
	    mn_array_grow(m->mm->alloc, &arr, &m->cap, m->nr_ents + 1, sizeof(*m->ents))) {
		r->err = -ENOMEM;
		return false;
	}
	m->ents = arr;
	m->ents[m->nr_ents++] = (struct mig_entry){ gfn << MN_PAGE_SHIFT, pte->level };
	return false;
}

/*
 * rmap_walk() confined to @m->mm: collect every entry (PROT_NONE ones included) that maps a
 * page of the folio. The cross-mm anon_vma and i_mmap walks are not modelled, so a folio
 * with more mappings than this mm holds (a fork child maps it too) is refused with -EBUSY.
 */
static int rmap_walk(struct mig *m)
{
	struct rmap_arg r = { m, 0 };
	struct mn_frame_info fi;
	struct mn_pt_result res;
	struct host_vma *v;

	for (v = vma_first_in(m->mm, 0, HOST_TASK_SIZE); v && !r.err;
	     v = vma_next_in(v, 0, HOST_TASK_SIZE))
		mn_pt_update(m->mm->pt, pn_range(v->start, v->end), rmap_one, &r, &res);
	if (r.err)
		return r.err;
	if (mn_phys_frame_info(m->mm->phys, m->old.pfn, &fi) || fi.mapcount < 0 ||
	    (uint64_t)fi.mapcount > m->nr_ents)
		return -EBUSY;
	return 0;
}

/* ---- unmapping to migration entries ------------------------------------------------------ */

struct unmap_arg {
	struct mig *m;
	struct mn_gfn_range range;
};

/*
 * One entry of try_to_migrate_one(): a mapping of the folio becomes a migration entry that
 * remembers whether it was writable; the mapping's rmap and reference go at once (the
 * isolation reference keeps the folio), its dirty bit goes to the folio.
 */
static bool to_migration_entry(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct unmap_arg *u = arg;
	struct mn_mm *mm = u->m->mm;
	struct mn_frame_ref ref = { pte->pfn, *gen };
	uint64_t pages = level_bytes(pte->level) >> MN_PAGE_SHIFT;
	bool write = pte->kind == MN_PTE_LEAF && (pte->perm & MN_PTE_W);

	if ((pte->kind != MN_PTE_LEAF && pte->kind != MN_PTE_PROTNONE) ||
	    !in_folio(u->m, pte->pfn) || gfn < u->range.start || gfn + pages > u->range.end)
		return false;
	if (pte->dirty)
		mn_phys_update_flags(mm->phys, ref, MN_FRAME_DIRTY, 0, "migrate.unmap");
	mn_phys_unmap(mm->phys, ref, "migrate.unmap");
	mn_phys_put(mm->phys, ref, "migrate.unmap");
	*pte = (struct mn_pte){ .kind = MN_PTE_MIGRATION,
				.level = pte->level,
				.pfn = pte->pfn,
				.perm = MN_PTE_R | (write ? MN_PTE_W : 0) };
	return true; /* the generation stays: the entry still names the old folio */
}

/*
 * Replace the folio's entries in [@start, @end) by migration entries inside one notified
 * range: start -> entries under the page-table lock -> flush -> end. Entries that changed
 * since the rmap walk are left to the mapcount check that follows.
 */
static void unmap_range(struct mig *m, mn_hva_t start, mn_hva_t end, enum mn_notify_event ev,
			const struct host_op *op)
{
	struct mn_mm *mm = m->mm;
	struct mn_notifier_range r = notify_range(mm, ev, start, end, true);
	struct unmap_arg u = { m, pn_range(start, end) };
	struct mn_pt_result res;

	if (ev == MN_NOTIFY_MIGRATE)
		r.owner = mm; /* migrate_vma_setup()'s pgmap_owner */
	if (mn_step(mm->sim, op->start_step))
		notify_start(mm, &r);
	mn_spin_lock(mm->sim, &mm->ptl);
	mn_pt_update(mm->pt, pn_range(start, end), to_migration_entry, &u, &res);
	mn_spin_unlock(mm->sim, &mm->ptl);
	host_tlb_flush(mm, start, end, op->flush_step);
	if (mn_step(mm->sim, op->end_step))
		notify_end(mm, &r);
}

/*
 * try_to_migrate(): one start/end pair per VMA that maps the folio, over the part of the
 * folio's span the VMA holds (try_to_migrate_one() sets its range from the first mapped
 * address to vma_address_end()); or, with @start < @end, all of them inside one pair over
 * that range (unmap_folio() of a THP over its PMD-sized block).
 */
static void try_to_migrate(struct mig *m, enum mn_notify_event ev, const struct host_op *op,
			   mn_hva_t start, mn_hva_t end)
{
	size_t i, j;

	if (start < end) {
		unmap_range(m, start, end, ev, op);
		return;
	}
	/* The rmap walk visited VMAs in address order: each VMA's entries are consecutive. */
	for (i = 0; i < m->nr_ents; i = j) {
		struct host_vma *v = vma_find(m->mm, m->ents[i].addr);
		mn_hva_t s = m->ents[i].addr, e = s + level_bytes(m->ents[i].level);

		for (j = i + 1; j < m->nr_ents && vma_find(m->mm, m->ents[j].addr) == v; j++)
			e = MN_MAX(e, m->ents[j].addr + level_bytes(m->ents[j].level));
		unmap_range(m, s, e, ev, op);
	}
}

/* ---- remapping --------------------------------------------------------------------------- */

struct remap_arg {
	struct mig *m;
	struct host_vma *v;
	struct mn_frame_ref dst;
};

/* remove_migration_pte(): a migration entry of the old folio maps the same page of @dst. */
static bool remap_one(void *arg, mn_gfn_t gfn, struct mn_pte *pte, uint64_t *gen)
{
	struct remap_arg *a = arg;
	struct mn_mm *mm = a->m->mm;
	struct mn_frame_ref ref;
	struct mn_frame_info fi;
	struct mn_pte p;
	bool dirty;

	(void)gfn;
	if (pte->kind != MN_PTE_MIGRATION || !in_folio(a->m, pte->pfn))
		return false;
	ref = (struct mn_frame_ref){ a->dst.pfn + (pte->pfn - a->m->old.pfn), a->dst.gen };
	dirty = !mn_phys_frame_info(mm->phys, ref.pfn, &fi) && (fi.flags & MN_FRAME_DIRTY);
	if (!a->v->prot) {
		/* vm_page_prot of a PROT_NONE VMA */
		p = (struct mn_pte){ .kind = MN_PTE_PROTNONE,
				     .level = pte->level,
				     .pfn = ref.pfn,
				     .accessed = true,
				     .dirty = dirty };
	} else {
		p = leaf_for_vma(a->v, ref.pfn, pte->level, false);
		if (pte->perm & MN_PTE_W)
			p.perm |= MN_PTE_W;
		p.dirty = dirty;
	}
	mn_phys_map(mm->phys, ref, "migrate.remap");
	mn_phys_get(mm->phys, ref, "migrate.remap");
	*pte = p;
	*gen = ref.gen;
	return true;
}

/*
 * remove_migration_ptes(): every migration entry of the old folio left in the mm (some may
 * have been zapped, or split with their PMD, meanwhile) becomes an entry of @dst at the same
 * offset: @dst is the new folio after a copy, or the old one when the migration gives up.
 * No notifier: the entries were not present. Faults waiting on them are woken.
 */
static void remove_migration_ptes(struct mig *m, struct mn_frame_ref dst)
{
	struct remap_arg a = { .m = m, .dst = dst };
	struct mn_mm *mm = m->mm;
	struct mn_pt_result res;

	mn_spin_lock(mm->sim, &mm->ptl);
	for (a.v = vma_first_in(mm, 0, HOST_TASK_SIZE); a.v;
	     a.v = vma_next_in(a.v, 0, HOST_TASK_SIZE))
		mn_pt_update(mm->pt, pn_range(a.v->start, a.v->end), remap_one, &a, &res);
	mn_spin_unlock(mm->sim, &mm->ptl);
	mn_wake_up(mm->sim, &mm->migration_wq);
}

/* Give up after try_to_migrate(): the old folio gets its mappings back. */
static void migrate_abort(struct mig *m)
{
	remove_migration_ptes(m, m->old);
	folio_putback(m);
}

/*
 * folio_migrate_mapping()'s check: unmapped, and nobody holds a reference besides the
 * isolation and, for a page-cache folio, the cache (a GUP reference in flight fails it).
 */
static int folio_refs_expected(struct mig *m, uint32_t expected)
{
	struct mn_frame_info fi;

	if (mn_phys_frame_info(m->mm->phys, m->old.pfn, &fi) || fi.mapcount != 0 ||
	    fi.refcount != expected)
		return -EAGAIN;
	return 0;
}

/* ---- migration --------------------------------------------------------------------------- */

/* The page-cache entry of the folio, when @v's file still caches it there. */
static struct file_folio *cache_folio(struct mig *m, struct host_vma *v, mn_hva_t addr)
{
	struct file_folio *ff;

	if (m->owner == MN_OWNER_ANON || !v->file)
		return NULL;
	ff = file_lookup(v->file, v->pgoff + ((addr - v->start) >> MN_PAGE_SHIFT));
	return ff && ff->ref.pfn == m->old.pfn ? ff : NULL;
}

static const struct host_op migrate_op = {
	.start_step = "migrate.invalidate_start",
	.flush_step = "migrate.tlb_flush",
	.end_step = "migrate.invalidate_end",
};

/*
 * The mmap lock is taken for reading as move_pages() and mbind() hold it: the kernel's rmap
 * walk itself does without it, but here it keeps the VMAs the walk visits in place.
 */
int mn_mm_migrate(struct mn_mm *mm, mn_hva_t addr, unsigned int flags, mn_pfn_t *new_pfn)
{
	enum mn_notify_event ev = flags & MN_MIGRATE_DEVICE ? MN_NOTIFY_MIGRATE : MN_NOTIFY_CLEAR;
	struct mn_frame_ref dst;
	struct mn_frame_info fi;
	struct file_folio *ff;
	struct host_vma *v;
	struct mn_pt_walk w;
	struct mig m;
	int r, ret;

	if (flags & ~MN_MIGRATE_DEVICE)
		return -EINVAL;
	if (addr >= HOST_TASK_SIZE)
		return -EFAULT;
	mn_read_lock(mm->sim, &mm->mmap_lock);
	v = vma_find(mm, addr);
	r = mn_pt_walk(mm->pt, hva_pn(addr), &w);
	/* A PROT_NONE (NUMA-hinting) entry still maps its folio: it migrates too. */
	if (r && w.leaf.kind == MN_PTE_PROTNONE)
		r = 0;
	if (!v || (r && w.leaf.kind != MN_PTE_MIGRATION) || (!r && is_zero_pfn(mm, w.pfn))) {
		ret = -EFAULT;
		goto out;
	}
	if (r) {
		ret = -EBUSY; /* a migration entry: someone is migrating it now */
		goto out;
	}
	/*
	 * The file's a_ops refuse (mapping_unmovable(): guest_memfd's migrate_folio answers
	 * -EINVAL); checked before isolation, so nothing is unmapped or notified. Private
	 * copies are anonymous and move.
	 */
	if (v->file && v->file->ops && v->file->ops->unmovable &&
	    !mn_phys_frame_info(mm->phys, w.pfn, &fi) && fi.owner != MN_OWNER_ANON) {
		ret = -EINVAL;
		goto out;
	}
	ret = folio_isolate(mm, &m, &w);
	if (ret)
		goto out;
	ret = rmap_walk(&m);
	if (ret) {
		folio_putback(&m);
		goto out;
	}
	host_trace(mm, "host.migrate", addr, addr + MN_PAGE_SIZE);
	try_to_migrate(&m, ev, &migrate_op, 0, 0);

	mn_yield(mm->sim, "migrate.copy");
	/* move_to_new_folio(): from here to the remap nothing yields. */
	ff = cache_folio(&m, v, addr);
	ret = folio_refs_expected(&m, ff ? 2 : 1);
	if (!ret && mn_phys_alloc(mm->phys, m.order, m.owner, 0, &dst))
		ret = -ENOMEM;
	if (ret) {
		migrate_abort(&m);
		goto out;
	}
	copy_frames(mm, m.old, dst, 1ULL << m.order, "migrate.copy");
	/* folio_migrate_flags() */
	if (!mn_phys_frame_info(mm->phys, m.old.pfn, &fi))
		mn_phys_update_flags(mm->phys, dst, fi.flags & (MN_FRAME_YOUNG | MN_FRAME_DIRTY), 0,
				     "migrate.flags");
	if (ff) {
		/* The cache's reference moves with its entry. */
		file_replace_folio(v->file, ff, dst);
		mn_phys_get(mm->phys, dst, "migrate.cache");
		mn_phys_put(mm->phys, m.old, "migrate.cache");
	}
	remove_migration_ptes(&m, dst);

	folio_unisolate(&m);
	put_counted(mm, m.old, "migrate.done"); /* the last reference: the old folio goes */
	put_counted(mm, dst, "migrate.done");	/* the allocation's; the mappings hold theirs */
	mm->st.migrations++;
	if (new_pfn)
		*new_pfn = dst.pfn + (w.pfn - m.old.pfn);
out:
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}

/* ---- THP split --------------------------------------------------------------------------- */

/* The entry at @addr maps (or, PROT_NONE, names) a page of an anonymous THP. */
static int thp_at(struct mn_mm *mm, mn_hva_t addr, struct mn_pt_walk *w)
{
	struct mn_frame_info fi;
	int r = mn_pt_walk(mm->pt, hva_pn(addr), w);

	if (r && w->leaf.kind == MN_PTE_MIGRATION)
		return -EAGAIN; /* being migrated or split */
	if (r && w->leaf.kind != MN_PTE_PROTNONE)
		return -EINVAL;
	if (is_zero_pfn(mm, w->pfn) || mn_phys_frame_info(mm->phys, w->pfn, &fi) ||
	    fi.state == MN_FRAME_FREE || fi.order != MN_ORDER_2M || fi.owner != MN_OWNER_ANON)
		return -EINVAL;
	return 0;
}

static const struct host_op thp_split_op = {
	.start_step = "thp_split.invalidate_start",
	.flush_step = "thp_split.tlb_flush",
	.end_step = "thp_split.invalidate_end",
};

/*
 * split_huge_page(): unmap_folio() turns the 512 PTEs into migration entries inside one
 * MMU_NOTIFY_CLEAR pair over the block, __split_huge_page() splits the folio, which only
 * the isolation reference holds by then, and remap_page() points each entry at its own
 * order-0 folio.
 */
static int split_folio_locked(struct mn_mm *mm, mn_hva_t haddr, const struct mn_pt_walk *w)
{
	mn_hva_t hend = haddr + level_bytes(MN_PG_LEVEL_2M);
	struct mig m;
	uint64_t i;
	size_t j;
	int ret;

	ret = folio_isolate(mm, &m, w);
	if (ret)
		return ret == -EBUSY ? -EAGAIN : ret;
	ret = rmap_walk(&m);
	for (j = 0; !ret && j < m.nr_ents; j++)
		if (m.ents[j].level != MN_PG_LEVEL_4K || m.ents[j].addr < haddr ||
		    m.ents[j].addr >= hend)
			ret = -EAGAIN; /* mapped outside the block, or by a PMD again */
	if (ret) {
		folio_putback(&m);
		return ret == -ENOMEM ? ret : -EAGAIN;
	}
	host_trace(mm, "host.split_thp", haddr, hend);
	try_to_migrate(&m, MN_NOTIFY_CLEAR, &thp_split_op, haddr, hend);
	ret = folio_refs_expected(&m, 1);
	if (!ret)
		ret = mn_phys_split(mm->phys, m.old, 0);
	if (ret) {
		migrate_abort(&m);
		return ret;
	}
	/* Each piece keeps the generation: the entries of the old folio now name its pieces. */
	remove_migration_ptes(&m, m.old);
	folio_unisolate(&m);
	for (i = 0; i < (1ULL << MN_ORDER_2M); i++)
		put_counted(mm, mn_frame_ref_offset(m.old, i), "thp_split.done");
	return 0;
}

int mn_mm_split_thp(struct mn_mm *mm, mn_hva_t addr, bool split_folio)
{
	mn_hva_t haddr = mn_align_down(addr, level_bytes(MN_PG_LEVEL_2M));
	struct host_vma *v;
	struct mn_pt_walk w;
	int ret;

	if (addr >= HOST_TASK_SIZE)
		return -EINVAL;
	mn_read_lock(mm->sim, &mm->mmap_lock);
	v = vma_find(mm, addr);
	if (!v || (v->flags & MN_VM_HUGETLB)) {
		ret = -EINVAL;
		goto out;
	}
	ret = thp_at(mm, addr, &w);
	if (!ret && w.leaf.level == MN_PG_LEVEL_2M)
		ret = split_huge_pmd(mm, addr);
	if (ret || !split_folio)
		goto out;
	/* The PMD split yielded: look again. */
	ret = thp_at(mm, addr, &w);
	if (!ret && w.leaf.level != MN_PG_LEVEL_4K)
		ret = -EAGAIN;
	if (!ret)
		ret = split_folio_locked(mm, haddr, &w);
out:
	mn_read_unlock(mm->sim, &mm->mmap_lock);
	return ret;
}
