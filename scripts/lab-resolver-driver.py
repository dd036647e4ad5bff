#!/usr/bin/env python3
"""scripts/lab-resolver.sh's driver, run inside the namespace whose DNS server never answers.

m1: a master and a replica on loopback, monitored by address; m2: a name (hang.example) whose
lookup hangs, in the config file. The fault (argument): `kill` (kill -9: tandem's crash
detection sees the refused reconnect at once) or `stop` (SIGSTOP: only down-after tells, so the
timer must keep running). Checks, timed from the processes' own replies and events:
  - start: m1 is monitored (its replica known) within 3 s, not after m2's 10 s lookup;
  - while SENTINEL MONITOR m3 hang2.example … waits for its lookup (10 s), the fault on m1's
    master: +sdown within down-after + 1 s, +odown, +switch-master within 8 s, all before the
    MONITOR reply; the sentinel answers PING within 0.5 s throughout; no +tilt; the promoted
    master's link is up (flags without `disconnected`) before the MONITOR reply;
  - the MONITOR reply is 7.0's error for a name that does not resolve.
Prints PASS resolver and a RESULT line with the times.
"""
import os, signal, subprocess, sys, threading, time
import redis

TANDEM = os.environ["TANDEM"]
DIR = os.environ["LAB_DIR"]
DOWN_AFTER = 1000
START_LIMIT = float(os.environ.get("START_LIMIT", "3"))  # raised only to look past the start
FAULT = sys.argv[1] if len(sys.argv) > 1 else "kill"
OFFSET = {"kill": 0, "stop": 10}[FAULT]
P_MASTER, P_REPLICA, P_SENTINEL = 7101 + OFFSET, 7102 + OFFSET, 7126 + OFFSET
procs = []


def fail(message):
    print(f"FAIL resolver_{FAULT}: {message}")
    for line in open(f"{DIR}/sentinel.log", errors="replace").read().splitlines()[-40:]:
        print("  sentinel.log: " + line)
    sys.exit(1)


def start(args, log):
    p = subprocess.Popen(args, stdout=open(f"{DIR}/{log}", "a"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    return p


def wait_for(what, condition, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    fail(f"{what} not within {limit} s")


def main():
    master = start(["redis-server", "--port", str(P_MASTER), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", DIR, "--dbfilename", "master.rdb"], "master.log")
    start(["redis-server", "--port", str(P_REPLICA), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", DIR, "--dbfilename", "replica.rdb",
           "--replicaof", "127.0.0.1", str(P_MASTER)], "replica.log")
    replica = redis.Redis(port=P_REPLICA, socket_timeout=2)
    wait_for("replica in sync", lambda: replica.info("replication").get("master_link_status") == "up", 10)
    with open(f"{DIR}/sentinel.conf", "w") as f:
        f.write(f"port {P_SENTINEL}\nbind 127.0.0.1\nsentinel resolve-hostnames yes\n"
                f"sentinel monitor m1 127.0.0.1 {P_MASTER} 1\n"
                f"sentinel down-after-milliseconds m1 {DOWN_AFTER}\nsentinel failover-timeout m1 10000\n"
                f"sentinel monitor m2 hang.example {7110 + OFFSET} 1\nsentinel down-after-milliseconds m2 {DOWN_AFTER}\n")
    t_start = time.monotonic()
    start([TANDEM, "sentinel", f"{DIR}/sentinel.conf"], "sentinel.log")
    s = redis.Redis(port=P_SENTINEL, socket_timeout=1, decode_responses=True)
    # redis-py parses SENTINEL MASTER into a dict (flags kept as the text).
    wait_for("m1's replica known", lambda: int(s.execute_command("SENTINEL", "MASTER", "m1")["num-slaves"]) == 1, START_LIMIT)
    started = time.monotonic() - t_start
    m2 = s.execute_command("SENTINEL", "MASTER", "m2")
    print(f"check: m1 monitored with its replica {started:.2f} s after start; m2 listed as {m2['ip']}")

    events = []
    sub = redis.Redis(port=P_SENTINEL, decode_responses=True).pubsub()
    sub.psubscribe("*")
    def listen():
        for message in sub.listen():
            if message["type"] == "pmessage":
                events.append((time.monotonic(), message["channel"], message["data"]))
    threading.Thread(target=listen, daemon=True).start()

    reply = {}
    def monitor():
        c = redis.Redis(port=P_SENTINEL, socket_timeout=30, decode_responses=True)
        t = time.monotonic()
        try:
            reply["value"] = c.execute_command("SENTINEL", "MONITOR", "m3", "hang2.example", str(7111 + OFFSET), "1")
        except redis.ResponseError as e:
            reply["value"] = "ERR " + str(e)
        reply["at"] = time.monotonic()
        reply["took"] = reply["at"] - t
    threading.Thread(target=monitor, daemon=True).start()
    time.sleep(0.3)

    t_kill = time.monotonic()
    if FAULT == "kill":
        master.send_signal(signal.SIGKILL)
        master.wait()
    else:
        master.send_signal(signal.SIGSTOP)
    worst_ping = 0.0
    link_up_at = None
    deadline = t_kill + 20
    while time.monotonic() < deadline and not ("at" in reply and link_up_at):
        t = time.monotonic()
        try:
            s.ping()
        except redis.RedisError as e:
            fail(f"PING to the sentinel failed: {e}")
        worst_ping = max(worst_ping, time.monotonic() - t)
        if link_up_at is None and any(e[1] == "+switch-master" for e in events):
            if s.execute_command("SENTINEL", "MASTER", "m1")["flags"] == "master":
                link_up_at = time.monotonic()
        time.sleep(0.1)

    def first(channel, prefix):
        return next((e[0] for e in events if e[1] == channel and e[2].startswith(prefix)), None)
    sdown = first("+sdown", "master m1 ")
    odown = first("+odown", "master m1 ")
    switch = first("+switch-master", "m1 ")
    if any(e[1] == "+tilt" for e in events):
        fail("the sentinel entered TILT mode")
    if sdown is None or odown is None or switch is None:
        fail(f"events missing: sdown={sdown} odown={odown} switch={switch}; got {[e[1:] for e in events]}")
    if "at" not in reply:
        fail("no reply to SENTINEL MONITOR m3 hang2.example within 20 s")
    print(f"check ({FAULT}): +sdown {sdown - t_kill:.2f} s, +odown {odown - t_kill:.2f} s, +switch-master {switch - t_kill:.2f} s, "
          f"new master's link up {link_up_at - t_kill if link_up_at else -1:.2f} s after the fault; "
          f"MONITOR hang2.example answered after {reply['took']:.2f} s: {reply['value']!r}; slowest PING {worst_ping * 1000:.0f} ms")
    if started > 3:
        fail(f"m1 monitored only {started:.2f} s after start")
    if sdown - t_kill > DOWN_AFTER / 1000 + 1:
        fail(f"+sdown {sdown - t_kill:.2f} s after the fault")
    if switch - t_kill > 8:
        fail(f"+switch-master {switch - t_kill:.2f} s after the fault")
    if not (switch < reply["at"]):
        fail("the failover finished only after the MONITOR lookup ended")
    if link_up_at is None or link_up_at > reply["at"]:
        fail("the promoted master's link came up only after the MONITOR lookup ended")
    if worst_ping > 0.5:
        fail(f"a PING took {worst_ping * 1000:.0f} ms")
    if reply["value"] != "ERR Invalid IP address or hostname specified" or reply["took"] < 5:
        fail(f"MONITOR hang2.example answered {reply['value']!r} after {reply['took']:.2f} s (expected the error after the 10 s lookup)")
    print(f"PASS resolver_{FAULT}")
    print(f"RESULT label=resolver_{FAULT} start_s={started:.2f} sdown_s={sdown - t_kill:.2f} odown_s={odown - t_kill:.2f} "
          f"switch_s={switch - t_kill:.2f} link_s={link_up_at - t_kill:.2f} monitor_s={reply['took']:.2f} ping_max_ms={worst_ping * 1000:.0f}")


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()  # SIGKILL ends a stopped process too
            p.wait()
