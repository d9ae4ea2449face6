#!/usr/bin/env bash
# The Zenoh bridge's benchmark behind BENCHMARKS.md ("Across machines"):
# latency against a TCP socket between two processes, 1080p at 60 fps for
# 60 s with memory sampled, and flat-out rates, all on loopback. Builds
# dbshm-bridge (Zenoh: about 5 minutes the first time), runs about 2
# minutes, prints markdown and writes it to target/bridge-bench.md.
#
#   scripts/bench-bridge.sh            # as in BENCHMARKS.md
#   scripts/bench-bridge.sh --quick    # fewer frames, 10 s sustained
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p dbshm-bridge
target/release/bridge-bench "$@" | tee target/bridge-bench.md
