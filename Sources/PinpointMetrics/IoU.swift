import Foundation
import PinpointTensor

/// A box as the tutorial's records hold it: centre and size, normalized to the image ([0, 1]).
public struct CenterBox: Equatable, Sendable {
    public var x: Double, y: Double, w: Double, h: Double
    public init(x: Double, y: Double, w: Double, h: Double) { self.x = x; self.y = y; self.w = w; self.h = h }

    /// The same box as corners in the same (normalized) units.
    public var corners: CornerBox { CornerBox(xmin: x - w / 2, ymin: y - h / 2, xmax: x + w / 2, ymax: y + h / 2) }

    /// Corners in pixels of an image of the given size.
    public func pixels(width: Int, height: Int) -> CornerBox {
        let c = corners
        return CornerBox(xmin: c.xmin * Double(width), ymin: c.ymin * Double(height), xmax: c.xmax * Double(width), ymax: c.ymax * Double(height))
    }
}

/// A box as corners (xmin, ymin, xmax, ymax), in pixels or normalized units.
public struct CornerBox: Equatable, Sendable {
    public var xmin: Double, ymin: Double, xmax: Double, ymax: Double
    public init(xmin: Double, ymin: Double, xmax: Double, ymax: Double) {
        self.xmin = xmin; self.ymin = ymin; self.xmax = xmax; self.ymax = ymax
    }

    /// Area, with a negative width or height (an inverted box) counting as zero.
    public var area: Double { max(xmax - xmin, 0) * max(ymax - ymin, 0) }

    /// Rounded outward to whole pixels, for those who want the tutorial's integer boxes.
    public var roundedOutward: CornerBox {
        CornerBox(xmin: xmin.rounded(.down), ymin: ymin.rounded(.down), xmax: xmax.rounded(.up), ymax: ymax.rounded(.up))
    }
}

/// Intersection over union of two boxes in the same units: intersection / (area A + area B -
/// intersection), continuous (no rounding). Disjoint or touching boxes give 0; an inverted box has
/// zero area; when both areas are zero the union is zero and the IoU is defined as 0.
///
/// The tutorial computes the intersection in pixels and the union from normalized areas, mixing
/// units; this does not.
///
/// ```swift
/// iou(CornerBox(xmin: 0, ymin: 0, xmax: 2, ymax: 2), CornerBox(xmin: 1, ymin: 1, xmax: 3, ymax: 3))  // 1/7
/// ```
public func iou(_ a: CornerBox, _ b: CornerBox) -> Double {
    let iw = min(a.xmax, b.xmax) - max(a.xmin, b.xmin), ih = min(a.ymax, b.ymax) - max(a.ymin, b.ymin)
    let intersection = max(iw, 0) * max(ih, 0)
    let union = a.area + b.area - intersection
    return union > 0 ? intersection / union : 0
}

public func iou(_ a: CenterBox, _ b: CenterBox) -> Double { iou(a.corners, b.corners) }

/// Running totals of the tutorial's evaluation over batches, so a validation set is never held
/// in memory: mean IoU, the shares of boxes with IoU >= 0.5 and >= 0.75, the box MSE, and, for
/// models with a class head, the mean sparse cross-entropy and the accuracy.
public struct LocalizationMetrics: Sendable {
    public private(set) var count = 0
    private var iouSum = 0.0, at50 = 0, at75 = 0, squaredError = 0.0
    private var classified = 0, correct = 0, crossEntropySum = 0.0

    public init() {}

    /// Adds a batch: predicted and true boxes [n, 4] as (x, y, w, h), and optionally predicted class
    /// probabilities [n, classes] with true classes [n].
    public mutating func add(predictedBoxes: Tensor, trueBoxes: Tensor, classProbabilities: Tensor? = nil, trueClasses: Tensor? = nil) {
        precondition(predictedBoxes.shape == trueBoxes.shape && predictedBoxes.shape.last == 4,
                     "LocalizationMetrics: boxes \(predictedBoxes.shape) and \(trueBoxes.shape) must both be [n, 4]")
        let p = predictedBoxes.scalars, t = trueBoxes.scalars
        for i in 0..<(p.count / 4) {
            let a = CenterBox(x: Double(p[4 * i]), y: Double(p[4 * i + 1]), w: Double(p[4 * i + 2]), h: Double(p[4 * i + 3]))
            let b = CenterBox(x: Double(t[4 * i]), y: Double(t[4 * i + 1]), w: Double(t[4 * i + 2]), h: Double(t[4 * i + 3]))
            let value = iou(a, b)
            iouSum += value
            if value >= 0.5 { at50 += 1 }
            if value >= 0.75 { at75 += 1 }
            for k in 0..<4 { squaredError += Double(p[4 * i + k] - t[4 * i + k]) * Double(p[4 * i + k] - t[4 * i + k]) }
            count += 1
        }
        if let probabilities = classProbabilities, let classes = trueClasses {
            let k = probabilities.shape[1], q = probabilities.scalars
            for (row, label) in classes.scalars.enumerated() {
                let scores = q[(row * k)..<((row + 1) * k)]
                let predicted = scores.indices.max { scores[$0] < scores[$1] }! - row * k
                if predicted == Int(label) { correct += 1 }
                crossEntropySum -= Foundation.log(Double(min(max(scores[row * k + Int(label)], 1e-7), 1 - 1e-7)))
                classified += 1
            }
        }
    }

    public var meanIoU: Double { count > 0 ? iouSum / Double(count) : .nan }
    public var iou50: Double { count > 0 ? Double(at50) / Double(count) : .nan }
    public var iou75: Double { count > 0 ? Double(at75) / Double(count) : .nan }
    public var boxMSE: Double { count > 0 ? squaredError / Double(4 * count) : .nan }
    public var accuracy: Double? { classified > 0 ? Double(correct) / Double(classified) : nil }
    public var crossEntropy: Double? { classified > 0 ? crossEntropySum / Double(classified) : nil }
}
