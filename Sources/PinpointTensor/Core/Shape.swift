/// Errors a caller can cause by combining tensors of incompatible shapes.
///
/// Arithmetic on tensors traps on a mismatch (as an out-of-range array index does), with this
/// error's description as the message. Code that takes shapes from outside the program (a file,
/// a user's model) checks ahead with the throwing functions that produce it, such as
/// `Tensor.broadcastShape(_:_:)`.
public enum ShapeError: Error, Equatable, CustomStringConvertible {
    /// Two shapes that cannot be broadcast together, NumPy rules.
    case notBroadcastable(operation: String, [Int], [Int])
    /// Two shapes that had to agree in some way and did not.
    case mismatch(operation: String, expected: [Int], got: [Int], detail: String)
    /// A shape or argument that is invalid on its own.
    case invalid(operation: String, shape: [Int], detail: String)

    public var description: String {
        switch self {
        case let .notBroadcastable(op, a, b):
            return "\(op): shapes \(a) and \(b) cannot be broadcast together"
        case let .mismatch(op, expected, got, detail):
            return "\(op): expected shape \(expected), got \(got)" + (detail.isEmpty ? "" : " (\(detail))")
        case let .invalid(op, shape, detail):
            return "\(op): invalid for shape \(shape): \(detail)"
        }
    }
}

/// Row-major strides for a shape.
@inlinable
public func contiguousStrides(for shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= Swift.max(shape[axis], 1)
    }
    return strides
}

@inlinable
func elementCount(_ shape: [Int]) -> Int {
    shape.reduce(1, *)
}

/// Turns a possibly negative axis into 0..<rank, trapping with a clear message otherwise.
@inlinable
func normalizedAxis(_ axis: Int, rank: Int, _ operation: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < Swift.max(rank, 1), "\(operation): axis \(axis) out of range for rank \(rank)")
    return a
}

func trap(_ error: ShapeError, file: StaticString = #file, line: UInt = #line) -> Never {
    preconditionFailure(error.description, file: file, line: line)
}
