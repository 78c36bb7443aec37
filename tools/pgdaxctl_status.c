/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl status MOUNTPOINT [--json]: what a running pgdaxfs daemon holds.
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
#include <unistd.h>

#include "pgdaxctl.h"
#include "pgdaxctl_status.h"

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
out:
	free(st);
	if (ret)
		pgdaxctl_status_free(s);
	return ret;
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
	char path[PATH_MAX];

	printf("{\n  \"mountpoint\": ");
	pgdaxctl_json_str(stdout, mnt);
	printf(",\n  \"device\": ");
	pgdaxctl_json_str(stdout, st->dev_path);
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
	printf("  \"blocks\": %llu,\n  \"free_blocks\": %llu,\n  \"inodes\": %llu,\n"
	       "  \"free_inodes\": %llu,\n",
	       (unsigned long long)st->blocks, (unsigned long long)st->free_blocks,
	       (unsigned long long)st->inodes, (unsigned long long)st->free_inodes);
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
	printf("%s]\n}\n", s->nholders ? "\n  " : "");
}

static void print_text(const char *mnt, const struct pgdaxctl_status *s)
{
	const struct pgdax_ioc_status *st = &s->st;
	char a[32], b[32], c[32];
	unsigned long long used = st->blocks - st->free_blocks;

	printf("%s: pgdaxfs on %s (%s%s), daemon pid %d\n", mnt, st->dev_path,
	       (st->flags & PGDAX_INFO_EMULATED) ? "emulated" : "devdax",
	       (st->flags & PGDAX_INFO_RDONLY) ? ", read-only" : "", st->daemon_pid);
	printf("  transport:  %s\n", transport_str(st->transport));
	printf("  device:     %s, alignment %s, block %s\n",
	       pgdaxctl_size_str(st->dev_size, a, sizeof(a)),
	       pgdaxctl_size_str(st->dev_align, b, sizeof(b)),
	       pgdaxctl_size_str(st->block_size, c, sizeof(c)));
	printf("  usage:      %llu of %llu blocks used, %llu of %llu inodes free, %llu orphan(s)\n",
	       used, (unsigned long long)st->blocks, (unsigned long long)st->free_inodes,
	       (unsigned long long)st->inodes, (unsigned long long)st->orphans);
	if (st->flags & PGDAX_INFO_DEAD)
		printf("  state:      DEAD: %s; every request fails with EIO, pins are "
		       "revoked: unmount it\n", st->dead_reason);
	else
		printf("  state:      %s (live reference %lld)\n",
		       pgdaxctl_pgmap_state_str(st->pgmap_state), (long long)st->live_count);
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
	fprintf(f, "usage: pgdaxctl status MOUNTPOINT [--json]\n\n"
		   "Show what the pgdaxfs daemon serving MOUNTPOINT holds: device, usage,\n"
		   "active extents, pins by process and file, in-flight I/O and the state\n"
		   "of its device map (live, dying, drained). Works while the daemon drains.\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pgdaxctl_status s;
	bool json = false;
	int c, r;

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
	if (optind != argc - 1) {
		usage(stderr);
		return PGDAXCTL_EXIT_USAGE;
	}
	r = pgdaxctl_status_get(argv[optind], &s);
	if (r) {
		pgdaxctl_status_perror("status", argv[optind], r);
		return PGDAXCTL_EXIT_FAIL;
	}
	if (json)
		print_json(argv[optind], &s);
	else
		print_text(argv[optind], &s);
	pgdaxctl_status_free(&s);
	return PGDAXCTL_EXIT_OK;
}
