import Dispatch
import Foundation

/// How many threads Pinpoint uses: for its own loops and for splitting GEMMs and convolutions
/// (OpenBLAS runs single-threaded inside them, see `BLAS`). Defaults to `PINPOINT_THREADS` when
/// set, otherwise the number of active cores.
public enum Parallelism {
    nonisolated(unsafe) public static var threadCount: Int = {
        if let value = ProcessInfo.processInfo.environment["PINPOINT_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Below this many elements a loop runs on the calling thread: starting a second thread
    /// costs more than it saves on small tensors.
    public static let minimumElementsPerThread = 1 << 15

    /// Runs `body` over `0..<count` in contiguous chunks, one per thread when the work (count x
    /// costPerItem) is large enough, for loops outside this module (an optimizer's update).
    /// Chunks must touch disjoint data.
    ///
    /// ```swift
    /// Parallelism.forEachChunk(values.count) { range in for i in range { out[i] = 2 * values[i] } }
    /// ```
    public static func forEachChunk(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, costPerItem: costPerItem, body)
    }
}

/// Runs `body` over `0..<count` split into contiguous chunks, one per thread, when the work
/// (count x costPerItem elements) is large enough to pay for it; otherwise on this thread.
@inline(__always)
func parallelChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = Parallelism.threadCount
    let work = count * max(costPerItem, 1)
    if threads <= 1 || count < 2 || work < 2 * Parallelism.minimumElementsPerThread {
        body(0..<count)
        return
    }
    let chunks = min(threads, count)
    withoutActuallyEscaping(body) { body in
        let box = UnsafeSendableBox(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            box.value(start..<end)
        }
    }
}

/// Runs `body(worker, workers)` once on each of `min(Parallelism.threadCount, limit)` threads (or
/// once, as worker 0 of 1, when single-threaded). Kernels that keep per-thread scratch buffers
/// split their work this way.
@inline(__always)
func forEachWorker(limit: Int = .max, _ body: (_ worker: Int, _ workers: Int) -> Void) {
    let workers = max(1, min(Parallelism.threadCount, limit))
    if workers <= 1 {
        body(0, 1)
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UnsafeSendableBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { box.value($0, workers) }
    }
}

/// Carries a non-Sendable value into `concurrentPerform`, whose workers each touch disjoint
/// parts of the output; correctness of that split is the caller's responsibility.
struct UnsafeSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The shared loop under every elementwise operation, copy and reduction.
///
/// Walks a shape in row-major order for up to three operands with their own strides and offsets,
/// calling `body` once per innermost run with the operands' start offsets, their strides along the
/// run, the run length and the row-major index of the run's first element. Adjacent axes that are
/// laid out contiguously for every operand are merged first, so a contiguous tensor is one run.
@inline(__always)
func forEachRun(
    shape: [Int], strides: [[Int]], offsets: [Int], parallel: Bool = false,
    _ body: (_ offsets: UnsafePointer<Int>, _ runStrides: UnsafePointer<Int>, _ runLength: Int, _ index: Int) -> Void
) {
    let operands = strides.count
    precondition(operands >= 1 && operands <= 3, "forEachRun: 1 to 3 operands")
    let total = elementCount(shape)
    if total == 0 { return }

    // Coalesce: drop unit axes, merge an axis into the next when every operand allows it.
    var dims: [Int] = []
    var st: [[Int]] = Array(repeating: [], count: operands)
    for axis in 0..<shape.count where shape[axis] != 1 {
        if let last = dims.last,
           (0..<operands).allSatisfy({ st[$0].last! == strides[$0][axis] * shape[axis] }) {
            dims[dims.count - 1] = last * shape[axis]
            for k in 0..<operands { st[k][st[k].count - 1] = strides[k][axis] }
        } else {
            dims.append(shape[axis])
            for k in 0..<operands { st[k].append(strides[k][axis]) }
        }
    }
    if dims.isEmpty {
        dims = [1]
        for k in 0..<operands { st[k] = [0] }
    }
    let rank = dims.count
    let runLength = dims[rank - 1]
    let outerCount = total / runLength
    var runStrides = (0, 0, 0)
    withUnsafeMutableBytes(of: &runStrides) { raw in
        let p = raw.bindMemory(to: Int.self)
        for k in 0..<operands { p[k] = st[k][rank - 1] }
    }

    parallelChunks(parallel ? outerCount : 1, costPerItem: runLength) { chunkRange in
        let runs = parallel ? chunkRange : 0..<outerCount
        var counter = [Int](repeating: 0, count: max(rank - 1, 1))
        var current = (0, 0, 0)
        var innerStrides = runStrides
        withUnsafeMutableBytes(of: &current) { currentRaw in
            let cur = currentRaw.bindMemory(to: Int.self).baseAddress!
            withUnsafeBytes(of: &innerStrides) { innerRaw in
                let inner = innerRaw.bindMemory(to: Int.self).baseAddress!
                // Position the odometer at the first run of this chunk.
                var rest = runs.lowerBound
                for axis in stride(from: rank - 2, through: 0, by: -1) {
                    counter[axis] = rest % dims[axis]
                    rest /= dims[axis]
                }
                for k in 0..<operands {
                    var o = offsets[k]
                    for axis in 0..<(rank - 1) { o += counter[axis] * st[k][axis] }
                    cur[k] = o
                }
                for run in runs {
                    body(UnsafePointer(cur), inner, runLength, run * runLength)
                    // Advance the odometer over the outer axes.
                    var axis = rank - 2
                    while axis >= 0 {
                        counter[axis] += 1
                        for k in 0..<operands { cur[k] += st[k][axis] }
                        if counter[axis] < dims[axis] { break }
                        for k in 0..<operands { cur[k] -= st[k][axis] * dims[axis] }
                        counter[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }
}
