import Foundation
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// Crash-fast failover (issue 18) with real processes: down-after-milliseconds is 30 s, as
/// operators set it, yet a killed master process fails over in well under that; a stopped
/// (hung) one does not.
@Suite("tandem sentinel crash-fast failover", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
struct SentinelCrashFastTests {
    static let downAfter = 30_000

    /// `kinds` sentinels monitoring `master` with down-after 30 s, once they know each other
    /// and both replicas.
    static func group(_ master: RedisServer, kinds: [SentinelProcess.Kind], extraLines: [String] = []) async throws -> [SentinelProcess] {
        var sentinels: [SentinelProcess] = []
        do {
            for kind in kinds {
                sentinels.append(try await SentinelProcess(kind: kind, monitoring: master, downAfter: downAfter, failoverTimeout: 60_000,
                                                           extraLines: extraLines))
            }
            try await waitUntil("the sentinels to discover each other and the replicas", timeout: .seconds(30)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != kinds.count - 1 || k.replicas != 2 { return false }
                }
                return true
            }
        } catch {
            sentinels.forEach { $0.stop() }
            throw error
        }
        return sentinels
    }

    /// Kills the master and waits until every sentinel names a replica; returns how long it took.
    static func killAndWaitForSwitch(_ master: RedisServer, _ replicas: [RedisServer], _ sentinels: [SentinelProcess]) async throws -> Duration {
        let clock = ContinuousClock()
        let killed = clock.now
        master.kill9()
        let replicaAddresses = Set(replicas.map { "127.0.0.1:\($0.port)" })
        // Well under down-after (30 s): only crash detection can get there in time.
        try await waitUntil("every sentinel to name a promoted replica", timeout: .seconds(10)) {
            for s in sentinels {
                guard let a = try await s.masterAddress(), replicaAddresses.contains(a) else { return false }
            }
            return true
        }
        let took = clock.now - killed
        let promoted = try #require(try await sentinels[0].masterAddress())
        let server = try #require(replicas.first { "127.0.0.1:\($0.port)" == promoted })
        #expect(try await server.withConnection { try await $0.role() }.name == .master)
        return took
    }

    @Test("three tandem sentinels, down-after 30 s: kill -9 of the master promotes a replica and every sentinel switches within seconds")
    func killedMasterFailsOverFast() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let sentinels = try await Self.group(master, kinds: [.tandem, .tandem, .tandem])
            defer { sentinels.forEach { $0.stop() } }
            let took = try await Self.killAndWaitForSwitch(master, replicas, sentinels)
            print("crash-fast: every sentinel switched \(took) after kill -9 (down-after 30 s)")
            // The leader said why it did not wait.
            var crashDownSeen = false
            for s in sentinels where s.logTail(lines: 200).contains("+crash-down") { crashDownSeen = true }
            #expect(crashDownSeen)
        }
    }

    /// Without resolve-hostnames (or before the match by address) the replicas' `master_host
    /// localhost` does not match 127.0.0.1, no replica counts, and this waits for down-after
    /// (checked: it then times out).
    @Test("replicas pointed at their master by a host name (REPLICAOF localhost …), sentinels with resolve-hostnames monitoring it by address: the replicas' reports still count, kill -9 fails over crash-fast")
    func replicasNamingTheirMasterByHostname() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            for r in replicas { _ = try await r.run(["REPLICAOF", "localhost", String(master.port)]) }
            try await waitUntil("the replicas to report master_host localhost with the link up", timeout: .seconds(15)) {
                for r in replicas {
                    let info = try await r.withConnection { try await $0.info("replication") }.replication
                    if info.masterHost != "localhost" || info.masterLinkUp != true { return false }
                }
                return true
            }
            let sentinels = try await Self.group(master, kinds: [.tandem, .tandem, .tandem], extraLines: ["sentinel resolve-hostnames yes"])
            defer { sentinels.forEach { $0.stop() } }
            let took = try await Self.killAndWaitForSwitch(master, replicas, sentinels)
            print("crash-fast, replicas naming their master 'localhost': every sentinel switched \(took) after kill -9 (down-after 30 s)")
            #expect(sentinels.contains { $0.logTail(lines: 200).contains("+crash-down") })
        }
    }

    @Test("two tandem sentinels and one redis-sentinel, quorum 2: the tandem pair's crash detection makes ODOWN, redis-sentinel votes and follows")
    func mixedGroupFailsOverFast() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let sentinels = try await Self.group(master, kinds: [.tandem, .tandem, .redis])
            defer { sentinels.forEach { $0.stop() } }
            let took = try await Self.killAndWaitForSwitch(master, replicas, sentinels)
            print("crash-fast, mixed group: every sentinel switched \(took) after kill -9 (down-after 30 s)")
        }
    }

    /// `sentinelsStopped`: the sentinels are stopped (SIGSTOP) across the restart, so that it
    /// beats every reconnect: they find the empty process answering, never a refused port,
    /// and only its INFO (new run id, no keys, replicas with data) tells them.
    @Test("three tandem sentinels, down-after 30 s: the master killed and restarted empty on its port at once — a replica holding the data is promoted, the data survives, the empty server becomes its replica",
          arguments: [false, true])
    func emptyRestartedMasterFailsOver(sentinelsStopped: Bool) async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let keys = 200
            _ = try await master.run(["MSET"] + (0..<keys).flatMap { ["key:\($0)", "value-\($0)"] })
            try await waitUntil("the replicas to hold the data", timeout: .seconds(10)) {
                for r in replicas {
                    if try await r.run(["DBSIZE"]).int != Int64(keys) { return false }
                }
                return true
            }
            let sentinels = try await Self.group(master, kinds: [.tandem, .tandem, .tandem])
            defer { sentinels.forEach { $0.stop() } }
            let clock = ContinuousClock()
            let killed = clock.now
            if sentinelsStopped { sentinels.forEach { $0.pause() } }
            do {
                try await master.restart()  // kill -9, then the same port again at once, empty (no persistence)
            } catch {
                if sentinelsStopped { sentinels.forEach { $0.resume() } }
                throw error
            }
            let restartedAfter = clock.now - killed
            if sentinelsStopped { sentinels.forEach { $0.resume() } }
            let replicaAddresses = Set(replicas.map { "127.0.0.1:\($0.port)" })
            try await waitUntil("every sentinel to name a promoted replica", timeout: .seconds(10)) {
                for s in sentinels {
                    guard let a = try await s.masterAddress(), replicaAddresses.contains(a) else { return false }
                }
                return true
            }
            let took = clock.now - killed
            print("empty restart (sentinels stopped: \(sentinelsStopped)): restarted after \(restartedAfter), every sentinel switched \(took) after kill -9 (down-after 30 s)")
            let promoted = try #require(try await sentinels[0].masterAddress())
            let server = try #require(replicas.first { "127.0.0.1:\($0.port)" == promoted })
            #expect(try await server.run(["DBSIZE"]).int == Int64(keys), "the promoted replica kept the data")
            #expect(try await server.run(["GET", "key:7"]).string == "value-7")
            let emptyRestartSeen = sentinels.contains { $0.logTail(lines: 300).contains("+empty-restart") }
            let crashDownSeen = sentinels.contains { $0.logTail(lines: 300).contains("+crash-down") }
            print("empty restart: +empty-restart \(emptyRestartSeen), +crash-down \(crashDownSeen)")
            if sentinelsStopped {
                #expect(emptyRestartSeen, "the sentinels never saw a refusal: only the empty restart's INFO can have told them")
            } else {
                #expect(emptyRestartSeen || crashDownSeen)
            }
            try await waitUntil("the restarted server to replicate the promoted replica and hold the data", timeout: .seconds(15)) {
                let info = try await master.withConnection { try await $0.info("replication") }.replication
                guard info.role == .replica, info.masterPort == server.port, info.masterLinkUp == true else { return false }
                return try await master.run(["DBSIZE"]).int == Int64(keys)
            }
            for r in replicas where r.port != server.port {
                try await waitUntil("the other replica to follow the promoted one with the data", timeout: .seconds(15)) {
                    let follows = try await r.withConnection { try await $0.info("replication") }.replication.masterPort == server.port
                    guard follows else { return false }
                    return try await r.run(["DBSIZE"]).int == Int64(keys)
                }
            }
        }
    }

    @Test("SIGSTOP of the master for 5 s (connections accepted, nothing refused): no SDOWN, no failover — three tandem sentinels, and two with one redis-sentinel",
          arguments: [[SentinelProcess.Kind.tandem, .tandem, .tandem], [.tandem, .tandem, .redis]])
    func stoppedMasterDoesNotFailOver(kinds: [SentinelProcess.Kind]) async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let sentinels = try await Self.group(master, kinds: kinds)
            defer { sentinels.forEach { $0.stop() } }
            let old = "127.0.0.1:\(master.port)"
            master.pause()
            let clock = ContinuousClock()
            let resumeAt = clock.now + .seconds(5)
            do {
                while clock.now < resumeAt {
                    for s in sentinels {
                        #expect(try await s.masterAddress() == old)
                        let m = try await s.command(["SENTINEL", "MASTER", "mymaster"])
                        let flags = m.pairs?.first { $0.key.string == "flags" }?.value.string ?? ""
                        #expect(!flags.contains("s_down") && !flags.contains("failover"), "flags: \(flags)")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            } catch {
                master.resume()
                throw error
            }
            master.resume()
            try await Task.sleep(for: .seconds(1))
            for s in sentinels {
                #expect(try await s.masterAddress() == old)
                #expect(!s.logTail(lines: 200).contains("+try-failover"))
            }
            #expect(try await master.withConnection { try await $0.role() }.name == .master)
            for r in replicas {
                #expect(try await r.withConnection { try await $0.role() }.name == .replica)
            }
        }
    }
    @Test("SENTINEL SET mymaster durability replicated: saved in sentinel.conf; a killed master still fails over at once, to a replica read after the kill")
    func durabilityBySet() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let sentinels = try await Self.group(master, kinds: [.tandem, .tandem, .tandem])
            defer { sentinels.forEach { $0.stop() } }
            let bad = try await sentinels[0].command(["SENTINEL", "SET", "mymaster", "durability", "sync"])
            #expect(bad.errorMessage == "ERR Invalid argument 'sync' for SENTINEL SET 'durability'")
            for s in sentinels {
                #expect(try await s.command(["SENTINEL", "SET", "mymaster", "durability", "replicated"]).string == "OK")
                #expect(try s.configText().contains("sentinel durability mymaster replicated"))
            }
            master.kill9()
            let ports = replicas.map { "127.0.0.1:\($0.port)" }
            try await waitUntil("a replica promoted", timeout: .seconds(5)) {
                ports.contains(try await sentinels[0].masterAddress() ?? "")
            }
            #expect(sentinels.contains { $0.logTail(lines: 300).contains("+selected-slave") })
        }
    }

    @Test("SENTINEL SET mymaster crash-detection no: saved in sentinel.conf, and a killed master then waits for down-after")
    func crashDetectionOffBySet() async throws {
        try await withReplicationGroup(replicas: 2) { master, _ in
            let sentinels = try await Self.group(master, kinds: [.tandem, .tandem, .tandem])
            defer { sentinels.forEach { $0.stop() } }
            let bad = try await sentinels[0].command(["SENTINEL", "SET", "mymaster", "crash-detection", "maybe"])
            #expect(bad.errorCode == "ERR")
            for s in sentinels {
                #expect(try await s.command(["SENTINEL", "SET", "mymaster", "crash-detection", "no"]).string == "OK")
                #expect(try s.configText().contains("sentinel crash-detection mymaster no"))
            }
            master.kill9()
            try await Task.sleep(for: .seconds(3))
            for s in sentinels {
                #expect(try await s.masterAddress() == "127.0.0.1:\(master.port)")
                #expect(!s.logTail(lines: 200).contains("+crash-down"))
            }
        }
    }
}
