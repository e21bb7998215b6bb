import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// Binary and unary elementwise ops, activations included, against NumPy's values and central differences.
final class ElementwiseTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testBinaryElementwise() {
        let ops: [String: (Tensor, Tensor) -> Tensor] = [
            "add": (+), "subtract": (-), "multiply": (*), "divide": (/),
            "maximum": { $0.maximum($1) }, "minimum": { $0.minimum($1) }, "pow": { $0.pow($1) },
            "greater": { $0.greater($1) }, "greaterEqual": { $0.greaterEqual($1) }, "less": { $0.less($1) },
            "lessEqual": { $0.lessEqual($1) }, "equal": { $0.equal($1) }, "notEqual": { $0.notEqual($1) },
        ]
        var count = 0
        for (op, f) in ops {
            for c in fixtures.cases(op) {
                assertClose(f(c.inputs[0].tensor, c.inputs[1].tensor), c.output.tensor, c.name)
                count += 1
            }
        }
        XCTAssertEqual(count, 41)
    }

    func testUnaryAndActivations() {
        let ops: [String: (Tensor) -> Tensor] = [
            "exp": { $0.exp() }, "log": { $0.log() }, "sqrt": { $0.sqrt() }, "square": { $0.square() },
            "abs": { $0.abs() }, "tanh": { $0.tanh() }, "relu": { $0.relu() }, "relu6": { $0.relu6() },
            "sigmoid": { $0.sigmoid() },
        ]
        for (op, f) in ops {
            let c = fixtures.cases(op)[0]
            assertClose(f(c.inputs[0].tensor), c.output.tensor, c.name)
        }
        // atan is not among the TensorFlow fixtures: known values.
        assertClose(Tensor([0, 1, -Float(3).squareRoot(), 1e6]).atan(), Tensor([0, .pi / 4, -.pi / 3, .pi / 2]), "atan")
        let clip = fixtures.cases("clip")[0]
        assertClose(clip.inputs[0].tensor.clipped(min: clip.params.min!, max: clip.params.max!), clip.output.tensor, clip.name)
    }

    func testWhere() {
        let c = fixtures.cases("where")[0]
        assertClose(Tensor.where(c.inputs[0].tensor, c.inputs[1].tensor, c.inputs[2].tensor), c.output.tensor, c.name)
    }

    func testBroadcastingArithmetic() {
        let a = random([2, 3, 4]), b = random([3, 1]), bPositive = random([3, 1], 0.5, 2)
        assertGradients([a, b], "add") { $0[0] + $0[1] }
        assertGradients([a, b], "subtract") { $0[0] - $0[1] }
        assertGradients([a, b], "multiply") { $0[0] * $0[1] }
        assertGradients([a, bPositive], "divide") { $0[0] / $0[1] }
        assertGradients([a, random([4])], "maximum") { $0[0].maximum($0[1]) }
        assertGradients([a, random([2, 1, 1])], "minimum") { $0[0].minimum($0[1]) }
        assertGradients([random([3, 2], 0.5, 2), random([2])], "pow") { $0[0].pow($0[1]) }
        assertGradients([a], "scalars") { 2 - ($0[0] * 3 + 1) / 4 }
        assertGradients([bPositive], "scalar over tensor") { 1 / $0[0] }
        assertGradients([a], "negate") { -$0[0] }
        let mask = random([2, 3, 4]).greater(Tensor(Float(0)))
        assertGradients([a, b], "where") { Traced.where(mask, $0[0], $0[1]) }
    }

    func testUnaryMathAndActivations() {
        let x = random([3, 5], -3, 3), positive = random([3, 5], 0.2, 3)
        assertGradients([x], "exp") { $0[0].exp() }
        assertGradients([positive], "log") { $0[0].log() }
        assertGradients([positive], "sqrt") { $0[0].sqrt() }
        assertGradients([x], "square") { $0[0].square() }
        assertGradients([x], "abs") { $0[0].abs() }
        assertGradients([x], "tanh") { $0[0].tanh() }
        assertGradients([x], "atan") { $0[0].atan() }
        assertGradients([x], "sigmoid") { $0[0].sigmoid() }
        assertGradients([x], "relu") { $0[0].relu() }
        assertGradients([random([3, 5], -8, 8)], "relu6") { $0[0].relu6() }
        assertGradients([x], "clipped") { $0[0].clipped(min: -1, max: 1.5) }
        assertGradients([x], "softmax") { $0[0].softmax() }
        assertGradients([x], "softmax axis 0") { $0[0].softmax(alongAxis: 0) }
        assertGradients([x], "logSoftmax") { $0[0].logSoftmax() }
    }
}
