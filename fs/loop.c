/* SPDX-License-Identifier: MIT */
/*
 * The session loop: one receiving thread that serves fast requests inline,
 * and a small worker pool for requests that may wait.
 *
 * Why not libfuse's multi-threaded loop: it parks every idle worker in
 * read(/dev/fuse) and the kernel wakes them in turn, so consecutive
 * requests land on different, cold threads and each one pays a wake-up and
 * a context switch. On a 2-vCPU machine that hand-off is the ceiling: a
 * filesystem that does nothing (nullfs) serves ~13k 4k reads/s with it and
 * ~41k on one thread (/tmp/perf-findings.md, F2). pgdaxfs requests are
 * short (an in-memory lookup and a copy to or from device memory), so one
 * thread that reads a request and serves it at once is the fast path.
 *
 * Why not one thread only: some requests wait for other requests. A
 * truncate or punch-hole waits (holding the inode lock, up to break_timeout
 * or forever) for pinned extents to go idle, which takes the client's
 * UNPIN or RELEASE; a pin may wait for in-flight I/O; the SYNC ioctl's
 * page invalidation may wait for WRITEs of dirty mmap pages. Served inline,
 * any of these would stop the one thread that could serve what it waits for.
 *
 * So:
 *  - The receiver reads each request into its own buffer and looks at the
 *    raw header (fs/reqclass.c) before libfuse parses it. A request that
 *    may wait (SETATTR with a size, OPEN with O_TRUNC, FALLOCATE, IOCTL) is
 *    handed, buffer and all, to the pool, and the receiver goes on with a
 *    fresh buffer. The worker calls fuse_session_process_buf() itself, so
 *    the handler runs there, unchanged, and replies exactly once from that
 *    thread (libfuse replies may come from any thread). Nothing the request
 *    points to needs copying: the worker owns the buffer.
 *  - While any such request is queued or running (nwait > 0), every other
 *    request goes to the pool too, because a fast request can block behind
 *    the waiting one (a read of the file being truncated waits for its
 *    inode lock): the receiver never blocks, so the UNPIN or RELEASE that
 *    ends the wait is always read and served. Only FUSE_INTERRUPT is still
 *    served inline (libfuse marks the target request interrupted; the
 *    waits in lib/ poll that flag and end with EINTR).
 *  - nwait rises only on the receiver thread, so when the receiver sees 0
 *    no waiting request exists and none can start while it serves one
 *    inline.
 * The pool grows on demand up to max_threads and keeps at most
 * max_idle_threads idle workers. Splice is off (fs_init): a spliced request
 * lives in the receiving thread's pipe and could not be handed over.
 *
 * Lock order: pool.lock is a leaf (nothing else is taken under it).
 */
#include <config.h>

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"
#include "loop.h"

struct job {
	struct fuse_buf buf;		/* mem is se->bufsize bytes (libfuse allocates) */
	bool waits;			/* counted in pool.nwait */
	struct job *next;
};

struct pool {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t work;		/* queued or stopping; lock */
	pthread_cond_t gone;		/* a worker exited; lock */
	struct job *head, *tail;	/* queue; lock */
	unsigned nqueued;		/* lock */
	struct job *spare;		/* recycled buffers; lock */
	unsigned nspare;		/* lock */
	unsigned nthreads, nidle;	/* lock */
	unsigned max_threads, max_idle;
	bool stop;			/* lock */
	atomic_uint nwait;		/* may-wait requests queued or running */
};

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
		j->waits = false;
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

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct job *j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stop) {
			p->nidle++;
			pthread_cond_wait(&p->work, &p->lock);
			p->nidle--;
		}
		if (!p->head)
			break;	/* stopping and nothing left */
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->nqueued--;
		pthread_mutex_unlock(&p->lock);

		fuse_session_process_buf(p->se, &j->buf);
		if (j->waits)
			atomic_fetch_sub(&p->nwait, 1);

		pthread_mutex_lock(&p->lock);
		job_put_locked(p, j);
		if (!p->head && p->nidle >= p->max_idle)
			break;	/* enough idle workers already */
	}
	p->nthreads--;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Queue @j for a worker, starting one if none is free. -EAGAIN if there
 * is no worker at all and none can be started (the caller serves it). */
static int submit(struct pool *p, struct job *j)
{
	pthread_attr_t attr;
	pthread_t t;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->nqueued + 1 > p->nidle && p->nthreads < p->max_threads) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, worker, p) == 0)
			p->nthreads++;
		else if (p->nthreads == 0)
			r = -EAGAIN;
		pthread_attr_destroy(&attr);
	}
	if (r == 0) {
		j->next = NULL;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->nqueued++;
		pthread_cond_signal(&p->work);
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
	pthread_cond_broadcast(&p->work);
	while (p->nthreads)
		pthread_cond_wait(&p->gone, &p->lock);
	while ((j = p->spare)) {
		p->spare = j->next;
		job_free(j);
	}
	p->nspare = 0;
	pthread_mutex_unlock(&p->lock);
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

int fs_loop_run(struct fs *fs)
{
	struct pool p = {
		.se = fs->se,
		.max_threads = fs->opts.max_threads,
		.max_idle = fs->opts.max_idle_threads,
	};
	struct job *j;
	int res = 0;

	if (fs->opts.mt_loop)
		return loop_mt(fs);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.gone, NULL);
	atomic_init(&p.nwait, 0);

	j = job_get(&p);
	while (j && !fuse_session_exited(fs->se)) {
		enum fs_req_class c;

		res = fuse_session_receive_buf(fs->se, &j->buf);
		if (res == -EINTR)
			continue;	/* a wake-up (SIGUSR1): re-check exited */
		if (res <= 0)
			break;		/* 0: exited or the connection is gone */
		c = fs_req_classify(j->buf.mem, j->buf.size);
		if (c == FS_REQ_MAY_WAIT || (c == FS_REQ_FAST && atomic_load(&p.nwait))) {
			j->waits = c == FS_REQ_MAY_WAIT;
			if (j->waits)
				atomic_fetch_add(&p.nwait, 1);
			if (submit(&p, j) == 0) {
				j = job_get(&p);
				continue;
			}
			/* no worker at all: serve it here (as a plain
			 * single-threaded loop would) */
			if (j->waits)
				atomic_fetch_sub(&p.nwait, 1);
			j->waits = false;
		}
		fuse_session_process_buf(fs->se, &j->buf);
	}
	if (!j) {
		pgdax_err("out of memory for a request buffer: stopping the session");
		res = -ENOMEM;
	}
	pool_stop(&p);
	job_free(j);
	pthread_cond_destroy(&p.gone);
	pthread_cond_destroy(&p.work);
	pthread_mutex_destroy(&p.lock);
	return res < 0 ? res : 0;
}
