#!/bin/bash
# SPDX-License-Identifier: MIT
# The cut-device read test over FUSE-over-io_uring: there libfuse would
# copy a READ's reply out of device memory into the ring's buffer outside
# the daemon's SIGBUS guard, and the fault handler's fence would hand the
# reader zeros; the daemon copies it itself, guarded, so the read fails
# with EIO as over /dev/fuse (fs/ops.c reply_read_on_ring).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_need_uring
export PGDAX_TRANSPORT
exec bash "$top_srcdir/tests/truncated_device_read_returns_eio_daemon_lives.sh"
