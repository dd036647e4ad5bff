@testable import Node
import Synchronization
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
