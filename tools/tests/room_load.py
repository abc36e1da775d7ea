#!/usr/bin/env python3
"""The room under load: N made-up learners report to ./tools/room every few seconds while
the page's JSON is polled, and the latencies of both are printed (p50, p99, max).

    python3 tools/tests/room_load.py [N] [--duration S] [--every S] [--port P]

The room runs as its own process (./tools/room on 127.0.0.1, a temp state file); the
learners are threads of this one, each sending from a loopback address of its own
(127.0.0.2, ...) so that each has its own token bucket, as on a real network. Each report
opens a new connection, as ./tools/progress does; the poller keeps one, as a browser does.
Exit status 0 when every request got 200. Python 3 standard library only.
"""

import argparse
import http.client
import math
import os
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

DURATION, EVERY = 30, 3  # the defaults: seconds to run, seconds between one learner's reports

from room_client import FakeLearner, post_report, start_room, stop_room  # noqa: E402
from workshop_common import load_manifest  # noqa: E402


def percentile(values, q):
    values = sorted(values)
    return values[max(0, math.ceil(q * len(values)) - 1)] if values else float("nan")


def loopback_sources(n):
    """n loopback addresses other than 127.0.0.1, or None where there are none (macOS)."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return ["127.0.%d.%d" % (2 + i // 250, 2 + i % 250) for i in range(n)]
    except OSError:
        return None


def run(n, duration, every, port=0, root=REPO, out=sys.stdout):
    lessons = load_manifest(root)
    sources = loopback_sources(n)
    extra = [] if sources else ["--rate", "1000", "--burst", "1000"]
    if not sources:
        out.write("(No 127.0.0.2 here: all learners share 127.0.0.1, so the room runs with --rate 1000.)\n")
    with tempfile.TemporaryDirectory(prefix="elfs-room-load-") as tmp:
        state = os.path.join(tmp, "state.json")
        proc, url, code = start_room(root, ["--host", "127.0.0.1", "--port", str(port), "--state", state] + extra)
        out.write("%d learners, each reporting every %g s (+-30%%), for %g s; the page: %s\n"
                  % (n, every, duration, url))
        out.flush()
        rng = random.Random(1)
        learners = [FakeLearner(lessons, i, rng.choice([0, 1, 4, 6, 9]), rng.randrange(3)) for i in range(n)]
        posts, gets, stop = [], [], threading.Event()
        t_end = time.monotonic() + duration

        def learner(i):
            me, r = learners[i], random.Random(i)
            if stop.wait(r.uniform(0, every)):
                return
            while time.monotonic() < t_end:
                if r.random() < 0.3:
                    me.step()
                t0 = time.perf_counter()
                status, _ = post_report(url, me.report(code), timeout=5.0, source=sources and sources[i])
                posts.append((time.perf_counter() - t0, status))
                if stop.wait(every * r.uniform(0.7, 1.3)):
                    return

        def page():
            parts = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            while time.monotonic() < t_end:
                t0 = time.perf_counter()
                try:
                    conn.request("GET", "/api/room")
                    r = conn.getresponse()
                    r.read()
                    gets.append((time.perf_counter() - t0, r.status))
                except OSError:
                    gets.append((time.perf_counter() - t0, None))
                    conn.close()
                if stop.wait(0.5):
                    break
            conn.close()

        threads = [threading.Thread(target=learner, args=(i,)) for i in range(n)] + [threading.Thread(target=page)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(duration + 30)
        finally:
            stop.set()
            stop_room(proc)
        size = os.path.getsize(state)
    for what, samples in (("report (POST /api/report)", posts), ("page JSON (GET /api/room)", gets)):
        ms = [s * 1000 for s, _ in samples]
        bad = sum(1 for _, status in samples if status != 200)
        out.write("%-27s %5d requests, %d not 200; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n"
                  % (what, len(samples), bad, percentile(ms, 0.5), percentile(ms, 0.99), max(ms or [0])))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out.write("state file at the end: %d bytes, %d learners; load average %.1f on %d CPUs\n"
              % (size, n, load, os.cpu_count() or 0))
    return 0 if posts and gets and all(s == 200 for _, s in posts + gets) else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("learners", type=int, nargs="?", default=30, help="how many (default 30)")
    p.add_argument("--duration", type=float, default=DURATION, help="seconds to run (default %d)" % DURATION)
    p.add_argument("--every", type=float, default=EVERY, help="seconds between one learner's reports (default %d)"
                   % EVERY)
    p.add_argument("--port", type=int, default=0, help="the room's port (default 0: any free one)")
    args = p.parse_args(argv)
    return run(args.learners, args.duration, args.every, args.port)


if __name__ == "__main__":
    sys.exit(main())
