#!/bin/bash
# SPDX-License-Identifier: MIT
# PID 1 of the devdax guest (the initramfs switch_roots here). Installs the
# project from the per-run disk (/pgdax), makes the NVDIMM a devdax
# namespace at the alignment the host asked for, runs the devdax suite one
# test at a time and reports on the serial console between markers the host
# (run-guest.sh) parses:
#   PGDAX-STEP <text>                       a setup step done
#   PGDAX-BEGIN <test>
#   PGDAX-END <test> PASS|FAIL|SKIP <rc> <seconds>
#   PGDAX-DONE                              every test ran
# then powers the machine off. A setup step that fails reports
# PGDAX-SETUP-FAILED and powers off: the host counts it as a failure.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 60
}
step() { echo "PGDAX-STEP $*"; }
setup_failed() { echo "PGDAX-SETUP-FAILED $*"; poweroff_now; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname pgdax-guest
echo 1 >/proc/sys/kernel/sysrq
# shellcheck source=/dev/null
. /pgdax/config || setup_failed "no /pgdax/config"
step "booted $(uname -r), $(nproc) cpus, align $PGDAX_GUEST_ALIGN"

# (usrmerge: /sbin is a symlink in the guest's root; keep it one)
tar -C /pgdax/install -cf - . | tar -C / -xf - --keep-directory-symlink && ldconfig ||
	setup_failed "installing the project"
step "project installed (make install DESTDIR) into /"
# the host's source and build trees at their host paths: libtool wrappers
# and tests/lib.sh find their programs there
mkdir -p "$HOST_SRCDIR" "$HOST_BUILDDIR"
mount --bind /pgdax/src "$HOST_SRCDIR" && mount --bind /pgdax/build "$HOST_BUILDDIR" ||
	setup_failed "bind-mounting the source and build trees"

modprobe -a nfit nd_pmem dax_pmem device_dax fuse || setup_failed "modprobe"
step "modules: $(lsmod | awk 'NR > 1 {print $1}' | grep -E '^(nfit|nd_pmem|dax_pmem|device_dax|fuse)$' | tr '\n' ' ')"
for _ in $(seq 1 100); do
	[ -e /sys/bus/nd/devices/namespace0.0 ] && break
	sleep 0.1
done
[ -e /sys/bus/nd/devices/namespace0.0 ] || setup_failed "no namespace0.0"
out=$(ndctl create-namespace -f -e namespace0.0 -m devdax -a "$PGDAX_GUEST_ALIGN" 2>&1) ||
	setup_failed "ndctl create-namespace -m devdax -a $PGDAX_GUEST_ALIGN: $out"
step "ndctl create-namespace -f -e namespace0.0 -m devdax -a $PGDAX_GUEST_ALIGN"
for _ in $(seq 1 100); do
	[ -c /dev/dax0.0 ] && break
	sleep 0.1
done
[ -c /dev/dax0.0 ] || setup_failed "no /dev/dax0.0"
step "/dev/dax0.0: size $(cat /sys/bus/dax/devices/dax0.0/size) align $(cat /sys/bus/dax/devices/dax0.0/align)"

export top_srcdir=$HOST_SRCDIR top_builddir=$HOST_BUILDDIR
export PGDAX_GUEST=1 PGDAX_GUEST_ALIGN PGDAX_INVARIANTS=1
export PGDAX_DAX=/dev/dax0.0
# the guest runs under TCG: the reused host tests' loads, made smaller
export PGDAX_UNMOUNT_SIZE=4M
export PGDAXFS=/usr/local/sbin/pgdaxfs MKFS=/usr/local/sbin/mkfs.pgdaxfs
export FSCK=/usr/local/sbin/fsck.pgdaxfs PGDAXCTL=/usr/local/bin/pgdaxctl
for v in PGDAXFS MKFS FSCK PGDAXCTL; do
	[ -x "${!v}" ] || setup_failed "$v: ${!v} not installed"
done
for t in $PGDAX_GUEST_TESTS; do
	name=${t#tests/}
	case "$t" in
	*@*) align=${t##*@}; t=${t%@*}; name=${name%@*}
	     [ "$align" = "$PGDAX_GUEST_ALIGN" ] || continue ;;
	esac
	echo "PGDAX-BEGIN $name"
	start=$(date +%s)
	# through a pipe: the tests' stdout is not the console's tty (no
	# progress meters), as under make check
	(cd /tmp && timeout -k 10 "$PGDAX_GUEST_TEST_TIMEOUT" bash "$HOST_SRCDIR/$t") </dev/null 2>&1 | cat
	rc=${PIPESTATUS[0]}
	case $rc in 0) r=PASS ;; 77) r=SKIP ;; *) r=FAIL ;; esac
	# a test leaves the device as it found it: a devdax namespace
	if [ ! -c /dev/dax0.0 ]; then
		ndctl enable-namespace namespace0.0 >/dev/null 2>&1
		ndctl create-namespace -f -e namespace0.0 -m devdax -a "$PGDAX_GUEST_ALIGN" >/dev/null 2>&1
	fi
	echo "PGDAX-END $name $r $rc $(( $(date +%s) - start ))"
done
echo "PGDAX-DONE"
poweroff_now
