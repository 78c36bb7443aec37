# SPDX-License-Identifier: MIT
# preload_lmdb_bench.py DIR N [writemap]: LMDB put-then-get of N 100-byte values
# (python3-lmdb, default mode or MDB_WRITEMAP, one write transaction per 1000 puts, then
# every key read in a read transaction); prints "put_s get_s".
import sys, time
import lmdb

path, n = sys.argv[1], int(sys.argv[2])
wm = len(sys.argv) > 3 and sys.argv[3] == "writemap"
# MDB_WRITEMAP grows the file to the map size at open: keep it modest
env = lmdb.open(path, map_size=(256 << 20) if wm else (1 << 30), writemap=wm, sync=True)
v = b"x" * 100
t0 = time.perf_counter()
for base in range(0, n, 1000):
    with env.begin(write=True) as txn:
        for i in range(base, min(n, base + 1000)):
            txn.put(b"k%09d" % i, v)
t1 = time.perf_counter()
with env.begin() as txn:
    for i in range(n):
        if txn.get(b"k%09d" % i) is None:
            sys.exit("missing key %d" % i)
t2 = time.perf_counter()
env.close()
print("%.3f %.3f" % (t1 - t0, t2 - t1))
