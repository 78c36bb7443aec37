/* SPDX-License-Identifier: MIT */
/* Test helper: a populated pgdaxfs image and its metadata ranges (fsck_image.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dev/dev.h"
#include "vol/format.h"
#include "vol/mkfs.h"
#include "vol/vol.h"
#include "fsck_image.h"

static const struct pgdax_cred cred0 = { 0, 0, 0, NULL, NULL };

static void add_range(struct fimg *f, uint64_t off, uint64_t len, const char *what)
{
	if (f->nr >= FIMG_MAX_RANGES || !len || off >= f->size || len > f->size - off)
		return;
	f->r[f->nr].off = off;
	f->r[f->nr].len = len;
	snprintf(f->r[f->nr].what, sizeof(f->r[f->nr].what), "%s", what);
	f->nr++;
}

static int run_mkfs(const char *dev)
{
	struct pgdax_mkfs_opts o = { 0 };
	int rc;

	o.quiet = true;
	o.force = true;
	rc = pgdax_mkfs(dev, &o);
	if (rc)
		fprintf(stderr, "fimg: mkfs %s: %s\n", dev, strerror(-rc));
	return rc;
}

static int put_file(struct pgdax_vol *vol, uint64_t dir, const char *name, size_t len,
		    uint64_t *ino)
{
	struct pgdax_vol_file *fh = NULL;
	struct stat st;
	char *buf;
	int rc;

	rc = pgdax_vol_create(vol, dir, name, S_IFREG | 0644, O_RDWR | O_CREAT, &cred0, &st, &fh);
	if (rc)
		return rc;
	*ino = st.st_ino;
	buf = malloc(len + 1);
	if (!buf) {
		pgdax_vol_release(vol, &fh);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 23);
	if (len && pgdax_vol_write(vol, fh, 0, buf, len, &cred0) != (ssize_t)len)
		rc = -EIO;
	free(buf);
	pgdax_vol_release(vol, &fh);
	return rc;
}

/* A file of @n one-page extents with holes between them: more than fit
 * in the inode (PGDAX_IFL_INLINE_EXT), so its map is an extent block. */
static int put_frag(struct pgdax_vol *vol, uint64_t dir, const char *name, int n,
		    uint64_t *ino)
{
	struct pgdax_vol_file *fh = NULL;
	struct stat st;
	char buf[4096];
	int rc;

	rc = pgdax_vol_create(vol, dir, name, S_IFREG | 0644, O_RDWR | O_CREAT, &cred0, &st, &fh);
	if (rc)
		return rc;
	*ino = st.st_ino;
	for (int i = 0; i < n && !rc; i++) {
		memset(buf, 'f' + i, sizeof(buf));
		if (pgdax_vol_write(vol, fh, (uint64_t)i * 2 * sizeof(buf), buf, sizeof(buf),
				    &cred0) != (ssize_t)sizeof(buf))
			rc = -EIO;
	}
	pgdax_vol_release(vol, &fh);
	return rc;
}

static int populate(struct fimg *f)
{
	struct pgdax_vol_opts o = { .flags = 0, .break_timeout_ms = 1000 };
	struct pgdax_vol *vol = NULL;
	struct stat st;
	char longt[300], val[1500];
	uint64_t ino;
	int rc;

	rc = pgdax_vol_mount(f->dev, &o, &vol);
	if (rc) {
		fprintf(stderr, "fimg: mount %s: %s\n", f->dev, strerror(-rc));
		return rc;
	}
#define TRY(x) do { rc = (x); if (rc < 0) { fprintf(stderr, "fimg: %s: %s\n", #x, strerror(-rc)); goto out; } } while (0)
	TRY(put_file(vol, PGDAX_ROOT_INO, "file", 3 * 4096 + 100, &f->ino_file));
	TRY(put_file(vol, PGDAX_ROOT_INO, "big", 40 * 1024, &f->ino_big));
	TRY(put_file(vol, PGDAX_ROOT_INO, "one", 1, &ino));
	TRY(put_frag(vol, PGDAX_ROOT_INO, "frag", 6, &f->ino_frag));
	TRY(put_file(vol, PGDAX_ROOT_INO, "empty", 0, &ino));
	TRY(pgdax_vol_mkdir(vol, PGDAX_ROOT_INO, "dir", 0755, &cred0, &st));
	f->ino_dir = st.st_ino;
	TRY(pgdax_vol_mkdir(vol, f->ino_dir, "sub", 0700, &cred0, &st));
	f->ino_sub = st.st_ino;
	TRY(put_file(vol, f->ino_sub, "deep", 5000, &ino));
	TRY(pgdax_vol_link(vol, f->ino_file, f->ino_dir, "hardlink", &st));
	TRY(pgdax_vol_symlink(vol, PGDAX_ROOT_INO, "short", "file", &cred0, &st));
	f->ino_link = st.st_ino;
	memset(longt, 'L', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = 0;
	TRY(pgdax_vol_symlink(vol, f->ino_dir, "long", longt, &cred0, &st));
	f->ino_symlink_long = st.st_ino;
	memset(val, 'v', sizeof(val));
	TRY(pgdax_vol_setxattr(vol, f->ino_file, "user.small", val, 10, 0));
	TRY(pgdax_vol_setxattr(vol, f->ino_file, "user.large", val, sizeof(val), 0));
	TRY(pgdax_vol_setxattr(vol, f->ino_dir, "user.d", val, 100, 0));
	/* a chain of xattr blocks and two values in their own extents */
	TRY(put_file(vol, PGDAX_ROOT_INO, "xattrs", 10, &f->ino_xattr));
	{
		static char bigv[65536];

		memset(bigv, 'B', sizeof(bigv));
		TRY(pgdax_vol_setxattr(vol, f->ino_xattr, "user.big1", bigv, sizeof(bigv), 0));
		memset(bigv, 'C', sizeof(bigv));
		TRY(pgdax_vol_setxattr(vol, f->ino_xattr, "user.big2", bigv, sizeof(bigv), 0));
		for (int i = 0; i < 250; i++) {
			char name[40];

			snprintf(name, sizeof(name), "user.chain-%03d", i);
			TRY(pgdax_vol_setxattr(vol, f->ino_xattr, name, val, 24, 0));
		}
	}
	TRY(put_file(vol, f->ino_dir, "gone", 100, &ino));
	TRY(pgdax_vol_unlink(vol, f->ino_dir, "gone"));
	for (int i = 0; i < 12; i++) {
		char name[32];

		snprintf(name, sizeof(name), "many-%02d-with-a-longer-name", i);
		TRY(put_file(vol, f->ino_sub, name, (size_t)i * 700, &ino));
	}
	rc = 0;
out:
#undef TRY
	if (pgdax_vol_unmount(&vol) && !rc)
		rc = -EIO;
	return rc;
}

uint64_t fimg_inode_off(const struct fimg *f, const uint8_t *img, uint64_t ino)
{
	const struct pgdax_sb *sb = (const void *)img;

	if (ino >= f->ninodes)
		return 0;
	return le64toh(sb->s_itable_start) * f->bs + ino * PGDAX_INODE_SIZE;
}

uint64_t fimg_page_block(const struct fimg *f, const uint8_t *img, uint64_t ino,
			 uint64_t page, uint64_t *rec)
{
	const struct pgdax_inode *in = (const void *)(img + fimg_inode_off(f, img, ino));
	uint64_t b = le64toh(in->i_extent_head);
	uint64_t per = PGDAX_EXTENTS_PER_BLOCK(f->bs);
	bool inl = le32toh(in->i_flags) & PGDAX_IFL_INLINE_EXT;

	/* the inline records first (then b is 0), else each extent block's */
	for (int steps = 0; inl || (b && b < f->blocks && steps < 1000); steps++) {
		const struct pgdax_extent_blk *eb = (const void *)(img + b * f->bs);
		const struct pgdax_extent *x = inl ? (const void *)in->i_inline : (const void *)(eb + 1);

		if (inl)
			per = PGDAX_INLINE_EXTENTS;
		for (uint64_t k = 0; k < per; k++) {
			uint64_t v = le64toh(x[k].x_dblk_order), fp = le64toh(x[k].x_fpage);
			unsigned order = v & PGDAX_X_ORDER_MASK;

			if (!v || order > 30)
				continue;
			if (page >= fp && page < fp + (1ull << order)) {
				if (rec)
					*rec = (uint64_t)((const uint8_t *)&x[k] - img);
				return (v >> PGDAX_X_DBLK_SHIFT) + (page - fp);
			}
		}
		if (inl)
			break;
		b = le64toh(eb->eb_next);
	}
	return 0;
}

void fimg_rec_reseal(const struct fimg *f, uint8_t *img, uint64_t rec)
{
	const struct pgdax_sb *sb = (const void *)img;
	uint64_t it = le64toh(sb->s_itable_start) * f->bs;

	if (rec >= it && rec < it + f->ninodes * PGDAX_INODE_SIZE)
		fimg_inode_reseal(img, it + (rec - it) / PGDAX_INODE_SIZE * PGDAX_INODE_SIZE);
}

uint64_t fimg_dirent_off(const struct fimg *f, const uint8_t *img, uint64_t dir,
			 const char *name)
{
	const struct pgdax_inode *in = (const void *)(img + fimg_inode_off(f, img, dir));
	uint64_t pages = le64toh(in->i_size) / f->bs;
	size_t nl = strlen(name);

	for (uint64_t p = 0; p < pages && p < 1000; p++) {
		uint64_t b = fimg_page_block(f, img, dir, p, NULL);
		uint32_t pos = 0;

		if (!b)
			continue;
		while (pos + PGDAX_DIRENT_MIN <= f->bs) {
			const struct pgdax_dirent *d = (const void *)(img + b * f->bs + pos);
			uint32_t rl = le16toh(d->d_rec_len);

			if (le64toh(d->d_ino) && d->d_name_len == nl && !memcmp(d->d_name, name, nl))
				return b * f->bs + pos;
			if (rl < PGDAX_DIRENT_MIN)
				break;
			pos += rl;
		}
	}
	return 0;
}

void fimg_inode_reseal(uint8_t *img, uint64_t off)
{
	struct pgdax_inode *in = (void *)(img + off);

	in->i_crc = htole32(pgdax_struct_crc(in, offsetof(struct pgdax_inode, i_crc)));
}

static void list_ranges(struct fimg *f)
{
	const struct pgdax_sb *sb = (const void *)f->img;
	uint64_t it = le64toh(sb->s_itable_start) * f->bs;
	uint64_t per = PGDAX_EXTENTS_PER_BLOCK(f->bs);

	add_range(f, 0, sizeof(struct pgdax_sb), "superblock");
	add_range(f, (f->blocks - 1) * f->bs, sizeof(struct pgdax_sb), "backup superblock");
	add_range(f, le64toh(sb->s_journal_start) * f->bs, 4096 + 512, "journal");
	add_range(f, le64toh(sb->s_bbitmap_start) * f->bs, (f->blocks + 7) / 8, "block bitmap");
	add_range(f, le64toh(sb->s_ibitmap_start) * f->bs, (f->ninodes + 7) / 8, "inode bitmap");
	for (uint64_t i = 1; i < f->ninodes; i++) {
		const struct pgdax_inode *in = (const void *)(f->img + it + i * PGDAX_INODE_SIZE);
		uint64_t b, xb;
		int steps = 0;

		if (!pgdax_bit_test(f->img + le64toh(sb->s_ibitmap_start) * f->bs, i))
			continue;
		add_range(f, it + i * PGDAX_INODE_SIZE, PGDAX_INODE_SIZE, "inode");
		for (xb = le64toh(in->i_xattr_block); xb && xb < f->blocks && steps < 100; steps++) {
			const struct pgdax_xattr_hdr *xh = (const void *)(f->img + xb * f->bs);

			add_range(f, xb * f->bs, 512, "xattr block");
			xb = le64toh(xh->xh_next);
		}
		steps = 0;
		for (b = le64toh(in->i_extent_head); b && b < f->blocks && steps < 100; steps++) {
			const struct pgdax_extent_blk *eb = (const void *)(f->img + b * f->bs);

			add_range(f, b * f->bs, 256, "extent block");
			b = le64toh(eb->eb_next);
		}
		if (S_ISDIR(le32toh(in->i_mode)))
			for (uint64_t p = 0; p < le64toh(in->i_size) / f->bs && p < 64; p++) {
				uint64_t db = fimg_page_block(f, f->img, i, p, NULL);

				if (db)
					add_range(f, db * f->bs, f->bs, "directory block");
			}
	}
	(void)per;
}

int fimg_build(struct fimg *f, uint64_t size)
{
	const struct pgdax_sb *sb;
	int fd, rc;

	memset(f, 0, sizeof(*f));
	snprintf(f->dev, sizeof(f->dev), "/dev/shm/pgdaxfs-fimg-%d", (int)getpid());
	unlink(f->dev);
	rc = pgdax_dev_create_emulated(f->dev, size, 4096);
	if (rc) {
		fprintf(stderr, "fimg: create %s: %s\n", f->dev, strerror(-rc));
		return rc;
	}
	rc = run_mkfs(f->dev);
	if (!rc)
		rc = populate(f);
	if (rc)
		goto fail;
	f->size = size;
	f->img = malloc(size);
	fd = open(f->dev, O_RDONLY);
	if (!f->img || fd < 0 || pread(fd, f->img, size, 0) != (ssize_t)size) {
		rc = -EIO;
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	sb = (const void *)f->img;
	f->bs = le32toh(sb->s_block_size);
	f->blocks = le64toh(sb->s_blocks);
	f->ninodes = le64toh(sb->s_inodes);
	f->data_start = le64toh(sb->s_data_start);
	list_ranges(f);
	return 0;
fail:
	fimg_destroy(f);
	return rc ? rc : -EIO;
}

void fimg_destroy(struct fimg *f)
{
	free(f->img);
	f->img = NULL;
	if (f->dev[0])
		unlink(f->dev);
	f->dev[0] = 0;
}

/* ---- mount and walk ---- */

struct names {
	char (*v)[256];
	int n, cap;
};

static int collect(void *ctx, const char *name, const struct stat *st, uint64_t next_off)
{
	struct names *nm = ctx;

	(void)st;
	(void)next_off;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (nm->n == nm->cap)
		return 1;
	snprintf(nm->v[nm->n++], 256, "%s", name);
	return 0;
}

static int walk(struct pgdax_vol *vol, uint64_t dir, int depth, int *budget)
{
	struct names nm = { .cap = 256 };
	uint64_t off = 0;
	int rc = 0;

	if (depth > 32 || --*budget < 0)
		return 0;
	nm.v = malloc(sizeof(*nm.v) * nm.cap);
	if (!nm.v)
		return -ENOMEM;
	rc = pgdax_vol_readdir(vol, dir, off, false, collect, &nm);
	for (int i = 0; !rc && i < nm.n; i++) {
		struct stat st;
		char buf[4096];

		rc = pgdax_vol_lookup(vol, dir, nm.v[i], &st);
		if (rc)
			break;
		if (S_ISDIR(st.st_mode)) {
			rc = walk(vol, st.st_ino, depth + 1, budget);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n = pgdax_vol_readlink(vol, st.st_ino, buf, sizeof(buf));

			rc = n < 0 ? (int)n : 0;
		} else if (S_ISREG(st.st_mode)) {
			struct pgdax_vol_file *fh = NULL;

			/* the first MiB and the last block: i_size is a hot field, a
			 * flipped one makes a huge sparse file, valid but slow to read */
			uint64_t size = (uint64_t)st.st_size, stop = size < (1u << 20) ? size : 1u << 20;
			bool jumped = false;

			rc = pgdax_vol_open(vol, st.st_ino, O_RDONLY, &cred0, &fh);
			for (uint64_t pos = 0; !rc && pos < size;) {
				struct iovec iov[64];
				struct pgdax_io io = { 0 };
				int niov = 0;
				ssize_t n = pgdax_vol_read_map(vol, fh, pos, 65536, iov, 64, &niov, &io);
				volatile uint8_t sink = 0;

				if (n <= 0) {
					rc = (int)n;
					break;
				}
				for (int k = 0; k < niov; k++)
					if (iov[k].iov_len)
						sink ^= ((uint8_t *)iov[k].iov_base)[iov[k].iov_len - 1];
				(void)sink;
				pgdax_vol_io_done(vol, &io);
				pos += (uint64_t)n;
				if (pos >= stop && !jumped) {
					jumped = true;
					if (size - 4096 > pos)
						pos = size - 4096;
				}
			}
			if (fh)
				pgdax_vol_release(vol, &fh);
		}
		if (!rc) {
			static char list[8192], val[65536];
			ssize_t n = pgdax_vol_listxattr(vol, st.st_ino, list, sizeof(list));

			if (n < 0 && n != -ERANGE)
				rc = (int)n;
			/* every value reads (an external one matches its crc) */
			for (ssize_t p = 0; !rc && p < n; p += (ssize_t)strlen(list + p) + 1) {
				ssize_t v = pgdax_vol_getxattr(vol, st.st_ino, list + p, val,
							       sizeof(val));

				if (v < 0)
					rc = (int)v;
			}
		}
		pgdax_vol_iput(vol, st.st_ino, 1);
	}
	free(nm.v);
	return rc;
}

int fimg_mount_walk(struct fimg *f, const uint8_t *img)
{
	struct pgdax_vol_opts o = { .flags = 0, .break_timeout_ms = 1000 };
	struct pgdax_vol *vol = NULL;
	int fd, rc, budget = 10000;

	fd = open(f->dev, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (pwrite(fd, img, f->size, 0) != (ssize_t)f->size) {
		close(fd);
		return -EIO;
	}
	close(fd);
	rc = pgdax_vol_mount(f->dev, &o, &vol);
	if (rc)
		return rc;
	rc = walk(vol, PGDAX_ROOT_INO, 0, &budget);
	if (pgdax_vol_unmount(&vol) && !rc)
		rc = -EIO;
	return rc;
}
