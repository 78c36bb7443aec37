/* SPDX-License-Identifier: MIT */
/*
 * pgdaxctl unmount MOUNTPOINT [--timeout SECONDS]: orderly teardown of a
 * pgdaxfs mount ("block new, drain old", DESIGN.md section 4).
 *
 * It asks the daemon for its pid (PGDAX_IOC_STATUS on the mount root) and
 * sends it SIGTERM: the daemon refuses new opens, pins and mappings,
 * keeps serving what is open until the last handle is closed, then kills
 * its pgmap, drains the in-flight references, unmounts and releases the
 * device (the two phases are explained in fs/teardown.c). This command
 * waits for that end (the daemon process gone, so the device is free for
 * fsck or a new mount), and every few seconds says who still holds what.
 * It never forces: a timeout only stops waiting (exit 1), the drain goes
 * on.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgdaxctl.h"
#include "pgdaxctl_status.h"

static bool process_gone(pid_t pid)
{
	char p[64], buf[512], *s;
	FILE *f;
	bool gone = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* a zombie (exited, not yet reaped by its parent) has let go of
	 * everything: count it as gone */
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return errno == ENOENT;
	if (fgets(buf, sizeof(buf), f)) {
		s = strrchr(buf, ')');
		gone = s && s[1] == ' ' && (s[2] == 'Z' || s[2] == 'X');
	}
	fclose(f);
	return gone;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pgdaxctl unmount MOUNTPOINT [--timeout SECONDS] [--quiet]\n\n"
		   "Ask the pgdaxfs daemon serving MOUNTPOINT to unmount: it refuses new\n"
		   "opens and pins, keeps serving open files, waits until every reference\n"
		   "(open file, pin, DAX mapping, I/O) is gone, then unmounts and releases\n"
		   "the device. Waits for the daemon to exit, reporting who holds what.\n"
		   "--timeout stops waiting (exit 1) without forcing anything.\n");
}

int cmd_unmount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pgdaxctl_status s;
	double timeout = -1, start, last_report;
	bool quiet = false;
	const char *mnt;
	char *end;
	pid_t pid;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			errno = 0;
			timeout = strtod(optarg, &end);
			if (errno || *end || timeout < 0) {
				fprintf(stderr, "pgdaxctl unmount: bad --timeout '%s' (seconds)\n",
					optarg);
				return PGDAXCTL_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
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
	mnt = argv[optind];
	r = pgdaxctl_status_get(mnt, &s);
	if (r) {
		pgdaxctl_status_perror("unmount", mnt, r);
		return PGDAXCTL_EXIT_FAIL;
	}
	pid = s.st.daemon_pid;
	pgdaxctl_status_free(&s);
	if (pid <= 1) {
		fprintf(stderr, "pgdaxctl unmount: %s: daemon reported a bad pid %d\n", mnt, pid);
		return PGDAXCTL_EXIT_FAIL;
	}
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "pgdaxctl unmount: cannot signal daemon pid %d of %s: %s%s\n",
			pid, mnt, strerror(errno),
			errno == EPERM ? " (run as the user that mounted it, or root)" : "");
		return PGDAXCTL_EXIT_FAIL;
	}
	start = last_report = now_s();
	while (!process_gone(pid)) {
		double t = now_s();

		if (timeout >= 0 && t - start >= timeout) {
			fprintf(stderr, "pgdaxctl unmount: %s: daemon %d still draining after "
				"%.0f s (not forced; it goes on)\n", mnt, pid, t - start);
			if (pgdaxctl_status_get(mnt, &s) == 0) {
				pgdaxctl_status_print_holders(stderr, mnt, &s);
				pgdaxctl_status_free(&s);
			}
			return PGDAXCTL_EXIT_FAIL;
		}
		if (!quiet && t - last_report >= 2.0) {
			last_report = t;
			if (pgdaxctl_status_get(mnt, &s) == 0) {
				fprintf(stderr, "pgdaxctl unmount: %s: waiting for daemon %d (%s): "
					"%llu pin(s), %llu active extent(s), %llu in-flight I/O\n",
					mnt, pid, pgdaxctl_pgmap_state_str(s.st.pgmap_state),
					(unsigned long long)s.st.pins,
					(unsigned long long)s.st.active_extents,
					(unsigned long long)s.st.inflight_io);
				pgdaxctl_status_print_holders(stderr, mnt, &s);
				pgdaxctl_status_free(&s);
			}
		}
		usleep(50 * 1000);
	}
	if (!quiet)
		printf("%s: unmounted, daemon %d exited\n", mnt, pid);
	return PGDAXCTL_EXIT_OK;
}
