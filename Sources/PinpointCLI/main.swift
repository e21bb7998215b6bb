import PinpointCommands

PinpointCommand.main()
