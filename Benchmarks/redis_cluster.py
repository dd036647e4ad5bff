"""A real Redis Cluster for the cluster benchmarks: masters × (1 + replicas) redis-server
processes on free loopback ports (bus ports chosen too), joined with
`redis-cli --cluster create … --cluster-replicas N --cluster-yes`, and a tandem proxy in front.
Every process is started through `Processes`, which SIGTERMs (then SIGKILLs) each by PID."""
import os, shutil, signal, socket, subprocess, sys, time


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


def cli(port, *args, timeout=10):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=timeout).stdout.strip()


class Processes:
    """The processes a script started; `stop_all` ends each by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, work):
        self.work = work
        self.procs = []
        self.by_port = {}

    def spawn(self, argv, log):
        p = subprocess.Popen(argv, stdout=open(os.path.join(self.work, log), "w"), stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.time() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                p.kill(); p.wait()


def install_signal_handlers():
    """SIGINT/SIGTERM raise SystemExit so the caller's `finally` stops everything it started."""
    def stop(signum, _frame):
        raise SystemExit("stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def check_tools(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            sys.exit("%s not found: apt-get install redis-server redis-tools" % tool)


def start_cluster(procs, masters=3, replicas=1, node_timeout=5000):
    """Starts the servers, creates the cluster, waits until every node says cluster_state:ok and
    every replica's master_link_status is up. Returns the node ports (masters first, as created);
    each server's Popen is `procs.by_port[port]`."""
    ports = []
    for _ in range(masters * (1 + replicas)):
        port = free_port()
        d = os.path.join(procs.work, "node-%d" % port)
        os.mkdir(d)
        procs.by_port[port] = procs.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--repl-diskless-sync-delay", "0", "--dir", d, "--cluster-enabled", "yes",
                     "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(node_timeout),
                     "--cluster-replica-validity-factor", "0", "--cluster-port", str(free_port())],
                    "redis-%d.log" % port)
        ports.append(port)
    for port in ports:
        wait_port(port)
    out = subprocess.run(["redis-cli", "--cluster", "create"] + ["127.0.0.1:%d" % p for p in ports]
                         + ["--cluster-replicas", str(replicas), "--cluster-yes"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("redis-cli --cluster create failed: " + out.stdout[-2000:] + out.stderr[-2000:])
    wait_healthy(ports, masters)
    return ports


def wait_healthy(ports, masters, limit=60):
    end = time.time() + limit
    for port in ports:
        while True:
            info = cli(port, "CLUSTER", "INFO")
            role = cli(port, "INFO", "replication")
            nodes = cli(port, "CLUSTER", "NODES")
            live_masters = [l for l in nodes.splitlines() if " master " in l.replace(",", " ") and "fail" not in l
                            and len(l.split()) > 8]
            ok = "cluster_state:ok" in info and len(live_masters) == masters
            if "role:slave" in role:
                ok = ok and "master_link_status:up" in role
            if ok:
                break
            if time.time() > end:
                raise RuntimeError("cluster not healthy on port %d: %s / %s" % (port, info[:200], role[:300]))
            time.sleep(0.1)


def masters_of(port):
    """The port of each live master, as CLUSTER NODES on `port` tells."""
    out = cli(port, "CLUSTER", "NODES")
    result = []
    for line in out.splitlines():
        f = line.split()
        if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
            result.append(int(f[1].split("@")[0].split(":")[1]))
    return result


def master_of_slot(port, slot):
    """The port of the master serving `slot`, as CLUSTER NODES on `port` tells (None if none)."""
    for line in cli(port, "CLUSTER", "NODES").splitlines():
        f = line.split()
        if "master" not in f[2] or "fail" in f[2]:
            continue
        for r in f[8:]:
            if r.startswith("["):
                continue
            lo, _, hi = r.partition("-")
            if int(lo) <= slot <= int(hi or lo):
                return int(f[1].split("@")[0].split(":")[1])
    return None


def start_tandem(procs, tandem, ports, extra=(), log="tandem.log"):
    port = free_port()
    argv = [tandem, "proxy", "--listen", "127.0.0.1:%d" % port]
    for p in ports[:2]:
        argv += ["--cluster", "127.0.0.1:%d" % p]
    proc = procs.spawn(argv + list(extra), log)
    wait_port(port, 20)
    end = time.time() + 20
    while cli(port, "PING") != "PONG":
        if time.time() > end:
            raise RuntimeError("tandem proxy never answered PING")
        time.sleep(0.1)
    return port, proc
