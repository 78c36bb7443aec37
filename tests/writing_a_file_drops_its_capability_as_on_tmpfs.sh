#!/bin/bash
# A write by another user to a file that carries a file capability
# (security.capability, setcap) succeeds and drops the capability, as on
# tmpfs: the kernel asks the daemon to remove the attribute with the
# writer's credentials (file_remove_privs), and the daemon's own permission
# checks (lib/vol/perm.c) must let a writer do that, while an explicit
# removal by that user stays refused (the VFS asks for CAP_SETFCAP).
# Checked with the kernel checking too (the default) and without.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
command -v setcap >/dev/null || { echo "setcap missing: skipped"; exit 77; }
chmod 711 "$PGDAX_WORK"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

case_on() { # DIR: prints one line per step
	local d=$1
	printf '#!/bin/sh\necho hi\n' >"$d/tool"
	chmod 0777 "$d/tool"
	setcap cap_net_raw+ep "$d/tool" || echo "setcap failed"
	echo "cap before: $(getcap "$d/tool" | awk '{print $2}')"
	as_nobody sh -c "setfattr -x security.capability '$d/tool'" 2>/dev/null &&
		echo "explicit removal by nobody: ok" || echo "explicit removal by nobody: refused"
	as_nobody sh -c "echo more >>'$d/tool'" && echo "write by nobody: ok" || echo "write by nobody: failed"
	echo "cap after: $(getcap "$d/tool" | awk '{print $2}')"
}

ref=$(pgdax_new_dir tmpfs)
mount -t tmpfs -o size=16m tmpfs "$ref"
pgdax_on_exit "umount -l '$ref' 2>/dev/null"
chmod 777 "$ref"
case_on "$ref" >"$PGDAX_WORK/tmpfs.out"
grep -q "cap before: cap_net_raw=ep" "$PGDAX_WORK/tmpfs.out" ||
	fail "the reference did not take the capability: $(cat "$PGDAX_WORK/tmpfs.out")"
for opts in "" "-o no_default_permissions"; do
	dev=$(pgdax_new_device 64M)
	pgdax_mkfs "$dev"
	mnt=$(pgdax_new_dir mnt)
	# shellcheck disable=SC2086
	pgdax_mount "$dev" "$mnt" -o allow_other $opts
	chmod 777 "$mnt"
	case_on "$mnt" >"$PGDAX_WORK/pgdaxfs.out"
	diff -u "$PGDAX_WORK/tmpfs.out" "$PGDAX_WORK/pgdaxfs.out" >&2 ||
		fail "capabilities behave differently on pgdaxfs${opts:+ ($opts)} (+) than on tmpfs (-)"
	pgdax_umount "$mnt"
done
cat "$PGDAX_WORK/tmpfs.out"
