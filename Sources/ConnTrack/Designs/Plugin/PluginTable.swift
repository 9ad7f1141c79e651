#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTBDesignABI
import Sync
import struct Synchronization.Atomic

/// A design loaded at run time through the C ABI
/// (`conntrack_bench_design.h`), as a `ConnTrackTable`. One type per loaded
/// plugin (`Slot`), so the harness specialises for it like for a built-in.
///
/// The packet path calls the plugin once per batch (`process_batch`) and
/// counts every figure from the outcomes; the reaper's passes call
/// `reap_pass`; export and import go through records equal to
/// `ConnectionRecord`; the invariant check adds the end-of-run cross-check
/// (connections exported against created minus removed, duplicate tuples).
public final class PluginTable<Slot: PluginSlot>: ConnTrackTable, @unchecked Sendable {
    @inline(__always) static var plugin: LoadedPlugin { Slot.plugin! }
    public static var traits: DesignTraits { plugin.traits }

    /// immutable
    public let config: TableConfig
    /// immutable: the run's seed when the design hashes with one
    public let hashSeed: UInt32?
    /// immutable: the descriptor
    let d: UnsafePointer<ctb_design>
    /// immutable: the plugin's name for the crash guard
    let cName: UnsafeMutablePointer<CChar>
    /// immutable: what create returned
    let handle: UnsafeMutableRawPointer
    /// immutable: the services handed to the plugin, and the timeouts they read
    let host: UnsafeMutablePointer<ctb_host>
    let timeouts: UnsafeMutablePointer<Timeouts>
    /// immutable: the knob values handed to create
    let knobValues: UnsafeMutablePointer<Int64>
    /// `sweep_slots`, read once, then what `resize_running` returned (set
    /// by the operation thread, read by the reaper's).
    let slotCount: Atomic<Int>
    public var sweepSlots: Int { slotCount.load(ordering: .relaxed) }
    /// Connections created less those removed, summed per batch and pass:
    /// what an export must find (the end-of-run cross-check).
    let net = Atomic<Int>(0)
    /// Identifies this table to the per-thread worker cache.
    let serial: UInt64
    /// Worker states made for this table (a lock-free stack of
    /// `WorkerRecord`s), destroyed with it.
    let workers = Atomic<Int>(0)


    public init(_ config: TableConfig) {
        // The expected connections are the run's, given to every plugin
        // (`RunConfig.tableForRun`), not --capacity, which a plugin refuses.
        var given = config
        given.expectedConnections = nil
        do { try given.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        PluginHost.checkLayout()
        let p = Self.plugin
        self.config = config
        d = p.design
        cName = p.cName
        hashSeed = Self.traits.hasHashSeed ? (config.hashSeed ?? UInt32.random(in: .min ... .max)) : nil
        timeouts = .allocate(capacity: 1)
        timeouts.initialize(to: config.timeouts)
        host = PluginHost.make(seed: hashSeed, timeouts: timeouts)
        knobValues = .allocate(capacity: max(1, p.knobs.count))
        for (i, k) in p.knobs.enumerated() {
            knobValues[i] = Int64(config.pluginKnobs[i] ?? config.knobSettings[k.name] ?? k.defaultValue)
        }
        var cfg = ctb_config(buckets: UInt64(config.buckets), max_connections: UInt64(config.maxConnections ?? 0),
                             expected_connections: UInt64(config.expectedConnections ?? 0),
                             early_drop_buckets: UInt32(config.earlyDropBuckets), knob_count: UInt32(p.knobs.count),
                             knob_values: knobValues)
        var err = [CChar](repeating: 0, count: 512)
        ctb_guard_enter(cName, PluginEntry.create.p)
        let h = d.pointee.create(&cfg, host, &err, err.count)
        ctb_guard_leave()
        guard let h else {
            // The configuration passed every check the traits allow: a plugin
            // that still refuses it cannot run.
            Self.refuse("create failed: \(err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
        }
        handle = h
        ctb_guard_enter(cName, PluginEntry.sweepSlots.p)
        let slots = d.pointee.sweep_slots(h)
        ctb_guard_leave()
        // A pass budgets over these: none would make a reaper that never
        // removes anything, and more than Int.max cannot be indexed.
        guard slots >= 1 && slots <= UInt64(Int.max) else {
            Self.refuse("sweep_slots returned \(slots), allowed 1...\(Int.max)")
        }
        slotCount = Atomic(Int(slots))
        serial = PluginTableSerial.next.wrappingAdd(1, ordering: .relaxed).newValue
    }

    deinit {
        var w = workers.load(ordering: .acquiring)
        while w != 0 {
            let r = UnsafeMutablePointer<WorkerRecord>(bitPattern: w)!
            if let s = r.pointee.state {
                ctb_guard_enter(cName, PluginEntry.workerDestroy.p)
                d.pointee.worker_destroy(handle, s)
                ctb_guard_leave()
            }
            w = r.pointee.next
            r.deallocate()
        }
        ctb_guard_enter(cName, PluginEntry.destroy.p)
        d.pointee.destroy(handle)
        ctb_guard_leave()
        host.deallocate()
        timeouts.deinitialize(count: 1)
        timeouts.deallocate()
        knobValues.deallocate()
    }

    /// A worker state this table made, kept for destroy.
    struct WorkerRecord {
        var state: UnsafeMutableRawPointer?
        var next: Int
    }

    /// This thread's buffers, with its worker state for this table.
    @inline(__always)
    func thread() -> UnsafeMutablePointer<PluginThread> {
        let t = PluginThread.current()
        if t.pointee.tableSerial != serial { adopt(t) }
        return t
    }

    /// Ends the run on what the plugin returned, in the one-line form of
    /// every usage error: the plugin, its path, and what is wrong (exit 2,
    /// before any output file is written).
    /// Every worker may reach the same refusal at once (each makes its own
    /// state): only the first writes the line and exits, the others wait
    /// for the exit.
    static func refuse(_ what: String) -> Never {
        if pluginRefusing.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
            let p = plugin
            writeStderr("conntrack-bench: error: plugin \(p.name) (\(p.path)): \(what)\n")
            exit(ExitCode.usage)
        }
        while true { pause() }
    }

    @inline(never)
    func adopt(_ t: UnsafeMutablePointer<PluginThread>) {
        t.pointee.tableSerial = serial
        t.pointee.worker = nil
        guard let make = d.pointee.worker_create else { return }
        ctb_guard_enter(cName, PluginEntry.worker.p)
        let made = make(handle)
        ctb_guard_leave()
        // Every batch of this thread would get the NULL: refuse it here,
        // naming the call, rather than let the plugin fault on it later.
        guard let s = made else {
            Self.refuse("worker_create returned NULL")
        }
        t.pointee.worker = s
        let r = UnsafeMutablePointer<WorkerRecord>.allocate(capacity: 1)
        var head = workers.load(ordering: .relaxed)
        while true {
            r.initialize(to: WorkerRecord(state: s, next: head))
            let (done, seen) = workers.compareExchange(expected: head, desired: Int(bitPattern: r), ordering: .acquiringAndReleasing)
            if done { break }
            head = seen
        }
    }

    /// Calls `body` with a `ctb_ctx` carrying the context, inside the crash
    /// guard for `entry`, then adds the acquisitions the plugin counted
    /// inline to the context's lock counters.
    /// `batch` says which packets a `process_batch` call has (none for a
    /// pass) and its now, so that `trace_event` can date its events.
    @inline(__always)
    func call<R>(_ entry: StaticCString, _ ctx: inout WorkerContext, batch: (UnsafePointer<ctb_packet>?, Int, Int64, Bool)? = nil,
                 _ body: (UnsafeMutablePointer<ctb_ctx>) -> R) -> R {
        withUnsafeMutablePointer(to: &ctx) { p in
            var info = PluginCall(context: p)
            var tracing: UInt32 = 0
            if let lane = p.pointee.trace {
                tracing = CTB_TRACE_VERDICTS | (lane.pointee.recordsEvents ? CTB_TRACE_EVENTS : 0)
                info.traceBase = lane.pointee.index
                if let (packets, n, now, perPacket) = batch {
                    info.packets = packets; info.count = n; info.now = now; info.perPacketTime = perPacket
                }
            }
            return withUnsafeMutablePointer(to: &info) { ip in
                var c = ctb_ctx(check_order: p.pointee.locks.enabled ? 1 : 0, tracing: tracing, uncontended: (0, 0, 0),
                                harness: UnsafeMutableRawPointer(ip))
                ctb_guard_enter(cName, entry.p)
                let r = body(&c)
                ctb_guard_leave()
                p.pointee.stats.tableLock.acquisitions &+= c.uncontended.0
                p.pointee.stats.bucketLock.acquisitions &+= c.uncontended.1
                p.pointee.stats.connLock.acquisitions &+= c.uncontended.2
                return r
            }
        }
    }

    // MARK: Reclamation (optional in the ABI)

    public func registerWorker() -> Int {
        guard let f = d.pointee.register_worker else { return 0 }
        ctb_guard_enter(cName, PluginEntry.registerWorker.p)
        defer { ctb_guard_leave() }
        return Int(f(handle))
    }
    public func workerQuiescent(_ slot: Int) {
        guard let f = d.pointee.worker_quiescent else { return }
        ctb_guard_enter(cName, PluginEntry.workerQuiescent.p)
        f(handle, Int64(slot))
        ctb_guard_leave()
    }
    public func workerOffline(_ slot: Int) {
        guard let f = d.pointee.worker_offline else { return }
        ctb_guard_enter(cName, PluginEntry.workerOffline.p)
        f(handle, Int64(slot))
        ctb_guard_leave()
    }
    public func reclaim(_ ctx: inout WorkerContext) {
        guard let f = d.pointee.reclaim else { return }
        call(PluginEntry.reclaim, &ctx) { f(handle, $0) }
    }

    // MARK: Memory

    /// The generic floor, the plugin's declared bytes per connection, and a
    /// cache line per slot.
    public static func estimatedBytes(_ config: TableConfig, connections: Int, threads: Int) -> Int {
        MemoryFootprint.sweepSummary(leaves: config.buckets)
            + MemoryFootprint.inspection(slots: config.buckets)
            + connections * (MemoryLayout<ConnectionRecord>.stride + MemoryLayout<ctb_record>.stride)
            + MemoryFootprint.hashTable(2 * connections, stride: 48)
            + connections * max(plugin.traits.bytesPerConnection, 64)
            + config.buckets * 64
    }
}

/// The source of `PluginTable.serial`.
enum PluginTableSerial {
    static let next = Atomic<UInt64>(0)
}

/// Set by the first `PluginTable.refuse` of the process (the class is
/// generic, so the flag lives here).
private let pluginRefusing = Atomic<Bool>(false)
