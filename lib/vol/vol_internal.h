/* SPDX-License-Identifier: MIT */
/*
 * Private state of a mounted volume (lib/vol/vol.h) shared by the vol objects:
 * vol.c (mount/unmount/stats/orphans), sb.c, journal.c, balloc.c (block and
 * inode bitmaps), inode.c (inode cache), extmap.c, dir.c, data.c, namei.c,
 * attr.c, xattr.c.
 *
 * Locking (lock order, outermost first):
 *   vol->ns_lock        mutex: every namespace change (create, link, unlink,
 *                       rename, mkdir, rmdir, symlink, mknod). Only a holder
 *                       of ns_lock may hold more than one inode lock at a
 *                       time, so inode locks need no further ordering among
 *                       themselves. Inode reclaim (last put of an unlinked
 *                       inode) runs WITHOUT it: the inode is unreachable
 *                       (no name, marked reclaiming), and the orphan list it
 *                       edits changes only inside transactions, which the
 *                       journal lock serialises.
 *   inode->lock         rwlock per inode: readers (lookup, readdir, read,
 *                       overwrite of allocated blocks) share it; anything
 *                       that changes the extent map, the directory, the size
 *                       or a checksummed inode field takes it for writing.
 *                       Held only for short critical sections: nobody sleeps
 *                       on another request while holding it (a layout break
 *                       drops it to wait, data.c wait_range), which is what
 *                       lets fs/loop.c serve everything else inline.
 *   journal lock        (inside struct journal) one metadata transaction at
 *                       a time; held from jtx_begin to commit/abort. Nobody
 *                       takes an inode lock or ns_lock while holding it.
 *   quarantine lock     (lib/vol/quarantine.c) taken inside the journal lock:
 *                       jtx_commit checks freed blocks against clients'
 *                       locks. Only the allocator's lock nests inside it.
 *   vol->icache_lock    mutex, leaf: the inode hash table and refcounts.
 *   (allocator)         pgdax_alloc has its own internal lock, leaf.
 * File data of allocated blocks is copied under the inode lock held for
 * reading only, plus folio references (lib/core/pgmap.h): no global lock.
 */
#ifndef PGDAX_VOL_INTERNAL_H
#define PGDAX_VOL_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/alloc.h"
#include "dev/dev.h"
#include "format.h"
#include "util/log.h"
#include "core/pgmap.h"
#include "vol.h"
#include "journal.h"


/* A mapped extent in DRAM (extmap.c). */
struct ext {
	uint64_t fpage;		/* first file page */
	uint64_t dblk;		/* first device block */
	unsigned order;
	uint64_t slot;		/* device byte offset of its on-media record */
};

/* Loaded extent map of an inode; protected by inode->lock. */
struct extmap {
	struct ext *v;		/* sorted by fpage, non-overlapping */
	size_t n, cap;
	uint64_t *free_slots;	/* device byte offsets of free records */
	size_t nfree, freecap;
	bool loaded;
};

struct dirindex;
struct quarantine;

/* In-DRAM inode: cached while referenced (lookup + open + internal). */
struct inode {
	uint64_t ino;
	struct inode *hnext;		/* icache_lock */
	uint64_t ref;			/* icache_lock */
	bool reclaiming;		/* icache_lock: being freed, not findable */
	pthread_rwlock_t lock;
	struct pgdax_inode *d;		/* the slot on the device (immutable) */
	struct extmap map;		/* lock */
	struct dirindex *dix;		/* lock (directories) */
	atomic_uint opens;		/* open files (for stats / debugging) */
	/* bumped (under lock, for writing) whenever an extent leaves the map:
	 * a layout break waiting unlocked re-checks when it changes
	 * (data.c wait_range) */
	atomic_uint_fast64_t layout_gen;
	/* lock (for writing): a writable DAX pin has covered bytes past EOF
	 * (the partial last block, or the rest of an alignment unit), where
	 * a client's stores break "bytes past EOF are zero"; so every size
	 * growth first zeroes what it uncovers (data_zero_past_eof), as XFS
	 * zeroes past the old EOF for mmap writes. DRAM only: never cleared
	 * while the inode is cached (the cost is a zeroing per growth). */
	bool dax_past_eof;
	/* lock: a write allocated a (large) extent reaching past what it
	 * wrote; the last close gives back its pages past EOF (data.c
	 * data_trim_prealloc). DRAM only: an evicted inode keeps its tail. */
	bool prealloc_tail;
	/* lock: an O_TMPFILE inode (nlink 0, on the orphan list) that linkat
	 * may still give a name (namei.c tmpfile_impl, link_impl); an inode
	 * that lost its last name is not. DRAM only: after a crash the orphan
	 * list frees it at mount like any unlinked open file. */
	bool linkable;
};

/* An open file (pgdax_vol_file). The holder (pins) keeps its state in it. */
struct pgdax_vol_file {
	struct inode *ip;
	int flags;			/* open(2) flags */
	void *holder;			/* the holder's (lib/pin/): never read here */
};

struct pgdax_vol {
	struct pgdax_pgmap *pgmap;	/* owns the device */
	struct pgdax_dev *dev;		/* = pgmap_dev(pgmap) */
	struct pgdax_alloc *alloc;
	char *base;			/* device mapping */
	uint64_t dev_size;
	struct pgdax_sb *sb;		/* primary superblock, on the device */
	struct pgdax_sb geo;		/* validated copy of the checksummed part */
	uint32_t bs;
	unsigned bshift;
	uint64_t blocks, ninodes, data_start;
	uint64_t data_end, backup_blk;	/* pgdax_sb_data_end/_backup_blk of geo */
	pgdax_le64 *bbitmap, *ibitmap;	/* on the device */
	char *itable;			/* on the device */
	struct pgdax_vol_opts opts;
	/* read-only: mounted so, or turned so by errors=remount-ro when
	 * corruption was met (then the device stays mapped writable) */
	atomic_bool rdonly;
	bool inline_ext;		/* minor >= 3: new extent maps start in the inode */
	bool xattr_multi;		/* minor >= 4: xattr chains and value extents */
	char devname[256];

	struct journal *j;

	pthread_mutex_t ns_lock;

	pthread_mutex_t icache_lock;
	struct inode **hash;		/* icache_lock */
	size_t hash_size, ncached;	/* icache_lock */
	struct inode *root;		/* permanent reference */

	uint64_t ino_hint;		/* journal lock */
	atomic_uint_fast64_t free_inodes;
	atomic_uint_fast64_t orphans;
	atomic_uint_fast64_t stalled_reclaims;	/* inode.c reclaim_wait_idle */
	atomic_int_fast64_t inflight_io;
	/* a probe found clients' OFD locks: freed blocks are checked against
	 * them before reaching the allocator (lib/vol/quarantine.c) */
	atomic_bool quarantine_armed;
	/* lib/vol/quarantine.c: set by the first start, freed with the volume */
	struct quarantine *_Atomic quarantine;

	/* pgdax_vol_on_dead: under holder_lock; dead_told once it ran */
	void (*dead_cb)(void *arg, const char *why);
	void *dead_arg;
	bool dead_told;
	bool dead_running;		/* holder_lock: the callback runs now */
	pthread_cond_t dead_done;	/* dead_running went false */
	atomic_bool dead_reported;	/* vol_device_lost ran */

	/* the holder (lib/pin/ through pgdax_vol_set_holder): set once */
	pthread_mutex_t holder_lock;
	const struct pgdax_vol_holder_ops *holder_ops;	/* holder_lock, then fixed */
	void *_Atomic holder_ctx;	/* published after holder_ops */

	/* test-only fault injection (vol_test.c): when non-zero, free_range
	 * transactions fail with -fail_free_range after their first change */
	atomic_int fail_free_range;
	/* tests only (vol_test.h): run by page_free; set while quiescent */
	void (*_Atomic test_page_free)(uint64_t pgoff, unsigned order, void *arg);
	void *test_page_free_arg;

	char *zero;			/* shared zero buffer for holes */
	size_t zero_len;
	bool killed;
};

#define VOL_ERR(vol, ...) pgdax_err(__VA_ARGS__)

/* Space accounting shared by statfs and the stats (lib/vol/vol.h, above
 * struct pgdax_vol_stats): the data area and the inode slots but 0. */
static inline uint64_t vol_data_blocks(const struct pgdax_vol *vol)
{
	return pgdax_sb_data_blocks(&vol->geo);
}
static inline uint64_t vol_inode_slots(const struct pgdax_vol *vol)
{
	return vol->ninodes - 1;
}

/*
 * A dead volume: its device went away (lib/dev/dev_watch.c, DESIGN.md 4a).
 * Asked of the device's own flag, which is set before the mapping is
 * fenced: a thread that read the fence's zeros, or stored into it, sees it
 * set at its next check. Every public call refuses a dead volume at entry
 * (VOL_LIVE_OR_EIO), no transaction commits on it (jtx_commit), and every
 * public call checks again before it answers (vol_ack): a result computed
 * while the device was going away (a success that may not have reached
 * the device, an error made of the fence's zeros) becomes -EIO, after the
 * call gave back what a success would have handed out.
 */
static inline bool vol_dead(const struct pgdax_vol *vol)
{
	return pgdax_dev_is_lost(vol->dev);
}
#define VOL_LIVE_OR_EIO(vol) do { if (vol_dead(vol)) return -EIO; } while (0)
static inline long vol_ack(const struct pgdax_vol *vol, long rc)
{
	return vol_dead(vol) ? -EIO : rc;
}

/* ---- sb.c ---- */
/* Read primary (else backup) superblock from a mapped device; repairs the
 * primary from the backup when allowed. 0 or -EUCLEAN/-EPROTONOSUPPORT. */
int sb_load(struct pgdax_dev *dev, bool rdonly, struct pgdax_sb *out);
void sb_seal(struct pgdax_sb *sb);
void sb_set_state(struct pgdax_vol *vol, uint64_t state);
/*
 * Corruption met at run time in inode @ino (0: none in particular): record
 * it in the superblock's error state (PGDAX_ERR_RUNTIME, count, times,
 * inode; each an 8-byte store, persisted) unless the device is mapped
 * read-only, and apply the errors= policy. Returns -EUCLEAN, for the
 * caller to return.
 */
int vol_corrupt(struct pgdax_vol *vol, uint64_t ino);
uint64_t sb_backup_offset(const struct pgdax_sb *sb);

/* journal: lib/vol/journal.h */

/* ---- balloc.c: bitmaps ---- */
int bitmap_scan(struct pgdax_vol *vol);		/* mount: build the allocator */
/* Allocate 2^order blocks (hint may be NULL), marked used in the tx. */
int blk_alloc(struct jtx *tx, unsigned order, const struct pgdax_alloc_hint *hint,
	      uint64_t *blk);
/* Allocate exactly [blk, blk+n) already taken from the allocator. */
int blk_mark(struct jtx *tx, uint64_t blk, uint64_t n, bool used);
int blk_free(struct jtx *tx, uint64_t blk, uint64_t n);
int ino_alloc(struct jtx *tx, uint64_t *ino);
int ino_free(struct jtx *tx, uint64_t ino);
bool ino_is_used(struct pgdax_vol *vol, uint64_t ino);
void *blk_addr(struct pgdax_vol *vol, uint64_t blk);
uint64_t dev_off(struct pgdax_vol *vol, const void *addr);
/* Read device bytes without faulting in holes of an emulated file. */
int dev_read(struct pgdax_vol *vol, struct pgdax_dev *dev, uint64_t off, void *buf, size_t len);

/* ---- inode.c ---- */
struct pgdax_inode *inode_slot(struct pgdax_vol *vol, uint64_t ino);
int inode_get(struct pgdax_vol *vol, uint64_t ino, struct inode **out);
void inode_hold(struct pgdax_vol *vol, struct inode *ip);
void inode_put(struct pgdax_vol *vol, struct inode *ip);
void inode_forget_new(struct pgdax_vol *vol, struct inode *ip);
/* Allocate and initialise a new inode in @tx; returns it referenced. */
int inode_new(struct jtx *tx, mode_t mode, uid_t uid, gid_t gid, uint64_t parent,
	      dev_t rdev, struct inode **out);
void inode_stat(struct pgdax_vol *vol, struct inode *ip, struct stat *st);
void inode_now(struct pgdax_timespec *t);

/* iflags.c: the chattr flags' rules, one call per operation */
enum iflags_op {
	IFL_OPEN, IFL_WRITE, IFL_SETATTR, IFL_FALLOCATE, IFL_DELETE, IFL_LINK,
	IFL_XATTR, IFL_DIR_REMOVE, IFL_DIR_ADD,
};
uint32_t iflags_of(const struct inode *ip);
int iflags_check(const struct inode *ip, enum iflags_op op, int arg);
/* Birth time (set at creation, never changed). */
void inode_btime(const struct inode *ip, struct timespec *ts);
/* Update the access time by @policy (PGDAX_ATIME_*); true if it changed.
 * Caller holds ip->lock (either way). */
bool inode_touch_atime(struct pgdax_vol *vol, struct inode *ip, int policy, bool lazy);
void inode_set_time(struct pgdax_timespec *t, const struct timespec *ts);
/* Hot-field updates outside a transaction: store + persist. */
void inode_touch_mc(struct pgdax_vol *vol, struct inode *ip);	/* mtime+ctime = now */
void inode_set_size(struct pgdax_vol *vol, struct inode *ip, uint64_t size);
void inode_set_size_mc(struct pgdax_vol *vol, struct inode *ip, uint64_t size);
static inline uint64_t inode_size(const struct inode *ip) { return le64toh(ip->d->i_size); }
static inline uint32_t inode_mode(const struct inode *ip) { return le32toh(ip->d->i_mode); }
static inline uint32_t inode_nlink(const struct inode *ip) { return le32toh(ip->d->i_nlink); }
void icache_evict_all(struct pgdax_vol *vol);
/* Free an unlinked inode (chunked transactions); called by the last
 * inode_put (no lock held), at mount and at unmount. Waits for its extents
 * to be idle without a time limit. */
int inode_reclaim(struct pgdax_vol *vol, uint64_t ino);
int orphan_add(struct jtx *tx, struct inode *ip);
int orphan_remove(struct jtx *tx, uint64_t ino);
int orphans_reclaim_all(struct pgdax_vol *vol);
void dix_free(struct dirindex **dix);
void extmap_free(struct extmap *m);

/* ---- extmap.c (inode->lock held) ---- */
int extmap_load(struct pgdax_vol *vol, struct inode *ip);
/* Index of the extent containing @fpage, or -1; *next = index of the first
 * extent after it (n if none). */
ssize_t extmap_find(struct extmap *m, uint64_t fpage, size_t *next);
int extmap_insert(struct jtx *tx, struct inode *ip, uint64_t fpage, uint64_t dblk,
		  unsigned order);
/* Remove extent @idx from the map (blocks NOT freed). */
int extmap_remove(struct jtx *tx, struct inode *ip, size_t idx);
/* A chained map of at most PGDAX_INLINE_EXTENTS extents moves into the
 * inode (volumes of minor >= 3; else nothing). */
int extmap_to_inline(struct jtx *tx, struct inode *ip);
/* Free the extent blocks of an empty map. */
int extmap_free_chain(struct jtx *tx, struct inode *ip);
void *extmap_addr(struct pgdax_vol *vol, struct inode *ip, uint64_t fpage);
/* Checking mode: abort (invariant 12) unless every extent overlapping file
 * pages [first, end) is idle; nothing otherwise. */
void extmap_assert_idle(struct pgdax_vol *vol, struct inode *ip, uint64_t first,
			uint64_t end);

/* ---- vol.c: calls to the holder (no-ops without one) ---- */
/* 0, or the holder's -errno: the break failed, do not wait, no break_done */
int holder_break_layout(struct pgdax_vol *vol, uint64_t ino, uint64_t first, uint64_t n);
void holder_break_done(struct pgdax_vol *vol, uint64_t ino, uint64_t first, uint64_t n);
void holder_release_file(struct pgdax_vol *vol, struct pgdax_vol_file *f);

/* ---- data.c ---- */
/*
 * Both are called with ip->lock held for writing and return with it held,
 * but drop it while they wait for busy extents (a layout break, data.c
 * wait_range): the caller must re-read what it read of the inode before
 * (mode, size) and must hold no other lock (ns_lock, another inode's).
 */
/* Free blocks of file pages >= @from_page (truncate); waits idle first. */
int data_truncate_blocks(struct pgdax_vol *vol, struct inode *ip, uint64_t new_size,
			 const struct pgdax_cred *cred, bool wait_forever);
int data_setsize(struct pgdax_vol *vol, struct inode *ip, uint64_t size,
		 const struct pgdax_cred *cred);
/* If a trim is pending on @ip (PGDAX_IFL_TRIM, lib/vol/data.c: a truncate
 * whose blocks past EOF are not all freed yet), free them now and clear it.
 * ip->lock held for writing. Waits for the range to be idle like truncate
 * (bounded unless @wait_forever). 0 (nothing pending, or finished), -EROFS
 * on a read-only mount, or the wait's / a transaction's error (the trim
 * stays pending: the caller must not grow the size). */
int data_finish_trim(struct pgdax_vol *vol, struct inode *ip, const struct pgdax_cred *cred,
		     bool wait_forever);
/* Before the size grows to @new_size: if a writable DAX pin covered bytes
 * past EOF (ip->dax_past_eof), zero the mapped bytes [i_size, new_size),
 * persisted, so stores a client made past EOF never become file data (POSIX
 * mmap: modified bytes past the end are never written out). ip->lock held
 * for writing. 0 or a negative errno (then the size must not grow). */
int data_zero_past_eof(struct pgdax_vol *vol, struct inode *ip, uint64_t new_size);
/* The last close of a file written through: free the pages past EOF of
 * the extent holding the last page, if a write allocated them ahead
 * (ip->prealloc_tail; not fallocate's, which were asked for). ip->lock
 * held for writing; never waits (a busy extent keeps its tail). */
int data_trim_prealloc(struct pgdax_vol *vol, struct inode *ip);

/* ---- dir.c (dir->lock held; writers also ns_lock) ---- */
/* build the index (validating every block) if not built; dp->lock for writing */
int dir_prepare(struct pgdax_vol *vol, struct inode *dp);
int dir_lookup(struct pgdax_vol *vol, struct inode *dp, const char *name, size_t len,
	       uint64_t *ino, uint64_t *pos);
int dir_add(struct jtx *tx, struct inode *dp, const char *name, size_t len,
	    uint64_t ino, unsigned type);
int dir_remove(struct jtx *tx, struct inode *dp, uint64_t pos);
int dir_set_ino(struct jtx *tx, struct inode *dp, uint64_t pos, uint64_t ino, unsigned type);
int dir_count(struct pgdax_vol *vol, struct inode *dp, uint64_t *n);
int dir_iterate(struct pgdax_vol *vol, struct inode *dp, uint64_t off,
		int (*cb)(void *ctx, const char *name, size_t len, uint64_t ino,
			  unsigned type, uint64_t next_off), void *ctx);
int check_name(const char *name, size_t *len);

/* ---- xattr.c ---- */
int xattr_free(struct jtx *tx, struct inode *ip);
int xattr_free_chunked(struct pgdax_vol *vol, struct inode *ip);

static inline unsigned mode_to_dt(uint32_t mode) { return (mode & S_IFMT) >> 12; }

#endif /* PGDAX_VOL_INTERNAL_H */
