import NN
import XCTest

/// `NumPyRandomState` draws what NumPy's legacy `RandomState` draws, and
/// `Dataset.scikitLearnFolds` deals scikit-learn's folds. Every expected value was printed by
/// NumPy 1.24 and scikit-learn 1.2.1 (Debian's python3-numpy and python3-sklearn), e.g.
/// `a = np.arange(10); np.random.RandomState(0).shuffle(a)`; exact integers, no tolerance.
final class ScikitLearnFoldsTests: XCTestCase {
    func testMersenneTwisterMatchesNumPy() {
        // np.random.RandomState(0).randint(0, 2**32, size=3, dtype=np.uint64): one 32-bit draw each.
        var random = NumPyRandomState(seed: 0)
        XCTAssertEqual([random.nextUInt32(), random.nextUInt32(), random.nextUInt32()],
                       [2_357_136_044, 2_546_248_239, 3_071_714_933])
    }

    func testShuffleMatchesNumPy() {
        var ten = Array(0..<10)
        var random = NumPyRandomState(seed: 0)
        random.shuffle(&ten)
        XCTAssertEqual(ten, [2, 8, 4, 9, 1, 6, 7, 3, 0, 5])
        // Past the first 624 draws (one twist of the state), as diabetes' 442 rows need.
        var rows = Array(0..<442)
        random = NumPyRandomState(seed: 0)
        random.shuffle(&rows)
        XCTAssertEqual(Array(rows.prefix(12)), [362, 249, 271, 435, 400, 403, 12, 399, 198, 205, 78, 144])
        XCTAssertEqual(Array(rows.suffix(4)), [192, 117, 47, 172])
        var seven = Array(0..<7)
        random = NumPyRandomState(seed: UInt32.max)
        random.shuffle(&seven)
        XCTAssertEqual(seven, [1, 5, 0, 6, 4, 2, 3])
    }

    /// KFold(3, shuffle=True, random_state=7) on 11 samples: sizes 4, 4, 3.
    func testKFoldMatchesScikitLearn() {
        let data = Dataset(table: [Float](repeating: 0, count: 11), rowCount: 11, names: ["x"],
                           targets: .values([Float](repeating: 0, count: 11), shape: [1]))
        let folds = data.scikitLearnFolds(3, randomState: 7)
        XCTAssertEqual(folds.map(\.test), [[0, 2, 5, 8], [1, 3, 7, 10], [4, 6, 9]])
        for fold in folds {
            XCTAssertEqual((fold.train + fold.test).sorted(), Array(0..<11))
        }
    }

    /// StratifiedKFold(3, shuffle=True, random_state=1) on labels whose first class to appear
    /// (2) is not the smallest, so the order the classes are shuffled in matters.
    func testStratifiedKFoldMatchesScikitLearn() {
        let labels: [Int32] = [2, 2, 0, 1, 0, 2, 1, 1, 0, 2, 2, 0, 1, 0]
        let data = Dataset(table: [Float](repeating: 0, count: labels.count), rowCount: labels.count, names: ["x"],
                           targets: .classes(labels: labels, names: ["a", "b", "c"]))
        let folds = data.scikitLearnFolds(3, stratified: true, randomState: 1)
        XCTAssertEqual(folds.map(\.test), [[1, 2, 9, 12, 13], [0, 3, 4, 6, 10], [5, 7, 8, 11]])
    }
}
