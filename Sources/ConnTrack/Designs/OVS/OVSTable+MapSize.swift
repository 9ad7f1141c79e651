import Sync
import struct Synchronization.Atomic

// The map's size as cmap keeps it (lib/cmap.c): it starts small, doubles
// when an insert would take it past 85 % of its slots (`cmap_insert`),
// halves when a removal leaves it under 20 % (`cmap_replace`), and is
// rebuilt at the same size with another basis when an insert finds no
// cuckoo path (`cmap_rehash`). A rebuild fills a new map beside the old
// one under ct_lock and publishes it; lookups that loaded the old map go
// on in it, unchanged from then on, and it is freed once every registered
// thread has passed a quiescent point (OVS: `ovsrcu_postpone`).
extension OVSTable {
    /// The current map. Lock-free readers load it once per lookup or walk
    /// and hold it only until their next quiescent point.
    @inline(__always)
    var map: CuckooMap { mapSlot.load(ordering: .acquiring).pointee }

    /// Rebuilds tried at one size before an insert gives up: only keys
    /// that share one 32-bit hash, more than two buckets hold, defeat every
    /// basis (cmap chains them instead).
    static var rebuildsPerInsert: Int { 8 }

    static func makeMap(buckets: Int, basis: UInt32, moves: UnsafeMutablePointer<Atomic<UInt64>>) -> UnsafeMutablePointer<CuckooMap> {
        let p = UnsafeMutablePointer<CuckooMap>.allocate(capacity: 1)
        p.initialize(to: CuckooMap(buckets: buckets, basis: basis, moves: moves))
        return p
    }

    /// Preconditions: no thread can read the map.
    static func destroyMap(_ p: UnsafeMutablePointer<CuckooMap>) {
        p.pointee.destroy()
        p.deinitialize(count: 1)
        p.deallocate()
    }

    /// `cmap_insert`: the map doubled first if it is full. False only when
    /// no rebuild finds room for the key (see `rebuildsPerInsert`).
    /// Preconditions: ct_lock is held.
    func insertKey(_ node: UnsafeMutablePointer<TupleNode>, hash: UInt32, _ ctx: inout WorkerContext) -> Bool {
        var m = map
        if mapEntries >= m.maxEntries, let bigger = rebuild(buckets: m.bucketCount * 2, &ctx) { m = bigger }
        var tries = 0
        while m.insert(node, hash: hash, queue: bfsQueue) == nil {
            tries += 1
            guard tries <= Self.rebuildsPerInsert, let again = rebuild(buckets: m.bucketCount, &ctx) else { return false }
            m = again
        }
        mapEntries += 1
        return true
    }

    /// Takes `node` out of the map, then halves the map if it is under 20 %
    /// full. Returns false when the node was not there.
    /// Preconditions: ct_lock is held.
    func removeKey(_ node: UnsafeMutablePointer<TupleNode>, hash: UInt32, _ ctx: inout WorkerContext) -> Bool {
        let m = map
        guard m.remove(node, hash: hash) else { return false }
        mapEntries -= 1
        if mapEntries < m.minEntries { _ = rebuild(buckets: m.bucketCount / 2, &ctx) }
        return true
    }

    /// `cmap_rehash`: a map of `buckets` with every key of the current one,
    /// published in its place; the old one is retired. Each failed attempt
    /// takes the next basis (cmap: a random one). Returns the new map, or
    /// nil when no attempt fitted every key (the old one stays).
    /// Preconditions: ct_lock is held.
    func rebuild(buckets: Int, _ ctx: inout WorkerContext) -> CuckooMap? {
        let oldPointer = mapSlot.load(ordering: .relaxed)
        let old = oldPointer.pointee
        var basis = old.basis
        for _ in 0..<Self.rebuildsPerInsert {
            let fresh = Self.makeMap(buckets: buckets, basis: basis, moves: moves)
            if copyKeys(from: old, to: fresh.pointee) {
                // A walk of the old map that reads this unchanged at its end
                // saw every key it had.
                moves.pointee.add(1, ordering: .sequentiallyConsistent)
                mapSlot.store(fresh, ordering: .releasing)
                retireMap(oldPointer, &ctx)
                return fresh.pointee
            }
            Self.destroyMap(fresh)
            basis = basis &* 0x9E37_79B9 &+ 0x7F4A_7C15
        }
        return nil
    }

    /// Every key of `old` into `fresh` (not published), with the hash it was
    /// stored under. False when one finds no room.
    /// Preconditions: ct_lock is held.
    func copyKeys(from old: CuckooMap, to fresh: CuckooMap) -> Bool {
        for b in 0..<old.bucketCount {
            for i in 0..<CuckooMap.slots {
                let e = old.entry(b, i)
                guard e != 0, let node = UnsafeMutablePointer<TupleNode>(bitPattern: UInt(e)) else { continue }
                if fresh.insert(node, hash: old.hashAt(b, i), queue: bfsQueue) == nil { return false }
            }
        }
        return true
    }

    /// Preconditions: ct_lock is held; `p` is no longer published.
    func retireMap(_ p: UnsafeMutablePointer<CuckooMap>, _ ctx: inout WorkerContext) {
        retiredMapsMutex.lock(&ctx.locks, rank: .retireList)
        retiredMaps.append((reclaimer.epochs.advance(), p))
        retiredMapsMutex.unlock(&ctx.locks, rank: .retireList)
    }

    /// Frees the replaced maps every registered thread has moved past.
    /// Preconditions: the caller is at a quiescent point.
    func freeRetiredMaps(_ ctx: inout WorkerContext) {
        retiredMapsMutex.lock(&ctx.locks, rank: .retireList)
        let minSeen = reclaimer.epochs.minSeen()
        var ready: [UnsafeMutablePointer<CuckooMap>] = []
        retiredMaps.removeAll { r in
            guard minSeen > r.epoch else { return false }
            ready.append(r.map)
            return true
        }
        retiredMapsMutex.unlock(&ctx.locks, rank: .retireList)
        for p in ready { Self.destroyMap(p) }
    }

    /// Bytes of the current map and of those waiting to be freed.
    /// Preconditions: ct_lock is held.
    var mapBytes: Int {
        retiredMapsMutex.lock()
        defer { retiredMapsMutex.unlock() }
        return map.touchedBytes + retiredMaps.reduce(0) { $0 + $1.map.pointee.touchedBytes }
    }
}
