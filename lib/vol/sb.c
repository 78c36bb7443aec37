/* SPDX-License-Identifier: MIT */
/*
 * Superblock: read and validate the primary copy (block 0), fall back to the
 * backup (pgdax_sb_find_backup: the last block of the first alignment unit,
 * or of the device on older layouts) when the primary is damaged, and
 * repair the primary from it; a read-write mount also rewrites a backup
 * that differs from a valid primary. The checksummed part is written by
 * mkfs and, for label and uuid, by pgdaxctl tune on an unmounted volume
 * (lib/vol/tune.c); the hot fields (state, orphan head, counters) live
 * after s_crc in the primary.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vol_internal.h"

void sb_seal(struct pgdax_sb *sb)
{
	sb->s_crc = htole32(pgdax_struct_crc(sb, offsetof(struct pgdax_sb, s_crc)));
}

uint64_t sb_backup_offset(const struct pgdax_sb *sb)
{
	return pgdax_sb_backup_blk(sb) * le32toh(sb->s_block_size);
}

/*
 * With a valid primary, the backup's checksummed part must be the same
 * bytes. It differs after a crash inside pgdaxctl tune (lib/vol/tune.c
 * writes the backup before the primary) or when the backup was damaged: the primary
 * wins, as fsck's safe repair does, so a read-write mount leaves one
 * identity on the volume.
 */
static void backup_sync(struct pgdax_dev *dev, const struct pgdax_sb *p)
{
	char *b = (char *)pgdax_dev_base(dev) + sb_backup_offset(p);

	if (!memcmp(b, p, offsetof(struct pgdax_sb, s_state)))
		return;
	pgdax_dev_memcpy_persist(dev, b, p, offsetof(struct pgdax_sb, s_state));
	pgdax_notice("%s: backup superblock @%llu differed from the primary: rewritten from it",
		     pgdax_dev_info(dev)->path, (unsigned long long)sb_backup_offset(p));
}

int sb_load(struct pgdax_dev *dev, bool rdonly, struct pgdax_sb *out)
{
	char *base = pgdax_dev_base(dev);
	uint64_t size = pgdax_dev_size(dev);
	const char *name = pgdax_dev_info(dev)->path;
	struct pgdax_sb sb;
	char why[200];
	int rc;

	if (size < 16 * PGDAX_MIN_BLOCK_SIZE) {
		pgdax_err("%s: device too small (%llu bytes) to hold a pgdaxfs", name,
			  (unsigned long long)size);
		return -EUCLEAN;
	}
	memcpy(&sb, base, sizeof(sb));
	rc = pgdax_sb_validate(&sb, size, why, sizeof(why));
	if (rc == 0) {
		*out = sb;
		if (!rdonly)
			backup_sync(dev, &sb);
		return 0;
	}
	if (rc == -EPROTONOSUPPORT) {
		pgdax_err("%s: superblock @0: %s", name, why);
		return rc;
	}
	pgdax_err("%s: primary superblock @0: %s", name, why);

	uint64_t where;
	if (pgdax_sb_find_backup(base, size, &sb, &where)) {
		pgdax_err("%s: no valid backup superblock either: not a usable pgdaxfs "
			  "(run mkfs.pgdaxfs, or fsck.pgdaxfs if it was one)", name);
		return -EUCLEAN;
	}
	pgdax_warn("%s: using the backup superblock @%llu", name, (unsigned long long)where);
	*out = sb;
	if (rdonly)
		return 0;
	/* Repair the primary: checksummed part from the backup; the hot part
	 * is lost (orphans then remain for fsck to find). Mark it dirty. */
	struct pgdax_sb *p = (void *)base;
	memcpy(p, &sb, offsetof(struct pgdax_sb, s_state));
	p->s_state = htole64(PGDAX_STATE_DIRTY);
	p->s_orphan_head = 0;
	p->s_mount_count = 0;
	p->s_mount_time = 0;
	p->s_write_time = 0;
	pgdax_dev_persist(dev, p, sizeof(*p));
	pgdax_warn("%s: primary superblock rewritten from the backup; run fsck.pgdaxfs "
		   "to look for orphaned inodes", name);
	return 0;
}

void sb_set_state(struct pgdax_vol *vol, uint64_t state)
{
	struct pgdax_sb *sb = vol->sb;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (state == PGDAX_STATE_DIRTY) {
		sb->s_mount_count = htole64(le64toh(sb->s_mount_count) + 1);
		sb->s_mount_time = htole64((uint64_t)ts.tv_sec);
	}
	sb->s_write_time = htole64((uint64_t)ts.tv_sec);
	__atomic_store_n(&sb->s_state, htole64(state), __ATOMIC_RELEASE);
	pgdax_dev_persist(vol->dev, &sb->s_state,
			  sizeof(*sb) - offsetof(struct pgdax_sb, s_state));
}

int vol_corrupt(struct pgdax_vol *vol, uint64_t ino)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct pgdax_sb *sb = vol->sb;
	struct timespec ts;
	bool was_ro;

	if (vol_dead(vol))
		return -EIO;	/* a lost device reads zeros: not damage */
	if (!(vol->opts.flags & PGDAX_VOL_RDONLY) && le16toh(vol->geo.s_minor) >= 2) {
		clock_gettime(CLOCK_REALTIME, &ts);
		pthread_mutex_lock(&lock);
		if (!sb->s_first_error_time)
			__atomic_store_n(&sb->s_first_error_time, htole64((uint64_t)ts.tv_sec),
					 __ATOMIC_RELAXED);
		__atomic_store_n(&sb->s_last_error_time, htole64((uint64_t)ts.tv_sec),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&sb->s_last_error_ino, htole64(ino), __ATOMIC_RELAXED);
		__atomic_store_n(&sb->s_error_count, htole64(le64toh(sb->s_error_count) + 1),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&sb->s_errors, htole64(le64toh(sb->s_errors) | PGDAX_ERR_RUNTIME),
				 __ATOMIC_RELEASE);
		pgdax_dev_persist(vol->dev, &sb->s_errors,
				  sizeof(*sb) - offsetof(struct pgdax_sb, s_errors));
		pthread_mutex_unlock(&lock);
	}
	switch (vol->opts.errors) {
	case PGDAX_VOL_ERRORS_CONTINUE:
		pgdax_err("%s: corruption met (inode %llu): recorded; run fsck.pgdaxfs -y after "
			  "unmounting (errors=continue)", vol->devname, (unsigned long long)ino);
		break;
	case PGDAX_VOL_ERRORS_PANIC:
		pgdax_err("%s: corruption met (inode %llu): recorded; aborting (errors=panic); "
			  "run fsck.pgdaxfs -y", vol->devname, (unsigned long long)ino);
		abort();
	default:
		was_ro = atomic_exchange(&vol->rdonly, true);
		pgdax_err("%s: corruption met (inode %llu): recorded%s; unmount and run "
			  "fsck.pgdaxfs -y (errors=remount-ro)", vol->devname,
			  (unsigned long long)ino,
			  was_ro ? "" : "; the volume is read-only from now on");
		break;
	}
	return -EUCLEAN;
}
