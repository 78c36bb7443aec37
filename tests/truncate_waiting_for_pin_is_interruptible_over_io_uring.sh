#!/bin/bash
# SPDX-License-Identifier: MIT
# The interruptible-truncate test, over FUSE-over-io_uring: a truncate
# waiting for a pin (handed off by its ring thread to a worker, fs/handoff.c)
# ends with EINTR when its caller gets a signal, although libfuse 3.18 drops
# FUSE_INTERRUPTs for io_uring requests: the kernel sends them through
# /dev/fuse, where the daemon matches them itself (fs/loop.c, "io_uring").
# Meanwhile every other request is served by the rings, and the truncate
# completes once the holder unpins.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_need_uring
export PGDAX_TRANSPORT
exec bash "$top_srcdir/tests/truncate_waiting_for_pin_is_interruptible_while_others_are_served.sh"
