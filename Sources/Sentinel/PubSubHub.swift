import NIOConcurrencyHelpers
import NIOCore
import RESP

/// Subscriptions of the clients connected to the sentinel port, and delivery of events to them.
final class PubSubHub: Sendable {
    typealias Deliver = @Sendable (RESPValue) -> Void

    private struct Subscriber {
        var deliver: Deliver
        var channels: Set<String> = []
        var patterns: Set<String> = []
    }

    private let subscribers = NIOLockedValueBox<[UInt64: Subscriber]>([:])

    func register(_ client: UInt64, deliver: @escaping Deliver) {
        subscribers.withLockedValue { $0[client] = Subscriber(deliver: deliver) }
    }

    func unregister(_ client: UInt64) {
        subscribers.withLockedValue { _ = $0.removeValue(forKey: client) }
    }

    /// Applies (P)(UN)SUBSCRIBE and returns one confirmation per name, as Redis does.
    func change(_ client: UInt64, verb: String, names: [String]) -> [RESPValue] {
        subscribers.withLockedValue { subs in
            guard var s = subs[client] else { return [] }
            var replies: [RESPValue] = []
            let kind = verb.lowercased()
            func count() -> Int64 { Int64(s.channels.count + s.patterns.count) }
            switch kind {
            case "subscribe", "psubscribe":
                for name in names {
                    if kind == "subscribe" { s.channels.insert(name) } else { s.patterns.insert(name) }
                    replies.append(.array([.bulkString(kind), .bulkString(name), .integer(count())]))
                }
            default:
                let isPattern = kind == "punsubscribe"
                var targets = names
                if targets.isEmpty { targets = (isPattern ? s.patterns : s.channels).sorted() }
                if targets.isEmpty {
                    replies.append(.array([.bulkString(kind), .nullBulkString, .integer(count())]))
                }
                for name in targets {
                    if isPattern { s.patterns.remove(name) } else { s.channels.remove(name) }
                    replies.append(.array([.bulkString(kind), .bulkString(name), .integer(count())]))
                }
            }
            subs[client] = s
            return replies
        }
    }

    /// The number of subscriptions a client holds (Redis's subscribe mode while > 0).
    func subscriptionCount(_ client: UInt64) -> Int {
        subscribers.withLockedValue { $0[client].map { $0.channels.count + $0.patterns.count } ?? 0 }
    }

    /// Channels and patterns a client holds (CLIENT LIST's `sub=` and `psub=`).
    func counts(_ client: UInt64) -> (channels: Int, patterns: Int) {
        subscribers.withLockedValue { $0[client].map { ($0.channels.count, $0.patterns.count) } ?? (0, 0) }
    }

    /// Channels and patterns with at least one subscriber (INFO's pubsub_channels/patterns).
    func totals() -> (channels: Int, patterns: Int) {
        subscribers.withLockedValue { subs in
            (Set(subs.values.flatMap(\.channels)).count, Set(subs.values.flatMap(\.patterns)).count)
        }
    }

    /// Publishes `message` on `channel`; returns how many clients received it.
    @discardableResult
    func publish(channel: String, message: String) -> Int {
        let targets: [(Deliver, RESPValue)] = subscribers.withLockedValue { subs in
            var out: [(Deliver, RESPValue)] = []
            for s in subs.values {
                if s.channels.contains(channel) {
                    out.append((s.deliver, .array([.bulkString("message"), .bulkString(channel), .bulkString(message)])))
                }
                for p in s.patterns.sorted() where globMatch(pattern: Array(p.utf8), string: Array(channel.utf8)) {
                    out.append((s.deliver, .array([.bulkString("pmessage"), .bulkString(p), .bulkString(channel), .bulkString(message)])))
                }
            }
            return out
        }
        for (deliver, value) in targets { deliver(value) }
        return targets.count
    }
}

/// Redis's `stringmatchlen`: `*`, `?`, `[abc]`, `[^a-z]` and `\` escapes.
func globMatch(pattern: [UInt8], string: [UInt8]) -> Bool {
    func match(_ p: Int, _ s: Int) -> Bool {
        var p = p, s = s
        while p < pattern.count {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                while p + 1 < pattern.count && pattern[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pattern.count { return true }
                for start in s...string.count where match(p + 1, start) { return true }
                return false
            case UInt8(ascii: "?"):
                if s >= string.count { return false }
                s += 1
            case UInt8(ascii: "["):
                if s >= string.count { return false }
                p += 1
                let negate = p < pattern.count && pattern[p] == UInt8(ascii: "^")
                if negate { p += 1 }
                var matched = false
                while p < pattern.count && pattern[p] != UInt8(ascii: "]") {
                    if pattern[p] == UInt8(ascii: "\\") && p + 1 < pattern.count {
                        p += 1
                        if pattern[p] == string[s] { matched = true }
                    } else if p + 2 < pattern.count && pattern[p + 1] == UInt8(ascii: "-") && pattern[p + 2] != UInt8(ascii: "]") {
                        let lo = min(pattern[p], pattern[p + 2]), hi = max(pattern[p], pattern[p + 2])
                        if string[s] >= lo && string[s] <= hi { matched = true }
                        p += 2
                    } else if pattern[p] == string[s] {
                        matched = true
                    }
                    p += 1
                }
                if negate { matched.toggle() }
                if !matched { return false }
                s += 1
            case UInt8(ascii: "\\") where p + 1 < pattern.count:
                p += 1
                if s >= string.count || pattern[p] != string[s] { return false }
                s += 1
            default:
                if s >= string.count || pattern[p] != string[s] { return false }
                s += 1
            }
            p += 1
        }
        return s == string.count
    }
    return match(0, 0)
}
