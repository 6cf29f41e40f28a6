/// The columns of one data file after parsing (see `Table.readCSV`).
public struct Table: Sendable {
    /// One column: numbers, or text (categories, class names).
    public enum Column: Sendable, Equatable {
        /// A column whose every value is a finite number.
        case numeric([Float])
        /// A column of text values (one per row).
        case text([String])

        /// Number of values.
        public var count: Int {
            switch self {
            case .numeric(let v): return v.count
            case .text(let v): return v.count
            }
        }
    }

    /// The file the table came from (named in errors); "<memory>" if built in memory.
    public var path: String
    /// The header's names, or "0", "1", ... when the file has no header.
    public var columnNames: [String]
    /// The columns, in file order; each holds `rowCount` values.
    public var columns: [Column]
    /// Number of data rows.
    public var rowCount: Int
    /// Rows dropped as invalid (only with `CSVOptions.dropInvalidRows`).
    public var droppedRowCount: Int

    /// A table built in memory; every column must hold `rowCount` values.
    public init(path: String = "<memory>", columnNames: [String], columns: [Column], rowCount: Int, droppedRowCount: Int = 0) {
        precondition(columnNames.count == columns.count,
                     "Table: \(columnNames.count) names for \(columns.count) columns")
        precondition(columns.allSatisfy { $0.count == rowCount },
                     "Table: column lengths \(columns.map(\.count)) differ from rowCount \(rowCount)")
        self.path = path
        self.columnNames = columnNames
        self.columns = columns
        self.rowCount = rowCount
        self.droppedRowCount = droppedRowCount
    }

    /// The index a selector stands for (names match exactly; negative indices count from the end).
    public func columnIndex(_ selector: ColumnSelector) throws -> Int {
        switch selector {
        case .name(let name):
            if let i = columnNames.firstIndex(of: name) { return i }
            // A header-less file's columns are named by position; "-1" is the last one.
            if let i = Int(name), -columns.count <= i, i < columns.count { return i < 0 ? columns.count + i : i }
            throw DataError.unknownColumn(path: path, column: "'\(name)'", available: columnNames)
        case .index(let i):
            guard -columns.count <= i, i < columns.count else {
                throw DataError.unknownColumn(path: path, column: "at index \(i) (of \(columns.count))",
                                              available: columnNames)
            }
            return i < 0 ? columns.count + i : i
        }
    }

    /// Splits off target column(s) (by name or index, negative = from the end) and encodes the rest:
    /// numeric columns as they are, text columns one-hot (one column per sorted category, names "col=value").
    public func split(targets: [ColumnSelector]) throws -> (features: FeatureMatrix, targets: Table) {
        var targetIndices: [Int] = []
        for selector in targets {
            let i = try columnIndex(selector)
            if !targetIndices.contains(i) { targetIndices.append(i) }
        }
        let featureIndices = columns.indices.filter { !targetIndices.contains($0) }
        let targetTable = Table(path: path, columnNames: targetIndices.map { columnNames[$0] },
                                columns: targetIndices.map { columns[$0] }, rowCount: rowCount,
                                droppedRowCount: droppedRowCount)
        return (features(columns: featureIndices), targetTable)
    }

    /// The listed columns as a row-major feature matrix, text columns one-hot encoded.
    func features(columns indices: [Int]) -> FeatureMatrix {
        // Each source column becomes one or more output columns, filled by `fill(out, width, offset)`.
        var names: [String] = []
        var encoders: [(offset: Int, column: Column, categories: [String: Int])] = []
        for i in indices {
            switch columns[i] {
            case .numeric:
                encoders.append((names.count, columns[i], [:]))
                names.append(columnNames[i])
            case .text(let values):
                let categories = Array(Set(values)).sorted()
                var lookup: [String: Int] = [:]
                for (k, category) in categories.enumerated() { lookup[category] = k }
                encoders.append((names.count, columns[i], lookup))
                names += categories.map { "\(columnNames[i])=\($0)" }
            }
        }
        let width = names.count
        var values = [Float](repeating: 0, count: rowCount * width)
        values.withUnsafeMutableBufferPointer { out in
            for encoder in encoders {
                switch encoder.column {
                case .numeric(let column):
                    column.withUnsafeBufferPointer { p in
                        for r in 0..<rowCount { out[r * width + encoder.offset] = p[r] }
                    }
                case .text(let column):
                    for r in 0..<rowCount { out[r * width + encoder.offset + encoder.categories[column[r]]!] = 1 }
                }
            }
        }
        return FeatureMatrix(values: values, rowCount: rowCount, names: names)
    }

    /// Class labels from one column: text values become classes named by the sorted distinct
    /// values; integer values become classes named by their sorted distinct values ("0", "1", ...).
    /// Throws if the column holds numbers that are not integers.
    public func classes(column selector: ColumnSelector = .index(0)) throws -> TableTarget {
        let i = try columnIndex(selector)
        switch columns[i] {
        case .text(let values):
            let names = Array(Set(values)).sorted()
            var lookup: [String: Int32] = [:]
            for (k, name) in names.enumerated() { lookup[name] = Int32(k) }
            return .classes(labels: values.map { lookup[$0]! }, names: names)
        case .numeric(let values):
            // Integers beyond 2^24 are not all representable in Float: no class index is.
            if let bad = values.firstIndex(where: { $0 != $0.rounded() || abs($0) > 16_777_216 }) {
                throw DataError.unsuitableColumn(path: path, column: columnNames[i],
                                                 reason: "value \(values[bad]) in row \(bad + 1) is not an integer class label")
            }
            let distinct = Array(Set(values)).sorted()
            var lookup: [Float: Int32] = [:]
            for (k, v) in distinct.enumerated() { lookup[v] = Int32(k) }
            return .classes(labels: values.map { lookup[$0]! }, names: distinct.map { String(Int($0)) })
        }
    }

    /// Every column as float targets, row-major `rowCount x columns` (regression, or multi-hot
    /// 0/1 columns); throws if a column is text.
    public func values() throws -> TableTarget {
        let width = columns.count
        var out = [Float](repeating: 0, count: rowCount * width)
        for (j, column) in columns.enumerated() {
            guard case .numeric(let v) = column else {
                throw DataError.unsuitableColumn(path: path, column: columnNames[j],
                                                 reason: "text values cannot be regression targets")
            }
            for r in 0..<rowCount { out[r * width + j] = v[r] }
        }
        return .values(out, columns: width)
    }
}

/// Picks a column by its header name or by position (negative counts from the end).
public enum ColumnSelector: Sendable, Hashable {
    /// The column with this header name (or, for a file without header, "0", "1", ...).
    case name(String)
    /// The column at this position; -1 is the last.
    case index(Int)
}

/// Features of `rowCount` samples, row-major: `values[r * names.count + j]`.
public struct FeatureMatrix: Sendable, Equatable {
    /// `rowCount * names.count` values, one row per sample.
    public var values: [Float]
    /// Number of samples.
    public var rowCount: Int
    /// One name per feature column ("col=value" for one-hot columns).
    public var names: [String]

    /// A matrix built in memory; `values` must hold `rowCount * names.count` values.
    public init(values: [Float], rowCount: Int, names: [String]) {
        precondition(values.count == rowCount * names.count,
                     "FeatureMatrix: \(values.count) values for \(rowCount) rows x \(names.count) columns")
        self.values = values
        self.rowCount = rowCount
        self.names = names
    }
}

/// What a target table becomes.
public enum TableTarget: Sendable, Equatable {
    /// Class indices into `names` (sorted text values, or the sorted distinct integers).
    case classes(labels: [Int32], names: [String])
    /// Float targets, row-major with `columns` per sample (regression, or multi-hot 0/1 columns).
    case values([Float], columns: Int)
}
