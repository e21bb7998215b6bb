import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// depthwiseConv2D against TensorFlow's values and central differences.
final class DepthwiseConvolutionTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

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
}

/// The depthwise kernels of every kernel set this CPU runs against float64 and the scalar loop.
final class DepthwiseConvolutionKernelSetTests: XCTestCase, KernelSetTesting {
    func testTheDepthwiseGatherSumsAsTheScalarScatterDoes() {
        var rng = SeededGenerator(seed: 20)
        // Two output rows seeing one input row; stride 2, window 3, one column of padding: the
        // first and last taps fall off the edges, and input column 7 gets no output pixel's tap
        // at all (it stays zero). Then stride 1 and dilation 2.
        for (window, width, stride, padBefore, dilation, inputWidth) in [(3, 4, 2, 1, 1, 8), (3, 5, 1, 1, 2, 5)] {
            let channels = 32
            let dy = (0..<2).map { _ in random(width * channels, &rng) }, taps = (0..<2).map { _ in random(window * channels, &rng) }
            var expected = [Float](repeating: 0, count: inputWidth * channels)
            for r in 0..<2 {
                for kw in 0..<window {
                    for ow in 0..<width {
                        let iw = ow * stride - padBefore + kw * dilation
                        guard iw >= 0 && iw < inputWidth else { continue }
                        for ch in 0..<channels { expected[iw * channels + ch] += dy[r][ow * channels + ch] * taps[r][kw * channels + ch] }
                    }
                }
            }
            forEachSupportedSet { set, table in
                var dx = [Float](repeating: .nan, count: inputWidth * channels)
                dy[0].withUnsafeBufferPointer { dy0 in dy[1].withUnsafeBufferPointer { dy1 in
                    taps[0].withUnsafeBufferPointer { t0 in taps[1].withUnsafeBufferPointer { t1 in
                        let dyRows = [dy0.baseAddress!, dy1.baseAddress!]
                        let tapRows = [t0.baseAddress!, t1.baseAddress!]
                        table.depthwise_gather_row(dyRows, tapRows, 2, Int32(window), Int32(stride), Int32(padBefore), Int32(dilation),
                                                   Int32(width), Int32(inputWidth), Int32(channels), &dx)
                    } }
                } }
                XCTAssertEqual(dx.map(\.bitPattern), expected.map(\.bitPattern), "\(set) stride \(stride) dilation \(dilation)")
            }
        }
    }

    func testDepthwiseRowsAndTheirKernelGradientMatchFloat64() {
        var rng = SeededGenerator(seed: 16)
        let c = 32, count = 5
        for (stride, kernelRows) in [(1, 3), (2, 3), (1, 2)] {
            let step = stride * c, rowStride = ((count - 1) * stride + 3) * c
            let x = random(kernelRows * rowStride, &rng), taps = random(kernelRows * 3 * c, &rng)
            let dy = random(count * c, &rng), start = random(kernelRows * 3 * c, &rng)
            forEachSupportedSet { set, table in
                var out = [Float](repeating: .nan, count: count * c)
                table.depthwise3x3_row(x, rowStride, step, Int32(c), taps, Int32(kernelRows), Int32(count), &out)
                var dk = start
                table.depthwise3x3_kernel_gradient_row(x, rowStride, step, Int32(c), dy, Int32(kernelRows), Int32(count), &dk)
                // The streaming forms (pixel by pixel in address order) give the same values, bit for bit.
                var streamed = [Float](repeating: .nan, count: count * c), streamedDk = start
                table.depthwise3x3_row_streaming(x, rowStride, step, Int32(c), taps, Int32(kernelRows), Int32(count), &streamed)
                table.depthwise3x3_kernel_gradient_row_streaming(x, rowStride, step, Int32(c), dy, Int32(kernelRows), Int32(count),
                                                                 &streamedDk)
                XCTAssertEqual(streamed.map(\.bitPattern), out.map(\.bitPattern), "\(set) stride \(stride) rows \(kernelRows) streaming")
                XCTAssertEqual(streamedDk.map(\.bitPattern), dk.map(\.bitPattern), "\(set) stride \(stride) rows \(kernelRows) streaming dk")
                for ch in 0..<c {
                    for i in 0..<count {
                        var sum = 0.0
                        for kh in 0..<kernelRows {
                            for kw in 0..<3 { sum += Double(x[kh * rowStride + i * step + kw * c + ch]) * Double(taps[(kh * 3 + kw) * c + ch]) }
                        }
                        XCTAssertEqual(Double(out[i * c + ch]), sum, accuracy: 1e-5, "\(set) stride \(stride) rows \(kernelRows) pixel \(i)")
                    }
                    for t in 0..<(kernelRows * 3) {
                        let (kh, kw) = (t / 3, t % 3)
                        var sum = Double(start[t * c + ch])
                        for i in 0..<count { sum += Double(x[kh * rowStride + i * step + kw * c + ch]) * Double(dy[i * c + ch]) }
                        XCTAssertEqual(Double(dk[t * c + ch]), sum, accuracy: 1e-5, "\(set) stride \(stride) rows \(kernelRows) tap \(t)")
                    }
                }
            }
        }
    }
}

/// The depthwise forward kernel's SIMD path (multiplier 1, channels in multiples of 16) and both
/// gradients at those channel counts, against a direct float64 loop, for every padding, stride
/// and dilation, and odd sizes.
final class DepthwiseTests: XCTestCase {
    func testTheVectorPathMatchesADirectLoop() throws {
        var rng = SeededGenerator(seed: 11)
        var cases = 0
        for (height, width) in [(7, 7), (6, 9), (2, 3)] {
            for padding in Padding.allCases {
                for stride in [1, 2] {
                    for dilation in [1, 2] where stride == 1 || dilation == 1 {
                        let x = Tensor.uniform([2, height, width, 32], low: -1, high: 1, using: &rng)
                        let k = Tensor.uniform([3, 3, 32, 1], low: -1, high: 1, using: &rng)
                        guard let g = try? WindowGeometry(inputShape: x.shape, window: (3, 3), strides: (stride, stride),
                                                          dilation: (dilation, dilation), padding: padding, operation: "test") else { continue }
                        let y = depthwiseConv2D(x, kernel: k, strides: (stride, stride), padding: padding, dilation: (dilation, dilation))
                        XCTAssertEqual(y.shape, g.outputShape(channels: 32))
                        let xs = x.scalars, ks = k.scalars, ys = y.scalars
                        var worst = 0.0
                        for n in 0..<2 { for oh in 0..<g.height.output { for ow in 0..<g.width.output { for c in 0..<32 {
                            var sum = 0.0
                            for kh in 0..<3 { for kw in 0..<3 {
                                let ih = g.height.start(oh) + kh * dilation, iw = g.width.start(ow) + kw * dilation
                                guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                sum += Double(xs[((n * height + ih) * width + iw) * 32 + c]) * Double(ks[(kh * 3 + kw) * 32 + c])
                            } }
                            let index = ((n * g.height.output + oh) * g.width.output + ow) * 32 + c
                            worst = max(worst, abs(Double(ys[index]) - sum))
                        } } } }
                        XCTAssertLessThan(worst, 1e-5, "\(height)x\(width) \(padding) stride \(stride) dilation \(dilation)")
                        // Both gradients, against the same loop run backwards.
                        let dy = Tensor.uniform(y.shape, low: -1, high: 1, using: &rng)
                        let dys = dy.scalars
                        var dx = [Double](repeating: 0, count: x.count), dk = [Double](repeating: 0, count: k.count)
                        for n in 0..<2 { for oh in 0..<g.height.output { for ow in 0..<g.width.output { for c in 0..<32 {
                            for kh in 0..<3 { for kw in 0..<3 {
                                let ih = g.height.start(oh) + kh * dilation, iw = g.width.start(ow) + kw * dilation
                                guard ih >= 0, ih < height, iw >= 0, iw < width else { continue }
                                let xi = ((n * height + ih) * width + iw) * 32 + c, ki = (kh * 3 + kw) * 32 + c
                                let d = Double(dys[((n * g.height.output + oh) * g.width.output + ow) * 32 + c])
                                dx[xi] += d * Double(ks[ki])
                                dk[ki] += d * Double(xs[xi])
                            } }
                        } } } }
                        let strides = (stride, stride), dilations = (dilation, dilation)
                        let dxActual = depthwiseConv2DBackpropInput(dy, kernel: k, inputShape: x.shape, strides: strides, padding: padding,
                                                                    dilation: dilations).scalars
                        let dkActual = depthwiseConv2DBackpropKernel(x, outputGradient: dy, kernelShape: k.shape, strides: strides,
                                                                     padding: padding, dilation: dilations).scalars
                        XCTAssertLessThan(zip(dxActual, dx).map { abs(Double($0) - $1) }.max() ?? 0, 1e-5, "input gradient")
                        XCTAssertLessThan(zip(dkActual, dk).map { abs(Double($0) - $1) }.max() ?? 0, 1e-4, "kernel gradient")
                        cases += 1
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(cases, 14)
    }
}

/// The fused inverted-residual kernel against the same convolutions run one by one, with and
/// without expansion, at both strides, with the residual, on odd sizes, in one band per image and
/// in many (a band budget of a few rows, so halos and the last short band are exercised).
final class InvertedResidualTests: XCTestCase {
    func testTheFusedBlockEqualsItsLayersRunOneByOne() throws {
        var rng = SeededGenerator(seed: 5)
        func folded(_ shape: [Int]) -> FoldedConvolution {
            FoldedConvolution(kernel: Tensor.uniform(shape, low: -0.5, high: 0.5, using: &rng),
                              bias: Tensor.uniform([shape[3] == 1 ? shape[2] : shape[3]], low: -0.5, high: 0.5, using: &rng))
        }
        var cases = 0
        for (height, width) in [(7, 9), (8, 8), (1, 5)] {
            for (inChannels, expansion) in [(16, 1), (8, 4)] {
                for stride in [1, 2] {
                    for outChannels in [inChannels, 24] where stride == 1 || outChannels != inChannels {
                        for bandBytes in [1 << 20, 2 * width * inChannels * expansion * 4] {
                            let x = Tensor.uniform([3, height, width, inChannels], low: -1, high: 1, using: &rng)
                            let expanded = inChannels * expansion
                            let expand = expansion == 1 ? nil : folded([1, 1, inChannels, expanded])
                            let depthwise = folded([3, 3, expanded, 1]), project = folded([1, 1, expanded, outChannels])
                            let residual = stride == 1 && outChannels == inChannels
                            let y = try XCTUnwrap(fusedInvertedResidual(x, expand: expand, depthwise: depthwise, strides: (stride, stride),
                                                                        project: project, residual: residual, bandBytes: bandBytes))
                            var e = x
                            if let expand { e = conv2D(x, kernel: expand.kernel, padding: .same, bias: expand.bias, activation: .relu6) }
                            let d = depthwiseConv2D(e, kernel: depthwise.kernel, strides: (stride, stride), padding: .same,
                                                    bias: depthwise.bias, activation: .relu6)
                            var expected = conv2D(d, kernel: project.kernel, padding: .same, bias: project.bias)
                            if residual { expected = expected + x }
                            XCTAssertEqual(y.shape, expected.shape)
                            let worst = zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
                            XCTAssertLessThan(worst, 1e-4, "\(height)x\(width), \(inChannels)x\(expansion) -> \(outChannels), stride \(stride), band \(bandBytes)")
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertEqual(cases, 36)
    }

    func testShapesTheKernelDoesNotCoverAreDeclined() {
        let x = Tensor.zeros([1, 4, 4, 8])
        let depthwise = FoldedConvolution(kernel: .zeros([3, 3, 8, 1]), bias: .zeros([8]))
        let project = FoldedConvolution(kernel: .zeros([1, 1, 8, 8]), bias: .zeros([8]))
        XCTAssertNil(fusedInvertedResidual(x, expand: nil, depthwise: depthwise, strides: (1, 1), project: project, residual: true),
                     "8 channels: not a multiple of 16")
        let wide = FoldedConvolution(kernel: .zeros([3, 3, 16, 2]), bias: .zeros([32]))
        XCTAssertNil(fusedInvertedResidual(.zeros([1, 4, 4, 16]), expand: nil, depthwise: wide, strides: (1, 1),
                                           project: FoldedConvolution(kernel: .zeros([1, 1, 32, 16]), bias: .zeros([16])), residual: false),
                     "depth multiplier 2")
    }
}
