/* SPDX-License-Identifier: MIT */
/*
 * The device: open, validate, map whole with libpmem2, close; and the
 * persist wrappers that every durable store goes through.
 *
 * Open order (each step undone by the goto labels in reverse):
 *   resolve name -> check kind (stat, sysfs) -> open fd -> flock (EXCL)
 *   -> pmem2 source -> size/alignment checks -> pmem2 config + map
 *   -> persist functions -> NUMA, badblocks -> SIGBUS guard -> crash harness.
 *
 * The persist wrappers are the hot path: one predictable branch on
 * dev->crash (false unless a PGDAX_CRASH_* variable was set at open) and one
 * indirect call into libpmem2. No locks, no allocation.
 */
#include "config.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dev_internal.h"
#include "util/log.h"

/*
 * The one place libpmem2 errors become errno values. libpmem2 returns
 * either -errno or one of its PMEM2_E_* codes (<= PMEM2_E_UNKNOWN);
 * pmem2_err_to_errno() is not exported by the libpmem2 1.12 shipped with
 * Debian 12, hence our own table.
 */
static int pmem2_to_errno(int ret)
{
	if (ret > PMEM2_E_UNKNOWN && ret < 0)
		return -ret;
	switch (ret) {
	case PMEM2_E_NOSUPP:
	case PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED:
	case PMEM2_E_GRANULARITY_NOT_SUPPORTED:
		return ENOTSUP;
	case PMEM2_E_INVALID_FILE_TYPE:
	case PMEM2_E_DAX_REGION_NOT_FOUND:
		return ENODEV;
	case PMEM2_E_NO_ACCESS:
		return EACCES;
	case PMEM2_E_IO_FAIL:
		return EIO;
	case PMEM2_E_MAP_EXISTS:
	case PMEM2_E_MAPPING_EXISTS:
		return EEXIST;
	default:
		return EINVAL;
	}
}

int dev_pmem2_err(int ret, const char *what, const char *path)
{
	int e = pmem2_to_errno(ret);

	pgdax_err("%s failed for device %s: %s", what, path, pmem2_errormsg());
	return -e;
}

static const char *gran_name(enum pmem2_granularity g)
{
	switch (g) {
	case PMEM2_GRANULARITY_BYTE: return "byte";
	case PMEM2_GRANULARITY_CACHE_LINE: return "cache-line";
	default: return "page";
	}
}

/*
 * The descriptor pgdax_dev_fd() hands out. A devdax refuses read(2),
 * write(2), ftruncate and MAP_PRIVATE by itself; a regular file would allow
 * them all, so an emulated device gives out the same file opened with
 * access mode 3 (open(2): permission to read and write is checked, the
 * descriptor can do neither; fcntl locks and fstat work). Without write
 * permission (a read-only open by a user who may only read) O_PATH is the
 * fallback: it refuses even the locks.
 */
static int open_pub_fd(struct pgdax_dev *dev)
{
	char p[64];
	int fd;

	if (dev->info.kind != PGDAX_DEV_EMULATED)
		return dev->fd;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", dev->fd);
	fd = open(p, O_ACCMODE | O_CLOEXEC);
	if (fd < 0)
		fd = open(p, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int open_fd(const char *path, unsigned flags, enum pgdax_dev_kind kind)
{
	struct stat st;
	int fd, rc;

	fd = open(path, ((flags & PGDAX_DEV_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
			pgdax_err("permission denied opening device %s %s: run as root, grant access "
				  "(chown/chmod) or open it read-only", path,
				  (flags & PGDAX_DEV_RDONLY) ? "read-only" : "read-write");
		else
			pgdax_err("cannot open device %s: %s", path, strerror(-rc));
		return rc;
	}
	/* The name may have changed under us since dev_check_kind(). */
	if (fstat(fd, &st) < 0 ||
	    (kind == PGDAX_DEV_EMULATED ? !S_ISREG(st.st_mode) : !S_ISCHR(st.st_mode))) {
		pgdax_err("device %s changed while it was being opened", path);
		close(fd);
		return -ENODEV;
	}
	return fd;
}

/* Alignment of the device: devdax from libpmem2/sysfs; emulated from the
 * option, else 4K until the volume gives its own (pgdax_dev_use_align). */
static int dev_alignment(struct pgdax_dev *dev, uint64_t align_override)
{
	size_t a = 0;
	uint64_t v;
	int rc;

	if (align_override && !dev_align_valid(align_override)) {
		pgdax_err("alignment %" PRIu64 " for %s is not 4K, 2M or 1G", align_override,
			  dev->info.path);
		return -EINVAL;
	}
	if (dev->info.kind == PGDAX_DEV_DEVDAX) {
		rc = pmem2_source_alignment(dev->src, &a);
		if (rc)
			rc = dev_devdax_sysfs_align(dev->info.path, &v);
		else
			v = a;
		if (rc) {
			pgdax_err("cannot read the alignment of %s: %s", dev->info.path,
				  pmem2_errormsg());
			return -EIO;
		}
		if (align_override && align_override != v)
			pgdax_warn("%s has alignment %" PRIu64 "; ignoring the requested %" PRIu64,
				   dev->info.path, v, align_override);
		dev->info.align = v;
		return 0;
	}
	dev->info.align = align_override ? align_override : 4096;
	return 0;
}

/*
 * Emulated devices on tmpfs (/dev/shm, the usual place): the file *is*
 * memory, shmem's fsync is a no-op, so what libpmem2 does for page
 * granularity (a cache-line flush loop, then msync) buys nothing there and
 * costs ~200 ns per barrier (msync syscall) and ~400 ns per 4K memcpy. A
 * store is durable (survives kill -9, visible to the next opener) once it
 * is globally visible, so on tmpfs persist = store fence and memcpy =
 * memcpy + fence. Any other filesystem keeps libpmem2's msync path.
 */
static void shm_persist(const void *addr, size_t len)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void shm_flush(const void *addr, size_t len)
{
}

static void shm_drain(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void *shm_memcpy(void *dst, const void *src, size_t len, unsigned flags)
{
	memcpy(dst, src, len);
	if (!(flags & PMEM2_F_MEM_NODRAIN))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return dst;
}

static void *shm_memset(void *dst, int c, size_t len, unsigned flags)
{
	memset(dst, c, len);
	if (!(flags & PMEM2_F_MEM_NODRAIN))
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return dst;
}

static bool on_tmpfs(int fd)
{
	struct statfs sfs;

	return !fstatfs(fd, &sfs) && sfs.f_type == TMPFS_MAGIC;
}

static int dev_map(struct pgdax_dev *dev)
{
	struct pmem2_config *cfg = NULL;
	int rc;

	rc = pmem2_config_new(&cfg);
	if (rc)
		return dev_pmem2_err(rc, "pmem2_config_new", dev->info.path);
	rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	if (!rc && (dev->flags & PGDAX_DEV_RDONLY))
		rc = pmem2_config_set_protection(cfg, PMEM2_PROT_READ);
	if (rc) {
		rc = dev_pmem2_err(rc, "pmem2_config", dev->info.path);
		goto out;
	}
	rc = pmem2_map_new(&dev->map, cfg, dev->src);
	if (rc) {
		rc = dev_pmem2_err(rc, "mapping (pmem2_map_new)", dev->info.path);
		goto out;
	}
	dev->base = pmem2_map_get_address(dev->map);
	dev->persist = pmem2_get_persist_fn(dev->map);
	dev->flush = pmem2_get_flush_fn(dev->map);
	dev->drain = pmem2_get_drain_fn(dev->map);
	dev->memcpy = pmem2_get_memcpy_fn(dev->map);
	dev->memset = pmem2_get_memset_fn(dev->map);
	if (dev->info.kind == PGDAX_DEV_EMULATED && on_tmpfs(dev->fd)) {
		dev->persist = shm_persist;
		dev->flush = shm_flush;
		dev->drain = shm_drain;
		dev->memcpy = shm_memcpy;
		dev->memset = shm_memset;
		dev->shm = true;
	} else {
		dev->count_pmem2 = true;
	}
	dev->info.granularity = gran_name(pmem2_map_get_store_granularity(dev->map));
	dev->info.needs_flush =
		pmem2_map_get_store_granularity(dev->map) != PMEM2_GRANULARITY_BYTE;
out:
	pmem2_config_delete(&cfg);
	return rc;
}

static int dev_size(struct pgdax_dev *dev)
{
	size_t size;
	int rc;

	rc = pmem2_source_size(dev->src, &size);
	if (rc)
		return dev_pmem2_err(rc, "reading the size", dev->info.path);
	if (size < PGDAX_DEV_MIN_SIZE) {
		pgdax_err("device %s is %zu bytes; a device must be at least 16 MiB "
			  "(resize the emulated file with mkfs.pgdaxfs --size or truncate -s)",
			  dev->info.path, size);
		return -EINVAL;
	}
	dev->size = dev->info.size = size;
	return 0;
}

int pgdax_dev_open(const char *name, unsigned flags, uint64_t align_override,
		   struct pgdax_dev **out)
{
	struct pgdax_dev *dev;
	char *tmp, *base;
	int rc, node;

	if (!out)
		return -EINVAL;
	*out = NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->fd = -1;
	dev->pub_fd = -1;
	dev->shadow_fd = -1;
	dev->flags = flags;
	pthread_mutex_init(&dev->bad_lock, NULL);
	pthread_mutex_init(&dev->watch_lock, NULL);
	dev->source_fd = -1;
	atomic_init(&dev->fault_off, UINT64_MAX);
	dev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->wake_fd < 0) {
		rc = -errno;
		goto err_free;
	}

	rc = pgdax_dev_resolve(name, dev->info.path, sizeof(dev->info.path));
	if (rc)
		goto err_free;
	rc = dev_check_kind(dev->info.path, &dev->info.kind);
	if (rc)
		goto err_free;
	tmp = strdup(dev->info.path);
	if (!tmp) {
		rc = -ENOMEM;
		goto err_free;
	}
	base = basename(tmp);
	snprintf(dev->info.name, sizeof(dev->info.name), "%s", base);
	free(tmp);

	rc = dev->fd = open_fd(dev->info.path, flags, dev->info.kind);
	if (rc < 0)
		goto err_free;
	if (flags & PGDAX_DEV_EXCL) {
		rc = dev_lock_excl(dev->fd, dev->info.path);
		if (rc)
			goto err_close;
	}
	rc = dev->pub_fd = open_pub_fd(dev);
	if (rc < 0)
		goto err_close;
	rc = pmem2_source_from_fd(&dev->src, dev->fd);
	if (rc) {
		rc = dev_pmem2_err(rc, "pmem2_source_from_fd", dev->info.path);
		goto err_close;
	}
	rc = dev_size(dev);
	if (rc)
		goto err_src;
	rc = dev_alignment(dev, align_override);
	if (rc)
		goto err_src;
	if (dev->size % dev->info.align) {
		pgdax_err("device %s size %" PRIu64 " is not a multiple of its alignment %" PRIu64
			  " (resize it to a multiple, or choose a smaller --align)",
			  dev->info.path, dev->size, dev->info.align);
		rc = -EINVAL;
		goto err_src;
	}
	rc = dev_map(dev);
	if (rc)
		goto err_src;

	dev->info.numa_node = -1;
	if (dev->info.kind == PGDAX_DEV_DEVDAX && !pmem2_source_numa_node(dev->src, &node))
		dev->info.numa_node = node;
	dev_badblocks_scan(dev);

	rc = dev_guard_install();
	if (rc)
		goto err_map;
	dev_watch_register(dev);
	rc = dev_crash_open(dev);
	if (rc)
		goto err_map;
	pgdax_dbg("opened %s (%s): %" PRIu64 " bytes, align %" PRIu64 ", %s granularity",
		  dev->info.path, dev->info.kind == PGDAX_DEV_DEVDAX ? "devdax" : "emulated",
		  dev->size, dev->info.align, dev->info.granularity);
	*out = dev;
	return 0;

err_map:
	dev_watch_unregister(dev);
	pmem2_map_delete(&dev->map);
err_src:
	pmem2_source_delete(&dev->src);
err_close:
	if (dev->pub_fd >= 0 && dev->pub_fd != dev->fd)
		close(dev->pub_fd);
	close(dev->fd);	/* drops the flock too */
err_free:
	dev_badranges_free(dev);
	pthread_mutex_destroy(&dev->bad_lock);
	pthread_mutex_destroy(&dev->watch_lock);
	if (dev->wake_fd >= 0)
		close(dev->wake_fd);
	free(dev);
	return rc;
}

void pgdax_dev_close(struct pgdax_dev **devp)
{
	struct pgdax_dev *dev;

	if (!devp || !*devp)
		return;
	dev = *devp;
	if (dev->count_pmem2)
		pgdax_notice("closing %s: %" PRIu64 " persists and %" PRIu64
			     " flushes went through libpmem2 (%s granularity)", dev->info.path,
			     (uint64_t)atomic_load_explicit(&dev->pmem2_persists, memory_order_relaxed),
			     (uint64_t)atomic_load_explicit(&dev->pmem2_flushes, memory_order_relaxed),
			     dev->info.granularity);
	dev_watch_stop(dev);
	dev_crash_close(dev);
	dev_watch_unregister(dev);	/* before the range can be reused */
	if (dev->map && pmem2_map_delete(&dev->map))
		pgdax_err("unmapping %s failed: %s", dev->info.path, pmem2_errormsg());
	pmem2_source_delete(&dev->src);
	if (dev->pub_fd >= 0 && dev->pub_fd != dev->fd)
		close(dev->pub_fd);
	if (dev->fd >= 0)
		close(dev->fd);
	dev_badranges_free(dev);
	pthread_mutex_destroy(&dev->bad_lock);
	pthread_mutex_destroy(&dev->watch_lock);
	if (dev->wake_fd >= 0)
		close(dev->wake_fd);
	free(dev);
	*devp = NULL;
}

const struct pgdax_dev_info *pgdax_dev_info(const struct pgdax_dev *dev)
{
	return &dev->info;
}

void *pgdax_dev_base(const struct pgdax_dev *dev)
{
	return dev->base;
}

uint64_t pgdax_dev_size(const struct pgdax_dev *dev)
{
	return dev->size;
}

int pgdax_dev_fd(const struct pgdax_dev *dev)
{
	return dev->pub_fd;
}

int pgdax_dev_read(struct pgdax_dev *dev, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;

	if (off > dev->size || len > dev->size - off)
		return -EINVAL;
	while (dev->info.kind == PGDAX_DEV_EMULATED && done < len) {
		ssize_t r = pread(dev->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	if (done == len)
		return 0;
	return pgdax_dev_copy_guarded(dev, (char *)buf + done, dev->base + off + done,
				      len - done, false);
}



uint64_t pgdax_dev_barriers(const struct pgdax_dev *dev)
{
	return dev && dev->crash ? dev_crash_count() : 0;
}

/* ---- hot path: one branch on dev->crash, one call into libpmem2 ----
 * (plus, off tmpfs, a relaxed count of the libpmem2 calls: dev_count) */

static inline void dev_count(struct pgdax_dev *dev, atomic_uint_fast64_t *c)
{
	if (dev->count_pmem2)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void pgdax_dev_persist(struct pgdax_dev *dev, const void *addr, size_t len)
{
	dev_count(dev, &dev->pmem2_persists);
	if (__builtin_expect(dev->crash, 0)) {
		dev_crash_barrier(dev);
		dev->persist(addr, len);
		dev_crash_persisted(dev, addr, len);
		return;
	}
	dev->persist(addr, len);
}

void pgdax_dev_flush(struct pgdax_dev *dev, const void *addr, size_t len)
{
	dev_count(dev, &dev->pmem2_flushes);
	dev->flush(addr, len);
	if (__builtin_expect(dev->crash, 0))
		dev_crash_flushed(dev, addr, len);
}

void pgdax_dev_drain(struct pgdax_dev *dev)
{
	if (__builtin_expect(dev->crash, 0)) {
		dev_crash_barrier(dev);
		dev->drain();
		dev_crash_drained(dev);
		return;
	}
	dev->drain();
}

void pgdax_dev_memcpy_persist(struct pgdax_dev *dev, void *dst, const void *src, size_t len)
{
	dev_count(dev, &dev->pmem2_persists);
	if (__builtin_expect(dev->crash, 0)) {
		dev_crash_barrier(dev);
		dev->memcpy(dst, src, len, 0);
		dev_crash_persisted(dev, dst, len);
		return;
	}
	dev->memcpy(dst, src, len, 0);
}

/*
 * Zeroing a large range of an emulated device on tmpfs. Storing zeros
 * costs a page fault per 4K page not yet mapped here (this VM's faults
 * are slow: 1 GiB of fresh blocks took ~20 s where tmpfs's own fallocate
 * takes 0.3 s), and the kernel clears each such page before we clear it
 * again. So the whole pages of the range are punched out of the device
 * file (they read as zero from then on, in every mapping) and allocated
 * again with fallocate(2): the memory is reserved, so a later store
 * cannot SIGBUS on a full /dev/shm, and the cost is what tmpfs's own
 * fallocate costs plus freeing the old pages. (Looking for the holes
 * first with SEEK_DATA was tried: shmem walks page by page through
 * fallocated-but-unwritten pages, quadratic over a large fallocate.)
 * Both calls complete before we return, so the zeros are as durable as a
 * persisted store. If the punch fails, or the mapping is fenced (no
 * longer the file), zeros are stored; if only the re-allocation fails
 * the range is still zero, just not reserved.
 */
/* Below this a memset is cheaper: the pages of a small range are likely
 * mapped here already (recently written blocks, a zero-range over data),
 * and punching them would make the next store fault each one again (the
 * fallocate-heavy mix took 1.5x the CPU with 64 KiB). Fallocate's fresh
 * extents are 2 MiB. */
#define SHM_HOLE_MIN	(1u << 20)

static void shm_zero(struct pgdax_dev *dev, uint8_t *dst, size_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t pos = (uint64_t)(dst - dev->base), end = pos + len;
	uint64_t a = (pos + pg - 1) & ~(pg - 1), b = end & ~(pg - 1);

	if (b <= a || b - a < SHM_HOLE_MIN || atomic_load(&dev->fenced) ||
	    fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a,
		      (off_t)(b - a))) {
		dev->memset(dst, 0, len, 0);
		return;
	}
	/* Not reserving them again leaves the range zero but unbacked, as
	 * every never-written page of a sparse emulated device is: a store
	 * there on a full /dev/shm faults like one into any such page (the
	 * device is then lost, README Limits). Said, once. */
	if (fallocate(dev->fd, 0, (off_t)a, (off_t)(b - a)) && !dev->shm_nospace_said) {
		dev->shm_nospace_said = true;
		pgdax_warn("%s: cannot reserve %llu bytes of /dev/shm again after zeroing them "
			   "(%s): stores there fail if it stays full", dev->info.path,
			   (unsigned long long)(b - a), strerror(errno));
	}
	memset(dst, 0, a - pos);
	memset(dev->base + b, 0, end - b);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void dev_memset(struct pgdax_dev *dev, void *dst, int c, size_t len)
{
	if (c == 0 && dev->shm && len >= SHM_HOLE_MIN)
		shm_zero(dev, dst, len);
	else
		dev->memset(dst, c, len, 0);
}

void pgdax_dev_memset_persist(struct pgdax_dev *dev, void *dst, int c, size_t len)
{
	dev_count(dev, &dev->pmem2_persists);
	if (__builtin_expect(dev->crash, 0)) {
		dev_crash_barrier(dev);
		dev_memset(dev, dst, c, len);
		dev_crash_persisted(dev, dst, len);
		return;
	}
	dev_memset(dev, dst, c, len);
}

void pgdax_dev_memcpy_nodrain(struct pgdax_dev *dev, void *dst, const void *src, size_t len)
{
	dev_count(dev, &dev->pmem2_flushes);
	dev->memcpy(dst, src, len, PMEM2_F_MEM_NODRAIN);
	if (__builtin_expect(dev->crash, 0))
		dev_crash_flushed(dev, dst, len);
}
