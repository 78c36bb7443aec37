#!/bin/bash
# make install puts the fio engine where fio loads it: Debian's fio 3.33 has
# no directory of dynamic engines, it loads an external engine by path
# (ioengine=external:PATH, --enghelp=PATH). After make install DESTDIR=...,
# `fio --enghelp=DESTDIR/LIBDIR/fio/fio-pgdax.so` loads the engine and names
# it ("IO engine pgdax has no options": fio exits 1 for an engine without
# options, so the test reads the message, not the status) instead of "not
# loadable"; and a short fio job through ioengine=external:PATH on a mount
# runs with it and verifies its data.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/install_lib.sh"
pgdax_init
command -v fio >/dev/null || fail "fio not installed (tools/install-deps.sh)"
pgdax_install
engine=$(pgdax_installed fio-pgdax.so)
[[ $engine == */lib/fio/fio-pgdax.so ]] || fail "engine installed as $engine, not LIBDIR/fio/fio-pgdax.so"

out=$(fio --enghelp="$engine" 2>&1) || true
grep -q "^IO engine pgdax has no options$" <<<"$out" || fail "fio --enghelp=$engine: $out"
log "fio --enghelp=$engine: $out"

dev=$(pgdax_new_device 64M)
pgdax_mkfs "$dev"
mnt=$(pgdax_new_dir mnt)
pgdax_mount "$dev" "$mnt"
out=$(fio --name=installed --ioengine="external:$engine" --filename="$mnt/fio.dat" --size=4M \
	--bs=64k --rw=write --verify=crc32c --do_verify=1 2>&1) || fail "fio through the installed engine: $out"
grep -q "err= 0" <<<"$out" || fail "fio through the installed engine: $out"
log "fio job through ioengine=external:$engine: write + verify ok"
pgdax_umount "$mnt"
