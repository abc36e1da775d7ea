"""Matching a learner's prediction with what happened, for ./tools/break: simple and kind.
A case counts as named when the prediction holds its name (in any spelling), most of the
words of its name, or a word that only a few of the lesson's cases have ("eintr",
"release"): of those, the ones the prediction matches best. A number is read as a count of
failing cases. Python 3 standard library only.
"""

import re

STOP = {"the", "and", "that", "this", "with", "when", "then", "test", "tests", "case", "cases", "fail", "fails",
        "failing", "will", "would", "should", "must", "after", "before", "from", "into", "every", "each", "one",
        "two", "not", "does", "its", "are", "all", "for", "until", "while", "is", "a", "an", "of", "on", "to",
        "it", "in", "no", "by", "at", "or", "be", "as", "if", "pass", "passes", "think", "only", "also", "throw",
        "throws", "thrown"}
NUMBER_WORDS = {"none": 0, "nothing": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def words(text):
    """Lower-case words of text, CamelCase and snake_case split: "EdgeTriggered_x" -> edge, triggered, x."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def _name(case):
    """"Kinds/EarlyDrop.WakeThenDrop/eventfd_on_epoll" -> "WakeThenDrop"."""
    return case.split(".", 1)[-1].split("/")[0]


def _significant(case):
    return [w for w in words(_name(case)) if w not in STOP and len(w) >= 3]


def _same_word(a, b):
    return a == b or (min(len(a), len(b)) >= 5 and (a.startswith(b[:5]) and b.startswith(a[:5])))


def named_cases(prediction, cases):
    """The cases (target, "Suite.Case") of `cases` that the prediction names: by their
    name, by most of its words, or by a word only a few cases have (of those, the ones the
    prediction matches best). The words of a name given in full count for that name only."""
    names = {_name(c) for _, c in cases}
    whole = {n for n in names if len(n) >= 6 and n.lower() in re.sub(r"[^a-z0-9]", "", prediction.lower())}
    rest = prediction
    for n in sorted(whole, key=len, reverse=True):
        rest = re.sub(re.escape(n), " ", rest, flags=re.I)
    # Words of the variants ("kqueue_user_on_kqueue", a typed suite's "OnEpoll") say which
    # variant, not which case: "kqueue_user survives" names no case.
    variants = {w for _, c in cases for v in re.findall(r"/(\w+)", c) for w in words(v)}
    said = [w for w in words(rest) if w not in STOP and len(w) >= 3 and w not in variants]

    def hits(name):
        return [w for w in set(_significant("." + name)) if any(_same_word(w, s) for s in said)]

    rare = max(3, len(names) // 6)
    picked = set(whole)
    for w in said:
        having = {n for n in names if any(_same_word(w, x) for x in _significant("." + n))}
        if len(w) >= 4 and 0 < len(having) <= rare:
            best = max(len(hits(n)) for n in having)
            picked |= {n for n in having if len(hits(n)) == best}
    for n in names:
        sig = set(_significant("." + n))
        if sig and len(hits(n)) * 2 > len(sig) + 1:
            picked.add(n)
    return {(t, c) for t, c in cases if _name(c) in picked}


def predicted_count(prediction):
    """A number of failing cases the prediction states ("3", "three", "none"), or None."""
    for w in words(prediction):
        if w.isdigit() and len(w) <= 3:
            return int(w)
        if w in NUMBER_WORDS:
            return NUMBER_WORDS[w]
    return None


def compare(prediction, failing, everything):
    """Lines that tell the learner how their prediction did."""
    if not prediction.strip():
        return ["You made no prediction this time. Next time, guess first: it is how the lesson sticks."]
    failing = {c for c in failing if c[1] != "*"}
    named = named_cases(prediction, everything)
    lines = []
    count = predicted_count(prediction)
    if count is not None and not named:
        lines.append("You predicted %d failing case%s; %d failed." % (count, "" if count == 1 else "s", len(failing))
                     + (" Right." if count == len(failing) else ""))
    if failing:
        got = failing & named
        lines.append("Your prediction named %d of the %d failing case%s%s" % (
            len(got), len(failing), "" if len(failing) == 1 else "s",
            ": all of them. Well predicted." if got == failing else "." if got else
            ". The failures above are the surprise: that is what this experiment is for."))
        missed = sorted({_name(c) for _, c in failing - named})
        if got and missed:
            lines.append("Not named: %s." % ", ".join(missed[:6]))
    elif not named:
        lines.append("Nothing failed, and your prediction named no test. Well predicted.")
    extra = sorted({_name(c) for _, c in named - failing} - {_name(c) for _, c in failing})
    if extra:
        lines.append("It also named %s, which passed." % ", ".join(extra[:6]))
    return lines
