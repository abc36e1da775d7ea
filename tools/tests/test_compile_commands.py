"""Tests of tools/compile_commands.py on a small canned `bazel aquery --output=jsonproto`
and `bazel query --output=xml`, and of the Bazel commands it runs (with a fake bazel)."""

import io
import json
import os
import shutil
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import compile_commands as cc  # noqa: E402
from workshop_common import UsageError  # noqa: E402

WS = "/ws"
EXECROOT = "/ob/execroot/event_loop_from_scratch"
OB = "/ob"


def _compile(src, out, *extra):
    return ["/usr/bin/gcc", "-U_FORTIFY_SOURCE", "-Wunused-but-set-parameter", "-Wno-free-nonheap-object",
            "-std=c++0x", "-MD", "-MF", out + ".d", "-frandom-seed=" + out, "-fPIC"] + list(extra) + [
            "-iquote", ".", "-iquote", "bazel-out/k8-fastbuild/bin", "-iquote", "external/googletest",
            "-isystem", "external/googletest/include", "-std=c++17", "-fno-canonical-system-headers",
            '-D__DATE__="redacted"', "-c", src, "-o", out]


VI = "-Ibazel-out/k8-fastbuild/bin/%s/_virtual_includes/%s"
SYS_EVENT = VI % ("loop/port", "sys_event")
# What Bazel 4.2.3's aquery prints, cut down: the learner's library, its test built once per
# backend, a library source compiled by the library and, as a file a lesson is given, by
# that lesson, a file of another repository, and a test of the library.
AQUERY = {
    "targets": [
        {"id": 1, "label": "//lessons/05_registry:registry"},
        {"id": 2, "label": "//lessons/05_registry:registry_kqueue_test"},
        {"id": 3, "label": "//lessons/05_registry:registry_epoll_test"},
        {"id": 4, "label": "//lessons/04_poll:selector"},
        {"id": 5, "label": "@googletest//:gtest"},
        {"id": 6, "label": "//tests/contract:final_waker_contract_test"},
        {"id": 7, "label": "//loop:selector"},
    ],
    "actions": [
        {"targetId": 1, "mnemonic": "CppCompile", "arguments": _compile(
            "lessons/05_registry/registry.cc", "bazel-out/k8-fastbuild/bin/lessons/05_registry/_objs/r/registry.pic.o",
            SYS_EVENT)},
        {"targetId": 2, "mnemonic": "CppCompile", "arguments": _compile(
            "lessons/05_registry/registry_test.cc", "bazel-out/k8-fastbuild/bin/lessons/05_registry/k.o",
            "-DLOOP_TEST_BACKEND=kKqueue", SYS_EVENT)},
        {"targetId": 4, "mnemonic": "CppCompile", "arguments": _compile(
            "loop/selector.cc", "bazel-out/k8-fastbuild/bin/lessons/04_poll/_objs/s/selector.pic.o",
            "-DFROM_THE_LESSON", SYS_EVENT)},
        {"targetId": 3, "mnemonic": "CppCompile", "arguments": _compile(
            "lessons/05_registry/registry_test.cc", "bazel-out/k8-fastbuild/bin/lessons/05_registry/e.o",
            "-DLOOP_TEST_BACKEND=kEpoll", SYS_EVENT)},
        {"targetId": 5, "mnemonic": "CppCompile", "arguments": _compile("external/googletest/src/gtest.cc", "g.o")},
        {"targetId": 6, "mnemonic": "CppCompile", "arguments": _compile(
            "tests/contract/final_waker_contract_test.cc", "bazel-out/k8-fastbuild/bin/tests/f.o", SYS_EVENT)},
        {"targetId": 7, "mnemonic": "CppCompile", "arguments": _compile(
            "loop/selector.cc", "bazel-out/k8-fastbuild/bin/loop/_objs/selector/selector.pic.o", SYS_EVENT)},
        {"targetId": 1, "mnemonic": "CppLink", "arguments": ["/usr/bin/gcc", "-o", "x"]},
    ],
}

QUERY_XML = textwrap.dedent("""\
    <?xml version="1.1" encoding="UTF-8" standalone="no"?>
    <query version="2">
        <rule class="alias" location="/ws/BUILD.bazel:7:6" name="//:loop">
            <label name="actual" value="//loop:loop"/>
        </rule>
        <rule class="cc_library" location="/ws/loop/BUILD.bazel:150:11" name="//loop:loop">
            <list name="deps"><label value="//loop:arc"/></list>
            <list name="hdrs"><label value="//loop:loop.h"/></list>
        </rule>
        <rule class="cc_library" location="/ws/loop/BUILD.bazel:90:11" name="//loop:arc">
            <list name="srcs"/>
            <list name="hdrs"><label value="//loop:arc.h"/></list>
        </rule>
        <rule class="cc_library" location="/ws/lessons/05_registry/BUILD.bazel:4:7" name="//lessons/05_registry:registry">
            <list name="srcs">
                <label value="//lessons/05_registry:registry.cc"/>
                <label value="//lessons/05_registry:detail.h"/>
            </list>
            <list name="hdrs"><label value="//lessons/05_registry:registry.h"/></list>
            <list name="deps"><label value="@googletest//:gtest"/></list>
        </rule>
        <rule class="cc_test" location="/ws/tests/contract/BUILD.bazel:1:8" name="//tests/contract:final_waker_contract_test">
            <list name="srcs"><label value="//tests/contract:final_waker_contract_test.cc"/></list>
            <list name="deps"><label value="//:loop"/></list>
        </rule>
    </query>
    """)


def entries(rules=None):
    return {e["file"]: e for e in cc.entries_from_aquery(AQUERY, WS, EXECROOT, OB, rules)}


class ArgumentsTest(unittest.TestCase):
    def test_paths_work_from_the_workspace_root(self):
        args = cc.editor_arguments(AQUERY["actions"][0]["arguments"], EXECROOT, OB)
        self.assertIn("-I" + EXECROOT + "/bazel-out/k8-fastbuild/bin/loop/port/_virtual_includes/sys_event", args)
        self.assertEqual(args[args.index("-isystem") + 1], OB + "/external/googletest/include")
        i = [n for n, a in enumerate(args) if a == "-iquote"]
        self.assertEqual([args[n + 1] for n in i],
                         [".", EXECROOT + "/bazel-out/k8-fastbuild/bin", OB + "/external/googletest"])
        self.assertEqual(args[args.index("-c") + 1], "lessons/05_registry/registry.cc")  # the real file
        self.assertEqual(args[0], "/usr/bin/gcc")
        self.assertIn('-D__DATE__="redacted"', args)

    def test_gcc_only_and_output_options_are_dropped(self):
        args = cc.editor_arguments(AQUERY["actions"][0]["arguments"], EXECROOT, OB)
        for gone in ("-fno-canonical-system-headers", "-MD", "-MF", "-o"):
            self.assertNotIn(gone, args)
        for kept in ("-Wunused-but-set-parameter", "-Wno-free-nonheap-object"):  # clang knows them
            self.assertIn(kept, args)
        self.assertFalse([a for a in args if a.startswith("-frandom-seed") or a.endswith((".o", ".d"))], args)
        self.assertEqual(args.count("-std=c++17"), 1)

    def test_source_of(self):
        self.assertEqual(cc.source_of(["gcc", "-c", "a.cc", "-o", "a.o"]), "a.cc")
        self.assertIsNone(cc.source_of(["gcc", "-o", "a"]))

    def test_query_names_every_pattern(self):
        self.assertEqual(cc.query(["//a/...", "//:loop"]), 'mnemonic("CppCompile", //a/... + //:loop)')


class EntriesTest(unittest.TestCase):
    def test_one_entry_per_source_with_absolute_workspace_paths(self):
        got = cc.entries_from_aquery(AQUERY, WS, EXECROOT, OB)
        self.assertEqual([e["file"] for e in got], ["/ws/lessons/05_registry/registry.cc",
                                                    "/ws/lessons/05_registry/registry_test.cc",
                                                    "/ws/loop/selector.cc",
                                                    "/ws/tests/contract/final_waker_contract_test.cc"])
        self.assertEqual({e["directory"] for e in got}, {WS})
        json.dumps(got)  # serializable as it is

    def test_the_target_in_the_files_package_wins_then_the_first_label(self):
        args = entries()["/ws/lessons/05_registry/registry_test.cc"]["arguments"]
        self.assertIn("-DLOOP_TEST_BACKEND=kEpoll", args)  # registry_epoll_test < registry_kqueue_test
        # loop/selector.cc, which lesson 04 is given, gets the library's own command.
        self.assertNotIn("-DFROM_THE_LESSON", entries()["/ws/loop/selector.cc"]["arguments"])

    def test_other_repositories_and_other_actions_are_left_out(self):
        self.assertFalse([f for f in entries() if "external" in f or "gtest" in f])

    def test_headers_get_their_target_or_a_dependent_target(self):
        got = entries(cc.rules_from_query_xml(QUERY_XML))
        reg = got["/ws/lessons/05_registry/registry.h"]["arguments"]
        self.assertEqual(reg[reg.index("-c"):reg.index("-c") + 4], ["-c", "-x", "c++-header",
                                                                     "lessons/05_registry/registry.h"])
        self.assertIn("/ws/lessons/05_registry/detail.h", got)  # a header in srcs
        # Header-only libraries have no compile of their own: the test that uses them (through
        # the alias //:loop) lends its command.
        for header in ("/ws/loop/loop.h", "/ws/loop/arc.h"):
            args = got[header]["arguments"]
            self.assertIn(os.path.relpath(header, WS), args)
            self.assertIn("-I" + EXECROOT + "/bazel-out/k8-fastbuild/bin/loop/port/_virtual_includes/sys_event", args)
            self.assertNotIn("tests/contract/final_waker_contract_test.cc", args)
        # A source keeps its own command.
        self.assertIn("lessons/05_registry/registry.cc", got["/ws/lessons/05_registry/registry.cc"]["arguments"])

    def test_rules_from_query_xml(self):
        rules = cc.rules_from_query_xml(QUERY_XML)
        self.assertEqual(rules["//:loop"], ([], ["//loop:loop"]))  # an alias depends on its actual target
        self.assertEqual(rules["//loop:loop"], (["loop/loop.h"], ["//loop:arc"]))
        self.assertEqual(sorted(rules["//lessons/05_registry:registry"][0]),
                         ["lessons/05_registry/detail.h", "lessons/05_registry/registry.h"])

    def test_missing_virtual_includes_are_named(self):
        got = cc.entries_from_aquery(AQUERY, WS, EXECROOT, OB)
        self.assertEqual([EXECROOT + "/bazel-out/k8-fastbuild/bin/loop/port/_virtual_includes/sys_event"],
                         cc.missing_include_dirs(got))


FAKE_BAZEL = """#!/bin/sh
echo "$@" >> "$FAKE_BAZEL_LOG"
case "$1" in
  info) echo "execution_root: %(execroot)s"; echo "output_base: %(ob)s" ;;
  build) [ -n "$FAKE_BAZEL_FAIL_BUILD" ] && { echo "ERROR: no such package 'lessons/99'" >&2; exit 1; }
         mkdir -p "%(execroot)s/bazel-out/k8-fastbuild/bin/loop/port/_virtual_includes/sys_event" ;;
  query) cat "%(xml)s" ;;
  aquery) cat "%(json)s" ;;
esac
"""


class GenerateTest(unittest.TestCase):
    """main() with a fake bazel that only the shell's PATH (ELFS_SHELL_PATH) can find."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="elfs-cc-test-")
        self.root = os.path.join(self.tmp, "ws")
        for d in ("lessons", "loop", "solutions", "tools"):
            os.makedirs(os.path.join(self.root, d))
        self.execroot = os.path.join(self.tmp, "ob", "execroot", "ws")
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        with open(os.path.join(self.tmp, "aq.json"), "w") as f:
            json.dump(AQUERY, f)
        with open(os.path.join(self.tmp, "q.xml"), "w") as f:
            f.write(QUERY_XML)
        with open(os.path.join(bindir, "bazel"), "w") as f:
            f.write(FAKE_BAZEL % {"execroot": self.execroot, "ob": os.path.join(self.tmp, "ob"),
                                  "xml": os.path.join(self.tmp, "q.xml"), "json": os.path.join(self.tmp, "aq.json")})
        os.chmod(os.path.join(bindir, "bazel"), 0o755)
        self.log = os.path.join(self.tmp, "bazel.log")
        self.env = dict(os.environ)
        os.environ["ELFS_SHELL_PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        os.environ["FAKE_BAZEL_LOG"] = self.log

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.env)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_writes_the_file_at_the_root_with_what_bazel_said(self):
        out = io.StringIO()
        self.assertEqual(cc.main([], root=self.root, out=out), 0, out.getvalue())
        self.assertIn("Wrote", out.getvalue())
        with open(os.path.join(self.root, "compile_commands.json")) as f:
            got = json.load(f)
        files = [e["file"] for e in got]
        self.assertIn(os.path.join(self.root, "lessons/05_registry/registry_test.cc"), files)
        self.assertIn(os.path.join(self.root, "loop/loop.h"), files)
        self.assertEqual({e["directory"] for e in got}, {self.root})
        with open(self.log) as f:
            calls = f.read().splitlines()
        self.assertEqual([c.split()[0] for c in calls], ["info", "build", "query", "aquery"])
        # Only the patterns whose directories exist; headers only, nothing compiled.
        self.assertIn("--output_groups=compilation_prerequisites_INTERNAL_ -- //lessons/... //loop/... //:loop",
                      calls[1])
        self.assertNotIn("tests", calls[1])
        self.assertIn('kind("(cc_.*|alias) rule", //lessons/... + //loop/... + //:loop)', calls[2])
        self.assertIn('mnemonic("CppCompile", //lessons/... + //loop/... + //:loop)', calls[3])

    def test_output_option(self):
        path = os.path.join(self.tmp, "elsewhere.json")
        self.assertEqual(cc.main(["-o", path], root=self.root, out=io.StringIO()), 0)
        self.assertTrue(os.path.exists(path))
        for written_at_the_root_only in ("compile_commands.json", ".clangd", cc.OVERLAY):
            self.assertFalse(os.path.exists(os.path.join(self.root, written_at_the_root_only)))

    def test_clangd_gets_an_overlay_that_names_the_workspace_files(self):
        vi = os.path.join(self.execroot, "bazel-out/k8-fastbuild/bin/loop/port/_virtual_includes/sys_event")
        os.makedirs(os.path.join(vi, "sys"))
        real = os.path.join(self.root, "loop", "event.h")
        open(real, "w").close()
        os.symlink(real, os.path.join(vi, "sys", "event.h"))
        self.assertEqual(cc.main([], root=self.root, out=io.StringIO()), 0)
        with open(os.path.join(self.root, ".clangd")) as f:
            clangd = f.read()
        overlay = os.path.join(self.root, cc.OVERLAY)
        self.assertTrue(clangd.startswith(cc.CLANGD_MARK))
        self.assertIn('Add: [-ivfsoverlay, "%s"]' % overlay, clangd)
        with open(overlay) as f:
            roots = json.load(f)["roots"]
        self.assertEqual(roots, [{"type": "directory", "name": os.path.join(vi, "sys"), "contents": [
            {"type": "file", "name": "event.h", "external-contents": os.path.realpath(real)}]}])

    def test_a_clangd_of_your_own_is_left_alone(self):
        mine = os.path.join(self.root, ".clangd")
        with open(mine, "w") as f:
            f.write("Diagnostics:\n  UnusedIncludes: Strict\n")
        out = io.StringIO()
        self.assertEqual(cc.main([], root=self.root, out=out), 0)
        with open(mine) as f:
            self.assertEqual(f.read(), "Diagnostics:\n  UnusedIncludes: Strict\n")
        self.assertIn(".clangd is your own, so I left it alone", out.getvalue())
        self.assertIn("-ivfsoverlay, " + os.path.join(self.root, cc.OVERLAY), out.getvalue())

    def test_a_failing_bazel_is_named_with_its_message(self):
        os.environ["FAKE_BAZEL_FAIL_BUILD"] = "1"
        with self.assertRaises(UsageError) as e:
            cc.generate(self.root)
        self.assertIn("creating the header symlinks (bazel build) failed (exit 1)", str(e.exception))
        self.assertIn("no such package 'lessons/99'", str(e.exception))
        self.assertFalse(os.path.exists(os.path.join(self.root, "compile_commands.json")))


FAKE_CLANGD = """#!/bin/sh
case "$*" in
  *final_waker*) echo "E[07:00:00.000] [pp_file_not_found] Line 3: 'loop/loop.h' file not found" >&2
                 echo "I[07:00:00.001] All checks completed, 1 errors" >&2; exit 3 ;;
  *) echo "I[07:00:00.001] All checks completed, 0 errors" >&2 ;;
esac
"""


class CheckEditorTest(unittest.TestCase):
    """The ./tools/check step: generate, then clangd --check on a few files."""

    def setUp(self):
        import check_bazel
        import check_suite
        self.cb, self.Tally = check_bazel, check_suite.Tally
        self.tmp = tempfile.mkdtemp(prefix="elfs-cc-check-")
        for f in check_bazel.CLANGD_FILES:
            os.makedirs(os.path.dirname(os.path.join(self.tmp, f)), exist_ok=True)
            open(os.path.join(self.tmp, f), "w").close()
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "clangd"), "w") as f:
            f.write(FAKE_CLANGD)
        os.chmod(os.path.join(bindir, "clangd"), 0o755)
        self.path = os.environ.get("PATH", "")
        os.environ["PATH"] = bindir + os.pathsep + self.path
        self.generate = cc.generate
        self.outputs = []

        def fake_generate(root, output=None, patterns=cc.PATTERNS):
            self.outputs.append(output)
            return output, [], None
        cc.generate = fake_generate

    def tearDown(self):
        cc.generate = self.generate
        os.environ["PATH"] = self.path
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_each_file_is_tallied_with_clangds_first_error(self):
        tally = self.Tally(io.StringIO())
        self.cb.check_editor(tally, self.tmp, os.path.join(self.tmp, "log"))
        self.assertEqual((tally.passed, tally.failed), (1 + len(self.cb.CLANGD_FILES) - 1, 1))
        self.assertIn("clangd --check=tests/contract/final_waker_contract_test.cc with the generated "
                      "compile_commands.json: 1 errors (exit 3): [pp_file_not_found] Line 3: 'loop/loop.h' "
                      "file not found", tally.problems[0])
        # Into a scratch directory: the maintainer's own compile_commands.json is not touched.
        self.assertFalse(self.outputs[0].startswith(self.tmp))

    def test_a_file_that_does_not_exist_is_a_failure(self):
        os.remove(os.path.join(self.tmp, self.cb.CLANGD_FILES[0]))
        tally = self.Tally(io.StringIO())
        self.cb.check_editor(tally, self.tmp, os.path.join(self.tmp, "log"))
        self.assertIn("clangd --check=%s: the file does not exist" % self.cb.CLANGD_FILES[0], tally.problems[0])

    def test_the_files_clangd_checks_exist(self):
        missing = [f for f in self.cb.CLANGD_FILES if not os.path.isfile(os.path.join(REPO, f))]
        self.assertEqual(missing, [], "update CLANGD_FILES in tools/check_bazel.py")

    def test_a_failing_generate_is_one_failure_naming_it(self):
        def broken(root, output=None, patterns=None):
            raise UsageError("reading the compile commands (bazel aquery) failed (exit 1)")
        cc.generate = broken
        tally = self.Tally(io.StringIO())
        self.cb.check_editor(tally, self.tmp, os.path.join(self.tmp, "log"))
        self.assertEqual(tally.problems, ["tools/compile_commands: reading the compile commands (bazel aquery) "
                                          "failed (exit 1)"])


class DefaultPatternsTest(unittest.TestCase):
    def test_without_libuv_and_boost_the_benchmarks_are_left_out(self):
        with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as inc:
            for d in ("benchmarks", "contract", "unit"):
                os.makedirs(os.path.join(root, "tests", d))
            got = cc.default_patterns(root, include_dirs=(inc,))
            self.assertNotIn("//tests/...", got)
            self.assertIn("//tests/contract/...", got)
            self.assertNotIn("//tests/benchmarks/...", got)
            os.makedirs(os.path.join(inc, "boost"))
            for h in ("uv.h", os.path.join("boost", "asio.hpp")):
                open(os.path.join(inc, h), "w").close()
            self.assertEqual(cc.default_patterns(root, include_dirs=(inc,)), cc.PATTERNS)


if __name__ == "__main__":
    unittest.main()
