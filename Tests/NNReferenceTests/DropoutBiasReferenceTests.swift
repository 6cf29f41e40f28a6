import NNReference
import TestSupport
import XCTest

final class DropoutBiasReferenceTests: XCTestCase {
    func testDropoutMaskDropsAboutPAndScalesTheRest() {
        var rng = SeededGenerator(seed: 31)
        let mask = referenceDropoutMask(count: 20_000, p: 0.25, using: &rng)
        XCTAssertTrue(mask.allSatisfy { $0 == 0 || $0 == Float(4.0 / 3.0) })
        // Binomial(20000, 0.25): standard deviation ~61 drops; 400 is over 6 of them.
        let dropped = mask.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped), 5000, accuracy: 400)
    }

    func testDropoutByHand() {
        XCTAssertEqual(referenceDropoutForward([1, 2, 3], mask: [0, 2, 2]), [0, 4, 6])
        XCTAssertEqual(referenceDropoutBackward(dy: [5, 6, 7], mask: [0, 2, 2]), [0, 12, 14])
    }

    func testBiasByHand() {
        // (n,c,s) = (2,2,2): bias 10 on channel 0, 20 on channel 1.
        let y: [Float] = [0, 1, 2, 3, 4, 5, 6, 7]
        XCTAssertEqual(referenceBiasAddForward(y, bias: [10, 20], n: 2, c: 2, s: 2),
                       [10, 11, 22, 23, 14, 15, 26, 27])
        // Channel 0 holds 0, 1, 4, 5; channel 1 holds 2, 3, 6, 7.
        XCTAssertEqual(referenceBiasAddBackward(dy: y, n: 2, c: 2, s: 2), [10, 18])
    }
}
