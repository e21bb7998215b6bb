import CPinpointKernels
import Foundation
import Foundation

// A bias add and an activation fused into the pass that produced the values (a convolution's
// GEMM chunk while it is still in cache, or one elementwise pass), and their pullback fused into
// one pass that also sums the bias gradient. Unfused, the tutorial CNN spent a fifth of its
// training step in the separate bias add, ReLU and their gradients.

/// An activation that can be applied in place and differentiated from its output alone.
public enum FusedActivation: String, Sendable {
    case linear, relu, relu6, sigmoid
}

extension Tensor {
    /// `activation(self + bias)` in one pass, `bias` along the last axis (or nil).
    ///
    /// ```swift
    /// let y = z.biasActivation(bias: b, activation: .relu)   // max(z + b, 0)
    /// ```
    public func biasActivation(bias: Tensor?, activation: FusedActivation) -> Tensor {
        let channels = shape.last ?? 1
        let epilogue = BiasActivation(bias: bias, activation: activation, channels: channels, operation: "biasActivation")
        let x = contiguous()
        return withExtendedLifetime((x, epilogue.bias)) {
            Tensor(shape: shape) { out, count in
                let rows = count / Swift.max(channels, 1)
                parallelChunks(rows, costPerItem: channels) { range in
                    let o = out + range.lowerBound * channels
                    o.update(from: x.basePointer + range.lowerBound * channels, count: range.count * channels)
                    epilogue.apply(o, rows: range.count, columns: channels)
                }
            }
        }
    }
}

/// The pullback of `activation(z + bias)` given its output `y` and the output's gradient: the
/// gradient with respect to z (which is also the bias's, per row) and, when `biasGradient`, its
/// sum over every axis but the last, accumulated in Double. One pass over memory.
///
/// ```swift
/// let (dz, db) = biasActivationBackprop(dy, output: y, activation: .relu, biasGradient: true)
/// ```
public func biasActivationBackprop(_ outputGradient: Tensor, output: Tensor, activation: FusedActivation,
                                   biasGradient: Bool) -> (input: Tensor, bias: Tensor?) {
    if outputGradient.shape != output.shape {
        trap(.mismatch(operation: "biasActivationBackprop", expected: output.shape, got: outputGradient.shape, detail: "output gradient"))
    }
    let channels = output.shape.last ?? 1
    let rows = output.count / Swift.max(channels, 1)
    let g = outputGradient.contiguous(), y = output.contiguous()
    if activation == .linear && !biasGradient { return (g, nil) }
    let workers = Swift.max(1, Swift.min(Parallelism.threadCount, rows * channels / Parallelism.minimumElementsPerThread, rows))
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: biasGradient ? workers * channels : 1)
    defer { partials.deallocate() }
    if biasGradient { partials.initialize(repeating: 0, count: workers * channels) }
    // Each worker takes a share of the rows: the activation's gradient row by row, then (while the
    // row is in L1) its sum into the worker's own bias partials. Linear: the gradient passes unchanged.
    func run(into out: UnsafeMutablePointer<Float>?) {
        let gp = g.basePointer, yp = y.basePointer
        forEachWorker(limit: workers) { worker, total in
            let acc = biasGradient ? partials + worker * channels : nil
            let first = rows * worker / total, count = rows * (worker + 1) / total - first
            let (gr, yr, o) = (gp + first * channels, yp + first * channels, out.map { $0 + first * channels })
            if let kernelActivation = activation.kernelActivation {
                kernels.activation_gradient_rows(gr, yr, count, Int32(channels), kernelActivation, o, acc)
            } else {
                // Sigmoid (a model's small output layer): dy y (1 - y), then the same sums.
                for i in 0..<count * channels { o![i] = gr[i] * yr[i] * (1 - yr[i]) }
                kernels.activation_gradient_rows(o!, o!, count, Int32(channels), PP_ACTIVATION_LINEAR, nil, acc)
            }
        }
    }
    let dz = withExtendedLifetime((g, y)) { () -> Tensor in
        if activation == .linear {
            run(into: nil)
            return g
        }
        return Tensor(shape: output.shape) { out, _ in run(into: out) }
    }
    guard biasGradient else { return (dz, nil) }
    let db = Tensor(shape: [channels]) { out, _ in
        for c in 0..<channels {
            var sum = 0.0
            for worker in 0..<workers { sum += partials[worker * channels + c] }
            out[c] = Float(sum)
        }
    }
    return (dz, db)
}

@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 {
        return 1 / (1 + Foundation.exp(-x))
    }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

// MARK: Activation gradients in one pass
//
// Pullbacks of activations, fused: the derivative and the product with the upstream gradient in a
// single loop, compiled here where the closure inlines (from another module `map` is a call per
// element) and with no mask tensor in between.

extension Tensor {
    /// `upstream` where this tensor (ReLU's input) is positive, else 0.
    public func reluGradient(_ upstream: Tensor) -> Tensor { upstream.zipMap(self, operation: "reluGradient") { g, x in x > 0 ? g : 0 } }
    /// `upstream` where 0 < x < 6 (TensorFlow's Relu6Grad), else 0.
    public func relu6Gradient(_ upstream: Tensor) -> Tensor {
        upstream.zipMap(self, operation: "relu6Gradient") { g, x in x > 0 && x < 6 ? g : 0 }
    }
    /// `upstream * y * (1 - y)` for this tensor y = sigmoid(x).
    public func sigmoidGradient(_ upstream: Tensor) -> Tensor { upstream.zipMap(self, operation: "sigmoidGradient") { g, y in g * y * (1 - y) } }
}

// MARK: Activations

extension Tensor {
    /// max(x, 0).
    public func relu() -> Tensor { map { Swift.max($0, 0) } }
    /// min(max(x, 0), 6), as MobileNetV2's ReLU6.
    public func relu6() -> Tensor { map { Swift.min(Swift.max($0, 0), 6) } }
    /// 1 / (1 + exp(-x)), computed without overflow for large |x|.
    public func sigmoid() -> Tensor { map(stableSigmoid) }
}
