import CPinpointKernels
@testable import PinpointTensor
import XCTest

/// Every kernel set this CPU runs, called directly through its table on the same inputs, against
/// float64 loops (or exact scalar loops for max pooling): the op-level tests cover only the set
/// in use, which `make test` varies with PINPOINT_CPU.
final class KernelSetTests: XCTestCase {
    private func forEachSupportedSet(_ body: (KernelSet, pp_kernel_table) throws -> Void) rethrows {
        for set in KernelSet.supported { try body(set, pp_kernels_for(set.cValue)!.pointee) }
    }

    private func random(_ count: Int, _ rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    func testTheSetInUseIsTheForcedOneOrTheBest() {
        let supported = KernelSet.supported
        XCTAssertEqual(supported.first, .generic)
        XCTAssertEqual(supported.last, KernelSet.best)
        XCTAssertEqual(supported, Array(KernelSet.allCases.prefix(supported.count)))
        if let forced = ProcessInfo.processInfo.environment["PINPOINT_CPU"], !forced.isEmpty {
            XCTAssertEqual(KernelSet.current.rawValue, forced)
        } else {
            XCTAssertEqual(KernelSet.current, KernelSet.best)
        }
    }

    func testTheGEMMBlockMatchesFloat64() {
        var rng = SeededGenerator(seed: 11)
        let depth = 37, lda = 41, ldb = 70, ldc = 80
        let a = random(5 * lda, &rng), b = random(depth * ldb, &rng), start = random(5 * ldc, &rng)
        // Streamed stores need C 64-byte aligned.
        let c = UnsafeMutableRawPointer.allocate(byteCount: 5 * ldc * 4, alignment: 64).bindMemory(to: Float.self, capacity: 5 * ldc)
        defer { c.deallocate() }
        forEachSupportedSet { set, table in
            for rows in 1...5 {
                for store in [PP_STORE_WRITE, PP_STORE_ACCUMULATE, PP_STORE_STREAM] {
                    c.update(from: start, count: start.count)
                    table.gemm_block_5x64(a, lda, 1, Int32(rows), b, ldb, Int32(depth), c, ldc, store)
                    table.stream_fence()
                    for r in 0..<5 {
                        for j in 0..<ldc {
                            let i = r * ldc + j
                            guard r < rows, j < 64 else { XCTAssertEqual(c[i], start[i], "\(set): outside the block"); continue }
                            var sum = store == PP_STORE_ACCUMULATE ? Double(start[i]) : 0
                            for d in 0..<depth { sum += Double(a[r * lda + d]) * Double(b[d * ldb + j]) }
                            XCTAssertEqual(Double(c[i]), sum, accuracy: 1e-5 * Double(depth), "\(set) rows \(rows) store \(store) (\(r), \(j))")
                        }
                    }
                }
            }
        }
    }

    func testTheTransposedGEMMBlockMatchesFloat64() {
        var rng = SeededGenerator(seed: 16)
        let depth = 29, ldw = 31, ldc = 12
        let w = random(8 * ldw, &rng), panel = random(depth * 48, &rng)
        forEachSupportedSet { set, table in
            for (rows, m) in [(8, 48), (3, 5), (1, 1), (7, 40)] {
                var c = [Float](repeating: .nan, count: 48 * ldc)
                table.gemm_transposed_block_8x48(w, ldw, Int32(rows), panel, Int32(depth), Int32(m), &c, ldc)
                for i in 0..<48 {
                    for r in 0..<ldc {
                        guard i < m, r < rows else { XCTAssertTrue(c[i * ldc + r].isNaN, "\(set): outside the block"); continue }
                        var sum = 0.0
                        for d in 0..<depth { sum += Double(w[r * ldw + d]) * Double(panel[d * 48 + i]) }
                        XCTAssertEqual(Double(c[i * ldc + r]), sum, accuracy: 1e-5 * Double(depth), "\(set) rows \(rows) m \(m) (\(i), \(r))")
                    }
                }
            }
        }
    }

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

    func testTheDepthwiseScatterAddsAsTheScalarLoopDoes() {
        var rng = SeededGenerator(seed: 20)
        // Stride 2, window 3, one column of padding: the first and last taps fall off the edges.
        let (window, width, stride, padBefore, inputWidth, channels) = (3, 4, 2, 1, 8, 32)
        let dy = random(width * channels, &rng), taps = random(window * channels, &rng), start = random(inputWidth * channels, &rng)
        var expected = start
        for kw in 0..<window {
            for ow in 0..<width {
                let iw = ow * stride - padBefore + kw
                guard iw >= 0 && iw < inputWidth else { continue }
                for ch in 0..<channels { expected[iw * channels + ch] += dy[ow * channels + ch] * taps[kw * channels + ch] }
            }
        }
        forEachSupportedSet { set, table in
            var dx = start
            table.depthwise_scatter_row(dy, taps, Int32(window), Int32(width), Int32(stride), Int32(padBefore), 1, Int32(inputWidth),
                                        Int32(channels), &dx)
            XCTAssertEqual(dx.map(\.bitPattern), expected.map(\.bitPattern), "\(set)")
        }
    }

    func testRMSpropUpdatesRoundAsKerasFormulaIsWritten() {
        var rng = SeededGenerator(seed: 19)
        let n = 37  // two vectors and a remainder
        let w = random(n, &rng), v = random(n, &rng).map { abs($0) }, m = random(n, &rng), g = random(n, &rng)
        let (lr, rho, momentum, epsilon): (Float, Float, Float, Float) = (1e-3, 0.9, 0.9, 1e-7)
        forEachSupportedSet { set, table in
            for withMomentum in [false, true] {
                var (w1, v1, m1) = (w, v, m)
                if withMomentum { table.rmsprop_update(&w1, &v1, &m1, g, n, lr, rho, momentum, epsilon) }
                else { table.rmsprop_update(&w1, &v1, nil, g, n, lr, rho, momentum, epsilon) }
                for j in 0..<n {
                    let vj = v[j] * rho + g[j] * g[j] * (1 - rho)
                    let increment = g[j] * lr / (vj + epsilon).squareRoot()
                    let mj = m[j] * momentum + increment
                    XCTAssertEqual(v1[j].bitPattern, vj.bitPattern, "\(set) momentum \(withMomentum) v[\(j)]")
                    XCTAssertEqual(w1[j].bitPattern, (withMomentum ? w[j] - mj : w[j] - increment).bitPattern, "\(set) w[\(j)]")
                    XCTAssertEqual(m1[j].bitPattern, (withMomentum ? mj : m[j]).bitPattern, "\(set) momentum \(withMomentum) m[\(j)]")
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

    func testBatchNormalizationPassesMatchTheirDefinitions() {
        var rng = SeededGenerator(seed: 17)
        let rows = 11, channels = 20  // two 8-channel vectors, then 4 one by one
        let x = random(rows * channels, &rng).map { $0 + 3 }, dy = random(rows * channels, &rng)
        let mean = random(channels, &rng).map { $0 + 3 }, scale = random(channels, &rng), shift = random(channels, &rng)
        let a = random(channels, &rng), b = random(channels, &rng), k = random(channels, &rng)
        func relu6Gradient(_ g: Float, _ z: Float) -> Float { z > 0 && z < 6 ? g : 0 }
        forEachSupportedSet { set, table in
            var sum = [Double](repeating: 0, count: channels), squares = sum
            table.batch_norm_moments(x, 0, rows, Int32(channels), &sum, &squares)
            var normalized = [Float](repeating: 0, count: rows * channels)
            table.batch_norm_rows(x, rows, Int32(channels), mean, scale, shift, PP_ACTIVATION_RELU6, &normalized)
            var block = [Float](repeating: 0, count: 2 * channels), sumDy = [Double](repeating: 0, count: channels), sumDyX = sumDy
            table.batch_norm_gradient_sums(x, dy, 0, rows, Int32(channels), mean, scale, shift, PP_ACTIVATION_RELU6, &block, &sumDy, &sumDyX)
            var dx = [Float](repeating: 0, count: rows * channels)
            table.batch_norm_input_gradient(x, dy, rows, Int32(channels), mean, scale, shift, PP_ACTIVATION_RELU6, a, b, k, &dx)
            for c in 0..<channels {
                var (s, q, sd, sdx) = (0.0, 0.0, 0.0, 0.0)
                for r in 0..<rows {
                    let i = r * channels + c
                    let d = Double(x[i]) - Double(x[c])
                    s += d
                    q += d * d
                    let z = (x[i] - mean[c]) * scale[c] + shift[c]
                    XCTAssertEqual(normalized[i], Swift.min(Swift.max(z, 0), 6), "\(set) normalized (\(r), \(c))")
                    let g = relu6Gradient(dy[i], z)
                    sd += Double(g)
                    sdx += Double(g) * Double(x[i] - mean[c])
                    XCTAssertEqual(dx[i], a[c] * (g - b[c] - (x[i] - mean[c]) * k[c]), "\(set) input gradient (\(r), \(c))")
                }
                XCTAssertEqual(sum[c], s, accuracy: 1e-9, "\(set) sum \(c)")
                XCTAssertEqual(squares[c], q, accuracy: 1e-9, "\(set) squares \(c)")
                XCTAssertEqual(sumDy[c], sd, accuracy: 1e-5, "\(set) sum of dy \(c)")
                XCTAssertEqual(sumDyX[c], sdx, accuracy: 1e-5, "\(set) sum of dy (x - mean) \(c)")
            }
        }
    }

    /// Pinpoint's packed SGEMM (the AVX-512 set's), every transpose, alpha and beta, sizes off its
    /// 12 x 32 tiles and its 256-deep and 144-row blocks, against float64.
    func testThePackedSGEMMMatchesFloat64() throws {
        let sets = KernelSet.supported.filter { pp_kernels_for($0.cValue)!.pointee.sgemm != nil }
        try XCTSkipIf(sets.isEmpty, "no kernel set on this CPU has Pinpoint's SGEMM (it needs AVX-512)")
        var rng = SeededGenerator(seed: 18)
        for set in sets {
            let sgemm = pp_kernels_for(set.cValue)!.pointee.sgemm!
            for (m, n, k) in [(1, 1, 1), (13, 33, 7), (150, 70, 300), (12, 32, 256), (5, 1030, 3), (40, 48, 300), (40, 700, 300)] {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, -2)] {
                        let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5
                        let a = random((ta ? k : m) * lda, &rng), b = random((tb ? n : k) * ldb, &rng), start = random(m * ldc, &rng)
                        var c = start
                        sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, lda, b, ldb, beta, &c, ldc)
                        var worst = 0.0
                        for i in 0..<m {
                            for j in 0..<ldc {
                                guard j < n else { XCTAssertEqual(c[i * ldc + j], start[i * ldc + j], "\(set): wrote past column n"); continue }
                                var sum = 0.0
                                for p in 0..<k {
                                    sum += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                                }
                                let expected = Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * Double(start[i * ldc + j]))
                                worst = max(worst, abs(Double(c[i * ldc + j]) - expected))
                            }
                        }
                        XCTAssertLessThan(worst, 2e-6 * Double(k) + 1e-6, "\(set) \(m)x\(n)x\(k) trans \(ta) \(tb) alpha \(alpha) beta \(beta)")
                    }
                }
            }
        }
    }

    /// AVX2 and AVX-512 both fuse each multiply-add, in the same order: their results are identical.
    func testTheFusedSetsAgreeBitForBit() throws {
        let sets = KernelSet.supported.filter { $0 != .generic }
        try XCTSkipIf(sets.count < 2, "this CPU runs fewer than two fused sets")
        var rng = SeededGenerator(seed: 15)
        let depth = 300, a = random(5 * depth, &rng), b = random(depth * 64, &rng)
        let results = sets.map { set -> [Float] in
            var c = [Float](repeating: 0, count: 5 * 64)
            pp_kernels_for(set.cValue)!.pointee.gemm_block_5x64(a, depth, 1, 5, b, 64, Int32(depth), &c, 64, PP_STORE_WRITE)
            return c
        }
        XCTAssertEqual(results[0], results[1])
    }
}
