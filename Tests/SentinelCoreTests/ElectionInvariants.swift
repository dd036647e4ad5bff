@testable import SentinelCore

/// The election's safety invariants over a simulated group, checked after every step: no
/// sentinel votes twice in an epoch, at most one leader per epoch, no two promotions in one epoch.
/// (Used by the Sentinel and the Writes simulators.)
struct ElectionInvariants {
    private var votes: [Int: [UInt64: String]] = [:]
    private var leaders: [UInt64: Int] = [:]
    private var promotedIn: [UInt64: InstanceAddress] = [:]
    private var eventsSeen: [Int] = []
    private var promotionsSeen = 0

    mutating func check(_ g: SimulatedGroup, into violations: inout [String]) {
        if eventsSeen.count < g.sentinels.count { eventsSeen += Array(repeating: 0, count: g.sentinels.count - eventsSeen.count) }
        for i in g.sentinels.indices {
            let events = g.sentinels[i].events
            if eventsSeen[i] > events.count { eventsSeen[i] = 0 }
            for (_, event) in events[eventsSeen[i]...] {
                switch event.type {
                case "+vote-for-leader":
                    let words = event.payload.split(separator: " ")
                    guard words.count == 2, let epoch = UInt64(words[1]) else { continue }
                    let candidate = String(words[0])
                    if let earlier = votes[i]?[epoch], earlier != candidate {
                        violations.append("sentinel \(i) voted twice in epoch \(epoch): \(earlier) and \(candidate)")
                    }
                    votes[i, default: [:]][epoch] = candidate
                case "+elected-leader":
                    let master = g.sentinels[i].state.masters[SimulatedGroup.masterName]
                    let epoch = master?.failoverEpoch ?? 0
                    // A SENTINEL FAILOVER that went on alone, its unvoting peers out of reach (the
                    // operator's override, as in 7.0, which never asks), is no election: the
                    // others never hear of its epoch and may reuse it (write simulator seed
                    // 34302: both others killed, then it cut off; restarted, they elected a
                    // leader in the same epoch). One elected by a majority is checked as any.
                    // Votes and promotions are checked either way.
                    let myID = g.sentinels[i].state.myID
                    if master?.forcedFailover == true, votes.values.filter({ $0[epoch] == myID }).count * 2 <= g.sentinels.count {
                        continue
                    }
                    if let other = leaders[epoch], other != i {
                        violations.append("two leaders in epoch \(epoch): sentinels \(other) and \(i)")
                    }
                    leaders[epoch] = i
                default:
                    break
                }
            }
            eventsSeen[i] = events.count
        }
        if promotionsSeen > g.promotions.count { promotionsSeen = 0 }
        for promotion in g.promotions[promotionsSeen...] {
            let epoch = promotion.epoch  // when it was sent, not now
            if let other = promotedIn[epoch], other != promotion.address {
                violations.append("two promotions in epoch \(epoch): \(other) and \(promotion.address)")
            }
            promotedIn[epoch] = promotion.address
        }
        promotionsSeen = g.promotions.count
    }
}
