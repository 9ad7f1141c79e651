import ArgumentParser
import ConnTrack
import Foundation
import Harness
import Sync

/// Options that save, restore and list a table (`run`).
struct SnapshotOptions: ParsableArguments {
    @Option(help: "Save the table to this file at the end of the run (before the end-of-run checks), as the seed's beforeSave does.")
    var save: String?
    @Option(help: "With --save: save when virtual time reaches this many seconds instead (0...1000000000; workers paused at a batch or window boundary; the run goes on).")
    var saveAt: Double?
    @Option(help: "Start from a saved table; its design, variant, buckets, hash seed and timeouts come from the file (unless --rehash). A scenario with the same options goes on from its saved stream position.")
    var restore: String?
    @Flag(help: "With --restore: load the connections into the design, variant and bucket count given on the command line.")
    var rehash = false
    @Option(help: "Write the connections at the end of the run as conntrack -L does to this file ('-': standard output).")
    var dump: String?
    @Option(help: "Format of --dump: text, json or csv.")
    var dumpFormat: ConntrackListing.Format = .text
}

extension ConntrackListing.Format: ExpressibleByArgument {}

/// Where the run's snapshots go: the one to save and the one to list,
/// written after the run (a failed write is reported then, with exit 1).
final class SnapshotSink: @unchecked Sendable {
    let lock = HeapMutex()
    /// protected by lock
    var toSave: TableSnapshot?
    /// protected by lock
    var atEnd: TableSnapshot?
    let saveMidRun: Bool
    init(saveMidRun: Bool) { self.saveMidRun = saveMidRun }

    func take(_ s: TableSnapshot, atEnd end: Bool) {
        lock.withLock {
            if end { atEnd = s } else if saveMidRun { toSave = s }
        }
    }
}

extension SnapshotOptions {
    /// Reads a saved table, or exits with its one-line error (code 2).
    static func load(_ path: String, option: String) -> TableSnapshot {
        var st = stat()
        guard stat(path, &st) == 0 else { fail("\(option): cannot open '\(path)': \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { fail("\(option): '\(path)' is not a regular file") }
        let t0 = MonotonicClock.read()
        guard let data = FileManager.default.contents(atPath: path) else { fail("\(option): cannot read '\(path)'") }
        switch Result(catching: { () throws(SnapshotError) -> TableSnapshot in try TableSnapshot.decode(Array(data), name: path) }) {
        case .success(var s):
            s.loadNanos = MonotonicClock.read() - t0
            return s
        case .failure(let e): fail("\(option) \(e.description)")
        }
    }

    /// Applies --save, --save-at, --restore and --dump to `cfg`; returns
    /// the sink that collects the tables to write.
    /// `designGiven`: the command line named a design (`--design`), which a
    /// restore without `--rehash` must then match.
    func apply(_ cfg: inout RunConfig, repeats: Int, designGiven: Bool) throws -> SnapshotSink? {
        guard save != nil || restore != nil || dump != nil || saveAt != nil else { return nil }
        guard repeats == 1, cfg.soak == nil else {
            throw ValidationError("--save, --restore and --dump work on a single run (not with --repeats or --soak)")
        }
        if let t = saveAt {
            guard save != nil else { throw ValidationError("--save-at needs --save FILE") }
            guard t >= 0 && t <= 1e9 && !t.isNaN else { throw ValidationError("--save-at must be in 0...1000000000 seconds, got \(t)") }
            cfg.saveAt = Int64(t * 1e9)
        }
        if let restore {
            var s = Self.load(restore, option: "--restore")
            // The connections keep their age on the run's clock: a capture's
            // or a real clock's timeline, or the saved virtual one.
            if cfg.clock != .virtual {
                s = s.rebased(toEpoch: MonotonicClock.unixEpoch())
            } else if case .capture = cfg.source {
                s = s.rebased(toEpoch: cfg.clockEpochUnixNanos)
            } else {
                cfg.clockEpochUnixNanos = s.header.clockEpochUnixNanos
            }
            if !rehash {
                let h = s.header
                guard let d = TableDesigns.named(h.design) else {
                    fail("--restore \(restore): the table's design '\(h.design)' is not one of \(TableDesigns.names.joined(separator: ", ")) (a plugin's table: give its --design plugin:PATH too)")
                }
                // A design named on the command line is not silently replaced by the file's.
                if designGiven, let given = TableDesigns.named(cfg.design)?.traits.name, given != d.traits.name {
                    throw ValidationError("--restore \(restore) holds a \(h.design) table, not a \(given) one: add --rehash to load its connections into --design \(cfg.design), or drop --design")
                }
                cfg.design = h.design
                cfg.table.variant = h.variant.flatMap(Variant.init(rawValue:))
                if d.traits.supportsVariants && cfg.table.variant == nil {
                    fail("--restore \(restore): the table's variant '\(h.variant ?? "")' is not one of \(d.traits.variants.map(\.rawValue).joined(separator: ", "))")
                }
                cfg.table.buckets = h.buckets
                cfg.table.bucketsGiven = true
                cfg.table.hashSeed = h.hashSeed
                cfg.table.timeouts = h.timeouts
                cfg.table.maxConnections = h.maxConnections
            }
            cfg.restore = s
            cfg.rehash = rehash
        }
        // `--op save` saves while running: the last one is written.
        let saveOp = cfg.operations.contains { $0.kind == .save }
        if saveOp && saveAt != nil { throw ValidationError("--op save and --save-at both say when to save: give one") }
        cfg.saveAtEnd = (save != nil && saveAt == nil && !saveOp) || dump != nil
        let sink = SnapshotSink(saveMidRun: saveAt != nil || saveOp)
        cfg.onSnapshot = { s, end in sink.take(s, atEnd: end) }
        try validated(cfg)
        return sink
    }

    /// Writes what the run saved and listed.
    func write(_ sink: SnapshotSink, save saveOut: OutputFile?, dump dumpOut: OutputFile?) throws {
        let (mid, end) = sink.lock.withLock { (sink.toSave, sink.atEnd) }
        if let saveOut {
            // --save-at beyond the last packet: the table at the end.
            guard let s = sink.saveMidRun ? (mid ?? end) : end else { return }
            let t0 = MonotonicClock.read()
            let bytes = try s.encoded()
            try saveOut.write(bytes)
            let secs = Double(MonotonicClock.read() - t0) / 1e9
            writeLine(saveOut.isStdout ? 2 : 1, "saved \(s.records.count) connections at virtual \(String(format: "%.3f", Double(s.header.savedAt) / 1e9)) s to \(saveOut.path): \(bytes.count) bytes (\(s.records.isEmpty ? 0 : bytes.count / s.records.count) per connection); table read in \(String(format: "%.3f", Double(s.exportNanos) / 1e9)) s, encoded and written (fsync) in \(String(format: "%.3f", secs)) s")
        }
        if let dumpOut, let s = end {
            let rows = ConntrackListing.rows(s.records, timeouts: s.header.timeouts, now: s.header.savedAt)
            try dumpOut.write(try ConntrackListing.render(rows, dumpFormat))
        }
    }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the connections of a saved table as conntrack -L does (or as JSON or CSV rows).")

    @Argument(help: "A table saved with run --save.")
    var file: String
    @Option(help: "text (conntrack -L lines), json or csv.")
    var format: ConntrackListing.Format = .text

    mutating func run() throws {
        let s = SnapshotOptions.load(file, option: "dump")
        if let d = TableDesigns.named(s.header.design) {
            // The rules the design would apply on import.
            let dupes = s.header.variant.flatMap(Variant.init(rawValue:)).map { d.traits.duplicateIDVariants.contains($0) } ?? false
            do throws(ImportError) { try s.records.validateForImport(allowDuplicateIDs: dupes) } catch {
                fail("dump " + s.describe(record: error.record, error.reason))
            }
        }
        let rows = ConntrackListing.rows(s.records, timeouts: s.header.timeouts, now: s.header.savedAt)
        try OutputFile.writeAll(1, Array(try ConntrackListing.render(rows, format).utf8), what: "standard output")
    }
}
