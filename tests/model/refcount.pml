/*
 * refcount.pml -- Promela model of the pgdaxfs reference-count core
 * (DESIGN.md section 3 "the heart" and section 4 "block new, drain old").
 *
 * WHAT IS MODELLED, and where it lives in the C
 *
 *   Files: lib/core/folio.c, lib/core/pgmap.c, lib/core/pgmap_internal.h.
 *
 *   state                      C
 *   word[e]                    struct pgdax_folio.word (folio.c): count,
 *                              CLAIMING, FREEING, WAITERS in one word, which
 *                              is also the futex word waiters sleep on
 *   dying, in_sec[], shard[],  struct pgdax_pgmap.dying / struct live_shard
 *   central                    (pgmap_internal.h): the percpu_ref-like live
 *                              reference, per-thread shards, LIVE_BIAS
 *   drained                    pgmap->drained futex word (0, 1 firing, 2 fired)
 *
 *   inline / proctype          C function
 *   live_enter/live_exit       live_enter()/live_exit()   (pgmap_internal.h)
 *   tryget_live, put_live      pgmap_tryget_live(), pgmap_put_live() (pgmap.c)
 *   live_put_central           live_put_central() + fire_drained()   (pgmap.c)
 *   tryget_live_folio          tryget_live_folio() + tryget_word()   (folio.c)
 *   folio_activate             folio_activate(), i.e. the body of
 *                              pgmap_request_folio()                 (folio.c)
 *   get_folio                  pgmap_get_folio(): try_get, else request, retry
 *   wait_transient             wait_transient()                      (folio.c)
 *   folio_put, folio_free      folio_put(), folio_free()             (folio.c)
 *   wait_idle                  pgmap_wait_idle() with timeout -1     (folio.c)
 *   futex_wait, wake_all       pgdax_futex_wait(), pgdax_futex_wake_all()
 *   proctype user              a holder: an I/O or a pin taking references
 *                              with pgmap_get_folio / pgmap_request_folio /
 *                              folio_try_get, touching device memory, putting
 *   proctype waiter            a truncate waiting for an extent to go idle
 *                              (lib/vol/data.c wait_range_idle ->
 *                              pgmap_wait_idle)
 *   proctype killer            teardown: pgmap_kill(), pgmap_drain(-1),
 *                              pgmap_release()                       (pgmap.c)
 *
 * Two extents: e0 of order 0 (1 live unit) and e1 of order 1 (2 units), so a
 * wrong unit count would show. NUSERS (2) holder threads each do NOPS (1)
 * operation on an extent of their choice (pgmap_get_folio, or a bare
 * pgmap_request_folio that may say -EBUSY), one waiter (on e0), one
 * killer/drainer/releaser; all of them start together, so kill can fall
 * anywhere. -DNOPS=2 (each holder twice: re-activation after its own
 * free) also passes the safety run: 40.5 M states, 2 GB with -DCOLLAPSE,
 * 2 minutes; too slow for check_model.sh.
 *
 * Every C atomic access is one Promela step; an atomic{} block stands for one
 * C read-modify-write. A CAS retry loop without side effects before its
 * successful CAS (tryget_word, folio_put) is one atomic RMW: the loop
 * linearises at the successful CAS, which decided on the value it replaced.
 * The last access inside a live section and live_exit's store of in_sec = 0
 * are one step: only the killer reads in_sec, and it is blocked until that
 * store (live_enter's store and its load of dying stay two steps: that is
 * the Dekker race). A sched_yield() retry on a CLAIMING word is "block
 * until the word changes": the spinning thread only re-reads, so nothing
 * it could do in between is lost, and the model keeps no livelock cycles.
 * A futex wait is "atomically: if word == val, sleep until woken", a wake
 * clears the sleep of every thread sleeping on that word: exactly the
 * kernel's guarantee, so a lost wake-up shows as a thread asleep at the end
 * (invalid end state).
 *
 * ABSTRACTED AWAY
 *   - Weak memory: Promela interleaving is sequentially consistent. The C
 *     needs SC exactly where it uses it (the asymmetric Dekker between
 *     live_enter's "store in_sec; load dying" and kill's "store dying;
 *     membarrier; load in_sec"); membarrier() is therefore a no-op here.
 *     The release/acquire arguments for owner/state visibility are not
 *     checked by this model (the C11 argument in folio.c and TSan builds).
 *   - The overlap check (R2d), max_order, chunk allocation, owner cookie,
 *     count saturation (R5), the fallback shard, thread-exit retirement of
 *     shards, the "active" statistics counter: extents here are disjoint and
 *     the counts stay tiny.
 *   - Timeouts and interrupts of pgmap_wait_idle / pgmap_drain (the -1
 *     "forever" case is the one that can hang, so it is the one modelled).
 *   - The kill_lock: there is one killer.
 *   - The caller contract of pgmap_release() ("no other thread still uses
 *     the pgmap") is modelled by `calls`: a thread starts a get/request/wait
 *     only while not released, and the releaser waits for calls == 0.
 *     folio_put is deliberately NOT counted: a holder's put, and the freeing
 *     thread's accesses after it dropped its units, must be safe on their own.
 *
 * PROPERTIES (assertions + end states, and the LTL formula `drains`)
 *   (a) no reference is created by an operation that started after kill
 *       returned; folio_try_get never increments once kill has folded
 *       (assert in tryget_live_folio and at each successful get/request)
 *   (b) page_free runs exactly once per successful request (frees[e] ==
 *       reqs[e] - 1 when it runs; frees == reqs at release)
 *   (c) drain terminates once the holders have put: LTL  <> released
 *       (checked with weak fairness: pan -a -f)
 *   (d) no lost wake-up: no invalid end state (nobody left asleep)
 *   (e) the device is released only after the drained event: at release
 *       drained == 2, the live count is 0, every word is 0; and nobody
 *       touches device memory or the folio table after release
 *   (f) a put at 0 never happens (assert in folio_put)
 *   plus invariant 7: the drained event fires exactly once, after kill, and
 *   only with every extent idle.
 *
 * WITNESSES (-DWITNESS=n turns a reachable situation into an assertion
 * failure, so check_model.sh can show the model really gets there):
 *   1 the truncate-like waiter sleeps on a busy extent
 *   2 pgmap_get_folio sleeps on a FREEING extent (wait_transient)
 *   3 a request whose tryget_live ran before kill publishes count 1 after
 *     kill returned (allowed, drain waits for it: folio.c "The live
 *     reference")
 *   4 pgmap_drain actually sleeps (and, the run being error-free, is woken)
 *
 * MUTANTS (must fail; check_model.sh runs them to show the properties bite)
 *   -DBUG_NO_GRACE            kill folds without waiting out the read-side
 *                             sections (no grace period)
 *   -DBUG_WAKE_BEFORE_STORE   folio_free wakes waiters before publishing 0
 *   -DBUG_UNITS_FIRST         folio_free drops the live units before
 *                             publishing 0 (pgmap may be released under it)
 *   -DBUG_NO_BIAS             the atomic count starts without LIVE_BIAS
 */

#define NE      2               /* extents */
#ifndef NUSERS
#define NUSERS  2               /* holder threads (each has a live shard) */
#endif
#ifndef NOPS
#define NOPS    1               /* operations per holder */
#endif
#define WAITER  NUSERS          /* thread ids: users 0..NUSERS-1, then these */
#define KILLER  (NUSERS + 1)
#define NTHR    (NUSERS + 2)

#define UNITS(e)  (1 << (e))    /* extent e has order e: 2^order live units */

/* folio word (lib/core/folio.c: count in bits 0..23, then order, CLAIMING,
 * FREEING, WAITERS; the order bits are constant per extent here) */
#define F_COUNT     15
#define F_CLAIMING  16
#define F_FREEING   32
#define F_WAITERS   64

/* LIVE_BIAS: any value larger than the most units that can be in flight */
#ifdef BUG_NO_BIAS
#define BIAS 0
#else
#define BIAS 16
#endif

/* return codes */
#define OK      0
#define ENXIO   1
#define EBUSY   2
#define EAGAIN  3
#define ENOENT  4

/* futex ids: 1 + e for folio word e, DRAINED_ID for pgmap->drained */
#define DRAINED_ID 9

byte word[NE];                  /* the folio state words */
bit  dying;                     /* pgmap->dying */
bit  in_sec[NUSERS];            /* live_shard.in_sec, per thread */
short shard[NUSERS];            /* live_shard.live, per thread */
short central = BIAS + 1;       /* pgmap->central: bias + initial unit */
byte drained;                   /* pgmap->drained futex word */
byte sleep_on[NTHR];            /* futex: which word each thread sleeps on */

/* ghost state, for the properties only */
bit  kill_done;                 /* kill has folded: it returns after this */
bit  released;                  /* pgmap_release() has unmapped the device */
byte drained_events;
byte reqs[NE];                  /* successful 0 -> 1 (requests) */
byte frees[NE];                 /* page_free calls */
byte calls;                     /* threads inside a get/request/wait call */

/* ---- futex --------------------------------------------------------------- */

/* Sleep while word == val: check and sleep are one step w.r.t. wake_all,
 * as the kernel guarantees; a spurious return is never needed. */
inline futex_wait(wordexpr, val, id, me)
{
	atomic {
		if
		:: (wordexpr) == (val) ->
			sleep_on[me] = id;
#ifdef WITNESS
			assert(!(WITNESS == 1 && me == WAITER));
			assert(!(WITNESS == 2 && me < NUSERS));
			assert(!(WITNESS == 4 && me == KILLER));
#endif
			(sleep_on[me] == 0)     /* blocks: atomicity ends here */
		:: else -> skip
		fi
	}
}

inline wake_all(id)
{
	d_step {
		for (i : 0 .. NTHR - 1) {
			if
			:: sleep_on[i] == id -> sleep_on[i] = 0
			:: else -> skip
			fi
		}
		i = 0
	}
}

/* ---- the live reference (lib/core/pgmap.c) ------------------------------- */

/* live_put_central() and fire_drained(): the RMW that reaches 0 is unique */
inline live_put_central(nr)
{
	d_step {
		central = central - (nr);
		v = central;
		assert(v >= 0)          /* "dropped below zero": abort() */
	}
	if
	:: v == 0 ->
		/* fire_drained(); invariant 7: once, after kill, all idle */
		d_step {
			drained_events++;
			assert(drained_events == 1);
			assert(kill_done);
			assert(word[0] == 0 && word[1] == 0)
		}
		drained = 1;
		wake_all(DRAINED_ID);
		drained = 2             /* last access: release may proceed */
	:: else -> skip
	fi;
	v = 0
}

/* pgmap_tryget_live(): live_enter, shard += nr, live_exit */
inline tryget_live(me, nr, res)
{
	in_sec[me] = 1;                 /* store in_sec ... */
	if
	:: dying ->                     /* ... then load dying (Dekker) */
		in_sec[me] = 0;
		res = 0
	:: else ->
		/* shard_add + live_exit as one step: the shard is private to
		 * its thread, and the killer reads it only once in_sec is 0 */
		d_step { shard[me] = shard[me] + (nr); in_sec[me] = 0; res = 1 }
	fi
}

/* pgmap_put_live(): to the shard while live, to central once dying */
inline put_live(me, nr)
{
	in_sec[me] = 1;
	if
	:: dying ->
		in_sec[me] = 0;
		live_put_central(nr)
	:: else ->
		d_step { shard[me] = shard[me] - (nr); in_sec[me] = 0 }
	fi
}

/* ---- folios (lib/core/folio.c) ------------------------------------------- */

/* tryget_live_folio(): increment unless 0, inside a live section (R3) */
inline tryget_live_folio(me, e, ret)
{
	in_sec[me] = 1;
	if
	:: dying ->
		in_sec[me] = 0;
		ret = ENXIO
	:: else ->
		atomic {
			w = word[e];
			if
			:: (w & F_COUNT) == 0 ->
				if
				:: (w & (F_CLAIMING | F_FREEING)) != 0 -> ret = EAGAIN
				:: else -> ret = ENOENT
				fi
			:: else ->
				/* (a): inside a section that saw "alive", so kill
				 * cannot have folded yet */
				assert(!kill_done);
				assert(!released);
				word[e] = w + 1;
				ret = OK
			fi;
			/* live_exit in the same step: only the killer reads
			 * in_sec, and it is blocked until this store */
			in_sec[me] = 0;
			w = 0
		}
	fi
}

/* folio_activate(): the body of pgmap_request_folio() (R2) */
inline folio_activate(me, e, ret, head_busy)
{
	head_busy = 0;
	tryget_live(me, UNITS(e), ok);
	if
	:: !ok -> ret = ENXIO
	:: else ->
		atomic {        /* CAS 0 -> CLAIMING|order */
			if
			:: word[e] == 0 -> word[e] = F_CLAIMING; ok = 1
			:: else -> ok = 0
			fi
		}
		if
		:: !ok ->
			/* not idle: give the units back directly, no free path
			 * (invariant 4: nothing else changes) */
			put_live(me, UNITS(e));
			head_busy = 1;
			ret = EBUSY
		:: else ->
			/* overlap check and owner write: nothing to model;
			 * publish count 1 (a plain release store: nobody else
			 * writes a CLAIMING word) */
			d_step {
				assert(!released);
#ifdef WITNESS
				/* allowed: its units were taken while live, so
				 * drain waits for it */
				assert(!(WITNESS == 3 && kill_done));
#endif
				reqs[e]++;
				word[e] = 1
			}
			ret = OK
		fi
	fi;
	ok = 0
}

/* pgmap_get_folio(): try_get, else request, retrying (never a spurious
 * -EBUSY); sleeps on a FREEING word, yields on a CLAIMING one */
inline get_folio(me, e, ret)
{
	do
	:: tryget_live_folio(me, e, ret);
		if
		:: ret == OK -> break
		:: ret == EAGAIN -> wait_transient(me, e)
		:: ret == ENOENT ->
			folio_activate(me, e, ret, hb);
			if
			:: ret == EBUSY && hb -> skip   /* someone else won: retry */
			:: else -> break
			fi
		:: else -> break                        /* ENXIO */
		fi
	od;
	hb = 0
}

/* wait_transient(): sleep until a FREEING word changes; yield if CLAIMING */
inline wait_transient(me, e)
{
	w = word[e];
	if
	:: (w & F_CLAIMING) != 0 -> (word[e] != w)      /* sched_yield() */
	:: (w & (F_CLAIMING | F_FREEING)) == 0 -> skip  /* changed: retry */
	:: (w & F_FREEING) != 0 ->
		if
		:: (w & F_WAITERS) != 0 -> ok = 1
		:: else ->
			atomic {
				if
				:: word[e] == w -> word[e] = w | F_WAITERS; ok = 1
				:: else -> ok = 0       /* changed: re-check */
				fi
			}
		fi;
		if
		:: ok -> futex_wait(word[e], w | F_WAITERS, 1 + e, me)
		:: else -> skip
		fi
	fi;
	w = 0; ok = 0
}

/* folio_free(): the 1 -> 0 path, after 1 -> FREEING (R4) */
inline folio_free(me, e)
{
	/* page_free() (counted in folio_put's FREEING step: it only touches
	 * ghost state here) and the owner reset: nothing more to model */
#ifdef BUG_UNITS_FIRST
	put_live(me, UNITS(e));
#endif
#ifdef BUG_WAKE_BEFORE_STORE
	w = word[e];
	if
	:: (w & F_WAITERS) != 0 -> wake_all(1 + e)
	:: else -> skip
	fi;
	d_step { assert(!released); word[e] = 0 }
#else
	/* publish idle; the exchange collects WAITERS set while FREEING */
	d_step { assert(!released); w = word[e]; word[e] = 0 }
	if
	:: (w & F_WAITERS) != 0 -> wake_all(1 + e)
	:: else -> skip
	fi;
#endif
	w = 0;
#ifndef BUG_UNITS_FIRST
	/* last: after this the pgmap may be drained and released */
	put_live(me, UNITS(e));
#endif
}

/* folio_put(): drop one; 1 -> FREEING -> page_free -> 0 -> units */
inline folio_put(me, e)
{
	atomic {
		w = word[e];
		assert((w & F_COUNT) != 0);     /* (f) a put at 0 aborts */
		assert(!released);
		if
		:: (w & F_COUNT) == 1 ->
			word[e] = (w & F_WAITERS) | F_FREEING;
			/* page_free: exactly once per successful request (b) */
			assert(frees[e] + 1 == reqs[e]);
			frees[e]++;
			ok = 1
		:: else ->
			word[e] = w - 1;
			ok = 0
		fi
		w = 0
	}
	if
	:: ok -> ok = 0; folio_free(me, e)
	:: else -> skip
	fi
}

/* pgmap_wait_idle(pgoff, -1, NULL): sleep until the extent is idle */
inline wait_idle(me, e)
{
	do
	:: w = word[e];
		if
		:: w == 0 -> break
		:: (w & F_CLAIMING) != 0 -> (word[e] != w)  /* sched_yield() */
		:: else ->
			if
			:: (w & F_WAITERS) != 0 -> ok = 1
			:: else ->
				atomic {
					if
					:: word[e] == w -> word[e] = w | F_WAITERS; ok = 1
					:: else -> ok = 0
					fi
				}
			fi;
			if
			:: ok -> futex_wait(word[e], w | F_WAITERS, 1 + e, me)
			:: else -> skip
			fi
		fi
	od;
	w = 0; ok = 0
}

/* ---- threads ------------------------------------------------------------- */

/* The caller contract of pgmap_release(): no call starts once released. */
inline enter_call(go)
{
	atomic {
		if
		:: !released -> calls++; go = 1
		:: else -> go = 0
		fi
	}
}

/* A holder: an I/O (pgmap_get_folio) or a raw request (pgmap_request_folio,
 * which may say -EBUSY), then device access, then folio_put. */
proctype user(byte me)
{
	byte e, w, ret, n, i;
	short v;
	bit ok, hb, go, after_kill;

	do
	:: n < NOPS ->
		atomic {
			if
			:: e = 0
			:: e = 1
			fi;
			enter_call(go);
			after_kill = kill_done
		}
		if
		:: go ->
			/* pgmap_get_folio() (its first try is folio_try_get())
			 * or a bare pgmap_request_folio() */
			if
			:: get_folio(me, e, ret)
			:: folio_activate(me, e, ret, hb)
			fi;
			calls--;
			if
			:: ret == OK ->
				/* (a) nothing that starts after kill returns gets
				 * a reference */
				assert(!after_kill);
				/* the holder touches device memory: (e) */
				assert(!released && (word[e] & F_COUNT) != 0);
				folio_put(me, e)
			:: else -> skip
			fi
		:: else -> skip
		fi;
		d_step { n++; e = 0; ret = 0; hb = 0; go = 0; after_kill = 0 }
	:: else -> break
	od
}

/* A truncate waiting for an extent of its range to go idle. It waits on e0
 * only: the extents differ in their live units, which a waiter never
 * touches, and the holders pick either extent. */
proctype waiter()
{
	byte e, w, i;
	bit ok, go;

	e = 0;
	enter_call(go);
	if
	:: go -> wait_idle(WAITER, e); calls--
	:: else -> skip
	fi
}

/* Teardown: kill, drain (forever), release */
proctype killer()
{
	byte i;
	short v, sum;

	/* pgmap_kill() */
	if
	:: dying -> skip                /* idempotent (only one killer here) */
	:: else ->
		dying = 1;
		/* membarrier(): a no-op under sequential consistency */
#ifndef BUG_NO_GRACE
		/* grace period: wait out every section that may have seen
		 * "alive" (wait_section_clear, shard by shard) */
		do
		:: i < NUSERS -> (in_sec[i] == 0); i++
		:: else -> i = 0; break
		od;
#endif
		/* fold the shards into the atomic count, remove the bias */
		atomic {
			sum = 0;
			for (i : 0 .. NUSERS - 1) {
				sum = sum + shard[i];
				shard[i] = 0
			}
			i = 0;
			central = central + sum - BIAS;
			sum = 0;
			kill_done = 1
		}
		/* drop the initial unit (outside kill_lock) */
		live_put_central(1)
	fi;

	/* pgmap_drain(-1): sleep on the drained word until it is non-zero */
	do
	:: drained != 0 -> break
	:: else -> futex_wait(drained, 0, DRAINED_ID, KILLER)
	od;

	/* pgmap_release(): only drained; wait for the firing thread's last
	 * store; the caller guarantees no call is running or starts */
	atomic {
		(drained == 2 && calls == 0);
		assert(central == 0);
		assert(word[0] == 0 && word[1] == 0);
		assert(reqs[0] == frees[0] && reqs[1] == frees[1]);
		assert(drained_events == 1);
		released = 1
	}
}

init {
	byte k;
	atomic {
		for (k : 0 .. NUSERS - 1) {
			run user(k)
		}
		run waiter();
		run killer()
	}
}

/* (c) drain terminates: with weak fairness, every run releases the device */
ltl drains { <> released }
