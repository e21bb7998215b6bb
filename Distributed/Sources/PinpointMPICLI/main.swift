import ArgumentParser
import Foundation
import PinpointCommands
import PinpointDistributed

// Pinpoint's command line with MPI's world as its communicator. An error on any rank ends the
// whole job (MPI_Abort) with the rank's message: the other ranks would otherwise wait for it in
// their next collective.
let world: MPICommunicator
do {
    world = try MPICommunicator.world()
} catch {
    FileHandle.standardError.write(Data("pinpoint: \(error)\n".utf8))
    exit(1)
}
PinpointCommand.communicator = world
do {
    var command = try PinpointCommand.parseAsRoot()
    try command.run()
} catch {
    if world.size > 1 && PinpointCommand.exitCode(for: error) != .success {
        FileHandle.standardError.write(Data("pinpoint: rank \(world.rank) of \(world.size): \(PinpointCommand.fullMessage(for: error))\n".utf8))
        world.abort(PinpointCommand.exitCode(for: error).rawValue)
    }
    world.finalize()
    PinpointCommand.exit(withError: error)
}
world.finalize()
