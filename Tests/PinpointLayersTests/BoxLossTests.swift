import Foundation
import PinpointAutograd
import PinpointMetrics
import PinpointTensor
import XCTest

/// Box losses against torchvision.ops (Fixtures/make_box_loss_fixtures.py): per-box values and
/// the gradient of the mean with respect to the predictions, on random boxes and on the
/// degenerate ones (identical, disjoint, zero width, touching, nested). Then finite differences
/// on boxes away from the kinks.
final class BoxLossTests: XCTestCase {
    struct Fixtures: Decodable {
        struct Case: Decodable {
            let loss: String
            let per_box: [Float]
            let per_box_shape: [Int]
            let mean: Float
            let gradient: [Float]
        }
        let torch: String, torchvision: String
        let targets: [Float], predictions: [Float], count: Int
        let cases: [Case]
    }

    static let fixtures: Fixtures = {
        let url = Bundle.module.url(forResource: "box_losses", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: url))
    }()

    func loss(_ name: String) -> BoxLoss {
        name == "smoothl1" ? BoxLoss(.smoothL1, beta: 0.05) : BoxLoss(BoxLoss.Kind(rawValue: name)!)
    }

    func testValuesAndGradientsMatchTorchvision() throws {
        let f = Self.fixtures
        let targets = Tensor(shape: [f.count, 4], scalars: f.targets), predictions = Tensor(shape: [f.count, 4], scalars: f.predictions)
        XCTAssertEqual(Set(f.cases.map(\.loss)), ["giou", "diou", "ciou", "smoothl1"])
        for c in f.cases {
            let boxLoss = loss(c.loss)
            let tape = GradientTape()
            let p = tape.watch(predictions)
            let perBox = boxLoss.perBox(targets, p)
            let mean = boxLoss(targets, p)
            let gradient = tape.gradient(of: mean, wrt: [p])[0]
            XCTAssertEqual(perBox.shape, c.per_box_shape, c.loss)
            for (i, (a, b)) in zip(perBox.value.scalars, c.per_box).enumerated() {
                XCTAssertEqual(a, b, accuracy: 2e-6 + 1e-5 * abs(b), "\(c.loss) box value \(i)")
            }
            XCTAssertEqual(mean.value.scalar, c.mean, accuracy: 1e-6, c.loss)
            for (i, (a, b)) in zip(gradient.scalars, c.gradient).enumerated() {
                XCTAssertEqual(a, b, accuracy: 2e-6 + 1e-4 * abs(b), "\(c.loss) gradient \(i) (box \(i / 4), coordinate \(i % 4))")
            }
        }
    }

    func testFiniteDifferencesAwayFromKinks() {
        var random = SeededGenerator(seed: 3)
        let targets = Tensor.uniform([5, 4], low: 0.3, high: 0.5, using: &random)
        let predictions = targets + Tensor.uniform([5, 4], low: -0.05, high: 0.05, using: &random)
        for kind in BoxLoss.Kind.allCases {
            for l1Weight: Float in [0, 1] {
                let report = GradientChecker(step: 1e-3, tolerance: 2e-2).check([predictions]) { x, _ in BoxLoss(kind, l1Weight: l1Weight)(targets, x[0]) }
                XCTAssertTrue(report.passed, "\(kind) + \(l1Weight) L1: \(report)")
            }
        }
    }

    func testHandCheckedCases() {
        func value(_ kind: BoxLoss.Kind, _ t: [Float], _ p: [Float]) -> Float {
            BoxLoss(kind)(Tensor(shape: [1, 4], scalars: t), Traced(Tensor(shape: [1, 4], scalars: p))).value.scalar
        }
        let box: [Float] = [0.5, 0.5, 0.2, 0.2]
        for kind in [BoxLoss.Kind.generalizedIoU, .distanceIoU, .completeIoU] {
            // Not quite 0: the IoU is 0.04 / (0.04 + eps), as in torchvision.
            XCTAssertEqual(value(kind, box, box), 1e-7 / 0.04, accuracy: 1e-7, "\(kind): identical boxes")
        }
        // Disjoint boxes 0.2 wide, 0.4 apart centre to centre along x: IoU 0, enclosing box
        // 0.6 x 0.2 = 0.12, union 0.08, so GIoU loss = 1 - (0 - 0.04 / 0.12) = 4 / 3.
        XCTAssertEqual(value(.generalizedIoU, box, [0.9, 0.5, 0.2, 0.2]), 4.0 / 3, accuracy: 1e-5)
        // DIoU adds centre distance squared over the enclosing diagonal squared: 0.16 / 0.40.
        XCTAssertEqual(value(.distanceIoU, box, [0.9, 0.5, 0.2, 0.2]), 1 + 0.16 / 0.40, accuracy: 1e-5)
        // The same shape and centre at half the size: IoU 1/4, no distance, no aspect term.
        XCTAssertEqual(value(.completeIoU, box, [0.5, 0.5, 0.1, 0.1]), 0.75, accuracy: 1e-5)
        XCTAssertEqual(value(.meanSquaredError, box, [0.6, 0.5, 0.2, 0.2]), 0.01 / 4, accuracy: 1e-7)
    }
}
