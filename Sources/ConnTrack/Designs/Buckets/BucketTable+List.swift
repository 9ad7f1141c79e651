// The intrusive list: push-front and remove, as gVisor's ilist does
// (removal clears the element's links, which is what makes the 2020 walk
// stop after a removal).
extension BucketTable {
    /// Preconditions: bucket b is locked; t is not linked.
    @inline(__always)
    func pushFront(_ t: UnsafeMutablePointer<TupleNode>, _ b: Int) {
        let bp = bucketPtr(b)
        let head = bp.pointee.head
        t.pointee.next = head
        t.pointee.prev = nil
        head?.pointee.prev = t
        bp.pointee.head = t
        bp.pointee.length &+= 1
    }

    /// Preconditions: bucket b is locked and t is linked into it.
    @inline(__always)
    func unlink(_ t: UnsafeMutablePointer<TupleNode>, _ b: Int) {
        let bp = bucketPtr(b)
        let next = t.pointee.next
        let prev = t.pointee.prev
        if let p = prev { p.pointee.next = next } else { bp.pointee.head = next }
        next?.pointee.prev = prev
        t.pointee.next = nil
        t.pointee.prev = nil
        bp.pointee.length &-= 1
    }

    /// Finds a tuple by id without reaping. Preconditions: bucket b is locked.

    func find(_ id: TupleID, in b: Int) -> UnsafeMutablePointer<TupleNode>? {
        var t = bucketPtr(b).pointee.head
        while let n = t {
            if n.pointee.id == id { return n }
            t = n.pointee.next
        }
        return nil
    }
}
