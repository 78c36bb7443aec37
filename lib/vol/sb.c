/* SPDX-License-Identifier: MIT */
/*
 * Superblock: read and validate the primary copy (block 0), fall back to the
 * backup (pgdax_sb_find_backup: the last block of the first alignment unit,
 * or of the device on older layouts) when the primary is damaged, and
 * repair the primary from it. The checksummed part is written by mkfs only; the hot fields
 * (state, orphan head, counters) live after s_crc in the primary.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "vol_internal.h"

void sb_seal(struct pgdax_sb *sb)
{
	sb->s_crc = htole32(pgdax_struct_crc(sb, offsetof(struct pgdax_sb, s_crc)));
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
