#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the public headers' documentation and ABI list (STYLE.md R8, R9).

For every header under include/: the first line is an SPDX line, and a "DOC:" overview
exists (the umbrella mnsim.h excepted). For every MN_EXPORT function declaration: the
comment right above it is a kernel-doc block naming the function ("name() - summary"),
documenting each parameter as "@param:", with a "Context:" section, and with a "Return:"
section unless it returns void. Every exported function is listed in lib/libmnsim.map and
the map lists nothing else. Prints every problem and exits 1 if there is any.
"""
import os
import re
import sys

DECL = re.compile(r"MN_EXPORT\s+(?P<ret>[^;{]*?)\b(?P<name>[a-z_][a-z0-9_]*)\s*\((?P<args>[^;]*?)\)\s*;",
                  re.S)


def split_top(args):
    """Split a parameter list at commas that are not inside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in args:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def params(args):
    args = args.strip()
    if args in ("", "void"):
        return []
    out = []
    for a in split_top(args):
        a = a.strip()
        if a == "...":
            continue
        fp = re.search(r"\(\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*\(", a)
        m = fp or re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$", a)
        if m:
            out.append(m.group(1))
    return out


def check_header(path, problems, exported):
    text = open(path).read()
    rel = os.path.relpath(path)
    if not text.startswith("/* SPDX-License-Identifier: MIT */"):
        problems.append("%s: first line is not the SPDX line" % rel)
    if os.path.basename(path) != "mnsim.h" and " * DOC: " not in text:
        problems.append("%s: no 'DOC:' overview" % rel)
    # Attributes after a prototype are not part of its parameter list.
    text = re.sub(r"\)\s*__attribute__\s*\(\(.*?\)\)\s*;", ");", text, flags=re.S)
    for m in DECL.finditer(text):
        name, ret = m.group("name"), " ".join(m.group("ret").split())
        exported.add(name)
        before = text[:m.start()].rstrip()
        if not before.endswith("*/"):
            problems.append("%s: %s() has no comment block" % (rel, name))
            continue
        start = before.rfind("/**")
        block = before[start:] if start >= 0 else ""
        if not block or "*/" in block[:-2]:
            problems.append("%s: %s() has no kernel-doc (/**) block" % (rel, name))
            continue
        if not re.search(r"\*\s+%s\(\) - \S" % re.escape(name), block):
            problems.append("%s: %s() kernel-doc does not start with '%s() - summary'" %
                            (rel, name, name))
        for p in params(m.group("args")):
            if not re.search(r"\*\s+@%s:\s*\S" % re.escape(p), block):
                problems.append("%s: %s() does not document @%s" % (rel, name, p))
        if "Context:" not in block:
            problems.append("%s: %s() has no 'Context:' section" % (rel, name))
        if ret != "void" and "Return:" not in block:
            problems.append("%s: %s() returns %s but has no 'Return:' section" %
                            (rel, name, ret))


def mapped(path):
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    syms = set()
    for block in re.finditer(r"global:(.*?)(?:local:|\})", text, flags=re.S):
        syms |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*;", block.group(1)))
    return syms


def main():
    inc = sys.argv[1]
    mapfile = sys.argv[2] if len(sys.argv) > 2 else os.path.join(inc, "..", "lib",
                                                                   "libmnsim.map")
    problems, exported = [], set()
    headers = []
    for root, _, files in os.walk(inc):
        headers += [os.path.join(root, f) for f in files if f.endswith(".h")]
    for h in sorted(headers):
        check_header(h, problems, exported)
    if not exported:
        problems.append("no MN_EXPORT declarations found under %s" % inc)
    syms = mapped(mapfile)
    for name in sorted(exported - syms):
        problems.append("%s() is MN_EXPORT but missing from libmnsim.map" % name)
    for name in sorted(syms - exported):
        problems.append("libmnsim.map lists %s, which no header exports" % name)
    for p in problems:
        print(p)
    print("%d exported functions checked in %d headers, %d problems" %
          (len(exported), len(headers), len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
