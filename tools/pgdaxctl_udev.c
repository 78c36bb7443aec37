/* SPDX-License-Identifier: MIT */
/*
 * Stable names for volumes on dax devices, which mount(8) cannot resolve:
 * libblkid only probes block devices, so UUID= and LABEL= in fstab never
 * reach a /dev/daxX.Y. Two halves:
 *
 * pgdaxctl udev-links [DEVICE]  (DEVICE defaults to $DEVNAME, as udev sets
 *   it) prints the volume's identity as KEY=VALUE lines for udev's
 *   IMPORT{program}; the rule (udev/60-pgdaxfs.rules) turns them into
 *   /dev/pgdax/by-uuid/UUID and /dev/pgdax/by-label/LABEL symlinks with
 *   SYMLINK+=, which is how udev expects a helper to name a device:
 *     PGDAXFS_UUID=1b4e28ba-2fa1-11d2-883f-0016d3cca427
 *     PGDAXFS_LABEL=my_data          (whitespace and unsafe bytes as '_')
 *     PGDAXFS_LABEL_ENC=my\x20data   (udev's encoding: a link name)
 *     PGDAXFS_VERSION=1.2
 *   Nothing is printed for a device without a pgdaxfs (exit 0: not an
 *   error for udev). It maps read-only and takes no lock, so it runs fine
 *   on a device a daemon serves. Any file name works, for tests.
 *
 * pgdaxctl find UUID=U|LABEL=L [DEVICE...] prints the device holding that
 *   volume: the /dev/pgdax link first (checked: a link may be stale), else
 *   a scan of every /dev/dax* and of the DEVICEs given (e.g. emulated
 *   images). Two devices with the same identity (a copied image) are an
 *   error naming both, never a guess. mount.pgdaxfs uses it for UUID=/LABEL=.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "dev/dev.h"
#include "pgdaxctl.h"
#include "pgdaxctl_sb.h"
#include "util/log.h"
#include "vol/mkfs.h"

#define LINK_DIR "/dev/pgdax"

/* udev's encode_devnode_name(): bytes outside [A-Za-z0-9#+-.:=@_] -> \xNN */
static void label_encode(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < len; p++) {
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || strchr("#+-.:=@_", *p))
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
	}
	out[o] = '\0';
}

/* A value safe on one KEY=VALUE line: whitespace, quotes, backslash and
 * control bytes as '_' (what udev's own label variables do) */
static void label_safe(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < len; p++)
		out[o++] = (*p <= ' ' || *p == 0x7f || strchr("\"'`\\", *p)) ? '_' : (char)*p;
	out[o] = '\0';
}

/* 0 with the superblock in @v; -ENODATA: no pgdaxfs; other -errno: open
 * failed (the library's message only when @loud: a scan stays quiet about
 * dax devices it cannot map, e.g. ones in system-ram mode). */
static int read_volume(const char *path, struct pgdaxctl_sb *v, bool loud)
{
	struct pgdax_dev *dev = NULL;
	int rc, level = pgdax_log_get_level();

	if (!loud)
		pgdax_log_set_level(LOG_CRIT);
	rc = pgdax_dev_open(path, PGDAX_DEV_RDONLY, 0, &dev);
	pgdax_log_set_level(level);
	if (rc)
		return rc;
	rc = pgdaxctl_sb_read(dev, v);
	pgdax_dev_close(&dev);
	return rc;
}

int cmd_udev_links(int argc, char **argv)
{
	char label[PGDAX_LABEL_MAX + 1], enc[PGDAX_LABEL_MAX * 4 + 1], safe[PGDAX_LABEL_MAX + 1];
	struct pgdaxctl_sb v;
	const char *path;
	char u[37];
	int rc;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: pgdaxctl udev-links [DEVICE]\n\n"
		       "Print the identity of the pgdaxfs on DEVICE (default: $DEVNAME, as udev\n"
		       "sets it) as KEY=VALUE lines for a udev IMPORT{program} rule:\n"
		       "PGDAXFS_UUID, PGDAXFS_LABEL, PGDAXFS_LABEL_ENC (udev-encoded, for a link\n"
		       "name) and PGDAXFS_VERSION. Prints nothing for a device without a pgdaxfs.\n"
		       "60-pgdaxfs.rules uses it to create /dev/pgdax/by-uuid/UUID and\n"
		       "/dev/pgdax/by-label/LABEL. DEVICE may also be an emulated device file.\n");
		return PGDAXCTL_EXIT_OK;
	}
	if (argc > 2) {
		fprintf(stderr, "pgdaxctl udev-links: too many arguments\n");
		return PGDAXCTL_EXIT_USAGE;
	}
	path = argc == 2 ? argv[1] : getenv("DEVNAME");
	if (!path || !*path) {
		fprintf(stderr, "pgdaxctl udev-links: no DEVICE and no $DEVNAME\n");
		return PGDAXCTL_EXIT_USAGE;
	}
	rc = read_volume(path, &v, true);
	if (rc == -ENODATA || rc == -EUCLEAN || rc == -EPROTONOSUPPORT)
		return PGDAXCTL_EXIT_OK;	/* nothing to name */
	if (rc) {
		fprintf(stderr, "pgdaxctl udev-links: %s: %s\n", path, strerror(-rc));
		return PGDAXCTL_EXIT_FAIL;
	}
	pgdax_uuid_format(v.sb.s_uuid, u);
	pgdaxctl_sb_label(&v.sb, label);
	printf("PGDAXFS_UUID=%s\n", u);
	if (label[0]) {
		label_safe(label, safe, sizeof(safe));
		label_encode(label, enc, sizeof(enc));
		printf("PGDAXFS_LABEL=%s\nPGDAXFS_LABEL_ENC=%s\n", safe, enc);
	}
	printf("PGDAXFS_VERSION=%u.%u\n", le16toh(v.sb.s_major), le16toh(v.sb.s_minor));
	return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
}

struct want {
	bool by_uuid;
	uint8_t uuid[16];
	const char *label;
};

static bool matches(const char *path, const struct want *w, bool loud)
{
	char label[PGDAX_LABEL_MAX + 1];
	struct pgdaxctl_sb v;

	if (read_volume(path, &v, loud))
		return false;
	if (w->by_uuid)
		return !memcmp(v.sb.s_uuid, w->uuid, 16);
	pgdaxctl_sb_label(&v.sb, label);
	return !strcmp(label, w->label);
}

/* Add @path to @found unless it names a device already there. */
static int add_found(char found[][PATH_MAX], int n, const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return n;
	for (int i = 0; i < n; i++)
		if (!strcmp(found[i], real))
			return n;
	if (n < 8)
		snprintf(found[n++], PATH_MAX, "%s", real);
	return n;
}

int cmd_find(int argc, char **argv)
{
	static char found[8][PATH_MAX];
	char link[PATH_MAX], enc[PGDAX_LABEL_MAX * 4 + 1], u[37];
	struct want w = { 0 };
	const char *spec;
	glob_t g;
	int n = 0, scanned = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: pgdaxctl find UUID=UUID|LABEL=LABEL [DEVICE...]\n\n"
			"Print the device that holds the pgdaxfs with that UUID or label: the\n"
			"udev link under " LINK_DIR "/by-uuid or by-label when it is right, else\n"
			"the one found by reading every /dev/dax* and each DEVICE given (emulated\n"
			"device files). Exit 1 when none or more than one device matches.\n");
		return argc < 2 ? PGDAXCTL_EXIT_USAGE : PGDAXCTL_EXIT_OK;
	}
	spec = argv[1];
	if (!strncmp(spec, "UUID=", 5)) {
		w.by_uuid = true;
		if (pgdax_uuid_parse(spec + 5, w.uuid)) {
			fprintf(stderr, "pgdaxctl find: %s: not a UUID\n", spec);
			return PGDAXCTL_EXIT_USAGE;
		}
		pgdax_uuid_format(w.uuid, u);
		snprintf(link, sizeof(link), LINK_DIR "/by-uuid/%s", u);
	} else if (!strncmp(spec, "LABEL=", 6) && spec[6]) {
		w.label = spec + 6;
		label_encode(w.label, enc, sizeof(enc));
		snprintf(link, sizeof(link), LINK_DIR "/by-label/%s", enc);
	} else {
		fprintf(stderr, "pgdaxctl find: '%s': give UUID=... or LABEL=...\n", spec);
		return PGDAXCTL_EXIT_USAGE;
	}
	if (access(link, F_OK) == 0 && matches(link, &w, false))
		n = add_found(found, n, link);
	if (n == 0) {
		if (glob("/dev/dax*", 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc; i++) {
				struct stat st;

				if (stat(g.gl_pathv[i], &st) || !S_ISCHR(st.st_mode))
					continue;
				scanned++;
				if (matches(g.gl_pathv[i], &w, false))
					n = add_found(found, n, g.gl_pathv[i]);
			}
			globfree(&g);
		}
		for (int i = 2; i < argc; i++) {
			scanned++;
			if (matches(argv[i], &w, true))
				n = add_found(found, n, argv[i]);
		}
	}
	if (n == 1) {
		printf("%s\n", found[0]);
		return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
	}
	if (n == 0) {
		fprintf(stderr, "pgdaxctl find: no pgdaxfs with %s (looked at %s and %d device(s); "
			"see pgdaxctl info DEVICE)\n", spec, link, scanned);
		return PGDAXCTL_EXIT_FAIL;
	}
	fprintf(stderr, "pgdaxctl find: %s is on more than one device:", spec);
	for (int i = 0; i < n; i++)
		fprintf(stderr, " %s", found[i]);
	fprintf(stderr, " (give the device, or pgdaxctl tune --uuid random one of them)\n");
	return PGDAXCTL_EXIT_FAIL;
}
