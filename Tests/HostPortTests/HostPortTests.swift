import HostPort
import Testing

@Suite("HOST:PORT as --http and the config keys take it")
struct HostPortTests {
    @Test("hosts, bracketed IPv6 hosts and ports in range are read; anything else is refused")
    func reading() throws {
        let v4 = try #require(HostPort("127.0.0.1:9121"))
        #expect(v4.host == "127.0.0.1" && v4.port == 9121 && v4.description == "127.0.0.1:9121")
        let v6 = try #require(HostPort("[::1]:9121"))
        #expect(v6.host == "::1" && v6.port == 9121 && v6.description == "[::1]:9121")
        #expect(HostPort("localhost:1")?.host == "localhost")
        #expect(HostPort("h:65535")?.port == 65535)
        for bad in ["9121", ":9121", "h:", "h:x", "h:0", "h:65536", "h:-1", "h: 80", "::1:9121", "[::1:9121",
                    "::1]:9121", "[]:9121", "h]:80", "h:+80", ""] {
            #expect(HostPort(bad) == nil, "\(bad)")
        }
        // `--http` also takes port 0 (any free port).
        #expect(HostPort("127.0.0.1:0") == nil)
        #expect(HostPort("127.0.0.1:0", ports: 0...65535)?.port == 0)
    }
}
