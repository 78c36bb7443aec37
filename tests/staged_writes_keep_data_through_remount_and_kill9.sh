#!/bin/bash
# Large WRITEs are read by the daemon straight into free device blocks and
# whole aligned MiBs are exchanged with the file's blocks (lib/stage.c):
# through the real kernel mount, O_DIRECT, buffered, unaligned and appending
# writes all leave exactly the bytes written, the exchange really happened
# (pgdaxctl status counts it), and the data survives unmount, fsck, a
# kill -9 of the daemon and remount. -o nostage writes the same bytes.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 1G)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
model="$PGDAX_WORK/model"
for s in a b c d; do head -c $((16 << 20)) /dev/urandom >"$PGDAX_WORK/$s"; done

# write the same way to the file under $mnt and to the model
both() { # SRC DD-ARGS...
	local src=$1; shift
	dd if="$PGDAX_WORK/$src" of="$mnt/f" conv=notrunc status=none "$@" ||
		fail "dd $* on the mount failed"
	dd if="$PGDAX_WORK/$src" of="$model" conv=notrunc status=none \
		$(printf '%s\n' "$@" | grep -v '^oflag=direct$')
}
check() { cmp "$model" "$mnt/f" || fail "$1: file differs from what was written"; }
counter() { # NAME -> value in pgdaxctl status --json
	"$PGDAXCTL" status --json "$mnt" | sed -n "s/^ *\"$1\": \([0-9]*\),*$/\1/p"
}

for opts in "" "-o nostage"; do
	rm -f "$model"
	pgdax_mount "$dev" "$mnt" $opts
	both a bs=1M oflag=direct				# allocating, 16 MiB
	both b bs=1M oflag=direct count=8			# aligned overwrites
	both c bs=1M count=4 seek=2				# buffered overwrites
	both d bs=1M oflag=direct count=3 seek=4097 oflag=seek_bytes	# unaligned
	both b bs=1M oflag=direct count=4 seek=16		# appends past EOF
	check "${opts:-default}"
	adopted=$(counter writes_adopted)
	staged=$(counter staged_blocks)
	log "${opts:-default}: $adopted writes exchanged, $staged blocks staged"
	if [ -z "$opts" ]; then
		[ "${adopted:-0}" -ge 8 ] ||
			fail "aligned 1 MiB overwrites were not exchanged (writes_adopted=$adopted)"
		[ "${staged:-0}" -gt 0 ] || fail "no stage held while mounted (staged_blocks=$staged)"
	else
		[ "$adopted" = 0 ] && [ "$staged" = 0 ] ||
			fail "-o nostage still staged ($adopted exchanges, $staged blocks)"
	fi
	pgdax_umount "$mnt"
	"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || {
		cat "$PGDAX_WORK/fsck.log" >&2
		fail "fsck.pgdaxfs finds the image inconsistent (${opts:-default})"
	}
	pgdax_mount "$dev" "$mnt" $opts
	check "remount (${opts:-default})"
	rm "$mnt/f"
	pgdax_umount "$mnt"
done

# acknowledged exchanges survive kill -9 (no unmount, stages never returned)
rm -f "$model"
pgdax_mount "$dev" "$mnt"
both a bs=1M oflag=direct
both d bs=1M oflag=direct count=16
[ "$(counter writes_adopted)" -ge 16 ] || fail "overwrites before kill -9 were not exchanged"
pgdax_kill9 "$PGDAX_LAST_PID" "$mnt"
"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || {
	cat "$PGDAX_WORK/fsck.log" >&2
	fail "fsck.pgdaxfs finds the image inconsistent after kill -9"
}
pgdax_mount "$dev" "$mnt"
check "after kill -9"
pgdax_umount "$mnt"
