/* SPDX-License-Identifier: MIT */
/* Read-only superblock and mount table views (tools/pgdaxctl_sb.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dev/dev.h"
#include "pgdaxctl_sb.h"

/* Set bits of [from, to) in a bitmap of @bytes bytes (bits past it: none). */
static uint64_t count_bits(const uint8_t *map, uint64_t bytes, uint64_t from, uint64_t to)
{
	uint64_t n = 0, b;

	if (to > bytes * 8)
		to = bytes * 8;
	for (b = from; b < to && b % 64; b++)
		n += pgdax_bit_test(map, b);
	for (; b + 64 <= to; b += 64)
		n += (uint64_t)__builtin_popcountll(le64toh(((const pgdax_le64 *)map)[b / 64]));
	for (; b < to; b++)
		n += pgdax_bit_test(map, b);
	return n;
}

static void read_journal(const char *base, struct pgdaxctl_sb *v)
{
	const struct pgdax_sb *sb = &v->sb;
	uint32_t bs = le32toh(sb->s_block_size);
	const char *area = base + le64toh(sb->s_journal_start) * bs;
	const struct pgdax_jhdr *h = (const void *)area;
	const struct pgdax_jrec *r = (const void *)(area + PGDAX_JREC_START);

	v->jseq = le64toh(h->j_seq);
	v->jhdr_ok = le64toh(h->j_magic) == PGDAX_JHDR_MAGIC &&
		     le64toh(h->j_area_bytes) == le64toh(sb->s_journal_blocks) * bs &&
		     !memcmp(h->j_uuid, sb->s_uuid, sizeof(h->j_uuid)) &&
		     pgdax_struct_crc(h, offsetof(struct pgdax_jhdr, j_crc)) == le32toh(h->j_crc);
	v->jpending = le32toh(r->r_magic) == PGDAX_JREC_MAGIC && le64toh(r->r_seq) == v->jseq + 1;
}

int pgdaxctl_sb_read(struct pgdax_dev *dev, struct pgdaxctl_sb *v)
{
	const char *base = pgdax_dev_base(dev);
	uint64_t size = pgdax_dev_size(dev);
	struct pgdax_sb b;
	uint32_t bs;
	int rc;

	memset(v, 0, sizeof(*v));
	memcpy(&v->sb, base, sizeof(v->sb));
	rc = pgdax_sb_validate(&v->sb, size, v->why, sizeof(v->why));
	if (rc == -EPROTONOSUPPORT)
		return rc;
	if (rc == 0) {
		v->backup_off = pgdax_sb_backup_blk(&v->sb) * le32toh(v->sb.s_block_size);
		memcpy(&b, base + v->backup_off, sizeof(b));
		v->backup_differs = pgdax_sb_validate(&b, size, NULL, 0) ||
				    memcmp(&b, &v->sb, offsetof(struct pgdax_sb, s_state));
	} else {
		bool magic = le64toh(v->sb.s_magic) == PGDAX_SB_MAGIC;

		if (pgdax_sb_find_backup(base, size, &v->sb, &v->backup_off))
			return magic ? -EUCLEAN : -ENODATA;
		v->from_backup = true;
	}
	bs = le32toh(v->sb.s_block_size);
	v->used_blocks = count_bits((const uint8_t *)base + le64toh(v->sb.s_bbitmap_start) * bs,
				    le64toh(v->sb.s_bbitmap_blocks) * bs, 0,
				    le64toh(v->sb.s_blocks));
	v->used_inodes = count_bits((const uint8_t *)base + le64toh(v->sb.s_ibitmap_start) * bs,
				    le64toh(v->sb.s_ibitmap_blocks) * bs, 1,
				    le64toh(v->sb.s_inodes));
	read_journal(base, v);
	return 0;
}

uint64_t pgdaxctl_sb_errors(const struct pgdax_sb *sb, uint64_t *count, uint64_t *first,
			    uint64_t *last, uint64_t *ino)
{
	bool has = le16toh(sb->s_minor) >= 2;

	*count = has ? le64toh(sb->s_error_count) : 0;
	*first = has ? le64toh(sb->s_first_error_time) : 0;
	*last = has ? le64toh(sb->s_last_error_time) : 0;
	*ino = has ? le64toh(sb->s_last_error_ino) : 0;
	return has ? le64toh(sb->s_errors) : 0;
}

void pgdaxctl_sb_label(const struct pgdax_sb *sb, char buf[PGDAX_LABEL_MAX + 1])
{
	memcpy(buf, sb->s_label, PGDAX_LABEL_MAX);
	buf[PGDAX_LABEL_MAX] = '\0';
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

void pgdaxctl_mounts_free(struct pgdaxctl_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].mountpoint);
		free(m[i].source);
		free(m[i].root);
	}
	free(m);
}

int pgdaxctl_mounts(struct pgdaxctl_mount **out, size_t *n)
{
	struct pgdaxctl_mount *v = NULL;
	char *line = NULL;
	size_t cap = 0, len = 0;
	FILE *f;
	int rc = 0;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		char root[4096], mp[4096], fstype[256], src[4096], *dash;
		unsigned maj, mnr;
		struct pgdaxctl_mount *t;

		if (sscanf(line, "%*d %*d %u:%u %4095s %4095s", &maj, &mnr, root, mp) != 4)
			continue;
		dash = strstr(line, " - ");
		if (!dash || sscanf(dash + 3, "%255s %4095s", fstype, src) != 2 ||
		    strcmp(fstype, "fuse.pgdaxfs"))
			continue;
		t = realloc(v, (len + 1) * sizeof(*v));
		if (!t) {
			rc = -ENOMEM;
			break;
		}
		v = t;
		v[len].dev = makedev(maj, mnr);
		v[len].mountpoint = unescape(mp);
		v[len].source = unescape(src);
		v[len].root = unescape(root);
		len++;
		if (!v[len - 1].mountpoint || !v[len - 1].source || !v[len - 1].root) {
			rc = -ENOMEM;
			break;
		}
	}
	free(line);
	fclose(f);
	if (rc) {
		pgdaxctl_mounts_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}
