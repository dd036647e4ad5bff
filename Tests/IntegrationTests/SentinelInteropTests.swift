import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// Mixed groups of real redis-sentinel and tandem sentinel processes fail over together.
@Suite("Sentinel interoperability with redis-sentinel 7.0", .serialized, .timeLimit(.minutes(5)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
struct SentinelInteropTests {
    typealias Kind = SentinelProcess.Kind

    struct Case: CustomTestStringConvertible, Sendable {
        var kinds: [Kind]
        var leader: Int
        var testDescription: String { "\(kinds.map(\.rawValue).joined(separator: "+")), leader \(kinds[leader])" }
    }

    static let cases: [Case] = [
        Case(kinds: [.tandem, .tandem, .redis], leader: 0),
        Case(kinds: [.tandem, .tandem, .redis], leader: 2),
        Case(kinds: [.redis, .redis, .tandem], leader: 2),
        Case(kinds: [.tandem, .tandem, .tandem, .redis, .redis], leader: 4),
        Case(kinds: [.redis, .redis, .redis, .tandem, .tandem], leader: 3),
    ]

    /// Starts the group. The intended leader alone has quorum 1 and down-after 1 s, so it
    /// reaches ODOWN first and asks for votes before anyone else starts; the others have
    /// quorum 2 and down-after 4 s, and the tandem ones no crash detection (with it they would
    /// see the kill -9 at once and stand before the arranged leader; SentinelCrashFastTests
    /// covers a mixed group with it).
    static func startSentinels(_ c: Case, master: RedisServer) async throws -> [SentinelProcess] {
        var sentinels: [SentinelProcess] = []
        do {
            for (i, kind) in c.kinds.enumerated() {
                let isLeader = i == c.leader
                sentinels.append(try await SentinelProcess(kind: kind, monitoring: master, quorum: isLeader ? 1 : 2,
                                                           downAfter: isLeader ? 1000 : 4000,
                                                           extraLines: kind == .tandem && !isLeader ? ["sentinel crash-detection mymaster no"] : []))
            }
            let n = sentinels.count
            try await waitUntil("every sentinel to know its \(n - 1) peers and both replicas", timeout: .seconds(30)) {
                for s in sentinels {
                    let known = try await s.known()
                    if known.sentinels != n - 1 || known.replicas != 2 { return false }
                }
                return true
            }
        } catch {
            sentinels.forEach { $0.stop() }
            throw error
        }
        return sentinels
    }

    @Test("kill -9 of the master: the arranged leader fails over and the group converges", arguments: cases)
    func mixedGroupFailover(_ c: Case) async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let sentinels = try await Self.startSentinels(c, master: master)
            defer { sentinels.forEach { $0.stop() } }
            // Watch +elected-leader on every sentinel.
            var watchers: [RedisConnection] = []
            defer { for w in watchers { Task { await w.close() } } }
            for s in sentinels {
                let w = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: s.port))
                try await w.subscribe(["+elected-leader", "+switch-master"])
                watchers.append(w)
            }
            master.kill9()
            let replicaAddresses = replicas.map { "127.0.0.1:\($0.port)" }
            var newMaster: String?
            try await waitUntil("all sentinels to agree on a promoted replica", timeout: .seconds(40)) {
                var answers: Set<String> = []
                for s in sentinels { answers.insert(try await s.masterAddress() ?? "none") }
                guard answers.count == 1, let a = answers.first, replicaAddresses.contains(a) else { return false }
                newMaster = a
                return true
            }
            let promoted = try #require(replicas.first { "127.0.0.1:\($0.port)" == newMaster })
            let other = try #require(replicas.first { $0 !== promoted })
            try await waitUntil("the other replica to follow the new master", timeout: .seconds(30)) {
                let info = try await other.withConnection { try await $0.info("replication") }.replication
                return info.masterPort == promoted.port && info.masterLinkUp == true
            }
            #expect(try await promoted.withConnection { try await $0.role() }.name == .master)
            // Exactly the arranged sentinel announced that it won the election.
            var electedOn: [Int] = []
            for (i, w) in watchers.enumerated() {
                let messages = await closeAndDrain(w)
                if messages.contains(where: { $0.channelName == "+elected-leader" }) { electedOn.append(i) }
            }
            #expect(electedOn == [c.leader], "elected on \(electedOn); logs:\n\(sentinels.map { $0.logTail() }.joined(separator: "\n---\n"))")
        }
    }
}

