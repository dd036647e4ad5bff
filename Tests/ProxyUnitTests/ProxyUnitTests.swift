import Logging
import NIOCore
@testable import Proxy
import RESP
import Testing

@Suite("Proxy pieces without sockets")
struct ProxyUnitTests {
    @Test("endpoints parse host:port, [v6]:port and v6:port, and name what is wrong")
    func endpoints() throws {
        #expect(try ProxyEndpoint(parsing: "127.0.0.1:6379") == ProxyEndpoint(host: "127.0.0.1", port: 6379))
        #expect(try ProxyEndpoint(parsing: "[::1]:6380") == ProxyEndpoint(host: "::1", port: 6380))
        #expect(try ProxyEndpoint(parsing: "::1:6381") == ProxyEndpoint(host: "::1", port: 6381))
        #expect(ProxyEndpoint(host: "::1", port: 1).description == "[::1]:1")
        for bad in ["nonsense", ":6379", "host:", "host:65536", "[::1]6379", "host:-1"] {
            #expect(throws: ProxySettingsError.self, "\(bad)") { try ProxyEndpoint(parsing: bad) }
        }
    }

    static func classify(_ command: String, credentials: [[UInt8]]? = nil, reads: Bool = false) throws -> CommandTraits.Classification {
        var scanner = RESPStreamScanner(mode: .request)
        var buffer = ByteBuffer()
        buffer.writeRESPCommand(command.split(separator: " ").map(String.init))
        #expect(try scanner.nextFrameEnd(in: buffer, from: 0) == buffer.readableBytes)
        return CommandTraits.classify(&scanner, proxyCredentials: credentials, readRouting: reads)
    }

    @Test("stateless commands share a connection; state, blocking and pub/sub get their own; QUIT and INFO proxy are local")
    func routes() throws {
        for shared in ["GET k", "set k v", "INCR n", "HELLO", "HELLO 2", "EVAL x 0", "INFO", "INFO replication", "PING"] {
            #expect(try Self.classify(shared).route == .shared, "\(shared)")
        }
        for dedicated in ["SELECT 1", "MULTI", "WATCH k", "blpop q 0", "XREAD BLOCK 0 STREAMS s $", "SUBSCRIBE c",
                          "CLIENT SETNAME x", "HELLO 3", "AUTH other", "MONITOR", "WAIT 1 0", "READONLY"] {
            #expect(try Self.classify(dedicated).route == .dedicated, "\(dedicated)")
        }
        #expect(try Self.classify("quit").route == .local(.quit))
        #expect(try Self.classify("INFO proxy").route == .local(.infoProxy))
        // AUTH with the proxy's own credentials changes nothing on a shared connection.
        #expect(try Self.classify("AUTH secret", credentials: [Array("secret".utf8)]).route == .shared)
        #expect(try Self.classify("AUTH other", credentials: [Array("secret".utf8)]).route == .dedicated)
        #expect(try Self.classify("SUBSCRIBE a b").expectsReply == false)
        #expect(try Self.classify("SELECT 2").effect == .select)
        #expect(try Self.classify("GET k", reads: true).readOnly)
        #expect(try !Self.classify("SET k v", reads: true).readOnly)
        #expect(try !Self.classify("GET k").readOnly, "read routing is off unless asked for")
    }

    @Test("SENTINEL replicas: only replicas that are up and linked to their master are used")
    func healthyReplicas() {
        func replica(_ port: Int, flags: String, link: String) -> RESPValue {
            .array(["name", "127.0.0.1:\(port)", "ip", "127.0.0.1", "port", "\(port)", "flags", flags,
                    "master-link-status", link].map { .bulkString(ByteBuffer(string: $0)) })
        }
        let reply = RESPValue.array([
            replica(1, flags: "slave", link: "ok"),
            replica(2, flags: "s_down,slave", link: "ok"),
            replica(3, flags: "slave,disconnected", link: "ok"),
            replica(4, flags: "slave", link: "err"),
        ])
        #expect(MasterDiscovery.healthyReplicas(reply) == [ProxyEndpoint(host: "127.0.0.1", port: 1)])
        #expect(MasterDiscovery.healthyReplicas(.nullArray) == [])
    }

    @Test("switches count changes of master, also one that passes through a hold; a hold alone or a return to the same master is none")
    func switchCount() {
        let a = ProxyEndpoint(host: "127.0.0.1", port: 7001), b = ProxyEndpoint(host: "127.0.0.1", port: 7002)
        let router = ProxyRouter(settings: ProxySettings(listen: [], discovery: .backends([a, b])), logger: Logger(label: "test"))
        router.publish(a)
        #expect(router.switchCount == 0)
        router.publish(nil)
        router.publish(a)
        #expect(router.switchCount == 0)
        router.publish(nil)
        router.publish(b)
        #expect(router.switchCount == 1)
        router.publish(b)
        router.publish(a)
        #expect(router.switchCount == 2)
    }
}
