import CPinpointKernels
import Foundation

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
func accumulatingPerWorker(into result: UnsafeMutablePointer<Float>, count: Int, workers: Int,
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
func pointwiseChunkRows(_ rows: Int, floatsPerRow: Int) -> Int {
    Swift.max(64, Swift.min(rows, (columnBudget / Swift.max(floatsPerRow, 1)) / 16 * 16))
}

/// The workers `forEachPointwiseChunk` runs on.
private func pointwiseChunkWorkers(rows: Int, chunk: Int) -> Int {
    Swift.max(1, Swift.min(Parallelism.threadCount, (rows + chunk - 1) / chunk))
}

/// Deals chunks of `chunk` rows (the last one shorter) round-robin to the workers:
/// `body(worker, first row, rows)`, a worker's chunks in order.
func forEachPointwiseChunk(rows: Int, chunk: Int, _ body: (_ worker: Int, _ start: Int, _ count: Int) -> Void) {
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
struct RowChunks {
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
func forEachRowChunk(
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
