import CTBDesignABI

/// What a host callback needs of the call it is made from: `ctb_ctx.harness`
/// points here, for the call's duration. The lock hooks reach the worker's
/// context through it; `trace_event` also the batch the packets belong to,
/// to date an event by its packet and place it among the lane's verdicts.
struct PluginCall {
    let context: UnsafeMutablePointer<WorkerContext>
    /// The trace lane's packet position at the batch's first packet.
    var traceBase: UInt64 = 0
    /// The batch's packets (nil outside `process_batch`).
    var packets: UnsafePointer<ctb_packet>? = nil
    var count = 0
    /// The batch's now, unless each packet's timestamp is (`perPacketTime`).
    var now: Int64 = 0
    var perPacketTime = false

    /// The now of packet `i` of the batch, as the design read it.
    func now(ofPacket i: Int) -> Int64 { perPacketTime ? packets![i].timestamp : now }
}
