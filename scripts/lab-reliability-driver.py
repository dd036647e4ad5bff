#!/usr/bin/env python3
"""Client side of scripts/lab-reliability.sh (runs in the client namespace): three workloads
through the endpoint a user would use (the VIP), one fault, then a checker that reads every
server and says what a user lost.

Workloads, concurrently, WRITERS connections each (one outstanding command per connection,
reconnect after an error, 10 ms pause):
  set    SET s<w>:<seq> <seq>   unique keys
  incr   INCR c<w>              one counter per connection
  rpush  RPUSH l<w> e<seq>      one list per connection, unique elements

Which server acknowledged a write: every write goes as MULTI / <write> / INFO server / EXEC in
one round trip, so the reply that acknowledges the write also carries the run_id of the server
that executed it, atomically (a transaction runs on one server, whatever proxy or VIP sits in
between and whichever backend it picks for this command). A run_id names one server process: a
restarted server has a new one. Two run_ids acknowledging writes in overlapping spans of time
(each server's span: its first to its last acknowledgement) is a split brain: two masters took
writes in the same period.

Figures (one line: RESULT key=value ...):
  acked_<w>, lost_<w>   acknowledged writes per workload, and those missing on the final master
                        (the master the monitors name at the end, read directly). incr: the
                        counter's final value F against the A increments acknowledged:
                        lost >= A - F; an INCR whose reply never came may have run, so
                        incr_lost_max = A - F + those (uncertain) is the upper bound
  lost                  lost_set + lost_incr + lost_rpush
  two_masters_s         time in which two servers' acknowledgement spans overlap (split brain)
  two_masters_acks      acknowledgements given by one server inside another server's span
  masters_acked         how many servers acknowledged writes in the run (1 = never moved)
  outage_s, resume_s    the longest gap between acknowledged writes (any workload) after the
                        fault, and from the fault to its end (both 0 when no gap reached
                        PAUSE_MIN, the machine's own jitter); writes that stopped and did not
                        come back before the run ended: the gap from the last to the end, and
                        resume_s=none
  conn_errors           connections refused, reset, timed out (3 s) or closed under a command
  err_replies           error replies (READONLY, MASTERDOWN, EXECABORT, ...)
  end_masters           servers answering ROLE master at the end (the checker reads all three)
  vip_two_hosts_s       the longest time two nodes held the VIP (kernel address events)
"""
import argparse, os, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Benchmarks"))
from resp import Conn, encode, read, scan_keys  # noqa: E402
from vipwatch import VipWatch  # noqa: E402

PAUSE_MIN = 0.2
KINDS = ("set", "incr", "rpush")


def run_id_of(info):
    for line in info.splitlines():
        if line.startswith("run_id:"):
            return line[7:].strip()
    return None


class Writer:
    def __init__(self, kind, n, endpoint):
        self.kind, self.n, self.endpoint = kind, n, endpoint
        self.acks = []  # (ack time, run_id, seq, reply)
        self.conn_errors = self.err_replies = self.uncertain = 0
        self.last_error = ""

    def command(self, seq):
        if self.kind == "set": return ("SET", "s%d:%d" % (self.n, seq), seq)
        if self.kind == "incr": return ("INCR", "c%d" % self.n)
        return ("RPUSH", "l%d" % self.n, "e%d" % seq)

    def run(self, stop):
        c, seq = None, 0
        while not stop.is_set():
            sent = False
            try:
                if c is None:
                    c = Conn(self.endpoint, timeout=3)
                seq += 1
                c.s.sendall(encode(("MULTI",)) + encode(self.command(seq)) + encode(("INFO", "server")) + encode(("EXEC",)))
                sent = True
                replies = [read(c.f) for _ in range(4)]
                result = replies[3]
                if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], Exception):
                    self.acks.append((time.time(), run_id_of(result[1]), seq, result[0]))
                    continue
                self.err_replies += 1
                self.last_error = str(next((r for r in replies if isinstance(r, Exception)), result))
                time.sleep(0.01)
            except Exception as e:
                self.conn_errors += 1
                self.uncertain += sent  # sent, no reply: it may have run
                self.last_error = repr(e)
                if c: c.close()
                c = None
                time.sleep(0.01)
        if c: c.close()


def server_state(addr):
    """ROLE and run_id of the server at addr, or None."""
    try:
        c = Conn(addr, timeout=2)
        role, info = c("ROLE"), c("INFO", "server")
        c.close()
        return role[0], run_id_of(info)
    except Exception:
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True, help="HOST:PORT the writers use (the VIP)")
    p.add_argument("--monitors", required=True, help="comma-separated monitor addresses, asked for the final master")
    p.add_argument("--servers", required=True, help="comma-separated name=HOST:PORT of every Redis server")
    p.add_argument("--vip", required=True)
    p.add_argument("--hosts", required=True, help="comma-separated name=namespace pairs whose VIP is watched")
    p.add_argument("--fault", required=True, help="shell script run at --fault-at")
    p.add_argument("--heal", default="")
    p.add_argument("--fault-at", type=float, default=2)
    p.add_argument("--heal-after", type=float, default=4)
    p.add_argument("--settle", type=float, default=10)
    p.add_argument("--writers", type=int, default=2, help="connections per workload")
    p.add_argument("--label", default="")
    a = p.parse_args()
    hosts = [h.split("=", 1) for h in a.hosts.split(",")]
    servers = [s.split("=", 1) for s in a.servers.split(",")]

    names = {}  # run_id -> server name, read before and after the run
    for name, addr in servers:
        st = server_state(addr)
        if st: names[st[1]] = name
    vip = VipWatch(hosts, a.vip)
    stop = threading.Event()
    writers = [Writer(k, n, a.endpoint) for k in KINDS for n in range(a.writers)]
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in writers]
    for t in threads: t.start()
    time.sleep(a.fault_at)
    fault = time.time()
    subprocess.run(["bash", a.fault], check=True)
    if a.heal:
        time.sleep(max(0.0, fault + a.heal_after - time.time()))
        subprocess.run(["bash", a.heal], check=True)
    time.sleep(a.settle)
    stopped = time.time()
    stop.set()
    for t in threads: t.join(timeout=15)
    vip.stop()
    vip_overlap = vip.longest_overlap()

    # The checker: every server's role, then the final master's data.
    end = {}
    for name, addr in servers:
        st = server_state(addr)
        end[name] = st
        if st: names.setdefault(st[1], name + "'")  # ' : a process started during the run
    votes = {}
    for m in a.monitors.split(","):
        try:
            c = Conn(m, timeout=2)
            r = c("SENTINEL", "get-master-addr-by-name", "mymaster")
            c.close()
            if isinstance(r, list) and len(r) == 2:
                votes["%s:%s" % (r[0], r[1])] = votes.get("%s:%s" % (r[0], r[1]), 0) + 1
        except Exception:
            pass
    final = max(votes, key=votes.get) if votes else None
    result = [("label", a.label)]
    lost_total = 0
    try:
        keys = scan_keys(final, "s*") if final else None
        c = Conn(final, timeout=5) if final else None
        for kind in KINDS:
            ws = [w for w in writers if w.kind == kind]
            acked = sum(len(w.acks) for w in ws)
            if c is None:
                result += [("acked_" + kind, acked), ("lost_" + kind, "unknown")]
                continue
            if kind == "set":
                lost = sum(1 for w in ws for _, _, seq, _ in w.acks if "s%d:%d" % (w.n, seq) not in keys)
                result += [("acked_set", acked), ("lost_set", lost)]
            elif kind == "incr":
                lost = lost_max = 0
                for w in ws:
                    value = int(c("GET", "c%d" % w.n) or 0)
                    lost += max(0, len(w.acks) - value)
                    lost_max += min(len(w.acks), max(0, len(w.acks) - value + w.uncertain))
                result += [("acked_incr", acked), ("lost_incr", lost), ("incr_lost_max", lost_max)]
            else:
                lost = 0
                for w in ws:
                    present = set(c("LRANGE", "l%d" % w.n, 0, -1))
                    lost += sum(1 for _, _, seq, _ in w.acks if "e%d" % seq not in present)
                result += [("acked_rpush", acked), ("lost_rpush", lost)]
            lost_total += lost
        if c: c.close()
    except Exception as e:
        final = "%s(unreadable:%s)" % (final, type(e).__name__)
        lost_total = "unknown"

    # Split brain: each server's span of acknowledgements; time covered by two or more spans.
    all_acks = sorted((t, rid) for w in writers for t, rid, _, _ in w.acks)
    spans = {}
    for t, rid in all_acks:
        lo, hi = spans.get(rid, (t, t))
        spans[rid] = (min(lo, t), max(hi, t))
    edges = sorted([(lo, 1) for lo, _ in spans.values()] + [(hi, -1) for _, hi in spans.values()])
    two, depth, prev = 0.0, 0, None
    for t, d in edges:
        if depth >= 2: two += t - prev
        depth += d; prev = t
    inside = sum(1 for t, rid in all_acks if any(o != rid and lo <= t <= hi for o, (lo, hi) in spans.items()))
    times = [t for t, _ in all_acks if t >= fault]
    gap, resume, prev = 0.0, None, fault
    for t in times:
        if t - prev > gap: gap, resume = t - prev, t - fault
        prev = t
    # Writes that stopped for good before the run ended: that gap counts too, and resume_s says
    # "none" (they never came back).
    if stopped - prev > max(gap, PAUSE_MIN): gap, resume = stopped - prev, None
    if gap < PAUSE_MIN: resume = 0.0
    order = sorted(spans.items(), key=lambda x: x[1][0])
    result += [
        ("lost", lost_total), ("two_masters_s", "%.3f" % two), ("two_masters_acks", inside),
        ("masters_acked", len(spans)),
        ("outage_s", "%.3f" % gap), ("resume_s", "none" if resume is None else "%.3f" % resume),
        ("conn_errors", sum(w.conn_errors for w in writers)), ("err_replies", sum(w.err_replies for w in writers)),
        ("uncertain", sum(w.uncertain for w in writers)),
        ("end_masters", sum(1 for st in end.values() if st and st[0] == "master")),
        ("final_master", final), ("vip_two_hosts_s", "%.3f" % vip_overlap),
        ("vip_at_fault", "+".join(next((h for t, h in reversed(vip.log) if t <= fault), ())) or "none"),
        ("spans", ",".join("%s:%+.2f..%+.2f" % (names.get(rid, "?"), lo - fault, hi - fault) for rid, (lo, hi) in order)),
        ("vip_holders", ",".join("%+.2f:%s" % (t - fault, "+".join(h) or "none") for t, h in vip.log if t >= fault - 0.5) or "unchanged"),
        ("servers_end", ",".join("%s:%s" % (n, st[0] if st else "down") for n, st in end.items())),
        ("last_error", (next((w.last_error for w in writers if w.last_error), "") or "-").replace(" ", "_")[:80]),
    ]
    print("RESULT " + " ".join("%s=%s" % kv for kv in result), flush=True)


if __name__ == "__main__":
    main()
