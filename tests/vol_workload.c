/* SPDX-License-Identifier: MIT */
/*
 * vol_workload: a deterministic, metadata-heavy workload through the lib/vol/vol.h
 * API, and the checker that compares a volume with what it acknowledged.
 *
 *   vol_workload run DEVICE ACKLOG SEED NOPS
 *	mount DEVICE, perform NOPS operations chosen by a seeded generator
 *	(create, write, mkdir, symlink, link, unlink, unlink-while-open, rmdir,
 *	rename incl. replace/NOREPLACE/EXCHANGE and over a file held open,
 *	truncate, punch, zero-range, DAX layout (a pin's relayout, growing the
 *	file when writable), chmod, setxattr, removexattr), append "ack N" to
 *	ACKLOG (fsync'd) after operation N returns, unmount. Run under
 *	PGDAX_CRASH_AT it dies at a persist barrier somewhere in the middle.
 *   vol_workload verify DEVICE ACKLOG SEED NOPS
 *	mount DEVICE (its journal recovery runs), walk the whole namespace and
 *	compare it with a model: the state after the last acknowledged operation
 *	N, or after N+1 (the operation in flight may have committed). Metadata
 *	must be exactly one of the two; file bytes of the in-flight operation may
 *	be torn (each byte old or new), as a crashed write(2) may be. And on
 *	the medium (vol_test_nonzero_past_eof): no allocated byte past the
 *	EOF of any file is non-zero, except bytes the in-flight write itself
 *	put there (its extent committed, its size store not yet), so growing
 *	a file never shows old bytes.
 *
 * The generator depends only on the seed and on the model, never on what
 * the volume returns, so verify regenerates the same sequence without a
 * device. Exit 0 when the volume matches, 1 on a mismatch or failed call,
 * 2 on usage errors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#include "core/pgmap.h"
#include "vol/vol.h"
#include "vol/vol_test.h"

#define MAX_INO		96
#define MAX_ENT		192
#define MAX_DATA	(64 * 1024)
#define NXATTR		3
#define XMAX		200
#define NNAMES		6
#define MAX_DEPTH	64

enum op_type {
	OP_CREATE, OP_WRITE, OP_MKDIR, OP_SYMLINK, OP_LINK, OP_UNLINK, OP_UNLINK_OPEN,
	OP_RMDIR, OP_RENAME, OP_TRUNCATE, OP_PUNCH, OP_CHMOD, OP_SETXATTR,
	OP_REMOVEXATTR, OP_ZERO, OP_LAYOUT, OP_RENAME_OPEN, OP_NTYPES
};

static const char *const op_names[OP_NTYPES] = {
	"create", "write", "mkdir", "symlink", "link", "unlink", "unlink-open",
	"rmdir", "rename", "truncate", "punch", "chmod", "setxattr", "removexattr",
	"zero-range", "layout", "rename-over-open",
};

/* relative weights of the generator */
static const int op_weight[OP_NTYPES] = {
	14, 18, 6, 3, 5, 6, 3, 3, 10, 8, 4, 4, 6, 2, 4, 3, 3,
};

#define LAYOUT_ALIGN	16384u	/* 4 blocks: small extents get relaid out */

struct mino {
	bool used;
	mode_t mode;		/* type | permissions */
	int nlink;
	uint32_t size;
	char target[32];
	int xlen[NXATTR];	/* -1: absent */
	uint8_t xval[NXATTR][XMAX];
	uint8_t data[MAX_DATA];
};

struct ment {
	bool used;
	int dir;
	int ino;
	char name[8];
};

struct model {
	struct mino ino[MAX_INO];
	struct ment ent[MAX_ENT];
};

struct op {
	enum op_type type;
	int a;			/* subject inode (model) */
	int dir, dir2;		/* directories (model) */
	int newino;		/* model slot of a created inode */
	char name[8], name2[8];
	uint32_t off, len, seed;
	mode_t mode;
	unsigned flags;
	int xi;
	char target[32];
};

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return n ? (uint32_t)((x >> 11) % n) : 0;
}

static uint8_t pat(uint32_t seed, uint32_t i)
{
	uint32_t x = seed * 2654435761u + i * 40503u;

	return (uint8_t)(x ^ (x >> 13) ^ (x >> 24));
}

static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->ino[0].used = true;
	m->ino[0].mode = S_IFDIR | 0755;
	m->ino[0].nlink = 2;
	for (int x = 0; x < NXATTR; x++)
		m->ino[0].xlen[x] = -1;
}

static int find_ent(const struct model *m, int dir, const char *name)
{
	for (int e = 0; e < MAX_ENT; e++)
		if (m->ent[e].used && m->ent[e].dir == dir && !strcmp(m->ent[e].name, name))
			return e;
	return -1;
}

static int free_slot_ino(const struct model *m)
{
	for (int i = 1; i < MAX_INO; i++)
		if (!m->ino[i].used)
			return i;
	return -1;
}

static int free_slot_ent(const struct model *m)
{
	for (int e = 0; e < MAX_ENT; e++)
		if (!m->ent[e].used)
			return e;
	return -1;
}

static bool dir_empty(const struct model *m, int dir)
{
	for (int e = 0; e < MAX_ENT; e++)
		if (m->ent[e].used && m->ent[e].dir == dir)
			return false;
	return true;
}

/* entry naming directory @d (directories have exactly one), or -1 for root */
static int dir_ent(const struct model *m, int d)
{
	for (int e = 0; e < MAX_ENT; e++)
		if (m->ent[e].used && m->ent[e].ino == d)
			return e;
	return -1;
}

/* is @a equal to @b or one of its ancestors? */
static bool is_ancestor(const struct model *m, int a, int b)
{
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		int e;

		if (a == b)
			return true;
		if (b == 0)
			return false;
		e = dir_ent(m, b);
		if (e < 0)
			return false;
		b = m->ent[e].dir;
	}
	return true;
}

static int depth_of(const struct model *m, int d)
{
	int depth = 0;

	while (d != 0 && depth < MAX_DEPTH) {
		int e = dir_ent(m, d);

		if (e < 0)
			break;
		d = m->ent[e].dir;
		depth++;
	}
	return depth;
}

static int pick_ino(const struct model *m, mode_t type)
{
	int cand[MAX_INO], n = 0;

	for (int i = 0; i < MAX_INO; i++)
		if (m->ino[i].used && (!type || (m->ino[i].mode & S_IFMT) == type))
			cand[n++] = i;
	return n ? cand[rnd(n)] : -1;
}

static int pick_ent(const struct model *m, mode_t type, bool not_type)
{
	int cand[MAX_ENT], n = 0;

	for (int e = 0; e < MAX_ENT; e++) {
		bool is;

		if (!m->ent[e].used)
			continue;
		is = (m->ino[m->ent[e].ino].mode & S_IFMT) == type;
		if (!type || is != not_type)
			cand[n++] = e;
	}
	return n ? cand[rnd(n)] : -1;
}

/* a name not used in @dir, or false */
static bool free_name(const struct model *m, int dir, char *name)
{
	unsigned start = rnd(NNAMES);

	for (unsigned k = 0; k < NNAMES; k++) {
		snprintf(name, 8, "n%u", (start + k) % NNAMES);
		if (find_ent(m, dir, name) < 0)
			return true;
	}
	return false;
}

static void any_name(char *name)
{
	snprintf(name, 8, "n%u", rnd(NNAMES));
}

static bool gen_try(const struct model *m, enum op_type t, struct op *op)
{
	int e, e2;

	memset(op, 0, sizeof(*op));
	op->type = t;
	op->seed = rnd(1u << 30);
	switch (t) {
	case OP_CREATE:
	case OP_MKDIR:
	case OP_SYMLINK:
		op->dir = pick_ino(m, S_IFDIR);
		op->newino = free_slot_ino(m);
		if (op->dir < 0 || op->newino < 0 || free_slot_ent(m) < 0 ||
		    !free_name(m, op->dir, op->name))
			return false;
		if (t == OP_MKDIR && depth_of(m, op->dir) >= 6)
			return false;
		op->mode = t == OP_MKDIR ? 0700 | rnd(0100) : 0600 | rnd(0100);
		snprintf(op->target, sizeof(op->target), "target-%u", op->seed % 1000);
		return true;
	case OP_WRITE:
		op->a = pick_ino(m, S_IFREG);
		if (op->a < 0)
			return false;
		/* sizes around block boundaries, sometimes multi-block, sometimes
		 * the whole file (one large extent for truncates to split) */
		op->len = rnd(4) == 0 ? 1 + rnd(12000) : 1 + rnd(600);
		op->off = rnd(MAX_DATA - op->len);
		if (rnd(10) == 0) {
			op->off = 0;
			op->len = MAX_DATA;
			return true;
		}
		if (rnd(3) == 0)
			op->off = m->ino[op->a].size < MAX_DATA - op->len ? m->ino[op->a].size : op->off;
		return true;
	case OP_LINK:
		op->a = pick_ino(m, S_IFREG);
		op->dir = pick_ino(m, S_IFDIR);
		if (op->a < 0 || op->dir < 0 || free_slot_ent(m) < 0 ||
		    !free_name(m, op->dir, op->name))
			return false;
		return true;
	case OP_UNLINK:
	case OP_UNLINK_OPEN:
		e = pick_ent(m, S_IFDIR, true);
		if (e < 0)
			return false;
		/* unlink-while-open writes to the orphan: only when it is one */
		if (t == OP_UNLINK_OPEN && ((m->ino[m->ent[e].ino].mode & S_IFMT) != S_IFREG ||
					    m->ino[m->ent[e].ino].nlink != 1))
			return false;
		op->dir = m->ent[e].dir;
		op->a = m->ent[e].ino;
		strcpy(op->name, m->ent[e].name);
		return true;
	case OP_RMDIR:
		e = pick_ent(m, S_IFDIR, false);
		if (e < 0 || !dir_empty(m, m->ent[e].ino))
			return false;
		op->dir = m->ent[e].dir;
		op->a = m->ent[e].ino;
		strcpy(op->name, m->ent[e].name);
		return true;
	case OP_RENAME:
		e = pick_ent(m, 0, false);
		if (e < 0)
			return false;
		op->dir = m->ent[e].dir;
		op->a = m->ent[e].ino;
		strcpy(op->name, m->ent[e].name);
		op->dir2 = pick_ino(m, S_IFDIR);
		any_name(op->name2);
		e2 = find_ent(m, op->dir2, op->name2);
		if (e2 == e)
			return false;
		if (S_ISDIR(m->ino[op->a].mode) && is_ancestor(m, op->a, op->dir2))
			return false;
		if (e2 < 0) {
			op->flags = rnd(2) ? RENAME_NOREPLACE : 0;
			return true;
		}
		if (S_ISDIR(m->ino[m->ent[e2].ino].mode) || S_ISDIR(m->ino[op->a].mode)) {
			/* dir over empty dir only; never exchange directories */
			if (!S_ISDIR(m->ino[m->ent[e2].ino].mode) || !S_ISDIR(m->ino[op->a].mode) ||
			    !dir_empty(m, m->ent[e2].ino) || is_ancestor(m, m->ent[e2].ino, op->dir))
				return false;
			return true;
		}
		if (m->ent[e2].ino == op->a)	/* two links of one inode: a no-op */
			return false;
		op->flags = rnd(3) == 0 ? RENAME_EXCHANGE : 0;
		return true;
	case OP_TRUNCATE:
		op->a = pick_ino(m, S_IFREG);
		if (op->a < 0)
			return false;
		op->len = rnd(2) ? rnd(MAX_DATA) : rnd(m->ino[op->a].size + 1);
		return true;
	case OP_PUNCH:
		op->a = pick_ino(m, S_IFREG);
		if (op->a < 0 || m->ino[op->a].size == 0)
			return false;
		op->off = rnd(m->ino[op->a].size);
		op->len = 1 + rnd(12000);
		if (op->off + op->len > MAX_DATA)
			op->len = MAX_DATA - op->off;
		return true;
	case OP_ZERO:
		op->a = pick_ino(m, S_IFREG);
		if (op->a < 0)
			return false;
		op->off = rnd(MAX_DATA - 1);
		op->len = 1 + rnd(16000);
		if (op->off + op->len > MAX_DATA)
			op->len = MAX_DATA - op->off;
		op->flags = rnd(2) ? FALLOC_FL_KEEP_SIZE : 0;
		return true;
	case OP_LAYOUT:
		op->a = pick_ino(m, S_IFREG);
		if (op->a < 0)
			return false;
		op->off = rnd(MAX_DATA / LAYOUT_ALIGN) * LAYOUT_ALIGN;
		op->len = 1 + rnd(MAX_DATA - op->off);
		op->flags = rnd(3) != 0;	/* writable: holes allocated, may grow */
		return true;
	case OP_RENAME_OPEN:
		/* rename over a regular file held open (its last link): it lives
		 * on as an orphan, written to, until closed */
		e = pick_ent(m, S_IFDIR, true);
		e2 = pick_ent(m, S_IFREG, false);
		if (e < 0 || e2 < 0 || e == e2 || m->ent[e].ino == m->ent[e2].ino ||
		    m->ino[m->ent[e2].ino].nlink != 1)
			return false;
		op->dir = m->ent[e].dir;
		op->a = m->ent[e].ino;
		strcpy(op->name, m->ent[e].name);
		op->dir2 = m->ent[e2].dir;
		strcpy(op->name2, m->ent[e2].name);
		return true;
	case OP_CHMOD:
		op->a = pick_ino(m, 0);
		if (op->a < 0 || S_ISLNK(m->ino[op->a].mode))
			return false;
		op->mode = (S_ISDIR(m->ino[op->a].mode) ? 0700 : 0600) | rnd(0100);
		return true;
	case OP_SETXATTR:
	case OP_REMOVEXATTR:
		op->a = pick_ino(m, 0);
		if (op->a < 0 || S_ISLNK(m->ino[op->a].mode))
			return false;
		op->xi = rnd(NXATTR);
		op->len = 1 + rnd(XMAX);
		if (t == OP_REMOVEXATTR && m->ino[op->a].xlen[op->xi] < 0)
			return false;
		return true;
	default:
		return false;
	}
}

static void gen_op(const struct model *m, struct op *op)
{
	int total = 0;

	for (int t = 0; t < OP_NTYPES; t++)
		total += op_weight[t];
	for (int tries = 0; tries < 1000; tries++) {
		int r = (int)rnd(total), t = 0;

		while (r >= op_weight[t])
			r -= op_weight[t++];
		if (gen_try(m, t, op))
			return;
	}
	/* chmod of the root is always possible */
	memset(op, 0, sizeof(*op));
	op->type = OP_CHMOD;
	op->a = 0;
	op->mode = 0755;
}

static void drop_link(struct model *m, int e)
{
	int i = m->ent[e].ino;

	m->ent[e].used = false;
	if (S_ISDIR(m->ino[i].mode) || --m->ino[i].nlink <= 0)
		m->ino[i].used = false;
}

/* Does applying @op free an inode (so run mode drops its reference)? */
static int op_frees(const struct model *m, const struct op *op)
{
	int e;

	switch (op->type) {
	case OP_UNLINK:
	case OP_UNLINK_OPEN:
		return m->ino[op->a].nlink <= 1 ? op->a : -1;
	case OP_RMDIR:
		return op->a;
	case OP_RENAME:
	case OP_RENAME_OPEN:
		if (op->flags & RENAME_EXCHANGE)
			return -1;
		e = find_ent(m, op->dir2, op->name2);
		if (e < 0)
			return -1;
		if (S_ISDIR(m->ino[m->ent[e].ino].mode) || m->ino[m->ent[e].ino].nlink <= 1)
			return m->ent[e].ino;
		return -1;
	default:
		return -1;
	}
}

static void model_apply(struct model *m, const struct op *op)
{
	struct mino *in = &m->ino[op->a];
	int e, e2;

	switch (op->type) {
	case OP_CREATE:
	case OP_MKDIR:
	case OP_SYMLINK:
		in = &m->ino[op->newino];
		memset(in, 0, sizeof(*in));
		in->used = true;
		in->nlink = op->type == OP_MKDIR ? 2 : 1;
		for (int x = 0; x < NXATTR; x++)
			in->xlen[x] = -1;
		if (op->type == OP_CREATE)
			in->mode = S_IFREG | op->mode;
		else if (op->type == OP_MKDIR)
			in->mode = S_IFDIR | op->mode;
		else {
			in->mode = S_IFLNK | 0777;
			strcpy(in->target, op->target);
			in->size = strlen(op->target);
		}
		e = free_slot_ent(m);
		m->ent[e] = (struct ment){ .used = true, .dir = op->dir, .ino = op->newino };
		strcpy(m->ent[e].name, op->name);
		break;
	case OP_WRITE:
		for (uint32_t i = 0; i < op->len; i++)
			in->data[op->off + i] = pat(op->seed, i);
		if (op->off + op->len > in->size)
			in->size = op->off + op->len;
		break;
	case OP_LINK:
		in->nlink++;
		e = free_slot_ent(m);
		m->ent[e] = (struct ment){ .used = true, .dir = op->dir, .ino = op->a };
		strcpy(m->ent[e].name, op->name);
		break;
	case OP_UNLINK:
	case OP_UNLINK_OPEN:
	case OP_RMDIR:
		drop_link(m, find_ent(m, op->dir, op->name));
		break;
	case OP_RENAME:
	case OP_RENAME_OPEN:
		e = find_ent(m, op->dir, op->name);
		e2 = find_ent(m, op->dir2, op->name2);
		if (op->flags & RENAME_EXCHANGE) {
			int t = m->ent[e].ino;

			m->ent[e].ino = m->ent[e2].ino;
			m->ent[e2].ino = t;
			break;
		}
		if (e2 >= 0)
			drop_link(m, e2);
		m->ent[e].dir = op->dir2;
		strcpy(m->ent[e].name, op->name2);
		break;
	case OP_TRUNCATE:
		if (op->len < in->size)
			memset(in->data + op->len, 0, in->size - op->len);
		in->size = op->len;
		break;
	case OP_PUNCH:
		for (uint32_t i = op->off; i < op->off + op->len && i < in->size; i++)
			in->data[i] = 0;
		break;
	case OP_ZERO:
		memset(in->data + op->off, 0, op->len);
		if (!(op->flags & FALLOC_FL_KEEP_SIZE) && op->off + op->len > in->size)
			in->size = op->off + op->len;
		break;
	case OP_LAYOUT:
		/* data unchanged; a writable layout past EOF grows the file */
		if (op->flags && op->off + op->len > in->size)
			in->size = op->off + op->len;
		break;
	case OP_CHMOD:
		in->mode = (in->mode & S_IFMT) | op->mode;
		break;
	case OP_SETXATTR:
		in->xlen[op->xi] = (int)op->len;
		for (uint32_t i = 0; i < op->len; i++)
			in->xval[op->xi][i] = pat(op->seed, i);
		break;
	case OP_REMOVEXATTR:
		in->xlen[op->xi] = -1;
		break;
	default:
		break;
	}
}

static void describe(const struct op *op, char *buf, size_t len)
{
	snprintf(buf, len, "%s a=%d dir=%d/%s dir2=%d/%s off=%u len=%u mode=%o flags=%u xi=%d",
		 op_names[op->type], op->a, op->dir, op->name, op->dir2, op->name2,
		 op->off, op->len, (unsigned)op->mode, op->flags, op->xi);
}

/* ---------------------------------------------------------------- run */

static uint64_t vino[MAX_INO];
static const struct pgdax_cred cred0 = { 0, 0, 0, NULL, NULL };

static void xname(int xi, char *buf)
{
	snprintf(buf, 32, "user.k%d", xi);
}

static int write_file(struct pgdax_vol *vol, uint64_t ino, uint32_t off,
		      const uint8_t *buf, uint32_t len)
{
	struct pgdax_vol_file *f = NULL;
	ssize_t n;
	int rc;

	rc = pgdax_vol_open(vol, ino, O_RDWR, &cred0, &f);
	if (rc)
		return rc;
	n = pgdax_vol_write(vol, f, off, buf, len, &cred0);
	pgdax_vol_release(vol, &f);
	if (n < 0)
		return (int)n;
	return (uint32_t)n == len ? 0 : -EIO;
}

/* A pin's DAX layout, as lib/pin/ asks for it, the references put at once. */
static int put_unit(void *ctx, const struct pgdax_vol_dax_ext *e)
{
	(void)ctx;
	if (e->folio)
		folio_put(e->folio);
	return 0;
}

static int layout(struct pgdax_vol *vol, uint64_t ino, const struct op *op)
{
	static const struct pgdax_vol_dax_ops ops = { .unit = put_unit };
	struct pgdax_vol_file *f = NULL;
	uint64_t end = op->off + op->len;
	uint64_t end_aligned = (end + LAYOUT_ALIGN - 1) / LAYOUT_ALIGN * LAYOUT_ALIGN;
	int rc = pgdax_vol_open(vol, ino, O_RDWR, &cred0, &f);

	if (rc)
		return rc;
	rc = pgdax_vol_dax_layout(vol, f, op->off, end_aligned, end, LAYOUT_ALIGN,
				  op->flags ? PGDAX_VOL_DAX_WRITE | PGDAX_VOL_DAX_EXTEND : 0,
				  &ops, NULL);
	pgdax_vol_release(vol, &f);
	return rc;
}

static int vol_apply(struct pgdax_vol *vol, const struct model *m, const struct op *op)
{
	static uint8_t buf[MAX_DATA];
	struct pgdax_vol_file *f = NULL;
	struct stat st;
	char name[32];
	int rc, freed = op_frees(m, op);

	memset(&st, 0, sizeof(st));
	switch (op->type) {
	case OP_CREATE:
		rc = pgdax_vol_create(vol, vino[op->dir], op->name, S_IFREG | op->mode,
				      O_RDWR | O_CREAT, &cred0, &st, &f);
		if (rc)
			return rc;
		pgdax_vol_release(vol, &f);
		vino[op->newino] = st.st_ino;
		return 0;
	case OP_MKDIR:
		rc = pgdax_vol_mkdir(vol, vino[op->dir], op->name, op->mode, &cred0, &st);
		if (!rc)
			vino[op->newino] = st.st_ino;
		return rc;
	case OP_SYMLINK:
		rc = pgdax_vol_symlink(vol, vino[op->dir], op->name, op->target, &cred0, &st);
		if (!rc)
			vino[op->newino] = st.st_ino;
		return rc;
	case OP_WRITE:
		for (uint32_t i = 0; i < op->len; i++)
			buf[i] = pat(op->seed, i);
		return write_file(vol, vino[op->a], op->off, buf, op->len);
	case OP_LINK:
		rc = pgdax_vol_link(vol, vino[op->a], vino[op->dir], op->name, &st);
		if (!rc)
			pgdax_vol_iput(vol, vino[op->a], 1);	/* we hold one already */
		return rc;
	case OP_UNLINK:
		rc = pgdax_vol_unlink(vol, vino[op->dir], op->name);
		break;
	case OP_UNLINK_OPEN:
		/* the inode lives on as an orphan while open; a crash here leaves it
		 * on the orphan list for the next mount (and fsck) to reclaim */
		rc = pgdax_vol_open(vol, vino[op->a], O_RDWR, &cred0, &f);
		if (rc)
			return rc;
		rc = pgdax_vol_unlink(vol, vino[op->dir], op->name);
		if (!rc) {
			memset(buf, 0x5a, 5000);
			if (pgdax_vol_write(vol, f, 0, buf, 5000, &cred0) != 5000)
				rc = -EIO;
		}
		if (!rc && freed >= 0)
			pgdax_vol_iput(vol, vino[freed], 1);
		pgdax_vol_release(vol, &f);
		return rc;
	case OP_RMDIR:
		rc = pgdax_vol_rmdir(vol, vino[op->dir], op->name);
		break;
	case OP_RENAME:
		rc = pgdax_vol_rename(vol, vino[op->dir], op->name, vino[op->dir2], op->name2,
				      op->flags);
		break;
	case OP_TRUNCATE:
		st.st_size = op->len;
		return pgdax_vol_setattr(vol, vino[op->a], &st, PGDAX_SET_SIZE, &cred0, &st);
	case OP_PUNCH:
		return pgdax_vol_fallocate(vol, vino[op->a], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					   op->off, op->len, &cred0);
	case OP_ZERO:
		return pgdax_vol_fallocate(vol, vino[op->a], FALLOC_FL_ZERO_RANGE | (int)op->flags,
					   op->off, op->len, &cred0);
	case OP_LAYOUT:
		return layout(vol, vino[op->a], op);
	case OP_RENAME_OPEN:
		/* the target, open across the rename, then written as an orphan */
		rc = pgdax_vol_open(vol, vino[m->ent[find_ent(m, op->dir2, op->name2)].ino],
				    O_RDWR, &cred0, &f);
		if (rc)
			return rc;
		rc = pgdax_vol_rename(vol, vino[op->dir], op->name, vino[op->dir2], op->name2, 0);
		if (!rc) {
			memset(buf, 0x77, 3000);
			if (pgdax_vol_write(vol, f, 100, buf, 3000, &cred0) != 3000)
				rc = -EIO;
		}
		if (!rc && freed >= 0)
			pgdax_vol_iput(vol, vino[freed], 1);
		pgdax_vol_release(vol, &f);
		return rc;
	case OP_CHMOD:
		st.st_mode = (m->ino[op->a].mode & S_IFMT) | op->mode;
		return pgdax_vol_setattr(vol, vino[op->a], &st, PGDAX_SET_MODE, &cred0, &st);
	case OP_SETXATTR:
		for (uint32_t i = 0; i < op->len; i++)
			buf[i] = pat(op->seed, i);
		xname(op->xi, name);
		return pgdax_vol_setxattr(vol, vino[op->a], name, buf, op->len, 0);
	case OP_REMOVEXATTR:
		xname(op->xi, name);
		return pgdax_vol_removexattr(vol, vino[op->a], name);
	default:
		return -EINVAL;
	}
	/* unlink, rmdir, rename: drop our reference on an inode they freed */
	if (!rc && freed >= 0)
		pgdax_vol_iput(vol, vino[freed], 1);
	return rc;
}

static int mount_vol(const char *dev, struct pgdax_vol **vol)
{
	struct pgdax_vol_opts o = { .flags = 0, .break_timeout_ms = 2000 };
	int rc = pgdax_vol_mount(dev, &o, vol);

	if (rc)
		fprintf(stderr, "vol_workload: mount %s: %s\n", dev, strerror(-rc));
	return rc;
}

static int do_run(const char *dev, const char *acklog, uint64_t seed, int nops)
{
	struct model *m = calloc(1, sizeof(*m));
	struct pgdax_vol *vol = NULL;
	char desc[256], line[64];
	int fd, rc = 0;

	if (!m)
		return 1;
	fd = open(acklog, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0) {
		perror(acklog);
		return 1;
	}
	if (mount_vol(dev, &vol))
		return 1;
	model_init(m);
	vino[0] = PGDAX_ROOT_INO;
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	for (int n = 1; n <= nops; n++) {
		struct op op;
		int len;

		gen_op(m, &op);
		rc = vol_apply(vol, m, &op);
		if (rc) {
			describe(&op, desc, sizeof(desc));
			fprintf(stderr, "vol_workload: op %d (%s) failed: %s\n", n, desc,
				strerror(-rc));
			rc = 1;
			break;
		}
		model_apply(m, &op);
		len = snprintf(line, sizeof(line), "ack %d\n", n);
		if (write(fd, line, len) != len || fsync(fd)) {
			perror(acklog);
			rc = 1;
			break;
		}
	}
	rc |= pgdax_vol_unmount(&vol) ? 1 : 0;
	close(fd);
	free(m);
	return rc;
}

/* ---------------------------------------------------------------- verify */

struct vent {
	char name[256];
	uint64_t ino;
};

struct vdir {
	struct vent *e;
	int n, cap;
	bool overflow;
};

static int fill_cb(void *ctx, const char *name, const struct stat *st, uint64_t next_off)
{
	struct vdir *d = ctx;

	(void)next_off;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (d->n == d->cap) {
		d->overflow = true;
		return 0;
	}
	snprintf(d->e[d->n].name, sizeof(d->e[d->n].name), "%s", name);
	d->e[d->n].ino = st ? st->st_ino : 0;
	d->n++;
	return 0;
}

static int read_dir(struct pgdax_vol *vol, uint64_t ino, struct vdir *d)
{
	uint64_t off = 0;
	int rc, rounds = 0;

	d->n = 0;
	/* listing in one call: fill never stops it */
	rc = pgdax_vol_readdir(vol, ino, off, false, fill_cb, d);
	(void)rounds;
	return rc;
}

static int read_file(struct pgdax_vol *vol, uint64_t ino, uint8_t *buf, size_t max,
		     size_t *got)
{
	struct pgdax_vol_file *f = NULL;
	size_t done = 0;
	int rc;

	rc = pgdax_vol_open(vol, ino, O_RDONLY, &cred0, &f);
	if (rc)
		return rc;
	while (done < max) {
		struct iovec iov[64];
		struct pgdax_io io = { 0 };
		int niov = 0;
		ssize_t n = pgdax_vol_read_map(vol, f, done, max - done > 65536 ? 65536 : max - done,
					       iov, 64, &niov, &io);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		for (int i = 0; i < niov; i++) {
			size_t l = iov[i].iov_len;

			if (done + l > max)
				l = max - done;
			memcpy(buf + done, iov[i].iov_base, l);
			done += l;
		}
		pgdax_vol_io_done(vol, &io);
	}
	pgdax_vol_release(vol, &f);
	*got = done;
	return rc;
}

static int nfail;
static bool loud;	/* print mismatches (only for the final diff) */

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (nfail++ > 20 || !loud)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "  mismatch: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* vol inode <-> model inode, to check hard links */
static uint64_t v_of_m[MAX_INO];

/* verify: the operation after the last ack (it may have been in flight) */
static struct op inflight;
static bool have_inflight;

/*
 * On the medium, every allocated byte past EOF of regular file @ino (model
 * inode @mi) is zero, or was put there by the in-flight write to that file
 * (data persisted and its extent committed before the size store).
 */
static void check_past_eof(struct pgdax_vol *vol, uint64_t ino, int mi, uint64_t size,
			   const char *path)
{
	static uint8_t raw[4 * MAX_DATA];
	uint64_t where = 0, end = 0;
	int r = vol_test_nonzero_past_eof(vol, ino, &where, &end);

	if (r < 0) {
		fail("%s: extent walk: %s", path, strerror(-r));
		return;
	}
	if (r == 0)
		return;
	if (have_inflight && inflight.type == OP_WRITE && inflight.a == mi &&
	    end - size <= sizeof(raw) &&
	    vol_test_read_raw(vol, ino, size, raw, end - size) == (ssize_t)(end - size)) {
		where = UINT64_MAX;
		for (uint64_t k = 0; k < end - size && where == UINT64_MAX; k++) {
			uint64_t o = size + k;

			if (raw[k] && !(o >= inflight.off && o < inflight.off + inflight.len &&
					raw[k] == pat(inflight.seed, (uint32_t)(o - inflight.off))))
				where = o;
		}
		if (where == UINT64_MAX)
			return;	/* all the in-flight write's own bytes */
	}
	fail("%s: byte %llu past EOF (size %llu) is not zero on the medium", path,
	     (unsigned long long)where, (unsigned long long)size);
}

/*
 * Compare the tree under volume dir @vd with model dir @md in @a; @b (may be
 * NULL) is the other acceptable model for file bytes (torn in-flight write).
 */
static void compare_dir(struct pgdax_vol *vol, uint64_t vd, const struct model *a,
			const struct model *b, int md, const char *path, int depth)
{
	struct vent ents[NNAMES * 2 + 8];
	struct vdir d = { .e = ents, .cap = NNAMES * 2 + 8 };
	static uint8_t buf[MAX_DATA + 1];
	int rc, nmodel = 0;

	if (depth > MAX_DEPTH) {
		fail("%s: directory depth over %d (cycle?)", path, MAX_DEPTH);
		return;
	}
	rc = read_dir(vol, vd, &d);
	if (rc) {
		fail("%s: readdir: %s", path, strerror(-rc));
		return;
	}
	if (d.overflow)
		fail("%s: more entries than the model can hold", path);
	for (int e = 0; e < MAX_ENT; e++)
		if (a->ent[e].used && a->ent[e].dir == md)
			nmodel++;
	if (nmodel != d.n)
		fail("%s: %d entries, model has %d", path, d.n, nmodel);
	for (int i = 0; i < d.n; i++) {
		char sub[512];
		struct stat st;
		int e, mi;
		const struct mino *in;

		snprintf(sub, sizeof(sub), "%s/%s", path, d.e[i].name);
		e = find_ent(a, md, d.e[i].name);
		if (e < 0) {
			fail("%s: not in the model", sub);
			continue;
		}
		mi = a->ent[e].ino;
		in = &a->ino[mi];
		rc = pgdax_vol_lookup(vol, vd, d.e[i].name, &st);
		if (rc) {
			fail("%s: lookup: %s", sub, strerror(-rc));
			continue;
		}
		pgdax_vol_iput(vol, st.st_ino, 1);
		if (v_of_m[mi] && v_of_m[mi] != st.st_ino)
			fail("%s: hard link to a different inode (%llu vs %llu)", sub,
			     (unsigned long long)st.st_ino, (unsigned long long)v_of_m[mi]);
		for (int k = 0; k < MAX_INO; k++)
			if (k != mi && v_of_m[k] == st.st_ino)
				fail("%s: inode %llu also reached as another file", sub,
				     (unsigned long long)st.st_ino);
		v_of_m[mi] = st.st_ino;
		if ((st.st_mode & S_IFMT) != (in->mode & S_IFMT)) {
			fail("%s: type %o, model %o", sub, st.st_mode & S_IFMT, in->mode & S_IFMT);
			continue;
		}
		if (!S_ISLNK(in->mode) && (st.st_mode & 07777) != (in->mode & 07777))
			fail("%s: mode %o, model %o", sub, st.st_mode & 07777, in->mode & 07777);
		if (S_ISREG(in->mode) && (int)st.st_nlink != in->nlink)
			fail("%s: nlink %u, model %d", sub, (unsigned)st.st_nlink, in->nlink);
		for (int x = 0; x < NXATTR; x++) {
			char xn[32];
			uint8_t xv[XMAX + 1];
			ssize_t n;

			if (S_ISLNK(in->mode))
				break;
			xname(x, xn);
			n = pgdax_vol_getxattr(vol, st.st_ino, xn, xv, sizeof(xv));
			if (in->xlen[x] < 0 ? n != -ENODATA :
			    (n != in->xlen[x] || memcmp(xv, in->xval[x], n)))
				fail("%s: xattr %s: got %zd bytes, model %d", sub, xn, n, in->xlen[x]);
		}
		if (S_ISLNK(in->mode)) {
			char t[64];
			ssize_t n = pgdax_vol_readlink(vol, st.st_ino, t, sizeof(t) - 1);

			if (n < 0 || (t[n] = 0, strcmp(t, in->target)))
				fail("%s: symlink target differs", sub);
		} else if (S_ISREG(in->mode)) {
			const struct mino *bi = NULL;
			size_t got = 0;

			/* the same inode in the other model, if it exists there */
			if (b && b->ino[mi].used && S_ISREG(b->ino[mi].mode))
				bi = &b->ino[mi];
			check_past_eof(vol, st.st_ino, mi, (uint64_t)st.st_size, sub);
			rc = read_file(vol, st.st_ino, buf, sizeof(buf), &got);
			if (rc) {
				fail("%s: read: %s", sub, strerror(-rc));
			} else if ((uint64_t)st.st_size != got) {
				fail("%s: size %lld but read %zu bytes", sub,
				     (long long)st.st_size, got);
			} else if (got != in->size && !(bi && got == bi->size)) {
				fail("%s: size %zu, model %u", sub, got, in->size);
			} else {
				for (size_t k = 0; k < got; k++) {
					uint8_t ma = k < in->size ? in->data[k] : 0;
					uint8_t mb = bi && k < bi->size ? bi->data[k] : ma;

					if (buf[k] != ma && buf[k] != mb) {
						fail("%s: byte %zu is %#x, model %#x", sub, k,
						     buf[k], ma);
						break;
					}
				}
			}
		} else if (S_ISDIR(in->mode)) {
			compare_dir(vol, st.st_ino, a, b, mi, sub, depth + 1);
		}
	}
}

static int compare(struct pgdax_vol *vol, const struct model *a, const struct model *b)
{
	struct stat st;

	nfail = 0;
	memset(v_of_m, 0, sizeof(v_of_m));
	v_of_m[0] = PGDAX_ROOT_INO;
	if (pgdax_vol_getattr(vol, PGDAX_ROOT_INO, &st) == 0 &&
	    (st.st_mode & 07777) != (a->ino[0].mode & 07777))
		fail("/: mode %o, model %o", st.st_mode & 07777, a->ino[0].mode & 07777);
	compare_dir(vol, PGDAX_ROOT_INO, a, b, 0, "", 0);
	return nfail;
}

static int last_ack(const char *acklog)
{
	FILE *f = fopen(acklog, "r");
	char line[64];
	int n = 0, v;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ack %d", &v) == 1 && strchr(line, '\n'))
			n = v;
	fclose(f);
	return n;
}

static int do_verify(const char *dev, const char *acklog, uint64_t seed, int nops)
{
	struct model *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct pgdax_vol *vol = NULL;
	int n = last_ack(acklog), rc = 1;
	struct op op = { 0 };
	char desc[256];

	if (!a || !b)
		return 1;
	model_init(a);
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
	for (int k = 1; k <= n; k++) {
		gen_op(a, &op);
		if (getenv("VOL_WORKLOAD_TRACE")) {
			describe(&op, desc, sizeof(desc));
			fprintf(stderr, "op %d: %s newino=%d\n", k, desc, op.newino);
		}
		model_apply(a, &op);
	}
	*b = *a;
	if (n < nops) {
		gen_op(b, &op);
		model_apply(b, &op);
		inflight = op;
		have_inflight = true;
	}
	if (mount_vol(dev, &vol))
		goto out;
	if (compare(vol, a, NULL) == 0) {
		printf("verify: volume matches the state after ack %d\n", n);
		rc = 0;
	} else if (n < nops && compare(vol, b, NULL) == 0) {
		printf("verify: volume matches the state after op %d (in flight, committed)\n", n + 1);
		rc = 0;
	} else if (n < nops && (op.type == OP_WRITE || op.type == OP_PUNCH ||
				op.type == OP_TRUNCATE || op.type == OP_ZERO) &&
		   (compare(vol, a, b) == 0 || compare(vol, b, a) == 0)) {
		printf("verify: volume matches ack %d with op %d's bytes torn\n", n, n + 1);
		rc = 0;
	} else {
		describe(&op, desc, sizeof(desc));
		loud = true;
		fprintf(stderr, "verify: volume matches neither ack %d nor op %d (%s); "
			"diff against ack %d:\n", n, n + 1, n < nops ? desc : "none", n);
		compare(vol, a, NULL);
	}
	if (pgdax_vol_unmount(&vol)) {
		fprintf(stderr, "verify: unmount failed\n");
		rc = 1;
	}
out:
	free(a);
	free(b);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t seed;
	int nops;

	if (argc != 6 || (strcmp(argv[1], "run") && strcmp(argv[1], "verify"))) {
		fprintf(stderr, "usage: vol_workload run|verify DEVICE ACKLOG SEED NOPS\n");
		return 2;
	}
	seed = strtoull(argv[4], NULL, 0);
	nops = atoi(argv[5]);
	if (nops < 0) {
		fprintf(stderr, "vol_workload: bad NOPS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "run"))
		return do_run(argv[2], argv[3], seed, nops);
	return do_verify(argv[2], argv[3], seed, nops);
}
