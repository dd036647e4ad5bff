import HostPort
import Testing
import VRRPCore
@testable import KeepalivedConfig

/// A keepalived.conf with the given instance blocks (each a name and its lines).
private func config(_ instances: [(String, [String])], global: [String] = []) throws -> KeepalivedConfiguration {
    var text = "global_defs {\n" + global.map { "  \($0)\n" }.joined() + "}\n"
    for (name, lines) in instances {
        text += "vrrp_instance \(name) {\n" + lines.map { "  \($0)\n" }.joined() + "}\n"
    }
    return try KeepalivedConfiguration.parse(text)
}

/// An instance block: interface eth0, the given VRID and priority, addresses, and more lines.
private func block(vrid: Int, priority: Int = 100, addresses: [String] = ["10.0.0.100/24"], _ more: [String] = []) -> [String] {
    ["interface eth0", "virtual_router_id \(vrid)", "priority \(priority)", "advert_int 1"]
        + ["virtual_ipaddress {"] + addresses + ["}"] + more
}

@Suite("SIGHUP: which VRRP instance is kept, changed, added or removed (keepalived 2.2.7's vrrp_exist)")
struct VRRPReloadTests {
    @Test("the same file, re-read with other comments and line numbers: every instance unchanged")
    func unchanged() throws {
        let old = try config([("VI_1", block(vrid: 51)), ("VI_2", block(vrid: 52))])
        let new = try KeepalivedConfiguration.parse("# a comment\n\n" + """
            global_defs {
            }
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 51
                priority 100
                advert_int 1
                virtual_ipaddress {
                    10.0.0.100/24
                }
            }
            vrrp_instance VI_2 {
              interface eth0
              virtual_router_id 52
              priority 100
              advert_int 1
              virtual_ipaddress {
                10.0.0.100/24
              }
            }
            """)
        #expect(VRRPReload.plan(old: old.instances, new: new.instances) == [.unchanged(old: 0, new: 0), .unchanged(old: 1, new: 1)])
    }

    @Test("a new priority is a change in place, named in the summary")
    func priority() throws {
        let old = try config([("VI_1", block(vrid: 51, priority: 150))])
        let new = try config([("VI_1", block(vrid: 51, priority: 50))])
        let steps = VRRPReload.plan(old: old.instances, new: new.instances)
        guard case .changed(0, 0, let change) = try #require(steps.first), steps.count == 1 else {
            Issue.record("expected one change, got \(steps)")
            return
        }
        #expect(change.summary == ["priority 150 -> 50"])
        #expect(change.addedAddresses.isEmpty && change.removedAddresses.isEmpty)
    }

    @Test("addresses added and removed are listed; the others stay")
    func addresses() throws {
        let old = try config([("VI_1", block(vrid: 51, addresses: ["10.0.0.100/24", "10.0.0.101/24"]))])
        let new = try config([("VI_1", block(vrid: 51, addresses: ["10.0.0.100/24", "10.0.0.102/24"]))])
        let steps = VRRPReload.plan(old: old.instances, new: new.instances)
        guard case .changed(0, 0, let change) = try #require(steps.first) else {
            Issue.record("expected a change, got \(steps)")
            return
        }
        #expect(change.addedAddresses.map { "\($0.address)/\($0.prefixLength)" } == ["10.0.0.102/24"])
        #expect(change.removedAddresses.map { "\($0.address)/\($0.prefixLength)" } == ["10.0.0.101/24"])
        #expect(change.summary == ["virtual_ipaddress +10.0.0.102/24", "virtual_ipaddress -10.0.0.101/24"])
    }

    @Test("a new prefix length or device is another address: the old one removed, the new one added")
    func addressIdentity() throws {
        let old = try config([("VI_1", block(vrid: 51, addresses: ["10.0.0.100/24"]))])
        let new = try config([("VI_1", block(vrid: 51, addresses: ["10.0.0.100/32"]))])
        guard case .changed(_, _, let change) = try #require(VRRPReload.plan(old: old.instances, new: new.instances).first) else {
            Issue.record("expected a change")
            return
        }
        #expect(change.addedAddresses.map(\.prefixLength) == [32])
        #expect(change.removedAddresses.map(\.prefixLength) == [24])
    }

    @Test("matched by VRID, family and interface, not by name: a renamed instance is kept (changed)")
    func renamed() throws {
        let old = try config([("VI_1", block(vrid: 51))])
        let new = try config([("VI_RENAMED", block(vrid: 51))])
        let steps = VRRPReload.plan(old: old.instances, new: new.instances)
        guard case .changed(0, 0, let change) = try #require(steps.first) else {
            Issue.record("expected a change, got \(steps)")
            return
        }
        #expect(change.summary == ["name VI_1 -> VI_RENAMED"])
    }

    @Test("a new VRID is the old instance removed and a new one added")
    func newVRID() throws {
        let old = try config([("VI_1", block(vrid: 51)), ("VI_2", block(vrid: 52))])
        let new = try config([("VI_1", block(vrid: 53)), ("VI_2", block(vrid: 52))])
        #expect(VRRPReload.plan(old: old.instances, new: new.instances) == [.removed(old: 0), .added(new: 0), .unchanged(old: 1, new: 1)])
    }

    @Test("a new interface is a removal and an addition")
    func newInterface() throws {
        let old = try config([("VI_1", block(vrid: 51))])
        var lines = block(vrid: 51)
        lines[0] = "interface eth1"
        let new = try config([("VI_1", lines)])
        #expect(VRRPReload.plan(old: old.instances, new: new.instances) == [.removed(old: 0), .added(new: 0)])
    }

    @Test("multicast to unicast, or another unicast_src_ip, is a removal and an addition; new peers alone are a change")
    func unicast() throws {
        let multicast = try config([("VI_1", block(vrid: 51))])
        let unicast = try config([("VI_1", block(vrid: 51, ["unicast_src_ip 10.0.0.1", "unicast_peer {", "10.0.0.2", "}"]))])
        let otherPeer = try config([("VI_1", block(vrid: 51, ["unicast_src_ip 10.0.0.1", "unicast_peer {", "10.0.0.3", "}"]))])
        let otherSource = try config([("VI_1", block(vrid: 51, ["unicast_src_ip 10.0.0.9", "unicast_peer {", "10.0.0.2", "}"]))])
        #expect(VRRPReload.plan(old: multicast.instances, new: unicast.instances) == [.removed(old: 0), .added(new: 0)])
        #expect(VRRPReload.plan(old: unicast.instances, new: otherSource.instances) == [.removed(old: 0), .added(new: 0)])
        guard case .changed(0, 0, let change) = try #require(VRRPReload.plan(old: unicast.instances, new: otherPeer.instances).first) else {
            Issue.record("expected a change")
            return
        }
        #expect(change.summary == ["unicast_peer"])
    }

    @Test("removals come first, then the new list in its order (an added instance in the middle)")
    func order() throws {
        let old = try config([("A", block(vrid: 1)), ("B", block(vrid: 2)), ("C", block(vrid: 3))])
        let new = try config([("A", block(vrid: 1)), ("N", block(vrid: 9)), ("C", block(vrid: 3, priority: 120))])
        let steps = VRRPReload.plan(old: old.instances, new: new.instances)
        #expect(steps.count == 4)
        #expect(steps[0] == .removed(old: 1))
        #expect(steps[1] == .unchanged(old: 0, new: 0))
        #expect(steps[2] == .added(new: 1))
        guard case .changed(2, 2, _) = steps[3] else {
            Issue.record("C should be changed: \(steps[3])")
            return
        }
    }

    @Test("a track_script weight change is a change named 'tracking'; moving the line is not")
    func tracking() throws {
        let top = "vrrp_script chk {\n  script \"/bin/true\"\n}\n"
        let a = try KeepalivedConfiguration.parse(top + "vrrp_instance VI_1 {\n" + block(vrid: 51, ["track_script {", "chk weight 10", "}"]).joined(separator: "\n") + "\n}\n")
        let b = try KeepalivedConfiguration.parse(top + "vrrp_instance VI_1 {\n" + block(vrid: 51, ["track_script {", "chk weight 20", "}"]).joined(separator: "\n") + "\n}\n")
        let moved = try KeepalivedConfiguration.parse("\n\n" + top + "vrrp_instance VI_1 {\n" + block(vrid: 51, ["track_script {", "chk weight 10", "}"]).joined(separator: "\n") + "\n}\n")
        guard case .changed(_, _, let change) = try #require(VRRPReload.plan(old: a.instances, new: b.instances).first) else {
            Issue.record("expected a change")
            return
        }
        #expect(change.summary == ["tracking"])
        #expect(VRRPReload.plan(old: a.instances, new: moved.instances) == [.unchanged(old: 0, new: 0)])
    }

    @Test("notify_deleted, bare or with a script, is read (not warned)")
    func notifyDeleted() throws {
        let c = try config([("A", block(vrid: 1, ["notify_deleted"])), ("B", block(vrid: 2, ["notify_deleted \"/bin/echo gone\" root"])),
                            ("C", block(vrid: 3))])
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(c.instances.map(\.notifyDeleted) == [true, true, false])
        #expect(c.instances[0].notifyDeletedScript == nil)
        #expect(c.instances[1].notifyDeletedScript?.command == "/bin/echo gone")
        #expect(c.instances[1].notifyDeletedScript?.user?.user == "root")
    }

    @Test("global_defs: changed notify FIFOs (path, owner, script) are seen")
    func globals() throws {
        let old = try config([], global: ["router_id a", "notify_fifo /tmp/f1", "script_user root"])
        let same = try config([], global: ["router_id b", "vrrp_garp_master_repeat 2", "notify_fifo /tmp/f1", "script_user root"])
        let other = try config([], global: ["router_id a", "notify_fifo /tmp/f2", "enable_script_security", "smtp_server 127.0.0.1",
                                            "notification_email {", "ops@example.com", "}"])
        #expect(!VRRPReload.notifyFIFOsChanged(old: old.global, new: same.global))
        #expect(VRRPReload.notifyFIFOsChanged(old: old.global, new: other.global))
        // Its owner is part of it: a FIFO this run created is given to the new one.
        let owned = try config([], global: ["router_id a", "notify_fifo /tmp/f1 nobody", "script_user root"])
        let group = try config([], global: ["router_id a", "notify_fifo /tmp/f1 nobody nogroup", "script_user root"])
        #expect(VRRPReload.notifyFIFOsChanged(old: old.global, new: owned.global))
        #expect(VRRPReload.notifyFIFOsChanged(old: owned.global, new: group.global))
        #expect(!VRRPReload.notifyFIFOsChanged(old: group.global, new: group.global))
    }

    @Test("tandem_http on reload: started, moved, stopped, kept when unchanged; --http on the command line wins")
    func httpListener() throws {
        let a = try #require(HostPort("127.0.0.1:9000"))
        let b = try #require(HostPort("[::1]:9001"))
        let read = { (line: String?) in try config([], global: line.map { ["router_id r", "tandem_http \($0)"] } ?? ["router_id r"]).global.tandemHTTP }
        #expect(VRRPReload.httpListener(serving: nil, configured: try read(nil), commandLine: nil) == .keep)
        #expect(VRRPReload.httpListener(serving: nil, configured: try read("127.0.0.1:9000"), commandLine: nil) == .start(a))
        #expect(VRRPReload.httpListener(serving: a, configured: try read("127.0.0.1:9000"), commandLine: nil) == .keep)
        #expect(VRRPReload.httpListener(serving: a, configured: try read("127.0.0.1:09000"), commandLine: nil) == .keep)
        #expect(VRRPReload.httpListener(serving: a, configured: try read("[::1]:9001"), commandLine: nil) == .move(from: a, to: b))
        #expect(VRRPReload.httpListener(serving: b, configured: try read(nil), commandLine: nil) == .stop(b))
        // A listener that failed to start or move is absent: the next reload tries again.
        #expect(VRRPReload.httpListener(serving: nil, configured: try read("[::1]:9001"), commandLine: nil) == .start(b))
        // --http: the file's tandem_http is not read, at the start or at a reload.
        for line in [nil, "127.0.0.1:9000", "[::1]:9001"] {
            #expect(VRRPReload.httpListener(serving: a, configured: try read(line), commandLine: "127.0.0.1:9000") == .keep)
            #expect(VRRPReload.httpListener(serving: a, configured: try read(line), commandLine: "0.0.0.0:9500") == .keep)
        }
    }
}
