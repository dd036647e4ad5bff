import ClusterCore
import NIOCore
import RESP
import RedisConnection

// A cluster client's CLIENT TRACKING: its own tracking connections to the nodes, the
// CLIENT TRACKING commands answered on one of them in order, invalidations passed on.
extension ClusterClient {
    /// CLIENT TRACKING: a node of the client's own tracking connections answers it (they are
    /// opened for the first ON, each set up with the ON commands accepted so far), always the
    /// same one (`controlNode`) and one command at a time, so that an ON and an OFF take effect
    /// in the client's order. An accepted ON is sent on the client's other tracking connections
    /// too; an accepted OFF retires them (the client's commands go to the shared ones again).
    func trackingCommand(_ arguments: [ByteBuffer], seq: UInt64, version: Int) {
        let on = CommandKeys.word(arguments, 2) == "ON"
        guard trackingLinks != nil || on else {
            // OFF (or a word a node refuses) while not tracking: any node answers as it would.
            pool.run(arguments, target: .anyMaster, readOnly: false, protocolVersion: version) { [self] in complete(seq, $0) }
            return
        }
        let set = trackingLinks ?? makeTrackingLinks()
        set.control.append((arguments, seq, version))
        if set.control.count == 1 { sendTrackingCommand(on: set) }
    }

    /// Sends the first queued CLIENT TRACKING of `set` on its control connection.
    private func sendTrackingCommand(on set: ClusterLinkSet) {
        guard let (arguments, seq, version) = set.control.first else { return }
        func next(_ reply: ClusterReply) {
            complete(seq, reply)
            set.control.removeFirst()
            // Not tracking after this one (OFF, a refused or failed first ON): the set has no use.
            if !set.retired && !state.tracking.on && trackingLinks === set { retireTracking(afterReset: false) }
            if set.retired {
                let queued = set.control
                set.control = []
                for (arguments, seq, version) in queued {
                    if set.retiredByReset {
                        // Sent before a RESET that has since ended tracking: answered by a node on a
                        // connection of its own that then closes (no state is kept from it).
                        answerAlone(arguments, seq: seq, version: version)
                    } else {
                        // After an OFF or a refused ON: taken afresh (an ON opens a new set).
                        trackingCommand(arguments, seq: seq, version: version)
                    }
                }
                return
            }
            sendTrackingCommand(on: set)
        }
        let masters = pool.topology.masters()
        guard let master = set.controlNode.flatMap({ masters.contains($0) ? $0 : nil }) ?? pool.topology.anyMaster() else {
            next(.value(.simpleError("CLUSTERDOWN Tandem proxy: no master known")))
            return
        }
        set.controlNode = master
        pool.connection(to: master, protocolVersion: version, in: set, force: true).assumeIsolated().whenComplete { [self] result in
            guard case .success(let link) = result else {
                next(.value(.simpleError("ERR Tandem proxy: cannot reach master \(master) for CLIENT TRACKING")))
                return
            }
            link.send(encoding: arguments) { [self] result in
                guard case .success(let frame) = result else {
                    next(.value(.simpleError("ERR Tandem proxy: the connection to \(master) closed before CLIENT TRACKING's reply")))
                    return
                }
                if !set.retired && frame.readableBytesView.first == UInt8(ascii: "+") {
                    state.trackingAccepted(arguments)
                    if state.tracking.on {
                        set.setup = state.tracking.commands
                        sendToOthers(arguments, in: set, except: link)
                        if state.tracking.broadcast { syncBroadcastLinks(announceNew: false) }
                    }
                }
                next(.frame(frame))
            }
        }
    }

    /// A CLIENT TRACKING answered by a node on a connection of its own, closed afterwards.
    private func answerAlone(_ arguments: [ByteBuffer], seq: UInt64, version: Int) {
        guard !closed else { return }
        guard let master = pool.topology.anyMaster() else {
            complete(seq, .simpleError("CLUSTERDOWN Tandem proxy: no master known"))
            return
        }
        let lone = ClusterLinkSet(shared: false)
        lone.retired = true
        pool.connection(to: master, protocolVersion: version, in: lone, force: true).assumeIsolated().whenComplete { [self] result in
            guard case .success(let link) = result else {
                complete(seq, .simpleError("ERR Tandem proxy: cannot reach master \(master) for CLIENT TRACKING"))
                return
            }
            link.send(encoding: arguments) { [self] result in
                complete(seq, (try? result.get()).map(ClusterReply.frame) ?? .value(.simpleError("ERR Tandem proxy: no reply to CLIENT TRACKING")))
                link.closeWhenIdle()
            }
        }
    }

    /// An accepted ON on the set's other connections (one still connecting gets it once open).
    private func sendToOthers(_ arguments: [ByteBuffer], in set: ClusterLinkSet, except link: ClusterNodeLink) {
        for other in set.links.values {
            switch other {
            case .ready(let other) where other !== link:
                other.send(encoding: arguments) { reply in
                    // A node that refuses what another accepted cannot track as asked.
                    if case .success(let frame) = reply, frame.readableBytesView.first == UInt8(ascii: "+") { return }
                    other.close()
                }
            case .connecting(let future):
                future.assumeIsolated().whenSuccess { other in other.send(encoding: arguments, completion: nil) }
            default:
                break
            }
        }
    }

    private func makeTrackingLinks() -> ClusterLinkSet {
        let set = ClusterLinkSet(shared: false)
        set.onPush = { [weak self] frame in self?.trackingPush(frame) }
        // OPTIN's CACHING yes lost on an ASK redirection: the node may not track what was read;
        // the client drops its cache after that reply.
        set.onUntracked = { [weak self] in self?.trackingPush(ProxySession.invalidateEverything) }
        set.onLinkClosed = { [weak self] in
            // What that node tracked is forgotten, and a change may have gone unannounced: a
            // RESP3 client drops its whole cache (Redis's invalidate push with a null, as after FLUSHALL).
            guard let self, state.tracking.on else { return }
            trackingPush(ProxySession.invalidateEverything)
        }
        trackingLinks = set
        return set
    }

    /// An invalidation: after the replies the client is still owed (a node writes it after the
    /// replies to commands it ran before the change); none to a client that speaks RESP2 now
    /// (a node sends a RESP2 client none).
    func trackingPush(_ frame: ByteBuffer) {
        guard !closed, let context, state.protocolVersion == 3 else { return }
        let value = (try? RESPValueParser.parseReply(frame)) ?? .push([.bulkString("invalidate"), .null])
        writeOutOfOrder(value, context: context, holding: &outOfBand)
    }

    /// BCAST: every master sends the invalidations of its own keys, so the client needs a
    /// tracking connection to each, read or not. Checked now and every second (failovers
    /// and reshards change the masters). A master linked for the first time while tracking
    /// was already on may have changed keys unannounced: a RESP3 client drops its cache then.
    func syncBroadcastLinks(announceNew: Bool) {
        broadcastResync?.cancel()
        broadcastResync = nil
        guard let set = trackingLinks, state.tracking.on, state.tracking.broadcast, !closed else { return }
        let version = state.protocolVersion
        var newMaster = false
        for master in pool.topology.masters() where set.links[ClusterLoopPool.LinkKey(node: master, protocolVersion: version)] == nil {
            if set.linkedOnce.insert(master).inserted { newMaster = true }
            _ = pool.connection(to: master, protocolVersion: version, in: set)
        }
        if newMaster && announceNew { trackingPush(ProxySession.invalidateEverything) }
        broadcastResync = pool.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in
            self?.syncBroadcastLinks(announceNew: true)
        }
    }

    /// Tracking ended (OFF, RESET, a refused or failed first ON, the client gone): the tracking
    /// connections take no more commands and close once their replies are in; their pushes no
    /// longer reach the client.
    func retireTracking(afterReset: Bool) {
        broadcastResync?.cancel()
        broadcastResync = nil
        guard let set = trackingLinks else { return }
        trackingLinks = nil
        set.retiredByReset = afterReset
        set.retire()
    }
}
