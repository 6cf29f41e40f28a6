// swift-tools-version: 6.2
// 6.2 or later: a package with unsafe flags (needed to reach libomp's header and
// library) can still be used as a versioned dependency from that release on.

import PackageDescription

// MARK: - Build settings for the C kernels

/// Swift's clang ships no `omp.h`; Debian's libomp-dev (LLVM 14) provides the header and
/// the runtime. One OpenMP runtime only: libomp, never libgomp beside it.
let openMPInclude = "/usr/lib/llvm-14/lib/clang/14.0.6/include"
let openMPLib = "/usr/lib/llvm-14/lib"

let kernelCSettings: [CSetting] = [
    .unsafeFlags(["-fopenmp", "-I\(openMPInclude)", "-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno"]),
]

let kernelLinkerSettings: [LinkerSetting] = [
    .linkedLibrary("openblas"),
    .linkedLibrary("omp"),
    .linkedLibrary("m"),
    .unsafeFlags(["-L\(openMPLib)", "-Xlinker", "-rpath", "-Xlinker", openMPLib]),
]

let package = Package(
    name: "swift-nn",

    // MARK: - Public API

    products: [
        .library(name: "NN", targets: ["NN"]),
        .executable(name: "nn", targets: ["nn"]),
    ],

    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],

    targets: [

        // MARK: - Library

        /// C99 kernels (OpenMP + OpenBLAS). Knows nothing of Swift.
        .target(
            name: "CKernels",
            cSettings: kernelCSettings,
            linkerSettings: kernelLinkerSettings
        ),
        /// The system zlib, for gzip-compressed IDX files.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        /// Debian's libpng (libpng-dev), for `nn predict` on PNG files.
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        /// Tensor, autodiff tape, layers, losses, optimizers, data, training.
        .target(
            name: "NN",
            dependencies: ["CKernels", "CZlib"]
        ),

        // MARK: - Command-line tool

        /// `nn train | eval | predict | demo`: the reference models on Fashion-MNIST, and small demos.
        .executableTarget(
            name: "nn",
            dependencies: ["NN", "CZlib", "CPNG", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: - Implementation details: the naive reference

        /// Plain Swift loops written from the definitions: the tests' oracle and the
        /// benchmarks' baseline.
        .target(name: "NNReference"),

        // MARK: - Benchmarks

        /// The benchmark's baselines with nothing of ours in between: raw cblas_sgemm and a
        /// parallel memory copy (the compute and bandwidth ceilings).
        .target(
            name: "BenchShim",
            path: "Benchmarks/BenchShim",
            cSettings: kernelCSettings,
            linkerSettings: kernelLinkerSettings
        ),
        .executableTarget(
            name: "KernelBench",
            dependencies: ["CKernels", "NNReference", "NN", "BenchShim"],
            path: "Benchmarks/KernelBench"
        ),

        // MARK: - Tests

        /// One tolerance helper shared by every test target.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels", "NNReference", "TestSupport"]
        ),
        .testTarget(
            name: "NNReferenceTests",
            dependencies: ["NNReference", "TestSupport"]
        ),
        .testTarget(
            name: "NNTests",
            dependencies: ["NN", "NNReference", "TestSupport"]
        ),
        /// Saves a large checkpoint in a loop: CrashSafetyTests SIGKILLs it mid-save.
        .executableTarget(
            name: "CheckpointWriter",
            dependencies: ["NN"],
            path: "Tests/Helpers/CheckpointWriter"
        ),
        /// Runs the built `nn` binary: argument errors, a short training run, eval, predict, demos.
        /// CZlib: the tests write their own PNG files, independently of libpng.
        .testTarget(
            name: "nnCLITests",
            dependencies: ["nn", "NN", "CZlib"]
        ),
    ]
)
