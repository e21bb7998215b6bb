import PinpointAutograd
import PinpointTensor

/// Keras `BatchNormalization` over the last axis. In training it normalizes with the batch's mean
/// and biased variance and moves the moving statistics toward them (`momentum` is the fraction
/// kept, 0.99 by default as Keras); in inference it uses the moving statistics. gamma ones, beta
/// zeros, moving mean zeros, moving variance ones; epsilon 1e-3.
public final class BatchNormalization: Layer {
    public var name: String
    public let momentum: Float
    public let epsilon: Float
    public private(set) var gamma: Parameter?
    public private(set) var beta: Parameter?
    public private(set) var movingMean: Parameter?
    public private(set) var movingVariance: Parameter?

    public init(momentum: Float = 0.99, epsilon: Float = 1e-3, name: String = "") {
        self.momentum = momentum
        self.epsilon = epsilon
        self.name = name
    }

    public var weights: [(name: String, parameter: Parameter)] {
        [("gamma", gamma), ("beta", beta), ("moving_mean", movingMean), ("moving_variance", movingVariance)].compactMap { n, p in p.map { (n, $0) } }
    }

    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        guard let channels = inputShape.last else { throw error("needs a channel axis") }
        gamma = Parameter(Tensor.ones([channels]))
        beta = Parameter(Tensor.zeros([channels]))
        movingMean = Parameter(Tensor.zeros([channels]), trainable: false)
        movingVariance = Parameter(Tensor.ones([channels]), trainable: false)
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        self(input, context: &context, fusing: .linear)
    }
}

extension BatchNormalization: ActivationFusing {
    public var acceptsFusedActivation: Bool { true }

    public func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced {
        self(input, context: &context, fusing: activation, batchMoments: nil)
    }

    /// The layer in training with its input's batch moments already taken (by the convolution
    /// that produced the input, `conv2DWithBatchMoments`), or nil to take them here.
    func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation,
                        batchMoments moments: (mean: Tensor, variance: Tensor)?) -> Traced {
        guard let gamma, let beta, let movingMean, let movingVariance else { preconditionFailure("BatchNormalization '\(name)' called before build") }
        // Read first: the profiler charges the moments below to this layer's op, not to `watch`.
        let scale = context.read(gamma), shift = context.read(beta)
        let mean: Tensor, variance: Tensor
        if context.training {
            (mean, variance) = moments ?? batchMoments(input.value)
            movingMean.value = movingMean.value * momentum + mean * (1 - momentum)
            movingVariance.value = movingVariance.value * momentum + variance * (1 - momentum)
        } else {
            (mean, variance) = (movingMean.value, movingVariance.value)
        }
        return batchNormalization(input, gamma: scale, beta: shift, mean: mean, variance: variance,
                                  epsilon: epsilon, batchStatistics: context.training, activation: activation)
    }
}

extension BatchNormalization {
    /// Per output channel, the scale and shift that apply this normalization with its moving
    /// statistics: y = x * scale + shift.
    func foldedScaleAndShift() -> (scale: Tensor, shift: Tensor) {
        guard let gamma, let beta, let movingMean, let movingVariance else { preconditionFailure("BatchNormalization '\(name)' called before build") }
        let scale = gamma.value / (movingVariance.value + epsilon).sqrt()
        return (scale, beta.value - movingMean.value * scale)
    }
}
