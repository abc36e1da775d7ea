"""The page of ./tools/bench (docs/benchmarks.md): what each benchmark binary is, and the
Markdown made from one run's data. Pure: data in, Markdown out (tools/tests/test_bench.py
tests it). The running, the parsing, the plots and the files are in bench.py; the
redis-benchmark part of the page is redis_bench.py's, the memory and attack tables
redis_memory.py's and redis_attacks.py's. Python 3 standard library only.
"""

import re

import mio_peer
import redis_attacks
import redis_bench
import redis_memory
import syscall_count


class Binary:
    """One benchmark binary: the question it answers, how its baseline is found, and the
    counters the table shows."""

    def __init__(self, name, question, baseline, counters=(), log_scale=True):
        self.name = name
        self.question = question
        self.baseline = baseline  # function: result name -> baseline name; None: no ratios
        self.counters = tuple(counters)
        self.log_scale = log_scale


def _fixed(name):
    return lambda _: name


def _asio_same_producers(name):
    return re.sub(r"^post_throughput/[^/]+/", "post_throughput/asio_post/", name)


def _one_idle(name):
    return re.sub(r"/idle:\d+$", "/idle:1", name)


BINARIES = [
    Binary("round_trip", "Round trip: thread A wakes B, B wakes A (ns per round trip)",
           _fixed("round_trip/raw_eventfd_epoll")),
    Binary("pending_wake", "Pending wake: a wake when one is already pending (ns per call)",
           _fixed("pending_wake/raw_eventfd_write"),
           counters=("write_syscalls_per_call", "read_syscalls_per_call")),
    Binary("many_producers", "Many producers: 1, 2, 8 threads waking one loop (ns per loop sleep)",
           None, counters=("wakes_per_sleep", "writes_per_wake", "syscalls_per_wake")),
    Binary("wait_scaling", "Poll::Wait with 1, 1k, 10k idle registrations and one active (ns per Wait)",
           _one_idle, log_scale=False),
    Binary("post_throughput", "Post throughput: 1 or 4 threads post 20,000 functions to one loop "
           "(us per 20,000; ratio to Boost.Asio post with the same producers)",
           _asio_same_producers, counters=("writes_per_post",), log_scale=False),
]

# Goals, checked against the measured figures: a round trip within 1.05x the two-call
# floor (one write, one epoll_wait: the baseline) and no slower than Asio with its reactor
# awake or mio; a pending wake under 20 ns and without a system call.
ROUND_TRIP_GOAL = 1.05
PENDING_NS_GOAL = 20.0
ASIO_REACTOR = "round_trip/asio_post_reactor"
MIO_ROUND_TRIP = "round_trip/mio_waker"


# ---------------------------------------------------------------------------------------
# The page.


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns >= 100:
        return "{:,.0f}".format(ns)
    return "%.1f" % ns


def fmt_ns_cv(result):
    """"2,827" or, with repetitions, "2,827 ±3%" (the coefficient of variation)."""
    text = fmt_ns(result["ns"])
    if result.get("cv") is not None:
        text += " ±%.0f%%" % (100 * result["cv"])
    return text


def fmt_ratio(ratio):
    return "-" if ratio is None else "%.2fx" % ratio


def fmt_counter(value):
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return "%.0f" % value
    if abs(value) >= 0.01:
        return "%.2f" % value
    return "%.1e" % value


def names_in_order(modes):
    names = []
    for mode in modes:
        for name in mode["results"]:
            if name not in names:
                names.append(name)
    return names


def calls_cells(calls, name):
    """The round trip's counted columns: what the waiting thread sleeps in, and the system
    calls per wake, pinned (each call) and unpinned (the total)."""
    cells = []
    for i, mode in enumerate(("pinned", "unpinned")):
        c = (calls or {}).get(mode, {}).get(name)
        if c is None or c.get("error"):
            cells += (["-"] if i == 0 else []) + ["-" if c is None else "not counted"]
            continue
        if i == 0:
            cells.append(c["sleeps_in"] or "-")
        per_wake = c["per_wake"]
        cells.append("%.2f" % c["total"] + (": " + syscall_count.summary(per_wake) if i == 0 else ""))
    return cells


def table(binary, runs, calls=None):
    """The Markdown table of one binary: pinned and unpinned ns and ratio, counters, and for
    the round trips (calls) what each sleeps in and its system calls per wake."""
    pinned = runs.get("pinned", {}).get("results", {})
    unpinned = runs.get("unpinned", {}).get("results", {})
    ratios = binary.baseline is not None
    head = ["benchmark", "pinned ns", "pinned ratio", "unpinned ns", "unpinned ratio"] if ratios else \
        ["benchmark", "pinned ns", "unpinned ns"]
    for c in binary.counters:
        head += ["%s (pinned)" % c, "%s (unpinned)" % c]
    if calls:
        head += ["sleeps in", "system calls per wake (pinned)", "(unpinned)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for name in names_in_order([runs[m] for m in ("pinned", "unpinned") if m in runs]):
        row = ["`%s`" % name]
        for res in (pinned, unpinned):
            r = res.get(name)
            if r is None or r.get("error"):
                row += ["failed: %s" % r["error"] if r else "-"] + (["-"] if ratios else [])
            else:
                row += [fmt_ns_cv(r)] + ([fmt_ratio(r.get("ratio"))] if ratios else [])
        for c in binary.counters:
            for res in (pinned, unpinned):
                r = res.get(name)
                row.append(fmt_counter(r["counters"].get(c)) if r and not r.get("error") else "-")
        if calls:
            row += calls_cells(calls, name)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def goal_lines(all_runs):
    """The issue's goals, each with the figures that decide it (pinned / unpinned)."""
    out = []

    def get(binary, mode, name):
        return all_runs.get(binary, {}).get(mode, {}).get("results", {}).get(name)

    def both(binary, name, key="ns"):
        vals = []
        for mode in ("pinned", "unpinned"):
            r = get(binary, mode, name)
            vals.append(None if r is None or r.get("error") else r.get(key))
        return vals

    rt = all_runs.get("round_trip", {})
    wakers = [n for n in names_in_order([rt[m] for m in ("pinned", "unpinned") if m in rt])
              if n.startswith("round_trip/waker/")]
    peers = [("Asio with its reactor", ASIO_REACTOR), ("mio", MIO_ROUND_TRIP),
             ("libuv", "round_trip/libuv_async_send")]
    for name in wakers:
        ratios = both("round_trip", name, "ratio")
        ns = both("round_trip", name)
        parts = []
        for i, mode in enumerate(("pinned", "unpinned")):
            if ratios[i] is None:
                parts.append("%s: no figure" % mode)
                continue
            ok_raw = ratios[i] <= ROUND_TRIP_GOAL
            cells = ["%s the floor (%s)" % ("<= %.2fx" % ROUND_TRIP_GOAL if ok_raw else
                                            "**> %.2fx**" % ROUND_TRIP_GOAL, fmt_ratio(ratios[i]))]
            for label, peer in peers:
                theirs = both("round_trip", peer)[i]
                if theirs:
                    cells.append("%s %s (%s)" % ("<=" if ns[i] <= theirs else "**>**", label,
                                                 fmt_ratio(ns[i] / theirs)))
                else:
                    cells.append("%s: no figure" % label)
            parts.append("%s: %s" % (mode, ", ".join(cells)))
        out.append("- round trip `%s`: %s" % (name, "; ".join(parts)))
    pw = all_runs.get("pending_wake", {})
    for name in [n for n in names_in_order([pw[m] for m in ("pinned", "unpinned") if m in pw])
                 if n.startswith("pending_wake/waker/")]:
        parts = []
        for mode in ("pinned", "unpinned"):
            r = get("pending_wake", mode, name)
            if r is None or r.get("error"):
                parts.append("%s: no figure" % mode)
                continue
            w = r["counters"].get("write_syscalls_per_call")
            met = r["ns"] < PENDING_NS_GOAL and w == 0
            parts.append("%s: %s ns, %s write syscalls per call: %s" % (
                mode, fmt_ns(r["ns"]), fmt_counter(w), "met" if met else "**not met**"))
        out.append("- pending wake `%s` (< %.0f ns and 0 syscalls): %s" % (name, PENDING_NS_GOAL, "; ".join(parts)))
    mio = [get("pending_wake", m, "pending_wake/mio_waker") for m in ("pinned", "unpinned")]
    if any(r and not r.get("error") for r in mio):
        out.append("- for comparison, mio's `Waker::wake()` with a wake pending (it writes every time): %s" % "; ".join(
            "%s: %s ns, %s write syscalls per call" % (m, fmt_ns(r["ns"]), fmt_counter(
                r["counters"].get("write_syscalls_per_call"))) if r and not r.get("error") else "%s: no figure" % m
            for m, r in zip(("pinned", "unpinned"), mio)))
    pt = all_runs.get("post_throughput", {})
    for name in [n for n in names_in_order([pt[m] for m in ("pinned", "unpinned") if m in pt])
                 if n.startswith("post_throughput/event_loop/")]:
        parts = []
        for mode in ("pinned", "unpinned"):
            r = get("post_throughput", mode, name)
            if r is None or r.get("error") or r.get("ratio") is None:
                parts.append("%s: no figure" % mode)
                continue
            parts.append("%s: %s of Asio's time, %s" % (
                mode, fmt_ratio(r["ratio"]), "met" if r["ratio"] <= 1.0 else "**not met**"))
        out.append("- `Post` throughput no lower than Asio's `post`, `%s`: %s" % (name, "; ".join(parts)))
    ws = all_runs.get("wait_scaling", {})
    worst = {}
    for mode in ("pinned", "unpinned"):
        for name, r in ws.get(mode, {}).get("results", {}).items():
            if r.get("ratio") is not None:
                backend = name.split("/")[1]
                key = (backend, mode)
                if key not in worst or r["ratio"] > worst[key][1]:
                    worst[key] = (name, r["ratio"])
    for (backend, mode), (name, ratio) in sorted(worst.items()):
        out.append("- Poll::Wait flat in idle registrations, %s %s: the largest ratio to 1 idle is %s (`%s`)" % (
            backend, mode, fmt_ratio(ratio), name))
    return out


def calls_goal_lines(binaries):
    """Every round-trip row has its system calls counted, pinned and unpinned."""
    for b in binaries:
        if b["name"] != "round_trip":
            continue
        names = names_in_order([b["runs"][m] for m in ("pinned", "unpinned") if m in b["runs"]])
        calls = b.get("calls") or {}
        missing = ["%s %s" % (n, m) for n in names for m in ("pinned", "unpinned")
                   if not calls.get(m, {}).get(n) or calls[m][n].get("error")]
        return ["- system calls per wake counted for every round-trip row, pinned and unpinned: %s" % (
            "met (%d rows)" % len(names) if not missing else "**not met** (%s)" % ", ".join(missing))]
    return []


def stress_lines(stress, quick=False, cores="?"):
    """The page's sections on memory and attacks (redis_memory.py, redis_attacks.py)."""
    memory, attacks = stress["memory"], stress["attacks"]
    s = attacks["sizes"]
    lines = ["## Memory: lesson 12's server against redis-server", "",
             "Each server started afresh on loopback by `./tools/bench` (unpinned), its VmRSS read from",
             "`/proc/PID/status`. Per idle connection: before and after opening %s connections that" %
             "{:,}".format(memory["idle"]["connections"]),
             "each send one PING, read the PONG and stay open. Per key: before and after the command below",
             "(8-byte values), over the keys `redis-cli dbsize` then counts. VmRSS is read %.0f ms after" % (
                 memory.get("settle_ms", 300)),
             "the last reply.%s" % (" (--quick: tiny sizes, not a measurement.)" if quick else ""),
             "", "```sh", memory["keys"]["command"], "```", ""] + redis_memory.table_lines(memory) + [""]
    lines += ["## Under attack: lesson 12's server against redis-server", "",
              "Both servers started afresh on loopback (unpinned). During each attack a probe on a",
              "connection of its own (a separate Python process) sends PING and waits for PONG, pausing",
              "%.0f ms between pings, from just before the attack until %.0f ms after it; CPU is the server's" % (
                  attacks["probe_pause_ms"], attacks.get("settle_ms", 1000 * redis_attacks.SETTLE_S)),
              "utime + stime (`/proc/PID/stat`, in clock ticks of %.0f ms) over the same span. The attackers" % (
                  attacks.get("clock_tick_ms", 10.0)),
              "are Python clients on loopback; the load average (1, 5, 15 min) was %s before the attacks" % (
                  ", ".join("%.2f" % x for x in attacks.get("load_before", []))),
              "and %s after." % ", ".join("%.2f" % x for x in attacks.get("load_after", [])),
              "Each attack ran **once** per server, alternating which server went first: on a",
              "machine with %s cores shared with the attacker and the probe, one run's worst latency is" % cores,
              "noisy (a scheduling delay on either side decides it), so read a met or not met with that in mind.%s" % (
                  " (--quick: %.1f s attacks, not a measurement.)" % s["seconds"] if quick else ""),
              ""] + redis_attacks.table_lines(attacks) + [""]
    return lines


def render_page(data, plots):
    """docs/benchmarks.md from the data of one ./tools/bench run."""
    m = data["machine"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by ./tools/bench from docs/benchmarks/results.json; do not edit by hand. -->",
        "",
        "What a wake costs, and what the event loop costs, answered for the finished library (`//:loop`: lesson 10's",
        "Waker, with shared ownership and a pending flag, and lesson 11's EventLoop). What each",
        "benchmark does: [tests/benchmarks/README.md](../tests/benchmarks/README.md).",
        "Every figure below comes from one run of `./tools/bench`, on %s:" % data["date"],
        "",
        "| | |",
        "|---|---|",
        "| CPU | %s |" % m["cpu"],
        "| cores | %s |" % m["cores"],
        "| kernel | %s |" % m["kernel"],
        "| OS | %s |" % m["os"],
        "| load average (1, 5, 15 min) before | %s |" % ", ".join("%.2f" % x for x in m["load_before"]),
        "| load average (1, 5, 15 min) after | %s |" % ", ".join("%.2f" % x for x in m["load_after"]),
        "| Google Benchmark library build | %s |" % m.get("library_build_type", "?"),
        "",
    ]
    if m["load_before"][0] > 0.5 or m["load_after"][0] > 0.5:
        lines += ["**The machine was not idle** (load average above): other processes competed for the",
                  "%s cores, so absolute times are noisy; ratios are taken within one run of one binary." % m["cores"],
                  ""]
    lines += [
        "Commands (pinned: every thread of the benchmark on CPU %s; unpinned: wherever the" % data["pin_cpu"],
        "scheduler puts them):",
        "",
        "```sh",
        " ".join(data["build_command"]),
    ]
    if (data.get("mio") or {}).get("version"):
        lines.append(data["mio"]["build_command"])  # the mio program's rows (tools/mio_peer.py)
    for b in data["binaries"]:
        for mode in ("pinned", "unpinned"):
            if mode in b["runs"]:
                lines.append(" ".join(b["runs"][mode]["command"]))
                lines += [" ".join(c) for c in b["runs"][mode].get("peer_commands", [])]  # mio's rows
    lines += ["```", ""]
    loads = []
    for b in data["binaries"]:
        for mode in ("pinned", "unpinned"):
            la = b["runs"].get(mode, {}).get("load_avg")
            if la:
                loads.append("%s %s: %s" % (b["name"], mode, ", ".join("%.2f" % x for x in la)))
    if loads:
        lines += ["Load average (1, 5, 15 min) as each run started, from Google Benchmark's context: " +
                  "; ".join(loads) + ".", ""]
    runs = ("the median of %d repetitions" % data["repetitions"] if data["repetitions"] > 1
            else "one run (--quick: not a measurement)")
    lines += ["Times are real (wall-clock) ns per iteration, %s (± its coefficient of" % runs,
              "variation across the repetitions); a ratio is the time divided by the baseline's,",
              "measured in the same run of the same binary.", ""]
    redis = data.get("redis")
    stress = data.get("redis_stress")
    lines += ["## Goals", ""] + goal_lines({b["name"]: b["runs"] for b in data["binaries"]}) + \
        calls_goal_lines(data["binaries"]) + \
        (redis_bench.goal_lines(redis) if redis else []) + \
        (redis_memory.goal_lines(stress["memory"]) + redis_attacks.goal_lines(stress["attacks"]) if stress else []) + \
        [""]
    for b in data["binaries"]:
        binary = next(x for x in BINARIES if x.name == b["name"])
        lines += ["## %s" % binary.question, ""]
        base = sorted({r["baseline"] for mode in b["runs"].values() for r in mode["results"].values()
                       if r.get("baseline")})
        if base:
            lines += ["Baseline: %s." % ", ".join("`%s`" % x for x in base), ""]
        if b.get("calls"):
            lines += ["Each row's system calls are counted under `strace -f -c -w` at two fixed iteration",
                      "counts (`ELFS_BENCH_ITERATIONS`), the difference divided by the wakes between them (two",
                      "per round trip), so setup calls drop out. \"Sleeps in\" is the blocking call the row",
                      "spends the most wall-clock time in. The floor is one `write` and one `epoll_wait` per",
                      "wake; rows under `kqueue/` run on the Linux kqueue emulation (loop/port), whose",
                      "`kevent()` is made of several Linux calls.", ""]
        lines += [table(binary, b["runs"], b.get("calls")), ""]
        lines += mio_peer.page_lines(b["name"], data.get("mio"))
        if b["name"] in plots:
            lines += ["![%s](%s)" % (binary.question, plots[b["name"]]), ""]
    if redis:
        lines += ["## redis-benchmark: lesson 12's server against redis-server", "",
                  "Both servers run on loopback, started by `./tools/bench` in the same run: ours is",
                  "`bazel-bin/loop/redis/server` (`-c opt`), theirs is Debian's `redis-server`",
                  "with persistence off. Pinned: each server on CPU 0 and `redis-benchmark` on CPU 1;",
                  "unpinned: no taskset. %d clients; -P 1 with %s requests a test, -P 16 with %s; the" % (
                      redis["clients"], "{:,}".format(int(redis["requests"]["1"])),
                      "{:,}".format(int(redis["requests"]["16"]))),
                  "median of %d runs, alternating between the servers. The ratio is our requests per" % redis["repeats"],
                  "second over redis-server's (higher is better).", "", "```sh"] + redis["commands"] + ["```", "",
                  redis_bench.table(redis), ""]
        if "redis" in plots:
            lines += ["![redis-benchmark](%s)" % plots["redis"], ""]
        calls = redis_bench.syscall_table(redis)
        if calls:
            traced = redis.get("traced_requests", {})
            lines += ["System calls per request of each server, counted in a separate GET run (%s requests)" %
                      ", ".join("{:,} with -P {}".format(traced[k], k[1:]) for k in sorted(traced)),
                      "under `strace -c -f -p PID`. strace slows the server, which then finds more",
                      "events per `epoll_wait`: the read and write counts are exact, `epoll_wait`'s is a floor.",
                      "", calls, ""]
            g = redis_bench.syscall_goal(redis)
            if g:
                lines += ["Goal: at -P 1, ours at or below redis-server's in all calls per request (%.2f against"
                          % g[1], "%.2f): %s." % (g[2], "met" if g[0] else "**not met**"), ""]
    if stress:
        lines += stress_lines(stress, data.get("quick"), m["cores"])
    lines += ["## How the syscall counters count", "",
              "`write_syscalls_per_call`, `read_syscalls_per_call`, `writes_per_wake`: the kernel's",
              "per-thread `syscw`/`syscr` from `/proc/thread-self/io`, read before and after the timed",
              "loop, divided by the iterations (or wakes). They count write- and read-family calls",
              "(write, writev, pwrite, read, ...) and nothing else: the kqueue emulation's `kevent()`",
              "(loop/port) also makes one `epoll_ctl` per call to check its descriptor, which these",
              "counters do not see. `syscalls_per_wake` adds the loop thread's reads and one call per",
              "`Poll::Wait`.", ""]
    return "\n".join(lines)
