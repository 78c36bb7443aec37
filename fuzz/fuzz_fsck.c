/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the image parser/validator (lib/fsck/fsck.c).
 *
 * At start a small populated image is made (lib/vol/mkfs.h, then the lib/vol/vol.h
 * API: tests/fsck_image.c) and kept in memory. An input is the
 * metadata of that image as one blob: superblock, backup, journal head,
 * bitmaps, the used inode slots, extent, directory and xattr blocks, in that
 * order; it replaces those ranges (a shorter input replaces a prefix). With
 * $FUZZ_SEED_DIR set, the clean blob is written there first as the seed.
 *
 * Properties: fsck -y on the image neither crashes, overruns (ASan) nor
 * hangs (libFuzzer -timeout); unless no superblock was usable, a second
 * check of the repaired image finds nothing (else abort: a finding).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsck/fsck.h"
#include "fsck_image.h"

static struct fimg F;
static uint8_t *work;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seed = getenv("FUZZ_SEED_DIR");

	(void)argc;
	(void)argv;
	if (fimg_build(&F, 16ull << 20)) {
		fprintf(stderr, "fuzz_fsck: cannot build the image\n");
		exit(1);
	}
	/* the device file is not needed any more: no mounts here */
	work = malloc(F.size);
	if (!work)
		exit(1);
	if (seed) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/clean-image-metadata", seed);
		f = fopen(path, "w");
		if (!f) {
			perror(path);
			exit(1);
		}
		for (int k = 0; k < F.nr; k++)
			fwrite(F.img + F.r[k].off, 1, F.r[k].len, f);
		fclose(f);
	}
	unlink(F.dev);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgdax_fsck_opts o = { 0 };
	struct pgdax_fsck_result r;
	size_t pos = 0;
	int rc;

	memcpy(work, F.img, F.size);
	for (int k = 0; k < F.nr && pos < size; k++) {
		size_t n = F.r[k].len < size - pos ? F.r[k].len : size - pos;

		memcpy(work + F.r[k].off, data + pos, n);
		pos += n;
	}
	o.flags = PGDAX_FSCK_REPAIR | PGDAX_FSCK_FORCE | PGDAX_FSCK_QUIET;
	rc = pgdax_fsck_image(work, F.size, &o, &r);
	if (r.fatal)
		return 0;
	o.flags = PGDAX_FSCK_FORCE | PGDAX_FSCK_QUIET;
	rc = pgdax_fsck_image(work, F.size, &o, &r);
	if (rc != 0 || r.problems) {
		/* print what is left, then fail */
		o.flags = PGDAX_FSCK_FORCE;
		o.out = stderr;
		pgdax_fsck_image(work, F.size, &o, &r);
		fprintf(stderr, "fuzz_fsck: problems left after fsck -y (exit %d)\n", rc);
		abort();
	}
	return 0;
}
