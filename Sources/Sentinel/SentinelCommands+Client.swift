import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import SentinelConfig

extension SentinelRuntime {
    // MARK: CLIENT PAUSE

    /// Whether a command waits out the current `CLIENT PAUSE`: every command under ALL, only
    /// PUBLISH (the one sentinel command that may replicate) under WRITE.
    func isPaused(_ command: String) -> Bool {
        guard let pause = clientPause else { return false }
        if ContinuousClock.now >= pause.end {
            endClientPause()
            return false
        }
        return !pause.writeOnly || command == "publish"
    }

    /// Holds a client's command (and so everything after it on that connection) until the
    /// pause ends: 7.0's blockPostponeClient. Clients resume in the order they were held.
    func waitOutPause(_ command: String, client: SentinelClient) async {
        client.update { $0.postponed = true }
        while isPaused(command) {
            await withCheckedContinuation { pauseWaiters.append($0) }
        }
        client.update { $0.postponed = false }
    }

    /// `CLIENT PAUSE`: the stricter mode and the later end of the current and the new pause win.
    func pauseClients(milliseconds: Int64, writeOnly: Bool) {
        var end = ContinuousClock.now + .milliseconds(milliseconds)
        var writes = writeOnly
        if let current = clientPause {
            end = max(end, current.end)
            writes = current.writeOnly && writeOnly
        }
        clientPause = ClientPause(writeOnly: writes, end: end)
        pauseTimer?.cancel()
        pauseTimer = Task { [weak self] in
            try? await Task.sleep(until: end, clock: .continuous)
            guard !Task.isCancelled else { return }
            await self?.pauseTimerFired()
        }
    }

    private func pauseTimerFired() {
        if let pause = clientPause, ContinuousClock.now >= pause.end { endClientPause() }
    }

    /// `CLIENT UNPAUSE` or the pause's end: held clients go on, in order.
    func endClientPause() {
        clientPause = nil
        pauseTimer?.cancel()
        pauseTimer = nil
        let waiters = pauseWaiters
        pauseWaiters.removeAll()
        for w in waiters { w.resume() }
    }

    // MARK: CLIENT

    /// One CLIENT LIST / CLIENT INFO line, with 7.0's fields in its order.
    nonisolated func clientInfoLine(_ s: SentinelClient) -> String {
        let now = ContinuousClock.now
        let age = (now - s.createdAt).components.seconds
        let idle = (now - s.lastInteraction).components.seconds
        let (sub, psub) = hub.counts(s.id)
        var b = s.buffers
        // qbuf: what has been received and not run: the command being run and any after it;
        // a command held by a pause has been parsed (its bytes count in argv-mem instead).
        let unread = s.unprocessedInput.withLockedValue { $0 }
        b.query = s.postponed ? max(0, unread - b.query) : unread
        let tracking = s.tracking
        var flags = sub + psub > 0 ? "P" : ""
        if s.postponed { flags += "b" }
        if tracking.on { flags += "t" }
        if tracking.bcast { flags += "B" }
        if s.closeAfterReply { flags += "c" }
        if s.noEvict { flags += "e" }
        if flags.isEmpty { flags = "N" }
        return "id=\(s.id) addr=\(s.address) laddr=\(s.localAddress) fd=\(s.id + 7) name=\(s.name ?? "")"
            + " age=\(age) idle=\(idle) flags=\(flags) db=0 sub=\(sub) psub=\(psub) ssub=0 multi=-1 qbuf=\(b.query) qbuf-free=0"
            + " argv-mem=\(b.arguments) multi-mem=0 rbs=\(b.replyBuffer) rbp=\(b.replyPeak) obl=0 oll=\(b.pendingMessages)"
            + " omem=\(b.pendingOutput) tot-mem=\(b.total) events=r"
            + " cmd=\(s.lastCommand) user=\(s.user) redir=\(tracking.on ? tracking.redirect : -1)"
            + " resp=\(s.protocolVersion)"
    }

    func clientCommand(_ args: [String], client: SentinelClient) -> RESPValue {
        let sub = args[0].lowercased()
        switch sub {
        case "setname":
            guard isValidClientName(args[1]) else {
                return .simpleError("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            client.update { $0.name = args[1].isEmpty ? nil : args[1] }
            return .simpleString("OK")
        case "getname":
            return client.name.map { .bulkString($0) } ?? .nullBulkString
        case "id":
            return .integer(Int64(client.id))
        case "info":
            return .verbatimString(ByteBuffer(string: "txt:" + clientInfoLine(client) + "\n"))
        case "list":
            var selected = clients.all
            var i = 1
            while i < args.count {
                let option = args[i].lowercased()
                if option == "type", i + 1 < args.count {
                    guard let type = ClientType(args[i + 1]) else {
                        return .simpleError("ERR Unknown client type '\(args[i + 1])'")
                    }
                    selected = selected.filter { type.matches($0, hub: hub) }
                    i += 2
                } else if option == "id", i + 1 < args.count {
                    var ids: Set<UInt64> = []
                    i += 1
                    while i < args.count {
                        guard let id = Int64(args[i]), id > 0 else { return .simpleError("ERR Invalid client ID") }
                        ids.insert(UInt64(id))
                        i += 1
                    }
                    selected = selected.filter { ids.contains($0.id) }
                } else {
                    return .simpleError("ERR syntax error")
                }
            }
            return .verbatimString(ByteBuffer(string: "txt:" + selected.map { clientInfoLine($0) + "\n" }.joined()))
        case "kill":
            return clientKill(args, client: client)
        case "help":
            return SentinelCommandTable.captured("client-help")
        case "no-evict":
            guard ["on", "off"].contains(args[1].lowercased()) else { return .simpleError("ERR syntax error") }
            client.update { $0.noEvict = args[1].lowercased() == "on" }
            return .simpleString("OK")
        case "reply":
            switch args[1].lowercased() {
            case "on": client.update { $0.replyMode = .on }
            case "off": client.update { $0.replyMode = .off }
            case "skip": client.update { if $0.replyMode != .off { $0.replyMode = .skipNext } }
            default: return .simpleError("ERR syntax error")
            }
            return .simpleString("OK")
        case "pause":
            guard args.count <= 3 else { return .simpleError("ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.") }
            guard let ms = Int64(args[1]) else { return .simpleError("ERR timeout is not an integer or out of range") }
            guard ms >= 0 else { return .simpleError("ERR timeout is negative") }
            var writeOnly = false
            if args.count == 3 {
                switch args[2].lowercased() {
                case "write": writeOnly = true
                case "all": writeOnly = false
                default: return .simpleError("ERR CLIENT PAUSE mode must be WRITE or ALL")
                }
            }
            pauseClients(milliseconds: ms, writeOnly: writeOnly)
            return .simpleString("OK")
        case "unpause":
            endClientPause()
            return .simpleString("OK")
        case "unblock":
            // Only a client blocked in a blocking command can be unblocked; a sentinel has none
            // (a client waiting out CLIENT PAUSE is not unblocked either, as in 7.0).
            guard Int64(args[1]) != nil else { return .simpleError("ERR value is not an integer or out of range") }
            if args.count == 3, !["timeout", "error"].contains(args[2].lowercased()) {
                return .simpleError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            }
            return .integer(0)
        case "getredir":
            let t = client.tracking
            return .integer(t.on ? t.redirect : -1)
        case "tracking":
            return clientTracking(args, client: client)
        case "trackinginfo":
            let t = client.tracking
            var flags = [t.on ? "on" : "off"]
            if t.bcast { flags.append("bcast") }
            if t.optIn { flags.append("optin"); if t.caching { flags.append("caching-yes") } }
            if t.optOut { flags.append("optout"); if t.caching { flags.append("caching-no") } }
            if t.noLoop { flags.append("noloop") }
            return .map([
                RESPPair(key: .bulkString("flags"), value: .set(flags.map { .bulkString($0) })),
                RESPPair(key: .bulkString("redirect"), value: .integer(t.on ? t.redirect : -1)),
                RESPPair(key: .bulkString("prefixes"), value: .array(t.prefixes.sorted().map { .bulkString($0) })),
            ])
        case "caching":
            var t = client.tracking
            guard t.on else {
                return .simpleError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
            }
            switch args[1].lowercased() {
            case "yes":
                guard t.optIn else { return .simpleError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.") }
            case "no":
                guard t.optOut else { return .simpleError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.") }
            default:
                return .simpleError("ERR syntax error")
            }
            t.caching = true
            client.update { $0.tracking = t }
            return .simpleString("OK")
        default:
            return .simpleError("ERR unknown subcommand '\(args[0])'. Try CLIENT HELP.")
        }
    }

    /// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p …] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`,
    /// checked in 7.0's order with its texts. A sentinel's port has no keys, so no
    /// invalidation is ever sent; the state is kept and reported.
    func clientTracking(_ args: [String], client: SentinelClient) -> RESPValue {
        var redirect: Int64 = 0
        var bcast = false, optIn = false, optOut = false, noLoop = false
        var prefixes: [String] = []
        var j = 2
        while j < args.count {
            let more = args.count - 1 - j
            switch args[j].lowercased() {
            case "redirect" where more > 0:
                j += 1
                if redirect != 0 { return .simpleError("ERR A client can only redirect to a single other client") }
                guard let id = Int64(args[j]) else { return .simpleError("ERR value is not an integer or out of range") }
                guard clients.all.contains(where: { Int64($0.id) == id }) else {
                    return .simpleError("ERR The client ID you want redirect to does not exist")
                }
                redirect = id
            case "bcast": bcast = true
            case "optin": optIn = true
            case "optout": optOut = true
            case "noloop": noLoop = true
            case "prefix" where more > 0:
                j += 1
                prefixes.append(args[j])
            default:
                return .simpleError("ERR syntax error")
            }
            j += 1
        }
        var t = client.tracking
        switch args[1].lowercased() {
        case "on":
            if !bcast && !prefixes.isEmpty { return .simpleError("ERR PREFIX option requires BCAST mode to be enabled") }
            if t.on && t.bcast != bcast {
                return .simpleError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
            }
            if bcast && (optIn || optOut) { return .simpleError("ERR OPTIN and OPTOUT are not compatible with BCAST") }
            if optIn && optOut { return .simpleError("ERR You can't specify both OPTIN mode and OPTOUT mode") }
            if (optIn && t.optOut) || (optOut && t.optIn) {
                return .simpleError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
            }
            if bcast {
                func overlap(_ a: String, _ b: String) -> Bool { a.utf8.starts(with: b.utf8) || b.utf8.starts(with: a.utf8) }
                for (i, p) in prefixes.enumerated() {
                    if let existing = t.prefixes.sorted().first(where: { overlap($0, p) }) {
                        return .simpleError("ERR Prefix '\(p)' overlaps with an existing prefix '\(existing)'. Prefixes for a single client must not overlap.")
                    }
                    if let other = prefixes[(i + 1)...].first(where: { overlap(p, $0) }) {
                        return .simpleError("ERR Prefix '\(p)' overlaps with another provided prefix '\(other)'. Prefixes for a single client must not overlap.")
                    }
                }
            }
            t.on = true
            t.redirect = redirect
            t.bcast = bcast
            t.optIn = optIn
            t.optOut = optOut
            t.noLoop = noLoop
            if bcast { t.prefixes.formUnion(prefixes.isEmpty ? [""] : prefixes) }
        case "off":
            t = TrackingState()
        default:
            return .simpleError("ERR syntax error")
        }
        client.update { $0.tracking = t }
        return .simpleString("OK")
    }

    enum ClientType {
        case normal, master, replica, pubsub
        init?(_ name: String) {
            switch name.lowercased() {
            case "normal": self = .normal
            case "master": self = .master
            case "replica", "slave": self = .replica
            case "pubsub": self = .pubsub
            default: return nil
            }
        }
        func matches(_ s: SentinelClient, hub: PubSubHub) -> Bool {
            let subscribed = hub.subscriptionCount(s.id) > 0
            switch self {
            case .normal: return !subscribed
            case .pubsub: return subscribed
            case .master, .replica: return false
            }
        }
    }

    /// `CLIENT KILL ip:port` (old form) or `CLIENT KILL <filter> <value> …` with ID, TYPE,
    /// USER, ADDR, LADDR and SKIPME.
    func clientKill(_ args: [String], client: SentinelClient) -> RESPValue {
        if args.count == 2 {
            guard let target = clients.all.first(where: { $0.address == args[1] }) else {
                return .simpleError("ERR No such client")
            }
            target.close()
            return .simpleString("OK")
        }
        guard args.count % 2 == 1 else { return .simpleError("ERR syntax error") }
        var filters: [(SentinelClient) -> Bool] = []
        var skipMe = true
        var i = 1
        while i < args.count {
            let value = args[i + 1]
            switch args[i].lowercased() {
            case "id":
                guard let id = Int64(value), id > 0 else { return .simpleError("ERR client-id should be greater than 0") }
                filters.append { $0.id == UInt64(id) }
            case "type":
                guard let type = ClientType(value) else { return .simpleError("ERR Unknown client type '\(value)'") }
                let hub = self.hub
                filters.append { type.matches($0, hub: hub) }
            case "user":
                guard users[value] != nil else { return .simpleError("ERR No such user '\(value)'") }
                filters.append { $0.user == value }
            case "addr":
                filters.append { $0.address == value }
            case "laddr":
                filters.append { $0.localAddress == value }
            case "skipme":
                switch value.lowercased() {
                case "yes": skipMe = true
                case "no": skipMe = false
                default: return .simpleError("ERR syntax error")
                }
            default:
                return .simpleError("ERR syntax error")
            }
            i += 2
        }
        var killed = 0
        for c in clients.all where filters.allSatisfy({ $0(c) }) {
            if c.id == client.id {
                if skipMe { continue }
                client.update { $0.closeAfterReply = true }
            } else {
                c.close()
            }
            killed += 1
        }
        return .integer(Int64(killed))
    }
}
