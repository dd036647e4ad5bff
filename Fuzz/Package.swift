// swift-tools-version: 6.1
// libFuzzer targets for Tandem's decoders and config readers. Not part of the main build: see scripts/fuzz.
// Sources/RESP is a link to the main package's RESP module, so this package builds the same
// code with the fuzzer's instrumentation and nothing else of Tandem.
import PackageDescription

let package = Package(
    name: "TandemFuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
    ],
    targets: [
        .target(name: "RESP", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .executableTarget(
            name: "RESPFuzzer",
            dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // The config readers (sentinel.conf, keepalived.conf, node.yaml), linked the same way.
        .target(name: "AlertCore"),
        .target(name: "HostPort"),
        .target(name: "SentinelConfig", dependencies: ["RESP", "AlertCore", "HostPort"]),
        .target(name: "VRRPCore"),
        .target(name: "KeepalivedConfig", dependencies: ["VRRPCore", "HostPort"]),
        .target(name: "NodeConfig", dependencies: ["AlertCore", "HostPort", .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "ConfigFuzzer",
            dependencies: ["SentinelConfig", "KeepalivedConfig", "NodeConfig"]
        ),
        // The VRRP receive path: the advert decoder and keepalived's per-instance checks.
        .executableTarget(name: "VRRPFuzzer", dependencies: ["VRRPCore"]),
    ]
)
