@testable import Node
import NodeCore
import Synchronization
import VRRP
import VRRPCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `direct` placement's reset of the local Redis's clients as the VIP leaves: real TCP
/// connections on loopback, reset by the kernel (SOCK_DESTROY); one on another port is left alone.
@Suite("Node: clients at the VIP reset as the address leaves", .timeLimit(.minutes(1)))
struct VIPClientResetTests {
    /// A listener on 127.0.0.1 (free port), one client connected to it and accepted; the
    /// client has sent a request and waits for a reply, as one waiting on a frozen Redis.
    struct Connection {
        let listener: Int32
        let client: Int32
        let served: Int32
        let port: Int

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
            try #require(bound == 0)
            try #require(listen(listener, 4) == 0)
            let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
            try #require(named == 0)
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } }
            try #require(connected == 0)
            let served = accept(listener, nil, nil)
            try #require(served >= 0)
            let request = Array("*1\r\n$4\r\nPING\r\n".utf8)
            try #require(send(client, request, request.count, 0) == request.count)
            var timeout = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            self.listener = listener
            self.client = client
            self.served = served
            self.port = Int(UInt16(bigEndian: address.sin_port))
        }

        /// What the waiting client's next read says: the errno, or 0 for bytes or an orderly close.
        func clientRead() -> Int32 {
            var buffer = [UInt8](repeating: 0, count: 16)
            return recv(client, &buffer, buffer.count, 0) < 0 ? errno : 0
        }

        func close() {
            for fd in [client, served, listener] { _ = Glibc.close(fd) }
        }
    }

    @Test("the clients on the address and port get an RST at once; a connection on another port is left alone")
    func resetsClientsOnThePort() throws {
        let target = try Connection()
        let other = try Connection()
        defer { target.close(); other.close() }
        let logged = Mutex<[String]>([])
        let reset = VIPClientReset(port: target.port, log: { line in logged.withLock { $0.append(line) } })
        #expect(reset.reset(["127.0.0.1"]) == 1, "\(logged.withLock { $0 })")
        #expect(target.clientRead() == ECONNRESET)
        // The other connection still waits: its read times out (EAGAIN) instead of failing.
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(other.client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(other.clientRead() == EAGAIN)
        #expect(logged.withLock { $0.count } == 1)
    }
}

/// The new holder's tickle of the previous holder's clients (`VIPClientTickle`, `tickleTCP`):
/// the list the holder publishes, read from real sockets; the segment; what is tickled.
@Suite("Node: the previous holder's clients tickled", .timeLimit(.minutes(1)))
struct VIPClientTickleTests {
    @Test("the holder's list is its connected clients on the port, as INFO vipclients shows and the peers parse it")
    func listsClients() throws {
        let a = try VIPClientResetTests.Connection()
        let b = try VIPClientResetTests.Connection()
        defer { a.close(); b.close() }
        var clientAddress = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &clientAddress) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(a.client, $0, &length) } }
        let clientPort = Int(UInt16(bigEndian: clientAddress.sin_port))
        let peers = try listTCPPeers(localAddress: .v4(0x7f00_0001), port: a.port).get()
        #expect(peers == [TCPPeer(address: .v4(0x7f00_0001), port: clientPort)], "the one client of a's port, not b's")
        let tickle = VIPClientTickle(address: .v4(0x7f00_0001), port: a.port, log: { _ in })
        tickle.refresh()
        #expect(tickle.infoLines().contains("vip_clients:0"), "not holding the address: nothing published")
        tickle.setHolding(true)
        tickle.refresh()
        let lines = tickle.infoLines()
        #expect(lines.contains("vip_clients:1"))
        #expect(VIPClientTickle.parse(lines.joined(separator: "\r\n")) == peers)
        tickle.setHolding(false)
        #expect(tickle.infoLines().contains("vip_clients:0"), "left: nothing published")
        // An address not here has no clients.
        #expect(try listTCPPeers(localAddress: .v4(0x7f00_00fe), port: a.port).get().isEmpty)
    }

    @Test("peers print and parse as ip:port and [v6]:port; bad ones are refused")
    func peerText() {
        let v4 = TCPPeer(address: IPAddress("10.80.0.9")!, port: 51234)
        let v6 = TCPPeer(address: IPAddress("fd00::9")!, port: 443)
        #expect(v4.description == "10.80.0.9:51234" && TCPPeer(v4.description) == v4)
        #expect(v6.description == "[fd00::9]:443" && TCPPeer(v6.description) == v6)
        for bad in ["10.80.0.9", "10.80.0.9:0", "10.80.0.9:70000", "fd00::9:443", "[10.0.0.1]:5", "x:1", ""] {
            #expect(TCPPeer(bad) == nil, "\(bad)")
        }
        #expect(VIPClientTickle.parse("# Vipclients\r\nvip_clients:0\r\nvip_client_list:\r\n") == [])
        #expect(VIPClientTickle.parse("# Node\r\nnode_name:n1\r\n") == nil)
    }

    @Test("the segment is an ACK with sequence and acknowledgement 0 and a valid checksum, IPv4 and IPv6")
    func segment() throws {
        for (source, peer) in [(IPAddress("10.80.0.100")!, TCPPeer(address: IPAddress("10.80.0.9")!, port: 51234)),
                               (IPAddress("fd00::64")!, TCPPeer(address: IPAddress("fd00::9")!, port: 40000))] {
            let s = try #require(tcpTickleSegment(from: source, port: 6379, to: peer))
            #expect(s.count == 20)
            #expect(Int(s[0]) << 8 | Int(s[1]) == 6379 && Int(s[2]) << 8 | Int(s[3]) == peer.port)
            #expect(s[4..<12].allSatisfy { $0 == 0 }, "sequence and acknowledgement 0")
            #expect(s[12] == 0x50 && s[13] == 0x10, "5 words, ACK only")
            // The one's-complement sum over the pseudo-header and the segment, checksum included, is 0xffff.
            var pseudo = source.bytes + peer.address.bytes
            pseudo += source.family == .ipv4 ? [0, 6, 0, 20] : [0, 0, 0, 20, 0, 0, 0, 6]
            var sum: UInt32 = 0
            let all = pseudo + s
            for i in stride(from: 0, to: all.count, by: 2) { sum += UInt32(all[i]) << 8 | UInt32(all[i + 1]) }
            while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
            #expect(sum == 0xffff, "checksum of \(source)")
        }
        #expect(tcpTickleSegment(from: IPAddress("10.0.0.1")!, port: 1, to: TCPPeer(address: IPAddress("fd00::1")!, port: 2)) == nil)
    }

    @Test("a new holder tickles the fresh lists' clients of its address's family only (the core's book, VIPClientBookTests, decides the rest)")
    func targets() {
        let tickle = VIPClientTickle(address: IPAddress("10.80.0.100")!, port: 6379, log: { _ in })
        let c1 = TCPPeer(address: IPAddress("10.80.0.9")!, port: 1000)
        let c2 = TCPPeer(address: IPAddress("10.80.0.9")!, port: 1001)
        let c3 = TCPPeer(address: IPAddress("10.80.0.8")!, port: 1002)
        tickle.heard(node: "n1", peers: [c1, c2, TCPPeer(address: IPAddress("fd00::9")!, port: 5)], at: 10_000)
        tickle.heard(node: "n3", peers: [c2, c3], at: 1_000)
        #expect(tickle.targets(now: 11_000) == [c1, c2, c3])
        // n3's list is older than `freshFor` at 31 s: only n1's.
        #expect(tickle.targets(now: 1_000 + VIPClientBook<TCPPeer>.freshFor + 1) == [c1, c2])
        let v6 = VIPClientTickle(address: IPAddress("fd00::64")!, port: 6379, log: { _ in })
        v6.heard(node: "n1", peers: [c1, TCPPeer(address: IPAddress("fd00::9")!, port: 5)], at: 0)
        #expect(v6.targets(now: 0) == [TCPPeer(address: IPAddress("fd00::9")!, port: 5)])
    }
}
