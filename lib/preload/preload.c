/* SPDX-License-Identifier: MIT */
/*
 * libpgdax-preload.so: transparent DAX for programs that know nothing of
 * libpgdax. Loaded with LD_PRELOAD (tools/pgdax-exec), it interposes
 * mmap/mmap64, munmap, mremap, msync, fsync and fdatasync so that a
 * MAP_SHARED mapping of a regular file on a pgdaxfs mount maps the file's
 * pinned extents straight from the device (lib/client: pgdax_pin), and
 * every other call goes to the kernel untouched.
 *
 * What is DAX-mapped. mmap(addr, len, prot, MAP_SHARED, fd, off) of a
 * pgdaxfs file is served here when nothing the program can see changes:
 *   - prot is PROT_READ, PROT_WRITE or both (fio's mmap engine maps a
 *     write-only job PROT_WRITE alone), flags are among the
 *     plain ones (MAP_SHARED[_VALIDATE], MAP_FIXED[_NOREPLACE],
 *     MAP_POPULATE, MAP_NORESERVE, MAP_NONBLOCK), off is aligned to the
 *     device alignment (4 KiB emulated; 2 MiB/1 GiB devdax also needs len
 *     and a MAP_FIXED address aligned);
 *   - the device node can be opened with the access the mapping needs (the
 *     kernel's permission on it decides, as for pgdax_map) and the pin is
 *     granted.
 * Anything else -- MAP_PRIVATE, another filesystem, no device access, a
 * pin refused (ENOSPC, a layout break, the mount dying) -- is the kernel's
 * mmap, with the same arguments: a program never fails here where it
 * works without the library.
 *
 * End of file and growth. Only [off, EOF rounded up to the alignment) is
 * pinned and mapped from the device. The rest of the caller's range is the
 * kernel's shared mapping of the same file at the same offsets (page cache,
 * SIGBUS past EOF, sees the file grow), so a map far larger than the file
 * (LMDB's map size) allocates nothing up front and still sees the file
 * grow through write(2)/ftruncate, at page-cache speed; a later mmap of the
 * grown range is DAX. In a read-only mapping, holes of the file are also
 * left to the kernel's mapping (so a later write into the hole shows).
 * A writable mapping allocates the holes inside EOF at mmap time (a pin
 * cannot allocate at fault time), as pgdax_map does.
 *
 * References. Each served mmap takes one pin (struct dpin) of the range;
 * the table below holds one record (struct drec) per still-mapped piece of
 * it, each counting one reference on the pin. munmap, MAP_FIXED over a
 * part, and mremap trim or split records exactly as the kernel splits
 * VMAs; the pin ends with the last record, i.e. when the last byte of the
 * mapping is unmapped. mremap of a DAX range that must grow or move maps
 * the file range again (new pin) at the new place and unmaps the old one:
 * for a shared file mapping the contents are the same memory, only the
 * page tables differ. A process's exit or exec closes the pin's
 * close-on-exec descriptors, and the daemon drops the pins (RELEASE).
 *
 * fork(). The device mappings are inherited (no MADV_DONTFORK), and a
 * pthread_atfork child handler re-pins every range in the child (libpgdax's
 * own handler has closed the parent's pin descriptors there), so the
 * extents stay referenced until both processes unmapped or exited. The
 * handler is registered after libpgdax's (at the first pin), so it runs
 * after it in the child. Between fork() and the child's re-pin only the
 * parent's pins hold the extents.
 *
 * Visibility and durability, as pgdax_sync: msync (any flags except the
 * kernel's own errors), fsync and fdatasync of the file, and munmap of a
 * writable range persist the DAX stores (msync of the emulated device,
 * CPU cache flush on devdax) and ask the daemon (PGDAX_IOC_SYNC) to drop
 * the kernel's cached pages so read(2) sees them. Between those, read(2)
 * may return bytes the kernel cached before the stores (the kernel's own
 * mmap would show them at once: a documented difference).
 *
 * Truncate while mapped: ftruncate/truncate by this process first gives
 * the part of its mappings from the extent the new end falls in to the
 * kernel's mapping and retakes the pin for what stays (the daemon's layout
 * break waits for every pin on that extent); a truncate by *another*
 * process over a range mapped here is a layout break (it waits for our
 * pins up to break_timeout, then fails with EBUSY), not a SIGBUS for us.
 * MADV_REMOVE over a DAX range is refused (EINVAL): it would free device
 * pages, not punch the file.
 *
 * Locking. One mutex guards the table; it is taken with every signal
 * blocked, so a handler that calls munmap/mmap cannot deadlock on it, and
 * the calls stay async-signal-safe as far as the pin/unpin ioctls (which
 * run outside the lock) are. The kernel calls are made with syscall(2),
 * never through dlsym, so nothing here recurses into the allocator.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client/pgdax.h"
#include "pin/pgdax_ioctl.h"

#define EXPORT __attribute__((visibility("default")))
#define FUSE_MAGIC 0x65735546

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif

/* One served mmap: the pin, and the descriptors that keep it and the
 * device mapping's OFD locks. Freed with its last record. */
struct dpin {
	struct pgdax_pin *pin;	/* NULL if a fork child could not re-pin */
	int filefd;		/* dup of the caller's fd (like vma->vm_file) */
	int devfd;		/* the device, holding the OFD read locks */
	dev_t dev;
	ino_t ino;
	uint64_t off, len;	/* the pinned file range */
	uint64_t align;		/* device alignment */
	unsigned pinflags;
	bool emulated;
	int refs;		/* records pointing here (table lock) */
};

/* A mapped piece [start, end) of a served mmap; file offset of start. */
struct drec {
	uintptr_t start, end;
	uintptr_t dax_end;	/* [start, dax_end) from the device, rest the kernel's */
	uint64_t fo;
	int prot;
	struct dpin *p;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct drec *recs;	/* lock */
static size_t nrec, caprec;	/* lock; nrec also read unlocked as a hint */
static atomic_size_t nrec_hint;
static size_t page;

/* st_dev of FUSE filesystems that are not pgdaxfs (INFO refused). */
#define NEG_MAX 32
static dev_t neg_dev[NEG_MAX];
static unsigned nneg;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- the kernel's calls ---- */

static void *k_mmap(void *a, size_t l, int prot, int fl, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, a, l, prot, fl, fd, off);
}

static int k_munmap(void *a, size_t l)
{
	return (int)syscall(SYS_munmap, a, l);
}

static void *k_mremap(void *a, size_t ol, size_t nl, int fl, void *na)
{
	return (void *)syscall(SYS_mremap, a, ol, nl, fl, na);
}

static int k_msync(void *a, size_t l, int fl)
{
	return (int)syscall(SYS_msync, a, l, fl);
}

/* ---- the table ---- */

static void table_lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	pthread_mutex_lock(&lock);
}

static void table_unlock(const sigset_t *old)
{
	pthread_mutex_unlock(&lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int rec_add(const struct drec *r)
{
	if (nrec == caprec) {
		size_t nc = caprec ? 2 * caprec : 64;
		struct drec *v = realloc(recs, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		recs = v;
		caprec = nc;
	}
	recs[nrec++] = *r;
	atomic_store(&nrec_hint, nrec);
	return 0;
}

/* Pins whose last record went, to unpin once the lock is dropped. */
struct dead {
	struct dpin *p[16];
	unsigned n;
	struct dead *more;
};

/* Drop a reference (lock held); the pin goes on @d's list at zero. */
static void dpin_unref_locked(struct dpin *p, struct dead *d)
{
	if (--p->refs > 0)
		return;
	while (d->n == 16) {
		if (!d->more) {
			d->more = calloc(1, sizeof(*d));
			if (!d->more)
				return;	/* leak one pin rather than crash */
		}
		d = d->more;
	}
	d->p[d->n++] = p;
}

#if defined(__x86_64__) || defined(__i386__)
static void flush_lines(uintptr_t a, uintptr_t b)
{
	for (a &= ~(uintptr_t)63; a < b; a += 64)
		__builtin_ia32_clflush((const void *)a);
	__builtin_ia32_sfence();
}
#else
static void flush_lines(uintptr_t a, uintptr_t b)
{
	(void)a; (void)b;
	__sync_synchronize();
}
#endif

/* Make the DAX stores of [a, b) of record @r durable (lock held). */
static void persist(const struct drec *r, uintptr_t a, uintptr_t b)
{
	if (!(r->prot & PROT_WRITE))
		return;
	if (a < r->start)
		a = r->start;
	if (b > r->end)
		b = r->end;
	if (a >= b)
		return;
	if (r->p->emulated || a >= r->dax_end) {
		(void)k_msync((void *)a, b - a, MS_SYNC);
		return;
	}
	flush_lines(a, b < r->dax_end ? b : r->dax_end);
	if (b > r->dax_end)
		(void)k_msync((void *)r->dax_end, b - r->dax_end, MS_SYNC);
}

static void sync_ioctl(int fd, uint64_t off, uint64_t len)
{
	struct pgdax_ioc_sync s = { .offset = off, .length = len };

	(void)ioctl(fd, PGDAX_IOC_SYNC, &s);
}

static void dpin_free(struct dpin *p)
{
	if (p->pin && (p->pinflags & PGDAX_PIN_RW))
		sync_ioctl(p->filefd, p->off, p->len);
	/* the device mapping is gone: the OFD locks may go with the pin */
	pgdax_unpin(&p->pin);
	close(p->devfd);
	close(p->filefd);
	free(p);
}

static void dead_free(struct dead *d)
{
	bool first = true;

	while (d) {
		struct dead *next = d->more;

		for (unsigned i = 0; i < d->n; i++)
			dpin_free(d->p[i]);
		if (!first)
			free(d);
		first = false;
		d = next;
	}
}

/*
 * [a, b) is about to be unmapped or replaced (lock held): persist what the
 * records hold there, trim or split them, and put the pins that lose their
 * last record on @d. -ENOMEM only if a split cannot get memory (then
 * nothing has changed).
 */
static int cut_locked(uintptr_t a, uintptr_t b, struct dead *d)
{
	for (size_t i = 0; i < nrec; i++) {
		struct drec *r = &recs[i];

		if (r->end <= a || r->start >= b)
			continue;
		if (r->start < a && r->end > b) {
			struct drec tail = *r;

			tail.fo += b - r->start;
			tail.start = b;
			if (tail.dax_end < b)
				tail.dax_end = b;
			if (rec_add(&tail))
				return -ENOMEM;
			r = &recs[i];	/* rec_add may move the array */
			persist(r, a, b);
			r->p->refs++;
			r->end = a;
			if (r->dax_end > a)
				r->dax_end = a;
			continue;
		}
		persist(r, a, b);
		if (r->start >= a && r->end <= b) {
			dpin_unref_locked(r->p, d);
			recs[i] = recs[--nrec];
			atomic_store(&nrec_hint, nrec);
			i--;
		} else if (r->start < a) {
			r->end = a;
			if (r->dax_end > a)
				r->dax_end = a;
		} else {
			r->fo += b - r->start;
			r->start = b;
			if (r->dax_end < b)
				r->dax_end = b;
		}
	}
	return 0;
}

/* ---- fork ---- */

static void at_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void at_parent(void)
{
	pthread_mutex_unlock(&lock);
}

/* Do two pins name the same device extents? */
static bool same_extents(const struct pgdax_pin *a, const struct pgdax_pin *b)
{
	unsigned na = 0, nb = 0;
	const struct pgdax_pin_extent *ea = pgdax_pin_extents(a, &na);
	const struct pgdax_pin_extent *eb = pgdax_pin_extents(b, &nb);

	if (na != nb || (na && (!ea || !eb)))
		return false;
	for (unsigned i = 0; i < na; i++)	/* (fields: the struct has padding) */
		if (ea[i].file_off != eb[i].file_off || ea[i].dev_off != eb[i].dev_off ||
		    ea[i].len != eb[i].len || ea[i].hole != eb[i].hole)
			return false;
	return true;
}

/* The child's pieces of @p become the kernel's mapping of the file (what
 * they would have been without us): the child could not pin the extents
 * its inherited device mapping shows, so they may be freed and reused. */
static void child_falls_back(struct dpin *p)
{
	for (size_t i = 0; i < nrec; i++) {
		struct drec *r = &recs[i];

		if (r->p != p || r->dax_end == r->start)
			continue;
		if (k_mmap((void *)r->start, r->dax_end - r->start, r->prot,
			   MAP_SHARED | MAP_FIXED, p->filefd, (off_t)r->fo) != MAP_FAILED)
			r->dax_end = r->start;
	}
}

/* The child's only thread (after libpgdax's handler closed the parent's
 * pin descriptors here): take the child's own pin of every range. Until
 * it lands only the parent's pin holds the extents, so the new pin must
 * name the very extents the inherited mapping shows; if it cannot (the
 * parent unmapped and a truncate freed them meanwhile, or the pin fails)
 * the child's pieces fall back to the kernel's mapping of the file. */
static void at_child(void)
{
	pthread_mutex_init(&lock, NULL);
	for (size_t i = 0; i < nrec; i++) {
		struct dpin *p = recs[i].p;
		struct pgdax_pin *np = NULL;

		if (!p->pin || pgdax_pin_fd(p->pin) >= 0)
			continue;	/* none, or already re-pinned (shared dpin) */
		if (pgdax_pin((int)p->filefd, (off_t)p->off, p->len, p->pinflags, &np) == 0 &&
		    !same_extents(p->pin, np))
			pgdax_unpin(&np);
		pgdax_unpin(&p->pin);	/* the parent's handle: frees memory only */
		p->pin = np;
		if (!np)
			child_falls_back(p);
	}
}

static void atfork_init(void)
{
	pthread_atfork(at_prepare, at_parent, at_child);
}

/* ---- is this a pgdaxfs file? ---- */

static bool neg_known(dev_t dev)
{
	bool r = false;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nneg && !r; i++)
		r = neg_dev[i] == dev;
	pthread_mutex_unlock(&lock);
	return r;
}

static void neg_add(dev_t dev)
{
	pthread_mutex_lock(&lock);
	if (nneg < NEG_MAX)
		neg_dev[nneg++] = dev;
	pthread_mutex_unlock(&lock);
}

/* INFO for @fd if it is a regular file on pgdaxfs, else false. */
static bool pgdaxfs_file(int fd, struct stat *st, struct pgdax_ioc_info *info)
{
	struct statfs sf;

	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))
		return false;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != FUSE_MAGIC)
		return false;
	if (neg_known(st->st_dev))
		return false;
	memset(info, 0, sizeof(*info));
	if (ioctl(fd, PGDAX_IOC_INFO, info) < 0 || info->version != PGDAX_IOC_VERSION ||
	    !info->dev_align || (info->dev_align & (info->dev_align - 1)) ||
	    info->dev_align % page) {
		if (errno == ENOTTY || errno == EINVAL || errno == ENOSYS)
			neg_add(st->st_dev);
		return false;
	}
	info->dev_path[sizeof(info->dev_path) - 1] = '\0';
	return !(info->flags & (PGDAX_INFO_DYING | PGDAX_INFO_DEAD));
}

/* ---- mmap ---- */

#define OK_FLAGS (MAP_SHARED | MAP_SHARED_VALIDATE | MAP_FIXED | MAP_FIXED_NOREPLACE | \
		  MAP_POPULATE | MAP_NORESERVE | MAP_NONBLOCK)

/* Map pin @p's extents at @area (file offset p->off there), up to @dax. */
static int map_extents(struct dpin *p, char *area, uint64_t dax, int prot, int fd)
{
	const struct pgdax_pin_extent *e;
	unsigned n;

	e = pgdax_pin_extents(p->pin, &n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t rel = e[i].file_off - p->off, l = e[i].len;
		struct flock fl = {
			.l_type = F_RDLCK, .l_whence = SEEK_SET,
			.l_start = (off_t)e[i].dev_off, .l_len = (off_t)e[i].len,
		};
		void *r;

		if (rel >= dax)
			break;
		if (l > dax - rel)
			l = dax - rel;
		if (e[i].hole) {
			r = k_mmap(area + rel, l, prot, MAP_SHARED | MAP_FIXED, fd,
				   (off_t)e[i].file_off);
		} else {
			/* lock first: a daemon probing for clients after a crash
			 * must not see a mapped range without its lock */
			if (fcntl(p->devfd, F_OFD_SETLK, &fl) < 0)
				return -errno;
			r = k_mmap(area + rel, l, prot, MAP_SHARED | MAP_FIXED, p->devfd,
				   (off_t)e[i].dev_off);
		}
		if (r == MAP_FAILED)
			return -errno;
	}
	return 0;
}

/* An area of @len for a non-fixed map, aligned to @align, near @hint. */
static char *reserve(void *hint, size_t len, uint64_t align, int fl)
{
	size_t slack = align > page ? align - page : 0;
	char *raw, *start;

	if (fl & MAP_FIXED_NOREPLACE) {
		raw = k_mmap(hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		return raw == MAP_FAILED ? NULL : raw;
	}
	if (hint && !((uintptr_t)hint % align)) {
		raw = k_mmap(hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (raw != MAP_FAILED)
			return raw;
	}
	if (len > SIZE_MAX - slack)
		return NULL;
	raw = k_mmap(NULL, len + slack, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	start = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	if (start > raw)
		k_munmap(raw, (size_t)(start - raw));
	if (raw + len + slack > start + len)
		k_munmap(start + len, (size_t)(raw + len + slack - (start + len)));
	return start;
}

/*
 * Serve mmap from the device. MAP_FAILED with errno for an error the
 * kernel would also give (MAP_FIXED_NOREPLACE over a mapping), NULL when
 * the kernel's mmap should be used instead.
 */
static void *dax_mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off)
{
	bool fixed = fl & MAP_FIXED, writable = prot & PROT_WRITE;
	struct pgdax_ioc_info info;
	struct dpin *p = NULL;
	struct dead d = { .n = 0 };
	struct drec r;
	struct stat st;
	uint64_t align, eof, dax;
	size_t lr;
	char *area = NULL;
	sigset_t old;
	int acc, saved = errno;

	if ((fl & MAP_ANONYMOUS) || fd < 0 || !len || off < 0 || (fl & ~OK_FLAGS) ||
	    ((fl & MAP_SHARED_VALIDATE) != MAP_SHARED &&
	     (fl & MAP_SHARED_VALIDATE) != MAP_SHARED_VALIDATE) ||
	    (prot & ~(PROT_READ | PROT_WRITE)) || !prot ||
	    (size_t)off % page || ((fl & MAP_FIXED) && (uintptr_t)addr % page))
		return NULL;
	acc = fcntl(fd, F_GETFL);
	if (acc < 0 || (acc & O_ACCMODE) == O_WRONLY ||
	    (writable && (acc & O_ACCMODE) != O_RDWR) || (writable && (acc & O_APPEND)))
		return NULL;	/* the kernel gives its EACCES */
	if (!pgdaxfs_file(fd, &st, &info))
		return NULL;
	if (writable && (info.flags & PGDAX_INFO_RDONLY))
		return NULL;
	align = info.dev_align;
	lr = (len + page - 1) & ~(page - 1);
	if (lr < len || (uint64_t)off % align ||
	    (align > page && (lr % align || (fixed && (uintptr_t)addr % align))))
		return NULL;
	eof = ((uint64_t)st.st_size + align - 1) & ~(align - 1);
	if ((uint64_t)off >= eof)
		return NULL;	/* nothing inside the file: the kernel's mapping */
	dax = eof - (uint64_t)off < lr ? eof - (uint64_t)off : lr;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->devfd = p->filefd = -1;
	p->filefd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	p->devfd = open(info.dev_path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (p->filefd < 0 || p->devfd < 0)
		goto fallback;
	p->emulated = info.flags & PGDAX_INFO_EMULATED;
	p->align = align;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->pinflags = writable ? PGDAX_PIN_RW : 0;
	if (pgdax_pin(fd, off, (size_t)dax, p->pinflags, &p->pin))
		goto fallback;
	pthread_once(&atfork_once, atfork_init);
	pgdax_pin_range(p->pin, &p->off, &p->len);
	if (p->off != (uint64_t)off || p->len < dax)
		goto fallback;
	p->refs = 1;
	r = (struct drec){ .fo = (uint64_t)off, .prot = prot, .p = p };

	if (!fixed) {
		area = reserve(addr, lr, align, fl);
		if (!area) {
			if (fl & MAP_FIXED_NOREPLACE) {
				saved = errno;
				dpin_free(p);
				errno = saved;
				return MAP_FAILED;
			}
			goto fallback;
		}
		if (map_extents(p, area, dax, prot, fd) ||
		    (lr > dax && k_mmap(area + dax, lr - dax, prot, MAP_SHARED | MAP_FIXED,
					fd, off + (off_t)dax) == MAP_FAILED)) {
			k_munmap(area, lr);
			goto fallback;
		}
		r.start = (uintptr_t)area;
		r.end = r.start + lr;
		r.dax_end = r.start + dax;
		table_lock(&old);
		if (rec_add(&r)) {
			table_unlock(&old);
			k_munmap(area, lr);
			goto fallback;
		}
		table_unlock(&old);
	} else {
		/* MAP_FIXED replaces what was there, as the kernel does: the
		 * range is taken (PROT_NONE) under the lock, then filled */
		area = addr;
		r.start = (uintptr_t)area;
		r.end = r.start + lr;
		r.dax_end = r.start + dax;
		table_lock(&old);
		if (cut_locked(r.start, r.end, &d) || rec_add(&r)) {
			table_unlock(&old);
			goto fallback_nolock;
		}
		if (k_mmap(area, lr, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			   MAP_FIXED, -1, 0) == MAP_FAILED ||
		    map_extents(p, area, dax, prot, fd) ||
		    (lr > dax && k_mmap(area + dax, lr - dax, prot, MAP_SHARED | MAP_FIXED,
					fd, off + (off_t)dax) == MAP_FAILED)) {
			/* give the range to the kernel's mapping instead */
			for (size_t i = 0; i < nrec; i++)
				if (recs[i].p == p) {
					recs[i] = recs[--nrec];
					break;
				}
			atomic_store(&nrec_hint, nrec);
			table_unlock(&old);
			goto fallback_nolock;
		}
		table_unlock(&old);
	}
	dead_free(&d);
	if (fl & MAP_POPULATE)
		(void)madvise(area, lr, MADV_WILLNEED);
	errno = saved;
	return area;
fallback_nolock:
	dead_free(&d);
fallback:
	if (p) {
		if (p->devfd >= 0)
			close(p->devfd);
		if (p->filefd >= 0)
			close(p->filefd);
		if (p->pin)
			pgdax_unpin(&p->pin);
		free(p);
	}
	errno = saved;
	return NULL;
}

/* The kernel's mmap; a MAP_FIXED one replaces any records in its range. */
static void *plain_mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off)
{
	struct dead d = { .n = 0 };
	sigset_t old;
	void *r;

	if (!(fl & MAP_FIXED) || !atomic_load(&nrec_hint))
		return k_mmap(addr, len, prot, fl, fd, off);
	table_lock(&old);
	r = k_mmap(addr, len, prot, fl, fd, off);
	if (r != MAP_FAILED)
		(void)cut_locked((uintptr_t)addr,
				 (uintptr_t)addr + ((len + page - 1) & ~(page - 1)), &d);
	table_unlock(&old);
	dead_free(&d);
	return r;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int fl, int fd, off_t off)
{
	void *r = dax_mmap(addr, len, prot, fl, fd, off);

	return r ? r : plain_mmap(addr, len, prot, fl, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int fl, int fd, off_t off)
	__attribute__((alias("mmap")));

/* ---- munmap, msync ---- */

static int unmap_impl(void *addr, size_t len)
{
	struct dead d = { .n = 0 };
	uintptr_t a = (uintptr_t)addr, b;
	sigset_t old;
	int r;

	if (!atomic_load(&nrec_hint) || a % page || !len)
		return k_munmap(addr, len);
	b = a + ((len + page - 1) & ~(page - 1));
	if (b < a)
		return k_munmap(addr, len);
	table_lock(&old);
	r = cut_locked(a, b, &d);
	if (r) {
		table_unlock(&old);
		errno = -r;
		return -1;
	}
	r = k_munmap(addr, len);
	table_unlock(&old);
	dead_free(&d);
	return r;
}

EXPORT int munmap(void *addr, size_t len)
{
	return unmap_impl(addr, len);
}

/* Sync the daemon's view of the file ranges records hold in [a, b). */
static void sync_range(uintptr_t a, uintptr_t b, int flags)
{
	struct dead d = { .n = 0 };
	struct { struct dpin *p; uint64_t off, len; } todo[32];
	unsigned n = 0;
	sigset_t old;

	table_lock(&old);
	for (size_t i = 0; i < nrec && n < 32; i++) {
		struct drec *r = &recs[i];
		uintptr_t s = r->start > a ? r->start : a, e = r->end < b ? r->end : b;

		if (s >= e || !(r->prot & PROT_WRITE))
			continue;
		if (!(flags & MS_INVALIDATE) || (flags & (MS_SYNC | MS_ASYNC)))
			persist(r, s, e);
		r->p->refs++;
		todo[n].p = r->p;
		todo[n].off = r->fo + (s - r->start);
		todo[n++].len = e - s;
	}
	table_unlock(&old);
	for (unsigned i = 0; i < n; i++)
		sync_ioctl(todo[i].p->filefd, todo[i].off, todo[i].len);
	table_lock(&old);
	for (unsigned i = 0; i < n; i++)
		dpin_unref_locked(todo[i].p, &d);
	table_unlock(&old);
	dead_free(&d);
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	int r = k_msync(addr, len, flags), saved = errno;

	if (r == 0 && atomic_load(&nrec_hint))
		sync_range((uintptr_t)addr, (uintptr_t)addr + len, flags);
	errno = saved;
	return r;
}

/* ---- mremap ---- */

/* The records covering [a, b) exactly, contiguous in one file: the file
 * offset of a, its dpin and prot; false if not so (lock held). */
static bool covered_locked(uintptr_t a, uintptr_t b, uint64_t *fo, struct dpin **pp, int *prot)
{
	uintptr_t at = a;
	uint64_t want = 0;
	bool first = true;

	while (at < b) {
		struct drec *r = NULL;

		for (size_t i = 0; i < nrec && !r; i++)
			if (recs[i].start <= at && recs[i].end > at)
				r = &recs[i];
		if (!r)
			return false;
		if (first) {
			*fo = r->fo + (at - r->start);
			*pp = r->p;
			*prot = r->prot;
			first = false;
		} else if (r->fo + (at - r->start) != want || r->p->dev != (*pp)->dev ||
			   r->p->ino != (*pp)->ino || r->prot != *prot) {
			return false;
		}
		want = r->fo + (r->end - r->start);
		at = r->end;
	}
	return true;
}

static bool touches_locked(uintptr_t a, uintptr_t b)
{
	for (size_t i = 0; i < nrec; i++)
		if (recs[i].start < b && recs[i].end > a)
			return true;
	return false;
}

/* The kernel's mremap onto @naddr, which replaces any records there. */
static void *plain_mremap_fixed(void *old, size_t osz, size_t nsz, int flags, void *naddr)
{
	struct dead d = { .n = 0 };
	sigset_t sm;
	void *r;

	table_lock(&sm);
	r = k_mremap(old, osz, nsz, flags, naddr);
	if (r != MAP_FAILED)
		(void)cut_locked((uintptr_t)naddr, (uintptr_t)naddr + nsz, &d);
	table_unlock(&sm);
	dead_free(&d);
	return r;
}

EXPORT void *mremap(void *old, size_t osz, size_t nsz, int flags, ...)
{
	uintptr_t a = (uintptr_t)old;
	void *naddr = NULL, *r;
	struct dpin *p = NULL;
	uint64_t fo = 0;
	sigset_t sm;
	bool ours;
	int prot = 0, fd, fl;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		naddr = va_arg(ap, void *);
		va_end(ap);
	}
	if (!atomic_load(&nrec_hint) || a % page || !osz || !nsz)
		return k_mremap(old, osz, nsz, flags, naddr);
	osz = (osz + page - 1) & ~(page - 1);
	nsz = (nsz + page - 1) & ~(page - 1);
	table_lock(&sm);
	ours = covered_locked(a, a + osz, &fo, &p, &prot);
	if (!ours && !touches_locked(a, a + osz)) {
		table_unlock(&sm);
		/* plain memory; a MREMAP_FIXED target may hold records */
		return (flags & MREMAP_FIXED) && naddr ?
		       plain_mremap_fixed(old, osz, nsz, flags, naddr) :
		       k_mremap(old, osz, nsz, flags, naddr);
	}
	if (!ours) {
		table_unlock(&sm);
		errno = EFAULT;	/* spans more than one mapping, as the kernel says */
		return MAP_FAILED;
	}
	fd = fcntl(p->filefd, F_DUPFD_CLOEXEC, 0);
	table_unlock(&sm);
	if (fd < 0)
		return MAP_FAILED;
	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) {
		close(fd);
		errno = EINVAL;	/* MREMAP_DONTUNMAP: private anonymous only */
		return MAP_FAILED;
	}
	fl = MAP_SHARED;
	if (flags & MREMAP_FIXED) {
		uintptr_t n = (uintptr_t)naddr;

		if (!(flags & MREMAP_MAYMOVE) || n % page || (n < a + osz && a < n + nsz)) {
			close(fd);
			errno = EINVAL;
			return MAP_FAILED;
		}
		r = mmap(naddr, nsz, prot, fl | MAP_FIXED, fd, (off_t)fo);
		if (r != MAP_FAILED)
			unmap_impl(old, osz);
	} else if (nsz <= osz) {
		if (nsz < osz)
			unmap_impl((char *)old + nsz, osz - nsz);
		r = old;
	} else {
		char *want = (char *)old + osz;

		r = mmap(want, nsz - osz, prot, fl | MAP_FIXED_NOREPLACE, fd,
			 (off_t)(fo + osz));
		if (r != MAP_FAILED && r != want) {
			unmap_impl(r, nsz - osz);	/* a kernel that took it as a hint */
			r = MAP_FAILED;
		}
		if (r != MAP_FAILED) {
			r = old;
		} else if (flags & MREMAP_MAYMOVE) {
			r = mmap(NULL, nsz, prot, fl, fd, (off_t)fo);
			if (r != MAP_FAILED)
				unmap_impl(old, osz);
		} else {
			errno = ENOMEM;
		}
	}
	close(fd);
	return r;
}

/* ---- madvise ---- */

/*
 * MADV_REMOVE frees the backing store of a shared mapping: over a DAX
 * range that is the *device* file's pages (an emulated device on tmpfs),
 * under the daemon's feet, not a hole punched in the file. Refused with
 * EINVAL, as the kernel refuses it where the backing store cannot punch
 * holes; every other advice is the kernel's (they act on page tables).
 */
EXPORT int madvise(void *addr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)addr, b = a + len;
	bool dax = false;
	sigset_t old;

	if (advice == MADV_REMOVE && atomic_load(&nrec_hint)) {
		table_lock(&old);
		for (size_t i = 0; i < nrec && !dax; i++)
			dax = recs[i].start < b && recs[i].dax_end > a &&
			      recs[i].start < recs[i].dax_end;
		table_unlock(&old);
		if (dax) {
			errno = EINVAL;
			return -1;
		}
	}
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* ---- fsync, fdatasync ---- */

/* Persist and publish this process's DAX stores into the file of @fd. */
static void sync_file(int fd)
{
	struct stat st;
	bool any = false;
	sigset_t old;

	if (!atomic_load(&nrec_hint) || fstat(fd, &st) < 0)
		return;
	table_lock(&old);
	for (size_t i = 0; i < nrec; i++) {
		struct drec *r = &recs[i];

		/* read-only maps made no stores: nothing to publish (and
		 * dropping the kernel's cache at every fsync of a writer that
		 * reads through a map, LMDB's default mode, costs its reads) */
		if (r->p->dev != st.st_dev || r->p->ino != st.st_ino ||
		    !(r->prot & PROT_WRITE))
			continue;
		any = true;
		persist(r, r->start, r->end);
	}
	table_unlock(&old);
	if (any)
		sync_ioctl(fd, 0, 0);
}

/*
 * A truncate to @size is coming for file (@dev, @ino): give up the DAX
 * mapping and the pin of every extent past the new end first, so the
 * truncate is not a layout break waiting for our own pins. Those parts of
 * the records become the kernel's mapping of the file (SIGBUS past EOF, as
 * without the library); the pin is retaken for the part that stays.
 */
static void before_truncate(dev_t dev, ino_t ino, uint64_t size)
{
	struct pgdax_pin *drop[64];
	unsigned ndrop = 0;
	sigset_t old;

	uint64_t keep = UINT64_MAX;

	if (!atomic_load(&nrec_hint))
		return;
	table_lock(&old);
	/* The truncate splits the extent its new end falls in and waits for
	 * every pin on that whole extent (lib/pin): keep only what lies
	 * before it. An extent that ends at the cut in our view may be a
	 * pin's clipped view of a larger one: it goes too. */
	for (size_t i = 0; i < nrec; i++) {
		struct dpin *p = recs[i].p;
		uint64_t cut = (size + p->align - 1) & ~(p->align - 1);
		const struct pgdax_pin_extent *e;
		unsigned n;

		if (p->dev != dev || p->ino != ino || !p->pin)
			continue;
		if (keep > cut)
			keep = cut;
		e = pgdax_pin_extents(p->pin, &n);
		for (unsigned k = 0; k < n; k++)
			if (e[k].file_off < cut && e[k].file_off + e[k].len >= cut &&
			    e[k].file_off < keep)
				keep = e[k].file_off;
	}
	for (size_t i = 0; i < nrec && ndrop < 64; i++) {
		struct dpin *p = recs[i].p;
		uint64_t cut = keep;
		struct pgdax_pin *np = NULL;
		const struct pgdax_pin_extent *e;
		unsigned n;

		if (p->dev != dev || p->ino != ino || !p->pin || p->off + p->len <= cut)
			continue;
		if (cut > p->off &&
		    pgdax_pin(p->filefd, (off_t)p->off, cut - p->off, p->pinflags, &np))
			np = NULL;	/* the truncate will wait for the old pin */
		if (cut > p->off && !np)
			continue;
		/* every record of this pin: the part past cut to the kernel */
		for (size_t j = 0; j < nrec; j++) {
			struct drec *r = &recs[j];
			uintptr_t from;

			if (r->p != p)
				continue;
			from = r->fo >= cut ? r->start : r->start + (cut - r->fo);
			if (from >= r->dax_end)
				continue;
			persist(r, from, r->dax_end);
			if (k_mmap((void *)from, r->dax_end - from, r->prot,
				   MAP_SHARED | MAP_FIXED, p->filefd,
				   (off_t)(r->fo + (from - r->start))) != MAP_FAILED)
				r->dax_end = from;
		}
		e = pgdax_pin_extents(p->pin, &n);
		for (unsigned k = 0; k < n; k++) {
			uint64_t s = e[k].file_off, t = s + e[k].len;
			struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

			if (e[k].hole || t <= cut)
				continue;
			if (s < cut)
				s = cut;
			fl.l_start = (off_t)(e[k].dev_off + (s - e[k].file_off));
			fl.l_len = (off_t)(t - s);
			(void)fcntl(p->devfd, F_OFD_SETLK, &fl);
		}
		drop[ndrop++] = p->pin;
		p->pin = np;
		if (np) {
			p->len = cut - p->off;
		}
	}
	table_unlock(&old);
	for (unsigned k = 0; k < ndrop; k++)
		pgdax_unpin(&drop[k]);
}

EXPORT int ftruncate(int fd, off_t size)
{
	struct stat st;

	if (size >= 0 && atomic_load(&nrec_hint) && fstat(fd, &st) == 0 &&
	    (uint64_t)size < (uint64_t)st.st_size)
		before_truncate(st.st_dev, st.st_ino, (uint64_t)size);
	return (int)syscall(SYS_ftruncate, fd, size);
}

EXPORT int ftruncate64(int fd, off_t size) __attribute__((alias("ftruncate")));

EXPORT int truncate(const char *path, off_t size)
{
	struct stat st;

	if (size >= 0 && atomic_load(&nrec_hint) && stat(path, &st) == 0 &&
	    (uint64_t)size < (uint64_t)st.st_size)
		before_truncate(st.st_dev, st.st_ino, (uint64_t)size);
	return (int)syscall(SYS_truncate, path, size);
}

EXPORT int truncate64(const char *path, off_t size) __attribute__((alias("truncate")));

EXPORT int fsync(int fd)
{
	sync_file(fd);
	return (int)syscall(SYS_fsync, fd);
}

EXPORT int fdatasync(int fd)
{
	sync_file(fd);
	return (int)syscall(SYS_fdatasync, fd);
}

__attribute__((constructor)) static void preload_init(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
}
