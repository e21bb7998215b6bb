import PinpointTensor

extension Traced {
    public func reshaped(_ newShape: [Int]) -> Traced {
        let inputShape = shape
        return Traced.record(value.reshaped(newShape), inputs: [self], pullback: { g in [g.reshaped(inputShape)] })
    }

    /// Flattens all axes after the first: [N, ...] -> [N, rest] (Keras `Flatten`).
    public func flattened() -> Traced { reshaped([shape[0], -1]) }

    public func permuted(_ order: [Int]) -> Traced {
        var inverse = [Int](repeating: 0, count: order.count)
        for (i, axis) in order.enumerated() { inverse[axis] = i }
        return Traced.record(value.permuted(order), inputs: [self], pullback: { g in [g.permuted(inverse)] })
    }

    public func transposed() -> Traced {
        Traced.record(value.transposed(), inputs: [self], pullback: { g in [g.transposed()] })
    }

    public func expandingDimensions(at axis: Int) -> Traced {
        reshaped(value.expandingDimensions(at: axis).shape)
    }

    public func squeezed(axes: [Int]? = nil) -> Traced {
        reshaped(value.squeezed(axes: axes).shape)
    }

    /// A zero-copy view broadcast to `target`; its gradient sums back over the broadcast axes.
    public func broadcast(to target: [Int]) -> Traced {
        Traced.record(value.broadcast(to: target), inputs: [self], pullback: { g in [g] })
    }

    public func sliced(alongAxis axis: Int, from start: Int = 0, to end: Int? = nil, step: Int = 1) -> Traced {
        let inputShape = shape
        return Traced.record(value.sliced(alongAxis: axis, from: start, to: end, step: step), inputs: [self], pullback: { g in
            var dx = Tensor.zeros(inputShape)
            dx.assignSlice(alongAxis: axis, from: start, to: end, step: step, g)
            return [dx]
        })
    }

    /// The sub-tensor at `index` along the first axis.
    public subscript(index index: Int) -> Traced {
        let i = index < 0 ? index + shape[0] : index
        return sliced(alongAxis: 0, from: i, to: i + 1).squeezed(axes: [0])
    }

    public func padded(_ paddings: [(before: Int, after: Int)], value fill: Float = 0) -> Traced {
        let inputShape = shape
        return Traced.record(value.padded(paddings, value: fill), inputs: [self], pullback: { g in
            var region = g
            for axis in 0..<inputShape.count {
                region = region.sliced(alongAxis: axis, from: paddings[axis].before, to: paddings[axis].before + inputShape[axis])
            }
            return [region]
        })
    }

    public static func concatenate(_ values: [Traced], alongAxis axis: Int) -> Traced {
        let result = Tensor.concatenate(values.map(\.value), alongAxis: axis)
        let a = axis < 0 ? axis + result.rank : axis
        let sizes = values.map { $0.shape[a] }
        return record(result, inputs: values, pullback: { g in g.split(sizes: sizes, alongAxis: a).map { $0 } })
    }

    public static func stack(_ values: [Traced], alongAxis axis: Int = 0) -> Traced {
        concatenate(values.map { $0.expandingDimensions(at: axis) }, alongAxis: axis)
    }

    public func split(sizes: [Int], alongAxis axis: Int) -> [Traced] {
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(alongAxis: axis, from: start, to: start + size)
        }
    }
}
