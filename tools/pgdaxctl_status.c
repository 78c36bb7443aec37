/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl status [--json] [PATH|DEVICE]: what running pgdaxfs daemons hold.
 *
 * PATH is any file or directory inside a pgdaxfs mount: the mount is the
 * /proc/self/mountinfo entry of type fuse.pgdaxfs whose device number is
 * the file's st_dev (so a path deep inside, a bind mount or a symlink all
 * lead to it). DEVICE is the device a daemon serves (found as the mount
 * whose source is the same file). With no argument every pgdaxfs mount is
 * shown (--json: an array of the objects shown for one).
 *
 * Asks the daemon through PGDAX_IOC_STATUS on the mount's root directory
 * (opening the root is not a "new open" of a file, so this works while the
 * daemon drains for an unmount): device, usage, active extents, pins by
 * process and file, in-flight I/O, and the pgmap state (live, dying,
 * drained). Holder paths are found by looking the pinned inode up among the
 * holder's open descriptors (/proc/PID/fd), which needs permission to read
 * that process's /proc entries; otherwise only the inode number is shown.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dev/dev.h"
#include "pgdaxctl.h"
#include "pgdaxctl_sb.h"
#include "pgdaxctl_status.h"
#include "util/log.h"
#include "vol/mkfs.h"

const char *pgdaxctl_pgmap_state_str(int state)
{
	switch (state) {
	case 0: return "live";
	case 1: return "dying";
	case 2: return "drained";
	case 3: return "released";
	default: return "unknown";
	}
}

int pgdaxctl_status_get(const char *mnt, struct pgdaxctl_status *s)
{
	struct pgdax_ioc_status *st;
	uint32_t cursor = 0;
	int fd, ret = 0;

	memset(s, 0, sizeof(*s));
	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		struct pgdax_ioc_holder *v;

		memset(st, 0, sizeof(*st));
		st->cursor = cursor;
		if (ioctl(fd, PGDAX_IOC_STATUS, st) < 0) {
			ret = -errno;
			break;
		}
		if (st->version != PGDAX_IOC_VERSION || st->count > PGDAX_IOC_HOLDERS_BATCH) {
			ret = -EPROTO;
			break;
		}
		if (st->count) {
			v = realloc(s->holders, (s->nholders + st->count) * sizeof(*v));
			if (!v) {
				ret = -ENOMEM;
				break;
			}
			s->holders = v;
			memcpy(v + s->nholders, st->holders, st->count * sizeof(*v));
			s->nholders += st->count;
		}
		s->st = *st;
		/* the list may change between batches: stop at its end or
		 * when a batch brings nothing new */
		if (!st->count || st->next >= st->nr_holders)
			break;
		cursor = st->next;
	}
	close(fd);
	/* an older daemon answers ENOTTY: no drain line then */
	if (!ret && pgdaxctl_drain(mnt, 0, &s->drain) == 0)
		s->have_drain = true;
out:
	free(st);
	if (ret)
		pgdaxctl_status_free(s);
	return ret;
}

int pgdaxctl_drain(const char *mnt, uint32_t flags, struct pgdax_ioc_drain *d)
{
	int fd, ret = 0;

	memset(d, 0, sizeof(*d));
	d->flags = flags;
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, PGDAX_IOC_DRAIN, d) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void comm_of(pid_t pid, char *buf, size_t len);

void pgdaxctl_drain_print(FILE *f, const struct pgdax_ioc_drain *d)
{
	time_t since = (time_t)d->since;
	char when[32], comm[64];
	struct tm tm;
	uint32_t shown = d->npids < PGDAX_DRAIN_PIDS ? d->npids : PGDAX_DRAIN_PIDS;

	localtime_r(&since, &tm);
	strftime(when, sizeof(when), "%F %T", &tm);
	if (d->state == PGDAX_DRAIN_FINAL) {
		fprintf(f, "unmounting since %s (%s): past the point of no return, "
			   "finishing the drain of requests in flight\n", when, d->by);
		return;
	}
	fprintf(f, "draining since %s (%lld s), %u holder(s): pids", when,
		(long long)(time(NULL) - since), d->npids);
	for (uint32_t i = 0; i < shown; i++) {
		comm_of(d->pids[i], comm, sizeof(comm));
		fprintf(f, "%s %d (%s)", i ? "," : "", d->pids[i], comm);
	}
	fprintf(f, "%s; %llu open handle(s); asked by %s; new opens fail with ENXIO "
		   "until they close, or 'pgdaxctl unmount --cancel'\n",
		d->npids > shown ? ", ..." : "", (unsigned long long)d->handles, d->by);
}

void pgdaxctl_status_perror(const char *verb, const char *mnt, int err)
{
	if (err == -ENOTTY || err == -EINVAL)
		fprintf(stderr, "pgdaxctl %s: %s is not the root of a pgdaxfs mount\n", verb, mnt);
	else
		fprintf(stderr, "pgdaxctl %s: %s: %s\n", verb, mnt, strerror(-err));
}

void pgdaxctl_status_free(struct pgdaxctl_status *s)
{
	free(s->holders);
	s->holders = NULL;
	s->nholders = 0;
}

/* Path of inode @ino of the mount (device @dev) among @pid's descriptors. */
static bool holder_path(pid_t pid, dev_t dev, uint64_t ino, char *buf, size_t len)
{
	char dir[64], p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0 || st.st_dev != dev || (uint64_t)st.st_ino != ino)
			continue;
		n = readlink(p, buf, len - 1);
		if (n > 0) {
			buf[n] = '\0';
			found = true;
		}
	}
	closedir(d);
	return found;
}

static void comm_of(pid_t pid, char *buf, size_t len)
{
	char p[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static dev_t mount_dev(const char *mnt)
{
	struct stat st;

	return stat(mnt, &st) == 0 ? st.st_dev : 0;
}

void pgdaxctl_status_print_holders(FILE *f, const char *mnt,
				   const struct pgdaxctl_status *s)
{
	dev_t dev = mount_dev(mnt);
	char path[PATH_MAX], comm[64], sz[32];

	for (uint32_t i = 0; i < s->nholders; i++) {
		const struct pgdax_ioc_holder *h = &s->holders[i];

		comm_of(h->pid, comm, sizeof(comm));
		if (!holder_path(h->pid, dev, h->ino, path, sizeof(path)))
			snprintf(path, sizeof(path), "(inode %llu)", (unsigned long long)h->ino);
		fprintf(f, "  pid %d (%s) %s: %u pin(s), %llu extent(s), %s\n", h->pid, comm,
			path, h->pins, (unsigned long long)h->extents,
			pgdaxctl_size_str(h->bytes, sz, sizeof(sz)));
	}
}

/* The volume's label and uuid, read from the device (read-only, no lock:
 * the daemon keeps its exclusive lock). false when it cannot be read. */
static bool volume_id(const char *dev_path, char label[PGDAX_LABEL_MAX + 1], char uuid[37])
{
	struct pgdax_dev *dev = NULL;
	struct pgdaxctl_sb v;
	int rc, level = pgdax_log_get_level();

	/* a device that is gone (the mount is dead) is shown by the daemon's
	 * own state; no library message for it here */
	pgdax_log_set_level(LOG_CRIT);
	rc = pgdax_dev_open(dev_path, PGDAX_DEV_RDONLY, 0, &dev);
	pgdax_log_set_level(level);
	if (rc)
		return false;
	rc = pgdaxctl_sb_read(dev, &v);
	pgdax_dev_close(&dev);
	if (rc)
		return false;
	pgdaxctl_sb_label(&v.sb, label);
	pgdax_uuid_format(v.sb.s_uuid, uuid);
	return true;
}

static const char *transport_str(uint32_t t)
{
	switch (t) {
	case PGDAX_TRANSPORT_DEV_FUSE:
		return "dev_fuse";
	case PGDAX_TRANSPORT_IO_URING:
		return "io_uring";
	default:
		return "unknown";	/* an older daemon */
	}
}

static void print_json(const char *mnt, const struct pgdaxctl_status *s)
{
	const struct pgdax_ioc_status *st = &s->st;
	dev_t dev = mount_dev(mnt);
	char path[PATH_MAX], label[PGDAX_LABEL_MAX + 1], uuid[37];

	printf("{\n  \"mountpoint\": ");
	pgdaxctl_json_str(stdout, mnt);
	printf(",\n  \"device\": ");
	pgdaxctl_json_str(stdout, st->dev_path);
	if (volume_id(st->dev_path, label, uuid)) {
		printf(",\n  \"label\": ");
		pgdaxctl_json_str(stdout, label);
		printf(",\n  \"uuid\": \"%s\"", uuid);
	} else {
		printf(",\n  \"label\": null,\n  \"uuid\": null");
	}
	printf(",\n  \"emulated\": %s,\n  \"readonly\": %s,\n",
	       (st->flags & PGDAX_INFO_EMULATED) ? "true" : "false",
	       (st->flags & PGDAX_INFO_RDONLY) ? "true" : "false");
	printf("  \"daemon_pid\": %d,\n  \"transport\": \"%s\",\n  \"state\": \"%s\",\n"
	       "  \"live_count\": %lld,\n",
	       st->daemon_pid, transport_str(st->transport),
	       pgdaxctl_pgmap_state_str(st->pgmap_state), (long long)st->live_count);
	printf("  \"dead\": %s,\n  \"dead_reason\": ",
	       (st->flags & PGDAX_INFO_DEAD) ? "true" : "false");
	if (st->flags & PGDAX_INFO_DEAD)
		pgdaxctl_json_str(stdout, st->dead_reason);
	else
		printf("null");
	printf(",\n");
	printf("  \"dev_size\": %llu,\n  \"dev_align\": %llu,\n  \"block_size\": %llu,\n",
	       (unsigned long long)st->dev_size, (unsigned long long)st->dev_align,
	       (unsigned long long)st->block_size);
	printf("  \"blocks\": %llu,\n  \"free_blocks\": %llu,\n  \"used_blocks\": %llu,\n"
	       "  \"inodes\": %llu,\n  \"free_inodes\": %llu,\n  \"used_inodes\": %llu,\n",
	       (unsigned long long)st->blocks, (unsigned long long)st->free_blocks,
	       (unsigned long long)(st->blocks - st->free_blocks),
	       (unsigned long long)st->inodes, (unsigned long long)st->free_inodes,
	       (unsigned long long)(st->inodes - st->free_inodes));
	printf("  \"active_extents\": %llu,\n  \"inflight_io\": %llu,\n  \"pins\": %llu,\n"
	       "  \"pinned_extents\": %llu,\n  \"orphans\": %llu,\n"
	       "  \"quarantined_pages\": %llu,\n  \"breaking\": %llu,\n"
	       "  \"pins_granted\": %llu,\n  \"pins_dropped\": %llu,\n"
	       "  \"stalled_reclaims\": %llu,\n",
	       (unsigned long long)st->active_extents, (unsigned long long)st->inflight_io,
	       (unsigned long long)st->pins, (unsigned long long)st->pinned_extents,
	       (unsigned long long)st->orphans, (unsigned long long)st->quarantined_pages,
	       (unsigned long long)st->breaking, (unsigned long long)st->pins_granted,
	       (unsigned long long)st->pins_dropped, (unsigned long long)st->stalled_reclaims);
	printf("  \"drain\": ");
	if (s->have_drain && s->drain.state != PGDAX_DRAIN_NONE) {
		printf("{\"state\": \"%s\", \"since\": %lld, \"handles\": %llu, "
		       "\"by\": ", s->drain.state == PGDAX_DRAIN_FINAL ? "final" : "draining",
		       (long long)s->drain.since, (unsigned long long)s->drain.handles);
		pgdaxctl_json_str(stdout, s->drain.by);
		printf(", \"pids\": [");
		for (uint32_t i = 0; i < s->drain.npids && i < PGDAX_DRAIN_PIDS; i++)
			printf("%s%d", i ? ", " : "", s->drain.pids[i]);
		printf("]},\n");
	} else {
		printf("null,\n");
	}
	printf("  \"holders\": [");
	for (uint32_t i = 0; i < s->nholders; i++) {
		const struct pgdax_ioc_holder *h = &s->holders[i];

		printf("%s\n    {\"pid\": %d, \"ino\": %llu, \"pins\": %u, \"extents\": %llu, "
		       "\"bytes\": %llu, \"path\": ", i ? "," : "", h->pid,
		       (unsigned long long)h->ino, h->pins, (unsigned long long)h->extents,
		       (unsigned long long)h->bytes);
		if (holder_path(h->pid, dev, h->ino, path, sizeof(path)))
			pgdaxctl_json_str(stdout, path);
		else
			printf("null");
		printf("}");
	}
	printf("%s]\n}", s->nholders ? "\n  " : "");
}

static void print_text(const char *mnt, const struct pgdaxctl_status *s)
{
	const struct pgdax_ioc_status *st = &s->st;
	char a[32], b[32], c[32];
	unsigned long long used = st->blocks - st->free_blocks;

	char label[PGDAX_LABEL_MAX + 1], uuid[37];

	printf("%s: pgdaxfs on %s (%s%s), daemon pid %d\n", mnt, st->dev_path,
	       (st->flags & PGDAX_INFO_EMULATED) ? "emulated" : "devdax",
	       (st->flags & PGDAX_INFO_RDONLY) ? ", read-only" : "", st->daemon_pid);
	if (volume_id(st->dev_path, label, uuid))
		printf("  volume:     label \"%s\", uuid %s\n", label, uuid);
	printf("  transport:  %s\n", transport_str(st->transport));
	printf("  device:     %s, alignment %s, block %s\n",
	       pgdaxctl_size_str(st->dev_size, a, sizeof(a)),
	       pgdaxctl_size_str(st->dev_align, b, sizeof(b)),
	       pgdaxctl_size_str(st->block_size, c, sizeof(c)));
	/* the numbers df and fsck show (lib/vol/vol.h, space accounting) */
	printf("  usage:      %llu of %llu blocks used, %llu of %llu inodes used, "
	       "%llu orphan(s)\n", used, (unsigned long long)st->blocks,
	       (unsigned long long)(st->inodes - st->free_inodes),
	       (unsigned long long)st->inodes, (unsigned long long)st->orphans);
	if (st->flags & PGDAX_INFO_DEAD)
		printf("  state:      DEAD: %s; every request fails with EIO, pins are "
		       "revoked: unmount it\n", st->dead_reason);
	else
		printf("  state:      %s (live reference %lld)\n",
		       pgdaxctl_pgmap_state_str(st->pgmap_state), (long long)st->live_count);
	if (s->have_drain && s->drain.state != PGDAX_DRAIN_NONE) {
		printf("  unmount:    ");
		pgdaxctl_drain_print(stdout, &s->drain);
	}
	printf("  extents:    %llu active, %llu in-flight I/O, %llu pinned by %llu pin(s), "
	       "%llu quarantined page(s), %llu layout break(s)\n",
	       (unsigned long long)st->active_extents, (unsigned long long)st->inflight_io,
	       (unsigned long long)st->pinned_extents, (unsigned long long)st->pins,
	       (unsigned long long)st->quarantined_pages, (unsigned long long)st->breaking);
	printf("  pins:       %llu taken, %llu ended since mount\n",
	       (unsigned long long)st->pins_granted, (unsigned long long)st->pins_dropped);
	if (st->stalled_reclaims)
		printf("  stalled:    %llu unlinked file(s) waiting for extents still "
		       "referenced (see the daemon log)\n",
		       (unsigned long long)st->stalled_reclaims);
	if (s->nholders) {
		printf("  holders:\n");
		pgdaxctl_status_print_holders(stdout, mnt, s);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl status [--json] [PATH|DEVICE]\n\n"
		   "Show what the pgdaxfs daemon serving PATH (any file or directory inside\n"
		   "the mount) or DEVICE holds: device, volume label and UUID, usage, active\n"
		   "extents, pins by process and file, in-flight I/O and the state of its\n"
		   "device map (live, dying, drained). Works while the daemon drains.\n"
		   "With no argument, every pgdaxfs mount (none: exit 0, nothing shown).\n\n"
		   "  -j, --json   one JSON object (with no argument: an array of them)\n"
		   "  -h, --help   this help\n");
}

static bool same_file(const char *a, const struct stat *b)
{
	struct stat st;

	return stat(a, &st) == 0 && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

/*
 * The mount point of the pgdaxfs mount @arg is in, or that serves @arg as
 * its device, into @mnt. 0, or -ENOENT with the reason printed.
 */
static int find_mount(const char *arg, char *mnt, size_t len)
{
	struct pgdaxctl_mount *m;
	char dpath[PATH_MAX];
	const char *p = arg;
	struct stat st;
	size_t n, i, pick = SIZE_MAX;
	int rc;

	if (stat(p, &st) < 0 && pgdax_dev_resolve(arg, dpath, sizeof(dpath)) == 0) {
		p = dpath;	/* daxX.Y, namespaceX.Y */
	}
	if (stat(p, &st) < 0) {
		rc = -errno;
		fprintf(stderr, "pgdaxctl status: %s: %s\n", arg, strerror(-rc));
		return rc;
	}
	rc = pgdaxctl_mounts(&m, &n);
	if (rc) {
		fprintf(stderr, "pgdaxctl status: /proc/self/mountinfo: %s\n", strerror(-rc));
		return rc;
	}
	/* inside a mount: its st_dev; prefer the entry that shows the whole
	 * volume (root "/") over a bind mount of a subdirectory */
	for (i = 0; i < n; i++)
		if (m[i].dev == st.st_dev && (pick == SIZE_MAX || !strcmp(m[i].root, "/")))
			pick = i;
	if (pick == SIZE_MAX && (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
		for (i = 0; i < n && pick == SIZE_MAX; i++)
			if (same_file(m[i].source, &st))
				pick = i;
	if (pick != SIZE_MAX) {
		snprintf(mnt, len, "%s", m[pick].mountpoint);
		rc = 0;
	} else {
		fprintf(stderr, "pgdaxctl status: %s is not inside a pgdaxfs mount, nor a device a "
			"pgdaxfs mount serves (pgdaxctl info DEVICE reads an unmounted volume)\n",
			arg);
		rc = -ENOENT;
	}
	pgdaxctl_mounts_free(m, n);
	return rc;
}

/* Show the mount at @mnt; @sep is printed first, only when there is
 * something to show (JSON array commas). 0 or -errno (reported). */
static int show_one(const char *mnt, bool json, const char *sep)
{
	struct pgdaxctl_status s;
	int r;

	r = pgdaxctl_status_get(mnt, &s);
	if (r) {
		pgdaxctl_status_perror("status", mnt, r);
		return r;
	}
	fputs(sep, stdout);
	if (json)
		print_json(mnt, &s);
	else
		print_text(mnt, &s);
	pgdaxctl_status_free(&s);
	return 0;
}

/* Every pgdaxfs mount; one that does not answer (daemon gone: ENOTCONN) is
 * reported and makes the exit status 1, the others are still shown. */
static int show_all(bool json)
{
	struct pgdaxctl_mount *m;
	size_t n, i;
	int rc, bad = 0, shown = 0;

	rc = pgdaxctl_mounts(&m, &n);
	if (rc) {
		fprintf(stderr, "pgdaxctl status: /proc/self/mountinfo: %s\n", strerror(-rc));
		return PGDAXCTL_EXIT_FAIL;
	}
	if (json)
		printf("[");
	for (i = 0; i < n; i++) {
		if (strcmp(m[i].root, "/"))
			continue;	/* a bind mount of part of a volume shown elsewhere */
		if (show_one(m[i].mountpoint, json, json ? (shown ? ",\n" : "\n") : (shown ? "\n" : "")))
			bad++;
		else
			shown++;
	}
	if (json)
		printf("%s]\n", shown ? "\n" : "");
	pgdaxctl_mounts_free(m, n);
	return bad ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char mnt[PATH_MAX];
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return PGDAXCTL_EXIT_OK;
		default:
			usage(stderr);
			return PGDAXCTL_EXIT_USAGE;
		}
	}
	if (optind == argc)
		return show_all(json);
	if (optind != argc - 1) {
		usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	if (find_mount(argv[optind], mnt, sizeof(mnt)))
		return PGDAXCTL_EXIT_FAIL;
	if (show_one(mnt, json, ""))
		return PGDAXCTL_EXIT_FAIL;
	if (json)
		printf("\n");
	return fflush(stdout) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
}
