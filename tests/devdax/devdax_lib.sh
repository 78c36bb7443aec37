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
# Python's mmap module lets the kernel pick the address, and devdax refuses
# an address that is not aligned to the unit (EINVAL): map with libc's
# mmap at an aligned address, found by reserving twice the unit first.
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PROT_NONE, PROT_RW, MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANON = 0, 3, 1, 2, 0x10, 0x20
MAP_NORESERVE = 0x4000
dev, op = sys.argv[1], sys.argv[2]
name = os.path.basename(dev)
size = int(open("/sys/bus/dax/devices/%s/size" % name).read())
unit = int(open("/sys/bus/dax/devices/%s/align" % name).read())
fd = os.open(dev, os.O_RDWR)
def window(off):
    """map the unit holding OFF; -> (unit's offset, ctypes char array)"""
    base = off - off % unit
    res = libc.mmap(None, 2 * unit, PROT_NONE, MAP_PRIVATE | MAP_ANON | MAP_NORESERVE, -1, 0)
    if res in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap reserve")
    addr = (res + unit - 1) // unit * unit
    a = libc.mmap(addr, unit, PROT_RW, MAP_SHARED | MAP_FIXED, fd, base)
    if a != addr:
        raise OSError(ctypes.get_errno(), "mmap %s at %d" % (dev, base))
    return base, (ctypes.c_char * unit).from_address(addr), res
def close(w):
    libc.munmap(w[2], 2 * unit)
if op == "copyout":
    chunk = 2 << 20
    zero = bytes(chunk)
    with open(sys.argv[3], "wb") as f:
        f.truncate(size)
        for b0 in range(0, size, unit):
            w = window(b0)
            for off in range(0, unit, chunk):
                b = w[1][off:off + chunk]
                if b != zero:
                    f.seek(b0 + off); f.write(b)
            close(w)
elif op == "poke":
    off = int(sys.argv[3], 0); data = bytes.fromhex(sys.argv[4])
    w = window(off)
    w[1][off - w[0]:off - w[0] + len(data)] = data
    close(w)	# stores through a devdax mapping reach the device; the test
		# runs no power cut, so no cache flush is needed here
elif op == "peek":
    off = int(sys.argv[3], 0); n = int(sys.argv[4], 0)
    w = window(off)
    print(w[1][off - w[0]:off - w[0] + n].hex())
    close(w)
PY
}
dax_copy_out() { _dax_py copyout "$1"; }
dax_poke() { _dax_py poke "$1" "$2"; }
dax_peek() { _dax_py peek "$1" "$2"; }
