"""Age (Adults/Kids) where a catalogue labels it, as the demo does: its role, and the page's filter and counts.

The ranking and the tag of an adult query are in test_ranking.py; the Kaggle layout has no age role (its
gender values Boys and Girls carry age, and the gender filter already offers them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.build import build_index
from recommender.catalog import Catalog, Product
from recommender.engine import Recommender
from recommender.index import Index
from recommender.roles import Roles
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.ui.query import facet_counts, find
from recommender.ui.services import get_services
from recommender.ui.state import Search
from tests.index_fakes import FakeExtractor, write_image
from tests.test_feedback import walk

AGES = ("Adults", "Kids", "Adults", "Kids", "Kids")


@pytest.fixture(scope="module")
def age_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five products laid out like the demo catalogue: category and age, no colour or gender."""
    root = tmp_path_factory.mktemp("ages")
    products = [Product(f"p{i}", write_image(root / "images" / f"{i}.png", seed=i),
                        {"category": "Pants" if i < 3 else "Shoes", "age": age, "name": f"Thing {i}"})
                for i, age in enumerate(AGES)]
    build_index(Catalog(root=root, layout="csv", products=products), root / "index", FakeExtractor(), progress=False)
    return root / "index"


@pytest.fixture
def app(age_index: Path, tmp_path: Path):
    settings = Settings.from_env(index=age_index, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    app = create_app(settings, engine=Recommender(Index.load(age_index), FakeExtractor()))
    with app.server.test_request_context():
        yield app


def test_age_is_a_role_where_the_catalogue_labels_it() -> None:
    assert Roles.of(["category", "age", "name"]).age == "age"
    assert Roles.of(["gender", "articleType", "baseColour"]).age is None  # Kaggle: Boys/Girls stay gender values
    assert Roles.of(["category", "age"]).label("age") == "Age"


def test_the_page_filters_and_counts_by_age(app) -> None:
    services = get_services()
    assert dict(services.engine.index.roles.filters())["age"] == "age"
    kids = Search.from_fragment("#age=Kids")
    assert kids.filters == {"age": ("Kids",)} and "age=Kids" in kids.fragment()
    assert {product.attributes["age"] for product in find(services, kids).products} == {"Kids"}
    assert len(find(services, kids).products) == 3
    counts = facet_counts(services, Search(filters={"age": ("Kids",), "category": ("Pants",)}))
    assert counts["age"] == {"Adults": 2, "Kids": 1}  # with Pants chosen: its own filter does not count
    assert counts["category"] == {"Pants": 1, "Shoes": 2}


def test_the_page_draws_the_age_filter_and_hides_the_missing_gender(app) -> None:
    from recommender.ui.search.layout import search_layout

    dropdowns = {f"filter-{role}" for role in ("gender", "colour", "category", "age")}
    fields = [c for c in walk(search_layout(get_services())) if getattr(c, "className", None) == "filter-field"]
    hidden = {d.id: f.hidden for f in fields for d in walk(f) if getattr(d, "id", None) in dropdowns}
    assert hidden == {"filter-gender": True, "filter-colour": False, "filter-category": False, "filter-age": False}

