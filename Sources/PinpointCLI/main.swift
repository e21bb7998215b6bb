import Foundation
import PinpointCommands

// Under mpirun this build would run N independent copies, each training alone and all writing
// the same checkpoint: refuse, and name the build that runs them as one job.
if let ranks = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init), ranks > 1 {
    FileHandle.standardError.write(Data("""
        pinpoint: started by mpirun as one of \(ranks) ranks, but this build has no MPI and would train \(ranks) separate copies.
        Run Distributed/.build/release/pinpoint-mpi instead (make build-distributed builds it; Docs/Distributed.md).

        """.utf8))
    exit(2)
}
PinpointCommand.main()
