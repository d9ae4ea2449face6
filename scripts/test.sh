#!/usr/bin/env bash
# Runs every check dbshm has, as CI does: formatting, lints, docs, the C
# libraries, header and examples, and every test (unit, API, multi-process,
# allocation, doc tests, C and C++ against Rust, valgrind, the Python package
# against Rust and C, the Zenoh bridge between processes, the dbshm command
# and its demo, CMake install and consumers with find_package, static linking
# and pkg-config), and a smoke run of the benchmark harness. Then checks
# that the tests left no segment in /dev/shm.
#
#   scripts/test.sh
#
# Needs the Rust toolchain (with rustfmt and clippy), a C and a C++ compiler,
# make, valgrind, cmake and pkg-config. What is missing and can be installed is installed: as root
# through apt-get; otherwise the script says what to install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# What a fresh machine lacks (sourced: a cmake installed from PyPI must be
# on this shell's PATH).
source scripts/install-needs.sh

leftovers() { find /dev/shm -maxdepth 1 \( -name 'dbshm-*' -o -name '.dbshm-*' \) -newer "$stamp" 2>/dev/null | sort; }
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings (without and with the C ABI)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --features capi -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features capi

step "the C libraries (target/release/libdbshm.so, libdbshm.a) and examples (target/examples-c)"
cargo rustc --release -p dbshm --features capi --lib --crate-type cdylib --crate-type staticlib
make -s -C examples-c
cc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -Iinclude \
    benchmarks/c/small_frames.c -Ltarget/release -ldbshm -o target/small_frames_c

step "the README's steps to link a program against the cargo-built library"
scripts/readme-link.sh

step "cargo test --features capi"
cargo test --features capi

step "the Zenoh bridge (bridge/, release: about 5 minutes to build Zenoh from clean), its tests between processes on loopback"
cargo test --release -p dbshm-bridge

step "the Python package (python/): pip install ./python, with numpy 2 and with numpy 1, and its tests"
scripts/python-test.sh

step "model check of the protocol with loom (its own build, in target/loom)"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p dbshm --lib --release model -- --test-threads=1

step "the benchmark harness without iceoryx2 (benchmarks/): lints, and a few frames of every contender, each verified"
CARGO_TARGET_DIR=target cargo fmt --manifest-path benchmarks/Cargo.toml -- --check
CARGO_TARGET_DIR=target cargo clippy --manifest-path benchmarks/Cargo.toml --no-default-features --all-targets -- -D warnings
CARGO_TARGET_DIR=target cargo test --release --manifest-path benchmarks/Cargo.toml --no-default-features
CARGO_TARGET_DIR=target cargo run --release --manifest-path benchmarks/Cargo.toml --no-default-features -- --smoke >/dev/null

step "no test segment left in /dev/shm"
left=$(leftovers)
if [ -n "$left" ]; then
    echo "tests left these segments behind:" >&2
    echo "$left" >&2
    exit 1
fi
echo "none"
