"""Whether a catalogue's vote memory is switched on: decided by its own vote sessions, half of them held out.

The memory (recommender.vote_memory) helps where queries the head calls alike want different kinds, and can
hurt where it does not (Kaggle's held-out products lost .0002 with it: README). So `learn` checks it on the
votes it has: the voting sessions are halved by the SHA-256 of their id into a fit half and a check half; the
preferences and the memory are learnt from the fit half alone, and each check query is ranked twice, with the
fit half's kind term (today's ranking) and with the fit half's memory in its place. Each ranking is scored by
what the check session said: the mean, over the first K results, of the session's mean vote on the result's
kind (+1 liked, -1 disliked, 0 a kind it was not shown). The memory is switched on only when it scores at least
MARGIN more, over at least MIN_CHECK check queries that at least one remembered fit query is near; otherwise
the ranking stays as it was. The decision and its figures go into the file and `learn`'s output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from recommender.index import Index
from recommender.preferences import Preferences, bind
from recommender.ranking import Ranker, RankingSettings
from recommender import vote_memory
from recommender.vote_memory import VoteMemory, bind_memory

__all__ = ["check_half", "decide", "MARGIN", "MIN_CHECK", "K"]

MARGIN = 0.02  # the least gain of the check score that switches the memory on (declared: README, RULE)
MIN_CHECK = 20  # check queries with a remembered fit query near them, fewer: too little to tell
K = 10


def check_half(session: str) -> bool:
    """Whether a session's votes are held out to check the memory (True) or fit it: the SHA-256 of its id."""
    return hashlib.sha256(session.encode("utf-8")).digest()[0] % 2 == 1


def _score(ranker: Ranker, vectors: np.ndarray, said: list[dict[str, tuple[float, float]]],
           kind_of_row: Callable[[int], str | None]) -> np.ndarray:
    """Per check query, the mean of its session's vote on the kinds of its first K results (0: not shown)."""
    _, positions = ranker.search(vectors, None, K)
    return np.array([np.mean([kinds.get(kind_of_row(int(r)), (0.0, 0.0))[0] for r in row if r >= 0] or [0.0])
                     for row, kinds in zip(positions, said)])


FitHalf = Callable[[Callable[[str], bool]], tuple[Preferences, VoteMemory]]


def decide(index: Index, memory: VoteMemory, fit_half: FitHalf, kind_of_row: Callable[[int], str | None],
           settings: RankingSettings | None = None) -> dict:
    """The switch of `memory` (learnt from all sessions): {"on", "reason", and the check's figures}.

    `fit_half(keep)` learns the preferences and the memory again from the sessions `keep` accepts."""
    preferences, fitted = fit_half(lambda session: not check_half(session))
    check = [s for s in memory.said if check_half(s.session)]
    figures: dict = {"margin": MARGIN, "threshold": vote_memory.THRESHOLD, "fit_queries": len(fitted.said),
                     "check_queries": len(check)}
    bound_memory = bind_memory(fitted, index)
    vectors = np.stack([s.vector for s in check]) if check else np.zeros((0, memory.dim), np.float32)
    near = bound_memory.near(vectors).any(axis=1)
    check, vectors = [s for s, n in zip(check, near) if n], vectors[near]
    figures["check_queries_near"] = len(check)
    if len(check) < MIN_CHECK:
        return {"on": False, "reason": f"too few held-out vote sessions to tell ({len(check)} check queries near a "
                                       f"remembered one, at least {MIN_CHECK} needed)", **figures}
    learned = bind(preferences, index)
    said = [s.kinds for s in check]
    without = _score(Ranker(index, settings, learned=lambda: learned), vectors, said, kind_of_row)
    with_memory = _score(Ranker(index, settings, learned=lambda: learned, memory=lambda: bound_memory), vectors,
                         said, kind_of_row)
    gain = float(with_memory.mean() - without.mean())
    figures.update(score_without=round(float(without.mean()), 4), score_with=round(float(with_memory.mean()), 4),
                   gain=round(gain, 4))
    on = gain >= MARGIN
    verdict = "helps" if on else "does not help enough"
    return {"on": on, "reason": f"on {len(check)} held-out vote sessions' queries the memory {verdict}: their votes "
                                f"score the first {K} results {without.mean():.4f} without it, {with_memory.mean():.4f} "
                                f"with it ({gain:+.4f}; on from {MARGIN:+.2f})", **figures}
