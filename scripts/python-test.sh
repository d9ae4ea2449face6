#!/usr/bin/env bash
# The Python package's tests, as a user installs it: `pip install ./python`
# into two virtual environments made here, one with numpy 2 and one with
# numpy 1.x, then pytest (python/tests) in each. The abi3 wheel is built by
# maturin through pip; the second build reuses the first's cargo artifacts.
#
#   scripts/python-test.sh          (scripts/test.sh runs it)
#
# Uses the system's python3 (Debian's /usr/bin/python3 where there is one:
# the second-user test runs the interpreter as another user, and a python
# under /root is closed to them). Downloads maturin, numpy and pytest from
# PyPI on first use; the tests themselves download nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

for pair in "target/venv:numpy>=2" "target/venv-numpy1:numpy<2"; do
    venv=${pair%%:*} numpy=${pair#*:}
    echo "--- $venv ($numpy)"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade "$numpy" pytest
    "$venv/bin/pip" install --quiet --force-reinstall --no-deps ./python
    # Imported from elsewhere than the clone: the installed package, not python/dbshm.
    (cd / && "$root/$venv/bin/python" -c "import dbshm, numpy; print('dbshm imports, with numpy', numpy.__version__)")
    "$venv/bin/pytest" -q python/tests
done
