import CPinpointKernels

// NHWC depthwise 2-D convolution, as tf.nn.depthwise_conv2d: kernel [KH, KW, C, M] (M is the depth
// multiplier), output channel c * M + m sees only input channel c. A direct kernel: each output
// row accumulates kernel taps with the innermost loop over channels, contiguous in NHWC, so it
// vectorizes; a loop of per-channel convolutions (or an im2col per group) would not (Caffe issue
// #5649). Threads own output rows (forward), whole images (input gradient), or accumulate private
// kernel gradients summed at the end.

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
    return withExtendedLifetime((x, k, epilogue.bias)) {
        Tensor(shape: g.outputShape(channels: cm)) { out, _ in
            parallelChunks(g.batch * h.output, costPerItem: w.output * cm * h.window * w.window) { rows in
                for row in rows {
                    let n = row / h.output, oh = row % h.output
                    let o = out + row * w.output * cm
                    if m == 1 && c % 16 == 0 {
                        depthwiseRow(src + n * h.input * w.input * c, taps, o, oh: oh, g)
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
                            if m == 1 && c % 16 == 0 {
                                kernels.depthwise_scatter_row(g0, taps + kh * w.window * c, Int32(w.window), Int32(w.output), Int32(w.stride),
                                                              Int32(w.padBefore), Int32(w.dilation), Int32(w.input), Int32(c), inputRow)
                                continue
                            }
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
                            depthwiseKernelGradientRow(src + n * h.input * w.input * c, g0, acc, oh: oh, g)
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

/// One output row of a depthwise convolution with multiplier 1 and channels in multiples of 16:
/// each output pixel's 16-channel groups accumulate in a SIMD register over the kernel's taps
/// and are stored once (the general loop above adds into the output row once per tap: 9 loads
/// and stores of every output value for a 3x3 kernel). `image` is addressed as the whole image;
/// only the rows this output row's window covers are read.
@inline(__always)
func depthwiseRow(_ image: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, oh: Int,
                  _ g: WindowGeometry) {
    let w = g.width
    if g.height.window == 3 && w.window == 3 && g.height.dilation == 1 && w.dilation == 1,
       let interior = depthwiseRow3x3(image, taps, out, oh: oh, g) {
        for ow in 0..<w.output where !interior.contains(ow) { depthwisePixel(image, taps, out + ow * g.channels, oh: oh, ow: ow, g) }
        return
    }
    for ow in 0..<w.output { depthwisePixel(image, taps, out + ow * g.channels, oh: oh, ow: ow, g) }
}

/// The output pixels of row `oh` whose 3x3 window lies inside the image's columns, with the
/// kernel's taps held in registers for each 16-channel group across the row: per output vector,
/// nine loads and multiply-adds and one store, no bounds logic. Returns the columns it wrote, or
/// nil when fewer than two of the window's rows are inside the image.
@inline(__always)
private func depthwiseRow3x3(_ image: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, oh: Int,
                             _ g: WindowGeometry) -> Range<Int>? {
    let h = g.height, w = g.width, c = g.channels
    let top = h.start(oh)
    let firstRow = Swift.max(0, -top), rowCount = Swift.min(3, h.input - top) - firstRow
    guard rowCount >= 2 else { return nil }
    // Columns ow with 0 <= ow * stride - padBefore <= width - 3.
    let first = (w.padBefore + w.stride - 1) / w.stride
    let end = Swift.max(first, Swift.min(w.output, w.input - 3 + w.padBefore >= 0 ? (w.input - 3 + w.padBefore) / w.stride + 1 : 0))
    let rowStride = w.input * c, step = w.stride * c
    if end > first {
        kernels.depthwise3x3_row(image + (top + firstRow) * rowStride + (first * w.stride - w.padBefore) * c, rowStride, step, Int32(c),
                                 taps + firstRow * 3 * c, Int32(rowCount), Int32(end - first), out + first * c)
    }
    return first..<end
}

/// One output pixel (all channels, multiplier 1, channels in multiples of 16), any window.
@inline(__always)
private func depthwisePixel(_ image: UnsafePointer<Float>, _ taps: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            oh: Int, ow: Int, _ g: WindowGeometry) {
    let h = g.height, w = g.width, c = g.channels
    // Kernel rows and columns inside the image for this output pixel.
    let firstRow = Swift.max(0, (-h.start(oh) + h.dilation - 1) / h.dilation)
    let lastRow = Swift.min(h.window, (h.input - h.start(oh) + h.dilation - 1) / h.dilation)
    let firstColumn = Swift.max(0, (-w.start(ow) + w.dilation - 1) / w.dilation)
    let lastColumn = Swift.min(w.window, (w.input - w.start(ow) + w.dilation - 1) / w.dilation)
    var group = 0
    while group < c {
        var acc = SIMD16<Float>()
        for kh in firstRow..<Swift.max(firstRow, lastRow) {
            let inputRow = image + (h.start(oh) + kh * h.dilation) * w.input * c + group
            let tapRow = taps + kh * w.window * c + group
            for kw in firstColumn..<Swift.max(firstColumn, lastColumn) {
                let x = UnsafeRawPointer(inputRow + (w.start(ow) + kw * w.dilation) * c).loadUnaligned(as: SIMD16<Float>.self)
                let k = UnsafeRawPointer(tapRow + kw * c).loadUnaligned(as: SIMD16<Float>.self)
                acc += x * k
            }
        }
        UnsafeMutableRawPointer(y + group).storeBytes(of: acc, as: SIMD16<Float>.self)
        group += 16
    }
}

/// The depthwise kernel [KH, KW, C, M] turned by 180 degrees in its spatial axes.
private func rotatedHalfTurn(_ kernel: Tensor) -> Tensor {
    let k = kernel.contiguous()
    let (kh, kw) = (k.shape[0], k.shape[1]), taps = k.shape[2] * k.shape[3]
    return withExtendedLifetime(k) {
        Tensor(shape: k.shape) { out, _ in
            for a in 0..<kh {
                for b in 0..<kw {
                    (out + (a * kw + b) * taps).initialize(from: k.basePointer + ((kh - 1 - a) * kw + (kw - 1 - b)) * taps, count: taps)
                }
            }
        }
    }
}

/// Adds output row `oh`'s contribution to the gradient of a 3x3 kernel (multiplier 1, channels
/// in multiples of 16, undilated): dk[kh, kw, c] += x[ih, iw, c] * dy[oh, ow, c]. The row's
/// interior columns accumulate the nine taps in registers per 16-channel group and add them to
/// `dk` once; edge pixels take a per-tap loop.
private func depthwiseKernelGradientRow(_ image: UnsafePointer<Float>, _ dyRow: UnsafePointer<Float>, _ dk: UnsafeMutablePointer<Float>,
                                        oh: Int, _ g: WindowGeometry) {
    typealias V = SIMD16<Float>
    let h = g.height, w = g.width, c = g.channels
    let top = h.start(oh)
    let firstRow = Swift.max(0, -top), lastRow = Swift.min(3, h.input - top)
    let rowCount = lastRow - firstRow
    let first = (w.padBefore + w.stride - 1) / w.stride
    let end = rowCount < 2 ? first
        : Swift.max(first, Swift.min(w.output, w.input - 3 + w.padBefore >= 0 ? (w.input - 3 + w.padBefore) / w.stride + 1 : 0))
    let rowStride = w.input * c, step = w.stride * c
    func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    func add(_ p: UnsafeMutablePointer<Float>, _ v: V) { UnsafeMutableRawPointer(p).storeBytes(of: load(p) + v, as: V.self) }
    if end > first {
        kernels.depthwise3x3_kernel_gradient_row(image + (top + firstRow) * rowStride + (first * w.stride - w.padBefore) * c, rowStride,
                                                 step, Int32(c), dyRow + first * c, Int32(rowCount), Int32(end - first),
                                                 dk + firstRow * 3 * c)
    }
    // Edge columns (and rows with fewer than two kernel rows inside): tap by tap.
    for ow in 0..<w.output where ow < first || ow >= end {
        let d = dyRow + ow * c
        for kh in firstRow..<Swift.max(firstRow, lastRow) {
            let inputRow = image + (top + kh) * rowStride
            for kw in 0..<3 {
                let iw = w.start(ow) + kw
                if iw < 0 || iw >= w.input { continue }
                let x = inputRow + iw * c, tap = dk + (kh * 3 + kw) * c
                for group in stride(from: 0, to: c, by: 16) { add(tap + group, load(x + group) * load(d + group)) }
            }
        }
    }
}
