/* SPDX-License-Identifier: MIT */
/*
 * The DAX client API (lib/client/pgdax.h): runs inside applications.
 *
 * A pin is taken through an ioctl on the library's own close-on-exec
 * descriptor of the file: the daemon ties pins to the FUSE open file, so
 * the pin lives exactly as long as the open file the library's descriptor
 * refers to, after the caller closes its own, and the kernel ends it by
 * sending RELEASE when the last descriptor of that open file goes.
 *
 * Whose open file. The library opens the file again (/proc/self/fd/N, the
 * access mode and O_APPEND of the caller's descriptor): a new open file
 * that only the library's descriptor refers to. A duplicate of the
 * caller's descriptor (what the library used to keep) shares the caller's
 * open file, which every fork()ed child inherits through the caller's own
 * descriptors and keeps alive, so a pin outlived its process. If the
 * reopen is refused (permissions changed since the caller opened, no
 * /proc, the daemon closing), the library falls back to such a duplicate:
 * the pin then also lives while a descriptor of the caller's open file
 * does (pgdax.h says so).
 *
 * fork(). The library's descriptors are close-on-exec, but a plain fork()
 * copies them; no O_CLOFORK exists in Linux 6.x. A pthread_atfork child
 * handler closes every descriptor the library owns (pins' files and
 * mappings' devices, so also the OFD locks) in the child, and empties the
 * child's list of mappings (the device mappings are MADV_DONTFORK: the
 * child has none). So that no descriptor can be in flight at a fork, each
 * one is created and registered under fork_lock held for reading, which
 * the prepare handler takes for writing (writer-preferring: a fork waits
 * at most for the opens in progress, one FUSE open each). Handles the
 * child inherited are dead there (owner pid differs): unpin/unmap only
 * free their memory.
 *
 * A mapping opens the device node itself, with the access the mapping
 * needs, so the kernel's permission check on the node is the authority on
 * who may touch device memory (the daemon re-checks the same rule before
 * pinning, so a pin cannot be used to hold extents without that right).
 * Each device range is mapped MAP_SHARED|MAP_FIXED into one reserved
 * virtual area aligned to the device alignment (devdax refuses misaligned
 * mappings), marked MADV_DONTFORK (a child must not inherit memory it holds
 * no pin for), and covered by an OFD read lock: after an unclean end of the
 * daemon, the next daemon finds those locks and keeps the ranges out of its
 * allocator while this process still maps them (lib/vol/quarantine.c). The
 * lock goes with the device descriptor, which is closed after munmap().
 *
 * Every answer from the daemon is checked (alignment, bounds, contiguity)
 * before it is used to map anything.
 *
 * Errors. Each call returns a negative errno; for the two a user cannot
 * act on from the errno alone, the thread's pgdax_errormsg() says what is
 * missing: EACCES (which access of which device node, its owner, group and
 * mode, and how an administrator grants it) and ENXIO (the mount being
 * unmounted, or a writable range past the block holding EOF without
 * PGDAX_MAP_EXTEND). The message is built after the failure, from what the
 * library can see (fcntl(F_GETFL) of @fd, stat of the device node, INFO,
 * fstat of the file): the daemon's errno stays the authority.
 *
 * Versions. Up to libpgdax.so.0 every writable pin grew the file; from
 * libpgdax.so.1 pgdax_map/pgdax_pin grow it only with PGDAX_MAP_EXTEND /
 * PGDAX_PIN_EXTEND (mmap-like). The soname changed for that (a binary that
 * relied on growing would now get -ENXIO); the new calls are in the
 * LIBPGDAX_2 node of libpgdax.sym.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <unistd.h>

#include "pgdax.h"
#include "pin/pgdax_ioctl.h"

struct pgdax_pin {
	int fd;				/* the library's descriptor (lib_fds) */
	pid_t pid;			/* process that owns fd (not a fork child) */
	uint64_t id;
	unsigned flags;			/* PGDAX_PIN_RW */
	uint64_t map_off, map_len;	/* pinned file range (aligned) */
	struct pgdax_ioc_info info;
	unsigned nr;
	struct pgdax_pin_extent *ext;
};

struct pgdax_mapping {
	struct pgdax_pin *pin;
	int devfd;			/* holds the OFD read locks */
	bool emulated;
	int prot;
	char *area;			/* reserved area = pinned range */
	size_t area_len;
	uint64_t offset;		/* caller's offset and length */
	size_t length;
	struct pmem2_map **pmaps;	/* devdax: one per mapped extent (persist) */
	unsigned npmaps;
	pmem2_persist_fn persist;
	dev_t st_dev;			/* the file, for pgdax_sync(fd) */
	ino_t st_ino;
	struct pgdax_mapping *next;	/* mappings list; mappings_lock */
};

/*
 * The process's mappings, so that pgdax_sync(fd, ...) can persist the
 * stores made through any of them into that file. Leaf lock; held while
 * persisting, so a mapping is not unmapped under a concurrent sync.
 */
static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pgdax_mapping *mappings;

/*
 * The descriptors the library owns, closed in a fork child (the top of
 * this file, "fork()"). Lock order: fork_lock, mappings_lock, fds_lock.
 */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t fork_lock;	/* read: creating/closing one; write: fork */
static pthread_mutex_t fds_lock = PTHREAD_MUTEX_INITIALIZER;
static int *lib_fds;			/* fds_lock */
static size_t nlib_fds, caplib_fds;	/* fds_lock */

static void fork_prepare(void)
{
	pthread_rwlock_wrlock(&fork_lock);
	pthread_mutex_lock(&mappings_lock);
	pthread_mutex_lock(&fds_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&fds_lock);
	pthread_mutex_unlock(&mappings_lock);
	pthread_rwlock_unlock(&fork_lock);
}

/* The only thread of the child: no lock is contended; re-initialised
 * rather than unlocked (the write lock's owner was the parent's thread). */
static void fork_child(void)
{
	pthread_rwlockattr_t a;

	for (size_t i = 0; i < nlib_fds; i++)
		close(lib_fds[i]);
	nlib_fds = 0;
	mappings = NULL;	/* the child's copies are dead handles */
	pthread_mutex_init(&fds_lock, NULL);
	pthread_mutex_init(&mappings_lock, NULL);
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fork_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

static void fork_init(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fork_lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Record @fd as the library's (fork_lock held for reading). 0 or -ENOMEM. */
static int fd_register(int fd)
{
	int r = 0;

	pthread_mutex_lock(&fds_lock);
	if (nlib_fds == caplib_fds) {
		size_t nc = caplib_fds ? 2 * caplib_fds : 16;
		int *v = realloc(lib_fds, nc * sizeof(*v));

		if (v) {
			lib_fds = v;
			caplib_fds = nc;
		}
	}
	if (nlib_fds < caplib_fds)
		lib_fds[nlib_fds++] = fd;
	else
		r = -ENOMEM;
	pthread_mutex_unlock(&fds_lock);
	return r;
}

/* Close a descriptor of the library's: forgotten and closed as one step. */
static void lib_close(int fd)
{
	if (fd < 0)
		return;
	pthread_rwlock_rdlock(&fork_lock);
	pthread_mutex_lock(&fds_lock);
	for (size_t i = 0; i < nlib_fds; i++) {
		if (lib_fds[i] == fd) {
			lib_fds[i] = lib_fds[--nlib_fds];
			break;
		}
	}
	pthread_mutex_unlock(&fds_lock);
	close(fd);
	pthread_rwlock_unlock(&fork_lock);
}

/* A new open file of the file behind @fd (regular files), else -errno. */
static int reopen(int fd)
{
	struct stat a, b;
	char path[64];
	int fl, nfd;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &a) < 0)
		return -errno;
	if (!S_ISREG(a.st_mode))
		return -EINVAL;	/* no FIFO opens that block; not pgdaxfs anyway */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, (fl & (O_ACCMODE | O_APPEND)) | O_CLOEXEC | O_NOCTTY);
	if (nfd < 0)
		return -errno;
	if (fstat(nfd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(nfd);	/* fd was replaced meanwhile (dup2 race) */
		return -ESTALE;
	}
	return nfd;
}

/*
 * The library's own descriptor for pinning through @fd: a new open file if
 * possible, else a duplicate (the top of this file, "Whose open file").
 * Created and registered under fork_lock. The descriptor, or -errno.
 */
static int own_file_fd(int fd)
{
	int nfd;

	pthread_once(&fork_once, fork_init);
	pthread_rwlock_rdlock(&fork_lock);
	nfd = reopen(fd);
	if (nfd < 0)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (nfd < 0) {
		nfd = -errno;
	} else if (fd_register(nfd)) {
		close(nfd);
		nfd = -ENOMEM;
	}
	pthread_rwlock_unlock(&fork_lock);
	return nfd;
}

/* open(2) the device for a mapping, registered like own_file_fd. */
static int own_dev_fd(const char *path, int flags)
{
	int nfd;

	pthread_once(&fork_once, fork_init);
	pthread_rwlock_rdlock(&fork_lock);
	nfd = open(path, flags | O_CLOEXEC);
	if (nfd < 0) {
		nfd = -errno;
	} else if (fd_register(nfd)) {
		close(nfd);
		nfd = -ENOMEM;
	}
	pthread_rwlock_unlock(&fork_lock);
	return nfd;
}

/* False in a fork child for the parent's handles: their descriptors are
 * closed and their device ranges not mapped there. */
static bool pin_is_ours(const struct pgdax_pin *p)
{
	return p->pid == getpid();
}

static void mapping_link(struct pgdax_mapping *m)
{
	pthread_mutex_lock(&mappings_lock);
	m->next = mappings;
	mappings = m;
	pthread_mutex_unlock(&mappings_lock);
}

static void mapping_unlink(struct pgdax_mapping *m)
{
	pthread_mutex_lock(&mappings_lock);
	for (struct pgdax_mapping **pp = &mappings; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&mappings_lock);
}

static __thread char errmsg[640];

PGDAX_EXPORT const char *pgdax_errormsg(void)
{
	return errmsg;
}

static void __attribute__((format(printf, 1, 2))) set_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
}

/* EACCES: @fd's own access mode, as mmap(2) asks of it, or the device. */
static void explain_eacces(const char *fn, int fd, const char *dev, bool write)
{
	int fl = fcntl(fd, F_GETFL);
	char own[64], grp[64];
	struct passwd *pw;
	struct group *gr;
	struct stat st;

	if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY) {
		set_msg("%s: the descriptor is open write-only; a mapping needs read access "
			"(open the file O_RDONLY or O_RDWR)", fn);
		return;
	}
	if (fl >= 0 && write && ((fl & O_ACCMODE) != O_RDWR || (fl & O_APPEND))) {
		set_msg("%s: a writable mapping needs the descriptor open O_RDWR without "
			"O_APPEND, as mmap(2) PROT_WRITE does", fn);
		return;
	}
	if (!dev || stat(dev, &st) < 0) {
		set_msg("%s: permission denied to %s the device of the mount%s%s: DAX maps "
			"device memory, so the device node's own permission decides", fn,
			write ? "read and write" : "read", dev ? " " : "", dev ? dev : "");
		return;
	}
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	if (pw)
		snprintf(own, sizeof(own), "%s", pw->pw_name);
	else
		snprintf(own, sizeof(own), "uid %u", (unsigned)st.st_uid);
	if (gr)
		snprintf(grp, sizeof(grp), "%s", gr->gr_name);
	else
		snprintf(grp, sizeof(grp), "gid %u", (unsigned)st.st_gid);
	set_msg("%s: permission denied: %s needs %s access to the device %s (owner %s, "
		"group %s, mode %04o), not only to the file: DAX maps device memory. "
		"Ask the administrator to grant it to a group you are in (emulated "
		"device: mount -o dax_group=GROUP,dax_mode=%s; /dev/dax*: a udev rule "
		"GROUP=\"pgdax\", MODE=\"0660\")", fn, write ? "a writable mapping" :
		"a mapping", write ? "read and write" : "read", dev, own, grp,
		(unsigned)(st.st_mode & 07777), write ? "0660" : "0640");
}

/* ENXIO from a pin: the mount is being unmounted, or the range is past EOF. */
static void explain_enxio(const char *fn, int fd, uint64_t off, uint64_t len, bool write,
			  bool extend, uint64_t bs)
{
	struct pgdax_ioc_info info;
	struct stat st;

	memset(&info, 0, sizeof(info));
	if (ioctl(fd, PGDAX_IOC_INFO, &info) == 0 && (info.flags & PGDAX_INFO_DYING)) {
		set_msg("%s: the filesystem is being unmounted: no new mappings or pins "
			"('pgdaxctl status MOUNTPOINT' shows who holds it)", fn);
		return;
	}
	if (write && !extend && fstat(fd, &st) == 0) {
		uint64_t eof = bs ? ((uint64_t)st.st_size + bs - 1) / bs * bs :
				    (uint64_t)st.st_size;

		if (off + len > eof) {
			set_msg("%s: the writable range [%llu, %llu) ends past the end of the "
				"file (size %llu, its last block ends at %llu): a mapping does "
				"not grow the file unless asked; pass PGDAX_MAP_EXTEND "
				"(pgdax_map_flags) or PGDAX_PIN_EXTEND, or ftruncate(2) first",
				fn, (unsigned long long)off, (unsigned long long)(off + len),
				(unsigned long long)st.st_size, (unsigned long long)eof);
			return;
		}
	}
	set_msg("%s: %s", fn, strerror(ENXIO));
}

/* Every failure leaves a message; the specific ones are set where known. */
static int failed(const char *fn, int err)
{
	if (!errmsg[0])
		set_msg("%s: %s", fn, strerror(-err));
	return err;
}

static int ioctl_err(void)
{
	/* A descriptor on another filesystem answers ENOTTY (or EINVAL for
	 * some, e.g. sockets/pipes); keep the kernel's answer. */
	return errno ? -errno : -EIO;
}

/* libpmem2 returns -errno or its own PMEM2_E_* codes (far below -4095). */
static int pmem2_errno(int r)
{
	return r < 0 && r > -4096 ? r : -EIO;
}

static bool range_ok(uint64_t off, uint64_t len)
{
	return len > 0 && off <= (uint64_t)INT64_MAX && len <= (uint64_t)INT64_MAX - off;
}

static int check_extents(const struct pgdax_pin *p)
{
	uint64_t align = p->info.dev_align, expect = p->map_off;
	bool writable = p->flags & PGDAX_PIN_RW;

	for (unsigned i = 0; i < p->nr; i++) {
		const struct pgdax_pin_extent *e = &p->ext[i];

		if (e->file_off != expect || e->len == 0 || e->len % align ||
		    e->file_off % align)
			return -EPROTO;
		if (e->hole) {
			if (writable)
				return -EPROTO;
		} else if (e->dev_off % align || e->dev_off > p->info.dev_size ||
			   e->len > p->info.dev_size - e->dev_off) {
			return -EPROTO;
		}
		expect += e->len;
	}
	return expect == p->map_off + p->map_len ? 0 : -EPROTO;
}

static int fetch_extents(struct pgdax_pin *p)
{
	struct pgdax_ioc_pin_extents *req;
	unsigned cursor = 0;
	int ret = 0;

	p->ext = calloc(p->nr ? p->nr : 1, sizeof(*p->ext));
	req = malloc(sizeof(*req));
	if (!p->ext || !req) {
		ret = -ENOMEM;
		goto out;
	}
	while (cursor < p->nr) {
		memset(req, 0, sizeof(*req));
		req->pin_id = p->id;
		req->cursor = cursor;
		if (ioctl(p->fd, PGDAX_IOC_PIN_EXTENTS, req) < 0) {
			ret = ioctl_err();
			goto out;
		}
		if (req->count == 0 || req->count > PGDAX_IOC_EXTENTS_BATCH ||
		    req->count > p->nr - cursor || req->next != cursor + req->count) {
			ret = -EPROTO;
			goto out;
		}
		for (unsigned i = 0; i < req->count; i++) {
			struct pgdax_pin_extent *e = &p->ext[cursor + i];

			e->file_off = req->ext[i].file_off;
			e->dev_off = req->ext[i].dev_off;
			e->len = req->ext[i].len;
			e->hole = !!(req->ext[i].flags & PGDAX_EXTENT_HOLE);
		}
		cursor = req->next;
	}
	ret = check_extents(p);
out:
	free(req);
	return ret;
}

static int get_info(int fd, struct pgdax_ioc_info *info)
{
	memset(info, 0, sizeof(*info));
	if (ioctl(fd, PGDAX_IOC_INFO, info) < 0)
		return ioctl_err();
	if (info->version != PGDAX_IOC_VERSION)
		return -EPROTO;
	info->dev_path[sizeof(info->dev_path) - 1] = '\0';
	if (!info->dev_align || (info->dev_align & (info->dev_align - 1)) ||
	    !info->dev_path[0])
		return -EPROTO;
	return 0;
}

static void unpin_id(int fd, uint64_t id)
{
	struct pgdax_ioc_unpin u = { .pin_id = id };

	(void)ioctl(fd, PGDAX_IOC_UNPIN, &u);
}

/* Pin through an already duplicated @dupfd whose INFO is known; on
 * success the pin owns dupfd. */
static int do_pin(int dupfd, const struct pgdax_ioc_info *info, uint64_t off,
		  uint64_t len, unsigned flags, struct pgdax_pin **out)
{
	struct pgdax_ioc_pin req = {
		.offset = off,
		.length = len,
		.flags = ((flags & PGDAX_PIN_RW) ? PGDAX_PIN_WRITE : 0) |
			 ((flags & PGDAX_PIN_EXTEND) ? PGDAX_PIN_EXTEND : 0),
	};
	struct pgdax_pin *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (ioctl(dupfd, PGDAX_IOC_PIN, &req) < 0) {
		ret = ioctl_err();
		free(p);
		if (ret == -EACCES)
			explain_eacces("pgdax_pin", dupfd, info->dev_path, flags & PGDAX_PIN_RW);
		else if (ret == -ENXIO)
			explain_enxio("pgdax_pin", dupfd, off, len, flags & PGDAX_PIN_RW,
				      flags & PGDAX_PIN_EXTEND, info->block_size);
		return ret;
	}
	p->fd = dupfd;
	p->pid = getpid();
	p->id = req.pin_id;
	p->flags = flags;
	p->map_off = req.map_offset;
	p->map_len = req.map_length;
	p->info = *info;
	p->nr = req.nr_extents;
	if (p->map_off > off || !range_ok(p->map_off, p->map_len) ||
	    p->map_off + p->map_len < off + len || p->map_len % info->dev_align ||
	    p->map_off % info->dev_align || p->nr == 0 ||
	    p->nr > p->map_len / info->dev_align) {
		ret = -EPROTO;
		goto fail;
	}
	ret = fetch_extents(p);
	if (ret)
		goto fail;
	*out = p;
	return 0;
fail:
	unpin_id(dupfd, p->id);
	free(p->ext);
	free(p);
	return ret;
}

static int pin_impl(int fd, off_t offset, size_t length, unsigned flags,
		    struct pgdax_pin **out)
{
	struct pgdax_ioc_info info;
	int dupfd, ret, saved = errno;

	errmsg[0] = '\0';
	if (!out)
		return failed("pgdax_pin", -EINVAL);
	*out = NULL;
	if (offset < 0 || !range_ok((uint64_t)offset, length) ||
	    (flags & ~(PGDAX_PIN_RW | PGDAX_PIN_EXTEND)) ||
	    ((flags & PGDAX_PIN_EXTEND) && !(flags & PGDAX_PIN_RW)))
		return failed("pgdax_pin", -EINVAL);
	dupfd = own_file_fd(fd);
	if (dupfd < 0) {
		ret = dupfd;
		goto out;
	}
	ret = get_info(dupfd, &info);
	if (!ret)
		ret = do_pin(dupfd, &info, (uint64_t)offset, length, flags, out);
	if (ret)
		lib_close(dupfd);
out:
	if (ret)
		failed("pgdax_pin", ret);
	errno = saved;
	return ret;
}

PGDAX_EXPORT int pgdax_pin(int fd, off_t offset, size_t length, unsigned flags,
			   struct pgdax_pin **out)
{
	return pin_impl(fd, offset, length, flags, out);
}

PGDAX_EXPORT const struct pgdax_pin_extent *pgdax_pin_extents(const struct pgdax_pin *p,
							  unsigned *count)
{
	if (count)
		*count = p ? p->nr : 0;
	return p ? p->ext : NULL;
}

PGDAX_EXPORT const char *pgdax_pin_device(const struct pgdax_pin *p)
{
	return p ? p->info.dev_path : NULL;
}

PGDAX_EXPORT uint64_t pgdax_pin_align(const struct pgdax_pin *p)
{
	return p ? p->info.dev_align : 0;
}

PGDAX_EXPORT void pgdax_pin_range(const struct pgdax_pin *p, uint64_t *file_off,
				  uint64_t *len)
{
	if (file_off)
		*file_off = p ? p->map_off : 0;
	if (len)
		*len = p ? p->map_len : 0;
}

PGDAX_EXPORT int pgdax_unpin(struct pgdax_pin **pp)
{
	struct pgdax_ioc_unpin u;
	struct pgdax_pin *p;
	int ret = 0, saved = errno;

	if (!pp || !*pp)
		return 0;
	p = *pp;
	*pp = NULL;
	if (pin_is_ours(p)) {
		memset(&u, 0, sizeof(u));
		u.pin_id = p->id;
		if (ioctl(p->fd, PGDAX_IOC_UNPIN, &u) < 0)
			ret = ioctl_err();
		lib_close(p->fd);
	}
	free(p->ext);
	free(p);
	errno = saved;
	return ret;
}

/* Reserve map_len bytes of address space aligned to @align. */
static char *reserve_area(size_t len, uint64_t align)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t slack = align > page ? align - page : 0;
	char *raw, *start;

	if (len > SIZE_MAX - slack)
		return NULL;
	raw = mmap(NULL, len + slack, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	start = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	if (start > raw)
		munmap(raw, (size_t)(start - raw));
	if (start + len < raw + len + slack)
		munmap(start + len, (size_t)(raw + len + slack - (start + len)));
	return start;
}

static int map_extent(struct pgdax_mapping *m, const struct pgdax_pin_extent *e,
		      struct pmem2_source *src)
{
	char *addr = m->area + (e->file_off - m->pin->map_off);
	struct flock fl = {
		.l_type = F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)e->dev_off,
		.l_len = (off_t)e->len,
	};
	void *p;

	if (e->hole) {
		p = mmap(addr, e->len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0);
		return p == MAP_FAILED ? -errno : 0;
	}
	/* Lock before mapping: a daemon probing for clients must never see
	 * a mapped range without its lock. */
	if (fcntl(m->devfd, F_OFD_SETLK, &fl) < 0)
		return -errno;
	p = mmap(addr, e->len, m->prot, MAP_SHARED | MAP_FIXED, m->devfd,
		 (off_t)e->dev_off);
	if (p == MAP_FAILED)
		return -errno;
	if (madvise(addr, e->len, MADV_DONTFORK) < 0)
		return -errno;
	if (src) {
		struct pmem2_map *pm;
		int r = pmem2_map_from_existing(&pm, src, addr, e->len,
						PMEM2_GRANULARITY_CACHE_LINE);

		if (r)
			return pmem2_errno(r);
		m->pmaps[m->npmaps++] = pm;
		m->persist = pmem2_get_persist_fn(pm);
	}
	return 0;
}

static void mapping_free(struct pgdax_mapping *m)
{
	bool ours = !m->pin || pin_is_ours(m->pin);

	for (unsigned i = 0; i < m->npmaps; i++)
		pmem2_map_delete(&m->pmaps[i]);
	free(m->pmaps);
	if (m->area)
		munmap(m->area, m->area_len);
	/* closing the device drops the OFD locks: only after munmap (a
	 * fork child's copy was closed at the fork) */
	if (m->devfd >= 0 && ours)
		lib_close(m->devfd);
	pgdax_unpin(&m->pin);
	free(m);
}

static int map_impl(int fd, off_t offset, size_t length, int prot, unsigned flags,
		    struct pgdax_mapping **out)
{
	struct pmem2_source *src = NULL;
	struct pgdax_ioc_info info;
	struct pgdax_mapping *m = NULL;
	struct stat st;
	int dupfd = -1, ret, saved = errno;
	bool writable;

	errmsg[0] = '\0';
	if (!out)
		return failed("pgdax_map", -EINVAL);
	*out = NULL;
	if (offset < 0 || !range_ok((uint64_t)offset, length) ||
	    (prot & ~(PROT_READ | PROT_WRITE)) || !(prot & PROT_READ) ||
	    (flags & ~PGDAX_MAP_EXTEND) ||
	    ((flags & PGDAX_MAP_EXTEND) && !(prot & PROT_WRITE)))
		return failed("pgdax_map", -EINVAL);
	writable = prot & PROT_WRITE;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->devfd = -1;
	m->prot = prot;
	m->offset = (uint64_t)offset;
	m->length = length;

	dupfd = own_file_fd(fd);
	if (dupfd < 0) {
		ret = dupfd;
		goto fail;
	}
	ret = get_info(dupfd, &info);
	if (ret)
		goto fail;
	/* The kernel decides who may map device memory. */
	m->devfd = own_dev_fd(info.dev_path, writable ? O_RDWR : O_RDONLY);
	if (m->devfd < 0) {
		ret = m->devfd;
		if (ret == -EACCES || ret == -EPERM)
			explain_eacces("pgdax_map", dupfd, info.dev_path, writable);
		goto fail;
	}
	if (fstat(m->devfd, &st) < 0) {
		ret = -errno;
		goto fail;
	}
	m->emulated = S_ISREG(st.st_mode);
	ret = do_pin(dupfd, &info, m->offset, length,
		     (writable ? PGDAX_PIN_RW : 0) |
		     ((flags & PGDAX_MAP_EXTEND) ? PGDAX_PIN_EXTEND : 0), &m->pin);
	if (ret) {
		if (errmsg[0])	/* do_pin explained it as pgdax_pin */
			memcpy(errmsg, "pgdax_map", 9);
		goto fail;
	}
	dupfd = -1;	/* owned by the pin now */
	if (m->pin->map_len > SIZE_MAX) {
		ret = -ENOMEM;
		goto fail;
	}
	m->area_len = (size_t)m->pin->map_len;
	m->area = reserve_area(m->area_len, info.dev_align);
	if (!m->area) {
		ret = -ENOMEM;
		goto fail;
	}
	if (!m->emulated) {
		m->pmaps = calloc(m->pin->nr, sizeof(*m->pmaps));
		if (!m->pmaps) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = pmem2_source_from_fd(&src, m->devfd);
		if (ret) {
			ret = pmem2_errno(ret);
			goto fail;
		}
	}
	for (unsigned i = 0; i < m->pin->nr; i++) {
		ret = map_extent(m, &m->pin->ext[i], src);
		if (ret)
			goto fail;
	}
	if (src)
		pmem2_source_delete(&src);
	if (fstat(m->pin->fd, &st) == 0) {
		m->st_dev = st.st_dev;
		m->st_ino = st.st_ino;
	}
	mapping_link(m);
	*out = m;
	errno = saved;
	return 0;
fail:
	if (src)
		pmem2_source_delete(&src);
	lib_close(dupfd);
	mapping_free(m);
	failed("pgdax_map", ret);
	errno = saved;
	return ret;
}

PGDAX_EXPORT int pgdax_map_flags(int fd, off_t offset, size_t length, int prot,
				 unsigned flags, struct pgdax_mapping **out)
{
	return map_impl(fd, offset, length, prot, flags, out);
}

PGDAX_EXPORT void *pgdax_mapping_addr(const struct pgdax_mapping *m)
{
	return m ? m->area + (m->offset - m->pin->map_off) : NULL;
}

PGDAX_EXPORT size_t pgdax_mapping_length(const struct pgdax_mapping *m)
{
	return m ? m->length : 0;
}

PGDAX_EXPORT int pgdax_mapping_fd(const struct pgdax_mapping *m)
{
	if (!m)
		return -EINVAL;
	return pin_is_ours(m->pin) ? m->pin->fd : -EBADF;
}

PGDAX_EXPORT int pgdax_pin_fd(const struct pgdax_pin *p)
{
	if (!p)
		return -EINVAL;
	return pin_is_ours(p) ? p->fd : -EBADF;
}

/* Persist [lo, hi) of the area (offsets in the area), extent by extent. */
static int persist_area(struct pgdax_mapping *m, uint64_t lo, uint64_t hi)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	for (unsigned i = 0; i < m->pin->nr; i++) {
		const struct pgdax_pin_extent *e = &m->pin->ext[i];
		uint64_t s = e->file_off - m->pin->map_off, t = s + e->len;

		if (e->hole || t <= lo || s >= hi)
			continue;
		if (s < lo)
			s = lo;
		if (t > hi)
			t = hi;
		if (m->emulated) {
			uint64_t a = s & ~(uint64_t)(page - 1);

			if (msync(m->area + a, (size_t)(t - a), MS_SYNC) < 0)
				return -errno;
		} else if (m->persist) {
			m->persist(m->area + s, (size_t)(t - s));
		}
	}
	return 0;
}

static int sync_ioctl(int fd, uint64_t off, uint64_t len)
{
	struct pgdax_ioc_sync s = { .offset = off, .length = len };

	if (ioctl(fd, PGDAX_IOC_SYNC, &s) < 0)
		return ioctl_err();
	return 0;
}

PGDAX_EXPORT int pgdax_mapping_sync(struct pgdax_mapping *m, size_t offset,
				    size_t length)
{
	uint64_t lo, hi, start;
	int ret, saved = errno;

	if (!m)
		return -EINVAL;
	if (!pin_is_ours(m->pin))
		return -EBADF;	/* a fork child: not mapped here */
	if (offset > m->length || length > m->length - offset)
		return -EINVAL;
	if (!length)
		length = m->length - offset;
	if (!length)
		return 0;
	start = m->offset - m->pin->map_off;	/* caller's byte 0 in the area */
	lo = start + offset;
	hi = lo + length;
	ret = 0;
	if (m->prot & PROT_WRITE)
		ret = persist_area(m, lo, hi);
	if (!ret)
		ret = sync_ioctl(m->pin->fd, m->offset + offset, length);
	errno = saved;
	return ret;
}

/* Persist the stores of this process's writable mappings of the file
 * (@dev, @ino) that fall in file range [lo, hi). */
static int persist_file_range(dev_t dev, ino_t ino, uint64_t lo, uint64_t hi)
{
	int ret = 0;

	pthread_mutex_lock(&mappings_lock);
	for (struct pgdax_mapping *m = mappings; m && !ret; m = m->next) {
		uint64_t s = m->pin->map_off, e = s + m->pin->map_len;

		if (m->st_dev != dev || m->st_ino != ino || !(m->prot & PROT_WRITE))
			continue;
		if (s < lo)
			s = lo;
		if (e > hi)
			e = hi;
		if (s < e)
			ret = persist_area(m, s - m->pin->map_off, e - m->pin->map_off);
	}
	pthread_mutex_unlock(&mappings_lock);
	return ret;
}

PGDAX_EXPORT int pgdax_sync(int fd, off_t offset, size_t length)
{
	struct stat st;
	int ret, saved = errno;

	if (offset < 0 || (length && !range_ok((uint64_t)offset, length)))
		return -EINVAL;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = persist_file_range(st.st_dev, st.st_ino, (uint64_t)offset,
				 length ? (uint64_t)offset + length : UINT64_MAX);
	if (!ret)
		ret = sync_ioctl(fd, (uint64_t)offset, length);
out:
	errno = saved;
	return ret;
}

PGDAX_EXPORT int pgdax_unmap(struct pgdax_mapping **mp)
{
	struct pgdax_mapping *m;
	struct pgdax_ioc_unpin u;
	int ret = 0, r, saved = errno;

	if (!mp || !*mp)
		return 0;
	m = *mp;
	*mp = NULL;
	if (!pin_is_ours(m->pin)) {
		/* a fork child's copy: nothing mapped, pinned or open here */
		mapping_free(m);
		errno = saved;
		return 0;
	}
	mapping_unlink(m);
	if (m->prot & PROT_WRITE) {
		ret = persist_area(m, 0, m->area_len);
		/* visibility to read(2): the pinned range, up to the daemon */
		r = sync_ioctl(m->pin->fd, m->pin->map_off, m->pin->map_len);
		if (!ret)
			ret = r;
	}
	for (unsigned i = 0; i < m->npmaps; i++)
		pmem2_map_delete(&m->pmaps[i]);
	m->npmaps = 0;
	munmap(m->area, m->area_len);
	m->area = NULL;
	lib_close(m->devfd);
	m->devfd = -1;
	memset(&u, 0, sizeof(u));
	u.pin_id = m->pin->id;
	if (ioctl(m->pin->fd, PGDAX_IOC_UNPIN, &u) < 0 && !ret)
		ret = ioctl_err();
	lib_close(m->pin->fd);
	free(m->pin->ext);
	free(m->pin);
	m->pin = NULL;
	mapping_free(m);
	errno = saved;
	return ret;
}

PGDAX_EXPORT int pgdax_map(int fd, off_t offset, size_t length, int prot,
			   struct pgdax_mapping **out)
{
	return map_impl(fd, offset, length, prot, 0, out);
}
