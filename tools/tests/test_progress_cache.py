"""Tests of tools/progress_cache.py (./tools/progress's memory) and of where progress
points a room that started at a later lesson."""

import io
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import progress_cache  # noqa: E402
import workshop  # noqa: E402
import workshop_common  # noqa: E402

LABEL = "//lessons/01_fd:fd_test"


class CacheTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.bin = os.path.join(self.root, "bazel-bin", "lessons", "01_fd", "fd_test")
        self.lib = os.path.join(self.bin + ".runfiles", "ws", "_solib", "libfd.so")
        self.testing = os.path.join(self.bin + ".runfiles", "ws", "_solib", "libtesting.so")
        os.makedirs(os.path.dirname(self.lib))
        os.makedirs(os.path.join(self.root, "lessons", "01_fd"))
        for path, text in ((self.bin, "binary"), (self.lib, "fd code"), (self.testing, "deadlines"),
                           (os.path.join(self.root, "lessons", "01_fd", "BUILD.bazel"), "lesson()\n"),
                           (os.path.join(self.root, ".bazelrc"), "test --test_output=errors\n")):
            self.write(path, text)
        self.result = workshop_common.TargetResult(LABEL, "FAILED")
        self.result.cases = {"FdTest.B": (False, "still open"), "FdTest.A": (True, "")}

    def tearDown(self):
        shutil.rmtree(self.root)

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)

    def key(self):
        return progress_cache.target_key(LABEL, self.bin, self.root)

    def test_hit_gives_back_the_cases_in_their_order(self):
        self.assertTrue(progress_cache.store(self.root, LABEL, self.key(), self.result))
        hit = progress_cache.load(self.root, LABEL, self.key())
        self.assertIsNotNone(hit)
        self.assertEqual(hit.status, "FAILED")
        self.assertEqual(list(hit.cases.items()), [("FdTest.B", (False, "still open")), ("FdTest.A", (True, ""))])

    def test_any_dependency_edit_is_a_miss(self):
        progress_cache.store(self.root, LABEL, self.key(), self.result)
        for path in (self.bin, self.lib, self.testing, os.path.join(self.root, "lessons", "01_fd", "BUILD.bazel"),
                     os.path.join(self.root, ".bazelrc")):
            with open(path) as f:
                before = f.read()
            self.write(path, before + " edited")
            self.assertIsNone(progress_cache.load(self.root, LABEL, self.key()), path)
            self.write(path, before)
            self.assertIsNotNone(progress_cache.load(self.root, LABEL, self.key()), path)

    def test_a_new_file_in_the_runfiles_is_a_miss(self):
        progress_cache.store(self.root, LABEL, self.key(), self.result)
        self.write(os.path.join(os.path.dirname(self.lib), "libmore.so"), "x")
        self.assertIsNone(progress_cache.load(self.root, LABEL, self.key()))

    def test_corrupt_or_foreign_cache_files_are_ignored(self):
        key = self.key()
        progress_cache.store(self.root, LABEL, key, self.result)
        path = progress_cache._path(self.root, LABEL)
        for junk in ("", "{not json", "[]", '{"version": 1, "key": "%s", "label": "%s"}' % (key, LABEL),
                     '{"version": 1, "key": "%s", "label": "%s", "status": "FAILED", "cases": [[1]]}' % (key, LABEL)):
            self.write(path, junk)
            self.assertIsNone(progress_cache.load(self.root, LABEL, key), junk)

    def test_only_definite_results_are_stored(self):
        for status in ("TIMEOUT", "NO_STATUS", "FAILED_TO_BUILD"):
            r = workshop_common.TargetResult(LABEL, status)
            self.assertFalse(progress_cache.store(self.root, LABEL, self.key(), r), status)
        empty = workshop_common.TargetResult(LABEL, "FAILED")
        self.assertFalse(progress_cache.store(self.root, LABEL, self.key(), empty))
        self.assertIsNone(progress_cache.target_key(LABEL, self.bin + "-missing", self.root))


class StartAnywhereTest(unittest.TestCase):
    def lessons(self, n):
        return [workshop_common.Lesson("%02d" % i, "%02d_l" % i, "Lesson %d" % i, i) for i in range(n)]

    def test_a_room_that_started_at_08_goes_on_to_09(self):
        ls = self.lessons(10)
        statuses = [(l, "done" if l.number == "08" else "not started") for l in ls]
        nxt, earlier = workshop.next_lesson(statuses)
        self.assertEqual(nxt.number, "09")
        self.assertEqual(workshop._ranges([l.number for l in earlier]), "00-07")

    def test_gaps_and_fallbacks(self):
        ls = self.lessons(6)
        st = dict(zip("012345", ["done", "in progress", "not started", "done", "not started", "not started"]))
        nxt, earlier = workshop.next_lesson([(l, st[l.number[1]]) for l in ls])
        self.assertEqual((nxt.number, workshop._ranges([l.number for l in earlier])), ("04", "01-02"))
        nxt, earlier = workshop.next_lesson([(l, "not started") for l in ls])
        self.assertEqual((nxt.number, earlier), ("00", []))
        nxt, earlier = workshop.next_lesson([(l, "done" if l.number == "05" else "in progress") for l in ls])
        self.assertEqual((nxt.number, earlier), ("00", []))
        self.assertEqual(workshop.next_lesson([(l, "done") for l in ls]), (None, []))

    def test_progress_says_which_earlier_lessons_are_open(self):
        ls = self.lessons(10)
        results = {}
        for l in ls:
            label = "//lessons/%s:t" % l.dir
            r = workshop_common.TargetResult(label, "PASSED" if l.number == "08" else "FAILED")
            r.cases = {"S.C": (l.number == "08", "" if l.number == "08" else "TODO(lesson %s)" % l.number)}
            results[label] = r
            l.fails = [("t", "S.C")]
        out = io.StringIO()
        workshop.print_progress(ls, results, out)
        text = out.getvalue()
        self.assertIn("Next: lesson 09", text)
        self.assertIn("->09  Lesson 9", text)
        self.assertIn("Earlier lessons still open: 00-07 (you can come back to them any time)", text)


if __name__ == "__main__":
    unittest.main()
