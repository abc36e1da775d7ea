"""Tests of tools/mio_peer.py: the subcommands per binary, the rows parsed like the C++
ones, the page's notes, the skip path without cargo or mio, and the check of a quoted
early-drop block. One test builds and runs the real program, when cargo and Debian's
mio are installed (a few seconds the first time)."""

import json
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import bench_page  # noqa: E402
import mio_peer  # noqa: E402
from test_bench import run_data  # noqa: E402


def program_json(name, runs, **counters):
    """What mio_peer prints: one iteration run, or the four aggregates of several."""
    base = {"run_name": name, "threads": 1, "time_unit": "ns"}
    if len(runs) == 1:
        entry = dict(base, name=name, run_type="iteration", repetitions=1, repetition_index=0, iterations=1000,
                     real_time=runs[0], cpu_time=runs[0] / 3, **counters)
        benchmarks = [entry]
    else:
        benchmarks = []
        for kind, value in (("mean", sum(runs) / len(runs)), ("median", sorted(runs)[len(runs) // 2]),
                            ("stddev", 1.0), ("cv", 0.04)):
            benchmarks.append(dict(base, name=name + "_" + kind, run_type="aggregate", aggregate_name=kind,
                                   repetitions=len(runs), iterations=len(runs), real_time=value, cpu_time=value,
                                   **counters))
    return json.dumps({"context": {"executable": "mio_peer", "mio_version": "0.8.4"}, "benchmarks": benchmarks})


INFO = {"source": mio_peer.SOURCE, "build_command": "cd tests/benchmarks/mio && /usr/bin/cargo build --release",
        "program": ".cache/mio-peer/target/release/mio_peer", "version": "0.8.4", "rustc": "rustc 1.63.0",
        "seconds": 0.2}


class SubcommandsTest(unittest.TestCase):
    def test_each_binary_gets_its_rows_and_the_others_none(self):
        self.assertEqual(mio_peer.subcommands("round_trip"),
                         [["round_trip", "--iterations", "20000", "--repetitions", "5"]])
        self.assertEqual(mio_peer.subcommands("pending_wake", quick=True),
                         [["pending_wake", "--iterations", "1000", "--repetitions", "1"]])
        producers = [args[args.index("--producers") + 1] for args in mio_peer.subcommands("many_producers")]
        self.assertEqual(producers, ["1", "2", "8"])  # as tests/benchmarks/many_producers.cc
        self.assertEqual(mio_peer.subcommands("wait_scaling"), [])
        self.assertEqual(set(mio_peer.NOTES), {"round_trip", "pending_wake", "many_producers"})


class ParseTest(unittest.TestCase):
    def test_one_run_is_a_row_like_the_cpp_ones(self):
        _, rows = mio_peer.parse_rows(program_json("pending_wake/mio_waker", [410.0], write_syscalls_per_call=1.0,
                                                   read_syscalls_per_call=1e-5))
        row = rows["pending_wake/mio_waker"]
        self.assertEqual(row["ns"], 410.0)
        self.assertEqual(row["iterations"], 1000)
        self.assertEqual(row["counters"], {"write_syscalls_per_call": 1.0, "read_syscalls_per_call": 1e-5})
        self.assertIsNone(row["error"])

    def test_repetitions_keep_the_median_and_cv(self):
        _, rows = mio_peer.parse_rows(program_json("many_producers/mio_waker/producers:8", [30.0, 10.0, 20.0],
                                                   wakes_per_sleep=50.0))
        row = rows["many_producers/mio_waker/producers:8"]
        self.assertEqual(row["ns"], 20.0)
        self.assertEqual(row["cv"], 0.04)
        self.assertEqual(row["counters"]["wakes_per_sleep"], 50.0)

    def test_add_rows_runs_with_the_prefix_and_never_replaces_a_cpp_row(self):
        peer = mio_peer.Peer.__new__(mio_peer.Peer)
        peer.root, peer.quick, peer.log, peer.program = REPO, True, lambda m: None, os.path.join(REPO, "mio_peer")
        results = {"round_trip/raw_eventfd_epoll": {"ns": 1.0}}
        calls = []

        def fake_run(program, args, prefix=(), timeout=0):
            calls.append(list(prefix) + [program] + list(args))
            return program_json("round_trip/mio_waker", [5000.0])
        with mock.patch.object(mio_peer, "run", fake_run):
            shown, problems = peer.add_rows("round_trip", ["taskset", "-c", "1"], results, "pinned")
        self.assertEqual(problems, [])
        self.assertEqual(shown, [["taskset", "-c", "1", "mio_peer", "round_trip", "--iterations", "200",
                                  "--repetitions", "1"]])
        self.assertEqual(calls[0][:3], ["taskset", "-c", "1"])
        self.assertEqual(sorted(results), ["round_trip/mio_waker", "round_trip/raw_eventfd_epoll"])

    def test_a_failed_run_is_a_problem_naming_binary_and_mode(self):
        peer = mio_peer.Peer.__new__(mio_peer.Peer)
        peer.root, peer.quick, peer.log, peer.program = REPO, True, lambda m: None, "/x/mio_peer"

        def failing(*_, **__):
            raise mio_peer.PeerError("mio_peer round_trip: exit 1: no pong within 5 s")
        with mock.patch.object(mio_peer, "run", failing):
            shown, problems = peer.add_rows("round_trip", [], {}, "unpinned")
        self.assertEqual(len(shown), 1)
        self.assertEqual(problems, ["mio round_trip (unpinned): mio_peer round_trip: exit 1: no pong within 5 s"])


class SkipTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="elfs-mio-test-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def no_tools(self):
        return [mock.patch.object(mio_peer, "DEBIAN_CARGO", os.path.join(self.tmp, "no-cargo")),
                mock.patch.object(mio_peer, "REGISTRY", os.path.join(self.tmp, "no-registry")),
                mock.patch.dict(os.environ, {"PATH": self.tmp})]

    def test_the_reason_names_what_is_missing_and_how_to_install_it(self):
        self.assertIsNone(mio_peer.skip_reason("/usr/bin/cargo", ["/r/mio-0.8.4"]))
        reason = mio_peer.skip_reason(None, [])
        self.assertTrue(reason.startswith("skipped: cargo and librust-mio-dev not installed"), reason)
        self.assertIn("apt-get install cargo librust-mio-dev", reason)
        self.assertIn("skipped: librust-mio-dev not installed", mio_peer.skip_reason("/usr/bin/cargo", []))

    def test_debian_cargo_first_then_path_with_a_note(self):
        fake = os.path.join(self.tmp, "cargo")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(fake, 0o755)
        with mock.patch.object(mio_peer, "DEBIAN_CARGO", os.path.join(self.tmp, "no-cargo")), \
                mock.patch.dict(os.environ, {"PATH": self.tmp}):
            cargo, note = mio_peer.find_cargo()
        self.assertEqual(cargo, fake)
        self.assertIn("from PATH", note)
        with mock.patch.object(mio_peer, "DEBIAN_CARGO", fake):
            self.assertEqual(mio_peer.find_cargo(), (fake, None))

    def test_without_cargo_and_mio_everything_is_one_clear_skip(self):
        logged = []
        patches = self.no_tools()
        for p in patches:
            p.start()
            self.addCleanup(p.stop)
        peer = mio_peer.Peer(REPO, quick=True, log=logged.append)
        self.assertIsNone(peer.program)
        self.assertEqual(peer.problems, [])
        self.assertTrue(peer.info["skipped"].startswith("skipped: cargo and librust-mio-dev not installed"))
        self.assertEqual(peer.add_rows("round_trip", [], {}, "pinned"), ([], []))
        self.assertEqual(len(logged), 1)
        verdicts = mio_peer.check_verdicts(REPO, peer.info)
        self.assertEqual(len(verdicts), 1)
        self.assertIsNone(verdicts[0][0])
        self.assertIn("skipped: cargo and librust-mio-dev not installed", verdicts[0][1])
        self.assertEqual(mio_peer.round_trip_calls(peer.info, REPO, "1", True, logged.append), {})
        self.assertTrue(mio_peer.page_lines("round_trip", peer.info)[0].startswith("No mio rows: cargo and"))
        with mock.patch("sys.stderr") as stderr:
            self.assertEqual(mio_peer.main(["early-drop"]), 2)
        self.assertIn("skipped: cargo and librust-mio-dev not installed", stderr.write.call_args[0][0])

    def test_a_build_failure_is_a_problem_not_a_skip(self):
        with mock.patch.object(mio_peer, "build", side_effect=mio_peer.PeerError("building failed (exit 101)")):
            peer = mio_peer.Peer(REPO, quick=True, log=lambda m: None)
        self.assertEqual(peer.problems, ["mio: building failed (exit 101)"])
        self.assertNotIn("skipped", peer.info)
        self.assertEqual(mio_peer.check_verdicts(REPO, peer.info), [])  # the failure is counted once


class PageTest(unittest.TestCase):
    def test_notes_say_what_mio_sleeps_in_and_where_the_ratio_comes_from(self):
        (line, blank) = mio_peer.page_lines("round_trip", INFO)
        self.assertEqual(blank, "")
        self.assertIn("mio 0.8.4", line)
        self.assertIn("sleeps in `epoll_wait`", line)
        self.assertIn("same ./tools/bench run and mode", line)
        self.assertNotIn("ratio", mio_peer.page_lines("many_producers", INFO)[0])  # no baseline there
        self.assertEqual(mio_peer.page_lines("wait_scaling", INFO), [])
        self.assertEqual(mio_peer.page_lines("round_trip", None), [])

    def test_the_page_shows_the_build_the_runs_and_the_rows(self):
        data = run_data()
        data["mio"] = INFO
        rt = data["binaries"][0]
        self.assertEqual(rt["name"], "round_trip")
        for mode, scale in (("pinned", 1.0), ("unpinned", 2.0)):
            rt["runs"][mode]["results"]["round_trip/mio_waker"] = {
                "ns": 2200.0 * scale, "cpu_ns": 1.0, "iterations": 10, "counters": {}, "error": None,
                "ratio": 1.1, "baseline": "round_trip/raw_eventfd_epoll"}
            rt["runs"][mode]["peer_commands"] = [[".cache/mio-peer/target/release/mio_peer", "round_trip",
                                                  "--iterations", "20000", "--repetitions", "5"]]
        page = bench_page.render_page(data, {})
        self.assertIn(INFO["build_command"] + "\n", page)
        self.assertIn(".cache/mio-peer/target/release/mio_peer round_trip --iterations 20000", page)
        self.assertIn("| `round_trip/mio_waker` | 2,200 | 1.10x | 4,400 | 1.10x", page)
        self.assertIn("The waiting thread sleeps in `epoll_wait`", page)


class QuoteTest(unittest.TestCase):
    LINES = ["mio 0.8.4, Waker dropped before poll: lost 3 of 3 wakes (each poll: 100 ms timeout)",
             "mio 0.8.4, Waker kept alive by an Arc: seen 3 of 3 wakes"]

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="elfs-mio-quote-")
        self.addCleanup(shutil.rmtree, self.root)
        os.makedirs(os.path.join(self.root, "lessons", "09_early_drop"))
        os.makedirs(os.path.join(self.root, "tools"))
        with open(os.path.join(self.root, "tools", "say.py"), "w") as f:
            f.write("print(%r)\nprint(%r)\n" % tuple(self.LINES))

    def readme(self, block):
        with open(os.path.join(self.root, "lessons", "09_early_drop", "README.md"), "w") as f:
            f.write("# Lesson\n\ntext\n\n<!-- mio-output -->\n```\n%s\n```\n" % "\n".join(block))
        return mio_peer.quoted_blocks(self.root)

    def test_a_block_is_its_command_and_its_lines(self):
        blocks = self.readme(["$ python3 tools/say.py"] + self.LINES)
        self.assertEqual(blocks, [("lessons/09_early_drop/README.md", 5, "python3 tools/say.py", self.LINES)])
        ok, what = mio_peer.check_quote(self.root, *blocks[0])
        self.assertTrue(ok, what)

    def test_other_output_fails_and_says_what_it_prints(self):
        blocks = self.readme(["$ python3 tools/say.py", self.LINES[0].replace("3 of 3", "10 of 10"), self.LINES[1]])
        ok, what = mio_peer.check_quote(self.root, *blocks[0])
        self.assertFalse(ok)
        self.assertIn("lost 3 of 3 wakes", what)
        self.assertIn("quote what it prints now", what)

    def test_a_block_without_one_command_fails(self):
        ok, what = mio_peer.check_quote(self.root, *self.readme(self.LINES)[0])
        self.assertFalse(ok)
        self.assertIn("exactly one", what)

    def test_the_early_drop_lines_parse(self):
        m = mio_peer.EARLY_DROP.match(self.LINES[0])
        self.assertEqual((m.group(1), m.group(3), m.group(4)), ("0.8.4", "3", "3"))
        self.assertEqual(mio_peer.EARLY_DROP.match(self.LINES[1]).group(2), "kept alive by an Arc: seen")

    def test_lesson_09_quotes_the_command_of_this_module(self):
        blocks = [b for b in mio_peer.quoted_blocks(REPO) if b[0] == "lessons/09_early_drop/README.md"]
        self.assertEqual(len(blocks), 1)
        self.assertEqual(blocks[0][2], "python3 tools/mio_peer.py early-drop")
        self.assertEqual(len(blocks[0][3]), 2)


@unittest.skipIf(mio_peer.skip_reason(mio_peer.find_cargo()[0], mio_peer.mio_sources()),
                 "cargo or librust-mio-dev not installed")
class RealProgramTest(unittest.TestCase):
    def test_it_builds_loses_the_dropped_wake_and_prints_rows(self):
        program = mio_peer.build(REPO, log=lambda m: None)
        lost, kept = mio_peer.early_drop_lines(program, 1)
        self.assertRegex(lost, r"^mio 0\.8\.\d+, Waker dropped before poll: lost 1 of 1 wakes")
        self.assertRegex(kept, r"^mio 0\.8\.\d+, Waker kept alive by an Arc: seen 1 of 1 wakes$")
        _, rows = mio_peer.parse_rows(mio_peer.run(program, ["round_trip", "--iterations", "10"]))
        self.assertEqual(rows["round_trip/mio_waker"]["iterations"], 10)
        with self.assertRaises(mio_peer.PeerError) as e:
            mio_peer.run(program, ["round_trip", "--iterations", "0"])
        self.assertIn("--iterations needs a positive integer", str(e.exception))
        self.assertFalse(os.path.exists(os.path.join(REPO, mio_peer.SOURCE, "target")))


if __name__ == "__main__":
    unittest.main()
