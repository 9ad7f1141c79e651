/// The calendar's events beyond its horizon (`EventCalendar.far`).
/// A min-heap of (time, event), ties by event number. Sifts move a hole
/// through the buffer (one write per level, no bounds or uniqueness check
/// per step).
struct EventHeap {
    var items: [(Int64, Int32)] = []
    var peek: (Int64, Int32)? { items.first }

    @inline(__always)
    static func less(_ a: (Int64, Int32), _ b: (Int64, Int32)) -> Bool { a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }

    mutating func push(_ t: Int64, _ id: Int32) {
        items.append((t, id))
        items.withUnsafeMutableBufferPointer { b in
            let x = (t, id)
            var i = b.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard Self.less(x, b[p]) else { break }
                b[i] = b[p]
                i = p
            }
            b[i] = x
        }
    }

    @discardableResult
    mutating func pop() -> (Int64, Int32)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items.withUnsafeMutableBufferPointer { b in
            let n = b.count
            var i = 0
            while true {
                let l = 2 * i + 1
                guard l < n else { break }
                let m = l + 1 < n && Self.less(b[l + 1], b[l]) ? l + 1 : l
                guard Self.less(b[m], last) else { break }
                b[i] = b[m]
                i = m
            }
            b[i] = last
        }
        return top
    }
}
