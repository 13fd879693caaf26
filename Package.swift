// swift-tools-version:6.0
import PackageDescription

// Module map (one job each):
//   PFSTensor      tensor core, seeded RNG, BLAS/SGEMM, convolution kernels (fast + naive reference)
//   PFSNN          layers with forward/backward, losses, optimisers, learning-rate schedules
//   PFSBench       benchmark harness behind `pfs bench`
//   pfs            thin command-line front end (parses and delegates)
//   PFSTestSupport finite-difference gradient checking and comparison helpers for the tests
let package = Package(
    name: "PruningFromScratch",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "PFSTensor", targets: ["PFSTensor"]),
        .library(name: "PFSNN", targets: ["PFSNN"]),
        .executable(name: "pfs", targets: ["pfs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "PFSTensor"),
        .target(name: "PFSNN", dependencies: ["PFSTensor"]),
        .target(name: "PFSBench", dependencies: ["PFSTensor", "PFSNN"]),
        .executableTarget(
            name: "pfs",
            dependencies: [
                "PFSTensor", "PFSNN", "PFSBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "PFSTestSupport", dependencies: ["PFSTensor", "PFSNN"]),
        .testTarget(name: "PFSTensorTests", dependencies: ["PFSTensor", "PFSTestSupport"]),
        .testTarget(name: "PFSNNTests", dependencies: ["PFSTensor", "PFSNN", "PFSTestSupport"]),
        .testTarget(name: "PFSBenchTests", dependencies: ["PFSBench", "PFSTensor"]),
    ],
    swiftLanguageModes: [.v5]
)
