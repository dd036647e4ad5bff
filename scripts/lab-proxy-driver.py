#!/usr/bin/env python3
"""Writers and watchers for scripts/lab-proxy-partition.sh (runs in the client namespace).

Writers SET unique keys through the proxy and remember which were acknowledged and when. Three
watchers poll every 5 ms: the proxy's INFO proxy (its master), the servers' ROLE and the
sentinels' get-master-addr-by-name. At --cut-at seconds it runs --cut, --partition seconds later
--heal, then lets the writers run --settle seconds more, stops them and counts the acknowledged
writes the final master does not have. Prints RESULT key=value ... and PASS/FAIL lines.
"""
import argparse, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Benchmarks"))
from resp import Conn, scan_keys  # noqa: E402


def ask(conns, addr, *args):
    """A command over a kept connection to addr; None when it fails (reconnects next time)."""
    try:
        if addr not in conns:
            conns[addr] = Conn(addr, timeout=0.3)
        return conns[addr](*args)
    except Exception:
        c = conns.pop(addr, None)
        if c: c.close()
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proxy", required=True)
    p.add_argument("--servers", required=True, help="comma-separated; the first is the initial master")
    p.add_argument("--sentinels", required=True, help="comma-separated; the majority's (watched for their switch)")
    p.add_argument("--cut", required=True)
    p.add_argument("--heal", required=True)
    p.add_argument("--cut-at", type=float, default=2)
    p.add_argument("--partition", type=float, default=6)
    p.add_argument("--settle", type=float, default=3)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--expect", choices=["switch", "stay"], required=True)
    p.add_argument("--limit", type=float, default=0, help="max seconds from the cut to the proxy's switch (0: no check)")
    p.add_argument("--after-sentinels", type=float, default=0.3, help="max seconds from the majority's first +switch-master to the proxy's switch")
    p.add_argument("--cut-off-sentinel", default="", help="the sentinel the cut isolates: INFO proxy must not believe it before the heal")
    p.add_argument("--in-flight", type=float, default=0.05, help="seconds after the switch a write may still go to the old master")
    p.add_argument("--label", default="")
    a = p.parse_args()
    servers = a.servers.split(",")
    old = servers[0]

    stop = threading.Event()
    acks = [[] for _ in range(a.writers)]
    errors = [0] * a.writers
    last_error = [""] * a.writers

    def writer(i):
        c = None
        seq = 0
        while not stop.is_set():
            try:
                if c is None:
                    c = Conn(a.proxy, timeout=8)
                seq += 1
                sent = time.time()
                r = c("SET", "w%d:%d" % (i, seq), seq)
                if r == "OK":
                    acks[i].append((seq, time.time(), sent))
                else:
                    errors[i] += 1; last_error[i] = str(r); time.sleep(0.01)
            except Exception as e:
                errors[i] += 1; last_error[i] = repr(e)
                if c: c.close()
                c = None
                time.sleep(0.01)
        if c: c.close()

    timeline = {}
    proxy_masters = []  # (time, master) on every change
    mid_info = {}

    # One thread per thing watched, so that one slow answer does not delay noticing another.
    def watch_proxy():
        conns = {}
        while not stop.is_set():
            info = ask(conns, a.proxy, "INFO", "proxy")
            now = time.time()
            if isinstance(info, str):
                fields = dict(l.split(":", 1) for l in info.split("\r\n") if ":" in l)
                m = fields.get("master")
                if not proxy_masters or proxy_masters[-1][1] != m:
                    proxy_masters.append((now, m))
                if "cut" in timeline and "heal" not in timeline:
                    mid_info.clear()
                    mid_info.update(fields)  # the last INFO proxy before the heal
            time.sleep(0.005)
        for c in conns.values(): c.close()

    def watch_servers():
        conns = {}
        while not stop.is_set():
            if "cut" in timeline and "promoted" not in timeline:
                for s in servers[1:]:
                    r = ask(conns, s, "ROLE")
                    if isinstance(r, list) and r and r[0] == "master":
                        timeline["promoted"] = time.time()
                        timeline["promoted_server"] = s
            time.sleep(0.005)
        for c in conns.values(): c.close()

    def watch_sentinels():
        conns = {}
        while not stop.is_set():
            if "cut" in timeline and "sentinel_switch" not in timeline:
                for s in a.sentinels.split(","):
                    r = ask(conns, s, "SENTINEL", "get-master-addr-by-name", "mymaster")
                    if isinstance(r, list) and len(r) == 2 and "%s:%s" % (r[0], r[1]) != old:
                        timeline["sentinel_switch"] = time.time()
            time.sleep(0.005)
        for c in conns.values(): c.close()

    def watch_events(sentinel):
        # The majority's +switch-master as a subscriber sees it: the reference point.
        while not stop.is_set():
            try:
                c = Conn(sentinel, timeout=0.5)
                c("SUBSCRIBE", "+switch-master")
                c.s.settimeout(None)  # a daemon thread: blocks until a message or the end
                while not stop.is_set():
                    m = c.read()
                    if isinstance(m, list) and m and m[0] == "message" and "switch_event" not in timeline:
                        timeline["switch_event"] = time.time()
            except Exception:
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(a.writers)]
    threads += [threading.Thread(target=w, daemon=True) for w in (watch_proxy, watch_servers, watch_sentinels)]
    for x in a.sentinels.split(","):  # not joined: they block in a read until the process ends
        threading.Thread(target=watch_events, args=(x,), daemon=True).start()
    for t in threads: t.start()
    time.sleep(a.cut_at)
    timeline["cut"] = time.time()
    subprocess.run(["bash", a.cut], check=True)
    time.sleep(a.partition)
    timeline["heal"] = time.time()
    subprocess.run(["bash", a.heal], check=True)
    time.sleep(a.settle)
    stop.set()
    for t in threads: t.join(timeout=15)

    # The final master, as the majority's sentinel names it; count what it has.
    conns = {}
    final = None
    for s in a.sentinels.split(","):
        r = ask(conns, s, "SENTINEL", "get-master-addr-by-name", "mymaster")
        if isinstance(r, list) and len(r) == 2:
            final = "%s:%s" % (r[0], r[1]); break
    present = scan_keys(final, "w*") if final else set()

    cut = timeline["cut"]
    switch = next((t for t, m in proxy_masters if t >= cut and m not in (old, None, "none")), None)
    acked = sum(len(x) for x in acks)
    lost_keys = [(i, seq, t, sent) for i in range(a.writers) for seq, t, sent in acks[i] if "w%d:%d" % (i, seq) not in present]
    lost = len(lost_keys)
    lost_before_cut = sum(1 for _, _, t, _ in lost_keys if t < cut)
    # A write the old master acknowledged just after INFO proxy named the new one was already on
    # its way (the event loops switch a moment after the router): only writes sent later count.
    lost_after_switch = sum(1 for _, _, _, sent in lost_keys if switch is not None and sent > switch + a.in_flight)
    last_lost = max((t for _, _, t, _ in lost_keys), default=None)
    in_window = sum(1 for i in range(a.writers) for _, t, _ in acks[i] if cut <= t <= (switch or timeline["heal"]))

    def rel(key):
        return "%.3f" % (timeline[key] - cut) if key in timeline else "none"
    result = {
        "label": a.label, "cut_at": time.strftime("%H:%M:%S", time.localtime(cut)) + ("%.3f" % (cut % 1))[1:],
        "final_master": final,
        "cut_to_promoted": rel("promoted"), "cut_to_first_sentinel_switch": rel("sentinel_switch"),
        "cut_to_first_switch_master_event": rel("switch_event"),
        "cut_to_proxy_switch": "%.3f" % (switch - cut) if switch else "none",
        "event_to_proxy_switch_ms": "%.0f" % ((switch - timeline["switch_event"]) * 1000) if switch and "switch_event" in timeline else "none",
        "acked": acked, "acked_cut_to_switch": in_window, "lost": lost,
        "lost_acked_before_cut": lost_before_cut, "lost_sent_after_switch": lost_after_switch,
        "last_lost_ack_after_switch_ms": "%.0f" % ((last_lost - switch) * 1000) if last_lost and switch else "none",
        "errors": sum(errors), "proxy_masters": "|".join(str(m) for _, m in proxy_masters),
    }
    print("RESULT " + " ".join("%s=%s" % kv for kv in result.items()))
    print("INFO-BEFORE-HEAL " + " ".join("%s=%s" % (k, v.replace(" ", "_")) for k, v in mid_info.items() if k.startswith(("believed", "sentinels", "master"))))
    if sum(errors):
        print("writer errors: " + "; ".join(e for e in last_error if e))

    if a.expect == "switch" and timeline.get("switch_event", float("inf")) > timeline["heal"]:
        # The majority named no new master while the cut lasted (a split vote between its two
        # sentinels waits out the election timeout): nothing for the proxy to follow this run.
        print("NO-ELECTION: the majority's sentinels named no new master during the partition")
        sys.exit(3)

    failures = []
    if a.expect == "switch":
        if switch is None or switch > timeline["heal"]:
            failures.append("the proxy did not switch during the partition (masters seen: %s)" % result["proxy_masters"])
        else:
            if a.limit and switch - cut > a.limit:
                failures.append("switch %.3f s after the cut, limit %.3f s" % (switch - cut, a.limit))
            if "switch_event" in timeline and switch - timeline["switch_event"] > a.after_sentinels:
                failures.append("switch %.3f s after the majority's first +switch-master, limit %.3f s"
                                % (switch - timeline["switch_event"], a.after_sentinels))
            if lost_after_switch:
                failures.append("%d writes sent more than %.0f ms after the switch were lost" % (lost_after_switch, a.in_flight * 1000))
        if lost_before_cut:
            failures.append("%d writes acknowledged before the cut were lost" % lost_before_cut)
        if final is None or final == old:
            failures.append("the final master is %s" % final)
    else:
        if len(proxy_masters) != 1 or proxy_masters[0][1] != old:
            failures.append("the proxy's master changed: %s" % result["proxy_masters"])
        if sum(errors):
            failures.append("%d writer errors" % sum(errors))
        if lost:
            failures.append("%d acknowledged writes lost" % lost)
        if final != old:
            failures.append("the final master is %s" % final)
    if a.cut_off_sentinel:
        if mid_info.get("believed_sentinel") in (None, a.cut_off_sentinel):
            failures.append("INFO proxy before the heal believes %s" % mid_info.get("believed_sentinel"))
        if mid_info.get("sentinels_reachable") != "3":
            failures.append("INFO proxy before the heal reaches %s sentinels, not 3" % mid_info.get("sentinels_reachable"))
    if a.expect == "switch" and mid_info.get("believed_master") != final:
        failures.append("INFO proxy before the heal names %s, the final master is %s" % (mid_info.get("believed_master"), final))
    if acked == 0:
        failures.append("no write was acknowledged")
    for f in failures:
        print("FAIL: " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
