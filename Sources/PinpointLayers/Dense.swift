import PinpointAutograd
import PinpointTensor

/// Keras `Dense`: `activation(x @ kernel + bias)` over the last axis. Kernel [in, units]
/// (Keras's layout), glorot_uniform; bias zeros.
public final class Dense: Layer {
    public var name: String
    public let units: Int
    public let activation: Activation
    public let useBias: Bool
    public private(set) var kernel: Parameter?
    public private(set) var bias: Parameter?

    public init(_ units: Int, activation: Activation = .linear, useBias: Bool = true, name: String = "") {
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.name = name
    }

    public var weights: [(name: String, parameter: Parameter)] {
        [("kernel", kernel), ("bias", bias)].compactMap { n, p in p.map { (n, $0) } }
    }

    public func build(inputShape: [Int], random: inout SeededGenerator) throws(LayerError) {
        guard let inputs = inputShape.last, inputs > 0 else { throw error("needs a last axis, got input shape \(inputShape)") }
        kernel = Parameter(Tensor.glorotUniform([inputs, units], using: &random))
        if useBias { bias = Parameter(Tensor.zeros([units])) }
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] {
        guard !inputShape.isEmpty else { throw error("needs a last axis, got a scalar input") }
        return inputShape.dropLast() + [units]
    }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        // The activation goes into the bias pass when it has an epilogue form.
        guard let fused = activation.fused else { return activation(self(input, context: &context, fusing: .linear)) }
        return self(input, context: &context, fusing: fused)
    }
}

extension Dense: ActivationFusing {
    public var acceptsFusedActivation: Bool { activation == .linear }

    public func callAsFunction(_ input: Traced, context: inout LayerContext, fusing activation: FusedActivation) -> Traced {
        guard let kernel else { preconditionFailure("Dense '\(name)' called before build") }
        let flat = input.rank == 2 ? input : input.reshaped([-1, input.shape.last!])
        var y = flat.matmul(context.read(kernel))
        if bias != nil || activation != .linear {
            y = biasActivation(y, bias: bias.map { context.read($0) }, activation: activation)
        }
        return input.rank == 2 ? y : y.reshaped(input.shape.dropLast() + [units])
    }
}
