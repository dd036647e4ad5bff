import Logging
import NIOCore
import NIOSSL
import RedisConnection
import SentinelConfig
import SentinelCore

/// The links to instances: one task per master or replica (command connection plus a
/// `__sentinel__:hello` subscription), and one per peer sentinel address, shared by every
/// master that peer watches with us.
extension SentinelRuntime {
    struct LinkTask {
        var id: UInt64
        var address: InstanceAddress
        var task: Task<Void, Never>
    }

    /// A connection to a peer sentinel, shared by every master's entry for that peer as 7.0
    /// shares an instance link: with 200 masters, one connection to each peer (and one PING per
    /// period, see `SentinelState.updatePeer`) instead of 200.
    struct PeerLink {
        var id: UInt64
        var task: Task<Void, Never>
        var refs: Set<InstanceRef>
        var connection: RedisConnection?
    }

    func openLink(_ ref: InstanceRef, _ address: InstanceAddress) {
        if let existing = links[ref], existing.address == address { return }
        links.removeValue(forKey: ref)?.task.cancel()
        if let c = connections.removeValue(forKey: ref) { retire(c) }
        let config = linkConfiguration(ref, address)
        let loop = self.loop
        nextLinkID += 1
        let id = nextLinkID
        let logger = self.logger
        let task = Task { [weak self] in
            var tlsFailure: String?
            // After a drop, connects that fail otherwise than refused are retried after 10 ms,
            // this many times, before the 200 ms reconnect period applies.
            var quickRetries = 0
            while !Task.isCancelled {
                // A link that was up and dropped is retried at once: a crashed process's port
                // then refuses at once, which is what crash detection waits for. A connect
                // made in the instant the dying process still listens is accepted and reset
                // (about 1 in 8 on loopback): tried again 10 ms later, not 200 ms (that wait
                // was issue 18's promotion tail: two sentinels of three crash-down 200 ms late).
                var retryAtOnce = false
                var retrySoon = false
                do {
                    let c = try await RedisConnection.connect(config, eventLoopGroup: loop)
                    tlsFailure = nil
                    guard let self else { await c.close(); return }
                    guard await self.linkUp(ref, id, c) else { return }
                    var sub = config
                    sub.clientName = "sentinel-\(await self.state.myID.prefix(8))-pubsub"
                    // Hellos are handed to the core on the loop as they arrive.
                    let pubsub = try await RedisConnection.connect(sub, eventLoopGroup: loop) { [weak self] message in
                        self?.assumeIsolated { $0.input(.hello(message.text)) }
                    }
                    try await pubsub.subscribe(["__sentinel__:hello"])
                    // Until the command connection closes (a drop, or .disconnect once its
                    // transactions are answered); its close closes the subscription. Not the
                    // other way round: a failover's SLAVEOF transaction kills the instance's
                    // pubsub clients (ours too) while its EXEC reply is still on the way.
                    // No child tasks waiting: with hundreds of links, their memory counts.
                    c.closeFuture.whenComplete { _ in pubsub.closeNow() }
                    await c.waitUntilClosed()
                    await pubsub.waitUntilClosed()
                    await self.linkDown(ref, id, c)
                    retryAtOnce = true
                    quickRetries = 3
                } catch let error as RedisConnectionError where error.isConnectionRefused {
                    quickRetries = 0
                    await self?.linkRefused(ref, id)
                } catch {
                    tlsFailure = Self.logTLSFailure(error, link: config, after: tlsFailure, logger: logger)
                    await self?.linkFailed(ref, id)
                    if quickRetries > 0 {
                        quickRetries -= 1
                        retrySoon = true
                    }
                }
                if Task.isCancelled { return }
                if retryAtOnce { continue }
                try? await Task.sleep(for: .milliseconds(retrySoon ? 10 : 200))  // reconnect period
            }
        }
        links[ref] = LinkTask(id: id, address: address, task: task)
    }

    /// Logs a link's TLS failure (unknown CA, a plain-text server, …) naming the instance, once
    /// per reason: the link retries every 200 ms. Returns the reason now in force.
    nonisolated static func logTLSFailure(_ error: any Error, link: RedisConnectionConfiguration, after previous: String?,
                                          logger: Logger) -> String? {
        guard let e = error as? RedisConnectionError, e.code == .tlsFailed else { return previous }
        if e.message != previous {
            logger.warning("TLS connection to \(link.serverDescription) failed: \(e.message)")
        }
        return e.message
    }

    /// Reports of a link that was replaced or dropped (its task cancelled) are ignored: only the
    /// current link of an instance may say it is up or down.
    private func isCurrent(_ ref: InstanceRef, _ id: UInt64) -> Bool { links[ref]?.id == id }

    /// How the link to an instance connects: its address, its credentials, our client name.
    func linkConfiguration(_ ref: InstanceRef, _ address: InstanceAddress) -> RedisConnectionConfiguration {
        var connection = RedisConnectionConfiguration(host: address.ip, port: address.port, connectTimeout: .seconds(1),
                                                      commandTimeout: .seconds(60),
                                                      clientName: "sentinel-\(state.myID.prefix(8))-cmd")
        // Replies are PONGs and hellos of a few dozen bytes, INFO of a few KB every 10 s: small
        // first buffers keep hundreds of links from holding 2 KB or more each, and a cap keeps
        // an INFO reply from growing a link's buffer for good (it is read in a few reads).
        connection.initialReadBufferSize = 256
        connection.maximumReadBufferSize = 1024
        connection.tlsContext = tlsClient
        if isSentinel(ref) {
            connection.username = configuration.sentinelUser
            connection.password = configuration.sentinelPass
        } else if let m = configuration.master(ref.masterName) {
            connection.username = m.authUser
            connection.password = m.authPass
        }
        return connection
    }

    private func linkUp(_ ref: InstanceRef, _ id: UInt64, _ connection: RedisConnection) -> Bool {
        guard isCurrent(ref, id) else {
            Task { await connection.close() }
            return false
        }
        connections[ref] = connection
        learnAnnounceIP(connection)
        input(.linkUp(ref))
        return true
    }

    private func learnAnnounceIP(_ connection: RedisConnection) {
        if state.learnsAnnounceIP, let ip = connection.localIP { state.learnAnnounceIP(ip) }
    }

    private func linkDown(_ ref: InstanceRef, _ id: UInt64, _ connection: RedisConnection) {
        guard isCurrent(ref, id) else { return }
        if connections[ref] === connection { connections[ref] = nil }
        input(.linkDown(ref))
    }

    private func linkFailed(_ ref: InstanceRef, _ id: UInt64) {
        guard isCurrent(ref, id) else { return }
        if let c = connections.removeValue(forKey: ref) { retire(c) }
        input(.linkDown(ref))
    }

    /// The connect was refused (ECONNREFUSED): the core decides whether that, with the
    /// replicas' view, is a crash (it asks them for INFO at once).
    private func linkRefused(_ ref: InstanceRef, _ id: UInt64) {
        guard isCurrent(ref, id) else { return }
        if let c = connections.removeValue(forKey: ref) { retire(c) }
        input(.connectionRefused(ref))
    }

    // MARK: Peer sentinels

    /// A master's entry for a peer joins the link to that address (made if it is the first).
    func joinPeerLink(_ ref: InstanceRef, _ address: InstanceAddress) {
        if let current = peerAddresses[ref] {
            if current == address { return }
            leavePeerLink(ref)
        }
        peerAddresses[ref] = address
        if peerLinks[address] != nil {
            peerLinks[address]!.refs.insert(ref)
            if let c = peerLinks[address]!.connection {
                connections[ref] = c
                input(.linkUp(ref))
            }
            return
        }
        let loop = self.loop
        nextLinkID += 1
        let id = nextLinkID
        let logger = self.logger
        let task = Task { [weak self] in
            var tlsFailure: String?
            while !Task.isCancelled {
                // The credentials as they are now: SENTINEL CONFIG SET sentinel-user/sentinel-pass
                // takes effect at the next attempt (a peer that requires them refuses the last).
                guard let config = await self?.linkConfiguration(ref, address) else { return }
                do {
                    let c = try await RedisConnection.connect(config, eventLoopGroup: loop)
                    tlsFailure = nil
                    guard let self else { await c.close(); return }
                    guard await self.peerLinkUp(address, id, c) else { return }
                    await withTaskCancellationHandler {
                        await c.waitUntilClosed()
                    } onCancel: {
                        Task { await c.close() }
                    }
                    await c.close()
                    await self.peerLinkDown(address, id)
                } catch {
                    tlsFailure = Self.logTLSFailure(error, link: config, after: tlsFailure, logger: logger)
                    await self?.peerLinkDown(address, id)
                }
                if Task.isCancelled { return }
                try? await Task.sleep(for: .milliseconds(200))  // reconnect period
            }
        }
        peerLinks[address] = PeerLink(id: id, task: task, refs: [ref])
    }

    /// An entry leaves its peer's link; the last one out closes it.
    func leavePeerLink(_ ref: InstanceRef) {
        guard let address = peerAddresses.removeValue(forKey: ref) else { return }
        connections[ref] = nil
        peerLinks[address]?.refs.remove(ref)
        guard peerLinks[address]?.refs.isEmpty == true, let link = peerLinks.removeValue(forKey: address) else { return }
        link.task.cancel()
        if let c = link.connection { retire(c) }
    }

    /// The entries of the peer, in a stable order (by master name).
    private func peerRefs(_ address: InstanceAddress) -> [InstanceRef] {
        (peerLinks[address]?.refs ?? []).sorted { $0.masterName < $1.masterName }
    }

    private func peerLinkUp(_ address: InstanceAddress, _ id: UInt64, _ connection: RedisConnection) -> Bool {
        guard peerLinks[address]?.id == id else {
            Task { await connection.close() }
            return false
        }
        peerLinks[address]!.connection = connection
        learnAnnounceIP(connection)
        for ref in peerRefs(address) {
            connections[ref] = connection
            input(.linkUp(ref))
        }
        return true
    }

    private func peerLinkDown(_ address: InstanceAddress, _ id: UInt64) {
        guard peerLinks[address]?.id == id else { return }
        peerLinks[address]!.connection = nil
        for ref in peerRefs(address) {
            connections[ref] = nil
            input(.linkDown(ref))
        }
    }
}
