"""Memory of lesson 12's server beside the real redis-server, both started here on loopback
in the same run (part of ./tools/bench's Redis section; tools/redis_bench.py runs it).

- Per idle connection: each server's VmRSS (/proc/PID/status) before and after opening
  CONNECTIONS connections that each send one PING, read the PONG and then stay open;
  the difference over the connections, in KiB. Goal: ours at most IDLE_GOAL_KIB.
- Per key: VmRSS before and after `redis-benchmark -t set -r R -n N -d 8 -q`, over the
  keys DBSIZE (redis-cli) then counts, in bytes. Goal: ours at most KEY_GOAL_RATIO times
  redis-server's.

Each measurement has fresh servers of its own, stopped by their pid at the end.
Python 3 standard library only. The page's part (table_lines, goal_lines) is pure.
"""

import resource
import socket
import subprocess
import time

IDLE_GOAL_KIB = 8.0
KEY_GOAL_RATIO = 1.5
KINDS = ("elfs", "redis-server")
SETTLE_S = 0.3  # after the last reply, before reading VmRSS


def shown(kind):
    return "ours" if kind == "elfs" else kind


# ---------------------------------------------------------------------------------------
# Pure parts (tools/tests/test_redis_bench.py tests them).


def parse_vmrss(status_text):
    """KiB from the "VmRSS:    1234 kB" line of /proc/PID/status (None without one)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            cells = line.split()
            if len(cells) >= 2 and cells[1].isdigit():
                return int(cells[1])
    return None


def kib_per(before_kib, after_kib, count):
    """The growth in KiB per thing (None if there are none)."""
    if not count or before_kib is None or after_kib is None:
        return None
    return float(after_kib - before_kib) / count


def parse_dbsize(text):
    """DBSIZE's reply as redis-cli prints it: "(integer) 95123" or "95123"."""
    cells = text.split()
    return int(cells[-1]) if cells and cells[-1].isdigit() else None


def idle_goal(data):
    """(met, ours KiB) for the idle-connection goal, or None without a figure."""
    ours = data.get("idle", {}).get("elfs", {}).get("kib_per_connection")
    return None if ours is None else (ours <= data.get("idle_goal_kib", IDLE_GOAL_KIB), ours)


def key_goal(data):
    """(met, ratio ours / redis-server's) for the bytes-per-key goal, or None."""
    keys = data.get("keys", {})
    ours = keys.get("elfs", {}).get("bytes_per_key")
    theirs = keys.get("redis-server", {}).get("bytes_per_key")
    if ours is None or not theirs or theirs <= 0:
        return None
    ratio = ours / theirs
    return ratio <= data.get("key_goal_ratio", KEY_GOAL_RATIO), ratio


def _fmt(value, spec):
    return "-" if value is None else spec % value


def table_lines(data):
    """The page's table: one row per server, both measurements."""
    idle, keys = data.get("idle", {}), data.get("keys", {})
    lines = ["| server | VmRSS before (KiB) | with %s idle connections (KiB) | KiB per connection | "
             "VmRSS before (KiB) | after the SETs (KiB) | bytes per key (keys) |" % "{:,}".format(
                 idle.get("connections", 0)),
             "|---|--:|--:|--:|--:|--:|--:|"]
    for kind in KINDS:
        i, k = idle.get(kind, {}), keys.get(kind, {})
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            shown(kind), _fmt(i.get("rss_before_kib"), "%d"), _fmt(i.get("rss_after_kib"), "%d"),
            _fmt(i.get("kib_per_connection"), "%.2f"), _fmt(k.get("rss_before_kib"), "%d"),
            _fmt(k.get("rss_after_kib"), "%d"),
            "-" if k.get("bytes_per_key") is None else "%.0f (%s keys)" % (
                k["bytes_per_key"], "{:,}".format(k.get("keys", 0)))))
    return lines


def goal_lines(data):
    out = []
    idle = data.get("idle", {})
    g = idle_goal(data)
    theirs = idle.get("redis-server", {}).get("kib_per_connection")
    out.append("- memory per idle connection at most %.0f KiB (%s connections, VmRSS): %s" % (
        data.get("idle_goal_kib", IDLE_GOAL_KIB), "{:,}".format(idle.get("connections", 0)),
        "no figure" if g is None else "ours %.2f KiB, redis-server %s KiB: %s" % (
            g[1], _fmt(theirs, "%.2f"), "met" if g[0] else "**not met**")))
    keys = data.get("keys", {})
    g = key_goal(data)
    out.append("- memory per key at most %.1fx redis-server's (`redis-benchmark -t set -d 8`, VmRSS "
               "over DBSIZE): %s" % (data.get("key_goal_ratio", KEY_GOAL_RATIO), "no figure" if g is None else
                                      "ours %.0f B, redis-server %.0f B, %.2fx: %s" % (
                                          keys["elfs"]["bytes_per_key"], keys["redis-server"]["bytes_per_key"],
                                          g[1], "met" if g[0] else "**not met**")))
    return out


# ---------------------------------------------------------------------------------------
# Measuring.


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return parse_vmrss(f.read())


def raise_nofile(wanted):
    """Raises this process's soft RLIMIT_NOFILE to `wanted` (up to the hard limit); the
    servers started after it inherit it. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def open_idle(port, count, deadline_s=30.0):
    """COUNT connections, each having sent PING and read +PONG; bounded by deadline_s."""
    deadline = time.time() + deadline_s
    socks = []
    try:
        for _ in range(count):
            if time.time() > deadline:
                raise OSError("opened only %d of %d idle connections in %.0f s" % (len(socks), count, deadline_s))
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            socks.append(s)
            s.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n") and len(reply) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                reply += chunk
            if not reply.startswith(b"+PONG"):
                raise OSError("idle connection %d: PING got %r" % (len(socks), reply))
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def measure_idle(server, count, settle_s=SETTLE_S):
    before = rss_kib(server.proc.pid)
    socks = open_idle(server.port, count)
    try:
        time.sleep(settle_s)
        after = rss_kib(server.proc.pid)
    finally:
        for s in socks:
            s.close()
    return {"rss_before_kib": before, "rss_after_kib": after, "kib_per_connection": kib_per(before, after, count)}


def key_command(rand, requests):
    return ["redis-benchmark", "-h", "127.0.0.1", "-p", "PORT", "-t", "set", "-r", str(rand), "-n", str(requests),
            "-d", "8", "-q"]


def measure_keys(server, rand, requests, settle_s=SETTLE_S):
    before = rss_kib(server.proc.pid)
    cmd = [str(server.port) if c == "PORT" else c for c in key_command(rand, requests)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise OSError("%s: exit %d: %s" % (" ".join(cmd), proc.returncode, proc.stderr[-300:]))
    time.sleep(settle_s)
    after = rss_kib(server.proc.pid)
    size = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "dbsize"], capture_output=True,
                          text=True, timeout=30)
    keys = parse_dbsize(size.stdout)
    if not keys:
        raise OSError("redis-cli dbsize printed %r" % (size.stdout + size.stderr)[-200:])
    return {"rss_before_kib": before, "rss_after_kib": after, "keys": keys,
            "bytes_per_key": 1024.0 * kib_per(before, after, keys)}


def run(start_server, quick=False, log=print):
    """start_server(kind) -> a started redis_bench.Server. Returns the page's data."""
    connections = 50 if quick else 1000
    rand, requests = (1000, 3000) if quick else (100000, 300000)
    settle = 0.05 if quick else SETTLE_S
    raise_nofile(connections + 256)
    data = {"idle_goal_kib": IDLE_GOAL_KIB, "key_goal_ratio": KEY_GOAL_RATIO, "settle_ms": 1000 * settle,
            "idle": {"connections": connections}, "keys": {"command": " ".join(key_command(rand, requests))}}
    for what, measure in (("idle", lambda s: measure_idle(s, connections, settle)),
                          ("keys", lambda s: measure_keys(s, rand, requests, settle))):
        for kind in KINDS:
            server = start_server(kind)
            try:
                data[what][kind] = measure(server)
            finally:
                server.stop()
    log("redis memory: per idle connection ours %s KiB, redis-server %s KiB; per key ours %s B, "
        "redis-server %s B" % tuple(
            _fmt(data[w][k].get(f), "%.2f" if w == "idle" else "%.0f")
            for w, f in (("idle", "kib_per_connection"), ("keys", "bytes_per_key")) for k in KINDS))
    return data
