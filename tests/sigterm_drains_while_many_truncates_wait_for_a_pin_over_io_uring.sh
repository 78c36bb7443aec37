#!/bin/bash
# SPDX-License-Identifier: MIT
# The SIGTERM drain with 70 truncates waiting for pins, over
# FUSE-over-io_uring. (Before, RELEASEs were lost: the pool's idle workers
# exited after the truncates, and the kernel cancelled the ring entries
# they had given back, with the requests just put in them; the drain then
# waited forever. fs/loop.c, "Threads that answer over a ring";
# tests/ring_entries_outlive_the_workers_that_answer_over_io_uring.sh is
# the small case.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_need_uring
export PGDAX_TRANSPORT
exec bash "$top_srcdir/tests/sigterm_drains_while_many_truncates_wait_for_a_pin.sh"
