import Sync
import struct Synchronization.Atomic

// `nf_conntrack_hash_resize` (net/netfilter/nf_conntrack_core.c), which a
// write to `nf_conntrack_hashsize` runs, as `--op resize:N`. The new array
// is allocated first; then, under the all-stripes lock with every stripe
// drained (`nf_conntrack_all_lock`) and the generation odd, each entry is
// moved to its bucket in the new array; lookups go on without a lock the
// whole time and may miss an entry in flight (the kernel's comment: "we
// might get false negatives during connection lookup"), and an insert that
// follows such a miss waits for the stripes and then finds the entry (a
// clash). The old array is freed once no reader can be on it
// (`synchronize_net`).
extension LinuxTable {
    public func resizeWhileRunning(to slots: Int, now: Int64, slot: Int,
                                   _ ctx: inout WorkerContext) -> OperationCounts? {
        precondition(slots >= 1, "resize to \(slots) buckets")
        let size = Self.roundedToPage(slots)
        var n = OperationCounts()
        let fresh = LinuxHash.make(size: size)
        let newHeads = fresh.pointee.heads
        lockAll(&ctx)
        // `nf_conntrack_all_lock`: from here a first stripe is taken behind
        // `allLock`; each stripe is taken once and let go, so that whoever
        // held one has finished with it.
        locksAll.store(true, ordering: .sequentiallyConsistent)
        for i in 0..<Self.stripeCount {
            lockStripePlain(i, &ctx)
            unlockStripe(i, &ctx)
        }
        generation.add(1, ordering: .sequentiallyConsistent)
        let oldPointer = current.load(ordering: .relaxed)
        let old = oldPointer.pointee
        // Each chain from its tail (the kernel moves from the head, which
        // reverses them): a chain is kept newest first, which export's
        // insertion order relies on; no Linux lookup depends on the order.
        var chain: [UInt] = []
        for b in 0..<old.size {
            chain.removeAll(keepingCapacity: true)
            var v = old.heads[b].load(ordering: .relaxed)
            while v & 1 == 0 {
                chain.append(v)
                v = LinuxConn(link: v).next(LinuxConn.direction(v)).pointee.load(ordering: .relaxed)
            }
            for link in chain.reversed() {
                let c = LinuxConn(link: link), d = LinuxConn.direction(link)
                unlink(c, d)
                pushFront(c, d, bucket(c.tuple(d), size: size), heads: newHeads)
                n.visited += 1
            }
        }
        current.store(fresh, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        locksAll.store(false, ordering: .releasing)
        unlockAll(&ctx)
        // `synchronize_net`, then `kvfree(old_hash)`. With reclamation off
        // (an injected fault) nothing is freed before the table.
        if reclaimer.enabled {
            waitForReaders(slot: slot)
            LinuxHash.destroy(oldPointer)
        } else {
            keptHashes.append(oldPointer)
        }
        n.slotsBefore = old.size
        n.slotsAfter = size
        return n
    }

    /// Returns once every registered thread has passed a quiescent point
    /// and any reaper pass has ended, since this call: none can still be on
    /// a table replaced before it. Preconditions: the caller, registered in
    /// `slot`, holds nothing of the table.
    func waitForReaders(slot: Int) {
        reclaimer.epochs.synchronize(slot: slot)
    }
}
