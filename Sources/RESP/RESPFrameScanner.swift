import NIOCore

/// Finds where the next complete RESP frame ends, validating it without building values.
///
/// The scanner is resumable: when a frame is incomplete it remembers how far it got, so
/// feeding a large frame in many small reads costs linear time. Between calls the caller
/// must only append to the buffer (as `ByteToMessageDecoder` does) and must not consume
/// bytes until a frame is complete.
public struct RESPFrameScanner: Sendable {
    /// What the bytes are expected to be.
    public enum Mode: Sendable, Hashable {
        /// Anything a RESP2 or RESP3 server sends.
        case reply
        /// A client's command: an array of bulk strings (inline commands are handled by
        /// `RESPRequestDecoder`). Errors use Redis's server-side texts.
        case request
    }

    /// The outcome of one scan.
    public enum Outcome: Sendable, Hashable {
        /// More bytes are needed.
        case incomplete
        /// A whole frame of `length` bytes starts at the reader index.
        case frame(length: Int)
    }

    private struct Level: Sendable {
        var remaining: Int
        var isAttribute: Bool
    }

    public let mode: Mode
    public let limits: RESPLimits
    private var offset = 0
    private var stack: [Level] = []
    private var pendingBulkLength: Int? = nil

    public init(mode: Mode, limits: RESPLimits = .default) {
        self.mode = mode
        self.limits = limits
    }

    /// Scans the readable bytes of `buffer` from its reader index.
    public mutating func scan(_ buffer: ByteBuffer) throws(RESPProtocolError) -> Outcome {
        let result = buffer.withUnsafeReadableBytes { bytes in self.scan(bytes: bytes) }
        switch result {
        case .success(let outcome): return outcome
        case .failure(let error):
            reset()
            throw error
        }
    }

    /// Forgets any partial progress (after an error, or when the stream is replaced).
    public mutating func reset() {
        offset = 0
        stack.removeAll(keepingCapacity: true)
        pendingBulkLength = nil
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    private mutating func scan(bytes: UnsafeRawBufferPointer) -> Result<Outcome, RESPProtocolError> {
        let count = bytes.count
        while true {
            if let length = pendingBulkLength {
                // Waiting for a bulk payload that starts at `offset`, plus its CRLF.
                guard count - offset >= length + 2 else { return .success(.incomplete) }
                guard bytes[offset + length] == Self.cr, bytes[offset + length + 1] == Self.lf else {
                    return .failure(RESPProtocolError(
                        mode == .request ? "Protocol error: bulk string not terminated by CRLF" : "Bad bulk string: not terminated by CRLF",
                        offset: offset + length))
                }
                offset += length + 2
                pendingBulkLength = nil
                if let done = completeElement() { return .success(done) }
                continue
            }
            guard offset < count else { return .success(.incomplete) }
            let start = offset
            let type = bytes[start]
            // Find the CR that ends this header line.
            let searchEnd = min(count, start + limits.maxLineLength + 2)
            var cr = -1
            if start + 1 < searchEnd, let hit = bytes[(start + 1)..<searchEnd].firstIndex(of: Self.cr) {
                cr = hit
            }
            if cr < 0 || cr - start > limits.maxLineLength {
                if count - start > limits.maxLineLength || cr >= 0 {
                    return .failure(RESPProtocolError(tooLongLineMessage, offset: start))
                }
                return .success(.incomplete)
            }
            guard cr + 1 < count else { return .success(.incomplete) }
            guard bytes[cr + 1] == Self.lf else {
                return .failure(RESPProtocolError("Protocol error: CR not followed by LF", offset: cr + 1))
            }
            let line = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<cr])
            let next = cr + 2
            switch mode {
            case .request:
                if let error = requestItem(type: type, line: line, start: start, next: next) { return .failure(error) }
            case .reply:
                if let error = replyItem(type: type, line: line, start: start, next: next) { return .failure(error) }
            }
            if pendingBulkLength != nil { continue }
            if let done = elementEndedAt(next) { return .success(done) }
        }
    }

    /// Set by the item handlers: the element that began at `start` ended at `next` (true),
    /// or it opened an aggregate / a bulk payload (false).
    private var itemCompleted = false

    private mutating func elementEndedAt(_ next: Int) -> Outcome? {
        offset = next
        guard itemCompleted else { return nil }
        return completeElement()
    }

    /// One element finished: unwind finished aggregates. Returns the frame when it is whole.
    private mutating func completeElement() -> Outcome? {
        while let top = stack.last {
            stack[stack.count - 1].remaining -= 1
            if top.remaining - 1 > 0 { return nil }
            stack.removeLast()
            if top.isAttribute { return nil }  // attributes annotate the next value; they are not one
        }
        let length = offset
        reset()
        return .frame(length: length)
    }

    private var tooLongLineMessage: String {
        switch mode {
        case .request: return stack.isEmpty ? "Protocol error: too big mbulk count string" : "Protocol error: too big bulk count string"
        case .reply: return "Protocol error: line longer than \(limits.maxLineLength) bytes"
        }
    }

    private mutating func requestItem(type: UInt8, line: UnsafeRawBufferPointer, start: Int, next: Int) -> RESPProtocolError? {
        if stack.isEmpty {
            guard type == UInt8(ascii: "*") else {
                return RESPProtocolError("Protocol error: expected '*', got '\(Self.render(type))'", offset: start)
            }
            guard let count = Self.parseInteger(line), count <= Int64(limits.maxAggregateLength) else {
                return RESPProtocolError("Protocol error: invalid multibulk length", offset: start)
            }
            if count <= 0 {
                itemCompleted = true  // an empty command: Redis skips it
                return nil
            }
            stack.append(Level(remaining: Int(count), isAttribute: false))
            itemCompleted = false
            return nil
        }
        guard type == UInt8(ascii: "$") else {
            return RESPProtocolError("Protocol error: expected '$', got '\(Self.render(type))'", offset: start)
        }
        guard let length = Self.parseInteger(line), length >= 0, length <= Int64(limits.maxBulkLength) else {
            return RESPProtocolError("Protocol error: invalid bulk length", offset: start)
        }
        offset = next
        pendingBulkLength = Int(length)
        itemCompleted = false
        return nil
    }

    private mutating func replyItem(type: UInt8, line: UnsafeRawBufferPointer, start: Int, next: Int) -> RESPProtocolError? {
        itemCompleted = true
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            // A line ends at CRLF; a bare LF inside it would not survive re-encoding.
            return line.contains(Self.lf) ? RESPProtocolError("Protocol error: LF without CR inside a line", offset: start) : nil
        case UInt8(ascii: ":"):
            return Self.parseInteger(line) == nil ? RESPProtocolError("Bad integer value", offset: start) : nil
        case UInt8(ascii: "_"):
            return line.isEmpty ? nil : RESPProtocolError("Bad nil value", offset: start)
        case UInt8(ascii: "#"):
            return line.count == 1 && (line[0] == UInt8(ascii: "t") || line[0] == UInt8(ascii: "f"))
                ? nil : RESPProtocolError("Bad bool value", offset: start)
        case UInt8(ascii: ","):
            return Self.parseDouble(line) == nil ? RESPProtocolError("Bad double value", offset: start) : nil
        case UInt8(ascii: "("):
            return Self.isBigNumber(line) ? nil : RESPProtocolError("Bad bignum value", offset: start)
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let length = Self.parseInteger(line) else {
                return RESPProtocolError("Bad bulk string length", offset: start)
            }
            if length == -1 && type == UInt8(ascii: "$") { return nil }  // RESP2 null bulk string
            guard length >= 0, length <= Int64(limits.maxBulkLength) else {
                return RESPProtocolError("Bulk string length out of range", offset: start)
            }
            if type == UInt8(ascii: "=") && length < 4 {
                return RESPProtocolError("Verbatim string 4 bytes of content type are missing or incorrectly encoded.", offset: start)
            }
            offset = next
            pendingBulkLength = Int(length)
            itemCompleted = false
            return nil
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard let declared = Self.parseInteger(line) else {
                return RESPProtocolError("Bad multi-bulk length", offset: start)
            }
            if declared == -1 && type == UInt8(ascii: "*") { return nil }  // RESP2 null array
            guard declared >= 0, declared <= Int64(limits.maxAggregateLength) else {
                return RESPProtocolError("Multi-bulk length out of range", offset: start)
            }
            let isPairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
            let elements = Int(declared) * (isPairs ? 2 : 1)
            let isAttribute = type == UInt8(ascii: "|")
            if elements == 0 {
                itemCompleted = !isAttribute
                return nil
            }
            guard stack.count < limits.maxDepth else {
                return RESPProtocolError("No support for nested multi bulk replies with depth > \(limits.maxDepth)", offset: start)
            }
            stack.append(Level(remaining: elements, isAttribute: isAttribute))
            itemCompleted = false
            return nil
        default:
            return RESPProtocolError("Protocol error, got \"\(Self.render(type))\" as reply type byte", offset: start)
        }
    }

    static func render(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7f { return String(UnicodeScalar(byte)) }
        let hex = String(byte, radix: 16)
        return "\\x" + (hex.count == 1 ? "0" + hex : hex)
    }

    /// Redis's `string2ll` of a command argument (e.g. WAIT's numbers in the cluster proxy).
    public static func parseInteger(_ argument: ByteBuffer) -> Int64? {
        argument.withUnsafeReadableBytes { parseInteger($0) }
    }

    /// Redis's `string2ll`: optional '-', no leading zeros, no '+', no spaces, fits Int64.
    static func parseInteger(_ line: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        let n = line.count
        guard n > 0, n <= 20 else { return nil }
        if n == 1 && line[0] == UInt8(ascii: "0") { return 0 }
        var negative = false
        if line[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            guard n > 1 else { return nil }
        }
        guard line[i] >= UInt8(ascii: "1"), line[i] <= UInt8(ascii: "9") else { return nil }
        var value: UInt64 = 0
        while i < n {
            let c = line[i]
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        if negative {
            if value > UInt64(Int64.max) + 1 { return nil }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        return value > UInt64(Int64.max) ? nil : Int64(value)
    }

    static func parseDouble(_ line: UnsafeRawBufferPointer) -> Double? {
        guard !line.isEmpty, line.count <= 326 else { return nil }
        let text = String(decoding: line, as: UTF8.self).lowercased()
        switch text {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "-nan": return .nan
        default:
            // Decimal notation only: no hex floats, no "infinity" spelled out.
            guard text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x65 || $0 == 0x2b || $0 == 0x2d }),
                  let value = Double(text), value.isFinite else { return nil }
            return value
        }
    }

    static func isBigNumber(_ line: UnsafeRawBufferPointer) -> Bool {
        var digits = line[...]
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
