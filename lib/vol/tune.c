/* SPDX-License-Identifier: MIT */
/*
 * Changing the label and UUID of an unmounted volume (pgdaxctl tune, like
 * tune2fs -L/-U). Three places name the volume: the primary superblock,
 * the backup superblock (both in their checksummed part) and the journal
 * header (j_uuid, so that a stale journal is never replayed).
 *
 * Preconditions, checked with the device's exclusive lock held (so no
 * daemon serves it and none can start meanwhile): both superblock copies
 * valid and equal, the volume cleanly unmounted (s_state CLEAN) and no
 * journal transaction pending. A pending transaction is refused rather
 * than carried over: its records would sit under a header naming another
 * uuid, which recovery treats as stale.
 *
 * Order of writes, each persisted before the next starts, and what a crash
 * after (or inside) each leaves:
 *   (1) journal header := new uuid and checksum (j_seq, a hot field after
 *       the crc, kept). Cut after or inside it: the superblocks name the
 *       old identity, the header's uuid or crc does not match them, its
 *       magic and size do, no transaction is pending and the primary is
 *       valid and CLEAN. That is the one mismatch recovery accepts
 *       (format.h, "Undo journal"): a read-write mount rewrites the header
 *       from the superblock, fsck repairs it as safe (fsck -p), a
 *       read-only mount ignores it (it never writes the journal).
 *   (2) backup superblock := new. Cut after: the primary (old) wins: a
 *       read-write mount and fsck (safe repair) copy it over the backup and
 *       the header is rewritten as in (1): the change is undone. A torn
 *       backup fails its crc: same thing.
 *   (3) primary superblock := new (checksummed part only; the hot fields
 *       are not touched). Cut after: done but for (4). Torn: the primary
 *       fails its crc and mount and fsck fall back to the backup, already
 *       new, as is the header: consistent, no tolerance needed (the hot
 *       fields are lost, as with any damaged primary: the volume is CLEAN
 *       with an empty journal here, so only an orphan list could be, and
 *       fsck finds orphans from the inodes).
 *   (4) s_write_time (8-byte hot store).
 * The header goes first so that the lagging-header state only ever occurs
 * beside a valid primary; recovery accepts it nowhere else (an interrupted
 * mkfs over an older volume could leave an old backup beside a new
 * header, which must not mount). So at every point the volume mounts and
 * names itself consistently, with either the old or the new identity, and
 * running tune again completes the change.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "util/log.h"
#include "mkfs.h"
#include "dev/dev.h"

int pgdax_uuid_generate(uint8_t u[16], bool time_based)
{
	if (getrandom(u, 16, 0) != 16)
		return -EIO;
	if (time_based) {
		/* RFC 4122 version 1: 100 ns ticks since 1582-10-15; the node
		 * is random with the multicast bit set (no MAC address used) */
		struct timespec ts;
		uint64_t t;

		clock_gettime(CLOCK_REALTIME, &ts);
		t = (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100 +
		    0x01b21dd213814000ull;
		u[0] = (uint8_t)(t >> 24);
		u[1] = (uint8_t)(t >> 16);
		u[2] = (uint8_t)(t >> 8);
		u[3] = (uint8_t)t;
		u[4] = (uint8_t)(t >> 40);
		u[5] = (uint8_t)(t >> 32);
		u[6] = (uint8_t)(((t >> 56) & 0x0f) | 0x10);
		u[7] = (uint8_t)(t >> 48);
		u[10] |= 0x01;
	} else {
		u[6] = (u[6] & 0x0f) | 0x40;
	}
	u[8] = (u[8] & 0x3f) | 0x80;
	return 0;
}

/* The preconditions above; a message that names the fix. */
static int check_offline(struct pgdax_dev *dev, const char *device, const struct pgdax_sb *p)
{
	const char *base = pgdax_dev_base(dev);
	uint64_t size = pgdax_dev_size(dev);
	uint64_t boff = pgdax_sb_backup_blk(p) * le32toh(p->s_block_size);
	struct pgdax_sb b;
	int rc;

	memcpy(&b, base + boff, sizeof(b));
	if (pgdax_sb_validate(&b, size, NULL, 0) ||
	    memcmp(&b, p, offsetof(struct pgdax_sb, s_state))) {
		pgdax_err("%s: the backup superblock is damaged or differs from the primary: "
			  "run fsck.pgdaxfs -p first", device);
		return -EUCLEAN;
	}
	if (le64toh(p->s_state) != PGDAX_STATE_CLEAN) {
		pgdax_err("%s: was not cleanly unmounted (state dirty): mount and unmount it, "
			  "or run fsck.pgdaxfs -p first", device);
		return -EUCLEAN;
	}
	/* read-only: reports a pending transaction as -EROFS, rolls nothing back */
	rc = journal_recover(dev, (char *)base, size, p, true);
	if (rc == -EROFS) {
		pgdax_err("%s: the journal holds a pending transaction: run fsck.pgdaxfs -p "
			  "(or mount it once) first", device);
		return -EUCLEAN;
	}
	if (rc < 0)
		pgdax_err("%s: the journal is damaged: run fsck.pgdaxfs first", device);
	return rc < 0 ? rc : 0;
}

int pgdax_tune(const char *device, const struct pgdax_tune_opts *o)
{
	struct pgdax_dev *dev = NULL;
	struct pgdax_sb n, *p;
	struct pgdax_jhdr h;
	struct timespec ts;
	char why[200];
	char *base;
	int rc;

	if (o->label && strlen(o->label) >= PGDAX_LABEL_MAX) {
		pgdax_err("label \"%s\" is longer than %d bytes", o->label, PGDAX_LABEL_MAX - 1);
		return -EINVAL;
	}
	/* EXCL: -EBUSY naming the daemon's pid when it is mounted */
	rc = pgdax_dev_open(device, PGDAX_DEV_EXCL, 0, &dev);
	if (rc)
		return rc;
	base = pgdax_dev_base(dev);
	p = (struct pgdax_sb *)base;
	memcpy(&n, p, sizeof(n));
	rc = pgdax_sb_validate(&n, pgdax_dev_size(dev), why, sizeof(why));
	if (rc) {
		pgdax_err("%s: primary superblock: %s: run fsck.pgdaxfs first", device, why);
		goto out;
	}
	rc = check_offline(dev, device, &n);
	if (rc)
		goto out;
	if (o->label) {
		memset(n.s_label, 0, sizeof(n.s_label));
		memcpy(n.s_label, o->label, strlen(o->label));
	}
	if (o->uuid_set)
		memcpy(n.s_uuid, o->uuid, sizeof(n.s_uuid));
	n.s_crc = htole32(pgdax_struct_crc(&n, offsetof(struct pgdax_sb, s_crc)));

	uint64_t boff = pgdax_sb_backup_blk(&n) * le32toh(n.s_block_size);
	char *jh = base + le64toh(n.s_journal_start) * le32toh(n.s_block_size);

	journal_hdr_make(&n, &h);
	pgdax_dev_memcpy_persist(dev, jh, &h, offsetof(struct pgdax_jhdr, j_seq));	   /* (1) */
	pgdax_dev_memcpy_persist(dev, base + boff, &n, offsetof(struct pgdax_sb, s_state)); /* (2) */
	pgdax_dev_memcpy_persist(dev, p, &n, offsetof(struct pgdax_sb, s_state));	   /* (3) */
	clock_gettime(CLOCK_REALTIME, &ts);
	__atomic_store_n(&p->s_write_time, htole64((uint64_t)ts.tv_sec), __ATOMIC_RELEASE);
	pgdax_dev_persist(dev, &p->s_write_time, sizeof(p->s_write_time));		   /* (4) */
out:
	pgdax_dev_close(&dev);
	return rc;
}
