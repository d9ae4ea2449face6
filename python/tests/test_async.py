"""The event descriptor from Python: fileno() with select, and asyncio
waits on several segments in one loop, with timeouts and cancellation."""

import asyncio
import select
import subprocess

import numpy as np
import pytest

import dbshm
from conftest import frame, is_frame, report

Shm = dbshm.DoubleBufferedSharedMemory
SHAPE = (48, 64)


def test_fileno_is_readable_after_a_frame_until_acknowledged(name):
    w = Shm.create(name, SHAPE, np.uint8)
    r = Shm.open_readonly(name)
    fd = r.fileno()
    assert fd == r.fileno() and select.select([fd], [], [], 0.1)[0] == []
    w.write(frame(1, SHAPE, np.uint8))
    assert select.select([r], [], [], 5)[0] == [r]  # select takes the handle itself
    assert r.acknowledge_events() == 1
    assert select.select([fd], [], [], 0.1)[0] == []


def test_asyncio_follows_several_segments_in_one_loop(name, programs):
    names = [f"{name}-{i}" for i in range(3)]
    owners = [Shm.create(n, SHAPE, np.uint8, buffers=3) for n in names]
    readers = [Shm.open_readonly(n) for n in names]

    async def follow(shm, pin):
        seq, frames, torn = 0, 0, 0
        while True:
            try:
                if pin:
                    array, info = await shm.wait_pin_async(seq, timeout=2)
                else:
                    array, info = await shm.wait_async(seq, timeout=2)
            except dbshm.Timeout:
                return seq, frames, torn  # the writer is done
            frames += 1
            torn += not is_frame(array, info.seq)
            assert info.seq > seq
            seq = info.seq
            del array  # a pin held into the next wait would be a second (max_pins=1)

    async def main():
        for r in readers:
            r.fileno()  # announced from here on
        writers = [
            subprocess.Popen([programs["rust"], "write", "u8", n, "500"], stdout=subprocess.PIPE, text=True)
            for n in names
        ]
        results = await asyncio.gather(*(follow(r, i == 2) for i, r in enumerate(readers)))
        return results, [report(w.communicate()[0])["written"] for w in writers]

    results, written = asyncio.run(main())
    for (seq, frames, torn), n in zip(results, written):
        assert torn == 0 and frames > 1 and seq == n, (results, written)
    del owners


def test_an_async_wait_for_a_frame_already_there_lets_other_tasks_run(name):
    # A follower always behind its writer finds a newer frame at every
    # call: it must still give the loop to the others, or it holds it for
    # as long as the writer writes.
    w = Shm.create(name, 4, np.uint8)
    w.write(np.ones(4, np.uint8))
    r = Shm.open_readonly(name)
    calls = 0

    async def behind():
        nonlocal calls
        for _ in range(1000):
            await r.wait_async(0, timeout=1)
            calls += 1

    async def other():
        await asyncio.sleep(0)
        return calls

    async def main():
        return (await asyncio.gather(behind(), other()))[1]

    assert asyncio.run(main()) <= 2


def test_an_async_wait_times_out_and_is_cancelled_cleanly(name):
    w = Shm.create(name, 4, np.uint8)
    r = Shm.open_readonly(name)

    async def main():
        with pytest.raises(dbshm.Timeout, match=name):
            await r.wait_async(0, timeout=0.1)
        task = asyncio.create_task(r.wait_async(0))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The loop let go of the descriptor: a new wait registers it again.
        asyncio.get_running_loop().call_later(0.05, w.write, np.ones(4, np.uint8))
        array, info = await r.wait_async(0, timeout=5)
        return array.tolist(), info.seq

    assert asyncio.run(main()) == ([1, 1, 1, 1], 1)


def test_two_coroutines_wait_on_one_handle(name):
    w = Shm.create(name, 4, np.uint8)
    r = Shm.open_readonly(name)

    async def main():
        waits = [asyncio.create_task(r.wait_async(0, timeout=5)) for _ in range(2)]
        await asyncio.sleep(0.05)  # both registered
        w.write(np.ones(4, np.uint8))
        return [info.seq for _, info in await asyncio.gather(*waits)]

    assert asyncio.run(main()) == [1, 1]
