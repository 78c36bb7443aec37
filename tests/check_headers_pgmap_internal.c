/* SPDX-License-Identifier: MIT */
/*
 * lib/core/pgmap_internal.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "core/pgmap_internal.h"
#include "core/pgmap_internal.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_pgmap_internal = "core/pgmap_internal.h";
