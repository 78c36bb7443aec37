/* SPDX-License-Identifier: MIT */
/*
 * Teardown: every way out goes through "block new, drain old" (DESIGN.md
 * section 4).
 *
 * SIGTERM/SIGINT/SIGHUP (pgdaxctl unmount sends SIGTERM) are taken by a
 * dedicated thread (sigwait), not libfuse's handlers (they end the loop at
 * once and lose queued RELEASEs). It runs two phases:
 *   phase 1, "block new" at the filesystem level (begin_close): fs.closing
 *     makes new opens, creates, namespace creations, opendir of anything
 *     but the root (pgdaxctl status opens it) and new pins fail with ENXIO,
 *     while I/O, RELEASE, unpin, getattr and readdir on existing handles
 *     are served normally; the thread sleeps on fs.idle_cond until the open
 *     handle count (files and directories, not status handles) reaches 0
 *     (wait_handles);
 *   phase 2, "drain old" at the pgmap level (begin_kill): only then
 *     pgdax_vol_kill() (from now on no new extent reference of any kind),
 *     pgdax_vol_drain() for requests still in flight (wait_drain), then the
 *     loop is ended.
 * Why two phases: old work (handles already open, pins held, I/O in
 * flight) is served until released, and after kill no new reference of any
 * kind appears (DESIGN.md section 3 rule 3). Every read or write takes a
 * new, transient extent reference, so if kill came first every I/O on a
 * file that is still open would fail with ENXIO, and a drain that only
 * counts extent references completes while files are open (their users
 * then get ENOTCONN). Open handles are the "old work" that can still create
 * references, so the filesystem blocks new handles first and kills the
 * pgmap only when the last one is gone; pins live on handles, so none is
 * left by then.
 *
 * Cancel, and the point of no return. Phase 1 changes nothing but
 * fs.closing: the pgmap stays live, no reference is dropped or refused
 * below the filesystem, so undoing it is clearing the flag
 * (fs_handles_cancel, PGDAX_IOC_DRAIN with PGDAX_DRAIN_CANCEL, which
 * `pgdaxctl unmount --cancel` sends, and `--timeout` when it gives up).
 * The point of no return is the moment fs_handles_wait_idle() sees, under
 * fs.lock, closing set and no handle left (or on_drain_timeout=exit
 * commits, or the connection is gone): it sets fs.committed under the
 * same lock that fs_handle_reserve() and fs_handles_cancel() take, so a
 * cancel either comes first (phase 1 returns 2 and the signal thread
 * waits for the next signal) or answers EBUSY. Only after it is the pgmap
 * killed. The pgmap itself is never resurrected (no percpu_ref_resurrect
 * analogue in lib/core): by then no handle is left, so no user waits for
 * the mount, the drain only waits for requests already in flight and
 * completes by itself; a resurrect would break invariants 6 and 7 (after
 * kill every request fails; the drained event fires exactly once) for no
 * one's benefit. The refcount protocol and its model are unchanged.
 *
 * When the loop ends for any reason (teardown done, or the kernel dropped
 * the connection: umount, or umount -l / fusermount -u -z and the last user
 * went, which also ends phase 1 at once), fs_teardown_finish() returns
 * every open handle and every lookup the kernel still held to the volume,
 * kills and drains the pgmap; main() then unmounts the session and
 * releases the volume (marked clean). Only then does the process exit, so
 * a umount helper that waits for the pid knows the device is free.
 *
 * Drain timeout: after drain_timeout seconds (default 60) of waiting in
 * either phase, the daemon logs who holds what (open handles with the pid
 * that opened them, pins, in-flight I/O) and then, per on_drain_timeout,
 * keeps waiting (wait, default: never release memory a client may still
 * map) or kills the pgmap and exits without releasing the device (exit:
 * the mount is detached, open files get ENOTCONN, the next mount recovers
 * as after a crash and quarantines extents clients still map; nothing
 * referenced is freed).
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "pin/pin.h"
#include "util/log.h"
#include "fs.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool loop_done;		/* lock */
	pthread_t main_thread;	/* runs the session loop */
	pthread_t thread;	/* the signal thread */
} td = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void wake_handler(int sig)
{
	(void)sig;	/* only interrupts the loop's sem_wait */
}

static bool loop_done(void)
{
	bool d;

	pthread_mutex_lock(&td.lock);
	d = td.loop_done;
	pthread_mutex_unlock(&td.lock);
	return d;
}

static void drain_report(struct fs *fs, int waited_s)
{
	struct pgdax_vol_stats s;

	uint64_t pins, pinned;

	pgdax_vol_get_stats(fs->vol, &s);
	pgdax_pintab_counters(fs->vol, &pins, &pinned);
	pgdax_notice("unmount of %s waiting %d s for references: %llu pins on %llu extents, "
		     "%llu I/O in flight, %llu active extents",
		     fs->opts.mountpoint, waited_s, (unsigned long long)pins,
		     (unsigned long long)pinned, (unsigned long long)s.inflight_io,
		     (unsigned long long)s.active_extents);
	fs_handles_report(fs);
}

/*
 * Phase 1: wait until every open handle has been released (the RELEASE
 * that takes the count to 0 signals fs.idle_cond; no polling), reporting
 * every drain_timeout seconds. Returns 0 when no handle is left (the point
 * of no return, see "Cancel" above), 1 when the session loop ended
 * meanwhile (the kernel dropped the connection: every handle counts as
 * released), 2 when the drain was cancelled (PGDAX_IOC_DRAIN: the mount
 * serves new opens again), -1 when on_drain_timeout=exit says give up.
 */
static int wait_handles(struct fs *fs)
{
	int waited_s = 0;

	for (;;) {
		int r = fs_handles_wait_idle(fs, 1000 * fs->opts.drain_timeout_s);

		if (r >= 0)
			return r;
		waited_s += fs->opts.drain_timeout_s;
		drain_report(fs, waited_s);
		if (fs->opts.drain_action == FS_DRAIN_EXIT) {
			if (!fs_handles_commit(fs))
				return 2;	/* cancelled just now */
			pgdax_err("drain timeout: exiting without releasing %s; "
				  "the next mount recovers it", fs->opts.device);
			return -1;
		}
	}
}

/*
 * Phase 2: wait for the pgmap drain (extent references of requests still in
 * flight), reporting every drain_timeout seconds. Returns 0 when drained, 1
 * when @stop_on_loop_end and the loop ended meanwhile (main() then finishes
 * the drain itself), -1 when the on_drain_timeout=exit policy says give up.
 */
static int wait_drain(struct fs *fs, bool stop_on_loop_end)
{
	int slice_ms = stop_on_loop_end ? 500 : 1000 * fs->opts.drain_timeout_s;
	int64_t waited_ms = 0, next_report = 1000LL * fs->opts.drain_timeout_s;

	for (;;) {
		if (pgdax_vol_drain(fs->vol, slice_ms) == 0)
			return 0;
		waited_ms += slice_ms;
		if (stop_on_loop_end && loop_done())
			return 1;
		if (waited_ms >= next_report) {
			drain_report(fs, (int)(waited_ms / 1000));
			next_report += 1000LL * fs->opts.drain_timeout_s;
			if (fs->opts.drain_action == FS_DRAIN_EXIT) {
				pgdax_err("drain timeout: exiting without releasing %s; "
					  "the next mount recovers it", fs->opts.device);
				return -1;
			}
		}
	}
}

/* Phase 1: block new opens and pins; old handles keep being served. */
static void begin_close(struct fs *fs, const char *why)
{
	if (fs_handles_close(fs, why))
		pgdax_notice("%s: unmounting %s, new opens fail with ENXIO; "
			     "open files are served until closed "
			     "('pgdaxctl unmount --cancel %s' serves new opens again)",
			     why, fs->opts.mountpoint, fs->opts.mountpoint);
}

/* Phase 2: no new extent reference of any kind (pgmap kill). */
static void begin_kill(struct fs *fs)
{
	fs_handles_close(fs, "session ended");
	if (!atomic_exchange(&fs->dying, true))
		pgdax_vol_kill(fs->vol);
}

/*
 * on_drain_timeout=exit: leave without releasing the device. The mount is
 * detached first so no dead mount ("Transport endpoint is not connected")
 * stays behind; the volume is not marked clean, so the next mount recovers
 * it as after a crash, and references a client may still hold are never
 * freed by this process.
 */
static void __attribute__((noreturn)) give_up(struct fs *fs)
{
	if (umount2(fs->opts.mountpoint, MNT_DETACH) < 0 && errno != EINVAL)
		pgdax_warn("detaching %s: %s", fs->opts.mountpoint, strerror(errno));
	fs_pidfile_remove();
	_exit(1);
}

static sigset_t stop_sigs;

/* "SIGTERM from pid 12 (pgdaxctl)", for the logs and pgdaxctl status. */
static void who_asked(const siginfo_t *si, char *buf, size_t len)
{
	const char *name = si->si_signo == SIGTERM ? "SIGTERM" :
			   si->si_signo == SIGINT ? "SIGINT" :
			   si->si_signo == SIGHUP ? "SIGHUP" : "signal";
	char p[64], comm[32] = "?";
	FILE *f;

	if (si->si_code != SI_USER && si->si_code != SI_QUEUE) {
		snprintf(buf, len, "%s", name);	/* from the kernel (tty) */
		return;
	}
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)si->si_pid);
	f = fopen(p, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf, len, "%s from pid %d (%s)", name, (int)si->si_pid, comm);
}

static void *signal_thread(void *arg)
{
	struct fs *fs = arg;
	char why[96];
	siginfo_t si;
	int r;

again:
	if (sigwaitinfo(&stop_sigs, &si) < 0)
		goto again;	/* EINTR */
	if (loop_done())
		return NULL;	/* main() woke us to quit */
	who_asked(&si, why, sizeof(why));
	begin_close(fs, why);
	r = wait_handles(fs);
	if (r == 1)
		return NULL;	/* the kernel ended the session: main() finishes */
	if (r == 2)
		goto again;	/* cancelled: serving, wait for the next signal */
	if (r < 0) {
		begin_kill(fs);
		give_up(fs);	/* on_drain_timeout=exit */
	}
	begin_kill(fs);
	r = wait_drain(fs, true);
	if (r == 1)
		return NULL;
	if (r < 0)
		give_up(fs);
	/* Drained: end the loop. The loop's main thread sleeps in read() (or
	 * sem_wait with -o mt); a signal interrupts it so it sees the exit
	 * flag (retry: the signal may land just before it sleeps). */
	fuse_session_exit(fs->se);
	pthread_mutex_lock(&td.lock);
	while (!td.loop_done) {
		struct timespec ts;

		pthread_kill(td.main_thread, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&td.cond, &td.lock, &ts);
	}
	pthread_mutex_unlock(&td.lock);
	return NULL;
}

int fs_signals_block(void)
{
	struct sigaction sa = { .sa_handler = wake_handler };

	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGHUP);
	/* blocked in every thread created from now on; the signal thread
	 * takes them with sigwait */
	if (pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL))
		return -1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)	/* no SA_RESTART: interrupts */
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Start the signal thread; from now on a stop signal begins phase 1. */
int fs_teardown_start(struct fs *fs)
{
	td.main_thread = pthread_self();
	return pthread_create(&td.thread, NULL, signal_thread, fs) ? -1 : 0;
}

/*
 * The session loop has ended (drained after a signal, or the kernel dropped
 * the connection): nothing more will come from the kernel, so every handle
 * and lookup it still held is released here, then the pgmap is killed and
 * drained. Returns only when drained (or exits, on_drain_timeout=exit).
 */
void fs_teardown_finish(struct fs *fs, int loop_result)
{
	uint64_t nfiles = 0, ninodes = 0;

	/* Phase 1 ends here too: no request can come any more, so every
	 * handle counts as released. */
	fs_handles_conn_gone(fs);
	pthread_mutex_lock(&td.lock);
	td.loop_done = true;
	pthread_cond_broadcast(&td.cond);
	pthread_mutex_unlock(&td.lock);
	pthread_kill(td.thread, SIGTERM);	/* wakes sigwait if nothing arrived */
	pthread_join(td.thread, NULL);

	if (!atomic_load(&fs->dying))
		pgdax_notice("%s: releasing %s",
			     loop_result < 0 ? "session error" : "session ended",
			     fs->opts.mountpoint);
	begin_kill(fs);
	fs_handles_drop_all(fs, &nfiles, &ninodes);
	if (nfiles || ninodes)
		pgdax_info("released %llu open files and %llu inodes the kernel still held",
			   (unsigned long long)nfiles, (unsigned long long)ninodes);
	if (wait_drain(fs, false) < 0)
		give_up(fs);
}
