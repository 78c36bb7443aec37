/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl tune DEVICE --label L | --uuid U|random|time: change the label
 * and/or uuid of an unmounted volume, like tune2fs -L / -U. The work and
 * its crash safety are in lib/vol/tune.c (pgdax_tune); this is the CLI.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pgdaxctl.h"
#include "vol/mkfs.h"

static void tune_usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl tune DEVICE [--label LABEL] [--uuid UUID|random|time]\n\n"
		   "Change the label and/or UUID of the pgdaxfs on DEVICE, which must be\n"
		   "unmounted (a device in use is refused) and cleanly unmounted (else run\n"
		   "fsck.pgdaxfs -p first). Both superblock copies and the journal header are\n"
		   "rewritten in a crash-safe order: an interruption leaves the old or the new\n"
		   "identity, never a volume that does not mount.\n\n"
		   "  -L, --label LABEL   at most 63 bytes; \"\" clears it\n"
		   "  -U, --uuid UUID     a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), or\n"
		   "                      random (version 4) or time (version 1) for a new one\n"
		   "  -h, --help          this help\n");
}

int cmd_tune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'L' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pgdax_tune_opts o = { 0 };
	char u[37];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "L:U:h", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			if (strlen(optarg) >= PGDAX_LABEL_MAX) {
				fprintf(stderr, "pgdaxctl tune: label \"%s\" is longer than %d bytes\n",
					optarg, PGDAX_LABEL_MAX - 1);
				return PGDAXCTL_EXIT_USAGE;
			}
			o.label = optarg;
			break;
		case 'U':
			o.uuid_set = true;
			if (!strcmp(optarg, "random") || !strcmp(optarg, "time"))
				rc = pgdax_uuid_generate(o.uuid, optarg[0] == 't');
			else if (pgdax_uuid_parse(optarg, o.uuid))
				rc = -EINVAL;
			else
				rc = 0;
			if (rc == -EINVAL) {
				fprintf(stderr, "pgdaxctl tune: --uuid %s: not a UUID "
					"(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), random or time\n",
					optarg);
				return PGDAXCTL_EXIT_USAGE;
			}
			if (rc) {
				fprintf(stderr, "pgdaxctl tune: cannot generate a UUID: %s\n",
					strerror(-rc));
				return PGDAXCTL_EXIT_FAIL;
			}
			break;
		case 'h':
			tune_usage(stdout);
			return PGDAXCTL_EXIT_OK;
		default:
			tune_usage(stderr);
			return PGDAXCTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (!o.label && !o.uuid_set)) {
		fprintf(stderr, "pgdaxctl tune: %s\n",
			optind >= argc ? "missing DEVICE" : optind < argc - 1 ? "too many arguments"
							    : "nothing to change: give --label or --uuid");
		tune_usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	rc = pgdax_tune(argv[optind], &o);
	if (rc) {
		/* the library logged why and the fix */
		fprintf(stderr, "pgdaxctl tune: %s unchanged: %s\n", argv[optind], strerror(-rc));
		return PGDAXCTL_EXIT_FAIL;
	}
	if (o.label)
		printf("%s: label set to \"%s\"\n", argv[optind], o.label);
	if (o.uuid_set) {
		pgdax_uuid_format(o.uuid, u);
		printf("%s: uuid set to %s\n", argv[optind], u);
	}
	return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
}
