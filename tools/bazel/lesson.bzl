"""One lesson, built twice: the learner's code and the reference solution.

Each lesson lives in two packages with the same file names:

    lessons/NN_name/    starter code the learner edits, README.md, HINTS.md, *_test.cc
    solutions/NN_name/  the reference code

Both BUILD.bazel files are the same file (./tools/check compares them byte for byte)
and make one call:

    lesson(
        name = "fd",                      # the library; headers are #include "loop/<hdr>"
        srcs = ["fd.cc"],
        hdrs = ["fd.h"],
        tests = ["fd_test.cc"],           # always read from lessons/NN_name/
        deps = ["//solutions/00_workflow:workflow"],   # earlier lessons: their *solutions*
    )

so the very same test files run against both. Earlier lessons are always taken from
`solutions/`, which lets a learner start at any lesson. The build enforces it: a library
in `lessons/` is visible only to its own package (its tests), so a later lesson, `tests/`
or `//:loop` that named learner code would fail to build.

Two optional arguments cover what some lessons need:

    backends = ["epoll", "kqueue"]     # each test file is built once per backend:
                                       # poll_test.cc -> poll_epoll_test, poll_kqueue_test,
                                       # compiled with LOOP_TEST_BACKEND=kEpoll / kKqueue
    test_library = "waker_suite",      # header-only test helpers that live beside the
    test_library_hdrs = ["waker_suite.h"],  # tests in lessons/NN_name and that later
                                       # lessons' tests use: //lessons/NN_name:waker_suite
    earlier_tests = ["//lessons/09_early_drop:early_drop_test.cc"],
                                       # an earlier lesson's test file, run again against
                                       # this lesson's library: early_drop_test here too
    benchmarks = ["pending_wake_benchmark.cc"],
                                       # Google Benchmark programs (cc_binary), for
                                       # `bazel run -c opt //lessons/NN_name:pending_wake_benchmark`
    given = ["event_loop_given.cc"],   # sources the learner reads but does not edit:
                                       # they live once, in lessons/NN_name, and both
                                       # libraries compile that one copy
    binaries = ["server_main.cc"],     # programs on the library (cc_binary "server"),
                                       # for `bazel run //lessons/NN_name:server`
"""

_BACKEND_DEFINES = {
    "epoll": "LOOP_TEST_BACKEND=kEpoll",
    "kqueue": "LOOP_TEST_BACKEND=kKqueue",
}

def _lesson_dir():
    pkg = native.package_name()
    parts = pkg.split("/")
    if len(parts) != 2 or parts[0] not in ("lessons", "solutions"):
        fail("lesson() belongs in lessons/NN_name or solutions/NN_name, not in " + pkg)
    return parts[1]

def _is_learner_package():
    return native.package_name().startswith("lessons/")

def _loop_cc_library(name, **kwargs):
    """A cc_library of this package whose headers are included as "loop/<header>"."""
    native.cc_library(
        name = name,
        include_prefix = "loop",
        strip_include_prefix = "/" + native.package_name(),
        **kwargs
    )

def lesson_library(name, srcs = [], hdrs = [], deps = [], **kwargs):
    """A library whose headers are included as "loop/<header>" from either package.

    The reference library is public; the learner's is private to its package, so that
    nothing outside the lesson can come to depend on code a learner is still writing."""
    _loop_cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        deps = deps + ["//tools/support"],
        visibility = ["//visibility:private"] if _is_learner_package() else ["//visibility:public"],
        **kwargs
    )

def lesson_test(name, src, deps = [], local_defines = [], size = "small", **kwargs):
    """One cc_test built from lessons/NN_name/<src>, run under the deadline watchdog."""
    native.cc_test(
        name = name,
        srcs = ["//lessons/%s:%s" % (_lesson_dir(), src)],
        deps = deps + ["//tools/testing", "//tools/testing:main"],
        local_defines = local_defines,
        size = size,
        **kwargs
    )

def lesson(
        name,
        srcs = [],
        hdrs = [],
        tests = [],
        deps = [],
        test_deps = [],
        backends = [],
        test_library = None,
        test_library_hdrs = [],
        test_library_deps = [],
        earlier_tests = [],
        benchmarks = [],
        given = [],
        binaries = [],
        **kwargs):
    """The library `name` plus its tests: one per file in `tests`, or one per file and
    backend when `backends` is set."""
    given_srcs = ["//lessons/%s:%s" % (_lesson_dir(), g) for g in given]
    lesson_library(name = name, srcs = srcs + given_srcs, hdrs = hdrs, deps = deps, **kwargs)
    if _is_learner_package():
        # The tests, the given sources and the lesson text live here;
        # solutions/NN_name reads them.
        native.exports_files(
            tests + benchmarks + given + binaries + native.glob(["*.md"]),
            visibility = ["//visibility:public"],
        )
        if test_library:
            _loop_cc_library(
                name = test_library,
                testonly = True,
                hdrs = test_library_hdrs,
                visibility = ["//visibility:public"],
                deps = test_library_deps + ["//tools/testing", "@googletest//:gtest"],
            )
    for label in earlier_tests:
        src = label.split(":")[-1]
        if not label.startswith("//lessons/") or not src.endswith("_test.cc"):
            fail("earlier_tests names a test file of an earlier lesson, like " +
                 "//lessons/09_early_drop:early_drop_test.cc, not " + label)
        native.cc_test(
            name = src[:-len(".cc")],
            srcs = [label],
            deps = [":" + name] + test_deps + ["//tools/testing", "//tools/testing:main"],
            size = "small",
        )
    for b in benchmarks:
        if not b.endswith("_benchmark.cc"):
            fail("benchmark files are named *_benchmark.cc, not " + b)
        native.cc_binary(
            name = b[:-len(".cc")],
            srcs = ["//lessons/%s:%s" % (_lesson_dir(), b)],
            deps = [":" + name, "//tools/support", "@benchmark"],
            linkopts = ["-pthread"],
        )
    for b in binaries:
        if not b.endswith("_main.cc"):
            fail("program files are named *_main.cc, not " + b)
        native.cc_binary(
            name = b[:-len("_main.cc")],
            srcs = ["//lessons/%s:%s" % (_lesson_dir(), b)],
            deps = [":" + name],
            linkopts = ["-pthread"],
            visibility = ["//visibility:private"] if _is_learner_package() else ["//visibility:public"],
        )
    for t in tests:
        if not t.endswith("_test.cc"):
            fail("test files are named *_test.cc, not " + t)
        test_deps_all = [":" + name] + test_deps
        if test_library:
            test_deps_all.append("//lessons/%s:%s" % (_lesson_dir(), test_library))
        if not backends:
            lesson_test(name = t[:-len(".cc")], src = t, deps = test_deps_all)
            continue
        for b in backends:
            if b not in _BACKEND_DEFINES:
                fail("unknown backend %r; expected one of %s" % (b, sorted(_BACKEND_DEFINES)))
            lesson_test(
                name = "%s_%s_test" % (t[:-len("_test.cc")], b),
                src = t,
                local_defines = [_BACKEND_DEFINES[b]],
                deps = test_deps_all,
            )
