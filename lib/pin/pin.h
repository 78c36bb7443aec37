/* SPDX-License-Identifier: MIT */
/*
 * The daemon-side pin table (lib/pin/pin.c): which open file holds which
 * extents of which inode on behalf of DAX clients, the layout-break state of
 * inodes being truncated/punched, and the poll handles through which
 * holders are told of a break. Every reference is taken and dropped through
 * the refcount core (pgmap_get_folio / folio_put); this file only keeps the
 * books. Used by fs/ioctl.c (requests); the volume (lib/vol/) reaches it
 * only through the holder operations it registers (pgdax_pintab_attach).
 */
#ifndef PGDAX_PIN_H
#define PGDAX_PIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pgdax_ioctl.h"

struct pgdax_vol;
struct pgdax_vol_file;

/* Who asks for a pin (FUSE request context). */
struct pgdax_pin_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const gid_t *groups;	/* supplementary groups (may be NULL) */
	int ngroups;
	int open_flags;		/* flags the file was opened with (O_ACCMODE matters) */
};

/* Limits against a caller hoarding daemon memory. */
#define PGDAX_PIN_MAX_PER_FILE		4096u
#define PGDAX_PIN_MAX_EXTENTS		(1u << 20)	/* per pin */

/*
 * May @c open the device node at @path with write access (@write) or read
 * access? Owner/group/other permission bits of the node as the kernel
 * checks them; uid 0 may. 0 or -EACCES (or -errno of stat).
 */
int pgdax_pintab_may_access_device(const char *path, const struct pgdax_pin_caller *c,
				bool write);

/*
 * PGDAX_IOC_PIN: validate @req (reserved fields, flags, range), check the
 * caller, then pin [offset, offset+length) rounded out to the device
 * alignment; fills the out fields of @req. Returns 0 or -EINVAL, -EFBIG,
 * -EACCES, -EBUSY (layout being broken), -ENXIO (dying), -ENOSPC,
 * -EMFILE (too many pins on this open file), -ENOMEM.
 */
int pgdax_pintab_create(struct pgdax_vol *vol, struct pgdax_vol_file *f,
		     const struct pgdax_pin_caller *c, struct pgdax_ioc_pin *req);
/* PGDAX_IOC_PIN_EXTENTS: validate, fill the next batch. 0, -EINVAL, -ENOENT. */
int pgdax_pintab_extents(struct pgdax_vol *vol, struct pgdax_vol_file *f,
		      struct pgdax_ioc_pin_extents *req);
/*
 * PGDAX_IOC_UNPIN: drop the pin's references. On success *ino, *off and
 * *len (may be NULL) give the range, for the caller to invalidate.
 * 0, -EINVAL, -ENOENT.
 */
int pgdax_pintab_drop(struct pgdax_vol *vol, struct pgdax_vol_file *f,
		   const struct pgdax_ioc_unpin *req, uint64_t *off, uint64_t *len);
/* PGDAX_IOC_SYNC: validate; clamp the range to the file; 0 or -EINVAL. */
int pgdax_pintab_sync_range(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			 const struct pgdax_ioc_sync *req, uint64_t *off, uint64_t *len);
/* PGDAX_IOC_INFO / PGDAX_IOC_STATUS contents (status: holders by cursor). */
void pgdax_pintab_info(struct pgdax_vol *vol, uint64_t ino, struct pgdax_ioc_info *out);
int pgdax_pintab_status(struct pgdax_vol *vol, struct pgdax_ioc_status *req);

/*
 * Make this table the holder of @vol (lib/vol/vol.h), so that the volume
 * breaks layouts, releases files and frees the table through it. The
 * daemon calls it at mount; every other call here attaches on first use
 * too. 0 or -ENOMEM.
 */
int pgdax_pintab_attach(struct pgdax_vol *vol);

/*
 * Layout break (the volume calls it through the holder operations before
 * a truncate / punch waits for idle extents, under the inode's lock; tests
 * call it directly): mark file pages [first_page, first_page + npages) of @ino as
 * breaking (new pins overlapping it get -EBUSY) and notify the open files
 * holding pins there (poll reports POLLPRI). Returns the number of pins
 * that overlap (0: nothing to wait for from pins), or -ENOMEM when the
 * break cannot be recorded (nothing done: the caller must not proceed and
 * must not call break_done). Otherwise pair with pgdax_pin_break_done()
 * whatever the outcome.
 */
int pgdax_pin_break_layout(struct pgdax_vol *vol, uint64_t ino,
			   uint64_t first_page, uint64_t npages);
void pgdax_pin_break_done(struct pgdax_vol *vol, uint64_t ino,
			  uint64_t first_page, uint64_t npages);

/*
 * Poll support (fs/ioctl.c fs_poll). The FUSE poll handle is kept per open
 * file (*kept = true; a previous one is destroyed through the ops); when
 * not kept (no memory) the caller destroys it. When a break concerns the
 * file, the kept handle is passed to @notify then @destroy, without table
 * locks held (from the truncating thread, under its inode lock: notify
 * must not block). Returns POLLPRI while one of the file's pins overlaps
 * a breaking range, else 0.
 */
struct pgdax_pintab_poll_ops {
	void (*notify)(void *handle);
	void (*destroy)(void *handle);
};
void pgdax_pintab_set_poll_ops(struct pgdax_vol *vol, const struct pgdax_pintab_poll_ops *ops);
unsigned pgdax_pintab_poll(struct pgdax_vol *vol, struct pgdax_vol_file *f, void *handle,
			   bool *kept);

/* Counters (pgdax_vol_get_stats, status). */
void pgdax_pintab_counters(struct pgdax_vol *vol, uint64_t *pins, uint64_t *extents);

#endif /* PGDAX_PIN_H */
