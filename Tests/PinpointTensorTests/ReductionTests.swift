import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// Reductions against NumPy's values and central differences.
final class ReductionTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testReductionsMatchNumPy() {
        for op in ["sum", "mean", "max", "min", "variance"] {
            let cases = fixtures.cases(op)
            XCTAssertEqual(cases.count, 16, op)
            for c in cases {
                let x = c.inputs[0].tensor, axes = c.params.axes, keep = c.params.keepdims!
                let y: Tensor
                switch op {
                case "sum": y = x.sum(alongAxes: axes, keepingDimensions: keep)
                case "mean": y = x.mean(alongAxes: axes, keepingDimensions: keep)
                case "max": y = x.max(alongAxes: axes, keepingDimensions: keep)
                case "min": y = x.min(alongAxes: axes, keepingDimensions: keep)
                default: y = x.variance(alongAxes: axes, keepingDimensions: keep)
                }
                assertClose(y, c.output.tensor, c.name)
            }
        }
        for c in fixtures.cases("argmax") {
            assertClose(c.inputs[0].tensor.argmax(alongAxis: c.params.axis!), c.output.tensor, c.name, tolerance: 0)
        }
    }

    func testReductionGradients() {
        let x = random([2, 3, 4])
        for axes in [nil, [0], [1], [-1], [0, 2], [1, 2]] as [[Int]?] {
            for keep in [false, true] {
                let tag = "axes \(String(describing: axes)) keep \(keep)"
                assertGradients([x], "sum " + tag) { $0[0].sum(alongAxes: axes, keepingDimensions: keep) }
                assertGradients([x], "mean " + tag) { $0[0].mean(alongAxes: axes, keepingDimensions: keep) }
                assertGradients([x], "max " + tag) { $0[0].max(alongAxes: axes, keepingDimensions: keep) }
                assertGradients([x], "min " + tag) { $0[0].min(alongAxes: axes, keepingDimensions: keep) }
                assertGradients([x], "variance " + tag) { $0[0].variance(alongAxes: axes, keepingDimensions: keep) }
            }
        }
    }

    func testTiedMaximaShareTheGradient() {
        let tape = GradientTape()
        let x = tape.watch(Tensor([1, 3, 3, 2]))
        XCTAssertEqual(tape.gradient(of: x.max(), wrt: [x])[0].scalars, [0, 0.5, 0.5, 0])
    }
}
