import Synchronization

/// Lets a periodic loop be woken before its period is up: `kick()` ends every `sleep` under way
/// and makes the next one return at once for each loop that has not run since. The node agent's
/// local probes and decision loop sleep on one, and the local monitor's events kick it: a
/// promotion is then acted on when it happens, not up to a probe period and a decision period
/// later (the lab: ~40 ms between the monitor's +switch-master and the VIP's claim).
final class Wakeup: Sendable {
    private struct State {
        var generation = 0
        var nextID = 0
        var sleepers: [Int: Task<Void, Never>] = [:]
    }
    private let state = Mutex(State())

    func kick() {
        let sleepers = state.withLock { s -> [Task<Void, Never>] in
            s.generation += 1
            defer { s.sleepers = [:] }
            return Array(s.sleepers.values)
        }
        for sleeper in sleepers { sleeper.cancel() }
    }

    /// Sleeps `milliseconds` unless kicked since `seen` (the generation this loop last woke at),
    /// or until kicked; updates `seen`.
    func sleep(milliseconds: Int64, seen: inout Int) async {
        let started: (Int, Task<Void, Never>)? = state.withLock { s in
            guard s.generation == seen else { return nil }
            let id = s.nextID
            s.nextID += 1
            let sleeper = Task { _ = try? await Task.sleep(for: .milliseconds(milliseconds)) }
            s.sleepers[id] = sleeper
            return (id, sleeper)
        }
        if let (id, sleeper) = started {
            await withTaskCancellationHandler {
                await sleeper.value
            } onCancel: {
                sleeper.cancel()
            }
            state.withLock { _ = $0.sleepers.removeValue(forKey: id) }
        }
        seen = state.withLock { $0.generation }
    }
}

/// Counts a loop's rounds (a probe that does something every n-th round).
final class RoundCounter: Sendable {
    private let count = Atomic<Int64>(0)

    /// The number of this round: 1, 2, 3…
    func next() -> Int64 { count.add(1, ordering: .relaxed).newValue }
}
