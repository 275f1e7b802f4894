"""Simulated visitors of the shop: shoppers who search, filter and vote, and the attackers of the issue.

A `Shopper` opens the search page (its own session cookie), uploads a photo, sometimes sets a
filter, asks for "more like this", votes on results, sometimes asks for more like the ones it
liked and goes Back, and now and then uses the JSON API, all through the app's real HTTP
endpoints and as the page's renderer would (the search lives in the URL's fragment, which the
callbacks write and the `dcc.Location` reports). Every request is timed in a shared `Tally`. The attackers
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

from recommender.roles import FILTER_ROLES
from recommender.ui import ids

from bench.traffic.dash_client import CallbackError, DashPage, component_key, walk_components

__all__ = ["Tally", "TimedSession", "Shopper", "slow_client", "pixel_bomber", "bomb_png", "percentiles"]

UPLOAD = (ids.UPLOAD_PAYLOAD, "data")  # what the page's clientside callback sets when a file is chosen


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
    actions: dict[str, int] = field(default_factory=dict)  # what the shoppers did and saw work, by kind
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

    def did(self, action: str) -> None:
        with self.lock:
            self.actions[action] = self.actions.get(action, 0) + 1

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
            self.tally.request(None, time.perf_counter() - start, f"{what} ({type(exc).__name__}: {str(exc)[-160:]})")
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
        """Page -> upload -> (filter) -> vote -> more like this -> vote -> (more like the liked ones -> vote)
        -> (Back); every `api_every` visits, the API too. Each vote is on a different query, as a shopper's are."""
        self.visits += 1
        page = DashPage(self.base, TimedSession(self.tally))
        try:
            page.open("/")
            start = time.perf_counter()
            answers = page.set(*UPLOAD, {"filename": "photo.jpg", "contents": _data_url(self.rng.choice(self.photos))})
            if not self._moved(page, answers, "", "an upload"):
                return
            self.tally.upload_to_results.append(page.set_at[(ids.RESULTS_AREA, "children")] - start)
            if self.rng.random() < 0.5:
                self._filter(page)
            liked = self._vote(page)
            cards = [i["id"] for i in page.find(ids.MORE)]
            history = [page.url["hash"]]
            if cards and self._moved(page, page.set(ids.product(ids.MORE, self.rng.choice(cards)), "n_clicks", 1),
                                     history[-1], "more like this"):
                history.append(page.url["hash"])
                liked = self._vote(page)
            if liked and self.rng.random() < 0.5 and page.value(ids.REFINE, "disabled") is False and \
                    self._moved(page, page.set(ids.REFINE, "n_clicks", 1), history[-1], "a refinement"):
                history.append(page.url["hash"])
                self._vote(page)
            if len(history) > 1 and self.rng.random() < 0.3:
                self._moved(page, page.go_to(history[-2]), history[-1], "going Back")
            if self.visits % self.api_every == 0:
                self._api(page.http, cards)
        except CallbackError as exc:
            self.tally.error(f"callback: {exc}")
        except requests.RequestException as exc:
            self.tally.error(f"request: {type(exc).__name__}")

    def _moved(self, page: DashPage, answers: list[dict], before: str, action: str) -> bool:
        """Whether an action moved the URL away from `before` and drew results (an error in the tally if not).

        Results may rightly be none: a product followed under a filter it alone matches leaves nothing
        else, and the page says so; that counts as the action done, with nothing to vote on."""
        if page.url.get("hash", "") != before and _results(answers):
            self.tally.did(action)
            return True
        if page.url.get("hash", "") != before and _says_no_match(answers):
            self.tally.did(f"{action}, no product matching the filters")
            return False
        self.tally.error(f"{action} gave no results")
        return False

    def _filter(self, page: DashPage) -> None:
        """One value of one filter instead of what it holds, among those that leave products (the others
        cannot be picked)."""
        choices = [(role, option["value"]) for role in FILTER_ROLES
                   for option in page.value(ids.filter_id(role), "options") or []
                   if isinstance(option, dict) and not option.get("disabled")
                   and option["value"] not in (page.value(ids.filter_id(role), "value") or [])]
        if choices:
            role, value = self.rng.choice(choices)
            before = page.url["hash"]
            self._moved(page, page.set(ids.filter_id(role), "value", [value]), before, "a filter")

    def _vote(self, page: DashPage) -> bool:
        """Thumbs up or down on one of the results on the page; whether it was a thumbs up that was kept."""
        shown = [i["id"] for i in page.find(ids.VOTE_STATE)]
        if not shown:
            return False
        item = self.rng.choice(shown)
        kind = self.rng.choice((ids.VOTE_UP, ids.VOTE_DOWN))
        answers = page.set(ids.product(kind, item), "n_clicks", 1)
        state = page.value(ids.product(ids.VOTE_STATE, item), "data")
        saved = any(component_key(ids.product(ids.VOTE_STATE, item)) in answer for answer in answers)
        with self.tally.lock:
            if saved and isinstance(state, dict) and state.get("vote") in (1, -1):
                self.tally.votes_sent += 1
                self.tally.actions["a vote"] = self.tally.actions.get("a vote", 0) + 1
                return state["vote"] == 1
            self.tally.votes_refused += 1
            self.tally.errors.append(f"a vote was not saved: {str(answers)[:200]}")
        return False

    def _api(self, http: requests.Session, cards: list[str]) -> None:
        photo = self.rng.choice(self.photos)
        if http.post(f"{self.base}/api/search", files={"photo": ("photo.jpg", photo, "image/jpeg")}, data={"k": "10"},
                     timeout=60).ok:
            self.tally.did("the API's search")
        if cards and http.get(f"{self.base}/api/similar/{quote(self.rng.choice(cards), safe='')}?k=10", timeout=60).ok:
            self.tally.did("the API's similar")


def _results(answers: list[dict]) -> list[str]:
    """Product ids of the result cards (their vote states) drawn by any of these answers."""
    for answer in reversed(answers):
        found = [c["props"]["id"]["id"] for c in walk_components(answer)
                 if isinstance(c["props"].get("id"), dict) and c["props"]["id"].get("type") == ids.VOTE_STATE]
        if found:
            return found
    return []


def _says_no_match(answers: list[dict]) -> bool:
    """Whether an answer drew the page's "No product matches these filters" instead of results."""
    return any("no-results" in str(c["props"].get("className", "")).split() for answer in answers
               for c in walk_components(answer))


SLOW_OPENINGS = {  # what a slow client sends at once, before trickling the rest
    "body": b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n",
    "headers": b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
}


def slow_client(base: str, stop: threading.Event, *, every_s: float = 2.0, part: str = "body") -> dict[str, int]:
    """A request whose `part` ("body" of a POST, or "headers" of a GET) arrives a byte every `every_s` seconds,
    again and again until `stop`."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    outcome = {"connections": 0, "bytes": 0, "answered": 0}
    while not stop.is_set():
        outcome["connections"] += 1
        with socket.create_connection((host, port), timeout=60) as sock:
            sock.sendall(SLOW_OPENINGS[part])
            try:
                while not stop.wait(every_s):
                    sock.sendall(b"x" if part == "headers" else b" ")
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
