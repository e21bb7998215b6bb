// NHWC 2-D convolution with HWIO kernels, as tf.nn.conv2d:
//   forward           im2col (one row per output pixel) x kernel[KH*KW*Cin, Cout] -> NHWC output
//   input gradient    dOut x kernel^T -> columns, scattered back (col2im) into the input's gradient
//   kernel gradient   columns^T x dOut, accumulated over chunks
// A 1x1, stride-1 convolution skips im2col: the NHWC input already is the column matrix.
// Winograd F(4x4, 3x3) takes over for 3x3 stride-1 layers with 16+ channels, in all three passes
// (Winograd.swift), where it wins; the tests check it against a direct float64 convolution.
//
// Threads: each worker takes whole chunks of output rows and runs im2col and a single-threaded
// SGEMM on them with its own column buffer, sized to stay in its core's L2 cache. That beats one
// shared buffer with a multithreaded SGEMM by 10-25% here (Docs/Performance.md). The input
// gradient's workers own whole images, so their scatters never collide; the kernel gradient's
// workers accumulate privately and are summed at the end.

/// The shapes of one convolution, checked once.
public struct Conv2DGeometry: Equatable, Sendable {
    public let window: WindowGeometry
    public let outChannels: Int

    public init(inputShape: [Int], kernelShape: [Int], strides: (Int, Int), padding: Padding,
                dilation: (Int, Int), operation: String = "conv2D") throws(ShapeError) {
        guard kernelShape.count == 4 else {
            throw .invalid(operation: operation, shape: kernelShape, detail: "kernel must be HWIO (rank 4)")
        }
        guard inputShape.count == 4, kernelShape[2] == inputShape[3] else {
            throw .mismatch(operation: operation, expected: [kernelShape[0], kernelShape[1], inputShape.last ?? 0, kernelShape[3]],
                            got: kernelShape, detail: "kernel input channels must equal the input's, input is \(inputShape)")
        }
        window = try WindowGeometry(inputShape: inputShape, window: (kernelShape[0], kernelShape[1]), strides: strides,
                                    dilation: dilation, padding: padding, operation: operation)
        outChannels = kernelShape[3]
    }

    var inChannels: Int { window.channels }
    var batch: Int { window.batch }
    /// Columns of the im2col matrix: one per kernel element.
    var columnCount: Int { window.height.window * window.width.window * inChannels }
    var pixelsPerImage: Int { window.height.output * window.width.output }
    public var inputShape: [Int] { window.inputShape }
    public var outputShape: [Int] { window.outputShape(channels: outChannels) }
    public var kernelShape: [Int] { [window.height.window, window.width.window, inChannels, outChannels] }

    /// A 1x1 kernel, stride 1: the input rows are already the columns.
    var isPointwise: Bool {
        window.height.window == 1 && window.width.window == 1 && window.height.stride == 1 && window.width.stride == 1
    }

    /// Multiply-adds x 2 of the forward pass (each gradient pass costs the same).
    public var flops: Double {
        2 * Double(batch * pixelsPerImage) * Double(columnCount) * Double(outChannels)
    }

    /// Output rows per chunk: the column buffer holds about `budget` floats, but each GEMM gets at
    /// least `minimumGEMMRows` rows, and a chunk never spans more than `limit` rows.
    func rowsPerChunk(budget: Int, limit: Int) -> Int {
        let ow = Swift.max(window.width.output, 1)
        let byBudget = budget / Swift.max(ow * columnCount, 1)
        let byGEMM = (minimumGEMMRows + ow - 1) / ow
        return Swift.max(1, Swift.min(limit, Swift.max(byBudget, byGEMM)))
    }
}

/// Column-buffer sizes (floats) per worker: the forward pass's stays in L2 beside OpenBLAS's
/// packed panels; the kernel gradient's is larger because each chunk's GEMM accumulates into the
/// whole kernel gradient and wants a long inner dimension.
let columnBudget = 1 << 18
let minimumGEMMRows = 784

private func check(_ body: () throws(ShapeError) -> Conv2DGeometry) -> Conv2DGeometry {
    do { return try body() } catch { trap(error) }
}

/// 2-D convolution, NHWC input and HWIO kernel (`tf.nn.conv2d`), optionally with Keras
/// `Conv2D`'s bias and activation applied to each chunk of output as its GEMM finishes, while
/// the chunk is still in cache.
///
/// ```swift
/// let y = conv2D(x, kernel: w, strides: (2, 2), padding: .same)   // [N, ceil(H/2), ceil(W/2), Cout]
/// let z = conv2D(x, kernel: w, padding: .same, bias: b, activation: .relu)
/// ```
public func conv2D(_ input: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                   dilation: (Int, Int) = (1, 1), bias: Tensor? = nil, activation: FusedActivation = .linear) -> Tensor {
    let g = check { () throws(ShapeError) in
        try Conv2DGeometry(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding, dilation: dilation)
    }
    let x = input.contiguous(), w = kernel.contiguous()
    let k = g.columnCount, cout = g.outChannels, ow = g.window.width.output
    let epilogue = BiasActivation(bias: bias, activation: activation, channels: cout, operation: "conv2D")
    if usesWinograd(g) { return winogradConv2D(x, kernel: w, g, epilogue: epilogue) }
    if usesDirectConvolution(g) { return directConv2D(x, kernel: w, g, epilogue: epilogue) }
    let wOperand = GEMMOperand(pointer: w.basePointer, transposed: false, leadingDimension: cout)
    return withExtendedLifetime((x, w, epilogue.bias)) {
        Tensor(shape: g.outputShape) { out, _ in
            if g.isPointwise {
                let rows = g.batch * g.pixelsPerImage
                let xOperand = GEMMOperand(pointer: x.basePointer, transposed: false, leadingDimension: k)
                if epilogue.isIdentity {
                    parallelSGEMM(xOperand, wOperand, out, m: rows, n: cout, k: k, ldc: cout)
                    return
                }
                // Each chunk's GEMM followed by the epilogue while its output is in L2 (instead of
                // a second pass over the whole output).
                let chunk = pointwiseChunkRows(rows, floatsPerRow: k + cout)
                forEachPointwiseChunk(rows: rows, chunk: chunk) { _, start, count in
                    sgemm(GEMMOperand(pointer: x.basePointer + start * k, transposed: false, leadingDimension: k), wOperand,
                          out + start * cout, m: count, n: cout, k: k, ldc: cout)
                    epilogue.apply(out + start * cout, rows: count, columns: cout)
                }
                return
            }
            forEachRowChunk(g, RowChunks(g, budget: columnBudget)) { rows, col, _ in
                im2col(x.basePointer, g, rows: rows, into: col)
                let o = out + rows.lowerBound * ow * cout
                sgemm(GEMMOperand(pointer: col, transposed: false, leadingDimension: k), wOperand, o,
                      m: rows.count * ow, n: cout, k: k, ldc: cout)
                epilogue.apply(o, rows: rows.count * ow, columns: cout)
            }
        }
    }
}

/// `conv2D` of a 1x1, stride-1 convolution without bias or activation, with the batch moments of
/// its output (`batchMoments`), each chunk's sums taken as its GEMM finishes, while the chunk is
/// in L2: training's BatchNormalization after the convolution then reads its input once less.
/// Nil for any other convolution, or for an output under `pointwiseOnePassMinimumCount` floats
/// (64 MiB), which the moments pass finds largely in cache.
///
/// ```swift
/// if let (y, mean, variance) = conv2DWithBatchMoments(x, kernel: w) { ... }
/// ```
public func conv2DWithBatchMoments(_ input: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                                   dilation: (Int, Int) = (1, 1)) -> (output: Tensor, mean: Tensor, variance: Tensor)? {
    pointwiseConv2DWithBatchMoments(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation)
}

/// Whether `conv2DWithBatchMoments` gathers the moments for these shapes (rather than returning nil).
public func conv2DGathersBatchMoments(inputShape: [Int], kernelShape: [Int], strides: (Int, Int) = (1, 1),
                                      padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> Bool {
    gathersBatchMoments(inputShape: inputShape, kernelShape: kernelShape, strides: strides, padding: padding, dilation: dilation,
                        minimumCount: pointwiseOnePassMinimumCount) != nil
}

private func gathersBatchMoments(inputShape: [Int], kernelShape: [Int], strides: (Int, Int), padding: Padding, dilation: (Int, Int),
                                 minimumCount: Int) -> Conv2DGeometry? {
    guard let g = try? Conv2DGeometry(inputShape: inputShape, kernelShape: kernelShape, strides: strides, padding: padding,
                                      dilation: dilation, operation: "conv2DWithBatchMoments"),
          g.isPointwise, g.batch * g.pixelsPerImage * g.outChannels >= minimumCount else { return nil }
    return g
}

/// `conv2DWithBatchMoments` with its size threshold and chunk rows open to the tests.
func pointwiseConv2DWithBatchMoments(_ input: Tensor, kernel: Tensor, strides: (Int, Int), padding: Padding, dilation: (Int, Int),
                                     minimumCount: Int = pointwiseOnePassMinimumCount, chunkRows: Int? = nil)
    -> (output: Tensor, mean: Tensor, variance: Tensor)? {
    guard let g = gathersBatchMoments(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding,
                                      dilation: dilation, minimumCount: minimumCount) else { return nil }
    let x = input.contiguous(), w = kernel.contiguous()
    let k = g.columnCount, cout = g.outChannels, rows = g.batch * g.pixelsPerImage
    let wOperand = GEMMOperand(pointer: w.basePointer, transposed: false, leadingDimension: cout)
    let chunk = Swift.max(1, chunkRows ?? pointwiseChunkRows(rows, floatsPerRow: k + cout))
    var perWorker = [BatchMomentsAccumulator](repeating: BatchMomentsAccumulator(channels: cout),
                                              count: pointwiseChunkWorkers(rows: rows, chunk: chunk))
    let output = withExtendedLifetime((x, w)) {
        Tensor(shape: g.outputShape) { out, _ in
            perWorker.withUnsafeMutableBufferPointer { accumulators in
                let shared = accumulators.baseAddress!
                forEachPointwiseChunk(rows: rows, chunk: chunk) { worker, start, count in
                    sgemm(GEMMOperand(pointer: x.basePointer + start * k, transposed: false, leadingDimension: k), wOperand,
                          out + start * cout, m: count, n: cout, k: k, ldc: cout)
                    shared[worker].add(out + start * cout, rows: count)
                }
            }
        }
    }
    var total = BatchMomentsAccumulator(channels: cout)
    for accumulator in perWorker { total.add(accumulator) }
    let (mean, variance) = total.moments
    return (output, mean, variance)
}

/// Gradient of `conv2D` with respect to its input (`tf.nn.conv2d_backprop_input`).
public func conv2DBackpropInput(_ outputGradient: Tensor, kernel: Tensor, inputShape: [Int], strides: (Int, Int) = (1, 1),
                                padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> Tensor {
    let g = check { () throws(ShapeError) in
        try Conv2DGeometry(inputShape: inputShape, kernelShape: kernel.shape, strides: strides, padding: padding,
                           dilation: dilation, operation: "conv2DBackpropInput")
    }
    if outputGradient.shape != g.outputShape {
        trap(.mismatch(operation: "conv2DBackpropInput", expected: g.outputShape, got: outputGradient.shape, detail: "output gradient"))
    }
    if usesWinograd(g) { return winogradConv2DBackpropInput(WinogradSource(outputGradient), kernel: kernel, g) }
    let dy = outputGradient.contiguous(), w = kernel.contiguous()
    let k = g.columnCount, cout = g.outChannels, oh = g.window.height.output, ow = g.window.width.output
    let wT = GEMMOperand(pointer: w.basePointer, transposed: true, leadingDimension: cout)
    let imageSize = g.window.height.input * g.window.width.input * g.inChannels
    return withExtendedLifetime((dy, w)) {
        Tensor(shape: inputShape) { dx, count in
            if g.isPointwise {
                parallelSGEMM(GEMMOperand(pointer: dy.basePointer, transposed: false, leadingDimension: cout), wT, dx,
                              m: g.batch * g.pixelsPerImage, n: k, k: cout, ldc: k)
                return
            }
            let rowsPerChunk = g.rowsPerChunk(budget: columnBudget, limit: oh)
            // Workers own whole images: the scatter from an image's output rows stays in that image.
            forEachWorker(limit: g.batch) { worker, workers in
                Workspace.withBuffer(count: rowsPerChunk * ow * k) { col in
                    var n = worker
                    while n < g.batch {
                        (dx + n * imageSize).initialize(repeating: 0, count: imageSize)
                        var start = n * oh
                        while start < (n + 1) * oh {
                            let rows = start..<Swift.min(start + rowsPerChunk, (n + 1) * oh)
                            sgemm(GEMMOperand(pointer: dy.basePointer + rows.lowerBound * ow * cout, transposed: false,
                                              leadingDimension: cout), wT, col, m: rows.count * ow, n: k, k: cout, ldc: k)
                            col2im(col, g, rows: rows, into: dx)
                            start = rows.upperBound
                        }
                        n += workers
                    }
                }
            }
        }
    }
}

/// Gradient of `conv2D` with respect to its kernel (`tf.nn.conv2d_backprop_filter`).
public func conv2DBackpropKernel(_ input: Tensor, outputGradient: Tensor, kernelShape: [Int], strides: (Int, Int) = (1, 1),
                                 padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> Tensor {
    let g = check { () throws(ShapeError) in
        try Conv2DGeometry(inputShape: input.shape, kernelShape: kernelShape, strides: strides, padding: padding,
                           dilation: dilation, operation: "conv2DBackpropKernel")
    }
    if outputGradient.shape != g.outputShape {
        trap(.mismatch(operation: "conv2DBackpropKernel", expected: g.outputShape, got: outputGradient.shape, detail: "output gradient"))
    }
    if usesWinograd(g) { return winogradConv2DBackpropKernel(input, outputGradient: WinogradSource(outputGradient), g) }
    if usesDirectKernelGradient(g) { return directConv2DBackpropKernel(input.contiguous(), outputGradient: outputGradient.contiguous(), g) }
    let x = input.contiguous(), dy = outputGradient.contiguous()
    let k = g.columnCount, cout = g.outChannels, ow = g.window.width.output
    return withExtendedLifetime((x, dy)) {
        Tensor(shape: kernelShape) { dw, count in
            if g.isPointwise {
                parallelSGEMM(GEMMOperand(pointer: x.basePointer, transposed: true, leadingDimension: k),
                              GEMMOperand(pointer: dy.basePointer, transposed: false, leadingDimension: cout), dw,
                              m: k, n: cout, k: g.batch * g.pixelsPerImage, ldc: cout)
                return
            }
            let plan = RowChunks(g, budget: columnBudget)
            accumulatingPerWorker(into: dw, count: count, workers: plan.workers) { accumulator in
                forEachRowChunk(g, plan) { rows, col, worker in
                    im2col(x.basePointer, g, rows: rows, into: col)
                    sgemm(GEMMOperand(pointer: col, transposed: true, leadingDimension: k),
                          GEMMOperand(pointer: dy.basePointer + rows.lowerBound * ow * cout, transposed: false, leadingDimension: cout),
                          accumulator(worker), m: k, n: cout, k: rows.count * ow, ldc: cout, beta: 1)
                }
            }
        }
    }
}

/// Both gradients of `conv2D`, input and kernel (`conv2DBackpropInput` and
/// `conv2DBackpropKernel`, the same values up to float rounding order). A 1x1, stride-1
/// convolution whose output gradient is larger than `pointwiseOnePassMinimumCount` takes both
/// in one pass over that gradient (`pointwiseConv2DBackprop`).
///
/// ```swift
/// let (dx, dw) = conv2DBackprop(x, outputGradient: dy, kernel: w, padding: .same)
/// ```
public func conv2DBackprop(_ input: Tensor, outputGradient: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1),
                           padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> (input: Tensor, kernel: Tensor) {
    let g = check { () throws(ShapeError) in
        try Conv2DGeometry(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding,
                           dilation: dilation, operation: "conv2DBackprop")
    }
    if g.isPointwise, outputGradient.shape == g.outputShape, outputGradient.count >= pointwiseOnePassMinimumCount {
        return pointwiseConv2DBackprop(input, outputGradient: outputGradient, kernel: kernel, g)
    }
    return (conv2DBackpropInput(outputGradient, kernel: kernel, inputShape: input.shape, strides: strides, padding: padding,
                                dilation: dilation),
            conv2DBackpropKernel(input, outputGradient: outputGradient, kernelShape: kernel.shape, strides: strides,
                                 padding: padding, dilation: dilation))
}

/// Outputs and output gradients of at least this many floats (64 MiB, twice a server's
/// last-level cache share) have a 1x1 convolution's second pass over them folded into the
/// first: in training, its output's batch moments (`conv2DWithBatchMoments`), and its two
/// gradients (`conv2DBackprop`). Below it, the second pass finds much of the tensor in cache,
/// and the two separate gradient GEMMs, each threaded as a whole, run as fast or faster
/// (`make bench`'s pointwise rows: 16 -> 96 at 112, a 193 MB gradient, 20-21 ms apart against
/// 13-16 in one pass; 24 -> 144 at 56, 72 MB, 8-9 ms either way; 384 -> 576 at 14, 18 MB, 18-21
/// ms apart against 19-22).
let pointwiseOnePassMinimumCount = 1 << 24

/// A 1x1, stride-1 convolution's input and kernel gradients in one pass over the output
/// gradient: each worker takes chunks of `chunkRows` rows (by default, what fits its L2 beside
/// the input's rows) and, while a chunk of dOut is in cache, runs dOut W^T into the input
/// gradient and accumulates X^T dOut into its own kernel gradient; those are summed at the end in
/// worker order. Apart, each of the two passes reads the whole output gradient from memory.
func pointwiseConv2DBackprop(_ input: Tensor, outputGradient: Tensor, kernel: Tensor, _ g: Conv2DGeometry,
                             chunkRows: Int? = nil) -> (input: Tensor, kernel: Tensor) {
    precondition(g.isPointwise && outputGradient.shape == g.outputShape, "pointwiseConv2DBackprop: not a 1x1, stride-1 convolution")
    let x = input.contiguous(), dy = outputGradient.contiguous(), w = kernel.contiguous()
    let cin = g.inChannels, cout = g.outChannels, rows = g.batch * g.pixelsPerImage
    let wT = GEMMOperand(pointer: w.basePointer, transposed: true, leadingDimension: cout)
    let chunk = Swift.max(1, chunkRows ?? pointwiseChunkRows(rows, floatsPerRow: 2 * cin + cout))
    var kernelGradient: Tensor?
    let inputGradient = withExtendedLifetime((x, dy, w)) {
        Tensor(shape: input.shape) { dx, _ in
            kernelGradient = Tensor(shape: kernel.shape) { dw, count in
                accumulatingPerWorker(into: dw, count: count, workers: pointwiseChunkWorkers(rows: rows, chunk: chunk)) { accumulator in
                    forEachPointwiseChunk(rows: rows, chunk: chunk) { worker, start, n in
                        let gradientRows = GEMMOperand(pointer: dy.basePointer + start * cout, transposed: false, leadingDimension: cout)
                        sgemm(GEMMOperand(pointer: x.basePointer + start * cin, transposed: true, leadingDimension: cin), gradientRows,
                              accumulator(worker), m: cin, n: cout, k: n, ldc: cout, beta: 1)
                        sgemm(gradientRows, wT, dx + start * cin, m: n, n: cin, k: cout, ldc: cin)
                    }
                }
            }
        }
    }
    return (inputGradient, kernelGradient!)
}

/// Runs `body` with an accumulator per worker for a `count`-float result, all zeroed: worker 0's
/// is `result` itself, the others' private buffers, added into `result` in worker order after
/// `body` (a kernel gradient summed over the chunks several workers take).
private func accumulatingPerWorker(into result: UnsafeMutablePointer<Float>, count: Int, workers: Int,
                                   _ body: (_ accumulator: (_ worker: Int) -> UnsafeMutablePointer<Float>) -> Void) {
    Workspace.withBuffer(count: Swift.max(workers - 1, 1) * count) { partials in
        func accumulator(_ worker: Int) -> UnsafeMutablePointer<Float> { worker == 0 ? result : partials + (worker - 1) * count }
        for worker in 0..<workers { accumulator(worker).initialize(repeating: 0, count: count) }
        body(accumulator)
        for worker in 1..<workers {
            let p = accumulator(worker)
            for i in 0..<count { result[i] += p[i] }
        }
    }
}

/// Rows per chunk of a 1x1 convolution's chunked passes: what keeps `floatsPerRow` floats a row
/// (the chunk's operands and result) near `columnBudget`, in L2, at least 64 rows.
private func pointwiseChunkRows(_ rows: Int, floatsPerRow: Int) -> Int {
    Swift.max(64, Swift.min(rows, (columnBudget / Swift.max(floatsPerRow, 1)) / 16 * 16))
}

/// The workers `forEachPointwiseChunk` runs on.
private func pointwiseChunkWorkers(rows: Int, chunk: Int) -> Int {
    Swift.max(1, Swift.min(Parallelism.threadCount, (rows + chunk - 1) / chunk))
}

/// Deals chunks of `chunk` rows (the last one shorter) round-robin to the workers:
/// `body(worker, first row, rows)`, a worker's chunks in order.
private func forEachPointwiseChunk(rows: Int, chunk: Int, _ body: (_ worker: Int, _ start: Int, _ count: Int) -> Void) {
    let chunks = (rows + chunk - 1) / chunk
    forEachWorker(limit: pointwiseChunkWorkers(rows: rows, chunk: chunk)) { worker, workers in
        var c = worker
        while c < chunks {
            body(worker, c * chunk, Swift.min(chunk, rows - c * chunk))
            c += workers
        }
    }
}

/// How a convolution's output rows (image-major) are cut into chunks and dealt to workers.
private struct RowChunks {
    let total: Int
    let perChunk: Int
    let chunks: Int
    let workers: Int

    init(_ g: Conv2DGeometry, budget: Int) {
        total = g.batch * g.window.height.output
        perChunk = g.rowsPerChunk(budget: budget, limit: Swift.max(total, 1))
        chunks = (total + perChunk - 1) / perChunk
        workers = Swift.max(1, Swift.min(Parallelism.threadCount, chunks))
    }
}

/// Deals the chunks round-robin to `plan.workers` workers, each with its own scratch column
/// buffer.
private func forEachRowChunk(
    _ g: Conv2DGeometry, _ plan: RowChunks,
    _ body: (_ rows: Range<Int>, _ columns: UnsafeMutablePointer<Float>, _ worker: Int) -> Void
) {
    forEachWorker(limit: plan.workers) { worker, workers in
        Workspace.withBuffer(count: plan.perChunk * g.window.width.output * g.columnCount) { col in
            var chunk = worker
            while chunk < plan.chunks {
                let start = chunk * plan.perChunk
                body(start..<Swift.min(start + plan.perChunk, plan.total), col, worker)
                chunk += workers
            }
        }
    }
}

/// Walks the column-matrix rows of the output `rows` (image-major: row n * outputHeight + oh) in
/// order, one stretch at a time: `segment` gets the stretch's offset in the column matrix, the
/// offset of the input elements it mirrors (-1 where the patch lies in the padding) and its length.
/// Patches are laid out in (kh, kw, ci) order; a kernel row inside the image is one stretch.
/// im2col and col2im are the two directions of this one walk.
@inline(__always)
private func forEachPatchSegment(_ g: Conv2DGeometry, rows: Range<Int>, _ segment: (_ column: Int, _ input: Int, _ count: Int) -> Void) {
    let h = g.window.height, w = g.window.width
    let cin = g.inChannels, k = g.columnCount
    let rowLength = w.window * cin
    var column = 0
    for row in rows {
        let n = row / h.output, oh = row % h.output
        for ow in 0..<w.output {
            let iw0 = w.start(ow)
            let inside = w.dilation == 1 && iw0 >= 0 && iw0 + w.window <= w.input
            for kh in 0..<h.window {
                let ih = h.start(oh) + kh * h.dilation
                let c = column + kh * rowLength
                if ih < 0 || ih >= h.input {
                    segment(c, -1, rowLength)
                    continue
                }
                let inputRow = ((n * h.input + ih) * w.input) * cin
                if inside {
                    segment(c, inputRow + iw0 * cin, rowLength)
                } else {
                    for kw in 0..<w.window {
                        let iw = iw0 + kw * w.dilation
                        segment(c + kw * cin, iw < 0 || iw >= w.input ? -1 : inputRow + iw * cin, cin)
                    }
                }
            }
            column += k
        }
    }
}

/// Writes one column-matrix row per output pixel of the output `rows`: the kernel-sized patch it
/// sees, zeros where the patch leaves the input. Runs on the calling thread.
func im2col(_ input: UnsafePointer<Float>, _ g: Conv2DGeometry, rows: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    forEachPatchSegment(g, rows: rows) { column, source, count in
        if source < 0 {
            (col + column).initialize(repeating: 0, count: count)
        } else {
            (col + column).initialize(from: input + source, count: count)
        }
    }
}

/// The adjoint of `im2col`: adds each column-matrix row of the output `rows` back onto the input
/// elements its patch was copied from. Runs on the calling thread; callers give each thread rows
/// of different images.
func col2im(_ col: UnsafePointer<Float>, _ g: Conv2DGeometry, rows: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
    forEachPatchSegment(g, rows: rows) { column, target, count in
        guard target >= 0 else { return }
        let t = dx + target, s = col + column
        for i in 0..<count { t[i] += s[i] }
    }
}
