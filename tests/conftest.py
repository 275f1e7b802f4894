"""Shared fixtures: a small demo catalogue and index built once per session,
the `../shared` data (skipped when absent), and headless Chromium options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SHARED_FASHION = SHARED / "data" / "fashion-product-images-small"
SHARED_CLOTHING = SHARED / "data" / "clothing-small"
SHARED_MODELS = SHARED / "models"
TFLITE_V1 = SHARED_MODELS / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
TFLITE_V2 = REPO / "models" / "mobilenet_v2_1.0_224_quant.tflite"  # shipped (the same file as in ../shared/models)
DEMO_PHOTOS = REPO / "demo" / "catalogue" / "images"  # shipped: real photos, for tests of real models


def require(path: Path) -> Path:
    """Skip the calling test when a `../shared` file is absent (the core suite needs none)."""
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is optional)")
    return path


pytest_plugins = [
    "tests.tflite_models",  # its `tiny_tflite` fixture, for every test module that asks for it
    "tests.worktree_guard",  # the run fails when the tests changed the work tree
]

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
)


def pytest_configure(config: pytest.Config) -> None:
    """Start dash_duo's servers on a port range of this run's own (dash.testing counts up from 58050 in
    every process), so that two test runs on one machine, e.g. two checkouts, never share a port."""
    from dash.testing.application_runners import BaseDashRunner

    BaseDashRunner._next_port = 20000 + 40 * (os.getpid() % 1000)


def pytest_setup_options():
    """dash[testing] hook: drive Debian's headless Chromium with flags that work offline as root."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return options


@pytest.fixture(scope="session")
def demo_catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small deterministic Kaggle-layout catalogue made by the project's own code."""
    from recommender.demo import write_demo_catalog

    out = tmp_path_factory.mktemp("demo-catalog")
    write_demo_catalog(out, n=60, seed=0)
    return out


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory: pytest.TempPathFactory, demo_catalog_dir: Path) -> Path:
    """An index of the demo catalogue with a fast random-weights backbone (ranking not meaningful)."""
    from recommender.backbones import load_extractor
    from recommender.build import build_index
    from recommender.catalog import load_catalog
    from recommender.model_spec import ModelSpec

    out = tmp_path_factory.mktemp("demo-index")
    build_index(load_catalog(demo_catalog_dir), out, load_extractor(ModelSpec.parse("mobilenet_v2", "none")),
                progress=False)
    return out
