#!/bin/bash
# Real programs work on pgdaxfs: untar and build a generated C project and
# run the result; git init/add/commit/log/fsck; sqlite3 transactions with
# PRAGMA integrity_check; cp -a and rsync round trips compared with diff -r.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
for p in tar make cc git sqlite3 rsync; do
	command -v "$p" >/dev/null || fail "$p missing: run tools/install-deps.sh"
done
dev=$(pgdax_new_device 512M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"

# 1. a generated C project: tarball -> untar -> make -> run
src=$(pgdax_new_dir proj)
mkdir -p "$src/proj/src"
n=40
for i in $(seq 1 $n); do
	printf 'int f%d(int x) { return x + %d; }\n' "$i" "$i" >"$src/proj/src/f$i.c"
done
{
	echo '#include <stdio.h>'
	for i in $(seq 1 $n); do echo "int f$i(int);"; done
	echo 'int main(void) { int s = 0;'
	for i in $(seq 1 $n); do echo "s = f$i(s);"; done
	echo 'printf("%d\n", s); return 0; }'
} >"$src/proj/src/main.c"
cat >"$src/proj/Makefile" <<'MK'
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:.c=.o)
prog: $(OBJS)
	$(CC) -o $@ $(OBJS)
%.o: %.c
	$(CC) -O1 -c -o $@ $<
MK
tar -C "$src" -czf "$PGDAX_WORK/proj.tgz" proj
tar -C "$mnt" -xzf "$PGDAX_WORK/proj.tgz" || fail "untar failed"
MAKEFLAGS= make -s -C "$mnt/proj" -j2 >/dev/null || fail "build failed"
[ "$("$mnt/proj/prog")" = $((n * (n + 1) / 2)) ] || fail "built program gives a wrong answer"
# make sees timestamps right: touching one source rebuilds exactly that object
before=$(stat -c %Y.%y "$mnt/proj/src/f2.o")
# the touch must give f1.c a later time than f1.o even with whole-second
# timestamps: wait (bounded) until the clock has left f1.o's second
for i in $(seq 1 40); do
	[ "$(date +%s)" -gt "$(stat -c %Y "$mnt/proj/src/f1.o")" ] && break
	sleep 0.05
done
touch "$mnt/proj/src/f1.c"
MAKEFLAGS= make -s -C "$mnt/proj" >/dev/null || fail "rebuild failed"
[ "$mnt/proj/src/f1.o" -nt "$mnt/proj/src/f1.c" ] || fail "make did not rebuild f1.o after touch"
[ "$(stat -c %Y.%y "$mnt/proj/src/f2.o")" = "$before" ] || fail "make rebuilt an untouched object"

# 2. git
(
	set -e
	cd "$mnt/proj"
	git init -q
	git config user.email t@example.com
	git config user.name test
	git add -A
	git commit -qm initial
	echo '/* change */' >>src/main.c
	git commit -qam second
	git fsck --strict
	git gc -q
	git fsck --strict
	[ "$(git log --oneline | wc -l)" -eq 2 ]
	[ -z "$(git status --porcelain)" ]
	git checkout -q HEAD~1 -- src/main.c
	! grep -q change src/main.c
) >"$PGDAX_WORK/git.log" 2>&1 || { cat "$PGDAX_WORK/git.log" >&2; fail "git workflow failed"; }

# 3. sqlite3: transactions, then integrity_check (WAL and rollback journal)
for mode in delete wal; do
	db=$mnt/test-$mode.db
	{
		echo "PRAGMA journal_mode=$mode;"
		echo "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);"
		for t in $(seq 1 20); do
			echo "BEGIN;"
			for i in $(seq 1 100); do echo "INSERT INTO t(v, b) VALUES('row $t $i', randomblob(300));"; done
			echo "COMMIT;"
		done
		echo "BEGIN; DELETE FROM t WHERE id % 3 = 0; COMMIT;"
		echo "CREATE INDEX iv ON t(v); VACUUM;"
	} | sqlite3 "$db" >/dev/null || fail "sqlite3 workload failed ($mode)"
	[ "$(sqlite3 "$db" 'PRAGMA integrity_check;')" = ok ] || fail "sqlite integrity_check failed ($mode)"
	[ "$(sqlite3 "$db" 'SELECT count(*) FROM t;')" -eq 1334 ] || fail "sqlite row count wrong ($mode)"
done

# 4. cp -a and rsync round trips
tree=/usr/include/linux
cp -a "$tree" "$mnt/tree" || fail "cp -a onto pgdaxfs failed"
diff -r "$tree" "$mnt/tree" >/dev/null || fail "cp -a copy differs"
back=$(pgdax_new_dir back)
rsync -aHAX "$mnt/tree/" "$back/" 2>"$PGDAX_WORK/rsync.err" ||
	rsync -aH "$mnt/tree/" "$back/" || fail "rsync from pgdaxfs failed"
diff -r "$tree" "$back" >/dev/null || fail "rsync round trip differs"
rsync -a --delete "$back/" "$mnt/tree2/" || fail "rsync onto pgdaxfs failed"
diff -r "$tree" "$mnt/tree2" >/dev/null || fail "rsync copy differs"
# modes and times preserved by cp -a
[ "$(cd "$tree" && find . -printf '%p %m %T@\n' | sort | md5sum)" = \
  "$(cd "$mnt/tree" && find . -printf '%p %m %T@\n' | sort | md5sum)" ] || fail "cp -a lost modes or times"
pgdax_umount "$mnt"
