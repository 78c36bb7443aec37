/* SPDX-License-Identifier: MIT */
/*
 * Status of a mounted pgdaxfs (PGDAX_IOC_STATUS on the mount root), shared
 * by "pgdaxctl status" and "pgdaxctl unmount".
 */
#ifndef PGDAXCTL_STATUS_H
#define PGDAXCTL_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pin/pgdax_ioctl.h"

struct pgdaxctl_status {
	struct pgdax_ioc_status st;	/* counters of the last batch */
	struct pgdax_ioc_holder *holders;
	uint32_t nholders;
	struct pgdax_ioc_drain drain;	/* the unmount in progress, if have_drain */
	bool have_drain;
};

/* Fetch the status of the pgdaxfs mounted at @mnt (all holder batches).
 * 0 or a negative errno (-ENOTTY: not a pgdaxfs mount root). */
int pgdaxctl_status_get(const char *mnt, struct pgdaxctl_status *s);
void pgdaxctl_status_free(struct pgdaxctl_status *s);
/* Say on stderr why pgdaxctl_status_get(@mnt) failed with @err, as
 * "pgdaxctl VERB: ..." (-ENOTTY/-EINVAL: not the root of a pgdaxfs mount). */
void pgdaxctl_status_perror(const char *verb, const char *mnt, int err);
/* Human-readable holders list ("pid 123 (prog) ino 12 /mnt/f: 2 pins, ..."). */
void pgdaxctl_status_print_holders(FILE *f, const char *mnt,
				   const struct pgdaxctl_status *s);
const char *pgdaxctl_pgmap_state_str(int state);
/* PGDAX_IOC_DRAIN on the root of @mnt with @flags (0: query, or
 * PGDAX_DRAIN_CANCEL). 0 or a negative errno (-EBUSY: past the point of no
 * return, -ENOENT: no unmount in progress, -ENOTTY: not a pgdaxfs root or
 * an older daemon). */
int pgdaxctl_drain(const char *mnt, uint32_t flags, struct pgdax_ioc_drain *d);
/* "draining since T (N s), N holders: pids P (comm), ...; asked by ..." */
void pgdaxctl_drain_print(FILE *f, const struct pgdax_ioc_drain *d);

#endif /* PGDAXCTL_STATUS_H */
