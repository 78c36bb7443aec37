#!/bin/bash
# SPDX-License-Identifier: MIT
# Truncate/punch over a pinned range breaks the layout: the holder's
# poll(2) reports POLLPRI, and the truncate waits for the pin. If the
# holder ignores it, truncate fails with EBUSY after break_timeout and
# changes nothing; if the holder unmaps in response to the event, the
# truncate completes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/pin_lib.sh"
pgdax_init

dev=$(pgdax_new_device 64M 2M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o break_timeout=1000,break_notify

f=$mnt/file
head -c 4M /dev/urandom >"$f"
sum=$(md5sum <"$f")

# 1. a holder that ignores the break: truncate times out, nothing changes
pin_start stubborn map "$f" 0 4M ro hold
pin_wait_line stubborn '^READY'
t0=$(date +%s%N)
if err=$(truncate -s 1M "$f" 2>&1); then
	fail "truncate over a pinned range succeeded"
fi
t1=$(date +%s%N)
echo "$err" | grep -q "Device or resource busy" || fail "truncate failed with '$err', expected EBUSY"
[ $(( (t1 - t0) / 1000000 )) -ge 900 ] || fail "truncate gave up before break_timeout"
[ "$(stat -c %s "$f")" = 4194304 ] || fail "failed truncate changed the size"
[ "$(md5sum <"$f")" = "$sum" ] || fail "failed truncate changed the data"
# punch-hole is a layout break too; while it waits, no new pin appears in
# the range: a pin request is refused at once
fallocate -p -o 0 -l 2M "$f" 2>"$PGDAX_WORK/punch.err" & punch=$!
pin_wait_breaking "$mnt" "$punch"
t0=$(date +%s%N)
"$CLIENT" rawpin EBUSY "$f" 0 4096 ro >&2 || fail "a pin was granted in a breaking range"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 500 ] || fail "the pin request waited for the break to end"
if wait "$punch"; then
	fail "punch-hole over a pinned range succeeded"
fi
[ "$(md5sum <"$f")" = "$sum" ] || fail "failed punch changed the data"
pin_release stubborn
pin_wait_status "$mnt" pins 0

# 2. a holder that listens: POLLPRI, it unmaps, the truncate completes
pin_start polite map "$f" 0 4M ro poll
pin_wait_line polite '^READY'
truncate -s 1M "$f" || fail "truncate did not complete after the holder unmapped"
pin_wait_line polite '^BREAK' 5
wait "${PIN_PID[polite]}" || fail "polite holder failed"
[ "$(stat -c %s "$f")" = 1048576 ] || fail "truncate did not take effect"
pin_wait_status "$mnt" pins 0

# 3. the break is over: the range can be pinned again
pin_start again map "$f" 0 1M ro hold
pin_wait_line again '^READY'
pin_release again
pgdax_umount "$mnt"
log "PASS"
