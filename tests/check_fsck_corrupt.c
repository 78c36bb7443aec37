/* SPDX-License-Identifier: MIT */
/*
 * fsck on corrupt images, under AddressSanitizer (this binary compiles
 * lib/fsck/fsck.c itself with -fsanitize=address, whatever the build).
 *
 * Each structure is corrupted in turn (superblock, backup, journal header,
 * bitmaps, inode fields, directory records, extent records and chains,
 * xattr block, orphan list, a directory loop), then random bytes are flipped
 * in the metadata ranges of a populated image (fixed seeds, bounded by
 * CORRUPT_IMAGES and CORRUPT_SECONDS). For every image:
 *   fsck -n: no crash/overrun/hang (alarm), every problem line names a
 *            structure and a byte offset; targeted cases find the damage;
 *   fsck -y: leaves nothing uncorrected;
 *   fsck -n: on the repaired image finds nothing (exit 0);
 *   mount:   the repaired image mounts and every file, directory, symlink
 *            and xattr list can be read through lib/vol/vol.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vol/format.h"
#include "fsck/fsck.h"
#include "fsck_image.h"
#include <sys/uio.h>
#include "vol/vol.h"

#define IMG_SIZE (16ull << 20)

static struct fimg F;
static char current_case[128];

struct run {
	int rc;
	struct pgdax_fsck_result res;
	char *out;
	size_t outlen;
};

static timer_t watchdog;
static bool watchdog_ready;

static void on_alarm(int sig);

/* A hang (a loop fsck failed to bound) ends the test with the image named.
 * Not alarm(2): Check's own SIGALRM handler kills the process group. */
static void watchdog_arm(int secs)
{
	struct itimerspec its = { .it_value = { .tv_sec = secs } };

	if (!watchdog_ready) {
		struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };

		signal(SIGUSR2, on_alarm);
		ck_assert_int_eq(timer_create(CLOCK_MONOTONIC, &sev, &watchdog), 0);
		watchdog_ready = true;
	}
	timer_settime(watchdog, 0, &its, NULL);
}

static void watchdog_disarm(void)
{
	struct itimerspec its = { 0 };

	timer_settime(watchdog, 0, &its, NULL);
}

static void on_alarm(int sig)
{
	static const char msg[] = "fsck or mount hung (timeout) on: ";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, current_case, strlen(current_case)) < 0 || write(2, "\n", 1) < 0)
		_exit(3);
	_exit(3);
}

static void fsck_buf(uint8_t *img, unsigned flags, struct run *r)
{
	struct pgdax_fsck_opts o = { 0 };
	FILE *m;

	free(r->out);
	r->out = NULL;
	m = open_memstream(&r->out, &r->outlen);
	ck_assert_ptr_nonnull(m);
	o.out = m;
	o.flags = flags | PGDAX_FSCK_FORCE;
	watchdog_arm(20);
	r->rc = pgdax_fsck_image(img, F.size, &o, &r->res);
	watchdog_disarm();
	fclose(m);
}

/* Every line is a problem naming "<structure> @<offset>: ", or a summary. */
static const char *bad_line(const char *out)
{
	static char line[256];
	const char *p = out;

	while (p && *p) {
		const char *nl = strchr(p, '\n'), *at = strstr(p, " @");
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		bool ok = !strncmp(p, "pgdaxfs: ", 9) || !strncmp(p, "orphan list: ", 13) ||
			  !strncmp(p, "(further", 8);

		if (!ok && at && (size_t)(at - p) < len && at > p) {
			const char *q = at + 2;

			while (*q >= '0' && *q <= '9')
				q++;
			ok = q > at + 2 && q[0] == ':' && q[1] == ' ';
		}
		if (!ok) {
			snprintf(line, sizeof(line), "%.*s", (int)(len > 200 ? 200 : len), p);
			return line;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* Working copies, allocated once (exactly F.size bytes each, so ASan's
 * redzones sit right at both ends of the image). */
static uint8_t *copy_into(int slot, const uint8_t *img)
{
	static uint8_t *bufs[4];

	if (!bufs[slot]) {
		bufs[slot] = malloc(F.size);
		ck_assert_ptr_nonnull(bufs[slot]);
	}
	memcpy(bufs[slot], img, F.size);
	return bufs[slot];
}

/*
 * fsck -p never makes a volume worse: it either declines (exit 4, "UNEXPECTED
 * INCONSISTENCY") with nothing changed but the superblock's hot fields
 * (state, error state), or leaves a volume fsck -n finds clean.
 */
static void preen_cycle(const uint8_t *img)
{
	const size_t hot = offsetof(struct pgdax_sb, s_state);
	struct run r = { 0 };
	uint8_t *p = copy_into(3, img), *c;

	fsck_buf(p, PGDAX_FSCK_REPAIR | PGDAX_FSCK_PREEN, &r);
	ck_assert_msg(!bad_line(r.out), "%s: fsck -p printed '%s'", current_case, bad_line(r.out));
	ck_assert_msg(!(r.rc & PGDAX_FSCK_EXIT_OPERROR), "%s: fsck -p exit %d:\n%s",
		      current_case, r.rc, r.out);
	if (r.rc & PGDAX_FSCK_EXIT_UNCORRECTED) {
		ck_assert_msg(strstr(r.out, "UNEXPECTED INCONSISTENCY"),
			      "%s: fsck -p exit %d without saying to run -y:\n%s", current_case,
			      r.rc, r.out);
		ck_assert_msg(!memcmp(p, img, hot) &&
			      !memcmp(p + sizeof(struct pgdax_sb), img + sizeof(struct pgdax_sb),
				      F.size - sizeof(struct pgdax_sb)),
			      "%s: fsck -p declined (exit %d) but changed the image:\n%s",
			      current_case, r.rc, r.out);
		ck_assert_msg(pgdax_sb_validate((const struct pgdax_sb *)img, F.size, NULL, 0) ||
			      le64toh(((const struct pgdax_sb *)p)->s_errors) & PGDAX_ERR_FSCK,
			      "%s: fsck -p left problems but no error state", current_case);
	} else {
		c = copy_into(2, p);
		fsck_buf(c, PGDAX_FSCK_SCRATCH, &r);
		ck_assert_msg(r.rc == 0 && r.res.problems == 0,
			      "%s: fsck -n after fsck -p: exit %d, output:\n%s", current_case,
			      r.rc, r.out);
	}
	free(r.out);
}

/*
 * The whole cycle on a corrupt image. @expect: a string the -n report must
 * contain (NULL: the damage may be invisible, e.g. a flipped timestamp).
 * Returns false when the image was beyond repair (no superblock found).
 */
static bool cycle(const uint8_t *img, const char *expect)
{
	struct run r = { 0 };
	uint8_t *a = copy_into(0, img), *b = copy_into(1, img), *c;
	const char *bad;
	int mrc;

	fsck_buf(a, PGDAX_FSCK_SCRATCH, &r);
	bad = bad_line(r.out);
	ck_assert_msg(!bad, "%s: fsck -n printed a line without structure @offset: '%s'",
		      current_case, bad);
	if (expect) {
		ck_assert_msg(r.rc & PGDAX_FSCK_EXIT_UNCORRECTED,
			      "%s: fsck -n exit %d, expected errors; output:\n%s",
			      current_case, r.rc, r.out);
		ck_assert_msg(strstr(r.out, expect), "%s: fsck -n does not report '%s':\n%s",
			      current_case, expect, r.out);
	}
	ck_assert_msg(!(r.rc & ~(PGDAX_FSCK_EXIT_UNCORRECTED | PGDAX_FSCK_EXIT_OPERROR)),
		      "%s: fsck -n exit %d", current_case, r.rc);
	ck_assert_msg(!strstr(r.out, "[fixed]") && !strstr(r.out, "fixed]"),
		      "%s: fsck -n says it fixed something:\n%s", current_case, r.out);
	if (r.res.fatal) {
		free(r.out);
		return false;
	}
	preen_cycle(img);

	fsck_buf(b, PGDAX_FSCK_REPAIR, &r);
	bad = bad_line(r.out);
	ck_assert_msg(!bad, "%s: fsck -y printed '%s'", current_case, bad);
	ck_assert_msg(!(r.rc & (PGDAX_FSCK_EXIT_UNCORRECTED | PGDAX_FSCK_EXIT_OPERROR)),
		      "%s: fsck -y exit %d:\n%s", current_case, r.rc, r.out);
	if (expect)
		ck_assert_msg(r.rc == PGDAX_FSCK_EXIT_CORRECTED, "%s: fsck -y exit %d",
			      current_case, r.rc);

	c = copy_into(2, b);
	fsck_buf(c, PGDAX_FSCK_SCRATCH, &r);
	ck_assert_msg(r.rc == 0 && r.res.problems == 0,
		      "%s: fsck -n after fsck -y: exit %d, output:\n%s", current_case, r.rc, r.out);

	watchdog_arm(30);
	mrc = fimg_mount_walk(&F, b);
	watchdog_disarm();
	ck_assert_msg(mrc == 0, "%s: repaired image does not mount/read: %s", current_case,
		      strerror(-mrc));
	free(r.out);
	return true;
}

static uint8_t *work(void)
{
	uint8_t *c = malloc(F.size);

	ck_assert_ptr_nonnull(c);
	memcpy(c, F.img, F.size);
	return c;
}

static uint64_t ext_rec(uint8_t *img, uint64_t ino, uint64_t page)
{
	uint64_t rec = 0;

	ck_assert_uint_ne(fimg_page_block(&F, img, ino, page, &rec), 0);
	return rec;
}

START_TEST(test_clean_image_is_clean)
{
	struct run r = { 0 };
	uint8_t *img = work();

	snprintf(current_case, sizeof(current_case), "clean image");
	fsck_buf(img, PGDAX_FSCK_SCRATCH, &r);
	ck_assert_msg(r.rc == 0 && r.res.problems == 0, "clean image: exit %d:\n%s", r.rc, r.out);
	ck_assert_uint_ge(r.res.files, 4);
	ck_assert_uint_ge(r.res.dirs, 3);
	ck_assert_int_eq(fimg_mount_walk(&F, img), 0);
	free(r.out);
	free(img);
}
END_TEST

START_TEST(test_primary_superblock_restored_from_backup)
{
	uint8_t *img = work();

	snprintf(current_case, sizeof(current_case), "primary superblock");
	img[offsetof(struct pgdax_sb, s_blocks)] ^= 0x40;
	cycle(img, "superblock (primary) @0: ");
	free(img);
}
END_TEST

START_TEST(test_backup_superblock_rewritten_from_primary)
{
	uint8_t *img = work();

	snprintf(current_case, sizeof(current_case), "backup superblock");
	img[(F.blocks - 1) * F.bs + offsetof(struct pgdax_sb, s_label)] ^= 0x11;
	cycle(img, "superblock (backup) @");
	free(img);
}
END_TEST

START_TEST(test_journal_header_reset)
{
	uint8_t *img = work();
	const struct pgdax_sb *sb = (const void *)img;

	snprintf(current_case, sizeof(current_case), "journal header");
	img[le64toh(sb->s_journal_start) * F.bs + offsetof(struct pgdax_jhdr, j_uuid)] ^= 1;
	cycle(img, "journal header @");
	free(img);
}
END_TEST

START_TEST(test_block_bitmap_missing_bit_set_again)
{
	uint8_t *img = work();
	const struct pgdax_sb *sb = (const void *)img;
	uint64_t b = fimg_page_block(&F, img, F.ino_big, 0, NULL);
	uint8_t *w = img + le64toh(sb->s_bbitmap_start) * F.bs + b / 8;

	snprintf(current_case, sizeof(current_case), "block bitmap: used block marked free");
	ck_assert(*w & (1u << (b % 8)));
	*w &= (uint8_t)~(1u << (b % 8));
	cycle(img, "marked free but in use");
	free(img);
}
END_TEST

START_TEST(test_block_bitmap_leak_freed)
{
	uint8_t *img = work();
	const struct pgdax_sb *sb = (const void *)img;
	uint8_t *map = img + le64toh(sb->s_bbitmap_start) * F.bs, *w;
	uint64_t b = F.blocks - 2;

	snprintf(current_case, sizeof(current_case), "block bitmap: leak");
	while (b > F.data_start && pgdax_bit_test(map, b))
		b--;
	ck_assert_uint_gt(b, F.data_start);
	w = map + b / 8;
	*w |= (uint8_t)(1u << (b % 8));
	cycle(img, "(leak)");
	free(img);
}
END_TEST

START_TEST(test_inode_bitmap_cleared_bit_drops_dangling_entry)
{
	uint8_t *img = work();
	const struct pgdax_sb *sb = (const void *)img;
	uint64_t i = F.ino_big;

	snprintf(current_case, sizeof(current_case), "inode bitmap: used inode marked free");
	img[le64toh(sb->s_ibitmap_start) * F.bs + i / 8] &= (uint8_t)~(1u << (i % 8));
	cycle(img, "points to a free inode");
	free(img);
}
END_TEST

START_TEST(test_inode_bad_checksum_cleared)
{
	uint8_t *img = work();

	snprintf(current_case, sizeof(current_case), "inode checksum");
	img[fimg_inode_off(&F, img, F.ino_big) + offsetof(struct pgdax_inode, i_uid)] ^= 1;
	cycle(img, "inode table @");
	free(img);
}
END_TEST

START_TEST(test_inode_wrong_link_count_fixed)
{
	uint8_t *img = work();
	uint64_t off = fimg_inode_off(&F, img, F.ino_file);
	struct pgdax_inode *in = (void *)(img + off);

	snprintf(current_case, sizeof(current_case), "inode link count");
	in->i_nlink = htole32(7);
	fimg_inode_reseal(img, off);
	cycle(img, "link count 7, should be 2");
	free(img);
}
END_TEST

START_TEST(test_inode_wrong_parent_fixed)
{
	uint8_t *img = work();
	uint64_t off = fimg_inode_off(&F, img, F.ino_sub);
	struct pgdax_inode *in = (void *)(img + off);

	snprintf(current_case, sizeof(current_case), "directory parent");
	in->i_parent = htole64(PGDAX_ROOT_INO);
	fimg_inode_reseal(img, off);
	cycle(img, "should be");
	free(img);
}
END_TEST

START_TEST(test_directory_record_bad_length)
{
	uint8_t *img = work();
	uint64_t off = fimg_dirent_off(&F, img, PGDAX_ROOT_INO, "one");
	struct pgdax_dirent *d = (void *)(img + off);

	snprintf(current_case, sizeof(current_case), "directory record length");
	ck_assert_uint_ne(off, 0);
	d->d_rec_len = htole16(12);
	cycle(img, "directory record @");
	free(img);
}
END_TEST

START_TEST(test_directory_entry_to_free_inode_removed)
{
	uint8_t *img = work();
	uint64_t off = fimg_dirent_off(&F, img, F.ino_dir, "hardlink");
	struct pgdax_dirent *d = (void *)(img + off);

	snprintf(current_case, sizeof(current_case), "dangling directory entry");
	ck_assert_uint_ne(off, 0);
	d->d_ino = htole64(F.ninodes - 1);
	cycle(img, "points to a free inode");
	free(img);
}
END_TEST

START_TEST(test_directory_loop_broken)
{
	uint8_t *img = work();
	uint64_t off = fimg_dirent_off(&F, img, F.ino_sub, "deep");
	struct pgdax_dirent *d = (void *)(img + off);

	snprintf(current_case, sizeof(current_case), "directory loop");
	ck_assert_uint_ne(off, 0);
	d->d_ino = htole64(F.ino_dir);		/* dir/sub/deep -> dir: a cycle */
	d->d_type = S_IFDIR >> 12;
	cycle(img, "second name of directory");
	free(img);
}
END_TEST

START_TEST(test_extent_outside_data_area_dropped)
{
	uint8_t *img = work();
	uint64_t rec = ext_rec(img, F.ino_big, 0);
	struct pgdax_extent *x = (void *)(img + rec);

	snprintf(current_case, sizeof(current_case), "extent outside the device");
	x->x_dblk_order = htole64(((F.blocks + 64) << PGDAX_X_DBLK_SHIFT) | PGDAX_X_VALID);
	fimg_rec_reseal(&F, img, rec);
	cycle(img, "extent record @");
	free(img);
}
END_TEST

/* the same in an extent block (a file of more extents than the inode holds) */
START_TEST(test_extent_block_record_outside_data_area_dropped)
{
	uint8_t *img = work();
	uint64_t rec = ext_rec(img, F.ino_frag, 2);
	struct pgdax_extent *x = (void *)(img + rec);
	const struct pgdax_inode *in = (const void *)(img + fimg_inode_off(&F, img, F.ino_frag));

	snprintf(current_case, sizeof(current_case), "extent block record outside the device");
	ck_assert_uint_ne(le64toh(in->i_extent_head), 0);
	ck_assert_uint_eq(rec / F.bs, le64toh(in->i_extent_head));
	x->x_dblk_order = htole64(((F.blocks + 64) << PGDAX_X_DBLK_SHIFT) | PGDAX_X_VALID);
	cycle(img, "extent record @");
	free(img);
}
END_TEST

/* An inline extent map (PGDAX_IFL_INLINE_EXT) that also names an extent
 * block is no valid inode: cleared, its blocks given back. */
START_TEST(test_inline_extent_map_with_an_extent_block_cleared)
{
	uint8_t *img = work();
	uint64_t off = fimg_inode_off(&F, img, F.ino_big);
	struct pgdax_inode *in = (void *)(img + off);
	const struct pgdax_inode *fr = (const void *)(img + fimg_inode_off(&F, img, F.ino_frag));

	snprintf(current_case, sizeof(current_case), "inline extent map and extent block");
	ck_assert(le32toh(in->i_flags) & PGDAX_IFL_INLINE_EXT);
	in->i_extent_head = fr->i_extent_head;
	fimg_inode_reseal(img, off);
	cycle(img, "inline extent map with an extent block");
	free(img);
}
END_TEST

START_TEST(test_double_allocation_dropped)
{
	uint8_t *img = work();
	struct pgdax_extent *big = (void *)(img + ext_rec(img, F.ino_big, 0));
	struct pgdax_extent *one;
	uint64_t one_ino = 0;
	struct stat st;

	(void)st;
	snprintf(current_case, sizeof(current_case), "double allocation");
	/* "one" is the inode after "big": find it through the root directory */
	one_ino = le64toh(((struct pgdax_dirent *)(img + fimg_dirent_off(&F, img, PGDAX_ROOT_INO,
									   "one")))->d_ino);
	one = (void *)(img + ext_rec(img, one_ino, 0));
	one->x_dblk_order = big->x_dblk_order;
	one->x_fpage = 0;
	fimg_rec_reseal(&F, img, (uint64_t)((uint8_t *)one - img));
	cycle(img, "double allocation");
	free(img);
}
END_TEST

START_TEST(test_extent_chain_loop_cut)
{
	uint8_t *img = work();
	const struct pgdax_inode *in = (const void *)(img + fimg_inode_off(&F, img, F.ino_frag));
	uint64_t b = le64toh(in->i_extent_head);
	struct pgdax_extent_blk *eb = (void *)(img + b * F.bs);

	snprintf(current_case, sizeof(current_case), "extent chain loop");
	ck_assert_uint_ne(b, 0);
	eb->eb_next = htole64(b);
	cycle(img, "(loop)");
	free(img);
}
END_TEST

START_TEST(test_xattr_block_corruption_dropped)
{
	uint8_t *img = work();
	const struct pgdax_inode *in = (const void *)(img + fimg_inode_off(&F, img, F.ino_file));
	uint64_t b = le64toh(in->i_xattr_block);

	snprintf(current_case, sizeof(current_case), "xattr block");
	ck_assert_uint_ne(b, 0);
	img[b * F.bs + sizeof(struct pgdax_xattr_hdr) + 3] ^= 0x20;
	cycle(img, "xattr block @");
	free(img);
}
END_TEST

/* The @k-th block (0 = head) of the xattr chain of @ino */
static struct pgdax_xattr_hdr *xattr_blk(uint8_t *img, uint64_t ino, unsigned k)
{
	const struct pgdax_inode *in = (const void *)(img + fimg_inode_off(&F, img, ino));
	uint64_t b = le64toh(in->i_xattr_block);

	for (unsigned i = 0; i < k && b; i++)
		b = le64toh(((struct pgdax_xattr_hdr *)(img + b * F.bs))->xh_next);
	ck_assert_uint_ne(b, 0);
	return (void *)(img + b * F.bs);
}

static void xattr_reseal(struct pgdax_xattr_hdr *h)
{
	struct pgdax_xattr_hdr tmp = *h;

	tmp.xh_crc = 0;
	h->xh_crc = htole32(pgdax_crc32c(pgdax_crc32c(0, &tmp, sizeof(tmp)), h + 1,
					 le32toh(h->xh_used) - sizeof(tmp)));
}

/* The first external entry of @h (a 64 KiB value's reference), or NULL */
static struct pgdax_xattr_entry *xattr_external(struct pgdax_xattr_hdr *h)
{
	for (uint32_t pos = sizeof(*h); pos < le32toh(h->xh_used);) {
		struct pgdax_xattr_entry *e = (void *)((uint8_t *)h + pos);

		if (e->xe_flags & PGDAX_XE_EXTERNAL)
			return e;
		pos += (uint32_t)((sizeof(*e) + e->xe_name_len + le16toh(e->xe_value_len) + 7) & ~7u);
	}
	return NULL;
}

/* A block in the middle of the chain fails its crc: the chain is cut there */
START_TEST(test_xattr_chain_block_with_bad_checksum_cut)
{
	uint8_t *img = work();
	struct pgdax_xattr_hdr *h = xattr_blk(img, F.ino_xattr, 1);

	snprintf(current_case, sizeof(current_case), "xattr chain block crc");
	((uint8_t *)h)[sizeof(*h) + 9] ^= 0x01;
	cycle(img, "bad checksum; would drop the extended attributes");
	free(img);
}
END_TEST

START_TEST(test_xattr_chain_loop_cut)
{
	uint8_t *img = work();
	struct pgdax_xattr_hdr *head = xattr_blk(img, F.ino_xattr, 0);
	struct pgdax_xattr_hdr *h = xattr_blk(img, F.ino_xattr, 1);

	snprintf(current_case, sizeof(current_case), "xattr chain loop");
	h->xh_next = htole64((uint64_t)((uint8_t *)head - img) / F.bs);
	xattr_reseal(h);
	cycle(img, "(loop); would cut the xattr chain");
	free(img);
}
END_TEST

/* A block unlinked from the chain (head -> third): its blocks are leaks */
START_TEST(test_xattr_block_left_out_of_the_chain_is_a_leak)
{
	uint8_t *img = work();
	struct pgdax_xattr_hdr *head = xattr_blk(img, F.ino_xattr, 0);
	struct pgdax_xattr_hdr *h = xattr_blk(img, F.ino_xattr, 1);

	snprintf(current_case, sizeof(current_case), "xattr block out of the chain");
	head->xh_next = h->xh_next;
	xattr_reseal(head);
	cycle(img, "owned by nothing (leak)");
	free(img);
}
END_TEST

/* Two entries naming the same value extent: the second is dropped */
START_TEST(test_xattr_value_extent_shared_by_two_entries_dropped)
{
	uint8_t *img = work();
	struct pgdax_xattr_entry *e[2] = { NULL, NULL };
	struct pgdax_xattr_hdr *hs[2] = { NULL, NULL };
	unsigned n = 0;

	snprintf(current_case, sizeof(current_case), "xattr value extent shared");
	for (unsigned k = 0; n < 2 && k < 8; k++) {
		struct pgdax_xattr_hdr *h = xattr_blk(img, F.ino_xattr, k);

		for (uint32_t pos = sizeof(*h); n < 2 && pos < le32toh(h->xh_used);) {
			struct pgdax_xattr_entry *x = (void *)((uint8_t *)h + pos);

			if (x->xe_flags & PGDAX_XE_EXTERNAL) {
				hs[n] = h;
				e[n++] = x;
			}
			pos += (uint32_t)((sizeof(*x) + x->xe_name_len +
					   le16toh(x->xe_value_len) + 7) & ~7u);
		}
		if (!h->xh_next)
			break;
	}
	ck_assert_uint_eq(n, 2);
	/* the same bytes: the crc matches, only the ownership is wrong */
	memcpy(e[1]->xe_name + e[1]->xe_name_len, e[0]->xe_name + e[0]->xe_name_len,
	       sizeof(struct pgdax_xattr_value));
	xattr_reseal(hs[1]);
	cycle(img, "external value blocks");
	free(img);
}
END_TEST

/* A flipped byte in a 64 KiB value: its entry is dropped */
START_TEST(test_xattr_value_with_bad_checksum_dropped)
{
	uint8_t *img = work();
	struct pgdax_xattr_entry *e = NULL;
	struct pgdax_xattr_value v;

	snprintf(current_case, sizeof(current_case), "xattr value crc");
	for (unsigned k = 0; !e && k < 8; k++)
		e = xattr_external(xattr_blk(img, F.ino_xattr, k));
	ck_assert_ptr_nonnull(e);
	memcpy(&v, e->xe_name + e->xe_name_len, sizeof(v));
	img[le64toh(v.xv_blk) * F.bs + 40000] ^= 0x08;
	cycle(img, "external value: bad checksum");
	free(img);
}
END_TEST

/* A count that disagrees with the entries, resealed: the block is dropped */
START_TEST(test_xattr_block_count_mismatch_dropped)
{
	uint8_t *img = work();
	struct pgdax_xattr_hdr *h = xattr_blk(img, F.ino_xattr, 1);

	snprintf(current_case, sizeof(current_case), "xattr count");
	h->xh_count = htole32(le32toh(h->xh_count) + 1);
	xattr_reseal(h);
	cycle(img, "inode");
	free(img);
}
END_TEST

START_TEST(test_orphan_list_to_free_inode_cut)
{
	uint8_t *img = work();
	struct pgdax_sb *sb = (void *)img;

	snprintf(current_case, sizeof(current_case), "orphan list");
	sb->s_orphan_head = htole64(F.ninodes - 2);
	cycle(img, "orphan list @");
	free(img);
}
END_TEST

START_TEST(test_orphan_list_to_named_inode_unmarked)
{
	uint8_t *img = work();
	struct pgdax_sb *sb = (void *)img;

	snprintf(current_case, sizeof(current_case), "orphan list names a live inode");
	sb->s_orphan_head = htole64(F.ino_big);
	cycle(img, "marked orphan");
	free(img);
}
END_TEST

/* Append a record of transaction j_seq + 1 for [off, off+len) with @old. */
static void add_pending_record(uint8_t *img, uint64_t off, const void *old, uint32_t len)
{
	const struct pgdax_sb *sb = (const void *)img;
	uint8_t *area = img + le64toh(sb->s_journal_start) * F.bs;
	struct pgdax_jhdr *h = (void *)area;
	struct pgdax_jrec *r = (void *)(area + PGDAX_JREC_START);
	uint32_t crc;

	memset(r, 0, sizeof(*r));
	r->r_magic = htole32(PGDAX_JREC_MAGIC);
	r->r_len = htole32(len);
	r->r_seq = htole64(le64toh(h->j_seq) + 1);
	r->r_off = htole64(off);
	memcpy(r + 1, old, len);
	crc = pgdax_crc32c(0, r, offsetof(struct pgdax_jrec, r_crc));
	r->r_crc = htole32(pgdax_crc32c(crc, r + 1, len));
}

START_TEST(test_pending_transaction_rolled_back)
{
	uint8_t *img = work();
	uint64_t off = fimg_inode_off(&F, img, F.ino_big);
	struct pgdax_inode before = *(struct pgdax_inode *)(img + off), *in;
	struct run r = { 0 };
	uint8_t *a = malloc(F.size);

	snprintf(current_case, sizeof(current_case), "pending journal transaction");
	/* an uncommitted change: the inode's mode changed in place, old bytes
	 * in the journal (as jtx_add leaves it before commit) */
	add_pending_record(img, off, &before, sizeof(before));
	in = (void *)(img + off);
	in->i_mode = htole32(S_IFREG | 0777);
	fimg_inode_reseal(img, off);
	ck_assert_ptr_nonnull(a);
	memcpy(a, img, F.size);
	fsck_buf(a, PGDAX_FSCK_SCRATCH, &r);
	ck_assert_msg(r.rc == 0 && r.res.journal_pending, "-n: exit %d:\n%s", r.rc, r.out);
	memcpy(a, img, F.size);
	fsck_buf(a, PGDAX_FSCK_REPAIR, &r);
	ck_assert_msg(r.rc == PGDAX_FSCK_EXIT_CORRECTED && r.res.journal_replayed &&
		      r.res.problems == 0, "-y: exit %d:\n%s", r.rc, r.out);
	ck_assert_int_eq(memcmp(a + off, &before, sizeof(before)), 0);
	ck_assert_int_eq(fimg_mount_walk(&F, a), 0);
	free(r.out);
	free(a);
	free(img);
}
END_TEST

static void dev_put(const uint8_t *img)
{
	int fd = open(F.dev, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, img, F.size, 0), (ssize_t)F.size);
	close(fd);
}

static void dev_get(uint8_t *img)
{
	int fd = open(F.dev, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, img, F.size, 0), (ssize_t)F.size);
	close(fd);
}

static void fsck_dev(unsigned flags, struct run *r)
{
	struct pgdax_fsck_opts o = { 0 };
	FILE *m;

	free(r->out);
	r->out = NULL;
	m = open_memstream(&r->out, &r->outlen);
	ck_assert_ptr_nonnull(m);
	o.out = m;
	o.flags = flags | PGDAX_FSCK_FORCE;
	watchdog_arm(20);
	r->rc = pgdax_fsck_device(F.dev, 0, &o, &r->res);
	watchdog_disarm();
	fclose(m);
}

/*
 * On a device (whose descriptor refuses private mappings and read(2), as a
 * devdax does: lib/dev), fsck -n still checks a pending transaction rolled
 * back, as the mount will see the volume, without writing the device; -p
 * rolls it back for real. The pending change breaks an inode, so a check
 * that did not roll back would report it.
 */
START_TEST(test_pending_transaction_checked_on_device_as_mount_sees_it)
{
	uint8_t *img = work();
	uint64_t off = fimg_inode_off(&F, img, F.ino_big);
	struct pgdax_inode before = *(struct pgdax_inode *)(img + off), *in;
	struct run r = { 0 };
	uint8_t *a = malloc(F.size);

	snprintf(current_case, sizeof(current_case), "pending transaction on the device");
	ck_assert_ptr_nonnull(a);
	add_pending_record(img, off, &before, sizeof(before));
	in = (void *)(img + off);
	in->i_ino = htole64(F.ninodes + 5);	/* invalid unless rolled back */
	fimg_inode_reseal(img, off);
	dev_put(img);
	fsck_dev(0, &r);
	ck_assert_msg(r.rc == 0 && r.res.problems == 0 && r.res.journal_pending &&
		      strstr(r.out, "rolling back"), "-n: exit %d:\n%s", r.rc, r.out);
	dev_get(a);
	ck_assert_msg(!memcmp(a, img, F.size), "fsck -n wrote the device");
	fsck_dev(PGDAX_FSCK_REPAIR | PGDAX_FSCK_PREEN, &r);
	ck_assert_msg(r.rc == PGDAX_FSCK_EXIT_CORRECTED && r.res.journal_replayed &&
		      r.res.problems == 0, "-p: exit %d:\n%s", r.rc, r.out);
	dev_get(a);
	ck_assert_int_eq(memcmp(a + off, &before, sizeof(before)), 0);
	fsck_dev(0, &r);
	ck_assert_msg(r.rc == 0 && r.res.problems == 0 && !r.res.journal_pending,
		      "-n after -p: exit %d:\n%s", r.rc, r.out);
	free(r.out);
	free(a);
	free(img);
}
END_TEST

START_TEST(test_journal_record_into_journal_discarded)
{
	uint8_t *img = work();
	const struct pgdax_sb *sb = (const void *)img;
	uint8_t junk[64] = { 1 };

	snprintf(current_case, sizeof(current_case), "journal record inside the journal");
	add_pending_record(img, le64toh(sb->s_journal_start) * F.bs + 8192, junk, sizeof(junk));
	cycle(img, "journal record @");
	free(img);
}
END_TEST

START_TEST(test_cancel_stops_with_exit_32)
{
	static volatile sig_atomic_t stop = 1;	/* as the tool's SIGINT handler sets it */
	struct pgdax_fsck_opts o = { 0 };
	struct pgdax_fsck_result res;
	uint8_t *img = work();
	FILE *devnull = fopen("/dev/null", "w");
	int rc;

	o.flags = PGDAX_FSCK_FORCE | PGDAX_FSCK_SCRATCH;
	o.cancel = &stop;
	o.out = devnull;
	rc = pgdax_fsck_image(img, F.size, &o, &res);
	ck_assert_int_eq(rc & PGDAX_FSCK_EXIT_CANCELLED, PGDAX_FSCK_EXIT_CANCELLED);
	ck_assert(res.cancelled);
	fclose(devnull);
	free(img);
}
END_TEST

static uint64_t rnd_state;

static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return n ? rnd_state % n : 0;
}

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : def;
}

START_TEST(test_random_metadata_flips_are_repaired)
{
	long max = env_long("CORRUPT_IMAGES", 3000), secs = env_long("CORRUPT_SECONDS", 120);
	long seed0 = env_long("CORRUPT_SEED", 1), first = env_long("CORRUPT_FIRST", 0);
	time_t start = time(NULL);
	long n, beyond = 0;
	uint64_t total_len = 0;

	for (int k = 0; k < F.nr; k++)
		total_len += F.r[k].len;
	ck_assert_uint_gt(total_len, 0);
	uint8_t *img = malloc(F.size);

	ck_assert_ptr_nonnull(img);
	for (n = first; n < max && time(NULL) - start < secs; n++) {
		memcpy(img, F.img, F.size);
		int flips;
		char where[64] = "";

		rnd_state = (uint64_t)(seed0 * 1000003 + n) * 0x9E3779B97F4A7C15ull | 1;
		flips = 1 + (int)rnd(6);
		for (int k = 0; k < flips; k++) {
			/* a range weighted by length, then a byte and a bit in it */
			uint64_t at = rnd(total_len);
			int r = 0;

			while (at >= F.r[r].len)
				at -= F.r[r++].len;
			img[F.r[r].off + at] ^= (uint8_t)(1u << rnd(8));
			if (k == 0)
				snprintf(where, sizeof(where), "%s+%llu", F.r[r].what,
					 (unsigned long long)at);
		}
		snprintf(current_case, sizeof(current_case), "seed %ld image %ld (%d flips, %s...)",
			 seed0, n, flips, where);
		if (!cycle(img, NULL))
			beyond++;
	}
	free(img);
	printf("corrupt images checked: %ld (%ld beyond repair: no superblock), %d metadata "
	       "ranges, %llu bytes\n", n - first, beyond, F.nr, (unsigned long long)total_len);
	ck_assert_int_gt(n - first, 0);
}
END_TEST

static Suite *fsck_corrupt_suite(void)
{
	Suite *s = suite_create("fsck_corrupt");
	TCase *t = tcase_create("structures");
	TCase *r = tcase_create("random");

	tcase_add_test(t, test_clean_image_is_clean);
	tcase_add_test(t, test_cancel_stops_with_exit_32);
	tcase_add_test(t, test_primary_superblock_restored_from_backup);
	tcase_add_test(t, test_backup_superblock_rewritten_from_primary);
	tcase_add_test(t, test_journal_header_reset);
	tcase_add_test(t, test_pending_transaction_rolled_back);
	tcase_add_test(t, test_pending_transaction_checked_on_device_as_mount_sees_it);
	tcase_add_test(t, test_journal_record_into_journal_discarded);
	tcase_add_test(t, test_block_bitmap_missing_bit_set_again);
	tcase_add_test(t, test_block_bitmap_leak_freed);
	tcase_add_test(t, test_inode_bitmap_cleared_bit_drops_dangling_entry);
	tcase_add_test(t, test_inode_bad_checksum_cleared);
	tcase_add_test(t, test_inode_wrong_link_count_fixed);
	tcase_add_test(t, test_inode_wrong_parent_fixed);
	tcase_add_test(t, test_directory_record_bad_length);
	tcase_add_test(t, test_directory_entry_to_free_inode_removed);
	tcase_add_test(t, test_directory_loop_broken);
	tcase_add_test(t, test_extent_outside_data_area_dropped);
	tcase_add_test(t, test_extent_block_record_outside_data_area_dropped);
	tcase_add_test(t, test_inline_extent_map_with_an_extent_block_cleared);
	tcase_add_test(t, test_double_allocation_dropped);
	tcase_add_test(t, test_extent_chain_loop_cut);
	tcase_add_test(t, test_xattr_block_corruption_dropped);
	tcase_add_test(t, test_xattr_chain_block_with_bad_checksum_cut);
	tcase_add_test(t, test_xattr_chain_loop_cut);
	tcase_add_test(t, test_xattr_block_left_out_of_the_chain_is_a_leak);
	tcase_add_test(t, test_xattr_value_extent_shared_by_two_entries_dropped);
	tcase_add_test(t, test_xattr_value_with_bad_checksum_dropped);
	tcase_add_test(t, test_xattr_block_count_mismatch_dropped);
	tcase_add_test(t, test_orphan_list_to_free_inode_cut);
	tcase_add_test(t, test_orphan_list_to_named_inode_unmarked);
	tcase_set_timeout(t, 300);
	suite_add_tcase(s, t);
	tcase_add_test(r, test_random_metadata_flips_are_repaired);
	tcase_set_timeout(r, 900);
	suite_add_tcase(s, r);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, rc;

	rc = fimg_build(&F, IMG_SIZE);
	if (rc) {
		fprintf(stderr, "cannot build the test image: %s\n", strerror(-rc));
		return 1;
	}
	sr = srunner_create(fsck_corrupt_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fimg_destroy(&F);
	return failed ? 1 : 0;
}
