import Foundation
import RedisTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The namespace lab needs root and iproute2; under CI=true their absence is a failure.
enum VRRPLab {
    static var canRun: Bool { getuid() == 0 && findExecutable("ip") != nil }
    static var shouldRun: Bool { canRun || isCI }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
    }

    /// Runs a namespace lab script (scripts/lab-vrrp.sh unless told) with the given scenarios
    /// against the built tandem.
    static func run(_ scenarios: [String], script: String = "scripts/lab-vrrp.sh") async throws -> (status: Int32, output: String) {
        guard canRun else {
            throw HarnessError("the namespace labs need root and iproute2 (ip)" + (isCI ? "; CI=true requires them" : ""))
        }
        let tandem = URL(fileURLWithPath: try tandemExecutable())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repository.appendingPathComponent(script).path] + scenarios
        var environment = ProcessInfo.processInfo.environment
        environment["TANDEM"] = tandem.path
        process.environment = environment
        // Output to a file and the exit reported by a handler: nothing blocks a thread of the
        // cooperative pool for the minute a lab takes.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-vrrp-lab-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let log = try FileHandle(forWritingTo: output)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try? log.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return (status, text)
    }
}

@Suite("tandem vrrp in network namespaces", .serialized, .enabled(if: VRRPLab.shouldRun), .timeLimit(.minutes(3)))
struct VRRPLabTests {
    /// Each scenario builds its own namespaces (10.77.0.0/24 inside them only) and removes them.
    @Test("VIP moves on graceful stop and crash; a frozen master's clients reset by its address guard; track_script failure; smtp_alert; a bad-packet flood; keepalived interop v3 multicast and unicast; /metrics; SIGHUP reload; use_vmac with keepalived",
          arguments: ["sigkill", "sigterm", "v3", "sigstop_clients", "trackscript", "smtp", "badpackets", "stalevip", "scriptuser", "garp", "interop_v3_ka_master", "interop_v3_unicast_ka_backup", "interop_v2_ka_backup", "metrics", "interop_notify_ka", "reload", "interop_vmac_ka"])
    func scenario(_ name: String) async throws {
        if name.hasPrefix("interop"), findExecutable("keepalived") == nil, !isCI { return }
        let result = try await VRRPLab.run([name])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS \(name)"), "\(result.output)")
    }
}

@Suite("the second seed's keepalived.conf pair in network namespaces", .enabled(if: VRRPLab.shouldRun), .timeLimit(.minutes(3)))
struct SeedLVSLabTests {
    /// scripts/lab-lvs.sh (about 35 s): the seed's two configs as written, real redis-servers,
    /// the VIP moving both ways, a killed real server out within delay_loop + retries, the
    /// sorry server answering with both real servers down.
    @Test("seed 2: VIP moves, clients reach Redis through the virtual_server, checkers and sorry_server")
    func seed2() async throws {
        if findExecutable("redis-server") == nil, !isCI { return }
        let result = try await VRRPLab.run(["seed2"], script: "scripts/lab-lvs.sh")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS seed2"), "\(result.output)")
    }
}
