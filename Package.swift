// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tandem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tandem", targets: ["tandem"]),
        .library(name: "RESP", targets: ["RESP"]),
        .library(name: "RedisConnection", targets: ["RedisConnection"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(
            name: "RESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            // The scanners run on every byte the proxy forwards; see the Proxy target.
            swiftSettings: swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "RedisConnection",
            dependencies: [
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SentinelCore",
            swiftSettings: swiftSettings
        ),
        // PURE: comparing secrets (passwords, their hashes) in time independent of their contents.
        .target(
            name: "ConstantTime",
            swiftSettings: swiftSettings
        ),
        // PURE: HOST:PORT as `--http` and its config keys take it.
        .target(
            name: "HostPort",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SentinelConfig",
            dependencies: ["RESP", "AlertCore", "HostPort"],
            swiftSettings: swiftSettings
        ),
        // posix_spawn's closefrom and GNU flags, and fork-then-exec for a child run as another user.
        .target(name: "CSpawn"),
        // One helper every child process is started with (scripts, the daemon, redis-server).
        .target(
            name: "Spawn",
            dependencies: ["CSpawn"],
            swiftSettings: swiftSettings
        ),
        // BoringSSL's own check of a TLSv1.2 cipher list (swift-nio-ssl would stop the process on one it refuses).
        .target(
            name: "CTLSCipherList",
            dependencies: [.product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .target(
            name: "Sentinel",
            dependencies: [
                "RESP", "RedisConnection", "SentinelCore", "SentinelConfig", "Spawn", "ConstantTime", "CTLSCipherList",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // PURE: Redis Cluster routing for the proxy: hash slots, key positions, the slot map,
        // split and merge, transactions pinned to a slot.
        .target(
            name: "ClusterCore",
            dependencies: ["RESP", "ConstantTime", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Proxy",
            dependencies: [
                "RESP", "RedisConnection", "ClusterCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The byte path is single-threaded per event loop; dynamic exclusivity checks on
            // the handlers' stored properties cost ~8% of the proxy's CPU (perf, -P 16).
            swiftSettings: swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "VRRPCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeepalivedConfig",
            dependencies: ["VRRPCore", "HostPort"],
            swiftSettings: swiftSettings
        ),
        // PURE: keepalived's virtual_server in user space: checker state machine, quorum, schedulers.
        .target(
            name: "LVSCore",
            swiftSettings: swiftSettings
        ),
        // Linux calls Glibc's module map does not reach: packet sockets, IPv6 receive options.
        .target(name: "CVRRPSystem"),
        // PURE: which event becomes which alert, the retry/backoff/drop schedule, the payloads.
        .target(
            name: "AlertCore",
            swiftSettings: swiftSettings
        ),
        // The alerts' shell: a thread per sink doing the webhook's HTTP POST or the SMTP.
        .target(
            name: "Alerts",
            dependencies: ["AlertCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "VRRP",
            dependencies: ["VRRPCore", "KeepalivedConfig", "CVRRPSystem", "Spawn", "Alerts", "HostPort"],
            swiftSettings: swiftSettings
        ),
        // The virtual servers' shell: a TCP listener per virtual_server, the byte path, the checkers.
        .target(
            name: "LVS",
            dependencies: [
                "LVSCore", "KeepalivedConfig", "VRRPCore", "VRRP", "Spawn", "Alerts",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            // The byte path, as the Proxy target's: no dynamic exclusivity checks in release.
            swiftSettings: swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // `--http ADDR:PORT`: GET /metrics (Prometheus text) and the status page (GET /,
        // /status.json) from the daemons' own state, read when asked; the HTTP server is a thin
        // NIOHTTP1 shell.
        .target(
            name: "TandemMetrics",
            dependencies: [
                "Sentinel", "SentinelCore", "Proxy", "VRRP", "VRRPCore", "Status", "HostPort",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // PURE: the node agent's decisions (fencing, VIP placement) on a simulated clock.
        .target(
            name: "NodeCore",
            swiftSettings: swiftSettings
        ),
        // PURE: `tandem status`'s report from a monitor's replies, its table and JSON.
        .target(
            name: "Status",
            swiftSettings: swiftSettings
        ),
        // node.yaml reader for `tandem run`: typed settings, errors with file, line and key.
        .target(
            name: "NodeConfig",
            dependencies: ["AlertCore", "HostPort", "VRRPCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The node agent's shell: runs monitor, proxy and VIP in one process and carries out
        // NodeCore's decisions.
        .target(
            name: "Node",
            dependencies: [
                "NodeCore", "NodeConfig", "Sentinel", "Proxy", "VRRP", "VRRPCore", "KeepalivedConfig", "LVS", "RESP", "RedisConnection", "Spawn",
                "TandemMetrics", "Status", "AlertCore", "Alerts", "SentinelCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // What every daemon shares: its log line format (text, JSON) and systemd's readiness notice.
        .target(
            name: "Daemon",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem",
            dependencies: [
                "Sentinel", "Proxy", "VRRP", "KeepalivedConfig", "NodeConfig", "Node", "NodeCore", "Status", "RESP", "RedisConnection",
                "Daemon", "SentinelConfig", "TandemMetrics", "LVS", "VRRPCore", "AlertCore", "Alerts", "SentinelCore", "HostPort",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Real redis-server processes for tests: start, replicate, kill, pause, wait.
        .target(
            name: "RedisTestSupport",
            dependencies: [
                "RESP",
                "RedisConnection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/RedisTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RESPTests",
            dependencies: [
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProxyUnitTests",
            dependencies: ["Proxy", "RESP", "RedisConnection", "RedisTestSupport",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HostPortTests",
            dependencies: ["HostPort"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConstantTimeTests",
            dependencies: ["ConstantTime"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ClusterCoreTests",
            dependencies: ["ClusterCore", "RESP", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemMetricsTests",
            dependencies: ["TandemMetrics", "Sentinel", .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeTests",
            dependencies: ["Node", "NodeCore", "NodeConfig", "KeepalivedConfig", "VRRPCore", "VRRP", "Proxy", "RESP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SentinelCoreTests",
            dependencies: ["SentinelCore", "NodeCore", "VRRPCore", "VRRP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SentinelConfigTests",
            dependencies: ["SentinelConfig", "AlertCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeCoreTests",
            dependencies: ["NodeCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AlertCoreTests",
            dependencies: ["AlertCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StatusTests",
            dependencies: ["Status"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeConfigTests",
            dependencies: ["NodeConfig", "AlertCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "VRRPCoreTests",
            dependencies: ["VRRPCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LVSCoreTests",
            dependencies: ["LVSCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LVSTests",
            dependencies: ["LVS", "LVSCore", "KeepalivedConfig",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeepalivedConfigTests",
            dependencies: ["KeepalivedConfig", "VRRPCore", "HostPort"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["Daemon", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SpawnTests",
            dependencies: ["Spawn"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "VRRPTests",
            dependencies: ["VRRP", "VRRPCore", "Alerts"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RedisConnectionTests",
            dependencies: [
                "RESP",
                "RedisConnection",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                // The tests run the executable: depending on it makes `swift test` rebuild it.
                "tandem",
                "ClusterCore",
                "RESP",
                "RedisConnection",
                "RedisTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
