/* SPDX-License-Identifier: MIT */
/*
 * lib/vol/mkfs.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "vol/mkfs.h"
#include "vol/mkfs.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_mkfs = "vol/mkfs.h";
