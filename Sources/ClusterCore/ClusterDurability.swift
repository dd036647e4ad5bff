import NIOCore
import RESP

/// `--wait-replicas N` (`durability: replicated`) in cluster mode: a write is answered only once
/// N replicas of the master that ran it have it. The shell sends `WAIT N timeout` on the
/// connection that carried the writes, after them (a node's WAIT counts the replicas that have
/// everything written on that connection so far, other clients' writes included), and holds
/// their replies until it answers. Pure: which commands wait, and what a write's client gets.
public struct ClusterDurability: Sendable, Hashable {
    /// Replicas each write must reach (1–64).
    public let replicas: Int
    /// How long the WAIT may take, in milliseconds (> 0: never unbounded).
    public let timeoutMilliseconds: Int

    public init(replicas: Int, timeoutMilliseconds: Int) {
        self.replicas = replicas
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// The WAIT that follows a batch of writes.
    public var waitArguments: [ByteBuffer] {
        [ByteBuffer(string: "WAIT"), ByteBuffer(string: String(replicas)), ByteBuffer(string: String(timeoutMilliseconds))]
    }

    /// Scripts and functions may write without being flagged `write` in Redis's table.
    private static let mayWriteUnflagged: Set<String> = ["EVAL", "EVALSHA", "FCALL", "EXEC"]

    /// Whether a command may change data: flagged `write` in redis-server's command table, a
    /// script or function call (EVAL, EVALSHA, FCALL), EXEC (what its transaction queued ran
    /// then), or a command the table does not know (it waits rather than risk a write answered
    /// too early).
    public static func mayWrite(_ info: CommandInfo?) -> Bool {
        guard let info else { return true }
        if info.flags.contains(.write) { return true }
        if info.flags.contains(.readonly) { return false }
        return mayWriteUnflagged.contains(info.name)
    }

    /// A WAIT's reply frame read as its count (nil: an error, or not an integer).
    public static func count(ofWaitReply frame: ByteBuffer) -> Int64? {
        guard frame.readableBytesView.first == UInt8(ascii: ":") else { return nil }
        return RESPFrameScanner.parseInteger(frame.getSlice(at: frame.readerIndex + 1, length: max(0, frame.readableBytes - 3)) ?? ByteBuffer())
    }

    /// What becomes of a write's reply on a shared connection.
    public enum Hold: Sendable, Hashable {
        /// Passed on at once: a redirection or a cluster that is not ready (MOVED, ASK,
        /// TRYAGAIN, CLUSTERDOWN) — the command did not run, and the proxy sends it again.
        case passNow
        /// Held until the WAIT after it answers, then passed on as it is: another error (a
        /// script may have written before failing; a refusal wrote nothing).
        case holdKeep
        /// Held, then -NOREPLICAS unless enough replicas have it: any other reply, a null too
        /// (`SET … GET` of a missing key, a script returning nil, ran a write).
        case holdCheck
    }

    public static func hold(reply frame: ByteBuffer) -> Hold {
        switch frame.readableBytesView.first {
        case UInt8(ascii: "-"):
            let text = frame.readableBytesView.dropFirst().prefix(11)
            for word in ["MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"] where text.starts(with: word.utf8) { return .passNow }
            return .holdKeep
        case UInt8(ascii: "!"):
            return .holdKeep
        default:
            return .holdCheck
        }
    }

    /// A reply of a client's own connection (EXEC, a blocking pop), read as a value: whether a
    /// write ran. An error (EXECABORT, a refusal) or a null (EXEC after a lost WATCH, a
    /// blocking pop that timed out) ran none.
    public static func ran(_ reply: RESPValue) -> Bool {
        reply.errorMessage == nil && !reply.withoutAttributes.isNull
    }

    /// What the client gets for a write that ran, once the WAIT after it answered `count`
    /// (nil: the WAIT failed, or the connection closed before it answered): nil when enough
    /// replicas have it and its reply stands, else the -NOREPLICAS error that replaces it. The
    /// master-mode proxy gives the same answer.
    public func replacement(count: Int64?) -> RESPValue? {
        if let count, count >= Int64(replicas) { return nil }
        let why = count.map { "only \($0) of \(replicas) replicas acknowledged this write within \(timeoutMilliseconds) ms" }
            ?? "the master did not confirm that a replica has this write (the connection closed, or WAIT failed)"
        return .simpleError("NOREPLICAS Tandem proxy: \(why) (durability: replicated); it ran on the master and a failover may lose it")
    }
}
