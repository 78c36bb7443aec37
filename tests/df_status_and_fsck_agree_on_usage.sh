#!/bin/bash
# df, df -i, pgdaxctl status and fsck.pgdaxfs report the same used blocks
# and inodes (issue 16): the data area is the total (metadata excluded, as
# ext4's default), used = total - free; the inode total is every slot but
# the reserved 0, and the root counts as used. So an empty volume uses 0
# blocks and 1 inode everywhere; after a workload (files of many sizes,
# directories, symlinks, xattrs, a removed file) the four agree exactly.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)

json() { # NAME -> numeric field of pgdaxctl status --json
	"$PGDAXCTL" status "$mnt" --json | tr -d ' \n' |
		sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# Read every tool's figures into DF, DFI, ST (pgdaxctl status text) as
# "used/total" and compare them; fsck runs after the unmount.
measure() {
	local what=$1 i line
	# an unlinked file is reclaimed once the kernel forgets it: wait for it
	for i in $(seq 1 200); do
		[ "$(json orphans)" = 0 ] && break
		sleep 0.05
	done
	DF=$(df -B4096 --output=used,size "$mnt" | tail -1 | awk '{print $1 "/" $2}')
	DFI=$(df --output=iused,itotal "$mnt" | tail -1 | awk '{print $1 "/" $2}')
	line=$("$PGDAXCTL" status "$mnt" | grep 'usage:')
	ST=$(echo "$line" | sed -n 's/.*usage: *\([0-9]*\) of \([0-9]*\) blocks used.*/\1\/\2/p')
	STI=$(echo "$line" | sed -n 's/.*blocks used, \([0-9]*\) of \([0-9]*\) inodes used.*/\1\/\2/p')
	[ -n "$ST" ] && [ -n "$STI" ] || fail "$what: pgdaxctl status usage line: '$line'"
	pgdax_umount "$mnt"
	line=$("$FSCK" -f -n "$dev" | tail -1) || fail "$what: fsck -n: $line"
	FS=$(echo "$line" | sed -n 's/.* \([0-9]*\/[0-9]*\) blocks used$/\1/p')
	FSI=$(echo "$line" | sed -n 's/.* \([0-9]*\/[0-9]*\) inodes (.*/\1/p')
	[ -n "$FS" ] && [ -n "$FSI" ] || fail "$what: fsck summary: '$line'"
	log "$what: blocks used/total: df $DF, status $ST, fsck $FS; inodes: df -i $DFI, status $STI, fsck $FSI"
	[ "$DF" = "$ST" ] && [ "$ST" = "$FS" ] ||
		fail "$what: used blocks disagree: df $DF, pgdaxctl status $ST, fsck $FS"
	[ "$DFI" = "$STI" ] && [ "$STI" = "$FSI" ] ||
		fail "$what: used inodes disagree: df -i $DFI, pgdaxctl status $STI, fsck $FSI"
	pgdax_mount "$dev" "$mnt"
}

pgdax_mount "$dev" "$mnt"
measure "empty volume"
[ "${DF%/*}" = 0 ] || fail "empty volume: $DF blocks used, expected 0"
[ "${DFI%/*}" = 1 ] || fail "empty volume: $DFI inodes used, expected 1 (the root)"

mkdir -p "$mnt/a/b" "$mnt/c"
for i in $(seq 1 40); do
	head -c $((i * i * 37)) /dev/zero | tr '\0' x >"$mnt/a/f$i"
done
head -c 3M /dev/zero >"$mnt/c/big"
printf 'x%.0s' $(seq 1 200) >"$mnt/a/b/long-target"
ln -s f1 "$mnt/a/short"
ln -s "$(cat "$mnt/a/b/long-target")" "$mnt/a/b/long"
setfattr -n user.k -v "$(head -c 300 /dev/zero | tr '\0' v)" "$mnt/c/big"
ln "$mnt/a/f2" "$mnt/c/hard"
rm "$mnt/a/f3" "$mnt/a/f4"
measure "after a workload"
[ "${DF%/*}" -gt 0 ] || fail "after a workload: no block used"
pgdax_umount "$mnt"
exit 0
