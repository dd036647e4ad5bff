#!/usr/bin/env python3
"""The live writer and failover timeline of scripts/run-local.

Writes unique keys through --endpoint (the VIP or the proxy) from a few threads, listens to a
monitor's events, and when Enter is pressed (or at once with --demo) kills the master's
redis-server with SIGKILL (its PID from --pids ADDR=PID,...), then prints the timeline —
kill, +sdown, +odown, +elected-leader, +promoted-slave, +switch-master, the endpoint's switch
(the VIP's holder or the proxy's master), the first acknowledged write after the kill — and,
a few seconds later, the acknowledged writes the new master does not have. With --demo the last
line is `demo: mode=<mode> lost=<n> errors=<n> resume_ms=<n>`; resume_ms is from the kill to the
first write acknowledged after it (sent after the kill).
"""
import argparse, os, select, signal, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Benchmarks"))
from resp import Conn, read, scan_keys  # noqa: E402


def ask(addr, *args, timeout=1.0):
    try:
        c = Conn(addr, timeout)
        try:
            return c(*args)
        finally:
            c.close()
    except Exception:
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--monitors", required=True, help="comma-separated monitor addresses")
    p.add_argument("--pids", required=True, help="comma-separated REDISADDR=PID")
    p.add_argument("--mode", required=True, help="netns or loopback (printed)")
    p.add_argument("--vip-hosts", default="", help="netns: comma-separated name=namespace to watch for --vip")
    p.add_argument("--vip", default="")
    p.add_argument("--proxy-info", default="", help="loopback: the proxy whose INFO proxy master is watched")
    p.add_argument("--demo", action="store_true")
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--settle", type=float, default=4)
    a = p.parse_args()
    monitors = a.monitors.split(",")
    pids = dict(x.split("=", 1) for x in a.pids.split(","))

    stop = threading.Event()
    acks = [[] for _ in range(a.writers)]  # (seq, acked at, sent at)
    errors = [0]
    events = []  # (time, text)

    def writer(i):
        c, seq = None, 0
        while not stop.is_set():
            try:
                if c is None:
                    c = Conn(a.endpoint, timeout=3)
                seq += 1
                sent = time.time()
                if c("SET", "demo:%d:%d" % (i, seq), seq) == "OK":
                    acks[i].append((seq, time.time(), sent))
                else:
                    errors[0] += 1; time.sleep(0.01)
            except Exception:
                errors[0] += 1
                if c: c.close()
                c = None
                time.sleep(0.01)
        if c: c.close()

    def listen(monitor):
        while not stop.is_set():
            try:
                c = Conn(monitor, timeout=1)
                c("PSUBSCRIBE", "*")
                c.s.settimeout(None)
                while not stop.is_set():
                    m = read(c.f)
                    if isinstance(m, list) and len(m) == 4 and m[0] == "pmessage":
                        events.append((time.time(), "%s %s" % (m[2], m[3].split(" @ ")[0] if isinstance(m[3], str) else m[3])))
            except Exception:
                time.sleep(0.1)

    def watch_vip(name, ns, held):
        # The kernel's own address events, with their times (a sampled `ip addr` is too coarse
        # on a busy machine to tell a handover's order).
        import datetime
        proc = subprocess.Popen(["ip", "-n", ns, "-ts", "monitor", "address"], stdout=subprocess.PIPE, text=True)
        watchers.append(proc)
        for line in proc.stdout:
            if ("inet %s/" % a.vip) not in line or not line.startswith("["):
                continue
            stamp = datetime.datetime.fromisoformat(line[1:line.index("]")]).timestamp()
            holds = "Deleted" not in line
            if held.get(name) != holds:
                held[name] = holds
                events.append((stamp, "VIP %s %s" % ("added on" if holds else "removed from", name)))

    def watch_proxy():
        last = None
        while not stop.is_set():
            info = ask(a.proxy_info, "INFO", "proxy", timeout=0.5)
            fields = dict(l.split(":", 1) for l in info.split("\r\n") if ":" in l) if isinstance(info, str) else {}
            state = "proxy routes to " + fields.get("master", "?")
            if state != last:
                events.append((time.time(), state))
                last = state
            time.sleep(0.01)

    watchers = []
    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(a.writers)]
    threads += [threading.Thread(target=listen, args=(m,), daemon=True) for m in monitors[:1]]
    if a.vip:
        held = {}
        for pair in a.vip_hosts.split(","):
            name, ns = pair.split("=", 1)
            threading.Thread(target=watch_vip, args=(name, ns, held), daemon=True).start()
    else:
        threads.append(threading.Thread(target=watch_proxy, daemon=True))
    for t in threads: t.start()

    def total():
        return sum(len(x) for x in acks)

    if not a.demo:
        print("writing through %s ... press Enter to kill -9 the master's redis-server (Ctrl-C to stop)" % a.endpoint, flush=True)
        last = 0
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], 1.0)
            if ready:
                sys.stdin.readline()
                break
            n = total()
            print("  %d writes acknowledged (%d/s), %d errors" % (n, n - last, errors[0]), flush=True)
            last = n
    else:
        time.sleep(2)

    master = None
    for m in monitors:
        r = ask(m, "SENTINEL", "get-master-addr-by-name", "mymaster")
        if isinstance(r, list) and len(r) == 2:
            master = "%s:%s" % (r[0], r[1]); break
    if master not in pids:
        print("cannot tell the master's PID (master %s, known %s)" % (master, ",".join(pids)), file=sys.stderr)
        sys.exit(2)
    kill = time.time()
    os.kill(int(pids[master]), signal.SIGKILL)
    print("killed the master's redis-server (%s, pid %s) with SIGKILL" % (master, pids[master]), flush=True)
    time.sleep(a.settle)
    stop.set()
    for proc in watchers: proc.terminate()
    time.sleep(0.2)

    final = None
    for m in monitors:
        r = ask(m, "SENTINEL", "get-master-addr-by-name", "mymaster")
        if isinstance(r, list) and len(r) == 2:
            final = "%s:%s" % (r[0], r[1]); break
    present = scan_keys(final, "demo:*") if final else set()
    lost = sum(1 for i in range(a.writers) for seq, t, sent in acks[i] if t <= kill + 60 and "demo:%d:%d" % (i, seq) not in present)
    after = sorted(t for x in acks for _, t, sent in x if sent > kill)
    resume = after[0] - kill if after else None

    print()
    print("timeline (ms after the kill):")
    wanted = ("+sdown", "+odown", "+elected-leader", "+promoted-slave", "+switch-master", "VIP", "proxy")
    # Sentinel events as the first monitor saw them; the endpoint's changes as they happened.
    shown = set()
    for t, text in sorted(events):
        if t < kill - 0.001 or t > kill + a.settle:
            continue
        key = text.split(" ")[0]
        if not any(text.startswith(w) for w in wanted) or (key.startswith("+") and key in shown):
            continue
        shown.add(key)
        print("  %6d  %s" % ((t - kill) * 1000, text))
    if resume is not None:
        print("  %6d  first write acknowledged after the kill" % (resume * 1000))
    print()
    print("%d writes acknowledged, %d errors (refused or reset connections, retried); new master %s;"
          " acknowledged writes it does not have: %d" % (total(), errors[0], final, lost))
    print("demo: mode=%s lost=%d errors=%d resume_ms=%s" % (a.mode, lost, errors[0], "%d" % (resume * 1000) if resume is not None else "none"))


if __name__ == "__main__":
    main()
