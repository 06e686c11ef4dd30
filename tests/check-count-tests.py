#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check .ci/count-tests.py on made-up Meson test logs: CMocka summaries are counted per
case, a test Meson saw fail counts as failed even when its output claims success, a crash
without a summary is one failure, skips are reported, and a missing log is a failure."""
import json
import os
import subprocess
import sys
import tempfile


def run(root, *logs):
    out = subprocess.run([sys.executable, os.path.join(root, ".ci", "count-tests.py"), *logs],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out.splitlines()[-1]


def write(path, tests):
    with open(path, "w") as f:
        for t in tests:
            f.write(json.dumps(t) + "\n")


def main():
    root = sys.argv[1]
    problems = []
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "testlog.json")
        write(log, [
            {"name": "a", "result": "OK", "stdout": "[  PASSED  ] 7 test(s).\n"},
            {"name": "b", "result": "FAIL",
             "stdout": "[  PASSED  ] 3 test(s).\n[  FAILED  ] 2 test(s), listed below:\n"},
            {"name": "c", "result": "FAIL", "stdout": "[  PASSED  ] 4 test(s).\n"},
            {"name": "d", "result": "FAIL", "stdout": "Segmentation fault"},
            {"name": "e", "result": "OK", "stdout": "kdoc ok"},
            {"name": "f", "result": "SKIP", "stdout": ""},
        ])
        cases = [
            ((log,), "15 passed, 4 failed, 1 skipped"),
            ((log, os.path.join(d, "missing.json")), "15 passed, 5 failed, 1 skipped"),
        ]
        for args, want in cases:
            got = run(root, *args)
            if got != want:
                problems.append("count-tests %s: got %r, want %r" % (args, got, want))
    for p in problems:
        print(p)
    print("%d problems" % len(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
