import Testing
#if canImport(Glibc)
import Glibc
#endif
import VRRPCore
@testable import KeepalivedConfig

private func fixture(_ name: String) -> String {
    let dir = String(#filePath.prefix(upTo: #filePath.lastIndex(of: "/")!))
    return dir + "/Fixtures/" + name
}

@Suite("keepalived.conf reader")
struct KeepalivedConfigTests {
    @Test("seed 1 (VIP in front of HAProxy) loads as written")
    func seed1Haproxy() throws {
        let config = try KeepalivedConfiguration.load(file: fixture("seed1-keepalived-haproxy.conf"))
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.global.notificationEmails == ["admin@example.com"])
        #expect(config.global.notificationEmailFrom == "keepalived@example.com")
        #expect(config.global.smtpServer?.host == "127.0.0.1")
        #expect(config.global.smtpServer?.port == 25)
        #expect(config.global.smtpConnectTimeout == 30)
        #expect(config.global.routerID == "hostname")
        let script = try #require(config.scripts["check_haproxy"])
        #expect(script.command == "pkill -0 -x haproxy")
        #expect(script.interval == 1 && script.fall == 2 && script.rise == 2 && script.weight == 0)
        let instance = try #require(config.instances.first)
        #expect(instance.name == "REDIS")
        #expect(instance.interface == "eth0")
        #expect(instance.vrid == 51 && instance.priority == 101 && instance.advertIntervalCentiseconds == 100)
        #expect(instance.nopreempt && !instance.initialMaster)
        #expect(instance.smtpAlert == true)
        #expect(instance.unicastPeers == [IPAddress("192.168.1.32")!])
        #expect(instance.authentication == .pass("hogehoge"))
        #expect(instance.virtualAddresses.map(\.address) == [IPAddress("192.168.1.30")!])
        #expect(instance.virtualAddresses.first?.prefixLength == 32)
        #expect(instance.trackScripts.map(\.name) == ["check_haproxy"])
        #expect(instance.version == .v2)
    }

    @Test("seed 1 (VIP follows Redis) loads, with its notify_master")
    func seed1Redis() throws {
        let config = try KeepalivedConfiguration.load(file: fixture("seed1-keepalived-redis.conf"))
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.instances.first?.notifyMaster?.command == "/some/where/notify_master.sh")
        #expect(config.instances.first?.notifyBackup == nil)
        #expect(config.scripts["check_redis"]?.interval == 2)
    }

    @Test("seed 2 loads, its virtual_server too; lb_kind NAT and nat_mask are warnings naming their line", arguments: [
        ("seed2-keepalived-master.conf", true, 100), ("seed2-keepalived-backup.conf", false, 99)
    ])
    func seed2(file: String, master: Bool, priority: Int) throws {
        let config = try KeepalivedConfiguration.load(file: fixture(file))
        let instance = try #require(config.instances.first)
        #expect(instance.initialMaster == master)
        #expect(Int(instance.priority) == priority)
        #expect(instance.advertIntervalCentiseconds == 300)
        #expect(instance.authentication == .pass("1111"))
        #expect(instance.virtualAddresses.map(\.address) == [IPAddress("192.168.72.115")!])
        #expect(instance.notifyMaster?.command.hasPrefix("/usr/local/redis/sh/redis_") == true)
        #expect(instance.notifyFault?.command == "/usr/local/redis/sh/redis_fault.sh")
        #expect(config.scripts["chk_redis"]?.command == "/usr/local/redis/sh/redis_check.sh 127.0.0.1 6379")
        #expect(config.scripts["chk_redis"]?.timeout == 2)
        #expect(config.global.smtpServer?.host == "128.0.0.1")
        let server = try #require(config.virtualServers.first)
        #expect(config.virtualServers.count == 1)
        #expect(server.service == ServiceAddress(address: IPAddress("192.168.72.115")!, port: 6379))
        #expect(server.location.line == 45)
        #expect(server.scheduler == .rr && server.forwarding == .nat && server.persistenceTimeout == 50)
        #expect(server.sorryServer == ServiceAddress(address: IPAddress("127.0.0.1")!, port: 80))
        #expect(server.realServers.map(\.service.description) == ["192.168.72.11:6379", "192.168.72.128:6379"])
        for real in server.realServers {
            #expect(real.weight == 1)
            let check = try #require(real.checkers.first)
            guard case .tcp = check.kind else { Issue.record("not TCP_CHECK: \(check.kind)"); continue }
            #expect(check.connectTimeout == 3 && check.retry == 3 && check.delayBeforeRetry == 3 && check.delayLoop == 6)
            #expect(check.connectAddress == ServiceAddress(address: real.service.address, port: 6379))
            #expect(check.warmup == 6 && !check.alpha)
        }
        #expect(config.warnings.map(\.description) == [
            "\(fixture(file)):48: warning: 'lb_kind NAT': tandem serves virtual servers in user space as a TCP proxy whatever the kind: real servers see connections from this host, not from the client, and replies come back through it",
            "\(fixture(file)):49: warning: virtual_server 'nat_mask' ignored: NAT-only setting; user space proxies every connection",
        ])
    }

    @Test("v3, IPv6, dev and label, track weights, notify with user, sync group, includes")
    func fullInstance() throws {
        let config = try KeepalivedConfiguration.parse("""
            global_defs { vrrp_version 3
              script_user nobody nogroup
              enable_script_security }
            vrrp_script chk { script "/bin/true"; interval 0.5 weight -20 }
            vrrp_instance A {
                interface veth0
                virtual_router_id 7
                advert_int 0.1
                priority 150
                preempt_delay 5
                unicast_src_ip 10.0.0.1
                unicast_peer {
                    10.0.0.2
                    10.0.0.3
                }
                virtual_ipaddress {
                    10.0.0.100/24 dev veth0 label veth0:vip
                }
                track_script {
                    chk weight 30
                }
                track_interface {
                    eth9 weight -10
                }
                notify "/usr/local/bin/notify.sh" nobody
                notify_master_rx_lower_pri /usr/local/bin/cloud-ip.sh
                garp_master_delay 2
                garp_lower_prio_repeat 0
                garp_lower_prio_delay 7
            }
            vrrp_instance B
            {
                interface veth0
                virtual_router_id 8
                virtual_ipaddress { 2001:db8::100/64 }
            }
            vrrp_sync_group G { group { A
              B } }
            """)
        // `;` is not a separator in keepalived: the script line is "/bin/true;" and interval is unknown there.
        let a = try #require(config.instances.first)
        #expect(a.version == .v3 && a.advertIntervalCentiseconds == 10 && a.priority == 150)
        #expect(a.preemptDelay == 5)
        #expect(a.sourceAddress == IPAddress("10.0.0.1"))
        #expect(a.unicastPeers.count == 2)
        #expect(a.virtualAddresses.first?.prefixLength == 24)
        #expect(a.virtualAddresses.first?.device == "veth0")
        #expect(a.virtualAddresses.first?.label == "veth0:vip")
        #expect(a.trackScripts.first?.weight == 30)
        #expect(a.trackInterfaces.first == TrackReference(name: "eth9", weight: -10, location: a.trackInterfaces.first!.location))
        #expect(a.notify?.user?.user == "nobody")
        #expect(a.notifyMasterRxLowerPriority?.command == "/usr/local/bin/cloud-ip.sh")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(a.garpMasterDelay == 2)
        #expect(a.garpLowerPriorityRepeat == 0 && a.garpLowerPriorityDelay == 7)
        #expect(config.instances[1].garpLowerPriorityRepeat == nil)  // the global one, by default garp_master_repeat's
        #expect(config.global.scriptUser?.user == "nobody" && config.global.scriptUser?.group == "nogroup")
        #expect(config.global.enableScriptSecurity)
        let b = config.instances[1]
        #expect(b.family == .ipv6 && b.version == .v3)
        #expect(config.syncGroups.first?.members == ["A", "B"])
    }

    @Test("malformed configurations fail with file:line and the directive", arguments: [
        ("vrrp_instance A {\n interface eth0\n", 1, "block is not closed"),
        ("}\n", 1, "'}' without a matching '{'"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 256\n}\n", 3, "virtual_router_id"),
        ("vrrp_instance A {\n virtual_router_id 5\n}\n", 1, "has no 'interface'"),
        ("vrrp_instance A {\n interface eth0\n}\n", 1, "has no 'virtual_router_id'"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n priority x\n}\n", 4, "'priority'"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n garp_lower_prio_repeat -1\n}\n", 4, "garp_lower_prio_repeat"),
        ("global_defs {\n vrrp_garp_lower_prio_delay 99999\n}\n", 2, "vrrp_garp_lower_prio_delay"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n state SLAVE\n}\n", 4, "state must be MASTER or BACKUP"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n 10.0.0.300\n }\n}\n", 5, "not an IP address"),
        // Found by the config fuzzer: an address that is only a prefix ("/24") trapped.
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n /24\n }\n}\n", 5, "'' is not an IP address"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n track_script {\n nope\n }\n}\n", 5, "no vrrp_script"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n authentication {\n auth_type AH\n auth_pass x\n }\n}\n", 4, "AH is not supported"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n 2001:db8::1\n }\n}\n", 1, "need vrrp_version 3"),
        ("vrrp_instance A {\n interface e\n virtual_router_id 5\n}\nvrrp_instance B {\n interface e\n virtual_router_id 5\n}\n", 5, "already used by A"),
        ("vrrp_script s {\n script \"/bin/true\n}\n", 2, "unterminated quoted string"),
        ("include /nonexistent/*.conf\n", 1, "no such file"),
    ])
    func malformed(text: String, line: Int, message: String) {
        do {
            _ = try KeepalivedConfiguration.parse(text, file: "/etc/keepalived/keepalived.conf")
            Issue.record("accepted: \(text)")
        } catch let error as ConfigError {
            #expect(error.location.line == line, "\(error)")
            #expect(error.description.hasPrefix("/etc/keepalived/keepalived.conf:\(line): "), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("unknown and unsupported directives are warnings with their line")
    func warnings() throws {
        let config = try KeepalivedConfiguration.parse("""
            global_defs {
              vrrp_strict
              frobnicate 1
            }
            vrrp_instance A {
              interface eth0
              virtual_router_id 5
              use_ipvlan
              nopreemt
            }
            """, file: "k.conf")
        #expect(config.warnings.map(\.description) == [
            "k.conf:2: warning: global_defs 'vrrp_strict' is not supported by tandem vrrp; ignored",
            "k.conf:3: warning: unknown global_defs keyword 'frobnicate' ignored",
            "k.conf:8: warning: vrrp_instance 'use_ipvlan' is not supported by tandem vrrp; ignored",
            "k.conf:9: warning: unknown vrrp_instance keyword 'nopreemt' ignored",
        ])
    }

    @Test("priority 255 with nopreempt: nopreempt is ignored with a warning (keepalived 2.2.7 resets it; -t exits 5)")
    func ownerNopreempt() throws {
        let config = try KeepalivedConfiguration.parse("""
            vrrp_instance A {
              state BACKUP
              interface eth0
              virtual_router_id 5
              priority 255
              nopreempt
            }
            """, file: "k.conf")
        #expect(config.instances.first?.nopreempt == false)
        #expect(config.warnings.map(\.description) == [
            "k.conf:1: warning: vrrp_instance A: nopreempt is incompatible with priority 255 (the address owner); ignored, as keepalived does",
        ])
    }

    @Test("track_file and vrrp_track_process blocks, and the instance's track_file / track_process with weights")
    func trackFileAndProcess() throws {
        let config = try KeepalivedConfiguration.parse("""
            track_file tf1 {
              file "/run/tf1"
              weight 3 reverse
              init_file 2 overwrite
            }
            vrrp_track_file tf2 {
              file /run/tf2
            }
            vrrp_track_process haproxy {
              process haproxy
              quorum 2
              quorum_max 4
              weight -10
              delay 0.5
            }
            vrrp_track_process redis {
              process /usr/bin/redis-server "*:6379"
              param_match partial
              terminate_delay 2
            }
            vrrp_track_process none {
              process sshd
              quorum_max 0
            }
            vrrp_instance A {
              interface eth0
              virtual_router_id 5
              track_file {
                tf1
                tf2 weight 0 reverse
              }
              track_process {
                haproxy weight 20
                redis
              }
            }
            """, file: "k.conf")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        let tf1 = try #require(config.trackFiles["tf1"])
        #expect(tf1.path == "/run/tf1" && tf1.weight == 3 && tf1.reverse && tf1.initValue == 2 && tf1.initOverwrite)
        let tf2 = try #require(config.trackFiles["tf2"])
        #expect(tf2.weight == 1 && !tf2.reverse && tf2.initValue == nil)
        let haproxy = try #require(config.trackProcesses["haproxy"])
        #expect(haproxy.pattern == ProcessPattern(program: "haproxy"))
        #expect(haproxy.quorum == 2 && haproxy.quorumMax == 4 && haproxy.weight == -10)
        #expect(haproxy.forkDelay == 0.5 && haproxy.terminateDelay == 0.5)
        let redis = try #require(config.trackProcesses["redis"])
        #expect(redis.pattern == ProcessPattern(program: "/usr/bin/redis-server", parameters: ["*:6379"], parameterMatch: .partial))
        #expect(redis.pattern.fullCommand && redis.weight == 1 && redis.terminateDelay == 2 && redis.forkDelay == 0)
        let none = try #require(config.trackProcesses["none"])
        #expect(none.quorum == 0 && none.quorumMax == 0)
        let instance = try #require(config.instances.first)
        #expect(instance.trackFiles.map(\.name) == ["tf1", "tf2"])
        #expect(instance.trackFiles[1].weight == 0 && instance.trackFiles[1].reverse)
        #expect(instance.trackProcesses.map(\.name) == ["haproxy", "redis"])
        #expect(instance.trackProcesses[0].weight == 20 && instance.trackProcesses[1].weight == nil)
    }

    @Test("track_file / vrrp_track_process errors name file:line", arguments: [
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n track_file {\n nope\n }\n}\n", "k.conf:5: track_file nope: no track_file block of that name"),
        ("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n track_process {\n nope\n }\n}\n", "k.conf:5: track_process nope: no vrrp_track_process of that name"),
        ("track_file f {\n weight 2\n}\n", "k.conf:1: track_file f has no 'file'"),
        ("vrrp_track_process p {\n quorum 2\n}\n", "k.conf:1: vrrp_track_process p has no 'process'"),
        ("vrrp_track_process p {\n process x\n quorum 0\n}\n", "k.conf:3: 'quorum': '0' is not an integer in 1…65535"),
        ("vrrp_track_process p {\n process x\n weight 300\n}\n", "k.conf:3: 'weight': '300' is not an integer in -254…254"),
        ("vrrp_track_process p {\n process x\n quorum 3\n quorum_max 2\n}\n", "k.conf:1: vrrp_track_process p: quorum_max 2 is below quorum 3"),
        ("vrrp_track_process p {\n process x\n param_match bogus\n}\n", "k.conf:3: param_match must be initial or partial (or nothing), not 'bogus'"),
        ("track_file f {\n file /x\n init_file abc\n}\n", "k.conf:3: 'init_file': 'abc' is not an integer in -2147483648…2147483647"),
        ("track_file f {\n file /x\n}\ntrack_file f {\n file /y\n}\n", "k.conf:4: track_file f is defined twice"),
    ])
    func trackErrors(text: String, message: String) {
        #expect(throws: ConfigError.self) { try KeepalivedConfiguration.parse(text, file: "k.conf") }
        do {
            _ = try KeepalivedConfiguration.parse(text, file: "k.conf")
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test("a process name longer than the kernel's 15 characters is warned (it can only match with full_command); top-level track_process is unknown, as in keepalived")
    func trackProcessWarnings() throws {
        let config = try KeepalivedConfiguration.parse("""
            vrrp_track_process long {
              process averyveryverylongname
            }
            vrrp_track_process longfull {
              process /opt/averyveryverylongname
              full_command
            }
            track_process p {
              process x
            }
            """, file: "k.conf")
        #expect(config.warnings.map(\.description) == [
            "k.conf:2: warning: vrrp_track_process long: 'averyveryverylongname' is longer than a process name can be (15 characters): it never matches without full_command (as in keepalived)",
            "k.conf:8: warning: 'track_process' ignored: keepalived 2.2.7 does not know it either: the block is vrrp_track_process",
        ])
    }

    @Test("notify_fifo / vrrp_notify_fifo with their scripts; a script without its FIFO is warned")
    func notifyFIFOs() throws {
        let config = try KeepalivedConfiguration.parse("""
            global_defs {
              notify_fifo /run/k.fifo
              vrrp_notify_fifo_script "/usr/local/bin/read-fifo -v" nobody
              vrrp_notify_fifo /run/v.fifo
              notify_fifo_script /bin/cat
            }
            """, file: "k.conf")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.global.notifyFIFOs.map(\.path) == ["/run/k.fifo", "/run/v.fifo"])
        #expect(config.global.notifyFIFOs.map { $0.script?.command } == ["/bin/cat", "/usr/local/bin/read-fifo -v"])
        #expect(config.global.notifyFIFOs[1].script?.user?.user == "nobody")
        let lonely = try KeepalivedConfiguration.parse("global_defs {\n notify_fifo_script /bin/cat\n}\n", file: "k.conf")
        #expect(lonely.global.notifyFIFOs.isEmpty)
        #expect(lonely.warnings.map(\.description) == ["k.conf:2: warning: notify_fifo_script without notify_fifo: ignored"])
        #expect(throws: ConfigError.self) {
            try KeepalivedConfiguration.parse("global_defs {\n notify_fifo /a\n vrrp_notify_fifo /a\n}\n", file: "k.conf")
        }
    }

    @Test("notify_fifo PATH [USER [GROUP]]: the owner read without a warning; more words warned with file:line")
    func notifyFIFOOwner() throws {
        let config = try KeepalivedConfiguration.parse("""
            global_defs {
              notify_fifo /run/k.fifo nobody nogroup
              vrrp_notify_fifo /run/v.fifo daemon
            }
            """, file: "k.conf")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.global.notifyFIFOs.map { $0.owner?.user } == ["nobody", "daemon"])
        #expect(config.global.notifyFIFOs.map { $0.owner?.group } == ["nogroup", nil])
        let none = try KeepalivedConfiguration.parse("global_defs {\n notify_fifo /run/k.fifo\n}\n", file: "k.conf")
        #expect(none.global.notifyFIFOs[0].owner == nil)
        let extra = try KeepalivedConfiguration.parse("global_defs {\n router_id r\n notify_fifo /run/k.fifo nobody nogroup x y\n}\n", file: "k.conf")
        #expect(extra.global.notifyFIFOs[0].owner?.group == "nogroup")
        #expect(extra.warnings.map(\.description) == ["k.conf:3: warning: notify_fifo: only PATH [USER [GROUP]]: 'x y' ignored"])
    }

    @Test("global_defs tandem_http ADDR:PORT: read without a warning; bad values are errors with file:line")
    func tandemHTTP() throws {
        let config = try KeepalivedConfiguration.parse("""
            global_defs {
              router_id a
              tandem_http 127.0.0.1:9123
            }
            """, file: "k.conf")
        #expect(config.global.tandemHTTP == "127.0.0.1:9123")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(try KeepalivedConfiguration.parse("global_defs {\n tandem_http [::1]:9123\n}\n").global.tandemHTTP == "[::1]:9123")
        #expect(try KeepalivedConfiguration.parse("global_defs {\n router_id a\n}\n").global.tandemHTTP == nil)
        for (value, says) in [("9123", "tandem_http must be ADDR:PORT"), ("127.0.0.1:0", "tandem_http must be ADDR:PORT"),
                              ("127.0.0.1:70000", "tandem_http must be ADDR:PORT"), ("::1:9123", "tandem_http must be ADDR:PORT"),
                              ("127.0.0.1:9123 127.0.0.1:9124", "takes one value"), ("", "needs a value")] {
            do {
                _ = try KeepalivedConfiguration.parse("global_defs {\n router_id a\n tandem_http \(value)\n}\n", file: "k.conf")
                Issue.record("accepted: tandem_http \(value)")
            } catch let error as ConfigError {
                #expect(error.description.hasPrefix("k.conf:3: "), "\(error)")
                #expect(error.message.contains(says), "\(error)")
            }
        }
    }

    @Test("include GLOB is relative to the including file; errors name the included file's line")
    func include() throws {
        let dir = "/tmp/tandem-include-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o755)
        mkdir(dir + "/conf.d", 0o755)
        defer {
            for f in ["conf.d/a.conf", "conf.d/b.conf", "main.conf"] { unlink(dir + "/" + f) }
            rmdir(dir + "/conf.d")
            rmdir(dir)
        }
        func write(_ path: String, _ text: String) {
            let f = fopen(dir + "/" + path, "w")!
            fputs(text, f)
            fclose(f)
        }
        write("main.conf", "global_defs {\n router_id X\n}\ninclude conf.d/*.conf\n")
        write("conf.d/a.conf", "vrrp_instance A {\n interface e\n virtual_router_id 1\n}\n")
        write("conf.d/b.conf", "vrrp_instance B {\n interface e\n virtual_router_id 2\n}\n")
        let config = try KeepalivedConfiguration.load(file: dir + "/main.conf")
        #expect(config.instances.map(\.name) == ["A", "B"])
        #expect(config.instances[1].location == SourceLocation(file: dir + "/conf.d/b.conf", line: 1))
        write("conf.d/b.conf", "vrrp_instance B {\n interface e\n virtual_router_id x\n}\n")
        #expect {
            try KeepalivedConfiguration.load(file: dir + "/main.conf")
        } throws: { error in
            (error as? ConfigError)?.description.hasPrefix(dir + "/conf.d/b.conf:3: ") == true
        }
    }

    @Test("advert_int rounds as keepalived: v2 to whole seconds, v3 to centiseconds")
    func advertInt() throws {
        func interval(_ version: Int, _ text: String) throws -> Int {
            try KeepalivedConfiguration.parse("vrrp_instance A {\n interface e\n virtual_router_id 1\n vrrp_version \(version)\n advert_int \(text)\n}\n")
                .instances[0].advertIntervalCentiseconds
        }
        #expect(try interval(2, "1") == 100)
        #expect(try interval(2, "0.1") == 100)
        #expect(try interval(2, "2.6") == 300)
        #expect(try interval(3, "0.1") == 10)
        #expect(try interval(3, "0.015") == 2)
        #expect(throws: ConfigError.self) { try interval(3, "41") }
    }
}

@Suite("keepalived.conf: files that are not configuration files")
struct KeepalivedConfigFileTests {
    @Test("include of a device or a directory is refused with the file named, not read forever")
    func includeDevice() {
        for target in ["/dev/zero", "/tmp"] {
            do {
                _ = try KeepalivedConfiguration.parse("include \(target)\n", file: "/etc/keepalived/keepalived.conf")
                Issue.record("include \(target) accepted")
            } catch let error as ConfigError {
                #expect(error.description == "\(target):0: cannot read file: not a regular file", "\(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
