/* SPDX-License-Identifier: MIT */
/*
 * Pins: device extents handed to DAX clients (lib/pin/pin.h, DESIGN.md 3 and 5).
 *
 * What a pin is. A pin belongs to one open file (struct pgdax_vol_file) and
 * covers a file range rounded out to the device alignment. It holds exactly
 * one folio reference per extent it covers, taken with pgmap_get_folio()
 * and dropped with folio_put(): nothing here changes a refcount by any
 * other means. While the reference exists the extent is not idle, so
 * truncate/punch/unlink cannot give it back to the allocator (vol waits for
 * idle before freeing, rule 11) and the pgmap cannot drain: a pinned extent
 * is never handed to another file and the device is never released under a
 * client. Pins end at UNPIN, or at the release of the open file
 * (pgdax_pin_release_file(), called by pgdax_vol_release(): the kernel sends
 * RELEASE when the last descriptor of the open file goes, including when
 * the process dies), or at teardown when the daemon releases every handle.
 *
 * Alignment and ownership. Every range handed to a client starts and ends
 * on the device alignment and holds bytes of this file only; the volume
 * gives such extents, re-laying a unit out when needed
 * (pgdax_vol_dax_layout, the decision and its cost are at the top of
 * lib/vol/layout.c). This file keeps the books of what it handed out.
 *
 * Layout breaks. truncate/punch (lib/vol/data.c wait_range) call
 * pgdax_pin_break_layout() (through the volume's holder operations, which
 * this table registers) under the inode lock before waiting for idle
 * extents, with the range they wait for rounded out to whole extents: the
 * range is recorded as breaking, new pins overlapping it fail with -EBUSY
 * (checked under the inode lock, where the break is set, so a pin either
 * exists before the break, and is waited for, or is refused; and once
 * before it, to answer at once), and each open file holding an
 * overlapping pin gets its poll handle notified (poll(2) reports POLLPRI).
 * The truncate waits with the inode lock dropped, and may move the break
 * when the file's extents change (new break first, then the old one ends).
 * pgdax_pin_break_done() ends a break whatever the truncate's outcome
 * (EBUSY after break_timeout changes nothing).
 * A break that cannot be recorded (no memory) is refused with -ENOMEM and
 * the truncate fails at once: it must never wait with pins still granted.
 *
 * Access. A pin needs what mmap(2) needs of the descriptor (read access;
 * O_RDWR without O_APPEND for a writable pin: the FUSE open flags kept in
 * the pgdax_vol_file) and that the caller's uid/gids may open the device
 * node with that access (owner/group/other bits; uid 0 may), so a process
 * that could not map device memory cannot hold extents either.
 *
 * Locks: inode->lock (vol) before table->lock. table->lock is held only to
 * edit the books; folio_put() and poll notifications run without it (a
 * 1 -> 0 put runs page_free, which may wake or queue work).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pgmap.h"
#include "dev/dev.h"
#include "util/log.h"
#include "util/util.h"
#include "vol/vol.h"
#include "pin.h"

struct pin_ext {
	uint64_t file_off, dev_off, len;	/* bytes, clipped to the pin */
	uint32_t flags;				/* PGDAX_EXTENT_* */
	struct pgdax_folio *folio;		/* NULL for a hole */
};

struct pin {
	uint64_t id;
	pid_t pid;
	bool write;
	uint64_t off, len;		/* aligned file range */
	uint32_t nr;
	struct pin_ext *ext;
	struct pin *next;
};

/* Per open file: *pgdax_vol_file_holder(f). Fields under table->lock. */
struct pin_file {
	struct pgdax_vol_file *f;
	uint64_t ino;
	pid_t pid;			/* last caller that pinned */
	struct pin *pins;
	unsigned npins;
	uint64_t nextents, bytes;
	void *poll_handle;
	struct pin_file *prev, *next;	/* table->files */
};

struct breaking {
	uint64_t ino, first, n;		/* file pages */
	struct breaking *next;
};

struct pin_table {
	struct pgdax_vol *vol;
	pthread_mutex_t lock;
	struct pin_file files;		/* list head: files with pins or a poll handle */
	struct breaking *breaking;
	uint64_t nbreaking;
	uint64_t next_id;
	uint64_t extents;
	/* cumulative; pins held now = granted - dropped (pins_held) */
	uint64_t pins_granted, pins_dropped;
	struct pgdax_pintab_poll_ops ops;
	bool revoked;			/* the device went away: every pin revoked */
	bool check;			/* const: the volume's checking mode */
};

/* Pins held now (t->lock held, or the table no longer shared). */
static uint64_t pins_held(const struct pin_table *t)
{
	return t->pins_granted - t->pins_dropped;
}

/*
 * One table per mounted volume: the volume's holder (lib/vol/vol.h), set
 * up by the first call that needs it (the daemon's first ioctl or poll, or
 * pgdax_pintab_attach() at mount) and freed by the volume at unmount
 * through the fini operation.
 */
static int hold_break_layout(void *ctx, uint64_t ino, uint64_t first, uint64_t n);
static void hold_break_done(void *ctx, uint64_t ino, uint64_t first, uint64_t n);
static void hold_release_file(void *ctx, struct pgdax_vol_file *f);
static void hold_device_lost(void *ctx, const char *why);
static void hold_fini(void *ctx);

static const struct pgdax_vol_holder_ops holder_ops = {
	.break_layout = hold_break_layout,
	.break_done = hold_break_done,
	.release_file = hold_release_file,
	.device_lost = hold_device_lost,
	.fini = hold_fini,
};

static struct pin_table *table_of(struct pgdax_vol *vol)
{
	struct pin_table *t = pgdax_vol_holder(vol);

	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->vol = vol;
	pthread_mutex_init(&t->lock, NULL);
	t->files.next = t->files.prev = &t->files;
	t->next_id = 1;
	t->check = pgmap_checking(pgdax_vol_pgmap(vol));
	if (pgdax_vol_set_holder(vol, &holder_ops, t) == 0)
		return t;
	/* another thread registered first: use that one */
	pthread_mutex_destroy(&t->lock);
	free(t);
	return pgdax_vol_holder(vol);
}

/* The table if one exists (calls that find nothing to do without one). */
static struct pin_table *table_find(struct pgdax_vol *vol)
{
	return pgdax_vol_holder(vol);
}

int pgdax_pintab_attach(struct pgdax_vol *vol)
{
	return table_of(vol) ? 0 : -ENOMEM;
}

static void hold_fini(void *ctx)
{
	struct pin_table *t = ctx;

	if (pins_held(t) || t->files.next != &t->files)
		pgdax_warn("pin table of a volume freed with %llu pins left",
			   (unsigned long long)pins_held(t));
	while (t->breaking) {
		struct breaking *b = t->breaking;

		t->breaking = b->next;
		free(b);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uint64_t block_size(const struct pin_table *t)
{
	return pgdax_vol_block_size(t->vol);
}

/* ------------------------------------------------------------------ */
/* Permission                                                          */
/* ------------------------------------------------------------------ */

static bool in_groups(gid_t g, const struct pgdax_pin_caller *c)
{
	if (g == c->gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups && c->groups[i] == g)
			return true;
	return false;
}

int pgdax_pintab_may_access_device(const char *path, const struct pgdax_pin_caller *c,
				bool write)
{
	struct stat st;
	mode_t need, have;

	if (!path || !c)
		return -EINVAL;
	if (stat(path, &st) < 0)
		return -errno;
	if (c->uid == 0)
		return 0;
	/* the kernel's DAC rule: the first class that matches decides */
	if (st.st_uid == c->uid)
		have = (st.st_mode >> 6) & 7;
	else if (in_groups(st.st_gid, c))
		have = (st.st_mode >> 3) & 7;
	else
		have = st.st_mode & 7;
	need = 4 | (write ? 2 : 0);
	return (have & need) == need ? 0 : -EACCES;
}

/* ------------------------------------------------------------------ */
/* Books                                                               */
/* ------------------------------------------------------------------ */

static struct pin_file *pf_get_locked(struct pin_table *t, struct pgdax_vol_file *f)
{
	struct pin_file *pf = *pgdax_vol_file_holder(f);

	if (pf)
		return pf;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return NULL;
	pf->f = f;
	pf->ino = pgdax_vol_file_ino(f);
	pf->next = t->files.next;
	pf->prev = &t->files;
	t->files.next->prev = pf;
	t->files.next = pf;
	*pgdax_vol_file_holder(f) = pf;
	return pf;
}

/* Forget @pf if it holds nothing; returns its poll handle to destroy. */
static void *pf_maybe_free_locked(struct pin_file *pf, bool force)
{
	void *h = NULL;

	if (pf->pins || (!force && pf->poll_handle))
		return NULL;
	h = pf->poll_handle;
	pf->prev->next = pf->next;
	pf->next->prev = pf->prev;
	*pgdax_vol_file_holder(pf->f) = NULL;
	free(pf);
	return h;
}

static void pin_free(struct pin *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nr; i++)
		if (p->ext[i].folio)
			folio_put(p->ext[i].folio);
	free(p->ext);
	free(p);
}

static uint32_t pin_refs(const struct pin *p)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->nr; i++)
		n += p->ext[i].folio != NULL;
	return n;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool breaking_locked(struct pin_table *t, uint64_t ino, uint64_t first,
			    uint64_t n)
{
	if (pgdax_fault("pin_break_check"))
		return false;	/* tests: the check missing (util.h) */
	for (struct breaking *b = t->breaking; b; b = b->next)
		if (b->ino == ino && overlaps(first, n, b->first, b->n))
			return true;
	return false;
}

/*
 * Invariant 12 (checking mode), as pin @p of @ino enters the books: no
 * recorded break overlaps it. Breaks are recorded under the inode lock,
 * which the pin holds from pin_begin (where it was refused if one
 * overlapped) to here; so one found now means a break recorded without
 * that lock, or a pin granted without the check.
 */
static void check_no_break_locked(struct pin_table *t, uint64_t ino, const struct pin *p)
{
	uint64_t bs = block_size(t);

	for (struct breaking *b = t->breaking; b; b = b->next)
		if (b->ino == ino && overlaps(p->off / bs, p->len / bs, b->first, b->n))
			pgdax_invariant_fail(12, "a pin of inode %llu pages [%llu, +%llu) is granted "
					     "while pages [%llu, +%llu) are being broken",
					     (unsigned long long)ino,
					     (unsigned long long)(p->off / bs),
					     (unsigned long long)(p->len / bs),
					     (unsigned long long)b->first,
					     (unsigned long long)b->n);
}

/* ------------------------------------------------------------------ */
/* Creating a pin (pgdax_vol_dax_layout calls back under the inode lock) */
/* ------------------------------------------------------------------ */

struct pin_ctx {
	struct pin_table *t;
	struct pgdax_vol_file *f;
	const struct pgdax_pin_caller *caller;
	struct pgdax_ioc_pin *req;	/* out fields filled at commit */
	struct pin *p;
	uint32_t cap;			/* of p->ext */
};

/* Append (or extend) the pin's extent list. */
static int add_ext(struct pin *p, uint32_t *cap, uint64_t file_off, uint64_t dev_off,
		   uint64_t len, uint32_t flags, struct pgdax_folio *folio)
{
	if (p->nr) {
		struct pin_ext *e = &p->ext[p->nr - 1];

		/* two units of one bigger extent: one reference, one range */
		if (folio && e->folio == folio && e->file_off + e->len == file_off) {
			e->len += len;
			return 1;	/* caller drops its extra reference */
		}
		if (!folio && !e->folio && (flags & PGDAX_EXTENT_HOLE) &&
		    e->file_off + e->len == file_off) {
			e->len += len;
			return 0;
		}
	}
	if (p->nr >= PGDAX_PIN_MAX_EXTENTS)
		return -E2BIG;
	if (p->nr == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 16;
		struct pin_ext *v = realloc(p->ext, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->ext = v;
		*cap = ncap;
	}
	p->ext[p->nr++] = (struct pin_ext){ file_off, dev_off, len, flags, folio };
	return 0;
}

/* Under the inode lock, before any extent: exact break check, per-file limit. */
static int pin_begin(void *arg)
{
	struct pin_ctx *c = arg;
	struct pin_table *t = c->t;
	struct pin_file *pf;
	uint64_t bs = block_size(t);
	int r;

	pthread_mutex_lock(&t->lock);
	pf = *pgdax_vol_file_holder(c->f);
	r = breaking_locked(t, pgdax_vol_file_ino(c->f), c->p->off / bs, c->p->len / bs)
		? -EBUSY : 0;
	if (!r && pf && pf->npins >= PGDAX_PIN_MAX_PER_FILE)
		r = -EMFILE;
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* One alignment unit: the reference becomes the pin's (or is put). */
static int pin_unit(void *arg, const struct pgdax_vol_dax_ext *e)
{
	struct pin_ctx *c = arg;
	int r = add_ext(c->p, &c->cap, e->file_off, e->dev_off, e->len,
			e->hole ? PGDAX_EXTENT_HOLE : 0, e->folio);

	if (r != 0 && e->folio)
		folio_put(e->folio);	/* merged (1) or failed (< 0) */
	return r < 0 ? r : 0;
}

/* Every unit is held: enter the pin in the books. */
static int pin_commit(void *arg)
{
	struct pin_ctx *c = arg;
	struct pin_table *t = c->t;
	struct pin *p = c->p;
	struct pin_file *pf;

	pthread_mutex_lock(&t->lock);
	if (t->check)
		check_no_break_locked(t, pgdax_vol_file_ino(c->f), p);
	pf = pf_get_locked(t, c->f);
	if (!pf) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	p->id = t->next_id++;
	p->next = pf->pins;
	pf->pins = p;
	pf->npins++;
	pf->pid = c->caller->pid;
	pf->nextents += pin_refs(p);
	pf->bytes += p->len;
	t->pins_granted++;
	t->extents += pin_refs(p);
	/* under the lock: once it is dropped, a guessed id can unpin p */
	c->req->pin_id = p->id;
	c->req->map_offset = p->off;
	c->req->map_length = p->len;
	c->req->nr_extents = p->nr;
	c->req->reserved1 = 0;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static const struct pgdax_vol_dax_ops pin_layout_ops = {
	.begin = pin_begin,
	.unit = pin_unit,
	.commit = pin_commit,
};

static int check_pin_req(const struct pgdax_ioc_pin *req)
{
	if (req->reserved0 || req->reserved[0] || req->reserved[1])
		return -EINVAL;
	if (req->flags & ~PGDAX_PIN_FLAGS)
		return -EINVAL;
	if (req->length == 0 || req->offset > (uint64_t)INT64_MAX ||
	    req->length > (uint64_t)INT64_MAX - req->offset)
		return -EINVAL;
	return 0;
}

/* Access of the open file: as mmap(2) asks of its descriptor. */
static int check_open_mode(int flags, bool write)
{
	int acc = flags & O_ACCMODE;

	if (acc == O_WRONLY)
		return -EACCES;		/* a mapping is readable */
	if (write && (acc != O_RDWR || (flags & O_APPEND)))
		return -EACCES;
	return 0;
}

int pgdax_pintab_create(struct pgdax_vol *vol, struct pgdax_vol_file *f,
		     const struct pgdax_pin_caller *caller, struct pgdax_ioc_pin *req)
{
	const struct pgdax_dev_info *di;
	struct pin_ctx c = { .f = f, .caller = caller, .req = req };
	struct pin *p = NULL;
	uint64_t align, a_off, a_end, end, bs;
	bool write;
	int r;

	if (!vol || !f || !caller || !req)
		return -EINVAL;
	r = check_pin_req(req);
	if (r)
		return r;
	write = req->flags & PGDAX_PIN_WRITE;
	if ((req->flags & PGDAX_PIN_EXTEND) && !write)
		return -EINVAL;
	if (!S_ISREG(pgdax_vol_file_mode(f)))
		return -EINVAL;
	r = check_open_mode(pgdax_vol_file_flags(f), write);
	if (r)
		return r;
	if (write && pgdax_vol_is_rdonly(vol))
		return -EROFS;
	if (write) {
		/* chattr +i / +a: no stores through a mapping (mmap(2) refuses
		 * a writable shared map of an append-only file; ext4 refuses
		 * the first store to an immutable one) */
		uint32_t fl = 0;

		r = pgdax_vol_get_iflags(vol, pgdax_vol_file_ino(f), &fl);
		if (r)
			return r;
		if (fl & (PGDAX_IATTR_IMMUTABLE | PGDAX_IATTR_APPEND))
			return -EPERM;
	}
	di = pgdax_dev_info(pgdax_vol_dev(vol));
	r = pgdax_pintab_may_access_device(di->path, caller, write);
	if (r)
		return r;
	if (pgdax_vol_is_dead(vol))
		return -EIO;
	if (pgmap_state(pgdax_vol_pgmap(vol)) != PGMAP_LIVE)
		return -ENXIO;

	bs = pgdax_vol_block_size(vol);
	align = di->align < bs ? bs : di->align;
	end = req->offset + req->length;
	a_off = req->offset & ~(align - 1);
	if (end > UINT64_MAX - align)
		return -EFBIG;
	a_end = (end + align - 1) & ~(align - 1);
	if (a_end > (uint64_t)INT64_MAX || (a_end - a_off) / align > PGDAX_PIN_MAX_EXTENTS)
		return -EFBIG;
	if (write && (a_end - a_off) / bs > pgdax_vol_blocks(vol))
		return -ENOSPC;

	c.t = table_of(vol);
	if (!c.t)
		return -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = caller->pid;
	p->write = write;
	p->off = a_off;
	p->len = a_end - a_off;
	c.p = p;

	/* A truncate is breaking this range: refuse at once, before any
	 * work (pin_begin repeats the check under the inode lock, where it
	 * is exact). */
	pthread_mutex_lock(&c.t->lock);
	r = breaking_locked(c.t, pgdax_vol_file_ino(f), a_off / bs, (a_end - a_off) / bs)
		? -EBUSY : 0;
	pthread_mutex_unlock(&c.t->lock);
	if (!r)
		r = pgdax_vol_dax_layout(vol, f, a_off, a_end, end, align,
					 (write ? PGDAX_VOL_DAX_WRITE : 0) |
					 ((req->flags & PGDAX_PIN_EXTEND) ? PGDAX_VOL_DAX_EXTEND : 0),
					 &pin_layout_ops, &c);
	if (r)
		pin_free(p);
	return r;
}

static struct pin *find_pin_locked(struct pin_file *pf, uint64_t id, struct pin ***link)
{
	struct pin **pp;

	if (!pf)
		return NULL;
	for (pp = &pf->pins; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

int pgdax_pintab_extents(struct pgdax_vol *vol, struct pgdax_vol_file *f,
		      struct pgdax_ioc_pin_extents *req)
{
	struct pin_table *t;
	struct pin *p;
	uint32_t n = 0;

	if (!vol || !f || !req)
		return -EINVAL;
	if (req->reserved0 || req->reserved[0] || req->reserved[1])
		return -EINVAL;
	t = table_find(vol);
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	p = find_pin_locked(*pgdax_vol_file_holder(f), req->pin_id, NULL);
	if (!p) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	if (req->cursor > p->nr) {
		pthread_mutex_unlock(&t->lock);
		return -EINVAL;
	}
	memset(req->ext, 0, sizeof(req->ext));
	for (uint32_t i = req->cursor; i < p->nr && n < PGDAX_IOC_EXTENTS_BATCH; i++, n++) {
		req->ext[n].file_off = p->ext[i].file_off;
		req->ext[n].dev_off = p->ext[i].dev_off;
		req->ext[n].len = p->ext[i].len;
		req->ext[n].flags = p->ext[i].flags;
	}
	req->count = n;
	req->next = req->cursor + n;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int pgdax_pintab_drop(struct pgdax_vol *vol, struct pgdax_vol_file *f,
		   const struct pgdax_ioc_unpin *req, uint64_t *off, uint64_t *len)
{
	struct pin_table *t;
	struct pin_file *pf;
	struct pin *p, **link = NULL;
	void *h;

	if (!vol || !f || !req)
		return -EINVAL;
	if (req->reserved[0] || req->reserved[1] || req->reserved[2])
		return -EINVAL;
	t = table_find(vol);
	if (!t)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	pf = *pgdax_vol_file_holder(f);
	p = find_pin_locked(pf, req->pin_id, &link);
	if (!p) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	*link = p->next;
	pf->npins--;
	pf->nextents -= pin_refs(p);
	pf->bytes -= p->len;
	t->pins_dropped++;
	t->extents -= pin_refs(p);
	h = pf_maybe_free_locked(pf, false);
	pthread_mutex_unlock(&t->lock);
	if (h && t->ops.destroy)
		t->ops.destroy(h);
	if (off)
		*off = p->off;
	if (len)
		*len = p->len;
	pin_free(p);
	return 0;
}

/* Holder operation: the last close of @f drops every pin held through it. */
static void hold_release_file(void *ctx, struct pgdax_vol_file *f)
{
	struct pin_table *t = ctx;
	struct pin_file *pf;
	struct pin *list;
	void *h;

	pthread_mutex_lock(&t->lock);
	pf = *pgdax_vol_file_holder(f);
	if (!pf) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	list = pf->pins;
	pf->pins = NULL;
	t->pins_dropped += pf->npins;
	t->extents -= pf->nextents;
	pf->npins = 0;
	pf->nextents = pf->bytes = 0;
	h = pf_maybe_free_locked(pf, true);
	pthread_mutex_unlock(&t->lock);
	if (h && t->ops.destroy)
		t->ops.destroy(h);
	while (list) {
		struct pin *p = list;

		list = p->next;
		pin_free(p);
	}
}

/*
 * Holder operation: the device went away (DESIGN.md 4a). The clients'
 * mappings died with it, so their references are dropped here on their
 * behalf (a drain must not wait for what cannot come back); the pins stay
 * in the books, empty, so an UNPIN or release still finds them, and every
 * holder with a poll handle is told (POLLPRI; INFO and STATUS then say
 * PGDAX_INFO_DEAD). References are put without the table lock, a batch at
 * a time, so no allocation is needed.
 */
static void hold_device_lost(void *ctx, const char *why)
{
	struct pin_table *t = ctx;
	struct pgdax_folio *batch[64];
	uint64_t pins = 0, refs = 0;
	unsigned n;

	pthread_mutex_lock(&t->lock);
	t->revoked = true;
	for (struct pin_file *pf = t->files.next; pf != &t->files; pf = pf->next)
		pins += pf->npins;
	pthread_mutex_unlock(&t->lock);
	do {
		n = 0;
		pthread_mutex_lock(&t->lock);
		for (struct pin_file *pf = t->files.next; pf != &t->files && n < 64; pf = pf->next) {
			for (struct pin *p = pf->pins; p && n < 64; p = p->next) {
				for (uint32_t i = 0; i < p->nr && n < 64; i++) {
					if (!p->ext[i].folio)
						continue;
					batch[n++] = p->ext[i].folio;
					p->ext[i].folio = NULL;
					pf->nextents--;
					t->extents--;
				}
			}
		}
		pthread_mutex_unlock(&t->lock);
		for (unsigned i = 0; i < n; i++)
			folio_put(batch[i]);
		refs += n;
	} while (n);
	for (;;) {
		void *h = NULL;

		pthread_mutex_lock(&t->lock);
		for (struct pin_file *pf = t->files.next; pf != &t->files; pf = pf->next) {
			if (pf->poll_handle) {
				h = pf->poll_handle;
				pf->poll_handle = NULL;
				break;
			}
		}
		pthread_mutex_unlock(&t->lock);
		if (!h)
			break;
		if (t->ops.notify)
			t->ops.notify(h);
		if (t->ops.destroy)
			t->ops.destroy(h);
	}
	if (pins)
		pgdax_err("device lost (%s): %llu pin(s) revoked, %llu extent reference(s) "
			  "dropped on their holders' behalf", why, (unsigned long long)pins,
			  (unsigned long long)refs);
}

int pgdax_pintab_sync_range(struct pgdax_vol *vol, struct pgdax_vol_file *f,
			 const struct pgdax_ioc_sync *req, uint64_t *off, uint64_t *len)
{
	uint64_t size;

	if (!vol || !f || !req)
		return -EINVAL;
	if (req->flags || req->reserved0 || req->reserved[0] || req->reserved[1])
		return -EINVAL;
	if (req->offset > (uint64_t)INT64_MAX ||
	    (req->length && req->length > (uint64_t)INT64_MAX - req->offset))
		return -EINVAL;
	size = pgdax_vol_file_size(f);
	*off = req->offset;
	if (req->offset >= size)
		*len = 0;
	else if (!req->length || req->length > size - req->offset)
		*len = size - req->offset;
	else
		*len = req->length;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Layout breaks and poll                                              */
/* ------------------------------------------------------------------ */

void pgdax_pintab_set_poll_ops(struct pgdax_vol *vol, const struct pgdax_pintab_poll_ops *ops)
{
	struct pin_table *t = table_of(vol);

	if (!t || !ops)
		return;
	pthread_mutex_lock(&t->lock);
	t->ops = *ops;
	pthread_mutex_unlock(&t->lock);
}

static bool file_breaking_locked(struct pin_table *t, struct pin_file *pf)
{
	uint64_t bs = block_size(t);

	for (struct pin *p = pf->pins; p; p = p->next)
		if (breaking_locked(t, pf->ino, p->off / bs, p->len / bs))
			return true;
	return false;
}

unsigned pgdax_pintab_poll(struct pgdax_vol *vol, struct pgdax_vol_file *f, void *handle,
			   bool *kept)
{
	struct pin_table *t = table_of(vol);
	struct pin_file *pf;
	unsigned mask = 0;
	void *old = NULL;

	*kept = false;
	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	pf = handle ? pf_get_locked(t, f) : *pgdax_vol_file_holder(f);
	if (pf) {
		if (t->revoked || file_breaking_locked(t, pf))
			mask |= POLLPRI;
		if (handle) {
			old = pf->poll_handle;
			pf->poll_handle = handle;
			*kept = true;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (old && t->ops.destroy)
		t->ops.destroy(old);
	return mask;
}

static int break_table(struct pin_table *t, uint64_t ino, uint64_t first_page,
		       uint64_t npages);

/* Holder operation (the top of this file, "Layout breaks"). */
static int hold_break_layout(void *ctx, uint64_t ino, uint64_t first_page, uint64_t npages)
{
	int r = break_table(ctx, ino, first_page, npages);

	return r < 0 ? r : 0;
}

static void hold_break_done(void *ctx, uint64_t ino, uint64_t first_page, uint64_t npages)
{
	struct pin_table *t = ctx;
	struct breaking **pp;

	if (!npages)
		return;
	pthread_mutex_lock(&t->lock);
	for (pp = &t->breaking; *pp; pp = &(*pp)->next) {
		struct breaking *b = *pp;

		if (b->ino == ino && b->first == first_page && b->n == npages) {
			*pp = b->next;
			t->nbreaking--;
			free(b);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/*
 * Record the break and notify the overlapping pins' poll handles; returns
 * the number of pins that overlap, or -ENOMEM when the break cannot be
 * recorded: then nothing is done, and the truncate must not run (it would
 * wait without refusing new pins, the one thing a break promises).
 */
static int break_table(struct pin_table *t, uint64_t ino, uint64_t first_page,
		       uint64_t npages)
{
	struct breaking *b;
	void **handles = NULL;
	unsigned nh = 0, cap = 0;
	int pins = 0;
	uint64_t bs;

	if (!npages)
		return 0;
	bs = block_size(t);
	b = pgdax_fault("pin_break") ? NULL : calloc(1, sizeof(*b));
	if (!b) {
		pgdax_warn("layout break on inode %llu: out of memory, refused",
			   (unsigned long long)ino);
		return -ENOMEM;
	}
	pthread_mutex_lock(&t->lock);
	b->ino = ino;
	b->first = first_page;
	b->n = npages;
	b->next = t->breaking;
	t->breaking = b;
	t->nbreaking++;
	for (struct pin_file *pf = t->files.next; pf != &t->files; pf = pf->next) {
		bool hit = false;

		if (pf->ino != ino)
			continue;
		for (struct pin *p = pf->pins; p; p = p->next) {
			if (overlaps(p->off / bs, p->len / bs, first_page, npages)) {
				pins++;
				hit = true;
			}
		}
		if (hit && pf->poll_handle) {
			if (nh == cap) {
				unsigned ncap = cap ? cap * 2 : 8;
				void **v = realloc(handles, ncap * sizeof(*v));

				if (!v)
					continue;	/* that holder learns at its next poll */
				handles = v;
				cap = ncap;
			}
			handles[nh++] = pf->poll_handle;
			pf->poll_handle = NULL;
		}
	}
	pthread_mutex_unlock(&t->lock);
	/* One notification clears every waiter of a handle; the kernel polls
	 * again (with a new handle) and then sees POLLPRI. */
	for (unsigned i = 0; i < nh; i++) {
		if (t->ops.notify)
			t->ops.notify(handles[i]);
		if (t->ops.destroy)
			t->ops.destroy(handles[i]);
	}
	free(handles);
	if (pins)
		pgdax_info("layout break on inode %llu pages [%llu, +%llu): %d pin(s) notified",
			   (unsigned long long)ino, (unsigned long long)first_page,
			   (unsigned long long)npages, pins);
	return pins;
}

int pgdax_pin_break_layout(struct pgdax_vol *vol, uint64_t ino, uint64_t first_page,
			   uint64_t npages)
{
	struct pin_table *t = table_find(vol);

	return t ? break_table(t, ino, first_page, npages) : 0;
}

void pgdax_pin_break_done(struct pgdax_vol *vol, uint64_t ino, uint64_t first_page,
			  uint64_t npages)
{
	struct pin_table *t = table_find(vol);

	if (t)
		hold_break_done(t, ino, first_page, npages);
}

/* ------------------------------------------------------------------ */
/* Info and status                                                     */
/* ------------------------------------------------------------------ */

void pgdax_pintab_counters(struct pgdax_vol *vol, uint64_t *pins, uint64_t *extents)
{
	struct pin_table *t = table_find(vol);

	if (pins)
		*pins = 0;
	if (extents)
		*extents = 0;
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	if (pins)
		*pins = pins_held(t);
	if (extents)
		*extents = t->extents;
	pthread_mutex_unlock(&t->lock);
}

/* A path that does not fit is left empty: better no answer than a wrong one. */
static void copy_path(char dst[PGDAX_DEV_PATH_MAX], const char *src)
{
	size_t n = strnlen(src, PGDAX_DEV_PATH_MAX);

	if (n >= PGDAX_DEV_PATH_MAX)
		n = 0;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void pgdax_pintab_info(struct pgdax_vol *vol, uint64_t ino, struct pgdax_ioc_info *out)
{
	const struct pgdax_dev_info *di = pgdax_dev_info(pgdax_vol_dev(vol));
	uint64_t bs = pgdax_vol_block_size(vol);

	memset(out, 0, sizeof(*out));
	out->version = PGDAX_IOC_VERSION;
	if (di->kind == PGDAX_DEV_EMULATED)
		out->flags |= PGDAX_INFO_EMULATED;
	if (pgdax_vol_is_rdonly(vol))
		out->flags |= PGDAX_INFO_RDONLY;
	if (pgmap_state(pgdax_vol_pgmap(vol)) != PGMAP_LIVE)
		out->flags |= PGDAX_INFO_DYING;
	if (pgdax_vol_is_dead(vol))
		out->flags |= PGDAX_INFO_DEAD;
	out->dev_size = di->size;
	out->dev_align = di->align < bs ? bs : di->align;
	out->block_size = bs;
	out->ino = ino;
	copy_path(out->dev_path, di->path);
}

int pgdax_pintab_status(struct pgdax_vol *vol, struct pgdax_ioc_status *st)
{
	const struct pgdax_dev_info *di = pgdax_dev_info(pgdax_vol_dev(vol));
	uint64_t bs = pgdax_vol_block_size(vol);
	struct pgdax_vol_stats s;
	struct pin_table *t;
	uint32_t cursor = st->cursor, idx = 0, n = 0;

	if (st->reserved0 || st->reserved_in[0] || st->reserved_in[1])
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pgdax_vol_get_stats(vol, &s);
	st->version = PGDAX_IOC_VERSION;
	st->pgmap_state = s.pgmap_state;
	if (di->kind == PGDAX_DEV_EMULATED)
		st->flags |= PGDAX_INFO_EMULATED;
	if (pgdax_vol_is_rdonly(vol))
		st->flags |= PGDAX_INFO_RDONLY;
	if (s.pgmap_state != PGMAP_LIVE)
		st->flags |= PGDAX_INFO_DYING;
	if (pgdax_vol_is_dead(vol)) {
		st->flags |= PGDAX_INFO_DEAD;
		pgdax_vol_dead_reason(vol, st->dead_reason, sizeof(st->dead_reason));
	}
	st->dev_size = di->size;
	st->dev_align = di->align < bs ? bs : di->align;
	st->block_size = s.block_size;
	st->blocks = s.blocks;
	st->free_blocks = s.free_blocks;
	st->inodes = s.inodes;
	st->free_inodes = s.free_inodes;
	st->active_extents = s.active_extents;
	st->inflight_io = s.inflight_io;
	st->orphans = s.orphans;
	st->quarantined_pages = s.quarantined_pages;
	st->stalled_reclaims = s.stalled_reclaims;
	st->live_count = s.live_count;
	copy_path(st->dev_path, di->path);
	t = table_find(vol);
	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	st->pins = pins_held(t);
	st->pins_granted = t->pins_granted;
	st->pins_dropped = t->pins_dropped;
	st->pinned_extents = t->extents;
	st->breaking = t->nbreaking;
	for (struct pin_file *pf = t->files.next; pf != &t->files; pf = pf->next) {
		if (!pf->npins)
			continue;
		if (idx++ < cursor || n >= PGDAX_IOC_HOLDERS_BATCH)
			continue;
		st->holders[n].pid = pf->pid;
		st->holders[n].pins = pf->npins;
		st->holders[n].ino = pf->ino;
		st->holders[n].extents = pf->nextents;
		st->holders[n].bytes = pf->bytes;
		n++;
	}
	pthread_mutex_unlock(&t->lock);
	st->nr_holders = idx;
	st->count = n;
	st->next = cursor + n;
	return 0;
}
