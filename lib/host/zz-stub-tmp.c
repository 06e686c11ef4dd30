// SPDX-License-Identifier: MIT
/* TEMPORARY weak stubs until migrate.c / khugepaged.c land. */
#include "host/host-internal.h"
__attribute__((weak)) int mn_mm_collapse_thp(struct mn_mm *mm, mn_hva_t addr) { (void)mm; (void)addr; return -ENOSYS; }
__attribute__((weak)) int mn_mm_migrate(struct mn_mm *mm, mn_hva_t addr, unsigned int flags, mn_pfn_t *n) { (void)mm; (void)addr; (void)flags; (void)n; return -ENOSYS; }
__attribute__((weak)) int mn_mm_split_thp(struct mn_mm *mm, mn_hva_t addr, bool f) { (void)mm; (void)addr; (void)f; return -EINVAL; }
__attribute__((weak)) bool folio_migrating(const struct mn_mm *mm, mn_pfn_t head) { (void)mm; (void)head; return false; }
