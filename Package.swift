// swift-tools-version: 6.1
import PackageDescription

// The table core (ConnTrack) has no dependencies; FlowGen and Harness add the
// generator and the multi-threaded driver; the executable adds the CLI.
// Benchmarks/ is a separate package so `swift test` never builds
// package-benchmark.
let package = Package(
    name: "conntrack-bench",
    products: [
        .library(name: "ConnTrack", targets: ["ConnTrack"]),
        .library(name: "FlowGen", targets: ["FlowGen"]),
        .library(name: "Harness", targets: ["Harness"]),
        .executable(name: "conntrack-bench", targets: ["conntrack-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .target(name: "ConnTrack"),
        .target(name: "FlowGen", dependencies: ["ConnTrack"]),
        // Allocator statistics (jemalloc's mallctl when it is loaded, else
        // glibc's mallinfo2); C because glibc's malloc.h is not in Swift's Glibc.
        .target(name: "CAllocStats"),
        .target(
            name: "Harness",
            dependencies: [
                "ConnTrack", "FlowGen", "CAllocStats",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "conntrack-bench",
            dependencies: [
                "Harness", "FlowGen", "ConnTrack",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ConnTrackTests", dependencies: ["ConnTrack"], exclude: ["jenkins-vectors.tsv"]),
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "FlowGen", "ConnTrack"]),
    ]
)
