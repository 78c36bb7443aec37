#!/bin/bash
# Every installed program answers -h/--help (usage on stdout, exit 0) and
# -V/--version (its name and the package version from configure's AC_INIT,
# exit 0): mkfs.pgdaxfs, fsck.pgdaxfs, pgdaxctl and each of its commands,
# the daemon pgdaxfs, mount.pgdaxfs (also as mount.fuse.pgdaxfs) and
# umount.fuse.pgdaxfs, which used to take --help for a path to unmount.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/install_lib.sh"
pgdax_init
pgdax_install
version=$(pgdax_package_version)
[ -n "$version" ] || fail "no PACKAGE_VERSION in config.h"

check() { # PROGRAM-NAME
	local name=$1 p out flag
	p=$(pgdax_installed "$name")
	for flag in -h --help; do
		out=$(PGDAXFS_DAEMON=/nonexistent "$p" "$flag" 2>/dev/null) ||
			fail "$name $flag exited with status $?"
		echo "$out" | grep -qi "^usage: " || fail "$name $flag: no usage on stdout: $out"
	done
	for flag in -V --version; do
		out=$("$p" "$flag" 2>/dev/null) || fail "$name $flag exited with status $?"
		echo "$out" | grep -q "^$name $version\b" ||
			fail "$name $flag: expected '$name $version ...', got: $out"
	done
	log "$name: -h --help -V --version ok ($(echo "$out" | head -n1))"
}
for name in mkfs.pgdaxfs fsck.pgdaxfs pgdaxctl pgdaxfs mount.pgdaxfs mount.fuse.pgdaxfs \
	    umount.fuse.pgdaxfs; do
	check "$name"
done

# pgdaxctl: each command's help, as listed by pgdaxctl --help
ctl=$(pgdax_installed pgdaxctl)
cmds=$("$ctl" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || fail "pgdaxctl --help lists no commands"
for c in $cmds; do
	for flag in -h --help; do
		out=$("$ctl" "$c" "$flag") || fail "pgdaxctl $c $flag exited with status $?"
		echo "$out" | grep -q "^usage: pgdaxctl $c" || fail "pgdaxctl $c $flag: $out"
	done
	out=$("$ctl" help "$c") || fail "pgdaxctl help $c exited with status $?"
	echo "$out" | grep -q "^usage: pgdaxctl $c" || fail "pgdaxctl help $c: $out"
done
log "pgdaxctl commands: $(echo $cmds): help ok"
