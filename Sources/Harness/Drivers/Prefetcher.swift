import ConnTrack
import Sync
#if canImport(Glibc)
import Glibc
#endif

/// One worker's source, filled ahead on a thread of its own: used when the
/// run has fewer workers than online CPUs, so that generating (or reading)
/// the next packets overlaps the table phase on a CPU no worker uses,
/// instead of doubling the wall time. The packets and their order are the
/// source's; only who produces them, and when, changes. The worker's wait
/// for a buffer stays its generation time; the producer's own time is
/// counted apart (`producerNanos`).
///
/// A ring of `depth` buffers of `bufferPackets`: the producer fills the
/// free ones in order, the worker copies out of the full ones in order.
final class Prefetcher: @unchecked Sendable {
    static let bufferPackets = 1 << 16
    static let depth = 4

    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cv = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let buffers: [UnsafeMutableBufferPointer<Packet>]
    /// protected by m: packets in each full buffer; nil: free
    private var counts: [Int?]
    /// protected by m: the producer has written its last buffer
    private var exhausted = false
    /// protected by m: the worker asked the producer to stop
    private var stopping = false
    /// protected by m: wall time the producer spent filling
    private var produced: Int64 = 0
    /// Owned by the worker: the buffer it reads and where.
    private var readIndex = 0
    private var readPos = 0
    private var thread: OSThread?

    /// Takes `source` over; the producer starts at once.
    init(_ source: PacketSource) {
        m.initialize(to: pthread_mutex_t())
        cv.initialize(to: pthread_cond_t())
        PThread.initMutex(m)
        let rc = pthread_cond_init(cv, nil)
        precondition(rc == 0, "pthread_cond_init failed: \(rc)")
        buffers = (0..<Self.depth).map { _ in .allocate(capacity: Self.bufferPackets) }
        counts = Array(repeating: nil, count: Self.depth)
        nonisolated(unsafe) var owned = source
        thread = OSThread { [self] in produce(&owned) }
    }

    // The producer holds the prefetcher until its loop returns, so this
    // runs only after that, on whichever thread let go last (which may be
    // the producer itself: no join here; `SourceBox` stops and joins it).
    deinit {
        let rc = pthread_cond_destroy(cv)
        precondition(rc == 0, "pthread_cond_destroy failed: \(rc)")
        PThread.destroyMutex(m)
        cv.deallocate(); m.deallocate()
        for b in buffers { b.deallocate() }
    }

    /// The producer: fills free buffers in ring order until the source is
    /// done or the worker stops it.
    private func produce(_ source: inout PacketSource) {
        var i = 0
        while true {
            PThread.lock(m)
            while counts[i] != nil && !stopping { wait() }
            if stopping { PThread.unlock(m); return }
            PThread.unlock(m)
            let t0 = MonotonicClock.read()
            let n = source.fill(buffers[i])
            let dt = MonotonicClock.read() - t0
            PThread.lock(m)
            produced += dt
            counts[i] = n
            if n == 0 { exhausted = true }
            signal()
            PThread.unlock(m)
            if n == 0 { return }
            i = (i + 1) % Self.depth
        }
    }

    /// Packets one `fill` hands over at most: all but one buffer of the
    /// ring, so that while the worker processes them the producer has the
    /// ring to fill ahead (a lane asking for a whole chunk of a million
    /// would otherwise wait for most of it to be generated).
    static let fillLimit = bufferPackets * (depth - 1)

    /// The worker: copies the next packets into `out` from the full
    /// buffers, waiting for the producer when none is full; returns how
    /// many (0: the source is done). It returns `min(out.count, fillLimit)`
    /// packets unless the source ends first: where a lane's buffer ends
    /// must not depend on how fast the producer ran (merged windows stop
    /// there).
    func fill(_ out: UnsafeMutableBufferPointer<Packet>) -> Int {
        guard out.count > 0, let dst = out.baseAddress else { return 0 }
        let want = min(out.count, Self.fillLimit)
        var written = 0
        while written < want {
            PThread.lock(m)
            while counts[readIndex] == nil {
                if stopping { PThread.unlock(m); return written }
                wait()
            }
            let n = counts[readIndex]!
            PThread.unlock(m)
            if n == 0 { return written }
            // A full buffer is the worker's until it is handed back: the
            // copy needs no lock.
            let take = min(n - readPos, want - written)
            (dst + written).update(from: buffers[readIndex].baseAddress! + readPos, count: take)
            written += take
            readPos += take
            if readPos == n {
                PThread.lock(m)
                counts[readIndex] = nil
                signal()
                PThread.unlock(m)
                readPos = 0
                readIndex = (readIndex + 1) % Self.depth
            }
        }
        return written
    }

    /// Wall time the producer spent filling so far.
    var producerNanos: Int64 {
        PThread.lock(m); defer { PThread.unlock(m) }
        return produced
    }

    /// Stops the producer (it finishes the buffer it is filling) and joins it.
    func stop() {
        guard let t = thread else { return }
        PThread.lock(m)
        stopping = true
        signal()
        PThread.unlock(m)
        t.join()
        thread = nil
    }

    /// Preconditions: m is locked.
    private func wait() {
        let rc = pthread_cond_wait(cv, m)
        precondition(rc == 0, "pthread_cond_wait failed: \(rc)")
    }

    /// Preconditions: m is locked.
    private func signal() {
        let rc = pthread_cond_broadcast(cv)
        precondition(rc == 0, "pthread_cond_broadcast failed: \(rc)")
    }
}
