"""Tests of tools/redis_bench.py: redis-benchmark's CSV, strace's summary, the goal lines
and the tables (no servers, no runs)."""

import os
import sys
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import redis_bench  # noqa: E402

CSV = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"PING_INLINE","90909.09","0.291","0.032","0.231","0.887","1.087","2.855"
"PING_MBULK","142857.14","0.197","0.048","0.191","0.271","0.303","0.375"
'''

STRACE = '''syscall              calls    errors
---------------- --------- ---------
write                20001
read                 20090
epoll_wait             416
accept4                 53         2
---------------- --------- ---------
total                40560         2
'''


def data(ours, theirs):
    rows = {t: {"elfs": {"rps": ours}, "redis-server": {"rps": theirs}, "ratio": ours / theirs}
            for t in redis_bench.TESTS}
    return {"goal": 0.9, "modes": {"pinned": {"P1": rows, "P16": rows}}}


class RedisBenchTest(unittest.TestCase):
    def test_csv(self):
        got = redis_bench.parse_csv(CSV)
        self.assertEqual(sorted(got), ["PING_INLINE", "PING_MBULK"])
        self.assertAlmostEqual(got["PING_MBULK"]["rps"], 142857.14)
        self.assertAlmostEqual(got["PING_INLINE"]["p50_ms"], 0.231)

    def test_strace_summary(self):
        calls = redis_bench.parse_strace_summary(STRACE)
        self.assertEqual(calls, {"write": 20001, "read": 20090, "epoll_wait": 416, "accept4": 53})

    def test_goal_met_and_not_met(self):
        self.assertIn("met", redis_bench.goal_lines(data(95.0, 100.0))[0])
        self.assertNotIn("not met", redis_bench.goal_lines(data(95.0, 100.0))[0])
        self.assertIn("**not met**", redis_bench.goal_lines(data(80.0, 100.0))[0])

    def test_table_rows(self):
        table = redis_bench.table(data(95.0, 100.0))
        self.assertEqual(len(table.splitlines()), 2 + 2 * len(redis_bench.TESTS))
        self.assertIn("| GET | 16 | pinned | 95 | 100 | 0.95x |", table)

    def test_the_server_is_the_librarys_binary(self):
        package, name = redis_bench.SERVER_TARGET[2:].split(":")
        self.assertEqual(redis_bench.SERVER_BIN, os.path.join(package, name))
        self.assertTrue(os.path.isfile(os.path.join(REPO, package, "BUILD.bazel")), redis_bench.SERVER_TARGET)


if __name__ == "__main__":
    unittest.main()
