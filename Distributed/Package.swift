// swift-tools-version:6.0
import PackageDescription

// Data-parallel training over Open MPI (Docs/Distributed.md). A package of its own, depending on
// Pinpoint by path, so that Pinpoint itself builds and tests where MPI is not installed.
let package = Package(
    name: "PinpointDistributed",
    products: [
        .library(name: "PinpointDistributed", targets: ["PinpointDistributed"]),
        // The same command line as Pinpoint's `pinpoint`, with MPI's world as its communicator:
        // run alone it is one process; under `mpirun -np N`, N ranks. Its own name, since a
        // build of this package also builds Pinpoint's `pinpoint` into the same directory.
        .executable(name: "pinpoint-mpi", targets: ["PinpointMPICLI"]),
    ],
    dependencies: [
        .package(name: "Pinpoint", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's libopenmpi-dev (Open MPI 4.1) names its pkg-config file ompi-c.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "PinpointDistributed", dependencies: ["CMPI", .product(name: "PinpointTraining", package: "Pinpoint")]),
        .executableTarget(name: "PinpointMPICLI",
                          dependencies: ["PinpointDistributed", .product(name: "PinpointCommands", package: "Pinpoint"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "PinpointDistributedTests",
                    dependencies: ["PinpointMPICLI", "PinpointDistributed", .product(name: "Pinpoint", package: "Pinpoint")]),
    ]
)
