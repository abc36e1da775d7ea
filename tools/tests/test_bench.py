"""Tests of tools/bench.py and tools/bench_page.py: Google Benchmark JSON parsing, ratios
to the baseline, the goals, and the page it writes (no Bazel, no benchmark runs)."""

import json
import os
import shutil
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import bench  # noqa: E402
import bench_page  # noqa: E402
import redis_attacks  # noqa: E402
from test_redis_bench import attacks, memory  # noqa: E402


def bm(name, real, unit="ns", **extra):
    entry = {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
             "threads": 1, "iterations": 1000, "real_time": real, "cpu_time": real / 2, "time_unit": unit}
    entry.update(extra)
    return entry


def agg(name, kind, real, **extra):
    entry = bm(name, real, **extra)
    entry.update({"name": name + "_" + kind, "run_type": "aggregate", "aggregate_name": kind})
    return entry


def doc(*benchmarks, **context):
    ctx = {"date": "2026-12-03", "num_cpus": 2, "library_build_type": "release", "load_avg": [0.1, 0.2, 0.3]}
    ctx.update(context)
    return json.dumps({"context": ctx, "benchmarks": list(benchmarks)})


BINARY = {b.name: b for b in bench_page.BINARIES}


class ParseTest(unittest.TestCase):
    def test_one_run_per_benchmark_with_counters_and_real_time_suffix(self):
        ctx, res = bench.parse_results(doc(
            bm("round_trip/raw_eventfd_epoll/real_time", 2000.0),
            bm("pending_wake/waker/epoll/eventfd", 0.15, unit="us", write_syscalls_per_call=1.0,
               read_syscalls_per_call=0.0)))
        self.assertEqual(ctx["library_build_type"], "release")
        self.assertEqual(sorted(res), ["pending_wake/waker/epoll/eventfd", "round_trip/raw_eventfd_epoll"])
        self.assertAlmostEqual(res["pending_wake/waker/epoll/eventfd"]["ns"], 150.0)
        self.assertEqual(res["pending_wake/waker/epoll/eventfd"]["counters"],
                         {"write_syscalls_per_call": 1.0, "read_syscalls_per_call": 0.0})
        self.assertEqual(res["round_trip/raw_eventfd_epoll"]["counters"], {})
        self.assertIsNone(res["round_trip/raw_eventfd_epoll"]["error"])

    def test_repetitions_keep_the_median_and_its_cv(self):
        name = "round_trip/asio_post/real_time"
        _, res = bench.parse_results(doc(agg(name, "mean", 3000.0), agg(name, "median", 2500.0),
                                         agg(name, "stddev", 400.0), agg(name, "cv", 0.12, aggregate_unit="percentage")))
        self.assertEqual(list(res), ["round_trip/asio_post"])
        self.assertEqual(res["round_trip/asio_post"]["ns"], 2500.0)
        self.assertEqual(res["round_trip/asio_post"]["cv"], 0.12)

    def test_an_error_is_kept_with_its_message(self):
        _, res = bench.parse_results(doc(bm("wait_scaling/epoll/idle:10000", 0.0, error_occurred=True,
                                            error_message="eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) failed: EMFILE")))
        r = res["wait_scaling/epoll/idle:10000"]
        self.assertIn("EMFILE", r["error"])
        self.assertEqual(bench.problems_in(BINARY["wait_scaling"], res),
                         ["wait_scaling: wait_scaling/epoll/idle:10000: "
                          "eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) failed: EMFILE"])

    def test_no_results_is_a_problem(self):
        self.assertEqual(bench.problems_in(BINARY["round_trip"], {}), ["round_trip: no benchmark results"])

    def test_bad_json_raises(self):
        with self.assertRaises(ValueError):
            bench.parse_results("not json")


class RatioTest(unittest.TestCase):
    def results(self, *pairs):
        return {name: {"ns": ns, "counters": {}, "error": None} for name, ns in pairs}

    def test_round_trips_are_divided_by_raw_eventfd_epoll(self):
        res = bench.add_ratios(BINARY["round_trip"], self.results(
            ("round_trip/raw_eventfd_epoll", 2000.0), ("round_trip/waker/epoll/eventfd", 2100.0)))
        self.assertAlmostEqual(res["round_trip/waker/epoll/eventfd"]["ratio"], 1.05)
        self.assertEqual(res["round_trip/raw_eventfd_epoll"]["ratio"], 1.0)
        self.assertEqual(res["round_trip/waker/epoll/eventfd"]["baseline"], "round_trip/raw_eventfd_epoll")

    def test_wait_scaling_is_divided_by_one_idle_of_the_same_backend(self):
        res = bench.add_ratios(BINARY["wait_scaling"], self.results(
            ("wait_scaling/epoll/idle:1", 600.0), ("wait_scaling/epoll/idle:10000", 900.0),
            ("wait_scaling/kqueue/idle:1", 1000.0), ("wait_scaling/kqueue/idle:1000", 1000.0)))
        self.assertAlmostEqual(res["wait_scaling/epoll/idle:10000"]["ratio"], 1.5)
        self.assertAlmostEqual(res["wait_scaling/kqueue/idle:1000"]["ratio"], 1.0)

    def test_no_ratio_without_a_usable_baseline(self):
        res = self.results(("round_trip/waker/epoll/pipe", 3000.0))
        bench.add_ratios(BINARY["round_trip"], res)
        self.assertIsNone(res["round_trip/waker/epoll/pipe"]["ratio"])
        res = self.results(("round_trip/raw_eventfd_epoll", 2000.0), ("round_trip/asio_post", 1.0))
        res["round_trip/raw_eventfd_epoll"]["error"] = "epoll_wait failed: EINTR"
        bench.add_ratios(BINARY["round_trip"], res)
        self.assertIsNone(res["round_trip/asio_post"]["ratio"])
        res = bench.add_ratios(BINARY["many_producers"], self.results(("many_producers/epoll/eventfd/producers:1", 9.0)))
        self.assertIsNone(res["many_producers/epoll/eventfd/producers:1"]["ratio"])


def run_data(load=0.1):
    """A whole ./tools/bench run, as run_suite returns it, from made-up figures."""
    def mode(binary, pairs, counters=None):
        res = {n: {"ns": ns, "cpu_ns": ns, "iterations": 10, "counters": dict(counters or {}), "error": None}
               for n, ns in pairs}
        bench.add_ratios(BINARY[binary], res)
        return res

    rt = [("round_trip/raw_eventfd_epoll", 2000.0), ("round_trip/waker/epoll/eventfd", 2050.0),
          ("round_trip/libuv_async_send", 38000.0), ("round_trip/asio_post_reactor", 2400.0)]
    pw = [("pending_wake/raw_eventfd_write", 140.0), ("pending_wake/waker/epoll/eventfd", 150.0)]
    ws = [("wait_scaling/epoll/idle:1", 600.0), ("wait_scaling/epoll/idle:10000", 660.0)]
    binaries = []
    for name, pairs, counters in (("round_trip", rt, None),
                                  ("pending_wake", pw, {"write_syscalls_per_call": 1.0, "read_syscalls_per_call": 0.0}),
                                  ("wait_scaling", ws, None)):
        runs = {}
        for m, scale in (("pinned", 1.0), ("unpinned", 2.0)):
            runs[m] = {"command": (["taskset", "-c", "1"] if m == "pinned" else []) +
                       ["bazel-bin/tests/benchmarks/" + name, "--benchmark_format=json"],
                       "results": mode(name, [(n, ns * scale) for n, ns in pairs], counters)}
        binaries.append({"name": name, "runs": runs})
    return {"date": "2026-12-03 07:00 UTC", "pin_cpu": "1", "repetitions": 5, "quick": False,
            "build_command": ["bazel", "build", "-c", "opt", "//tests/benchmarks:all"],
            "machine": {"cpu": "Test CPU 3000", "cores": 2, "kernel": "6.1.0", "os": "Debian 12",
                        "load_before": [load, 0.2, 0.3], "load_after": [load, 0.2, 0.3],
                        "library_build_type": "debug"},
            "binaries": binaries}


class PageTest(unittest.TestCase):
    def test_table_shows_pinned_and_unpinned_ns_ratios_and_counters(self):
        data = run_data()
        pw = data["binaries"][1]
        text = bench_page.table(BINARY["pending_wake"], pw["runs"])
        self.assertIn("| benchmark | pinned ns | pinned ratio | unpinned ns | unpinned ratio | "
                      "write_syscalls_per_call (pinned) | write_syscalls_per_call (unpinned) |", text)
        self.assertIn("| `pending_wake/waker/epoll/eventfd` | 150 | 1.07x | 300 | 1.07x | 1.00 | 1.00 | 0 | 0 |", text)

    def test_no_ratio_columns_without_a_baseline_and_cv_when_repeated(self):
        runs = {m: {"results": {"many_producers/epoll/eventfd/producers:8": {
            "ns": 13685.0, "cv": 0.034, "counters": {"wakes_per_sleep": 54.43, "writes_per_wake": 1.0,
                                                    "syscalls_per_wake": 1.04}, "error": None}}}
                for m in ("pinned", "unpinned")}
        text = bench_page.table(BINARY["many_producers"], runs)
        self.assertTrue(text.startswith("| benchmark | pinned ns | unpinned ns | wakes_per_sleep (pinned) |"))
        self.assertIn("| `many_producers/epoll/eventfd/producers:8` | 13,685 ±3% | 13,685 ±3% | 54.43 | 54.43 | "
                      "1.00 | 1.00 | 1.04 | 1.04 |", text)

    def test_a_failed_benchmark_says_so_in_the_table(self):
        data = run_data()
        rt = data["binaries"][0]["runs"]
        rt["unpinned"]["results"]["round_trip/asio_post_reactor"]["error"] = "no pong within 5 s"
        self.assertIn("| `round_trip/asio_post_reactor` | 2,400 | 1.20x | failed: no pong within 5 s | - |",
                      bench_page.table(BINARY["round_trip"], rt))

    def test_page_has_machine_commands_goals_tables_and_plots(self):
        page = bench_page.render_page(run_data(load=1.9), {"round_trip": "benchmarks/round_trip.svg"})
        self.assertIn("| CPU | Test CPU 3000 |", page)
        self.assertIn("| load average (1, 5, 15 min) before | 1.90, 0.20, 0.30 |", page)
        self.assertIn("**The machine was not idle**", page)
        self.assertIn("taskset -c 1 bazel-bin/tests/benchmarks/round_trip --benchmark_format=json\n", page)
        self.assertIn("\nbazel-bin/tests/benchmarks/round_trip --benchmark_format=json\n", page)
        self.assertIn("bazel build -c opt //tests/benchmarks:all", page)
        self.assertIn("![Round trip: thread A wakes B, B wakes A (ns per round trip)](benchmarks/round_trip.svg)", page)
        self.assertIn("- round trip `round_trip/waker/epoll/eventfd`: pinned: <= 1.05x the floor (1.02x), "
                      "<= Asio with its reactor (0.85x), mio: no figure, <= libuv (0.05x);", page)
        self.assertIn("- system calls per wake counted for every round-trip row, pinned and unpinned: "
                      "**not met** (round_trip/raw_eventfd_epoll pinned", page)
        self.assertIn("pinned: 150 ns, 1.00 write syscalls per call: **not met**", page)
        self.assertIn("epoll pinned: the largest ratio to 1 idle is 1.10x (`wait_scaling/epoll/idle:10000`)", page)
        self.assertIn("the median of 5 repetitions", page)

    def test_round_trips_show_what_they_sleep_in_and_their_calls_per_wake(self):
        data = run_data()
        rt = next(b for b in data["binaries"] if b["name"] == "round_trip")
        counted = {"per_wake": {"write": 1.0, "epoll_wait": 1.0}, "sleeps_in": "epoll_wait", "total": 2.0}
        rt["calls"] = {m: {n: dict(counted) for n in rt["runs"][m]["results"]} for m in ("pinned", "unpinned")}
        page = bench_page.render_page(data, {})
        self.assertIn("| `round_trip/raw_eventfd_epoll` | 2,000 | 1.00x | 4,000 | 1.00x | epoll_wait | "
                      "2.00: epoll_wait 1.00, write 1.00 | 2.00 |", page)
        self.assertIn("pinned and unpinned: met (4 rows)", page)

    def test_an_idle_machine_is_not_called_busy(self):
        self.assertNotIn("not idle", bench_page.render_page(run_data(load=0.1), {}))

    def test_a_fast_pending_wake_meets_the_goal(self):
        data = run_data()
        for m in ("pinned", "unpinned"):
            r = data["binaries"][1]["runs"][m]["results"]["pending_wake/waker/epoll/eventfd"]
            r["ns"], r["counters"]["write_syscalls_per_call"] = 12.0, 0.0
        page = bench_page.render_page(data, {})
        self.assertIn("pinned: 12.0 ns, 0 write syscalls per call: met", page)

    def test_write_outputs_puts_json_page_and_plots_where_asked(self):
        tmp = tempfile.mkdtemp()
        try:
            with open(os.devnull, "w") as devnull:
                plots = bench.write_outputs(run_data(), os.path.join(tmp, "b"), os.path.join(tmp, "b.md"),
                                            out=devnull)
            with open(os.path.join(tmp, "b", "results.json")) as f:
                self.assertEqual(json.load(f)["machine"]["cpu"], "Test CPU 3000")
            with open(os.path.join(tmp, "b.md")) as f:
                page = f.read()
            for name in plots:
                self.assertTrue(os.path.isfile(os.path.join(tmp, "b", name + ".svg")))
                self.assertIn("(b/%s.svg)" % name, page)
            if shutil.which("gnuplot"):
                self.assertEqual(sorted(plots), ["pending_wake", "round_trip", "wait_scaling"])
        finally:
            shutil.rmtree(tmp)


def stress(quick=False):
    a = attacks(2.0, 3.0)
    a.update({"sizes": redis_attacks.sizes(quick), "clock_tick_ms": 10.0, "load_before": [1.5, 1.0, 0.5],
              "load_after": [1.75, 1.0, 0.5]})
    return {"memory": memory(), "attacks": a}


class RedisStressPageTest(unittest.TestCase):
    def test_page_has_the_memory_and_attack_sections_and_goals(self):
        data = run_data()
        data["redis_stress"] = stress()
        page = bench_page.render_page(data, {})
        goals = page[page.index("## Goals"):page.index("\n## ", page.index("## Goals") + 1)]
        self.assertIn("- memory per idle connection at most 8 KiB (1,000 connections, VmRSS): ours 0.50 KiB, "
                      "redis-server 9.60 KiB: met", goals)
        self.assertIn("ours 143 B, redis-server 121 B, 1.18x: met", goals)
        self.assertIn("- under attack, the probe's worst latency no worse than redis-server's", goals)
        self.assertIn("## Memory: lesson 12's server against redis-server", page)
        self.assertIn("| ours | 3300 | 3800 | 0.50 | 3300 | 16600 | 143 (95,000 keys) |", page)
        self.assertIn("## Under attack: lesson 12's server against redis-server", page)
        self.assertIn("the load average (1, 5, 15 min) was 1.50, 1.00, 0.50 before the attacks", page)
        self.assertIn("in clock ticks of 10 ms", page)
        self.assertIn("Each attack ran **once** per server, alternating", page)
        self.assertIn("| slowloris: it attacks | 0.20 / 2.00 (90 pings) | 30 | 0.25 / 3.00 (91 pings) | 60 | met |",
                      page)
        self.assertNotIn("--quick", page)
        self.assertLess(page.index("## Under attack"), page.index("## How the syscall counters count"))

    def test_a_quick_page_says_it_is_not_a_measurement(self):
        data = run_data()
        data["quick"] = True
        data["redis_stress"] = stress(quick=True)
        page = bench_page.render_page(data, {})
        self.assertIn("(--quick: tiny sizes, not a measurement.)", page)
        self.assertIn("(--quick: 0.3 s attacks, not a measurement.)", page)

    def test_the_syscall_table_states_its_goal(self):
        data = run_data()
        rows = {t: {"elfs": {"rps": 9.0}, "redis-server": {"rps": 10.0}, "ratio": 0.9} for t in ("GET",)}
        counts = {"reads": 1.0, "writes": 1.0, "waits": 0.05, "all": 2.9}
        data["redis"] = {"goal": 0.9, "clients": 50, "repeats": 3, "requests": {"1": 100, "16": 1000},
                         "commands": [], "modes": {"pinned": {"P1": rows}}, "traced_requests": {"P1": 10},
                         "syscalls": {"P1": {"elfs": dict(counts, all=2.8), "redis-server": counts}}}
        page = bench_page.render_page(data, {})
        self.assertIn("Goal: at -P 1, ours at or below redis-server's in all calls per request (2.80 against\n"
                      "2.90): met.", page)
        self.assertIn("- system calls per request at -P 1 (GET, `strace -c`), ours at or below redis-server's: "
                      "ours 2.80, redis-server 2.90: met", page)

    def test_no_stress_no_sections(self):
        page = bench_page.render_page(run_data(), {})
        self.assertNotIn("## Under attack", page)
        self.assertNotIn("memory per idle connection", page)

    def test_quick_check_verdicts(self):
        self.assertEqual(bench.stress_verdicts(None), [])
        verdicts = bench.stress_verdicts(stress(quick=True))
        self.assertEqual(len(verdicts), 1 + len(redis_attacks.ATTACKS))
        self.assertTrue(all(ok for ok, _ in verdicts), verdicts)
        s = stress(quick=True)
        s["memory"]["keys"]["elfs"]["bytes_per_key"] = None
        s["attacks"]["attacks"]["churn"]["elfs"] = {"error": "OSError: refused", "max_ms": None}
        verdicts = bench.stress_verdicts(s)
        self.assertEqual([ok for ok, _ in verdicts], [False, True, True, True, False])
        self.assertIn("3 of 4 figures", verdicts[0][1])
        self.assertIn("churn: probed on both servers (OSError: refused)", verdicts[-1][1])

    def test_a_not_met_goal_is_not_a_check_failure(self):
        s = stress(quick=True)
        s["attacks"]["attacks"]["slowloris"]["elfs"]["max_ms"] = 50.0
        self.assertTrue(all(ok for ok, _ in bench.stress_verdicts(s)))

    def test_what_only_runs(self):
        everything = ["bazel", "build", "-c", "opt", "//tests/benchmarks:all", "//loop/redis:server"]
        self.assertEqual(bench.plan(None), (everything, True, True))
        self.assertEqual(bench.plan(["redis"]), (everything[:4] + everything[5:], True, True))
        self.assertEqual(bench.plan(["redis-stress"]), (everything[:4] + everything[5:], False, True))
        self.assertEqual(bench.plan(["round_trip"]), (everything[:5], False, False))

if __name__ == "__main__":
    unittest.main()
