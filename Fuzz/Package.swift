// swift-tools-version:6.0
import PackageDescription

// Coverage-guided fuzz targets (libFuzzer), one per parser of untrusted input. Built by
// `make fuzz` with -sanitize=fuzzer,address; a separate package, so that a plain `swift build` of
// Pinpoint never sees executables without a main of their own.
let package = Package(
    name: "PinpointFuzz",
    dependencies: [.package(name: "Pinpoint", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .target(name: "FuzzEntryPoints", dependencies: [.product(name: "PinpointData", package: "Pinpoint"),
                                                        .product(name: "PinpointModels", package: "Pinpoint")]),
        .executableTarget(name: "FuzzAnnotation", dependencies: ["FuzzSupport", "FuzzEntryPoints"]),
        .executableTarget(name: "FuzzExample", dependencies: ["FuzzSupport", "FuzzEntryPoints"]),
        .executableTarget(name: "FuzzTFRecord", dependencies: ["FuzzSupport", "FuzzEntryPoints"]),
        .executableTarget(name: "FuzzCheckpoint", dependencies: ["FuzzSupport", "FuzzEntryPoints"]),
        .executableTarget(name: "FuzzImage", dependencies: ["FuzzSupport", "FuzzEntryPoints"]),
    ]
)
