import RedisTestSupport
import Testing

/// Issue 20 in network namespaces (scripts/lab-proxy-partition.sh, 10.78.0.0/24, t20-* names):
/// the tandem-sentinel cases here, all four (tandem and redis sentinels) with the script.
@Suite("tandem proxy in a partition (network namespaces)", .serialized,
       .enabled(if: VRRPLab.shouldRun && SentinelProcess.shouldRunTests), .timeLimit(.minutes(3)))
struct ProxyPartitionLabTests {
    /// partition_tandem: h1 (master and first sentinel) cut from h2 and h3; the proxy must switch
    /// within down-after + 300 ms (+ 200 ms slack) of the cut and lose no write acknowledged after.
    /// alone_tandem: only the first sentinel cut off; no switch, no error, nothing lost.
    @Test("the proxy follows the majority's new master; the first sentinel cut off alone changes nothing",
          arguments: ["partition_tandem", "alone_tandem"])
    func scenario(_ name: String) async throws {
        let result = try await VRRPLab.run([name], script: "scripts/lab-proxy-partition.sh")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS \(name)"), "\(result.output)")
        #expect(result.output.contains("RESULT label=\(name)"), "\(result.output)")
    }
}
