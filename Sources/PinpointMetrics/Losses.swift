import PinpointAutograd
import PinpointTensor

/// A differentiable loss: targets (constants) and predictions (on the tape) to a scalar.
public protocol Loss {
    func callAsFunction(_ target: Tensor, _ prediction: Traced) -> Traced
}

/// Keras `MeanSquaredError`: mean over the last axis, then over the batch (the mean of all
/// squared differences when every row has the same length).
public struct MeanSquaredError: Loss {
    public init() {}
    public func callAsFunction(_ target: Tensor, _ prediction: Traced) -> Traced {
        precondition(target.shape == prediction.shape, "MeanSquaredError: target \(target.shape) and prediction \(prediction.shape) differ")
        return (prediction - target).square().mean()
    }
}

/// Keras `SparseCategoricalCrossentropy`: integer class labels against probabilities (clipped to
/// [1e-7, 1 - 1e-7] after normalizing each row to sum 1, as Keras does) or, with
/// `fromLogits`, against logits (through a stable log-softmax). The mean over the batch.
public struct SparseCategoricalCrossentropy: Loss {
    public let fromLogits: Bool
    public static let epsilon: Float = 1e-7

    public init(fromLogits: Bool = false) { self.fromLogits = fromLogits }

    /// `target` holds class indices as Float, shape [batch] (or [batch, 1]).
    public func callAsFunction(_ target: Tensor, _ prediction: Traced) -> Traced {
        let classes = prediction.shape.last!
        let labels = target.reshaped([-1])
        precondition(labels.count == prediction.shape[0], "SparseCategoricalCrossentropy: \(labels.count) labels for \(prediction.shape[0]) rows")
        let oneHot = Tensor(shape: [labels.count, classes]) { p, count in
            p.initialize(repeating: 0, count: count)
            for (row, label) in labels.scalars.enumerated() {
                let c = Int(label)
                precondition(c >= 0 && c < classes, "SparseCategoricalCrossentropy: label \(label) outside 0..<\(classes)")
                p[row * classes + c] = 1
            }
        }
        let logProbabilities: Traced
        if fromLogits {
            logProbabilities = prediction.logSoftmax()
        } else {
            let normalized = prediction / prediction.sum(alongAxes: [-1], keepingDimensions: true)
            logProbabilities = normalized.clipped(min: Self.epsilon, max: 1 - Self.epsilon).log()
        }
        return -(logProbabilities * oneHot).sum(alongAxes: [-1]).mean()
    }
}

/// A weighted sum of losses on slices of the prediction, like the tutorial's two-head loss
/// (`sparse cross-entropy(class) + 5 x MSE(box)`).
public struct WeightedLoss: Loss {
    public struct Term {
        public let loss: any Loss
        public let weight: Float
        /// Columns of the prediction and of the target this term reads.
        public let predictionColumns: Range<Int>
        public let targetColumns: Range<Int>
        public init(_ loss: any Loss, weight: Float = 1, predictionColumns: Range<Int>, targetColumns: Range<Int>) {
            self.loss = loss
            self.weight = weight
            self.predictionColumns = predictionColumns
            self.targetColumns = targetColumns
        }
    }

    public let terms: [Term]
    public init(_ terms: [Term]) { self.terms = terms }

    public func callAsFunction(_ target: Tensor, _ prediction: Traced) -> Traced {
        precondition(!terms.isEmpty, "WeightedLoss needs at least one term")
        let parts = terms.map { term in
            let t = target.sliced(alongAxis: 1, from: term.targetColumns.lowerBound, to: term.targetColumns.upperBound).contiguous()
            let p = prediction.sliced(alongAxis: 1, from: term.predictionColumns.lowerBound, to: term.predictionColumns.upperBound)
            return term.loss(t, p) * term.weight
        }
        return parts.dropFirst().reduce(parts[0], +)
    }
}
