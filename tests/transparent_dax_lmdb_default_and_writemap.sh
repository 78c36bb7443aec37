#!/bin/bash
# SPDX-License-Identifier: MIT
# LMDB (python3-lmdb) under pgdax-exec, in its default mode (reads through
# a read-only map far larger than the file, writes with pwrite(2), the file
# grows under the map) and with MDB_WRITEMAP (stores through a writable
# map of a file ftruncate(2)d to the map size): the python process holds
# pins on data.mdb while it reads (so the map is DAX, not a silent page-cache
# fallback), every key reads back, and again after a remount.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/preload_lib.sh"
pgdax_init
# Debian's python3-lmdb is in the system python, which a pyenv shim on PATH hides
PY=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import lmdb' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { log "SKIP: no python3-lmdb"; exit 77; }
py=$top_srcdir/tests/preload_lmdb.py

dev=$(pgdax_new_device 256M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
for mode in default writemap; do
	mkdir "$mnt/$mode"
	st=$PGDAX_WORK/status.$mode.json
	pdx timeout 120 "$PY" "$py" put "$mnt/$mode" 20000 "$mode" \
		sh -c "\"$PGDAXCTL\" status \"$mnt\" --json >\"$st\"" ||
		fail "LMDB put under pgdax-exec ($mode)"
	grep -q "\"pins\": [1-9].*\"path\": \"$mnt/$mode/data.mdb\"" "$st" ||
		fail "LMDB held no pin on data.mdb while reading ($mode): $(cat "$st")"
	pdx timeout 60 "$PY" "$py" get "$mnt/$mode" 20000 "$mode" ||
		fail "LMDB get under pgdax-exec ($mode)"
done
[ "$(pin_count "$mnt")" = 0 ] || fail "pins left after LMDB exited"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
for mode in default writemap; do
	"$PY" "$py" get "$mnt/$mode" 20000 "$mode" || fail "LMDB data after the remount ($mode)"
done
pgdax_umount "$mnt"
log "PASS"
