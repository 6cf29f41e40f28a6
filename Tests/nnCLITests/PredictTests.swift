import CZlib
import Foundation
import NN
import XCTest

/// `nn predict` on PNG files: every colour type and bit depth gives the probabilities the
/// library's own forward pass gives on the same pixels, the classes agree with `eval`'s
/// scoring, and bad files end in one `error:` line naming the file.
extension CLITests {
    /// Statistics close to Fashion-MNIST's, so standardization visibly changes the inputs.
    static let testStatistics = Standardization(mean: [0.2860], std: [0.3530])

    /// A Models.mlp checkpoint saved through the library, its last layer's weights scaled so
    /// the probabilities are far from uniform (a wrong pixel then moves them measurably).
    func savedMLP() throws -> (url: URL, network: Sequential) {
        DefaultRandom.manualSeed(11)
        let network = Models.mlp()
        let last = try XCTUnwrap(network.namedParameters.last { $0.name.hasSuffix("weight") }?.parameter)
        last.value = Tensor(last.value.scalars.map { $0 * 8 }, shape: last.shape)
        let url = scratch.appendingPathComponent("mlp.safetensors")
        try Checkpoint.save(to: url, model: network, standardization: CLITests.testStatistics)
        return (url, network)
    }

    /// The softmax of `network` on 28x28 gray images, computed in the test from the definition
    /// of the standardization: ((pixel / 255) - mean) / std.
    func libraryProbabilities(_ network: Sequential, _ images: [[UInt8]], statistics: Standardization) -> [[Float]] {
        network.setTraining(false)
        let m = statistics.mean[0], s = statistics.std[0]
        let input = images.flatMap { $0.map { (Float($0) / 255 - m) / s } }
        let probabilities = withoutGradient { softmax(network(Tensor(input, shape: [images.count, 1, 28, 28]))).scalars }
        return (0..<images.count).map { Array(probabilities[($0 * 10)..<(($0 + 1) * 10)]) }
    }

    /// The rows of predict's CSV (after the header) as (file, class, probabilities).
    func predictionRows(_ url: URL, file: StaticString = #filePath, line: UInt = #line)
        throws -> [(file: String, label: String, probabilities: [Float])] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "file,class," + FashionMNIST.classNames.joined(separator: ","), file: file, line: line)
        return lines.dropFirst().map { row in
            let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return (fields[0], fields[1], fields.dropFirst(2).map { Float($0) ?? .nan })
        }
    }

    /// Two 28x28 patterns: every gray level 0...255 by position, and a bright block on near-black.
    static let patterns: [[UInt8]] = [
        (0..<784).map { (i: Int) -> UInt8 in UInt8((i * 37 + (i / 28) * 11) % 256) },
        (0..<784).map { (i: Int) -> UInt8 in
            let row = i / 28, column = i % 28
            let inside = row > 6 && row < 22 && column > 8 && column < 20
            return inside ? UInt8(200 + i % 50) : UInt8(i % 7)
        },
    ]

    /// One pattern written as 8-bit gray, 16-bit gray, 8-bit RGB (gray colours), a palette
    /// with its entries in reverse order, gray + opaque alpha, and interlaced gray.
    static func everyKind(_ pixels: [UInt8]) -> [(kind: String, bytes: [UInt8])] {
        let doubled: [UInt8] = pixels.flatMap { [$0, $0] }  // 16-bit v * 257, big-endian
        let rgb: [UInt8] = pixels.flatMap { [$0, $0, $0] }
        let reversed: [UInt8] = pixels.map { 255 - $0 }
        let palette: [UInt8] = (0...255).flatMap { (k: Int) -> [UInt8] in [UInt8](repeating: UInt8(255 - k), count: 3) }
        let withAlpha: [UInt8] = pixels.flatMap { [$0, 255] }
        var kinds: [(kind: String, bytes: [UInt8])] = []
        kinds.append(("gray8", TestPNG.encode(width: 28, height: 28, colorType: 0, bitDepth: 8, samples: pixels)))
        kinds.append(("gray16", TestPNG.encode(width: 28, height: 28, colorType: 0, bitDepth: 16, samples: doubled)))
        kinds.append(("rgb", TestPNG.encode(width: 28, height: 28, colorType: 2, bitDepth: 8, samples: rgb)))
        kinds.append(("palette", TestPNG.encode(width: 28, height: 28, colorType: 3, bitDepth: 8, samples: reversed,
                                                palette: palette)))
        kinds.append(("gray-alpha", TestPNG.encode(width: 28, height: 28, colorType: 4, bitDepth: 8, samples: withAlpha)))
        kinds.append(("interlaced", TestPNG.encode(width: 28, height: 28, colorType: 0, bitDepth: 8, samples: pixels,
                                                   interlaced: true)))
        return kinds
    }

    func testPredictOnEveryPNGKindGivesTheLibraryForwardsProbabilities() throws {
        let (checkpoint, network) = try savedMLP()
        var files: [String] = [], expectedPixels: [[UInt8]] = []
        for (p, pixels) in CLITests.patterns.enumerated() {
            let kinds = CLITests.everyKind(pixels)
            for (kind, bytes) in kinds {
                let url = scratch.appendingPathComponent("\(kind)-\(p).png")
                try Data(bytes).write(to: url)
                files.append(url.path)
                expectedPixels.append(pixels)
            }
        }
        let csv = scratch.appendingPathComponent("out/predictions.csv")
        let run = try nn(["predict", "--checkpoint", checkpoint.path, "--output", csv.path] + files)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr, "")

        let expected = libraryProbabilities(network, expectedPixels, statistics: CLITests.testStatistics)
        let rows = try predictionRows(csv)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, files.count)
        XCTAssertEqual(lines.count, files.count + 1, run.stdout)
        XCTAssertEqual(lines.last.map(String.init), "predictions: \(csv.path)")
        for (index, row) in rows.enumerated() where index < files.count {
            XCTAssertEqual(row.file, files[index])
            // 6 printed decimals: 5e-7 of rounding, plus float differences between two forward passes.
            for (c, probability) in row.probabilities.enumerated() {
                XCTAssertEqual(probability, expected[index][c], accuracy: 2e-6, "\(row.file), class \(c)")
            }
            let best = expected[index].indices.max { expected[index][$0] < expected[index][$1] }!
            XCTAssertEqual(row.label, FashionMNIST.classNames[best], row.file)
            let probability = String(format: "%.4f", expected[index][best])
            XCTAssertEqual(String(lines[index]), "\(files[index]): \(FashionMNIST.classNames[best]) \(probability)")
        }
        // The two patterns must differ, or the comparison above could not see a mixed-up order.
        XCTAssertNotEqual(rows.first?.probabilities, rows.last?.probabilities)
    }

    func testPredictAgreesWithEvalOnFashionMNISTTestImages() throws {
        try requireData()
        let checkpoint = scratch.appendingPathComponent("trained.safetensors").path
        let train = try nn(["train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--checkpoint", checkpoint])
        XCTAssertEqual(train.status, 0, train.stderr)

        // The first 40 test images, back to the bytes they were (k/255 -> k) and into PNG files.
        let test = try FashionMNIST.load(.test).prefix(40)
        var files: [String] = []
        for i in 0..<test.count {
            let bytes: [UInt8] = test.images[(i * 784)..<((i + 1) * 784)].map { UInt8(($0 * 255).rounded()) }
            let url = scratch.appendingPathComponent("test-\(i).png")
            try Data(TestPNG.encode(width: 28, height: 28, colorType: 0, bitDepth: 8, samples: bytes)).write(to: url)
            files.append(url.path)
        }
        let csv = scratch.appendingPathComponent("test.csv")
        let run = try nn(["predict", "--checkpoint", checkpoint, "--output", csv.path] + files)
        XCTAssertEqual(run.status, 0, run.stderr)

        // Eval's scoring of the same 40 images with the same checkpoint and statistics.
        let url = URL(fileURLWithPath: checkpoint)
        DefaultRandom.manualSeed(0)
        let network = Models.mlp()
        let saved = try Checkpoint.loadModel(from: url, into: network)
        let statistics = try XCTUnwrap(Checkpoint.standardization(in: saved))
        let evaluation = Trainer.evaluate(network, on: test.standardized(with: statistics))
        let rows = try predictionRows(csv)
        XCTAssertEqual(rows.count, test.count)
        let correct = zip(rows, test.labels).filter { $0.0.label == test.classNames[Int($0.1)] }.count
        XCTAssertEqual(Double(correct) / Double(test.count), evaluation.accuracy, accuracy: 1e-12,
                       "predict's classes must score what eval scores on the same images")
        XCTAssertGreaterThan(evaluation.accuracy, 0.5, "one epoch on 2,000 images")
        let testBytes: [[UInt8]] = (0..<test.count).map { (i: Int) -> [UInt8] in
            test.images[(i * 784)..<((i + 1) * 784)].map { UInt8(($0 * 255).rounded()) }
        }
        let expected = libraryProbabilities(network, testBytes, statistics: statistics)
        for (index, row) in rows.enumerated() {
            for (c, probability) in row.probabilities.enumerated() {
                XCTAssertEqual(probability, expected[index][c], accuracy: 2e-6, "\(row.file), class \(c)")
            }
        }
    }

    func testPredictRejectsBadImagesWithOneLineNamingTheFile() throws {
        let (checkpoint, _) = try savedMLP()
        let good = scratch.appendingPathComponent("good.png")
        let goodBytes = TestPNG.encode(width: 28, height: 28, colorType: 0, bitDepth: 8, samples: CLITests.patterns[0])
        try Data(goodBytes).write(to: good)
        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let url = scratch.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url.path
        }
        let wide = try write("wide.png", TestPNG.encode(width: 32, height: 28, colorType: 0, bitDepth: 8,
                                                         samples: [UInt8](repeating: 9, count: 32 * 28)))
        let text = try write("labels.png", Array("file,class\n".utf8))
        let jpeg = try write("photo.png", [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8))
        let empty = try write("empty.png", [])
        let truncated = try write("truncated.png", Array(goodBytes.prefix(goodBytes.count / 2)))
        var badCRC = goodBytes
        badCRC[45] ^= 0xFF  // inside IDAT's compressed data: its CRC no longer matches
        let corrupt = try write("crc.png", badCRC)
        let missing = scratch.appendingPathComponent("missing.png").path

        let cases: [(String, [String])] = [
            (wide, ["32x28", "28x28", "mlp"]), (text, ["not a PNG"]), (jpeg, ["JPEG"]), (empty, ["empty"]),
            (truncated, ["damaged"]), (corrupt, ["damaged"]), (missing, ["not found"]),
        ]
        for (path, words) in cases {
            // A bad file among good ones still fails the whole call, naming the bad one.
            try assertOneLineError(["predict", "--checkpoint", checkpoint.path, good.path, path],
                                   mentions: [path] + words, status: 1)
        }
        try assertOneLineError(["predict", "--checkpoint", checkpoint.path], mentions: ["PNG"], status: 1)
        try assertOneLineError(["predict", good.path], mentions: ["--checkpoint"], status: 1)
        try assertOneLineError(["predict", "--checkpoint", missing, good.path], mentions: [missing], status: 1)
    }
}

/// A PNG encoder written from the specification (filter type 0 on every row, one IDAT, and
/// Adam7 by hand), so the tests check libpng's decoding against files it did not write.
enum TestPNG {
    /// `samples` are the raw samples row after row (16-bit ones as big-endian byte pairs);
    /// bit depth 8 or 16, colour type 0 gray, 2 RGB, 3 palette (with `palette`), 4 gray+alpha.
    static func encode(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8, samples: [UInt8],
                       palette: [UInt8]? = nil, interlaced: Bool = false) -> [UInt8] {
        let channels: Int = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(colorType)]!
        let pixelBytes = channels * Int(bitDepth) / 8
        precondition(samples.count == width * height * pixelBytes, "TestPNG: \(samples.count) bytes for \(width)x\(height)")
        func pixel(_ x: Int, _ y: Int) -> ArraySlice<UInt8> {
            samples[((y * width + x) * pixelBytes)..<((y * width + x + 1) * pixelBytes)]
        }
        var raw: [UInt8] = []
        // Adam7's seven passes (x0, y0, dx, dy), or the whole image as one pass.
        let passes: [(Int, Int, Int, Int)] = interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        for (x0, y0, dx, dy) in passes where x0 < width && y0 < height {
            for y in stride(from: y0, to: height, by: dy) {
                raw.append(0)
                for x in stride(from: x0, to: width, by: dx) { raw += pixel(x, y) }
            }
        }
        var size = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(size))
        precondition(compress2(&compressed, &size, raw, uLong(raw.count), 6) == Z_OK)
        compressed.removeLast(compressed.count - Int(size))
        let header = bigEndian(width) + bigEndian(height) + [bitDepth, colorType, 0, 0, interlaced ? 1 : 0]
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
        if let palette { file += chunk("PLTE", palette) }
        return file + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return bigEndian(data.count) + typed + bigEndian(Int(crc))
    }

    private static func bigEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
}
