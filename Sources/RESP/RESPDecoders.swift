import NIOCore

/// A client's command as read from the wire.
public struct RESPRequest: Sendable, Hashable {
    /// The exact bytes the client sent for this command (multibulk or inline line with its
    /// newline), for forwarding without re-encoding.
    public var raw: ByteBuffer
    /// The arguments, the command name first. For multibulk requests these are slices of `raw`.
    public var arguments: [ByteBuffer]
    /// True when the client sent an inline command (telnet style).
    public var isInline: Bool

    public init(raw: ByteBuffer, arguments: [ByteBuffer], isInline: Bool) {
        self.raw = raw
        self.arguments = arguments
        self.isInline = isInline
    }

    /// The command name in upper case, e.g. `"GET"`.
    public var name: String {
        arguments.first.map { String(buffer: $0).uppercased() } ?? ""
    }
}

/// Decodes client commands (multibulk and inline) with Redis's limits and error texts.
/// Empty commands (`*0`, `*-1`, blank lines) are skipped, as Redis skips them.
public struct RESPRequestDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPRequest

    private var scanner: RESPFrameScanner
    private var inFrame = false

    public init(limits: RESPLimits = .default) {
        self.scanner = RESPFrameScanner(mode: .request, limits: limits)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPRequest? {
        while let first = buffer.readableBytesView.first {
            if !inFrame && first != UInt8(ascii: "*") {
                guard let request = try decodeInline(&buffer) else { return nil }
                if request.arguments.isEmpty { continue }
                return request
            }
            inFrame = true
            guard case .frame(let length) = try scanner.scan(buffer) else { return nil }
            inFrame = false
            let raw = buffer.readSlice(length: length)!
            let arguments = Self.arguments(ofMultibulk: raw)
            if arguments.isEmpty { continue }
            return RESPRequest(raw: raw, arguments: arguments, isInline: false)
        }
        return nil
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPRequest? {
        if let request = try decode(buffer: &buffer) { return request }
        if seenEOF && buffer.readableBytes > 0 {
            throw RESPProtocolError("Protocol error: connection closed inside a command", offset: buffer.readableBytes)
        }
        return nil
    }

    private func decodeInline(_ buffer: inout ByteBuffer) throws -> RESPRequest? {
        let view = buffer.readableBytesView
        let limit = scanner.limits.maxLineLength
        let newline = view.prefix(limit + 1).firstIndex(of: UInt8(ascii: "\n"))
        // Over the limit is an error whether or not the newline has arrived yet, so the outcome
        // does not depend on how the bytes were split into reads.
        guard let newline, newline - view.startIndex <= limit else {
            if buffer.readableBytes > limit {
                throw RESPProtocolError("Protocol error: too big inline request", offset: 0)
            }
            return nil
        }
        var end = newline
        if end > view.startIndex && view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        guard let words = splitInlineArguments(view[view.startIndex..<end]) else {
            throw RESPProtocolError("Protocol error: unbalanced quotes in request", offset: 0)
        }
        let raw = buffer.readSlice(length: newline - view.startIndex + 1)!
        return RESPRequest(raw: raw, arguments: words.map { ByteBuffer(bytes: $0) }, isInline: true)
    }

    /// Slices the arguments out of a multibulk frame the scanner has validated.
    static func arguments(ofMultibulk raw: ByteBuffer) -> [ByteBuffer] {
        var buffer = raw
        func line() -> Int? {
            guard let cr = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\r")) else { return nil }
            buffer.moveReaderIndex(forwardBy: 1)  // type byte
            let text = buffer.readString(length: cr - buffer.readerIndex) ?? ""
            buffer.moveReaderIndex(forwardBy: 2)
            return Int(text)
        }
        guard let count = line(), count > 0 else { return [] }
        var arguments: [ByteBuffer] = []
        arguments.reserveCapacity(min(count, raw.readableBytes / 4))
        for _ in 0..<count {
            guard let length = line(), let argument = buffer.readSlice(length: length) else { break }
            buffer.moveReaderIndex(forwardBy: 2)
            arguments.append(argument)
        }
        return arguments
    }
}

/// Splits a server's byte stream into whole reply frames, each the exact bytes of one reply,
/// without building values: what a proxy forwards.
public struct RESPFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private var scanner: RESPFrameScanner

    public init(limits: RESPLimits = .default) {
        self.scanner = RESPFrameScanner(mode: .reply, limits: limits)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard case .frame(let length) = try scanner.scan(buffer) else { return nil }
        return buffer.readSlice(length: length)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if seenEOF && buffer.readableBytes > 0 {
            throw RESPProtocolError("Protocol error: connection closed inside a reply", offset: buffer.readableBytes)
        }
        return nil
    }
}

/// Decodes a server's replies (RESP2 and RESP3) into values.
public struct RESPValueDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    private var frames: RESPFrameDecoder
    private let limits: RESPLimits

    public init(limits: RESPLimits = .default) {
        self.frames = RESPFrameDecoder(limits: limits)
        self.limits = limits
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        guard let frame = try frames.decode(buffer: &buffer) else { return nil }
        return try RESPValueParser.parseReply(frame, limits: limits)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        guard let frame = try frames.decodeLast(buffer: &buffer, seenEOF: seenEOF) else { return nil }
        return try RESPValueParser.parseReply(frame, limits: limits)
    }
}
