import ClusterCore
import NIOCore
import RESP
import RedisConnection

// A cluster client's MONITOR (one MONITOR connection per master) and WAIT (answered from the
// replication offsets, `ClusterWaitRun`).
extension ClusterClient {
    // MARK: MONITOR

    /// Keeps one MONITOR connection to each master of the slot map (opened for a new master,
    /// closed for a node no longer one), checked again every second while the client monitors.
    func syncMonitors() {
        monitorResync?.cancel()
        monitorResync = nil
        guard state.monitoring, !closed else { return }
        let masters = Set(pool.topology.masters())
        for (node, link) in monitors where !masters.contains(node) {
            link.close()
            monitors[node] = nil
        }
        for node in masters where monitors[node] == nil {
            var made: ClusterSubscription?
            let link = ClusterSubscription(node: node, topology: pool.topology, eventLoop: pool.eventLoop, protocolVersion: state.protocolVersion,
                                           onValue: { [weak self] value in
                                               guard let self else { return }
                                               if monitorPending.contains(node) {
                                                   monitorConfirmed(node)  // the node's +OK (or its refusal): not the client's
                                               } else {
                                                   monitorLine(value)
                                               }
                                           },
                                           onClose: { [weak self] in
                                               guard let self, let made, monitors[node] === made else { return }
                                               monitors[node] = nil
                                               monitorConfirmed(node)
                                           })
            made = link
            monitorPending.insert(node)
            link.send([ByteBuffer(string: "MONITOR")])
            monitors[node] = link
        }
        monitorResync = pool.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in self?.syncMonitors() }
    }

    /// A master's MONITOR answered (or its connection failed): the client's `+OK` once none is left.
    func monitorConfirmed(_ node: ClusterNodeAddress?) {
        if let node { monitorPending.remove(node) }
        guard monitorPending.isEmpty, let seq = monitorReply else { return }
        monitorReply = nil
        complete(seq, .simpleString("OK"))
    }

    func stopMonitoring() {
        monitorPending = []
        if let seq = monitorReply {
            monitorReply = nil
            complete(seq, .simpleString("OK"))
        }
        monitorResync?.cancel()
        monitorResync = nil
        for link in monitors.values { link.close() }
        monitors = [:]
        monitorLines = []  // not yet written: a node would have sent them before the RESET's reply
    }

    func monitorLine(_ value: RESPValue) {
        guard !closed, state.monitoring, let context else { return }
        writeOutOfOrder(value, context: context, holding: &monitorLines)
    }

    // MARK: WAIT

    /// Starts the pending WAIT once every reply before it is written: its target offsets are
    /// then read after the client's earlier writes were acknowledged.
    func startWaitIfReady() {
        guard let (seq, request, version) = waitToStart, firstSeq == seq, !closed else { return }
        waitToStart = nil
        let run = ClusterWaitRun(pool: pool, request: request, cancelled: { [weak self] in self?.closed ?? true }) { [weak self] answer in
            guard let self else { return }
            if answer.errorMessage?.hasPrefix("UNBLOCKED") == true { pool.topology.requestRefresh() }
            complete(seq, answer.forProtocol(version))
            blockedByWait = false
            resumeAfterWait()
        }
        run.start()
    }

    /// The commands that came while WAIT blocked, in order (until another WAIT blocks).
    func resumeAfterWait() {
        guard let context else { return }
        while !blockedByWait, !closed, closeAfter == nil, let next = deferred.popFirst() {
            process(next, context: context)
        }
        if readPaused && deferred.count < Self.maxPending / 2 && replies.count < Self.maxPending / 2 {
            readPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }
}
