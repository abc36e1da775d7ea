"""Tests of tools/syscall_count.py: strace's summary parsed, calls per iteration by
difference, and what a row sleeps in."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import syscall_count  # noqa: E402

SUMMARY = """syscall              calls     seconds
---------------- --------- -----------
epoll_wait            2003    0.299543
futex                 2885    0.211234
epoll_ctl             2020    0.181436
close                   51    0.000930
---------------- --------- -----------
total                 6959    0.693143
"""


class ParseTest(unittest.TestCase):
    def test_calls_and_seconds(self):
        self.assertEqual(syscall_count.parse_strace_summary(SUMMARY),
                         {"epoll_wait": 2003, "futex": 2885, "epoll_ctl": 2020, "close": 51})
        secs = syscall_count.parse_strace_seconds(SUMMARY)
        self.assertAlmostEqual(secs["epoll_wait"], 0.299543)
        self.assertNotIn("total", secs)

    def test_sleeps_in_is_the_longest_blocking_call_not_the_most_frequent(self):
        secs = syscall_count.parse_strace_seconds(SUMMARY)
        self.assertEqual(syscall_count.sleeps_in(secs), "epoll_wait")
        self.assertIsNone(syscall_count.sleeps_in({"write": 1.0}))


class PerIterationTest(unittest.TestCase):
    def test_setup_calls_drop_out(self):
        setup = {"openat": 40, "write": 3}
        runs = {}

        def fake_count(argv, env=None, timeout=300):
            n = int(env["N"])
            runs[n] = True
            calls = dict(setup)
            calls["write"] += 2 * n
            calls["epoll_wait"] = 2 * n
            return calls, {"epoll_wait": 0.001 * n}

        real = syscall_count.count
        syscall_count.count = fake_count
        try:
            calls, secs = syscall_count.per_iteration(lambda n: (["x"], {"N": str(n)}), 10, 30)
        finally:
            syscall_count.count = real
        self.assertEqual(sorted(runs), [10, 30])
        self.assertEqual(calls, {"write": 2.0, "epoll_wait": 2.0})
        self.assertAlmostEqual(secs["epoll_wait"], 0.03)

    def test_counts_must_differ(self):
        with self.assertRaises(ValueError):
            syscall_count.per_iteration(lambda n: ([], None), 5, 5)

    def test_summary_and_total_leave_out_noise(self):
        per_wake = {"write": 1.0, "epoll_wait": 1.0, "futex": 0.01}
        self.assertEqual(syscall_count.summary(per_wake), "epoll_wait 1.00, write 1.00")
        self.assertEqual(syscall_count.total(per_wake), 2.0)


if __name__ == "__main__":
    unittest.main()
