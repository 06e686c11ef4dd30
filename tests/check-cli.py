#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the mnsim command (tools/mnsim, mnsim(1)).

Usage: check-cli.py MNSIM SCENARIO_DIR CHECK_JSONL TRACE_FORMAT_MD

For every scenario file: `mnsim explore` exits 0 for `expect clean` and 1 for
`expect violation ID`, naming ID; the replay command line it prints reproduces the same
violation. Then: bad input exits 2 with FILE:LINE:COL; the three trace formats (JSON Lines
validated by check-jsonl.py, Mermaid with one participant per actor); run, list, mutants,
--help, --version, --output; and the demo's verdicts.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)
    return cond


def mnsim(*args, stdin=None):
    p = subprocess.run([MNSIM] + list(args), capture_output=True, text=True, timeout=600,
                       input=stdin)
    return p.returncode, p.stdout, p.stderr


def expectation(path):
    for line in open(path):
        m = re.match(r"\s*expect\s+(clean|violation)\s*(\S*)", line)
        if m:
            return m.group(1), m.group(2)
    return None, None


def replay_line(out):
    for line in out.splitlines():
        if line.startswith("replay: "):
            return line[len("replay: "):]
    return None


def scenario_files():
    for name in sorted(os.listdir(SCEN)):
        if name.endswith(".mns"):
            yield os.path.join(SCEN, name)


def test_scenarios():
    for path in scenario_files():
        kind, vid = expectation(path)
        rc, out, err = mnsim("explore", path)
        name = os.path.basename(path)
        if kind == "clean":
            check(rc == 0, "%s: explore exit %d, want 0 (stderr: %s)" % (name, rc, err[-300:]))
            check("clean" in err, "%s: no 'clean' verdict on stderr" % name)
        elif kind == "violation":
            check(rc == 1, "%s: explore exit %d, want 1" % (name, rc))
            check("violation " + vid in err, "%s: verdict does not name %s" % (name, vid))
            line = replay_line(out)
            if check(line is not None, "%s: no replay line after the trace" % name):
                argv = shlex.split(line)
                check(argv[0] == "mnsim" and argv[1] == "replay",
                      "%s: replay line is not 'mnsim replay ...': %s" % (name, line))
                rc2, out2, _ = mnsim(*argv[1:])
                check(rc2 == 1, "%s: replay exit %d, want 1" % (name, rc2))
                check("VIOLATION " + vid in out2,
                      "%s: replay does not reproduce %s" % (name, vid))


def test_bad_input(tmp):
    bad = os.path.join(tmp, "bad.mns")
    with open(bad, "w") as f:
        f.write("arch x86\nmmap ram size rw anon\n")
    rc, out, err = mnsim("explore", bad)
    check(rc == 2, "bad file: exit %d, want 2" % rc)
    check(re.search(r"bad\.mns:2:\d+: ", err) is not None,
          "bad file: no FILE:LINE:COL message: %r" % err)
    rc, _, err = mnsim("explore", os.path.join(tmp, "missing.mns"))
    check(rc == 2 and "missing.mns" in err, "missing file: exit %d: %r" % (rc, err))
    for args in (["explore"], ["frobnicate"], ["explore", bad, "--bound", "x"],
                 ["--arch", "sparc", "list"], ["--trace", "html", "list"],
                 ["--variant", "nope", "list"], ["replay", bad], ["--no-such-option", "list"], []):
        rc, _, err = mnsim(*args)
        check(rc == 2, "usage %r: exit %d, want 2" % (args, rc))
        check("mnsim" in err or "usage" in err, "usage %r: no message" % (args,))
    rc, _, _ = mnsim("replay", os.path.join(SCEN, "fault-vs-munmap.mns"), "s1:9x3")
    check(rc == 2, "replay of an impossible schedule: exit %d, want 2" % rc)


def test_formats(tmp):
    path = os.path.join(SCEN, "000-gpc-vs-munmap.mns")
    rc, out, _ = mnsim("explore", path, "--trace", "jsonl", "--quiet")
    check(rc == 1, "jsonl explore exit %d" % rc)
    jl = os.path.join(tmp, "t.jsonl")
    with open(jl, "w") as f:
        f.write(out)
    p = subprocess.run([sys.executable, CHECK_JSONL, TRACE_DOC, jl], capture_output=True,
                       text=True)
    check(p.returncode == 0, "JSON Lines output does not validate: %s%s" %
          (p.stdout[-500:], p.stderr[-500:]))
    rc, out, _ = mnsim("explore", path, "--trace", "mermaid", "--quiet")
    check(rc == 1, "mermaid explore exit %d" % rc)
    check(out.lstrip().startswith("sequenceDiagram"), "mermaid: no sequenceDiagram")
    parts = re.findall(r"^\s*participant (\S+) as (\S+)", out, flags=re.M)
    names = [n for _, n in parts]
    check(len(names) == len(set(names)), "mermaid: duplicate participants %r" % names)
    check({"gpc", "vmm"} <= set(names), "mermaid: participants %r lack gpc/vmm" % names)
    check("VIOLATION" in out, "mermaid: no VIOLATION note")
    out_file = os.path.join(tmp, "trace.txt")
    rc, out, _ = mnsim("--output", out_file, "explore", path, "-q")
    check(rc == 1 and out == "", "--output: exit %d, stdout %d bytes" % (rc, len(out)))
    check(os.path.exists(out_file) and "VIOLATION" in open(out_file).read(),
          "--output: the file lacks the trace")


def test_commands():
    rc, out, _ = mnsim("--help")
    check(rc == 0 and "usage: mnsim" in out, "--help")
    rc, out, _ = mnsim("--version")
    check(rc == 0 and re.match(r"mnsim \d+\.\d+", out), "--version: %r" % out)
    rc, out, _ = mnsim("list")
    check(rc == 0 and "fault-vs-munmap" in out and "gpc-own-seq" in out, "list")
    path = os.path.join(SCEN, "000-gpc-vs-munmap.mns")
    rc, out, err = mnsim("run", path)
    check(rc == 0, "run without preemption is clean: exit %d" % rc)
    rc, _, err = mnsim("explore", path, "--variant", "filter-userspace-mappings", "--arch",
                       "arm64")
    check(rc == 0, "000 under the fix on arm64: exit %d (%s)" % (rc, err[-200:]))
    rc, _, err = mnsim("explore", path, "--strategy", "random", "--budget", "300", "--seed",
                       "7", "-q")
    check(rc in (0, 1), "random strategy: exit %d" % rc)
    rc, out, err = mnsim("mutants", os.path.join(SCEN, "fault-vs-munmap.mns"), "--arch",
                         "arm64")
    check(rc == 0, "mutants exit %d" % rc)
    check(re.search(r"^fault\.retry_check\s+caught", out, flags=re.M) is not None,
          "mutants: fault.retry_check not caught:\n" + out)
    check(re.search(r"^munmap\.free_pages\s+survived", out, flags=re.M) is not None,
          "mutants: munmap.free_pages should survive (equivalent)")
    m = re.search(r"^fault\.retry_check\s+caught\s+\d+\s+(\S+)\s+(s1:\S+)", out, flags=re.M)
    if check(m is not None, "mutants: no failing schedule for fault.retry_check"):
        rc, out2, _ = mnsim("replay", os.path.join(SCEN, "fault-vs-munmap.mns"), m.group(2),
                            "--arch", "arm64", "--mutate", "fault.retry_check")
        check(rc == 1 and "VIOLATION " + m.group(1) in out2,
              "replay --mutate does not reproduce the mutant's violation")
        check("--mutate fault.retry_check" in (replay_line(out2) or ""),
              "the replay line lacks --mutate")
    rc, out, err = mnsim("mutants", path)
    check(rc == 1, "mutants of a failing scenario: exit %d, want 1" % rc)
    rc, _, err = mnsim("explore", path, "--variant", "upstream", "--bound", "1")
    check(rc == 0 and "not checked" in err, "--variant: expect line note missing: %r" % err)


def test_demo():
    rc, out, err = mnsim("demo")
    check(rc == 0, "demo exit %d (%s)" % (rc, err[-300:]))
    rows = re.findall(r"^(\S+)\s+(x86|arm64)\s+\d+\s+[\d.]+\s+(.*)$", out, flags=re.M)
    verdict = {(v, a): r for v, a, r in rows}
    for arch in ("x86", "arm64"):
        check(verdict.get(("rfc-skip-gmem-only", arch)) == "frame.use_after_free",
              "demo: RFC on %s: %r" % (arch, verdict.get(("rfc-skip-gmem-only", arch))))
        for v in ("upstream", "filter-userspace-mappings", "gpc-own-seq"):
            check((verdict.get((v, arch)) or "").startswith("clean"),
                  "demo: %s on %s: %r" % (v, arch, verdict.get((v, arch))))
    check("VIOLATION frame.use_after_free" in out, "demo: no counterexample trace")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_scenarios()
        test_bad_input(tmp)
        test_formats(tmp)
        test_commands()
        test_demo()
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    MNSIM, SCEN, CHECK_JSONL, TRACE_DOC = sys.argv[1:5]
    sys.exit(main())
