// Reductions over chosen axes. One loop serves sum, max and min: it walks the input with the
// output's strides set to zero along the reduced axes, so every input element lands on its output.

extension Tensor {
    /// Sorted, de-duplicated, non-negative axes; all axes when `axes` is nil.
    func reductionAxes(_ axes: [Int]?, _ operation: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return Array(Set(axes.map { normalizedAxis($0, rank: rank, operation) })).sorted()
    }

    /// The shape after reducing `axes`, with or without unit axes left in their place.
    func reducedShape(_ axes: [Int], keepingDimensions: Bool) -> [Int] {
        var result: [Int] = []
        for axis in 0..<rank {
            if axes.contains(axis) {
                if keepingDimensions { result.append(1) }
            } else {
                result.append(shape[axis])
            }
        }
        return result
    }

    @inline(__always)
    private func reduce(
        _ axes: [Int]?, keepingDimensions: Bool, _ operation: String,
        initial: Double, _ combine: (Double, Float) -> Double
    ) -> Tensor {
        let axes = reductionAxes(axes, operation)
        let keptShape = reducedShape(axes, keepingDimensions: true)
        let outCount = elementCount(keptShape)
        // Accumulate in Double: a mean over a batch of images sums millions of Floats.
        var accumulator = [Double](repeating: initial, count: outCount)
        var outStrides = contiguousStrides(for: keptShape)
        for axis in axes { outStrides[axis] = 0 }
        let src = storage.pointer
        accumulator.withUnsafeMutableBufferPointer { acc in
            let accBase = acc.baseAddress!
            // Not threaded: two runs may land on the same output element.
            forEachRun(shape: shape, strides: [strides, outStrides], offsets: [offset, 0]) {
                offsets, runStrides, length, _ in
                let s = src + offsets[0]
                let a = accBase + offsets[1]
                let (ts, ta) = (runStrides[0], runStrides[1])
                if ta == 0 {
                    var value = a[0]
                    for i in 0..<length { value = combine(value, s[i * ts]) }
                    a[0] = value
                } else {
                    for i in 0..<length { a[i * ta] = combine(a[i * ta], s[i * ts]) }
                }
            }
        }
        let finalShape = reducedShape(axes, keepingDimensions: keepingDimensions)
        return Tensor(shape: finalShape) { out, count in
            for i in 0..<count { out[i] = Float(accumulator[i]) }
        }
    }

    /// Sum over `axes` (all when nil), NumPy `sum(axis=..., keepdims=...)`.
    public func sum(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let reduced = reductionAxes(axes, "sum")
        if isContiguous, !reduced.isEmpty, reduced.count < rank, reduced == Array(0..<reduced.count) {
            return sumOfLeadingAxes(reduced.count, keepingDimensions: keepingDimensions)
        }
        return reduce(reduced, keepingDimensions: keepingDimensions, "sum", initial: 0) { $0 + Double($1) }
    }

    /// The sum over the first `count` axes of a contiguous tensor (a bias gradient, BatchNorm's
    /// batch statistics): rows of the trailing axes added up by both cores into private Double
    /// accumulators, then combined.
    private func sumOfLeadingAxes(_ count: Int, keepingDimensions: Bool) -> Tensor {
        let rows = shape[..<count].reduce(1, *), width = shape[count...].reduce(1, *)
        let src = basePointer
        let workers = Swift.max(1, Swift.min(Parallelism.threadCount, rows * width / Parallelism.minimumElementsPerThread, rows))
        var partials = [Double](repeating: 0, count: workers * width)
        partials.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            forEachWorker(limit: workers) { worker, total in
                let acc = base + worker * width
                for row in stride(from: worker, to: rows, by: total) {
                    let r = src + row * width
                    for j in 0..<width { acc[j] += Double(r[j]) }
                }
            }
        }
        let outShape = keepingDimensions ? Array(repeating: 1, count: count) + shape[count...] : Array(shape[count...])
        return withExtendedLifetime(self) {
            Tensor(shape: outShape) { out, _ in
                for j in 0..<width {
                    var total = 0.0
                    for w in 0..<workers { total += partials[w * width + j] }
                    out[j] = Float(total)
                }
            }
        }
    }

    /// Arithmetic mean over `axes` (all when nil).
    public func mean(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let reduced = reductionAxes(axes, "mean")
        let n = reduced.reduce(1) { $0 * shape[$1] }
        precondition(n > 0, "mean: reducing an empty axis of shape \(shape)")
        return sum(alongAxes: reduced, keepingDimensions: keepingDimensions) * (1 / Float(n))
    }

    /// Largest element over `axes` (all when nil); NaN propagates.
    public func max(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        precondition(count > 0, "max: empty tensor of shape \(shape)")
        return reduce(axes, keepingDimensions: keepingDimensions, "max", initial: -.infinity) {
            $1.isNaN || $0.isNaN ? .nan : Swift.max($0, Double($1))
        }
    }

    /// Smallest element over `axes` (all when nil); NaN propagates.
    public func min(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        precondition(count > 0, "min: empty tensor of shape \(shape)")
        return reduce(axes, keepingDimensions: keepingDimensions, "min", initial: .infinity) {
            $1.isNaN || $0.isNaN ? .nan : Swift.min($0, Double($1))
        }
    }

    /// Population variance (divides by N, as NumPy's default and Keras's BatchNormalization).
    public func variance(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let reduced = reductionAxes(axes, "variance")
        let centered = self - mean(alongAxes: reduced, keepingDimensions: true)
        return centered.square().mean(alongAxes: reduced, keepingDimensions: keepingDimensions)
    }

    /// Index of the largest element along `axis` (the first one on ties, as NumPy), as Float
    /// values, exact below 2^24. The axis is removed from the shape.
    public func argmax(alongAxis axis: Int) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, "argmax")
        precondition(shape[axis] > 0, "argmax: empty axis \(axis) of shape \(shape)")
        var order = Array(0..<rank).filter { $0 != axis }
        order.append(axis)
        let moved = permuted(order).contiguous()
        let n = shape[axis]
        var outShape = shape
        outShape.remove(at: axis)
        let src = moved.basePointer
        return withExtendedLifetime(moved) {
            Tensor(shape: outShape) { out, count in
                for row in 0..<count {
                    let r = src + row * n
                    var best = 0
                    for i in 1..<n where r[i] > r[best] || (r[i].isNaN && !r[best].isNaN) { best = i }
                    out[row] = Float(best)
                }
            }
        }
    }
}
