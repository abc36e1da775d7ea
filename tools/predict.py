"""Reading a learner's prediction and comparing it with what happened, for ./tools/break.

Conservative on purpose: a test case counts as named only when the prediction writes
  - its name in full, in any spelling ("ZeroTimeoutReturnsAtOnce", "EpollTest.ZeroTimeoutReturnsAtOnce",
    "zero_timeout_returns_at_once", or its words spaced out when it has at least three),
  - a pattern with a star ("WaitRetriesEintr*", "RegistryThreadsTest.*"), which names every case it fits,
  - or a part of one name, two words or more, that no other case has ("TwoThreadsRegistering").
Other words name nothing: "the EINTR tests" is prose, and a part that fits several cases
counts for none of them (the learner hears so, and how to write it). A number is a count
("3 fail", "the three ... tests fail", "the other 18 pass").

The prediction is read clause by clause (split at , ; : ( ) . and at "but", "except",
"while", ...). A clause says "pass" or "fail" by its words ("the other 18 pass",
"everything else passes", "X does not fail" say pass); a clause with neither takes the
word of the clause it is listed with. Names in a passing clause are predictions that
those cases pass. The variants of one case (its parameters, a typed suite's types, the
copies of one test in each backend's target) are one case here: it failed when any of
them failed. Python 3 standard library only.
"""

import re

FAIL_WORDS = {"fail", "fails", "failing", "failed", "break", "breaks", "broken", "notice", "notices", "noticed",
              "catch", "catches", "caught", "red", "crash", "crashes", "crashed", "segfault", "segfaults", "dies",
              "die", "died", "abort", "aborts", "aborted", "hang", "hangs", "trip", "trips", "flaky", "fires"}
PASS_WORDS = {"pass", "passes", "passing", "passed", "survive", "survives", "unaffected", "fine", "green", "ok",
              "okay", "succeed", "succeeds", "unharmed", "unchanged", "works", "work", "holds"}
NEGATIONS = {"not", "no", "never", "none", "nothing", "neither", "nor", "nobody", "cannot", "t"}  # t: don't, won't
OPPOSITE = {"except", "apart", "besides"}  # "all pass except X": X takes the other word
CRASH_WORDS = {"crash", "crashes", "crashed", "segfault", "segfaults", "sigsegv", "segmentation", "dies", "die",
               "died", "abort", "aborts", "aborted", "sigabrt", "sigpipe", "sigbus", "sigfpe", "sigill", "killed",
               "signal", "asan", "sanitizer"}
BUILD_WORDS = {"compile", "compiles", "compiler", "build", "builds", "built", "compilation"}
COUNT_NOUNS = {"test", "tests", "case", "cases", "of"}
UNITS = {"ms", "s", "us", "ns", "sec", "secs", "second", "seconds", "millisecond", "milliseconds", "microseconds",
         "byte", "bytes", "kib", "mib", "times", "x", "runs", "run", "fd", "fds", "threads", "thread", "calls",
         "call", "events", "event", "wakes", "wakeups", "percent", "minutes", "early", "late", "more", "less"}
NUMBER_WORDS = {"none": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_SPLIT = re.compile(r"([;:,!?()\[\]]|\.(?=\s|$)|\s[-\u2013\u2014]+\s|\b(?:but|except|apart from|besides|although|"
                    r"though|whereas|while|however|yet|so)\b)", re.I)


def words(text):
    """Lower-case words of text, CamelCase and snake_case split: "EdgeTriggered_x" -> edge, triggered, x."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def _norm(text):
    return re.sub(r"[^a-z0-9]", "", text.lower())


def split_case(case):
    """"Kinds/EarlyDrop.Wake/eventfd_on_epoll" -> ("EarlyDrop.Wake", "eventfd_on_epoll"); a typed
    suite's "EventfdWaker/WakerSuite/OnEpoll.NewWakerIsQuiet" -> ("WakerSuite.NewWakerIsQuiet",
    "OnEpoll"); a plain "FdTest.Release" -> ("FdTest.Release", "")."""
    suite, _, name = case.partition(".")
    parts = suite.split("/")
    if len(parts) == 3:
        return "%s.%s" % (parts[1], name), parts[2]
    base, _, param = name.partition("/")
    return "%s.%s" % (parts[-1], base), param


def key(case):
    """The case that `case` is a variant of: "EarlyDrop.Wake" for all its kinds and backends."""
    return split_case(case)[0]


def short(k):
    return k.split(".", 1)[-1]


def _identifier(token):
    """Whether a word of the prediction is written as a test name could be: CamelCase (two
    capitals), snake_case, Suite.Case, or with a star."""
    if not re.fullmatch(r"[A-Za-z_*][\w*./]*", token) or token.strip("*./_") == "":
        return False
    return "_" in token or "*" in token or "." in token or len(re.findall(r"[A-Z][a-z0-9]+", token)) >= 2


def _sub(part, whole):
    n = len(part)
    return any(whole[i:i + n] == part for i in range(len(whole) - n + 1))


def match(token, keys, variants=()):
    """The case keys ("Suite.Case") a name-like word names, and whether it was too vague:
    ([keys], unclear). unclear: it fits several cases without a star, so it names none.
    A part of a variant's name ("kqueue_user" of kqueue_user_on_kqueue) names no case."""
    if "." in token.strip("*."):
        suite, name = key(token).split(".", 1)
    else:
        suite, name = None, token.split("/")[0]
    if "*" in token:
        def pattern(p):
            return re.compile(".*".join(re.escape(_norm(piece)) for piece in p.split("*")))
        n_re, s_re = pattern(name or "*"), pattern(suite) if suite else None
        return [k for k in keys if n_re.fullmatch(_norm(short(k))) and
                (s_re is None or s_re.fullmatch(_norm(k.split(".")[0])))], False
    exact = [k for k in keys if _norm(short(k)) == _norm(name) and (suite is None or _norm(k.split(".")[0]) ==
                                                                    _norm(suite))]
    if exact or suite is not None:
        return exact, False
    part = words(name)
    if any(_sub(part, words(v)) for v in variants):
        return [], False
    fits = [k for k in keys if _sub(part, words(short(k)))] if len(part) >= 2 and len(_norm(name)) >= 8 else []
    if len(fits) == 1:
        return fits, False
    suites = [k for k in keys if _norm(k.split(".")[0]) == _norm(name)]
    return [], len(fits) > 1 or bool(suites)


class Reading:
    """What a prediction says."""

    def __init__(self):
        self.failing = {}  # case key -> [the words that named it]
        self.passing = {}  # case key -> [words], named in a clause that says they pass
        self.unclear = []  # (word, [keys it fits]): names none of them
        self.fail_count = self.pass_count = None
        self.crash = self.no_build = False
        self.words = {}  # "fail", "pass", "crash", "build" -> the word that said so


def clauses(prediction):
    """[(clause, polarity)]: "fail", "pass" (from its own words or its neighbours')."""
    pieces = _SPLIT.split(prediction)
    out, opposite, seps = [], False, []
    for i, piece in enumerate(pieces):
        if i % 2:
            seps.append(piece.strip().lower())
            continue
        out.append([piece, _polarity(piece), opposite])
        opposite = bool(i + 1 < len(pieces) and pieces[i + 1].strip().lower().split(" ")[0] in OPPOSITE)
    for i, c in enumerate(out):  # "X, Y and Z fail": the list items take the verb that follows
        if c[1] is None and i and c[2]:
            c[1] = {"fail": "pass", "pass": "fail"}.get(out[i - 1][1])
    for i in range(len(out) - 2, -1, -1):
        if out[i][1] is None and seps[i] == ",":
            out[i][1] = out[i + 1][1]
    for i in range(1, len(out)):
        if out[i][1] is None:
            out[i][1] = out[i - 1][1]
    return [(c[0], c[1] or "fail") for c in out]


def _prose(clause):
    return [w for t in clause.split() if not _identifier(t.strip("\"'`,.;:!?()")) for w in words(t)]


def _polarity(clause):
    prose = _prose(clause)
    for i, w in enumerate(prose):
        if w in FAIL_WORDS or w in PASS_WORDS:
            negated = any(p in NEGATIONS for p in prose[max(0, i - 3):i])
            return ("pass" if w in FAIL_WORDS else "fail") if negated else ("fail" if w in FAIL_WORDS else "pass")
    return None


def _count(clause):
    """(number, its word, polarity or None) for a number of cases the clause states: a
    number followed (within three words) by test/case or a pass/fail word, not by a unit.
    "nothing fails", "no test fails" are (0, .., "fail"). None if it states none."""
    tokens = [t.strip("\"'`,.;:!?()").lower() for t in clause.split()]
    tokens = [t for t in tokens if t]
    if tokens and tokens[0] in ("no", "nothing", "none", "zero", "0") and any(
            w in FAIL_WORDS for w in _prose(clause)):
        return 0, tokens[0], "fail"
    for i, t in enumerate(tokens):
        n = int(t) if t.isdigit() and len(t) <= 3 else NUMBER_WORDS.get(t)
        if n is None:
            continue
        after = tokens[i + 1:i + 4]
        if after and after[0] in UNITS or after[:1] == ["of"] and len(after) > 1 and after[1].isdigit():
            continue
        if not after and len(tokens) == 1:
            return n, t, None
        for a in after:
            if a in UNITS:
                break
            if a in COUNT_NOUNS or a in FAIL_WORDS or a in PASS_WORDS:
                return n, t, None
    return None


def read(prediction, cases):
    """Reads a prediction against the lesson's cases ("Suite.Case", with variants or not)."""
    r = Reading()
    keys = sorted({key(c) for c in cases})
    variants = {split_case(c)[1] for c in cases} - {""}
    for clause, polarity in clauses(prediction):
        named = r.failing if polarity == "fail" else r.passing
        rest = []
        for raw in clause.split():
            token = raw.strip("\"'`,.;:!?()<>")
            if not _identifier(token):
                rest.append(token)
                continue
            got, unclear = match(token, keys, variants)
            for k in got:
                named.setdefault(k, []).append(token)
            if unclear:
                r.unclear.append((token, [k for k in keys if _sub(words(token), words(k))]))
            rest.append("")  # a name ends a spaced-out one
        prose = [words(t) or [""] for t in rest]
        prose = [w for ws in prose for w in ws]
        for k in keys:  # a name of three words or more, spaced out: "wake then drop before poll"
            name = words(short(k))
            if len(name) >= 3 and _sub(name, prose) and k not in named:
                named.setdefault(k, []).append(" ".join(name))
        count = _count(clause)
        if count is not None:
            n, word, forced = count
            if (forced or polarity) == "fail" and r.fail_count is None:
                r.fail_count, r.words["fail"] = n, word
            elif (forced or polarity) == "pass" and r.pass_count is None:
                r.pass_count, r.words["pass"] = n, word
        said = set(words(clause))
        if polarity == "fail" and said & CRASH_WORDS and not r.crash:
            r.crash, r.words["crash"] = True, sorted(said & CRASH_WORDS)[0]
        if said & BUILD_WORDS and said & (NEGATIONS | FAIL_WORDS | {"error", "errors"}) and not r.no_build:
            r.no_build, r.words["build"] = True, sorted(said & BUILD_WORDS)[0]
    for k in r.failing:  # "X fails on kqueue; on epoll X passes": one case, predicted to fail
        r.passing.pop(k, None)
    return r


def named_cases(prediction, cases):
    """The cases (target, "Suite.Case") the prediction names as failing, with their variants."""
    named = read(prediction, [c for _, c in cases]).failing
    return {(t, c) for t, c in cases if key(c) in named}


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _list(keys, most=6):
    keys = sorted(keys)
    return ", ".join(short(k) for k in keys[:most]) + (" and %d more" % (len(keys) - most) if len(keys) > most else "")


def how_it_was_read(r):
    """Lines that show which words of the prediction counted, and as what."""
    lines = []
    for what, named in (("as failing", r.failing), ("as passing", r.passing)):
        by_word = {}
        for k, ws in sorted(named.items()):
            for w in dict.fromkeys(ws):
                by_word.setdefault(w, []).append(k)
        for w, ks in by_word.items():
            several = len(ks) > 1 or "*" in w
            lines.append('  "%s" named %s %s%s' % (w, _plural(len(ks), "case") if several else "a case", what,
                                                   "" if [short(k) for k in ks] == [w] else ": " + _list(ks)))
    for w, ks in r.unclear:
        lines.append('  "%s" fits %s, so it counts for none: write a name in full, or %s* for all of them.'
                     % (w, _plural(len(ks), "case") if ks else "a suite", w.rstrip("*")))
    if r.fail_count is not None:
        lines.append('  "%s": a count, %d failing' % (r.words["fail"], r.fail_count))
    if r.pass_count is not None:
        lines.append('  "%s": a count, %d passing' % (r.words["pass"], r.pass_count))
    if r.crash:
        lines.append('  "%s": a crash' % r.words["crash"])
    if r.no_build:
        lines.append('  "%s": it does not build' % r.words["build"])
    return ["How your prediction was read:"] + lines if lines else \
        ["Your prediction named no test case and gave no count, so there is nothing to compare by name. "
         "(A case counts when you write its name, a part of it no other case has, or a prefix with *, "
         "e.g. WaitRetriesEintr*.)"]


def compare(prediction, failing, passed, whole=None, known=()):
    """Lines that tell the learner how their prediction did. failing, passed: (target, case);
    whole: {target: "crash" or "build"} for targets that gave no per-case results; known:
    more (target, case) of the lesson (the cases of such a target, which did not report)."""
    if not prediction.strip():
        return ["You made no prediction this time. Next time, guess first: it is how the lesson sticks."]
    whole = dict(whole or {})
    failing = [(t, c) for t, c in failing if c != "*"]
    failed = {key(c) for _, c in failing}
    ran = failed | {key(c) for _, c in passed}
    held = ran - failed  # every variant passed
    r = read(prediction, [c for _, c in list(failing) + list(passed) + list(known) if c != "*"])
    lines = how_it_was_read(r)
    unreported = sorted((set(r.failing) | set(r.passing)) - ran)
    if unreported:
        lines.append("%s gave no result of %s own, so %s cannot be compared." % (
            _list(unreported), "its" if len(unreported) == 1 else "their", "it" if len(unreported) == 1 else "they"))
    for target, kind in sorted(whole.items()):
        if kind == "build":
            lines.append("%s did not build, so none of its cases ran. %s" % (target, (
                "You said so: right." if r.no_build else "Your prediction did not say it would not build.")))
        elif kind == "timeout":
            lines.append("%s ran out of time before it could report its cases one by one." % target)
        else:
            lines.append("%s died before it could report its cases one by one: a crash. %s" % (target, (
                "You predicted a crash: right." if r.crash else
                "Your prediction did not speak of a crash: that is the surprise this experiment is for.")))
    got = set(r.failing) & failed
    if failed and r.failing:
        lines.append("Your prediction named %d of the %d failing case%s%s" % (
            len(got), len(failed), "" if len(failed) == 1 else "s",
            ": all of them. Well predicted." if got == failed else "." if got else
            ". The failures above are the surprise: that is what this experiment is for."))
        if got and got != failed:
            lines.append("Not named: %s." % _list(failed - got))
    wrong = sorted(set(r.failing) & held)
    if wrong:
        lines.append("You said %s would fail; %s." % (_list(wrong), "it passed" if len(wrong) == 1 else "they passed"))
    surprised = sorted(set(r.passing) & failed)
    if surprised:
        lines.append("You said %s would pass; %s." % (_list(surprised), "it failed" if len(surprised) == 1 else
                                                        "they failed"))
    cases = len(failing)
    if r.fail_count is not None and not whole:
        right = r.fail_count in (cases, len(failed))
        lines.append("You said %d would fail; %s%s" % (
            r.fail_count, "%d did" % cases if cases == len(failed) else
            "%d cases did (%d, counting each case's variants once)" % (cases, len(failed)),
            ". Right." if right else "."))
    if r.pass_count is not None and not whole:
        passing = len(passed)
        right = r.pass_count in (passing, len(held))
        lines.append("You said %d would pass; %s%s" % (
            r.pass_count, "%d did" % passing if passing == len(held) else
            "%d cases did (%d, counting each case's variants once)" % (passing, len(held)),
            ". Right." if right else "."))
    if not failed and not whole:
        if r.failing:
            lines.append("Nothing failed.")
        elif r.fail_count in (None, 0):
            lines.append("Nothing failed, and your prediction named no failing test. Well predicted.")
    if r.crash and not any(kind == "crash" for kind in whole.values()):
        lines.append("You predicted a crash; no test binary crashed.")
    return lines
