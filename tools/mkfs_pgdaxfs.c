/* SPDX-License-Identifier: MIT */
/*
 * mkfs.pgdaxfs: create a pgdaxfs on a devdax device or an emulated device
 * file. A thin CLI over lib/vol/mkfs.c.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dev/dev.h"
#include "util/log.h"
#include "vol/mkfs.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mkfs.pgdaxfs [options] DEVICE\n"
		"Create a pgdaxfs on DEVICE: /dev/daxX.Y, daxX.Y, namespaceX.Y or an emulated\n"
		"device file (a regular file, e.g. under /dev/shm).\n"
		"\n"
		"  -b, --block-size N     block size in bytes: 4096 (default) .. 65536, power of 2\n"
		"  -L, --label LABEL      volume label (at most 63 bytes)\n"
		"  -U, --uuid UUID        volume UUID, or \"random\" (default)\n"
		"  -N, --inodes N         number of inodes\n"
		"  -i, --bytes-per-inode N  one inode per N bytes of device (default 16384)\n"
		"  -J, --journal-size N   journal size (default: 1/64 of the device, 256K..4M)\n"
		"  -f, --force            overwrite an existing pgdaxfs\n"
		"  -n, --dry-run          print the layout, write nothing\n"
		"  -q, --quiet            print nothing but errors\n"
		"      --size SIZE        create (or resize) the emulated device file DEVICE first\n"
		"      --align A          alignment to format an emulated device with: 4K, 2M or\n"
		"                         1G (default 2M with --size, else 4K); the volume\n"
		"                         records it. A devdax is formatted with its own.\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n"
		"\n"
		"Sizes accept K, M, G and T suffixes (powers of 1024).\n"
		"A device in use by a running pgdaxfs daemon is refused.\n");
}

enum { OPT_SIZE = 256, OPT_ALIGN };

/*
 * The library says what is wrong (a device too small and the minimum, a
 * directory, in use by whom): the tool adds its own line only when the
 * library said nothing, so "Invalid argument" never follows a true message.
 */
static unsigned lib_errors;

static void count_errors_fn(int priority, const char *msg, void *arg)
{
	(void)arg;
	if (priority <= LOG_ERR)
		lib_errors++;
	fprintf(stderr, "mkfs.pgdaxfs: %s\n", msg);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'L' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "inodes", required_argument, NULL, 'N' },
		{ "bytes-per-inode", required_argument, NULL, 'i' },
		{ "journal-size", required_argument, NULL, 'J' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct pgdax_mkfs_opts o = { 0 };
	uint64_t size = 0, align = 0, v;
	int c, rc;

	while ((c = getopt_long(argc, argv, "b:L:U:N:i:J:fnqhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (pgdax_size_parse(optarg, &v) || v > PGDAX_MAX_BLOCK_SIZE) {
				fprintf(stderr, "mkfs.pgdaxfs: bad block size '%s' (a power of 2 "
					"from 4096 to 65536)\n", optarg);
				return 1;
			}
			o.block_size = (uint32_t)v;
			break;
		case 'L':
			o.label = optarg;
			break;
		case 'U':
			if (strcmp(optarg, "random") == 0)
				break;
			if (pgdax_uuid_parse(optarg, o.uuid)) {
				fprintf(stderr, "mkfs.pgdaxfs: bad UUID '%s'\n", optarg);
				return 1;
			}
			o.uuid_set = true;
			break;
		case 'N':
			if (pgdax_size_parse(optarg, &o.inodes) || !o.inodes) {
				fprintf(stderr, "mkfs.pgdaxfs: bad inode count '%s' (a number above "
					"0)\n", optarg);
				return 1;
			}
			break;
		case 'i':
			if (pgdax_size_parse(optarg, &o.bytes_per_inode) || o.bytes_per_inode < 1024) {
				fprintf(stderr, "mkfs.pgdaxfs: bad bytes-per-inode '%s' (at least 1024)\n",
					optarg);
				return 1;
			}
			break;
		case 'J':
			if (pgdax_size_parse(optarg, &o.journal_bytes) || !o.journal_bytes) {
				fprintf(stderr, "mkfs.pgdaxfs: bad journal size '%s' (a size above "
					"0, K/M/G suffixes)\n", optarg);
				return 1;
			}
			break;
		case 'f':
			o.force = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case OPT_SIZE:
			if (pgdax_size_parse(optarg, &size) || !size) {
				fprintf(stderr, "mkfs.pgdaxfs: bad size '%s' (at least 16M, K/M/G/T "
					"suffixes)\n", optarg);
				return 1;
			}
			break;
		case OPT_ALIGN:
			if (pgdax_size_parse(optarg, &align) || !pgdax_align_valid(align)) {
				fprintf(stderr, "mkfs.pgdaxfs: bad alignment '%s' (4K, 2M or 1G)\n",
					optarg);
				return 1;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mkfs.pgdaxfs %s (format %u.%u)\n", PACKAGE_VERSION,
			       PGDAX_FMT_MAJOR, PGDAX_FMT_MINOR);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mkfs.pgdaxfs: %s\n", optind >= argc ? "no device given" :
			"too many arguments");
		usage(stderr);
		return 1;
	}
	const char *device = argv[optind];
	pgdax_log_set_fn(count_errors_fn, NULL);
	if (size) {
		if (o.dry_run) {
			fprintf(stderr, "mkfs.pgdaxfs: --size with -n: nothing created\n");
		} else {
			uint64_t a = align ? align : (2u << 20);
			if (size % a) {
				fprintf(stderr, "mkfs.pgdaxfs: size %llu is not a multiple of the "
					"alignment %llu\n", (unsigned long long)size,
					(unsigned long long)a);
				return 1;
			}
			rc = pgdax_dev_create_emulated(device, size, a);
			if (rc && !lib_errors) {
				fprintf(stderr, "mkfs.pgdaxfs: cannot create emulated device %s: %s\n",
					device, strerror(-rc));
			}
			if (rc)
				return 1;
			align = a;
		}
	}
	o.align_override = align;
	rc = pgdax_mkfs(device, &o);
	if (rc) {
		if (!lib_errors)
			fprintf(stderr, "mkfs.pgdaxfs: %s: %s\n", device, strerror(-rc));
		return 1;
	}
	return 0;
}
