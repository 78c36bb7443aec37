/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl: inspect the devices pgdaxfs runs on and the mounts it serves.
 * One table of subcommands; each verb lives in tools/pgdaxctl_<verb>.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "client/pgdax.h"
#include "pgdaxctl.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Keep sorted by name; one line per subcommand. */
static const struct cmd cmds[] = {
	{ "find", cmd_find, "print the device holding the volume UUID=... or LABEL=..." },
	{ "info", cmd_info, "show a device and its volume's superblock (like dumpe2fs -h)" },
	{ "list", cmd_list, "list the devdax devices on this machine (JSON)" },
	{ "status", cmd_status, "show what mounted pgdaxfs volumes hold: usage, pins, state" },
	{ "tune", cmd_tune, "change the label or UUID of an unmounted volume" },
	{ "udev-links", cmd_udev_links, "print a device's volume UUID/label for udev (IMPORT{program})" },
	{ "remount", cmd_remount, "make a mount read-only or read-write (mount -o remount,ro|rw)" },
	{ "unmount", cmd_unmount, "drain and unmount a pgdaxfs mount, reporting who holds what" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pgdaxctl [--version] [--help] COMMAND [ARGS]\n\n"
		   "Inspect the devices pgdaxfs runs on (devdax character devices\n"
		   "/dev/daxX.Y, daxX.Y, namespaceX.Y, or emulated device files) and\n"
		   "the pgdaxfs mounts served from them.\n\n"
		   "commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'pgdaxctl COMMAND --help' describes a command.\n"
		   "Environment: PGDAX_LOG=err|warn|notice|info|debug sets the library log level.\n");
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

void pgdaxctl_json_str(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

const char *pgdaxctl_size_str(unsigned long long v, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	int i;

	for (i = 4; i >= 0; i--) {
		unsigned long long u = 1ull << (10 * (i + 1));

		if (v >= u && v % u == 0) {
			snprintf(buf, len, "%llu%c", v / u, units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", v);
	return buf;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	char *help[] = { NULL, "--help", NULL };

	if (argc < 2) {
		usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return PGDAXCTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("pgdaxctl %s (libpgdax %s)\n", PACKAGE_VERSION, pgdax_version());
		return PGDAXCTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return PGDAXCTL_EXIT_OK;
		}
		c = find_cmd(argv[2]);
		if (c) {
			help[0] = argv[2];
			return c->fn(2, help);
		}
		argv[1] = argv[2];	/* fall through to the unknown-command message */
	}
	c = find_cmd(argv[1]);
	if (!c) {
		fprintf(stderr, "pgdaxctl: unknown command '%s' (see pgdaxctl --help)\n", argv[1]);
		return PGDAXCTL_EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
