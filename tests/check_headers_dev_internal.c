/* SPDX-License-Identifier: MIT */
/*
 * lib/dev/dev_internal.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "dev/dev_internal.h"
#include "dev/dev_internal.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_dev_internal = "dev/dev_internal.h";
