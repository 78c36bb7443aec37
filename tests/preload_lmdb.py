# SPDX-License-Identifier: MIT
# preload_lmdb.py put|get DIR N [writemap] [STATUS_CMD...]: LMDB (python3-lmdb)
# puts N keys (put) or checks them (get). With STATUS_CMD, put runs it while
# the environment is open and its transactions mapped (the caller checks
# the daemon's pins there). Exit 0 on success.
import os, subprocess, sys
import lmdb

op, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
writemap = len(sys.argv) > 4 and sys.argv[4] == "writemap"
status = sys.argv[5:] if len(sys.argv) > 5 else []

def val(i):
    return (b"%08d" % i) * (1 + i % 37)

env = lmdb.open(path, map_size=64 << 20, writemap=writemap, sync=True)
if op == "put":
    for base in range(0, n, 1000):
        with env.begin(write=True) as txn:
            for i in range(base, min(n, base + 1000)):
                txn.put(b"k%08d" % i, val(i))
    with env.begin() as txn:
        bad = [i for i in range(n) if txn.get(b"k%08d" % i) != val(i)]
        if status:
            subprocess.run(status, check=True)
    if bad:
        sys.exit("put: %d keys read back wrong, first %d" % (len(bad), bad[0]))
else:
    with env.begin() as txn:
        bad = [i for i in range(n) if txn.get(b"k%08d" % i) != val(i)]
        if bad:
            sys.exit("get: %d keys wrong, first %d" % (len(bad), bad[0]))
        if txn.stat()["entries"] != n:
            sys.exit("get: %d entries, expected %d" % (txn.stat()["entries"], n))
env.close()
