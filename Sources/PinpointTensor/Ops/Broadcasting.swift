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
