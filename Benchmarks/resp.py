"""The small RESP client the benchmark and lab scripts share: encode a command, read one reply
(errors come back as Exception values, not raised)."""


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
