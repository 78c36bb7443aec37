/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl info DEVICE: what pgdaxfs sees when it opens a device, then the
 * volume's superblock like dumpe2fs -h. Read-only and without the device's
 * exclusive lock, so it works on a mounted volume as on an unmounted one
 * (tools/pgdaxctl_sb.h); a damaged primary superblock is reported and the
 * backup's view shown.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dev/dev.h"
#include "vol/format.h"
#include "pgdaxctl.h"
#include "pgdaxctl_sb.h"
#include "util/util.h"
#include "vol/mkfs.h"

static void info_usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl info [--json] [--align 4K|2M|1G] DEVICE\n\n"
		   "Open DEVICE read-only the way pgdaxfs does and show its kind, size,\n"
		   "mapping alignment, NUMA node, persistence granularity and known bad ranges,\n"
		   "then the pgdaxfs superblock (like dumpe2fs -h): label, UUID, state and\n"
		   "error state, alignment, block size, sizes and usage, format version,\n"
		   "times, mount count and journal. Works on a mounted volume too (it takes\n"
		   "no lock); a damaged primary superblock is reported and the backup shown.\n"
		   "DEVICE is /dev/daxX.Y, daxX.Y, namespaceX.Y or an emulated device file.\n\n"
		   "  -j, --json          print one JSON object\n"
		   "  -a, --align SIZE    alignment to impose on an emulated device (default: the\n"
		   "                      one its pgdaxfs volume records, else 4K)\n"
		   "  -h, --help          this help\n");
}

static const char *state_str(uint64_t state)
{
	return state == PGDAX_STATE_CLEAN ? "clean" : state == PGDAX_STATE_DIRTY ? "dirty" : "unknown";
}

static const char *errors_str(uint64_t e, char *buf, size_t len)
{
	if (!e)
		return "none";
	snprintf(buf, len, "%s%s%s", (e & PGDAX_ERR_FSCK) ? "fsck," : "",
		 (e & PGDAX_ERR_RUNTIME) ? "runtime," : "",
		 (e & ~(PGDAX_ERR_FSCK | PGDAX_ERR_RUNTIME)) ? "unknown," : "");
	buf[strlen(buf) - 1] = '\0';
	return buf;
}

/* "2026-12-05 20:22:11 UTC", or "-" for 0 (never) */
static const char *time_str(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "-");
	return buf;
}

static void json_fs(const struct pgdaxctl_sb *v)
{
	const struct pgdax_sb *sb = &v->sb;
	uint64_t blocks = le64toh(sb->s_blocks), inodes = le64toh(sb->s_inodes) - 1;
	uint64_t cnt, first, last, ino, err = pgdaxctl_sb_errors(sb, &cnt, &first, &last, &ino);
	char label[PGDAX_LABEL_MAX + 1], u[37], e[64];

	pgdaxctl_sb_label(sb, label);
	pgdax_uuid_format(sb->s_uuid, u);
	printf(",\"filesystem\":{\"superblock\":\"%s\",\"backup_matches\":%s,\"label\":",
	       v->from_backup ? "backup" : "primary", v->backup_differs ? "false" : "true");
	pgdaxctl_json_str(stdout, label);
	printf(",\"uuid\":\"%s\",\"version\":\"%u.%u\",\"state\":\"%s\",\"errors\":\"%s\","
	       "\"error_bits\":%" PRIu64 ",\"error_count\":%" PRIu64 ",\"first_error_time\":%" PRIu64
	       ",\"last_error_time\":%" PRIu64 ",\"last_error_ino\":%" PRIu64,
	       u, le16toh(sb->s_major), le16toh(sb->s_minor), state_str(le64toh(sb->s_state)),
	       errors_str(err, e, sizeof(e)), err, cnt, first, last, ino);
	printf(",\"align\":%" PRIu64 ",\"block_size\":%u,\"dev_size\":%" PRIu64 ",\"blocks\":%" PRIu64
	       ",\"used_blocks\":%" PRIu64 ",\"free_blocks\":%" PRIu64 ",\"inodes\":%" PRIu64
	       ",\"used_inodes\":%" PRIu64 ",\"free_inodes\":%" PRIu64 ",\"data_start\":%" PRIu64
	       ",\"bad_blocks\":%" PRIu64,
	       (uint64_t)le64toh(sb->s_align), le32toh(sb->s_block_size),
	       (uint64_t)le64toh(sb->s_dev_size), blocks, v->used_blocks, blocks - v->used_blocks,
	       inodes, v->used_inodes, inodes - v->used_inodes,
	       (uint64_t)le64toh(sb->s_data_start), (uint64_t)le64toh(sb->s_bad_blocks));
	printf(",\"mkfs_time\":%" PRIu64 ",\"mount_time\":%" PRIu64 ",\"write_time\":%" PRIu64
	       ",\"mount_count\":%" PRIu64 ",\"orphan_head\":%" PRIu64 ",\"journal_start\":%" PRIu64
	       ",\"journal_blocks\":%" PRIu64 ",\"journal_seq\":%" PRIu64
	       ",\"journal_pending\":%s,\"journal_header_matches\":%s}",
	       (uint64_t)le64toh(sb->s_mkfs_time), (uint64_t)le64toh(sb->s_mount_time),
	       (uint64_t)le64toh(sb->s_write_time), (uint64_t)le64toh(sb->s_mount_count),
	       (uint64_t)le64toh(sb->s_orphan_head), (uint64_t)le64toh(sb->s_journal_start),
	       (uint64_t)le64toh(sb->s_journal_blocks), v->jseq,
	       v->jpending ? "true" : "false", v->jhdr_ok ? "true" : "false");
}

/* An emulated device has the alignment of the volume on it, as at mount. */
static void volume_align(struct pgdax_dev *dev)
{
	const void *base = pgdax_dev_base(dev);
	uint64_t size = pgdax_dev_size(dev), off;
	struct pgdax_sb sb;

	memcpy(&sb, base, sizeof(sb));
	if ((pgdax_sb_validate(&sb, size, NULL, 0) == 0 ||
	     pgdax_sb_find_backup(base, size, &sb, &off) == 0) && le64toh(sb.s_align))
		(void)pgdax_dev_use_align(dev, le64toh(sb.s_align));
}

static void print_json(const struct pgdax_dev_info *in, int nbad, const struct pgdaxctl_sb *v)
{
	printf("{\"kind\":\"%s\",\"path\":", in->kind == PGDAX_DEV_DEVDAX ? "devdax" : "emulated");
	pgdaxctl_json_str(stdout, in->path);
	printf(",\"name\":");
	pgdaxctl_json_str(stdout, in->name);
	printf(",\"size\":%" PRIu64 ",\"align\":%" PRIu64 ",\"numa_node\":%d,"
	       "\"granularity\":\"%s\",\"needs_flush\":%s,\"bad_ranges\":%d",
	       in->size, in->align, in->numa_node, in->granularity,
	       in->needs_flush ? "true" : "false", nbad);
	if (v)
		json_fs(v);
	printf("}\n");
}

#define KEY "%-20s "

static void human_fs(const struct pgdaxctl_sb *v)
{
	const struct pgdax_sb *sb = &v->sb;
	uint64_t blocks = le64toh(sb->s_blocks), inodes = le64toh(sb->s_inodes) - 1;
	uint64_t cnt, first, last, ino, err = pgdaxctl_sb_errors(sb, &cnt, &first, &last, &ino);
	char label[PGDAX_LABEL_MAX + 1], u[37], e[64], t[64], a[32];

	pgdaxctl_sb_label(sb, label);
	pgdax_uuid_format(sb->s_uuid, u);
	printf("\n");
	if (v->from_backup)
		printf(KEY "BACKUP @%" PRIu64 " (the primary @0 is damaged: %s; run fsck.pgdaxfs)\n",
		       "superblock:", v->backup_off, v->why);
	else
		printf(KEY "primary @0, backup @%" PRIu64 " %s\n", "superblock:", v->backup_off,
		       v->backup_differs ? "DIFFERS (run fsck.pgdaxfs)" : "matches");
	printf(KEY "%s\n", "volume name:", label[0] ? label : "<none>");
	printf(KEY "%s\n", "volume uuid:", u);
	printf(KEY "%u.%u\n", "format version:", le16toh(sb->s_major), le16toh(sb->s_minor));
	printf(KEY "%s\n", "state:", state_str(le64toh(sb->s_state)));
	printf(KEY "%s\n", "errors:", errors_str(err, e, sizeof(e)));
	if (err || cnt) {
		printf(KEY "%" PRIu64 "\n", "error count:", cnt);
		printf(KEY "%s\n", "first error time:", time_str(first, t, sizeof(t)));
		printf(KEY "%s\n", "last error time:", time_str(last, t, sizeof(t)));
		if (ino)
			printf(KEY "%" PRIu64 "\n", "last error inode:", ino);
		else
			printf(KEY "-\n", "last error inode:");
	}
	printf(KEY "%" PRIu64 " (%s)\n", "volume align:", (uint64_t)le64toh(sb->s_align),
	       pgdaxctl_size_str(le64toh(sb->s_align), a, sizeof(a)));
	printf(KEY "%u\n", "block size:", le32toh(sb->s_block_size));
	printf(KEY "%" PRIu64 " (%s)\n", "volume size:", (uint64_t)le64toh(sb->s_dev_size),
	       pgdaxctl_size_str(le64toh(sb->s_dev_size), a, sizeof(a)));
	printf(KEY "%" PRIu64 "\n", "block count:", blocks);
	printf(KEY "%" PRIu64 "\n", "used blocks:", v->used_blocks);
	printf(KEY "%" PRIu64 "\n", "free blocks:", blocks - v->used_blocks);
	printf(KEY "%" PRIu64 "\n", "first data block:", (uint64_t)le64toh(sb->s_data_start));
	printf(KEY "%" PRIu64 "\n", "bad blocks:", (uint64_t)le64toh(sb->s_bad_blocks));
	printf(KEY "%" PRIu64 "\n", "inode count:", inodes);
	printf(KEY "%" PRIu64 "\n", "used inodes:", v->used_inodes);
	printf(KEY "%" PRIu64 "\n", "free inodes:", inodes - v->used_inodes);
	printf(KEY "%s\n", "created:", time_str(le64toh(sb->s_mkfs_time), t, sizeof(t)));
	printf(KEY "%s\n", "last mount time:", time_str(le64toh(sb->s_mount_time), t, sizeof(t)));
	printf(KEY "%s\n", "last write time:", time_str(le64toh(sb->s_write_time), t, sizeof(t)));
	printf(KEY "%" PRIu64 "\n", "mount count:", (uint64_t)le64toh(sb->s_mount_count));
	printf(KEY "%" PRIu64 "\n", "first orphan inode:", (uint64_t)le64toh(sb->s_orphan_head));
	printf(KEY "block %" PRIu64 ", %" PRIu64 " blocks\n", "journal:",
	       (uint64_t)le64toh(sb->s_journal_start), (uint64_t)le64toh(sb->s_journal_blocks));
	printf(KEY "%" PRIu64 " committed, %s%s\n", "journal sequence:", v->jseq,
	       v->jpending ? "a transaction is pending (rolled back at mount)" : "none pending",
	       v->jhdr_ok ? "" : "; header does not match the superblock");
	printf(KEY "compat 0x%" PRIx64 ", incompat 0x%" PRIx64 ", ro_compat 0x%" PRIx64 "\n",
	       "features:", (uint64_t)le64toh(sb->s_feat_compat),
	       (uint64_t)le64toh(sb->s_feat_incompat), (uint64_t)le64toh(sb->s_feat_ro_compat));
}

static void print_human(struct pgdax_dev *dev, const struct pgdax_dev_info *in, int nbad)
{
	uint64_t off[16], len[16];
	char a[32], s[32];
	int i, n;

	printf("device:       %s\n", in->path);
	printf("kind:         %s\n", in->kind == PGDAX_DEV_DEVDAX ? "devdax" : "emulated");
	printf("name:         %s\n", in->name);
	printf("size:         %" PRIu64 " (%s)\n", in->size, pgdaxctl_size_str(in->size, s, sizeof(s)));
	printf("align:        %" PRIu64 " (%s)\n", in->align, pgdaxctl_size_str(in->align, a, sizeof(a)));
	if (in->numa_node >= 0)
		printf("numa node:    %d\n", in->numa_node);
	else
		printf("numa node:    unknown\n");
	printf("granularity:  %s\n", in->granularity);
	printf("needs flush:  %s\n", in->needs_flush ? "yes" : "no");
	printf("bad ranges:   %d\n", nbad);
	n = pgdax_dev_badranges(dev, off, len, 16);
	for (i = 0; i < n && i < 16; i++)
		printf("  offset %" PRIu64 " length %" PRIu64 "\n", off[i], len[i]);
	if (n > 16)
		printf("  ... and %d more\n", n - 16);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "align", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pgdax_dev *dev = NULL;
	struct pgdaxctl_sb v;
	uint64_t align = 0;
	bool json = false;
	int c, rc, nbad, status = PGDAXCTL_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ja:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			if (pgdax_align_parse(optarg, &align)) {
				fprintf(stderr, "pgdaxctl info: --align %s: use 4K, 2M or 1G\n", optarg);
				return PGDAXCTL_EXIT_USAGE;
			}
			break;
		case 'h':
			info_usage(stdout);
			return PGDAXCTL_EXIT_OK;
		default:
			info_usage(stderr);
			return PGDAXCTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "pgdaxctl info: %s\n", optind >= argc ? "missing DEVICE"
								     : "too many arguments");
		info_usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	rc = pgdax_dev_open(argv[optind], PGDAX_DEV_RDONLY, align, &dev);
	if (rc) {
		/* The library has logged why and how to fix it. */
		fprintf(stderr, "pgdaxctl info: cannot open %s: %s\n", argv[optind], strerror(-rc));
		return PGDAXCTL_EXIT_FAIL;
	}
	if (!align && pgdax_dev_info(dev)->kind == PGDAX_DEV_EMULATED)
		volume_align(dev);
	nbad = pgdax_dev_badranges(dev, NULL, NULL, 0);
	rc = pgdaxctl_sb_read(dev, &v);
	if (rc == -EUCLEAN || rc == -EPROTONOSUPPORT) {
		fprintf(stderr, "pgdaxctl info: %s: %s: %s\n", argv[optind],
			rc == -EUCLEAN ? "a pgdaxfs whose superblock and backup are both damaged"
				       : "a pgdaxfs this version cannot read", v.why);
		status = PGDAXCTL_EXIT_FAIL;
	} else if (rc == 0 && v.from_backup) {
		fprintf(stderr, "pgdaxctl info: %s: primary superblock damaged (%s); showing the "
			"backup @%llu: run fsck.pgdaxfs\n", argv[optind], v.why,
			(unsigned long long)v.backup_off);
	}
	if (json) {
		print_json(pgdax_dev_info(dev), nbad, rc ? NULL : &v);
	} else {
		print_human(dev, pgdax_dev_info(dev), nbad);
		if (rc == 0)
			human_fs(&v);
		else if (rc == -ENODATA)
			printf("\n" KEY "none (no pgdaxfs superblock; see mkfs.pgdaxfs)\n",
			       "filesystem:");
	}
	pgdax_dev_close(&dev);
	return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : status;
}
