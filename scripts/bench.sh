#!/usr/bin/env bash
# The whole comparison behind BENCHMARKS.md: dbshm against memcpy, its old
# Mutex+bincode design, iceoryx2, a Unix socket, a pipe and a raw futex, in
# process and across processes, the contenders interleaved. Builds the harness
# in benchmarks/ (iceoryx2 included: about a minute the first time), runs it
# (about 3 minutes), prints the markdown and writes it to target/benchmarks.md.
#
#   scripts/bench.sh                   # the full run, as in BENCHMARKS.md
#   scripts/bench.sh --quick           # fewer rounds and frames
#   scripts/bench.sh --only wake       # one section: inproc, sweep, transfer, wake, scaling, pages
#
# Run it on an otherwise idle machine; it starts up to 9 processes at once.
# As root, the huge-pages section also measures segments in a tmpfs mounted
# huge=always and on hugetlbfs (40 pages reserved in vm.nr_hugepages), both
# mounted in a temporary directory here and unmounted, and the reservation
# given back, when the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=target
cargo build --release --manifest-path benchmarks/Cargo.toml
huge=()
# Only for a run that has the huge-pages section: the whole run, or --only pages.
pages=yes
case " $* " in *" --only "*) case " $* " in *" --only pages "*) ;; *) pages=no ;; esac ;; esac
if [ "$(id -u)" = 0 ] && [ "$pages" = yes ]; then
    mounts=$(mktemp -d /tmp/dbshm-bench-pages.XXXXXX)
    pages_before=$(cat /proc/sys/vm/nr_hugepages)
    cleanup() {
        umount "$mounts/thp" "$mounts/hugetlb" 2>/dev/null || true
        echo "$pages_before" >/proc/sys/vm/nr_hugepages
        rm -rf "$mounts"
    }
    trap cleanup EXIT
    mkdir "$mounts/thp" "$mounts/hugetlb"
    if mount -t tmpfs -o huge=always,size=512m,mode=0700 tmpfs "$mounts/thp"; then
        huge+=(--huge-tmpfs "$mounts/thp")
    fi
    echo $((pages_before + 40)) >/proc/sys/vm/nr_hugepages
    if mount -t hugetlbfs -o mode=0700 none "$mounts/hugetlb"; then
        huge+=(--hugetlbfs "$mounts/hugetlb")
    fi
fi
target/release/compare --out target/benchmarks.md "${huge[@]}" "$@"
