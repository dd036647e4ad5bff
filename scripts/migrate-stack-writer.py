#!/usr/bin/env python3
"""The writer of scripts/migrate-stack.sh (run in the client namespace, not by hand): one
connection to ENDPOINT (the VIP), `SET w:N N` one at a time, N counting up; a failed write
(connection refused, reset or closed, no connection within 1 s or no reply within 5 s, or an
error reply) is counted, the connection dropped and a new one made 50 ms later. Each
acknowledgement and each error is filed under the step named in STEP_FILE at that moment. When STOP_FILE appears it stops, finds the master through
the monitors (SENTINEL GET-MASTER-ADDR-BY-NAME), reads every acknowledged key back from it and
prints one JSON object: per step acked, errors (and the first error's text), lost (acknowledged,
not on the final master) and the longest time between two acknowledgements that ended in it.

No client library: RESP by hand, so that no client's own retries hide an error.
"""
import argparse, json, os, socket, sys, time


def command(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        p = p if isinstance(p, bytes) else str(p).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exactly(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line[:40]!r}")


def call(address, *parts, timeout=2.0):
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(command(*parts))
        return Reader(s).reply()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--step-file", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--monitors", required=True, help="ADDR:PORT,... asked for the master at the end")
    ap.add_argument("--master-name", default="mymaster")
    args = ap.parse_args()
    host, port = args.endpoint.rsplit(":", 1)

    order, stats = [], {}

    def step_stats(step):
        if step not in stats:
            order.append(step)
            stats[step] = {"acked": 0, "errors": 0, "first_error": "", "longest_gap_ms": 0}
        return stats[step]

    acked = {}  # n -> step
    step, step_checked = "", 0.0
    sock = reader = None
    n = 0
    last_ack = None
    while True:
        now = time.monotonic()
        if now - step_checked > 0.02:
            step_checked = now
            if os.path.exists(args.stop_file):
                break
            try:
                with open(args.step_file) as f:
                    step = f.read().strip() or step
            except OSError:
                pass
        n += 1
        try:
            if sock is None:
                sock = socket.create_connection((host, int(port)), timeout=1.0)
                # A reply may take up to 5 s (`tandem proxy` holds commands while it has no
                # master, --hold-ms 5000): only then is a write given up as an error.
                sock.settimeout(5.0)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader = Reader(sock)
            sock.sendall(command("SET", f"w:{n}", n))
            reply = reader.reply()
            if reply != "OK":
                raise RuntimeError(f"unexpected reply {reply!r}")
            acked[n] = step
            s = step_stats(step)
            s["acked"] += 1
            t = time.monotonic()
            if last_ack is not None:
                s["longest_gap_ms"] = max(s["longest_gap_ms"], round((t - last_ack) * 1000))
            last_ack = t
        except Exception as e:
            s = step_stats(step)
            s["errors"] += 1
            if not s["first_error"]:
                s["first_error"] = f"{type(e).__name__}: {e}"[:120]
            if sock is not None:
                sock.close()
            sock = reader = None
            time.sleep(0.05)
    if sock is not None:
        sock.close()

    master = None
    for monitor in args.monitors.split(","):
        try:
            addr = call(monitor, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", args.master_name)
            if addr:
                master = f"{addr[0]}:{addr[1]}"
                break
        except Exception:
            continue
    result = {"master": master, "order": order, "steps": stats}
    if master is None:
        result["error"] = "no monitor named the master"
    else:
        for s in stats.values():
            s["lost"] = 0
        keys = sorted(acked)
        mh, mp = master.rsplit(":", 1)
        with socket.create_connection((mh, int(mp)), timeout=5.0) as ms:
            r = Reader(ms)
            for start in range(0, len(keys), 1000):
                chunk = keys[start:start + 1000]
                ms.sendall(command("MGET", *[f"w:{k}" for k in chunk]))
                for k, v in zip(chunk, r.reply()):
                    if v != str(k):
                        stats[acked[k]]["lost"] += 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
