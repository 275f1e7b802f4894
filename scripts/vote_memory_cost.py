"""What the vote memory costs: `learn`'s fitting (preferences, memory and the switch's held-out check) and a search.

Usage: python scripts/vote_memory_cost.py --index INDEX [--sessions 2000]

Simulated sessions search with the index's own (held-out) products, one query each, and vote on the ten results
(six likes and four dislikes of every ten); the votes are learnt as `learn` learns them (`vote_learning.learn_votes`), timed.
Then 200 queries are searched one at a time with the memory switched on and without it, alternating (medians),
and the memory's own step is timed alone: one (1, sessions) cosine product per query. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.evaluation.run import neighbours, own_queries  # noqa: E402
from recommender.index import Index  # noqa: E402
from recommender.ranking import Ranker  # noqa: E402
from recommender.vote_learning import learn_votes  # noqa: E402
from recommender.vote_memory import QueryVote, VoteMemory, bind_memory  # noqa: E402

SEARCHES = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sessions", type=int, default=2000)
    args = parser.parse_args()
    index = Index.load(args.index)
    queries = own_queries(index)
    rows = list(range(min(args.sessions, len(queries.ids))))
    found = neighbours(Ranker(index), queries.subset(rows), 10)
    votes = [QueryVote(f"s{i}", queries.ids[i], index.ids[int(r)], 1 if j % 3 else -1, 10 * i + j)
             for i, row in zip(rows, found) for j, r in enumerate(row) if r >= 0]
    start = time.perf_counter()
    _, memory = learn_votes(index, votes, {queries.ids[i]: queries.vectors[i] for i in rows})
    print(f"learn: {len(votes):,} votes of {len(rows):,} sessions in {time.perf_counter() - start:.2f} s; "
          f"vote memory of {memory.summary()}")
    with tempfile.TemporaryDirectory() as folder:
        memory.save(Path(folder) / "vote-memory.json")
        start = time.perf_counter()
        VoteMemory.load(Path(folder) / "vote-memory.json")
        print(f"file: {(Path(folder) / 'vote-memory.json').stat().st_size / 1e6:.2f} MB, read in "
              f"{time.perf_counter() - start:.2f} s")
    bound = bind_memory(replace(memory, switch={"on": True}), index)
    rankers = {"without the memory": Ranker(index), "with the memory": Ranker(index, memory=lambda: bound)}
    times: dict[str, list[float]] = {name: [] for name in rankers}
    for ranker in rankers.values():
        ranker.search(queries.vectors[:50], None, 10)  # warm
    for i in range(SEARCHES):  # alternating, so the shared machine's load falls on both alike
        for name, ranker in rankers.items():
            start = time.perf_counter()
            ranker.search(queries.vectors[i : i + 1], None, 10)
            times[name].append(time.perf_counter() - start)
    for name, taken in times.items():
        print(f"search {name}: median {np.median(taken) * 1000:.2f} ms a query")
    probabilities = np.full((1, 100), 0.01)
    start = time.perf_counter()
    for i in range(SEARCHES):
        bound.reweigh(queries.vectors[i : i + 1], probabilities, np.arange(100) % 2, np.array([[0, -1, -1]]))
    print(f"the memory's own step (reweigh, {len(memory.said):,} remembered, 100 kinds): "
          f"{(time.perf_counter() - start) / SEARCHES * 1000:.3f} ms a query")


if __name__ == "__main__":
    main()
