import CZlib
import Foundation
import NN
import TestSupport
import XCTest

// MARK: - Helpers shared by the data tests

/// A fresh empty directory under the system temporary directory, removed at teardown.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nn-data-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes `bytes` to `name` in `directory` and returns the full path.
@discardableResult
func writeFile(_ bytes: [UInt8], _ name: String, in directory: String) throws -> String {
    let path = (directory as NSString).appendingPathComponent(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// gzip-compresses `bytes` with the system zlib (an independent encoder for the reader's tests).
func gzipped(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    let initStatus = deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                   Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    precondition(initStatus == Z_OK, "deflateInit2 failed: \(initStatus)")
    defer { deflateEnd(&stream) }
    var input = bytes
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
    let produced = input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = uInt(outBuffer.count)
            let status = deflate(&stream, Z_FINISH)
            precondition(status == Z_STREAM_END, "deflate did not finish: \(status)")
            return outBuffer.count - Int(stream.avail_out)
        }
    }
    return Array(output[0..<produced])
}

/// Asserts that `body` throws a `DataError` accepted by `matches` whose message names `path`.
func assertDataError<T>(_ body: @autoclosure () throws -> T, naming path: String,
                        _ matches: (DataError) -> Bool,
                        file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a DataError, nothing was thrown", file: file, line: line)
    } catch let error as DataError {
        XCTAssertTrue(matches(error), "unexpected DataError case: \(error)", file: file, line: line)
        XCTAssertTrue(error.description.contains(path), "message does not name \(path): \(error)", file: file, line: line)
    } catch {
        XCTFail("expected a DataError, got \(type(of: error)): \(error)", file: file, line: line)
    }
}

/// An IDX header for `type` and `shape`, followed by `payload`.
func idxBytes(type: UInt8, shape: [UInt32], payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
    for d in shape { bytes += [UInt8(d >> 24), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return bytes + payload
}

// MARK: - Tests

final class IDXTests: XCTestCase {
    let payload: [UInt8] = (0..<24).map { UInt8($0 * 10) }

    func testRawFileRoundTrip() throws {
        let dir = try makeTemporaryDirectory(self)
        let original = IDXArray(elementType: .uint8, shape: [2, 3, 4], payload: payload)
        XCTAssertEqual(original.serialized(), idxBytes(type: 0x08, shape: [2, 3, 4], payload: payload))
        let path = try writeFile(original.serialized(), "x-idx3-ubyte", in: dir)
        let read = try IDXArray.read(contentsOf: path)
        XCTAssertEqual(read.elementType, .uint8)
        XCTAssertEqual(read.shape, [2, 3, 4])
        XCTAssertEqual(read.payload, payload)
        XCTAssertEqual(read.path, path)
        XCTAssertEqual(read.floatValues(), payload.map(Float.init))
    }

    func testGzipFileRoundTrip() throws {
        let dir = try makeTemporaryDirectory(self)
        let raw = idxBytes(type: 0x08, shape: [2, 3, 4], payload: payload)
        let path = try writeFile(gzipped(raw), "x-idx3-ubyte.gz", in: dir)
        let read = try IDXArray.read(contentsOf: path)
        XCTAssertEqual(read.shape, [2, 3, 4])
        XCTAssertEqual(read.payload, payload)
    }

    func testLargeGzipGrowsItsBuffer() throws {
        // ~1 MB of compressible data with a lying ISIZE trailer (claims 0 bytes): the
        // inflater must not trust the hint and must grow its output buffer.
        var generator = SeededGenerator(seed: 3)
        let big = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...3, using: &generator) }
        var gz = gzipped(idxBytes(type: 0x08, shape: [1 << 20], payload: big))
        let read = try IDXArray.decode(fileBytes: gz, path: "big.gz")
        XCTAssertEqual(read.payload, big)
        gz.replaceSubrange((gz.count - 4)..., with: [0, 0, 0, 0])
        assertDataError(try IDXArray.decode(fileBytes: gz, path: "big.gz"), naming: "big.gz") {
            if case .corruptGzip = $0 { return true } else { return false }   // ISIZE is checked by zlib
        }
    }

    func testConcatenatedGzipMembersAreOneFile() throws {
        let raw = idxBytes(type: 0x08, shape: [2, 3, 4], payload: payload)
        let gz = gzipped(Array(raw[0..<10])) + gzipped(Array(raw[10...]))
        XCTAssertEqual(try IDXArray.decode(fileBytes: gz, path: "two-members.gz").payload, payload)
    }

    func testGzipDetectedByMagicWhateverTheName() throws {
        let gz = gzipped(idxBytes(type: 0x08, shape: [24], payload: payload))
        XCTAssertEqual(try IDXArray.decode(fileBytes: gz, path: "no-extension").payload, payload)
    }

    func testMissingAndEmptyFiles() throws {
        let dir = try makeTemporaryDirectory(self)
        let missing = (dir as NSString).appendingPathComponent("absent-idx1-ubyte")
        assertDataError(try IDXArray.read(contentsOf: missing), naming: missing) {
            if case .fileNotFound = $0 { return true } else { return false }
        }
        let empty = try writeFile([], "empty-idx1-ubyte", in: dir)
        assertDataError(try IDXArray.read(contentsOf: empty), naming: empty) { $0 == .emptyFile(path: empty) }
        assertDataError(try IDXArray.read(contentsOf: dir), naming: dir) {
            if case .unreadable = $0 { return true } else { return false }
        }
    }

    func testGzNameWithoutGzipContentIsRejected() throws {
        let dir = try makeTemporaryDirectory(self)
        let raw = idxBytes(type: 0x08, shape: [24], payload: payload)
        let path = try writeFile(raw, "labels-idx1-ubyte.gz", in: dir)
        assertDataError(try IDXArray.read(contentsOf: path), naming: path) {
            $0 == .notGzip(path: path, firstBytes: [0, 0, 8, 1])
        }
    }

    func testCorruptGzipStreamsAreRejected() {
        let gz = gzipped(idxBytes(type: 0x08, shape: [24], payload: payload))
        func isCorrupt(_ mustMention: String) -> (DataError) -> Bool {
            { if case .corruptGzip(_, let reason) = $0 { return reason.contains(mustMention) } else { return false } }
        }
        // Damaged checksum (the CRC32 is the 4 bytes before ISIZE).
        var badCRC = gz
        badCRC[gz.count - 6] ^= 0xFF
        assertDataError(try IDXArray.decode(fileBytes: badCRC, path: "crc.gz"), naming: "crc.gz", isCorrupt("check"))
        // Damaged deflate header: block type 3 is reserved. Byte 10 is the first deflate byte
        // after the 10-byte gzip header; setting bits 1-2 makes the block type 3.
        var badBlock = gz
        badBlock[10] |= 0b110
        assertDataError(try IDXArray.decode(fileBytes: badBlock, path: "block.gz"), naming: "block.gz", isCorrupt("invalid block type"))
        // Truncated before the trailer.
        let truncated = Array(gz[0..<(gz.count - 6)])
        assertDataError(try IDXArray.decode(fileBytes: truncated, path: "cut.gz"), naming: "cut.gz", isCorrupt("truncated"))
        // Junk after a complete stream.
        assertDataError(try IDXArray.decode(fileBytes: gz + [1, 2, 3], path: "junk.gz"), naming: "junk.gz",
                        isCorrupt("3 trailing bytes"))
        // A gzip magic followed by nothing sensible.
        assertDataError(try IDXArray.decode(fileBytes: [0x1F, 0x8B, 0, 0], path: "magic.gz"), naming: "magic.gz",
                        isCorrupt("unknown compression method"))
    }

    func testBadHeadersAreRejected() {
        let p = "bad-idx3-ubyte"
        assertDataError(try IDXArray.decode(fileBytes: [0, 0, 8], path: p), naming: p) {
            $0 == .truncatedHeader(path: p, size: 3, needed: 4)
        }
        assertDataError(try IDXArray.decode(fileBytes: [0, 1, 8, 1, 0, 0, 0, 0], path: p), naming: p) {
            $0 == .badMagic(path: p, bytes: [0, 1])
        }
        assertDataError(try IDXArray.decode(fileBytes: idxBytes(type: 0x07, shape: [1], payload: [0]), path: p),
                        naming: p) { $0 == .unsupportedElementType(path: p, code: 0x07) }
        assertDataError(try IDXArray.decode(fileBytes: [0, 0, 8, 0], path: p), naming: p) {
            if case .invalidDimensions(_, let reason) = $0 { return reason.contains("dimension count") } else { return false }
        }
        assertDataError(try IDXArray.decode(fileBytes: [0, 0, 8, 3, 0, 0, 0, 1], path: p), naming: p) {
            $0 == .truncatedHeader(path: p, size: 8, needed: 16)
        }
        let huge = idxBytes(type: 0x0E, shape: [.max, .max, .max], payload: [])
        assertDataError(try IDXArray.decode(fileBytes: huge, path: p), naming: p) {
            if case .invalidDimensions(_, let reason) = $0 { return reason.contains("overflow") } else { return false }
        }
    }

    func testPayloadMustMatchDimensionsExactly() {
        let p = "train-images-idx3-ubyte.gz"
        let short = gzipped(idxBytes(type: 0x08, shape: [60000, 28, 28], payload: [UInt8](repeating: 7, count: 1000)))
        do {
            _ = try IDXArray.decode(fileBytes: short, path: p)
            XCTFail("a truncated payload was accepted")
        } catch let error as DataError {
            XCTAssertEqual(error, .payloadSizeMismatch(path: p, payloadBytes: 1000, dimensions: [60000, 28, 28],
                                                       expectedBytes: 47_040_000))
            XCTAssertEqual(error.description,
                           "train-images-idx3-ubyte.gz: payload has 1000 bytes, dimensions 60000x28x28 need 47040000")
        } catch {
            XCTFail("unexpected error \(error)")
        }
        let trailing = idxBytes(type: 0x08, shape: [24], payload: payload + [0])
        assertDataError(try IDXArray.decode(fileBytes: trailing, path: "t"), naming: "t") {
            $0 == .payloadSizeMismatch(path: "t", payloadBytes: 25, dimensions: [24], expectedBytes: 24)
        }
        let int32Short = idxBytes(type: 0x0C, shape: [3], payload: [UInt8](repeating: 0, count: 11))
        assertDataError(try IDXArray.decode(fileBytes: int32Short, path: "i"), naming: "i") {
            $0 == .payloadSizeMismatch(path: "i", payloadBytes: 11, dimensions: [3], expectedBytes: 12)
        }
    }

    func testEveryElementTypeDecodesBigEndian() throws {
        func decode(_ type: UInt8, _ payload: [UInt8]) throws -> [Float] {
            let size = [0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8][Int(type)]!
            return try IDXArray.decode(fileBytes: idxBytes(type: type, shape: [UInt32(payload.count / size)],
                                                           payload: payload), path: "v").floatValues()
        }
        XCTAssertEqual(try decode(0x08, [0, 255]), [0, 255])
        XCTAssertEqual(try decode(0x09, [0xFF, 0x7F, 0x80]), [-1, 127, -128])
        XCTAssertEqual(try decode(0x0B, [0x01, 0x02, 0xFF, 0xFE]), [258, -2])
        XCTAssertEqual(try decode(0x0C, [0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFD]), [65536, -3])
        XCTAssertEqual(try decode(0x0D, [0x3F, 0xC0, 0x00, 0x00, 0xC1, 0x20, 0x00, 0x00]), [1.5, -10])
        XCTAssertEqual(try decode(0x0E, [0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18]), [Float(Double.pi)])

        let floats = try IDXArray.decode(fileBytes: idxBytes(type: 0x0D, shape: [1], payload: [0, 0, 0, 0]), path: "f.idx")
        assertDataError(try floats.uint8Values(), naming: "f.idx") {
            $0 == .wrongElementType(path: "f.idx", found: .float32, expected: .uint8)
        }
    }
}
