// swift-tools-version:6.0
import PackageDescription

// Downstream programs: they depend on Pinpoint by path (a user would use its URL) and use only
// its public API.
let package = Package(
    name: "Downstream",
    dependencies: [.package(name: "Pinpoint", path: "../..")],
    targets: [
        .executableTarget(name: "CustomLayer", dependencies: [.product(name: "Pinpoint", package: "Pinpoint")]),
        .executableTarget(name: "Localize", dependencies: [.product(name: "Pinpoint", package: "Pinpoint")]),
        .executableTarget(name: "Throughput", dependencies: [.product(name: "Pinpoint", package: "Pinpoint")]),
    ]
)
