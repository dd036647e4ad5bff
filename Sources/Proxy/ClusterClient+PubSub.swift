import ClusterCore
import Logging
import NIOCore
import RESP
import RedisConnection

// A cluster client's pub/sub: its own connections to the masters holding its subscriptions,
// answered through `PubSubSequencer` as one node's connection would be; RESET while subscribed.
extension ClusterClient {

    /// A subscription command (or PING while subscribed) on the client's own connections:
    /// SSUBSCRIBE to its channels' master, SUNSUBSCRIBE to the connections holding them (a
    /// channel nobody holds answered here, as its node would), the rest to `mainNode`'s. The
    /// answers come through the sequencer, so the command takes no reply slot.
    func subscribe(_ target: OwnTarget, _ arguments: [ByteBuffer], seq: UInt64) {
        let name = CommandKeys.word(arguments, 0)
        switch name {
        case "SSUBSCRIBE":
            guard case .slot(let slot) = target, let node = pool.topology.master(forSlot: slot) else {
                return noMaster(seq)
            }
            replies.removeLast()
            for channel in arguments.dropFirst() { shardNode[channel] = node }
            send(arguments, on: node, kind: .client())
        case "SUNSUBSCRIBE":
            replies.removeLast()
            let named = Array(arguments.dropFirst())
            if named.isEmpty {
                // Every channel, one command per slot (a node refuses channels of two slots in
                // one: CROSSSLOT) on the connection holding it.
                var bySlot: [Int: (node: ClusterNodeAddress, channels: [ByteBuffer])] = [:]
                for (channel, node) in shardNode {
                    bySlot[HashSlot.slot(of: channel.readableBytesView), default: (node, [])].channels.append(channel)
                }
                shardNode = [:]
                if bySlot.isEmpty { apply(sequencer.answered([shardUnsubscribed(nil)])) }
                for (_, group) in bySlot.sorted(by: { $0.key < $1.key }) {
                    send([arguments[0]] + group.channels, on: group.node, kind: .client(), unsubscribing: group.channels)
                }
            } else {
                for channel in named {
                    if let node = shardNode.removeValue(forKey: channel) {
                        send([arguments[0], channel], on: node, kind: .client(), unsubscribing: [channel])
                    } else {
                        apply(sequencer.answered([shardUnsubscribed(channel)]))
                    }
                }
            }
        default:
            // SUBSCRIBE, PSUBSCRIBE, their UNSUBSCRIBEs, PING.
            guard let node = mainNode ?? links.keys.sorted(by: { "\($0)" < "\($1)" }).first ?? pool.topology.anyMaster() else {
                return noMaster(seq)
            }
            replies.removeLast()
            mainNode = node
            send(arguments, on: node, kind: .client(ping: name == "PING"))
        }
    }

    /// `sunsubscribe <channel> <count>` as a node would send it for a channel it does not hold
    /// (the count is the sequencer's): a push in RESP3.
    func shardUnsubscribed(_ channel: ByteBuffer?) -> RESPValue {
        let items: [RESPValue] = [.bulkString(ByteBuffer(string: "sunsubscribe")), channel.map { .bulkString($0) } ?? .nullBulkString, .integer(0)]
        return state.protocolVersion == 3 ? .push(items) : .array(items)
    }

    func noMaster(_ seq: UInt64) {
        if links.isEmpty { state.subscriptionsEnded() }
        complete(seq, .simpleError("CLUSTERDOWN Tandem proxy: no master known for this subscription"))
    }

    /// Sends a command on the connection to `node` (made if there is none), with the PING that
    /// marks the end of its answers.
    func send(_ arguments: [ByteBuffer], on node: ClusterNodeAddress, kind: PubSubSequencer<ClusterNodeAddress>.Kind,
                      unsubscribing: [ByteBuffer]? = nil) {
        let link = link(to: node)
        sequencer.sent(on: node, kind: kind, unsubscribing: unsubscribing, command: arguments)
        link.send(arguments)
        link.send([ByteBuffer(string: "PING")])
    }

    func link(to node: ClusterNodeAddress) -> ClusterSubscription {
        if let link = links[node] { return link }
        var made: ClusterSubscription?
        let link = ClusterSubscription(node: node, topology: pool.topology, eventLoop: pool.eventLoop, protocolVersion: state.protocolVersion,
                                       onValue: { [weak self] value in
                                           guard let self, let made, self.links[node] === made else { return }
                                           self.apply(self.sequencer.received(value, from: node))
                                       },
                                       onClose: { [weak self] in
                                           guard let self, let made, self.links[node] === made else { return }
                                           self.linkClosed(node)
                                       })
        made = link
        links[node] = link
        return link
    }

    /// Carries out what the sequencer says: values to the client, shard channels to subscribe
    /// again where their slot went, commands redirected to send again.
    func apply(_ output: PubSubSequencer<ClusterNodeAddress>.Output) {
        guard !closed, let context else { return }
        for value in output.write {
            if let items = value.array, items.count == 3, let kind = items[0].string?.lowercased(),
               kind == "unsubscribe" || kind == "punsubscribe" || kind == "sunsubscribe", items[2].int == 0,
               state.channels.isEmpty && state.patterns.isEmpty && state.shardChannels.isEmpty {
                state.subscriptionsEnded()
            }
            writeOutOfOrder(value, context: context, holding: &outOfBand)
        }
        if !output.moved.isEmpty { resubscribe(shard: output.moved) }
        for redirected in output.resend { resend(redirected.id, redirected.command) }
        finishResetIfReady()
    }

    /// RESET while subscribed, once every earlier subscription command is answered: the
    /// connections closed (the nodes unsubscribe it, no confirmations), +RESET, later commands go.
    func finishResetIfReady() {
        // After every earlier reply and subscription answer is written (`complete` calls this
        // too): a RESP3 client's regular commands before it may still be owed.
        guard let answer = resetAnswer, sequencer.isIdle, replies.isEmpty, outOfBand.isEmpty, !closed, let context else { return }
        resetAnswer = nil
        for link in links.values { link.close() }
        links = [:]
        mainNode = nil
        shardNode = [:]
        sequencer = PubSubSequencer()
        writeOutOfOrder(answer, context: context, holding: &outOfBand)
        blockedByWait = false
        resumeAfterWait()
    }

    /// Shard channels whose node let them go (a slot moved) or died: subscribed again, by the
    /// proxy, on their slot's master once the map is fresh; the client sees nothing.
    func resubscribe(shard channels: [ByteBuffer]) {
        for channel in channels { shardNode[channel] = nil }
        pool.topology.requestRefresh()
        pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { [self] in
            guard !closed else { return }
            // One SSUBSCRIBE per slot (a node refuses channels of two slots in one: CROSSSLOT).
            var bySlot: [Int: [ByteBuffer]] = [:]
            var masterless: [ByteBuffer] = []
            for channel in channels where state.shardChannels.contains(channel) && shardNode[channel] == nil {
                let slot = HashSlot.slot(of: channel.readableBytesView)
                if pool.topology.master(forSlot: slot) == nil { masterless.append(channel) } else { bySlot[slot, default: []].append(channel) }
            }
            for (slot, list) in bySlot.sorted(by: { $0.key < $1.key }) {
                guard let node = pool.topology.master(forSlot: slot) else { continue }
                for channel in list { shardNode[channel] = node }
                send([ByteBuffer(string: "SSUBSCRIBE")] + list, on: node, kind: .own)
            }
            if !masterless.isEmpty { resubscribe(shard: masterless) }
        }
    }

    /// A command answered MOVED or ASK: sent again, in its place, to its channel's master once
    /// the map is fresh.
    func resend(_ id: Int, _ command: [ByteBuffer]) {
        pool.topology.requestRefresh()
        pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { [self] in
            guard !closed else { return }
            let name = CommandKeys.word(command, 0)
            let node: ClusterNodeAddress?
            if name == "SSUBSCRIBE" || name == "SUNSUBSCRIBE" {
                let channel = command.count > 1 ? command[1] : ByteBuffer()
                node = pool.topology.master(forSlot: HashSlot.slot(of: channel.readableBytesView))
            } else {
                // SUBSCRIBE, PSUBSCRIBE (their connection closed): the channels' connection.
                node = mainNode ?? links.keys.sorted(by: { "\($0)" < "\($1)" }).first ?? pool.topology.anyMaster()
                if mainNode == nil { mainNode = node }
            }
            guard let node else { return resend(id, command) }
            if name == "SSUBSCRIBE" {
                for channel in command.dropFirst() { shardNode[channel] = node }
            }
            let link = link(to: node)
            sequencer.resent(id, on: node)
            link.send(command)
            link.send([ByteBuffer(string: "PING")])
        }
    }

    /// A subscription connection closed (its node died or failed over): what it held is
    /// subscribed again, by the proxy, on a master found afresh.
    func linkClosed(_ node: ClusterNodeAddress) {
        links[node] = nil
        apply(sequencer.closed(node))
        guard !closed else { return }
        let shard = shardNode.filter { $0.value == node }.map(\.key)
        if !shard.isEmpty { resubscribe(shard: shard) }
        guard mainNode == node else { return }
        mainNode = nil
        resubscribeMain()
    }

    /// The channels and patterns subscribed again on a live master (their connection closed).
    func resubscribeMain() {
        guard !state.channels.isEmpty || !state.patterns.isEmpty else { return }
        pool.topology.requestRefresh()
        pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { [self] in
            guard !closed, mainNode == nil, !state.channels.isEmpty || !state.patterns.isEmpty else { return }
            guard let node = links.keys.sorted(by: { "\($0)" < "\($1)" }).first ?? pool.topology.anyMaster() else {
                return resubscribeMain()
            }
            mainNode = node
            for (name, list) in [("SUBSCRIBE", state.channels), ("PSUBSCRIBE", state.patterns)] where !list.isEmpty {
                send([ByteBuffer(string: name)] + list, on: node, kind: .own)
            }
        }
    }
}
