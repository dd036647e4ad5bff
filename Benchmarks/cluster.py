#!/usr/bin/env python3
"""Cluster-mode proxy throughput: redis-benchmark --cluster straight at a Redis Cluster vs
redis-benchmark through `tandem proxy --cluster`, same run.

Starts a real cluster (3 masters + 3 replicas of redis-server, `redis-cli --cluster create
--cluster-replicas 1`) on free loopback ports and `tandem proxy --cluster` in front of it. Then,
for each round and each case (SET and GET, 50 clients, -P 1 and -P 16), runs redis-benchmark
against both targets in turn: `--cluster` against a node (its clients spread over the masters,
each knowing the slot map) and plain against the proxy (one address; keys routed by the proxy).
Prints the medians of throughput, p50 and p99 and the tandem/direct ratios, and each round's
ratios so their spread shows. Every process it starts is stopped by PID.

  Benchmarks/cluster.py [--rounds 3] [--requests 200000] [--tandem-args "--threads 1"] [--tandem .build/release/tandem]
                        [--compare path/to/other/tandem]

--compare runs a second tandem binary (another commit's) in front of the same cluster in the
same rounds, right after the first, so a change is measured under the same load; its table
follows, with its ratio to direct and to the first binary.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_cluster import Processes, check_tools, install_signal_handlers, start_cluster, start_tandem


def bench(port, test, pipeline, requests, cluster):
    argv = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "-P", str(pipeline),
            "-t", test, "-r", "100000", "--csv"] + (["--cluster"] if cluster else [])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0] == test.upper():
            return float(cells[1]), float(cells[4]), float(cells[6])  # rps, p50 ms, p99 ms
    raise RuntimeError("no result from redis-benchmark %s: %s" % (" ".join(argv), out[-2000:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000, help="per -P 1 case; -P 16 runs 10 times as many")
    ap.add_argument("--tandem-args", default="", help="extra tandem proxy options, e.g. \"--threads 1\"")
    ap.add_argument("--tandem", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "tandem"))
    ap.add_argument("--compare", help="a second tandem binary, run in the same rounds")
    args = ap.parse_args()
    check_tools("redis-server", "redis-benchmark", "redis-cli")
    if not os.path.exists(args.tandem):
        sys.exit("%s not found: swift build -c release" % args.tandem)
    install_signal_handlers()
    work = tempfile.mkdtemp(prefix="tandem-cluster-bench-")
    procs = Processes(work)
    try:
        ports = start_cluster(procs, masters=3, replicas=1)
        tan, _ = start_tandem(procs, args.tandem, ports, args.tandem_args.split())
        targets = [("direct", ports[0], True), ("tandem", tan, False)]
        if args.compare:
            other, _ = start_tandem(procs, args.compare, ports, args.tandem_args.split(), log="compare.log")
            targets.append(("compare", other, False))
        cases = [("set", 1), ("get", 1), ("set", 16), ("get", 16)]
        results = {(t, c): [] for t, _, _ in targets for c in cases}
        for r in range(args.rounds):
            for case in cases:
                n = args.requests * (10 if case[1] > 1 else 1)
                for name, port, cluster in targets:
                    results[(name, case)].append(bench(port, case[0], case[1], n, cluster))
            print("round %d done" % (r + 1), file=sys.stderr)
        print("| case | direct --cluster rps (p50 / p99 ms) | tandem rps (p50 / p99 ms) | tandem/direct median | per round |")
        print("|---|---|---|---|---|")
        for case in cases:
            d, t = results[("direct", case)], results[("tandem", case)]
            med = lambda xs, i: statistics.median(x[i] for x in xs)
            rounds = ", ".join("%.2f" % (b[0] / a[0]) for a, b in zip(d, t))
            print("| %s -P %d | %.0f (%.2f / %.2f) | %.0f (%.2f / %.2f) | %.2f× | %s |" % (
                case[0].upper(), case[1], med(d, 0), med(d, 1), med(d, 2), med(t, 0), med(t, 1), med(t, 2),
                med(t, 0) / med(d, 0), rounds))
        if args.compare:
            print()
            print("--compare %s:" % args.compare)
            print()
            print("| case | compare rps (p50 / p99 ms) | compare/direct median | compare/tandem per round |")
            print("|---|---|---|---|")
            for case in cases:
                d, t, o = results[("direct", case)], results[("tandem", case)], results[("compare", case)]
                med = lambda xs, i: statistics.median(x[i] for x in xs)
                rounds = ", ".join("%.2f" % (c[0] / b[0]) for b, c in zip(t, o))
                print("| %s -P %d | %.0f (%.2f / %.2f) | %.2f× | %s |" % (
                    case[0].upper(), case[1], med(o, 0), med(o, 1), med(o, 2), med(o, 0) / med(d, 0), rounds))
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
