// SPDX-License-Identifier: MIT
/*
 * types.c - error strings and the version, the only out-of-line parts of types.h.
 */
#include "mnsim-internal.h"

#include <limits.h>
#include <string.h>

/* |err| as a positive errno, or 0 when it cannot be one. */
static int errno_of(int err)
{
	if (err == INT_MIN)
		return 0;
	return err < 0 ? -err : err;
}

const char *mn_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "Success";
	s = errno_of(err) ? strerrordesc_np(errno_of(err)) : NULL;
	return s ? s : "Unknown error";
}

const char *mn_errname(int err)
{
	const char *s;

	if (err == 0)
		return "0";
	s = errno_of(err) ? strerrorname_np(errno_of(err)) : NULL;
	return s ? s : "E?";
}

const char *mn_version(void)
{
	return MN_VERSION;
}
