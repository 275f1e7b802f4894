"""A page of the app driven through Dash's own protocol, as its renderer in a browser drives it.

The renderer loads `/_dash-layout` and `/_dash-dependencies`, keeps the component tree, and when a
property changes (a click, a file, a dropdown, the URL) posts each server callback that takes it as
input to `/_dash-update-component` with the current values of the callback's inputs and state; the
answer sets properties, which may trigger further callbacks. `DashPage` does the same with plain
HTTP, following the renderer's rules (checked against Chromium's requests on the search page):
  * the callbacks a change starts are sent together (up to a browser's 6 connections), and their
    answers start the next ones;
  * a `dcc.Location` reports the URL when it appears (pathname, search, hash, href): a change, so
    the callbacks taking them run even with `prevent_initial_call`; the URL is `open()`'s, fragment
    included, and a callback writing the hash moves it, as `history.pushState` does;
  * components an answer inserts start callbacks: those with an output among them make their
    initial call (unless `prevent_initial_call`); those with an input among them and an output
    elsewhere run whatever their `prevent_initial_call`, naming those inputs as changed;
  * a callback never runs again in a chain it started (writing its own input does not loop), and
    one triggered twice in a step runs once;
  * components an answer replaces leave the page: pattern-matching ALL inputs list only the
    components present, as the browser's do;
  * a property never set is sent without a value.
Clientside callbacks do not run here; a caller sets what they would set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["DashPage", "CallbackError", "component_key", "walk_components"]

Key = str  # a component id as Dash writes it in prop ids: the string, or its dict as sorted compact JSON
Owner = tuple[Key, str] | None  # the property whose value holds a component (None: the page's own layout)
MAX_CHAIN = 8  # callbacks triggering callbacks: deeper than this is a loop
MAX_CONNECTIONS = 6  # requests a browser sends to one host at once (HTTP/1.1)
URL_PROPS = ("pathname", "search", "hash", "href")


class CallbackError(Exception):
    """The server answered a callback with an error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:200]}")
        self.status = status


def component_key(component_id: Any) -> Key:
    return component_id if isinstance(component_id, str) else json.dumps(component_id, sort_keys=True,
                                                                         separators=(",", ":"))


def walk_components(value: Any) -> Iterator[dict]:
    """Every component (a dict with "type", "namespace", "props") in a layout or property value, in document order."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "props" in item and "type" in item:
                yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _parse_output(text: str) -> list[tuple[Any, str]]:
    """A callback's `output` key as (id, property) pairs: "a.b", or "..a.b...c.d.." for several."""
    parts = text[2:-2].split("...") if text.startswith("..") else [text]
    pairs = []
    for part in parts:
        if part.startswith("{"):
            end = part.rindex("}") + 1
            pairs.append((json.loads(part[:end]), part[end + 1 :]))
        else:
            component, _, prop = part.rpartition(".")
            pairs.append((component, prop.partition("@")[0]))  # "a.b@hash": an output allowed twice
    return pairs


def _wildcard(value: Any) -> str | None:
    return value[0] if isinstance(value, list) and len(value) == 1 and value[0] in ("ALL", "MATCH", "ALLSMALLER") \
        else None


def _multi(pattern: Any) -> bool:
    """Whether a dependency takes every component matching it (ALL): its value is a list."""
    return isinstance(pattern, dict) and any(_wildcard(v) in ("ALL", "ALLSMALLER") for v in pattern.values())


def _pattern(dep_id: str) -> Any:
    return json.loads(dep_id) if dep_id.startswith("{") else dep_id


def _fits(component: Any, pattern: Any) -> bool:
    """Whether a component id is the dependency id `pattern`, or matches it when it is a pattern."""
    if isinstance(pattern, str) or not isinstance(component, dict):
        return component == pattern
    return component.keys() == pattern.keys() and all(_wildcard(v) or component[k] == v for k, v in pattern.items())


def _match_of(component: dict, pattern: dict) -> dict:
    return {k: component[k] for k, v in pattern.items() if _wildcard(v) == "MATCH"}


@dataclass
class Exchange:
    """One callback request and its answer time."""

    output: str
    status: int
    seconds: float


@dataclass
class Pending:
    """A callback the renderer has queued: for which MATCH values, what changed, which callbacks led to it."""

    callback: dict
    match: dict | None
    changed: list[str]
    predecessors: frozenset[str]

    @property
    def key(self) -> str:
        return self.callback["output"] + json.dumps(self.match, sort_keys=True)


@dataclass
class DashPage:
    """One browser tab on the app at `base`, sharing `http` (cookies) with the rest of a shopper's visit."""

    base: str
    http: requests.Session
    timeout_s: float = 60.0
    components: dict[Key, dict[str, Any]] = field(default_factory=dict)
    ids: dict[Key, Any] = field(default_factory=dict)
    owners: dict[Key, Owner] = field(default_factory=dict)
    types: dict[Key, tuple[str, str]] = field(default_factory=dict)  # (type, namespace) of each component
    callbacks: list[dict] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    url: dict[str, str] = field(default_factory=dict)
    set_at: dict[tuple[Key, str], float] = field(default_factory=dict)  # when an answer last set each property

    # ------------------------------------------------------------ opening the page

    def open(self, path: str = "/") -> list[dict]:
        """Load the page at `path` (its fragment too), its layout and callbacks, and run what a browser runs."""
        parts = urlsplit(path)
        self.url = {"pathname": parts.path or "/", "search": f"?{parts.query}" if parts.query else "",
                    "hash": f"#{parts.fragment}" if parts.fragment else "", "href": f"{self.base}{path}"}
        page = self.http.get(f"{self.base}{path.partition('#')[0]}", headers={"Accept": "text/html"},
                             timeout=self.timeout_s)
        page.raise_for_status()
        layout = self._get_json("/_dash-layout")
        self.callbacks = [c for c in self._get_json("/_dash-dependencies") if not c.get("clientside_function")]
        self.components.clear()
        self.ids.clear()
        self.owners.clear()
        self.types.clear()
        added = self._insert(layout, None)
        return self._run(self._inserted(added, frozenset(), outputs_only=True))

    def _get_json(self, path: str) -> Any:
        response = self.http.get(f"{self.base}{path}", timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()

    # ------------------------------------------------------------ the component tree

    def _insert(self, value: Any, owner: Owner) -> list[Key]:
        """Remember every component in `value` (the layout or a property an answer set); their keys, in order."""
        added = []
        for component in walk_components(value):
            props = component["props"]
            if "id" in props:
                key = component_key(props["id"])
                self.ids[key] = props["id"]
                self.components[key] = dict(props)
                self.types[key] = (component["type"], component.get("namespace", ""))
                self.owners[key] = owner
                added.append(key)
        return added

    def _remove(self, owner: tuple[Key, str]) -> None:
        """The components held by a property that is being replaced leave the page, with theirs."""
        gone = [key for key, held_by in self.owners.items() if held_by == owner]
        while gone:
            key = gone.pop()
            for table in (self.components, self.ids, self.owners, self.types):
                table.pop(key, None)
            gone += [k for k, held_by in self.owners.items() if held_by is not None and held_by[0] == key]

    def value(self, component_id: Any, prop: str) -> Any:
        return self.components.get(component_key(component_id), {}).get(prop)

    def find(self, type_: str) -> list[dict]:
        """The pattern-matching ids of one type (e.g. every product card's "more" button) on the page."""
        return [i for i in self.ids.values() if isinstance(i, dict) and i.get("type") == type_]

    def _matching(self, pattern: Any) -> list[Any]:
        if isinstance(pattern, str):
            return [pattern] if pattern in self.components else []
        return [i for i in self.ids.values() if _fits(i, pattern)]

    def _resolve(self, pattern: Any, match: dict | None) -> Any:
        """A dependency's id with MATCH filled in from the triggering component."""
        if isinstance(pattern, str) or match is None:
            return pattern
        return {k: (match[k] if _wildcard(v) == "MATCH" else v) for k, v in pattern.items()}

    def _prop(self, component_id: Any, prop: str) -> dict:
        """One property as the renderer sends it: without "value" when it was never set."""
        props = self.components.get(component_key(component_id), {})
        return {"id": component_id, "property": prop, **({"value": props[prop]} if prop in props else {})}

    def _props(self, deps: list[dict], match: dict | None) -> list[Any]:
        out = []
        for dep in deps:
            pattern = _pattern(dep["id"])
            if _multi(pattern):
                out.append([self._prop(i, dep["property"]) for i in self._matching(pattern)])
            else:
                out.append(self._prop(self._resolve(pattern, match), dep["property"]))
        return out

    def _outputs(self, callback: dict, match: dict | None) -> list[Any]:
        outputs: list[Any] = []
        for pattern, prop in _parse_output(callback["output"]):
            if _multi(pattern):
                outputs.append([{"id": i, "property": prop} for i in self._matching(pattern)])
            else:
                outputs.append({"id": self._resolve(pattern, match), "property": prop})
        return outputs

    # ------------------------------------------------------------ which callbacks run

    def _depends_on(self, callback: dict, key: Key, prop: str) -> dict | None:
        """The MATCH values (or {}) when `callback` takes (key, prop) as an input, else None."""
        component = self.ids.get(key, key)
        for dep in callback["inputs"]:
            pattern = _pattern(dep["id"])
            if dep["property"] == prop and _fits(component, pattern):
                return _match_of(component, pattern) if isinstance(pattern, dict) else {}
        return None

    def _observers(self, key: Key, prop: str, predecessors: frozenset[str]) -> list[Pending]:
        """The callbacks a change of (key, prop) starts (those already in the chain that made it are dropped later)."""
        pending = []
        for callback in self.callbacks:
            match = self._depends_on(callback, key, prop)
            if match is not None:
                pending.append(Pending(callback, match or None, [f"{key}.{prop}"], predecessors))
        return pending

    def _inside(self, callback: dict, match: dict | None, added: set[Key]) -> bool:
        """Whether every output of `callback` is among the `added` components."""
        for output in self._outputs(callback, match):
            ids = [o["id"] for o in output] if isinstance(output, list) else [output["id"]]
            if not ids or any(component_key(i) not in added for i in ids):
                return False
        return True

    def _inserted(self, added: list[Key], predecessors: frozenset[str], *, outputs_only: bool = False) -> list[Pending]:
        """The callbacks that components appearing on the page start (see the module's docstring)."""
        pending: list[Pending] = []
        new = set(added)
        for callback in self.callbacks:
            if not callback.get("prevent_initial_call"):
                for pattern, _ in _parse_output(callback["output"]):
                    hits = [self.ids[k] for k in added if _fits(self.ids[k], pattern)]
                    matches = {json.dumps(_match_of(h, pattern), sort_keys=True): _match_of(h, pattern)
                               for h in hits if isinstance(h, dict)} if isinstance(pattern, dict) else {}
                    if hits:
                        pending += [Pending(callback, m or None, [], predecessors) for m in matches.values() or [{}]]
            if outputs_only:
                continue
            changed: dict[str, tuple[dict, list[str]]] = {}
            for key in added:
                for dep in callback["inputs"]:
                    pattern = _pattern(dep["id"])
                    if _fits(self.ids[key], pattern):
                        match = _match_of(self.ids[key], pattern) if isinstance(pattern, dict) else {}
                        changed.setdefault(json.dumps(match, sort_keys=True), (match, []))[1].append(
                            f"{key}.{dep['property']}")
            for match, props in changed.values():
                if not self._inside(callback, match or None, new):
                    pending.append(Pending(callback, match or None, props, predecessors))
        for key in added:  # a dcc.Location appearing reports the URL
            component = self.components[key]
            if self._is_location(key):
                for prop in URL_PROPS:
                    if component.get(prop) is None:
                        component[prop] = self.url.get(prop, "")
                        pending += self._observers(key, prop, predecessors)
        return pending

    def _ready(self, item: Pending) -> bool:
        """All single inputs and states are on the page (the renderer does not run a callback otherwise)."""
        for dep in item.callback["inputs"] + item.callback["state"]:
            pattern = _pattern(dep["id"])
            if not _multi(pattern) and component_key(self._resolve(pattern, item.match)) not in self.components:
                return False
        return True

    # ------------------------------------------------------------ running them

    def call(self, callback: dict, changed: list[str], match: dict | None = None) -> dict:
        """Post one callback with the page's current values; return its answer's properties (not applied)."""
        outputs = self._outputs(callback, match)
        body: dict[str, Any] = {
            "output": callback["output"],
            "outputs": outputs if callback["output"].startswith("..") else outputs[0],
            "inputs": self._props(callback["inputs"], match),
            "changedPropIds": changed,
        }
        if callback["state"]:
            body["state"] = self._props(callback["state"], match)
        start = time.perf_counter()
        response = self.http.post(f"{self.base}/_dash-update-component", data=json.dumps(body), timeout=self.timeout_s,
                                  headers={"Content-Type": "application/json"})  # NaN too, as a tampered page may
        self.exchanges.append(Exchange(callback["output"], response.status_code, time.perf_counter() - start))
        if response.status_code == 204:  # PreventUpdate / no update
            return {}
        if response.status_code != 200:
            raise CallbackError(response.status_code, response.text)
        return response.json().get("response", {})

    def _apply(self, answer: dict, predecessors: frozenset[str]) -> list[Pending]:
        """Set the properties of an answer; the callbacks that this starts."""
        pending: list[Pending] = []
        for key, props in answer.items():
            if key not in self.components:  # the component left the page meanwhile
                continue
            for prop, value in props.items():
                self._remove((key, prop))
                self.components[key][prop] = value
                self.set_at[(key, prop)] = time.perf_counter()
                if self._is_location(key) and prop in URL_PROPS:
                    self.url[prop] = value  # history.pushState: the address bar follows
                pending += self._observers(key, prop, predecessors)
                pending += self._inserted(self._insert(value, (key, prop)), predecessors)
        return pending

    def _run(self, pending: list[Pending]) -> list[dict]:
        """Run queued callbacks step by step, those of a step at once, their answers queueing the next step's;
        every answer, in order."""
        answers = []
        for _ in range(MAX_CHAIN):
            step: dict[str, Pending] = {}
            for item in pending:  # one callback triggered twice in a step runs once, with both changes
                if item.callback["output"] in item.predecessors:
                    continue
                if item.key in step:
                    step[item.key].changed += [c for c in item.changed if c not in step[item.key].changed]
                else:
                    step[item.key] = Pending(item.callback, item.match, list(item.changed), item.predecessors)
            ready = [item for item in step.values() if self._ready(item)]
            if not ready:
                break
            with ThreadPoolExecutor(min(MAX_CONNECTIONS, len(ready))) as pool:  # sent together, as the renderer does
                step_answers = list(pool.map(lambda item: self.call(item.callback, item.changed, item.match), ready))
            pending = []
            for item, answer in zip(ready, step_answers):
                answers.append(answer)
                pending += self._apply(answer, item.predecessors | {item.callback["output"]})
        return answers

    def set(self, component_id: Any, prop: str, value: Any) -> list[dict]:
        """A user's change (or a clientside callback's): set it, then run the callbacks it triggers, in turn."""
        return self.set_many({(component_key(component_id), prop): value})

    def set_many(self, values: dict[tuple[Key, str], Any]) -> list[dict]:
        """Several changes at once (one callback taking two of them runs once). Only components on the page
        can change: anything else is a KeyError, as a test of a component that is gone must notice."""
        pending = []
        for (key, prop), value in values.items():
            if key not in self.components:
                raise KeyError(f"no component {key} on the page")
            self.components[key][prop] = value
            if self._is_location(key) and prop in URL_PROPS:
                self.url[prop] = value
            pending += self._observers(key, prop, frozenset())
        return self._run(pending)

    def go_to(self, fragment: str) -> list[dict]:
        """The address bar's fragment changes (Back, Forward, a link within the page): each dcc.Location
        whose hash differs reports it."""
        locations = [k for k in self.components if self._is_location(k) and self.components[k].get("hash") != fragment]
        return self.set_many({(key, "hash"): fragment for key in locations})

    def _is_location(self, key: Key) -> bool:
        return self.types.get(key) == ("Location", "dash_core_components")
