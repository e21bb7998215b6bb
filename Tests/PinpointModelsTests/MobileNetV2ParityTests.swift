import Foundation
import PinpointAutograd
import PinpointLayers
import PinpointMetrics
import PinpointModels
import PinpointTensor
import XCTest

/// MobileNetV2 (alpha 0.35, 96x96) with the tutorial's two heads against Keras 3 in float64
/// (Fixtures/make_mobilenet_fixtures.py): Keras's layer and weight names; outputs within 1e-4 of
/// their scale and the two-head loss and gradients within 1e-3, or, where Keras's own float32
/// run is further than that from float64 (training mode: batch statistics through 52 layers
/// amplify rounding; Keras float32 is up to 8.5% off on some gradients), within twice Keras's own
/// float32 error (for the training gradients, whose per-tensor errors are an accident of rounding:
/// none worse than twice Keras's worst, and the median no worse than Keras's median):
/// Pinpoint must be no further from the exact answer than Keras itself is.
final class MobileNetV2ParityTests: XCTestCase {
    struct Summary: Decodable {
        let shape: [Int]; let data: [Float]?; let indices: [Int]?; let values: [Float]?; let sum: Double?; let abs_sum: Double?
    }
    struct Spec: Decodable { let name: String; let shape: [Int]; let scale: Double; let offset: Double }
    struct Fixture: Decodable {
        let layers: [String]; let weights: [Spec]; let trainable: [String]; let target: Summary
        let backbone_inference: Summary; let output_inference: Summary; let backbone_training: Summary
        let output_training: Summary; let loss_training: Float; let gradients_training: [Summary]
        let keras_float32_loss: Float; let keras_float32_gradient_errors: [Double]
        let keras_float32_backbone_inference_error: Double; let keras_float32_output_inference_error: Double
        let keras_float32_output_training_error: Double; let keras_float32_backbone_training_error: Double
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "mobilenet", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func formula(count: Int, k: Int, scale: Double, offset: Double) -> [Float] {
        (0..<count).map { i -> Float in
            let hash: UInt64 = (UInt64(i) &* 2_654_435_761 &+ UInt64(k) &* 40503) % (1 << 32)
            let unit: Double = Double(hash) / 4_294_967_296.0 - 0.5
            return Float(offset + scale * unit)
        }
    }

    /// Returns the worst difference relative to the scale.
    @discardableResult
    func assertMatches(_ actual: Tensor, _ expected: Summary, _ what: String, tolerance: Double, scaleFloor: Double = 0,
                       file: StaticString = #filePath, line: UInt = #line) -> Double {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        let a = actual.scalars
        let pairs: [(Float, Float)] = expected.data.map { Array(zip(a, $0)) } ?? zip(expected.indices!, expected.values!).map { (a[$0], $1) }
        let scale = max(Double(pairs.map { abs($0.1) }.max() ?? 0), scaleFloor) + 1e-7
        let worst = pairs.map { abs(Double($0.0) - Double($0.1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(what): worst difference \(worst) at scale \(scale)", file: file, line: line)
        if let sum = expected.sum, let absSum = expected.abs_sum {
            let s = a.reduce(0.0) { $0 + Double($1) }
            XCTAssertLessThanOrEqual(abs(s - sum), tolerance * max(absSum, scaleFloor), "\(what): sum \(s) vs \(sum)", file: file, line: line)
        }
        return worst / scale
    }

    func testMobileNetV2TwoHeadMatchesKeras() throws {
        let f = Self.fixture
        let model = try TwoHeadLocalizer.make(alpha: 0.35, inputSize: 96)
        XCTAssertEqual(model.backbone.layerNames, f.layers.filter { !$0.hasSuffix("_add") }, "Keras's layer names, in order")
        XCTAssertEqual(model.weights.map(\.name), f.weights.map(\.name), "weight names in Keras's order")
        for (k, (p, spec)) in zip(model.weights, f.weights).enumerated() {
            XCTAssertEqual(p.parameter.shape, spec.shape, spec.name)
            p.parameter.value = Tensor(shape: spec.shape, scalars: Self.formula(count: spec.shape.reduce(1, *), k: k, scale: spec.scale, offset: spec.offset))
        }
        // The script's batch: the formula, then image i scaled by 0.3 + 0.1 i and shifted by 0.1 i - 0.35
        // (images that differ keep the heads' batch statistics well conditioned).
        let base = Tensor(shape: [8, 96, 96, 3], scalars: Self.formula(count: 8 * 96 * 96 * 3, k: 1000, scale: 2, offset: 0))
        let x = base * Tensor(shape: [8, 1, 1, 1], scalars: (0..<8).map { Float(0.3 + 0.1 * Double($0)) })
            + Tensor(shape: [8, 1, 1, 1], scalars: (0..<8).map { Float(0.1 * Double($0) - 0.35) })

        var inference = LayerContext()
        func bar(_ base: Double, _ keras: Double) -> Double { max(base, 2 * keras) }
        assertMatches(model.backbone(Traced(x), context: &inference).value, f.backbone_inference, "backbone, inference",
                      tolerance: bar(1e-4, f.keras_float32_backbone_inference_error))
        assertMatches(model(Traced(x), context: &inference).value, f.output_inference, "model, inference",
                      tolerance: bar(1e-4, f.keras_float32_output_inference_error))

        let initial = model.weights.map(\.parameter.value)
        let trainable = model.weights.filter { $0.parameter.isTrainable }
        XCTAssertEqual(trainable.map(\.name), f.trainable)
        let tape = GradientTape()
        var training = LayerContext(training: true, tape: tape)
        let prediction = model(Traced(x), context: &training)
        assertMatches(prediction.value, f.output_training, "model, training", tolerance: bar(1e-4, f.keras_float32_output_training_error))
        let target = Tensor(shape: f.target.shape, scalars: f.target.data!)
        let loss = WeightedLoss([
            .init(SparseCategoricalCrossentropy(), weight: 1, predictionColumns: 0..<2, targetColumns: 0..<1),
            .init(MeanSquaredError(), weight: 5, predictionColumns: 2..<6, targetColumns: 1..<5),
        ])(target, prediction)
        XCTAssertEqual(Double(loss.value.scalar), Double(f.loss_training),
                       accuracy: bar(1e-3 * max(1, Double(f.loss_training)), Double(abs(f.keras_float32_loss - f.loss_training))))
        let gradients = tape.gradient(of: loss, wrt: trainable.map(\.parameter))
        let floor = 1e-3 * Double(f.gradients_training.map { ($0.data ?? $0.values!).map(abs).max() ?? 0 }.max() ?? 0)
        // Gradients in training mode are ill-conditioned here: the heads normalize 8 samples and
        // every block 72 to 2304, and an activation that lands on the other side of a ReLU kink
        // than in float64 moves its gradients by a finite step. Which tensors a float32 run gets
        // most wrong is therefore an accident of where its rounding fell (Keras's worst ones are
        // not Pinpoint's). Even the order of a forward sum moves the figures: the same arithmetic
        // summed in three orders (im2col + SGEMM or the direct kernel for Conv1, two tap orders in
        // the depthwise kernel) gave Pinpoint medians of 0.8%, 1.3% and 1.8% and worst tensors of
        // 5.7% to 11.6%, around Keras float32's own 1.8% and 8.5%. So the bar is on the
        // distribution, at float32 rounding's size: no tensor further off than twice Keras's worst
        // and the median over all tensors no larger than twice Keras's median (as elsewhere in
        // this test, twice Keras's own float32 error). A wrong gradient is off by its whole size.
        let kerasWorst = f.keras_float32_gradient_errors.max() ?? 0
        var worst = 0.0, ours: [Double] = []
        for (i, (g, e)) in zip(gradients, f.gradients_training).enumerated() {
            ours.append(assertMatches(g, e, "gradient of \(trainable[i].name)", tolerance: max(1e-3, 2 * kerasWorst), scaleFloor: floor))
            worst = max(worst, f.keras_float32_gradient_errors[i])
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        XCTAssertLessThanOrEqual(median(ours), 2 * median(f.keras_float32_gradient_errors),
                                 "median relative gradient error against twice Keras float32's")
        print(String(format: "MobileNetV2 training gradients: median relative error %.4f (Keras float32 %.4f), worst %.4f (Keras %.4f)",
                     median(ours), median(f.keras_float32_gradient_errors), ours.max() ?? 0, kerasWorst))
        XCTAssertLessThan(worst, 0.2, "the fixture's own float32 spread stays a meaningful bar")
        for (p, v) in zip(model.weights, initial) { p.parameter.value = v }
        var fresh = LayerContext(training: true)
        assertMatches(model.backbone(Traced(x), context: &fresh).value, f.backbone_training, "backbone, training",
                      tolerance: bar(1e-4, f.keras_float32_backbone_training_error))
    }

    func testKerasChannelRoundingAndSizes() throws {
        let full = try TwoHeadLocalizer.make(alpha: 1.0, inputSize: 224)
        XCTAssertEqual(try full.backbone.outputShape(for: [224, 224, 3]), [7, 7, 1280])
        // keras.applications.MobileNetV2(alpha=1.0, include_top=False) has 2,257,984 parameters.
        XCTAssertEqual(full.backbone.weights.reduce(0) { $0 + $1.parameter.value.count }, 2_257_984)
        XCTAssertEqual(try MobileNetV2(alpha: 0.5, inputSize: 128).outputShape(for: [128, 128, 3]), [4, 4, 1280])
    }
}
