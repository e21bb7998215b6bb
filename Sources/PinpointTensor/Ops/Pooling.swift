// NHWC max and average pooling with TensorFlow's semantics:
// - max: padded cells never win; on ties the first maximum in window order (row, then column) takes
//   the gradient, as TensorFlow's MaxPoolGrad on CPU does;
// - average: divides by the number of real (unpadded) cells under the window, as TensorFlow's SAME does.
// Loops run per output row, vectorized over channels, split across threads.

private func poolGeometry(_ shape: [Int], _ poolSize: (Int, Int), _ strides: (Int, Int), _ padding: Padding,
                          _ operation: String) -> WindowGeometry {
    do {
        return try WindowGeometry(inputShape: shape, window: poolSize, strides: strides, padding: padding, operation: operation)
    } catch { trap(error) }
}

/// Max pooling (Keras `MaxPooling2D`; `strides` defaults to the pool size, as Keras does).
public func maxPool2D(_ input: Tensor, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                      padding: Padding = .valid) -> Tensor {
    let g = poolGeometry(input.shape, poolSize, strides ?? poolSize, padding, "maxPool2D")
    let x = input.contiguous()
    let h = g.height, w = g.width, c = g.channels
    let src = x.basePointer
    return withExtendedLifetime(x) {
        Tensor(shape: g.outputShape(channels: c)) { out, _ in
            parallelChunks(g.batch * h.output, costPerItem: w.output * c * h.window * w.window) { range in
                for row in range {
                    let n = row / h.output, oh = row % h.output
                    let rowsIn = h.validRange(oh)
                    for ow in 0..<w.output {
                        let columnsIn = w.validRange(ow)
                        let o = out + (row * w.output + ow) * c
                        o.update(from: src + ((n * h.input + rowsIn.lowerBound) * w.input + columnsIn.lowerBound) * c, count: c)
                        for ih in rowsIn {
                            for iw in columnsIn {
                                let s = src + ((n * h.input + ih) * w.input + iw) * c
                                for ch in 0..<c { o[ch] = Swift.max(o[ch], s[ch]) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Gradient of max pooling (TensorFlow's `MaxPoolGrad`): each output's gradient goes to the first
/// cell of its window, in window order (row, then column), that holds the output's value, found
/// from the pooling's input and output rather than from stored indices, so the forward pass keeps
/// nothing but its result.
public func maxPool2DBackprop(_ outputGradient: Tensor, input: Tensor, output: Tensor, poolSize: (Int, Int) = (2, 2),
                              strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
    let g = poolGeometry(input.shape, poolSize, strides ?? poolSize, padding, "maxPool2DBackprop")
    let h = g.height, w = g.width, c = g.channels
    let outShape = g.outputShape(channels: c)
    for (tensor, detail) in [(outputGradient, "output gradient"), (output, "output")] where tensor.shape != outShape {
        trap(.mismatch(operation: "maxPool2DBackprop", expected: outShape, got: tensor.shape, detail: detail))
    }
    let x = input.contiguous(), y = output.contiguous(), dy = outputGradient.contiguous()
    let src = x.basePointer, maxima = y.basePointer, grad = dy.basePointer
    // Windows that neither overlap nor leave cells out write every input cell exactly once.
    let tiles = h.stride == h.window && w.stride == w.window && h.padBefore == 0 && w.padBefore == 0 && h.dilation == 1 && w.dilation == 1
        && h.output * h.window == h.input && w.output * w.window == w.input
    return withExtendedLifetime((x, y, dy)) {
        Tensor(shape: input.shape) { dx, count in
            if !tiles { dx.initialize(repeating: 0, count: count) }
            // Overlapping windows of one image may share cells, so threads own whole images.
            parallelChunks(g.batch, costPerItem: h.output * w.output * c * h.window * w.window) { images in
                // The gradient still to be routed, per channel: taken by the first cell that matches.
                let pending = UnsafeMutablePointer<Float>.allocate(capacity: c)
                defer { pending.deallocate() }
                for n in images {
                    for oh in 0..<h.output {
                        let rowsIn = h.validRange(oh)
                        for ow in 0..<w.output {
                            let columnsIn = w.validRange(ow)
                            let o = ((n * h.output + oh) * w.output + ow) * c
                            let m = maxima + o
                            pending.update(from: grad + o, count: c)
                            for ih in rowsIn {
                                for iw in columnsIn {
                                    let i = ((n * h.input + ih) * w.input + iw) * c
                                    let s = src + i, t = dx + i
                                    if tiles {
                                        for ch in 0..<c {
                                            // Loads first, then selects: no branch on the data.
                                            let (value, maximum, rest) = (s[ch], m[ch], pending[ch])
                                            t[ch] = value == maximum ? rest : 0
                                            pending[ch] = value == maximum ? 0 : rest
                                        }
                                    } else {
                                        for ch in 0..<c {
                                            let (value, maximum, rest, sum) = (s[ch], m[ch], pending[ch], t[ch])
                                            t[ch] = sum + (value == maximum ? rest : 0)
                                            pending[ch] = value == maximum ? 0 : rest
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
}

/// Average pooling (Keras `AveragePooling2D`); SAME windows average only the real cells.
public func avgPool2D(_ input: Tensor, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                      padding: Padding = .valid) -> Tensor {
    let g = poolGeometry(input.shape, poolSize, strides ?? poolSize, padding, "avgPool2D")
    let x = input.contiguous()
    let h = g.height, w = g.width, c = g.channels
    let src = x.basePointer
    return withExtendedLifetime(x) {
        Tensor(shape: g.outputShape(channels: c)) { out, _ in
            parallelChunks(g.batch * h.output, costPerItem: w.output * c * h.window * w.window) { range in
                for row in range {
                    let n = row / h.output, oh = row % h.output
                    let rowsIn = h.validRange(oh)
                    for ow in 0..<w.output {
                        let columnsIn = w.validRange(ow)
                        let o = out + (row * w.output + ow) * c
                        o.initialize(repeating: 0, count: c)
                        for ih in rowsIn {
                            for iw in columnsIn {
                                let s = src + ((n * h.input + ih) * w.input + iw) * c
                                for ch in 0..<c { o[ch] += s[ch] }
                            }
                        }
                        let scale = 1 / Float(rowsIn.count * columnsIn.count)
                        for ch in 0..<c { o[ch] *= scale }
                    }
                }
            }
        }
    }
}

/// Gradient of average pooling: each output's gradient is shared equally by the cells it averaged.
public func avgPool2DBackprop(_ outputGradient: Tensor, inputShape: [Int], poolSize: (Int, Int) = (2, 2),
                              strides: (Int, Int)? = nil, padding: Padding = .valid) -> Tensor {
    let g = poolGeometry(inputShape, poolSize, strides ?? poolSize, padding, "avgPool2DBackprop")
    let h = g.height, w = g.width, c = g.channels
    if outputGradient.shape != g.outputShape(channels: c) {
        trap(.mismatch(operation: "avgPool2DBackprop", expected: g.outputShape(channels: c), got: outputGradient.shape,
                       detail: "output gradient"))
    }
    let dy = outputGradient.contiguous()
    let src = dy.basePointer
    return withExtendedLifetime(dy) {
        Tensor(shape: inputShape) { dx, count in
            dx.initialize(repeating: 0, count: count)
            parallelChunks(g.batch, costPerItem: h.output * w.output * c * h.window * w.window) { range in
                for n in range {
                    for oh in 0..<h.output {
                        let rowsIn = h.validRange(oh)
                        for ow in 0..<w.output {
                            let columnsIn = w.validRange(ow)
                            let scale = 1 / Float(rowsIn.count * columnsIn.count)
                            let d = src + ((n * h.output + oh) * w.output + ow) * c
                            for ih in rowsIn {
                                for iw in columnsIn {
                                    let t = dx + ((n * h.input + ih) * w.input + iw) * c
                                    for ch in 0..<c { t[ch] += d[ch] * scale }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Mean over the spatial axes: [N, H, W, C] -> [N, C] (Keras `GlobalAveragePooling2D`).
public func globalAvgPool2D(_ input: Tensor) -> Tensor {
    precondition(input.rank == 4, "globalAvgPool2D: input must be NHWC (rank 4), shape is \(input.shape)")
    return input.mean(alongAxes: [1, 2])
}

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
