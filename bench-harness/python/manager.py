#!/usr/bin/env python3
"""CPython baseline for multiproc's manager benchmark (benches/manager.rs).

Measures, with multiprocessing's default context:

- dict_set_child: `d[k] = v` on a `Manager().dict()` proxy, timed inside a child process,
  per op;
- dict_get_child: `d[k]` on the same proxy from the child, per op;
- dict_update_child: one `d.update(pairs)` of `--batch` pairs from the child, per key
  (CPython's batched write; it has no batched read);
- startup: `Manager()` + `m.dict()` + one `d[1] = 1` + `m.shutdown()`, per start-up.

Prints, as CSV on standard output, one line per operation with the median and the 90th
percentile in microseconds:

    op,median_us,p90_us
    dict_set_child,160.0,180.0
    ...

Usage: python3 manager.py [--reps N] [--batch N] [--startups N]
Diagnostics go to standard error.
"""

import argparse
import multiprocessing as mp
import statistics
import sys
import time

from benchstats import percentile


def measure_in_child(d, conn, reps, batch):
    """Runs in the child: per-op seconds of set and get, `reps` batches of `batch` each."""
    out = {}
    for name in ("set", "get"):
        if name == "set":
            def op(i):
                d[i & 1023] = i
        else:
            def op(i):
                return d[i & 1023]
        for i in range(batch):  # warm-up
            op(i)
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for i in range(batch):
                op(i)
            samples.append((time.perf_counter() - t0) / batch)
        out[name] = samples
    d.update({i & 1023: i for i in range(batch)})  # warm-up
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        d.update({i & 1023: i for i in range(batch)})
        samples.append((time.perf_counter() - t0) / batch)
    out["update"] = samples
    conn.send(out)
    conn.close()


def dict_from_child(reps, batch):
    with mp.Manager() as m:
        d = m.dict()
        for i in range(1024):
            d[i] = i
        ours, theirs = mp.Pipe()
        p = mp.Process(target=measure_in_child, args=(d, theirs, reps, batch))
        p.start()
        out = ours.recv()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"measuring child exited with {p.exitcode}")
    return out["set"], out["get"], out["update"]


def startup(n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        m = mp.Manager()
        d = m.dict()
        d[1] = 1
        m.shutdown()
        samples.append(time.perf_counter() - t0)
    return samples


def report(op, samples):
    s = sorted(samples)
    median_us = statistics.median(s) * 1e6
    p90_us = percentile(s, 90) * 1e6
    print(f"{op},{median_us:.4f},{p90_us:.4f}", flush=True)
    print(f"# {op}: median {median_us:.3f} us, p90 {p90_us:.3f} us, n={len(s)}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50, help="batches per per-op figure")
    parser.add_argument("--batch", type=int, default=200, help="operations per batch")
    parser.add_argument("--startups", type=int, default=20, help="manager start-ups")
    args = parser.parse_args()
    print(f"# {sys.implementation.name} {sys.version.split()[0]}, "
          f"start method {mp.get_start_method()}", file=sys.stderr)
    print("op,median_us,p90_us")
    set_s, get_s, update_s = dict_from_child(args.reps, args.batch)
    report("dict_set_child", set_s)
    report("dict_get_child", get_s)
    report("dict_update_child", update_s)
    report("startup", startup(args.startups))


if __name__ == "__main__":
    main()
