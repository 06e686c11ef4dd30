#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Print one 'N passed, N failed' line from Meson test logs (testlog.json files).

A CMocka binary counts as its test cases (from its '[  PASSED  ]' / '[  FAILED  ]' summary);
any other test counts as one. A test Meson saw fail counts at least one failure even when
its output claims otherwise (a sanitizer report at exit, a crash, a timeout).
"""
import json
import re
import sys


def count(path):
    passed = failed = skipped = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            result = t.get("result", "")
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            p = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
            fl = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
            sk = sum(int(n) for n in re.findall(r"\[  SKIPPED \] (\d+) test", out))
            ok = result in ("OK", "EXPECTEDFAIL")
            if result == "SKIP":
                skipped += max(1, sk)
                continue
            if p or fl or sk:
                passed, failed, skipped = passed + p, failed + fl, skipped + sk
                if not ok and fl == 0:
                    failed += 1
            elif ok:
                passed += 1
            else:
                failed += 1
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    for path in sys.argv[1:]:
        try:
            for i, n in enumerate(count(path)):
                total[i] += n
        except OSError:
            print("count-tests: no test log at %s" % path, file=sys.stderr)
            total[1] += 1
    line = "%d passed, %d failed" % (total[0], total[1])
    if total[2]:
        line += ", %d skipped" % total[2]
    print(line)


if __name__ == "__main__":
    main()
