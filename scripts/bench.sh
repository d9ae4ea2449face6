#!/usr/bin/env bash
# The whole comparison behind BENCHMARKS.md: dbshm against memcpy, its old
# Mutex+bincode design, iceoryx2, a Unix socket, a pipe and a raw futex, in
# process and across processes, the contenders interleaved. Builds the harness
# in benchmarks/ (iceoryx2 included: about a minute the first time), runs it
# (about 3 minutes), prints the markdown and writes it to target/benchmarks.md.
#
#   scripts/bench.sh                   # the full run, as in BENCHMARKS.md
#   scripts/bench.sh --quick           # fewer rounds and frames
#   scripts/bench.sh --only wake       # one section: inproc, sweep, transfer, wake, scaling
#
# Run it on an otherwise idle machine; it starts up to 9 processes at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=target
cargo build --release --manifest-path benchmarks/Cargo.toml
exec target/release/compare --out target/benchmarks.md "$@"
