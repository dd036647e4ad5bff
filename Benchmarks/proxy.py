#!/usr/bin/env python3
"""Proxy throughput: direct vs HAProxy (the first seed's config) vs twemproxy vs tandem proxy, same run.

Starts a password-protected master and a replica (real redis-server) on free loopback ports,
HAProxy 2.6 with the seed's tcp-check (AUTH, PING, INFO REPLICATION expecting role:master,
every second) in front of both, twemproxy (Debian's nutcracker 0.5.0: one server, the master,
`redis_auth`, one server connection; it does no failover — the throughput anchor issue 17
names) when installed (`apt-get install nutcracker`; `--no-twemproxy` leaves it out), and
`tandem proxy --backend` in front of both. Then, for each round, runs redis-benchmark against
the targets, interleaved, case by case: SET and GET with 50 clients at -P 1 and -P 16, SET and
GET of 4 KB values (-d 4096) with 50 clients at -P 1, and SET and GET with 1,000 clients at
-P 1. Prints medians, tandem's ratios to each and every target's p99, and whether tandem's p99
was the lowest of the proxies'.
Finally opens 1,000 idle client connections to the tandem proxy and reports its RSS.
With --durability, a second tandem proxy with --wait-replicas 1 (durability: replicated) runs in
the same rounds, and a second table gives its cost against the asynchronous one.
With --scrape-every S, another tandem proxy with --http runs in the same rounds while a thread
GETs its /metrics every S seconds; a table gives its throughput against the unscraped one, and
the CPU time one scrape costs the proxy is measured (500 scrapes back to back).

  Benchmarks/proxy.py [--rounds 3] [--requests 200000] [--basic] [--no-twemproxy] [--compare OTHER_TANDEM] [--durability] [--scrape-every 1] [--tandem .build/release/tandem]
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

PASSWORD = "bench-pass"

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def wait_port(port, limit=10):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)

def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", *args],
                          capture_output=True, text=True, timeout=10).stdout.strip()

def bench(port, test, pipeline, requests, clients=50, size=3):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-a", PASSWORD, "-c", str(clients), "-n", str(requests),
                          "-P", str(pipeline), "-t", test, "-r", "100000", "-d", str(size), "--csv"],
                         capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0] == test.upper():
            return float(cells[1]), float(cells[6])  # rps, p99 ms
    raise RuntimeError("no result from redis-benchmark: " + out)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--durability", action="store_true", help="also measure tandem proxy --wait-replicas 1")
    ap.add_argument("--scrape-every", type=float, default=0, help="also measure a tandem proxy whose /metrics is scraped every S seconds")
    ap.add_argument("--no-twemproxy", action="store_true", help="leave twemproxy (nutcracker) out")
    ap.add_argument("--compare", default="", help="another tandem binary, run as a second proxy in the same rounds (before/after)")
    ap.add_argument("--basic", action="store_true", help="only the four 50-client cases with 3-byte values (the older table)")
    ap.add_argument("--tandem-args", default="", help="extra tandem proxy options, e.g. \"--threads 1\"")
    ap.add_argument("--tandem", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "tandem"))
    args = ap.parse_args()
    for tool in ("haproxy", "redis-server", "redis-benchmark", "redis-cli"):
        if shutil.which(tool) is None:
            sys.exit("%s not found: apt-get install haproxy redis-server redis-tools" % tool)
    if not os.path.exists(args.tandem):
        sys.exit("%s not found: swift build -c release --static-swift-stdlib" % args.tandem)
    work = tempfile.mkdtemp(prefix="tandem-proxy-bench-")
    procs = []
    def spawn(argv, log):
        p = subprocess.Popen(argv, stdout=open(os.path.join(work, log), "w"), stderr=subprocess.STDOUT)
        procs.append(p); return p
    try:
        master, replica = free_port(), free_port()
        for port in (master, replica):
            spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--requirepass", PASSWORD, "--masterauth", PASSWORD, "--repl-diskless-sync-delay", "0",
                   "--dir", work, "--dbfilename", "dump-%d.rdb" % port], "redis-%d.log" % port)
            wait_port(port)
        cli(replica, "REPLICAOF", "127.0.0.1", str(master))
        hap, tan = free_port(), free_port()
        cfg = os.path.join(work, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""global
    maxconn 4096
defaults
    mode tcp
    retries 3
    option redispatch
    maxconn 2000
    timeout connect 2s
    timeout client 120s
    timeout server 120s
frontend redis
    bind 127.0.0.1:{hap}
    default_backend redis_backend
backend redis_backend
    option tcp-check
    tcp-check send AUTH\\ {PASSWORD}\\r\\n
    tcp-check expect string +OK
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG
    tcp-check send INFO\\ REPLICATION\\r\\n
    tcp-check expect string role:master
    tcp-check send QUIT\\r\\n
    tcp-check expect string +OK
    server redis1 127.0.0.1:{master} check inter 1s
    server redis2 127.0.0.1:{replica} check inter 1s
""")
        spawn(["haproxy", "-f", cfg, "-db"], "haproxy.log")
        twem = free_port()
        use_twem = not args.no_twemproxy and shutil.which("nutcracker") is not None
        if not args.no_twemproxy and not use_twem:
            print("nutcracker not found (apt-get install nutcracker): twemproxy left out", file=sys.stderr)
        if use_twem:
            ncfg = os.path.join(work, "nutcracker.yml")
            with open(ncfg, "w") as f:
                f.write(f"""bench:
  listen: 127.0.0.1:{twem}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  redis_auth: {PASSWORD}
  server_connections: 1
  auto_eject_hosts: false
  servers:
   - 127.0.0.1:{master}:1
""")
            spawn(["nutcracker", "-c", ncfg, "-s", str(free_port()), "-a", "127.0.0.1", "-o", os.path.join(work, "nutcracker.log")],
                  "nutcracker.out")
            wait_port(twem)
        tandem = spawn([args.tandem, "proxy", "--listen", "127.0.0.1:%d" % tan, "--backend", "127.0.0.1:%d" % master,
                        "--backend", "127.0.0.1:%d" % replica, "--auth", PASSWORD] + args.tandem_args.split(), "tandem.log")
        other = free_port()
        if args.compare:
            spawn([args.compare, "proxy", "--listen", "127.0.0.1:%d" % other, "--backend", "127.0.0.1:%d" % master,
                   "--backend", "127.0.0.1:%d" % replica, "--auth", PASSWORD] + args.tandem_args.split(), "tandem-compare.log")
            wait_port(other)
        durable = free_port()
        if args.durability:
            spawn([args.tandem, "proxy", "--listen", "127.0.0.1:%d" % durable, "--backend", "127.0.0.1:%d" % master,
                   "--backend", "127.0.0.1:%d" % replica, "--auth", PASSWORD, "--wait-replicas", "1"] + args.tandem_args.split(),
                  "tandem-durable.log")
            wait_port(durable)
            # WAIT counts the replica only once its first REPLCONF ACK made it online.
            while "state=online" not in cli(master, "INFO", "replication"):
                time.sleep(0.1)
        scraped, scraped_http = free_port(), free_port()
        scraped_proc = None
        stop_scraping = threading.Event()
        scrapes = [0]
        if args.scrape_every > 0:
            scraped_proc = spawn([args.tandem, "proxy", "--listen", "127.0.0.1:%d" % scraped, "--backend", "127.0.0.1:%d" % master,
                                  "--backend", "127.0.0.1:%d" % replica, "--auth", PASSWORD, "--http", "127.0.0.1:%d" % scraped_http]
                                 + args.tandem_args.split(), "tandem-scraped.log")
            wait_port(scraped); wait_port(scraped_http)
            def scrape_loop():
                while not stop_scraping.wait(args.scrape_every):
                    urllib.request.urlopen("http://127.0.0.1:%d/metrics" % scraped_http, timeout=5).read()
                    scrapes[0] += 1
            threading.Thread(target=scrape_loop, daemon=True).start()
        wait_port(hap); wait_port(tan)
        deadline = time.time() + 10
        while time.time() < deadline and cli(hap, "PING") != "PONG" or cli(tan, "PING") != "PONG":
            time.sleep(0.2)
        time.sleep(2)  # let HAProxy's checks mark the replica down
        targets = [("direct", master), ("haproxy", hap)] + ([("twemproxy", twem)] if use_twem else []) + [("tandem", tan)] + ([("compare", other)] if args.compare else []) + ([("replicated", durable)] if args.durability else []) \
            + ([("scraped", scraped)] if args.scrape_every > 0 else [])
        # (test, pipeline, clients, value size)
        cases = [("set", 1, 50, 3), ("get", 1, 50, 3), ("set", 16, 50, 3), ("get", 16, 50, 3)]
        if not args.basic:
            cases += [("set", 1, 50, 4096), ("get", 1, 50, 4096), ("set", 1, 1000, 3), ("get", 1, 1000, 3)]
        results = {(t, c): [] for t, _ in targets for c in cases}
        for r in range(args.rounds):
            for case in cases:
                n = args.requests * (10 if case[1] > 1 else 1)
                for name, port in targets:
                    results[(name, case)].append(bench(port, case[0], case[1], n, clients=case[2], size=case[3]))
            print("round %d done" % (r + 1), file=sys.stderr)
        names = {"direct": "direct", "haproxy": "HAProxy", "twemproxy": "twemproxy", "tandem": "tandem"}
        shown = [t for t, _ in targets if t in names]
        print("| case | " + " | ".join("%s rps (p99 ms)" % names[t] for t in shown) + " | " +
              " | ".join("tandem/%s" % names[t] for t in shown if t != "tandem") + " | tandem's p99 lowest of the proxies |")
        print("|---|" + "---|" * (2 * len(shown) - 1) + "---|")
        def label(case):
            return "%s -P %d%s%s" % (case[0].upper(), case[1], ", %d clients" % case[2] if case[2] != 50 else "",
                                    ", %d B values" % case[3] if case[3] != 3 else "")
        for case in cases:
            med = {t: statistics.median(x[0] for x in results[(t, case)]) for t in shown}
            p99 = {t: statistics.median(x[1] for x in results[(t, case)]) for t in shown}
            proxies = [t for t in shown if t not in ("direct", "tandem")]
            lowest = all(p99["tandem"] < p99[t] for t in proxies)
            print("| %s | " % label(case) + " | ".join("%.0f (%.2f)" % (med[t], p99[t]) for t in shown) + " | " +
                  " | ".join("%.2f×" % (med["tandem"] / med[t]) for t in shown if t != "tandem") + " | %s |" % ("yes" if lowest else "no"))
            print("per round %s: tandem/direct %s" % (label(case), ", ".join(
                "%.2f" % (a[0] / b[0]) for a, b in zip(results[("tandem", case)], results[("direct", case)]))), file=sys.stderr)
        if args.compare:
            print("\n| case | tandem rps (p99 ms) | --compare binary rps (p99 ms) | tandem/compare (median) | per round |")
            print("|---|---|---|---|---|")
            for case in cases:
                med = {t: statistics.median(x[0] for x in results[(t, case)]) for t in ("tandem", "compare")}
                p99 = {t: statistics.median(x[1] for x in results[(t, case)]) for t in ("tandem", "compare")}
                rounds = ", ".join("%.2f" % (a[0] / b[0]) for a, b in zip(results[("tandem", case)], results[("compare", case)]))
                print("| %s | %.0f (%.2f) | %.0f (%.2f) | %.2f× | %s |" % (
                    label(case), med["tandem"], p99["tandem"], med["compare"], p99["compare"], med["tandem"] / med["compare"], rounds))
        if args.durability:
            print("\n| case | tandem rps (p99 ms) | tandem --wait-replicas 1 rps (p99 ms) | replicated/async |")
            print("|---|---|---|---|")
            for case in cases:
                med = {t: statistics.median(x[0] for x in results[(t, case)]) for t in ("tandem", "replicated")}
                p99 = {t: statistics.median(x[1] for x in results[(t, case)]) for t in ("tandem", "replicated")}
                print("| %s | %.0f (%.2f) | %.0f (%.2f) | %.2f× |" % (
                    label(case), med["tandem"], p99["tandem"], med["replicated"], p99["replicated"],
                    med["replicated"] / med["tandem"]))
            unconfirmed = [l for l in cli(durable, "INFO", "proxy").splitlines() if l.startswith("unconfirmed_writes:")]
            print("\n" + (unconfirmed[0] if unconfirmed else "unconfirmed_writes: ?"))
        if args.scrape_every > 0:
            stop_scraping.set()
            print("\n| case | tandem rps (p99 ms) | tandem --http, /metrics every %g s, rps (p99 ms) | scraped/unscraped |" % args.scrape_every)
            print("|---|---|---|---|")
            for case in cases:
                med = {t: statistics.median(x[0] for x in results[(t, case)]) for t in ("tandem", "scraped")}
                p99 = {t: statistics.median(x[1] for x in results[(t, case)]) for t in ("tandem", "scraped")}
                print("| %s | %.0f (%.2f) | %.0f (%.2f) | %.3f× |" % (
                    label(case), med["tandem"], p99["tandem"], med["scraped"], p99["scraped"],
                    med["scraped"] / med["tandem"]))
            all_t = sum(statistics.median(x[0] for x in results[("tandem", c)]) for c in cases)
            all_s = sum(statistics.median(x[0] for x in results[("scraped", c)]) for c in cases)
            print("\nscrapes during the rounds: %d; sum of medians scraped/unscraped: %.3f×" % (scrapes[0], all_s / all_t))
            # CPU time of one scrape, on the proxy: 500 back to back, from /proc/PID/stat.
            def cpu(pid):
                fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            before = cpu(scraped_proc.pid)
            started = time.time()
            for _ in range(500):
                body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % scraped_http, timeout=5).read()
            elapsed = time.time() - started
            per = (cpu(scraped_proc.pid) - before) / 500
            print("one scrape: %.2f ms of proxy CPU, %.2f ms wall, %d bytes; at one scrape every %g s: %.3f%% of one core" % (
                per * 1000, elapsed / 500 * 1000, len(body), args.scrape_every, per / args.scrape_every * 100))
        # Memory with 1,000 idle clients.
        sockets = [socket.create_connection(("127.0.0.1", tan)) for _ in range(1000)]
        time.sleep(1)
        rss = [l for l in open("/proc/%d/status" % tandem.pid) if l.startswith("VmRSS")][0].split()[1]
        print("\ntandem proxy RSS with 1,000 idle clients: %.1f MB" % (int(rss) / 1024))
        for s in sockets: s.close()
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL); p.wait()
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
