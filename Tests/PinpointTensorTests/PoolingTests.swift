import CPinpointKernels
import PinpointAutograd
@testable import PinpointTensor
import XCTest

/// Max and average pooling against TensorFlow's values (ties included) and central differences.
final class PoolingTests: XCTestCase, OpTesting {
    var rng = SeededGenerator(seed: 2026)

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
}

/// The max-pooling kernels of every kernel set this CPU runs against exact scalar loops.
final class PoolingKernelSetTests: XCTestCase, KernelSetTesting {
    func testMaxPoolingKeepsTheFirstMaximumAndIgnoresNaN() {
        var rng = SeededGenerator(seed: 13)
        let rows = 2, inputWidth = 7, channels = 32
        var input = random(rows * inputWidth * channels, &rng).map { ($0 * 4).rounded() }  // ties
        input[5] = .nan
        input[inputWidth * channels + 3 * channels + 7] = .nan
        // Window 3, stride 2, one column of padding before: windows clipped at both edges.
        let (window, stride, padBefore, width) = (3, 2, 1, 4)
        forEachSupportedSet { set, table in
            var out = [Float](repeating: 0, count: width * channels)
            table.max_pool_row(input, Int32(rows), Int32(inputWidth), Int32(window), Int32(stride), Int32(padBefore), Int32(width),
                               Int32(channels), &out)
            for p in 0..<width {
                let lo = max(0, p * stride - padBefore), hi = min(inputWidth, p * stride - padBefore + window)
                for ch in 0..<channels {
                    var best = input[lo * channels + ch]
                    for r in 0..<rows { for c in lo..<hi { let v = input[(r * inputWidth + c) * channels + ch]; if v > best { best = v } } }
                    let got = out[p * channels + ch]
                    XCTAssertTrue(got == best || (got.isNaN && best.isNaN), "\(set) pixel \(p) channel \(ch): \(got), expected \(best)")
                }
            }
        }
    }

    func testPoolingWindowsRecordTheFirstMaximumCellAndRouteBackToIt() {
        var rng = SeededGenerator(seed: 16)
        // Odd width: the last window has one column; one row: the bottom cells are missing.
        let width = 7, pooledWidth = 4, channels = 32
        let input = random(2 * width * channels, &rng).map { ($0 * 2).rounded() }  // many ties
        forEachSupportedSet { set, table in
            for rows in 1...2 {
                var out = [Float](repeating: .nan, count: pooledWidth * channels), cells = out
                table.max_pool_windows_row(input, Int32(rows), Int32(width), Int32(pooledWidth), Int32(channels), &out, &cells)
                // Without cells: the same maxima, and those of the general row pooling.
                var plain = [Float](repeating: .nan, count: pooledWidth * channels), general = plain
                table.max_pool_windows_row(input, Int32(rows), Int32(width), Int32(pooledWidth), Int32(channels), &plain, nil)
                table.max_pool_row(input, Int32(rows), Int32(width), 2, 2, 0, Int32(pooledWidth), Int32(channels), &general)
                XCTAssertEqual(plain, out, "\(set) rows \(rows): without cells")
                XCTAssertEqual(general, out, "\(set) rows \(rows): max_pool_row")
                for pw in 0..<pooledWidth {
                    for ch in 0..<channels {
                        var (best, cell) = (input[2 * pw * channels + ch], 0)
                        for (index, (r, c)) in [(0, 1), (1, 0), (1, 1)].enumerated() where r < rows && 2 * pw + c < width {
                            let v = input[(r * width + 2 * pw + c) * channels + ch]
                            if v > best { (best, cell) = (v, index + 1) }
                        }
                        XCTAssertEqual(out[pw * channels + ch], best, "\(set) rows \(rows) window \(pw) channel \(ch)")
                        XCTAssertEqual(cells[pw * channels + ch], Float(cell), "\(set) rows \(rows) window \(pw) channel \(ch)")
                    }
                }
                // Routing row `parity` back from columns -2 to 8: each pixel gets the pooled
                // gradient where it is its window's recorded cell; zeros off the covered columns.
                let gradient = random(pooledWidth * channels, &rng), covered = 7
                for parity in 0..<rows {
                    var routed = [Float](repeating: .nan, count: 11 * channels)
                    table.route_windows(cells, gradient, Int32(parity), -2, 11, Int32(covered), Int32(channels), &routed)
                    for i in 0..<11 {
                        let column = i - 2
                        for ch in 0..<channels {
                            var expected: Float = 0
                            if column >= 0 && column < covered && cells[column / 2 * channels + ch] == Float(2 * parity + column % 2) {
                                expected = gradient[column / 2 * channels + ch]
                            }
                            XCTAssertEqual(routed[i * channels + ch], expected, "\(set) row \(parity) column \(column) channel \(ch)")
                        }
                    }
                }
            }
        }
    }
}
