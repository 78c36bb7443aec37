#!/bin/bash
# chattr/lsattr on pgdaxfs (FS_IOC_GETFLAGS/SETFLAGS through FUSE's ioctl
# path, on files and directories): append-only (a), immutable (i) and
# noatime (A) are kept across a remount, shown by lsattr, and enforced for
# every operation exactly as tmpfs (which has the same three flags, with
# the kernel's VFS rules, those of ext4) enforces them: the same script of
# operations on both, each operation's outcome (ok or the error) compared.
# Only root may set a or i (CAP_LINUX_IMMUTABLE): a non-owner, non-root
# user is refused. Unknown flags (chattr +c) are refused, as tmpfs does.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
command -v chattr >/dev/null && command -v lsattr >/dev/null || fail "chattr/lsattr (e2fsprogs) missing"

dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
ref=$(pgdax_new_dir tmpfs)
mount -t tmpfs -o size=16M pgdax-test "$ref" || fail "cannot mount tmpfs"
pgdax_on_exit "umount '$ref'"
pgdax_mount "$dev" "$mnt"

try() { # LABEL CMD...: prints "LABEL: ok" or "LABEL: <error text>"
	local label=$1 out; shift
	if out=$("$@" 2>&1); then
		echo "$label: ok"
	else
		# keep the errno text only, not the tool's wording or path
		echo "$label: $(echo "$out" | grep -oE 'Operation not permitted|Permission denied|Operation not supported|Inappropriate ioctl for device|No such file or directory|Read-only file system|Invalid argument' | head -n1)"
	fi
}

script() { # DIR: the operations, on a fresh tree under DIR/t
	local d=$1/t
	mkdir "$d" && echo data >"$d/f" && echo data >"$d/g" && mkdir "$d/dir" &&
		touch "$d/dir/x"
	try "set +i" chattr +i "$d/f"
	try "lsattr shows i" sh -c "lsattr '$d/f' | cut -d' ' -f1 | grep -qx -- '----i-----------------'"
	try "i: append" sh -c "echo more >>'$d/f'"
	try "i: overwrite" sh -c "echo more >'$d/f'"
	try "i: read" cat "$d/f"
	try "i: truncate" truncate -s 0 "$d/f"
	try "i: fallocate" fallocate -l 64k "$d/f"
	try "i: unlink" rm -f "$d/f"
	try "i: rename" mv "$d/f" "$d/f2"
	try "i: rename over it" mv "$d/g" "$d/f"
	try "i: link" ln "$d/f" "$d/f3"
	try "i: chmod" chmod 600 "$d/f"
	try "i: chown" chown 1:1 "$d/f"
	try "i: touch" touch -d @1000 "$d/f"
	try "i: setxattr" setfattr -n user.x -v 1 "$d/f"
	try "clear i" chattr -i "$d/f"
	try "after -i: append" sh -c "echo more >>'$d/f'"
	try "set +a" chattr +a "$d/f"
	try "lsattr shows a" sh -c "lsattr '$d/f' | cut -d' ' -f1 | grep -qx -- '-----a----------------'"
	try "a: append" sh -c "echo more >>'$d/f'"
	try "a: overwrite" sh -c "echo more >'$d/f'"
	try "a: write without O_APPEND" dd if=/dev/zero of="$d/f" bs=1 count=1 conv=notrunc status=none
	try "a: touch (now)" touch "$d/f"
	try "a: touch -d (a given time)" touch -d 2001-01-01 "$d/f"
	try "a: truncate" truncate -s 0 "$d/f"
	try "a: fallocate keep-size" fallocate -n -l 64k "$d/f"
	try "a: punch hole" fallocate -p -l 4k "$d/f"
	try "a: unlink" rm -f "$d/f"
	try "a: rename" mv "$d/f" "$d/f2"
	try "a: link" ln "$d/f" "$d/f3"
	try "a: chmod" chmod 600 "$d/f"
	try "a: setxattr" setfattr -n user.x -v 1 "$d/f"
	try "a: content" sh -c "[ \"\$(cat '$d/f')\" = \"\$(printf 'data\nmore\nmore\nmore')\" ]"
	try "unknown flag +c" chattr +c "$d/g"
	try "non-root sets +a on its own file" setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -c "cp /dev/null '$d/dir/own' 2>/dev/null; chattr +a '$d/dir/own'"
	try "set +A" chattr +A "$d/g"
	try "A: write" sh -c "echo more >>'$d/g'"
	try "dir +i" chattr +i "$d/dir"
	try "i dir: create" touch "$d/dir/new"
	try "i dir: unlink" rm -f "$d/dir/x"
	try "i dir: rename out" mv "$d/dir/x" "$d/x2"
	try "i dir: rename in" mv "$d/g" "$d/dir/g"
	try "i dir: write an entry's data" sh -c "echo w >>'$d/dir/x'"
	try "dir -i +a" chattr -i +a "$d/dir"
	try "lsattr -d shows a" sh -c "lsattr -d '$d/dir' | cut -d' ' -f1 | grep -qx -- '-----a----------------'"
	try "a dir: create" touch "$d/dir/new"
	try "a dir: unlink" rm -f "$d/dir/x"
	try "a dir: rmdir of a subdir" sh -c "mkdir '$d/dir/s' && rmdir '$d/dir/s'"
	try "clear dir" chattr -a "$d/dir"
}

script "$ref" >"$PGDAX_WORK/tmpfs.out"
script "$mnt" >"$PGDAX_WORK/pgdaxfs.out"
if ! diff -u "$PGDAX_WORK/tmpfs.out" "$PGDAX_WORK/pgdaxfs.out" >&2; then
	fail "chattr flags behave differently on pgdaxfs (+) than on tmpfs (-)"
fi
grep -q "i: unlink: Operation not permitted" "$PGDAX_WORK/pgdaxfs.out" ||
	fail "the reference itself did not enforce +i: $(cat "$PGDAX_WORK/tmpfs.out")"

# kept on the device: +i and +A survive a remount
chattr +i "$mnt/t/f" && chattr -a "$mnt/t/f" 2>/dev/null || true
chattr =i "$mnt/t/f" || fail "chattr =i failed"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(lsattr "$mnt/t/f" | cut -d' ' -f1)" = "----i-----------------" ] ||
	fail "+i lost across a remount: $(lsattr "$mnt/t/f")"
[ "$(lsattr "$mnt/t/g" | cut -d' ' -f1)" = "-------A--------------" ] ||
	fail "+A lost across a remount: $(lsattr "$mnt/t/g")"
must_fail rm -f "$mnt/t/f"
chattr -i "$mnt/t/f" || fail "chattr -i failed"
rm -f "$mnt/t/f" || fail "unlink after -i failed"
pgdax_umount "$mnt"
# +A is noatime for that file even where the mount says strictatime
pgdax_mount "$dev" "$mnt" -o strictatime
# a writable DAX pin of a file made immutable while it was open is refused
# (a store through it would bypass +i), a read-only one is not
echo data >"$mnt/t/pinme"
lib=$(ls "$top_builddir"/lib/.libs/libpgdax.so.[0-9] | head -n1)
python3 - "$mnt/t/pinme" "$lib" <<'PY' || fail "a writable pin of an immutable file"
import ctypes, os, subprocess, sys
path, lib = sys.argv[1], ctypes.CDLL(sys.argv[2])
fd = os.open(path, os.O_RDWR)
subprocess.run(["chattr", "+i", path], check=True)
pin = ctypes.c_void_p()
rw = lib.pgdax_pin(fd, ctypes.c_long(0), ctypes.c_size_t(4096), 1, ctypes.byref(pin))
ro = lib.pgdax_pin(fd, ctypes.c_long(0), ctypes.c_size_t(4096), 0, ctypes.byref(pin))
subprocess.run(["chattr", "-i", path], check=True)
print("writable pin: %d, read-only pin: %d" % (rw, ro))
sys.exit(0 if rw == -1 and ro == 0 else 1)  # -EPERM
PY
echo data >"$mnt/t/h"
touch -a -d 2001-01-01 "$mnt/t/g" "$mnt/t/h"
cat "$mnt/t/g" "$mnt/t/h" >/dev/null
[ "$(stat -c %X "$mnt/t/g")" = "$(date -d 2001-01-01 +%s)" ] ||
	fail "a read updated the atime of a +A file: $(stat -c %x "$mnt/t/g")"
[ "$(stat -c %X "$mnt/t/h")" != "$(date -d 2001-01-01 +%s)" ] ||
	fail "strictatime: a read left the atime of a file without +A (the check above proves nothing)"
pgdax_umount "$mnt"
"$FSCK" -n "$dev" >&2 || fail "fsck finds the volume damaged after chattr"
