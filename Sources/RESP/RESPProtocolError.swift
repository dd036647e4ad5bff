/// Malformed RESP input. `message` is the text Redis (for requests) or hiredis (for replies)
/// uses for the same fault, so it can be sent back as `-ERR <message>` unchanged.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The fault, e.g. `"Protocol error: invalid multibulk length"`.
    public var message: String
    /// Offset of the offending byte from the start of the frame being decoded.
    public var offset: Int

    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) (at byte \(offset) of the frame)" }
}

/// Bounds on what a peer may make the decoder hold. Defaults mirror Redis 7.0.
public struct RESPLimits: Sendable, Hashable {
    /// Largest bulk string accepted (Redis `proto-max-bulk-len`, 512 MB).
    public var maxBulkLength: Int
    /// Largest element count of an aggregate (Redis accepts up to INT_MAX).
    public var maxAggregateLength: Int
    /// Deepest nesting of aggregates in one reply.
    public var maxDepth: Int
    /// Longest header line or inline command (Redis `PROTO_INLINE_MAX_SIZE`, 64 KB).
    public var maxLineLength: Int

    public init(
        maxBulkLength: Int = 512 * 1024 * 1024,
        maxAggregateLength: Int = Int(Int32.max),
        maxDepth: Int = 64,
        maxLineLength: Int = 64 * 1024
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxAggregateLength = maxAggregateLength
        self.maxDepth = maxDepth
        self.maxLineLength = maxLineLength
    }

    /// Redis 7.0's defaults.
    public static let `default` = RESPLimits()
}
