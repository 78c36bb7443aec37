#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/preload-bench.sh: transparent DAX (pgdax-exec) against the same
# programs without it, against the project's own DAX fio engine, and LMDB
# on tmpfs (/dev/shm). Provisional on a shared machine: prints `uptime`.
#   fio mmap engine: 4k randwrite, 4k randread, 1M seq read, 1M seq write
#   LMDB (python3-lmdb): put-then-get
# Run by `make bench-preload` (needs top_srcdir/top_builddir). Env:
# PGDAX_BENCH_SECS (per fio job, default 5), PGDAX_BENCH_KEYS (LMDB, 200000).
set -u
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/preload_lib.sh"
pgdax_init
secs=${PGDAX_BENCH_SECS:-5}
keys=${PGDAX_BENCH_KEYS:-200000}
engine=$top_builddir/bench/fio-engine/.libs/pgdax-fio.so
PY=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import lmdb' 2>/dev/null && { PY=$p; break; }
done

dev=$(pgdax_new_device 1G 4K)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
f=$mnt/bench.dat
head -c 256M /dev/zero >"$f"

# JOB-ARGS... -> "iops bw_MiBs" of one fio run (reads+writes summed)
run_fio() {
	local out=$PGDAX_WORK/fio.json
	"$@" --output-format=json --output="$out" >/dev/null 2>&1 || { echo "failed failed"; return; }
	python3 - "$out" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
iops = j["read"]["iops"] + j["write"]["iops"]
bw = (j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 2**20
print("%.0f %.1f" % (iops, bw))
PY
}

echo "uptime: $(uptime)"
printf '%-14s %22s %22s %22s %8s %8s\n' job "mmap (page cache)" "mmap + pgdax-exec" "pgdax fio engine" ratio vs-eng
for job in randwrite:4k randread:4k read:1M write:1M; do
	rw=${job%%:*} bs=${job#*:}
	common=(--name=b --filename="$f" --size=256M --bs="$bs" --rw="$rw" --time_based
		--runtime="$secs" --randseed=1 --norandommap)
	plain=$(run_fio fio --ioengine=mmap "${common[@]}")
	dax=$(run_fio pdx fio --ioengine=mmap "${common[@]}")
	if [ -f "$engine" ]; then
		eng=$(run_fio fio --ioengine="external:$engine" "${common[@]}")
	else
		eng="n/a n/a"
	fi
	r=$(awk -v a="${plain%% *}" -v b="${dax%% *}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')
	e=$(awk -v a="${eng%% *}" -v b="${dax%% *}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')
	printf '%-14s %22s %22s %22s %8s %8s\n' "$rw $bs" "${plain/ / IOPS }MiB/s" \
		"${dax/ / IOPS }MiB/s" "${eng/ / IOPS }MiB/s" "$r" "$e"
done
rm -f "$f"

if [ -n "$PY" ]; then
	shm=$(mktemp -d /dev/shm/pgdax-lmdb-bench.XXXXXX)
	pgdax_on_exit rm -rf "$shm"
	mkdir "$mnt/l1" "$mnt/l2"
	a=$("$PY" "$top_srcdir/bench/preload_lmdb_bench.py" "$mnt/l1" "$keys")
	b=$(pdx "$PY" "$top_srcdir/bench/preload_lmdb_bench.py" "$mnt/l2" "$keys")
	c=$("$PY" "$top_srcdir/bench/preload_lmdb_bench.py" "$shm" "$keys")
	mkdir "$mnt/w1" "$mnt/w2" "$shm/w"
	d=$("$PY" "$top_srcdir/bench/preload_lmdb_bench.py" "$mnt/w1" "$keys" writemap)
	e=$(pdx "$PY" "$top_srcdir/bench/preload_lmdb_bench.py" "$mnt/w2" "$keys" writemap)
	g=$("$PY" "$top_srcdir/bench/preload_lmdb_bench.py" "$shm/w" "$keys" writemap)
	echo "LMDB put-then-get, $keys keys (seconds: put get):"
	echo "  default mode:  pgdaxfs page cache $a | pgdaxfs pgdax-exec $b | tmpfs $c"
	echo "  MDB_WRITEMAP:  pgdaxfs page cache $d | pgdaxfs pgdax-exec $e | tmpfs $g"
else
	echo "LMDB: skipped (no python3-lmdb)"
fi
pgdax_umount "$mnt"
