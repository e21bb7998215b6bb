import CPinpointKernels

// Winograd F(4x4, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015) for 3x3, stride-1, undilated convolutions with enough channels to feed GEMMs:
// each 4x4 output tile comes from a 6x6 input tile through 36 elementwise products in a
// transformed domain, so the GEMM work is 36/144 of im2col's (4x fewer multiply-adds, where
// F(2x2, 3x3) saves 2.25x at smaller rounding error).
//
//   U = B^T d B  per input tile and input channel       (input transform)
//   V = G g G^T  per input/output channel pair          (kernel transform, once per call)
//   M_k = U_k x V_k  for each of the 36 positions k      (36 GEMMs: tiles x Cin by Cin x Cout)
//   Y = A^T M A  per tile and output channel             (output transform, 4x4 outputs)
//
// with the interpolation points 0, 1, -1, 2, -2 and infinity:
//
//   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0    0]   A^T = [1 1  1 1  1 0]
//         [0 -4 -4  1 1 0]       [-1/6 -1/6 -1/6]          [0 1 -1 2 -2 0]
//         [0  4 -4 -1 1 0]       [-1/6  1/6 -1/6]          [0 1  1 4  4 0]
//         [0 -2 -1  2 1 0]       [1/24 1/12  1/6]          [0 1 -1 8 -8 1]
//         [0  2 -1 -2 1 0]       [1/24 -1/12 1/6]
//         [0  4  0 -5 0 1]       [   0    0    1]
//
// Work is cut into blocks of whole tile rows (of one or more images), sized so a block's U and M
// stay in the worker's L2 cache: each input and output element crosses memory once, as with
// im2col. The bias and activation are applied to each tile row's output right after its
// transform. The input gradient of such a convolution is the same kind of convolution (the
// kernel rotated by 180 degrees, input and output channels swapped, the padding mirrored), so it
// takes the same path. The kernel gradient transforms the output gradient's 4x4 tiles instead
// (A dY A^T), accumulates U_k^T Ŷ_k over the tiles and brings the sum back with G^T (.) G.

/// Floats from one transformed position's matrix to the next for `size`-float matrices: padded by
/// one cache line to an odd number of lines. A tile's 36 values are then in 36 different L1
/// sets; at a multiple of 16 lines apart (28 tiles by 64 channels) they shared 4 sets, and the
/// transforms' second step read them back from L2.
private func positionStride(_ size: Int) -> Int {
    let lines = (size + 15) / 16
    return (lines % 2 == 0 ? lines + 1 : lines) * 16
}

/// Output pixels per tile side, input pixels per tile side, and transformed positions per tile.
private let tileSize = 4, tileSpan = 6, positions = 36

/// Bytes of transformed tiles (U and M, or U and Ŷ) per block: about half of a 2 MB L2 (the
/// common size on the server cores Pinpoint is measured on), leaving room for the GEMM's packed
/// panels.
let winogradBlockBytes = 3 << 18

/// The fewest tiles a block holds, even past `winogradBlockBytes`: they are the GEMMs' rows (or
/// inner dimension), and deep layers with few tiles per row ran their GEMMs slower below this
/// (the tutorial CNN's last layer at 224: 28 ms with 14-tile blocks, 24 ms with 35).
let winogradMinimumTiles = 28

/// The six rows of G x (g0, g1, g2) for three vectors of kernel taps (the kernel transform's
/// step along one axis).
@inline(__always)
private func kernelTransform(_ g0: SIMD16<Float>, _ g1: SIMD16<Float>, _ g2: SIMD16<Float>)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let even = (g0 + g2) * (-1 / 6 as Float), odd = g1 * (-1 / 6 as Float)
    let far = g0 * (1 / 24 as Float) + g2 * (1 / 6 as Float), farOdd = g1 * (1 / 12 as Float)
    return (g0 * (1 / 4 as Float), even + odd, even - odd, far + farOdd, far - farOdd, g2)
}

/// The three rows of G^T x (v0 ... v5): the kernel gradient's way back from the transformed domain.
@inline(__always)
private func kernelGradientTransform(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>,
                                     _ v4: SIMD16<Float>, _ v5: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let sum = (v1 + v2) * (-1 / 6 as Float), difference = (v2 - v1) * (1 / 6 as Float)
    let farSum = v3 + v4, farDifference = v3 - v4
    return (v0 * (1 / 4 as Float) + sum + farSum * (1 / 24 as Float),
            difference + farDifference * (1 / 12 as Float),
            sum + farSum * (1 / 6 as Float) + v5)
}

/// The kernel transform G g G^T for every (input, output) channel pair: 36 matrices [Cin, Cout].
/// With `forInputGradient`, the kernel is first rotated 180 degrees and its channel axes swapped.
/// Vectorized over the channel pairs, which are contiguous in each of the kernel's 9 taps.
private func winogradKernel(_ kernel: Tensor, forInputGradient: Bool) -> Tensor {
    var k = kernel.contiguous()
    let cinK = kernel.shape[2], coutK = kernel.shape[3]
    if forInputGradient {
        let w = k.basePointer
        k = withExtendedLifetime(k) {
            Tensor(shape: [3, 3, coutK, cinK]) { r, _ in
                for tap in 0..<9 {
                    for i in 0..<cinK {
                        for o in 0..<coutK { r[(tap * coutK + o) * cinK + i] = w[((8 - tap) * cinK + i) * coutK + o] }
                    }
                }
            }
        }
    }
    let plane = cinK * coutK  // a multiple of 16 (usesWinograd)
    let w = k.basePointer
    return withExtendedLifetime(k) {
        Tensor(shape: [positions, k.shape[2], k.shape[3]]) { v, _ in
            parallelChunks(plane / 16, costPerItem: 16 * 200) { range in
                for group in range {
                    let j = group * 16
                    func tap(_ r: Int, _ c: Int) -> SIMD16<Float> { UnsafeRawPointer(w + (r * 3 + c) * plane + j).loadUnaligned(as: SIMD16<Float>.self) }
                    // Columns first (G g, 6x3), then rows ((G g) G^T, 6x6).
                    let c0 = kernelTransform(tap(0, 0), tap(1, 0), tap(2, 0))
                    let c1 = kernelTransform(tap(0, 1), tap(1, 1), tap(2, 1))
                    let c2 = kernelTransform(tap(0, 2), tap(1, 2), tap(2, 2))
                    func row(_ r: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) {
                        func store(_ column: Int, _ value: SIMD16<Float>) {
                            UnsafeMutableRawPointer(v + (r * tileSpan + column) * plane + j).storeBytes(of: value, as: SIMD16<Float>.self)
                        }
                        let t = kernelTransform(a, b, c)
                        store(0, t.0); store(1, t.1); store(2, t.2); store(3, t.3); store(4, t.4); store(5, t.5)
                    }
                    row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
                    row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
                }
            }
        }
    }
}

/// U = B^T d B for one 6x6 tile, all channels: pixel (r, c) at d + r * rowStride + c * channels;
/// U's 36 positions go `stride` floats apart (the kernel set's `winograd_input_tile`).
@inline(__always)
private func transformInputTile(_ d: UnsafePointer<Float>, rowStride: Int, _ channels: Int, _ u: UnsafeMutablePointer<Float>, stride: Int) {
    kernels.winograd_input_tile(d, rowStride, Int32(channels), u, stride)
}

/// What a Winograd pass reads tiles of: an NHWC tensor, or the gradient of a 2x2 max pooling
/// routed to its windows' maximum cells row by row as the tiles are gathered (see
/// `MaxPoolWindows`), so that the full-size gradient is never formed.
struct WinogradSource {
    /// [N, H, W, C].
    let shape: [Int]
    /// What the pointers below read, kept alive with the source.
    private let tensors: [Tensor]
    // Plain values for the per-pixel code: reading them through the tensors and arrays above
    // there retained and released shared objects from both threads and ran 10x slower.
    private let height: Int, width: Int, channels: Int, pooledHeight: Int, pooledWidth: Int
    private let values: UnsafePointer<Float>?
    private let cells: UnsafePointer<Float>?, pooledGradient: UnsafePointer<Float>?

    init(_ tensor: Tensor) {
        let t = tensor.contiguous()
        (shape, tensors) = (t.shape, [t])
        (height, width, channels, pooledHeight, pooledWidth) = (t.shape[1], t.shape[2], t.shape[3], 0, 0)
        (values, cells, pooledGradient) = (UnsafePointer(t.basePointer), nil, nil)
    }

    /// The gradient of the pooling `windows` record, from the pooled one (channels in multiples of 16).
    init(windows: MaxPoolWindows, pooledGradient: Tensor) {
        precondition(pooledGradient.shape == windows.outputShape && windows.inputShape[3] % 16 == 0,
                     "WinogradSource: pooled gradient \(pooledGradient.shape) for windows \(windows.outputShape)")
        let gz = pooledGradient.contiguous()
        (shape, tensors) = (windows.inputShape, [windows.cells, gz])
        (height, width, channels) = (shape[1], shape[2], shape[3])
        (pooledHeight, pooledWidth) = (windows.outputShape[1], windows.outputShape[2])
        (values, cells, self.pooledGradient) = (nil, UnsafePointer(windows.cells.basePointer), UnsafePointer(gz.basePointer))
    }

    /// Whether the source is a pooling's routed gradient: its tiles are then read from rows
    /// routed beforehand with `routeRows`, once per tile row, rather than routed tile by tile
    /// (6x6 tiles overlap, and gathering each from the pooled tensors jumped between its rows
    /// faster than memory delivered them: a tenth of a training step).
    var isRouted: Bool { values == nil }

    /// Rows [top, top + span) of image `n` of the routed gradient, columns [left, left + columns)
    /// of each, into `rows` (span x columns x channels floats), zeros outside the image.
    func routeRows(image n: Int, top: Int, left: Int, span: Int, columns: Int, into rows: UnsafeMutablePointer<Float>) {
        guard let cells, let pooledGradient else { preconditionFailure("WinogradSource.routeRows: not a routed gradient") }
        for r in 0..<span {
            routeWindows(cells: cells, pooledGradient: pooledGradient, inputShape: (height, width, channels),
                         pooledShape: (pooledHeight, pooledWidth), image: n, row: top + r, firstColumn: left, count: columns,
                         into: rows + r * columns * channels)
        }
    }

    /// The span x span tile of a tensor source whose top-left pixel is (top, left) in image `n`,
    /// zeros outside the image: pixel (r, c) at the pointer + r * rowStride + c * channels.
    /// Interior tiles are read in place; the rest are written into `edge` (span^2 x channels
    /// floats). A routed gradient's tiles come from `routeRows` instead.
    @inline(__always)
    func tile(image n: Int, top: Int, left: Int, span: Int, edge: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, rowStride: Int) {
        guard let values else { preconditionFailure("WinogradSource.tile: a routed gradient is read through routeRows") }
        if top >= 0, left >= 0, top + span <= height, left + span <= width {
            return (values + ((n * height + top) * width + left) * channels, width * channels)
        }
        // Row by row: the columns inside the image are one contiguous run.
        let first = Swift.min(span, Swift.max(0, -left)), end = Swift.max(first, Swift.min(span, width - left))
        for r in 0..<span {
            let ih = top + r, to = edge + r * span * channels
            guard ih >= 0, ih < height else {
                to.update(repeating: 0, count: span * channels)
                continue
            }
            to.update(repeating: 0, count: first * channels)
            (to + first * channels).update(from: values + ((n * height + ih) * width + left + first) * channels, count: (end - first) * channels)
            (to + end * channels).update(repeating: 0, count: (span - end) * channels)
        }
        return (UnsafePointer(edge), span * channels)
    }
}

/// One tile's outputs Y = A^T M A, all channels, written to up to 4x4 output pixels (an edge tile
/// drops what falls outside the output). M is overwritten.
@inline(__always)
private func storeOutputTile(_ m: UnsafeMutablePointer<Float>, stride: Int, _ channels: Int, _ y: UnsafeMutablePointer<Float>,
                             rowStride: Int, rows: Int, columns: Int) {
    kernels.winograd_output_tile(m, stride, Int32(channels), y, rowStride, Int32(rows), Int32(columns))
}

/// One tile's outputs max-pooled by its four 2x2 windows, all channels (multiples of 16): window
/// (a, b) goes to y + a * rowStride + b * channels if a < pooledRows and b < pooledColumns, and
/// takes the tile's valid outputs (`rows` x `columns` of the 4x4) in window order (row, then
/// column), as max pooling compares them.
@inline(__always)
private func storePooledTile(_ m: UnsafeMutablePointer<Float>, stride: Int, _ channels: Int, _ y: UnsafeMutablePointer<Float>,
                             rowStride: Int, rows: Int, columns: Int, pooledRows: Int, pooledColumns: Int) {
    kernels.winograd_pooled_tile(m, stride, Int32(channels), y, rowStride, Int32(rows), Int32(columns), Int32(pooledRows),
                                 Int32(pooledColumns))
}

/// Ŷ = A dY A^T for one tile, all channels: dY's pixel (r, c) at dy + r * rowStride + c * channels,
/// spread to the 36 transformed positions `stride` floats apart.
@inline(__always)
private func transformOutputGradientTile(_ dy: UnsafePointer<Float>, rowStride: Int, _ channels: Int, _ out: UnsafeMutablePointer<Float>,
                                         stride: Int) {
    kernels.winograd_output_gradient_tile(dy, rowStride, Int32(channels), out, stride)
}

/// How the output's 4x4 tiles are cut into blocks of whole tile rows, counted over the batch
/// (image 0's rows, then image 1's, ...), each block's transformed tiles taking about
/// `winogradBlockBytes`.
private struct WinogradBlocks {
    let tilesHigh: Int, tilesWide: Int, tileRowsPerBlock: Int, tileRows: Int, blocks: Int
    /// Tiles in the largest block: the scratch buffers' row count.
    var maxTiles: Int { tileRowsPerBlock * tilesWide }

    /// `channels`: the transformed values kept per tile and position (Cin + Cout).
    init(batch: Int, outHeight: Int, outWidth: Int, channels: Int) {
        tilesHigh = (outHeight + tileSize - 1) / tileSize
        tilesWide = (outWidth + tileSize - 1) / tileSize
        tileRows = batch * tilesHigh
        let fitting = winogradBlockBytes / 4 / Swift.max(positions * tilesWide * channels, 1)
        tileRowsPerBlock = Swift.min(tileRows, Swift.max(1, fitting, (winogradMinimumTiles + tilesWide - 1) / tilesWide))
        blocks = (tileRows + tileRowsPerBlock - 1) / tileRowsPerBlock
    }

    /// Block `index`'s tile rows, each as (image, tile row in the image, tile row in the block).
    func rows(_ index: Int) -> [(image: Int, row: Int, slot: Int)] {
        let first = index * tileRowsPerBlock
        return (first..<Swift.min(first + tileRowsPerBlock, tileRows)).map { ($0 / tilesHigh, $0 % tilesHigh, $0 - first) }
    }
}

/// out[n, oh, ow, o] = sum over kh, kw, i of x[n, oh - padTop + kh, ow - padLeft + kw, i] * g[kh, kw, i, o]
/// (zero outside x), for an output of outHeight x outWidth, then the epilogue; `v` from
/// `winogradKernel`.
///
/// With `pooled`, the result is that output max-pooled by 2x2 windows at stride 2 starting at the
/// top left (`pooledHeight` x `pooledWidth` of them; a window cut by the edge takes its valid
/// cells): each 4x4 output tile holds four whole windows, so the maximum is taken as the tile is
/// transformed and the full-size output is never written. The epilogue then applies to the
/// pooled values, which is the same for a non-decreasing activation. Pooling needs output
/// channels in multiples of 16. With `windows` as well, each tile row's outputs go through the
/// epilogue in a per-worker buffer first and are pooled from there, recording each window's
/// maximum cell (see `MaxPoolWindows`): the cells are then those of the activated output, as the
/// backward pass routes them.
private func winogradConvolution(_ source: WinogradSource, transformedKernel v: Tensor, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
                                 epilogue: BiasActivation, pooled: (height: Int, width: Int)? = nil,
                                 windows: UnsafeMutablePointer<Float>? = nil) -> Tensor {
    let (batch, cin) = (source.shape[0], source.shape[3])
    let cout = v.shape[2]
    precondition(v.shape == [positions, cin, cout], "winogradConvolution: transformed kernel \(v.shape) for \(cin) input channels")
    let plan = WinogradBlocks(batch: batch, outHeight: outHeight, outWidth: outWidth, channels: cin + cout)
    let tilesWide = plan.tilesWide, maxTiles = plan.maxTiles
    // Counted as the direct convolution's multiply-adds, so GFLOP/s stays comparable with other
    // frameworks' effective figures; the GEMMs below do 36/144 of them and do not count themselves.
    KernelCounters.add(multiplyAdds: batch * outHeight * outWidth * 9 * cin * cout)
    let kernel = v.basePointer
    let (outRows, outColumns) = pooled.map { ($0.height, $0.width) } ?? (outHeight, outWidth)
    return withExtendedLifetime((source, v, epilogue.bias)) {
        Tensor(shape: [batch, outRows, outColumns, cout]) { out, _ in
            forEachWorker(limit: plan.blocks) { worker, workers in
                let tileRowSize = tileSize * outWidth * cout
                let (uStride, mStride) = (positionStride(maxTiles * cin), positionStride(maxTiles * cout))
                // A routed source's tile row: its six rows over every tile's columns.
                let routedColumns = tilesWide * tileSize + tileSpan - tileSize
                let routedSize = source.isRouted ? tileSpan * routedColumns * cin : 0
                Workspace.withBuffer(count: positions * (uStride + mStride + cin) + (windows == nil ? 0 : tileRowSize) + routedSize) { scratch in
                    let u = scratch, m = scratch + positions * uStride, edge = m + positions * mStride
                    let activated = edge + positions * cin, routed = activated + (windows == nil ? 0 : tileRowSize)
                    var block = worker
                    while block < plan.blocks {
                        let rows = plan.rows(block)
                        for (n, tr, slot) in rows {
                            if source.isRouted {
                                source.routeRows(image: n, top: tr * tileSize - padTop, left: -padLeft, span: tileSpan, columns: routedColumns,
                                                 into: routed)
                            }
                            for tc in 0..<tilesWide {
                                let (d, rowStride) = source.isRouted
                                    ? (UnsafePointer(routed + tc * tileSize * cin), routedColumns * cin)
                                    : source.tile(image: n, top: tr * tileSize - padTop, left: tc * tileSize - padLeft, span: tileSpan, edge: edge)
                                transformInputTile(d, rowStride: rowStride, cin, u + (slot * tilesWide + tc) * cin, stride: uStride)
                            }
                        }
                        for k in 0..<positions {
                            sgemm(GEMMOperand(pointer: u + k * uStride, transposed: false, leadingDimension: cin),
                                  GEMMOperand(pointer: kernel + k * cin * cout, transposed: false, leadingDimension: cout),
                                  m + k * mStride, m: rows.count * tilesWide, n: cout, k: cin, ldc: cout, counted: false)
                        }
                        // Output transform, vectorized over channels, then the epilogue on the tile row's
                        // outputs while they are in cache.
                        for (n, tr, slot) in rows {
                            let oh = tr * tileSize, rowCount = Swift.min(tileSize, outHeight - oh)
                            if let pooled, let windows {
                                for tc in 0..<tilesWide {
                                    storeOutputTile(m + (slot * tilesWide + tc) * cout, stride: mStride, cout, activated + tc * tileSize * cout,
                                                    rowStride: outWidth * cout, rows: rowCount, columns: Swift.min(tileSize, outWidth - tc * tileSize))
                                }
                                epilogue.apply(activated, rows: rowCount * outWidth, columns: cout)
                                for a in 0..<Swift.max(0, Swift.min(2, pooled.height - tr * 2)) {
                                    let pooledRow = (n * pooled.height + tr * 2 + a) * pooled.width * cout
                                    maxPoolRowRecordingWindows(activated + 2 * a * outWidth * cout, rowCount: Swift.min(2, rowCount - 2 * a),
                                                               width: outWidth, pooledWidth: pooled.width, channels: cout,
                                                               into: out + pooledRow, cells: windows + pooledRow)
                                }
                            } else if let pooled {
                                let ph = tr * 2, pooledRows = Swift.min(2, pooled.height - ph)
                                guard pooledRows > 0 else { continue }
                                for tc in 0..<Swift.min(tilesWide, (pooled.width + 1) / 2) {
                                    let ow = tc * tileSize
                                    storePooledTile(m + (slot * tilesWide + tc) * cout, stride: mStride, cout,
                                                    out + ((n * pooled.height + ph) * pooled.width + tc * 2) * cout,
                                                    rowStride: pooled.width * cout, rows: outHeight - oh, columns: outWidth - ow,
                                                    pooledRows: pooledRows, pooledColumns: pooled.width - tc * 2)
                                }
                                epilogue.apply(out + (n * pooled.height + ph) * pooled.width * cout, rows: pooledRows * pooled.width,
                                               columns: cout)
                            } else {
                                for tc in 0..<tilesWide {
                                    let ow = tc * tileSize
                                    storeOutputTile(m + (slot * tilesWide + tc) * cout, stride: mStride, cout,
                                                    out + ((n * outHeight + oh) * outWidth + ow) * cout, rowStride: outWidth * cout,
                                                    rows: rowCount, columns: Swift.min(tileSize, outWidth - ow))
                                }
                                epilogue.apply(out + (n * outHeight + oh) * outWidth * cout, rows: rowCount * outWidth, columns: cout)
                            }
                        }
                        block += workers
                    }
                }
            }
        }
    }
}

/// `conv2DBackpropKernel` through Winograd: per position k, the transformed input tiles
/// (U_k, [tiles, Cin]) times the transformed output-gradient tiles (Ŷ_k, [tiles, Cout]),
/// accumulated as U_k^T Ŷ_k over all tiles, then brought back by G^T (.) G. Requires
/// `usesWinograd(g)`.
func winogradConv2DBackpropKernel(_ input: Tensor, outputGradient dy: WinogradSource, _ g: Conv2DGeometry) -> Tensor {
    let x = WinogradSource(input)
    let (batch, cin) = (g.batch, g.inChannels)
    let cout = g.outChannels, outHeight = g.window.height.output, outWidth = g.window.width.output
    let padTop = g.window.height.padBefore, padLeft = g.window.width.padBefore
    let plan = WinogradBlocks(batch: batch, outHeight: outHeight, outWidth: outWidth, channels: cin + cout)
    let tilesWide = plan.tilesWide, maxTiles = plan.maxTiles
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, plan.blocks))
    let plane = cin * cout, accumulatorSize = positions * plane
    KernelCounters.add(multiplyAdds: batch * outHeight * outWidth * 9 * cin * cout)
    return withExtendedLifetime((x, dy)) {
        Workspace.withBuffer(count: workers * accumulatorSize) { accumulators in
            accumulators.initialize(repeating: 0, count: workers * accumulatorSize)
            forEachWorker(limit: workers) { worker, workers in
                let acc = accumulators + worker * accumulatorSize
                let (uStride, yStride) = (positionStride(maxTiles * cin), positionStride(maxTiles * cout))
                let routedColumns = tilesWide * tileSize, routedSize = dy.isRouted ? tileSize * routedColumns * cout : 0
                Workspace.withBuffer(count: positions * (uStride + yStride + Swift.max(cin, cout)) + routedSize) { scratch in
                    let u = scratch, yhat = scratch + positions * uStride, edge = yhat + positions * yStride
                    let routed = edge + Swift.max(cin, cout) * positions
                    var block = worker
                    while block < plan.blocks {
                        let rows = plan.rows(block)
                        for (n, tr, slot) in rows {
                            if dy.isRouted {
                                dy.routeRows(image: n, top: tr * tileSize, left: 0, span: tileSize, columns: routedColumns, into: routed)
                            }
                            for tc in 0..<tilesWide {
                                let tile = slot * tilesWide + tc, oh = tr * tileSize, ow = tc * tileSize
                                let (d, rowStride) = x.tile(image: n, top: oh - padTop, left: ow - padLeft, span: tileSpan, edge: edge)
                                transformInputTile(d, rowStride: rowStride, cin, u + tile * cin, stride: uStride)
                                let (dyTile, dyRowStride) = dy.isRouted
                                    ? (UnsafePointer(routed + ow * cout), routedColumns * cout)
                                    : dy.tile(image: n, top: oh, left: ow, span: tileSize, edge: edge)
                                transformOutputGradientTile(dyTile, rowStride: dyRowStride, cout, yhat + tile * cout, stride: yStride)
                            }
                        }
                        for k in 0..<positions {
                            sgemm(GEMMOperand(pointer: u + k * uStride, transposed: true, leadingDimension: cin),
                                  GEMMOperand(pointer: yhat + k * yStride, transposed: false, leadingDimension: cout),
                                  acc + k * plane, m: cin, n: cout, k: rows.count * tilesWide, ldc: cout, beta: 1, counted: false)
                        }
                        block += workers
                    }
                }
            }
            // Sum the workers' accumulators, then dg = G^T dV G per channel pair, vectorized over
            // the pairs (plane is a multiple of 16).
            for worker in 1..<workers {
                let a = accumulators + worker * accumulatorSize
                for i in 0..<accumulatorSize { accumulators[i] += a[i] }
            }
            return Tensor(shape: g.kernelShape) { dk, _ in
                parallelChunks(plane / 16, costPerItem: 16 * 200) { range in
                    for group in range {
                        let j = group * 16
                        func v(_ k: Int) -> SIMD16<Float> { UnsafeRawPointer(accumulators + k * plane + j).loadUnaligned(as: SIMD16<Float>.self) }
                        // Columns first (G^T dV, 3x6), then rows (3x3).
                        func column(_ c: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                            kernelGradientTransform(v(c), v(6 + c), v(12 + c), v(18 + c), v(24 + c), v(30 + c))
                        }
                        let t = (column(0), column(1), column(2), column(3), column(4), column(5))
                        func store(_ tap: Int, _ value: SIMD16<Float>) {
                            UnsafeMutableRawPointer(dk + tap * plane + j).storeBytes(of: value, as: SIMD16<Float>.self)
                        }
                        let r0 = kernelGradientTransform(t.0.0, t.1.0, t.2.0, t.3.0, t.4.0, t.5.0)
                        let r1 = kernelGradientTransform(t.0.1, t.1.1, t.2.1, t.3.1, t.4.1, t.5.1)
                        let r2 = kernelGradientTransform(t.0.2, t.1.2, t.2.2, t.3.2, t.4.2, t.5.2)
                        store(0, r0.0); store(1, r0.1); store(2, r0.2)
                        store(3, r1.0); store(4, r1.1); store(5, r1.2)
                        store(6, r2.0); store(7, r2.1); store(8, r2.2)
                    }
                }
            }
        }
    }
}

/// Whether `conv2D` and its input gradient take the Winograd path: 3x3, stride 1, undilated, and
/// at least 16 input and output channels, multiples of 4 (fewer starve its GEMMs; the first layer
/// of an image model has 3; the transforms run on SIMD vectors of channels).
func usesWinograd(_ g: Conv2DGeometry) -> Bool {
    let h = g.window.height, w = g.window.width
    return h.window == 3 && w.window == 3 && h.stride == 1 && w.stride == 1 && h.dilation == 1 && w.dilation == 1
        && g.inChannels >= 16 && g.outChannels >= 16 && g.inChannels % 4 == 0 && g.outChannels % 4 == 0
}

/// `conv2D` through Winograd F(4x4, 3x3), optionally pooled (see `winogradConvolution`);
/// requires `usesWinograd(g)`.
func winogradConv2D(_ input: Tensor, kernel: Tensor, _ g: Conv2DGeometry, epilogue: BiasActivation,
                    pooled: (height: Int, width: Int)? = nil, windows: UnsafeMutablePointer<Float>? = nil) -> Tensor {
    winogradConvolution(WinogradSource(input), transformedKernel: winogradKernel(kernel, forInputGradient: false), padTop: g.window.height.padBefore,
                        padLeft: g.window.width.padBefore, outHeight: g.window.height.output, outWidth: g.window.width.output,
                        epilogue: epilogue, pooled: pooled, windows: windows)
}

/// `conv2DBackpropInput` through Winograd: the output gradient convolved with the kernel rotated
/// by 180 degrees (channels swapped), padding mirrored (2 - padding before).
func winogradConv2DBackpropInput(_ outputGradient: WinogradSource, kernel: Tensor, _ g: Conv2DGeometry) -> Tensor {
    winogradConvolution(outputGradient, transformedKernel: winogradKernel(kernel, forInputGradient: true),
                        padTop: 2 - g.window.height.padBefore, padLeft: 2 - g.window.width.padBefore,
                        outHeight: g.window.height.input, outWidth: g.window.width.input,
                        epilogue: BiasActivation(bias: nil, activation: .linear, channels: g.inChannels, operation: "conv2DBackpropInput"))
}
