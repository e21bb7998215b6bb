import PinpointAutograd
import PinpointTensor

/// Keras `Dropout`: in training, keeps each element with probability 1 - rate and scales the kept
/// ones by 1 / (1 - rate), so the expected output equals the input; in inference, the identity.
/// The mask comes from the context's seeded generator, drawn for the whole global batch in a
/// data-parallel step (`LayerContext.globalRows`).
public final class Dropout: Layer {
    public var name: String
    public var rate: Float

    public init(_ rate: Float, name: String = "") {
        precondition(rate >= 0 && rate < 1, "Dropout rate must be in [0, 1), got \(rate)")
        self.rate = rate
        self.name = name
    }

    public func outputShape(for inputShape: [Int]) throws(LayerError) -> [Int] { inputShape }

    public func callAsFunction(_ input: Traced, context: inout LayerContext) -> Traced {
        guard context.training, rate > 0 else { return input }
        let keep = 1 - rate
        var random = context.random
        let mask: Tensor
        if let rows = context.globalRows {
            var shape = input.shape
            shape[0] = rows.count
            mask = Tensor.uniform(shape, using: &random).sliced(alongAxis: 0, from: rows.range.lowerBound, to: rows.range.upperBound)
                .map { $0 < keep ? 1 / keep : 0 }
        } else {
            mask = Tensor.uniform(input.shape, using: &random).map { $0 < keep ? 1 / keep : 0 }
        }
        context.random = random
        return input * mask
    }
}
