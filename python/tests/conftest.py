"""What the tests share: unique segment names removed also when a test
fails, the test kit's frame pattern, and the Rust and C programs of the
cross-language tests."""

import itertools
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import dbshm

REPO = Path(__file__).resolve().parents[2]

# numpy's name and the Rust (and C) name of each element type, in code order.
DTYPES = {
    "uint8": "u8",
    "int8": "i8",
    "uint16": "u16",
    "int16": "i16",
    "uint32": "u32",
    "int32": "i32",
    "uint64": "u64",
    "int64": "i64",
    "float32": "f32",
    "float64": "f64",
}

_counter = itertools.count()


def remove(name):
    """Removes a test's object: a segment with dbshm.unlink, and by hand what
    that refuses (a foreign file a test made)."""
    try:
        dbshm.unlink(name)
    except dbshm.NotFound:
        pass
    except dbshm.DbShmError:
        try:
            os.unlink(f"/dev/shm/{name}")
        except FileNotFoundError:
            pass


@pytest.fixture
def name(request):
    """A segment name no other test, run or process uses; removed after the
    test, also when it fails."""
    tag = request.node.name.replace("[", "-").replace("]", "")[:60]
    n = f"dbshm-pytest-{tag}-{os.getpid()}-{next(_counter)}"
    yield n
    # The name, and those the test made from it (`name + "-..."`).
    for other in os.listdir("/dev/shm"):
        if other == n or other.startswith(n + "-"):
            remove(other)


def frame(seq, shape, dtype):
    """Frame `seq` of the test kit's pattern (testkit/src/frame.rs): element
    i is (131 seq + 7 i) mod 100, exact in every element type."""
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    values = ((seq % 100) * 31 + (i % 100) * 7) % 100
    return values.astype(dtype).reshape(shape)


def is_frame(array, seq):
    """Whether `array` is exactly frame `seq` (frame 0: zeros)."""
    if seq == 0:
        return not array.any()
    return np.array_equal(array, frame(seq, array.shape, array.dtype))


def report(text):
    """The merged JSON lines a child printed (testkit/src/report.rs)."""
    merged = {}
    for line in text.splitlines():
        if line.startswith("{"):
            merged.update(json.loads(line))
    return merged


@pytest.fixture(scope="session")
def programs():
    """The Rust (examples/frames.rs) and C (tests/c/frames.c) programs that
    write, copy and pin frames of the pattern: from the environment
    (scripts/test.sh builds them), or built here."""
    rust = os.environ.get("DBSHM_FRAMES_RUST")
    if not rust:
        subprocess.run(
            ["cargo", "build", "--release", "--example", "frames"], cwd=REPO, check=True
        )
        rust = str(REPO / "target/release/examples/frames")
    c = os.environ.get("DBSHM_FRAMES_C")
    if not c:
        lib = REPO / "target/release"
        if not (lib / "libdbshm.so").exists():
            subprocess.run(
                ["cargo", "rustc", "--release", "-p", "dbshm", "--features", "capi",
                 "--lib", "--crate-type", "cdylib"],
                cwd=REPO, check=True,
            )
        c = str(REPO / "target/frames_c_pytest")
        subprocess.run(
            ["cc", "-std=c11", "-O2", "-D_POSIX_C_SOURCE=200809L", f"-I{REPO}/include",
             str(REPO / "tests/c/frames.c"), f"-L{lib}", "-ldbshm", f"-Wl,-rpath,{lib}",
             "-o", c],
            check=True,
        )
    return {"rust": rust, "c": c}
