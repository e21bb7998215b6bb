// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015) for 3x3, stride-1, undilated convolutions with enough channels to feed GEMMs:
// each 2x2 output tile comes from a 4x4 input tile through 16 elementwise products in a
// transformed domain, so the GEMM work is 16/36 of im2col's (2.25x fewer multiply-adds).
//
//   U = B^T d B  per input tile and input channel       (input transform)
//   V = G g G^T  per input/output channel pair          (kernel transform, once per call)
//   M_k = U_k x V_k  for each of the 16 positions k      (16 GEMMs: tiles x Cin by Cin x Cout)
//   Y = A^T M A  per tile and output channel             (output transform, 2x2 outputs)
//
// Work is cut into blocks of whole tile rows of one image, sized so a block's U and M stay in
// the worker's L2 cache: each input and output element crosses memory once, as with im2col.
// The bias and activation are applied to a block's output rows right after its transform.
// The input gradient of such a convolution is the same kind of convolution (the kernel
// rotated by 180 degrees, input and output channels swapped, the padding mirrored), so it
// takes the same path. The kernel gradient transforms the output gradient's 2x2 tiles instead
// (A dY A^T), accumulates U_k^T Ŷ_k over the tiles and brings the sum back with G^T (.) G.

/// Bytes of transformed tiles (U and M, or U and Ŷ) per block: half of this machine's 2 MB L2.
let winogradBlockBytes = 3 << 18

/// The kernel transform G g G^T for every (input, output) channel pair: 16 matrices [Cin, Cout].
/// With `forInputGradient`, the kernel is first rotated 180 degrees and its channel axes swapped.
private func winogradKernel(_ kernel: Tensor, forInputGradient: Bool) -> Tensor {
    let k = kernel.contiguous()
    let cinK = kernel.shape[2], coutK = kernel.shape[3]
    let (cin, cout) = forInputGradient ? (coutK, cinK) : (cinK, coutK)
    let w = k.basePointer
    return withExtendedLifetime(k) {
        Tensor(shape: [16, cin, cout]) { v, _ in
            parallelChunks(cin, costPerItem: cout * 64) { range in
                for i in range {
                    for o in 0..<cout {
                        // g(r, c): the 3x3 kernel taking input channel i to output channel o.
                        func g(_ r: Int, _ c: Int) -> Float {
                            forInputGradient ? w[((2 - r) * 3 + (2 - c)) * cinK * coutK + o * coutK + i]
                                : w[(r * 3 + c) * cinK * coutK + i * coutK + o]
                        }
                        // G g (4x3), then (G g) G^T (4x4); G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
                        func gg(_ r: Int, _ c: Int) -> Float {
                            switch r {
                            case 0: g(0, c)
                            case 1: 0.5 * (g(0, c) + g(1, c) + g(2, c))
                            case 2: 0.5 * (g(0, c) - g(1, c) + g(2, c))
                            default: g(2, c)
                            }
                        }
                        for r in 0..<4 {
                            let (t0, t1, t2) = (gg(r, 0), gg(r, 1), gg(r, 2))
                            let base = v + (r * 4 * cin + i) * cout + o
                            base[0] = t0
                            base[cin * cout] = 0.5 * (t0 + t1 + t2)
                            base[2 * cin * cout] = 0.5 * (t0 - t1 + t2)
                            base[3 * cin * cout] = t2
                        }
                    }
                }
            }
        }
    }
}

/// out[n, oh, ow, o] = sum over kh, kw, i of x[n, oh - padTop + kh, ow - padLeft + kw, i] * g[kh, kw, i, o]
/// (zero outside x), for an output of outHeight x outWidth, then the epilogue; `v` from
/// `winogradKernel`.
///
/// With `pooled`, the result is that output max-pooled by 2x2 windows at stride 2 starting at the
/// top left (`pooledHeight` x `pooledWidth` of them; a window cut by the edge takes its valid
/// cells): each 2x2 output tile is one window, so the maximum is taken as the tile is
/// transformed and the full-size output is never written. The epilogue then applies to the
/// pooled values, which is the same for a non-decreasing activation.
private func winogradConvolution(_ input: Tensor, transformedKernel v: Tensor, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
                                 epilogue: BiasActivation, pooled: (height: Int, width: Int)? = nil) -> Tensor {
    let x = input.contiguous()
    let (batch, height, width, cin) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let cout = v.shape[2]
    precondition(v.shape == [16, cin, cout], "winogradConvolution: transformed kernel \(v.shape) for \(cin) input channels")
    let plan = WinogradBlocks(batch: batch, outHeight: outHeight, outWidth: outWidth, channels: cin + cout)
    let tilesWide = plan.tilesWide, maxTiles = plan.maxTiles, blocks = plan.blocks
    // Counted as the direct convolution's multiply-adds, so GFLOP/s stays comparable with other
    // frameworks' effective figures; the GEMMs below do 16/36 of them and do not count themselves.
    KernelCounters.add(multiplyAdds: batch * outHeight * outWidth * 9 * cin * cout)
    let src = x.basePointer, kernel = v.basePointer
    return withExtendedLifetime((x, v, epilogue.bias)) {
        Tensor(shape: [batch, pooled?.height ?? outHeight, pooled?.width ?? outWidth, cout]) { out, _ in
            forEachWorker(limit: blocks) { worker, workers in
                Workspace.withBuffer(count: 16 * maxTiles * (cin + cout) + cin) { scratch in
                    let u = scratch, m = scratch + 16 * maxTiles * cin
                    let zeros = m + 16 * maxTiles * cout
                    zeros.initialize(repeating: 0, count: cin)
                    var block = worker
                    var d = [UnsafePointer<Float>](repeating: UnsafePointer(zeros), count: 16)
                    while block < blocks {
                        let (n, firstTileRow, tileRows) = plan.block(block)
                        let tiles = tileRows * tilesWide
                        for tr in 0..<tileRows {
                            for tc in 0..<tilesWide {
                                transformInputTile(src, image: n, top: (firstTileRow + tr) * 2 - padTop, left: tc * 2 - padLeft,
                                                   height: height, width: width, channels: cin, zeros: zeros, pointers: &d,
                                                   into: u + (tr * tilesWide + tc) * cin, stride: maxTiles * cin)
                            }
                        }
                        for k in 0..<16 {
                            sgemm(GEMMOperand(pointer: u + k * maxTiles * cin, transposed: false, leadingDimension: cin),
                                  GEMMOperand(pointer: kernel + k * cin * cout, transposed: false, leadingDimension: cout),
                                  m + k * maxTiles * cout, m: tiles, n: cout, k: cin, ldc: cout, counted: false)
                        }
                        if let pooled {
                            let rows = Swift.max(0, Swift.min(tileRows, pooled.height - firstTileRow))
                            for tr in 0..<rows {
                                for tc in 0..<Swift.min(tilesWide, pooled.width) {
                                    let oh = (firstTileRow + tr) * 2, ow = tc * 2
                                    let y = out + ((n * pooled.height + firstTileRow + tr) * pooled.width + tc) * cout
                                    outputTransformMaximum(m + (tr * tilesWide + tc) * cout, stride: maxTiles * cout, cout, y,
                                                           rows: Swift.min(2, outHeight - oh), columns: Swift.min(2, outWidth - ow))
                                }
                            }
                            epilogue.apply(out + (n * pooled.height + firstTileRow) * pooled.width * cout, rows: rows * pooled.width,
                                           columns: cout)
                            block += workers
                            continue
                        }
                        // Output transform, vectorized over channels; edge tiles drop what falls outside.
                        for tr in 0..<tileRows {
                            for tc in 0..<tilesWide {
                                let oh = (firstTileRow + tr) * 2, ow = tc * 2
                                let tile = tr * tilesWide + tc
                                let y = out + ((n * outHeight + oh) * outWidth + ow) * cout
                                outputTransform(m + tile * cout, stride: maxTiles * cout, cout, y, rowStride: outWidth * cout,
                                                rows: Swift.min(2, outHeight - oh), columns: Swift.min(2, outWidth - ow))
                            }
                        }
                        let firstRow = firstTileRow * 2, rows = Swift.min(tileRows * 2, outHeight - firstRow)
                        epilogue.apply(out + (n * outHeight + firstRow) * outWidth * cout, rows: rows * outWidth, columns: cout)
                        block += workers
                    }
                }
            }
        }
    }
}

/// How the output's 2x2 tiles are cut into blocks of whole tile rows of one image, each block's
/// transformed tiles taking about `winogradBlockBytes` (half of L2, beside the GEMM's packed
/// panels). Measured on the tutorial CNN at 224 (Docs/Performance.md): 384 KB to 12 MB blocks all
/// ran slower, 1.5 MB and up by 25-50%.
private struct WinogradBlocks {
    let tilesHigh: Int, tilesWide: Int, tileRowsPerBlock: Int, blocksPerImage: Int, blocks: Int
    /// Tiles in the largest block: the scratch buffers' row count.
    var maxTiles: Int { tileRowsPerBlock * tilesWide }

    /// `channels`: the transformed values kept per tile and position (Cin + Cout).
    init(batch: Int, outHeight: Int, outWidth: Int, channels: Int) {
        tilesHigh = (outHeight + 1) / 2
        tilesWide = (outWidth + 1) / 2
        tileRowsPerBlock = Swift.max(1, Swift.min(tilesHigh, winogradBlockBytes / 4 / Swift.max(16 * tilesWide * channels, 1)))
        blocksPerImage = (tilesHigh + tileRowsPerBlock - 1) / tileRowsPerBlock
        blocks = batch * blocksPerImage
    }

    /// Block `index`: its image, first tile row and number of tile rows.
    func block(_ index: Int) -> (image: Int, firstTileRow: Int, tileRows: Int) {
        let first = (index % blocksPerImage) * tileRowsPerBlock
        return (index / blocksPerImage, first, Swift.min(tileRowsPerBlock, tilesHigh - first))
    }
}

/// The input transform of the 4x4 tile whose top-left input pixel is (top, left) in `image`
/// (pixels outside the input read as zeros), into `u`'s 16 positions `stride` floats apart.
@inline(__always)
private func transformInputTile(_ src: UnsafePointer<Float>, image n: Int, top: Int, left: Int, height: Int, width: Int, channels: Int,
                                zeros: UnsafePointer<Float>, pointers d: inout [UnsafePointer<Float>],
                                into u: UnsafeMutablePointer<Float>, stride: Int) {
    for r in 0..<4 {
        let ih = top + r
        for c in 0..<4 {
            let iw = left + c
            d[r * 4 + c] = ih >= 0 && ih < height && iw >= 0 && iw < width ? src + ((n * height + ih) * width + iw) * channels : zeros
        }
    }
    d.withUnsafeBufferPointer { d in inputTransform(d.baseAddress!, channels, u, stride: stride) }
}

/// U = B^T d B for one tile, all channels: d[r * 4 + c] points at the tile's input pixel (r, c);
/// U's 16 positions go `stride` floats apart. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
/// Written over SIMD vectors of channels: with 32 pointers in play the compiler does not
/// vectorize the scalar loop by itself.
@inline(__always)
private func inputTransform(_ d: UnsafePointer<UnsafePointer<Float>>, _ channels: Int, _ u: UnsafeMutablePointer<Float>, stride: Int) {
    @inline(__always)
    func run<V: SIMD>(_: V.Type, _ ch: Int) where V.Scalar == Float {
        func load(_ i: Int) -> V { UnsafeRawPointer(d[i] + ch).loadUnaligned(as: V.self) }
        func store(_ k: Int, _ value: V) { UnsafeMutableRawPointer(u + k * stride + ch).storeBytes(of: value, as: V.self) }
        let (d0, d1, d2, d3) = (load(0), load(1), load(2), load(3))
        let (d4, d5, d6, d7) = (load(4), load(5), load(6), load(7))
        let (d8, d9, d10, d11) = (load(8), load(9), load(10), load(11))
        let (d12, d13, d14, d15) = (load(12), load(13), load(14), load(15))
        // Columns first: t = B^T d.
        let t0 = d0 - d8, t1 = d1 - d9, t2 = d2 - d10, t3 = d3 - d11
        let t4 = d4 + d8, t5 = d5 + d9, t6 = d6 + d10, t7 = d7 + d11
        let t8 = d8 - d4, t9 = d9 - d5, t10 = d10 - d6, t11 = d11 - d7
        let t12 = d4 - d12, t13 = d5 - d13, t14 = d6 - d14, t15 = d7 - d15
        // Then rows: U = t B.
        store(0, t0 - t2); store(1, t1 + t2); store(2, t2 - t1); store(3, t1 - t3)
        store(4, t4 - t6); store(5, t5 + t6); store(6, t6 - t5); store(7, t5 - t7)
        store(8, t8 - t10); store(9, t9 + t10); store(10, t10 - t9); store(11, t9 - t11)
        store(12, t12 - t14); store(13, t13 + t14); store(14, t14 - t13); store(15, t13 - t15)
    }
    var ch = 0
    while ch + 16 <= channels { run(SIMD16<Float>.self, ch); ch += 16 }
    while ch < channels { run(SIMD4<Float>.self, ch); ch += 4 }  // channels % 4 == 0 (usesWinograd)
}

/// Y = A^T M A for one tile at channels ch..<ch + V.scalarCount: its four outputs, top left, top
/// right, bottom left, bottom right. A^T = [1 1 1 0; 0 1 -1 -1]; the 16 positions are `stride`
/// floats apart.
@inline(__always)
private func outputTile<V: SIMD>(_ m: UnsafePointer<Float>, stride: Int, _ ch: Int, as _: V.Type) -> (V, V, V, V) where V.Scalar == Float {
    func load(_ k: Int) -> V { UnsafeRawPointer(m + k * stride + ch).loadUnaligned(as: V.self) }
    let (m0, m1, m2, m3) = (load(0), load(1), load(2), load(3))
    let (m4, m5, m6, m7) = (load(4), load(5), load(6), load(7))
    let (m8, m9, m10, m11) = (load(8), load(9), load(10), load(11))
    let (m12, m13, m14, m15) = (load(12), load(13), load(14), load(15))
    // Rows first: s = A^T M (2x4), then s A.
    let s0 = m0 + m4 + m8, s1 = m1 + m5 + m9, s2 = m2 + m6 + m10, s3 = m3 + m7 + m11
    let s4 = m4 - m8 - m12, s5 = m5 - m9 - m13, s6 = m6 - m10 - m14, s7 = m7 - m11 - m15
    return (s0 + s1 + s2, s1 - s2 - s3, s4 + s5 + s6, s5 - s6 - s7)
}

/// One tile's outputs, all channels, written to up to 2x2 output pixels (an edge tile of an
/// odd-sized output drops the rest).
@inline(__always)
private func outputTransform(_ m: UnsafePointer<Float>, stride: Int, _ channels: Int, _ y: UnsafeMutablePointer<Float>, rowStride: Int,
                             rows: Int, columns: Int) {
    let full = rows == 2 && columns == 2
    @inline(__always)
    func run<V: SIMD>(_: V.Type, _ ch: Int) where V.Scalar == Float {
        func store(_ p: UnsafeMutablePointer<Float>, _ value: V) { UnsafeMutableRawPointer(p + ch).storeBytes(of: value, as: V.self) }
        let (y00, y01, y10, y11) = outputTile(m, stride: stride, ch, as: V.self)
        store(y, y00)
        if full || columns > 1 { store(y + channels, y01) }
        if full || rows > 1 { store(y + rowStride, y10) }
        if full { store(y + rowStride + channels, y11) }
    }
    var ch = 0
    while ch + 16 <= channels { run(SIMD16<Float>.self, ch); ch += 16 }
    while ch < channels { run(SIMD4<Float>.self, ch); ch += 4 }  // channels % 4 == 0 (usesWinograd)
}

/// The maximum of one tile's valid outputs (`rows` x `columns` of its 2x2), all channels, stored
/// at `y`, compared in window order (row, then column) as max pooling compares them. The
/// compare-and-blend is written per concrete vector type: inside a generic helper it stayed
/// unspecialized and ran lane by lane (twice the layer's time).
@inline(__always)
private func outputTransformMaximum(_ m: UnsafePointer<Float>, stride: Int, _ channels: Int, _ y: UnsafeMutablePointer<Float>,
                                    rows: Int, columns: Int) {
    var ch = 0
    while ch + 16 <= channels {
        let (y00, y01, y10, y11) = outputTile(m, stride: stride, ch, as: SIMD16<Float>.self)
        var best = y00
        if columns > 1 { best.replace(with: y01, where: y01 .> best) }
        if rows > 1 { best.replace(with: y10, where: y10 .> best) }
        if rows > 1 && columns > 1 { best.replace(with: y11, where: y11 .> best) }
        UnsafeMutableRawPointer(y + ch).storeBytes(of: best, as: SIMD16<Float>.self)
        ch += 16
    }
    while ch < channels {  // channels % 4 == 0 (usesWinograd)
        let (y00, y01, y10, y11) = outputTile(m, stride: stride, ch, as: SIMD4<Float>.self)
        var best = y00
        if columns > 1 { best.replace(with: y01, where: y01 .> best) }
        if rows > 1 { best.replace(with: y10, where: y10 .> best) }
        if rows > 1 && columns > 1 { best.replace(with: y11, where: y11 .> best) }
        UnsafeMutableRawPointer(y + ch).storeBytes(of: best, as: SIMD4<Float>.self)
        ch += 4
    }
}

/// Ŷ = A dY A^T for one tile, all channels: the 2x2 output gradient (nil pointers outside the
/// output read as zeros) spread to the 16 transformed positions, `stride` floats apart.
/// A = [1 0; 1 1; 1 -1; 0 -1].
@inline(__always)
private func outputGradientTransform(_ dy: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                                     _ channels: Int, _ out: UnsafeMutablePointer<Float>, stride: Int) {
    @inline(__always)
    func run<V: SIMD>(_: V.Type, _ ch: Int) where V.Scalar == Float {
        func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p + ch).loadUnaligned(as: V.self) }
        func store(_ k: Int, _ value: V) { UnsafeMutableRawPointer(out + k * stride + ch).storeBytes(of: value, as: V.self) }
        let (a, b, c, d) = (load(dy.0), load(dy.1), load(dy.2), load(dy.3))
        // Rows of A dY: [a b], [a+c b+d], [a-c b-d], [-c -d]; each row [p q] becomes [p, p+q, p-q, -q].
        func row(_ r: Int, _ p: V, _ q: V) {
            store(r * 4, p); store(r * 4 + 1, p + q); store(r * 4 + 2, p - q); store(r * 4 + 3, V() - q)
        }
        row(0, a, b)
        row(1, a + c, b + d)
        row(2, a - c, b - d)
        row(3, V() - c, V() - d)
    }
    var ch = 0
    while ch + 16 <= channels { run(SIMD16<Float>.self, ch); ch += 16 }
    while ch < channels { run(SIMD4<Float>.self, ch); ch += 4 }
}

/// `conv2DBackpropKernel` through Winograd: per position k, the transformed input tiles
/// (U_k, [tiles, Cin]) times the transformed output-gradient tiles (Ŷ_k, [tiles, Cout]),
/// accumulated as U_k^T Ŷ_k over all tiles, then brought back by G^T (.) G. Requires
/// `usesWinograd(g)`.
func winogradConv2DBackpropKernel(_ input: Tensor, outputGradient: Tensor, _ g: Conv2DGeometry) -> Tensor {
    let x = input.contiguous(), dy = outputGradient.contiguous()
    let (batch, height, width, cin) = (g.batch, g.window.height.input, g.window.width.input, g.inChannels)
    let cout = g.outChannels, outHeight = g.window.height.output, outWidth = g.window.width.output
    let padTop = g.window.height.padBefore, padLeft = g.window.width.padBefore
    // Blocks as in the forward pass: 2x to 16x larger ones, which give the GEMMs a longer inner
    // dimension, measured slower on the tutorial CNN's layers 2 and 3 (Docs/Performance.md).
    let plan = WinogradBlocks(batch: batch, outHeight: outHeight, outWidth: outWidth, channels: cin + cout)
    let tilesWide = plan.tilesWide, maxTiles = plan.maxTiles, blocks = plan.blocks
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, blocks))
    let accumulatorSize = 16 * cin * cout
    KernelCounters.add(multiplyAdds: batch * outHeight * outWidth * 9 * cin * cout)
    let src = x.basePointer, grad = dy.basePointer
    return withExtendedLifetime((x, dy)) {
        Workspace.withBuffer(count: workers * accumulatorSize) { accumulators in
            accumulators.initialize(repeating: 0, count: workers * accumulatorSize)
            forEachWorker(limit: workers) { worker, workers in
                let acc = accumulators + worker * accumulatorSize
                Workspace.withBuffer(count: 16 * maxTiles * (cin + cout) + Swift.max(cin, cout)) { scratch in
                    let u = scratch, yhat = scratch + 16 * maxTiles * cin
                    let zeros = yhat + 16 * maxTiles * cout
                    zeros.initialize(repeating: 0, count: Swift.max(cin, cout))
                    var d = [UnsafePointer<Float>](repeating: UnsafePointer(zeros), count: 16)
                    var block = worker
                    while block < blocks {
                        let (n, firstTileRow, tileRows) = plan.block(block)
                        let tiles = tileRows * tilesWide
                        for tr in 0..<tileRows {
                            for tc in 0..<tilesWide {
                                let tile = tr * tilesWide + tc
                                let oh = (firstTileRow + tr) * 2, ow = tc * 2
                                transformInputTile(src, image: n, top: oh - padTop, left: ow - padLeft, height: height, width: width,
                                                   channels: cin, zeros: zeros, pointers: &d, into: u + tile * cin, stride: maxTiles * cin)
                                func dyPixel(_ r: Int, _ c: Int) -> UnsafePointer<Float> {
                                    oh + r < outHeight && ow + c < outWidth
                                        ? UnsafePointer(grad + ((n * outHeight + oh + r) * outWidth + ow + c) * cout) : UnsafePointer(zeros)
                                }
                                outputGradientTransform((dyPixel(0, 0), dyPixel(0, 1), dyPixel(1, 0), dyPixel(1, 1)), cout,
                                                        yhat + tile * cout, stride: maxTiles * cout)
                            }
                        }
                        for k in 0..<16 {
                            sgemm(GEMMOperand(pointer: u + k * maxTiles * cin, transposed: true, leadingDimension: cin),
                                  GEMMOperand(pointer: yhat + k * maxTiles * cout, transposed: false, leadingDimension: cout),
                                  acc + k * cin * cout, m: cin, n: cout, k: tiles, ldc: cout, beta: 1, counted: false)
                        }
                        block += workers
                    }
                }
            }
            // Sum the workers' accumulators, then dg = G^T dV G per channel pair.
            for worker in 1..<workers {
                let a = accumulators + worker * accumulatorSize
                for i in 0..<accumulatorSize { accumulators[i] += a[i] }
            }
            return Tensor(shape: g.kernelShape) { dk, _ in
                let plane = cin * cout
                parallelChunks(plane, costPerItem: 64) { range in
                    for j in range {
                        func v(_ r: Int, _ c: Int) -> Float { accumulators[(r * 4 + c) * plane + j] }
                        // G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]: rows first (3x4), then columns (3x3).
                        for r in 0..<3 {
                            func t(_ c: Int) -> Float {
                                switch r {
                                case 0: v(0, c) + 0.5 * (v(1, c) + v(2, c))
                                case 1: 0.5 * (v(1, c) - v(2, c))
                                default: 0.5 * (v(1, c) + v(2, c)) + v(3, c)
                                }
                            }
                            let (t0, t1, t2, t3) = (t(0), t(1), t(2), t(3))
                            dk[(r * 3) * plane + j] = t0 + 0.5 * (t1 + t2)
                            dk[(r * 3 + 1) * plane + j] = 0.5 * (t1 - t2)
                            dk[(r * 3 + 2) * plane + j] = 0.5 * (t1 + t2) + t3
                        }
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

/// `conv2D` through Winograd F(2x2, 3x3); requires `usesWinograd(g)`.
func winogradConv2D(_ input: Tensor, kernel: Tensor, _ g: Conv2DGeometry, epilogue: BiasActivation,
                    pooled: (height: Int, width: Int)? = nil) -> Tensor {
    winogradConvolution(input, transformedKernel: winogradKernel(kernel, forInputGradient: false), padTop: g.window.height.padBefore,
                        padLeft: g.window.width.padBefore, outHeight: g.window.height.output, outWidth: g.window.width.output,
                        epilogue: epilogue, pooled: pooled)
}

/// `conv2DBackpropInput` through Winograd: the output gradient convolved with the kernel rotated
/// by 180 degrees (channels swapped), padding mirrored (2 - padding before).
func winogradConv2DBackpropInput(_ outputGradient: Tensor, kernel: Tensor, _ g: Conv2DGeometry) -> Tensor {
    winogradConvolution(outputGradient, transformedKernel: winogradKernel(kernel, forInputGradient: true),
                        padTop: 2 - g.window.height.padBefore, padLeft: 2 - g.window.width.padBefore,
                        outHeight: g.window.height.input, outWidth: g.window.width.input,
                        epilogue: BiasActivation(bias: nil, activation: .linear, channels: g.inChannels, operation: "conv2DBackpropInput"))
}
