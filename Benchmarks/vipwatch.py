"""Who holds a virtual IP, for the namespace labs' drivers (Benchmarks/node-driver.py,
scripts/lab-reliability-driver.py): each namespace's own kernel address events
(`ip -ts monitor address`, microsecond timestamps), so a handover's overlap is measured, not
sampled."""
import datetime, subprocess, threading, time


class VipWatch:
    def __init__(self, hosts, vip):
        """hosts: [(name, namespace)]; starts watching at once."""
        self.hosts, self.vip, self.events, self.procs = hosts, vip, [], []
        self.initial = {}
        for name, netns in hosts:
            out = subprocess.run(["ip", "-n", netns, "-4", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout
            self.initial[name] = ("inet %s/" % vip) in out
        self.started = time.time()
        self.log = []
        for name, netns in hosts:
            threading.Thread(target=self._watch, args=(name, netns), daemon=True).start()

    def _watch(self, name, netns):
        proc = subprocess.Popen(["ip", "-n", netns, "-ts", "monitor", "address"], stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        for line in proc.stdout:
            if ("inet %s/" % self.vip) in line and line.startswith("["):
                stamp = datetime.datetime.fromisoformat(line[1:line.index("]")]).timestamp()
                self.events.append((stamp, name, "Deleted" not in line))

    def stop(self):
        """Stops watching; returns the holders over time: [(time, (names...))], one entry per change
        (replayed in the kernels' time order: the watcher threads see events in any order)."""
        for p in self.procs: p.terminate()
        held = dict(self.initial)
        log = [(self.started, tuple(n for n, _ in self.hosts if held[n]))]
        for stamp, name, holds in sorted(self.events):
            if held[name] != holds:
                held[name] = holds
                log.append((stamp, tuple(n for n, _ in self.hosts if held[n])))
        self.log = log
        return log

    def longest_overlap(self):
        """The longest span in which two or more hosts held the VIP (after stop())."""
        ends = [t for t, _ in self.log[1:]] + [time.time()]
        return max((t2 - t for (t, h), t2 in zip(self.log, ends) if len(h) > 1), default=0.0)
