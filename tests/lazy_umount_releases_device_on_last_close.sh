#!/bin/bash
# umount -l detaches at once but the daemon keeps serving open files; when
# the last one is closed the kernel drops the connection and the daemon
# releases everything (handles, inodes), drains, releases the device and
# exits 0, after which the device mounts again.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
pid=$PGDAX_LAST_PID
head -c 1000000 /dev/urandom >"$PGDAX_WORK/ref"
cp "$PGDAX_WORK/ref" "$mnt/held"
mkdir -p "$mnt/d/e" && touch "$mnt/d/e/f"
exec 3<"$mnt/held" 4>>"$mnt/d/e/f"
ls -R "$mnt" >/dev/null   # plenty of lookups the kernel will never forget
umount -l "$mnt"
pgdax_is_mounted "$mnt" && fail "umount -l left the mount visible"
# the detached mount is still served: a write (write-through: a request to
# the daemon) and a read through the held handles, then the daemon is there
echo appended >&4 || fail "write through a held handle failed after umount -l"
cmp - "$PGDAX_WORK/ref" <&3 || fail "open file not served after umount -l"
kill -0 "$pid" 2>/dev/null || fail "daemon exited while files were still open"
exec 3<&- 4>&-
pgdax_wait_pid "$pid" 30 || fail "daemon did not exit after the last close"
[ "$PGDAX_STATUS" -eq 0 ] || fail "daemon exited $PGDAX_STATUS"
pgdax_mount "$dev" "$mnt"
[ "$(cat "$mnt/d/e/f")" = appended ] || fail "write after umount -l lost"
cmp "$mnt/held" "$PGDAX_WORK/ref" || fail "file changed"
pgdax_umount "$mnt"
