# SPDX-License-Identifier: MIT
# Helpers for the pin / DAX client scripts (on top of tests/lib.sh).
#
#   pin_start NAME pgdax_client-args...   start a client in the background; its
#                                         output in $PGDAX_WORK/NAME.out; its pid in
#                                         PIN_PID[NAME]
#   pin_wait_line NAME REGEX [SECS]       wait until the client printed a matching line
#   pin_release NAME                      SIGUSR1: it ends its hold, unpins and exits;
#                                         fail unless it exited 0
#   pin_status MNT FIELD                  a counter from PGDAX_IOC_STATUS
#   pin_wait_status MNT FIELD VALUE [SECS]
#   pin_wait_breaking MNT PID [SECS]     wait until a layout break is recorded (a
#                                         truncate/punch by PID is waiting); fail if
#                                         PID ends first

CLIENT=${CLIENT:-$top_builddir/tests/pgdax_client}
declare -A PIN_PID

pin_start() {
	local name=$1; shift
	"$CLIENT" "$@" </dev/null >"$PGDAX_WORK/$name.out" 2>&1 &
	PIN_PID[$name]=$!
	_pgdax_pids+=("$!")
}

pin_wait_line() {
	local name=$1 re=$2 secs=${3:-20} i
	for i in $(seq 1 $((secs * 20))); do
		grep -qE "$re" "$PGDAX_WORK/$name.out" 2>/dev/null && return 0
		if ! kill -0 "${PIN_PID[$name]}" 2>/dev/null; then
			grep -qE "$re" "$PGDAX_WORK/$name.out" 2>/dev/null && return 0
			cat "$PGDAX_WORK/$name.out" >&2
			fail "client $name exited before printing /$re/"
		fi
		sleep 0.05
	done
	cat "$PGDAX_WORK/$name.out" >&2
	fail "client $name did not print /$re/ within ${secs}s"
}

pin_release() {
	local name=$1 st=0
	kill -USR1 "${PIN_PID[$name]}" 2>/dev/null || true
	wait "${PIN_PID[$name]}" || st=$?
	if [ "$st" -ne 0 ]; then
		cat "$PGDAX_WORK/$name.out" >&2
		fail "client $name exited with status $st"
	fi
}

pin_status() { # MNT FIELD
	"$CLIENT" status "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

pin_wait_status() { # MNT FIELD VALUE [SECS]
	local mnt=$1 f=$2 v=$3 secs=${4:-10} i cur=
	for i in $(seq 1 $((secs * 20))); do
		cur=$(pin_status "$mnt" "$f")
		[ "$cur" = "$v" ] && return 0
		sleep 0.05
	done
	fail "$f of $mnt is '$cur', expected $v after ${secs}s"
}

pin_wait_breaking() { # MNT PID [SECS]
	local mnt=$1 pid=$2 secs=${3:-10} i
	for i in $(seq 1 $((secs * 20))); do
		[ "$(pin_status "$mnt" breaking)" -ge 1 ] && return 0
		kill -0 "$pid" 2>/dev/null || fail "process $pid ended before its layout break was seen"
		sleep 0.05
	done
	fail "no layout break recorded on $mnt within ${secs}s"
}

# Free bytes of the mount (statfs through the daemon).
pin_free_bytes() { local a s; read -r a s < <(stat -f -c '%a %S' "$1"); echo $((a * s)); }
