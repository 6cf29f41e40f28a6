import Foundation
import NN
import TestSupport
import XCTest

/// The CSV reader: numbers equal to strtof, the file layouts the issue lists, every kind of
/// bad file, the table's split into features and targets, and scikit-learn's real files.
final class CSVTests: XCTestCase {

    private func csv(_ text: String, _ options: CSVOptions = .init(), name: String = "t.csv") throws -> Table {
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(Array(text.utf8), name, in: dir)
        return try Table.readCSV(path, options: options)
    }

    private func numbers(_ table: Table, _ column: Int, file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        guard case .numeric(let v) = table.columns[column] else {
            XCTFail("column \(column) is text: \(table.columns[column])", file: file, line: line)
            return []
        }
        return v
    }

    private func texts(_ table: Table, _ column: Int, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        guard case .text(let v) = table.columns[column] else {
            XCTFail("column \(column) is numeric: \(table.columns[column])", file: file, line: line)
            return []
        }
        return v
    }

    // MARK: - Numbers

    /// Asserts our parse equals strtof bit for bit (both zeros keep their sign).
    private func assertLikeStrtof(_ s: String, file: StaticString = #filePath, line: UInt = #line) {
        let expected = strtof(s, nil)
        guard let observed = parseDecimalFloat(s) else {
            XCTFail("'\(s)' rejected, strtof gives \(expected)", file: file, line: line)
            return
        }
        XCTAssertEqual(observed.bitPattern, expected.bitPattern,
                       "'\(s)': parsed \(observed), strtof \(expected)", file: file, line: line)
        if let swiftValue = Float(s) { XCTAssertEqual(observed.bitPattern, swiftValue.bitPattern, "'\(s)' vs Float(String)", file: file, line: line) }
    }

    func testEdgeNumbersEqualStrtof() {
        let cases = ["0", "-0", "+0", "0.0", "-0.000", ".5", "-.5", "5.", "+5.", "1e0", "1E+3", "1e-3", "-1.5e-7",
                     "3.4028234e38", "3.4028235e38", "1.17549435e-38", "1.4e-45", "7e-46", "1e-50", "0.000001",
                     "123456789", "1234567890123456789", "12345678901234567890123", "0.1", "0.2", "0.3",
                     "16777216", "16777217", "16777218", "33554431", "33554433", "0.500000001",
                     "9007199254740993", "1.000000059604644775390625", "1.0000000596046448",
                     "1.00000005960464477539062500001", "00012.5000", "1.510000000000000000e+02",
                     "4.8598", " 2.5", "2.5 ", "\t-3", "1e22", "1e23", "8388608.5", "8388609.5",
                     "0.0000000000000000000000000000000000000000000001", "999999999", "0.999999999",
                     "2.9802322e-8", "2.98023224e-08", "1e-8", "12345.678", "-98765.4321"]
        for s in cases { assertLikeStrtof(s) }
    }

    func testRejectedTextIsNotANumber() {
        for s in ["", " ", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "1,5", "0x1p3", "nan", "NaN", "inf", "-inf",
                  "infinity", "1e39", "-3.5e38", "abc", "1 2", "--1", "1e5x", "١٢"] {
            XCTAssertNil(parseDecimalFloat(s), "'\(s)' should not parse")
        }
    }

    func testRandomNumbersEqualStrtof() {
        var seeded = SeededGenerator(seed: 42)
        for _ in 0..<30_000 {
            // Random digit strings: sign, integer and fraction digits, exponent.
            var s = ""
            switch seeded.next() % 3 { case 0: s += "-"; case 1: s += "+"; default: break }
            let intDigits = Int(seeded.next() % 12), fracDigits = Int(seeded.next() % 14)
            for _ in 0..<intDigits { s += String(seeded.next() % 10) }
            if fracDigits > 0 || intDigits == 0 {
                s += "."
                for _ in 0..<max(fracDigits, 1) { s += String(seeded.next() % 10) }
            }
            if seeded.next() % 3 == 0 { s += "e\(Int(seeded.next() % 90) - 50)" }
            if strtof(s, nil).isFinite { assertLikeStrtof(s) } else { XCTAssertNil(parseDecimalFloat(s), s) }
        }
        for _ in 0..<30_000 {
            // What numpy.savetxt and repr write: %.6f, %.9g, %.17g, %.18e of random values.
            let x = Double(bitPattern: seeded.next() >> 2 | 0x3000_0000_0000_0000) * (seeded.next() % 2 == 0 ? 1 : -1)
            let scaled = x.isFinite ? x : 1
            for format in ["%.6f", "%.9g", "%.17g", "%.18e", "%.3f", "%g"] {
                let s = String(format: format, scaled)
                if strtof(s, nil).isFinite { assertLikeStrtof(s) }
            }
        }
    }

    // MARK: - Layouts

    func testHeaderIsDetectedAndColumnsTyped() throws {
        let t = try csv("a,b,species\n1,2.5,setosa\n3,-4e2,virginica\n")
        XCTAssertEqual(t.columnNames, ["a", "b", "species"])
        XCTAssertEqual(t.rowCount, 2)
        XCTAssertEqual(numbers(t, 0), [1, 3])
        XCTAssertEqual(numbers(t, 1), [2.5, -400])
        XCTAssertEqual(texts(t, 2), ["setosa", "virginica"])
        // Without a header every row is data and columns are named by position.
        let n = try csv("1,2\n3,4\n")
        XCTAssertEqual(n.columnNames, ["0", "1"])
        XCTAssertEqual(numbers(n, 1), [2, 4])
        // A text column with text in both first rows is not taken for a header.
        let words = try csv("x,1\ny,2\n")
        XCTAssertEqual(words.rowCount, 2)
        XCTAssertEqual(texts(words, 0), ["x", "y"])
        // Forced either way.
        XCTAssertEqual(try csv("1,2\n3,4\n", CSVOptions(hasHeader: true)).columnNames, ["1", "2"])
        XCTAssertEqual(try csv("a,b\n3,4\n", CSVOptions(hasHeader: false)).columns, [.text(["a", "3"]), .text(["b", "4"])])
    }

    func testDelimitersQuotesCRLFCommentsAndSkippedLines() throws {
        let semicolon = try csv("x;y\n1,5;2\n", CSVOptions(delimiter: UInt8(ascii: ";")))
        XCTAssertEqual(semicolon.columns, [.text(["1,5"]), .numeric([2])])
        let tab = try csv("x\ty\n1\t2\n3\t4", CSVOptions(delimiter: UInt8(ascii: "\t")))
        XCTAssertEqual(tab.columns, [.numeric([1, 3]), .numeric([2, 4])])
        // Runs of spaces are one separator; leading and trailing blanks are ignored.
        let spaces = try csv("  1   2.5 3\n4 5  6  \r\n\n   7 8 9", CSVOptions(delimiter: UInt8(ascii: " ")))
        XCTAssertEqual(spaces.columns, [.numeric([1, 4, 7]), .numeric([2.5, 5, 8]), .numeric([3, 6, 9])])
        // Quoted fields hold delimiters, doubled quotes and newlines; quoted numbers are numbers.
        let quoted = try csv("name,v\r\n\"a,b\",\"1.5\"\r\n\"say \"\"hi\"\"\",2\r\n\"two\nlines\" ,3\r\n")
        XCTAssertEqual(quoted.columns, [.text(["a,b", "say \"hi\"", "two\nlines"]), .numeric([1.5, 2, 3])])
        // CRLF endings leave no '\r' in text or numbers; a missing final newline is fine.
        let crlf = try csv("k,v\r\nu,1\r\nw,2")
        XCTAssertEqual(crlf.columns, [.text(["u", "w"]), .numeric([1, 2])])
        // Metadata lines at the top and comments anywhere.
        let commented = try csv("150,4,setosa\n# note\na,b\n1,2\n# more\n\n3,4\n",
                                CSVOptions(skipLines: 1, commentPrefix: "#"))
        XCTAssertEqual(commented.columnNames, ["a", "b"])
        XCTAssertEqual(commented.columns, [.numeric([1, 3]), .numeric([2, 4])])
    }

    func testGzipFileIsReadTransparently() throws {
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(gzipped(Array("a,b\n1,2\n3,4\n".utf8)), "t.csv.gz", in: dir)
        XCTAssertEqual(try Table.readCSV(path).columns, [.numeric([1, 3]), .numeric([2, 4])])
    }

    func testChunkedParseEqualsSerialParse() throws {
        // Over 1 MiB so the reader cuts it into chunks; one bad value late in the file.
        var text = "c0,c1,c2,label\n"
        var seeded = SeededGenerator(seed: 7)
        for r in 0..<40_000 {
            let a = Float(Int(seeded.next() % 2_000_000) - 1_000_000) / 1000
            text += String(format: "%.6f,%.3f,%d,%@\n", Double(a), Double(a) * 3, r, r % 3 == 0 ? "cat" : "dog")
        }
        let dir = try makeTemporaryDirectory(self)
        let path = try writeFile(Array(text.utf8), "big.csv", in: dir)
        let serial = try Table.readCSV(path, options: CSVOptions(threadCount: 1))
        let parallel = try Table.readCSV(path, options: CSVOptions(threadCount: 2))
        XCTAssertEqual(serial.rowCount, 40_000)
        XCTAssertEqual(serial.columns, parallel.columns)
        XCTAssertEqual(numbers(parallel, 2), (0..<40_000).map(Float.init))
        // The error's line number is right in the last chunk too.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines[39_000] = "1,2,oops,cat"
        let badPath = try writeFile(Array(lines.joined(separator: "\n").utf8), "bad.csv", in: dir)
        assertDataError(try Table.readCSV(badPath, options: CSVOptions(threadCount: 2)), naming: badPath) {
            $0 == .invalidValue(path: badPath, line: 39_001, column: 3, name: "c2", value: "oops",
                                reason: "not a finite decimal number (the column is numeric, from its first row):")
        }
        let dropped = try Table.readCSV(badPath, options: CSVOptions(dropInvalidRows: true, threadCount: 2))
        XCTAssertEqual(dropped.rowCount, 39_999)
        XCTAssertEqual(dropped.droppedRowCount, 1)
    }

    // MARK: - Bad files

    func testBadFilesNameFileLineAndColumn() throws {
        let dir = try makeTemporaryDirectory(self)
        func check(_ text: String, _ options: CSVOptions = .init(), _ matches: (DataError) -> Bool,
                   file: StaticString = #filePath, line: UInt = #line) throws {
            let path = try writeFile(Array(text.utf8), "bad.csv", in: dir)
            assertDataError(try Table.readCSV(path, options: options), naming: path, matches, file: file, line: line)
        }
        let p = dir + "/bad.csv"
        try check("a,b\n1,2\n3,,\n") { $0 == .raggedRow(path: p, line: 3, fields: 3, expected: 2) }
        try check("a,b\n1,2\n3\n") { $0 == .raggedRow(path: p, line: 3, fields: 1, expected: 2) }
        try check("a,b\n1,2\n3,\n") {
            $0 == .invalidValue(path: p, line: 3, column: 2, name: "b", value: "", reason: "missing value")
        }
        try check("a,b\n1,2\n3,4x\n") {
            if case .invalidValue(p, 3, 2, "b", "4x", _) = $0 { return true } else { return false }
        }
        try check("a,b\n1,2\n3,nan\n") {
            if case .invalidValue(p, 3, 2, "b", "nan", _) = $0 { return true } else { return false }
        }
        try check("s,b\nx,2\n,4\n") {
            $0 == .invalidValue(path: p, line: 3, column: 1, name: "s", value: "", reason: "missing value")
        }
        try check("a,b\n1,\"2\n3,4\n") { $0 == .badQuotes(path: p, line: 2, reason: "the quoted field opened here is never closed") }
        try check("a,b\n1,\"2\"x\n") {
            if case .badQuotes(p, 2, _) = $0 { return true } else { return false }
        }
        try check("a,b\n1,2\n3,4\n", CSVOptions(skipLines: 5)) {
            if case .noRows(p, _) = $0 { return true } else { return false }
        }
        try check("a,b\n", CSVOptions(hasHeader: true)) {
            if case .noRows(p, _) = $0 { return true } else { return false }
        }
        try check("a,b\n1,\n2,y\n", CSVOptions(dropInvalidRows: true)) {
            if case .noRows(p, _) = $0 { return true } else { return false }
        }
    }

    func testDropInvalidRowsKeepsTheGoodOnes() throws {
        let t = try csv("a,b\n1,2\n3,4,5\n4,\n5,x\n6,7", CSVOptions(dropInvalidRows: true))
        XCTAssertEqual(t.columns, [.numeric([1, 6]), .numeric([2, 7])])
        XCTAssertEqual(t.droppedRowCount, 3)
    }

    func testBadFileLevelInput() throws {
        let dir = try makeTemporaryDirectory(self)
        let missing = dir + "/none.csv"
        assertDataError(try Table.readCSV(missing), naming: missing) { $0 == .fileNotFound(path: missing, tried: [missing]) }
        let empty = try writeFile([], "empty.csv", in: dir)
        assertDataError(try Table.readCSV(empty), naming: empty) { $0 == .emptyFile(path: empty) }
        let notGz = try writeFile(Array("a,b\n".utf8), "t.csv.gz", in: dir)
        assertDataError(try Table.readCSV(notGz), naming: notGz) { if case .notGzip = $0 { return true } else { return false } }
        var corrupt = gzipped(Array(String(repeating: "1,2\n", count: 100).utf8))
        corrupt[corrupt.count / 2] ^= 0xFF
        let corruptPath = try writeFile(corrupt, "c.csv.gz", in: dir)
        assertDataError(try Table.readCSV(corruptPath), naming: corruptPath) {
            if case .corruptGzip = $0 { return true } else { return false }
        }
        let truncated = try writeFile(Array(gzipped(Array("a,b\n1,2\n".utf8)).dropLast(6)), "cut.csv.gz", in: dir)
        assertDataError(try Table.readCSV(truncated), naming: truncated) {
            if case .corruptGzip = $0 { return true } else { return false }
        }
        assertDataError(try Table.readCSV(dir), naming: dir) { if case .unreadable = $0 { return true } else { return false } }
    }

    // MARK: - Features and targets

    func testSplitOneHotsTextFeaturesAndMakesTargets() throws {
        let t = try csv("size,color,weight,kind\n1,red,0.5,b\n2,blue,1.5,a\n3,red,2.5,c\n4,green,3.5,a\n")
        let (features, targets) = try t.split(targets: [.name("kind")])
        XCTAssertEqual(features.names, ["size", "color=blue", "color=green", "color=red", "weight"])
        XCTAssertEqual(features.rowCount, 4)
        XCTAssertEqual(features.values, [1, 0, 0, 1, 0.5,
                                         2, 1, 0, 0, 1.5,
                                         3, 0, 0, 1, 2.5,
                                         4, 0, 1, 0, 3.5])
        XCTAssertEqual(try targets.classes(), .classes(labels: [1, 0, 2, 0], names: ["a", "b", "c"]))
        XCTAssertThrowsError(try targets.values())
        // By index, negative from the end, several targets; regression values row-major.
        let (f2, t2) = try t.split(targets: [.index(0), .index(-2)])
        XCTAssertEqual(f2.names, ["color=blue", "color=green", "color=red", "kind=a", "kind=b", "kind=c"])
        XCTAssertEqual(t2.columnNames, ["size", "weight"])
        XCTAssertEqual(try t2.values(), .values([1, 0.5, 2, 1.5, 3, 2.5, 4, 3.5], columns: 2))
        // Integer targets: classes named by their sorted distinct values; non-integers refused.
        XCTAssertEqual(try t2.classes(column: .name("size")), .classes(labels: [0, 1, 2, 3], names: ["1", "2", "3", "4"]))
        assertDataError(try t2.classes(column: .name("weight")), naming: t.path) {
            if case .unsuitableColumn = $0 { return true } else { return false }
        }
        assertDataError(try t.split(targets: [.name("nope")]), naming: t.path) {
            if case .unknownColumn = $0 { return true } else { return false }
        }
        assertDataError(try t.split(targets: [.index(4)]), naming: t.path) {
            if case .unknownColumn = $0 { return true } else { return false }
        }
    }

    // MARK: - scikit-learn's files

    private let sklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"

    func testScikitLearnFilesLoadWithTheirShapes() throws {
        guard FileManager.default.fileExists(atPath: sklearnData + "iris.csv") else {
            throw XCTSkip("python3-sklearn is not installed (make deps installs it): \(sklearnData) is absent")
        }
        let meta = CSVOptions(hasHeader: false, skipLines: 1)
        for (file, rows, features, classes) in [("iris.csv", 150, 4, 3), ("wine_data.csv", 178, 13, 3),
                                                ("breast_cancer.csv", 569, 30, 2)] {
            let table = try Table.readCSV(sklearnData + file, options: meta)
            let (x, y) = try table.split(targets: [.index(-1)])
            XCTAssertEqual(x.rowCount, rows, file)
            XCTAssertEqual(x.names.count, features, file)
            guard case .classes(let labels, let names) = try y.classes() else { XCTFail(file); continue }
            XCTAssertEqual(names.count, classes, file)
            XCTAssertEqual(labels.count, rows, file)
        }
        let iris = try Table.readCSV(sklearnData + "iris.csv", options: meta)
        XCTAssertEqual(Array(numbers(iris, 0).prefix(3)), [5.1, 4.9, 4.7])
        let digits = try Table.readCSV(sklearnData + "digits.csv.gz")
        XCTAssertEqual(digits.rowCount, 1797)
        XCTAssertEqual(digits.columns.count, 65)
        let diabetes = try Table.readCSV(sklearnData + "diabetes_data_raw.csv.gz", options: CSVOptions(delimiter: UInt8(ascii: " ")))
        XCTAssertEqual(diabetes.rowCount, 442)
        XCTAssertEqual(diabetes.columns.count, 10)
        XCTAssertEqual(Array(numbers(diabetes, 8).prefix(2)), [4.8598, 3.8918])
        let target = try Table.readCSV(sklearnData + "diabetes_target.csv.gz", options: CSVOptions(delimiter: UInt8(ascii: " ")))
        guard case .values(let y, 1) = try target.values() else { return XCTFail("diabetes target") }
        XCTAssertEqual(y.count, 442)
        XCTAssertEqual(Array(y.prefix(2)), [151, 75])
    }
}
