// A convolution followed by max pooling (the tutorial CNN's four Conv2D + MaxPooling2D pairs) as
// one operation. The direct kernel pools each group of output rows while it is in cache; Winograd
// pools each 4x4 output tile's four 2x2 windows as the tile is transformed. The convolution's
// full-size output (four times the pooled one) never reaches memory.
//
// For training, 2x2 stride-2 pooling also records which cell of each window held its maximum, a
// value per pooled value (`MaxPoolWindows`): that is all the backward pass needs of the full-size
// output, which then is neither written nor read back (257 MB for the tutorial CNN's first layer
// at 224, where the windows take 64 MB).

/// Which cell of each 2x2, stride-2 max-pooling window held the window's maximum: 0 top left,
/// 1 top right, 2 bottom left, 3 bottom right, the first in that order among equal values, which
/// is the cell `maxPool2DBackprop` routes the gradient to. Kept as Floats, the pooled tensor's
/// shape: the routing then compares them in the same vector lanes as the gradient (bytes took
/// a lane-by-lane widening there and ran the backward pass 3-5x slower).
public struct MaxPoolWindows: Sendable {
    /// The pooling's input shape (the convolution's output), [N, H, W, C].
    public let inputShape: [Int]
    /// The cells, 0 to 3, one per pooled value.
    let cells: Tensor

    /// The pooled shape, [N, PH, PW, C].
    public var outputShape: [Int] { cells.shape }
}

/// Whether `conv2DMaxPool(recordingWindows:)` takes a fused path for this convolution and pooling:
/// 2x2 windows at stride 2 from the top left, output channels in multiples of 16, on the direct
/// kernel or Winograd.
private func recordsWindows(_ g: Conv2DGeometry, _ pooling: WindowGeometry) -> Bool {
    let h = pooling.height, w = pooling.width
    return h.window == 2 && w.window == 2 && h.stride == 2 && w.stride == 2 && h.padBefore == 0 && w.padBefore == 0
        && g.outChannels % 16 == 0 && (usesWinograd(g) || usesDirectConvolution(g))
}

/// `maxPool2D(conv2D(input, ...), ...)`. For a convolution the direct kernel takes (an image
/// model's first layer), in one pass that pools each group of output rows while it is in cache;
/// for a Winograd convolution with 2x2 pooling, as each 4x4 output tile is transformed. Either
/// way the convolution's full-size output is never written. For inference: nothing is kept for a
/// backward pass.
///
/// ```swift
/// let y = conv2DMaxPool(x, kernel: k, padding: .same, bias: b, activation: .relu, poolSize: (2, 2))
/// ```
public func conv2DMaxPool(_ input: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                          dilation: (Int, Int) = (1, 1), bias: Tensor? = nil, activation: FusedActivation = .linear,
                          poolSize: (Int, Int) = (2, 2), poolStrides: (Int, Int)? = nil, poolPadding: Padding = .valid) -> Tensor {
    if let g = try? Conv2DGeometry(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding, dilation: dilation),
       let pooling = try? WindowGeometry(inputShape: g.outputShape, window: poolSize, strides: poolStrides ?? poolSize,
                                         padding: poolPadding, operation: "conv2DMaxPool") {
        let epilogue = BiasActivation(bias: bias, activation: activation, channels: g.outChannels, operation: "conv2DMaxPool")
        // Winograd's 4x4 output tiles hold whole 2x2 pooling windows when both start at the top
        // left; the pooled maximum then takes the epilogue, which commutes with it for these
        // activations.
        if usesWinograd(g), g.outChannels % 16 == 0, poolSize == (2, 2), poolStrides ?? poolSize == (2, 2), pooling.height.padBefore == 0,
           pooling.width.padBefore == 0, [.linear, .relu, .relu6].contains(activation) {
            return winogradConv2D(input, kernel: kernel, g, epilogue: epilogue, pooled: (pooling.height.output, pooling.width.output))
        }
        if usesDirectConvolution(g) {
            return directConv2D(input.contiguous(), kernel: kernel.contiguous(), g, epilogue: epilogue, pooling: pooling)
        }
    }
    let y = conv2D(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: bias, activation: activation)
    return maxPool2D(y, poolSize: poolSize, strides: poolStrides, padding: poolPadding)
}

/// `maxPool2D(conv2D(input, ...), poolSize: (2, 2), padding: poolPadding)` for training: the
/// pooled result with the windows' maxima (`MaxPoolWindows`) for the backward pass, in one pass
/// that never writes the convolution's full-size output. Each pooled value is exactly the one
/// the two operations give. Nil where no fused path applies (see `recordsWindows`): the caller
/// then runs the two operations and keeps the convolution's output.
public func conv2DMaxPool(recordingWindows input: Tensor, kernel: Tensor, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                          dilation: (Int, Int) = (1, 1), bias: Tensor? = nil, activation: FusedActivation = .linear,
                          poolPadding: Padding = .valid) -> (pooled: Tensor, windows: MaxPoolWindows)? {
    guard let g = try? Conv2DGeometry(inputShape: input.shape, kernelShape: kernel.shape, strides: strides, padding: padding, dilation: dilation),
          let pooling = try? WindowGeometry(inputShape: g.outputShape, window: (2, 2), strides: (2, 2), padding: poolPadding,
                                            operation: "conv2DMaxPool"),
          recordsWindows(g, pooling) else { return nil }
    let epilogue = BiasActivation(bias: bias, activation: activation, channels: g.outChannels, operation: "conv2DMaxPool")
    let pooledShape = pooling.outputShape(channels: g.outChannels)
    var pooled: Tensor?
    let cells = Tensor(shape: pooledShape) { cells, _ in
        pooled = usesWinograd(g)
            ? winogradConv2D(input, kernel: kernel, g, epilogue: epilogue, pooled: (pooling.height.output, pooling.width.output), windows: cells)
            : directConv2D(input.contiguous(), kernel: kernel.contiguous(), g, epilogue: epilogue, pooling: pooling, windows: cells)
    }
    return (pooled!, MaxPoolWindows(inputShape: g.outputShape, cells: cells))
}

/// One row of 2x2, stride-2 max pooling over `rowCount` (1 or 2) rows of `width` pixels held
/// contiguously (channels in multiples of 16), recording each window's maximum cell: pooled
/// pixel pw takes columns 2pw and 2pw + 1 where they exist, compared in window order (row, then
/// column) so the first of equal values wins, as `maxPool2DBackprop` routes.
func maxPoolRowRecordingWindows(_ input: UnsafePointer<Float>, rowCount: Int, width: Int, pooledWidth: Int, channels: Int,
                                into out: UnsafeMutablePointer<Float>, cells: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    func load(_ r: Int, _ c: Int, _ group: Int) -> V { UnsafeRawPointer(input + (r * width + c) * channels + group).loadUnaligned(as: V.self) }
    for pw in 0..<pooledWidth {
        let hasColumn = 2 * pw + 1 < width, hasRow = rowCount > 1
        for group in stride(from: 0, to: channels, by: 16) {
            var best = load(0, 2 * pw, group), cell = V()
            // A compare and a blend per cell (pointwiseMax goes lane by lane through Float.maximum).
            func consider(_ value: V, _ index: Float) {
                let wins = value .> best
                best.replace(with: value, where: wins)
                cell.replace(with: index, where: wins)
            }
            if hasColumn { consider(load(0, 2 * pw + 1, group), 1) }
            if hasRow { consider(load(1, 2 * pw, group), 2) }
            if hasRow && hasColumn { consider(load(1, 2 * pw + 1, group), 3) }
            UnsafeMutableRawPointer(out + pw * channels + group).storeBytes(of: best, as: V.self)
            UnsafeMutableRawPointer(cells + pw * channels + group).storeBytes(of: cell, as: V.self)
        }
    }
}

/// One pixel of the gradient the windows route back to the pooling's input, all `channels`
/// (multiples of 16): the window's pooled gradient (at `gradient`) where its maximum cell (at
/// `cells`) is the pixel's `cell`, zero elsewhere. The one routing rule, for the rows below and
/// for `WinogradSource`'s tiles.
@inline(__always)
func routeWindowCell(_ cell: Float, cells: UnsafePointer<Float>, gradient: UnsafePointer<Float>, channels: Int,
                     into out: UnsafeMutablePointer<Float>) {
    typealias V = SIMD16<Float>
    for group in stride(from: 0, to: channels, by: 16) {
        let g = UnsafeRawPointer(gradient + group).loadUnaligned(as: V.self)
        let here = UnsafeRawPointer(cells + group).loadUnaligned(as: V.self) .== cell
        UnsafeMutableRawPointer(out + group).storeBytes(of: V().replacing(with: g, where: here), as: V.self)
    }
}

/// Row `row` of image `n` of the gradient the windows route back to the pooling's input: each
/// pooled gradient to its window's maximum cell, zeros elsewhere (and in rows and columns no
/// window covers).
@inline(__always)
func routeWindowsRow(_ windows: MaxPoolWindows, pooledGradient gz: UnsafePointer<Float>, image n: Int, row: Int,
                     into out: UnsafeMutablePointer<Float>) {
    let (width, channels) = (windows.inputShape[2], windows.inputShape[3])
    let (pooledHeight, pooledWidth) = (windows.outputShape[1], windows.outputShape[2])
    let pr = row / 2
    guard pr < pooledHeight else {
        out.update(repeating: 0, count: width * channels)
        return
    }
    let first = Float(row % 2 * 2)
    let offset = ((n * pooledHeight + pr) * pooledWidth) * channels
    let cells = UnsafePointer(windows.cells.basePointer + offset), gradient = gz + offset
    for pw in 0..<pooledWidth {
        let (c, g, left) = (cells + pw * channels, gradient + pw * channels, out + 2 * pw * channels)
        routeWindowCell(first, cells: c, gradient: g, channels: channels, into: left)
        if 2 * pw + 1 < width { routeWindowCell(first + 1, cells: c, gradient: g, channels: channels, into: left + channels) }
    }
    (out + 2 * pooledWidth * channels).update(repeating: 0, count: (width - Swift.min(width, 2 * pooledWidth)) * channels)
}

/// The gradient of 2x2 max pooling from its recorded windows: `pooledGradient` routed to each
/// window's maximum cell, as `maxPool2DBackprop(_:input:output:)` routes it from the pooling's
/// input and output.
public func maxPool2DBackprop(_ pooledGradient: Tensor, windows: MaxPoolWindows) -> Tensor {
    if pooledGradient.shape != windows.outputShape {
        trap(.mismatch(operation: "maxPool2DBackprop", expected: windows.outputShape, got: pooledGradient.shape, detail: "pooled gradient"))
    }
    let gz = pooledGradient.contiguous()
    let (batch, height, width, channels) = (windows.inputShape[0], windows.inputShape[1], windows.inputShape[2], windows.inputShape[3])
    return withExtendedLifetime(gz) {
        Tensor(shape: windows.inputShape) { out, _ in
            parallelChunks(batch * height, costPerItem: width * channels) { rows in
                for row in rows {
                    routeWindowsRow(windows, pooledGradient: gz.basePointer, image: row / height, row: row % height,
                                    into: out + row * width * channels)
                }
            }
        }
    }
}

/// The input gradient of `conv2DMaxPool(recordingWindows:...)` from the gradient of its pooled
/// result (already through the activation's derivative). On the Winograd path the windows route
/// the pooled gradient as each tile is gathered, so the full-size gradient is never formed;
/// otherwise `maxPool2DBackprop(_:windows:)` then `conv2DBackpropInput`.
public func conv2DMaxPoolBackpropInput(windows: MaxPoolWindows, pooledGradient: Tensor, kernel: Tensor, inputShape: [Int],
                                       strides: (Int, Int) = (1, 1), padding: Padding = .valid, dilation: (Int, Int) = (1, 1)) -> Tensor {
    if let g = try? Conv2DGeometry(inputShape: inputShape, kernelShape: kernel.shape, strides: strides, padding: padding, dilation: dilation),
       usesWinograd(g), windows.inputShape == g.outputShape {
        return winogradConv2DBackpropInput(WinogradSource(windows: windows, pooledGradient: pooledGradient), kernel: kernel, g)
    }
    return conv2DBackpropInput(maxPool2DBackprop(pooledGradient, windows: windows), kernel: kernel, inputShape: inputShape, strides: strides,
                               padding: padding, dilation: dilation)
}

/// The kernel gradient of `conv2DMaxPool(recordingWindows:...)` from the gradient of its pooled
/// result (already through the activation's derivative). The windows route the pooled gradient
/// as the kernel gradient reads it and the full-size gradient is never formed: row by row for the
/// direct kernel's layers (3 input channels), tile by tile on the Winograd path; otherwise
/// `maxPool2DBackprop(_:windows:)` then `conv2DBackpropKernel`.
public func conv2DMaxPoolBackpropKernel(_ input: Tensor, windows: MaxPoolWindows, pooledGradient: Tensor, kernelShape: [Int],
                                        strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                                        dilation: (Int, Int) = (1, 1)) -> Tensor {
    if let g = try? Conv2DGeometry(inputShape: input.shape, kernelShape: kernelShape, strides: strides, padding: padding, dilation: dilation),
       windows.inputShape == g.outputShape, pooledGradient.shape == windows.outputShape {
        if usesWinograd(g) {
            return winogradConv2DBackpropKernel(input, outputGradient: WinogradSource(windows: windows, pooledGradient: pooledGradient), g)
        }
        if usesDirectKernelGradient(g) {
            return directConv2DBackpropKernel(input.contiguous(), outputGradient: nil, g, routing: (windows, pooledGradient.contiguous()))
        }
    }
    let dz = maxPool2DBackprop(pooledGradient, windows: windows)
    return conv2DBackpropKernel(input, outputGradient: dz, kernelShape: kernelShape, strides: strides, padding: padding, dilation: dilation)
}
