#!/bin/sh
# Modicum's sample job: a small, deterministic computation. It sees no network and no
# host details; everything it writes under /out is the result (with stdout, stderr and
# the exit code), committed on chain by its Merkle root.
set -e
mkdir -p /out
i=0
: > /out/squares.txt
while [ "$i" -lt 2000 ]; do
	echo "$i $((i * i))" >> /out/squares.txt
	i=$((i + 1))
done
sha256sum /out/squares.txt | cut -d' ' -f1 > /out/checksum.txt
echo "computed $(wc -l < /out/squares.txt) squares"
