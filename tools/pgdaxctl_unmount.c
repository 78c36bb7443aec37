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
 * It never forces. When --timeout passes first it gives up: it cancels the
 * drain (PGDAX_IOC_DRAIN), so the mount serves new opens again instead of
 * refusing them until the holders happen to exit, says who held it up, and
 * exits 1. A drain past the point of no return (no handle was left, the
 * daemon is killing its pgmap: fs/teardown.c) cannot be cancelled; it
 * completes by itself and the timeout only stops waiting.
 *
 * pgdaxctl unmount --cancel MOUNTPOINT: the same cancel for a drain
 * started some other way (SIGTERM, an interrupted pgdaxctl unmount).
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
	fprintf(f, "usage: pgdaxctl unmount MOUNTPOINT [--timeout SECONDS] [--quiet]\n"
		   "       pgdaxctl unmount --cancel MOUNTPOINT\n\n"
		   "Ask the pgdaxfs daemon serving MOUNTPOINT to unmount: it refuses new\n"
		   "opens and pins (ENXIO), keeps serving open files, waits until every\n"
		   "reference (open file, pin, DAX mapping, I/O) is gone, then unmounts and\n"
		   "releases the device. Waits for the daemon to exit, reporting who holds what.\n"
		   "--timeout gives up after SECONDS without forcing anything: the drain is\n"
		   "cancelled, the mount serves new opens again, and the exit status is 1.\n"
		   "--cancel ends a drain in progress (started by SIGTERM or an interrupted\n"
		   "unmount) the same way. Neither can stop an unmount that has passed the\n"
		   "point of no return (no open handle was left): it completes.\n");
}

/* --cancel, and --timeout giving up: 0 serving again, else why not. */
static int cancel_drain(const char *mnt, bool quiet)
{
	struct pgdax_ioc_drain d;
	int r = pgdaxctl_drain(mnt, PGDAX_DRAIN_CANCEL, &d);

	switch (r) {
	case 0:
		if (!quiet)
			printf("%s: unmount cancelled, serving new opens again\n", mnt);
		return 0;
	case -EBUSY:
		fprintf(stderr, "pgdaxctl unmount: %s: too late to cancel: no open handle was "
			"left and the daemon is draining in-flight requests; the unmount "
			"completes by itself\n", mnt);
		break;
	case -ENOENT:
		fprintf(stderr, "pgdaxctl unmount: %s: no unmount in progress\n", mnt);
		break;
	case -EPERM:
		fprintf(stderr, "pgdaxctl unmount: %s: only root or the user that mounted "
			"it may cancel its unmount\n", mnt);
		break;
	default:
		pgdaxctl_status_perror("unmount --cancel", mnt, r);
		break;
	}
	return r;
}

/* Wait (bounded) until the daemon has taken the signal: phase 1 begun,
 * or the daemon gone. So a cancel on timeout never comes before it. */
static void wait_drain_begun(const char *mnt, pid_t pid)
{
	struct pgdax_ioc_drain d;

	for (int i = 0; i < 200 && !process_gone(pid); i++) {
		int r = pgdaxctl_drain(mnt, 0, &d);

		if (r < 0 || d.state != PGDAX_DRAIN_NONE)
			return;
		usleep(10 * 1000);
	}
}

int cmd_unmount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "cancel", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pgdaxctl_status s;
	double timeout = -1, start, last_report;
	bool quiet = false, cancel = false;
	const char *mnt;
	char *end;
	pid_t pid;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:qch", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cancel = true;
			break;
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
	if (cancel)
		return cancel_drain(mnt, quiet) ? PGDAXCTL_EXIT_FAIL : PGDAXCTL_EXIT_OK;
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
	if (timeout >= 0)
		wait_drain_begun(mnt, pid);
	while (!process_gone(pid)) {
		double t = now_s();

		if (timeout >= 0 && t - start >= timeout) {
			struct pgdax_ioc_drain d;

			fprintf(stderr, "pgdaxctl unmount: %s: gave up after %.0f s, still held: ",
				mnt, t - start);
			if (pgdaxctl_drain(mnt, 0, &d) == 0 && d.state != PGDAX_DRAIN_NONE)
				pgdaxctl_drain_print(stderr, &d);
			else
				fprintf(stderr, "\n");
			if (pgdaxctl_status_get(mnt, &s) == 0) {
				pgdaxctl_status_print_holders(stderr, mnt, &s);
				pgdaxctl_status_free(&s);
			}
			if (process_gone(pid))
				break;	/* it finished meanwhile */
			cancel_drain(mnt, quiet);
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
