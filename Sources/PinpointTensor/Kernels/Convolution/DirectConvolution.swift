import CPinpointKernels

// A direct convolution for layers with few inputs per output, the first layer of an image model
// above all (3x3 window, 3 channels: 27 per output). Through im2col such a layer is a GEMM with
// an inner dimension of 27 and 32 columns, where OpenBLAS spends its time packing, and the
// column buffer it reads is nine times the image. Here each output row's window rows are copied
// once, zero-padded, into a small buffer; four output pixels by 32 output channels accumulate in
// registers over the window, each input value broadcast against two 16-channel kernel vectors.

/// Whether `conv2D` takes the direct kernel: at most `directConvolutionMaximumColumns` inputs per
/// output, output channels in multiples of 16, undilated, not pointwise.
func usesDirectConvolution(_ g: Conv2DGeometry) -> Bool {
    !g.isPointwise && g.columnCount <= directConvolutionMaximumColumns && g.outChannels % 16 == 0
        && g.window.height.dilation == 1 && g.window.width.dilation == 1
}

/// Beyond this many inputs per output (a 3x3 window on 8 channels) im2col + SGEMM is the faster path.
let directConvolutionMaximumColumns = 72

/// The direct convolution, with its epilogue; with `pooling` (a max-pooling window over the
/// convolution's output), the max-pooled result: each pooled row's convolution rows are computed
/// into a per-thread buffer and pooled there, so the full-size output never reaches memory.
/// With `windows` (2x2 pooling at stride 2, see `MaxPoolWindows`), each window's maximum cell is
/// recorded there too.
func directConv2D(_ x: Tensor, kernel w: Tensor, _ g: Conv2DGeometry, epilogue: BiasActivation, pooling: WindowGeometry? = nil,
                  windows: UnsafeMutablePointer<Float>? = nil) -> Tensor {
    let h = g.window.height, wd = g.window.width, cin = g.inChannels, cout = g.outChannels
    KernelCounters.add(multiplyAdds: g.batch * g.pixelsPerImage * g.columnCount * cout)
    // The columns the windows cover, from column -padBefore: one row of the padded image.
    let paddedWidth = (wd.output - 1) * wd.stride + wd.window
    let rowLength = paddedWidth * cin
    let outputRows = pooling?.height.output ?? h.output
    let convolutionRowSize = wd.output * cout
    // Pooled without recording windows, the epilogue runs on the pooled rows: a bias and a
    // non-decreasing activation commute with the maximum, and there are a quarter as many values.
    // Recording windows, it runs first, so that the cells are those of the activated output, as
    // the backward pass routes them.
    let epilogueAfterPooling = pooling != nil && windows == nil && epilogue.commutesWithMaximum
    // 2x2 windows at stride 2 from the top left take the windows kernel, without its cells when
    // none are recorded: no loop over each window's clipped extent.
    let twoByTwo = pooling?.isTwoByTwoFromTopLeft ?? false
    precondition(windows == nil || twoByTwo, "directConv2D: windows are recorded for 2x2 pooling at stride 2 only")
    /// Convolution output row `oh` of image `n` into `o`, through the padded-rows buffer.
    func convolutionRow(_ n: Int, _ oh: Int, _ padded: UnsafeMutablePointer<Float>, _ o: UnsafeMutablePointer<Float>) {
        copyWindowRows(x.basePointer, image: n, outputRow: oh, g, into: padded, rowLength: rowLength)
        directConvolutionRow(padded, rowLength: rowLength, w.basePointer, o, g)
        if !epilogueAfterPooling { epilogue.apply(o, rows: wd.output, columns: cout) }
    }
    let shape = pooling.map { $0.outputShape(channels: cout) } ?? g.outputShape
    return withExtendedLifetime((x, w, epilogue.bias)) {
        Tensor(shape: shape) { out, _ in
            parallelChunks(g.batch * outputRows, costPerItem: wd.output * g.columnCount * cout * (pooling?.height.window ?? 1)) { rows in
                Workspace.withBuffer(count: h.window * rowLength + (pooling?.height.window ?? 0) * convolutionRowSize) { padded in
                    let pooled = padded + h.window * rowLength
                    for row in rows {
                        let n = row / outputRows, r = row % outputRows
                        guard let pooling else {
                            convolutionRow(n, r, padded, out + row * convolutionRowSize)
                            continue
                        }
                        let convolutionRows = pooling.height.validRange(r)
                        for (i, oh) in convolutionRows.enumerated() { convolutionRow(n, oh, padded, pooled + i * convolutionRowSize) }
                        let pooledRow = row * pooling.width.output * cout
                        if twoByTwo {
                            maxPoolRowRecordingWindows(pooled, rowCount: convolutionRows.count, width: wd.output, pooledWidth: pooling.width.output,
                                                       channels: cout, into: out + pooledRow, cells: windows.map { $0 + pooledRow })
                        } else {
                            maxPoolRow(pooled, rows: convolutionRows.count, pooling.width, channels: cout, into: out + pooledRow)
                        }
                        if epilogueAfterPooling { epilogue.apply(out + pooledRow, rows: pooling.width.output, columns: cout) }
                    }
                }
            }
        }
    }
}

/// The input rows output row `oh` of image `n` reads, zero-padded: `h.window` rows of
/// `rowLength` floats, each covering the columns the windows span from column -padBefore.
@inline(__always)
private func copyWindowRows(_ x: UnsafePointer<Float>, image n: Int, outputRow oh: Int, _ g: Conv2DGeometry,
                            into padded: UnsafeMutablePointer<Float>, rowLength: Int) {
    let h = g.window.height, wd = g.window.width, cin = g.inChannels
    let inside = Swift.max(0, Swift.min(wd.input, rowLength / cin - wd.padBefore))
    for kh in 0..<h.window {
        let ih = h.start(oh) + kh
        let dst = padded + kh * rowLength
        if ih < 0 || ih >= h.input {
            dst.update(repeating: 0, count: rowLength)
            continue
        }
        dst.update(repeating: 0, count: wd.padBefore * cin)
        (dst + wd.padBefore * cin).update(from: x + (n * h.input + ih) * wd.input * cin, count: inside * cin)
        (dst + (wd.padBefore + inside) * cin).update(repeating: 0, count: rowLength - (wd.padBefore + inside) * cin)
    }
}

/// Whether `conv2DBackpropKernel` takes the direct kernel gradient: the direct forward's
/// layers whose kernel rows hold nine values per output channel (3 wide on 3 channels: RGB).
func usesDirectKernelGradient(_ g: Conv2DGeometry) -> Bool {
    usesDirectConvolution(g) && g.window.width.window * g.inChannels == 9
}

/// The kernel gradient of a direct-kernel convolution: dk[kh, j, o] = sum over output pixels of
/// x_window[kh, j] dy[o], without im2col's column buffer (nine times the image) or a GEMM with an
/// inner dimension of 27. Per output row and kernel row, the nine taps by 32 channels accumulate
/// in registers over the row's pixels; threads sum private gradients at the end.
///
/// With `routing` (the windows of the 2x2 max pooling after the convolution and the pooled
/// gradient) and no `dy`, each output row's gradient is routed from the pooled one as it is
/// needed, and never stored whole.
func directConv2DBackpropKernel(_ x: Tensor, outputGradient dy: Tensor?, _ g: Conv2DGeometry,
                                routing: (windows: MaxPoolWindows, pooledGradient: Tensor)? = nil) -> Tensor {
    let h = g.window.height, wd = g.window.width, cout = g.outChannels
    KernelCounters.add(multiplyAdds: g.batch * g.pixelsPerImage * g.columnCount * cout)
    let rowLength = ((wd.output - 1) * wd.stride + wd.window) * g.inChannels
    let step = wd.stride * g.inChannels
    let rows = g.batch * h.output, count = g.columnCount * cout
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, rows))
    let rowSize = wd.output * cout
    return withExtendedLifetime((x, dy, routing)) {
        Tensor(shape: g.kernelShape) { dk, _ in
            Workspace.withBuffer(count: workers * (count + h.window * rowLength + rowSize)) { buffer in
                buffer.update(repeating: 0, count: workers * count)
                forEachWorker(limit: workers) { worker, total in
                    let acc = buffer + worker * count, padded = buffer + workers * count + worker * h.window * rowLength
                    let routed = buffer + workers * (count + h.window * rowLength) + worker * rowSize
                    for row in (rows * worker / total)..<(rows * (worker + 1) / total) {
                        copyWindowRows(x.basePointer, image: row / h.output, outputRow: row % h.output, g, into: padded, rowLength: rowLength)
                        let gradientRow: UnsafePointer<Float>
                        if let dy {
                            gradientRow = UnsafePointer(dy.basePointer + row * rowSize)
                        } else {
                            let (windows, gz) = routing!
                            routeWindowsRow(windows, pooledGradient: gz.basePointer, image: row / h.output, row: row % h.output, into: routed)
                            gradientRow = UnsafePointer(routed)
                        }
                        for r in 0..<h.window {
                            kernels.direct_kernel_gradient_row9(padded + r * rowLength, Int32(step), gradientRow, Int32(cout),
                                                                Int32(wd.output), acc + r * 9 * cout)
                        }
                    }
                }
                dk.update(from: buffer, count: count)
                for worker in 1..<workers {
                    let p = buffer + worker * count
                    for i in 0..<count { dk[i] += p[i] }
                }
            }
        }
    }
}

/// One row of max pooling over `rows` rows of input held contiguously (channels in multiples
/// of 16): each output pixel takes the maximum over its window's valid cells.
private func maxPoolRow(_ input: UnsafePointer<Float>, rows: Int, _ w: WindowAxis, channels: Int, into out: UnsafeMutablePointer<Float>) {
    kernels.max_pool_row(input, Int32(rows), Int32(w.input), Int32(w.window), Int32(w.stride), Int32(w.padBefore), Int32(w.output),
                         Int32(channels), out)
}

/// One output row from the window's zero-padded input rows (`rowLength` floats apart): four
/// output pixels by 32 channels accumulate in registers (the kernel set's `direct_conv_row`).
@inline(__always)
private func directConvolutionRow(_ padded: UnsafePointer<Float>, rowLength: Int, _ kernel: UnsafePointer<Float>,
                                  _ out: UnsafeMutablePointer<Float>, _ g: Conv2DGeometry) {
    // Per kernel row, a pixel's inputs are contiguous in the padded row (kw, then channel), in
    // the order of the HWIO kernel's rows.
    let wd = g.window.width
    kernels.direct_conv_row(padded, rowLength, Int32(g.window.height.window), Int32(wd.window * g.inChannels),
                            Int32(wd.stride * g.inChannels), kernel, Int32(g.outChannels), Int32(wd.output), out)
}
