@testable import PinpointTensor
import XCTest

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
