#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check that README.md's two commands are the ones .ci/run runs, so they cannot drift.

README.md must hold exactly two commands, each alone on a line in its own ```sh block, the
first under "## Run" and the second under "## Test". .ci/run must contain the test command
verbatim as a line of its own, and tools/bootstrap.sh (which both commands start with) must
exist and be executable.
"""
import os
import re
import sys


def main():
    root = sys.argv[1]
    readme = open(os.path.join(root, "README.md")).read()
    ci = open(os.path.join(root, ".ci", "run")).read()
    problems = []
    blocks = re.findall(r"^## (\w+).*?\n```sh\n(.*?)\n```", readme, flags=re.S | re.M)
    cmds = {title: body for title, body in blocks}
    for title in ("Run", "Test"):
        body = cmds.get(title)
        if body is None:
            problems.append("README.md: no ```sh block under '## %s'" % title)
        elif "\n" in body.strip():
            problems.append("README.md: the %s command is not one line" % title)
    if len(blocks) != 2:
        problems.append("README.md: expected exactly two ```sh blocks, found %d" % len(blocks))
    test = cmds.get("Test", "").strip()
    run = cmds.get("Run", "").strip()
    if test and test not in [line.strip() for line in ci.splitlines()]:
        problems.append(".ci/run does not run the README test command verbatim: %r" % test)
    for cmd in (run, test):
        if cmd and not cmd.startswith("tools/bootstrap.sh && "):
            problems.append("README command does not start with tools/bootstrap.sh: %r" % cmd)
    boot = os.path.join(root, "tools", "bootstrap.sh")
    if not os.access(boot, os.X_OK):
        problems.append("tools/bootstrap.sh is missing or not executable")
    for p in problems:
        print(p)
    print("run: %s\ntest: %s\n%d problems" % (run, test, len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
