"""The room's clients (tools/room.py is the server): the learner's side of ./tools/progress
--room and the report's shape, made-up learners (./tools/room --screenshot PNG,
tools/tests/room_load.py) and headless chromium (the screenshot, tools/tests/room_e2e.py).

What a learner sends, and nothing else: the name they chose, a random id kept in
.cache/room.json, each lesson's passing/total and status, the name of its first failing
test case (only for a lesson in progress) and the time. No code, no failure messages, no
paths. A room that does not answer within 2 seconds costs ./tools/progress one line.
"""

import errno
import http.client
import json
import os
import random
import re
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from workshop_common import UsageError, lesson_status, load_manifest

CONFIG = os.path.join(".cache", "room.json")
TIMEOUT = 2.0  # seconds a progress run may spend on the room, at most
STATUSES = ("done", "not started", "in progress", "does not build", "no tests")
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------
# The learner's side: join, leave, report; and the report's shape, which the room checks.


def errno_text(e):
    """'ECONNREFUSED: Connection refused' for an OSError."""
    name = errno.errorcode.get(e.errno, "errno %s" % e.errno) if e.errno else type(e).__name__
    return "%s: %s" % (name, e.strerror or e)


def load_config(root):
    try:
        with open(os.path.join(root, CONFIG)) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_config(root, data):
    path = os.path.join(root, CONFIG)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(data, f, indent=1)
        os.replace(path + ".tmp", path)
    except OSError as e:
        raise UsageError("could not write %s (%s) while remembering the room" % (CONFIG, errno_text(e)))


def normalize_url(url):
    """'192.168.1.5:8642' -> 'http://192.168.1.5:8642/'; raises UsageError if it is no room URL."""
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError("--room: %r is not a room URL; copy the http://... address the room's screen shows" % url)
    try:
        parts.port
    except ValueError:
        raise UsageError("--room: %r has a bad port number" % url)
    return "http://%s/" % parts.netloc


def configure(root, room, name, out):
    """./tools/progress --room URL CODE [--name NAME], --room off, or --name NAME alone."""
    config = load_config(root)
    if room == ["off"]:
        had = config.pop("url", None)
        config.pop("code", None)
        save_config(root, config)
        out.write("Left the room%s: ./tools/progress sends nothing now.\n" % (" at " + had if had else ""))
        return
    if room is not None and len(room) != 2:
        raise UsageError("--room takes the room's URL and its code (--room http://HOST:PORT/ CODE), or 'off'")
    if name is not None:
        name = " ".join(name.split())
        if not 1 <= len(name) <= 40:
            raise UsageError("--name: 1 to 40 characters, please")
    if room is None:
        if not config.get("url"):
            raise UsageError("--name goes with --room URL CODE (you have not joined a room)")
        config["name"] = name
        save_config(root, config)
        return
    if not (name or config.get("name")):
        raise UsageError("joining a room needs --name NAME: the name the facilitator sees next to your results")
    if not re.fullmatch(r"[A-Za-z0-9]{4,12}", room[1]):
        raise UsageError("--room URL CODE: the code is the 4 to 12 letters and digits on the room's screen, "
                         "got %r" % room[1])
    config.update(url=normalize_url(room[0]), code=room[1].upper(), name=name or config["name"])
    config.setdefault("id", secrets.token_hex(16))
    save_config(root, config)
    out.write("Joined the room at %s as %s: every ./tools/progress now reports your test results there "
              "(--room off leaves).\n" % (config["url"], config["name"]))


def build_report(lessons, results, config, now=None):
    entries = []
    for l in lessons:
        passed, total, status, first = lesson_status(l, results)
        failing = None
        if status == "does not build":
            failing = "//%s does not compile" % l.package
        elif first and status == "in progress":
            failing = first[0].strip().splitlines()[0][:300]  # "fd_test FdTest.Case": the name, not the message
        entries.append({"lesson": l.number, "passed": passed, "total": total, "status": status,
                        "first_failing": failing})
    return {"room": 1, "code": config["code"], "id": config["id"], "name": config["name"],
            "time": round(time.time() if now is None else now, 3), "lessons": entries}


class BadReport(ValueError):
    """A report of the wrong shape; str() names the field."""

    def __init__(self, field, problem):
        super().__init__("field '%s': %s" % (field, problem))
        self.field = field


def _int(value, field, top=100000):
    if type(value) is not int or not 0 <= value <= top:
        raise BadReport(field, "must be a whole number from 0 to %d, got %s" % (top, json.dumps(value)[:40]))
    return value


def _text(value, field, longest):
    if not isinstance(value, str):
        raise BadReport(field, "must be a string, got %s" % json.dumps(value)[:40])
    value = " ".join(value.split())  # no newlines or tabs on the projector
    if not value:
        raise BadReport(field, "must not be empty")
    if len(value) > longest:
        raise BadReport(field, "is longer than %d characters" % longest)
    return value


def validate_report(obj):
    """The cleaned report, or raises BadReport naming the first wrong field.
    (The room checks the code first: tools/room.py, Room.accept.)"""
    if not isinstance(obj, dict):
        raise BadReport("(body)", "must be a JSON object")
    if obj.get("room") != 1:
        raise BadReport("room", "must be 1 (the report format's version)")
    learner_id = obj.get("id")
    if not isinstance(learner_id, str) or not re.fullmatch(r"[0-9a-f]{32}", learner_id):
        raise BadReport("id", "must be 32 lowercase hex digits")
    name = _text(obj.get("name"), "name", 40)
    sent = obj.get("time")
    if type(sent) not in (int, float) or not 0 <= sent < 1e11:
        raise BadReport("time", "must be seconds since 1970")
    lessons = obj.get("lessons")
    if not isinstance(lessons, list) or len(lessons) > 100:
        raise BadReport("lessons", "must be a list of at most 100 lessons")
    clean = {}
    for i, entry in enumerate(lessons):
        where = "lessons[%d]" % i
        if not isinstance(entry, dict):
            raise BadReport(where, "must be an object")
        number = entry.get("lesson")
        if not isinstance(number, str) or not re.fullmatch(r"\d\d", number):
            raise BadReport(where + ".lesson", "must be a two-digit lesson number such as \"09\"")
        if number in clean:
            raise BadReport(where + ".lesson", "lesson %s is listed twice" % number)
        passed, total = _int(entry.get("passed"), where + ".passed"), _int(entry.get("total"), where + ".total")
        if passed > total:
            raise BadReport(where + ".passed", "is more than total (%d > %d)" % (passed, total))
        status = entry.get("status")
        if status not in STATUSES:
            raise BadReport(where + ".status", "must be one of: " + ", ".join(STATUSES))
        failing = entry.get("first_failing")
        if failing is not None:
            failing = _text(failing, where + ".first_failing", 300)
        clean[number] = {"passed": passed, "total": total, "status": status, "first_failing": failing}
    return {"id": learner_id, "name": name, "time": float(sent), "lessons": clean}


def post_report(url, report, timeout=TIMEOUT, source=None):
    """(HTTP status or None, message). Never takes longer than `timeout` seconds in all:
    the request runs on a daemon thread that is abandoned at the deadline."""
    box = {}

    def send():
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request("POST", "/api/report", json.dumps(report), {"Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read(65536)
            try:
                box["reply"] = (r.status, json.loads(body.decode()))
            except ValueError:
                box["reply"] = (r.status, {"error": body[:200].decode("utf-8", "replace")})
        except socket.timeout:
            box["reply"] = (None, {"error": "no answer within %g s" % timeout})
        except OSError as e:
            box["reply"] = (None, {"error": errno_text(e) if e.errno else str(e) or type(e).__name__})
        finally:
            conn.close()

    t = threading.Thread(target=send, daemon=True)
    t.start()
    t.join(timeout)
    if "reply" not in box:
        return None, "no answer within %g s" % timeout
    status, reply = box["reply"]
    return status, reply.get("error") if status != 200 else "ok"


def after_progress(root, lessons, results, out):
    """Called by ./tools/progress after its table: one line, whatever happens."""
    config = load_config(root)
    if not config.get("url"):
        return
    try:
        status, message = post_report(config["url"], build_report(lessons, results, config))
        if status == 200:
            line = "reported to %s as %s." % (config["url"], config["name"])
        elif status == 403 and "code" in (message or ""):
            url = config.pop("url")
            save_config(root, config)
            line = "%s refused the code (%s); you left it. Join again with ./tools/progress --room URL CODE." % (
                url, message)
        else:
            line = "not reached (%s%s); your results above are complete." % (
                message, "" if status is None else ", HTTP %d" % status)
    except Exception as e:  # a bug or a full disk here must never cost the learner their progress table
        line = "not reached (%s: %s); your results above are complete." % (type(e).__name__, e)
    out.write("\nRoom: %s\n" % line)
    out.flush()


# ---------------------------------------------------------------------------------------
# Starting and stopping a room, driving headless chromium.


def start_room(root, extra, timeout=20.0):
    """Starts ./tools/room with extra arguments as a child process; returns (process, URL,
    code) once it prints them, or raises RuntimeError with its output."""
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "room.py")] + list(extra), cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text, deadline = b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            m = re.search(rb"Code: (\w+).*?(http://\S+)", text, re.S)
            if m:
                return proc, m.group(2).decode(), m.group(1).decode()
            if sel.select(max(0.0, deadline - time.monotonic())):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                text += chunk
    stop_room(proc)
    raise RuntimeError("the room did not start within %g s; it said:\n%s" % (timeout, text.decode(errors="replace")))


def stop_room(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def find_chromium():
    names = [os.environ.get("ELFS_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome",
             "google-chrome-stable", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
             "/Applications/Chromium.app/Contents/MacOS/Chromium"]
    for n in names:
        path = n and (shutil.which(n) or (n if os.path.isfile(n) else None))
        if path:
            return path
    return None


def chromium(args, timeout=90.0):
    """Runs headless chromium with a throwaway profile; returns its stdout."""
    exe = find_chromium()
    if not exe:
        raise RuntimeError("chromium is missing: apt-get install chromium (./tools/check installs it), or set "
                           "ELFS_CHROMIUM to a Chrome or Chromium binary")
    with tempfile.TemporaryDirectory(prefix="elfs-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--user-data-dir=" + profile, "--virtual-time-budget=5000"] + list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("chromium exited with %d: %s" % (proc.returncode, proc.stderr[-2000:]))
    return proc.stdout


def dump_dom(url, size=(1600, 900)):
    return chromium(["--window-size=%d,%d" % size, "--dump-dom", url])


def take_screenshot(url, png, size=(1600, 900)):
    chromium(["--window-size=%d,%d" % size, "--screenshot=" + os.path.abspath(png), url])
    if not os.path.isfile(png):
        raise RuntimeError("chromium wrote no screenshot to %s" % png)


# ---------------------------------------------------------------------------------------
# Made-up rooms: the guide's screenshot (--screenshot) and the load run (tools/tests/room_load.py).


NAMES = ["Ada", "Barbara", "Cem", "Dana", "Edsger", "Fatima", "Grace", "Hamid", "Ines", "Jun", "Katherine",
         "Leslie", "Mei", "Niklaus", "Olu", "Priya", "Radia", "Sven", "Tomasz", "Ulla", "Valentina", "Wen",
         "Xiadani", "Yusuf", "Zofia"]


class FakeLearner:
    """A learner who works through the lessons: `lesson` is where they are, `fixed` how
    many of its starter-failing cases they have fixed."""

    def __init__(self, lessons, index, lesson, fixed, name=None, broken=False):
        self.lessons, self.lesson, self.fixed, self.broken = lessons, lesson, fixed, broken
        self.name = name or "%s %d" % (NAMES[index % len(NAMES)], index + 1)
        self.id = "%032x" % (index + 0x5eed)

    def step(self):
        self.fixed += 1
        if self.fixed > len(self.lessons[self.lesson].fails) and self.lesson + 1 < len(self.lessons):
            self.lesson, self.fixed = self.lesson + 1, 0

    def entries(self):
        out = []
        for i, l in enumerate(self.lessons):
            fails = l.fails or [("test", "Lesson.Case")]
            total = sum(l.checkpoints[0][1:3]) if l.checkpoints else len(fails) + 2
            left = 0 if i < self.lesson else len(fails) if i > self.lesson else max(0, len(fails) - self.fixed)
            status = "done" if not left else "in progress" if i == self.lesson and self.fixed else "not started"
            failing = " ".join(fails[len(fails) - left]) if status == "in progress" else None
            if i == self.lesson and self.broken:
                status, total, left, failing = "does not build", 0, 0, "//%s does not compile" % l.package
            out.append({"lesson": l.number, "passed": total - left, "total": total, "status": status,
                        "first_failing": failing})
        return out

    def report(self, code):
        return {"room": 1, "code": code, "id": self.id, "name": self.name, "time": round(time.time(), 3),
                "lessons": self.entries()}


def demo_state(lessons, now):
    """The made-up room of the guide's screenshot: 14 learners an hour into the 4-hour path."""
    rng = random.Random(7)
    spots = [(6, 2), (6, 2), (5, 1), (6, 2), (6, 2), (6, 5), (5, 1), (6, 2), (4, 0), (5, 1), (8, 6), (9, 0),
             (6, 0), (6, 9)]
    learners = {}
    for i, (lesson, fixed) in enumerate(spots):
        f = FakeLearner(lessons, i, lesson, fixed, name=NAMES[i], broken=i == 12)
        entries = {e.pop("lesson"): e for e in f.entries()}
        still = {6: 22 * 60, 8: 14 * 60}.get(i, rng.randrange(20, 400))
        learners[f.id] = {"name": f.name, "lessons": entries, "sent": now - 5, "seen": now - rng.randrange(1, 90),
                          "changed": now - still, "reports": 5 + i}
    return {"version": 1, "code": "K7WQ4M", "learners": learners}


def screenshot(png, root):
    with tempfile.TemporaryDirectory(prefix="elfs-room-shot-") as tmp:
        state = os.path.join(tmp, "state.json")
        with open(state, "w") as f:
            json.dump(demo_state(load_manifest(root), time.time()), f)
        proc, url, _ = start_room(root, ["--host", "127.0.0.1", "--port", "0", "--state", state,
                                         "--join-url", "http://192.168.1.20:8642/"])
        try:
            take_screenshot(url, png)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            sys.stderr.write("error: %s\n" % e)
            return 1
        finally:
            stop_room(proc)
    sys.stdout.write("Wrote %s (a made-up room of 14 learners, drawn by headless chromium at 1600x900).\n"
                     % png)
    return 0
