"""One lesson: the learner's code, compiled with what the library gives, and its tests.

A lesson package (lessons/NN_name) holds what the learner reads and edits: README.md,
HINTS.md, the starter files and the tests, and one call:

    lesson(
        name = "fd",                  # the learner's library
        srcs = ["fd.cc"],             # the starter files the learner edits
        given = ["//loop:fd.h"],      # library files compiled with them, unchanged:
                                      # headers (.h) and given sources (.cc)
        deps = ["//loop:sys_error"],  # what those files need from the library
        tests = ["fd_test.cc"],       # one cc_test each, against the learner's library
    )

The files the learner edits *become* files of the library (loop/fd.cc for lesson 01's
fd.cc) or, for a stage the library outgrows, files under solutions/NN_name; the
manifest (lessons/manifest.txt) names that reference for each edited file, and
./tools/check proves it by copying every reference over its starter in a scratch
checkout and running these very tests there. So a lesson's library stands in for one
library target: its srcs and given files together are that target's files, and a test
never links both.

The learner's library is visible only to its own package: nothing outside the lesson
can come to depend on code a learner is still writing, and the library never depends
on a lesson (tools/check_layering.sh asks bazel query).

Optional arguments:

    hdrs = ["arc.h"]                   # headers the learner edits (lessons 08 and 09);
                                       # tests include them by their path, "lessons/08_arc/arc.h"
    test_deps = ["//tests/support:pipes"]   # more deps of the tests
    backends = ["epoll", "kqueue"]     # each test file is built once per backend:
                                       # poll_test.cc -> poll_epoll_test, poll_kqueue_test,
                                       # compiled with LOOP_TEST_BACKEND=kEpoll / kKqueue
    benchmarks = ["pending_wake_benchmark.cc"]   # Google Benchmark programs (cc_binary),
                                       # `bazel run -c opt //lessons/NN_name:pending_wake_benchmark`
    binaries = ["//loop/redis:server_main.cc"]   # programs on the learner's library: the
                                       # cc_binary "server", `bazel run //lessons/NN_name:server`
    target_compatible_with = ["@platforms//os:linux"]   # on every target of the lesson: where
                                       # Bazel builds it (docs/platforms.md says why, per target)
"""

_BACKEND_DEFINES = {
    "epoll": "LOOP_TEST_BACKEND=kEpoll",
    "kqueue": "LOOP_TEST_BACKEND=kKqueue",
}

_TEST_SUPPORT = ["//tests/support", "//tests/support:main"]

def _check_package():
    pkg = native.package_name()
    parts = pkg.split("/")
    if len(parts) != 2 or parts[0] != "lessons":
        fail("lesson() belongs in lessons/NN_name, not in " + pkg)

def _basename(label):
    return label.split(":")[-1].split("/")[-1]

def lesson(
        name,
        srcs = [],
        hdrs = [],
        given = [],
        deps = [],
        tests = [],
        test_deps = [],
        backends = [],
        benchmarks = [],
        binaries = [],
        target_compatible_with = None):
    """The learner's library `name`, its tests (one per file in `tests`, or one per file
    and backend when `backends` is set), benchmarks and programs."""
    _check_package()
    native.cc_library(
        name = name,
        srcs = srcs + [g for g in given if not g.endswith(".h")],
        hdrs = hdrs + [g for g in given if g.endswith(".h")],
        deps = deps + ["//lessons:todo"],
        linkopts = ["-pthread"],
        visibility = ["//visibility:private"],
        target_compatible_with = target_compatible_with,
    )
    native.exports_files(native.glob(["*.md"]), visibility = ["//visibility:public"])
    for b in benchmarks:
        if not b.endswith("_benchmark.cc"):
            fail("benchmark files are named *_benchmark.cc, not " + b)
        native.cc_binary(
            name = b[:-len(".cc")],
            srcs = [b],
            deps = [":" + name, "@benchmark"] + test_deps,
            testonly = True,
            linkopts = ["-pthread"],
            target_compatible_with = target_compatible_with,
        )
    for b in binaries:
        src = _basename(b)
        if not src.endswith("_main.cc"):
            fail("program files are named *_main.cc, not " + b)
        native.cc_binary(
            name = src[:-len("_main.cc")],
            srcs = [b],
            deps = [":" + name],
            linkopts = ["-pthread"],
            target_compatible_with = target_compatible_with,
        )
    for t in tests:
        if not t.endswith("_test.cc"):
            fail("test files are named *_test.cc, not " + t)
        deps_all = [":" + name] + test_deps + _TEST_SUPPORT
        if not backends:
            native.cc_test(
                name = t[:-len(".cc")],
                srcs = [t],
                deps = deps_all,
                size = "small",
                target_compatible_with = target_compatible_with,
            )
            continue
        for b in backends:
            if b not in _BACKEND_DEFINES:
                fail("unknown backend %r; expected one of %s" % (b, sorted(_BACKEND_DEFINES)))
            native.cc_test(
                name = "%s_%s_test" % (t[:-len("_test.cc")], b),
                srcs = [t],
                local_defines = [_BACKEND_DEFINES[b]],
                deps = deps_all,
                size = "small",
                target_compatible_with = target_compatible_with,
            )
