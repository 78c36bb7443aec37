/* SPDX-License-Identifier: MIT */
/*
 * lib/vol/vol_internal.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "vol/vol_internal.h"
#include "vol/vol_internal.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_vol_internal = "vol/vol_internal.h";
