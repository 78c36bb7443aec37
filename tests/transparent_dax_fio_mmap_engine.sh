#!/bin/bash
# SPDX-License-Identifier: MIT
# fio's mmap engine under pgdax-exec: `pgdaxctl status` shows fio holding
# pins on its file while it runs random reads and writes (the engine's
# MAP_SHARED map is DAX, not the page cache), a write+verify job passes, and
# the same pattern verifies again (read-only, without the preload) after a
# remount.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/preload_lib.sh"
pgdax_init
command -v fio >/dev/null || { log "SKIP: no fio"; exit 77; }

dev=$(pgdax_new_device 128M 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
f=$mnt/fio.dat
common=(--ioengine=mmap --filename="$f" --size=16M --bs=4k --randseed=7)
st=$PGDAX_WORK/status.json

# 1. random reads and writes for a few seconds; status shows fio's pins
pdx fio --name=rw "${common[@]}" --rw=randrw --time_based --runtime=4 \
	--output="$PGDAX_WORK/fio-rw.out" &
fpid=$!
_pgdax_pids+=("$fpid")
seen=
for i in $(seq 1 400); do
	"$PGDAXCTL" status "$mnt" --json >"$st" 2>/dev/null || true
	if grep -q "\"pins\": [1-9].*\"path\": \"$f\"" "$st"; then
		seen=1
		break
	fi
	kill -0 "$fpid" 2>/dev/null || break
	sleep 0.05
done
"$PGDAXCTL" status "$mnt" >"$PGDAX_WORK/status.txt" 2>&1 || true
wait "$fpid" || { cat "$PGDAX_WORK/fio-rw.out" >&2; fail "fio randrw under pgdax-exec failed"; }
[ -n "$seen" ] || fail "fio held no pin on $f while it ran: $(cat "$st")"
grep -q "pin(s)" "$PGDAX_WORK/status.txt" || fail "pgdaxctl status listed no pins: $(cat "$PGDAX_WORK/status.txt")"

# 2. write with a checksum per block, verified through the mapping
pdx fio --name=wv "${common[@]}" --rw=randwrite --verify=crc32c --do_verify=1 \
	--output="$PGDAX_WORK/fio-wv.out" ||
	{ cat "$PGDAX_WORK/fio-wv.out" >&2; fail "fio write+verify under pgdax-exec failed"; }
[ "$(pin_count "$mnt")" = 0 ] || fail "pins left after fio exited"

# 3. the blocks verify after a remount (plain fio, page cache)
pgdax_umount "$mnt"
pgdax_mount "$dev" "$mnt"
fio --name=wv "${common[@]}" --rw=randwrite --verify=crc32c --verify_only \
	--output="$PGDAX_WORK/fio-vo.out" ||
	{ cat "$PGDAX_WORK/fio-vo.out" >&2; fail "fio verify after the remount failed"; }
pgdax_umount "$mnt"
log "PASS"
