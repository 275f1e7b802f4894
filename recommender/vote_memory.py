"""What voting shoppers said near a query: the kind votes of the voting queries within cosine THRESHOLD of it.

The learnt kind term (`recommender.preferences`) is keyed by the query's predicted kind, so it cannot tell two
queries the head calls alike apart. This memory keeps, per voting session and query, the query's vector and
its mean vote per kind shown; a later query borrows the votes of the remembered queries near it (cosine at least
THRESHOLD): per kind, sum(weight x mean vote) / (sum(weight) + PRIOR) / 2, and the head's probability of that
kind is scaled by exp(KIND_STRENGTH x it), within e times, as the kind term does. It acts only on a query whose
likely kinds (the category-first set) were all shown to its neighbours, for the reason the kind term does.

The guard is the kind term's: a session's votes together weigh at most SESSION_CAP (a burst is capped), its
say on a kind is the mean of its votes there weighing at most 1, and shared by its queries (a session that
searched five times says a fifth at each), so a session moves a kind once; whatever the sessions, forged or
real, a kind's probability moves by at most e times. Only the latest MAX_SESSIONS sessions are kept.

Whether the memory is used is decided per catalogue by `recommender.memory_switch` from held-out vote sessions
and written into the file (`switch`); the file sits beside the index (`vote-memory.json`), written atomically,
keyed by the catalogue's identity, and reloaded by every worker as `preferences.json` is.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from recommender.errors import RecommenderError
from recommender.model_spec import ModelSpec
from recommender.preferences import (KIND_BOUND, KIND_STRENGTH, SESSION_CAP, BoundPreferences, LearnedFile,
                                     index_kinds, read_learnt, save_learnt)

if TYPE_CHECKING:
    from recommender.index import Index

__all__ = ["MEMORY_FILE", "QueryVote", "VoteMemory", "BoundMemory", "remember", "bind_memory", "memory_beside", "paired",
           "THRESHOLD", "PRIOR", "MAX_SESSIONS"]

MEMORY_FILE = "vote-memory.json"
FORMAT = 1
THRESHOLD = 0.8  # cosine from which a remembered query counts as near (chosen on tune sets: README)
PRIOR = 10.0  # weight of the zero prior of a neighbourhood's kind preference
MAX_SESSIONS = 2000  # the latest sessions kept


class QueryVote(NamedTuple):
    """One standing vote with its query: `query` names it (its kind and reference), `order` says which is latest."""

    session: str
    query: str
    item: str
    vote: int  # +1 or -1
    order: int = 0


class Said(NamedTuple):
    """What one session said from one query: its mean vote per kind shown and the weight of each."""

    session: str
    vector: np.ndarray  # the query's unit vector in the index's space
    kinds: dict[str, tuple[float, float]]  # kind -> (mean vote, weight)


def _encode(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def _decode(text: str, dim: int) -> np.ndarray:
    vector = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f2").astype(np.float32)
    if len(vector) != dim or not np.isfinite(vector).all():
        raise ValueError(f"a query vector of {len(vector)} values, not {dim}")
    return vector


def _said_value(pair: object) -> tuple[float, float]:
    mean, weight = (float(v) for v in pair)  # type: ignore[union-attr]
    if not (-1.0 <= mean <= 1.0 and 0.0 < weight <= 1.0):
        raise ValueError(f"a kind vote {pair!r} is outside its bounds")
    return mean, weight


@dataclass(frozen=True)
class VoteMemory:
    """The remembered queries of one catalogue, and whether (and why) the memory is switched on."""

    catalog: str
    dim: int
    said: list[Said] = field(default_factory=list)
    switch: dict = field(default_factory=dict)  # {"on": bool, "reason": str, and the check's figures}
    # the model whose vectors these are: the catalogue (the file's key) outlives a rebuild with another model,
    # whose space the remembered queries are not in, even at the same dimension (None: not known, never used)
    model: ModelSpec | None = None
    learnt: str = ""  # the learn run that wrote it (Preferences.learnt): paired with that run's preferences only

    @property
    def on(self) -> bool:
        return bool(self.switch.get("on"))

    def summary(self) -> str:
        state = "on" if self.on else "off"
        return f"{len(self.said):,} remembered queries, switched {state}: {self.switch.get('reason', 'not checked')}"

    def to_json(self) -> dict:
        return {"format": FORMAT, "catalog": self.catalog, "dim": self.dim, "switch": self.switch,
                "model": self.model.to_json() if self.model else None, "learnt": self.learnt,
                "settings": {"threshold": THRESHOLD, "prior": PRIOR, "max_sessions": MAX_SESSIONS},
                "said": [{"session": s.session, "vector": _encode(s.vector), "kinds": s.kinds} for s in self.said]}

    @classmethod
    def from_json(cls, data: object) -> "VoteMemory":
        """The file's content, checked: anything else is a sentence (the ranking then goes on without it)."""
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a vote memory file of format 1")
            dim = int(data["dim"])
            said = [Said(str(s["session"]), _decode(s["vector"], dim),
                         {str(k): _said_value(v) for k, v in dict(s["kinds"]).items()}) for s in data["said"]]
            switch = dict(data["switch"])
            if not isinstance(switch.get("on"), bool):
                raise ValueError("its switch is neither on nor off")
            model = ModelSpec.from_json(data["model"]) if data.get("model") is not None else None
            return cls(str(data["catalog"]), dim, said, switch, model, str(data.get("learnt", "")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecommenderError(f"The vote memory cannot be read ({exc}); run learn again.") from None

    def save(self, path: Path) -> None:
        save_learnt(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "VoteMemory":
        return cls.from_json(read_learnt(path))


def remember(votes: Sequence[QueryVote], vectors: Mapping[str, np.ndarray], catalog: str, dim: int,
             kind_of: Callable[[str], str | None], model: ModelSpec | None = None) -> VoteMemory:
    """The memory of a catalogue's standing votes (`vectors`: each query's vector, made by `model`; a query
    without one, a photo no longer kept, is not remembered), guarded as the notes say; switched off until
    `memory_switch` decides."""
    votes = [v for v in votes if v.vote in (-1, 1)]
    counts: dict[str, int] = defaultdict(int)
    latest_order: dict[str, int] = defaultdict(int)
    for v in votes:
        counts[v.session] += 1
        latest_order[v.session] = max(latest_order[v.session], v.order)
    kept = set(sorted(counts, key=lambda s: (latest_order[s], s))[-MAX_SESSIONS:])
    latest: dict[tuple[str, str, str], int] = {}
    for v in sorted(votes, key=lambda v: v.order):  # a session's latest vote on a product from a query
        if v.session in kept and v.query in vectors and kind_of(v.item) is not None:
            latest[(v.session, v.query, v.item)] = v.vote
    per_query: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (session, query, item), vote in latest.items():
        per_query[(session, query)][kind_of(item)].append(vote)  # type: ignore[index]
    queries_of: dict[str, int] = defaultdict(int)
    for session, _ in per_query:
        queries_of[session] += 1
    said = []
    for (session, query), kinds in sorted(per_query.items()):
        each = min(1.0, SESSION_CAP / counts[session])  # a vote's weight, a burst capped
        vector = np.asarray(vectors[query], dtype=np.float32)
        said.append(Said(session, vector / max(float(np.linalg.norm(vector)), 1e-12),
                         {k: (sum(vs) / len(vs), min(1.0, each * len(vs)) / queries_of[session])
                          for k, vs in sorted(kinds.items())}))
    return VoteMemory(catalog, dim, said, {"on": False, "reason": "not checked yet"}, model)


class BoundMemory:
    """A memory laid over an index's kinds: how near remembered queries reweigh a query's kind probabilities."""

    def __init__(self, memory: VoteMemory, kinds: Sequence[str]) -> None:
        self.memory = memory
        code_of = {kind: code for code, kind in enumerate(kinds)}
        n = len(memory.said)
        self.vectors = np.stack([s.vector for s in memory.said]) if n else np.zeros((0, memory.dim), np.float32)
        self.sums = np.zeros((n, len(code_of) + 1))  # the last column: no kind of the index (-1)
        self.weights = np.zeros((n, len(code_of) + 1))
        for row, said in enumerate(memory.said):
            for kind, (mean, weight) in said.kinds.items():
                if kind in code_of:  # a kind gone from the catalogue says nothing
                    self.sums[row, code_of[kind]] = weight * mean
                    self.weights[row, code_of[kind]] = weight

    def near(self, queries: np.ndarray) -> np.ndarray:
        """(n, remembered) whether each remembered query is within cosine THRESHOLD of each query."""
        unit = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
        return unit @ self.vectors.T >= THRESHOLD

    def preference(self, queries: np.ndarray, kind_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, V) the neighbourhood's preference of each class (`kind_codes`: codes of the index's kinds, -1 none)
        and (n, V) the weight of the neighbours' votes on it."""
        near = self.near(queries).astype(np.float64)
        sums, weights = (near @ self.sums)[:, kind_codes], (near @ self.weights)[:, kind_codes]
        return sums / (weights + PRIOR) / 2, weights

    def reweigh(self, queries: np.ndarray, probabilities: np.ndarray, kind_codes: np.ndarray,
                likely: np.ndarray, otherwise: np.ndarray | None = None) -> np.ndarray:
        """(n, V) the classifier's kind probabilities scaled by exp(KIND_STRENGTH x the neighbourhood's preference),
        within e ** KIND_BOUND, for the queries whose `likely` classes ((n, m), padded with -1) were all shown to
        their neighbours; any other query keeps `otherwise` (the kind term's reweighing, so a query far from every
        voter does not lose what the votes taught for its kind), else the head's probabilities."""
        preference, weights = self.preference(queries, kind_codes)
        shown = np.take_along_axis(weights > 0, np.maximum(likely, 0), axis=1) | (likely < 0)
        known = shown.all(axis=1, keepdims=True) & (weights > 0).any(axis=1, keepdims=True)
        scaled = probabilities * np.exp(np.clip(KIND_STRENGTH * preference, -KIND_BOUND, KIND_BOUND))
        return np.where(known, scaled / scaled.sum(axis=1, keepdims=True),
                        probabilities if otherwise is None else otherwise)


def bind_memory(memory: VoteMemory, index: Index) -> BoundMemory:
    """The memory over the index's kinds as they are now (a kind gone from the catalogue says nothing); no check
    of its model or switch: the caller's (`memory_beside` for a file, the switch and simulations for their own)."""
    return BoundMemory(memory, index_kinds(index)[0])


def _switched_on(memory: VoteMemory, index: Index) -> BoundMemory | None:
    """The memory over the index's kinds while it is on; one of another model or dimension is a sentence."""
    if memory.dim != index.dim:
        raise RecommenderError(f"The vote memory holds vectors of {memory.dim} values, not {index.dim}; "
                               "run learn again.")
    if memory.model is None or not memory.model.compatible(index.manifest.model):
        raise RecommenderError("The vote memory was learnt with another model's vectors; run learn again.")
    return bind_memory(memory, index) if memory.on else None


def paired(memory: BoundMemory | None, learned: BoundPreferences | None) -> BoundMemory | None:
    """The memory, unless it and the preferences beside it come from different learn runs: `learn` replaces one
    file then the other, and for the seconds between them a worker ranks with the new preferences alone."""
    if memory is None or learned is None or memory.memory.learnt == learned.preferences.learnt:
        return memory
    return None


def memory_beside(index: Index) -> LearnedFile:
    """The vote memory of an index's catalogue (none until `learn` writes it; None while it is switched off)."""
    return LearnedFile(Path(index.path) / MEMORY_FILE, index.manifest.catalog.identity,
                       lambda m: _switched_on(m, index), load=VoteMemory.load)
