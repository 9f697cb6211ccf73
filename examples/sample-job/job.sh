#!/bin/sh
# Modicum's sample job: a small, deterministic computation. It sees no network and no
# host details; everything it writes under /out is the result (with stdout, stderr and
# the exit code), committed on chain by its Merkle root.
#   job.sh [COUNT]   squares of 0 … COUNT-1 (default 2000), scaled by $SCALE (default
#                    1); and, if an input is mounted at /in/text, its words per file.
set -e
count=${1:-2000}
scale=${SCALE:-1}
mkdir -p /out
i=0
: > /out/squares.txt
while [ "$i" -lt "$count" ]; do
	echo "$i $((i * i * scale))" >> /out/squares.txt
	i=$((i + 1))
done
sha256sum /out/squares.txt | cut -d' ' -f1 > /out/checksum.txt
echo "computed $(wc -l < /out/squares.txt) squares"
if [ -d /in/text ]; then
	for file in /in/text/*; do
		echo "$(wc -w < "$file") ${file#/in/text/}"
	done > /out/words.txt
	echo "counted the words of $(wc -l < /out/words.txt) input file(s)"
fi
