import NIOCore
import NIOTestUtils
import RESP
import Testing

@Suite("RESP values: encode, scan, parse")
struct RESPRoundTripTests {
    static let samples: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR unknown command 'FOO'\r\n", .simpleError("ERR unknown command 'FOO'")),
        (":0\r\n", .integer(0)),
        (":-9223372036854775808\r\n", .integer(.min)),
        (":9223372036854775807\r\n", .integer(.max)),
        ("$5\r\nhello\r\n", .bulkString("hello")),
        ("$0\r\n\r\n", .bulkString("")),
        ("$4\r\na\r\nb\r\n", .bulkString("a\r\nb")),
        ("$-1\r\n", .nullBulkString),
        ("*-1\r\n", .nullArray),
        ("*0\r\n", .array([])),
        ("*2\r\n$3\r\nfoo\r\n:1\r\n", .array([.bulkString("foo"), .integer(1)])),
        ("*2\r\n*1\r\n+a\r\n*0\r\n", .array([.array([.simpleString("a")]), .array([])])),
        ("_\r\n", .null),
        (",3.5\r\n", .double(3.5)),
        (",inf\r\n", .double(.infinity)),
        (",-inf\r\n", .double(-.infinity)),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        ("!21\r\nSYNTAX invalid syntax\r\n", .blobError(ByteBuffer(string: "SYNTAX invalid syntax"))),
        ("=15\r\ntxt:Some string\r\n", .verbatimString(ByteBuffer(string: "txt:Some string"))),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber(ByteBuffer(string: "3492890328409238509324850943850943825024385"))),
        ("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", .map([
            RESPPair(key: .simpleString("first"), value: .integer(1)),
            RESPPair(key: .simpleString("second"), value: .integer(2)),
        ])),
        ("~2\r\n+a\r\n+b\r\n", .set([.simpleString("a"), .simpleString("b")])),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n", .push([.bulkString("message"), .bulkString("ch"), .bulkString("x")])),
        ("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.5\r\n*1\r\n:7\r\n", .attributed(
            attributes: [RESPPair(key: .simpleString("key-popularity"), value: .map([RESPPair(key: .bulkString("a"), value: .double(0.5))]))],
            value: .array([.integer(7)]))),
        ("*2\r\n|0\r\n:1\r\n:2\r\n", .array([.attributed(attributes: [], value: .integer(1)), .integer(2)])),
    ]

    @Test("parses each sample to the expected value", arguments: 0..<samples.count)
    func parse(index: Int) throws {
        let (wire, expected) = Self.samples[index]
        let values = try RESPValueParser.parseReplies(ByteBuffer(string: wire))
        // .attributed with zero attributes encodes as "|0" which we keep; compare structurally.
        #expect(values == [expected])
    }

    @Test("encoding a parsed sample gives back the same bytes", arguments: 0..<samples.count)
    func encode(index: Int) throws {
        let (wire, value) = Self.samples[index]
        var out = ByteBuffer()
        out.writeRESPValue(value)
        #expect(String(buffer: out) == wire)
    }

    @Test("the frame decoder yields each reply's exact bytes")
    func rawFrames() throws {
        let wire = Self.samples.map(\.0).joined()
        var buffer = ByteBuffer(string: wire)
        var decoder = RESPFrameDecoder()
        var frames: [String] = []
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(String(buffer: frame)) }
        #expect(frames == Self.samples.map(\.0))
        #expect(buffer.readableBytes == 0)
    }

    @Test("decoders pass NIO's verifier: byte by byte, whole and batched")
    func verifier() throws {
        let pairs = Self.samples.map { (wire, value) in (ByteBuffer(string: wire), [value]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { RESPValueDecoder() }

        let framePairs = Self.samples.map { (wire, _) in (ByteBuffer(string: wire), [ByteBuffer(string: wire)]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: framePairs) { RESPFrameDecoder() }

        let requests: [(String, [String])] = [
            ("*1\r\n$4\r\nPING\r\n", ["PING"]),
            ("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n", ["SET", "key", "va\r\nl"]),
            ("PING\r\n", ["PING"]),
            ("set k \"a b\\x41\"\n", ["set", "k", "a bA"]),
            ("  get   'it\\'s'\r\n", ["get", "it's"]),
        ]
        let requestPairs = requests.map { (wire, args) in
            (ByteBuffer(string: wire), [RESPRequest(raw: ByteBuffer(string: wire), arguments: args.map { ByteBuffer(string: $0) }, isInline: !wire.hasPrefix("*"))])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: requestPairs) { RESPRequestDecoder() }
    }

    @Test("a large bulk string fed in small pieces is scanned in linear time and decoded whole")
    func largeBulkIncremental() throws {
        let payload = String(repeating: "x", count: 1_000_000)
        let wire = "$\(payload.utf8.count)\r\n\(payload)\r\n"
        var decoder = RESPFrameDecoder()
        var buffer = ByteBuffer()
        var produced: ByteBuffer?
        var fed = 0
        for chunk in Array(wire.utf8).chunks(of: 4096) {
            buffer.writeBytes(chunk)
            fed += chunk.count
            if let frame = try decoder.decode(buffer: &buffer) {
                #expect(fed == wire.utf8.count, "a frame appeared before all bytes arrived")
                produced = frame
            }
        }
        #expect(produced?.readableBytes == wire.utf8.count)
    }

    @Test("command encoding matches what redis-cli sends")
    func commandEncoding() {
        var out = ByteBuffer()
        out.writeRESPCommand(["SET", "k", "välue"])
        #expect(String(buffer: out) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n")
    }

    @Test("accessors read strings, integers, arrays and error codes")
    func accessors() throws {
        let values = try RESPValueParser.parseReplies(ByteBuffer(string: "-NOAUTH Authentication required.\r\n=9\r\ntxt:hello\r\n$2\r\n42\r\n*4\r\n+a\r\n:1\r\n+b\r\n:2\r\n"))
        #expect(values[0].errorCode == "NOAUTH")
        #expect(values[0].errorMessage == "NOAUTH Authentication required.")
        #expect(values[1].string == "hello")
        #expect(values[2].int == 42)
        #expect(values[3].pairs?.count == 2)
        #expect(values[3].pairs?.first?.key.string == "a")
    }
}

extension Array {
    func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
