#!/usr/bin/env python3
"""Writers and watchers for scripts/lab-node.sh (runs in the client namespace).

Writers SET unique keys through the endpoint (the virtual IP: Redis itself in `direct` mode, the
proxy in `proxy` mode) and remember which were acknowledged and when. A watcher samples which
lab host holds the virtual IP every 10 ms (`ip -n`). At --fault-at seconds the driver runs
--fault; with --heal, --heal-after seconds later it runs that; then it lets the writers run
--settle seconds more, stops them, and counts the acknowledged writes the final master (as the
monitors name it) does not have. Prints RESULT key=value and PASS/FAIL lines; exits 1 on FAIL.
"""
import argparse, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Benchmarks"))
from resp import Conn, read, scan_keys  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True, help="HOST:PORT the writers use (the VIP)")
    p.add_argument("--monitors", required=True, help="comma-separated monitor addresses, asked for the final master")
    p.add_argument("--vip", required=True, help="the virtual IP, watched on every --hosts namespace")
    p.add_argument("--hosts", required=True, help="comma-separated name=namespace pairs")
    p.add_argument("--fault", required=True, help="shell script run at --fault-at")
    p.add_argument("--heal", default="", help="shell script run --heal-after seconds after the fault")
    p.add_argument("--fault-at", type=float, default=2)
    p.add_argument("--heal-after", type=float, default=4)
    p.add_argument("--settle", type=float, default=3)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--max-lost", type=int, default=0, help="acknowledged writes that may be lost")
    p.add_argument("--max-lost-window", type=float, default=-1,
                   help="seconds after the fault within which lost writes may have been acknowledged (-1: no check)")
    p.add_argument("--max-resume", type=float, default=0, help="max seconds from the fault to the first write acknowledged after it (0: no check)")
    p.add_argument("--max-overlap", type=float, default=0.01,
                   help="seconds two hosts may both hold the VIP in a handover (the new master's first advert crossing the link)")
    p.add_argument("--label", default="")
    a = p.parse_args()
    hosts = [h.split("=", 1) for h in a.hosts.split(",")]

    stop = threading.Event()
    acks = [[] for _ in range(a.writers)]
    errors = [0] * a.writers
    last_error = [""] * a.writers
    trace = [[] for _ in range(a.writers)]  # (time, what): errors and reconnects, for the WRITER lines
    holders_log = []  # (time, tuple of holders) on every change
    fault_at = [None]

    def writer(i):
        c = None
        seq = 0
        while not stop.is_set():
            try:
                if c is None:
                    t0 = time.time()
                    c = Conn(a.endpoint, timeout=3)
                    trace[i].append((t0, "connect %.3fs" % (time.time() - t0)))
                seq += 1
                sent = time.time()
                r = c("SET", "w%d:%d" % (i, seq), seq)
                if r == "OK":
                    acks[i].append((seq, time.time(), sent))
                else:
                    errors[i] += 1; last_error[i] = str(r); trace[i].append((time.time(), str(r)[:40])); time.sleep(0.01)
            except Exception as e:
                errors[i] += 1; last_error[i] = repr(e); trace[i].append((time.time(), repr(e)[:40]))
                if c: c.close()
                c = None
                time.sleep(0.01)
        if c: c.close()

    # Who holds the VIP, from each namespace's own address events (`ip -ts monitor address`:
    # kernel events with microsecond timestamps), so a handover's overlap is measured, not sampled.
    import datetime
    initial = {}
    for name, netns in hosts:
        # Any interface: eth0, or the macvlan of `vip.vrrp.vmac`.
        out = subprocess.run(["ip", "-n", netns, "-4", "addr", "show"], capture_output=True, text=True).stdout
        initial[name] = ("inet %s/" % a.vip) in out
    started_watching = time.time()
    events = []  # (time, host, holds) as each namespace's kernel reported them
    monitors = []

    def watch_vip(name, netns):
        proc = subprocess.Popen(["ip", "-n", netns, "-ts", "monitor", "address"], stdout=subprocess.PIPE, text=True)
        monitors.append(proc)
        for line in proc.stdout:
            if ("inet %s/" % a.vip) not in line or not line.startswith("["):
                continue
            stamp = datetime.datetime.fromisoformat(line[1:line.index("]")]).timestamp()
            events.append((stamp, name, "Deleted" not in line))

    for name, netns in hosts:
        threading.Thread(target=watch_vip, args=(name, netns), daemon=True).start()

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(a.writers)]
    for t in threads: t.start()
    time.sleep(a.fault_at)
    fault = time.time()
    fault_at[0] = fault
    subprocess.run(["bash", a.fault], check=True)
    # The fault script's commands take effect one after another; times are from its start, so
    # the checks below allow what it took on top (0.02-0.04 s normally; once 0.6 s on a busy
    # machine, the fence and the failover then as late: Benchmarks/node.sh's fault_script_s).
    fault_script = time.time() - fault
    if a.heal:
        time.sleep(a.heal_after)
        subprocess.run(["bash", a.heal], check=True)
    time.sleep(a.settle)
    stop.set()
    for t in threads: t.join(timeout=15)
    for proc in monitors: proc.terminate()

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
    present = scan_keys(final, "w*") if final else set()

    acked = sum(len(x) for x in acks)
    lost = [(t, sent) for i in range(a.writers) for seq, t, sent in acks[i] if "w%d:%d" % (i, seq) not in present]
    # The outage: the longest pause between acknowledged writes after the fault (a fenced or
    # killed master stops acknowledging; writes resume once the group and the VIP have moved).
    # resume_s: from the fault to the end of that pause.
    times = sorted(t for x in acks for _, t, _ in x if t >= fault)
    resume, gap = None, 0.0
    prev = fault
    for t in times:
        if t - prev > gap:
            gap, resume = t - prev, t - fault
        prev = t
    if resume is None and times:
        resume = 0.0
    last_lost = max((t for t, _ in lost), default=None)
    # Replayed in the kernel's time order (the watcher threads see them in any order).
    held = dict(initial)
    holders_log.append((started_watching, tuple(n for n, _ in hosts if held[n])))
    for stamp, name, holds in sorted(events):
        if held[name] != holds:
            held[name] = holds
            holders_log.append((stamp, tuple(n for n, _ in hosts if held[n])))
    # Overlaps: spans in which two hosts held the VIP (a VRRP preemption: the new master adds the
    # address and advertises; the old one removes it when the advert arrives).
    overlaps = []
    for (t, h), (t2, _) in zip(holders_log, holders_log[1:] + [(time.time(), ())]):
        if len(h) > 1:
            overlaps.append(t2 - t)
    max_overlap = max(overlaps, default=0.0)
    holder_changes = " ".join("%+.4f:%s" % (t - fault, "+".join(h) or "none") for t, h in holders_log if t >= fault - 0.5)
    result = {
        "label": a.label, "final_master": final, "acked": acked, "lost": len(lost),
        "lost_last_acked_s": "%.3f" % (last_lost - fault) if last_lost else "none",
        "errors": sum(errors), "resume_s": "%.3f" % resume if resume is not None else "none", "gap_s": "%.3f" % gap,
        "vip_overlap_ms": "%.1f" % (max_overlap * 1000), "vip_holders": holder_changes or "unchanged",
        "fault_script_s": "%.3f" % fault_script,
    }
    print("RESULT " + " ".join("%s=%s" % kv for kv in result.items()))
    # Per writer, what it went through after the fault (times from the fault): errors,
    # reconnections (with how long connect() took) and its first acknowledgement after each.
    for i in range(a.writers):
        steps = [(t, w) for t, w in trace[i] if t >= fault]
        first = [t for _, t, _ in acks[i] if t >= (steps[-1][0] if steps else fault)]
        if steps:
            print("WRITER %d " % i + " ".join("%+.3f:%s" % (t - fault, w.replace(" ", "_")) for t, w in steps)
                  + (" %+.3f:ack" % (first[0] - fault) if first else " no-ack"))
    ok = True
    if final is None:
        print("FAIL no monitor names a master"); ok = False
    if len(lost) > a.max_lost:
        if a.max_lost_window >= 0 and last_lost is not None and last_lost - fault <= a.max_lost_window + fault_script:
            print("PASS %d acknowledged writes lost, all acknowledged within %.3f s of the fault (allowed: %.3f s + the fault script's %.3f s)"
                  % (len(lost), last_lost - fault, a.max_lost_window, fault_script))
        else:
            print("FAIL %d acknowledged writes lost (allowed %d), the last acknowledged %s s after the fault"
                  % (len(lost), a.max_lost, result["lost_last_acked_s"])); ok = False
    if max_overlap > a.max_overlap:
        print("FAIL the virtual IP was on two hosts at once for %.1f ms (allowed: %.1f ms, an advert's trip)" % (max_overlap * 1000, a.max_overlap * 1000)); ok = False
    if resume is None:
        print("FAIL no write was acknowledged after the fault (last error: %s)" % next((e for e in last_error if e), "")); ok = False
    elif a.max_resume and resume > a.max_resume + fault_script:
        print("FAIL writes resumed %.3f s after the fault (limit %.3f s + the fault script's %.3f s)" % (resume, a.max_resume, fault_script)); ok = False
    print("PASS" if ok else "FAIL", a.label)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
