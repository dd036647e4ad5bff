import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import TandemMetrics

/// The `--http` handler's routes on an in-memory channel: the status page, HEAD, 405, 404,
/// and a request that is not HTTP.
@Suite struct HTTPRoutesTests {
    /// Writes `request` into a fresh connection; what the server wrote back and whether the
    /// connection is still open.
    func exchange(_ request: String, status: StatusPageSource? = StatusPageSource(daemon: "proxy")) throws -> (response: String, open: Bool) {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: MetricsRegistry(), status: status))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: request))
        var out = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(var b) = data { out += b.readString(length: b.readableBytes) ?? "" }
        }
        let open = channel.isActive
        _ = try? channel.finish()
        return (out, open)
    }

    @Test func thePageIsSelfContainedHTML() throws {
        let (response, open) = try exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.contains("Content-Type: text/html; charset=utf-8\r\n"))
        #expect(response.contains("Cache-Control: no-store\r\n"))
        #expect(response.contains("<!doctype html>"))
        #expect(response.contains("fetch(\"status.json\""))
        #expect(open, "HTTP/1.1 keeps the connection")
        #expect(try exchange("GET /index.html?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").response.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test func headHasTheLengthAndNoBody() throws {
        let (response, _) = try exchange("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let length = Array(StatusPageHTML.page.utf8).count
        #expect(response.contains("Content-Length: \(length)\r\n"))
        #expect(response.hasSuffix("\r\n\r\n"))
    }

    @Test func anotherMethodIs405AndAnotherPath404() throws {
        let post = try exchange("POST /status.json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").response
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(post.contains("Allow: GET, HEAD\r\n"))
        #expect(try exchange("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(try exchange("DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n").response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        // Without a status source (nothing to show) the page is not there either.
        #expect(try exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: nil).response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
    }

    @Test func notHTTPIs400AndTheConnectionCloses() throws {
        let (response, open) = try exchange("GARBAGE\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(!open)
    }
}
