#!/bin/bash
# Every permission rule (tests/perm_cases.py: open modes, exec, access(2),
# search through cached entries, create/unlink/rename in plain, sticky and
# setgid directories, chmod/chown/chgrp/utimes/truncate, xattr namespaces)
# gives the same answer on pgdaxfs as on tmpfs, for root, a file's owner, a
# member of its group through a supplementary group, and nobody. With
# -o no_default_permissions only the daemon checks (lib/vol/perm.c); by
# default the kernel checks too, and the answers are the same.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
cases="$top_srcdir/tests/perm_cases.py"
# the other users must reach the mount points
chmod 711 "$PGDAX_WORK"

ref=$(pgdax_new_dir tmpfs)
mount -t tmpfs -o size=64m tmpfs "$ref"
pgdax_on_exit "umount -l '$ref' 2>/dev/null"
chmod 755 "$ref"
python3 "$cases" "$ref" >"$PGDAX_WORK/tmpfs.out" || fail "perm_cases.py failed on tmpfs"
umount "$ref"
grep -q SETUP-FAILED "$PGDAX_WORK/tmpfs.out" && fail "perm_cases.py setup failed on tmpfs"
n=$(wc -l <"$PGDAX_WORK/tmpfs.out")

for opts in "-o no_default_permissions" ""; do
	dev=$(pgdax_new_device 256M)
	pgdax_mkfs "$dev"
	mnt=$(pgdax_new_dir mnt)
	# shellcheck disable=SC2086
	pgdax_mount "$dev" "$mnt" -o allow_other $opts
	chmod 755 "$mnt"
	python3 "$cases" "$mnt" >"$PGDAX_WORK/pgdaxfs.out" || fail "perm_cases.py failed on pgdaxfs"
	if ! diff "$PGDAX_WORK/tmpfs.out" "$PGDAX_WORK/pgdaxfs.out" >"$PGDAX_WORK/diff"; then
		cat "$PGDAX_WORK/diff" >&2
		fail "$(grep -c '^<' "$PGDAX_WORK/diff") of $n permission cases differ from tmpfs (${opts:-daemon checks})"
	fi
	log "$n permission cases as on tmpfs (${opts:-daemon checks only})"
	pgdax_umount "$mnt"
done
