"""The app as a shopper meets it: `app.py` cold start until its first page answers, its resident
memory, and one photo query sent the way the browser sends it."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from recommender.benchmark.jobs import child_env
from recommender.settings import PROJECT_ROOT

MIB = 2**20


def app_cold_start(
    index_dir: Path, workdir: Path, *, query_image: Path | None = None, timeout_s: float = 120.0
) -> dict:
    """Seconds from launching `app.py` until GET / returns 200, and the app's resident memory then
    and after one photo query sent the way the browser sends it (which waits for the model)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "app.py", "--index", str(index_dir), "--port", str(port)]
    log_path = workdir / "app.log"
    start = time.perf_counter()
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=child_env(workdir), stdout=log_file, stderr=log_file)
    try:
        status = None
        while time.perf_counter() - start < timeout_s and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/", timeout=5) as response:
                    status = response.status
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        seconds = time.perf_counter() - start
        if status != 200:
            reason = "exited" if proc.poll() is not None else f"did not answer in {timeout_s:.0f} s"
            tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-5:])
            return {"error": f"the app {reason}", "log_tail": tail}
        result: dict = {"index_rows": _count_lines(index_dir / "products.jsonl"), "cold_start_s": seconds}
        with urllib.request.urlopen(f"{base}/_dash-layout", timeout=30) as response:
            response.read()  # the page's content: the browser asks for it right after the page
        result["cold_start_with_layout_s"] = time.perf_counter() - start
        result["rss_mib_after_first_page"] = _tree_rss(proc.pid) / MIB
        if query_image is not None:
            try:
                start = time.perf_counter()
                result["first_query_results"] = _dash_photo_query(base, query_image.read_bytes())
                result["first_query_s"] = time.perf_counter() - start
                result["rss_mib_after_query"] = _tree_rss(proc.pid) / MIB
            except (OSError, ValueError, KeyError, StopIteration) as exc:
                result["query_error"] = f"{type(exc).__name__}: {exc}"
        result["rss_peak_mib"] = _peak_rss(proc.pid) / MIB
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree_rss(pid: int) -> int:
    """Resident bytes of the app and its children (gunicorn-style workers, if any)."""
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def _peak_rss(pid: int) -> int:
    """The kernel's high-water mark of resident memory (VmHWM), 0 where /proc has none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _post_json(url: str, body: dict, timeout_s: float = 120.0) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def _dash_photo_query(base: str, image: bytes) -> int:
    """Send a photo through the app's own callbacks over HTTP, as the browser does: the upload
    callback (decode + embed) and then the results callback (kNN); returns the number of results.

    The callbacks are found in `/_dash-dependencies` by the ids the search page uses
    (`upload-payload`, `trail`, `results-area`).
    """
    with urllib.request.urlopen(f"{base}/_dash-dependencies", timeout=30) as response:
        callbacks = json.loads(response.read())

    def call(callback: dict, values: dict[str, object]) -> dict:
        def props(items: list[dict]) -> list[dict]:
            return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in items]

        parts = callback["output"].strip(".").split("...") if callback["output"].startswith("..") else [callback["output"]]
        outputs = [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in parts]
        body = {
            "output": callback["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": props(callback["inputs"]),
            "state": props(callback["state"]),
            "changedPropIds": [f"{item['id']}.{item['property']}" for item in callback["inputs"]][:1],
        }
        return _post_json(f"{base}/_dash-update-component", body)["response"]

    upload = next(c for c in callbacks if any(i["id"] == "upload-payload" for i in c["inputs"]))
    contents = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    response = call(upload, {"upload-payload.data": {"filename": "query.jpg", "contents": contents}})
    trail = response["trail"]["data"]
    if not trail:
        raise ValueError("the upload callback returned no query")
    render = next(c for c in callbacks if c["output"].startswith("results-area.children"))
    children = call(render, {"trail.data": trail})["results-area"]["children"]
    return json.dumps(children).count("/thumbnail/")


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)
