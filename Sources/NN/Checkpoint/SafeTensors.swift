import Foundation

/// The element types of the safetensors format that this library reads and writes.
///
/// Every dtype can be stored and read back as raw bytes; the ones with a Swift counterpart
/// (`SafeTensorsScalar`) also have typed accessors. 64-bit integers (I64, U64) are there for
/// optimizer step counts and `RandomGenerator` state, which Float cannot hold exactly.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    /// One byte per boolean, 0 or 1 (torch.bool).
    case bool = "BOOL"
    /// Unsigned 8-bit integers (torch.uint8; Swift `UInt8`).
    case u8 = "U8"
    /// Signed 8-bit integers (torch.int8; Swift `Int8`).
    case i8 = "I8"
    /// Unsigned 16-bit integers (torch.uint16; Swift `UInt16`).
    case u16 = "U16"
    /// Signed 16-bit integers (torch.int16; Swift `Int16`).
    case i16 = "I16"
    /// IEEE 754 half-precision floats (torch.float16); raw bytes only.
    case f16 = "F16"
    /// bfloat16: the upper half of a float32 (torch.bfloat16); raw bytes only.
    case bf16 = "BF16"
    /// Unsigned 32-bit integers (torch.uint32; Swift `UInt32`).
    case u32 = "U32"
    /// Signed 32-bit integers (torch.int32; Swift `Int32`).
    case i32 = "I32"
    /// IEEE 754 single-precision floats (torch.float32; Swift `Float`): every parameter,
    /// buffer and optimizer state tensor.
    case f32 = "F32"
    /// Unsigned 64-bit integers (torch.uint64; Swift `UInt64`): `RandomGenerator` states.
    case u64 = "U64"
    /// Signed 64-bit integers (torch.int64, e.g. PyTorch's `num_batches_tracked`; Swift `Int64`).
    case i64 = "I64"
    /// IEEE 754 double-precision floats (torch.float64; Swift `Double`).
    case f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }
}

/// A Swift type stored as a safetensors dtype, little-endian, bit for bit.
public protocol SafeTensorsScalar: BitwiseCopyable, Sendable {
    /// The dtype this type is stored as.
    static var safeTensorsDType: SafeTensorsDType { get }
}

/// Float is stored as F32.
extension Float: SafeTensorsScalar {
    /// `.f32`.
    public static var safeTensorsDType: SafeTensorsDType { .f32 }
}
/// Double is stored as F64.
extension Double: SafeTensorsScalar {
    /// `.f64`.
    public static var safeTensorsDType: SafeTensorsDType { .f64 }
}
/// Int8 is stored as I8.
extension Int8: SafeTensorsScalar {
    /// `.i8`.
    public static var safeTensorsDType: SafeTensorsDType { .i8 }
}
/// Int16 is stored as I16.
extension Int16: SafeTensorsScalar {
    /// `.i16`.
    public static var safeTensorsDType: SafeTensorsDType { .i16 }
}
/// Int32 is stored as I32.
extension Int32: SafeTensorsScalar {
    /// `.i32`.
    public static var safeTensorsDType: SafeTensorsDType { .i32 }
}
/// Int64 is stored as I64.
extension Int64: SafeTensorsScalar {
    /// `.i64`.
    public static var safeTensorsDType: SafeTensorsDType { .i64 }
}
/// UInt8 is stored as U8.
extension UInt8: SafeTensorsScalar {
    /// `.u8`.
    public static var safeTensorsDType: SafeTensorsDType { .u8 }
}
/// UInt16 is stored as U16.
extension UInt16: SafeTensorsScalar {
    /// `.u16`.
    public static var safeTensorsDType: SafeTensorsDType { .u16 }
}
/// UInt32 is stored as U32.
extension UInt32: SafeTensorsScalar {
    /// `.u32`.
    public static var safeTensorsDType: SafeTensorsDType { .u32 }
}
/// UInt64 is stored as U64.
extension UInt64: SafeTensorsScalar {
    /// `.u64`.
    public static var safeTensorsDType: SafeTensorsDType { .u64 }
}

/// One tensor of a safetensors file: dtype, shape (`[]` for a scalar) and little-endian bytes.
public struct StoredTensor: Sendable, Equatable {
    /// The element type.
    public let dtype: SafeTensorsDType
    /// The dimensions, outermost first; `[]` is a scalar (one element).
    public let shape: [Int]
    /// The elements, row-major, little-endian: `elementCount * dtype.size` bytes.
    public let bytes: [UInt8]

    /// Number of elements: the product of `shape` (1 for a scalar, 0 if any dimension is 0).
    public var elementCount: Int { shape.reduce(1, *) }

    /// A tensor from raw little-endian bytes; `bytes` must hold exactly what `shape` needs.
    public init(dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "StoredTensor: shape \(shape) has a negative dimension")
        precondition(bytes.count == shape.reduce(1, *) * dtype.size,
                     "StoredTensor: \(bytes.count) bytes, shape \(shape) of \(dtype.rawValue) needs "
                     + "\(shape.reduce(1, *) * dtype.size)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A tensor holding `values` (row-major) with `shape`.
    public init<T: SafeTensorsScalar>(_ values: [T], shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 } && values.count == shape.reduce(1, *),
                     "StoredTensor: \(values.count) values do not fill shape \(shape)")
        var bytes = values.withUnsafeBytes { Array($0) }
        toLittleEndian(&bytes, elementSize: MemoryLayout<T>.size)
        self.init(dtype: T.safeTensorsDType, shape: shape, bytes: bytes)
    }

    /// A scalar tensor (shape `[]`).
    public init<T: SafeTensorsScalar>(scalar: T) {
        self.init([scalar], shape: [])
    }

    /// The elements as `T`, or nil if `T` is not this tensor's dtype.
    public func values<T: SafeTensorsScalar>(as type: T.Type = T.self) -> [T]? {
        guard T.safeTensorsDType == dtype, MemoryLayout<T>.size == dtype.size else { return nil }
        var native = bytes
        toLittleEndian(&native, elementSize: dtype.size)  // a byte swap is its own inverse
        let count = native.count / dtype.size
        return [T](unsafeUninitializedCapacity: count) { out, initialized in
            native.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(out).copyMemory(from: raw)
            }
            initialized = count
        }
    }
}

/// Converts native-order elements to little-endian in place (a no-op on little-endian hosts).
private func toLittleEndian(_ bytes: inout [UInt8], elementSize: Int) {
    #if _endian(big)
    for start in stride(from: 0, to: bytes.count, by: elementSize) {
        bytes[start..<(start + elementSize)].reverse()
    }
    #endif
}

/// A safetensors file (https://github.com/huggingface/safetensors): string metadata and named
/// tensors.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON header
/// (`{"__metadata__": {..}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ..}`,
/// padded with spaces to a multiple of 8), then the data section; offsets are relative to it.
/// Written files are byte-reproducible: the header lists tensors (and metadata keys) sorted by
/// name; the data is laid out by decreasing element size, then name, so every tensor is
/// aligned to its element size for readers that map the file, as the reference writer does.
public struct SafeTensorsFile: Sendable {
    /// Free-form string metadata (`__metadata__`).
    public var metadata: [String: String]
    /// The tensors, by name.
    public var tensors: [String: StoredTensor]
    /// Where this file was read from, for error messages; "<memory>" if built in memory.
    public var source: String

    /// A file with the given contents. `__metadata__` is reserved and cannot name a tensor.
    public init(metadata: [String: String] = [:], tensors: [String: StoredTensor] = [:], source: String = "<memory>") {
        self.metadata = metadata
        self.tensors = tensors
        self.source = source
    }

    /// The tensor called `name`; throws `CheckpointError.missingTensor` naming the file if absent.
    public func tensor(_ name: String) throws -> StoredTensor {
        guard let t = tensors[name] else { throw CheckpointError.missingTensor(path: source, name: name) }
        return t
    }

    /// The elements of tensor `name` as `T`; throws if it is absent or stored as another dtype.
    public func values<T: SafeTensorsScalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        let t = try tensor(name)
        guard let v = t.values(as: T.self) else {
            throw CheckpointError.dtypeMismatch(path: source, tensor: name, expected: T.safeTensorsDType.rawValue,
                                                found: t.dtype.rawValue)
        }
        return v
    }

    // MARK: Writing

    /// The complete file contents.
    public func serialized() -> [UInt8] {
        precondition(tensors["__metadata__"] == nil, "SafeTensorsFile: \"__metadata__\" is reserved, not a tensor name")
        // Byte-wise order, as the reference implementation's sort, not Unicode collation.
        func byName(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        let names = tensors.keys.sorted(by: byName)
        let layout = names.sorted { a, b in
            let sa = tensors[a]!.dtype.size, sb = tensors[b]!.dtype.size
            return sa != sb ? sa > sb : byName(a, b)
        }
        var offsets: [String: (Int, Int)] = [:]
        var dataSize = 0
        for name in layout {
            let n = tensors[name]!.bytes.count
            offsets[name] = (dataSize, dataSize + n)
            dataSize += n
        }

        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted(by: byName).map { "\(jsonQuoted($0)):\(jsonQuoted(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        for name in names {
            let t = tensors[name]!
            let (begin, end) = offsets[name]!
            entries.append("\(jsonQuoted(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(begin),\(end)]}")
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + dataSize)
        let n = UInt64(header.count)
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(k)))) }
        out += header
        for name in layout { out += tensors[name]!.bytes }
        return out
    }

    /// Writes the file atomically: a temporary file in the same directory is written and
    /// fsynced, renamed over `url`, and the directory is fsynced, so a crash at any point
    /// leaves either the previous file or the new one, never a partial file.
    ///
    /// `beforeRename`, for tests, runs after the temporary file (its URL is passed) is
    /// complete and synced and before the rename; if it throws, the temporary file is
    /// removed, the destination is untouched, and the error is rethrown. A real crash at
    /// that point would leave the temporary file (`.<name>.tmp-*`) behind, harmlessly.
    public func write(to url: URL, beforeRename: ((URL) throws -> Void)? = nil) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let bytes = serialized()
        // The system generator, not RandomGenerator: the name must not collide with another
        // process's, and must not consume the training run's reproducible random stream.
        let tempPath = (directory as NSString).appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))")

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.cannotWrite(path: tempPath, reason: errnoText()) }
        var renamed = false
        var fdIsOpen = true
        defer {
            if fdIsOpen { close(fd) }
            if !renamed { unlink(tempPath) }
        }
        try bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.cannotWrite(path: tempPath, reason: errnoText())
                }
                written += n
            }
        }
        guard fsync(fd) == 0 else { throw CheckpointError.cannotWrite(path: tempPath, reason: "fsync: \(errnoText())") }
        fdIsOpen = false
        guard close(fd) == 0 else { throw CheckpointError.cannotWrite(path: tempPath, reason: "close: \(errnoText())") }

        try beforeRename?(URL(fileURLWithPath: tempPath))

        guard rename(tempPath, path) == 0 else {
            throw CheckpointError.cannotWrite(path: path, reason: "rename from \(tempPath): \(errnoText())")
        }
        renamed = true
        // The rename lives in the directory: without syncing it, a power loss could bring back
        // the old directory entry (or none) although the data itself was synced.
        let dirFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else {
            throw CheckpointError.cannotWrite(path: directory, reason: "open directory to fsync: \(errnoText())")
        }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else {
            throw CheckpointError.cannotWrite(path: directory, reason: "fsync directory: \(errnoText())")
        }
    }

    // MARK: Reading

    /// Reads and validates a safetensors file; every defect is a `CheckpointError` naming the file.
    public static func read(from url: URL) throws -> SafeTensorsFile {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.cannotRead(path: url.path, reason: error.localizedDescription)
        }
        return try parse([UInt8](data), path: url.path)
    }

    /// Parses and validates the bytes of a safetensors file; `path` names it in errors.
    public static func parse(_ file: [UInt8], path: String) throws -> SafeTensorsFile {
        guard file.count >= 8 else { throw CheckpointError.fileTooShort(path: path, size: file.count) }
        var headerLength: UInt64 = 0
        for k in 0..<8 { headerLength |= UInt64(file[k]) << (8 * UInt64(k)) }
        guard headerLength <= UInt64(file.count - 8) else {
            throw CheckpointError.headerPastEnd(path: path, headerLength: headerLength, available: file.count - 8)
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = file.count - dataStart

        let root: JSONValue
        do {
            root = try JSONParser.parse(Array(file[8..<dataStart]))
        } catch let e as JSONParseError {
            throw CheckpointError.invalidHeader(path: path, reason: "not valid JSON: \(e.message) at header byte \(e.offset)")
        }
        guard case .object(let members) = root else {
            throw CheckpointError.invalidHeader(path: path, reason: "expected a JSON object, found \(root.kind)")
        }

        var metadata: [String: String] = [:]
        var seen = Set<String>()
        var entries: [(name: String, dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw CheckpointError.duplicateName(path: path, name: name) }
            if name == "__metadata__" {
                metadata = try parseMetadata(value, path: path)
                continue
            }
            guard case .object(let fields) = value else {
                throw CheckpointError.invalidEntry(path: path, tensor: name,
                                                   reason: "expected an object with dtype, shape, data_offsets, found \(value.kind)")
            }
            func field(_ key: String) throws -> JSONValue {
                let matches = fields.filter { $0.key == key }
                guard matches.count == 1 else {
                    throw CheckpointError.invalidEntry(
                        path: path, tensor: name,
                        reason: matches.isEmpty ? "missing field \"\(key)\"" : "field \"\(key)\" appears \(matches.count) times")
                }
                return matches[0].value
            }
            guard case .string(let dtypeName) = try field("dtype") else {
                throw CheckpointError.invalidEntry(path: path, tensor: name, reason: "dtype must be a string, found \(try field("dtype").kind)")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw CheckpointError.unknownDType(path: path, tensor: name, dtype: dtypeName)
            }
            let shape = try parseShape(try field("shape"), path: path, tensor: name)
            let (begin, end) = try parseOffsets(try field("data_offsets"), path: path, tensor: name)

            var expected = dtype.size
            for d in shape {
                let (p, overflow) = expected.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw CheckpointError.invalidShape(path: path, tensor: name, reason: "\(shape) of \(dtypeName) overflows Int bytes")
                }
                expected = p
            }
            guard end - begin == expected else {
                throw CheckpointError.byteLengthMismatch(path: path, tensor: name, byteCount: end - begin, shape: shape,
                                                         dtype: dtypeName, expected: expected)
            }
            guard end <= dataSize else {
                throw CheckpointError.rangePastEnd(path: path, tensor: name, end: end, dataSize: dataSize)
            }
            entries.append((name, dtype, shape, begin, end))
        }

        // The ranges, in order, must tile the data section exactly: no overlap, no gap, no tail.
        let ordered = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var coveredBy = ""
        for e in ordered {
            if e.begin < covered {
                throw CheckpointError.overlappingRanges(path: path, tensor: e.name, other: coveredBy)
            }
            if e.begin > covered { throw CheckpointError.unusedBytes(path: path, begin: covered, end: e.begin) }
            if e.end > covered || coveredBy.isEmpty { covered = e.end; coveredBy = e.name }
        }
        if covered < dataSize { throw CheckpointError.unusedBytes(path: path, begin: covered, end: dataSize) }

        var tensors: [String: StoredTensor] = [:]
        for e in entries {
            tensors[e.name] = StoredTensor(dtype: e.dtype, shape: e.shape,
                                           bytes: Array(file[(dataStart + e.begin)..<(dataStart + e.end)]))
        }
        return SafeTensorsFile(metadata: metadata, tensors: tensors, source: path)
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws -> [String: String] {
        guard case .object(let pairs) = value else {
            throw CheckpointError.invalidMetadata(path: path, reason: "expected an object of strings, found \(value.kind)")
        }
        var metadata: [String: String] = [:]
        for (key, v) in pairs {
            guard case .string(let s) = v else {
                throw CheckpointError.invalidMetadata(path: path, reason: "key \"\(key)\": expected a string, found \(v.kind)")
            }
            guard metadata.updateValue(s, forKey: key) == nil else {
                throw CheckpointError.invalidMetadata(path: path, reason: "key \"\(key)\" appears more than once")
            }
        }
        return metadata
    }

    private static func parseShape(_ value: JSONValue, path: String, tensor: String) throws -> [Int] {
        guard case .array(let items) = value else {
            throw CheckpointError.invalidShape(path: path, tensor: tensor, reason: "expected a list of non-negative integers, found \(value.kind)")
        }
        return try items.enumerated().map { k, item in
            guard case .integer(let d) = item, d >= 0 else {
                throw CheckpointError.invalidShape(
                    path: path, tensor: tensor,
                    reason: "dimension \(k) must be a non-negative integer, found \(item.kind)\(negativeSuffix(item))")
            }
            return d
        }
    }

    private static func parseOffsets(_ value: JSONValue, path: String, tensor: String) throws -> (Int, Int) {
        guard case .array(let items) = value, items.count == 2 else {
            throw CheckpointError.invalidOffsets(path: path, tensor: tensor, reason: "expected [begin, end], found \(describeList(value))")
        }
        guard case .integer(let begin) = items[0], begin >= 0, case .integer(let end) = items[1], end >= 0 else {
            throw CheckpointError.invalidOffsets(path: path, tensor: tensor,
                                                 reason: "begin and end must be non-negative integers, found \(describeList(value))")
        }
        guard begin <= end else {
            throw CheckpointError.invalidOffsets(path: path, tensor: tensor, reason: "begin \(begin) > end \(end)")
        }
        return (begin, end)
    }

    private static func negativeSuffix(_ v: JSONValue) -> String {
        if case .integer(let d) = v, d < 0 { return " \(d)" }
        return ""
    }

    private static func describeList(_ v: JSONValue) -> String {
        guard case .array(let items) = v else { return v.kind }
        return "a list of \(items.count): [" + items.map { item -> String in
            if case .integer(let d) = item { return String(d) }
            return item.kind
        }.joined(separator: ", ") + "]"
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }
