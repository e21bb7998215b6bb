import Foundation

/// The buffer behind one or more tensors.
///
/// A final class so that `Tensor` (a struct) can share it between views and check
/// `isKnownUniquelyReferenced` before a write: copy-on-write without copies on read.
/// Memory is 64-byte aligned so that vector loads never straddle a cache line. Large buffers
/// come from and return to `StoragePool`, so a training loop that allocates the same activation
/// and gradient shapes every step reuses memory instead of faulting in fresh pages each time.
public final class TensorStorage: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    private let capacity: Int

    /// Uninitialized storage for `count` floats; the caller writes every element.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.count = count
        let (raw, capacity) = StoragePool.allocate(count)
        self.capacity = capacity
        pointer = raw.bindMemory(to: Float.self, capacity: capacity)
    }

    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit {
        StoragePool.release(UnsafeMutableRawPointer(pointer), capacity: capacity)
    }
}

/// A cache of large freed buffers, by size class.
///
/// Buffers of at least `minimumPooledCount` floats are rounded up to a size class and, when
/// freed, kept for the next request of that class, up to `limitBytes` in total; smaller ones go
/// straight to malloc, which already recycles them well.
public enum StoragePool {
    /// Bytes of freed buffers kept for reuse (default 1 GiB). Lower it to trade speed for memory.
    nonisolated(unsafe) public static var limitBytes = 1 << 30

    static let minimumPooledCount = 1 << 16            // 256 KiB
    private static let lock = NSLock()
    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var cachedBytes = 0

    /// Size classes: multiples of 1/8 of the next lower power of two, so waste stays under 12.5%.
    static func sizeClass(_ count: Int) -> Int {
        guard count >= minimumPooledCount else { return Swift.max(count, 1) }
        let step = 1 << (Int.bitWidth - count.leadingZeroBitCount - 1 - 3)
        return (count + step - 1) / step * step
    }

    static func allocate(_ count: Int) -> (UnsafeMutableRawPointer, capacity: Int) {
        let capacity = sizeClass(count)
        if capacity >= minimumPooledCount {
            lock.lock()
            if let buffer = free[capacity]?.popLast() {
                cachedBytes -= capacity * MemoryLayout<Float>.stride
                lock.unlock()
                return (buffer, capacity)
            }
            lock.unlock()
        }
        return (UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64), capacity)
    }

    static func release(_ buffer: UnsafeMutableRawPointer, capacity: Int) {
        let bytes = capacity * MemoryLayout<Float>.stride
        if capacity >= minimumPooledCount {
            lock.lock()
            if cachedBytes + bytes <= limitBytes {
                free[capacity, default: []].append(buffer)
                cachedBytes += bytes
                lock.unlock()
                return
            }
            lock.unlock()
        }
        buffer.deallocate()
    }

    /// Frees every cached buffer (for example after training, before a memory-hungry step).
    public static func drain() {
        lock.lock()
        defer { lock.unlock() }
        for buffers in free.values { buffers.forEach { $0.deallocate() } }
        free.removeAll()
        cachedBytes = 0
    }

    /// Bytes currently cached for reuse.
    public static var cachedByteCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return cachedBytes
    }
}
