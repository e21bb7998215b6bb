import CPinpointKernels
import Foundation

// A bias add and an activation fused into the pass that produced the values (a convolution's
// GEMM chunk while it is still in cache, or one elementwise pass), and their pullback fused into
// one pass that also sums the bias gradient. Unfused, the tutorial CNN spent a fifth of its
// training step in the separate bias add, ReLU and their gradients.

/// An activation that can be applied in place and differentiated from its output alone.
public enum FusedActivation: String, Sendable {
    case linear, relu, relu6, sigmoid
}

/// `activation(row + bias)` in place for `rows` rows of `columns` values (bias: `columns` values
/// or nil).
@inline(__always)
func applyBiasActivation(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>?,
                         activation: FusedActivation) {
    if let fused = activation.kernelActivation {
        kernels.bias_activation_rows(p, rows, Int32(columns), bias, fused)
        return
    }
    // Sigmoid (the localizer's box head: a few values per image) stays here.
    for r in 0..<rows {
        let row = p + r * columns
        if let bias {
            for c in 0..<columns { row[c] = stableSigmoid(row[c] + bias[c]) }
        } else {
            for c in 0..<columns { row[c] = stableSigmoid(row[c]) }
        }
    }
}

/// The bias and activation a kernel applies to its output before returning it.
struct BiasActivation {
    let bias: Tensor?
    let activation: FusedActivation

    /// Checks the bias against the output's channel count and makes it contiguous.
    init(bias: Tensor?, activation: FusedActivation, channels: Int, operation: String) {
        if let bias, bias.shape != [channels] {
            trap(.mismatch(operation: operation, expected: [channels], got: bias.shape, detail: "bias"))
        }
        self.bias = bias?.contiguous()
        self.activation = activation
    }

    var isIdentity: Bool { bias == nil && activation == .linear }

    /// Whether applying this after a maximum gives what applying it before does: a per-channel
    /// bias and a non-decreasing activation whose rounding keeps the order (sigmoid's exp may not).
    var commutesWithMaximum: Bool { [.linear, .relu, .relu6].contains(activation) }

    /// Applies to `rows` rows of the output at `p` (each `columns` = channels wide).
    func apply(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        if isIdentity { return }
        applyBiasActivation(p, rows: rows, columns: columns, bias: bias.map { UnsafePointer($0.basePointer) }, activation: activation)
    }
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
/// let (dz, db) = biasActivationBackward(dy, output: y, activation: .relu, biasGradient: true)
/// ```
public func biasActivationBackward(_ outputGradient: Tensor, output: Tensor, activation: FusedActivation,
                                   biasGradient: Bool) -> (input: Tensor, bias: Tensor?) {
    if outputGradient.shape != output.shape {
        trap(.mismatch(operation: "biasActivationBackward", expected: output.shape, got: outputGradient.shape, detail: "output gradient"))
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
