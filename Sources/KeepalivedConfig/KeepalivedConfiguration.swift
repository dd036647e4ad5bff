import VRRPCore

/// The VRRP part of a keepalived.conf, checked and with keepalived's defaults filled in.
public struct KeepalivedConfiguration: Sendable {
    public var global = GlobalDefinitions()
    public var scripts: [String: VRRPScript] = [:]
    /// `track_file` (`vrrp_track_file`) blocks by name.
    public var trackFiles: [String: TrackFile] = [:]
    /// `vrrp_track_process` blocks by name.
    public var trackProcesses: [String: TrackProcess] = [:]
    public var instances: [VRRPInstanceConfig] = []
    public var syncGroups: [SyncGroup] = []
    /// `virtual_server` blocks, served in user space by `tandem vrrp`.
    public var virtualServers: [VirtualServerConfig] = []
    /// Unsupported or unknown directives, each ignored and named with its line.
    public var warnings: [ConfigWarning] = []
    /// Everything but the virtual servers (global_defs, scripts, instances, sync groups), as
    /// text without locations: a reload compares it to know whether the VRRP part changed.
    public var vrrpFingerprint = ""

    public init() {}
}

/// `global_defs`.
public struct GlobalDefinitions: Sendable {
    public var routerID: String?
    public var notificationEmails: [String] = []
    public var notificationEmailFrom: String?
    public var smtpServer: (host: String, port: Int)?
    public var smtpHeloName: String?
    /// Seconds (keepalived's default 30).
    public var smtpConnectTimeout: Int = 30
    public var scriptUser: (user: String, group: String?)?
    public var enableScriptSecurity = false
    public var vrrpVersion: VRRPVersion = .v2
    public var garpMasterDelay: Int = 5
    public var garpMasterRepeat: Int = 5
    public var garpMasterRefresh: Int = 0
    public var garpMasterRefreshRepeat: Int = 1
    /// `vrrp_garp_lower_prio_repeat` / `vrrp_garp_lower_prio_delay` (seconds); nil: as
    /// `vrrp_garp_master_repeat` / `vrrp_garp_master_delay`, keepalived's default.
    public var garpLowerPriorityRepeat: Int?
    public var garpLowerPriorityDelay: Int?
    public var skipCheckAdvertAddresses = false
    /// `smtp_alert`: the default for VRRP instances and checkers.
    public var smtpAlert: Bool?
    /// `smtp_alert_vrrp` / `smtp_alert_checker`: the default for each side, before `smtp_alert`.
    public var smtpAlertVRRP: Bool?
    public var smtpAlertChecker: Bool?
    /// Tandem's own `tandem_http ADDR:PORT`: where `tandem vrrp` serves GET /metrics and its
    /// status page (the `--http` option wins over it). keepalived logs it as an unknown keyword.
    public var tandemHTTP: String?
    /// `notify_fifo` / `vrrp_notify_fifo PATH [USER [GROUP]]`: FIFOs every state change is
    /// written to (`INSTANCE "VI_1" MASTER 100`), with their `*_fifo_script`s (run with the
    /// FIFO's path as the last argument).
    public var notifyFIFOs: [NotifyFIFOConfig] = []

    public init() {}
}

/// A notify FIFO and the script that reads it, if any.
public struct NotifyFIFOConfig: Sendable {
    public var path: String
    public var script: NotifyCommand?
    public var location: SourceLocation
    /// `PATH USER [GROUP]`: who owns the FIFO when tandem creates it (nil: the default script
    /// user, else root), as keepalived 2.2.7 does; a FIFO that was there keeps its owner.
    public var owner: (user: String, group: String?)? = nil
}

/// A `vrrp_script` block.
public struct VRRPScript: Sendable {
    public var name: String
    public var command: String
    /// Seconds between runs (default 1).
    public var interval: Double = 1
    /// Seconds before a run counts as failed (default: the interval).
    public var timeout: Double?
    public var fall: Int = 1
    public var rise: Int = 1
    public var weight: Int = 0
    public var reverse = false
    public var initFail = false
    public var user: (user: String, group: String?)?
    public var location: SourceLocation
}

/// A `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }` block:
/// the integer in the file, times the weight, moves the priority of the instances tracking it.
public struct TrackFile: Sendable {
    public var name: String
    public var path: String
    /// keepalived's default 1.
    public var weight: Int = 1
    public var reverse = false
    /// `init_file [VALUE]`: written at start when the file is missing (or always with `overwrite`).
    public var initValue: Int?
    public var initOverwrite = false
    public var location: SourceLocation
}

/// A `vrrp_track_process NAME { … }` block: whether enough processes of a name are running.
public struct TrackProcess: Sendable {
    public var name: String
    public var pattern: ProcessPattern
    /// keepalived's default 1.
    public var weight: Int = 1
    public var reverse = false
    public var quorum: Int = 1
    public var quorumMax: Int?
    /// Seconds the quorum must hold after being gained (`fork_delay`) or lost (`terminate_delay`)
    /// before the status changes.
    public var forkDelay: Double = 0
    public var terminateDelay: Double = 0
    public var location: SourceLocation
}

/// One address of `virtual_ipaddress`: `ADDR[/PREFIX] [dev IF] [label L] [brd B] [scope S]`.
public struct VirtualAddress: Sendable, Hashable {
    public var address: IPAddress
    public var prefixLength: Int
    public var device: String?
    public var label: String?
    /// From `virtual_ipaddress_excluded`: added and removed, not carried in adverts.
    public var excluded = false
    public var location: SourceLocation
}

/// A notify hook: the command line and the user to run it as.
public struct NotifyCommand: Sendable {
    public var command: String
    public var user: (user: String, group: String?)?
    public var location: SourceLocation
}

/// A `track_script` or `track_interface` entry.
public struct TrackReference: Sendable, Hashable {
    public var name: String
    /// nil: the script's own weight (track_interface: 0).
    public var weight: Int?
    public var reverse = false
    public var location: SourceLocation

    public init(name: String, weight: Int? = nil, reverse: Bool = false, location: SourceLocation) {
        self.name = name
        self.weight = weight
        self.reverse = reverse
        self.location = location
    }
}

/// A `vrrp_instance` block.
public struct VRRPInstanceConfig: Sendable {
    public var name: String
    public var location: SourceLocation
    public var initialMaster = false
    public var interface: String = ""
    public var vrid: UInt8 = 0
    public var priority: UInt8 = 100
    /// Centiseconds, rounded as keepalived does for the version.
    public var advertIntervalCentiseconds = 100
    public var version: VRRPVersion = .v2
    public var family: IPAddress.Family = .ipv4
    public var nopreempt = false
    /// Seconds.
    public var preemptDelay: Double = 0
    public var sourceAddress: IPAddress?
    public var unicastPeers: [IPAddress] = []
    public var authentication: VRRPAuthentication = .none
    public var virtualAddresses: [VirtualAddress] = []
    public var trackScripts: [TrackReference] = []
    public var trackInterfaces: [TrackReference] = []
    public var trackFiles: [TrackReference] = []
    public var trackProcesses: [TrackReference] = []
    public var notifyMaster: NotifyCommand?
    public var notifyBackup: NotifyCommand?
    public var notifyFault: NotifyCommand?
    public var notifyStop: NotifyCommand?
    public var notify: NotifyCommand?
    public var notifyMasterRxLowerPriority: NotifyCommand?
    /// `notify_deleted [SCRIPT]`: an instance a reload removes is notified as DELETED (and this
    /// script runs) instead of FAULT.
    public var notifyDeleted = false
    public var notifyDeletedScript: NotifyCommand?
    public var smtpAlert: Bool?
    public var garpMasterDelay: Int?
    public var garpMasterRepeat: Int?
    public var garpMasterRefresh: Int?
    public var garpMasterRefreshRepeat: Int?
    /// `garp_lower_prio_repeat` / `garp_lower_prio_delay`; nil: the global ones.
    public var garpLowerPriorityRepeat: Int?
    public var garpLowerPriorityDelay: Int?
    public var downTimerAdverts = 3
    public var lowerPriorityNoAdvert = false
    public var dontTrackPrimary = false
    /// `use_vmac [NAME]` (with `vmac_xmit_base`): the instance's macvlan interface with the
    /// virtual MAC; nil: the addresses go on `interface` and adverts come from its own MAC.
    public var vmac: VirtualMAC?
    /// Where `use_vmac` is written (errors creating the interface name it).
    public var vmacLocation: SourceLocation?
    /// The block as text without locations (`ConfigStatement.fingerprint`): a reload compares it.
    public var fingerprint = ""
}

/// A `vrrp_sync_group`: instances that change state together.
public struct SyncGroup: Sendable {
    public var name: String
    public var members: [String]
    public var notifyMaster: NotifyCommand?
    public var notifyBackup: NotifyCommand?
    public var notifyFault: NotifyCommand?
    public var notifyStop: NotifyCommand?
    public var notify: NotifyCommand?
    public var smtpAlert: Bool?
    public var location: SourceLocation
}
