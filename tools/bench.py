#!/usr/bin/env python3
"""./tools/bench: runs the benchmarks of tests/benchmarks and regenerates docs/benchmarks.md.

It also runs redis-benchmark against lesson 12's server and the real redis-server, both
started here on loopback (tools/redis_bench.py), and measures both servers' memory per idle
connection and per key (redis_memory.py) and a probe's latency under attack (redis_attacks.py).

It builds //tests/benchmarks:all with `-c opt`, runs every binary twice with
`--benchmark_format=json` (pinned to one CPU with `taskset -c 1`, then unpinned), takes
each result's ratio to the baseline measured in the same run of the same binary (raw
eventfd + epoll for round trips, a raw eventfd write for pending wakes, the 1-idle case of
the same backend for Poll::Wait), and writes docs/benchmarks.md, docs/benchmarks/
results.json (every figure the page shows) and docs/benchmarks/*.svg (gnuplot). Every
figure on the page comes from that run; none is typed by hand.

    ./tools/bench            the real run (a few minutes); commit docs/benchmarks*
    ./tools/bench --quick    everything with a tiny --benchmark_min_time, into a temp dir:
                             proves the suite builds, runs and parses (./tools/check)
    ./tools/bench --only redis-stress [--quick]
                             only the Redis memory figures and attacks, into a temp dir

The page itself (what each binary is, the tables, the goals) is bench_page.py.
Python 3 standard library only; gnuplot draws the plots (skipped with a note if missing).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

import measure
import mio_peer
import redis_bench
import syscall_count
from bench_page import BINARIES, names_in_order, render_page
from workshop_common import ROOT, bazel_env

PACKAGE = "//tests/benchmarks"

_NOT_COUNTERS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
                 "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit", "label",
                 "error_occurred", "error_message", "aggregate_name", "aggregate_unit"}
_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# ---------------------------------------------------------------------------------------
# Parsing and ratios (pure; tools/tests/test_bench.py tests them).


def short_name(run_name):
    """"round_trip/asio_post/real_time" -> "round_trip/asio_post"."""
    return re.sub(r"/real_time$", "", run_name)


def parse_results(text):
    """Google Benchmark's JSON -> (context, {name: result}). A result is {"ns", "cpu_ns",
    "iterations", "counters", "error"}. With repetitions, the median aggregate is kept
    (with the coefficient of variation as "cv" when reported); without, the one run."""
    data = json.loads(text)
    results = {}
    cvs = {}
    for b in data.get("benchmarks", []):
        name = short_name(b.get("run_name") or b["name"])
        run_type = b.get("run_type", "iteration")
        agg = b.get("aggregate_name")
        if run_type == "aggregate" and agg == "cv":
            cvs[name] = b.get("real_time")
            continue
        if run_type == "aggregate" and agg != "median":
            continue
        if run_type == "iteration" and name in results and results[name].get("aggregate"):
            continue
        scale = _TO_NS.get(b.get("time_unit", "ns"), 1.0)
        results[name] = {
            "ns": float(b.get("real_time", 0.0)) * scale,
            "cpu_ns": float(b.get("cpu_time", 0.0)) * scale,
            "iterations": int(b.get("iterations", 0)),
            "counters": {k: float(v) for k, v in b.items()
                         if k not in _NOT_COUNTERS and isinstance(v, (int, float)) and not isinstance(v, bool)},
            "error": b.get("error_message") if b.get("error_occurred") else None,
            "aggregate": run_type == "aggregate",
        }
    for name, cv in cvs.items():
        if name in results and cv is not None:
            results[name]["cv"] = float(cv)
    return data.get("context", {}), results


def add_ratios(binary, results):
    """Sets result["ratio"] = ns / ns of its baseline in the same results (None when the
    binary has no baseline, or the baseline is missing, failed or took 0 ns)."""
    for name, r in results.items():
        base_name = binary.baseline(name) if binary.baseline else None
        base = results.get(base_name) if base_name else None
        if base is None or base.get("error") or not base["ns"] or r.get("error"):
            r["ratio"] = None
        else:
            r["ratio"] = r["ns"] / base["ns"]
        r["baseline"] = base_name if r["ratio"] is not None else None
    return results


def problems_in(binary, results):
    """What makes a run unusable: no results, a benchmark that reported an error."""
    if not results:
        return ["%s: no benchmark results" % binary.name]
    return ["%s: %s: %s" % (binary.name, name, r["error"]) for name, r in sorted(results.items()) if r.get("error")]


# ---------------------------------------------------------------------------------------
# Plots (gnuplot).


def gnuplot_script(binary, runs, data_path, out_path):
    """A gnuplot script for a clustered bar chart: pinned and unpinned ns per benchmark."""
    values = [r["ns"] for mode in runs.values() for r in mode["results"].values() if not r.get("error")]
    log = binary.log_scale and values and min(values) > 0 and max(values) / min(values) > 20
    return "\n".join([
        "set terminal svg size 900,480 dynamic font 'sans,11' background rgb 'white'",
        "set output '%s'" % out_path,
        "set title '%s'" % binary.question.replace("'", ""),
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.9",
        "set ylabel 'ns (real time%s)'" % (", log scale" if log else ""),
        "set logscale y" if log else "set yrange [0:*]",
        "set xtics rotate by -35 left noenhanced font ',9'",
        "set key top left",
        "set grid ytics",
        "set bmargin 9",
        "set rmargin 8",
        "plot '%s' using 2:xtic(1) title 'pinned (taskset -c 1)', '' using 3 title 'unpinned'" % data_path,
        "",
    ])


def plot_data(runs):
    pinned = runs.get("pinned", {}).get("results", {})
    unpinned = runs.get("unpinned", {}).get("results", {})
    rows = []
    for name in names_in_order([runs[m] for m in ("pinned", "unpinned") if m in runs]):
        vals = []
        for res in (pinned, unpinned):
            r = res.get(name)
            vals.append("%.3f" % r["ns"] if r and not r.get("error") else "NaN")
        label = name.split("/", 1)[1] if "/" in name else name
        rows.append('"%s" %s' % (label, " ".join(vals)))
    return "\n".join(rows) + "\n"


def draw_plots(data, out_dir, log):
    """Writes OUT_DIR/<binary>.svg for each binary; returns {binary: file name}."""
    if not shutil.which("gnuplot"):
        log("gnuplot is not installed: no plots (apt-get install gnuplot-nox)")
        return {}
    plots = {}
    tmp = tempfile.mkdtemp(prefix="elfs-bench-plot-")
    try:
        for b in data["binaries"]:
            binary = next(x for x in BINARIES if x.name == b["name"])
            dat = os.path.join(tmp, b["name"] + ".dat")
            with open(dat, "w") as f:
                f.write(plot_data(b["runs"]))
            svg = os.path.join(out_dir, b["name"] + ".svg")
            script = os.path.join(tmp, b["name"] + ".gp")
            with open(script, "w") as f:
                f.write(gnuplot_script(binary, b["runs"], dat, svg))
            proc = subprocess.run(["gnuplot", script], capture_output=True, text=True)
            if proc.returncode != 0:
                log("gnuplot failed for %s: %s" % (b["name"], proc.stderr.strip()[-500:]))
                continue
            plots[b["name"]] = b["name"] + ".svg"
        if data.get("redis"):
            dat = os.path.join(tmp, "redis.dat")
            with open(dat, "w") as f:
                f.write(redis_bench.plot_data(data["redis"]))
            svg = os.path.join(out_dir, "redis.svg")
            script = os.path.join(tmp, "redis.gp")
            with open(script, "w") as f:
                f.write(redis_bench.gnuplot_script(dat, svg))
            proc = subprocess.run(["gnuplot", script], capture_output=True, text=True)
            if proc.returncode != 0:
                log("gnuplot failed for redis: %s" % proc.stderr.strip()[-500:])
            else:
                plots["redis"] = "redis.svg"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return plots


# ---------------------------------------------------------------------------------------
# Running.


def machine():
    return {"cpu": measure.cpu_model() or platform.processor() or "?", "cores": os.cpu_count(),
            "kernel": platform.release(), "os": measure.os_name(), "load_before": list(os.getloadavg())}


def plan(only):
    """(the build command, run redis-benchmark?, run the memory figures and attacks?) for
    --only's list (None: everything). "redis" is the whole Redis part, "redis-stress" only
    its memory figures and attacks."""
    want_redis = not only or "redis" in only
    want_stress = want_redis or "redis-stress" in only
    want_binaries = not only or any(b.name in only for b in BINARIES)
    build = ["bazel", "build", "-c", "opt"] + (["%s:all" % PACKAGE] if want_binaries else []) + (
        [redis_bench.SERVER_TARGET] if want_redis or want_stress else [])
    return build, want_redis, want_stress


def run_suite(root=ROOT, quick=False, out=sys.stdout, only=None):
    """Builds and runs every binary pinned and unpinned. Returns (data, problems)."""
    def log(msg):
        out.write("[bench] %s\n" % msg)
        out.flush()

    env = bazel_env()
    build, want_redis, want_stress = plan(only)
    data = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
            "build_command": build, "binaries": [], "quick": quick}
    log("$ " + " ".join(build))
    proc = subprocess.run(build, cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return data, ["%s failed:\n%s" % (" ".join(build), proc.stderr[-3000:])]
    bin_dir = subprocess.run(["bazel", "info", "-c", "opt", "bazel-bin"], cwd=root, env=env, capture_output=True,
                             text=True).stdout.strip()
    pin_cpu = "1" if (os.cpu_count() or 1) > 1 else "0"
    data["pin_cpu"] = pin_cpu
    reps = 1 if quick else 5
    data["repetitions"] = reps
    flags = ["--benchmark_format=json", "--benchmark_min_time=%s" % ("0.001" if quick else "0.2")]
    if reps > 1:
        flags += ["--benchmark_repetitions=%d" % reps, "--benchmark_report_aggregates_only=true"]
    # The real mio (tests/benchmarks/mio): its rows join the C++ rows of the same mode.
    peer = mio_peer.Peer(root, quick, log) if any(not only or b in only for b in mio_peer.NOTES) else None
    data["mio"] = peer.info if peer else None
    problems = list(peer.problems) if peer else []
    for binary in BINARIES:
        if only and binary.name not in only:
            continue
        path = os.path.join(bin_dir, "tests", "benchmarks", binary.name)
        rel = "bazel-bin/tests/benchmarks/" + binary.name
        entry = {"name": binary.name, "runs": {}}
        for mode in ("pinned", "unpinned"):
            prefix = ["taskset", "-c", pin_cpu] if mode == "pinned" else []
            if prefix and not shutil.which("taskset"):
                problems.append("taskset is missing (util-linux): cannot run pinned")
                continue
            shown = prefix + [rel] + flags
            log("$ " + " ".join(shown))
            try:
                proc = subprocess.run(prefix + [path] + flags, capture_output=True, text=True,
                                      timeout=300 if quick else 1800)
            except subprocess.TimeoutExpired:
                problems.append("%s %s: timed out" % (binary.name, mode))
                continue
            if proc.returncode != 0:
                problems.append("%s %s: exit %d: %s" % (binary.name, mode, proc.returncode, proc.stderr[-1500:]))
                continue
            try:
                context, results = parse_results(proc.stdout)
            except (ValueError, KeyError) as e:
                problems.append("%s %s: unreadable JSON: %s" % (binary.name, mode, e))
                continue
            peer_commands, peer_problems = peer.add_rows(binary.name, prefix, results, mode) if peer else ([], [])
            problems += peer_problems
            add_ratios(binary, results)
            problems += ["%s (%s)" % (p, mode) for p in problems_in(binary, results)]
            data["machine"].setdefault("library_build_type", context.get("library_build_type", "?"))
            entry["runs"][mode] = {"command": shown, "results": results,
                                   "load_avg": context.get("load_avg"), "peer_commands": peer_commands}
        if binary.name == "round_trip" and entry["runs"]:
            if syscall_count.available():  # what each row's thread sleeps in, and its calls per wake
                names = [n for n in names_in_order(list(entry["runs"].values())) if n != mio_peer.ROUND_TRIP_ROW]
                entry["calls"] = syscall_count.round_trip_rows(path, names, pin_cpu, quick, log)
                for mode, rows in mio_peer.round_trip_calls(data["mio"], root, pin_cpu, quick, log).items():
                    entry["calls"].setdefault(mode, {}).update(rows)  # the mio row, counted by mio_peer
            else:
                problems.append("strace is missing: the round trips' system calls are not counted")
        data["binaries"].append(entry)
    if want_redis or want_stress:
        missing = redis_bench.missing_tools()
        if missing:
            problems.append("redis: %s not installed (tools/lib/deps.sh --redis installs redis-tools and "
                            "redis-server)" % " and ".join(missing))
        else:
            for key, runner in (("redis", redis_bench.run if want_redis else None),
                                ("redis_stress", redis_bench.run_stress)):
                try:
                    if runner:
                        data[key] = runner(root, bin_dir, quick=quick, log=log)
                except (redis_bench.BenchError, subprocess.TimeoutExpired, OSError) as e:
                    problems.append("redis: %s" % e)
    data["machine"]["load_after"] = list(os.getloadavg())
    return data, problems


def write_outputs(data, docs_dir, page_path, out=sys.stdout):
    """Writes results.json and the plots into docs_dir, and the page at page_path."""
    os.makedirs(docs_dir, exist_ok=True)
    with open(os.path.join(docs_dir, "results.json"), "w") as f:
        json.dump(data, f, indent=1)  # insertion order: the binaries' own order
        f.write("\n")
    plots = draw_plots(data, docs_dir, lambda m: out.write("[bench] %s\n" % m))
    rel_dir = os.path.relpath(docs_dir, os.path.dirname(page_path))
    page = render_page(data, {k: rel_dir + "/" + v for k, v in plots.items()})
    with open(page_path, "w") as f:
        f.write(page)
    return plots


def update_quotes(root, out=sys.stdout):
    """The README's benchmark figures (<!-- measured:bench_... --> markers) follow the page."""
    for path in measure.update_docs(root):
        out.write("[bench] updated %s\n" % path)


def stress_verdicts(stress):
    """./tools/check's verdicts on the quick memory and attack runs: every figure is there
    for both servers (not whether a goal is met: --quick is not a measurement)."""
    if not stress:
        return []
    memory, attacks = stress["memory"], stress["attacks"]["attacks"]
    figures = [memory["idle"].get(k, {}).get("kib_per_connection") for k in redis_bench.redis_memory.KINDS] + [
        memory["keys"].get(k, {}).get("bytes_per_key") for k in redis_bench.redis_memory.KINDS]
    out = [(None not in figures, "bench --quick: redis memory per idle connection and per key, both servers: "
            "%d of 4 figures" % sum(f is not None for f in figures))]
    for name in redis_bench.redis_attacks.ATTACKS:
        row = attacks.get(name, {})
        errors = [row.get(k, {}).get("error") for k in redis_bench.redis_attacks.KINDS]
        ok = redis_bench.redis_attacks.row_met(row) is not None and not any(errors)
        out.append((ok, "bench --quick: redis under attack, %s: probed on both servers%s" % (
            name, "" if ok else " (%s)" % ("; ".join(str(e) for e in errors if e) or "no figure"))))
    return out


def quick_check(root=ROOT, out=sys.stdout):
    """./tools/check's step: the quick run, page and plots into a temp dir that is then
    removed. Returns [(ok, message)]: one per binary and mode that ran clean, one per
    problem, and one for the page."""
    data, problems = run_suite(root, quick=True, out=out)
    verdicts = [(False, "bench --quick: " + p) for p in problems]
    for b in data["binaries"]:
        for mode, run in sorted(b["runs"].items()):
            bad = [name for name, r in run["results"].items() if r.get("error")]
            if run["results"] and not bad:
                verdicts.append((True, "bench --quick: %s %s: %d results" % (b["name"], mode, len(run["results"]))))
    for mode, pipelines in sorted(data.get("redis", {}).get("modes", {}).items()):
        n = sum(1 for rows in pipelines.values() for r in rows.values() if "ratio" in r)
        verdicts.append((n == len(redis_bench.TESTS) * len(redis_bench.PIPELINES),
                         "bench --quick: redis-benchmark %s: %d ratios to redis-server" % (mode, n)))
    verdicts += stress_verdicts(data.get("redis_stress"))
    verdicts += mio_peer.check_verdicts(root, data.get("mio"))  # (None, why) when skipped
    if not problems:
        tmp = tempfile.mkdtemp(prefix="elfs-bench-check-")
        try:
            plots = write_outputs(data, os.path.join(tmp, "benchmarks"), os.path.join(tmp, "benchmarks.md"), out)
            want = len(BINARIES) + (1 if data.get("redis") else 0)
            ok = len(plots) == want or not shutil.which("gnuplot")
            verdicts.append((ok, "bench --quick: the page and %d plots are generated" % len(plots) if ok else
                             "bench --quick: gnuplot drew %d of %d plots (see bazel-check.log)"
                             % (len(plots), want)))
        except Exception as e:  # noqa: BLE001 - any failure of the page generator is a check failure
            verdicts.append((False, "bench --quick: generating the page failed: %r" % e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return verdicts


def main(argv=None, root=ROOT, out=sys.stdout):
    parser = argparse.ArgumentParser(prog="tools/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny --benchmark_min_time, one repetition, output into a temp dir (not docs/)")
    parser.add_argument("--render", action="store_true",
                        help="no run: regenerate docs/benchmarks.md and the plots from docs/benchmarks/results.json")
    parser.add_argument("--only", action="append", choices=[b.name for b in BINARIES] + ["redis", "redis-stress"],
                        help="run only this binary (repeatable; redis: the whole Redis part; redis-stress: only its "
                        "memory figures and attacks); with it, docs/ is not written")
    args = parser.parse_args(argv)
    if args.render:
        docs = os.path.join(root, "docs", "benchmarks")
        with open(os.path.join(docs, "results.json")) as f:
            data = json.load(f)
        write_outputs(data, docs, os.path.join(root, "docs", "benchmarks.md"), out)
        update_quotes(root, out)
        out.write("[bench] regenerated docs/benchmarks.md and the plots from docs/benchmarks/results.json\n")
        return 0
    data, problems = run_suite(root, quick=args.quick, out=out, only=args.only)
    if args.quick or args.only:
        tmp = tempfile.mkdtemp(prefix="elfs-bench-")
        write_outputs(data, os.path.join(tmp, "benchmarks"), os.path.join(tmp, "benchmarks.md"), out)
        out.write("[bench] wrote %s/benchmarks.md (docs/ untouched)\n" % tmp)
    elif not problems:
        write_outputs(data, os.path.join(root, "docs", "benchmarks"), os.path.join(root, "docs", "benchmarks.md"),
                      out)
        update_quotes(root, out)
        out.write("[bench] wrote docs/benchmarks.md, docs/benchmarks/results.json and the plots\n")
    n = sum(len(m["results"]) for b in data["binaries"] for m in b["runs"].values()) + sum(
        1 for p in data.get("redis", {}).get("modes", {}).values() for rows in p.values() for r in rows.values())
    for p in problems:
        out.write("  FAIL %s\n" % p)
    out.write("%d results, %d problems%s\n" % (n, len(problems), "" if not problems or args.quick or args.only
                                                else " (docs/ not written)"))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
