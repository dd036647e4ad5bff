#!/usr/bin/env python3
"""Sentinel at scale: CPU and RSS of three sentinels watching N idle masters, one replica each.

For each N: N masters and N replicas (real redis-server, no persistence) on free loopback ports.
Then, kind after kind, three sentinels watching every master (quorum 2, down-after-milliseconds
1000, failover-timeout 10000) — redis-sentinel, tandem (Tandem's behaviour), tandem with
`sentinel tandem-behaviour redis-7.0` — started, waited on until each one knows both peers and
the replica of every master, left to settle, then measured: CPU % of one core per sentinel from
/proc/PID/stat (utime+stime) over --seconds, and RSS (VmRSS) at the end. The sentinels of one
kind are stopped before the next kind starts; the servers are shared.

With --failover (at the N given to it, default 200): after the measurement, SIGKILL of one master
(a different group per kind) while the others stay monitored, polling every 10 ms: *promoted*
when its replica answers ROLE master, *api* when all three sentinels' get-master-addr-by-name
name it (as Benchmarks/failover.py). The killed server is restarted as a replica of the promoted
one so the next kind starts from a healthy group.

  Benchmarks/sentinel-scale.py [--masters 1,50,200] [--seconds 20] [--failover [--failover-at 200]]
                               [--perf DIR] [--keep]
                               [--kinds redis,tandem,tandem-redis70] [--tandem .build/release/tandem]
"""
import argparse, os, resource, shutil, signal, socket, subprocess, sys, tempfile, time
from resp import encode, read

def free_port(taken):
    while True:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
        if p not in taken:
            taken.add(p); return p


def command(port, *args, timeout=2.0):
    """One RESP command on a fresh connection; returns the decoded reply (errors as Exception)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(encode(args))
        return read(s.makefile("rb"))

def wait(cond, limit, what):
    end = time.time() + limit
    while time.time() < end:
        try:
            if cond(): return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)

CLK_TCK = os.sysconf("SC_CLK_TCK")

def cpu_split(pid):
    """(utime, stime) in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])

def cpu_ticks(pid):
    return sum(cpu_split(pid))

def wakeups(pid):
    """Context switches of all the process's threads so far (voluntary + involuntary): about
    one per time a thread went to sleep and was woken again, a count that, like sends, hardly
    depends on how busy the machine is."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total

def rss_mb(pid, field="VmRSS"):
    """VmRSS (or RssAnon, RssFile) in MB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"): return int(line.split()[1]) / 1024
    return float("nan")

class Bench:
    def __init__(self, tandem):
        self.tandem = tandem
        self.dir = tempfile.mkdtemp(prefix="tandem-scale-")
        self.procs = []          # every process started, stopped by PID at the end
        self.taken = set()
        self.syscall_mix = False

    def spawn(self, args, log):
        p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=self.dir)
        self.procs.append(p); return p

    def redis_server(self, port, replica_of=None):
        d = os.path.join(self.dir, "r%d" % port); os.makedirs(d, exist_ok=True)
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--daemonize", "no", "--logfile", ""]
        if replica_of: args += ["--replicaof", "127.0.0.1", str(replica_of)]
        return self.spawn(args, os.path.join(d, "log"))

    def start_servers(self, n):
        """groups[i] = [master port, replica port]; servers[port] = process."""
        self.groups, self.servers = [], {}
        for _ in range(n):
            m, r = free_port(self.taken), free_port(self.taken)
            self.groups.append([m, r])
            self.servers[m] = self.redis_server(m)
        for m, _ in self.groups:
            wait(lambda: command(m, "PING") == "PONG", 15, "master %d" % m)
        for m, r in self.groups:
            self.servers[r] = self.redis_server(r, replica_of=m)
        for _, r in self.groups:
            wait(lambda: "master_link_status:up" in command(r, "INFO", "replication"), 30, "replica %d sync" % r)

    def stop_servers(self):
        for p in self.servers.values():
            if p.poll() is None: p.kill()
            p.wait()

    def start_sentinels(self, kind):
        self.sentinels, self.sentinel_procs = [], []
        for i in range(3):
            port = free_port(self.taken); self.sentinels.append(port)
            conf = os.path.join(self.dir, "%s-s%d-%d.conf" % (kind, i, port))
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\n" % (port, self.dir))
                for g, (m, _) in enumerate(self.groups):
                    f.write("sentinel monitor m%d 127.0.0.1 %d 2\nsentinel down-after-milliseconds m%d 1000\n"
                            "sentinel failover-timeout m%d 10000\n" % (g, m, g, g))
                if kind == "tandem-redis70":
                    f.write("sentinel tandem-behaviour redis-7.0\n")
            args = ["redis-sentinel", conf] if kind == "redis" else [self.tandem, "sentinel", conf]
            self.sentinel_procs.append(self.spawn(args, conf + ".log"))
        n = len(self.groups)
        def known():
            for p in self.sentinels:
                masters = command(p, "SENTINEL", "MASTERS", timeout=5)
                if not isinstance(masters, list) or len(masters) != n: return False
                for m in masters:
                    d = dict(zip(m[::2], m[1::2]))
                    if d["num-other-sentinels"] != "2" or d["num-slaves"] != "1": return False
            return True
        wait(known, 60 + n * 0.3, "discovery by %s sentinels" % kind)

    def stop_sentinels(self):
        for p in self.sentinel_procs:
            if p.poll() is None:
                p.terminate()
                try: p.wait(5)
                except subprocess.TimeoutExpired: p.kill(); p.wait()

    def measure(self, seconds, perf_out=None):
        pids = [p.pid for p in self.sentinel_procs]
        t0, c0 = time.monotonic(), [cpu_ticks(pid) for pid in pids]
        s0, w0 = [cpu_split(pid) for pid in pids], [wakeups(pid) for pid in pids]
        if perf_out:  # profiles the first sentinel (and slows it: read its CPU figure with care)
            perf = subprocess.Popen(["perf", "record", "-g", "-o", perf_out, "-p", str(pids[0]), "--", "sleep", str(seconds)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(perf)
            perf.wait()
        else:
            # Syscalls of the three sentinels while measuring (perf stat: a count of messages that,
            # unlike CPU %, hardly depends on how busy the machine is).
            self.syscalls = None
            stat = None
            if shutil.which("perf"):
                stat = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-e",
                                         "syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg",
                                         "-p", ",".join(map(str, pids)), "--", "sleep", str(seconds)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                self.procs.append(stat)
            mix = None
            if self.syscall_mix and shutil.which("strace"):
                mix = subprocess.Popen(["timeout", "-s", "INT", str(min(seconds, 5)), "strace", "-c", "-f", "-p", str(pids[0])],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                self.procs.append(mix)
            time.sleep(seconds)
            if mix:
                print("syscalls of the first sentinel over %s s (strace -c; it slows the process):" % min(seconds, 5))
                print("\n".join(mix.communicate()[1].splitlines()[:40]), flush=True)
            if stat:
                out = stat.communicate()[1]
                self.sends = 0
                for line in out.splitlines():
                    f = line.split(",")
                    if len(f) > 2 and f[0].isdigit():
                        if f[2].startswith("raw_syscalls:sys_enter"):
                            self.syscalls = int(f[0]) / 3 / seconds
                        elif f[2].startswith("syscalls:sys_enter_"):  # write, writev, sendto, sendmsg
                            self.sends += int(f[0]) / 3 / seconds
        t1, c1 = time.monotonic(), [cpu_ticks(pid) for pid in pids]
        cpu = [100.0 * (b - a) / CLK_TCK / (t1 - t0) for a, b in zip(c0, c1)]
        s1, w1 = [cpu_split(pid) for pid in pids], [wakeups(pid) for pid in pids]
        # Means over the three sentinels: user and system CPU %, context switches a second.
        self.user = sum(100.0 * (b[0] - a[0]) / CLK_TCK / (t1 - t0) for a, b in zip(s0, s1)) / 3
        self.system = sum(100.0 * (b[1] - a[1]) / CLK_TCK / (t1 - t0) for a, b in zip(s0, s1)) / 3
        self.switches = sum(b - a for a, b in zip(w0, w1)) / 3 / (t1 - t0)
        self.anon = [rss_mb(pid, "RssAnon") for pid in pids]
        return cpu, [rss_mb(pid) for pid in pids]

    def failover(self, g):
        master, replica = self.groups[g]
        name = "m%d" % g
        t0 = time.monotonic()
        self.servers[master].send_signal(signal.SIGKILL)
        promoted = api = None
        while time.monotonic() - t0 < 30 and (promoted is None or api is None):
            now = time.monotonic() - t0
            if promoted is None:
                try:
                    if command(replica, "ROLE", timeout=0.5)[0] == "master": promoted = now
                except Exception: pass
            if promoted is not None and api is None:
                try:
                    if all(command(s, "SENTINEL", "get-master-addr-by-name", name, timeout=0.5)[1] == str(replica)
                           for s in self.sentinels):
                        api = time.monotonic() - t0
                except Exception: pass
            time.sleep(0.01)
        self.servers[master].wait()
        # The group is healthy again for the next kind: the old master's port comes back as a replica.
        self.servers[master] = self.redis_server(master, replica_of=replica)
        self.groups[g] = [replica, master]
        wait(lambda: "master_link_status:up" in command(master, "INFO", "replication"), 30, "old master resync")
        return promoted, api

    def cleanup(self, keep=False):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if keep: print("kept", self.dir, file=sys.stderr)
        else: shutil.rmtree(self.dir, ignore_errors=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--masters", default="1,50,200", help="comma-separated N values")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--settle", type=float, default=3, help="seconds between discovery and measuring")
    ap.add_argument("--kinds", default="redis,tandem,tandem-redis70")
    ap.add_argument("--tandem", default=".build/release/tandem")
    ap.add_argument("--failover", action="store_true", help="also time a kill -9 failover of one master")
    ap.add_argument("--failover-at", type=int, default=200)
    ap.add_argument("--perf", metavar="DIR", help="perf record the first tandem sentinel of each kind into DIR")
    ap.add_argument("--keep", action="store_true", help="keep the run's directory (configs, logs)")
    ap.add_argument("--syscall-mix", action="store_true", help="print strace -c of the first sentinel of each kind")
    a = ap.parse_args()
    kinds = a.kinds.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the sentinels
    bench = Bench(os.path.abspath(a.tandem))
    bench.syscall_mix = a.syscall_mix
    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    rows = []
    try:
        for n in (int(x) for x in a.masters.split(",")):
            bench.start_servers(n)
            base = {}
            for k, kind in enumerate(kinds):
                bench.start_sentinels(kind)
                time.sleep(a.settle)
                perf_out = os.path.join(os.path.abspath(a.perf), "%s-%d.data" % (kind, n)) if a.perf and kind != "redis" else None
                cpu, rss = bench.measure(a.seconds, perf_out)
                fo = (None, None)
                if a.failover and n == a.failover_at:
                    fo = bench.failover(k % n)
                bench.stop_sentinels()
                base.setdefault(kind, sum(cpu) / 3)
                rows.append((n, kind, cpu, rss, fo))
                print("N=%-4d %-15s CPU %% %s  mean %5.2f (user %.2f sys %.2f)   RSS MB %s (anon %s)   switches/s %.0f   syscalls/s %s%s" % (
                    n, kind, " ".join("%5.2f" % c for c in cpu), sum(cpu) / 3, bench.user, bench.system,
                    " ".join("%5.1f" % r for r in rss), " ".join("%.1f" % r for r in bench.anon), bench.switches,
                    ("%.0f (sends %.0f)" % (bench.syscalls, bench.sends)) if getattr(bench, "syscalls", None) else "-",
                    ("   failover promoted %s api %s" % tuple("%.3f s" % x if x else "-" for x in fo)) if fo[0] or fo[1] else ""),
                    flush=True)
            if "redis" in base:
                for kind in kinds[1:]:
                    print("N=%-4d %-15s / redis-sentinel CPU %.2f×" % (n, kind, base[kind] / max(base["redis"], 1e-9)), flush=True)
            bench.stop_servers()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        bench.cleanup(a.keep)

if __name__ == "__main__":
    main()
