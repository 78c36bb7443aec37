/* SPDX-License-Identifier: MIT */
/*
 * libpgdax public API: direct (DAX) access to files on a pgdaxfs mount.
 *
 * A file on pgdaxfs lives in device memory (a devdax device or an emulated
 * device file). pgdax_map() maps a range of a file straight from the device
 * into the caller: loads and stores, no copy, no upcall to the daemon.
 *
 * How it works and what it costs
 *   pgdax_map(fd, ...) asks the daemon, through an ioctl on @fd, to *pin*
 *   the extents of the range: the daemon takes one reference per extent
 *   (DESIGN.md section 3), so those device bytes are neither freed, nor
 *   reused for another file, nor released at unmount while the pin exists.
 *   The library then opens the device itself (the kernel's permission on
 *   the device node decides who may map device memory; the daemon never
 *   passes a descriptor out) and maps each extent into one contiguous
 *   virtual area. Extents are aligned to the device alignment (4 KiB, 2 MiB
 *   or 1 GiB) and belong to this file alone, so a mapping never exposes a
 *   byte of another file. The mapped range is the requested one rounded out
 *   to that alignment; the returned address points at @offset. Pinning a
 *   small file may move its data to an aligned extent (one alignment unit
 *   of device space, e.g. 2 MiB).
 *
 * Lifetime
 *   A pin lives on an *open file* (an open file description) of the file.
 *   The library opens the file again for it (through /proc/self/fd, with
 *   @fd's access mode and O_APPEND) and keeps that close-on-exec descriptor
 *   from map to unmap, so the caller may close @fd, and the open file is
 *   the library's alone. The pins end at pgdax_unmap() / pgdax_unpin(), or
 *   when the process that took them dies (the kernel closes the library's
 *   descriptor, FUSE sends RELEASE and the daemon drops every pin of that
 *   open file), whatever happens to @fd and to children. If that open is
 *   refused (the file's permissions changed since @fd was opened, /proc not
 *   mounted), the library keeps a duplicate of @fd instead: the pin then
 *   lives on @fd's open file, i.e. also as long as any other descriptor of
 *   it (the caller's, or one passed to another process) stays open.
 *
 * fork()
 *   A pin is not inherited: it ends when its process dies even if a child
 *   forked from it lives on. Device mappings are marked MADV_DONTFORK (a
 *   child does not inherit them: accessing the range in the child faults),
 *   and a pthread_atfork() child handler closes the library's descriptors
 *   in the child (Linux has no O_CLOFORK as of 6.x), so the child holds
 *   neither the open file nor the device's OFD locks. Handles the child
 *   inherited are dead there: pgdax_unmap()/pgdax_unpin() only free their
 *   memory (0), pgdax_mapping_fd()/pgdax_pin_fd() and pgdax_mapping_sync()
 *   return -EBADF, and pgdax_sync() ignores them. A child that needs the
 *   data calls pgdax_map() itself. A child made without fork() (raw
 *   clone(2), not vfork/posix_spawn, which exec) runs no handler and keeps
 *   the descriptors until it execs or exits. A fork() waits for pins and
 *   mappings being created by other threads (at most one open each).
 *
 * Visibility and durability (exactly)
 *   - Stores through a writable mapping are in device memory at once:
 *     other pgdax mappings of the same range (in any process) see them
 *     immediately, as with any shared memory.
 *   - They are *durable* (survive a crash / power cut of the device) only
 *     after pgdax_sync() or pgdax_unmap() of a range covering them returns
 *     0 (libpmem2 persist: CPU cache flush on devdax, msync on an emulated
 *     device).
 *   - They are *visible to read(2) and to kernel mmap()* of the file on the
 *     mount no later than pgdax_sync()/pgdax_unmap() returns: those ask the
 *     daemon to drop the kernel's cached pages of the range. The kernel may
 *     serve read(2) from pages it cached earlier until then. Pinning a range
 *     also drops them, so a new mapping starts coherent with earlier write(2)s.
 *   - write(2) through the mount to a pinned range is written through to
 *     device memory before write(2) returns; mappings see it immediately.
 *   - A writable pin over a hole allocates first (like a write fault).
 *
 * End of file (as mmap(2), unless asked otherwise)
 *   A writable mapping never changes the file size by itself. It may reach
 *   to the end of the block holding the last byte (mapping 4096 bytes of a
 *   3-byte file is fine and the file stays 3 bytes; stores past EOF in that
 *   block are not file data); a writable range past that block fails with
 *   -ENXIO, as POSIX mmap(2) answers for "addresses in the range are invalid
 *   for the object". To grow the file to offset+length instead (a write
 *   fault past EOF), pass PGDAX_MAP_EXTEND to pgdax_map_flags() or
 *   PGDAX_PIN_EXTEND to pgdax_pin(). Read-only mappings past EOF see zeros.
 *   (Up to libpgdax.so.0 every writable map or pin grew the file.)
 *
 * Layout breaks (the lease-break analogue)
 *   truncate(2)/fallocate(PUNCH_HOLE) over a pinned range do not pull memory
 *   from under a mapping: new pins in the range are refused (-EBUSY), the
 *   holders are notified when the mount has -o break_notify (poll(2) on the
 *   file descriptor reports POLLPRI: see pgdax_mapping_fd()) and the
 *   truncate waits for the pins to go, up to
 *   the break_timeout mount option; then it fails with EBUSY and changes
 *   nothing. A holder that sees POLLPRI should unmap.
 *
 * Conventions: functions return 0 or a negative errno (and leave errno
 * alone); a mapping handle is freed by pgdax_unmap(), which NULLs it.
 * Thread safety: distinct handles may be used concurrently; one handle must
 * not be unmapped while another thread uses it.
 */
#ifndef PGDAX_H
#define PGDAX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PGDAX_EXPORT
#define PGDAX_EXPORT __attribute__((visibility("default")))
#endif

/* The library version, "MAJOR.MINOR.PATCH". */
const char *pgdax_version(void);

struct pgdax_mapping;

/*
 * Map [offset, offset+length) of the file open as @fd on a pgdaxfs mount.
 * @prot is PROT_READ or PROT_READ|PROT_WRITE (writable needs @fd open for
 * writing). Returns 0 and a handle in *out, or:
 *   -EINVAL  bad arguments (length 0, overflow, unknown prot bits)
 *   -ENOTTY  @fd is not on a pgdaxfs mount
 *   -EBADF   @fd is not an open descriptor
 *   -EACCES  @fd's access does not allow the mapping (as for mmap(2): read
 *            access always, O_RDWR and no O_APPEND for PROT_WRITE), or the
 *            caller may not open the device node with that access (DAX
 *            maps device memory: the device node's own permission decides;
 *            pgdax_errormsg() names the node, its owner, group and mode)
 *   -EBUSY   the range's layout is being broken (truncate/punch waiting)
 *   -ENXIO   the filesystem is being unmounted (no new pins), or a writable
 *            range ends past the block holding EOF without PGDAX_MAP_EXTEND
 *            (pgdax_errormsg() says which)
 *   -ENOSPC  a writable pin needed space (or an aligned extent) it could not get
 *   or another errno from the daemon, open(2) or mmap(2).
 * pgdax_map() is pgdax_map_flags() with @flags 0.
 */
int pgdax_map(int fd, off_t offset, size_t length, int prot,
	      struct pgdax_mapping **out);

/* pgdax_map_flags(): grow the file to offset+length if it is shorter
 * (needs PROT_WRITE; -EINVAL otherwise), instead of -ENXIO. */
#define PGDAX_MAP_EXTEND	(1u << 0)

/* pgdax_map() with PGDAX_MAP_* @flags (unknown bits: -EINVAL). */
int pgdax_map_flags(int fd, off_t offset, size_t length, int prot, unsigned flags,
		    struct pgdax_mapping **out);

/*
 * Why the calling thread's last failed pgdax_map*()/pgdax_pin() failed, in
 * words (what is missing and how to get it), or "" if none has failed.
 * Valid until that thread's next call into the library.
 */
const char *pgdax_errormsg(void);
/* Address of byte @offset of the file (the offset given to pgdax_map). */
void *pgdax_mapping_addr(const struct pgdax_mapping *m);
/* Length given to pgdax_map(). */
size_t pgdax_mapping_length(const struct pgdax_mapping *m);
/*
 * The library's descriptor of the file behind @m (close-on-exec; do not
 * close it): poll(2) it for POLLPRI to learn of a layout break (the pins
 * live on its open file, not on the descriptor given to pgdax_map).
 * -EINVAL for NULL, -EBADF in a fork child.
 */
int pgdax_mapping_fd(const struct pgdax_mapping *m);
/*
 * Make [offset, offset+length) of the mapping (offsets relative to the
 * address returned by pgdax_mapping_addr; length 0 = to the end) durable,
 * then visible to read(2) through the mount. 0 or a negative errno.
 */
int pgdax_mapping_sync(struct pgdax_mapping *m, size_t offset, size_t length);
/*
 * Persist (if writable), unmap and unpin; NULLs *m. NULL-safe. Returns 0,
 * or a negative errno if persisting or unpinning reported an error (the
 * mapping is gone either way).
 */
int pgdax_unmap(struct pgdax_mapping **m);

/*
 * pgdax_mapping_sync() by file: make file range [offset, offset+length) of
 * @fd (length 0 = to the end) durable -- the stores this process made into
 * it through any of its writable pgdax mappings of that file -- then
 * visible to read(2) through the mount. Stores made through another
 * process's mappings are that process's to persist.
 */
int pgdax_sync(int fd, off_t offset, size_t length);

/* Pins without mapping, for engines that map the device themselves. */
struct pgdax_pin;

struct pgdax_pin_extent {
	uint64_t file_off;	/* multiple of the device alignment */
	uint64_t dev_off;	/* offset in the device; 0 for a hole */
	uint64_t len;		/* multiple of the device alignment */
	unsigned hole;		/* 1: no device memory (read-only pin), reads as zeros */
};

/* Pin writable: holes in the range are allocated first. */
#define PGDAX_PIN_RW	(1u << 0)
/* With PGDAX_PIN_RW: grow the file to offset+length (PGDAX_MAP_EXTEND). */
#define PGDAX_PIN_EXTEND	(1u << 1)

/*
 * Pin [offset, offset+length) of @fd (rounded out to the device alignment).
 * Errors as pgdax_map(). The pin holds its own descriptor as a map does.
 */
int pgdax_pin(int fd, off_t offset, size_t length, unsigned flags,
	      struct pgdax_pin **out);
/* The extents, in file order; valid until pgdax_unpin(). */
const struct pgdax_pin_extent *pgdax_pin_extents(const struct pgdax_pin *p,
					     unsigned *count);
/* Device path (to open and map yourself), alignment and pinned range. */
const char *pgdax_pin_device(const struct pgdax_pin *p);
uint64_t pgdax_pin_align(const struct pgdax_pin *p);
void pgdax_pin_range(const struct pgdax_pin *p, uint64_t *file_off, uint64_t *len);
/*
 * The library's descriptor of the file behind @p (close-on-exec; do not
 * close it): poll(2) it for POLLPRI to learn of a layout break. -EINVAL
 * for NULL, -EBADF in a fork child.
 */
int pgdax_pin_fd(const struct pgdax_pin *p);
/* Drop the pin; NULLs *p; NULL-safe. 0 or a negative errno. */
int pgdax_unpin(struct pgdax_pin **p);

#ifdef __cplusplus
}
#endif
#endif /* PGDAX_H */
