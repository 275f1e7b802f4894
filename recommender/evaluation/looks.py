"""How well shop the look finds the garments of looks with known boxes (`evaluate --looks DIR`).

A garment counts as found when a proposal of its class overlaps its box with an IoU of at least
0.4 (each proposal finds at most one garment); a proposal is a garment when it overlaps any true
garment that much, whatever its class; a found garment's P@10 is the share of its proposal's ten
results of the garment's class. Looks of a single product are also counted apart: the share that
stays one garment, the whole picture. The time of each look (windows, garments and their results)
is reported as well.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from recommender.engine import Recommender
from recommender.images import open_image
from recommender.looks import WHOLE, LookSettings, iou, shop_the_look
from recommender.looks_set import LookGarment, read_looks

__all__ = ["MATCH_IOU", "evaluate_looks", "print_looks", "score_look"]

MATCH_IOU = 0.4


def score_look(truth: list[LookGarment], size: tuple[int, int], look: list, category: str) -> dict[str, Any]:
    width, height = size
    boxes = np.array([g.box for g, _ in look]) * [width, height, width, height]
    overlap = iou(boxes, np.array([t.box for t in truth], dtype=np.float64))  # (proposals, garments)
    used: set[int] = set()
    found: list[tuple[str, float | None]] = []  # (class, P@10 of its results) per true garment, None: missed
    for column, garment in enumerate(truth):
        rows = [r for r in np.argsort(-overlap[:, column]) if overlap[r, column] >= MATCH_IOU
                and r not in used and look[r][0].category == garment.category]
        if not rows:
            found.append((garment.category, None))
            continue
        used.add(rows[0])
        hits = look[rows[0]][1]
        found.append((garment.category, sum(h.product.attributes.get(category) == garment.category for h in hits)
                      / max(len(hits), 1)))
    return {"found": found, "proposals": len(look), "garment_proposals": int((overlap.max(axis=1) >= MATCH_IOU).sum())}


def evaluate_looks(engine: Recommender, folder: Path, k: int = 10,
                   settings: LookSettings = LookSettings()) -> dict[str, Any]:
    """The figures of one looks folder (module notes), overall and per class."""
    looks = read_looks(folder)
    category = engine.index.roles.category
    per_class: dict[str, list[float | None]] = defaultdict(list)
    proposals = garment_proposals = singles = singles_whole = 0
    seconds = []
    for name, truth in sorted(looks.items()):
        picture = open_image(Path(folder) / "images" / name)
        start = time.perf_counter()
        look = shop_the_look(engine, picture, k, settings=settings)
        seconds.append(time.perf_counter() - start)
        score = score_look(truth, picture.size, look, category)
        for value, precision in score["found"]:
            per_class[value].append(precision)
        proposals += score["proposals"]
        garment_proposals += score["garment_proposals"]
        if len(truth) == 1 and truth[0].box == (0, 0, *picture.size):
            singles += 1
            singles_whole += len(look) == 1 and look[0][0].box == WHOLE
    all_found = [p for values in per_class.values() for p in values]
    precisions = [p for p in all_found if p is not None]
    return {
        "folder": str(folder), "looks": len(looks), "garments": len(all_found),
        "found": len(precisions) / max(len(all_found), 1),
        "proposals": proposals, "proposals_garments": garment_proposals / max(proposals, 1),
        "p_at_k_found": float(np.mean(precisions)) if precisions else 0.0, "k": k,
        "single_shots": singles, "single_shots_whole": singles_whole,
        "seconds_p50": float(np.median(seconds)) if seconds else 0.0,
        "per_class": {value: {"garments": len(v), "found": sum(p is not None for p in v),
                              "p_at_k": float(np.mean([p for p in v if p is not None])) if any(p is not None for p in v)
                              else None} for value, v in sorted(per_class.items())},
    }


def print_looks(result: dict[str, Any], out: TextIO) -> None:
    """The figures as a few lines of text, the classes with most garments first."""
    print(f"looks {result['folder']}: {result['looks']} photos, {result['garments']} garments", file=out)
    print(f"  garments found (IoU >= {MATCH_IOU}, right class): {result['found']:.3f}", file=out)
    print(f"  proposals that are garments: {result['proposals_garments']:.3f} of {result['proposals']}", file=out)
    print(f"  P@{result['k']} of found garments: {result['p_at_k_found']:.3f}", file=out)
    print(f"  single product shots kept whole: {result['single_shots_whole']} of {result['single_shots']}", file=out)
    print(f"  photo -> every garment's results, p50: {result['seconds_p50']:.2f} s", file=out)
    rows = sorted(result["per_class"].items(), key=lambda item: -item[1]["garments"])
    for value, row in rows:
        p = "-" if row["p_at_k"] is None else f"{row['p_at_k']:.2f}"
        print(f"    {value:<20} {row['found']:>3}/{row['garments']:<3} found, P@{result['k']} {p}", file=out)
