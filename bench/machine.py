"""Where the numbers were measured: the machine, and its practical float32 matmul peak."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil
from threadpoolctl import threadpool_info

from bench.timing import best_seconds

GIB = 1024**3


def machine_info() -> dict:
    """Cores, CPU model, memory, load and BLAS: the figures only mean something next to this."""
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory()
    blas = [
        {k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]
    return {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_total_gib": round(memory.total / GIB, 1),
        "memory_available_gib": round(memory.available / GIB, 1),
        "load_average": load_average(),
        "blas": blas,
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: a busy machine explains slow numbers."""
    return [round(x, 2) for x in os.getloadavg()]


def matmul_rate(n: int = 2048, repeats: int = 5) -> dict:
    """Best float32 n x n matmul rate (GFLOP/s) of numpy and TensorFlow: the machine's practical peak."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    flops = 2.0 * n**3
    ta, tb = tf.constant(a), tf.constant(b)
    runs = {"numpy": lambda: a @ b, "tensorflow": lambda: tf.linalg.matmul(ta, tb).numpy()}
    result: dict = {"n": n}
    for name, fn in runs.items():
        fn()
        result[f"{name}_gflops"] = flops / best_seconds(fn, repeats) / 1e9
    result["best_gflops"] = max(result["numpy_gflops"], result["tensorflow_gflops"])
    return result
