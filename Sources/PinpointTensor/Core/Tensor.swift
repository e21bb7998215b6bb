/// A Float32 n-dimensional array with value semantics.
///
/// A tensor is a view: a shape, strides (in elements, possibly zero for broadcast axes) and an
/// offset into shared `TensorStorage`. Views (`reshaped`, `transposed`, `sliced`,
/// `broadcast(to:)`) share storage and copy nothing; a write through any tensor first makes its
/// storage its own, so mutating a copy never changes the original.
///
/// ```swift
/// var a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
/// let b = a.transposed()          // a view, no copy
/// a[0, 0] = 10                    // copies first: b still sees 1
/// let c = a + Tensor([1, 2, 3])   // NumPy broadcasting
/// ```
///
/// Layout conventions follow Keras: images are NHWC, convolution kernels HWIO.
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var strides: [Int]
    public private(set) var offset: Int
    @usableFromInline var storage: TensorStorage

    /// Wraps existing storage; the caller guarantees every addressed element lies inside it.
    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        precondition(shape.count == strides.count, "Tensor: shape \(shape) and strides \(strides) differ in rank")
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A contiguous tensor whose elements are produced by `body`, which must write all `count` of them.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutablePointer<Float>, Int) -> Void) {
        let count = elementCount(shape)
        let storage = TensorStorage(uninitializedCount: count)
        body(storage.pointer, count)
        self.init(storage: storage, shape: shape, strides: contiguousStrides(for: shape))
    }

    public init(shape: [Int], repeating value: Float) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        let storage = TensorStorage(repeating: value, count: elementCount(shape))
        self.init(storage: storage, shape: shape, strides: contiguousStrides(for: shape))
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }

    /// A tensor of the given shape holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(
            elementCount(shape) == scalars.count,
            "Tensor(shape:scalars:): shape \(shape) holds \(elementCount(shape)) elements, got \(scalars.count)")
        self.init(shape: shape) { pointer, count in
            scalars.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: count) }
        }
    }

    /// A rank-1 tensor.
    public init(_ scalars: [Float]) {
        self.init(shape: [scalars.count], scalars: scalars)
    }

    /// A rank-0 tensor.
    public init(_ scalar: Float) {
        self.init(shape: [], scalars: [scalar])
    }

    public var rank: Int { shape.count }
    public var count: Int { elementCount(shape) }

    /// True when the elements are laid out row-major without gaps (the layout kernels want).
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// True when no two indices address the same element, so in-place writes are safe.
    var hasDistinctElements: Bool {
        for axis in 0..<rank where shape[axis] > 1 && strides[axis] == 0 { return false }
        return true
    }

    /// Storage offset of a multi-index.
    @inlinable
    func storageIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == rank, "Tensor subscript: \(indices.count) indices for shape \(shape)")
        var index = offset
        for axis in 0..<rank {
            let i = indices[axis] < 0 ? indices[axis] + shape[axis] : indices[axis]
            precondition(i >= 0 && i < shape[axis], "Tensor subscript: index \(indices) out of range for shape \(shape)")
            index += i * strides[axis]
        }
        return index
    }

    /// One element, by multi-index (negative indices count from the end).
    public subscript(indices: Int...) -> Float {
        get { storage.pointer[storageIndex(indices)] }
        set {
            makeUniquelyWritable()
            storage.pointer[storageIndex(indices)] = newValue
        }
    }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: shape \(shape) holds \(count) elements, not 1")
        return storage.pointer[offset]
    }

    /// All elements in row-major order.
    public var scalars: [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count))
    }

    /// This tensor if it is already contiguous, otherwise a contiguous copy.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        var result = Tensor(shape: shape) { _, _ in }
        copyStrided(from: self, into: result.storage.pointer)
        result.offset = 0
        return result
    }

    /// Ensures this tensor owns its storage and may write its elements in place.
    @usableFromInline
    mutating func makeUniquelyWritable() {
        if isKnownUniquelyReferenced(&storage) && hasDistinctElements { return }
        let copy = Tensor(shape: shape) { pointer, _ in copyStrided(from: self, into: pointer) }
        self = copy
    }

    /// Reads the elements in row-major order through a contiguous buffer.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let c = contiguous()
        return try withExtendedLifetime(c) {
            try body(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count))
        }
    }

    /// Writes the elements in row-major order; the tensor first becomes contiguous and its own.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isContiguous || !isKnownUniquelyReferenced(&storage) {
            self = Tensor(shape: shape) { pointer, _ in copyStrided(from: self, into: pointer) }
        }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer + offset, count: count))
    }

    /// True when both tensors are views of the same storage (a write to either would copy first).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// Pointer to the first element of a contiguous tensor, for kernels in this module.
    @usableFromInline
    var basePointer: UnsafeMutablePointer<Float> { storage.pointer + offset }
}

extension Tensor: Equatable {
    /// Equal shapes and equal elements (so NaN != NaN, as with Float).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.scalars == rhs.scalars
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = scalars
        func render(_ axis: Int, _ start: Int) -> String {
            if axis == rank { return "\(values[start])" }
            let step = shape[(axis + 1)...].reduce(1, *)
            if shape[axis] > 12 {
                let head = (0..<3).map { render(axis + 1, start + $0 * step) }
                let tail = (shape[axis] - 3..<shape[axis]).map { render(axis + 1, start + $0 * step) }
                return "[" + (head + ["..."] + tail).joined(separator: ", ") + "]"
            }
            return "[" + (0..<shape[axis]).map { render(axis + 1, start + $0 * step) }.joined(separator: ", ") + "]"
        }
        return "Tensor(shape: \(shape), \(count == 0 ? "[]" : render(0, 0)))"
    }
}

/// Copies a strided tensor's elements into `destination` in row-major order.
func copyStrided(from source: Tensor, into destination: UnsafeMutablePointer<Float>) {
    let src = source.storage.pointer
    forEachRun(shape: source.shape, strides: [source.strides], offsets: [source.offset]) {
        offsets, runStrides, runLength, outIndex in
        let s = src + offsets[0]
        let d = destination + outIndex
        let st = runStrides[0]
        if st == 1 {
            d.update(from: s, count: runLength)
        } else {
            for i in 0..<runLength { d[i] = s[i * st] }
        }
    }
}
