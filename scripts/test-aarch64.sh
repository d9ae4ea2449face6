#!/usr/bin/env bash
# The tests for aarch64 (Jetson, Raspberry Pi): the library's, the C ABI's,
# the CMake install's, the command's, the Python wheel's and a smoke run of
# the benchmark harness, cross-built here and run under qemu-user, or built
# and run natively on an aarch64 machine.
# `.ci/run` calls it after scripts/test.sh.
#
#   scripts/test-aarch64.sh            # cross-built, under qemu-user (CI)
#   scripts/test-aarch64.sh --native   # on a real aarch64 board (as root: no skips)
#
# Under emulation the test binaries run through cargo's runner and start
# their child processes through $DBSHM_TEST_RUNNER, the same qemu command:
# no binfmt_misc registration, nothing changed on the host. What cannot
# run under qemu-user is skipped here, each test named with its reason
# (RELIABILITY.md, "aarch64"); --native runs them all. qemu-user gives the
# guest x86's strong memory order, so the emulated runs test the NEON copy
# and the code paths, not the barriers: those are argued in src/copy.rs and
# tested only by --native on a board.
#
# A second emulated pass runs the library's tests with a page size of
# 16 KiB (qemu's -p; the Raspberry Pi 5's kernel default): the code that
# reads the page size gets 16 KiB and must cope. qemu 7.2 still checks
# madvise, mprotect and munmap against the host's 4 KiB pages, so only a
# 16 KiB kernel (--native on such a board) checks dbshm's ranges against
# them.
#
# Installs what a fresh machine lacks, as root: the rustup target, and
# Debian's gcc-aarch64-linux-gnu and qemu-user (without the recommended
# qemu-user-binfmt), and Debian's arm64 CPython unpacked into target/.
# 16 min 13 s from a clean clone on 2 cores (crates downloaded), before the
# benchmark harness's smoke run (1.5 min) was added; the 16 KiB pass is 2
# minutes of it, the wheel and its tests 1.
set -euo pipefail
case "${1:-}" in
    "" | --native) ;;
    *) echo "usage: scripts/test-aarch64.sh [--native]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }
# What scripts/test.sh needs too: cmake, pkg-config and the C compilers
# for tests/install.rs, python3's venv for the wheel.
source scripts/install-needs.sh
target=aarch64-unknown-linux-gnu
skips=() cli_skips=() tools=()
if [ "${1:-}" != --native ]; then
    rustup target list --installed | grep -x "$target" >/dev/null || rustup target add "$target"
    missing=()
    for pair in aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu aarch64-linux-gnu-g++:g++-aarch64-linux-gnu \
        qemu-aarch64:qemu-user; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "scripts/test-aarch64.sh: please install: ${missing[*]}" >&2
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$runner"
    export DBSHM_TEST_RUNNER="$runner"
    # The C and C++ compilers and nm of the target, for the examples and
    # tests/capi.rs. Given to those commands alone: exported, they would
    # also build the host's build-script dependencies (psm), and fail.
    tools=(CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ NM=aarch64-linux-gnu-nm)
    # tests/install.rs: CMake with the toolchain file, and the consumers'
    # libraries listed by the target's loader under qemu, as ldd would.
    export DBSHM_CMAKE_TOOLCHAIN=$PWD/cmake/aarch64-linux-gnu.cmake
    export DBSHM_TEST_LDD="$runner -E LD_TRACE_LOADED_OBJECTS=1"
    # Each with its reason in RELIABILITY.md ("aarch64").
    for test in \
        a_segment_too_big_for_dev_shm_fails_at_create_and_leaves_nothing \
        big_frames_are_on_huge_pages_in_a_huge_page_tmpfs \
        small_frames_keep_small_pages_on_a_within_size_tmpfs \
        the_systems_force_and_deny_decide_for_every_tmpfs \
        every_page_is_huge_on_hugetlbfs_and_an_exhausted_pool_is_a_clear_error \
        a_forked_child_gets_a_watcher_of_its_own \
        a_forked_child_waits_asynchronously_with_a_watcher_of_its_own \
        c_and_rust_meet_on_huge_pages \
        c_examples_run_clean_under_valgrind \
        examples_makefile_builds_into_cargo_target_dir; do
        skips+=(--skip "$test")
    done
    for test in \
        demo_runs_writer_and_readers_in_processes_and_reports_a_clean_summary \
        demo_fails_when_a_reader_dies \
        demo_stopped_by_sigterm_stops_its_processes_and_removes_its_segment \
        demo_keeps_its_duration_below_one_frame_per_second_and_every_reader_checks_a_frame \
        demo_killed_with_sigkill_takes_its_processes_with_it \
        no_number_on_a_demos_command_line_panics; do
        cli_skips+=(--skip "$test")
    done
fi
# Lints for this target: its code paths (the NEON copy) are not the host's.
cargo clippy -p dbshm --features capi --target "$target" --all-targets -- -D warnings
cargo clippy -p dbshm-cli --target "$target" --all-targets -- -D warnings
# The C libraries for the target, and the C and C++ examples built with
# the target's compilers by their Makefile.
cargo rustc --release -p dbshm --features capi --target "$target" \
    --lib --crate-type cdylib --crate-type staticlib
out=$PWD/target/$target
env "${tools[@]}" make -s -C examples-c LIBDIR="$out/release" OUT="$out/examples-c"
# The library's own tests, its multi-process, hostile, directory, pin and
# event tests, the C ABI's from C and C++, and its CMake install used by C,
# C++ and pkg-config projects.
env "${tools[@]}" cargo test -p dbshm --features capi --target "$target" --lib \
    --test api --test multiprocess --test events --test hostile --test dirs \
    --test pin --test pin_processes --test no_alloc --test capi --test install \
    -- "${skips[@]}"
# The command's tests: its programs, recordings and hostile files.
cargo test -p dbshm-cli --target "$target" -- "${cli_skips[@]}"
if [ "${1:-}" != --native ]; then
    # The library's tests again, the guest's pages 16 KiB. Backtraces off:
    # with them, qemu 7.2 at -p 16384 crashes in any Rust program that
    # prints a panic's backtrace, dbshm or not (a unit test panics on
    # purpose). One more skip: smaps's KernelPageSize is the host kernel's
    # 4 kB while the guest's page is 16 KiB, which a 16 KiB kernel never
    # reports, and that test checks the two agree.
    runner="qemu-aarch64 -p 16384 -L /usr/aarch64-linux-gnu"
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$runner" DBSHM_TEST_RUNNER="$runner" \
        RUST_BACKTRACE=0 cargo test -p dbshm --features capi --target "$target" --lib \
        --test api --test multiprocess --test events --test hostile --test dirs \
        --test pin --test pin_processes --test no_alloc \
        -- "${skips[@]}" --skip a_segment_in_a_chosen_directory_is_shared_through_dbshm_dir
fi
# The benchmark harness (scripts/bench.sh's) without iceoryx2, as in
# scripts/test.sh: a few verified frames of each contender, no figures.
CARGO_TARGET_DIR=target cargo run --release --manifest-path benchmarks/Cargo.toml \
    --no-default-features --target "$target" -- --smoke >/dev/null
# The Python package: on a board, its whole suite as a user installs it;
# under emulation, the aarch64 wheel built by maturin, checked for its
# tag, and its in-process tests run by Debian's arm64 CPython under qemu
# (the other tests start Rust, C and Python children, which the host
# cannot execute without the runner; test_processes.py is all of those).
if [ "${1:-}" = --native ]; then
    scripts/python-test.sh
    exit
fi
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
venv=target/venv-maturin
[ -x "$venv/bin/maturin" ] || { "$python" -m venv "$venv" && "$venv/bin/pip" install --quiet "maturin>=1.9,<2"; }
wheels=$out/wheels
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --release --target "$target" -m python/Cargo.toml --out "$wheels"
wheel=$(echo "$wheels"/dbshm-*.whl)
case $wheel in
    *-cp39-abi3-manylinux_*_aarch64.whl) echo "built $(basename "$wheel")" ;;
    *) echo "scripts/test-aarch64.sh: unexpected wheel $wheel" >&2; exit 1 ;;
esac
# Debian's arm64 CPython, unpacked from its packages into a folder of
# target/ (apt's lists for arm64 kept there too: nothing on the host
# changes), and numpy's and pytest's aarch64 wheels beside the package.
# The packages are Debian 12's; the tree is made whole before it is named
# (an interrupted run leaves no half of it).
sysroot=$out/python-root
if [ ! -x "$sysroot/usr/bin/python3.11" ]; then
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        echo "scripts/test-aarch64.sh: the wheel's tests need Debian's apt-get and dpkg-deb" \
            "for an arm64 CPython; run scripts/python-test.sh on a board instead" >&2
        exit 1
    fi
    apt_dir=$out/apt
    rm -rf "$apt_dir/debs" "$sysroot.new"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
    apt=(-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
        -o Dir::State::Status=/dev/null -o APT::Architecture=arm64 -o APT::Architectures::=arm64)
    apt-get "${apt[@]}" update -qq
    (cd "$apt_dir/debs" && apt-get "${apt[@]}" download -qq python3.11-minimal \
        libpython3.11-minimal libpython3.11-stdlib libexpat1 zlib1g libffi8 libc6 libgcc-s1)
    for deb in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot.new"; done
    mv "$sysroot.new" "$sysroot"
fi
site=$out/python-site
rm -rf "$site"
"$venv/bin/pip" install --quiet --target "$site" --implementation cp --python-version 3.11 \
    --platform manylinux_2_34_aarch64 --platform manylinux2014_aarch64 --only-binary=:all: \
    "numpy>=2" pytest "$wheel"
qemu-aarch64 -L "$sysroot" -E PYTHONPATH="$site" -E PYTHONDONTWRITEBYTECODE=1 \
    "$sysroot/usr/bin/python3.11" -m pytest -q -p no:cacheprovider \
    python/tests/test_api.py python/tests/test_async.py -k "not several_segments"
