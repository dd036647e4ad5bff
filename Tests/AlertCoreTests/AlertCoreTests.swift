import AlertCore
import Testing

@Suite("AlertRules: which event becomes which alert")
struct AlertRulesTests {
    @Test("a failover's events on the leader: start, master switched, end; its middle steps give none")
    func failoverOnTheLeader() throws {
        let steps: [(String, String)] = [
            ("+sdown", "master mymaster 127.0.0.1 6379"),
            ("+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2"),
            ("+new-epoch", "1"),
            ("+try-failover", "master mymaster 127.0.0.1 6379"),
            ("+vote-for-leader", "4f1e 1"),
            ("+elected-leader", "master mymaster 127.0.0.1 6379"),
            ("+failover-state-select-slave", "master mymaster 127.0.0.1 6379"),
            ("+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
            ("+promoted-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
            ("+failover-end", "master mymaster 127.0.0.1 6379"),
            ("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"),
        ]
        let alerts = steps.compactMap { AlertRules.sentinelEvent(type: $0.0, payload: $0.1) }
        #expect(alerts.map(\.kind) == [.odown, .failoverStart, .failoverEnd, .masterSwitched])
        #expect(alerts.allSatisfy { $0.group == "mymaster" })
        let start = alerts[1]
        #expect(start.severity == .critical)
        #expect(start.origin == "+elected-leader")
        #expect(start.fields == ["instance_type": "master", "name": "mymaster", "ip": "127.0.0.1", "port": "6379"])
        #expect(start.summary == "failover of mymaster started: master 127.0.0.1:6379 is down")
        let switched = alerts[3]
        #expect(switched.fields["from"] == "127.0.0.1:6379")
        #expect(switched.fields["to"] == "127.0.0.1:6380")
    }

    @Test("aborts alert with their reason, except not-elected (another sentinel leads)")
    func aborts() {
        let noGood = AlertRules.sentinelEvent(type: "-failover-abort-no-good-slave", payload: "master m 10.0.0.1 6379")
        #expect(noGood?.kind == .failoverAbort)
        #expect(noGood?.fields["reason"] == "no-good-slave")
        #expect(noGood?.severity == .critical)
        #expect(AlertRules.sentinelEvent(type: "-failover-abort-slave-timeout", payload: "master m 10.0.0.1 6379")?.fields["reason"] == "slave-timeout")
        #expect(AlertRules.sentinelEvent(type: "-failover-abort-not-elected", payload: "master m 10.0.0.1 6379") == nil)
    }

    @Test("a sentinel or replica unreachable and back; the master's own SDOWN is left to its ODOWN")
    func reachability() {
        let sentinel = AlertRules.sentinelEvent(type: "+sdown", payload: "sentinel 0a1b 10.0.0.3 26379 @ mymaster 10.0.0.1 6379")
        #expect(sentinel?.kind == .unreachable)
        #expect(sentinel?.group == "mymaster")
        #expect(sentinel?.summary == "mymaster: sentinel 10.0.0.3:26379 is unreachable")
        #expect(sentinel?.fields["master_name"] == "mymaster")
        let back = AlertRules.sentinelEvent(type: "-sdown", payload: "slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379")
        #expect(back?.kind == .reachable)
        #expect(back?.severity == .info)
        #expect(AlertRules.sentinelEvent(type: "+sdown", payload: "master mymaster 10.0.0.1 6379") == nil)
        #expect(AlertRules.sentinelEvent(type: "-odown", payload: "master mymaster 10.0.0.1 6379")?.kind == .odownCleared)
        // Malformed payloads give nothing rather than a half-filled alert.
        #expect(AlertRules.sentinelEvent(type: "+odown", payload: "master mymaster") == nil)
        #expect(AlertRules.sentinelEvent(type: "+switch-master", payload: "mymaster 1 2") == nil)
        #expect(AlertRules.sentinelEvent(type: "+reboot", payload: "slave 10.0.0.2:6379 10.0.0.2 6379 @ m 10.0.0.1 6379") == nil)
    }

    @Test("fencing and VRRP moves")
    func nodeAndVRRP() {
        let fenced = AlertRules.fence(node: "n1", group: "g", fenced: true)
        #expect(fenced.kind == .fenced && fenced.severity == .critical && fenced.fields["node"] == "n1")
        #expect(AlertRules.fence(node: "n1", group: "g", fenced: false).kind == .unfenced)
        let master = AlertRules.vrrpState(instance: "VI_1", state: "MASTER", priority: 150, addresses: ["10.0.0.100"])
        #expect(master?.kind == .vipState)
        #expect(master?.fields["state"] == "MASTER")
        #expect(master?.summary == "VRRP instance VI_1 is MASTER: now holds 10.0.0.100")
        #expect(AlertRules.vrrpState(instance: "VI_1", state: "BACKUP", priority: 100, addresses: [])?.summary
                == "VRRP instance VI_1 is BACKUP: no longer holds its addresses")
        #expect(AlertRules.vrrpState(instance: "VI_1", state: "INITIALIZE", priority: 100, addresses: []) == nil)
        // keepalived's notify word, VRRPState.initialize's raw value
        #expect(AlertRules.vrrpState(instance: "VI_1", state: "INIT", priority: 100, addresses: []) == nil)
    }
}

@Suite("AlertQueue: retries, backoff and drops on a simulated clock")
struct AlertQueueTests {
    static func alert(_ n: Int) -> Alert {
        Alert(kind: .odown, severity: .critical, group: "g\(n)", summary: "s\(n)", origin: "+odown")
    }

    @Test("a failing sink: tries at 0, +1 s, +2 s, +4 s after each failure, then gives up and goes on to the next alert")
    func backoffSchedule() throws {
        var q = AlertQueue(policy: AlertPolicy(attempts: 4, firstBackoffMilliseconds: 1000, maxBackoffMilliseconds: 30_000, capacity: 8))
        _ = q.enqueue(Self.alert(1), time: "t1", now: 0)
        _ = q.enqueue(Self.alert(2), time: "t2", now: 0)
        var now: Int64 = 0
        var tries: [(Int64, UInt64, Int)] = []
        var outcomes: [AlertQueue.Outcome] = []
        // The clock advances by 100 ms per step; each try takes 50 ms and fails for alert 1.
        while tries.count < 6 && now < 60_000 {
            if let e = q.start(now: now) {
                let second = q.start(now: now)
                #expect(second == nil, "one in flight at a time")
                tries.append((now, e.sequence, e.attempt))
                now += 50
                let outcome = q.finish(error: e.sequence == 1 ? "HTTP 500" : nil, now: now)
                outcomes.append(try #require(outcome))
            }
            now += 50
        }
        #expect(tries.map(\.1) == [1, 1, 1, 1, 2])
        #expect(tries.map(\.2) == [1, 2, 3, 4, 1])
        // Each try is 50 ms; the next comes 1 s, 2 s, 4 s after the failed one ended.
        #expect(tries.map(\.0) == [0, 1050, 3100, 7150, 7250])
        #expect(outcomes[0] == .retry(sequence: 1, at: 1050, attempt: 2, error: "HTTP 500"))
        #expect(outcomes[3] == .gaveUp(sequence: 1, attempts: 4, error: "HTTP 500"))
        #expect(outcomes[4] == .delivered(sequence: 2, attempts: 1))
        #expect(q.failedCount == 1 && q.deliveredCount == 1 && q.count == 0)
        #expect(q.wakeAt == nil)
    }

    @Test("backoff doubles up to its cap")
    func backoffCap() {
        let p = AlertPolicy(attempts: 10, firstBackoffMilliseconds: 500, maxBackoffMilliseconds: 3000)
        #expect((1...6).map { p.backoff(afterAttempt: $0) } == [500, 1000, 2000, 3000, 3000, 3000])
    }

    @Test("a full queue drops its oldest waiting alert, never the one in flight, and the next one sent says how many")
    func dropsWhenFull() throws {
        var q = AlertQueue(policy: AlertPolicy(capacity: 3))
        for n in 1...3 {
            let dropped = q.enqueue(Self.alert(n), time: "", now: 0)
            #expect(dropped.isEmpty)
        }
        let started = q.start(now: 0)
        let first = try #require(started)
        #expect(first.sequence == 1)
        // Full, #1 in flight: #2 then #3 go.
        let dropped4 = q.enqueue(Self.alert(4), time: "", now: 1)
        #expect(dropped4 == [.dropped(sequence: 2)])
        let dropped5 = q.enqueue(Self.alert(5), time: "", now: 2)
        #expect(dropped5 == [.dropped(sequence: 3)])
        #expect(q.count == 3 && q.droppedCount == 2)
        #expect(first.droppedBefore == 0)
        _ = q.finish(error: nil, now: 3)
        let startedNext = q.start(now: 3)
        let next = try #require(startedNext)
        #expect(next.sequence == 4)
        #expect(next.droppedBefore == 2)
        // A failed try does not count the drops as reported: the retry says them again.
        _ = q.finish(error: "timeout", now: 4)
        let startedRetry = q.start(now: 4 + q.policy.backoff(afterAttempt: 1))
        let retry = try #require(startedRetry)
        #expect(retry.sequence == 4 && retry.attempt == 2 && retry.droppedBefore == 2)
        _ = q.finish(error: nil, now: 5000)
        let startedLast = q.start(now: 5000)
        let last = try #require(startedLast)
        #expect(last.sequence == 5 && last.droppedBefore == 0)
    }

    @Test("nothing is due during a backoff, and wakeAt says when it is")
    func wakeDuringBackoff() throws {
        var q = AlertQueue(policy: AlertPolicy(firstBackoffMilliseconds: 2000))
        #expect(q.wakeAt == nil)
        _ = q.enqueue(Self.alert(1), time: "", now: 100)
        #expect(q.wakeAt == .min)
        let firstTry = q.start(now: 100)
        #expect(firstTry?.attempt == 1)
        #expect(q.wakeAt == nil)
        _ = q.finish(error: "refused", now: 150)
        #expect(q.wakeAt == 2150)
        let early = q.start(now: 2149)
        #expect(early == nil)
        let due = q.start(now: 2150)
        #expect(due?.attempt == 2)
    }
}

@Suite("AlertPayload and AlertSettings")
struct AlertPayloadTests {
    @Test("the webhook JSON: every field, sorted keys, escapes")
    func json() {
        let alert = Alert(kind: .failoverStart, severity: .critical, group: "my\"master", summary: "line\none",
                          origin: "+elected-leader", detail: "master m 1.2.3.4 6379", fields: ["ip": "1.2.3.4", "b": "\u{1}"])
        let entry = AlertQueue.Entry(sequence: 7, alert: alert, time: "2026-12-05T15:00:00.000Z", attempt: 2, droppedBefore: 1)
        let text = AlertPayload.json(entry, sender: .init(daemon: "sentinel", source: "127.0.0.1:26379", host: "h"))
        #expect(text == #"{"attempt":2,"daemon":"sentinel","detail":"master m 1.2.3.4 6379","dropped_before":1,"#
            + #""event":"failover-start","fields":{"b":"\u0001","ip":"1.2.3.4"},"group":"my\"master","host":"h","#
            + #""origin":"+elected-leader","sequence":7,"severity":"critical","source":"127.0.0.1:26379","#
            + #""summary":"line\none","time":"2026-12-05T15:00:00.000Z","version":1}"#)
    }

    @Test("the email: subject with severity, one line per field, line breaks in values flattened (no lone \".\" can end DATA)")
    func email() {
        let alert = Alert(kind: .odown, severity: .critical, group: "m", summary: "m: master 1.2.3.4:6379 is objectively down",
                          origin: "+odown", detail: "x\r\n.\r\ny", fields: ["ip": "1.2.3.4"])
        let (subject, body) = AlertPayload.email(AlertQueue.Entry(sequence: 1, alert: alert, time: "T"), sender: .init(daemon: "node", source: "n1", host: "h"))
        #expect(subject == "[tandem] CRITICAL m: master 1.2.3.4:6379 is objectively down")
        #expect(body.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init) == [
            "event: odown", "severity: critical", "time: T", "daemon: node n1 on h", "group: m", "origin: +odown",
            "detail: x . y", "ip: 1.2.3.4",
        ])
    }

    @Test("webhook URLs: host, port, path; https and junk refused with what is wrong")
    func urls() throws {
        let u = try WebhookURL(parsing: "http://127.0.0.1:8080/hooks/tandem?x=1")
        #expect(u.host == "127.0.0.1" && u.port == 8080 && u.path == "/hooks/tandem?x=1")
        let v = try WebhookURL(parsing: "http://alerts.example")
        #expect(v.port == 80 && v.path == "/")
        let w = try WebhookURL(parsing: "http://[::1]:9000")
        #expect(w.host == "::1" && w.port == 9000)
        #expect(throws: AlertSettingError.self) { try WebhookURL(parsing: "https://x/") }
        #expect(throws: AlertSettingError.self) { try WebhookURL(parsing: "ftp://x/") }
        #expect(throws: AlertSettingError.self) { try WebhookURL(parsing: "http://x:99999/") }
        #expect(throws: AlertSettingError.self) { try WebhookURL(parsing: "http:///path") }
        do {
            _ = try WebhookURL(parsing: "https://x/")
        } catch {
            #expect(error.description.contains("https is not supported"))
        }
        let e = try EmailTarget(server: "mail.example", from: "tandem@example", to: ["a@example", "b@example"])
        #expect(e.port == 25 && e.server == "mail.example:25")
        #expect(throws: AlertSettingError.self) { try EmailTarget(server: "m:25", from: "nobody", to: ["a@x"]) }
        #expect(throws: AlertSettingError.self) { try EmailTarget(server: "m:25", from: "t@x", to: []) }
    }
}

@Suite("VRRPAlertFilter: the FAULT a daemon starts in, on a simulated clock")
struct VRRPAlertFilterTests {
    static let vip = ["10.0.0.100"]

    @Test("a start with a tracked script not passed yet: INIT, FAULT, then BACKUP inside the grace: no critical alert")
    func startupFaultIsNotAlerted() {
        var filter = VRRPAlertFilter(startedAt: 1000, startupGraceMilliseconds: 30_000)
        let r1 = filter.stateChanged(instance: "VI_1", state: "INIT", priority: 100, addresses: Self.vip, now: 1000)
        #expect(r1 == nil)
        let r2 = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip, now: 1002)
        #expect(r2 == nil)
        let backup = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 100, addresses: Self.vip, now: 3500)
        #expect(backup?.severity == .info)
        #expect(backup?.fields["state"] == "BACKUP")
        // The grace ends with nothing waiting: no late alert.
        let r3 = filter.tick(now: 31_000)
        #expect(r3.isEmpty)
        let r4 = filter.tick(now: 90_000)
        #expect(r4.isEmpty)
    }

    @Test("a FAULT after the instance has been BACKUP or MASTER is critical at once, inside the grace too")
    func laterFaultIsAlerted() {
        var filter = VRRPAlertFilter(startedAt: 0, startupGraceMilliseconds: 30_000)
        _ = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip, now: 5)
        let master = filter.stateChanged(instance: "VI_1", state: "MASTER", priority: 150, addresses: Self.vip, now: 2000)
        #expect(master?.severity == .warning)
        let fault = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 150, addresses: Self.vip, now: 4000)
        #expect(fault?.kind == .vipState)
        #expect(fault?.severity == .critical)
        #expect(fault?.summary == "VRRP instance VI_1 is FAULT: no longer holds 10.0.0.100")
        #expect(fault?.fields["since_start"] == nil)
        // And after the grace, a FAULT again (from BACKUP) as well.
        _ = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 100, addresses: Self.vip, now: 40_000)
        let r5 = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip, now: 50_000)
        #expect(r5?.severity == .critical)
        let r6 = filter.tick(now: 60_000)
        #expect(r6.isEmpty)
    }

    @Test("an instance still in its startup FAULT when the grace ends is alerted then, critical, once")
    func faultThatLastsIsAlertedAtTheGrace() {
        var filter = VRRPAlertFilter(startedAt: 10_000, startupGraceMilliseconds: 30_000)
        #expect(filter.graceEndsAt == 40_000)
        let r7 = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip, now: 10_001)
        #expect(r7 == nil)
        let r8 = filter.tick(now: 39_999)
        #expect(r8.isEmpty)
        let late = filter.tick(now: 40_000)
        #expect(late.count == 1)
        #expect(late.first?.severity == .critical)
        #expect(late.first?.group == "VI_1")
        #expect(late.first?.fields["state"] == "FAULT")
        #expect(late.first?.fields["since_start"] == "1")
        #expect(late.first?.summary == "VRRP instance VI_1 is still FAULT 30 s after its start: it has not held 10.0.0.100")
        let r9 = filter.tick(now: 41_000)
        #expect(r9.isEmpty)
        // Past its start now: leaving FAULT and coming back is alerted as usual.
        let r10 = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 100, addresses: Self.vip, now: 42_000)
        #expect(r10?.severity == .info)
        let r11 = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip, now: 43_000)
        #expect(r11?.severity == .critical)
    }

    @Test("an instance that first goes to FAULT after the grace is alerted at once; instances are apart")
    func faultAfterTheGraceAndTwoInstances() {
        var filter = VRRPAlertFilter(startedAt: 0, startupGraceMilliseconds: 10_000)
        let r12 = filter.stateChanged(instance: "A", state: "FAULT", priority: 100, addresses: [], now: 1)
        #expect(r12 == nil)
        let r13 = filter.stateChanged(instance: "B", state: "BACKUP", priority: 100, addresses: [], now: 2)
        #expect(r13?.severity == .info)
        let r14 = filter.stateChanged(instance: "C", state: "FAULT", priority: 100, addresses: [], now: 12_000)
        #expect(r14?.severity == .critical)
        let late = filter.tick(now: 12_001)
        #expect(late.map(\.group) == ["A"])
        #expect(late.first?.summary == "VRRP instance A is still FAULT 10 s after its start: it has not held its addresses")
    }

    @Test("STOP during the start (a daemon stopped early) is alerted as usual and ends the wait")
    func stopEndsTheStart() {
        var filter = VRRPAlertFilter(startedAt: 0)
        let r15 = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip, now: 1)
        #expect(r15 == nil)
        let r16 = filter.stateChanged(instance: "VI_1", state: "STOP", priority: 100, addresses: Self.vip, now: 2)
        #expect(r16?.fields["state"] == "STOP")
        let r17 = filter.tick(now: 30_000)
        #expect(r17.isEmpty)
    }

    static let eligible = "node eligible"

    @Test("a node agent held out (`node eligible` down): nothing at start, never a late alert; a warning when it lets the VIP go")
    func heldOutByTheNodeAgent() {
        var filter = VRRPAlertFilter(startedAt: 0, startupGraceMilliseconds: 30_000, ownCauses: [Self.eligible])
        let r1 = filter.stateChanged(instance: "VI_1", state: "INIT", priority: 100, addresses: Self.vip, now: 0)
        let r2 = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip,
                                     faultCauses: [Self.eligible], now: 2)
        #expect(r1 == nil && r2 == nil)
        // A replica's node in direct placement stays held out: no alert when the grace ends either.
        let late = filter.tick(now: 30_000)
        #expect(late.isEmpty)
        // Let in, it bids, wins: BACKUP (info), MASTER (warning).
        let backup = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 150, addresses: Self.vip, now: 40_000)
        let master = filter.stateChanged(instance: "VI_1", state: "MASTER", priority: 150, addresses: Self.vip, now: 43_000)
        #expect(backup?.severity == .info && master?.severity == .warning)
        // Held out again (cut off from the majority): the VIP leaves, a warning, not critical.
        let out = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 150, addresses: Self.vip,
                                      faultCauses: [Self.eligible], now: 50_000)
        #expect(out?.kind == .vipState && out?.severity == .warning)
        #expect(out?.fields["state"] == "FAULT" && out?.fields["held_out"] == "1" && out?.fields["fault"] == Self.eligible)
        #expect(out?.summary == "VRRP instance VI_1 is FAULT, held out (node eligible): no longer holds 10.0.0.100")
        // From BACKUP (the old master's node leaving the election after down-after): info.
        let back = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 100, addresses: Self.vip, now: 60_000)
        let leave = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip,
                                        faultCauses: [Self.eligible], now: 65_000)
        #expect(back?.severity == .info && leave?.severity == .info)
        #expect(leave?.summary == "VRRP instance VI_1 is FAULT, held out (node eligible): does not bid for 10.0.0.100")
    }

    @Test("a real cause is critical at once after the start, also beside the agent's own; named in `fault`")
    func realCauseIsCritical() {
        var filter = VRRPAlertFilter(startedAt: 0, startupGraceMilliseconds: 30_000, ownCauses: [Self.eligible])
        _ = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 100, addresses: Self.vip, now: 1000)
        let script = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip,
                                         faultCauses: ["chk_redis"], now: 2000)
        #expect(script?.severity == .critical && script?.fields["fault"] == "chk_redis" && script?.fields["held_out"] == nil)
        _ = filter.stateChanged(instance: "VI_1", state: "BACKUP", priority: 100, addresses: Self.vip, now: 3000)
        let both = filter.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: Self.vip,
                                       faultCauses: ["eth0", Self.eligible], now: 4000)
        #expect(both?.severity == .critical && both?.fields["fault"] == "eth0,node eligible")
        // A sync group's FAULT names no cause of its own: a real fault too.
        _ = filter.stateChanged(instance: "VI_2", state: "MASTER", priority: 100, addresses: [], now: 5000)
        let group = filter.stateChanged(instance: "VI_2", state: "FAULT", priority: 100, addresses: [], now: 6000)
        #expect(group?.severity == .critical && group?.fields["fault"] == nil)
        // A real FAULT at start is held for the grace, and then named with its cause.
        var start = VRRPAlertFilter(startedAt: 0, startupGraceMilliseconds: 5000, ownCauses: [Self.eligible])
        let held = start.stateChanged(instance: "VI_1", state: "FAULT", priority: 100, addresses: [], faultCauses: ["eth0"], now: 1)
        #expect(held == nil)
        let due = start.tick(now: 5000)
        #expect(due.first?.severity == .critical && due.first?.fields["fault"] == "eth0" && due.first?.fields["since_start"] == "1")
    }
}
