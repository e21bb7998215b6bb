import Synchronization

/// Floating-point operations done by the matrix-multiply and convolution kernels (SGEMM, which
/// carries every convolution and Dense layer, and the depthwise kernels), counted as 2 per
/// multiply-add since the process started. Elementwise work is not counted: the figure is the
/// one frameworks quote for a model ("4.7 GFLOP per training image"), measured rather than
/// derived, so a benchmark can report GFLOP/s achieved for any model, a user's own included.
///
/// ```swift
/// let before = KernelCounters.floatingPointOperations
/// _ = a.matmul(b)
/// let flops = KernelCounters.floatingPointOperations - before   // 2 * m * n * k
/// ```
public enum KernelCounters {
    private static let flops = Atomic<UInt64>(0)

    public static var floatingPointOperations: UInt64 { flops.load(ordering: .relaxed) }

    static func add(multiplyAdds: Int) {
        flops.wrappingAdd(2 * UInt64(multiplyAdds), ordering: .relaxed)
    }
}
