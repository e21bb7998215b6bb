import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// conv2D and conv2DMaxPool against TensorFlow's values and central differences.
final class ConvolutionTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

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
}

/// The convolution kernels of every kernel set this CPU runs against float64 (direct rows, Winograd tiles).
final class ConvolutionKernelSetTests: XCTestCase, KernelSetTesting {
    func testTheDirectConvolutionRowAndItsKernelGradientMatchFloat64() {
        var rng = SeededGenerator(seed: 12)
        // A 3x3 window over 3 channels at stride 1: nine inputs per kernel row, seven pixels (a
        // group of four, then three one by one), 48 channels (a 32-wide block, then 16).
        let kernelRows = 3, span = 9, step = 3, width = 7, cout = 48
        let rowLength = (width - 1) * step + span
        let padded = random(kernelRows * rowLength, &rng), kernel = random(kernelRows * span * cout, &rng)
        let dy = random(width * cout, &rng), start = random(9 * cout, &rng)
        forEachSupportedSet { set, table in
            var out = [Float](repeating: .nan, count: width * cout)
            table.direct_conv_row(padded, rowLength, Int32(kernelRows), Int32(span), Int32(step), kernel, Int32(cout), Int32(width), &out)
            for p in 0..<width {
                for o in 0..<cout {
                    var sum = 0.0
                    for r in 0..<kernelRows {
                        for j in 0..<span { sum += Double(padded[r * rowLength + p * step + j]) * Double(kernel[(r * span + j) * cout + o]) }
                    }
                    XCTAssertEqual(Double(out[p * cout + o]), sum, accuracy: 1e-5, "\(set) pixel \(p) channel \(o)")
                }
            }
            var acc = start
            table.direct_kernel_gradient_row9(padded, Int32(step), dy, Int32(cout), Int32(width), &acc)
            for t in 0..<9 {
                for o in 0..<cout {
                    var sum = Double(start[t * cout + o])
                    for p in 0..<width { sum += Double(padded[p * step + t]) * Double(dy[p * cout + o]) }
                    XCTAssertEqual(Double(acc[t * cout + o]), sum, accuracy: 1e-5, "\(set) tap \(t) channel \(o)")
                }
            }
        }
    }

    /// B^T, A^T (Winograd.swift's header) for F(4x4, 3x3).
    private let bT: [[Double]] = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    private let aT: [[Double]] = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]

    /// L X R for small dense matrices.
    private func product(_ l: [[Double]], _ x: [[Double]], _ r: [[Double]]) -> [[Double]] {
        func mul(_ p: [[Double]], _ q: [[Double]]) -> [[Double]] {
            p.map { row in (0..<q[0].count).map { j in zip(row, q).reduce(0) { $0 + $1.0 * $1.1[j] } } }
        }
        return mul(mul(l, x), r)
    }
    private func transposed(_ m: [[Double]]) -> [[Double]] { (0..<m[0].count).map { j in m.map { $0[j] } } }

    func testTheWinogradTilesMatchTheirMatrices() {
        var rng = SeededGenerator(seed: 14)
        let channels = 20  // a 16-wide group, then a 4-wide one
        let stride = 23    // positions apart, not a multiple of the channel count
        let d = random(36 * channels, &rng), m = random(36 * stride, &rng), dy = random(16 * channels, &rng)
        forEachSupportedSet { set, table in
            var u = [Float](repeating: 0, count: 36 * stride)
            table.winograd_input_tile(d, 6 * channels, Int32(channels), &u, stride)
            var work = m, y = [Float](repeating: .nan, count: 16 * channels)
            table.winograd_output_tile(&work, stride, Int32(channels), &y, 4 * channels, 3, 2)
            var yhat = [Float](repeating: 0, count: 36 * stride)
            table.winograd_output_gradient_tile(dy, 4 * channels, Int32(channels), &yhat, stride)
            for ch in 0..<channels {
                let tile = (0..<6).map { r in (0..<6).map { c in Double(d[(r * 6 + c) * channels + ch]) } }
                let expectedU = product(bT, tile, transposed(bT))
                let mTile = (0..<6).map { r in (0..<6).map { c in Double(m[(r * 6 + c) * stride + ch]) } }
                let expectedY = product(aT, mTile, transposed(aT))
                let dyTile = (0..<4).map { r in (0..<4).map { c in Double(dy[(r * 4 + c) * channels + ch]) } }
                let expectedYhat = product(transposed(aT), dyTile, aT)
                for r in 0..<6 {
                    for c in 0..<6 {
                        XCTAssertEqual(Double(u[(r * 6 + c) * stride + ch]), expectedU[r][c], accuracy: 1e-4, "\(set) U")
                        XCTAssertEqual(Double(yhat[(r * 6 + c) * stride + ch]), expectedYhat[r][c], accuracy: 1e-4, "\(set) Ŷ")
                    }
                }
                for r in 0..<4 {
                    for c in 0..<4 {
                        let got = y[(r * 4 + c) * channels + ch]
                        if r < 3 && c < 2 {
                            XCTAssertEqual(Double(got), expectedY[r][c], accuracy: 1e-4, "\(set) Y (\(r), \(c))")
                        } else {
                            XCTAssertTrue(got.isNaN, "\(set): output (\(r), \(c)) is outside the tile's valid part")
                        }
                    }
                }
            }
            // Pooled: each 2x2 window of the tile's valid outputs, the maximum of the plain transform's values.
            let pooledChannels = 16
            var full = m, plain = [Float](repeating: 0, count: 16 * pooledChannels)
            table.winograd_output_tile(&full, stride, Int32(pooledChannels), &plain, 4 * pooledChannels, 4, 4)
            for (rows, columns) in [(4, 4), (3, 3), (4, 1)] {
                var again = m, pooled = [Float](repeating: .nan, count: 4 * pooledChannels)
                let (pooledRows, pooledColumns) = ((rows + 1) / 2, (columns + 1) / 2)
                table.winograd_pooled_tile(&again, stride, Int32(pooledChannels), &pooled, 2 * pooledChannels, Int32(rows), Int32(columns),
                                           Int32(pooledRows), Int32(pooledColumns))
                for a in 0..<2 {
                    for b in 0..<2 {
                        for ch in 0..<pooledChannels {
                            let got = pooled[(a * 2 + b) * pooledChannels + ch]
                            guard a < pooledRows, b < pooledColumns else { XCTAssertTrue(got.isNaN); continue }
                            var best = -Float.infinity
                            for r in (2 * a)..<min(2 * a + 2, rows) {
                                for c in (2 * b)..<min(2 * b + 2, columns) { best = max(best, plain[(r * 4 + c) * pooledChannels + ch]) }
                            }
                            XCTAssertEqual(got, best, "\(set) pooled window (\(a), \(b)) of a \(rows)x\(columns) tile")
                        }
                    }
                }
            }
        }
    }
}

/// Winograd F(4x4, 3x3) against a direct float64 convolution, for the forward pass and both
/// gradients, on odd and even sizes, both paddings, and channel counts that are and are not
/// multiples of 16. The bar is 1e-5 of the largest output: F(4x4, 3x3)'s larger transform
/// constants reach 5.4e-6 on these cases (F(2x2, 3x3)'s reach 3.2e-7); oneDNN's
/// float32 Winograd convolutions (its `wino_conv_4x3` kernels) use the same tile.
final class WinogradTests: XCTestCase {
    var rng = SeededGenerator(seed: 7)

    /// out[n, oh, ow, o] = sum x[n, oh * s - top + kh, ow * s - left + kw, i] * k[kh, kw, i, o], in Double.
    func direct(_ x: Tensor, _ k: Tensor, top: Int, left: Int, outHeight: Int, outWidth: Int) -> [Double] {
        let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), cout = k.shape[3]
        let xs = x.scalars, ks = k.scalars
        var out = [Double](repeating: 0, count: n * outHeight * outWidth * cout)
        for b in 0..<n { for oh in 0..<outHeight { for ow in 0..<outWidth { for o in 0..<cout {
            var sum = 0.0
            for kh in 0..<3 { for kw in 0..<3 {
                let ih = oh - top + kh, iw = ow - left + kw
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                for i in 0..<cin { sum += Double(xs[((b * h + ih) * w + iw) * cin + i]) * Double(ks[((kh * 3 + kw) * cin + i) * cout + o]) }
            } }
            out[((b * outHeight + oh) * outWidth + ow) * cout + o] = sum
        } } } }
        return out
    }

    func assertClose(_ actual: Tensor, _ expected: [Double], _ what: String) {
        let scale = max(expected.map(abs).max() ?? 0, 1)
        let worst = zip(actual.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst / scale, 1e-5, what)
    }

    func testForwardAndGradientsMatchADirectConvolution() throws {
        var cases = 0
        for (h, w) in [(5, 7), (8, 8), (1, 1), (2, 3), (9, 4)] {
            for (cin, cout) in [(16, 16), (20, 24), (32, 48)] {
                for padding in Padding.allCases {
                    let x = Tensor.uniform([2, h, w, cin], low: -1, high: 1, using: &rng)
                    let k = Tensor.uniform([3, 3, cin, cout], low: -1, high: 1, using: &rng)
                    guard let g = try? Conv2DGeometry(inputShape: x.shape, kernelShape: k.shape, strides: (1, 1), padding: padding,
                                                      dilation: (1, 1)) else { continue }
                    XCTAssertTrue(usesWinograd(g))
                    let tag = "\(h)x\(w) \(cin)->\(cout) \(padding)"
                    let top = g.window.height.padBefore, left = g.window.width.padBefore
                    let (oh, ow) = (g.window.height.output, g.window.width.output)
                    assertClose(conv2D(x, kernel: k, padding: padding), direct(x, k, top: top, left: left, outHeight: oh, outWidth: ow),
                                "forward " + tag)
                    // The input gradient is the output gradient convolved with the rotated, transposed kernel.
                    let dy = Tensor.uniform(g.outputShape, low: -1, high: 1, using: &rng)
                    var rotated = [Float](repeating: 0, count: k.count)
                    let ks = k.scalars
                    for kh in 0..<3 { for kw in 0..<3 { for i in 0..<cin { for o in 0..<cout {
                        rotated[((kh * 3 + kw) * cout + o) * cin + i] = ks[(((2 - kh) * 3 + (2 - kw)) * cin + i) * cout + o]
                    } } } }
                    let expected = direct(dy, Tensor(shape: [3, 3, cout, cin], scalars: rotated), top: 2 - top, left: 2 - left,
                                          outHeight: h, outWidth: w)
                    assertClose(conv2DBackpropInput(dy, kernel: k, inputShape: x.shape, padding: padding), expected, "input gradient " + tag)
                    // Kernel gradient: dk[kh, kw, i, o] = sum x[n, oh - top + kh, ow - left + kw, i] * dy[n, oh, ow, o].
                    var dk = [Double](repeating: 0, count: k.count)
                    let xs = x.scalars, dys = dy.scalars
                    for n in 0..<2 { for y in 0..<oh { for xo in 0..<ow { for kh in 0..<3 { for kw in 0..<3 {
                        let ih = y - top + kh, iw = xo - left + kw
                        guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                        for i in 0..<cin { for o in 0..<cout {
                            dk[((kh * 3 + kw) * cin + i) * cout + o] += Double(xs[((n * h + ih) * w + iw) * cin + i])
                                * Double(dys[((n * oh + y) * ow + xo) * cout + o])
                        } }
                    } } } } }
                    assertClose(conv2DBackpropKernel(x, outputGradient: dy, kernelShape: k.shape, padding: padding), dk, "kernel gradient " + tag)
                    cases += 1
                }
            }
        }
        XCTAssertEqual(cases, 24, "every size but 1x1 and 2x3 under VALID")
    }

    func testBiasAndActivationAreAppliedToEveryBlock() {
        // 60x60 with 16 channels makes several blocks per image, and an odd last one.
        let x = Tensor.uniform([2, 60, 60, 16], low: -1, high: 1, using: &rng), k = Tensor.uniform([3, 3, 16, 16], low: -1, high: 1, using: &rng)
        let b = Tensor.uniform([16], low: -1, high: 1, using: &rng)
        let plain = conv2D(x, kernel: k, padding: .same)
        XCTAssertEqual(conv2D(x, kernel: k, padding: .same, bias: b, activation: .relu6), (plain + b).relu6())
    }

    func testOtherShapesKeepTheGeneralPath() throws {
        func geometry(_ cin: Int, _ cout: Int, kernel: Int = 3, stride: Int = 1, dilation: Int = 1) throws -> Conv2DGeometry {
            try Conv2DGeometry(inputShape: [1, 16, 16, cin], kernelShape: [kernel, kernel, cin, cout], strides: (stride, stride),
                               padding: .same, dilation: (dilation, dilation))
        }
        XCTAssertFalse(usesWinograd(try geometry(3, 32)), "the first layer: 3 input channels")
        XCTAssertFalse(usesWinograd(try geometry(32, 32, stride: 2)))
        XCTAssertFalse(usesWinograd(try geometry(32, 32, dilation: 2)))
        XCTAssertFalse(usesWinograd(try geometry(32, 32, kernel: 1)))
        XCTAssertFalse(usesWinograd(try geometry(18, 32)), "channels not a multiple of 4")
        XCTAssertTrue(usesWinograd(try geometry(64, 128)))
    }
}

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

/// A 1x1 convolution's two gradients in one pass (`pointwiseConv2DBackprop`) and its forward pass
/// with its output's batch moments (`pointwiseConv2DWithBatchMoments`) against float64 loops:
/// chunks that do not divide the rows, more chunks than workers, one chunk, and the public
/// functions on both of their paths.
final class PointwiseConvolutionTests: XCTestCase {
    /// dx[r, i] = sum_o dy[r, o] w[i, o] and dw[i, o] = sum_r x[r, i] dy[r, o], in float64.
    private func reference(_ x: Tensor, _ dy: Tensor, _ w: Tensor) -> (input: [Double], kernel: [Double]) {
        let cin = w.shape[2], cout = w.shape[3], rows = x.count / cin
        let (xs, gs, ws) = (x.scalars, dy.scalars, w.scalars)
        var dx = [Double](repeating: 0, count: rows * cin), dw = [Double](repeating: 0, count: cin * cout)
        for r in 0..<rows {
            for i in 0..<cin {
                for o in 0..<cout {
                    dx[r * cin + i] += Double(gs[r * cout + o]) * Double(ws[i * cout + o])
                    dw[i * cout + o] += Double(xs[r * cin + i]) * Double(gs[r * cout + o])
                }
            }
        }
        return (dx, dw)
    }

    private func assertClose(_ got: Tensor, _ expected: [Double], scale: Double, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, message, file: file, line: line)
        let worst = zip(got.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5 * scale, "\(message): worst absolute error \(worst)", file: file, line: line)
    }

    func testOnePassGradientsMatchFloat64() throws {
        var rng = SeededGenerator(seed: 21)
        // 2 x 5 x 7 = 70 rows.
        let x = Tensor.uniform([2, 5, 7, 6], low: -1, high: 1, using: &rng)
        let w = Tensor.uniform([1, 1, 6, 20], low: -1, high: 1, using: &rng)
        let dy = Tensor.uniform([2, 5, 7, 20], low: -1, high: 1, using: &rng)
        let g = try Conv2DGeometry(inputShape: x.shape, kernelShape: w.shape, strides: (1, 1), padding: .same, dilation: (1, 1))
        let expected = reference(x, dy, w)
        for chunkRows in [1, 9, 16, 69, 70, 500] {
            let (dx, dw) = pointwiseConv2DBackprop(x, outputGradient: dy, kernel: w, g, chunkRows: chunkRows)
            XCTAssertEqual(dx.shape, x.shape)
            XCTAssertEqual(dw.shape, w.shape)
            assertClose(dx, expected.input, scale: 20, "input gradient, chunks of \(chunkRows) rows")
            assertClose(dw, expected.kernel, scale: 70, "kernel gradient, chunks of \(chunkRows) rows")
        }
    }

    func testConv2DBackpropMatchesTheSeparateGradientsOnBothPaths() throws {
        var rng = SeededGenerator(seed: 22)
        // Pointwise but below the one-pass size, then a 3x3 convolution: the separate functions.
        for (window, padding, strides) in [(1, Padding.same, 1), (3, .same, 1), (1, .valid, 2)] {
            let x = Tensor.uniform([2, 6, 5, 4], low: -1, high: 1, using: &rng)
            let w = Tensor.uniform([window, window, 4, 8], low: -1, high: 1, using: &rng)
            let g = try Conv2DGeometry(inputShape: x.shape, kernelShape: w.shape, strides: (strides, strides), padding: padding,
                                       dilation: (1, 1))
            let dy = Tensor.uniform(g.outputShape, low: -1, high: 1, using: &rng)
            let (dx, dw) = conv2DBackprop(x, outputGradient: dy, kernel: w, strides: (strides, strides), padding: padding)
            XCTAssertEqual(dx.scalars, conv2DBackpropInput(dy, kernel: w, inputShape: x.shape, strides: (strides, strides),
                                                           padding: padding).scalars, "\(window)x\(window) stride \(strides)")
            XCTAssertEqual(dw.scalars, conv2DBackpropKernel(x, outputGradient: dy, kernelShape: w.shape, strides: (strides, strides),
                                                            padding: padding).scalars, "\(window)x\(window) stride \(strides)")
        }
        // Past the one-pass size (64 MiB of output gradient): the one-pass path, against float64
        // on a sample of its entries.
        let x = Tensor.uniform([1, 1024, 1024, 2], low: -1, high: 1, using: &rng)
        let w = Tensor.uniform([1, 1, 2, 16], low: -1, high: 1, using: &rng)
        let dy = Tensor.uniform([1, 1024, 1024, 16], low: -1, high: 1, using: &rng)
        XCTAssertGreaterThanOrEqual(dy.count, pointwiseOnePassMinimumCount)
        let (dx, dw) = conv2DBackprop(x, outputGradient: dy, kernel: w)
        let (xs, gs, ws, dxs, dws) = (x.scalars, dy.scalars, w.scalars, dx.scalars, dw.scalars)
        for r in stride(from: 0, to: 1 << 20, by: 4099) {
            for i in 0..<2 {
                var sum = 0.0
                for o in 0..<16 { sum += Double(gs[r * 16 + o]) * Double(ws[i * 16 + o]) }
                XCTAssertEqual(Double(dxs[r * 2 + i]), sum, accuracy: 1e-5, "input gradient row \(r)")
            }
        }
        for i in 0..<2 {
            for o in 0..<16 {
                var sum = 0.0
                for r in 0..<(1 << 20) { sum += Double(xs[r * 2 + i]) * Double(gs[r * 16 + o]) }
                XCTAssertEqual(Double(dws[i * 16 + o]), sum, accuracy: 0.05, "kernel gradient (\(i), \(o)), a sum of 2^20 terms")
            }
        }
    }

    func testTheForwardPassGathersTheBatchMomentsOfItsOutput() throws {
        var rng = SeededGenerator(seed: 23)
        // 3 x 4 x 9 = 108 rows; inputs around 10, so channel 0 (all ones) has a mean near 50 and a
        // small variance, and channel 1 (all zeros) is constant.
        let cin = 5, cout = 12
        let x = Tensor.uniform([3, 4, 9, cin], low: 10, high: 11, using: &rng)
        var weights = Tensor.uniform([cin, cout], low: -1, high: 1, using: &rng).scalars
        for i in 0..<cin { weights[i * cout] = 1; weights[i * cout + 1] = 0 }
        let w = Tensor(shape: [1, 1, cin, cout], scalars: weights)
        let expected = conv2D(x, kernel: w, padding: .same)
        let ys = expected.scalars, rows = ys.count / cout
        var mean = [Double](repeating: 0, count: cout), variance = mean
        for c in 0..<cout {
            for r in 0..<rows { mean[c] += Double(ys[r * cout + c]) }
            mean[c] /= Double(rows)
            for r in 0..<rows { variance[c] += (Double(ys[r * cout + c]) - mean[c]) * (Double(ys[r * cout + c]) - mean[c]) }
            variance[c] /= Double(rows)
        }
        for chunkRows in [1, 7, 64, 108, 300] {
            let result = try XCTUnwrap(pointwiseConv2DWithBatchMoments(x, kernel: w, strides: (1, 1), padding: .same, dilation: (1, 1),
                                                                       minimumCount: 0, chunkRows: chunkRows))
            XCTAssertEqual(result.output.shape, expected.shape)
            let worst = zip(result.output.scalars, ys).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5 * 50, "output, chunks of \(chunkRows)")
            for c in 0..<cout {
                XCTAssertEqual(Double(result.mean.scalars[c]), mean[c], accuracy: 1e-6 * max(abs(mean[c]), 1), "mean \(c), chunks of \(chunkRows)")
                XCTAssertEqual(Double(result.variance.scalars[c]), variance[c], accuracy: 1e-5 * variance[c] + 1e-9,
                               "variance \(c), chunks of \(chunkRows)")
            }
            XCTAssertEqual(result.variance.scalars[1], 0, "a constant channel has no variance")
        }
        // The public function declines small outputs and other convolutions.
        XCTAssertNil(conv2DWithBatchMoments(x, kernel: w))
        XCTAssertNil(pointwiseConv2DWithBatchMoments(x, kernel: Tensor.ones([3, 3, cin, cout]), strides: (1, 1), padding: .same,
                                                     dilation: (1, 1), minimumCount: 0))
        XCTAssertFalse(conv2DGathersBatchMoments(inputShape: x.shape, kernelShape: w.shape))
        XCTAssertTrue(conv2DGathersBatchMoments(inputShape: [1, 512, 512, 4], kernelShape: [1, 1, 4, 64]))
    }
}
