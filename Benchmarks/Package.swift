// swift-tools-version: 6.3
import PackageDescription

// A separate package (as swift-nio does) so that `swift test` at the top
// level never builds package-benchmark. Run from this folder:
//   swift package benchmark
// A path dependency's identity is its folder's name, which depends on where
// the repository was cloned.
let rootName = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main")

let package = Package(
    name: "conntrack-bench-benchmarks",
    dependencies: [
        .package(path: ".."),
        // MallocInterposer only: the default RuntimeInterposer trait needs a
        // package that is not available here.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ConnTrackBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ConnTrack", package: rootName),
                .product(name: "Harness", package: rootName),
                .product(name: "FlowGen", package: rootName),
                .product(name: "Sync", package: rootName),
            ],
            path: "Benchmarks/ConnTrackBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
