import Foundation
import Logging
import NIOCore
import SentinelConfig
import SentinelCore

extension SentinelRuntime {
    // MARK: Config

    /// Core-driven saves (discovery, epochs, failover steps) run at most once per this
    /// interval: the first after a quiet spell in the same pass of the loop as before, the next
    /// ones at the end of the interval, with every change made meanwhile. 200 masters'
    /// discovery otherwise saved ~100 times a second for seconds (each reading, rewriting and
    /// fsyncing a 78 KB file on the loop), and PONGs waited behind the saves: one sentinel of
    /// three marked every master +sdown and -sdown at start-up. Votes (`saveIfPending` before
    /// the reply), admin commands and shutdown save at once, as before.
    static let minSaveInterval: Duration = .milliseconds(100)

    func scheduleSave() {
        // A new epoch, a vote or a new master configuration (a failover's switch) is saved at
        // once, as redis-sentinel's sentinelFlushConfig does (`perform(_:)` saves it before the
        // input's actions; here for any other caller): a sentinel killed right after a switch
        // must not come back with the old master, nor one killed after voting for itself (saved
        // a loop pass later, before) come back without that vote and give the epoch's vote to
        // another candidate (the Sentinel simulator's kills found that, seed 174). Only
        // discovery waits for the interval.
        let urgent = configurationChangedSinceSave()
        if urgent {
            savePending = true
            saveIfPending()
            return
        }
        if savePending { return }
        savePending = true
        let wait = lastSave.map { Self.minSaveInterval - (ContinuousClock.now - $0) } ?? .zero
        if wait <= .zero {
            loop.execute { [weak self] in
                self?.assumeIsolated { $0.saveIfPending() }
            }
        } else {
            loop.scheduleTask(in: TimeAmount(wait)) { [weak self] in
                self?.assumeIsolated { $0.saveIfPending() }
            }
        }
    }

    /// Whether the current epoch, a master's config epoch, its last vote's epoch or its address
    /// differs from what the file holds.
    func configurationChangedSinceSave() -> Bool {
        if state.currentEpoch != configuration.currentEpoch { return true }
        for m in configuration.masters {
            guard let now = state.masters[m.name] else { continue }
            // The leader sets the config epoch at the promotion and the address only at the
            // switch, so both are compared: a file with the new epoch and the old address would
            // make a restarted sentinel ignore its peers' hellos for that (equal) epoch.
            let address = state.currentMasterAddress(m.name) ?? now.address
            if now.configEpoch != m.configEpoch || now.leaderEpoch != m.leaderEpoch || address.port != m.port || announced(address, master: m.name) != m.host {
                return true
            }
        }
        return false
    }

    /// Carries out a save asked for in this pass of the loop now (before a vote's reply leaves).
    func saveIfPending() {
        guard savePending else { return }
        do {
            try saveConfig()
        } catch {
            logger.error("Failed to save config file: \(error)")
        }
    }

    /// The config file's state lines as the core's `SavedSentinelState` (hosts as written: a
    /// name stays a name, looked up by the shell).
    static func savedState(_ configuration: SentinelConfiguration) -> SavedSentinelState {
        SavedSentinelState(currentEpoch: configuration.currentEpoch, masters: configuration.masters.map { m in
            var saved = SavedSentinelState.Master(name: m.name, address: InstanceAddress(ip: m.host, port: m.port), quorum: m.quorum,
                                                  downAfter: m.downAfterMilliseconds, failoverTimeout: m.failoverTimeout,
                                                  parallelSyncs: m.parallelSyncs)
            saved.rebootDownAfter = m.masterRebootDownAfterPeriod
            saved.crashDetection = m.crashDetection
            saved.replicatedDurability = m.replicatedDurability
            saved.configEpoch = m.configEpoch
            saved.leaderEpoch = m.leaderEpoch
            saved.knownReplicas = m.knownReplicas.map { InstanceAddress(ip: $0.host, port: $0.port) }
            saved.knownSentinels = m.knownSentinels.map { .init(address: InstanceAddress(ip: $0.host, port: $0.port), runID: $0.runID) }
            return saved
        })
    }

    /// Writes the state lines to the config file (fsync'd); throws on failure.
    func saveConfig() throws {
        savePending = false
        lastSave = .now
        var config = configuration
        // What the core says a save keeps (`SentinelState.saved`, which the simulator's
        // restarts use too); the settings the core decides with live there (SENTINEL SET
        // changes them there).
        let saved = state.saved
        config.currentEpoch = saved.currentEpoch
        let byName = Dictionary(uniqueKeysWithValues: saved.masters.map { ($0.name, $0) })
        for i in config.masters.indices {
            guard let m = byName[config.masters[i].name] else { continue }
            config.masters[i].host = announced(m.address, master: m.name)
            config.masters[i].port = m.address.port
            config.masters[i].quorum = m.quorum
            config.masters[i].downAfterMilliseconds = m.downAfter
            config.masters[i].failoverTimeout = m.failoverTimeout
            config.masters[i].parallelSyncs = m.parallelSyncs
            config.masters[i].masterRebootDownAfterPeriod = m.rebootDownAfter
            config.masters[i].crashDetection = m.crashDetection
            config.masters[i].replicatedDurability = m.replicatedDurability
            config.masters[i].configEpoch = m.configEpoch
            config.masters[i].leaderEpoch = m.leaderEpoch
            config.masters[i].knownReplicas = m.knownReplicas.map { ($0.ip, $0.port) }
            config.masters[i].knownSentinels = m.knownSentinels.map { ($0.address.ip, $0.address.port, $0.runID) }
        }
        let current = (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? configText
        // ACL users are saved as `user` lines, as Redis's config rewrite does.
        // With an aclfile the users live there (ACL SAVE), not in the config file.
        let userLines = configuration.aclFile != nil ? [] : users.keys.sorted().map { String(users[$0]!.describe(table: .shared)) }
        let text = SentinelConfiguration.rewrite(current, sentinelLines: config.renderSentinelLines(), userLines: userLines,
                                                 directory: FileManager.default.currentDirectoryPath,
                                                 serverLines: config.generatedServerLines)
        try ConfigFileWriter.write(text, to: configPath)
        configuration = config
    }
}
