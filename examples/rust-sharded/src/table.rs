//! The design: `shards` mutexes, each around a std `HashMap` from tuple to
//! connection. A connection is an `Arc<Conn>` that both of its tuples map
//! to, each in the shard it hashes to (under NAT the reply tuple is not the
//! original reversed, so the two usually sit in different shards).
//!
//! Lock order, as the harness ranks it: shard locks (class bucket, index =
//! shard) in ascending index, then a connection's own lock. A thread holds
//! two shards only to insert or remove a connection, and takes them in
//! ascending order from nothing held (`lock_pair`); so a removal found while
//! a shard is held lets it go first (`remove_if`), and nothing is ever
//! deferred for lock order.
//!
//! Sweep slots: a shard's connections (by original tuple) are also split
//! into `slots-per-shard` sweep lists by hash, and sweep slot
//! `shard * slots_per_shard + list` is one list. A HashMap cannot be walked
//! a range at a time; the lists let a reaper pass walk a small, fixed part
//! of the table, as the seed's schedule expects (it walks slots/128).

use crate::abi::*;
use crate::lock::{site, Ctx, Locked, Site};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

/// A connection. Freed by its `Arc`: a thread that still holds a clone
/// after another removed it (a pass between its walk and its removal) keeps
/// it alive, so no quiescent-state reclamation is needed.
pub struct Conn {
    original: CtbTuple,
    reply: CtbTuple,
    nat: bool,
    /// The shards of the original and reply tuples.
    shard: [usize; 2],
    /// Its sweep list, in the original tuple's shard.
    list: usize,
    /// Its index in that list. Protected by the original shard's lock; an
    /// atomic only because `Conn` is shared, and std has no cell guarded by
    /// another object's lock.
    pos: AtomicUsize,
    /// The connection lock: packets of the two directions hold different
    /// shard locks, and meet here.
    state: Mutex<ConnState>,
}

#[derive(Clone, Copy)]
struct ConnState {
    tracker: CtbTrackerState,
    last_used: i64,
}

struct Shard {
    /// Both tuples of every connection whose tuple hashes here (a LAND
    /// connection, whose two tuples are equal, has one entry).
    map: HashMap<CtbTuple, Arc<Conn>>,
    /// The connections whose original tuple hashes here, by sweep list.
    sweep: Vec<Vec<Arc<Conn>>>,
    /// Acquisitions of this shard's lock whose first try failed.
    contention: u64,
}

pub struct Table {
    /// Valid until `destroy` (the header), which drops the table.
    host: &'static CtbHost,
    seed: u32,
    shards: Box<[Mutex<Shard>]>,
    shard_bits: u32,
    per_shard: usize,
    /// `--max-connections` (0: no limit) and the slots early drop searches.
    max_conns: i64,
    early_drop_slots: usize,
    /// With a limit: live connections plus inserts in flight, and the most at
    /// once (without one nothing counts: a shared counter costs every insert).
    live: AtomicI64,
    peak: AtomicI64,
}

// Workers and the reaper share the table: checked when this compiles (in
// C it is a comment).
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Table>();
};

/// Heap bytes per connection, for the harness's estimate: the `Arc`'s block
/// (two counts and `Conn`), two map entries at hashbrown's 7/8 load with a
/// control byte each, and a sweep list's pointer.
pub const BYTES_PER_CONNECTION: usize =
    16 + size_of::<Conn>() + 2 * (size_of::<(CtbTuple, Arc<Conn>)>() + 1) * 8 / 7 + size_of::<Arc<Conn>>();

/// The two shards of a connection, locked in ascending order (once when
/// they are the same shard): the order the rank checker expects.
struct Pair<'t> {
    lo: (usize, Locked<'t, Shard>),
    hi: Option<(usize, Locked<'t, Shard>)>,
}

impl Pair<'_> {
    fn get(&self, i: usize) -> &Shard {
        match &self.hi {
            Some((j, s)) if *j == i => s,
            _ => &self.lo.1,
        }
    }

    fn get_mut(&mut self, i: usize) -> &mut Shard {
        match &mut self.hi {
            Some((j, s)) if *j == i => s,
            _ => &mut self.lo.1,
        }
    }
}

fn record(c: &Conn, st: &ConnState) -> CtbRecord {
    CtbRecord {
        original: c.original,
        reply: c.reply,
        tracker: st.tracker,
        last_used: st.last_used,
        nat: c.nat as u8,
        reserved: [0; 7],
    }
}

/// The packet being processed: its index in the batch (events name it),
/// its now, and the call's context.
#[derive(Clone, Copy)]
pub struct Pkt<'a> {
    pub p: &'a CtbPacket,
    pub now: i64,
    pub i: u32,
    pub ctx: Ctx,
}

impl Table {
    /// `shards` a power of two, `per_shard` >= 1 (checked by `create`).
    pub fn new(host: &'static CtbHost, shards: usize, per_shard: usize, cfg: &CtbConfig) -> Table {
        // Sized for the run's expected connections (two tuples each), so a
        // shard does not rehash, under its lock, in the middle of a run.
        let per_map = (2 * cfg.expected_connections as usize + shards - 1) / shards;
        let make = || Shard { map: HashMap::with_capacity(per_map), sweep: vec![Vec::new(); per_shard], contention: 0 };
        Table {
            host,
            seed: host.hash_seed,
            shards: (0..shards).map(|_| Mutex::new(make())).collect(),
            shard_bits: shards.trailing_zeros(),
            per_shard,
            max_conns: cfg.max_connections as i64,
            early_drop_slots: cfg.early_drop_buckets as usize,
            live: AtomicI64::new(0),
            peak: AtomicI64::new(0),
        }
    }

    pub fn host(&self) -> &'static CtbHost {
        self.host
    }

    pub fn sweep_slots(&self) -> u64 {
        (self.shards.len() * self.per_shard) as u64
    }

    /// A tuple's shard and sweep list: std's SipHash keyed with the run's
    /// seed (so `--hash-seed` applies), its low bits the shard and the rest
    /// the list. The maps hash with keys of their own (std's `RandomState`):
    /// the same hash would give every key of a shard the same low bits.
    fn place(&self, t: &CtbTuple) -> (usize, usize) {
        let mut hasher = DefaultHasher::new();
        hasher.write_u32(self.seed);
        t.hash(&mut hasher);
        let h = hasher.finish() as usize;
        (h & (self.shards.len() - 1), (h >> self.shard_bits) % self.per_shard)
    }

    /// A connection, not yet in the table.
    fn conn(&self, original: CtbTuple, reply: CtbTuple, nat: u8, state: ConnState) -> Conn {
        let ((a, list), b) = (self.place(&original), self.place(&reply).0);
        let pos = AtomicUsize::new(0);
        Conn { original, reply, nat: nat != 0, shard: [a, b], list, pos, state: Mutex::new(state) }
    }

    fn lock_shard(&self, i: usize, ctx: Ctx, at: Site) -> Locked<'_, Shard> {
        let mut s = ctx.lock(&self.shards[i], CTB_LOCK_BUCKET, i as u64, at);
        if s.contended {
            s.contention += 1;
        }
        s
    }

    /// Preconditions: no shard is held (so ascending order holds).
    fn lock_pair(&self, a: usize, b: usize, ctx: Ctx, at: Site) -> Pair<'_> {
        let (lo, hi) = (a.min(b), a.max(b));
        let first = self.lock_shard(lo, ctx, at);
        Pair { lo: (lo, first), hi: (hi != lo).then(|| (hi, self.lock_shard(hi, ctx, at))) }
    }

    fn lock_conn<'c>(&self, c: &'c Conn, ctx: Ctx, at: Site) -> Locked<'c, ConnState> {
        ctx.lock(&c.state, CTB_LOCK_CONNECTION, 0, at)
    }

    /// Nanoseconds until `c` times out; negative once expired (`now -
    /// last_used > timeout`, strictly: at exactly the timeout it is alive).
    fn remaining(&self, c: &Conn, st: &ConnState, now: i64) -> i64 {
        let timeout = unsafe { (self.host.tracker_timeout)(self.host, &st.tracker, c.original.trans_proto) };
        st.last_used.wrapping_add(timeout).wrapping_sub(now)
    }

    fn established(&self, st: &ConnState) -> bool {
        unsafe { (self.host.tracker_established)(self.host, &st.tracker) != 0 }
    }

    fn limited(&self) -> bool {
        self.max_conns > 0
    }

    /// Both shards held: puts `c`'s tuples in their maps and `c` at the end
    /// of its sweep list.
    fn link(&self, pair: &mut Pair, c: &Arc<Conn>) {
        let home = pair.get_mut(c.shard[0]);
        home.map.insert(c.original, c.clone());
        let list = &mut home.sweep[c.list];
        c.pos.store(list.len(), Relaxed);
        list.push(c.clone());
        if c.reply != c.original {
            pair.get_mut(c.shard[1]).map.insert(c.reply, c.clone());
        }
    }

    /// Both shards held: takes `c` out (its list's last entry fills its place).
    fn unlink(&self, pair: &mut Pair, c: &Conn) {
        let home = pair.get_mut(c.shard[0]);
        home.map.remove(&c.original);
        let list = &mut home.sweep[c.list];
        let pos = c.pos.load(Relaxed);
        list.swap_remove(pos);
        if let Some(moved) = list.get(pos) {
            moved.pos.store(pos, Relaxed);
        }
        pair.get_mut(c.shard[1]).map.remove(&c.reply); // a LAND connection's: already gone
        if self.limited() {
            self.live.fetch_sub(1, Relaxed);
        }
    }

    /// Removes `c` if it is still in the table and `doomed` holds of its
    /// state, with both its shards and then its lock held. Called with no
    /// lock held; `why` (reason, packet) goes to the DESTROY event.
    fn remove_if(
        &self, c: &Arc<Conn>, doomed: impl Fn(&ConnState) -> bool, why: (u32, u32), ctx: Ctx, at: Site,
    ) -> bool {
        let mut pair = self.lock_pair(c.shard[0], c.shard[1], ctx, at);
        // While no shard was held, another thread may have removed it, and
        // a new connection may hold its tuple: compare identities.
        match pair.get(c.shard[0]).map.get(&c.original) {
            Some(x) if Arc::ptr_eq(x, c) => {}
            _ => return false,
        }
        let st = self.lock_conn(c, ctx, site!());
        if !doomed(&st) {
            return false;
        }
        let r = record(c, &st);
        drop(st);
        self.unlink(&mut pair, c);
        ctx.event(CTB_EVENT_DESTROY, why.1, &r, why.0);
        true
    }

    fn remove_expired(&self, c: &Arc<Conn>, now: i64, why: (u32, u32), ctx: Ctx, at: Site) -> bool {
        self.remove_if(c, |st| self.remaining(c, st, now) < 0, why, ctx, at)
    }

    /// One packet: lookup, else create.
    pub fn packet(&self, k: Pkt, o: &mut CtbOutcome) {
        o.tracker = CTB_TRACKER_NONE;
        if !self.lookup(k, o) {
            self.create(k, o);
        }
    }

    /// Finds `p`'s connection and tracks `p` with it; an expired one is
    /// removed (inline) and the packet goes on to create.
    fn lookup(&self, k: Pkt, o: &mut CtbOutcome) -> bool {
        o.lookups = 1;
        let shard = self.lock_shard(self.place(&k.p.id).0, k.ctx, site!());
        let found = match shard.map.get(&k.p.id) {
            Some(c) => c,
            None => return false, // walked 0: nothing compared
        };
        o.walked = 1;
        let st = self.lock_conn(found, k.ctx, site!());
        if self.remaining(found, &st, k.now) >= 0 {
            self.track(found, st, k, o);
            o.kind = CTB_OUT_FOUND;
            return true;
        }
        // Removing it needs both its shards in ascending order, and its
        // other tuple's may be below this one: let go, then take both.
        let c = found.clone();
        drop(st);
        drop(shard);
        if self.remove_expired(&c, k.now, (CTB_REMOVED_INLINE, k.i), k.ctx, site!()) {
            o.removed_inline += 1;
        }
        false
    }

    /// Refreshes `c` and feeds `p` to the harness's tracker under `c`'s
    /// lock (`st`): `last_used` is the plugin's to set, the tracker leaves
    /// it. While tracing, fills the verdict's fields and reports an UPDATE.
    fn track(&self, c: &Conn, mut st: Locked<ConnState>, k: Pkt, o: &mut CtbOutcome) {
        let (h, proto) = (self.host, c.original.trans_proto);
        let tracing = k.ctx.tracing() != 0;
        let before = if tracing { unsafe { (h.trace_state)(h, &st.tracker, proto) } } else { 0 };
        st.last_used = k.now;
        o.tracker = unsafe { (h.tracker_update)(h, &mut st.tracker, k.p) };
        if !tracing {
            return;
        }
        let after = unsafe { (h.trace_state)(h, &st.tracker, proto) };
        o.direction = if k.p.id != c.original { CTB_DIR_REPLY } else { 0 } | if c.nat { CTB_DIR_NAT } else { 0 };
        o.trace_state = after;
        if after != before {
            let r = record(c, &st);
            drop(st);
            k.ctx.event(CTB_EVENT_UPDATE, k.i, &r, 0);
        }
    }

    /// Inserts a connection for `p`, re-checking both tuples under both
    /// shard locks: another worker may have inserted either since the
    /// lookup, and an expired connection may still hold the reply tuple
    /// (it is removed, as the lookup would, and the check repeated).
    fn create(&self, k: Pkt, o: &mut CtbOutcome) {
        if !self.reserve(k, o) {
            o.kind = CTB_OUT_DROP_LIMIT;
            return;
        }
        let (p, ctx) = (k.p, k.ctx);
        let mut c =
            self.conn(p.id, p.reply, p.nat, ConnState { tracker: CtbTrackerState::default(), last_used: k.now });
        let (a, b) = (c.shard[0], c.shard[1]);
        let mut pair = loop {
            let pair = self.lock_pair(a, b, ctx, site!());
            let by_id = pair.get(a).map.get(&p.id);
            let other = match by_id.or_else(|| pair.get(b).map.get(&p.reply)) {
                Some(c) => c,
                None => break pair,
            };
            let st = self.lock_conn(other, ctx, site!());
            if self.remaining(other, &st, k.now) >= 0 {
                if by_id.is_some() {
                    self.track(other, st, k, o); // tracked with the connection found
                    o.kind = CTB_OUT_CLASH;
                } else {
                    o.kind = CTB_OUT_INSERT_FAILED; // the reply tuple is another live connection's
                }
                self.unreserve();
                return;
            }
            let other = other.clone();
            drop(st);
            drop(pair);
            if self.remove_expired(&other, k.now, (CTB_REMOVED_INLINE, k.i), ctx, site!()) {
                o.removed_inline += 1;
            }
        };
        // Not shared yet: `get_mut` reaches the state without locking (the
        // borrow checker proves no other thread can see it).
        let st = c.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        unsafe { (self.host.tracker_init)(self.host, &mut st.tracker, p) };
        let first = *st;
        let new = record(&c, &first);
        self.link(&mut pair, &Arc::new(c));
        if self.limited() {
            self.peak.fetch_max(self.live.load(Relaxed), Relaxed);
        }
        o.kind = CTB_OUT_CREATED;
        o.tracker = CTB_TRACKER_INIT;
        // NEW before the shards are let go: a pass could remove it (and
        // report DESTROY) as soon as they are.
        ctx.event(CTB_EVENT_NEW, k.i, &new, 0);
    }

    /// With a limit, takes a place before an insert, early-dropping while full.
    fn reserve(&self, k: Pkt, o: &mut CtbOutcome) -> bool {
        if !self.limited() {
            return true;
        }
        loop {
            let mut cur = self.live.load(Relaxed);
            while cur < self.max_conns {
                match self.live.compare_exchange_weak(cur, cur + 1, Relaxed, Relaxed) {
                    Ok(_) => return true,
                    Err(seen) => cur = seen,
                }
            }
            if !self.early_drop(k, o) {
                return false;
            }
        }
    }

    fn unreserve(&self) {
        if self.limited() {
            self.live.fetch_sub(1, Relaxed);
        }
    }

    /// Linux's early drop: removes a connection not yet established from
    /// the packet's sweep slot or the next few.
    fn early_drop(&self, k: Pkt, o: &mut CtbOutcome) -> bool {
        let (s, list) = self.place(&k.p.id);
        let n = self.sweep_slots() as usize;
        for step in 0..self.early_drop_slots.min(n) {
            let slot = (s * self.per_shard + list + step) % n;
            let (s, list) = (slot / self.per_shard, slot % self.per_shard);
            let victim = {
                let shard = self.lock_shard(s, k.ctx, site!());
                shard.sweep[list].iter().find(|c| !self.established(&self.lock_conn(c, k.ctx, site!()))).cloned()
            };
            if let Some(c) = victim {
                if self.remove_if(&c, |st| !self.established(st), (CTB_REMOVED_EARLY_DROP, k.i), k.ctx, site!()) {
                    o.early_dropped += 1;
                    return true;
                }
            }
        }
        false
    }

    /// One reaper pass over sweep slots `start..start+max_slots` (wrapping).
    /// Counts connections (one entry per connection in the sweep lists).
    pub fn reap_pass(&self, a: &CtbPassArgs, ctx: Ctx) -> CtbPassResult {
        let n = self.sweep_slots();
        let mut r = CtbPassResult::default();
        let (mut sum, mut slot) = (0i128, a.start % n);
        let mut doomed = Vec::new();
        while r.slots_scanned < a.max_slots {
            slot = a.start.wrapping_add(r.slots_scanned) % n;
            let (s, list) = (slot as usize / self.per_shard, slot as usize % self.per_shard);
            {
                let shard = self.lock_shard(s, ctx, site!());
                for c in &shard.sweep[list] {
                    r.checked += 1;
                    let left = self.remaining(c, &self.lock_conn(c, ctx, site!()), a.now);
                    if left >= 0 {
                        r.live_checked += 1;
                        sum += left as i128;
                    } else {
                        r.expired += 1;
                        doomed.push(c.clone());
                    }
                }
            }
            // Removal takes the connection's two shards in ascending order:
            // only once this one is let go.
            for c in doomed.drain(..) {
                if self.remove_expired(&c, a.now, (CTB_REMOVED_REAPER, CTB_NO_PACKET), ctx, site!()) {
                    r.removed += 1;
                }
            }
            r.slots_scanned += 1;
            if r.removed >= a.max_evictions {
                r.stopped_early = (r.slots_scanned < a.max_slots) as u32;
                break;
            }
        }
        r.next_start = if r.slots_scanned == 0 { a.start } else { slot + 1 };
        r.remaining_lo = sum as u64;
        r.remaining_hi = (sum >> 64) as i64;
        r
    }

    /// Every connection, shard by shard and list by list: importing in this
    /// order rebuilds every sweep list as it was (a HashMap has no order to
    /// keep). Each shard's records go to `body` once its lock is let go.
    pub fn export(&self, ctx: Ctx, mut body: impl FnMut(&CtbRecord)) {
        let mut batch = Vec::new();
        for s in 0..self.shards.len() {
            {
                let shard = self.lock_shard(s, ctx, site!());
                batch.extend(shard.sweep.iter().flatten().map(|c| record(c, &self.lock_conn(c, ctx, site!()))));
            }
            batch.drain(..).for_each(|r| body(&r));
        }
    }

    /// Into an empty table.
    pub fn import(&self, records: &[CtbRecord], ctx: Ctx) -> Result<(), String> {
        if self.limited() && records.len() as i64 > self.max_conns {
            return Err(format!("more connections ({}) than --max-connections {}", records.len(), self.max_conns));
        }
        for r in records {
            let c = self.conn(r.original, r.reply, r.nat, ConnState { tracker: r.tracker, last_used: r.last_used });
            self.link(&mut self.lock_pair(c.shard[0], c.shard[1], ctx, site!()), &Arc::new(c));
        }
        if self.limited() {
            self.live.store(records.len() as i64, Relaxed);
            self.peak.fetch_max(records.len() as i64, Relaxed);
        }
        Ok(())
    }

    /// Every shard's lock, in order, without the hooks: `inspect` and
    /// `check_invariants` get no `ctb_ctx` and run while
    /// nothing else does (the contract), so these locks are never contended.
    fn lock_all(&self) -> Vec<std::sync::MutexGuard<'_, Shard>> {
        self.shards.iter().map(|m| m.lock().unwrap_or_else(PoisonError::into_inner)).collect()
    }

    /// Per shard (the lock stripes, not the sweep slots): tuples held, with
    /// a LAND connection's one entry counted twice, and contention.
    pub fn inspect(&self, out: &mut [CtbSlotInfo]) -> u64 {
        for (s, o) in self.lock_all().iter().zip(out.iter_mut()) {
            let land = s.sweep.iter().flatten().filter(|c| c.original == c.reply).count();
            *o = CtbSlotInfo { length: (s.map.len() + land) as u64, contended: s.contention };
        }
        self.shards.len() as u64
    }

    /// Every map entry in the shard its tuple hashes to and naming a
    /// connection with that tuple; every listed connection where it says it
    /// is and found by both its tuples; the counts agree.
    pub fn check(&self) -> Vec<String> {
        let shards = self.lock_all();
        let (mut bad, mut conns, mut entries, mut land) = (Vec::new(), 0, 0, 0);
        for (i, s) in shards.iter().enumerate() {
            entries += s.map.len();
            for (k, c) in &s.map {
                if *k != c.original && *k != c.reply {
                    bad.push(format!("shard {i}: a key maps to a connection without that tuple"));
                }
                if self.place(k).0 != i {
                    bad.push(format!("shard {i}: holds a tuple hashing to shard {}", self.place(k).0));
                }
            }
            for (l, list) in s.sweep.iter().enumerate() {
                for (j, c) in list.iter().enumerate() {
                    conns += 1;
                    land += (c.original == c.reply) as usize;
                    if (c.shard[0], c.list, c.pos.load(Relaxed)) != (i, l, j) {
                        bad.push(format!("shard {i} list {l} entry {j}: the connection says it is elsewhere"));
                    }
                    for (t, at) in [(&c.original, c.shard[0]), (&c.reply, c.shard[1])] {
                        if !shards[at].map.get(t).map_or(false, |x| Arc::ptr_eq(x, c)) {
                            bad.push(format!("shard {i} list {l} entry {j}: a tuple is not found in shard {at}"));
                        }
                    }
                }
            }
        }
        if entries + land != 2 * conns {
            bad.push(format!("{entries} map entries for {conns} connections ({land} with one tuple)"));
        }
        if self.limited() && self.live.load(Relaxed) != conns as i64 {
            bad.push(format!("live counter {} but {conns} connections", self.live.load(Relaxed)));
        }
        bad
    }

    /// With a limit; -1 (not tracked) without.
    pub fn peak(&self) -> i64 {
        if self.limited() {
            self.peak.load(Relaxed)
        } else {
            -1
        }
    }
}
