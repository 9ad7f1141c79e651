//! conntrack-bench example plugin in Rust, std only: a connection table of
//! `shards` mutex-guarded std `HashMap`s, loaded with
//! `conntrack-bench run --design plugin:.build-rust/release/libctb_rust_sharded.so`.
//!
//! - `abi.rs`: the header mirrored as `#[repr(C)]` types, sizes asserted;
//! - `lock.rs`: `std::sync::Mutex` reported through the host's lock hooks;
//! - `table.rs`: the design;
//! - this file: the descriptor and the `extern "C"` entry points, each a
//!   thin shell that turns raw pointers into references and calls the table.
//!
//! docs/plugins.md ("The Rust example, walked through") explains the design.

mod abi;
mod lock;
mod table;

use abi::*;
use lock::Ctx;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::null_mut;
use std::slice;
use table::{Pkt, Table};

const MAX_SHARDS: i64 = 4096;

/// A NUL-terminated `'static` string for the descriptor (`c"…"` literals
/// need Rust 1.77; Debian 12's is 1.63, which CI may install).
macro_rules! cstr {
    ($s:expr) => {
        concat!($s, "\0").as_ptr() as *const c_char
    };
}

static KNOBS: [CtbKnob; 2] = [
    CtbKnob {
        name: cstr!("shards"),
        summary: cstr!("lock shards, each a mutex around a HashMap (a power of two)"),
        min: 1,
        max: MAX_SHARDS,
        default_value: 64,
    },
    CtbKnob {
        name: cstr!("slots-per-shard"),
        summary: cstr!("reaper sweep slots per shard (each a list of connections)"),
        min: 1,
        max: 65536,
        default_value: 256,
    },
];

static DESIGN: CtbDesign = CtbDesign {
    abi_version: CTB_ABI_VERSION,
    // Not CTB_TRAIT_SIZED_BY_BUCKETS: the knobs size it, --buckets does not.
    traits: CTB_TRAIT_HASH_SEED
        | CTB_TRAIT_CONNECTION_LIMIT
        | CTB_TRAIT_TRACKS_CONNECTIONS
        | CTB_TRAIT_KEEPS_NAT
        | CTB_TRAIT_UNIQUE_TUPLES
        | CTB_TRAIT_REPORTS_LOCKS
        | CTB_TRAIT_COMPLETE_SWEEP
        | CTB_TRAIT_TRACES,
    name: cstr!("rust-sharded"),
    summary: cstr!("sharded std HashMaps under mutexes, in Rust through the plugin ABI (examples/rust-sharded)"),
    slot_name: cstr!("slot"),
    default_policy: cstr!("seed"),
    knobs: KNOBS.as_ptr(),
    knob_count: KNOBS.len() as u32,
    bytes_per_connection: table::BYTES_PER_CONNECTION as u32,
    create: Some(create),
    destroy: Some(destroy),
    // No per-worker state, and no deferred reclamation: `Arc` frees.
    worker_create: None,
    worker_destroy: None,
    process_batch: Some(process_batch),
    sweep_slots: Some(sweep_slots),
    reap_pass: Some(reap_pass),
    register_worker: None,
    worker_quiescent: None,
    worker_offline: None,
    reclaim: None,
    for_each_connection: Some(for_each_connection),
    import_connections: Some(import_connections),
    inspect: Some(inspect),
    check_invariants: Some(check_invariants),
    // NULL: the harness adds `memory_bytes` to the allocator's figures, so
    // it is for memory outside malloc (mmap, another runtime's heap).
    // Rust's std allocates with the process's malloc: counted already.
    memory_bytes: None,
    peak_connections: Some(peak_connections),
};

/// The one exported symbol (a `cdylib` exports only `#[no_mangle] pub`
/// functions, so nothing else leaks).
#[no_mangle]
pub extern "C" fn conntrack_bench_design() -> *const CtbDesign {
    &DESIGN
}

/// Copies `text` into a C buffer of `len` bytes, cut to fit, NUL-terminated.
unsafe fn write_c(buf: *mut c_char, len: usize, text: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let n = text.len().min(len - 1);
    std::ptr::copy_nonoverlapping(text.as_ptr().cast(), buf, n);
    *buf.add(n) = 0;
}

/// The table behind the harness's `void *`. Safety: `t` is what `create` returned.
unsafe fn table<'a>(t: *mut c_void) -> &'a Table {
    &*(t as *const Table)
}

/// `slice::from_raw_parts` with a NULL-or-dangling pointer allowed for 0 items.
unsafe fn items<'a, T>(p: *const T, n: usize) -> &'a [T] {
    if n == 0 {
        &[]
    } else {
        slice::from_raw_parts(p, n)
    }
}

unsafe extern "C" fn create(cfg: *const CtbConfig, host: *const CtbHost, err: *mut c_char, len: usize) -> *mut c_void {
    let cfg = &*cfg;
    // The knob values come in declaration order, each within its range.
    let knobs = items(cfg.knob_values, cfg.knob_count as usize);
    let (shards, per_shard) = match knobs {
        &[shards, per_shard] => (shards, per_shard),
        _ => {
            write_c(err, len, &format!("expected 2 knob values, got {}", knobs.len()));
            return null_mut();
        }
    };
    // The harness checks the range; a power of two is this plugin's rule
    // (the shard is the hash's low bits).
    if !(shards as u64).is_power_of_two() {
        write_c(err, len, &format!("shards must be a power of two in 1...{MAX_SHARDS}, got {shards}"));
        return null_mut();
    }
    // `host` is valid until `destroy`, which drops the table: within the
    // table's life it may be taken as `'static`.
    let host: &'static CtbHost = &*host;
    Box::into_raw(Box::new(Table::new(host, shards as usize, per_shard as usize, cfg))).cast()
}

unsafe extern "C" fn destroy(t: *mut c_void) {
    drop(Box::from_raw(t as *mut Table));
}

unsafe extern "C" fn process_batch(
    t: *mut c_void, _: *mut c_void, b: *mut CtbBatch, _: *mut CtbCounters, ctx: *mut CtbCtx,
) {
    let (t, b) = (table(t), &*b);
    let ctx = Ctx::new(t.host(), ctx);
    let packets = items(b.packets, b.count as usize);
    let outcomes = slice::from_raw_parts_mut(b.outcomes, b.count as usize);
    let per_packet = b.flags & CTB_BATCH_PACKET_TIME != 0;
    for (i, (p, o)) in packets.iter().zip(outcomes).enumerate() {
        t.packet(Pkt { p, now: if per_packet { p.timestamp } else { b.now }, i: i as u32, ctx }, o);
    }
}

unsafe extern "C" fn sweep_slots(t: *mut c_void) -> u64 {
    table(t).sweep_slots()
}

unsafe extern "C" fn reap_pass(t: *mut c_void, a: *const CtbPassArgs, out: *mut CtbPassResult, ctx: *mut CtbCtx) {
    let t = table(t);
    *out = t.reap_pass(&*a, Ctx::new(t.host(), ctx));
}

unsafe extern "C" fn for_each_connection(t: *mut c_void, body: RecordFn, arg: *mut c_void, ctx: *mut CtbCtx) {
    let t = table(t);
    t.export(Ctx::new(t.host(), ctx), |r| body(arg, r));
}

unsafe extern "C" fn import_connections(
    t: *mut c_void, rs: *const CtbRecord, n: usize, ctx: *mut CtbCtx, err: *mut c_char, len: usize,
) -> c_int {
    let t = table(t);
    match t.import(items(rs, n), Ctx::new(t.host(), ctx)) {
        Ok(()) => 0,
        Err(e) => {
            write_c(err, len, &e);
            1
        }
    }
}

unsafe extern "C" fn inspect(t: *mut c_void, slots: *mut CtbSlotInfo, n: u64) -> u64 {
    let out = if n == 0 { &mut [][..] } else { slice::from_raw_parts_mut(slots, n as usize) };
    table(t).inspect(out)
}

unsafe extern "C" fn check_invariants(t: *mut c_void, buf: *mut c_char, len: usize) -> u64 {
    let bad = table(t).check();
    write_c(buf, len, &bad.join("\n"));
    bad.len() as u64
}

unsafe extern "C" fn peak_connections(t: *mut c_void) -> i64 {
    table(t).peak()
}
