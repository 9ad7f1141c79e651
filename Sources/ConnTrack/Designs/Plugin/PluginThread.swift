#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTBDesignABI

/// A thread's buffers for calling plugins: the batch converted to the ABI's
/// packets and the outcomes, grown to the largest batch seen (so a batch
/// allocates nothing once the first has run), and the plugin worker state
/// of the table it used last. One per thread, shared by every plugin table
/// (only one table is in use per thread at a time); freed at thread exit.
struct PluginThread {
    var packets: UnsafeMutablePointer<ctb_packet>
    var outcomes: UnsafeMutablePointer<ctb_outcome>
    var capacity: Int
    /// The table (its `serial`) whose worker state `worker` is.
    var tableSerial: UInt64
    var worker: UnsafeMutableRawPointer?

    /// The thread-local key; its destructor frees the buffers.
    static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k) { raw in
            guard let raw else { return }
            let t = raw.assumingMemoryBound(to: PluginThread.self)
            t.pointee.packets.deallocate()
            t.pointee.outcomes.deallocate()
            t.deallocate()
        }
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return k
    }()

    /// This thread's buffers, made on first use.
    @inline(__always)
    static func current() -> UnsafeMutablePointer<PluginThread> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: PluginThread.self) }
        return make()
    }

    @inline(never)
    static func make() -> UnsafeMutablePointer<PluginThread> {
        let t = UnsafeMutablePointer<PluginThread>.allocate(capacity: 1)
        t.initialize(to: PluginThread(packets: .allocate(capacity: 1), outcomes: .allocate(capacity: 1), capacity: 1,
                                      tableSerial: 0, worker: nil))
        let rc = pthread_setspecific(key, t)
        precondition(rc == 0, "pthread_setspecific failed: \(rc)")
        return t
    }

    /// Room for `n` packets (not on the packet path once warm).
    @inline(__always)
    mutating func reserve(_ n: Int) {
        if n > capacity { grow(n) }
    }

    @inline(never)
    mutating func grow(_ n: Int) {
        packets.deallocate()
        outcomes.deallocate()
        packets = .allocate(capacity: n)
        outcomes = .allocate(capacity: n)
        capacity = n
    }
}
