"""System calls per thread, from `strace -f -ttt -y`, drawn as an SVG timeline: one column
per thread, time flowing down, a bar for each call that blocked (an epoll_wait asleep),
labelled with fd numbers and what they are (eventfd, pipe, epoll).

./tools/break draws one for an experiment with a `Trace:` line (lesson 09's early drop);
docs/lesson09-timeline.svg is such a drawing (see lessons/09_early_drop/README.md for the
command that makes it). Python 3 standard library only.
"""

import math
import re
from xml.sax.saxutils import escape

SYSCALLS = ("eventfd2", "pipe2", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "write", "read", "close")

_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_FD = re.compile(r"(\d+)<([^>]*)>")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)(?:<[^>]*>)?(?:\s+(E[A-Z]+))?")


class Call:
    def __init__(self, tid, name, start, args):
        self.tid, self.name, self.start, self.args = tid, name, start, args
        self.end = None  # set when the call blocked (<unfinished ...>, then resumed)
        self.result, self.errno = None, None

    def finish(self, tail):
        self.args += tail
        m = _RESULT.search(self.args)
        if m:
            self.result, self.errno = int(m.group(1)), m.group(2)


def kind_of(path):
    if "eventfd" in path:
        return "eventfd"
    if "eventpoll" in path:
        return "epoll"
    if path.startswith("pipe:"):
        return "pipe"
    return None


def parse(text):
    """The calls of an `strace -f -ttt -y` log that touch an eventfd, a pipe or an epoll fd,
    in the order they started."""
    calls, pending = [], {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        tid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
        resumed = _RESUMED.match(rest)
        if resumed:
            call = pending.pop((tid, resumed.group(1)), None)
            if call:
                call.end = ts
                call.finish(resumed.group(2))
            continue
        c = _CALL.match(rest)
        if not c or c.group(1) not in SYSCALLS:
            continue
        call = Call(tid, c.group(1), ts, c.group(2))
        if "<unfinished ...>" in rest:
            pending[(tid, call.name)] = call
        else:
            call.finish("")
        if relevant(call):
            calls.append(call)
    return calls


def fds(call):
    """[(number, kind)] of the descriptors a call names, in order."""
    return [(int(n), kind_of(p)) for n, p in _FD.findall(call.args)]


def relevant(call):
    if call.name in ("eventfd2", "pipe2", "epoll_create1"):
        return True
    named = fds(call)
    return bool(named) and named[0][1] is not None


def _token(call):
    m = re.search(r"u64=(\d+)", call.args)
    return int(m.group(1)) if m else None


def describe(constant, kind):
    """What a test's token constant says about the fd registered with it: kRescueToken ->
    "the test's rescue pipe" (it only unblocks a wait that would sleep forever)."""
    for word, what in (("Rescue", "the test's rescue %s"), ("Wake", "the Waker's %s")):
        if word in constant:
            return what % (kind or "fd")
    return "%s's %s" % (constant, kind or "fd")


def fd_roles(calls, token_names):
    """{fd: "the test's rescue pipe"} for every fd registered with a named token, and the
    other end of its pipe."""
    roles, pairs = {}, {}
    for c in calls:
        named = fds(c)
        if c.name == "pipe2" and len(named) == 2:
            pairs[named[0][0]], pairs[named[1][0]] = named[1][0], named[0][0]
        if c.name == "epoll_ctl" and "EPOLL_CTL_ADD" in c.args and len(named) > 1 and _token(c) in token_names:
            what = describe(token_names[_token(c)], named[1][1])
            roles[named[1][0]] = what
            if named[1][0] in pairs:
                roles[pairs[named[1][0]]] = what
    return roles


def label(call, tokens, roles=None):
    """One line for a call, and a note on what it means (or "")."""
    roles = roles or {}
    named = fds(call)
    first = "%s %d" % (named[0][1], named[0][0]) if named and named[0][1] else ""
    failed = " = -1 %s" % call.errno if call.errno else ""
    if call.name in ("eventfd2", "epoll_create1"):
        return "%s() = %s%s" % (call.name, first or "fd %s" % call.result, failed), ""
    if call.name == "pipe2":
        return "pipe2() = pipe %s%s" % (", ".join(str(n) for n, _ in named), failed), \
            roles.get(named[0][0], "") if named else ""
    if call.name == "epoll_ctl":
        op = re.search(r"EPOLL_CTL_(\w+)", call.args)
        target = "%s %d" % (named[1][1] or "fd", named[1][0]) if len(named) > 1 else "?"
        token = _token(call)
        return "epoll_ctl(%s, %s %s%s)%s" % (first, op.group(1) if op else "?", target,
                                             ", token %d" % token if token is not None else "", failed), \
            roles.get(named[1][0], "") if len(named) > 1 and op and op.group(1) == "ADD" else ""
    if call.name in ("epoll_wait", "epoll_pwait"):
        timeout = re.search(r",\s*(-?\d+)(?:,\s*(?:NULL|\[[^\]]*\]|0x[0-9a-f]+),\s*\d+)?\)\s*=", call.args)
        forever = timeout and timeout.group(1) == "-1"
        got = [int(t) for t in re.findall(r"u64=(\d+)", call.args)]
        seen = ", ".join("token %d%s" % (t, " (%s)" % ", ".join(
            w for w in (tokens[t], roles.get(int(tokens[t].split()[-1]))) if w) if t in tokens else "") for t in got)
        head = "%s(%s%s)" % (call.name, first, ", no timeout" if forever else
                             ", %s ms" % timeout.group(1) if timeout else "")
        return head, ("returns %d event%s%s" % (call.result, "" if call.result == 1 else "s",
                                                 ": " + seen if seen else "") if call.result is not None else "")
    if call.name in ("write", "read"):
        note = ""
        if call.name == "write" and named and named[0][1] == "eventfd" and not call.errno:
            note = "counter + 1: a wake is pending"
        elif call.name == "write" and named and "rescue" in roles.get(named[0][0], ""):
            note = "the test's rescue: it ends the wait"
        return "%s(%s) = %s%s" % (call.name, first, call.result, " " + call.errno if call.errno else ""), note
    if call.name == "close":
        note = "the eventfd and its pending wake are gone" if named and named[0][1] == "eventfd" else ""
        return "close(%s)%s" % (first, failed), note
    return call.name, ""


def missed_wakes(calls, wait, tokens):
    """"nothing for token 42 (eventfd 6)" when an eventfd registered with the waiting epoll
    was written to before the wait began, and the wait did not report its token."""
    got = {int(t) for t in re.findall(r"u64=(\d+)", wait.args)}
    written = {fds(c)[0][0] for c in calls if c.name == "write" and c.start < wait.start and not c.errno
               and fds(c) and fds(c)[0][1] == "eventfd"}
    lost = ["token %d (%s)" % (t, what) for t, what in sorted(tokens.items())
            if t not in got and what.startswith("eventfd ") and int(what.split()[1]) in written]
    return "no %s: %s lost" % (", ".join(lost), "that wake is" if len(lost) == 1 else "those wakes are") if lost else ""


def _lanes(calls, roles):
    """[tid] in the order the threads first appear, and {tid: (role, "thread N, tid T",
    what it does)}: the first thread is the test's; a thread that sleeps in epoll_wait is
    the loop; one that writes to the Waker's fd (or an eventfd) and closes it is the worker
    that wakes and drops its Waker."""
    order, doing = [], {}
    for c in calls:
        if c.tid not in doing:
            order.append(c.tid)
            doing[c.tid] = []
        what = {"epoll_wait": "waits", "epoll_pwait": "waits", "write": "writes", "close": "closes",
                "epoll_ctl": "registers", "eventfd2": "creates", "pipe2": "creates", "epoll_create1": "creates",
                "read": "reads"}[c.name]
        if what not in doing[c.tid]:
            doing[c.tid].append(what)

    def role(i, tid):
        mine = [c for c in calls if c.tid == tid]
        waker = {n for c in mine if c.name == "write" for n, kind in fds(c)[:1]
                 if kind == "eventfd" or "Waker" in roles.get(n, "")}
        if i == 0:
            return "the test's main thread"
        if any(c.name in ("epoll_wait", "epoll_pwait") and c.end is not None for c in mine):
            return "the loop, waiting in Poll::Wait"
        if waker and any(c.name == "close" and fds(c) and fds(c)[0][0] in waker for c in mine):
            return "the worker that wakes and drops the Waker"
        return "a thread that wakes the loop" if waker else "another thread"

    return order, {t: (role(i, t), "thread %d, tid %d" % (i + 1, t), ", ".join(doing[t]))
                   for i, t in enumerate(order)}


def render(calls, title, subtitle, token_names=None):
    """The SVG text. Rows are calls (and the ends of blocking calls) in time order; a long
    gap adds space, on a log scale, and its length is printed. token_names: {7:
    "kRescueToken"}, the test's names for its tokens, which say what their fds are for."""
    if not calls:
        return _svg(640, 120, ['<text x="20" y="60" class="t">No traced call touched an eventfd, a pipe or an '
                               'epoll fd.</text>'], title, subtitle)
    roles = fd_roles(calls, token_names or {})
    order, lanes = _lanes(calls, roles)
    tokens = {}
    for c in calls:
        named = fds(c)
        if c.name == "epoll_ctl" and len(named) > 1 and _token(c) is not None:
            tokens[_token(c)] = "%s %d" % (named[1][1] or "fd", named[1][0])
    for c in calls:
        if c.name in ("epoll_wait", "epoll_pwait") and c.result is not None:
            c.missed = missed_wakes(calls, c, tokens)
    t0 = calls[0].start
    events = sorted([(c.start, 0, c) for c in calls] + [(c.end, 1, c) for c in calls if c.end is not None],
                    key=lambda e: (e[0], e[1]))
    lane_w, time_w, top, row = 380, 120, 148, 34
    width = time_w + lane_w * len(order) + 20
    body, y, last, where = [], top, None, {}
    for i, tid in enumerate(order):
        x = time_w + i * lane_w
        for dy, cls, text in zip((-58, -44, -30), ("h", "t", "n"), lanes[tid]):
            body.append('<text x="%d" y="%d" class="%s">%s</text>' % (x + 8, top + dy, cls, escape(text)))
    for ts, is_end, c in events:
        if last is not None and ts - last > 0.001:
            gap = ts - last
            extra = int(12 * math.log10(1 + gap * 1e3))
            body.append('<text x="10" y="%d" class="g">... %s</text>' % (y + extra // 2, _ms(gap)))
            y += extra + 12
        x = time_w + order.index(c.tid) * lane_w
        head, note = label(c, tokens, roles)
        body.append('<text x="10" y="%d" class="s">+%s</text>' % (y, _ms(ts - t0)))
        if is_end:
            y0 = where[id(c)]
            body.append('<rect x="%d" y="%d" width="10" height="%d" class="b"/>' % (x + 4, y0 - 10, y - y0 + 4))
            result, _, seen = (note or "returns").partition(": ")
            lines = ["%s after %s%s" % (result, _ms(c.end - c.start), ":" if seen else "")]
            lines += seen.split(", token ") if seen else []  # one line per token: a lane is narrow
            lines = lines[:1] + [l if l.startswith("token") else "token " + l for l in lines[1:]]
            for n, text in enumerate(lines + [getattr(c, "missed", "")]):
                if text:
                    body.append('<text x="%d" y="%d" class="e">%s</text>' % (x + 20, y + 13 * n, escape(text)))
            y += 13 * (len(lines) - 1 + bool(getattr(c, "missed", "")))
        else:
            where[id(c)] = y
            body.append('<circle cx="%d" cy="%d" r="4" class="%s"/>' % (x + 9, y - 4, "w" if c.end else "d"))
            body.append('<text x="%d" y="%d" class="c">%s</text>' % (x + 20, y, escape(head)))
            if note and not c.end:
                body.append('<text x="%d" y="%d" class="n">%s</text>' % (x + 20, y + 13, escape(note)))
            elif c.end:
                body.append('<text x="%d" y="%d" class="n">asleep in the kernel</text>' % (x + 20, y + 13))
        last = ts
        y += row
    for i in range(len(order) + 1):
        x = time_w + i * lane_w
        body.insert(0, '<line x1="%d" y1="%d" x2="%d" y2="%d" class="l"/>' % (x, top - 70, x, y))
    body.append('<text x="10" y="%d" class="n">Times: strace -ttt, from the first call shown. A gap longer than '
                '1 ms is drawn shorter than it is; its length is printed.</text>' % (y + 10))
    return _svg(width, y + 26, body, title, subtitle)


def _ms(seconds):
    ms = seconds * 1e3
    return "%.3f ms" % ms if ms < 10 else "%.0f ms" % ms


def _svg(width, height, body, title, subtitle):
    style = ("text{font-family:monospace;font-size:12px;fill:#222}.h{font-weight:bold}.T{font-size:15px;"
             "font-weight:bold}.s{fill:#777}.g{fill:#b00}.n{fill:#666;font-style:italic}.e{fill:#b00}"
             ".l{stroke:#ccc}.b{fill:#f2c4c4;stroke:#b00}.d{fill:#333}.w{fill:#b00}")
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">\n'
            '<style>%s</style>\n<rect width="100%%" height="100%%" fill="white"/>\n'
            '<text x="10" y="24" class="T">%s</text>\n<text x="10" y="44">%s</text>\n%s\n</svg>\n'
            % (width, height, width, height, style, escape(title), escape(subtitle), "\n".join(body)))
