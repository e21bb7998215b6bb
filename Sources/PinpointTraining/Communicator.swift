/// The processes one data-parallel run spans, and the collectives `Trainer` needs from them.
///
/// Pinpoint's core knows only this protocol; `SingleProcess` is the one-process run. The MPI
/// implementation lives in the Distributed package (`PinpointDistributed.MPICommunicator`), so
/// the core builds and tests where MPI is not installed. Every rank must make the same calls in
/// the same order with the same counts: that is what MPI's collectives require, and `Trainer`
/// keeps to it by giving every rank the same number of steps and the same buffers.
public protocol Communicator: AnyObject {
    /// This process's index, 0 ..< size.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Replaces `buffer` on every rank by its element-wise sum over all ranks.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Replaces `values` on every rank by their element-wise minimum and maximum over all ranks,
    /// for checking that ranks agree.
    func allreduceMinMax(_ values: [Int64]) throws -> (minimum: [Int64], maximum: [Int64])
    /// Copies rank `root`'s `buffer` into every other rank's.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Returns once every rank has called it.
    func barrier() throws
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    /// Fails on every rank, naming each rank's value, unless all ranks hold the same `values`:
    /// ranks that disagree on the model or the batch would otherwise reduce mismatched buffers.
    public func checkAgreement(_ what: String, _ values: [Int64]) throws {
        let (minimum, maximum) = try allreduceMinMax(values)
        guard minimum == maximum else {
            throw DistributedError(rank: rank, reason: "ranks disagree on \(what): this rank has \(values), "
                                   + "the ranks range from \(minimum) to \(maximum)")
        }
    }

    /// Broadcasts rank `root`'s `floats` into every rank's array.
    public func broadcast(_ floats: inout [Float], root: Int = 0) throws {
        try floats.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }
}

/// The one-process run: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceMinMax(_ values: [Int64]) throws -> (minimum: [Int64], maximum: [Int64]) { (values, values) }
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {}
    public func barrier() throws {}
}

/// A data-parallel run that cannot go on, naming the rank where it was found.
public struct DistributedError: Error, CustomStringConvertible {
    public let rank: Int
    public let reason: String
    public init(rank: Int, reason: String) {
        self.rank = rank
        self.reason = reason
    }
    public var description: String { "rank \(rank): \(reason)" }
}

/// Rank `rank`'s rows of a global batch of `count` samples split over `size` ranks: contiguous,
/// in rank order, the first `count % size` ranks one row larger. Every rank takes part in every
/// step, with an empty share when the batch is smaller than the number of ranks.
public func batchShare(count: Int, rank: Int, size: Int) -> Range<Int> {
    let base = count / size, extra = count % size
    let start = rank * base + Swift.min(rank, extra)
    return start..<(start + base + (rank < extra ? 1 : 0))
}

/// FNV-1a over the values' bytes: the same on every rank and every run, unlike `Hasher`.
func stableHash(_ values: [Int64]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for value in values {
        for byte in 0..<8 {
            hash ^= UInt64(truncatingIfNeeded: value >> (8 * Int64(byte))) & 0xFF
            hash = hash &* 0x100_0000_01b3
        }
    }
    return hash
}
