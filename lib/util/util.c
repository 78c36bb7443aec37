/* SPDX-License-Identifier: MIT */
/* Parsing helpers shared by the command-line programs, and the tests'
 * fault injection hook (see util.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/*
 * One number with a binary-unit suffix. @base goes to strtoull (0: C
 * prefixes); @units are the accepted suffix letters, upper case, in order
 * of growing power of 1024 ("KMG" or "KMGT"); @bytes_suffix also allows a
 * trailing "B" or "iB" ("2MiB", "4096B").
 */
static int parse_scaled(const char *s, int base, const char *units, bool bytes_suffix,
			uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	const char *u;
	char *end;

	/* strtoull would accept "-1" as 2^64-1: no sign in a size */
	if (strchr(s, '-'))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s)
		return -EINVAL;
	if (*end && (u = strchr(units, toupper((unsigned char)*end))) != NULL) {
		shift = 10 * (unsigned int)(u - units + 1);
		end++;
	}
	if (bytes_suffix) {
		if (end[0] == 'i' && end[1] == 'B')
			end += 2;
		else if (end[0] == 'B')
			end++;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int pgdax_size_parse(const char *s, uint64_t *out)
{
	return parse_scaled(s, 0, "KMGT", true, out);
}

bool pgdax_align_valid(uint64_t align)
{
	return align == 4096 || align == (2ull << 20) || align == (1ull << 30);
}

int pgdax_align_parse(const char *s, uint64_t *out)
{
	uint64_t v;

	if (parse_scaled(s, 10, "KMG", false, &v) || !pgdax_align_valid(v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- fault injection (tests) ---- */

#define FAULT_SITES	8

static struct {
	char name[32];
	uint64_t nth;			/* 0: every call */
	uint64_t calls;			/* fault_lock */
} fault_sites[FAULT_SITES];
static unsigned fault_nsites;		/* fault_lock */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
int pgdax_fault_state;

/* fault_lock held */
static void fault_parse_locked(const char *spec)
{
	fault_nsites = 0;
	while (spec && *spec && fault_nsites < FAULT_SITES) {
		size_t len = strcspn(spec, ",");
		size_t nl = strcspn(spec, ":,");
		unsigned k = fault_nsites;

		if (nl >= sizeof(fault_sites[k].name))
			nl = sizeof(fault_sites[k].name) - 1;
		memcpy(fault_sites[k].name, spec, nl);
		fault_sites[k].name[nl] = '\0';
		fault_sites[k].nth = spec[nl] == ':' ? strtoull(spec + nl + 1, NULL, 10) : 0;
		fault_sites[k].calls = 0;
		if (nl)
			fault_nsites++;
		spec += len;
		if (*spec == ',')
			spec++;
	}
	__atomic_store_n(&pgdax_fault_state, fault_nsites ? 2 : 1, __ATOMIC_RELEASE);
}

void pgdax_fault_set(const char *spec)
{
	pthread_mutex_lock(&fault_lock);
	fault_parse_locked(spec);
	pthread_mutex_unlock(&fault_lock);
}

bool pgdax_fault_slow(const char *site)
{
	bool fail = false;

	pthread_mutex_lock(&fault_lock);
	if (__atomic_load_n(&pgdax_fault_state, __ATOMIC_RELAXED) == 0)
		fault_parse_locked(getenv("PGDAX_FAULT"));
	for (unsigned i = 0; i < fault_nsites; i++) {
		if (strcmp(fault_sites[i].name, site))
			continue;
		fault_sites[i].calls++;
		fail = !fault_sites[i].nth || fault_sites[i].calls == fault_sites[i].nth;
		break;
	}
	pthread_mutex_unlock(&fault_lock);
	return fail;
}

/* ---- invariant checking mode (util.h) ---- */

static int invariants_state;	/* 0 not read yet, 1 off, 2 on (atomic) */

bool pgdax_invariants(void)
{
	int st = __atomic_load_n(&invariants_state, __ATOMIC_ACQUIRE);

	if (st == 0) {
		const char *e = getenv("PGDAX_INVARIANTS");
		int want = e && !strcmp(e, "1") ? 2 : 1;

		/* first reader wins; a racing setter's value stands */
		__atomic_compare_exchange_n(&invariants_state, &st, want, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		st = __atomic_load_n(&invariants_state, __ATOMIC_ACQUIRE);
	}
	return st == 2;
}

void pgdax_invariants_set(bool on)
{
	__atomic_store_n(&invariants_state, on ? 2 : 1, __ATOMIC_RELEASE);
}

void pgdax_invariant_fail(int n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* said even where the log level silences everything (it aborts) */
	if (pgdax_log_get_level() < LOG_CRIT)
		fprintf(stderr, "%s: invariant %d broken (DESIGN.md section 3): %s\n",
			program_invocation_short_name, n, msg);
	else
		pgdax_log(LOG_CRIT, "invariant", "invariant %d broken (DESIGN.md section 3): %s",
			  n, msg);
	abort();
}
