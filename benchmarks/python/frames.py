"""What a Python reader pays for the latest frame of another process, by
frame size: dbshm's read_into (a copy) and pin (in place), against
multiprocessing.shared_memory guarded by a multiprocessing.Lock, a
multiprocessing.Queue of numpy arrays, and np.copyto of the same bytes
within the reader (the floor of any copy).

Each contender's writer is its own process, publishing a frame every 10 ms
(the Queue's keeps its queue full, as a producer faster than its consumer
does); the reader times one call that leaves it holding a whole frame. The
contenders are interleaved: each round runs every contender, CALLS calls
each; a round's figure is the median of its calls, and a ratio is taken
within the round against np.copyto. Printed: the median over ROUNDS rounds,
and the ratios' range over the rounds.

    python benchmarks/python/frames.py [--rounds 11] [--out FILE]

Needs the dbshm package (pip install ./python) and numpy. Run it on an
otherwise idle machine.
"""

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing import shared_memory

import numpy as np

import dbshm

SIZES = [
    ("30 KB (100x100x3)", (100, 100, 3), 400),
    ("1080p (1920x1080x3)", (1080, 1920, 3), 40),
    ("4K (3840x2160x3)", (2160, 3840, 3), 10),
]
PERIOD = 0.010


def dbshm_writer(name, stop):
    shm = dbshm.DoubleBufferedSharedMemory.open(name)
    frame = np.zeros(shm.shape, np.uint8)
    while not stop.is_set():
        frame[0, 0, 0] = (frame[0, 0, 0] + 1) % 250
        shm.write(frame)
        time.sleep(PERIOD)


def locked_writer(name, shape, lock, stop):
    mem = shared_memory.SharedMemory(name=name)
    array = np.ndarray(shape, np.uint8, buffer=mem.buf)
    frame = np.zeros(shape, np.uint8)
    while not stop.is_set():
        frame[0, 0, 0] = (frame[0, 0, 0] + 1) % 250
        with lock:
            np.copyto(array, frame)
        time.sleep(PERIOD)
    del array
    mem.close()


def queue_writer(queue, shape, stop):
    frame = np.zeros(shape, np.uint8)
    while not stop.is_set():
        try:
            queue.put(frame, timeout=0.1)
        except Exception:  # queue.Full: the reader is busy elsewhere
            pass


def median_call(call, calls):
    times = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times)


def measure(label, shape, calls, rounds):
    name = f"dbshm-pybench-{os.getpid()}-{shape[0]}"
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    # Kept, never written through: the writer process takes the role.
    owner = dbshm.DoubleBufferedSharedMemory.create(
        name, shape, np.uint8, buffers=3, unlink_on_drop=True
    )
    nbytes = int(np.prod(shape))
    mem = shared_memory.SharedMemory(create=True, size=nbytes)
    lock = ctx.Lock()
    queue = ctx.Queue(maxsize=4)
    procs = [
        ctx.Process(target=dbshm_writer, args=(name, stop)),
        ctx.Process(target=locked_writer, args=(mem.name, shape, lock, stop)),
        ctx.Process(target=queue_writer, args=(queue, shape, stop)),
    ]
    for p in procs:
        p.start()
    reader = dbshm.DoubleBufferedSharedMemory.open_readonly(name)
    out = np.empty(shape, np.uint8)
    src = np.ones(shape, np.uint8)
    locked = np.ndarray(shape, np.uint8, buffer=mem.buf)
    time.sleep(0.5)  # every writer running

    def locked_copy():
        with lock:
            np.copyto(out, locked)

    def pin_and_release():
        frame = reader.pin()
        del frame

    contenders = {
        "np.copyto (floor)": lambda: np.copyto(out, src),
        "dbshm read_into": lambda: reader.read_into(out),
        "dbshm pin": pin_and_release,
        "shared_memory + Lock": locked_copy,
        "Queue of arrays": queue.get,
    }
    per_round = {c: [] for c in contenders}
    for _ in range(rounds):
        for c, call in contenders.items():
            per_round[c].append(median_call(call, calls))
    stop.set()
    while True:  # let the queue's writer see the stop
        try:
            queue.get(timeout=0.2)
        except Exception:
            break
    for p in procs:
        p.join(timeout=10)
    del locked
    mem.close()
    mem.unlink()
    reader.close()
    owner.close()
    floor = per_round["np.copyto (floor)"]
    rows = []
    for c, times in per_round.items():
        ratios = [t / f for t, f in zip(times, floor)]
        rows.append(
            (label, c, statistics.median(times) / 1e3, statistics.median(ratios), min(ratios), max(ratios))
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--out")
    args = parser.parse_args()
    lines = [
        f"Python {sys.version.split()[0]}, numpy {np.__version__}; "
        f"{args.rounds} interleaved rounds, median of each round's calls",
        "",
        "| frame | contender | time per frame | / np.copyto | range over rounds |",
        "|---|---|---|---|---|",
    ]
    for label, shape, calls in SIZES:
        for frame, c, us, ratio, lo, hi in measure(label, shape, calls, args.rounds):
            lines.append(f"| {frame} | {c} | {us:.1f} µs | {ratio:.2f}x | {lo:.2f}-{hi:.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
