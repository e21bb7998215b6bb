import PinpointTensor

// Unary math and activations, each with its derivative beside it.

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
    public func sigmoid() -> Traced {
        let y = value.sigmoid()
        return Traced.record(y, inputs: [self], pullback: { g in [y.sigmoidGradient(g)] })
    }
    /// Gradient 1 where x > 0 (0 at the kink, as TensorFlow).
    public func relu() -> Traced {
        let x = value
        return Traced.record(x.relu(), inputs: [self], pullback: { g in [x.reluGradient(g)] })
    }
    /// Gradient 1 where 0 < x < 6 (TensorFlow's Relu6Grad).
    public func relu6() -> Traced {
        let x = value
        return Traced.record(x.relu6(), inputs: [self], pullback: { g in [x.relu6Gradient(g)] })
    }
    /// Gradient passes where low <= x <= high (TensorFlow's clip_by_value).
    public func clipped(min low: Float, max high: Float) -> Traced {
        unary(value.clipped(min: low, max: high)) { x, _ in x.map { $0 >= low && $0 <= high ? 1 : 0 } }
    }

    /// exp(x) / sum(exp(x)) along `axis`, shifted by the maximum for stability (Keras `softmax`).
    public func softmax(alongAxis axis: Int = -1) -> Traced {
        let shifted = value - value.max(alongAxes: [axis], keepingDimensions: true)
        let e = shifted.exp()
        let y = e / e.sum(alongAxes: [axis], keepingDimensions: true)
        return Traced.record(y, inputs: [self], pullback: { g in
            [y * (g - (g * y).sum(alongAxes: [axis], keepingDimensions: true))]
        })
    }

    /// log(softmax(x)) along `axis`, computed without forming the softmax.
    public func logSoftmax(alongAxis axis: Int = -1) -> Traced {
        let shifted = value - value.max(alongAxes: [axis], keepingDimensions: true)
        let y = shifted - shifted.exp().sum(alongAxes: [axis], keepingDimensions: true).log()
        return Traced.record(y, inputs: [self], pullback: { g in
            [g - y.exp() * g.sum(alongAxes: [axis], keepingDimensions: true)]
        })
    }
}
