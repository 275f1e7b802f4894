"""Load and hostile traffic against the production configuration, on this machine only (127.0.0.1).

Starts `gunicorn app:server` with `gunicorn.conf.py` on a free loopback port over INDEX (or drives a
server already running on loopback with --url), runs USERS simulated shoppers for SECONDS (page,
upload, filter, vote, more like this, more like the liked ones, Back, and the JSON API, driven as
the page's renderer drives them; see bench/traffic/shopper.py), optionally with slow clients
(bodies or headers sent a byte every 2 s) and pixel-bomb uploaders alongside, stops by itself, and prints JSON:

  requests, requests_per_s, latency_s {p50, p95, p99} (every request), upload_to_results_s (a
  shopper's upload until its results are rendered), errors and examples, actions (what the
  shoppers did that worked, by kind), votes_sent, votes_stored
  (read back from the server's feedback database), worker_rss_mib_peak (sampled every 0.25 s),
  server_log {tracebacks, server_errors (5xx), workers_killed}, and the machine's load.

    python scripts/loadtest.py --index embeddings/kaggle-small-v2 --photos ../shared/data/clothing-small/validation
    python scripts/loadtest.py --index embeddings/kaggle-small-v2 --photos ../shared/data/clothing-small/validation \
        --users 1 --seconds 60 --slow-clients 2 --bombers 4
    python scripts/loadtest.py --index embeddings/demo-index --users 1 --seconds 60 --slow-headers 50

With --nodes 2 --feedback-url postgresql://... it starts two app servers (the README's two-node set-up:
one index, one upload folder, one secret key, one PostgreSQL), each shopper on one of them, and reads
the votes back from PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.feedback import FeedbackStore  # noqa: E402
from recommender.index_files import read_index  # noqa: E402
from recommender.manifest import read_manifest  # noqa: E402
from bench.traffic.server import MIB, ProductionServer  # noqa: E402
from bench.traffic.shopper import Shopper, Tally, bomb_png, percentiles, pixel_bomber, slow_client  # noqa: E402

MAX_USERS, MAX_SECONDS, MAX_ATTACKERS = 64, 600, 64
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BOMB_SIDES = (7000, 9400)  # the largest PNG an upload may be (49 MP, decoded), and the 88 MP bomb (refused)


def _photos(folder: Path | None, index: Path | None, most: int = 40) -> list[bytes]:
    """Query photos, spread over what there is: a folder's JPEG and PNG files, else the index's own images."""
    if folder is not None:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    else:
        files = [p.image for p in read_index(index).products] if index is not None else []
    step = max(1, len(files) // most)
    return [f.read_bytes() for f in files[::step][:most] if f.is_file()]


def _summed(outcomes: list[dict[str, int]]) -> dict[str, int]:
    """The slow clients' connections, bytes sent and answers received, added up."""
    return {key: sum(o[key] for o in outcomes) for key in ("connections", "bytes", "answered")} | {"clients": len(outcomes)}


def _run(bases: list[str], photos: list[bytes], args: argparse.Namespace, servers: list[ProductionServer]) -> dict:
    """The run against one server or several (shopper n on node n mod nodes; attackers on the first)."""
    base = bases[0]
    if servers:  # votes already in a shared database are not this run's
        catalog = read_manifest(args.index).catalog.identity
        store = FeedbackStore(args.feedback_url or servers[0].workdir / "feedback.sqlite3")
        votes_before = store.summary(catalog)["votes"]
    tally, attack_tally = Tally(), Tally()
    stop = threading.Event()
    deadline = time.monotonic() + args.seconds
    bombs = [bomb_png(side) for side in BOMB_SIDES] if args.bombers else []
    attackers = ThreadPoolExecutor(max(1, args.slow_clients + args.slow_headers + args.bombers))
    attacks = [attackers.submit(slow_client, base, stop) for _ in range(args.slow_clients)]
    attacks += [attackers.submit(slow_client, base, stop, part="headers") for _ in range(args.slow_headers)]
    attacks += [attackers.submit(pixel_bomber, base, bombs, stop, attack_tally) for _ in range(args.bombers)]
    if attacks:
        time.sleep(min(5.0, args.seconds / 4))  # let the attack get going before the shoppers arrive

    def shop(user: int) -> None:
        shopper = Shopper(bases[user % len(bases)], photos, tally, seed=user)
        while time.monotonic() < deadline:
            shopper.visit()

    start = time.perf_counter()
    with ThreadPoolExecutor(args.users) as pool:
        list(pool.map(shop, range(args.users)))
    elapsed = time.perf_counter() - start
    stop.set()
    attack_outcomes = [future.result() for future in attacks]
    attackers.shutdown()
    result = {
        "requests": len(tally.seconds),
        "requests_per_s": round(len(tally.seconds) / elapsed, 1),
        "latency_s": percentiles(tally.seconds),
        "upload_to_results_s": {**percentiles(tally.upload_to_results), "n": len(tally.upload_to_results)},
        "errors": len(tally.errors),
        "error_examples": tally.errors[:5],
        "statuses": tally.statuses,
        "actions": tally.actions,
        "votes_sent": tally.votes_sent,
        "votes_refused": tally.votes_refused,
    }
    if attacks:
        slow = args.slow_clients + args.slow_headers
        result["attacks"] = {"slow_clients": _summed(attack_outcomes[: args.slow_clients]),
                             "slow_headers": _summed(attack_outcomes[args.slow_clients : slow]),
                             "pixel_bombs_sent": attack_outcomes[slow:],
                             "attack_errors": attack_tally.errors[:5]}
    if servers:
        result["nodes"] = len(servers)
        result["worker_rss_mib_peak"] = round(max(max(s.peak_worker_rss, s.worker_rss()) for s in servers) / MIB, 1)
        result["votes_stored"] = store.summary(catalog)["votes"] - votes_before
        found = [s.findings() for s in servers]
        result["server_log"] = {"tracebacks": sum(f.tracebacks for f in found),
                                "server_errors": sum(f.server_errors for f in found),
                                "workers_killed": sum(f.workers_killed for f in found),
                                "examples": [e for f in found for e in f.examples][:5]}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--index", type=Path, help="serve this index with gunicorn.conf.py for the run")
    where.add_argument("--url", help="a server already running on this machine (no memory or votes read back)")
    parser.add_argument("--photos", type=Path, metavar="DIR", help="a folder of query photos (default: the images "
                        "of --index's catalogue)")
    parser.add_argument("--users", type=int, default=16, help=f"simulated shoppers (1-{MAX_USERS}, default 16)")
    parser.add_argument("--seconds", type=float, default=60, help=f"length of the run (at most {MAX_SECONDS})")
    parser.add_argument("--slow-clients", type=int, default=0, help="POSTs that send a byte every 2 s")
    parser.add_argument("--slow-headers", type=int, default=0, help="GETs whose headers arrive a byte every 2 s")
    parser.add_argument("--bombers", type=int, default=0, help="uploaders of pixel bombs (49 MP and 88 MP PNGs)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (with --index)")
    parser.add_argument("--nodes", type=int, default=1, help="app servers started over --index (1-4); with more "
                        "than one, give --feedback-url: they share one PostgreSQL")
    parser.add_argument("--feedback-url", help="postgresql://... for the votes of the servers started (default: an "
                        "SQLite file of the run)")
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 4 or (args.nodes > 1 and not (args.index and args.feedback_url)):
        parser.error("--nodes is 1 to 4, and more than one needs --index and --feedback-url (one shared database)")
    if not (1 <= args.users <= MAX_USERS and 0 < args.seconds <= MAX_SECONDS
            and 0 <= args.slow_clients + args.slow_headers + args.bombers <= MAX_ATTACKERS):
        parser.error(f"users 1-{MAX_USERS}, seconds up to {MAX_SECONDS}, at most {MAX_ATTACKERS} attackers")
    if args.url and urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must be a server on this machine (127.0.0.1): this kit never sends traffic elsewhere")
    photos = _photos(args.photos, args.index)
    if not photos:
        parser.error("no query photos: give --photos DIR (needed with --url)")
    load = {"users": args.users, "seconds": args.seconds, "slow_clients": args.slow_clients,
            "slow_headers": args.slow_headers, "bombers": args.bombers,
            "cores": os.cpu_count(), "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    if args.url:
        result = _run([args.url.rstrip("/")], photos, args, [])
    else:
        with tempfile.TemporaryDirectory(prefix="loadtest-") as work, ExitStack() as stack:
            env = {"RECOMMENDER_INDEX": str(args.index.resolve())}
            if args.feedback_url:  # nodes share the database, the uploads and the key that signs sessions
                env.update(RECOMMENDER_FEEDBACK_URL=args.feedback_url, RECOMMENDER_UPLOAD_DIR=str(Path(work) / "uploads"),
                           RECOMMENDER_SECRET_KEY=secrets.token_hex(32))
            servers = [stack.enter_context(ProductionServer(Path(work) / f"node{n}", env, workers=args.workers))
                       for n in range(args.nodes)]
            result = _run([s.base for s in servers], photos, args, servers)
    load["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"load": load, **result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
