import PinpointMetrics
import PinpointTensor
import XCTest

/// IoU on hand-computed cases, and the streaming accumulators.
final class MetricsTests: XCTestCase {
    func box(_ xmin: Double, _ ymin: Double, _ xmax: Double, _ ymax: Double) -> CornerBox {
        CornerBox(xmin: xmin, ymin: ymin, xmax: xmax, ymax: ymax)
    }

    func testIoUCases() {
        XCTAssertEqual(iou(box(0, 0, 2, 2), box(0, 0, 2, 2)), 1, "identical")
        XCTAssertEqual(iou(box(0, 0, 4, 4), box(1, 1, 3, 3)), 4.0 / 16, "contained: 4 / 16")
        XCTAssertEqual(iou(box(0, 0, 2, 2), box(1, 1, 3, 3)), 1.0 / 7, accuracy: 1e-12, "partial overlap: 1 / (4 + 4 - 1)")
        XCTAssertEqual(iou(box(0, 0, 2, 2), box(2, 0, 4, 2)), 0, "touching edges share no area")
        XCTAssertEqual(iou(box(0, 0, 1, 1), box(5, 5, 6, 6)), 0, "disjoint")
        XCTAssertEqual(iou(box(1, 1, 1, 3), box(0, 0, 2, 2)), 0, "zero-area box")
        XCTAssertEqual(iou(box(1, 1, 1, 1), box(1, 1, 1, 1)), 0, "two empty boxes: union 0, defined as 0")
        XCTAssertEqual(iou(box(3, 3, 1, 1), box(0, 0, 4, 4)), 0, "an inverted box has zero area")
        XCTAssertEqual(iou(box(0.1, 0.2, 0.5, 0.6), box(0.3, 0.4, 0.7, 0.8)), 0.04 / 0.28, accuracy: 1e-12, "continuous, no rounding")
    }

    func testCenterBoxesAndUnitsAgree() {
        let a = CenterBox(x: 0.5, y: 0.5, w: 0.4, h: 0.2), b = CenterBox(x: 0.6, y: 0.5, w: 0.4, h: 0.2)
        // Normalized and pixel IoU agree because each is computed in one unit (the tutorial's does not).
        XCTAssertEqual(iou(a, b), iou(a.pixels(width: 640, height: 480), b.pixels(width: 640, height: 480)), accuracy: 1e-12)
        XCTAssertEqual(iou(a, b), 0.3 / 0.5, accuracy: 1e-12)
        XCTAssertEqual(a.pixels(width: 100, height: 50), box(30, 20, 70, 30))
        XCTAssertEqual(box(0.4, 1.6, 2.2, 3.0).roundedOutward, box(0, 1, 3, 3))
    }

    func testStreamingAccumulatorsOverBatches() {
        var m = LocalizationMetrics()
        m.add(predictedBoxes: Tensor(shape: [2, 4], scalars: [0.5, 0.5, 0.4, 0.2, 0.2, 0.2, 0.1, 0.1]),
              trueBoxes: Tensor(shape: [2, 4], scalars: [0.6, 0.5, 0.4, 0.2, 0.8, 0.8, 0.1, 0.1]))
        m.add(predictedBoxes: Tensor(shape: [1, 4], scalars: [0.5, 0.5, 0.5, 0.5]), trueBoxes: Tensor(shape: [1, 4], scalars: [0.5, 0.5, 0.5, 0.5]),
              classProbabilities: Tensor(shape: [1, 2], scalars: [0.2, 0.8]), trueClasses: Tensor([1]))
        XCTAssertEqual(m.count, 3)
        XCTAssertEqual(m.meanIoU, (0.6 + 0 + 1) / 3, accuracy: 1e-6)
        XCTAssertEqual(m.iou50, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.iou75, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.boxMSE, (0.01 + 0.36 + 0.36) / 12, accuracy: 1e-6)
        XCTAssertEqual(m.accuracy, 1)
        XCTAssertEqual(m.crossEntropy!, -log(0.8), accuracy: 1e-6)
        XCTAssertNil(LocalizationMetrics().accuracy)
    }
}
