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

/// Where each max-pooling output came from: flat input indices, one per output element.
public struct PoolingArgmax: Sendable {
    public let indices: [Int32]
    public let inputShape: [Int]
}

/// Max pooling (Keras `MaxPooling2D`; `strides` defaults to the pool size, as Keras does).
public func maxPool2D(_ input: Tensor, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                      padding: Padding = .valid) -> Tensor {
    maxPool2D(input, poolSize: poolSize, strides: strides, padding: padding, recordingArgmax: false).output
}

/// Max pooling that also returns where each maximum came from, for `maxPool2DBackprop`.
public func maxPool2DWithArgmax(_ input: Tensor, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                                padding: Padding = .valid) -> (output: Tensor, argmax: PoolingArgmax) {
    let r = maxPool2D(input, poolSize: poolSize, strides: strides, padding: padding, recordingArgmax: true)
    return (r.output, PoolingArgmax(indices: r.argmax, inputShape: input.shape))
}

private func maxPool2D(_ input: Tensor, poolSize: (Int, Int), strides: (Int, Int)?, padding: Padding,
                       recordingArgmax: Bool) -> (output: Tensor, argmax: [Int32]) {
    let g = poolGeometry(input.shape, poolSize, strides ?? poolSize, padding, "maxPool2D")
    precondition(input.count < Int(Int32.max), "maxPool2D: input of \(input.count) elements is too large for Int32 indices")
    let x = input.contiguous()
    let h = g.height, w = g.width, c = g.channels
    let outShape = g.outputShape(channels: c)
    var argmax = [Int32](repeating: 0, count: recordingArgmax ? elementCount(outShape) : 0)
    let output = withExtendedLifetime(x) {
        argmax.withUnsafeMutableBufferPointer { argmaxBuffer in
            // An empty array's buffer still has a (shared, read-only) address: never write through it.
            let arg = recordingArgmax ? argmaxBuffer.baseAddress : nil
            let src = x.basePointer
            return Tensor(shape: outShape) { out, _ in
                parallelChunks(g.batch * h.output, costPerItem: w.output * c * h.window * w.window) { range in
                    for row in range {
                        let n = row / h.output, oh = row % h.output
                        let rowsIn = h.validRange(oh)
                        for ow in 0..<w.output {
                            let columnsIn = w.validRange(ow)
                            let o = (row * w.output + ow) * c
                            let first = ((n * h.input + rowsIn.lowerBound) * w.input + columnsIn.lowerBound) * c
                            for ch in 0..<c { out[o + ch] = src[first + ch] }
                            if let arg { for ch in 0..<c { arg[o + ch] = Int32(first + ch) } }
                            for ih in rowsIn {
                                for iw in columnsIn {
                                    let i = ((n * h.input + ih) * w.input + iw) * c
                                    if let arg {
                                        for ch in 0..<c where src[i + ch] > out[o + ch] {
                                            out[o + ch] = src[i + ch]
                                            arg[o + ch] = Int32(i + ch)
                                        }
                                    } else {
                                        for ch in 0..<c { out[o + ch] = Swift.max(out[o + ch], src[i + ch]) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (output, argmax)
}

/// Gradient of max pooling: each output's gradient goes to the input that was its maximum.
public func maxPool2DBackprop(_ outputGradient: Tensor, argmax: PoolingArgmax) -> Tensor {
    precondition(outputGradient.count == argmax.indices.count,
                 "maxPool2DBackprop: gradient of shape \(outputGradient.shape) does not match \(argmax.indices.count) recorded outputs")
    let dy = outputGradient.contiguous()
    let batch = argmax.inputShape[0]
    let perImageOut = batch == 0 ? 0 : dy.count / batch
    let perImageIn = batch == 0 ? 0 : elementCount(argmax.inputShape) / batch
    return withExtendedLifetime(dy) {
        argmax.indices.withUnsafeBufferPointer { arg in
            Tensor(shape: argmax.inputShape) { dx, count in
                dx.initialize(repeating: 0, count: count)
                // Images never share inputs, so threads own whole images.
                parallelChunks(batch, costPerItem: perImageOut + perImageIn) { range in
                    for i in (range.lowerBound * perImageOut)..<(range.upperBound * perImageOut) {
                        dx[Int(arg[i])] += dy.basePointer[i]
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
