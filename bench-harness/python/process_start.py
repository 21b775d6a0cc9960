#!/usr/bin/env python3
"""CPython baseline for multiproc's process start study.

Measures multiprocessing.Process start()+join() of a trivial target under each start
method (fork, spawn, forkserver) and prints, as CSV on standard output, one line per
method with the median in milliseconds:

    method,median_ms
    fork,1.234
    ...

Usage: python3 process_start.py [--reps N] [--warmup N] [--methods fork,spawn,forkserver]
Diagnostics (Python version, repetitions, p90) go to standard error.
"""

import argparse
import multiprocessing as mp
import statistics
import sys
import time

from benchstats import percentile


def trivial():
    """The child's target: does nothing, as the Rust side's `fn(()) {}`."""


def measure(method, reps, warmup):
    """Returns the start+join times, in seconds, of `reps` children under `method`."""
    ctx = mp.get_context(method)
    # Warm-up: the first forkserver start launches the server; the first spawn warms
    # the page cache.
    for _ in range(warmup):
        p = ctx.Process(target=trivial)
        p.start()
        p.join()
    samples = []
    for _ in range(reps):
        p = ctx.Process(target=trivial)
        t0 = time.perf_counter()
        p.start()
        p.join()
        samples.append(time.perf_counter() - t0)
        if p.exitcode != 0:
            raise RuntimeError(f"{method}: child exited with {p.exitcode}")
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50, help="timed repetitions per method")
    parser.add_argument("--warmup", type=int, default=3, help="untimed starts per method first")
    parser.add_argument("--methods", default="fork,spawn,forkserver")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    print(f"# {sys.implementation.name} {sys.version.split()[0]}, reps={args.reps}", file=sys.stderr)
    print("method,median_ms")
    for method in methods:
        samples = sorted(measure(method, args.reps, args.warmup))
        median_ms = statistics.median(samples) * 1e3
        p90_ms = percentile(samples, 90) * 1e3
        print(f"{method},{median_ms:.4f}", flush=True)
        print(f"# {method}: median {median_ms:.3f} ms, p90 {p90_ms:.3f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
