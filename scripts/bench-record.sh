#!/usr/bin/env bash
# `dbshm record` against a live stream, behind BENCHMARKS.md ("Recording"):
# the demo's writer (and one reader) at a shape and rate, the recorder for
# 3 s into a directory, RUNS times; prints each run's frames, skips and
# rate, then, as the baseline of what the file system takes, dd writing the
# same bytes (180 frames) to it.
#
#   scripts/bench-record.sh [SHAPE [FPS [DIR [RUNS]]]]
#   scripts/bench-record.sh 1080x1920x3 60 /dev/shm 5     # the defaults
#   scripts/bench-record.sh 1024 1000 /dev/shm 3          # a 1 kHz control loop
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1080x1920x3} fps=${2:-60} dir=${3:-/dev/shm} runs=${4:-5}
cargo build -q --release -p dbshm-cli
dbshm=$PWD/target/release/dbshm
name=dbshm-bench-record-$$
file=$dir/.dbshm-bench-record-$$.npy
trap 'rm -f "$file" "$dir/.dbshm-bench-dd-$$"; "$dbshm" rm --force "$name" 2>/dev/null || true' EXIT
echo "record $shape at $fps fps into $dir, 3 s, $runs runs"
for run in $(seq "$runs"); do
    "$dbshm" demo --name "$name" --shape "$shape" --fps "$fps" --duration 5 \
        --readers 1 --no-c-reader >/dev/null 2>&1 &
    demo=$!
    sleep 1
    "$dbshm" record "$name" -o "$file" --duration 3 | tail -1 | sed "s|^$file: |run $run: |"
    rm -f "$file"
    wait "$demo"
done
bytes=$(( $(echo "$shape" | tr x '*') ))
echo "baseline: dd of 180 such frames to $dir"
dd if=/dev/zero of="$dir/.dbshm-bench-dd-$$" bs="$bytes" count=180 2>&1 | tail -1
