// swift-tools-version:6.0
// An example consumer of bsdshim's Swift API: depends on the package by path,
// as any other SwiftPM package would, and builds in CI. It also depends on
// swift-system, whose Errno, FileDescriptor and FilePath the API speaks.
import PackageDescription

let package = Package(
    name: "SwiftConsumer",
    dependencies: [
        .package(name: "bsdshim", path: "../.."),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "SwiftConsumer",
            dependencies: [
                .product(name: "BSDShim", package: "bsdshim"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
