import Foundation
import Testing
import VRRPCore
@testable import KeepalivedConfig

@Suite("keepalived.conf reader: virtual_server")
struct VirtualServerConfigTests {
    @Test("timing inherits virtual server → real server → checker; every checker kind reads")
    func fullVirtualServer() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 10.0.0.1 6379 {
              delay_loop 2
              lb_algo wlc
              persistence_timeout
              retry 2
              connect_timeout 1.5
              sorry_server 10.0.0.9 6380
              sorry_server_inhibit
              inhibit_on_failure
              alpha
              omega
              quorum 3
              hysteresis 1
              quorum_up "/bin/echo up"
              quorum_down /bin/echo
              ha_suspend
              real_server 10.0.0.2 6379 {
                weight 3
                delay_before_retry 0.5
                notify_up "/usr/bin/logger rs up"
                notify_down /usr/bin/logger
                TCP_CHECK {
                  connect_port 6000
                  connect_ip 10.0.0.20
                  bindto 10.0.0.1
                  nb_get_retry 4
                  warmup 0
                }
                MISC_CHECK {
                  misc_path "/usr/local/bin/check 1 2"
                  misc_timeout 3
                  misc_dynamic
                }
              }
              real_server 10.0.0.3 {
                inhibit_on_failure false
                HTTP_GET {
                  url { path /health
                        status_code 200 204-206
                        digest 9B3A0C85A887A256D6939DA88AABD8CD }
                  url { path / }
                  virtualhost example.org
                }
                REDIS_CHECK { password secret }
              }
            }
            """, file: "lvs.conf")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        let server = try #require(config.virtualServers.first)
        #expect(server.scheduler == .wlc && server.persistenceTimeout == 360)
        #expect(server.sorryServer?.description == "10.0.0.9:6380" && server.sorryServerInhibit)
        #expect(server.alpha && server.omega && server.haSuspend)
        #expect(server.quorum == 3 && server.hysteresis == 1)
        #expect(server.quorumUp?.command == "/bin/echo up" && server.quorumDown?.command == "/bin/echo")
        let a = server.realServers[0], b = server.realServers[1]
        #expect(a.weight == 3 && a.inhibitOnFailure && a.notifyUp?.command == "/usr/bin/logger rs up")
        #expect(b.service.port == 6379 && b.weight == 1 && !b.inhibitOnFailure)
        let tcp = a.checkers[0]
        #expect(tcp.connectAddress.description == "10.0.0.20:6000" && tcp.bindAddress == IPAddress("10.0.0.1"))
        #expect(tcp.retry == 4 && tcp.delayBeforeRetry == 0.5 && tcp.delayLoop == 2 && tcp.connectTimeout == 1.5)
        #expect(tcp.warmup == 0 && tcp.alpha)
        guard case .misc(let misc) = a.checkers[1].kind else { Issue.record("not MISC_CHECK"); return }
        #expect(misc.path == "/usr/local/bin/check 1 2" && misc.timeout == 3 && misc.dynamic)
        #expect(a.checkers[1].retry == 2 && a.checkers[1].warmup == 2)
        guard case .http(let http) = b.checkers[0].kind else { Issue.record("not HTTP_GET"); return }
        #expect(http.urls.map(\.path) == ["/health", "/"])
        #expect(http.urls[0].statusCodes == [200...200, 204...206] && http.urls[1].statusCodes == [200...299])
        #expect(http.urls[0].digest == "9b3a0c85a887a256d6939da88aabd8cd")
        #expect(http.virtualhost == "example.org")
        #expect(b.checkers[0].delayBeforeRetry == 3 && b.checkers[0].retry == 2)
        guard case .redis(let redis) = b.checkers[1].kind else { Issue.record("not REDIS_CHECK"); return }
        #expect(redis.password == "secret" && redis.requireMaster)
    }

    @Test("keepalived's defaults: wlc, delay_loop 60, connect_timeout 5, retry 1 (MISC 0), delay_before_retry 1 (HTTP 3)")
    func defaults() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 10.0.0.1 80 {
              real_server 10.0.0.2 80 {
                TCP_CHECK { }
                HTTP_GET { url { path / } }
                MISC_CHECK { misc_path /bin/true }
              }
            }
            """)
        let server = try #require(config.virtualServers.first)
        #expect(server.scheduler == .wlc && server.persistenceTimeout == nil && server.quorum == 1 && !server.alpha)
        let checks = server.realServers[0].checkers
        #expect(checks.map(\.delayLoop) == [60, 60, 60] && checks.map(\.connectTimeout) == [5, 5, 5])
        #expect(checks.map(\.retry) == [1, 1, 0] && checks.map(\.delayBeforeRetry) == [1, 3, 1])
        #expect(checks.map(\.warmup) == [60, 60, 60])
    }

    @Test("not served: fwmark, SCTP, SMTP_CHECK, unknown keys — warnings with file:line")
    func warnings() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server fwmark 1 { }
            virtual_server 10.0.0.1 53 {
              protocol SCTP
            }
            virtual_server 10.0.0.1 80 {
              lb_kind DR
              persistence_granularity 255.255.255.0
              frob 1
              real_server 10.0.0.2 80 {
                SMTP_CHECK { connect_timeout 1 }
                uthreshold 10
                TCP_CHECK { bind_if eth0 }
              }
            }
            """, file: "w.conf")
        let lines = config.warnings.map(\.location.line)
        #expect(lines == [1, 2, 6, 7, 8, 10, 11, 12], "\(config.warnings)")
        #expect(config.warnings[0].description.hasPrefix("w.conf:1: warning: 'virtual_server fwmark' ignored"))
        #expect(config.warnings[1].message.contains("SCTP"))
        #expect(config.warnings[2].message.contains("lb_kind DR") && config.warnings[2].message.contains("proxy"))
        #expect(config.virtualServers.count == 1 && config.virtualServers[0].forwarding == .dr)
        #expect(config.virtualServers[0].realServers[0].checkers.count == 1)
    }

    @Test("protocol UDP is served: a UDP and a TCP virtual server may share an address and port, two UDP ones may not")
    func udp() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 10.0.0.1 53 {
              protocol UDP
              real_server 10.0.0.2 53 {
              }
            }
            virtual_server 10.0.0.1 53 {
              protocol TCP
            }
            """, file: "u.conf")
        #expect(config.virtualServers.map(\.udp) == [true, false])
        #expect(config.virtualServers.map(\.name) == ["10.0.0.1:53/udp", "10.0.0.1:53"])
        #expect(!config.warnings.contains { $0.message.contains("UDP") }, "\(config.warnings)")
        #expect {
            try KeepalivedConfiguration.parse("virtual_server 10.0.0.1 53 {\n protocol UDP\n}\nvirtual_server 10.0.0.1 53 {\n protocol UDP\n}\n", file: "d.conf")
        } throws: { error in
            "\(error)".hasPrefix("d.conf:4: virtual_server 10.0.0.1:53 is already defined at d.conf:1")
        }
    }

    @Test("bad values are errors naming file:line and the key", arguments: [
        ("virtual_server 10.0.0.1 {\n}", 1, "virtual_server takes an address and a port"),
        ("virtual_server 10.0.0.1 99999 {\n}", 1, "'virtual_server': '99999' is not a port"),
        ("virtual_server nowhere 80 {\n}", 1, "'nowhere' is not an IP address"),
        ("virtual_server 10.0.0.1 80 {\n lb_algo lblc\n}", 2, "'lb_algo': 'lblc' is not a scheduler tandem serves"),
        ("virtual_server 10.0.0.1 80 {\n lb_kind FOO\n}", 2, "'lb_kind': 'FOO' is not NAT, DR or TUN"),
        ("virtual_server 10.0.0.1 80 {\n delay_loop -1\n}", 2, "'delay_loop': '-1' is not a number of seconds"),
        ("virtual_server 10.0.0.1 80 {\n quorum 0\n}", 2, "'quorum': '0' is not an integer"),
        ("virtual_server 10.0.0.1 80 {\n quorum 2\n hysteresis 2\n}", 1, "hysteresis 2 must be less than quorum 2"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  weight 70000\n }\n}", 3, "'weight': '70000' is not an integer in 0…65535"),
        ("virtual_server 10.0.0.1 80 {\n real_server ::1 80 {\n }\n}", 2, "is not of virtual_server 10.0.0.1:80's address family"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n }\n real_server 10.0.0.2 80 {\n }\n}", 4, "listed twice"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n   connect_port 0\n  }\n }\n}", 4, "'connect_port': '0' is not a port"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n   nb_get_retry x\n  }\n }\n}", 4, "'nb_get_retry': 'x' is not an integer"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  MISC_CHECK {\n  }\n }\n}", 3, "MISC_CHECK of real_server 10.0.0.2:80 has no misc_path"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n  }\n }\n}", 3, "HTTP_GET of real_server 10.0.0.2:80 has no url block"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path /\n    digest xyz\n   }\n  }\n }\n}", 6, "'digest': 'xyz' is not an MD5 digest"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path /\n    status_code 200-99\n   }\n  }\n }\n}", 6, "'status_code': '200-99'"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n    path health\n   }\n  }\n }\n}", 4, "url path 'health' does not start with '/'"),
        ("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  REDIS_CHECK {\n   role slave\n  }\n }\n}", 4, "REDIS_CHECK 'role': 'slave' is not master or any"),
        ("virtual_server 10.0.0.1 80 {\n}\nvirtual_server 10.0.0.1 80 {\n}", 3, "virtual_server 10.0.0.1:80 is already defined at x.conf:1"),
        ("virtual_server 10.0.0.1 80 {\n sorry_server ::1 80\n}", 1, "sorry_server [::1]:80 is not of virtual_server"),
    ])
    func errors(text: String, line: Int, message: String) {
        do {
            let config = try KeepalivedConfiguration.parse(text, file: "x.conf")
            Issue.record("no error; got \(config.virtualServers.count) virtual server(s)")
        } catch let error as ConfigError {
            #expect(error.location.line == line, "\(error)")
            #expect(error.description.hasPrefix("x.conf:\(line): "), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

@Suite("keepalived.conf reader: virtual_server_group")
struct VirtualServerGroupConfigTests {
    @Test("a group's entries and ranges are where the virtual server listens; fwmark entries warned")
    func group() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server_group REDIS {
              10.0.0.100 6379
              10.0.0.110-112 6380
              fwmark 7
            }
            virtual_server group REDIS {
              lb_algo rr
              real_server 10.0.0.1 6379 {
                TCP_CHECK { connect_timeout 1 }
              }
            }
            virtual_server_group SPARE {
              10.0.0.200 80
            }
            """, file: "g.conf")
        let server = try #require(config.virtualServers.first)
        #expect(config.virtualServers.count == 1)
        #expect(server.group == "REDIS" && server.name == "group REDIS")
        #expect(server.listenAddresses.map(\.description) == ["10.0.0.100:6379", "10.0.0.110:6380", "10.0.0.111:6380", "10.0.0.112:6380"])
        #expect(server.service.description == "10.0.0.100:6379")
        #expect(server.realServers.map(\.service.description) == ["10.0.0.1:6379"])
        #expect(config.warnings.map(\.description) == [
            "g.conf:4: warning: virtual_server_group REDIS: 'fwmark' entries are not served by tandem vrrp (no firewall marks in user space); ignored",
            "g.conf:12: warning: virtual_server_group SPARE is not used by any virtual_server",
        ])
        let v6 = try KeepalivedConfiguration.parse("virtual_server_group V6 {\n  2001:db8::fe-101 443\n}\nvirtual_server group V6 {\n}\n")
        #expect(v6.virtualServers[0].listenAddresses.map(\.description) == ["[2001:db8::fe]:443", "[2001:db8::ff]:443", "[2001:db8::100]:443", "[2001:db8::101]:443"])
    }

    @Test("a change in the group is a change of its virtual server (reload)")
    func groupFingerprint() throws {
        let text = "virtual_server_group G {\n  10.0.0.1 80\n}\nvirtual_server group G {\n  lb_algo rr\n}\n"
        let a = try KeepalivedConfiguration.parse(text)
        let b = try KeepalivedConfiguration.parse(text.replacingOccurrences(of: "10.0.0.1 80", with: "10.0.0.1-2 80"))
        #expect(a.virtualServers[0].fingerprint != b.virtualServers[0].fingerprint)
        #expect(a.vrrpFingerprint == b.vrrpFingerprint)
    }

    @Test("group errors name file:line", arguments: [
        ("virtual_server group NOPE {\n}", 1, "virtual_server group NOPE: no virtual_server_group of that name"),
        ("virtual_server_group G {\n 10.0.0.1 80 extra\n}", 2, "virtual_server_group G: an entry is 'ADDRESS[-LAST] PORT'"),
        ("virtual_server_group G {\n 10.0.0.9-3 80\n}", 2, "'10.0.0.9-3': the range's end must be a number from 9 to 255"),
        ("virtual_server_group G {\n 10.0.0.1 80\n 10.0.0.1 80\n}", 3, "virtual_server_group G: 10.0.0.1:80 is listed twice"),
        ("virtual_server_group G {\n 10.0.0.1 80\n 2001:db8::1 80\n}", 3, "is not of 10.0.0.1:80's address family"),
        ("virtual_server_group G {\n 10.0.0.1 0\n}", 2, "'10.0.0.1': '0' is not a port"),
        ("virtual_server_group G {\n 10.0.0.1 80\n}\nvirtual_server_group G {\n}", 4, "virtual_server_group G is already defined at"),
        ("virtual_server_group G {\n 10.0.0.1 80\n}\nvirtual_server group G {\n}\nvirtual_server 10.0.0.1 80 {\n}", 6, "virtual_server 10.0.0.1:80 is already defined at e.conf:4 (group G)"),
        ("virtual_server_group G {\n 10.0.0.1 80\n}\nvirtual_server group G {\n}\nvirtual_server group G {\n}", 6, "the group is already used by another virtual_server"),
    ])
    func groupErrors(text: String, line: Int, message: String) {
        do {
            _ = try KeepalivedConfiguration.parse(text, file: "e.conf")
            Issue.record("no error for \(text)")
        } catch let error as ConfigError {
            #expect(error.location.line == line, "\(error)")
            #expect(error.description.contains(message), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }
}

@Suite("keepalived.conf reader: smtp_alert for checkers")
struct CheckerSMTPAlertConfigTests {
    @Test("checker, real server, virtual server, global_defs smtp_alert_checker, global_defs smtp_alert: the nearest wins")
    func inheritance() throws {
        func read(_ global: String, vs: String = "", rs: String = "", checker: String = "") throws -> (vs: Bool, rs: Bool) {
            let config = try KeepalivedConfiguration.parse("""
                global_defs {
                  \(global)
                }
                virtual_server 10.0.0.1 80 {
                  \(vs)
                  real_server 10.0.0.2 80 {
                    \(rs)
                    TCP_CHECK {
                      \(checker)
                    }
                  }
                }
                """)
            #expect(config.warnings.isEmpty, "\(config.warnings)")
            return (config.virtualServers[0].smtpAlert, config.virtualServers[0].realServers[0].smtpAlert)
        }
        #expect(try read("") == (false, false))
        #expect(try read("smtp_alert") == (true, true))
        #expect(try read("smtp_alert\n smtp_alert_checker false") == (false, false))
        #expect(try read("smtp_alert_vrrp") == (false, false))
        #expect(try read("", vs: "smtp_alert") == (true, true))
        #expect(try read("smtp_alert", vs: "smtp_alert false", rs: "smtp_alert") == (false, true))
        #expect(try read("", rs: "smtp_alert") == (false, true))
        #expect(try read("", vs: "smtp_alert", checker: "smtp_alert false") == (true, false))
    }
}

@Suite("keepalived.conf reader: SSL_GET")
struct SSLGetConfigTests {
    @Test("SSL_GET reads as HTTP_GET (urls, digest, status_code, HTTP_GET's defaults) and is marked TLS")
    func sslGet() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 10.0.0.1 443 {
              real_server 10.0.0.2 443 {
                SSL_GET {
                  url {
                    path /health
                    status_code 200
                  }
                  virtualhost www.example.com
                }
              }
            }
            """)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        let check = try #require(config.virtualServers.first?.realServers.first?.checkers.first)
        #expect(check.name == "SSL_GET")
        guard case .http(let http) = check.kind else { Issue.record("\(check.kind)"); return }
        #expect(http.tls && http.virtualhost == "www.example.com" && http.urls.map(\.path) == ["/health"])
        #expect(check.delayBeforeRetry == 3 && check.retry == 1)
        #expect(throws: ConfigError.self) {
            _ = try KeepalivedConfiguration.parse("virtual_server 10.0.0.1 443 {\n real_server 10.0.0.2 443 {\n  SSL_GET {\n  }\n }\n}")
        }
    }
}

@Suite("keepalived.conf reader: HTTP_GET's Host, http_protocol and SNI")
struct HTTPRequestConfigTests {
    /// Four real servers whose checkers take their virtualhost from the url, the checker, the
    /// real server and the virtual server; one IPv6 virtual server with none.
    private let text = """
        virtual_server 10.0.0.1 80 {
          real_server 10.0.0.2 8080 {
            virtualhost rs.example
            HTTP_GET {
              virtualhost checker.example
              url {
                path /a
                virtualhost url.example
              }
              url { path /b }
              http_protocol 1.0c
            }
          }
          real_server 10.0.0.3 8080 {
            virtualhost rs.example
            HTTP_GET {
              url { path /c }
              http_protocol 1.1
            }
          }
          real_server 10.0.0.4 8080 {
            SSL_GET {
              url { path /d }
              enable_sni
            }
          }
          real_server 10.0.0.5 8080 {
            virtualhost rs5.example
            SSL_GET {
              url { path /e }
              connect_ip 10.0.0.50
              connect_port 8443
            }
          }
          virtualhost vs.example
        }
        virtual_server fd00::1 80 {
          real_server fd00::2 8080 {
            HTTP_GET { url { path /f } }
          }
        }
        """

    private func http(_ config: KeepalivedConfiguration, _ vs: Int, _ rs: Int) throws -> (HTTPCheck, CheckerConfig) {
        let check = try #require(config.virtualServers[vs].realServers[rs].checkers.first)
        guard case .http(let http) = check.kind else { throw ConfigError(check.location, "not HTTP_GET") }
        return (http, check)
    }

    @Test("Host: the url's virtualhost, else the checker's, the real server's, the virtual server's (written after the real servers too), else IP:port; keepalived's request lines")
    func hostHeader() throws {
        let config = try KeepalivedConfiguration.parse(text, file: "http.conf")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.virtualServers[0].virtualhost == "vs.example")
        #expect(config.virtualServers[0].realServers.map(\.virtualhost) == ["rs.example", "rs.example", nil, "rs5.example"])
        let (a, checkA) = try http(config, 0, 0)
        #expect(a.protocolVersion == .http10Close)
        #expect(a.request(a.urls[0], server: checkA.connectAddress)
            == "GET /a HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: url.example\r\n\r\n")
        #expect(a.hostHeaderName(a.urls[1]) == "checker.example")
        let (c, checkC) = try http(config, 0, 1)
        #expect(c.request(c.urls[0], server: checkC.connectAddress)
            == "GET /c HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: rs.example\r\n\r\n")
        let (d, _) = try http(config, 0, 2)
        #expect(d.hostHeaderName(d.urls[0]) == "vs.example")
        // Nothing written anywhere: the address and port connected to, as keepalived 2.2.7.
        let (f, checkF) = try http(config, 1, 0)
        #expect(f.request(f.urls[0], server: checkF.connectAddress)
            == "GET /f HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: [fd00::2]:8080\r\n\r\n")
        var bare = f
        bare.virtualServerVirtualhost = nil
        #expect(bare.request(f.urls[0], server: ServiceAddress(address: IPAddress("10.0.0.50")!, port: 8443))
            == "GET /f HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.50:8443\r\n\r\n")
    }

    @Test("SNI only with enable_sni: the url's, checker's or virtual server's virtualhost, never the real server's (keepalived 2.2.7)")
    func sni() throws {
        let config = try KeepalivedConfiguration.parse(text)
        let (d, _) = try http(config, 0, 2)
        #expect(d.enableSNI && d.sniName(d.urls[0]) == "vs.example")
        let (e, checkE) = try http(config, 0, 3)
        #expect(!e.enableSNI && e.sniName(e.urls[0]) == nil && e.hostHeaderName(e.urls[0]) == "rs5.example")
        var withSNI = e
        withSNI.enableSNI = true
        #expect(withSNI.sniName(e.urls[0]) == "vs.example")
        #expect(checkE.connectAddress.description == "10.0.0.50:8443")
    }

    @Test("http_protocol other than 1.0, 1.0C/1.0c, 1.1 is an error naming file, line and value; enable_sni in HTTP_GET is warned")
    func badValues() throws {
        do {
            _ = try KeepalivedConfiguration.parse("""
                virtual_server 10.0.0.1 80 {
                  real_server 10.0.0.2 80 {
                    HTTP_GET {
                      url { path / }
                      http_protocol 2
                    }
                  }
                }
                """, file: "k.conf")
            Issue.record("http_protocol 2 was accepted")
        } catch let error as ConfigError {
            #expect(error.description.contains("k.conf:5") && error.description.contains("'http_protocol': '2' is not 1.0, 1.0C or 1.1"),
                    "\(error)")
        }
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 10.0.0.1 80 {
              real_server 10.0.0.2 80 {
                HTTP_GET {
                  url { path / }
                  http_protocol 1.0
                  enable_sni
                }
              }
            }
            """, file: "k.conf")
        #expect(config.warnings.map(\.description).contains { $0.contains("k.conf:6") && $0.contains("enable_sni") }, "\(config.warnings)")
        let (http, _) = try http(config, 0, 0)
        #expect(http.protocolVersion == .http10 && !http.enableSNI)
    }
}

@Suite("keepalived.conf reader: what a reload compares")
struct ReloadFingerprintTests {
    private let base = """
        global_defs {
          router_id A
        }
        vrrp_instance VI_1 {
          interface eth0
          virtual_router_id 60
          virtual_ipaddress {
            10.0.0.100
          }
        }
        virtual_server 10.0.0.100 6379 {
          delay_loop 6
          real_server 10.0.0.1 6379 {
            weight 1
            TCP_CHECK {
              connect_timeout 3
            }
          }
        }
        """

    @Test("comments, blank lines, indentation and line numbers change nothing; a value does")
    func virtualServerFingerprint() throws {
        let a = try KeepalivedConfiguration.parse(base)
        let moved = try KeepalivedConfiguration.parse("! a comment\n\n" + base.replacingOccurrences(of: "  delay_loop 6", with: "      delay_loop 6   # six"))
        #expect(a.virtualServers[0].fingerprint == moved.virtualServers[0].fingerprint)
        #expect(a.virtualServers[0].location.line != moved.virtualServers[0].location.line)
        #expect(a.vrrpFingerprint == moved.vrrpFingerprint)
        let weight = try KeepalivedConfiguration.parse(base.replacingOccurrences(of: "weight 1", with: "weight 0"))
        #expect(weight.virtualServers[0].fingerprint != a.virtualServers[0].fingerprint)
        #expect(weight.vrrpFingerprint == a.vrrpFingerprint, "a virtual server's change leaves the VRRP part the same")
    }

    @Test("the VRRP part: an instance's or global_defs' change shows; a quoted word differs from two words")
    func vrrpFingerprint() throws {
        let a = try KeepalivedConfiguration.parse(base)
        let priority = try KeepalivedConfiguration.parse(base.replacingOccurrences(of: "virtual_router_id 60", with: "virtual_router_id 60\n  priority 120"))
        #expect(priority.vrrpFingerprint != a.vrrpFingerprint)
        #expect(priority.virtualServers[0].fingerprint == a.virtualServers[0].fingerprint)
        let router = try KeepalivedConfiguration.parse(base.replacingOccurrences(of: "router_id A", with: "router_id B"))
        #expect(router.vrrpFingerprint != a.vrrpFingerprint)
        let one = try ConfigSyntax.parse(text: "notify_master \"/bin/a b\"\n", file: "x")
        let two = try ConfigSyntax.parse(text: "notify_master /bin/a b\n", file: "x")
        #expect(one[0].fingerprint != two[0].fingerprint)
    }
}

@Suite("keepalived.conf reader: UDP_CHECK")
struct UDPCheckConfigTests {
    @Test("hex strings as keepalived's read_hex_str: pairs, blanks between bytes, a lone digit a byte, x a wildcard nibble in replies only")
    func hex() {
        #expect(UDPCheck.hexBytes("0a0B ff 1", wildcards: false)?.bytes == [0x0a, 0x0b, 0xff, 0x01])
        #expect(UDPCheck.hexBytes("ax x0", wildcards: true).map { [$0.bytes, $0.mask] } == [[0xa0, 0x00], [0x0f, 0xf0]])
        #expect(UDPCheck.hexBytes("ax", wildcards: false) == nil)
        #expect(UDPCheck.hexBytes("zz", wildcards: true) == nil)
        #expect(UDPCheck.hexBytes("  ", wildcards: true) == nil)
    }

    @Test("UDP_CHECK reads payload, require_reply, the reply bounds and the common checker keywords; bad hex is an error with file:line; min > max is warned")
    func reads() throws {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 10.0.0.1 53 {
              protocol UDP
              real_server 10.0.0.2 53 {
                UDP_CHECK {
                  connect_port 5353
                  connect_timeout 2
                  payload 00 01 ff
                  require_reply 00 0x
                  min_reply_length 4
                  max_reply_length 3
                }
              }
            }
            """, file: "u.conf")
        #expect(config.warnings.map(\.description) == ["u.conf:4: warning: UDP_CHECK of real_server 10.0.0.2:53: min_reply_length 4 > max_reply_length 3 - will always fail"])
        let check = try #require(config.virtualServers.first?.realServers.first?.checkers.first)
        #expect(check.name == "UDP_CHECK" && check.connectAddress.description == "10.0.0.2:5353" && check.connectTimeout == 2)
        guard case .udp(let udp) = check.kind else { Issue.record("\(check.kind)"); return }
        #expect(udp.payload == [0, 1, 0xff] && udp.requireReply && udp.reply == [0, 0] && udp.replyMask == [0, 0x0f])
        #expect(udp.minReplyLength == 4 && udp.maxReplyLength == 3)
        #expect(!udp.accepts([0, 1, 2]), "outside the bounds")
        do {
            _ = try KeepalivedConfiguration.parse("virtual_server 10.0.0.1 53 {\n real_server 10.0.0.2 53 {\n  UDP_CHECK {\n   payload 0g\n  }\n }\n}", file: "u.conf")
            Issue.record("bad hex accepted")
        } catch let error as ConfigError {
            #expect(error.description == "u.conf:4: UDP_CHECK 'payload': '0g' is not a hex string", "\(error)")
        }
    }
}
