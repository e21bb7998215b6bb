import CPinpointKernels
import Foundation

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
