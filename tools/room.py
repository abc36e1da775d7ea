#!/usr/bin/env python3
"""./tools/room: the facilitator's view of the room, live.

Serves one page on the workshop network: a row per learner who joined (./tools/progress
--room URL CODE --name NAME), a column per lesson, the failing cases most of the room
shares and who has not moved for a while. Reports arrive at POST /api/report; the page
polls GET /api/room. The room is kept behind one lock and in one JSON file (--state),
replaced atomically after every accepted report. Bad input changes nothing: 403 (code),
413 (over 16 KiB, judged by Content-Length), 400 (naming the field), 429 (a token bucket
per address). The learners' side and the report's shape: room_client.py.
"""

import argparse
import errno
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import room_client  # noqa: E402
from room_client import BadReport, errno_text, validate_report  # noqa: E402
from workshop_common import ROOT, UsageError, load_manifest  # noqa: E402

DEFAULT_PORT = 8642
DEFAULT_STATE = os.path.join(".cache", "room", "state.json")
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector
MAX_BODY = 16 * 1024
MAX_LEARNERS = 200
STUCK_MINUTES = 10  # no change for this long: "not moved" (--stuck-minutes)
RATE, BURST = 3, 30  # per address: 30 requests at once, then 3 a second (--rate, --burst)
PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "room_page.html")


def new_code(n=6):
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(n))


def cell_state(entry):
    """The colour of one grid cell: green, failing, broken (does not build) or idle."""
    status = entry["status"] if entry else "not started"
    return {"done": "green", "in progress": "failing", "does not build": "broken"}.get(status, "idle")


# ---------------------------------------------------------------------------------------
# The room: learners by id, behind one lock, saved after every change.


class TokenBucket:
    """Per-address token buckets: `burst` requests at once, then `rate` per second."""

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self.buckets = {}  # address -> [tokens, last refill]
        self.lock = threading.Lock()

    def take(self, address):
        now = self.clock()
        with self.lock:
            tokens, last = self.buckets.get(address, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            ok = tokens >= 1
            self.buckets[address] = [tokens - 1 if ok else tokens, now]
            if len(self.buckets) > 4096:  # forget the full buckets: they behave like new ones
                full = [a for a, (t, l) in self.buckets.items() if t + (now - l) * self.rate >= self.burst]
                for a in full:
                    del self.buckets[a]
            return ok


class Room:
    def __init__(self, path, lessons, code=None, stuck_minutes=STUCK_MINUTES, clock=time.time, log=sys.stderr):
        self.path, self.lessons, self.clock, self.log = path, lessons, clock, log
        self.stuck_minutes = stuck_minutes
        self.lock = threading.Lock()
        self.learners = {}
        self.code = None
        self.saved_ok = True
        self._load()
        if code:
            self.code = code.upper()
        if not self.code:
            self.code = new_code()
        self.save()

    def _load(self):
        try:
            with open(self.path) as f:
                data = json.load(f)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            raise UsageError("cannot read the room's state %s (%s); move it away or pass --state NEW_FILE"
                             % (self.path, errno_text(e) if isinstance(e, OSError) else e))
        learners = data.get("learners") if isinstance(data, dict) and data.get("version") == 1 else None
        if not isinstance(learners, dict) or not all(
                isinstance(v, dict) and {"name", "lessons", "seen", "changed"} <= set(v) for v in learners.values()):
            raise UsageError("%s is not a room state file (version 1); move it away or pass --state NEW_FILE"
                             % self.path)
        self.code = str(data.get("code") or "") or None
        self.learners = data["learners"]

    def save(self):
        """Writes the state atomically; call with the lock held (or before serving)."""
        data = {"version": 1, "code": self.code, "learners": self.learners}
        tmp = "%s.tmp%d" % (self.path, os.getpid())
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(tmp, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)  # a reader, or a restart, never sees half a file
            if not self.saved_ok:
                self.log.write("room: %s is written again\n" % self.path)
            self.saved_ok = True
        except OSError as e:
            if self.saved_ok:
                self.log.write("room: could not write %s (%s) while saving the room; it is kept in memory "
                               "and saved again after the next report\n" % (self.path, errno_text(e)))
            self.saved_ok = False

    def code_matches(self, code):
        return isinstance(code, str) and hmac.compare_digest(code.strip().upper().encode(), self.code.encode())

    def accept(self, obj):
        """Applies one parsed report. Returns (HTTP status, reply dict); changes nothing
        unless the status is 200."""
        if not isinstance(obj, dict):
            return 400, {"error": "field '(body)': must be a JSON object"}
        if not isinstance(obj.get("code"), str):
            return 400, {"error": "field 'code': must be the room code, a string"}
        if not self.code_matches(obj["code"]):
            return 403, {"error": "wrong room code %r: ask the facilitator for the code on the screen"
                         % obj["code"][:20]}
        try:
            report = validate_report(obj)
        except BadReport as e:
            return 400, {"error": str(e)}
        now = self.clock()
        with self.lock:
            old = self.learners.get(report["id"])
            if old is None and len(self.learners) >= MAX_LEARNERS:
                return 403, {"error": "the room is full (%d learners)" % MAX_LEARNERS}
            moved = old is None or old.get("lessons") != report["lessons"]
            self.learners[report["id"]] = {
                "name": report["name"], "lessons": report["lessons"], "sent": report["time"], "seen": now,
                "changed": now if moved else old.get("changed", now),
                "reports": (old or {}).get("reports", 0) + 1}
            self.save()
            return 200, {"ok": True, "name": report["name"], "learners": len(self.learners)}

    def view(self, shown=None):
        """What the page shows, computed here so that the page's script only draws it."""
        now = self.clock()
        lessons = [l for l in self.lessons if not shown or l.number in shown]
        titles = {l.number: l.title for l in lessons}
        with self.lock:
            learners = [dict(v) for v in self.learners.values()]
        rows, hot, stuck = [], {}, []
        counts = {l.number: {"green": 0, "failing": 0, "broken": 0, "idle": 0} for l in lessons}
        for v in sorted(learners, key=lambda v: (v["name"].lower(), v["name"])):
            cells = []
            for l in lessons:
                entry = v["lessons"].get(l.number)
                state = cell_state(entry)
                counts[l.number][state] += 1
                cells.append({"lesson": l.number, "state": state, "passed": entry["passed"] if entry else 0,
                              "total": entry["total"] if entry else 0,
                              "first_failing": entry["first_failing"] if entry else None})
                if state in ("failing", "broken") and entry["first_failing"]:
                    hot.setdefault((l.number, entry["first_failing"]), []).append(v["name"])
            where = _where(cells)
            still = now - v["changed"]
            is_stuck = bool(where) and still >= self.stuck_minutes * 60
            rows.append({"name": v["name"], "cells": cells, "where": where, "stuck": is_stuck,
                         "still_seconds": round(still), "seen_seconds": round(now - v["seen"])})
            if is_stuck:
                stuck.append({"name": v["name"], "lesson": where, "minutes": int(still // 60)})
        ranked = sorted(hot.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
        return {"now": now, "code": self.code, "stuck_minutes": self.stuck_minutes, "learners": rows,
                "lessons": [{"number": l.number, "title": l.title, "counts": counts[l.number]} for l in lessons],
                "hot": [{"lesson": k[0], "title": titles[k[0]], "case": k[1], "count": len(names),
                         "names": names} for k, names in ranked],
                "stuck": sorted(stuck, key=lambda s: -s["minutes"])}


def _where(cells):
    """The lesson a learner is on: the last failing one, else the first not green after
    the last green one; None when every shown lesson is green."""
    failing = [c["lesson"] for c in cells if c["state"] in ("failing", "broken")]
    if failing:
        return failing[-1]
    green = [i for i, c in enumerate(cells) if c["state"] == "green"]
    rest = [c["lesson"] for c in cells[(green[-1] + 1 if green else 0):] if c["state"] != "green"]
    rest = rest or [c["lesson"] for c in cells if c["state"] != "green"]
    return rest[0] if rest else None


# ---------------------------------------------------------------------------------------
# HTTP.


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the page and ./tools/progress reuse a connection
    timeout = 10  # an idle or trickling connection gives its thread back after 10 s
    server_version = "elfs-room"

    def log_message(self, fmt, *args):  # quiet: the facilitator's terminal shows the URL, not traffic
        pass

    def _send(self, status, body, kind="application/json; charset=utf-8", close=False):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _limited(self):
        if self.server.bucket.take(self.client_address[0]):
            return False
        self._send(429, {"error": "too many requests from %s: slow down" % self.client_address[0]}, close=True)
        return True

    def do_GET(self):
        if self._limited():
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/room":
            self._send(200, dict(self.server.room.view(self.server.shown), join_url=self.server.join_url))
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._send(404, {"error": "no such page: %s (the room is at /)" % path[:100]})

    def do_POST(self):
        if self._limited():
            return
        if self.path.split("?", 1)[0] != "/api/report":
            self._send(404, {"error": "reports go to /api/report"}, close=True)
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            self._send(411, {"error": "a report needs a Content-Length"}, close=True)
            return
        if int(length) > MAX_BODY:
            self._send(413, {"error": "report of %s bytes refused: the limit is %d" % (length.strip(), MAX_BODY)},
                       close=True)
            self._discard_briefly()
            return
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            self._send(400, {"error": "the body ended after %d of %s bytes" % (len(body), length)}, close=True)
            return
        try:
            obj = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self._send(400, {"error": "malformed JSON: %s" % e})
            return
        status, reply = self.server.room.accept(obj)
        self._send(status, reply)

    def _discard_briefly(self):
        # The client may still be sending the body we refused. Closing with unread bytes
        # makes the kernel send a reset, which can destroy the 413 before the client reads
        # it; so stop writing, and throw away at most 1 MiB for at most one second.
        try:
            self.wfile.flush()
            self.connection.shutdown(1)  # SHUT_WR
            self.connection.settimeout(1.0)
            deadline, dropped = time.monotonic() + 1.0, 0
            while dropped < (1 << 20) and time.monotonic() < deadline:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                dropped += len(chunk)
        except OSError:
            pass


class RoomServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, room, bucket, shown=None):
        super().__init__(address, Handler)
        self.room, self.bucket, self.shown = room, bucket, shown
        self.join_url = None  # the URL learners type (serve() sets it)
        with open(PAGE, "rb") as f:
            self.page = f.read()


def local_addresses():
    """This machine's IPv4 addresses that learners can reach (loopback only as a last resort;
    no docker or VM bridges)."""
    found = []
    for cmd in (["ip", "-o", "-4", "addr", "show"], ["ifconfig"]):
        if shutil.which(cmd[0]):
            try:
                text = subprocess.run(cmd, capture_output=True, text=True, timeout=3).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            for line in text.splitlines():
                if re.search(r"\b(docker\d*|br-[0-9a-f]+|veth\w*|virbr\d*)\b", line):
                    continue
                found += re.findall(r"\binet (?:addr:)?(\d+\.\d+\.\d+\.\d+)", line)
            break
    try:
        found += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    outside = [a for i, a in enumerate(found) if not a.startswith("127.") and a not in found[:i]]
    return outside or ["127.0.0.1"]


def serve(args, root=ROOT, out=sys.stdout):
    lessons = load_manifest(root)
    shown = None
    if args.lessons:
        shown = [s.strip().zfill(2) for s in args.lessons.split(",") if s.strip()]
        unknown = sorted(set(shown) - {l.number for l in lessons})
        if unknown:
            raise UsageError("--lessons: no lesson %s in lessons/manifest.txt" % ", ".join(unknown))
    if args.code and not re.fullmatch(r"[A-Za-z0-9]{4,12}", args.code):
        raise UsageError("--code must be 4 to 12 letters or digits")
    state = os.path.join(root, args.state) if not os.path.isabs(args.state) else args.state
    if args.new and os.path.exists(state):
        os.replace(state, state + ".old")
        out.write("The previous room is kept in %s.\n" % (state + ".old"))
    room = Room(state, lessons, code=args.code, stuck_minutes=args.stuck_minutes)
    try:
        server = RoomServer((args.host, args.port), room, TokenBucket(args.rate, args.burst), shown)
    except OSError as e:
        raise UsageError("cannot listen on %s port %d (%s)%s" % (
            args.host, args.port, errno_text(e),
            "; another room running? try --port 0 for any free port" if e.errno == errno.EADDRINUSE else ""))
    port = server.server_address[1]
    # The URLs learners can reach: for 0.0.0.0, every IPv4 address of this machine.
    urls = ["http://%s:%d/" % (a, port) for a in
            (local_addresses() if args.host in ("0.0.0.0", "") else [args.host])]
    server.join_url = args.join_url or urls[0]
    where = os.path.relpath(state, root) if state.startswith(os.path.join(root, "")) else state
    out.write("The room is open. Code: %s\n\n  The page (put it on the projector):\n" % room.code)
    for u in urls:
        out.write("    %s\n" % u)
    out.write("\n  Learners join once, then every ./tools/progress reports:\n"
              "    ./tools/progress --room %s %s --name \"Your Name\"\n\n"
              "  %d learner%s so far; the room is saved in %s\n  Ctrl-C closes the room (a restart keeps it).\n"
              % (server.join_url, room.code, len(room.learners), "" if len(room.learners) == 1 else "s", where))
    out.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        out.write("\nThe room is closed; %s keeps it for the next start.\n" % where)
    finally:
        server.server_close()
    return 0


def main(argv=None, root=ROOT):
    p = argparse.ArgumentParser(prog="tools/room", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0: the whole network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %d; 0: any free one)" % DEFAULT_PORT)
    p.add_argument("--code", help="the room code learners type (default: kept from the state file, or 6 "
                                  "random letters and digits)")
    p.add_argument("--state", default=DEFAULT_STATE, help="the room's JSON file (default %s)" % DEFAULT_STATE)
    p.add_argument("--join-url", help="the URL learners type, when it is not one of this machine's addresses "
                   "(a host name, a forwarded port)")
    p.add_argument("--new", action="store_true", help="start an empty room (the old state file becomes .old)")
    p.add_argument("--stuck-minutes", type=float, default=STUCK_MINUTES, help="a learner whose results have not "
                   "changed for this many minutes is 'not moved' (default %d)" % STUCK_MINUTES)
    p.add_argument("--lessons", help="only these lessons as columns, e.g. 00,06,08,09 (a workshop's path)")
    p.add_argument("--rate", type=float, default=RATE, help="requests per second per address (default %d)" % RATE)
    p.add_argument("--burst", type=float, default=BURST, help="requests at once per address (default %d)" % BURST)
    p.add_argument("--screenshot", metavar="PNG", help="draw a made-up room with headless chromium into PNG "
                   "(docs/room.png for the facilitator guide)")
    args = p.parse_args(argv)
    try:
        if args.screenshot:
            return room_client.screenshot(args.screenshot, root)
        return serve(args, root)
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
