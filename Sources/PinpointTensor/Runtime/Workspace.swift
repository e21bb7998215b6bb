import Foundation

/// Reusable scratch buffers for kernels (im2col columns, GEMM outputs), so a training step does
/// not allocate and fault in tens of megabytes every time. Thread-safe; a buffer is lent to one
/// caller at a time and comes back to the pool afterwards.
enum Workspace {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [TensorStorage] = []
    /// Enough for the im2col buffers of the convolutions in flight plus their gradients.
    private static let maximumPooled = 8

    static func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buffer = take(count)
        defer { give(buffer) }
        return try body(buffer.pointer)
    }

    private static func take(_ count: Int) -> TensorStorage {
        lock.lock()
        defer { lock.unlock() }
        if let i = free.indices.filter({ free[$0].count >= count }).min(by: { free[$0].count < free[$1].count }) {
            return free.remove(at: i)
        }
        return TensorStorage(uninitializedCount: count)
    }

    private static func give(_ buffer: TensorStorage) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buffer)
        if free.count > maximumPooled {
            free.sort { $0.count > $1.count }
            free.removeLast()
        }
    }
}
