import NIOCore
import RESP
import Testing

@Suite("Malformed RESP gets a protocol error, never a crash")
struct RESPMalformedTests {
    /// Feeds `wire` to a request decoder as one read, then signals EOF.
    static func requestError(_ wire: [UInt8], limits: RESPLimits = .default) -> RESPProtocolError? {
        var decoder = RESPRequestDecoder(limits: limits)
        var buffer = ByteBuffer(bytes: wire)
        do {
            while try decoder.decode(buffer: &buffer) != nil {}
            while try decoder.decodeLast(buffer: &buffer, seenEOF: true) != nil {}
            return nil
        } catch let error as RESPProtocolError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    static func replyError(_ wire: [UInt8], limits: RESPLimits = .default) -> RESPProtocolError? {
        do {
            _ = try RESPValueParser.parseReplies(ByteBuffer(bytes: wire), limits: limits)
            return nil
        } catch {
            return error
        }
    }

    static let requestCases: [(String, [UInt8], String)] = [
        ("non-numeric multibulk length", Array("*x\r\n".utf8), "Protocol error: invalid multibulk length"),
        ("multibulk length with plus sign", Array("*+1\r\n".utf8), "Protocol error: invalid multibulk length"),
        ("multibulk length with leading zero", Array("*01\r\n".utf8), "Protocol error: invalid multibulk length"),
        ("multibulk length over INT_MAX", Array("*2147483648\r\n".utf8), "Protocol error: invalid multibulk length"),
        ("multibulk length overflowing 64 bits", Array("*99999999999999999999\r\n".utf8), "Protocol error: invalid multibulk length"),
        ("wrong type byte for an argument", Array("*1\r\n:1\r\n".utf8), "Protocol error: expected '$', got ':'"),
        ("negative bulk length", Array("*1\r\n$-1\r\n".utf8), "Protocol error: invalid bulk length"),
        ("negative bulk length other than -1", Array("*1\r\n$-5\r\n".utf8), "Protocol error: invalid bulk length"),
        ("bulk length over 512 MB", Array("*1\r\n$536870913\r\n".utf8), "Protocol error: invalid bulk length"),
        ("bulk length of 2 GB", Array("*1\r\n$2147483648\r\n".utf8), "Protocol error: invalid bulk length"),
        ("non-numeric bulk length", Array("*1\r\n$abc\r\n".utf8), "Protocol error: invalid bulk length"),
        ("CR without LF in the header", Array("*1\rX$4\r\nPING\r\n".utf8), "Protocol error: CR not followed by LF"),
        ("CR without LF in an argument header", Array("*1\r\n$4\rXPING\r\n".utf8), "Protocol error: CR not followed by LF"),
        ("bulk payload not followed by CRLF", Array("*1\r\n$4\r\nPINGXX".utf8), "Protocol error: bulk string not terminated by CRLF"),
        ("multibulk count line without CR over 64 KB", Array(("*" + String(repeating: "1", count: 70_000)).utf8), "Protocol error: too big mbulk count string"),
        ("bulk count line without CR over 64 KB", Array(("*1\r\n$" + String(repeating: "1", count: 70_000)).utf8), "Protocol error: too big bulk count string"),
        ("inline line over 64 KB", Array(String(repeating: "a", count: 70_000).utf8), "Protocol error: too big inline request"),
        ("inline line over 64 KB with its newline", Array((String(repeating: "a", count: 70_000) + "\r\n").utf8), "Protocol error: too big inline request"),
        ("unbalanced double quote", Array("SET k \"abc\r\n".utf8), "Protocol error: unbalanced quotes in request"),
        ("unbalanced single quote", Array("SET k 'abc\r\n".utf8), "Protocol error: unbalanced quotes in request"),
        ("closing quote followed by a letter", Array("SET k \"a\"b\r\n".utf8), "Protocol error: unbalanced quotes in request"),
        ("truncated command at end of stream", Array("*2\r\n$3\r\nGET\r\n$1\r\n".utf8), "Protocol error: connection closed inside a command"),
    ]

    @Test("request table", arguments: requestCases.indices)
    func request(index: Int) {
        let (name, wire, message) = Self.requestCases[index]
        let error = Self.requestError(wire)
        #expect(error?.message == message, "\(name)")
    }

    static let replyCases: [(String, [UInt8], String)] = [
        ("unknown type byte", Array("?x\r\n".utf8), "Protocol error, got \"?\" as reply type byte"),
        ("NUL type byte", [0, 13, 10], "Protocol error, got \"\\x00\" as reply type byte"),
        ("non-numeric integer", Array(":12a\r\n".utf8), "Bad integer value"),
        ("integer overflow", Array(":9223372036854775808\r\n".utf8), "Bad integer value"),
        ("empty integer", Array(":\r\n".utf8), "Bad integer value"),
        ("negative bulk length other than -1", Array("$-2\r\n".utf8), "Bulk string length out of range"),
        ("non-numeric bulk length", Array("$x\r\n".utf8), "Bad bulk string length"),
        ("bulk length over the limit", Array("$536870913\r\n".utf8), "Bulk string length out of range"),
        ("negative array length other than -1", Array("*-2\r\n".utf8), "Multi-bulk length out of range"),
        ("null map", Array("%-1\r\n".utf8), "Multi-bulk length out of range"),
        ("non-numeric array length", Array("*1x\r\n".utf8), "Bad multi-bulk length"),
        ("bad double", Array(",1.2.3\r\n".utf8), "Bad double value"),
        ("hex double", Array(",0x10\r\n".utf8), "Bad double value"),
        ("bad bool", Array("#x\r\n".utf8), "Bad bool value"),
        ("bad null", Array("_x\r\n".utf8), "Bad nil value"),
        ("bad big number", Array("(12a\r\n".utf8), "Bad bignum value"),
        ("short verbatim", Array("=3\r\ntxt\r\n".utf8), "Verbatim string 4 bytes of content type are missing or incorrectly encoded."),
        ("CR without LF", Array("+OK\rX\r\n".utf8), "Protocol error: CR not followed by LF"),
        ("LF without CR inside a line", Array("+O\nK\r\n".utf8), "Protocol error: LF without CR inside a line"),
        ("bulk not terminated", Array("$2\r\nabcd\r\n".utf8), "Bad bulk string: not terminated by CRLF"),
        ("deep nesting", Array((String(repeating: "*1\r\n", count: 65) + ":1\r\n").utf8), "No support for nested multi bulk replies with depth > 64"),
        ("line over 64 KB", Array(("+" + String(repeating: "a", count: 70_000) + "\r\n").utf8), "Protocol error: line longer than 65536 bytes"),
        ("truncated", Array("*2\r\n:1\r\n".utf8), "Protocol error: input ends inside a reply"),
    ]

    @Test("reply table", arguments: replyCases.indices)
    func reply(index: Int) {
        let (name, wire, message) = Self.replyCases[index]
        #expect(Self.replyError(wire)?.message == message, "\(name)")
    }

    @Test("nesting at the limit is accepted; one deeper is not")
    func nestingLimit() throws {
        let limits = RESPLimits(maxDepth: 8)
        let atLimit = Array((String(repeating: "*1\r\n", count: 8) + ":1\r\n").utf8)
        #expect(Self.replyError(atLimit, limits: limits) == nil)
        let emptyAtLimit = Array((String(repeating: "*1\r\n", count: 8) + "*0\r\n").utf8)
        #expect(Self.replyError(emptyAtLimit, limits: limits) == nil, "an empty aggregate adds no depth")
        let over = Array((String(repeating: "*1\r\n", count: 9) + ":1\r\n").utf8)
        #expect(Self.replyError(over, limits: limits)?.message == "No support for nested multi bulk replies with depth > 8")
    }

    static let validStreams: [String] = [
        "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
        "*2\r\n%1\r\n+a\r\n~2\r\n:1\r\n,2.5\r\n|1\r\n+x\r\n+y\r\n$3\r\nabc\r\n",
        "=9\r\ntxt:hello\r\n",
        "$-1\r\n*-1\r\n_\r\n#t\r\n(12\r\n!3\r\nERR\r\n>1\r\n+p\r\n",
    ]

    @Test("every strict prefix of a valid reply is incomplete, and an error at end of input")
    func truncatedReplyAtEveryByte() throws {
        for stream in Self.validStreams {
            let bytes = Array(stream.utf8)
            for cut in 1..<bytes.count {
                var scanner = RESPFrameScanner(mode: .reply)
                let prefix = ByteBuffer(bytes: bytes[0..<cut])
                // A prefix may hold whole frames; the last frame in it must not be reported whole.
                var buffer = prefix
                var sawIncomplete = false
                while buffer.readableBytes > 0 {
                    switch try scanner.scan(buffer) {
                    case .frame(let length): buffer.moveReaderIndex(forwardBy: length)
                    case .incomplete: sawIncomplete = true; buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                    }
                }
                if sawIncomplete {
                    var decoder = RESPFrameDecoder()
                    var b = prefix
                    #expect(throws: RESPProtocolError.self, "cut at \(cut) of \(stream.debugDescription)") {
                        while try decoder.decode(buffer: &b) != nil {}
                        _ = try decoder.decodeLast(buffer: &b, seenEOF: true)
                    }
                }
            }
        }
    }

    @Test("every strict prefix of a valid command is an error at end of stream")
    func truncatedRequestAtEveryByte() {
        let bytes = Array("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n".utf8)
        for cut in 1..<bytes.count {
            let error = Self.requestError(Array(bytes[0..<cut]))
            #expect(error?.message == "Protocol error: connection closed inside a command", "cut at \(cut)")
        }
    }

    @Test("a hostile array length reserves no memory before the bytes arrive")
    func hostileLengthIsIncomplete() throws {
        var scanner = RESPFrameScanner(mode: .reply)
        #expect(try scanner.scan(ByteBuffer(string: "*2147483647\r\n:1\r\n")) == .incomplete)
        var request = RESPFrameScanner(mode: .request)
        #expect(try request.scan(ByteBuffer(string: "*1\r\n$536870912\r\nabc")) == .incomplete)
    }

    @Test("the request decoder skips empty commands and blank lines as Redis does")
    func emptyCommandsSkipped() throws {
        var decoder = RESPRequestDecoder()
        var buffer = ByteBuffer(string: "*0\r\n*-1\r\n\r\n   \n*1\r\n$4\r\nPING\r\n")
        let request = try decoder.decode(buffer: &buffer)
        #expect(request?.name == "PING")
        #expect(buffer.readableBytes == 0)
    }
}
