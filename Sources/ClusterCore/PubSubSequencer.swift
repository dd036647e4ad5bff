import NIOCore
import RESP

/// A cluster client's pub/sub over several connections of its own (one per master holding its
/// shard channels, one of them also carrying its channels and patterns), made to look like one
/// node's connection: confirmations in the order of the client's commands, shard-channel counts
/// as the client's own (each node counts only what it holds), and a node's unsolicited
/// `sunsubscribe` (its slot moved away) kept from the client so that the shell subscribes again
/// on the slot's new master.
///
/// Every command the shell sends on a connection is followed there by a `PING` of its own. A
/// command with a known number of answers (one per channel it names; one for PING) has had them
/// all — or one error, which refuses a whole command — when the next answer (the PING's: a
/// `pong`, or an error such as `-LOADING` that it got too) ends it; one whose number is not
/// known (UNSUBSCRIBE of everything) ends at a `pong` or at the second error. Values of a
/// connection belong to its oldest unfinished command; commands are answered to the client in
/// the order they were sent, an unfinished one holding back the answers of later ones on other
/// connections. Messages (`message`, `smessage`, …) go after the last command sent on their
/// connection (in the client's order), so never before the confirmation of their channel.
/// Pure: the shell sends and writes.
public struct PubSubSequencer<Link: Hashable & Sendable>: Sendable {
    public enum Kind: Sendable, Hashable {
        /// A client's command; `ping`: the client's own PING, whose first answer is its reply.
        case client(ping: Bool = false)
        /// The proxy's own (a subscription made again elsewhere): its answers are dropped.
        case own
    }

    struct Entry: Sendable {
        let id: Int
        var link: Link?
        let kind: Kind
        /// SUNSUBSCRIBE's channels (empty: all), to tell its confirmations from a node's own.
        let unsubscribing: [ByteBuffer]?
        /// The command, to send it again after a MOVED.
        let command: [ByteBuffer]
        var values: [RESPValue] = []
        var done = false
        /// Answers of its own still to come (nil: not known); 0: the next is the PING's.
        var remaining: Int?
        /// An error answered it (a whole command refused): the next answer is the PING's.
        var refused = false
        /// A MOVED or ASK answered it: sent again once done (`Output.resend`).
        var redirected = false
    }

    /// What to do after a step.
    public struct Output: Sendable, Equatable {
        /// Values for the client, in order.
        public var write: [RESPValue] = []
        /// Shard channels whose node let them go (their slot moved): subscribe them again on
        /// the slot's master (an `own` command).
        public var moved: [ByteBuffer] = []
        /// Commands answered MOVED or ASK: send them again (`resent`) once the map is fresh.
        public var resend: [Redirected] = []
        public init() {}
    }

    public struct Redirected: Sendable, Equatable {
        public var id: Int
        public var command: [ByteBuffer]
        public init(id: Int, command: [ByteBuffer]) {
            self.id = id
            self.command = command
        }
    }

    /// The commands in the client's order, from `head` on (those before it are written and
    /// gone; removed in batches, `flush`). Their ids are consecutive: every id `sent` or
    /// `answered` gives out is appended, and entries leave only from the front — so a command is
    /// found by its id in constant time (`index(of:)`), not by a search.
    private var entries: [Entry] = []
    private var head = 0
    /// Per connection, the newest command sent or resent there (`lastIndex(on:)`).
    private var newestOnLink: [Link: Int] = [:]
    /// Per connection, its unfinished commands in the order sent.
    private var unfinished: [Link: [Int]] = [:]
    private var nextID = 0
    /// The shard channels as the client has been told (its counts).
    public private(set) var shardChannels: Set<ByteBuffer> = []

    public init() {}

    /// Whether any command still waits for answers (or to be written).
    public var isIdle: Bool { head == entries.count }

    /// Where the command `id` is, if still there.
    private func index(of id: Int) -> Int? {
        guard head < entries.count else { return nil }
        let i = head + (id - entries[head].id)
        guard i >= head, i < entries.count, entries[i].id == id else { return nil }
        return i
    }

    /// Where the last command still there whose connection is `link` is. Such a command was
    /// sent or resent on `link`, so its id is at most `newestOnLink[link]`: that one itself
    /// unless it moved since (resent elsewhere, or its connection closed), then a search below
    /// it, whose answer is kept as the link's newest (so the search is not repeated for the
    /// next value).
    private mutating func lastIndex(on link: Link) -> Int? {
        guard let newest = newestOnLink[link], head < entries.count, newest >= entries[head].id,
              let i = index(of: newest) else { return nil }
        if entries[i].link == link { return i }
        let found = entries[head..<i].lastIndex(where: { $0.link == link })
        newestOnLink[link] = found.map { entries[$0].id }
        return found
    }

    /// A command sent on `link` (with its PING after it); its id.
    @discardableResult
    public mutating func sent(on link: Link, kind: Kind, unsubscribing: [ByteBuffer]? = nil, command: [ByteBuffer] = []) -> Int {
        let id = nextID
        nextID += 1
        var entry = Entry(id: id, link: link, kind: kind, unsubscribing: unsubscribing, command: command)
        entry.remaining = Self.answers(kind, command)
        entries.append(entry)
        unfinished[link, default: []].append(id)
        newestOnLink[link] = id
        return id
    }

    /// How many answers a command gets: one per channel or pattern it names, one for PING; nil
    /// when not known (an UNSUBSCRIBE of everything: one per subscription the node holds).
    static func answers(_ kind: Kind, _ command: [ByteBuffer]) -> Int? {
        if kind == .client(ping: true) { return 1 }
        guard command.count > 1 else { return nil }
        switch CommandKeys.word(command, 0) {
        case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE": return command.count - 1
        default: return nil
        }
    }

    /// A command answered by the proxy itself (no connection), in its place among the others.
    public mutating func answered(_ values: [RESPValue]) -> Output {
        let id = nextID
        nextID += 1
        entries.append(Entry(id: id, link: nil, kind: .client(), unsubscribing: nil, command: [], values: values, done: true))
        var output = Output()
        flush(&output)
        return output
    }

    /// A command answered MOVED or ASK, sent again on `link`: it keeps its place.
    public mutating func resent(_ id: Int, on link: Link) {
        guard let index = index(of: id) else { return }
        entries[index].link = link
        entries[index].done = false
        entries[index].redirected = false
        entries[index].refused = false
        entries[index].remaining = Self.answers(entries[index].kind, entries[index].command)
        unfinished[link, default: []].append(id)
        newestOnLink[link] = max(newestOnLink[link] ?? id, id)
    }

    /// A value read on `link`.
    public mutating func received(_ value: RESPValue, from link: Link) -> Output {
        var output = Output()
        if Self.isMessage(value) {
            // After the last command sent there, in the client's order (none: at once).
            if let index = lastIndex(on: link) {
                entries[index].values.append(value)
            } else {
                emit(value, into: &output)
            }
            flush(&output)
            return output
        }
        guard let id = unfinished[link]?.first, let index = index(of: id) else {
            // Nothing asked there: a node letting a shard channel go, or something unexpected
            // (written after that connection's last command, if still waiting).
            if let moved = Self.shardUnsubscribed(value) {
                output.moved.append(moved)
            } else if let index = lastIndex(on: link) {
                entries[index].values.append(value)
            } else {
                emit(value, into: &output)
            }
            flush(&output)
            return output
        }
        var entry = entries[index]
        let pingsAnswer = entry.refused || entry.remaining == 0
        if let channel = Self.shardUnsubscribed(value), !Self.asked(entry.unsubscribing, channel) {
            output.moved.append(channel)
        } else if pingsAnswer || (entry.remaining == nil && Self.isPong(value)) {
            // The PING's answer (a pong, or an error it got too, e.g. -LOADING): the end.
            entry.done = true
            unfinished[link]?.removeFirst()
            if entry.redirected { output.resend.append(Redirected(id: entry.id, command: entry.command)) }
        } else if let text = value.errorMessage {
            // One error refuses the whole command.
            entry.refused = true
            if text.hasPrefix("MOVED ") || text.hasPrefix("ASK ") { entry.redirected = true } else { entry.values.append(value) }
        } else {
            entry.values.append(value)
            if let left = entry.remaining { entry.remaining = max(0, left - 1) }
        }
        entries[index] = entry
        flush(&output)
        return output
    }

    /// `link` closed: its unfinished commands get no more answers there. A client's subscribe
    /// command that had none yet is to be sent again elsewhere (`Output.resend`), so that it is
    /// confirmed and counted; the others are written as far as they got (the shell subscribes
    /// again, as its own, what the connection carried).
    public mutating func closed(_ link: Link) -> Output {
        var output = Output()
        for id in unfinished[link] ?? [] {
            guard let index = index(of: id) else { continue }
            entries[index].done = true
            let entry = entries[index]
            if case .client(ping: false) = entry.kind, CommandWords.isSubscribe(entry.command), entry.values.isEmpty {
                entries[index].redirected = true
                entries[index].link = nil
                output.resend.append(Redirected(id: entry.id, command: entry.command))
            } else {
                entries[index].redirected = false
            }
        }
        unfinished[link] = nil
        flush(&output)
        return output
    }

    /// Writes what is ready: the oldest command's answers as they come, then the next's once it
    /// is done.
    private mutating func flush(_ output: inout Output) {
        while head < entries.count {
            let first = entries[head]
            // The proxy's own commands: their confirmations dropped, messages kept.
            for value in first.values where first.kind != .own || Self.isMessage(value) { emit(value, into: &output) }
            entries[head].values = []
            guard first.done, !first.redirected else { break }
            head += 1
        }
        // The written ones leave in batches (amortised constant time, where removing the first
        // of an array one by one moves all the others each time).
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.count <= 64)
            head = 0
            newestOnLink.removeAll(keepingCapacity: true)
        } else if head >= 32, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// A value on its way to the client: shard-channel confirmations counted as the client's.
    private mutating func emit(_ value: RESPValue, into output: inout Output) {
        if let items = value.array, items.count == 3, let kind = items[0].string?.lowercased(),
           kind == "ssubscribe" || kind == "sunsubscribe" {
            if let channel = items[1].bulkBuffer {
                if kind == "ssubscribe" { shardChannels.insert(channel) } else { shardChannels.remove(channel) }
            }
            let counted = [items[0], items[1], .integer(Int64(shardChannels.count))]
            if case .push = value.withoutAttributes { output.write.append(.push(counted)) } else { output.write.append(.array(counted)) }
            return
        }
        output.write.append(value)
    }

    static func isPong(_ value: RESPValue) -> Bool {
        switch value.withoutAttributes {
        case .simpleString(let text): return text.readableBytesView.elementsEqual("PONG".utf8)
        case .array(let items), .push(let items):
            return items.count == 2 && items[0].string?.lowercased() == "pong" && items[1].string == ""
        default: return false
        }
    }

    /// The shard channel of a `sunsubscribe` confirmation or notice (nil: not one, or none named).
    static func shardUnsubscribed(_ value: RESPValue) -> ByteBuffer? {
        guard let items = value.array, items.count == 3, items[0].string?.lowercased() == "sunsubscribe" else { return nil }
        return items[1].bulkBuffer
    }

    static func isMessage(_ value: RESPValue) -> Bool {
        guard let items = value.array, let kind = items.first?.string?.lowercased() else { return false }
        return kind == "message" || kind == "pmessage" || kind == "smessage"
    }

    /// Whether a SUNSUBSCRIBE naming `channels` (empty: all; nil: not a SUNSUBSCRIBE) asked for `channel`.
    static func asked(_ channels: [ByteBuffer]?, _ channel: ByteBuffer) -> Bool {
        guard let channels else { return false }
        return channels.isEmpty || channels.contains(channel)
    }
}

/// Subscription command names (arguments as sent).
enum CommandWords {
    static func isSubscribe(_ command: [ByteBuffer]) -> Bool {
        guard !command.isEmpty else { return false }
        let name = CommandKeys.word(command, 0)
        return name == "SUBSCRIBE" || name == "PSUBSCRIBE" || name == "SSUBSCRIBE"
    }
}

extension RESPValue {
    /// The bytes of a bulk (or simple) string; nil for anything else.
    var bulkBuffer: ByteBuffer? {
        switch withoutAttributes {
        case .bulkString(let b), .simpleString(let b): return b
        default: return nil
        }
    }
}
