/* SPDX-License-Identifier: MIT */
/*
 * Quarantine of device ranges still mapped by clients of an earlier daemon
 * (lib/vol/quarantine.c, DESIGN.md section 3 "After an unclean end").
 *
 * The client library holds an OFD read lock on every device range it maps
 * (lib/client/client.c). A daemon that died without draining (kill -9, forced
 * drain timeout) cannot know what its clients still map; the next daemon
 * finds out by probing the device for those locks and keeps the locked
 * ranges out of its allocator until they are unlocked (the client unmapped
 * or died). A forced drain therefore quarantines, never frees.
 */
#ifndef PGDAX_QUARANTINE_H
#define PGDAX_QUARANTINE_H

#include <stdint.h>

struct pgdax_vol;

/* Re-probe period of the background thread. */
#define PGDAX_QUARANTINE_PERIOD_MS	1000

/*
 * Probe the device of @vol for clients' locks now, reserve every free page
 * of a locked range in the allocator, and start a thread that re-probes
 * every PGDAX_QUARANTINE_PERIOD_MS: it returns ranges whose locks are gone
 * and reserves locked pages that became free since. Call at mount, after
 * orphan reclaim and before serving requests. 0 or a negative errno.
 */
int pgdax_quarantine_start(struct pgdax_vol *vol);
/*
 * Stop the thread and every probe (unmount, before the device is closed):
 * when it returns no probe runs any more, and pages freed from then on are
 * held without one. Reserved pages stay out of the allocator. The state is
 * not freed: every call here stays safe on another thread, during and
 * after stop, for as long as the volume exists. A later start restarts.
 * Start and stop are called by one thread at a time.
 */
void pgdax_quarantine_stop(struct pgdax_vol *vol);
/* Stop and free the state: only when the volume is freed (vol_free), when
 * no other thread may call in any more. */
void pgdax_quarantine_free(struct pgdax_vol *vol);
/* Pages held in quarantine right now (any thread, any time). */
uint64_t pgdax_quarantine_pages(struct pgdax_vol *vol);
/*
 * Give pages [pg, pg+n) freed by a committed transaction to the allocator,
 * except those a client of an earlier daemon still maps (covered by its OFD
 * lock): these are quarantined at once, so no file can receive them in the
 * window before the next re-probe. Free of cost (no probe) unless a probe
 * has found client locks on this device. Called by jtx_commit with the
 * journal lock held, and after a commit by a relayout (lib/vol/layout.c)
 * for old blocks it held referenced until then.
 */
void pgdax_quarantine_put_freed(struct pgdax_vol *vol, uint64_t pg, uint64_t n);
/* Run one re-probe at once (tests); nothing after stop. */
void pgdax_quarantine_reprobe(struct pgdax_vol *vol);

#endif /* PGDAX_QUARANTINE_H */
