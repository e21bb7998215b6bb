// A convolution followed by max pooling (the tutorial CNN's four Conv2D + MaxPooling2D pairs) as
// one operation. The direct kernel pools each group of output rows while it is in cache; Winograd
// pools each 4x4 output tile's four 2x2 windows as the tile is transformed. The convolution's
// full-size output (four times the pooled one) never reaches memory.
//
// For training, 2x2 stride-2 pooling also records which cell of each window held its maximum, a
// value per pooled value (`MaxPoolWindows`): that is all the backward pass needs of the full-size
// output, which then is neither written nor read back (257 MB for the tutorial CNN's first layer
// at 224, where the windows take 64 MB).

/// Whether `conv2DMaxPool(recordingWindows:)` takes a fused path for this convolution and pooling:
/// 2x2 windows at stride 2 from the top left, output channels in multiples of 16, on the direct
/// kernel or Winograd.
private func recordsWindows(_ g: Conv2DGeometry, _ pooling: WindowGeometry) -> Bool {
    pooling.isTwoByTwoFromTopLeft && g.outChannels % 16 == 0 && (usesWinograd(g) || usesDirectConvolution(g))
}

extension WindowGeometry {
    /// 2x2 windows at stride 2 starting at the top left: the pooling whose windows the kernel set's
    /// `max_pool_windows_row` takes (and records), and that whole Winograd tiles hold.
    var isTwoByTwoFromTopLeft: Bool {
        height.window == 2 && width.window == 2 && height.stride == 2 && width.stride == 2 && height.padBefore == 0
            && width.padBefore == 0
    }
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
        if usesWinograd(g), g.outChannels % 16 == 0, pooling.isTwoByTwoFromTopLeft, epilogue.commutesWithMaximum {
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
