import PinpointTensor

/// Max pooling on the tape; the positions of the maxima are kept only while recording.
public func maxPool2D(_ input: Traced, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                      padding: Padding = .valid) -> Traced {
    let y = maxPool2D(input.value, poolSize: poolSize, strides: strides, padding: padding)
    return Traced.record(y, inputs: [input], pullback: { g in
        [maxPool2DBackprop(g, input: input.value, output: y, poolSize: poolSize, strides: strides, padding: padding)]
    })
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
