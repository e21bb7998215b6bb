import Dispatch
import PinpointTensor

/// Averages one step's gradients over the ranks of a data-parallel run.
///
/// The gradients are packed, in the optimizer's parameter order, into one buffer allocated once
/// and reused every step, each scaled by the rank's sample count, and the sum over ranks is
/// divided by the global count as it is unpacked: the gradient of the global batch's mean loss,
/// as one process computes it, whatever each rank's share (ranks reading their own files may
/// end an epoch with shares of different sizes). The step's loss sum and the sample count ride
/// in the buffer's last two slots. The buffer is reduced in fixed-size buckets in a fixed order: every rank
/// issues the same allreduce calls with the same counts (ranks that disagree hang or reduce
/// garbage, as in Horovod and PyTorch DDP).
final class GradientAveraging {
    let communicator: any Communicator
    let shapes: [[Int]]
    let counts: [Int]
    /// Elements per allreduce call: 1M floats (4 MiB), large enough to reach the transport's
    /// bandwidth, small enough to keep MPI's internal copies out of the peak memory.
    let bucketElements: Int
    private let buffer: UnsafeMutableBufferPointer<Float>
    /// Time spent in the allreduce calls, and the bytes they reduced, since creation.
    private(set) var seconds = 0.0
    private(set) var bytes = 0

    init(communicator: any Communicator, shapes: [[Int]], bucketElements: Int = 1 << 20) {
        self.communicator = communicator
        self.shapes = shapes
        counts = shapes.map { $0.reduce(1, *) }
        self.bucketElements = bucketElements
        buffer = .allocate(capacity: counts.reduce(0, +) + 2)
    }

    deinit { buffer.deallocate() }

    /// The element count the buffer carries (gradients and the two loss slots), for checking
    /// that ranks agree.
    var elementCount: Int { buffer.count }

    /// Averages `gradients` (of the mean loss over this rank's `localCount` samples) and that
    /// loss over all ranks' samples. `gradients` is nil for a rank whose share of this batch is
    /// empty: it contributes zeros, and still makes every call. Returns the averaged gradients and
    /// the global batch's mean loss.
    func average(_ gradients: [Tensor]?, meanLoss: Float, localCount: Int) throws -> (gradients: [Tensor], meanLoss: Float) {
        let weight = Float(localCount)
        var offset = 0
        for (index, count) in counts.enumerated() {
            let slot = UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + count)])
            if let gradients {
                gradients[index].withUnsafeBufferPointer { g in
                    for i in 0..<count { slot[i] = g[i] * weight }
                }
            } else {
                slot.initialize(repeating: 0)
            }
            offset += count
        }
        buffer[offset] = meanLoss * weight
        buffer[offset + 1] = weight
        let clock = DispatchTime.now().uptimeNanoseconds
        defer {
            seconds += Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9
            bytes += buffer.count * MemoryLayout<Float>.size
        }
        var start = 0
        while start < buffer.count {
            let end = Swift.min(start + bucketElements, buffer.count)
            try communicator.allreduceSum(UnsafeMutableBufferPointer(rebasing: buffer[start..<end]))
            start = end
        }
        let total = buffer[buffer.count - 1]
        var averaged: [Tensor] = []
        averaged.reserveCapacity(counts.count)
        offset = 0
        for (shape, count) in zip(shapes, counts) {
            let source = buffer.baseAddress! + offset
            averaged.append(Tensor(shape: shape) { pointer, _ in
                for i in 0..<count { (pointer + i).initialize(to: source[i] / total) }
            })
            offset += count
        }
        return (averaged, buffer[buffer.count - 2] / total)
    }
}
