import VRRPCore

/// The guard's rule for a daemon that is alive but does not run — SIGSTOPped, or stalled —
/// which keeps its end of the socket open, so no end of file tells of it. While master the
/// daemon says `h` with each advert. Once it has been silent for a while and another speaker is
/// heard advertising as master of one of its VRIDs, the backups have taken over (they heard no
/// advert for their Master_Down_Interval): the guard then takes that VRID's addresses away —
/// first resetting every TCP connection at them, so the clients of a process that cannot answer
/// learn now instead of waiting out their own timeouts, then removing them, instead of their
/// lifetime (up to 3 s) beside the new holder's. A daemon that wakes still master takes them
/// back: the new master's lower-priority adverts make it re-add and re-announce its addresses
/// (`VRRPInstance`, as keepalived re-announces); one that wakes outranked steps down.
///
/// Pure and clock-driven: the times are the guard's monotonic clock since it started.
public struct SilenceWatch: Sendable {
    /// When the daemon last said anything.
    public private(set) var lastHeard: Duration
    /// VRIDs whose addresses were taken away in this silence (once each).
    public private(set) var takenAway: Set<UInt8> = []

    public init(now: Duration) { lastHeard = now }

    /// Any line from the daemon: it runs.
    public mutating func daemonSpoke(now: Duration) {
        lastHeard = now
        takenAway.removeAll()
    }

    /// Silence after which the guard listens for another master of the VRID: half the
    /// instance's Master_Down_Interval (1.5 advert intervals and more; a running master says
    /// something every interval).
    public static func listenAfter(_ farewell: Farewell) -> Duration { .milliseconds(farewell.deadlineMilliseconds / 2) }

    /// Silence after which another master heard means the daemon is not running: two thirds of
    /// the Master_Down_Interval. A backup claims only after its own (at least three intervals
    /// without our advert), so a running daemon is never taken for a frozen one, and the first
    /// advert of a backup that did claim is acted on.
    public static func actAfter(_ farewell: Farewell) -> Duration { .milliseconds(farewell.deadlineMilliseconds * 2 / 3) }

    /// The VRIDs (their farewells) to listen to now: master with addresses held, silent long
    /// enough, not yet taken away.
    public func listening(_ set: GuardedSet, now: Duration) -> [Farewell] {
        watched(set).filter { now - lastHeard >= Self.listenAfter($0) }
    }

    /// When `listening` next grows (the shell wakes then), nil for not until the daemon speaks.
    public func nextChange(_ set: GuardedSet, now: Duration) -> Duration? {
        watched(set).map { lastHeard + Self.listenAfter($0) }.filter { $0 > now }.min()
    }

    /// An advert heard from `sender` on a VRID's socket: the addresses to take away now (reset
    /// their connections, then remove them); empty for none.
    public mutating func heard(_ advert: VRRPAdvert, from sender: IPAddress, set: GuardedSet, now: Duration) -> [GuardedAddress] {
        guard let farewell = set.farewells[advert.vrid], farewell.isNewMaster(advert, from: sender),
              now - lastHeard >= Self.actAfter(farewell), !takenAway.contains(advert.vrid) else { return [] }
        let addresses = set.held.filter { $0.vrid == advert.vrid }
        if !addresses.isEmpty { takenAway.insert(advert.vrid) }
        return addresses
    }

    private func watched(_ set: GuardedSet) -> [Farewell] {
        set.farewells.keys.sorted().compactMap { vrid in
            guard !takenAway.contains(vrid), set.held.contains(where: { $0.vrid == vrid }) else { return nil }
            return set.farewells[vrid]
        }
    }
}
