import Sync

// Counters travel in saved tables (a restored run goes on counting), so
// they encode; the fixed-size arrays encode as JSON arrays.

extension ChainHistogram: Codable {
    enum CodingKeys: String, CodingKey { case counts, max, total }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let a = try c.decode([UInt64].self, forKey: .counts)
        guard a.count == Self.slots else {
            throw DecodingError.dataCorruptedError(forKey: .counts, in: c, debugDescription: "\(a.count) slots, not \(Self.slots)")
        }
        self.init()
        for i in 0..<Self.slots { counts[i] = a[i] }
        max = try c.decode(Int.self, forKey: .max)
        total = try c.decode(UInt64.self, forKey: .total)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode((0..<Self.slots).map { counts[$0] }, forKey: .counts)
        try c.encode(max, forKey: .max)
        try c.encode(total, forKey: .total)
    }
}

extension TableStats: Codable, Equatable {
    enum CodingKeys: String, CodingKey {
        case packets, lookups, found, notFound, insert, insertClash, insertFailed, drop, earlyDrop, searchRestart
        case packetDigest, created, removedInline, removedByReaper, removedOther, deferredByLockOrder
        case trackerResults, trackerInit, chain, bucketLock, connLock, tableLock
        case chainTooLong, invalid, removedByOperation
    }

    /// Counters added after the format was first saved.
    private static var added: [(CodingKeys, WritableKeyPath<TableStats, UInt64>)] {
        [(.chainTooLong, \.chainTooLong), (.invalid, \.invalid), (.removedByOperation, \.removedByOperation)]
    }

    /// The plain counters, by key (everything but the arrays and locks).
    private static var plain: [(CodingKeys, WritableKeyPath<TableStats, UInt64>)] { [
        (.packets, \.packets), (.lookups, \.lookups), (.found, \.found), (.notFound, \.notFound), (.insert, \.insert),
        (.insertClash, \.insertClash), (.insertFailed, \.insertFailed), (.drop, \.drop), (.earlyDrop, \.earlyDrop),
        (.searchRestart, \.searchRestart), (.packetDigest, \.packetDigest), (.created, \.created),
        (.removedInline, \.removedInline), (.removedByReaper, \.removedByReaper), (.removedOther, \.removedOther),
        (.deferredByLockOrder, \.deferredByLockOrder), (.trackerInit, \.trackerInit),
    ] }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        for (k, p) in Self.plain { self[keyPath: p] = try c.decode(UInt64.self, forKey: k) }
        // Added later: absent from older saved tables.
        for (k, p) in Self.added { self[keyPath: p] = try c.decodeIfPresent(UInt64.self, forKey: k) ?? 0 }
        let r = try c.decode([UInt64].self, forKey: .trackerResults)
        guard r.count == 6 else {
            throw DecodingError.dataCorruptedError(forKey: .trackerResults, in: c, debugDescription: "\(r.count) results, not 6")
        }
        for i in 0..<6 { trackerResults[i] = r[i] }
        chain = try c.decode(ChainHistogram.self, forKey: .chain)
        bucketLock = try c.decode(LockCounters.self, forKey: .bucketLock)
        connLock = try c.decode(LockCounters.self, forKey: .connLock)
        tableLock = try c.decode(LockCounters.self, forKey: .tableLock)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        for (k, p) in Self.plain + Self.added { try c.encode(self[keyPath: p], forKey: k) }
        try c.encode((0..<6).map { trackerResults[$0] }, forKey: .trackerResults)
        try c.encode(chain, forKey: .chain)
        try c.encode(bucketLock, forKey: .bucketLock)
        try c.encode(connLock, forKey: .connLock)
        try c.encode(tableLock, forKey: .tableLock)
    }

    public static func == (a: TableStats, b: TableStats) -> Bool {
        (plain + added).allSatisfy { a[keyPath: $0.1] == b[keyPath: $0.1] } && (0..<6).allSatisfy { a.trackerResults[$0] == b.trackerResults[$0] }
            && a.chain == b.chain && a.bucketLock == b.bucketLock && a.connLock == b.connLock && a.tableLock == b.tableLock
    }
}
