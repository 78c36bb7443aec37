#!/bin/bash
# A tree of many small files costs on pgdaxfs about what it costs on tmpfs
# (issue 16: a 2-byte file used 8 KiB, its data block plus a block for its
# extent list; cp -a /usr/share/doc took 25% more than on ext4). The tree
# is generated, deterministically (a fixed seed), with the shape of
# /usr/share/doc: about 5 files per directory, half of them under 4 KiB,
# most of the rest under 64 KiB, a few of some MiB, some symlinks. It is
# copied (cp -a) into a private tmpfs and into an empty pgdaxfs; the space
# each uses (df: total - free; pgdaxfs counts the data area, so metadata
# is not in it, as tmpfs has none) is printed with the ratio, which must be
# at most 1.10. PGDAX_SPACE_TREE=DIR copies DIR instead (e.g. /usr/share/doc).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

src=${PGDAX_SPACE_TREE:-}
if [ -z "$src" ]; then
	src=$(pgdax_new_dir tree)
	# one awk process writes the whole tree (forks are slow on a loaded
	# machine); its own generator (Park-Miller, exact in doubles) makes the
	# tree the same everywhere
	ndirs=200
	for d in $(seq 1 $ndirs); do echo "$src/pkg$d/sub$((d % 3))"; done | xargs mkdir -p
	awk -v src="$src" -v ndirs=$ndirs '
	function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
	BEGIN {
		seed = 16
		chunk = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=+\n"
		while (length(chunk) < 65536) chunk = chunk chunk
		for (d = 1; d <= ndirs; d++) {
			dir = src "/pkg" d "/sub" (d % 3)
			nf = 3 + rnd(5)
			for (f = 1; f <= nf; f++) {
				r = rnd(100)
				if (r < 52) size = 1 + rnd(4000)
				else if (r < 90) size = 4096 + rnd(60000)
				else if (r < 99) size = 65536 + rnd(400000)
				else size = 1048576 + rnd(2000000)
				path = dir "/file" f
				printf "" > path
				for (left = size; left > 0; left -= n) {
					n = left < 65536 ? left : 65536
					printf "%s", substr(chunk, 1, n) > path
				}
				close(path)
			}
			if (d % 12 == 0) print dir "\tfile1\tlink"
			if (d % 40 == 0) print dir "\t../../pkg" (d - 1) "/sub" ((d - 1) % 3) "/file1\tfar"
		}
	}' | while IFS=$'\t' read -r dir target name; do ln -s "$target" "$dir/$name"; done
fi
log "tree: $(find "$src" -type f | wc -l) files, $(find "$src" -type d | wc -l) dirs," \
    "$(find "$src" -type l | wc -l) symlinks, $(du -s --apparent-size -B1 "$src" | cut -f1) bytes"

used() { # MNT -> bytes used (df: total - free)
	df -B1 --output=size,avail "$1" | tail -1 | awk '{print $1 - $2}'
}

# a private tmpfs (nobody else's files in its count), else a directory on
# /dev/shm measured with du (tmpfs charges st_blocks of data pages)
tmp=$(pgdax_new_dir tmpfs)
if mount -t tmpfs -o size=1G,mode=0755 pgdax-space-test "$tmp" 2>/dev/null; then
	pgdax_on_exit "umount '$tmp' 2>/dev/null"
	t0=$(used "$tmp")
	cp -a "$src/." "$tmp/" || fail "cp -a to tmpfs"
	t=$(( $(used "$tmp") - t0 ))
	umount "$tmp"
else
	shm=$(mktemp -d /dev/shm/pgdaxfs-space.XXXXXX)
	pgdax_on_exit "rm -rf '$shm'"
	cp -a "$src/." "$shm/" || fail "cp -a to /dev/shm"
	t=$(du -s -B1 "$shm" | cut -f1)
	rm -rf "$shm"
fi

size=$(( (t * 2 / 1048576 + 64) ))M
dev=$(pgdax_new_device "$size")
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
log "tmpfs copy done"; p0=$(used "$mnt")
cp -a "$src/." "$mnt/" || fail "cp -a to pgdaxfs"
diff -r --no-dereference "$src" "$mnt" >/dev/null || fail "the copy on pgdaxfs differs from the tree"
p=$(( $(used "$mnt") - p0 )); log "pgdaxfs copy and diff done"
pgdax_umount "$mnt"

ratio=$(awk -v p="$p" -v t="$t" 'BEGIN { printf "%.3f", p / t }')
echo "space: tmpfs $t bytes, pgdaxfs $p bytes, ratio $ratio (at most 1.10)"
awk -v p="$p" -v t="$t" 'BEGIN { exit !(p <= t * 1.10) }' ||
	fail "pgdaxfs uses $p bytes for what tmpfs holds in $t (ratio $ratio > 1.10)"
"$FSCK" -f -n "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || { cat "$PGDAX_WORK/fsck.log" >&2; fail "fsck -n after the copy"; }
exit 0
