/* SPDX-License-Identifier: MIT */
/*
 * lib/client/pgdax.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "client/pgdax.h"
#include "client/pgdax.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_pgdax = "client/pgdax.h";
