import RedisTestSupport
import Testing

/// Issue 13's hardening item in a network namespace (scripts/lab-resolver.sh, t13-dns): a DNS
/// server that never answers, tandem sentinel monitoring one master by address and others by
/// names whose lookups hang for 10 s.
@Suite("Sentinel name lookups that hang", .serialized, .enabled(if: VRRPLab.shouldRun), .timeLimit(.minutes(2)))
struct SentinelResolverLabTests {
    /// kill: kill -9 of the master monitored by address; stop: SIGSTOP of it (only down-after
    /// can tell). Either way, while SENTINEL MONITOR of a hanging name waits for its lookup,
    /// the master is +sdown within down-after + 1 s and failed over before the lookup ends, the
    /// sentinel answers PING within 0.5 s, never enters TILT, and a master named in the config
    /// by a hanging name does not hold up the others at start.
    @Test("a hanging resolver delays neither the start nor failure detection of another master", arguments: ["kill", "stop"])
    func hangingResolver(_ fault: String) async throws {
        let result = try await VRRPLab.run([fault], script: "scripts/lab-resolver.sh")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS resolver_\(fault)"), "\(result.output)")
        #expect(result.output.contains("RESULT label=resolver_\(fault)"), "\(result.output)")
    }
}
