import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// Fused bias and activation, and softmax, against TensorFlow's values, their composed definitions and central differences.
final class ActivationTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

    func testSoftmaxFamilyForwardMatchesTensorFlow() {
        // Softmax lives on Traced (it is an activation); its forward value is checked in the
        // autograd tests against these same cases. Here: the fixture is present and sane.
        let c = fixtures.cases("softmax")[0]
        let rows = c.output.tensor.sum(alongAxes: [-1])
        XCTAssertTrue(rows.isClose(to: Tensor.ones(rows.shape), relativeTolerance: 1e-5))
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
}

/// The bias and activation kernels of every kernel set this CPU runs against their definitions.
final class ActivationKernelSetTests: XCTestCase, KernelSetTesting {
    func testActivationGradientsAndBiasSumsMatchTheirDefinitions() {
        var rng = SeededGenerator(seed: 17)
        let rows = 5, channels = 24
        // Outputs of each activation, with exact zeros and sixes where the derivative switches.
        let y = random(rows * channels, &rng).map { $0 * 4 + 2 }.enumerated().map { $0.offset % 7 == 0 ? 0 : $0.offset % 11 == 0 ? 6 : $0.element }
        let dy = random(rows * channels, &rng)
        let derivatives: [(pp_activation, (Float, Float) -> Float)] = [
            (PP_ACTIVATION_LINEAR, { g, _ in g }), (PP_ACTIVATION_RELU, { g, y in y > 0 ? g : 0 }),
            (PP_ACTIVATION_RELU6, { g, y in y > 0 && y < 6 ? g : 0 }),
        ]
        forEachSupportedSet { set, table in
            for (activation, derivative) in derivatives {
                let expected = zip(dy, y).map { derivative($0, $1) }
                var out = [Float](repeating: .nan, count: rows * channels), sums = [Double](repeating: 0.5, count: channels)
                table.activation_gradient_rows(dy, y, rows, Int32(channels), activation, &out, &sums)
                XCTAssertEqual(out, expected, "\(set) activation \(activation.rawValue)")
                for c in 0..<channels {
                    var sum = 0.5
                    for r in 0..<rows { sum += Double(expected[r * channels + c]) }
                    XCTAssertEqual(sums[c], sum, "\(set) activation \(activation.rawValue) channel \(c)")
                }
            }
            // Without an output the sums are dy's own.
            var sums = [Double](repeating: 0, count: channels)
            table.activation_gradient_rows(dy, y, rows, Int32(channels), PP_ACTIVATION_LINEAR, nil, &sums)
            for c in 0..<channels {
                XCTAssertEqual(sums[c], (0..<rows).reduce(0.0) { $0 + Double(dy[$1 * channels + c]) }, "\(set) channel \(c)")
            }
        }
    }

    func testBiasAndActivationFollowSwiftsMaxAndMin() {
        let values: [Float] = [-2, -0.0, 0, 0.5, 3, 6, 7.5, .nan, -.infinity, .infinity, 1e-30, -1e-30, 5.999, 6.001, 2, -3]
        let bias: [Float] = (0..<values.count).map { Float($0 % 5) - 2 }
        let reference: [(pp_activation, (Float) -> Float)] = [
            (PP_ACTIVATION_LINEAR, { $0 }), (PP_ACTIVATION_RELU, { Swift.max($0, 0) }), (PP_ACTIVATION_RELU6, { Swift.min(Swift.max($0, 0), 6) }),
        ]
        forEachSupportedSet { set, table in
            for (activation, f) in reference {
                for withBias in [false, true] {
                    var p = values + values  // two rows
                    bias.withUnsafeBufferPointer { b in
                        table.bias_activation_rows(&p, 2, Int32(values.count), withBias ? b.baseAddress : nil, activation)
                    }
                    for (i, got) in p.enumerated() {
                        let v = values[i % values.count], expected = f(withBias ? v + bias[i % values.count] : v)
                        XCTAssertTrue(got.bitPattern == expected.bitPattern || (got.isNaN && expected.isNaN),
                                      "\(set) activation \(activation.rawValue) bias \(withBias): \(v) -> \(got), expected \(expected)")
                    }
                }
            }
        }
    }
}
