import PinpointLayers
import PinpointMetrics
import PinpointModels
import PinpointOptimizers

// The tutorial's training recipe in one place: what a model's targets hold, its loss, its
// optimizer and learning-rate schedule. `pinpoint train`, `pinpoint evaluate` and the benchmark
// all take them from here.

/// The columns of the tutorial's targets and of a two-head model's outputs. A one-head model's
/// targets and outputs are the box alone, `[x, y, w, h]`.
public enum TutorialColumns {
    /// Two-head targets `[class, x, y, w, h]`: the class (0 dog, 1 cat), then the box.
    public static let targetClass = 0..<1
    public static let targetBox = 1..<5
    /// Two-head outputs `[p(dog), p(cat), x, y, w, h]`: the softmax head, then the sigmoid box.
    public static let predictedClassProbabilities = 0..<2
    public static let predictedBox = 2..<6
}

extension ModelConfiguration {
    /// What this model's targets hold: the box, or for two heads the class and the box.
    public var tutorialTargets: LocalizationBatchSource.Targets { hasClassHead ? .classAndBox : .box }

    /// The box in one output row of this model (normalized, centre form): the whole row for one
    /// head, its box columns for two.
    public func predictedBox(_ output: [Float]) -> CenterBox {
        let b = hasClassHead ? Array(output[TutorialColumns.predictedBox]) : output
        return CenterBox(x: Double(b[0]), y: Double(b[1]), w: Double(b[2]), h: Double(b[3]))
    }

    /// The likelier class in one output row of a two-head model with its probability (class 0 is
    /// dog, 1 cat: the dataset's lowercase and capitalized breed names); nil for one head.
    public func predictedClass(_ output: [Float]) -> (name: String, probability: Float)? {
        guard hasClassHead else { return nil }
        let first = TutorialColumns.predictedClassProbabilities.lowerBound
        let (dog, cat) = (output[first], output[first + 1])
        return cat > dog ? ("cat", cat) : ("dog", dog)
    }

    /// The tutorial's loss for this model: MSE on the box; for two heads, sparse cross-entropy on
    /// dog/cat plus 5 x MSE on the box.
    public var tutorialLoss: any Loss { loss(box: nil) }

    /// The tutorial's loss with another box term (`BoxLoss`; nil is the tutorial's MSE) and, for
    /// two heads, another weight on the class term (the box term keeps the tutorial's 5).
    public func loss(box: BoxLoss?, classWeight: Float = 1) -> any Loss {
        let boxTerm: any Loss = box ?? MeanSquaredError()
        guard hasClassHead else { return boxTerm }
        return WeightedLoss([.init(SparseCategoricalCrossentropy(), weight: classWeight, predictionColumns: TutorialColumns.predictedClassProbabilities,
                                   targetColumns: TutorialColumns.targetClass),
                             .init(boxTerm, weight: 5, predictionColumns: TutorialColumns.predictedBox, targetColumns: TutorialColumns.targetBox)])
    }

    /// The tutorial's optimizer: RMSprop with momentum 0.9 and the learning rate halved every
    /// `decaySteps` steps (staircase).
    public func tutorialOptimizer(for model: any Layer, learningRate: Float = 1e-4, decaySteps: Double) -> RMSprop {
        RMSprop(model.weights.filter { $0.parameter.isTrainable },
                learningRate: ExponentialDecay(initial: learningRate, decaySteps: decaySteps, decayRate: 0.5, staircase: true),
                momentum: 0.9)
    }
}
