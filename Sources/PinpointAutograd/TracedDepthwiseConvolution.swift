import PinpointTensor

/// Depthwise convolution on the tape (see `depthwiseConv2D(_:kernel:strides:padding:dilation:bias:activation:)`),
/// optionally with a bias and activation fused into its forward pass and into one backward pass.
public func depthwiseConv2D(_ input: Traced, kernel: Traced, strides: (Int, Int) = (1, 1), padding: Padding = .valid,
                            dilation: (Int, Int) = (1, 1), bias: Traced? = nil, activation: FusedActivation = .linear) -> Traced {
    let y = depthwiseConv2D(input.value, kernel: kernel.value, strides: strides, padding: padding, dilation: dilation,
                            bias: bias?.value, activation: activation)
    return recordConvolution(y, input: input, kernel: kernel, bias: bias, activation: activation, inputGradient: { dz in
        depthwiseConv2DBackpropInput(dz, kernel: kernel.value, inputShape: input.shape, strides: strides, padding: padding, dilation: dilation)
    }, kernelGradient: { dz in
        depthwiseConv2DBackpropKernel(input.value, outputGradient: dz, kernelShape: kernel.shape, strides: strides, padding: padding,
                                      dilation: dilation)
    })
}
