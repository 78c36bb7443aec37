#!/bin/bash
# SPDX-License-Identifier: MIT
# Boot the devdax guest once and run the devdax suite in it.
#
#   run-guest.sh ALIGN SRCDIR BUILDDIR TEST...
#
# ALIGN is 2M or 1G: the NVDIMM's backend and the namespace's alignment.
# The kernel, root filesystem, initramfs and root disk come from the cache
# (built on first use: fetch-kernel.sh, build-rootfs.sh, build-initramfs.sh,
# build-disk.sh). Per run: a qcow2 overlay of the cached root disk, a small
# ext4 disk (mke2fs -d) holding `make install DESTDIR` of BUILDDIR, the
# source and build trees (so tests/lib.sh and libtool wrappers work at their
# host paths) and guest-init.sh, and a sparse file backing the NVDIMM.
# Results come back on the serial console (guest-init.sh's markers); this
# prints each step and test, the log of each failing test, and ends with
# "N passed, M failed". A guest that does not finish within
# PGDAX_GUEST_TIMEOUT seconds (default 2400; each test also has its own
# timeout in the guest, PGDAX_GUEST_TEST_TIMEOUT, 300) is killed (by pid) and every
# test it did not finish is a failure, with the console's tail printed.
. "$(dirname "$0")/common.sh"

align=$1 srcdir=$(cd "$2" && pwd) builddir=$(cd "$3" && pwd)
shift 3
tests=("$@")
timeout_s=${PGDAX_GUEST_TIMEOUT:-2400}
case $align in
2M) # a 2G backend with a label area leaves a 2046 MiB region ndctl refuses
    # as misaligned: 2050M with a label gives 2 GiB usable
    nvsize=2050M; nvalign=2M; label=",label-size=128K"; maxmem=6G ;;
1G) # 1 GiB alignment: no label (the label area would misalign the region);
    # -cpu max exposes pdpe1gb so the guest maps 1 GiB pages
    nvsize=8G; nvalign=1G; label=""; maxmem=12G ;;
*) gdie "alignment $align: 2M or 1G" ;;
esac

kdir=$("$GUEST_DIR/fetch-kernel.sh")
rdir=$("$GUEST_DIR/build-rootfs.sh" "$kdir")
idir=$("$GUEST_DIR/build-initramfs.sh" "$kdir")
rootimg=$("$GUEST_DIR/build-disk.sh" "$rdir")

run=$(mktemp -d /tmp/pgdaxfs-guest.XXXXXX)
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then kill -9 "$qpid" 2>/dev/null; fi
	[ -n "${PGDAX_GUEST_KEEP:-}" ] && { glog "kept $run"; return; }
	rm -rf "$run"
}
trap cleanup EXIT

# the per-run disk
d=$run/disk
mkdir -p "$d/install" "$d/src" "$d/build"
make -s -C "$builddir" install DESTDIR="$d/install" >"$run/install.log" 2>&1 ||
	{ tail -20 "$run/install.log" >&2; gdie "make install DESTDIR failed"; }
# A daemon built against a libfuse outside the system's (libfuse 3.18 under
# /opt, tools/install-libfuse318.sh) finds it through its rpath: bring that
# library to the same path in the guest, with what it needs (liburing,
# libnuma) and the guest rootfs does not carry.
fuselib=$(ldd "$builddir/fs/pgdaxfs" 2>/dev/null | awk '$1 ~ /^libfuse3/ {print $3}')
case $fuselib in
/lib/*|/usr/lib/*|'') ;;
*)
	mkdir -p "$d/install$(dirname "$fuselib")"
	cp -a "$(dirname "$fuselib")"/libfuse3.so* "$d/install$(dirname "$fuselib")/"
	for dep in $(ldd "$fuselib" | awk '$1 ~ /^(liburing|libnuma)/ {print $3}'); do
		mkdir -p "$d/install$(dirname "$dep")"
		cp -L "$dep" "$d/install$dep"
	done
	glog "the daemon's libfuse ($fuselib) and its liburing/libnuma go along" ;;
esac
tar -C "$srcdir" --exclude=.git --exclude='autom4te.cache' -cf - . | tar -C "$d/src" -xf -
tar -C "$builddir" --exclude='*.o' --exclude='*.lo' --exclude=.deps --exclude='*.log' \
	--exclude='*.trs' --exclude=build-asan --exclude=build-tsan -cf - . | tar -C "$d/build" -xf -
cp "$GUEST_DIR/guest-init.sh" "$d/guest-init.sh"
{
	echo "PGDAX_GUEST_ALIGN=$align"
	echo "HOST_SRCDIR='$srcdir'"
	echo "HOST_BUILDDIR='$builddir'"
	echo "PGDAX_GUEST_TESTS='${tests[*]}'"
	echo "PGDAX_GUEST_TEST_TIMEOUT=${PGDAX_GUEST_TEST_TIMEOUT:-300}"
} >"$d/config"
mb=$(( $(du -sm "$d" | cut -f1) + 128 ))
mke2fs -q -t ext4 -L pgdax-run -d "$d" "$run/run.img" "${mb}M" >&2 || gdie "mke2fs -d of the run disk failed"
rm -rf "$d"
qemu-img create -q -f qcow2 -b "$rootimg" -F raw "$run/root.qcow2"
truncate -s "$nvsize" "$run/nvdimm"
glog "run: per-run disk ${mb} MiB, NVDIMM backend $nvsize align $nvalign in $run"

cmd=(qemu-system-x86_64 -machine pc,nvdimm=on -cpu max -smp 2
	-m "2G,slots=2,maxmem=$maxmem"
	-object "memory-backend-file,id=mem1,share=on,mem-path=$run/nvdimm,size=$nvsize,align=$nvalign"
	-device "nvdimm,id=nv1,memdev=mem1$label"
	-kernel "$kdir/vmlinuz" -initrd "$idir/initrd.img"
	-append "console=ttyS0 panic=-1 loglevel=4"
	-drive "file=$run/root.qcow2,if=virtio,format=qcow2"
	-drive "file=$run/run.img,if=virtio,format=raw"
	-display none -monitor none -serial "file:$run/console.log" -no-reboot)
glog "boot: ${cmd[*]}"
: >"$run/console.log"
"${cmd[@]}" >"$run/qemu.log" 2>&1 &
qpid=$!

# Follow the console until the guest powers off or the timeout: print the
# markers as they come.
start=$(date +%s)
seen=0 timed_out=
while :; do
	alive=1
	kill -0 "$qpid" 2>/dev/null || alive=
	n=$(wc -l <"$run/console.log")
	if [ "$n" -gt "$seen" ]; then
		sed -n "$((seen + 1)),${n}p" "$run/console.log" | tr -d '\r' |
			awk -v a="$align" '/^PGDAX-(STEP|SETUP-FAILED)/ {sub(/^PGDAX-/, ""); print "  guest " $0}
			     /^PGDAX-END / {printf "%s: %s (%s, %ss)\n", $3, $2, a, $5}'
		seen=$n
	fi
	[ -z "$alive" ] && break
	if [ $(( $(date +%s) - start )) -ge "$timeout_s" ]; then
		timed_out=1
		kill -9 "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null || true	# (set -e: its status is 137)
		break
	fi
	sleep 1
done
wait "$qpid" 2>/dev/null || true
glog "guest ran $(( $(date +%s) - start )) s"

con=$(tr -d '\r' <"$run/console.log")
passed=$(grep -c '^PGDAX-END .* PASS ' <<<"$con" || true)
failed=$(grep -c '^PGDAX-END .* FAIL ' <<<"$con" || true)
# the log of each failing test: what it printed between its markers
for t in $(awk '/^PGDAX-END / && $3 == "FAIL" {print $2}' <<<"$con"); do
	echo "---- $t ($align): last lines" >&2
	awk -v t="$t" '$0 == "PGDAX-BEGIN " t {on = 1; next} /^PGDAX-END / && $2 == t {on = 0} on' <<<"$con" |
		tail -60 | sed 's/^/  | /' >&2
done
if ! grep -q '^PGDAX-DONE' <<<"$con"; then
	unfinished=$(awk '/^PGDAX-BEGIN / {b = $2} /^PGDAX-END / {b = ""} END {print b}' <<<"$con")
	if [ -n "$timed_out" ]; then
		glog "guest killed after ${timeout_s} s${unfinished:+ in $unfinished}"
	else
		glog "guest stopped before finishing${unfinished:+ (in $unfinished)}"
	fi
	echo "---- console tail ($align)" >&2
	tail -40 <<<"$con" | sed 's/^/  | /' >&2
	echo "FAIL: guest at $align did not finish" >&2
	failed=$((failed + 1))
fi
# not "N passed, M failed" alone on a line: check-devdax.sh prints the total
echo "$align: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
