"""The catalogue audit: wrong labels found out of fold, duplicates, broken pictures, thin categories, the command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from recommender.audit import AuditReport, audit, neighbours
from recommender.audit_store import AUDIT_FILE, load_report
from recommender.audit_swap import swap_labels, swap_test
from recommender.cli import main
from recommender.errors import RecommenderError
from recommender.index_files import read_index
from recommender.manifest import Holdout
from tests.audit_fakes import BLANK, NEAR_DUPLICATE, SAME_PIXELS, TINY, WRONG, write_audit_index


@pytest.fixture(scope="module")
def audit_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_audit_index(tmp_path_factory.mktemp("audit"))


def test_wrong_labels_come_first_with_their_true_category(audit_index: Path) -> None:
    report = audit(read_index(audit_index))
    first = report.suspects[: len(WRONG)]
    assert {s.id for s in first} == set(WRONG)
    truth = {"p005": "Tshirts", "p040": "Jeans", "p070": "Watches"}
    for s in first:
        assert (s.attribute, s.label, s.suggested) == ("articleType", WRONG[s.id], truth[s.id])
        assert 0.5 < s.confidence <= 1.0 and len(s.neighbours) == 5 and s.id not in s.neighbours
    assert report.attributes == ["articleType"]


def test_a_product_never_counts_as_its_own_neighbour_even_beside_its_identical_copy() -> None:
    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0.1, 1]], dtype=np.float32)
    distances, rows = neighbours(x, k=2)
    assert all(i not in rows[i] for i in range(len(x)))
    assert set(rows[0]) == {1, 2} and distances[0].max() == pytest.approx(0.0)


def test_duplicates_by_picture_and_by_pixels(audit_index: Path) -> None:
    groups = [set(g["ids"]) for g in audit(read_index(audit_index)).duplicates]
    assert set(NEAR_DUPLICATE) in groups and set(SAME_PIXELS) in groups
    assert len(groups) == 2  # products of one category are alike but not the same picture


def test_near_vectors_with_different_pictures_are_no_duplicates(tmp_path: Path) -> None:
    """A trained head draws a kind's products together: near vectors alone do not make a duplicate."""
    from PIL import Image

    files = read_index(write_audit_index(tmp_path))
    Image.new("RGB", (48, 64), (250, 250, 250)).save(files.products[int(NEAR_DUPLICATE[1][1:])].image)
    Image.new("RGB", (48, 64), (10, 10, 10)).save(files.products[int(NEAR_DUPLICATE[0][1:])].image)
    assert [set(g["ids"]) for g in audit(files).duplicates] == [set(SAME_PIXELS)]


def test_a_picture_that_cannot_be_read_confirms_no_duplicate(tmp_path: Path) -> None:
    """Near vectors whose picture is gone or damaged since the build: not confirmed, and no error."""
    files = read_index(write_audit_index(tmp_path))
    damaged = files.products[int(NEAR_DUPLICATE[1][1:])].image
    damaged.write_bytes(b"\x89PNG not a picture")
    assert [set(g["ids"]) for g in audit(files).duplicates] == [set(SAME_PIXELS)]
    damaged.unlink()
    assert [set(g["ids"]) for g in audit(files).duplicates] == [set(SAME_PIXELS)]


def test_broken_tiny_and_blank_pictures_and_thin_categories(audit_index: Path) -> None:
    report = audit(read_index(audit_index))
    reasons = {i["id"]: i["reason"] for i in report.images}
    assert reasons["p999"] == "missing image" and reasons[BLANK] == "blank image"
    assert reasons[TINY] == "tiny image (10x8 px)" and len(reasons) == 3
    assert report.thin == [{"attribute": "articleType", "value": "Ties", "count": 2}]


def test_without_labels_only_duplicates_and_pictures_and_it_says_so(tmp_path: Path) -> None:
    report = audit(read_index(write_audit_index(tmp_path, labels=False)))
    assert report.suspects == [] and report.attributes == [] and report.thin == []
    assert len(report.duplicates) == 2 and report.images
    assert report.notes == ["The catalogue has no category labels: only duplicates and broken images are listed."]


def test_a_trained_index_is_audited_with_a_warning(tmp_path: Path, capsys) -> None:
    report = audit(read_index(write_audit_index(tmp_path, head="abc123")))
    assert {s.id for s in report.suspects[:3]} == set(WRONG)
    assert report.trained_on_labels and report.notes == []  # a fact: each reader words it (the page: no raw index)
    assert AuditReport.from_json(report.to_json()).trained_on_labels
    assert not audit(read_index(write_audit_index(tmp_path / "raw"))).trained_on_labels
    assert main(["audit", "--index", str(tmp_path / "index"), "--no-save"]) == 0
    assert "audit the raw index it was trained from (python -m recommender audit --index RAW_DIR" in capsys.readouterr().out


def test_a_report_saved_before_the_flag_reads_as_trained_without_its_old_sentence() -> None:
    old = {"suspects": [], "duplicates": [], "images": [], "thin_categories": [], "attributes": ["articleType"],
           "notes": ["This index is trained on the labels being checked: products it learnt from look less suspect "
                     "than they are; audit the index it was trained from (its raw backbone vectors)."]}
    report = AuditReport.from_json(old)
    assert report.trained_on_labels and report.notes == []
    assert not AuditReport.from_json({**old, "notes": []}).trained_on_labels


def test_swapped_labels_stay_in_their_parent_and_are_seeded() -> None:
    labels = ["a", "b", "c", "x", "y", "a", "b", "x"] * 10
    parents = ["P", "P", "P", "Q", "Q", "P", "P", "Q"] * 10
    rows = np.arange(0, 80, 2)
    new, swapped = swap_labels(labels, parents, rows, 0.25, seed=3)
    assert len(swapped) == 10 and set(swapped) <= set(rows)
    for i in range(80):
        changed = new[i] != labels[i]
        assert changed == (i in swapped)
        if changed:
            assert parents[labels.index(new[i])] == parents[i]
    assert swap_labels(labels, parents, rows, 0.25, seed=3)[0] == new
    assert swap_labels(labels, parents, rows, 0.25, seed=4)[0] != new


def test_swap_test_finds_swapped_labels_among_held_out_products(tmp_path: Path) -> None:
    result = swap_test(read_index(write_audit_index(tmp_path)), share=0.1, seed=1, holdout=Holdout(0.5, 1))
    assert result.swapped >= 5 and result.precision[result.swapped] >= 0.8
    assert result.recall[2 * result.swapped] >= result.recall[result.swapped] >= 0.8


def test_command_json_csv_and_saved_report(audit_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "suspects.csv"
    assert main(["audit", "--index", str(audit_index), "--json", "--csv", str(out)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in payload["suspects"][:3]] and set(payload) >= {"suspects", "duplicates", "images",
                                                                          "thin_categories", "notes"}
    assert set(payload["suspects"][0]) >= {"id", "attribute", "label", "suggested", "confidence"}
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [s["id"] for s in payload["suspects"]]
    assert [s.id for s in load_report(audit_index).suspects] == [r["id"] for r in rows]


def test_saved_report_sentences(tmp_path: Path) -> None:
    index = write_audit_index(tmp_path / "a")
    with pytest.raises(RecommenderError, match="has not been audited yet; run python -m recommender audit"):
        load_report(index)
    main(["audit", "--index", str(index), "--no-save"])
    assert not (index / AUDIT_FILE).exists()
    main(["audit", "--index", str(index)])
    write_audit_index(tmp_path / "a", thin=3)  # rebuilt: other vectors
    with pytest.raises(RecommenderError, match="earlier build of this index"):
        load_report(index)
    (index / AUDIT_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(RecommenderError, match="cannot be read"):
        load_report(index)


def test_bad_input_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["audit", "--index", str(tmp_path / "none")]) == 2
    assert "There is no index at" in capsys.readouterr().err
    index = write_audit_index(tmp_path / "b", labels=False)
    assert main(["audit", "--index", str(index), "--swap-test", "0.02"]) == 2
    assert "has no category labels to swap" in capsys.readouterr().err
    assert main(["audit", "--index", str(index), "--swap-test", "2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


def _garment(rng: np.random.Generator, colour: tuple[int, int, int]):
    """A product shot: a coloured garment (with some noise) on a white background."""
    from PIL import Image

    pixels = np.full((40, 32, 3), 255, np.uint8)
    pixels[8:32, 6:26] = np.clip(np.array(colour) + rng.integers(-20, 20, (24, 20, 3)), 0, 255)
    return Image.fromarray(pixels)


def test_a_folder_catalogue_built_by_the_project(tmp_path: Path) -> None:
    """Any layout the engine reads: a folder per category, through the real build (fake extractor)."""
    from recommender.build import build_index
    from recommender.catalog import load_catalog
    from tests.index_fakes import FakeExtractor

    rng = np.random.default_rng(0)
    plan = [("Dresses", (200, 30, 30), 12), ("Jeans", (30, 30, 200), 12), ("Hats", (30, 200, 30), 1)]
    for category, colour, count in plan:
        for i in range(count):
            (tmp_path / "shop" / category).mkdir(parents=True, exist_ok=True)
            _garment(rng, colour).save(tmp_path / "shop" / category / f"{category}-{i}.png")
    _garment(rng, (30, 30, 200)).save(tmp_path / "shop" / "Dresses" / "misfiled.png")  # a blue (jeans) picture
    out = tmp_path / "index"
    build_index(load_catalog(tmp_path / "shop"), out, FakeExtractor(), progress=False)
    report = audit(read_index(out))
    assert report.attributes == ["category"]
    first = report.suspects[0]
    assert (first.label, first.suggested) == ("Dresses", "Jeans") and "misfiled" in first.id
    assert {"attribute": "category", "value": "Hats", "count": 1} in report.thin


def test_the_command_s_text_names_the_ids_of_every_finding(audit_index: Path, capsys: pytest.CaptureFixture) -> None:
    """A merchant reads which products to merge, re-shoot or fill in without opening the JSON."""
    assert main(["audit", "--index", str(audit_index), "--no-save"]) == 0
    lines = capsys.readouterr().out.splitlines()
    duplicates = [line.split("\t")[1].split(", ") for line in lines if line.startswith("duplicates\t")]
    assert any(set(NEAR_DUPLICATE) <= set(ids) for ids in duplicates)
    assert "picture\tp999: missing image" in lines and f"picture\t{BLANK}: blank image" in lines
    assert "thin\tarticleType Ties: 2 products" in lines
