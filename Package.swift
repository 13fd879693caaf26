// swift-tools-version:6.0
import PackageDescription

// Module map (one job each):
//   PFSKernelsC    AVX-512 kernels in C behind a run-time CPU check (Swift cannot target AVX-512
//                  without a compiler flag the manifest may not set)
//   PFSTensor      tensor core, seeded RNG, BLAS/SGEMM, convolution kernels (fast + naive reference)
//   PFSNN          layers with forward/backward, losses, optimisers, learning-rate schedules
//   PFSData        datasets (CIFAR binary, image folders with PNG), splits, augmentation, batch loading,
//                  and the bundled CIFAR-10 sample
//   PFSModels      architectures as generators of a channel configuration, MAC/parameter counting
//   PFSTraining    training and evaluation loops, safetensors checkpoints, resume, metrics log
//   PFSPruning     gate learning on frozen random weights, FLOPs-budget search, pruned architectures
//   PFSReport      self-contained HTML reports with SVG charts of any run directory
//   PFSExport      PyTorch module + torchrun DDP recipe, ONNX (own protobuf writer), weights imported back
//   PFSBench       benchmark harness behind `pfs bench`
//   pfs            thin command-line front end (parses and delegates)
//   PFSTestSupport finite-difference gradient checking, comparison helpers and synthetic data for the tests
let package = Package(
    name: "PruningFromScratch",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "PFSTensor", targets: ["PFSTensor"]),
        .library(name: "PFSNN", targets: ["PFSNN"]),
        .library(name: "PFSData", targets: ["PFSData"]),
        .library(name: "PFSModels", targets: ["PFSModels"]),
        .library(name: "PFSTraining", targets: ["PFSTraining"]),
        .library(name: "PFSPruning", targets: ["PFSPruning"]),
        .library(name: "PFSReport", targets: ["PFSReport"]),
        .library(name: "PFSExport", targets: ["PFSExport"]),
        .executable(name: "pfs", targets: ["pfs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "PFSKernelsC"),
        .target(name: "PFSTensor", dependencies: ["PFSKernelsC"]),
        .target(name: "PFSNN", dependencies: ["PFSTensor"]),
        .target(name: "PFSData", dependencies: ["PFSTensor"], resources: [.copy("Resources/cifar10-sample")]),
        .target(name: "PFSModels", dependencies: ["PFSTensor", "PFSNN"]),
        .target(name: "PFSTraining", dependencies: ["PFSTensor", "PFSNN", "PFSData", "PFSModels"]),
        .target(name: "PFSPruning", dependencies: ["PFSTensor", "PFSNN", "PFSData", "PFSModels", "PFSTraining"]),
        .target(name: "PFSReport", dependencies: ["PFSModels", "PFSTraining", "PFSPruning"]),
        .target(name: "PFSExport", dependencies: ["PFSModels", "PFSNN", "PFSTraining"]),
        .target(name: "PFSBench", dependencies: ["PFSTensor", "PFSNN", "PFSData", "PFSModels", "PFSTraining", "PFSPruning"]),
        .executableTarget(
            name: "pfs",
            dependencies: [
                "PFSTensor", "PFSNN", "PFSData", "PFSModels", "PFSTraining", "PFSPruning", "PFSReport", "PFSExport", "PFSBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "PFSTestSupport", dependencies: ["PFSTensor", "PFSNN", "PFSData", "PFSModels", "PFSTraining", "PFSPruning"]),
        .testTarget(name: "PFSTensorTests", dependencies: ["PFSTensor", "PFSTestSupport"]),
        .testTarget(name: "PFSNNTests", dependencies: ["PFSTensor", "PFSNN", "PFSTestSupport"]),
        .testTarget(name: "PFSDataTests", dependencies: ["PFSData", "PFSTensor", "PFSTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PFSModelsTests", dependencies: ["PFSModels", "PFSNN", "PFSTensor", "PFSTestSupport"]),
        .testTarget(name: "PFSTrainingTests",
                    dependencies: ["PFSTraining", "PFSModels", "PFSData", "PFSNN", "PFSTensor", "PFSTestSupport"]),
        .testTarget(name: "PFSPruningTests",
                    dependencies: ["PFSPruning", "PFSTraining", "PFSModels", "PFSData", "PFSNN", "PFSTensor",
                                   "PFSTestSupport"]),
        .testTarget(name: "PFSReportTests",
                    dependencies: ["PFSReport", "PFSPruning", "PFSTraining", "PFSModels", "PFSData", "PFSTestSupport"]),
        .testTarget(name: "PFSHardeningTests",
                    dependencies: ["PFSPruning", "PFSTraining", "PFSModels", "PFSData", "PFSNN", "PFSTensor", "PFSTestSupport"],
                    exclude: ["Corpus"]),
        .testTarget(name: "PFSExportTests",
                    dependencies: ["PFSExport", "PFSTraining", "PFSModels", "PFSNN", "PFSTensor", "PFSData", "PFSTestSupport"],
                    exclude: ["Python"]),
        .testTarget(name: "PFSBenchTests", dependencies: ["PFSBench", "PFSTensor"]),
    ],
    swiftLanguageModes: [.v5]
)
