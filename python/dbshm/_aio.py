"""asyncio forms of the waits: the handle's event descriptor (``fileno()``)
watched by the running loop's ``add_reader``, so that a coroutine waiting
for a frame holds no thread."""

import asyncio
import os


async def _readable(loop, fd, timeout):
    """Until `fd` is readable, or `timeout` seconds (None: no limit). Each
    waiter registers a duplicate of the descriptor: a loop keeps one reader
    per descriptor, and two coroutines may wait on one handle."""
    ready = loop.create_future()

    def wake():
        if not ready.done():
            ready.set_result(None)

    own = os.dup(fd)
    loop.add_reader(own, wake)
    try:
        await asyncio.wait_for(ready, timeout)
    finally:
        loop.remove_reader(own)
        os.close(own)


async def wait_for_frame(shm, after_seq, timeout, take):
    """Waits until a frame newer than `after_seq` is published, then returns
    `take()`; always a point where other tasks run. The check after each
    readiness and the level-triggered descriptor make it lose no frame: one
    published between the check and the registration leaves the descriptor
    readable."""
    loop = asyncio.get_running_loop()
    fd = shm.fileno()
    deadline = None if timeout is None else loop.time() + timeout
    if shm.latest_seq > after_seq:
        # A frame is there already: let the loop's other tasks run first.
        # asyncio runs a task until it awaits something not yet done, so a
        # follower of a writer faster than itself would otherwise hold the
        # loop for as long as the writer writes.
        await asyncio.sleep(0)
    while shm.latest_seq <= after_seq:
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            raise _timeout(shm, after_seq, timeout)
        try:
            await _readable(loop, fd, left)
        except asyncio.TimeoutError:
            raise _timeout(shm, after_seq, timeout) from None
        shm.acknowledge_events()
    return take()


def _timeout(shm, after_seq, timeout):
    from ._types import Timeout

    err = Timeout(f"segment {shm.name!r}: no frame newer than {after_seq} within {timeout} s")
    err.name = shm.name
    return err
