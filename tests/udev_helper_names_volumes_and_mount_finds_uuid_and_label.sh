#!/bin/bash
# Stable names: `pgdaxctl udev-links`, run as udev runs an IMPORT{program}
# (DEVNAME and ACTION in the environment, or the device as $devnode), prints
# PGDAXFS_UUID / PGDAXFS_LABEL / PGDAXFS_LABEL_ENC / PGDAXFS_VERSION lines,
# nothing for an unformatted device, also for a mounted volume; the
# installed rule (udev/60-pgdaxfs.rules) turns exactly those variables into
# /dev/pgdax/by-uuid and /dev/pgdax/by-label links. `pgdaxctl find` resolves
# UUID=/LABEL= (refusing two devices with one uuid), and mount.pgdaxfs
# mounts UUID=... and LABEL=... sources through it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
export PGDAXFS_DAEMON=$PGDAXFS PGDAXCTL

dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev" -L "my data/1" -U 5d6c7b8a-1234-4abc-9def-0123456789ab
out=$(env -i PATH="$PATH" ACTION=add SUBSYSTEM=dax DEVNAME="$dev" "$PGDAXCTL" udev-links) ||
	fail "udev-links from \$DEVNAME exited $?"
want='PGDAXFS_UUID=5d6c7b8a-1234-4abc-9def-0123456789ab
PGDAXFS_LABEL=my_data/1
PGDAXFS_LABEL_ENC=my\x20data\x2f1'
[ "$(grep -v '^PGDAXFS_VERSION=' <<<"$out")" = "$want" ] || fail "udev-links printed:
$out"
grep -Eq '^PGDAXFS_VERSION=1\.[0-9]+$' <<<"$out" || fail "no PGDAXFS_VERSION: $out"
# every line is KEY=VALUE with no whitespace: what IMPORT{program} parses
grep -Evq '^[A-Z_]+=[^[:space:]]+$' <<<"$out" && fail "a line udev cannot import: $out"
[ "$("$PGDAXCTL" udev-links "$dev")" = "$out" ] || fail "udev-links DEVICE differs from \$DEVNAME"

raw=$(pgdax_new_device 32M)
out=$(DEVNAME=$raw "$PGDAXCTL" udev-links) || fail "udev-links on an unformatted device exited $?"
[ -z "$out" ] || fail "udev-links named an unformatted device: $out"
must_fail env -u DEVNAME "$PGDAXCTL" udev-links

# the rule imports the helper's variables and links exactly those names
rules=$top_builddir/udev/60-pgdaxfs.rules
grep -q '^IMPORT{program}=".*/pgdaxctl udev-links \$devnode"$' "$rules" || fail "rule does not run the helper"
grep -q 'ENV{PGDAXFS_UUID}=="?\*", SYMLINK+="pgdax/by-uuid/$env{PGDAXFS_UUID}"' "$rules" ||
	fail "rule has no by-uuid link"
grep -q 'ENV{PGDAXFS_LABEL_ENC}=="?\*", SYMLINK+="pgdax/by-label/$env{PGDAXFS_LABEL_ENC}"' "$rules" ||
	fail "rule has no by-label link"
grep -q '@bindir@' "$rules" && fail "rule not substituted"

# find: UUID and LABEL, among the devices given; a copy makes it ambiguous
[ "$("$PGDAXCTL" find UUID=5D6C7B8A-1234-4ABC-9DEF-0123456789AB "$raw" "$dev")" = "$dev" ] ||
	fail "find UUID="
[ "$("$PGDAXCTL" find "LABEL=my data/1" "$dev")" = "$dev" ] || fail "find LABEL="
must_fail "$PGDAXCTL" find LABEL=other "$dev"
twin=$(pgdax_new_device 64M)
cp --sparse=always "$dev" "$twin"
err=$("$PGDAXCTL" find UUID=5d6c7b8a-1234-4abc-9def-0123456789ab "$dev" "$twin" 2>&1) &&
	fail "find chose one of two devices with the same uuid"
[[ "$err" == *"more than one device"*"$dev"*"$twin"* ]] || fail "ambiguity not explained: $err"

# mounted: the helper still reads it (no lock taken), the mount is undisturbed
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
[ "$(DEVNAME=$dev "$PGDAXCTL" udev-links | head -n1)" = "PGDAXFS_UUID=5d6c7b8a-1234-4abc-9def-0123456789ab" ] ||
	fail "udev-links on a mounted volume"
echo ok >"$mnt/f" || fail "mount disturbed by udev-links"
pgdax_umount "$mnt"

# mount.pgdaxfs UUID=... / LABEL=... (PGDAXFS_DEVICES: emulated devices to look at)
"$PGDAXCTL" tune "$twin" -U random -L twin >/dev/null
export PGDAXFS_DEVICES="$raw $twin $dev"
for spec in UUID=5d6c7b8a-1234-4abc-9def-0123456789ab "LABEL=my data/1"; do
	"$top_builddir/tools/mount.pgdaxfs" "$spec" "$mnt" || fail "mount.pgdaxfs $spec exited $?"
	_pgdax_mounts+=("$mnt")
	pgdax_is_mounted "$mnt" || fail "mount.pgdaxfs $spec: not mounted"
	[ "$(cat "$mnt/f")" = ok ] || fail "mount.pgdaxfs $spec mounted another volume"
	grep -q "^$dev $mnt fuse.pgdaxfs " /proc/mounts || fail "$spec: /proc/mounts source is not $dev"
	pid=$(pgrep -f "^$PGDAXFS $dev $mnt" | head -n1)
	[ -n "$pid" ] || fail "no daemon for $spec"
	fusermount3 -u "$mnt"
	pgdax_wait_pid "$pid" || fail "daemon $pid did not exit"
done
rc=0
"$top_builddir/tools/mount.pgdaxfs" UUID=00000000-0000-4000-8000-000000000000 "$mnt" 2>"$PGDAX_WORK/err" || rc=$?
[ "$rc" -eq 32 ] || fail "mount of an unknown UUID exited $rc"
grep -q "no pgdaxfs with UUID=00000000-0000-4000-8000-000000000000" "$PGDAX_WORK/err" ||
	fail "unknown UUID: $(cat "$PGDAX_WORK/err")"
echo "udev-links, find, mount UUID=/LABEL=: ok"
