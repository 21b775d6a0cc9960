#!/usr/bin/env python3
"""CPython baseline for multiproc's IPC study.

Measures, with multiprocessing's fork context, the parent and the child each pinned to a
core of its own (as bench-harness does for its own mechanisms), for messages of 8 B,
1 KiB, 64 KiB and 1 MiB (`bytes` objects):

- {mech}_rt_{size}: one round trip (the child sends the message back), per round trip;
- {mech}_ow_{size}: one-way throughput: the parent sends N messages, the child answers
  once after the last; the whole time over N, per message;

for mech in pipe (Pipe(duplex=True), send_bytes/recv_bytes), queue (two Queues, put/get),
simple_queue (two SimpleQueues), shm_array (per direction a RawArray('B') of the largest
size, a RawValue for the length and two Semaphores, copied in and out through a
memoryview) and manager_queue (two Queues of one Manager(), whose server floats).
The manager runs send a tenth of the messages of the others (as bench-harness does).

Prints, as CSV on standard output, one line per figure with the median and the 90th
percentile in microseconds over the runs:

    op,median_us,p90_us
    pipe_rt_8,61.2,70.4
    ...

Usage: python3 ipc.py [--runs N] [--rounds N] [--count N] [--sizes 8,1024,...]
Diagnostics go to standard error.
"""

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time

from benchstats import percentile


def cores():
    allowed = sorted(os.sched_getaffinity(0))
    return (allowed[0], allowed[1]) if len(allowed) >= 2 else (None, None)


def pin(core):
    if core is not None:
        os.sched_setaffinity(0, {core})


class PipeEnd:
    def __init__(self, conn):
        self.conn = conn

    def send(self, b):
        self.conn.send_bytes(b)

    def recv(self):
        return self.conn.recv_bytes()


class QueueEnd:
    def __init__(self, tx, rx):
        self.tx, self.rx = tx, rx

    def send(self, b):
        self.tx.put(b)

    def recv(self):
        return self.rx.get()


class ArrayEnd:
    """One direction each way: (array, length, empty, full)."""

    def __init__(self, tx, rx):
        self.tx, self.rx = tx, rx

    def send(self, b):
        arr, length, empty, full = self.tx
        empty.acquire()
        memoryview(arr).cast("B")[: len(b)] = b
        length.value = len(b)
        full.release()

    def recv(self):
        arr, length, empty, full = self.rx
        full.acquire()
        b = bytes(memoryview(arr).cast("B")[: length.value])
        empty.release()
        return b


def mailbox(ctx, cap):
    return (ctx.RawArray("B", max(cap, 1)), ctx.RawValue("Q", 0), ctx.Semaphore(1), ctx.Semaphore(0))


MANAGER = None


def make_pair(ctx, mech, size):
    global MANAGER
    if mech == "shm_array":
        a, b = mailbox(ctx, size), mailbox(ctx, size)
        return ArrayEnd(a, b), ArrayEnd(b, a)
    if mech == "manager_queue":
        if MANAGER is None:
            MANAGER = ctx.Manager()
        q1, q2 = MANAGER.Queue(), MANAGER.Queue()
        return QueueEnd(q1, q2), QueueEnd(q2, q1)
    if mech == "pipe":
        a, b = ctx.Pipe(duplex=True)
        return PipeEnd(a), PipeEnd(b)
    if mech == "queue":
        q1, q2 = ctx.Queue(), ctx.Queue()
    elif mech == "simple_queue":
        q1, q2 = ctx.SimpleQueue(), ctx.SimpleQueue()
    else:
        raise ValueError(mech)
    return QueueEnd(q1, q2), QueueEnd(q2, q1)


def echo(end, core, rounds):
    pin(core)
    for _ in range(rounds):
        end.send(end.recv())


def sink(end, core, count, size):
    pin(core)
    for i in range(count):
        m = end.recv()
        if len(m) != size:
            raise SystemExit(f"message {i}: {len(m)} bytes, not {size}")
    end.send(b"\x01")


def round_trips(ctx, mech, size, warm, rounds):
    mine, theirs = make_pair(ctx, mech, size)
    c0, c1 = cores()
    p = ctx.Process(target=echo, args=(theirs, c1, warm + rounds))
    p.start()
    pin(c0)
    msg = b"\x5a" * size
    for _ in range(warm):
        mine.send(msg)
        mine.recv()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        mine.send(msg)
        back = mine.recv()
        samples.append(time.perf_counter() - t0)
    p.join()
    assert back == msg and p.exitcode == 0
    return samples


def one_way(ctx, mech, size, warm, count):
    mine, theirs = make_pair(ctx, mech, size)
    c0, c1 = cores()
    p = ctx.Process(target=sink, args=(theirs, c1, warm + count, size))
    p.start()
    pin(c0)
    msg = b"\x5a" * size
    for _ in range(warm):
        mine.send(msg)
    t0 = time.perf_counter()
    for _ in range(count):
        mine.send(msg)
    mine.recv()
    elapsed = time.perf_counter() - t0
    p.join()
    assert p.exitcode == 0
    return elapsed / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--sizes", default="8,1024,65536,1048576")
    ap.add_argument("--mechs", default="pipe,queue,simple_queue,shm_array,manager_queue")
    a = ap.parse_args()
    ctx = mp.get_context("fork")
    sizes = [int(s) for s in a.sizes.split(",")]
    print("op,median_us,p90_us")
    for mech in a.mechs.split(","):
        for size in sizes:
            # Fewer messages for large sizes, so one run stays near a second.
            count = max(50, min(a.count, (200 << 20) // max(size, 1)))
            rounds = max(30, min(a.rounds, (100 << 20) // max(size, 1) // 2))
            if mech == "manager_queue":
                count, rounds = max(50, count // 10), max(30, rounds // 10)
            rt, ow = [], []
            for _ in range(a.runs):
                rt.extend(round_trips(ctx, mech, size, 10, rounds))
                ow.append(one_way(ctx, mech, size, 10, count))
            for name, samples in ((f"{mech}_rt_{size}", rt), (f"{mech}_ow_{size}", ow)):
                s = sorted(x * 1e6 for x in samples)
                print(f"{name},{statistics.median(s):.4f},{percentile(s, 90):.4f}", flush=True)
            print(f"{mech} {size}: done", file=sys.stderr)
    if MANAGER is not None:
        MANAGER.shutdown()


if __name__ == "__main__":
    main()
