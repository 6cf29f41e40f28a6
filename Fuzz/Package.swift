// swift-tools-version: 5.4
// 5.4, not newer: from 5.5 on SwiftPM renames an executable's `main` (for testable
// executables) and links `--defsym main=<target>_main`, which `-parse-as-library` leaves
// undefined; libFuzzer must supply `main` itself.
// libFuzzer harnesses for the parsers that read bytes from the user's disk. A separate
// package so the main build never sees fuzzer flags: `make fuzz` builds it with
// `-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library`, which instruments NN too
// (coverage guides the fuzzer through the parsers) and lets libFuzzer provide `main`.

import PackageDescription

let package = Package(
    name: "swift-nn-fuzz",
    dependencies: [
        .package(name: "swift-nn", path: ".."),
    ],
    targets: [
        /// IDXArray.decode(fileBytes:path:): gzip detection, inflate, header, payload size.
        .executableTarget(name: "FuzzIDX", dependencies: [.product(name: "NN", package: "swift-nn")]),
        /// SafeTensorsFile.parse(_:path:): header length, JSON, entries, byte ranges.
        .executableTarget(name: "FuzzSafeTensors", dependencies: [.product(name: "NN", package: "swift-nn")]),
        /// NumPyArray.decode / decodeArchive: .npy header dict, dtypes, sizes; zip directory, inflate, CRC.
        .executableTarget(name: "FuzzNumPy", dependencies: [.product(name: "NN", package: "swift-nn")]),
    ]
)
