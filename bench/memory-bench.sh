#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/memory-bench.sh [--short] [--size SIZE] [--files N]
#
# The daemon's anonymous memory (RssAnon in /proc/PID/status: device pages
# it touched are file/shmem pages and do not count) on a big sparse emulated
# device holding many files. Target: < 256 MiB on 1 TiB with 100,000 files.
# Steps: mkfs.pgdaxfs --size SIZE (sparse file in /dev/shm), mount, sample;
# create N empty files in one directory and write 64 KiB into every 100th,
# sample; stat every file (the kernel takes a lookup on each: the daemon's
# inode cache at its fullest), sample; drop the dentry cache (FORGETs),
# sample. Prints one line per sample, then
#   rss_anon_mib=X files=N device=SIZE
# with X the largest sample.
# --short (make bench): 64G device, 10,000 files.
# Environment: PGDAX_BUILD (build dir), PGDAXFS_OPTS, MKFS_OPTS.
# Undoes everything it creates on exit; signals only the daemon it started.
set -uo pipefail
prog=memory-bench
B=${PGDAX_BUILD:-$(pwd)}
size=1T files=100000
while [ $# -gt 0 ]; do
	case $1 in
	--short) size=64G files=10000 ;;
	--size) size=$2; shift ;;
	--files) files=$2; shift ;;
	-h|--help) sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$prog: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_need fs/pgdaxfs tools/mkfs.pgdaxfs
bench_setup
mnt=$work/mnt
mkdir -p "$mnt"
bench_mkfs --size "$size"
bench_mount_pgdaxfs "$mnt"

max=0
sample() {	# label
	local kb
	kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ -n "$kb" ] || { echo "$prog: daemon $pid is gone" >&2; cat "$work/pgdaxfs.log" >&2; exit 1; }
	[ "$kb" -gt "$max" ] && max=$kb
	printf '%-28s rss_anon_kib=%s dev_used=%s\n' "$1" "$kb" "$(du -h "$dev" | cut -f1)"
}

sample "mounted"
mkdir "$mnt/d" || exit 1
t0=$(date +%s.%N)
(cd "$mnt/d" && seq -f 'f%07g' 0 $((files - 1)) | xargs -n 2000 touch) ||
	{ echo "$prog: creating $files files failed" >&2; exit 1; }
head -c 65536 /dev/urandom >"$work/blob"
for i in $(seq 0 100 $((files - 1))); do
	cp "$work/blob" "$mnt/d/$(printf 'f%07d' "$i")" || { echo "$prog: write failed" >&2; exit 1; }
done
t1=$(date +%s.%N)
sample "created $files files"
n=$(find "$mnt/d" -type f | wc -l)
[ "$n" -eq "$files" ] || { echo "$prog: found $n files, created $files" >&2; exit 1; }
(cd "$mnt/d" && ls -l >/dev/null) || exit 1
sample "stat of every file"
sync
echo 2 >/proc/sys/vm/drop_caches
# the FORGETs are asynchronous: wait (bounded, 10 s) until the daemon's
# memory has settled (three equal readings 50 ms apart)
prev= same=0
for _ in $(seq 200); do
	kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	if [ "$kb" = "$prev" ]; then same=$((same + 1)); else same=0; fi
	[ "$same" -ge 3 ] && break
	prev=$kb
	sleep 0.05
done
sample "dentry cache dropped"
echo "create_s=$(echo "$t1 - $t0" | bc)"
echo "rss_anon_mib=$(( (max + 1023) / 1024 )) files=$files device=$(echo "$size" | sed 's/T$/TiB/; s/G$/GiB/')"
