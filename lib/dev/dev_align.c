/* SPDX-License-Identifier: MIT */
/*
 * The mapping alignment comes from the volume, not from the device: a
 * volume records the alignment it was formatted with (its superblock's
 * s_align), and the layers above hand out aligned units of that size for
 * clients to map. pgdax_dev_use_align() makes it the device's (info.align,
 * what pins and pgdax_map use):
 *
 *  - an emulated device is a file: it has no alignment of its own, so it
 *    takes the volume's, whatever it is. Nothing is kept beside the file
 *    (the user.pgdax.align xattr of earlier versions is ignored): a plain
 *    copy of the image mounts with the alignment it was formatted with.
 *
 *  - a devdax has its own alignment D (the namespace's `ndctl -a`, read from
 *    libpmem2 or sysfs at open). The kernel maps a devdax only in whole
 *    D-sized pages at D-aligned offsets (dax_mmap refuses anything else,
 *    and a fault maps the whole page). The volume's units are S = s_align
 *    bytes, S-aligned, and only the bytes of one unit belong to one file.
 *    So, with D and S powers of two (pgdax_dev_align_compatible):
 *      D == S  the unit is one page: the intended case;
 *      D <  S  accepted: D divides S, every unit starts and ends on a page
 *              boundary and is mapped with S / D pages of D. It works; the
 *              mappings just get smaller pages (more TLB misses) than the
 *              volume was formatted for, and a notice says so;
 *      D >  S  refused: a unit is not a whole page, so a client mapping it
 *              would be refused by the kernel, or (were the unit widened to
 *              a page) given other files' blocks and the metadata. The fix
 *              is a volume formatted for this device, or a namespace
 *              recreated with the volume's alignment.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "dev_internal.h"
#include "util/log.h"

static const char *size_name(uint64_t v, char *buf, size_t len)
{
	if (v >= (1ull << 30) && !(v & ((1ull << 30) - 1)))
		snprintf(buf, len, "%" PRIu64 "G", v >> 30);
	else if (v >= (1ull << 20) && !(v & ((1ull << 20) - 1)))
		snprintf(buf, len, "%" PRIu64 "M", v >> 20);
	else if (v >= (1ull << 10) && !(v & ((1ull << 10) - 1)))
		snprintf(buf, len, "%" PRIu64 "K", v >> 10);
	else
		snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

int pgdax_dev_align_compatible(uint64_t dev_align, uint64_t vol_align, const char *devname,
			       char *why, size_t whylen)
{
	char d[24], s[24];

	size_name(dev_align, d, sizeof(d));
	size_name(vol_align, s, sizeof(s));
	if (!dev_align_valid(vol_align)) {
		snprintf(why, whylen, "the volume on %s records an alignment of %" PRIu64
			 " bytes, not 4K, 2M or 1G: it is damaged (run fsck.pgdaxfs) or was "
			 "made by another program", devname, vol_align);
		return -EINVAL;
	}
	if (!dev_align || (dev_align & (dev_align - 1))) {
		snprintf(why, whylen, "%s reports an alignment of %" PRIu64 " bytes, not a "
			 "power of two", devname, dev_align);
		return -EINVAL;
	}
	if (dev_align > vol_align) {
		snprintf(why, whylen, "the volume on %s was formatted with alignment %s, but the "
			 "device maps only whole %s pages: a %s unit of one file would share a "
			 "page with other files. Either back up the files, reformat "
			 "(mkfs.pgdaxfs -f %s formats at %s) and restore them, or recreate the "
			 "namespace with the volume's alignment (`ndctl create-namespace -f -e "
			 "<namespace> -m devdax -a %s`; `ndctl list -N` names it; this also "
			 "destroys the data: back it up first)", devname, s, d, s, devname, d, s);
		return -EINVAL;
	}
	if (dev_align < vol_align)
		snprintf(why, whylen, "the volume on %s was formatted with alignment %s; the "
			 "device's is %s, which divides it: clients map %s units with %s pages "
			 "(for %s pages, recreate the namespace with -a %s)", devname, s, d, s, d,
			 s, s);
	else if (whylen)
		why[0] = '\0';
	return 0;
}

int pgdax_dev_use_align(struct pgdax_dev *dev, uint64_t vol_align)
{
	char why[768];
	int rc;

	if (dev->info.kind == PGDAX_DEV_EMULATED) {
		if (!dev_align_valid(vol_align)) {
			pgdax_err("the volume on %s records an alignment of %" PRIu64 " bytes, not "
				  "4K, 2M or 1G: it is damaged (run fsck.pgdaxfs)", dev->info.path,
				  vol_align);
			return -EINVAL;
		}
		dev->info.align = vol_align;
		return 0;
	}
	rc = pgdax_dev_align_compatible(dev->info.align, vol_align, dev->info.path, why,
					sizeof(why));
	if (rc) {
		pgdax_err("%s", why);
		return rc;
	}
	if (why[0])
		pgdax_notice("%s", why);
	dev->info.align = vol_align;
	return 0;
}
