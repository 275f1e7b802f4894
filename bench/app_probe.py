"""The app as a shopper meets it: `app.py` cold start until its first page answers, its resident
memory, and one photo query through the app's JSON search API.

The API (`POST {base}/api/search`): a multipart/form-data body with the field `photo` (the image
file), optional `k` (default 10) and repeated `filter` fields `KEY=VALUE` (as the CLI's --filter:
a repeated key is OR, different keys AND). It answers 200 with `{"results": [{"rank", "id",
"distance", "attributes", "image"}, ...]}`, or 4xx with `{"error": "one sentence"}`.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

import psutil

from recommender.settings import PROJECT_ROOT

from bench.jobs import child_env

SEARCH_PATH = "/api/search"
MIB = 2**20


class SearchError(Exception):
    """The search API answered, but not with results: its own sentence, or what was wrong."""


def multipart_form(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, str, str, bytes]]
) -> tuple[bytes, str]:
    """A multipart/form-data body (RFC 7578) and its Content-Type header value.

    fields: (name, value) pairs, a name may repeat; files: (name, filename, content type, data).
    Names and file names are ours (plain ASCII, no quotes), so they need no escaping.
    """
    boundary = f"lookalike-{uuid.uuid4().hex}"
    parts = [
        (f'Content-Disposition: form-data; name="{name}"\r\n\r\n', value.encode("utf-8"))
        for name, value in fields
    ] + [
        (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
         f"Content-Type: {content_type}\r\n\r\n", data)
        for name, filename, content_type, data in files
    ]  # fmt: skip
    body = b"".join(f"--{boundary}\r\n{head}".encode() + data + b"\r\n" for head, data in parts)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def search_request(base: str, photo: bytes, *, k: int = 10, filters: Sequence[str] = ()) -> urllib.request.Request:
    """The POST a client sends to find the `k` products most like `photo`; filters are "KEY=VALUE"."""
    fields = [("k", str(k))] + [("filter", item) for item in filters]
    body, content_type = multipart_form(fields, [("photo", "query.jpg", "image/jpeg", photo)])
    return urllib.request.Request(f"{base}{SEARCH_PATH}", data=body, method="POST",
                                  headers={"Content-Type": content_type, "Accept": "application/json"})


def parse_search_answer(status: int, body: bytes) -> list[dict]:
    """The results of a 200 answer; any other answer raises SearchError with the API's sentence."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if status != 200:
        error = payload.get("error") if isinstance(payload, dict) else None
        raise SearchError(f"the search API answered {status}: {error or 'no JSON error message'}")
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise SearchError("the search API answered 200 without a JSON list of results")
    return payload["results"]


def search_photo(base: str, photo: bytes, *, k: int = 10, filters: Sequence[str] = (),
                 timeout_s: float = 120.0) -> list[dict]:
    """Ask the running app for the products most like `photo` (raises SearchError, OSError)."""
    request = search_request(base, photo, k=k, filters=filters)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:  # a 4xx/5xx answer: its body holds the API's sentence
        status, body = exc.code, exc.read()
    return parse_search_answer(status, body)


def app_cold_start(
    index_dir: Path, workdir: Path, *, query_image: Path | None = None, timeout_s: float = 120.0
) -> dict:
    """Seconds from launching `app.py` until GET / returns 200, and the app's resident memory then
    and after one photo query through the search API (the first one waits for the model)."""
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
            start = time.perf_counter()
            try:
                results = search_photo(base, query_image.read_bytes(), timeout_s=timeout_s)
            except (OSError, http.client.HTTPException, SearchError) as exc:
                result["query_error"] = f"POST {SEARCH_PATH}: {exc}"
            else:
                result["first_query_s"] = time.perf_counter() - start
                result["first_query_results"] = len(results)
                result["rss_mib_after_query"] = _tree_rss(proc.pid) / MIB
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


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)
