// swift-tools-version:6.1
import PackageDescription

// The prediction service: a package of its own so that the core library, and every package that
// depends on it, never builds a web stack (Docs/Serve.md).
let package = Package(
    name: "PinpointServe",
    products: [
        .library(name: "PinpointServe", targets: ["PinpointServe"]),
        .executable(name: "pinpoint-serve", targets: ["PinpointServeCLI"]),
    ],
    dependencies: [
        .package(name: "Pinpoint", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "PinpointServe",
                dependencies: [.product(name: "Pinpoint", package: "Pinpoint"), .product(name: "Hummingbird", package: "hummingbird")]),
        .executableTarget(name: "PinpointServeCLI",
                          dependencies: ["PinpointServe", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "PinpointServeTests",
                    dependencies: ["PinpointServe", .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ]
)
