#!/usr/bin/env bash
# Follows README.md's steps for linking a program against the libraries
# cargo builds, as written: the block after the marker line, run in a
# scratch directory holding a tiny C program, with DBSHM this checkout.
# scripts/test.sh runs it after building the C libraries.
#
#   scripts/readme-link.sh
set -euo pipefail
DBSHM=$(cd "$(dirname "$0")/.." && pwd)
export DBSHM

marker='<!-- scripts/readme-link.sh runs the next block -->'
steps=$(awk -v marker="$marker" '
    $0 == marker { found = 1; next }
    found && !inside && $0 == "```sh" { inside = 1; next }
    inside && $0 == "```" { exit }
    inside { print }' "$DBSHM/README.md")
if [ -z "$steps" ]; then
    echo "readme-link.sh: README.md has no block after '$marker'" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/app.c" <<'C'
#include <stdio.h>

#include "dbshm.h"

int main(void) {
    printf("dbshm %s\n", dbshm_version());
    return 0;
}
C
# The link the steps make, left by an earlier run, would hide steps that
# no longer make it.
rm -f "${CARGO_TARGET_DIR:-$DBSHM/target}/release/libdbshm.so.0.1"

out=$(cd "$work" && env -u LD_LIBRARY_PATH bash -euo pipefail -c "$steps")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$DBSHM/Cargo.toml" | head -n 1)
if [ "$out" != "dbshm $version" ]; then
    echo "readme-link.sh: the program printed '$out', not 'dbshm $version'" >&2
    exit 1
fi
echo "$out: the README's steps link and run a program"
