"""Tests of the pure parts of ./tools/room (tools/room.py) and of the learner's side
(tools/room_client.py): report validation, the token bucket, the room's state and its
file, what the page is told, joining and leaving, and a room that does not answer.
The room served over HTTP and drawn by chromium: tools/tests/room_e2e.py (./tools/check
--only room)."""

import io
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, HERE)

import room  # noqa: E402
import room_client  # noqa: E402
import room_load  # noqa: E402  (tools/tests/room_load.py)
import workshop  # noqa: E402
from workshop_common import TargetResult, UsageError, load_manifest, parse_manifest  # noqa: E402

LESSONS = load_manifest(REPO)


def results_for(lessons, fixed=None, broken=()):
    """Test results of a checkout whose starters fail their listed cases, except the
    first fixed[number] cases of a lesson; lessons in `broken` do not build."""
    fixed = fixed or {}
    results = {}
    for l in lessons:
        for i, (target, case) in enumerate(l.fails):
            label = "//%s:%s" % (l.package, target)
            r = results.setdefault(label, TargetResult(label, "FAILED"))
            if l.number in broken:
                r.status = "FAILED_TO_BUILD"
            r.cases[case] = (i < fixed.get(l.number, 0), "" if i < fixed.get(l.number, 0) else "Expected 1, got 2")
    return results


def report(**changes):
    config = {"code": "ABCDEF", "id": "0123456789abcdef0123456789abcdef", "name": "Ada"}
    r = room_client.build_report(LESSONS, results_for(LESSONS, {"00": 1, "01": 2}), config, now=1000.0)
    r.update(changes)
    return r


class ValidateTest(unittest.TestCase):
    def test_the_learners_report_is_valid_and_names_only_the_case(self):
        clean = room_client.validate_report(report())
        self.assertEqual(clean["name"], "Ada")
        self.assertEqual(clean["lessons"]["00"]["status"], "done")
        one = clean["lessons"]["01"]
        self.assertEqual(one["status"], "in progress")
        self.assertEqual(one["first_failing"], "fd_test " + LESSONS[1].fails[2][1])
        self.assertNotIn("Expected", json.dumps(report()))  # the failure message stays on the laptop
        self.assertIsNone(clean["lessons"]["02"]["first_failing"])  # not started: nothing to name

    def assertBad(self, field, obj):
        with self.assertRaises(room_client.BadReport) as e:
            room_client.validate_report(obj)
        self.assertEqual(e.exception.field, field, str(e.exception))
        self.assertIn("field '%s'" % field, str(e.exception))

    def test_each_wrong_field_is_named(self):
        self.assertBad("(body)", [1, 2])
        self.assertBad("room", report(room=2))
        self.assertBad("id", report(id="not hex"))
        self.assertBad("name", report(name="   "))
        self.assertBad("name", report(name="x" * 41))
        self.assertBad("name", report(name=7))
        self.assertBad("time", report(time="now"))
        self.assertBad("lessons", report(lessons={"00": {}}))
        bad = report()
        bad["lessons"][1]["passed"] = -1
        self.assertBad("lessons[1].passed", bad)
        bad = report()
        bad["lessons"][1]["passed"] = bad["lessons"][1]["total"] + 1
        self.assertBad("lessons[1].passed", bad)
        bad = report()
        bad["lessons"][2]["total"] = True
        self.assertBad("lessons[2].total", bad)
        bad = report()
        bad["lessons"][3]["status"] = "great"
        self.assertBad("lessons[3].status", bad)
        bad = report()
        bad["lessons"][4]["lesson"] = "4"
        self.assertBad("lessons[4].lesson", bad)
        bad = report()
        bad["lessons"][4]["lesson"] = "03"
        self.assertBad("lessons[4].lesson", bad)
        bad = report()
        bad["lessons"][1]["first_failing"] = "x" * 301
        self.assertBad("lessons[1].first_failing", bad)

    def test_names_lose_newlines(self):
        self.assertEqual(room_client.validate_report(report(name=" Ada\n\tL. "))["name"], "Ada L.")


class TokenBucketTest(unittest.TestCase):
    def test_burst_then_rate_per_address(self):
        now = [100.0]
        bucket = room.TokenBucket(rate=2, burst=5, clock=lambda: now[0])
        self.assertEqual([bucket.take("a") for _ in range(6)], [True] * 5 + [False])
        self.assertTrue(bucket.take("b"))  # another address has its own bucket
        now[0] += 0.4  # 0.8 of a token
        self.assertFalse(bucket.take("a"))
        now[0] += 0.2  # 1.2 tokens
        self.assertTrue(bucket.take("a"))
        self.assertFalse(bucket.take("a"))
        now[0] += 1000  # refills to the burst, never beyond
        self.assertEqual([bucket.take("a") for _ in range(6)], [True] * 5 + [False])

    def test_full_buckets_are_forgotten(self):
        now = [0.0]
        bucket = room.TokenBucket(rate=1, burst=2, clock=lambda: now[0])
        for i in range(4097):
            bucket.take("10.0.%d.%d" % (i // 256, i % 256))
        now[0] += 10
        bucket.take("new")
        self.assertLessEqual(len(bucket.buckets), 1)


class RoomTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.path = os.path.join(self.tmp, "room", "state.json")
        self.now = [10000.0]
        self.log = io.StringIO()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def make(self, code="ABCDEF", **kw):
        return room.Room(self.path, LESSONS, code=code, clock=lambda: self.now[0], log=self.log, **kw)

    def file(self):
        with open(self.path) as f:
            return f.read()

    def test_a_report_is_saved_and_a_restart_keeps_everything(self):
        r = self.make()
        self.assertEqual(r.accept(report())[0], 200)
        self.assertEqual(os.listdir(os.path.dirname(self.path)), ["state.json"])  # no temp file left
        again = self.make(code=None)
        self.assertEqual(again.code, "ABCDEF")
        self.assertEqual(again.learners, r.learners)
        self.assertEqual(again.view()["learners"][0]["name"], "Ada")

    def test_bad_reports_change_nothing(self):
        r = self.make()
        r.accept(report())
        before = self.file()
        self.assertEqual(r.accept(report(code="WRONG1", name="Eve"))[0], 403)
        self.assertEqual(r.accept(report(code=None))[0], 400)
        self.assertEqual(r.accept(report(name=""))[0], 400)
        self.assertEqual(r.accept("a string")[0], 400)
        self.assertEqual(self.file(), before)
        self.assertEqual(r.accept(report(code=" abcdef "))[0], 200)  # typed in lower case, with a space

    def test_not_moved_counts_from_the_last_change(self):
        r = self.make(stuck_minutes=10)
        r.accept(report())
        self.now[0] += 9 * 60
        r.accept(report(time=2000.0))  # the same results again: no move
        self.now[0] += 2 * 60
        view = r.view()
        self.assertEqual(view["stuck"], [{"name": "Ada", "lesson": "01", "minutes": 11}])
        self.assertTrue(view["learners"][0]["stuck"])
        changed = report()
        changed["lessons"][1]["passed"] += 1
        r.accept(changed)
        self.assertEqual(r.view()["stuck"], [])

    def test_the_most_shared_failing_case_comes_first(self):
        r = self.make()
        for i, name in enumerate(["Ada", "Bo", "Cy"]):
            r.accept(report(id="%032x" % i, name=name))
        other = report(id="%032x" % 9, name="Di")
        other["lessons"][1].update(status="does not build", passed=0, total=0, first_failing="//lessons/01_fd x")
        r.accept(other)
        hot = r.view()["hot"]
        self.assertEqual((hot[0]["count"], hot[0]["lesson"], hot[0]["names"]), (3, "01", ["Ada", "Bo", "Cy"]))
        self.assertEqual(hot[0]["title"], LESSONS[1].title)
        self.assertEqual((hot[1]["count"], hot[1]["names"]), (1, ["Di"]))
        cells = {c["lesson"]: c["state"] for c in r.view()["learners"][3]["cells"]}
        self.assertEqual((cells["00"], cells["01"], cells["02"]), ("green", "broken", "idle"))

    def test_shown_lessons_and_where_each_learner_is(self):
        r = self.make()
        r.accept(report())
        view = r.view(shown=["00", "06"])
        self.assertEqual([l["number"] for l in view["lessons"]], ["00", "06"])
        self.assertEqual(view["learners"][0]["where"], "06")  # the next after the last green one
        self.assertEqual(r.view()["learners"][0]["where"], "01")

    def test_an_unreadable_state_file_stops_the_room_with_a_message(self):
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            f.write("{half a file")
        with self.assertRaisesRegex(UsageError, "cannot read the room's state .*--state NEW_FILE"):
            self.make()

    def test_a_failed_write_is_reported_with_its_errno_and_kept_in_memory(self):
        r = self.make()
        with open(os.path.join(self.tmp, "a_file"), "w"):
            pass
        r.path = os.path.join(self.tmp, "a_file", "state.json")  # its directory is a file now
        self.assertEqual(r.accept(report())[0], 200)
        self.assertRegex(self.log.getvalue(), r"could not write .*a_file/state.json \((ENOTDIR|EEXIST): ")
        self.assertEqual(self.log.getvalue().count("could not write"), 1)  # said once, not per report
        self.assertEqual(len(r.learners), 1)

    def test_codes_are_unambiguous(self):
        code = room.new_code()
        self.assertEqual(len(code), 6)
        self.assertFalse(set(code) & set("0O1IL"))


class GuideTest(unittest.TestCase):
    def test_the_guide_quotes_the_real_defaults(self):
        with open(os.path.join(REPO, "docs", "facilitator-guide.md")) as f:
            guide = f.read()
        section = guide[guide.index("## Watching the room"):]
        section = section[:section.index("\n## ", 5)]
        with open(room.PAGE) as f:
            page = f.read()
        self.assertIn("setTimeout(poll, 3000)", page)
        for quote in ("refreshes itself every 3 seconds", "port %d" % room.DEFAULT_PORT,
                      "more than 2 seconds" if room_client.TIMEOUT == 2 else "?",
                      "over %d KiB (413)" % (room.MAX_BODY // 1024), "for %d minutes" % room.STUCK_MINUTES,
                      "more than %d requests at once or %d a second" % (room.BURST, room.RATE),
                      "sudo ufw allow %d/tcp" % room.DEFAULT_PORT, "`%s`" % room.DEFAULT_STATE,
                      "reporting every %d seconds for %d seconds" % (room_load.EVERY, room_load.DURATION),
                      "(room.png)", "a made-up room of 14"):
            self.assertIn(quote, " ".join(section.split()))
        self.assertEqual(len(room_client.demo_state(LESSONS, 0)["learners"]), 14)
        self.assertEqual(len(room.new_code()), 6)


class LearnerTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.out = io.StringIO()

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_join_rename_and_leave_keep_the_id(self):
        room_client.configure(self.root, ["192.168.1.5:8642", "k7wq4m"], "Ada", self.out)
        config = room_client.load_config(self.root)
        self.assertEqual((config["url"], config["code"], config["name"]), ("http://192.168.1.5:8642/", "K7WQ4M", "Ada"))
        self.assertRegex(config["id"], r"^[0-9a-f]{32}$")
        room_client.configure(self.root, None, "Ada L.", self.out)
        room_client.configure(self.root, ["off"], None, self.out)
        after = room_client.load_config(self.root)
        self.assertNotIn("url", after)
        self.assertEqual((after["id"], after["name"]), (config["id"], "Ada L."))
        self.assertIn("Left the room at http://192.168.1.5:8642/", self.out.getvalue())

    def test_bad_joins_say_what_is_wrong(self):
        for room_args, name, message in ((["http://x:1/"], "Ada", "URL and its code"),
                                         (["ftp://x/", "ABCD"], "Ada", "not a room URL"),
                                         (["http://x:1/", "AB"], "Ada", "4 to 12 letters"),
                                         (["http://x:1/", "ABCD"], None, "needs --name"),
                                         (None, "Ada", "you have not joined")):
            with self.assertRaisesRegex(UsageError, message):
                room_client.configure(self.root, room_args, name, self.out)

    def test_progress_room_off_runs_no_test(self):
        os.makedirs(os.path.join(self.root, "lessons"))
        with open(os.path.join(self.root, "lessons", "manifest.txt"), "w") as f:
            f.write("lesson 00 00_workflow Workflow\n")
        out = io.StringIO()
        args = workshop.argparse.Namespace(fresh=False, room=["off"], name=None)
        self.assertEqual(workshop.cmd_progress(args, root=self.root, out=out), 0)
        self.assertNotIn("Building", out.getvalue())

    def test_a_silent_room_costs_one_line_and_at_most_two_seconds(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connects, then never answers
        try:
            url = "http://127.0.0.1:%d/" % silent.getsockname()[1]
            room_client.configure(self.root, [url, "ABCDEF"], "Ada", io.StringIO())
            lessons = parse_manifest("lesson 00 00_workflow Workflow\n  fail workflow_test A.B\n")
            start = time.monotonic()
            room_client.after_progress(self.root, lessons, results_for(lessons), self.out)
            self.assertLess(time.monotonic() - start, room_client.TIMEOUT + 0.5)
        finally:
            silent.close()
        lines = self.out.getvalue().strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("Room: not reached (no answer within 2 s)", lines[0])
        self.assertIn("url", room_client.load_config(self.root))  # still joined: the room may come back

    def test_a_closed_port_is_one_line_too(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        status, message = room_client.post_report("http://127.0.0.1:%d/" % port, {})
        self.assertIsNone(status)
        self.assertTrue(message.startswith("ECONNREFUSED: "), message)


if __name__ == "__main__":
    unittest.main()
