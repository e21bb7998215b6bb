// swift-tools-version:6.0
import PackageDescription

// One target per part; see Docs/Architecture.md for the module graph.
// Nothing lower imports anything higher: Tensor <- Autograd <- (Layers, Metrics, ...) <- Pinpoint.
let package = Package(
    name: "Pinpoint",
    products: [
        .library(name: "Pinpoint", targets: ["Pinpoint"]),
        .library(name: "PinpointTensor", targets: ["PinpointTensor"]),
        .library(name: "PinpointAutograd", targets: ["PinpointAutograd"]),
        .library(name: "PinpointData", targets: ["PinpointData"]),
        .library(name: "PinpointLayers", targets: ["PinpointLayers"]),
        .library(name: "PinpointMetrics", targets: ["PinpointMetrics"]),
        .library(name: "PinpointOptimizers", targets: ["PinpointOptimizers"]),
        .library(name: "PinpointModels", targets: ["PinpointModels"]),
        .library(name: "PinpointTraining", targets: ["PinpointTraining"]),
        // The command line as a library, for executables that run it with a communicator of
        // their own (the Distributed package's `pinpoint`, over MPI).
        .library(name: "PinpointCommands", targets: ["PinpointCommands"]),
        .executable(name: "pinpoint", targets: ["PinpointCLI"]),
        .executable(name: "pinpoint-benchmarks", targets: ["PinpointBenchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries. Debian's OpenBLAS keeps its pkg-config file off the default path on
        // some installs; the module map links `openblas` directly and `cblas.h` is on the
        // standard multiarch include path, so the build works with or without pkg-config.
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        // HDF5 for Keras weight files; Debian keeps its headers and library off the default
        // paths, so this one needs pkg-config.
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),

        // Kernels built once per instruction set and chosen at run time (Docs/Architecture.md):
        // Swift has no per-function target attribute, and a dependency cannot pass -target-cpu.
        .target(name: "CPinpointKernels"),
        .target(name: "PinpointTensor", dependencies: ["COpenBLAS", "CPinpointKernels"]),
        .target(name: "PinpointAutograd", dependencies: ["PinpointTensor"]),
        // C for what Swift cannot express: the SSE4.2 crc32 instruction, and libjpeg/libpng's
        // setjmp-based error handling.
        .target(name: "CPinpointIO", dependencies: ["CJPEG", "CPNG"]),
        .target(name: "PinpointData", dependencies: ["PinpointTensor", "CPinpointIO"]),
        // HDF5 for Keras weight files, behind functions that hide its macros and error printing.
        .target(name: "CPinpointHDF5", dependencies: ["CHDF5"]),
        .target(name: "PinpointLayers", dependencies: ["PinpointAutograd", "PinpointTensor"]),
        .target(name: "PinpointMetrics", dependencies: ["PinpointAutograd", "PinpointTensor"]),
        .target(name: "PinpointOptimizers", dependencies: ["CPinpointKernels", "PinpointAutograd", "PinpointTensor"]),
        .target(name: "PinpointModels",
                dependencies: ["PinpointLayers", "PinpointOptimizers", "PinpointAutograd", "PinpointTensor", "PinpointData", "CPinpointHDF5"]),
        .target(name: "PinpointTraining",
                dependencies: ["PinpointModels", "PinpointData", "PinpointLayers", "PinpointMetrics", "PinpointOptimizers",
                               "PinpointAutograd", "PinpointTensor"]),
        .target(name: "Pinpoint", dependencies: ["PinpointTensor", "PinpointAutograd", "PinpointData", "PinpointLayers",
                                                 "PinpointMetrics", "PinpointOptimizers", "PinpointModels", "PinpointTraining"]),
        // The command-line tool's target is PinpointCLI, not `pinpoint`: a Sources/pinpoint beside
        // Sources/Pinpoint breaks checkouts on case-insensitive file systems. Its product keeps the name.
        .target(
            name: "PinpointCommands",
            dependencies: [
                "Pinpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "PinpointCLI", dependencies: ["PinpointCommands"]),
        .executableTarget(
            name: "PinpointBenchmarks",
            dependencies: ["PinpointTensor", "PinpointData", "PinpointAutograd", "PinpointLayers", "PinpointMetrics", "PinpointModels",
                           "PinpointTraining", "CPinpointKernels", "COpenBLAS"],
            path: "Benchmarks/PinpointBenchmarks"),

        .testTarget(
            name: "PinpointTensorTests", dependencies: ["PinpointTensor", "PinpointAutograd", "CPinpointKernels"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "PinpointAutogradTests", dependencies: ["PinpointAutograd", "PinpointTensor"]),
        .testTarget(
            name: "PinpointDataTests", dependencies: ["PinpointData", "PinpointTensor", "CPinpointIO"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "PinpointLayersTests",
            dependencies: ["PinpointLayers", "PinpointMetrics", "PinpointOptimizers", "PinpointAutograd", "PinpointTensor"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "PinpointModelsTests",
                    dependencies: ["PinpointModels", "PinpointLayers", "PinpointMetrics", "PinpointOptimizers", "PinpointAutograd",
                                   "PinpointTensor", "PinpointData"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PinpointTrainingTests", dependencies: ["PinpointTraining"]),
        // Runs the built `pinpoint` executable; depending on it makes `swift build --build-tests` build it.
        .testTarget(name: "PinpointCommandTests", dependencies: ["PinpointCLI"]),
    ]
)
