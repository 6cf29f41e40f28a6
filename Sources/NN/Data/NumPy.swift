import CZlib
import Foundation

// NumPy's `.npy` (format versions 1.0, 2.0, 3.0) and `.npz` (a zip of `.npy` files, stored
// or deflated), read strictly: the magic, the version, the header length, and a header that
// is exactly a Python dict literal with the keys 'descr', 'fortran_order' and 'shape'.
// Supported dtypes: float32/64, int8-64, uint8-64, bool, either byte order. Fortran-order
// arrays are transposed to C order on reading. Everything else is a DataError naming the
// file (for an archive entry: "archive.npz[name.npy]").

/// One NumPy array: its shape, dtype and elements in C (row-major) order.
public struct NumPyArray: Sendable, Equatable {
    /// The dimensions, outermost first (empty for a 0-d array, which holds one element).
    public var shape: [Int]
    /// The dtype as NumPy writes it, e.g. "<f4", ">i8", "|u1", "|b1".
    public var dtype: String
    /// The elements' bytes in C order, in the dtype's byte order.
    public var data: [UInt8]
    /// The file it was read from (named in errors); "<memory>" if built in memory. Not
    /// compared by `==`.
    public var path: String = "<memory>"

    /// Equal shape, dtype and bytes (wherever the arrays came from).
    public static func == (a: NumPyArray, b: NumPyArray) -> Bool {
        a.shape == b.shape && a.dtype == b.dtype && a.data == b.data
    }

    /// An array from raw bytes; `data` must hold exactly `shape`'s element count times the
    /// dtype's size, and the dtype must be one this type supports.
    public init(shape: [Int], dtype: String, data: [UInt8]) {
        guard let kind = NumPyDType(dtype) else { preconditionFailure("NumPyArray: unsupported dtype '\(dtype)'") }
        precondition(shape.allSatisfy { $0 >= 0 } && data.count == shape.reduce(1, *) * kind.size,
                     "NumPyArray: \(data.count) bytes for shape \(shape) of \(dtype)")
        self.shape = shape
        self.dtype = dtype
        self.data = data
    }

    /// A little-endian float32 array.
    public init(floats: [Float], shape: [Int]) {
        precondition(floats.count == shape.reduce(1, *), "NumPyArray: \(floats.count) floats for shape \(shape)")
        self.init(shape: shape, dtype: "<f4", data: floats.flatMap { littleEndianBytes($0.bitPattern) })
    }

    /// A little-endian int32 array.
    public init(int32s: [Int32], shape: [Int]) {
        precondition(int32s.count == shape.reduce(1, *), "NumPyArray: \(int32s.count) values for shape \(shape)")
        self.init(shape: shape, dtype: "<i4", data: int32s.flatMap { littleEndianBytes(UInt32(bitPattern: $0)) })
    }

    /// Number of elements (the product of the shape; 1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    private var kind: NumPyDType { NumPyDType(dtype)! }

    /// Every element as Float (integers rounded to the nearest Float, bool as 0 or 1).
    public func floats() -> [Float] {
        let kind = self.kind
        let n = count
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            data.withUnsafeBufferPointer { p in
                for i in 0..<n { out[i] = Float(kind.double(p, i)) }
            }
            initialized = n
        }
    }

    /// Every element as Int32 (class labels): integers and bools as they are, floats only
    /// when integral. Throws if a value is not an integer or does not fit in Int32.
    public func int32s() throws -> [Int32] {
        let kind = self.kind
        var out = [Int32](repeating: 0, count: count)
        try data.withUnsafeBufferPointer { p in
            for i in 0..<out.count {
                let v: Int64
                if kind.isFloat {
                    let x = kind.double(p, i)
                    guard x.rounded() == x, x >= -2_147_483_648, x <= 2_147_483_647 else {
                        throw DataError.unsuitableValues(path: path, reason: "element \(i) is \(x), not an Int32 label")
                    }
                    v = Int64(x)
                } else if let x = kind.int64(p, i) {
                    v = x
                } else {
                    throw DataError.unsuitableValues(path: path, reason: "element \(i) does not fit in Int64")
                }
                guard let w = Int32(exactly: v) else {
                    throw DataError.unsuitableValues(path: path, reason: "element \(i) is \(v), outside Int32")
                }
                out[i] = w
            }
        }
        return out
    }

    // MARK: Reading

    /// Reads a `.npy` file. Throws `DataError` naming `path` for any defect.
    public static func read(_ path: String) throws -> NumPyArray {
        try decode(try readWholeFile(path), path: path)  // no gzip detection: .npy is never compressed
    }

    /// Reads a `.npz` archive: entry name (without ".npy") -> array.
    public static func readArchive(_ path: String) throws -> [String: NumPyArray] {
        try decodeArchive(try readWholeFile(path), path: path)  // .npz carries its own compression
    }

    /// Parses the bytes of a `.npy` file; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> NumPyArray {
        func bad(_ reason: String) -> DataError { .badNumPyFile(path: path, reason: reason) }
        if bytes.isEmpty { throw DataError.emptyFile(path: path) }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10 else { throw bad("file has \(bytes.count) bytes, the header prefix needs 10") }
        guard Array(bytes[0..<6]) == magic else {
            throw bad("magic is \(bytes[0..<6].map { String(format: "%02x", $0) }.joined(separator: " ")), expected 93 4e 55 4d 50 59 (\\x93NUMPY)")
        }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else { throw bad("format version \(major).\(minor), expected 1.0, 2.0 or 3.0") }
        let headerStart = major == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw bad("file has \(bytes.count) bytes, the header prefix needs \(headerStart)") }
        let headerLength = major == 1
            ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard bytes.count - headerStart >= headerLength else {
            throw bad("header length is \(headerLength) but only \(bytes.count - headerStart) bytes follow the prefix")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        guard headerBytes.last == 0x0A else { throw bad("header does not end with a newline") }
        // Versions 1 and 2 are latin-1, 3 is UTF-8; the keys and values we accept are ASCII.
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw bad("header is not valid \(major == 3 ? "UTF-8" : "latin-1") text")
        }
        let fields = try HeaderDict.parse(header, fail: bad)
        guard let dtype = NumPyDType(fields.descr) else { throw DataError.unsupportedDType(path: path, dtype: fields.descr) }
        var elements = 1
        for d in fields.shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            if overflow { throw bad("shape \(fields.shape) has more elements than Int holds") }
            elements = p
        }
        let (needed, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
        if overflow { throw bad("shape \(fields.shape) of \(fields.descr) needs more bytes than Int holds") }
        let payload = bytes.count - headerStart - headerLength
        guard payload == needed else {
            throw bad("data has \(payload) bytes, shape \(fields.shape) of \(fields.descr) needs \(needed)")
        }
        var data = Array(bytes[(headerStart + headerLength)...])
        if fields.fortranOrder && fields.shape.count > 1 && elements > 0 {
            data = fortranToC(data, shape: fields.shape, itemSize: dtype.size)
        }
        var array = NumPyArray(shape: fields.shape, dtype: fields.descr, data: data)
        array.path = path
        return array
    }

    /// Parses the bytes of a `.npz` archive; `path` names it in errors.
    public static func decodeArchive(_ bytes: [UInt8], path: String) throws -> [String: NumPyArray] {
        if bytes.isEmpty { throw DataError.emptyFile(path: path) }
        var arrays: [String: NumPyArray] = [:]
        for entry in try ZipDirectory.entries(bytes, path: path) {
            guard entry.name.hasSuffix(".npy") else { continue }  // numpy names every array "<key>.npy"
            let content = try ZipDirectory.extract(entry, from: bytes, path: path)
            let key = String(entry.name.dropLast(4))
            if arrays[key] != nil {
                throw DataError.badArchive(path: path, reason: "entry '\(entry.name)' appears twice")
            }
            arrays[key] = try decode(content, path: "\(path)[\(entry.name)]")
        }
        return arrays
    }

    // MARK: Writing

    /// The bytes of a `.npy` file (version 1.0, or 2.0 if the header needs it) holding this array.
    public func serialized() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype)', 'fortran_order': False, 'shape': \(shapeText), }"
        let version1 = header.utf8.count + 11 <= 65_535
        let prefix = version1 ? 10 : 12
        // Pad with spaces so the data starts at a multiple of 64, as NumPy does.
        let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version1 ? 1 : 2, 0]
        let length = header.utf8.count
        out += version1 ? [UInt8(length & 0xFF), UInt8(length >> 8)] : littleEndianBytes(UInt32(length))
        out += Array(header.utf8)
        out += data
        return out
    }

    /// Writes this array as a `.npy` file (NumPy's `np.load` reads it).
    public func write(to path: String) throws {
        do {
            try Data(serialized()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError.unreadable(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

private func littleEndianBytes(_ v: UInt32) -> [UInt8] {
    [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
}

/// Reorders a Fortran-order (first index fastest) array into C order (last index fastest).
private func fortranToC(_ data: [UInt8], shape: [Int], itemSize: Int) -> [UInt8] {
    let n = shape.reduce(1, *)
    // Fortran strides in elements: 1, d0, d0*d1, ...
    var strides = [Int](repeating: 1, count: shape.count)
    for k in 1..<shape.count { strides[k] = strides[k - 1] * shape[k - 1] }
    var out = [UInt8](repeating: 0, count: data.count)
    var index = [Int](repeating: 0, count: shape.count)
    data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            var source = 0
            for c in 0..<n {
                for b in 0..<itemSize { dst[c * itemSize + b] = src[source * itemSize + b] }
                // Advance the C-order index (last dimension fastest), keeping the Fortran offset.
                var k = shape.count - 1
                while k >= 0 {
                    index[k] += 1
                    source += strides[k]
                    if index[k] < shape[k] { break }
                    source -= strides[k] * shape[k]
                    index[k] = 0
                    k -= 1
                }
            }
        }
    }
    return out
}

// MARK: - dtypes

/// The dtypes read here: kind ('f', 'i', 'u', 'b'), size in bytes, and byte order.
struct NumPyDType {
    enum Kind { case float, signed, unsigned, bool }
    let kind: Kind
    let size: Int
    let bigEndian: Bool

    init?(_ descr: String) {
        let chars = Array(descr.utf8)
        guard chars.count >= 3, let size = Int(String(decoding: chars[2...], as: UTF8.self)) else { return nil }
        switch chars[0] {
        case UInt8(ascii: "<"), UInt8(ascii: "="): bigEndian = false  // '=' is native: every Linux target is little-endian
        case UInt8(ascii: ">"): bigEndian = true
        case UInt8(ascii: "|"): bigEndian = false; guard size == 1 else { return nil }
        default: return nil
        }
        switch (chars[1], size) {
        case (UInt8(ascii: "f"), 4), (UInt8(ascii: "f"), 8): kind = .float
        case (UInt8(ascii: "i"), 1), (UInt8(ascii: "i"), 2), (UInt8(ascii: "i"), 4), (UInt8(ascii: "i"), 8): kind = .signed
        case (UInt8(ascii: "u"), 1), (UInt8(ascii: "u"), 2), (UInt8(ascii: "u"), 4), (UInt8(ascii: "u"), 8): kind = .unsigned
        case (UInt8(ascii: "b"), 1): kind = .bool
        default: return nil
        }
        self.size = size
    }

    var isFloat: Bool { kind == .float }

    /// The raw bits of element `i` as an unsigned integer of `size` bytes.
    @inline(__always)
    func bits(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt64 {
        var v: UInt64 = 0
        let o = i * size
        if bigEndian {
            for b in 0..<size { v = v << 8 | UInt64(p[o + b]) }
        } else {
            for b in (0..<size).reversed() { v = v << 8 | UInt64(p[o + b]) }
        }
        return v
    }

    /// Element `i` as an Int64, nil for a uint64 above Int64.max (floats: not called).
    @inline(__always)
    func int64(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int64? {
        let v = bits(p, i)
        switch kind {
        case .bool: return v == 0 ? 0 : 1
        case .unsigned: return v > UInt64(Int64.max) ? nil : Int64(v)
        case .signed:
            let shift = UInt64(64 - 8 * size)
            return Int64(bitPattern: v << shift) >> Int64(shift)   // sign-extend
        case .float: return nil
        }
    }

    /// Element `i` as a Double.
    @inline(__always)
    func double(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Double {
        let v = bits(p, i)
        switch kind {
        case .float: return size == 4 ? Double(Float(bitPattern: UInt32(v))) : Double(bitPattern: v)
        case .unsigned: return Double(v)
        case .bool: return v == 0 ? 0 : 1
        case .signed:
            let shift = UInt64(64 - 8 * size)
            return Double(Int64(bitPattern: v << shift) >> Int64(shift))
        }
    }
}

// MARK: - The header dict

/// The three fields of a `.npy` header, parsed from its Python dict literal.
private struct HeaderDict {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Accepts `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` and the same
    /// with double quotes, any key order, any spacing, an optional trailing comma, followed
    /// by spaces and the final newline. Nothing else.
    static func parse(_ text: String, fail: (String) -> DataError) throws -> HeaderDict {
        var s = Substring(text).utf8[...]
        func skipSpace() { while let c = s.first, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { s.removeFirst() } }
        func expect(_ c: UInt8, _ what: String) throws {
            skipSpace()
            guard s.first == c else { throw fail("header: expected \(what) in \(shown(text))") }
            s.removeFirst()
        }
        func string() throws -> String {
            skipSpace()
            guard let q = s.first, q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else {
                throw fail("header: expected a quoted string in \(shown(text))")
            }
            s.removeFirst()
            guard let end = s.firstIndex(of: q) else { throw fail("header: unterminated string in \(shown(text))") }
            let value = String(decoding: s[..<end], as: UTF8.self)
            s = s[s.index(after: end)...]
            return value
        }
        func word() -> String {
            skipSpace()
            var w = ""
            while let c = s.first, (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) {
                w.append(Character(UnicodeScalar(c)))
                s.removeFirst()
            }
            return w
        }
        func integer() throws -> Int {
            skipSpace()
            var digits = 0
            var value = 0
            while let c = s.first, c >= 0x30 && c <= 0x39 {
                let (v1, o1) = value.multipliedReportingOverflow(by: 10)
                let (v2, o2) = v1.addingReportingOverflow(Int(c - 0x30))
                if o1 || o2 { throw fail("header: a dimension of 'shape' overflows Int in \(shown(text))") }
                value = v2
                digits += 1
                s.removeFirst()
            }
            if digits == 0 { throw fail("header: 'shape' must be a tuple of non-negative integers in \(shown(text))") }
            // Python 2 era files may write "3L".
            if s.first == UInt8(ascii: "L") { s.removeFirst() }
            return value
        }

        var descr: String?, fortran: Bool?, shape: [Int]?
        try expect(UInt8(ascii: "{"), "'{'")
        while true {
            skipSpace()
            if s.first == UInt8(ascii: "}") { s.removeFirst(); break }
            let key = try string()
            try expect(UInt8(ascii: ":"), "':' after '\(key)'")
            switch key {
            case "descr" where descr == nil:
                skipSpace()
                if s.first == UInt8(ascii: "[") { throw fail("header: structured dtype (a list in 'descr') is not supported") }
                descr = try string()
            case "fortran_order" where fortran == nil:
                switch word() {
                case "True": fortran = true
                case "False": fortran = false
                case let other: throw fail("header: 'fortran_order' is '\(other)', expected True or False")
                }
            case "shape" where shape == nil:
                try expect(UInt8(ascii: "("), "'(' opening 'shape'")
                var dims: [Int] = []
                skipSpace()
                if s.first == UInt8(ascii: ")") {
                    s.removeFirst()
                } else {
                    while true {
                        dims.append(try integer())
                        skipSpace()
                        if s.first == UInt8(ascii: ")") {
                            // Python needs the trailing comma for a 1-tuple; "(3)" is an int, not a shape.
                            if dims.count == 1 { throw fail("header: 'shape' (\(dims[0])) is not a tuple, expected (\(dims[0]),)") }
                            s.removeFirst()
                            break
                        }
                        try expect(UInt8(ascii: ","), "',' or ')' in 'shape'")
                        skipSpace()
                        if s.first == UInt8(ascii: ")") { s.removeFirst(); break }
                    }
                }
                shape = dims
            case "descr", "fortran_order", "shape":
                throw fail("header: key '\(key)' appears twice")
            default:
                throw fail("header: unexpected key '\(key)', expected only 'descr', 'fortran_order' and 'shape'")
            }
            skipSpace()
            if s.first == UInt8(ascii: ",") { s.removeFirst(); continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            break
        }
        skipSpace()
        guard s.isEmpty else { throw fail("header: unexpected text after the dict in \(shown(text))") }
        guard let descr else { throw fail("header: key 'descr' is missing") }
        guard let fortran else { throw fail("header: key 'fortran_order' is missing") }
        guard let shape else { throw fail("header: key 'shape' is missing") }
        return HeaderDict(descr: descr, fortranOrder: fortran, shape: shape)
    }

    private static func shown(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return "\"" + (trimmed.count > 120 ? String(trimmed.prefix(120)) + "..." : trimmed) + "\""
    }
}

// MARK: - Zip archives (.npz)

/// The central directory of a zip file: enough of the format for what `np.savez` and
/// `np.savez_compressed` write (stored or deflated entries, zip64 sizes and offsets).
enum ZipDirectory {
    struct Entry {
        var name: String
        var method: Int
        var flags: Int
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    static func u16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> Int { u16(b, o) | u16(b, o + 2) << 16 }
    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u32(b, o)) | UInt64(u32(b, o + 4)) << 32 }

    static func entries(_ b: [UInt8], path: String) throws -> [Entry] {
        func bad(_ reason: String) -> DataError { .badArchive(path: path, reason: reason) }
        // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535.
        guard b.count >= 22 else { throw bad("file has \(b.count) bytes, a zip end record needs 22") }
        var eocd = -1
        var o = b.count - 22
        while o >= max(0, b.count - 22 - 65_535) {
            if b[o] == 0x50 && b[o + 1] == 0x4B && b[o + 2] == 0x05 && b[o + 3] == 0x06 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw bad("no end-of-central-directory record (not a zip file, or truncated)") }
        var count = u16(b, eocd + 10)
        var directorySize = u32(b, eocd + 12)
        var directoryOffset = u32(b, eocd + 16)
        // Zip64: the locator sits just before the end record and points at the zip64 end record.
        if (count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF) && eocd >= 20
            && u32(b, eocd - 20) == 0x0706_4B50 {
            let record64 = u64(b, eocd - 12)
            guard record64 <= UInt64(b.count - 56), u32(b, Int(record64)) == 0x0606_4B50 else {
                throw bad("zip64 end record out of bounds or missing")
            }
            let r = Int(record64)
            let count64 = u64(b, r + 32), size64 = u64(b, r + 40), offset64 = u64(b, r + 48)
            guard count64 <= UInt64(b.count), size64 <= UInt64(b.count), offset64 <= UInt64(b.count) else {
                throw bad("zip64 end record gives sizes beyond the file")
            }
            (count, directorySize, directoryOffset) = (Int(count64), Int(size64), Int(offset64))
        }
        guard directoryOffset <= b.count, directorySize <= b.count - directoryOffset else {
            throw bad("central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the file of \(b.count) bytes")
        }
        var entries: [Entry] = []
        var p = directoryOffset
        let end = directoryOffset + directorySize
        for k in 0..<count {
            guard p + 46 <= end, u32(b, p) == 0x0201_4B50 else { throw bad("central directory entry \(k) is malformed") }
            let nameLength = u16(b, p + 28), extraLength = u16(b, p + 30), commentLength = u16(b, p + 32)
            guard p + 46 + nameLength + extraLength + commentLength <= end else {
                throw bad("central directory entry \(k) runs past the directory")
            }
            var entry = Entry(name: String(decoding: b[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self),
                              method: u16(b, p + 10), flags: u16(b, p + 8), crc: UInt32(u32(b, p + 16)),
                              compressedSize: u32(b, p + 20), size: u32(b, p + 24), localHeaderOffset: u32(b, p + 42))
            // Zip64 extra field (id 1): the 64-bit values of the fields set to 0xFFFFFFFF, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(b, e), length = u16(b, e + 2)
                guard e + 4 + length <= extraEnd else { throw bad("entry '\(entry.name)': extra field runs past its end") }
                if id == 1 {
                    var q = e + 4
                    func next() throws -> Int {
                        guard q + 8 <= e + 4 + length else { throw bad("entry '\(entry.name)': zip64 field too short") }
                        let v = u64(b, q)
                        q += 8
                        guard v <= UInt64(Int.max) else { throw bad("entry '\(entry.name)': zip64 value too large") }
                        return Int(v)
                    }
                    if entry.size == 0xFFFF_FFFF { entry.size = try next() }
                    if entry.compressedSize == 0xFFFF_FFFF { entry.compressedSize = try next() }
                    if entry.localHeaderOffset == 0xFFFF_FFFF { entry.localHeaderOffset = try next() }
                }
                e += 4 + length
            }
            entries.append(entry)
            p += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }

    /// The uncompressed bytes of one entry, CRC-checked.
    static func extract(_ entry: Entry, from b: [UInt8], path: String) throws -> [UInt8] {
        func bad(_ reason: String) -> DataError { .badArchive(path: path, reason: "entry '\(entry.name)': \(reason)") }
        if entry.flags & 1 != 0 { throw bad("is encrypted") }
        let h = entry.localHeaderOffset
        guard h <= b.count - 30, u32(b, h) == 0x0403_4B50 else { throw bad("local header missing at offset \(h)") }
        let start = h + 30 + u16(b, h + 26) + u16(b, h + 28)
        guard start <= b.count, entry.compressedSize <= b.count - start else {
            throw bad("data (\(entry.compressedSize) bytes at offset \(start)) runs past the end of the file")
        }
        let raw = Array(b[start..<(start + entry.compressedSize)])
        let content: [UInt8]
        switch entry.method {
        case 0:
            guard entry.size == entry.compressedSize else { throw bad("stored entry has sizes \(entry.compressedSize) and \(entry.size)") }
            content = raw
        case 8:
            // Deflate cannot expand by more than ~1032:1: a larger claim is a corrupt directory.
            guard entry.size <= entry.compressedSize * 1032 + 1024 else {
                throw bad("claims \(entry.size) bytes from \(entry.compressedSize) compressed")
            }
            content = try inflateRaw(raw, expected: entry.size, fail: bad)
        default:
            throw bad("compression method \(entry.method) is not supported (only stored and deflated)")
        }
        let crc = content.withUnsafeBufferPointer { p in
            UInt32(crc32(0, p.baseAddress, uInt(p.count)))
        }
        guard crc == entry.crc else { throw bad("CRC-32 is \(String(crc, radix: 16)), the directory says \(String(entry.crc, radix: 16))") }
        return content
    }

    /// Inflates a raw deflate stream that must produce exactly `expected` bytes.
    static func inflateRaw(_ input: [UInt8], expected: Int, fail: (String) -> DataError) throws -> [UInt8] {
        var stream = z_stream()
        // Negative window bits: a raw deflate stream, no zlib or gzip wrapper (as zip stores it).
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        guard input.count < Int(UInt32.max), expected < Int(UInt32.max) else { throw fail("entry larger than 4 GiB") }
        var output = [UInt8](repeating: 0, count: expected + 1)   // one spare byte detects overlong output
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        let produced = expected + 1 - Int(stream.avail_out)
        guard status == Z_STREAM_END else {
            let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
            throw fail(status == Z_BUF_ERROR ? "deflate stream truncated or longer than \(expected) bytes"
                       : "corrupt deflate data: \(message)")
        }
        guard produced == expected else { throw fail("inflated to \(produced) bytes, the directory says \(expected)") }
        output.removeLast()
        return output
    }
}
