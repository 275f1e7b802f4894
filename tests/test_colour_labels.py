"""The demo's hand-labelled colours: the label file matches the sample it was made from, and the computed
colours keep naming them about as well as measured (README, "The demo: kinds, ages and colours")."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from recommender.colours import BASE_COLOURS

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO / "demo" / "colour-labels.csv"


def test_the_labels_are_the_seeded_sample_in_the_colour_tables_names() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import colour_check
    finally:
        sys.path.remove(str(REPO / "scripts"))
    with open(LABELS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == [i for i, _ in colour_check.sample()]
    assert {r["colour"] for r in rows} <= BASE_COLOURS.keys() - {"Multi", "NA"}


def test_the_computed_colours_name_the_held_out_labels() -> None:
    done = subprocess.run([sys.executable, "scripts/colour_check.py", "score", "--half", "report"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=True)
    # measured: exact 36 %, family 52 % (20 % and 30 % before the correction)
    words = done.stdout.split()
    exact, family = (int(words[words.index(key) + 1].rstrip("%,")) for key in ("colour", "family"))
    assert exact >= 30 and family >= 45, done.stdout
