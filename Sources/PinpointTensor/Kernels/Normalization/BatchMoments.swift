import CPinpointKernels
import Foundation

/// Batch moments gathered chunk by chunk, as a kernel writes its output (`conv2DWithBatchMoments`):
/// each chunk's Double sums around its own first row, merged into a running count, mean and sum
/// of squared deviations per channel (Chan et al.'s pairwise update), so no chunk needs a shift
/// from another and a constant channel keeps a zero variance.
struct BatchMomentsAccumulator {
    let channels: Int
    private(set) var count = 0
    private var mean: [Double], squaredDeviations: [Double]
    private var sum: [Double], squares: [Double]

    init(channels: Int) {
        self.channels = channels
        mean = [Double](repeating: 0, count: channels)
        squaredDeviations = mean
        sum = mean
        squares = mean
    }

    /// Adds `rows` rows of `channels` values at `chunk`.
    mutating func add(_ chunk: UnsafePointer<Float>, rows: Int) {
        guard rows > 0 else { return }
        let n = Double(rows), total = Double(count + rows), before = Double(count)
        for c in 0..<channels { sum[c] = 0; squares[c] = 0 }
        sum.withUnsafeMutableBufferPointer { s in
            squares.withUnsafeMutableBufferPointer { q in
                kernels.batch_norm_moments(chunk, 0, rows, Int32(channels), s.baseAddress!, q.baseAddress!)
            }
        }
        for c in 0..<channels {
            let chunkMean = Double(chunk[c]) + sum[c] / n
            let chunkDeviations = Swift.max(squares[c] - sum[c] * sum[c] / n, 0)
            merge(c, count: before, total: total, otherCount: n, otherMean: chunkMean, otherDeviations: chunkDeviations)
        }
        count += rows
    }

    /// Adds what `other` gathered.
    mutating func add(_ other: BatchMomentsAccumulator) {
        guard other.count > 0 else { return }
        let before = Double(count), total = Double(count + other.count)
        for c in 0..<channels {
            merge(c, count: before, total: total, otherCount: Double(other.count), otherMean: other.mean[c],
                  otherDeviations: other.squaredDeviations[c])
        }
        count += other.count
    }

    private mutating func merge(_ c: Int, count: Double, total: Double, otherCount: Double, otherMean: Double, otherDeviations: Double) {
        let delta = otherMean - mean[c]
        mean[c] += delta * otherCount / total
        squaredDeviations[c] += otherDeviations + delta * delta * count * otherCount / total
    }

    /// Mean and biased variance, as `batchMoments` returns them.
    var moments: (mean: Tensor, variance: Tensor) {
        let m = Double(Swift.max(count, 1))
        return (Tensor(shape: [channels], scalars: mean.map { Float($0) }),
                Tensor(shape: [channels], scalars: squaredDeviations.map { Float(Swift.max($0 / m, 0)) }))
    }
}
