"""Two app servers, one PostgreSQL: shoppers search on one node and vote on either; count votes lost.

Starts two gunicorn instances on 127.0.0.1 (the README's two-node set-up: one index folder read
by both, one upload folder, one database), then `--shoppers` threads each make `--searches` item
searches through the real Dash callbacks (the search page's results, which records what was shown),
and vote on three of the results, each vote sent to a node picked at random (so half the votes land
on the node that did not show the results). At the end it compares the votes the nodes accepted
with the vote events in the database, and prints one JSON object. Loopback only, bounded, stops
its servers itself.

    python scripts/two_nodes_votes.py --index embeddings/kaggle-small-v2 \\
        --feedback-url postgresql://lookalike:lookalike@127.0.0.1:5432/lookalike_test
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def post(url: str, body: dict, timeout: float = 60.0) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def get(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def prop_id(component_id: Any) -> str:
    return json.dumps(component_id, sort_keys=True, separators=(",", ":")) if isinstance(component_id, dict) \
        else component_id


class Node:
    """One app server and the shapes of the two callbacks the shopper uses."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def wait(self, process: subprocess.Popen, seconds: float = 180.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the app server on {self.base} exited with {process.returncode}")
            try:
                self.dependencies = get(f"{self.base}/_dash-dependencies")
                return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the app server on {self.base} did not answer in {seconds:.0f} s")

    def results(self, session: str, entry: dict) -> list[dict]:
        """The results callback, as the page calls it for a new trail: returns the cards' vote states."""
        callback = next(c for c in self.dependencies if c["output"] == "results-area.children")
        values = {"trail": [entry], "session-id": session}
        body = {
            "output": callback["output"], "outputs": {"id": "results-area", "property": "children"},
            "inputs": [{"id": i["id"], "property": i["property"], "value": values.get(i["id"])}
                       for i in callback["inputs"]],
            "state": [{"id": s["id"], "property": s["property"], "value": values.get(s["id"])}
                      for s in callback["state"]],
            "changedPropIds": ["trail.data"],
        }
        response = post(f"{self.base}/_dash-update-component", body)
        return [{"id": node["props"]["id"]["id"], **node["props"]["data"]} for node in walk(response)
                if isinstance(node.get("props"), dict) and isinstance(node["props"].get("id"), dict)
                and node["props"]["id"].get("type") == "vote-state"]

    def vote(self, session: str, entry: dict, card: dict) -> str | None:
        """A click on a card's thumbs-up; returns the message shown under it (None: saved)."""
        callback = next(c for c in self.dependencies if "vote-state" in c["output"])
        item = card["id"]

        def concrete(dependency: dict) -> dict:
            component = dependency["id"]
            if component.startswith("{"):
                pattern = json.loads(component)
                return {"id": {**pattern, "id": item}, "property": dependency["property"]}
            return {"id": component, "property": dependency["property"]}

        values = {"vote-up": 1, "vote-down": None, "vote-state": {k: card[k] for k in ("vote", "rank", "distance")},
                  "trail": [entry], "session-id": session}

        def with_value(dependency: dict) -> dict:
            item_id = concrete(dependency)
            key = item_id["id"]["type"] if isinstance(item_id["id"], dict) else item_id["id"]
            return {**item_id, "value": values.get(key)}

        outputs = [concrete(o) for o in callback.get("outputs") or []] or [
            concrete({"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]})
            for part in callback["output"].strip(".").split("...")]
        body = {"output": callback["output"], "outputs": outputs,
                "inputs": [with_value(i) for i in callback["inputs"]],
                "state": [with_value(s) for s in callback["state"]],
                "changedPropIds": [f"{prop_id({'id': item, 'type': 'vote-up'})}.n_clicks"]}
        response = post(f"{self.base}/_dash-update-component", body)["response"]
        message = next((v.get("children") for k, v in response.items() if '"vote-msg"' in k), None)
        return message


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--feedback-url", required=True)
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--searches", type=int, default=10, help="item searches per shopper (3 votes each)")
    parser.add_argument("--ports", type=int, nargs=2, default=(8061, 8062))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    args = parser.parse_args()
    if not (1 <= args.shoppers <= 64 and 1 <= args.searches <= 200):
        raise SystemExit("keep it bounded: 1-64 shoppers, 1-200 searches each")

    from recommender.index_format import read_index

    ids = read_index(args.index).ids
    scratch = Path(tempfile.mkdtemp(prefix="two-nodes-"))
    env = {**os.environ, "RECOMMENDER_INDEX": str(args.index.resolve()), "RECOMMENDER_FEEDBACK_URL": args.feedback_url,
           "RECOMMENDER_UPLOAD_DIR": str(scratch / "uploads"), "RECOMMENDER_THUMBNAIL_DIR": str(scratch / "thumbs")}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    processes = [subprocess.Popen([gunicorn, "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
                                   "app:server"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(scratch / f"node-{port}.log", "w")) for port in args.ports]
    nodes = [Node(port) for port in args.ports]
    run = uuid.uuid4().hex[:8]
    tally = {"votes_sent": 0, "votes_accepted": 0, "votes_refused": 0, "errors": 0, "cross_node_votes": 0}
    lock = threading.Lock()
    try:
        for node, process in zip(nodes, processes):
            node.wait(process)

        def shopper(n: int) -> None:
            rng = random.Random(n)
            session = f"{run}-{n}"
            for _ in range(args.searches):
                entry = {"kind": "item", "ref": rng.choice(ids), "label": "x"}
                shown_on = rng.randrange(2)
                try:
                    cards = nodes[shown_on].results(session, entry)
                    for card in rng.sample(cards, min(3, len(cards))):
                        voted_on = rng.randrange(2)
                        message = nodes[voted_on].vote(session, entry, card)
                        with lock:
                            tally["votes_sent"] += 1
                            tally["cross_node_votes"] += voted_on != shown_on
                            tally["votes_accepted" if message is None else "votes_refused"] += 1
                except OSError as exc:
                    with lock:
                        tally["errors"] += 1
                    print(f"shopper {n}: {exc}", file=sys.stderr)

        started = time.perf_counter()
        threads = [threading.Thread(target=shopper, args=(n,)) for n in range(args.shoppers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    import psycopg

    with psycopg.connect(args.feedback_url) as conn:
        stored = conn.execute("SELECT count(*) FROM votes WHERE session_id LIKE %s", (f"{run}-%",)).fetchone()[0]
        standing = conn.execute("SELECT count(*) FROM latest_votes WHERE session_id LIKE %s", (f"{run}-%",)).fetchone()[0]
    report = {**tally, "votes_stored": stored, "standing_votes": standing,
              "votes_lost": tally["votes_accepted"] - stored, "seconds": round(seconds, 1),
              "votes_per_s": round(tally["votes_sent"] / seconds, 1), "shoppers": args.shoppers,
              "nodes": len(nodes), "gunicorn_workers_per_node": args.workers, "load_average": os.getloadavg()}
    print(json.dumps(report))
    return 0 if report["votes_lost"] == 0 and tally["errors"] == 0 and tally["votes_refused"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
