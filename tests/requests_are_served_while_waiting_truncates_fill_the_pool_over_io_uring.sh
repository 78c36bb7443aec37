#!/bin/bash
# SPDX-License-Identifier: MIT
# The two-lane guarantee over FUSE-over-io_uring: truncates waiting for pins
# fill their lane of the worker pool (ring threads hand them off, fs/handoff.c),
# and the rings go on serving everything else, the holder's UNPINs and
# RELEASEs among them, which end the waits. (A ring thread that waited itself
# would hold up every later request of its CPU's queue.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_need_uring
export PGDAX_TRANSPORT
exec bash "$top_srcdir/tests/requests_are_served_while_waiting_truncates_fill_the_pool.sh"
