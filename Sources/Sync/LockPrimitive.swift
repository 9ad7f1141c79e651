/// A lock at a stable address that `RankedLock` can take: a non-blocking
/// try for the uncontended path, and a blocking acquisition for after the
/// try failed. Conformers are thin handles (a pointer), so a `RankedLock`
/// over one specialises to the bare lock calls.
public protocol LockPrimitive {
    /// True when taken; false when it is held elsewhere.
    func tryLock() -> Bool
    /// Blocks until taken. Called only after `tryLock` failed.
    func lockBlocking()
    func unlock()
}
