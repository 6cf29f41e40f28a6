import CKernels
import NNReference
import TestSupport
import XCTest

final class SoftmaxTests: XCTestCase {
    /// Rows × cols sweep: cols 1 is the degenerate row (softmax 1, log-softmax 0); 64 × 1000
    /// is past the OpenMP threshold.
    static let shapes: [(Int, Int)] = [1, 7, 64].flatMap { r in [1, 3, 10, 1000].map { (r, $0) } }

    private func checkSoftmaxAndLogSoftmax(x: [Float], rows: Int, cols: Int, _ rng: inout SeededGenerator,
                                           file: StaticString = #filePath, line: UInt = #line) {
        let count = rows * cols
        let dy = randomFloats(count, using: &rng)
        let dx0 = randomFloats(count, using: &rng)

        var y = [Float](repeating: .nan, count: count)
        ck_softmax_forward(&y, x, Int32(rows), Int32(cols))
        let yRef = referenceSoftmaxForward(x, rows: rows, cols: cols)
        assertClose(yRef, y, .float32, "ck_softmax_forward", shape: [rows, cols], file: file, line: line)
        // Both backwards get the same y so only the backward itself is compared.
        var dx = dx0
        ck_softmax_backward(&dx, dy, yRef, Int32(rows), Int32(cols))
        let gradient = referenceSoftmaxBackward(dy: dy, y: yRef, rows: rows, cols: cols)
        assertClose(zip(dx0, gradient).map { $0 + $1 }, dx, .float32, "ck_softmax_backward",
                    shape: [rows, cols], file: file, line: line)

        var logY = [Float](repeating: .nan, count: count)
        ck_log_softmax_forward(&logY, x, Int32(rows), Int32(cols))
        let logYRef = referenceLogSoftmaxForward(x, rows: rows, cols: cols)
        assertClose(logYRef, logY, .float32, "ck_log_softmax_forward", shape: [rows, cols], file: file, line: line)
        var dxLog = dx0
        ck_log_softmax_backward(&dxLog, dy, logYRef, Int32(rows), Int32(cols))
        let logGradient = referenceLogSoftmaxBackward(dy: dy, y: logYRef, rows: rows, cols: cols)
        assertClose(zip(dx0, logGradient).map { $0 + $1 }, dxLog, .float32, "ck_log_softmax_backward",
                    shape: [rows, cols], file: file, line: line)
    }

    private func checkCrossEntropy(logits: [Float], labels: [Int], rows: Int, cols: Int, _ rng: inout SeededGenerator,
                                   file: StaticString = #filePath, line: UInt = #line) {
        let count = rows * cols
        let labels32 = labels.map { Int32($0) }
        var probs = [Float](repeating: .nan, count: count)
        let loss = ck_softmax_cross_entropy_forward(&probs, logits, labels32, Int32(rows), Int32(cols))
        let reference = referenceSoftmaxCrossEntropyForward(logits: logits, labels: labels, rows: rows, cols: cols)
        XCTAssertTrue(loss.isFinite, "ck_softmax_cross_entropy_forward (\(rows),\(cols)): loss \(loss)",
                      file: file, line: line)
        assertClose(reference.loss, loss, .float32, "ck_softmax_cross_entropy_forward loss (\(rows),\(cols))",
                    file: file, line: line)
        assertClose(reference.probs, probs, .float32, "ck_softmax_cross_entropy_forward probs",
                    shape: [rows, cols], file: file, line: line)

        let dx0 = randomFloats(count, using: &rng)
        let scale = 1.5 / Float(rows)  // dloss = 1.5, mean over rows.
        var dx = dx0
        ck_softmax_cross_entropy_backward(&dx, reference.probs, labels32, Int32(rows), Int32(cols), scale)
        let gradient = referenceSoftmaxCrossEntropyBackward(probs: reference.probs, labels: labels,
                                                            rows: rows, cols: cols, scale: scale)
        assertClose(zip(dx0, gradient).map { $0 + $1 }, dx, .float32, "ck_softmax_cross_entropy_backward",
                    shape: [rows, cols], file: file, line: line)
    }

    func testMatchesReferenceOverShapes() {
        var rng = SeededGenerator(seed: 201)
        for (rows, cols) in Self.shapes {
            let x = randomFloats(rows * cols, in: -5...5, using: &rng)
            checkSoftmaxAndLogSoftmax(x: x, rows: rows, cols: cols, &rng)
            let labels = (0..<rows).map { _ in Int.random(in: 0..<cols, using: &rng) }
            checkCrossEntropy(logits: x, labels: labels, rows: rows, cols: cols, &rng)
        }
    }

    /// Logits of ±80 overflow float's e^x without the max shift; 1e4 would overflow Double.
    func testLargeLogitsStayFiniteAndCorrect() {
        var rng = SeededGenerator(seed: 202)
        let (rows, cols) = (7, 10)
        let x = randomFloats(rows * cols, in: -80...80, using: &rng)
        checkSoftmaxAndLogSoftmax(x: x, rows: rows, cols: cols, &rng)
        let labels = (0..<rows).map { _ in Int.random(in: 0..<cols, using: &rng) }
        checkCrossEntropy(logits: x, labels: labels, rows: rows, cols: cols, &rng)
        // A row whose label has probability e^-2e4 (0 in any float type) and one whose label
        // wins outright: the mean loss is (2e4 + 0) / 2, finite.
        let huge: [Float] = [1e4, 0, -1e4, 1e4, 0, -1e4]
        checkCrossEntropy(logits: huge, labels: [2, 0], rows: 2, cols: 3, &rng)
        var probs = [Float](repeating: .nan, count: 6)
        XCTAssertEqual(ck_softmax_cross_entropy_forward(&probs, huge, [2, 0], 2, 3), 1e4)
    }
}
