"""./tools/room end to end, as the people in the room see it (./tools/check --only room).

A room on 127.0.0.1 (port 0, a temp state file that already holds one learner who has not
moved for 30 minutes) gets reports from four learners through the learner's own code
(room_client.configure, build_report, after_progress), then bad reports (a wrong code, a
body over 16 KiB, malformed JSON, a wrong shape, a flood from one address), each answered
with its status and leaving the state file byte for byte as it was. Then headless
chromium opens the page: its DOM must show the grid, the shared failing case and who has
not moved, and it takes a screenshot (kept under the temp directory; nothing is compared
pixel by pixel). A restart on the same state file keeps the learners and the code.

Every wait is bounded: the room starts within 20 s, each request has a 5 s timeout, each
chromium run 90 s. Needs chromium (apt-get install chromium; ./tools/check installs it)."""

import html.parser
import http.client
import io
import json
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, HERE)

import room_client  # noqa: E402
from room_load import loopback_sources  # noqa: E402
from test_room import results_for  # noqa: E402
from workshop_common import load_manifest  # noqa: E402

LESSONS = load_manifest(REPO)
CODE = "E2E7QK"
# Grace has been on lesson 02 for 30 minutes when the room starts.
GRACE = {"name": "Grace", "sent": 0, "reports": 3, "lessons": {
    "02": {"passed": 1, "total": 9, "status": "in progress", "first_failing": "raw_epoll_test Epoll.Case"}}}


def request(url, method="GET", path="/api/room", body=None, headers=None, source=None):
    """(status, parsed JSON or text) of one request from `source` (an address to send from)."""
    parts = url.split("//", 1)[1].strip("/").split(":")
    conn = http.client.HTTPConnection(parts[0], int(parts[1]), timeout=5,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body, headers or {})
        r = conn.getresponse()
        text = r.read().decode()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text
    finally:
        conn.close()


class Page(html.parser.HTMLParser):
    """The parts of the page's DOM the test reads: each element's id/class and its text."""

    def __init__(self, text):
        super().__init__()
        self.stack, self.rows, self.ids = [], [], {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append([tag, a.get("id"), a.get("class") or "", ""])
        if tag == "tr" and "learner" in (a.get("class") or ""):
            self.rows.append({"class": a["class"], "cells": []})

    def handle_data(self, data):
        for e in self.stack:
            e[3] += data

    def handle_endtag(self, tag):
        while self.stack:
            t, ident, cls, text = self.stack.pop()
            if ident:
                self.ids[ident] = text
            if t == "td" and self.rows and any(e[0] == "tr" for e in self.stack):
                self.rows[-1]["cells"].append((cls, text))
            if t == tag:
                break


class RoomEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="elfs-room-e2e-")
        cls.state = os.path.join(cls.tmp, "state.json")
        now = time.time()
        with open(cls.state, "w") as f:
            json.dump({"version": 1, "code": CODE, "learners": {
                "%032x" % 0xe2e: dict(GRACE, seen=now - 60, changed=now - 30 * 60)}}, f)
        cls.proc, cls.url, code = room_client.start_room(REPO, ["--host", "127.0.0.1", "--port", "0", "--state",
                                                                cls.state, "--rate", "5", "--burst", "40"])
        assert code == CODE, code
        cls.lines = {}
        # Ada, Bo and Cy fixed the first case of lesson 01 and share the second; Di's lesson
        # 01 does not build. Each joins in a checkout of their own, as ./tools/progress does.
        for name, fixed, broken in (("Ada", {"00": 1, "01": 1}, ()), ("Bo", {"00": 1, "01": 1}, ()),
                                    ("Cy", {"00": 1, "01": 1}, ()), ("Di", {"00": 1}, ("01",))):
            root = os.path.join(cls.tmp, name)
            room_client.configure(root, [cls.url, CODE.lower()], name, io.StringIO())
            out = io.StringIO()
            room_client.after_progress(root, LESSONS, results_for(LESSONS, fixed, broken), out)
            cls.lines[name] = out.getvalue()

    @classmethod
    def tearDownClass(cls):
        room_client.stop_room(cls.proc)
        shutil.rmtree(cls.tmp)

    def state_bytes(self):
        with open(self.state, "rb") as f:
            return f.read()

    def refused(self, expect, *args, **kw):
        before = self.state_bytes()
        status, reply = request(self.url, *args, **kw)
        self.assertEqual(status, expect, reply)
        self.assertEqual(self.state_bytes(), before, "a refused report changed the state file")
        return reply["error"]

    def report(self, **changes):
        r = room_client.build_report(LESSONS, results_for(LESSONS), {"code": CODE, "id": "f" * 32, "name": "Eve"})
        r.update(changes)
        return json.dumps(r)

    def test_learners_are_told_in_one_line(self):
        for name in ("Ada", "Bo", "Cy", "Di"):
            self.assertEqual(self.lines[name], "\nRoom: reported to %s as %s.\n" % (self.url, name))

    def test_the_room_json_has_everyone(self):
        status, view = request(self.url)
        self.assertEqual(status, 200)
        self.assertEqual([r["name"] for r in view["learners"]], ["Ada", "Bo", "Cy", "Di", "Grace"])
        self.assertEqual((view["hot"][0]["count"], view["hot"][0]["lesson"]), (3, "01"))
        self.assertEqual(view["stuck"], [{"name": "Grace", "lesson": "02", "minutes": 30}])

    def test_a_wrong_code_is_403(self):
        error = self.refused(403, "POST", "/api/report", self.report(code="WRONG9"))
        self.assertIn("wrong room code 'WRONG9'", error)

    def test_a_body_declared_too_big_is_refused_before_it_is_sent(self):
        with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1].strip("/"))), timeout=5) as s:
            s.sendall(b"POST /api/report HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
            reply = b""  # no byte of the body is sent, and yet the whole answer comes, then the end
            for chunk in iter(lambda: s.recv(4096), b""):
                reply += chunk
            reply = reply.decode()
        self.assertTrue(reply.startswith("HTTP/1.1 413 "), reply)
        self.assertIn("the limit is 16384", reply)

    def test_a_body_over_16_kib_is_413(self):
        error = self.refused(413, "POST", "/api/report", self.report(name="x" * 20000))
        self.assertIn("refused", error)

    def test_malformed_json_is_400(self):
        error = self.refused(400, "POST", "/api/report", '{"code": "%s", "lessons": [' % CODE)
        self.assertIn("malformed JSON", error)

    def test_a_wrong_shape_is_400_naming_the_field(self):
        report = json.loads(self.report())
        report["lessons"][3]["passed"] = "all"
        error = self.refused(400, "POST", "/api/report", json.dumps(report))
        self.assertIn("field 'lessons[3].passed'", error)

    def test_the_page_in_chromium(self):
        page = Page(room_client.dump_dom(self.url))
        rows = {re.match(r"[A-Za-z]+", r["cells"][0][1]).group(0): r for r in page.rows}
        self.assertEqual(sorted(rows), ["Ada", "Bo", "Cy", "Di", "Grace"], page.rows)
        ada = rows["Ada"]["cells"][1:]
        self.assertEqual(len(ada), len(LESSONS))
        self.assertEqual(ada[0], ("green", "\u2713"))
        self.assertEqual(ada[1], ("failing here", "1/%d" % len(LESSONS[1].fails)))
        self.assertEqual(ada[2][0], "idle")
        self.assertEqual(rows["Di"]["cells"][2], ("broken here", "build \u2717"))
        self.assertIn("stuck", rows["Grace"]["class"])
        self.assertIn("30 min", rows["Grace"]["cells"][0][1])
        hot = page.ids["hotlist"]
        self.assertIn("3 of 5", hot)
        self.assertIn("lesson 01, " + LESSONS[1].title, hot)
        self.assertIn("fd_test " + LESSONS[1].fails[1][1], hot)
        self.assertIn("Ada, Bo, Cy", hot)
        self.assertIn("Grace: lesson 02, 30 min", page.ids["stucklist"])
        self.assertEqual(page.ids["joincmd"], './tools/progress --room %s %s --name "Your Name"' % (self.url, CODE))
        self.assertTrue(page.ids["status"].startswith("updated"), page.ids["status"])  # it polled /api/room

    def test_the_screenshot(self):
        png = os.path.join(self.tmp, "room.png")
        room_client.take_screenshot(self.url, png)
        with open(png, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(struct.unpack(">II", head[16:24]), (1600, 900))

    def test_z_a_flood_from_one_address_is_429_and_others_are_served(self):
        # Sorted last: on a machine with only 127.0.0.1 the flood empties the bucket of
        # the address every other test uses. Wrong codes: what the bucket lets through is
        # refused too, so the state file must not change at all.
        flooder = (loopback_sources(1) or [None])[0]
        before = self.state_bytes()
        flood = self.report(code="FLOOD0")
        statuses = [request(self.url, "POST", "/api/report", flood, source=flooder)[0] for _ in range(60)]
        self.assertLessEqual(set(statuses), {403, 429})
        self.assertGreaterEqual(statuses.count(429), 10, statuses)  # a burst of 40, then 5 a second
        self.assertEqual(statuses[-1], 429)
        self.assertEqual(self.state_bytes(), before)
        if flooder:
            self.assertEqual(request(self.url)[0], 200)  # 127.0.0.1 has a bucket of its own


class RoomRestart(unittest.TestCase):
    def test_a_restart_keeps_the_learners_and_the_code(self):
        tmp = tempfile.mkdtemp(prefix="elfs-room-restart-")
        state = os.path.join(tmp, "state.json")
        try:
            proc, url, code = room_client.start_room(REPO, ["--host", "127.0.0.1", "--port", "0", "--state", state])
            try:
                root = os.path.join(tmp, "ada")
                room_client.configure(root, [url, code], "Ada", io.StringIO())
                room_client.after_progress(root, LESSONS, results_for(LESSONS, {"00": 1}), io.StringIO())
                before = request(url)[1]
            finally:
                room_client.stop_room(proc)
            proc, url2, code2 = room_client.start_room(REPO, ["--host", "127.0.0.1", "--port", "0", "--state", state])
            try:
                self.assertEqual(code2, code)
                after = request(url2)[1]
                self.assertEqual([r["cells"] for r in after["learners"]], [r["cells"] for r in before["learners"]])
                self.assertEqual(after["learners"][0]["name"], "Ada")
                config = room_client.load_config(root)
                config["url"] = url2  # the new port; a real room keeps its port
                room_client.save_config(root, config)
                out = io.StringIO()
                room_client.after_progress(root, LESSONS, results_for(LESSONS, {"00": 1, "01": 3}), out)
                self.assertIn("Room: reported", out.getvalue())
                self.assertEqual(len(request(url2)[1]["learners"]), 1)  # the same learner, not a new one
            finally:
                room_client.stop_room(proc)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
