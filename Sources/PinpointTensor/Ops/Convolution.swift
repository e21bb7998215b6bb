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

func gathersBatchMoments(inputShape: [Int], kernelShape: [Int], strides: (Int, Int), padding: Padding, dilation: (Int, Int),
                                 minimumCount: Int) -> Conv2DGeometry? {
    guard let g = try? Conv2DGeometry(inputShape: inputShape, kernelShape: kernelShape, strides: strides, padding: padding,
                                      dilation: dilation, operation: "conv2DWithBatchMoments"),
          g.isPointwise, g.batch * g.pixelsPerImage * g.outChannels >= minimumCount else { return nil }
    return g
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
