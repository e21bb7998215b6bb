import CMPI
import Foundation
import PinpointTraining

/// MPI's world communicator as a `Communicator`: rank, size, in-place allreduce, broadcast,
/// barrier and abort over Open MPI.
///
/// MPI is initialised once per process with `MPI_Init_thread(MPI_THREAD_FUNNELED)`: every MPI call
/// is made by the thread that initialised it, the training loop's. The data pipeline's threads
/// and the kernels' worker threads never call MPI. Errors are returned (`MPI_ERRORS_RETURN`) and
/// thrown as `DistributedError`s that name the rank, rather than aborting inside the library.
///
/// ```swift
/// let world = try MPICommunicator.world()
/// trainer.communicator = world
/// try trainer.fit(train: source, epochs: 40)
/// world.finalize()
/// ```
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let comm: MPI_Comm
    /// Elements per MPI call: MPI counts are 32-bit.
    private static let chunk = 1 << 26

    nonisolated(unsafe) private static var shared: MPICommunicator?

    private init(rank: Int, size: Int, comm: MPI_Comm) {
        self.rank = rank
        self.size = size
        self.comm = comm
    }

    /// The process's world, initialising MPI on the first call. Run without `mpirun`, Open MPI
    /// starts a world of one (a singleton), so the same program runs alone or as N ranks.
    public static func world() throws -> MPICommunicator {
        if let shared { return shared }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, pinpoint_mpi_thread_funneled(), &provided), rank: -1, "MPI_Init_thread")
        let comm = pinpoint_mpi_comm_world()!
        try check(MPI_Comm_set_errhandler(comm, pinpoint_mpi_errors_return()), rank: -1, "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(comm, &rank), rank: -1, "MPI_Comm_rank")
        try check(MPI_Comm_size(comm, &size), rank: Int(rank), "MPI_Comm_size")
        guard provided >= pinpoint_mpi_thread_funneled() else {
            throw DistributedError(rank: Int(rank), reason: "this MPI provides thread level \(provided), below MPI_THREAD_FUNNELED")
        }
        let world = MPICommunicator(rank: Int(rank), size: Int(size), comm: comm)
        shared = world
        return world
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try Self.inChunks(buffer) { start, count in
            try Self.check(MPI_Allreduce(pinpoint_mpi_in_place(), start, count, pinpoint_mpi_float(), pinpoint_mpi_sum(), comm),
                           rank: rank, "MPI_Allreduce of \(count) floats")
        }
    }

    public func allreduceMinMax(_ values: [Int64]) throws -> (minimum: [Int64], maximum: [Int64]) {
        var minimum = values, maximum = values
        try Self.check(MPI_Allreduce(pinpoint_mpi_in_place(), &minimum, Int32(values.count), pinpoint_mpi_int64(), pinpoint_mpi_min(), comm),
                       rank: rank, "MPI_Allreduce (min)")
        try Self.check(MPI_Allreduce(pinpoint_mpi_in_place(), &maximum, Int32(values.count), pinpoint_mpi_int64(), pinpoint_mpi_max(), comm),
                       rank: rank, "MPI_Allreduce (max)")
        return (minimum, maximum)
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try Self.inChunks(buffer) { start, count in
            try Self.check(MPI_Bcast(start, count, pinpoint_mpi_float(), Int32(root), comm), rank: rank, "MPI_Bcast of \(count) floats")
        }
    }

    /// `body` once per run of at most `chunk` floats of `buffer`, in order: MPI counts are 32-bit.
    private static func inChunks(_ buffer: UnsafeMutableBufferPointer<Float>,
                                 _ body: (UnsafeMutablePointer<Float>, Int32) throws -> Void) throws {
        var offset = 0
        while offset < buffer.count {
            let count = Swift.min(chunk, buffer.count - offset)
            try body(buffer.baseAddress! + offset, Int32(count))
            offset += count
        }
    }

    public func barrier() throws {
        try Self.check(MPI_Barrier(comm), rank: rank, "MPI_Barrier")
    }

    /// Ends every rank of the job with `code` (MPI_Abort): what a rank does when it cannot go
    /// on, since the others would wait for it in their next collective.
    public func abort(_ code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    /// Finalises MPI; the process makes no MPI call after it.
    public func finalize() {
        MPI_Finalize()
        Self.shared = nil
    }

    private static func check(_ status: Int32, rank: Int, _ call: String) throws {
        guard status != 0 else { return }
        var text = [CChar](repeating: 0, count: Int(pinpoint_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(status, &text, &length)
        throw DistributedError(rank: rank, reason: "\(call) failed: \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
}
