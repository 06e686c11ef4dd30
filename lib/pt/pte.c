// SPDX-License-Identifier: MIT
/*
 * pte.c - the format-independent part of pte.h: dispatch to a format's encode/decode and
 * the one-line rendering of a decoded entry used by walk dumps.
 */
#include "mnsim-internal.h"

#include <inttypes.h>
#include <stdio.h>

#include <mnsim/pte.h>

int mn_pte_encode(const struct mn_pt_format *f, const struct mn_pte *in, uint64_t *raw)
{
	return f->encode(f, in, raw);
}

int mn_pte_decode(const struct mn_pt_format *f, uint64_t raw, unsigned int level,
		  struct mn_pte *out)
{
	return f->decode(f, raw, level, out);
}

static const char *const memtype_names[] = {
	[MN_MT_WB] = "WB", [MN_MT_UC] = "UC", [MN_MT_WC] = "WC", [MN_MT_WT] = "WT",
	[MN_MT_WP] = "WP", [MN_MT_NORMAL_NC] = "NC", [MN_MT_DEVICE] = "DEV",
};

static const char *const size_names[] = { "?", "4K", "2M", "1G", "512G", "256T" };

int mn_pte_describe(const struct mn_pt_format *f, const struct mn_pte *pte, char *buf, size_t len)
{
	const char *size = pte->level < ARRAY_SIZE(size_names) ? size_names[pte->level] : "?";
	int n;

	switch (pte->kind) {
	case MN_PTE_NONE:
		return snprintf(buf, len, "none");
	case MN_PTE_FROZEN:
		return snprintf(buf, len, "frozen");
	case MN_PTE_LOCKED:
		return snprintf(buf, len, "locked (break-before-make)");
	case MN_PTE_TABLE:
		return snprintf(buf, len, "table pfn=0x%" PRIx64, pte->pfn);
	case MN_PTE_PROTNONE:
		return snprintf(buf, len, "protnone %s pfn=0x%" PRIx64 "%s%s", size, pte->pfn,
				pte->accessed ? " A" : "", pte->dirty ? " D" : "");
	case MN_PTE_MIGRATION:
		return snprintf(buf, len, "migration-%s %s pfn=0x%" PRIx64,
				pte->perm & MN_PTE_W ? "write" : "read", size, pte->pfn);
	default:
		break;
	}
	n = snprintf(buf, len, "leaf %s pfn=0x%" PRIx64 " %c%c%c%s %s%s%s%s%s%s%s", size, pte->pfn,
		     pte->perm & MN_PTE_R ? 'R' : '-', pte->perm & MN_PTE_W ? 'W' : '-',
		     pte->perm & MN_PTE_X ? 'X' : '-', pte->perm & MN_PTE_U ? "U" : "",
		     (unsigned int)pte->memtype < ARRAY_SIZE(memtype_names) ?
			     memtype_names[pte->memtype] :
			     "?",
		     pte->ipat ? " ipat" : "", pte->accessed ? " A" : "", pte->dirty ? " D" : "",
		     pte->sw & MN_PTE_SW_HOST_WRITABLE ? " host-w" : "",
		     pte->sw & MN_PTE_SW_MMU_WRITABLE ? " mmu-w" : "",
		     pte->sw & MN_PTE_SW_ACC_TRACK ? " acc-track" : "");
	if (f->arch == MN_PT_STAGE2 && pte->sw_bits && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " sw=%u", pte->sw_bits);
	if ((pte->sw & MN_PTE_SW_ACC_TRACK) && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " saved=%c-%c",
			      pte->saved_perm & MN_PTE_R ? 'R' : '-',
			      pte->saved_perm & MN_PTE_X ? 'X' : '-');
	return n;
}
