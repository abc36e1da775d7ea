#!/usr/bin/env python3
"""./tools/compile_commands: writes compile_commands.json for clangd, VS Code, CLion.

The compile commands come from Bazel's own action graph (`bazel aquery`), so an editor
compiles each file exactly as `bazel build` does: the same -std, defines and include
paths. Every header is included by its path in the workspace ("loop/registry.h",
"lessons/08_arc/arc.h", "tests/support/fds.h", from `-iquote .`) except <sys/event.h> of
loop/port (strip_include_prefix), which Bazel links into a generated `_virtual_includes`
directory. Offline; Python 3 standard library only.

What it runs, in the workspace root, with the same environment as every other tool
(workshop_common.bazel_env(), so that nothing rebuilds):

    bazel info execution_root output_base
    bazel build --keep_going --output_groups=compilation_prerequisites_INTERNAL_ -- PATTERNS
        (creates the header symlinks under bazel-out/.../_virtual_includes and nothing
        else: no compiling, so a lesson that does not compile yet is no obstacle)
    bazel query --output=xml 'kind("(cc_.*|alias) rule", PATTERNS)'
        (which target owns which header, and what depends on it: //:loop is an alias)
    bazel aquery --output=jsonproto 'mnemonic("CppCompile", PATTERNS)'

Each source becomes one entry:

    {"directory": <the workspace root>, "file": <the source's absolute path in the workspace>,
     "arguments": [<Bazel's argv, made to work from the workspace root>]}

and each header one with its target's command (or, for a header-only library, that of a
target using it), parsing the header as C++ instead. Bazel's argv is relative to its
execution root. The workspace's top-level directories appear there as symlinks, so from
the workspace root `lessons/...`, `loop/...` and `-iquote .` mean the same;
`bazel-out/...` and `external/...` are made absolute. The editor thus opens and indexes
the real workspace files, not symlinks to them. Output options (-MD -MF -o
-frandom-seed) and the GCC options clang rejects are dropped.

Written in the workspace root, it comes with .cache/compile_commands/vfsoverlay.yaml and a
.clangd that hands that overlay to clangd (see vfs_overlay), unless the .clangd there is
one of your own.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workshop_common import ROOT, UsageError, bazel_env  # noqa: E402

# The lessons, the library and its tests; //:loop is the alias of //loop that programs and
# tests/ depend on (its header loop/loop.h gets the command of a test that uses it).
PATTERNS = ["//lessons/...", "//loop/...", "//tests/...", "//:loop"]
# What tests/benchmarks needs beyond the lessons: libuv and Boost (deps.sh --bench), which a
# learner's ./tools/start does not install. Without them the default leaves it out.
BENCH_HEADERS = ("uv.h", os.path.join("boost", "asio.hpp"))
INCLUDE_DIRS = ("/usr/include", "/usr/local/include", "/opt/homebrew/include")


def default_patterns(root=ROOT, include_dirs=INCLUDE_DIRS):
    """PATTERNS, or, when libuv's or Boost's headers are missing, the same with every package
    under tests/ but tests/benchmarks."""
    if all(any(os.path.isfile(os.path.join(d, h)) for d in include_dirs) for h in BENCH_HEADERS):
        return list(PATTERNS)
    tests = sorted(n for n in os.listdir(os.path.join(root, "tests"))
                   if n != "benchmarks" and os.path.isdir(os.path.join(root, "tests", n)))
    return [p for p in PATTERNS if p != "//tests/..."] + ["//tests/%s/..." % n for n in tests]
OUTPUT = "compile_commands.json"
OVERLAY = ".cache/compile_commands/vfsoverlay.yaml"

# GCC options that clang (and so clangd) rejects with "error: unknown argument". Bazel's
# auto-configured GCC toolchain passes this one; its other GCC flags (-Wunused-but-set-parameter,
# -Wno-free-nonheap-object) clang 14 knows, so the editor warns as the build does.
GCC_ONLY = {"-fno-canonical-system-headers"}
# Options that only say where Bazel wants its outputs: an editor writes none.
OUTPUT_ONLY = {"-MD", "-MMD"}
OUTPUT_ONLY_WITH_VALUE = {"-MF", "-MT", "-MQ", "-o"}
# Options whose path is glued to them (-Ibazel-out/...) or comes as the next argument.
PATH_OPTIONS = ("-iquote", "-isystem", "-idirafter", "-include", "-imacros", "-I", "-F", "--sysroot=")


def query(patterns):
    return 'mnemonic("CppCompile", %s)' % " + ".join(patterns)


def source_of(argv):
    """The file after -c in a compile command, or None."""
    for i, a in enumerate(argv[:-1]):
        if a == "-c":
            return argv[i + 1]
    return None


def absolute(path, execroot, output_base):
    """bazel-out/... and external/... as absolute paths; anything else unchanged (the
    workspace's own paths are the same from the workspace root as from the execroot)."""
    if path == "bazel-out" or path.startswith("bazel-out/"):
        return os.path.join(execroot, path)
    if path == "external" or path.startswith("external/"):
        return os.path.join(output_base, path)
    return path


def editor_arguments(argv, execroot, output_base):
    """Bazel's argv for one compile, made to work from the workspace root in clang."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in OUTPUT_ONLY or a.startswith("-frandom-seed=") or a in GCC_ONLY:
            continue
        if a in OUTPUT_ONLY_WITH_VALUE:
            i += 1
            continue
        for opt in PATH_OPTIONS:
            if a == opt and i < len(argv):
                out += [a, absolute(argv[i], execroot, output_base)]
                i += 1
                break
            if a.startswith(opt) and a != opt:
                out.append(opt + absolute(a[len(opt):], execroot, output_base))
                break
        else:
            out.append(absolute(a, execroot, output_base) if out else a)
    return out


def _package(label):
    return label.lstrip("/").split(":", 1)[0]


HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".inc")


def _label_path(label):
    """//lessons/08_arc:arc.h -> lessons/08_arc/arc.h; None for another repository's."""
    if not label.startswith("//"):
        return None
    package, _, name = label[2:].partition(":")
    return os.path.join(package, name) if package else name


def rules_from_query_xml(text):
    """{label: (headers, deps)} of each rule in `bazel query --output=xml`: the workspace
    headers it lists (hdrs, textual_hdrs, or srcs) and the labels it depends on. An alias
    (//:loop) depends on its actual target and lists no headers."""
    rules = {}
    for rule in ET.fromstring(text).iter("rule"):
        headers, deps = [], []
        for lst in rule.findall("list"):
            values = [l.get("value", "") for l in lst.findall("label")]
            if lst.get("name") in ("hdrs", "textual_hdrs", "srcs"):
                headers += [p for p in map(_label_path, values) if p and p.endswith(HEADER_SUFFIXES)]
            elif lst.get("name") == "deps":
                deps += values
        deps += [l.get("value", "") for l in rule.findall("label") if l.get("name") == "actual"]
        rules[rule.get("name")] = (headers, deps)
    return rules


def header_arguments(argv, src, header):
    """A source's command turned into one that parses a header as C++ instead."""
    out = []
    for a in argv:
        out += ["-x", "c++-header", header] if a == src else [a]
    return out


def entries_from_aquery(aquery, workspace, execroot, output_base, rules=None):
    """aquery: the parsed `bazel aquery --output=jsonproto` output; rules: what
    rules_from_query_xml returns, or None for no header entries. Returns the entries,
    one per file, sorted by file.

    A source compiled by several targets gets the command of the target in its own
    package: loop/selector.cc is compiled by //loop:selector and, as a file the lesson is
    given, by //lessons/04_poll:selector; the editor of loop/ sees the library's
    command. Ties (a lesson's test built once per backend) go to the first label in
    sorted order.

    A header gets the command of the nearest target that has one, its own or else a
    target that depends on it (a header-only library: lessons/08_arc/arc.h, loop/loop.h
    through the alias //:loop),
    parsing the header instead of the source. clangd would otherwise guess a header's
    command from a nearby file, and the guess may lack a dependency's include path."""
    labels = {t["id"]: t["label"] for t in aquery.get("targets", [])}
    best, commands = {}, {}

    def offer(path, key, entry):
        if path not in best or key < best[path][0]:
            best[path] = (key, entry)

    for action in aquery.get("actions", []):
        if action.get("mnemonic") != "CppCompile":
            continue
        argv = action.get("arguments") or []
        src = source_of(argv)
        if not src or src.startswith("external/"):
            continue  # no source, or a file of another repository (not one you edit)
        label = labels.get(action.get("targetId"), "")
        path = os.path.join(execroot if src.startswith("bazel-out/") else workspace, src)
        args = editor_arguments(argv, execroot, output_base)
        key = (_package(label) != os.path.dirname(src), label)
        offer(path, key, {"directory": workspace, "file": path, "arguments": args})
        if label not in commands or (key[0], src) < commands[label][0]:
            commands[label] = ((key[0], src), src, args)

    rdeps = {}
    for label, (_, deps) in (rules or {}).items():
        for d in deps:
            rdeps.setdefault(d, []).append(label)
    for owner, (headers, _) in sorted((rules or {}).items()):
        if not headers:
            continue
        # The nearest targets with a compile command: the owner, or what depends on it.
        distance, frontier, seen, found = 0, [owner], {owner}, []
        while frontier and not found:
            found = [l for l in frontier if l in commands]
            if not found:
                frontier = sorted({r for l in frontier for r in rdeps.get(l, ()) if r not in seen})
                seen.update(frontier)
                distance += 1
        for h in headers:
            for label in found:
                _, src, args = commands[label]
                path = os.path.join(workspace, h)
                offer(path, (distance, _package(label) != os.path.dirname(h), label),
                      {"directory": workspace, "file": path, "arguments": header_arguments(args, src, h)})
    return [entry for _, (_, entry) in sorted(best.items())]


def virtual_include_dirs(entries):
    """The -I directories under bazel-out/.../_virtual_includes the entries name."""
    dirs = set()
    for e in entries:
        args = e["arguments"]
        for i, a in enumerate(args):
            d = None
            if a in ("-I", "-iquote", "-isystem") and i + 1 < len(args):
                d = args[i + 1]
            elif a.startswith("-I") and len(a) > 2:
                d = a[2:]
            if d and "/bazel-out/" in d and "/_virtual_includes/" in d:
                dirs.add(d)
    return sorted(dirs)


def missing_include_dirs(entries):
    """Include directories under bazel-out that do not exist (the header symlinks were
    not created): an editor would then not find <sys/event.h>."""
    return [d for d in virtual_include_dirs(entries) if not os.path.isdir(d)]


def vfs_overlay(entries, workspace):
    """A clang VFS overlay (-ivfsoverlay) that names each header symlink under
    _virtual_includes by the workspace file it points to. Without it clangd's "go to
    definition" of kevent() opens bazel-out/.../_virtual_includes/sys_event/sys/event.h;
    with it, loop/port/include/sys/event.h. (JSON is YAML, which the overlay format is.)"""
    workspace = os.path.realpath(workspace)
    roots = {}
    for top in virtual_include_dirs(entries):
        for d, _, files in os.walk(top):
            for f in sorted(files):
                real = os.path.realpath(os.path.join(d, f))
                if os.path.islink(os.path.join(d, f)) and real.startswith(workspace + os.sep):
                    roots.setdefault(d, []).append({"type": "file", "name": f, "external-contents": real})
    return {"version": 0, "case-sensitive": "true", "use-external-names": "true",
            "roots": [{"type": "directory", "name": d, "contents": c} for d, c in sorted(roots.items())]}


CLANGD_MARK = "# Written by ./tools/compile_commands"


def clangd_config(overlay_path):
    """.clangd: gives clangd (not the compiler: gcc rejects it) the overlay."""
    return ("%s, which rewrites it; your own .clangd (without this line) is left alone.\n"
            "# -ivfsoverlay: go to definition opens workspace files, not bazel-out symlinks.\n"
            "CompileFlags:\n  Add: [-ivfsoverlay, %s]\n" % (CLANGD_MARK, json.dumps(overlay_path)))


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _bazel(args, root, what):
    cmd = ["bazel"] + args
    try:
        proc = subprocess.run(cmd, cwd=root, env=bazel_env(), capture_output=True, text=True)
    except FileNotFoundError:
        raise UsageError("bazel is not installed (./tools/start installs it)")
    if proc.returncode != 0:
        tail = "\n".join("    " + l for l in proc.stderr.strip().splitlines()[-15:])
        raise UsageError("%s failed (exit %d): %s\n%s" % (what, proc.returncode, " ".join(cmd), tail))
    return proc.stdout


def bazel_paths(root):
    """(execution root, output base) from one `bazel info`."""
    info = {}
    for line in _bazel(["info", "execution_root", "output_base"], root, "bazel info").splitlines():
        key, _, value = line.partition(": ")
        info[key.strip()] = value.strip()
    if not info.get("execution_root") or not info.get("output_base"):
        raise UsageError("bazel info printed no execution_root/output_base")
    return info["execution_root"], info["output_base"]


def existing_patterns(patterns, root):
    """The patterns whose directory exists (a trimmed checkout may lack tests/)."""
    def path(p):
        return p.lstrip("/").split(":", 1)[0].replace("/...", "").replace("...", "")
    return [p for p in patterns if os.path.isdir(os.path.join(root, path(p)))]


def generate(root=ROOT, output=None, patterns=PATTERNS):
    """Writes compile_commands.json (default: in the workspace root). There, it also
    writes the VFS overlay (.cache/compile_commands/) and a .clangd that hands it to clangd,
    unless a .clangd of your own is there. Returns (path, entries, the .clangd written or
    None). Raises UsageError naming the Bazel command that failed."""
    output = output or os.path.join(root, OUTPUT)
    patterns = existing_patterns(patterns, root)
    execroot, output_base = bazel_paths(root)
    # The header symlinks only (_virtual_includes): a few internal actions, no compiling.
    _bazel(["build", "--keep_going", "--output_groups=compilation_prerequisites_INTERNAL_", "--"] + patterns,
           root, "creating the header symlinks (bazel build)")
    rules = rules_from_query_xml(_bazel(["query", "--output=xml",
                                         'kind("(cc_.*|alias) rule", %s)' % " + ".join(patterns)],
                                        root, "listing the C++ targets and their headers (bazel query)"))
    text = _bazel(["aquery", "--output=jsonproto", query(patterns)], root,
                  "reading the compile commands (bazel aquery)")
    try:
        aquery = json.loads(text)
    except ValueError as e:
        raise UsageError("bazel aquery printed something that is not JSON (%s)" % e)
    entries = entries_from_aquery(aquery, os.path.abspath(root), execroot, output_base, rules)
    if not entries:
        raise UsageError("bazel aquery found no C++ compile actions in %s" % " ".join(patterns))
    _write(output, json.dumps(entries, indent=2) + "\n")
    clangd = None
    if os.path.dirname(os.path.abspath(output)) == os.path.abspath(root):
        overlay = os.path.join(os.path.abspath(root), OVERLAY)
        _write(overlay, json.dumps(vfs_overlay(entries, root), indent=1) + "\n")
        clangd = os.path.join(root, ".clangd")
        try:
            with open(clangd) as f:
                mine = f.read().startswith(CLANGD_MARK)
        except FileNotFoundError:
            mine = True
        if mine:
            _write(clangd, clangd_config(overlay))
        else:
            clangd = None
    return output, entries, clangd


def main(argv=None, root=ROOT, out=sys.stdout):
    parser = argparse.ArgumentParser(
        prog="tools/compile_commands",
        description="Write compile_commands.json (for clangd, VS Code, CLion) from Bazel's compile actions.")
    parser.add_argument("-o", "--output", help="where to write it (default: %s in the workspace root)" % OUTPUT)
    parser.add_argument("patterns", nargs="*", help="Bazel target patterns (default: %s; without libuv and Boost, "
                        "tests/benchmarks is left out)" % " ".join(PATTERNS))
    args = parser.parse_args(argv)
    started = time.time()
    try:
        path, entries, clangd = generate(root, args.output, args.patterns or default_patterns(root))
    except UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        return 130
    shown = os.path.relpath(path, root) if os.path.dirname(os.path.abspath(path)) == os.path.abspath(root) else path
    out.write("Wrote %s: %d files%s, in %.1fs.\n" % (shown, len(entries), " (and .clangd)" if clangd else "",
                                                    time.time() - started))
    if clangd is None and not args.output:
        out.write("(.clangd is your own, so I left it alone. For go to definition to open workspace files, not "
                  "bazel-out symlinks, add to it:\n  CompileFlags:\n    Add: [-ivfsoverlay, %s]\n)\n"
                  % os.path.join(os.path.abspath(root), OVERLAY))
    missing = missing_include_dirs(entries)
    if missing:
        out.write("warning: %d include directories do not exist, so #include <sys/event.h> will not "
                  "resolve; run `bazel build //loop/...` and then this again. The first: %s\n"
                  % (len(missing), missing[0]))
        return 1
    out.write("clangd finds it by itself; VS Code's C/C++ extension and CLion: see README.md, Editors. Run this "
              "again after adding a file, a target or a dependency.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
