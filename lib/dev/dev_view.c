/* SPDX-License-Identifier: MIT */
/*
 * Copy-on-write views of a device without MAP_PRIVATE, which a devdax
 * refuses ("dax_mmap: fail, attempted private mapping"). A view maps the
 * whole device read-only and shared, in units of the device's alignment
 * (a devdax mapping can only be split on its alignment); a unit the caller
 * is about to write is first replaced by anonymous memory holding a copy of
 * it (mremap over the shared unit). Reads of other units go to the device,
 * writes never do. fsck -n rolls a pending journal transaction back in such
 * a view and checks the volume the mount would see, on either kind of
 * device; its DRAM cost is one alignment unit per unit written (4 KiB or
 * 2 MiB; 1 GiB units on a 1G devdax).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dev_internal.h"
#include "util/log.h"

struct pgdax_dev_view {
	struct pgdax_dev *dev;
	uint8_t *base;
	uint64_t size, unit;
	uint8_t *copied;	/* per unit: 1 once it is private DRAM */
};

int pgdax_dev_view_open(struct pgdax_dev *dev, struct pgdax_dev_view **out)
{
	struct pgdax_dev_view *v;
	uint8_t *r, *a;
	uint64_t unit = dev->info.align, span;
	int rc;

	*out = NULL;
	if (dev->size % unit || dev->size / unit > ((uint64_t)1 << 32))
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->copied = calloc(dev->size / unit, 1);
	if (!v->copied) {
		free(v);
		return -ENOMEM;
	}
	/* an aligned address range: reserve size + unit, keep the aligned part */
	span = dev->size + unit;
	r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	a = (uint8_t *)(((uintptr_t)r + unit - 1) & ~(uintptr_t)(unit - 1));
	if (a > r)
		munmap(r, (size_t)(a - r));
	if (a + dev->size < r + span)
		munmap(a + dev->size, (size_t)(r + span - (a + dev->size)));
	if (mmap(a, dev->size, PROT_READ, MAP_SHARED | MAP_FIXED, dev->fd, 0) == MAP_FAILED) {
		rc = -errno;
		munmap(a, dev->size);
		pgdax_err("cannot map %s for a read-only view: %s", dev->info.path,
			  strerror(-rc));
		goto fail;
	}
	v->dev = dev;
	v->base = a;
	v->size = dev->size;
	v->unit = unit;
	*out = v;
	return 0;
fail:
	free(v->copied);
	free(v);
	return rc;
}

void *pgdax_dev_view_base(const struct pgdax_dev_view *v)
{
	return v->base;
}

int pgdax_dev_view_cow(struct pgdax_dev_view *v, const void *addr, size_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)addr - v->base);

	if ((const uint8_t *)addr < v->base || off > v->size || len > v->size - off)
		return -EINVAL;
	for (uint64_t u = off / v->unit; len && u <= (off + len - 1) / v->unit; u++) {
		uint8_t *dst = v->base + u * v->unit, *tmp;
		int rc;

		if (v->copied[u])
			continue;
		tmp = mmap(NULL, v->unit, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (tmp == MAP_FAILED)
			return -errno;
		/* from the device's own mapping: a media error is -EIO, not a kill */
		rc = pgdax_dev_copy_guarded(v->dev, tmp, v->dev->base + u * v->unit, v->unit,
					    false);
		if (!rc && mremap(tmp, v->unit, v->unit, MREMAP_MAYMOVE | MREMAP_FIXED, dst) ==
			   MAP_FAILED)
			rc = -errno;
		if (rc) {
			munmap(tmp, v->unit);
			return rc;
		}
		v->copied[u] = 1;
	}
	return 0;
}

void pgdax_dev_view_close(struct pgdax_dev_view **vp)
{
	struct pgdax_dev_view *v = vp ? *vp : NULL;

	if (!v)
		return;
	munmap(v->base, v->size);
	free(v->copied);
	free(v);
	*vp = NULL;
}
