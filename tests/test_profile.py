""""For you" from a shopper's likes: one group per kind liked, each suggestion naming the like it follows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.build import build_index
from recommender.catalog import Catalog, Product
from recommender.engine import Recommender
from recommender.feedback.search_log import Popular
from recommender.index import Index
from recommender.profile import MAX_INTERESTS, for_you, interests
from recommender.trends import start_from
from tests.index_fakes import FakeExtractor

KINDS = {"Dresses": (200, 30, 40), "Shirts": (30, 60, 200), "Sneakers": (240, 240, 240), "Bags": (20, 20, 20),
         "Hats": (40, 180, 60), "Belts": (150, 100, 30)}
PER_KIND = 10


def _picture(path: Path, colour: tuple[int, int, int], rng: np.random.Generator) -> Path:
    """A picture of its kind's colour, with noise and a stripe of its own: kinds cluster, products differ."""
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (20, 16, 3)), 0, 255).astype(np.uint8)
    pixels[rng.integers(0, 16):][:4] = rng.integers(0, 256, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def kinds_engine(root: Path, extractor: FakeExtractor) -> Recommender:
    """PER_KIND products of each of KINDS, indexed in `root` by `extractor`."""
    rng = np.random.default_rng(0)
    products = [Product(f"{kind[:2].lower()}{i}", _picture(root / f"{kind}{i}.png", colour, rng),
                        {"articleType": kind, "productDisplayName": f"{kind} {i}"})
                for kind, colour in KINDS.items() for i in range(PER_KIND)]
    build_index(Catalog(root=root, layout="csv", products=products), root / "index", extractor, progress=False)
    return Recommender(Index.load(root / "index"), extractor)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    return kinds_engine(tmp_path_factory.mktemp("kinds"), FakeExtractor())


def test_five_likes_of_two_kinds_give_mostly_those_kinds_both_present(engine: Recommender) -> None:
    rng = np.random.default_rng(1)
    shares = []
    for _ in range(20):  # twenty simulated shoppers, each liking 3 of one kind and 2 of another
        first, second = rng.choice(list(KINDS), 2, replace=False)
        liked = [f"{first[:2].lower()}{i}" for i in rng.choice(PER_KIND, 3, replace=False)] + \
                [f"{second[:2].lower()}{i}" for i in rng.choice(PER_KIND, 2, replace=False)]
        groups = for_you(engine, liked)
        shown = [s.product for g in groups for s in g.suggestions]
        kinds = [p.attributes["articleType"] for p in shown]
        assert {first, second} <= set(kinds), (liked, kinds)  # both interests are there
        assert not set(liked) & {p.id for p in shown}  # never a product already liked
        assert len({p.id for p in shown}) == len(shown)  # never twice on the page
        for group in groups:
            assert all(s.because in group.liked for s in group.suggestions)  # "because you liked X" is a like of it
        shares.append(sum(k in (first, second) for k in kinds) / len(kinds))
    assert min(shares) >= 0.8, shares


def test_a_product_the_shopper_gave_a_thumbs_down_is_never_suggested(engine: Recommender) -> None:
    """Newcomer's run: "For you" showed trainers the shopper had voted down, "because you liked" other shoes."""
    liked = ["dr0", "dr1", "dr2"]
    shown = [s.product.id for g in for_you(engine, liked) for s in g.suggestions]
    disliked = shown[:2]  # the nearest suggestions, voted down
    again = [s.product.id for g in for_you(engine, liked, disliked_ids=disliked) for s in g.suggestions]
    assert again and not set(disliked) & set(again)
    assert set(shown) - set(disliked) <= set(again)  # the rest stay


def test_interests_are_kinds_most_liked_first_and_bounded(engine: Recommender) -> None:
    liked = ["sh0", "dr0", "dr1", "ba0", "hat-gone", "ha0", "be0", "sn0"]  # latest first; one left the catalogue
    groups = interests(engine, liked)
    assert [g.label for g in groups] == ["Dresses", "Shirts", "Bags", "Hats"][:MAX_INTERESTS]
    assert [p.id for p in groups[0].liked] == ["dr0", "dr1"]
    assert for_you(engine, []) == [] and for_you(engine, ["gone"]) == []


def test_start_from_popular_products_then_one_of_each_kind(engine: Recommender) -> None:
    popular = [Popular("gone", 5, 0), Popular("dr3", 2, 1), Popular("sh1", 0, 4)]  # one left the catalogue
    points = start_from(engine.index, popular, 5)
    assert [(p.id, why) for p, why in points[:2]] == [("dr3", "2 likes"), ("sh1", "Often viewed")]
    kinds = [p.attributes["articleType"] for p, _ in points]
    assert len(points) == 5 and len(set(kinds)) == 5  # filled with kinds not yet there, one each
    assert [why for _, why in points[2:]] == kinds[2:]
    assert [p.id for p, _ in start_from(engine.index, [], 3)] == ["ba0", "be0", "dr0"]  # no votes: a sample of kinds
