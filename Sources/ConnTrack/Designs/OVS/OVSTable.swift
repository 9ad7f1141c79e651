#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Sync
import struct Synchronization.Atomic

/// The structure of Open vSwitch's userspace connection tracker
/// (lib/conntrack.c; docs/ovs-design.md says what is faithful and what is not):
///
/// - **Map:** a cmap-like concurrent cuckoo hash (`CuckooMap`) holding each
///   connection's forward key, and its reverse key only under NAT, under a
///   symmetric hash: a reply finds its connection by the forward key's
///   entry. Packets look up without a lock, passing over expired
///   connections. It grows and shrinks with the connections, as cmap does.
/// - **Insert lock:** one global mutex, OVS's `ct_lock`. A packet that finds
///   nothing takes it, looks up again, and inserts (`process_one` then
///   `conn_not_found`). Every removal, and every change of the expiry
///   lists, is made under it too; a packet that finds its connection
///   never takes it.
/// - **Connection mutex:** the tracker state, `lastUsed`, the OVS state
///   bits and the expiration of a connection change under its own mutex
///   (`conn->lock`); the expiration is an atomic read without it.
/// - **Expiry lists:** 100 of them (`N_EXP_LISTS`); a new connection goes on
///   the next in turn and stays there. A state change or a refresh updates
///   its timeout in place, under its mutex (`conn_update_expiration`). The
///   sweeper walks the lists without ct_lock and takes it per removal
///   (`ct_sweep`, `conn_clean`).
/// - **Limit:** 3,000,000 connections by default (`DEFAULT_N_CONN_LIMIT`);
///   a new connection beyond it is not committed (no early drop).
/// - **TCP tracker:** OVS's own, from pf (`OVSTCPConn`, lib/conntrack-tcp.c):
///   per-peer windows, the opening timeout until the handshake's last ACK.
///
/// Lock order: ct_lock < connection < retire list.
public final class OVSTable: ConnTrackTable, @unchecked Sendable {
    public static let traits: DesignTraits = {
        var t = DesignTraits(
            name: "ovs",
            summary: "Open vSwitch's userspace conntrack: a cmap-like lock-free cuckoo map of forward keys (reverse keys for NAT only) under a symmetric hash, one global insert lock (ct_lock), a mutex per connection, 100 expiry lists filled in turn, swept every 20 s in passes of limit/64, OVS's pf-derived TCP tracker",
            hasHashSeed: true, slotName: "position", sizedByBuckets: false, variants: [], defaultVariant: nil,
            faults: [.skipConnMutex, .ctLockAfterConn], connectionLimit: true, tracksConnections: true,
            incompleteSweepVariants: [])
        t.defaultPolicy = "ovs"
        t.earlyDropsAtLimit = false
        t.slotFollowsConnection = false
        t.lockOrderPairSelftest = lockOrderPairSelftest
        t.dataRacePairSelftest = dataRacePairSelftest
        t.knobs = [Knob("max-connections", summary: "connection limit: also sizes the sweep (OVS default 3000000)",
                        range: 1...(1 << 27), grid: [100_000, 1_000_000, 3_000_000],
                        get: { $0.maxConnections ?? OVSTable.defaultLimit }, set: { $0.maxConnections = $1 })]
        // The block, and its key's share of the map at its emptiest after a
        // doubling, 42.5 % full (12 bytes of a 64-byte bucket of 5 per slot,
        // over 0.425): the same as two slots at 85 %.
        t.bytesPerConnection = MemoryLayout<ConnNode>.stride + 2 * 64 / 5 * 100 / 85
        t.noResizeReason = "OVS has no operator resize: its cmap, like the map here, doubles and halves itself with the connections"
        return t
    }()

    /// OVS's `DEFAULT_N_CONN_LIMIT`.
    public static let defaultLimit = 3_000_000

    /// immutable
    public let config: TableConfig
    /// immutable
    let timeouts: Timeouts
    /// immutable
    public let seed: UInt32
    /// immutable: the connection limit
    let limit: Int
    /// The map (cmap's `impl`): replaced under ct_lock when it grows or
    /// shrinks (`OVSTable+MapSize.swift`), loaded without a lock.
    let mapSlot: Atomic<UnsafeMutablePointer<CuckooMap>>
    /// immutable: the displacement count every map of this table shares
    let moves: UnsafeMutablePointer<Atomic<UInt64>>
    /// protected by ct_lock: keys in the map (cmap's `n`)
    var mapEntries = 0
    /// protected by ct_lock: the time the newest connection was made at
    /// (for `_checkInvariants`: its expired holders of a key were expired then)
    var newestCreate: Int64 = 0
    /// Maps replaced, each with the epoch it was replaced in, freed once
    /// every registered thread has passed a quiescent point since.
    /// protected by retiredMapsMutex
    var retiredMaps: [(epoch: UInt64, map: UnsafeMutablePointer<CuckooMap>)] = []
    /// The lock of `retiredMaps` (rank: retire list, a leaf).
    let retiredMapsMutex = HeapMutex()
    /// OVS's `ct_lock` (rank: ct-lock).
    let ctMutex: UnsafeMutablePointer<pthread_mutex_t>
    /// protected by ct_lock: the breadth-first search's queue (cmap keeps it on the stack)
    let bfsQueue: UnsafeMutablePointer<CuckooMap.Path>
    /// protected by ct_lock: the expiry lists (`expiryListCount`), a
    /// connection on the one it was made in turn for; their next links are
    /// also read by the sweeper without it (`walkNext`)
    let lists: UnsafeMutablePointer<ExpiryList>
    /// The lists' heads (0: empty), atomic words apart from `lists`: the
    /// sweeper reads them without ct_lock (`walkHead`), and ThreadSanitizer
    /// keys a Swift access to a list at the list's first byte. Written
    /// under ct_lock (`setHead`).
    let heads: UnsafeMutablePointer<Atomic<UInt>>
    /// protected by ct_lock: the list the next connection goes to (OVS's `next_list`)
    var nextList = 0
    /// protected by ct_lock: connections in the table (OVS's `n_conn`)
    var count = 0
    /// protected by ct_lock
    var peak = 0
    /// protected by ct_lock: the next connection's serial (insertion order, for export)
    var nextSerial: UInt64 = 0
    /// Removed connections, freed once no worker can see them (OVS: RCU).
    let reclaimer = Reclaimer()
    /// immutable: the injected faults
    let skipConnMutex: Bool
    let ctLockAfterConn: Bool

    /// One expiry list (an rculist in OVS 3.x): a doubly linked list
    /// through the connections' original tuple links, changed under
    /// ct_lock, walked forward without it.
    struct ExpiryList {
        var tail: UnsafeMutablePointer<ConnNode>? = nil
        var count = 0
    }

    public init(_ config: TableConfig) {
        do { try config.validate(for: Self.traits) } catch { preconditionFailure(error.description) }
        self.config = config
        timeouts = config.timeouts
        seed = config.hashSeed ?? UInt32.random(in: .min ... .max)
        limit = config.maxConnections ?? Self.defaultLimit
        // As cmap, the map starts small and grows with the connections:
        // nothing is set aside for the limit.
        moves = .allocate(capacity: 1)
        moves.initialize(to: Atomic(0))
        mapSlot = Atomic(Self.makeMap(buckets: CuckooMap.minBuckets, basis: seed &* 0x9E37_79B9 ^ 0x5bd1_e995, moves: moves))
        ctMutex = .allocate(capacity: 1)
        ctMutex.initialize(to: pthread_mutex_t())
        // Adaptive, as OVS's `ovs_mutex_init_adaptive(&ct->ct_lock)`.
        PThread.initMutex(ctMutex, adaptive: true)
        bfsQueue = .allocate(capacity: CuckooMap.maxQueue)
        bfsQueue.initialize(repeating: CuckooMap.Path(), count: CuckooMap.maxQueue)
        lists = .allocate(capacity: Self.expiryListCount)
        lists.initialize(repeating: ExpiryList(), count: Self.expiryListCount)
        heads = .allocate(capacity: Self.expiryListCount)
        for l in 0..<Self.expiryListCount { (heads + l).initialize(to: Atomic(0)) }
        skipConnMutex = config.faults.contains(.skipConnMutex)
        ctLockAfterConn = config.faults.contains(.ctLockAfterConn)
    }

    deinit {
        var conns: [UnsafeMutablePointer<ConnNode>] = []
        for l in 0..<Self.expiryListCount {
            var c = head(l)
            while let x = c { c = Self.next(x); conns.append(x) }
        }
        conns.append(contentsOf: reclaimer.takeAll())
        for c in conns { ConnNode.destroy(c) }
        Self.destroyMap(mapSlot.load(ordering: .acquiring))
        for r in retiredMaps { Self.destroyMap(r.map) }
        moves.deallocate()
        lists.deinitialize(count: Self.expiryListCount)
        lists.deallocate()
        heads.deinitialize(count: Self.expiryListCount)
        heads.deallocate()
        bfsQueue.deinitialize(count: CuckooMap.maxQueue)
        bfsQueue.deallocate()
        PThread.destroyMutex(ctMutex)
        ctMutex.deallocate()
    }

    public var hashSeed: UInt32? { seed }

    /// One slot per place under the connection limit (at least one per
    /// list), dealt to the expiry lists in equal shares, so that OVS's
    /// pass budget of `limit / 64` connections is 1/64 of the slots.
    public var sweepSlots: Int { max(limit, Self.expiryListCount) }

    public func registerWorker() -> Int { reclaimer.register() }
    public func workerQuiescent(_ slot: Int) { reclaimer.quiescent(slot) }
    public func workerOffline(_ slot: Int) { reclaimer.offline(slot) }
    public func reclaim(_ ctx: inout WorkerContext) {
        reclaimer.collect(&ctx)
        freeRetiredMaps(&ctx)
    }

    // MARK: Locks

    /// ct_lock as a lock of the declared order.
    @inline(__always)
    var ctLock: RankedLock<PThreadMutexRef> { RankedLock(PThreadMutexRef(ctMutex), rank: .ctLock) }

    @inline(__always)
    func lockCT(_ ctx: inout WorkerContext, file: StaticString = #fileID, line: UInt = #line) {
        ctLock.lock(&ctx.locks, counting: &ctx.stats.tableLock, file: file, line: line)
    }

    /// Preconditions: ct_lock is held (taken by `lockCT`).
    @inline(__always)
    func unlockCT(_ ctx: inout WorkerContext) { ctLock.unlock(&ctx.locks) }

    /// The client hash of a key, symmetric as OVS's `conn_key_hash`: each
    /// endpoint (address, port) hashed alone from the seed, the two XORed,
    /// so a tuple and its reverse hash alike; then the protocols mixed in.
    /// The one-at-a-time steps are the package's Jenkins hash; OVS uses
    /// its own `hash_add_bytes32` with `hash_basis`.
    @inline(__always)
    func hash(_ id: TupleID) -> UInt32 {
        let len = id.addressLength
        var a = seed, b = seed
        JenkinsHash.mixAddress(&a, id.srcAddr, length: len)
        JenkinsHash.mix16LE(&a, id.srcPort)
        JenkinsHash.mixAddress(&b, id.dstAddr, length: len)
        JenkinsHash.mix16LE(&b, id.dstPort)
        var h = a ^ b
        JenkinsHash.mix16LE(&h, UInt16(id.transProto.rawValue))
        JenkinsHash.mix16LE(&h, id.netProto.rawValue)
        h &+= h &<< 3
        h ^= h &>> 11
        h &+= h &<< 15
        return h
    }
}
