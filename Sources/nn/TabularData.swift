import ArgumentParser
import Foundation
import NN

// Tabular data for `nn train`, `nn eval` and `nn predict`: a CSV file (gzip or not), a
// `.npy` array or a `.npz` archive, read into features and (optional) target columns.
//
// Rules, stated once:
// - `--data` names a directory: Fashion-MNIST's IDX files, as before; a file: tabular.
// - CSV and 2-D `.npy` files are tables; `--target` picks the target column(s) by header
//   name or index (negative counts from the end; a header-less file's columns are "0",
//   "1", ...). Every other column is a feature; text columns become one-hot columns.
// - `.npz`: `--target` names the targets array ([N] or [N, k]) and `--features` the
//   features array ([N, ...], any per-sample shape); without `--features`, the one other array.
// - `--targets FILE` reads the targets from a file of their own (scikit-learn's diabetes:
//   data and target files); `--target` then picks among its columns (default: all).
// - eval and predict default every reading option to the one the checkpoint was trained
//   with, except `--skip-lines`, which only applies to the very file it was given for.

/// The options that say how to read a tabular `--data` file.
struct TabularOptions: ParsableArguments {
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("Tabular data: the target column(s), by header name or index (-1: the last); repeat or separate with commas for several.",
                               discussion: "For .npz archives: the name of the targets array."))
    var target: [String] = []

    @Option(help: "Tabular .npz data: the name of the features array (default: the one array besides the target).")
    var features: String?

    @Option(name: .customLong("targets"), help: "Tabular data: read the targets from this file (CSV or .npy) instead of a column of --data.")
    var targetsFile: String?

    @Option(help: "Tabular CSV data: the field separator: a character, 'tab', or 'space' (runs of blanks) (default: ',').")
    var delimiter: String?

    @Option(help: "Tabular CSV data: lines to skip at the top of the file (e.g. a metadata line) (default: 0).")
    var skipLines: Int?

    @Flag(help: "Tabular CSV data: the first row holds values, not column names (default: detected).")
    var noHeader = false

    @Flag(help: "Tabular CSV data: drop rows with a missing or non-numeric value instead of stopping with an error.")
    var dropInvalidRows = false

    /// Whether any tabular option was given (they make no sense with IDX images).
    var isUsed: Bool {
        !target.isEmpty || features != nil || targetsFile != nil || delimiter != nil || skipLines != nil || noHeader
            || dropInvalidRows
    }

    func validate() throws {
        if let skipLines, skipLines < 0 { throw ValidationError("--skip-lines must be zero or more, got \(skipLines)") }
        if let delimiter { _ = try TabularSource.delimiterByte(delimiter) }
        if let targetsFile, targetsFile.isEmpty { throw ValidationError("--targets needs a file name") }
    }
}

/// Whether `--data PATH` means a tabular file (anything but a directory).
func isTabularPath(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return !isDirectory.boolValue }
    // A missing path: a file name if it looks like one, so the error names the file.
    let lower = path.lowercased()
    return [".csv", ".gz", ".npz", ".npy", ".tsv", ".txt", ".data"].contains { lower.hasSuffix($0) }
}

/// How one tabular dataset is read: the files and every reading option, resolved.
struct TabularSource {
    var data: String
    var targetsFile: String?
    var target: [String]
    var features: String?
    var delimiter: UInt8
    var skipLines: Int
    var hasHeader: Bool?
    var dropInvalidRows: Bool

    /// The options given on the command line, each missing one taken from `stored` (a
    /// checkpoint's metadata; skip-lines only for the file it was given for).
    init(data: String, options: TabularOptions, stored: [String: String] = [:]) throws {
        self.data = data
        targetsFile = options.targetsFile ?? (data == stored["tabular.data"] ? stored["tabular.targets_file"] : nil)
        target = options.target.isEmpty ? (stored["tabular.target"].map(Self.decodeList) ?? []) : options.target
        features = options.features ?? stored["tabular.features"]
        delimiter = try Self.delimiterByte(options.delimiter ?? stored["tabular.delimiter"] ?? ",")
        skipLines = options.skipLines ?? (data == stored["tabular.data"] ? stored["tabular.skip_lines"].flatMap { Int($0) } : nil) ?? 0
        hasHeader = options.noHeader || stored["tabular.no_header"] == "true" ? false : nil
        dropInvalidRows = options.dropInvalidRows || stored["tabular.drop_invalid_rows"] == "true"
    }

    /// The metadata that lets eval, predict and resume read data the same way.
    var metadata: [String: String] {
        var m = ["tabular.data": data, "tabular.target": Self.encodeList(target),
                 "tabular.delimiter": delimiter == UInt8(ascii: " ") ? "space" : delimiter == 9 ? "tab" : String(UnicodeScalar(delimiter)),
                 "tabular.skip_lines": String(skipLines), "tabular.no_header": String(hasHeader == false),
                 "tabular.drop_invalid_rows": String(dropInvalidRows)]
        if let targetsFile { m["tabular.targets_file"] = targetsFile }
        if let features { m["tabular.features"] = features }
        return m
    }

    var csvOptions: CSVOptions {
        CSVOptions(delimiter: delimiter, hasHeader: hasHeader, skipLines: skipLines, dropInvalidRows: dropInvalidRows)
    }

    /// `--delimiter`'s byte: one ASCII character, "tab" or "space".
    static func delimiterByte(_ text: String) throws -> UInt8 {
        switch text {
        case "tab", "\\t", "\t": return 9
        case "space", " ": return UInt8(ascii: " ")
        default:
            guard text.utf8.count == 1, let byte = text.utf8.first, byte < 128, byte != UInt8(ascii: "\""),
                  byte != 10, byte != 13 else {
                throw ValidationError("--delimiter must be one ASCII character (not a quote or line break), 'tab' or 'space', got '\(text)'")
            }
            return byte
        }
    }

    static func encodeList(_ list: [String]) -> String {
        String(data: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), encoding: .utf8) ?? "[]"
    }

    static func decodeList(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}

/// What the checkpoint says the features must look like (eval and predict).
struct ExpectedFeatures {
    var names: [String]
    var shape: [Int]
    /// Columns of the file the model was trained on (to tell whether a header-less file
    /// still holds its target column).
    var sourceColumns: Int?
}

/// A tabular file read into features and, when present, the target columns.
struct TabularData {
    var features: [Float]
    var rowCount: Int
    var featureShape: [Int]
    var featureNames: [String]
    /// The target columns (nil: the file has none, allowed for predict only).
    var target: Table?
    /// Columns of the data file when it is a table (CSV, 2-D .npy).
    var sourceColumns: Int?
    /// Rows dropped as invalid.
    var droppedRows: Int

    /// Reads `source`. With `expected` (eval, predict), the features are matched to the
    /// checkpoint's by name and the target may be absent unless `targetRequired`.
    static func read(_ source: TabularSource, targetRequired: Bool, expected: ExpectedFeatures? = nil) throws -> TabularData {
        let path = source.data
        let lower = path.lowercased()
        var result: TabularData
        if lower.hasSuffix(".npz") {
            result = try readArchive(source, targetRequired: targetRequired)
        } else {
            if source.features != nil { throw CLIError("--features names an array of a .npz archive; \(path) is not one") }
            let table: Table
            if lower.hasSuffix(".npy") {
                let array = try NumPyArray.read(path)
                if source.targetsFile != nil {
                    // Features of any per-sample shape; the targets come from their own file.
                    result = try fromArray(array, path: path)
                    result.target = try readTargets(source, rowCount: result.rowCount)
                    return try result.checked(source, expected: expected, targetRequired: targetRequired)
                }
                guard array.shape.count == 2 else {
                    throw CLIError("\(path): a .npy array of shape \(array.shape) is not a table of [rows, columns]; "
                                   + "give the targets with --targets FILE, or use a .npz archive with --features and --target")
                }
                table = tableOf(array, name: nil, path: path)
            } else {
                table = try Table.readCSV(path, options: source.csvOptions)
            }
            result = try fromTable(table, source: source, targetRequired: targetRequired, expected: expected)
        }
        return try result.checked(source, expected: expected, targetRequired: targetRequired)
    }

    /// A table's features (every column but the targets) and its target columns.
    static func fromTable(_ table: Table, source: TabularSource, targetRequired: Bool,
                          expected: ExpectedFeatures?) throws -> TabularData {
        var selectors: [ColumnSelector] = [], withoutTarget = false
        if source.targetsFile == nil {
            selectors = targetSelectors(source.target, in: table)
            if selectors.isEmpty && targetRequired {
                throw CLIError("\(table.path): --target is required: the target column, by name or index (columns: "
                               + columnList(table.columnNames) + ")")
            }
            // Predict on new data: the target column may be missing. A header-less file has
            // positional names, so it holds the target only if it is as wide as the training file.
            // Of several named target columns, those the file holds are set aside (not features)
            // and there is no target.
            if !targetRequired, !selectors.isEmpty {
                let positional = table.columnNames == (0..<table.columnNames.count).map(String.init)
                let resolves = selectors.allSatisfy { (try? table.columnIndex($0)) != nil }
                let wide = expected?.sourceColumns.map { $0 == table.columnNames.count } ?? true
                if positional && !wide {
                    selectors = []
                } else if !resolves {
                    selectors = selectors.filter { if case .name = $0 { (try? table.columnIndex($0)) != nil } else { false } }
                    withoutTarget = true
                }
            }
        }
        let (matrix, targets) = try table.split(targets: selectors)
        var result = TabularData(features: matrix.values, rowCount: matrix.rowCount, featureShape: [max(matrix.names.count, 1)],
                                 featureNames: matrix.names, target: selectors.isEmpty || withoutTarget ? nil : targets,
                                 sourceColumns: table.columnNames.count, droppedRows: table.droppedRowCount)
        if matrix.names.isEmpty { throw CLIError("\(table.path): no feature columns are left besides the target") }
        if source.targetsFile != nil { result.target = try readTargets(source, rowCount: matrix.rowCount) }
        return result
    }

    /// `--target` values as column selectors: a value naming a column is that column;
    /// otherwise it is split at commas.
    static func targetSelectors(_ values: [String], in table: Table) -> [ColumnSelector] {
        values.flatMap { value -> [ColumnSelector] in
            if table.columnNames.contains(value) { return [.name(value)] }
            return value.split(separator: ",").map { .name(String($0).trimmingCharacters(in: .whitespaces)) }
        }
    }

    /// The targets file (CSV or .npy), all its columns or those `--target` picks.
    static func readTargets(_ source: TabularSource, rowCount: Int) throws -> Table {
        let path = source.targetsFile!
        var table: Table
        if path.lowercased().hasSuffix(".npy") {
            let array = try NumPyArray.read(path)
            guard array.shape.count == 1 || array.shape.count == 2 else {
                throw CLIError("\(path): targets of shape \(array.shape); expected [rows] or [rows, columns]")
            }
            table = tableOf(array, name: nil, path: path)
        } else {
            table = try Table.readCSV(path, options: CSVOptions(delimiter: source.delimiter, hasHeader: source.hasHeader,
                                                                dropInvalidRows: false))
        }
        let selectors = targetSelectors(source.target, in: table)
        if !selectors.isEmpty { table = try table.split(targets: selectors).targets }
        guard table.rowCount == rowCount else {
            throw CLIError("\(path): \(table.rowCount) target rows, but \(source.data) has \(rowCount) rows of features")
        }
        return table
    }

    /// A `.npz` archive: the features array and the targets array.
    static func readArchive(_ source: TabularSource, targetRequired: Bool) throws -> TabularData {
        let path = source.data
        let arrays = try NumPyArray.readArchive(path)
        let names = arrays.keys.sorted()
        if source.target.count > 1 { throw CLIError("\(path): --target names one array of the archive, got \(source.target)") }
        let targetName = source.targetsFile == nil ? source.target.first : nil
        if targetName == nil && targetRequired && source.targetsFile == nil {
            throw CLIError("\(path): --target is required: the name of the targets array (arrays: \(names.joined(separator: ", ")))")
        }
        if let targetName, arrays[targetName] == nil, targetRequired {
            throw CLIError("\(path): no array named '\(targetName)' (arrays: \(names.joined(separator: ", ")))")
        }
        let featureName: String
        if let name = source.features {
            guard arrays[name] != nil else {
                throw CLIError("\(path): no array named '\(name)' for --features (arrays: \(names.joined(separator: ", ")))")
            }
            featureName = name
        } else {
            let others = names.filter { $0 != targetName }
            guard others.count == 1 else {
                throw CLIError("\(path): give --features: the archive holds \(others.count) arrays besides the target ("
                               + others.joined(separator: ", ") + ")")
            }
            featureName = others[0]
        }
        var result = try fromArray(arrays[featureName]!, path: path)
        if let targetName, let array = arrays[targetName] {
            guard array.shape.count == 1 || array.shape.count == 2, array.shape[0] == result.rowCount else {
                throw CLIError("\(path): the targets array '\(targetName)' has shape \(array.shape); expected [\(result.rowCount)] "
                               + "or [\(result.rowCount), k] for the \(result.rowCount) samples of '\(featureName)'")
            }
            result.target = tableOf(array, name: targetName, path: path)
        }
        if source.targetsFile != nil { result.target = try readTargets(source, rowCount: result.rowCount) }
        return result
    }

    /// An array [N, ...] as N samples of features; a 2-D array's columns are named "0", "1", ...
    static func fromArray(_ array: NumPyArray, path: String) throws -> TabularData {
        guard let n = array.shape.first, n > 0 else { throw CLIError("\(path): the features array of shape \(array.shape) holds no samples") }
        let shape = array.shape.count == 1 ? [1] : Array(array.shape.dropFirst())
        guard shape.allSatisfy({ $0 > 0 }) else { throw CLIError("\(path): the features array has shape \(array.shape)") }
        return TabularData(features: array.floats(), rowCount: n, featureShape: shape,
                           featureNames: shape.count == 1 ? (0..<shape[0]).map(String.init) : [],
                           target: nil, sourceColumns: nil, droppedRows: 0)
    }

    /// A 1-D or 2-D array as a table of numeric columns: "name" or "name[j]" ("0", "1", ... without a name).
    static func tableOf(_ array: NumPyArray, name: String?, path: String) -> Table {
        let values = array.floats()
        let n = array.shape.first ?? 0
        let width = array.shape.count == 2 ? array.shape[1] : 1
        var columns: [Table.Column] = []
        for j in 0..<width { columns.append(.numeric((0..<n).map { values[$0 * width + j] })) }
        let names = (0..<width).map { j in name.map { width == 1 && array.shape.count == 1 ? $0 : "\($0)[\(j)]" } ?? String(j) }
        return Table(path: path, columnNames: names, columns: columns, rowCount: n)
    }

    /// The features matched to the checkpoint's (eval, predict) and the target's presence checked.
    func checked(_ source: TabularSource, expected: ExpectedFeatures?, targetRequired: Bool) throws -> TabularData {
        if rowCount == 0 { throw CLIError("\(source.data): no rows of data") }
        if targetRequired && target == nil {
            throw CLIError("\(source.data): no target: give --target (the target column or array) or --targets FILE")
        }
        guard let expected else { return self }
        var copy = self
        if featureShape.count > 1 || expected.shape.count > 1 || expected.names.isEmpty || featureNames.isEmpty {
            guard featureShape == expected.shape else {
                throw CLIError("\(source.data): samples of shape \(featureShape); the checkpoint's model takes \(expected.shape)")
            }
            return copy
        }
        copy.features = try aligned(to: expected.names, path: source.data)
        copy.featureNames = expected.names
        copy.featureShape = [expected.names.count]
        return copy
    }

    /// The feature columns in the checkpoint's order: matched by name; a one-hot column
    /// ("colour=red") the file lacks is all zeros; a header-less file of the right width by position.
    func aligned(to names: [String], path: String) throws -> [Float] {
        if featureNames == names { return features }
        let positional = featureNames == (0..<featureNames.count).map(String.init)
        if positional && featureNames.count == names.count { return features }
        var index: [String: Int] = [:]
        for (j, name) in featureNames.enumerated() { index[name] = j }
        func base(_ name: String) -> String? { name.firstIndex(of: "=").map { String(name[..<$0]) } }
        let expectedSet = Set(names)
        let oneHotBases = Set(names.compactMap(base))
        if let extra = featureNames.first(where: { !expectedSet.contains($0) }) {
            if let b = base(extra), oneHotBases.contains(b) {
                throw CLIError("\(path): column '\(b)' holds the value '\(extra.dropFirst(b.count + 1))', which the model never saw in training")
            }
            throw CLIError("\(path): column '\(extra)' is not one the model was trained on (its features: \(columnList(names)))")
        }
        let missing = names.filter { index[$0] == nil && !(base($0).map { b in featureNames.contains { base($0) == b } } ?? false) }
        if !missing.isEmpty {
            throw CLIError("\(path): lacks the feature column(s) \(columnList(missing)) the model was trained on")
        }
        let width = names.count, sourceWidth = featureNames.count
        var out = [Float](repeating: 0, count: rowCount * width)
        for (j, name) in names.enumerated() {
            guard let k = index[name] else { continue }  // an unseen category of a one-hot column: zeros
            for r in 0..<rowCount { out[r * width + j] = features[r * sourceWidth + k] }
        }
        return out
    }
}

/// At most eight names, quoted, for messages.
func columnList(_ names: [String]) -> String {
    let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
    return names.count > 8 ? shown + ", ... (\(names.count) in all)" : shown
}

// MARK: - Targets

/// The target columns as a dataset's targets for a task: the user's `--task`, else inferred
/// (text or few distinct integers: classification; several 0/1 columns: multilabel; other
/// numbers: regression), with the reason in words for the run's summary line.
func tabularTargets(_ table: Table, task requested: LearningTask?) throws -> (targets: Targets, task: LearningTask, reason: String) {
    let path = table.path
    let described = table.columnNames.count == 1 ? "column '\(table.columnNames[0])'" : "columns \(columnList(table.columnNames))"
    let isText = table.columns.contains { if case .text = $0 { return true } else { return false } }
    let numbers: [[Float]] = table.columns.compactMap { if case .numeric(let v) = $0 { return v } else { return nil } }
    let integral = !isText && numbers.allSatisfy { $0.allSatisfy { $0 == $0.rounded() && abs($0) <= 16_777_216 } }
    let distinct = table.columns.count == 1 && !isText ? Set(numbers[0]).count : 0
    let zeroOne = !isText && numbers.allSatisfy { $0.allSatisfy { $0 == 0 || $0 == 1 } }
    let classLimit = 20

    func classes() throws -> Targets {
        guard table.columns.count == 1 else {
            throw CLIError("\(path): classes come from one target column, got \(table.columns.count) (\(columnList(table.columnNames)))")
        }
        guard case .classes(let labels, let names) = try table.classes() else { preconditionFailure("classes expected") }
        guard names.count >= 2 else {
            throw CLIError("\(path): \(described) holds a single class ('\(names.first ?? "")'); a classifier needs two or more")
        }
        return .classes(labels: labels, names: names)
    }
    func values() throws -> Targets {
        guard case .values(let values, let columns) = try table.values() else { preconditionFailure("values expected") }
        return .values(values, shape: [columns])
    }

    if let requested {
        switch requested {
        case .classification:
            return (try classes(), requested, "--task")
        case .binary:
            let targets = try classes()
            guard targets.classNamesCount == 2 else {
                throw CLIError("\(path): --task binary needs two classes; \(described) holds \(targets.classNamesCount)")
            }
            return (targets, requested, "--task")
        case .multiLabel:
            guard zeroOne else { throw CLIError("\(path): --task multilabel needs 0/1 target columns; \(described) holds other values") }
            guard case .values(let values, let shape) = try values() else { preconditionFailure() }
            return (.multiLabel(values: values, names: table.columnNames), requested, "--task (\(shape[0]) labels)")
        case .regression:
            if isText { throw CLIError("\(path): --task regression needs numbers; \(described) holds text") }
            return (try values(), requested, "--task")
        }
    }
    if isText {
        let targets = try classes()
        return (targets, .classification, "inferred: \(described) holds text, \(targets.classNamesCount) classes")
    }
    if table.columns.count > 1 {
        if zeroOne {
            guard case .values(let values, _) = try values() else { preconditionFailure() }
            return (.multiLabel(values: values, names: table.columnNames), .multiLabel,
                    "inferred: \(table.columns.count) target columns of 0/1")
        }
        return (try values(), .regression, "inferred: \(table.columns.count) numeric target columns")
    }
    if integral && distinct <= classLimit {
        let targets = try classes()
        let hint = distinct == 2 ? "; --task binary trains one logit" : "; --task regression fits them as numbers"
        return (targets, .classification, "inferred: \(described) holds \(distinct) distinct integers\(hint)")
    }
    let why = integral ? "\(distinct) distinct integers, more than \(classLimit)" : "numbers that are not all integers"
    return (try values(), .regression, "inferred: \(described) holds \(why)")
}

/// The target columns of eval data as `task` targets, classes mapped through the
/// checkpoint's class names (so a file holding only some classes is scored correctly).
func tabularTargets(_ table: Table, task: LearningTask, classNames: [String]?, outputs: Int) throws -> Targets {
    let path = table.path
    switch task {
    case .classification, .binary:
        guard table.columns.count == 1, let names = classNames else {
            throw CLIError("\(path): expected one class column, got \(table.columns.count)")
        }
        var lookup: [String: Int32] = [:]
        for (k, name) in names.enumerated() { lookup[name] = Int32(k) }
        let keys: [String]
        switch table.columns[0] {
        case .text(let values): keys = values
        case .numeric(let values):
            if let bad = values.first(where: { $0 != $0.rounded() || abs($0) > 16_777_216 }) {
                throw CLIError("\(path): column '\(table.columnNames[0])' holds \(bad), not a class label")
            }
            keys = values.map { String(Int($0)) }
        }
        var labels: [Int32] = []
        labels.reserveCapacity(keys.count)
        for (row, key) in keys.enumerated() {
            guard let label = lookup[key] else {
                throw CLIError("\(path): row \(row + 1): class '\(key)' is not one the model knows (\(columnList(names)))")
            }
            labels.append(label)
        }
        return .classes(labels: labels, names: names)
    case .multiLabel, .regression:
        guard table.columns.count == outputs else {
            throw CLIError("\(path): \(table.columns.count) target column(s); the model predicts \(outputs)")
        }
        guard case .values(let values, let columns) = try table.values() else { preconditionFailure("values expected") }
        if task == .multiLabel {
            guard values.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw CLIError("\(path): multilabel targets must be 0 or 1") }
            return .multiLabel(values: values, names: classNames ?? table.columnNames)
        }
        return .values(values, shape: [columns])
    }
}

extension Targets {
    /// The number of classes or labels (0 for values).
    var classNamesCount: Int {
        switch self {
        case .classes(_, let names), .multiLabel(_, let names): return names.count
        case .values: return 0
        }
    }
}
