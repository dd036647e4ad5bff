#!/usr/bin/env python3
"""kill -9 of a Redis Cluster master under load: 20 writers through `tandem proxy --cluster` vs
20 writers with redis-py's cluster client (`redis.cluster.RedisCluster`, default options)
connecting directly, same cluster, same run.

Starts a real cluster (3 masters + 3 replicas of redis-server, `redis-cli --cluster create
--cluster-replicas 1`, cluster-node-timeout --node-timeout ms) and a tandem proxy in front. Each
group runs in its own process (20 threads, one client each: a plain `redis.Redis` connection to
the proxy, or its own `RedisCluster`); every writer SETs keys of its own (`proxy:7:123` = 123),
spread over all slots, one after the other, and records each acknowledged write. After
--warmup seconds the master of slot 0 is killed with SIGKILL; the writers go on for --after
seconds more. Then, on the surviving cluster, every acknowledged key is read back (straight
from the nodes): a key missing is an acknowledged write lost (Redis Cluster replicates
asynchronously; what the dead master acknowledged but had not sent to its replica is gone).

Per group: writes acknowledged, acknowledged writes lost, errors (and their kinds), the longest
time a writer went without an acknowledged write (its gap), the median writer's longest gap,
and whether every writer made progress after the promotion. Several runs: --runs N.

  Benchmarks/cluster-failover.py [--runs 1] [--writers 20] [--node-timeout 1000] [--tandem .build/release/tandem]
"""
import argparse, collections, multiprocessing, os, shutil, statistics, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_cluster import (Processes, check_tools, cli, install_signal_handlers, master_of_slot, start_cluster,
                           start_tandem, wait_healthy)


def writer_group(kind, port, writers, stop, ready, results):
    """Runs in its own process: `writers` threads writing until `stop` is set; puts one dict per writer."""
    import redis
    from redis.cluster import RedisCluster
    out = [None] * writers

    def write(w):
        if kind == "proxy":
            # RESP2: redis-py 8 asks HELLO 3 first, which the cluster proxy answers -NOPROTO (falling back, with a warning).
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30, protocol=2)
        else:
            client = RedisCluster(host="127.0.0.1", port=port, socket_timeout=30)
        acked, errors = [], []
        last = time.monotonic()
        gap, gap_at = 0.0, 0.0
        n = 0
        ready.wait()
        while not stop.is_set():
            n += 1
            key = "%s:%d:%d" % (kind, w, n)
            try:
                client.set(key, n)
            except Exception as e:  # an error is counted and the writer goes on with its next key
                errors.append("%s: %s" % (type(e).__name__, str(e)[:160]))
                continue
            now = time.monotonic()
            acked.append(n)
            if now - last > gap:
                gap, gap_at = now - last, last
            last = now
        out[w] = {"acked": acked, "errors": errors, "gap": gap, "gap_at": gap_at, "last_ack": last}
        client.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads: t.start()
    for t in threads: t.join()
    results.put((kind, out))


def lost_writes(port, kind, writers):
    """How many acknowledged keys are missing (or hold another value) on the cluster now."""
    from redis.cluster import RedisCluster
    client = RedisCluster(host="127.0.0.1", port=port)
    lost = []
    for w, writer in enumerate(writers):
        keys = ["%s:%d:%d" % (kind, w, n) for n in writer["acked"]]
        for i in range(0, len(keys), 2000):
            chunk = keys[i:i + 2000]
            values = client.mget_nonatomic(chunk)
            for key, value in zip(chunk, values):
                if value is None or value.decode() != key.rsplit(":", 1)[1]:
                    lost.append(key)
    client.close()
    return lost


def one_run(args, tandem):
    work = tempfile.mkdtemp(prefix="tandem-cluster-failover-")
    procs = Processes(work)
    group_procs = []
    try:
        ports = start_cluster(procs, masters=3, replicas=1, node_timeout=args.node_timeout)
        proxy, _ = start_tandem(procs, tandem, ports, args.tandem_args.split())
        victim = master_of_slot(ports[0], 0)
        survivor = next(p for p in ports if p != victim)
        ctx = multiprocessing.get_context("fork")
        stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
        for kind, port in (("proxy", proxy), ("direct", survivor)):
            p = ctx.Process(target=writer_group, args=(kind, port, args.writers, stop, ready, results))
            p.start(); group_procs.append(p)
        ready.set()
        time.sleep(args.warmup)
        procs.by_port[victim].kill()
        killed = time.monotonic()
        promoted = None
        while time.monotonic() < killed + args.after:
            if promoted is None:
                now_master = master_of_slot(survivor, 0)
                if now_master is not None and now_master != victim:
                    promoted = time.monotonic() - killed
            time.sleep(0.05)
        stop.set()
        groups = dict(results.get(timeout=120) for _ in group_procs)
        for p in group_procs: p.join(30)
        live = [p for p in ports if p != victim]
        wait_healthy(live, 3)
        rows = {}
        for kind in ("proxy", "direct"):
            writers = groups[kind]
            lost = lost_writes(survivor, kind, writers)
            errors = [e for w in writers for e in w["errors"]]
            kinds = collections.Counter(e.split(":")[0] + ": " + e.split(":", 1)[1].strip()[:70] for e in errors)
            gaps = [w["gap"] for w in writers]
            progressed = sum(1 for w in writers if w["last_ack"] > killed + (promoted or args.after))
            rows[kind] = {"acked": sum(len(w["acked"]) for w in writers), "lost": len(lost), "errors": len(errors),
                          "kinds": kinds, "gap": max(gaps), "median_gap": statistics.median(gaps),
                          "progressed": progressed}
        return promoted, rows
    finally:
        for p in group_procs:
            if p.is_alive(): p.kill(); p.join()
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--writers", type=int, default=20, help="writers per group")
    ap.add_argument("--node-timeout", type=int, default=1000, help="cluster-node-timeout, ms")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of writing before the kill")
    ap.add_argument("--after", type=float, default=10, help="seconds of writing after the kill")
    ap.add_argument("--tandem-args", default="", help="extra tandem proxy options")
    ap.add_argument("--tandem", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "tandem"))
    args = ap.parse_args()
    check_tools("redis-server", "redis-cli")
    if not os.path.exists(args.tandem):
        sys.exit("%s not found: swift build -c release" % args.tandem)
    try:
        import redis
        print("redis-py %s, %d writers per group, cluster-node-timeout %d ms" % (redis.__version__, args.writers, args.node_timeout))
    except ImportError:
        sys.exit("redis-py not found: pip install redis")
    install_signal_handlers()
    print("| run | promoted after | group | writes acked | acked lost | errors | longest gap | median writer's longest gap | writers progressing after |")
    print("|---|---|---|---|---|---|---|---|---|")
    all_kinds = {"proxy": collections.Counter(), "direct": collections.Counter()}
    for run in range(1, args.runs + 1):
        promoted, rows = one_run(args, args.tandem)
        for kind, label in (("proxy", "tandem proxy"), ("direct", "redis-py RedisCluster")):
            r = rows[kind]
            all_kinds[kind].update(r["kinds"])
            print("| %d | %s | %s | %d | %d | %d | %.2f s | %.2f s | %d/%d |" % (
                run, "%.2f s" % promoted if promoted else "not seen", label, r["acked"], r["lost"], r["errors"],
                r["gap"], r["median_gap"], r["progressed"], args.writers), flush=True)
    for kind, counter in all_kinds.items():
        if counter:
            print("\n%s errors by kind:" % kind)
            for text, count in counter.most_common(8):
                print("  %d × %s" % (count, text))


if __name__ == "__main__":
    main()
