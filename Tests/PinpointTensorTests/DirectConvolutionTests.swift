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
/// channels take the 4-wide vector code after the 16-wide.
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

/// The kernel gradient that routes the pooled gradient itself (a first layer before 2x2 max
/// pooling) against routing with `maxPool2DBackprop` first, bit for bit: ReLU's zeros make ties
/// in many windows, where only the first cell may take the gradient.
final class RoutedKernelGradientTests: XCTestCase {
    func testRoutingInsideTheKernelGradientEqualsRoutingFirst() {
        var rng = SeededGenerator(seed: 13)
        for (height, width, outChannels, stride) in [(8, 8, 32, 1), (6, 10, 16, 1), (12, 8, 48, 2), (7, 9, 32, 1)] {
            let x = Tensor.uniform([2, height, width, 3], low: -1, high: 1, using: &rng)
            let k = Tensor.uniform([3, 3, 3, outChannels], low: -1, high: 1, using: &rng)
            let y = conv2D(x, kernel: k, strides: (stride, stride), padding: .same, activation: .relu)
            let pooled = maxPool2D(y, padding: .same)
            let gz = Tensor.uniform(pooled.shape, low: -1, high: 1, using: &rng)
            let routedInside = conv2DMaxPoolBackpropKernel(x, convolutionOutput: y, pooled: pooled, pooledGradient: gz, kernelShape: k.shape,
                                                           strides: (stride, stride), padding: .same, poolPadding: .same)
            let dz = maxPool2DBackprop(gz, input: y, output: pooled, padding: .same)
            let routedFirst = conv2DBackpropKernel(x, outputGradient: dz, kernelShape: k.shape, strides: (stride, stride), padding: .same)
            XCTAssertEqual(routedInside.scalars, routedFirst.scalars, "\(height)x\(width) -> \(outChannels), stride \(stride)")
        }
    }
}
