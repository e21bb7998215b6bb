// NHWC 2-D convolution with HWIO kernels, as tf.nn.conv2d:
//   forward           im2col (one row per output pixel) x kernel[KH*KW*Cin, Cout] -> NHWC output
//   input gradient    dOut x kernel^T -> columns, then col2im (gathered per input row, so threads never collide)
//   kernel gradient   columns^T x dOut, accumulated over chunks of images
// A 1x1, stride-1 convolution skips im2col: the NHWC input already is the column matrix.
// Images are processed in chunks so the column buffer stays around `columnBudget` floats.

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

    /// Images per chunk: as many as fit the column budget, at least one.
    var imagesPerChunk: Int {
        Swift.max(1, Swift.min(batch, columnBudget / Swift.max(pixelsPerImage * columnCount, 1)))
    }
}

/// Column-buffer size (floats) that chunks aim for: large enough for efficient GEMMs, small enough
/// to stay mostly in cache and keep memory flat.
let columnBudget = 1 << 21

private func check(_ body: () throws(ShapeError) -> Conv2DGeometry) -> Conv2DGeometry {
    do { return try body() } catch { trap(error) }
}

/// 2-D convolution, NHWC input and HWIO kernel (`tf.nn.conv2d`, Keras `Conv2D` without bias).
///
/// ```swift
/// let y = conv2D(x, kernel: w, strides: (2, 2), padding: .same)   // [N, ceil(H/2), ceil(W/2), Cout]
/// ```
public func conv2D(_ input: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                   dilation: (Int, Int) = (1, 1)) -> Tensor {
    let g = check { () throws(ShapeError) in
        try Conv2DGeometry(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding, dilation: dilation)
    }
    let x = input.contiguous(), w = kernel.contiguous()
    let k = g.columnCount, cout = g.outChannels
    let wOperand = GEMMOperand(pointer: w.basePointer, transposed: false, leadingDimension: cout)
    return withExtendedLifetime((x, w)) {
        Tensor(shape: g.outputShape) { out, _ in
            if g.isPointwise {
                sgemm(GEMMOperand(pointer: x.basePointer, transposed: false, leadingDimension: k), wOperand, out,
                      m: g.batch * g.pixelsPerImage, n: cout, k: k, ldc: cout)
                return
            }
            forEachChunk(g) { images, col in
                im2col(x.basePointer, g, images: images, into: col)
                sgemm(GEMMOperand(pointer: col, transposed: false, leadingDimension: k), wOperand,
                      out + images.lowerBound * g.pixelsPerImage * cout,
                      m: images.count * g.pixelsPerImage, n: cout, k: k, ldc: cout)
            }
        }
    }
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
    let dy = outputGradient.contiguous(), w = kernel.contiguous()
    let k = g.columnCount, cout = g.outChannels
    let wT = GEMMOperand(pointer: w.basePointer, transposed: true, leadingDimension: cout)
    return withExtendedLifetime((dy, w)) {
        Tensor(shape: inputShape) { dx, count in
            if g.isPointwise {
                sgemm(GEMMOperand(pointer: dy.basePointer, transposed: false, leadingDimension: cout), wT, dx,
                      m: g.batch * g.pixelsPerImage, n: k, k: cout, ldc: k)
                return
            }
            forEachChunk(g) { images, col in
                sgemm(GEMMOperand(pointer: dy.basePointer + images.lowerBound * g.pixelsPerImage * cout, transposed: false,
                                  leadingDimension: cout), wT, col,
                      m: images.count * g.pixelsPerImage, n: k, k: cout, ldc: k)
                col2im(col, g, images: images, into: dx)
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
    let x = input.contiguous(), dy = outputGradient.contiguous()
    let k = g.columnCount, cout = g.outChannels
    return withExtendedLifetime((x, dy)) {
        Tensor(shape: kernelShape) { dw, count in
            if g.isPointwise {
                sgemm(GEMMOperand(pointer: x.basePointer, transposed: true, leadingDimension: k),
                      GEMMOperand(pointer: dy.basePointer, transposed: false, leadingDimension: cout), dw,
                      m: k, n: cout, k: g.batch * g.pixelsPerImage, ldc: cout)
                return
            }
            if g.batch == 0 { dw.initialize(repeating: 0, count: count) }
            forEachChunk(g) { images, col in
                im2col(x.basePointer, g, images: images, into: col)
                sgemm(GEMMOperand(pointer: col, transposed: true, leadingDimension: k),
                      GEMMOperand(pointer: dy.basePointer + images.lowerBound * g.pixelsPerImage * cout, transposed: false,
                                  leadingDimension: cout), dw,
                      m: k, n: cout, k: images.count * g.pixelsPerImage, ldc: cout,
                      beta: images.lowerBound == 0 ? 0 : 1)
            }
        }
    }
}

/// Calls `body` for each chunk of images with a scratch column buffer sized for that chunk.
private func forEachChunk(_ g: Conv2DGeometry, _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
    let perChunk = g.imagesPerChunk
    Workspace.withBuffer(count: perChunk * g.pixelsPerImage * g.columnCount) { col in
        var start = 0
        while start < g.batch {
            let end = Swift.min(start + perChunk, g.batch)
            body(start..<end, col)
            start = end
        }
    }
}

/// Writes one row per output pixel of `images`: the kernel-sized patch it sees, (kh, kw, ci) order,
/// zeros where the patch leaves the padded input. Rows are split across threads.
func im2col(_ input: UnsafePointer<Float>, _ g: Conv2DGeometry, images: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    let h = g.window.height, w = g.window.width
    let cin = g.inChannels, k = g.columnCount
    let rowLength = w.window * cin
    let rows = images.count * h.output
    parallelChunks(rows, costPerItem: w.output * k) { range in
        for row in range {
            let n = images.lowerBound + row / h.output, oh = row % h.output
            var dst = col + row * w.output * k
            for ow in 0..<w.output {
                let iw0 = w.start(ow)
                for kh in 0..<h.window {
                    let ih = h.start(oh) + kh * h.dilation
                    let d = dst + kh * rowLength
                    if ih < 0 || ih >= h.input {
                        d.initialize(repeating: 0, count: rowLength)
                        continue
                    }
                    let src = input + ((n * h.input + ih) * w.input) * cin
                    if w.dilation == 1 && iw0 >= 0 && iw0 + w.window <= w.input {
                        d.initialize(from: src + iw0 * cin, count: rowLength)
                    } else {
                        for kw in 0..<w.window {
                            let iw = iw0 + kw * w.dilation
                            if iw < 0 || iw >= w.input {
                                (d + kw * cin).initialize(repeating: 0, count: cin)
                            } else {
                                (d + kw * cin).initialize(from: src + iw * cin, count: cin)
                            }
                        }
                    }
                }
                dst += k
            }
        }
    }
}

/// The adjoint of `im2col`: every input pixel of `images` gathers the column entries that were
/// copied from it. Gathering (rather than scattering) lets threads own whole input rows.
func col2im(_ col: UnsafePointer<Float>, _ g: Conv2DGeometry, images: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
    let h = g.window.height, w = g.window.width
    let cin = g.inChannels, k = g.columnCount
    let rows = images.count * h.input
    parallelChunks(rows, costPerItem: w.input * cin * h.window * w.window) { range in
        for row in range {
            let local = row / h.input, ih = row % h.input
            let n = images.lowerBound + local
            let out = dx + ((n * h.input + ih) * w.input) * cin
            out.initialize(repeating: 0, count: w.input * cin)
            for kh in 0..<h.window {
                // Output row oh reads input row ih through kernel row kh when oh * stride - pad + kh * dilation == ih.
                let numerator = ih + h.padBefore - kh * h.dilation
                if numerator < 0 || numerator % h.stride != 0 { continue }
                let oh = numerator / h.stride
                if oh >= h.output { continue }
                let colRow = col + ((local * h.output + oh) * w.output) * k
                for iw in 0..<w.input {
                    let acc = out + iw * cin
                    for kw in 0..<w.window {
                        let numeratorW = iw + w.padBefore - kw * w.dilation
                        if numeratorW < 0 || numeratorW % w.stride != 0 { continue }
                        let ow = numeratorW / w.stride
                        if ow >= w.output { continue }
                        let src = colRow + ow * k + (kh * w.window + kw) * cin
                        for c in 0..<cin { acc[c] += src[c] }
                    }
                }
            }
        }
    }
}
