#!/usr/bin/env python3
"""CPython baseline for multiproc's synchronization study.

Measures, with multiprocessing's fork context:

- value_locked_increment: `with v.get_lock(): v.value += 1` on a Value('Q', 0), per op;
- lock_acquire_release: an uncontended Lock's acquire() + release(), per op;
- event_one_way: half the round trip of a ping-pong between two processes over two
  Events (set, wait, clear), i.e. the set-to-wake latency;
- contended_increment_2proc: two processes each doing N locked increments of one
  Value('Q'), wall time from the start signal to the last finish over 2*N.

Prints, as CSV on standard output, one line per operation with the median and the 90th
percentile in microseconds:

    op,median_us,p90_us
    value_locked_increment,1.234,1.456
    ...

Usage: python3 sync_ops.py [--reps N] [--batch N] [--rounds N] [--per-proc N] [--runs N]
Diagnostics go to standard error.
"""

import argparse
import multiprocessing as mp
import statistics
import sys
import time

from benchstats import percentile


def batches(op, reps, batch):
    """`reps` samples, each the mean time in seconds of `batch` calls of `op`."""
    for _ in range(batch):  # warm-up
        op()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(batch):
            op()
        samples.append((time.perf_counter() - t0) / batch)
    return samples


def value_locked_increment(reps, batch):
    v = mp.get_context("fork").Value("Q", 0)

    def op():
        with v.get_lock():
            v.value += 1

    samples = batches(op, reps, batch)
    assert v.value == (reps + 1) * batch
    return samples


def lock_acquire_release(reps, batch):
    lock = mp.get_context("fork").Lock()

    def op():
        lock.acquire()
        lock.release()

    return batches(op, reps, batch)


def pong(to_child, to_parent, n):
    for _ in range(n):
        to_child.wait()
        to_child.clear()
        to_parent.set()


def event_one_way(rounds, runs):
    """Half of each ping-pong round trip, in seconds, over `runs` children."""
    ctx = mp.get_context("fork")
    warm = 20
    samples = []
    for _ in range(runs):
        to_child, to_parent = ctx.Event(), ctx.Event()
        p = ctx.Process(target=pong, args=(to_child, to_parent, warm + rounds))
        p.start()
        for i in range(warm + rounds):
            t0 = time.perf_counter()
            to_child.set()
            to_parent.wait()
            to_parent.clear()
            if i >= warm:
                samples.append((time.perf_counter() - t0) / 2)
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"event child exited with {p.exitcode}")
    return samples


def contender(v, go, ready, done_ns, i, n):
    with ready.get_lock():
        ready.value += 1
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    done_ns[i] = time.monotonic_ns()


def contended_increment(procs, per_proc, runs):
    """Wall time per increment, in seconds, of `procs` processes racing, once per run."""
    ctx = mp.get_context("fork")
    samples = []
    for _ in range(runs):
        v = ctx.Value("Q", 0)
        ready = ctx.Value("i", 0)
        go = ctx.Event()
        done_ns = ctx.Array("Q", procs)
        ps = [
            ctx.Process(target=contender, args=(v, go, ready, done_ns, i, per_proc))
            for i in range(procs)
        ]
        for p in ps:
            p.start()
        while ready.value < procs:
            time.sleep(0.0005)
        start = time.monotonic_ns()
        go.set()
        for p in ps:
            p.join()
            if p.exitcode != 0:
                raise RuntimeError(f"contender exited with {p.exitcode}")
        if v.value != procs * per_proc:
            raise RuntimeError(f"lost increments: {v.value} != {procs * per_proc}")
        samples.append((max(done_ns) - start) / 1e9 / (procs * per_proc))
    return samples


def report(op, samples):
    s = sorted(samples)
    median_us = statistics.median(s) * 1e6
    p90_us = percentile(s, 90) * 1e6
    print(f"{op},{median_us:.4f},{p90_us:.4f}", flush=True)
    print(f"# {op}: median {median_us:.3f} us, p90 {p90_us:.3f} us, n={len(s)}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="batches per per-op figure")
    parser.add_argument("--batch", type=int, default=1000, help="operations per batch")
    parser.add_argument("--rounds", type=int, default=500, help="ping-pong rounds per child")
    parser.add_argument("--per-proc", type=int, default=20000, help="increments per contender")
    parser.add_argument("--runs", type=int, default=5, help="children (event) and races")
    args = parser.parse_args()
    print(f"# {sys.implementation.name} {sys.version.split()[0]}", file=sys.stderr)
    print("op,median_us,p90_us")
    report("value_locked_increment", value_locked_increment(args.reps, args.batch))
    report("lock_acquire_release", lock_acquire_release(args.reps, args.batch))
    report("event_one_way", event_one_way(args.rounds, args.runs))
    report("contended_increment_2proc", contended_increment(2, args.per_proc, args.runs))


if __name__ == "__main__":
    main()
