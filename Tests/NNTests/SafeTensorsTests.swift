import Foundation
import NN
import XCTest

/// The bytes of a safetensors file with `header` taken verbatim (no padding) and `data`.
private func rawFile(_ header: String, _ data: [UInt8] = []) -> [UInt8] {
    let h = Array(header.utf8)
    return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) } + h + data
}

/// Asserts that parsing `bytes` throws a `CheckpointError` accepted by `matches` whose message names the file.
private func assertRejected(_ bytes: [UInt8], path: String = "model.safetensors",
                            _ matches: (CheckpointError) -> Bool,
                            file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try SafeTensorsFile.parse(bytes, path: path)
        XCTFail("a corrupt file was accepted", file: file, line: line)
    } catch let error as CheckpointError {
        XCTAssertTrue(matches(error), "unexpected CheckpointError case: \(error)", file: file, line: line)
        XCTAssertTrue(error.description.hasPrefix(path + ":"), "message does not name \(path): \(error)",
                      file: file, line: line)
    } catch {
        XCTFail("expected a CheckpointError, got \(error)", file: file, line: line)
    }
}

final class SafeTensorsTests: XCTestCase {
    /// A file with every typed dtype, a scalar, and zero-size tensors.
    private func sampleFile() -> SafeTensorsFile {
        SafeTensorsFile(
            metadata: ["format": "pt", "step": "1200", "note": "quote \" backslash \\ newline \n tab \t é ✓"],
            tensors: [
                "layer1.weight": StoredTensor((0..<6).map { Float($0) - 2.5 }, shape: [2, 3]),
                "layer1.bias": StoredTensor([Float.pi, -0.0, .infinity], shape: [3]),
                "stats": StoredTensor([0.1, 1e-300, -7.25, .greatestFiniteMagnitude] as [Double], shape: [2, 2]),
                "labels": StoredTensor([Int32.min, -1, 0, Int32.max], shape: [4]),
                "adam.step": StoredTensor(scalar: Int64(1) << 40),
                "pixels": StoredTensor([UInt8](0...255), shape: [16, 16]),
                "rng.state": StoredTensor([UInt64.max, 0x9E37_79B9_7F4A_7C15, 1, 0], shape: [4]),
                "empty": StoredTensor([Float](), shape: [0, 3]),
                "empty.i64": StoredTensor([Int64](), shape: [0]),
            ])
    }

    func testRoundTripOfEveryDTypeAndShape() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = URL(fileURLWithPath: dir + "/checkpoint.safetensors")
        let original = sampleFile()
        try original.write(to: url)
        let read = try SafeTensorsFile.read(from: url)
        XCTAssertEqual(read.source, url.path)
        XCTAssertEqual(read.metadata, original.metadata)
        XCTAssertEqual(read.tensors, original.tensors)
        XCTAssertEqual(try read.values("layer1.weight", as: Float.self), [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
        let bias = try read.values("layer1.bias", as: Float.self)
        XCTAssertEqual(bias.map(\.bitPattern), [Float.pi, -0.0, .infinity].map(\.bitPattern))
        XCTAssertEqual(try read.values("stats", as: Double.self), [0.1, 1e-300, -7.25, .greatestFiniteMagnitude])
        XCTAssertEqual(try read.values("labels", as: Int32.self), [Int32.min, -1, 0, Int32.max])
        XCTAssertEqual(try read.tensor("adam.step").shape, [])
        XCTAssertEqual(try read.values("adam.step", as: Int64.self), [1 << 40])
        XCTAssertEqual(try read.values("pixels", as: UInt8.self), Array(0...255))
        XCTAssertEqual(try read.values("rng.state", as: UInt64.self), [UInt64.max, 0x9E37_79B9_7F4A_7C15, 1, 0])
        XCTAssertEqual(try read.tensor("empty").shape, [0, 3])
        XCTAssertEqual(try read.values("empty", as: Float.self), [])
        XCTAssertEqual(try read.values("empty.i64", as: Int64.self), [])
        // Writing what was read gives the same bytes: the format is reproducible.
        XCTAssertEqual(read.serialized(), original.serialized())
    }

    func testTypedAccessErrorsNameTheFileAndTensor() throws {
        let file = try SafeTensorsFile.parse(sampleFile().serialized(), path: "ckpt.safetensors")
        XCTAssertThrowsError(try file.values("adam.step", as: Float.self)) { error in
            XCTAssertEqual(error as? CheckpointError,
                           .dtypeMismatch(path: "ckpt.safetensors", tensor: "adam.step", expected: "F32", found: "I64"))
            XCTAssertTrue("\(error)".contains("ckpt.safetensors") && "\(error)".contains("adam.step"))
        }
        XCTAssertThrowsError(try file.tensor("nope")) { error in
            XCTAssertEqual(error as? CheckpointError, .missingTensor(path: "ckpt.safetensors", name: "nope"))
        }
    }

    func testByteExactAgainstAHandBuiltFile() {
        // One F32 tensor [1, 2]: header 54 bytes, padded with 2 spaces to 56.
        let header1 = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertEqual(header1.utf8.count, 54)
        let expected1: [UInt8] = [56, 0, 0, 0, 0, 0, 0, 0] + Array(header1.utf8) + [UInt8](repeating: 0x20, count: 2)
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]
        XCTAssertEqual(SafeTensorsFile(tensors: ["a": StoredTensor([Float(1), 2], shape: [2])]).serialized(), expected1)

        // Metadata first (keys sorted), tensors listed by name, data laid out widest dtype
        // first so the F64 scalar "b" (0.5) sits at offset 0 and stays 8-byte aligned.
        let header2 = #"{"__metadata__":{"x":"1","y":"2"},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"#
            + #""b":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}"#
        let padded2 = Array(header2.utf8) + [UInt8](repeating: 0x20, count: (8 - header2.utf8.count % 8) % 8)
        XCTAssertEqual(padded2.count % 8, 0)
        let expected2: [UInt8] = [UInt8(padded2.count), 0, 0, 0, 0, 0, 0, 0] + padded2
            + [0, 0, 0, 0, 0, 0, 0xE0, 0x3F] + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]
        let file2 = SafeTensorsFile(metadata: ["y": "2", "x": "1"],
                                    tensors: ["b": StoredTensor(scalar: 0.5), "a": StoredTensor([Float(1), 2], shape: [2])])
        XCTAssertEqual(file2.serialized(), expected2)
    }

    func testStructuralCorruptionIsRejected() {
        assertRejected([1, 2, 3]) { $0 == .fileTooShort(path: "model.safetensors", size: 3) }
        assertRejected([100, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0x20, count: 10)) {
            $0 == .headerPastEnd(path: "model.safetensors", headerLength: 100, available: 10)
        }
        assertRejected([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B, 0x7D]) {
            if case .headerPastEnd = $0 { return true } else { return false }
        }
        assertRejected(rawFile(#"{"a": {"dtype": "F32""#)) {
            if case .invalidHeader(_, let reason) = $0 { return reason.contains("not valid JSON") } else { return false }
        }
        assertRejected(rawFile(#"{"a":1} x"#)) {
            if case .invalidHeader(_, let reason) = $0 { return reason.contains("after the JSON value") } else { return false }
        }
        assertRejected(rawFile("[1, 2]")) {
            if case .invalidHeader(_, let reason) = $0 { return reason.contains("found a list") } else { return false }
        }
        assertRejected(rawFile(#"{"a":"\ud800"}"#)) {
            if case .invalidHeader(_, let reason) = $0 { return reason.contains("surrogate") } else { return false }
        }
        assertRejected(Array(rawFile(#"{"?":{}}"#).map { $0 == UInt8(ascii: "?") ? 0xFF : $0 })) {
            if case .invalidHeader(_, let reason) = $0 { return reason.contains("UTF-8") } else { return false }
        }
        assertRejected(rawFile(#"{"__metadata__":{"step":12}}"#)) {
            if case .invalidMetadata(_, let reason) = $0 { return reason.contains("\"step\"") } else { return false }
        }
        assertRejected(rawFile(#"{"__metadata__":[]}"#)) {
            if case .invalidMetadata = $0 { return true } else { return false }
        }
    }

    func testEntryCorruptionIsRejected() {
        func entry(_ body: String) -> String { #"{"w":{"# + body + "}}" }
        let data4 = [UInt8](repeating: 0, count: 4)
        assertRejected(rawFile(#"{"w":3}"#)) {
            if case .invalidEntry(_, "w", let reason) = $0 { return reason.contains("found an integer") } else { return false }
        }
        assertRejected(rawFile(entry(#""dtype":"F32","shape":[1]"#), data4)) {
            $0 == .invalidEntry(path: "model.safetensors", tensor: "w", reason: "missing field \"data_offsets\"")
        }
        assertRejected(rawFile(entry(#""dtype":7,"shape":[1],"data_offsets":[0,4]"#), data4)) {
            if case .invalidEntry(_, "w", let reason) = $0 { return reason.contains("dtype") } else { return false }
        }
        assertRejected(rawFile(entry(#""dtype":"F8","shape":[1],"data_offsets":[0,4]"#), data4)) {
            $0 == .unknownDType(path: "model.safetensors", tensor: "w", dtype: "F8")
        }
        for badShape in ["3", "[-1]", "[1.5]", "[\"2\"]", "[true]", "null"] {
            assertRejected(rawFile(entry(#""dtype":"F32","shape":"# + badShape + #","data_offsets":[0,4]"#), data4)) {
                if case .invalidShape(_, "w", _) = $0 { return true } else { return false }
            }
        }
        assertRejected(rawFile(entry(#""dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,4]"#), data4)) {
            if case .invalidShape(_, "w", let reason) = $0 { return reason.contains("overflows") } else { return false }
        }
        for badOffsets in ["[0]", "[0,4,8]", "4", "[-1,3]", "[0,4.0]", "[8,4]"] {
            assertRejected(rawFile(entry(#""dtype":"F32","shape":[1],"data_offsets":"# + badOffsets), data4)) {
                if case .invalidOffsets(_, "w", _) = $0 { return true } else { return false }
            }
        }
        assertRejected(rawFile(entry(#""dtype":"F32","shape":[2],"data_offsets":[0,4]"#), data4)) {
            $0 == .byteLengthMismatch(path: "model.safetensors", tensor: "w", byteCount: 4, shape: [2], dtype: "F32",
                                      expected: 8)
        }
        assertRejected(rawFile(entry(#""dtype":"F32","shape":[2],"data_offsets":[0,8]"#), data4)) {
            $0 == .rangePastEnd(path: "model.safetensors", tensor: "w", end: 8, dataSize: 4)
        }
    }

    func testRangesMustTileTheDataExactly() {
        let data12 = [UInt8](repeating: 0, count: 12)
        let a = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
        assertRejected(rawFile("{" + a + #","b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data12)) {
            $0 == .overlappingRanges(path: "model.safetensors", tensor: "b", other: "a")
        }
        // A zero-size tensor inside another's range is an overlap too (as the reference says).
        assertRejected(rawFile("{" + a + #","z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#, Array(data12[0..<8]))) {
            $0 == .overlappingRanges(path: "model.safetensors", tensor: "z", other: "a")
        }
        assertRejected(rawFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
                                + #""b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data12)) {
            $0 == .unusedBytes(path: "model.safetensors", begin: 4, end: 8)
        }
        assertRejected(rawFile("{" + a + "}", data12)) {
            $0 == .unusedBytes(path: "model.safetensors", begin: 8, end: 12)
        }
        assertRejected(rawFile("{}", [1])) { $0 == .unusedBytes(path: "model.safetensors", begin: 0, end: 1) }
        assertRejected(rawFile("{" + a + "," + a + "}", Array(data12[0..<8]))) {
            $0 == .duplicateName(path: "model.safetensors", name: "a")
        }
        // The valid neighbours of those cases are accepted: zero-size at the end, empty file.
        XCTAssertNoThrow(try SafeTensorsFile.parse(
            rawFile("{" + a + #","z":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#, Array(data12[0..<8])), path: "ok"))
        XCTAssertEqual(try SafeTensorsFile.parse(rawFile("{}"), path: "ok").tensors.count, 0)
    }

    func testFailureBeforeRenameLeavesThePreviousFileIntact() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = URL(fileURLWithPath: dir + "/model.safetensors")
        let first = SafeTensorsFile(metadata: ["step": "1"], tensors: ["w": StoredTensor([Float(1), 2, 3], shape: [3])])
        try first.write(to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"],
                       "a temporary file was left behind after a successful write")
        let firstBytes = try Data(contentsOf: url)

        struct SimulatedCrash: Error {}
        var temporary: URL?
        let second = SafeTensorsFile(metadata: ["step": "2"], tensors: ["w": StoredTensor([Float(4), 5, 6], shape: [3])])
        XCTAssertThrowsError(try second.write(to: url) { tempURL in
            temporary = tempURL
            // At this point the new contents are complete and synced, beside the old file.
            XCTAssertEqual(tempURL.deletingLastPathComponent().path, dir)
            XCTAssertEqual(try Data(contentsOf: tempURL), Data(second.serialized()))
            throw SimulatedCrash()
        }) { XCTAssertTrue($0 is SimulatedCrash) }

        XCTAssertNotNil(temporary)
        XCTAssertEqual(try Data(contentsOf: url), firstBytes)
        XCTAssertEqual(try SafeTensorsFile.read(from: url).metadata["step"], "1")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"])

        try second.write(to: url)
        XCTAssertEqual(try SafeTensorsFile.read(from: url).values("w", as: Float.self), [4, 5, 6])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.safetensors"])
    }

    func testIOErrorsNameThePath() throws {
        let dir = try makeTemporaryDirectory(self)
        let missing = URL(fileURLWithPath: dir + "/absent/model.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile().write(to: missing)) { error in
            guard case .cannotWrite(let path, _)? = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasPrefix(dir + "/absent/"), path)
        }
        XCTAssertThrowsError(try SafeTensorsFile.read(from: missing)) { error in
            XCTAssertTrue("\(error)".hasPrefix(missing.path + ": cannot read"), "\(error)")
        }
    }

    /// An independent reader and writer (Python's json + NumPy) agree with ours.
    func testInteroperatesWithPythonAndNumPy() throws {
        // The first python3 on PATH, as a user would run it (numpy may live in a venv).
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        guard let python = searchPath.split(separator: ":").map({ "\($0)/python3" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw XCTSkip("python3 not on PATH") }
        let dir = try makeTemporaryDirectory(self)
        let ours = dir + "/ours.safetensors", theirs = dir + "/theirs.safetensors"
        let file = SafeTensorsFile(metadata: ["epoch": "3"], tensors: [
            "w": StoredTensor([Float(0.5), -1, 2, 3.25, 4, -5], shape: [2, 3]),
            "step": StoredTensor(scalar: Int64(-9_000_000_000)),
            "u": StoredTensor([UInt8(1), 2, 255], shape: [3]),
            "d": StoredTensor([Double(1e-300)], shape: [1, 1]),
        ])
        try file.write(to: URL(fileURLWithPath: ours))
        let script = #"""
            import json, struct, sys
            try:
                import numpy as np
            except ImportError:
                print("NO NUMPY"); sys.exit(0)
            kinds = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "u1", "I32": "<i4"}
            raw = open(sys.argv[1], "rb").read()
            (n,) = struct.unpack("<Q", raw[:8])
            header = json.loads(raw[8:8 + n])
            data = raw[8 + n:]
            out = {"__metadata__": header.pop("__metadata__", {})}
            for name, info in header.items():
                b, e = info["data_offsets"]
                a = np.frombuffer(data[b:e], dtype=kinds[info["dtype"]]).reshape(info["shape"])
                out[name] = [info["dtype"], list(a.shape), a.ravel().tolist()]
            print(json.dumps(out, sort_keys=True))
            # Write a file the way a plain Python writer would: json.dumps with its default
            # ", " and ": " separators, padded to 8 with spaces.
            t = np.arange(6, dtype="<f4").reshape(3, 2) / 4
            i = np.array([7, -7], dtype="<i4")
            hdr = {"t": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
                   "i": {"dtype": "I32", "shape": [2], "data_offsets": [24, 32]},
                   "__metadata__": {"by": "python"}}
            h = json.dumps(hdr).encode()
            h += b" " * ((8 - len(h) % 8) % 8)
            open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + t.tobytes() + i.tobytes())
            """#
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, ours, theirs]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        if output.hasPrefix("NO NUMPY") { throw XCTSkip("numpy not installed") }
        let expected = #"{"__metadata__": {"epoch": "3"}, "d": ["F64", [1, 1], [1e-300]], "#
            + #""step": ["I64", [], [-9000000000]], "u": ["U8", [3], [1, 2, 255]], "#
            + #""w": ["F32", [2, 3], [0.5, -1.0, 2.0, 3.25, 4.0, -5.0]]}"#
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), expected)

        let read = try SafeTensorsFile.read(from: URL(fileURLWithPath: theirs))
        XCTAssertEqual(read.metadata, ["by": "python"])
        XCTAssertEqual(try read.tensor("t").shape, [3, 2])
        XCTAssertEqual(try read.values("t", as: Float.self), [0, 0.25, 0.5, 0.75, 1, 1.25])
        XCTAssertEqual(try read.values("i", as: Int32.self), [7, -7])
    }
}
