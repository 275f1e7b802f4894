"""What shoppers' votes teach the ranking, for everyone: a per-product and a per-(query kind, product kind) preference.

Each preference is a shrunk mean of votes (+1 up, -1 down): sum(weight * vote) / (sum(weight) + prior), so
it stays near zero until many sessions agree, and it lies in (-1, 1) whatever they do. The guard against
abuse is in the weights, not in after-the-fact filters:

- one session counts once per product and once per (query kind, product kind): its latest vote on a
  product (whatever the query) is its say on it, and its say on a kind pair is the mean of its votes there;
- a burst is capped: a session's votes together weigh at most SESSION_CAP, each vote then weighing
  SESSION_CAP / its vote count (1,000 votes from one session weigh what 20 would);
- the effect is bounded: the Ranker adds PRODUCT_WEIGHT * product preference (so no number of sessions, forged or
  real, moves a product by more than PRODUCT_WEIGHT), and scales the head's probability of a product kind by
  exp(KIND_STRENGTH * kind preference), kept within e ** KIND_BOUND (e) times more or less likely.

What was learnt is a small JSON file beside the index (`preferences.json`), written atomically and keyed by the
index's catalogue identity: votes on one catalogue never touch another, and a file from another catalogue is
ignored. The app reloads the file when it changes (a stat at most every RELOAD_S seconds on the search path), so
`python -m recommender learn` run by a timer (cron) takes effect in every worker without a restart, and a worker
killed and restarted reads the same file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from recommender.atomic import TEMP_SUFFIX, atomic_write
from recommender.errors import RecommenderError

if TYPE_CHECKING:
    from recommender.index import Index

__all__ = ["FILE_NAME", "VoteRecord", "Preferences", "BoundPreferences", "LearnedFile", "fit", "bind", "beside",
           "index_kinds", "kind_lookup", "read_learnt", "save_learnt",
           "PRODUCT_WEIGHT", "PRODUCT_PRIOR", "KIND_PRIOR", "KIND_STRENGTH", "KIND_BOUND", "SESSION_CAP"]

log = logging.getLogger(__name__)

FILE_NAME = "preferences.json"
FORMAT = 1
SESSION_CAP = 20.0  # a session's votes together weigh at most this much
PRODUCT_PRIOR = 3.0  # weight of the zero prior of a product's preference: 3 agreeing sessions make it 0.5
KIND_PRIOR = 10.0  # the same for a (query kind, product kind) pair, which many more queries share
PRODUCT_WEIGHT = 0.3  # the most a product's learnt preference adds to (or takes from) its score
KIND_STRENGTH = 6.0  # a kind's probability is scaled by exp(this * its preference) (chosen: README) ...
KIND_BOUND = 1.0  # ... within e ** this, up or down, whatever the votes
RELOAD_S = 5.0  # the app looks at the file's stat at most this often


class VoteRecord(NamedTuple):
    """One standing vote as learning reads it; `order` says which of a session's votes on a product is latest."""

    session: str
    query_kind: str | None  # the query's predicted kind (category), None when it cannot be known any more
    item: str
    vote: int  # +1 or -1
    order: int = 0


def _shrunk(sums: dict, weights: dict, prior: float) -> dict:
    return {key: sums[key] / (weights[key] + prior) for key in sums}


def _session_weights(records: Sequence[VoteRecord]) -> dict[str, float]:
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        counts[record.session] += 1
    return {session: min(1.0, SESSION_CAP / n) for session, n in counts.items()}


@dataclass(frozen=True)
class Preferences:
    """What the votes of one catalogue taught: preferences in (-1, 1), and how much evidence there was."""

    catalog: str
    products: dict[str, float] = field(default_factory=dict)
    kinds: dict[tuple[str, str], float] = field(default_factory=dict)  # (query kind, product kind) -> preference
    votes: int = 0
    sessions: int = 0
    learnt: str = ""  # the learn run that wrote it, also in that run's vote memory: a worker that reads one run's
    # preferences beside another's memory (learn writes them one after the other) ranks without the memory

    def to_json(self) -> dict:
        return {"format": FORMAT, "catalog": self.catalog, "votes": self.votes, "sessions": self.sessions,
                "learnt": self.learnt,
                "settings": {"session_cap": SESSION_CAP, "product_prior": PRODUCT_PRIOR, "kind_prior": KIND_PRIOR},
                "products": self.products, "kinds": [[q, p, v] for (q, p), v in sorted(self.kinds.items())]}

    @classmethod
    def from_json(cls, data: object) -> "Preferences":
        """The file's content, checked: anything else is a sentence (the app then ranks without it)."""
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a preferences file of format 1")
            products = {str(k): _bounded(v) for k, v in dict(data["products"]).items()}
            kinds = {(str(q), str(p)): _bounded(v) for q, p, v in data["kinds"]}
            return cls(str(data["catalog"]), products, kinds, int(data["votes"]), int(data["sessions"]),
                       str(data.get("learnt", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecommenderError(f"The learnt preferences cannot be read ({exc}); run learn again.") from None

    def summary(self) -> str:
        return f"{self.votes} votes from {self.sessions} sessions"

    def save(self, path: Path) -> None:
        save_learnt(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "Preferences":
        return cls.from_json(read_learnt(path))


def read_learnt(path: Path) -> object:
    """A learnt file's JSON; a file that is not JSON is a sentence (the ranking then goes on without it)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RecommenderError(f"The learnt file {path} is not JSON; run learn again.") from None


def save_learnt(path: Path, data: dict) -> None:
    """Write a learnt file atomically: a reader, or a learn killed half-way, sees the previous file or this one,
    never half; the temp file a killed learn left is removed."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
        if not _running(stale.name[len(path.name) + 2 :].split(".")[0]):
            stale.unlink(missing_ok=True)
    with atomic_write(path) as handle:
        json.dump(data, handle)


def _running(pid: str) -> bool:
    """Whether the process that named a temp file is still running (so its write may still be under way)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _bounded(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number) or abs(number) >= 1.0:
        raise ValueError(f"a preference of {value!r} is outside (-1, 1)")
    return number


def fit(records: Iterable[VoteRecord], catalog: str, kind_of: Callable[[str], str | None]) -> Preferences:
    """Preferences from a catalogue's standing votes (`kind_of`: a product id's kind), guarded as the notes say."""
    records = [r for r in records if r.vote in (-1, 1)]
    latest: dict[tuple[str, str], VoteRecord] = {}
    for record in sorted(records, key=lambda r: r.order):  # one say per session and product: the latest
        latest[(record.session, record.item)] = record
    weight_of = _session_weights(records)
    sums: dict = defaultdict(float)
    weights: dict = defaultdict(float)
    said: dict = defaultdict(list)  # (session, query kind, product kind) -> its votes there
    for (session, item), record in latest.items():
        sums[item] += weight_of[session] * record.vote
        weights[item] += weight_of[session]
        kind = kind_of(item)
        if record.query_kind is not None and kind is not None:
            said[(session, record.query_kind, kind)].append(record.vote)
    pair_sums: dict = defaultdict(float)
    pair_weights: dict = defaultdict(float)
    for (session, query_kind, kind), votes in said.items():  # a session's say on a pair weighs at most 1
        weight = min(1.0, weight_of[session] * len(votes))
        pair_sums[(query_kind, kind)] += weight * sum(votes) / len(votes)
        pair_weights[(query_kind, kind)] += weight
    return Preferences(catalog, _shrunk(sums, weights, PRODUCT_PRIOR), _centred(pair_sums, pair_weights),
                       len(records), len(weight_of))


def _centred(sums: dict, weights: dict) -> dict:
    """Per (query kind, product kind): how much better than the query kind's other results it was liked, halved
    into (-1, 1) and shrunk by KIND_PRIOR. Centring on the query kind's own mean keeps a kind nobody voted on
    (preference 0) from overtaking a kind that was shown and merely liked as often as the rest."""
    row_sums: dict = defaultdict(float)
    row_weights: dict = defaultdict(float)
    for (query_kind, _), total in sums.items():
        row_sums[query_kind] += total
        row_weights[query_kind] += weights[(query_kind, _)]
    return {(q, k): weights[(q, k)] / (weights[(q, k)] + KIND_PRIOR)
            * (sums[(q, k)] / weights[(q, k)] - row_sums[q] / row_weights[q]) / 2 for q, k in sums}


class BoundPreferences:
    """Preferences laid over one index's rows and kinds: what the Ranker adds and how it reweighs kinds."""

    def __init__(self, preferences: Preferences, ids: Sequence[str], kinds: Sequence[str],
                 item_kinds: np.ndarray) -> None:
        """`kinds`: the index's kind values; `item_kinds`: each row's code in them (-1: none)."""
        self.preferences = preferences
        self.kinds = list(kinds)
        self.item_kinds = np.asarray(item_kinds, dtype=np.int64)
        self.product = np.zeros(len(ids), dtype=np.float64)
        row_of = {product_id: row for row, product_id in enumerate(ids)}
        for product_id, value in preferences.products.items():
            if product_id in row_of:  # a product gone from the catalogue keeps no weight
                self.product[row_of[product_id]] = value
        code_of = {kind: code for code, kind in enumerate(self.kinds)}
        self.pair = np.zeros((len(self.kinds) + 1, len(self.kinds) + 1))  # the last row and column: no kind (-1)
        self.voted = np.zeros(self.pair.shape, dtype=bool)  # (query kind, kind) pairs some vote spoke of
        for (query_kind, kind), value in preferences.kinds.items():
            if query_kind in code_of and kind in code_of:
                self.pair[code_of[query_kind], code_of[kind]] = value
                self.voted[code_of[query_kind], code_of[kind]] = True

    def bonus(self, positions: np.ndarray) -> np.ndarray:
        """(n, m) what the votes add to the scores of the candidate rows: PRODUCT_WEIGHT * their preference."""
        return PRODUCT_WEIGHT * self.product[positions]

    def kind_factor(self, query_kinds: np.ndarray, kind_codes: np.ndarray) -> np.ndarray:
        """(n, V) how much more (or less) likely each kind is for each query: exp(KIND_STRENGTH * preference),
        at most e ** KIND_BOUND times.

        `query_kinds` (n,) are the queries' predicted kinds, `kind_codes` (V,) the classifier's classes as codes
        in `kinds` (-1 where a class is no kind of the index)."""
        preference = self.pair[np.asarray(query_kinds)[:, None], np.asarray(kind_codes)[None, :]]
        return np.exp(np.clip(KIND_STRENGTH * preference, -KIND_BOUND, KIND_BOUND))

    def reweigh(self, probabilities: np.ndarray, query_kinds: np.ndarray, kind_codes: np.ndarray,
                likely: np.ndarray) -> np.ndarray:
        """(n, V) the classifier's kind probabilities scaled by `kind_factor` and renormalised, for the queries
        whose `likely` classes ((n, m) class columns, padded with -1: the kinds their lists start with) were all
        voted on for their query kind. Any other query keeps the head's probabilities: a likely kind nobody
        voted on may be its right one, which the head mistakes for a voted kind, and the voted kind's gain
        would push it out of the first places (measured: README, simulated shoppers)."""
        voted = self.voted[np.asarray(query_kinds)[:, None], np.asarray(kind_codes)[np.maximum(likely, 0)]]
        known = (voted | (likely < 0)).all(axis=1, keepdims=True)
        scaled = probabilities * self.kind_factor(query_kinds, kind_codes)
        return np.where(known, scaled / scaled.sum(axis=1, keepdims=True), probabilities)


class LearnedFile:
    """A learnt file beside an index (the preferences, or `load`'s kind: the vote memory), reloaded when it
    changes; callable: what `bind` made of it (the current BoundPreferences), or None."""

    def __init__(self, path: Path, catalog: str, bind: Callable[[Any], Any],
                 clock: Callable[[], float] = time.monotonic, load: Callable[[Path], Any] | None = None) -> None:
        self.path, self.catalog, self._bind, self._clock = Path(path), catalog, bind, clock
        self._load = load or Preferences.load
        self._lock = threading.Lock()
        self._stat: tuple[int, int] | None = None
        self._checked = -math.inf
        self._current: BoundPreferences | None = None

    def __call__(self) -> BoundPreferences | None:
        now = self._clock()
        if now - self._checked < RELOAD_S:
            return self._current
        with self._lock:
            self._checked = now
            try:
                info = os.stat(self.path)
                stat = (info.st_mtime_ns, info.st_size)
            except OSError:
                stat = None
            if stat != self._stat:
                self._stat = stat
                self._current = None if stat is None else self._read()
            return self._current

    def _read(self) -> Any:
        try:
            learnt = self._load(self.path)
            if learnt.catalog != self.catalog:
                raise RecommenderError(f"{self.path} was learnt on another catalogue.")
            bound = self._bind(learnt)
        except (OSError, RecommenderError) as exc:
            log.warning("Ranking without %s: %s", self.path.name, exc)
            return None
        log.info("Learnt %s loaded: %s.", self.path.name, learnt.summary())
        return bound


def index_kinds(index: Index) -> tuple[list[str], np.ndarray]:
    """An index's kinds (its category values, sorted) and each row's code in them (-1: none; no category: no kinds)."""
    category = index.roles.category
    if category is None:
        return [], np.full(len(index), -1, dtype=np.int64)
    kinds = sorted(index.attribute_values(category))
    return kinds, index.value_codes(category, kinds)


def kind_lookup(index: Index) -> Callable[[str], str | None]:
    """A product id's kind in an index (None: no kind, or not in the index)."""
    kinds, item_kinds = index_kinds(index)
    row_of = {product_id: row for row, product_id in enumerate(index.ids)}

    def kind_of(item: str) -> str | None:
        code = item_kinds[row_of[item]] if item in row_of else -1
        return kinds[code] if code >= 0 else None

    return kind_of


def bind(preferences: Preferences, index: Index) -> BoundPreferences:
    kinds, item_kinds = index_kinds(index)
    return BoundPreferences(preferences, index.ids, kinds, item_kinds)


def beside(index: Index) -> LearnedFile:
    """The learnt preferences of an index's catalogue, read from its folder (none until `learn` writes them)."""
    return LearnedFile(Path(index.path) / FILE_NAME, index.manifest.catalog.identity, lambda p: bind(p, index))
