@testable import PinpointTensor
import XCTest

/// Winograd F(4x4, 3x3) against a direct float64 convolution, for the forward pass and both
/// gradients, on odd and even sizes, both paddings, and channel counts that are and are not
/// multiples of 16. The bar is 1e-5 of the largest output: F(4x4, 3x3)'s larger transform
/// constants reach 5.4e-6 on these cases (F(2x2, 3x3), used before, reached 3.2e-7); oneDNN's
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
