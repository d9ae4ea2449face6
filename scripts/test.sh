#!/usr/bin/env bash
# Runs every check dbshm has, as CI does: formatting, lints, docs, the C
# libraries, header and examples, and every test (unit, API, multi-process,
# allocation, doc tests, C and C++ against Rust, valgrind, the dbshm command
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

# Installs the Debian packages that provide the missing commands, as root;
# otherwise cmake from PyPI into ~/.local, and a message for the rest.
need() {
    local missing=() cmd pkg
    for pair in "$@"; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "installing ${missing[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        return 0
    fi
    if [[ " ${missing[*]} " == *" cmake "* ]] && command -v python3 >/dev/null 2>&1; then
        step "installing cmake from PyPI (python3 -m pip install --user cmake)"
        python3 -m pip install --quiet --user cmake
        export PATH="$HOME/.local/bin:$PATH"
        missing=("${missing[@]/cmake/}")
    fi
    local rest
    rest=$(echo "${missing[*]}" | xargs)
    if [ -n "$rest" ]; then
        echo "scripts/test.sh: please install: $rest" >&2
        exit 1
    fi
}

for tool in rustfmt clippy-driver; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! rustup which "$tool" >/dev/null 2>&1; then
        echo "scripts/test.sh: $tool is missing; install it with: rustup component add ${tool%-driver}" >&2
        exit 1
    fi
done
need cc:gcc c++:g++ make:make valgrind:valgrind cmake:cmake pkg-config:pkg-config readelf:binutils pkill:procps

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

step "the README's steps to link a program against the cargo-built library"
scripts/readme-link.sh

step "cargo test --features capi"
cargo test --features capi

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
