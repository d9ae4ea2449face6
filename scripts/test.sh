#!/usr/bin/env bash
# Runs every check dbshm has, as CI does: formatting, lints, docs, the C
# libraries, header and examples, and every test (unit, API, multi-process,
# allocation, doc tests, C and C++ against Rust, valgrind, the dbshm command
# and its demo). Then checks that the tests left no segment in /dev/shm.
#
#   scripts/test.sh
#
# Needs the Rust toolchain (with rustfmt and clippy), a C and a C++ compiler,
# make and valgrind. What is missing and can be installed is installed: as root
# through apt-get; otherwise the script says what to install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Installs the Debian packages that provide the missing commands.
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
    else
        echo "scripts/test.sh: please install: ${missing[*]}" >&2
        exit 1
    fi
}

for tool in rustfmt clippy-driver; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! rustup which "$tool" >/dev/null 2>&1; then
        echo "scripts/test.sh: $tool is missing; install it with: rustup component add ${tool%-driver}" >&2
        exit 1
    fi
done
need cc:gcc c++:g++ make:make valgrind:valgrind

leftovers() { find /dev/shm -maxdepth 1 -name 'dbshm-*' -newer "$stamp" 2>/dev/null | sort; }
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

step "cargo test --features capi"
cargo test --features capi

step "no test segment left in /dev/shm"
left=$(leftovers)
if [ -n "$left" ]; then
    echo "tests left these segments behind:" >&2
    echo "$left" >&2
    exit 1
fi
echo "none"
