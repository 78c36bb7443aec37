#!/bin/bash
# A lookup the daemon cannot count (no memory for its entry in the table of
# lookups the kernel holds, fs/handles.c) is refused with ENOMEM and its
# volume reference dropped: it is never granted uncounted, so the FORGET
# that would return it can never abort the daemon, and the inode is freed
# when its name goes. The allocation failure is injected with
# PGDAX_FAULT=icount_add:1 (the first counted lookup of this mount).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)

free_inodes() { stat -f -c %d "$mnt"; }

pgdax_mount "$dev" "$mnt"
base_fi=$(free_inodes)
mkdir "$mnt/d"
echo hello >"$mnt/d/f"
pgdax_umount "$mnt"

# Remount with the first counted lookup failing: the kernel knows nothing
# of d yet, so `stat d` is that lookup.
export PGDAX_FAULT=icount_add:1
pgdax_mount "$dev" "$mnt"
unset PGDAX_FAULT
pid=$PGDAX_LAST_PID
st=0
out=$(stat "$mnt/d" 2>&1) || st=$?
# Remove both (new lookups, counted): the kernel then evicts d and f and
# sends FORGET for each lookup it was granted.
rm -r "$mnt/d" || fail "rm -r of the directory failed"

# The inodes come back once the FORGETs are served (bounded poll); a FORGET
# of an uncounted lookup would have aborted the daemon instead.
for i in $(seq 1 200); do
	kill -0 "$pid" 2>/dev/null || { pgdax_daemon_log "$pid" >&2; fail "the daemon died"; }
	[ "$(free_inodes)" = "$base_fi" ] && break
	sleep 0.05
done
[ "$(free_inodes)" = "$base_fi" ] ||
	fail "free inodes $(free_inodes), expected $base_fi: a reference of the refused lookup leaked"
"$PGDAXCTL" status "$mnt" >/dev/null || fail "pgdaxctl status fails"
kill -0 "$pid" 2>/dev/null || fail "the daemon died"

[ "$st" -ne 0 ] && grep -q "Cannot allocate memory" <<<"$out" ||
	fail "a lookup that could not be counted was not refused with ENOMEM: $out"

pgdax_umount "$mnt"
"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || {
	cat "$PGDAX_WORK/fsck.log" >&2
	fail "fsck.pgdaxfs finds the image inconsistent"
}
