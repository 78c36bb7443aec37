#!/bin/bash
# RENAME_WHITEOUT: a rename that leaves a whiteout (a character device 0/0)
# at the old name, in the same transaction. overlayfs refuses an upper
# directory on a FUSE filesystem without it ("upper fs missing required
# features"); with it, an overlay whose upperdir is on pgdaxfs mounts,
# deleting a lower file through the overlay leaves a whiteout in the upper
# directory, renaming one leaves a whiteout at the old name and the data at
# the new one, the overlay shows neither old name, and everything survives
# a remount of pgdaxfs with fsck clean. renameat2(RENAME_WHITEOUT) called
# directly (python ctypes) does the same.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || fail "no overlayfs in this kernel"

dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
low=$(pgdax_new_dir lower)
ov=$(pgdax_new_dir overlay)
pgdax_mount "$dev" "$mnt"

is_whiteout() { # PATH: a character device 0/0
	[ -c "$1" ] && [ "$(stat -c '%t:%T' "$1")" = "0:0" ]
}

# renameat2(RENAME_WHITEOUT) directly
echo direct >"$mnt/src"
python3 - "$mnt/src" "$mnt/dst" <<'PY' || fail "renameat2(RENAME_WHITEOUT) failed"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_WHITEOUT = -100, 4
if libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(),
                  RENAME_WHITEOUT) != 0:
    e = ctypes.get_errno()
    sys.exit("renameat2: " + os.strerror(e))
PY
is_whiteout "$mnt/src" || fail "no whiteout at the old name: $(ls -l "$mnt/src" 2>&1)"
[ "$(cat "$mnt/dst")" = direct ] || fail "renamed file lost its data"

# an overlay with its upper directory on pgdaxfs
echo one >"$low/a"
echo two >"$low/b"
echo three >"$low/c"
mkdir "$mnt/up" "$mnt/work"
mount -t overlay overlay -o "lowerdir=$low,upperdir=$mnt/up,workdir=$mnt/work" "$ov" ||
	fail "overlay with upperdir on pgdaxfs refused: $(dmesg 2>/dev/null | grep overlayfs | tail -n3)"
pgdax_on_exit "umount '$ov' 2>/dev/null"
rm "$ov/a" || fail "delete of a lower file through the overlay failed"
[ -e "$ov/a" ] && fail "deleted lower file still visible in the overlay"
is_whiteout "$mnt/up/a" || fail "no whiteout in the upper dir: $(ls -l "$mnt/up" 2>&1)"
mv "$ov/b" "$ov/b2" || fail "rename of a lower file through the overlay failed"
[ -e "$ov/b" ] && fail "renamed lower file still visible under its old name"
[ "$(cat "$ov/b2")" = two ] || fail "renamed lower file lost its data"
is_whiteout "$mnt/up/b" || fail "no whiteout at the renamed file's old name: $(ls -l "$mnt/up" 2>&1)"
[ "$(cat "$ov/c")" = three ] || fail "untouched lower file unreadable"
umount "$ov" || fail "overlay umount failed"

# kept on the device, and the volume is consistent
pgdax_umount "$mnt"
"$FSCK" -n "$dev" >&2 || fail "fsck finds the volume damaged after whiteouts"
pgdax_mount "$dev" "$mnt"
is_whiteout "$mnt/up/a" && is_whiteout "$mnt/up/b" && is_whiteout "$mnt/src" ||
	fail "whiteouts lost across a remount: $(ls -l "$mnt/up" "$mnt" 2>&1)"
mount -t overlay overlay -o "lowerdir=$low,upperdir=$mnt/up,workdir=$mnt/work" "$ov" ||
	fail "overlay remount failed"
[ -e "$ov/a" ] || [ -e "$ov/b" ] && fail "whiteouts not honoured after a remount"
[ "$(cat "$ov/b2")" = two ] || fail "renamed file lost after a remount"
umount "$ov"
pgdax_umount "$mnt"
