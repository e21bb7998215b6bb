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
/// freed, kept for a later request of that class or of up to half its size, up to `limitBytes` in
/// total; smaller ones go straight to malloc, which already recycles them well.
public enum StoragePool {
    /// Bytes of freed buffers kept for reuse: an eighth of physical memory, between 1 and 8 GiB.
    /// A training step frees and re-allocates its activations and gradients every step; when they
    /// do not all fit here, the excess goes back to the kernel and comes back as fresh pages the
    /// kernel must zero (42% of a CNN training step at 224 with a 1 GiB cap). Measured with
    /// `pinpoint train` at 224, batch 40 (Docs/Performance.md): 1 GiB, 8.0 images/s and 3.6 GB
    /// peak RSS; 3 GiB, 14.1 images/s and 4.5 GB. Lower it to trade speed for memory.
    /// `PINPOINT_POOL_MB` in the environment overrides the default.
    nonisolated(unsafe) public static var limitBytes: Int = {
        if let mb = ProcessInfo.processInfo.environment["PINPOINT_POOL_MB"].flatMap(Int.init), mb >= 0 { return mb << 20 }
        let eighth = Int(ProcessInfo.processInfo.physicalMemory / 8)
        return Swift.min(Swift.max(eighth, 1 << 30), 8 << 30)
    }()

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
            // The smallest cached buffer that fits, up to twice the size: a smaller last batch or a
            // validation pass reuses the training batch's buffers instead of faulting in new pages.
            if let best = free.keys.filter({ $0 >= capacity && $0 <= 2 * capacity && !(free[$0]?.isEmpty ?? true) }).min(),
               let buffer = free[best]?.popLast() {
                cachedBytes -= best * MemoryLayout<Float>.stride
                lock.unlock()
                return (buffer, best)
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
