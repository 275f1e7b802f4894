"""Simulated visitors of the shop: shoppers who search, filter and vote, and the attackers of the issue.

A `Shopper` opens the search page (its own session cookie), uploads a photo, sometimes sets a
filter, asks for "more like this", votes on a result, and now and then uses the JSON API, all
through the app's real HTTP endpoints. Every request is timed in a shared `Tally`. The attackers
(`slow_client`, `pixel_bomber`) run until a stop event, each in its own thread.
"""

from __future__ import annotations

import base64
import io
import random
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np
import requests
from PIL import Image, ImageDraw

from recommender.traffic.dash_client import CallbackError, DashPage, walk_components

__all__ = ["Tally", "TimedSession", "Shopper", "slow_client", "pixel_bomber", "bomb_png", "percentiles"]

UPLOAD = ("upload-payload", "data")  # what the page's clientside callback sets when a file is chosen
FILTER_PREFIX = "filter-"


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(np.asarray(values, dtype=float), [50, 95, 99])
    return {"p50": round(float(p50), 4), "p95": round(float(p95), 4), "p99": round(float(p99), 4)}


@dataclass
class Tally:
    """Requests, their times and failures, votes sent and refused: shared by every simulated visitor."""

    seconds: list[float] = field(default_factory=list)
    upload_to_results: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    votes_sent: int = 0
    votes_refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, status: int | None, seconds: float, what: str) -> None:
        with self.lock:
            self.seconds.append(seconds)
            if status is not None:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            if status is None or status >= 400:
                self.errors.append(f"{what}: {status or 'no answer'}")

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


class TimedSession(requests.Session):
    """A requests session whose every request is timed into a `Tally` (status >= 400 counts as an error)."""

    def __init__(self, tally: Tally, expected: Sequence[int] = ()) -> None:
        super().__init__()
        self.tally, self.expected = tally, set(expected)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        start = time.perf_counter()
        what = f"{method} {urlsplit(url).path[:60]}"
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            self.tally.request(None, time.perf_counter() - start, f"{what} ({type(exc).__name__})")
            raise
        status = response.status_code
        self.tally.request(200 if status in self.expected else status, time.perf_counter() - start, what)
        return response


def _data_url(photo: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(photo).decode()


class Shopper:
    """One simulated shopper's visits; `visit()` is one search journey."""

    def __init__(self, base: str, photos: Sequence[bytes], tally: Tally, *, seed: int, api_every: int = 3) -> None:
        self.base, self.photos, self.tally = base, photos, tally
        self.rng = random.Random(seed)
        self.api_every = api_every
        self.visits = 0

    def visit(self) -> None:
        """Page -> upload -> (filter) -> vote -> more like this -> vote; every `api_every` visits, the API too."""
        self.visits += 1
        page = DashPage(self.base, TimedSession(self.tally))
        try:
            page.open("/")
            start = time.perf_counter()
            answers = page.set(*UPLOAD, {"filename": "photo.jpg", "contents": _data_url(self.rng.choice(self.photos))})
            if not self._results(answers):
                self.tally.error("an upload gave no results")
                return
            self.tally.upload_to_results.append(time.perf_counter() - start)
            if self.rng.random() < 0.5:
                self._filter(page)
            self._vote(page, self._results(answers) or [])
            cards = self._cards(page)
            if cards:
                answers = page.set({"type": "more", "id": self.rng.choice(cards)}, "n_clicks", 1)
                self._vote(page, self._results(answers) or [])
            if self.visits % self.api_every == 0:
                self._api(page.http, cards)
        except CallbackError as exc:
            self.tally.error(f"callback: {exc}")
        except requests.RequestException as exc:
            self.tally.error(f"request: {type(exc).__name__}")

    @staticmethod
    def _results(answers: list[dict]) -> list[str] | None:
        """Product ids of the vote buttons in the last answer that rendered results, if any."""
        for answer in reversed(answers):
            ids = [c["props"]["id"]["id"] for c in walk_components(answer)
                   if isinstance(c["props"].get("id"), dict) and c["props"]["id"].get("type") == "vote-state"]
            if ids:
                return ids
        return None

    def _cards(self, page: DashPage) -> list[str]:
        return [i["id"] for i in page.find("more")]

    def _filter(self, page: DashPage) -> None:
        dropdowns = [k for k in page.components if isinstance(k, str) and k.startswith(FILTER_PREFIX)
                     and page.components[k].get("options")]
        if not dropdowns:
            return
        name = self.rng.choice(dropdowns)
        option = self.rng.choice(page.components[name]["options"])
        page.set(name, "value", [option["value"] if isinstance(option, dict) else option])

    def _vote(self, page: DashPage, shown: list[str]) -> None:
        if not shown:
            return
        item = self.rng.choice(shown)
        kind = self.rng.choice(("vote-up", "vote-down"))
        answers = page.set({"type": kind, "id": item}, "n_clicks", 1)
        state = next((props.get("data") for answer in answers for key, props in answer.items()
                      if '"vote-state"' in key and "data" in props), None)
        with self.tally.lock:
            if isinstance(state, dict) and state.get("vote") in (1, -1):
                self.tally.votes_sent += 1
            else:
                self.tally.votes_refused += 1
                self.tally.errors.append(f"a vote was not saved: {str(answers)[:200]}")

    def _api(self, http: requests.Session, cards: list[str]) -> None:
        photo = self.rng.choice(self.photos)
        http.post(f"{self.base}/api/search", files={"photo": ("photo.jpg", photo, "image/jpeg")}, data={"k": "10"},
                  timeout=60)
        if cards:
            http.get(f"{self.base}/api/similar/{quote(self.rng.choice(cards), safe='')}?k=10", timeout=60)


def slow_client(base: str, stop: threading.Event, *, every_s: float = 2.0) -> dict[str, int]:
    """A POST whose body arrives a byte every `every_s` seconds, again and again until `stop`."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    outcome = {"connections": 0, "bytes": 0, "answered": 0}
    while not stop.is_set():
        outcome["connections"] += 1
        with socket.create_connection((host, port), timeout=60) as sock:
            sock.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n")
            try:
                while not stop.wait(every_s):
                    sock.sendall(b" ")
                    outcome["bytes"] += 1
                    sock.settimeout(0.001)
                    try:
                        if sock.recv(1024):
                            outcome["answered"] += 1
                            break
                    except TimeoutError:
                        pass
                    finally:
                        sock.settimeout(60)
            except OSError:  # the server closed the connection
                outcome["answered"] += 1
    return outcome


def bomb_png(side: int, mode: str = "RGB") -> bytes:
    """A PNG of side x side pixels in a few hundred KB (mostly one colour): cheap to send, costly to decode."""
    image = Image.new(mode, (side, side), "white")
    ImageDraw.Draw(image).rectangle((side // 4, side // 4, side // 2, side // 2), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixel_bomber(base: str, bombs: Sequence[bytes], stop: threading.Event, tally: Tally) -> int:
    """Upload pixel bombs through the page and the API in turn until `stop`; returns how many were sent."""
    sent = 0
    http = TimedSession(tally, expected=(400, 413))  # a refused bomb is the right answer, not an error
    page = DashPage(base, http)
    page.open("/")
    while not stop.is_set():
        bomb = bombs[sent % len(bombs)]
        try:
            if sent % 2:
                http.post(f"{base}/api/search", files={"photo": ("bomb.png", bomb, "image/png")}, timeout=120)
            else:
                page.set(*UPLOAD, {"filename": "bomb.png", "contents": "data:image/png;base64," +
                                   base64.b64encode(bomb).decode()})
        except (CallbackError, requests.RequestException) as exc:
            tally.error(f"pixel bomb: {exc}")
        sent += 1
    return sent
