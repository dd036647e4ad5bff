import Alerts
import KeepalivedConfig
import Synchronization
import VRRPCore
#if canImport(Glibc)
import Glibc
#endif

/// Notify scripts, FIFO lines, state callbacks and smtp alerts on a transition (keepalived's).
extension VRRPDaemon {
    func notify(_ i: Int, state: VRRPState, priority: UInt8) {
        let config = instances[i].config
        let specific: NotifyCommand? = switch state {
        case .master: config.notifyMaster
        case .backup: config.notifyBackup
        case .fault: config.notifyFault
        case .stopped: config.notifyStop
        case .initialize: nil
        }
        runNotify(specific, generic: config.notify, arguments: ["INSTANCE", config.name, state.rawValue, String(priority)],
                  tag: "notify", state: state.rawValue)
        if state != .initialize { writeFIFOs(NotifyFIFO.instance(config.name, state: state, priority: priority)) }
        onStateChange?(config.name, state, priority, config.virtualAddresses.filter { !$0.excluded }.map { "\($0.address)" },
                       instances[i].core.faultCauses)
        if state != .initialize { mail(config, state: state.rawValue) }
    }

    /// The instance's `smtp_alert` mail for `state`, if it (or global_defs) asks for alerts.
    private func mail(_ config: VRRPInstanceConfig, state: String) {
        let global = configuration.global
        guard (config.smtpAlert ?? global.smtpAlertVRRP ?? global.smtpAlert) == true, let smtp else { return }
        let (subject, body) = SMTPAlert.message(routerID: global.routerID ?? hostName(), instance: config.name, state: state)
        let log = self.log
        let name = config.name
        let inFlight = mailInFlight
        inFlight.count.add(1, ordering: .sequentiallyConsistent)
        smtp.send(subject: subject, body: body) { error in
            defer { inFlight.count.subtract(1, ordering: .sequentiallyConsistent) }
            log("(\(name)) " + (error.map { "smtp alert failed: \($0)" } ?? "smtp alert sent: \(subject)"))
        }
    }

    /// A reload removed instance `i` (keepalived 2.2.7, seen in the lab): its generic `notify`,
    /// the FIFOs and its smtp_alert mail say FAULT, or DELETED with `notify_deleted` (whose
    /// script runs too); notify_fault does not run.
    func notifyRemoved(_ i: Int, priority: UInt8) {
        let config = instances[i].config
        let word = config.notifyDeleted ? "DELETED" : VRRPState.fault.rawValue
        runNotify(config.notifyDeleted ? config.notifyDeletedScript : nil, generic: config.notify,
                  arguments: ["INSTANCE", config.name, word, String(priority)], tag: "notify", state: word)
        writeFIFOs("INSTANCE \"\(config.name)\" \(word) \(priority)\n")
        mail(config, state: word)
    }

    /// A sync group member entered `state`: the group's own state may change with it.
    func groupEntered(member i: Int, state: VRRPState) {
        guard let group = configuration.syncGroups.first(where: { $0.members.contains(instances[i].config.name) }) else { return }
        let members = group.members.compactMap { name in instances.first { $0.config.name == name }?.core.state }
        let current = groupStates[group.name] ?? .initialize
        guard let next = VRRPSyncGroup.groupState(current: current, memberEntered: state, members: members) else { return }
        groupStates[group.name] = next
        log("VRRP_Group(\(group.name)) \(next == .stopped ? "Stopped" : "Syncing instances to \(next.rawValue) state")")
        let specific: NotifyCommand? = switch next {
        case .master: group.notifyMaster
        case .backup: group.notifyBackup
        case .fault: group.notifyFault
        case .stopped: group.notifyStop
        case .initialize: nil
        }
        runNotify(specific, generic: group.notify, arguments: ["GROUP", group.name, next.rawValue, "0"],
                  tag: "group_notify", state: next.rawValue)
        writeFIFOs(NotifyFIFO.group(group.name, state: next))
    }

    func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return cString(buffer)
    }

    /// keepalived's two notify kinds: the state's own script, then `notify` with the type, the
    /// name, the state and the priority as arguments; each as its user or `script_user`.
    private func runNotify(_ specific: NotifyCommand?, generic: NotifyCommand?, arguments: [String], tag: String,
                           state: String) {
        let user = { (command: NotifyCommand) in
            command.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? self.defaultScriptUser
        }
        if let specific {
            runner.start(specific.command, as: user(specific), deadline: nil, tag: "\(tag)_\(state.lowercased())")
        }
        if let generic {
            runner.start(generic.command, extraArguments: arguments, as: user(generic), deadline: nil, tag: tag)
        }
    }
}
