import PinpointAutograd
import PinpointTensor
import XCTest

/// The gradient checker itself, and whole networks against central differences. Each op family's
/// checks are in its file (ConvolutionTests, PoolingTests, ...).
final class GradientCheckTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    // MARK: The checker itself

    func testTheCheckerRejectsAWrongPullback() {
        func wrongSquare(_ x: Traced) -> Traced {
            Traced.record(x.value.square(), inputs: [x], pullback: { g in [g * x.value] })  // should be 2x
        }
        let report = GradientChecker().check([random([3, 4])]) { x, _ in wrongSquare(x[0]) }
        XCTAssertFalse(report.passed)
        XCTAssertEqual(report.failures.count, 12 - report.skipped)
    }

    func testTheCheckerRejectsAPullbackThatForgetsAnInput() {
        func product(_ a: Traced, _ b: Traced) -> Traced {
            Traced.record(a.value * b.value, inputs: [a, b], pullback: { g in [g * b.value, nil] })
        }
        let report = GradientChecker().check([random([5]), random([5])]) { x, _ in product(x[0], x[1]) }
        XCTAssertFalse(report.passed)
        XCTAssertTrue(report.failures.allSatisfy { $0.input == 1 })
    }

    func testTheCheckerFailsWhenItCanOnlySkip() {
        // |x| sampled at its kink everywhere: nothing can be checked, so nothing is proven.
        let report = GradientChecker().check([Tensor.zeros([6])]) { x, _ in x[0].abs() }
        XCTAssertEqual(report.checked, 0)
        XCTAssertFalse(report.passed)
    }

    func testTheSeedIsResetBeforeEveryEvaluation() {
        // A stochastic op (a random mask drawn from the generator) checks cleanly only if every
        // evaluation draws the same mask.
        let report = GradientChecker().check([random([4, 4])]) { x, rng in
            x[0] * Tensor.uniform([4, 4], using: &rng).greater(Tensor(Float(0.5)))
        }
        XCTAssertTrue(report.passed, "\(report)")
    }

    // MARK: Whole networks

    func testATwoLayerNetworkEndToEnd() {
        let x = random([4, 3]), w1 = random([3, 5]), b1 = random([5]), w2 = random([5, 2])
        assertGradients([w1, b1, w2], "mlp") { p in
            ((Traced(x).matmul(p[0]) + p[1]).relu().matmul(p[2]).sigmoid() - Tensor(shape: [4, 2], scalars: [0, 1, 1, 0, 0, 1, 1, 0]))
                .square().mean()
        }
    }

    func testAConvNetEndToEnd() {
        let x = random([2, 8, 8, 3]), k1 = random([3, 3, 3, 4]), k2 = random([3, 3, 4, 4]), w = random([16, 2])
        let b1 = random([4]), b2 = random([4])
        assertGradients([k1, b1, k2, b2, w], "conv net with biases") { p in
            var h = maxPool2D((conv2D(Traced(x), kernel: p[0], padding: .same) + p[1]).relu(), padding: .same)
            h = maxPool2D((conv2D(h, kernel: p[2], strides: (1, 1), padding: .same) + p[3]).relu(), padding: .same)
            return h.flattened().matmul(p[4]).sigmoid()
        }
    }
}
