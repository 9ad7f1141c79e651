/// The order in which a chained table's connections were inserted, as its
/// chains record it: within a chain built by push-front, each connection
/// is newer than the one after it. An export lists connections oldest
/// first so that re-inserting them in that order (a restore) rebuilds
/// every chain as it was.
enum InsertionOrder {
    /// Connections `0..<count` ordered so that for every edge `older`
    /// comes before `newer` (Kahn's algorithm, seeded in index order, so
    /// the result is a function of the numbering and edges alone). Chains
    /// built only by push-front cannot form a cycle; if corruption made
    /// one, its connections follow the rest, so that none is lost.
    static func indices(count n: Int, edges: [(older: Int32, newer: Int32)]) -> [Int32] {
        // Dependents of each connection, as one array cut into runs.
        var start = [Int32](repeating: 0, count: n + 1)
        var pending = [Int32](repeating: 0, count: n)
        for e in edges { start[Int(e.older) + 1] += 1; pending[Int(e.newer)] += 1 }
        for k in 0..<n { start[k + 1] += start[k] }
        var fill = start
        var dependents = [Int32](repeating: 0, count: edges.count)
        for e in edges { dependents[Int(fill[Int(e.older)])] = e.newer; fill[Int(e.older)] += 1 }
        var ready = (0..<n).filter { pending[$0] == 0 }.map(Int32.init)
        ready.reserveCapacity(n)
        var i = 0
        while i < ready.count {
            let c = Int(ready[i])
            i += 1
            for k in Int(start[c])..<Int(start[c + 1]) {
                let d = Int(dependents[k])
                pending[d] -= 1
                if pending[d] == 0 { ready.append(Int32(d)) }
            }
        }
        if ready.count < n {
            var placed = [Bool](repeating: false, count: n)
            for k in ready { placed[Int(k)] = true }
            ready += (0..<n).filter { !placed[$0] }.map(Int32.init)
        }
        return ready
    }
}
