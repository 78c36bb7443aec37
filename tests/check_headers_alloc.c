/* SPDX-License-Identifier: MIT */
/*
 * lib/core/alloc.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "core/alloc.h"
#include "core/alloc.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_alloc = "core/alloc.h";
