import Foundation
import PinpointAutograd
import PinpointTensor

/// Box regression losses on boxes in the tutorial's form, (x_center, y_center, w, h), rows of
/// [n, 4]; the mean over the batch. `generalizedIoU`, `distanceIoU` and `completeIoU` follow
/// torchvision.ops (`generalized_box_iou_loss`, `distance_box_iou_loss`,
/// `complete_box_iou_loss`, eps 1e-7) on the boxes' corners, values and gradients, including
/// at the degenerate cases: zero width, no overlap, identical boxes. Where a corner of the
/// prediction equals the target's, a min or max gives each side half the gradient, as torch's
/// do. `smoothL1` is torch's `smooth_l1_loss` (Keras's `Huber` with delta = beta, times 1/beta)
/// on the four coordinates. `l1Weight` adds that multiple of the mean absolute error of the
/// coordinates (DETR's and YOLO's pairing of an IoU loss with L1).
///
/// ```swift
/// let loss = BoxLoss(.completeIoU, l1Weight: 1)
/// let value = loss(targets, predictions)   // targets [n, 4], predictions on the tape
/// ```
public struct BoxLoss: Loss {
    public enum Kind: String, Sendable, CaseIterable {
        case meanSquaredError = "mse", smoothL1 = "smoothl1", generalizedIoU = "giou", distanceIoU = "diou", completeIoU = "ciou"
    }

    public let kind: Kind
    public let l1Weight: Float
    /// smoothL1's switch from quadratic to linear (torch's `beta`).
    public let beta: Float
    static let epsilon: Float = 1e-7

    public init(_ kind: Kind, l1Weight: Float = 0, beta: Float = 1) {
        self.kind = kind
        self.l1Weight = l1Weight
        self.beta = beta
    }

    public func callAsFunction(_ target: Tensor, _ prediction: Traced) -> Traced {
        precondition(target.shape == prediction.shape && prediction.rank == 2 && prediction.shape[1] == 4,
                     "BoxLoss: target \(target.shape) and prediction \(prediction.shape) must both be [n, 4]")
        var loss = perBox(target, prediction).mean()
        if l1Weight > 0 { loss = loss + (prediction - target).abs().mean() * l1Weight }
        return loss
    }

    /// The loss of each box, [n] (for the IoU losses) or [n, 4] (per coordinate).
    public func perBox(_ target: Tensor, _ prediction: Traced) -> Traced {
        switch kind {
        case .meanSquaredError:
            return (prediction - target).square()
        case .smoothL1:
            let difference = (prediction - target).abs()
            let quadratic = difference.square() * (0.5 / beta), linear = difference - 0.5 * beta
            return Traced.where(difference.value.less(Tensor(beta)), quadratic, linear)
        case .generalizedIoU, .distanceIoU, .completeIoU:
            return iouLoss(target, prediction)
        }
    }

    private func iouLoss(_ target: Tensor, _ prediction: Traced) -> Traced {
        let eps = Self.epsilon
        let p = Corners(prediction), t = Corners(Traced(target))
        // Intersection where both sides are positive, else zero (torchvision's mask).
        let left = maximum(p.x1, t.x1), top = maximum(p.y1, t.y1), right = minimum(p.x2, t.x2), bottom = minimum(p.y2, t.y2)
        let overlaps = right.value.greater(left.value) * bottom.value.greater(top.value)
        let intersection = Traced.where(overlaps, (right - left) * (bottom - top), Traced(Tensor.zeros(overlaps.shape)))
        let union = (p.x2 - p.x1) * (p.y2 - p.y1) + (t.x2 - t.x1) * (t.y2 - t.y1) - intersection
        let iou = intersection / (union + eps)
        // The smallest box enclosing both.
        let enclosingLeft = minimum(p.x1, t.x1), enclosingTop = minimum(p.y1, t.y1)
        let enclosingRight = maximum(p.x2, t.x2), enclosingBottom = maximum(p.y2, t.y2)
        switch kind {
        case .generalizedIoU:
            let area = (enclosingRight - enclosingLeft) * (enclosingBottom - enclosingTop)
            return 1 - (iou - (area - union) / (area + eps))
        default:
            let diagonal = (enclosingRight - enclosingLeft).square() + (enclosingBottom - enclosingTop).square() + eps
            let centers = ((p.x1 + p.x2) * 0.5 - (t.x1 + t.x2) * 0.5).square() + ((p.y1 + p.y2) * 0.5 - (t.y1 + t.y2) * 0.5).square()
            let distance = 1 - iou + centers / diagonal
            guard kind == .completeIoU else { return distance }
            let aspect = ((t.x2 - t.x1) / (t.y2 - t.y1)).atan() - ((p.x2 - p.x1) / (p.y2 - p.y1)).atan()
            let v = aspect.square() * Float(4 / (Double.pi * Double.pi))
            // torchvision computes alpha without a gradient.
            let alpha = v.value / (1 - iou.value + v.value + eps)
            return distance + v * alpha
        }
    }

    /// Corners of (x_center, y_center, w, h) rows, each [n].
    private struct Corners {
        let x1, y1, x2, y2: Traced
        init(_ boxes: Traced) {
            let c = boxes.split(sizes: [1, 1, 1, 1], alongAxis: 1).map { $0.reshaped([-1]) }
            x1 = c[0] - c[2] * 0.5
            y1 = c[1] - c[3] * 0.5
            x2 = c[0] + c[2] * 0.5
            y2 = c[1] + c[3] * 0.5
        }
    }

    /// max(a, b) with torch's gradient: on a tie, half to each side.
    private func maximum(_ a: Traced, _ b: Traced) -> Traced {
        tieSplit(a, b, a.value.greater(b.value))
    }

    private func minimum(_ a: Traced, _ b: Traced) -> Traced {
        tieSplit(a, b, a.value.less(b.value))
    }

    private func tieSplit(_ a: Traced, _ b: Traced, _ aWins: Tensor) -> Traced {
        let tie = a.value.equal(b.value)
        // Where tied, a - b is zero in value; the term moves half of b's gradient to a.
        return Traced.where(aWins, a, b) + (a - b) * (tie * 0.5)
    }
}
