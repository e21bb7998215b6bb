// Views (no copy): reshape when the layout allows, permute/transpose, slicing with steps,
// expanding and squeezing axes. Copies: concatenation, stacking, padding.

extension Tensor {
    /// The same elements in a new shape (one dimension may be -1 and is inferred). A view when
    /// the strides allow it, otherwise a contiguous copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        let inferred = target.indices.filter { target[$0] == -1 }
        precondition(inferred.count <= 1, "reshaped: more than one -1 in \(newShape)")
        if let i = inferred.first {
            let known = target.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0,
                         ShapeError.mismatch(operation: "reshaped", expected: newShape, got: shape,
                                             detail: "\(count) elements").description)
            target[i] = count / known
        }
        precondition(elementCount(target) == count && target.allSatisfy { $0 >= 0 },
                     ShapeError.mismatch(operation: "reshaped", expected: target, got: shape,
                                         detail: "element counts differ").description)
        if let viewStrides = reshapedStrides(target) {
            return Tensor(storage: storage, shape: target, strides: viewStrides, offset: offset)
        }
        let c = contiguous()
        return Tensor(storage: c.storage, shape: target, strides: contiguousStrides(for: target), offset: c.offset)
    }

    /// Strides for viewing this tensor in `target` shape without a copy, or nil when the layout
    /// does not allow it (NumPy's `_attempt_nocopy_reshape`: split and merge only runs of axes
    /// that are contiguous among themselves).
    private func reshapedStrides(_ target: [Int]) -> [Int]? {
        if isContiguous { return contiguousStrides(for: target) }
        let oldDims = shape.indices.filter { shape[$0] != 1 }
        let od = oldDims.map { shape[$0] }, os = oldDims.map { strides[$0] }
        var result = [Int](repeating: 0, count: target.count)
        var oi = 0, ni = 0
        while ni < target.count && oi < od.count {
            var np = target[ni], op = od[oi]
            var nj = ni + 1, oj = oi + 1
            while np != op {
                if np < op {
                    guard nj < target.count else { return nil }
                    np *= target[nj]; nj += 1
                } else {
                    guard oj < od.count else { return nil }
                    op *= od[oj]; oj += 1
                }
            }
            for k in oi..<(oj - 1) where os[k] != od[k + 1] * os[k + 1] { return nil }
            result[nj - 1] = os[oj - 1]
            if nj - 1 > ni {
                for k in stride(from: nj - 1, to: ni, by: -1) { result[k - 1] = result[k] * target[k] }
            }
            ni = nj; oi = oj
        }
        // Trailing unit axes.
        for k in ni..<target.count {
            guard target[k] == 1 else { return nil }
            result[k] = 1
        }
        return result
    }

    /// Axes reordered: result axis i is this tensor's axis `order[i]` (NumPy `transpose(order)`).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank),
                     ShapeError.invalid(operation: "permuted", shape: shape,
                                        detail: "\(order) is not a permutation of 0..<\(rank)").description)
        return Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset)
    }

    /// The last two axes swapped (a matrix transpose for rank 2).
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: needs rank 2 or more, shape is \(shape)")
        var order = Array(0..<rank)
        order.swapAt(rank - 1, rank - 2)
        return permuted(order)
    }

    /// Shorthand for `transposed()`.
    public var T: Tensor { transposed() }

    /// Elements `start, start + step, ...` below `end` along `axis` (Python `x[start:end:step]`
    /// with a positive step; bounds are clamped as Python does).
    public func sliced(alongAxis axis: Int, from start: Int = 0, to end: Int? = nil, step: Int = 1) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, "sliced")
        precondition(step > 0, "sliced: step must be positive, got \(step)")
        let n = shape[axis]
        func clamp(_ i: Int) -> Int { Swift.min(Swift.max(i < 0 ? i + n : i, 0), n) }
        let lo = clamp(start), hi = clamp(end ?? n)
        let length = hi > lo ? (hi - lo + step - 1) / step : 0
        var newShape = shape, newStrides = strides
        newShape[axis] = length
        newStrides[axis] = strides[axis] * step
        return Tensor(storage: storage, shape: newShape, strides: newStrides,
                      offset: length > 0 ? offset + lo * strides[axis] : offset)
    }

    /// Slices every axis at once with Swift ranges: `x[0..<2, 1...]`-style bounds per axis.
    public func sliced(_ ranges: [Range<Int>]) -> Tensor {
        precondition(ranges.count <= rank, "sliced: \(ranges.count) ranges for shape \(shape)")
        var result = self
        for (axis, range) in ranges.enumerated() {
            precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis],
                         "sliced: range \(range) out of bounds for axis \(axis) of shape \(shape)")
            result = result.sliced(alongAxis: axis, from: range.lowerBound, to: range.upperBound)
        }
        return result
    }

    /// The sub-tensor at `index` along the first axis, with that axis removed.
    public subscript(index index: Int) -> Tensor {
        precondition(rank >= 1, "subscript(index:): scalar tensor has no axes")
        let i = index < 0 ? index + shape[0] : index
        precondition(i >= 0 && i < shape[0], "subscript(index:): \(index) out of range for shape \(shape)")
        return Tensor(storage: storage, shape: Array(shape.dropFirst()), strides: Array(strides.dropFirst()),
                      offset: offset + i * strides[0])
    }

    /// A unit axis inserted at `axis` (NumPy `expand_dims`).
    public func expandingDimensions(at axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "expandingDimensions: axis \(axis) out of range for rank \(rank)")
        var s = shape, st = strides
        s.insert(1, at: a)
        st.insert(a < rank ? strides[a] * shape[a] : 1, at: a)
        return Tensor(storage: storage, shape: s, strides: st, offset: offset)
    }

    /// Unit axes removed: the given ones, or all when `axes` is nil.
    public func squeezed(axes: [Int]? = nil) -> Tensor {
        let remove = axes.map { $0.map { normalizedAxis($0, rank: rank, "squeezed") } } ?? shape.indices.filter { shape[$0] == 1 }
        for axis in remove {
            precondition(shape[axis] == 1, "squeezed: axis \(axis) of shape \(shape) is not 1")
        }
        let keep = shape.indices.filter { !remove.contains($0) }
        return Tensor(storage: storage, shape: keep.map { shape[$0] }, strides: keep.map { strides[$0] }, offset: offset)
    }

    /// Joins tensors along an existing axis; every other dimension must agree.
    public static func concatenate(_ tensors: [Tensor], alongAxis axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let axis = normalizedAxis(axis, rank: first.rank, "concatenate")
        var outShape = first.shape
        outShape[axis] = 0
        for t in tensors {
            var expected = first.shape
            expected[axis] = t.rank == first.rank ? t.shape[axis] : -1
            if t.shape != expected {
                trap(.mismatch(operation: "concatenate", expected: first.shape, got: t.shape,
                               detail: "all dimensions but axis \(axis) must agree"))
            }
            outShape[axis] += t.shape[axis]
        }
        var result = Tensor.zeros(outShape)
        var position = 0
        for t in tensors {
            result.assign(t, alongAxis: axis, at: position)
            position += t.shape[axis]
        }
        return result
    }

    /// Joins same-shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], alongAxis axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        for t in tensors where t.shape != tensors[0].shape {
            trap(.mismatch(operation: "stack", expected: tensors[0].shape, got: t.shape, detail: "stacked tensors must match"))
        }
        return concatenate(tensors.map { $0.expandingDimensions(at: axis) }, alongAxis: axis)
    }

    /// Views of consecutive pieces along `axis` with the given sizes (which must sum to the dimension).
    public func split(sizes: [Int], alongAxis axis: Int) -> [Tensor] {
        let axis = normalizedAxis(axis, rank: rank, "split")
        precondition(sizes.reduce(0, +) == shape[axis] && sizes.allSatisfy { $0 >= 0 },
                     "split: sizes \(sizes) do not add up to \(shape[axis]) on axis \(axis) of shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(alongAxis: axis, from: start, to: start + size)
        }
    }

    /// Views of `count` equal pieces along `axis`.
    public func split(count: Int, alongAxis axis: Int) -> [Tensor] {
        let axis = normalizedAxis(axis, rank: rank, "split")
        precondition(count > 0 && shape[axis] % count == 0, "split: \(shape[axis]) is not divisible into \(count) pieces")
        return split(sizes: Array(repeating: shape[axis] / count, count: count), alongAxis: axis)
    }

    /// A copy with `value` added before and after each axis: `paddings[i] = (before, after)`.
    public func padded(_ paddings: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(paddings.count == rank, "padded: \(paddings.count) paddings for shape \(shape)")
        precondition(paddings.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "padded: negative padding")
        let outShape = (0..<rank).map { shape[$0] + paddings[$0].before + paddings[$0].after }
        // Filled and copied on all threads: MobileNetV2 pads 190 MB activations four times a step.
        var result = Tensor(shape: outShape) { out, count in
            parallelChunks(count) { range in (out + range.lowerBound).initialize(repeating: value, count: range.count) }
        }
        var region = result.storageView
        for axis in 0..<rank {
            region = region.sliced(alongAxis: axis, from: paddings[axis].before, to: paddings[axis].before + shape[axis])
        }
        result.write(self, into: region)
        return result
    }

    /// Copies `source` into this tensor at `position` along `axis`.
    mutating func assign(_ source: Tensor, alongAxis axis: Int, at position: Int) {
        makeUniquelyWritable()
        let region = storageView.sliced(alongAxis: axis, from: position, to: position + source.shape[axis])
        write(source, into: region)
    }

    /// This tensor's own layout as a view (sharing storage), used to address sub-regions for writes.
    var storageView: Tensor { Tensor(storage: storage, shape: shape, strides: strides, offset: offset) }

    /// Writes `source` into `region`, a view of this tensor's own storage of the same shape.
    private mutating func write(_ source: Tensor, into region: Tensor) {
        precondition(region.storage === storage && region.shape == source.shape)
        let dst = storage.pointer, src = source.storage.pointer
        withExtendedLifetime(source) {
            forEachRun(shape: region.shape, strides: [region.strides, source.strides],
                       offsets: [region.offset, source.offset], parallel: true) { offsets, st, length, _ in
                let d = dst + offsets[0], s = src + offsets[1]
                if st[0] == 1 && st[1] == 1 {
                    d.update(from: s, count: length)
                } else {
                    for i in 0..<length { d[i * st[0]] = s[i * st[1]] }
                }
            }
        }
    }
}

extension Tensor {
    /// Writes `source` into the elements `sliced(alongAxis:from:to:step:)` would view; the
    /// adjoint of slicing. `source` must have that slice's shape.
    public mutating func assignSlice(alongAxis axis: Int, from start: Int = 0, to end: Int? = nil, step: Int = 1,
                                     _ source: Tensor) {
        makeUniquelyWritable()
        let region = storageView.sliced(alongAxis: axis, from: start, to: end, step: step)
        if region.shape != source.shape {
            trap(.mismatch(operation: "assignSlice", expected: region.shape, got: source.shape, detail: "slice of \(shape)"))
        }
        write(source, into: region)
    }
}

// MARK: Broadcasting

extension Tensor {
    /// The shape two operands broadcast to under NumPy's rules: align trailing axes; each pair
    /// must be equal or contain a 1.
    public static func broadcastShape(_ a: [Int], _ b: [Int], operation: String = "broadcast") throws(ShapeError) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 {
                result[i] = da
            } else if da == 1 {
                result[i] = db
            } else {
                throw .notBroadcastable(operation: operation, a, b)
            }
        }
        return result
    }

    /// Strides that read this tensor as if it had `target` shape: zero along broadcast axes.
    /// Precondition: `shape` broadcasts to `target`.
    func broadcastStrides(to target: [Int]) -> [Int] {
        let pad = target.count - rank
        var result = [Int](repeating: 0, count: target.count)
        for axis in 0..<rank where shape[axis] != 1 || target[pad + axis] == 1 {
            result[pad + axis] = shape[axis] == target[pad + axis] ? strides[axis] : 0
        }
        return result
    }

    /// A zero-copy view of this tensor with `shape` broadcast to `target` (NumPy `broadcast_to`).
    public func broadcast(to target: [Int]) -> Tensor {
        do {
            let result = try Tensor.broadcastShape(shape, target, operation: "broadcast(to:)")
            guard result == target else {
                throw ShapeError.mismatch(operation: "broadcast(to:)", expected: target, got: shape,
                                          detail: "target must be at least as large on every axis")
            }
        } catch {
            trap(error as! ShapeError)
        }
        return Tensor(storage: storage, shape: target, strides: broadcastStrides(to: target), offset: offset)
    }

    /// Sums over the axes along which `shape` was broadcast to reach this tensor's shape, so the
    /// result has `shape`: the adjoint of `broadcast(to:)`, shared by every gradient that must
    /// undo broadcasting.
    public func unbroadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let pad = rank - target.count
        precondition(pad >= 0, "unbroadcast: shape \(shape) has lower rank than target \(target)")
        var axes = Array(0..<pad)
        for axis in 0..<target.count where target[axis] == 1 && shape[pad + axis] != 1 {
            axes.append(pad + axis)
        }
        let summed = axes.isEmpty ? self : sum(alongAxes: axes, keepingDimensions: true)
        return summed.reshaped(target)
    }
}
