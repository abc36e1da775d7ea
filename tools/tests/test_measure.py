"""Tests of tools/measure.py: the markers, their lint, and the page it writes."""

import json
import os
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import measure  # noqa: E402


class MarkerTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.root, "docs"))
        os.makedirs(os.path.join(self.root, "lessons", "01_fd"))
        self.write("docs/measurements.json", json.dumps({"first_build": {"text": "62 s", "seconds": 61.9}}))

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w") as f:
            f.write(text)

    def read(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return f.read()

    def test_a_matching_quote_passes(self):
        self.write("README.md", "took <!-- measured:first_build -->62 s<!-- /measured --> here\n")
        self.assertEqual(measure.lint_measured(self.root), [])

    def test_a_stale_quote_names_file_line_and_both_values(self):
        self.write("lessons/01_fd/README.md", "x\ntook <!-- measured:first_build -->28 s<!-- /measured -->\n")
        [problem] = measure.lint_measured(self.root)
        self.assertIn("lessons/01_fd/README.md:2", problem)
        self.assertIn("'28 s'", problem)
        self.assertIn("'62 s'", problem)

    def test_an_unknown_key_is_reported(self):
        self.write("README.md", "<!-- measured:nope -->1 s<!-- /measured -->\n")
        [problem] = measure.lint_measured(self.root)
        self.assertIn("measured:nope is not in", problem)

    def test_a_missing_data_file_is_reported(self):
        os.remove(os.path.join(self.root, "docs", "measurements.json"))
        self.write("README.md", "<!-- measured:first_build -->1 s<!-- /measured -->\n")
        [problem] = measure.lint_measured(self.root)
        self.assertIn("is missing", problem)

    def test_update_docs_rewrites_quotes_and_the_lint_then_passes(self):
        self.write("README.md", "took <!-- measured:first_build -->?<!-- /measured -->\n")
        self.assertEqual(measure.update_docs(self.root), ["README.md"])
        self.assertIn("-->62 s<!--", self.read("README.md"))
        self.assertEqual(measure.lint_measured(self.root), [])


class BenchHeadlineTest(unittest.TestCase):
    def test_pinned_ratios_ns_and_counters_become_quotable_keys(self):
        root = tempfile.mkdtemp()
        os.makedirs(os.path.join(root, "docs", "benchmarks"))
        results = {"binaries": [
            {"name": "round_trip", "runs": {"pinned": {"results": {
                "round_trip/raw_eventfd_epoll": {"ns": 2889.9, "ratio": 1.0, "counters": {}},
                "round_trip/asio_post_reactor": {"ns": 2194.0, "ratio": 0.7591, "counters": {}}}}}},
            {"name": "pending_wake", "runs": {"pinned": {"results": {
                "pending_wake/waker/epoll/eventfd": {"ns": 151.2, "ratio": 0.95,
                                                     "counters": {"write_syscalls_per_call": 1.0}}}}}}]}
        with open(os.path.join(root, "docs", "benchmarks", "results.json"), "w") as f:
            json.dump(results, f)
        with open(os.path.join(root, "docs", "measurements.json"), "w") as f:
            json.dump({}, f)
        got = measure.bench_headlines(root)
        self.assertEqual(got["bench_round_trip_raw_ns"], {"text": "2,890 ns"})
        self.assertEqual(got["bench_round_trip_asio_ratio"], {"text": "0.76x"})
        self.assertEqual(got["bench_pending_wake_waker_writes"], {"text": "1.00"})
        self.assertNotIn("bench_round_trip_libuv_ratio", got)  # not in this run
        with open(os.path.join(root, "README.md"), "w") as f:
            f.write("<!-- measured:bench_round_trip_asio_ratio -->0.76x<!-- /measured -->\n")
        self.assertEqual(measure.lint_measured(root), [])


class MeasuringTest(unittest.TestCase):
    def test_test_seconds_reads_bazels_summary(self):
        out = ("//lessons/09_early_drop:early_drop_test                                  FAILED in 22.6s\n"
               "//lessons/10_fast_waker:fast_waker_test          (cached) PASSED in 0.4s\n")
        self.assertEqual(measure.test_seconds(out, "//lessons/09_early_drop:early_drop_test"), 22.6)
        self.assertEqual(measure.test_seconds(out, "//lessons/10_fast_waker:fast_waker_test"), 0.4)
        self.assertIsNone(measure.test_seconds(out, "//x:y"))

    def test_the_page_states_the_conditions_and_every_figure(self):
        root = tempfile.mkdtemp()
        os.makedirs(os.path.join(root, "docs"))
        data = {"conditions": {"date": "2026-12-03", "cores": 2, "cpu": "Some CPU", "kernel": "6.1", "os": "Debian",
                               "bazel": "bazel 4.2.3", "load_before": 0.1, "load_after": 1.5,
                               "other_bazel_servers": 0},
                "first_build": {"text": "62 s", "seconds": 62.0},
                "first_tsan_09": {"text": "30 s", "seconds": 30.0}}
        measure.write_page(root, data)
        with open(os.path.join(root, "docs", "measurements.md")) as f:
            page = f.read()
        for fragment in ("2 cores (Some CPU)", "Load average 0.10 before", "(idle;", "| `first_build` |",
                         "| 62 s |", "| `first_tsan_09` |", "Generated by `tools/measure`"):
            self.assertIn(fragment, page)

    def test_seconds_are_written_plainly(self):
        self.assertEqual(measure._s(61.6), "62 s")
        self.assertEqual(measure._s(0.93), "0.9 s")


if __name__ == "__main__":
    unittest.main()
