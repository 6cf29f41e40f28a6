import CZlib
import Foundation

/// The element types the IDX format defines (the third byte of the magic number).
public enum IDXElementType: UInt8, Sendable, CustomStringConvertible {
    /// Unsigned bytes (0x08): MNIST's pixels and labels.
    case uint8 = 0x08
    /// Signed bytes (0x09).
    case int8 = 0x09
    /// Big-endian 16-bit signed integers (0x0B).
    case int16 = 0x0B
    /// Big-endian 32-bit signed integers (0x0C).
    case int32 = 0x0C
    /// Big-endian IEEE 754 single-precision floats (0x0D).
    case float32 = 0x0D
    /// Big-endian IEEE 754 double-precision floats (0x0E).
    case float64 = 0x0E

    /// Bytes per element in the payload.
    public var size: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }

    /// The type's name in the IDX specification's words, with its code (for error messages).
    public var description: String {
        let name: String
        switch self {
        case .uint8: name = "unsigned byte"
        case .int8: name = "signed byte"
        case .int16: name = "int16"
        case .int32: name = "int32"
        case .float32: name = "float32"
        case .float64: name = "float64"
        }
        let code = String(rawValue, radix: 16, uppercase: true)
        return "0x\(code.count == 1 ? "0" + code : code) (\(name))"
    }
}

/// One IDX file (the MNIST format): an element type, dimensions, and the payload exactly as
/// stored (big-endian for multi-byte types), already decompressed.
///
/// Layout: bytes 0-1 are zero, byte 2 the element type, byte 3 the dimension count `d`,
/// then `d` big-endian UInt32 dimensions, then the row-major payload.
public struct IDXArray: Sendable, Equatable {
    /// The file this array was read from (for error messages); "<memory>" if built in memory.
    public let path: String
    /// The element type of the payload.
    public let elementType: IDXElementType
    /// The dimensions, outermost first.
    public let shape: [Int]
    /// The raw payload: `shape.product * elementType.size` bytes, big-endian elements.
    public let payload: [UInt8]

    /// An array built in memory; `payload` must hold exactly the bytes `shape` needs.
    public init(elementType: IDXElementType, shape: [Int], payload: [UInt8], path: String = "<memory>") {
        precondition(!shape.isEmpty && shape.count <= 255,
                     "IDXArray: shape \(shape) must have 1...255 dimensions")
        precondition(shape.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) },
                     "IDXArray: dimensions \(shape) must fit in UInt32")
        precondition(payload.count == shape.reduce(1, *) * elementType.size,
                     "IDXArray: payload has \(payload.count) bytes, shape \(shape) of \(elementType) needs "
                     + "\(shape.reduce(1, *) * elementType.size)")
        self.elementType = elementType
        self.shape = shape
        self.payload = payload
        self.path = path
    }

    /// Reads an IDX file, gzip-compressed (detected by its magic bytes 1f 8b) or raw.
    ///
    /// Throws `DataError` naming `path` if the file is missing, empty, not gzip although its
    /// name ends in `.gz`, a corrupt gzip stream, or not a well-formed IDX array.
    public static func read(contentsOf path: String) throws -> IDXArray {
        try decode(fileBytes: try readWholeFile(path), path: path)
    }

    /// Decodes the bytes of an IDX file (gzip or raw); `path` is used for the `.gz` name
    /// check and in error messages.
    public static func decode(fileBytes: [UInt8], path: String) throws -> IDXArray {
        // A raw IDX file starts with 00 00, so the gzip magic cannot be mistaken for one.
        try parse(try gunzipIfCompressed(fileBytes, path: path), path: path)
    }

    /// Parses an uncompressed IDX array, checking the header and that the payload is exactly
    /// the size the dimensions need (truncated and trailing bytes are both errors).
    static func parse(_ bytes: [UInt8], path: String) throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw DataError.truncatedHeader(path: path, size: bytes.count, needed: 4)
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError.badMagic(path: path, bytes: Array(bytes[0..<2]))
        }
        guard let elementType = IDXElementType(rawValue: bytes[2]) else {
            throw DataError.unsupportedElementType(path: path, code: bytes[2])
        }
        let dimensionCount = Int(bytes[3])
        guard dimensionCount > 0 else {
            throw DataError.invalidDimensions(path: path, reason: "dimension count (byte 3) is 0, expected at least 1")
        }
        let headerSize = 4 + 4 * dimensionCount
        guard bytes.count >= headerSize else {
            throw DataError.truncatedHeader(path: path, size: bytes.count, needed: headerSize)
        }
        var shape: [Int] = []
        shape.reserveCapacity(dimensionCount)
        for d in 0..<dimensionCount {
            let o = 4 + 4 * d
            let value = UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8
                | UInt32(bytes[o + 3])
            shape.append(Int(value))
        }
        var needed = elementType.size
        for dimension in shape {
            let (product, overflow) = needed.multipliedReportingOverflow(by: dimension)
            if overflow {
                throw DataError.invalidDimensions(
                    path: path, reason: "\(shape.map(String.init).joined(separator: "x")) elements of "
                        + "\(elementType.size) bytes overflow Int")
            }
            needed = product
        }
        let payloadBytes = bytes.count - headerSize
        guard payloadBytes == needed else {
            throw DataError.payloadSizeMismatch(path: path, payloadBytes: payloadBytes, dimensions: shape,
                                                expectedBytes: needed)
        }
        return IDXArray(elementType: elementType, shape: shape, payload: Array(bytes[headerSize...]), path: path)
    }

    /// The bytes of an uncompressed IDX file holding this array.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = [0, 0, elementType.rawValue, UInt8(shape.count)]
        bytes.reserveCapacity(4 + 4 * shape.count + payload.count)
        for dimension in shape {
            let v = UInt32(dimension)
            bytes += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
                      UInt8(truncatingIfNeeded: v)]
        }
        bytes += payload
        return bytes
    }

    /// The payload as bytes, requiring the unsigned-byte type MNIST images and labels use.
    public func uint8Values() throws -> [UInt8] {
        guard elementType == .uint8 else {
            throw DataError.wrongElementType(path: path, found: elementType, expected: .uint8)
        }
        return payload
    }

    /// Every element converted to Float, decoding the big-endian payload of any element type.
    public func floatValues() -> [Float] {
        let count = payload.count / elementType.size
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            payload.withUnsafeBufferPointer { p in
                switch elementType {
                case .uint8:
                    for i in 0..<count { out[i] = Float(p[i]) }
                case .int8:
                    for i in 0..<count { out[i] = Float(Int8(bitPattern: p[i])) }
                case .int16:
                    for i in 0..<count { out[i] = Float(Int16(bitPattern: UInt16(p[2 * i]) << 8 | UInt16(p[2 * i + 1]))) }
                case .int32:
                    for i in 0..<count { out[i] = Float(Int32(bitPattern: bigEndian32(p, 4 * i))) }
                case .float32:
                    for i in 0..<count { out[i] = Float(bitPattern: bigEndian32(p, 4 * i)) }
                case .float64:
                    for i in 0..<count {
                        let hi = UInt64(bigEndian32(p, 8 * i)), lo = UInt64(bigEndian32(p, 8 * i + 4))
                        out[i] = Float(Double(bitPattern: hi << 32 | lo))
                    }
                }
            }
            initialized = count
        }
    }
}

@inline(__always)
private func bigEndian32(_ p: UnsafeBufferPointer<UInt8>, _ o: Int) -> UInt32 {
    UInt32(p[o]) << 24 | UInt32(p[o + 1]) << 16 | UInt32(p[o + 2]) << 8 | UInt32(p[o + 3])
}

/// Inflates a gzip file with the system zlib (one or more concatenated members, as `gzip`
/// itself accepts). Bad data, a bad checksum, a truncated stream or trailing bytes that are
/// not another gzip member are `DataError.corruptGzip`.
func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
    var stream = z_stream()
    // 16 + MAX_WBITS asks zlib to expect and check a gzip header and trailer. The
    // inflateInit2 macro does not import into Swift, so call the function it expands to.
    var status = inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
        throw DataError.corruptGzip(path: path, reason: "zlib inflateInit2 failed with status \(status)")
    }
    defer { inflateEnd(&stream) }

    // The gzip trailer's ISIZE is the uncompressed size mod 2^32: exact for every IDX file
    // we expect, so usually one allocation. Capped at deflate's maximum ratio (~1032:1) so a
    // corrupt trailer cannot ask for an absurd buffer.
    let tail = input.count - 4
    let sizeHint = input.count >= 18
        ? Int(UInt32(input[tail]) | UInt32(input[tail + 1]) << 8 | UInt32(input[tail + 2]) << 16
              | UInt32(input[tail + 3]) << 24)
        : 0
    var output = [UInt8](repeating: 0, count: max(1 << 16, min(sizeHint, input.count * 1032)))
    var produced = 0

    func fail(_ reason: String) -> DataError { DataError.corruptGzip(path: path, reason: reason) }

    try input.withUnsafeBufferPointer { inBuffer in
        let base = UnsafeMutablePointer(mutating: inBuffer.baseAddress!)
        var consumed = 0      // bytes handed to zlib so far
        // avail_in is a 32-bit count: feed the input in slices so any size works.
        func refill() {
            let slice = min(inBuffer.count - consumed, 1 << 30)
            stream.next_in = base + consumed
            stream.avail_in = uInt(slice)
            consumed += slice
        }
        refill()
        while true {
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: output.count))
            }
            output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = uInt(min(out.count - produced, 1 << 30))
                let before = Int(stream.avail_out)
                status = inflate(&stream, Z_NO_FLUSH)
                produced += before - Int(stream.avail_out)
            }
            if stream.avail_in == 0 && consumed < inBuffer.count { refill() }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let position = consumed - Int(stream.avail_in)
                if position == inBuffer.count { return }
                // Another member may follow (files made with `cat a.gz b.gz`); anything
                // else after a complete stream is corruption.
                guard inBuffer.count - position >= 2, inBuffer[position] == 0x1F, inBuffer[position + 1] == 0x8B
                else {
                    throw fail("\(inBuffer.count - position) trailing bytes after the gzip stream ends at byte \(position)")
                }
                inflateReset(&stream)
            case Z_BUF_ERROR where stream.avail_in == 0 && consumed == inBuffer.count:
                throw fail("stream truncated: input ended after \(inBuffer.count) bytes before the gzip trailer")
            case Z_BUF_ERROR:
                continue  // only output space was short; the loop grows the buffer
            case Z_DATA_ERROR:
                let message = stream.msg.map { String(cString: $0) } ?? "invalid deflate data"
                throw fail("\(message) (at input byte \(consumed - Int(stream.avail_in)))")
            case Z_MEM_ERROR:
                throw fail("zlib ran out of memory")
            default:
                throw fail("zlib inflate returned status \(status)")
            }
        }
    }
    output.removeLast(output.count - produced)
    return output
}
