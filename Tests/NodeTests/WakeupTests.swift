@testable import Node
import Synchronization
import Testing

/// The node agent's loops sleep on a `Wakeup` that the local monitor's events kick.
@Suite("Node: a kick wakes the local probes and the decision loop", .timeLimit(.minutes(1)))
struct WakeupTests {
    @Test("a kick ends an hour's sleep (or, come before it, makes it return at once); each loop wakes once per kick")
    func kickEndsSleep() async {
        let wakeup = Wakeup()
        let done = Mutex(false)
        let sleeper = Task {
            var mine = 0
            await wakeup.sleep(milliseconds: 3_600_000, seen: &mine)
            done.withLock { $0 = true }
            return mine
        }
        // Without the kick this spins until the suite's time limit.
        while !done.withLock({ $0 }) {
            wakeup.kick()
            try? await Task.sleep(for: .milliseconds(5))
        }
        let woke = await sleeper.value
        #expect(woke >= 1)
        // Another loop, not run since those kicks: its sleep returns at once and records them.
        var seen = 0
        await wakeup.sleep(milliseconds: 3_600_000, seen: &seen)
        #expect(seen >= woke)
        // One kick, two loops: each returns at once, once.
        wakeup.kick()
        var a = seen, b = seen
        await wakeup.sleep(milliseconds: 3_600_000, seen: &a)
        await wakeup.sleep(milliseconds: 3_600_000, seen: &b)
        #expect(a == seen + 1 && b == seen + 1)
    }
}
