import PinpointTensor

/// Batch normalization on the tape, in one pass each way (see the Tensor overload), optionally
/// with the activation that follows it fused in. With `batchStatistics`, `mean` and `variance` are the
/// input's own batch moments and the input's gradient flows through them too (training);
/// otherwise they are constants (moving statistics).
public func batchNormalization(_ x: Traced, gamma: Traced, beta: Traced, mean: Tensor, variance: Tensor, epsilon: Float,
                               batchStatistics: Bool, activation: FusedActivation = .linear) -> Traced {
    let y = batchNormalization(x.value, gamma: gamma.value, beta: beta.value, mean: mean, variance: variance, epsilon: epsilon,
                               activation: activation)
    return Traced.record(y, inputs: [x, gamma, beta], pullback: { g in
        let d = batchNormalizationBackprop(g, input: x.value, mean: mean, variance: variance, gamma: gamma.value, epsilon: epsilon,
                                           batchStatistics: batchStatistics, activation: activation, beta: beta.value)
        return [x.isRecorded ? d.input : nil, d.gamma, d.beta]
    })
}
