import CPinpointKernels

// NHWC depthwise 2-D convolution, as tf.nn.depthwise_conv2d: kernel [KH, KW, C, M] (M is the depth
// multiplier), output channel c * M + m sees only input channel c. A direct kernel: each output
// row accumulates kernel taps with the innermost loop over channels, contiguous in NHWC, so it
// vectorizes; a loop of per-channel convolutions (or an im2col per group) would not (Caffe issue
// #5649). Threads own output rows (forward), input rows (input gradient, each gathered from the
// output rows that see it), or accumulate private kernel gradients summed at the end.

/// Inputs larger than this many bytes are read by the depthwise rows in address order (the
/// `streaming` kernels): they come from memory, where reading a row group by group, each pixel's
/// lines a row's stride apart, leaves the hardware prefetcher behind. Smaller ones stay in the
/// last-level cache (32 MiB on the machines measured), where the taps held in registers across a
/// row are faster: MobileNetV2's 576 channels at 14x14 (18 MB at batch 40) ran 7-15% slower
/// streamed, its 192 at 28x28 (24 MB) 1.6x faster.
let depthwiseStreamingBytes = 20 << 20

/// Whether the depthwise rows read `input` with the streaming kernels.
private func readsStreaming(_ input: Tensor) -> Bool { input.count * MemoryLayout<Float>.stride > depthwiseStreamingBytes }

private func depthwiseGeometry(_ inputShape: [Int], _ kernelShape: [Int], _ strides: (Int, Int), _ padding: Padding,
                               _ dilation: (Int, Int), _ operation: String) -> (WindowGeometry, multiplier: Int) {
    do {
        guard kernelShape.count == 4 else {
            throw ShapeError.invalid(operation: operation, shape: kernelShape, detail: "depthwise kernel must be [KH, KW, C, multiplier]")
        }
        guard inputShape.count == 4, kernelShape[2] == inputShape[3] else {
            throw ShapeError.mismatch(operation: operation, expected: [kernelShape[0], kernelShape[1], inputShape.last ?? 0, kernelShape[3]],
                                      got: kernelShape, detail: "kernel channels must equal the input's, input is \(inputShape)")
        }
        let g = try WindowGeometry(inputShape: inputShape, window: (kernelShape[0], kernelShape[1]), strides: strides,
                                   dilation: dilation, padding: padding, operation: operation)
        return (g, kernelShape[3])
    } catch {
        trap(error as! ShapeError)
    }
}

/// Depthwise convolution (`tf.nn.depthwise_conv2d`), optionally with Keras `DepthwiseConv2D`'s bias
/// and activation applied to each output row as it is finished.
///
/// ```swift
/// let y = depthwiseConv2D(x, kernel: k, strides: (2, 2), padding: .valid)  // k: [3, 3, C, 1]
/// ```
public func depthwiseConv2D(_ input: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                            dilation: (Int, Int) = (1, 1), bias: Tensor? = nil, activation: FusedActivation = .linear) -> Tensor {
    let (g, m) = depthwiseGeometry(input.shape, kernel.shape, strides, padding, dilation, "depthwiseConv2D")
    KernelCounters.add(multiplyAdds: g.batch * g.height.output * g.width.output * g.channels * m * g.height.window * g.width.window)
    let x = input.contiguous(), k = kernel.contiguous()
    let h = g.height, w = g.width, c = g.channels, cm = c * m
    let epilogue = BiasActivation(bias: bias, activation: activation, channels: cm, operation: "depthwiseConv2D")
    let src = x.basePointer, taps = k.basePointer
    let streaming = readsStreaming(x)
    return withExtendedLifetime((x, k, epilogue.bias)) {
        Tensor(shape: g.outputShape(channels: cm)) { out, _ in
            parallelChunks(g.batch * h.output, costPerItem: w.output * cm * h.window * w.window) { rows in
                for row in rows {
                    let n = row / h.output, oh = row % h.output
                    let o = out + row * w.output * cm
                    if m == 1 && c % 16 == 0 {
                        depthwiseRow(src + n * h.input * w.input * c, taps, o, oh: oh, g, streaming: streaming)
                        epilogue.apply(o, rows: w.output, columns: cm)
                        continue
                    }
                    o.initialize(repeating: 0, count: w.output * cm)
                    for kh in 0..<h.window {
                        let ih = h.start(oh) + kh * h.dilation
                        if ih < 0 || ih >= h.input { continue }
                        let inputRow = src + (n * h.input + ih) * w.input * c
                        for kw in 0..<w.window {
                            let tap = taps + (kh * w.window + kw) * cm
                            for ow in 0..<w.output {
                                let iw = w.start(ow) + kw * w.dilation
                                if iw < 0 || iw >= w.input { continue }
                                let xi = inputRow + iw * c, yo = o + ow * cm
                                if m == 1 {
                                    for ch in 0..<c { yo[ch] += xi[ch] * tap[ch] }
                                } else {
                                    for ch in 0..<c { for j in 0..<m { yo[ch * m + j] += xi[ch] * tap[ch * m + j] } }
                                }
                            }
                        }
                    }
                    epilogue.apply(o, rows: w.output, columns: cm)
                }
            }
        }
    }
}

/// Gradient of `depthwiseConv2D` with respect to its input.
public func depthwiseConv2DBackpropInput(_ outputGradient: Tensor, kernel: Tensor, inputShape: [Int], strides: (Int, Int) = (1, 1),
                                         padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> Tensor {
    let (g, m) = depthwiseGeometry(inputShape, kernel.shape, strides, padding, dilation, "depthwiseConv2DBackpropInput")
    let h = g.height, w = g.width, c = g.channels, cm = c * m
    if outputGradient.shape != g.outputShape(channels: cm) {
        trap(.mismatch(operation: "depthwiseConv2DBackpropInput", expected: g.outputShape(channels: cm), got: outputGradient.shape,
                       detail: "output gradient"))
    }
    // At stride 1 with SAME padding and an odd window, the input gradient is the forward
    // convolution of the output gradient with the kernel rotated 180 degrees (the padding is its
    // own mirror): a gather through the vectorized forward kernel instead of a scatter.
    if m == 1 && c % 16 == 0 && strides == (1, 1) && dilation == (1, 1) && padding == .same && h.window % 2 == 1 && w.window % 2 == 1 {
        return depthwiseConv2D(outputGradient, kernel: rotatedHalfTurn(kernel), padding: .same)
    }
    KernelCounters.add(multiplyAdds: g.batch * h.output * w.output * cm * h.window * w.window)
    let dy = outputGradient.contiguous(), k = kernel.contiguous()
    let grad = dy.basePointer, taps = k.basePointer
    if m == 1 && c % 16 == 0 && w.window <= 16 {
        // Input row by input row, each written once from the output rows that see it (a
        // gather): a scatter of output rows into a zeroed image writes the image once to zero it,
        // then reads and writes each row again per kernel tap, and where the image is larger than
        // L2 its zeroed rows have left the cache before the scatter reaches them.
        return withExtendedLifetime((dy, k)) {
            Tensor(shape: inputShape) { dx, _ in
                parallelChunks(g.batch * h.input, costPerItem: w.input * c * h.window * w.window / (h.stride * w.stride)) { rows in
                    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 2 * h.window) { pointers in
                        let dyRows = pointers.baseAddress!, tapRows = dyRows + h.window
                        for row in rows {
                            let n = row / h.input, ih = row % h.input
                            // Output rows in ascending order: kernel rows from the last.
                            var count = 0
                            for kh in stride(from: h.window - 1, through: 0, by: -1) {
                                let t = ih + h.padBefore - kh * h.dilation
                                guard t >= 0, t % h.stride == 0, t / h.stride < h.output else { continue }
                                dyRows[count] = UnsafePointer(grad + (n * h.output + t / h.stride) * w.output * c)
                                tapRows[count] = UnsafePointer(taps + kh * w.window * c)
                                count += 1
                            }
                            kernels.depthwise_gather_row(dyRows, tapRows, Int32(count), Int32(w.window), Int32(w.stride),
                                                         Int32(w.padBefore), Int32(w.dilation), Int32(w.output), Int32(w.input),
                                                         Int32(c), dx + row * w.input * c)
                        }
                    }
                }
            }
        }
    }
    let imageSize = h.input * w.input * c
    return withExtendedLifetime((dy, k)) {
        Tensor(shape: inputShape) { dx, _ in
            // Threads own whole images: the scatter from an image's outputs stays in that image.
            parallelChunks(g.batch, costPerItem: h.output * w.output * cm * h.window * w.window) { images in
                for n in images {
                    (dx + n * imageSize).initialize(repeating: 0, count: imageSize)
                    for oh in 0..<h.output {
                        let g0 = grad + (n * h.output + oh) * w.output * cm
                        for kh in 0..<h.window {
                            let ih = h.start(oh) + kh * h.dilation
                            if ih < 0 || ih >= h.input { continue }
                            let inputRow = dx + (n * h.input + ih) * w.input * c
                            for kw in 0..<w.window {
                                let tap = taps + (kh * w.window + kw) * cm
                                for ow in 0..<w.output {
                                    let iw = w.start(ow) + kw * w.dilation
                                    if iw < 0 || iw >= w.input { continue }
                                    let xi = inputRow + iw * c, gy = g0 + ow * cm
                                    if m == 1 {
                                        for ch in 0..<c { xi[ch] += gy[ch] * tap[ch] }
                                    } else {
                                        for ch in 0..<c { for j in 0..<m { xi[ch] += gy[ch * m + j] * tap[ch * m + j] } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Gradient of `depthwiseConv2D` with respect to its kernel.
public func depthwiseConv2DBackpropKernel(_ input: Tensor, outputGradient: Tensor, kernelShape: [Int], strides: (Int, Int) = (1, 1),
                                          padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> Tensor {
    let (g, m) = depthwiseGeometry(input.shape, kernelShape, strides, padding, dilation, "depthwiseConv2DBackpropKernel")
    let h = g.height, w = g.width, c = g.channels, cm = c * m
    KernelCounters.add(multiplyAdds: g.batch * h.output * w.output * cm * h.window * w.window)
    if outputGradient.shape != g.outputShape(channels: cm) {
        trap(.mismatch(operation: "depthwiseConv2DBackpropKernel", expected: g.outputShape(channels: cm), got: outputGradient.shape,
                       detail: "output gradient"))
    }
    let x = input.contiguous(), dy = outputGradient.contiguous()
    let src = x.basePointer, grad = dy.basePointer
    let count = elementCount(kernelShape)
    let rows = g.batch * h.output
    let vectorized = m == 1 && c % 16 == 0 && h.window == 3 && w.window == 3 && dilation == (1, 1)
    let streaming = readsStreaming(x)
    return withExtendedLifetime((x, dy)) {
        Tensor(shape: kernelShape) { dk, _ in
            let workers = Swift.max(1, Swift.min(Parallelism.threadCount, rows))
            Workspace.withBuffer(count: workers * count) { partials in
                partials.initialize(repeating: 0, count: workers * count)
                forEachWorker(limit: workers) { worker, total in
                    let acc = partials + worker * count
                    var row = worker
                    while row < rows {
                        let n = row / h.output, oh = row % h.output
                        let g0 = grad + row * w.output * cm
                        if vectorized {
                            depthwiseKernelGradientRow(src + n * h.input * w.input * c, g0, acc, oh: oh, g, streaming: streaming)
                            row += total
                            continue
                        }
                        for kh in 0..<h.window {
                            let ih = h.start(oh) + kh * h.dilation
                            if ih < 0 || ih >= h.input { continue }
                            let inputRow = src + (n * h.input + ih) * w.input * c
                            for kw in 0..<w.window {
                                let tap = acc + (kh * w.window + kw) * cm
                                for ow in 0..<w.output {
                                    let iw = w.start(ow) + kw * w.dilation
                                    if iw < 0 || iw >= w.input { continue }
                                    let xi = inputRow + iw * c, gy = g0 + ow * cm
                                    if m == 1 {
                                        for ch in 0..<c { tap[ch] += xi[ch] * gy[ch] }
                                    } else {
                                        for ch in 0..<c { for j in 0..<m { tap[ch * m + j] += xi[ch] * gy[ch * m + j] } }
                                    }
                                }
                            }
                        }
                        row += total
                    }
                }
                dk.initialize(from: partials, count: count)
                for worker in 1..<workers {
                    let p = partials + worker * count
                    for i in 0..<count { dk[i] += p[i] }
                }
            }
        }
    }
}
