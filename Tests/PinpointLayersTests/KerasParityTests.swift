import Foundation
import PinpointAutograd
import PinpointLayers
import PinpointMetrics
import PinpointOptimizers
import PinpointTensor
import XCTest

/// Pinpoint against Keras 3 on the tutorial's CNN and a model with BatchNormalization, Dropout and
/// DepthwiseConv2D (Fixtures/make_keras_fixtures.py): outputs, losses, gradients, BatchNormalization
/// statistics and three RMSprop steps under a staircase ExponentialDecay, within 1e-4 of each
/// tensor's scale.
final class KerasParityTests: XCTestCase {
    struct Summary: Decodable {
        let shape: [Int]
        let data: [Float]?
        let indices: [Int]?
        let values: [Float]?
        let sum: Double?
        let abs_sum: Double?
    }
    struct WeightSpec: Decodable { let name: String; let shape: [Int]; let scale: Double; let offset: Double }
    struct Mode: Decodable { let output: Summary; let loss: Float; let gradients: [Summary]; let weights_after_call: [Summary]? }
    struct Steps: Decodable { let losses: [Float]; let weights: [Summary] }
    struct Case: Decodable {
        let model: String
        let layers: [String]
        let weights: [WeightSpec]
        let input: Summary
        let target: Summary
        let inference: Mode
        let training: Mode
        let rmsprop: Steps
    }
    struct Fixtures: Decodable { let cases: [Case] }

    static let fixtures: Fixtures = {
        let url = Bundle.module.url(forResource: "keras", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: url))
    }()

    /// The fixture's weight formula, exactly as the script computes it.
    static func formula(count: Int, k: Int, scale: Double, offset: Double) -> [Float] {
        (0..<count).map { i in
            let h = Double((UInt64(i) &* 2_654_435_761 &+ UInt64(k) &* 40503) % (1 << 32)) / 4_294_967_296.0 - 0.5
            return Float(offset + scale * h)
        }
    }

    /// Differences are measured against the expected tensor's largest magnitude, or `scaleFloor`
    /// when larger: a gradient that is analytically zero (a bias feeding BatchNormalization in
    /// training mode) holds only rounding noise on both sides, and is judged against the scale of
    /// the other gradients of the same backward pass.
    func assertMatches(_ actual: Tensor, _ expected: Summary, _ what: String, tolerance: Double = 1e-4, scaleFloor: Double = 0,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
        let a = actual.scalars
        if let data = expected.data {
            let scale = max(Double(data.map(abs).max() ?? 0), scaleFloor) + 1e-7
            let worst = zip(a, data).map { abs(Double($0) - Double($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): worst difference \(worst) at scale \(scale)", file: file, line: line)
            return
        }
        let values = expected.values!, scale = max(Double(values.map(abs).max() ?? 0), scaleFloor) + 1e-7
        let worst = zip(expected.indices!, values).map { abs(Double(a[$0]) - Double($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): worst sampled difference \(worst) at scale \(scale)", file: file, line: line)
        let sum = a.reduce(0.0) { $0 + Double($1) }, absSum = a.reduce(0.0) { $0 + abs(Double($1)) }
        XCTAssertLessThanOrEqual(abs(sum - expected.sum!), tolerance * max(expected.abs_sum!, scaleFloor), "\(what): sum \(sum) vs \(expected.sum!)", file: file, line: line)
        XCTAssertLessThanOrEqual(abs(absSum - expected.abs_sum!), tolerance * expected.abs_sum!, "\(what): abs sum", file: file, line: line)
    }

    func tensor(_ s: Summary) -> Tensor { Tensor(shape: s.shape, scalars: s.data!) }

    /// 1e-3 of the largest expected gradient of a backward pass.
    func gradientFloor(_ gradients: [Summary]) -> Double {
        1e-3 * Double(gradients.map { ($0.data ?? $0.values!).map(abs).max() ?? 0 }.max() ?? 0)
    }

    func build(_ name: String) throws -> (Sequential, any Loss) {
        switch name {
        case "cnn":
            var layers: [Layer] = []
            for filters in [32, 64, 128, 256] { layers += [Conv2D(filters, padding: .same, activation: .relu), MaxPooling2D(padding: .same)] }
            layers += [Flatten(), Dense(1024, activation: .relu), Dropout(0.4), Dense(4, activation: .sigmoid)]
            return (try Sequential(inputShape: [8, 8, 3], layers), MeanSquaredError())
        default:
            return (try Sequential(inputShape: [6, 6, 3], [
                Conv2D(4, padding: .same), BatchNormalization(), ReLU(maxValue: 6), DepthwiseConv2D(strides: (2, 2), padding: .same),
                BatchNormalization(), ReLU(), GlobalAveragePooling2D(), Dropout(0.3), Dense(3, activation: .softmax),
            ]), SparseCategoricalCrossentropy())
        }
    }

    func initialize(_ model: Sequential, _ c: Case) {
        XCTAssertEqual(model.layers.map(\.name), c.layers, "\(c.model): layer names as Keras names them")
        XCTAssertEqual(model.parameters.map(\.name), c.weights.map(\.name), "\(c.model): weight names in Keras's order")
        for (k, (p, spec)) in zip(model.parameters, c.weights).enumerated() {
            XCTAssertEqual(p.parameter.shape, spec.shape, spec.name)
            p.parameter.value = Tensor(shape: spec.shape, scalars: Self.formula(count: spec.shape.reduce(1, *), k: k, scale: spec.scale, offset: spec.offset))
        }
    }

    func run(_ model: Sequential, _ loss: any Loss, _ c: Case, training: Bool) -> (Tensor, Float, [Tensor]) {
        let tape = GradientTape()
        var context = LayerContext(training: training, tape: tape)
        let prediction = model(Traced(tensor(c.input)), context: &context)
        let value = loss(tensor(c.target), prediction)
        return (prediction.value, value.value.scalar, tape.gradient(of: value, wrt: model.trainableParameters.map(\.parameter)))
    }

    func testEveryCaseMatchesKeras() throws {
        XCTAssertEqual(Self.fixtures.cases.map(\.model), ["cnn", "small"])
        for c in Self.fixtures.cases {
            let (model, loss) = try build(c.model)
            initialize(model, c)
            let initial = model.parameters.map(\.parameter.value)

            // Inference mode: Dropout is the identity, BatchNormalization uses moving statistics.
            let (output, lossValue, gradients) = run(model, loss, c, training: false)
            assertMatches(output, c.inference.output, "\(c.model) inference output")
            XCTAssertEqual(Double(lossValue), Double(c.inference.loss), accuracy: 1e-4 * max(1, Double(abs(c.inference.loss))), "\(c.model) inference loss")
            XCTAssertEqual(gradients.count, c.inference.gradients.count)
            for (i, (g, e)) in zip(gradients, c.inference.gradients).enumerated() {
                assertMatches(g, e, "\(c.model) inference gradient \(model.trainableParameters[i].name)",
                              scaleFloor: gradientFloor(c.inference.gradients))
            }

            // Training mode with Dropout's rate at 0 (as the script does): batch statistics, and
            // the moving statistics updated by the call.
            for layer in model.layers { (layer as? Dropout)?.rate = 0 }
            let (trainOutput, trainLoss, trainGradients) = run(model, loss, c, training: true)
            assertMatches(trainOutput, c.training.output, "\(c.model) training output")
            XCTAssertEqual(Double(trainLoss), Double(c.training.loss), accuracy: 1e-4 * max(1, Double(abs(c.training.loss))), "\(c.model) training loss")
            for (i, (g, e)) in zip(trainGradients, c.training.gradients).enumerated() {
                let name = model.trainableParameters[i].name, floor = gradientFloor(c.training.gradients)
                if c.model == "small" && (name == "conv2d.bias" || name == "depthwise_conv2d.bias") {
                    // Both biases feed a BatchNormalization, which subtracts the batch mean, so their
                    // gradients are zero in exact arithmetic; both sides hold only rounding, which
                    // must stay tiny.
                    XCTAssertLessThanOrEqual(Double(g.scalars.map(abs).max() ?? 0), floor / 10, "\(name): not ~0 (1e-4 of the largest gradient)")
                    continue
                }
                assertMatches(g, e, "\(c.model) training gradient \(name)", scaleFloor: floor)
            }
            for (p, e) in zip(model.parameters, c.training.weights_after_call!) {
                assertMatches(p.parameter.value, e, "\(c.model) \(p.name) after a training call")
            }

            // Three RMSprop(momentum 0.9) steps; the learning rate halves at step 2.
            for (p, v) in zip(model.parameters, initial) { p.parameter.value = v }
            let optimizer = RMSprop(model.trainableParameters,
                                    learningRate: ExponentialDecay(initial: 1e-3, decaySteps: 2, decayRate: 0.5, staircase: true), momentum: 0.9)
            var losses: [Float] = []
            for _ in 0..<3 {
                let (_, value, grads) = run(model, loss, c, training: true)
                optimizer.apply(grads)
                losses.append(value)
            }
            for (a, e) in zip(losses, c.rmsprop.losses) {
                XCTAssertEqual(Double(a), Double(e), accuracy: 1e-4 * max(1, Double(abs(e))), "\(c.model) loss during RMSprop")
            }
            for (p, e) in zip(model.parameters, c.rmsprop.weights) {
                assertMatches(p.parameter.value, e, "\(c.model) \(p.name) after 3 RMSprop steps")
            }
            XCTAssertEqual(optimizer.iterations, 3)
        }
    }

    func testExponentialDecayIsKerasStaircase() {
        let schedule = ExponentialDecay(initial: 1e-4, decaySteps: 3000.0 / 40 * 10, decayRate: 0.5, staircase: true)
        XCTAssertEqual(schedule(0), 1e-4)
        XCTAssertEqual(schedule(749), 1e-4)
        XCTAssertEqual(schedule(750), 5e-5)
        XCTAssertEqual(schedule(2999), 1.25e-5, accuracy: 1e-12)
        XCTAssertEqual(ExponentialDecay(initial: 1, decaySteps: 2, decayRate: 0.5)(1), Float(0.5.squareRoot()), accuracy: 1e-7)
    }
}
