"""Tests of tools/redis_bench.py, redis_memory.py and redis_attacks.py: redis-benchmark's
CSV, strace's summary, /proc's VmRSS and CPU ticks, the probe's latencies, the goal lines
and the tables (no servers, no runs)."""

import os
import socketserver
import sys
import threading
import types
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import redis_attacks  # noqa: E402
import redis_bench  # noqa: E402
import redis_memory  # noqa: E402

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

    def test_syscall_goal_compares_all_calls_at_p1(self):
        d = data(95.0, 100.0)
        self.assertIn("no count", redis_bench.goal_lines(d)[-1])
        d["syscalls"] = {"P1": {"elfs": {"all": 3.01}, "redis-server": {"all": 3.02}},
                         "P16": {"elfs": {"all": 9.0}, "redis-server": {"all": 1.0}}}
        self.assertEqual(redis_bench.syscall_goal(d), (True, 3.01, 3.02))
        self.assertEqual(redis_bench.goal_lines(d)[-1],
                         "- system calls per request at -P 1 (GET, `strace -c`), ours at or below "
                         "redis-server's: ours 3.01, redis-server 3.02: met")
        d["syscalls"]["P1"]["elfs"]["all"] = 3.5
        self.assertTrue(redis_bench.goal_lines(d)[-1].endswith("ours 3.50, redis-server 3.02: **not met**"))
        del d["syscalls"]["P1"]["redis-server"]
        self.assertIsNone(redis_bench.syscall_goal(d))


STATUS = """Name:\tredis-server
VmPeak:\t  160000 kB
VmRSS:\t   12156 kB
RssAnon:\t    3000 kB
"""


def memory(ours_idle=0.5, theirs_idle=9.6, ours_key=143.0, theirs_key=121.0):
    return {"idle_goal_kib": 8.0, "key_goal_ratio": 1.5,
            "idle": {"connections": 1000,
                     "elfs": {"rss_before_kib": 3300, "rss_after_kib": 3800, "kib_per_connection": ours_idle},
                     "redis-server": {"rss_before_kib": 12156, "rss_after_kib": 21756,
                                      "kib_per_connection": theirs_idle}},
            "keys": {"command": "redis-benchmark -t set", "elfs": {"rss_before_kib": 3300, "rss_after_kib": 16600,
                                                                    "keys": 95000, "bytes_per_key": ours_key},
                     "redis-server": {"rss_before_kib": 12000, "rss_after_kib": 23000, "keys": 95123,
                                      "bytes_per_key": theirs_key}}}


class MemoryTest(unittest.TestCase):
    def test_vmrss(self):
        self.assertEqual(redis_memory.parse_vmrss(STATUS), 12156)
        self.assertIsNone(redis_memory.parse_vmrss("Name:\tzombie\n"))

    def test_growth_per_thing(self):
        self.assertAlmostEqual(redis_memory.kib_per(3300, 3900, 1000), 0.6)
        self.assertAlmostEqual(redis_memory.kib_per(3300, 3200, 100), -1.0)  # RSS may shrink: said as it is
        self.assertIsNone(redis_memory.kib_per(3300, 3900, 0))
        self.assertIsNone(redis_memory.kib_per(None, 3900, 10))

    def test_dbsize(self):
        self.assertEqual(redis_memory.parse_dbsize("(integer) 95123\n"), 95123)
        self.assertEqual(redis_memory.parse_dbsize("95123\n"), 95123)
        self.assertIsNone(redis_memory.parse_dbsize("Could not connect to Redis\n"))

    def test_goals_met(self):
        self.assertEqual(redis_memory.idle_goal(memory()), (True, 0.5))
        met, ratio = redis_memory.key_goal(memory())
        self.assertTrue(met)
        self.assertAlmostEqual(ratio, 143.0 / 121.0)
        lines = redis_memory.goal_lines(memory())
        self.assertEqual(lines[0], "- memory per idle connection at most 8 KiB (1,000 connections, VmRSS): "
                                   "ours 0.50 KiB, redis-server 9.60 KiB: met")
        self.assertTrue(lines[1].endswith("ours 143 B, redis-server 121 B, 1.18x: met"), lines[1])

    def test_goals_not_met_and_missing(self):
        lines = redis_memory.goal_lines(memory(ours_idle=8.5, ours_key=190.0))
        self.assertTrue(lines[0].endswith("ours 8.50 KiB, redis-server 9.60 KiB: **not met**"), lines[0])
        self.assertTrue(lines[1].endswith("1.57x: **not met**"), lines[1])
        self.assertTrue(redis_memory.idle_goal(memory(ours_idle=8.0))[0])  # "at most": 8.0 meets it
        empty = {"idle": {"connections": 50}, "keys": {}}
        self.assertEqual([line.endswith("no figure") for line in redis_memory.goal_lines(empty)], [True, True])

    def test_table(self):
        lines = redis_memory.table_lines(memory())
        self.assertIn("with 1,000 idle connections (KiB)", lines[0])
        self.assertEqual(lines[2], "| ours | 3300 | 3800 | 0.50 | 3300 | 16600 | 143 (95,000 keys) |")
        self.assertEqual(lines[3], "| redis-server | 12156 | 21756 | 9.60 | 12000 | 23000 | 121 (95,123 keys) |")
        self.assertEqual(redis_memory.table_lines({})[2], "| ours | - | - | - | - | - | - |")

    def test_the_key_command_is_the_briefs(self):
        self.assertEqual(" ".join(redis_memory.key_command(100000, 300000)),
                         "redis-benchmark -h 127.0.0.1 -p PORT -t set -r 100000 -n 300000 -d 8 -q")


def attacks(ours_worst=2.0, theirs_worst=3.0):
    rows = {}
    for name in redis_attacks.ATTACKS:
        rows[name] = {"what": "it attacks",
                      "elfs": {"pings": 90, "p50_ms": 0.2, "max_ms": ours_worst, "cpu_ms": 30.0},
                      "redis-server": {"pings": 91, "p50_ms": 0.25, "max_ms": theirs_worst, "cpu_ms": 60.0}}
    return {"sizes": redis_attacks.sizes(False), "probe_pause_ms": 10.0, "attacks": rows}


class AttacksTest(unittest.TestCase):
    def test_cpu_ticks_with_a_hostile_comm(self):
        stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1164 0 0 0 123 45 0 0 20 0 3 0 99 1 2"
        self.assertEqual(redis_attacks.parse_cpu_ticks(stat), 168)
        with open("/proc/self/stat") as f:
            self.assertGreaterEqual(redis_attacks.parse_cpu_ticks(f.read()), 0)

    def test_latency_summary(self):
        got = redis_attacks.latency_summary([0.001, 0.0002, 0.0003, 0.05])
        self.assertEqual(got["pings"], 4)
        self.assertAlmostEqual(got["p50_ms"], 0.65)
        self.assertAlmostEqual(got["max_ms"], 50.0)
        self.assertEqual(redis_attacks.latency_summary([]), {"pings": 0, "p50_ms": None, "max_ms": None})

    def test_huge_request_is_one_multibulk(self):
        req = redis_attacks.huge_request(200000)
        self.assertTrue(req.startswith(b"*200000\r\n$3\r\nDEL\r\n$1\r\nk\r\n"))
        self.assertEqual(req.count(b"$1\r\nk\r\n"), 199999)
        self.assertEqual(len(req), len(b"*200000\r\n$3\r\nDEL\r\n") + 7 * 199999)

    def test_sizes_are_the_briefs_and_quick_is_tiny(self):
        full, quick = redis_attacks.sizes(False), redis_attacks.sizes(True)
        self.assertEqual((full["slowloris_conns"], full["never_reads_replies"], full["huge_args"],
                          full["churn_conns"], full["seconds"]), (500, 64, 200000, 2000, 1.0))
        for key in full:
            self.assertLess(quick[key], full[key], key)
        self.assertIn("500 connections each send one byte", redis_attacks.describe("slowloris", full))
        self.assertIn("199,999 one-byte keys", redis_attacks.describe("huge_request", full))

    def test_met_when_ours_worst_is_no_worse(self):
        row = attacks(2.0, 3.0)["attacks"]["churn"]
        self.assertTrue(redis_attacks.row_met(row))
        row["elfs"]["max_ms"] = 3.0
        self.assertTrue(redis_attacks.row_met(row))
        row["elfs"]["max_ms"] = 3.01
        self.assertFalse(redis_attacks.row_met(row))
        row["elfs"] = {"error": "OSError: refused", "max_ms": None}
        self.assertIsNone(redis_attacks.row_met(row))
        row["elfs"] = {"error": "OSError: the huge DEL got b''", "max_ms": 0.1, "p50_ms": 0.1, "pings": 9}
        self.assertIsNone(redis_attacks.row_met(row))  # a failed attack meets nothing

    def test_table_and_goal_line(self):
        d = attacks(2.0, 3.0)
        d["attacks"]["never_reads"]["elfs"]["max_ms"] = 7.5
        lines = redis_attacks.table_lines(d)
        self.assertEqual(len(lines), 2 + len(redis_attacks.ATTACKS))
        self.assertEqual(lines[2], "| slowloris: it attacks | 0.20 / 2.00 (90 pings) | 30 | 0.25 / 3.00 (91 pings) "
                                   "| 60 | met |")
        self.assertTrue(lines[3].endswith("| **not met** |"), lines[3])
        goal = redis_attacks.goal_lines(d)
        self.assertEqual(len(goal), 1)
        self.assertIn("slowloris met (2.00 vs 3.00 ms); never reads **not met** (7.50 vs 3.00 ms)", goal[0])
        self.assertIn("one run each, alternating", goal[0])
        d["attacks"]["churn"]["redis-server"] = {"error": "probe: PING got b''", "max_ms": None}
        self.assertIn("failed: probe: PING got b''", redis_attacks.table_lines(d)[5])
        self.assertIn("churn no figure", redis_attacks.goal_lines(d)[0])
        self.assertEqual(redis_attacks.goal_lines({"attacks": {}}), [])


class PongHandler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            if line.strip().upper() == b"PING":
                self.wfile.write(b"+PONG\r\n")


class PongServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64


class ProbeTest(unittest.TestCase):
    """The probe process and one attack, against a Python PING server (no Redis)."""

    def test_churn_with_the_probe(self):
        with PongServer(("127.0.0.1", 0), PongHandler) as fake:
            threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            server = types.SimpleNamespace(port=fake.server_address[1], proc=types.SimpleNamespace(pid=os.getpid()))
            sizes = dict(redis_attacks.sizes(True), churn_conns=20)
            try:
                got = redis_attacks.attack_once(server, "churn", sizes)
            finally:
                fake.shutdown()
        self.assertNotIn("error", got)
        self.assertEqual(got["detail"], {"connections": 20})
        self.assertGreaterEqual(got["pings"], 1)
        self.assertLessEqual(got["p50_ms"], got["max_ms"])
        self.assertGreaterEqual(got["cpu_ms"], 0)


if __name__ == "__main__":
    unittest.main()
