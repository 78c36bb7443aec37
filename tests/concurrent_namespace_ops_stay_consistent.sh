#!/bin/bash
# Four processes create, write, rename (within and across directories),
# hard-link, unlink, mkdir/rmdir and list in the same directories at once;
# afterwards (and after a remount, and for fsck) the tree is exactly the one
# the operations imply, with every file's content intact.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init
dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
mkdir "$mnt/a" "$mnt/b"
cat >"$PGDAX_WORK/worker.py" <<'PY'
import os, sys
root, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a, b = os.path.join(root, "a"), os.path.join(root, "b")
for i in range(n):
    name = "w%d.%d" % (w, i)
    data = (b"%s:" % name.encode()) * (1 + i % 50)
    p = os.path.join(a, name)
    with open(p + ".tmp", "wb") as f:
        f.write(data)
    os.rename(p + ".tmp", p)                      # atomic replace pattern
    os.link(p, os.path.join(a, name + ".link"))
    if i % 2:
        os.unlink(os.path.join(a, name + ".link"))
    if i % 3 == 0:
        os.rename(p, os.path.join(b, name))       # across directories
    d = os.path.join(b, "dir" + name)
    os.mkdir(d)
    open(os.path.join(d, "x"), "w").close()
    if i % 4:
        os.unlink(os.path.join(d, "x"))
        os.rmdir(d)
    if i % 10 == 0:
        os.listdir(a); os.listdir(b)
PY
n=300
pids=()
for w in 1 2 3 4; do
	python3 "$PGDAX_WORK/worker.py" "$mnt" "$w" "$n" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a worker failed"; done

# what the operations imply
expected() {
	python3 - "$n" <<'PY'
import sys
n = int(sys.argv[1])
out = []
for w in (1, 2, 3, 4):
    for i in range(n):
        name = "w%d.%d" % (w, i)
        size = len(name) + 1
        size *= 1 + i % 50
        d = "b" if i % 3 == 0 else "a"
        links = 1 if i % 2 else 2
        out.append("%s/%s %d %d" % (d, name, size, links))
        if i % 2 == 0:
            out.append("a/%s.link %d %d" % (name, size, links))
        if i % 4 == 0:
            out.append("b/dir%s/x 0 1" % name)
print("\n".join(sorted(out)))
PY
}
actual() { (cd "$mnt" && find a b -type f -printf '%p %s %n\n' | sort); }
contents_ok() { # one python for all files (a process per file is slow)
	python3 - "$mnt" <<'PY'
import os, sys
root = sys.argv[1]
for d in ("a", "b"):
    for n in os.listdir(os.path.join(root, d)):
        if not n.startswith("w"):
            continue
        data = open(os.path.join(root, d, n), "rb").read()
        pat = n[:-5].encode() + b":" if n.endswith(".link") else n.encode() + b":"
        if not data or data != pat * (len(data) // len(pat)):
            print("bad content:", d, n); sys.exit(1)
PY
}
exp=$(expected)
[ "$(actual)" = "$exp" ] || { diff <(echo "$exp") <(actual) | head -20 >&2; fail "tree differs from what the operations imply"; }
contents_ok || fail "file contents corrupt"
pgdax_umount "$mnt"
if [ -x "$FSCK" ]; then "$FSCK" -n -f "$dev" >&2 || fail "fsck finds errors after concurrent namespace operations"; fi
pgdax_mount "$dev" "$mnt"
[ "$(actual)" = "$exp" ] || fail "tree differs after remount"
contents_ok || fail "file contents corrupt after remount"
pgdax_umount "$mnt"
