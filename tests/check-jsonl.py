#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check JSON Lines traces (mn_trace_render(), MN_TRACE_FMT_JSONL) against the schema that
docs/trace-format.md states in its tables: every record and object named there by a
heading "### Record `NAME`" or "### Object `RECORD.KEY`", one table row per key with its
type and presence.

Usage: check-jsonl.py DOC.md [FILE...] [--exec PROGRAM ARG...]

Checks each line parses as one JSON object with no duplicate key; that its keys and their
types are exactly the documented ones; that a stream is header, events (ids rising, each
violation right after its event or after the last event), summary, possibly repeated; and
that the summary's counts match. First checks itself on broken samples. Prints every
problem and exits 1 if there is any.
"""
import json
import re
import subprocess
import sys

HEADING = re.compile(r"^###\s+(Record|Object)\s+`([a-z_.]+)`\s*$")
HEX = re.compile(r"^0x[0-9a-f]+$")
TYPES = {"string", "integer", "hex", "object", "array", "boolean"}


def load_schema(doc):
    """{name: {key: (set of types, required)}} from the doc's tables."""
    schema, cur = {}, None
    with open(doc, encoding="utf-8") as f:
        for line in f:
            m = HEADING.match(line)
            if m:
                cur = schema.setdefault(m.group(2), {})
                continue
            if line.startswith("#"):
                cur = None
            if cur is None or not line.startswith("|"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or cells[0] in ("key", "") or set(cells[0]) <= set("- "):
                continue
            key = cells[0].strip("`")
            types = {t.strip() for t in cells[1].split(" or ")}
            bad = types - TYPES - {"null"}
            if bad:
                raise SystemExit("%s: key %s of %s: unknown type %s" % (doc, key, name_of(schema, cur), bad))
            if cells[2] not in ("always", "optional"):
                raise SystemExit("%s: key %s: presence %r" % (doc, key, cells[2]))
            cur[key] = (types, cells[2] == "always")
    for need in ("header", "event", "violation", "summary"):
        if need not in schema or not schema[need]:
            raise SystemExit("%s: no table for record %s" % (doc, need))
    return schema


def name_of(schema, table):
    return next((k for k, v in schema.items() if v is table), "?")


def type_ok(value, types):
    if value is None:
        return "null" in types
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, int):
        return "integer" in types
    if isinstance(value, str):
        return "string" in types or ("hex" in types and bool(HEX.match(value)))
    if isinstance(value, dict):
        return "object" in types
    if isinstance(value, list):
        return "array" in types
    return False


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError("duplicate key(s) %s" % sorted(dup))
    return dict(pairs)


def check_object(schema, name, obj, where, problems):
    table = schema[name]
    for key, (types, required) in table.items():
        if key not in obj:
            if required:
                problems.append("%s: %s: missing key %r" % (where, name, key))
            continue
        if not type_ok(obj[key], types):
            problems.append("%s: %s: key %r: %r is not %s" % (where, name, key, obj[key], " or ".join(sorted(types))))
    for key in obj:
        if key not in table:
            problems.append("%s: %s: undocumented key %r" % (where, name, key))
    # Nested objects documented as "RECORD.KEY".
    for key, value in obj.items():
        sub = name + "." + key
        if sub in schema and isinstance(value, dict):
            check_object(schema, sub, value, where, problems)


def check_values(rec, where, problems):
    """What the tables cannot say: the contents of kv, state and actors."""
    t = rec.get("type")
    if t == "event":
        for k, v in rec.get("kv", {}).items():
            if not (v is None or isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))):
                problems.append("%s: kv %r: %r is no integer, string or null" % (where, k, v))
        for k, v in rec.get("state", {}).items():
            if not isinstance(v, int) or isinstance(v, bool):
                problems.append("%s: state %r: %r is no integer" % (where, k, v))
    elif t == "header":
        for a in rec.get("actors", []):
            if not (isinstance(a, dict) and set(a) == {"id", "name"} and isinstance(a["id"], int)
                    and isinstance(a["name"], str)):
                problems.append("%s: actors: bad entry %r" % (where, a))


def check_stream(schema, lines, source):
    problems = []
    state = "start"
    ids, viols, last_id = 0, 0, 0
    event_ids = set()
    summaries = 0
    for n, line in enumerate(lines, 1):
        where = "%s:%d" % (source, n)
        try:
            rec = json.loads(line, object_pairs_hook=no_dups)
        except ValueError as e:
            problems.append("%s: not JSON: %s" % (where, e))
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
            problems.append("%s: not an object with a type" % where)
            continue
        t = rec["type"]
        if t not in schema:
            problems.append("%s: undocumented type %r" % (where, t))
            continue
        check_object(schema, t, rec, where, problems)
        check_values(rec, where, problems)
        if t == "header":
            if state not in ("start", "done"):
                problems.append("%s: header inside a trace" % where)
            state, ids, viols, last_id, event_ids = "events", 0, 0, 0, set()
            continue
        if state not in ("events", "violations"):
            problems.append("%s: %s outside a trace" % (where, t))
            continue
        if t == "event":
            if state != "events":
                problems.append("%s: event after the trailing violations" % where)
            if isinstance(rec.get("id"), int):
                if rec["id"] <= last_id:
                    problems.append("%s: event id %d after %d" % (where, rec["id"], last_id))
                last_id = rec["id"]
                event_ids.add(rec["id"])
            ids += 1
        elif t == "violation":
            viols += 1
            ev = rec.get("event")
            if ev in event_ids and ev != last_id:
                problems.append("%s: violation of event %r not right after it" % (where, ev))
            if ev not in event_ids:
                state = "violations"
        elif t == "summary":
            summaries += 1
            if rec.get("events") != ids:
                problems.append("%s: summary says %r events, saw %d" % (where, rec.get("events"), ids))
            if rec.get("violations") != viols:
                problems.append("%s: summary says %r violations, saw %d" % (where, rec.get("violations"), viols))
            if rec.get("last_id") != last_id:
                problems.append("%s: summary last_id %r, saw %d" % (where, rec.get("last_id"), last_id))
            state = "done"
    if state != "done":
        problems.append("%s: stream does not end with a summary" % source)
    return problems, summaries


def self_test(schema):
    """The checker must reject what it exists to reject."""
    head = '{"type":"header","format":"mnsim-trace","version":1,"title":null,"mode":"full","actors":[{"id":0,"name":"-"}]}'
    ev = '{"type":"event","id":1,"actor":"-","actor_id":0,"event":"x","kv":{"a":"0x1"}}'
    summ = '{"type":"summary","events":1,"first_id":1,"last_id":1,"dropped":0,"violations":0,"violations_total":0,"replay":null}'
    good = [head, ev, summ]
    bad = {
        "no JSON": [head, ev[:-1], summ],
        "duplicate key": [head, ev.replace('"kv"', '"id":2,"kv"'), summ],
        "missing key": [head, ev.replace('"actor_id":0,', ""), summ],
        "undocumented key": [head, ev.replace('"kv"', '"extra":1,"kv"'), summ],
        "wrong type": [head, ev.replace('"id":1', '"id":"1"'), summ],
        "bad kv value": [head, ev.replace('"0x1"', "[1]"), summ],
        "count": [head, ev, ev.replace('"id":1', '"id":2'), summ],
        "no summary": [head, ev],
        "bad lock": [head, ev.replace('"kv"', '"lock":{"holder":1,"readers":0},"kv"'), summ],
    }
    problems = []
    if check_stream(schema, good, "self-test good")[0]:
        problems.append("self-test: a good stream was rejected: %s" % check_stream(schema, good, "good")[0])
    for what, lines in bad.items():
        if not check_stream(schema, lines, "self-test")[0]:
            problems.append("self-test: %s was not caught" % what)
    return problems


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    schema = load_schema(args[0])
    args = args[1:]
    problems = self_test(schema)
    streams = []
    if "--exec" in args:
        i = args.index("--exec")
        cmd, args = args[i + 1:], args[:i]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            problems.append("%s exited %d: %s" % (cmd[0], res.returncode, res.stderr.strip()))
        streams.append((" ".join(cmd), res.stdout.splitlines()))
    for path in args:
        with open(path, encoding="utf-8") as f:
            streams.append((path, f.read().splitlines()))
    traces = 0
    for source, lines in streams:
        if not lines:
            problems.append("%s: empty" % source)
            continue
        p, n = check_stream(schema, lines, source)
        problems += p
        traces += n
    for p in problems:
        print(p)
    print("%d trace(s) checked, %d problem(s)" % (traces, len(problems)))
    sys.exit(1 if problems or not traces else 0)


if __name__ == "__main__":
    main()
