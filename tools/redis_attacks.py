"""Lesson 12's server under attack, beside the real redis-server in the same run (part of
./tools/bench's Redis section; tools/redis_bench.py runs it).

For each attack a probe (this file run as a program, on a connection of its own) sends
PING and waits for +PONG in a loop, with a short pause between pings (bounded count and
time), from just before the attack until just after it; the page shows the probe's median
and worst latency and the server's CPU time during the attack (utime + stime from
/proc/PID/stat). Each attack runs once per server, alternating which server goes first.
The goal of each row: ours' worst probe latency no worse than redis-server's.

The attackers (Python sockets on loopback; every loop bounded in count and time):
- slowloris: CONNS connections that each send one byte of an unfinished request every
  100 ms, then leave;
- never reads: one client asks for REPLIES GETs of a 1 MiB value and reads none, stays,
  then leaves;
- huge request: a multibulk DEL of ARGS one-byte keys, sent in small pieces over the
  attack's time, then its reply is read;
- churn: CONNS connections that connect and close, one after the other.

Python 3 standard library only. The page's part (table_lines, goal_lines) is pure.
"""

import json
import os
import selectors
import socket
import subprocess
import sys
import time

KINDS = ("elfs", "redis-server")
PROBE_PAUSE_S = 0.01
PROBE_MAX_PINGS = 3000
PROBE_TIMEOUT_S = 10.0
SETTLE_S = 0.1  # after the attack, before the CPU time is read and the probe stops
BIG_KEY = b"elfs:big"


def shown(kind):
    return "ours" if kind == "elfs" else kind


def sizes(quick):
    """The attacks' sizes: tiny with --quick (proves the code path), the brief's otherwise."""
    if quick:
        return {"seconds": 0.3, "slowloris_conns": 50, "never_reads_replies": 8, "huge_args": 20000,
                "churn_conns": 200}
    return {"seconds": 1.0, "slowloris_conns": 500, "never_reads_replies": 64, "huge_args": 200000,
            "churn_conns": 2000}


def describe(name, s):
    return {
        "slowloris": "%s connections each send one byte of an unfinished request every 100 ms for %.1f s, "
                     "then leave" % ("{:,}".format(s["slowloris_conns"]), s["seconds"]),
        "never_reads": "one client asks for %d GETs of a 1 MiB value, reads none, stays %.1f s, then leaves" % (
            s["never_reads_replies"], s["seconds"]),
        "huge_request": "a DEL of %s one-byte keys (a multibulk of %s arguments) sent in small pieces over %.1f s" % (
            "{:,}".format(s["huge_args"] - 1), "{:,}".format(s["huge_args"]), s["seconds"]),
        "churn": "%s connections connect and close, one after the other" % "{:,}".format(s["churn_conns"]),
    }[name]


ATTACKS = ("slowloris", "never_reads", "huge_request", "churn")


# ---------------------------------------------------------------------------------------
# Pure parts (tools/tests/test_redis_bench.py tests them).


def parse_cpu_ticks(stat_text):
    """utime + stime, in clock ticks, from /proc/PID/stat (the comm may hold spaces and ')')."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5); fields[0] is field 3


def latency_summary(latencies_s):
    """{"pings", "p50_ms", "max_ms"} of the probe's round trips (None figures without any)."""
    if not latencies_s:
        return {"pings": 0, "p50_ms": None, "max_ms": None}
    s, n = sorted(latencies_s), len(latencies_s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0
    return {"pings": n, "p50_ms": 1000.0 * median, "max_ms": 1000.0 * s[-1]}


def huge_request(args):
    """One RESP multibulk of ARGS arguments: DEL and ARGS - 1 one-byte keys."""
    return b"*%d\r\n$3\r\nDEL\r\n" % args + b"$1\r\nk\r\n" * (args - 1)


def row_met(row):
    """True/False: ours' worst probe latency no worse than redis-server's; None: no figures
    (or an attack or probe failed on either server)."""
    if any(row.get(kind, {}).get("error") for kind in KINDS):
        return None
    ours = row.get("elfs", {}).get("max_ms")
    theirs = row.get("redis-server", {}).get("max_ms")
    if ours is None or theirs is None:
        return None
    return ours <= theirs


def _fmt(value, spec="%.2f"):
    return "-" if value is None else spec % value


def table_lines(data):
    lines = ["| attack | ours: probe p50 / worst (ms) | ours: CPU (ms) | redis-server: probe p50 / worst (ms) | "
             "redis-server: CPU (ms) | worst no worse than redis-server's |", "|---|--:|--:|--:|--:|---|"]
    for name in ATTACKS:
        row = data.get("attacks", {}).get(name)
        if row is None:
            continue
        cells = ["%s: %s" % (name.replace("_", " "), row.get("what", ""))]
        for kind in KINDS:
            r = row.get(kind, {})
            if r.get("error"):
                cells += ["failed: %s" % r["error"], "-"]
                continue
            cells += ["%s / %s (%d pings)" % (_fmt(r.get("p50_ms")), _fmt(r.get("max_ms")), r.get("pings", 0)),
                      _fmt(r.get("cpu_ms"), "%.0f")]
        met = row_met(row)
        cells.append("no figure" if met is None else "met" if met else "**not met**")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def goal_lines(data):
    parts = []
    for name in ATTACKS:
        row = data.get("attacks", {}).get(name)
        if row is None:
            continue
        met = row_met(row)
        parts.append("%s %s" % (name.replace("_", " "), "no figure" if met is None else "met (%s vs %s ms)" % (
            _fmt(row["elfs"]["max_ms"]), _fmt(row["redis-server"]["max_ms"])) if met else
            "**not met** (%s vs %s ms)" % (_fmt(row["elfs"]["max_ms"]), _fmt(row["redis-server"]["max_ms"]))))
    if not parts:
        return []
    return ["- under attack, the probe's worst latency no worse than redis-server's (ours vs theirs; one run "
            "each, alternating, on a busy machine this is noisy): " + "; ".join(parts)]


# ---------------------------------------------------------------------------------------
# The attackers. Each returns a short dict of what it did.


def _connect(port, timeout=5.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _read_line(sock, limit=1 << 16):
    reply = b""
    while not reply.endswith(b"\r\n") and len(reply) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply


def _sleep_until(t):
    delay = t - time.time()
    if delay > 0:
        time.sleep(min(delay, 1.0))


def slowloris(port, s):
    payload = b"*3\r\n$3\r\nSET\r\n$9\r\nslowloris\r\n$5\r\nvalue"  # never finished
    rounds = min(len(payload) - 1, max(1, int(round(s["seconds"] / 0.1))))
    deadline = time.time() + 30 + s["seconds"]
    socks, refused = [], 0
    try:
        for _ in range(s["slowloris_conns"]):
            if time.time() > deadline:
                break
            socks.append(_connect(port))
        start = time.time()
        for r in range(rounds):
            for sock in socks:
                try:
                    sock.send(payload[r:r + 1])
                except OSError:
                    refused += 1
            _sleep_until(min(start + (r + 1) * 0.1, deadline))
    finally:
        for sock in socks:
            sock.close()
    return {"connections": len(socks), "bytes_each": rounds, "failed_sends": refused}


def prepare_never_reads(port):
    with _connect(port) as sock:
        value = b"x" * (1 << 20)
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(BIG_KEY), BIG_KEY, len(value), value))
        reply = _read_line(sock)
        if not reply.startswith(b"+OK"):
            raise OSError("SET of the 1 MiB value got %r" % reply[:80])


def never_reads(port, s):
    with _connect(port) as sock:
        sock.sendall(b"GET %s\r\n" % BIG_KEY * s["never_reads_replies"])
        time.sleep(s["seconds"])
    return {"replies_asked": s["never_reads_replies"]}


def huge(port, s):
    request = huge_request(s["huge_args"])
    pieces = max(1, int(s["seconds"] / 0.002))  # a piece every ~2 ms
    size = -(-len(request) // pieces)
    with _connect(port, timeout=PROBE_TIMEOUT_S) as sock:
        start = time.time()
        for i in range(pieces):
            sock.sendall(request[i * size:(i + 1) * size])
            _sleep_until(start + (i + 1) * s["seconds"] / pieces)
        reply = _read_line(sock)
    if not reply.startswith(b":"):
        raise OSError("the huge DEL got %r" % reply[:80])
    return {"bytes": len(request), "pieces": pieces, "piece_bytes": size}


def churn(port, s):
    deadline = time.time() + 30
    done = 0
    for _ in range(s["churn_conns"]):
        if time.time() > deadline:
            break
        _connect(port).close()
        done += 1
    return {"connections": done}


ATTACKERS = {"slowloris": (None, slowloris), "never_reads": (prepare_never_reads, never_reads),
             "huge_request": (None, huge), "churn": (None, churn)}


# ---------------------------------------------------------------------------------------
# The probe (a process of its own, so that the attacker does not delay it) and a run.


def probe_main(port, max_pings, pause_s, max_s):
    """Prints "ready", then pings until its stdin closes (or max_pings, or max_s); prints
    the round trips as JSON."""
    deadline = time.time() + max_s
    out = {"latencies_s": [], "timeouts": 0, "error": None}
    with _connect(port, timeout=PROBE_TIMEOUT_S) as sock, selectors.DefaultSelector() as sel:
        sock.sendall(b"PING\r\n")
        if not _read_line(sock).startswith(b"+PONG"):
            raise SystemExit("the probe's first PING got no PONG")
        print("ready", flush=True)
        sel.register(sys.stdin, selectors.EVENT_READ)
        for _ in range(max_pings):
            if time.time() > deadline or sel.select(timeout=pause_s):
                break  # stdin readable: closed by the parent, the attack is over
            t0 = time.perf_counter()
            try:
                sock.sendall(b"PING\r\n")
                reply = _read_line(sock)
            except socket.timeout:
                out["timeouts"] += 1
                out["latencies_s"].append(PROBE_TIMEOUT_S)
                break
            except OSError as e:
                out["error"] = str(e)
                break
            out["latencies_s"].append(time.perf_counter() - t0)
            if not reply.startswith(b"+PONG"):
                out["error"] = "PING got %r" % reply[:40]
                break
    print(json.dumps(out), flush=True)


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        return 1000.0 * parse_cpu_ticks(f.read()) / os.sysconf("SC_CLK_TCK")


def attack_once(server, name, s):
    prepare, attacker = ATTACKERS[name]
    if prepare:
        prepare(server.port)
    probe = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), "probe", str(server.port),
                              str(PROBE_MAX_PINGS), str(PROBE_PAUSE_S), str(s["seconds"] + 60)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = {}
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(probe.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=10) or probe.stdout.readline().strip() != "ready":
                raise OSError("the probe did not start: %s" % probe.stderr.read()[-300:] if probe.poll() is not None
                              else "the probe did not start within 10 s")
        before = cpu_ms(server.proc.pid)
        try:
            result["detail"] = attacker(server.port, s)
        except OSError as e:
            result["error"] = "%s: %s" % (type(e).__name__, e)
        time.sleep(SETTLE_S)
        result["cpu_ms"] = cpu_ms(server.proc.pid) - before
        stdout, stderr = probe.communicate(timeout=PROBE_TIMEOUT_S + 20)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    try:
        pings = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise OSError("the probe printed no round trips: %s" % stderr[-300:])
    result.update(latency_summary(pings["latencies_s"]))
    result["timeouts"] = pings["timeouts"]
    if pings["error"] and "error" not in result:
        result["error"] = "probe: " + pings["error"]
    return result


def run(start_server, quick=False, log=print):
    """start_server(kind) -> a started redis_bench.Server (stopped here). The page's data."""
    s = sizes(quick)
    data = {"sizes": s, "probe_pause_ms": PROBE_PAUSE_S * 1000, "settle_ms": SETTLE_S * 1000, "attacks": {},
            "clock_tick_ms": 1000.0 / os.sysconf("SC_CLK_TCK"), "load_before": list(os.getloadavg())}
    servers = {}
    try:
        for kind in KINDS:
            servers[kind] = start_server(kind)
        for i, name in enumerate(ATTACKS):
            row = {"what": describe(name, s), "order": list(KINDS) if i % 2 == 0 else list(reversed(KINDS))}
            for kind in row["order"]:
                try:
                    row[kind] = attack_once(servers[kind], name, s)
                except (OSError, subprocess.TimeoutExpired) as e:
                    row[kind] = {"error": "%s: %s" % (type(e).__name__, e), "p50_ms": None, "max_ms": None}
            row["met"] = row_met(row)
            data["attacks"][name] = row
            log("redis under attack, %s: probe worst ours %s ms, redis-server %s ms; CPU ours %s ms, redis-server "
                "%s ms" % (name, _fmt(row["elfs"].get("max_ms")), _fmt(row["redis-server"].get("max_ms")),
                           _fmt(row["elfs"].get("cpu_ms"), "%.0f"), _fmt(row["redis-server"].get("cpu_ms"), "%.0f")))
    finally:
        for kind, server in servers.items():
            data.setdefault("exit_codes", {})[kind] = server.stop()
    data["load_after"] = list(os.getloadavg())
    return data


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "probe":
    probe_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
