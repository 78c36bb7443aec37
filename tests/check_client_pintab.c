/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the daemon-side pin table (lib/pin/pin.c) and the quarantine
 * (lib/vol/quarantine.c) on a volume mounted in this process (no FUSE): the
 * alignment/ownership rule and relayout, one folio reference per pinned
 * extent and none left after unpin or release, layout breaks and poll,
 * hostile arguments, access rules, and quarantined ranges kept out of the
 * allocator. The device is emulated (256 MiB, sparse) with a 2 MiB alignment.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dev/dev.h"
#include "vol/mkfs.h"
#include "core/pgmap.h"
#include "pin/pin.h"
#include "vol/quarantine.h"
#include "vol/vol.h"
#include "util/util.h"

#define MiB (1ull << 20)
#define ALIGN (2 * MiB)
#define BS 4096ull

static char devpath[256];
static struct pgdax_vol *vol;
static struct pgdax_cred root_cred = { .uid = 0, .gid = 0 };
static const struct pgdax_pin_caller root_caller = { .uid = 0, .gid = 0, .pid = 1 };

static void setup(void)
{
	struct pgdax_mkfs_opts o = { .quiet = true, .align_override = ALIGN };
	struct pgdax_vol_opts vo = { .break_timeout_ms = 200 };
	static int n;

	snprintf(devpath, sizeof(devpath), "/dev/shm/pgdax-pin-test-%d-%d", getpid(), n++);
	unlink(devpath);
	ck_assert_int_eq(pgdax_dev_create_emulated(devpath, 256 * MiB, ALIGN), 0);
	ck_assert_int_eq(pgdax_mkfs(devpath, &o), 0);
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
}

static void teardown(void)
{
	if (vol)
		ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	unlink(devpath);
}

static struct pgdax_vol_file *create(const char *name, int flags)
{
	struct pgdax_vol_file *f = NULL;
	struct stat st;

	ck_assert_int_eq(pgdax_vol_create(vol, PGDAX_ROOT_INO, name, 0644, flags, &root_cred,
					  &st, &f), 0);
	return f;
}

static void fill_pattern(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(seed * 131 + i * 7 + (i >> 12));
}

/* Write @n bytes in 4 KiB pieces: many small extents. */
static void write_small(struct pgdax_vol_file *f, const char *buf, size_t n)
{
	for (size_t off = 0; off < n; off += BS) {
		size_t k = n - off < BS ? n - off : BS;

		ck_assert_int_eq(pgdax_vol_write(vol, f, off, buf + off, k, &root_cred), (ssize_t)k);
	}
}

/* @write: a writable pin that may grow the file (PGDAX_PIN_EXTEND), as
 * every writable pin did before growing became a flag */
static struct pgdax_ioc_pin pin_req(uint64_t off, uint64_t len, bool write)
{
	struct pgdax_ioc_pin p = { .offset = off, .length = len,
				   .flags = write ? PGDAX_PIN_WRITE | PGDAX_PIN_EXTEND : 0 };
	return p;
}

static void get_extents(struct pgdax_vol_file *f, uint64_t id, struct pgdax_ioc_pin_extents *x)
{
	memset(x, 0, sizeof(*x));
	x->pin_id = id;
	ck_assert_int_eq(pgdax_pintab_extents(vol, f, x), 0);
}

static void unpin(struct pgdax_vol_file *f, uint64_t id)
{
	struct pgdax_ioc_unpin u = { .pin_id = id };

	ck_assert_int_eq(pgdax_pintab_drop(vol, f, &u, NULL, NULL), 0);
}

static void assert_no_references(void)
{
	uint64_t pins, ext;

	pgdax_pintab_counters(vol, &pins, &ext);
	ck_assert_uint_eq(pins, 0);
	ck_assert_uint_eq(ext, 0);
	ck_assert_uint_eq(pgmap_active_folios(pgdax_vol_pgmap(vol)), 0);
	ck_assert_int_eq(pgmap_live_count(pgdax_vol_pgmap(vol)), 1);
}

/* ---- alignment and ownership ------------------------------------------- */

START_TEST(test_small_file_pin_relays_out_into_one_aligned_extent)
{
	struct pgdax_vol_file *f = create("small", O_RDWR);
	struct pgdax_ioc_pin_extents x;
	struct pgdax_ioc_pin p = pin_req(100, 5000, false);
	char buf[40960];
	const char *dev;

	fill_pattern(buf, sizeof(buf), 1);
	write_small(f, buf, sizeof(buf));
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	ck_assert_uint_eq(p.map_offset, 0);
	ck_assert_uint_eq(p.map_length, ALIGN);
	ck_assert_uint_eq(p.nr_extents, 1);
	get_extents(f, p.pin_id, &x);
	ck_assert_uint_eq(x.count, 1);
	ck_assert_uint_eq(x.next, 1);
	ck_assert_uint_eq(x.ext[0].dev_off % ALIGN, 0);
	ck_assert_uint_eq(x.ext[0].len, ALIGN);
	ck_assert_uint_eq(x.ext[0].flags, 0);
	/* the client sees the file's bytes at the device offset, zeros after */
	dev = pgmap_page_addr(pgdax_vol_pgmap(vol), x.ext[0].dev_off / BS);
	ck_assert_mem_eq(dev, buf, sizeof(buf));
	for (size_t i = sizeof(buf); i < ALIGN; i += 512)
		ck_assert_int_eq(dev[i], 0);
	/* one reference on that extent, held by the pin */
	ck_assert_uint_eq(pgmap_folio_refcount(pgdax_vol_pgmap(vol), x.ext[0].dev_off / BS), 1);
	unpin(f, p.pin_id);
	ck_assert_uint_eq(pgmap_folio_refcount(pgdax_vol_pgmap(vol), x.ext[0].dev_off / BS), 0);
	assert_no_references();
	pgdax_vol_release(vol, &f);
}
END_TEST

/* Map file bytes [0, n) with read_map: the number of extents, the bytes. */
static int read_extents(struct pgdax_vol_file *f, char *back, size_t n)
{
	struct iovec iov[64];
	struct pgdax_io io = { 0 };
	int niov = 0;
	size_t at = 0;

	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, n, iov, 64, &niov, &io), (ssize_t)n);
	for (int i = 0; i < niov; at += iov[i].iov_len, i++)
		memcpy(back + at, iov[i].iov_base, iov[i].iov_len);
	pgdax_vol_io_done(vol, &io);
	return niov;
}

static int kill_in_begin(void *ctx)
{
	pgdax_vol_kill(ctx);	/* after the holder's liveness check */
	return 0;
}

static int put_unit(void *ctx, const struct pgdax_vol_dax_ext *e)
{
	(void)ctx;
	if (e->folio)
		folio_put(e->folio);
	return 0;
}

/*
 * A relayout holds references on the old extents and the new one (so a
 * kill/drain waits for it); a pgmap killed before it can take them makes
 * it fail with -ENXIO having changed nothing: no block allocated or freed,
 * the file's extents and bytes as they were.
 */
START_TEST(test_relayout_after_kill_fails_enxio_and_changes_nothing)
{
	static const struct pgdax_vol_dax_ops ops = { .begin = kill_in_begin, .unit = put_unit };
	struct pgdax_vol_opts vo = { .break_timeout_ms = 200 };
	struct pgdax_vol_file *f = create("late", O_RDWR);
	struct pgdax_vol_stats s0, s1;
	char buf[40960], back[40960];
	uint64_t ino = pgdax_vol_file_ino(f);
	int n0;

	fill_pattern(buf, sizeof(buf), 6);
	write_small(f, buf, sizeof(buf));
	n0 = read_extents(f, back, sizeof(back));
	ck_assert_int_gt(n0, 1);	/* small extents: the unit needs a relayout */
	pgdax_vol_get_stats(vol, &s0);
	ck_assert_int_eq(pgdax_vol_dax_layout(vol, f, 0, ALIGN, sizeof(buf), ALIGN, 0,
					      &ops, vol), -ENXIO);
	pgdax_vol_get_stats(vol, &s1);
	ck_assert_uint_eq(s1.free_blocks, s0.free_blocks);
	ck_assert_uint_eq(s1.active_extents, 0);
	ck_assert_int_eq(pgdax_vol_drain(vol, 1000), 0);
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, ino, 1);	/* create's lookup reference */
	/* the medium too: same extents, same bytes */
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &f), 0);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(read_extents(f, back, sizeof(back)), n0);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	pgdax_vol_release(vol, &f);
}
END_TEST

START_TEST(test_relayout_keeps_file_data_and_is_stable)
{
	struct pgdax_vol_file *f = create("data", O_RDWR);
	struct pgdax_ioc_pin_extents x1, x2;
	struct pgdax_ioc_pin p1 = pin_req(0, 3 * MiB, false), p2 = pin_req(0, 3 * MiB, false);
	size_t n = 3 * MiB + 12345;
	char *buf = malloc(n), *back = malloc(n);
	struct stat st;

	fill_pattern(buf, n, 2);
	write_small(f, buf, n);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p1), 0);
	ck_assert_uint_eq(p1.map_length, 4 * MiB);
	get_extents(f, p1.pin_id, &x1);
	/* pinning again finds the aligned extents as they are */
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p2), 0);
	get_extents(f, p2.pin_id, &x2);
	ck_assert_uint_eq(x1.count, x2.count);
	for (uint32_t i = 0; i < x1.count; i++)
		ck_assert_uint_eq(x1.ext[i].dev_off, x2.ext[i].dev_off);
	/* two pins, two references per extent */
	ck_assert_uint_eq(pgmap_folio_refcount(pgdax_vol_pgmap(vol), x1.ext[0].dev_off / BS), 2);
	/* the file reads back unchanged, size unchanged by a read pin */
	for (size_t done = 0; done < n;) {
		struct iovec iov[64];
		struct pgdax_io io = { 0 };
		int niov = 0;
		ssize_t r = pgdax_vol_read_map(vol, f, done, n - done, iov, 64, &niov, &io);

		ck_assert_int_gt(r, 0);
		for (int i = 0, at = 0; i < niov; at += (int)iov[i].iov_len, i++)
			memcpy(back + done + at, iov[i].iov_base, iov[i].iov_len);
		pgdax_vol_io_done(vol, &io);
		done += (size_t)r;
	}
	ck_assert_mem_eq(back, buf, n);
	ck_assert_int_eq(pgdax_vol_getattr(vol, pgdax_vol_file_ino(f), &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)n);
	pgdax_vol_release(vol, &f);	/* drops both pins */
	assert_no_references();
	free(buf);
	free(back);
}
END_TEST

START_TEST(test_read_pin_of_hole_reports_hole_and_takes_nothing)
{
	struct pgdax_vol_file *f = create("hole", O_RDWR);
	struct pgdax_ioc_pin_extents x;
	struct pgdax_ioc_pin p = pin_req(0, 4 * MiB, false);
	struct stat st;

	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	get_extents(f, p.pin_id, &x);
	ck_assert_uint_eq(x.count, 1);	/* two hole units, merged */
	ck_assert_uint_eq(x.ext[0].flags, PGDAX_EXTENT_HOLE);
	ck_assert_uint_eq(x.ext[0].len, 4 * MiB);
	ck_assert_uint_eq(pgmap_active_folios(pgdax_vol_pgmap(vol)), 0);
	ck_assert_int_eq(pgdax_vol_getattr(vol, pgdax_vol_file_ino(f), &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	unpin(f, p.pin_id);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

START_TEST(test_write_pin_without_extend_keeps_the_size_and_refuses_past_eof)
{
	struct pgdax_vol_file *f = create("noext", O_RDWR);
	struct pgdax_ioc_pin p = { .offset = 0, .length = BS, .flags = PGDAX_PIN_WRITE };
	struct pgdax_ioc_pin q = { .offset = 3 * MiB, .length = BS, .flags = PGDAX_PIN_WRITE };
	struct pgdax_ioc_pin r = { .offset = 0, .length = BS, .flags = PGDAX_PIN_EXTEND };
	struct stat st;

	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, "abc", 3, &root_cred), 3);
	/* the partial last block: pinned, the size stays 3 (mmap's partial page) */
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	ck_assert_int_eq(pgdax_vol_getattr(vol, pgdax_vol_file_ino(f), &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	/* past the block holding EOF: -ENXIO, nothing allocated or grown */
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &q), -ENXIO);
	ck_assert_int_eq(pgdax_vol_getattr(vol, pgdax_vol_file_ino(f), &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	/* EXTEND without WRITE is meaningless */
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &r), -EINVAL);
	unpin(f, p.pin_id);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

START_TEST(test_write_pin_allocates_and_extends_like_a_write_fault)
{
	struct pgdax_vol_file *f = create("grow", O_RDWR);
	struct pgdax_ioc_pin_extents x;
	struct pgdax_ioc_pin p = pin_req(MiB, 3 * MiB, true);
	struct stat st;

	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	get_extents(f, p.pin_id, &x);
	ck_assert_uint_eq(x.count, 2);
	for (uint32_t i = 0; i < x.count; i++) {
		const char *d = pgmap_page_addr(pgdax_vol_pgmap(vol), x.ext[i].dev_off / BS);

		ck_assert_uint_eq(x.ext[i].flags, 0);
		ck_assert_uint_eq(x.ext[i].dev_off % ALIGN, 0);
		for (uint64_t k = 0; k < x.ext[i].len; k += 4096)
			ck_assert_int_eq(d[k], 0);
	}
	ck_assert_uint_ne(x.ext[0].dev_off, x.ext[1].dev_off);
	ck_assert_int_eq(pgdax_vol_getattr(vol, pgdax_vol_file_ino(f), &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)(4 * MiB));
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

/* ---- access ----------------------------------------------------------- */

START_TEST(test_pin_needs_the_access_of_the_open_file)
{
	struct pgdax_vol_file *rw = create("acc", O_RDWR), *ro = NULL, *wo = NULL, *ap = NULL;
	uint64_t ino = pgdax_vol_file_ino(rw);
	struct pgdax_ioc_pin p;

	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &ro), 0);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_WRONLY, &root_cred, &wo), 0);
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDWR | O_APPEND, &root_cred, &ap), 0);
	p = pin_req(0, 4096, true);
	ck_assert_int_eq(pgdax_pintab_create(vol, ro, &root_caller, &p), -EACCES);
	p = pin_req(0, 4096, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, wo, &root_caller, &p), -EACCES);
	p = pin_req(0, 4096, true);
	ck_assert_int_eq(pgdax_pintab_create(vol, ap, &root_caller, &p), -EACCES);
	p = pin_req(0, 4096, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, ro, &root_caller, &p), 0);
	pgdax_vol_release(vol, &ro);
	pgdax_vol_release(vol, &wo);
	pgdax_vol_release(vol, &ap);
	pgdax_vol_release(vol, &rw);
	assert_no_references();
}
END_TEST

START_TEST(test_pin_needs_access_to_the_device_node)
{
	struct pgdax_vol_file *f = create("devacc", O_RDWR);
	struct pgdax_pin_caller user = { .uid = 4321, .gid = 4321, .pid = 2 };
	struct pgdax_ioc_pin p = pin_req(0, 4096, false);

	ck_assert_int_eq(chmod(devpath, 0600), 0);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &user, &p), -EACCES);
	ck_assert_int_eq(chmod(devpath, 0604), 0);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &user, &p), 0);
	p = pin_req(0, 4096, true);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &user, &p), -EACCES);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

/* ---- hostile arguments -------------------------------------------------- */

START_TEST(test_hostile_arguments_get_errno_and_leave_no_reference)
{
	struct pgdax_vol_file *f = create("hostile", O_RDWR), *g = create("other", O_RDWR);
	struct pgdax_ioc_pin_extents x;
	struct pgdax_ioc_pin p;
	struct pgdax_ioc_unpin u;
	struct pgdax_ioc_sync s;
	uint64_t off, len;
	char buf[8192] = { 1 };

	write_small(f, buf, sizeof(buf));
	p = pin_req(0, 0, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), -EINVAL);
	p = pin_req(INT64_MAX, 2, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), -EINVAL);
	p = pin_req(UINT64_MAX - 10, 5, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), -EINVAL);
	p = pin_req(0, 4096, false);
	p.flags = 0x80;
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), -EINVAL);
	p = pin_req(0, 4096, false);
	p.reserved0 = 1;
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), -EINVAL);
	p = pin_req(0, 4096, false);
	p.reserved[1] = 1;
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), -EINVAL);
	/* more space than the device has */
	p = pin_req(0, 1ull << 40, true);
	ck_assert_int_lt(pgdax_pintab_create(vol, f, &root_caller, &p), 0);

	/* a real pin, then wrong ids, cursors and reserved fields */
	p = pin_req(0, 4096, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	memset(&x, 0, sizeof(x));
	x.pin_id = p.pin_id + 1000;
	ck_assert_int_eq(pgdax_pintab_extents(vol, f, &x), -ENOENT);
	x.pin_id = p.pin_id;
	x.cursor = 2;
	ck_assert_int_eq(pgdax_pintab_extents(vol, f, &x), -EINVAL);
	x.cursor = 1;	/* the end: an empty batch */
	ck_assert_int_eq(pgdax_pintab_extents(vol, f, &x), 0);
	ck_assert_uint_eq(x.count, 0);
	x.cursor = 0;
	x.reserved0 = 9;
	ck_assert_int_eq(pgdax_pintab_extents(vol, f, &x), -EINVAL);
	/* a pin id belongs to its open file only */
	x.reserved0 = 0;
	ck_assert_int_eq(pgdax_pintab_extents(vol, g, &x), -ENOENT);
	u = (struct pgdax_ioc_unpin){ .pin_id = p.pin_id };
	ck_assert_int_eq(pgdax_pintab_drop(vol, g, &u, NULL, NULL), -ENOENT);
	u.reserved[0] = 1;
	ck_assert_int_eq(pgdax_pintab_drop(vol, f, &u, NULL, NULL), -EINVAL);
	u.reserved[0] = 0;
	ck_assert_int_eq(pgdax_pintab_drop(vol, f, &u, NULL, NULL), 0);
	ck_assert_int_eq(pgdax_pintab_drop(vol, f, &u, NULL, NULL), -ENOENT);	/* twice */

	s = (struct pgdax_ioc_sync){ .offset = UINT64_MAX, .length = 1 };
	ck_assert_int_eq(pgdax_pintab_sync_range(vol, f, &s, &off, &len), -EINVAL);
	s = (struct pgdax_ioc_sync){ .offset = 0, .length = 0, .flags = 1 };
	ck_assert_int_eq(pgdax_pintab_sync_range(vol, f, &s, &off, &len), -EINVAL);
	s = (struct pgdax_ioc_sync){ .offset = 4096, .length = 0 };
	ck_assert_int_eq(pgdax_pintab_sync_range(vol, f, &s, &off, &len), 0);
	ck_assert_uint_eq(off, 4096);
	ck_assert_uint_eq(len, 4096);	/* clamped to the file */

	pgdax_vol_release(vol, &f);
	pgdax_vol_release(vol, &g);
	assert_no_references();
}
END_TEST

START_TEST(test_extent_list_comes_back_in_bounded_batches)
{
	struct pgdax_vol_file *f = create("big", O_RDWR);
	struct pgdax_ioc_pin_extents x;
	struct pgdax_ioc_pin p = pin_req(0, 130 * ALIGN, false);
	uint32_t cursor = 0, total = 0, batches = 0;
	uint64_t expect = 0;

	/* data in even units, holes in odd ones: 130 extents, none merged */
	for (uint64_t u = 0; u < 130; u += 2) {
		char c = 'a';

		ck_assert_int_eq(pgdax_vol_write(vol, f, u * ALIGN, &c, 1, &root_cred), 1);
	}
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	ck_assert_uint_eq(p.nr_extents, 130);
	for (;;) {
		memset(&x, 0, sizeof(x));
		x.pin_id = p.pin_id;
		x.cursor = cursor;
		ck_assert_int_eq(pgdax_pintab_extents(vol, f, &x), 0);
		if (!x.count)
			break;
		batches++;
		ck_assert_uint_le(x.count, PGDAX_IOC_EXTENTS_BATCH);
		for (uint32_t i = 0; i < x.count; i++) {
			ck_assert_uint_eq(x.ext[i].file_off, expect);
			ck_assert_uint_eq(x.ext[i].flags, (total + i) % 2 ? PGDAX_EXTENT_HOLE : 0);
			expect += x.ext[i].len;
		}
		total += x.count;
		ck_assert_uint_eq(x.next, total);
		cursor = x.next;
	}
	ck_assert_uint_eq(total, 130);
	ck_assert_uint_eq(batches, 3);
	ck_assert_uint_eq(expect, 130 * ALIGN);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

/* ---- layout breaks ------------------------------------------------------ */

static int notified, destroyed;
static void count_notify(void *h) { (void)h; notified++; }
static void count_destroy(void *h) { (void)h; destroyed++; }

START_TEST(test_truncate_over_pin_fails_ebusy_and_changes_nothing)
{
	struct pgdax_vol_file *f = create("trunc", O_RDWR);
	struct pgdax_ioc_pin p = pin_req(0, MiB, false);
	uint64_t ino = pgdax_vol_file_ino(f);
	struct stat a = { .st_size = 0 }, st;
	char buf[16384], back[16384];

	fill_pattern(buf, sizeof(buf), 3);
	write_small(f, buf, sizeof(buf));
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), -EBUSY);
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     0, 8192, &root_cred), -EBUSY);
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)sizeof(buf));
	{
		struct iovec iov[8];
		struct pgdax_io io = { 0 };
		int niov = 0, at = 0;

		ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, sizeof(back), iov, 8, &niov, &io),
				 (ssize_t)sizeof(back));
		for (int i = 0; i < niov; at += (int)iov[i].iov_len, i++)
			memcpy(back + at, iov[i].iov_base, iov[i].iov_len);
		pgdax_vol_io_done(vol, &io);
	}
	ck_assert_mem_eq(back, buf, sizeof(buf));
	/* the pin let go: the truncate completes */
	unpin(f, p.pin_id);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

/*
 * A layout break that cannot be recorded (no memory for the record) would
 * let the truncate wait without refusing new pins: it must fail the
 * truncate with -ENOMEM instead, changing nothing.
 */
START_TEST(test_truncate_whose_break_cannot_be_recorded_fails_enomem)
{
	struct pgdax_vol_file *f = create("nomem", O_RDWR);
	struct pgdax_ioc_pin p = pin_req(0, MiB, false);
	uint64_t ino = pgdax_vol_file_ino(f);
	struct stat a = { .st_size = 0 }, st;
	struct pgdax_ioc_status stat_req = { 0 };
	char buf[16384];

	fill_pattern(buf, sizeof(buf), 4);
	write_small(f, buf, sizeof(buf));
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	pgdax_fault_set("pin_break");
	ck_assert_int_eq(pgdax_pin_break_layout(vol, ino, 0, 1), -ENOMEM);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st),
			 -ENOMEM);
	ck_assert_int_eq(pgdax_vol_fallocate(vol, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     0, 8192, &root_cred), -ENOMEM);
	pgdax_fault_set(NULL);
	ck_assert_int_eq(pgdax_pintab_status(vol, &stat_req), 0);
	ck_assert_uint_eq(stat_req.breaking, 0);	/* nothing left recorded */
	ck_assert_int_eq(pgdax_vol_getattr(vol, ino, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)sizeof(buf));
	/* with memory again: the usual break (EBUSY while pinned, then done) */
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), -EBUSY);
	unpin(f, p.pin_id);
	ck_assert_int_eq(pgdax_vol_setattr(vol, ino, &a, PGDAX_SET_SIZE, &root_cred, &st), 0);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

START_TEST(test_break_refuses_new_pins_and_notifies_holders)
{
	static const struct pgdax_pintab_poll_ops ops = { count_notify, count_destroy };
	struct pgdax_vol_file *f = create("brk", O_RDWR), *other = NULL;
	uint64_t ino = pgdax_vol_file_ino(f);
	struct pgdax_ioc_pin p = pin_req(0, MiB, false), q;
	int handle;
	bool kept;

	notified = destroyed = 0;
	ck_assert_int_eq(pgdax_vol_open(vol, ino, O_RDONLY, &root_cred, &other), 0);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	pgdax_pintab_set_poll_ops(vol, &ops);
	ck_assert_uint_eq(pgdax_pintab_poll(vol, f, &handle, &kept), 0);
	ck_assert(kept);
	/* a break over the pinned range: the holder is told, once */
	ck_assert_int_eq(pgdax_pin_break_layout(vol, ino, 0, 1), 1);
	ck_assert_int_eq(notified, 1);
	ck_assert_int_eq(destroyed, 1);
	ck_assert_uint_eq(pgdax_pintab_poll(vol, f, NULL, &kept), POLLPRI);
	/* no new pin in the range, from any open file; outside it is fine */
	q = pin_req(4096, 4096, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, other, &root_caller, &q), -EBUSY);
	q = pin_req(8 * MiB, 4096, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, other, &root_caller, &q), 0);
	ck_assert_uint_eq(pgdax_pintab_poll(vol, other, NULL, &kept), 0);
	pgdax_pin_break_done(vol, ino, 0, 1);
	ck_assert_uint_eq(pgdax_pintab_poll(vol, f, NULL, &kept), 0);
	q = pin_req(4096, 4096, false);
	ck_assert_int_eq(pgdax_pintab_create(vol, other, &root_caller, &q), 0);
	/* a break elsewhere notifies nobody */
	ck_assert_int_eq(pgdax_pin_break_layout(vol, ino, 100 * 512, 512), 0);
	pgdax_pin_break_done(vol, ino, 100 * 512, 512);
	ck_assert_int_eq(notified, 1);
	pgdax_vol_release(vol, &other);
	pgdax_vol_release(vol, &f);
	assert_no_references();
}
END_TEST

START_TEST(test_pins_end_at_kill_new_ones_fail_enxio)
{
	struct pgdax_vol_file *f = create("kill", O_RDWR);
	struct pgdax_ioc_pin p = pin_req(0, MiB, true), q = pin_req(2 * MiB, MiB, true);

	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &p), 0);
	pgdax_vol_kill(vol);
	ck_assert_int_eq(pgdax_pintab_create(vol, f, &root_caller, &q), -ENXIO);
	/* the old pin holds the drain */
	ck_assert_int_eq(pgdax_vol_drain(vol, 50), -ETIMEDOUT);
	pgdax_vol_release(vol, &f);
	ck_assert_int_eq(pgdax_vol_drain(vol, 1000), 0);
}
END_TEST

/* ---- quarantine --------------------------------------------------------- */

START_TEST(test_locked_free_range_is_quarantined_until_unlocked)
{
	struct pgdax_vol_stats s0, s1, s2;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int fd;

	pgdax_vol_get_stats(vol, &s0);
	ck_assert_uint_eq(s0.quarantined_pages, 0);
	/* a "client of an earlier daemon": an OFD read lock on 4 MiB near the
	 * end of the device (free space) */
	fd = open(devpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	fl.l_start = 48 * MiB;
	fl.l_len = 4 * MiB;
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	pgdax_quarantine_reprobe(vol);
	pgdax_vol_get_stats(vol, &s1);
	ck_assert_uint_eq(s1.quarantined_pages, 4 * MiB / BS);
	ck_assert_uint_eq(s1.free_blocks, s0.free_blocks - 4 * MiB / BS);
	/* the client goes: the next probe returns the pages */
	close(fd);
	pgdax_quarantine_reprobe(vol);
	pgdax_vol_get_stats(vol, &s2);
	ck_assert_uint_eq(s2.quarantined_pages, 0);
	ck_assert_uint_eq(s2.free_blocks, s0.free_blocks);
}
END_TEST

START_TEST(test_quarantined_pages_are_never_allocated)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	struct pgdax_vol_file *f = create("fill", O_RDWR);
	struct pgdax_vol_stats s0, s1, s2;
	uint64_t off = 0;
	char *chunk = calloc(1, ALIGN);
	int fd;

	/* a client of an earlier daemon maps everything from 128 MiB on */
	fd = open(devpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	fl.l_start = 128 * MiB;
	fl.l_len = 0;
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	pgdax_quarantine_reprobe(vol);
	pgdax_vol_get_stats(vol, &s0);
	ck_assert_uint_gt(s0.quarantined_pages, 100 * MiB / BS);
	/* fill the device: only what is not quarantined can be had */
	while (pgdax_vol_write(vol, f, off, chunk, ALIGN, &root_cred) == (ssize_t)ALIGN)
		off += ALIGN;
	ck_assert_uint_gt(off, 64 * MiB);
	pgdax_vol_get_stats(vol, &s1);
	ck_assert_uint_eq(s1.quarantined_pages, s0.quarantined_pages);
	ck_assert_uint_lt(s1.free_blocks, ALIGN / BS);
	/* the client goes: the space comes back */
	close(fd);
	pgdax_quarantine_reprobe(vol);
	pgdax_vol_get_stats(vol, &s2);
	ck_assert_uint_eq(s2.quarantined_pages, 0);
	ck_assert_uint_eq(s2.free_blocks, s1.free_blocks + s0.quarantined_pages);
	pgdax_vol_release(vol, &f);
	free(chunk);
}
END_TEST

/*
 * Stats (pgdax_vol_get_stats -> pgdax_quarantine_pages) and the other
 * quarantine calls run on other threads than the one that stops the
 * quarantine (unmount does, through pgdax_quarantine_stop): none of them
 * may touch freed quarantine state. Many stop/start cycles under readers;
 * ASan (make check-asan) reports a use after free if one does.
 */
static _Atomic bool q_stress_done;

static void *q_stress_stats(void *arg)
{
	struct pgdax_vol_stats s;
	uint64_t *calls = arg;

	while (!atomic_load(&q_stress_done)) {
		pgdax_vol_get_stats(vol, &s);
		ck_assert_uint_le(s.quarantined_pages, 4 * MiB / BS);
		(*calls)++;
	}
	return NULL;
}

static void *q_stress_reprobe(void *arg)
{
	uint64_t *calls = arg;

	while (!atomic_load(&q_stress_done)) {
		pgdax_quarantine_reprobe(vol);
		(*calls)++;
	}
	return NULL;
}

START_TEST(test_stats_and_quarantine_calls_survive_a_concurrent_stop)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = 48 * MiB, .l_len = 4 * MiB };
	pthread_t th[3];
	uint64_t calls[3] = { 0 };
	int fd = open(devpath, O_RDONLY);

	/* a lock to find, so every probe and stats call has state to read */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	atomic_store(&q_stress_done, false);
	ck_assert_int_eq(pthread_create(&th[0], NULL, q_stress_stats, &calls[0]), 0);
	ck_assert_int_eq(pthread_create(&th[1], NULL, q_stress_stats, &calls[1]), 0);
	ck_assert_int_eq(pthread_create(&th[2], NULL, q_stress_reprobe, &calls[2]), 0);
	for (int i = 0; i < 300; i++) {
		pgdax_quarantine_stop(vol);
		ck_assert_int_eq(pgdax_quarantine_start(vol), 0);
	}
	/* what unmount does before it releases the device, under readers */
	pgdax_vol_kill(vol);
	ck_assert_int_eq(pgdax_vol_drain(vol, 1000), 0);
	pgdax_quarantine_stop(vol);
	pgdax_quarantine_stop(vol);
	pgdax_quarantine_reprobe(vol);	/* after stop: a no-op, not a crash */
	atomic_store(&q_stress_done, true);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_uint_gt(calls[0] + calls[1], 0);
	close(fd);
}
END_TEST

/* Device byte ranges holding file bytes [0, len) of @f (one per extent). */
static int data_ranges(struct pgdax_vol_file *f, size_t len, uint64_t *s, uint64_t *e, int max)
{
	const char *base = pgdax_dev_base(pgmap_dev(pgdax_vol_pgmap(vol)));
	struct iovec iov[64];
	struct pgdax_io io = { 0 };
	int niov = 0;

	ck_assert_int_eq(pgdax_vol_read_map(vol, f, 0, len, iov, 64, &niov, &io), (ssize_t)len);
	ck_assert_int_le(niov, max);
	for (int k = 0; k < niov; k++) {
		s[k] = (uint64_t)((const char *)iov[k].iov_base - base);
		e[k] = s[k] + iov[k].iov_len;
		ck_assert_uint_lt(e[k], 256 * MiB);	/* device memory, not the zero page */
	}
	pgdax_vol_io_done(vol, &io);
	return niov;
}

/*
 * A client of an earlier daemon maps a file's extents (its OFD locks exist
 * at mount); the file is unlinked after mount: its pages go to quarantine
 * in the transaction that frees them, not at the next re-probe, so a file
 * written right after can never receive them.
 */
START_TEST(test_freed_pages_an_old_client_maps_are_quarantined_at_once)
{
	struct pgdax_vol_opts vo = { .break_timeout_ms = 200 };
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	struct pgdax_vol_file *f = create("victim", O_RDWR);
	struct pgdax_vol_stats s0, s1, s2, s3;
	uint64_t ls[8], le[8], ns[8], ne[8], locked = 0;
	size_t len = 4 * MiB;
	char *buf = malloc(len);
	int nl, nn, fd;

	fill_pattern(buf, len, 5);
	for (size_t off = 0; off < len; off += ALIGN)
		ck_assert_int_eq(pgdax_vol_write(vol, f, off, buf + off, ALIGN, &root_cred),
				 (ssize_t)ALIGN);
	nl = data_ranges(f, len, ls, le, 8);
	pgdax_vol_release(vol, &f);
	/* the old client: read locks on every extent it maps */
	fd = open(devpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	for (int k = 0; k < nl; k++) {
		fl.l_start = (off_t)ls[k];
		fl.l_len = (off_t)(le[k] - ls[k]);
		ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
		locked += (le[k] - ls[k]) / BS;
	}
	ck_assert_uint_eq(locked, len / BS);
	/* "the old daemon is gone": a new mount finds the locks, over pages
	 * still allocated to the file, so nothing is quarantined yet */
	ck_assert_int_eq(pgdax_vol_unmount(&vol), 0);
	ck_assert_int_eq(pgdax_vol_mount(devpath, &vo, &vol), 0);
	pgdax_vol_get_stats(vol, &s0);
	ck_assert_uint_eq(s0.quarantined_pages, 0);

	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "victim"), 0);
	pgdax_vol_get_stats(vol, &s1);
	ck_assert_uint_eq(s1.orphans, 0);
	ck_assert_uint_eq(s1.quarantined_pages, locked);
	/* only the file's metadata blocks came back */
	ck_assert_uint_lt(s1.free_blocks, s0.free_blocks + 16);

	/* a new file, written before any re-probe, gets other pages */
	f = create("next", O_RDWR);
	for (size_t off = 0; off < len; off += ALIGN)
		ck_assert_int_eq(pgdax_vol_write(vol, f, off, buf + off, ALIGN, &root_cred),
				 (ssize_t)ALIGN);
	nn = data_ranges(f, len, ns, ne, 8);
	for (int a = 0; a < nn; a++)
		for (int b = 0; b < nl; b++)
			ck_assert_msg(ne[a] <= ls[b] || ns[a] >= le[b],
				      "new extent [%llu, %llu) overlaps a range the old client maps",
				      (unsigned long long)ns[a], (unsigned long long)ne[a]);
	pgdax_vol_release(vol, &f);
	pgdax_vol_get_stats(vol, &s2);

	/* the old client unmaps: the next probe returns the pages */
	close(fd);
	pgdax_quarantine_reprobe(vol);
	pgdax_vol_get_stats(vol, &s3);
	ck_assert_uint_eq(s3.quarantined_pages, 0);
	ck_assert_uint_eq(s3.free_blocks, s2.free_blocks + locked);
	free(buf);
}
END_TEST

/* Without client locks at mount, a freed extent is reusable at once. */
START_TEST(test_freed_pages_nobody_maps_are_reusable_at_once)
{
	struct pgdax_vol_file *f = create("plain", O_RDWR);
	struct pgdax_vol_stats s0, s1;
	char *buf = calloc(1, ALIGN);

	pgdax_vol_get_stats(vol, &s0);
	uint64_t ino = pgdax_vol_file_ino(f);

	ck_assert_int_eq(pgdax_vol_write(vol, f, 0, buf, ALIGN, &root_cred), (ssize_t)ALIGN);
	pgdax_vol_release(vol, &f);
	pgdax_vol_iput(vol, ino, 1);	/* the lookup reference of create */
	ck_assert_int_eq(pgdax_vol_unlink(vol, PGDAX_ROOT_INO, "plain"), 0);
	pgdax_vol_get_stats(vol, &s1);
	ck_assert_uint_eq(s1.quarantined_pages, 0);
	ck_assert_uint_ge(s1.free_blocks, s0.free_blocks);
	free(buf);
}
END_TEST

static Suite *pin_suite(void)
{
	Suite *s = suite_create("client_pintab");
	TCase *tc;

	tc = tcase_create("layout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_small_file_pin_relays_out_into_one_aligned_extent);
	tcase_add_test(tc, test_relayout_keeps_file_data_and_is_stable);
	tcase_add_test(tc, test_relayout_after_kill_fails_enxio_and_changes_nothing);
	tcase_add_test(tc, test_read_pin_of_hole_reports_hole_and_takes_nothing);
	tcase_add_test(tc, test_write_pin_allocates_and_extends_like_a_write_fault);
	tcase_add_test(tc, test_write_pin_without_extend_keeps_the_size_and_refuses_past_eof);
	tcase_add_test(tc, test_extent_list_comes_back_in_bounded_batches);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pin_needs_the_access_of_the_open_file);
	tcase_add_test(tc, test_pin_needs_access_to_the_device_node);
	tcase_add_test(tc, test_hostile_arguments_get_errno_and_leave_no_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("breaks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_truncate_over_pin_fails_ebusy_and_changes_nothing);
	tcase_add_test(tc, test_break_refuses_new_pins_and_notifies_holders);
	tcase_add_test(tc, test_truncate_whose_break_cannot_be_recorded_fails_enomem);
	tcase_add_test(tc, test_pins_end_at_kill_new_ones_fail_enxio);
	suite_add_tcase(s, tc);

	tc = tcase_create("quarantine");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_locked_free_range_is_quarantined_until_unlocked);
	tcase_add_test(tc, test_quarantined_pages_are_never_allocated);
	tcase_add_test(tc, test_freed_pages_an_old_client_maps_are_quarantined_at_once);
	tcase_add_test(tc, test_freed_pages_nobody_maps_are_reusable_at_once);
	tcase_add_test(tc, test_stats_and_quarantine_calls_survive_a_concurrent_stop);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
