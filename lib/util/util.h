/* SPDX-License-Identifier: MIT */
/*
 * Small parsing helpers shared by the command-line programs (mkfs.pgdaxfs,
 * fsck.pgdaxfs, pgdaxctl) and, later, the daemon's -o option parser, so a
 * size or alignment means the same thing to every one of them.
 *
 * Two grammars exist on purpose (the tools already accepted them; changing
 * either would change what a script may pass):
 *   size   C-style number (decimal, 0x hex, 0 octal) with an optional
 *          K, M, G or T suffix (powers of 1024) and an optional trailing
 *          "B" or "iB": "4096", "2M", "64GiB", "0x1000";
 *   align  decimal number with an optional K, M or G suffix, which must
 *          come to one of the mapping alignments a devdax offers:
 *          4K, 2M or 1G.
 * Both refuse a sign, trailing junk and values that overflow 64 bits.
 *
 * Also the allocation-failure hook of the tests (pgdax_fault below).
 * Internal to libpgdax (not exported from the shared library).
 */
#ifndef PGDAX_UTIL_H
#define PGDAX_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Parse a size (grammar above) into *out. 0, or -EINVAL (*out untouched). */
int pgdax_size_parse(const char *s, uint64_t *out);

/* True when @align is a devdax mapping alignment: 4 KiB, 2 MiB or 1 GiB. */
bool pgdax_align_valid(uint64_t align);

/* Parse an alignment (grammar above) into *out. 0, or -EINVAL when it does
 * not parse or is not 4K, 2M or 1G (*out untouched). */
int pgdax_align_parse(const char *s, uint64_t *out);

/*
 * Fault injection for tests: pgdax_fault("site") is true when the test asks
 * that call to fail, and the caller then behaves as if its allocation had
 * failed. The spec is "site[:N][,site[:N]...]" (a site fails its Nth call,
 * counting from 1, or every call without :N), taken from $PGDAX_FAULT at
 * the first call or set by pgdax_fault_set() (NULL or "" turns it off).
 * Sites: icount_add (fs/handles.c: counting a lookup the kernel is given),
 * pin_break (lib/pin/pin.c: recording a layout break). Two sites instead
 * plant the bug an invariant check exists to catch, so a test can prove
 * the check fires (tests/check_invariants.c): pin_break_check (lib/pin/pin.c:
 * the break check that refuses a pin is skipped) and alloc_split
 * (lib/core/alloc.c, checking mode only: a split keeps the wrong half).
 * Cost when off: one relaxed load and a predictable branch.
 */
extern int pgdax_fault_state;	/* 0 not read yet, 1 off, 2 on (atomic) */
bool pgdax_fault_slow(const char *site);
void pgdax_fault_set(const char *spec);

static inline bool pgdax_fault(const char *site)
{
	if (__builtin_expect(__atomic_load_n(&pgdax_fault_state, __ATOMIC_RELAXED) == 1, 1))
		return false;
	return pgdax_fault_slow(site);
}

/*
 * Invariant checking mode (DESIGN.md section 3; which invariant is checked
 * where is listed at the top of lib/core/folio.c). Off unless
 * $PGDAX_INVARIANTS is "1" when first asked, or a test turned it on with
 * pgdax_invariants_set() (the test build exports PGDAX_INVARIANTS=1 to
 * every test: tests/tests.am). Objects read it once, when they are created
 * (pgmap, allocator, pin table), and keep the answer: a check costs a
 * normal run one predictable branch on a flag they already have in cache.
 */
bool pgdax_invariants(void);
void pgdax_invariants_set(bool on);
/*
 * An invariant is broken: log "invariant N broken: <message>" at LOG_CRIT
 * (it passes every log level and reaches the daemon's syslog sink), then
 * abort(). Safe with any lock held (it takes none but the log's own).
 */
void pgdax_invariant_fail(int n, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

#endif /* PGDAX_UTIL_H */
