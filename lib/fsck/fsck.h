/* SPDX-License-Identifier: MIT */
/*
 * The checker/repairer behind fsck.pgdaxfs, as a library so the tool, the
 * tests and the fuzz target share one implementation.
 *
 * It works on an image in memory (base, size): the device mapping, a
 * copy-on-write view of it (fsck -n: lib/dev's view, never MAP_PRIVATE,
 * which a devdax refuses) or a buffer (fuzzing). Everything on the image is untrusted: every field is
 * validated before it is used as an offset, a count or an index, every walk
 * is bounded (cycle detection on directories and chains), and the memory the
 * checker allocates is proportional to the geometry it has validated, never
 * to a raw field. A corrupt image yields messages, never a crash, a hang or a
 * write outside [base, base+size).
 *
 * Each problem is printed as "<structure> @<byte offset>: <what>" and counted;
 * with PGDAX_FSCK_REPAIR the fix is applied in the image (through @persist,
 * when set, so a device sees durable stores) and counted as fixed.
 */
#ifndef PGDAX_FSCK_H
#define PGDAX_FSCK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* pgdax_fsck_opts.flags */
#define PGDAX_FSCK_REPAIR	(1u << 0) /* fix what is found (-y / -p) */
#define PGDAX_FSCK_PREEN	(1u << 1) /* -p: only safe, automatic repairs */
#define PGDAX_FSCK_FORCE	(1u << 2) /* check even if the volume is clean */
#define PGDAX_FSCK_VERBOSE	(1u << 3) /* print each phase and statistics */
#define PGDAX_FSCK_QUIET	(1u << 4) /* print nothing (fuzzing) */
/* without REPAIR: @base is a scratch view (a buffer, or a device view from
 * pgdax_dev_view_open() with @cow set), so a pending journal transaction is
 * rolled back there and the volume is checked as mount would see it;
 * nothing becomes durable */
#define PGDAX_FSCK_SCRATCH	(1u << 5)

/* fsck(8) exit codes, combined by bitwise OR */
#define PGDAX_FSCK_EXIT_OK		0
#define PGDAX_FSCK_EXIT_CORRECTED	1
#define PGDAX_FSCK_EXIT_REBOOT		2
#define PGDAX_FSCK_EXIT_UNCORRECTED	4
#define PGDAX_FSCK_EXIT_OPERROR		8
#define PGDAX_FSCK_EXIT_USAGE		16
#define PGDAX_FSCK_EXIT_CANCELLED	32

struct pgdax_fsck_opts {
	unsigned flags;				/* PGDAX_FSCK_* */
	FILE *out;				/* problem reports; NULL = stdout */
	/* progress (the tool sets it when stdout is a terminal); may be NULL */
	void (*progress)(void *arg, const char *phase, uint64_t done, uint64_t total);
	void *progress_arg;
	/* set asynchronously (SIGINT) to stop at the next safe point; may be NULL */
	volatile sig_atomic_t *cancel;
	/* make a repaired range durable; NULL for a plain buffer */
	void (*persist)(void *arg, const void *addr, size_t len);
	void *persist_arg;
	/* SCRATCH on a device view: make [addr, addr+len) writable (a private
	 * copy) before fsck writes it; 0 or -errno. NULL: @base is writable */
	int (*cow)(void *arg, const void *addr, size_t len);
	void *cow_arg;
	/* is this device range a known bad range (kept used, owned by nothing)? */
	bool (*is_bad)(void *arg, uint64_t off, uint64_t len);
	void *is_bad_arg;
};

struct pgdax_fsck_result {
	uint64_t problems;		/* inconsistencies found (journal replay excluded) */
	uint64_t fixed;			/* of which repaired */
	bool journal_pending;		/* a transaction was pending when we started */
	bool journal_replayed;		/* ... and fsck rolled it back/forward */
	bool was_clean;			/* the superblock said cleanly unmounted */
	bool skipped;			/* clean and not forced: not checked */
	bool cancelled;
	bool fatal;			/* could not find a usable superblock */
	/* what the image holds (valid when !fatal) */
	/* used and total as df and pgdaxctl status count them (lib/vol/vol.h):
	 * blocks of the data area (bad blocks count as used), inode slots
	 * but the reserved 0 (the root counts as used) */
	uint64_t inodes_used, inodes_total, dirs, files, blocks_used, blocks_total;
	uint64_t orphans_reclaimed;
	/* truncates a crash left half done (PGDAX_IFL_TRIM, consistent: the
	 * mount finishes them): found, and finished (-y/-p) */
	uint64_t trims_pending, trims_finished;
};

/*
 * Check (and with PGDAX_FSCK_REPAIR repair) the image at @base of @size
 * bytes. @base must be writable when repairing (and, for a pending journal
 * under -n, the caller passes a private copy-on-write view). Returns the
 * fsck(8) exit code for what happened (OR of PGDAX_FSCK_EXIT_*), fills @res.
 */
int pgdax_fsck_image(void *base, uint64_t size, const struct pgdax_fsck_opts *opts,
		     struct pgdax_fsck_result *res);

/*
 * Open @device by any accepted name with the exclusive lock (read-only
 * without PGDAX_FSCK_REPAIR) and check it. A device held by a running daemon
 * fails with a message naming it (exit code 8). @align_override as for
 * pgdax_dev_open(). Returns the fsck(8) exit code.
 */
int pgdax_fsck_device(const char *device, uint64_t align_override,
		      const struct pgdax_fsck_opts *opts, struct pgdax_fsck_result *res);

#endif /* PGDAX_FSCK_H */
