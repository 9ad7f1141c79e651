// swift-tools-version: 6.1
import PackageDescription

// Modules, from the bottom up:
//   Sync       pthread wrappers, threads, barrier, lock ranks and the rank
//              checker, watchdog slots, exit codes (no table knowledge)
//   ConnTrack  the table library: model, tracker, table designs behind one
//              protocol and a registry, reaper, reclamation, statistics
//   FlowGen    scenarios, the streaming generator, workloads (YAML files
//              played phase by phase), capture read/write
//   BuildInfo  the version and the commit the build was made from
//   Harness    drivers, sampler, watchdog, end-of-run checks, reports
//   conntrack-bench  the CLI
// Benchmarks/ is a separate package so `swift test` never builds
// package-benchmark.
//
// The per-packet loop lives beside the designs (ConnTrack), and each
// design's `processBatch` instantiates it with its own type, so the loop is
// specialised per design and clock without cross-module optimisation.
// README ("Checking the hot path") shows how to verify it with nm.
let package = Package(
    name: "conntrack-bench",
    products: [
        .library(name: "Sync", targets: ["Sync"]),
        .library(name: "ConnTrack", targets: ["ConnTrack"]),
        .library(name: "FlowGen", targets: ["FlowGen"]),
        .library(name: "Harness", targets: ["Harness"]),
        .executable(name: "conntrack-bench", targets: ["conntrack-bench"]),
        // The example plugin (docs/plugins.md): `swift build` puts
        // libExampleDesign.so next to the executable.
        .library(name: "ExampleDesign", type: .dynamic, targets: ["ExampleDesign"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        // Workload files (FlowGen/Workloads) are YAML.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "Sync"),
        // The version and the commit it was built from, stamped before every
        // build by the plugin below.
        .target(name: "BuildInfo", plugins: ["BuildStamp"]),
        .plugin(name: "BuildStamp", capability: .buildTool(), path: "Sources/BuildStampPlugin"),
        // Header-only software prefetch for the `fast` design's batched lookups.
        .target(name: "CPrefetch"),
        // The plugin ABI (include/conntrack_bench_design.h) and the host's
        // loader support (dlopen, the crash guard).
        .target(name: "CTBDesignABI", linkerSettings: [.linkedLibrary("dl")]),
        // The example plugin: the bucket table's fixed rules in C, built as
        // a shared object and loaded with --design plugin:PATH.
        // It includes the ABI header only (no link dependency), so its one
        // exported symbol is conntrack_bench_design.
        .target(name: "ExampleDesign",
                cSettings: [.headerSearchPath("../CTBDesignABI/include"), .unsafeFlags(["-O2", "-fvisibility=hidden"])]),
        .target(name: "ConnTrack", dependencies: ["Sync", "CPrefetch", "CTBDesignABI"]),
        // Workloads/Profiles: the built-in workloads, shipped as the files
        // a person can copy and edit.
        .target(name: "FlowGen", dependencies: ["ConnTrack", "Sync", "CPrefetch", .product(name: "Yams", package: "Yams")],
                resources: [.copy("Workloads/Profiles")]),
        // Allocator statistics (jemalloc's mallctl when it is loaded, else
        // glibc's mallinfo2); C because glibc's malloc.h is not in Swift's Glibc.
        .target(name: "CAllocStats"),
        .target(
            name: "Harness",
            dependencies: [
                "Sync", "ConnTrack", "FlowGen", "CAllocStats", "BuildInfo",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "conntrack-bench",
            dependencies: [
                "Sync", "Harness", "FlowGen", "ConnTrack", "BuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The traits that decide what the ThreadSanitizer run skips
        // (`.oneThread`), shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ConnTrackTests", dependencies: ["ConnTrack", "Sync", "TestSupport"], exclude: ["jenkins-vectors.tsv"]),
        // Corpus/: seed captures for the capture-reader fuzz test (read by path).
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "FlowGen", "ConnTrack", "Sync", "TestSupport"], exclude: ["Corpus"]),
        .testTarget(name: "ConformanceTests", dependencies: ["Harness", "FlowGen", "ConnTrack", "Sync", "TestSupport"]),
        // The CLI's usage contract, run against the built executable (the
        // dependency makes `swift test` build it beside the test bundle).
        // PluginFixtures/: C sources of test-only plugins, built by the tests with cc.
        .testTarget(name: "CLITests", dependencies: ["conntrack-bench", "ConnTrack", "FlowGen", "TestSupport"], exclude: ["PluginFixtures", "Captures"]),
    ]
)
