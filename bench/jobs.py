"""The project's commands timed as a user runs them: each in its own process (imports and model
load included), with its databases and caches in the benchmark's scratch folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from recommender.manifest import read_manifest
from recommender.settings import PROJECT_ROOT


def child_env(workdir: Path) -> dict[str, str]:
    """Environment for subprocesses: their votes (and the session key beside them), thumbnails and uploaded
    photos go to `workdir`, never into the repository or a shop's database."""
    env = {name: value for name, value in os.environ.items() if name != "RECOMMENDER_FEEDBACK_URL"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["RECOMMENDER_FEEDBACK_DB"] = str(workdir / "feedback.sqlite3")
    env["RECOMMENDER_THUMBNAIL_DIR"] = str(workdir / "thumbnails")
    env["RECOMMENDER_UPLOAD_DIR"] = str(workdir / "uploads")
    return env


def build_wall_time(catalog: Path, backbone: str, out: Path) -> dict:
    """Wall time of `python -m recommender build` over a whole catalogue, and its own summary line."""
    weights = [] if backbone.endswith(".tflite") else ["--weights", "none"]
    command = [sys.executable, "-m", "recommender", "build", "--catalog", str(catalog), "--out", str(out),
               "--backbone", backbone, *weights, "--no-progress"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=child_env(out.parent))
    seconds = time.perf_counter() - start
    result: dict = {"backbone": Path(backbone).name, "seconds": seconds, "returncode": proc.returncode}
    if proc.returncode == 0 and (out / "manifest.json").exists():
        manifest = read_manifest(out)
        count = manifest.count
        result.update({"weights": manifest.model.weights, "count": count, "images_per_s": count / seconds})
        # build_index's own summary says where the time went (decode vs model vs write)
        result["summary"] = next((line for line in proc.stderr.splitlines() if line.startswith("indexed ")), None)
    else:
        result["error"] = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
    return result
