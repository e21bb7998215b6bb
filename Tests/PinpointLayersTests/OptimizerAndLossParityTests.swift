import Foundation
import PinpointAutograd
import PinpointMetrics
import PinpointOptimizers
import PinpointTensor
import XCTest

/// SGD (plain, momentum, Nesterov), Adam, centered RMSprop, global-norm clipping and sparse
/// cross-entropy against Keras 3 (Fixtures/make_keras_fixtures.py).
final class OptimizerAndLossParityTests: XCTestCase {
    struct OptimizerCase: Decodable { let name: String; let initial: [Float]; let gradients: [[Float]]; let after: [[Float]] }
    struct Losses: Decodable {
        let logits: [[Float]]; let labels: [Float]; let probabilities: [[Float]]
        let sce_from_logits: Float; let sce_probabilities: Float
    }
    struct Fixtures: Decodable { let optimizers: [OptimizerCase]; let losses: Losses }

    static let fixtures: Fixtures = {
        let url = Bundle.module.url(forResource: "keras", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: url))
    }()

    func make(_ name: String, _ p: [(name: String, parameter: Parameter)]) -> any Optimizer {
        switch name {
        case "sgd": return SGD(p, learningRate: ConstantLearningRate(0.1))
        case "sgd momentum": return SGD(p, learningRate: ConstantLearningRate(0.1), momentum: 0.9)
        case "sgd nesterov": return SGD(p, learningRate: ConstantLearningRate(0.1), momentum: 0.9, nesterov: true)
        case "adam": return Adam(p, learningRate: ConstantLearningRate(0.01))
        case "rmsprop centered": return RMSprop(p, learningRate: ConstantLearningRate(0.01), centered: true)
        case "rmsprop clipped":
            let o = RMSprop(p, learningRate: ConstantLearningRate(0.01), momentum: 0.9)
            o.globalClipNorm = 0.5
            return o
        default: fatalError("unknown optimizer case \(name)")
        }
    }

    func testOptimizersFollowKerasStepByStep() {
        XCTAssertEqual(Self.fixtures.optimizers.count, 6)
        for c in Self.fixtures.optimizers {
            let variable = Parameter(Tensor(c.initial))
            let optimizer = make(c.name, [("v", variable)])
            for (step, (g, expected)) in zip(c.gradients, c.after).enumerated() {
                optimizer.apply([Tensor(g)])
                XCTAssertTrue(variable.value.isClose(to: Tensor(expected), relativeTolerance: 1e-5, absoluteTolerance: 1e-6),
                              "\(c.name) step \(step + 1): \(variable.value.scalars) vs Keras \(expected)")
            }
        }
    }

    func testVectorizedUpdatesEqualTheScalarLoop() {
        // The updates run 16 lanes at a time and the remainder one by one: a 37-element parameter
        // against 37 one-element ones (all scalar), bit for bit, over three steps.
        var rng = SeededGenerator(seed: 21)
        let initial = Tensor.uniform([37], low: -1, high: 1, using: &rng)
        let gradients = (0..<3).map { _ in Tensor.uniform([37], low: -1, high: 1, using: &rng) }
        let makers: [(String, ([(name: String, parameter: Parameter)]) -> any Optimizer)] = [
            ("rmsprop momentum", { RMSprop($0, learningRate: ConstantLearningRate(0.01), momentum: 0.9) }),
            ("rmsprop", { RMSprop($0, learningRate: ConstantLearningRate(0.01)) }),
            ("adam", { Adam($0, learningRate: ConstantLearningRate(0.01)) }),
        ]
        for (name, make) in makers {
            let whole = Parameter(initial)
            let single = initial.scalars.map { Parameter(Tensor([$0])) }
            let (vectorized, scalar) = (make([("w", whole)]), make(single.enumerated().map { ("w\($0.offset)", $0.element) }))
            for g in gradients {
                vectorized.apply([g])
                scalar.apply(g.scalars.map { Tensor([$0]) })
            }
            XCTAssertEqual(whole.value.scalars, single.map { $0.value.scalars[0] }, name)
        }
    }

    func testSparseCategoricalCrossentropyMatchesKeras() {
        let l = Self.fixtures.losses
        let labels = Tensor(l.labels)
        let logits = Traced(Tensor(shape: [2, 3], scalars: l.logits.flatMap { $0 }))
        XCTAssertEqual(SparseCategoricalCrossentropy(fromLogits: true)(labels, logits).value.scalar, l.sce_from_logits, accuracy: 1e-5)
        let probabilities = Traced(Tensor(shape: [2, 3], scalars: l.probabilities.flatMap { $0 }))
        XCTAssertEqual(SparseCategoricalCrossentropy()(labels, probabilities).value.scalar, l.sce_probabilities, accuracy: 1e-4,
                       "probabilities clipped to [1e-7, 1 - 1e-7] as Keras")
    }

    func testWeightedLossIsTheSumOfItsWeightedTerms() {
        // The tutorial's two-head loss: cross-entropy on columns 0..<2 + 5 x MSE on columns 2..<6,
        // against targets [class, x, y, w, h].
        let prediction = Traced(Tensor(shape: [2, 6], scalars: [0.7, 0.3, 0.5, 0.5, 0.2, 0.2, 0.1, 0.9, 0.4, 0.6, 0.3, 0.1]))
        let target = Tensor(shape: [2, 5], scalars: [0, 0.5, 0.4, 0.2, 0.3, 1, 0.4, 0.6, 0.3, 0.1])
        let loss = WeightedLoss([
            .init(SparseCategoricalCrossentropy(), weight: 1, predictionColumns: 0..<2, targetColumns: 0..<1),
            .init(MeanSquaredError(), weight: 5, predictionColumns: 2..<6, targetColumns: 1..<5),
        ])
        let ce = -(Foundation.log(0.7) + Foundation.log(0.9)) / 2
        let mse = (0.0 + 0.01 + 0 + 0.01 + 0 + 0 + 0 + 0) / 8
        XCTAssertEqual(Double(loss(target, prediction).value.scalar), ce + 5 * mse, accuracy: 1e-6)
    }
}
