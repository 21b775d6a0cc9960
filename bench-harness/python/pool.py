#!/usr/bin/env python3
"""CPython baseline for multiproc's pool bench (bench-harness/benches/pool.rs).

Measures, with multiprocessing.Pool, the same workloads as the Rust bench and prints one
JSON object on standard output (times in seconds unless the key says otherwise):

    {"python": "3.11.7", "method": "fork",
     "map_trivial": {"tasks": 1000000, "processes": 2, "median_s": ..., "per_task_us": ...},
     "apply_async_round_trip": {"reps": 2000, "median_us": ..., "p90_us": ...},
     "factorize": {"from": 1000000000, "to": 1000020000,
                   "sequential_s": ..., "workers_1_s": ..., "workers_2_s": ..., "workers_4_s": ...}}

Usage: python3 pool.py [--method fork] [--reps N] [--map-reps N] [--factor-count N]
                       [--skip-factorize]
The factorization by trial division is slow in CPython (tens of seconds sequentially for
the full 20,000 integers): --factor-count shrinks the range for a quick run.
Diagnostics go to standard error.
"""

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time

from benchstats import percentile

FACTOR_FROM = 1_000_000_000


def identity(x):
    """The trivial task, as the Rust side's `fn identity(x: u64) -> u64`."""
    return x


def prime_factors(n):
    """Seed 004's prime_factors: trial division up to the square root of the original n."""
    factors = []
    for i in range(2, int(n**0.5) + 1):
        while n % i == 0:
            factors.append(i)
            n //= i
    if n > 2:
        factors.append(n)
    return factors


def process_range(start, end):
    """Seed 004's process_range."""
    for i in range(start, end):
        prime_factors(i)


def ranges(start, end, parts):
    """One (start, end) range per worker, as the seed splits its input."""
    step = (end - start) // parts
    out = []
    for i in range(parts):
        hi = end if i + 1 == parts else start + (i + 1) * step
        out.append((start + i * step, hi))
    return out


def measure_map(ctx, tasks, processes, reps):
    with ctx.Pool(processes) as pool:
        pool.map(identity, range(1000))  # warm-up
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            r = pool.map(identity, range(tasks))
            samples.append(time.perf_counter() - t0)
            assert len(r) == tasks
    median = statistics.median(samples)
    return {
        "tasks": tasks,
        "processes": processes,
        "median_s": median,
        "per_task_us": median / tasks * 1e6,
    }


def measure_apply(ctx, reps):
    with ctx.Pool(2) as pool:
        for _ in range(100):
            pool.apply_async(identity, (7,)).get()
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            pool.apply_async(identity, (7,)).get()
            samples.append(time.perf_counter() - t0)
    samples.sort()
    return {
        "reps": reps,
        "median_us": statistics.median(samples) * 1e6,
        "p90_us": percentile(samples, 90) * 1e6,
    }


def measure_factorize(ctx, count):
    end = FACTOR_FROM + count
    out = {"from": FACTOR_FROM, "to": end}
    t0 = time.perf_counter()
    process_range(FACTOR_FROM, end)
    out["sequential_s"] = time.perf_counter() - t0
    print(f"# factorize sequential: {out['sequential_s']:.2f} s", file=sys.stderr)
    for workers in (1, 2, 4):
        with ctx.Pool(workers) as pool:
            pool.map(identity, range(workers * 4))  # the workers are up
            t0 = time.perf_counter()
            pool.starmap(process_range, ranges(FACTOR_FROM, end, workers))
            out[f"workers_{workers}_s"] = time.perf_counter() - t0
        print(f"# factorize {workers} workers: {out[f'workers_{workers}_s']:.2f} s", file=sys.stderr)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="fork", help="start method of the pools")
    parser.add_argument("--reps", type=int, default=2000, help="apply_async round trips")
    parser.add_argument("--map-reps", type=int, default=5, help="timed maps of 1,000,000 tasks")
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks per map")
    parser.add_argument("--factor-count", type=int, default=20_000, help="integers to factorize")
    parser.add_argument("--skip-factorize", action="store_true")
    args = parser.parse_args()
    ctx = mp.get_context(args.method)
    result = {"python": sys.version.split()[0], "method": args.method}
    print(f"# {sys.implementation.name} {result['python']}, method={args.method}", file=sys.stderr)
    result["map_trivial"] = measure_map(ctx, args.tasks, 2, args.map_reps)
    print(f"# map: {result['map_trivial']['per_task_us']:.3f} us/task", file=sys.stderr)
    result["apply_async_round_trip"] = measure_apply(ctx, args.reps)
    print(f"# apply_async: {result['apply_async_round_trip']['median_us']:.1f} us", file=sys.stderr)
    if not args.skip_factorize:
        result["factorize"] = measure_factorize(ctx, args.factor_count)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
