import Logging
import NIOCore
import RedisConnection

extension MasterDiscovery {
    /// `--backend` mode: checks every backend each interval (in parallel, over connections kept
    /// between checks) and lets `BackendSelector` decide; publishes its choice.
    func checkBackends(_ endpoints: [ProxyEndpoint]) async {
        let interval = Duration.nanoseconds(settings.checkInterval.nanoseconds)
        let intervalMillis = Millis(settings.checkInterval.nanoseconds / 1_000_000)
        // Three checks without growth while another master's offset grows: it has stopped taking writes.
        var selector = BackendSelector(endpoints: endpoints, rise: settings.rise, fall: settings.fall,
                                       stallAfter: max(3 * intervalMillis, 1000))
        var connections: [RedisConnection?] = Array(repeating: nil, count: endpoints.count)
        let clock = ContinuousClock()
        let start = clock.now
        func millis() -> Millis { Millis((clock.now - start) / .milliseconds(1)) }
        while !Task.isCancelled {
            let started = clock.now
            let inputs = Array(zip(endpoints, connections))
            let results = await withTaskGroup(of: (Int, BackendCheck, RedisConnection?).self) { group in
                for (i, input) in inputs.enumerated() {
                    group.addTask { await self.checkBackend(input.0, input.1, index: i) }
                }
                var all: [(Int, BackendCheck, RedisConnection?)] = []
                for await r in group { all.append(r) }
                return all
            }
            let now = millis()
            for (i, result, connection) in results.sorted(by: { $0.0 < $1.0 }) {
                connections[i] = connection
                for note in selector.record(result, for: i, now: now) { log(note) }
            }
            let (selection, notes) = selector.select(current: router.currentMaster, now: now)
            for note in notes { log(note) }
            if let master = selection.master {
                if selection.confirmed { router.publish(master) }
            } else {
                router.publish(nil)
            }
            router.publishReplicas(selection.replicas)
            // Sleep out the interval, but check again at once when a loop reports trouble.
            while !Task.isCancelled && clock.now - started < interval {
                try? await Task.sleep(for: .milliseconds(50))
                if router.takeTrouble() { break }
            }
        }
        for connection in connections { await connection?.close() }
    }

    private func log(_ note: BackendSelector.Note) {
        switch note {
        case .up(let endpoint, let isMaster):
            logger.notice("backend \(endpoint) is up (\(isMaster ? "master" : "replica"))")
        case .down(let endpoint, let reason):
            logger.warning("backend \(endpoint) is down: \(reason)")
        case .severalMasters(let names, let chosen, let rule):
            logger.warning("\(names.count) backends claim role:master (\(names.map(\.description).joined(separator: ", "))); routing only to \(chosen): \(rule)")
        }
    }

    private func checkBackend(_ endpoint: ProxyEndpoint, _ existing: RedisConnection?, index: Int) async -> (Int, BackendCheck, RedisConnection?) {
        var connection = existing
        do {
            if connection == nil || connection?.isActive == false {
                await connection?.close()
                connection = nil
                connection = try await connectBackend(endpoint)
            }
            try await connection!.ping(timeout: settings.checkInterval)
            let info = try await connection!.info("replication")
            guard let replication = info.section("replication"), let role = replication["role"] else {
                return (index, .failed("INFO replication has no role"), connection)
            }
            var follows: ProxyEndpoint?
            if let host = replication["master_host"], let port = replication["master_port"].flatMap({ Int($0) }) {
                follows = ProxyEndpoint(host: host, port: port)
            }
            let offset = replication["master_repl_offset"].flatMap { Int64($0) }
            return (index, .passed(isMaster: role == "master", follows: follows, offset: offset), connection)
        } catch {
            await connection?.close()
            return (index, .failed("\(error)"), nil)
        }
    }
}
