import PinpointTensor

/// `activation(x + bias)` on the tape in one pass each way, `bias` along the last axis (Dense's
/// and DepthwiseConv2D's epilogue).
public func biasActivation(_ x: Traced, bias: Traced?, activation: FusedActivation) -> Traced {
    let y = x.value.biasActivation(bias: bias?.value, activation: activation)
    return Traced.record(y, inputs: [x] + (bias.map { [$0] } ?? []), pullback: { g in
        let (dz, db) = biasActivationBackprop(g, output: y, activation: activation, biasGradient: bias?.isRecorded ?? false)
        return [x.isRecorded ? dz : nil] + (bias.map { _ in [db] } ?? [])
    })
}

// Activations, each with its derivative beside it.

extension Traced {
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
