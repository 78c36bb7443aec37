/* SPDX-License-Identifier: MIT */
/*
 * The session loop: a few receiving threads that serve requests inline,
 * and a small worker pool for the requests that may wait for another
 * request.
 *
 * Why not libfuse's multi-threaded loop: it parks every idle worker in
 * read(/dev/fuse) and the kernel wakes them in turn, so consecutive
 * requests land on different, cold threads and libfuse starts and stops
 * workers as they come and go (/tmp/perf-findings.md, F2). pgdaxfs
 * requests are short (an in-memory lookup and a copy to or from device
 * memory), so a thread that reads a request and serves it at once is the
 * fast path. More than one receiver (default: one per CPU, at least 2):
 * with a single one, any preemption of it stops all service, and a 1 MiB
 * copy (done by the kernel in the receiver's read/writev) serializes
 * concurrent streams; measured on 2 vCPUs under load, 1 receiver gave 20k
 * 4k-reads/s, 2-3 gave 45-54k/s (libfuse MT 46k/s), and 197k/s vs 110k/s
 * with two fio jobs.
 *
 * Why not serve everything inline: a few requests wait for other requests.
 * A truncate or punch-hole waits (up to break_timeout, or forever) for
 * pinned extents to go idle, which takes the client's UNPIN or RELEASE; a
 * pin may wait briefly for in-flight I/O; the SYNC ioctl's page
 * invalidation may wait for WRITEs of dirty mmap pages.
 *
 * So:
 *  - A receiver reads each request into its own buffer and looks at the
 *    raw header (fs/reqclass.c) before libfuse parses it. A request that
 *    may wait (SETATTR with a size, OPEN with O_TRUNC, FALLOCATE, the PIN
 *    and SYNC ioctls) is handed, buffer and all, to the pool, and the
 *    receiver goes on with a fresh buffer. The worker calls
 *    fuse_session_process_buf() itself, so the handler runs there,
 *    unchanged, and replies exactly once from that thread (libfuse replies
 *    may come from any thread). Nothing the request points to needs
 *    copying: the worker owns the buffer.
 *  - Every other request (GETATTR, LOOKUP, READ, WRITE, RELEASE, FORGET,
 *    INTERRUPT, UNPIN, ...) is served by the receiver that read it, always,
 *    however many requests wait in the pool.
 *  - The pool has two lanes (struct lane), each bounded by max_threads with
 *    a FIFO queue beyond it: one for requests that may wait until a client
 *    acts (truncate, punch-hole, O_TRUNC open: the holder's UNPIN or
 *    RELEASE), one for requests whose waits end without any client acting
 *    (PIN, SYNC) and for deferred calls. A client may need a request of the
 *    second kind served before it can act (pgdax_unmap syncs, then
 *    unpins): in one queue, behind the waiters, it would never run.
 *
 * Why no request that ends a wait can be stuck (the UNPIN or RELEASE a
 * truncate waits for, the WRITE a SYNC waits for, the INTERRUPT that ends
 * a wait): it is served inline, so it only needs a receiver that reads,
 * and a receiver is never blocked for long. An inline request never waits
 * for another request: it only takes locks that are held for short
 * critical sections, because nothing that waits for another request holds
 * a lock while it waits: a layout break drops the inode lock while it
 * sleeps and retakes it to check again (lib/vol/data.c wait_range); the
 * SYNC invalidation runs holding no lock; a relayout holds the inode lock
 * only while waiting, briefly and boundedly, for I/O copies already in
 * flight (lib/vol/layout.c). Work an inline request would otherwise do
 * after its reply that can wait for another request (UNPIN's page
 * invalidation) is deferred to the pool (fs_loop_defer). So every
 * receiver returns to reading after each request, and one reading
 * receiver is all progress needs: the parked ones ("Waiting for requests"
 * below) only add parallelism. A request a client sends before it can end
 * a wait (its SYNC) is in the brief lane, whose jobs all end on their own.
 * So a full lane delays only the next requests of that lane, never the
 * requests that end the waits (nor anything else).
 * Each lane grows on demand up to max_threads and keeps at most
 * max_idle_threads idle workers. Splice is off (fs_init): a spliced request
 * lives in the receiving thread's pipe and could not be handed over.
 *
 * With FUSE-over-io_uring (libfuse >= 3.18, -o io_uring where the kernel
 * offers it: fs_want_uring) requests arrive on libfuse's
 * per-CPU ring threads instead of the receivers; the same guarantee holds
 * there, the requests that may wait handing themselves to the same lanes
 * ("io_uring" below).
 *
 * Lock order: pool.lock is a leaf (nothing else is taken under it).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "util/log.h"
#include "loop.h"

struct job {
	struct fuse_buf buf;		/* mem is se->bufsize bytes (libfuse allocates) */
	void (*fn)(void *arg);		/* a deferred call (fs_loop_defer) or a
					 * handed-off request, not a raw one */
	void *arg;
	struct job *next;
	/* a request handed off by a ring thread (fs_loop_handoff) */
	fuse_req_t req;			/* NULL otherwise */
	uint64_t unique;		/* its id, which an INTERRUPT names */
	atomic_bool interrupted;	/* an INTERRUPT for it has come */
	struct job *hnext, *hprev;	/* pool.handed; pool.lock */
};

/* Recent INTERRUPTs that named no handed-off request (yet): FS_EARLY_INTR. */
#define FS_EARLY_INTR	16

struct pool;

/*
 * The pool's two lanes, each a FIFO queue with its own workers (up to
 * max_threads each), so that waits of one kind never hold up the other:
 *   LANE_BREAK: requests that may wait until a client acts (a truncate
 *     waits for the holder's UNPIN or RELEASE, for up to break_timeout or
 *     forever);
 *   LANE_BRIEF: requests whose waits end without any client acting (a pin
 *     waiting for I/O in flight, the SYNC ioctl's invalidation waiting for
 *     WRITEs that receivers serve), and deferred calls (fs_loop_defer).
 * Why two: a client may have to get a LANE_BRIEF request served before it
 * can end a LANE_BREAK wait (pgdax_unmap of a writable mapping syncs, then
 * unpins), so a SYNC queued behind truncates waiting for that unpin would
 * wait for a worker that waits for it.
 */
enum lane_id { LANE_BREAK, LANE_BRIEF, NLANES };

struct lane {
	struct pool *p;			/* const */
	pthread_cond_t work;		/* queued or stopping; pool.lock */
	struct job *head, *tail;	/* queue; pool.lock */
	unsigned nqueued;		/* pool.lock */
	unsigned nthreads, nidle;	/* pool.lock */
};

/* One receiving thread (fs_loop_run runs opts.receivers of them). */
struct receiver {
	struct pool *p;
	struct fuse_session *se;
	pthread_t thread;
	int res;
};

struct pool {
	struct fs *fs;
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t gone;		/* a worker exited; lock */
	struct lane lanes[NLANES];
	struct job *spare;		/* recycled buffers; lock */
	unsigned nspare;		/* lock */
	unsigned max_threads, max_idle;	/* per lane */
	bool stop;			/* lock */
	/* io_uring (see "io_uring" below) */
	struct job handed;		/* list head: handed-off requests; lock */
	uint64_t early[FS_EARLY_INTR];	/* unmatched INTERRUPT ids, 0 free; lock */
	unsigned early_next;		/* lock */
	pthread_t main_thread;		/* receiver 0 */

	/* Receivers (see "Waiting for requests" below) */
	int fd;				/* /dev/fuse, O_NONBLOCK */
	atomic_long spin_ns;		/* -o spin: busy-wait this long, 0 never */
	atomic_uint waiting;		/* receivers waiting for a request */
	atomic_bool spinner;		/* one of them is spinning */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;	/* unpark one, or stopping; park_lock */
	bool rstop;			/* park_lock */
	atomic_uint backlog_hist;	/* bit per request taken: others were queued */
	atomic_long last_backlog;	/* now_ns() when a backlog was last seen */
	atomic_bool concurrent;		/* mode; switched under park_lock */
	atomic_uint serving;		/* receivers serving a request */
	struct receiver *receivers;	/* fs_loop_run's array; park_lock */
	unsigned nreceivers;		/* started ones; park_lock */
};

#define BACKLOG_HOLD_NS		(2 * 1000 * 1000L)

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->buf.mem);
	free(j);
}

/* A buffer for the next request: a recycled one, or a new empty one
 * (fuse_session_receive_buf allocates mem on first use). */
static struct job *job_get(struct pool *p)
{
	struct job *j;

	pthread_mutex_lock(&p->lock);
	j = p->spare;
	if (j) {
		p->spare = j->next;
		p->nspare--;
	}
	pthread_mutex_unlock(&p->lock);
	if (!j)
		j = calloc(1, sizeof(*j));
	if (j) {
		j->next = NULL;
		j->fn = NULL;
		j->arg = NULL;
		j->req = NULL;
		j->unique = 0;
		atomic_init(&j->interrupted, false);
		j->hnext = j->hprev = NULL;
	}
	return j;
}

/* Keep a few buffers (each ~1 MiB) for reuse; free the rest. */
static void job_put_locked(struct pool *p, struct job *j)
{
	if (p->nspare < p->max_idle + 2) {
		j->next = p->spare;
		p->spare = j;
		p->nspare++;
	} else {
		free(j->buf.mem);
		free(j);
	}
}

/* The handed-off request this worker runs (fs_loop_req_interrupted). */
static __thread struct job *cur_job;


static void *worker(void *arg)
{
	struct lane *l = arg;
	struct pool *p = l->p;
	struct job *j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!l->head && !p->stop) {
			l->nidle++;
			pthread_cond_wait(&l->work, &p->lock);
			l->nidle--;
		}
		if (!l->head)
			break;	/* stopping and nothing left */
		j = l->head;
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->nqueued--;
		pthread_mutex_unlock(&p->lock);

		if (j->fn) {
			cur_job = j;
			j->fn(j->arg);
			cur_job = NULL;
		} else {
			fuse_session_process_buf(p->se, &j->buf);
		}

		pthread_mutex_lock(&p->lock);
		if (j->req) {	/* replied: no INTERRUPT can name it now */
			j->hprev->hnext = j->hnext;
			j->hnext->hprev = j->hprev;
		}
		job_put_locked(p, j);
		/* over io_uring a worker may have replied on a ring: it stays
		 * ("Threads that answer over a ring" below) */
		if (!l->head && l->nidle >= p->max_idle && !atomic_load(&p->fs->uring))
			break;	/* enough idle workers already */
	}
	l->nthreads--;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Queue @j for a worker of lane @id, starting one if none is free.
 * -EAGAIN if the lane has no worker at all and none can be started (the
 * caller serves it). */
static int submit(struct pool *p, enum lane_id id, struct job *j)
{
	struct lane *l = &p->lanes[id];
	pthread_attr_t attr;
	pthread_t t;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (l->nqueued + 1 > l->nidle && l->nthreads < p->max_threads) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, worker, l) == 0)
			l->nthreads++;
		else if (l->nthreads == 0)
			r = -EAGAIN;
		pthread_attr_destroy(&attr);
	}
	if (r == 0) {
		j->next = NULL;
		if (l->tail)
			l->tail->next = j;
		else
			l->head = j;
		l->tail = j;
		l->nqueued++;
		pthread_cond_signal(&l->work);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* Let the workers finish what is queued and running, then wait for them. */
static void pool_stop(struct pool *p)
{
	struct job *j;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	for (int i = 0; i < NLANES; i++)
		pthread_cond_broadcast(&p->lanes[i].work);
	while (p->lanes[LANE_BREAK].nthreads || p->lanes[LANE_BRIEF].nthreads)
		pthread_cond_wait(&p->gone, &p->lock);
	while ((j = p->spare)) {
		p->spare = j->next;
		job_free(j);
	}
	p->nspare = 0;
	pthread_mutex_unlock(&p->lock);
}

int fs_loop_defer(struct fs *fs, void (*fn)(void *arg), void *arg)
{
	struct pool *p = fs->loop;
	struct job *j;

	if (!p) {
		fn(arg);	/* libfuse's loop (-o mt): its threads are the pool */
		return 0;
	}
	j = job_get(p);
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	if (submit(p, LANE_BRIEF, j) == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	job_put_locked(p, j);
	pthread_mutex_unlock(&p->lock);
	return -EAGAIN;
}

/*
 * io_uring (-o io_uring where the kernel offers it: fs_want_uring, fs_init;
 * not the default, README Limits says why).
 *
 * After INIT, the kernel sends requests over per-CPU rings, each served by
 * a libfuse thread (fuse-ring-N) that calls the handler inline; only
 * FORGETs and INTERRUPTs still come through /dev/fuse, where the receivers
 * above still read (without spinning). The guarantee at the top of this
 * file carries over with one change: a ring thread cannot hand a raw
 * request to the pool before libfuse parses it, so the handlers of the
 * requests that may wait (fs/handoff.c: SETATTR with a size, OPEN with
 * O_TRUNC, FALLOCATE, the PIN and SYNC ioctls: the same classes as
 * fs/reqclass.c) hand themselves off instead, arguments copied, to the
 * same lanes: a truncate or punch-hole to LANE_BREAK, a PIN or SYNC to
 * LANE_BRIEF. The worker runs the handler, which replies from there
 * (libfuse takes the ring's lock for a reply from another thread). Every
 * other request, the UNPIN, RELEASE and WRITE that end the waits among
 * them, is served inline by its ring thread, which never waits for another
 * request; so every ring goes on being served while workers wait.
 *
 * One limit /dev/fuse does not have: a request stays in its ring entry
 * until it is answered, so requests waiting in the pool hold entries of
 * the queue of the CPU they were issued on, and a queue whose entries are
 * all held serves nothing more. fs/main.c asks for 2 * max_threads + 16
 * entries per queue (both lanes full, and room for the rest): a CPU whose
 * callers have more requests waiting than that at once stalls its queue
 * until one ends (break_timeout, or an interrupt: INTERRUPTs come through
 * /dev/fuse). An entry's buffers are mapped, not touched, until used.
 *
 * Threads that answer over a ring. libfuse submits a reply from a thread
 * that is not the ring's (a worker answering a handed-off request) from
 * that thread: its COMMIT_AND_FETCH both answers and gives the entry back
 * for the next request, and io_uring ties a command to the thread that
 * submitted it. When that thread exits, the kernel cancels its commands:
 * an idle entry is dropped (-ENOTCONN, which libfuse takes for an unmount
 * and never resubmits), and a request the kernel has just put in the entry
 * is lost (-ECANCELED: the client gets it, and libfuse ends the session).
 * So while the session is served over io_uring no worker is trimmed as
 * idle (max_idle_threads): it waits for work until the pool stops, after
 * the session ended. Every worker, not only those that ran a handed-off
 * request: a deferred job may answer a ring request too (the reply to an
 * O_DIRECT write that first invalidates the page cache, fs/ops.c
 * direct_done), and a rule that needs each job to say whether it replied
 * loses requests the first time one forgets (it did: fio's AIO direct
 * writes failed with ECANCELED and mmap writeback was lost). (Before,
 * every burst of handed-off requests cost its queue entries as the extra
 * workers exited, and a SIGTERM drain waited for RELEASEs lost that way.)
 * The lanes' max_threads still bound them; only the ring threads and the
 * workers ever submit to a ring.
 *
 * Interrupts: the kernel still sends FUSE_INTERRUPT through /dev/fuse for
 * a request that arrived over a ring, and libfuse 3.18 does not match the
 * two ("no support for interrupts with io-uring"): fuse_req_interrupted()
 * stays false. A receiver therefore looks at each INTERRUPT itself and marks
 * the handed-off request it names (only those wait: a request served
 * inline ends on its own), found by its unique id (fuse_req_unique(), which
 * the libfuse build of tools/install-libfuse318.sh adds); the wait polls
 * fs_loop_req_interrupted(). An INTERRUPT can arrive before its request is
 * handed off (the ring thread has not run the handler yet): its id is kept
 * among the last FS_EARLY_INTR unmatched ones, which a handoff checks. Ids
 * only grow, so a stale one never matches.
 */
#ifdef PGDAX_HAVE_FUSE_URING
static bool req_is_uring(fuse_req_t req)
{
	return fuse_req_is_uring(req);
}
#else
static bool req_is_uring(fuse_req_t req)
{
	(void)req;
	return false;
}
#endif

#ifdef PGDAX_HAVE_FUSE_REQ_UNIQUE
static uint64_t req_unique(fuse_req_t req)
{
	return fuse_req_unique(req);
}
#else
static uint64_t req_unique(fuse_req_t req)
{
	(void)req;
	return 0;	/* never matches: interrupts are lost (fs_init warns) */
}
#endif

static void interrupt(struct pool *p, uint64_t unique)
{
	struct job *j;

	pthread_mutex_lock(&p->lock);
	for (j = p->handed.hnext; j != &p->handed; j = j->hnext)
		if (j->unique == unique)
			break;
	if (j != &p->handed) {
		atomic_store(&j->interrupted, true);
	} else {
		p->early[p->early_next] = unique;
		p->early_next = (p->early_next + 1) % FS_EARLY_INTR;
	}
	pthread_mutex_unlock(&p->lock);
}

int fs_loop_handoff(fuse_req_t req, enum fs_req_class c, void (*fn)(void *arg), void *arg)
{
	struct pool *p = fs_of(req)->loop;
	struct job *j;
	int r;

	if (!p || cur_job || c == FS_REQ_FAST || !req_is_uring(req))
		return -EAGAIN;
	j = job_get(p);
	if (!j)
		return -EAGAIN;
	j->fn = fn;
	j->arg = arg;
	j->req = req;
	j->unique = req_unique(req);
	pthread_mutex_lock(&p->lock);
	if (p->stop) {
		r = -EAGAIN;
	} else {
		for (unsigned i = 0; i < FS_EARLY_INTR; i++)
			if (j->unique && p->early[i] == j->unique) {
				atomic_store(&j->interrupted, true);
				p->early[i] = 0;
			}
		j->hnext = &p->handed;
		j->hprev = p->handed.hprev;
		p->handed.hprev->hnext = j;
		p->handed.hprev = j;
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	if (r == 0)
		r = submit(p, c == FS_REQ_MAY_WAIT ? LANE_BREAK : LANE_BRIEF, j);
	if (r < 0) {
		pthread_mutex_lock(&p->lock);
		if (j->hnext) {
			j->hprev->hnext = j->hnext;
			j->hnext->hprev = j->hprev;
		}
		job_put_locked(p, j);
		pthread_mutex_unlock(&p->lock);
	}
	return r;
}

bool fs_loop_req_interrupted(fuse_req_t req)
{
	return cur_job && cur_job->req == req && atomic_load(&cur_job->interrupted);
}

static int loop_mt(struct fs *fs)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_idle_threads(cfg, fs->opts.max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, fs->opts.max_threads);
	r = fuse_session_loop_mt(fs->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

/*
 * Waiting for requests: two modes, switched by what the load looks like.
 *
 * A FUSE round trip is dominated by waking threads: the kernel wakes the
 * daemon thread asleep in read(/dev/fuse), then the caller asleep in its
 * syscall; on this 2-vCPU VM each wake-up costs several microseconds.
 *
 * Sequential mode (one caller at a time: create, stat, 4k O_DIRECT reads
 * by one thread): /dev/fuse is O_NONBLOCK, and the receiver that has just
 * served a request keeps reading without sleeping for up to spin_ns before
 * it sleeps in poll(2), so the caller's next request finds a thread
 * already running. The other receivers park on park_cond: a thread asleep
 * in the kernel's queue would be woken by every request for nothing, and
 * a second spinner would take the CPU the caller needs. Measured with
 * 20,000 creates: 12.5k/s sleeping in read, 17-19k/s this way.
 *
 * Concurrent mode (requests queue behind the one being served: several
 * callers, queue depth, or a long 1 MiB copy): /dev/fuse is blocking and
 * every receiver sleeps in read(), where the kernel wakes exactly one per
 * request, and serves in parallel; no spinning (the callers need the CPUs).
 *
 * The receiver that takes a request leaving nobody waiting checks the
 * queue (poll with no timeout). Requests queued behind 2 of the last 4
 * synchronous requests taken, or a long request, switch to concurrent
 * mode. Requests whose sender does not wait (RELEASE, FORGET) do not
 * count: the RELEASE after each create is followed at once by the next
 * LOOKUP of the same caller. BACKLOG_HOLD_NS after the last queue seen, the next
 * receiver done with a request switches back, and interrupts the others
 * asleep in read() (SIGUSR1: they park). The main thread (receiver 0)
 * never parks: the signal thread wakes it with SIGUSR1.
 *
 * Why parking keeps the guarantee that a waiting request's UNPIN or
 * RELEASE is read: a receiver parks only while another one is waiting for
 * a request, and no request a receiver serves waits for another request
 * (the top of this file), so that one is back to reading after each
 * request; a parked receiver is woken only by a switch to concurrent mode
 * or the end of the session, and is never needed for progress.
 * Concurrent mode parks nobody.
 */
static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* A short pause in a spin loop (frees the core's resources to its sibling). */
static void cpu_relax(void)
{
	for (int i = 0; i < 32; i++) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ __volatile__("yield");
#else
		__asm__ __volatile__("" ::: "memory");
#endif
	}
}

static int set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

/* Read the next request into @buf. Same returns as
 * fuse_session_receive_buf (-EINTR: woken by a signal). */
static int wait_request(struct pool *p, struct fuse_buf *buf)
{
	bool spin = false;
	long deadline = 0;
	int res;

	long spin_ns = atomic_load(&p->spin_ns);

	if (spin_ns > 0 && !atomic_load(&p->concurrent) &&
	    !atomic_exchange(&p->spinner, true)) {
		spin = true;
		deadline = now_ns() + spin_ns;
	}
	for (;;) {
		/* blocks in concurrent mode, -EAGAIN at once in sequential */
		res = fuse_session_receive_buf(p->se, buf);
		if (res != -EAGAIN)
			break;
		if (fuse_session_exited(p->se)) {
			res = 0;
			break;
		}
		if (spin && now_ns() < deadline) {
			cpu_relax();
			continue;
		}
		if (spin) {
			atomic_store(&p->spinner, false);
			spin = false;
		}
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
			res = -EINTR;
			break;
		}
	}
	if (spin)
		atomic_store(&p->spinner, false);
	return res;
}

static bool request_pending(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* A large data request keeps its receiver busy for a while (the copy). */
static bool request_is_long(const struct fuse_buf *buf)
{
	return buf->size > (64u << 10);
}

/* Called by a receiver that took a request (@busy: receivers serving one
 * now, this one included). */
static void note_request(struct pool *p, const struct fuse_buf *buf, unsigned busy)
{
	bool pending;
	unsigned hist;

	if (atomic_load(&p->concurrent)) {
		/* still concurrent while requests are served side by side */
		if (busy >= 2 || request_is_long(buf))
			atomic_store(&p->last_backlog, now_ns());
		return;
	}
	if (atomic_load(&p->waiting) > 0)
		return;		/* another receiver is there for the next one */
	if (fs_req_is_async(buf->mem, buf->size) && !request_is_long(buf))
		return;		/* its sender went on: what follows is no crowd */
	pending = request_pending(p->fd);

	/* the last 4 synchronous requests taken: 2 found others queued */
	hist = (atomic_load(&p->backlog_hist) << 1 | pending) & 0xf;
	atomic_store(&p->backlog_hist, hist);
	if (__builtin_popcount(hist) < 2 && !request_is_long(buf))
		return;
	atomic_store(&p->last_backlog, now_ns());
	pthread_mutex_lock(&p->park_lock);
	if (!atomic_load(&p->concurrent) && set_nonblock(p->fd, false) == 0) {
		atomic_store(&p->concurrent, true);
		pthread_cond_broadcast(&p->park_cond);
	}
	pthread_mutex_unlock(&p->park_lock);
}

/* Called by a receiver done with a request: back to sequential mode once
 * no queue has been seen for BACKLOG_HOLD_NS. */
static void maybe_sequential(struct pool *p)
{
	if (!atomic_load(&p->concurrent) ||
	    now_ns() - atomic_load(&p->last_backlog) <= BACKLOG_HOLD_NS)
		return;
	pthread_mutex_lock(&p->park_lock);
	/* not once stopping: fs_loop_run joins the receivers after
	 * unpark_all, and a joined thread must not be signalled */
	if (atomic_load(&p->concurrent) && !p->rstop && set_nonblock(p->fd, true) == 0) {
		atomic_store(&p->concurrent, false);
		/* those asleep in read() would stay there until a request
		 * comes: interrupt them (the others ignore the signal) */
		for (unsigned i = 0; i < p->nreceivers; i++)
			if (!pthread_equal(p->receivers[i].thread, pthread_self()))
				pthread_kill(p->receivers[i].thread, SIGUSR1);
	}
	pthread_mutex_unlock(&p->park_lock);
}

/* Park until concurrent mode or stopping (sequential mode only). */
static void park(struct pool *p)
{
	pthread_mutex_lock(&p->park_lock);
	while (!atomic_load(&p->concurrent) && !p->rstop && !fuse_session_exited(p->se) &&
	       atomic_load(&p->waiting) > 0)
		pthread_cond_wait(&p->park_cond, &p->park_lock);
	pthread_mutex_unlock(&p->park_lock);
}

static void unpark_all(struct pool *p)
{
	pthread_mutex_lock(&p->park_lock);
	p->rstop = true;
	pthread_cond_broadcast(&p->park_cond);
	pthread_mutex_unlock(&p->park_lock);
}


static void *receive(void *arg)
{
	struct receiver *rc = arg;
	struct pool *p = rc->p;
	struct job *j = job_get(p);
	int res = 0;

	bool main_thread = pthread_equal(pthread_self(), p->main_thread);
	bool serving = false;

	while (j && !fuse_session_exited(rc->se)) {
		enum fs_req_class c;

		if (serving) {
			atomic_fetch_sub(&p->serving, 1);
			serving = false;
		}

		/* after a request: let the receiver already waiting take the
		 * next one (see "Waiting for requests") */
		maybe_sequential(p);
		if (!main_thread && !atomic_load(&p->concurrent) &&
		    atomic_load(&p->waiting) > 0) {
			park(p);
			if (fuse_session_exited(rc->se))
				break;
		}
		atomic_fetch_add(&p->waiting, 1);
		res = wait_request(p, &j->buf);
		atomic_fetch_sub(&p->waiting, 1);
		if (res == -EINTR)
			continue;	/* a wake-up (SIGUSR1): re-check exited */
		if (res <= 0)
			break;		/* 0: exited or the connection is gone */
		serving = true;
		note_request(p, &j->buf, atomic_fetch_add(&p->serving, 1) + 1);
		c = fs_req_classify(j->buf.mem, j->buf.size);
		if (fs_req_is_init(j->buf.mem, j->buf.size)) {
			/* the reply is written (and applied by the kernel)
			 * when process_buf returns */
			fuse_session_process_buf(rc->se, &j->buf);
			fs_initialized(p->fs);
			/* requests come over the rings now: only FORGETs
			 * and INTERRUPTs are left here, nothing to spin for */
			if (atomic_load(&p->fs->uring))
				atomic_store(&p->spin_ns, 0);
			continue;
		}
		uint64_t target;

		/* (and libfuse still gets it: it may name a request that came
		 * through /dev/fuse, before the rings were up or if libfuse
		 * could not start them) */
		if (atomic_load(&p->fs->uring) &&
		    fs_req_interrupt_target(j->buf.mem, j->buf.size, &target))
			interrupt(p, target);
		/* (no worker at all and none can be started: serve it here,
		 * as a plain single-threaded loop would) */
		if (c != FS_REQ_FAST &&
		    submit(p, c == FS_REQ_MAY_WAIT ? LANE_BREAK : LANE_BRIEF, j) == 0) {
			j = job_get(p);
			continue;
		}
		fuse_session_process_buf(rc->se, &j->buf);
	}
	if (!j) {
		pgdax_err("out of memory for a request buffer: stopping the session");
		res = -ENOMEM;
	}
	job_free(j);
	/* whichever receiver stops first stops the session for all; the
	 * first receiver (the main thread) wakes the others when it returns,
	 * and is woken here if another one stopped first (an error) */
	fuse_session_exit(rc->se);
	unpark_all(p);
	if (!main_thread)
		pthread_kill(p->main_thread, SIGUSR1);
	rc->res = res < 0 ? res : 0;
	return NULL;
}

int fs_loop_run(struct fs *fs)
{
	struct pool p = {
		.fs = fs,
		.se = fs->se,
		.max_threads = fs->opts.max_threads,
		.max_idle = fs->opts.max_idle_threads,
		.main_thread = pthread_self(),
	};
	struct receiver rc[FS_MAX_RECEIVERS];
	unsigned n = fs->opts.receivers, started = 1;
	int res;

	if (fs->opts.mt_loop)
		return loop_mt(fs);
	if (n < 1 || n > FS_MAX_RECEIVERS)
		n = 1;
	pthread_mutex_init(&p.lock, NULL);
	for (int i = 0; i < NLANES; i++) {
		p.lanes[i].p = &p;
		pthread_cond_init(&p.lanes[i].work, NULL);
	}
	pthread_cond_init(&p.gone, NULL);
	pthread_mutex_init(&p.park_lock, NULL);
	pthread_cond_init(&p.park_cond, NULL);
	atomic_init(&p.waiting, 0);
	atomic_init(&p.spinner, false);
	atomic_init(&p.backlog_hist, 0);
	atomic_init(&p.last_backlog, 0);
	atomic_init(&p.concurrent, false);
	atomic_init(&p.serving, 0);
	atomic_init(&p.spin_ns, (long)fs->opts.spin_us * 1000);
	p.handed.hnext = p.handed.hprev = &p.handed;
	p.fd = fuse_session_fd(fs->se);
	res = set_nonblock(p.fd, true);
	if (res < 0) {
		pgdax_err("cannot make /dev/fuse non-blocking: %s", strerror(-res));
		return res;
	}

	/* before any thread that serves requests (fs_loop_defer) */
	fs->loop = &p;

	/* The calling thread is receiver 0 (the signal thread wakes it with
	 * SIGUSR1); it wakes the others the same way when the session ends. */
	for (unsigned i = 0; i < n; i++)
		rc[i] = (struct receiver){ .p = &p, .se = fs->se, .thread = pthread_self() };
	/* under park_lock: a mode switch signals rc[i].thread */
	pthread_mutex_lock(&p.park_lock);
	p.receivers = rc;
	for (unsigned i = 1; i < n; i++) {
		if (pthread_create(&rc[i].thread, NULL, receive, &rc[i]) != 0) {
			pgdax_warn("cannot start receiving thread %u: serving with %u", i, started);
			break;
		}
		started++;
	}
	p.nreceivers = started;
	pthread_mutex_unlock(&p.park_lock);
	receive(&rc[0]);
	res = rc[0].res;
	unpark_all(&p);
	for (unsigned i = 1; i < started; i++) {
		/* it may be asleep in read(): interrupt it until it has seen
		 * the exit flag (the signal can land just before it sleeps) */
		for (;;) {
			struct timespec ts;

			pthread_kill(rc[i].thread, SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;	/* 1 ms, then signal again */
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(rc[i].thread, NULL, &ts) != ETIMEDOUT)
				break;
		}
		if (rc[i].res < 0 && res == 0)
			res = rc[i].res;
	}
	pool_stop(&p);		/* runs what is queued, deferred calls included */
	/* The rings' threads (libfuse starts them at INIT with -o io_uring)
	 * after the pool: a handed-off request replies over its ring. From
	 * pool_stop on, a ring thread serves what would be handed off itself
	 * (fs_loop_handoff refuses; a wait ends at once, the session having
	 * exited). Only libfuse's own loops stop the rings, and
	 * fuse_session_loop() on a session that has exited does just that
	 * (it reads nothing). */
	if (atomic_load(&fs->uring))
		fuse_session_loop(fs->se);
	fs->loop = NULL;
	pthread_cond_destroy(&p.park_cond);
	pthread_mutex_destroy(&p.park_lock);
	pthread_cond_destroy(&p.gone);
	for (int i = 0; i < NLANES; i++)
		pthread_cond_destroy(&p.lanes[i].work);
	pthread_mutex_destroy(&p.lock);
	return res;
}
