import PinpointTensor

/// Averages one step's gradients over the ranks of a data-parallel run.
///
/// The gradients are packed, in the optimizer's parameter order, into one buffer allocated once
/// and reused every step, each scaled by the rank's share of the global batch's samples
/// (`localCount / globalCount`), so that the sum over ranks is the gradient of the global
/// batch's mean loss, as one process computes it, whatever each rank's share (ranks reading
/// their own files may end an epoch with shares of different sizes). The step's weighted loss
/// rides in the buffer's last slot. The buffer is reduced in fixed-size buckets in a fixed
/// order: every rank issues the same allreduce calls with the same counts (ranks that disagree
/// hang or reduce garbage, as in Horovod and PyTorch DDP). The averaged gradients handed back
/// are views into the buffer, so unpacking copies nothing; they must be consumed (by the
/// optimizer) before the next step packs into it again.
final class GradientAveraging {
    let communicator: any Communicator
    let shapes: [[Int]]
    let counts: [Int]
    /// Elements per allreduce call: 1M floats (4 MiB). Docs/Distributed.md has the sizes tried.
    let bucketElements: Int
    private var buffer: Tensor

    init(communicator: any Communicator, shapes: [[Int]], bucketElements: Int = 1 << 20) {
        self.communicator = communicator
        self.shapes = shapes
        counts = shapes.map { $0.reduce(1, *) }
        self.bucketElements = bucketElements
        buffer = Tensor.zeros([counts.reduce(0, +) + 1])
    }

    /// The element count the buffer carries (gradients and the loss slot), for checking that ranks
    /// agree.
    var elementCount: Int { buffer.count }

    /// Averages `gradients` (of the mean loss over this rank's `localCount` samples) and that
    /// loss over all ranks' samples. `gradients` is nil for a rank whose share of this batch is
    /// empty: it contributes zeros, and still makes every call. `globalCount` is the samples of
    /// all ranks, or nil to count them with a first, one-element allreduce. Returns the averaged
    /// gradients and the global batch's mean loss.
    func average(_ gradients: [Tensor]?, meanLoss: Float, localCount: Int, globalCount: Int?) throws -> (gradients: [Tensor], meanLoss: Float) {
        var total = Float(globalCount ?? 0)
        if globalCount == nil {
            var count: [Float] = [Float(localCount)]
            try count.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
            total = count[0]
        }
        let weight = Float(localCount) / total
        try buffer.withUnsafeMutableBufferPointer { buffer in
            var offset = 0
            for (index, count) in counts.enumerated() {
                let slot = UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + count)])
                if let gradients {
                    gradients[index].withUnsafeBufferPointer { g in
                        for i in 0..<count { slot[i] = g[i] * weight }
                    }
                } else {
                    slot.update(repeating: 0)
                }
                offset += count
            }
            buffer[offset] = meanLoss * weight
            var start = 0
            while start < buffer.count {
                let end = Swift.min(start + bucketElements, buffer.count)
                try communicator.allreduceSum(UnsafeMutableBufferPointer(rebasing: buffer[start..<end]))
                start = end
            }
        }
        var averaged: [Tensor] = []
        averaged.reserveCapacity(counts.count)
        var offset = 0
        for (shape, count) in zip(shapes, counts) {
            averaged.append(buffer.sliced(alongAxis: 0, from: offset, to: offset + count).reshaped(shape))
            offset += count
        }
        return (averaged, buffer[offset])
    }
}
