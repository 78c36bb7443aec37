/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl list: the devdax devices libdaxctl finds, as a JSON array in the
 * spirit of `daxctl list` ("[]" when there are none, e.g. on a machine
 * without a devdax driver, where pgdaxfs runs on emulated devices).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <daxctl/libdaxctl.h>

#include "pgdaxctl.h"

static void list_usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl list [--human]\n\n"
		   "List the devdax devices on this machine as a JSON array:\n"
		   "  [{\"chardev\":\"dax0.0\",\"size\":...,\"align\":...,\"numa_node\":...,\"mode\":\"devdax\"}]\n"
		   "An empty array means no devdax devices: pgdaxfs can still run on an\n"
		   "emulated device file (see mkfs.pgdaxfs --help).\n\n"
		   "  -u, --human   sizes as 2M/1G and one device per line\n"
		   "  -h, --help    this help\n");
}

static int sysfs_numa_node(const char *devname)
{
	char path[256];
	FILE *f;
	int node = -1;

	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/numa_node", devname);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &node) != 1)
		node = -1;
	fclose(f);
	return node;
}

static const char *dev_mode(struct daxctl_dev *dev)
{
	struct daxctl_memory *mem = daxctl_dev_get_memory(dev);

	if (mem && daxctl_memory_is_online(mem) > 0)
		return "system-ram";
	return "devdax";
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "human", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daxctl_region *region;
	struct daxctl_ctx *ctx;
	struct daxctl_dev *dev;
	bool human = false;
	char a[32], s[32];
	int c, rc, n = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "uh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			human = true;
			break;
		case 'h':
			list_usage(stdout);
			return PGDAXCTL_EXIT_OK;
		default:
			list_usage(stderr);
			return PGDAXCTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgdaxctl list: unexpected argument '%s'\n", argv[optind]);
		list_usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	rc = daxctl_new(&ctx);
	if (rc < 0) {
		fprintf(stderr, "pgdaxctl list: libdaxctl failed to initialize: %s\n", strerror(-rc));
		return PGDAXCTL_EXIT_FAIL;
	}
	printf("[");
	daxctl_region_foreach(ctx, region) {
		daxctl_dev_foreach(region, dev) {
			const char *name = daxctl_dev_get_devname(dev);
			unsigned long long size = daxctl_dev_get_size(dev);
			unsigned long align = daxctl_dev_get_align(dev);

			if (!name || !size)	/* the region's unconfigured seed device */
				continue;
			printf("%s%s{\"chardev\":", n++ ? "," : "", human ? "\n  " : "");
			pgdaxctl_json_str(stdout, name);
			if (human)
				printf(",\"size\":\"%s\",\"align\":\"%s\"",
				       pgdaxctl_size_str(size, s, sizeof(s)),
				       pgdaxctl_size_str(align, a, sizeof(a)));
			else
				printf(",\"size\":%llu,\"align\":%lu", size, align);
			printf(",\"numa_node\":%d,\"mode\":\"%s\"%s}", sysfs_numa_node(name),
			       dev_mode(dev), daxctl_dev_is_enabled(dev) ? "" : ",\"state\":\"disabled\"");
		}
	}
	printf("%s]\n", human && n ? "\n" : "");
	daxctl_unref(ctx);
	return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
}
