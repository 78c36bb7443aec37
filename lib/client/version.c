/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "pgdax.h"

PGDAX_EXPORT const char *pgdax_version(void)
{
	return PACKAGE_VERSION;
}
