import PinpointTensor

/// 2-D convolution on the tape (see `conv2D(_:kernel:strides:padding:dilation:bias:activation:)`
/// for the kernel), with an optional bias and activation fused into the forward pass and into
/// one backward pass that also sums the bias gradient. The input gradient is only computed when
/// the input needs one: never for a batch of images.
public func conv2D(_ input: Traced, kernel: Traced, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                   dilation: (Int, Int) = (1, 1), bias: Traced? = nil, activation: FusedActivation = .linear) -> Traced {
    let y = conv2D(input.value, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation, bias: bias?.value,
                   activation: activation)
    return recordConv2D(y, input: input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: bias,
                        activation: activation)
}

/// `conv2D` on the tape (no bias or activation), with the batch moments of its output where
/// `conv2DWithBatchMoments` gathers them in its own pass; otherwise the moments are nil and the
/// caller takes them itself. The recorded operation is `conv2D`'s.
public func conv2DWithBatchMoments(_ input: Traced, kernel: Traced, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                                   dilation: (Int, Int) = (1, 1)) -> (output: Traced, moments: (mean: Tensor, variance: Tensor)?) {
    guard let (y, mean, variance) = conv2DWithBatchMoments(input.value, kernel: kernel.value, strides: strides, padding: padding,
                                                           dilation: dilation) else {
        return (conv2D(input, kernel: kernel, strides: strides, padding: padding, dilation: dilation), nil)
    }
    return (recordConv2D(y, input: input, kernel: kernel, strides: strides, padding: padding, dilation: dilation, bias: nil,
                         activation: .linear), (mean, variance))
}

/// Records `conv2D`'s output `y` with the convolution's pullbacks, under `conv2D`'s name.
private func recordConv2D(_ y: Tensor, input: Traced, kernel: Traced, strides: (Int, Int), padding: Padding, dilation: (Int, Int),
                          bias: Traced?, activation: FusedActivation) -> Traced {
    recordConvolution(y, input: input, kernel: kernel, bias: bias, activation: activation,
                      operation: "conv2D(_:kernel:strides:padding:dilation:bias:activation:)", inputGradient: { dz in
        conv2DBackpropInput(dz, kernel: kernel.value, inputShape: input.shape, strides: strides, padding: padding, dilation: dilation)
    }, kernelGradient: { dz in
        conv2DBackpropKernel(input.value, outputGradient: dz, kernelShape: kernel.shape, strides: strides, padding: padding, dilation: dilation)
    }, bothGradients: { dz in
        conv2DBackprop(input.value, outputGradient: dz, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation)
    })
}

/// `maxPool2D(conv2D(input, ..., bias:, activation:), ...)` on the tape as one operation, with
/// the same values and gradients as the two. Backward, the activation's derivative and the bias
/// gradient are taken on the pooled gradient (a quarter of the convolution's output for 2x2
/// pooling) before it is routed to each window's maximum: the derivative at the cell that takes
/// the gradient is the derivative at the window's maximum, and every pooled gradient lands in
/// exactly one cell, so the bias gradient is its sum.
///
/// For 2x2 pooling at stride 2 on the direct and Winograd kernels, the forward pass records each
/// window's maximum cell (`MaxPoolWindows`, a quarter of its size) instead of keeping the
/// convolution's full-size output, and the backward pass routes from those as the input and kernel
/// gradients read the full-size gradient, which is never formed. Otherwise the convolution's output
/// is kept and `maxPool2DBackprop` finds the maxima in it.
public func conv2DMaxPool(_ input: Traced, kernel: Traced, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                          dilation: (Int, Int) = (1, 1), bias: Traced? = nil, activation: FusedActivation = .linear,
                          poolSize: (Int, Int) = (2, 2), poolStrides: (Int, Int)? = nil, poolPadding: Padding = .valid) -> Traced {
    let inputs = [input, kernel] + (bias.map { [$0] } ?? [])
    if poolSize == (2, 2), poolStrides ?? poolSize == (2, 2),
       let (pooled, windows) = conv2DMaxPool(recordingWindows: input.value, kernel: kernel.value, strides: strides, padding: padding,
                                             dilation: dilation, bias: bias?.value, activation: activation, poolPadding: poolPadding) {
        return Traced.record(pooled, inputs: inputs, pullback: { g in
            let (gz, db) = biasActivationBackprop(g, output: pooled, activation: activation, biasGradient: bias?.isRecorded ?? false)
            return [input.isRecorded ? conv2DMaxPoolBackpropInput(windows: windows, pooledGradient: gz, kernel: kernel.value,
                                                                  inputShape: input.shape, strides: strides, padding: padding, dilation: dilation) : nil,
                    kernel.isRecorded ? conv2DMaxPoolBackpropKernel(input.value, windows: windows, pooledGradient: gz, kernelShape: kernel.shape,
                                                                    strides: strides, padding: padding, dilation: dilation) : nil]
                + (bias.map { _ in [db] } ?? [])
        })
    }
    let y = conv2D(input.value, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation, bias: bias?.value,
                   activation: activation)
    let pooled = maxPool2D(y, poolSize: poolSize, strides: poolStrides, padding: poolPadding)
    return Traced.record(pooled, inputs: inputs, pullback: { g in
        let (gz, db) = biasActivationBackprop(g, output: pooled, activation: activation, biasGradient: bias?.isRecorded ?? false)
        let dz = maxPool2DBackprop(gz, input: y, output: pooled, poolSize: poolSize, strides: poolStrides, padding: poolPadding)
        return [input.isRecorded ? conv2DBackpropInput(dz, kernel: kernel.value, inputShape: input.shape, strides: strides, padding: padding,
                                                       dilation: dilation) : nil,
                kernel.isRecorded ? conv2DBackpropKernel(input.value, outputGradient: dz, kernelShape: kernel.shape, strides: strides,
                                                         padding: padding, dilation: dilation) : nil] + (bias.map { _ in [db] } ?? [])
    })
}

/// Records a convolution's output `y`, computed with a fused bias and activation: the pullback
/// takes the gradient through the activation and sums the bias gradient in one pass, then asks
/// for the input and kernel gradients of the convolution itself only where they are needed
/// (both at once through `bothGradients`, where given, when both are).
func recordConvolution(_ y: Tensor, input: Traced, kernel: Traced, bias: Traced?, activation: FusedActivation,
                               operation: String = #function, inputGradient: @escaping (Tensor) -> Tensor,
                               kernelGradient: @escaping (Tensor) -> Tensor,
                               bothGradients: ((Tensor) -> (input: Tensor, kernel: Tensor))? = nil) -> Traced {
    Traced.record(y, inputs: [input, kernel] + (bias.map { [$0] } ?? []), operation: operation, pullback: { g in
        let (dz, db) = biasActivationBackprop(g, output: y, activation: activation, biasGradient: bias?.isRecorded ?? false)
        let biasGradient: [Tensor?] = bias.map { _ in [db] } ?? []
        if input.isRecorded, kernel.isRecorded, let bothGradients {
            let (dx, dw) = bothGradients(dz)
            return [dx, dw] + biasGradient
        }
        return [input.isRecorded ? inputGradient(dz) : nil, kernel.isRecorded ? kernelGradient(dz) : nil] + biasGradient
    })
}
