import Foundation
import PinpointTensor

// Arithmetic with broadcasting. Pullbacks return gradients in the output's (broadcast) shape;
// the tape sums them back to each input's shape in one place.

extension Traced {
    public static func + (a: Traced, b: Traced) -> Traced {
        record(a.value + b.value, inputs: [a, b], pullback: { g in [g, g] })
    }

    public static func - (a: Traced, b: Traced) -> Traced {
        record(a.value - b.value, inputs: [a, b], pullback: { g in [g, b.isRecorded ? -g : nil] })
    }

    public static func * (a: Traced, b: Traced) -> Traced {
        record(a.value * b.value, inputs: [a, b], pullback: { g in
            [a.isRecorded ? g * b.value : nil, b.isRecorded ? g * a.value : nil]
        })
    }

    public static func / (a: Traced, b: Traced) -> Traced {
        record(a.value / b.value, inputs: [a, b], pullback: { g in
            [a.isRecorded ? g / b.value : nil, b.isRecorded ? -g * a.value / b.value.square() : nil]
        })
    }

    public static prefix func - (a: Traced) -> Traced {
        record(-a.value, inputs: [a], pullback: { g in [-g] })
    }

    public static func + (a: Traced, b: Float) -> Traced { record(a.value + b, inputs: [a], pullback: { g in [g] }) }
    public static func - (a: Traced, b: Float) -> Traced { record(a.value - b, inputs: [a], pullback: { g in [g] }) }
    public static func * (a: Traced, b: Float) -> Traced { record(a.value * b, inputs: [a], pullback: { g in [g * b] }) }
    public static func / (a: Traced, b: Float) -> Traced { record(a.value / b, inputs: [a], pullback: { g in [g / b] }) }
    public static func + (a: Float, b: Traced) -> Traced { b + a }
    public static func - (a: Float, b: Traced) -> Traced { record(a - b.value, inputs: [b], pullback: { g in [-g] }) }
    public static func * (a: Float, b: Traced) -> Traced { b * a }
    public static func / (a: Float, b: Traced) -> Traced {
        record(a / b.value, inputs: [b], pullback: { g in [-g * a / b.value.square()] })
    }

    // Mixed with plain tensors (constants).
    public static func + (a: Traced, b: Tensor) -> Traced { a + Traced(b) }
    public static func - (a: Traced, b: Tensor) -> Traced { a - Traced(b) }
    public static func * (a: Traced, b: Tensor) -> Traced { a * Traced(b) }
    public static func / (a: Traced, b: Tensor) -> Traced { a / Traced(b) }
    public static func + (a: Tensor, b: Traced) -> Traced { Traced(a) + b }
    public static func - (a: Tensor, b: Traced) -> Traced { Traced(a) - b }
    public static func * (a: Tensor, b: Traced) -> Traced { Traced(a) * b }
    public static func / (a: Tensor, b: Traced) -> Traced { Traced(a) / b }

    /// Elementwise maximum; on ties the gradient goes to `self` (TensorFlow's rule).
    public func maximum(_ other: Traced) -> Traced {
        let takeSelf = value.greaterEqual(other.value)
        return Traced.record(value.maximum(other.value), inputs: [self, other], pullback: { g in
            [g * takeSelf, g * (1 - takeSelf)]
        })
    }

    /// Elementwise minimum; on ties the gradient goes to `self` (TensorFlow's rule).
    public func minimum(_ other: Traced) -> Traced {
        let takeSelf = value.lessEqual(other.value)
        return Traced.record(value.minimum(other.value), inputs: [self, other], pullback: { g in
            [g * takeSelf, g * (1 - takeSelf)]
        })
    }

    /// `self` raised to `exponent`, elementwise (self must be positive where the exponent's gradient is needed).
    public func pow(_ exponent: Traced) -> Traced {
        let y = value.pow(exponent.value)
        return Traced.record(y, inputs: [self, exponent], pullback: { g in
            [self.isRecorded ? g * exponent.value * self.value.pow(exponent.value - 1) : nil,
             exponent.isRecorded ? g * y * self.value.log() : nil]
        })
    }

    /// `condition ? a : b` elementwise; `condition` is a constant mask (nonzero is true).
    public static func `where`(_ condition: Tensor, _ a: Traced, _ b: Traced) -> Traced {
        let zero = Tensor(Float(0))
        return record(Tensor.where(condition, a.value, b.value), inputs: [a, b], pullback: { g in
            [a.isRecorded ? Tensor.where(condition, g, zero) : nil, b.isRecorded ? Tensor.where(condition, zero, g) : nil]
        })
    }
}

// Unary math, each with its derivative beside it.

extension Traced {
    /// A unary operation whose pullback multiplies by a local derivative computed from x and y.
    @inline(__always)
    private func unary(_ y: Tensor, derivative: @escaping (_ x: Tensor, _ y: Tensor) -> Tensor) -> Traced {
        let x = value
        return Traced.record(y, inputs: [self], pullback: { g in [g * derivative(x, y)] })
    }

    public func exp() -> Traced { unary(value.exp()) { _, y in y } }
    public func log() -> Traced { unary(value.log()) { x, _ in 1 / x } }
    public func sqrt() -> Traced { unary(value.sqrt()) { _, y in 0.5 / y } }
    public func square() -> Traced { unary(value.square()) { x, _ in 2 * x } }
    public func abs() -> Traced { unary(value.abs()) { x, _ in x.sign() } }
    public func tanh() -> Traced { unary(value.tanh()) { _, y in 1 - y.square() } }
    public func atan() -> Traced { unary(value.atan()) { x, _ in 1 / (1 + x.square()) } }
    /// Gradient passes where low <= x <= high (TensorFlow's clip_by_value).
    public func clipped(min low: Float, max high: Float) -> Traced {
        unary(value.clipped(min: low, max: high)) { x, _ in x.map { $0 >= low && $0 <= high ? 1 : 0 } }
    }
}
