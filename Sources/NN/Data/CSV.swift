import Foundation

// The CSV reader: our own, because neither CSV package on the machine's list parsed the
// 92 MB benchmark file fast enough (README, "Data files", has the figures).
//
// Rules, stated once:
// - Records end at "\n" or "\r\n". Blank lines (only spaces, tabs, '\r') are skipped, as are
//   lines starting with `commentPrefix`, and the first `skipLines` physical lines.
// - A field starting with '"' is quoted: it runs to the next lone '"', may hold delimiters
//   and newlines, and '""' inside stands for one '"'. After the closing quote only spaces,
//   then a delimiter or the end of the line, may follow. A '"' inside an unquoted field is
//   an ordinary character.
// - Delimiter ' ' means "runs of spaces and tabs": leading and trailing blanks are ignored
//   (the layout of numpy.savetxt(delimiter=" ") and of scikit-learn's diabetes files).
// - A column's kind comes from its value in the first data row: a number (or an empty field)
//   makes it numeric, anything else text. A later non-number in a numeric column, and an
//   empty field in any column, is a DataError naming file, line and column (or the row is
//   dropped with `dropInvalidRows`). Numbers follow `DecimalParser`: "nan", "inf" and
//   overflowing values count as non-numbers.
// - Line numbers in errors are physical lines of the (decompressed) file, counting from 1.

/// How to read a CSV file; every option has the default most files need.
public struct CSVOptions: Sendable {
    /// The field separator: `,` `;` `\t`, or ` ` (any run of spaces and tabs is one separator).
    public var delimiter: UInt8
    /// Whether the first row (after skipped lines) names the columns; nil detects it: a
    /// header is a first row with a non-numeric field above a numeric one in the second row.
    public var hasHeader: Bool?
    /// Physical lines to skip at the top (metadata, e.g. the first line of scikit-learn's files).
    public var skipLines: Int
    /// Lines starting with this prefix are skipped anywhere in the file (nil: none).
    public var commentPrefix: String?
    /// Drop rows with a missing or non-numeric value, or the wrong number of fields, instead
    /// of throwing; `Table.droppedRowCount` says how many went.
    public var dropInvalidRows: Bool
    /// Threads that parse chunks of a large file without quotes (0: one per core).
    public var threadCount: Int

    /// Options for a comma-separated file with a detected header.
    public init(delimiter: UInt8 = UInt8(ascii: ","), hasHeader: Bool? = nil, skipLines: Int = 0,
                commentPrefix: String? = nil, dropInvalidRows: Bool = false, threadCount: Int = 0) {
        precondition(delimiter != UInt8(ascii: "\"") && delimiter != UInt8(ascii: "\n") && delimiter != UInt8(ascii: "\r"),
                     "CSVOptions: the delimiter cannot be a quote or a line break")
        precondition(skipLines >= 0, "CSVOptions: skipLines is \(skipLines), expected >= 0")
        precondition(threadCount >= 0, "CSVOptions: threadCount is \(threadCount), expected >= 0")
        precondition(commentPrefix.map { !$0.isEmpty } ?? true, "CSVOptions: commentPrefix is empty")
        self.delimiter = delimiter
        self.hasHeader = hasHeader
        self.skipLines = skipLines
        self.commentPrefix = commentPrefix
        self.dropInvalidRows = dropInvalidRows
        self.threadCount = threadCount
    }
}

// MARK: - Reading the file

/// The whole file in memory, decompressed when it starts with the gzip magic.
func readDataFile(_ path: String) throws -> [UInt8] {
    try gunzipIfCompressed(try readWholeFile(path), path: path)
}

/// The file's bytes as they are: one read(2) loop straight into the array (no `Data`, no
/// second copy). A missing path or a directory is a `DataError` naming it.
func readWholeFile(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError.fileNotFound(path: path, tried: [path])
    }
    if isDirectory.boolValue { throw DataError.unreadable(path: path, reason: "is a directory") }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw DataError.unreadable(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw DataError.unreadable(path: path, reason: String(cString: strerror(errno))) }
    let size = Int(info.st_size)
    var failure: String?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        var done = 0
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            if n < 0 { if errno == EINTR { continue }; failure = String(cString: strerror(errno)); break }
            if n == 0 { break }  // the file shrank while we read it
            done += n
        }
        initialized = done
    }
    if let failure { throw DataError.unreadable(path: path, reason: failure) }
    return bytes
}

/// `bytes` inflated if they start with the gzip magic 1f 8b, else as they are; empty bytes,
/// and a name ending in `.gz` on bytes that are not gzip, are `DataError`s naming `path`.
func gunzipIfCompressed(_ bytes: [UInt8], path: String) throws -> [UInt8] {
    if bytes.isEmpty { throw DataError.emptyFile(path: path) }
    let isGzip = bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    if path.hasSuffix(".gz") && !isGzip {
        throw DataError.notGzip(path: path, firstBytes: Array(bytes.prefix(4)))
    }
    return isGzip ? try gunzip(bytes, path: path) : bytes
}

// MARK: - Scanning fields

/// Why scanning stopped, at which byte offset (turned into a line number only when thrown).
enum CSVFailure: Error {
    case badQuotes(offset: Int, reason: String)
    case ragged(offset: Int, fields: Int)
    case invalid(offset: Int, column: Int, value: String, reason: String)
    case noRows(reason: String)
}

/// Walks the fields of a byte buffer; the last field read is `field`/`fieldCount`.
struct FieldCursor {
    let base: UnsafePointer<UInt8>
    let end: Int
    let delimiter: UInt8
    let spaceSeparated: Bool
    /// Where the next field starts.
    var position = 0
    /// The field just read (into the file, or into `scratch` when quotes were unescaped).
    var field: UnsafePointer<UInt8>
    var fieldCount = 0
    /// Holds a quoted field with '""' inside, unescaped; owned, freed by `release()`.
    private var scratch: UnsafeMutablePointer<UInt8>
    private var scratchCapacity = 256

    init(base: UnsafePointer<UInt8>, end: Int, delimiter: UInt8) {
        self.base = base
        self.end = end
        self.delimiter = delimiter
        self.spaceSeparated = delimiter == UInt8(ascii: " ")
        self.field = base
        self.scratch = .allocate(capacity: 256)
    }

    /// Frees the scratch buffer.
    func release() { scratch.deallocate() }

    @inline(__always) private func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }

    /// If the line at `position` is blank or a comment, moves past it and returns true.
    /// Otherwise (in space-separated mode, after skipping leading blanks) returns false.
    @inline(__always)
    mutating func skipIfBlankOrComment(_ comment: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = position
        while i < end && isBlank(base[i]) { i += 1 }
        if i == end || base[i] == 0x0A {
            position = i == end ? end : i + 1
            return true
        }
        if comment.count > 0 && end - position >= comment.count {
            var matches = true
            for k in 0..<comment.count where base[position + k] != comment[k] { matches = false; break }
            if matches {
                position = nextLine(after: position)
                return true
            }
        }
        if spaceSeparated { position = i }
        return false
    }

    /// The offset after the next '\n' at or after `offset` (or `end`).
    @inline(__always)
    func nextLine(after offset: Int) -> Int {
        var i = offset
        while i < end && base[i] != 0x0A { i += 1 }
        return i == end ? end : i + 1
    }

    /// Reads one field; returns true if another field of the same record follows.
    @inline(__always)
    mutating func next() throws(CSVFailure) -> Bool {
        let s = position
        if s < end && base[s] == UInt8(ascii: "\"") { return try quoted(s) }
        var i = s
        if spaceSeparated {
            while i < end { let c = base[i]; if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { break }; i += 1 }
            field = base + s
            fieldCount = i - s
            return skipToNextField(i)
        }
        let d = delimiter
        while i < end { let c = base[i]; if c == d || c == 0x0A { break }; i += 1 }
        field = base + s
        if i < end && base[i] == d {
            fieldCount = i - s
            position = i + 1
            return true
        }
        // End of the line: drop the '\r' of a CRLF.
        fieldCount = (i > s && base[i - 1] == 0x0D) ? i - 1 - s : i - s
        position = i < end ? i + 1 : end
        return false
    }

    /// After a field ending at `i`: past the separator; false at the end of the record.
    @inline(__always)
    private mutating func skipToNextField(_ start: Int) -> Bool {
        var i = start
        if spaceSeparated {
            while i < end && (base[i] == 0x20 || base[i] == 0x09) { i += 1 }
            if i == end { position = end; return false }
            if base[i] == 0x0A { position = i + 1; return false }
            if base[i] == 0x0D {
                var j = i
                while j < end && isBlank(base[j]) { j += 1 }
                if j == end { position = end; return false }
                if base[j] == 0x0A { position = j + 1; return false }
            }
            position = i
            return true
        }
        while i < end && (base[i] == 0x20 || base[i] == 0x09) && base[i] != delimiter { i += 1 }
        if i == end { position = end; return false }
        let c = base[i]
        if c == delimiter { position = i + 1; return true }
        if c == 0x0A { position = i + 1; return false }
        if c == 0x0D && i + 1 < end && base[i + 1] == 0x0A { position = i + 2; return false }
        if c == 0x0D && i + 1 == end { position = end; return false }
        // Only reached after a closing quote.
        position = i
        return true
    }

    /// A quoted field starting at `s` (the opening quote).
    private mutating func quoted(_ s: Int) throws(CSVFailure) -> Bool {
        var i = s + 1
        var copied = 0        // bytes in scratch; stays 0 while no '""' was seen
        var escaped = false
        while true {
            var q = i
            while q < end && base[q] != UInt8(ascii: "\"") { q += 1 }
            if q == end { throw .badQuotes(offset: s, reason: "the quoted field opened here is never closed") }
            if q + 1 < end && base[q + 1] == UInt8(ascii: "\"") {
                // '""': keep the text so far plus one quote.
                append(from: i, count: q + 1 - i, at: &copied)
                escaped = true
                i = q + 2
                continue
            }
            if escaped {
                append(from: i, count: q - i, at: &copied)
                field = UnsafePointer(scratch)
                fieldCount = copied
            } else {
                field = base + s + 1
                fieldCount = q - s - 1
            }
            let after = q + 1
            var j = after
            while j < end && (base[j] == 0x20 || base[j] == 0x09) && base[j] != delimiter { j += 1 }
            if j < end && base[j] != delimiter && base[j] != 0x0A
                && !(base[j] == 0x0D && (j + 1 == end || base[j + 1] == 0x0A))
                && !(spaceSeparated && j > after) {
                let shown = String(decoding: [base[j]], as: UTF8.self)
                throw .badQuotes(offset: j, reason: "'\(shown)' after a closing quote, expected a delimiter or the end of the line")
            }
            return skipToNextField(after)
        }
    }

    private mutating func append(from start: Int, count: Int, at copied: inout Int) {
        if copied + count > scratchCapacity {
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: max(2 * scratchCapacity, copied + count))
            bigger.update(from: scratch, count: copied)
            scratch.deallocate()
            scratch = bigger
            scratchCapacity = max(2 * scratchCapacity, copied + count)
        }
        (scratch + copied).update(from: base + start, count: count)
        copied += count
    }
}

// MARK: - Parsing records

/// What one chunk of records parsed into: numeric fields row-major (numeric columns only),
/// text fields row-major (text columns only).
struct ParsedRecords {
    var numbers: [Float] = []
    var texts: [String] = []
    var rowCount = 0
    var droppedRowCount = 0
    var failure: CSVFailure?
}

/// Parses the records that start in `[start, stop)`; `numeric[c]` is column c's kind.
func parseRecords(base: UnsafePointer<UInt8>, fileEnd: Int, start: Int, stop: Int, delimiter: UInt8,
                  comment: [UInt8], numeric: [Bool], dropInvalid: Bool, expectedRows: Int) -> ParsedRecords {
    var result = ParsedRecords()
    let columnCount = numeric.count
    let numericCount = numeric.filter { $0 }.count
    var numbers: [Float] = []
    numbers.reserveCapacity(expectedRows * numericCount)
    var texts: [String] = []
    texts.reserveCapacity(expectedRows * (columnCount - numericCount))
    var rows = 0
    var dropped = 0
    let parser = DecimalParser()
    var cursor = FieldCursor(base: base, end: fileEnd, delimiter: delimiter)
    defer { cursor.release() }
    cursor.position = start
    numeric.withUnsafeBufferPointer { isNumeric in
        comment.withUnsafeBufferPointer { commentBytes in
            do throws(CSVFailure) {
                while cursor.position < stop {
                    if cursor.skipIfBlankOrComment(commentBytes) { continue }
                    let recordStart = cursor.position
                    let numbersBefore = numbers.count, textsBefore = texts.count
                    var column = 0
                    var invalid: CSVFailure?
                    while true {
                        let fieldOffset = cursor.position
                        let more = try cursor.next()
                        if column < columnCount {
                            if isNumeric[column] {
                                if let value = parser.parse(cursor.field, cursor.fieldCount) {
                                    numbers.append(value)
                                } else {
                                    numbers.append(0)
                                    if invalid == nil { invalid = invalidField(cursor, fieldOffset, column, numeric: true) }
                                }
                            } else {
                                if cursor.fieldCount == 0 && invalid == nil {
                                    invalid = invalidField(cursor, fieldOffset, column, numeric: false)
                                }
                                texts.append(String(decoding: UnsafeBufferPointer(start: cursor.field, count: cursor.fieldCount),
                                                    as: UTF8.self))
                            }
                        }
                        column += 1
                        if !more { break }
                    }
                    if column != columnCount { invalid = .ragged(offset: recordStart, fields: column) }
                    if let invalid {
                        if !dropInvalid { result.failure = invalid; break }
                        numbers.removeSubrange(numbersBefore...)
                        texts.removeSubrange(textsBefore...)
                        dropped += 1
                    } else {
                        rows += 1
                    }
                }
            } catch {
                result.failure = error
            }
        }
    }
    result.numbers = numbers
    result.texts = texts
    result.rowCount = rows
    result.droppedRowCount = dropped
    return result
}

private func invalidField(_ cursor: FieldCursor, _ offset: Int, _ column: Int, numeric: Bool) -> CSVFailure {
    let text = String(decoding: UnsafeBufferPointer(start: cursor.field, count: cursor.fieldCount), as: UTF8.self)
    if text.allSatisfy({ $0 == " " || $0 == "\t" }) {
        return .invalid(offset: offset, column: column, value: "", reason: "missing value")
    }
    return .invalid(offset: offset, column: column, value: text,
                    reason: "not a finite decimal number (the column is numeric, from its first row):")
}

/// Reads one record's fields as strings (the header and the first data rows); nil at the end.
func readRecordStrings(_ cursor: inout FieldCursor, comment: UnsafeBufferPointer<UInt8>) throws(CSVFailure)
    -> (fields: [String], start: Int)? {
    while cursor.position < cursor.end {
        if cursor.skipIfBlankOrComment(comment) { continue }
        let start = cursor.position
        var fields: [String] = []
        while true {
            let more = try cursor.next()
            fields.append(String(decoding: UnsafeBufferPointer(start: cursor.field, count: cursor.fieldCount), as: UTF8.self))
            if !more { break }
        }
        return (fields, start)
    }
    return nil
}

/// The physical line (from 1) that holds byte `offset`.
func lineNumber(of offset: Int, in base: UnsafePointer<UInt8>) -> Int {
    var line = 1
    for i in 0..<offset where base[i] == 0x0A { line += 1 }
    return line
}

extension Table {
    /// Reads a CSV file (gzip-compressed files are detected by their magic bytes) into columns.
    ///
    /// Throws `DataError` naming the file and, for bad content, the line and column:
    /// unreadable or corrupt files, bad quotes, rows of the wrong length, missing and
    /// non-numeric values in numeric columns (unless `options.dropInvalidRows`), no data rows.
    public static func readCSV(_ path: String, options: CSVOptions = .init()) throws -> Table {
        let bytes = try readDataFile(path)
        return try parseCSV(bytes, path: path, options: options)
    }

    /// Parses CSV text already in memory (uncompressed); `path` names it in errors.
    public static func parseCSV(_ bytes: [UInt8], path: String, options: CSVOptions = .init()) throws -> Table {
        let comment = Array((options.commentPrefix ?? "").utf8)
        return try bytes.withUnsafeBufferPointer { buffer -> Table in
            guard let base = buffer.baseAddress, buffer.count > 0 else { throw DataError.emptyFile(path: path) }
            do {
                return try parse(base: base, count: buffer.count, path: path, options: options, comment: comment)
            } catch let failure as CSVFailure {
                throw dataError(failure, base: base, path: path, names: nil)
            }
        }
    }

    private static func dataError(_ failure: CSVFailure, base: UnsafePointer<UInt8>, path: String, names: [String]?) -> DataError {
        switch failure {
        case .badQuotes(let offset, let reason):
            return .badQuotes(path: path, line: lineNumber(of: offset, in: base), reason: reason)
        case .ragged(let offset, let fields):
            return .raggedRow(path: path, line: lineNumber(of: offset, in: base), fields: fields, expected: names?.count ?? 0)
        case .invalid(let offset, let column, let value, let reason):
            return .invalidValue(path: path, line: lineNumber(of: offset, in: base), column: column + 1,
                                 name: names?[column] ?? String(column), value: value, reason: reason)
        case .noRows(let reason):
            return .noRows(path: path, reason: reason)
        }
    }

    private static func parse(base: UnsafePointer<UInt8>, count: Int, path: String, options: CSVOptions,
                              comment: [UInt8]) throws -> Table {
        var cursor = FieldCursor(base: base, end: count, delimiter: options.delimiter)
        defer { cursor.release() }
        for _ in 0..<options.skipLines where cursor.position < count {
            cursor.position = cursor.nextLine(after: cursor.position)
        }
        func isNumber(_ s: String) -> Bool { parseDecimalFloat(s) != nil }
        func isMissing(_ s: String) -> Bool { s.allSatisfy { $0 == " " || $0 == "\t" } }

        let (first, second): ((fields: [String], start: Int)?, (fields: [String], start: Int)?) =
            try comment.withUnsafeBufferPointer { c throws(CSVFailure) in
                let first = try readRecordStrings(&cursor, comment: c)
                let second = first == nil ? nil : try readRecordStrings(&cursor, comment: c)
                return (first, second)
            }
        guard let first else {
            throw CSVFailure.noRows(reason: "every line is skipped, blank or a comment")
        }
        let header: Bool
        if let given = options.hasHeader {
            header = given
        } else if let second {
            // A header: some field is text where the row below holds a number there.
            header = zip(first.fields, second.fields).contains { !isNumber($0.0) && !isMissing($0.0) && isNumber($0.1) }
        } else {
            header = false
        }
        let names: [String]
        let dataRow: (fields: [String], start: Int)
        if header {
            names = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
            guard let second else { throw CSVFailure.noRows(reason: "only a header line") }
            if second.fields.count != names.count {
                throw dataError(.ragged(offset: second.start, fields: second.fields.count), base: base, path: path, names: names)
            }
            dataRow = second
        } else {
            names = (0..<first.fields.count).map(String.init)
            dataRow = first
        }
        let numeric = dataRow.fields.map { isNumber($0) || isMissing($0) }

        // Chunks start at line starts; only a file without quotes can be cut blindly (a quoted
        // field may hold a newline).
        let dataStart = dataRow.start
        let dataBytes = count - dataStart
        let hasQuotes = memchr(base + dataStart, Int32(UInt8(ascii: "\"")), dataBytes) != nil
        let threads = options.threadCount > 0 ? options.threadCount : ProcessInfo.processInfo.activeProcessorCount
        let chunkCount = (hasQuotes || dataBytes < 1 << 20 || threads == 1) ? 1 : 4 * threads
        var bounds = [dataStart]
        for k in 1..<max(chunkCount, 1) {
            let target = max(dataStart + k * (dataBytes / chunkCount), bounds.last!)
            let start = target >= count ? count : cursor.nextLine(after: target)
            bounds.append(start)
        }
        bounds.append(count)
        // The first rows' length estimates each chunk's row count (one allocation per chunk).
        let rowsRead = (header || second == nil) ? 1 : 2
        let bytesPerRow = max(1, (cursor.position - dataRow.start) / rowsRead)
        let chunks = bounds.count - 1
        let delimiter = options.delimiter
        let drop = options.dropInvalidRows
        // Each chunk writes only its own slot of `parts` and reads the immutable file bytes.
        nonisolated(unsafe) let parts = UnsafeMutableBufferPointer<ParsedRecords>.allocate(capacity: chunks)
        nonisolated(unsafe) let fileBase = base
        parts.initialize(repeating: ParsedRecords())
        defer { parts.deinitialize(); parts.deallocate() }
        let starts = bounds
        let work = { @Sendable (k: Int) in
            let span = starts[k + 1] - starts[k]
            parts[k] = parseRecords(base: fileBase, fileEnd: count, start: starts[k], stop: starts[k + 1], delimiter: delimiter,
                                    comment: comment, numeric: numeric, dropInvalid: drop,
                                    expectedRows: span / bytesPerRow + 16)
        }
        if chunks == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }

        var rowCount = 0
        var dropped = 0
        for k in 0..<chunks {
            if let failure = parts[k].failure { throw dataError(failure, base: base, path: path, names: names) }
            rowCount += parts[k].rowCount
            dropped += parts[k].droppedRowCount
        }
        if rowCount == 0 {
            throw CSVFailure.noRows(reason: dropped > 0 ? "all \(dropped) rows were dropped as invalid" : "no rows after the header")
        }
        return Table(path: path, columnNames: names,
                     columns: gatherColumns(parts: parts, numeric: numeric, rowCount: rowCount),
                     rowCount: rowCount, droppedRowCount: dropped)
    }

    /// Transposes the chunks' row-major values into one array per column.
    private static func gatherColumns(parts: UnsafeMutableBufferPointer<ParsedRecords>, numeric: [Bool],
                                      rowCount: Int) -> [Column] {
        let numericColumns = numeric.indices.filter { numeric[$0] }
        let textColumns = numeric.indices.filter { !numeric[$0] }
        var columns = [Column?](repeating: nil, count: numeric.count)
        for (j, c) in numericColumns.enumerated() {
            let stride = numericColumns.count
            let values = [Float](unsafeUninitializedCapacity: rowCount) { out, initialized in
                var row = 0
                for k in 0..<parts.count {
                    parts[k].numbers.withUnsafeBufferPointer { p in
                        let rows = parts[k].rowCount
                        for r in 0..<rows { out[row + r] = p[r * stride + j] }
                        row += rows
                    }
                }
                initialized = rowCount
            }
            columns[c] = .numeric(values)
        }
        for (j, c) in textColumns.enumerated() {
            let stride = textColumns.count
            var values: [String] = []
            values.reserveCapacity(rowCount)
            for k in 0..<parts.count {
                for r in 0..<parts[k].rowCount { values.append(parts[k].texts[r * stride + j]) }
            }
            columns[c] = .text(values)
        }
        return columns.map { $0! }
    }
}
