/*
 * loop.pml -- Promela model of the pgdaxfs request loop (fs/loop.c,
 * fs/reqclass.c) and of the requests that wait for one another through it:
 * a truncate waiting for a pinned extent (lib/vol/data.c wait_range /
 * wait_range_idle), PIN / UNPIN / RELEASE (lib/pin/pin.c, fs/ioctl.c), the
 * page invalidation of the SYNC ioctl, which waits for WRITEs (fs/ioctl.c
 * inval()), and device removal (DESIGN.md 4a). The reference-count protocol
 * itself is verified in refcount.pml; here an extent is a count with a
 * futex-style "sleep only while busy, woken by the 1 -> 0 put".
 *
 * DESIGNS (compile-time switch)
 *
 *   -DOLD_LOOP     the C before the rework (the bug report). R receivers
 *                  read the kernel queue (channel kq, FIFO).
 *                  fs_req_classify(): SETATTR with a size (truncate),
 *                  FALLOCATE, OPEN|O_TRUNC and every IOCTL (PIN, UNPIN, SYNC)
 *                  are MAY_WAIT and go to the pool (at most MAXT workers,
 *                  one FIFO queue lq[0]); while nwait > 0 (a MAY_WAIT
 *                  request queued or running) every other request goes to
 *                  the pool too; only INTERRUPT is inline (not modelled:
 *                  nobody is signalled). A truncate takes the inode lock for
 *                  writing, sets the layout break and waits, still holding
 *                  the lock, for the extent to go idle (break_timeout=-1).
 *                  (In the C that wait still polls FUSE_INTERRUPT, so the
 *                  hang ends if the truncating process is signalled; nobody
 *                  is, here, as nobody need be in the bug report.) UNPIN
 *                  does no invalidation here.
 *   -DOLD_LOOP -DOLD_INLINE_FAST
 *                  OLD, but serving fast requests inline even while
 *                  nwait > 0: why OLD routes them to the pool.
 *   (default) NEW  the C as it is now (fs/loop.c, fs/reqclass.c,
 *                  fs/ioctl.c). Two lanes of workers, each at most MAXT
 *                  (max_threads) workers with its own FIFO queue:
 *                    LANE_BREAK (lq[BREAK]): FS_REQ_MAY_WAIT, waits that
 *                      need a client to act: truncate (TRUNC stands for
 *                      SETATTR with a size, OPEN|O_TRUNC and FALLOCATE:
 *                      the same wait_range code);
 *                    LANE_BRIEF (lq[BRIEF]): FS_REQ_WAITS_BRIEFLY, waits
 *                      that end by themselves: the PIN and SYNC ioctls, and
 *                      deferred work (fs_loop_defer: UNPIN's invalidation,
 *                      the INVAL job).
 *                  Everything else (GETATTR, READ, WRITE, RELEASE, UNPIN;
 *                  FORGET, INTERRUPT, INFO, STATUS behave like GETATTR here
 *                  and are left out) is served inline by the receiver that
 *                  read it, whatever the number of waiters. UNPIN drops the
 *                  pin and replies inline, then hands its page invalidation
 *                  (which may wait for a WRITE) to LANE_BRIEF (do_unpin ->
 *                  inval_deferred). A truncate never waits holding a lock:
 *                  it sets the break, then loops { wrlock; all idle?
 *                  truncate, unlock, end break, done : unlock, sleep
 *                  (unlocked) while the extent is busy } (lib/vol/data.c
 *                  wait_range).
 *                  Why two lanes (scenario 6): a pin holder answers a
 *                  layout break with pgdax_unmap, which sends SYNC before
 *                  UNPIN; in one pool, MAXT truncates fill it, the SYNC
 *                  queues behind them, and they wait for the UNPIN that
 *                  comes after the SYNC.
 *   -DONE_POOL     NEW with a single pool (one lane: lq[0] serves
 *                  truncates, PIN, SYNC and the INVAL jobs): scenario 6
 *                  deadlocks.
 *   -DREMOVAL      (NEW) the device may die: once `dead`, every request a
 *                  receiver reads, or a worker dequeues, is answered EIO at
 *                  once (an INVAL job still runs: not a request); the pin
 *                  table revokes the pins (puts their references), which
 *                  wakes a sleeping truncate, which then fails EIO; a PIN
 *                  checks `dead` under the table lock when it enters its
 *                  pin; unmount kills, drains and releases.
 *   -DINVAL_INLINE (NEW) UNPIN's invalidation on the receiver, after the
 *                  reply, instead of deferred: with as many concurrent
 *                  UNPINs as receivers, nobody reads the WRITEs (scenario 5
 *                  deadlocks): why do_unpin defers it.
 *
 *   proctype / inline   C
 *   receiver       fs/loop.c receive() (+ fs_req_classify(), submit(),
 *                  whose lane is LANE_OF(op))
 *   worker         fs/loop.c worker() of one struct lane: a fixed set of
 *                  MAXT threads per lane reading the lane's FIFO lq[lane]
 *                  stands for "grows on demand up to max_threads" (same
 *                  capacity, same order); OLD / ONE_POOL: one lane
 *   INVAL job      fs/ioctl.c inval_deferred -> fs_loop_defer (LANE_BRIEF)
 *                  -> inval_job_run -> inval()
 *   do_trunc       lib/vol/attr.c pgdax_vol_setattr -> data_setsize ->
 *                  wait_range (holder_break_layout = pgdax_pin_break_layout,
 *                  wait_range_idle -> pgmap_wait_idle, holder_break_done)
 *                  -> shrink_size, free_range
 *   do_pin         fs/ioctl.c do_pin -> pgdax_pintab_create ->
 *                  pgdax_vol_dax_layout (lib/vol/layout.c), whose
 *                  callbacks pin_begin (break check), pin_unit (reference)
 *                  and pin_commit (table) run under the inode write lock
 *   do_unpin       do_unpin -> pgdax_pintab_drop, reply, inval_deferred;
 *                  RELEASE: pgdax_vol_release -> pgdax_pin_release_file
 *   do_sync        do_sync -> pgdax_pintab_sync_range, inval(), reply
 *   do_io          READ/WRITE: pgdax_vol_read_map / pgdax_vol_write
 *                  (rdlock, a transient folio reference for the copy)
 *   inval          fuse_lowlevel_notify_inval_inode on a page range: the
 *                  kernel launders a dirty page with a WRITE and waits for it
 *   client procs   processes on the mount: each sends its requests into kq
 *                  and waits for each reply, so arrival order is free
 *   remover        (-DREMOVAL) the device goes away at any moment (or
 *                  never): dead = 1, then the pin table revokes every pin
 *   unmounter      (-DREMOVAL) teardown: kill -> drain -> release, started
 *                  by the removal or, without one, once every client is done
 *
 * SCENARIOS (-DSCEN=n; max_threads=2 (the least the C accepts: per lane)
 * and 2 receivers unless overridden)
 *   1  the bug report: a client PINs an extent of f (later UNPINs it, or
 *      closes the file: RELEASE), two truncates of f, a GETATTR of g
 *   2  a truncate waiting on the pinned extent while two READs of f arrive
 *      (2 receivers: both could block on f's lock)
 *   3  two truncates fill the pool (NEW: the break lane) while a SYNC of
 *      another client arrives; SYNC's invalidation needs one WRITE (kernel
 *      write-back) served
 *   4  (with -DREMOVAL) the pin holder, a truncate, a READ of f, and the
 *      device dying at any moment (or never: then a plain unmount once every
 *      client is done), with unmount's kill -> drain -> release
 *   5  two pin holders (each UNPINs or closes), and a GETATTR of g: with
 *      -DINVAL_INLINE both UNPINs' invalidations sit on the receivers
 *   6  the pin holder answers the break as pgdax_unmap does: SYNC, then
 *      UNPIN (or closes); MAXT (2) truncates of f fill the break lane
 *      (-DONE_POOL: the pool)
 *
 * ABSTRACTED AWAY: libfuse parsing and the reply transport (a reply is a
 * flag set once); the receivers' park/spin modes (a receiver here is always
 * reading when it is not serving; parking only ever waits for another
 * receiver that is reading); pool growth and idle exit; buffers, splice;
 * interrupts and break_timeout expiry (the forever case is the one that
 * hangs); relayout on PIN (lib/vol/layout.c layout_unit -> relayout_unit
 * -> wait_idle waits up to 20 x 100 ms under the inode write lock for
 * in-flight I/O references: modelled as no wait); dirty pages (every
 * invalidation, SYNC's and UNPIN's alike, needs one WRITE: the worst
 * case); the refcount internals
 * and the drained futex (refcount.pml; here drain blocks on a flag set by
 * the last put after kill). A critical section that touches only lock-protected state is one
 * step: the steps of other threads that could interleave (puts, flags)
 * commute with taking the lock.
 *
 * PROPERTIES
 *   - every request is answered exactly once (assert in reply(); a client
 *     still waiting at the end is an invalid end state);
 *   - no deadlock: no invalid end state (receivers and workers may only
 *     end blocked on their empty queues);
 *   - every request eventually answered and, with REMOVAL, unmount's drain
 *     completes: LTL `answered` = <> (all clients done && released), under
 *     weak fairness (pan -a -f);
 *   - nothing touches device memory after release; the extent is idle at
 *     release; a truncate frees the extent only when it is idle.
 *   OLD must violate them (check_model.sh asserts that it deadlocks), and
 *   so must ONE_POOL in scenario 6 and INVAL_INLINE in scenario 5; NEW
 *   must satisfy all of them in every scenario.
 *
 * WITNESSES (-DWITNESS=n: a reachable situation made an assertion failure,
 * so check_model.sh can show that the scenario really gets there)
 *   1 a truncate sleeps on the extent while the client's pin holds it
 *   2 a READ of f is served while a truncate sleeps
 *   3 both break-lane (OLD, ONE_POOL: pool) workers sleep in truncates
 *     while the SYNC is unanswered
 *   4 (REMOVAL) the device dies while a truncate sleeps on a pinned extent
 *   5 (scenario 6) the holder's SYNC is served while both break-lane
 *     workers sleep in truncates on its pin
 *
 * MUTANTS of NEW (must fail)
 *   -DBUG_PIN_NO_DEAD_CHECK: a PIN racing the removal enters its pin after
 *     the table was revoked; the client's UNPIN then gets EIO without
 *     dropping it, and drain never completes (scenario 4).
 *   -DBUG_TRUNC_WAIT_LOCKED: NEW's classification with OLD's truncate,
 *     which waits holding f's lock: the inline READs of f block both
 *     receivers and the UNPIN is never read (scenario 2).
 */

#ifndef SCEN
#define SCEN 1
#endif

#ifndef NRECV
#define NRECV 2                 /* receivers (opts.receivers) */
#endif
#ifndef MAXT
#define MAXT  2                 /* max_threads: workers per lane */
#endif
#define NQ    8                 /* kernel queue and lane queue capacity */

/* UNPIN invalidates its range after the reply (fs/ioctl.c do_unpin), on a
 * LANE_BRIEF worker (fs_loop_defer), or with -DINVAL_INLINE on the
 * receiver; OLD (its UNPIN on the pool) is modelled without it */
#ifndef OLD_LOOP
#define UNPIN_INVAL
#ifndef INVAL_INLINE
#define INVAL_DEFER
#endif
#endif

/* the pool's lanes (fs/loop.c enum lane_id); one pool: both are lane 0 */
#if defined(OLD_LOOP) || defined(ONE_POOL)
#define NLANE 1
#else
#define NLANE 2
#endif
#define BREAK 0                 /* LANE_BREAK: waits until a client acts */
#define BRIEF (NLANE - 1)       /* LANE_BRIEF: waits that end by themselves */

/* INVAL is not a FUSE request: the deferred invalidation job (INVAL_DEFER) */
mtype = { TRUNC, PIN, SYNC, INVAL, UNPIN, RELEASE, GETATTR, READ, WRITE };

/* reply codes */
#define OK      0
#define EBUSY   1
#define EIO     2
#define ENOENT  3
#define ENXIO   4

/* client ids: index of replied[] / res[] */
#define C_P0    0               /* pin holder: PIN, then UNPIN or RELEASE */
#define C_P1    1               /* second pin holder (scenario 5) */
#define C_T1    2
#define C_T2    3
#define C_X     4
#define NCLI    5
#define WB(c)   (NCLI + (c))    /* the WRITE that c's SYNC's inval waits for */
#define WU(c)   (2 * NCLI + (c)) /* ... that c's UNPIN's inval waits for */
#define NSLOT   (3 * NCLI)

#if SCEN == 4 || SCEN == 5 || SCEN == 6
#define NCLIENTS 3              /* client processes */
#else
#define NCLIENTS 4
#endif

chan kq = [NQ] of { mtype, byte };          /* /dev/fuse: op, client */
chan lq[NLANE] = [NQ] of { mtype, byte, bit }; /* lane queues: op, client, waits */

bit  replied[NSLOT];
byte res[NSLOT];
byte ndone;                     /* client processes finished */

/* inode f: its rwlock, its one extent, breaks, the pins */
bit  wl;                        /* f's lock held for writing */
byte rd;                        /* readers holding f's lock */
bit  has_ext = 1;               /* f still has its extent (until truncated) */
byte ref;                       /* the extent's refcount */
bit  esleep[MAXT];              /* LANE_BREAK workers asleep on the extent */
byte breaking;                  /* layout breaks in progress on f */
bit  pinned[2];                 /* pin of holder c in the pin table */
bit  pin_ref[2];                /* ... holding a reference on the extent */

byte nwait;                     /* OLD: MAY_WAIT requests queued or running */

/* teardown / removal */
bit  dead;
bit  dying;
bit  drained;
bit  released;

/* ---- helpers ---------------------------------------------------------- */

inline reply(cid, code)
{
	d_step {
		assert(!replied[cid]);          /* exactly one reply */
		res[cid] = code;
		replied[cid] = 1
	}
}

inline wrlock()   { atomic { (wl == 0 && rd == 0) -> wl = 1 } }
inline rdlock()   { atomic { wl == 0 -> rd++ } }

/* pgmap_get_folio on the extent: fails once the pgmap is dying */
inline get_ref(ok)
{
	if
	:: dying -> ok = 0
	:: else -> assert(!released); ref++; ok = 1
	fi
}

/* folio_put: the 1 -> 0 put wakes every waiter of the word; after kill the
 * last unit fires the drained event */
inline put_ref()
{
	assert(ref > 0 && !released);
	ref--;
	if
	:: ref == 0 ->
		for (i : 0 .. MAXT - 1) { esleep[i] = 0 }
		i = 0;
		if
		:: dying -> drained = 1
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* futex_wait on the extent word: sleep only if still busy, atomically with
 * respect to the waking put */
inline sleep_while_busy(me)
{
	atomic {
		if
		:: ref > 0 ->
			esleep[me] = 1;
#ifdef WITNESS
			assert(!(WITNESS == 1 && pinned[0] && pin_ref[0]));
			assert(!(WITNESS == 3 && esleep[0] && esleep[1] &&
				 !replied[C_X]));
#endif
			(esleep[me] == 0)
		:: else -> skip
		fi
	}
}

/* fuse_lowlevel_notify_inval_inode() on a range with a dirty page: the
 * kernel sends a WRITE for it and waits until it is answered */
inline inval(wb)
{
	kq ! WRITE, wb;
	(replied[wb] == 1)
}

/* ---- handlers ---------------------------------------------------------- */

#if defined(OLD_LOOP) || defined(BUG_TRUNC_WAIT_LOCKED)
/* data_setsize() today: wait_range() under ip->lock (write), forever */
inline do_trunc(cid, me)
{
	atomic {
		wrlock();
		breaking++              /* pgdax_pin_break_layout */
	}
	do                              /* wait_range_idle -> pgmap_wait_idle */
	:: ref == 0 -> break
	:: else -> sleep_while_busy(me)
	od;
	d_step {
		breaking--;             /* pgdax_pin_break_done */
		assert(ref == 0);       /* blocks reach the allocator idle */
		has_ext = 0;            /* shrink_size + free_range */
		wl = 0;
		reply(cid, OK)
	}
}
#else
/* NEW: never wait holding a lock another request needs */
inline do_trunc(cid, me)
{
	breaking++;                     /* new pins in the range: EBUSY at once */
	do
	:: /* lock, check, (truncate), unlock */
		atomic {
			(wl == 0 && rd == 0) ->
			if
			:: dead -> code = EIO; break
			:: !dead && (ref == 0 || !has_ext) ->
				assert(ref == 0);
				has_ext = 0;    /* every extent idle: truncate */
				code = OK; break
			:: else -> skip
			fi
		}
		sleep_while_busy(me)    /* unlocked; re-check after */
	od;
	d_step {
		breaking--;             /* end the break */
		reply(cid, code);
		code = 0
	}
}
#endif

/* pgdax_pintab_create(): break check before the lock and again under it;
 * the reference is taken under the lock, the pin entered in the table
 * under the table lock (where the removal's revocation also runs) */
inline do_pin(cid)
{
	if
	:: breaking > 0 -> reply(cid, EBUSY)
	:: else ->
		atomic {
			wrlock();
			took = 0;
			if
			:: breaking > 0 -> code = EBUSY
			:: else ->
				if
				:: has_ext -> get_ref(took)
				:: else -> skip   /* a hole: no reference */
				fi;
				if
				:: has_ext && !took -> code = ENXIO
				:: else -> code = OK
				fi
			fi
		}
		if
		:: code == OK ->
			d_step {        /* table lock */
#ifndef BUG_PIN_NO_DEAD_CHECK
				if
				:: dead -> code = EIO; ok = took
				:: else ->
#endif
					pinned[cid] = 1;
					pin_ref[cid] = took;
					ok = 0
#ifndef BUG_PIN_NO_DEAD_CHECK
				fi
#endif
			}
			d_step {
				if
				:: ok -> put_ref()  /* refused: drop our reference */
				:: else -> skip
				fi
			}
		:: else -> skip
		fi;
		d_step {
			wl = 0;
			reply(cid, code);
			code = 0; ok = 0; took = 0
		}
	fi
}

/* pgdax_pintab_drop() / pgdax_pin_release_file(): no inode lock. The table
 * edit, the put outside the table lock and the reply are one step: nothing
 * observable separates them but "unpinned, reference not yet dropped",
 * which a waiter treats like "still pinned". */
inline do_unpin(op, cid)
{
	d_step {
		if
		:: pinned[cid] ->
			ok = pin_ref[cid]; pinned[cid] = 0; pin_ref[cid] = 0;
			code = OK
		:: else -> ok = 0; code = ENOENT
		fi;
		if
		:: ok -> put_ref()
		:: else -> skip
		fi;
		reply(cid, code);
		code = 0; ok = 0
	}
#ifdef UNPIN_INVAL
	/* after the reply: invalidate the kernel's pages of the range */
	if
	:: op == UNPIN ->
#ifdef INVAL_DEFER
		lq[BRIEF] ! INVAL, cid, 0   /* fs_loop_defer: not on this receiver */
#else
		inval(WU(cid))
#endif
	:: else -> skip
	fi
#endif
}

/* READ / WRITE of f: rdlock, a transient reference for the copy */
inline do_io(cid)
{
	atomic {
		rdlock();
#ifdef WITNESS
		assert(!(WITNESS == 2 && (esleep[0] || esleep[1])));
#endif
		if
		:: has_ext -> get_ref(ok)
		:: else -> ok = 0
		fi
	}
	rd--;
	if
	:: ok ->
		/* the copy touches device memory */
		d_step { assert(!released); put_ref() }
	:: else -> skip
	fi;
	d_step { reply(cid, OK); ok = 0 }
}

/* do_sync(): inval() before the reply */
inline do_sync(cid)
{
#ifdef WITNESS
	assert(!(WITNESS == 5 && esleep[0] && esleep[1]));
#endif
	inval(WB(cid));
	reply(cid, OK)
}

inline serve(op, cid, me)
{
	if
	:: op == TRUNC -> do_trunc(cid, me)
	:: op == PIN -> do_pin(cid)
	:: op == SYNC -> do_sync(cid)
	:: op == INVAL -> inval(WU(cid))
	:: op == UNPIN || op == RELEASE -> do_unpin(op, cid)
	:: op == READ || op == WRITE -> do_io(cid)
	:: op == GETATTR -> reply(cid, OK)
	fi
}

/* fs_req_classify(): to the pool (MAY_WAIT or WAITS_BRIEFLY) or inline;
 * submit(): which lane. TRUNC stands for every FS_REQ_MAY_WAIT request
 * (LANE_BREAK), PIN and SYNC are FS_REQ_WAITS_BRIEFLY (LANE_BRIEF) */
#ifdef OLD_LOOP
#define MAY_WAIT(op) (op == TRUNC || op == PIN || op == SYNC || op == UNPIN)
#else
#define MAY_WAIT(op) (op == TRUNC || op == PIN || op == SYNC)
#endif
#define LANE_OF(op) (op == TRUNC -> BREAK : BRIEF)

/* ---- threads ----------------------------------------------------------- */

proctype receiver(byte me)
{
	mtype op;
	byte cid, code, i;
	bit ok, took, pool;

end:	do
	:: atomic {
			kq ? op, cid;
#ifdef REMOVAL
			if
			:: dead -> reply(cid, EIO); pool = 1   /* done with it */
			:: else ->
#endif
#ifdef OLD_LOOP
			/* nwait rises on the receiver, before the hand-off */
			if
			:: MAY_WAIT(op) -> nwait++; lq[0] ! op, cid, 1; pool = 1
#ifndef OLD_INLINE_FAST
			:: !MAY_WAIT(op) && nwait > 0 -> lq[0] ! op, cid, 0; pool = 1
#endif
			:: else -> pool = 0
			fi
#else
			if
			:: MAY_WAIT(op) -> lq[LANE_OF(op)] ! op, cid, 0; pool = 1
			:: else -> pool = 0
			fi
#endif
#ifdef REMOVAL
			fi
#endif
		}
		if
		:: !pool -> serve(op, cid, 0)   /* inline: never a truncate */
		:: else -> skip
		fi;
		d_step { op = 0; cid = 0; pool = 0 }
	od
}

/* a worker of lane `lane`; `me` indexes esleep[] (LANE_BREAK workers: the
 * only ones that serve truncates) */
proctype worker(byte lane; byte me)
{
	mtype op;
	byte cid, code, i;
	bit ok, took, waits;

end:	do
	:: lq[lane] ? op, cid, waits ->
		assert(op != TRUNC || lane == BREAK);
#ifdef REMOVAL
		if
		:: dead && op != INVAL -> reply(cid, EIO)
		:: else -> serve(op, cid, me)
		fi;
#else
		serve(op, cid, me);
#endif
		d_step {
#ifdef OLD_LOOP
			if
			:: waits -> nwait--
			:: else -> skip
			fi;
#endif
			op = 0; cid = 0; waits = 0
		}
	od
}

/* ---- clients ------------------------------------------------------------ */

/* a pin holder: pins, later unpins (or closes the file: RELEASE); with
 * `sync`, first syncs, as pgdax_unmap does for a writable mapping (the
 * answer to a layout break: SYNC, then UNPIN) */
proctype pinner(byte cid; bit sync)
{
	kq ! PIN, cid;
	atomic {
		(replied[cid] == 1);
		if
		:: res[cid] == OK -> replied[cid] = 0
		:: else -> ndone++; goto out
		fi
	}
	if
	:: sync ->
		kq ! SYNC, cid;
		atomic { (replied[cid] == 1); replied[cid] = 0 }
	:: else -> skip
	fi;
	if
	:: kq ! UNPIN, cid
	:: kq ! RELEASE, cid
	fi;
	atomic { (replied[cid] == 1); ndone++ }
out:	skip
}

proctype client(mtype op; byte cid)
{
	kq ! op, cid;
	atomic { (replied[cid] == 1); ndone++ }
}

#ifdef REMOVAL
/* the device goes away at any moment (or never): block new, revoke pins */
proctype remover()
{
	byte i, c;
	bit ok;

	if
	:: dead = 1;
		/* pin table: drop every pin's reference on the holder's behalf */
		d_step {
#ifdef WITNESS
			assert(!(WITNESS == 4 && esleep[0] && pinned[0]));
#endif
			for (c : 0 .. 1) {
				ok = pinned[c] && pin_ref[c];
				pinned[c] = 0; pin_ref[c] = 0;
				if
				:: ok -> put_ref()
				:: else -> skip
				fi
			}
			c = 0; ok = 0
		}
	:: skip                         /* no removal: a plain unmount */
	fi
}

/* unmount (or the removal's teardown): kill -> drain -> release */
proctype unmounter()
{
	(dead || ndone == NCLIENTS);
	d_step {
		dying = 1;              /* kill: drop the initial unit */
		if
		:: ref == 0 -> drained = 1
		:: else -> skip
		fi
	}
	(drained == 1);                 /* drain */
	d_step {                        /* release */
		assert(ref == 0);
		released = 1
	}
}
#define RELEASED released
#else
#define RELEASED 1
#endif

init {
	byte k;
	atomic {
		for (k : 0 .. NRECV - 1) { run receiver(k) }
		for (k : 0 .. MAXT - 1) { run worker(BREAK, k) }
#if NLANE == 2
		for (k : 0 .. MAXT - 1) { run worker(BRIEF, k) }
#endif
		k = 0;
#if SCEN == 6
		run pinner(C_P0, 1);
#else
		run pinner(C_P0, 0);
#endif
#if SCEN == 1
		run client(TRUNC, C_T1);
		run client(TRUNC, C_T2);
		run client(GETATTR, C_X);
#elif SCEN == 2
		run client(TRUNC, C_T1);
		run client(READ, C_T2);
		run client(READ, C_X);
#elif SCEN == 3
		run client(TRUNC, C_T1);
		run client(TRUNC, C_T2);
		run client(SYNC, C_X);
#elif SCEN == 4
		run client(TRUNC, C_T1);
		run client(READ, C_T2);
#elif SCEN == 5
		run pinner(C_P1, 0);
		run client(GETATTR, C_X);
#elif SCEN == 6
		run client(TRUNC, C_T1);
		run client(TRUNC, C_T2);
#endif
#ifdef REMOVAL
		run remover();
		run unmounter();
#endif
	}
}

/* every request answered (and, with REMOVAL, the device released) */
ltl answered { <> (ndone == NCLIENTS && RELEASED) }
