#!/bin/bash
# O_TMPFILE (FUSE_TMPFILE, libfuse >= 3.17): open(DIR, O_TMPFILE) gives a
# file with no name (nlink 0, not listed) that reads back what was written;
# linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N gives it a name, data and
# all, and it survives a remount; one never named is freed at its last
# close; and one still open when the daemon is killed (kill -9) is freed at
# the next mount from the orphan list, like an unlinked open file: free
# space returns to what it was and fsck -f finds the volume clean.
# Built against libfuse 3.14 there is no tmpfile op: the test skips.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
grep -q '^#define PGDAX_HAVE_FUSE_TMPFILE 1' "$top_builddir/config.h" || {
	echo "SKIP: built against a libfuse without the tmpfile op"; exit 77; }

dev=$(pgdax_new_device 128M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -o allow_other,no_default_permissions
free0=$(stat -f -c %f "$mnt")

cat >"$PGDAX_WORK/tmpfile.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
def tmpfile(d, data):
    fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o640)
    os.write(fd, data)
    st = os.fstat(fd)
    if st.st_nlink != 0 or os.listdir(d) != sorted(os.listdir(d)) or \
       os.pread(fd, len(data), 0) != data:
        sys.exit("tmpfile: nlink %d, or data not read back" % st.st_nlink)
    return fd
cmd, d = sys.argv[1], sys.argv[2]
if cmd == "link":
    before = set(os.listdir(d))
    fd = tmpfile(d, b"named later")
    if set(os.listdir(d)) != before:
        sys.exit("a tmpfile shows in its directory")
    if libc.linkat(AT_FDCWD, ("/proc/self/fd/%d" % fd).encode(), AT_FDCWD,
                   (d + "/named").encode(), AT_SYMLINK_FOLLOW) != 0:
        sys.exit("linkat: " + os.strerror(ctypes.get_errno()))
    os.write(fd, b"!")
    os.close(fd)
    if open(d + "/named", "rb").read() != b"named later!" or os.stat(d + "/named").st_nlink != 1:
        sys.exit("linked tmpfile: wrong data or link count")
elif cmd == "close":
    os.close(tmpfile(d, b"x" * (4 << 20)))
elif cmd == "hold":
    fd = tmpfile(d, b"y" * (4 << 20))
    open(sys.argv[3], "w").write("ready\n")
    sys.stdin.read()	# held open until killed
PY

python3 "$PGDAX_WORK/tmpfile.py" link "$mnt" || fail "O_TMPFILE + linkat failed"
python3 "$PGDAX_WORK/tmpfile.py" close "$mnt" || fail "O_TMPFILE closed unnamed failed"
# the parent's permissions hold as for a create (checked by the daemon: the
# mount is no_default_permissions): nobody cannot make one in a
# root directory of mode 0755, and can in one of mode 0777
chmod 711 "$PGDAX_WORK"; chmod 755 "$mnt"
mkdir -m 0755 "$mnt/p" "$mnt/p/rootonly"; mkdir -m 0777 "$mnt/p/open"
tmpfile_as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c "
import os, sys
try:
    os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_WRONLY, 0o600)); print('ok')
except OSError as e:
    print(os.strerror(e.errno))" "$1"
}
[ "$(tmpfile_as_nobody "$mnt/p/rootonly")" = "Permission denied" ] ||
	fail "O_TMPFILE by nobody in a root 0755 directory: $(tmpfile_as_nobody "$mnt/p/rootonly")"
[ "$(tmpfile_as_nobody "$mnt/p/open")" = ok ] ||
	fail "O_TMPFILE by nobody in a 0777 directory: $(tmpfile_as_nobody "$mnt/p/open")"
rm -r "$mnt/p"
[ "$(ls "$mnt")" = named ] || fail "directory holds more than the linked file: $(ls "$mnt")"
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
[ "$(cat "$mnt/named")" = "named later!" ] || fail "linked tmpfile lost across a remount"
freed=$(stat -f -c %f "$mnt")

# a tmpfile open at a crash
mkfifo "$PGDAX_WORK/hold"
python3 "$PGDAX_WORK/tmpfile.py" hold "$mnt" "$PGDAX_WORK/ready" <"$PGDAX_WORK/hold" &
holder=$!
exec 8>"$PGDAX_WORK/hold"	# keeps the holder's stdin open
pgdax_on_exit "kill $holder 2>/dev/null"
for _ in $(seq 1 400); do
	[ -s "$PGDAX_WORK/ready" ] && break
	kill -0 "$holder" 2>/dev/null || break
	sleep 0.05
done
[ -s "$PGDAX_WORK/ready" ] || fail "the holder did not create its tmpfile"
[ "$(stat -f -c %f "$mnt")" -lt "$freed" ] || fail "the held tmpfile takes no space"
pgdax_kill9 "$PGDAX_LAST_PID" "$mnt"
exec 8>&-
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null || true
pgdax_mount "$dev" "$mnt"
[ "$(stat -f -c %f "$mnt")" = "$freed" ] ||
	fail "tmpfile open at the crash not freed at mount: $(stat -f -c %f "$mnt") free blocks, $freed before"
[ "$(ls "$mnt")" = named ] || fail "directory changed across the crash: $(ls "$mnt")"
pgdax_umount "$mnt"
"$FSCK" -f -n "$dev" >&2 || fail "fsck -f finds the volume damaged"
[ "$free0" -ge "$freed" ] || fail "free space grew: $free0 -> $freed"
