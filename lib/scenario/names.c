// SPDX-License-Identifier: MIT
/*
 * names.c - the names a scenario script uses for protocol variants (the MN_VARIANT_* bits of
 * kvm.h) and for the errno values an operation may return.
 */
#include "scenario/scenario-internal.h"

static const struct {
	const char *name;
	unsigned int bit;
} variants[] = {
	{ "upstream", 0 },
	{ "userfault-create-only", MN_VARIANT_USERFAULT_CREATE_ONLY },
	{ "rfc-skip-gmem-only", MN_VARIANT_RFC_SKIP_GMEM_ONLY },
	{ "filter-userspace-mappings", MN_VARIANT_FILTER_USERSPACE_MAPPINGS },
	{ "gpc-own-seq", MN_VARIANT_GPC_OWN_SEQ },
	{ "gmem-inplace-conversion", MN_VARIANT_GMEM_INPLACE_CONVERSION },
	{ "mutant-gmem-host-level", MN_VARIANT_GMEM_HOST_LEVEL },
};

const char scn_variant_list[] = "upstream, userfault-create-only, rfc-skip-gmem-only, "
				"filter-userspace-mappings, gpc-own-seq, "
				"gmem-inplace-conversion, mutant-gmem-host-level";

/* The errno names a result list may use: what the operations document. */
static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EPERM", EPERM },   { "ENOENT", ENOENT },	    { "ESRCH", ESRCH },
	{ "EIO", EIO },	      { "EBADF", EBADF },	    { "EAGAIN", EAGAIN },
	{ "ENOMEM", ENOMEM }, { "EFAULT", EFAULT },	    { "EBUSY", EBUSY },
	{ "EEXIST", EEXIST }, { "ENODEV", ENODEV },	    { "EINVAL", EINVAL },
	{ "EMFILE", EMFILE }, { "EFBIG", EFBIG },	    { "EDEADLK", EDEADLK },
	{ "ERANGE", ERANGE }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ESTALE", ESTALE },
};

/* The errno called @name, or 0. */
int scn_errno_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnos); i++)
		if (!strcmp(errnos[i].name, name))
			return errnos[i].err;
	return 0;
}

/* The name of -@err (or @err), as a result list spells it. */
const char *scn_errno_name(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < ARRAY_SIZE(errnos); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	return mn_errname(-err);
}

int scn_variant_lookup(const char *name, unsigned int *bit)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(variants); i++) {
		if (!strcmp(variants[i].name, name)) {
			*bit = variants[i].bit;
			return 0;
		}
	}
	return -EINVAL;
}

int mn_variant_parse(const char *list, unsigned int *variant)
{
	unsigned int v = 0, bit;
	char name[64];
	const char *p = list, *e;
	size_t n;

	if (!list || !variant)
		return -EINVAL;
	for (;;) {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (!n || n >= sizeof(name))
			return -EINVAL;
		memcpy(name, p, n);
		name[n] = '\0';
		if (scn_variant_lookup(name, &bit))
			return -EINVAL;
		v |= bit;
		if (!e)
			break;
		p = e + 1;
	}
	*variant = v;
	return 0;
}

const char *mn_variant_name(unsigned int bit)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(variants); i++)
		if (variants[i].bit == bit)
			return variants[i].name;
	return NULL;
}
