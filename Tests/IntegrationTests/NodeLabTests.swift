import RedisTestSupport
import Testing

/// Issue 12 in network namespaces (scripts/lab-node.sh, 10.79.0.0/24, t12-* names): three nodes
/// each running a real redis-server and `tandem run`, writers at the virtual IP. The direct-mode
/// cases here; the proxy-mode ones with the script.
@Suite("tandem run: the node agent in network namespaces", .serialized,
       .enabled(if: VRRPLab.shouldRun), .timeLimit(.minutes(3)))
struct NodeLabTests {
    /// kill_redis_direct: kill -9 of the master's redis-server: writes at the VIP resume (the VIP
    /// moves to the promoted replica's node, never on two nodes), nothing acknowledged is lost
    /// but what the master acknowledged as it died. partition_direct: the master's node cut off
    /// fences itself; only writes acknowledged within down-after/2 of the cut are lost, and the
    /// old master follows the new one after the heal.
    @Test("kill -9 of the master's Redis and a partition of the master's node, clients at the VIP",
          arguments: ["kill_redis_direct", "partition_direct"])
    func scenario(_ name: String) async throws {
        let result = try await VRRPLab.run([name], script: "scripts/lab-node.sh")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS \(name)"), "\(result.output)")
        #expect(result.output.contains("RESULT label=\(name)"), "\(result.output)")
    }
}
