//! Locks reported through the host's hooks: what the header's inline
//! `ctb_lock_*` helpers do in C, as a `std::sync::Mutex` wrapper whose guard
//! reports the release when it is dropped.

use crate::abi::{CtbCtx, CtbHost, CtbRecord, CTB_LOCK_CONNECTION, CTB_LOCK_TABLE, CTB_TRACE_EVENTS};
use std::ops::{Deref, DerefMut};
use std::os::raw::c_char;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Instant;

/// A call site, which a lock-order report names for both locks.
#[derive(Clone, Copy)]
pub struct Site {
    pub file: *const c_char,
    pub line: u32,
}

/// The site it is written at: C's `__FILE__` and `__LINE__`. The file name
/// is NUL-terminated and `'static`, as `will_acquire` requires.
macro_rules! site {
    () => {
        $crate::lock::Site { file: concat!(file!(), "\0").as_ptr().cast(), line: line!() }
    };
}
pub(crate) use site;

/// The harness's context for one call (`ctb_ctx`) with the host's hooks.
/// `Copy`, so each guard can keep one; valid only during the call that
/// received it, which is why nothing stores it beyond that call.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub host: &'static CtbHost,
    raw: *mut CtbCtx,
}

impl Ctx {
    /// Safety: `raw` is the `ctb_ctx` of the current call.
    pub unsafe fn new(host: &'static CtbHost, raw: *mut CtbCtx) -> Ctx {
        Ctx { host, raw }
    }

    pub fn tracing(self) -> u32 {
        unsafe { (*self.raw).tracing }
    }

    /// Reports a connection event when the run records events.
    pub fn event(self, kind: u32, packet: u32, r: &CtbRecord, reason: u32) {
        if self.tracing() & CTB_TRACE_EVENTS != 0 {
            unsafe { (self.host.trace_event)(self.host, self.raw, kind, packet, r, reason) }
        }
    }

    fn check_order(self) -> bool {
        unsafe { (*self.raw).check_order != 0 }
    }

    /// Locks `m`, a lock of `class` (`CTB_LOCK_*`) and `index`, reporting it
    /// as the helpers do: `will_acquire` (only when the run checks lock
    /// order), then a try; uncontended, an increment in `ctx.uncontended`
    /// and no call; contended, `will_wait`, the blocking lock and `acquired`
    /// with the wait. `at` is the caller's site (helpers pass theirs down).
    pub fn lock<'m, T>(self, m: &'m Mutex<T>, class: u32, index: u64, at: Site) -> Locked<'m, T> {
        if self.check_order() {
            unsafe { (self.host.will_acquire)(self.raw, class, index, at.file, at.line) }
        }
        match m.try_lock() {
            Ok(guard) => {
                if (CTB_LOCK_TABLE..=CTB_LOCK_CONNECTION).contains(&class) {
                    unsafe { (*self.raw).uncontended[(class - CTB_LOCK_TABLE) as usize] += 1 }
                } else {
                    unsafe { (self.host.acquired)(self.raw, class, index, 0, 0) }
                }
                Locked { guard: Some(guard), ctx: self, class, index, contended: false }
            }
            Err(TryLockError::WouldBlock) => self.lock_blocking(m, class, index),
            // With panic = "abort" no thread dies holding a lock, so no
            // mutex is ever poisoned: `into_inner` only unwraps the type.
            Err(TryLockError::Poisoned(e)) => {
                Locked { guard: Some(e.into_inner()), ctx: self, class, index, contended: false }
            }
        }
    }

    /// The blocking half, out of line: the uncontended path stays a try, an
    /// increment and a branch.
    #[cold]
    #[inline(never)]
    fn lock_blocking<'m, T>(self, m: &'m Mutex<T>, class: u32, index: u64) -> Locked<'m, T> {
        unsafe { (self.host.will_wait)(self.raw, class, index) }
        let t0 = Instant::now();
        let guard = m.lock().unwrap_or_else(PoisonError::into_inner);
        let waited = t0.elapsed().as_nanos() as u64;
        unsafe { (self.host.acquired)(self.raw, class, index, 1, waited) }
        Locked { guard: Some(guard), ctx: self, class, index, contended: true }
    }
}

/// A held lock. Dropping it unlocks, then tells the rank checker
/// (`released`): Rust's scopes give the release order for free.
pub struct Locked<'m, T> {
    guard: Option<MutexGuard<'m, T>>,
    ctx: Ctx,
    class: u32,
    index: u64,
    /// The first try failed (for a lock's own contention count).
    pub contended: bool,
}

impl<T> Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().unwrap()
    }
}

impl<T> DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().unwrap()
    }
}

impl<T> Drop for Locked<'_, T> {
    fn drop(&mut self) {
        self.guard = None; // unlocks
        if self.ctx.check_order() {
            unsafe { (self.ctx.host.released)(self.ctx.raw, self.class, self.index) }
        }
    }
}
