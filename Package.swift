// swift-tools-version:6.0
// bsdshim: BSD kqueue/kevent and NetBSD dmover for Linux, Swift core with a C ABI.
//
// Keep every target's source list in sync with CMakeLists.txt (the CI check
// `.ci/check-sources` fails when a file under Sources/ is missing from CMake).
import PackageDescription

let package = Package(
    name: "bsdshim",
    products: [
        // libbsdshim.so: the C ABI (kqueue, kevent, dmover_*). Release line:
        //   swift build -c release --product bsdshim -Xswiftc -static-stdlib -Xlinker -soname=libbsdshim.so.0
        .library(name: "bsdshim", type: .dynamic, targets: ["BSDShimExports"]),
        // The Swift API (`import BSDShim`): no unsafe flags anywhere in its graph, so other
        // packages can depend on it. Its dmover software backend uses the baseline kernels
        // unless the program also links BSDShimSIMD and calls `NativeKernels.install()`.
        .library(name: "BSDShim", targets: ["BSDShim"]),
        // The AVX2/AVX-512/hardware-CRC kernels (built with ISA flags: usable from a path or
        // branch dependency, not from a versioned one).
        .library(name: "BSDShimSIMD", targets: ["DmoverSIMD"]),
        // The `bsdshim` command-line tool (CMake installs it as `bsdshim`).
        .executable(name: "bsdshim-tool", targets: ["BSDShimTool"]),
        // libbsdshim-preload.so: LD_PRELOAD=libbsdshim-preload.so gives unmodified programs /dev/dmover.
        .library(name: "bsdshim-preload", type: .dynamic, targets: ["CBSDShimPreload"]),
        .executable(name: "kqueue-bench", targets: ["KqueueBench"]),
        .executable(name: "dmover-bench", targets: ["DmoverBench"]),
        .executable(name: "dmover-io-bench", targets: ["DmoverIOBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Errno, FileDescriptor and FilePath in the Swift API (not used by libbsdshim.so).
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // Public C headers (include/), the ABI contract, plus compile-time layout checks.
        .target(
            name: "CBSDShimABI",
            path: ".",
            exclude: ["Sources/CBSDShimABI/CMakeLists.txt"],
            sources: ["Sources/CBSDShimABI"],
            publicHeadersPath: "include"
        ),
        // Internal C helpers: what Swift cannot express (syscalls and macros the Glibc module lacks,
        // async-signal-safe handlers, the netlink process connector, CPU feature tests).
        .target(name: "CBSDShim", path: "Sources/CBSDShim", exclude: ["CMakeLists.txt"]),
        // Thin syscall layer in the swift-system style (Errno, epoll, eventfd, timerfd).
        .target(name: "BSDSystem", dependencies: ["CBSDShim"], path: "Sources/BSDSystem", exclude: ["CMakeLists.txt"]),
        // The kqueue engine: knotes, filters, registration and scan.
        .target(name: "KqueueCore", dependencies: ["BSDSystem", "CBSDShimABI", "CBSDShim"],
                path: "Sources/KqueueCore", exclude: ["CMakeLists.txt"]),
        // The exported C ABI (@_cdecl only).
        .target(name: "BSDShimExports", dependencies: ["KqueueCore", "DmoverCore", "DmoverSIMD", "CBSDShimABI"],
                path: "Sources/BSDShimExports", exclude: ["CMakeLists.txt", "exports.map"]),
        // The Swift API over the same core (not over the C functions).
        .target(name: "BSDShim", dependencies: ["KqueueCore", "DmoverCore", "BSDSystem", "CBSDShimABI",
                                                .product(name: "SystemPackage", package: "swift-system")],
                path: "Sources/BSDShim", exclude: ["CMakeLists.txt"]),
        // The `bsdshim` command-line tool.
        .executableTarget(name: "BSDShimTool",
                          dependencies: ["BSDShim", "DmoverSIMD",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/BSDShimTool", exclude: ["CMakeLists.txt"]),
        // The /dev/dmover interposers (open/ioctl/read/write/close), C only; loads libbsdshim on first use.
        .target(name: "CBSDShimPreload", path: "Sources/CBSDShimPreload", exclude: ["CMakeLists.txt"],
                linkerSettings: [.linkedLibrary("dl")]),
        .executableTarget(name: "KqueueBench", dependencies: ["BSDShimExports", "CBSDShimABI", "CBSDShim"],
                          path: "Sources/KqueueBench", exclude: ["CMakeLists.txt"]),
        // dmover: kernels per ISA (bodies inlined into each module; installed by DmoverSIMD and
        // chosen at run time by DmoverCore). The ISA modules are optimised even in debug builds:
        // unoptimised, they would emit weak copies of generic stdlib code built for their ISA,
        // which the linker may share with baseline code. DmoverKernels (baseline) has no flags.
        .target(name: "CDmoverIntrin", path: "Sources/CDmoverIntrin", exclude: ["CMakeLists.txt"]),
        .target(name: "DmoverKernels", dependencies: ["CDmoverIntrin"], path: "Sources/DmoverKernels", exclude: ["CMakeLists.txt"]),
        .target(name: "DmoverKernelsAVX2", dependencies: ["DmoverKernels", "CDmoverIntrin"], path: "Sources/DmoverKernelsAVX2",
                exclude: ["CMakeLists.txt"], swiftSettings: [.unsafeFlags(["-target-cpu", "haswell", "-O"])]),
        .target(name: "DmoverKernelsAVX512", dependencies: ["DmoverKernels", "CDmoverIntrin"], path: "Sources/DmoverKernelsAVX512",
                exclude: ["CMakeLists.txt"], swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512", "-O"])]),
        .target(name: "DmoverKernelsCRC", dependencies: ["DmoverKernels", "CDmoverIntrin"], path: "Sources/DmoverKernelsCRC",
                exclude: ["CMakeLists.txt"], swiftSettings: [.unsafeFlags(["-Xcc", "-msse4.2", "-Xcc", "-mpclmul", "-O"])]),
        .target(name: "DmoverKernelsCRC512", dependencies: ["DmoverKernels", "CDmoverIntrin"], path: "Sources/DmoverKernelsCRC512",
                exclude: ["CMakeLists.txt"],
                swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512", "-Xcc", "-mvpclmulqdq", "-Xcc", "-mpclmul", "-Xcc", "-msse4.2",
                                               "-O"])]),
        // The dmover engine: sessions, requests, backends, the software backend.
        .target(name: "DmoverCore",
                dependencies: ["BSDSystem", "CBSDShimABI", "CBSDShim", "DmoverKernels", "CDmoverIntrin"],
                path: "Sources/DmoverCore", exclude: ["CMakeLists.txt"]),
        // Installs the ISA kernels into DmoverCore (the only flagged part of the dmover graph).
        .target(name: "DmoverSIMD",
                dependencies: ["DmoverCore", "CBSDShim", "DmoverKernels", "DmoverKernelsAVX2", "DmoverKernelsAVX512",
                               "DmoverKernelsCRC", "DmoverKernelsCRC512"],
                path: "Sources/DmoverSIMD", exclude: ["CMakeLists.txt"]),
        .target(name: "CDmoverBench", path: "Sources/CDmoverBench",
                linkerSettings: [.linkedLibrary("isal")]),
        .executableTarget(name: "DmoverBench", dependencies: ["DmoverCore", "DmoverSIMD", "CDmoverBench"],
                          path: "Sources/DmoverBench", exclude: ["CMakeLists.txt", "RESULTS.md"]),
        .executableTarget(name: "DmoverIOBench", dependencies: ["DmoverCore", "DmoverSIMD", "CBSDShimABI"],
                          path: "Sources/DmoverIOBench", exclude: ["CMakeLists.txt"]),
        .testTarget(name: "DmoverCoreTests", dependencies: ["DmoverCore", "DmoverSIMD", "BSDShimExports"],
                    path: "Tests/DmoverCoreTests"),
        .testTarget(name: "BSDShimTests", dependencies: ["BSDShim", "DmoverSIMD",
                                                   .product(name: "SystemPackage", package: "swift-system")],
                    path: "Tests/BSDShimTests"),
        .testTarget(name: "KqueueCoreTests", dependencies: ["KqueueCore", "BSDSystem", "CBSDShimABI"],
                    path: "Tests/KqueueCoreTests"),
    ],
    swiftLanguageModes: [.v6]
)
