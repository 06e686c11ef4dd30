#!/bin/sh
# SPDX-License-Identifier: MIT
#
# plot.sh - ns per invalidation event against the memslot count, from `mnsim bench --json`:
# the unmap rows of 4 KiB ranges that hit no memslot, one line per format and hva stream,
# with the bare interval-tree query of the same events (one grey dashed line per stream). Needs python3 and
# gnuplot (Debian: gnuplot-nox); without gnuplot it says so and exits 0 having written
# nothing.
#
#   mnsim bench --full --json > bench.jsonl     # or the PR mode: 3 memslot counts
#   bench/plot.sh bench.jsonl docs/bench-no-memslot.svg
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BENCH.jsonl OUT.svg" >&2
	exit 2
fi
in=$1
out=$2
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "$0: gnuplot is not installed (apt-get install gnuplot-nox); no plot written" >&2
	exit 0
fi
if [ ! -r "$in" ]; then
	echo "$0: cannot read $in" >&2
	exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per (arch, stream): slots, ns/event p50, itree ns.
python3 - "$in" "$tmp" <<'PY'
import json, sys, os
rows = {}
meta = None
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith('{'):
        continue
    r = json.loads(line)
    if r.get('bench') != 'invalidate' or r.get('op') not in (None, 'unmap'):
        continue
    if r.get('hit') != 'no-memslot' or r.get('range_bytes') != 4096:
        continue
    if not r.get('layout', '').startswith('2M'):
        continue
    meta = meta or (r.get('cpu_model'), r.get('git_sha'))
    rows.setdefault((r['arch'], r['stream']), []).append(
        (r['slots'], r['ns_per_event_p50'], r.get('ref_itree_ns')))
if not rows:
    sys.exit('no unmap no-memslot 4 KiB rows in ' + sys.argv[1])
with open(os.path.join(sys.argv[2], 'series'), 'w') as idx:
    for (arch, stream), pts in sorted(rows.items()):
        name = '%s-%s' % (arch, stream)
        with open(os.path.join(sys.argv[2], name + '.dat'), 'w') as f:
            for s, ns, it in sorted(pts):
                f.write('%d %f %f\n' % (s, ns, it if it is not None else float('nan')))
        idx.write(name + '\n')
with open(os.path.join(sys.argv[2], 'title'), 'w') as f:
    f.write('%s, git %s' % meta)
PY

{
	printf 'set terminal svg size 1000,560 dynamic font "sans,12"\n'
	printf 'set output "%s"\n' "$out"
	printf 'set title "Invalidation hitting no memslot (4 KiB, unmap): %s" noenhanced\n' \
		"$(cat "$tmp/title")"
	printf 'set logscale xy\nset xlabel "memslots"\nset ylabel "ns per start+end pair (median)"\n'
	printf 'set key outside right top noenhanced\nset grid\n'
	# One colour per format, one point type per stream; the bare tree query (the same
	# slot set for every format) once per stream, grey and dashed.
	printf 'plot '
	sep=''
	while read -r s; do
		case $s in
		x86-ept5-*) c='#d62728' ;;
		x86-ept-*) c='#1f77b4' ;;
		*) c='#2ca02c' ;;
		esac
		case $s in
		*-sequential) pt=7 ;;
		*-random) pt=5 ;;
		*) pt=9 ;;
		esac
		printf '%s"%s/%s.dat" using 1:2 with linespoints lc rgb "%s" pt %d title "%s"' \
			"$sep" "$tmp" "$s" "$c" "$pt" "$s"
		sep=', '
	done < "$tmp/series"
	dt=2
	for st in sequential random strided; do
		f=$(grep -- "-$st\$" "$tmp/series" | head -n 1) || true
		[ -n "$f" ] || continue
		printf ', "%s/%s.dat" using 1:3 with lines lc rgb "#7f7f7f" dt %d title "itree, %s"' \
			"$tmp" "$f" "$dt" "$st"
		dt=$((dt + 1))
	done
	printf '\n'
} > "$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "$0: wrote $out"
