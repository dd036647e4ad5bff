import Logging
import NIOCore
import NIOEmbedded
@testable import Proxy
import RESP
import Testing

/// The shell around `ProxySession` on an `EmbeddedChannel`: bytes in, bytes out, virtual time.
/// No master is ever published, so no backend connection is opened.
@Suite("ClientSession conversations on an EmbeddedChannel")
struct ClientSessionTests {
    /// A client connected to a proxy loop that knows no master.
    final class Conversation {
        let eventLoop = EmbeddedEventLoop()
        let proxyLoop: ProxyLoop
        let channel: EmbeddedChannel

        init(holdMs: Int64 = 200) throws {
            var settings = ProxySettings(listen: [], discovery: .sentinel(sentinels: [], masterName: "mymaster"))
            settings.hold = .milliseconds(holdMs)
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let router = ProxyRouter(settings: settings, logger: logger)
            proxyLoop = ProxyLoop(eventLoop: eventLoop, context: ProxyContext(settings: settings, logger: logger, router: router))
            channel = EmbeddedChannel(handler: ClientSession(loop: proxyLoop), loop: eventLoop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
            eventLoop.run()
        }

        /// Everything written to the client so far.
        func received() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }

        deinit {
            _ = try? channel.finish()
        }
    }

    @Test("QUIT: +OK, then the proxy closes the connection")
    func quit() throws {
        let c = try Conversation()
        try c.send("*1\r\n$4\r\nQUIT\r\n")
        #expect(try c.received() == "+OK\r\n")
        #expect(!c.channel.isActive)
    }

    @Test("malformed input: Redis's protocol error, then close")
    func malformed() throws {
        let c = try Conversation()
        try c.send("*1\r\n$x\r\n")
        #expect(try c.received().hasPrefix("-ERR Protocol error"))
        #expect(!c.channel.isActive)
    }

    @Test("no master: a command is held for the hold time, then gets -MASTERDOWN; the connection stays open")
    func heldThenMasterDown() throws {
        let c = try Conversation(holdMs: 200)
        try c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        #expect(try c.received() == "")
        c.eventLoop.advanceTime(by: .milliseconds(199))
        #expect(try c.received() == "", "held")
        c.eventLoop.advanceTime(by: .milliseconds(1))
        #expect(try c.received() == "-MASTERDOWN Tandem proxy: no master for 'mymaster' within 200 ms\r\n")
        #expect(c.channel.isActive)
        #expect(c.proxyLoop.counters.heldTimeouts == 1 && c.proxyLoop.counters.proxyErrors == 1)
    }

    @Test("INFO proxy is answered by the proxy itself, in order with QUIT")
    func infoProxy() throws {
        let c = try Conversation()
        try c.send("*2\r\n$4\r\nINFO\r\n$5\r\nproxy\r\n*1\r\n$4\r\nQUIT\r\n")
        let text = try c.received()
        #expect(text.hasPrefix("$") && text.contains("# Proxy") && text.hasSuffix("\r\n+OK\r\n"), "\(text)")
        #expect(!c.channel.isActive)
    }
}
