#!/usr/bin/env python3
"""Client side of Benchmarks/node.sh (runs in the client namespace): writers through the virtual
IP, one fault, then what a client saw. Derived from scripts/lab-node-driver.py (same writers, same
VIP watcher, same "lost" and "resume"), without its pass/fail limits and with one more figure,
because a stack that keeps acknowledging writes on an isolated master never pauses:

  resume_s  from the fault to the end of the longest pause between acknowledged writes after it
            (scripts/lab-node-driver.py's definition); 0 when no pause after the fault reached
            PAUSE_MIN (0.2 s: on the shared 2-core machine, pauses up to ~0.15 s come and go
            with no fault at all)
  pause_s   that pause's length
  kept_s    from the fault until writes succeed *and stay*: the first acknowledged write after
            that pause and after the last acknowledged write that was lost (= resume_s when
            nothing acknowledged after the fault is lost)
  lost      acknowledged writes missing on the final master (as the monitors name it)
  errors    failed writes: connection errors (refused, reset, timeout) and error replies, each
            followed by a reconnect and a 10 ms pause (so the count also depends on how fast a
            failure comes back: a refused connect fails at once, HAProxy holds one for seconds)
  broken    failures right after a successful write: how many times a writer's working
            connection broke (independent of the retry pace)

Prints one line: RESULT key=value ...
"""
import argparse, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Conn, read, scan_keys  # noqa: E402
from vipwatch import VipWatch  # noqa: E402

PAUSE_MIN = 0.2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True, help="HOST:PORT the writers use (the VIP)")
    p.add_argument("--monitors", required=True, help="comma-separated sentinel/monitor addresses, asked for the final master")
    p.add_argument("--vip", required=True)
    p.add_argument("--hosts", required=True, help="comma-separated name=namespace pairs whose VIP is watched")
    p.add_argument("--fault", required=True, help="shell script run at --fault-at")
    p.add_argument("--heal", default="")
    p.add_argument("--fault-at", type=float, default=2)
    p.add_argument("--heal-after", type=float, default=4)
    p.add_argument("--settle", type=float, default=8)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--label", default="")
    a = p.parse_args()
    hosts = [h.split("=", 1) for h in a.hosts.split(",")]

    stop = threading.Event()
    acks = [[] for _ in range(a.writers)]
    errors = [0] * a.writers
    conn_errors = [0] * a.writers
    broken = [0] * a.writers  # writes that failed right after a successful one: outages a writer saw
    last_error = [""] * a.writers

    def writer(i):
        c = None
        seq = 0
        ok = True
        while not stop.is_set():
            try:
                if c is None:
                    c = Conn(a.endpoint, timeout=3)
                seq += 1
                r = c("SET", "w%d:%d" % (i, seq), seq)
                if r == "OK":
                    acks[i].append((seq, time.time())); ok = True
                else:
                    broken[i] += ok; ok = False
                    errors[i] += 1; last_error[i] = str(r); time.sleep(0.01)
            except Exception as e:
                broken[i] += ok; ok = False
                errors[i] += 1; conn_errors[i] += 1; last_error[i] = repr(e)
                if c: c.close()
                c = None
                time.sleep(0.01)
        if c: c.close()

    vip = VipWatch(hosts, a.vip)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(a.writers)]
    for t in threads: t.start()
    time.sleep(a.fault_at)
    fault = time.time()
    subprocess.run(["bash", a.fault], check=True)
    # How long the fault script took to run (its commands take effect one after another):
    # figures are from its start, so a slow script shows as a late failover.
    fault_script = time.time() - fault
    if a.heal:
        time.sleep(a.heal_after)
        subprocess.run(["bash", a.heal], check=True)
    time.sleep(a.settle)
    stop.set()
    for t in threads: t.join(timeout=15)
    log = vip.stop()

    final = None
    for m in a.monitors.split(","):
        try:
            c = Conn(m, timeout=2)
            r = c("SENTINEL", "get-master-addr-by-name", "mymaster")
            c.close()
            if isinstance(r, list) and len(r) == 2:
                final = "%s:%s" % (r[0], r[1]); break
        except Exception:
            pass
    present = None  # None: no reachable final master, so no count of what was lost
    if final:
        try:
            present = scan_keys(final, "w*")
        except Exception:
            final += "(unreachable)"

    acked = sum(len(x) for x in acks)
    kept_times, lost_times = [], []
    for i in range(a.writers):
        for seq, t in acks[i]:
            (kept_times if present is None or "w%d:%d" % (i, seq) in present else lost_times).append(t)
    times = sorted(t for x in acks for _, t in x if t >= fault)
    resume, gap, prev = None, 0.0, fault
    for t in times:
        if t - prev > gap:
            gap, resume = t - prev, t - fault
        prev = t
    if resume is None and times:
        resume = 0.0
    if gap < PAUSE_MIN:  # writes never stopped: no outage to resume from
        resume = 0.0
    last_lost = max(lost_times, default=None)
    kept = None
    if resume is not None:
        after = max(fault + resume, last_lost if last_lost is not None else fault)
        first = min((t for t in kept_times if t >= after), default=None)
        kept = None if first is None else max(first - fault, resume)
    overlap = vip.longest_overlap()
    at_fault = "+".join(next((h for t, h in reversed(log) if t <= fault), ())) or "none"
    holders = " ".join("%+.3f:%s" % (t - fault, "+".join(h) or "none") for t, h in log if t >= fault - 0.5)
    fmt = lambda x: "none" if x is None else "%.3f" % x  # noqa: E731
    result = [
        ("label", a.label), ("resume_s", fmt(resume)), ("kept_s", fmt(kept)),
        ("lost", len(lost_times) if present is not None else "unknown"),
        ("errors", sum(errors)), ("conn_errors", sum(conn_errors)), ("broken", sum(broken)), ("acked", acked), ("pause_s", "%.3f" % gap),
        ("lost_last_acked_s", fmt(None if last_lost is None else last_lost - fault)),
        ("final_master", final), ("vip_at_fault", at_fault), ("vip_two_hosts_s", "%.3f" % overlap), ("vip_holders", holders or "unchanged"),
        ("last_error", (next((e for e in last_error if e), "") or "-").replace(" ", "_")[:80]),
        ("fault_script_s", "%.3f" % fault_script),
    ]
    print("RESULT " + " ".join("%s=%s" % kv for kv in result), flush=True)


if __name__ == "__main__":
    main()
