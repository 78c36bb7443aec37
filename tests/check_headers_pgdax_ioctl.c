/* SPDX-License-Identifier: MIT */
/*
 * lib/pin/pgdax_ioctl.h must compile on its own (nothing included before it) and
 * twice (include guard). The section entry lets tests/check_headers.c
 * compare the built units with its list of pending headers.
 */
#include "pin/pgdax_ioctl.h"
#include "pin/pgdax_ioctl.h"

__attribute__((section("pgdax_hdrs"), used))
static const char *const header_pgdax_ioctl = "pin/pgdax_ioctl.h";
