import NIOCore

/// Builds `RESPValue`s from frames that `RESPFrameScanner` has delimited.
///
/// Validation is the scanner's job; the parser still checks every access so a frame that was
/// not scanned gives an error, never a crash.
public enum RESPValueParser {
    /// Parses the one complete reply frame in `frame` (as delimited by a `.reply` scanner).
    public static func parseReply(_ frame: ByteBuffer, limits: RESPLimits = .default) throws(RESPProtocolError) -> RESPValue {
        var buffer = frame
        let start = buffer.readerIndex
        let value = try parseValue(&buffer, depth: 0, limits: limits, frameStart: start)
        guard buffer.readableBytes == 0 else {
            throw RESPProtocolError("Protocol error: trailing bytes after the reply", offset: buffer.readerIndex - start)
        }
        return value
    }

    /// Scans and parses every complete reply in `bytes`; throws when a frame is malformed or
    /// the input ends inside a frame. Convenient for tests and one-shot decoding.
    public static func parseReplies(_ bytes: ByteBuffer, limits: RESPLimits = .default) throws(RESPProtocolError) -> [RESPValue] {
        var buffer = bytes
        var scanner = RESPFrameScanner(mode: .reply, limits: limits)
        var values: [RESPValue] = []
        while buffer.readableBytes > 0 {
            guard case .frame(let length) = try scanner.scan(buffer), let frame = buffer.readSlice(length: length) else {
                throw RESPProtocolError("Protocol error: input ends inside a reply", offset: buffer.readerIndex)
            }
            values.append(try parseReply(frame, limits: limits))
        }
        return values
    }

    private static func fail(_ message: String, _ buffer: ByteBuffer, _ start: Int) -> RESPProtocolError {
        RESPProtocolError(message, offset: buffer.readerIndex - start)
    }

    /// Reads up to CRLF and returns the line without it.
    private static func readLine(_ buffer: inout ByteBuffer, _ start: Int) throws(RESPProtocolError) -> ByteBuffer {
        guard let cr = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\r")) else {
            throw fail("Protocol error: line without CRLF", buffer, start)
        }
        let length = cr - buffer.readerIndex
        guard let line = buffer.readSlice(length: length),
              buffer.readInteger(as: UInt16.self) == 0x0d0a else {
            throw fail("Protocol error: CR not followed by LF", buffer, start)
        }
        return line
    }

    private static func readInteger(_ buffer: inout ByteBuffer, _ start: Int, _ what: String) throws(RESPProtocolError) -> Int64 {
        let line = try readLine(&buffer, start)
        let value = line.withUnsafeReadableBytes { RESPFrameScanner.parseInteger($0) }
        guard let value else { throw fail(what, buffer, start) }
        return value
    }

    private static func readBulk(_ buffer: inout ByteBuffer, length: Int64, _ start: Int, limits: RESPLimits) throws(RESPProtocolError) -> ByteBuffer {
        guard length >= 0, length <= Int64(limits.maxBulkLength),
              let payload = buffer.readSlice(length: Int(length)),
              buffer.readInteger(as: UInt16.self) == 0x0d0a else {
            throw fail("Bad bulk string length", buffer, start)
        }
        return payload
    }

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int, limits: RESPLimits, frameStart start: Int) throws(RESPProtocolError) -> RESPValue {
        guard let type = buffer.readInteger(as: UInt8.self) else {
            throw fail("Protocol error: input ends inside a reply", buffer, start)
        }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(try readLine(&buffer, start))
        case UInt8(ascii: "-"): return .simpleError(try readLine(&buffer, start))
        case UInt8(ascii: ":"): return .integer(try readInteger(&buffer, start, "Bad integer value"))
        case UInt8(ascii: "_"):
            guard try readLine(&buffer, start).readableBytes == 0 else { throw fail("Bad nil value", buffer, start) }
            return .null
        case UInt8(ascii: "#"):
            let line = try readLine(&buffer, start)
            switch line.readableBytesView.first {
            case UInt8(ascii: "t") where line.readableBytes == 1: return .boolean(true)
            case UInt8(ascii: "f") where line.readableBytes == 1: return .boolean(false)
            default: throw fail("Bad bool value", buffer, start)
            }
        case UInt8(ascii: ","):
            let line = try readLine(&buffer, start)
            guard let d = line.withUnsafeReadableBytes({ RESPFrameScanner.parseDouble($0) }) else {
                throw fail("Bad double value", buffer, start)
            }
            return .double(d)
        case UInt8(ascii: "("):
            let line = try readLine(&buffer, start)
            guard line.withUnsafeReadableBytes({ RESPFrameScanner.isBigNumber($0) }) else { throw fail("Bad bignum value", buffer, start) }
            return .bigNumber(line)
        case UInt8(ascii: "$"):
            let length = try readInteger(&buffer, start, "Bad bulk string length")
            if length == -1 { return .nullBulkString }
            return .bulkString(try readBulk(&buffer, length: length, start, limits: limits))
        case UInt8(ascii: "!"):
            let length = try readInteger(&buffer, start, "Bad bulk string length")
            return .blobError(try readBulk(&buffer, length: length, start, limits: limits))
        case UInt8(ascii: "="):
            let length = try readInteger(&buffer, start, "Bad bulk string length")
            return .verbatimString(try readBulk(&buffer, length: length, start, limits: limits))
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            let count = try readInteger(&buffer, start, "Bad multi-bulk length")
            if count == -1 && type == UInt8(ascii: "*") { return .nullArray }
            let elements = try parseElements(&buffer, count: count, depth: depth, limits: limits, start)
            switch type {
            case UInt8(ascii: "*"): return .array(elements)
            case UInt8(ascii: "~"): return .set(elements)
            default: return .push(elements)
            }
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try readInteger(&buffer, start, "Bad multi-bulk length")
            guard count >= 0, count <= Int64(limits.maxAggregateLength) else { throw fail("Multi-bulk length out of range", buffer, start) }
            let flat = try parseElements(&buffer, count: count * 2, depth: depth, limits: limits, start)
            let pairs = stride(from: 0, to: flat.count, by: 2).map { RESPPair(key: flat[$0], value: flat[$0 + 1]) }
            if type == UInt8(ascii: "%") { return .map(pairs) }
            let value = try parseValue(&buffer, depth: depth, limits: limits, frameStart: start)
            return .attributed(attributes: pairs, value: value)
        default:
            throw fail("Protocol error, got \"\(RESPFrameScanner.render(type))\" as reply type byte", buffer, start)
        }
    }

    private static func parseElements(_ buffer: inout ByteBuffer, count: Int64, depth: Int, limits: RESPLimits, _ start: Int) throws(RESPProtocolError) -> [RESPValue] {
        guard count >= 0, count <= Int64(limits.maxAggregateLength) * 2 else { throw fail("Multi-bulk length out of range", buffer, start) }
        // Like the scanner, count a level only when it holds something: `*0` adds no depth.
        guard count == 0 || depth < limits.maxDepth else {
            throw fail("No support for nested multi bulk replies with depth > \(limits.maxDepth)", buffer, start)
        }
        var elements: [RESPValue] = []
        // Each element takes at least 3 bytes, so a hostile count cannot reserve more than the input.
        elements.reserveCapacity(min(Int(count), buffer.readableBytes / 3))
        for _ in 0..<count {
            elements.append(try parseValue(&buffer, depth: depth + 1, limits: limits, frameStart: start))
        }
        return elements
    }
}
