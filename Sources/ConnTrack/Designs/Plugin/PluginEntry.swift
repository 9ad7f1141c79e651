/// The plugin entry points the crash guard names (`ctb_guard_enter`), as
/// static C strings so a signal handler can print them.
enum PluginEntry {
    static let processBatch = StaticCString("process_batch")
    static let reapPass = StaticCString("reap_pass")
    static let create = StaticCString("create")
    static let destroy = StaticCString("destroy")
    static let export = StaticCString("for_each_connection")
    static let importRecords = StaticCString("import_connections")
    static let inspect = StaticCString("inspect")
    static let checkInvariants = StaticCString("check_invariants")
    static let memoryBytes = StaticCString("memory_bytes")
    static let worker = StaticCString("worker_create")
    static let workerDestroy = StaticCString("worker_destroy")
    static let sweepSlots = StaticCString("sweep_slots")
    static let reclaim = StaticCString("reclaim")
    static let registerWorker = StaticCString("register_worker")
    static let workerQuiescent = StaticCString("worker_quiescent")
    static let workerOffline = StaticCString("worker_offline")
    static let peakConnections = StaticCString("peak_connections")
    static let dumpRunning = StaticCString("dump_running")
    static let removeRunning = StaticCString("remove_running")
    static let resizeRunning = StaticCString("resize_running")
    static let entry = StaticCString("conntrack_bench_design")
}

/// A C string allocated once and never freed.
struct StaticCString: @unchecked Sendable {
    let p: UnsafeMutablePointer<CChar>
    init(_ s: String) { p = strdupOrDie(s) }
}
