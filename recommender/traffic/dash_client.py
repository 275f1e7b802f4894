"""A page of the app driven through Dash's own protocol, as its renderer in a browser drives it.

The renderer loads `/_dash-layout` and `/_dash-dependencies`, keeps the component tree, and when a
property changes (a click, a file, a dropdown) posts each server callback that takes it as input to
`/_dash-update-component` with the current values of the callback's inputs and state; the answer
sets properties, which may trigger further callbacks. `DashPage` does the same with plain HTTP:
components and their properties in a dict, pattern-matching ids (ALL, MATCH) resolved against
the components present. Clientside callbacks do not run here; a caller sets what they would set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

__all__ = ["DashPage", "CallbackError", "component_key", "walk_components"]

Key = str  # a component id as Dash writes it in prop ids: the string, or its dict as sorted compact JSON
PAGES_LOCATION = "_pages_location"  # the URL component of Dash pages
MAX_CHAIN = 8  # callbacks triggering callbacks: deeper than this is a loop


class CallbackError(Exception):
    """The server answered a callback with an error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text[:200]}")
        self.status = status


def component_key(component_id: Any) -> Key:
    return component_id if isinstance(component_id, str) else json.dumps(component_id, sort_keys=True,
                                                                         separators=(",", ":"))


def walk_components(value: Any) -> Iterator[dict]:
    """Every component (a dict with "type", "namespace", "props") in a layout or property value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "props" in item and "type" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


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
            pairs.append((component, prop))
    return pairs


def _wildcard(value: Any) -> str | None:
    return value[0] if isinstance(value, list) and len(value) == 1 and value[0] in ("ALL", "MATCH", "ALLSMALLER") \
        else None


@dataclass
class Exchange:
    """One callback request and its answer time."""

    output: str
    status: int
    seconds: float


@dataclass
class DashPage:
    """One browser tab on the app at `base`, sharing `http` (cookies) with the rest of a shopper's visit."""

    base: str
    http: requests.Session
    timeout_s: float = 60.0
    components: dict[Key, dict[str, Any]] = field(default_factory=dict)
    ids: dict[Key, Any] = field(default_factory=dict)
    callbacks: list[dict] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def open(self, path: str = "/") -> None:
        """Load the page, its layout and callbacks, and run the initial callbacks, as a browser does."""
        page = self.http.get(f"{self.base}{path}", headers={"Accept": "text/html"}, timeout=self.timeout_s)
        page.raise_for_status()
        self.absorb(self._get_json("/_dash-layout"))
        self.callbacks = [c for c in self._get_json("/_dash-dependencies") if not c.get("clientside_function")]
        if PAGES_LOCATION in self.components:  # Dash pages: the location reports the URL, the router renders the page
            self.set_many({(PAGES_LOCATION, "pathname"): path, (PAGES_LOCATION, "search"): ""})
        self._initial_callbacks()

    def _get_json(self, path: str) -> Any:
        response = self.http.get(f"{self.base}{path}", timeout=self.timeout_s)
        response.raise_for_status()
        return response.json()

    def absorb(self, value: Any) -> None:
        """Remember every component in `value` (a layout or a callback's answer) with its properties."""
        for component in walk_components(value):
            props = component["props"]
            if "id" in props:
                key = component_key(props["id"])
                self.ids[key] = props["id"]
                self.components[key] = dict(props)

    def value(self, component_id: Any, prop: str) -> Any:
        return self.components.get(component_key(component_id), {}).get(prop)

    def find(self, type_: str) -> list[dict]:
        """The pattern-matching ids of one type (e.g. every product card's "more" button) on the page."""
        return [i for i in self.ids.values() if isinstance(i, dict) and i.get("type") == type_]

    def _matching(self, pattern: Any) -> list[Any]:
        if isinstance(pattern, str):
            return [pattern] if pattern in self.components else []
        return [i for i in self.ids.values() if isinstance(i, dict) and i.keys() == pattern.keys()
                and all(_wildcard(v) or i[k] == v for k, v in pattern.items())]

    def _resolve(self, pattern: Any, match: dict | None) -> Any:
        """A dependency's id with MATCH filled in from the triggering component."""
        if isinstance(pattern, str) or match is None:
            return pattern
        return {k: (match[k] if _wildcard(v) == "MATCH" else v) for k, v in pattern.items()}

    def _props(self, deps: list[dict], match: dict | None) -> list[Any]:
        out = []
        for dep in deps:
            pattern = dep["id"] if not dep["id"].startswith("{") else json.loads(dep["id"])
            if isinstance(pattern, dict) and any(_wildcard(v) == "ALL" for v in pattern.values()):
                out.append([{"id": i, "property": dep["property"], "value": self.value(i, dep["property"])}
                            for i in self._matching(pattern)])
            else:
                concrete = self._resolve(pattern, match)
                out.append({"id": concrete, "property": dep["property"],
                            "value": self.value(concrete, dep["property"])})
        return out

    def _depends_on(self, callback: dict, key: Key, prop: str) -> dict | None:
        """The MATCH values (or {}) when `callback` takes (key, prop) as an input, else None."""
        component = self.ids.get(key, key)
        for dep in callback["inputs"]:
            if dep["property"] != prop:
                continue
            if not dep["id"].startswith("{"):
                if dep["id"] == key:
                    return {}
                continue
            pattern = json.loads(dep["id"])
            if isinstance(component, dict) and component.keys() == pattern.keys() and all(
                    _wildcard(v) or component[k] == v for k, v in pattern.items()):
                return {k: component[k] for k, v in pattern.items() if _wildcard(v) == "MATCH"}
        return None

    def call(self, callback: dict, changed: list[str], match: dict | None = None) -> dict:
        """Post one callback with the page's current values; apply and return its answer's properties."""
        outputs = [{"id": self._resolve(i, match), "property": p} for i, p in _parse_output(callback["output"])]
        body: dict[str, Any] = {
            "output": callback["output"],
            "outputs": outputs if callback["output"].startswith("..") else outputs[0],
            "inputs": self._props(callback["inputs"], match),
            "changedPropIds": changed,
        }
        if callback["state"]:
            body["state"] = self._props(callback["state"], match)
        start = time.perf_counter()
        response = self.http.post(f"{self.base}/_dash-update-component", json=body, timeout=self.timeout_s)
        self.exchanges.append(Exchange(callback["output"], response.status_code, time.perf_counter() - start))
        if response.status_code == 204:  # PreventUpdate / no update
            return {}
        if response.status_code != 200:
            raise CallbackError(response.status_code, response.text)
        answer = response.json().get("response", {})
        for key, props in answer.items():
            self.components.setdefault(key, {}).update(props)
            self.absorb(props)
        return answer

    def set(self, component_id: Any, prop: str, value: Any) -> list[dict]:
        """A user's change (or a clientside callback's): set it, then run the callbacks it triggers, in turn."""
        return self.set_many({(component_key(component_id), prop): value}, ids={component_key(component_id): component_id})

    def set_many(self, values: dict[tuple[Key, str], Any], ids: dict[Key, Any] | None = None) -> list[dict]:
        """Several changes at once (one callback taking two of them runs once)."""
        for key, component_id in (ids or {}).items():
            self.ids.setdefault(key, component_id)
        for (key, prop), value in values.items():
            self.ids.setdefault(key, key)
            self.components.setdefault(key, {})[prop] = value
        return self._cascade(list(values))

    def _cascade(self, changed: list[tuple[Key, str]]) -> list[dict]:
        answers = []
        for _ in range(MAX_CHAIN):
            if not changed:
                break
            fired, next_changed = set(), []
            for key, prop in changed:
                for callback in self.callbacks:
                    match = self._depends_on(callback, key, prop)
                    if match is None or (callback["output"], key) in fired:
                        continue
                    fired.add((callback["output"], key))
                    answer = self.call(callback, [f"{key}.{prop}"], match or None)
                    answers.append(answer)
                    next_changed += [(k, p) for k, props in answer.items() for p in props]
            changed = next_changed
        return answers

    def _initial_callbacks(self) -> None:
        """Callbacks whose inputs are all on the page and that do not wait for a change, as the renderer fires them."""
        done: set[str] = set()
        for _ in range(MAX_CHAIN):
            ready = [c for c in self.callbacks if c["output"] not in done and not c.get("prevent_initial_call")
                     and all(d["id"].startswith("{") or d["id"] in self.components for d in c["inputs"])]
            if not ready:
                return
            for callback in ready:
                done.add(callback["output"])
                changed = [f"{d['id']}.{d['property']}" for d in callback["inputs"] if not d["id"].startswith("{")]
                self.call(callback, changed)
