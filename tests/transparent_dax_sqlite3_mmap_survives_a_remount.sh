#!/bin/bash
# SPDX-License-Identifier: MIT
# sqlite3 with PRAGMA mmap_size under pgdax-exec: its database (and WAL
# index) mappings are DAX -- the daemon holds pins of the sqlite3 process
# on the database while it runs -- VACUUM truncates the mapped database
# without waiting for our own pins (the preload gives up the truncated part
# first), and integrity_check passes after a remount. Rollback-journal and
# WAL modes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/preload_lib.sh"
pgdax_init
command -v sqlite3 >/dev/null || { log "SKIP: no sqlite3"; exit 77; }

dev=$(pgdax_new_device 128M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
for mode in delete wal; do
	db=$mnt/$mode.db
	st=$PGDAX_WORK/status.$mode.json
	# .system runs pgdaxctl while sqlite3 holds its mappings
	pdx timeout 60 sqlite3 -bail "$db" >"$PGDAX_WORK/sql.$mode.out" 2>&1 <<SQL ||
PRAGMA mmap_size=268435456;
PRAGMA journal_mode=$mode;
CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000)
INSERT INTO t SELECT x, randomblob(200) FROM c;
SELECT count(*) FROM t;
.system $PGDAXCTL status $mnt --json > $st
DELETE FROM t WHERE k % 2 = 0;
VACUUM;
CREATE INDEX iv ON t(v);
SELECT 'sum', count(*), sum(k) FROM t;
PRAGMA integrity_check;
SQL
		{ cat "$PGDAX_WORK/sql.$mode.out" >&2; fail "sqlite3 failed under pgdax-exec ($mode)"; }
	grep -q '^sum|10000|100000000$' "$PGDAX_WORK/sql.$mode.out" ||
		fail "wrong contents ($mode): $(cat "$PGDAX_WORK/sql.$mode.out")"
	grep -q "\"pins\": [1-9].*\"path\": \"$db\"" "$st" ||
		fail "sqlite3 held no pin on $db while it ran ($mode): $(cat "$st")"
done
[ "$(pin_count "$mnt")" = 0 ] || fail "pins left after sqlite3 exited"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
for mode in delete wal; do
	out=$(sqlite3 "$mnt/$mode.db" "PRAGMA integrity_check; SELECT count(*), sum(k) FROM t;") ||
		fail "sqlite3 after the remount ($mode)"
	[ "$out" = "ok
10000|100000000" ] || fail "after the remount ($mode): $out"
done
pgdax_umount "$mnt"
log "PASS"
