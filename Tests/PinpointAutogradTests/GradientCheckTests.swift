import PinpointAutograd
import PinpointTensor
import XCTest

/// Every differentiable op's pullback against central differences.
final class GradientCheckTests: XCTestCase {
    var rng = SeededGenerator(seed: 2026)

    func random(_ shape: [Int], _ low: Float = -1, _ high: Float = 1) -> Tensor {
        Tensor.uniform(shape, low: low, high: high, using: &rng)
    }

    func assertGradients(_ inputs: [Tensor], _ name: String, checker: GradientChecker = GradientChecker(),
                         file: StaticString = #filePath, line: UInt = #line,
                         _ f: @escaping ([Traced]) -> Traced) {
        let report = checker.check(inputs) { x, _ in f(x) }
        XCTAssertTrue(report.passed, "\(name): \(report)", file: file, line: line)
    }

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

    // MARK: Arithmetic and math

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
        assertGradients([x], "sigmoid") { $0[0].sigmoid() }
        assertGradients([x], "relu") { $0[0].relu() }
        assertGradients([random([3, 5], -8, 8)], "relu6") { $0[0].relu6() }
        assertGradients([x], "clipped") { $0[0].clipped(min: -1, max: 1.5) }
        assertGradients([x], "softmax") { $0[0].softmax() }
        assertGradients([x], "softmax axis 0") { $0[0].softmax(alongAxis: 0) }
        assertGradients([x], "logSoftmax") { $0[0].logSoftmax() }
    }

    // MARK: Reductions

    func testReductions() {
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

    // MARK: Linear algebra and shaping

    func testMatmul() {
        assertGradients([random([3, 4]), random([4, 5])], "matmul") { $0[0].matmul($0[1]) }
        assertGradients([random([2, 3, 4]), random([4, 2])], "batched, broadcast right") { $0[0].matmul($0[1]) }
        assertGradients([random([2, 1, 3, 4]), random([3, 4, 2])], "batched, broadcast both") { $0[0].matmul($0[1]) }
        assertGradients([random([4, 3]), random([5, 4])], "transposed views") { $0[0].transposed().matmul($0[1].transposed()) }
    }

    func testShapingOps() {
        let x = random([2, 3, 4])
        assertGradients([x], "reshaped") { $0[0].reshaped([4, 6]) * Tensor((0..<6).map(Float.init)) }
        assertGradients([x], "flattened") { $0[0].flattened() }
        assertGradients([x], "permuted") { $0[0].permuted([2, 0, 1]) }
        assertGradients([x], "transposed") { $0[0].transposed() }
        assertGradients([x], "expand and squeeze") { $0[0].expandingDimensions(at: 1).squeezed() * 2 }
        assertGradients([random([3, 1])], "broadcast") { $0[0].broadcast(to: [2, 3, 4]) }
        assertGradients([x], "sliced with step") { $0[0].sliced(alongAxis: 2, from: 1, to: 4, step: 2) }
        assertGradients([x], "subscript") { $0[0][index: 1] }
        assertGradients([x], "padded") { $0[0].padded([(1, 0), (0, 2), (1, 1)], value: 3) }
        assertGradients([x, random([2, 1, 4])], "concatenate") { Traced.concatenate([$0[0], $0[1]], alongAxis: 1) }
        assertGradients([x, random([2, 3, 4])], "stack") { Traced.stack([$0[0], $0[1] * 2], alongAxis: 3) }
        assertGradients([x], "split") {
            let parts = $0[0].split(sizes: [1, 3], alongAxis: 2)
            return parts[0] * parts[1].sum(alongAxes: [2], keepingDimensions: true)
        }
    }

    // MARK: Convolution and pooling

    func testConvolutionEveryPaddingStrideAndDilation() {
        var combinations = 0
        for padding in Padding.allCases {
            for (h, w) in [(5, 5), (6, 4)] {
                for strides in [(1, 1), (2, 2), (1, 2)] {
                    for dilation in [(1, 1), (2, 1)] {
                        for kernel in [(3, 3), (2, 3), (1, 1)] {
                            let x = random([2, h, w, 2]), k = random([kernel.0, kernel.1, 2, 3])
                            guard (try? Conv2DGeometry(inputShape: x.shape, kernelShape: k.shape, strides: strides,
                                                       padding: padding, dilation: dilation)) != nil else { continue }
                            assertGradients([x, k], "conv2D \(h)x\(w) k\(kernel) s\(strides) d\(dilation) \(padding)") {
                                conv2D($0[0], kernel: $0[1], strides: strides, padding: padding, dilation: dilation)
                            }
                            combinations += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(combinations, 60)
    }

    func testDepthwiseConvolutionEveryPaddingStrideDilationAndMultiplier() {
        var combinations = 0
        for padding in Padding.allCases {
            for (h, w) in [(5, 5), (6, 4)] {
                for strides in [(1, 1), (2, 2), (1, 2)] {
                    for dilation in [(1, 1), (2, 1)] {
                        for multiplier in [1, 2] {
                            let x = random([2, h, w, 3]), k = random([3, 2, 3, multiplier])
                            guard (try? WindowGeometry(inputShape: x.shape, window: (3, 2), strides: strides, dilation: dilation,
                                                       padding: padding, operation: "test")) != nil else { continue }
                            assertGradients([x, k], "depthwise \(h)x\(w) s\(strides) d\(dilation) m\(multiplier) \(padding)") {
                                depthwiseConv2D($0[0], kernel: $0[1], strides: strides, padding: padding, dilation: dilation)
                            }
                            combinations += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(combinations, 40)
    }

    func testFusedBiasAndActivation() {
        // Values kept away from ReLU's kink and ReLU6's clip points, where finite differences lie.
        func awayFromKinks(_ shape: [Int]) -> Tensor {
            random(shape).map { v in (abs(v) < 0.1 ? v + 0.3 : v) * 4 }.map { v in abs(v - 6) < 0.2 ? v + 0.5 : v }
        }
        for activation in [FusedActivation.linear, .relu, .relu6, .sigmoid] {
            let x = awayFromKinks([3, 2, 5]), b = random([5]) * 0.01
            assertGradients([x, b], "biasActivation \(activation)") { biasActivation($0[0], bias: $0[1], activation: activation) }
            assertGradients([x], "biasActivation \(activation) without bias") { biasActivation($0[0], bias: nil, activation: activation) }
            let image = random([2, 5, 4, 2]), k = random([3, 3, 2, 3]), cb = random([3]) * 0.01
            assertGradients([image, k, cb], "conv2D + bias + \(activation)") {
                conv2D($0[0], kernel: $0[1], strides: (2, 1), padding: .same, bias: $0[2], activation: activation)
            }
            assertGradients([image, random([1, 1, 2, 3]), cb], "pointwise conv2D + bias + \(activation)") {
                conv2D($0[0], kernel: $0[1], bias: $0[2], activation: activation)
            }
        }
    }

    func testConvolutionThenPoolingOnTheTape() {
        // 3 output channels keep the convolution's output for the backward pass; 16 record the
        // pooling windows instead, on the direct kernel (2 input channels) and Winograd (16).
        for (cin, cout) in [(2, 3), (2, 16), (16, 16)] {
            for activation in [FusedActivation.linear, .relu, .relu6, .sigmoid] {
                for (poolSize, poolPadding) in [((2, 2), Padding.same), ((3, 3), .valid)] {
                    let image = random([2, 5, 6, cin]) * 3, k = random([3, 3, cin, cout]), cb = random([cout]) * 0.01
                    if cin == 2 {
                        assertGradients([image, k, cb], "conv2DMaxPool \(cout) \(activation) pool \(poolSize) \(poolPadding)") {
                            conv2DMaxPool($0[0], kernel: $0[1], padding: .same, bias: $0[2], activation: activation, poolSize: poolSize,
                                          poolStrides: (2, 2), poolPadding: poolPadding)
                        }
                    }
                    // The same values and gradients as the two operations on the tape.
                    let tape = GradientTape(persistent: true)
                    let (x, kernel, bias) = (tape.watch(image), tape.watch(k), tape.watch(cb))
                    let fused = conv2DMaxPool(x, kernel: kernel, padding: .same, bias: bias, activation: activation, poolSize: poolSize,
                                              poolStrides: (2, 2), poolPadding: poolPadding)
                    let separate = maxPool2D(conv2D(x, kernel: kernel, padding: .same, bias: bias, activation: activation), poolSize: poolSize,
                                             strides: (2, 2), padding: poolPadding)
                    XCTAssertEqual(fused.value, separate.value)
                    let weights = random(fused.shape)
                    let a = tape.gradient(of: fused, wrt: [x, kernel, bias], outputGradient: weights)
                    let b = tape.gradient(of: separate, wrt: [x, kernel, bias], outputGradient: weights)
                    for (i, (ga, gb)) in zip(a, b).enumerated() {
                        XCTAssertEqual(zip(ga.scalars, gb.scalars).map { abs($0 - $1) }.max() ?? 0, 0, accuracy: 1e-5,
                                       "gradient \(i), \(cin) -> \(cout), \(activation)")
                    }
                }
            }
        }
    }

    func testFusedForwardEqualsTheComposedOperations() {
        let x = random([2, 6, 6, 3]), k = random([3, 3, 3, 4]), b = random([4])
        let z = conv2D(x, kernel: k, padding: .same) + b
        let cases: [(FusedActivation, Tensor)] = [(.linear, z), (.relu, z.relu()), (.relu6, z.relu6()), (.sigmoid, z.sigmoid())]
        for (activation, expected) in cases {
            let fused = conv2D(x, kernel: k, padding: .same, bias: b, activation: activation)
            XCTAssertEqual(fused, expected, "conv2D \(activation)")
            XCTAssertEqual(z.biasActivation(bias: nil, activation: activation), expected, "biasActivation \(activation)")
        }
    }

    func testBatchNormalizationWithBatchAndMovingStatistics() {
        let gamma = random([3], 0.5, 1.5), beta = random([3])
        // Batch statistics: the moments are recomputed from the perturbed input on every evaluation.
        assertGradients([random([2, 3, 2, 3], -2, 3), gamma, beta], "batchNormalization, batch statistics") { p in
            let (mean, variance) = batchMoments(p[0].value)
            return batchNormalization(p[0], gamma: p[1], beta: p[2], mean: mean, variance: variance, epsilon: 1e-3, batchStatistics: true)
                .square()  // a plain sum of normalized values has zero gradient with respect to x
        }
        let mean = random([3]), variance = random([3], 0.5, 2)
        assertGradients([random([4, 3]), gamma, beta], "batchNormalization, moving statistics") { p in
            batchNormalization(p[0], gamma: p[1], beta: p[2], mean: mean, variance: variance, epsilon: 1e-3, batchStatistics: false).square()
        }
    }

    func testBatchMomentsAndNormalizationEqualTheComposedOperations() {
        let x = random([3, 5, 4, 6], -3, 7) + 100, gamma = random([6]), beta = random([6])
        let (mean, variance) = batchMoments(x)
        let expectedMean = x.mean(alongAxes: [0, 1, 2])
        let expectedVariance = (x - expectedMean).square().mean(alongAxes: [0, 1, 2])
        for c in 0..<6 {
            XCTAssertEqual(mean[c], expectedMean[c], accuracy: 1e-5)
            XCTAssertEqual(variance[c], expectedVariance[c], accuracy: 1e-4 * expectedVariance[c])
        }
        let y = batchNormalization(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: 1e-3)
        let composed = (x - mean) * (gamma / (variance + 1e-3).sqrt()) + beta
        XCTAssertEqual(y, composed)
    }

    func testWinogradConvolutionGradients() {
        // 16 channels take the Winograd path in all three passes.
        for padding in Padding.allCases {
            assertGradients([random([1, 3, 4, 16]), random([3, 3, 16, 16]) * 0.2], "Winograd conv2D \(padding)") {
                conv2D($0[0], kernel: $0[1], padding: padding, bias: nil, activation: .sigmoid)
            }
        }
    }

    func testConvolutionInputGradientIsSkippedForConstants() {
        let tape = GradientTape()
        let image = Traced(random([1, 4, 4, 2]))
        let k = tape.watch(random([3, 3, 2, 2]))
        let y = conv2D(image, kernel: k, padding: .same).sum()
        XCTAssertEqual(tape.gradient(of: y, wrt: [k])[0].shape, [3, 3, 2, 2])
    }

    func testPooling() {
        for padding in Padding.allCases {
            for (h, w) in [(6, 6), (5, 7)] {
                for (pool, strides) in [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 2), (1, 1))] {
                    let x = random([2, h, w, 3])
                    let tag = "\(h)x\(w) pool \(pool) strides \(strides) \(padding)"
                    assertGradients([x], "maxPool2D " + tag) { maxPool2D($0[0], poolSize: pool, strides: strides, padding: padding) }
                    assertGradients([x], "avgPool2D " + tag) { avgPool2D($0[0], poolSize: pool, strides: strides, padding: padding) }
                }
            }
        }
        assertGradients([random([2, 3, 5, 4])], "globalAvgPool2D") { globalAvgPool2D($0[0]) }
    }

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
