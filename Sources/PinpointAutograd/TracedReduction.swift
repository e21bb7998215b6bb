import PinpointTensor

extension Traced {
    /// The reduced axes, normalized, as the Tensor reduction will use them.
    private func axesList(_ axes: [Int]?) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return axes.map { $0 < 0 ? $0 + rank : $0 }
    }

    /// The gradient of a reduction, reshaped to keep unit axes so it broadcasts over the input.
    private func keptShape(_ axes: [Int]) -> [Int] {
        shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    }

    public func sum(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Traced {
        let reduced = axesList(axes), kept = keptShape(reduced), inputShape = shape
        return Traced.record(value.sum(alongAxes: axes, keepingDimensions: keepingDimensions), inputs: [self], pullback: { g in
            [g.reshaped(kept).broadcast(to: inputShape)]
        })
    }

    public func mean(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Traced {
        let reduced = axesList(axes), kept = keptShape(reduced), inputShape = shape
        let n = Float(reduced.reduce(1) { $0 * inputShape[$1] })
        return Traced.record(value.mean(alongAxes: axes, keepingDimensions: keepingDimensions), inputs: [self], pullback: { g in
            [(g * (1 / n)).reshaped(kept).broadcast(to: inputShape)]
        })
    }

    /// Maximum over `axes`; tied maxima share the gradient equally (TensorFlow's reduce_max rule).
    public func max(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Traced {
        extremum(value.max(alongAxes: axes, keepingDimensions: true), axes, keepingDimensions)
    }

    /// Minimum over `axes`; tied minima share the gradient equally.
    public func min(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Traced {
        extremum(value.min(alongAxes: axes, keepingDimensions: true), axes, keepingDimensions)
    }

    private func extremum(_ kept: Tensor, _ axes: [Int]?, _ keepingDimensions: Bool) -> Traced {
        let reduced = axesList(axes), keptShape = keptShape(reduced), x = value
        let y = keepingDimensions ? kept : kept.reshaped(kept.shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element))
        return Traced.record(y, inputs: [self], pullback: { g in
            let mask = x.equal(kept)
            let share = mask / mask.sum(alongAxes: reduced, keepingDimensions: true)
            return [share * g.reshaped(keptShape)]
        })
    }

    /// Population variance over `axes`, composed from mean and square (so its gradient is theirs).
    public func variance(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Traced {
        let reduced = axesList(axes)
        let centered = self - mean(alongAxes: reduced, keepingDimensions: true)
        return centered.square().mean(alongAxes: reduced, keepingDimensions: keepingDimensions)
    }
}
