/// An error reading or writing a checkpoint: every case names the file, the tensor or field,
/// and what was expected.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened or read.
    case cannotRead(path: String, reason: String)
    /// The file (or its temporary sibling, or the directory) could not be written or synced.
    case cannotWrite(path: String, reason: String)
    /// Fewer than the 8 bytes of the header length.
    case fileTooShort(path: String, size: Int)
    /// The header length points past the end of the file.
    case headerPastEnd(path: String, headerLength: UInt64, available: Int)
    /// The header is not UTF-8 JSON, or not a JSON object.
    case invalidHeader(path: String, reason: String)
    /// `__metadata__` is not an object of string values.
    case invalidMetadata(path: String, reason: String)
    /// A tensor entry is not an object with `dtype`, `shape` and `data_offsets`.
    case invalidEntry(path: String, tensor: String, reason: String)
    /// A tensor's dtype is not one this library reads.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A tensor's shape is not a list of non-negative integers (or its size overflows).
    case invalidShape(path: String, tensor: String, reason: String)
    /// A tensor's `data_offsets` is not `[begin, end]` with `0 <= begin <= end`.
    case invalidOffsets(path: String, tensor: String, reason: String)
    /// A tensor's byte range does not hold `product(shape) * size(dtype)` bytes.
    case byteLengthMismatch(path: String, tensor: String, byteCount: Int, shape: [Int], dtype: String, expected: Int)
    /// A tensor's byte range ends beyond the data section.
    case rangePastEnd(path: String, tensor: String, end: Int, dataSize: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingRanges(path: String, tensor: String, other: String)
    /// Bytes of the data section that no tensor covers (the format forbids gaps and trailing bytes).
    case unusedBytes(path: String, begin: Int, end: Int)
    /// The same tensor name appears twice in the header.
    case duplicateName(path: String, name: String)
    /// A tensor asked for is not in the file.
    case missingTensor(path: String, name: String)
    /// A tensor was asked for as a type that does not match its dtype.
    case dtypeMismatch(path: String, tensor: String, expected: String, found: String)
    /// A tensor's shape does not fit the model (or optimizer) it is loaded into.
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    /// The file holds a tensor the model does not have.
    case unexpectedTensor(path: String, name: String)
    /// A metadata entry is missing or not of the expected form.
    case badMetadataValue(path: String, key: String, reason: String)

    /// One line for a user: the file, then the tensor or field, then what was wrong and
    /// what was expected.
    public var description: String {
        switch self {
        case .cannotRead(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .fileTooShort(let path, let size):
            return "\(path): file has \(size) bytes, a safetensors file needs at least 8 (the header length)"
        case .headerPastEnd(let path, let headerLength, let available):
            return "\(path): header length \(headerLength) runs past the end of the file (\(available) bytes after the length)"
        case .invalidHeader(let path, let reason):
            return "\(path): invalid header: \(reason)"
        case .invalidMetadata(let path, let reason):
            return "\(path): invalid __metadata__: \(reason)"
        case .invalidEntry(let path, let tensor, let reason):
            return "\(path): tensor \"\(tensor)\": \(reason)"
        case .unknownDType(let path, let tensor, let dtype):
            return "\(path): tensor \"\(tensor)\": unknown dtype \"\(dtype)\", expected one of "
                + SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
        case .invalidShape(let path, let tensor, let reason):
            return "\(path): tensor \"\(tensor)\": invalid shape: \(reason)"
        case .invalidOffsets(let path, let tensor, let reason):
            return "\(path): tensor \"\(tensor)\": invalid data_offsets: \(reason)"
        case .byteLengthMismatch(let path, let tensor, let byteCount, let shape, let dtype, let expected):
            return "\(path): tensor \"\(tensor)\": data_offsets span \(byteCount) bytes, shape \(shape) of \(dtype) "
                + "needs \(expected)"
        case .rangePastEnd(let path, let tensor, let end, let dataSize):
            return "\(path): tensor \"\(tensor)\": data ends at byte \(end), past the end of the data section "
                + "(\(dataSize) bytes)"
        case .overlappingRanges(let path, let tensor, let other):
            return "\(path): tensor \"\(tensor)\": data overlaps tensor \"\(other)\""
        case .unusedBytes(let path, let begin, let end):
            return "\(path): data bytes \(begin)..<\(end) belong to no tensor (ranges must cover the data exactly)"
        case .duplicateName(let path, let name):
            return "\(path): tensor \"\(name)\" appears more than once in the header"
        case .missingTensor(let path, let name):
            return "\(path): no tensor named \"\(name)\""
        case .dtypeMismatch(let path, let tensor, let expected, let found):
            return "\(path): tensor \"\(tensor)\": dtype is \(found), expected \(expected)"
        case .shapeMismatch(let path, let tensor, let expected, let found):
            return "\(path): tensor \"\(tensor)\": shape \(found) does not fit the model, which needs \(expected)"
        case .unexpectedTensor(let path, let name):
            return "\(path): tensor \"\(name)\" is not part of the model"
        case .badMetadataValue(let path, let key, let reason):
            return "\(path): metadata \"\(key)\": \(reason)"
        }
    }
}
