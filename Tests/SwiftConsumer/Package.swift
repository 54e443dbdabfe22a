// swift-tools-version:6.0
// An example consumer of bsdshim's Swift API: depends on the package by path,
// as any other SwiftPM package would, and builds in CI.
import PackageDescription

let package = Package(
    name: "SwiftConsumer",
    dependencies: [
        .package(name: "bsdshim", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "SwiftConsumer",
            dependencies: [.product(name: "BSDShim", package: "bsdshim")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
