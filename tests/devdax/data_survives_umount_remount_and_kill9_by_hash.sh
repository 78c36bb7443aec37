#!/bin/bash
# SPDX-License-Identifier: MIT
# On the real device: files written through the mount (small, large,
# sparse, in directories, renamed) read back with the same sha256 after
# umount + remount, and after the daemon is killed -9 with writes just
# acknowledged + remount; then fsck -n finds the volume clean.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/devdax/devdax_lib.sh"
pgdax_init
pgdax_mkfs "$DAX"
mnt=$(pgdax_new_dir mnt)
sums=$PGDAX_WORK/sums

check_sums() { # WHEN
	(cd "$mnt" && sha256sum --quiet -c "$sums") >&2 || fail "data differs $1"
	log "$(wc -l <"$sums") files match their sha256 $1"
}

pgdax_mount "$DAX" "$mnt"
mkdir -p "$mnt/d/e"
for i in $(seq 1 40); do head -c $((i * 1237)) /dev/urandom >"$mnt/d/small$i"; done
head -c 6M /dev/urandom >"$mnt/big"
head -c 1M /dev/urandom >"$mnt/d/e/mid"
truncate -s 10M "$mnt/sparse" && head -c 5000 /dev/urandom | dd of="$mnt/sparse" bs=5000 count=1 seek=7000000 oflag=seek_bytes conv=notrunc status=none
mv "$mnt/d/small40" "$mnt/d/e/renamed"
(cd "$mnt" && find . -type f -print0 | xargs -0 sha256sum) >"$sums"
pgdax_umount "$mnt"

pgdax_mount "$DAX" "$mnt"
check_sums "after umount and remount"
pid=$PGDAX_LAST_PID
# written and acknowledged, then kill -9 at once
head -c 2M /dev/urandom >"$mnt/after"
echo appended >>"$mnt/d/small1"
(cd "$mnt" && find . -type f -print0 | xargs -0 sha256sum) >"$sums"
pgdax_kill9 "$pid" "$mnt"
pgdax_mount "$DAX" "$mnt"
check_sums "after kill -9 and remount"
pgdax_umount "$mnt"
"$FSCK" -n -f "$DAX" >"$PGDAX_WORK/fsck" 2>&1 || { cat "$PGDAX_WORK/fsck" >&2; fail "fsck -n -f after all that"; }
grep -q " 0 problems found" "$PGDAX_WORK/fsck" || { cat "$PGDAX_WORK/fsck" >&2; fail "fsck found problems"; }
echo "1 passed, 0 failed"
