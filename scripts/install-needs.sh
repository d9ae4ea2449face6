# Sourced by scripts/test.sh and scripts/test-aarch64.sh: installs what the
# test command needs and a fresh machine may lack. As root, the Debian
# packages through apt-get; otherwise cmake from PyPI into ~/.local, and a
# message naming the rest.
# The Rust toolchain itself (with rustfmt and clippy) must be there.

# Installs the Debian packages that provide the missing commands, each given
# as command:package.
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
        echo "${0##*/}: please install: $rest" >&2
        exit 1
    fi
}

for tool in rustfmt clippy-driver; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! rustup which "$tool" >/dev/null 2>&1; then
        echo "${0##*/}: $tool is missing; install it with: rustup component add ${tool%-driver}" >&2
        exit 1
    fi
done
need cc:gcc c++:g++ make:make valgrind:valgrind cmake:cmake pkg-config:pkg-config readelf:binutils pkill:procps openssl:openssl

# The Python package's tests make virtual environments with the system's
# python3 (scripts/python-test.sh); Debian keeps venv in its own package.
if ! /usr/bin/python3 -m venv --help >/dev/null 2>&1 && ! python3 -m venv --help >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "installing python3-venv with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "${0##*/}: please install python3 with its venv module (Debian: python3-venv)" >&2
        exit 1
    fi
fi
