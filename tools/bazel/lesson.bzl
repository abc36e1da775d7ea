"""One lesson, built twice: the learner's code and the reference solution.

Each lesson lives in two packages with the same file names:

    lessons/NN_name/    starter code the learner edits, README.md, HINTS.md, *_test.cc
    solutions/NN_name/  the reference code

Both BUILD files make the same one call:

    lesson(
        name = "fd",                      # the library; headers are #include "loop/<hdr>"
        srcs = ["fd.cc"],
        hdrs = ["fd.h"],
        tests = ["fd_test.cc"],           # always read from lessons/NN_name/
        deps = ["//solutions/00_workflow:workflow"],   # earlier lessons: their *solutions*
    )

so the very same test files run against both. Earlier lessons are always taken from
`solutions/`, which lets a learner start at any lesson.
"""

def _lesson_dir():
    pkg = native.package_name()
    parts = pkg.split("/")
    if len(parts) != 2 or parts[0] not in ("lessons", "solutions"):
        fail("lesson() belongs in lessons/NN_name or solutions/NN_name, not in " + pkg)
    return parts[1]

def lesson_library(name, srcs = [], hdrs = [], deps = [], **kwargs):
    """A library whose headers are included as "loop/<header>" from either package."""
    native.cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        include_prefix = "loop",
        strip_include_prefix = "/" + native.package_name(),
        deps = deps + ["//tools/support"],
        visibility = ["//visibility:public"],
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

def lesson(name, srcs = [], hdrs = [], tests = [], deps = [], test_deps = [], **kwargs):
    """The library `name` plus one test per file in `tests` (named after the file)."""
    lesson_library(name = name, srcs = srcs, hdrs = hdrs, deps = deps, **kwargs)
    if native.package_name().startswith("lessons/"):
        native.exports_files(
            tests + native.glob(["*.md"]),
            visibility = ["//visibility:public"],
        )
    for t in tests:
        lesson_test(
            name = t[:-len(".cc")],
            src = t,
            deps = [":" + name] + test_deps,
        )
