"""The search as the URL holds it: every shopper action, and what a forged or damaged URL becomes."""

from __future__ import annotations

import pytest

from recommender.regions import Box
from recommender.ui.state import MAX_RESULTS, MAX_TRAIL, Search, Step, liked_step

PHOTO = Step("upload", "a" * 64)


def test_a_search_round_trips_through_the_url() -> None:
    search = Search(trail=(PHOTO, Step("item", "dress/blue 42@x,1"), liked_step(["1", "a,b"], ["+3"]),
                           Step("item", "7", Box(0.1, 0.2, 0.6, 0.9))),
                    filters={"colour": ("Black", "Navy Blue"), "category": ("Dresses",)}, text="floral print",
                    shown=30, kept=True, auto=("category",))
    fragment = search.fragment()
    assert fragment.startswith("#s=upload:aaaa") and "@0.1,0.2,0.6,0.9" in fragment and "colour=Navy%20Blue" in fragment
    assert Search.from_fragment(fragment) == search
    assert Search().fragment() == "" and Search.from_fragment("") == Search()
    assert search.trail[2].voted() == (["1", "a,b"], ["+3"])


@pytest.mark.parametrize("fragment, expected", [
    ("#s=telepathy:1&s=item:&s=liked:1,2", Search()),  # unknown kind, empty id, a refinement of nothing
    ("#s=liked:+1&s=item:5", Search(trail=(Step("item", "5"),))),
    ("#s=item:5@2,0,1,1", Search(trail=(Step("item", "5@2,0,1,1"),))),  # not a box: part of the id
    ("#s=item:5@0.5,0.5,0.51,0.9", Search(trail=(Step("item", "5@0.5,0.5,0.51,0.9"),))),  # too thin a box
    ("#n=15&kept=1&auto=colour", Search(shown=10)),  # kept and auto need filters; n in tens
    ("#n=99999&gender=Men&gender=Men&shape=round", Search(filters={"gender": ("Men",)}, shown=MAX_RESULTS)),
    ("#text=" + "x" * 500, Search(text="x" * 100)),
    (["not", "text"], Search()),
    ("#s=item:5&n=²", Search(trail=(Step("item", "5"),))),  # a digit to str.isdigit, not to int
    ("#s=item:5&n=" + "9" * 5_000, Search(trail=(Step("item", "5"),), shown=MAX_RESULTS)),  # past int's 4,300 digits
    ("#s=item:5&" + "x=1&" * 5_000 + "colour=Black", Search(trail=(Step("item", "5"),))),  # its first 600 fields
])
def test_malformed_urls_become_smaller_searches(fragment, expected) -> None:
    assert Search.from_fragment(fragment) == expected


def test_the_trail_keeps_its_last_steps() -> None:
    search = Search()
    for i in range(MAX_TRAIL + 5):
        search = search.followed(Step("item", str(i)))
    assert len(search.trail) == MAX_TRAIL and search.current == Step("item", str(MAX_TRAIL + 4))
    assert Search.from_fragment(search.fragment()) == search
    assert search.back_to(2).trail == search.trail[:3] and search.back_to(99) == search
    assert search.followed(search.current) == search  # clicking the current product again changes nothing


def test_a_new_photo_keeps_the_filters_visibly_and_may_apply_a_confident_category() -> None:
    before = Search(trail=(Step("item", "1"),), filters={"colour": ("Black",)}, text="floral", shown=40)
    after = before.new_photo(PHOTO, {"category": "Dresses", "colour": "Red"})
    assert after.trail == (PHOTO,) and after.kept and after.shown == 10 and after.text == "floral"
    assert after.filters == {"colour": ("Black",), "category": ("Dresses",)}  # colour was the shopper's
    assert after.auto == ("category",)
    assert Search().new_photo(PHOTO).kept is False
    undone = after.without("category", "Dresses")
    assert undone.filters == {"colour": ("Black",)} and undone.auto == () and undone.kept
    assert after.without("colour").kept and not after.without("colour").without("category").kept
    assert after.kept_words and after.without("colour").without("category").kept_words  # the words, kept too
    assert not after.without_words().kept_words and after.without_words().text == "" and after.without_words().kept
    assert not after.with_text("linen").kept_words  # typed again: the shopper's own words, no longer "kept"
    words_only = Search(text="floral").new_photo(PHOTO)
    assert words_only.kept_words and not words_only.kept
    assert Search.from_fragment(words_only.fragment()) == words_only and "keptwords=1" in words_only.fragment()


def test_the_shoppers_own_filter_changes_end_the_carried_over_state() -> None:
    after = Search(filters={"colour": ("Black",)}).new_photo(PHOTO, {"category": "Dresses"})
    chosen = after.toggled("gender", "Women")
    assert chosen.filters["gender"] == ("Women",) and not chosen.kept and chosen.auto == ("category",)
    assert chosen.toggled("gender", "Women").filters.get("gender") is None
    assert after.with_filters({"category": ("Skirts",)}).auto == ()  # the shopper changed the automatic one
    cleared = after.more().cleared()
    assert cleared.filters == {} and cleared.text == "" and not cleared.kept and cleared.shown == 10


def test_a_filter_applied_automatically_follows_the_region_searched() -> None:
    """A box around a skirt on a photo whose whole was sure of "Tshirts": the filter goes with the whole."""
    after = Search(filters={"colour": ("Black",)}).new_photo(PHOTO, {"category": "Tshirts"})
    box = Box(0.0, 0.3, 1.0, 0.8)
    unsure = after.with_region(box, {})
    assert unsure.filters == {"colour": ("Black",)} and unsure.auto == () and unsure.current.region == box
    sure = after.with_region(box, {"category": "Skirts"})
    assert sure.filters == {"colour": ("Black",), "category": ("Skirts",)} and sure.auto == ("category",)
    assert sure.with_region(None, {"category": "Tshirts"}).filters == after.filters  # the whole photo again
    chosen = Search(filters={"category": ("Tshirts",)}).new_photo(PHOTO).with_region(box, {"category": "Skirts"})
    assert chosen.filters == {"category": ("Tshirts",)} and chosen.auto == ()  # the shopper's own filter stays
    assert after.with_region(box).filters == after.filters  # without the part's tags nothing is decided


def test_regions_show_more_and_the_vote_key() -> None:
    search = Search(trail=(PHOTO,))
    assert search.vote_key() == ("upload", "a" * 64)
    box = Box(0.1, 0.1, 0.5, 0.5)
    framed = search.with_region(box)
    assert framed.current.region == box and framed.with_region(None) == search
    assert framed.vote_key()[1] == f"upload:{'a' * 64}@0.1,0.1,0.5,0.5"  # another query, other votes
    refined = framed.followed(liked_step(["3"], []))
    assert refined.with_region(box) == refined and refined.vote_key()[0] == "upload"
    more = search
    for _ in range(20):
        more = more.more()
    assert more.shown == MAX_RESULTS and more.with_text("x").shown == 10


def test_a_filter_applied_automatically_goes_with_its_photo() -> None:
    """A skirt photo applied "Skirt" by itself; the next photo, a dress, must not be searched among skirts."""
    skirt = Search().new_photo(PHOTO, {"category": "Skirt"})
    assert skirt.filters == {"category": ("Skirt",)} and skirt.auto == ("category",)
    dress = skirt.new_photo(Step("upload", "b" * 64), {"category": "Dress"})
    assert dress.filters == {"category": ("Dress",)} and dress.auto == ("category",) and not dress.kept
    unsure = skirt.new_photo(Step("upload", "b" * 64))  # the next photo sure of no kind: no filter at all
    assert unsure.filters == {} and not unsure.kept
    mixed = Search(filters={"colour": ("Black",)}).new_photo(PHOTO, {"category": "Skirt"})
    after = mixed.new_photo(Step("upload", "b" * 64))
    assert after.filters == {"colour": ("Black",)} and after.kept  # the shopper's own filter is carried over


def test_own_keeps_the_shopper_s_filters_and_drops_those_the_page_applied() -> None:
    before = Search(filters={"colour": ("Black",)}, kept=True).new_photo(Step("upload", "a" * 64), {"category": "Skirts"})
    assert before.filters == {"colour": ("Black",), "category": ("Skirts",)} and before.auto == ("category",)
    own = before.own()
    assert own.filters == {"colour": ("Black",)} and own.auto == () and own.kept and own.trail == before.trail
    assert Search(filters={"category": ("Skirts",)}, auto=("category",)).own() == Search()  # nothing of its own
    followed = own.followed(Step("item", "p1"))  # a look's strip: more like another garment, no "Skirts" carried
    assert Search.from_fragment(followed.fragment()).filters == {"colour": ("Black",)}
