#!/bin/bash
# rm of a file nobody holds open gives its blocks and its inode back while
# mounted: once the kernel evicts the unlinked inode it sends FORGET, the
# volume drops its last reference and reclaims the orphan. Checked through
# pgdaxctl status (free_blocks, free_inodes, orphans) and df, for the ways a
# file gets referenced before the rm: created and written, looked up again
# (stat), listed with readdirplus (ls -l), hard-linked, opened during the rm
# (the space comes back at close), and many files removed at once.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

field() { # NAME -> value of a numeric field of pgdaxctl status --json
	"$PGDAXCTL" status "$mnt" --json | tr -d ' \n' |
		sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
df_avail() { df -k --output=avail "$mnt" | tail -1 | tr -d ' '; }

# Wait (up to 10 s) until free_blocks, free_inodes and df are back to the
# baseline and no orphan is left; fail with the numbers otherwise.
expect_baseline() {
	local what=$1 i fb fi or av
	for i in $(seq 1 200); do
		fb=$(field free_blocks) fi=$(field free_inodes) or=$(field orphans)
		av=$(df_avail)
		if [ "$fb" = "$base_fb" ] && [ "$fi" = "$base_fi" ] && [ "$or" = 0 ] &&
		   [ "$av" = "$base_av" ]; then
			return 0
		fi
		sleep 0.05
	done
	fail "$what: free_blocks $fb (expected $base_fb), free_inodes $fi" \
	     "(expected $base_fi), orphans $or, df avail ${av}K (expected ${base_av}K)"
}

# The root directory's first entries allocate its directory blocks: make
# them exist before taking the baseline.
mkdir "$mnt/sub"
for i in $(seq 1 40); do : >"$mnt/warm.$i"; : >"$mnt/sub/warm.$i"; done
rm -f "$mnt"/warm.* "$mnt"/sub/warm.*
base_fb=$(field free_blocks) base_fi=$(field free_inodes) base_av=$(df_avail)
[ -n "$base_fb" ] && [ -n "$base_fi" ] || fail "pgdaxctl status --json gave no counters"

# 1. write, close, rm
head -c $((8 << 20)) /dev/urandom >"$mnt/plain"
[ "$(field free_blocks)" -lt $((base_fb - 2000)) ] || fail "8 MiB file took no blocks"
rm "$mnt/plain"
expect_baseline "written then removed"

# 2. looked up again and listed (lookup + readdirplus references) before rm
head -c $((4 << 20)) /dev/zero >"$mnt/listed"
stat "$mnt/listed" >/dev/null
ls -l "$mnt" >/dev/null
cat "$mnt/listed" >/dev/null
rm "$mnt/listed"
expect_baseline "stat + ls -l + read, then removed"

# 3. two names: the space comes back when the second goes, not before
head -c $((4 << 20)) /dev/zero >"$mnt/one"
ln "$mnt/one" "$mnt/sub/two"
rm "$mnt/one"
# no wait: blocks are freed only by the last reference's FORGET/RELEASE or
# by the UNLINK itself (which has returned); none of them is due here
[ "$(field free_blocks)" -lt $((base_fb - 500)) ] || fail "blocks freed while a link remains"
[ "$(field orphans)" = 0 ] || fail "a linked inode counted as an orphan"
rm "$mnt/sub/two"
expect_baseline "hard-linked, both names removed"

# 4. open during the rm: an orphan until the close, then freed
head -c $((4 << 20)) /dev/zero >"$mnt/held"
exec 7<"$mnt/held"
rm "$mnt/held"
# the UNLINK's own transaction records the orphan: nothing to wait for
[ "$(field orphans)" = 1 ] || fail "open unlinked file is not an orphan"
[ "$(field free_blocks)" -lt $((base_fb - 500)) ] || fail "blocks of an open file freed"
exec 7<&-
expect_baseline "removed while open, then closed"

# 5. sparse, fallocated and xattr-carrying files, removed together
truncate -s 1G "$mnt/sparse"
printf x | dd of="$mnt/sparse" bs=1 seek=$((300 << 20)) conv=notrunc status=none
fallocate -l $((6 << 20)) "$mnt/falloc"
echo hi >"$mnt/xattr"
setfattr -n user.k -v "$(head -c 2000 /dev/zero | tr '\0' v)" "$mnt/xattr"
rm "$mnt/sparse" "$mnt/falloc" "$mnt/xattr"
expect_baseline "sparse + fallocated + xattr files removed"

# 6. many files from several writers, removed recursively
mkdir "$mnt/many"
writers=()
for j in 1 2 3 4; do
	(for i in $(seq 1 50); do head -c 20000 /dev/zero >"$mnt/many/f$j.$i"; done) &
	writers+=("$!")
done
wait "${writers[@]}"	# (a bare wait would wait for the daemon too)
rm -r "$mnt/many"
expect_baseline "200 files removed with rm -r"

pgdax_umount "$mnt"
"$FSCK" -n -f "$dev" >"$PGDAX_WORK/fsck.log" 2>&1 || {
	cat "$PGDAX_WORK/fsck.log" >&2
	fail "fsck.pgdaxfs finds the image inconsistent after the removals"
}
