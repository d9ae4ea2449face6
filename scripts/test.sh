#!/usr/bin/env bash
# Runs every check dbshm has, as CI does: formatting, lints, docs, and every
# test (unit, API, multi-process, allocation, doc tests). Then checks that the
# tests left no segment behind in /dev/shm.
#
#   scripts/test.sh
#
# Needs only the Rust toolchain with rustfmt and clippy; cargo fetches the
# crates on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

for tool in rustfmt clippy-driver; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! rustup which "$tool" >/dev/null 2>&1; then
        echo "scripts/test.sh: $tool is missing; install it with: rustup component add ${tool%-driver}" >&2
        exit 1
    fi
done

leftovers() { find /dev/shm -maxdepth 1 -name 'dbshm-*' -newer "$stamp" 2>/dev/null | sort; }
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

step "cargo test"
cargo test

step "no test segment left in /dev/shm"
left=$(leftovers)
if [ -n "$left" ]; then
    echo "tests left these segments behind:" >&2
    echo "$left" >&2
    exit 1
fi
echo "none"
