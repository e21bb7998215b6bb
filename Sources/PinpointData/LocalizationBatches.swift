import Foundation
import PinpointTensor

/// One batch of the tutorial's records.
public struct LocalizationBatch: Sendable {
    /// [n, size, size, 3], pixel values times `scale` plus `offset`.
    public let images: Tensor
    /// [n, 4]: x_center, y_center, w, h in [0, 1].
    public let boxes: Tensor
    /// [n]: 1 cat, 0 dog.
    public let classes: Tensor
    public var count: Int { boxes.shape[0] }
}

/// Batches from TFRecord files of the tutorial's schema (`image` raw RGB bytes, `cls_num`, `x`,
/// `y`, `w`, `h`), read and decoded on a background thread while the trainer works.
///
/// Each epoch streams the files through a shuffle buffer as `tf.data`'s `shuffle(buffer)` does
/// (fill the buffer, then emit a random element and refill its place), seeded by the pipeline's
/// seed and the epoch number, so the same seed gives the same order every run however fast the
/// consumer is. The last batch may be smaller. With an `augmentation`, each record's image and
/// box are transformed with the draw of `BoxAugmentation.generator(seed:epoch:sample:)`, where
/// the sample is the record's position in the files (counting from 0 across them), not in the
/// shuffled order.
///
/// ```swift
/// let train = try LocalizationBatches(paths: ["out/loc_train.tfr"], batchSize: 40, shuffleBuffer: 1000, seed: 1)
/// for epoch in 0..<40 {
///     let batches = train.epoch(epoch)
///     while let batch = try batches.next() { ... }   // batch.images: [40, 224, 224, 3] in [0, 1]
/// }
/// ```
public final class LocalizationBatches: Sendable {
    public let paths: [String]
    public let batchSize: Int
    public let shuffleBuffer: Int
    public let seed: UInt64
    public let scale: Float
    public let offset: Float
    /// Batches decoded ahead of the consumer.
    public let prefetch: Int
    /// Image side, from the first record.
    public let imageSize: Int
    /// Records per epoch (counted once when the pipeline is made).
    public let recordCount: Int
    /// Random transforms of each record (training only); nil reads the records as they are.
    public let augmentation: BoxAugmentation?

    /// `scale` and `offset` map pixel values: 1/255 and 0 give the tutorial's [0, 1]; 2/255 and -1
    /// give MobileNetV2's [-1, 1].
    public init(paths: [String], batchSize: Int, shuffleBuffer: Int = 0, seed: UInt64 = 0,
                scale: Float = 1 / 255, offset: Float = 0, prefetch: Int = 2, augmentation: BoxAugmentation? = nil) throws {
        precondition(batchSize > 0 && prefetch > 0, "LocalizationBatches: batch size and prefetch must be positive")
        self.paths = paths
        self.batchSize = batchSize
        self.shuffleBuffer = shuffleBuffer
        self.seed = seed
        self.scale = scale
        self.offset = offset
        self.prefetch = prefetch
        self.augmentation = augmentation
        let reader = try TFRecordReader(paths: paths)
        var count = 0, size = 0
        while let record = try reader.next() {
            if count == 0 {
                let path = reader.currentPath ?? paths[0]
                let bytes: Int
                do { bytes = try Example(serialized: record).bytes("image").count } catch {
                    throw DatasetError(path: path, reason: "record \(reader.currentRecordIndex): \(error)")
                }
                size = Int(Double(bytes / 3).squareRoot())
                guard size * size * 3 == bytes, size > 0 else {
                    throw DatasetError(path: path, reason: "record \(reader.currentRecordIndex): image of \(bytes) bytes is not a square RGB image")
                }
            }
            count += 1
        }
        imageSize = size
        recordCount = count
    }

    /// An iterator over one epoch's batches; its producer thread starts now.
    public func epoch(_ index: Int) -> Epoch {
        Epoch(pipeline: self, epoch: index)
    }

    public var batchesPerEpoch: Int { (recordCount + batchSize - 1) / batchSize }

    /// One epoch: `next()` returns batches in order, then nil. Releasing it stops its producer.
    public final class Epoch: @unchecked Sendable {
        // The producer thread holds only the channel, so dropping the Epoch early runs deinit,
        // which cancels the channel and lets the thread end.
        private let channel = Channel()

        init(pipeline: LocalizationBatches, epoch: Int) {
            let channel = self.channel
            let thread = Thread { channel.produce(pipeline, epoch) }
            thread.name = "pinpoint-batches"
            thread.start()
        }

        deinit {
            channel.cancel()
        }

        /// Stops the producer.
        public func cancel() { channel.cancel() }

        public func next() throws -> LocalizationBatch? { try channel.next() }
    }

    private final class Channel: @unchecked Sendable {
        private let condition = NSCondition()
        private var queue: [LocalizationBatch] = []
        private var finished = false
        private var failure: Error?
        private var cancelled = false

        func cancel() {
            condition.lock()
            cancelled = true
            condition.broadcast()
            condition.unlock()
        }

        func next() throws -> LocalizationBatch? {
            condition.lock()
            defer { condition.unlock() }
            while queue.isEmpty && !finished && failure == nil { condition.wait() }
            if !queue.isEmpty {
                let batch = queue.removeFirst()
                condition.broadcast()
                return batch
            }
            if let failure { throw failure }
            return nil
        }

        private func push(_ batch: LocalizationBatch, limit: Int) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while queue.count >= limit && !cancelled { condition.wait() }
            guard !cancelled else { return false }
            queue.append(batch)
            condition.broadcast()
            return true
        }

        private func finish(_ error: Error?) {
            condition.lock()
            failure = error
            finished = true
            condition.broadcast()
            condition.unlock()
        }

        func produce(_ p: LocalizationBatches, _ epoch: Int) {
            do {
                var rng = SeededGenerator(seed: p.seed).fork(UInt64(epoch))
                let reader = try TFRecordReader(paths: p.paths)
                var buffer: [SourcedRecord] = []
                var pending: [SourcedRecord] = []
                func emit(_ record: SourcedRecord) throws -> Bool {
                    pending.append(record)
                    guard pending.count == p.batchSize else { return true }
                    defer { pending.removeAll(keepingCapacity: true) }
                    return push(try Self.decode(pending, p, epoch: epoch), limit: p.prefetch)
                }
                var ordinal = 0
                while let bytes = try reader.next() {
                    let record = SourcedRecord(bytes: bytes, path: reader.currentPath ?? "", index: reader.currentRecordIndex, ordinal: ordinal)
                    ordinal += 1
                    if p.shuffleBuffer <= 1 {
                        guard try emit(record) else { return }
                    } else if buffer.count < p.shuffleBuffer {
                        buffer.append(record)
                    } else {
                        let i = Int(rng.next() % UInt64(buffer.count))
                        let out = buffer[i]
                        buffer[i] = record
                        guard try emit(out) else { return }
                    }
                }
                while !buffer.isEmpty {
                    let i = Int(rng.next() % UInt64(buffer.count))
                    buffer.swapAt(i, buffer.count - 1)
                    guard try emit(buffer.removeLast()) else { return }
                }
                if !pending.isEmpty { guard push(try Self.decode(pending, p, epoch: epoch), limit: p.prefetch) else { return } }
                finish(nil)
            } catch {
                finish(error)
            }
        }

        static func decode(_ records: [SourcedRecord], _ p: LocalizationBatches, epoch: Int) throws -> LocalizationBatch {
            let side = p.imageSize, pixels = side * side * 3
            var boxes: [Float] = [], classes: [Float] = []
            var examples: [Example] = []
            for record in records {
                let e: Example, bytes: Int
                do {
                    e = try Example(serialized: record.bytes)
                    boxes += [try e.float("x"), try e.float("y"), try e.float("w"), try e.float("h")]
                    classes.append(Float(try e.int64("cls_num")))
                    bytes = try e.bytes("image").count
                } catch {
                    throw DatasetError(path: record.path, reason: "record \(record.index): \(error)")
                }
                guard bytes == pixels else {
                    throw DatasetError(path: record.path, reason: "record \(record.index): its image has \(bytes) bytes, "
                                       + "where the first record's \(side)x\(side) RGB image has \(pixels)")
                }
                examples.append(e)
            }
            let images = Tensor(shape: [records.count, side, side, 3]) { out, _ in
                for (n, e) in examples.enumerated() {
                    guard case .bytes(let list)? = e["image"] else { continue }
                    list[0].withUnsafeBufferPointer { src in
                        let dst = out + n * pixels
                        if let augmentation = p.augmentation {
                            var rng = BoxAugmentation.generator(seed: p.seed, epoch: epoch, sample: records[n].ordinal)
                            let b = n * 4
                            let moved = augmentation.apply(augmentation.draw(using: &rng), to: src, side: side,
                                                           box: (boxes[b], boxes[b + 1], boxes[b + 2], boxes[b + 3]), into: dst)
                            (boxes[b], boxes[b + 1], boxes[b + 2], boxes[b + 3]) = (moved.x, moved.y, moved.w, moved.h)
                            for i in 0..<pixels { dst[i] = dst[i] * p.scale + p.offset }
                        } else {
                            for i in 0..<pixels { dst[i] = Float(src[i]) * p.scale + p.offset }
                        }
                    }
                }
            }
            return LocalizationBatch(images: images, boxes: Tensor(shape: [records.count, 4], scalars: boxes),
                                     classes: Tensor(classes))
        }
    }
}

/// A serialized record with where it came from, so that an error about its contents names the
/// file and the record's index in it.
struct SourcedRecord {
    let bytes: [UInt8]
    let path: String
    let index: Int
    /// Its position in the pipeline's files, counting from 0 across them.
    let ordinal: Int
}
