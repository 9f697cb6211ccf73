#!/usr/bin/env bash
# Builds the job images the devnet and the tests use, without any registry:
#   modicum/base:1        busybox-static as a single layer (the declared base layer)
#   modicum/sample-job:1  examples/sample-job on top of it
#   modicum/trivial-job:1 examples/trivial-job: prints one line (bench/: latency, throughput)
#   modicum/spin-job:1    examples/spin-job: a static CPU-bound loop (bench/: runtime overhead)
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$MODICUM_ROOT"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox-static is missing: run scripts/setup.sh" >&2; exit 1; }
if ! docker image inspect modicum/base:1 >/dev/null 2>&1; then
	root=$(mktemp -d)
	trap 'rm -rf "$root"' EXIT
	mkdir -p "$root/bin" "$root/out" "$root/tmp"
	cp "$busybox" "$root/bin/busybox"
	for tool in sh cat cut echo head mkdir sha256sum sleep tail wc yes dd seq; do
		ln -s busybox "$root/bin/$tool"
	done
	# Fixed timestamps so every machine imports the same base layer (same hash).
	tar --sort=name --mtime='2020-01-01 00:00Z' --owner=0 --group=0 --numeric-owner \
		-C "$root" -cf - . | docker import --change 'CMD ["/bin/sh"]' - modicum/base:1 >/dev/null
fi
# The classic builder uses the local base image and never pulls.
if ! log=$(DOCKER_BUILDKIT=0 docker build -q -t modicum/sample-job:1 examples/sample-job 2>&1); then
	echo "$log" >&2
	exit 1
fi
if ! log=$(DOCKER_BUILDKIT=0 docker build -q -t modicum/trivial-job:1 examples/trivial-job 2>&1); then
	echo "$log" >&2
	exit 1
fi
# The spin job is C compiled statically, so it needs no C library in the image.
context=$(mktemp -d)
trap 'rm -rf "$context" ${root:+"$root"}' EXIT
cp examples/spin-job/Dockerfile "$context/"
cc -static -O2 -o "$context/spin" examples/spin-job/spin.c
if ! log=$(DOCKER_BUILDKIT=0 docker build -q -t modicum/spin-job:1 "$context" 2>&1); then
	echo "$log" >&2
	exit 1
fi
echo "images: modicum/base:1, modicum/sample-job:1, modicum/trivial-job:1, modicum/spin-job:1"
