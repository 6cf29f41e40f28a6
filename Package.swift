// swift-tools-version: 6.2
// 6.2 or later: a package with unsafe flags (-fopenmp, -O3) can still be used as a
// versioned dependency from that release on.

import Foundation
import PackageDescription

// MARK: - Build settings for the C kernels

/// Our declarations of the OpenMP runtime calls (Sources/CKernels/openmp/omp.h): Swift's
/// clang ships no omp.h and Debian puts libomp's in a versioned directory.
let openMPHeaders = Context.packageDirectory + "/Sources/CKernels/openmp"

/// The name libomp links by from the linker's default search path, or nil when it is not
/// installed. One OpenMP runtime only: libomp, never libgomp beside it. Debian and Ubuntu's
/// libomp-dev (any LLVM version) install `libomp5.so` in the multiarch directory; other
/// distributions install `libomp.so`.
let openMPLibrary: String? = {
    let libraryDirectories = ["/usr/local/lib", "/usr/lib64", "/usr/lib"]
        + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? [])
            .filter { $0.hasSuffix("-linux-gnu") }.sorted().map { "/usr/lib/" + $0 }
    for name in ["omp", "omp5"] {
        if libraryDirectories.contains(where: { FileManager.default.fileExists(atPath: "\($0)/lib\(name).so") }) {
            return name
        }
    }
    return nil
}()

let kernelCSettings: [CSetting] = [
    .unsafeFlags(["-fopenmp", "-I", openMPHeaders, "-O3", "-ffp-contract=fast", "-fno-math-errno"]),
] + (openMPLibrary == nil
    // Without libomp, ckernels.h stops the build naming the package.
    ? [.define("CK_LIBOMP_MISSING")] : [])

let kernelLinkerSettings: [LinkerSetting] = [
    .linkedLibrary("openblas"),
    .linkedLibrary(openMPLibrary ?? "omp"),
    .linkedLibrary("m"),
]

let package = Package(
    name: "swift-nn",

    // MARK: - Public API

    products: [
        .library(name: "NN", targets: ["NN"]),
        /// Data-parallel training over MPI (links Open MPI; NN alone never does).
        .library(name: "NNDistributed", targets: ["NNDistributed"]),
        .executable(name: "nn", targets: ["nn"]),
    ],

    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `make docs`: the DocC catalogue as a static site (no product depends on it).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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

        // MARK: - Distributed training (Open MPI)

        /// Open MPI's C API, found through Debian's pkg-config file (libopenmpi-dev), with
        /// a shim for the handles that are macros.
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        /// `MPICommunicator`: NN's `Communicator` over MPI_COMM_WORLD.
        .target(
            name: "NNDistributed",
            dependencies: ["NN", "CMPI", "CKernels"]
        ),

        // MARK: - Command-line tool

        /// `nn train | eval | predict | demo`: the reference models on Fashion-MNIST, and small demos.
        .executableTarget(
            name: "nn",
            dependencies: ["NN", "NNDistributed", "CZlib", "CPNG", .product(name: "ArgumentParser", package: "swift-argument-parser")]
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

        /// The data-parallel rows of `make bench` (all-reduce bandwidth, W2 over ranks), under mpirun.
        .executableTarget(
            name: "DistributedBench",
            dependencies: ["NN", "NNDistributed"],
            path: "Benchmarks/DistributedBench"
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
            dependencies: ["NN", "NNReference", "TestSupport"],
            // .npy/.npz files NumPy wrote, read by path from the tests (not bundled resources).
            exclude: ["Fixtures"]
        ),
        /// Saves a large checkpoint in a loop: CrashSafetyTests SIGKILLs it mid-save.
        .executableTarget(
            name: "CheckpointWriter",
            dependencies: ["NN"],
            path: "Tests/Helpers/CheckpointWriter"
        ),
        /// Trains W1 under mpirun (or alone) with injectable faults: DistributedTests runs it.
        .executableTarget(
            name: "DistributedTrainer",
            dependencies: ["NN", "NNDistributed"],
            path: "Tests/Helpers/DistributedTrainer"
        ),
        /// Starts DistributedTrainer under Open MPI's mpirun: N ranks against one process,
        /// uneven data, and failures that must end the job.
        .testTarget(
            name: "DistributedTests",
            dependencies: ["DistributedTrainer", "NN", "TestSupport"]
        ),
        /// Runs the built `nn` binary: argument errors, a short training run, eval, predict, demos.
        /// CZlib: the tests write their own PNG files, independently of libpng.
        .testTarget(
            name: "nnCLITests",
            dependencies: ["nn", "NN", "CZlib"]
        ),
    ]
)
