// SPDX-License-Identifier: MIT
/*
 * bench/drain-bench.c: how fast a pgdaxfs daemon lets go of its device.
 * Driven by bench/drain-bench.sh, which formats a device, starts the daemon
 * and passes its pid; this program only times.
 *
 *   drain-bench idle DEVICE MNT PID term|umount|umount2
 *       Nothing open. Sends SIGTERM to PID (or runs `fusermount3 -u MNT`,
 *       or calls umount2(MNT) itself) and prints the time until the
 *       device's flock is free and until PID has exited:
 *         unmount_idle_ms=X unmount_idle_exit_ms=Y how=term|umount|umount2
 *   drain-bench held DEVICE MNT PID open|map
 *       Creates MNT/drain-bench.dat (1 MiB, written and fsync'd), keeps it
 *       open (map: also maps it with pgdax_map and closes the descriptor,
 *       so the mapping is the last reference), sends SIGTERM, waits 300 ms,
 *       checks the daemon is still serving the reference, then drops the
 *       last reference (close or pgdax_unmap) and prints the time from that
 *       drop to the device's flock being free and to PID's exit:
 *         release_after_last_ref_ms=X release_after_last_ref_exit_ms=Y ref=open|map
 *
 * "Device released" is observed without polling: a thread blocks in
 * flock(LOCK_EX) on the device file (the daemon holds LOCK_EX while it runs,
 * see lib/dev/dev_lock.c) and the main thread poll()s a pidfd for the exit.
 * The figure is the earlier of the two (the exit releases the flock too);
 * the *_exit_ms figure is the exit alone.
 * Exit status: 0 with figures, 1 when the daemon did not release within
 * 10 s (the figure line then says timeout), 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "client/pgdax.h"

static const char *prog = "drain-bench";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct lockwait {
	const char *dev;
	double freed_ms;	/* written by the thread before it exits */
	int err;
};

static void *lock_thread(void *arg)
{
	struct lockwait *lw = arg;
	int fd = open(lw->dev, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		lw->err = errno;
		return NULL;
	}
	if (flock(fd, LOCK_EX) < 0)
		lw->err = errno;
	lw->freed_ms = now_ms();
	flock(fd, LOCK_UN);
	close(fd);
	return NULL;
}

/* Wait up to timeout_ms for pid to exit; returns the time it did, or -1. */
static double wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);

	return r == 1 ? now_ms() : -1;
}

static int run_umount(const char *mnt)
{
	pid_t c = fork();
	int st;

	if (c == 0) {
		execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: %s idle DEVICE MNT PID term|umount|umount2\n"
		"       %s held DEVICE MNT PID open|map\n", prog, prog);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		usage();
		return 2;
	}
	const char *mode = argv[1], *dev = argv[2], *mnt = argv[3], *how = argv[5];
	pid_t pid = (pid_t)atoi(argv[4]);
	int held = !strcmp(mode, "held");

	if ((!held && strcmp(mode, "idle")) || pid <= 0 ||
	    (held && strcmp(how, "open") && strcmp(how, "map")) ||
	    (!held && strcmp(how, "term") && strcmp(how, "umount") && strcmp(how, "umount2"))) {
		usage();
		return 2;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0) {
		fprintf(stderr, "%s: pidfd_open %d: %s\n", prog, (int)pid, strerror(errno));
		return 2;
	}

	int fd = -1;
	struct pgdax_mapping *m = NULL;

	if (held) {
		char path[4096];
		static char buf[1 << 20];

		snprintf(path, sizeof(path), "%s/drain-bench.dat", mnt);
		fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
		if (fd < 0) {
			fprintf(stderr, "%s: create %s: %s\n", prog, path, strerror(errno));
			return 2;
		}
		memset(buf, 0xa5, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) < 0) {
			fprintf(stderr, "%s: write %s: %s\n", prog, path, strerror(errno));
			return 2;
		}
		if (!strcmp(how, "map")) {
			int r = pgdax_map(fd, 0, sizeof(buf), PROT_READ | PROT_WRITE, &m);

			if (r < 0) {
				fprintf(stderr, "%s: pgdax_map %s: %s\n", prog, path, strerror(-r));
				return 2;
			}
			/* The mapping now holds the only references (its own fd dup + pins). */
			close(fd);
			fd = -1;
			volatile unsigned char *p = pgdax_mapping_addr(m);

			if (p[0] != 0xa5) {
				fprintf(stderr, "%s: mapping reads %#x, wrote 0xa5\n", prog, p[0]);
				return 2;
			}
		}
	}

	struct lockwait lw = { .dev = dev, .freed_ms = -1 };
	pthread_t th;

	if (pthread_create(&th, NULL, lock_thread, &lw)) {
		fprintf(stderr, "%s: pthread_create failed\n", prog);
		return 2;
	}
	/* Let the thread reach flock() before the clock starts. */
	usleep(50000);

	double t0 = now_ms();

	if (!held && !strcmp(how, "umount")) {
		if (run_umount(mnt) < 0) {
			fprintf(stderr, "%s: fusermount3 -u %s failed\n", prog, mnt);
			return 2;
		}
	} else if (!held && !strcmp(how, "umount2")) {
		/* what umount(8) does as root, without starting a program */
		if (umount2(mnt, 0) < 0) {
			fprintf(stderr, "%s: umount2 %s: %s\n", prog, mnt, strerror(errno));
			return 2;
		}
	} else if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "%s: kill %d: %s\n", prog, (int)pid, strerror(errno));
		return 2;
	}

	if (held) {
		/* The daemon must keep serving the reference while it drains. */
		if (wait_exit(pidfd, 300) >= 0) {
			printf("release_after_last_ref_ms=early ref=%s (daemon exited while a "
			       "reference was held)\n", how);
			return 1;
		}
		t0 = now_ms();
		if (m) {
			int r = pgdax_unmap(&m);

			if (r < 0)
				fprintf(stderr, "%s: pgdax_unmap: %s\n", prog, strerror(-r));
		} else {
			close(fd);
		}
	}

	double texit = wait_exit(pidfd, 10000);

	if (texit < 0) {
		printf("%s=timeout (daemon %d still running after 10 s)\n",
		       held ? "release_after_last_ref_ms" : "unmount_idle_ms", (int)pid);
		return 1;
	}
	pthread_join(th, NULL);
	if (lw.err)
		fprintf(stderr, "%s: flock %s: %s\n", prog, dev, strerror(lw.err));
	/*
	 * The device is free at whichever we saw first: the flock granted to
	 * our thread, or the exit (which closes the daemon's descriptor). On a
	 * loaded machine the woken thread may run late, so take the minimum.
	 */
	double tfree = lw.freed_ms >= 0 && lw.freed_ms < texit ? lw.freed_ms : texit;

	if (held)
		printf("release_after_last_ref_ms=%.2f release_after_last_ref_exit_ms=%.2f ref=%s\n",
		       tfree - t0, texit - t0, how);
	else
		printf("unmount_idle_ms=%.2f unmount_idle_exit_ms=%.2f how=%s\n",
		       tfree - t0, texit - t0, how);
	return 0;
}
