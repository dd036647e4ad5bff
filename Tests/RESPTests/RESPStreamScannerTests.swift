import NIOCore
import RESP
import Testing

@Suite("RESP stream scanner: frame ends in pieces, bounded memory")
struct RESPStreamScannerTests {
    /// Frame end offsets (in the whole stream) found by feeding `bytes` in pieces of `size`.
    static func ends(_ bytes: [UInt8], mode: RESPStreamScanner.Mode, pieces size: Int) throws -> [Int] {
        var scanner = RESPStreamScanner(mode: mode)
        var ends: [Int] = []
        var base = 0
        while base < bytes.count {
            let piece = ByteBuffer(bytes: bytes[base..<min(bytes.count, base + size)])
            var offset = 0
            while let end = try scanner.nextFrameEnd(in: piece, from: offset) {
                ends.append(base + end)
                offset = end
            }
            base += piece.readableBytes
        }
        return ends
    }

    /// The same, from the whole-frame scanner.
    static func referenceEnds(_ bytes: [UInt8], mode: RESPFrameScanner.Mode) throws -> [Int] {
        var scanner = RESPFrameScanner(mode: mode)
        var buffer = ByteBuffer(bytes: bytes)
        var ends: [Int] = []
        var consumed = 0
        while buffer.readableBytes > 0, case .frame(let length) = try scanner.scan(buffer) {
            consumed += length
            ends.append(consumed)
            buffer.moveReaderIndex(forwardBy: length)
        }
        return ends
    }

    @Test("reply frame ends agree with the whole-frame scanner for every piece size")
    func repliesAgree() throws {
        let stream = Array((RESPRoundTripTests.samples.map(\.0).joined() + RESPMalformedTests.validStreams.joined()).utf8)
        let expected = try Self.referenceEnds(stream, mode: .reply)
        #expect(expected.count > 30)
        for size in [1, 2, 3, 5, 7, 16, 64, stream.count] {
            #expect(try Self.ends(stream, mode: .reply, pieces: size) == expected, "pieces of \(size)")
        }
    }

    @Test("command ends and arguments, for arrays and inline commands, in any pieces")
    func requests() throws {
        let stream = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n*0\r\nPING x\r\n\r\n*1\r\n$4\r\nping\r\n".utf8)
        for size in [1, 2, 4, 9, stream.count] {
            #expect(try Self.ends(stream, mode: .request, pieces: size) == [30, 34, 42, 44, 58], "pieces of \(size)")
        }
        var scanner = RESPStreamScanner(mode: .request)
        let buffer = ByteBuffer(bytes: stream)
        _ = try scanner.nextFrameEnd(in: buffer, from: 0)
        #expect(scanner.arguments.map { Array($0) } == [Array("SET".utf8), Array("k".utf8), Array("a\r\nb".utf8)])
        #expect(scanner.argument(0, is: "set"))
        _ = try scanner.nextFrameEnd(in: buffer, from: 30)
        #expect(scanner.frameIsEmpty, "*0 is a command Redis skips")
        _ = try scanner.nextFrameEnd(in: buffer, from: 34)
        #expect(scanner.argumentCount == 2 && scanner.argument(1).map(Array.init) == Array("x".utf8))
        _ = try scanner.nextFrameEnd(in: buffer, from: 42)
        #expect(scanner.frameIsEmpty, "a blank line is skipped")
    }

    @Test("a 100 MB bulk string passes in pieces while the scanner keeps only what it captures")
    func largeValueBoundedMemory() throws {
        var scanner = RESPStreamScanner(mode: .request, captureLimit: 4096)
        let length = 100 << 20
        var header = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$\(length)\r\n")
        #expect(try scanner.nextFrameEnd(in: header, from: 0) == nil)
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<100 {
            #expect(try scanner.nextFrameEnd(in: chunk, from: 0) == nil)
        }
        header = ByteBuffer(string: "\r\n")
        #expect(try scanner.nextFrameEnd(in: header, from: 0) == 2)
        #expect(scanner.argumentCount == 3)
        #expect(!scanner.argumentsComplete, "the value was not kept")
        #expect(scanner.argument(1, is: "big"))
    }

    @Test("malformed commands the whole-frame scanner rejects are rejected by the stream scanner too",
          arguments: RESPMalformedTests.requestCases.indices)
    func malformedRequests(index: Int) {
        let (name, wire, _) = RESPMalformedTests.requestCases[index]
        let reference = RESPMalformedTests.requestError(wire)
        var scanner = RESPStreamScanner(mode: .request)
        var streamError: RESPProtocolError?
        do {
            var offset = 0
            let buffer = ByteBuffer(bytes: wire)
            while let end = try scanner.nextFrameEnd(in: buffer, from: offset) { offset = end }
        } catch {
            streamError = error
        }
        if let reference, reference.message != "Protocol error: connection closed inside a command" {
            #expect(streamError != nil, "\(name): the stream scanner accepted \(wire)")
        }
    }

    @Test("random cuts of random replies never crash and agree with the whole-frame scanner")
    func fuzzAgreement() throws {
        var rng = SystemRandomNumberGenerator()
        let pieces = RESPRoundTripTests.samples.map(\.0)
        for _ in 0..<300 {
            let stream = Array((0..<8).map { _ in pieces.randomElement(using: &rng)! }.joined().utf8)
            let expected = try Self.referenceEnds(stream, mode: .reply)
            let size = Int.random(in: 1...16, using: &rng)
            #expect(try Self.ends(stream, mode: .reply, pieces: size) == expected)
            // A flipped byte: both scanners may reject it, but the stream scanner never crashes.
            var damaged = stream
            damaged[Int.random(in: 0..<damaged.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            _ = try? Self.ends(damaged, mode: .reply, pieces: size)
        }
    }
}
