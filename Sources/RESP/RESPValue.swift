import NIOCore

/// One RESP2 or RESP3 value, as a server sends it or a client writes it.
///
/// Strings are kept as `ByteBuffer` slices of the bytes they were read from, so decoding
/// copies no payload and a value can be written back byte for byte. Only the case that holds
/// a value directly is indirect: an indirect enum boxes every value on the heap (a monitor
/// reads thousands of PONGs and hellos a second).
public enum RESPValue: Sendable, Hashable {
    /// `+OK\r\n`
    case simpleString(ByteBuffer)
    /// `-ERR message\r\n`: an error reply is a value, not a Swift error.
    case simpleError(ByteBuffer)
    /// `:42\r\n`
    case integer(Int64)
    /// `$5\r\nhello\r\n`
    case bulkString(ByteBuffer)
    /// RESP2's null bulk string, `$-1\r\n`.
    case nullBulkString
    /// `*2\r\n...`
    case array([RESPValue])
    /// RESP2's null array, `*-1\r\n`.
    case nullArray
    /// RESP3's null, `_\r\n`.
    case null
    /// RESP3 `,3.14\r\n` (also `inf`, `-inf`, `nan`).
    case double(Double)
    /// RESP3 `#t\r\n` / `#f\r\n`.
    case boolean(Bool)
    /// RESP3 `!<len>\r\n<error>\r\n`.
    case blobError(ByteBuffer)
    /// RESP3 `=<len>\r\ntxt:<text>\r\n`; the payload keeps its three-letter format prefix.
    case verbatimString(ByteBuffer)
    /// RESP3 `(<digits>\r\n`, kept as its decimal text.
    case bigNumber(ByteBuffer)
    /// RESP3 `%<n>\r\n` followed by n key/value pairs, in wire order.
    case map([RESPPair])
    /// RESP3 `~<n>\r\n`.
    case set([RESPValue])
    /// RESP3 `><n>\r\n`: out-of-band data such as pub/sub messages.
    case push([RESPValue])
    /// RESP3 `|<n>\r\n` attributes and the value they annotate.
    indirect case attributed(attributes: [RESPPair], value: RESPValue)
}

/// A key/value pair of a RESP3 map or attribute.
public struct RESPPair: Sendable, Hashable {
    public var key: RESPValue
    public var value: RESPValue

    public init(key: RESPValue, value: RESPValue) {
        self.key = key
        self.value = value
    }
}

extension RESPValue {
    /// A bulk string holding the UTF-8 bytes of `string`.
    public static func bulkString(_ string: String) -> RESPValue {
        .bulkString(ByteBuffer(string: string))
    }

    /// A simple string holding `string` (which must not contain CR or LF).
    public static func simpleString(_ string: String) -> RESPValue {
        .simpleString(ByteBuffer(string: string))
    }

    /// An error reply holding `message`, e.g. `"ERR unknown command"`.
    public static func simpleError(_ message: String) -> RESPValue {
        .simpleError(ByteBuffer(string: message))
    }

    /// The value with any RESP3 attributes removed.
    public var withoutAttributes: RESPValue {
        if case .attributed(_, let value) = self { return value.withoutAttributes }
        return self
    }

    /// True for the three nulls (`$-1`, `*-1`, `_`).
    public var isNull: Bool {
        switch withoutAttributes {
        case .null, .nullArray, .nullBulkString: return true
        default: return false
        }
    }

    /// The text of a simple string, bulk string, verbatim string (without its format prefix),
    /// big number or double; nil for other kinds.
    public var string: String? {
        switch withoutAttributes {
        case .simpleString(let b), .bulkString(let b), .bigNumber(let b):
            return String(buffer: b)
        case .verbatimString(let b):
            let text = String(buffer: b)
            if text.utf8.count >= 4, text.utf8[text.utf8.index(text.utf8.startIndex, offsetBy: 3)] == UInt8(ascii: ":") {
                return String(text.dropFirst(4))
            }
            return text
        case .double(let d):
            return RESPValue.format(double: d)
        case .integer(let i):
            return String(i)
        default:
            return nil
        }
    }

    /// The bytes of a string-like value (simple, bulk, verbatim, big number), without copying.
    public var bytes: ByteBuffer? {
        switch withoutAttributes {
        case .simpleString(let b), .bulkString(let b), .bigNumber(let b), .verbatimString(let b):
            return b
        default:
            return nil
        }
    }

    /// The integer of `:` replies, or of a string that holds a decimal integer.
    public var int: Int64? {
        switch withoutAttributes {
        case .integer(let i): return i
        case .simpleString, .bulkString: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array, set or push; nil for other kinds.
    public var array: [RESPValue]? {
        switch withoutAttributes {
        case .array(let a), .set(let a), .push(let a): return a
        default: return nil
        }
    }

    /// The pairs of a RESP3 map, or of a RESP2 flat key/value array.
    public var pairs: [RESPPair]? {
        switch withoutAttributes {
        case .map(let pairs): return pairs
        case .array(let a) where a.count % 2 == 0:
            return stride(from: 0, to: a.count, by: 2).map { RESPPair(key: a[$0], value: a[$0 + 1]) }
        default: return nil
        }
    }

    /// The message of an error reply (`-` or `!`), e.g. `"ERR unknown command 'FOO'"`.
    public var errorMessage: String? {
        switch withoutAttributes {
        case .simpleError(let b), .blobError(let b): return String(buffer: b)
        default: return nil
        }
    }

    /// The first word of an error reply, e.g. `"ERR"`, `"NOAUTH"`, `"LOADING"`.
    public var errorCode: String? {
        guard let message = errorMessage else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init) ?? message
    }

    static func format(double d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded(), abs(d) < 1e17 { return String(Int64(d)) }
        return "\(d)"
    }
}

extension RESPValue: CustomStringConvertible {
    /// A redis-cli-like rendering for logs and test failures.
    public var description: String {
        switch self {
        case .simpleString(let b): return String(buffer: b)
        case .simpleError(let b), .blobError(let b): return "(error) \(String(buffer: b))"
        case .integer(let i): return "(integer) \(i)"
        case .bulkString(let b): return "\"\(String(decoding: b.readableBytesView, as: UTF8.self))\""
        case .nullBulkString, .nullArray, .null: return "(nil)"
        case .array(let a), .set(let a), .push(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .double(let d): return "(double) \(RESPValue.format(double: d))"
        case .boolean(let b): return b ? "(true)" : "(false)"
        case .verbatimString(let b): return "\"\(String(buffer: b))\""
        case .bigNumber(let b): return "(big number) \(String(buffer: b))"
        case .map(let pairs): return "{" + pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .attributed(_, let value): return value.description
        }
    }
}
