#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/fio-suite.sh [--short] [--runtime S] [--targets "tmpfs pgdaxfs nullfs storefs libpmem ..."]
#                    [--list] [--help]
#
# Runs the same fio jobs (bench/fio/*.fio) against five targets and prints
# one table: GiB/s, kIOPS and the ratio to tmpfs, job for job, then the
# ratios of pgdaxfs to the two FUSE references (nullfs, storefs).
#   tmpfs    kernel tmpfs mounted for the run: the in-kernel reference
#            (same memory, no FUSE, no daemon);
#   pgdaxfs  mkfs.pgdaxfs + the daemon `pgdaxfs DEV MNT -f` on an emulated
#            device file in /dev/shm (skipped, with a message, when the
#            programs are not built: looked up in $PGDAX_BUILD/{fs,tools},
#            then in PATH);
#   nullfs   the do-nothing FUSE filesystem of /work/shared/bench/nullfs.c
#            (or $NULLFS_SRC), compiled into the work dir at run time when
#            the source is there: the FUSE transport ceiling. It is mounted
#            the way pgdaxfs serves files (page cache, no direct_io) unless
#            $NULLFS_OPTS says otherwise (e.g. "-o direct_io");
#   storefs  bench/storefs.c: nullfs plus the one thing a filesystem must
#            do with the data, a copy into (and replies from) memory that is
#            not cache-hot (a /dev/shm mapping): the transport ceiling for a
#            FUSE filesystem that stores its data ($PGDAX_BUILD/bench/storefs,
#            else compiled into the work dir; $STOREFS_OPTS);
#   pgdax-dax  the same pgdaxfs mount through the external fio engine of
#            bench/fio-engine/ (pgdax_map: loads/stores on the device, no
#            FUSE round trip per I/O; fio 3.33 only), when it is built
#            ($PGDAX_BUILD/bench/fio-engine/.libs/pgdax-fio.so or
#            $PGDAX_FIO_ENGINE); its engine replaces the job's engine;
#   pgdaxfs-uring, nullfs-uring, storefs-uring  the same three FUSE
#            filesystems served over FUSE-over-io_uring (-o io_uring; the
#            plain columns are /dev/fuse: pgdaxfs with -o no_io_uring),
#            nullfs and storefs compiled against libfuse 3.18
#            ($FUSE318_PREFIX, default /opt/pgdaxfs/libfuse-3.18); each is
#            skipped, with a message, when that libfuse is not there, the
#            fuse module's enable_uring is not 1 (this script does not flip
#            the system-wide switch), or the daemon does not start its ring
#            threads;
#   libpmem  fio's libpmem engine (loads/stores on a mapping, no
#            filesystem) on a raw emulated-device file in /dev/shm: the
#            memory ceiling. PMEM_IS_PMEM_FORCE=1 lets it accept a DRAM
#            file. The engine column replaces the job's engine there.
# --short (what `make bench` runs): 13 jobs, 3 s each (the issue's
# O_DIRECT targets first); the full matrix
# covers seq/random read/write/mixed, 4k/64k/1m, psync/libaio/io_uring/
# mmap, 1/2/4 jobs, O_DIRECT and buffered.
#
# Environment: PGDAX_BUILD (build dir holding fs/pgdaxfs and
# tools/mkfs.pgdaxfs), MKFS_OPTS, PGDAXFS_OPTS (extra daemon arguments),
# NULLFS_SRC, NULLFS_OPTS, STOREFS_OPTS, PGDAX_FIO_ENGINE (engine .so), FIO (fio binary).
#
# Everything it creates (mounts, daemons, device files, work dir) is undone
# by its EXIT trap; it signals only the daemons it started, by pid. A fio
# run that exceeds its time limit is killed and its cell reads "timeout".

set -uo pipefail

prog=fio-suite
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jobdir=$here/fio
FIO=${FIO:-fio}
NULLFS_SRC=${NULLFS_SRC:-/work/shared/bench/nullfs.c}
NULLFS_OPTS=${NULLFS_OPTS:-}
STOREFS_OPTS=${STOREFS_OPTS:-}
PGDAXFS_OPTS=${PGDAXFS_OPTS:-}
MKFS_OPTS=${MKFS_OPTS:-}
FUSE318_PREFIX=${FUSE318_PREFIX:-/opt/pgdaxfs/libfuse-3.18}
ENABLE_URING=/sys/module/fuse/parameters/enable_uring
ALL_TARGETS="tmpfs pgdaxfs pgdaxfs-uring nullfs nullfs-uring storefs storefs-uring libpmem"

short=0
runtime=
targets=$ALL_TARGETS
list_only=0

usage() {
	sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	echo "See the comment at the top of $0 for what it measures."
}

die() { echo "$prog: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--short) short=1 ;;
	--runtime) [ $# -ge 2 ] || die "--runtime needs a number of seconds"
		runtime=$2; shift ;;
	--runtime=*) runtime=${1#*=} ;;
	--targets) [ $# -ge 2 ] || die "--targets needs a list"
		targets=$2; shift ;;
	--targets=*) targets=${1#*=} ;;
	--list) list_only=1 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
	shift
done
[ -z "$runtime" ] || [[ $runtime =~ ^[1-9][0-9]*$ ]] || die "--runtime: '$runtime' is not a number of seconds"
for t in $targets; do
	case " $ALL_TARGETS " in *" $t "*) ;; *) die "unknown target '$t' ($ALL_TARGETS)" ;; esac
done

# ---- the jobs: "jobfile bs engine direct numjobs iodepth" -----------------

cases=()
if [ "$short" -eq 1 ]; then
	cases=(
		"seq-read 1m psync 1 1 1"
		"seq-write 1m psync 1 1 1"
		"rand-read 4k psync 1 1 1"
		"seq-read 1m psync 1 2 1"
		"rand-read 4k psync 1 2 1"
		"seq-read 1m psync 0 1 1"
		"seq-write 1m psync 0 1 1"
		"rand-read 4k psync 0 1 1"
		"rand-write 4k psync 0 1 1"
		"rand-read 4k io_uring 1 1 16"
		"rand-rw 4k libaio 1 2 16"
		"rand-read 4k mmap 0 1 1"
		"rand-write-fdatasync 4k psync 0 1 1"
	)
	per_job=128m; per_job_bytes=$((128 << 20)); max_jobs=2
	runtime=${runtime:-3}; ramp=1
else
	# ~100 jobs: every job file and block size with psync (1 and 4 jobs,
	# buffered and O_DIRECT), the async engines at depth 16 on random I/O,
	# mmap, 2 jobs on the read paths, and the durable-write path.
	for job in seq-read seq-write rand-read rand-write rand-rw seq-rw; do
		for bs in 4k 64k 1m; do
			for nj in 1 4; do
				for d in 0 1; do cases+=("$job $bs psync $d $nj 1"); done
			done
		done
		for bs in 4k 1m; do cases+=("$job $bs mmap 0 1 1"); done
	done
	for job in rand-read rand-write rand-rw; do
		for bs in 4k 64k; do
			cases+=("$job $bs libaio 1 1 16" "$job $bs io_uring 1 1 16")
		done
	done
	for job in seq-read rand-read; do
		for bs in 4k 1m; do cases+=("$job $bs psync 0 2 1"); done
	done
	cases+=("rand-write-fdatasync 4k psync 0 1 1" "rand-write-fdatasync 64k psync 0 1 1"
		"rand-write-fdatasync 4k psync 0 2 1")
	per_job=512m; per_job_bytes=$((512 << 20)); max_jobs=4
	runtime=${runtime:-5}; ramp=1
fi
# Device/tmpfs size: every job's file at once, plus room for the format.
dev_bytes=$(( (per_job_bytes * max_jobs * 3 / 2 + (256 << 20)) & ~((1 << 21) - 1) ))

label() { # jobfile bs engine direct numjobs iodepth
	local qd=""
	[ "$6" -gt 1 ] && qd=" qd$6"
	printf '%s %s %s %s j%s%s' "$1" "$2" "$3" "$([ "$4" -eq 1 ] && echo direct || echo buf)" "$5" "$qd"
}

if [ "$list_only" -eq 1 ]; then
	for c in "${cases[@]}"; do label $c; echo; done
	exit 0
fi

# ---- preconditions --------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "needs root (tmpfs and FUSE mounts, /dev/shm device files)"
command -v "$FIO" >/dev/null || die "fio not found (apt-get install fio)"
[ -d "$jobdir" ] || die "job files not found in $jobdir"
for c in "${cases[@]}"; do
	set -- $c
	[ -f "$jobdir/$1.fio" ] || die "missing job file $jobdir/$1.fio"
done

work=$(mktemp -d /tmp/pgdax-fio.XXXXXX) || die "cannot create a work dir in /tmp"
keep_work=	# set when a run failed: keep the logs
mounts=()	# mount points we mounted
pids=()		# daemons we started
files=()	# device files we created
notes=()	# lines printed under the table

is_mounted() { # MNT: listed in mountinfo (never blocks on a hung FUSE mount)
	awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# MNT -> the FUSE connection number (the minor of the mount's device).
fuse_conn() {
	awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2]; exit }' /proc/self/mountinfo
}

wait_pid_exit() { # PID SECS: 0 once PID is gone (and reaped if ours)
	local pid=$1 i
	for i in $(seq 1 $(($2 * 20))); do
		if ! kill -0 "$pid" 2>/dev/null ||
		   [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
			wait "$pid" 2>/dev/null
			return 0
		fi
		sleep 0.05
	done
	return 1
}

unmount() { # MNT: unmount; abort our own FUSE connection if it hangs
	local m=$1 conn
	is_mounted "$m" || return 0
	fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null && return 0
	conn=$(fuse_conn "$m")
	if [ -n "$conn" ] && [ -w "/sys/fs/fuse/connections/$conn/abort" ]; then
		echo 1 >"/sys/fs/fuse/connections/$conn/abort"
	fi
	umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null
}

stop_pid() { # PID: TERM, then KILL if it does not go
	local p=$1
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	wait_pid_exit "$p" 20 && return 0
	echo "$prog: pid $p ignored SIGTERM for 20 s: SIGKILL" >&2
	kill -KILL "$p" 2>/dev/null
	wait_pid_exit "$p" 5
}

cleanup() {
	local rc=$? i
	set +e
	trap - EXIT INT TERM
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do unmount "${mounts[i]}"; done
	for p in "${pids[@]}"; do stop_pid "$p"; done
	for m in "${mounts[@]}"; do is_mounted "$m" && umount -l "$m" 2>/dev/null; done
	for f in "${files[@]}"; do rm -f "$f"; done
	[ -n "${keep_work:-}" ] || rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Wait until MNT is mounted and answers, or PID died.
wait_mounted() { # MNT PID
	local i
	for i in $(seq 1 200); do
		if is_mounted "$1" && timeout 5 stat "$1" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

find_tool() { # NAME -> path, from $PGDAX_BUILD first, then PATH
	local d
	if [ -n "${PGDAX_BUILD:-}" ]; then
		for d in fs tools .; do
			[ -x "$PGDAX_BUILD/$d/$1" ] && { echo "$PGDAX_BUILD/$d/$1"; return 0; }
		done
	fi
	command -v "$1"
}

# ---- running one job --------------------------------------------------------

declare -A result	# [target|label] = "KiB/s IOPS" | "error" | "timeout" | "skipped"
fio_env=()		# extra environment for fio (the libpmem target sets one)

# TARGET DIR FILEFMT OFFINC ENGINE-OVERRIDE: runs every case, fills result[].
run_target() {
	local target=$1 dir=$2 filefmt=$3 offinc=$4 engine_override=$5
	local c lbl log terse rc limit engine depth line err msg
	for c in "${cases[@]}"; do
		set -- $c
		lbl=$(label "$@")
		engine=${engine_override:-$3}
		depth=$6
		[ -z "$engine_override" ] || depth=1
		log=$work/$target.$(echo "$lbl" | tr ' ' '_').log
		terse=$log.terse
		limit=$((runtime + ramp + 120))
		printf '%s: %-8s %s\n' "$prog" "$target" "$lbl" >&2
		env "${fio_env[@]}" FIO_DIR="$dir" FIO_FILEFMT="$filefmt" FIO_SIZE="$per_job" FIO_OFFINC="$offinc" \
		    FIO_ENGINE="$engine" FIO_DIRECT="$4" FIO_BS="$2" FIO_JOBS="$5" \
		    FIO_IODEPTH="$depth" FIO_RUNTIME="$runtime" FIO_RAMP="$ramp" \
		    timeout -k 10 "$limit" "$FIO" --minimal --output="$terse" "$jobdir/$1.fio" \
		    >"$log" 2>&1
		rc=$?
		line=$(grep '^3;' "$terse" 2>/dev/null | tail -1)
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			result[$target|$lbl]="timeout"
			keep_work=1
			notes+=("$target, $lbl: fio did not finish in $limit s (killed)")
			continue
		fi
		err=$(echo "$line" | awk -F';' '{print $5}')
		if [ -z "$line" ] || [ "$rc" -ne 0 ] || [ "${err:-0}" != 0 ]; then
			result[$target|$lbl]="error"
			keep_work=1
			msg=$(cat "$log" "$terse" 2>/dev/null | grep -v '^3;' | grep -m1 -E 'fio:|error|Error' | cut -c1-150)
			[ -n "$msg" ] || [ -z "$err" ] || [ "$err" = 0 ] ||
				msg=$(perl -MPOSIX -e 'print strerror($ARGV[0])' "$err" 2>/dev/null)
			notes+=("$target, $lbl: fio exit $rc, error ${err:-?}${msg:+: $msg}")
			continue
		fi
		# terse v3: read KiB/s $7, read IOPS $8; write KiB/s $48, write IOPS $49
		result[$target|$lbl]=$(echo "$line" | awk -F';' '{printf "%d %d", $7 + $48, $8 + $49}')
	done
}

skip_target() { # TARGET REASON
	local c
	notes+=("$1 skipped: $2")
	for c in "${cases[@]}"; do result[$1|$(label $c)]="skipped"; done
	echo "$prog: $1 skipped: $2" >&2
}

# ---- the targets -----------------------------------------------------------

target_tmpfs() {
	local mnt=$work/tmpfs
	mkdir -p "$mnt"
	mount -t tmpfs -o "size=$dev_bytes" pgdax-fio-tmpfs "$mnt" ||
		{ skip_target tmpfs "cannot mount tmpfs on $mnt"; return; }
	mounts+=("$mnt")
	run_target tmpfs "$mnt" 'fio.$jobnum' 0 ""
	unmount "$mnt"
}

# Why an io_uring column cannot run (empty: it can): libfuse 3.18 and the
# kernel's switch.
uring_unavailable() {
	[ -r "$ENABLE_URING" ] || { echo "this kernel has no FUSE-over-io_uring (no $ENABLE_URING)"; return; }
	[ "$(cat "$ENABLE_URING")" = Y ] ||
		{ echo "$ENABLE_URING is 0 (echo 1 > it as root; this script does not flip it)"; return; }
	[ -f "$FUSE318_PREFIX/lib/pkgconfig/fuse3.pc" ] ||
		echo "no libfuse 3.18 in $FUSE318_PREFIX (tools/install-libfuse318.sh)"
}

# PID: 0 if the FUSE daemon PID runs libfuse's ring threads (fuse-ring-N).
serves_over_uring() {
	grep -qs '^fuse-ring-' /proc/"$1"/task/*/comm
}

target_pgdaxfs() { pgdaxfs_as pgdaxfs -o no_io_uring; }

target_pgdaxfs-uring() {
	local why
	why=$(uring_unavailable)
	[ -z "$why" ] || { skip_target pgdaxfs-uring "$why"; return; }
	pgdaxfs_as pgdaxfs-uring -o io_uring
}

# NAME DAEMON-OPTS...: the pgdaxfs target (with the pgdax-dax engine over
# /dev/fuse only: its I/O bypasses the transport).
pgdaxfs_as() {
	local name=$1 mkfs daemon dev mnt=$work/$1 pid engine dax=pgdax-dax
	shift
	[ "$name" = pgdaxfs ] || dax=
	mkfs=$(find_tool mkfs.pgdaxfs)
	daemon=$(find_tool pgdaxfs)
	engine=${PGDAX_FIO_ENGINE:-${PGDAX_BUILD:-/nonexistent}/bench/fio-engine/.libs/pgdax-fio.so}
	if [ -z "$mkfs" ] || [ -z "$daemon" ]; then
		skip_target "$name" "mkfs.pgdaxfs and/or pgdaxfs not found in ${PGDAX_BUILD:-\$PGDAX_BUILD (unset)}/{fs,tools} or PATH (not built yet?)"
		[ -z "$dax" ] || skip_target "$dax" "needs the pgdaxfs mount"
		return
	fi
	dev=/dev/shm/pgdax-fio-$$.$name.dev
	files+=("$dev")
	rm -f "$dev"
	truncate -s "$dev_bytes" "$dev" ||
		{ skip_target "$name" "cannot create $dev"; [ -z "$dax" ] || skip_target "$dax" "needs the pgdaxfs mount"; return; }
	# shellcheck disable=SC2086
	if ! "$mkfs" $MKFS_OPTS "$dev" >"$work/$name.mkfs.log" 2>&1; then
		skip_target "$name" "$mkfs $MKFS_OPTS $dev failed: $(tail -1 "$work/$name.mkfs.log")"
		[ -z "$dax" ] || skip_target "$dax" "needs the pgdaxfs mount"
		return
	fi
	mkdir -p "$mnt"
	# shellcheck disable=SC2086
	"$daemon" "$dev" "$mnt" -f $PGDAXFS_OPTS "$@" >"$work/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	mounts+=("$mnt")
	if ! wait_mounted "$mnt" "$pid"; then
		skip_target "$name" "the daemon did not come up: $(tail -1 "$work/$name.log")"
		[ -z "$dax" ] || skip_target "$dax" "needs the pgdaxfs mount"
		return
	fi
	if [ "$name" != pgdaxfs ] && ! serves_over_uring "$pid"; then
		skip_target "$name" "pgdaxfs $* does not serve over io_uring: $(tail -1 "$work/$name.log")"
		unmount "$mnt"
		wait_pid_exit "$pid" 60 || stop_pid "$pid"
		return
	fi
	echo "$prog: $name: $daemon $* (pid $pid) on $dev, $((dev_bytes >> 20)) MiB" >&2
	run_target "$name" "$mnt" 'fio.$jobnum' 0 ""
	if [ -z "$dax" ]; then
		:
	elif [ -f "$engine" ]; then
		fio_env=(PGDAX_FIO_BACKEND=pgdax)
		run_target pgdax-dax "$mnt" 'fio.$jobnum' 0 "external:$engine"
		fio_env=()
	else
		skip_target pgdax-dax "fio engine $engine not built (make bench/fio-engine/pgdax-fio.la)"
	fi
	unmount "$mnt"
	if wait_pid_exit "$pid" 60; then
		rm -f "$dev"	# the next target's device needs the memory
	else
		notes+=("$name: the daemon (pid $pid) was still running 60 s after unmount")
	fi
}

# Mount a reference FUSE filesystem (NAME BINARY OPTS) and run the jobs on it.
run_reference_fs() {
	local name=$1 bin=$2 opts=$3 mnt=$work/$1.mnt pid
	mkdir -p "$mnt"
	# shellcheck disable=SC2086
	"$bin" -f $opts "$mnt" >"$work/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	mounts+=("$mnt")
	if ! wait_mounted "$mnt" "$pid"; then
		skip_target "$name" "$name did not come up: $(tail -1 "$work/$name.log")"
		return
	fi
	if [[ $name == *-uring ]] && ! serves_over_uring "$pid"; then
		skip_target "$name" "$name $opts does not serve over io_uring: $(tail -1 "$work/$name.log")"
	else
		run_target "$name" "$mnt" 'fio.$jobnum' 0 ""
	fi
	unmount "$mnt"
	wait_pid_exit "$pid" 20 || stop_pid "$pid"
}

# Compile SRC into the work dir as NAME (a reference filesystem): against
# the system's libfuse, or for NAME-uring against libfuse 3.18.
build_reference_fs() {
	local flags
	if [[ $1 == *-uring ]]; then
		flags="$(PKG_CONFIG_PATH=$FUSE318_PREFIX/lib/pkgconfig pkg-config fuse3 --cflags --libs)"
		flags="$flags -Wl,-rpath,$FUSE318_PREFIX/lib"
	else
		flags=$(pkg-config fuse3 --cflags --libs)
	fi
	# shellcheck disable=SC2086
	gcc -O2 -Wall "$2" $flags -o "$work/$1" >"$work/$1-build.log" 2>&1 && echo "$work/$1"
}

target_nullfs() {
	local bin
	if [ ! -f "$NULLFS_SRC" ]; then
		skip_target nullfs "$NULLFS_SRC not found (set NULLFS_SRC)"
		return
	fi
	if ! bin=$(build_reference_fs nullfs "$NULLFS_SRC"); then
		skip_target nullfs "cannot build $NULLFS_SRC: $(head -1 "$work/nullfs-build.log")"
		return
	fi
	run_reference_fs nullfs "$bin" "$NULLFS_OPTS"
}

target_nullfs-uring() {
	local bin why
	why=$(uring_unavailable)
	[ -z "$why" ] || { skip_target nullfs-uring "$why"; return; }
	[ -f "$NULLFS_SRC" ] || { skip_target nullfs-uring "$NULLFS_SRC not found (set NULLFS_SRC)"; return; }
	if ! bin=$(build_reference_fs nullfs-uring "$NULLFS_SRC"); then
		skip_target nullfs-uring "cannot build $NULLFS_SRC: $(head -1 "$work/nullfs-uring-build.log")"
		return
	fi
	run_reference_fs nullfs-uring "$bin" "$NULLFS_OPTS -o io_uring"
}

target_storefs-uring() {
	local bin why
	why=$(uring_unavailable)
	[ -z "$why" ] || { skip_target storefs-uring "$why"; return; }
	if ! bin=$(build_reference_fs storefs-uring "$here/storefs.c"); then
		skip_target storefs-uring "cannot build $here/storefs.c: $(head -1 "$work/storefs-uring-build.log")"
		return
	fi
	run_reference_fs storefs-uring "$bin" "$STOREFS_OPTS -o io_uring"
}

target_storefs() {
	local bin=${PGDAX_BUILD:-/nonexistent}/bench/storefs
	if [ ! -x "$bin" ] && ! bin=$(build_reference_fs storefs "$here/storefs.c"); then
		skip_target storefs "cannot build $here/storefs.c: $(head -1 "$work/storefs-build.log")"
		return
	fi
	run_reference_fs storefs "$bin" "$STOREFS_OPTS"
}

target_libpmem() {
	local raw=/dev/shm/pgdax-fio-$$.raw
	if ! "$FIO" --enghelp 2>/dev/null | grep -qw libpmem; then
		skip_target libpmem "this fio has no libpmem engine (fio --enghelp)"
		return
	fi
	files+=("$raw")
	truncate -s $((per_job_bytes * max_jobs)) "$raw" || { skip_target libpmem "cannot create $raw"; return; }
	# One raw file shared by all jobs, each in its own slice.
	fio_env=(PMEM_IS_PMEM_FORCE=1)
	run_target libpmem /dev/shm "$(basename "$raw")" "$per_job" libpmem
	fio_env=()
	rm -f "$raw"
}

for t in $targets; do
	"target_$t"
done
# The table's columns: the DAX engine runs inside the pgdaxfs target.
columns=""
for t in $targets; do
	columns="$columns $t"
	[ "$t" != pgdaxfs ] || columns="$columns pgdax-dax"
done

# ---- the table --------------------------------------------------------------

cell() { # TARGET LABEL -> "GiB/s kIOPS ratio"
	local r=${result[$1|$2]:-n/a} base=${result[tmpfs|$2]:-}
	case $r in
	[0-9]*) ;;
	*) printf '%22s' "$r"; return ;;
	esac
	set -- $r
	local kib=$1 iops=$2 bkib=0
	case $base in [0-9]*) bkib=${base%% *} ;; esac
	awk -v k="$kib" -v i="$iops" -v b="$bkib" 'BEGIN {
		if (b > 0) r = sprintf("%5.2fx", k / b); else r = "    - ";
		printf "%6.2f %7.1f %s", k / 1048576, i / 1000, r }'
}

{
	echo
	echo "pgdaxfs fio suite$([ "$short" -eq 1 ] && echo " (short)"): $(date -u +%FT%TZ)," \
	     "$(uname -r), $($FIO --version), $(nproc) CPUs; ${runtime} s per job after ${ramp} s ramp, $per_job per job file"
	echo "each cell: GiB/s  kIOPS  ratio to tmpfs (same job); libpmem = fio's libpmem engine on a raw /dev/shm file"
	printf '%-38s' "job (file bs engine io jobs depth)"
	for t in $columns; do printf ' | %-22s' "$t"; done
	echo
	printf '%-38s' ""
	for t in $columns; do printf ' | %22s' " GiB/s   kIOPS  ratio"; done
	echo
	for c in "${cases[@]}"; do
		lbl=$(label $c)
		printf '%-38s' "$lbl"
		for t in $columns; do printf ' | %s' "$(cell "$t" "$lbl")"; done
		echo
	done
	# pgdaxfs against the FUSE references, job for job
	echo
	# (over each transport: the -uring columns against each other)
	printf '%-38s | %-16s | %-16s | %-16s | %-16s | %-16s\n' "job" "pgdaxfs/nullfs" \
		"pgdaxfs/storefs" "uring: /nullfs" "uring: /storefs" "pgdaxfs uring/dev"
	for c in "${cases[@]}"; do
		lbl=$(label $c)
		printf '%-38s' "$lbl"
		for pair in pgdaxfs:nullfs pgdaxfs:storefs pgdaxfs-uring:nullfs-uring \
			    pgdaxfs-uring:storefs-uring pgdaxfs-uring:pgdaxfs; do
			awk -v p="${result[${pair%%:*}|$lbl]:-}" -v r="${result[${pair#*:}|$lbl]:-}" 'BEGIN {
				split(p, a, " "); split(r, b, " ");
				if (a[1] + 0 > 0 && b[1] + 0 > 0) printf " | %16.2f", a[1] / b[1];
				else printf " | %16s", "-" }'
		done
		echo
	done
	for n in "${notes[@]}"; do echo "note: $n"; done
	[ -z "${keep_work:-}" ] || echo "note: fio and daemon logs kept in $work"
}
