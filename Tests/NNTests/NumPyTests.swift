import Foundation
import NN
import XCTest

/// The .npy/.npz reader on files NumPy 2.4 wrote (Fixtures/numpy, made by make-fixtures.py),
/// round trips of our writer, and every kind of bad file.
final class NumPyTests: XCTestCase {
    private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/numpy").path

    private func fixture(_ name: String) -> String { fixtures + "/" + name }

    func testEveryDTypeAndByteOrderReadsNumPysValues() throws {
        // make-fixtures.py: arange(12).reshape(3, 4) minus 5 (signed and float types) or minus 0.
        for (file, dtype, offset) in [("le-f4.npy", "<f4", 5), ("le-f8.npy", "<f8", 5), ("i1.npy", "|i1", 5),
                                      ("le-i2.npy", "<i2", 5), ("le-i4.npy", "<i4", 5), ("le-i8.npy", "<i8", 5),
                                      ("u1.npy", "|u1", 0), ("le-u2.npy", "<u2", 0), ("le-u4.npy", "<u4", 0),
                                      ("le-u8.npy", "<u8", 0), ("be-f4.npy", ">f4", 5), ("be-f8.npy", ">f8", 5),
                                      ("be-i4.npy", ">i4", 5), ("be-u2.npy", ">u2", 0)] {
            let array = try NumPyArray.read(fixture(file))
            XCTAssertEqual(array.shape, [3, 4], file)
            XCTAssertEqual(array.dtype, dtype, file)
            XCTAssertEqual(array.floats(), (0..<12).map { Float($0 - offset) }, file)
            XCTAssertEqual(try array.int32s(), (0..<12).map { Int32($0 - offset) }, file)
        }
        let flags = try NumPyArray.read(fixture("bool.npy"))
        XCTAssertEqual(flags.dtype, "|b1")
        XCTAssertEqual(flags.floats(), (0..<12).map { $0 % 3 == 0 ? 1 : 0 })
    }

    func testFortranOrderIsTransposedAndOtherLayoutsRead() throws {
        // np.asfortranarray(arange(24).reshape(2, 3, 4)): the same values in C order.
        let f = try NumPyArray.read(fixture("fortran-f4.npy"))
        XCTAssertEqual(f.shape, [2, 3, 4])
        XCTAssertEqual(f.floats(), (0..<24).map(Float.init))
        let scalar = try NumPyArray.read(fixture("scalar-f8.npy"))
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.floats(), [2.5])
        let empty = try NumPyArray.read(fixture("empty-f4.npy"))
        XCTAssertEqual(empty.shape, [0, 3])
        XCTAssertEqual(empty.floats(), [])
        for file in ["v2-f4.npy", "v3-f4.npy"] {
            let v = try NumPyArray.read(fixture(file))
            XCTAssertEqual(v.shape, [2, 3], file)
            XCTAssertEqual(v.floats(), [0, 1, 2, 3, 4, 5], file)
        }
    }

    func testArchivesStoredAndDeflated() throws {
        for file in ["stored.npz", "deflated.npz"] {
            let arrays = try NumPyArray.readArchive(fixture(file))
            XCTAssertEqual(Set(arrays.keys), ["x", "y"], file)
            XCTAssertEqual(arrays["x"]?.shape, [3, 2], file)
            XCTAssertEqual(arrays["x"]?.floats(), [0, 1, 2, 3, 4, 5], file)
            XCTAssertEqual(try arrays["y"]?.int32s(), [0, 1, 1], file)
        }
    }

    func testWriteRoundTripsAndNumPyHeaderLayout() throws {
        let dir = try makeTemporaryDirectory(self)
        let a = NumPyArray(floats: [1.5, -2, 3e-8, .greatestFiniteMagnitude, 0, 7], shape: [2, 3])
        let path = dir + "/a.npy"
        try a.write(to: path)
        XCTAssertEqual(try NumPyArray.read(path), a)
        let bytes = a.serialized()
        XCTAssertEqual((bytes.count - a.data.count) % 64, 0, "data starts on a 64-byte boundary, as NumPy writes")
        // Our header is byte for byte what NumPy writes for the same array.
        let numpy = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("le-f4.npy"))))
        let same = try NumPyArray.read(fixture("le-f4.npy"))
        XCTAssertEqual(same.serialized(), numpy)
        let labels = NumPyArray(int32s: [3, 1, 4], shape: [3])
        try labels.write(to: dir + "/l.npy")
        XCTAssertEqual(try NumPyArray.read(dir + "/l.npy").int32s(), [3, 1, 4])
    }

    // MARK: - Bad files

    private func header(_ dict: String, version: UInt8 = 1) -> [UInt8] {
        var text = dict
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        let n = text.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [version, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8)
    }

    func testBadNpyFilesAreDataErrorsNamingTheFile() throws {
        let good = header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") + [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(try NumPyArray.decode(good, path: "g.npy").shape, [2])
        func bad(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            assertDataError(try NumPyArray.decode(bytes, path: "b.npy"), naming: "b.npy", {
                $0.description.contains(fragment)
            }, file: file, line: line)
        }
        bad([], "empty")
        bad(Array(good.prefix(7)), "header prefix needs 10")
        bad([0x93] + Array("NUMPX".utf8) + Array(good[6...]), "magic")
        bad(Array(good.prefix(6)) + [4, 0] + Array(good[8...]), "format version 4.0")
        bad(Array(good.prefix(30)), "header length is")
        bad(Array(good.dropLast(1)), "data has 7 bytes")
        bad(good + [0], "data has 9 bytes")
        bad(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }").dropLast(1) + [0x20] + [UInt8](repeating: 0, count: 8),
            "does not end with a newline")
        for (dict, fragment) in [
            ("{'descr': '<f4', 'fortran_order': False}", "'shape' is missing"),
            ("{'descr': '<f4', 'shape': (2,)}", "'fortran_order' is missing"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "appears twice"),
            ("{'descr': '<f4', 'fortran_order': maybe, 'shape': (2,)}", "expected True or False"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "non-negative integers"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) junk", "expected ',' or '}'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "after the dict"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "overflows"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", "more"),
            ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "structured dtype"),
            ("{'descr: '<f4'}", "expected"),
            ("not a dict", "expected '{'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "is not a tuple"),
        ] {
            bad(header(dict) + [UInt8](repeating: 0, count: 8), fragment)
        }
        for dtype in ["<c8", "<f2", "|S3", "|O", "<U5", "|f4", "<b2", "xf4"] {
            assertDataError(try NumPyArray.decode(header("{'descr': '\(dtype)', 'fortran_order': False, 'shape': (2,), }") + [0],
                                                  path: "d.npy"), naming: "d.npy") {
                $0 == .unsupportedDType(path: "d.npy", dtype: dtype)
            }
        }
        // NumPy's own files of unsupported dtypes.
        for file in ["complex.npy", "f2.npy"] {
            assertDataError(try NumPyArray.read(fixture(file)), naming: fixture(file)) {
                if case .unsupportedDType = $0 { return true } else { return false }
            }
        }
        let missing = fixture("none.npy")
        assertDataError(try NumPyArray.read(missing), naming: missing) { $0 == .fileNotFound(path: missing, tried: [missing]) }
        // Non-integer floats are not labels.
        let floats = NumPyArray(floats: [1, 2.5], shape: [2])
        assertDataError(try floats.int32s(), naming: "<memory>") { if case .unsuitableValues = $0 { return true } else { return false } }
    }

    func testBadArchivesAreDataErrorsNamingTheFile() throws {
        let deflated = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("deflated.npz"))))
        let stored = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("stored.npz"))))
        func bad(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            assertDataError(try NumPyArray.decodeArchive(bytes, path: "b.npz"), naming: "b.npz", {
                $0.description.contains(fragment)
            }, file: file, line: line)
        }
        bad([], "empty")
        bad(Array("PK not really".utf8), "end record needs 22")
        bad(Array(repeating: 7, count: 100), "no end-of-central-directory")
        bad(Array(deflated.prefix(deflated.count - 30)), "no end-of-central-directory")
        // The data of the first entry corrupted: CRC or deflate error, never a crash.
        for (archive, name) in [(deflated, "deflated"), (stored, "stored")] {
            var corrupt = archive
            corrupt[120] ^= 0x5A
            assertDataError(try NumPyArray.decodeArchive(corrupt, path: "b.npz"), naming: "b.npz") { error in
                _ = name
                switch error {
                case .badArchive, .badNumPyFile: return true
                default: return false
                }
            }
        }
        // Every truncation and every single-byte change of a real archive: an error or a
        // valid result, never a trap.
        for archive in [deflated, stored] {
            for cut in stride(from: 0, to: archive.count, by: 7) {
                _ = try? NumPyArray.decodeArchive(Array(archive.prefix(cut)), path: "cut.npz")
            }
            for i in 0..<archive.count {
                var changed = archive
                changed[i] ^= 0xFF
                do { _ = try NumPyArray.decodeArchive(changed, path: "flip.npz") } catch let e as DataError {
                    XCTAssertTrue(e.description.contains("flip.npz"), "\(e)")
                }
            }
        }
    }
}
