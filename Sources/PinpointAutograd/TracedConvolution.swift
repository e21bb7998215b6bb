import PinpointTensor

/// 2-D convolution on the tape (see `conv2D(_:kernel:strides:padding:dilation:)` for the kernel).
/// The input gradient is only computed when the input needs one: never for a batch of images.
public func conv2D(_ input: Traced, kernel: Traced, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                   dilation: (Int, Int) = (1, 1)) -> Traced {
    let y = conv2D(input.value, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation)
    return Traced.record(y, inputs: [input, kernel], pullback: { g in
        [input.isRecorded
            ? conv2DBackpropInput(g, kernel: kernel.value, inputShape: input.shape, strides: strides, padding: padding,
                                  dilation: dilation) : nil,
         kernel.isRecorded
            ? conv2DBackpropKernel(input.value, outputGradient: g, kernelShape: kernel.shape, strides: strides,
                                   padding: padding, dilation: dilation) : nil]
    })
}

/// Max pooling on the tape; the positions of the maxima are kept only while recording.
public func maxPool2D(_ input: Traced, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                      padding: Padding = .valid) -> Traced {
    guard input.isRecorded else {
        return Traced(maxPool2D(input.value, poolSize: poolSize, strides: strides, padding: padding))
    }
    let (y, argmax) = maxPool2DWithArgmax(input.value, poolSize: poolSize, strides: strides, padding: padding)
    return Traced.record(y, inputs: [input], pullback: { g in [maxPool2DBackprop(g, argmax: argmax)] })
}

/// Average pooling on the tape.
public func avgPool2D(_ input: Traced, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                      padding: Padding = .valid) -> Traced {
    let y = avgPool2D(input.value, poolSize: poolSize, strides: strides, padding: padding)
    let inputShape = input.shape
    return Traced.record(y, inputs: [input], pullback: { g in
        [avgPool2DBackprop(g, inputShape: inputShape, poolSize: poolSize, strides: strides, padding: padding)]
    })
}

/// Mean over the spatial axes, [N, H, W, C] -> [N, C].
public func globalAvgPool2D(_ input: Traced) -> Traced {
    precondition(input.rank == 4, "globalAvgPool2D: input must be NHWC (rank 4), shape is \(input.shape)")
    return input.mean(alongAxes: [1, 2])
}

/// Depthwise convolution on the tape (see `depthwiseConv2D(_:kernel:strides:padding:dilation:)`).
public func depthwiseConv2D(_ input: Traced, kernel: Traced, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                            dilation: (Int, Int) = (1, 1)) -> Traced {
    let y = depthwiseConv2D(input.value, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation)
    return Traced.record(y, inputs: [input, kernel], pullback: { g in
        [input.isRecorded
            ? depthwiseConv2DBackpropInput(g, kernel: kernel.value, inputShape: input.shape, strides: strides, padding: padding,
                                           dilation: dilation) : nil,
         kernel.isRecorded
            ? depthwiseConv2DBackpropKernel(input.value, outputGradient: g, kernelShape: kernel.shape, strides: strides,
                                            padding: padding, dilation: dilation) : nil]
    })
}
