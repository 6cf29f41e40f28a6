/// An error reading a dataset: every case names the file (or directory) and what was wrong,
/// so a user can fix a bad download or a wrong path without reading the source.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The dataset directory does not exist (or is not a directory).
    case directoryNotFound(path: String)
    /// A file the loader needs is absent; `tried` lists every name looked for.
    case fileNotFound(path: String, tried: [String])
    /// The file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// The file has no bytes at all.
    case emptyFile(path: String)
    /// The name ends in `.gz` but the content does not start with the gzip magic 1f 8b.
    case notGzip(path: String, firstBytes: [UInt8])
    /// The gzip stream could not be inflated (bad data, bad checksum, truncated, trailing junk).
    case corruptGzip(path: String, reason: String)
    /// The IDX header is shorter than its own dimension count says.
    case truncatedHeader(path: String, size: Int, needed: Int)
    /// The first two bytes of the IDX magic number are not zero.
    case badMagic(path: String, bytes: [UInt8])
    /// The IDX element type byte is not one of the six the format defines.
    case unsupportedElementType(path: String, code: UInt8)
    /// The element type is valid IDX but not what this dataset stores.
    case wrongElementType(path: String, found: IDXElementType, expected: IDXElementType)
    /// The dimension count or a dimension is unusable (zero dimensions, product overflows).
    case invalidDimensions(path: String, reason: String)
    /// The payload after the header is not exactly the size the dimensions need.
    case payloadSizeMismatch(path: String, payloadBytes: Int, dimensions: [Int], expectedBytes: Int)
    /// The dimensions are valid IDX but not the layout the dataset needs (e.g. images not N x H x W).
    case unexpectedShape(path: String, dimensions: [Int], expected: String)
    /// The image and label files disagree on the number of examples.
    case countMismatch(imagesPath: String, imageCount: Int, labelsPath: String, labelCount: Int)
    /// A label is not a valid class index.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// A CSV field is missing or not a number where its column is numeric (or missing in a
    /// text column); `line` and `column` count from 1, `name` is the column's name.
    case invalidValue(path: String, line: Int, column: Int, name: String, value: String, reason: String)
    /// A CSV row has a different number of fields than the first row (or the header).
    case raggedRow(path: String, line: Int, fields: Int, expected: Int)
    /// A quoted CSV field is not closed, or a closing quote is followed by something other
    /// than a delimiter or the end of the line.
    case badQuotes(path: String, line: Int, reason: String)
    /// The file holds no data rows (every line skipped, blank, a comment or the header).
    case noRows(path: String, reason: String)
    /// A target column named or indexed that the table does not have.
    case unknownColumn(path: String, column: String, available: [String])
    /// A column cannot be used the way asked (e.g. float values as class labels).
    case unsuitableColumn(path: String, column: String, reason: String)
    /// A NumPy `.npy` file (or an entry of an `.npz` archive) is not well formed.
    case badNumPyFile(path: String, reason: String)
    /// A `.npy` dtype this reader does not convert (complex, strings, objects, ...).
    case unsupportedDType(path: String, dtype: String)
    /// A `.npz` archive is not a zip file this reader can read.
    case badArchive(path: String, reason: String)

    /// One line for a user: the file, then what was wrong and what was expected.
    public var description: String {
        switch self {
        case .directoryNotFound(let path):
            return "\(path): dataset directory not found"
        case .fileNotFound(let path, let tried):
            return "\(path): file not found (looked for \(tried.joined(separator: ", ")))"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .emptyFile(let path):
            return "\(path): file is empty"
        case .notGzip(let path, let firstBytes):
            return "\(path): name ends in .gz but the file does not start with the gzip magic 1f 8b "
                + "(first bytes: \(hex(firstBytes)))"
        case .corruptGzip(let path, let reason):
            return "\(path): corrupt gzip stream: \(reason)"
        case .truncatedHeader(let path, let size, let needed):
            return "\(path): IDX header truncated: file has \(size) bytes, header needs \(needed)"
        case .badMagic(let path, let bytes):
            return "\(path): not an IDX file: magic number starts with \(hex(bytes)), expected 00 00"
        case .unsupportedElementType(let path, let code):
            return "\(path): unknown IDX element type 0x\(String(code, radix: 16, uppercase: true)), "
                + "expected one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E"
        case .wrongElementType(let path, let found, let expected):
            return "\(path): element type is \(found), expected \(expected)"
        case .invalidDimensions(let path, let reason):
            return "\(path): invalid dimensions: \(reason)"
        case .payloadSizeMismatch(let path, let payloadBytes, let dimensions, let expectedBytes):
            return "\(path): payload has \(payloadBytes) bytes, dimensions "
                + "\(dimensions.map(String.init).joined(separator: "x")) need \(expectedBytes)"
        case .unexpectedShape(let path, let dimensions, let expected):
            return "\(path): dimensions \(dimensions.map(String.init).joined(separator: "x")), expected \(expected)"
        case .countMismatch(let imagesPath, let imageCount, let labelsPath, let labelCount):
            return "\(imagesPath) has \(imageCount) images but \(labelsPath) has \(labelCount) labels"
        case .labelOutOfRange(let path, let index, let label, let classCount):
            return "\(path): label \(index) is \(label), expected 0..<\(classCount)"
        case .invalidValue(let path, let line, let column, let name, let value, let reason):
            return "\(path): line \(line), column \(column) ('\(name)'): \(reason)"
                + (value.isEmpty ? "" : " '\(value.count > 40 ? String(value.prefix(40)) + "..." : value)'")
        case .raggedRow(let path, let line, let fields, let expected):
            return "\(path): line \(line) has \(fields) fields, expected \(expected) like the first row"
        case .badQuotes(let path, let line, let reason):
            return "\(path): line \(line): bad quotes: \(reason)"
        case .noRows(let path, let reason):
            return "\(path): no data rows: \(reason)"
        case .unknownColumn(let path, let column, let available):
            let shown = available.count > 12 ? available.prefix(12).joined(separator: ", ") + ", ..." : available.joined(separator: ", ")
            return "\(path): no column \(column) (columns: \(shown))"
        case .unsuitableColumn(let path, let column, let reason):
            return "\(path): column '\(column)': \(reason)"
        case .badNumPyFile(let path, let reason):
            return "\(path): not a valid .npy array: \(reason)"
        case .unsupportedDType(let path, let dtype):
            return "\(path): unsupported dtype '\(dtype)', expected float32/64, int8-64, uint8-64 or bool"
        case .badArchive(let path, let reason):
            return "\(path): not a valid .npz (zip) archive: \(reason)"
        }
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.isEmpty ? "(none)" : bytes.map { b in
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }.joined(separator: " ")
}
