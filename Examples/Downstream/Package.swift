// swift-tools-version:6.0
import PackageDescription

// A downstream package: depends on Pinpoint by path (a user would use its URL) and uses only its
// public API.
let package = Package(
    name: "CustomLayer",
    dependencies: [.package(name: "Pinpoint", path: "../..")],
    targets: [
        .executableTarget(name: "CustomLayer", dependencies: [.product(name: "Pinpoint", package: "Pinpoint")]),
    ]
)
