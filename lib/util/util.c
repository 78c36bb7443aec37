/* SPDX-License-Identifier: MIT */
/* Parsing helpers shared by the command-line programs (see util.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
