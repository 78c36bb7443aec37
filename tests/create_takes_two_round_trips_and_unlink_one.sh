#!/bin/bash
# With -o no_default_permissions a create costs two FUSE requests in steady
# state (LOOKUP of the new name, CREATE) and an unlink one (UNLINK): the
# daemon checks permissions itself (lib/vol/perm.c), so the kernel does not
# refresh the parent's attributes (a GETATTR) before each, as it does with
# default_permissions (the default: 3 and 2, also counted here).
# Counted from the daemon's FUSE request trace (-d), per phase.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
pgdax_init

n=200
dev=$(pgdax_new_device 256M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt" -d -o no_default_permissions
log="$PGDAX_WORK/daemon.$PGDAX_LAST_PID.log"
mkdir "$mnt/d"
# warm up: the directory's entry and attributes are cached
python3 -c "import os; os.close(os.open('$mnt/d/warm', os.O_CREAT | os.O_WRONLY, 0o644))"
stat "$mnt/d" >/dev/null

# requests of the given opcodes in the trace after line FROM
count() { # FROM OPCODE...
	local from=$1; shift
	tail -n +"$((from + 1))" "$log" | grep -oE "opcode: [A-Z_]+" |
		awk -v want=" $* " '{ if (index(want, " " $2 " ")) n++ } END { print n + 0 }'
}

from=$(wc -l <"$log")
python3 -c "
import os
for i in range($n):
    os.close(os.open('$mnt/d/f%d' % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
"
creates=$(count "$from" LOOKUP GETATTR CREATE)
from=$(wc -l <"$log")
python3 -c "
import os
for i in range($n):
    os.unlink('$mnt/d/f%d' % i)
"
unlinks=$(count "$from" LOOKUP GETATTR UNLINK)
log "$n creates: $creates requests (LOOKUP, GETATTR, CREATE); $n unlinks: $unlinks (LOOKUP, GETATTR, UNLINK)"
[ "$(count 0 CREATE)" -ge "$n" ] || fail "the trace shows no CREATE requests: is -d tracing?"
[ "$creates" -le $((2 * n)) ] || fail "a create takes $creates/$n requests, more than 2"
[ "$unlinks" -le "$n" ] || fail "an unlink takes $unlinks/$n requests, more than 1"
pgdax_umount "$mnt"

# the default (the kernel checks too): the parent's GETATTR comes back
pgdax_mount "$dev" "$mnt" -d
log="$PGDAX_WORK/daemon.$PGDAX_LAST_PID.log"
python3 -c "import os; os.close(os.open('$mnt/d/warm2', os.O_CREAT | os.O_WRONLY, 0o644))"
stat "$mnt/d" >/dev/null
from=$(wc -l <"$log")
python3 -c "
import os
for i in range($n):
    os.close(os.open('$mnt/d/g%d' % i, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
"
creates=$(count "$from" LOOKUP GETATTR CREATE)
log "default_permissions: $n creates: $creates requests"
[ "$creates" -gt $((2 * n)) ] ||
	fail "with default_permissions a create takes only $creates/$n requests: is the option passed?"
pgdax_umount "$mnt"
