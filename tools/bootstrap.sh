#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bootstrap.sh - make this checkout buildable: install the Debian packages mnsim needs when
# any is missing (apt-get update first), then configure ./build (debug, with the tests) and
# ./build-release (-Dbuildtype=release, without the tests: what `mnsim bench` figures come
# from) once. Safe to run again: with everything present it only checks. Used by both
# README commands and by .ci/run.
set -eu

cd "$(dirname "$0")/.."

PACKAGES="gcc libc6-dev python3 meson ninja-build pkg-config libcmocka-dev libbsd-dev libjemalloc-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "bootstrap: installing$missing"
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=""
	elif command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "bootstrap: missing packages:$missing; run as root or install them" >&2
		exit 2
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Configure build/ once. A half-configured directory (a failed first setup) is set up again
# from scratch; a configured one keeps its options, except that the tests must be built.
if [ ! -f build/build.ninja ]; then
	if [ -f build/meson-private/coredata.dat ]; then
		meson setup --wipe build -Dtests=enabled
	else
		rm -rf build
		meson setup build -Dtests=enabled
	fi
elif ! meson introspect --buildoptions build |
	python3 -c 'import json, sys; o = {x["name"]: x["value"] for x in json.load(sys.stdin)}; sys.exit(o.get("tests") != "enabled")'; then
	meson configure build -Dtests=enabled
fi

# The release build of the README's main job: the demo and the benchmark. Set up once.
if [ ! -f build-release/build.ninja ]; then
	rm -rf build-release
	meson setup build-release -Dbuildtype=release -Dtests=disabled
fi
