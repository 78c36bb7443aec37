#!/bin/bash
# SPDX-License-Identifier: MIT
# Every tool takes the devdax device by each of its three names,
# /dev/dax0.0, dax0.0 and namespace0.0: mkfs.pgdaxfs formats it, fsck.pgdaxfs
# checks it, pgdaxctl info describes it (as the same devdax, at the
# namespace's alignment), and the daemon (and mount -t pgdaxfs) mounts it
# and serves a file written under another name.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
want_align=$(numfmt --from=iec "$DAX_ALIGN")
mnt=$(pgdax_new_dir mnt)
i=0
for n in "$DAX" "$DAX_NAME" "$DAX_NS"; do
	i=$((i + 1))
	json=$("$PGDAXCTL" info --json "$n") || fail "pgdaxctl info $n exited $?"
	[[ "$json" == *'"kind":"devdax"'* ]] || fail "pgdaxctl info $n: not devdax: $json"
	[[ "$json" == *"\"path\":\"$DAX\""* ]] || fail "pgdaxctl info $n: not $DAX: $json"
	[[ "$json" == *"\"align\":$want_align,"* ]] || fail "pgdaxctl info $n: align is not $DAX_ALIGN: $json"
	"$MKFS" -f "$n" >"$PGDAX_WORK/mkfs.$i" 2>&1 || { cat "$PGDAX_WORK/mkfs.$i" >&2; fail "mkfs.pgdaxfs $n"; }
	"$FSCK" -n -f "$n" >"$PGDAX_WORK/fsck.$i" 2>&1 || { cat "$PGDAX_WORK/fsck.$i" >&2; fail "fsck.pgdaxfs -n -f $n"; }
	pgdax_mount "$n" "$mnt"
	echo "written via $n" >"$mnt/f"
	pgdax_umount "$mnt"
	log "$n: info, mkfs, fsck, daemon mount: ok"
done
# mount(8) through the installed helper, by namespace name: the file
# written by the last round is there
mount -t pgdaxfs "$DAX_NS" "$mnt" || fail "mount -t pgdaxfs $DAX_NS $mnt"
pgdax_on_exit "umount '$mnt' 2>/dev/null"
[ "$(cat "$mnt/f")" = "written via $DAX_NS" ] || fail "mount -t pgdaxfs $DAX_NS: wrong content"
umount "$mnt" || fail "umount $mnt"
for j in $(seq 1 100); do pgdax_is_mounted "$mnt" || break; sleep 0.1; done
! pgdax_is_mounted "$mnt" || fail "$mnt still mounted"
"$PGDAXCTL" list | grep -q "\"chardev\":\"$DAX_NAME\"" || fail "pgdaxctl list does not show $DAX_NAME"
echo "1 passed, 0 failed"
