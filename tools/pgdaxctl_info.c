/* SPDX-License-Identifier: MIT */
/* pgdaxctl info DEVICE: what pgdaxfs sees when it opens a device. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dev/dev.h"
#include "vol/format.h"
#include "pgdaxctl.h"
#include "util/util.h"

static void info_usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl info [--json] [--align 4K|2M|1G] DEVICE\n\n"
		   "Open DEVICE read-only the way pgdaxfs does and show its kind, size,\n"
		   "mapping alignment, NUMA node, persistence granularity and known bad ranges.\n"
		   "DEVICE is /dev/daxX.Y, daxX.Y, namespaceX.Y or an emulated device file.\n\n"
		   "  -j, --json          print one JSON object\n"
		   "  -a, --align SIZE    alignment to impose on an emulated device (default: the\n"
		   "                      one its pgdaxfs volume records, else 4K)\n"
		   "  -h, --help          this help\n");
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

static void print_json(const struct pgdax_dev_info *in, int nbad)
{
	printf("{\"kind\":\"%s\",\"path\":", in->kind == PGDAX_DEV_DEVDAX ? "devdax" : "emulated");
	pgdaxctl_json_str(stdout, in->path);
	printf(",\"name\":");
	pgdaxctl_json_str(stdout, in->name);
	printf(",\"size\":%" PRIu64 ",\"align\":%" PRIu64 ",\"numa_node\":%d,"
	       "\"granularity\":\"%s\",\"needs_flush\":%s,\"bad_ranges\":%d}\n",
	       in->size, in->align, in->numa_node, in->granularity,
	       in->needs_flush ? "true" : "false", nbad);
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
	uint64_t align = 0;
	bool json = false;
	int c, rc, nbad;

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
	if (json)
		print_json(pgdax_dev_info(dev), nbad);
	else
		print_human(dev, pgdax_dev_info(dev), nbad);
	pgdax_dev_close(&dev);
	return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
}
