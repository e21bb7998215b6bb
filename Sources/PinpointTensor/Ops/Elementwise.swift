import Foundation

// Elementwise operations: one broadcasting loop for binary ops, one for unary ops; every
// operation is a one-line closure over them. Both run on all cores above a size threshold.

extension Tensor {
    /// Applies `op` to every element, producing a contiguous tensor of the same shape.
    @inline(__always)
    public func map(_ op: (Float) -> Float) -> Tensor {
        let src = storage.pointer
        return Tensor(shape: shape) { out, _ in
            forEachRun(shape: shape, strides: [strides], offsets: [offset], parallel: true) {
                offsets, runStrides, length, index in
                let s = src + offsets[0]
                let d = out + index
                let st = runStrides[0]
                if st == 1 {
                    for i in 0..<length { d[i] = op(s[i]) }
                } else {
                    for i in 0..<length { d[i] = op(s[i * st]) }
                }
            }
        }
    }

    /// Combines two tensors element by element with NumPy broadcasting.
    @inline(__always)
    public func zipMap(_ other: Tensor, operation: String = "zipMap", _ op: (Float, Float) -> Float) -> Tensor {
        let outShape: [Int]
        do { outShape = try Tensor.broadcastShape(shape, other.shape, operation: operation) } catch { trap(error) }
        let sa = broadcastStrides(to: outShape)
        let sb = other.broadcastStrides(to: outShape)
        let pa = storage.pointer, pb = other.storage.pointer
        return withExtendedLifetime((self, other)) {
            Tensor(shape: outShape) { out, _ in
                forEachRun(shape: outShape, strides: [sa, sb], offsets: [offset, other.offset], parallel: true) {
                    offsets, runStrides, length, index in
                    let a = pa + offsets[0], b = pb + offsets[1]
                    let d = out + index
                    let (ta, tb) = (runStrides[0], runStrides[1])
                    if ta == 1 && tb == 1 {
                        for i in 0..<length { d[i] = op(a[i], b[i]) }
                    } else if ta == 1 && tb == 0 {
                        let y = b[0]
                        for i in 0..<length { d[i] = op(a[i], y) }
                    } else if ta == 0 && tb == 1 {
                        let x = a[0]
                        for i in 0..<length { d[i] = op(x, b[i]) }
                    } else {
                        for i in 0..<length { d[i] = op(a[i * ta], b[i * tb]) }
                    }
                }
            }
        }
    }

    /// `condition ? a : b` element by element (nonzero is true), all three broadcast together.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let outShape: [Int]
        do {
            let ab = try broadcastShape(a.shape, b.shape, operation: "where")
            outShape = try broadcastShape(condition.shape, ab, operation: "where")
        } catch { trap(error) }
        let strides = [condition.broadcastStrides(to: outShape), a.broadcastStrides(to: outShape),
                       b.broadcastStrides(to: outShape)]
        let pc = condition.storage.pointer, pa = a.storage.pointer, pb = b.storage.pointer
        return withExtendedLifetime((condition, a, b)) {
            Tensor(shape: outShape) { out, _ in
                forEachRun(shape: outShape, strides: strides, offsets: [condition.offset, a.offset, b.offset],
                           parallel: true) { offsets, st, length, index in
                    let c = pc + offsets[0], x = pa + offsets[1], y = pb + offsets[2]
                    for i in 0..<length {
                        out[index + i] = c[i * st[0]] != 0 ? x[i * st[1]] : y[i * st[2]]
                    }
                }
            }
        }
    }
}

// MARK: Arithmetic

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, operation: "add", +) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, operation: "subtract", -) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, operation: "multiply", *) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b, operation: "divide", /) }

    public static func + (a: Tensor, b: Float) -> Tensor { a.map { $0 + b } }
    public static func - (a: Tensor, b: Float) -> Tensor { a.map { $0 - b } }
    public static func * (a: Tensor, b: Float) -> Tensor { a.map { $0 * b } }
    public static func / (a: Tensor, b: Float) -> Tensor { a.map { $0 / b } }
    public static func + (a: Float, b: Tensor) -> Tensor { b.map { a + $0 } }
    public static func - (a: Float, b: Tensor) -> Tensor { b.map { a - $0 } }
    public static func * (a: Float, b: Tensor) -> Tensor { b.map { a * $0 } }
    public static func / (a: Float, b: Tensor) -> Tensor { b.map { a / $0 } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }

    /// Elementwise maximum (NumPy `maximum`).
    public func maximum(_ other: Tensor) -> Tensor { zipMap(other, operation: "maximum") { Swift.max($0, $1) } }
    /// Elementwise minimum (NumPy `minimum`).
    public func minimum(_ other: Tensor) -> Tensor { zipMap(other, operation: "minimum") { Swift.min($0, $1) } }
    /// `self` raised to `other`, elementwise.
    public func pow(_ other: Tensor) -> Tensor { zipMap(other, operation: "pow") { Foundation.pow($0, $1) } }
}

// MARK: Unary math

extension Tensor {
    public func exp() -> Tensor { map { Foundation.exp($0) } }
    public func log() -> Tensor { map { Foundation.log($0) } }
    public func sqrt() -> Tensor { map { $0.squareRoot() } }
    public func square() -> Tensor { map { $0 * $0 } }
    public func abs() -> Tensor { map { Swift.abs($0) } }
    public func sign() -> Tensor { map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) } }
    public func tanh() -> Tensor { map { Foundation.tanh($0) } }
    public func atan() -> Tensor { map { Foundation.atan($0) } }
    /// Limits every element to [low, high] (NaN stays NaN, as in TensorFlow's clip_by_value).
    public func clipped(min low: Float, max high: Float) -> Tensor {
        precondition(low <= high, "clipped(min:max:): min \(low) is greater than max \(high)")
        return map { $0.isNaN ? $0 : Swift.min(Swift.max($0, low), high) }
    }
}

// MARK: Comparisons (1 where true, 0 where false)

extension Tensor {
    public func greater(_ other: Tensor) -> Tensor { zipMap(other, operation: "greater") { $0 > $1 ? 1 : 0 } }
    public func greaterEqual(_ other: Tensor) -> Tensor { zipMap(other, operation: "greaterEqual") { $0 >= $1 ? 1 : 0 } }
    public func less(_ other: Tensor) -> Tensor { zipMap(other, operation: "less") { $0 < $1 ? 1 : 0 } }
    public func lessEqual(_ other: Tensor) -> Tensor { zipMap(other, operation: "lessEqual") { $0 <= $1 ? 1 : 0 } }
    public func equal(_ other: Tensor) -> Tensor { zipMap(other, operation: "equal") { $0 == $1 ? 1 : 0 } }
    public func notEqual(_ other: Tensor) -> Tensor { zipMap(other, operation: "notEqual") { $0 != $1 ? 1 : 0 } }

    /// True when both have the same shape and every pair of elements is within
    /// `absoluteTolerance + relativeTolerance * |other|` (NumPy `allclose`).
    public func isClose(to other: Tensor, relativeTolerance: Float = 1e-5, absoluteTolerance: Float = 1e-6) -> Bool {
        guard shape == other.shape else { return false }
        let a = scalars, b = other.scalars
        for i in 0..<a.count {
            if a[i].isNaN || b[i].isNaN { return false }
            if Swift.abs(a[i] - b[i]) > absoluteTolerance + relativeTolerance * Swift.abs(b[i]) { return false }
        }
        return true
    }
}
