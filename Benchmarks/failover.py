#!/usr/bin/env python3
"""Failover speed: tandem sentinel vs redis-sentinel, same machine, same run, interleaved.

Each trial starts a master and two replicas (real redis-server) and three sentinels of one
kind (quorum 2, down-after-milliseconds 1000 or --down-after, failover-timeout 10000) on free loopback ports,
waits until every sentinel knows its peers and both replicas, kills the master with SIGKILL and
polls every 10 ms:
  promoted  - a replica answers ROLE with "master"
  api       - every sentinel's SENTINEL get-master-addr-by-name names that replica
Prints per-trial times and medians, and tandem/redis ratios.

With a down-after far above the failover time (--down-after 30000, as operators set it) the
tandem row measures crash-fast failover (issue 18): the killed master's port refuses
connections and its replicas lose their links, so tandem does not wait for down-after;
redis-sentinel does. --no-crash-detection sets 'sentinel crash-detection m no' on the tandem
sentinels (down-after decides again).

  Benchmarks/failover.py [--trials 5] [--tandem .build/release/tandem] [--redis70]
                         [--down-after 30000] [--no-crash-detection]
                         [--kinds tandem] [--keep-slow DIR [--slow 0.3]]

--kinds runs only the kinds named (e.g. tandem alone, for many trials of the crash-fast row);
the kind `mixed` is a group of two tandem sentinels and one redis-sentinel (quorum 2: the
tandem pair's crash detection can make ODOWN; redis-sentinel votes and follows);
--keep-slow copies the sentinels' and servers' logs of every trial whose promotion took more
than --slow seconds into DIR (trial-N-kind/), with the kill's wall-clock time, to find which
step carried the tail.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time
from resp import encode, read

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def command(port, *args, timeout=0.5):
    """One RESP command on a fresh connection; returns the decoded reply (errors as Exception)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(encode(args))
        f = s.makefile("rb")
        return read(f)

def wait(cond, limit, what):
    end = time.time() + limit
    while time.time() < end:
        try:
            if cond(): return
        except Exception:
            pass
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)

class Trial:
    def __init__(self, kind, tandem, redis70=False, down_after=1000, crash_detection=True):
        self.kind, self.tandem, self.redis70 = kind, tandem, redis70
        self.down_after, self.crash_detection = down_after, crash_detection
        self.dir = tempfile.mkdtemp(prefix="tandem-bench-")
        self.procs = []

    def spawn(self, args, log):
        p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        self.procs.append(p); return p

    def start(self):
        self.ports = [free_port() for _ in range(3)]
        self.redis = []
        for i, port in enumerate(self.ports):
            d = os.path.join(self.dir, str(port)); os.mkdir(d)
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                    "--repl-diskless-sync-delay", "0", "--daemonize", "no", "--logfile", ""]
            if i: args += ["--replicaof", "127.0.0.1", str(self.ports[0])]
            self.redis.append(self.spawn(args, os.path.join(d, "log")))
        for port in self.ports[1:]:
            wait(lambda: "master_link_status:up" in command(port, "INFO", "replication"), 15, "replica sync")
        self.sentinels = []
        for i in range(3):
            port = free_port(); self.sentinels.append(port)
            conf = os.path.join(self.dir, "s%d.conf" % i)
            kind = "tandem" if self.kind == "tandem" or (self.kind == "mixed" and i < 2) else "redis"
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds m %d\nsentinel failover-timeout m 10000\n"
                        % (port, self.dir, self.ports[0], self.down_after))
                if kind == "tandem" and self.redis70:
                    f.write("sentinel tandem-behaviour redis-7.0\n")
                if kind == "tandem" and not self.crash_detection:
                    f.write("sentinel crash-detection m no\n")
            args = ([self.tandem, "sentinel", conf] if kind == "tandem" else ["redis-sentinel", conf])
            self.spawn(args, conf + ".log")
        def known():
            for p in self.sentinels:
                m = command(p, "SENTINEL", "MASTER", "m"); d = dict(zip(m[::2], m[1::2]))
                if d["num-other-sentinels"] != "2" or d["num-slaves"] != "2": return False
            return True
        wait(known, 30, "discovery")
        time.sleep(2)

    def run(self):
        replicas = self.ports[1:]
        self.killed_at = time.time()
        t0 = time.monotonic()
        self.redis[0].send_signal(signal.SIGKILL)
        promoted = api = None; winner = None
        limit = self.down_after / 1000 + 30
        while time.monotonic() - t0 < limit and (promoted is None or api is None):
            now = time.monotonic() - t0
            if promoted is None:
                for p in replicas:
                    try:
                        if command(p, "ROLE")[0] == "master": promoted, winner = now, p
                    except Exception: pass
            if winner and api is None:
                try:
                    if all(command(s, "SENTINEL", "get-master-addr-by-name", "m")[1] == str(winner) for s in self.sentinels):
                        api = time.monotonic() - t0
                except Exception: pass
            time.sleep(0.01)
        return promoted, api

    def stop(self):
        for p in self.procs:
            if p.poll() is None: p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--tandem", default=".build/release/tandem")
    ap.add_argument("--redis70", action="store_true", help="run tandem with 'sentinel tandem-behaviour redis-7.0'")
    ap.add_argument("--down-after", type=int, default=1000, help="down-after-milliseconds for every sentinel (default 1000)")
    ap.add_argument("--no-crash-detection", action="store_true", help="'sentinel crash-detection m no' on the tandem sentinels")
    ap.add_argument("--kinds", default="redis,tandem", help="which sentinels to run, comma-separated (default redis,tandem)")
    ap.add_argument("--keep-slow", metavar="DIR", help="keep the logs of trials whose promotion took more than --slow s")
    ap.add_argument("--slow", type=float, default=0.3)
    a = ap.parse_args()
    kinds = [k for k in a.kinds.split(",") if k]
    results = {"redis": [], "tandem": [], "mixed": []}
    for trial in range(a.trials):
        for kind in kinds:
            t = Trial(kind, os.path.abspath(a.tandem), a.redis70, a.down_after, not a.no_crash_detection)
            try:
                t.start(); r = t.run()
                if a.keep_slow and (r[0] is None or r[0] > a.slow):
                    dest = os.path.join(a.keep_slow, "trial-%d-%s" % (trial + 1, kind))
                    shutil.copytree(t.dir, dest, ignore=shutil.ignore_patterns("*.rdb"))
                    with open(os.path.join(dest, "killed-at"), "w") as f:
                        f.write("%.3f %s\n" % (t.killed_at, time.strftime("%H:%M:%S", time.localtime(t.killed_at))))
            finally:
                t.stop()
            results[kind].append(r)
            print("trial %d %-6s promoted %s  api %s" % (trial + 1, kind,
                  "%.3f s" % r[0] if r[0] else "-", "%.3f s" % r[1] if r[1] else "-"), flush=True)
    def med(kind, i):
        xs = [r[i] for r in results[kind] if r[i] is not None]
        return statistics.median(xs) if xs else float("nan")
    print()
    crash_fast = not a.redis70 and not a.no_crash_detection
    print("down-after-milliseconds %d%s" % (a.down_after, ", tandem with crash detection (crash-fast)" if crash_fast else ""))
    print("median (s)        redis-sentinel   tandem   tandem/redis")
    for i, name in ((0, "replica promoted"), (1, "API switched")):
        r, t = med("redis", i), med("tandem", i)
        print("%-17s %14.3f %8.3f %14.2f" % (name, r, t, t / r))
        if results["mixed"]:
            print("%-17s mixed (2 tandem + 1 redis-sentinel) %.3f" % (name, med("mixed", i)))
    for kind in kinds:
        for i, name in ((0, "promoted"), (1, "API switched")):
            xs = sorted(r[i] for r in results[kind] if r[i] is not None)
            if xs:
                print("%-6s %-12s spread %.3f–%.3f s over %d trials, %d above %.3f s" % (
                    kind, name, xs[0], xs[-1], len(xs), sum(x > a.slow for x in xs), a.slow))

if __name__ == "__main__":
    main()
