"""The small RESP client the benchmark and lab scripts share: encode a command, read one reply
(errors come back as Exception values, not raised), and a connection that does both."""
import socket



def encode(args):
    parts = [str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+": return rest.decode()
    if t == b"-": return Exception(rest.decode())
    if t == b":": return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0: return None
        return f.read(n + 2)[:-2].decode()
    if t == b"*":
        n = int(rest)
        if n < 0: return None
        return [read(f) for _ in range(n)]
    raise ValueError("bad reply %r" % line)


class Conn:
    """One RESP connection: `conn("SET", "k", "v")` sends a command and returns its reply."""

    def __init__(self, addr, timeout=0.5):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.f = self.s.makefile("rb")

    def __call__(self, *args):
        self.s.sendall(encode(args))
        return read(self.f)

    def read(self):
        """The next reply without sending anything (pushed messages after SUBSCRIBE)."""
        return read(self.f)

    def close(self):
        try: self.s.close()
        except Exception: pass


def scan_keys(addr, pattern, timeout=5):
    """Every key matching pattern on the server at addr (SCAN)."""
    c = Conn(addr, timeout=timeout)
    keys, cursor = set(), "0"
    try:
        while True:
            cursor, batch = c("SCAN", cursor, "MATCH", pattern, "COUNT", "10000")
            keys.update(batch)
            if cursor == "0":
                return keys
    finally:
        c.close()
