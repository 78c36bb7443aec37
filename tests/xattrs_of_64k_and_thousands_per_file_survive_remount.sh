#!/bin/bash
# Extended attributes as xfs allows them (issue 17, item 4): values up to
# 64 KiB (XATTR_SIZE_MAX; one byte more is E2BIG) and 5,000 attributes on
# one file (their names within the 64 KiB list the VFS allows), set with setfattr and read with getfattr through the mount,
# replaced and removed, identical after a remount, and fsck -n clean.
# Before format 1.4 one 4 KiB block per inode held them all: ENOSPC after
# about a hundred small ones or at the first value over ~4 KiB.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
command -v setfattr >/dev/null && command -v getfattr >/dev/null ||
	{ echo "SKIP: setfattr/getfattr (attr package) not installed"; exit 77; }
dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
work=$(pgdax_new_dir work)
pgdax_mount "$dev" "$mnt"

# 64 KiB values: random bytes, given to setfattr base64-encoded ("0s...")
head -c 65536 /dev/urandom >"$work/big1"
head -c 65536 /dev/urandom >"$work/big2"
head -c 65537 /dev/urandom >"$work/over"
: >"$mnt/f"
setfattr -n user.big1 -v "0s$(base64 -w0 "$work/big1")" "$mnt/f" ||
	fail "setfattr of a 64 KiB value"
setfattr -n user.big2 -v "0s$(base64 -w0 "$work/big1")" "$mnt/f" ||
	fail "setfattr of a second 64 KiB value"
setfattr -n user.big2 -v "0s$(base64 -w0 "$work/big2")" "$mnt/f" ||
	fail "replace of a 64 KiB value"
err=$(setfattr -n user.over -v "0s$(base64 -w0 "$work/over")" "$mnt/f" 2>&1) &&
	fail "a value of 65537 bytes was accepted"
grep -q "Argument list too long" <<<"$err" || fail "65537 bytes: '$err', expected E2BIG"

# 5,000 attributes on one file, in one setfattr --restore
{
	echo "# file: g"
	for i in $(seq -w 1 5000); do echo "user.a$i=\"value-$i-of-a-few-bytes\""; done
} >"$work/dump"
: >"$mnt/g"
(cd "$mnt" && setfattr --restore="$work/dump") || fail "setfattr --restore of 5000 attributes"
setfattr -x user.a2500 "$mnt/g" || fail "remove one of 5000"
setfattr -n user.a0042 -v replaced "$mnt/g" || fail "replace one of 5000"

snapshot() {
	(cd "$mnt" && getfattr -d -m - g | sort && getfattr -n user.a0042 --only-values g &&
	 echo && getfattr -n user.big1 --only-values f | cksum &&
	 getfattr -n user.big2 --only-values f | cksum)
}
before=$(snapshot) || fail "getfattr failed"
n=$(grep -c '^user\.a[0-9]' <<<"$before")
[ "$n" = 4999 ] || fail "getfattr -d lists $n attributes, expected 4999"
grep -q '^user.a0042="replaced"$' <<<"$before" || fail "the replaced value is not listed"
grep -q '^user.a2500=' <<<"$before" && fail "a removed attribute is listed"
grep -q '^user.a4999="value-4999-of-a-few-bytes"$' <<<"$before" || fail "value 4999 wrong"
[ "$(getfattr -n user.big1 --only-values "$mnt/f" | cksum)" = "$(cksum <"$work/big1")" ] ||
	fail "the 64 KiB value read back differs"
[ "$(getfattr -n user.big2 --only-values "$mnt/f" | cksum)" = "$(cksum <"$work/big2")" ] ||
	fail "the replaced 64 KiB value read back differs"

pgdax_umount "$mnt"
"$FSCK" -n -f "$dev" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log" >&2; fail "fsck -n after the sets"; }
pgdax_mount "$dev" "$mnt"
after=$(snapshot) || fail "getfattr after remount failed"
[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") | head >&2; fail "xattrs differ after remount"; }

# removing them all gives the space back (fsck checks the accounting)
setfattr -x user.big1 "$mnt/f" && setfattr -x user.big2 "$mnt/f" || fail "remove 64 KiB values"
rm "$mnt/g"
pgdax_umount "$mnt"
"$FSCK" -n -f "$dev" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log" >&2; fail "fsck -n after the removals"; }
