"""A shopper's search, as the page's URL holds it: what is searched, how it is narrowed, the trail.

The URL's fragment is the whole state (`#s=upload:<sha256>&s=item:15970&colour=Black&n=20`), so
Back and Forward walk the trail, a reload restores the page and a link can be shared. It is read
with `Search.from_fragment`, which accepts anything a browser sends and keeps only what is
well-formed (a hand-edited or forged link gives a smaller search, never an error), and written with
`Search.fragment`. Every shopper action is a pure method returning the next search.

A step of the trail is a photo kept on the server (`upload`, its SHA-256), a catalogue product
(`item`, its id), or a refinement by the shopper's votes (`liked`: the products liked and disliked
in the step before it). An upload or item step may be narrowed to a region of its picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, quote, unquote, urlencode

from recommender.regions import Box
from recommender.roles import FILTER_ROLES
from recommender.text_search import MAX_QUERY_CHARS

__all__ = ["Step", "Search", "RESULTS", "MAX_RESULTS", "MAX_TRAIL", "MAX_VOTED"]

RESULTS = 10  # products shown per query, and added by "Show more"
MAX_RESULTS = 100
MAX_TRAIL = 12  # queries kept in the trail; older ones drop off the front
MAX_VOTED = 40  # products a refinement step may name
MAX_VALUES = 50  # values of one filter
MAX_TEXT = 200  # longest id or filter value read from a URL
MAX_FIELDS = 600  # fields read from a URL: a trail, its refinements and every filter value fit
STEP_KINDS = ("upload", "item", "liked")


@dataclass(frozen=True)
class Step:
    kind: str  # "upload" | "item" | "liked"
    ref: str  # the photo's SHA-256, a product id, or for "liked" the voted ids (see `liked_step`)
    region: Box | None = None

    def token(self) -> str:
        """The step as one URL value: `kind:ref`, then `@left,top,right,bottom` for a region."""
        return f"{self.kind}:{self.ref}" + (f"@{self.region.key()}" if self.region else "")

    @classmethod
    def parse(cls, token: object) -> "Step | None":
        if not isinstance(token, str):
            return None
        kind, sep, rest = token.partition(":")
        if not sep or kind not in STEP_KINDS:
            return None
        region = None
        head, at, tail = rest.rpartition("@")
        if at and kind != "liked" and (box := Box.parse(tail)) is not None:
            rest, region = head, box
        if not rest or len(rest) > MAX_TEXT * (MAX_VOTED if kind == "liked" else 1):
            return None
        if kind == "liked" and voted_ids(rest) is None:
            return None
        return cls(kind, rest, region)

    def voted(self) -> tuple[list[str], list[str]]:
        """A "liked" step's (liked ids, disliked ids)."""
        return voted_ids(self.ref) or ([], [])


def liked_step(liked: Sequence[str], disliked: Sequence[str]) -> Step:
    """The refinement step of these votes: `+id,-id,...` with each id quoted (ids may hold anything)."""
    parts = [f"+{quote(i, safe='')}" for i in liked] + [f"-{quote(i, safe='')}" for i in disliked]
    return Step("liked", ",".join(parts[:MAX_VOTED]))


def _count(text: str) -> int:
    """How many results a URL asks for: ASCII digits only ("²" is a digit to Python, not a number), and
    a number longer than any page (which `int` would refuse past 4,300 digits) asks for the most."""
    if not (text.isascii() and text.isdigit()):
        return RESULTS
    return int(text) if len(text) <= 4 else MAX_RESULTS


def voted_ids(ref: str) -> tuple[list[str], list[str]] | None:
    liked: list[str] = []
    disliked: list[str] = []
    for part in ref.split(","):
        if len(part) < 2 or part[0] not in "+-":
            return None
        (liked if part[0] == "+" else disliked).append(unquote(part[1:]))
    return (liked, disliked) if liked and len(liked) + len(disliked) <= MAX_VOTED else None


@dataclass(frozen=True)
class Search:
    trail: tuple[Step, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # role -> chosen values (OR)
    text: str = ""  # words to find in product names
    shown: int = RESULTS
    kept: bool = False  # the filters were carried over from the previous photo
    kept_words: bool = False  # the words were carried over from the previous photo
    auto: tuple[str, ...] = ()  # roles whose filter the page applied by itself (undoable)

    # ------------------------------------------------------------ the URL

    def fragment(self) -> str:
        """`#...` for the browser's address bar; "" for an empty search (the start page)."""
        pairs: list[tuple[str, str]] = [("s", step.token()) for step in self.trail]
        pairs += [(role, value) for role in FILTER_ROLES for value in self.filters.get(role, ())]
        if self.text:
            pairs.append(("text", self.text))
        if self.shown != RESULTS:
            pairs.append(("n", str(self.shown)))
        if self.kept:
            pairs.append(("kept", "1"))
        if self.kept_words:
            pairs.append(("keptwords", "1"))
        pairs += [("auto", role) for role in self.auto]
        return "#" + urlencode(pairs, safe=":@,", quote_via=quote) if pairs else ""

    @classmethod
    def from_fragment(cls, fragment: object) -> "Search":
        """The search a URL fragment describes; whatever is malformed in it is left out."""
        if not isinstance(fragment, str) or len(fragment) > 64_000:
            return cls()
        fields = fragment.removeprefix("#").split("&")[:MAX_FIELDS]  # a longer URL keeps its first ones
        params = parse_qs("&".join(fields), keep_blank_values=False)
        trail = tuple(step for step in map(Step.parse, params.get("s", [])) if step)[-MAX_TRAIL:]
        while trail and trail[0].kind == "liked":  # a refinement needs the step it refines
            trail = trail[1:]
        filters = {}
        for role in FILTER_ROLES:
            values = tuple(dict.fromkeys(v for v in params.get(role, []) if 0 < len(v) <= MAX_TEXT))[:MAX_VALUES]
            if values:
                filters[role] = values
        shown = _count(params.get("n", [""])[-1])
        text = " ".join(params.get("text", [""])[-1].split())[:MAX_QUERY_CHARS]
        return cls(
            trail=trail,
            filters=filters,
            text=text,
            shown=min(max(RESULTS, shown - shown % RESULTS), MAX_RESULTS),
            kept=params.get("kept", [""])[-1] == "1" and bool(filters),
            kept_words=params.get("keptwords", [""])[-1] == "1" and bool(text),
            auto=tuple(r for r in dict.fromkeys(params.get("auto", [])) if r in filters),
        )

    # ------------------------------------------------------------ what it is

    @property
    def current(self) -> Step | None:
        return self.trail[-1] if self.trail else None

    def vote_key(self) -> tuple[str, str] | None:
        """(query kind, query ref) under which votes on the current results are kept.

        A plain photo or product is its own reference, as before regions and refinements existed;
        a region or a refinement is a different query, named by its trail.
        """
        step = self.current
        if step is None:
            return None
        root = self.trail[0].kind if step.kind == "liked" else step.kind
        if step.kind != "liked" and step.region is None:
            return root, step.ref
        chain = "|".join(s.token() for s in self.trail)
        return root, chain if len(chain) <= 480 else f"{root}|…{chain[-470:]}"

    # ------------------------------------------------------------ what the shopper does

    def _narrowed(self, filters: Mapping[str, Sequence[str]], **changes: object) -> "Search":
        """New filters, chosen by the shopper: the carried-over row and automatic marks go where they change."""
        clean = {role: tuple(values) for role, values in filters.items() if role in FILTER_ROLES and values}
        auto = tuple(r for r in self.auto if clean.get(r) == self.filters.get(r))
        return replace(self, filters=clean, kept=False, auto=auto, shown=RESULTS, **changes)

    def with_filters(self, filters: Mapping[str, Sequence[str]]) -> "Search":
        return self._narrowed(filters)

    def toggled(self, role: str, value: str) -> "Search":
        """A tag chip clicked: that value added to its filter, or removed when already chosen."""
        values = list(self.filters.get(role, ()))
        values = [v for v in values if v != value] if value in values else values + [value]
        return self._narrowed({**self.filters, role: tuple(values)})

    def without(self, role: str, value: str | None = None) -> "Search":
        """One value (or the whole filter of a role) removed; other carried-over filters stay marked."""
        values = () if value is None else tuple(v for v in self.filters.get(role, ()) if v != value)
        filters = {r: v for r, v in {**self.filters, role: values}.items() if v}
        return replace(self, filters=filters, kept=self.kept and bool(filters), shown=RESULTS,
                       auto=tuple(r for r in self.auto if filters.get(r) == self.filters.get(r)))

    def own(self) -> "Search":
        """The search with the shopper's own filters only: those the page applied by itself dropped (they came from
        the tags of the garment searched, so another garment of the look is not of their kind)."""
        filters = {role: values for role, values in self.filters.items() if role not in self.auto}
        return replace(self, filters=filters, auto=(), kept=self.kept and bool(filters))

    def without_words(self) -> "Search":
        """The words removed (a kept row's words chip); the carried-over filters stay marked."""
        return replace(self, text="", kept_words=False, shown=RESULTS)

    def cleared(self) -> "Search":
        """"Clear all": every filter and the text."""
        return replace(self, filters={}, text="", kept=False, kept_words=False, auto=(), shown=RESULTS)

    def with_text(self, text: object) -> "Search":
        words = " ".join(str(text or "").split())[:MAX_QUERY_CHARS]
        return replace(self, text=words, shown=RESULTS, kept_words=False)  # typed: the shopper's own

    def new_photo(self, step: Step, auto: Mapping[str, str] = {}) -> "Search":
        """A new photo starts a new trail; the shopper's filters and words stay, marked as carried over, and a
        confident tag may apply itself to a role the shopper left free. A filter the page applied by itself
        (the last photo's "Skirt") goes with its photo: kept, it would hide the new photo's own kind."""
        chosen = {role: values for role, values in self.filters.items() if role not in self.auto}
        filters, applied = _applied(chosen, auto)
        return Search(trail=(step,), filters=filters, text=self.text, kept=bool(chosen),
                      kept_words=bool(self.text), auto=applied)

    def without_kept(self) -> "Search":
        """The filters carried over from the last photo set aside; the page's automatic ones and the words stay."""
        return replace(self, filters={role: values for role, values in self.filters.items() if role in self.auto},
                       kept=False)

    def followed(self, step: Step) -> "Search":
        """"More like this" or a refinement: the step appended to the trail."""
        if self.current == step:
            return self
        return replace(self, trail=(self.trail + (step,))[-MAX_TRAIL:], shown=RESULTS)

    def back_to(self, position: int) -> "Search":
        if not 0 <= position < len(self.trail):
            return self
        return replace(self, trail=self.trail[: position + 1], shown=RESULTS)

    def with_region(self, box: Box | None, auto: Mapping[str, str] | None = None) -> "Search":
        """The current photo or product searched by one part of it (None: the whole picture).

        A filter the page applied by itself came from the tags of the picture searched before, so with
        `auto` (the confident tags of the new part) it follows the part: dropped, then applied again
        where the part's tags are sure. Else a box around a skirt would keep the whole photo's
        "Tshirts" filter under tags that say "Skirts". The shopper's own filters stay."""
        step = self.current
        if step is None or step.kind == "liked" or step.region == box:
            return self
        filters, applied = dict(self.filters), self.auto
        if auto is not None:
            filters, applied = _applied({r: v for r, v in self.filters.items() if r not in self.auto}, auto)
        return replace(self, trail=self.trail[:-1] + (replace(step, region=box),), filters=filters, auto=applied,
                       shown=RESULTS)

    def more(self) -> "Search":
        """"Show more": the next ten, up to MAX_RESULTS."""
        return replace(self, shown=min(self.shown + RESULTS, MAX_RESULTS))


def _applied(filters: Mapping[str, tuple[str, ...]], auto: Mapping[str, str]) -> tuple[dict[str, tuple[str, ...]],
                                                                                      tuple[str, ...]]:
    """`filters` with the confident tags `auto` applied to the roles they leave free, and those roles."""
    applied = tuple(role for role in auto if role not in filters)
    return {**filters, **{role: (auto[role],) for role in applied}}, applied
