import Testing
@testable import VRRPCore

@Suite("track_file and vrrp_track_process decisions (keepalived 2.2.7's)")
struct TrackedValuesTests {
    @Test("a track file's text reads as keepalived's strtol: blanks, sign, hex, octal, trailing junk, no digits = 0, out of int range ignored",
          arguments: [
              ("5\n", 5), (" 4", 4), ("3x", 3), ("2", 2), ("+6", 6), ("-100\n", -100), ("0x10", 16), ("010", 8),
              ("abc", 0), ("", 0), ("\n", 0), ("0x", 0), ("2147483647", 2_147_483_647), ("-2147483648", -2_147_483_648),
          ] as [(String, Int)])
    func parse(text: String, value: Int) {
        #expect(TrackFileValue.parse(text) == value)
    }

    @Test("numbers outside a C int are refused (keepalived: 'Invalid number … - ignoring')")
    func parseOutOfRange() {
        #expect(TrackFileValue.parse("99999999999") == nil)
        #expect(TrackFileValue.parse("2147483648") == nil)
        #expect(TrackFileValue.parse("-2147483649") == nil)
    }

    @Test("offset: value × weight kept in −254…253, −254 is FAULT; weight 0: non-zero fails (zero with reverse)")
    func offset() {
        #expect(TrackFileValue.offset(value: 2, weight: 3, reverse: false) == 6)
        #expect(TrackFileValue.offset(value: 5, weight: 3, reverse: false) == 15)
        #expect(TrackFileValue.offset(value: 5, weight: 3, reverse: true) == -15)
        #expect(TrackFileValue.offset(value: -100, weight: 3, reverse: false) == TrackFileValue.fault)
        #expect(TrackFileValue.offset(value: 100, weight: 3, reverse: false) == 253)
        #expect(TrackFileValue.offset(value: -84, weight: 3, reverse: false) == -252)
        #expect(TrackFileValue.offset(value: 0, weight: 0, reverse: false) == 0)
        #expect(TrackFileValue.offset(value: 7, weight: 0, reverse: false) == TrackFileValue.fault)
        #expect(TrackFileValue.offset(value: 0, weight: 0, reverse: true) == TrackFileValue.fault)
        #expect(TrackFileValue.offset(value: 7, weight: 0, reverse: true) == 0)
        #expect(TrackFileValue.offset(value: Int(Int32.max), weight: 2_147_483_647, reverse: false) == 253)
        #expect(TrackFileValue.offset(value: Int(Int32.min), weight: 2_147_483_647, reverse: false) == TrackFileValue.fault)
    }

    @Test("an instance's priority follows its file (the keepalived run's sequence: 106, 115, FAULT, 100, 103)")
    func instanceFollowsFile() {
        var instance = VRRPInstance(settings: VRRPInstanceSettings(
            name: "A", vrid: 50, priority: 100, primaryAddress: IPAddress("10.98.0.1")!,
            tracked: [.file(name: "file tf1", offset: TrackFileValue.offset(value: 2, weight: 3, reverse: false))]))
        _ = instance.handle(.start, now: .zero)
        #expect(instance.effectivePriority == 106)
        _ = instance.handle(.trackedOffset(name: "file tf1", offset: TrackFileValue.offset(value: 5, weight: 3, reverse: false)), now: .seconds(1))
        #expect(instance.effectivePriority == 115)
        let fault = instance.handle(.trackedOffset(name: "file tf1", offset: TrackFileValue.offset(value: -100, weight: 3, reverse: false)), now: .seconds(2))
        #expect(fault.contains(.transition(from: .backup, to: .fault, priority: 100)))
        #expect(instance.faultCauses == ["file tf1"])
        let back = instance.handle(.trackedOffset(name: "file tf1", offset: 0), now: .seconds(3))
        #expect(back.contains(.transition(from: .fault, to: .backup, priority: 100)))
        _ = instance.handle(.trackedOffset(name: "file tf1", offset: 3), now: .seconds(4))
        #expect(instance.effectivePriority == 103)
        // Kept in 1–254 like any tracking.
        _ = instance.handle(.trackedOffset(name: "file tf1", offset: 253), now: .seconds(5))
        #expect(instance.effectivePriority == 254)
        _ = instance.handle(.trackedOffset(name: "file tf1", offset: -253), now: .seconds(6))
        #expect(instance.effectivePriority == 1)
        #expect(instance.state == .backup)
        // A master whose file drops its priority stays master and advertises the new priority.
        _ = instance.handle(.trackedOffset(name: "file tf1", offset: 20), now: .seconds(7))
        _ = instance.handle(.timer, now: .seconds(11))
        #expect(instance.state == .master)
        _ = instance.handle(.trackedOffset(name: "file tf1", offset: -20), now: .seconds(11) + .milliseconds(500))
        #expect(instance.handle(.timer, now: .seconds(12)).contains(.sendAdvert(priority: 80)))
    }

    @Test("process names: comm exactly (pgrep ^name$), so a name over 15 characters never matches it")
    func processByName() {
        let sleep = ProcessPattern(program: "sleep")
        #expect(sleep.matches(comm: "sleep", commandLine: []))
        #expect(!sleep.matches(comm: "sleeper", commandLine: []))
        #expect(!ProcessPattern(program: "ssh").matches(comm: "sshd", commandLine: []))
        #expect(!ProcessPattern(program: "averyveryverylongname").matches(comm: "averyveryverylo", commandLine: ["averyveryverylongname"]))
        #expect(!sleep.fullCommand)
    }

    @Test("full_command: argv[0] exactly; parameters imply it, exact unless param_match partial or initial")
    func processByCommandLine() {
        let full = ProcessPattern(program: "/usr/bin/sleep", fullCommand: true)
        #expect(full.matches(comm: "sleep", commandLine: ["/usr/bin/sleep", "30"]))
        #expect(!full.matches(comm: "sleep", commandLine: ["sleep", "30"]))
        let exact = ProcessPattern(program: "sleep", parameters: ["300"])
        #expect(exact.fullCommand && exact.parameterMatch == .exact)
        #expect(exact.matches(comm: "x", commandLine: ["sleep", "300"]))
        #expect(!exact.matches(comm: "x", commandLine: ["sleep", "300", "1"]))
        #expect(!exact.matches(comm: "x", commandLine: ["sleep", "3000"]))
        let none = ProcessPattern(program: "sleep", parameterMatch: .exact)
        #expect(none.matches(comm: "x", commandLine: ["sleep"]))
        #expect(!none.matches(comm: "x", commandLine: ["sleep", "1"]))
        let partial = ProcessPattern(program: "redis-server", parameters: ["*:6379"], parameterMatch: .partial)
        #expect(partial.matches(comm: "x", commandLine: ["redis-server", "*:6379", "--daemonize", "no"]))
        #expect(!partial.matches(comm: "x", commandLine: ["redis-server", "*:63790"]))
        let initial = ProcessPattern(program: "sleep", parameters: ["30"], parameterMatch: .initial)
        #expect(initial.matches(comm: "x", commandLine: ["sleep", "300"]))
        #expect(initial.matches(comm: "x", commandLine: ["sleep", "30", "x"]))
        #expect(!initial.matches(comm: "x", commandLine: ["sleep", "3"]))
        #expect(!initial.matches(comm: "x", commandLine: ["sleep"]))
    }

    @Test("quorum: up while quorum ≤ count ≤ quorum_max, at once without delays")
    func quorumBounds() {
        var q = ProcessQuorum(quorum: 2, quorumMax: 3, initialCount: 1)
        #expect(!q.up)
        #expect(q.update(count: 2, now: .zero) == true)
        #expect(q.update(count: 3, now: .zero) == nil)
        #expect(q.update(count: 4, now: .zero) == false)
        #expect(q.update(count: 0, now: .zero) == nil)
        #expect(ProcessQuorum(quorum: 0, quorumMax: 0, initialCount: 0).up)  // quorum_max 0 (quorum 0): up while none runs
        #expect(!ProcessQuorum(quorum: 0, quorumMax: 0, initialCount: 1).up)
    }

    @Test("fork_delay and terminate_delay: a change counts only after its delay; one undone in time never happens")
    func quorumDelays() {
        var q = ProcessQuorum(quorum: 1, forkDelay: .seconds(2), terminateDelay: .seconds(3), initialCount: 1)
        #expect(q.up)
        #expect(q.update(count: 0, now: .seconds(10)) == nil)       // lost: wait terminate_delay
        #expect(q.nextDeadline == .seconds(13))
        #expect(q.update(count: 1, now: .seconds(12)) == nil)       // back in time (a restart): nothing
        #expect(q.nextDeadline == nil && q.up)
        #expect(q.update(count: 0, now: .seconds(20)) == nil)
        #expect(q.timer(now: .seconds(22)) == nil)
        #expect(q.timer(now: .seconds(23)) == false)
        #expect(q.update(count: 2, now: .seconds(30)) == nil)       // gained: wait fork_delay
        #expect(q.update(count: 2, now: .seconds(31)) == nil)
        #expect(q.update(count: 1, now: .seconds(32)) == true)      // a scan at the deadline applies it
    }

    @Test("a sync group's own state: MASTER and FAULT with the first member, BACKUP once none is FAULT, STOP once all stopped (keepalived 2.2.7)")
    func groupState() {
        #expect(VRRPSyncGroup.groupState(current: .initialize, memberEntered: .backup, members: [.backup, .initialize]) == .backup)
        #expect(VRRPSyncGroup.groupState(current: .backup, memberEntered: .backup, members: [.backup, .backup]) == nil)
        #expect(VRRPSyncGroup.groupState(current: .backup, memberEntered: .master, members: [.master, .backup]) == .master)
        #expect(VRRPSyncGroup.groupState(current: .master, memberEntered: .master, members: [.master, .master]) == nil)
        #expect(VRRPSyncGroup.groupState(current: .master, memberEntered: .fault, members: [.fault, .master]) == .fault)
        #expect(VRRPSyncGroup.groupState(current: .fault, memberEntered: .backup, members: [.backup, .fault]) == nil)
        #expect(VRRPSyncGroup.groupState(current: .fault, memberEntered: .backup, members: [.backup, .backup]) == .backup)
        #expect(VRRPSyncGroup.groupState(current: .master, memberEntered: .stopped, members: [.stopped, .master]) == nil)
        #expect(VRRPSyncGroup.groupState(current: .master, memberEntered: .stopped, members: [.stopped, .stopped]) == .stopped)
    }

    @Test("notify FIFO lines are keepalived 2.2.7's, byte for byte")
    func fifoLines() {
        #expect(NotifyFIFO.instance("A", state: .backup, priority: 150) == "INSTANCE \"A\" BACKUP 150\n")
        #expect(NotifyFIFO.instance("VI_1", state: .stopped, priority: 100) == "INSTANCE \"VI_1\" STOP 100\n")
        #expect(NotifyFIFO.group("G", state: .master) == "GROUP \"G\" MASTER 0\n")
    }
}
