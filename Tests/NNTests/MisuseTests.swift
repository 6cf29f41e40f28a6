import Foundation
import NN
import XCTest

/// Misuse stops with a message that says what went wrong, instead of losing gradients
/// silently or deadlocking. A trap ends the process, so each trapping case runs in a child
/// process: this test binary again, running only `testMisuseChild` with the case named in
/// an environment variable.
final class MisuseTests: XCTestCase {
    static let caseVariable = "NN_MISUSE_TEST_CASE"

    /// Runs `testMisuseChild` in a child process for `misuse` and returns its exit status
    /// and output.
    private func runChild(_ misuse: String) throws -> (status: Int32, output: String) {
        let run = try runTestInChildProcess("NNTests.MisuseTests/testMisuseChild", environment: [
            Self.caseVariable: misuse,
            "SWIFT_BACKTRACE": "enable=no",  // the message is enough; a backtrace takes seconds
        ])
        return (run.status, run.output)
    }

    /// As in PyTorch: the first backward releases the graph, a second one through it stops.
    func testSecondBackwardThroughAReleasedGraphStopsWithPyTorchsMessage() throws {
        let (status, output) = try runChild("backward-twice")
        XCTAssertNotEqual(status, 0, "a second backward through a released graph did not stop:\n\(output)")
        XCTAssertTrue(output.contains("trying to backward through the graph a second time"), output)
        XCTAssertFalse(output.contains("REACHED"), output)
    }

    /// A loss computed from an intermediate value of a graph that was already back-propagated.
    func testBackwardFromAValueOfAReleasedGraphStops() throws {
        let (status, output) = try runChild("backward-shared-intermediate")
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("trying to backward through the graph a second time"), output)
    }

    /// Building a layer inside `DefaultRandom.with` is a nested call: it stops and says why.
    func testNestedDefaultRandomStopsAndSaysWhy() throws {
        let (status, output) = try runChild("nested-default-random")
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("DefaultRandom.with called inside DefaultRandom.with"), output)
        XCTAssertTrue(output.contains("draw from the"), output)
    }

    /// What stays allowed: a new forward pass, and two losses of one forward each with
    /// its own backward sharing only leaves (parameters), accumulate as in PyTorch.
    func testANewForwardPassCanBackwardAgain() {
        let w = Parameter(Tensor([1, 2, 3], shape: [3]))
        let x = Tensor([4, 5, 6], shape: [3])
        (w.value * x).sum().backward()
        (w.value * x).sum().backward()
        XCTAssertEqual(w.gradient.scalars, [8, 10, 12])
        // A generator used outside `with` and `with` after `with` are fine.
        let a = DefaultRandom.with { $0.next() }
        let b = DefaultRandom.with { $0.next() }
        XCTAssertNotEqual(a, b)
    }

    /// The child's half; skipped in the ordinary run.
    func testMisuseChild() throws {
        guard let misuse = ProcessInfo.processInfo.environment[Self.caseVariable] else {
            throw XCTSkip("runs only in the child processes of the other MisuseTests")
        }
        let w = Parameter(Tensor([1, 2, 3], shape: [3]))
        let x = Tensor([4, 5, 6], shape: [3])
        switch misuse {
        case "backward-twice":
            let loss = (w.value * x).sum()
            loss.backward()
            loss.backward()
        case "backward-shared-intermediate":
            let hidden = w.value * x
            hidden.sum().backward()
            (hidden * hidden).sum().backward()
        case "nested-default-random":
            _ = DefaultRandom.with { _ in Dense(inputSize: 2, outputSize: 2) }
        default:
            XCTFail("unknown case \(misuse)")
        }
        print("REACHED the end of \(misuse)")
    }
}
