"""`python -m recommender build` and `query`: real runs on the demo catalogue, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from recommender.build import build_index
from recommender.catalog import Skipped
from recommender.cli import main
from recommender.commands.build import default_out
from recommender.errors import RecommenderError, WeightsUnavailable
from recommender.filters import parse_filter_items
from recommender.model_spec import ModelSpec
from recommender.settings import EMBEDDINGS_DIR
from tests.index_fakes import FakeExtractor, make_catalog

REPO = Path(__file__).resolve().parent.parent
RESULT_KEYS = {"rank", "id", "match", "distance", "attributes", "image"}


def check_results(payload: dict, k: int) -> list[dict]:
    assert set(payload) == {"results", "tags"}
    assert {t["role"] for t in payload["tags"]} == {"gender", "colour", "category"}
    assert all(0 < t["confidence"] <= 1 and t["source"] == "neighbours" for t in payload["tags"])
    results = payload["results"]
    assert len(results) == k
    assert [r["rank"] for r in results] == list(range(1, k + 1))
    assert all(set(r) == RESULT_KEYS for r in results)
    assert all(r["distance"] >= 0 for r in results)  # re-ranked: the distance may go up and down the list
    matches = [r["match"] for r in results]  # the figure that follows the order
    assert matches == sorted(matches, reverse=True) and all(0 <= m <= 1 for m in matches)
    assert all(Path(r["image"]).is_absolute() for r in results)
    return results


@pytest.fixture(scope="module")
def cli_index(demo_catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "index"
    code = main(["build", "--catalog", str(demo_catalog_dir), "--out", str(out), "--backbone", "mobilenet_v2",
                 "--weights", "none", "--batch-size", "16", "--chunk-size", "25", "--no-progress"])
    assert code == 0
    return out


def test_build_then_query_json(cli_index: Path, demo_catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    manifest = json.loads((cli_index / "manifest.json").read_text())
    assert (manifest["model"]["backbone"], manifest["model"]["weights"], manifest["count"]) == ("mobilenet_v2", "none", 60)
    assert manifest["dim"] == 1280 and manifest["input_size"] == [224, 224]
    assert not (cli_index / ".build").exists()
    capsys.readouterr()

    ids = json.loads((cli_index / "ids.json").read_text())
    assert main(["query", "--index", str(cli_index), "--id", ids[3], "--k", "5", "--json"]) == 0
    results = check_results(json.loads(capsys.readouterr().out), 5)
    assert ids[3] not in [r["id"] for r in results]
    distances = [r["distance"] for r in results]
    assert distances == sorted(distances)  # random weights rank by distance alone

    image = demo_catalog_dir / "images" / f"{ids[8]}.jpg"
    assert main(["query", "--index", str(cli_index), "--image", str(image), "--json"]) == 0
    results = check_results(json.loads(capsys.readouterr().out), 10)
    # the photo finds its own product, far closer than any other (relative: random-weight vectors are tiny)
    assert results[0]["id"] == ids[8] and results[0]["distance"] < 0.1 * results[1]["distance"]

    argv = ["query", "--index", str(cli_index), "--image", str(image), "--json", "--k", "60",
            "--filter", "gender=Women", "--filter", "gender=Unisex", "--filter", "articleType=Tshirts"]
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    products = [json.loads(line) for line in (cli_index / "products.jsonl").read_text().splitlines()]
    expected = {p["id"] for p in products if p["attributes"]["gender"] in ("Women", "Unisex")
                and p["attributes"]["articleType"] == "Tshirts"}
    assert expected and {r["id"] for r in results} == expected


def test_query_table(cli_index: Path, capsys: pytest.CaptureFixture) -> None:
    ids = json.loads((cli_index / "ids.json").read_text())
    assert main(["query", "--index", str(cli_index), "--id", ids[0], "--k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"3 best matches for product {ids[0]}:" and "random weights" in out[1]
    assert out[2].split()[:4] == ["rank", "match", "raw-distance", "id"] and len(out) == 6  # ranked by distance
    matches = [int(line.split()[1].rstrip("%")) for line in out[3:]]
    assert matches == sorted(matches, reverse=True)  # the figure follows the order
    assert main(["query", "--index", str(cli_index), "--id", ids[0], "--filter", "gender=Nobody"]) == 0
    captured = capsys.readouterr()
    assert "No product matches the filters" in captured.out
    # a value no product has (a typo, a wrong case) is explained, with the values there are
    assert captured.err.startswith("note: no product has gender 'Nobody'; the values of gender are: ")
    assert "Women" in captured.err and "Men" in captured.err
    assert main(["query", "--index", str(cli_index), "--id", ids[0], "--filter", "gender=women", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["results"] == [] and "gender 'women'" in captured.err
    assert main(["query", "--index", str(cli_index), "--id", ids[0], "--filter", "gender=Women", "--k", "2"]) == 0
    assert capsys.readouterr().err == ""


def test_parse_filters_and_default_out() -> None:
    assert parse_filter_items(["gender=Women", "baseColour=Navy Blue", "gender=Unisex", "usage=a=b"]) == {
        "gender": ["Women", "Unisex"], "baseColour": ["Navy Blue"], "usage": ["a=b"]}
    for bad in ("gender", "=Women", "gender="):
        with pytest.raises(RecommenderError, match="write KEY=VALUE"):
            parse_filter_items([bad])
    assert default_out(Path("/data/shop/catalogue"), ModelSpec.parse("resnet50")) == EMBEDDINGS_DIR / "catalogue-resnet50"
    assert default_out(Path("/data/shop"), ModelSpec.parse("/m/mobilenet_v1.tflite")) == EMBEDDINGS_DIR / "shop-mobilenet_v1"
    assert default_out(Path("/data/shop"), ModelSpec.parse("resnet50", "none")) == EMBEDDINGS_DIR / "shop-resnet50-random"


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake")
    build_index(make_catalog(root / "cat", n=12), root / "index", FakeExtractor(), progress=False)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return root


def one_line_error(argv: list[str]) -> str:
    """Run the real CLI in a subprocess: an expected failure is exit 2 and one line, no traceback."""
    done = subprocess.run([sys.executable, "-m", "recommender", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_query_errors_are_one_sentence(fake_index: Path) -> None:
    index = str(fake_index / "index")
    assert "There is no index at" in one_line_error(["query", "--index", str(fake_index / "nope"), "--id", "p001"])
    assert "Bad filter 'gender'" in one_line_error(["query", "--index", index, "--id", "p001", "--filter", "gender"])
    assert "No product with id 'zzz'" in one_line_error(["query", "--index", index, "--id", "zzz"])
    assert "Unknown attribute 'colour'" in one_line_error(
        ["query", "--index", index, "--id", "p001", "--filter", "colour=Blue"])
    assert "no image file" in one_line_error(["query", "--index", index, "--image", str(fake_index / "nope.jpg")])
    (fake_index / "unfinished" / ".build").mkdir(parents=True)
    assert "has not finished" in one_line_error(["query", "--index", str(fake_index / "unfinished"), "--id", "p1"])


def test_build_errors_are_one_sentence(fake_index: Path, tmp_path: Path) -> None:
    message = one_line_error(["build", "--catalog", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert "No catalogue found" in message


@pytest.fixture
def offline_backbones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backbones module that has the fake extractor and no network for ImageNet weights."""
    def load_extractor(spec: ModelSpec, *, seed: int = 0) -> FakeExtractor:
        if spec.weights == "imagenet":
            raise WeightsUnavailable("Keras cannot download the imagenet weights (no network); "
                                     "pass --weights PATH to a local weights file.")
        return FakeExtractor(name=spec.backbone, weights=spec.weights)

    module = types.ModuleType("recommender.backbones")
    module.load_extractor = load_extractor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recommender.backbones", module)


def test_image_and_weights_errors_are_one_sentence(fake_index: Path, tmp_path: Path, offline_backbones,
                                                   capsys: pytest.CaptureFixture) -> None:
    index = str(fake_index / "index")
    assert main(["query", "--index", index, "--image", str(fake_index / "broken.jpg")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err

    catalog = str(fake_index / "cat")
    assert main(["build", "--catalog", catalog, "--out", str(tmp_path / "x"), "--backbone", "fake"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: Keras cannot download the imagenet weights (no network); pass --weights PATH to a "
                   "local weights file."]


def test_tflite_build_and_query(demo_catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The real pretrained extractor from ../shared (skipped when absent): a photo finds its own product,
    and the manifest's backbone + weights load the same model again for the query."""
    from tests.conftest import TFLITE_V1, require

    model = require(TFLITE_V1)
    out = tmp_path / "tflite-index"
    assert main(["build", "--catalog", str(demo_catalog_dir), "--out", str(out), "--backbone", str(model),
                 "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == {"backbone": str(model.resolve()), "weights": str(model.resolve()), "head": None}
    assert manifest["dim"] == 1024
    capsys.readouterr()
    ids = json.loads((out / "ids.json").read_text())
    image = demo_catalog_dir / "images" / f"{ids[11]}.jpg"
    assert main(["query", "--index", str(out), "--image", str(image), "--json", "--k", "3"]) == 0
    results = check_results(json.loads(capsys.readouterr().out), 3)
    assert results[0]["id"] == ids[11]


def test_build_summary_names_the_skipped_entries() -> None:
    from recommender.commands.build import skipped_lines

    skipped = (Skipped("39403", "missing image"), Skipped("line 7", "malformed row"), Skipped("39410", "missing image"))
    assert skipped_lines(skipped) == ["  missing image: 39403, 39410", "  malformed row: line 7"]
    many = tuple(Skipped(str(i), "missing image") for i in range(25))
    (line,) = skipped_lines(many, most=3)
    assert line == "  missing image: 0, 1, 2 and 22 more (all in manifest.json)"


def test_an_unwritable_output_folder_is_one_sentence(tmp_path: Path) -> None:
    write_demo = ["demo-catalog", "--n", "3", "--out"]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_line_error([*write_demo, str(blocker / "demo")])
    assert str(blocker) in line
