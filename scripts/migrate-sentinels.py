#!/usr/bin/env python3
"""Rolling migration walk (issue 15), loopback only: a Redis group watched by three
redis-sentinels, a writer going through Sentinel discovery (redis-py's Sentinel client, as an
application would), and each redis-sentinel replaced in turn by a tandem sentinel started on
the same port from the same sentinel.conf (so it keeps the sentinel's run ID, epochs and the
peers and replicas it knew). After each replacement the mixed group runs a failover asked of the
new tandem sentinel (SENTINEL FAILOVER), so every step proves the group still works together.

Counts, per step: writes acknowledged, write errors, and acknowledged writes lost (read back
from the final master at the end). Prints a table, or JSON with --json; exit 1 if any
acknowledged write was lost or a step did not complete.

    scripts/migrate-sentinels.py [--tandem .build/debug/tandem] [--json] [--keep]

Needs redis-server, redis-sentinel and python3 with redis-py (Debian: python3-redis).
Not covered here: replacing HAProxy by `tandem proxy` and keepalived by `tandem vrrp` (those
need the VIP, i.e. network namespaces and root; see docs/operations.md, "Rolling migration").
"""
import argparse, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, threading, time

import redis
from redis.sentinel import Sentinel


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_signals():
    """Children get an empty signal mask and default SIGTERM/SIGINT/SIGHUP (both are inherited
    through exec). Run from `swift test`, this script was spawned by a thread of Swift's
    cooperative pool (libdispatch workers block every asynchronous signal) and inherited that
    mask: redis-sentinel (plain sigaction handlers) then never saw the SIGTERM of a
    replacement step and was killed only after stop()'s 10 s, which is why each replacement
    took 11-12 s under the test harness and 1-2 s by hand."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


def wait(what, condition, timeout=30.0, explain=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    detail = ""
    if explain:
        try:
            detail = "; " + explain()
        except Exception as e:
            detail = f"; (could not explain: {e})"
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last})" if last else "") + detail)


class Group:
    def __init__(self, directory, tandem):
        self.dir = directory
        self.tandem = tandem
        self.procs = {}
        self.redis_ports = [free_port() for _ in range(3)]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.kinds = ["redis-sentinel"] * 3
        # A name of its own: a sentinel of another test (or another run on this machine)
        # monitoring "mymaster" at a loopback port that one of ours now reuses would announce
        # itself on our master's hello channel and join the group as a fourth sentinel.
        self.name = "mig-" + secrets.token_hex(4)

    def start(self, name, argv, log):
        self.procs[name] = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=self.dir)

    def stop(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)

    def start_redis(self):
        master = self.redis_ports[0]
        for i, port in enumerate(self.redis_ports):
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", self.dir, "--dbfilename", f"dump-{port}.rdb"]
            if i > 0:
                argv += ["--replicaof", "127.0.0.1", str(master)]
            self.start(f"redis{i}", argv, os.path.join(self.dir, f"redis-{port}.log"))
        for port in self.redis_ports:
            wait(f"redis {port}", lambda port=port: redis.Redis(port=port).ping())
        wait("both replicas linked", lambda: redis.Redis(port=master).info("replication")["connected_slaves"] == 2)

    def sentinel_conf(self, i):
        return os.path.join(self.dir, f"sentinel-{i}.conf")

    def start_sentinel(self, i):
        conf = self.sentinel_conf(i)
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write(f"port {self.sentinel_ports[i]}\nbind 127.0.0.1\ndir {self.dir}\n"
                        f"sentinel monitor {self.name} 127.0.0.1 {self.redis_ports[0]} 2\n"
                        f"sentinel down-after-milliseconds {self.name} 1000\n"
                        f"sentinel failover-timeout {self.name} 10000\n")
        log = os.path.join(self.dir, f"sentinel-{i}.log")
        if self.kinds[i] == "redis-sentinel":
            self.start(f"sentinel{i}", ["redis-sentinel", conf], log)
        else:
            self.start(f"sentinel{i}", [self.tandem, "sentinel", conf], log)
        wait(f"sentinel {i}", lambda: self.sentinel(i).ping())

    def sentinel(self, i):
        return redis.Redis(port=self.sentinel_ports[i], socket_timeout=1, decode_responses=True)

    def master_of(self, i):
        addr = self.sentinel(i).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        return f"{addr[0]}:{addr[1]}" if addr else None

    def settled(self):
        """Every sentinel up, agreeing on the master, knowing 2 replicas and 2 peers, none down."""
        masters = set()
        for i in range(3):
            s = self.sentinel(i)
            m = s.execute_command("SENTINEL", "MASTER", self.name)
            fields = dict(zip(m[::2], m[1::2])) if isinstance(m, list) else m
            if fields.get("flags") != "master" or fields.get("num-slaves") != "2" or fields.get("num-other-sentinels") != "2":
                return False
            peers = s.execute_command("SENTINEL", "SENTINELS", self.name)
            for p in peers:
                pf = dict(zip(p[::2], p[1::2])) if isinstance(p, list) else p
                if "s_down" in pf.get("flags", "") or "disconnected" in pf.get("flags", ""):
                    return False
            masters.add(self.master_of(i))
        return len(masters) == 1

    def views(self):
        """What each sentinel sees, for a settle that timed out (and the tail of its log)."""
        out = []
        for i in range(3):
            try:
                s = self.sentinel(i)
                m = s.execute_command("SENTINEL", "MASTER", self.name)
                f = dict(zip(m[::2], m[1::2])) if isinstance(m, list) else m
                peers = s.execute_command("SENTINEL", "SENTINELS", self.name)
                pf = [dict(zip(p[::2], p[1::2])) if isinstance(p, list) else p for p in peers]
                out.append(f"{self.kinds[i]} {i} (:{self.sentinel_ports[i]}): master {f.get('ip')}:{f.get('port')} "
                           f"flags={f.get('flags')} replicas={f.get('num-slaves')} peers={f.get('num-other-sentinels')} "
                           f"[" + ", ".join(f"{p.get('ip')}:{p.get('port')} {p.get('flags')}" for p in pf) + "]")
            except Exception as e:
                out.append(f"{self.kinds[i]} {i} (:{self.sentinel_ports[i]}): {e}")
            try:
                with open(os.path.join(self.dir, f"sentinel-{i}.log"), errors="replace") as log:
                    out.append("  log: " + " | ".join(line.strip() for line in log.readlines()[-6:]))
            except OSError:
                pass
        return "\n".join(out)


class Writer(threading.Thread):
    """SET w:N N through Sentinel discovery, one at a time; records which step each ack or error
    happened in."""

    def __init__(self, ports, name):
        super().__init__(daemon=True)
        self.name = name
        self.sentinel = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=0.5, min_other_sentinels=0)
        self.step = "start"
        self.acked = {}   # n -> step
        self.errors = {}  # step -> count
        self.stopping = False
        self.n = 0

    def run(self):
        client = self.sentinel.master_for(self.name, socket_timeout=0.5, retry_on_timeout=False)
        while not self.stopping:
            self.n += 1
            n, step = self.n, self.step
            try:
                client.set(f"w:{n}", n)
                self.acked[n] = step
            except Exception:
                self.errors[step] = self.errors.get(step, 0) + 1
                time.sleep(0.05)
            time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tandem", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "debug", "tandem"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = ap.parse_args()
    tandem = os.path.abspath(args.tandem)
    clean_signals()
    for tool in ["redis-server", "redis-sentinel"]:
        if not shutil.which(tool):
            print(f"migrate-sentinels: {tool} not found", file=sys.stderr)
            return 77
    if not os.access(tandem, os.X_OK):
        print(f"migrate-sentinels: {tandem} is not executable (build first, or --tandem PATH)", file=sys.stderr)
        return 77
    directory = tempfile.mkdtemp(prefix="tandem-migrate-")
    g = Group(directory, tandem)
    steps = []
    ok = True
    writer = None
    try:
        g.start_redis()
        for i in range(3):
            g.start_sentinel(i)
        wait("the redis-sentinels to settle", g.settled, timeout=60, explain=g.views)
        writer = Writer(g.sentinel_ports, g.name)
        writer.start()
        wait("the writer's first acknowledged write", lambda: len(writer.acked) > 0)

        def run_step(name, action):
            nonlocal ok
            writer.step = name
            started = time.monotonic()
            note = ""
            try:
                note = action() or ""
            except Exception as e:
                ok = False
                note = f"FAILED: {e}"
            time.sleep(1.0)  # writes after the step, counted in it
            steps.append({"step": name, "seconds": round(time.monotonic() - started, 2), "note": note})

        run_step("steady (3 redis-sentinel)", lambda: time.sleep(2))
        for i in range(3):
            def replace(i=i):
                old = g.master_of(i)
                g.stop(f"sentinel{i}")
                g.kinds[i] = "tandem"
                g.start_sentinel(i)
                wait(f"tandem sentinel {i} to settle in the mixed group", g.settled, timeout=60, explain=g.views)
                return f"master still {old}" if g.master_of(i) == old else f"master moved to {g.master_of(i)}"
            run_step(f"replace sentinel {i} by tandem", replace)

            def failover(i=i):
                before = g.master_of(i)
                g.sentinel(i).execute_command("SENTINEL", "FAILOVER", g.name)
                wait("the master to move", lambda: all(g.master_of(k) not in (None, before) for k in range(3)))
                wait("the group to settle", g.settled, timeout=60, explain=g.views)
                return f"{before} -> {g.master_of(i)} (asked of tandem sentinel {i}; others: {', '.join(g.kinds)})"
            run_step(f"failover in the mixed group ({sum(k == 'tandem' for k in g.kinds)} tandem)", failover)
        writer.step = "end"
        time.sleep(0.5)
        writer.stopping = True
        writer.join(5)
        master = g.master_of(0).split(":")
        m = redis.Redis(host=master[0], port=int(master[1]), decode_responses=True)
        lost = {}
        acked = dict(writer.acked)
        keys = list(acked)
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            values = m.mget([f"w:{n}" for n in chunk])
            for n, v in zip(chunk, values):
                if v != str(n):
                    lost[acked[n]] = lost.get(acked[n], 0) + 1
        for s in steps:
            s["acked"] = sum(1 for st in acked.values() if st == s["step"])
            s["errors"] = writer.errors.get(s["step"], 0)
            s["lost"] = lost.get(s["step"], 0)
        if sum(lost.values()) or not all(k == "tandem" for k in g.kinds):
            ok = False
        result = {"ok": ok, "final": {"sentinels": g.kinds, "master": ":".join(master)},
                  "total": {"acked": len(acked), "errors": sum(writer.errors.values()), "lost": sum(lost.values())},
                  "steps": steps, "directory": directory if args.keep else None}
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"{'step':<46}{'s':>6}{'acked':>8}{'errors':>8}{'lost':>6}  note")
            for s in steps:
                print(f"{s['step']:<46}{s['seconds']:>6}{s['acked']:>8}{s['errors']:>8}{s['lost']:>6}  {s['note']}")
            t = result["total"]
            print(f"{'total':<46}{'':>6}{t['acked']:>8}{t['errors']:>8}{t['lost']:>6}  sentinels now: {', '.join(g.kinds)}")
            print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if writer:
            writer.stopping = True
        g.stop_all()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
