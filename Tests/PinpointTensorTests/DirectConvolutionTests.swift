@testable import PinpointTensor
import XCTest

/// The direct convolution kernel (few inputs per output: an image model's first layer) and its
/// kernel gradient against a float64 loop, for both paddings, strides 1 and 2, odd sizes, rows whose last pixels do not
/// fill a group of four, and output channels that end in a 16-wide block.
final class DirectConvolutionTests: XCTestCase {
    func testTheDirectKernelMatchesAFloat64Loop() throws {
        var rng = SeededGenerator(seed: 3)
        var cases = 0
        for (height, width) in [(7, 10), (5, 3), (1, 6)] {
            for (window, inChannels) in [((3, 3), 3), ((5, 5), 1), ((1, 3), 8)] {
                for outChannels in [16, 48] {
                    for padding in Padding.allCases {
                        for stride in [1, 2] {
                            guard let g = try? Conv2DGeometry(inputShape: [2, height, width, inChannels],
                                                              kernelShape: [window.0, window.1, inChannels, outChannels],
                                                              strides: (stride, stride), padding: padding, dilation: (1, 1)) else { continue }
                            XCTAssertTrue(usesDirectConvolution(g))
                            let x = Tensor.uniform([2, height, width, inChannels], low: -1, high: 1, using: &rng)
                            let k = Tensor.uniform(g.kernelShape, low: -1, high: 1, using: &rng)
                            let b = Tensor.uniform([outChannels], low: -1, high: 1, using: &rng)
                            let y = conv2D(x, kernel: k, strides: (stride, stride), padding: padding, bias: b, activation: .relu)
                            XCTAssertEqual(y.shape, g.outputShape)
                            let (xs, ks, bs, ys) = (x.scalars, k.scalars, b.scalars, y.scalars)
                            let h = g.window.height, w = g.window.width
                            var worst = 0.0
                            for n in 0..<2 { for oh in 0..<h.output { for ow in 0..<w.output { for co in 0..<outChannels {
                                var sum = Double(bs[co])
                                for kh in 0..<window.0 { for kw in 0..<window.1 {
                                    let ih = h.start(oh) + kh, iw = w.start(ow) + kw
                                    guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                    for ci in 0..<inChannels {
                                        sum += Double(xs[((n * height + ih) * width + iw) * inChannels + ci])
                                            * Double(ks[((kh * window.1 + kw) * inChannels + ci) * outChannels + co])
                                    }
                                } }
                                let index = ((n * h.output + oh) * w.output + ow) * outChannels + co
                                worst = max(worst, abs(Double(ys[index]) - max(sum, 0)))
                            } } } }
                            XCTAssertLessThan(worst, 1e-5, "\(height)x\(width), window \(window), \(inChannels) -> \(outChannels), \(padding), stride \(stride)")
                            // The kernel gradient (direct for 3x3 on 3 channels), against the same loop.
                            XCTAssertEqual(usesDirectKernelGradient(g), window == (3, 3) && inChannels == 3)
                            let dy = Tensor.uniform(g.outputShape, low: -1, high: 1, using: &rng)
                            let dk = conv2DBackpropKernel(x, outputGradient: dy, kernelShape: g.kernelShape, strides: (stride, stride),
                                                          padding: padding).scalars
                            var expectedDK = [Double](repeating: 0, count: k.count)
                            let dys = dy.scalars
                            for n in 0..<2 { for oh in 0..<h.output { for ow in 0..<w.output { for co in 0..<outChannels {
                                let d = Double(dys[((n * h.output + oh) * w.output + ow) * outChannels + co])
                                for kh in 0..<window.0 { for kw in 0..<window.1 {
                                    let ih = h.start(oh) + kh, iw = w.start(ow) + kw
                                    guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                    for ci in 0..<inChannels {
                                        expectedDK[((kh * window.1 + kw) * inChannels + ci) * outChannels + co]
                                            += d * Double(xs[((n * height + ih) * width + iw) * inChannels + ci])
                                    }
                                } }
                            } } } }
                            XCTAssertLessThan(zip(dk, expectedDK).map { abs(Double($0) - $1) }.max() ?? 0, 1e-4, "kernel gradient")
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(cases, 60)
    }

    func testWiderLayersAndDilationTakeIm2col() throws {
        func geometry(_ kernel: [Int], dilation: Int = 1) throws -> Conv2DGeometry {
            try Conv2DGeometry(inputShape: [1, 9, 9, kernel[2]], kernelShape: kernel, strides: (1, 1), padding: .same,
                               dilation: (dilation, dilation))
        }
        XCTAssertFalse(usesDirectConvolution(try geometry([3, 3, 16, 32])), "144 inputs per output")
        XCTAssertFalse(usesDirectConvolution(try geometry([3, 3, 3, 24])), "24 output channels")
        XCTAssertFalse(usesDirectConvolution(try geometry([3, 3, 3, 32], dilation: 2)), "dilated")
        XCTAssertFalse(usesDirectConvolution(try geometry([1, 1, 3, 32])), "pointwise")
    }
}

/// `conv2DMaxPool` against the two operations run one after the other: on the direct path
/// (pooling inside the kernel), on the Winograd path (pooling each output tile, then the
/// activation) and, for 3x3 pooling or a sigmoid there, the plain sequence. Bit for bit. 30x22
/// makes several Winograd blocks, one of them crossing from one image to the next; 24 output
/// channels keep the two operations.
final class ConvolutionPoolingTests: XCTestCase {
    func testConvolutionThenPoolingEqualsTheTwoOperations() throws {
        var rng = SeededGenerator(seed: 9)
        var cases = 0
        for (inChannels, outChannels) in [(3, 32), (3, 48), (16, 32), (16, 24)] {
            for (height, width) in [(8, 8), (7, 9), (30, 22)] {
                for poolPadding in Padding.allCases {
                    for (poolSize, poolStrides) in [((2, 2), (2, 2)), ((3, 3), (2, 2))] { for activation in [FusedActivation.relu, .sigmoid] {
                        let x = Tensor.uniform([3, height, width, inChannels], low: -1, high: 1, using: &rng)
                        let k = Tensor.uniform([3, 3, inChannels, outChannels], low: -1, high: 1, using: &rng)
                        let b = Tensor.uniform([outChannels], low: -1, high: 1, using: &rng)
                        let fused = conv2DMaxPool(x, kernel: k, padding: .same, bias: b, activation: activation, poolSize: poolSize,
                                                  poolStrides: poolStrides, poolPadding: poolPadding)
                        let separate = maxPool2D(conv2D(x, kernel: k, padding: .same, bias: b, activation: activation), poolSize: poolSize,
                                                 strides: poolStrides, padding: poolPadding)
                        XCTAssertEqual(fused.shape, separate.shape)
                        XCTAssertEqual(fused.scalars, separate.scalars, "\(inChannels) -> \(outChannels), \(height)x\(width), pool \(poolSize) \(poolPadding), \(activation)")
                        cases += 1
                    } }
                }
            }
        }
        XCTAssertEqual(cases, 96)
    }
}

/// The training form of `conv2DMaxPool`, which records each pooling window's maximum cell,
/// against the two operations and `maxPool2DBackprop` finding the maxima in the convolution's
/// output, bit for bit: on the direct path (whose kernel gradient routes the pooled gradient
/// itself) and the Winograd path (whose gradients route it tile by tile), odd and even sizes,
/// both pool paddings. ReLU's zeros make ties
/// in many windows, where only the first cell may take the gradient.
final class RecordedWindowsTests: XCTestCase {
    func testRecordedWindowsRouteAsTheConvolutionOutputDoes() throws {
        var rng = SeededGenerator(seed: 13)
        var cases = 0
        for (inChannels, outChannels, stride) in [(3, 32, 1), (3, 16, 1), (3, 48, 2), (16, 32, 1), (32, 16, 1)] {
            for (height, width) in [(8, 8), (6, 10), (7, 9), (30, 22)] {
                for poolPadding in Padding.allCases {
                    let tag = "\(inChannels) -> \(outChannels), stride \(stride), \(height)x\(width), pool \(poolPadding)"
                    let x = Tensor.uniform([2, height, width, inChannels], low: -1, high: 1, using: &rng)
                    let k = Tensor.uniform([3, 3, inChannels, outChannels], low: -1, high: 1, using: &rng)
                    let b = Tensor.uniform([outChannels], low: -0.5, high: 0.5, using: &rng)
                    let strides = (stride, stride)
                    let y = conv2D(x, kernel: k, strides: strides, padding: .same, bias: b, activation: .relu)
                    let pooled = maxPool2D(y, padding: poolPadding)
                    let recorded = try XCTUnwrap(conv2DMaxPool(recordingWindows: x, kernel: k, strides: strides, padding: .same, bias: b,
                                                               activation: .relu, poolPadding: poolPadding), tag)
                    XCTAssertEqual(recorded.pooled.shape, pooled.shape, tag)
                    XCTAssertEqual(recorded.pooled.scalars, pooled.scalars, "pooled " + tag)
                    let gz = Tensor.uniform(pooled.shape, low: -1, high: 1, using: &rng)
                    let dz = maxPool2DBackprop(gz, input: y, output: pooled, padding: poolPadding)
                    XCTAssertEqual(maxPool2DBackprop(gz, windows: recorded.windows).scalars, dz.scalars, "routed " + tag)
                    let expected = conv2DBackpropKernel(x, outputGradient: dz, kernelShape: k.shape, strides: strides, padding: .same)
                    let routedInside = conv2DMaxPoolBackpropKernel(x, windows: recorded.windows, pooledGradient: gz, kernelShape: k.shape,
                                                                   strides: strides, padding: .same)
                    XCTAssertEqual(routedInside.scalars, expected.scalars, "kernel gradient " + tag)
                    let inputGradient = conv2DMaxPoolBackpropInput(windows: recorded.windows, pooledGradient: gz, kernel: k, inputShape: x.shape,
                                                                   strides: strides, padding: .same)
                    XCTAssertEqual(inputGradient.scalars, conv2DBackpropInput(dz, kernel: k, inputShape: x.shape, strides: strides, padding: .same).scalars,
                                   "input gradient " + tag)
                    cases += 1
                }
            }
        }
        XCTAssertEqual(cases, 40)
        // 3x3 pooling, or output channels not a multiple of 16, keep the two operations.
        let x = Tensor.uniform([1, 8, 8, 16], low: -1, high: 1, using: &rng)
        XCTAssertNil(conv2DMaxPool(recordingWindows: x, kernel: Tensor.uniform([3, 3, 16, 20], low: -1, high: 1, using: &rng), padding: .same))
        XCTAssertNil(conv2DMaxPool(recordingWindows: x, kernel: Tensor.uniform([1, 1, 16, 32], low: -1, high: 1, using: &rng)))
    }
}
