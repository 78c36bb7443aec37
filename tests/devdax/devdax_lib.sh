# SPDX-License-Identifier: MIT
# Helpers for the devdax suite (tests/devdax/*.sh), on top of tests/lib.sh.
# These scripts run only inside the devdax guest (make check-devdax,
# tools/guest/guest-init.sh), where PGDAX_DAX is the real /dev/daxX.Y and
# PGDAX_GUEST_ALIGN the namespace's alignment (2M or 1G); elsewhere they
# exit 77.
#
#   dax_ns MODE          reconfigure namespace0.0 (ndctl create-namespace -f
#                        -e): devdax (at the guest's alignment), raw or fsdax
#   dax_copy_out FILE    copy the device's non-zero 2M chunks into a sparse
#                        FILE of the same size (devdax has no read(2))
#   dax_poke OFF HEX     store bytes at OFF through a shared mapping
#   dax_peek OFF LEN     print LEN bytes at OFF in hex
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

if [ -z "${PGDAX_DAX:-}" ] || [ ! -c "$PGDAX_DAX" ]; then
	echo "SKIP: runs in the devdax guest only (make check-devdax)"
	exit 77
fi
DAX=$PGDAX_DAX
DAX_NAME=${DAX##*/}
DAX_NS=namespace0.0
DAX_ALIGN=${PGDAX_GUEST_ALIGN:-2M}

dax_ns() { # MODE
	local out
	case $1 in
	devdax) out=$(ndctl create-namespace -f -e "$DAX_NS" -m devdax -a "$DAX_ALIGN" 2>&1) ;;
	*) out=$(ndctl create-namespace -f -e "$DAX_NS" -m "$1" 2>&1) ;;
	esac || { echo "$out" >&2; fail "ndctl create-namespace -m $1 failed"; }
	if [ "$1" = devdax ]; then
		local i
		for i in $(seq 1 100); do [ -c "$DAX" ] && return 0; sleep 0.1; done
		fail "$DAX did not come back"
	fi
}

# python3 on shared mappings of the device, one aligned unit at a time
# (devdax maps only whole units, at aligned offsets)
_dax_py() {
	python3 - "$DAX" "$@" <<'PY'
import mmap, os, sys
dev, op = sys.argv[1], sys.argv[2]
name = os.path.basename(dev)
size = int(open("/sys/bus/dax/devices/%s/size" % name).read())
unit = int(open("/sys/bus/dax/devices/%s/align" % name).read())
fd = os.open(dev, os.O_RDWR)
def window(off):
    base = off - off % unit
    return base, mmap.mmap(fd, unit, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=base)
if op == "copyout":
    chunk = 2 << 20
    zero = bytes(chunk)
    with open(sys.argv[3], "wb") as f:
        f.truncate(size)
        for base in range(0, size, unit):
            _, m = window(base)
            for off in range(0, unit, chunk):
                b = m[off:off + chunk]
                if b != zero:
                    f.seek(base + off); f.write(b)
            m.close()
elif op == "poke":
    off = int(sys.argv[3], 0); data = bytes.fromhex(sys.argv[4])
    base, m = window(off)
    m[off - base:off - base + len(data)] = data
    m.flush(); m.close()
elif op == "peek":
    off = int(sys.argv[3], 0); n = int(sys.argv[4], 0)
    base, m = window(off)
    print(m[off - base:off - base + n].hex()); m.close()
PY
}
dax_copy_out() { _dax_py copyout "$1"; }
dax_poke() { _dax_py poke "$1" "$2"; }
dax_peek() { _dax_py peek "$1" "$2"; }
