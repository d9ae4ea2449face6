"""Every method, every element type, and what each wrong input raises,
within one process."""

import os
import threading
import time

import numpy as np
import pytest

import dbshm
from conftest import DTYPES, frame, is_frame

Shm = dbshm.DoubleBufferedSharedMemory
SHAPE = (6, 7, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_method_round_trips_every_element_type(name, dtype):
    w = Shm.create(name, SHAPE, dtype, buffers=3)
    assert (w.name, w.shape, w.dtype, w.buffers) == (name, SHAPE, np.dtype(dtype), 3)
    assert w.latest_seq == 0 and not w.read_only and not w.closed
    assert w.memory_size == w.get_memory_size() > np.prod(SHAPE) * np.dtype(dtype).itemsize * 3
    assert is_frame(w.read(), 0)

    info = w.write(frame(1, SHAPE, dtype))
    assert isinstance(info, dbshm.FrameInfo) and info.seq == 1
    assert 0 < info.timestamp_ns <= dbshm.monotonic_ns()
    r = Shm.open_readonly(name)
    assert (r.shape, r.dtype, r.read_only) == (SHAPE, np.dtype(dtype), True)
    copy = r.read()
    assert copy.dtype == np.dtype(dtype) and copy.flags.c_contiguous and copy.flags.writeable
    assert is_frame(copy, 1)
    copy, got = r.read_with_info()
    assert got == info and is_frame(copy, 1)

    out = np.empty(SHAPE, dtype)
    assert r.read_into(out) == info and is_frame(out, 1)

    w.write(frame(2, SHAPE, dtype))
    array, got = r.wait(1, timeout=5)
    assert got.seq == 2 and is_frame(array, 2)
    w.write(frame(3, SHAPE, dtype))
    assert r.wait_into(2, out, timeout=5).seq == 3 and is_frame(out, 3)

    pinned = r.pin()
    assert not pinned.flags.writeable and is_frame(pinned, 3)
    assert pinned.base.info.seq == 3
    del pinned
    w.write(frame(4, SHAPE, dtype))
    pinned, got = r.wait_pin(3, timeout=5)
    assert got.seq == 4 and is_frame(pinned, 4)
    pinned2, got2 = r.pin_with_info()
    assert got2 == got and is_frame(pinned2, 4)  # one buffer, pinned twice


def test_dtype_takes_what_numpy_takes_and_nothing_else(name):
    for spelling in (np.float32, "float32", np.dtype("float32"), "f4", np.dtype("=f4")):
        with Shm.create(f"{name}-{len(str(spelling))}", 4, spelling, unlink_on_drop=True) as s:
            assert s.dtype == np.dtype(np.float32)
    for wrong in (np.float16, "complex64", bool, np.dtype(">u2" if np.little_endian else "<u2"), object):
        with pytest.raises(dbshm.TypeMismatch, match=name) as e:
            Shm.create(name, 4, wrong)
        assert isinstance(e.value, ValueError) and e.value.name == name
    with pytest.raises(TypeError):
        Shm.create(name, 4, "not a dtype")
    assert not os.path.exists(f"/dev/shm/{name}")


def test_the_constructor_opens_or_creates_like_the_seed(name):
    a = Shm(name, (2, 3), np.int16)
    a.write(np.ones((2, 3), np.int16))
    b = Shm(name, [2, 3], "int16")  # the same segment
    assert b.latest_seq == 1 and is_frame(b.read() - 1, 0)
    with pytest.raises(dbshm.ShapeMismatch, match=name):
        Shm(name, (3, 2), np.int16)
    with pytest.raises(dbshm.TypeMismatch, match=name):
        Shm(name, (2, 3), np.uint16)
    opened = Shm.open(name)
    assert (opened.shape, opened.dtype, opened.read_only) == ((2, 3), np.dtype(np.int16), False)


def test_writes_take_any_layout_and_array_likes_and_never_cast(name):
    w = Shm.create(name, (4, 5), np.int64)
    source = frame(1, (5, 4), np.int64)
    w.write(source.T)  # transposed: written in logical order
    assert np.array_equal(w.read(), source.T)
    big = frame(2, (8, 10), np.int64)
    w.write(big[::2, ::-2])  # strided, negative
    assert np.array_equal(w.read(), big[::2, ::-2])
    w.write([[1, 2, 3, 4, 5]] * 4)  # a list becomes int64, the segment's type
    assert w.read().sum() == 60

    before = w.read()
    seq = w.latest_seq
    for wrong, error in (
        (np.zeros((4, 5), np.int32), dbshm.TypeMismatch),
        (np.zeros((4, 5), np.float64), dbshm.TypeMismatch),
        ([[1.5] * 5] * 4, dbshm.TypeMismatch),
        (np.zeros((5, 4), np.int64), dbshm.ShapeMismatch),
        (np.zeros(20, np.int64), dbshm.ShapeMismatch),
        (np.zeros((4, 5, 1), np.int64), dbshm.ShapeMismatch),
    ):
        with pytest.raises(error, match=name):
            w.write(wrong)
    assert w.latest_seq == seq and np.array_equal(w.read(), before)  # nothing written


def test_read_into_wants_one_writable_contiguous_frame(name):
    w = Shm.create(name, (4, 5), np.uint8)
    w.write(frame(1, (4, 5), np.uint8))
    for out, error in (
        (np.empty((5, 4), np.uint8), dbshm.ShapeMismatch),
        (np.empty((4, 5), np.int8), dbshm.TypeMismatch),
        (np.empty((5, 4), np.uint8).T, dbshm.InvalidShape),
        (np.empty((4, 10), np.uint8)[:, ::2], dbshm.InvalidShape),
    ):
        with pytest.raises(error, match=name):
            w.read_into(out)
        with pytest.raises(error, match=name):
            w.wait_into(0, out, timeout=1)
    frozen = np.zeros((4, 5), np.uint8)
    frozen.setflags(write=False)
    with pytest.raises(dbshm.InvalidShape, match="writable"):
        w.read_into(frozen)
    assert not frozen.any()


def test_every_error_is_its_class_and_names_the_segment(name):
    cases = []

    def expect(error, builtin, call):
        with pytest.raises(error) as e:
            call()
        assert isinstance(e.value, dbshm.DbShmError)
        assert builtin is None or isinstance(e.value, builtin), type(e.value).__mro__
        cases.append(error)
        return e.value

    err = expect(dbshm.NotFound, FileNotFoundError, lambda: Shm.open(name))
    assert err.name == name and name in str(err)
    expect(dbshm.NotFound, FileNotFoundError, lambda: Shm.open_readonly(name))
    expect(dbshm.NotFound, FileNotFoundError, lambda: dbshm.unlink(name))
    expect(dbshm.InvalidName, ValueError, lambda: Shm.create("a/b", 4, np.uint8))
    expect(dbshm.InvalidShape, ValueError, lambda: Shm.create(name, (3, 0), np.uint8))
    expect(dbshm.InvalidBufferCount, ValueError, lambda: Shm.create(name, 4, np.uint8, buffers=1))
    expect(dbshm.InvalidMode, ValueError, lambda: Shm.create(name, 4, np.uint8, mode=0o400))
    w = Shm.create(name, 4, np.uint8)
    expect(dbshm.AlreadyExists, FileExistsError, lambda: Shm.create(name, 4, np.uint8))
    expect(dbshm.TooFewBuffers, ValueError, w.pin)
    r = Shm.open_readonly(name)
    expect(dbshm.ReadOnly, PermissionError, lambda: r.write(np.zeros(4, np.uint8)))
    err = expect(dbshm.Timeout, TimeoutError, lambda: r.wait(0, timeout=0.05))
    assert name in str(err) and "50ms" in str(err)
    # A mode asked for is the most an existing segment may allow.
    group_may_write = Shm.create(name + "-x", 4, np.uint8, mode=0o660)
    expect(dbshm.ModeTooOpen, PermissionError, lambda: Shm(name + "-x", 4, np.uint8, mode=0o600))
    three = Shm.create(name + "-3", 4, np.uint8, buffers=3, unlink_on_drop=True)
    three.write(np.zeros(4, np.uint8))
    held = [Shm.open_readonly(three.name) for _ in range(2)]
    kept = held[0].pin()
    three.write(np.ones(4, np.uint8))
    kept2 = held[1].pin()
    three.write(np.ones(4, np.uint8))  # into the last free buffer
    expect(dbshm.PinLimit, None, held[1].pin)  # max_pins=1, and a newer frame
    expect(dbshm.AllBuffersPinned, BlockingIOError, lambda: three.write(np.zeros(4, np.uint8)))
    assert three.dropped_writes == 1
    del kept, kept2
    three.write(np.zeros(4, np.uint8))
    with open(f"/dev/shm/{name}-junk", "wb") as f:
        f.write(b"not a segment" * 1000)
    try:
        expect(dbshm.Incompatible, ValueError, lambda: Shm.open(f"{name}-junk"))
    finally:
        os.unlink(f"/dev/shm/{name}-junk")
    # The rest: TypeMismatch and ShapeMismatch above, TooManyPinners below,
    # PermissionDenied and WriterBusy in test_processes.py. LengthMismatch
    # (a raw buffer of another length) and Os (a failed system call) have no
    # way in from Python: arrays are checked by shape first.
    assert len(set(cases)) == 13


def test_the_class_tree_matches_the_built_in_exceptions():
    expected = {
        "InvalidName": ValueError, "InvalidShape": ValueError, "InvalidBufferCount": ValueError,
        "NotFound": FileNotFoundError, "AlreadyExists": FileExistsError,
        "TypeMismatch": ValueError, "ShapeMismatch": ValueError, "LengthMismatch": ValueError,
        "Incompatible": ValueError, "InvalidMode": ValueError, "ModeTooOpen": PermissionError,
        "PermissionDenied": PermissionError, "WriterBusy": dbshm.DbShmError,
        "AllBuffersPinned": BlockingIOError, "TooFewBuffers": ValueError,
        "PinLimit": dbshm.DbShmError, "TooManyPinners": dbshm.DbShmError,
        "ReadOnly": PermissionError, "Timeout": TimeoutError, "Os": OSError,
        "BadDirectory": OSError,
    }
    for cls, builtin in expected.items():
        assert issubclass(getattr(dbshm, cls), dbshm.DbShmError)
        assert issubclass(getattr(dbshm, cls), builtin), cls


def test_dbshm_dir_places_segments_and_an_unsafe_one_is_refused(name, tmp_path, monkeypatch):
    place = tmp_path / "segments"
    place.mkdir(mode=0o700)
    monkeypatch.setenv("DBSHM_DIR", str(place))
    w = Shm.create(name, 4, np.uint8)
    try:
        w.write(np.arange(4, dtype=np.uint8))
        assert name in os.listdir(place)
        assert not os.path.exists(f"/dev/shm/{name}")
        assert [s["name"] for s in dbshm.list()] == [name]
        np.testing.assert_array_equal(Shm.open_readonly(name).read(), np.arange(4))
    finally:
        w.close()
        dbshm.unlink(name)
    assert os.listdir(place) == []
    # The same, named in each call instead.
    monkeypatch.delenv("DBSHM_DIR")
    w = Shm.create(name, 4, np.uint8, dir=place)
    try:
        w.write(np.full(4, 9, dtype=np.uint8))
        assert dbshm.info(name, dir=place)["dir"] == str(place)
        assert [s["name"] for s in dbshm.list(dir=place)] == [name]
        with pytest.raises(dbshm.NotFound):
            Shm.open_readonly(name)  # not in /dev/shm
        np.testing.assert_array_equal(Shm.open_readonly(name, dir=place).read(), np.full(4, 9))
        np.testing.assert_array_equal(Shm(name, 4, np.uint8, dir=place).read(), np.full(4, 9))
    finally:
        w.close()
        dbshm.unlink(name, dir=place)
    assert os.listdir(place) == []
    monkeypatch.setenv("DBSHM_DIR", str(place))
    place.chmod(0o777)  # others may write, and it is not sticky
    with pytest.raises(dbshm.BadDirectory, match="not sticky") as refused:
        Shm.create(name, 4, np.uint8)
    assert refused.value.name == name and str(place) in str(refused.value)
    assert os.listdir(place) == []


def test_a_31st_pinner_is_the_last(name):
    w = Shm.create(name, 4, np.uint8, buffers=3)
    w.write(np.ones(4, np.uint8))
    handles = [Shm.open_readonly(name) for _ in range(32)]
    pins = [h.pin() for h in handles[:31]]
    with pytest.raises(dbshm.TooManyPinners, match=name):
        handles[31].pin()
    del pins[0]
    handles[0].close()  # a handle keeps its record until it goes
    assert handles[31].pin().sum() == 4


def test_a_pinned_array_keeps_its_frame_and_mapping_past_close(name):
    w = Shm.create(name, (64, 64), np.float32, buffers=3)
    w.write(frame(1, (64, 64), np.float32))
    r = Shm.open_readonly(name)
    pinned = r.pin()
    view = pinned[10:20, ::3]  # a view of the pinned array holds the pin too
    del pinned
    r.close()
    assert r.closed and "closed" in repr(r)
    with pytest.raises(ValueError, match="closed"):
        r.read()
    r.close()  # a second close does nothing
    for seq in range(2, 12):
        w.write(frame(seq, (64, 64), np.float32))
    assert np.array_equal(view, frame(1, (64, 64), np.float32)[10:20, ::3])
    assert [p["buffers"] for p in dbshm.info(name)["pins"]] != []
    with pytest.raises(ValueError):
        view[0, 0] = 1  # read-only
    del view
    assert dbshm.info(name)["pins"] == []


def test_with_closes_and_the_segment_stays(name):
    with Shm.create(name, 4, np.uint8) as s:
        s.write(np.arange(4, dtype=np.uint8))
    assert s.closed
    with Shm.open(name) as again:
        assert list(again.read()) == [0, 1, 2, 3]
    with Shm.create(name + "-gone", 4, np.uint8, unlink_on_drop=True):
        pass
    with pytest.raises(dbshm.NotFound):
        Shm.open(name + "-gone")


def test_list_info_unlink_and_the_clock(name):
    w = Shm.create(name, (2, 2), np.uint16, mode=0o640)
    w.write(np.ones((2, 2), np.uint16))
    listed = [s for s in dbshm.list() if s["name"] == name]
    assert len(listed) == 1 and listed[0]["dtype"] == "u16" and listed[0]["shape"] == [2, 2]
    info = dbshm.info(name)
    assert info["latest_seq"] == 1 and info["mode"] == 0o640 and info["writer_alive"]
    # What backs each buffer, as the creator's kernel reported it.
    assert info["backing"]["page_kb"] >= 4 and len(info["backing"]["huge_kb"]) == 2
    w.close()
    dbshm.unlink(name)
    assert not any(s["name"] == name for s in dbshm.list())
    a = dbshm.monotonic_ns()
    assert dbshm.monotonic_ns() >= a > 0


def test_a_handle_is_shared_by_threads(name):
    w = Shm.create(name, (32, 32), np.uint32, buffers=4)
    r = Shm.open_readonly(name, max_pins=2)
    stop = time.monotonic() + 0.5
    torn = []

    def reader(pin):
        out = np.empty((32, 32), np.uint32)
        while time.monotonic() < stop:
            if pin:
                array, info = r.pin_with_info()
                ok = is_frame(array, info.seq)
                del array
            else:
                info = r.read_into(out)
                ok = is_frame(out, info.seq)
            if not ok:
                torn.append(info.seq)

    threads = [threading.Thread(target=reader, args=(p,)) for p in (False, False, True, True)]
    for t in threads:
        t.start()
    seq = 0
    while time.monotonic() < stop:
        seq += 1
        w.write(frame(seq, (32, 32), np.uint32))
    for t in threads:
        t.join()
    assert seq > 10 and torn == []


def test_the_gil_is_released_while_waiting(name):
    w = Shm.create(name, 4, np.uint8)
    r = Shm.open_readonly(name)
    counted = []

    def count():
        n, end = 0, time.monotonic() + 0.3
        while time.monotonic() < end:
            n += 1
        counted.append(n)

    t = threading.Thread(target=count)
    t.start()
    with pytest.raises(dbshm.Timeout):
        r.wait(0, timeout=0.5)  # the other thread runs meanwhile
    t.join()
    assert counted[0] > 1000
    w.write(np.ones(4, np.uint8))


def test_frame_info_is_a_pair(name):
    w = Shm.create(name, 4, np.uint8)
    info = w.write(np.zeros(4, np.uint8))
    seq, ts = info
    assert (seq, ts) == (info.seq, info.timestamp_ns) == (info[0], info[1]) == tuple(info)
    assert info == (1, ts) and info == dbshm.FrameInfo(1, ts) and info != (2, ts)
    assert len(info) == 2 and info[-1] == ts and hash(info) == hash((1, ts))
    assert repr(info) == f"FrameInfo(seq=1, timestamp_ns={ts})"
    with pytest.raises(IndexError):
        info[2]


def test_bad_shapes_dtypes_and_timeouts_are_named_errors(name):
    for shape in (-1, (2.5, 3), [2**64], True, "ab", b"\x02", None, (3, -1)):
        with pytest.raises(dbshm.InvalidShape, match=name) as e:
            Shm.create(name, shape, np.uint8)
        assert e.value.name == name
    with pytest.raises(dbshm.TypeMismatch, match="a dtype is needed") as e:
        Shm.create(name, 4, None)
    assert e.value.name == name
    w = Shm.create(name, 4, np.uint8)
    for timeout in (float("nan"), -1.0):
        with pytest.raises(ValueError, match=name):
            w.wait(0, timeout=timeout)
    with pytest.raises(dbshm.InvalidShape) as e:
        w.read_into(np.empty(4, np.uint8)[::-1])
    assert e.value.name == name


def test_a_timeout_beyond_the_clock_waits_without_limit(name):
    w = Shm.create(name, 4, np.uint8)
    r = Shm.open_readonly(name)
    later = threading.Timer(0.2, lambda: w.write(np.ones(4, np.uint8)))
    later.start()
    for timeout in (1e19, 1e30, float("inf")):
        array, info = r.wait(w.latest_seq, timeout=timeout)  # once panicked: Instant overflow
        assert info.seq > 0
        threading.Timer(0.05, lambda: w.write(np.ones(4, np.uint8))).start()
    later.join()


def test_close_ends_another_threads_wait(name):
    Shm.create(name, 4, np.uint8, buffers=3)
    r = Shm.open_readonly(name)
    ended = {}

    def wait(how):
        start = time.monotonic()
        try:
            if how == "copy":
                r.wait(0)
            else:
                r.wait_pin(0)
        except ValueError as e:
            ended[how] = (time.monotonic() - start, str(e))

    threads = [threading.Thread(target=wait, args=(how,)) for how in ("copy", "pin")]
    for t in threads:
        t.start()
    time.sleep(0.2)
    r.close()
    for t in threads:
        t.join(timeout=10)
    assert sorted(ended) == ["copy", "pin"], ended
    for waited, message in ended.values():
        assert "closed" in message and name in message and waited < 5
