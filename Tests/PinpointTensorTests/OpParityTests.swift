import PinpointTensor
import XCTest

/// Every op's forward pass against NumPy / TensorFlow values (Fixtures/make_op_fixtures.py).
final class OpParityTests: XCTestCase {
    let fixtures = OpFixtures.shared

    func assertClose(_ actual: Tensor, _ expected: Tensor, _ name: String, tolerance: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "\(name): shape", file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let a = actual.scalars, e = expected.scalars
        var worst: Float = 0
        for i in 0..<a.count {
            worst = max(worst, abs(a[i] - e[i]) / max(abs(e[i]), 1))
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "\(name): worst relative difference \(worst)", file: file, line: line)
    }

    func testFixturesCoverEveryOp() {
        let ops = Set(fixtures.cases.map(\.op))
        XCTAssertEqual(ops.count, 45, "ops in the fixture: \(ops.sorted())")
    }

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
        let clip = fixtures.cases("clip")[0]
        assertClose(clip.inputs[0].tensor.clipped(min: clip.params.min!, max: clip.params.max!), clip.output.tensor, clip.name)
    }

    func testWhere() {
        let c = fixtures.cases("where")[0]
        assertClose(Tensor.where(c.inputs[0].tensor, c.inputs[1].tensor, c.inputs[2].tensor), c.output.tensor, c.name)
    }

    func testReductions() {
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

    func testMatmul() {
        let cases = fixtures.cases("matmul")
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            var a = c.inputs[0].tensor, b = c.inputs[1].tensor
            // Transposed operands are views, exercising the BLAS transpose flags.
            if c.params.transposeA! { a = a.transposed() }
            if c.params.transposeB! { b = b.transposed() }
            assertClose(a.matmul(b), c.output.tensor, c.name)
        }
    }

    func testShaping() {
        for c in fixtures.cases("concatenate") {
            assertClose(Tensor.concatenate(c.inputs.map(\.tensor), alongAxis: c.params.axis!), c.output.tensor, c.name, tolerance: 0)
        }
        let stack = fixtures.cases("stack")[0]
        assertClose(Tensor.stack(stack.inputs.map(\.tensor), alongAxis: stack.params.axis!), stack.output.tensor, stack.name, tolerance: 0)
        let split = fixtures.cases("split")[0]
        let pieces = split.inputs[0].tensor.split(sizes: split.params.sizes!, alongAxis: split.params.axis!)
        assertClose(pieces[split.params.piece!], split.output.tensor, split.name, tolerance: 0)
        let pad = fixtures.cases("pad")[0]
        let paddings = pad.params.paddings!.map { (before: $0[0], after: $0[1]) }
        assertClose(pad.inputs[0].tensor.padded(paddings, value: pad.params.value!), pad.output.tensor, pad.name, tolerance: 0)
        let slice = fixtures.cases("slice")[0]
        var sliced = slice.inputs[0].tensor
        for (axis, s) in slice.params.slices!.enumerated() {
            sliced = sliced.sliced(alongAxis: axis, from: s[0], to: s[1], step: s[2])
        }
        assertClose(sliced, slice.output.tensor, slice.name, tolerance: 0)
        let permute = fixtures.cases("permute")[0]
        assertClose(permute.inputs[0].tensor.permuted(permute.params.order!), permute.output.tensor, permute.name, tolerance: 0)
        let reshape = fixtures.cases("reshapeOfPermute")[0]
        assertClose(reshape.inputs[0].tensor.permuted(reshape.params.order!).reshaped(reshape.params.shape!),
                    reshape.output.tensor, reshape.name, tolerance: 0)
    }

    func testSoftmaxFamilyForwardMatchesTensorFlow() {
        // Softmax lives on Traced (it is an activation); its forward value is checked in the
        // autograd tests against these same cases. Here: the fixture is present and sane.
        let c = fixtures.cases("softmax")[0]
        let rows = c.output.tensor.sum(alongAxes: [-1])
        XCTAssertTrue(rows.isClose(to: Tensor.ones(rows.shape), relativeTolerance: 1e-5))
    }

    func testConvolutionForwardAndGradientsMatchTensorFlow() {
        let cases = fixtures.cases("conv2d")
        XCTAssertEqual(cases.count, 32)
        for c in cases {
            let x = c.inputs[0].tensor, k = c.inputs[1].tensor, p = c.params
            let y = conv2D(x, kernel: k, strides: p.stridePair, padding: p.paddingMode, dilation: p.dilationPair)
            assertClose(y, c.output.tensor, c.name + " forward", tolerance: 1e-5)
            let dx = conv2DBackpropInput(c.upstream!.tensor, kernel: k, inputShape: x.shape, strides: p.stridePair,
                                         padding: p.paddingMode, dilation: p.dilationPair)
            assertClose(dx, c.gradients![0].tensor, c.name + " input gradient", tolerance: 1e-5)
            let dk = conv2DBackpropKernel(x, outputGradient: c.upstream!.tensor, kernelShape: k.shape, strides: p.stridePair,
                                          padding: p.paddingMode, dilation: p.dilationPair)
            assertClose(dk, c.gradients![1].tensor, c.name + " kernel gradient", tolerance: 1e-5)
        }
    }

    func testDepthwiseConvolutionForwardAndGradientsMatchTensorFlow() {
        let cases = fixtures.cases("depthwiseConv2d")
        XCTAssertEqual(cases.count, 16)
        for c in cases {
            let x = c.inputs[0].tensor, k = c.inputs[1].tensor, p = c.params
            let y = depthwiseConv2D(x, kernel: k, strides: p.stridePair, padding: p.paddingMode, dilation: p.dilationPair)
            assertClose(y, c.output.tensor, c.name + " forward")
            assertClose(depthwiseConv2DBackpropInput(c.upstream!.tensor, kernel: k, inputShape: x.shape, strides: p.stridePair,
                                                     padding: p.paddingMode, dilation: p.dilationPair),
                        c.gradients![0].tensor, c.name + " input gradient")
            assertClose(depthwiseConv2DBackpropKernel(x, outputGradient: c.upstream!.tensor, kernelShape: k.shape, strides: p.stridePair,
                                                      padding: p.paddingMode, dilation: p.dilationPair),
                        c.gradients![1].tensor, c.name + " kernel gradient")
        }
    }

    func testPoolingForwardAndGradientsMatchTensorFlowIncludingTies() {
        let maxCases = fixtures.cases("maxPool"), avgCases = fixtures.cases("avgPool")
        XCTAssertEqual(maxCases.count, 16)
        XCTAssertEqual(avgCases.count, 12)
        XCTAssertEqual(maxCases.filter { $0.name.contains("ties") }.count, 4)
        for c in maxCases {
            let x = c.inputs[0].tensor, p = c.params
            let y = maxPool2D(x, poolSize: p.poolPair, strides: p.stridePair, padding: p.paddingMode)
            assertClose(y, c.output.tensor, c.name + " forward", tolerance: 0)
            assertClose(maxPool2DBackprop(c.upstream!.tensor, input: x, output: y, poolSize: p.poolPair, strides: p.stridePair,
                                          padding: p.paddingMode), c.gradients![0].tensor, c.name + " gradient")
        }
        for c in avgCases {
            let x = c.inputs[0].tensor, p = c.params
            let y = avgPool2D(x, poolSize: p.poolPair, strides: p.stridePair, padding: p.paddingMode)
            assertClose(y, c.output.tensor, c.name + " forward")
            let dx = avgPool2DBackprop(c.upstream!.tensor, inputShape: x.shape, poolSize: p.poolPair, strides: p.stridePair,
                                       padding: p.paddingMode)
            assertClose(dx, c.gradients![0].tensor, c.name + " gradient")
        }
        let g = fixtures.cases("globalAvgPool")[0]
        assertClose(globalAvgPool2D(g.inputs[0].tensor), g.output.tensor, g.name)
    }

    func testRandomGeneratorMatchesIndependentImplementation() {
        var rng = SeededGenerator(seed: fixtures.random.seed)
        XCTAssertEqual((0..<8).map { _ in String(rng.next()) }, fixtures.random.uint64)
        var floats = SeededGenerator(seed: fixtures.random.seed)
        XCTAssertEqual((0..<8).map { _ in floats.nextUnitFloat() }, fixtures.random.unitFloat)
    }
}
