#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test-plot.sh - bench/plot.sh on three made-up JSON rows of `mnsim bench --json`: the SVG
# has one line per (format, stream) and no row of another kind; bad usage exits 2. Where
# gnuplot is missing, plot.sh must say so, exit 0 and write nothing.
set -eu
plot=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

row() { # arch stream slots ns hit op
	printf '{"bench":"invalidate","op":"%s","arch":"%s","levels":4,"slots":%s,"layout":"2M-slots-2M-gaps","stream":"%s","range_bytes":4096,"hit":"%s","ns_per_event_p50":%s,"ref_itree_ns":5.0,"git_sha":"abc","cpu_model":"Test CPU"}\n' \
		"$6" "$1" "$3" "$2" "$5" "$4"
}
{
	echo "mnsim bench (pr): a table line that is not JSON"
	row x86-ept sequential 10 80.0 no-memslot unmap
	row x86-ept sequential 509 96.0 no-memslot unmap
	row x86-ept random 10 90.0 no-memslot unmap
	row x86-ept random 10 900.0 present unmap
	row arm64-stage2 walked 10 90.0 no-memslot clear_young
} > "$tmp/in.jsonl"

if sh "$plot" "$tmp/in.jsonl" 2>/dev/null; then fail "one argument accepted"; else
	[ $? -eq 2 ] || fail "usage error is not exit 2"
fi

if command -v gnuplot >/dev/null 2>&1; then
	sh "$plot" "$tmp/in.jsonl" "$tmp/out.svg" > "$tmp/log" 2>&1 || fail "plot.sh failed: $(cat "$tmp/log")"
	grep -q '<svg' "$tmp/out.svg" || fail "no SVG written"
	grep -q 'x86-ept-sequential' "$tmp/out.svg" || fail "sequential series missing"
	grep -q 'x86-ept-random' "$tmp/out.svg" || fail "random series missing"
	! grep -q 'arm64-stage2-walked' "$tmp/out.svg" || fail "a clear_young row was plotted"
	grep -q 'Test CPU' "$tmp/out.svg" || fail "the title lacks the machine"
	# Only present rows: nothing to plot is an error, not an empty picture.
	row x86-ept random 10 900.0 present unmap > "$tmp/none.jsonl"
	if sh "$plot" "$tmp/none.jsonl" "$tmp/none.svg" 2>/dev/null; then
		fail "a file without no-memslot rows was plotted"
	fi
else
	sh "$plot" "$tmp/in.jsonl" "$tmp/out.svg" > "$tmp/log" 2>&1 || fail "plot.sh failed without gnuplot"
	grep -q 'not installed' "$tmp/log" || fail "no message without gnuplot"
	[ ! -e "$tmp/out.svg" ] || fail "a file was written without gnuplot"
fi
echo "ok"
