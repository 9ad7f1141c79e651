//! A `#[repr(C)]` mirror of `Sources/CTBDesignABI/include/conntrack_bench_design.h`
//! (ABI version 2), written by hand: the header is small and its sizes are
//! fixed, so the `const` assertions at the end catch a mirror that drifts.
//! (`bindgen` would generate the same; it is a crate, and this example uses none.)
//! Names follow the header's, in Rust's case: `struct ctb_tuple` is `CtbTuple`.
//! Every structure is mirrored whole; of the constants, the ones used here.
#![allow(dead_code)] // fields the plugin does not read

use std::hash::{Hash, Hasher};
use std::mem::{align_of, size_of};
use std::os::raw::{c_char, c_int, c_void};

pub const CTB_ABI_VERSION: u32 = 2;

/// A connection in one direction. 40 bytes.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CtbTuple {
    pub src_hi: u64,
    pub src_lo: u64,
    pub dst_hi: u64,
    pub dst_lo: u64,
    pub src_port: u16,
    pub dst_port: u16,
    pub trans_proto: u8,
    pub reserved: u8,
    pub net_proto: u16,
}

// `ctb_tuple_equal` compares every field but `reserved`; Hash must agree
// with Eq, so both use `key`. This is what makes the tuple a HashMap key.
impl CtbTuple {
    fn key(&self) -> ([u64; 4], [u16; 2], u8, u16) {
        (
            [self.src_hi, self.src_lo, self.dst_hi, self.dst_lo],
            [self.src_port, self.dst_port],
            self.trans_proto,
            self.net_proto,
        )
    }
}
impl PartialEq for CtbTuple {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for CtbTuple {}
impl Hash for CtbTuple {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

/// The TCP fields a tracker reads. 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CtbTcp {
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub payload_length: u16,
    pub flags: u8,
    pub reserved: [u8; 3],
}

/// One packet as the table sees it. 112 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CtbPacket {
    pub id: CtbTuple,
    /// The reply tuple of a connection this packet creates (NAT: the redirect's).
    pub reply: CtbTuple,
    pub tcp: CtbTcp,
    pub timestamp: i64,
    pub hook: u8,
    pub nat: u8,
    pub reserved: [u8; 6],
}

/// The harness's opaque per-connection tracker state: copy it, never read it.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default)]
pub struct CtbTrackerState {
    pub opaque: [u64; 6],
}

pub const CTB_TRACKER_INIT: u8 = 0xFE;
pub const CTB_TRACKER_NONE: u8 = 0xFF;

/// The harness's per-thread context for one call (see `lock.rs`).
#[repr(C)]
pub struct CtbCtx {
    pub check_order: u32,
    pub tracing: u32,
    pub uncontended: [u64; 3],
    pub harness: *mut c_void,
}

pub const CTB_TRACE_EVENTS: u32 = 2;

pub const CTB_EVENT_NEW: u32 = 1;
pub const CTB_EVENT_UPDATE: u32 = 2;
pub const CTB_EVENT_DESTROY: u32 = 3;

pub const CTB_REMOVED_INLINE: u32 = 1;
pub const CTB_REMOVED_REAPER: u32 = 2;
pub const CTB_REMOVED_EARLY_DROP: u32 = 3;

pub const CTB_NO_PACKET: u32 = 0xFFFF_FFFF;

pub const CTB_LOCK_TABLE: u32 = 1;
pub const CTB_LOCK_BUCKET: u32 = 2;
pub const CTB_LOCK_CONNECTION: u32 = 3;

/// The services the harness passes to `create`. The header promises the
/// function pointers are never NULL, so they are plain `fn` types, not `Option`.
#[repr(C)]
pub struct CtbHost {
    pub abi_version: u32,
    pub has_hash_seed: u32,
    pub hash_seed: u32,
    pub reserved: u32,
    pub harness: *mut c_void,
    pub will_acquire: unsafe extern "C" fn(*mut CtbCtx, u32, u64, *const c_char, u32),
    pub will_wait: unsafe extern "C" fn(*mut CtbCtx, u32, u64),
    pub acquired: unsafe extern "C" fn(*mut CtbCtx, u32, u64, c_int, u64),
    pub released: unsafe extern "C" fn(*mut CtbCtx, u32, u64),
    pub tracker_init: unsafe extern "C" fn(*const CtbHost, *mut CtbTrackerState, *const CtbPacket),
    pub tracker_update: unsafe extern "C" fn(*const CtbHost, *mut CtbTrackerState, *const CtbPacket) -> u8,
    pub tracker_timeout: unsafe extern "C" fn(*const CtbHost, *const CtbTrackerState, u8) -> i64,
    pub tracker_established: unsafe extern "C" fn(*const CtbHost, *const CtbTrackerState) -> c_int,
    pub hash: unsafe extern "C" fn(*const CtbTuple, u32) -> u32,
    pub trace_state: unsafe extern "C" fn(*const CtbHost, *const CtbTrackerState, u8) -> u32,
    pub trace_event: unsafe extern "C" fn(*const CtbHost, *mut CtbCtx, u32, u32, *const CtbRecord, u32),
}

pub const CTB_OUT_FOUND: u8 = 1;
pub const CTB_OUT_CREATED: u8 = 2;
pub const CTB_OUT_CLASH: u8 = 3;
pub const CTB_OUT_INSERT_FAILED: u8 = 4;
pub const CTB_OUT_DROP_LIMIT: u8 = 5;

/// One packet's outcome. 24 bytes; the harness zeroes it before the call.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CtbOutcome {
    pub kind: u8,
    pub tracker: u8,
    pub lookups: u8,
    pub direction: u8,
    pub walked: u32,
    pub removed_inline: u32,
    pub early_dropped: u32,
    pub deferred: u32,
    pub trace_state: u32,
}

pub const CTB_DIR_REPLY: u8 = 1;
pub const CTB_DIR_NAT: u8 = 2;
pub const CTB_BATCH_PACKET_TIME: u32 = 1;

#[repr(C)]
pub struct CtbBatch {
    pub packets: *const CtbPacket,
    pub outcomes: *mut CtbOutcome,
    pub count: u32,
    pub flags: u32,
    pub now: i64,
}

#[repr(C)]
pub struct CtbCounters {
    pub search_restart: u64,
    pub reserved: [u64; 7],
}

#[repr(C)]
pub struct CtbPassArgs {
    pub start: u64,
    pub max_slots: u64,
    pub max_evictions: u64,
    pub now: i64,
}

#[repr(C)]
#[derive(Default)]
pub struct CtbPassResult {
    pub next_start: u64,
    pub slots_scanned: u64,
    pub checked: u64,
    pub expired: u64,
    pub removed: u64,
    pub deferred: u64,
    pub live_checked: u64,
    pub remaining_lo: u64,
    pub remaining_hi: i64,
    pub stopped_early: u32,
    pub reserved: u32,
}

/// One connection as plain data (export, import, events).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CtbRecord {
    pub original: CtbTuple,
    pub reply: CtbTuple,
    pub tracker: CtbTrackerState,
    pub last_used: i64,
    pub nat: u8,
    pub reserved: [u8; 7],
}

#[repr(C)]
pub struct CtbKnob {
    pub name: *const c_char,
    pub summary: *const c_char,
    pub min: i64,
    pub max: i64,
    pub default_value: i64,
}

#[repr(C)]
pub struct CtbConfig {
    pub buckets: u64,
    pub max_connections: u64,
    pub expected_connections: u64,
    pub early_drop_buckets: u32,
    pub knob_count: u32,
    pub knob_values: *const i64,
}

pub const CTB_TRAIT_HASH_SEED: u32 = 0x01;
pub const CTB_TRAIT_SIZED_BY_BUCKETS: u32 = 0x02;
pub const CTB_TRAIT_CONNECTION_LIMIT: u32 = 0x04;
pub const CTB_TRAIT_TRACKS_CONNECTIONS: u32 = 0x08;
pub const CTB_TRAIT_KEEPS_NAT: u32 = 0x10;
pub const CTB_TRAIT_UNIQUE_TUPLES: u32 = 0x20;
pub const CTB_TRAIT_REPORTS_LOCKS: u32 = 0x40;
pub const CTB_TRAIT_COMPLETE_SWEEP: u32 = 0x80;
pub const CTB_TRAIT_TRACES: u32 = 0x100;

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CtbSlotInfo {
    pub length: u64,
    pub contended: u64,
}

pub type RecordFn = unsafe extern "C" fn(*mut c_void, *const CtbRecord);

/// The descriptor. Optional entries are `Option<fn>`: `None` is NULL
/// (guaranteed for `Option` of a function pointer).
#[repr(C)]
pub struct CtbDesign {
    pub abi_version: u32,
    pub traits: u32,
    pub name: *const c_char,
    pub summary: *const c_char,
    pub slot_name: *const c_char,
    pub default_policy: *const c_char,
    pub knobs: *const CtbKnob,
    pub knob_count: u32,
    pub bytes_per_connection: u32,
    pub create: Option<unsafe extern "C" fn(*const CtbConfig, *const CtbHost, *mut c_char, usize) -> *mut c_void>,
    pub destroy: Option<unsafe extern "C" fn(*mut c_void)>,
    pub worker_create: Option<unsafe extern "C" fn(*mut c_void) -> *mut c_void>,
    pub worker_destroy: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
    pub process_batch:
        Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut CtbBatch, *mut CtbCounters, *mut CtbCtx)>,
    pub sweep_slots: Option<unsafe extern "C" fn(*mut c_void) -> u64>,
    pub reap_pass: Option<unsafe extern "C" fn(*mut c_void, *const CtbPassArgs, *mut CtbPassResult, *mut CtbCtx)>,
    pub register_worker: Option<unsafe extern "C" fn(*mut c_void) -> i64>,
    pub worker_quiescent: Option<unsafe extern "C" fn(*mut c_void, i64)>,
    pub worker_offline: Option<unsafe extern "C" fn(*mut c_void, i64)>,
    pub reclaim: Option<unsafe extern "C" fn(*mut c_void, *mut CtbCtx)>,
    pub for_each_connection: Option<unsafe extern "C" fn(*mut c_void, RecordFn, *mut c_void, *mut CtbCtx)>,
    pub import_connections:
        Option<unsafe extern "C" fn(*mut c_void, *const CtbRecord, usize, *mut CtbCtx, *mut c_char, usize) -> c_int>,
    pub inspect: Option<unsafe extern "C" fn(*mut c_void, *mut CtbSlotInfo, u64) -> u64>,
    pub check_invariants: Option<unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> u64>,
    pub memory_bytes: Option<unsafe extern "C" fn(*mut c_void) -> u64>,
    pub peak_connections: Option<unsafe extern "C" fn(*mut c_void) -> i64>,
}

// A `static` must be `Sync`; these hold raw pointers, which are not. They
// are immutable and point only at other statics, so sharing them is sound.
unsafe impl Sync for CtbDesign {}
unsafe impl Sync for CtbKnob {}
// The host block is not written after `create` and its services may be
// called from any thread (the header), so the table may share it.
unsafe impl Sync for CtbHost {}

// The header's fixed sizes: a mirror that drifts fails to compile.
const _: () = {
    assert!(size_of::<CtbTuple>() == 40 && size_of::<CtbTcp>() == 16 && size_of::<CtbPacket>() == 112);
    assert!(size_of::<CtbTrackerState>() == 48 && align_of::<CtbTrackerState>() == 8);
    assert!(size_of::<CtbOutcome>() == 24 && size_of::<CtbRecord>() == 144 && size_of::<CtbPassResult>() == 80);
    assert!(size_of::<CtbCtx>() == 40 && size_of::<CtbConfig>() == 40 && size_of::<CtbKnob>() == 40);
    assert!(size_of::<CtbHost>() == 112 && size_of::<CtbDesign>() == 192 && size_of::<CtbBatch>() == 32);
};
