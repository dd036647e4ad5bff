import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

@Suite("RedisConnection against a real redis-server", .timeLimit(.minutes(3)), .enabled(if: RedisServer.shouldRunTests, "redis-server is not installed"))
struct RedisConnectionIntegrationTests {
    @Test("AUTH with a password, and with an ACL user and password; wrong ones are refused")
    func authentication() async throws {
        try await withRedisServers(1, extraArguments: ["--requirepass", "s3cret"], password: "s3cret") { servers in
            let server = servers[0]
            let plain = try await server.connect(password: "s3cret")
            #expect(try await plain.send(["PING"]).string == "PONG")
            try await plain.command(["ACL", "SETUSER", "alice", "on", ">wonderland", "~*", "&*", "+@all"])
            await plain.close()

            let alice = try await server.connect(username: "alice", password: "wonderland")
            #expect(try await alice.command(["ACL", "WHOAMI"]).string == "alice")
            await alice.close()

            let alice3 = try await server.connect(username: "alice", password: "wonderland", protocolVersion: .resp3)
            #expect(alice3.protocolVersion == 3)
            #expect(try await alice3.command(["ACL", "WHOAMI"]).string == "alice")
            await alice3.close()

            await #expect {
                _ = try await server.connect(username: "alice", password: "wrong")
            } throws: { error in
                let e = error as? RedisConnectionError
                return e?.code == .authenticationFailed && e?.server == "127.0.0.1:\(server.port)"
                    && e?.message.hasPrefix("WRONGPASS") == true
            }
            let anonymous = try await server.connect()
            #expect(try await anonymous.send(["GET", "x"]).errorCode == "NOAUTH")
            await anonymous.close()
        }
    }

    @Test("HELLO 3 negotiates RESP3: maps, doubles and nulls arrive as RESP3 types")
    func resp3() async throws {
        try await withRedisServers(1) { servers in
            let connection = try await servers[0].connect(protocolVersion: .resp3IfAvailable)
            defer { Task { await connection.close() } }
            #expect(connection.protocolVersion == 3)
            try await connection.command(["HSET", "h", "f", "v"])
            guard case .map(let pairs) = try await connection.command(["HGETALL", "h"]) else {
                Issue.record("HGETALL did not return a map under RESP3")
                return
            }
            #expect(pairs == [RESPPair(key: .bulkString("f"), value: .bulkString("v"))])
            #expect(try await connection.command(["GET", "missing"]) == .null)
            try await connection.command(["ZADD", "z", "1.5", "m"])
            #expect(try await connection.command(["ZSCORE", "z", "m"]) == .double(1.5))
        }
    }

    @Test("10,000 pipelined commands are answered in order")
    func pipelining() async throws {
        try await withRedisServers(1) { servers in
            let connection = try await servers[0].connect()
            defer { Task { await connection.close() } }
            let commands = (0..<10_000).map { i in i % 2 == 0 ? ["INCR", "counter"] : ["ECHO", "e\(i)"] }
            let replies = try await connection.pipeline(commands)
            #expect(replies.count == 10_000)
            var mismatches = 0
            for (i, reply) in replies.enumerated() {
                let expected: RESPValue = i % 2 == 0 ? .integer(Int64(i / 2 + 1)) : .bulkString("e\(i)")
                if reply != expected { mismatches += 1 }
            }
            #expect(mismatches == 0)

            // Concurrent callers on one connection also each get their own reply.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<200 {
                    group.addTask { try await connection.send(["ECHO", "c\(i)"]) == .bulkString("c\(i)") }
                }
                for try await ok in group { #expect(ok) }
            }
        }
    }

    @Test("pub/sub round trip over RESP2 and RESP3, with channels and patterns", arguments: [
        RedisConnectionConfiguration.ProtocolVersion.resp2, .resp3,
    ])
    func pubSub(version: RedisConnectionConfiguration.ProtocolVersion) async throws {
        try await withRedisServers(1) { servers in
            let subscriber = try await servers[0].connect(protocolVersion: version)
            let publisher = try await servers[0].connect()
            defer { Task { await subscriber.close(); await publisher.close() } }
            try await subscriber.subscribe(["news", "weather"])
            try await subscriber.psubscribe(["__sentinel__:*"])
            var iterator = subscriber.messages.makeAsyncIterator()

            #expect(try await publisher.command(["PUBLISH", "news", "hello"]) == .integer(1))
            let first = await iterator.next()
            #expect(first?.channelName == "news")
            #expect(first?.text == "hello")
            #expect(first?.pattern == nil)

            #expect(try await publisher.command(["PUBLISH", "__sentinel__:hello", "127.0.0.1,26379,abc,0,mymaster,127.0.0.1,6379,0"]) == .integer(1))
            let second = await iterator.next()
            #expect(second?.channelName == "__sentinel__:hello")
            #expect(second.flatMap { $0.pattern.map { String(buffer: $0) } } == "__sentinel__:*")

            try await subscriber.unsubscribe(["news"])
            #expect(try await publisher.command(["PUBLISH", "news", "gone"]) == .integer(0))
            #expect(try await publisher.command(["PUBLISH", "weather", "rain"]) == .integer(1))
            #expect(await iterator.next()?.text == "rain")

            // PING still works while subscribed (RESP2 answers ["pong", ""]).
            try await subscriber.ping()
            try await subscriber.unsubscribe()
            try await subscriber.punsubscribe()
            // After leaving subscribe mode, ordinary commands work again.
            #expect(try await subscriber.command(["ECHO", "back"]) == .bulkString("back"))
        }
    }

    @Test("INFO and ROLE are parsed for a master and for a replica")
    func infoAndRole() async throws {
        try await withReplicationGroup(replicas: 1) { master, replicas in
            let replica = replicas[0]
            try await master.run(["SET", "k", "v"])
            let masterInfo = try await master.withConnection { try await $0.info() }
            #expect(masterInfo.replication.role == .master)
            #expect(masterInfo.runID?.count == 40)
            #expect(masterInfo.section("server")?["tcp_port"] == String(master.port))
            #expect(masterInfo.replication.masterReplOffset != nil)
            try await waitUntil("the master to list its replica as online") {
                let info = try await master.withConnection { try await $0.info("replication") }
                return info.replication.replicas.first.map { $0.port == replica.port && $0.state == "online" } ?? false
            }
            let replicaInfo = try await replica.withConnection { try await $0.info() }
            let r = replicaInfo.replication
            #expect(r.role == .replica)
            #expect(r.masterHost == "127.0.0.1")
            #expect(r.masterPort == master.port)
            #expect(r.masterLinkUp == true)
            #expect(r.replicaPriority == 100)
            #expect(r.replicaAnnounced == true)
            #expect(r.slaveReplOffset != nil)
            #expect(replicaInfo.sections.map(\.name).contains("Keyspace"))

            let masterRole = try await master.withConnection { try await $0.role() }
            guard case .master(_, let listed) = masterRole else {
                Issue.record("master's ROLE was \(masterRole)")
                return
            }
            #expect(listed.map(\.port) == [replica.port])
            let replicaRole = try await replica.withConnection { try await $0.role() }
            guard case .replica(let host, let port, let state, _) = replicaRole else {
                Issue.record("replica's ROLE was \(replicaRole)")
                return
            }
            #expect(host == "127.0.0.1" && port == master.port && state == "connected")

            // The replica's link goes down when the master dies.
            master.kill9()
            try await waitUntil("the replica to report its master link down") {
                let info = try await replica.withConnection { try await $0.info("replication") }
                return info.replication.masterLinkUp == false && info.replication.masterLinkDownSinceSeconds != nil
            }
        }
    }

    @Test("a SIGSTOPped server makes requests time out, reported as a timeout naming server and command")
    func timeoutOnStoppedServer() async throws {
        try await withRedisServers(1) { servers in
            let server = servers[0]
            let connection = try await server.connect(commandTimeout: .milliseconds(300))
            defer { Task { await connection.close() } }
            // The first reply may be slow on a loaded machine (CI once took > 300 ms here);
            // only the request sent while the server is stopped uses the short timeout.
            #expect(try await connection.send(["PING"], timeout: .seconds(10)) == .simpleString("PONG"))
            server.pause()
            defer { server.resume() }
            await #expect {
                try await connection.send(["GET", "k"])
            } throws: { error in
                let e = error as? RedisConnectionError
                return e?.code == .timeout && e?.command == "GET" && e?.server == "127.0.0.1:\(server.port)"
            }
            server.resume()
            // The late reply to the timed-out GET is discarded; the next request gets its own reply.
            try await waitUntil("the resumed server to answer") {
                try await connection.send(["ECHO", "after"], timeout: .seconds(2)) == .bulkString("after")
            }
        }
    }

    @Test("error replies are values from send, and errors naming the command from command()")
    func errorReplies() async throws {
        try await withRedisServers(1) { servers in
            let connection = try await servers[0].connect()
            defer { Task { await connection.close() } }
            let reply = try await connection.send(["NOSUCHCOMMAND"])
            #expect(reply.errorCode == "ERR")
            try await connection.command(["SET", "s", "text"])
            await #expect {
                try await connection.command(["CONFIG", "GET"])
            } throws: { error in
                let e = error as? RedisConnectionError
                return e?.code == .serverError && e?.command == "CONFIG GET"
            }
        }
    }

    @Test("a refused connection, and a server killed mid-request, are reported as such")
    func connectFailureAndCrash() async throws {
        let port = try freeLoopbackPort()
        await #expect {
            _ = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port))
        } throws: { error in
            let e = error as? RedisConnectionError
            return e?.code == .connectFailed && e?.server == "127.0.0.1:\(port)"
        }
        try await withRedisServers(1) { servers in
            let connection = try await servers[0].connect(commandTimeout: nil)
            let blocked = Task { try await connection.send(["BLPOP", "never", "0"]) }
            try await waitUntil("BLPOP to block on the server") {
                try await servers[0].run(["INFO", "clients"]).string?.contains("blocked_clients:1") == true
            }
            servers[0].kill9()
            await #expect {
                _ = try await blocked.value
            } throws: { error in
                (error as? RedisConnectionError)?.code == .closed && (error as? RedisConnectionError)?.command == "BLPOP"
            }
            #expect(!connection.isActive)
        }
    }
}
