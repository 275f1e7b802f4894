"""How well shop the look finds the garments of looks with known boxes (`evaluate --looks DIR`).

A garment counts as found when a proposal of its kind (top, bottoms, dress, shoes, hat, bag:
`recommender.garment_kinds`) overlaps its box with an IoU of at least 0.4, each proposal
finding at most one garment; "exact" figures ask for its very category (articleType: "Tops" is not
"Tshirts"). A proposal is a garment when it overlaps any true garment that much, whatever its
class. A found garment's P@10 is the share of its proposal's ten results of the garment's kind
(and, exact, of its category). Looks of a single product are also counted apart: the share that
stays one garment, the whole picture. The time of each look (windows, garments and their results)
is reported as well.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from recommender.engine import Recommender
from recommender.garment_kinds import garment_kinds
from recommender.images import open_image
from recommender.look_boxes import iou
from recommender.looks import WHOLE, LookSettings, shop_the_look
from recommender.looks_set import LookGarment, read_looks

__all__ = ["MATCH_IOU", "evaluate_looks", "print_looks", "score_look"]

MATCH_IOU = 0.4


def score_look(truth: list[LookGarment], size: tuple[int, int], look: list, category: str,
               same: Callable[[str, str], bool]) -> dict[str, Any]:
    """One look's matches: per true garment (its class, the P@k of the proposal that found it or None)."""
    width, height = size
    boxes = np.array([g.box for g, _ in look]) * [width, height, width, height]
    overlap = iou(boxes, np.array([t.box for t in truth], dtype=np.float64))  # (proposals, garments)
    used: set[int] = set()
    found: list[tuple[str, float | None]] = []
    for column, garment in enumerate(truth):
        rows = [r for r in np.argsort(-overlap[:, column]) if overlap[r, column] >= MATCH_IOU
                and r not in used and same(look[r][0].category, garment.category)]
        if not rows:
            found.append((garment.category, None))
            continue
        used.add(rows[0])
        hits = look[rows[0]][1]
        share = sum(same(h.product.attributes.get(category, ""), garment.category) for h in hits) / max(len(hits), 1)
        found.append((garment.category, share))
    return {"found": found, "proposals": len(look), "garment_proposals": int((overlap.max(axis=1) >= MATCH_IOU).sum())}


def _figures(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Garments found, P@k of the found ones, overall and per class, from the looks' scores."""
    per_class: dict[str, list[float | None]] = defaultdict(list)
    for score in scores:
        for value, precision in score["found"]:
            per_class[value].append(precision)
    every = [p for values in per_class.values() for p in values]
    precisions = [p for p in every if p is not None]
    return {"found": len(precisions) / max(len(every), 1),
            "p_at_k_found": float(np.mean(precisions)) if precisions else 0.0,
            "per_class": {value: {"garments": len(v), "found": sum(p is not None for p in v),
                                  "p_at_k": float(np.mean([p for p in v if p is not None]))
                                  if any(p is not None for p in v) else None}
                          for value, v in sorted(per_class.items())}}


def evaluate_looks(engine: Recommender, folder: Path, k: int = 10,
                   settings: LookSettings | None = None) -> dict[str, Any]:
    """The figures of one looks folder (module notes): by garment kind, and exact; the index's own settings
    (its product-shot threshold, `recommender.look_calibration`) unless given."""
    looks = read_looks(folder)
    category = engine.index.roles.category
    values = engine.index.head.attributes[category] if engine.index.head and category in engine.index.head.attributes \
        else list(engine.index.attribute_values(category))
    kinds = dict(zip(values, garment_kinds(engine.index, values)))

    def same_kind(a: str, b: str) -> bool:
        return a == b or (kinds.get(a) is not None and kinds.get(a) == kinds.get(b))

    by_kind, exact, seconds = [], [], []
    proposals = garment_proposals = singles = singles_whole = 0
    for name, truth in sorted(looks.items()):
        picture = open_image(Path(folder) / "images" / name)
        start = time.perf_counter()
        look = shop_the_look(engine, picture, k, settings=settings)
        seconds.append(time.perf_counter() - start)
        by_kind.append(score_look(truth, picture.size, look, category, same_kind))
        exact.append(score_look(truth, picture.size, look, category, str.__eq__))
        proposals += by_kind[-1]["proposals"]
        garment_proposals += by_kind[-1]["garment_proposals"]
        if len(truth) == 1 and truth[0].box == (0, 0, *picture.size):
            singles += 1
            singles_whole += len(look) == 1 and look[0][0].box == WHOLE
    return {"folder": str(folder), "looks": len(looks), "garments": sum(len(t) for t in looks.values()), "k": k,
            **_figures(by_kind), "exact": _figures(exact),
            "proposals": proposals, "proposals_garments": garment_proposals / max(proposals, 1),
            "single_shots": singles, "single_shots_whole": singles_whole,
            "seconds_p50": float(np.median(seconds)) if seconds else 0.0}


def print_looks(result: dict[str, Any], out: TextIO) -> None:
    """The figures as a few lines of text, the classes with most garments first."""
    k, exact = result["k"], result["exact"]
    print(f"looks {result['folder']}: {result['looks']} photos, {result['garments']} garments", file=out)
    print(f"  garments found (IoU >= {MATCH_IOU}, right kind): {result['found']:.3f}   "
          f"(right category: {exact['found']:.3f})", file=out)
    print(f"  proposals that are garments: {result['proposals_garments']:.3f} of {result['proposals']}", file=out)
    print(f"  P@{k} of found garments, their kind: {result['p_at_k_found']:.3f}   "
          f"(category, of those found with theirs: {exact['p_at_k_found']:.3f})", file=out)
    print(f"  single product shots kept whole: {result['single_shots_whole']} of {result['single_shots']}", file=out)
    print(f"  photo -> every garment's results, p50: {result['seconds_p50']:.2f} s", file=out)
    rows = sorted(result["per_class"].items(), key=lambda item: -item[1]["garments"])
    for value, row in rows:
        p = "-" if row["p_at_k"] is None else f"{row['p_at_k']:.2f}"
        print(f"    {value:<20} {row['found']:>3}/{row['garments']:<3} found, P@{k} {p}", file=out)
