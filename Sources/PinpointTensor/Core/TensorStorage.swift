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
    /// Cached buffers, least recently freed first.
    nonisolated(unsafe) private static var free: [(capacity: Int, buffer: UnsafeMutableRawPointer)] = []
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
            // The smallest cached buffer that fits, up to twice the size (the most recently freed
            // on ties): a smaller last batch or a validation pass reuses the training batch's
            // buffers instead of faulting in new pages.
            var best: Int?
            for (i, entry) in free.enumerated() where entry.capacity >= capacity && entry.capacity <= 2 * capacity {
                if best == nil || entry.capacity <= free[best!].capacity { best = i }
            }
            if let best {
                let entry = free.remove(at: best)
                cachedBytes -= entry.capacity * MemoryLayout<Float>.stride
                lock.unlock()
                return (entry.buffer, entry.capacity)
            }
            lock.unlock()
        }
        return (UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<Float>.stride, alignment: 64), capacity)
    }

    /// Caches a freed buffer, evicting the least recently freed ones beyond `limitBytes`, so the
    /// cache follows what the program allocates now (training, then inference) instead of
    /// filling up with shapes it no longer uses.
    static func release(_ buffer: UnsafeMutableRawPointer, capacity: Int) {
        let bytes = capacity * MemoryLayout<Float>.stride
        guard capacity >= minimumPooledCount, bytes <= limitBytes else {
            buffer.deallocate()
            return
        }
        lock.lock()
        free.append((capacity, buffer))
        cachedBytes += bytes
        var evicted: [UnsafeMutableRawPointer] = []
        while cachedBytes > limitBytes, !free.isEmpty {
            let oldest = free.removeFirst()
            cachedBytes -= oldest.capacity * MemoryLayout<Float>.stride
            evicted.append(oldest.buffer)
        }
        lock.unlock()
        evicted.forEach { $0.deallocate() }
    }

    /// Frees every cached buffer (for example after training, before a memory-hungry step).
    public static func drain() {
        lock.lock()
        defer { lock.unlock() }
        free.forEach { $0.buffer.deallocate() }
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
