import Testing
@testable import LVSCore

@Suite("UDP flows: IPVS's per-client UDP entries and their idle timeout, on a simulated clock")
struct UDPFlowsTests {
    @Test("a flow idle for the timeout (no datagram either way) ends; one still used does not")
    func idleTimeout() {
        var flows = UDPFlows<String>(idleTimeout: .seconds(300))
        #expect(flows.nextDeadline == nil)
        flows.seen("a", now: .seconds(0))
        flows.seen("b", now: .seconds(10))
        #expect(flows.nextDeadline == .seconds(300))
        // b's reply at 200 s, a silent since 0.
        flows.seen("b", now: .seconds(200))
        let early = flows.expire(now: .seconds(299))
        #expect(early == [])
        let due = flows.expire(now: .seconds(300))
        #expect(due == ["a"])
        #expect(!flows.contains("a") && flows.contains("b") && flows.count == 1)
        #expect(flows.nextDeadline == .seconds(500))
        let stillUsed = flows.expire(now: .seconds(499))
        #expect(stillUsed == [])
        let idle = flows.expire(now: .seconds(500))
        #expect(idle == ["b"])
        #expect(flows.count == 0 && flows.nextDeadline == nil)
    }

    @Test("IPVS's default UDP timeout is 300 s; a removed flow never expires")
    func defaultsAndRemoval() {
        var flows = UDPFlows<Int>()
        #expect(flows.idleTimeout == .seconds(300))
        flows.seen(1, now: .seconds(1))
        flows.seen(2, now: .seconds(2))
        flows.remove(1)
        let expired = flows.expire(now: .seconds(1000))
        #expect(expired == [2])
    }

    @Test("a UDP flow is a connection to the core: placed by the scheduler, counted by lc until it ends, persistent per address")
    func flowsAreConnections() {
        let reals = [RealServerSettings(weight: 1, checkers: [], identity: [10, 0, 0, 1, 0, 53]),
                     RealServerSettings(weight: 1, checkers: [], identity: [10, 0, 0, 2, 0, 53])]
        var state = VirtualServerState(settings: VirtualServerSettings(algorithm: .lc, realServers: reals), now: .zero)
        var flows = UDPFlows<ClientKey>(idleTimeout: .seconds(300))
        let first = ClientKey(address: [192, 168, 1, 1], port: 5000)
        let second = ClientKey(address: [192, 168, 1, 2], port: 5000)
        let a = state.connect(client: first, now: .seconds(1))
        flows.seen(first, now: .seconds(1))
        let b = state.connect(client: second, now: .seconds(2))
        flows.seen(second, now: .seconds(2))
        #expect(Set([a, b].compactMap { $0 }) == [.real(0), .real(1)], "lc spreads two open flows")
        for flow in flows.expire(now: .seconds(301)) { state.connectionClosed(a!, client: flow, now: .seconds(301)) }
        #expect(state.activeConnections(0) + state.activeConnections(1) == 1)
    }
}
