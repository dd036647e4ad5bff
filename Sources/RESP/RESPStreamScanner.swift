import NIOCore

/// Finds where RESP frames end in a byte stream that is read in pieces, without keeping the
/// bytes: a proxy forwards each piece as soon as it has looked at it.
///
/// Unlike `RESPFrameScanner`, which needs the whole frame in one buffer, this scanner keeps
/// only a header line that spans two reads (at most `limits.maxLineLength` bytes) and, in
/// request mode, the command's arguments up to `captureLimit` bytes, so a 500 MB value
/// passes through in bounded memory. Bulk payloads are skipped, not examined.
public struct RESPStreamScanner: Sendable {
    /// What the bytes are expected to be.
    public enum Mode: Sendable, Hashable {
        /// Anything a RESP2 or RESP3 server sends.
        case reply
        /// Client commands: arrays of bulk strings, or inline lines.
        case request
    }

    private enum Phase: Sendable {
        case start
        case header(type: UInt8)
        case payload(remaining: Int)
        case payloadCR
        case payloadLF
        case inline
    }

    private struct Level: Sendable {
        var remaining: Int
        var isAttribute: Bool
    }

    public let mode: Mode
    public let limits: RESPLimits
    /// Arguments of a command are kept while their total size stays within this.
    public let captureLimit: Int

    private var phase: Phase = .start
    private var line: [UInt8] = []
    private var stack: [Level] = []
    private var capturing = false
    private var capture: [UInt8] = []
    private var captureEnds: [Int] = []

    /// The type byte of the last frame that began (RESP3 attributes skipped; 0 for inline).
    public private(set) var frameType: UInt8 = 0
    /// Request mode: the number of arguments of the last command.
    public private(set) var argumentCount = 0
    /// Request mode: whether every argument of the last command was kept.
    public private(set) var argumentsComplete = true
    /// Request mode: the last frame was empty (`*0`, `*-1`, a blank inline line); Redis
    /// ignores those without replying.
    public var frameIsEmpty: Bool { mode == .request && argumentCount == 0 }
    /// Whether the scanner is in the middle of a frame.
    public var isInsideFrame: Bool {
        if case .start = phase { return false }
        return true
    }

    public init(mode: Mode, limits: RESPLimits = .default, captureLimit: Int = 4096) {
        self.mode = mode
        self.limits = limits
        self.captureLimit = captureLimit
    }

    /// Request mode: the `index`th argument of the last command, when it was kept.
    public func argument(_ index: Int) -> ArraySlice<UInt8>? {
        guard index < captureEnds.count else { return nil }
        let start = index == 0 ? 0 : captureEnds[index - 1]
        return capture[start..<captureEnds[index]]
    }

    /// Request mode: all kept arguments of the last command.
    public var arguments: [ArraySlice<UInt8>] {
        (0..<captureEnds.count).map { argument($0)! }
    }

    /// Request mode: whether argument `index` equals `word`, ignoring ASCII case.
    public func argument(_ index: Int, is word: StaticString) -> Bool {
        guard let arg = argument(index), arg.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { w in
            var i = arg.startIndex
            for c in w {
                var a = arg[i]
                if a >= 0x61 && a <= 0x7a { a -= 0x20 }
                var b = c
                if b >= 0x61 && b <= 0x7a { b -= 0x20 }
                if a != b { return false }
                i += 1
            }
            return true
        }
    }

    /// Forgets any partial frame.
    public mutating func reset() {
        phase = .start
        line.removeAll(keepingCapacity: true)
        stack.removeAll(keepingCapacity: true)
        capturing = false
    }

    /// Scans `buffer`'s readable bytes from `offset` (relative to the reader index) and
    /// returns the offset just past the next frame that ends in them, or nil when they are all
    /// consumed without finishing one. Call again from the returned offset for more.
    public mutating func nextFrameEnd(in buffer: ByteBuffer, from offset: Int) throws(RESPProtocolError) -> Int? {
        let result = buffer.withUnsafeReadableBytes { bytes in self.next(bytes, from: offset) }
        switch result {
        case .success(let end): return end
        case .failure(let error):
            reset()
            throw error
        }
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    private mutating func next(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Result<Int?, RESPProtocolError> {
        var i = start
        let n = bytes.count
        while i < n {
            switch phase {
            case .start:
                let type = bytes[i]
                i += 1
                if stack.isEmpty { beginFrame(type: type) }
                if mode == .request && stack.isEmpty && type != UInt8(ascii: "*") {
                    line.removeAll(keepingCapacity: true)
                    line.append(type)
                    if type == Self.lf {
                        // A blank inline line: the whole frame is this newline.
                        if let error = finishInline() { return .failure(error) }
                        return .success(i)
                    }
                    phase = .inline
                } else {
                    line.removeAll(keepingCapacity: true)
                    phase = .header(type: type)
                }
            case .inline:
                let rest = UnsafeRawBufferPointer(rebasing: bytes[i..<n])
                if let lfIndex = rest.firstIndex(of: Self.lf) {
                    guard line.count + lfIndex <= limits.maxLineLength else {
                        return .failure(RESPProtocolError("Protocol error: too big inline request", offset: i))
                    }
                    line.append(contentsOf: rest[0..<lfIndex])
                    i += lfIndex + 1
                    if let error = finishInline() { return .failure(error) }
                    return .success(i)
                }
                guard line.count + rest.count <= limits.maxLineLength else {
                    return .failure(RESPProtocolError("Protocol error: too big inline request", offset: i))
                }
                line.append(contentsOf: rest)
                i = n
            case .header(let type):
                let rest = UnsafeRawBufferPointer(rebasing: bytes[i..<n])
                guard let lfIndex = rest.firstIndex(of: Self.lf) else {
                    guard line.count + rest.count <= limits.maxLineLength + 1 else {
                        return .failure(RESPProtocolError(tooLongLineMessage, offset: i))
                    }
                    line.append(contentsOf: rest)
                    i = n
                    continue
                }
                guard line.count + lfIndex <= limits.maxLineLength + 1 else {
                    return .failure(RESPProtocolError(tooLongLineMessage, offset: i))
                }
                let position = i
                i += lfIndex + 1
                let outcome: RESPProtocolError?
                if line.isEmpty {
                    outcome = header(type: type, UnsafeRawBufferPointer(rebasing: rest[0..<lfIndex]), at: position)
                } else {
                    line.append(contentsOf: rest[0..<lfIndex])
                    let collected = line
                    outcome = collected.withUnsafeBytes { header(type: type, $0, at: position) }
                }
                if let outcome { return .failure(outcome) }
                if case .header = phase {
                    // The item is whole (a simple type or an empty aggregate).
                    phase = .start
                    if completeElement() { return .success(i) }
                }
            case .payload(let remaining):
                let take = min(remaining, n - i)
                if capturing, take > 0, let base = bytes.baseAddress {
                    capture.append(contentsOf: UnsafeBufferPointer(start: (base + i).assumingMemoryBound(to: UInt8.self), count: take))
                }
                i += take
                phase = remaining - take == 0 ? .payloadCR : .payload(remaining: remaining - take)
            case .payloadCR:
                guard bytes[i] == Self.cr else { return .failure(unterminatedBulk(at: i)) }
                i += 1
                phase = .payloadLF
            case .payloadLF:
                guard bytes[i] == Self.lf else { return .failure(unterminatedBulk(at: i)) }
                i += 1
                if capturing {
                    captureEnds.append(capture.count)
                    capturing = false
                }
                phase = .start
                if completeElement() { return .success(i) }
            }
        }
        return .success(nil)
    }

    private mutating func beginFrame(type: UInt8) {
        if type != UInt8(ascii: "|") { frameType = mode == .request && type != UInt8(ascii: "*") ? 0 : type }
        if mode == .request {
            argumentCount = 0
            argumentsComplete = true
            capture.removeAll(keepingCapacity: true)
            captureEnds.removeAll(keepingCapacity: true)
        }
    }

    private func unterminatedBulk(at offset: Int) -> RESPProtocolError {
        RESPProtocolError(mode == .request ? "Protocol error: bulk string not terminated by CRLF" : "Bad bulk string: not terminated by CRLF", offset: offset)
    }

    private var tooLongLineMessage: String {
        switch mode {
        case .request: return stack.isEmpty ? "Protocol error: too big mbulk count string" : "Protocol error: too big bulk count string"
        case .reply: return "Protocol error: line longer than \(limits.maxLineLength) bytes"
        }
    }

    private mutating func finishInline() -> RESPProtocolError? {
        var content = line[...]
        if content.last == Self.lf { content = content.dropLast() }
        if content.last == Self.cr { content = content.dropLast() }
        guard let args = splitInlineArguments(content) else {
            phase = .start
            return RESPProtocolError("Protocol error: unbalanced quotes in request", offset: 0)
        }
        argumentCount = args.count
        for arg in args {
            if capture.count + arg.count > captureLimit {
                argumentsComplete = false
                break
            }
            capture.append(contentsOf: arg)
            captureEnds.append(capture.count)
        }
        phase = .start
        line.removeAll(keepingCapacity: true)
        return nil
    }

    /// One header line: `content` is what lies between the type byte and the LF.
    private mutating func header(type: UInt8, _ raw: UnsafeRawBufferPointer, at offset: Int) -> RESPProtocolError? {
        guard let last = raw.last, last == Self.cr else {
            return RESPProtocolError("Protocol error: LF without CR", offset: offset)
        }
        let content = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 1)])
        if content.contains(Self.cr) {
            return RESPProtocolError("Protocol error: CR not followed by LF", offset: offset)
        }
        switch mode {
        case .request: return requestHeader(type: type, content, at: offset)
        case .reply: return replyHeader(type: type, content, at: offset)
        }
    }

    private mutating func requestHeader(type: UInt8, _ content: UnsafeRawBufferPointer, at offset: Int) -> RESPProtocolError? {
        if stack.isEmpty {
            guard let count = RESPFrameScanner.parseInteger(content), count <= Int64(limits.maxAggregateLength) else {
                return RESPProtocolError("Protocol error: invalid multibulk length", offset: offset)
            }
            if count > 0 {
                stack.append(Level(remaining: Int(count), isAttribute: false))
                argumentCount = Int(count)
                phase = .start
            }
            return nil
        }
        guard type == UInt8(ascii: "$") else {
            return RESPProtocolError("Protocol error: expected '$', got '\(RESPFrameScanner.render(type))'", offset: offset)
        }
        guard let length = RESPFrameScanner.parseInteger(content), length >= 0, length <= Int64(limits.maxBulkLength) else {
            return RESPProtocolError("Protocol error: invalid bulk length", offset: offset)
        }
        if argumentsComplete && capture.count + Int(length) <= captureLimit {
            capturing = true
        } else {
            argumentsComplete = false
            capturing = false
        }
        phase = .payload(remaining: Int(length))
        return nil
    }

    private mutating func replyHeader(type: UInt8, _ content: UnsafeRawBufferPointer, at offset: Int) -> RESPProtocolError? {
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "#"), UInt8(ascii: ","), UInt8(ascii: "("):
            return nil
        case UInt8(ascii: ":"):
            return RESPFrameScanner.parseInteger(content) == nil ? RESPProtocolError("Bad integer value", offset: offset) : nil
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = RESPFrameScanner.parseInteger(content) else {
                return RESPProtocolError("Bad bulk string length", offset: offset)
            }
            if length == -1 && type == UInt8(ascii: "$") { return nil }
            guard length >= 0, length <= Int64(limits.maxBulkLength) else {
                return RESPProtocolError("Bulk string length out of range", offset: offset)
            }
            phase = .payload(remaining: Int(length))
            return nil
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let declared = RESPFrameScanner.parseInteger(content) else {
                return RESPProtocolError("Bad multi-bulk length", offset: offset)
            }
            if declared == -1 && type == UInt8(ascii: "*") { return nil }
            guard declared >= 0, declared <= Int64(limits.maxAggregateLength) else {
                return RESPProtocolError("Multi-bulk length out of range", offset: offset)
            }
            let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            let elements = Int(declared) * (isPairs ? 2 : 1)
            let isAttribute = type == UInt8(ascii: "|")
            if elements == 0 {
                if isAttribute { phase = .start }  // an empty attribute is not an element
                return nil
            }
            guard stack.count < limits.maxDepth else {
                return RESPProtocolError("No support for nested multi bulk replies with depth > \(limits.maxDepth)", offset: offset)
            }
            stack.append(Level(remaining: elements, isAttribute: isAttribute))
            phase = .start
            return nil
        default:
            return RESPProtocolError("Protocol error, got \"\(RESPFrameScanner.render(type))\" as reply type byte", offset: offset)
        }
    }

    /// One element finished: unwinds finished aggregates. True when the frame is whole.
    private mutating func completeElement() -> Bool {
        while let top = stack.last {
            stack[stack.count - 1].remaining -= 1
            if top.remaining - 1 > 0 { return false }
            stack.removeLast()
            if top.isAttribute { return false }
        }
        return true
    }
}
