"""Timing helpers shared by every section: paired latencies, percentiles, ratios."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

WARMUP = 3  # untimed calls before timing: first calls pay for graph tracing, page faults, caches


def paired_latency(fns: dict[str, Callable[[int], object]], repeats: int, warmup: int = WARMUP) -> dict[str, dict]:
    """Time several ways of answering query `i`, alternating them query by query.

    Alternating puts a noisy neighbour's burst on both sides alike, so the ratio holds even when the
    absolute numbers wobble. Each gets `warmup` untimed calls first. Returns p50/p95/mean in ms per name.
    """
    for i in range(warmup):
        for fn in fns.values():
            fn(i)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup, warmup + repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: summarize_ms(values) for name, values in times.items()}


def summarize_ms(values: list[float]) -> dict:
    """p50/p95/mean of latencies in ms (linear interpolation between samples, numpy's default)."""
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(np.mean(values)),
        "repeats": len(values),
    }


def latency_stats(fn: Callable[[int], object], repeats: int, warmup: int = WARMUP) -> dict:
    """p50/p95/mean in ms of `fn(i)` over `repeats` timed calls after `warmup` untimed ones."""
    return paired_latency({"only": fn}, repeats, warmup)["only"]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None where the denominator is not positive (nothing measured)."""
    return float(numerator / denominator) if denominator > 0 else None


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls: the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
