#!/bin/bash
# SPDX-License-Identifier: MIT
# On devdax, durability comes from libpmem2's cache flushes, not from the
# tmpfs shortcut of emulated devices: pgdaxctl info reports a granularity
# that needs flushing (cache-line on this platform, no eADR), and the
# daemon's log at unmount counts the persists and flushes that went through
# libpmem2 (lib/dev/dev.c), non-zero after writes and a metadata change.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
json=$("$PGDAXCTL" info --json "$DAX")
[[ "$json" == *'"granularity":"cache-line"'* ]] || fail "granularity is not cache-line: $json"
[[ "$json" == *'"needs_flush":true'* ]] || fail "needs_flush is not true: $json"
pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
export PGDAX_LOG=notice	# the daemon logs the count at unmount
pgdax_mount "$DAX" "$mnt"
pid=$PGDAX_LAST_PID
head -c 3M /dev/urandom >"$mnt/f"
mkdir "$mnt/d"
pgdax_umount "$mnt" "$pid"
line=$(pgdax_daemon_log "$pid" | grep "went through libpmem2") ||
	{ pgdax_daemon_log "$pid" >&2; fail "no libpmem2 persist count in the daemon's log"; }
log "daemon: $line"
persists=$(sed -n 's/.*: \([0-9]*\) persists and \([0-9]*\) flushes went through libpmem2 (\(.*\) granularity).*/\1/p' <<<"$line")
gran=$(sed -n 's/.*(\(.*\) granularity).*/\1/p' <<<"$line")
[ -n "$persists" ] && [ "$persists" -gt 0 ] || fail "no persist went through libpmem2: $line"
[ "$gran" = cache-line ] || fail "the daemon mapped with $gran granularity"
echo "1 passed, 0 failed"
