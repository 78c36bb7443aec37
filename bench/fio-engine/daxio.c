/* SPDX-License-Identifier: MIT */
/* The pgdax fio engine's I/O backends (see daxio.h). */
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include <sys/mman.h>

#include "daxio.h"
#include "client/pgdax.h"

struct daxio_map {
	enum daxio_backend backend;
	uint64_t length;
	int writable;
	int persist_each_write;
	char *addr;
	struct pgdax_mapping *pm;	/* pgdax backend only */
	/* Bytes written since the last sync: [dirty_lo, dirty_hi), empty if
	 * lo >= hi, so a sync persists what changed, not the whole map. */
	uint64_t dirty_lo, dirty_hi;
};

int daxio_backend_parse(const char *s, enum daxio_backend *out)
{
	if (!s || !*s || !strcmp(s, "pgdax"))
		*out = DAXIO_PGDAX;
	else if (!strcmp(s, "mmap"))
		*out = DAXIO_MMAP;
	else
		return -EINVAL;
	return 0;
}

const char *daxio_backend_name(enum daxio_backend b)
{
	return b == DAXIO_MMAP ? "mmap" : "pgdax";
}

int daxio_open(enum daxio_backend b, int fd, uint64_t length, int writable,
	       int persist_each_write, struct daxio_map **out)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	struct daxio_map *m;
	int rc;

	*out = NULL;
	if (length == 0 || length > SIZE_MAX)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->backend = b;
	m->length = length;
	m->writable = writable;
	m->persist_each_write = persist_each_write;
	m->dirty_lo = UINT64_MAX;
	if (b == DAXIO_PGDAX) {
		/* as fio's mmap engine, which ftruncate()s a file shorter than
		 * the job's size: a writable job grows it (PGDAX_MAP_EXTEND) */
		rc = pgdax_map_flags(fd, 0, (size_t)length, prot,
				     writable ? PGDAX_MAP_EXTEND : 0, &m->pm);
		if (rc)
			goto err;
		m->addr = pgdax_mapping_addr(m->pm);
	} else {
		m->addr = mmap(NULL, (size_t)length, prot, MAP_SHARED, fd, 0);
		if (m->addr == MAP_FAILED) {
			rc = -errno;
			goto err;
		}
	}
	*out = m;
	return 0;
err:
	free(m);
	return rc;
}

uint64_t daxio_length(const struct daxio_map *m)
{
	return m->length;
}

static int in_range(const struct daxio_map *m, size_t len, uint64_t off)
{
	return off <= m->length && len <= m->length - off;
}

int daxio_read(struct daxio_map *m, void *buf, size_t len, uint64_t off)
{
	if (!in_range(m, len, off))
		return -EINVAL;
	memcpy(buf, m->addr + off, len);
	return 0;
}

static int sync_range(struct daxio_map *m, uint64_t off, size_t len)
{
	if (m->backend == DAXIO_PGDAX)
		return pgdax_mapping_sync(m->pm, (size_t)off, len);
	/* msync wants a page-aligned start. */
	uint64_t start = off & ~(uint64_t)4095;

	return msync(m->addr + start, len + (size_t)(off - start), MS_SYNC) ? -errno : 0;
}

/*
 * Large writes use non-temporal stores, as fio's libpmem engine does
 * (pmem_memcpy): the data is not read back soon, and cached stores would
 * first read every destination line. 1 MiB into /dev/shm: memcpy 18-21
 * GiB/s, streaming stores 22-28 GiB/s; with memcpy the engine wrote at
 * 0.65-0.71x the libpmem engine. The fence orders them before a later
 * sync (which then has nothing left in the cache to flush).
 */
#define NT_COPY_MIN	(64u << 10)

static void copy_to_dax(char *dst, const char *src, size_t len)
{
#if defined(__x86_64__)
	if (len >= NT_COPY_MIN) {
		size_t head = (16 - ((uintptr_t)dst & 15)) & 15;

		memcpy(dst, src, head);
		dst += head;
		src += head;
		len -= head;
		for (; len >= 64; dst += 64, src += 64, len -= 64) {
			__m128i a = _mm_loadu_si128((const __m128i *)src);
			__m128i b = _mm_loadu_si128((const __m128i *)(src + 16));
			__m128i c = _mm_loadu_si128((const __m128i *)(src + 32));
			__m128i d = _mm_loadu_si128((const __m128i *)(src + 48));

			_mm_stream_si128((__m128i *)dst, a);
			_mm_stream_si128((__m128i *)(dst + 16), b);
			_mm_stream_si128((__m128i *)(dst + 32), c);
			_mm_stream_si128((__m128i *)(dst + 48), d);
		}
		memcpy(dst, src, len);
		_mm_sfence();
		return;
	}
#endif
	memcpy(dst, src, len);
}

int daxio_write(struct daxio_map *m, const void *buf, size_t len, uint64_t off)
{
	if (!m->writable)
		return -EBADF;
	if (!in_range(m, len, off))
		return -EINVAL;
	copy_to_dax((char *)m->addr + off, buf, len);
	if (m->persist_each_write)
		return sync_range(m, off, len);
	if (off < m->dirty_lo)
		m->dirty_lo = off;
	if (off + len > m->dirty_hi)
		m->dirty_hi = off + len;
	return 0;
}

int daxio_sync(struct daxio_map *m)
{
	int rc;

	if (!m->writable || m->dirty_lo >= m->dirty_hi)
		return 0;
	rc = sync_range(m, m->dirty_lo, (size_t)(m->dirty_hi - m->dirty_lo));
	if (!rc) {
		m->dirty_lo = UINT64_MAX;
		m->dirty_hi = 0;
	}
	return rc;
}

int daxio_close(struct daxio_map **mp)
{
	struct daxio_map *m;
	int rc = 0;

	if (!mp || !*mp)
		return 0;
	m = *mp;
	if (m->backend == DAXIO_PGDAX) {
		rc = pgdax_unmap(&m->pm);	/* persists a writable mapping */
	} else {
		rc = daxio_sync(m);
		if (munmap(m->addr, (size_t)m->length) && !rc)
			rc = -errno;
	}
	free(m);
	*mp = NULL;
	return rc;
}
